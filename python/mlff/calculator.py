"""mlff.Calculator: an ASE calculator over libmlff (through mlff.Evaluator)."""

import copy

import numpy as np
from ase.calculators.calculator import Calculator as _AseCalculator
from ase.calculators.calculator import PropertyNotImplementedError, all_changes

from ._lib import error as _error
from .model import Evaluator, Model

__all__ = ["Calculator"]


def _same(x, y):
    """Identical arrays: same shape and type, same bits (a small array's bytes compare several
    times faster than (x == y).all(); -0.0 and 0.0 differ, which only costs a calculation)."""
    if x.shape != y.shape or x.dtype != y.dtype:
        return False
    if x.size <= 4096:
        return x.tobytes() == y.tobytes()
    return bool((x == y).all())


def _voigt_stress(virial, volume):
    """ASE's stress (Voigt xx yy zz yz xz xy, eV/Å^3) from libmlff's virial (xx yy zz xy xz yz,
    W = sum over pairs of r_ij (x) f_ij, eV): stress = (1/V) dE/d(strain) = -W/V."""
    w = np.asarray(virial)
    return -np.array([w[0], w[1], w[2], w[5], w[4], w[3]]) / volume


class Calculator(_AseCalculator):
    """ASE calculator of an mlff model.

    Calculator(model_or_path, device="auto"|"cpu"|"gpu", fp16=False, threads=None, gpu=0,
    gpu_shared=False, skin=None)

    Properties: energy and free_energy (eV; the same number), forces (eV/Å), energies (per
    atom, eV), stress (Voigt xx yy zz yz xz xy, eV/Å^3, ASE's sign: -virial/volume; only when
    the cell spans three dimensions). Atoms periodic along some axis are evaluated with their
    periodic images along those axes; atoms with no pbc as an open molecule (the cell is then
    ignored except for stress). charges (e; Atoms.get_charges): those the model's
    electrostatics give the atoms (models without electrostatics do not have the property).
    `calculate_batch(list_of_atoms)` evaluates many structures in
    one call of libmlff (one launch sequence on the GPU).

    skin (Å; None: the library's default, 1.0): on the GPU, calls on the same Atoms (atom count,
    elements, cell) keep the neighbour list until an atom moved more than skin/2, as an MD code
    does (mlff_calc_options.skin; 0: a new list every call). Repeated calls (MD, optimisation)
    reuse the library's buffers and this calculator's own: a call allocates only the arrays of
    its results.

    A committee (Model.committee_size > 1) gives the members' mean for all of the above, and
    its uncertainty: force_deviation (per atom, eV/Å: sqrt(mean_k |F_i^k - mean F_i|^2) over
    the members k) and max_force_deviation (its maximum over the atoms, eV/Å)."""

    implemented_properties = ["energy", "free_energy", "forces", "energies", "stress",
                              "force_deviation", "max_force_deviation", "charges"]
    default_parameters = {"device": "auto", "fp16": False, "threads": None, "gpu": 0,
                          "gpu_shared": False, "skin": None}
    nolabel = True

    def __init__(self, model, device="auto", fp16=False, threads=None, gpu=0, gpu_shared=False,
                 skin=None, **kwargs):
        self.model = model if isinstance(model, Model) else Model(model)
        self._engine = None
        self._numbers = self._species = None  # the species of the last Atoms' numbers
        self._spare = None  # the last copy of the Atoms (_snapshot)
        _AseCalculator.__init__(self, device=device, fp16=fp16, threads=threads, gpu=gpu,
                                gpu_shared=gpu_shared, skin=skin, **kwargs)
        self._make_engine()

    def _make_engine(self):
        p = self.parameters
        self._engine = Evaluator(self.model, device=p["device"], fp16=p["fp16"],
                                 threads=p["threads"], gpu=p["gpu"], gpu_shared=p["gpu_shared"],
                                 skin=p["skin"])

    def set(self, **kwargs):
        changed = _AseCalculator.set(self, **kwargs)
        if changed and self._engine is not None:
            self._engine.close()
            self._make_engine()
        return changed

    def todict(self, skip_default=True):
        d = _AseCalculator.todict(self, skip_default)
        d["model"] = self.model.path
        return d

    @property
    def device(self):
        """The device actually used: "cpu" or "gpu"."""
        return self._engine.device

    @property
    def evaluator(self):
        """The mlff.Evaluator underneath (numpy in, numpy out)."""
        return self._engine

    # -- Atoms -> libmlff --
    def _species_of(self, atoms):
        """The model species of atoms' elements, looked up again only when they change."""
        z = atoms.arrays["numbers"]
        if self._numbers is None or not _same(z, self._numbers):
            self._species = self.model.species(atoms.get_chemical_symbols())
            self._numbers = z.copy()
        return self._species

    def _structure(self, atoms):
        species = self._species_of(atoms)
        pbc = np.asarray(atoms.pbc, bool)
        cell = None
        if pbc.any():
            c = atoms.cell
            if any(pbc[k] and not np.any(c[k]) for k in range(3)):
                raise _error("the Atoms are periodic along a cell vector of length zero "
                                "(pbc %s, cell %s)" % (pbc.tolist(), np.asarray(c).tolist()))
            # a non-periodic axis without a vector gets an orthogonal unit one: libmlff wants
            # a non-singular cell and makes no images along it
            cell = np.array(c.complete() if c.rank < 3 else c)
        return atoms.arrays["positions"], species, cell, pbc

    def _results(self, atoms, r):
        out = {"energy": r["energy"], "free_energy": r["energy"], "forces": r["forces"],
               "energies": r["energy_atom"]}
        if atoms.cell.rank == 3:
            out["stress"] = _voigt_stress(r["virial"], atoms.get_volume())
        if "force_deviation" in r:
            out["force_deviation"] = r["force_deviation"]
            out["max_force_deviation"] = r["max_force_deviation"]
        return out

    # -- ASE's per-call work, kept small: a call on one molecule costs about as much as the
    # library's own (ASE's compare_atoms with np.isclose and Atoms.copy cost several times a
    # GPU step of one benzene) --
    def check_state(self, atoms, tol=1e-15):
        """The changes since the last calculation (ASE's list of names), by exact comparison:
        anything not bit-identical counts as changed."""
        old = self.atoms
        if old is None:
            return list(all_changes)
        ignored = getattr(self, "ignored_changes", ()) or ()
        changes = []
        a, b = old.arrays, atoms.arrays
        for name in all_changes:
            if name in ignored:
                continue
            if name == "cell":
                same = _same(old.cell.array, atoms.cell.array)
            elif name == "pbc":
                same = _same(old.pbc, atoms.pbc)
            else:
                x, y = a.get(name), b.get(name)
                same = x is None and y is None or (x is not None and y is not None and _same(x, y))
            if not same:
                changes.append(name)
        return changes

    def get_property(self, name, atoms=None, allow_calculation=True):
        """ASE's get_property (the same steps and results), without its Atoms.copy(): the
        snapshot of the atoms is calculate()'s, in place (_snapshot)."""
        if name not in self.implemented_properties:
            raise PropertyNotImplementedError("%s property not implemented" % name)
        if atoms is None:
            atoms = self.atoms
            system_changes = []
        else:
            system_changes = self.check_state(atoms)
            if system_changes:
                self.atoms = None
                self.results = {}
        if name not in self.results:
            if not allow_calculation:
                return None
            self.calculate(atoms, [name], system_changes)
        if name not in self.results:
            raise PropertyNotImplementedError("%s not present in this calculation" % name)
        result = self.results[name]
        return result.copy() if isinstance(result, np.ndarray) else result

    def _snapshot(self, atoms):
        """self.atoms := a copy of atoms (what ASE's calculate does), in place where the arrays
        keep their shapes: into the last copy, which ASE's reset() let go of"""
        old = self.atoms if self.atoms is not None else self._spare
        if old is not None and len(old) == len(atoms) and old.arrays.keys() == atoms.arrays.keys() \
                and all(old.arrays[k].shape == v.shape and old.arrays[k].dtype == v.dtype
                        for k, v in atoms.arrays.items()):
            for k, v in atoms.arrays.items():
                old.arrays[k][...] = v
            old.cell.array[:] = atoms.cell.array
            old.pbc[:] = atoms.pbc
            old.info = copy.deepcopy(atoms.info) if atoms.info else {}
            old.constraints = copy.deepcopy(atoms.constraints) if atoms.constraints else []
            self.atoms = old
        else:
            self.atoms = atoms.copy()
        self._spare = self.atoms

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        if atoms is not None:
            self._snapshot(atoms)
        atoms = self.atoms
        if "stress" in properties and atoms.cell.rank < 3:
            raise PropertyNotImplementedError(
                "mlff: stress needs a cell spanning three dimensions (the virial is divided by "
                "its volume); these Atoms' cell has rank %d" % atoms.cell.rank)
        positions, species, cell, pbc = self._structure(atoms)
        k = self._engine._compute_kept(positions, species, cell, pbc)
        e = k.r.energy
        # copies: the kept arrays are the next call's
        self.results = {"energy": e, "free_energy": e, "forces": k.forces.copy(),
                        "energies": k.energy_atom.copy()}
        if atoms.cell.array.any() and atoms.cell.rank == 3:  # (an open molecule has no cell)
            self.results["stress"] = _voigt_stress(k.r.virial[:], atoms.get_volume())
        if k.force_deviation is not None:
            self.results["force_deviation"] = k.force_deviation.copy()
            self.results["max_force_deviation"] = k.r.max_force_deviation
        if "charges" in properties:  # (Atoms.get_charges)
            if self.model.electrostatics is None:
                raise PropertyNotImplementedError(
                    "mlff: the model %s has no electrostatics: it gives atoms no charges"
                    % self.model.path)
            self.results["charges"] = self.model.charges(positions, species, cell, pbc)

    def calculate_batch(self, images):
        """Evaluate a list of Atoms in one libmlff call (mlff_compute_batch). Returns one dict
        per structure with energy, free_energy, forces, energies and (cell of rank 3) stress.
        Leaves the calculator's own results alone."""
        images = list(images)
        rs = self._engine.compute_batch([self._structure(a) for a in images])
        return [self._results(a, r) for a, r in zip(images, rs)]
