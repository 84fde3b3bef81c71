#!/usr/bin/python3
"""check_pipeline.py IN.h5 OUT.h5 TAG — OUT (written by `mlff import IN OUT`, IN from
data/make_pipeline_fixture.py) holds IN's structures and labels as the PyTorch pipeline's loader
reads them: N+1 splits from 0, the same values (float32 widened exactly to float64), the
optional stress, stress_mask and structure_indices as they were, eV and A, tags TAG."""
import sys

import h5py
import numpy as np


def load(path):
    """The pipeline's loader: per-structure arrays cut at splits[k]:splits[k+1]."""
    with h5py.File(path, "r") as f:
        s, l = f["structures"], f["labels"]
        splits = s["atomic_numbers_splits"][()]
        n = l["energy"].shape[0]
        assert splits.shape == (n + 1,) and splits[0] == 0, (path, splits)
        assert splits[-1] == s["atomic_numbers"].shape[0], (path, splits)
        assert np.array_equal(l["forces_splits"][()], splits), path
        cut = lambda a: [a[splits[k]:splits[k + 1]] for k in range(n)]
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in l.attrs.items()}
        d = {"Z": cut(s["atomic_numbers"][()]), "pos": cut(s["positions"][()]),
             "forces": cut(l["forces"][()]), "energy": l["energy"][()],
             "cells": s["cells"][()].reshape(n, 3, 3), "pbc": s["pbc"][()].astype(bool),
             "stress": l["stress"][()], "mask": l["stress_mask"][()],
             "sidx": l["structure_indices"][()], "attrs": attrs,
             "dtypes": {k: l[k].dtype for k in ("stress", "stress_mask", "structure_indices")}}
        if "source" in l:
            d["source"] = [x.decode() if isinstance(x, bytes) else x for x in l["source"][()]]
        return d


a, b = load(sys.argv[1]), load(sys.argv[2])
n = len(a["energy"])
assert len(b["energy"]) == n == 24
for k in range(n):
    assert np.array_equal(a["Z"][k], b["Z"][k]), k
    assert np.array_equal(a["pos"][k].astype(np.float64), b["pos"][k]), k
    assert np.array_equal(a["forces"][k].astype(np.float64), b["forces"][k]), k
assert np.array_equal(a["energy"].astype(np.float64), b["energy"])
assert np.array_equal(a["cells"].astype(np.float64), b["cells"])
assert np.array_equal(a["pbc"], b["pbc"])
# NaN where the mask says no stress label: compared as NaN
assert np.array_equal(a["stress"].astype(np.float64), b["stress"], equal_nan=True)
assert a["mask"].dtype == np.bool_ and b["dtypes"]["stress_mask"] == np.bool_
assert np.array_equal(a["mask"], b["mask"]) and a["mask"].sum() == 8
assert np.array_equal(a["sidx"], b["sidx"]) and b["dtypes"]["structure_indices"].kind == "i"
assert b["attrs"]["units"] == "eV, Angstrom", b["attrs"]
assert b["attrs"]["teacher"] == a["attrs"]["teacher"], b["attrs"]
assert b["source"] == [sys.argv[3]] * n, b["source"][:3]
print("check_pipeline: %s holds %s's %d structures, stresses and indices: ok"
      % (sys.argv[2], sys.argv[1], n))
