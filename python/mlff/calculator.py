"""mlff.Calculator: an ASE calculator over libmlff (through mlff.Evaluator)."""

import numpy as np
from ase.calculators.calculator import Calculator as _AseCalculator
from ase.calculators.calculator import PropertyNotImplementedError, all_changes

from ._lib import error as _error
from .model import Evaluator, Model

__all__ = ["Calculator"]


def _voigt_stress(virial, volume):
    """ASE's stress (Voigt xx yy zz yz xz xy, eV/Å^3) from libmlff's virial (xx yy zz xy xz yz,
    W = sum over pairs of r_ij (x) f_ij, eV): stress = (1/V) dE/d(strain) = -W/V."""
    w = np.asarray(virial)
    return -np.array([w[0], w[1], w[2], w[5], w[4], w[3]]) / volume


class Calculator(_AseCalculator):
    """ASE calculator of an mlff model.

    Calculator(model_or_path, device="auto"|"cpu"|"gpu", fp16=False, threads=None, gpu=0,
    gpu_shared=False)

    Properties: energy and free_energy (eV; the same number), forces (eV/Å), energies (per
    atom, eV), stress (Voigt xx yy zz yz xz xy, eV/Å^3, ASE's sign: -virial/volume; only when
    the cell spans three dimensions). Atoms periodic along some axis are evaluated with their
    periodic images along those axes; atoms with no pbc as an open molecule (the cell is then
    ignored except for stress). `calculate_batch(list_of_atoms)` evaluates many structures in
    one call of libmlff (one launch sequence on the GPU)."""

    implemented_properties = ["energy", "free_energy", "forces", "energies", "stress"]
    default_parameters = {"device": "auto", "fp16": False, "threads": None, "gpu": 0,
                          "gpu_shared": False}
    nolabel = True

    def __init__(self, model, device="auto", fp16=False, threads=None, gpu=0, gpu_shared=False,
                 **kwargs):
        self.model = model if isinstance(model, Model) else Model(model)
        self._engine = None
        _AseCalculator.__init__(self, device=device, fp16=fp16, threads=threads, gpu=gpu,
                                gpu_shared=gpu_shared, **kwargs)
        self._make_engine()

    def _make_engine(self):
        p = self.parameters
        self._engine = Evaluator(self.model, device=p["device"], fp16=p["fp16"],
                                 threads=p["threads"], gpu=p["gpu"], gpu_shared=p["gpu_shared"])

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
    def _structure(self, atoms):
        species = self.model.species(atoms.get_chemical_symbols())
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
        return atoms.get_positions(), species, cell, pbc

    def _results(self, atoms, r):
        out = {"energy": r["energy"], "free_energy": r["energy"], "forces": r["forces"],
               "energies": r["energy_atom"]}
        if atoms.cell.rank == 3:
            out["stress"] = _voigt_stress(r["virial"], atoms.get_volume())
        return out

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        _AseCalculator.calculate(self, atoms, properties, system_changes)
        if "stress" in properties and self.atoms.cell.rank < 3:
            raise PropertyNotImplementedError(
                "mlff: stress needs a cell spanning three dimensions (the virial is divided by "
                "its volume); these Atoms' cell has rank %d" % self.atoms.cell.rank)
        r = self._engine.compute(*self._structure(self.atoms))
        self.results = self._results(self.atoms, r)

    def calculate_batch(self, images):
        """Evaluate a list of Atoms in one libmlff call (mlff_compute_batch). Returns one dict
        per structure with energy, free_energy, forces, energies and (cell of rank 3) stress.
        Leaves the calculator's own results alone."""
        images = list(images)
        rs = self._engine.compute_batch([self._structure(a) for a in images])
        return [self._results(a, r) for a, r in zip(images, rs)]
