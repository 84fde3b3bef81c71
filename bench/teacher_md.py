#!/usr/bin/python3
"""teacher_md.py — does the teacher itself keep a molecule or cluster together? (issue 23)
The NVE check's "molecule intact" criterion (scripts/check_nve.py: the largest distance of an atom
from the centre of mass grows by at most --max-stretch Å) was written for a covalent molecule; a
student of a hydrogen-bonded cluster that fails it may only be doing what its teacher does. This
runs the teacher's own MD (the `xtb` program, GFN2-xTB, `--md` with its Berendsen thermostat at
TEMP, SHAKE off, hydrogen mass 1, a frame every DUMP fs) and applies the same criterion to it.

usage: teacher_md.py MOL.xyz --json OUT.json [--temp 300] [--ps 100] [--step 0.5] [--dump 50]
                     [--max-stretch 1.0] [--xtb xtb] [--work DIR] [--trj XTB.trj]
--trj judges a trajectory already written (xtb.trj of an earlier run) without running xtb.
Exit 0 whether or not the cluster stays together (the JSON says); 2 on bad input.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from validate_data import masses_of, norm_element, read_xyz  # noqa: E402


def die(msg):
    print(f"teacher_md.py: {msg}", file=sys.stderr)
    sys.exit(2)


def frames(path):
    """(elements, positions) of each frame of an XYZ trajectory."""
    lines, i = open(path).read().split("\n"), 0
    while i < len(lines) and lines[i].strip():
        n = int(lines[i])
        rows = [ln.split() for ln in lines[i + 2:i + 2 + n]]
        if len(rows) != n or any(len(r) < 4 for r in rows):
            die(f"{path}: frame at line {i + 1} is cut short")
        yield [r[0] for r in rows], [tuple(float(v) for v in r[1:4]) for r in rows]
        i += n + 2


def rmax(el, x):
    """largest distance of an atom from the centre of mass, Å"""
    w = masses_of([norm_element(e) for e in el])
    c = [sum(wi * p[k] for wi, p in zip(w, x)) / sum(w) for k in range(3)]
    return max(math.dist(p, c) for p in x)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("xyz")
    ap.add_argument("--json", required=True)
    ap.add_argument("--temp", type=float, default=300.0)
    ap.add_argument("--ps", type=float, default=100.0)
    ap.add_argument("--step", type=float, default=0.5, help="fs")
    ap.add_argument("--dump", type=float, default=50.0, help="fs between frames")
    ap.add_argument("--max-stretch", type=float, default=1.0, help="Å, as check_nve.py's")
    ap.add_argument("--xtb", default="xtb")
    ap.add_argument("--work")
    ap.add_argument("--trj", help="an xtb.trj to judge instead of running xtb")
    a = ap.parse_args()
    if not os.path.isfile(a.xyz):
        die(f"no molecule file {a.xyz}")
    el0, x0 = read_xyz(a.xyz)
    trj = a.trj
    if trj is None:
        work = a.work or tempfile.mkdtemp(prefix="teacher_md-")
        os.makedirs(work, exist_ok=True)
        with open(os.path.join(work, "md.inp"), "w") as f:
            f.write(f"$md\n   temp={a.temp}\n   time={a.ps}\n   dump={a.dump}\n   step={a.step}\n"
                    "   shake=0\n   hmass=1\n   nvt=true\n$end\n")
        with open(os.path.join(work, "md.out"), "w") as out:
            p = subprocess.run([a.xtb, os.path.abspath(a.xyz), "--gfn", "2", "--md", "--input",
                                "md.inp"], cwd=work, stdout=out, stderr=subprocess.STDOUT)
        trj = os.path.join(work, "xtb.trj")
        if p.returncode or not os.path.isfile(trj):
            die(f"xtb --md failed (exit {p.returncode}): see {work}/md.out")
    elif not os.path.isfile(trj):
        die(f"no trajectory {trj}")
    series = [rmax(el, x) for el, x in frames(trj)]
    if not series:
        die(f"{trj}: no frames")
    start = rmax(el0, x0)
    worst = max(series)
    dt = a.dump / 1000.0
    out = {"source": "bench/teacher_md.py (issue 23)", "molecule": os.path.basename(a.xyz),
           "teacher": "GFN2-xTB (xtb --md, Berendsen NVT)", "temp_K": a.temp,
           "frames": len(series), "frame_ps": dt, "rmax_start_A": start,
           "rmax_max_A": worst, "rmax_max_at_ps": series.index(worst) * dt,
           "rmax_end_A": series[-1], "max_stretch_A": a.max_stretch,
           "intact": worst <= start + a.max_stretch,
           "rmax_per_frame_A": [round(r, 4) for r in series]}
    json.dump(out, open(a.json, "w"), indent=1)
    print(f"{out['molecule']}: {len(series)} frames ({len(series) * dt:.1f} ps) of the teacher's MD "
          f"at {a.temp:g} K: largest atom-centre distance {start:.2f} Å at the start, at most "
          f"{worst:.2f} at {out['rmax_max_at_ps']:.2f} ps, {series[-1]:.2f} at the end: "
          f"{'intact' if out['intact'] else 'NOT intact'} by check_nve.py's criterion "
          f"(+{a.max_stretch:g} Å)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
