#!/usr/bin/env python3
"""test_committee_deviation.py SOURCE_DIR WORK COMMITTEE.h5 SINGLE.h5 DATA.h5 —
bench/committee_deviation.py (issue 23): on a committee (train.cli_committee's) and the trainer
tests' dataset, its JSON holds every structure, correlations in [-1, 1] that match those computed
here from its own per-structure rows, and the per-atom means; a single network is refused with a
message naming the file."""
import json
import os
import subprocess
import sys

import numpy as np

src, work, committee, single, data = sys.argv[1:6]
os.makedirs(work, exist_ok=True)
script = os.path.join(src, "bench", "committee_deviation.py")
out = os.path.join(work, "deviation.json")
r = subprocess.run([sys.executable, script, committee, data, "--json", out], capture_output=True,
                   text=True)
print(r.stdout, r.stderr)
fail = 0
if r.returncode != 0:
    print("FAIL: the run on a committee failed")
    sys.exit(1)
res = json.load(open(out))
rows = res["structures_detail"]
import h5py  # noqa: E402
with h5py.File(data, "r") as f:
    n = len(f["labels/energy"])
if res["structures"] != n or len(rows) != n or res["members"] < 2:
    print(f"FAIL: {res['structures']} structures, {len(rows)} rows, dataset has {n}")
    fail = 1
s = res["structure"]
dv = np.array([q["max_deviation"] for q in rows])
fr = np.array([q["force_rmse"] for q in rows])
if abs(s["pearson_max_deviation_vs_force_rmse"] - np.corrcoef(dv, fr)[0, 1]) > 1e-12:
    print("FAIL: the Pearson correlation is not its rows'")
    fail = 1
for key in ("spearman_max_deviation_vs_force_rmse", "spearman_max_deviation_vs_max_atom_error"):
    if not -1 <= s[key] <= 1:
        print(f"FAIL: {key} {s[key]}")
        fail = 1
if not (res["atom"]["deviation_mean"] > 0 and res["atom"]["error_mean"] > 0):
    print("FAIL: per-atom means")
    fail = 1
r = subprocess.run([sys.executable, script, single, data], capture_output=True, text=True)
print(r.stderr)
if r.returncode == 0 or "holds one network, not a committee" not in r.stderr or \
        os.path.basename(single) not in r.stderr:
    print("FAIL: a single network must be refused, naming the file")
    fail = 1
sys.exit(fail)
