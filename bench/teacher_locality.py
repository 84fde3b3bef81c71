#!/usr/bin/python3
"""teacher_locality.py — how local are the teacher's forces? (issue 23)

A student sees each atom's surroundings out to its cutoff (5.2 Å); a teacher with
self-consistent charges (GFN2-xTB) lets farther molecules move an atom's force too. Whatever
of the force the surroundings beyond the cutoff decide is, to any local student, noise: a floor
under its force error that no data or training removes, and a floor under the committee's
deviation that `mlff learn`'s trust levels must sit above.

This measures it. Around a centre molecule of each frame, clusters of the N nearest whole
molecules (N in --sizes) are given to the teacher; the centre molecule's forces in each are
compared with those in the largest. Reported per N: the distance out to the N-th molecule's
centre; how far the cluster is complete (it holds every atom of the frame that lies within that
distance of one of the centre molecule's atoms); and the change of the centre molecule's forces,
as the mean and largest length of the difference vector and as the mean absolute difference per
component (the figure comparable to a model's force MAE). The change from the first cluster that
is complete out to the student's cutoff to the largest is force that atoms beyond the cutoff
decide: a lower bound on what no local student can learn (the largest cluster is not the bulk).

Frames: extended XYZ. With a Lattice, a periodic liquid (e.g. a student's MD, bench/
dump2extxyz.sh): --centres molecules drawn at random per frame, the clusters built with the
minimum image. Without one, a cluster (e.g. the spheres `mlff learn` labels, its iter-NN/
candidates.xyz; those of other sizes are skipped): the centre molecule is the one nearest the
centroid. Molecules are found by covalent bonds (1.2 x the sum of covalent radii), so nothing
here is specific to any molecule.

The teacher is GFN2-xTB through tblite (as bench/teacher_bulk.py, which checks it agrees with
libxtb on molecules), run in the Python that has it (--python-tblite, default the mlff cache's
venv, ~/.cache/mlff/venv-dftd4-4.3.1, where scripts/dispersion_d4.py put dftd4; `pip install
tblite` there once).

--replicate N repeats each periodic frame N x N x N first, so that a small box (the 128
molecules `mlff learn` explores) gives clusters larger than half its side.

--charges SYM=Q,... asks how much of that far force fixed atomic charges by element (e) would
carry (mlff's electrostatics term, docs/model.md): for each size, the Coulomb force on the
centre molecule's atoms from the atoms of the largest cluster that the smaller one lacks is
added to its force change, and the per-component MAE of what remains is reported, with the given
charges and with one scale of them fitted (least squares) over the clusters complete out to
--cutoff, whose change is all force from beyond it.

usage: teacher_locality.py FRAMES.xyz [--sizes 8,16,24,32,40,48] [--frames K] [--centres 1]
                           [--replicate N] [--seed 1] [--cutoff 5.2] [--python-tblite PY]
                           [--charges SYM=Q,...] [--json FILE]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

COVALENT = {"H": 0.31, "B": 0.84, "C": 0.76, "N": 0.71, "O": 0.66, "F": 0.57, "Si": 1.11,
            "P": 1.07, "S": 1.05, "Cl": 1.02, "Br": 1.20, "I": 1.39}
Z = {"H": 1, "B": 5, "C": 6, "N": 7, "O": 8, "F": 9, "Si": 14, "P": 15, "S": 16, "Cl": 17,
     "Br": 35, "I": 53}
TEACHER = r"""
import sys, json, numpy as np
from tblite.interface import Calculator
ANG, HARTREE = 1 / 0.52917721067, 27.211386245988
out = []
for z, x in json.load(open(sys.argv[1])):
    c = Calculator("GFN2-xTB", np.array(z), np.array(x) * ANG)
    c.set("verbosity", 0)
    out.append((-c.singlepoint().get("gradient") * HARTREE * ANG).tolist())
    print(len(out), file=sys.stderr, flush=True)
json.dump(out, open(sys.argv[2], "w"))
"""


def die(msg):
    # named by the program that runs (teacher_periodic.py uses these functions too)
    sys.exit(f"{os.path.basename(sys.argv[0])}: {msg}")


def read_frames(path):
    """[(elements, positions [n][3], cubic/orthorhombic lattice diagonal or None)]"""
    try:
        lines = open(path).read().split("\n")
    except OSError as e:
        die(f"{path}: {e.strerror}")
    i, out = 0, []
    while i < len(lines) and lines[i].strip():
        try:
            n = int(lines[i])
        except ValueError:
            die(f"{path}: line {i + 1}: expected the number of atoms, got '{lines[i][:40]}'")
        head = lines[i + 1] if i + 1 < len(lines) else ""
        if "Properties=" in head and "Properties=species:S:1:pos:R:3" not in head:
            die(f"{path}: line {i + 2}: the columns must begin species:S:1:pos:R:3")
        lat = None
        if 'Lattice="' in head:
            v = [float(t) for t in head.split('Lattice="')[1].split('"')[0].split()]
            m = np.array(v).reshape(3, 3)
            if np.abs(m - np.diag(np.diag(m))).max() > 1e-9:
                die(f"{path}: line {i + 2}: only orthorhombic cells are handled")
            lat = np.diag(m).copy()
        rows = [l.split() for l in lines[i + 2:i + 2 + n]]
        if len(rows) < n or any(len(r) < 4 for r in rows):
            die(f"{path}: frame at line {i + 1}: fewer than {n} atom lines")
        el = [r[0] for r in rows]
        bad = sorted(set(e for e in el if e not in COVALENT))
        if bad:
            die(f"{path}: line {i + 3}: element(s) {','.join(bad)} not handled "
                f"(known: {' '.join(COVALENT)})")
        out.append((el, np.array([[float(t) for t in r[1:4]] for r in rows]), lat))
        i += 2 + n
    if not out:
        die(f"{path}: no frames")
    return out


def replicate(frame, n):
    """A periodic frame repeated n x n x n."""
    el, x, lat = frame
    shifts = [np.array([i, j, k]) * lat for i in range(n) for j in range(n) for k in range(n)]
    return el * len(shifts), np.vstack([x + s for s in shifts]), lat * n


def molecules(el, x, lat):
    """Whole molecules by covalent bonds: a list of (atom indices, unwrapped positions)."""
    n = len(el)
    rad = np.array([COVALENT[e] for e in el])
    nbr = [[] for _ in range(n)]  # (atom, displacement to it)
    for a0 in range(0, n, 256):  # rows in blocks: a liquid of 10^4 atoms fits in memory
        d = x[None, :, :] - x[a0:a0 + 256, None, :]
        if lat is not None:
            d -= lat * np.round(d / lat)
        bonded = np.linalg.norm(d, axis=2) < 1.2 * (rad[a0:a0 + 256, None] + rad[None, :])
        for i, j in zip(*np.nonzero(bonded)):
            if a0 + i != j:
                nbr[a0 + i].append((j, d[i, j]))
    seen, mols = np.zeros(n, bool), []
    for s in range(n):
        if seen[s]:
            continue
        seen[s], stack, pos = True, [s], {s: x[s].copy()}
        while stack:  # walk the bonds, each atom placed next to the one it was reached from
            a = stack.pop()
            for b, dab in nbr[a]:
                if not seen[b]:
                    seen[b] = True
                    pos[b] = pos[a] + dab
                    stack.append(b)
        idx = sorted(pos)
        mols.append((idx, np.array([pos[k] for k in idx])))
    return mols


def clusters(el, mols, lat, centre, sizes):
    """For each N of sizes: (elements, positions, the centre molecule's rows, distance out to the
    N-th molecule's centre, how far it is complete) of the N molecules nearest the centre
    molecule, minimum image."""
    c = np.array([p.mean(0) for _, p in mols])
    d = c - c[centre]
    if lat is not None:
        d -= lat * np.round(d / lat)
    order = np.argsort(np.linalg.norm(d, axis=1), kind="stable")
    if order[0] != centre:  # two centres on top of each other cannot happen with whole molecules
        die("molecule centres coincide")
    out = []
    for N in sizes:
        if N > len(mols):
            die(f"a cluster of {N} molecules asked, the frame has {len(mols)}")
        r = float(np.linalg.norm(d[order[N - 1]]))
        if lat is not None and r > 0.5 * lat.min() - 1.0:
            die(f"a cluster of {N} molecules reaches {r:.1f} Å from its centre, beyond half the "
                f"box ({0.5 * lat.min():.1f} Å) less 1 Å: use a larger box or smaller --sizes")
        e, p, rows = [], [], None
        for m in order[:N]:
            idx, pos = mols[m]
            shift = (c[centre] + d[m]) - c[m]  # the periodic image nearest the centre
            if m == centre:
                rows = list(range(len(e), len(e) + len(idx)))
            e += [el[k] for k in idx]
            p.append(pos + shift)
        # complete out to the nearest atom left out, from any of the centre's atoms
        rest = [k for m in order[N:] for k in mols[m][0]]
        complete = float("inf")
        if rest:
            xr = np.vstack([mols[m][1] for m in order[N:]])
            dd = xr[None, :, :] - mols[centre][1][:, None, :]
            if lat is not None:
                dd -= lat * np.round(dd / lat)
            complete = float(np.linalg.norm(dd, axis=2).min())
        out.append((e, np.vstack(p), rows, r, complete))
    return out


def run_teacher(python, script, payload):
    """Run a teacher script (argv: input JSON, output JSON) in the Python that has tblite, with
    payload as its input; its output. A failure stops this with the script's last words."""
    with tempfile.TemporaryDirectory() as tmp:
        path, jin, jout = (os.path.join(tmp, f) for f in ("t.py", "in.json", "out.json"))
        open(path, "w").write(script)
        json.dump(payload, open(jin, "w"))
        env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
        p = subprocess.run([python, path, jin, jout], env=env, capture_output=True, text=True)
        if p.returncode != 0:
            die(f"the teacher ({python}, tblite) failed: {p.stderr.strip()[-800:]}")
        return json.load(open(jout))


def tblite_teacher(python):
    def run(structures):
        out = run_teacher(python, TEACHER, [[[Z[e] for e in el], x.tolist()]
                                            for el, x in structures])
        return [np.array(f) for f in out]
    return run


def far_coulomb(el, x, rows, n_near, charges):
    """Coulomb force (eV/Å) on the atoms `rows` of cluster (el, x) from its atoms n_near.. (those
    a smaller cluster of the same order lacks), with fixed charges by element"""
    q = np.array([charges[e] for e in el])
    d = x[rows][:, None, :] - x[None, n_near:, :]
    r = np.linalg.norm(d, axis=2)
    return 14.399645 * q[rows][:, None] * np.einsum("im,imk->ik", q[None, n_near:] / r ** 3, d)


def locality(frames, sizes, teacher, centres=1, seed=1, progress=None, charges=None,
             cutoff=5.2):
    """The centre molecules' force changes against the largest cluster, per size; with charges,
    also what remains of them once the far atoms' Coulomb force is added, and the charges' scale
    fitted on the clusters complete out to `cutoff` (what lies beyond it is the far force)"""
    rng = np.random.default_rng(seed)
    per_centre = []
    pairs = []  # (force change, far Coulomb force) of every centre and size but the largest
    for k, (el, x, lat) in enumerate(frames):
        mols = molecules(el, x, lat)
        if lat is None:
            cen = [int(np.argmin([np.linalg.norm(p.mean(0) - x.mean(0)) for _, p in mols]))]
        else:
            cen = rng.choice(len(mols), size=min(centres, len(mols)), replace=False).tolist()
        for m in cen:
            cl = clusters(el, mols, lat, m, sizes)
            forces = teacher([(e, p) for e, p, _, _, _ in cl])
            ref = forces[-1][cl[-1][2]]
            rec = {"frame": k, "molecule": m, "atoms": len(cl[0][2]), "sizes": []}
            for j, (N, (e, p, rows, r, complete), f) in enumerate(zip(sizes, cl, forces)):
                df = f[rows] - ref
                rec["sizes"].append({"molecules": N, "radius_A": r,
                                     "complete_A": complete if complete < float("inf") else None,
                                     "mean_dF_meV_per_A": 1e3 * float(np.linalg.norm(df, axis=1).mean()),
                                     "max_dF_meV_per_A": 1e3 * float(np.linalg.norm(df, axis=1).max()),
                                     "component_mae_meV_per_A": 1e3 * float(np.abs(df).mean())})
                if charges and j < len(sizes) - 1:  # the largest cluster's atoms are in order
                    fc = far_coulomb(cl[-1][0], cl[-1][1], cl[-1][2], len(e), charges)
                    rec["sizes"][-1]["component_mae_less_coulomb_meV_per_A"] = \
                        1e3 * float(np.abs(df + fc).mean())
                    if complete >= cutoff:
                        pairs.append((j, df, fc))
            per_centre.append(rec)
            if progress:
                progress(rec)
    table = []
    for j, N in enumerate(sizes):
        rows = [c["sizes"][j] for c in per_centre]
        comp = [r["complete_A"] for r in rows if r["complete_A"] is not None]
        table.append({"molecules": N,
                      "radius_A": float(np.mean([r["radius_A"] for r in rows])),
                      "complete_A_min": float(min(comp)) if comp else None,
                      "mean_dF_meV_per_A": float(np.mean([r["mean_dF_meV_per_A"] for r in rows])),
                      "max_dF_meV_per_A": float(np.max([r["max_dF_meV_per_A"] for r in rows])),
                      "component_mae_meV_per_A":
                          float(np.mean([r["component_mae_meV_per_A"] for r in rows]))})
    if charges:  # F_ref - F_N ~ k^2 F_coul: one scale k of the charges for all
        den = sum(float((fc * fc).sum()) for _, _, fc in pairs)
        k2 = sum(float((-df * fc).sum()) for _, df, fc in pairs) / den if den > 0 else 0.0
        for j, t in enumerate(table[:-1]):
            mine = [(df, fc) for jj, df, fc in pairs if jj == j]
            t["component_mae_less_coulomb_meV_per_A"] = float(np.mean(
                [r["sizes"][j]["component_mae_less_coulomb_meV_per_A"] for r in per_centre]))
            t["component_mae_less_scaled_coulomb_meV_per_A"] = 1e3 * float(np.mean(
                [np.abs(df + k2 * fc).mean() for df, fc in mine])) if mine and k2 > 0 else None
        table[-1]["charge_scale_fit"] = k2 ** 0.5 if k2 > 0 else None
    return table, per_centre


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("frames")
    ap.add_argument("--sizes", default="8,16,24,32,40,48")
    ap.add_argument("--frames", dest="nframes", type=int, default=0,
                    help="use the first K frames that fit (default all)")
    ap.add_argument("--centres", type=int, default=1, help="centre molecules per periodic frame")
    ap.add_argument("--replicate", type=int, default=1,
                    help="repeat each periodic frame N x N x N (default 1)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cutoff", type=float, default=5.2,
                    help="the student's cutoff, Å, for the summary line (default 5.2)")
    ap.add_argument("--python-tblite", default=os.path.expanduser(
        "~/.cache/mlff/venv-dftd4-4.3.1/bin/python"))
    ap.add_argument("--charges", help="SYM=Q,...: fixed charges by element (e); how much of the "
                    "far force their Coulomb force carries")
    ap.add_argument("--json")
    a = ap.parse_args()
    charges = None
    if a.charges:
        try:
            charges = {k: float(v) for k, v in (t.split("=") for t in a.charges.split(","))}
        except ValueError:
            die(f"--charges '{a.charges}': expected SYM=Q,... (e.g. O=-0.8,H=0.4)")
    try:
        sizes = sorted(set(int(s) for s in a.sizes.split(",")))
    except ValueError:
        die(f"--sizes '{a.sizes}': expected a comma-separated list of molecule counts")
    if len(sizes) < 2 or sizes[0] < 1:
        die(f"--sizes '{a.sizes}': at least two counts, each 1 or more")
    if not os.access(a.python_tblite, os.X_OK):
        die(f"--python-tblite {a.python_tblite}: not an executable (a Python with tblite: "
            "pip install tblite)")
    if a.replicate < 1:
        die(f"--replicate {a.replicate}: 1 or more")
    frames = [replicate(f, a.replicate) if f[2] is not None else f for f in read_frames(a.frames)]
    # clusters: those whose molecule count reaches the largest size (mlff learn's candidates.xyz
    # mixes gas samples with spheres)
    keep = [f for f in frames if f[2] is not None or len(molecules(*f)) >= sizes[-1]]
    if a.nframes:
        keep = keep[:a.nframes]
    if not keep:
        die(f"{a.frames}: no periodic frame and no cluster of {sizes[-1]} molecules or more")
    print(f"{len(keep)} frames of {a.frames}; clusters of {','.join(map(str, sizes))} molecules "
          f"around a centre molecule; GFN2-xTB (tblite); the reference is {sizes[-1]}",
          file=sys.stderr)

    def progress(rec):
        print("  frame %d molecule %d: %s" % (rec["frame"], rec["molecule"], " ".join(
            "%d:%.0f" % (s["molecules"], s["mean_dF_meV_per_A"]) for s in rec["sizes"])),
            file=sys.stderr, flush=True)

    if charges:
        missing = sorted({e for f in keep for e in f[0]} - set(charges))
        if missing:
            die(f"--charges '{a.charges}': no charge for {', '.join(missing)}")
    table, per_centre = locality(keep, sizes, tblite_teacher(a.python_tblite), a.centres, a.seed,
                                 progress, charges, a.cutoff)
    print(f"{'molecules':>9} {'radius Å':>9} {'complete Å':>10} {'mean |dF|':>10} {'max |dF|':>9} "
          f"{'MAE/comp.':>10}   (meV/Å, the centre molecule's forces against {sizes[-1]})")
    for t in table:
        c = t["complete_A_min"]
        print(f"{t['molecules']:9d} {t['radius_A']:9.2f} "
              f"{'%.2f' % c if c is not None else 'all':>10} {t['mean_dF_meV_per_A']:10.1f} "
              f"{t['max_dF_meV_per_A']:9.1f} {t['component_mae_meV_per_A']:10.1f}")
    if charges:
        k = table[-1].get("charge_scale_fit")
        print(f"with fixed charges {a.charges} (their Coulomb force from the atoms each cluster "
              f"lacks added back), MAE/comp. per size: " + ", ".join(
                  "%d: %.1f" % (t["molecules"], t["component_mae_less_coulomb_meV_per_A"])
                  for t in table[:-1]) +
              (f"; with the charges x {k:.3f} (fitted on the clusters complete to {a.cutoff:g} Å): "
               + ", ".join("%d: %.1f" % (t["molecules"],
                                          t["component_mae_less_scaled_coulomb_meV_per_A"])
                           for t in table[:-1]
                           if t["component_mae_less_scaled_coulomb_meV_per_A"] is not None)
               if k else "; no positive scale fits"))
    beyond = [t for t in table[:-1] if t["complete_A_min"] is not None and
              t["complete_A_min"] >= a.cutoff]
    if beyond:  # a lower bound: the largest cluster is not the bulk either
        t = beyond[0]
        print(f"clusters of {t['molecules']} molecules hold every atom within the student's cutoff "
              f"({a.cutoff:g} Å) of the centre's atoms; the farther ones of {sizes[-1]} move its "
              f"forces by {t['component_mae_meV_per_A']:.1f} meV/Å per component: at least that "
              f"much of the teacher's force no local student can learn")
    else:
        print(f"no cluster short of the largest holds every atom within the cutoff ({a.cutoff:g} "
              f"Å) of the centre's atoms: add larger sizes to bound what lies beyond it")
    if a.json:
        json.dump({"source": "bench/teacher_locality.py", "frames": os.path.abspath(a.frames),
                   "replicate": a.replicate,
                   "teacher": "GFN2-xTB (tblite)", "sizes": sizes, "reference": sizes[-1],
                   "cutoff_A": a.cutoff, "table": table, "centres": per_centre},
                  open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
