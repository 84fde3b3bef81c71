#!/usr/bin/env python3
"""test_compare_models.py SOURCE_DIR WORKDIR — scripts/compare_models.py: the shipped model
against a copy of itself (the same; 0), against a copy whose `created` differs (the same, the
metadata listed apart; 0), against a copy with one weight changed (not the same, the dataset
named; 1) and with its electrostatics' charges changed (not the same, the attribute named; 1).
(77 without numpy or h5py)"""
import json
import os
import shutil
import subprocess
import sys

try:
    import h5py  # noqa: F401
    import numpy as np  # noqa: F401
except ImportError:
    print("numpy or h5py not importable: skipped")
    sys.exit(77)


def fail(msg, out=""):
    print("FAILED:", msg, "\n" + out[-3000:])
    sys.exit(1)


SRC, WORK = sys.argv[1], sys.argv[2]
TOOL = os.path.join(SRC, "scripts", "compare_models.py")
model = os.path.join(SRC, "models", "benzene-gfn2.h5")
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)


def compare(path, rc, *needles):
    js = os.path.join(WORK, "out.json")
    p = subprocess.run([sys.executable, TOOL, model, path, "--json", js], capture_output=True,
                       text=True)
    out = p.stdout + p.stderr
    print(out.strip())
    if p.returncode != rc:
        fail("exit %d, expected %d" % (p.returncode, rc), out)
    for n in needles:
        if n not in out:
            fail("output lacks %r" % n, out)
    return json.load(open(js))


copy = os.path.join(WORK, "copy.h5")
shutil.copy(model, copy)
d = compare(copy, 0, "the same model", "run metadata that differs: none")
if not d["identical"] or d["datasets"] < 10:
    fail("record %s" % d)
with h5py.File(copy, "a") as f:
    f.attrs["created"] = "2000-01-01T00:00:00Z"
compare(copy, 0, "the same model", "run metadata that differs: /:created")
with h5py.File(copy, "a") as f:
    w = f["networks/H/layer_1/W"]
    v = w[()]
    v.flat[7] = np.nextafter(v.flat[7], v.dtype.type(np.inf))  # one ulp of its own type
    w[...] = v
compare(copy, 1, "NOT the same model", "1 differ (networks/H/layer_1/W)")
shutil.copy(model, copy)
with h5py.File(copy, "a") as f:
    f["electrostatics"].attrs["charges"] = f["electrostatics"].attrs["charges"] * 2
compare(copy, 1, "NOT the same model", "attributes that differ: electrostatics:charges")
print("PASSED")
