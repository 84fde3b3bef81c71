#!/usr/bin/env python3
"""test_three_body_tail.py SOURCE_DIR WORKDIR CASE — bench/three_body_tail.py (issue 21).

  run      8 benzene on a 2 x 2 x 2 grid (random orientations) in a cubic box, the shipped
           model (three-body cutoff 8 Å): the triples to 10 and 12 Å add energy in this packed
           box (the term is repulsive where molecules pack), more to 12 Å than to 10 and more
           at the higher density; the uniform fluid's integral is positive and grows as g = 1
           starts farther out (short sides are the near-linear, attractive triangles); the
           JSON holds what was printed; --write-tail3 writes tail3 = E_m V_m^2 / S_m (written
           out here) into a copy of the model, and --from-json gives the same from the JSON
  refusals a model without the three-body term, a box that is not cubic, a cutoff not beyond
           the model's, atoms that are not whole molecules: each refused with its message
(env: PYTHONPATH and MLFF_LIBRARY as the python tests'; 77 without numpy, h5py or ase)
"""
import json
import os
import shutil
import subprocess
import sys

src, work, case = sys.argv[1:4]
try:
    import ase.io  # noqa: F401
    import h5py
    import numpy as np
except ImportError as e:
    print(f"skipped: {e}")
    sys.exit(77)
os.makedirs(work, exist_ok=True)
tool = os.path.join(src, "bench", "three_body_tail.py")
model = os.path.join(src, "models", "benzene-gfn2.h5")
mol = os.path.join(src, "models", "benzene.xyz")
fails = 0


def check(ok, what):
    global fails
    print(("ok   " if ok else "FAIL ") + what)
    fails += not ok


def frame(path, side, lattice=None):
    lines = open(mol).read().split("\n")
    n = int(lines[0])
    atoms = [(ln.split()[0], np.array([float(v) for v in ln.split()[1:4]]))
             for ln in lines[2:2 + n]]
    c = sum(x for _, x in atoms) / n
    rng = np.random.default_rng(3)
    out = []
    for gx in range(2):
        for gy in range(2):
            for gz in range(2):
                q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
                centre = (np.array([gx, gy, gz]) + 0.5) * side / 2
                out += [(s, centre + q @ (x - c)) for s, x in atoms]
    lat = lattice or f"{side} 0 0 0 {side} 0 0 0 {side}"
    with open(path, "w") as f:
        f.write(f"{len(out)}\nLattice=\"{lat}\" Properties=species:S:1:pos:R:3 pbc=\"T T T\"\n")
        for s, x in out:
            f.write(f"{s} {x[0]:.6f} {x[1]:.6f} {x[2]:.6f}\n")


def run(*args):
    return subprocess.run([sys.executable, tool] + list(args), capture_output=True, text=True)


if case == "run":
    fr = os.path.join(work, "grid.extxyz")
    frame(fr, 13.0)
    js = os.path.join(work, "tail.json")
    p = run("--model", model, "--frames", fr, "--frame", "0", "--cutoffs", "10,12",
            "--densities", "0.7,0.8", "--uniform", "2,3", "--json", js)
    print(p.stdout, p.stderr)
    check(p.returncode == 0, "the tool runs")
    if p.returncode == 0:
        d = json.load(open(js))
        r = d["rows"]
        check(d["molecules"] == 8 and d["model_cutoff3_A"] == 8.0, "8 molecules, cutoff3 8 Å")
        e = [[c["energy_meV_per_molecule"] for c in row["cutoffs"]] for row in r]
        check(all(x > 0 for row in e for x in row), "the triples beyond 8 Å add energy")
        check(all(row[1] > row[0] for row in e), "more to 12 Å than to 10")
        check(e[1][1] > e[0][1], "more at the higher density")
        u = d["uniform_fluid"]
        u2, u3 = (x["energy_meV_per_molecule"]["0.7"] for x in u)
        check(0 < u2 < u3, f"uniform fluid positive, growing with RMIN ({u2:.2f}, {u3:.2f})")
        check(f"{e[0][1]:+.2f} meV/molecule" in p.stdout, "the JSON holds what was printed")
        # the tail from the run: tail3 = E_m V_m^2 / S_m at the largest cutoff, written into a copy
        out = os.path.join(work, "tail3.h5")
        p = run("--model", model, "--frames", fr, "--frame", "0", "--cutoffs", "10,12",
                "--densities", "0.7,0.8", "--json", js, "--write-tail3", out)
        check(p.returncode == 0 and os.path.exists(out), "--write-tail3 writes the model copy")
        if p.returncode == 0:
            t = json.load(open(js))["tail3"]
            with h5py.File(model, "r") as f:
                c6 = np.array(f["dispersion"].attrs["c6"]).reshape(2, 2)  # C, H
                s9 = float(f["dispersion"].attrs["s9"])
            cnt = [6, 6]
            sm = sum(cnt[i] * cnt[j] * cnt[k] * s9 * np.sqrt(c6[i, j] * c6[i, k] * c6[j, k] / 27.211386245988)
                     for i in range(2) for j in range(2) for k in range(2)) / 6
            want = [e[k][1] / 1000 * (78.114 / (rho * 0.602214076)) ** 2 / sm
                    for k, rho in enumerate((0.7, 0.8))]
            with h5py.File(out, "r") as f:
                got = float(f["dispersion"].attrs["tail3"])
            check(abs(got - np.mean(want)) < 1e-3 * abs(np.mean(want)) and got > 0,
                  f"tail3 {got:.6g} Å^-3 = mean of E_m V_m^2 / S_m {np.mean(want):.6g}")
            # and again from the JSON alone (--from-json), the same value
            out2 = os.path.join(work, "tail3b.h5")
            p = run("--model", model, "--from-json", js, "--molecule", mol, "--write-tail3", out2)
            with h5py.File(out2, "r") as f:
                got2 = float(f["dispersion"].attrs["tail3"])
            check(p.returncode == 0 and abs(got2 - got) < 1e-12 * got, "--from-json gives the same tail3")
elif case == "refusals":
    fr = os.path.join(work, "grid.extxyz")
    frame(fr, 13.0)
    no3 = os.path.join(work, "no3.h5")
    shutil.copy(model, no3)
    with h5py.File(no3, "r+") as f:
        f["dispersion"].attrs["s9"] = 0.0
    tri = os.path.join(work, "tri.extxyz")
    frame(tri, 13.0, "13 0 0 2 13 0 0 0 13")
    for args, want in [
            (["--model", no3, "--frames", fr], "has no three-body dispersion term"),
            (["--model", model, "--frames", tri], "the frame's Lattice must be cubic"),
            (["--model", model, "--frames", fr, "--cutoffs", "8"],
             "--cutoffs must all exceed the model's cutoff3, 8 Å"),
            (["--model", model, "--frames", fr, "--atoms-per-molecule", "7"],
             "96 atoms is not a whole number of 7-atom molecules"),
            (["--model", model], "--frames LIQUID.extxyz is needed (or --from-json)"),
            (["--model", model, "--from-json", fr], "--from-json needs --molecule MOL.xyz and "
             "--write-tail3 OUT.h5"),
            (["--model", model, "--from-json", fr, "--molecule", mol, "--write-tail3",
              os.path.join(work, "x.h5")], "not a three_body_tail.py JSON")]:
        p = run(*args)
        check(p.returncode != 0 and want in p.stderr, f"refused: {want} ({p.stderr.strip()})")
else:
    sys.exit(f"unknown case {case}")
sys.exit(1 if fails else 0)
