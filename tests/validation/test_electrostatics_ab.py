#!/usr/bin/env python3
"""test_electrostatics_ab.py SOURCE_DIR WORKDIR CASE — bench/electrostatics_ab.sh (issue 21).

summary: a WORK whose steps are all done (placeholder models, the trainings' logs and the dimer
         JSONs written here) is only summarised: summary.json holds each student's test and
         dimer-curve figures as the logs and JSONs give them, and the lines are printed; with
         HELDOUT=1 and the held-out evaluations done, their interaction energies per molecule
         too (and without HELDOUT, none).
refusals: the usage; a dataset that does not exist.
"""
import json
import os
import shutil
import subprocess
import sys


def fail(msg, *ctx):
    print("FAILED:", msg)
    for c in ctx:
        print("----\n" + str(c)[-3000:])
    sys.exit(1)


def run(src, *args):
    return subprocess.run(["bash", os.path.join(src, "bench", "electrostatics_ab.sh"), *args],
                          capture_output=True, text=True)


def case_summary(src, work):
    data = os.path.join(work, "data.h5")
    open(data, "w").close()
    w = os.path.join(work, "ab")
    os.makedirs(w)
    for f in ("dimers.h5", "train.h5", "A.h5", "B.h5"):
        open(os.path.join(w, f), "w").close()
    figures = {"A": (0.471, 14.49, 10.6, 14.6, 6.0, 9.5), "B": (0.466, 14.26, 6.5, 10.6, 1.8, 5.4)}
    for s, (e, f, mae, ins, out, d3) in figures.items():
        with open(os.path.join(w, s + ".log"), "w") as fh:
            fh.write(f"wrote {s}.h5: 197 epochs (stop: patience), best validation at epoch 97: "
                     f"energy MAE 0.4 meV/atom, force MAE 14.0 meV/Å\n"
                     f"test (456 structures): energy MAE {e} meV/atom, force MAE {f} meV/Å, "
                     "RMSE 21.0 meV/Å\n")
        json.dump({"summary": {"mae_meV": mae, "inside_cutoff": {"mae_meV": ins},
                               "beyond_cutoff": {"mae_meV": out},
                               "with_d4_three_body_mae_meV": d3}},
                  open(os.path.join(w, s + "-dimers.json"), "w"))
    p = run(src, data, w)
    if p.returncode:
        fail("electrostatics_ab.sh failed", p.stdout + p.stderr)
    res = json.load(open(os.path.join(w, "summary.json")))
    if any("heldout_clusters" in r for r in res["students"].values()):
        fail("held-out figures without HELDOUT", res)
    open(os.path.join(w, "heldout.h5"), "w").close()
    held = {"A": (5.68, -5.68, 3.37, -3.34), "B": (3.45, -3.45, 1.92, -1.28)}
    for s, (rm, re_, lm, le) in held.items():
        by = {"relaxed": {"n_clusters": 12, "interaction_mae_meV_per_molecule": rm,
                          "interaction_mean_error_meV_per_molecule": re_},
              "liquid": {"n_clusters": 20, "interaction_mae_meV_per_molecule": lm,
                         "interaction_mean_error_meV_per_molecule": le}}
        json.dump({"interaction": {"by_source": by}}, open(os.path.join(w, s + "-heldout.json"), "w"))
    p = subprocess.run(["bash", os.path.join(src, "bench", "electrostatics_ab.sh"), data, w],
                       capture_output=True, text=True, env=dict(os.environ, HELDOUT="1"))
    if p.returncode:
        fail("electrostatics_ab.sh HELDOUT=1 failed", p.stdout + p.stderr)
    res = json.load(open(os.path.join(w, "summary.json")))
    for s, (rm, re_, lm, le) in held.items():
        h = res["students"][s].get("heldout_clusters")
        if h != {"relaxed": {"n": 12, "mae_meV_per_molecule": rm, "mean_error_meV_per_molecule": re_},
                 "liquid": {"n": 20, "mae_meV_per_molecule": lm, "mean_error_meV_per_molecule": le}}:
            fail(f"student {s}'s held-out clusters", h)
    if "held-out liquid clusters (20): interaction MAE 1.92 meV/molecule, mean error -1.28" not in p.stdout:
        fail("the held-out lines", p.stdout)
    for s, (e, f, mae, ins, out, d3) in figures.items():
        r = res["students"][s]
        got = (r["test_energy_mae_meV_per_atom"], r["test_force_mae_meV_per_A"], r["dimer_mae_meV"],
               r["dimer_inside_cutoff_mae_meV"], r["dimer_beyond_cutoff_mae_meV"],
               r["dimer_with_d4_three_body_mae_meV"])
        if got != (e, f, mae, ins, out, d3) or r["epochs"] != 197 or r["test_structures"] != 456:
            fail(f"student {s}: {r} against {(e, f, mae, ins, out, d3)}")
    if "B (dispersion + electrostatics): dimer curves MAE 6.50 meV" not in p.stdout:
        fail("the summary lines", p.stdout)
    if res["electrostatics"] != "C=-0.0906,H=0.0906,alpha=0.1,cutoff=12":
        fail("the default charges", res)


def case_refusals(src, work):
    p = run(src, "only-one")
    if p.returncode != 2 or "usage: electrostatics_ab.sh DATA WORK" not in p.stderr:
        fail("the usage", p.stderr)
    p = run(src, os.path.join(work, "nothing.h5"), os.path.join(work, "w"))
    if p.returncode != 2 or "no dataset " + os.path.join(work, "nothing.h5") not in p.stderr:
        fail("a missing dataset is named", p.stderr)
    if os.path.exists(os.path.join(work, "w")):
        fail("a refused run made its WORK folder")


def main():
    src, work, case = sys.argv[1:4]
    work = os.path.join(work, case)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    {"summary": case_summary, "refusals": case_refusals}[case](src, work)
    print("PASS", case)


if __name__ == "__main__":
    main()
