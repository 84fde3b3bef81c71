#!/usr/bin/env python3
"""liquid_eos.py — a liquid's equation of state P(density) at one temperature, and the density
where it crosses the target pressure (docs/validation.md, issue 21): one LAMMPS run of
examples/lammps/in.liquid_eos per density (NVT while the box is brought there, then NVT held),
the mean pressure of the hold with its standard error from block averages, and the crossing by
a straight-line fit of P against density (its error from the fit's residuals).

NPT from a packed or expanded box can take hundreds of ps to settle in a box of 1,000
molecules; P at fixed densities settles in a few ps, so the density a model gives is measured
in a fraction of the time. A crossing outside the scanned densities is reported as such.

usage: liquid_eos.py --lmp LMP --plugin PLUGIN --model MODEL --data LIQUID.data
                     [--densities 0.76,0.80,0.84,0.88] [--temp 300] [--press 1.01325]
                     [--deform-ps 4] [--hold-ps 10] [--skip-ps 2] [--device gpu] [--threads 8]
                     [--label L] [--machine M] [--json FILE] [--work DIR]
Only the Python standard library is needed.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def hold_rows(log):
    """(time ps, press bar) rows after MLFF_EOS_HOLD, from the thermo of the hold's run."""
    rows, on, header = [], False, None
    for line in open(log):
        if line.startswith("MLFF_EOS_HOLD"):
            on = True
            continue
        if not on:
            continue
        f = line.split()
        if f[:2] == ["Step", "Time"]:
            header = f
            continue
        if line.startswith("Loop time"):
            break
        if header and len(f) == len(header):
            try:
                v = [float(x) for x in f]
            except ValueError:
                continue
            rows.append((v[header.index("Time")], v[header.index("Press")],
                         v[header.index("Density")]))
    return rows


def block_se(x, blocks=5):
    n = len(x) // blocks
    means = [statistics.fmean(x[k * n:(k + 1) * n]) for k in range(blocks)]
    return statistics.fmean(means), statistics.stdev(means) / blocks ** 0.5


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lmp", required=True)
    ap.add_argument("--plugin", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--densities", default="0.76,0.80,0.84,0.88")
    ap.add_argument("--temp", type=float, default=300.0)
    ap.add_argument("--press", type=float, default=1.01325, help="bar")
    ap.add_argument("--deform-ps", type=float, default=4.0)
    ap.add_argument("--hold-ps", type=float, default=10.0)
    ap.add_argument("--skip-ps", type=float, default=2.0, help="of the hold, before averaging")
    ap.add_argument("--device", default="gpu")
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--label", default="eos")
    ap.add_argument("--machine", default="vm")
    ap.add_argument("--json")
    ap.add_argument("--work", default="/tmp/liquid_eos")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    points = []
    for rho in [float(v) for v in a.densities.split(",")]:
        log = os.path.join(a.work, f"log.eos-{rho:.4f}")
        omp = ["-sf", "omp", "-pk", "omp", str(a.threads)] if a.threads > 1 else []
        t0 = time.time()
        r = subprocess.run([a.lmp, "-nocite", "-screen", "none", "-log", log, "-in",
                            os.path.join(ROOT, "examples", "lammps", "in.liquid_eos"), "-var",
                            "plugin", a.plugin, "-var", "model", a.model, "-var", "data", a.data,
                            "-var", "density", str(rho), "-var", "temp", str(a.temp), "-var",
                            "device", a.device, "-var", "deform_ps", str(a.deform_ps), "-var",
                            "hold_ps", str(a.hold_ps)] + omp,
                           env=dict(os.environ, OMP_NUM_THREADS=str(a.threads)))
        rows = [q for q in hold_rows(log) if q[0] - hold_rows(log)[0][0] >= a.skip_ps] \
            if r.returncode == 0 and hold_rows(log) else []
        if len(rows) < 10:
            sys.exit(f"liquid_eos: the run at {rho} g/cm3 failed or was too short (exit "
                     f"{r.returncode}; {log})")
        p, se = block_se([q[1] for q in rows])
        points.append({"density": statistics.fmean(q[2] for q in rows), "press_bar": p,
                       "press_se_bar": se, "rows": len(rows), "seconds": time.time() - t0})
        print(f"  {points[-1]['density']:.4f} g/cm3: P {p:8.1f} +- {se:5.1f} bar "
              f"({len(rows)} rows, {points[-1]['seconds']:.0f} s)", flush=True)
    xs, ys = [q["density"] for q in points], [q["press_bar"] for q in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    cross = mx + (a.press - my) / slope
    resid = [y - (my + slope * (x - mx)) for x, y in zip(xs, ys)]
    s_p = (sum(e * e for e in resid) / max(len(xs) - 2, 1)) ** 0.5  # scatter about the line
    s_p = max(s_p, statistics.fmean(q["press_se_bar"] for q in points))
    err = s_p / abs(slope) * (1 / len(xs) + (cross - mx) ** 2 / sxx) ** 0.5
    inside = min(xs) <= cross <= max(xs)
    res = {"source": "bench/liquid_eos.py (issue 21)", "machine": a.machine,
           "date": time.strftime("%Y-%m-%d"), "label": a.label, "model": a.model,
           "data": a.data, "temp_K": a.temp, "target_press_bar": a.press,
           "deform_ps": a.deform_ps, "hold_ps": a.hold_ps, "skip_ps": a.skip_ps, "points": points,
           "slope_bar_per_g_cm3": slope, "density_at_target_press": cross,
           "density_at_target_press_se": err, "inside_scan": inside}
    print(f"P = {a.press} bar at {cross:.4f} +- {err:.4f} g/cm3 "
          f"({'inside' if inside else 'OUTSIDE'} the scanned densities; dP/drho {slope:.0f} "
          f"bar per g/cm3)")
    if a.json:
        json.dump(res, open(a.json, "w"), indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
