#!/usr/bin/env python3
"""stages.py — where a large GPU step's time goes, as JSON (read by bench/report.py).

Reads, per case, a LAMMPS log of a timed run (its "MPI task timing breakdown": Pair, Comm,
Modify, ... per step) and the stderr of a run of the same input with MLFF_GPU_PROFILE=1 (the
GPU path's stage times, and the host's share of each call). The profiled steps run without the
CUDA graph and with an event after each stage, so their stages add up to more than a step of the
timed run; they show the split, the timed run the total. Stage times are medians over the steps
on the kept neighbour list (the steps between LAMMPS's rebuilds); rebuild steps are counted.

  stages.py --out FILE [--gpu NAME] CASE=TIMED_LOG:PROFILE_STDERR ...
"""
import argparse
import datetime
import json
import re
import statistics
import sys

PROFILE = re.compile(r"mlff gpu profile \((\d+) local, (\d+) total atoms, ([^)]*)\): (.*)")
HOST = re.compile(r"mlff gpu host \((\d+) total atoms\): bounding box and staging ([\d.]+) us "
                  r"\(box ([\d.]+), buffers ([\d.]+)\); step \(launch to results\) ([\d.]+) us; "
                  r"adding results ([\d.]+) us")
STAGE = re.compile(r"\s*([^;]+?) ([\d.]+) us")
KEPT = "kept neighbours refined"


def lammps_breakdown(path):
    """Loop time, steps, atoms and the sections of the last timed run in a LAMMPS log."""
    lines = open(path).read().splitlines()
    starts = [k for k, l in enumerate(lines) if l.startswith("Loop time of")]
    if not starts:
        raise SystemExit(f"stages.py: {path}: no 'Loop time' line (did the run finish?)")
    k = starts[-1]
    m = re.match(r"Loop time of ([\d.eE+-]+) on \d+ procs for (\d+) steps with (\d+) atoms", lines[k])
    if not m:
        raise SystemExit(f"stages.py: {path}: cannot read '{lines[k]}'")
    loop, steps, atoms = float(m.group(1)), int(m.group(2)), int(m.group(3))
    sections = {}
    for l in lines[k + 1:k + 20]:
        f = [x.strip() for x in l.split("|")]
        if len(f) >= 3 and f[0] in ("Pair", "Neigh", "Comm", "Output", "Modify", "Other"):
            avg = f[2] if f[0] != "Other" else f[2] or f[1]
            try:
                sections[f[0]] = round(1e3 * float(avg) / steps, 4)
            except ValueError:
                pass
    return {"loop_ms_per_step": round(1e3 * loop / steps, 4), "steps": steps, "atoms": atoms,
            "lammps_ms_per_step": sections}


def profile_stages(path):
    """Median stage times (us) over kept-list steps, the host's share, and the step counts."""
    kept, host, n_rebuild, atoms = [], [], 0, None
    current = None
    for l in open(path, errors="replace"):
        m = PROFILE.search(l)
        if m:
            atoms = (int(m.group(1)), int(m.group(2)))
            stages = {s.group(1).strip(): float(s.group(2)) for s in STAGE.finditer(m.group(4))}
            current = stages if KEPT in stages else None
            if current is not None:
                kept.append(stages)
            else:
                n_rebuild += 1
            continue
        m = HOST.search(l)
        if m and current is not None:
            host.append({"staging": float(m.group(2)), "step (launch to results)": float(m.group(5)),
                         "adding results": float(m.group(6))})
            current = None
    if not kept:
        raise SystemExit(f"stages.py: {path}: no profiled step on the kept neighbour list "
                         "(MLFF_GPU_PROFILE=1 on a box above 4,096 atoms with a neighbour skin)")
    names = list(kept[-1])
    med = {n: round(statistics.median(s[n] for s in kept if n in s), 2) for n in names}
    hmed = {n: round(statistics.median(h[n] for h in host), 2) for n in host[0]} if host else {}
    return {"local_atoms": atoms[0], "total_atoms": atoms[1], "steps_profiled": len(kept),
            "rebuild_steps": n_rebuild, "gpu_stages_us": med, "host_us": hmed}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--gpu", default="")
    ap.add_argument("cases", nargs="+", metavar="CASE=TIMED_LOG:PROFILE_STDERR")
    a = ap.parse_args(argv)
    out = {"kind": "stages", "date": datetime.date.today().isoformat(),
           "machine": {"gpu": a.gpu},
           "source": "bench/stages.py: LAMMPS timing breakdown of the timed run; MLFF_GPU_PROFILE "
                     "stage times of a run of the same input (no graph, an event per stage), "
                     "medians over kept-list steps",
           "cases": {}}
    for c in a.cases:
        name, sep, rest = c.partition("=")
        timed, sep2, prof = rest.partition(":")
        if not sep or not sep2:
            raise SystemExit(f"stages.py: '{c}': expected CASE=TIMED_LOG:PROFILE_STDERR")
        case = lammps_breakdown(timed)
        case.update(profile_stages(prof))
        out["cases"][name] = case
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
