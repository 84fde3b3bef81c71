#!/usr/bin/env python3
"""optimize.py — relax a distorted benzene molecule with ASE's BFGS and an mlff model, then
print the bond lengths it settles on. Runs in a second.

    python3 examples/python/optimize.py [--model M.h5] [--fmax 1e-3]
"""
import argparse
import os

import numpy as np
from ase.io import read
from ase.optimize import BFGS

import mlff

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--model", default=os.path.join(REPO, "models", "benzene-gfn2.h5"))
ap.add_argument("--device", default="cpu", choices=["cpu", "gpu", "auto"])
ap.add_argument("--fmax", type=float, default=1e-3, help="eV/Å")
args = ap.parse_args()

atoms = read(os.path.join(REPO, "models", "benzene.xyz"))
atoms.rattle(stdev=0.08, seed=7)  # distort it
atoms.calc = mlff.Calculator(args.model, device=args.device)
e0 = atoms.get_potential_energy()
print("start: E %.6f eV, max force %.3f eV/Å" % (e0, np.abs(atoms.get_forces()).max()))

opt = BFGS(atoms, logfile="-")
converged = opt.run(fmax=args.fmax, steps=500)

d = atoms.get_all_distances()
sym = np.array(atoms.get_chemical_symbols())
cc = sorted(d[i, j] for i in range(len(atoms)) for j in range(i) if sym[i] == sym[j] == "C" and d[i, j] < 1.6)
ch = sorted(d[i, j] for i in range(len(atoms)) for j in range(len(atoms)) if sym[i] == "C" and sym[j] == "H" and d[i, j] < 1.3)
print("relaxed in %d steps (%s): E %.6f eV (%.4f eV below the start)"
      % (opt.get_number_of_steps(), "converged" if converged else "NOT converged",
         atoms.get_potential_energy(), e0 - atoms.get_potential_energy()))
print("C-C bonds %.4f .. %.4f Å, C-H bonds %.4f .. %.4f Å" % (cc[0], cc[-1], ch[0], ch[-1]))
if not converged:
    raise SystemExit(1)
