#!/usr/bin/env python3
"""test_dimer_decompose.py SOURCE_DIR WORKDIR CASE — bench/dimer_decompose.py (issue 21).

run: the shipped model, its charges removed, on a few synthetic dimer-curve points, D4 from a
     fake --d4-python (fixed parts, so no dftd4 is needed): both sides add up, the network part
     is exactly zero where the closest contact lies beyond the descriptor's cutoff, and the MAE
     split and the "what if"s follow from the rows; with electrostatics in the model, they are
     a part of their own.
charge_fit: teacher curves made as the fake D4 plus 4 x the Coulomb energy of charges +-0.1
     (so charges x 2 carry the rest exactly): --fit-charges stacked finds the scale 2 and leaves
     nothing on the held-out T-shaped points; with --dsf the fit is of the damped-shifted-force
     form and ends in an --electrostatics value.
refusals: no D4 Python; a JSON that is not dimer_curves.py's; charges of another molecule;
     --fit-charges without --charges, with an unknown orientation, with too few points; a bad
     --dsf value, --dsf without --charges.
(env: PYTHONPATH and MLFF_LIBRARY as the python tests'; 77 without numpy)
"""
import json
import os
import shutil
import subprocess
import sys

try:
    import numpy as np
except ImportError:
    print("numpy not importable: skipped")
    sys.exit(77)


def fail(msg, *ctx):
    print("FAILED:", msg)
    for c in ctx:
        print("----\n" + (c[-4000:] if isinstance(c, str) else json.dumps(c, indent=1)[-4000:]))
    sys.exit(1)


def check(cond, msg, *ctx):
    if not cond:
        fail(msg, *ctx)


def setup(src, work):
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    pts = lambda ds, ts: [{"d_A": d, "teacher_meV": t, "model_meV": 0.0} for d, t in zip(ds, ts)]
    dimers = {"inputs": {"shift_A": 1.5},
              "curves": {"stacked": {"points": pts([3.5, 6.0, 7.0], [-170.0, -1.5, 90.0])},
                         "T-shaped": {"points": pts([5.0, 7.5], [-97.0, -10.0])}}}
    path = os.path.join(work, "dimers.json")
    json.dump(dimers, open(path, "w"))
    fake = os.path.join(work, "fake-python")
    with open(fake, "w") as f:  # any -c code: D4 two-body -10 meV, three-body +2 meV per dimer
        f.write("#!/bin/sh\nexec %s -c 'import json, sys; q = json.load(sys.stdin); "
                "json.dump([{\"d4_2b\": -10.0, \"d4_3b\": 2.0} for _ in q], sys.stdout)'\n"
                % sys.executable)
    os.chmod(fake, 0o755)
    return path, fake


def run(src, *args):
    return subprocess.run([sys.executable, os.path.join(src, "bench", "dimer_decompose.py"),
                           *args], capture_output=True, text=True)


def case_run(src, work):
    path, fake = setup(src, work)
    out = os.path.join(work, "out.json")
    # the shipped model without its charges: a model of networks and dispersion alone
    sys.path.insert(0, os.path.join(src, "python"))
    import mlff
    plain_model = os.path.join(work, "plain.h5")
    with mlff.Model(os.path.join(src, "models", "benzene-gfn2.h5")) as m:
        m.set_electrostatics(None)
        m.save(plain_model)
    p = run(src, "--dimers", path, "--model", plain_model,
            "--molecule", os.path.join(src, "models", "benzene.xyz"), "--d4-python", fake,
            "--json", out)
    check(p.returncode == 0, "dimer_decompose.py failed", p.stdout + p.stderr)
    res = json.load(open(out))
    rows, s = res["points"], res["summary"]
    check(len(rows) == 5, "five points", rows)
    for x in rows:
        check(abs(x["teacher_d4_2b_meV"] + x["teacher_d4_3b_meV"] + x["teacher_rest_meV"] -
                  x["teacher_meV"]) < 1e-9, "the teacher's parts add up", x)
        check(abs(x["model_network_meV"] + x["model_disp_2b_meV"] + x["model_disp_3b_meV"] -
                  x["model_meV"]) < 1e-6, "the model's parts add up", x)
        if x["contact_A"] > 5.2:
            check(abs(x["model_network_meV"]) < 1e-6, "no network interaction beyond the "
                  "descriptor's cutoff", x)
        else:
            check(abs(x["model_network_meV"]) > 1e-3, "a network interaction inside it", x)
        check(x["model_disp_2b_meV"] < 0, "dispersion attracts", x)
    well = [x for x in rows if x["teacher_meV"] < 50.0]
    err = np.array([x["model_meV"] - x["teacher_meV"] for x in well])
    beyond = np.array([x["contact_A"] >= 5.2 for x in well])
    fix = np.array([2.0 - x["model_disp_3b_meV"] for x in well])
    rest = np.array([x["teacher_rest_meV"] for x in well]) * beyond
    check(s["points"] == 4 and s["beyond_cutoff"]["points"] == int(beyond.sum()) == 2,
          "four points below +50 meV, two beyond the cutoff", s)
    for got, want in ((s["mae_meV"], np.abs(err).mean()),
                      (s["beyond_cutoff"]["mae_meV"], np.abs(err[beyond]).mean()),
                      (s["with_d4_three_body_mae_meV"], np.abs(err + fix).mean()),
                      (s["and_teacher_rest_beyond_cutoff_mae_meV"], np.abs(err + fix + rest).mean())):
        check(abs(got - want) < 1e-9, f"summary {got} against {want} from the rows", s)
    check("MAE over 4 points" in p.stdout, "the summary line is printed", p.stdout)
    # a model with electrostatics: they are split from the network, and the parts still add up
    coul_model = os.path.join(work, "coul.h5")
    with mlff.Model(os.path.join(src, "models", "benzene-gfn2.h5")) as m:
        m.set_electrostatics({"charges": {"C": -0.09, "H": 0.09}, "alpha": 0.1, "cutoff": 12.0})
        m.save(coul_model)
    p = run(src, "--dimers", path, "--model", coul_model, "--molecule",
            os.path.join(src, "models", "benzene.xyz"), "--d4-python", fake, "--json", out)
    check(p.returncode == 0, "dimer_decompose.py on a model with electrostatics failed",
          p.stdout + p.stderr)
    res = json.load(open(out))
    check(res["model_electrostatics"]["cutoff"] == 12.0, "the electrostatics are recorded", res)
    for x in res["points"]:
        check(abs(x["model_network_meV"] + x["model_electrostatics_meV"] + x["model_disp_2b_meV"] +
                  x["model_disp_3b_meV"] - x["model_meV"]) < 1e-6, "the parts add up", x)
        check(abs(x["model_electrostatics_meV"]) > 0.1, "the electrostatics are felt", x)
        if x["contact_A"] > 5.2:
            check(abs(x["model_network_meV"]) < 1e-6, "no network interaction beyond the "
                  "cutoff, with electrostatics", x)
    check(" coul " in p.stdout, "the electrostatics are printed", p.stdout)
    # --charges: the point charges' Coulomb energy between the molecules, here written out
    charges = os.path.join(work, "charges")
    q = np.array([-0.1] * 6 + [0.1] * 6)
    np.savetxt(charges, q)
    p = run(src, "--dimers", path, "--model", os.path.join(src, "models", "benzene-gfn2.h5"),
            "--molecule", os.path.join(src, "models", "benzene.xyz"), "--d4-python", fake,
            "--charges", charges, "--json", out)
    check(p.returncode == 0, "dimer_decompose.py --charges failed", p.stdout + p.stderr)
    res = json.load(open(out))
    sys.path.insert(0, os.path.join(src, "bench"))
    import dimer_curves as dc
    els, pos = dc.read_xyz(os.path.join(src, "models", "benzene.xyz"))
    _, geo = dc.dimers(els, pos, [6.0], 1.5)
    P = geo["stacked"][0][1]
    want = 14399.645 * sum(q[i] * q[j] / np.linalg.norm(P[i] - P[12 + j])
                           for i in range(12) for j in range(12))
    got = [x for x in res["points"] if x["orientation"] == "stacked" and x["d_A"] == 6.0][0]
    check(abs(got["coulomb_meV"] - want) < 1e-6 * abs(want) and want > 0,
          f"stacked at 6 A: Coulomb {got['coulomb_meV']} against {want} (repulsive: like "
          "charges face each other)", got)
    check(res["summary"]["coulomb_over_rest_beyond_cutoff"] is not None and
          "of the teacher's rest there" in p.stdout, "the charges' share is reported", res["summary"])


def case_charge_fit(src, work):
    path, fake = setup(src, work)
    sys.path.insert(0, os.path.join(src, "bench"))
    import dimer_curves as dc
    mol = os.path.join(src, "models", "benzene.xyz")
    els, pos = dc.read_xyz(mol)
    q = np.array([-0.1] * 6 + [0.1] * 6)
    charges = os.path.join(work, "charges")
    np.savetxt(charges, q)
    ds = {"stacked": [6.0, 6.5, 7.0], "T-shaped": [7.5, 8.0]}
    _, geo = dc.dimers(els, pos, sorted({d for v in ds.values() for d in v}), 1.5)
    coul = lambda P: 14399.645 * sum(q[i] * q[j] / np.linalg.norm(P[i] - P[12 + j])  # noqa: E731
                                     for i in range(12) for j in range(12))
    curves = {o: {"points": [{"d_A": d, "teacher_meV": -8.0 + 4.0 * coul(P), "model_meV": 0.0}
                             for d, P in geo[o] if d in ds[o]]} for o in ds}
    json.dump({"inputs": {"shift_A": 1.5}, "curves": curves}, open(path, "w"))
    out = os.path.join(work, "out.json")
    p = run(src, "--dimers", path, "--model", os.path.join(src, "models", "benzene-gfn2.h5"),
            "--molecule", mol, "--d4-python", fake, "--charges", charges,
            "--fit-charges", "stacked", "--json", out)
    check(p.returncode == 0, "dimer_decompose.py --fit-charges failed", p.stdout + p.stderr)
    fit = json.load(open(out))["summary"]["charge_fit"]
    check(fit["fitted_on"] == "stacked" and fit["points"] == 3 and fit["held_out"]["points"] == 2,
          "fitted on the 3 stacked points, judged on the 2 T-shaped", fit)
    check(abs(fit["charge_scale"] - 2.0) < 1e-6 and abs(fit["largest_charge_e"] - 0.2) < 1e-6,
          "the scale the curves were made with", fit)
    check(fit["held_out"]["rest_less_coulomb_mae_meV"] < 1e-6 < fit["held_out"]["rest_mae_meV"],
          "nothing left of the rest on the held-out points", fit)
    check("charges x 2.000 (fitted on 3 stacked points" in p.stdout, "the fit is printed", p.stdout)
    # --dsf: the same curves are not bare Coulomb in that form, and the fit says so (a held-out
    # residue); it prints the charges per element as mlff's --electrostatics value
    p = run(src, "--dimers", path, "--model", os.path.join(src, "models", "benzene-gfn2.h5"),
            "--molecule", mol, "--d4-python", fake, "--charges", charges,
            "--fit-charges", "stacked", "--dsf", "0.1,12", "--json", out)
    check(p.returncode == 0, "dimer_decompose.py --dsf failed", p.stdout + p.stderr)
    fit = json.load(open(out))["summary"]["charge_fit"]
    k = fit["charge_scale"]
    check(fit["coulomb_form"] == "dsf alpha 0.1 cutoff 12" and k > 2.0 and
          fit["electrostatics_option"] == "C=%.4g,H=%.4g,alpha=0.1,cutoff=12" % (-0.1 * k, 0.1 * k),
          "the DSF fit and its option", fit)
    check("--electrostatics C=" in p.stdout, "the option is printed", p.stdout)


def case_refusals(src, work):
    path, fake = setup(src, work)
    model = os.path.join(src, "models", "benzene-gfn2.h5")
    mol = os.path.join(src, "models", "benzene.xyz")
    p = run(src, "--dimers", path, "--model", model, "--molecule", mol, "--d4-python",
            os.path.join(work, "nowhere"))
    check(p.returncode != 0 and "--d4-python " in p.stderr and "not an executable" in p.stderr,
          "a missing D4 Python is named", p.stderr)
    bad = os.path.join(work, "bad.json")
    json.dump({"curves": {}}, open(bad, "w"))
    p = run(src, "--dimers", bad, "--model", model, "--molecule", mol, "--d4-python", fake)
    check(p.returncode != 0 and "not a dimer_curves.py JSON" in p.stderr,
          "a JSON without the curves' inputs is refused", p.stderr)
    short = os.path.join(work, "charges")
    np.savetxt(short, [0.1, -0.1])
    p = run(src, "--dimers", path, "--model", model, "--molecule", mol, "--d4-python", fake,
            "--charges", short)
    check(p.returncode != 0 and f"--charges {short}: 2 charges for a monomer of 12 atoms" in
          p.stderr, "charges of another molecule are refused", p.stderr)
    good = os.path.join(work, "charges12")
    np.savetxt(good, [-0.1] * 6 + [0.1] * 6)
    for args, want in ((["--fit-charges", "stacked"], "--fit-charges needs --charges"),
                       (["--charges", good, "--fit-charges", "sideways"],
                        "--fit-charges sideways: " + path + " has the orientations stacked, T-shaped"),
                       (["--charges", good, "--dsf", "0.1"],
                        "--dsf 0.1: give ALPHA,CUTOFF with alpha >= 0"),
                       (["--dsf", "0.1,12"], "--dsf needs --charges"),
                       (["--charges", good, "--fit-charges", "stacked"],
                        "--fit-charges stacked: 1 of its points (teacher below 50 meV) lie beyond "
                        "the 5.2 A cutoff; at least 2")):
        p = run(src, "--dimers", path, "--model", model, "--molecule", mol, "--d4-python", fake,
                *args)
        check(p.returncode != 0 and want in p.stderr, f"refused: {want}", p.stderr)


def main():
    src, work, case = sys.argv[1:4]
    {"run": case_run, "charge_fit": case_charge_fit, "refusals": case_refusals}[case](src, os.path.join(work, case))
    print("PASS", case)


if __name__ == "__main__":
    main()
