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
                          [--write-tail3 OUT.h5]
       three_body_tail.py --model MODEL.h5 --from-json RUN.json [RUN.json ...]
                          --molecule MOL.xyz --write-tail3 OUT.h5 [--json FILE]
The frame: a periodic liquid in extended XYZ with a cubic Lattice, molecules in order (e.g.
bench/dump2extxyz.sh of a LAMMPS dump). Runs on the CPU through the Python binding.

--write-tail3 OUT.h5 writes a copy of the model with the three-body term's mean-field tail
(/dispersion attribute tail3, docs/model.md): from the energy the triples between cutoff3 and the
largest --cutoffs add per molecule at each density, E_m, tail3 = E_m V_m^2 / S_m with V_m the
volume per molecule and S_m = (1/6) sum_abc c_a c_b c_c C9_abc over the molecule's atoms (so
that a box gains tail3 S / V^2); the mean over densities (and runs) is written, the spread
reported. Triples beyond the largest cutoff are not in it (the report gives the geometric
extrapolation of the increments as an estimate of what they add). --from-json takes the rows of
earlier runs' JSON files instead of measuring (the molecule file gives the composition).
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
from validate_data import masses_of  # noqa: E402

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


def c9_sum(disp, counts):
    """S_m = (1/6) sum_abc c_a c_b c_c C9_abc (eV A^9) for a molecule with counts[a] atoms of
    each model species, C9 as the model computes it (docs/model.md)."""
    ne = len(counts)
    c6 = np.array(disp["c6"], float).reshape(ne, ne)
    s9 = float(disp["s9"])
    return sum(counts[i] * counts[j] * counts[k] * s9 * np.sqrt(c6[i, j] * c6[i, k] * c6[j, k] / EH_EV)
               for i in range(ne) for j in range(ne) for k in range(ne)) / 6.0


def tail3_fit(rows, disp, counts, mol_mass):
    """tail3 (A^-3) from each row's energy at the largest cutoff: E_m V_m^2 / S_m per density."""
    s_m = c9_sum(disp, counts)
    per, extra = [], []
    for r in rows:
        cs = sorted(r["cutoffs"], key=lambda c: c["cutoff3_A"])
        e_m = cs[-1]["energy_meV_per_molecule"] / 1000.0
        v_m = mol_mass / (r["density_g_cm3"] * AVOGADRO * 1e-24)
        per.append({"density_g_cm3": r["density_g_cm3"], "cutoff3_A": cs[-1]["cutoff3_A"],
                    "energy_meV_per_molecule": 1000 * e_m, "tail3_A-3": e_m * v_m * v_m / s_m})
        if len(cs) >= 3:  # increments between the last cutoffs, extrapolated geometrically
            d1 = cs[-2]["energy_meV_per_molecule"] - cs[-3]["energy_meV_per_molecule"]
            d2 = cs[-1]["energy_meV_per_molecule"] - cs[-2]["energy_meV_per_molecule"]
            if d1 > 0 and 0 < d2 < d1:
                extra.append(d2 * (d2 / d1) / (1 - d2 / d1) / cs[-1]["energy_meV_per_molecule"])
    t = [p["tail3_A-3"] for p in per]
    return {"tail3_A-3": float(np.mean(t)), "spread_A-3": [float(min(t)), float(max(t))],
            "per_density": per, "s_m_eV_A9": s_m,
            "beyond_largest_cutoff_estimate_pct": 100 * float(np.mean(extra)) if extra else None}


def write_tail3(model, out, tail3):
    import h5py
    shutil.copy(model, out + ".part")
    with h5py.File(out + ".part", "r+") as f:
        f["dispersion"].attrs["tail3"] = float(tail3)
    os.replace(out + ".part", out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--frames", help="the liquid frames (extended XYZ; not with --from-json)")
    ap.add_argument("--frame", type=int, default=-1)
    ap.add_argument("--atoms-per-molecule", type=int, default=12)
    ap.add_argument("--cutoffs", default="10,12,14")
    ap.add_argument("--densities", default="0.70,0.75,0.80,0.874")
    ap.add_argument("--uniform", default="")
    ap.add_argument("--json")
    ap.add_argument("--write-tail3", metavar="OUT.h5")
    ap.add_argument("--from-json", nargs="+", metavar="RUN.json")
    ap.add_argument("--molecule", help="the molecule (XYZ), with --from-json")
    a = ap.parse_args()
    import ase.io
    import h5py

    try:
        with h5py.File(a.model, "r") as f:
            if "dispersion" not in f or not f["dispersion"].attrs.get("s9", 0) > 0:
                sys.exit(f"three_body_tail.py: {a.model} has no three-body dispersion term "
                         "(/dispersion with s9 > 0)")
            own = float(f["dispersion"].attrs["cutoff3"])
            elements = [e.decode() if isinstance(e, bytes) else str(e) for e in f.attrs["elements"]]
            disp = {k: f["dispersion"].attrs[k] for k in f["dispersion"].attrs}
    except OSError as e:
        sys.exit(f"three_body_tail.py: cannot read the model {a.model}: {e}")
    if a.from_json:
        if not a.molecule or not a.write_tail3:
            sys.exit("three_body_tail.py: --from-json needs --molecule MOL.xyz and --write-tail3 OUT.h5")
        sym = ase.io.read(a.molecule).get_chemical_symbols()
        missing = sorted(set(sym) - set(elements))
        if missing:
            sys.exit(f"three_body_tail.py: the model has no element {', '.join(missing)}")
        rows = []
        for path in a.from_json:
            try:
                d = json.load(open(path))
                rows += d["rows"]
                if float(d["model_cutoff3_A"]) != own:
                    sys.exit(f"three_body_tail.py: {path} measured cutoff3 {d['model_cutoff3_A']} Å, "
                             f"the model's is {own:g} Å")
            except (OSError, ValueError, KeyError) as e:
                sys.exit(f"three_body_tail.py: {path}: not a three_body_tail.py JSON ({e})")
        fit = tail3_fit(rows, disp, [sym.count(e) for e in elements], sum(masses_of(sym)))
        report_tail3(a, fit)
        return
    if not a.frames:
        sys.exit("three_body_tail.py: --frames LIQUID.extxyz is needed (or --from-json)")
    from mlff import Calculator

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
    if a.write_tail3:
        sym = at0.get_chemical_symbols()[:nat]
        out["tail3"] = tail3_fit(rows, disp, [sym.count(e) for e in elements], mass[:nat].sum())
        report_tail3(a, out["tail3"], write_json=False)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
        print(f"  json {a.json}")


def report_tail3(a, fit, write_json=True):
    for p in fit["per_density"]:
        print(f"  {p['density_g_cm3']:.3f} g/cm3: {p['energy_meV_per_molecule']:+.2f} meV/molecule "
              f"to {p['cutoff3_A']:g} Å -> tail3 {p['tail3_A-3']:.5g} Å^-3")
    est = fit["beyond_largest_cutoff_estimate_pct"]
    print(f"  tail3 {fit['tail3_A-3']:.5g} Å^-3 (spread {fit['spread_A-3'][0]:.5g} .. "
          f"{fit['spread_A-3'][1]:.5g})" + (f"; beyond the largest cutoff, by extrapolation, about "
                                            f"+{est:.1f} % more, not included" if est else ""))
    write_tail3(a.model, a.write_tail3, fit["tail3_A-3"])
    print(f"  wrote {a.write_tail3}: {a.model} with /dispersion tail3 {fit['tail3_A-3']:.6g}")
    if write_json and a.json:
        with open(a.json, "w") as f:
            json.dump({"source": "bench/three_body_tail.py --from-json (issue 21)",
                       "model": os.path.basename(a.model), "from": a.from_json,
                       "tail3": fit}, f, indent=1)
        print(f"  json {a.json}")


if __name__ == "__main__":
    main()
