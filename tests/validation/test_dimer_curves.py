#!/usr/bin/env python3
"""Tests of bench/dimer_curves.py.

usage: test_dimer_curves.py REPO WORKDIR CASE [MLFF_TOOL]
  geometry  (unit) the three orientations of benzene and of an asymmetric molecule: centre-of-mass
            distances, the stacking axis, the T's C-H pointing at the ring, rigid monomers
  pipeline  (unit) the whole script with a fake teacher and a fake model (known energies): the
            interaction arithmetic, the MAEs, the points the teacher fails on skipped and listed
  xtb       (slow) the real teacher (the xtb program) and model (MLFF_TOOL with the shipped
            model) on a few distances: finite energies, a bound T-shaped dimer
Needs numpy (exit 77 without it, or without xtb / the model for the xtb case).
"""
import json
import os
import subprocess
import sys

try:
    import numpy as np
except ImportError:
    print("SKIP: numpy is not importable by", sys.executable)
    sys.exit(77)


def fail(msg, *ctx):
    print("FAILED:", msg)
    for c in ctx:
        print("----\n" + (c[-6000:] if isinstance(c, str) else json.dumps(c, indent=1)[-6000:]))
    sys.exit(1)


def check(cond, msg, *ctx):
    if not cond:
        fail(msg, *ctx)


def com(els, pos, dc):
    m = np.array([dc.MASSES[e] for e in els])
    return (m[:, None] * pos).sum(0) / m.sum()


def case_geometry(repo, work, dc):
    els, pos = dc.read_xyz(os.path.join(repo, "models", "benzene.xyz"))
    n = len(els)
    x, E, w = dc.principal_axes(els, pos)
    check(abs(abs(E[2] @ np.array([0, 0, 1.0])) - 1) < 1e-9, "benzene's thinnest axis is z", E)
    check(abs(np.linalg.det(E) - 1) < 1e-9, "right-handed axes", E)
    x, cur = dc.dimers(els, pos, [3.0, 4.0, 6.5], 1.5)
    intra = np.linalg.norm(x[:, None] - x[None], axis=-1)
    for name, pts in cur.items():
        check(len(pts) == 3, f"{name}: three distances", len(pts))
        for d, p in pts:
            a, b = p[:n], p[n:]
            dist = np.linalg.norm(com(els, b, dc) - com(els, a, dc))
            check(abs(dist - d) < 1e-9, f"{name} at {d}: COM distance {dist}")
            check(np.allclose(np.linalg.norm(b[:, None] - b[None], axis=-1), intra),
                  f"{name}: B is a rigid copy of A")
            check(np.allclose(a, x), f"{name}: A is the centred monomer")
    for d, p in cur["stacked"]:
        check(np.allclose(p[n:, 2] - p[:n, 2], d) and np.allclose(p[n:, :2], p[:n, :2]),
              "sandwich: B straight above A")
    for d, p in cur["parallel-displaced"]:
        shift = com(els, p[n:], dc) - com(els, p[:n], dc)
        check(abs(np.hypot(shift[0], shift[1]) - 1.5) < 1e-9 and np.allclose(p[n:, 2], p[n, 2]),
              "parallel displaced: 1.5 Å in the plane, B parallel to A", shift)
    for d, p in cur["T-shaped"]:
        b = p[n:]
        k = int(np.argmin(b[:, 2]))
        check(els[k] == "H" and abs(b[k, 0]) < 1e-9 and abs(b[k, 1]) < 1e-9,
              "T: B's lowest atom is an H on A's axis", b)
        check(abs(b[k, 2] - (d - 2.481)) < 1e-6, "T: C-H along the axis", b[k])
        nb = np.cross(b[1] - b[0], b[2] - b[0])
        check(abs(nb[2]) < 1e-9, "T: B's plane is perpendicular to A's", nb)
    # an asymmetric molecule (no degenerate axes): still rigid, COM distances right
    els2 = ["C", "C", "O", "H", "H", "H", "H", "H", "H"]
    pos2 = np.array([[-1.17, -0.40, 0.0], [0.17, 0.35, 0.0], [1.17, -0.65, 0.0],
                     [-1.27, -1.03, 0.89], [-1.27, -1.03, -0.89], [-2.00, 0.31, 0.0],
                     [0.27, 0.99, 0.89], [0.27, 0.99, -0.89], [2.02, -0.19, 0.0]])
    x2, E2, w2 = dc.principal_axes(els2, pos2)
    check(w2[0] > w2[1] > w2[2] and abs(np.linalg.det(E2) - 1) < 1e-9, "ethanol's axes", w2)
    x2, cur2 = dc.dimers(els2, pos2, [5.0], 1.5)
    m = len(els2)
    for name, pts in cur2.items():
        d, p = pts[0]
        check(abs(np.linalg.norm(com(els2, p[m:], dc) - com(els2, p[:m], dc)) - 5.0) < 1e-9,
              f"ethanol {name}: COM distance")
        check(np.allclose(np.linalg.norm(p[m:, None] - p[None, m:], axis=-1),
                          np.linalg.norm(x2[:, None] - x2[None], axis=-1)), f"{name}: rigid")
    check(dc.parse_range("3:8:0.25") == [3.0 + 0.25 * k for k in range(21)], "3:8:0.25")


FAKE_ENERGY = '''
import sys
import numpy as np
def energy(els, pos):  # a pair potential between the two halves, plus one per atom
    n = len(els)
    e = -1.0 * n
    if n == 24:
        r = np.linalg.norm(pos[:12, None] - pos[None, 12:], axis=-1)
        e += float((np.exp(-(r - 1.5)) - 0.5 * np.exp(-(r - 1.5) / 2)).sum()) * 0.01
    return e
'''

FAKE_XTB = FAKE_ENERGY + '''
import shutil
lines = open(sys.argv[1]).read().splitlines()
n = int(lines[0])
els = [l.split()[0] for l in lines[2:2 + n]]
pos = np.array([[float(v) for v in l.split()[1:4]] for l in lines[2:2 + n]])
if n == 24 and np.linalg.norm(pos[:12, None] - pos[None, 12:], axis=-1).min() < 1.6:
    print("abnormal termination of xtb")
    sys.exit(1)
if "--opt" in sys.argv:
    shutil.copy(sys.argv[1], "xtbopt.xyz")
print("          | TOTAL ENERGY       %.12f Eh   |" % (energy(els, pos) / 27.211386245988))
'''

FAKE_MLFF = FAKE_ENERGY + '''
assert sys.argv[1] == "energy"
lines = open(sys.argv[3]).read().splitlines()
i, k = 0, 0
while i < len(lines):
    n = int(lines[i])
    els = [l.split()[0] for l in lines[i + 2:i + 2 + n]]
    pos = np.array([[float(v) for v in l.split()[1:4]] for l in lines[i + 2:i + 2 + n]])
    e = energy(els, pos) + (0.002 if n == 24 else 0.0)  # the model: 2 meV off per dimer
    print("frame %d: %d atoms  energy %.8f eV" % (k, n, e))
    i += n + 2
    k += 1
'''


def case_pipeline(repo, work, dc):
    for name, body in (("xtb", FAKE_XTB), ("mlff", FAKE_MLFF)):
        p = os.path.join(work, f"fake_{name}")
        open(p, "w").write(f"#!{sys.executable}\n" + body)
        os.chmod(p, 0o755)
    model = os.path.join(work, "fake.h5")
    open(model, "wb").write(b"not a model")
    js = os.path.join(work, "dimers.json")
    p = subprocess.run([sys.executable, os.path.join(repo, "bench", "dimer_curves.py"),
                        "--model", model, "--xtb", os.path.join(work, "fake_xtb"),
                        "--mlff", os.path.join(work, "fake_mlff"), "--distances", "3:6:0.5",
                        "--json", js, "--work", work, "--no-plot", "--jobs", "2",
                        "--label", "fake"], capture_output=True, text=True)
    check(p.returncode == 0, f"dimer_curves.py exit {p.returncode}", p.stdout, p.stderr)
    res = json.load(open(js))
    t = res["curves"]["T-shaped"]
    skipped = [q for q in t["points"] if q["teacher_meV"] is None]
    check(len(skipped) == 1 and skipped[0]["d_A"] == 3.0 and
          "abnormal" in skipped[0]["teacher_failed"], "T at 3 Å: the teacher fails, skipped", t)
    check(res["skipped"] == [{"orientation": "T-shaped", "d_A": 3.0,
                              "reason": skipped[0]["teacher_failed"]}], "listed", res["skipped"])
    check("skipped: T-shaped at 3.0" in p.stdout, "and printed", p.stdout)
    for name, c in res["curves"].items():
        s = c["stats"]
        check(abs(s["mae_meV"] - 2.0) < 1e-3 and abs(s["max_abs_err_meV"] - 2.0) < 1e-3,
              f"{name}: MAE 2 meV", s)
        check(s["points"] == (6 if name == "T-shaped" else 7), f"{name}: points", s)
    ov = res["overall"]
    check(ov["points"] == 20 and ov["skipped"] == 1 and abs(ov["mae_meV"] - 2.0) < 1e-3,
          "overall: 20 points, 1 skipped, MAE 2 meV", ov)
    # the interaction: E(dimer) - 2 E(monomer) of the fake teacher's pair sum, in meV
    els, pos = dc.read_xyz(os.path.join(repo, "models", "benzene.xyz"))
    x, cur = dc.dimers(els, pos, [4.0], 1.5)
    r = np.linalg.norm(cur["stacked"][0][1][:12, None] - cur["stacked"][0][1][None, 12:],
                       axis=-1)
    want = float((np.exp(-(r - 1.5)) - 0.5 * np.exp(-(r - 1.5) / 2)).sum()) * 10.0
    got = [q for q in res["curves"]["stacked"]["points"] if q["d_A"] == 4.0][0]["teacher_meV"]
    check(abs(got - want) < 1e-5, f"interaction {got} vs {want} meV")


def case_xtb(repo, work, dc, tool=None):
    import shutil
    model = os.path.join(repo, "models", "benzene-gfn2.h5")
    if not shutil.which("xtb") or not tool or not os.path.exists(tool) or \
            not os.path.exists(model):
        print("SKIP: needs the xtb program, the mlff tool and models/benzene-gfn2.h5")
        sys.exit(77)
    js = os.path.join(work, "dimers.json")
    p = subprocess.run([sys.executable, os.path.join(repo, "bench", "dimer_curves.py"),
                        "--mlff", tool, "--distances", "3.5:5.5:1.0", "--json", js,
                        "--work", work, "--jobs", "2", "--label", "xtb-test"],
                       capture_output=True, text=True, timeout=600)
    check(p.returncode == 0, f"dimer_curves.py exit {p.returncode}", p.stdout, p.stderr)
    res = json.load(open(js))
    check(res["inputs"]["monomer"].startswith("teacher-relaxed"), "relaxed monomer", res)
    t5 = [q for q in res["curves"]["T-shaped"]["points"] if q["d_A"] == 5.5][0]
    check(t5["teacher_meV"] is not None and -200 < t5["teacher_meV"] < -20,
          "GFN2 binds the T-shaped benzene dimer at 5.5 Å", t5)
    check(res["overall"]["mae_meV"] is not None and res["overall"]["points"] == 9,
          "nine points, an MAE", res["overall"])
    print(p.stdout)


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        sys.exit(2)
    repo, work, case = sys.argv[1:4]
    sys.path.insert(0, os.path.join(repo, "bench"))
    import dimer_curves as dc
    work = os.path.join(work, case)
    os.makedirs(work, exist_ok=True)
    if case == "geometry":
        case_geometry(repo, work, dc)
    elif case == "pipeline":
        case_pipeline(repo, work, dc)
    elif case == "xtb":
        case_xtb(repo, work, dc, sys.argv[4] if len(sys.argv) > 4 else None)
    else:
        print(__doc__)
        sys.exit(2)
    print(f"PASS {case}")


if __name__ == "__main__":
    main()
