#!/usr/bin/env python3
"""A dry run of bench/device_soak.sh on the CPU with the local build (label lammps; about 30 s on
two cores): one benzene for 4,000 NVE steps after 1 ps of Langevin, 8 benzenes
(bench/make_liquid.sh 8) for 200 NVE steps after 0.1 ps, the shipped model, LAMMPS from
scripts/setup.sh and build/plugin/mlffplugin.so through MLFF_SOAK_LMP and MLFF_SOAK_PLUGIN.
Checks the JSON it writes: both runs present with exit status 0, their host memory record
(after_warmup, end, max, flat), no GPU memory sampled without nvidia-smi unless one is there,
and the benzene's NVE check: atoms kept, run complete, molecule intact (2 ps are too few for the
drift fit and the mean temperature, which the 100 ps of the real soak judge; the short liquid is
not judged here). Then bench/report.py reads the file into its soak
section.

usage: test_soak.py REPO LMP LAMMPS_LIBDIR PLUGIN WORKDIR
Exit 77 (skipped) without packmol or the shipped model.
"""
import glob
import json
import os
import shutil
import subprocess
import sys


def fail(msg, text=""):
    print("FAILED:", msg)
    if text:
        print("----\n" + text[-6000:])
    sys.exit(1)


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    repo, lmp, libdir, plugin, work = sys.argv[1:]
    if not shutil.which("packmol"):
        print("packmol not found: skipped")
        sys.exit(77)
    if not os.path.exists(os.path.join(repo, "models", "benzene-gfn2.h5")):
        print("no shipped model: skipped")
        sys.exit(77)
    shutil.rmtree(work, ignore_errors=True)
    out = os.path.join(work, "out")
    os.makedirs(out)
    data = os.path.join(work, "liquid8.data")
    p = subprocess.run(["bash", os.path.join(repo, "bench", "make_liquid.sh"), "8", data, "1"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        fail("make_liquid.sh 8 failed", p.stdout + p.stderr)
    ld = os.environ.get("LD_LIBRARY_PATH")
    env = dict(os.environ, OUT=out, MLFF_SOAK_LMP=lmp, MLFF_SOAK_PLUGIN=plugin,
               MLFF_SOAK_DEVICE="cpu", MLFF_SOAK_DATA=data, MLFF_SOAK_SANITIZER="0",
               SOAK_BENZENE_STEPS="4000", SOAK_BENZENE_EQ_PS="1", SOAK_LIQUID_STEPS="200",
               SOAK_LIQUID_EQ_PS="0.1", OMP_NUM_THREADS="1",
               LD_LIBRARY_PATH=libdir + (":" + ld if ld else ""))
    p = subprocess.run(["bash", os.path.join(repo, "bench", "device_soak.sh")], cwd=repo,
                       env=env, capture_output=True, text=True, timeout=380)
    log = p.stdout + p.stderr
    if p.returncode != 0:
        fail(f"device_soak.sh exited {p.returncode}", log)
    files = glob.glob(os.path.join(out, "*-soak.json"))
    if len(files) != 1 or not os.path.exists(os.path.join(out, "soak-logs.tar.gz")):
        fail(f"want one *-soak.json and soak-logs.tar.gz in {out}: {os.listdir(out)}", log)
    d = json.load(open(files[0]))
    runs = d.get("runs") or {}
    if d.get("device") != "cpu":
        fail(f"the file's device: {d.get('device')!r}", json.dumps(d, indent=1))
    for name in ("benzene", "liquid"):
        r = runs.get(name)
        if not isinstance(r, dict) or r.get("rc") != 0:
            fail(f"run {name}: missing or non-zero exit status", json.dumps(d, indent=1)[:6000])
        m = r.get("host_rss_mib")
        if not isinstance(m, dict) or not all(k in m for k in ("after_warmup", "end", "max")) \
                or not isinstance(m.get("flat"), bool) or not m["max"] > 0:
            fail(f"run {name}: host_rss_mib {m!r}", log)
        if shutil.which("nvidia-smi") is None and r.get("gpu_memory_mib") is not None:
            fail(f"run {name}: GPU memory without nvidia-smi: {r.get('gpu_memory_mib')!r}")
        if not isinstance(r.get("nve"), dict) or "verdict" not in r["nve"]:
            fail(f"run {name}: no NVE verdict: {r.get('nve')!r}", log)
    if runs["benzene"].get("nve_steps") != 4000 or runs["benzene"].get("atoms") != 12:
        fail(f"benzene: nve_steps {runs['benzene'].get('nve_steps')}, atoms "
             f"{runs['benzene'].get('atoms')} (want 4000, 12)")
    if runs["liquid"].get("atoms") != 96:
        fail(f"liquid: {runs['liquid'].get('atoms')} atoms, want 96")
    # 2 ps of NVE judge the run, not the physics: the drift fit and the mean temperature of 12
    # atoms need the 100 ps of the real soak (with the D4 student, 2 ps FAIL both by chance)
    nve = runs["benzene"]["nve"]
    crit = {c.get("name"): c.get("pass") for c in nve.get("criteria", [])}
    short = ("no atom lost", "NVE run complete", "molecule intact")
    if nve["verdict"] not in ("PASS", "FAIL") or not all(crit.get(k) is True for k in short):
        fail("benzene NVE check: verdict " + str(nve["verdict"]) + ", criteria " + str(crit), log)
    print("benzene, 4000 NVE steps: " + ", ".join(short) + " pass; verdict " + nve["verdict"] +
          (" (" + ", ".join(nve.get("failed") or []) + ")" if nve.get("failed") else ""))

    # the report reads it into its soak section
    results = os.path.join(work, "results")
    os.makedirs(results)
    shutil.copy(files[0], results)
    rep = os.path.join(work, "REPORT.md")
    p = subprocess.run([sys.executable, os.path.join(repo, "bench", "report.py"), "--results",
                        results, "--out", rep, "--model-eval", "", "--no-plots", "--root", work],
                       capture_output=True, text=True)
    if p.returncode != 0:
        fail("report.py on the soak file", p.stdout + p.stderr)
    text = open(rep).read()
    sec = text.split("### Soak runs", 1)[-1].split("\n### ", 1)[0]
    if not any(ln.startswith("| benzene | 12 | 4000 |") and "**" + nve["verdict"] + "**" in ln
               for ln in sec.splitlines()):
        fail("the report's soak table has no benzene row with its verdict", sec)
    print("soak dry run: ok (" + os.path.basename(files[0]) + ")")

    # one part alone (SOAK_PARTS), as a device call that has time for the liquid only: its own
    # file, named by the part, with that run and no other
    out2 = os.path.join(work, "out-liquid")
    os.makedirs(out2)
    p = subprocess.run(["bash", os.path.join(repo, "bench", "device_soak.sh")], cwd=repo,
                       env=dict(env, OUT=out2, SOAK_PARTS="liquid"), capture_output=True,
                       text=True, timeout=150)
    files2 = glob.glob(os.path.join(out2, "*-soak-liquid.json"))
    if p.returncode != 0 or len(files2) != 1:
        fail(f"SOAK_PARTS=liquid: exit {p.returncode}, files {os.listdir(out2)}", p.stdout + p.stderr)
    runs2 = json.load(open(files2[0])).get("runs") or {}
    if sorted(runs2) != ["liquid"] or runs2["liquid"].get("rc") != 0:
        fail(f"SOAK_PARTS=liquid: runs {sorted(runs2)}", json.dumps(runs2)[:3000])
    # a part that does not exist is refused before anything runs, naming it and the choices
    p = subprocess.run(["bash", os.path.join(repo, "bench", "device_soak.sh")], cwd=repo,
                       env=dict(env, OUT=os.path.join(work, "out-bad"), SOAK_PARTS="benzene gas"),
                       capture_output=True, text=True, timeout=60)
    want = "SOAK_PARTS holds 'gas'; the parts are benzene, liquid and sanitizer"
    if p.returncode != 3 or want not in p.stderr or "NVE steps" in p.stdout:
        fail(f"SOAK_PARTS='benzene gas': exit {p.returncode}, want 3 and {want!r}",
             p.stdout + p.stderr)
    print("SOAK_PARTS: liquid alone in its own file; an unknown part refused")


if __name__ == "__main__":
    main()
