#!/usr/bin/python3
"""teacher_periodic.py — does the periodic teacher agree with its own clusters? (issues 21, 23)

bench/teacher_bulk.py judges a student's liquid against the teacher's energies and pressures of
small periodic boxes (GFN2-xTB through tblite; libxtb has no periodic GFN2), while the student
learned from the teacher's clusters (libxtb, no periodicity). That evidence holds only if the
teacher's periodic energies and its cluster energies are one function of the atoms. This asks.

From one periodic frame (a LAMMPS data file of the student's liquid) it takes clusters of the N
molecules (periodic images included, so N may exceed the box's count) whose centres lie nearest
the molecule nearest the box centre, and the box itself, periodic; for each, the interaction energy per molecule
(the structure minus its molecules alone, meV), by the teacher and, with --model, by the student.
What to expect of a liquid: carved clusters lose the partners of their surface molecules, so
their interaction per molecule grows in size towards the periodic box's, from above (less
bound). A teacher whose periodic box binds less than its own clusters of the same liquid, while
the student's does not, is one of two functions of the atoms, and teacher_bulk's verdicts on
that liquid say more about the periodic code than about the student.

The teacher: GFN2-xTB through tblite, clusters and box alike, run in the Python that has it
(--python-tblite, default the mlff cache's venv, as teacher_bulk.py). Molecules are found by
covalent bonds (teacher_locality.molecules): nothing is specific to any molecule.

--self-check N asks instead whether the periodic code agrees with itself: the cluster of N open
and in periodic cubic boxes of 30 and 40 Å (the difference must fall towards zero), and a frame
of at most 32 molecules against its 2 x 2 x 2 repetition (equal per molecule).

--method GFN1-xTB asks the same of GFN1-xTB (no multipole electrostatics), to tell which part
of GFN2-xTB makes open and periodic differ.

usage: teacher_periodic.py DATA --elements "H O" [--sizes 16,64,128] [--model MODEL]
                           [--self-check N] [--method GFN2-xTB|GFN1-xTB] [--python-tblite PY]
                           [--json FILE]
"""
import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import teacher_locality  # noqa: E402
import validate_data  # noqa: E402

TEACHER = r"""
import sys, json, numpy as np
from tblite.interface import Calculator
ANG, HARTREE = 1 / 0.52917721067, 27.211386245988
out = []
method, jobs = json.load(open(sys.argv[1]))
for z, x, lat in jobs:
    kw = {"lattice": np.diag(lat) * ANG, "periodic": np.array([True] * 3)} if lat else {}
    c = Calculator(method, np.array(z), np.array(x) * ANG, **kw)
    c.set("verbosity", 0)
    out.append(c.singlepoint().get("energy") * HARTREE)
    print(len(out), file=sys.stderr, flush=True)
json.dump(out, open(sys.argv[2], "w"))
"""


def die(msg):
    sys.exit(f"teacher_periodic.py: {msg}")


def structures(el, x, lat, sizes):
    """[(label, elements, positions, lattice or None, molecules' (elements, positions))]: the
    clusters of sizes, then the periodic box."""
    mols = teacher_locality.molecules(el, x, lat)
    cen = np.array([p.mean(0) for _, p in mols])
    cen -= lat * np.floor(cen / lat)  # each molecule's image with its centre in the box
    imgs = [(m, np.array(s) - 1) for m in range(len(mols)) for s in np.ndindex(3, 3, 3)]
    c0 = cen[np.argmin(np.linalg.norm(cen - lat / 2, axis=1))]  # the molecule nearest the centre
    dist = np.array([np.linalg.norm(cen[m] + s * lat - c0) for m, s in imgs])
    order = np.argsort(dist, kind="stable")
    out = []
    for N in sizes:
        if N > len(imgs):
            die(f"a cluster of {N} molecules asked; the box and its 26 images hold {len(imgs)}")
        reach = float(np.min(np.minimum(c0 + lat, 2 * lat - c0)))  # where the images end
        if dist[order[N - 1]] > reach:
            die(f"a cluster of {N} molecules reaches {dist[order[N - 1]]:.1f} Å from its centre, "
                f"beyond the box and its 26 images ({reach:.1f} Å): give smaller --sizes")
        parts = []
        for k in order[:N]:
            m, s = imgs[k]
            idx, pos = mols[m]
            parts.append(([el[i] for i in idx], pos + (cen[m] - pos.mean(0)) + s * lat))
        out.append((f"cluster of {N}", sum((e for e, _ in parts), []),
                    np.vstack([p for _, p in parts]), None, parts))
    parts = [([el[i] for i in idx], pos) for idx, pos in mols]
    out.append((f"periodic box of {len(mols)}", sum((e for e, _ in parts), []),
                np.vstack([p for _, p in parts]), lat, parts))
    return out


def interactions(structs, energy):
    """Interaction energy per molecule (meV) of each structure by energy(list of (elements,
    positions, lattice or None)) -> eV each; the molecules alone are evaluated once per shape."""
    def shape(e, p):  # a molecule and its images share one
        return tuple(e), np.round(p - p.mean(0), 6).tobytes()
    jobs = [(e, x, lat) for _, e, x, lat, _ in structs]
    alone = {}
    for *_, parts in structs:
        for e, p in parts:
            alone.setdefault(shape(e, p), (e, p))
    res = energy(jobs + [(e, p, None) for e, p in alone.values()])
    mono = dict(zip(alone, res[len(jobs):]))
    out = []
    for (label, _, _, _, parts), etot in zip(structs, res):
        emols = sum(mono[shape(e, p)] for e, p in parts)
        out.append((label, 1000.0 * (etot - emols) / len(parts)))
    return out


def self_check(el, x, lat, size, energy):
    """Is the periodic teacher consistent with itself? The cluster of `size` molecules open and
    in periodic cubic boxes of 30 and 40 Å (vacuum around it: the difference must fall towards
    0 as the box grows), and, for a frame of at most 32 molecules, the periodic box against its
    2 x 2 x 2 repetition (equal per molecule). meV per molecule."""
    (_, e, p, _, parts), (*_, box_parts) = structures(el, x, lat, [size])
    p = p - p.mean(0)
    if np.ptp(p, axis=0).max() > 20.0:
        die(f"--self-check {size}: the cluster is {np.ptp(p, axis=0).max():.1f} Å wide; the "
            f"30 Å box leaves it under 10 Å of vacuum: give a smaller cluster")
    jobs = [(e, p + 15.0, None), (e, p + 15.0, np.array([30.0] * 3)),
            (e, p + 20.0, np.array([40.0] * 3))]
    n = len(box_parts)
    if n <= 32:
        shifts = [np.array(s) * lat for s in np.ndindex(2, 2, 2)]
        jobs += [(el, x, lat), (el * 8, np.vstack([x + t for t in shifts]), 2 * lat)]
    r = energy(jobs)
    out = {"cluster": size, "box30_minus_open_meV": 1000 * (r[1] - r[0]) / len(parts),
           "box40_minus_open_meV": 1000 * (r[2] - r[0]) / len(parts)}
    if n <= 32:
        out.update({"molecules": n, "supercell_minus_box_meV": 1000 * (r[4] / 8 - r[3]) / n})
    return out


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


def tblite_energy(python, method="GFN2-xTB"):
    def run(jobs):
        return teacher_locality.run_teacher(python, TEACHER, [method, [
            [[teacher_locality.Z[s] for s in e], x.tolist(),
             None if lat is None else list(map(float, lat))] for e, x, lat in jobs]])
    return run


def student_energy(model):
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python"))
    import mlff
    mod = mlff.Model(model)
    ev = mlff.Evaluator(mod, device="cpu")

    def run(jobs):
        out = []
        for e, x, lat in jobs:
            missing = sorted(set(e) - set(mod.elements))
            if missing:
                die(f"{model} has no element {', '.join(missing)} (it has "
                    f"{' '.join(mod.elements)})")
            sp = np.array([mod.elements.index(s) for s in e])
            kw = {} if lat is None else {"cell": np.diag(lat), "pbc": (True,) * 3}
            out.append(ev.compute(x, sp, **kw)["energy"])
        return out
    return run


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", help="LAMMPS data file of a periodic frame (atom_style atomic)")
    ap.add_argument("--elements", required=True,
                    help='the element of each atom type, in type order, e.g. "H O"')
    ap.add_argument("--sizes", default="16,64,128")
    ap.add_argument("--model", help="a student to compare (mlff model file)")
    ap.add_argument("--method", default="GFN2-xTB", choices=("GFN2-xTB", "GFN1-xTB"),
                    help="the teacher's method in tblite (GFN1-xTB has no multipole "
                    "electrostatics: a way to tell where open and periodic part)")
    ap.add_argument("--python-tblite", default=os.path.expanduser(
        "~/.cache/mlff/venv-dftd4-4.3.1/bin/python"))
    ap.add_argument("--self-check", type=int, metavar="N",
                    help="instead: the teacher's periodic code against itself (the cluster of N "
                    "open and in 30 / 40 Å periodic boxes; a box of <= 32 molecules against "
                    "its 2 x 2 x 2 repetition)")
    ap.add_argument("--json")
    a = ap.parse_args()
    if not os.path.isfile(a.data):
        die(f"no data file {a.data}")
    types, x, edges = validate_data.read_data(a.data)
    el_of = a.elements.split()
    if max(types) > len(el_of):
        die(f"{a.data} has atom types up to {max(types)}; --elements names {len(el_of)} "
            f"({a.elements!r}): give one element per type")
    unknown = [e for e in el_of if e not in teacher_locality.Z]
    if unknown:
        die(f"--elements: unknown element {', '.join(unknown)}")
    try:
        sizes = [int(s) for s in a.sizes.split(",")]
    except ValueError:
        die(f"--sizes {a.sizes!r}: comma-separated molecule counts, e.g. 16,64,128")
    if not os.path.exists(a.python_tblite):
        die(f"no Python with tblite at {a.python_tblite} (--python-tblite; `pip install "
            f"tblite` in a venv)")
    el = [el_of[t - 1] for t in types]
    if a.self_check:
        r = self_check(el, np.array(x, float), np.array(edges, float), a.self_check,
                       tblite_energy(a.python_tblite, a.method))
        print(f"teacher's periodic code against itself ({a.data}), meV per molecule:")
        print(f"  cluster of {r['cluster']} in a periodic 30 Å box minus open: "
              f"{r['box30_minus_open_meV']:+.2f}; 40 Å: {r['box40_minus_open_meV']:+.2f}")
        if "supercell_minus_box_meV" in r:
            print(f"  the periodic box of {r['molecules']} repeated 2 x 2 x 2 minus the box: "
                  f"{r['supercell_minus_box_meV']:+.2f}")
        if a.json:
            write_json(a.json, dict(r, data=a.data, teacher=f"{a.method}, tblite"))
        return
    structs = structures(el, np.array(x, float), np.array(edges, float), sizes)
    rows = [{"structure": lab, "teacher_meV": e} for lab, e in
            interactions(structs, tblite_energy(a.python_tblite, a.method))]
    if a.model:
        for r, (_, e) in zip(rows, interactions(structs, student_energy(a.model))):
            r["student_meV"] = e
    print(f"interaction energy per molecule, meV ({a.data}):")
    print(f"  {'structure':24s} {'teacher':>9s}" + (f" {'student':>9s} {'diff':>7s}"
                                                   if a.model else ""))
    for r in rows:
        print(f"  {r['structure']:24s} {r['teacher_meV']:9.1f}" +
              (f" {r['student_meV']:9.1f} {r['student_meV'] - r['teacher_meV']:+7.1f}"
               if a.model else ""))
    if a.json:
        write_json(a.json, {"data": a.data, "elements": el_of, "model": a.model,
                            "box_A": list(map(float, edges)),
                            "teacher": f"{a.method}, tblite (clusters open, the box periodic)",
                            "rows": rows})


if __name__ == "__main__":
    main()
