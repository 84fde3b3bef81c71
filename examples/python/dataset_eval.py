#!/usr/bin/env python3
"""dataset_eval.py — read a dataset file with mlff.read_dataset, evaluate a model on every
structure with mlff.Calculator and print the energy and force mean absolute errors (the
numbers `mlff eval MODEL DATA` gives, here in a few lines of Python).

    python3 examples/python/dataset_eval.py [--data DATA.h5] [--model MODEL.h5]

Without --data it first writes a small demo file (dataset_eval_demo.h5, in the current
folder) with mlff.write_dataset: 8 distorted benzenes labelled by tests/reference/golden-model.h5
(the model shipped before, without dispersion) standing in for a teacher, so the errors printed
are those of models/benzene-gfn2.h5 against another student, not against GFN2-xTB. Needs numpy,
h5py and ASE.
"""
import argparse
import os
import time

import numpy as np
from ase import Atoms
from ase.io import read

import mlff

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ap = argparse.ArgumentParser(description=__doc__,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--data", help="dataset file (default: write a demo file)")
ap.add_argument("--model", default=os.path.join(REPO, "models", "benzene-gfn2.h5"))
ap.add_argument("--device", default="cpu", choices=["cpu", "gpu", "auto"])
args = ap.parse_args()

if args.data is None:
    args.data = "dataset_eval_demo.h5"
    teacher = mlff.Calculator(os.path.join(REPO, "tests", "reference", "golden-model.h5"),
                              device="cpu")
    benzene = read(os.path.join(REPO, "models", "benzene.xyz"))
    rng = np.random.default_rng(0)
    frames = []
    for k in range(8):
        a = benzene.copy()
        a.positions += rng.normal(0.0, 0.05, a.positions.shape)
        a.calc = teacher
        frames.append(dict(numbers=a.numbers, positions=a.positions, cell=None,
                           pbc=[False] * 3, energy=a.get_potential_energy(),
                           forces=a.get_forces(), source="md300"))
    mlff.write_dataset(args.data, frames, teacher="golden-model.h5 (demo)")
    print("wrote %d structures to %s" % (len(frames), args.data))

t0 = time.perf_counter()
ds = mlff.read_dataset(args.data)
print("%s: %d structures, teacher %r" % (args.data, len(ds), ds.attrs.get("teacher")))
calc = mlff.Calculator(args.model, device=args.device)
de, df, n_atoms = [], [], 0
for s in ds:
    atoms = Atoms(numbers=s["numbers"], positions=s["positions"],
                  cell=s["cell"] if s["cell"] is not None else None, pbc=s["pbc"])
    atoms.calc = calc
    de.append(atoms.get_potential_energy() - s["energy"])
    df.append((atoms.get_forces() - s["forces"]).ravel())
    n_atoms += len(atoms)
de, df = np.array(de), np.concatenate(df)
print("model %s on %d structures (%d atoms), %.2f s" % (os.path.basename(args.model), len(ds),
                                                        n_atoms, time.perf_counter() - t0))
print("energy MAE %.4f eV (%.2f meV/atom), mean signed %.4f eV"
      % (np.abs(de).mean(), 1000 * np.abs(de).sum() / n_atoms, de.mean()))
print("force  MAE %.4f eV/A, RMSE %.4f eV/A, max %.4f eV/A"
      % (np.abs(df).mean(), np.sqrt((df ** 2).mean()), np.abs(df).max()))
