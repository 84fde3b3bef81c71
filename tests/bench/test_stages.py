#!/usr/bin/env python3
"""Test of bench/stages.py (label unit; standard library): a LAMMPS log and an MLFF_GPU_PROFILE
stderr written here become the stages JSON: LAMMPS sections per step, medians of the stages over
the kept-list steps only (rebuild steps counted apart), the host's share; and the errors name
what is missing.

usage: test_stages.py REPO WORKDIR
"""
import json
import os
import shutil
import subprocess
import sys

repo, work = sys.argv[1], sys.argv[2]
script = os.path.join(repo, "bench", "stages.py")


def fail(msg):
    print("FAILED:", msg)
    sys.exit(1)


shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
log = os.path.join(work, "timed.log")
with open(log, "w") as f:
    f.write("""Loop time of 0.05 on 8 procs for 10 steps with 49152 atoms (warmup)

MLFF_BENCH_BEGIN
Loop time of 0.12 on 8 procs for 100 steps with 49152 atoms

MPI task timing breakdown:
Section |  min time  |  avg time  |  max time  |%varavg| %total
---------------------------------------------------------------
Pair    | 0.077      | 0.078      | 0.079      |   0.0 | 65.00
Neigh   | 0.001      | 0.001      | 0.001      |   0.0 |  0.80
Comm    | 0.020      | 0.021      | 0.022      |   0.0 | 17.00
Output  | 0.0004     | 0.0004     | 0.0004     |   0.0 |  0.30
Modify  | 0.017      | 0.0175     | 0.018      |   0.0 | 14.00
Other   |            | 0.0015     |            |       |  1.20
""")


def step(kept, desc):
    nb = "kept neighbours refined 45.0 us" if kept else "cells+neighbours 260.0 us"
    return (f"mlff gpu profile (49152 local, 65000 total atoms, general path): positions in 48.0 us; "
            f"{nb}; descriptor forward {desc} us; network fwd+bwd 70.0 us; results out 30.0 us;\n"
            f"mlff gpu host (65000 total atoms): bounding box and staging {desc / 4} us (box 1.0, "
            f"buffers 0.0); step (launch to results) 700.0 us; adding results 40.0 us\n")


err = os.path.join(work, "profile.err")
with open(err, "w") as f:  # the rebuild step's 999 must not reach the medians
    f.write(step(False, 999.0) + step(True, 150.0) + step(True, 170.0) + step(True, 160.0))
out = os.path.join(work, "stages.json")
r = subprocess.run([sys.executable, script, "--out", out, "--gpu", "TestGPU",
                    f"liquid_fp16={log}:{err}"], capture_output=True, text=True)
if r.returncode:
    fail(f"stages.py failed: {r.stderr}")
d = json.load(open(out))
c = d["cases"]["liquid_fp16"]
if d["kind"] != "stages" or d["machine"]["gpu"] != "TestGPU":
    fail(f"kind and machine: {d}")
if c["loop_ms_per_step"] != 1.2 or c["steps"] != 100 or c["lammps_ms_per_step"]["Pair"] != 0.78 or \
        c["lammps_ms_per_step"]["Other"] != 0.015:
    fail(f"LAMMPS sections of the timed run (not the warmup's), per step: {c}")
if c["gpu_stages_us"]["descriptor forward"] != 160.0 or c["steps_profiled"] != 3 or \
        c["rebuild_steps"] != 1 or "cells+neighbours" in c["gpu_stages_us"]:
    fail(f"medians over the kept-list steps only: {c}")
if c["host_us"]["staging"] != 40.0 or c["host_us"]["adding results"] != 40.0:
    fail(f"the host's share, kept-list steps: {c['host_us']}")

with open(err, "w") as f:
    f.write(step(False, 999.0))
r = subprocess.run([sys.executable, script, "--out", out, f"x={log}:{err}"], capture_output=True,
                   text=True)
if r.returncode == 0 or "no profiled step on the kept neighbour list" not in r.stderr + r.stdout:
    fail(f"no kept-list step: a clear error: {r.stderr}")
r = subprocess.run([sys.executable, script, "--out", out, f"x={log}"], capture_output=True, text=True)
if r.returncode == 0 or "CASE=TIMED_LOG:PROFILE_STDERR" not in r.stderr + r.stdout:
    fail(f"a malformed case: a clear error: {r.stderr}")
print("stages: ok")
