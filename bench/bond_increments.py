#!/usr/bin/env python3
"""bond_increments.py — bond-charge increments from a teacher's atomic charges (issue 23).

usage: bond_increments.py --model MODEL.h5 --molecule MONOMER.xyz --charges FILE
                          [--scale K] [--bond-factor F] [--out-charges FILE] [--json OUT.json]

A model's electrostatics may give each atom its element's charge plus, per bond, an increment
of its element towards its partner's (docs/model.md#electrostatics-optional): ethanol's
hydroxyl H then differs from its alkyl H, which charges by element cannot do. This fits those
increments, by least squares, to one charge per atom of a monomer (e, e.g. GFN2-xTB's Mulliken
charges, xtb's `charges` file), times --scale K (e.g. the scale bench/dimer_decompose.py
--fit-charges finds for them), with no charges by element: the bonds are the library's own
rule (mlff_model_charges: within F x the sum of Cordero's covalent radii, a hydrogen to its
nearest atom), found by evaluating the model's charges with one increment at a time. It prints
each atom's charge given and fitted, the fit's rms, and the `mlff train --electrostatics` value;
--out-charges writes the fitted charges (one per line, as xtb's file) for dimer_decompose.py
--charges. MODEL needs the molecule's elements only (its networks are not used). Needs numpy,
ASE's data (covalent radii) and the mlff Python package (python/, MLFF_LIBRARY).
"""
import argparse
import itertools
import json
import os
import sys

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(here), "python"))


def die(msg):
    sys.exit("bond_increments.py: " + msg)


def read_xyz(path):
    try:
        lines = open(path).read().split("\n")
        n = int(lines[0])
        rows = [ln.split() for ln in lines[2:2 + n]]
        return [r[0] for r in rows], np.array([[float(v) for v in r[1:4]] for r in rows])
    except (OSError, ValueError, IndexError) as e:
        die(f"--molecule {path}: not a readable XYZ file ({e})")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="a model with the molecule's elements")
    ap.add_argument("--molecule", required=True, help="the monomer (XYZ) the charges are of")
    ap.add_argument("--charges", required=True, help="one charge per atom (e), in its order")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the charges by this")
    ap.add_argument("--bond-factor", type=float, default=1.25)
    ap.add_argument("--out-charges")
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    import mlff
    from ase.data import atomic_numbers, covalent_radii
    sym, pos = read_xyz(a.molecule)
    try:
        q = a.scale * np.loadtxt(a.charges, ndmin=1)
    except (OSError, ValueError) as e:
        die(f"--charges {a.charges}: {e}")
    if q.size != len(sym):
        die(f"--charges {a.charges}: {q.size} charges for a molecule of {len(sym)} atoms")
    try:
        m = mlff.Model(a.model)
        sp = m.species(sym)
    except mlff.MlffError as e:
        die(str(e))
    els, n = m.elements, m.n_elements
    base = {"charges": {s: 0.0 for s in els}, "alpha": 0.1, "cutoff": 12.0,
            "bond_radii": {s: float(covalent_radii[atomic_numbers[s]]) for s in els},
            "bond_factor": a.bond_factor}
    # one column per pair of elements: the charges that increment alone gives (1 e)
    pairs, cols = [], []
    for i, j in itertools.combinations(range(n), 2):
        inc = np.zeros((n, n))
        inc[i, j], inc[j, i] = 1.0, -1.0
        m.set_electrostatics(dict(base, increments=inc))
        col = m.charges(pos, sp)
        if np.any(col != 0):  # a pair of elements with a bond in this molecule
            pairs.append((i, j))
            cols.append(col)
    if not pairs:
        die(f"{a.molecule}: no bonds between atoms of different elements (bond factor "
            f"{a.bond_factor:g}): increments move no charge")
    B = np.array(cols).T
    d, *_ = np.linalg.lstsq(B, q, rcond=None)
    fit = B @ d
    rms = float(np.sqrt(np.mean((fit - q) ** 2)))
    print(f"{'atom':>5} {'element':>7} {'given':>9} {'fitted':>9}   (e)")
    for k, s in enumerate(sym):
        print(f"{k:5d} {s:>7} {q[k]:+9.5f} {fit[k]:+9.5f}")
    print(f"given total {q.sum():+.5f} e, fitted total {fit.sum():+.5f} e; rms {rms:.5f} e, "
          f"largest difference {np.abs(fit - q).max():.5f} e")
    spec = ",".join(f"{els[i]}-{els[j]}={v:.5g}" for (i, j), v in zip(pairs, d))
    print(f"increments: {spec}  (an atom of the first element gains that per bond)")
    print(f"mlff train --electrostatics {spec}")
    if a.out_charges:
        np.savetxt(a.out_charges, fit, fmt="%.8f")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"molecule": os.path.basename(a.molecule), "charges_file": a.charges,
                       "scale": a.scale, "bond_factor": a.bond_factor,
                       "increments_e": {f"{els[i]}-{els[j]}": float(v)
                                        for (i, j), v in zip(pairs, d)},
                       "given_e": q.tolist(), "fitted_e": fit.tolist(), "rms_e": rms,
                       "electrostatics": spec}, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
