"""ctypes declarations of libmlff's public API, mirroring include/mlff.h.

Every struct below has the layout of its C namesake (the test tests/python/test_layout.py
compares sizeof and offsetof of each field with a C program compiled against mlff.h), and every
function is declared with the argument and return types of its prototype. Nothing here is
specific to ASE; the rest of the package builds on these names.

The library is found, in this order, at:
  1. the path in the environment variable MLFF_LIBRARY (when set, nothing else is tried);
  2. the installed prefix next to the package: when the package lives in
     PREFIX/lib/pythonX.Y/site-packages/mlff (pip install --prefix PREFIX, or a virtual
     environment at PREFIX), PREFIX/lib, PREFIX/lib64 or PREFIX/lib/<multiarch>;
  3. a build tree: $MLFF_BUILD_DIR/core, then build/core of the repository when the package
     is imported from its python/ folder (python/mlff -> ../../build/core);
  4. ctypes.util.find_library("mlff") (the linker's search path: ldconfig, LD_LIBRARY_PATH).
"""

import ctypes
import ctypes.util
import os
import sys
import sysconfig

# ---- constants of mlff.h ------------------------------------------------------------------

MLFF_API_VERSION = 3
MLFF_VERSION_STRING = "0.1.0"
MLFF_FORMAT_VERSION = 2

MLFF_OK = 0
MLFF_ERR_IO = 1
MLFF_ERR_FORMAT = 2
MLFF_ERR_ARGUMENT = 3
MLFF_ERR_NOMEM = 4
MLFF_ERR_UNSUPPORTED = 5
MLFF_ERR_DEVICE = 6
MLFF_ERR_NUMERIC = 7

MLFF_MAX_RADIAL_SHELLS = 64
MLFF_MAX_ANGULAR_SHELLS = 16
MLFF_MAX_ANGLE_SECTIONS = 32
MLFF_MAX_ELEMENTS = 16
MLFF_MAX_HIDDEN = 8

MLFF_ACT_SILU = 0
MLFF_ACT_CELU = 1

MLFF_DEVICE_AUTO = 0
MLFF_DEVICE_CPU = 1
MLFF_DEVICE_GPU = 2

# C enums are ints on every ABI we build for (mlff.h's enums all fit)
c_enum = ctypes.c_int
c_double_p = ctypes.POINTER(ctypes.c_double)
c_int_p = ctypes.POINTER(ctypes.c_int)


class MlffError(RuntimeError):
    """A failure reported by libmlff (its mlff_last_error() message) or by this package.

    `status` is the mlff_status code (MLFF_ERR_*), `status_name` its name."""

    def __init__(self, message, status=MLFF_ERR_ARGUMENT):
        super().__init__(message)
        self.status = status

    @property
    def status_name(self):
        return _STATUS_NAMES.get(self.status, "MLFF_ERR_%d" % self.status)


_STATUS_NAMES = {
    MLFF_OK: "MLFF_OK",
    MLFF_ERR_IO: "MLFF_ERR_IO",
    MLFF_ERR_FORMAT: "MLFF_ERR_FORMAT",
    MLFF_ERR_ARGUMENT: "MLFF_ERR_ARGUMENT",
    MLFF_ERR_NOMEM: "MLFF_ERR_NOMEM",
    MLFF_ERR_UNSUPPORTED: "MLFF_ERR_UNSUPPORTED",
    MLFF_ERR_DEVICE: "MLFF_ERR_DEVICE",
    MLFF_ERR_NUMERIC: "MLFF_ERR_NUMERIC",
}

# ---- structs ------------------------------------------------------------------------------


class mlff_descriptor_params(ctypes.Structure):
    _fields_ = [
        ("Rcr", ctypes.c_double),
        ("Rca", ctypes.c_double),
        ("etaR", ctypes.c_double),
        ("etaA", ctypes.c_double),
        ("zeta", ctypes.c_double),
        ("n_muR", ctypes.c_int),
        ("n_muA", ctypes.c_int),
        ("n_thetaZ", ctypes.c_int),
        ("muR", ctypes.c_double * MLFF_MAX_RADIAL_SHELLS),
        ("muA", ctypes.c_double * MLFF_MAX_ANGULAR_SHELLS),
        ("thetaZ", ctypes.c_double * MLFF_MAX_ANGLE_SECTIONS),
    ]


class mlff_model(ctypes.Structure):  # opaque
    pass


class mlff_calc(ctypes.Structure):  # opaque
    pass


mlff_model_p = ctypes.POINTER(mlff_model)
mlff_calc_p = ctypes.POINTER(mlff_calc)


class mlff_model_spec(ctypes.Structure):
    _fields_ = [
        ("n_elements", ctypes.c_int),
        ("elements", ctypes.POINTER(ctypes.c_char_p)),
        ("n_hidden", ctypes.c_int),
        ("hidden", c_int_p),
        ("activation", c_enum),
        ("descriptor", mlff_descriptor_params),
        ("seed", ctypes.c_uint64),
    ]


class mlff_dispersion_params(ctypes.Structure):
    _fields_ = [
        ("s6", ctypes.c_double),
        ("s8", ctypes.c_double),
        ("a1", ctypes.c_double),
        ("a2", ctypes.c_double),
        ("cutoff", ctypes.c_double),
        ("tail", ctypes.c_int),
        ("c6", (ctypes.c_double * MLFF_MAX_ELEMENTS) * MLFF_MAX_ELEMENTS),
        ("c8", (ctypes.c_double * MLFF_MAX_ELEMENTS) * MLFF_MAX_ELEMENTS),
        ("s9", ctypes.c_double),
        ("alp", ctypes.c_double),
        ("cutoff3", ctypes.c_double),
        ("tail3", ctypes.c_double),
        ("switch3", ctypes.c_double),
    ]


class mlff_calc_options(ctypes.Structure):
    _fields_ = [
        ("device", c_enum),
        ("fp16", ctypes.c_int),
        ("n_threads", ctypes.c_int),
        ("gpu", ctypes.c_int),
        ("gpu_shared", ctypes.c_int),
        ("skin", ctypes.c_double),
    ]


class mlff_structure(ctypes.Structure):
    _fields_ = [
        ("n_atoms", ctypes.c_int),
        ("positions", c_double_p),
        ("species", c_int_p),
        ("cell", c_double_p),
        ("pbc", ctypes.c_int * 3),
    ]


class mlff_result(ctypes.Structure):
    _fields_ = [
        ("energy", ctypes.c_double),
        ("virial", ctypes.c_double * 6),
        ("forces", c_double_p),
        ("energy_atom", c_double_p),
        ("virial_atom", c_double_p),
        ("force_deviation", c_double_p),
        ("max_force_deviation", ctypes.c_double),
        ("member_forces", c_double_p),
    ]


class mlff_neighbors(ctypes.Structure):
    _fields_ = [
        ("n_total", ctypes.c_int),
        ("positions", c_double_p),
        ("species", c_int_p),
        ("n_list", ctypes.c_int),
        ("ilist", c_int_p),
        ("numneigh", c_int_p),
        ("firstneigh", ctypes.POINTER(c_int_p)),
        ("index_mask", ctypes.c_int),
        ("skin", ctypes.c_double),
        ("list_age", ctypes.c_int),
        ("cell", c_double_p),
        ("charges", c_double_p),
    ]


class mlff_range_report(ctypes.Structure):
    _fields_ = [
        ("n_atoms", ctypes.c_int),
        ("species", ctypes.c_int),
        ("feature", ctypes.c_int),
        ("value", ctypes.c_double),
        ("min", ctypes.c_double),
        ("max", ctypes.c_double),
        ("excess", ctypes.c_double),
    ]


class mlff_electrostatics_params(ctypes.Structure):
    _fields_ = [
        ("charges", ctypes.c_double * MLFF_MAX_ELEMENTS),
        ("alpha", ctypes.c_double),
        ("cutoff", ctypes.c_double),
        ("increments", (ctypes.c_double * MLFF_MAX_ELEMENTS) * MLFF_MAX_ELEMENTS),
        ("bond_radii", ctypes.c_double * MLFF_MAX_ELEMENTS),
        ("bond_factor", ctypes.c_double),
    ]


# The structs, by C name, for the layout test.
STRUCTS = {
    "mlff_descriptor_params": mlff_descriptor_params,
    "mlff_model_spec": mlff_model_spec,
    "mlff_dispersion_params": mlff_dispersion_params,
    "mlff_electrostatics_params": mlff_electrostatics_params,
    "mlff_calc_options": mlff_calc_options,
    "mlff_structure": mlff_structure,
    "mlff_result": mlff_result,
    "mlff_neighbors": mlff_neighbors,
    "mlff_range_report": mlff_range_report,
}

# ---- functions: (name, return type, argument types), in mlff.h's order --------------------

_S = c_enum  # mlff_status
_FILE_p = ctypes.c_void_p  # FILE *

PROTOTYPES = [
    ("mlff_last_error", ctypes.c_char_p, []),
    ("mlff_status_name", ctypes.c_char_p, [_S]),
    # variadic: printf-style; call it as mlff_set_error(s, b"%s", message)
    ("mlff_set_error", _S, None),
    ("mlff_descriptor_params_ani1x", None, [ctypes.POINTER(mlff_descriptor_params)]),
    ("mlff_descriptor_length", ctypes.c_int, [ctypes.POINTER(mlff_descriptor_params), ctypes.c_int]),
    ("mlff_model_create", _S, [ctypes.POINTER(mlff_model_spec), ctypes.POINTER(mlff_model_p)]),
    ("mlff_model_load", _S, [ctypes.c_char_p, ctypes.POINTER(mlff_model_p)]),
    ("mlff_model_save", _S, [mlff_model_p, ctypes.c_char_p]),
    ("mlff_model_free", None, [mlff_model_p]),
    ("mlff_model_n_elements", ctypes.c_int, [mlff_model_p]),
    ("mlff_model_element", ctypes.c_char_p, [mlff_model_p, ctypes.c_int]),
    ("mlff_model_find_element", ctypes.c_int, [mlff_model_p, ctypes.c_char_p]),
    ("mlff_model_n_features", ctypes.c_int, [mlff_model_p]),
    ("mlff_model_cutoff", ctypes.c_double, [mlff_model_p]),
    ("mlff_model_descriptor", ctypes.POINTER(mlff_descriptor_params), [mlff_model_p]),
    ("mlff_model_arch", ctypes.c_char_p, [mlff_model_p]),
    ("mlff_model_set_dispersion", _S, [mlff_model_p, ctypes.POINTER(mlff_dispersion_params)]),
    ("mlff_model_load_dispersion", _S, [mlff_model_p, ctypes.c_char_p]),
    ("mlff_model_dispersion_tail", _S,
     [mlff_model_p, ctypes.c_int, ctypes.c_int, c_double_p, c_double_p]),
    ("mlff_model_dispersion_tail3", _S,
     [mlff_model_p, ctypes.POINTER(ctypes.c_long), ctypes.c_double, c_double_p, c_double_p]),
    ("mlff_model_dispersion", ctypes.POINTER(mlff_dispersion_params), [mlff_model_p]),
    ("mlff_model_set_electrostatics", _S,
     [mlff_model_p, ctypes.POINTER(mlff_electrostatics_params)]),
    ("mlff_model_electrostatics", ctypes.POINTER(mlff_electrostatics_params), [mlff_model_p]),
    ("mlff_model_min_distance", ctypes.c_double, [mlff_model_p, ctypes.c_int, ctypes.c_int]),
    ("mlff_model_set_min_distance", _S, [mlff_model_p, ctypes.c_int, ctypes.c_int, ctypes.c_double]),
    ("mlff_model_committee_size", ctypes.c_int, [mlff_model_p]),
    ("mlff_model_committee_member", _S, [mlff_model_p, ctypes.c_int, ctypes.POINTER(mlff_model_p)]),
    ("mlff_model_committee_add", _S, [mlff_model_p, mlff_model_p]),
    ("mlff_model_attr", ctypes.c_char_p, [mlff_model_p, ctypes.c_char_p]),
    ("mlff_model_set_attr", _S, [mlff_model_p, ctypes.c_char_p, ctypes.c_char_p]),
    ("mlff_model_print", None, [mlff_model_p, _FILE_p]),
    ("mlff_calc_options_default", None, [ctypes.POINTER(mlff_calc_options)]),
    ("mlff_gpu_count", ctypes.c_int, []),
    ("mlff_calc_create", _S,
     [mlff_model_p, ctypes.POINTER(mlff_calc_options), ctypes.POINTER(mlff_calc_p)]),
    ("mlff_calc_free", None, [mlff_calc_p]),
    ("mlff_calc_device", c_enum, [mlff_calc_p]),
    ("mlff_calc_list_builds", ctypes.c_long, [mlff_calc_p]),
    ("mlff_model_charges", _S, [mlff_model_p, ctypes.POINTER(mlff_structure), c_double_p]),
    ("mlff_force_deviation", _S, [ctypes.c_int, ctypes.c_int, c_double_p, c_double_p, c_double_p]),
    ("mlff_compute", _S,
     [mlff_calc_p, ctypes.POINTER(mlff_structure), ctypes.POINTER(mlff_result)]),
    ("mlff_compute_batch", _S,
     [mlff_calc_p, ctypes.c_int, ctypes.POINTER(mlff_structure), ctypes.POINTER(mlff_result)]),
    ("mlff_compute_neighbors", _S,
     [mlff_calc_p, ctypes.POINTER(mlff_neighbors), ctypes.POINTER(mlff_result)]),
    ("mlff_calc_check_range", _S, [mlff_calc_p, ctypes.c_double]),
    ("mlff_calc_range_report", None, [mlff_calc_p, ctypes.POINTER(mlff_range_report)]),
    ("mlff_calc_guard_close", _S, [mlff_calc_p, ctypes.c_double]),
    ("mlff_calc_error_atoms", ctypes.c_int, [mlff_calc_p, c_int_p]),
    ("mlff_compute_features", _S, [mlff_calc_p, ctypes.POINTER(mlff_structure), c_double_p]),
    ("mlff_atomic_number", ctypes.c_int, [ctypes.c_char_p]),
    ("mlff_element_symbol", ctypes.c_char_p, [ctypes.c_int]),
]

# ---- finding and loading the library ------------------------------------------------------

_NAMES = ("libmlff.so.0", "libmlff.so")  # the SONAME first: runtime installs lack the symlink


def _in_dir(d):
    return [os.path.join(d, n) for n in _NAMES]


def candidates():
    """The paths tried, in order (the last entry may be a bare name for the dynamic linker)."""
    env = os.environ.get("MLFF_LIBRARY")
    if env:  # when set, the only one: never silently load another
        return [env]
    out = []
    here = os.path.dirname(os.path.abspath(__file__))
    # installed: PREFIX/lib/pythonX.Y/site-packages/mlff (also lib64, and Debian's
    # PREFIX/lib/python3/dist-packages), so the prefix is three folders up
    parts = here.split(os.sep)
    if len(parts) >= 4 and parts[-2] in ("site-packages", "dist-packages"):
        prefix = os.sep.join(parts[:-4]) or os.sep
        multiarch = sysconfig.get_config_var("MULTIARCH") or ""
        for lib in ("lib", "lib64") + ((os.path.join("lib", multiarch),) if multiarch else ()):
            out += _in_dir(os.path.join(prefix, lib))
    # a virtual environment or a --prefix install whose package dir is elsewhere
    for p in dict.fromkeys([sys.prefix, sys.exec_prefix]):
        if p and p != "/usr":
            out += _in_dir(os.path.join(p, "lib"))
    build = os.environ.get("MLFF_BUILD_DIR")
    if build:
        out += _in_dir(os.path.join(build, "core"))
    repo = os.path.dirname(os.path.dirname(here))  # python/mlff -> the repository root
    if os.path.basename(os.path.dirname(here)) == "python" and \
            os.path.exists(os.path.join(repo, "include", "mlff.h")):
        out += _in_dir(os.path.join(repo, "build", "core"))
    found = ctypes.util.find_library("mlff")
    if found:
        out.append(found)
    return list(dict.fromkeys(out))


def _declare(lib):
    for name, restype, argtypes in PROTOTYPES:
        fn = getattr(lib, name)
        fn.restype = restype
        if argtypes is not None:
            fn.argtypes = argtypes


def load(path=None):
    """Load libmlff: `path` if given, else the first of candidates() that loads."""
    tried = []
    for c in [path] if path else candidates():
        if os.sep in c and not os.path.exists(c):
            tried.append("%s (absent)" % c)
            continue
        try:
            lib = ctypes.CDLL(c)
        except OSError as e:
            tried.append("%s (%s)" % (c, e))
            continue
        try:
            _declare(lib)
        except AttributeError as e:
            tried.append("%s (not libmlff %s: %s)" % (c, MLFF_VERSION_STRING, e))
            continue
        lib._mlff_path = c
        return lib
    if os.environ.get("MLFF_LIBRARY") and not path:
        hint = "MLFF_LIBRARY=%s did not load (unset it to search)" % os.environ["MLFF_LIBRARY"]
    else:
        hint = "set MLFF_LIBRARY to the path of libmlff.so.0 (build/core/ after building)"
    raise OSError("mlff: libmlff not found; %s. Tried:\n  %s" % (hint, "\n  ".join(tried) or "nothing"))


_lib = None


def lib():
    """The loaded library (loaded on first use)."""
    global _lib
    if _lib is None:
        _lib = load()
    return _lib


def last_error():
    return lib().mlff_last_error().decode("utf-8", "replace")


def error(message, status=MLFF_ERR_ARGUMENT):
    """An MlffError for a failure found by this package, recorded as the thread's last error
    through mlff_set_error (mlff.h: one mlff_last_error() serves the library and its bindings)."""
    try:
        lib().mlff_set_error(status, b"%s", message.encode("utf-8", "replace"))
    except OSError:  # no library to record it in
        pass
    return MlffError(message, status)


def check(status, context=None):
    """Raise MlffError with mlff_last_error()'s message unless status is MLFF_OK."""
    if status != MLFF_OK:
        msg = last_error() or lib().mlff_status_name(status).decode()
        raise MlffError("%s: %s" % (context, msg) if context else msg, status)
