#!/usr/bin/python3
"""collect.py CASES MODEL [NOTE] — read the LAMMPS logs listed in CASES (name threads ranks log per
line), take the "Loop time" of the timed run (after MLFF_BENCH_BEGIN) and print JSON: per case
the median over repeats of µs/step and atom-steps/s, with every raw figure kept."""
import json
import platform
import re
import statistics
import subprocess
import sys
from collections import OrderedDict
from datetime import datetime, timezone

LOOP = re.compile(r"Loop time of ([\d.eE+-]+) on (\d+) procs for (\d+) steps with (\d+) atoms")


def timed_loop(path):
    text = open(path).read()
    part = text.split("MLFF_BENCH_BEGIN", 1)
    if len(part) != 2:
        sys.exit(f"collect.py: {path}: no MLFF_BENCH_BEGIN marker (did the run fail?)")
    m = LOOP.search(part[1])
    if not m:
        sys.exit(f"collect.py: {path}: no 'Loop time' line after the marker")
    t, procs, steps, atoms = float(m[1]), int(m[2]), int(m[3]), int(m[4])
    return t, steps, atoms


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


cases = OrderedDict()
for line in open(sys.argv[1]):
    name, threads, ranks, log = line.split()
    t, steps, atoms = timed_loop(log)
    c = cases.setdefault(name, {"threads": int(threads), "mpi_ranks": int(ranks), "atoms": atoms,
                                "steps": steps, "loop_time_s": []})
    c["loop_time_s"].append(t)
for c in cases.values():
    med = statistics.median(c["loop_time_s"])
    c["us_per_step"] = round(med / c["steps"] * 1e6, 3)
    c["atom_steps_per_s"] = round(c["atoms"] * c["steps"] / med, 1)
out = {
    "machine": {"hostname": platform.node(), "cpu": cpu_model(),
                "cores": int(subprocess.run(["nproc"], capture_output=True, text=True).stdout)},
    "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    "model": sys.argv[2],
    "source": "LAMMPS 'Loop time' of the timed run, median over repeats",
    "cases": cases,
}
if len(sys.argv) > 3:
    out["note"] = sys.argv[3]
json.dump(out, sys.stdout, indent=1)
print()
