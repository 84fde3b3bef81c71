#!/usr/bin/env python3
"""bench/liquid_structure.py on synthetic dumps of known structure (unit; numpy and scipy, 77 =
skipped without them).

  order:    a lattice of flat six-atom rings (C6H6-like, 12 atoms) on a simple cubic grid of 6 Å,
            frame 1 all parallel (⟨P2⟩ = 1; stacked pairs along z only when the grid is 4 Å
            there), frame 2 the same centres with random orientations (⟨P2⟩ near 0), frame 3 with
            a cavity (the molecules within 7 Å of the box centre removed from a larger box: the
            largest empty sphere grows by more than 3 Å, the empty share rises); density and
            the molecules kept are checked against the numbers the construction gives;
            molecules are counted by bonds, across the periodic boundary too.
  refusals: a dump without the x column, an atom type without an element, a triclinic box, an
            element with no covalent radius, a missing file: exit non-zero naming what is wrong.
usage: test_liquid_structure.py REPO WORKDIR CASE
"""
import json
import math
import os
import subprocess
import sys

try:
    import numpy as np
    import scipy  # noqa: F401
except ImportError:
    print("numpy or scipy not importable: skipped")
    sys.exit(77)

REPO, WORK, CASE = sys.argv[1:4]
SCRIPT = os.path.join(REPO, "bench", "liquid_structure.py")
RING_C, RING_H = 1.40, 2.48


def ring(normal_rot):
    """12 atoms of a benzene-like ring in the plane normal to z, rotated by the matrix."""
    a = np.arange(6) * math.pi / 3
    c = np.stack([RING_C * np.cos(a), RING_C * np.sin(a), 0 * a], 1)
    h = np.stack([RING_H * np.cos(a), RING_H * np.sin(a), 0 * a], 1)
    return np.concatenate([c, h]) @ normal_rot.T, [1] * 6 + [2] * 6


def random_rot(rng):
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def frame(f, step, box, centres, rots):
    xs, ts = [], []
    for c, r in zip(centres, rots):
        x, t = ring(r)
        xs.append(np.mod(x + c, box))  # wrapped: molecules cross the boundary
        ts += t
    x = np.concatenate(xs)
    f.write(f"ITEM: TIMESTEP\n{step}\nITEM: NUMBER OF ATOMS\n{len(x)}\n"
            "ITEM: BOX BOUNDS pp pp pp\n")
    for b in box:
        f.write(f"0 {b}\n")
    f.write("ITEM: ATOMS id type x y z\n")
    for k, (p, t) in enumerate(zip(x, ts)):
        f.write(f"{k + 1} {t} {p[0]:.5f} {p[1]:.5f} {p[2]:.5f}\n")


def run(args):
    return subprocess.run([sys.executable, SCRIPT] + args, capture_output=True, text=True)


def fail(msg, p=None):
    print("FAILED:", msg)
    if p is not None:
        print(p.stdout[-3000:], p.stderr[-3000:])
    sys.exit(1)


def order():
    rng = np.random.default_rng(7)
    n = 6
    box = np.array([6.0 * n, 6.0 * n, 4.0 * n])  # columns along z, 4 Å apart
    g = np.stack(np.meshgrid(*[np.arange(n)] * 3, indexing="ij"), -1).reshape(-1, 3)
    centres = (g + 0.25) * box / n
    eye = [np.eye(3)] * len(centres)
    dump = os.path.join(WORK, "order.dump")
    with open(dump, "w") as f:
        frame(f, 0, box, centres, eye)
        frame(f, 1000, box, centres, [random_rot(rng) for _ in centres])
    # the cavity: a larger cubic lattice without the molecules near its centre
    box2 = np.array([6.0 * 8] * 3)
    g2 = np.stack(np.meshgrid(*[np.arange(8)] * 3, indexing="ij"), -1).reshape(-1, 3)
    c2 = (g2 + 0.5) * 6.0
    rots2 = [random_rot(rng) for _ in c2]
    keep = np.linalg.norm(c2 - box2 / 2, axis=1) > 7.0
    full, cav = os.path.join(WORK, "full.dump"), os.path.join(WORK, "cavity.dump")
    with open(full, "w") as f:
        frame(f, 0, box2, c2, rots2)
    with open(cav, "w") as f:
        frame(f, 0, box2, c2[keep], [r for r, k in zip(rots2, keep) if k])
    out = os.path.join(WORK, "order.json")
    p = run([dump, "--elements", "C H", "--shell", "4.5", "--json", out])
    if p.returncode != 0:
        fail("order.dump", p)
    fr = json.load(open(out))["frames"]
    mass = 6 * 12.011 + 6 * 1.008
    rho = len(centres) * mass / 0.602214076 / np.prod(box)
    checks = [
        (json.load(open(out))["molecules"] == len(centres), "molecules by bonds across the box"),
        (abs(fr[0]["density_g_cm3"] - rho) < 1e-5, f"density {fr[0]['density_g_cm3']} vs {rho}"),
        (fr[0]["molecules_intact"] == len(centres), "all intact"),
        (abs(fr[0]["p2_first_shell"] - 1.0) < 1e-4, f"parallel P2 {fr[0]['p2_first_shell']}"),
        (abs(fr[0]["coordination"] - 2.0) < 1e-9, f"coordination {fr[0]['coordination']} "
         "(the two column neighbours at 4 Å within 4.5)"),
        (abs(fr[0]["stacked_pairs_per_molecule"] - 1.0) < 1e-9, "one stacked pair per molecule"),
        (abs(fr[1]["p2_first_shell"]) < 0.15, f"random P2 {fr[1]['p2_first_shell']}"),
        (fr[1]["stacked_pairs_per_molecule"] < 0.3, "few stacked when random"),
        (abs(fr[1]["time_ps"] - 0.5) < 1e-12, f"time of step 1000 {fr[1]['time_ps']}"),
    ]
    for name, f_ in (("full", full), ("cavity", cav)):
        p = run([f_, "--elements", "C H", "--json", os.path.join(WORK, name + ".json")])
        if p.returncode != 0:
            fail(name, p)
    a = json.load(open(os.path.join(WORK, "full.json")))["frames"][0]
    b = json.load(open(os.path.join(WORK, "cavity.json")))["frames"][0]
    checks += [
        (b["largest_empty_sphere_A"] > a["largest_empty_sphere_A"] + 3.0,
         f"largest empty sphere {a['largest_empty_sphere_A']} -> {b['largest_empty_sphere_A']}"),
        (b["empty_share"] > a["empty_share"], f"empty share {a['empty_share']} -> {b['empty_share']}"),
    ]
    bad = [m for ok, m in checks if not ok]
    if bad:
        fail("; ".join(bad))
    print("order: " + "; ".join(m for _, m in checks))


def refusals():
    good = os.path.join(WORK, "one.dump")
    with open(good, "w") as f:
        frame(f, 0, np.array([20.0] * 3), np.array([[10.0, 10, 10]]), [np.eye(3)])
    text = open(good).read()
    cases = []
    p = os.path.join(WORK, "nox.dump")
    open(p, "w").write(text.replace("id type x y z", "id type q y z"))
    cases.append(([p, "--elements", "C H"], "columns ['id', 'type', 'q', 'y', 'z'], need"))
    cases.append(([good, "--elements", "C"], "atom types [2] have no element in --elements 'C'"))
    p = os.path.join(WORK, "tri.dump")
    open(p, "w").write(text.replace("ITEM: BOX BOUNDS pp pp pp", "ITEM: BOX BOUNDS xy xz yz pp pp pp"))
    cases.append(([p, "--elements", "C H"], "an orthorhombic box is needed"))
    cases.append(([good, "--elements", "C Xe"], "no mass or covalent radius for ['Xe']"))
    cases.append(([os.path.join(WORK, "none.dump"), "--elements", "C H"], "cannot read"))
    for args, want in cases:
        r = run(args)
        if r.returncode == 0 or want not in r.stderr:
            fail(f"{args}: want a refusal with {want!r}", r)
    print(f"refusals: {len(cases)} refused with their messages")


os.makedirs(WORK, exist_ok=True)
{"order": order, "refusals": refusals}[CASE]()
