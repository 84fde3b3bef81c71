#!/usr/bin/env python3
"""End-to-end tests of examples/lammps/in.benzene_nve with scripts/check_nve.py (label lammps).

usage: test_example.py airebo REPO LMP LAMMPS_LIBDIR POTENTIALS_DIR WORKDIR
       test_example.py plugin REPO LMP LAMMPS_LIBDIR PLUGIN_SO MLFF_TOOL WORKDIR

airebo: the example with its pair style swapped for AIREBO (a bound classical benzene from the
        same LAMMPS build), full length (10 ps + 100 ps, a few seconds): the equilibration and
        the NVE protocol must PASS every criterion. This is what keeps the input honest while no
        trained model exists.
plugin: the example as it is, through the mlff plugin, with a model of random weights made by
        `mlff init`, short (0.5 ps + 0.5 ps): the input must run to its end and the checker must
        give a verdict (PASS or FAIL; a random model is no physics), never an error. The random
        model collapses the molecule (two C 0.37 A apart at step 350), which pair_style mlff's
        close-atom guard rightly stops: here it is switched off (guard_close 0), the one change.
"""
import os
import re
import subprocess
import sys


def fail(msg, *ctx):
    print("FAILED:", msg)
    for c in ctx:
        print("----\n" + (c[-6000:] if isinstance(c, str) else str(c)))
    sys.exit(1)


def run_lmp(repo, lmp, libdir, inp, log, variables):
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = libdir + (":" + env["LD_LIBRARY_PATH"]
                                       if env.get("LD_LIBRARY_PATH") else "")
    env.setdefault("OMP_NUM_THREADS", "1")
    cmd = [lmp, "-in", inp, "-log", log, "-screen", "none"]
    for k, v in variables.items():
        cmd += ["-var", k, str(v)]
    p = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        tail = open(log).read() if os.path.exists(log) else ""
        fail(f"lmp exited {p.returncode}: {' '.join(cmd)}", p.stdout + p.stderr, tail)


def checker(repo, log, out, *extra):
    p = subprocess.run([sys.executable, os.path.join(repo, "scripts", "check_nve.py"), log,
                        "--out", out, "--no-plot", *extra], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def airebo(repo, lmp, libdir, potdir, work):
    os.makedirs(work, exist_ok=True)
    src = open(os.path.join(repo, "examples", "lammps", "in.benzene_nve")).read()
    n_sub = 0
    lines = []
    for ln in src.splitlines():
        if ln.startswith("plugin "):
            ln, n_sub = "# (plugin not needed for AIREBO)", n_sub + 1
        elif ln.startswith("pair_style "):
            ln, n_sub = "pair_style      airebo 3.0 1 1", n_sub + 1
        elif ln.startswith("pair_coeff "):
            ln, n_sub = f"pair_coeff      * * {potdir}/CH.airebo C H", n_sub + 1
        lines.append(ln)
    if n_sub != 3:
        fail("the example no longer has exactly one plugin, pair_style and pair_coeff line")
    inp = os.path.join(work, "in.benzene_nve.airebo")
    open(inp, "w").write("\n".join(lines) + "\n")
    log = os.path.join(work, "log.lammps")
    run_lmp(repo, lmp, libdir, inp, log, {"seed": 12345})
    rc, out, err = checker(repo, log, work)
    if rc != 0:
        fail(f"AIREBO benzene NVE should PASS, checker exit {rc}", out, err)
    rep = open(os.path.join(work, "validation_report.txt")).read()
    for want in ("NVE rows:       2001", "200000 of 200000 steps", "atoms:          12",
                 "NVE start:      velocities scaled", "[PASS] molecule intact"):
        if want not in rep:
            fail(f"report lacks {want!r}", rep)
    print(rep)


def plugin(repo, lmp, libdir, plugin_so, tool, work):
    os.makedirs(work, exist_ok=True)
    model = os.path.join(work, "random-benzene.h5")
    p = subprocess.run([tool, "init", model, "--elements", "C,H", "--hidden", "32,16",
                        "--seed", "3"], capture_output=True, text=True)
    if p.returncode != 0 or not os.path.exists(model):
        fail("mlff init failed", p.stdout + p.stderr)
    log = os.path.join(work, "log.lammps")
    src = open(os.path.join(repo, "examples", "lammps", "in.benzene_nve")).read()
    lines = [ln + " guard_close 0" if ln.startswith("pair_style ") else ln
             for ln in src.splitlines()]
    if sum(ln.startswith("pair_style ") for ln in lines) != 1:
        fail("the example no longer has exactly one pair_style line")
    inp = os.path.join(work, "in.benzene_nve.random")
    open(inp, "w").write("\n".join(lines) + "\n")
    run_lmp(repo, lmp, libdir, inp, log, {"model": model, "plugin": plugin_so, "eq_ps": 0.5,
                                          "nve_ps": 0.5, "thermo_every": 20, "device": "cpu",
                                          "fp16": "no"})
    text = open(log).read()
    if "MLFF_NVE_END" not in text:
        fail("the log has no MLFF_NVE_END line", text)
    rc, out, err = checker(repo, log, work, "--model-note", "UNTRAINED random model (test)")
    if rc not in (0, 1):
        fail(f"checker could not judge the log (exit {rc})", out, err)
    if not re.search(r"NVE run complete: 1000 of 1000 steps", out):
        fail("NVE run not complete", out)
    print(out)


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "airebo":
        airebo(*sys.argv[2:])
    elif len(sys.argv) == 8 and sys.argv[1] == "plugin":
        plugin(*sys.argv[2:])
    else:
        sys.exit(__doc__)
    print(f"example {sys.argv[1]}: ok")
