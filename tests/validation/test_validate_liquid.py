#!/usr/bin/env python3
"""Unit tests of bench/validate_liquid.py and bench/validate_data.py on synthetic LAMMPS logs
(label unit; Python standard library only).

usage: test_validate_liquid.py REPO WORKDIR CASE
Each CASE writes its own logs in WORKDIR/CASE and asserts on the analysis's exit status, its
JSON and its printed verdict lines. The validation must be able to fail: an evaporating liquid
(the shipped benzene model's 0.88 -> 0.20 g/cm^3) is reported as not stable and outside 5 %.
"""
import json
import math
import os
import random
import subprocess
import sys

EV_KJMOL = 96.48533212
R_KJMOL = 8.314462618e-3
APM = 12  # atoms per molecule (benzene)


def fail(msg, *ctx):
    print("FAILED:", msg)
    for c in ctx:
        print("----\n" + (c[-6000:] if isinstance(c, str) else json.dumps(c, indent=1)[-6000:]))
    sys.exit(1)


def check(cond, msg, *ctx):
    if not cond:
        fail(msg, *ctx)


# ---- synthetic logs -----------------------------------------------------------------------------
def npt_log(path, density, *, nmol=64, pe_per_mol=-432.05, pe_noise=0.002, temp=300.0,
            press=1.01325, thermo_every=200, dt=0.0005, lost_at=None, complete=True,
            error=None, eq_rows=20, seed=3, rdf_file=None, msd=None, planned=None):
    """A log of in.liquid_npt: density(t) is a function of production time (ps); msd(t), when
    given, the production's c_msd[4] column (Å^2); planned, the production's planned steps when
    a walltime cut it short (more than the rows hold)."""
    rnd = random.Random(seed)
    atoms = nmol * APM
    nrows = len(density)
    prod_steps = (nrows - 1) * thermo_every
    cols = "Step Time PotEng KinEng TotEng Temp Press Volume Density Atoms"
    mass_g = nmol * 78.114 / 6.02214076e23
    out = ["LAMMPS (4 Feb 2025)", "  using 1 OpenMP thread(s) per MPI task",
           "print \"MLFF_NPT_SETUP model=models/synthetic.h5 ...\"",
           f"MLFF_NPT_SETUP model=models/synthetic.h5 data=box.data device=cpu fp16=no "
           f"images=auto temp={temp} press={press} dt_ps={dt} seed=1 tdamp_ps=0.1 pdamp_ps=1.0",
           "MLFF_ELEMENTS C H", "MLFF_RDF_PAIRS 1 1 1 2 2 2",
           # the minimisation's thermo block, which is not equilibration nor production
           f"   {cols}", f"0 0 -1 0 -1 0 0 1 0.874 {atoms}", f"10 0 -1 0 -1 0 0 1 0.874 {atoms}",
           "Loop time of 1.0 on 1 procs for 10 steps with 768 atoms",
           f"MLFF_NPT_EQ_BEGIN steps={eq_rows * thermo_every} dt_ps={dt} atoms={atoms} "
           f"thermo_every={thermo_every}", f"   {cols}"]

    def row(step, t, rho, n):
        vol = mass_g / rho * 1e24
        pe = nmol * pe_per_mol + rnd.gauss(0, pe_noise * nmol ** 0.5)
        ke = 1.5 * atoms * 8.617333262e-5 * temp
        return (f"{step:10d} {t:.4f} {pe:.6f} {ke:.6f} {pe + ke:.6f} {temp + rnd.gauss(0, 3):.3f} "
                f"{rnd.gauss(press, 300):.3f} {vol:.4f} {rho:.8f} {n}")
    for k in range(eq_rows + 1):
        out.append(row(k * thermo_every, k * thermo_every * dt, 0.874, atoms))
    out.append(f"Loop time of 10.0 on 1 procs for {eq_rows * thermo_every} steps with {atoms} "
               "atoms")
    out.append(f"MLFF_NPT_PRODUCTION_BEGIN steps={prod_steps} dt_ps={dt} temp={temp} "
               f"press={press} atoms={atoms} thermo_every={thermo_every} "
               f"rdf_file={rdf_file or 'rdf.dat'} rdf_cut=8.0 rdf_bins=4 rdf_samples=10")
    out.append(f"   {cols}" + (" c_msd[4]" if msd else ""))
    n = atoms
    for k, rho in enumerate(density):
        if lost_at is not None and k == lost_at:
            out.append("WARNING: Lost atoms: original 768 current 760")
            n = atoms - 8
        t = k * thermo_every * dt
        out.append(row(k * thermo_every, t, rho, n) + (f" {msd(t):.6f}" if msd else ""))
    if error:
        out.append(f"ERROR: {error} (src/thermo.cpp:500)")
        out.append("Last command: run ${prod_steps}")
    elif complete:
        out.append(f"Loop time of 50.0 on 1 procs for {prod_steps} steps with {n} atoms")
        out.append(f"MLFF_NPT_PRODUCTION_END steps={prod_steps} "
                   f"planned={planned or prod_steps} atoms={n}")
        out.append("MLFF_NPT_RDF_BEGIN frames=10 every=100 cut=8.0")
        # the rerun's thermo block (pair zero) must not be read as production
        out.append(f"   {cols}")
        out.append(f"0 0 0 0 0 0 0 1 0.1 {n}")
        out.append("Loop time of 0.1 on 1 procs for 10 steps with 768 atoms")
        out.append("MLFF_NPT_RDF_END file=rdf.dat")
    open(path, "w").write("\n".join(out) + "\n")


def gas_log(path, *, pe=-431.70, noise=0.1, rows=1001, temp=300.0, complete=True, seed=5,
            atoms=APM, thermo_every=100, dt=0.0005):
    rnd = random.Random(seed)
    cols = "Step Time PotEng KinEng TotEng Temp Atoms"
    out = ["LAMMPS (4 Feb 2025)",
           f"MLFF_GAS_SETUP model=models/synthetic.h5 data=gas.data device=cpu fp16=no "
           f"temp={temp} dt_ps={dt} seed=1 damp_ps=0.1 box=100.0 eq_ps=5 gas_ps=100",
           "MLFF_ELEMENTS C H", f"MLFF_GAS_EQ_BEGIN steps=1000 dt_ps={dt} atoms={atoms}",
           f"   {cols}", f"0 0 -431 0.3 -431 300 {atoms}", f"1000 0.5 -431 0.3 -431 300 {atoms}",
           "Loop time of 1 on 1 procs for 1000 steps with 12 atoms",
           f"MLFF_GAS_PRODUCTION_BEGIN steps={(rows - 1) * thermo_every} dt_ps={dt} "
           f"temp={temp} atoms={atoms} thermo_every={thermo_every}", f"   {cols}"]
    vals = []
    for k in range(rows):
        v = pe + rnd.gauss(0, noise)
        vals.append(v)
        out.append(f"{k * thermo_every} {k * thermo_every * dt:.4f} {v:.6f} 0.4 {v + 0.4:.6f} "
                   f"{temp + rnd.gauss(0, 30):.2f} {atoms}")
    if complete:
        out.append(f"Loop time of 5 on 1 procs for {(rows - 1) * thermo_every} steps with 12 "
                   "atoms")
        out.append(f"MLFF_GAS_PRODUCTION_END steps={(rows - 1) * thermo_every} atoms={atoms}")
    open(path, "w").write("\n".join(out) + "\n")
    return vals


def rdf_file(path):
    """Two blocks of a fix ave/time file (4 bins, 3 pairs): the analysis takes the last."""
    lines = ["# Time-averaged data for fix rdfavg", "# TimeStep Number-of-rows",
             "# Row c_rdf[1] c_rdf[2] c_rdf[3] c_rdf[4] c_rdf[5] c_rdf[6] c_rdf[7]", "500 4"]
    lines += [f"{i + 1} {0.5 + i} 9 9 9 9 9 9" for i in range(4)]
    lines.append("1000 4")
    g = [[0.0, 0.0, 0.0], [0.2, 3.0, 0.5], [2.5, 1.2, 1.8], [1.0, 1.0, 1.0]]
    for i in range(4):
        lines.append(f"{i + 1} {1.0 + 2 * i} " + " ".join(f"{v} {v * 2}" for v in g[i]))
    open(path, "w").write("\n".join(lines) + "\n")


# ---- running ------------------------------------------------------------------------------------
class Ctx:
    def __init__(self, repo, work):
        self.repo, self.work = repo, work
        self.analysis = os.path.join(repo, "bench", "validate_liquid.py")
        self.data = os.path.join(repo, "bench", "validate_data.py")

    def run(self, *args, script=None):
        p = subprocess.run([sys.executable, script or self.analysis, *args],
                           capture_output=True, text=True, cwd=self.work)
        return p.returncode, p.stdout, p.stderr

    def analyse(self, *extra, gas=True, compound="benzene"):
        js = os.path.join(self.work, "out.json")
        if os.path.exists(js):
            os.remove(js)
        args = ["--npt", "npt.log", "--json", js, "--no-plot", "--machine", "test",
                "--label", "synthetic", "--compound", compound, *extra]
        if gas:
            args += ["--gas", "gas.log"]
        rc, out, err = self.run(*args)
        res = json.load(open(js)) if os.path.exists(js) else None
        return rc, out, err, res


def outcome(res, name):
    for c in res["criteria"]:
        if c["name"].startswith(name):
            return c
    fail(f"no criterion {name!r}", res["criteria"])


def steady(n=501, mean=0.874, noise=0.002, seed=11):
    rnd = random.Random(seed)
    return [mean + rnd.gauss(0, noise) for _ in range(n)]


# ---- cases --------------------------------------------------------------------------------------
def case_block_average(c):
    sys.path.insert(0, os.path.join(c.repo, "bench"))
    import validate_liquid as vl
    b = vl.block_average([float(v) for v in range(1, 11)], 5)
    check(b["block_means"] == [1.5, 3.5, 5.5, 7.5, 9.5], "block means of 1..10", b)
    check(abs(b["mean"] - 5.5) < 1e-12 and abs(b["se"] - math.sqrt(2.0)) < 1e-12,
          "mean 5.5 and standard error sqrt(2) of the block means", b)
    # 12 values: the first 2 are dropped so that the blocks are equal and end with the run
    b = vl.block_average([100.0, 100.0] + [float(v) for v in range(1, 11)], 5)
    check(b["rows_used"] == 10 and b["block_means"][0] == 1.5, "remainder dropped at the start",
          b)
    check(vl.block_average([1.0, 2.0, 3.0], 5) is None, "fewer rows than blocks: None")
    d, slope = vl.drift_pct([0.0, 1.0, 2.0, 3.0, 4.0], [1.0, 0.99, 0.98, 0.97, 0.96])
    check(abs(slope + 0.01) < 1e-12 and abs(d - 100 * -0.04 / 0.98) < 1e-9,
          f"linear drift: slope {slope}, {d} %")
    # compressibility: volumes alternating 1000 +- 10 Å^3 within each block (sample variance
    # 100 n/(n-1)), on a ramp from block to block that must not count
    kt = 1.380649e-23 * 300.0 * 1e25                 # k_B T at 300 K in bar Å^3
    vols = [1000.0 + 50.0 * (k // 20) + (10.0 if k % 2 else -10.0) for k in range(100)]
    kap = vl.compressibility(vols, 300.0, 5)
    want = [100.0 * 20 / 19 / (kt * (1000.0 + 50.0 * b)) for b in range(5)]
    check(all(abs(a - w) < 1e-12 * w for a, w in zip(kap["blocks_per_bar"], want)) and
          abs(kap["mean_per_bar"] - sum(want) / 5) < 1e-12 * want[0],
          "kappa_T = <dV^2> / (k_B T <V>) within each block", kap, want)
    check(vl.compressibility(vols[:40], 300.0, 5) is None, "fewer than 10 rows a block: None")


def case_dhvap_arithmetic(c):
    sys.path.insert(0, os.path.join(c.repo, "bench"))
    import validate_liquid as vl
    h = vl.dhvap(-431.70, 0.003, -432.05, 0.004, 298.0)
    want = 0.35 * 96.48533212 + 8.314462618e-3 * 298.0
    check(abs(h["dhvap_kJmol"] - want) < 1e-9, f"dH_vap {h['dhvap_kJmol']} != {want}", h)
    check(abs(h["err_kJmol"] - 0.005 * 96.48533212) < 1e-9, "error from both SEs", h)
    check(abs(h["RT_kJmol"] - 2.47770986) < 1e-6, "RT at 298 K", h)
    # through the logs: the number of molecules from the gas run's atom count
    npt_log(os.path.join(c.work, "npt.log"), steady(), nmol=64, pe_per_mol=-432.05,
            pe_noise=0.0)
    gvals = gas_log(os.path.join(c.work, "gas.log"), pe=-431.70, noise=0.0)
    rc, out, err, res = c.analyse()
    check(res is not None, "no JSON", out, err)
    check(res["liquid"]["molecules"] == 64 and res["liquid"]["atoms_per_molecule"] == APM,
          "64 molecules of 12 atoms from the logs", res["liquid"])
    dh = res["dhvap"]
    e_liq = res["liquid"]["pe_eV"]["mean"] / 64
    want = (sum(gvals[1:]) / 1000 - e_liq) * EV_KJMOL + R_KJMOL * 300.0
    check(abs(dh["dhvap_kJmol"] - want) < 1e-3, f"dH_vap {dh['dhvap_kJmol']} vs {want}", dh)
    check(abs(dh["RT_kJmol"] - R_KJMOL * 300.0) < 1e-9, "RT at the run's 300 K", dh)
    check(abs(dh["dhvap_kJmol"] - (0.35 * EV_KJMOL + R_KJMOL * 300)) < 0.01,
          "about 36.26 kJ/mol", dh)


def case_pass(c):
    # benzene-like: steady 0.874 g/cm^3, dH_vap = 0.325 eV * 96.485 + 2.494 = 33.85 kJ/mol
    npt_log(os.path.join(c.work, "npt.log"), steady())
    gas_log(os.path.join(c.work, "gas.log"), pe=-432.05 + 0.325)
    rdf_file(os.path.join(c.work, "rdf.dat"))
    rc, out, err, res = c.analyse()
    check(rc == 0 and res["verdict"] == "PASS", f"a steady liquid at 0.874 should PASS (rc {rc})",
          out, err)
    d = res["liquid"]["density_g_cm3"]
    check(abs(d["mean"] - 0.874) < 0.002 and 0 < d["se"] < 0.002, "density and its error", d)
    check(len(d["block_means"]) == 5 and d["block_rows"] == 100, "5 blocks of 100 rows", d)
    for want in ("[PASS] density vs experiment", "[PASS] dH_vap vs experiment", "[PASS] stable",
                 "verdict         PASS", "0.874 g/cm^3, dH_vap 33.9 kJ/mol"):
        check(want in out, f"printed table lacks {want!r}", out)
    check(res["liquid"]["rows"] == 501 and abs(res["liquid"]["production_ps"] - 50.0) < 1e-9,
          "production rows only (not the minimisation's, equilibration's or rerun's)",
          res["liquid"])
    check(res["series"]["eq"]["time_ps"][-1] == 0.0 and len(res["series"]["eq"]["density"]) == 21,
          "the equilibration series ends at time 0", res["series"]["eq"])
    # the RDF file next to the log, named by the marker; the last block; element labels
    rdf = res.get("rdf")
    check(rdf is not None and [p["pair"] for p in rdf["pairs"]] == ["C-C", "C-H", "H-H"],
          "RDF pairs labelled by element", rdf)
    check(rdf["r_A"] == [1.0, 3.0, 5.0, 7.0] and rdf["pairs"][1]["g"] == [0.0, 3.0, 1.2, 1.0],
          "the last RDF block is used", rdf)
    check(rdf["pairs"][1]["coord"][1] == 6.0, "coordination column", rdf)
    check(rdf["pairs"][1]["peaks"][0]["r"] == 3.0, "the first peak", rdf["pairs"][1])
    check(res["experiment"]["name"] == "benzene" and res["inputs"]["elements"] == ["C", "H"],
          "inputs recorded", res["inputs"])
    # the same by formula
    rc2, out2, _, res2 = c.analyse(compound="C6H6")
    check(rc2 == 0 and res2["experiment"]["name"] == "benzene", "C6H6 finds benzene", out2)


def case_evaporating(c):
    # the shipped model: 0.88 -> 0.20 g/cm^3 over production, an evaporating liquid
    n = 501
    npt_log(os.path.join(c.work, "npt.log"), [0.88 - 0.68 * k / (n - 1) for k in range(n)])
    gas_log(os.path.join(c.work, "gas.log"), pe=-432.05 + 0.325)
    rc, out, err, res = c.analyse()
    check(rc == 1 and res["verdict"] == "FAIL", f"an evaporating liquid must FAIL (rc {rc})",
          out, err)
    st = outcome(res, "stable")
    check(st["outcome"] == "FAIL" and st["value"] < -50, "stable: FAIL with a large drift", st)
    de = outcome(res, "density")
    check(de["outcome"] == "FAIL" and abs(de["value"]) > 5, "density outside 5 %: FAIL", de)
    for want in ("[FAIL] density vs experiment", "[FAIL] stable", "verdict         FAIL",
                 "density drift -"):
        check(want in out, f"printed table lacks {want!r}", out)


def case_slow_drift(c):
    # within 5 % on average, but the density falls 2 % over the run: not stable
    n = 501
    npt_log(os.path.join(c.work, "npt.log"), [0.874 * (1.01 - 0.02 * k / (n - 1))
                                              for k in range(n)])
    gas_log(os.path.join(c.work, "gas.log"), pe=-432.05 + 0.325)
    rc, out, err, res = c.analyse()
    check(rc == 1, f"a 2 % drift must FAIL (rc {rc})", out, err)
    check(outcome(res, "density")["outcome"] == "PASS", "the mean is within 5 %", res["criteria"])
    st = outcome(res, "stable")
    check(st["outcome"] == "FAIL" and -2.2 < st["value"] < -1.8, "drift about -2 %", st)


def case_lost_atoms(c):
    npt_log(os.path.join(c.work, "npt.log"), steady(), lost_at=300)
    gas_log(os.path.join(c.work, "gas.log"), pe=-432.05 + 0.325)
    rc, out, err, res = c.analyse()
    check(rc == 1 and res["liquid"]["atoms_lost"], f"lost atoms must FAIL (rc {rc})", out, err)
    check("atoms lost" in outcome(res, "stable")["note"], "the reason is given", res["criteria"])


def case_incomplete(c):
    npt_log(os.path.join(c.work, "npt.log"), steady(200), error="Lost atoms: original 768 "
            "current 700")
    gas_log(os.path.join(c.work, "gas.log"), pe=-432.05 + 0.325)
    rc, out, err, res = c.analyse()
    check(rc == 1, f"a run that stopped must FAIL (rc {rc})", out, err)
    note = outcome(res, "stable")["note"]
    check("run incomplete" in note and "atoms lost" in note, "both reasons", note)
    check(res["liquid"]["errors"] and "Lost atoms" in res["liquid"]["errors"][-1],
          "the LAMMPS error is kept", res["liquid"])


def case_walltime(c):
    # in.liquid_npt's walltime expired during production: 199 of 400 planned rows ran
    npt_log(os.path.join(c.work, "npt.log"), steady(200), planned=399 * 200)
    gas_log(os.path.join(c.work, "gas.log"), pe=-432.05 + 0.325)
    rc, out, err, res = c.analyse()
    check(rc == 1 and not res["liquid"]["complete"], f"a cut production must FAIL (rc {rc})",
          out, err)
    note = outcome(res, "stable")["note"]
    check("production cut short by the walltime: 39800 of 79800 steps ran" in note,
          "the walltime is named with the steps", note)
    # the same log with all its planned steps run is complete
    npt_log(os.path.join(c.work, "npt.log"), steady(200), planned=199 * 200)
    rc, out, err, res = c.analyse()
    check(res["liquid"]["complete"], "planned steps all run: complete", res["liquid"])


def case_segments(c):
    # a run cut by its walltime and two continuations from final.data: one production, times
    # running on; the first part (the liquid still compressing) skipped with --skip-ps
    rise = [0.70 + 0.17 * k / 200 for k in range(201)]            # 0-20 ps: 0.70 -> 0.87
    npt_log(os.path.join(c.work, "a.log"), rise, planned=400 * 200, seed=1)
    npt_log(os.path.join(c.work, "b.log"), [0.87] + steady(201)[1:], planned=400 * 200,
            eq_rows=0, seed=2)
    npt_log(os.path.join(c.work, "c.log"), [0.874] + steady(101, seed=5)[1:], eq_rows=0, seed=3)
    gas_log(os.path.join(c.work, "gas.log"), pe=-432.05 + 0.325)
    js = os.path.join(c.work, "out.json")
    base = ["--json", js, "--no-plot", "--compound", "benzene", "--gas", "gas.log", "--npt"]
    rc, out, err = c.run(*base, "a.log", "b.log", "c.log")
    res = json.load(open(js))
    liq = res["liquid"]
    check(abs(liq["production_ps"] - 50.0) < 1e-6 and liq["rows"] == 501,
          "20 + 20 + 10 ps joined, the continuations' first rows dropped", liq)
    check([round(g["production_ps"], 6) for g in liq["segments"]] == [20.0, 20.0, 10.0],
          "each segment's own length", liq["segments"])
    check(liq["complete"] and not liq["errors"], "walltime cuts end segments: no error", liq)
    check(rc == 1 and outcome(res, "stable")["outcome"] == "FAIL" and "drift" in
          outcome(res, "stable")["note"], "the rise is a drift: FAIL", out, err)
    check("3 logs joined: 20.0 + 20.0 + 10.0 ps" in out, "the segments are printed", out)
    rc, out, err = c.run(*base, "a.log", "b.log", "c.log", "--skip-ps", "20")
    res = json.load(open(js))
    liq = res["liquid"]
    check(rc == 0 and abs(liq["production_ps"] - 30.0) < 1e-6 and
          abs(liq["skipped_ps"] - 20.0) < 1e-6, f"the rise skipped: PASS (rc {rc})", out, err)
    check(abs(liq["density_g_cm3"]["mean"] - 0.874) < 0.002, "the steady part's mean", liq)
    s = res["series"]
    check(s["prod"]["time_ps"][0] == 0.0 and s["eq"]["time_ps"][-1] < 0, "production from 0, "
          "the skipped part before it with the equilibration", s["eq"]["time_ps"][-3:])
    # a continuation at another temperature is not the same run
    npt_log(os.path.join(c.work, "d.log"), steady(11), temp=350.0, eq_rows=0)
    rc, out, err = c.run(*base, "a.log", "d.log")
    check(rc == 2 and "d.log: a continuation at temp 350.0, the run it continues (a.log) at "
          "300.0" in err, f"another temperature refused (rc {rc})", out, err)
    rc, out, err = c.run(*base, "a.log", "b.log", "--skip-ps", "60")
    check(rc == 2 and "--skip-ps 60.0 leaves no production (it has 40.000 ps)" in err,
          f"a skip longer than the run refused (rc {rc})", out, err)


def case_no_production(c):
    npt_log(os.path.join(c.work, "npt.log"), [], complete=False)
    rc, out, err, res = c.analyse(gas=False)
    check(rc == 2 and res is None and "no production thermo rows" in err,
          f"no production rows: not judgeable, exit 2 (rc {rc})", out, err)
    rc, out, err = c.run("--npt", "missing.log", "--no-plot", "--json", "x.json")
    check(rc == 2 and "cannot read" in err, "a missing log: exit 2", out, err)


def case_not_judged(c):
    npt_log(os.path.join(c.work, "npt.log"), steady())
    rc, out, err, res = c.analyse(gas=False)
    check(rc == 2 and res["verdict"] == "NOT JUDGED", f"no gas run: NOT JUDGED (rc {rc})",
          out, err)
    check(outcome(res, "dH_vap")["outcome"] == "not judged" and
          "no gas run" in outcome(res, "dH_vap")["note"], "why dH_vap is not judged",
          res["criteria"])
    # water has no dH_vap yardstick in the table, and 0.874 is far from 0.997
    gas_log(os.path.join(c.work, "gas.log"))
    rc, out, err, res = c.analyse(compound="water")
    check(rc == 1 and outcome(res, "density")["outcome"] == "FAIL" and
          outcome(res, "dH_vap")["outcome"] == "not judged", "water: density FAIL, dH_vap n/a",
          out)
    # an unknown compound: nothing to compare with, stability alone judged
    rc, out, err, res = c.analyse(compound="none")
    check(rc == 2 and res["experiment"] is None and outcome(res, "stable")["outcome"] == "PASS",
          "no yardsticks: NOT JUDGED", out)


def case_dhvap_outside(c):
    npt_log(os.path.join(c.work, "npt.log"), steady())
    gas_log(os.path.join(c.work, "gas.log"), pe=-432.05 + 0.10)  # 12.1 kJ/mol
    rc, out, err, res = c.analyse()
    dh = outcome(res, "dH_vap")
    check(rc == 1 and dh["outcome"] == "FAIL" and dh["value"] < -50,
          f"dH_vap 12 vs 33.9 kJ/mol must FAIL (rc {rc})", out)
    check(abs(res["dhvap"]["dhvap_kJmol"] - (0.10 * EV_KJMOL + R_KJMOL * 300)) < 0.1,
          "dH_vap value", res["dhvap"])


def case_plots(c):
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("SKIP: matplotlib is not importable by", sys.executable)
        sys.exit(77)
    npt_log(os.path.join(c.work, "npt.log"), steady())
    gas_log(os.path.join(c.work, "gas.log"), pe=-432.05 + 0.325)
    rdf_file(os.path.join(c.work, "rdf.dat"))
    js = os.path.join(c.work, "out.json")
    rc, out, err = c.run("--npt", "npt.log", "--gas", "gas.log", "--compound", "benzene",
                         "--json", js, "--label", "synthetic", "--plots", "plots")
    res = json.load(open(js))
    check(rc == 0 and len(res["plots"]) == 2 and all(os.path.getsize(p) > 10000
                                                     for p in res["plots"]),
          "density and RDF plots written", out, err)


def case_data_tools(c):
    mol = os.path.join(c.work, "water.xyz")
    open(mol, "w").write("3\nwater\nO 0 0 0.1173\nh 0 0.7572 -0.4692\nH 0 -0.7572 -0.4692\n")
    rc, out, err = c.run("formula", mol, script=c.data)
    check(rc == 0 and out.strip() == "H2O", f"formula H2O, got {out!r}", err)
    rc, out, err = c.run("formula", "--name", mol, script=c.data)
    check(out.strip() == "water", f"named water, got {out!r}", err)
    rc, out, err = c.run("gas-data", mol, "w.data", "--elements", "H O", script=c.data)
    txt = open(os.path.join(c.work, "w.data")).read()
    check(rc == 0 and "3 atoms" in txt and "2 atom types" in txt and "1 1.008  # H" in txt
          and "2 15.999  # O" in txt and "\n1 2 0.000000 0.000000 0.117300" in txt,
          "gas data file: types in --elements order, masses", txt, err)
    rc, out, err = c.run("gas-data", mol, "w.data", "--elements", "C H", script=c.data)
    check(rc != 0 and "element O" in err, "an element missing from --elements is an error", err)
    rc, out, err = c.run("rdf-pairs", "--elements", "C H", script=c.data)
    check(out.split() == ["1", "1", "1", "2", "2", "2"], f"C H pairs, got {out!r}")
    rc, out, err = c.run("rdf-pairs", "--elements", "O H H", script=c.data)
    check(out.split() == ["1", "1", "1", "2*3", "2*3", "2*3"], f"O H H pairs, got {out!r}")
    rc, out, err = c.run("rdf-pairs", "--elements", "H O H", script=c.data)
    check(rc != 0 and "not contiguous" in err, "non-contiguous types are refused", err)
    sys.path.insert(0, os.path.join(c.repo, "bench"))
    import validate_liquid as vl
    check(vl.pair_labels(["O", "H", "H"], ["1", "1", "1", "2*3", "2*3", "2*3"]) ==
          ["O-O", "O-H", "H-H"], "labels of type ranges")
    # the packing check: atoms of two molecules (3 atoms each) 1.0 Å apart across the periodic
    # boundary are found; the same molecules' own atoms closer do not count; far apart: the floor
    import validate_data as vd
    mols = [(0.2, 5, 5), (0.3, 5, 5), (0.25, 5.4, 5), (9.4, 5, 5), (9.5, 6, 5), (9.5, 4, 5)]
    d = vd.closest_between_molecules(mols, 3, 10.0)
    check(abs(d - 0.8) < 1e-9, f"closest across the boundary 0.8 Å, got {d}")
    far = [(1, 1, 1), (1.1, 1, 1), (1, 1.1, 1), (6, 6, 6), (6.1, 6, 6), (6, 6.1, 6)]
    check(vd.closest_between_molecules(far, 3, 10.0) == vd.FUSE_FLOOR, "far apart: the floor")


def case_diffusion(c):
    # a liquid whose atoms diffuse at benzene's 2.207e-9 m^2/s (0.2207 Å^2/ps: MSD = 6 D t, plus
    # a rotational plateau of 8 Å^2) against a solid whose MSD levels off at 3 Å^2
    D = 0.2207
    npt_log(os.path.join(c.work, "npt.log"), steady(),
            msd=lambda t: 6 * D * t + 8 * (1 - math.exp(-t / 0.5)))
    rc, out, err, res = c.analyse(gas=False)
    f = res.get("diffusion")
    check(f is not None and abs(f["D_1e-9_m2_s"] - 2.207) < 0.01, "D from the MSD's slope", f, out)
    check(abs(f["dev_pct"]) < 0.5 and f["experiment_1e-9_m2_s"] == 2.207, "against experiment", f)
    check(len(f["D_blocks_1e-9_m2_s"]) == 5 and all(abs(x - 2.207) < 0.05
                                                     for x in f["D_blocks_1e-9_m2_s"][1:]),
          "per block", f)
    check("self-diffusion  D 2.20" in out and "(experiment 2.207: " in out, "printed", out)
    npt_log(os.path.join(c.work, "npt.log"), steady(), msd=lambda t: 3 * (1 - math.exp(-t / 0.5)))
    rc, out, err, res = c.analyse(gas=False)
    f = res["diffusion"]
    check(abs(f["D_1e-9_m2_s"]) < 0.01 and f["msd_end_A2"] < 3.01, "a solid does not diffuse", f)
    # without the column (logs of older inputs): no diffusion section, the rest as before
    npt_log(os.path.join(c.work, "npt.log"), steady())
    rc, out, err, res = c.analyse(gas=False)
    check("diffusion" not in res and "self-diffusion" not in out, "no MSD, no D", out)


CASES = {name[5:]: f for name, f in globals().items() if name.startswith("case_")}


def main():
    if len(sys.argv) != 4 or sys.argv[3] not in CASES:
        print(__doc__)
        print("cases:", " ".join(CASES))
        sys.exit(2)
    repo, work, case = sys.argv[1:]
    work = os.path.join(work, case)
    os.makedirs(work, exist_ok=True)
    CASES[case](Ctx(repo, work))
    print(f"PASS {case}")


if __name__ == "__main__":
    main()
