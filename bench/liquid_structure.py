#!/usr/bin/env python3
"""liquid_structure.py — how a molecular liquid's structure changes over an MD run (issue 21).

A liquid whose NPT density keeps creeping at constant energy and ~zero mean pressure is changing
something the density alone does not say. This reads the frames of a LAMMPS dump (custom, with
id type x y z; an orthorhombic periodic box; `in.liquid_npt -var keep_dump yes` writes one) and
reports per frame:
  - density (g/cm^3) and how many molecules are still the bonded groups of the first frame;
  - coordination: molecules whose centres lie within the first shell (the first minimum of the
    first frame's centre-centre g(r) after its highest peak, or --shell);
  - orientational order with those neighbours, <P2(cos theta)> of the angle between the two
    molecules' axes (a molecule's thinnest principal axis: a ring's normal): 0 when random,
    1 all parallel, -0.5 all perpendicular;
  - stacked pairs per molecule: centres within --stack-distance and axes within --stack-angle;
  - empty space: the share of a grid over the box (--grid Å) further than --probe Å from every
    atom, and the largest such distance (the radius of the largest empty sphere): a cavity or
    a bubble that a barostat is slowly closing shows here.
Nothing is molecule-specific: molecules are the groups of atoms bonded by covalent radii (x1.2)
in the first frame, and the axes come from each molecule's atoms (all masses 1).

usage: liquid_structure.py DUMP[.xz] --elements "C H" [--dt-ps 0.0005] [--json OUT.json]
                           [--plot OUT.png] [--label L] [--every N]
Needs numpy and scipy (Debian's /usr/bin/python3); matplotlib for --plot.
"""
import argparse
import json
import lzma
import math
import sys

import numpy as np

from teacher_locality import COVALENT
from validate_data import MASSES

AVOGADRO_A3 = 0.602214076  # g/cm^3 = amu/Å^3 / 0.602214076


def die(msg):
    sys.exit(f"liquid_structure.py: {msg}")


def frames(path, every):
    """Yield (step, lo[3], length[3], ids, types, x) of every `every`-th frame of a dump."""
    op = lzma.open if path.endswith(".xz") else open
    try:
        f = op(path, "rt")
    except OSError as e:
        die(f"cannot read {path}: {e.strerror}")
    k = 0
    with f:
        while True:
            line = f.readline()
            if not line:
                return
            if not line.startswith("ITEM: TIMESTEP"):
                die(f"{path}: expected 'ITEM: TIMESTEP', got {line.strip()[:60]!r}")
            step = int(f.readline())
            f.readline()
            n = int(f.readline())
            head = f.readline()
            if not head.startswith("ITEM: BOX BOUNDS") or "xy" in head:
                die(f"{path}: frame at step {step}: an orthorhombic box is needed ({head.strip()})")
            b = np.array([[float(v) for v in f.readline().split()[:2]] for _ in range(3)])
            cols = f.readline().split()[2:]
            need = ("id", "type", "x", "y", "z")
            if not all(c in cols for c in need):
                die(f"{path}: frame at step {step}: columns {cols}, need {list(need)}")
            rows = [f.readline() for _ in range(n)]
            if k % every == 0:
                a = np.loadtxt(rows, ndmin=2)
                if a.shape != (n, len(cols)):
                    die(f"{path}: frame at step {step} is cut short ({a.shape[0]} of {n} atoms)")
                idx = [cols.index(c) for c in need]
                o = np.argsort(a[:, idx[0]])
                a = a[o]
                yield (step, b[:, 0], b[:, 1] - b[:, 0], a[:, idx[0]].astype(int),
                       a[:, idx[1]].astype(int), a[:, idx[2:]].copy())
            k += 1


def molecules(x, box, elems):
    """Bonded groups (covalent radii x 1.2, minimum image): a list of index arrays."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree
    r = np.array([COVALENT[e] for e in elems])
    t = cKDTree(np.mod(x, box), boxsize=box)
    pairs = t.query_pairs(2.0 * max(COVALENT[e] for e in set(elems)) * 1.2, output_type="ndarray")
    d = x[pairs[:, 0]] - x[pairs[:, 1]]
    d -= box * np.round(d / box)
    keep = np.linalg.norm(d, axis=1) < 1.2 * (r[pairs[:, 0]] + r[pairs[:, 1]])
    p = pairs[keep]
    n = len(x)
    g = coo_matrix((np.ones(len(p)), (p[:, 0], p[:, 1])), shape=(n, n))
    nc, lab = connected_components(g, directed=False)
    return [np.flatnonzero(lab == c) for c in range(nc)], lab


def whole(x, box, mol):
    """Each molecule's atoms unwrapped to the image nearest its first atom."""
    out = x.copy()
    for m in mol:
        d = x[m] - x[m[0]]
        out[m] = x[m[0]] + d - box * np.round(d / box)
    return out


def axes_centres(xw, mol, masses):
    c = np.array([(xw[m] * masses[m, None]).sum(0) / masses[m].sum() for m in mol])
    ax = np.empty_like(c)
    for k, m in enumerate(mol):
        y = xw[m] - xw[m].mean(0)
        w, v = np.linalg.eigh(y.T @ y)
        ax[k] = v[:, 0]  # the thinnest axis
    return c, ax


def first_minimum(c, box, rmax):
    """The first minimum after the highest peak of the centres' g(r) (bins of 0.1 Å)."""
    from scipy.spatial import cKDTree
    t = cKDTree(np.mod(c, box), boxsize=box)
    d = t.sparse_distance_matrix(t, rmax, output_type="ndarray")["v"]
    d = d[d > 0]
    h, e = np.histogram(d, bins=np.arange(0.0, rmax + 1e-9, 0.1))
    r = 0.5 * (e[1:] + e[:-1])
    shell = 4.0 * math.pi * r * r * 0.1 * len(c) * len(c) / np.prod(box)
    g = np.where(shell > 0, h / shell, 0.0)
    # smoothed over 5 bins; the highest peak is the first shell's (a liquid's), then the
    # minimum after it
    gs = np.convolve(g, np.ones(5) / 5, mode="same")
    k = int(np.argmax(gs))
    while k + 1 < len(gs) and gs[k + 1] <= gs[k]:
        k += 1
    return float(r[k])


def analyse(frame, mol0, lab0, elems_of_type, args, shell):
    step, lo, box, ids, types, x = frame
    elems = [elems_of_type[t] for t in types]
    masses = np.array([MASSES[e] for e in elems])
    from scipy.spatial import cKDTree
    x = np.mod(x - lo, box)
    mol, lab = molecules(x, box, elems)
    intact = sum(1 for m in mol0 if len(set(lab[m])) == 1 and (lab == lab[m[0]]).sum() == len(m))
    xw = whole(x, box, mol0)
    c, ax = axes_centres(xw, mol0, masses)
    if shell is None:
        shell = first_minimum(c, box, min(12.0, 0.5 * box.min()))
    t = cKDTree(np.mod(c, box), boxsize=box)
    pairs = t.query_pairs(shell, output_type="ndarray")
    d = c[pairs[:, 0]] - c[pairs[:, 1]]
    d -= box * np.round(d / box)
    r = np.linalg.norm(d, axis=1)
    cos = np.abs(np.einsum("ij,ij->i", ax[pairs[:, 0]], ax[pairs[:, 1]]))
    p2 = 1.5 * cos ** 2 - 0.5
    stacked = (r < args.stack_distance) & (cos > math.cos(math.radians(args.stack_angle)))
    nm = len(mol0)
    # empty space: distance from grid points to the nearest atom
    ng = np.maximum(1, np.round(box / args.grid).astype(int))
    g = np.stack(np.meshgrid(*[(np.arange(n) + 0.5) * b / n for n, b in zip(ng, box)],
                             indexing="ij"), -1).reshape(-1, 3)
    ta = cKDTree(x, boxsize=box)
    dist, _ = ta.query(g, k=1)
    return shell, {
        "step": int(step),
        "time_ps": round(step * args.dt_ps, 6),
        "density_g_cm3": round(float(masses.sum() / AVOGADRO_A3 / np.prod(box)), 6),
        "molecules_intact": int(intact),
        "coordination": round(2.0 * len(pairs) / nm, 4),
        "p2_first_shell": round(float(p2.mean()) if len(p2) else float("nan"), 5),
        "stacked_pairs_per_molecule": round(float(stacked.sum()) / nm, 5),
        "empty_share": round(float((dist > args.probe).mean()), 6),
        "largest_empty_sphere_A": round(float(dist.max()), 4),
    }


def plot(res, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not importable: no plot")
        return
    fr = res["frames"]
    t = [f["time_ps"] for f in fr]
    keys = [("density_g_cm3", "density, g/cm³"), ("coordination", "first-shell neighbours"),
            ("p2_first_shell", "⟨P2⟩ with neighbours"),
            ("stacked_pairs_per_molecule", "stacked pairs per molecule"),
            ("empty_share", f"share of box > {res['settings']['probe_A']} Å from atoms"),
            ("largest_empty_sphere_A", "largest empty sphere, Å")]
    fig, axs = plt.subplots(3, 2, figsize=(10, 9), sharex=True)
    for a, (k, name) in zip(axs.flat, keys):
        a.plot(t, [f[k] for f in fr], "o-", ms=3)
        a.set_ylabel(name)
        a.grid(alpha=0.3)
    for a in axs[-1]:
        a.set_xlabel("time, ps (dump steps × dt)")
    fig.suptitle(f"{res['label']}: structure over the run ({res['dump']})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"plot: {path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dump")
    ap.add_argument("--elements", required=True, help='element of each atom type, "C H"')
    ap.add_argument("--dt-ps", type=float, default=0.0005, help="time step (ps) for the times")
    ap.add_argument("--shell", type=float, help="first-shell radius of the centres, Å "
                    "(default: the first minimum of the first frame's centre g(r))")
    ap.add_argument("--stack-distance", type=float, default=4.2, help="Å (default 4.2)")
    ap.add_argument("--stack-angle", type=float, default=26.0, help="degrees (default 26)")
    ap.add_argument("--probe", type=float, default=3.0, help="Å from every atom (default 3)")
    ap.add_argument("--grid", type=float, default=0.5, help="grid spacing, Å (default 0.5)")
    ap.add_argument("--every", type=int, default=1, help="every N-th frame (default 1)")
    ap.add_argument("--label", default="liquid")
    ap.add_argument("--json")
    ap.add_argument("--plot")
    args = ap.parse_args()
    elems_of_type = {k + 1: e for k, e in enumerate(args.elements.split())}
    bad = [e for e in elems_of_type.values() if e not in MASSES or e not in COVALENT]
    if bad:
        die(f"--elements: no mass or covalent radius for {bad} (known: "
            f"{sorted(set(MASSES) & set(COVALENT))})")
    res = {"source": "bench/liquid_structure.py (issue 21)", "label": args.label,
           "dump": args.dump, "settings": {"elements": args.elements, "dt_ps": args.dt_ps,
           "stack_distance_A": args.stack_distance, "stack_angle_deg": args.stack_angle,
           "probe_A": args.probe, "grid_A": args.grid}, "frames": []}
    mol0 = lab0 = None
    shell = args.shell
    for fr in frames(args.dump, args.every):
        bad = sorted(set(fr[4]) - set(elems_of_type))
        if bad:
            die(f"{args.dump}: atom types {bad} have no element in --elements {args.elements!r}")
        if mol0 is None:
            x = np.mod(fr[5] - fr[1], fr[2])
            mol0, lab0 = molecules(x, fr[2], [elems_of_type[t] for t in fr[4]])
            res["molecules"] = len(mol0)
            res["atoms"] = int(len(fr[3]))
        shell, row = analyse(fr, mol0, lab0, elems_of_type, args, shell)
        res["frames"].append(row)
        print(" ".join(f"{k} {v}" for k, v in row.items()), flush=True)
    if not res["frames"]:
        die(f"{args.dump}: no frame")
    res["settings"]["shell_A"] = round(shell, 3)
    print(f"{res['molecules']} molecules; first shell {shell:.2f} Å")
    if args.json:
        json.dump(res, open(args.json, "w"), indent=1)
        print(f"json: {args.json}")
    if args.plot:
        plot(res, args.plot)


if __name__ == "__main__":
    main()
