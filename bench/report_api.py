"""report_api.py — the C API and the Python package against LAMMPS (issue 22) in bench/report.py:
bench/device_capi.sh's *-capi-liquid.json (bench/capi_bench liquid: mlff_compute on the kept
list, mlff_compute_neighbors as the plugin calls it, mlff_compute with skin 0, next to the LAMMPS
step on the same box, card and host threads) and bench/python_timing.py's *-python-timing.json
(one benzene through mlff.Calculator, Evaluator.compute and the C API, per device). Each gives a
table and its rows of the targets table; every figure is a JSON value or a ratio of two."""
from report_fmt import f_us, is_num, md_table, verdict
from report_targets import (TARGET_CAPI_LIQUID_RATIO, TARGET_PY_CPU_RATIO, TARGET_PY_GPU_US,
                            target)

CAPI_WHAT = (f"Issue 22: 49,152-atom liquid through the C API within "
             f"{TARGET_CAPI_LIQUID_RATIO:g}× of the LAMMPS step")
PY_GPU_WHAT = "Issue 22: one benzene through mlff.Calculator on the GPU, µs per call"
PY_CPU_WHAT = "Issue 22: one benzene through mlff.Calculator on the CPU, time / the C API's"
PY_KEYS = {"Calculator.get_forces": "calculator_get_forces_us",
           "Evaluator.compute": "evaluator_compute_us"}


def is_capi_liquid(d):
    """bench/device_capi.sh's file: cases of a capi_bench record beside the LAMMPS step."""
    cases = d.get("cases")
    return isinstance(cases, dict) and bool(cases) and all(
        isinstance(c, dict) and isinstance(c.get("capi"), dict) and "lammps_us_per_step" in c
        for c in cases.values())


def is_python_timing(d):
    """bench/python_timing.py's file: per device, the Python and C-API times of one benzene."""
    devs = d.get("devices")
    return isinstance(devs, dict) and bool(devs) and all(
        isinstance(v, dict) and "capi_mlff_compute_us" in v for v in devs.values())


def _us(block, stat="mean"):
    """block.us_per_call.<stat> of a capi_bench record (None where absent)."""
    v = ((block or {}).get("us_per_call") or {}).get(stat) if isinstance(block, dict) else None
    return v if is_num(v) else None


def capi_cases(s):
    """[(case name, precision, threads, case dict, capi dict)] of a capi-liquid file, by
    precision then threads; cases without a capi record are left out."""
    out = []
    for name, c in (s.data.get("cases") or {}).items():
        if not isinstance(c, dict) or not isinstance(c.get("capi"), dict):
            continue
        cp = c["capi"]
        out.append((name, "FP16" if cp.get("fp16") else "FP32", cp.get("threads"), c, cp))
    return sorted(out, key=lambda x: (x[1] != "FP32", x[2] if is_num(x[2]) else 0, x[0]))


def case_text(prec, threads, machine_kind="GPU"):
    t = f"{threads} host thread{'s' if threads != 1 else ''}" if is_num(threads) else \
        "threads not recorded"
    return f"{machine_kind} {prec}, {t}"


def capi_ratio(c, cp):
    """mlff_compute's mean per call / the LAMMPS step, or None."""
    a, b = _us(cp.get("mlff_compute")), c.get("lammps_us_per_step")
    return a / b if a is not None and is_num(b) and b > 0 else None


def capi_liquid_section(srcs, machines):
    L = []
    for s in srcs:
        d = s.data
        rows, notes = [], []
        for name, prec, thr, c, cp in capi_cases(s):
            mc, nb, s0 = cp.get("mlff_compute"), cp.get("mlff_compute_neighbors"), \
                cp.get("mlff_compute_skin0")
            ratio = capi_ratio(c, cp)
            lists = (mc or {}).get("lists_built") if isinstance(mc, dict) else None
            rows.append([name, case_text(prec, thr),
                         f"{f_us(_us(mc))} ({f_us(_us(mc, 'median'))})",
                         f_us(_us(nb)), f_us(_us(s0)), f_us(c.get("lammps_us_per_step")),
                         f"{ratio:.3f}×" if ratio is not None else "—",
                         verdict(ratio <= TARGET_CAPI_LIQUID_RATIO) if ratio is not None
                         else "not judged",
                         f"{lists if is_num(lists) else '—'} / "
                         f"{c.get('lammps_neighbor_builds', '—')}",
                         "yes" if cp.get("same_last_energy") else
                         ("no" if "same_last_energy" in cp else "—")])
            if "meets_target" in c and ratio is not None and \
                    bool(c["meets_target"]) != (ratio <= TARGET_CAPI_LIQUID_RATIO):
                notes.append(f"{name}: the file's meets_target ({c['meets_target']}) differs "
                             "from the ratio of its means against the issue's target")
        first = capi_cases(s)[0][4] if capi_cases(s) else {}
        L.append(f"`{s.show}` ({machines.own(s)}; {first.get('atoms', '?')} atoms, "
                 f"{first.get('steps', '?')} MD-like calls, atoms moved "
                 f"{first.get('move_A_per_step', '?')} Å per call, skin "
                 f"{first.get('skin_A', '?')} Å, model `{first.get('model', '?')}`). "
                 f"{d.get('source', '')}. The target compares the mean per call of "
                 f"`mlff_compute` (kept neighbour list) with the LAMMPS step: ≤ "
                 f"{TARGET_CAPI_LIQUID_RATIO:g}× (issue 22). `mlff_compute_neighbors` is the "
                 "plugin's call (LAMMPS's own list); skin 0 rebuilds the list every call, as "
                 "`mlff_compute` did before the kept list.\n")
        if not rows:
            L.append("(no case with a `capi` record in the file)\n")
            continue
        L.append(md_table(["case", "configuration", "mlff_compute µs (kept list): mean (median)",
                           "mlff_compute_neighbors µs", "skin 0 µs (before the kept list)",
                           "LAMMPS µs/step",
                           "mlff_compute / LAMMPS", f"≤ {TARGET_CAPI_LIQUID_RATIO:g}×",
                           "lists built (C API / LAMMPS)", "same last energy"], rows))
        L.append(f"\nfrom {s.show}, cases.*.capi.{{fp16, threads, mlff_compute.us_per_call."
                 "{mean, median}, mlff_compute_neighbors.us_per_call.mean, mlff_compute_skin0."
                 "us_per_call.mean, mlff_compute.lists_built, same_last_energy}, cases.*."
                 "{lammps_us_per_step, lammps_neighbor_builds}; the ratio: mlff_compute.us_per_"
                 "call.mean / lammps_us_per_step.\n")
        L += [f"- {n}." for n in notes] + ([""] if notes else [])
    return L


def python_rows(s):
    """[(device, row dict, the timed Python path's key or None)] of a python-timing file."""
    out = []
    for dev, row in (s.data.get("devices") or {}).items():
        if not isinstance(row, dict):
            continue
        key = PY_KEYS.get(row.get("python_path_timed"))
        out.append((dev, row, key if key and isinstance(row.get(key), dict) else None))
    return out


def _med(row, key):
    v = (row.get(key) or {}).get("median") if isinstance(row.get(key), dict) else None
    return v if is_num(v) else None


def python_section(srcs, machines):
    L = []
    for s in srcs:
        d = s.data
        rows, notes = [], []
        for dev, row, key in python_rows(s):
            py, capi = (_med(row, key) if key else None), _med(row, "capi_mlff_compute_us")
            ratio = py / capi if py is not None and capi else None
            if dev.lower() == "gpu":
                judged = (f"≤ {TARGET_PY_GPU_US:g} µs: " + verdict(py <= TARGET_PY_GPU_US)) \
                    if py is not None else "not judged"
            else:
                judged = (f"≤ {TARGET_PY_CPU_RATIO:g}× the C API: " +
                          verdict(ratio <= TARGET_PY_CPU_RATIO)) if ratio is not None \
                    else "not judged"
            rows.append([dev.upper(), f_us(_med(row, "calculator_get_forces_us")),
                         f_us(_med(row, "evaluator_compute_us")), f_us(capi),
                         row.get("python_path_timed", "—"),
                         f"{ratio:.2f}×" if ratio is not None else "—", judged])
            for k in ("calculator_note", "capi_note"):
                if isinstance(row.get(k), str):
                    notes.append(f"{dev}: {row[k]}")
        L.append(f"`{s.show}` ({machines.own(s)}; {d.get('calls', '?')} calls, "
                 f"threads {d.get('threads', '?')}, Python {d.get('python', '?')}, numpy "
                 f"{d.get('numpy', '?')}, ASE {d.get('ase') or 'absent'}): {d.get('source', '')}."
                 " Medians per call; the targets (issue 22): the Python call on the GPU ≤ "
                 f"{TARGET_PY_GPU_US:g} µs, on the CPU ≤ {TARGET_PY_CPU_RATIO:g}× the C API's "
                 "`mlff_compute`.\n")
        if not rows:
            L.append("(no device in the file)\n")
            continue
        L.append(md_table(["device", "Calculator.get_forces µs", "Evaluator.compute µs",
                           "C API mlff_compute µs", "Python path timed", "Python / C API",
                           "target"], rows))
        L.append(f"\nfrom {s.show}, devices.*.{{calculator_get_forces_us.median, "
                 "evaluator_compute_us.median, capi_mlff_compute_us.median, python_path_timed};"
                 " Python / C API: the timed path's median / capi_mlff_compute_us.median.\n")
        L += [f"- {n}" for n in notes] + ([""] if notes else [])
    return L


def api_target_checks(used, machines):
    """The issue-22 targets' comparisons, in the shape of report_targets.check."""
    out = []
    for s in [x for x in used if x.kind == "capi-liquid"]:
        for name, prec, thr, c, cp in capi_cases(s):
            ratio = capi_ratio(c, cp)
            if ratio is None:
                continue
            out.append(target(CAPI_WHAT, "C API mlff_compute, " + case_text(prec, thr),
                              machines.own(s), ratio,
                              f"{ratio:.3f}× ({f_us(_us(cp['mlff_compute']))} / "
                              f"{f_us(c['lammps_us_per_step'])} µs)",
                              TARGET_CAPI_LIQUID_RATIO, "×", False,
                              [f"{s.name}, cases.{name}.capi.mlff_compute.us_per_call.mean; "
                               f"cases.{name}.lammps_us_per_step"]))
    for s in [x for x in used if x.kind == "python-timing"]:
        for dev, row, key in python_rows(s):
            py, capi = (_med(row, key) if key else None), _med(row, "capi_mlff_compute_us")
            thr = s.data.get("threads")
            conf = f"{row.get('python_path_timed')}, " + (
                f"{thr} thread{'s' if thr != 1 else ''}" if is_num(thr) else "threads not recorded")
            field = f"{s.name}, devices.{dev}.{key}.median"
            if dev.lower() == "gpu" and py is not None:
                out.append(target(PY_GPU_WHAT, conf, machines.own(s), py, f"{f_us(py)} µs",
                                  TARGET_PY_GPU_US, " µs", False, [field]))
            elif dev.lower() == "cpu" and py is not None and capi:
                out.append(target(PY_CPU_WHAT, conf, machines.label(s, "CPU"), py / capi,
                                  f"{py / capi:.2f}× ({f_us(py)} / {f_us(capi)} µs)",
                                  TARGET_PY_CPU_RATIO, "×", False,
                                  [field, f"devices.{dev}.capi_mlff_compute_us.median"]))
    return out
