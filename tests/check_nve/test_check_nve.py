#!/usr/bin/env python3
"""Unit tests of scripts/check_nve.py on synthetic LAMMPS logs with known properties.

usage: test_check_nve.py CHECKER WORKDIR CASE
CASE is one of the names in CASES below; each writes its own log and asserts on the checker's
exit code, its report and its messages (not only on the failure).
"""
import json
import math
import os
import random
import re
import subprocess
import sys

N_ATOMS = 12
DOF = 3 * N_ATOMS - 6
KB = 8.617333262e-5  # eV/K
E0 = -452.3712345    # eV, the order of a benzene total energy with per-element e0 terms

HEAD = """LAMMPS (4 Feb 2025)
  using 1 OpenMP thread(s) per MPI task
units           metal
read_data       examples/lammps/benzene.data
Reading data file ...
  12 atoms
MLFF_SETUP model=models/synthetic.h5 device=cpu fp16=no temp=300.0 dt_ps=0.0005 seed=1
velocity        all create 300.0 1 mom yes rot yes dist gaussian temp thermo_temp
print           "MLFF_EQ_BEGIN steps=2000"
MLFF_EQ_BEGIN steps=2000
Per MPI rank memory allocation (min/avg/max) = 4.1 | 4.1 | 4.1 Mbytes
   Step          Time          PotEng         KinEng         TotEng          Temp          Atoms         v_rmax    
         0       0.0000000000  -452.7500000000     0.3878000000  -452.3622000000   300.0000000000    12     2.4840000000
      2000       1.0000000000  -452.7400000000     0.3700000000  -452.3700000000   286.0000000000    12     2.5000000000
Loop time of 1.5 on 1 procs for 2000 steps with 12 atoms

reset_timestep  0 time 0.0
print           "MLFF_NVE_BEGIN steps=${nve_steps} dt_ps=${dt} temp=${temp} atoms=$(atoms)"
"""

HEADER = ("   Step          Time          PotEng         KinEng         TotEng          Temp   "
          "       Atoms         v_rmax    ")

TAIL = """
Performance: 1234.5 ns/day, 0.019 hours/ns, 14285.714 timesteps/s
99.8% CPU use with 1 MPI tasks x 1 OpenMP threads

Total # of neighbors = 132
Ave neighs/atom = 11
Neighbor list builds = 0
Dangerous builds = 0
print           "MLFF_NVE_END"
MLFF_NVE_END
Total wall time: 0:00:14
"""


def make_log(path, *, temp=300.0, slope_mev_atom_ps=0.0, total_drift_pct=None, noise_mev=0.2,
             nve_ps=100.0, thermo_every=100, dt_ps=0.0005, lost_at=None, truncate_rows=None,
             no_loop=False, no_marker=False, seed=7, warning_at=None, stretch=0.0,
             rmax0=2.5):
    """Write a synthetic log. Total energy = E0 + a*t + Gaussian noise; KE oscillates around
    the equipartition value of `temp` with 3N-6 degrees of freedom; PE = E - KE."""
    rnd = random.Random(seed)
    steps = int(round(nve_ps / dt_ps))
    a = slope_mev_atom_ps * 1e-3 * N_ATOMS  # eV/ps
    if total_drift_pct is not None:
        a = total_drift_pct / 100.0 * abs(E0) / nve_ps
    ke_mean = 0.5 * DOF * KB * temp
    out = [HEAD]
    if not no_marker:
        out.append(f"MLFF_NVE_BEGIN steps={steps} dt_ps={dt_ps} temp=300.0 atoms={N_ATOMS} "
                   f"thermo_every={thermo_every}\n")
    out.append("Per MPI rank memory allocation (min/avg/max) = 4.1 | 4.1 | 4.1 Mbytes\n")
    out.append(HEADER + "\n")
    n_rows = steps // thermo_every + 1
    atoms = N_ATOMS
    for k in range(n_rows):
        if truncate_rows is not None and k >= truncate_rows:
            no_loop = True
            break
        step = k * thermo_every
        t = step * dt_ps
        et = E0 + a * t + rnd.gauss(0.0, noise_mev * 1e-3)
        ke = ke_mean * (1.0 + 0.25 * math.sin(2 * math.pi * t / 0.37)) + rnd.gauss(0, 0.01)
        pe = et - ke
        tk = 2.0 * ke / (DOF * KB)
        if lost_at is not None and k >= lost_at:
            atoms = N_ATOMS - 1
        out.append(f"{step:10d} {t:18.10f} {pe:18.10f} {ke:18.10f} {et:18.10f} {tk:18.10f} "
                   f"{atoms:10d} {rmax0 + 0.05 * math.sin(t) + stretch * t / nve_ps:18.10f}\n")
        if warning_at is not None and k == warning_at:
            out.append("WARNING: a warning line in the middle of the thermo output (src/x.cpp:1)\n")
        if lost_at is not None and k >= lost_at:
            out.append(f"ERROR: Lost atoms: original {N_ATOMS} current {atoms} "
                       "(src/thermo.cpp:494)\nLast command: run ${nve_steps}\n")
            break
    with open(path, "w") as f:
        f.writelines(out)
        if not no_loop and lost_at is None:
            f.write(f"Loop time of 14.0 on 1 procs for {steps} steps with {N_ATOMS} atoms\n")
            f.write(TAIL)


def run(checker, log, outdir, *extra):
    p = subprocess.run([sys.executable, checker, log, "--out", outdir, *extra],
                       capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def report(outdir):
    with open(os.path.join(outdir, "validation_report.txt")) as f:
        return f.read()


def expect(cond, what, *ctx):
    if not cond:
        print("FAILED:", what)
        for c in ctx:
            print("----\n" + c)
        sys.exit(1)


def line_of(text, name):
    for ln in text.splitlines():
        if name in ln and ln.strip().startswith("["):
            return ln
    return ""


def case_known_drift(checker, d):
    a = 0.004  # meV/atom/ps, well under the 0.01 limit
    log = os.path.join(d, "log.lammps")
    make_log(log, slope_mev_atom_ps=a, warning_at=5)
    rc, out, err = run(checker, log, d)
    rep = report(d)
    expect(rc == 0, f"exit code 0 (PASS) expected, got {rc}", out, err)
    expect("VERDICT: PASS" in out and "VERDICT: PASS" in rep, "PASS verdict", out)
    m = re.search(r"drift \(linear fit\): ([-+0-9.eE]+) meV/atom/ps", rep)
    expect(m is not None, "linear-fit drift line in the report", rep)
    got = float(m.group(1))
    expect(abs(got - a) < 0.0005, f"linear-fit drift {got} within 0.0005 of {a}", rep)
    # Seed-style drift: ~ a * 100 ps * 12 atoms / |E0| -> tiny, and reported in %.
    m = re.search(r"\(E_end - E_0\)/\|E_0\| = ([-+0-9.eE]+) %", rep)
    expect(m is not None, "seed drift line", rep)
    want = a * 1e-3 * N_ATOMS * 100.0 / abs(E0) * 100.0
    expect(abs(float(m.group(1)) - want) < 5e-4, f"seed drift ~{want} %", rep)
    expect("atoms:          12" in rep, "atom count parsed from the log", rep)
    expect("2001" in rep, "all 2001 rows read (warning line skipped)", rep)
    ln = line_of(rep, "molecule intact")
    expect(ln.startswith("  [PASS]") and "at start of the log 2.484 A" in ln,
           "molecule-intact check against the log's first row", rep)
    png = os.path.join(d, "nve_energies.png")
    expect(os.path.exists(png) or "matplotlib not available" in out,
           "either a PNG or the matplotlib notice", out)


def case_hot(checker, d):
    log = os.path.join(d, "log.lammps")
    make_log(log, temp=400.0)
    rc, out, err = run(checker, log, d)
    rep = report(d)
    expect(rc == 1, f"exit code 1 (FAIL) expected, got {rc}", out, err)
    expect("VERDICT: FAIL (failed: temperature)" in rep, "FAIL naming only the temperature", rep)
    ln = line_of(rep, "temperature")
    expect(ln.startswith("  [FAIL]") and "mean T = 4" in ln, "temperature line says ~400 K", rep)
    expect(line_of(rep, "drift (seed)").startswith("  [PASS]"), "drift still passes", rep)
    # With the target moved to 400 K it passes.
    rc, out, err = run(checker, log, d, "--target-temp", "400")
    expect(rc == 0, "PASS with --target-temp 400", out, err)


def case_drift_2pct(checker, d):
    log = os.path.join(d, "log.lammps")
    make_log(log, total_drift_pct=2.0)
    rc, out, err = run(checker, log, d)
    rep = report(d)
    expect(rc == 1, f"exit code 1 expected, got {rc}", out, err)
    ln = line_of(rep, "energy drift (seed)")
    expect(ln.startswith("  [FAIL]"), "seed drift marked FAIL", rep)
    m = re.search(r"= ([-+0-9.]+) %", ln)
    expect(m and abs(float(m.group(1)) - 2.0) < 0.01, "seed drift reported as ~ +2 %", rep)
    expect(line_of(rep, "temperature").startswith("  [PASS]"), "temperature passes", rep)
    expect("energy drift (seed)" in rep.split("VERDICT:")[1], "verdict names the drift", rep)


def case_small_drift_fails_fit(checker, d):
    # 0.05 % over the run passes the seed criterion but is 0.17 meV/atom/ps: the fit catches it.
    log = os.path.join(d, "log.lammps")
    make_log(log, total_drift_pct=0.05)
    rc, out, err = run(checker, log, d)
    rep = report(d)
    expect(rc == 1, f"exit code 1 expected, got {rc}", out, err)
    expect(line_of(rep, "energy drift (seed)").startswith("  [PASS]"), "seed passes", rep)
    expect(line_of(rep, "drift (linear fit)").startswith("  [FAIL]"), "fit fails", rep)
    want = 0.05 / 100 * abs(E0) / 100.0 * 1000 / N_ATOMS
    m = re.search(r"drift \(linear fit\): ([-+0-9.eE]+)", rep)
    expect(abs(float(m.group(1)) - want) < 0.002, f"fit drift ~{want:.4f}", rep)


def case_noisy(checker, d):
    log = os.path.join(d, "log.lammps")
    make_log(log, noise_mev=40.0)  # std 40 meV vs mean KE ~ 388 meV: ratio ~0.1
    rc, out, err = run(checker, log, d, "--max-slope", "1")
    rep = report(d)
    expect(rc == 1, f"exit code 1 expected, got {rc}", out, err)
    expect(line_of(rep, "energy fluctuation").startswith("  [FAIL]"), "fluctuation FAIL", rep)


def case_dissociated(checker, d):
    # A molecule that comes apart conserves energy trivially; it must not PASS.
    log = os.path.join(d, "log.lammps")
    make_log(log, stretch=5.0)
    rc, out, err = run(checker, log, d)
    rep = report(d)
    expect(rc == 1, f"exit code 1 expected, got {rc}", out, err)
    expect("VERDICT: FAIL (failed: molecule intact)" in rep, "FAIL naming only the molecule", rep)
    ln = line_of(rep, "molecule intact")
    expect("7.4" in ln and "limit +1 A" in ln, "reports the largest distance and the limit", rep)
    rc, out, err = run(checker, log, d, "--max-stretch", "6")
    expect(rc == 0, "PASS with --max-stretch 6", out, err)


def case_lost_atoms(checker, d):
    log = os.path.join(d, "log.lammps")
    make_log(log, lost_at=50)
    rc, out, err = run(checker, log, d)
    rep = report(d)
    expect(rc == 1, f"exit code 1 expected, got {rc}", out, err)
    ln = line_of(rep, "no atom lost")
    expect(ln.startswith("  [FAIL]") and "Lost atoms" in ln and "12 at start, 11 at end" in ln,
           "lost-atoms line names the counts and LAMMPS's error", rep)
    expect(line_of(rep, "NVE run complete").startswith("  [FAIL]"), "run incomplete", rep)


def case_incomplete(checker, d):
    log = os.path.join(d, "log.lammps")
    make_log(log, truncate_rows=500)
    rc, out, err = run(checker, log, d)
    rep = report(d)
    expect(rc == 1, f"exit code 1 expected, got {rc}", out, err)
    ln = line_of(rep, "NVE run complete")
    expect(ln.startswith("  [FAIL]") and "49900 of 200000 steps" in ln and "Loop time" in ln,
           "incomplete run named with its step count", rep)


def case_too_few_rows(checker, d):
    log = os.path.join(d, "log.lammps")
    make_log(log, truncate_rows=3)
    rc, out, err = run(checker, log, d)
    expect(rc == 2, f"exit code 2 expected, got {rc}", out, err)
    expect("too few thermo rows" in err and ": 3 (need at least 10" in err,
           "clear 'too few rows' message", err)
    expect("VERDICT: ERROR" in report(d), "report says ERROR", report(d))


def case_missing_log(checker, d):
    rc, out, err = run(checker, os.path.join(d, "no-such-log.lammps"), d)
    expect(rc == 2, f"exit code 2 expected, got {rc}", out, err)
    expect("log not found:" in err and "no-such-log.lammps" in err, "names the missing log", err)


def case_no_nve_section(checker, d):
    log = os.path.join(d, "log.lammps")
    make_log(log, no_marker=True)
    rc, out, err = run(checker, log, d)
    expect(rc == 2, f"exit code 2 expected, got {rc}", out, err)
    expect("no NVE section" in err and "MLFF_NVE_BEGIN" in err, "clear no-section message", err)


def case_empty_nve_section(checker, d):
    log = os.path.join(d, "log.lammps")
    make_log(log, truncate_rows=0)
    with open(log) as f:  # drop the thermo header too: the run never started
        text = f.read().rsplit(HEADER, 1)[0]
    with open(log, "w") as f:
        f.write(text + "ERROR: Unrecognized pair style 'mlff' (src/force.cpp:275)\n")
    rc, out, err = run(checker, log, d)
    expect(rc == 2, f"exit code 2 expected, got {rc}", out, err)
    expect("no thermo header" in err, "says the NVE run did not start", err)


def case_json(checker, d):
    # --json: every criterion value equal to the text report's (to its printed precision), the
    # same verdict and outcomes, and the series cut to at most 2000 rows, first and last kept.
    log = os.path.join(d, "log.lammps")
    make_log(log, temp=330.0, slope_mev_atom_ps=0.003, seed=11)  # 2001 rows, temperature fails
    jpath = os.path.join(d, "sub", "nve.json")
    rc, out, err = run(checker, log, d, "--json", jpath, "--no-plot")
    rep = report(d)
    expect(rc == 1, f"exit code 1 (FAIL) expected, got {rc}", out, err)
    expect(os.path.exists(jpath), "JSON written (its folder created)", out, err)
    with open(jpath) as f:
        j = json.load(f)
    expect(j["verdict"] == "FAIL" and j["failed"] == ["temperature"],
           "JSON verdict FAIL naming the temperature", json.dumps(j)[:2000])
    crit = {c["name"]: c for c in j["criteria"]}
    for name in ("energy drift (seed)", "energy drift (linear fit)", "energy fluctuation",
                 "temperature", "no atom lost", "NVE run complete", "molecule intact"):
        ln = line_of(rep, name)
        expect(name in crit, f"criterion {name!r} in the JSON", json.dumps(j["criteria"]))
        expect(ln.startswith("  [PASS]" if crit[name]["pass"] else "  [FAIL]"),
               f"{name}: same outcome in JSON and text", ln, json.dumps(crit[name]))

    def num(pattern):
        m = re.search(pattern, rep)
        expect(m is not None, f"text report matches {pattern!r}", rep)
        return float(m.group(1))

    v = j["values"]
    pairs = [
        (r"\(E_end - E_0\)/\|E_0\| = ([-+0-9.eE]+) %", v["drift_pct"], 1e-6),
        (r"drift \(linear fit\): ([-+0-9.eE]+) meV/atom/ps", v["slope_mev_atom_ps"], 1e-6),
        (r"std\(E_total\)/mean\(KE\) = ([0-9.eE+-]+)", v["std_over_ke"], 1e-6),
        (r"mean T = ([0-9.]+) K", v["T_mean"], 0.005),
        (r"E_0, E_end: +([-0-9.]+) eV", v["E0_eV"], 1e-8),
        (r"E_0, E_end: +[-0-9.]+ eV, ([-0-9.]+) eV", v["E_end_eV"], 1e-8),
        (r"largest atom distance from the centre of mass ([0-9.]+) A", v["rmax_max"], 5e-4),
    ]
    for pattern, got, tol in pairs:
        want = num(pattern)
        expect(abs(got - want) <= tol * 1.01, f"JSON {got} equals the report's {want} "
               f"({pattern})", rep)
    expect(crit["temperature"]["value"] == v["T_mean"] and
           crit["energy drift (seed)"]["value"] == v["drift_pct"], "criteria carry the values")
    expect(v["atoms_lost"] == 0 and crit["no atom lost"]["value"] == 0, "no atom lost: 0")
    expect(abs(v["T_mean"] - 330.0) < 10, f"mean T {v['T_mean']} near 330 K")
    s = j["series"]
    expect(s["n_rows"] == 2001 and s["n_kept"] == len(s["time_ps"]) <= 2000,
           f"series downsampled to <= 2000 rows (kept {s['n_kept']} of {s['n_rows']})")
    for k in ("pe", "ke", "etotal", "temp"):
        expect(len(s[k]) == len(s["time_ps"]), f"series {k} as long as time_ps")
    expect(s["time_ps"][0] == 0.0 and abs(s["time_ps"][-1] - 100.0) < 1e-9,
           "series keeps the first and the last row", str(s["time_ps"][-3:]))
    expect(abs(s["etotal"][0] - v["E0_eV"]) < 1e-12 and
           abs(s["etotal"][-1] - v["E_end_eV"]) < 1e-12,
           "series' total energy ends are E_0 and E_end")
    # A log that cannot be judged still gets a JSON with verdict ERROR.
    jbad = os.path.join(d, "bad.json")
    rc, out, err = run(checker, os.path.join(d, "no-such.log"), d, "--json", jbad)
    expect(rc == 2 and json.load(open(jbad))["verdict"] == "ERROR", "ERROR verdict in JSON",
           out, err)


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}

if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[3] not in CASES:
        sys.exit(f"usage: {sys.argv[0]} CHECKER WORKDIR CASE  (CASE: {' '.join(CASES)})")
    checker, workdir, case = sys.argv[1:]
    d = os.path.join(workdir, case)
    os.makedirs(d, exist_ok=True)
    CASES[case](checker, d)
    print(f"check_nve {case}: ok")
