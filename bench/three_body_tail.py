#!/usr/bin/python3
"""three_body_tail.py — what a model's three-body (ATM) dispersion cutoff leaves out of a liquid
(issue 21): the same liquid frame, molecules rigid, scaled to several densities, evaluated by
copies of the model that differ only in /dispersion cutoff3 (and a pair cutoff large enough for
the largest); per molecule, the energy the triples beyond the model's cutoff3 add, and the
configurational pressure they add (-dE/dV with the box and the molecules' centres scaled by
1 +- 0.001 in length: the molecular virial). A uniform density of triples makes that energy
grow as the density squared, and its pressure 2 n E (n molecules per volume); the report
gives both, measured, so that the law can be seen to hold.

usage: three_body_tail.py --model MODEL.h5 --frames LIQUID.extxyz [--frame K]
                          [--atoms-per-molecule N] [--cutoffs 10,12,14]
                          [--densities 0.70,0.75,0.80,0.874] [--uniform 2,3,4] [--json FILE]
The frame: a periodic liquid in extended XYZ with a cubic Lattice, molecules in order (e.g.
bench/dump2extxyz.sh of a LAMMPS dump). Runs on the CPU through the Python binding.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "python"))
sys.path.insert(0, here)
from teacher_bulk import EV_A3_BAR, STRAIN, scaled  # noqa: E402  (rigid molecules, as there)

EH_EV = 27.211386245988


def uniform_tail(disp, counts, rc, rmin, rmax=30.0, h=0.1):
    """Per molecule (counts: atoms of each model element in one; disp: the model's /dispersion
    attributes), the three-body energy of the
    triples with a side beyond rc in a uniform fluid of unit molecular density, eV * A^6: the
    energy per molecule at n molecules per A^3 is this times n^2. Triangle coordinates:
    d3r_j d3r_k = 8 pi^2 a b c da db dc; each unordered triple once (1/6 of the ordered)."""
    ne = len(counts)
    c6 = np.array(disp["c6"]).reshape(ne, ne)
    c8 = np.array(disp["c8"]).reshape(ne, ne)
    a1, a2, s9, alp = (float(disp[k]) for k in ("a1", "a2", "s9", "alp"))
    r0 = a1 * np.sqrt(np.where(c6 > 0, c8 / np.where(c6 > 0, c6, 1), 0)) + a2
    x = np.arange(rmin + h / 2, rmax, h)
    A, B, C = np.meshgrid(x, x, x, indexing="ij")
    ok = (A + B > C) & (A + C > B) & (B + C > A) & (np.maximum(np.maximum(A, B), C) >= rc)
    A, B, C = A[ok], B[ok], C[ok]
    a, b, c = A * A, B * B, C * C
    u, v, t = a + c - b, a - c + b, -a + c + b
    r1 = A * B * C
    ang = 0.375 * u * v * t / r1 ** 5 + 1 / r1 ** 3
    w = 8 * np.pi ** 2 * r1 * h ** 3
    total = 0.0
    for i in range(ne):
        for j in range(ne):
            for k in range(ne):
                c9 = s9 * np.sqrt(c6[i, j] * c6[i, k] * c6[j, k] / EH_EV)
                q = (r0[i, j] * r0[i, k] * r0[j, k] / r1) ** (alp / 3)
                total += counts[i] * counts[j] * counts[k] * (w * c9 * ang / (1 + 6 * q)).sum() / 6
    return total
AVOGADRO = 6.02214076e23


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--frames", required=True)
    ap.add_argument("--frame", type=int, default=-1)
    ap.add_argument("--atoms-per-molecule", type=int, default=12)
    ap.add_argument("--cutoffs", default="10,12,14")
    ap.add_argument("--densities", default="0.70,0.75,0.80,0.874")
    ap.add_argument("--uniform", default="")
    ap.add_argument("--json")
    a = ap.parse_args()
    import ase.io
    import h5py

    from mlff import Calculator

    with h5py.File(a.model, "r") as f:
        if "dispersion" not in f or not f["dispersion"].attrs.get("s9", 0) > 0:
            sys.exit(f"three_body_tail.py: {a.model} has no three-body dispersion term "
                     "(/dispersion with s9 > 0)")
        own = float(f["dispersion"].attrs["cutoff3"])
        elements = [e.decode() if isinstance(e, bytes) else str(e) for e in f.attrs["elements"]]
        disp = {k: f["dispersion"].attrs[k] for k in f["dispersion"].attrs}
    cuts = [own] + [float(c) for c in a.cutoffs.split(",")]
    if any(c <= own for c in cuts[1:]):
        sys.exit(f"three_body_tail.py: --cutoffs must all exceed the model's cutoff3, {own:g} Å")
    at0 = ase.io.read(a.frames, index=a.frame)
    cell = np.array(at0.cell)
    L0 = cell[0, 0]
    if not np.allclose(cell, np.diag(np.diag(cell))) or not np.allclose(np.diag(cell), L0):
        sys.exit(f"three_body_tail.py: {a.frames}: the frame's Lattice must be cubic")
    n, nat = len(at0), a.atoms_per_molecule
    if n % nat:
        sys.exit(f"three_body_tail.py: {n} atoms is not a whole number of {nat}-atom molecules "
                 "(--atoms-per-molecule)")
    nm = n // nat
    mass = at0.get_masses()
    el = at0.get_chemical_symbols()
    # molecules whole (each about its first atom)
    xm = at0.get_positions().reshape(nm, nat, 3)
    d = xm - xm[:, :1]
    d -= L0 * np.round(d / L0)
    xm = (xm[:, :1] + d).reshape(-1, 3)
    rho0 = mass.sum() / AVOGADRO / (L0 ** 3 * 1e-24)
    tmp = tempfile.mkdtemp(prefix="three_body_tail.")
    calcs = {}
    for c3 in cuts:
        p = os.path.join(tmp, f"c{c3:g}.h5")
        shutil.copy(a.model, p)
        with h5py.File(p, "r+") as f:
            f["dispersion"].attrs["cutoff"] = max(cuts[-1], float(f["dispersion"].attrs["cutoff"]))
            f["dispersion"].attrs["cutoff3"] = c3
        calcs[c3] = Calculator(p, device="cpu")

    def energy(c3, s):  # the frame with its molecules' centres and box scaled by s
        y, L = scaled(el, xm, L0, s, nat)
        at = ase.Atoms(el, positions=y, cell=[L, L, L], pbc=True)
        at.calc = calcs[c3]
        return at.get_potential_energy(), at.get_volume()

    print(f"{a.frames} frame {a.frame}: {nm} molecules of {nat} atoms, box {L0:.3f} Å, "
          f"{rho0:.4f} g/cm3; model {a.model}, cutoff3 {own:g} Å")
    rows = []
    for rho in [float(r) for r in a.densities.split(",")]:
        s = (rho0 / rho) ** (1 / 3)
        row = {"density_g_cm3": rho, "cutoffs": []}
        base = None
        for c3 in cuts:
            e, _ = energy(c3, s)
            (ep, vp), (em, vm) = energy(c3, s * (1 + STRAIN)), energy(c3, s * (1 - STRAIN))
            p = -(ep - em) / (vp - vm) * EV_A3_BAR
            if base is None:
                base = (e, p)
                continue
            de = (e - base[0]) / nm
            nv = nm / (L0 * s) ** 3
            row["cutoffs"].append({"cutoff3_A": c3, "energy_meV_per_molecule": 1000 * de,
                                   "pressure_bar": p - base[1],
                                   "pressure_2nE_bar": 2 * nv * de * EV_A3_BAR,
                                   "energy_over_rho2": 1000 * de / rho ** 2})
        rows.append(row)
        print(f"  {rho:.3f} g/cm3: " + "; ".join(
            f"to {c['cutoff3_A']:g} Å {c['energy_meV_per_molecule']:+.2f} meV/molecule, "
            f"{c['pressure_bar']:+.0f} bar (2nE {c['pressure_2nE_bar']:+.0f})"
            for c in row["cutoffs"]), flush=True)
    shutil.rmtree(tmp, ignore_errors=True)
    uniform = []
    if a.uniform:
        sym = at0.get_chemical_symbols()[:nat]
        missing = sorted(set(sym) - set(elements))
        if missing:
            sys.exit(f"three_body_tail.py: the model has no element {', '.join(missing)}")
        counts = [sym.count(e) for e in elements]
        for rmin in [float(r) for r in a.uniform.split(",")]:
            k = uniform_tail(disp, counts, own, rmin)
            row = {"rmin_A": rmin, "energy_meV_per_molecule": {}}
            for r in rows:
                nv = r["density_g_cm3"] / (mass[:nat].sum() / AVOGADRO) * 1e-24
                row["energy_meV_per_molecule"][f"{r['density_g_cm3']:g}"] = 1000 * k * nv * nv
            uniform.append(row)
            print(f"  uniform fluid, g = 1 from {rmin:g} Å: " + ", ".join(
                f"{d} g/cm3 {e:+.2f}" for d, e in row["energy_meV_per_molecule"].items()) +
                " meV/molecule", flush=True)
    out = {"source": "bench/three_body_tail.py (issue 21)", "model": os.path.basename(a.model),
           "frames": os.path.basename(a.frames), "frame": a.frame, "molecules": nm,
           "frame_density_g_cm3": rho0, "model_cutoff3_A": own, "rows": rows, "uniform_fluid": uniform}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
        print(f"  json {a.json}")


if __name__ == "__main__":
    main()
