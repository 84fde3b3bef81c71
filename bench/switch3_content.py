#!/usr/bin/python3
"""switch3_content.py — what a smooth three-body cutoff takes from a liquid (docs/model.md,
switch3): one periodic frame (a LAMMPS data file, atom_style atomic, orthogonal box), evaluated by
the model and by copies of it that differ only in the three-body term's cutoff3 and switch3;
per molecule, each copy's energy minus the model's. A switch below the model's cutoff3 weighs
down triples the model counts whole, so the difference is what the smooth form removes (or,
with a longer cutoff3, what it adds); the networks of a model trained with one form cannot give
it back with the other.

usage: switch3_content.py --model MODEL.h5 --data LIQUID.data --atoms-per-molecule N
                          --variants CUTOFF3:SWITCH3[,CUTOFF3:SWITCH3 ...] [--elements "C H"]
                          [--json FILE]
Runs on the CPU through the Python binding (a 12,288-atom frame: ~10 s per copy on 2 cores).
"""
import argparse
import json
import os
import sys

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "python"))
sys.path.insert(0, here)
from validate_data import read_data  # noqa: E402


def fail(msg):
    sys.exit(f"switch3_content.py: {msg}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--atoms-per-molecule", type=int, required=True)
    ap.add_argument("--variants", required=True, help="CUTOFF3:SWITCH3[,...], Å")
    ap.add_argument("--elements", default="C H", help="the data file's atom types, in order")
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    variants = []
    for v in a.variants.split(","):
        try:
            c3, sw = (float(t) for t in v.split(":"))
        except ValueError:
            fail(f"--variants: '{v}' is not CUTOFF3:SWITCH3 (two numbers in Å, e.g. 8.5:1)")
        variants.append((c3, sw))
    import mlff
    m = mlff.Model(a.model)
    p0 = m.dispersion
    if not p0 or p0.get("s9", 0) <= 0:
        fail(f"{a.model}: the model has no three-body dispersion term (/dispersion s9)")
    typ, x, box = (np.array(v) for v in read_data(a.data))
    types = a.elements.split()
    if typ.min() < 1 or typ.max() > len(types):
        fail(f"{a.data}: atom types {typ.min()}..{typ.max()}, but --elements names {len(types)}")
    sp = m.species([types[t - 1] for t in typ])
    if len(x) % a.atoms_per_molecule:
        fail(f"{a.data}: {len(x)} atoms are not whole molecules of {a.atoms_per_molecule}")
    n_mol = len(x) // a.atoms_per_molecule
    ev = mlff.Evaluator(m, device="cpu")
    cell = np.diag(box)
    e0 = ev.compute(x, sp, cell, True)["energy"]
    rows = []
    for c3, sw in variants:
        p = dict(p0, cutoff3=c3, switch3=sw)
        try:
            m.set_dispersion(p)
        except mlff.MlffError as e:
            fail(f"--variants {c3}:{sw}: {e}")
        de = (ev.compute(x, sp, cell, True)["energy"] - e0) / n_mol * 1000.0
        rows.append({"cutoff3": c3, "switch3": sw, "dE_meV_per_molecule": de})
        print(f"cutoff3 {c3:g} Å, switch3 {sw:g} Å: E - E(model) = {de:+.3f} meV per molecule")
    vol = float(np.prod(box))
    res = {"source": "bench/switch3_content.py", "model": a.model, "data": a.data,
           "model_cutoff3": p0["cutoff3"], "model_switch3": p0.get("switch3", 0.0),
           "molecules": n_mol, "volume_A3": vol, "variants": rows}
    print(f"model: cutoff3 {p0['cutoff3']:g} Å, switch3 {p0.get('switch3', 0.0):g} Å; "
          f"{n_mol} molecules in {vol:.1f} Å^3")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
