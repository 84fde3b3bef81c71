#!/usr/bin/env python3
"""liquid_eos.py — a liquid's equation of state P(density) at one temperature, and the density
where it crosses the target pressure (docs/validation.md, issue 21): one LAMMPS run of
examples/lammps/in.liquid_eos per density (NVT while the box is brought there, then NVT held),
the mean pressure of the hold with its standard error from block averages, and the crossing by
a weighted fit of P against density (a parabola through four or more densities, else a line;
its error by refits within the pressures' errors).

NPT from a packed or expanded box can take hundreds of ps to settle in a box of 1,000
molecules; P at fixed densities settles in a few ps, so the density a model gives is measured
in a fraction of the time. A crossing outside the scanned densities is reported as such.

usage: liquid_eos.py --lmp LMP --plugin PLUGIN --model MODEL --data LIQUID.data
                     [--densities 0.76,0.80,0.84,0.88] [--temp 300] [--press 1.01325]
                     [--deform-ps 4] [--hold-ps 10] [--skip-ps 2] [--device gpu] [--threads 8]
                     [--label L] [--machine M] [--json FILE] [--work DIR]
       liquid_eos.py --refit EARLIER.json [--json FILE]   (the same points fitted again)
Only the Python standard library is needed.
"""
import argparse
import json
import os
import random
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


def polyfit(xs, ys, ws, degree):
    """Weighted least squares of a polynomial (coefficients from the constant up), by the normal
    equations: at most 3 unknowns, in the density measured from the scan's mean."""
    n = degree + 1
    A = [[sum(w * x ** (i + j) for x, w in zip(xs, ws)) for j in range(n)] for i in range(n)]
    b = [sum(w * y * x ** i for x, y, w in zip(xs, ys, ws)) for i in range(n)]
    for c in range(n):  # Gauss-Jordan with partial pivoting
        piv = max(range(c, n), key=lambda r: abs(A[r][c]))
        A[c], A[piv], b[c], b[piv] = A[piv], A[c], b[piv], b[c]
        for r in range(n):
            if r != c:
                f = A[r][c] / A[c][c]
                A[r] = [u - f * v for u, v in zip(A[r], A[c])]
                b[r] -= f * b[c]
    return [b[c] / A[c][c] for c in range(n)]


def poly_root(coef, target, lo, hi):
    """The density where the polynomial reaches target with a positive slope, nearest the scan
    [lo, hi] (a straight line's root, or the rising root of a parabola); None when it has none."""
    c = coef + [0.0] * (3 - len(coef))
    c0, c1, c2 = c[0] - target, c[1], c[2]
    if abs(c2) < 1e-12 * max(abs(c1), 1.0):
        return -c0 / c1 if c1 > 0 else None
    disc = c1 * c1 - 4 * c2 * c0
    if disc < 0:
        return None
    roots = [(-c1 + sg * disc ** 0.5) / (2 * c2) for sg in (1, -1)]
    rising = [r for r in roots if c1 + 2 * c2 * r > 0]
    mid = 0.5 * (lo + hi)
    return min(rising, key=lambda r: abs(r - mid)) if rising else None


def crossing(xs, ys, ses, target, samples=2000):
    """Where P(density) crosses target: a weighted (1/se^2) parabola through four or more
    points (a liquid's P(rho) bends upward: a line through 0.76-0.88 g/cm3 put the crossing
    0.01 g/cm3 too high), a line through fewer. Its error: the spread of the crossing over
    refits with each pressure redrawn within its error, the errors scaled up by the fit's
    reduced chi-square when the points scatter more than they claim."""
    x0 = statistics.fmean(xs)
    u = [x - x0 for x in xs]
    ws = [1.0 / max(se, 1e-9) ** 2 for se in ses]
    degree = 2 if len(xs) >= 4 else 1
    coef = polyfit(u, ys, ws, degree)
    fitted = [sum(c * v ** i for i, c in enumerate(coef)) for v in u]
    dof = len(xs) - degree - 1
    chi2 = sum(w * (y - f) ** 2 for w, y, f in zip(ws, ys, fitted)) / dof if dof > 0 else 1.0
    scale = max(1.0, chi2) ** 0.5
    lo, hi = min(u), max(u)
    r = poly_root(coef, target, lo, hi)
    if r is None:
        raise SystemExit("liquid_eos: the fitted P(density) never rises through %g bar "
                         "(points: %s)" % (target, ", ".join("%.4f: %.0f" % q for q in zip(xs, ys))))
    rng, roots = random.Random(12345), []
    for _ in range(samples):
        y2 = [y + rng.gauss(0.0, se * scale) for y, se in zip(ys, ses)]
        q = poly_root(polyfit(u, y2, ws, degree), target, lo, hi)
        if q is not None:
            roots.append(q)
    slope = coef[1] + (2 * coef[2] * r if degree == 2 else 0.0)
    return {"kind": "parabola" if degree == 2 else "line",
            "coef": {"density0": x0, "p0": coef[0], "p1": coef[1],
                     "p2": coef[2] if degree == 2 else 0.0},
            "root": x0 + r, "root_se": statistics.stdev(roots) if len(roots) > 1 else float("nan"),
            "slope": slope, "inside": lo <= r <= hi}


def fitted(points, press):
    """The JSON fields of the crossing of the points' P(density) through press (bar); its line
    printed."""
    fit = crossing([q["density"] for q in points], [q["press_bar"] for q in points],
                   [q["press_se_bar"] for q in points], press)
    print(f"P = {press} bar at {fit['root']:.4f} +- {fit['root_se']:.4f} g/cm3 "
          f"({'inside' if fit['inside'] else 'OUTSIDE'} the scanned densities; {fit['kind']} fit, "
          f"dP/drho there {fit['slope']:.0f} bar per g/cm3)")
    return {"fit": fit["kind"], "fit_coefficients": fit["coef"],
            "slope_bar_per_g_cm3": fit["slope"], "density_at_target_press": fit["root"],
            "density_at_target_press_se": fit["root_se"], "inside_scan": fit["inside"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--refit", metavar="JSON", help="no runs: the points of an earlier run's "
                    "JSON fitted again (written to --json)")
    ap.add_argument("--lmp")
    ap.add_argument("--plugin")
    ap.add_argument("--model")
    ap.add_argument("--data")
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
    if a.refit:
        res = json.load(open(a.refit))
        res.update(fitted(res["points"], res["target_press_bar"]))
        res["refit"] = "bench/liquid_eos.py --refit (the points as measured, fitted again)"
        if a.json:
            json.dump(res, open(a.json, "w"), indent=1)
        return 0
    missing = [o for o in ("lmp", "plugin", "model", "data") if not getattr(a, o)]
    if missing:
        ap.error("the runs need " + ", ".join("--" + o for o in missing))
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
    res = {"source": "bench/liquid_eos.py (issue 21)", "machine": a.machine,
           "date": time.strftime("%Y-%m-%d"), "label": a.label, "model": a.model,
           "data": a.data, "temp_K": a.temp, "target_press_bar": a.press,
           "deform_ps": a.deform_ps, "hold_ps": a.hold_ps, "skip_ps": a.skip_ps, "points": points,
           **fitted(points, a.press)}
    if a.json:
        json.dump(res, open(a.json, "w"), indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
