#!/usr/bin/python3
"""Test of models/report.py (label unit): the shipped model's report, written from its kept
evaluation JSON (models/benzene-gfn2-eval/), stand-in datasets that hold only what the report
reads (each structure's source) and synthetic liquid, equation-of-state and teacher-bulk JSON,
whose derived figures (the teacher's density and heat of vaporisation) the test works out itself.
Needs h5py and numpy (Debian's python3-h5py); skipped (77) without them.

usage: test_model_report.py REPO WORK"""
import json
import os
import shutil
import subprocess
import sys

try:
    import h5py
    import numpy as np
except ImportError:
    print("SKIP: needs h5py and numpy")
    sys.exit(77)


def fail(msg, out=""):
    print("FAILED:", msg)
    print(out[-3000:])
    sys.exit(1)


def dataset(path, sources, atoms_each=12):
    with h5py.File(path, "w") as f:
        f["/labels/source"] = np.array([s.encode() for s in sources])
        f["/labels"].attrs["teacher"] = "GFN2-xTB (test)"
        f["/structures/atomic_numbers"] = np.ones(atoms_each * len(sources), dtype=np.int32)


def row(text, name):
    """The value column of the targets table's row `name`, or None."""
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 3 and cells[1] == name:
            return float(cells[2])
    return None


def main():
    repo, work = sys.argv[1:3]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    evals = os.path.join(repo, "models", "benzene-gfn2-eval")
    for name in os.listdir(evals):
        if name.endswith(".json"):
            shutil.copy(os.path.join(evals, name), work)
    dataset(os.path.join(work, "benzene-gfn2-train.h5"), ["md300"] * 3 + ["dimer"] * 2)
    dataset(os.path.join(work, "benzene-gfn2-test.h5"), ["md300", "droplet"])
    model = os.path.join(repo, "models", "benzene-gfn2.h5")
    report = [sys.executable, os.path.join(repo, "models", "report.py"), work, model]

    # without the liquid's files: the sections from the evaluation alone
    out = os.path.join(work, "plain.md")
    p = subprocess.run(report + [out], capture_output=True, text=True)
    if p.returncode:
        fail("report.py without the liquid's files", p.stdout + p.stderr)
    text = open(out).read()
    for want in ("## Data", "| training (split into train/valid/test) | 5 | 60 | dimer 2, md300 3 |",
                 "## Errors on held-out structures", "## Against the issue's targets",
                 "## Harmonic frequencies"):
        if want not in text:
            fail("missing %r" % want, text)
    if "against the teacher's" in text:
        fail("a teacher's figure without the liquid's files", text)
    # a model's charges are named with their values (the shipped model's elements are C, H)
    with h5py.File(model, "r") as f:
        q = f["electrostatics"].attrs["charges"] if "electrostatics" in f else None
    want = None if q is None else ("Electrostatics (in the model file, /electrostatics): fixed "
                                   "atomic charges C %+.5g e, H %+.5g e" % (q[0], q[1]))
    if (want is not None and want not in text) or (want is None and "Electrostatics" in text):
        fail("the electrostatics line does not follow the model (%s)" % want, text)
    if "Bond-charge increments" in text:
        fail("increments named for a model without them", text)
    # with bond-charge increments (a copy of the model given C-H +0.05 e): named with their value
    inc_model = os.path.join(work, "increments.h5")
    shutil.copy(model, inc_model)
    with h5py.File(inc_model, "a") as f:
        g = f.require_group("electrostatics")
        g.attrs["increments"] = np.array([0.0, 0.05, -0.05, 0.0])
        g.attrs["bond_radii"] = np.array([0.76, 0.31])
        g.attrs["bond_factor"] = 1.25
    out = os.path.join(work, "increments.md")
    p = subprocess.run(report[:-1] + [inc_model, out], capture_output=True, text=True)
    if p.returncode:
        fail("report.py on a model with increments", p.stdout + p.stderr)
    if "Bond-charge increments: C-H +0.05 e (to the first atom of each bond; bonded within 1.25 x" \
            not in open(out).read():
        fail("the increments line", open(out).read())

    # the liquid at 0.77 g/cm3 (EOS crossing too), dH_vap 28.0; the teacher's pressure 100 and
    # 160 bar above the student's at 0.74 and 0.80, its cohesion 6 and 9 meV/molecule weaker
    liquid = {"machine": "test", "verdict": "FAIL", "experiment": {"density": 0.874, "dhvap": 33.9},
              "liquid": {"density_g_cm3": {"mean": 0.77, "se": 0.002, "drift_pct": 0.5,
                                           "first": 0.769, "last": 0.771,
                                           "block_means": [0.769, 0.77, 0.771]},
                         "production_ps": 100.0, "target_temp_K": 300.0,
                         "target_press_bar": 1.01325, "atoms": 12288},
              "dhvap": {"dhvap_kJmol": 28.0, "err_kJmol": 0.5}, "limits": {}}
    eos = {"machine": "test", "temp_K": 300.0, "deform_ps": 3, "hold_ps": 12, "skip_ps": 2,
           "target_press_bar": 1.01325, "density_at_target_press": 0.77,
           "density_at_target_press_se": 0.003, "slope_bar_per_g_cm3": 6500.0,
           "inside_scan": True, "points": [{"density": 0.76, "press_bar": -60, "press_se_bar": 10},
                                           {"density": 0.78, "press_bar": 70, "press_se_bar": 10}]}
    per = [{"density": rho, "teacher_meV_per_molecule": t, "student_meV_per_molecule": t + ds,
            "teacher_d4_two_body_meV_per_molecule": -350.0,
            "teacher_d4_three_body_meV_per_molecule": 70.0, "teacher_pconf_bar": 600.0 + dp,
            "student_pconf_bar": 600.0, "teacher_minus_student_pconf_bar": dp,
            "teacher_minus_student_pconf_sem_bar": 40.0}
           for rho, t, ds, dp in ((0.74, -214.0, -6.0, 100.0), (0.80, -218.0, -9.0, 160.0))]
    bulk = {"per_density": per, "molecules": 8, "boxes": 3, "frames_per_box": 4,
            "teacher": "GFN2-xTB, tblite (periodic)", "model": model, "sampler": "d4pair.h5"}
    files = []
    for name, d in (("liquid.json", liquid), ("eos.json", eos), ("bulk.json", bulk)):
        files.append(os.path.join(work, name))
        json.dump(d, open(files[-1], "w"))
    out = os.path.join(work, "full.md")
    p = subprocess.run(report + [out] + files, capture_output=True, text=True)
    if p.returncode:
        fail("report.py with the liquid's files", p.stdout + p.stderr)
    text = open(out).read()
    # at 0.77 the teacher's pressure is 130 bar higher: its density 0.77 - 130 / 6500 = 0.75
    got = row(text, "liquid density (equation of state) against the teacher's")
    want = 100 * 0.02 / 0.75
    if got is None or abs(got - want) > 0.006:
        fail("teacher's density row: %s, want %.2f" % (got, want), text)
    if "**0.750 ± " not in text:
        fail("the teacher's density 0.750 is not stated", text)
    # the student 7.5 meV/molecule more cohesive at 0.77: the teacher's dH_vap 28.0 - 0.7236
    got = row(text, "heat of vaporisation against the teacher's")
    teacher = 28.0 - 7.5 * 0.0964853
    want = 100 * (28.0 - teacher) / teacher
    if got is None or abs(got - want) > 0.006:
        fail("teacher's dH_vap row: %s, want %.2f" % (got, want), text)
    got = row(text, "liquid density, NPT 300 K 1 atm")
    if got is None or abs(got - 100 * (0.874 - 0.77) / 0.874) > 0.006:
        fail("density vs experiment row: %s" % got, text)
    # a stable NPT run with its compressibility: the student's density and dP/drho from it
    # (0.80, 1e4 bar per g/cm3); the teacher's pressure 160 bar higher there: 0.80 - 0.016
    liquid["liquid"]["density_g_cm3"].update(mean=0.80, se=0.001)
    liquid["liquid"]["compressibility"] = {"mean_per_bar": 1.0 / (0.80 * 1e4),
                                           "se_per_bar": 0.0, "dP_drho_bar_per_g_cm3": 1e4}
    json.dump(liquid, open(files[0], "w"))
    p = subprocess.run(report + [out] + files, capture_output=True, text=True)
    text = open(out).read() if not p.returncode else p.stdout + p.stderr
    got = row(text, "liquid density (NPT) against the teacher's")
    if got is None or abs(got - 100 * 0.016 / 0.784) > 0.006:
        fail("teacher's density from the NPT run: %s, want %.2f" % (got, 100 * 0.016 / 0.784),
             text)
    if "**0.784 ± " not in text or "its NPT run, dP/dρ from the volume's fluctuations" not in text:
        fail("the teacher's density 0.784 from the NPT run is not stated", text)
    # ... but not from a run that drifts: back to the equation of state
    liquid["liquid"]["density_g_cm3"]["drift_pct"] = 3.0
    json.dump(liquid, open(files[0], "w"))
    subprocess.run(report + [out] + files, capture_output=True, text=True)
    if row(open(out).read(), "liquid density (equation of state) against the teacher's") is None:
        fail("a drifting NPT run must not give the student's density", open(out).read())

    # the data tables again from datasets.json alone (written by the runs above)
    for name in ("benzene-gfn2-train.h5", "benzene-gfn2-test.h5"):
        os.remove(os.path.join(work, name))
    p = subprocess.run(report + [os.path.join(work, "kept.md")], capture_output=True, text=True)
    if p.returncode or "| training (split into train/valid/test) | 5 | 60 | dimer 2, md300 3 |" \
            not in open(os.path.join(work, "kept.md")).read():
        fail("report.py from datasets.json", p.stdout + p.stderr)
    os.remove(os.path.join(work, "datasets.json"))
    p = subprocess.run(report + [os.path.join(work, "none.md")], capture_output=True, text=True)
    if p.returncode == 0 or "holds neither the datasets" not in p.stderr:
        fail("without datasets or datasets.json report.py must say so", p.stdout + p.stderr)
    print("models/report.py: teacher's density %.3f g/cm3, teacher's dH_vap %.2f kJ/mol, rows as "
          "derived here" % (0.75, teacher))


if __name__ == "__main__":
    main()
