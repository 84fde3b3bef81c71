#!/usr/bin/env python3
"""python_timing.py — one benzene through the Python package against the C API (issue 22).

For each device (cpu, and gpu where libmlff sees one): microseconds per `atoms.get_forces()` of
mlff.Calculator, the atoms moved slightly before every call (so ASE recomputes; the move is not
timed), and per `Evaluator.compute()` (no ASE); next to bench/capi_bench's `mlff_compute` per
call on the same molecule, device and threads (the C API's own cost). Writes JSON with the
issue's targets: Python <= 60 us per call on the GPU, and <= 2x the C API on the CPU.

  PYTHONPATH=python python3 bench/python_timing.py --out OUT.json [--capi build/bench/capi_bench]
      [--devices cpu,gpu] [--calls 5000] [--threads 1] [--model M] [--xyz X]

The library is the package's (MLFF_LIBRARY, or the build tree's: mlff.library_path() in the
JSON); capi_bench must be linked against the same build. Without ASE (the GPU machine has none
unless carried) the Calculator rows are null and say why; Evaluator and C API rows remain."""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def read_xyz(path):
    lines = open(path).read().splitlines()
    n = int(lines[0])
    rows = [l.split() for l in lines[2:2 + n]]
    return [r[0] for r in rows], np.array([[float(x) for x in r[1:4]] for r in rows])


def summary(ts):
    us = [1e6 * t for t in ts]
    return {"median": round(statistics.median(us), 2), "mean": round(statistics.fmean(us), 2),
            "min": round(min(us), 2)}


def pool_of(x0, seed=1, size=64):
    """Slightly moved copies of x0 (0.01 A, Gaussian), one per call in turn."""
    rng = np.random.default_rng(seed)
    return x0 + 0.01 * rng.standard_normal((size,) + x0.shape)


def time_calculator(mlff, args, device):
    try:
        from ase import Atoms
    except ImportError as e:
        return None, "ASE is not importable here (%s)" % e
    symbols, x0 = read_xyz(args.xyz)
    atoms = Atoms(symbols, positions=x0)
    calc = mlff.Calculator(args.model, device=device, threads=args.threads)
    atoms.calc = calc
    pool = pool_of(x0)
    for i in range(200):  # warm-up: first calls allocate; the GPU's resident step starts
        atoms.set_positions(pool[i % len(pool)])
        atoms.get_forces()
    ts = []
    for i in range(args.calls):
        atoms.set_positions(pool[i % len(pool)])
        t0 = time.perf_counter()
        atoms.get_forces()
        ts.append(time.perf_counter() - t0)
    return summary(ts), None


def time_evaluator(mlff, args, device):
    symbols, x0 = read_xyz(args.xyz)
    ev = mlff.Evaluator(args.model, device=device, threads=args.threads)
    species = ev.model.species(symbols)
    pool = pool_of(x0)
    for i in range(200):
        ev.compute(pool[i % len(pool)], species)
    ts = []
    for i in range(args.calls):
        x = pool[i % len(pool)]
        t0 = time.perf_counter()
        ev.compute(x, species)
        ts.append(time.perf_counter() - t0)
    return summary(ts)


def time_capi(args, device):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "capi.json")
        cmd = [args.capi, "benzene", args.xyz, args.model, "--device", device, "--threads",
               str(args.threads), "--steps", str(args.calls), "--json", out]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            return None, "%s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stderr.strip())
        return json.load(open(out))["mlff_compute_us"], None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="JSON file to write")
    default_capi = os.path.join(REPO, "build", "bench", "capi_bench")
    if not os.path.exists(default_capi) and os.path.exists(os.path.join(REPO, ".device", "bin", "capi_bench")):
        default_capi = os.path.join(REPO, ".device", "bin", "capi_bench")
    ap.add_argument("--capi", default=default_capi, help="bench/capi_bench of the same build")
    ap.add_argument("--devices", default=None, help="cpu,gpu (default: cpu, and gpu if visible)")
    ap.add_argument("--calls", type=int, default=5000)
    ap.add_argument("--threads", type=int, default=1, help="the calcs' CPU threads")
    ap.add_argument("--model", default=os.path.join(REPO, "models", "benzene-gfn2.h5"))
    ap.add_argument("--xyz", default=os.path.join(REPO, "models", "benzene.xyz"))
    args = ap.parse_args()
    sys.path.insert(0, os.path.join(REPO, "python"))
    import mlff
    devices = args.devices.split(",") if args.devices else ["cpu"] + (["gpu"] if mlff.gpu_count() else [])
    result = {"program": "bench/python_timing.py", "library": mlff.library_path(),
              "python": sys.version.split()[0], "numpy": np.__version__, "model": args.model,
              "molecule": args.xyz, "calls": args.calls, "threads": args.threads,
              "source": "wall time per call (time.perf_counter; the C API: bench/capi_bench "
                        "benzene), atoms moved 0.01 A before each call, untimed",
              "targets": {"gpu_python_us_max": 60.0, "cpu_python_over_capi_max": 2.0},
              "devices": {}}
    try:
        import ase
        result["ase"] = ase.__version__
    except ImportError:
        result["ase"] = None
    for device in devices:
        row = {}
        row["calculator_get_forces_us"], why = time_calculator(mlff, args, device)
        if why:
            row["calculator_note"] = why
        row["evaluator_compute_us"] = time_evaluator(mlff, args, device)
        row["capi_mlff_compute_us"], why = time_capi(args, device)
        if why:
            row["capi_note"] = why
        py = row["calculator_get_forces_us"] or row["evaluator_compute_us"]
        row["python_path_timed"] = "Calculator.get_forces" if row["calculator_get_forces_us"] else "Evaluator.compute"
        if row["capi_mlff_compute_us"]:
            row["python_over_capi"] = round(py["median"] / row["capi_mlff_compute_us"]["median"], 3)
        if device == "gpu":
            row["meets_target"] = py["median"] <= 60.0
        elif "python_over_capi" in row:
            row["meets_target"] = row["python_over_capi"] <= 2.0
        result["devices"][device] = row
        print("%s: Calculator.get_forces %s us, Evaluator.compute %s us, C API %s us (median); "
              "Python / C %s" % (device, (row["calculator_get_forces_us"] or {}).get("median"),
                                 row["evaluator_compute_us"]["median"],
                                 (row["capi_mlff_compute_us"] or {}).get("median"),
                                 row.get("python_over_capi")))
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
