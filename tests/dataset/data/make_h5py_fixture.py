#!/usr/bin/python3
"""Write h5py_dataset.h5: a dataset written with h5py (numpy defaults: int64 atomic numbers,
float64 arrays, bool pbc, an int32 and an int64 split array, variable-length string attributes,
no chunking, no /labels/source) with the splits mlff <= 0.1 took for the PyTorch pipeline's: the
N-1 interior numpy.split offsets. The pipeline writes N+1 cumulative offsets from 0
(make_pipeline_fixture.py writes such a file at test time); this committed file stays as it is,
the old form that readers still accept. test_dataset.c loads it and checks every value against
the numbers below. Run with Debian's python3 (python3-h5py)."""
import sys

import h5py
import numpy as np

structures = [
    # (atomic numbers, positions, cell or None, pbc, energy, forces scale)
    ([8, 1, 1], [[0.0, 0.0, 0.1173], [0.0, 0.7572, -0.4692], [0.0, -0.7572, -0.4692]],
     None, [False, False, False], -2079.25, 0.5),
    ([6, 1, 1, 1, 1], [[0.0, 0.0, 0.0], [0.629, 0.629, 0.629], [-0.629, -0.629, 0.629],
                       [-0.629, 0.629, -0.629], [0.629, -0.629, -0.629]],
     None, [False, False, False], -1104.25, 0.25),
    ([1, 1], [[0.0, 0.0, 0.0], [0.74, 0.0, 0.0]],
     [[5.0, 0.0, 0.0], [0.0, 6.0, 0.0], [0.5, 0.0, 7.0]], [True, True, False], -31.5, 1.0),
]

Z = np.concatenate([np.array(s[0], dtype=np.int64) for s in structures])
pos = np.concatenate([np.array(s[1], dtype=np.float64) for s in structures])
cells = np.stack([np.zeros((3, 3)) if s[2] is None else np.array(s[2]) for s in structures])
pbc = np.array([s[3] for s in structures], dtype=bool)
energy = np.array([s[4] for s in structures])
# forces[a, k] = scale * (a + 1) * (k - 1): easy to check from C
forces = np.concatenate([s[5] * np.array([[(a + 1) * (k - 1) for k in range(3)]
                                           for a in range(len(s[0]))], dtype=np.float64)
                         for s in structures])
splits = np.cumsum([len(s[0]) for s in structures])[:-1]  # N-1 interior: the old form

out = sys.argv[1] if len(sys.argv) > 1 else "h5py_dataset.h5"
with h5py.File(out, "w") as f:
    s = f.create_group("structures")
    s["atomic_numbers"] = Z
    s["positions"] = pos
    s["cells"] = cells
    s["pbc"] = pbc
    s["atomic_numbers_splits"] = splits.astype(np.int32)
    l = f.create_group("labels")
    l["energy"] = energy
    l["forces"] = forces
    l["forces_splits"] = splits.astype(np.int64)
    l.attrs["teacher"] = "h5py fixture"
    l.attrs["units"] = "eV, Angstrom"
