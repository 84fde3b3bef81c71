#!/usr/bin/python3
"""check_h5py.py FILE — FILE (written by `mlff import` from data/h5py_dataset.h5, whose splits are
the N-1 interior offsets mlff <= 0.1 wrote) reads with h5py in the PyTorch pipeline's layout (N+1
splits) and holds the fixture's values."""
import sys

import h5py
import numpy as np

with h5py.File(sys.argv[1], "r") as f:
    s, l = f["structures"], f["labels"]
    Z = s["atomic_numbers"][()]
    assert Z.dtype.kind == "i" and Z.shape == (10,), Z
    assert list(Z) == [8, 1, 1, 6, 1, 1, 1, 1, 1, 1], Z
    assert s["positions"].shape == (10, 3) and s["positions"].dtype == np.float64
    assert s["cells"].shape == (3, 3, 3)
    assert s["pbc"].dtype == np.bool_, s["pbc"].dtype
    assert s["pbc"][()].tolist() == [[False] * 3, [False] * 3, [True, True, False]]
    # N+1 cumulative offsets from 0, the pipeline's form: structure k is splits[k]:splits[k+1]
    splits = s["atomic_numbers_splits"][()]
    assert splits.dtype.kind == "i", splits.dtype
    assert splits.tolist() == [0, 3, 8, 10] and l["forces_splits"][()].tolist() == [0, 3, 8, 10]
    forces = l["forces"][()]
    parts = [forces[splits[k]:splits[k + 1]] for k in range(len(splits) - 1)]
    assert [p.shape[0] for p in parts] == [3, 5, 2]
    assert parts[1][2].tolist() == [-0.75, 0.0, 0.75], parts[1]
    assert l["energy"][()].tolist() == [-2079.25, -1104.25, -31.5]
    assert s["cells"][2].tolist() == [[5, 0, 0], [0, 6, 0], [0.5, 0, 7]]
    src = [x.decode() if isinstance(x, bytes) else x for x in l["source"][()]]
    assert src == ["fixture"] * 3, src
    attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in l.attrs.items()}
    assert attrs["units"] == "eV, Angstrom" and attrs["teacher"] == "h5py fixture", attrs
print("h5py reads mlff's dataset: ok")
