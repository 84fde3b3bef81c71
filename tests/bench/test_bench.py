#!/usr/bin/env python3
"""Test of bench/bench.py and bench/run.sh (label unit; standard library, no LAMMPS run).

usage: test_bench.py REPO WORKDIR
Checks the timed-run parsing of a LAMMPS log, the structure-by-structure comparison of two
`mlff eval --predictions` files, the peak-RSS wrapper on a child that allocates 64 MB (directly
and through memwrap, as under MPI), the per-device memory slope, and that a dry run of
`bench/run.sh gpu` prints the cases (graph off, replicated boxes, FP16, accuracy) and runs
nothing.
"""
import os
import shutil
import subprocess
import sys

repo, work = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(repo, "bench"))
import bench  # noqa: E402


def fail(msg):
    print("FAILED:", msg)
    sys.exit(1)


shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)

# 1. the log: the Loop time after the marker, not the warmup's; the last thermo temperature
log = os.path.join(work, "x.log")
open(log, "w").write("""Step Temp E_pair
0 300 -1
Loop time of 9.9 on 1 procs for 20 steps with 12 atoms
MLFF_BENCH_BEGIN
Step Temp E_pair
20 290.5 -1
120 301.25 -1
Loop time of 0.5 on 1 procs for 100 steps with 12 atoms
""")
r, why = bench.parse_log(log)
if why or r["t"] != 0.5 or r["steps"] != 100 or r["atoms"] != 12 or r["temp"] != 301.25:
    fail(f"parse_log: {r} {why}")
open(log, "w").write("ERROR: pair_style mlff: cannot evaluate model (x.cpp:1)\n")
r, why = bench.parse_log(log)
if r is not None or not why.startswith("ERROR: pair_style mlff"):
    fail(f"parse_log of a failed run: {r} {why}")

# 2. predictions: energy per atom and force components, a - b
pa, pb = os.path.join(work, "a.pred"), os.path.join(work, "b.pred")
open(pa, "w").write("# header\n0 2 -1.000 0.1 0.2 0.3 0.4 0.5 0.6\n1 1 -2.0 1 1 1\n")
open(pb, "w").write("# header\n0 2 -1.002 0.1 0.2 0.3 0.4 0.5 0.7\n1 1 -2.0 1 1 1\n")
c = bench.compare(bench.read_predictions(pa), bench.read_predictions(pb))
want = {"n_structures": 2, "energy_mae_meV_per_atom": 0.5, "force_max_abs_meV_per_A": 100.0,
        "force_mae_meV_per_A": 100.0 / 9}
for k, v in want.items():
    if abs(c[k] - v) > 1e-9 * max(1, abs(v)):
        fail(f"compare: {k} = {c[k]}, expected {v}")

# 3. peak RSS of the child (64 MB touched), directly and through memwrap (per rank file)
alloc = [sys.executable, "-c", "b = bytearray(64 << 20); b[::4096] = b'x' * len(b[::4096])"]
rc, wall, rss, dev, src, err = bench.run_measured(alloc, dict(os.environ), None, False)
if rc != 0 or not rss or rss < 64 * 1024:
    fail(f"run_measured: rc {rc}, peak RSS {rss} kB (expected >= 65536)")
mf = os.path.join(work, "m.rss")
cmd = [sys.executable, os.path.join(repo, "bench", "bench.py"), "memwrap", mf, "--"] + alloc
rc, wall, rss, dev, src, err = bench.run_measured(cmd, dict(os.environ, OMPI_COMM_WORLD_RANK="1"),
                                                  mf, False)
if rc != 0 or not os.path.exists(mf + ".1") or not rss or rss < 64 * 1024:
    fail(f"memwrap: rc {rc}, files {os.listdir(work)}, summed RSS {rss} kB {err}")

# 4. bytes per atom from the smallest and the largest box of one device and precision
cases = {"liquid768_gpu_fp32": {"device": "gpu", "fp16": False, "mpi_ranks": 1, "threads": 1,
                                "graph": True, "atoms": 1000, "us_per_step": 1,
                                "peak_device_mem_mb": 500.0},
         "liquid9_gpu_fp32": {"device": "gpu", "fp16": False, "mpi_ranks": 1, "threads": 1,
                              "graph": True, "atoms": 101000, "us_per_step": 1,
                              "peak_device_mem_mb": 700.0}}
m = bench.memory_summary(cases)
if m.get("gpu_fp32_device_bytes_per_atom_marginal") != 2000:
    fail(f"memory_summary: {m}")

# 5. dry run of the gpu mode: the commands, nothing run
env = dict(os.environ, MLFF_BENCH_DRY="1", MLFF_BENCH_REPEATS="1",
           MLFF_BENCH_WORK=os.path.join(work, "dry"), MLFF_BENCH_RESULTS=os.path.join(work, "res"))
p = subprocess.run(["bash", os.path.join(repo, "bench", "run.sh"), "gpu"], env=env,
                   capture_output=True, text=True)
out = p.stdout
if p.returncode != 0:
    fail(f"run.sh gpu dry run exited {p.returncode}: {p.stderr}")
lmp_lines = [l for l in out.splitlines() if "/lmp " in l]
checks = [("25 LAMMPS runs", len(lmp_lines) == 25),
          ("resident step off", any("MLFF_GPU_RESIDENT=0" in l and "benzene_gpu_fp32_graph" in l
                                    for l in lmp_lines)),
          ("host threads", any(l.startswith("OMP_NUM_THREADS=8 ") and "liquid49152_gpu_fp32_t8"
                               in l for l in lmp_lines)),
          ("graph off", any("MLFF_GPU_GRAPH=0" in l and "liquid49152_gpu_fp16_nograph" in l
                            for l in lmp_lines)),
          ("replicate 3 3 3", any("-var replicate '3 3 3'" in l for l in lmp_lines)),
          ("fp16", any("-var fp16 yes" in l and "benzene16_gpu_fp16" in l for l in lmp_lines)),
          ("host CPU benzene", any("-var device cpu" in l for l in lmp_lines)),
          ("accuracy fp16", "--device gpu --fp16 yes" in out and "--predictions" in out),
          ("nothing written", not os.path.exists(os.path.join(work, "res")) or
           not os.listdir(os.path.join(work, "res")))]
for what, ok in checks:
    if not ok:
        fail(f"dry run: {what}:\n{out}")
print("bench: ok")
