#!/usr/bin/env python3
"""dimer_curves.py — interaction-energy curves of a molecule's dimer, teacher against model
(docs/validation.md, issue 21).

usage: dimer_curves.py [--model MODEL] [--molecule XYZ] [--distances 3:8:0.25] [--shift 1.5]
                       [--no-relax] [--jobs N] [--machine NAME] [--label L]
                       [--json FILE | --results DIR] [--work DIR] [--plot PNG | --no-plot]
                       [--mlff PATH] [--xtb PATH]

Three rigid orientations of two copies of the monomer, for any molecule, from its principal
axes (eigenvectors of the mass-weighted covariance of the positions: e1 longest, e3 thinnest):
  stacked               B = A moved along e3 (benzene: the sandwich)
  T-shaped              B stands on A's face: B turned so that its e1 points along -e3 of A,
                        the end of B farthest from its centre towards A (benzene: a C-H bond
                        pointing at the ring's centre), moved along e3
  parallel-displaced    the stacked dimer with B shifted by --shift (1.5 Å) along e1
at centre-of-mass distances --distances (3 to 8 Å in 0.25 Å steps). When the two largest axes
are degenerate (benzene), e1 is the direction of the atom farthest from the centre of mass.

The teacher is the xtb program (GFN2-xTB: `xtb FILE --gfn 2 --sp`, "TOTAL ENERGY" in Hartree),
the model is `mlff energy MODEL FILE` (every structure in one call); interaction energy =
E(dimer) - 2 E(monomer), both from the same rigid monomer, by default the teacher's relaxed one
(`xtb --opt`, --no-relax keeps the file's). Points where the teacher fails (non-zero exit, no
energy, SCC not converged) are skipped and listed. Output: MAE per curve and overall (meV), also
over the points whose teacher interaction is below +50 meV (the well, where a liquid lives),
each curve's minimum, a plot, and JSON (default bench/results/<machine>-<date>-dimers-<label>.json).
Needs numpy; matplotlib for the plot.
"""
import argparse
import concurrent.futures
import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HARTREE_EV = 27.211386245988
MASSES = {"H": 1.008, "He": 4.0026, "Li": 6.94, "B": 10.81, "C": 12.011, "N": 14.007,
          "O": 15.999, "F": 18.998, "Na": 22.990, "Mg": 24.305, "Si": 28.085, "P": 30.974,
          "S": 32.06, "Cl": 35.45, "K": 39.098, "Br": 79.904, "I": 126.90}
WELL_MEV = 50.0


def die(msg):
    print(f"dimer_curves.py: {msg}", file=sys.stderr)
    sys.exit(1)


def read_xyz(path):
    lines = open(path).read().splitlines()
    n = int(lines[0].split()[0])
    els, pos = [], []
    for ln in lines[2:n + 2]:
        w = ln.split()
        els.append(w[0][:1].upper() + w[0][1:].lower())
        pos.append([float(v) for v in w[1:4]])
    return els, np.array(pos)


def write_xyz(path, els, pos, comment=""):
    with open(path, "w") as f:
        f.write(f"{len(els)}\n{comment}\n")
        for e, p in zip(els, pos):
            f.write(f"{e} {p[0]:.10f} {p[1]:.10f} {p[2]:.10f}\n")


def write_extxyz(path, frames):
    """frames: [(els, pos, name)] as extended XYZ without a cell (what `mlff energy` reads)."""
    with open(path, "w") as f:
        for els, pos, name in frames:
            f.write(f"{len(els)}\nProperties=species:S:1:pos:R:3 pbc=\"F F F\" name={name}\n")
            for e, p in zip(els, pos):
                f.write(f"{e} {p[0]:.10f} {p[1]:.10f} {p[2]:.10f}\n")


# ---- geometry -----------------------------------------------------------------------------------
def principal_axes(els, pos, degenerate_tol=0.02):
    """Centred positions and axes e1 (longest), e2, e3 (thinnest) as rows, right-handed."""
    m = np.array([MASSES.get(e, 12.0) for e in els])
    com = (m[:, None] * pos).sum(0) / m.sum()
    x = pos - com
    cov = (m[:, None, None] * x[:, :, None] * x[:, None, :]).sum(0) / m.sum()
    w, v = np.linalg.eigh(cov)  # ascending
    e3, e2, e1 = v[:, 0], v[:, 1], v[:, 2]
    if w[2] > 0 and (w[2] - w[1]) / w[2] < degenerate_tol:
        # e1, e2 degenerate (benzene): e1 towards the atom farthest from the centre, in-plane
        proj = x - np.outer(x @ e3, e3)
        k = int(np.argmax((proj ** 2).sum(1)))
        e1 = proj[k] / np.linalg.norm(proj[k])
    else:
        k = int(np.argmax(np.abs(x @ e1)))  # e1's sign: towards the farthest atom along it
        if x[k] @ e1 < 0:
            e1 = -e1
    e2 = np.cross(e3, e1)
    e2 /= np.linalg.norm(e2)
    e3 = np.cross(e1, e2)
    return x, np.array([e1, e2, e3]), w[::-1]


def dimers(els, pos, distances, shift):
    """{orientation: [(d, dimer positions)]} with monomer A centred at the origin."""
    x, E, _ = principal_axes(els, pos)
    e1, e2, e3 = E
    # T: R maps e1 -> -e3, e2 -> -e1, e3 -> e2 (a proper rotation): B's e1 points down at A
    R = np.outer(-e3, e1) + np.outer(-e1, e2) + np.outer(e2, e3)
    xt = x @ R.T
    out = {"stacked": [], "T-shaped": [], "parallel-displaced": []}
    for d in distances:
        out["stacked"].append((d, np.vstack([x, x + d * e3])))
        out["T-shaped"].append((d, np.vstack([x, xt + d * e3])))
        # COM distance d with the shift included: the stacking height is sqrt(d^2 - shift^2)
        if d > shift:
            h = np.sqrt(d * d - shift * shift)
            out["parallel-displaced"].append((d, np.vstack([x, x + h * e3 + shift * e1])))
    return x, out


def min_contact(n, pos):
    a, b = pos[:n], pos[n:]
    return float(np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)).min())


# ---- the teacher and the model ------------------------------------------------------------------
def xtb_energy(xtb, els, pos, extra=(), keep=None):
    """GFN2-xTB total energy in eV, or (None, reason). With keep, returns the optimised file."""
    with tempfile.TemporaryDirectory() as tmp:
        write_xyz(os.path.join(tmp, "in.xyz"), els, pos)
        env = dict(os.environ, OMP_NUM_THREADS="1", OMP_STACKSIZE="500M")
        try:
            p = subprocess.run([xtb, "in.xyz", "--gfn", "2", *extra], cwd=tmp, env=env,
                               capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as e:
            return None, f"xtb did not run: {e}"
        out = p.stdout + p.stderr
        m = re.findall(r"TOTAL ENERGY\s+(-?\d+\.\d+)\s+Eh", out)
        if p.returncode != 0:
            return None, f"xtb exit status {p.returncode}: " + (out.strip().splitlines()
                                                                 or ["?"])[-1][:200]
        if re.search(r"SCC (is )?not converged|convergence criteri.* not (met|satisfied)",
                     out, re.I):
            return None, "SCC not converged"
        if not m:
            return None, "no TOTAL ENERGY in xtb's output"
        if keep:
            shutil.copy(os.path.join(tmp, "xtbopt.xyz"), keep)
        return float(m[-1]) * HARTREE_EV, None


def model_energies(mlff, model, path):
    p = subprocess.run([mlff, "energy", model, path], capture_output=True, text=True)
    if p.returncode != 0:
        die(f"mlff energy failed (exit {p.returncode}): {p.stderr.strip()[-500:]}")
    e = {int(k): float(v) for k, v in
         re.findall(r"^frame (\d+): \d+ atoms\s+energy (-?[\d.]+(?:[eE][-+]?\d+)?) eV",
                    p.stdout, re.M)}
    return e


# ---- figures ------------------------------------------------------------------------------------
def curve_stats(pts):
    ok = [p for p in pts if p["teacher_meV"] is not None]
    err = [abs(p["model_meV"] - p["teacher_meV"]) for p in ok]
    well = [abs(p["model_meV"] - p["teacher_meV"]) for p in ok if p["teacher_meV"] < WELL_MEV]
    st = {"points": len(ok), "skipped": len(pts) - len(ok),
          "mae_meV": float(np.mean(err)) if err else None,
          "max_abs_err_meV": float(np.max(err)) if err else None,
          "mae_well_meV": float(np.mean(well)) if well else None, "well_points": len(well)}
    for who in ("teacher", "model"):
        cand = [(p[f"{who}_meV"], p["d_A"]) for p in (ok if who == "teacher" else pts)
                if p[f"{who}_meV"] is not None]
        if cand:
            e, d = min(cand)
            st[f"{who}_min"] = {"d_A": d, "e_meV": e}
    return st


def plot(res, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"dimer_curves.py: no plot: matplotlib is not importable by {sys.executable} "
              "(Debian: apt-get install python3-matplotlib)", file=sys.stderr)
        return None
    curves = res["curves"]
    fig, axes = plt.subplots(1, len(curves), figsize=(4.2 * len(curves) + 1.8, 4.2),
                             sharey=True)
    lows = [min(p["teacher_meV"] for p in c["points"] if p["teacher_meV"] is not None)
            for c in curves.values() if any(p["teacher_meV"] is not None for p in c["points"])]
    lows += [min(p["model_meV"] for p in c["points"]) for c in curves.values() if c["points"]]
    lo = 1.4 * min(min(lows), -10.0)
    for ax, (name, c) in zip(axes, curves.items()):
        t = [(p["d_A"], p["teacher_meV"]) for p in c["points"] if p["teacher_meV"] is not None]
        m = [(p["d_A"], p["model_meV"]) for p in c["points"]]
        if t:
            ax.plot(*zip(*t), "o-", color="k", ms=3, lw=1.2, label="teacher (GFN2-xTB)")
        if m:
            ax.plot(*zip(*m), "s--", color="C3", ms=3, lw=1.2, label="model")
        ax.axhline(0, color="0.6", lw=0.8)
        mae, well = c["stats"]["mae_meV"], c["stats"]["mae_well_meV"]
        ax.set_title(f"{name}\nMAE {mae:.1f} meV, in the well {well:.1f} meV"
                     if mae is not None and well is not None else name, fontsize=10)
        ax.set_xlabel("centre-of-mass distance (Å)")
        ax.set_ylim(lo, -lo)
    axes[0].set_ylabel("interaction energy (meV)")
    axes[-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    fig.suptitle(f"dimer curves, {res['label']} (repulsive wall clipped)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def parse_range(s):
    a, b, step = (float(v) for v in s.split(":"))
    n = int(round((b - a) / step)) + 1
    return [round(a + k * step, 6) for k in range(n)]


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--model", default=os.path.join(repo, "models", "benzene-gfn2.h5"))
    ap.add_argument("--molecule", default=os.path.join(repo, "models", "benzene.xyz"))
    ap.add_argument("--distances", default="3:8:0.25", help="start:stop:step, Å")
    ap.add_argument("--shift", type=float, default=1.5, help="parallel displacement, Å")
    ap.add_argument("--no-relax", action="store_true")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--machine", default="vm")
    ap.add_argument("--label")
    ap.add_argument("--date", default=datetime.datetime.now(datetime.timezone.utc)
                    .strftime("%Y-%m-%d"))
    ap.add_argument("--json")
    ap.add_argument("--results", default=os.path.join(here, "results"))
    ap.add_argument("--work", help="folder for the structures and the plot (default "
                    "build/validation/dimers-<label>)")
    ap.add_argument("--plot")
    ap.add_argument("--no-plot", action="store_true")
    build = os.environ.get("MLFF_BUILD_DIR", os.path.join(repo, "build"))
    tool = os.path.join(build, "tools", "mlff")
    ap.add_argument("--mlff", default=os.environ.get("MLFF_TOOL") or (
        tool if os.path.exists(tool) else shutil.which("mlff") or tool),
        help="the mlff command (default $MLFF_TOOL, build/tools/mlff, else mlff on PATH)")
    ap.add_argument("--xtb", default=shutil.which("xtb") or "xtb")
    a = ap.parse_args(argv)
    for what, path in (("model", a.model), ("molecule", a.molecule), ("mlff tool", a.mlff)):
        if not os.path.exists(path):
            die(f"no {what} at {path}")
    label = a.label or os.path.splitext(os.path.basename(a.model))[0]
    work = a.work or os.path.join(build, "validation", f"dimers-{label}")
    os.makedirs(work, exist_ok=True)

    els, pos = read_xyz(a.molecule)
    relaxed = None
    if not a.no_relax:
        opt = os.path.join(work, "monomer-relaxed.xyz")
        e, why = xtb_energy(a.xtb, els, pos, ("--opt",), keep=opt)
        if e is None:
            die(f"the teacher could not relax the monomer: {why} (--no-relax keeps the file's)")
        els, pos = read_xyz(opt)
        relaxed = opt
    e_mono_t, why = xtb_energy(a.xtb, els, pos, ("--sp",))
    if e_mono_t is None:
        die(f"the teacher failed on the monomer: {why}")
    x, curves = dimers(els, pos, parse_range(a.distances), a.shift)
    e3 = principal_axes(els, pos)[1][2]
    n = len(els)

    # the model: monomer and every dimer in one call
    frames = [(els, x, "monomer")]
    index = []
    for name, pts in curves.items():
        for d, p in pts:
            index.append((name, d))
            frames.append((els + els, p, f"{name}_{d:.3f}"))
    allxyz = os.path.join(work, "dimers.extxyz")
    write_extxyz(allxyz, frames)
    em = model_energies(a.mlff, a.model, allxyz)
    if len(em) != len(frames):
        die(f"mlff energy gave {len(em)} energies for {len(frames)} structures")

    # the teacher: every dimer, in parallel
    jobs = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, a.jobs)) as ex:
        for k, (name, d) in enumerate(index):
            jobs[k] = ex.submit(xtb_energy, a.xtb, els + els, frames[k + 1][1], ("--sp",))
    res_curves = {}
    skipped = []
    for name in curves:
        res_curves[name] = {"points": []}
    for k, (name, d) in enumerate(index):
        et, why = jobs[k].result()
        p = frames[k + 1][1]
        pt = {"d_A": d, "min_contact_A": round(min_contact(n, p), 4),
              "stack_height_A": round(float((p[n:].mean(0) - p[:n].mean(0)) @ e3), 4),
              "model_meV": (em[k + 1] - 2 * em[0]) * 1000.0,
              "teacher_meV": None if et is None else (et - 2 * e_mono_t) * 1000.0}
        if et is None:
            pt["teacher_failed"] = why
            skipped.append({"orientation": name, "d_A": d, "reason": why})
        res_curves[name]["points"].append(pt)
    for c in res_curves.values():
        c["stats"] = curve_stats(c["points"])
    allpts = [p for c in res_curves.values() for p in c["points"]]
    overall = curve_stats(allpts)
    for k in ("teacher_min", "model_min"):
        overall.pop(k, None)
    res = {"source": "bench/dimer_curves.py (docs/validation.md, issue 21)", "machine": a.machine,
           "date": a.date, "label": label,
           "inputs": {"model": a.model,
                      "model_sha256": hashlib.sha256(open(a.model, "rb").read()).hexdigest(),
                      "molecule": a.molecule, "monomer": "teacher-relaxed (xtb --opt)" if relaxed
                      else "as in the file", "distances_A": a.distances, "shift_A": a.shift,
                      "teacher": "xtb --gfn 2 --sp (GFN2-xTB)", "mlff": a.mlff,
                      "well_threshold_meV": WELL_MEV},
           "monomer": {"atoms": n, "teacher_eV": e_mono_t, "model_eV": em[0]},
           "overall": overall, "curves": res_curves, "skipped": skipped}
    if not a.no_plot:
        res["plot"] = plot(res, a.plot or os.path.join(work, f"dimers-{label}.png"))
    path = a.json or os.path.join(a.results, f"{a.machine}-{a.date}-dimers-{label}.json")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")

    def f1(v):
        return "n/a" if v is None else f"{v:.1f}"
    print(f"dimer curves: {label}, {n}-atom monomer, COM distances {a.distances} Å")
    print(f"  {'orientation':20s} {'points':>6s} {'MAE meV':>8s} {'well MAE':>8s} "
          f"{'max err':>8s}  teacher min (Å, meV)   model min (Å, meV)")
    for name, c in list(res_curves.items()) + [("overall", {"stats": overall})]:
        s = c["stats"]
        tm, mm = s.get("teacher_min"), s.get("model_min")
        print(f"  {name:20s} {s['points']:6d} {f1(s['mae_meV']):>8s} {f1(s['mae_well_meV']):>8s} "
              f"{f1(s['max_abs_err_meV']):>8s}  "
              + (f"{tm['d_A']:.2f} {tm['e_meV']:8.1f}" if tm else " " * 13) + "         "
              + (f"{mm['d_A']:.2f} {mm['e_meV']:8.1f}" if mm else ""))
    for s in skipped:
        print(f"  skipped: {s['orientation']} at {s['d_A']} Å: the teacher failed ({s['reason']})")
    print(f"  json {path}")
    if res.get("plot"):
        print(f"  plot {res['plot']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
