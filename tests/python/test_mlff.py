#!/usr/bin/env python3
"""Tests of the Python package mlff (python/mlff): the ctypes binding of include/mlff.h and the
ASE calculator. Run by ctest (tests/python/CMakeLists.txt) with Debian's python3, the package
on PYTHONPATH and MLFF_LIBRARY naming the libmlff of the build.

usage: test_mlff.py CASE --repo REPO --work DIR [--layout EXE] [--lmp LMP --lmp-lib DIR
                    --plugin SO]
Cases:
  layout     ctypes structs (sizeof, offsetof), constants and prototypes vs mlff.h (no ASE)
  model      mlff.Model and mlff.Evaluator without ASE: properties, summary, save/load,
             features, extrapolation check, dispersion on and off, life of handles
  forces     forces = -dE/dx by central differences (FP64): benzene, a periodic benzene box,
             a triclinic one, with and without long-range dispersion
  stress     stress vs ASE's finite-difference strain derivative: open molecule in a cell,
             orthorhombic and triclinic boxes, dispersion with its tail
  energies   per-atom energies sum to the energy (less the dispersion tail, which has none)
  batch      calculate_batch of B structures equals B single calls
  errors     refusals: unknown element, missing model file, bad options, C-side errors
  lammps     the same energy, forces, per-atom energies and virial as LAMMPS (lmp + plugin)
  nve        1,000 steps of velocity Verlet in ASE and in LAMMPS (fix nve): same positions
  install    pip install of python/ and how the package finds libmlff
  gpu        the GPU path against the CPU (77 where no GPU is visible)
  example    one of examples/python/*.py (--example NAME) runs to the end
Exit code 77: skipped (no ASE, no GPU).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np

SKIP = 77
ARGS = None


def fail(msg):
    print("FAILED:", msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def need_ase():
    try:
        import ase  # noqa: F401
    except ImportError:
        print("SKIPPED: ASE is not installed (Debian: apt-get install python3-ase)")
        sys.exit(SKIP)


def model_path(name="benzene-gfn2.h5"):
    return os.path.join(ARGS.repo, "models", name)


def network_model():
    """The shipped model's networks alone, its dispersion and electrostatics removed: the cases
    that check the network path (forces against finite differences, which a sharp cutoff would
    cross; energies without a tail) evaluate these; the shipped model itself is checked against
    LAMMPS."""
    import mlff
    m = mlff.Model(model_path())
    m.set_dispersion(None)
    m.set_electrostatics(None)
    return m


def dispersion_model():
    """The shipped networks with D4's two-body dispersion (benzene-gfn2-dispersion.h5: cutoff
    10 Å, tail on, no three-body term)."""
    m = network_model()
    m.load_dispersion(model_path("benzene-gfn2-dispersion.h5"))
    return m


COUL = {"charges": {"C": -0.13, "H": 0.13}, "alpha": 0.2, "cutoff": 9.0}


def electrostatics_model():
    """The shipped networks with fixed-charge electrostatics (COUL) and no dispersion."""
    m = network_model()
    m.set_electrostatics(COUL)
    return m


# ---- structures ---------------------------------------------------------------------------
def benzene(seed=0, jitter=0.05, shift=(0.0, 0.0, 0.0)):
    from ase.io import read
    a = read(model_path("benzene.xyz"))
    rng = np.random.default_rng(seed)
    a.positions += rng.normal(0.0, jitter, a.positions.shape) + np.asarray(shift)
    return a


def random_rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q @ np.diag(np.sign(np.diag(r)))
    return q if np.linalg.det(q) > 0 else -q


def benzene_box(cell, n_side=2, seed=1, jitter=0.03, min_dist=1.9):
    """n_side^3 benzenes of random orientation on a lattice of fractional sites of `cell`,
    periodic, no intermolecular pair closer than min_dist (Å), atoms wrapped into the cell."""
    from ase import Atoms
    from ase.geometry import get_distances
    mol = benzene(seed=seed, jitter=jitter)
    mol.positions -= mol.positions.mean(axis=0)
    cell = np.asarray(cell, float)
    rng = np.random.default_rng(seed)
    syms, pos = [], np.zeros((0, 3))
    for i in range(n_side):
        for j in range(n_side):
            for k in range(n_side):
                for _ in range(500):  # orientations until it fits among those placed
                    frac = (np.array([i, j, k]) + 0.5 + rng.uniform(-0.05, 0.05, 3)) / n_side
                    new = mol.positions @ random_rotation(rng).T + frac @ cell
                    if len(pos) == 0 or get_distances(new, pos, cell=cell, pbc=True)[1].min() >= min_dist:
                        break
                else:
                    fail("could not place a benzene at site %s of cell %s" % ((i, j, k), cell.tolist()))
                pos = np.concatenate([pos, new])
                syms += mol.get_chemical_symbols()
    a = Atoms(syms, positions=pos, cell=cell, pbc=True)
    a.wrap()
    return a


ORTHO = np.diag([12.0, 12.5, 12.2])
TRICLINIC_LMP = np.array([[12.0, 0.0, 0.0], [2.5, 11.5, 0.0], [-1.5, 2.0, 12.2]])  # LAMMPS form
TRICLINIC = np.array([[11.5, 0.4, -0.3], [1.8, 11.2, 0.5], [-1.2, 2.0, 11.8]])  # any orientation


def calc(model=None, **kw):
    import mlff
    kw.setdefault("device", "cpu")
    return mlff.Calculator(model if model is not None else network_model(), **kw)


def rel_err(a, b):
    """max |a - b| / max |b| over all entries (norm-wise relative error)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


# ---- layout --------------------------------------------------------------------------------
def case_layout():
    sys.path.insert(0, os.path.join(ARGS.repo, "python"))
    from mlff import _lib as L
    out = subprocess.run([ARGS.layout], check=True, capture_output=True, text=True).stdout
    sizes, offsets, consts = {}, {}, {}
    for line in out.splitlines():
        w = line.split()
        if len(w) == 3 and w[1] == "size":
            sizes[w[0]] = int(w[2])
        elif len(w) == 3 and w[1] == "offset":
            s, f = w[0].split(".")
            offsets[(s, f)] = int(w[2])
        elif len(w) == 2:
            consts[w[0]] = w[1]
    check(sizes.pop("enum") == L.ctypes.sizeof(L.c_enum), "enum size differs from c_enum")
    n = 0
    check(set(sizes) == set(L.STRUCTS), "structs: C has %s, ctypes %s" % (sorted(sizes), sorted(L.STRUCTS)))
    for name, cls in L.STRUCTS.items():
        check(L.ctypes.sizeof(cls) == sizes[name],
              "sizeof(%s): C %d, ctypes %d" % (name, sizes[name], L.ctypes.sizeof(cls)))
        c_fields = [f for (s, f) in offsets if s == name]
        py_fields = [f[0] for f in cls._fields_]
        check(sorted(c_fields) == sorted(py_fields),
              "%s fields: C %s, ctypes %s" % (name, c_fields, py_fields))
        for f in py_fields:
            off = getattr(cls, f).offset
            check(off == offsets[(name, f)],
                  "offsetof(%s, %s): C %d, ctypes %d" % (name, f, offsets[(name, f)], off))
            n += 1
    for k, v in consts.items():
        py = getattr(L, k)
        check(str(py) == v, "%s: C %s, Python %s" % (k, v, py))
    # every function of mlff.h is declared, with as many arguments as its prototype
    header = open(os.path.join(ARGS.repo, "include", "mlff.h")).read()
    header = re.sub(r"/\*.*?\*/", " ", header, flags=re.S)
    protos = {}
    for m in re.finditer(r"MLFF_API\s+[^;{]*?\b(mlff_\w+)\s*\(([^;]*?)\)\s*(?:__attribute__|;|\n#)", header):
        params = m.group(2).strip()
        protos[m.group(1)] = None if "..." in params else (0 if params in ("", "void") else params.count(",") + 1)
    declared = {name: (None if a is None else len(a)) for name, _, a in L.PROTOTYPES}
    check(set(protos) == set(declared),
          "functions: only in mlff.h %s, only in _lib.py %s"
          % (sorted(set(protos) - set(declared)), sorted(set(declared) - set(protos))))
    for name, k in protos.items():
        check(declared[name] == k, "%s: %s arguments in mlff.h, %s in _lib.py" % (name, k, declared[name]))
    # the library exports them all (and loads through the package's locator)
    lib = L.lib()
    for name in protos:
        check(hasattr(lib, name), "libmlff lacks %s" % name)
    print("layout: %d structs, %d fields, %d constants, %d functions match mlff.h (%s)"
          % (len(sizes), n, len(consts), len(protos), lib._mlff_path))


# ---- model (no ASE) --------------------------------------------------------------------------
def read_xyz(path):
    lines = open(path).read().splitlines()
    n = int(lines[0])
    rows = [l.split() for l in lines[2:2 + n]]
    return [r[0] for r in rows], np.array([[float(x) for x in r[1:4]] for r in rows])


def case_model():
    import mlff
    sym, pos = read_xyz(model_path("benzene.xyz"))
    m = network_model()
    check(m.elements == ("C", "H") and m.n_elements == 2, "elements %s" % (m.elements,))
    check(m.cutoff == 5.2 and m.n_features == 128 and m.arch == "aev-mlp",
          "cutoff %s, features %s, arch %s" % (m.cutoff, m.n_features, m.arch))
    d = m.descriptor
    check(d["Rcr"] == 5.2 and d["Rca"] == 3.5 and len(d["muR"]) == 16, "descriptor %s" % d)
    check(not m.has_dispersion and m.dispersion is None, "dispersion on the plain model")
    check("GFN2-xTB" in m.attr("teacher") and m.attr("no such attribute") == "", "attributes")
    text = m.summary()
    check("aev-mlp" in text and "elements" in text, "summary:\n" + text)
    sp = m.species(sym)
    check(sp.dtype == np.intc and list(sp) == [0] * 6 + [1] * 6, "species %s" % sp)
    ev = mlff.Evaluator(m, device="cpu")
    check(ev.device == "cpu", "device %s" % ev.device)
    r = ev.compute(pos, sp)
    check(set(r) == {"energy", "virial", "forces", "energy_atom"}, "keys %s" % sorted(r))
    rv = ev.compute(pos, sp, per_atom_virial=True)
    check(np.allclose(rv["virial_atom"].sum(axis=0), rv["virial"], rtol=0, atol=1e-12),
          "per-atom virials do not sum to the virial")
    # save and load: the same numbers
    path = os.path.join(ARGS.work, "copy.h5")
    m.set_attr("note", "written by test_mlff.py")
    m.save(path)
    m2 = mlff.Model(path)
    check(m2.attr("note") == "written by test_mlff.py", "attribute not saved")
    r2 = mlff.Evaluator(m2, device="cpu").compute(pos, sp)
    check(r2["energy"] == r["energy"] and np.array_equal(r2["forces"], r["forces"]), "saved model differs")
    # features and the extrapolation check
    f = ev.features(pos, sp)
    check(f.shape == (12, 128) and np.all(np.isfinite(f)), "features %s" % (f.shape,))
    ev.check_range(0.01)
    ev.compute(pos, sp)
    rep = ev.range_report()
    check(rep["n_atoms"] == 0 and rep["element"] is None, "benzene at rest extrapolates: %s" % rep)
    far = pos.copy()
    far[0] += [0.6, 0.0, 0.0]
    ev.compute(far, sp)
    rep = ev.range_report()
    check(rep["n_atoms"] > 0 and rep["element"] in ("C", "H") and rep["excess"] > 0.01,
          "a stretched bond does not extrapolate: %s" % rep)
    ev.check_range(-1)
    print("model: %s; E %.6f eV; stretched C-H: %d atoms outside the training range (%s)"
          % (m, r["energy"], rep["n_atoms"], rep))
    # dispersion: on, changed, off; evaluators made before follow the model
    md = dispersion_model()
    evd = mlff.Evaluator(md, device="cpu")
    e_disp = evd.compute(pos, sp)["energy"]
    p = md.dispersion
    check(p["tail"] and p["cutoff"] == md.cutoff and p["c6"].shape == (2, 2), "dispersion %s" % p)
    md.set_dispersion(dict(p, s6=0.0, s8=0.0))
    check(abs(evd.compute(pos, sp)["energy"] - r["energy"]) <= 1e-12 * abs(r["energy"]),
          "dispersion with s6 = s8 = 0 changes the energy")
    # the three-body term's tail: a periodic box gains dispersion_tail3's energy, an open one not
    md.set_dispersion(dict(p, s9=5.0, alp=16.0, cutoff3=4.0))
    cell = np.eye(3) * 12.0
    e_no, e_open = evd.compute(pos, sp, cell, True)["energy"], evd.compute(pos, sp)["energy"]
    md.set_dispersion(dict(p, s9=5.0, alp=16.0, cutoff3=4.0, tail3=0.05))
    check(evd.compute(pos, sp)["energy"] == e_open, "tail3 changed an open structure")
    check(md.dispersion["tail3"] == 0.05, "tail3 kept: %s" % md.dispersion.get("tail3"))
    cnt = [int(np.sum(np.asarray(sp) == k)) for k in range(md.n_elements)]
    e3, w3 = md.dispersion_tail3(cnt, 12.0 ** 3)
    got = evd.compute(pos, sp, cell, True)["energy"] - e_no
    check(e3 > 0 and abs(got - e3) <= 1e-9 * e3 and abs(w3 - 2 * e3) <= 1e-12 * e3,
          "tail3: the box gains %.9g eV, dispersion_tail3 gives %.9g (virial %.9g)" % (got, e3, w3))
    # its smooth cutoff: kept, and it weighs the monomer's triples whose sides pass 2 Å
    md.set_dispersion(dict(p, s9=5.0, alp=16.0, cutoff3=4.0, switch3=2.0))
    check(md.dispersion["switch3"] == 2.0, "switch3 kept: %s" % md.dispersion.get("switch3"))
    check(evd.compute(pos, sp)["energy"] != e_open, "switch3 left the triples as they were")
    check("smooth cutoff: switch3 2 Å (each side from 2 Å)" in md.summary(),
          "summary without switch3: %s" % md.summary())
    md.set_dispersion(None)
    check(not md.has_dispersion and md.cutoff == 5.2, "dispersion not removed")
    print("model: dispersion adds %.6f eV to the benzene monomer" % (e_disp - r["energy"]))
    # electrostatics: on (kept by save and load, shown by repr), refused, off
    me = electrostatics_model()
    eve = mlff.Evaluator(me, device="cpu")
    e_coul = eve.compute(pos, sp)["energy"] - r["energy"]
    def coul_of(m):  # the keys of COUL, and no increments
        d = m.electrostatics
        return {k: d[k] for k in COUL} if not d["increments"].any() else d
    check(coul_of(me) == COUL and me.cutoff == 9.0 and "electrostatics" in repr(me),
          "electrostatics %s, cutoff %s, %r" % (me.electrostatics, me.cutoff, me))
    me.save(path)
    check(coul_of(mlff.Model(path)) == COUL, "electrostatics not saved")
    # bond-charge increments: C-H -0.13 on benzene gives every C -0.13 and every H +0.13, the
    # charges of COUL: the same energy; the charges through Model.charges and Atoms.get_charges
    mb = network_model()
    inc = np.array([[0.0, -0.13], [0.13, 0.0]])
    mb.set_electrostatics(dict(COUL, charges={"C": 0.0, "H": 0.0}, increments=inc,
                               bond_radii={"C": 0.76, "H": 0.31}))
    qb = mb.charges(pos, sp)
    check(np.allclose(qb, [COUL["charges"][s] for s in sym], atol=1e-15, rtol=0),
          "bond-increment charges %s" % qb)
    e_inc = mlff.Evaluator(mb, device="cpu").compute(pos, sp)["energy"] - r["energy"]
    check(abs(e_inc - e_coul) <= 1e-12 * abs(e_coul), "increments %.12f eV against charges by "
          "element %.12f eV" % (e_inc, e_coul))
    mb.save(path)
    d = mlff.Model(path).electrostatics
    check(np.array_equal(d["increments"], inc) and d["bond_radii"] == {"C": 0.76, "H": 0.31} and
          d["bond_factor"] == 1.25, "increments not saved: %s" % d)
    try:
        from ase import Atoms
    except ImportError:
        Atoms = None
    if Atoms is not None:  # Atoms.get_charges through the calculator
        from ase.calculators.calculator import PropertyNotImplementedError
        ab = Atoms(sym, positions=pos)
        ab.calc = mlff.Calculator(mb, device="cpu")
        check(np.array_equal(ab.get_charges(), qb), "get_charges %s" % ab.get_charges())
        ab.calc = mlff.Calculator(network_model(), device="cpu")
        expect_error(ab.get_charges, "has no electrostatics: it gives atoms no charges",
                     cls=PropertyNotImplementedError)
    for bad, needle in ((dict(COUL, increments=inc), "need bond_radii for every element: none "
                         "for C, H"),
                        (dict(COUL, increments=inc[:1]), "increments: shape (1, 2), expected (2, 2)"),
                        (dict(COUL, increments=[[0, 0.1], [0.1, 0]], bond_radii={"C": 1, "H": 1}),
                         "must be finite and opposite")):
        try:
            mb.set_electrostatics(bad)
            fail("electrostatics %s accepted" % bad)
        except mlff.MlffError as e:
            check(needle in str(e), "message %r lacks %r" % (str(e), needle))
    print("model: bond-charge increments C-H on benzene: charges and energy (%.6f eV) as by element"
          % e_inc)
    for bad, needle in ((dict(COUL, charges={"C": -0.1}), "no charge for H"),
                        (dict(COUL, charges={"C": -0.1, "H": 0.1, "O": 0.0}), "element(s) O not in"),
                        (dict(COUL, cutoff=-1.0), "cutoff is -1")):
        try:
            me.set_electrostatics(bad)
            fail("electrostatics %s accepted" % bad)
        except mlff.MlffError as e:
            check(needle in str(e), "message %r lacks %r" % (str(e), needle))
    me.set_electrostatics(None)
    check(me.electrostatics is None and abs(eve.compute(pos, sp)["energy"] - r["energy"]) <=
          1e-12 * abs(r["energy"]), "electrostatics not removed")
    check(e_coul != 0.0, "electrostatics add nothing")
    print("model: electrostatics add %.6f eV to the benzene monomer" % e_coul)
    # batch without ASE, including an empty structure
    rs = ev.compute_batch([(pos, sp, None, None), (np.zeros((0, 3)), np.zeros(0, int), None, None)])
    check(rs[0]["energy"] == r["energy"] and rs[1]["energy"] == 0.0 and rs[1]["forces"].shape == (0, 3),
          "batch with an empty structure")
    # handles: closing the model frees its evaluators' calcs, and both refuse afterwards
    m.close()
    m.close()  # twice is fine
    for fn in (lambda: m.elements, lambda: ev.compute(pos, sp)):
        try:
            fn()
            fail("a closed model was used")
        except mlff.MlffError as e:
            check("closed" in str(e), "message %r" % str(e))
    check("closed" in repr(m), repr(m))
    with mlff.Model(model_path()) as m3:
        check(m3.n_features == 128, "with-block")
    check(m3._ptr is None, "with-block did not close the model")


# ---- forces -------------------------------------------------------------------------------
def fd_forces(c, atoms, h=2e-4, atoms_idx=None):
    """-dE/dx by the five-point central difference (error O(h^4): ~1e-12 eV/A here, well below
    the round-off of the energy over h), every coordinate of the atoms in atoms_idx."""
    a = atoms.copy()
    a.calc = c
    idx = range(len(a)) if atoms_idx is None else atoms_idx
    out = np.zeros((len(a), 3))
    p0 = a.get_positions()
    for i in idx:
        for x in range(3):
            e = {}
            for s in (2, 1, -1, -2):
                p = p0.copy()
                p[i, x] += s * h
                a.set_positions(p)
                e[s] = a.get_potential_energy()
            out[i, x] = -(-e[2] + 8 * e[1] - 8 * e[-1] + e[-2]) / (12 * h)
    return out


def case_forces():
    need_ase()
    systems = [
        ("benzene (open)", benzene(seed=3), None),
        ("benzene box 8 molecules (orthorhombic)", benzene_box(ORTHO, seed=2), None),
        ("benzene box 8 molecules (triclinic)", benzene_box(TRICLINIC, seed=4), None),
        ("benzene box, dispersion", benzene_box(ORTHO, seed=5), "disp"),
    ]
    worst = 0.0
    for name, atoms, kind in systems:
        c = calc(dispersion_model() if kind == "disp" else None)
        a = atoms.copy()
        a.calc = c
        f = a.get_forces()
        # every coordinate of the molecule; 24 atoms of the boxes (cost: 4 calls each)
        idx = None if len(a) <= 12 else list(range(0, len(a), 4))
        if kind == "disp":
            # the dispersion is cut off sharply (docs/model.md): the energy jumps where a pair
            # crosses its cutoff, so leave out atoms with a pair within the stencil of it
            from ase.neighborlist import neighbor_list
            rc, h = c.model.dispersion["cutoff"], 2e-4
            i, d = neighbor_list("id", a, rc + 1.0)
            near = set(i[np.abs(d - rc) <= 3 * h].tolist())
            idx = [k for k in idx if k not in near]
            print("forces: (dispersion: %d atoms have a pair within %.0e A of the %.0f A cutoff; "
                  "%d atoms checked)" % (len(near), 3 * h, rc, len(idx)))
        fd = fd_forces(c, atoms, atoms_idx=idx)
        sel = slice(None) if idx is None else idx
        err = float(np.max(np.abs(f[sel] - fd[sel])))
        scale = float(np.max(np.abs(f[sel])))
        print("forces: %-42s %3d atoms  max|F| %.3f eV/A  max|F + dE/dx| %.2e eV/A (rel %.1e)"
              % (name, len(a), scale, err, err / scale))
        check(err <= 1e-7 * max(scale, 1.0), "%s: forces differ from -dE/dx by %.3g eV/A" % (name, err))
        worst = max(worst, err / scale)
        # translation invariance: forces sum to zero
        check(np.max(np.abs(f.sum(axis=0))) <= 1e-10 * len(a) * scale, "%s: net force %s" % (name, f.sum(axis=0)))
    print("forces: worst relative difference %.1e" % worst)


# ---- stress -------------------------------------------------------------------------------
def case_stress():
    need_ase()
    from ase.calculators.calculator import PropertyNotImplementedError
    mol = benzene(seed=6, shift=(5.0, 5.0, 5.0))
    mol.set_cell([10.0, 11.0, 12.0])  # open (pbc False), but a cell for the volume
    compressed = benzene_box(np.diag([11.0, 11.0, 11.0]), seed=8, min_dist=1.6)
    systems = [
        ("open benzene in a cell", mol, None),
        ("orthorhombic box", benzene_box(ORTHO, seed=2), None),
        ("triclinic box (LAMMPS form)", benzene_box(TRICLINIC_LMP, seed=7), None),
        ("triclinic box (general)", benzene_box(TRICLINIC, seed=4), None),
        ("compressed box", compressed, None),
        ("triclinic box, dispersion, no tail", benzene_box(TRICLINIC, seed=4), "disp_notail"),
        ("triclinic box, dispersion + tail", benzene_box(TRICLINIC, seed=4), "disp"),
    ]
    for name, atoms, kind in systems:
        model = None
        if kind:
            model = dispersion_model()
            if kind == "disp_notail":
                model.set_dispersion(dict(model.dispersion, tail=False))
        c = calc(model)
        a = atoms.copy()
        a.calc = c
        s = a.get_stress(voigt=True)
        num = c.calculate_numerical_stress(a, d=1e-5, voigt=True)  # ASE's own, from energies
        expected = num.copy()
        if kind == "disp":
            # The dispersion is cut off sharply at its cutoff, and its mean-field tail beyond
            # carries the matching pressure (LAMMPS's ptail): W_t = E_t + (2 pi/3) N^2/V rc^3
            # u(rc), the mean-field share of the pairs crossing the cutoff, which the derivative
            # of the (discontinuous) energy at fixed pairs leaves out. So the stress is the
            # finite difference plus (E_t - W_t)/V on the diagonal, as in LAMMPS.
            sp = model.species(a.get_chemical_symbols())
            cnt = np.bincount(sp, minlength=model.n_elements)
            et = wt = 0.0
            for i in range(model.n_elements):
                for j in range(model.n_elements):
                    e_ij, w_ij = model.dispersion_tail(i, j)
                    et, wt = et + cnt[i] * cnt[j] * e_ij, wt + cnt[i] * cnt[j] * w_ij
            v = a.get_volume()
            expected[:3] += (et / v - wt / v) / v
            print("stress: the tail: E_t %.6f eV, W_t %.6f eV, (E_t - W_t)/V^2 %.3e eV/A^3"
                  % (et / v, wt / v, (et - wt) / v / v))
        err = float(np.max(np.abs(s - expected)))
        scale = float(np.max(np.abs(s)))
        print("stress: %-36s |s| %.3e eV/A^3  max|s - dE/de/V| %.2e (rel %.1e)  p %.4g GPa"
              % (name, scale, err, err / scale, -s[:3].mean() / 6.241509074e-3))
        check(err <= 1e-6 * scale + 1e-11, "%s: stress %s vs finite differences %s" % (name, s, expected))
    # a compressed liquid pushes outwards: positive pressure, negative diagonal stress in ASE
    a = compressed.copy()
    a.calc = calc()
    s = a.get_stress()
    check(-s[:3].mean() > 0, "compressed box: pressure %.3g eV/A^3 should be > 0" % -s[:3].mean())
    # the full 3x3 form is symmetric and matches Voigt
    s33 = a.get_stress(voigt=False)
    check(np.allclose(s33, s33.T, rtol=0, atol=1e-14), "stress tensor not symmetric")
    # no cell, no stress
    b = benzene()
    b.calc = calc()
    try:
        b.get_stress()
        fail("stress of Atoms without a cell did not raise")
    except PropertyNotImplementedError as e:
        print("stress: without a cell: PropertyNotImplementedError (%s)" % e)


# ---- per-atom energies -----------------------------------------------------------------------
def case_energies():
    need_ase()
    import mlff
    for name, atoms, kind in [("benzene", benzene(seed=9), None),
                              ("triclinic box", benzene_box(TRICLINIC, seed=4), None),
                              ("box with dispersion + tail", benzene_box(ORTHO, seed=5), "disp")]:
        model = dispersion_model() if kind == "disp" else network_model()
        a = atoms.copy()
        a.calc = calc(model)
        e, ea = a.get_potential_energy(), a.get_potential_energies()
        check(ea.shape == (len(a),), "energies shape %s" % (ea.shape,))
        tail = 0.0
        if kind == "disp":  # the mean-field tail is a whole-system term (as LAMMPS's pe/atom)
            sp = model.species(a.get_chemical_symbols())
            cnt = np.bincount(sp, minlength=model.n_elements)
            tail = sum(cnt[i] * cnt[j] * model.dispersion_tail(i, j)[0]
                       for i in range(model.n_elements) for j in range(model.n_elements)) / a.get_volume()
            check(tail != 0.0, "dispersion tail is zero")
        d = abs(e - ea.sum() - tail)
        print("energies: %-28s E %.10f eV  sum(e_i) %.10f  tail %.3e  |E - sum - tail| %.1e"
              % (name, e, ea.sum(), tail, d))
        check(d <= 1e-12 * abs(e), "%s: per-atom energies sum to %.15g + tail %.3g, energy %.15g"
              % (name, ea.sum(), tail, e))
        check(a.calc.get_property("free_energy", a) == e, "free_energy differs from energy")


# ---- batch ----------------------------------------------------------------------------------
def case_batch():
    need_ase()
    from ase import Atoms
    dimer = benzene(seed=11) + benzene(seed=12, shift=(0.0, 0.0, 3.6))
    images = [benzene(seed=s) for s in range(5)] + [
        dimer, benzene_box(ORTHO, seed=2), benzene_box(TRICLINIC, seed=4),
        Atoms("CH", positions=[[0, 0, 0], [1.09, 0, 0]])]
    for label, model in [("plain", None), ("dispersion", dispersion_model())]:
        c = calc(model)
        t0 = time.perf_counter()
        batch = c.calculate_batch(images)
        t_batch = time.perf_counter() - t0
        check(len(batch) == len(images), "batch returned %d results for %d" % (len(batch), len(images)))
        worst = {"energy": 0.0, "forces": 0.0, "energies": 0.0, "stress": 0.0}
        t0 = time.perf_counter()
        for a, r in zip(images, batch):
            b = a.copy()
            b.calc = c
            single = {"energy": b.get_potential_energy(), "forces": b.get_forces(),
                      "energies": b.get_potential_energies()}
            if b.cell.rank == 3:
                single["stress"] = b.get_stress()
            check(set(r) == set(single) | {"free_energy"}, "batch keys %s" % sorted(r))
            for k, v in single.items():
                e = rel_err(r[k], v)
                worst[k] = max(worst[k], e)
                check(e <= 1e-12, "%s: batch %s differs from a single call by %.3g (rel)" % (label, k, e))
        t_single = time.perf_counter() - t0
        print("batch (%s): %d structures (%d atoms); max rel. difference to single calls: %s; "
              "%.1f ms batched, %.1f ms one by one"
              % (label, len(images), sum(len(a) for a in images),
                 ", ".join("%s %.1e" % kv for kv in worst.items()), 1e3 * t_batch, 1e3 * t_single))
    check(calc().calculate_batch([]) == [], "empty batch")
    # threads: the CPU path's sums are ordered, so the thread count changes nothing
    box = benzene_box(1.5 * TRICLINIC, n_side=3, seed=13)
    r1 = calc(threads=1).calculate_batch([box])[0]
    r2 = calc(threads=2).calculate_batch([box])[0]
    d = max(rel_err(r2[k], r1[k]) for k in ("energy", "forces", "energies", "stress"))
    print("batch: %d atoms on 1 and 2 threads: max rel. difference %.1e" % (len(box), d))
    check(d <= 1e-14, "2 threads differ from 1 by %.3g" % d)


# ---- errors ----------------------------------------------------------------------------------
def expect_error(fn, *needles, cls=None):
    import mlff
    cls = cls or mlff.MlffError
    try:
        fn()
    except cls as e:
        msg = str(e)
        for n in needles:
            check(n in msg, "error message %r does not name %r" % (msg, n))
        return e
    fail("no %s raised (expected one naming %s)" % (cls.__name__, needles))


def case_errors():
    need_ase()
    import mlff
    from ase import Atoms
    # unknown element
    water = Atoms("OH2", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    water.calc = calc()
    e = expect_error(water.get_potential_energy, "element O", "C, H")
    # the package's own refusals are the thread's last error too (mlff_set_error)
    check(mlff.last_error() == str(e), "last_error %r" % mlff.last_error())
    print("errors: unknown element: %s" % e)
    e = expect_error(lambda: calc().calculate_batch([benzene(), Atoms("NH3", positions=np.eye(4, 3))]),
                     "element N")
    # missing model file: the message names the file
    missing = os.path.join(ARGS.work, "no_such_model.h5")
    e = expect_error(lambda: mlff.Model(missing), missing)
    check(e.status == 1 and e.status_name == "MLFF_ERR_IO", "status %s" % e.status_name)
    expect_error(lambda: mlff.Calculator(missing), missing)
    print("errors: missing model: %s" % e)
    # a file that is not a model
    bogus = os.path.join(ARGS.work, "not_a_model.h5")
    with open(bogus, "w") as f:
        f.write("hello\n")
    e = expect_error(lambda: mlff.Model(bogus), bogus)
    print("errors: not a model: %s" % e)
    # missing dispersion file
    e = expect_error(lambda: mlff.Model(model_path(), dispersion=missing), missing)
    # options
    expect_error(lambda: calc(device="tpu"), "device")
    expect_error(lambda: calc(threads=-2), "threads")
    e = expect_error(lambda: calc(device="cpu", fp16=True), "fp16")
    print("errors: fp16 on the CPU: %s" % e)
    if mlff.gpu_count() == 0:
        e = expect_error(lambda: calc(device="gpu"))
        print("errors: device gpu without one: %s (%s)" % (e, e.status_name))
    # C-side refusals come through with mlff_last_error()'s message
    b = benzene()
    b.positions[3, 1] = np.nan
    b.calc = calc()
    e = expect_error(b.get_potential_energy)
    check(e.status == 3 and mlff.last_error() == str(e), "status %s, last_error %r vs %r"
          % (e.status_name, mlff.last_error(), str(e)))
    print("errors: non-finite position: %s" % e)
    # periodic along a vector of length zero
    b = benzene()
    b.pbc = True
    b.calc = calc()
    e = expect_error(b.get_potential_energy, "length zero")
    # a slab (periodic in x and y, no c vector) works: the missing vector is completed
    s = benzene_box(ORTHO, seed=2)
    s.pbc = [True, True, False]
    s.cell[2] = 0.0
    s.calc = calc()
    es = s.get_potential_energy()
    s2 = s.copy()
    s2.cell[2] = [0.0, 0.0, 50.0]
    s2.calc = calc()
    check(abs(s2.get_potential_energy() - es) <= 1e-12 * abs(es), "slab energy depends on its c vector")
    # a closed model refuses to compute
    m = mlff.Model(model_path())
    cl = calc(m)
    m.close()
    b = benzene()
    b.calc = cl
    expect_error(b.get_potential_energy, "closed")
    print("errors: all refusals as expected")


# ---- LAMMPS ----------------------------------------------------------------------------------
METAL_NKTV2P = 1.6021765e6  # LAMMPS metal: bar per eV/Å^3
METAL_FTM2V = 1.0 / 1.0364269e-4  # LAMMPS metal: (Å/ps^2) per (eV/Å/amu)


def lammps_env():
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = ARGS.lmp_lib + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    env.update(OMP_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    return env


def write_data(path, atoms, elements, velocities=None, box=None, charges=None):
    """A LAMMPS data file (atom_style atomic) of the Atoms, every number exact (%.17g). The cell
    must be in LAMMPS's form (a along x, b in the xy plane), origin 0; `box` overrides it (an
    orthogonal box for a molecule). charges (by element symbol): atom_style charge instead."""
    from ase.data import atomic_masses, atomic_numbers
    cell = np.asarray(box if box is not None else atoms.cell, float)
    check(abs(cell[0, 1]) + abs(cell[0, 2]) + abs(cell[1, 2]) == 0.0, "cell not in LAMMPS form")
    types = {e: k + 1 for k, e in enumerate(elements)}
    masses = atoms.get_masses()
    lines = ["# written by tests/python/test_mlff.py", "", "%d atoms" % len(atoms),
             "%d atom types" % len(elements), "",
             "0 %.17g xlo xhi" % cell[0, 0], "0 %.17g ylo yhi" % cell[1, 1],
             "0 %.17g zlo zhi" % cell[2, 2]]
    if cell[1, 0] or cell[2, 0] or cell[2, 1]:
        lines.append("%.17g %.17g %.17g xy xz yz" % (cell[1, 0], cell[2, 0], cell[2, 1]))
    lines += ["", "Masses", ""]
    for e, t in types.items():  # the Atoms' own masses, so that both integrators see the same
        m = [masses[i] for i, s in enumerate(atoms.get_chemical_symbols()) if s == e]
        lines.append("%d %.17g" % (t, m[0] if m else atomic_masses[atomic_numbers[e]]))
    lines += ["", "Atoms # %s" % ("charge" if charges else "atomic"), ""]
    for i, (s, p) in enumerate(zip(atoms.get_chemical_symbols(), atoms.positions)):
        q = "%.17g " % charges[s] if charges else ""
        lines.append("%d %d %s%.17g %.17g %.17g" % (i + 1, types[s], q, p[0], p[1], p[2]))
    if velocities is not None:
        lines += ["", "Velocities", ""]
        for i, v in enumerate(velocities):
            lines.append("%d %.17g %.17g %.17g" % (i + 1, v[0], v[1], v[2]))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def run_lammps(workdir, script):
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, "in.test"), "w") as f:
        f.write(script)
    p = subprocess.run([ARGS.lmp, "-in", "in.test", "-log", "log.lammps", "-screen", "none"],
                       cwd=workdir, env=lammps_env(), capture_output=True, text=True)
    log = os.path.join(workdir, "log.lammps")
    text = open(log).read() if os.path.exists(log) else ""
    if p.returncode != 0:
        fail("LAMMPS failed (%d) in %s:\n%s\n%s\n%s" % (p.returncode, workdir, text[-4000:], p.stdout[-2000:], p.stderr[-2000:]))
    return text


def read_thermo(text, first_col="Step"):
    """The rows of the last thermo block: dict column -> list of floats."""
    lines = text.splitlines()
    heads = [i for i, l in enumerate(lines) if l.split()[:1] == [first_col]]
    check(heads, "no thermo block in the log")
    h = heads[-1]
    cols = lines[h].split()
    rows = []
    for l in lines[h + 1:]:
        w = l.split()
        if len(w) != len(cols):
            break
        try:
            rows.append([float(x) for x in w])
        except ValueError:
            break
    return {c: [r[k] for r in rows] for k, c in enumerate(cols)}


def read_dump(path):
    """The last frame of a LAMMPS custom dump: dict column -> array, sorted by id."""
    lines = open(path).read().splitlines()
    k = max(i for i, l in enumerate(lines) if l.startswith("ITEM: ATOMS"))
    cols = lines[k].split()[2:]
    n = int(lines[k - 5])
    data = np.array([[float(x) for x in l.split()] for l in lines[k + 1:k + 1 + n]])
    data = data[np.argsort(data[:, cols.index("id")])]
    return {c: data[:, j] for j, c in enumerate(cols)}


def lammps_header(data, model_file, extra=""):
    return """units metal
atom_style atomic
boundary p p p
newton on
atom_modify map array sort 0 0.0
read_data %s
plugin load %s
pair_style mlff %s device cpu
pair_coeff * * C H
%s
neighbor 2.0 bin
neigh_modify every 1 delay 0 check yes
""" % (data, ARGS.plugin, model_file, extra)


def case_lammps():
    need_ase()
    import mlff
    work = os.path.join(ARGS.work, "lammps")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    disp_file = os.path.join(work, "benzene-gfn2-d4pair.h5")  # the dispersion inside the file
    dispersion_model().save(disp_file)
    net_file = os.path.join(work, "benzene-gfn2-network.h5")
    network_model().save(net_file)
    coul_file = os.path.join(work, "benzene-gfn2-electrostatics.h5")
    electrostatics_model().save(coul_file)
    cases = [
        # name, Atoms for Python, LAMMPS box (None = the Atoms' cell), model, pair_modify
        ("benzene (open; LAMMPS: 40 A periodic box)", benzene(seed=21, shift=(20.0, 20.0, 20.0)),
         np.diag([40.0, 40.0, 40.0]), net_file, ""),
        ("8 benzenes, orthorhombic box", benzene_box(ORTHO, seed=2), None, net_file, ""),
        ("8 benzenes, triclinic box", benzene_box(TRICLINIC_LMP, seed=7), None, net_file, ""),
        ("27 benzenes, triclinic box, the shipped model (D4 two- and three-body, tail, charges)",
         benzene_box(1.5 * TRICLINIC_LMP, n_side=3, seed=14), None, model_path(), ""),
        ("27 benzenes, triclinic box, dispersion + tail",
         benzene_box(1.5 * TRICLINIC_LMP, n_side=3, seed=13), None, disp_file, ""),
        ("benzene (open), dispersion (LAMMPS: tail off)", benzene(seed=22, shift=(20.0, 20.0, 20.0)),
         np.diag([40.0, 40.0, 40.0]), disp_file, "pair_modify tail no"),
        ("27 benzenes, triclinic box, electrostatics (9 A)",
         benzene_box(1.5 * TRICLINIC_LMP, n_side=3, seed=15), None, coul_file, ""),
    ]
    worst = {}
    for k, (name, atoms, box, mfile, extra) in enumerate(cases):
        model = mlff.Model(mfile)
        d = os.path.join(work, "case%d" % k)
        os.makedirs(d)
        write_data(os.path.join(d, "data.lmp"), atoms, model.elements, box=box)
        script = lammps_header("data.lmp", mfile, extra) + """
compute peatom all pe/atom
compute vir all pressure NULL virial
thermo_style custom step pe c_vir[1] c_vir[2] c_vir[3] c_vir[4] c_vir[5] c_vir[6] vol
thermo_modify format float %.17g norm no
dump d all custom 1 forces.dump id type x y z fx fy fz c_peatom
dump_modify d sort id format float %.17g
run 0
"""
        run_lammps(d, script)
        th = read_thermo(open(os.path.join(d, "log.lammps")).read())
        dump = read_dump(os.path.join(d, "forces.dump"))
        pe = th["PotEng"][-1]
        vol = th["Volume"][-1]
        # LAMMPS's virial pressure P_ab = W_ab / V * nktv2p (xx yy zz xy xz yz)
        w_lmp = np.array([th["c_vir[%d]" % i][-1] for i in range(1, 7)]) * vol / METAL_NKTV2P
        f_lmp = np.stack([dump["fx"], dump["fy"], dump["fz"]], axis=1)
        x_lmp = np.stack([dump["x"], dump["y"], dump["z"]], axis=1)
        # LAMMPS may round positions (triclinic boxes go through fractional coordinates when
        # read): evaluate in Python exactly where LAMMPS holds the atoms
        dx = float(np.max(np.abs(x_lmp - atoms.positions)))
        check(dx <= 1e-12, "%s: LAMMPS moved the atoms (by %.3g A)" % (name, dx))
        a = atoms.copy()
        a.positions = x_lmp
        c = calc(model)
        a.calc = c
        e, f, ea = a.get_potential_energy(), a.get_forces(), a.get_potential_energies()
        ev = c.evaluator.compute(*c._structure(a))  # the virial itself (open: no volume)
        errs = {"energy": rel_err([e], [pe]), "forces": rel_err(f, f_lmp),
                "energies": rel_err(ea, dump["c_peatom"]), "virial": rel_err(ev["virial"], w_lmp)}
        if a.cell.rank == 3 and a.pbc.all():
            errs["stress"] = rel_err(a.get_stress(), -w_lmp[[0, 1, 2, 5, 4, 3]] / vol)
        print("lammps: %-48s %4d atoms  E %.12f eV (LAMMPS %.12f)  rel.diff %s"
              % (name, len(a), e, pe, "  ".join("%s %.1e" % kv for kv in errs.items())))
        for q, v in errs.items():
            worst[q] = max(worst.get(q, 0.0), v)
            # the virial goes through LAMMPS's pressure in bar and back (nktv2p): round-off
            check(v <= 1e-10, "%s: %s differs from LAMMPS by %.3g (relative)" % (name, q, v))
    print("lammps: worst relative differences Python vs LAMMPS: %s"
          % "  ".join("%s %.1e" % kv for kv in worst.items()))
    # an independent reference for the electrostatics: LAMMPS's own coul/dsf with the same
    # charges gives the energy and forces the term adds to the networks' (its erfc is an
    # approximation good to ~1e-7: hence 1e-5)
    atoms = benzene_box(1.5 * TRICLINIC_LMP, n_side=3, seed=16)
    d = os.path.join(work, "coul_dsf")
    os.makedirs(d)
    write_data(os.path.join(d, "data.lmp"), atoms, ("C", "H"), charges=COUL["charges"])
    run_lammps(d, """units metal
atom_style charge
boundary p p p
atom_modify map array sort 0 0.0
read_data data.lmp
pair_style coul/dsf %.17g %.17g
pair_coeff * *
thermo_style custom step pe
thermo_modify format float %%.17g norm no
dump d all custom 1 forces.dump id x y z fx fy fz
dump_modify d sort id format float %%.17g
run 0
""" % (COUL["alpha"], COUL["cutoff"]))
    pe = read_thermo(open(os.path.join(d, "log.lammps")).read())["PotEng"][-1]
    dump = read_dump(os.path.join(d, "forces.dump"))
    a = atoms.copy()
    a.positions = np.stack([dump["x"], dump["y"], dump["z"]], axis=1)
    parts = []
    for model in (electrostatics_model(), network_model()):
        a.calc = calc(model)
        parts.append((a.get_potential_energy(), a.get_forces()))
    e, f = parts[0][0] - parts[1][0], parts[0][1] - parts[1][1]
    f_lmp = np.stack([dump["fx"], dump["fy"], dump["fz"]], axis=1)
    errs = (rel_err([e], [pe]), rel_err(f, f_lmp))
    print("lammps: electrostatics of %d atoms %.10f eV, LAMMPS coul/dsf %.10f eV: rel.diff energy "
          "%.1e forces %.1e" % (len(a), e, pe, errs[0], errs[1]))
    check(max(errs) <= 1e-5 and abs(pe) > 0.1, "electrostatics differ from LAMMPS's coul/dsf")


def case_nve():
    need_ase()
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary, ZeroRotation
    from ase.md.verlet import VelocityVerlet
    from ase import units
    work = os.path.join(ARGS.work, "nve")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    steps, dt_ps = 1000, 0.0005
    atoms = benzene(seed=31, jitter=0.02, shift=(20.0, 20.0, 20.0))
    MaxwellBoltzmannDistribution(atoms, temperature_K=300.0, rng=np.random.RandomState(31))
    Stationary(atoms)
    ZeroRotation(atoms)
    # Velocity Verlet is the same map in both codes when one unit system is the other rescaled:
    # LAMMPS (metal) updates v += dt/2 * ftm2v * F/m (Å/ps), x += dt v; ASE p += dt_a/2 F,
    # x += dt_a p/m with its time unit Å sqrt(amu/eV). With s = sqrt(ftm2v) (ASE time units
    # per ps, by LAMMPS's constant), dt_a = s dt and v_ase = v_lmp / s make them identical.
    # ASE's own ps (1000 units.fs, CODATA 2014) differs from LAMMPS's by 2.8e-8 relative.
    s = np.sqrt(METAL_FTM2V)
    v_lmp = atoms.get_velocities() * s  # Å/ps, written exactly to the data file
    write_data(os.path.join(work, "data.lmp"), atoms, ("C", "H"), velocities=v_lmp,
               box=np.diag([40.0, 40.0, 40.0]))
    script = lammps_header("data.lmp", model_path()) + """
timestep %.17g
fix integrate all nve
thermo_style custom step pe ke etotal
thermo_modify format float %%.17g norm no
thermo 100
dump d all custom %d traj.dump id xu yu zu vx vy vz
dump_modify d sort id format float %%.17g
run %d
""" % (dt_ps, steps, steps)
    t0 = time.perf_counter()
    text = run_lammps(work, script)
    t_lmp = time.perf_counter() - t0
    th = read_thermo(text)
    end = read_dump(os.path.join(work, "traj.dump"))
    x_lmp = np.stack([end["xu"], end["yu"], end["zu"]], axis=1)
    v_end = np.stack([end["vx"], end["vy"], end["vz"]], axis=1)

    results = {}
    for label, scale in [("LAMMPS's ftm2v", s), ("ASE's units.fs", 1000.0 * units.fs)]:
        a = atoms.copy()
        a.set_velocities(v_lmp / scale)
        # the shipped model in both (LAMMPS's 40 Å box adds a tail: energy, not forces)
        a.calc = calc(model_path())
        t0 = time.perf_counter()
        dyn = VelocityVerlet(a, dt_ps * scale)
        etot0 = a.get_potential_energy() + a.get_kinetic_energy()
        dyn.run(steps)
        t_ase = time.perf_counter() - t0
        dx = float(np.max(np.linalg.norm(a.positions - x_lmp, axis=1)))
        dv = float(np.max(np.abs(a.get_velocities() * scale - v_end)))
        de = abs(a.get_potential_energy() - th["PotEng"][-1])
        drift = a.get_potential_energy() + a.get_kinetic_energy() - etot0
        results[label] = dx
        print("nve: %d steps of %g fs, time unit by %s: max |x_ASE - x_LAMMPS| %.2e A, "
              "max |v diff| %.2e A/ps, |PE diff| %.2e eV; ASE %.1f s, LAMMPS %.1f s; "
              "E_tot end - start %.2e eV" % (steps, 1000 * dt_ps, label, dx, dv, de, t_ase, t_lmp, drift))
    moved = float(np.max(np.linalg.norm(x_lmp - atoms.positions, axis=1)))
    print("nve: the atoms moved up to %.3f A; LAMMPS PE %.6f -> %.6f eV"
          % (moved, th["PotEng"][0], th["PotEng"][-1]))
    check(moved > 0.05, "the atoms hardly moved (%.3g A)" % moved)
    check(results["LAMMPS's ftm2v"] <= 1e-8,
          "positions after %d steps differ by %.3g A (limit 1e-8)" % (steps, results["LAMMPS's ftm2v"]))


# ---- install ---------------------------------------------------------------------------------
def py(code, env, cwd=None):
    p = subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd or ARGS.work,
                       capture_output=True, text=True)
    return p.returncode, (p.stdout + p.stderr).strip()


def case_install():
    import mlff  # the one under test (PYTHONPATH), for the library's path
    libpath = os.path.realpath(mlff.library_path())
    work = ARGS.work
    for d in ("src", "site", "prefix", "fakebuild", "repo"):
        shutil.rmtree(os.path.join(work, d), ignore_errors=True)
    src = os.path.join(work, "src")  # pip builds in the source tree: use a copy
    shutil.copytree(os.path.join(ARGS.repo, "python"), src,
                    ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    target = os.path.join(work, "site")
    missing = [m for m in ("pip", "setuptools", "wheel") if py("import " + m, dict(os.environ))[0]]
    if missing:  # Debian: python3-pip brings all three
        print("SKIPPED: %s lacks %s (Debian: apt-get install python3-pip)" % (sys.executable, ", ".join(missing)))
        sys.exit(SKIP)
    p = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps",
                        "--no-index", "--target", target, src], capture_output=True, text=True)
    check(p.returncode == 0, "pip install failed:\n%s\n%s" % (p.stdout[-3000:], p.stderr[-3000:]))
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MLFF_LIBRARY", "MLFF_BUILD_DIR")}
    probe = "import mlff; print(mlff.__file__); print(mlff.library_path()); print(mlff.Model(%r).elements)" % model_path()
    # 1. MLFF_LIBRARY
    rc, out = py(probe, dict(base, PYTHONPATH=target, MLFF_LIBRARY=libpath))
    check(rc == 0 and out.splitlines()[0].startswith(target) and libpath in out, "installed + MLFF_LIBRARY:\n" + out)
    print("install: pip install --target works; MLFF_LIBRARY: %s" % out.splitlines()[1])
    # 2. the installed prefix next to the package: PREFIX/lib/pythonX.Y/site-packages/mlff
    prefix = os.path.join(work, "prefix")
    site = os.path.join(prefix, "lib", "python%d.%d" % sys.version_info[:2], "site-packages")
    shutil.copytree(os.path.join(target, "mlff"), os.path.join(site, "mlff"))
    os.symlink(libpath, os.path.join(prefix, "lib", "libmlff.so.0"))
    rc, out = py(probe, dict(base, PYTHONPATH=site))
    check(rc == 0 and os.path.join(prefix, "lib", "libmlff.so.0") in out, "installed prefix:\n" + out)
    print("install: found in the prefix: %s" % out.splitlines()[1])
    # 3. a build tree: MLFF_BUILD_DIR/core, and the repository's build/core (from python/)
    fake_build = os.path.join(work, "fakebuild")
    os.makedirs(os.path.join(fake_build, "core"))
    os.symlink(libpath, os.path.join(fake_build, "core", "libmlff.so.0"))
    rc, out = py(probe, dict(base, PYTHONPATH=target, MLFF_BUILD_DIR=fake_build))
    check(rc == 0 and os.path.join(fake_build, "core") in out, "MLFF_BUILD_DIR:\n" + out)
    repo_copy = os.path.join(work, "repo")  # python/mlff -> ../../build/core
    shutil.copytree(os.path.join(target, "mlff"), os.path.join(repo_copy, "python", "mlff"))
    os.makedirs(os.path.join(repo_copy, "include"))
    shutil.copy(os.path.join(ARGS.repo, "include", "mlff.h"), os.path.join(repo_copy, "include"))
    os.makedirs(os.path.join(repo_copy, "build", "core"))
    os.symlink(libpath, os.path.join(repo_copy, "build", "core", "libmlff.so.0"))
    rc, out = py(probe, dict(base, PYTHONPATH=os.path.join(repo_copy, "python")))
    check(rc == 0 and os.path.join(repo_copy, "build", "core") in out, "repository build tree:\n" + out)
    print("install: found in a build tree: %s" % out.splitlines()[1])
    # 4. nowhere: a clear message, and MLFF_LIBRARY pointing nowhere says so
    rc, out = py(probe, dict(base, PYTHONPATH=target, LD_LIBRARY_PATH=""))
    if rc == 0:  # find_library found one on the linker's path: fine, but say which
        print("install: found by ctypes.util.find_library: %s" % out.splitlines()[1])
    else:
        check("libmlff not found" in out and "MLFF_LIBRARY" in out, "no library:\n" + out)
    rc, out = py(probe, dict(base, PYTHONPATH=target, MLFF_LIBRARY="/nonexistent/libmlff.so.0"))
    check(rc != 0 and "/nonexistent/libmlff.so.0" in out, "bad MLFF_LIBRARY:\n" + out)
    print("install: without a library: %s" % out.splitlines()[-2:])
    # without ASE the package imports and Model works; Calculator says what is missing
    rc, out = py("import sys; sys.modules['ase'] = None\nimport mlff\nprint(mlff.Model(%r).cutoff)\n"
                 "try:\n    mlff.Calculator\nexcept ImportError as e:\n    print('ImportError', e)"
                 % model_path(), dict(base, PYTHONPATH=target, MLFF_LIBRARY=libpath))
    check(rc == 0 and "ImportError mlff.Calculator needs ASE" in out, "without ASE:\n" + out)
    print("install: without ASE: Model works, Calculator raises ImportError")


# ---- GPU -------------------------------------------------------------------------------------
def case_gpu():
    need_ase()
    import mlff
    if mlff.gpu_count() == 0:
        print("SKIPPED: no GPU visible to libmlff (%s)" % mlff.library_path())
        sys.exit(SKIP)
    images = [benzene(seed=s) for s in range(4)] + [benzene_box(ORTHO, seed=2), benzene_box(TRICLINIC, seed=4)]
    cpu = calc(device="cpu")
    ref = cpu.calculate_batch(images)
    auto = calc(device="auto")
    check(auto.device == "gpu", "auto chose %s with a GPU" % auto.device)
    # relative to the CPU's FP64 (max |difference| / max |value|; tests/gpu asks 1e-5 of FP32
    # energies and 5 % of FP16 forces); the virial, like the forces
    for fp16, tol_e, tol_f in [(False, 1e-5, 1e-4), (True, 1e-3, 5e-2)]:
        g = calc(device="gpu", fp16=fp16)
        check(g.device == "gpu", "device %s" % g.device)
        got = g.calculate_batch(images)
        worst = {"energy": 0.0, "forces": 0.0, "stress": 0.0, "single vs batch": 0.0}
        for a, r, r0 in zip(images, got, ref):
            worst["energy"] = max(worst["energy"], rel_err([r["energy"]], [r0["energy"]]))
            worst["forces"] = max(worst["forces"], rel_err(r["forces"], r0["forces"]))
            if "stress" in r0:
                worst["stress"] = max(worst["stress"], rel_err(r["stress"], r0["stress"]))
            b = a.copy()
            b.calc = g
            for _ in range(3):  # repeated calls (the resident step for small systems)
                e1, f1 = b.get_potential_energy(), b.get_forces()
                g.reset()  # the same structure again: ASE would not recompute
            worst["single vs batch"] = max(worst["single vs batch"], rel_err(f1, r["forces"]),
                                           rel_err([e1], [r["energy"]]))
        print("gpu (fp16 %s): relative to the CPU's FP64: %s"
              % (fp16, "  ".join("%s %.1e" % kv for kv in worst.items())))
        check(worst["energy"] <= tol_e and worst["forces"] <= tol_f and worst["stress"] <= tol_f,
              "GPU fp16=%s differs from the CPU: %s" % (fp16, worst))
        check(worst["single vs batch"] <= tol_f, "GPU single calls differ from the batch: %s" % worst)


# ---- repeated calls (issue 22) ----------------------------------------------------------------
def case_repeat():
    """The Calculator over many calls on one Atoms, as MD makes them: every step's results as a
    fresh CPU evaluation of the same structure (on a GPU, where one is: the kept list, within
    FP32 tolerances), nothing recomputed for unchanged atoms, results that the next call leaves
    alone, changed elements and cells seen; and the skin option."""
    need_ase()
    import mlff
    ref = mlff.Evaluator(model_path(), device="cpu")
    check(ref.skin == 1.0, "default skin %s" % ref.skin)
    check(calc(skin=0.25).evaluator.skin == 0.25, "skin not passed on")
    for bad in (-1.0, float("nan")):
        try:
            calc(skin=bad)
            fail("skin %r accepted" % bad)
        except mlff.MlffError as e:
            check("skin" in str(e), "message %r" % str(e))
    devices = ["cpu"] + (["gpu"] if mlff.gpu_count() else [])
    for device in devices:
        # Against a fresh evaluation of the same structure on the same device (skin 0: a list of
        # its own every call): the kept list must change nothing but the summation order. On the
        # GPU, FP32 against FP32; its accuracy against the CPU's FP64 is python.gpu's business
        # (printed here too: these geometries are pulled far apart, 0.8 A per atom by step 40).
        tol, tol_e = (1e-12, 1e-12) if device == "cpu" else (1e-5, 1e-6)
        fresh = ref if device == "cpu" else mlff.Evaluator(model_path(), device="gpu", skin=0.0)
        for name, atoms in [("benzene (open)", benzene(seed=2)),
                            ("8 benzenes (orthorhombic)", benzene_box(ORTHO, seed=2)),
                            ("8 benzenes (triclinic)", benzene_box(TRICLINIC, seed=4))]:
            c = calc(model_path(), device=device)  # the shipped model, as ref and fresh
            a = atoms.copy()
            a.calc = c
            rng = np.random.default_rng(7)
            v = rng.normal(0.0, 0.02, a.positions.shape)  # 0.02 A a step: crosses faces
            held, held_f = None, None
            worst = {}  # quantity -> (relative difference, step), against fresh / the CPU

            def note(key, err, step):
                if err >= worst.get(key, (-1.0, 0))[0]:
                    worst[key] = (err, step)
            for step in range(40):
                if step == 25:  # another element on one atom: its species looked up again
                    a.numbers[1] = 1 if a.numbers[1] == 6 else 6
                if step == 30 and a.pbc.any():  # a barostat's step
                    a.set_cell(a.cell.array * 1.01, scale_atoms=True)
                a.positions += v
                f, e = a.get_forces(), a.get_potential_energy()
                cell = a.cell.array if a.pbc.any() else None
                sp = c.model.species(a.get_chemical_symbols())
                for tag, ev in [("", fresh)] + ([("cpu ", ref)] if device == "gpu" else []):
                    r = ev.compute(a.positions, sp, cell, a.pbc)
                    note(tag + "energy", rel_err([e], [r["energy"]]), step)
                    note(tag + "forces", rel_err(f, r["forces"]), step)
                    note(tag + "energies", rel_err(a.get_potential_energies(), r["energy_atom"]), step)
                    if a.pbc.any():
                        note(tag + "stress", rel_err(a.get_stress(), -np.array(
                            [r["virial"][k] for k in (0, 1, 2, 5, 4, 3)]) / a.get_volume()), step)
                if step == 3:
                    held = c.results["forces"]
                    held_f = held.copy()
                    builds = c.evaluator.list_builds
                    a.get_forces()  # unchanged atoms: no new evaluation
                    check(c.evaluator.list_builds == builds, "%s: recomputed unchanged atoms" % name)
            check(np.array_equal(held, held_f), "%s: a later call changed earlier forces" % name)
            print("repeat (%s): %-28s 40 steps, %d lists built, worst relative difference (step) "
                  "from a fresh evaluation: %s" % (device, name, c.evaluator.list_builds, ", ".join(
                      "%s %.1e (%d)" % (k, v[0], v[1]) for k, v in worst.items())))
            bad = [k for k, v in worst.items() if not k.startswith("cpu ") and
                   v[0] > (tol_e if k == "energy" else tol)]
            check(not bad, "%s on the %s: %s beyond %.0e (energy %.0e) from a fresh evaluation"
                  % (name, device, ", ".join(bad), tol, tol_e))
            if device == "cpu":
                check(c.evaluator.list_builds == 40, "%d lists for 40 CPU steps" % c.evaluator.list_builds)
            # the calculator's atoms are its own copy
            snap = c.atoms.positions.copy()
            a.positions += 1.0
            check(np.array_equal(c.atoms.positions, snap), "%s: calc.atoms follows the user's" % name)
    # Evaluator.compute returns arrays of its own
    symbols, x = benzene(seed=1).get_chemical_symbols(), benzene(seed=1).positions
    sp = ref.model.species(symbols)
    r1 = ref.compute(x, sp)
    f1 = r1["forces"].copy()
    ref.compute(x + 0.01, sp)
    check(np.array_equal(r1["forces"], f1), "Evaluator.compute overwrote an earlier result")


# ---- committees (issue 23) -------------------------------------------------------------------
def random_committee(path, seeds):
    """A committee of random C/H models (hidden 16, 8), one per seed, written to path; each
    member also alone to path.member<k>.h5 (mlff_model_committee_member). Returns the members'
    paths."""
    import ctypes
    from mlff import _lib as L
    lib = L.lib()

    def create(seed):
        spec = L.mlff_model_spec()
        syms = (ctypes.c_char_p * 2)(b"C", b"H")
        hidden = (ctypes.c_int * 2)(16, 8)
        spec.n_elements, spec.elements, spec.n_hidden, spec.hidden = 2, syms, 2, hidden
        lib.mlff_descriptor_params_ani1x(ctypes.byref(spec.descriptor))
        spec.seed = seed
        m = L.mlff_model_p()
        L.check(lib.mlff_model_create(ctypes.byref(spec), ctypes.byref(m)))
        return m

    first = create(seeds[0])
    for seed in seeds[1:]:
        other = create(seed)
        L.check(lib.mlff_model_committee_add(first, other))
        lib.mlff_model_free(other)
    L.check(lib.mlff_model_save(first, path.encode()))
    paths = []
    for k in range(len(seeds)):
        mk = L.mlff_model_p()
        L.check(lib.mlff_model_committee_member(first, k, ctypes.byref(mk)))
        paths.append("%s.member%d.h5" % (path, k))
        L.check(lib.mlff_model_save(mk, paths[-1].encode()))
        lib.mlff_model_free(mk)
    lib.mlff_model_free(first)
    return paths


def case_committee():
    """Model.committee_size; the Calculator's and Evaluator's force_deviation and
    max_force_deviation against the members evaluated one at a time (mean forces, std by
    hand); batch results alike; a single model has neither."""
    need_ase()
    import mlff
    path = os.path.join(ARGS.work, "committee3.h5")
    members = random_committee(path, [11, 12, 13])
    m = mlff.Model(path)
    check(m.committee_size == 3, "committee_size %d" % m.committee_size)
    check(mlff.Model(model_path()).committee_size == 1, "the shipped model is not a committee")
    check("committee   3 members" in m.summary(), "summary lacks the committee")
    for name, atoms in [("benzene", benzene(seed=3)), ("box", benzene_box(ORTHO, seed=5))]:
        a = atoms.copy()
        a.calc = calc(m)
        e, f = a.get_potential_energy(), a.get_forces()
        dev = a.calc.get_property("force_deviation", a)
        mx = a.calc.get_property("max_force_deviation", a)
        fs, es = [], []
        for p in members:
            b = atoms.copy()
            b.calc = calc(p)
            fs.append(b.get_forces())
            es.append(b.get_potential_energy())
            try:
                b.calc.get_property("force_deviation", b)
                fail("a single model gave a force deviation")
            except mlff.MlffError:
                fail("MlffError instead of ASE's PropertyNotImplementedError")
            except Exception as ex:
                check("force_deviation" in str(ex), "single model: %r" % ex)
        fs = np.array(fs)
        by_hand = np.sqrt(np.mean(np.sum((fs - fs.mean(axis=0)) ** 2, axis=-1), axis=0))
        check(abs(e - np.mean(es)) <= 1e-9 * max(1.0, abs(e)), "%s: energy %r vs mean %r" % (name, e, np.mean(es)))
        check(rel_err(f, fs.mean(axis=0)) <= 1e-10, "%s: forces vs mean %g" % (name, rel_err(f, fs.mean(axis=0))))
        check(dev.shape == (len(atoms),) and rel_err(dev, by_hand) <= 1e-10,
              "%s: deviation vs by hand %g" % (name, rel_err(dev, by_hand)))
        check(abs(mx - by_hand.max()) <= 1e-12 and mx > 0, "%s: max deviation %r vs %r" % (name, mx, by_hand.max()))
        # the Evaluator and the batch say the same
        ev = mlff.Evaluator(m, device="cpu")
        r = ev.compute(atoms.positions, m.species(atoms.get_chemical_symbols()),
                       atoms.cell.array if atoms.pbc.any() else None, atoms.pbc)
        check(rel_err(r["force_deviation"], by_hand) <= 1e-10 and abs(r["max_force_deviation"] - mx) <= 1e-12,
              "%s: Evaluator's deviation" % name)
        rb = a.calc.calculate_batch([atoms, atoms])
        check(all(rel_err(x["force_deviation"], by_hand) <= 1e-10 for x in rb), "%s: batch deviation" % name)
        print("committee %s: %d atoms, E %.6f eV, max force deviation %.4f eV/Å (members' std by hand: %.4f)"
              % (name, len(atoms), e, mx, by_hand.max()))


# ---- examples --------------------------------------------------------------------------------
def case_example():
    need_ase()
    script = os.path.join(ARGS.repo, "examples", "python", ARGS.example + ".py")
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, script], cwd=ARGS.work, capture_output=True, text=True)
    print(p.stdout[-3000:] + p.stderr[-3000:])
    check(p.returncode == 0, "%s exited with %d" % (script, p.returncode))
    print("example: %s ran in %.1f s" % (ARGS.example, time.perf_counter() - t0))


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("case")
    ap.add_argument("--repo", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--layout")
    ap.add_argument("--lmp")
    ap.add_argument("--lmp-lib")
    ap.add_argument("--plugin")
    ap.add_argument("--example")
    ARGS = ap.parse_args()
    os.makedirs(ARGS.work, exist_ok=True)
    fn = globals().get("case_" + ARGS.case)
    if fn is None:
        fail("unknown case %s" % ARGS.case)
    fn()
    print("PASSED:", ARGS.case)


if __name__ == "__main__":
    main()
