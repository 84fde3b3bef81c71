"""mlff — distilled machine-learned force fields: a thin binding of libmlff's public C API
(include/mlff.h) through ctypes, and an ASE calculator.

    import mlff
    model = mlff.Model("models/benzene-gfn2.h5")
    atoms.calc = mlff.Calculator(model, device="cpu")     # needs ASE
    atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()

mlff.Model and mlff.Evaluator need only numpy; mlff.read_dataset and mlff.write_dataset
(dataset files) import h5py when called; mlff.Calculator imports ASE when first used.
Units: eV and Å (docs/python.md)."""

from ._lib import MLFF_API_VERSION, MLFF_FORMAT_VERSION, MLFF_VERSION_STRING, MlffError
from ._lib import last_error
from .model import Evaluator, Model, gpu_count, library_path
from .dataset import Dataset, read_dataset, write_dataset  # h5py imported when first used

__version__ = MLFF_VERSION_STRING
__all__ = ["Model", "Evaluator", "Calculator", "MlffError", "gpu_count", "library_path",
           "last_error", "read_dataset", "write_dataset", "Dataset", "__version__",
           "MLFF_API_VERSION", "MLFF_FORMAT_VERSION"]


def __getattr__(name):  # PEP 562: ASE only when the calculator is asked for
    if name == "Calculator":
        try:
            from .calculator import Calculator
        except ImportError as e:
            if getattr(e, "name", None) and e.name.split(".")[0] == "ase":
                raise ImportError("mlff.Calculator needs ASE (pip install ase, or Debian's "
                                  "python3-ase)") from e
            raise
        return Calculator
    raise AttributeError("module 'mlff' has no attribute %r" % name)
