"""Dataset files (docs/file_format.md, "Dataset file") from Python, with h5py.

    ds = mlff.read_dataset("data.h5")         # Dataset: .structures (list of dicts), .attrs
    for s in ds: s["numbers"], s["positions"], s["cell"], s["pbc"], s["energy"], s["forces"]
    mlff.write_dataset("out.h5", ds.structures, teacher="GFN2-xTB (libxtb 6.5.1)")

The layout, dtypes and attributes are those of the C writer (distill/dataset.c): splits in the
N + 1 form; the N - 1 form of mlff <= 0.1 is read too. h5py is imported when first needed."""

import os

import numpy as np

__all__ = ["Dataset", "read_dataset", "write_dataset", "to_atoms"]

ATOM_CHUNK = 1024     # rows per chunk, as distill/dataset.c
STRUCT_CHUNK = 256
UNITS = "eV, Angstrom"


def _h5py():
    try:
        import h5py
    except ImportError as e:
        raise ImportError("mlff.read_dataset and mlff.write_dataset need h5py (pip install "
                          "h5py, or Debian's python3-h5py)") from e
    return h5py


class Dataset:
    """What read_dataset returns: .structures, a list of dicts (one per structure), and
    .attrs, the string attributes of /labels (units, teacher, sampling, ...). Iterable and
    indexable like the list."""

    def __init__(self, structures, attrs):
        self.structures = structures
        self.attrs = attrs

    def __len__(self):
        return len(self.structures)

    def __iter__(self):
        return iter(self.structures)

    def __getitem__(self, i):
        return self.structures[i]

    def __repr__(self):
        return "mlff.Dataset(%d structures, teacher=%r)" % (len(self.structures),
                                                           self.attrs.get("teacher"))


def _bad(path, field, msg):
    return ValueError("%s: %s: %s" % (path, field, msg))


def _get(f, path, name, required=True):
    if name not in f:
        if required:
            raise _bad(path, name, "missing (not an mlff/pipeline dataset file?)")
        return None
    obj = f[name]
    if not hasattr(obj, "shape"):
        raise _bad(path, name, "is a group, a dataset was expected")
    return obj[()]


def _str(v):
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


def _splits(path, field, s, n, a):
    """Offsets (N + 1, from 0 to A) from either accepted form; ValueError otherwise."""
    s = np.asarray(s)
    if s.ndim != 1 or (s.size and s.dtype.kind not in "iu"):
        raise _bad(path, field, "must be a 1-D integer array, found shape %s dtype %s"
                   % (s.shape, s.dtype))
    s = s.astype(np.int64)
    if n == 0 and len(s) in (0, 1):
        if len(s) == 1 and s[0] != 0:
            raise _bad(path, field, "an empty dataset's offsets must be [0], found %s" % s)
        return np.zeros(1, np.int64)
    if len(s) == n + 1:
        if s[0] != 0 or s[-1] != a:
            raise _bad(path, field, "N + 1 = %d offsets must start at 0 and end at %d atoms, "
                       "found %d ... %d" % (n + 1, a, s[0], s[-1]))
        full = s
    elif len(s) == n - 1:
        if len(s) and (s[-1] >= a or s[0] <= 0):
            raise _bad(path, field, "N - 1 interior offsets must lie between 0 and %d atoms "
                       "(exclusive), found %d ... %d" % (a, s[0], s[-1]))
        full = np.concatenate([[0], s, [a]]).astype(np.int64)
    else:
        raise _bad(path, field, "%d rows for %d structures: expected N + 1 = %d (cumulative "
                   "offsets from 0) or N - 1 = %d (mlff <= 0.1's interior offsets)"
                   % (len(s), n, n + 1, n - 1))
    if np.any(np.diff(full) <= 0):
        raise _bad(path, field, "offsets must increase strictly (every structure has at "
                   "least one atom)")
    return full


def _units_ok(u):
    u = "".join(u.split()).lower()
    for L in ("angstrom", "angstroms", "ang", "a", "\u00e5", "\u212b"):
        if u in ("ev,%s" % L, "ev,ev/%s" % L, "ev/%s" % L, "ev,%s,ev/%s" % (L, L)):
            return True
    return False


def read_dataset(path):
    """Read a dataset file; return a Dataset (.structures: list of dicts with numbers,
    positions, cell (3x3 or None), pbc, energy, forces, source, and stress, stress_mask,
    structure_index when the file has them; .attrs: /labels' string attributes). Raises
    ValueError naming the file and the field for a malformed file."""
    h5py = _h5py()
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError("%s: no such file" % path)
    with h5py.File(path, "r") as f:
        if "structures" not in f or "labels" not in f:
            if "format" in f.attrs:
                raise _bad(path, "/", "is a model file (format %r), not a dataset"
                           % _str(f.attrs["format"]))
            raise _bad(path, "/structures" if "structures" not in f else "/labels",
                       "missing group: not a dataset file")
        attrs = {}
        for k, v in f["labels"].attrs.items():
            if isinstance(v, (bytes, str)) or (isinstance(v, np.ndarray) and v.shape == ()
                                                and v.dtype.kind in "SUO"):
                attrs[k] = _str(v[()] if isinstance(v, np.ndarray) else v)
        Z = _get(f, path, "/structures/atomic_numbers")
        pos = _get(f, path, "/structures/positions")
        cells = _get(f, path, "/structures/cells")
        pbc = _get(f, path, "/structures/pbc")
        zs = _get(f, path, "/structures/atomic_numbers_splits")
        E = _get(f, path, "/labels/energy")
        F = _get(f, path, "/labels/forces")
        fs = _get(f, path, "/labels/forces_splits")
        src = _get(f, path, "/labels/source", False)
        stress = _get(f, path, "/labels/stress", False)
        mask = _get(f, path, "/labels/stress_mask", False)
        sidx = _get(f, path, "/labels/structure_indices", False)
    if "units" not in attrs:
        raise _bad(path, "/labels attribute 'units'", "missing: say eV and Angstrom "
                   "(write %r after converting the values)" % UNITS)
    if not _units_ok(attrs["units"]):
        raise _bad(path, "/labels attribute 'units'", "%r is not eV and Angstrom: accepted "
                   "are 'eV, L', 'eV, eV/L', 'eV/L' and 'eV, L, eV/L' with L one of Angstrom, "
                   "Angstroms, Ang, A, \u00c5; convert the values, then set the attribute"
                   % attrs["units"])

    def arr(x, name, shape, kinds):
        x = np.asarray(x)
        if x.dtype.kind not in kinds or x.ndim != len(shape) or any(
                want is not None and got != want for got, want in zip(x.shape, shape)):
            raise _bad(path, name, "expected shape %s of %s, found shape %s dtype %s"
                       % (tuple("*" if w is None else w for w in shape),
                          {"f": "floats", "iu": "integers", "iub": "bools or integers",
                           "fiu": "numbers"}.get(kinds, kinds), x.shape, x.dtype))
        return x

    E = arr(E, "/labels/energy", (None,), "fiu").astype(np.float64)
    n = len(E)
    Z = arr(Z, "/structures/atomic_numbers", (None,), "iu").astype(np.int64)
    a = len(Z)
    pos = arr(pos, "/structures/positions", (a, 3), "fiu").astype(np.float64)
    F = arr(F, "/labels/forces", (a, 3), "fiu").astype(np.float64)
    cells = np.asarray(cells)
    if cells.ndim == 2 and cells.shape == (n, 9):
        cells = cells.reshape(n, 3, 3)
    cells = arr(cells, "/structures/cells", (n, 3, 3), "fiu").astype(np.float64)
    pbc = arr(pbc, "/structures/pbc", (n, 3), "iub").astype(bool)
    if np.any((Z < 1) | (Z > 86)):
        raise _bad(path, "/structures/atomic_numbers", "unknown atomic number %d (1 ... 86)"
                   % Z[(Z < 1) | (Z > 86)][0])
    for name, x in (("/structures/positions", pos), ("/labels/forces", F),
                    ("/labels/energy", E), ("/structures/cells", cells)):
        if not np.all(np.isfinite(x)):
            raise _bad(path, name, "non-finite values")
    off = _splits(path, "/structures/atomic_numbers_splits", zs, n, a)
    foff = _splits(path, "/labels/forces_splits", fs, n, a)
    if len(np.asarray(zs)) != len(np.asarray(fs)) or not np.array_equal(off, foff):
        raise _bad(path, "/labels/forces_splits", "must equal /structures/"
                   "atomic_numbers_splits row for row")
    if src is not None:
        src = np.asarray(src)
        if src.shape != (n,):
            raise _bad(path, "/labels/source", "expected %d strings, found shape %s"
                       % (n, src.shape))
        src = [_str(s) for s in src]
    if mask is not None and stress is None:
        raise _bad(path, "/labels/stress_mask", "present without /labels/stress")
    if stress is not None:
        stress = arr(stress, "/labels/stress", (n, 6), "fiu").astype(np.float64)
    if mask is not None:
        mask = arr(mask, "/labels/stress_mask", (n,), "fiub")
    if stress is not None:
        lab = np.ones(n, bool) if mask is None else mask.astype(bool)
        if not np.all(np.isfinite(stress[lab])):
            raise _bad(path, "/labels/stress", "non-finite stress where it is a label")
    if sidx is not None:
        sidx = arr(sidx, "/labels/structure_indices", (n,), "iu").astype(np.int64)

    out = []
    for k in range(n):
        i, j = off[k], off[k + 1]
        cell = cells[k]
        if pbc[k].any() and not cell.any():
            raise _bad(path, "/structures/cells", "structure %d is periodic but its cell is "
                       "zero" % k)
        s = {"numbers": Z[i:j].copy(), "positions": pos[i:j].copy(),
             "cell": cell.copy() if cell.any() else None, "pbc": pbc[k].copy(),
             "energy": float(E[k]), "forces": F[i:j].copy(),
             "source": src[k] if src is not None else ""}
        if stress is not None:
            s["stress"] = stress[k].copy()
        if mask is not None:
            s["stress_mask"] = mask[k].item()
        if sidx is not None:
            s["structure_index"] = int(sidx[k])
        out.append(s)
    return Dataset(out, attrs)


def _check_structure(k, s):
    def bad(field, msg):
        return ValueError("structure %d: %s: %s" % (k, field, msg))
    for key in ("numbers", "positions", "energy", "forces"):
        if key not in s:
            raise bad(key, "missing")
    Z = np.asarray(s["numbers"])
    if Z.ndim != 1 or len(Z) == 0 or Z.dtype.kind not in "iu":
        raise bad("numbers", "must be a non-empty 1-D integer array")
    if np.any((Z < 1) | (Z > 86)):
        raise bad("numbers", "unknown atomic number (1 ... 86)")
    n = len(Z)
    pos = np.asarray(s["positions"], dtype=np.float64)
    F = np.asarray(s["forces"], dtype=np.float64)
    for name, x in (("positions", pos), ("forces", F)):
        if x.shape != (n, 3):
            raise bad(name, "expected shape (%d, 3), found %s" % (n, x.shape))
        if not np.all(np.isfinite(x)):
            raise bad(name, "non-finite values")
    e = float(s["energy"])
    if not np.isfinite(e):
        raise bad("energy", "non-finite")
    cell = s.get("cell")
    cell = np.zeros((3, 3)) if cell is None else np.asarray(cell, dtype=np.float64)
    if cell.shape != (3, 3) or not np.all(np.isfinite(cell)):
        raise bad("cell", "must be None or a finite 3x3 array")
    pbc = np.broadcast_to(np.asarray(s.get("pbc", False), dtype=bool), (3,))
    if pbc.any() and not cell.any():
        raise bad("pbc", "periodic without a cell")
    return Z.astype(np.int64), pos, cell, pbc, e, F


def write_dataset(path, structures, teacher=None, append=False, attrs=None):
    """Write structures (dicts as read_dataset gives them, or a Dataset) to path in the layout
    of the C writer: N + 1 splits, int64/float64, bool pbc, variable-length UTF-8 strings,
    chunked and extendable datasets, /labels attributes units = "eV, Angstrom" and teacher.
    attrs: further string attributes of /labels. append=True adds the structures after those
    of an existing file (whose teacher must agree), rewriting it in the N + 1 form. The file
    is written to a temporary copy renamed over path when complete."""
    h5py = _h5py()
    path = os.fspath(path)
    extra = {}
    if isinstance(structures, Dataset):
        extra.update({k: v for k, v in structures.attrs.items() if k != "units"})
        structures = structures.structures
    structures = list(structures)
    if attrs:
        extra.update({k: str(v) for k, v in attrs.items()})
    if teacher is not None:
        extra["teacher"] = str(teacher)
    old = []
    if append and os.path.exists(path):
        prev = read_dataset(path)
        old = prev.structures
        t_old, t_new = prev.attrs.get("teacher"), extra.get("teacher")
        if old and t_old and t_new and t_old != t_new:
            raise ValueError("%s: /labels attribute 'teacher': the file's structures were "
                             "labelled by %r, these by %r; one dataset holds one teacher's "
                             "labels: write them to a new file" % (path, t_old, t_new))
        merged = {k: v for k, v in prev.attrs.items() if k != "units"}
        merged.update(extra)
        extra = merged
    checked = [_check_structure(k, s) for k, s in enumerate(old + structures)]
    allst = old + structures
    n = len(allst)
    has_stress = any("stress" in s for s in allst)
    has_mask = any("stress_mask" in s for s in allst) or (
        has_stress and any("stress" not in s for s in allst))
    has_sidx = any("structure_index" in s for s in allst)

    counts = np.array([len(c[0]) for c in checked], dtype=np.int64)
    splits = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    cat = (lambda i, shape: np.concatenate([c[i] for c in checked]) if n
           else np.zeros(shape))
    Z = cat(0, (0,)).astype(np.int64)
    pos = cat(1, (0, 3)).astype(np.float64)
    F = cat(5, (0, 3)).astype(np.float64)
    cells = np.array([c[2] for c in checked], dtype=np.float64).reshape(n, 3, 3)
    pbc = np.array([c[3] for c in checked], dtype=bool).reshape(n, 3)
    E = np.array([c[4] for c in checked], dtype=np.float64)
    src = [str(s.get("source", "")) for s in allst]

    tmp = path + ".tmp%d" % os.getpid()
    try:
        with h5py.File(tmp, "w", libver=("v108", "v108")) as f:
            def put(name, data, chunk, dtype=None):
                data = np.asarray(data) if dtype is None else np.asarray(data, dtype=dtype)
                shape = data.shape
                f.create_dataset(name, data=data, dtype=dtype or data.dtype,
                                 maxshape=(None,) + shape[1:],
                                 chunks=(chunk,) + shape[1:], track_times=False)
            put("/structures/atomic_numbers", Z, ATOM_CHUNK, "<i8")
            put("/structures/positions", pos, ATOM_CHUNK, "<f8")
            put("/structures/cells", cells, STRUCT_CHUNK, "<f8")
            put("/structures/pbc", pbc, STRUCT_CHUNK, bool)
            put("/structures/atomic_numbers_splits", splits, STRUCT_CHUNK, "<i8")
            put("/labels/energy", E, STRUCT_CHUNK, "<f8")
            put("/labels/forces", F, ATOM_CHUNK, "<f8")
            put("/labels/forces_splits", splits, STRUCT_CHUNK, "<i8")
            put("/labels/source", np.array(src, dtype=object), STRUCT_CHUNK,
                h5py.string_dtype("utf-8"))
            if has_stress:
                st = np.array([np.asarray(s.get("stress", np.zeros(6)), dtype=np.float64)
                               .reshape(6) for s in allst]).reshape(n, 6)
                put("/labels/stress", st, STRUCT_CHUNK, "<f8")
            if has_mask:
                m = np.array([bool(s.get("stress_mask", "stress" in s)) for s in allst],
                             dtype=bool)
                put("/labels/stress_mask", m, STRUCT_CHUNK, bool)
            if has_sidx:
                si = np.array([s.get("structure_index", k) for k, s in enumerate(allst)],
                              dtype=np.int64)
                put("/labels/structure_indices", si, STRUCT_CHUNK, "<i8")
            lab = f["labels"]
            lab.attrs.create("units", UNITS, dtype=h5py.string_dtype("utf-8"))
            for k, v in extra.items():
                lab.attrs.create(k, str(v), dtype=h5py.string_dtype("utf-8"))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def to_atoms(structure):
    """An ase.Atoms of one structure (a dict of read_dataset) with a SinglePointCalculator
    holding its energy and forces (and stress when it is a label). Needs ASE."""
    try:
        from ase import Atoms
        from ase.calculators.singlepoint import SinglePointCalculator
    except ImportError as e:
        raise ImportError("mlff.dataset.to_atoms needs ASE (pip install ase, or Debian's "
                          "python3-ase)") from e
    s = structure
    cell = s.get("cell")
    atoms = Atoms(numbers=s["numbers"], positions=s["positions"],
                  cell=cell if cell is not None else np.zeros((3, 3)), pbc=s["pbc"])
    res = {"energy": s["energy"], "forces": np.asarray(s["forces"])}
    if "stress" in s and bool(s.get("stress_mask", True)):
        res["stress"] = np.asarray(s["stress"])
    atoms.calc = SinglePointCalculator(atoms, **res)
    if s.get("source"):
        atoms.info["source"] = s["source"]
    return atoms
