"""mlff.Model (a loaded model file) and mlff.Evaluator (an evaluation context over numpy arrays),
over libmlff's public C API (include/mlff.h) through ctypes. No ASE here: see calculator.py."""

import ctypes
import os
import weakref

import numpy as np

from . import _lib as L
from ._lib import check, lib

_DEVICES = {"auto": L.MLFF_DEVICE_AUTO, "cpu": L.MLFF_DEVICE_CPU, "gpu": L.MLFF_DEVICE_GPU}
_DEVICE_NAMES = {v: k for k, v in _DEVICES.items()}


def gpu_count():
    """CUDA devices visible to libmlff (0 when it was built without CUDA, or none is)."""
    return int(lib().mlff_gpu_count())


def library_path():
    """The path of the libmlff that was loaded."""
    return lib()._mlff_path


def _b(s):
    return s.encode("utf-8") if isinstance(s, str) else bytes(s)


class Model:
    """A model file loaded by mlff_model_load.

    Model(path, dispersion=None): `dispersion` names a file with a /dispersion group to add
    (mlff_model_load_dispersion). Free it with close() (or a `with` block); it is also freed when
    garbage-collected. Evaluators and Calculators made from it keep it alive."""

    def __init__(self, path, dispersion=None):
        self._ptr = None
        self._users = weakref.WeakSet()  # evaluators whose calc handles use this model
        self.path = os.fspath(path)
        p = L.mlff_model_p()
        check(lib().mlff_model_load(os.fsencode(self.path), ctypes.byref(p)))
        self._ptr = p
        if dispersion is not None:
            self.load_dispersion(dispersion)

    # -- life --
    def close(self):
        """Free the model (and the calc handles of every evaluator made from it)."""
        for u in list(self._users):
            u._release()
        if self._ptr:
            lib().mlff_model_free(self._ptr)
        self._ptr = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may be gone
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _handle(self):
        if not self._ptr:
            raise L.error("mlff.Model(%r) is closed" % self.path)
        return self._ptr

    def __repr__(self):
        if not self._ptr:
            return "<mlff.Model %r (closed)>" % self.path
        return "<mlff.Model %r: %s, elements %s, cutoff %.3g A%s%s>" % (
            self.path, self.arch, " ".join(self.elements), self.cutoff,
            ", dispersion" if self.has_dispersion else "",
            ", electrostatics" if self.electrostatics else "")

    # -- properties --
    @property
    def n_elements(self):
        return lib().mlff_model_n_elements(self._handle())

    @property
    def elements(self):
        """The model's chemical symbols, in species order."""
        h = self._handle()
        return tuple(lib().mlff_model_element(h, i).decode() for i in range(lib().mlff_model_n_elements(h)))

    @property
    def cutoff(self):
        """Interaction range, Å: max(Rcr, Rca, dispersion and electrostatics cutoffs)."""
        return float(lib().mlff_model_cutoff(self._handle()))

    @property
    def n_features(self):
        """Length of one atom's descriptor."""
        return int(lib().mlff_model_n_features(self._handle()))

    @property
    def arch(self):
        return lib().mlff_model_arch(self._handle()).decode()

    @property
    def descriptor(self):
        """The descriptor's parameters as a dict (Rcr, Rca, etaR, etaA, zeta, muR, muA, thetaZ)."""
        d = lib().mlff_model_descriptor(self._handle()).contents
        return {"Rcr": d.Rcr, "Rca": d.Rca, "etaR": d.etaR, "etaA": d.etaA, "zeta": d.zeta,
                "muR": list(d.muR[:d.n_muR]), "muA": list(d.muA[:d.n_muA]),
                "thetaZ": list(d.thetaZ[:d.n_thetaZ])}

    @property
    def committee_size(self):
        """Students in the model (1: a single network). A committee evaluates to their mean,
        and its per-atom force deviation is the uncertainty (results' force_deviation)."""
        return int(lib().mlff_model_committee_size(self._handle()))

    @property
    def has_dispersion(self):
        return bool(lib().mlff_model_dispersion(self._handle()))

    @property
    def dispersion(self):
        """The long-range dispersion's parameters as a dict (c6, c8 as n x n arrays by species),
        or None when the model has none."""
        p = lib().mlff_model_dispersion(self._handle())
        if not p:
            return None
        d, n = p.contents, self.n_elements
        return {"s6": d.s6, "s8": d.s8, "a1": d.a1, "a2": d.a2, "cutoff": d.cutoff,
                "tail": bool(d.tail),
                "c6": np.array([[d.c6[a][b] for b in range(n)] for a in range(n)]),
                "c8": np.array([[d.c8[a][b] for b in range(n)] for a in range(n)]),
                "s9": d.s9, "alp": d.alp, "cutoff3": d.cutoff3, "tail3": d.tail3,
                "switch3": d.switch3}

    @property
    def electrostatics(self):
        """The fixed-charge electrostatics as a dict (charges by element symbol, e; alpha, Å^-1;
        cutoff, Å; the bond-charge increments as an [n, n] array, e, what an atom of the row's
        element gains per bond to one of the column's, all 0 when it has none; bond_radii by
        element symbol, Å, and bond_factor), or None when the model has none."""
        p = lib().mlff_model_electrostatics(self._handle())
        if not p:
            return None
        d, n = p.contents, self.n_elements
        return {"charges": {s: d.charges[k] for k, s in enumerate(self.elements)},
                "alpha": d.alpha, "cutoff": d.cutoff,
                "increments": np.array([[d.increments[a][b] for b in range(n)] for a in range(n)]),
                "bond_radii": {s: d.bond_radii[k] for k, s in enumerate(self.elements)},
                "bond_factor": d.bond_factor}

    def set_electrostatics(self, params):
        """Give the model fixed-charge electrostatics (a dict as `electrostatics` returns: charges
        by element symbol, every element; alpha and cutoff; optionally increments, [n, n]
        antisymmetric, with bond_radii for every element and bond_factor), or take them away
        (None). Evaluators made earlier re-create their calc on their next call."""
        h = self._handle()
        if params is None:
            check(lib().mlff_model_set_electrostatics(h, None))
        else:
            p, q = L.mlff_electrostatics_params(), params["charges"]
            missing = [s for s in self.elements if s not in q]
            extra = [s for s in q if s not in self.elements]
            if missing or extra:
                raise L.error("electrostatics charges: %s (the model's elements are %s)" % (
                    "no charge for " + ", ".join(missing) if missing else
                    "element(s) " + ", ".join(extra) + " not in the model",
                    ", ".join(self.elements)))
            for k, s in enumerate(self.elements):
                p.charges[k] = float(q[s])
            p.alpha, p.cutoff = float(params["alpha"]), float(params["cutoff"])
            inc = params.get("increments")
            if inc is not None and np.any(np.asarray(inc) != 0):
                n = self.n_elements
                inc = np.asarray(inc, dtype=np.float64)
                if inc.shape != (n, n):
                    raise L.error("electrostatics increments: shape %s, expected (%d, %d) (the "
                                  "model's elements %s)" % (inc.shape, n, n,
                                                           ", ".join(self.elements)))
                radii = params.get("bond_radii") or {}
                missing = [s for s in self.elements if s not in radii]
                if missing:
                    raise L.error("electrostatics increments need bond_radii for every element: "
                                  "none for %s (covalent radii, Å, e.g. ase.data.covalent_radii)"
                                  % ", ".join(missing))
                for a in range(n):
                    p.bond_radii[a] = float(radii[self.elements[a]])
                    for b in range(n):
                        p.increments[a][b] = inc[a, b]
                p.bond_factor = float(params.get("bond_factor", 1.25))
            check(lib().mlff_model_set_electrostatics(h, ctypes.byref(p)))
        for u in list(self._users):
            u._release()

    def charges(self, positions, species, cell=None, pbc=None):
        """The atomic charges (e) the model's electrostatics give a structure: by element, plus
        the bond-charge increments of each atom's bonds (across periodic boundaries too)."""
        st = _Structure(positions, species, cell, pbc)
        out = np.empty(st.n, dtype=np.float64)
        check(lib().mlff_model_charges(self._handle(), ctypes.byref(st.c),
                                       out.ctypes.data_as(L.c_double_p)))
        return out

    def dispersion_tail(self, a, b):
        """(energy, virial) of the dispersion's mean-field tail for species a and b, per
        N_a N_b / V, eV Å^3 (mlff_model_dispersion_tail)."""
        e, w = ctypes.c_double(), ctypes.c_double()
        check(lib().mlff_model_dispersion_tail(self._handle(), a, b, ctypes.byref(e), ctypes.byref(w)))
        return e.value, w.value

    def dispersion_tail3(self, counts, volume):
        """(energy, virial) of the three-body dispersion's tail, eV, for a periodic system of
        `volume` Å^3 with counts[a] atoms of species a (mlff_model_dispersion_tail3; zero when the
        model has none); the virial is each diagonal component."""
        n = self.n_elements
        if len(counts) != n:
            raise L.error("dispersion_tail3: %d counts for a model of %d elements" % (len(counts), n))
        c = (ctypes.c_long * n)(*[int(x) for x in counts])
        e, w = ctypes.c_double(), ctypes.c_double()
        check(lib().mlff_model_dispersion_tail3(self._handle(), c, float(volume), ctypes.byref(e),
                                                ctypes.byref(w)))
        return e.value, w.value

    def attr(self, name):
        """A metadata attribute of the file ("" when absent): teacher, training_summary, ..."""
        return lib().mlff_model_attr(self._handle(), _b(name)).decode("utf-8", "replace")

    def set_attr(self, name, value):
        check(lib().mlff_model_set_attr(self._handle(), _b(name), _b(value)))

    def load_dispersion(self, path):
        """Give the model the dispersion of a file holding a /dispersion group. Evaluators made
        earlier re-create their calc on their next call (the C API asks for new calcs)."""
        check(lib().mlff_model_load_dispersion(self._handle(), os.fsencode(os.fspath(path))))
        for u in list(self._users):
            u._release()

    def set_dispersion(self, params):
        """Give the model a dispersion term (a dict as `dispersion` returns: s6, s8, a1, a2,
        cutoff, tail, c6 and c8 as n x n arrays by species, optionally s9, alp, cutoff3, switch3, tail3), or take
        it away (None). Evaluators
        made earlier re-create their calc on their next call."""
        h = self._handle()
        if params is None:
            check(lib().mlff_model_set_dispersion(h, None))
        else:
            p, n = L.mlff_dispersion_params(), self.n_elements
            for k in ("s6", "s8", "a1", "a2", "cutoff"):
                setattr(p, k, float(params[k]))
            p.tail = int(bool(params["tail"]))
            # the three-body term is optional (off unless s9 is given)
            p.s9, p.alp = float(params.get("s9", 0.0)), float(params.get("alp", 16.0))
            p.cutoff3 = float(params.get("cutoff3", 0.0))
            p.tail3 = float(params.get("tail3", 0.0))  # its tail, Å^-3 (0: none)
            p.switch3 = float(params.get("switch3", 0.0))  # its smooth cutoff, Å (0: hard)
            c6, c8 = np.asarray(params["c6"], float), np.asarray(params["c8"], float)
            if c6.shape != (n, n) or c8.shape != (n, n):
                raise L.error("dispersion c6 and c8 must be %d x %d (the model's elements)" % (n, n))
            for a in range(n):
                for b in range(n):
                    p.c6[a][b], p.c8[a][b] = c6[a, b], c8[a, b]
            check(lib().mlff_model_set_dispersion(h, ctypes.byref(p)))
        for u in list(self._users):
            u._release()

    def save(self, path):
        check(lib().mlff_model_save(self._handle(), os.fsencode(os.fspath(path))))

    def summary(self):
        """What `mlff info` prints (mlff_model_print), as a string."""
        libc = ctypes.CDLL(None)
        libc.tmpfile.restype = ctypes.c_void_p
        for fn in ("fflush", "rewind", "fclose"):
            getattr(libc, fn).argtypes = [ctypes.c_void_p]
        libc.fread.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_void_p]
        libc.fread.restype = ctypes.c_size_t
        f = libc.tmpfile()
        if not f:
            raise L.error("mlff.Model.summary: tmpfile() failed")
        try:
            lib().mlff_model_print(self._handle(), f)
            libc.fflush(f)
            libc.rewind(f)
            chunks, buf = [], ctypes.create_string_buffer(65536)
            while True:
                k = libc.fread(buf, 1, len(buf), f)
                if not k:
                    break
                chunks.append(buf.raw[:k])
        finally:
            libc.fclose(f)
        return b"".join(chunks).decode("utf-8", "replace")

    def species(self, symbols):
        """Model species indices (int32 array) of chemical symbols; MlffError naming the first
        element the model lacks."""
        h, table, out = self._handle(), {}, np.empty(len(symbols), dtype=np.intc)
        for i, s in enumerate(symbols):
            k = table.get(s)
            if k is None:
                k = table[s] = lib().mlff_model_find_element(h, _b(s))
            if k < 0:
                raise L.error(
                    "the model %s has no element %s (atom %d is %s; the model's elements: %s)"
                    % (self.path, s, i, s, ", ".join(self.elements)), L.MLFF_ERR_ARGUMENT)
            out[i] = k
        return out


class _Structure:
    """An mlff_structure over numpy arrays that it keeps alive."""

    def __init__(self, positions, species, cell=None, pbc=None):
        self.positions = np.ascontiguousarray(positions, dtype=np.float64).reshape(-1, 3)
        n = len(self.positions)
        self.species = np.ascontiguousarray(species, dtype=np.intc).reshape(-1)
        if len(self.species) != n:
            raise L.error("%d positions but %d species" % (n, len(self.species)))
        pbc = np.zeros(3, bool) if pbc is None else np.broadcast_to(np.asarray(pbc, bool), (3,))
        self.c = L.mlff_structure()
        self.c.n_atoms = n
        self.c.positions = self.positions.ctypes.data_as(L.c_double_p)
        self.c.species = self.species.ctypes.data_as(L.c_int_p)
        self.cell = None
        if cell is not None and pbc.any():
            self.cell = np.ascontiguousarray(cell, dtype=np.float64).reshape(3, 3)
            self.c.cell = self.cell.ctypes.data_as(L.c_double_p)
            for k in range(3):
                self.c.pbc[k] = int(pbc[k])
        self.n = n


class _Result:
    def __init__(self, n, per_atom_energy=True, per_atom_virial=False, committee=False):
        self.forces = np.empty((n, 3))
        self.energy_atom = np.empty(n) if per_atom_energy else None
        self.virial_atom = np.empty((n, 6)) if per_atom_virial else None
        self.force_deviation = np.empty(n) if committee else None
        self.c = L.mlff_result()
        self.c.forces = self.forces.ctypes.data_as(L.c_double_p)
        if committee:
            self.c.force_deviation = self.force_deviation.ctypes.data_as(L.c_double_p)
        if per_atom_energy:
            self.c.energy_atom = self.energy_atom.ctypes.data_as(L.c_double_p)
        if per_atom_virial:
            self.c.virial_atom = self.virial_atom.ctypes.data_as(L.c_double_p)

    def todict(self):
        out = {"energy": self.c.energy, "virial": np.array(self.c.virial[:]), "forces": self.forces}
        if self.energy_atom is not None:
            out["energy_atom"] = self.energy_atom
        if self.virial_atom is not None:
            out["virial_atom"] = self.virial_atom
        if self.force_deviation is not None:
            out["force_deviation"] = self.force_deviation
            out["max_force_deviation"] = self.c.max_force_deviation
        return out


class _Kept:
    """compute()'s mlff_structure and mlff_result for n atoms, kept between calls: each call
    copies its positions (and species, cell) into the same arrays, and the library writes into
    the same result arrays, so that a call allocates nothing the size of the system."""

    def __init__(self, n, committee=False):
        self.n = n
        self.positions = np.zeros((n, 3))
        self.species = np.zeros(n, dtype=np.intc)
        self.cell = np.zeros((3, 3))
        self.forces = np.zeros((n, 3))
        self.energy_atom = np.zeros(n)
        self.s = L.mlff_structure()
        self.s.n_atoms = n
        self.s.positions = self.positions.ctypes.data_as(L.c_double_p)
        self.s.species = self.species.ctypes.data_as(L.c_int_p)
        self.cell_p = self.cell.ctypes.data_as(L.c_double_p)
        self.pbc = (False, False, False)
        self.r = L.mlff_result()
        self.r.forces = self.forces.ctypes.data_as(L.c_double_p)
        self.r.energy_atom = self.energy_atom.ctypes.data_as(L.c_double_p)
        # a committee's per-atom force deviation (None for a single model)
        self.force_deviation = np.zeros(n) if committee else None
        if committee:
            self.r.force_deviation = self.force_deviation.ctypes.data_as(L.c_double_p)
        self.s_ref, self.r_ref = ctypes.byref(self.s), ctypes.byref(self.r)

    def fill(self, positions, species, cell, pbc):
        if positions.shape != (self.n, 3) or species.shape != (self.n,):
            raise L.error("positions %s and species %s: expected (%d, 3) and (%d,)"
                          % (positions.shape, species.shape, self.n, self.n))
        self.positions[...] = positions
        self.species[...] = species
        if pbc is None:
            pbc = (False, False, False)
        else:
            p = np.asarray(pbc, bool)
            if p.shape != (3,):
                p = np.broadcast_to(p, (3,))
            pbc = (bool(p[0]), bool(p[1]), bool(p[2]))
        if cell is not None and any(pbc):
            self.cell[...] = cell
            self.s.cell = self.cell_p
        else:
            self.s.cell = None
            pbc = (False, False, False)
        if pbc != self.pbc:
            for k in range(3):
                self.s.pbc[k] = int(pbc[k])
            self.pbc = pbc


class Evaluator:
    """An evaluation context (mlff_calc) of a model, over numpy arrays; no ASE needed.

    Evaluator(model_or_path, device="auto"|"cpu"|"gpu", fp16=False, threads=None, gpu=0,
    gpu_shared=False, skin=None). Like the C calc it wraps, it is not thread-safe: use one per
    thread. skin (Å; None: the library's default, 1.0): on the GPU, repeated calls on the same
    system keep the neighbour list until an atom moved more than skin/2 (mlff_calc_options.skin;
    0: a new list every call).

    compute(positions, species, cell=None, pbc=None) returns a dict: energy (eV), virial
    (eV; xx yy zz xy xz yz, W = sum over pairs of r_ij (x) f_ij), forces [n,3] (eV/Å),
    energy_atom [n] (eV) and, with per_atom_virial=True, virial_atom [n,6]. species are the
    model's indices (Model.species(symbols)); a cell is used when some pbc is set."""

    def __init__(self, model, device="auto", fp16=False, threads=None, gpu=0, gpu_shared=False,
                 skin=None):
        self.model = model if isinstance(model, Model) else Model(model)
        if device not in _DEVICES:
            raise L.error("device must be one of auto, cpu, gpu (not %r)" % (device,))
        if threads is not None and (int(threads) != threads or threads < 0):
            raise L.error("threads must be a non-negative integer or None (not %r)" % (threads,))
        self.options = L.mlff_calc_options()
        lib().mlff_calc_options_default(ctypes.byref(self.options))
        self.options.device = _DEVICES[device]
        self.options.fp16 = int(bool(fp16))
        self.options.n_threads = int(threads or 0)
        self.options.gpu = int(gpu)
        self.options.gpu_shared = int(bool(gpu_shared))
        if skin is not None:
            if not 0.0 <= float(skin) <= 100.0:  # NaN fails too
                raise L.error("skin must be in [0, 100] Å (not %r)" % (skin,))
            self.options.skin = float(skin)
        self._ptr = None
        self._kept = None
        self._compute_fn = lib().mlff_compute
        self._committee = self.model.committee_size > 1
        self._handle()  # fail now, with libmlff's message, when the options cannot be met

    def _handle(self):
        if not self._ptr:
            p = L.mlff_calc_p()
            check(lib().mlff_calc_create(self.model._handle(), ctypes.byref(self.options), ctypes.byref(p)))
            self._ptr = p
            self.model._users.add(self)
        return self._ptr

    def _release(self):
        if self._ptr:
            lib().mlff_calc_free(self._ptr)
        self._ptr = None

    def close(self):
        self._release()

    def __del__(self):
        try:
            self._release()
        except Exception:
            pass

    @property
    def device(self):
        """The device actually used: "cpu" or "gpu"."""
        return _DEVICE_NAMES[lib().mlff_calc_device(self._handle())]

    @property
    def skin(self):
        """The neighbour skin (Å) of the calc (mlff_calc_options.skin)."""
        return self.options.skin

    @property
    def list_builds(self):
        """Neighbour lists built so far (mlff_calc_list_builds): calls / builds is how many
        calls a kept list lasted."""
        return int(lib().mlff_calc_list_builds(self._handle()))

    def _compute_kept(self, positions, species, cell=None, pbc=None):
        """mlff_compute into the kept arrays (_Kept, returned; valid until the next call):
        positions an [n,3] float array, species an [n] int array."""
        n = len(positions)
        k = self._kept
        if k is None or k.n != n:
            if len(species) != n:
                raise L.error("%d positions but %d species" % (n, len(species)))
            k = self._kept = _Kept(n, self._committee)
        k.fill(positions, species, cell, pbc)
        check(self._compute_fn(self._handle(), k.s_ref, k.r_ref))
        return k

    def compute(self, positions, species, cell=None, pbc=None, per_atom_virial=False):
        if per_atom_virial:
            s = _Structure(positions, species, cell, pbc)
            r = _Result(s.n, True, per_atom_virial, self._committee)
            check(lib().mlff_compute(self._handle(), ctypes.byref(s.c), ctypes.byref(r.c)))
            return r.todict()
        positions = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
        species = np.asarray(species, dtype=np.intc).reshape(-1)
        k = self._compute_kept(positions, species, cell, pbc)
        out = {"energy": k.r.energy, "virial": np.array(k.r.virial[:]),
               "forces": k.forces.copy(), "energy_atom": k.energy_atom.copy()}
        if self._committee:
            out["force_deviation"] = k.force_deviation.copy()
            out["max_force_deviation"] = k.r.max_force_deviation
        return out

    def compute_batch(self, structures, per_atom_virial=False):
        """structures: a sequence of (positions, species, cell, pbc) (cell and pbc may be None);
        one mlff_compute_batch call; a list of dicts as compute() returns."""
        ss = [_Structure(*t) for t in structures]
        if not ss:
            return []
        rs = [_Result(s.n, True, per_atom_virial, self._committee) for s in ss]
        cs = (L.mlff_structure * len(ss))(*[s.c for s in ss])
        cr = (L.mlff_result * len(rs))(*[r.c for r in rs])
        check(lib().mlff_compute_batch(self._handle(), len(ss), cs, cr))
        for r, c in zip(rs, cr):
            r.c = c
        return [r.todict() for r in rs]

    def check_range(self, tolerance):
        """Extrapolation check (mlff_calc_check_range): while tolerance >= 0, every call counts
        the atoms with a descriptor feature outside the model's training range by more than
        tolerance x that feature's span; range_report() tells about the last call. CPU only,
        and only for models that store their range (MlffError otherwise). < 0: off."""
        check(lib().mlff_calc_check_range(self._handle(), float(tolerance)))

    def range_report(self):
        """The extrapolation check's report of the last call, as a dict."""
        r = L.mlff_range_report()
        lib().mlff_calc_range_report(self._handle(), ctypes.byref(r))
        out = {k: getattr(r, k) for k, _ in r._fields_}
        out["element"] = self.model.elements[r.species] if r.species >= 0 else None
        return out

    def features(self, positions, species, cell=None, pbc=None):
        """The descriptor of every atom, [n, n_features] (mlff_compute_features)."""
        s = _Structure(positions, species, cell, pbc)
        out = np.empty((s.n, self.model.n_features))
        check(lib().mlff_compute_features(self._handle(), ctypes.byref(s.c), out.ctypes.data_as(L.c_double_p)))
        return out
