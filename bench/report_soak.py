"""report_soak.py — the soak runs of bench/device_soak.sh (*-soak.json, issue 24 part 5) in
bench/report.py: per long run its steps, time per step, host and GPU memory after the warm-up, at
the end and at most (with the script's "flat" verdict), and the NVE verdict of
scripts/check_nve.py on it; the checker's criteria side by side; compute-sanitizer's memcheck
errors and leak summaries of the short runs. Every figure is a field of the file, named."""
from report_fmt import f_gen, f_us, is_num, md_table

MEMORY = (("host_rss_mib", "host RSS"), ("gpu_memory_mib", "GPU memory"))


def is_soak(d):
    runs = d.get("runs")
    return isinstance(runs, dict) and bool(runs) and any(
        isinstance(r, dict) and ("host_rss_mib" in r or "errors" in r) for r in runs.values())


def _mem(m):
    """'after warm-up / end / max MiB' and the flat verdict of a memory record."""
    if not isinstance(m, dict):
        return "not sampled", "—"
    vals = " / ".join(f"{m[k]:,.1f}" if is_num(m.get(k)) else "—"
                      for k in ("after_warmup", "end", "max"))
    flat = m.get("flat")
    return vals, ("flat" if flat else "**grew**") if isinstance(flat, bool) else "—"


def md_runs(s):
    """[(name, run)] of the MD runs (those with an NVE record or memory samples)."""
    return [(n, r) for n, r in (s.data.get("runs") or {}).items()
            if isinstance(r, dict) and ("nve" in r or "host_rss_mib" in r)]


def soak_section(srcs, machines):
    L = []
    for s in srcs:
        d = s.data
        dev = str(d.get("device") or "gpu").upper()
        runs = md_runs(s)
        rows = []
        for n, r in runs:
            nve = r.get("nve") if isinstance(r.get("nve"), dict) else {}
            cells = [n, f_gen(r.get("atoms")), f_gen(r.get("nve_steps")),
                     f_us(r.get("us_per_step")), f_gen(r.get("wall_s")), f_gen(r.get("rc"))]
            for key, _ in MEMORY:
                cells += list(_mem(r.get(key)))
            cells += [f"**{nve.get('verdict', '?')}**" if nve and not nve.get("error") else
                      f"not judged: {nve.get('error', 'no NVE record')}",
                      ", ".join(nve.get("failed") or []) or "—"]
            rows.append(cells)
        L.append(f"`{s.show}` ({machines.own(s)}, {dev}; model `{d.get('model', '?')}`): "
                 "long NVE runs after Langevin (`examples/lammps/in.benzene_nve`, "
                 "`in.liquid_nve`), host memory (VmRSS of lmp) and GPU memory (nvidia-smi, per "
                 "process) sampled every 2 s; memory is flat when "
                 f"{d.get('flat_rule', '(rule not in the file)')}. The NVE verdict is "
                 "`scripts/check_nve.py`'s (docs/validation.md).\n")
        if rows:
            L.append(md_table(["run", "atoms", "NVE steps", "µs/step", "wall s", "exit",
                               "host RSS MiB (after warm-up / end / max)", "host",
                               "GPU MiB (after warm-up / end / max)", "GPU", "NVE verdict",
                               "failed"], rows))
            L.append(f"\nfrom {s.show}, runs.*.{{atoms, nve_steps, us_per_step, wall_s, rc, "
                     "host_rss_mib.{after_warmup, end, max, flat}, gpu_memory_mib.{after_warmup, "
                     "end, max, flat}, nve.{verdict, failed}}.\n")
            L += criteria_table(s, runs)
        else:
            L.append("(no MD run in the file)\n")
        L += sanitizer_lines(s)
    return L


def criteria_table(s, runs):
    """The checker's criteria, a column per run: value unit (pass or FAIL), and the limit."""
    names, limits, cells = [], {}, {}
    for n, r in runs:
        for c in (r.get("nve") or {}).get("criteria") or []:
            if not isinstance(c, dict) or not c.get("name"):
                continue
            k = c["name"]
            if k not in names:
                names.append(k)
            limits.setdefault(k, f"{c.get('limit', '?')} {c.get('unit', '')}".strip())
            v = c.get("value")
            cells[(k, n)] = (f_gen(v) if is_num(v) else "—") + \
                ("" if c.get("pass") else " **FAIL**")
    judged = [n for n, _ in runs if any(key[1] == n for key in cells)]
    if not names:
        return []
    return [md_table(["criterion", "limit"] + judged,
                     [[k, limits[k]] + [cells.get((k, n), "—") for n in judged]
                      for k in names]),
            f"\nfrom {s.show}, runs.*.nve.criteria.*.{{name, value, unit, limit, pass}}.\n"]


def sanitizer_lines(s):
    runs = [(n, r) for n, r in (s.data.get("runs") or {}).items()
            if isinstance(r, dict) and "errors" in r]
    if not runs:
        return ["No compute-sanitizer run in the file (step 3 of `bench/device_soak.sh` runs "
                "where compute-sanitizer is found).\n"]
    rows = [[n, f_gen(r.get("rc")), f_gen(r.get("errors")),
             "; ".join(str(x) for x in r.get("leaks") or []) or "—"] for n, r in runs]
    return ["compute-sanitizer memcheck (leak check on) on short runs of the same inputs:\n",
            md_table(["run", "exit", "errors", "leak summary"], rows),
            f"\nfrom {s.show}, runs.sanitizer-*.{{rc, errors, leaks}}.\n"]
