#!/usr/bin/env python3
"""dispersion_d4.py — the long-range dispersion of a model (docs/model.md) from D4, for any
molecules: fixed C6 and C8 per pair of elements, with GFN2-xTB's Becke-Johnson damping by default.

  scripts/dispersion_d4.py --molecule benzene.xyz [--molecule water.xyz ...] --out disp.h5
      [--cutoff 12] [--tail yes|no] [--s6 1 --s8 2.7 --a1 0.52 --a2-bohr 5.0]
      [--three-body yes|no --s9 5 --cutoff3 8 --alp 16 --switch3 0]

D4 (the `dftd4` package from PyPI, the reference implementation; installed on first use into a
virtual environment in the mlff cache, never a run-time dependency of mlff) gives the C6 of every
pair of atoms of the molecules, each molecule alone (its atoms' coordination numbers and charges
as in the molecule). C6 of elements a, b is the mean over all pairs of atoms (i of a, j of b) of
all molecules together; C8 = 3 C6 r4r2_a r4r2_b with D4's r4r2 (read back from dftd4 itself on a
pair of distant atoms). The output is an HDF5 file with the /dispersion group of a model file and
an `elements` attribute: `mlff train --dispersion disp.h5` puts it into the model, and the networks
learn the teacher minus this term.

With --three-body yes (the default) the file also carries D4's three-body (Axilrod-Teller-Muto)
term over triples within --cutoff3: its C9 = s9 sqrt(C6 C6 C6) from the C6 above, with s9 the
given one (GFN2: 5) times the least-squares ratio of dftd4's three-body interaction energy to this
form's on the molecules' dimers, trimers and 7-molecule clusters (D4 takes that term's C6 at zero
charge, which dftd4's Python API does not give).

How close the fixed-C6 form is to D4 is printed and written beside the output (disp.h5 ->
disp.json): for each molecule, its dimer, trimer and 7-molecule cluster, the dispersion energy by
this form against dftd4's two-body energy (s9 = 0) and with its three-body term (--s9).
"""
import argparse
import json
import os
import subprocess
import sys

BOHR = 0.529177210903  # Å
HARTREE = 27.211386245988  # eV
DFTD4_VERSION = "4.3.1"
SYMBOLS = ["", "H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne", "Na", "Mg", "Al", "Si", "P",
           "S", "Cl", "Ar", "K", "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn",
           "Ga", "Ge", "As", "Se", "Br", "Kr"]


def venv_python():
    """The interpreter of a cached virtual environment with dftd4, numpy and h5py."""
    cache = os.environ.get("MLFF_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "mlff")
    venv = os.path.join(cache, "venv-dftd4-" + DFTD4_VERSION)
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(os.path.join(venv, ".complete")):
        print(f"dispersion_d4: installing dftd4 {DFTD4_VERSION} into {venv} (once)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([py, "-m", "pip", "install", "-q", f"dftd4=={DFTD4_VERSION}", "numpy",
                        "h5py"], check=True)
        open(os.path.join(venv, ".complete"), "w").close()
    return py


def read_xyz(path):
    with open(path) as f:
        lines = f.read().splitlines()
    try:
        n = int(lines[0].split()[0])
        atoms = [l.split() for l in lines[2:2 + n]]
        z = [SYMBOLS.index(a[0].capitalize()) for a in atoms]
        x = [[float(v) for v in a[1:4]] for a in atoms]
    except (ValueError, IndexError) as e:
        sys.exit(f"dispersion_d4: {path}: not an XYZ file (count, comment, then 'El x y z' "
                 f"lines): {e}")
    if len(z) != n:
        sys.exit(f"dispersion_d4: {path}: the first line says {n} atoms, the file has {len(z)}")
    return z, x


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--molecule", action="append", required=True, help="XYZ file (repeatable)")
    ap.add_argument("--out", required=True, help="HDF5 file to write")
    ap.add_argument("--cutoff", type=float, default=12.0, help="Å (default 12)")
    ap.add_argument("--tail", choices=["yes", "no"], default="yes")
    ap.add_argument("--s6", type=float, default=1.0)
    ap.add_argument("--s8", type=float, default=2.7)
    ap.add_argument("--a1", type=float, default=0.52)
    ap.add_argument("--a2-bohr", type=float, default=5.0)
    ap.add_argument("--s9", type=float, default=5.0, help="three-body weight (GFN2: 5)")
    ap.add_argument("--three-body", choices=["yes", "no"], default="yes",
                    help="put D4's three-body (ATM) term into the model (default yes)")
    ap.add_argument("--cutoff3", type=float, default=8.0,
                    help="Å, the three-body term's cutoff on all three sides (default 8)")
    ap.add_argument("--alp", type=float, default=16.0, help="three-body damping exponent (D4: 16)")
    ap.add_argument("--switch3", type=float, default=0.0,
                    help="Å, the three-body term's smooth cutoff below --cutoff3 (docs/model.md; "
                         "default 0: a hard cutoff)")
    a = ap.parse_args()
    if not 0.0 <= a.switch3 < min(a.cutoff3, a.cutoff):
        ap.error(f"--switch3 {a.switch3} Å: the smooth cutoff's width must be >= 0 and below "
                 f"--cutoff3 ({min(a.cutoff3, a.cutoff)} Å)")
    if os.environ.get("MLFF_DISPERSION_IN_VENV") != "1":
        env = dict(os.environ, MLFF_DISPERSION_IN_VENV="1")
        sys.exit(subprocess.run([venv_python(), os.path.abspath(__file__)] + sys.argv[1:],
                                env=env).returncode)
    import h5py
    import numpy as np
    from dftd4.interface import DampingParam, DispersionModel

    mols = [read_xyz(p) for p in a.molecule]
    elements = sorted({z for zs, _ in mols for z in zs})
    idx = {z: k for k, z in enumerate(elements)}
    ne = len(elements)

    def r4r2(z):  # D4's sqrt(0.5 <r4>/<r2> sqrt(Z)) from dftd4: two atoms 20 Bohr apart
        m = DispersionModel(np.array([z, z]), np.array([[0.0, 0, 0], [0, 0, 20.0]]))
        c6 = m.get_properties()["c6 coefficients"][0, 1]
        e8 = m.get_dispersion(DampingParam(s6=0.0, s8=1.0, a1=0.0, a2=3.0, s9=0.0),
                              grad=False)["energy"]
        return float(np.sqrt(-e8 * (20.0 ** 8 + 3.0 ** 8) / (3.0 * c6)))

    q = np.array([r4r2(z) for z in elements])
    # C6 per atom pair of all molecules together, each molecule far from the others (its atoms'
    # states as in the molecule alone): 60 Å apart along x
    zs = np.concatenate([np.array(z) for z, _ in mols])
    xs = np.concatenate([np.array(x) + [60.0 * k, 0, 0] for k, (_, x) in enumerate(mols)])
    c6_atoms = DispersionModel(zs, xs / BOHR).get_properties()["c6 coefficients"]
    s = np.zeros((ne, ne))
    cnt = np.zeros((ne, ne))
    for i, zi in enumerate(zs):
        for j, zj in enumerate(zs):
            s[idx[zi], idx[zj]] += c6_atoms[i, j]
            cnt[idx[zi], idx[zj]] += 1
    c6 = s / cnt  # Eh Bohr^6
    c8 = 3.0 * c6 * np.outer(q, q)  # Eh Bohr^8
    c6_ev = c6 * HARTREE * BOHR ** 6
    c8_ev = c8 * HARTREE * BOHR ** 8
    a2 = a.a2_bohr * BOHR

    def ours(z, x):  # the fixed-C6 form, eV (no cutoff: small systems)
        x = np.asarray(x)
        e = 0.0
        for i in range(len(z)):
            for j in range(i + 1, len(z)):
                ai, aj = idx[z[i]], idx[z[j]]
                r = np.linalg.norm(x[i] - x[j])
                r0 = a.a1 * np.sqrt(c8_ev[ai, aj] / c6_ev[ai, aj]) + a2
                e -= a.s6 * c6_ev[ai, aj] / (r ** 6 + r0 ** 6) + a.s8 * c8_ev[ai, aj] / (r ** 8 + r0 ** 8)
        return e

    def atm(z, x, s9):  # the three-body form of docs/model.md with these C6, eV (no cutoff)
        x = np.asarray(x)
        e, n = 0.0, len(z)
        r0 = a.a1 * np.sqrt(c8_ev / c6_ev) + a2
        for i in range(n):
            for j in range(i + 1, n):
                for k in range(j + 1, n):
                    t = (idx[z[i]], idx[z[j]], idx[z[k]])
                    rij, rik, rjk = (np.linalg.norm(x[p] - x[q]) for p, q in ((i, j), (i, k), (j, k)))
                    ca = (rij ** 2 + rik ** 2 - rjk ** 2) / (2 * rij * rik)
                    cb = (rij ** 2 + rjk ** 2 - rik ** 2) / (2 * rij * rjk)
                    cc = (rik ** 2 + rjk ** 2 - rij ** 2) / (2 * rik * rjk)
                    rr = rij * rik * rjk
                    c9 = s9 * np.sqrt(c6_ev[t[0], t[1]] * c6_ev[t[0], t[2]] * c6_ev[t[1], t[2]] / HARTREE)
                    damp = 1 / (1 + 6 * (r0[t[0], t[1]] * r0[t[0], t[2]] * r0[t[1], t[2]] / rr) ** (a.alp / 3))
                    e += c9 * (3 * ca * cb * cc + 1) / rr ** 3 * damp
        return e

    def d4(z, x, s9):
        m = DispersionModel(np.array(z), np.asarray(x) / BOHR)
        p = DampingParam(s6=a.s6, s8=a.s8, a1=a.a1, a2=a.a2_bohr, s9=s9)
        return m.get_dispersion(p, grad=False)["energy"] * HARTREE

    three = a.three_body == "yes" and a.s9 > 0
    # Each molecule alone, its dimer and its stacked trimer: the copies moved along the
    # molecule's thinnest principal axis by 3.7 Å
    systems = []
    for path, (z, x) in zip(a.molecule, mols):
        x = np.asarray(x)
        c = x - x.mean(axis=0)
        axis = np.linalg.eigh(c.T @ c)[1][:, 0]
        name = os.path.basename(path)
        systems.append((name, list(z), x, 1))
        systems.append((name + " dimer (3.7 Å)", list(z) * 2, np.vstack([x, x + 3.7 * axis]), 2))
        systems.append((name + " trimer (3.7 Å)", list(z) * 3,
                        np.vstack([x, x + 3.7 * axis, x + 7.4 * axis]), 3))
        # a condensed-phase-like cluster: six randomly turned copies around it, along +-x, y, z,
        # each moved in until it is 2.4 Å from the cluster's atoms (seeded, reproducible)
        rng, xs_c = np.random.default_rng(7), [c]
        for d in np.vstack([np.eye(3), -np.eye(3)]):
            q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
            y = c @ q.T
            t = 12.0
            while t > 0 and min(np.min(np.linalg.norm(y[:, None] + t * d - w[None], axis=2))
                                for w in xs_c) > 2.4:
                t -= 0.1
            xs_c.append(y + (t + 0.1) * d)
        systems.append((name + " cluster of 7", list(z) * 7, np.vstack(xs_c), 7))
    # D4's three-body term takes its C6 at zero charges (dftd4's disp.f90), which its Python API
    # does not give: C9 here is GFN2's s9 times the least-squares ratio of dftd4's three-body
    # interaction energy (the clusters' minus their molecules') to this form's, over these systems
    d4_three = [d4(z, x, a.s9) - d4(z, x, 0.0) for _, z, x, _ in systems] if three else []
    ours_three = [atm(z, x, a.s9) for _, z, x, _ in systems] if three else []
    scale = 1.0
    if three:
        di, oi, mono_k = [], [], 0
        for k, (_, _, _, nm) in enumerate(systems):
            if nm == 1:
                mono_k = k
            else:
                di.append(d4_three[k] - nm * d4_three[mono_k])
                oi.append(ours_three[k] - nm * ours_three[mono_k])
        scale = float(np.dot(di, oi) / np.dot(oi, oi))
    s9 = a.s9 * scale if three else 0.0
    report = {"dftd4_version": DFTD4_VERSION, "damping": {"s6": a.s6, "s8": a.s8, "a1": a.a1,
              "a2_bohr": a.a2_bohr}, "s9_reference": a.s9, "s9": s9,
              "three_body_scale": scale, "systems": []}
    print(f"{'system':<34} {'this form':>11} {'D4 2-body':>11} {'D4 +3-body':>11}  (eV)")
    mono = {}
    for k, (name, z, x, nm) in enumerate(systems):
        row = {"system": name, "this_form_eV": ours(z, x) + (ours_three[k] * scale if three else 0),
               "d4_two_body_eV": d4(z, x, 0.0), "d4_with_three_body_eV": d4(z, x, a.s9)}
        report["systems"].append(row)
        print(f"{name:<34} {row['this_form_eV']:11.5f} {row['d4_two_body_eV']:11.5f} "
              f"{row['d4_with_three_body_eV']:11.5f}")
        if nm == 1:
            mono = row
            continue
        for key in ("this_form_eV", "d4_two_body_eV", "d4_with_three_body_eV"):
            row[key.replace("_eV", "_interaction_eV")] = row[key] - nm * mono[key]
        print(f"{'  its interaction':<34} {row['this_form_interaction_eV']:11.5f} "
              f"{row['d4_two_body_interaction_eV']:11.5f} "
              f"{row['d4_with_three_body_interaction_eV']:11.5f}")
    if three:
        print(f"three-body: s9 {a.s9} x {scale:.4f} (zero-charge C6 of D4's three-body term, fitted "
              f"on the systems above) = {s9:.4f}, cutoff3 {a.cutoff3} Å")

    # to a temporary name renamed when complete, as mlff's own writers: a killed run never
    # leaves a half-written file that `mlff train --dispersion` would read
    tmp = a.out + ".tmp%d" % os.getpid()
    try:
        with h5py.File(tmp, "w") as f:
            g = f.create_group("dispersion")
            g.attrs["elements"] = np.array([SYMBOLS[z] for z in elements], dtype="S")
            for k, v in (("s6", a.s6), ("s8", a.s8), ("a1", a.a1), ("a2", a2),
                         ("cutoff", a.cutoff)):
                g.attrs[k] = np.float64(v)
            g.attrs["tail"] = np.int32(a.tail == "yes")
            if three:
                for k, v in (("s9", s9), ("alp", a.alp), ("cutoff3", min(a.cutoff3, a.cutoff))):
                    g.attrs[k] = np.float64(v)
                if a.switch3 > 0:
                    g.attrs["switch3"] = np.float64(a.switch3)
            g.attrs["c6"] = c6_ev.reshape(-1)
            g.attrs["c8"] = c8_ev.reshape(-1)
            g.attrs["source"] = (f"dftd4 {DFTD4_VERSION} D4 C6 (EEQ charges) averaged over element "
                                 f"pairs of {', '.join(os.path.basename(p) for p in a.molecule)}; "
                                 f"C8 = 3 C6 r4r2_a r4r2_b" + (
                                     f"; three-body s9 = {a.s9} x {scale:.4f} (fitted to dftd4's "
                                     f"three-body energy, its C6 at zero charge)" if three else ""))
        os.replace(tmp, a.out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    with open(os.path.splitext(a.out)[0] + ".json", "w") as f:
        json.dump(report, f, indent=1)
    for i in range(ne):
        for j in range(i, ne):
            print(f"{SYMBOLS[elements[i]]}-{SYMBOLS[elements[j]]}: C6 {c6_ev[i, j]:.4f} eV Å^6, "
                  f"C8 {c8_ev[i, j]:.3f} eV Å^8")
    print(f"wrote {a.out}: cutoff {a.cutoff} Å, tail {a.tail}")


if __name__ == "__main__":
    main()
