#!/usr/bin/env python3
"""test_teacher_md.py SOURCE_DIR WORKDIR — bench/teacher_md.py on trajectories written here (no
xtb): a water dimer whose partner drifts 0.5 Å is intact, one that drifts 3 Å is not (check_nve.py's
+1 Å on the largest atom-centre distance), the figures in the JSON; a cut-short trajectory and a
missing molecule are refused with a message."""
import json
import os
import shutil
import subprocess
import sys

DIMER = [("O", 0.0, 0.0, 0.0), ("H", 0.96, 0.0, 0.0), ("H", -0.24, 0.93, 0.0),
         ("O", 2.9, 0.0, 0.0), ("H", 3.2, 0.9, 0.0), ("H", 3.2, -0.9, 0.0)]


def xyz(frames):
    s = ""
    for shift in frames:
        s += f"{len(DIMER)}\nframe\n"
        for k, (e, x, y, z) in enumerate(DIMER):
            s += f"{e} {x + (shift if k >= 3 else 0.0):.6f} {y:.6f} {z:.6f}\n"
    return s


def fail(msg, ctx=""):
    print("FAILED:", msg, "\n" + str(ctx)[-2000:])
    sys.exit(1)


def main():
    src, work = sys.argv[1:3]
    work = os.path.join(work, "teacher_md")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    script = os.path.join(src, "bench", "teacher_md.py")
    mol = os.path.join(work, "dimer.xyz")
    open(mol, "w").write(xyz([0.0]))

    def run(trj, *extra):
        return subprocess.run([sys.executable, script, mol, "--trj", trj, "--json",
                               os.path.join(work, "out.json"), *extra], capture_output=True,
                              text=True, timeout=60)

    for name, shifts, intact in (("near", [0.0, 0.25, 0.5, 0.3], True),
                                 ("apart", [0.0, 1.0, 3.0, 2.0], False)):
        trj = os.path.join(work, name + ".trj")
        open(trj, "w").write(xyz(shifts))
        p = run(trj, "--dump", "100")
        if p.returncode:
            fail(f"{name}: exit {p.returncode}", p.stderr)
        r = json.load(open(os.path.join(work, "out.json")))
        if r["intact"] is not intact or r["frames"] != 4 or abs(r["frame_ps"] - 0.1) > 1e-12:
            fail(f"{name}: intact {r['intact']}, frames {r['frames']}", r)
        series = r["rmax_per_frame_A"]
        if series[0] != round(r["rmax_start_A"], 4) or abs(r["rmax_max_A"] - max(series)) > 1e-4:
            fail(f"{name}: the series", r)
        if abs(r["rmax_max_at_ps"] - 0.2) > 1e-9:  # both drift farthest in their third frame
            fail(f"{name}: where the largest distance is", r)
        want = "intact by" if intact else "NOT intact by"
        if want not in p.stdout:
            fail(f"{name}: the verdict line", p.stdout)
    cut = os.path.join(work, "cut.trj")
    open(cut, "w").write(xyz([0.0, 0.1])[:-40])
    p = run(cut)
    if p.returncode != 2 or "is cut short" not in p.stderr:
        fail("a cut-short trajectory", p.stderr)
    p = subprocess.run([sys.executable, script, os.path.join(work, "none.xyz"), "--json", "x.json"],
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 2 or "no molecule file" not in p.stderr:
        fail("a missing molecule", p.stderr)
    print("PASS")


if __name__ == "__main__":
    main()
