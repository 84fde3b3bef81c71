#!/usr/bin/env python3
"""check_nve.py — judge the NVE section of a LAMMPS log (docs/validation.md).

Reads the log written by examples/lammps/in.benzene_nve (or any log whose NVE run follows a
line starting with "MLFF_NVE_BEGIN" and whose thermo has the columns Step, PotEng, KinEng,
TotEng, Temp and Atoms; Time is used when present), writes validation_report.txt and, when
matplotlib is importable, nve_energies.png into the output folder, prints the verdict. With
--json FILE it also writes the verdict, every criterion's value, limit and outcome, and the
NVE time series (time, PE, KE, total energy, temperature; at most 2000 evenly spaced rows) as
JSON, the form bench/report.py reads (bench/results/<machine>-<date>-nve-<config>.json).

Criteria (defaults; every threshold is an option):
  * drift as the seed defines it, (E_end - E_0)/|E_0| in %, |.| < 1 %
  * linear-fit drift of the total energy, meV/atom/ps, |.| < 0.01
  * std of the total energy / mean kinetic energy < 0.05
  * mean temperature within 20 K of the target (300 K)
  * no atom lost (Atoms column constant, no "Lost atoms" error) and the NVE run complete
  * molecule intact, when the log has the column v_rmax (largest distance of an atom from the
    centre of mass): its NVE maximum at most 1 A above its value in the log's first thermo row
    (the geometry read from the data file). A molecule that comes apart is a free gas whose
    energy is trivially conserved: without this check it could PASS.

Exit status: 0 PASS, 1 FAIL, 2 the log cannot be judged (missing, no NVE section, too few
rows). Only the Python standard library is needed; matplotlib is optional.
"""
import argparse
import json
import math
import os
import re
import sys

KB_EV = 8.617333262e-5  # Boltzmann constant, eV/K (for the report only)

# LAMMPS thermo header names of the keywords we use, and the keyword names themselves.
COLUMN_ALIASES = {
    "step": ("Step",),
    "time": ("Time",),
    "pe": ("PotEng",),
    "ke": ("KinEng",),
    "etotal": ("TotEng",),
    "temp": ("Temp",),
    "atoms": ("Atoms",),
    "rmax": ("v_rmax",),
}
REQUIRED = ("step", "pe", "ke", "etotal", "temp", "atoms")


class LogError(Exception):
    """The log cannot be judged."""


def parse_kv(line):
    return dict(m.groups() for m in re.finditer(r"(\w+)=(\S+)", line))


def parse_log(path):
    """Return a dict describing the NVE section of the LAMMPS log at path."""
    if not os.path.exists(path):
        raise LogError(f"log not found: {path}")
    if not os.path.isfile(path):
        raise LogError(f"not a file: {path}")
    with open(path, errors="replace") as f:
        lines = f.read().splitlines()

    info = {"path": path, "errors": [], "warnings": [], "setup": {}, "energy_set": {},
            "marker": {}}
    for ln in lines:
        s = ln.strip()
        if s.startswith("ERROR"):
            info["errors"].append(s)
        elif ln.startswith("MLFF_SETUP"):
            info["setup"] = parse_kv(s)
        elif ln.startswith("MLFF_NVE_ENERGY"):
            info["energy_set"] = parse_kv(s)
        elif ln.startswith("MLFF_WARNING"):
            info["warnings"].append(s)

    info["rmax_ref"] = first_value(lines, "v_rmax")
    info["lammps_version"] = next((m.group(1) for m in (re.match(r"^LAMMPS \((.+)\)\s*$", ln)
                                                        for ln in lines[:50]) if m), None)

    begins = [i for i, ln in enumerate(lines) if ln.startswith("MLFF_NVE_BEGIN")]
    if not begins:
        raise LogError(f"no NVE section in {path}: no line starts with MLFF_NVE_BEGIN "
                       "(was the log written by examples/lammps/in.benzene_nve, and did the "
                       "equilibration finish?)")
    start = begins[-1]
    info["marker"] = parse_kv(lines[start])

    # The first thermo header after the marker.
    header_idx, names = None, None
    for i in range(start + 1, len(lines)):
        toks = lines[i].split()
        if toks and toks[0] == "Step":
            header_idx, names = i, toks
            break
    if header_idx is None:
        raise LogError(f"NVE section of {path} has no thermo header (a line starting with "
                       "'Step'): the NVE run did not start")

    col = {}
    for key, aliases in COLUMN_ALIASES.items():
        for a in aliases:
            if a in names:
                col[key] = names.index(a)
    missing = [k for k in REQUIRED if k not in col]
    if missing:
        raise LogError(f"thermo header of the NVE section lacks column(s) "
                       f"{', '.join(missing)}; found: {' '.join(names)} "
                       "(need thermo_style custom step time pe ke etotal temp atoms)")

    rows = []
    loop_line = None
    for i in range(header_idx + 1, len(lines)):
        s = lines[i].strip()
        if s.startswith("Loop time"):
            loop_line = s
            break
        if s.startswith("ERROR") or s.startswith("MLFF_NVE_END"):
            break
        toks = s.split()
        if len(toks) != len(names):
            continue  # warnings and other interleaved lines
        try:
            vals = [float(t) for t in toks]
        except ValueError:
            continue
        rows.append(vals)
    info["names"] = names
    info["col"] = col
    info["rows"] = rows
    info["loop"] = None
    if loop_line:
        m = re.match(r"Loop time of (\S+) on (\d+) procs? for (\d+) steps with (\d+) atoms",
                     loop_line)
        if m:
            info["loop"] = {"seconds": float(m.group(1)), "procs": int(m.group(2)),
                            "steps": int(m.group(3)), "atoms": int(m.group(4))}
    return info


def first_value(lines, column):
    """Value of `column` in the first thermo row of the log that has it (None if none)."""
    for i, ln in enumerate(lines):
        names = ln.split()
        if names and names[0] == "Step" and column in names:
            for nxt in lines[i + 1:i + 20]:
                toks = nxt.split()
                if len(toks) == len(names):
                    try:
                        return float(toks[names.index(column)])
                    except ValueError:
                        pass
            return None
    return None


def linfit(x, y):
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    sxx = sum((a - mx) ** 2 for a in x)
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    slope = sxy / sxx if sxx > 0 else 0.0
    return slope, my - slope * mx


def mean(v):
    return sum(v) / len(v)


def std(v):
    m = mean(v)
    return math.sqrt(sum((a - m) ** 2 for a in v) / len(v))


def analyse(info, args):
    rows, col = info["rows"], info["col"]
    if len(rows) < args.min_rows:
        raise LogError(f"too few thermo rows in the NVE section of {info['path']}: "
                       f"{len(rows)} (need at least {args.min_rows}; lower thermo_every or "
                       "run longer)")
    get = lambda k: [r[col[k]] for r in rows]
    step, pe, ke, et, temp, atoms = (get(k) for k in ("step", "pe", "ke", "etotal", "temp",
                                                        "atoms"))
    dt_ps = float(info["marker"].get("dt_ps", args.dt_ps))
    if "time" in col:
        t0 = rows[0][col["time"]]
        t = [r[col["time"]] - t0 for r in rows]
    else:
        t = [(s - step[0]) * dt_ps for s in step]
    n_atoms0 = int(round(atoms[0]))
    if n_atoms0 <= 0:
        raise LogError(f"atom count in the NVE section of {info['path']} is {n_atoms0}")

    r = {"n_rows": len(rows), "t": t, "pe": pe, "ke": ke, "etotal": et, "temp": temp,
         "n_atoms": n_atoms0, "n_atoms_end": int(round(atoms[-1])),
         "n_atoms_min": int(round(min(atoms))), "dt_ps": dt_ps,
         "first_step": int(step[0]), "last_step": int(step[-1]),
         "duration_ps": t[-1] - t[0]}
    if "rmax" in col:
        r["rmax"] = get("rmax")
    e0, e_end = et[0], et[-1]
    r["E0"], r["E_end"] = e0, e_end
    r["drift_pct"] = (e_end - e0) / abs(e0) * 100.0 if e0 != 0 else float("inf")
    slope, _ = linfit(t, et) if r["duration_ps"] > 0 else (float("nan"), 0)
    r["slope_ev_ps"] = slope
    r["slope_mev_atom_ps"] = slope * 1000.0 / n_atoms0
    r["E_mean"], r["E_std"] = mean(et), std(et)
    r["ke_mean"] = mean(ke)
    r["std_over_ke"] = r["E_std"] / r["ke_mean"] if r["ke_mean"] > 0 else float("inf")
    r["T_mean"], r["T_std"] = mean(temp), std(temp)
    r["pe_mean"] = mean(pe)

    checks = []  # (name, ok, text)
    checks.append(("energy drift (seed)", abs(r["drift_pct"]) < args.max_drift_pct,
                   f"(E_end - E_0)/|E_0| = {r['drift_pct']:+.6f} %  "
                   f"(limit |.| < {args.max_drift_pct:g} %)"))
    checks.append(("energy drift (linear fit)",
                   math.isfinite(slope) and abs(r["slope_mev_atom_ps"]) < args.max_slope,
                   f"{r['slope_mev_atom_ps']:+.6f} meV/atom/ps  "
                   f"(limit |.| < {args.max_slope:g})"))
    checks.append(("energy fluctuation", r["std_over_ke"] < args.max_std_ratio,
                   f"std(E_total)/mean(KE) = {r['std_over_ke']:.6f}  "
                   f"(std {r['E_std'] * 1000:.4f} meV, mean KE {r['ke_mean'] * 1000:.4f} meV; "
                   f"limit < {args.max_std_ratio:g})"))
    checks.append(("temperature", abs(r["T_mean"] - args.target_temp) <= args.temp_tol,
                   f"mean T = {r['T_mean']:.2f} K (std {r['T_std']:.2f} K), target "
                   f"{args.target_temp:g} +- {args.temp_tol:g} K"))
    lost_err = [e for e in info["errors"] if "lost atoms" in e.lower()]
    atoms_ok = (r["n_atoms_min"] == n_atoms0 and r["n_atoms_end"] == n_atoms0 and not lost_err)
    atoms_txt = f"atoms {n_atoms0} at start, {r['n_atoms_end']} at end (min {r['n_atoms_min']})"
    if lost_err:
        atoms_txt += "; LAMMPS: " + lost_err[0]
    checks.append(("no atom lost", atoms_ok, atoms_txt))

    want_steps = info["marker"].get("steps")
    complete = info["loop"] is not None
    if want_steps is not None:
        want = int(float(want_steps))
        done = r["last_step"] - r["first_step"]
        complete = complete and done >= want
        ctxt = f"{done} of {want} steps"
    else:
        ctxt = f"{r['last_step'] - r['first_step']} steps"
    if info["loop"] is None:
        ctxt += "; the log has no 'Loop time' line after the NVE rows (run cut short)"
    other_err = [e for e in info["errors"] if e not in lost_err]
    if other_err:
        complete = False
        ctxt += "; LAMMPS: " + other_err[0]
    checks.append(("NVE run complete", complete, ctxt))
    if "rmax" in r:
        ref = info["rmax_ref"] if info["rmax_ref"] is not None else r["rmax"][0]
        worst = max(r["rmax"])
        checks.append(("molecule intact", worst <= ref + args.max_stretch,
                       f"largest atom distance from the centre of mass {worst:.3f} A "
                       f"(at start of the log {ref:.3f} A; limit +{args.max_stretch:g} A)"))
    r["checks"] = checks
    r["pass"] = all(ok for _, ok, _ in checks)
    return r


def fmt_report(info, r, args):
    L = []
    verdict = "PASS" if r["pass"] else "FAIL"
    L.append("mlff NVE validation report (scripts/check_nve.py, docs/validation.md)")
    L.append("=" * 60)
    if args.model_note:
        L.append(f"NOTE: {args.model_note}")
    L.append(f"log:            {os.path.abspath(info['path'])}")
    s = info["setup"]
    if s:
        L.append("setup:          " + " ".join(f"{k}={v}" for k, v in s.items()))
    es = info["energy_set"]
    if es:
        L.append("NVE start:      velocities scaled to " + es.get("t_set", "?") + " K so that "
                 "E = <PE>_eq + KE(target) (" + " ".join(f"{k}={v}" for k, v in es.items()
                                                          if k != "t_set") + ")")
    for w in info["warnings"]:
        L.append(w)
    L.append(f"atoms:          {r['n_atoms']}")
    L.append(f"NVE rows:       {r['n_rows']} (steps {r['first_step']}..{r['last_step']}, "
             f"{r['duration_ps']:.4f} ps, dt {r['dt_ps'] * 1000:g} fs)")
    L.append(f"E_0, E_end:     {r['E0']:.8f} eV, {r['E_end']:.8f} eV")
    L.append(f"E mean, std:    {r['E_mean']:.8f} eV, {r['E_std'] * 1000:.5f} meV")
    L.append(f"PE mean:        {r['pe_mean']:.8f} eV;  KE mean {r['ke_mean']:.8f} eV")
    if "rmax" in r:
        L.append(f"max atom-COM distance: {min(r['rmax']):.4f} .. {max(r['rmax']):.4f} A in NVE "
                 f"(NVE start {r['rmax'][0]:.4f}, end {r['rmax'][-1]:.4f})")
    if info["loop"]:
        lp = info["loop"]
        us = lp["seconds"] / lp["steps"] * 1e6 if lp["steps"] else float("nan")
        L.append(f"NVE loop time:  {lp['seconds']:g} s for {lp['steps']} steps on "
                 f"{lp['procs']} procs = {us:.2f} us/step")
    L.append("")
    L.append("criteria:")
    for name, ok, txt in r["checks"]:
        L.append(f"  [{'PASS' if ok else 'FAIL'}] {name}: {txt}")
    L.append("")
    failed = [name for name, ok, _ in r["checks"] if not ok]
    L.append(f"VERDICT: {verdict}" + (f" (failed: {', '.join(failed)})" if failed else ""))
    if args.model_note:
        L.append(f"NOTE: {args.model_note}")
    return "\n".join(L) + "\n"


def downsample(n, most=2000):
    """Indices of at most `most` evenly spaced rows of n, the first and the last included."""
    if n <= most:
        return list(range(n))
    return sorted({round(i * (n - 1) / (most - 1)) for i in range(most)})


def to_json(info, r, args):
    """The verdict, every criterion (value, unit, limit, pass) and the downsampled series."""
    by_name = {name: (ok, txt) for name, ok, txt in r["checks"]}
    crit = []

    def add(name, value, unit, limit, key):
        if name in by_name:
            ok, txt = by_name[name]
            crit.append({"name": name, "key": key, "value": value, "unit": unit,
                         "limit": limit, "pass": ok, "text": txt})

    add("energy drift (seed)", r["drift_pct"], "%", f"|.| < {args.max_drift_pct:g}",
        "drift_pct")
    add("energy drift (linear fit)", r["slope_mev_atom_ps"], "meV/atom/ps",
        f"|.| < {args.max_slope:g}", "slope_mev_atom_ps")
    add("energy fluctuation", r["std_over_ke"], "std(E_total)/mean(KE)",
        f"< {args.max_std_ratio:g}", "std_over_ke")
    add("temperature", r["T_mean"], "K", f"{args.target_temp:g} +- {args.temp_tol:g}",
        "T_mean")
    add("no atom lost", r["n_atoms"] - r["n_atoms_min"], "atoms", "0", "atoms_lost")
    add("NVE run complete", r["last_step"] - r["first_step"], "steps",
        info["marker"].get("steps", ""), "steps_done")
    if "rmax" in r:
        add("molecule intact", max(r["rmax"]), "A",
            f"<= start + {args.max_stretch:g}", "rmax_max")
    idx = downsample(r["n_rows"])
    pick = lambda v: [v[i] for i in idx]
    failed = [name for name, ok, _ in r["checks"] if not ok]
    out = {
        "source": "scripts/check_nve.py (docs/validation.md NVE validation) from a LAMMPS log",
        "log": info["path"],
        "lammps_version": info["lammps_version"],
        "setup": info["setup"],
        "nve_energy": info["energy_set"],
        "marker": info["marker"],
        "model_note": args.model_note,
        "verdict": "PASS" if r["pass"] else "FAIL",
        "failed": failed,
        "criteria": crit,
        "values": {
            "n_atoms": r["n_atoms"], "n_atoms_end": r["n_atoms_end"],
            "n_atoms_min": r["n_atoms_min"], "atoms_lost": r["n_atoms"] - r["n_atoms_min"],
            "n_rows": r["n_rows"], "first_step": r["first_step"], "last_step": r["last_step"],
            "duration_ps": r["duration_ps"], "dt_ps": r["dt_ps"],
            "E0_eV": r["E0"], "E_end_eV": r["E_end"], "E_mean_eV": r["E_mean"],
            "E_std_meV": r["E_std"] * 1000.0, "ke_mean_eV": r["ke_mean"],
            "pe_mean_eV": r["pe_mean"], "drift_pct": r["drift_pct"],
            "slope_mev_atom_ps": r["slope_mev_atom_ps"], "std_over_ke": r["std_over_ke"],
            "T_mean": r["T_mean"], "T_std": r["T_std"], "target_temp": args.target_temp,
        },
        "loop": info["loop"],
        "series": {
            "n_rows": r["n_rows"], "n_kept": len(idx),
            "time_ps": pick(r["t"]), "pe": pick(r["pe"]), "ke": pick(r["ke"]),
            "etotal": pick(r["etotal"]), "temp": pick(r["temp"]),
        },
    }
    if "rmax" in r:
        out["values"]["rmax_max"] = max(r["rmax"])
    if info["loop"] and info["loop"]["steps"]:
        out["values"]["us_per_step"] = info["loop"]["seconds"] / info["loop"]["steps"] * 1e6
    return out


def finite(obj):
    """obj with every NaN or infinity replaced by None (strict JSON)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def write_json(path, obj):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    text = json.dumps(finite(obj), indent=1, allow_nan=False)
    # arrays of numbers (the series) on one line each
    text = re.sub(r"\[\s*([-+0-9.eE,\s]+?)\s*\]",
                  lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", text)
    with open(path, "w") as f:
        f.write(text)
        f.write("\n")


def plot(r, out_png, title):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception:  # noqa: BLE001 — any import failure means: no plot
        print("check_nve: matplotlib not available; skipping the plot "
              "(apt-get install python3-matplotlib to get it)")
        return None
    t = r["t"]
    fig, ax = plt.subplots(4, 1, figsize=(8, 10), sharex=True)
    n = r["n_atoms"]
    e_ref = r["E0"]
    ax[0].plot(t, [(e - e_ref) * 1000 / n for e in r["etotal"]], lw=0.8)
    ax[0].set_ylabel("E_total - E_0\n(meV/atom)")
    ax[1].plot(t, r["pe"], lw=0.8, color="C1")
    ax[1].set_ylabel("potential (eV)")
    ax[2].plot(t, r["ke"], lw=0.8, color="C2")
    ax[2].set_ylabel("kinetic (eV)")
    ax[3].plot(t, r["temp"], lw=0.8, color="C3")
    ax[3].axhline(r.get("target_temp", 300.0), color="k", lw=0.5, ls="--")
    ax[3].set_ylabel("temperature (K)")
    ax[3].set_xlabel("NVE time (ps)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("log", help="LAMMPS log file")
    ap.add_argument("--out", default=".", help="folder for validation_report.txt and the PNG")
    ap.add_argument("--target-temp", type=float, default=300.0, help="K (default 300)")
    ap.add_argument("--temp-tol", type=float, default=20.0, help="K (default 20)")
    ap.add_argument("--max-drift-pct", type=float, default=1.0,
                    help="limit on |E_end - E_0|/|E_0| in %% (default 1)")
    ap.add_argument("--max-slope", type=float, default=0.01,
                    help="limit on the linear-fit drift, meV/atom/ps (default 0.01)")
    ap.add_argument("--max-std-ratio", type=float, default=0.05,
                    help="limit on std(E_total)/mean(KE) (default 0.05)")
    ap.add_argument("--max-stretch", type=float, default=1.0,
                    help="molecule intact: limit on the growth of v_rmax, A (default 1)")
    ap.add_argument("--min-rows", type=int, default=10, help="fewest NVE thermo rows (10)")
    ap.add_argument("--dt-ps", type=float, default=0.0005,
                    help="time step when the log gives neither Time nor dt_ps (0.0005)")
    ap.add_argument("--model-note", default="",
                    help="a line put at the top and bottom of the report (e.g. UNTRAINED)")
    ap.add_argument("--no-plot", action="store_true", help="do not draw the PNG")
    ap.add_argument("--json", metavar="FILE", default="",
                    help="also write the verdict, the criteria and the NVE series (at most "
                         "2000 rows) as JSON to FILE (for bench/report.py)")
    args = ap.parse_args(argv)

    os.makedirs(args.out, exist_ok=True)
    report_path = os.path.join(args.out, "validation_report.txt")
    try:
        info = parse_log(args.log)
        r = analyse(info, args)
    except LogError as e:
        msg = f"check_nve: ERROR: {e}"
        print(msg, file=sys.stderr)
        with open(report_path, "w") as f:
            f.write("mlff NVE validation report (scripts/check_nve.py)\n")
            if args.model_note:
                f.write(f"NOTE: {args.model_note}\n")
            f.write(f"{msg}\nVERDICT: ERROR (the log could not be judged)\n")
        if args.json:
            write_json(args.json, {"source": "scripts/check_nve.py", "log": args.log,
                                   "model_note": args.model_note, "verdict": "ERROR",
                                   "error": str(e)})
        return 2
    r["target_temp"] = args.target_temp
    text = fmt_report(info, r, args)
    with open(report_path, "w") as f:
        f.write(text)
    sys.stdout.write(text)
    if args.json:
        write_json(args.json, to_json(info, r, args))
        print(f"json: {args.json}")
    if not args.no_plot:
        title = "NVE: " + os.path.basename(info["setup"].get("model", args.log))
        if args.model_note:
            title += "\n" + args.model_note
        png = plot(r, os.path.join(args.out, "nve_energies.png"), title)
        if png:
            print(f"plot: {png}")
    print(f"report: {report_path}")
    return 0 if r["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
