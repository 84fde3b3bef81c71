#!/usr/bin/env python3
"""dimer_decompose.py — where a student's dimer-curve errors come from (issue 21).

usage: dimer_decompose.py --dimers DIMERS.json --model MODEL.h5 --molecule MONOMER.xyz
                          [--d4-python PY] [--charges FILE [--fit-charges ORIENTATION]
                          [--dsf ALPHA,CUTOFF]] [--json OUT.json]

Takes the curves of bench/dimer_curves.py (its JSON: the teacher's interaction energy at each
distance, the orientations and the shift) and the same monomer (the teacher-relaxed one the
curves were made from), rebuilds each dimer, and splits both sides of every point:
  teacher  = D4 two-body + D4 three-body + rest   (D4 with GFN2-xTB's damping: s6 1, s8 2.7,
             a1 0.52, a2 5.0 bohr, s9 5; from the PyPI dftd4 package run by --d4-python, a
             Python that imports it, e.g. scripts/dispersion_d4.py's venv); the rest is
             what GFN2-xTB adds beyond its dispersion: repulsion, exchange, electrostatics;
  student  = network + its dispersion's two-body + its three-body (the model evaluated with
             its dispersion, with the three-body term off, and with none; Python binding),
             + its electrostatics where it has them (evaluated without them too).
It prints each point and the MAE of the student against the teacher (points where the teacher
is below +50 meV, as dimer_curves.py) over all points, over those whose closest intermolecular
contact is inside the model's cutoff and those beyond it (where the network sees nothing), and
two "what if"s: the student with D4's whole three-body term instead of its own (cut at
cutoff3), and in addition with the teacher's rest beyond the cutoff. --charges FILE (one
charge per monomer atom, e, as xtb's `charges` file) adds the Coulomb energy of those point
charges between the two molecules: how much of the rest fixed atomic charges would carry.
Nothing is fitted, except with --fit-charges ORIENTATION: one scale of the charges (least
squares of the rest against scale^2 x Coulomb) over that orientation's points beyond the
cutoff, then judged on the other orientations' points beyond it (held out): whether fixed
charges of the right size carry the teacher's long-range rest, and what a network would still
have to learn inside the cutoff (the rest less the scaled Coulomb energy, per point). --dsf
ALPHA,CUTOFF takes the Coulomb energy in the damped-shifted-force form of a model's
electrostatics (docs/model.md) instead of bare 1/r, so that the fitted charges are those to give
`mlff train --electrostatics`: the fit prints them per element (the mean of the scaled charges
of that element, and their spread) as that option's value.
Needs numpy and the mlff Python package (python/, MLFF_LIBRARY).
"""
import argparse
import json
import math
import os
import subprocess
import sys

import numpy as np

import dimer_curves as dc

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(here), "python"))

WELL_MEV = 50.0
# runs under --d4-python: geometries on stdin, D4 interaction energies (meV) on stdout
D4_CODE = r"""
import json, sys
import numpy as np
from dftd4.interface import DampingParam, DispersionModel
BOHR, MEV = 0.52917721067, 27.211386245988 * 1000.0
Z = {"H": 1, "C": 6, "N": 7, "O": 8}
def e(els, pos, s9):
    m = DispersionModel(np.array([Z[x] for x in els]), np.array(pos) / BOHR)
    p = DampingParam(s6=1.0, s8=2.7, a1=0.52, a2=5.0, s9=s9)
    return m.get_dispersion(p, grad=False)["energy"] * MEV
out = []
for q in json.load(sys.stdin):
    els, pos, n = q["els"], np.array(q["pos"]), q["n"]
    two, every = [e(els, pos, s9) - e(els[:n], pos[:n], s9) - e(els[n:], pos[n:], s9)
                  for s9 in (0.0, 5.0)]
    out.append({"d4_2b": two, "d4_3b": every - two})
json.dump(out, sys.stdout)
"""


def die(msg):
    sys.exit(f"dimer_decompose.py: {msg}")


def mae(xs):
    return float(np.mean(np.abs(xs))) if len(xs) else None


def num(v):
    """an MAE for the printed summary: none where a set has no points"""
    return "none" if v is None else f"{v:.2f}"


def coulomb_form(r, dsf):
    """1/r, or with dsf = (alpha, rc) the damped shifted force's pair form of electrostatics.h
    (zero beyond rc); the self terms cancel in an interaction energy"""
    if dsf is None:
        return 1.0 / r
    al, rc = dsf
    erfc = np.vectorize(math.erfc)
    fs = -(math.erfc(al * rc) / rc ** 2 + 2.0 * al / math.sqrt(math.pi) * math.exp(-(al * rc) ** 2) / rc)
    es = math.erfc(al * rc) / rc - fs * rc
    return np.where(r < rc, erfc(al * r) / r - es - r * fs, 0.0)


def json_safe(coul):
    """The model's electrostatics for JSON: the bond-charge increments as lists, or left out
    (with their radii and factor) where the model has none"""
    if not coul:
        return coul
    d = dict(coul)
    if not np.any(d["increments"]):
        for k in ("increments", "bond_radii", "bond_factor"):
            d.pop(k)
    else:
        d["increments"] = np.asarray(d["increments"]).tolist()
    return d


def fit_charges(rows, well, cutoff, orientation, q):
    """One scale k of the charges' Coulomb energy (k^2 E_C against the rest, least squares) on
    `orientation`'s points beyond the cutoff; judged on the other points beyond it, and inside
    it where the molecules are not pressed together (closest contact >= 3.5 A: closer, the rest
    is Pauli repulsion); each row gets its scaled Coulomb energy"""
    far = [x for x in well if x["contact_A"] >= cutoff]
    fit = [x for x in far if x["orientation"] == orientation]
    held = [x for x in far if x["orientation"] != orientation]
    c = np.array([x["coulomb_meV"] for x in fit])
    r = np.array([x["teacher_rest_meV"] for x in fit])
    if len(fit) < 2 or not c @ c > 0:
        die(f"--fit-charges {orientation}: {len(fit)} of its points (teacher below "
            f"{WELL_MEV:g} meV) lie beyond the {cutoff:g} A cutoff; at least 2 with a Coulomb "
            "energy are needed")
    k2 = float(r @ c / (c @ c))
    if k2 <= 0:
        die(f"--fit-charges {orientation}: the charges' Coulomb energy has the opposite sign of "
            "the teacher's rest there (no positive scale fits)")
    for x in rows:
        x["coulomb_scaled_meV"] = k2 * x["coulomb_meV"]
    near = [x for x in well if 3.5 <= x["contact_A"] < cutoff]
    less = lambda xs: [x["teacher_rest_meV"] - x["coulomb_scaled_meV"] for x in xs]  # noqa: E731
    return {"fitted_on": orientation, "points": len(fit), "charge_scale": k2 ** 0.5,
            "largest_charge_e": float(np.abs(q).max() * k2 ** 0.5),
            "fit_rest_less_coulomb_mae_meV": mae(less(fit)),
            "held_out": {"points": len(held),
                         "rest_mae_meV": mae([x["teacher_rest_meV"] for x in held]),
                         "rest_less_coulomb_mae_meV": mae(less(held))},
            "inside_cutoff": {"from_contact_A": 3.5, "points": len(near),
                              "rest_mae_meV": mae([x["teacher_rest_meV"] for x in near]),
                              "rest_less_coulomb_mae_meV": mae(less(near))}}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dimers", required=True, help="JSON of bench/dimer_curves.py")
    ap.add_argument("--model", required=True)
    ap.add_argument("--molecule", required=True, help="the monomer the curves were made from")
    ap.add_argument("--d4-python", default=os.path.expanduser(
        "~/.cache/mlff/venv-dftd4-4.3.1/bin/python"), help="a Python that imports dftd4")
    ap.add_argument("--charges", help="one charge per monomer atom (e), e.g. xtb's charges file")
    ap.add_argument("--fit-charges", metavar="ORIENTATION",
                    help="fit one scale of --charges on this orientation's points beyond the "
                    "cutoff, judge it on the others'")
    ap.add_argument("--dsf", metavar="ALPHA,CUTOFF",
                    help="the Coulomb energy in the damped-shifted-force form of mlff's "
                    "electrostatics (alpha in 1/A, cutoff in A) instead of bare 1/r")
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    dsf = None
    if a.dsf:
        try:
            dsf = tuple(float(v) for v in a.dsf.split(","))
        except ValueError:
            dsf = ()
        if len(dsf) != 2 or not dsf[0] >= 0 or not dsf[1] > 0:
            die(f"--dsf {a.dsf}: give ALPHA,CUTOFF with alpha >= 0 (1/A) and cutoff > 0 (A)")
        if not a.charges:
            die("--dsf needs --charges (it is the form of their Coulomb energy)")
    if a.fit_charges and not a.charges:
        die("--fit-charges needs --charges (the charges whose scale it fits)")
    try:
        with open(a.dimers) as f:
            dimers = json.load(f)
        curves, shift = dimers["curves"], dimers["inputs"]["shift_A"]
    except (OSError, ValueError, KeyError) as e:
        die(f"{a.dimers}: not a dimer_curves.py JSON ({e})")
    if not os.access(a.d4_python, os.X_OK):
        die(f"--d4-python {a.d4_python}: not an executable (a Python with the PyPI dftd4 "
            "package: scripts/dispersion_d4.py makes one)")
    import mlff
    els, pos = dc.read_xyz(a.molecule)
    n = len(els)
    q = None
    if a.charges:
        try:
            q = np.loadtxt(a.charges, ndmin=1)
        except (OSError, ValueError) as e:
            die(f"--charges {a.charges}: {e}")
        if q.shape != (n,):
            die(f"--charges {a.charges}: {q.size} charges for a monomer of {n} atoms")
    if a.fit_charges and a.fit_charges not in curves:
        die(f"--fit-charges {a.fit_charges}: {a.dimers} has the orientations "
            f"{', '.join(curves)}")
    dist = sorted({round(p["d_A"], 6) for c in curves.values() for p in c["points"]})
    _, geo = dc.dimers(els, pos, dist, shift)
    items = []
    for o, c in curves.items():
        if o not in geo:
            die(f"{a.dimers}: unknown orientation {o!r}")
        at = {round(d, 6): P for d, P in geo[o]}
        for p in c["points"]:
            if p.get("teacher_meV") is None:
                continue
            P = at[round(p["d_A"], 6)]
            items.append({"orientation": o, "d_A": p["d_A"], "teacher_meV": p["teacher_meV"],
                          "contact_A": dc.min_contact(n, P), "pos": P})
    req = [{"els": els + els, "pos": q["pos"].tolist(), "n": n} for q in items]
    r = subprocess.run([a.d4_python, "-c", D4_CODE], input=json.dumps(req), capture_output=True,
                       text=True)
    if r.returncode:
        die(f"the D4 reference ({a.d4_python}) failed: {r.stderr.strip()[-500:]}")
    d4 = json.loads(r.stdout)
    base = mlff.Model(a.model)
    disp = base.dispersion
    if disp is None:
        die(f"{a.model}: no dispersion term to split")
    cutoff = base.descriptor["Rcr"]  # the network sees nothing beyond it
    sp = base.species(els + els)

    model_coul = base.electrostatics

    def interaction(params, electrostatics=True):
        m = mlff.Model(a.model)
        m.set_dispersion(params)
        if not electrostatics:
            m.set_electrostatics(None)
        ev = mlff.Evaluator(m, device="cpu")
        f = lambda X, s: ev.compute(X, s)["energy"]  # noqa: E731
        return [1000.0 * (f(q["pos"], sp) - f(q["pos"][:n], sp[:n]) - f(q["pos"][n:], sp[n:]))
                for q in items]
    full, two, none = interaction(disp), interaction(dict(disp, s9=0.0)), interaction(None)
    # a model with electrostatics: its network apart from them
    net = interaction(None, electrostatics=False) if model_coul else none
    rows = []
    for it, f, t, z, nz, d in zip(items, full, two, none, net, d4):
        rows.append({"orientation": it["orientation"], "d_A": it["d_A"],
                     "contact_A": round(it["contact_A"], 4), "teacher_meV": it["teacher_meV"],
                     "teacher_d4_2b_meV": d["d4_2b"], "teacher_d4_3b_meV": d["d4_3b"],
                     "teacher_rest_meV": it["teacher_meV"] - d["d4_2b"] - d["d4_3b"],
                     "model_meV": f, "model_network_meV": nz, "model_disp_2b_meV": t - z,
                     "model_disp_3b_meV": f - t})
        if model_coul:
            rows[-1]["model_electrostatics_meV"] = z - nz
        if q is not None:  # Coulomb's constant 14.399645 eV Å e^-2
            P = it["pos"]
            r = np.linalg.norm(P[:n, None, :] - P[None, n:, :], axis=2)
            rows[-1]["coulomb_meV"] = 14399.645 * float((q[:, None] * q[None, :] *
                                                         coulomb_form(r, dsf)).sum())
    well = [x for x in rows if x["teacher_meV"] < WELL_MEV]
    err = np.array([x["model_meV"] - x["teacher_meV"] for x in well])
    inside = np.array([x["contact_A"] < cutoff for x in well], bool)
    d4_3b = np.array([x["teacher_d4_3b_meV"] - x["model_disp_3b_meV"] for x in well])
    rest = np.array([x["teacher_rest_meV"] for x in well]) * ~inside
    summary = {"points": len(well), "cutoff_A": cutoff, "mae_meV": mae(err),
               "inside_cutoff": {"points": int(inside.sum()), "mae_meV": mae(err[inside])},
               "beyond_cutoff": {"points": int((~inside).sum()), "mae_meV": mae(err[~inside])},
               "with_d4_three_body_mae_meV": mae(err + d4_3b),
               "and_teacher_rest_beyond_cutoff_mae_meV": mae(err + d4_3b + rest)}
    if q is not None:
        coul = np.array([x["coulomb_meV"] for x in well]) * ~inside
        far = [x for x in well if x["contact_A"] >= cutoff]
        tot = sum(x["teacher_rest_meV"] for x in far)
        summary["charges"] = a.charges
        summary["coulomb_over_rest_beyond_cutoff"] = (
            sum(x["coulomb_meV"] for x in far) / tot if far and tot else None)
        summary["and_coulomb_beyond_cutoff_mae_meV"] = mae(err + d4_3b + coul)
    if a.fit_charges:
        summary["charge_fit"] = fit_charges(rows, well, cutoff, a.fit_charges, q)
        fit = summary["charge_fit"]
        scaled = q * fit["charge_scale"]
        per = {e: [float(x) for x, s_ in zip(scaled, els) if s_ == e] for e in dict.fromkeys(els)}
        fit["coulomb_form"] = ("dsf alpha %g cutoff %g" % dsf) if dsf else "1/r"
        fit["charges_by_element_e"] = {e: float(np.mean(v)) for e, v in per.items()}
        fit["charge_spread_by_element_e"] = {e: float(np.ptp(v)) for e, v in per.items()}
        if dsf:
            fit["electrostatics_option"] = ",".join(
                ["%s=%.4g" % (e, v) for e, v in fit["charges_by_element_e"].items()] +
                ["alpha=%g" % dsf[0], "cutoff=%g" % dsf[1]])
    for x in rows:
        print(f"{x['orientation'][:10]:10s} {x['d_A']:5.2f} A contact {x['contact_A']:5.2f} | "
              f"teacher {x['teacher_meV']:8.1f} = D4 {x['teacher_d4_2b_meV']:7.1f} "
              f"{x['teacher_d4_3b_meV']:+6.1f} rest {x['teacher_rest_meV']:+7.1f} | model "
              f"{x['model_meV']:8.1f} = net {x['model_network_meV']:+7.1f} disp "
              f"{x['model_disp_2b_meV']:7.1f} {x['model_disp_3b_meV']:+6.1f}"
              + (f" coul {x['model_electrostatics_meV']:+6.1f}" if model_coul else ""))
    print(f"MAE over {summary['points']} points (teacher < {WELL_MEV:g} meV): "
          f"{num(summary['mae_meV'])} meV; contact inside the {cutoff:g} A cutoff "
          f"({summary['inside_cutoff']['points']}) {num(summary['inside_cutoff']['mae_meV'])}, "
          f"beyond ({summary['beyond_cutoff']['points']}) {num(summary['beyond_cutoff']['mae_meV'])}; "
          f"with D4's whole three-body term {num(summary['with_d4_three_body_mae_meV'])}, and the "
          f"teacher's rest beyond the cutoff {num(summary['and_teacher_rest_beyond_cutoff_mae_meV'])}")
    if q is not None and summary["coulomb_over_rest_beyond_cutoff"] is not None:
        print(f"the charges' Coulomb energy beyond the cutoff: "
              f"{summary['coulomb_over_rest_beyond_cutoff']:.3f} of the teacher's rest there; "
              f"with it instead of the rest {num(summary['and_coulomb_beyond_cutoff_mae_meV'])} meV")
    fit = summary.get("charge_fit")
    if fit:
        h = fit["held_out"]
        print(f"charges x {fit['charge_scale']:.3f} (fitted on {fit['points']} {fit['fitted_on']} "
              f"points beyond the cutoff; largest |q| {fit['largest_charge_e']:.3f} e): on the "
              f"{h['points']} held-out points beyond it the teacher's rest has MAE "
              f"{num(h['rest_mae_meV'])} meV, less the scaled Coulomb energy "
              f"{num(h['rest_less_coulomb_mae_meV'])}; inside the cutoff (contact >= "
              f"{fit['inside_cutoff']['from_contact_A']:g} A, {fit['inside_cutoff']['points']} "
              f"points) {num(fit['inside_cutoff']['rest_mae_meV'])} and "
              f"{num(fit['inside_cutoff']['rest_less_coulomb_mae_meV'])}")
        if "electrostatics_option" in fit:
            print(f"as mlff's electrostatics (per element: the mean of its scaled charges; spread "
                  + ", ".join(f"{e} {v:.3g}" for e, v in fit["charge_spread_by_element_e"].items())
                  + f" e): --electrostatics {fit['electrostatics_option']}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"source": "bench/dimer_decompose.py (issue 21)", "dimers": a.dimers,
                       "model": os.path.basename(a.model), "molecule": a.molecule,
                       "model_electrostatics": json_safe(model_coul),
                       "teacher_d4": "dftd4 (PyPI), GFN2-xTB damping s6 1, s8 2.7, a1 0.52, "
                       "a2 5.0 bohr, s9 5", "summary": summary, "points": rows}, f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
