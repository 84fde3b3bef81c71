#!/usr/bin/python3
"""make_pipeline_fixture.py OUT.h5 [VARIANT] — a dataset written the way the PyTorch pipeline's
writer writes it with h5py: N+1 cumulative splits starting at 0 (int64), float32 energies,
forces and stresses, float64 positions and cells, bool pbc, /labels/stress (N, 6) Voigt eV/A^3,
/labels/stress_mask (N,) bool, /labels/structure_indices (N,) int64, units "eV, eV/Angstrom",
no chunking and no /labels/source. 24 small H/C structures (seeded), a third of them periodic
with a stress label. VARIANT (default ok) damages or changes one thing, for the tests:
  ok, f32_geometry (positions and cells float32 too), bad_offsets_start (splits start at 1),
  bad_offsets_end (the last split is not the atom count), bad_offsets_order (not increasing),
  bad_rows (N splits: neither N+1 nor N-1), bad_units (kcal/mol), bad_units_hartree
  (Hartree and Bohr), bad_stress_shape (stress (N, 9)), bad_stress_nan (a NaN in a stress that
  the mask says is a label; NaN where it says not is fine and is in every variant).
Run with Debian's python3 (python3-h5py)."""
import sys

import h5py
import numpy as np

out = sys.argv[1]
variant = sys.argv[2] if len(sys.argv) > 2 else "ok"
rng = np.random.default_rng(22)
N = 24
Z, pos, cells, pbc, energy, forces, stress, mask = [], [], [], [], [], [], [], []
for k in range(N):
    n_c = 1 + k % 3
    z = [6] * n_c + [1] * (2 * n_c + 2)  # CH4, C2H6, C3H8 in composition
    x = np.zeros((len(z), 3))
    x[:n_c, 0] = 1.54 * np.arange(n_c)
    for i in range(n_c, len(z)):  # hydrogens about 1.09 A from a carbon
        c = (i - n_c) % n_c
        d = rng.normal(size=3)
        x[i] = x[c] + 1.09 * d / np.linalg.norm(d)
    x += rng.normal(scale=0.03, size=x.shape)
    periodic = k % 3 == 2
    Z += z
    pos.append(x + 4.0)
    cells.append(np.diag([9.0, 9.5, 10.0]) if periodic else np.zeros((3, 3)))
    pbc.append([periodic] * 3)
    energy.append(-40.1 * n_c - 13.6 * (2 * n_c + 2) * 0.05 + rng.normal(scale=0.05))
    forces.append(rng.normal(scale=0.3, size=x.shape))
    stress.append(rng.normal(scale=1e-3, size=6) if periodic else np.full(6, np.nan))
    mask.append(periodic)

counts = [len(f) for f in forces]
splits = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)  # N+1, from 0
geo = np.float32 if variant == "f32_geometry" else np.float64
stress = np.array(stress, dtype=np.float32)
if variant == "bad_offsets_start":
    splits[0] = 1
elif variant == "bad_offsets_end":
    splits[-1] -= 1
elif variant == "bad_offsets_order":
    splits[5], splits[6] = splits[6], splits[5]
elif variant == "bad_rows":
    splits = splits[:-1]
elif variant == "bad_stress_shape":
    stress = np.zeros((N, 9), dtype=np.float32)
elif variant == "bad_stress_nan":
    stress[2, 4] = np.nan
units = {"bad_units": "kcal/mol, kcal/mol/Angstrom",
         "bad_units_hartree": "Hartree, Hartree/Bohr"}.get(variant, "eV, eV/Angstrom")

with h5py.File(out, "w") as f:
    s = f.create_group("structures")
    s["atomic_numbers"] = np.array(Z, dtype=np.int64)
    s["positions"] = np.concatenate(pos).astype(geo)
    s["cells"] = np.array(cells, dtype=geo)
    s["pbc"] = np.array(pbc, dtype=bool)
    s["atomic_numbers_splits"] = splits
    l = f.create_group("labels")
    l["energy"] = np.array(energy, dtype=np.float32)
    l["forces"] = np.concatenate(forces).astype(np.float32)
    l["forces_splits"] = splits
    l["stress"] = stress
    l["stress_mask"] = np.array(mask, dtype=bool)
    l["structure_indices"] = np.arange(N, dtype=np.int64)
    l.attrs["units"] = units
    l.attrs["teacher"] = "pipeline fixture (random labels)"
