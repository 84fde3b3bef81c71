#!/usr/bin/env python3
"""batch.py — evaluate many molecules in one call (Calculator.calculate_batch, over
mlff_compute_batch) and compare with one call per molecule: same numbers, fewer calls. On a
GPU (--device gpu) the whole batch is one launch sequence, which is where batching pays most.

    python3 examples/python/batch.py [--device cpu|gpu|auto] [--n 64]
"""
import argparse
import os
import time

import numpy as np
from ase.io import read

import mlff

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--model", default=os.path.join(REPO, "models", "benzene-gfn2.h5"))
ap.add_argument("--device", default="cpu", choices=["cpu", "gpu", "auto"])
ap.add_argument("--n", type=int, default=64, help="number of molecules")
args = ap.parse_args()

benzene = read(os.path.join(REPO, "models", "benzene.xyz"))
rng = np.random.default_rng(1)
images = []
for k in range(args.n):  # thermal-like distortions of benzene, and every 8th a stacked dimer
    a = benzene.copy()
    a.positions += rng.normal(0.0, 0.05, a.positions.shape)
    if k % 8 == 7:
        b = benzene.copy()
        b.positions += rng.normal(0.0, 0.05, b.positions.shape) + [0.0, 0.0, 3.5 + rng.uniform(0, 1)]
        a += b
    images.append(a)

calc = mlff.Calculator(args.model, device=args.device)
print("%d structures, %d atoms, on the %s" % (len(images), sum(map(len, images)), calc.device))

calc.calculate_batch(images[:2])  # warm-up (workspaces; on the GPU, its first launch)
t0 = time.perf_counter()
batch = calc.calculate_batch(images)
t_batch = time.perf_counter() - t0

t0 = time.perf_counter()
single = []
for a in images:
    a.calc = calc
    single.append((a.get_potential_energy(), a.get_forces()))
t_single = time.perf_counter() - t0

de = max(abs(r["energy"] - e) for r, (e, f) in zip(batch, single))
df = max(np.abs(r["forces"] - f).max() for r, (e, f) in zip(batch, single))
print("first energies (eV): " + "  ".join("%.5f" % r["energy"] for r in batch[:4]) + " ...")
print("batch vs one call each: max |dE| %.1e eV, max |dF| %.1e eV/Å" % (de, df))
print("one batched call %.2f ms; %d single calls %.2f ms (%.1fx)"
      % (1e3 * t_batch, len(images), 1e3 * t_single, t_single / t_batch))
