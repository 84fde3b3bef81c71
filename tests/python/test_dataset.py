#!/usr/bin/env python3
"""Tests of mlff.read_dataset / mlff.write_dataset (python/mlff/dataset.py) against the file
format (docs/file_format.md) and the C reader and writer (the mlff tool). Run by ctest
(tests/python/CMakeLists.txt) with Debian's python3 and the package on PYTHONPATH.

usage: test_dataset.py CASE --repo REPO --work DIR --tool MLFF
Cases:
  roundtrip  Python write -> Python read: every field, stresses, masks, indices, append
  c_reads    Python write -> `mlff import` (the C reader) -> same header and values; mlff eval
  py_reads   `mlff import X.extxyz` (the C writer) -> Python read equals the extxyz values,
             and Python writes the same datasets, dtypes, chunks and attributes
  oldform    the N - 1 splits of mlff <= 0.1 (tests/dataset/data/h5py_dataset.h5)
  refusals   bad splits and other malformed files: ValueError naming the file and the field
Exit code 77: skipped (no h5py)."""
import argparse
import os
import shutil
import subprocess
import sys

import numpy as np

SKIP = 77
ARGS = None

EXTXYZ = """3
Properties=species:S:1:pos:R:3:forces:R:3 energy=-2079.25 pbc="F F F"
O 0.0 0.0 0.1173 0.1 0.2 0.3
H 0.0 0.7572 -0.4692 -0.05 -0.1 -0.15
H 0.0 -0.7572 -0.4692 -0.05 -0.1 -0.15
2
Lattice="5.0 0.0 0.0 0.0 6.0 0.0 0.5 0.0 7.0" Properties=species:S:1:pos:R:3:forces:R:3 \
energy=-31.5 pbc="T T F"
H 0.0 0.0 0.0 1.0 0.0 0.0
H 0.74 0.0 0.0 -1.0 0.0 0.0
"""
EXPECT = [  # the values of EXTXYZ
    dict(numbers=[8, 1, 1], positions=[[0.0, 0.0, 0.1173], [0.0, 0.7572, -0.4692],
                                       [0.0, -0.7572, -0.4692]],
         cell=None, pbc=[False] * 3, energy=-2079.25,
         forces=[[0.1, 0.2, 0.3], [-0.05, -0.1, -0.15], [-0.05, -0.1, -0.15]]),
    dict(numbers=[1, 1], positions=[[0.0, 0.0, 0.0], [0.74, 0.0, 0.0]],
         cell=[[5.0, 0.0, 0.0], [0.0, 6.0, 0.0], [0.5, 0.0, 7.0]], pbc=[True, True, False],
         energy=-31.5, forces=[[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]]),
]


def fail(msg):
    print("FAILED:", msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def work(name):
    return os.path.join(ARGS.work, name)


def tool(*args, ok=True):
    p = subprocess.run([ARGS.tool] + list(args), capture_output=True, text=True,
                       cwd=ARGS.work)
    if ok and p.returncode != 0:
        fail("mlff %s: exit %d\n%s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
    return p


def same_structure(a, b, what, tol=0.0):
    check(np.array_equal(np.asarray(a["numbers"]), np.asarray(b["numbers"])),
          "%s: numbers %s vs %s" % (what, a["numbers"], b["numbers"]))
    for k in ("positions", "forces"):
        check(np.allclose(a[k], b[k], rtol=0, atol=tol), "%s: %s differ" % (what, k))
    check(abs(a["energy"] - b["energy"]) <= tol, "%s: energy %r vs %r"
          % (what, a["energy"], b["energy"]))
    check((a["cell"] is None) == (b["cell"] is None), "%s: cell None vs not" % what)
    if a["cell"] is not None:
        check(np.allclose(a["cell"], b["cell"], rtol=0, atol=tol), "%s: cell differs" % what)
    check(list(map(bool, a["pbc"])) == list(map(bool, b["pbc"])), "%s: pbc" % what)


def sample(n=5, seed=0, stress=False):
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        na = 1 + (k * 3) % 7
        s = dict(numbers=rng.choice([1, 6, 7, 8], na), positions=rng.normal(0, 2, (na, 3)),
                 cell=None if k % 2 == 0 else np.diag([10.0, 11.0, 12.0]) + 0.1 * k,
                 pbc=[k % 2 == 1] * 3, energy=float(rng.normal(-100, 10)),
                 forces=rng.normal(0, 1, (na, 3)), source="md%d" % (300 * (k % 3 + 1)))
        if stress:
            s["stress"] = rng.normal(0, 0.01, 6)
            s["stress_mask"] = k % 2 == 1
            s["structure_index"] = 100 + k
        out.append(s)
    return out


# ---- cases ---------------------------------------------------------------------------------
def case_roundtrip():
    import h5py
    import mlff
    st = sample(6)
    p = work("rt.h5")
    mlff.write_dataset(p, st, teacher="test teacher", attrs={"sampling": "plan A"})
    ds = mlff.read_dataset(p)
    check(len(ds) == 6, "6 structures read back, got %d" % len(ds))
    check(ds.attrs == {"units": "eV, Angstrom", "teacher": "test teacher",
                       "sampling": "plan A"}, "attrs: %s" % ds.attrs)
    for k, (a, b) in enumerate(zip(st, ds)):
        same_structure(a, b, "structure %d" % k)
        check(b["source"] == a["source"], "source %r vs %r" % (b["source"], a["source"]))
        check("stress" not in b and "structure_index" not in b, "no stress written")
    with h5py.File(p, "r") as f:
        sp = f["/structures/atomic_numbers_splits"][()]
        check(len(sp) == 7 and sp[0] == 0 and sp[-1] == len(f["/structures/atomic_numbers"]),
              "N + 1 splits written: %s" % sp)
        check(np.array_equal(sp, f["/labels/forces_splits"][()]), "forces_splits")
    # stresses, masks, structure indices
    st2 = sample(4, seed=1, stress=True)
    st2[0]["stress"] = np.full(6, np.nan)          # not a label: NaN kept
    p2 = work("rt_stress.h5")
    mlff.write_dataset(p2, st2, teacher="t")
    ds2 = mlff.read_dataset(p2)
    for a, b in zip(st2, ds2):
        check(np.array_equal(a["stress"], b["stress"], equal_nan=True), "stress")
        check(bool(b["stress_mask"]) == a["stress_mask"], "stress_mask")
        check(b["structure_index"] == a["structure_index"], "structure_index")
    # append: after the structures there, teacher must agree
    mlff.write_dataset(p, sample(2, seed=3), teacher="test teacher", append=True)
    ds3 = mlff.read_dataset(p)
    check(len(ds3) == 8 and ds3.attrs["sampling"] == "plan A", "append: %d" % len(ds3))
    same_structure(ds3[7], sample(2, seed=3)[1], "appended")
    try:
        mlff.write_dataset(p, sample(1), teacher="another", append=True)
        fail("append of another teacher accepted")
    except ValueError as e:
        check("teacher" in str(e) and p in str(e), "message: %s" % e)
    check(len(mlff.read_dataset(p)) == 8, "refused append left the file as it was")
    # a Dataset is written back with its attributes; to_atoms
    mlff.write_dataset(work("rt2.h5"), ds3)
    check(mlff.read_dataset(work("rt2.h5")).attrs == ds3.attrs, "attrs kept")
    try:
        import ase  # noqa: F401
    except ImportError:
        return
    from mlff.dataset import to_atoms
    at = to_atoms(ds3[1])
    check(np.allclose(at.get_potential_energy(), ds3[1]["energy"]), "to_atoms energy")
    check(np.allclose(at.get_forces(), ds3[1]["forces"]), "to_atoms forces")
    check(np.allclose(at.cell[:], ds3[1]["cell"]), "to_atoms cell")


def case_c_reads():
    import mlff
    st = sample(5, seed=2)
    p = work("py.h5")
    mlff.write_dataset(p, st, teacher="py teacher")
    out = tool("import", "py.h5", "copy.h5")
    check("5 structures" in out.stdout + out.stderr, "import says: %s" % out.stdout)
    back = mlff.read_dataset(work("copy.h5"))
    check(back.attrs.get("teacher") == "py teacher", "teacher through C: %s" % back.attrs)
    for k, (a, b) in enumerate(zip(st, back)):
        same_structure(a, b, "C copy, structure %d" % k)
        check(a["source"] == b["source"], "source through C")
    # the C writer's copy of a Python file is Python's file again, byte for byte in values
    if shutil.which("h5diff"):
        r = subprocess.run(["h5diff", p, work("copy.h5")], capture_output=True, text=True)
        check(r.returncode == 0, "h5diff py.h5 copy.h5:\n%s" % r.stdout)
    # mlff eval on benzene frames labelled by Python with the model's own numbers: zero error
    try:
        import ase  # noqa: F401
    except ImportError:
        return
    from ase.io import read
    model = os.path.join(ARGS.repo, "models", "benzene-gfn2.h5")
    calc = mlff.Calculator(model, device="cpu")
    base = read(os.path.join(ARGS.repo, "models", "benzene.xyz"))
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(3):
        pos = base.positions + rng.normal(0, 0.03, base.positions.shape)
        a = base.copy()
        a.positions = pos
        a.calc = calc
        frames.append(dict(numbers=a.numbers, positions=pos, cell=None, pbc=[False] * 3,
                           energy=a.get_potential_energy(), forces=a.get_forces(),
                           source="jitter"))
    mlff.write_dataset(work("bz.h5"), frames, teacher="the model itself")
    out = tool("eval", model, "bz.h5", "--json", "-", "--device", "cpu", "--split", "all")
    import json
    j = json.loads(out.stdout[out.stdout.index("{"):])
    txt = json.dumps(j)
    check(j is not None and "mae" in txt.lower(), "eval json: %s" % txt[:300])

    def maes(o):
        if isinstance(o, dict):
            for k, v in o.items():
                if "mae" in k.lower() and isinstance(v, (int, float)):
                    yield k, v
                else:
                    yield from maes(v)
        elif isinstance(o, list):
            for v in o:
                yield from maes(v)
    found = list(maes(j))
    check(found and all(abs(v) < 1e-2 for _, v in found), "eval MAEs not ~0: %s" % found)


def case_py_reads():
    import h5py
    import mlff
    with open(work("x.extxyz"), "w") as f:
        f.write(EXTXYZ)
    tool("import", "x.extxyz", "c.h5")
    ds = mlff.read_dataset(work("c.h5"))
    check(len(ds) == 2, "2 structures")
    for k, (e, s) in enumerate(zip(EXPECT, ds)):
        same_structure(e, s, "extxyz frame %d" % k, tol=1e-12)
        check(s["source"] == "x", "source %r" % s["source"])
        check(s["numbers"].dtype.kind == "i", "numbers are integers")
    check(ds.attrs["units"] == "eV, Angstrom", "units %r" % ds.attrs.get("units"))
    # Python writes what C wrote: names, dtypes, shapes, chunks, maxshape, attributes
    mlff.write_dataset(work("p.h5"), ds)

    def layout(path):
        out = {}
        with h5py.File(path, "r") as f:
            def visit(name, obj):
                if isinstance(obj, h5py.Dataset):
                    out[name] = (str(obj.dtype), h5py.check_string_dtype(obj.dtype),
                                 h5py.check_enum_dtype(obj.dtype), obj.shape, obj.chunks,
                                 obj.maxshape)
                attrs = {k: (obj.attrs.get_id(k).get_type().get_class(),
                             obj.attrs.get_id(k).get_type().is_variable_str()
                             if obj.attrs.get_id(k).get_type().get_class() == 3 else None,
                             obj.attrs[k] if isinstance(obj.attrs[k], str)
                             else str(obj.attrs[k])) for k in obj.attrs}
                out[name + "@attrs"] = attrs
            f.visititems(visit)
        return out
    lc, lp = layout(work("c.h5")), layout(work("p.h5"))
    for k in sorted(set(lc) | set(lp)):
        check(lc.get(k) == lp.get(k), "%s: C %s vs Python %s" % (k, lc.get(k), lp.get(k)))
    if shutil.which("h5diff"):
        r = subprocess.run(["h5diff", work("c.h5"), work("p.h5")], capture_output=True,
                           text=True)
        check(r.returncode == 0, "h5diff c.h5 p.h5:\n%s" % r.stdout)


def case_oldform():
    import h5py
    import mlff
    src = os.path.join(ARGS.repo, "tests", "dataset", "data", "h5py_dataset.h5")
    with h5py.File(src, "r") as f:
        check(len(f["/structures/atomic_numbers_splits"]) == 2, "the fixture is N - 1 form")
    ds = mlff.read_dataset(src)
    check([len(s["numbers"]) for s in ds] == [3, 5, 2], "atoms per structure")
    check([s["energy"] for s in ds] == [-2079.25, -1104.25, -31.5], "energies")
    check(list(ds[2]["numbers"]) == [1, 1] and list(ds[1]["numbers"]) == [6, 1, 1, 1, 1],
          "numbers")
    check(ds[0]["cell"] is None and np.allclose(ds[2]["cell"][2], [0.5, 0.0, 7.0]), "cells")
    check(list(ds[2]["pbc"]) == [True, True, False], "pbc")
    for s, scale in zip(ds, (0.5, 0.25, 1.0)):  # forces[a, k] = scale * (a + 1) * (k - 1)
        want = scale * np.array([[(a + 1) * (k - 1) for k in range(3)]
                                 for a in range(len(s["numbers"]))])
        check(np.array_equal(s["forces"], want), "forces")
    check(ds[0]["source"] == "" and ds.attrs["teacher"] == "h5py fixture", "source, teacher")
    # appending rewrites it in the N + 1 form; C reads the result
    p = work("old.h5")
    shutil.copy(src, p)
    mlff.write_dataset(p, sample(1), append=True)
    with h5py.File(p, "r") as f:
        check(list(f["/structures/atomic_numbers_splits"][()])[:4] == [0, 3, 8, 10],
              "N + 1 after append")
    tool("import", "old.h5", "old_copy.h5")
    check(len(mlff.read_dataset(work("old_copy.h5"))) == 4, "4 structures via C")


def case_refusals():
    import h5py
    import mlff
    good = work("good.h5")
    mlff.write_dataset(good, sample(4), teacher="t")

    def broken(name, edit):
        p = work(name + ".h5")
        shutil.copy(good, p)
        with h5py.File(p, "a") as f:
            edit(f)
        return p

    def replace(f, ds, value):
        del f[ds]
        f[ds] = value

    def expect(p, *needles):
        try:
            mlff.read_dataset(p)
        except ValueError as e:
            msg = str(e)
            check(p in msg, "message names the file: %s" % msg)
            for n in needles:
                check(n in msg, "message names %r: %s" % (n, msg))
            print("refused:", msg)
            return
        fail("%s was read" % p)
    Zs = "/structures/atomic_numbers_splits"
    with h5py.File(good, "r") as f:
        sp = f[Zs][()]
    expect(broken("len", lambda f: replace(f, Zs, sp[:2])), Zs, "N + 1 = 5", "N - 1 = 3")
    expect(broken("start", lambda f: replace(f, Zs, sp + 1)), Zs, "start at 0")
    bad = sp.copy()
    bad[2] = bad[1]
    expect(broken("incr", lambda f: (replace(f, Zs, bad),
                                     replace(f, "/labels/forces_splits", bad))), Zs,
           "increase")
    expect(broken("fs", lambda f: replace(f, "/labels/forces_splits", sp[1:-1])),
           "/labels/forces_splits")
    expect(broken("float", lambda f: replace(f, Zs, sp.astype(float))), Zs, "integer")
    expect(broken("noforces", lambda f: f.__delitem__("/labels/forces")), "/labels/forces",
           "missing")
    expect(broken("units", lambda f: f["labels"].attrs.__delitem__("units")), "units")
    expect(broken("kcal", lambda f: f["labels"].attrs.__setitem__("units", "kcal/mol, A")),
           "units", "kcal/mol")
    expect(broken("nan", lambda f: f["/labels/energy"].__setitem__(0, np.nan)),
           "/labels/energy", "non-finite")
    # a model file is named as such
    model = os.path.join(ARGS.repo, "models", "benzene-gfn2.h5")
    try:
        mlff.read_dataset(model)
        fail("a model file was read as a dataset")
    except ValueError as e:
        check("model file" in str(e), "model file: %s" % e)
    try:
        mlff.write_dataset(work("w.h5"), [dict(numbers=[1], positions=[[0, 0]], energy=0,
                                               forces=[[0, 0, 0]])])
        fail("bad positions written")
    except ValueError as e:
        check("positions" in str(e), "message: %s" % e)
    check(not os.path.exists(work("w.h5")), "nothing written on refusal")


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("case")
    ap.add_argument("--repo", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--tool", required=True)
    ARGS = ap.parse_args()
    try:
        import h5py  # noqa: F401
    except ImportError:
        print("SKIPPED: h5py is not installed (Debian: apt-get install python3-h5py)")
        sys.exit(SKIP)
    ARGS.work = os.path.abspath(ARGS.work)
    ARGS.tool = os.path.abspath(ARGS.tool)
    shutil.rmtree(ARGS.work, ignore_errors=True)
    os.makedirs(ARGS.work)
    fn = globals().get("case_" + ARGS.case)
    if fn is None:
        fail("unknown case %r" % ARGS.case)
    fn()
    print("PASSED:", ARGS.case)


if __name__ == "__main__":
    main()
