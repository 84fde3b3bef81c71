#!/usr/bin/env python3
"""scaling.py — multi-GPU scaling of pair_style mlff (issue 7), run by bench/scaling.sh.

Liquid benzene (the 49,152-atom box, replicated by LAMMPS) under mpiexec, one rank per GPU
(pair_style mlff binds each rank to GPU local-rank mod count):
  weak    ~10^6 atoms per GPU (20 copies of the box per GPU), 1, 2, 4, 8 GPUs;
  strong  one 1,966,080-atom box (40 copies) on 1, 2, 4, 8 GPUs;
  shared  1, 2, 4 ranks on one GPU (the weak box of one GPU), as a machine with one GPU runs it.
GPU counts above what the machine has are listed under "not_run" with the reason. Parallel
efficiency: weak t1 / tN, strong t1 / (N tN), shared t1 / tN (time per step from LAMMPS's Loop
time of the timed run, parsed by bench.py's parse_log).

usage: scaling.py --lmp LMP --plugin SO --model H5 --data liquid49152.data --mpiexec MPIEXEC
                  --work DIR --out JSON [--gpus N] [--steps N] [--warmup N] [--in bench/in.bench]
"""
import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (parse_log, machine_info, sha256: one parser for LAMMPS logs)

GPU_COUNTS = (1, 2, 4, 8)
WEAK = {1: "5 2 2", 2: "5 4 2", 4: "5 4 4", 8: "10 4 4"}  # 20 copies of the box per GPU
STRONG = "5 4 2"                                            # 40 copies: 1,966,080 atoms
SHARED_RANKS = (1, 2, 4)


def copies(rep):
    n = 1
    for f in rep.split():
        n *= int(f)
    return n


def run_one(a, name, ranks, rep, env_extra=None):
    log = os.path.join(a.work, f"{name}.log")
    if os.path.exists(log):
        os.remove(log)
    cmd = [a.mpiexec, "-n", str(ranks), a.lmp, "-nocite", "-log", log, "-screen", "none",
           "-var", "plugin", a.plugin, "-var", "model", a.model, "-var", "data", a.data,
           "-var", "device", "gpu", "-var", "fp16", "no", "-var", "steps", str(a.steps),
           "-var", "warmup", str(a.warmup), "-var", "replicate", rep, "-in", a.input]
    env = dict(os.environ, OMP_NUM_THREADS="1", **(env_extra or {}))
    t0 = time.time()
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    res, why = bench.parse_log(log)
    row = {"name": name, "mpi_ranks": ranks, "replicate": rep, "wall_s": round(time.time() - t0, 1)}
    if p.returncode != 0 or res is None:
        row["error"] = (why or f"exit status {p.returncode}") + ": " + p.stdout.strip()[-400:]
        bench.say(f"{name}: FAILED {row['error']}")
        return row
    us = 1e6 * res["t"] / res["steps"]
    row.update(atoms=res["atoms"], steps=res["steps"], us_per_step=round(us, 1),
               atom_steps_per_s=res["atoms"] * res["steps"] / res["t"])
    bench.say(f"{name}: {ranks} rank(s), {res['atoms']} atoms, {us / 1e3:.2f} ms/step, "
              f"{row['atom_steps_per_s']:.3g} atom-steps/s")
    return row


def efficiency(rows, strong):
    base = next((r for r in rows if r.get("us_per_step") and r["gpus"] == 1
                 and r["mpi_ranks"] == 1), None)
    for r in rows:
        if base and r.get("us_per_step"):
            n = r["gpus"] if strong else 1
            r["efficiency"] = round(base["us_per_step"] / (n * r["us_per_step"]), 3)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for k in ("lmp", "plugin", "model", "data", "mpiexec", "work", "out"):
        ap.add_argument("--" + k, required=True)
    ap.add_argument("--in", dest="input", default=os.path.join(os.path.dirname(__file__),
                                                               "in.bench"))
    ap.add_argument("--gpus", type=int, default=0, help="GPUs to use (default: all visible)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    smi = bench.nvidia_smi("name")
    visible = len(smi.splitlines()) if smi else 0
    n_gpu = min(a.gpus, visible) if a.gpus > 0 else visible
    if n_gpu < 1:
        sys.exit("scaling.py: no GPU visible (nvidia-smi lists none)")
    out = {"kind": "scaling", "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
           "machine": bench.machine_info("gpu"), "gpus_visible": visible, "gpus_used": n_gpu,
           "model": os.path.basename(a.model), "model_sha256": bench.sha256(a.model),
           "base_box": os.path.basename(a.data), "steps": a.steps, "warmup": a.warmup,
           "fp16": False, "threads_per_rank": 1,
           "weak": [], "strong": [], "shared": [], "not_run": []}
    for g in GPU_COUNTS:
        if g > n_gpu:
            out["not_run"].append({"gpus": g, "why": f"this machine has {visible} GPU(s)"})
            continue
        r = run_one(a, f"weak_{g}gpu", g, WEAK[g])
        r["gpus"] = g
        out["weak"].append(r)
        r = run_one(a, f"strong_{g}gpu", g, STRONG)
        r["gpus"] = g
        out["strong"].append(r)
    for ranks in SHARED_RANKS:
        r = run_one(a, f"shared_{ranks}ranks", ranks, WEAK[1], {"CUDA_VISIBLE_DEVICES": "0"})
        r["gpus"] = 1
        out["shared"].append(r)
    efficiency(out["weak"], False)
    efficiency(out["strong"], True)
    efficiency(out["shared"], False)
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
    bench.say(f"wrote {a.out}")


if __name__ == "__main__":
    main()
