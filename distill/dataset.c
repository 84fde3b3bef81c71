/* dataset.c — labelled structures (docs/file_format.md): mlff_dataset in memory, and its HDF5 file in the
 * PyTorch pipeline's ragged layout, so that files written by either side load in the other:
 *
 *   /structures/atomic_numbers         int    [A]        (written int64)
 *   /structures/positions              float  [A, 3]     Å (float32 or float64; written float64)
 *   /structures/cells                  float  [N, 3, 3]  rows a, b, c; zeros when no cell
 *   /structures/pbc                    bool   [N, 3]     (written as h5py's bool enum; ints read)
 *   /structures/atomic_numbers_splits  int    [N+1]      cumulative offsets from 0 ([N-1]: below)
 *   /labels/energy                     float  [N]        eV
 *   /labels/forces                     float  [A, 3]     eV/Å
 *   /labels/forces_splits              int    [N+1]      must equal atomic_numbers_splits
 *   /labels/source                     string [N]        where each came from (ours; optional)
 *   /labels/stress                     float  [N, 6]     Voigt, eV/Å³ (optional, kept, not used)
 *   /labels/stress_mask                bool   [N]        which stresses are labels (optional)
 *   /labels/structure_indices          int    [N]        the pipeline's (optional, kept)
 *   /labels attrs: units = "eV, Angstrom" (required), teacher, and any other string attributes.
 *
 * Splits: the pipeline writes N+1 cumulative offsets starting at 0; mlff <= 0.1 wrote the N-1
 * interior numpy.split offsets. Both are read (told apart by length: N+1 and N-1 differ by 2);
 * N+1 is written, and appending to a file of the old form rewrites its splits in the new one.
 *
 * The reader trusts nothing: every refusal names the file, the dataset and the index (and the
 * structure it belongs to) and says what to do. libhdf5's own error printing is silenced while
 * we work. The writer makes every dataset chunked and extendable (H5S_UNLIMITED), so that
 * mlff_dataset_append extends the file in place of rewriting it; each append works on a copy
 * that replaces the file only when complete, so an interrupted labelling run never leaves a
 * damaged file, and the same sequence of appends gives the same bytes (no timestamps).
 *
 * In memory the per-atom arrays of all structures are contiguous (atomic numbers, positions,
 * forces, with structure offsets), so mlff_dataset_get hands out views without copying. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "h5util.h"
#include "internal.h"
#include "mlff_distill.h"

struct mlff_dataset {
  int n, cap;              /* structures held / allocated */
  int64_t n_atoms, atom_cap;
  int *Z;                  /* [atom_cap] atomic numbers of all structures, concatenated */
  double *pos, *forces;    /* [atom_cap][3] */
  int64_t *offset;         /* [cap + 1]: structure i holds atoms offset[i] .. offset[i+1) */
  double *energy;          /* [cap] */
  double *cell;            /* [cap][9], zeros when the structure has no cell */
  int *pbc;                /* [cap][3] */
  char **source;           /* [cap], "" when unknown */
  /* The pipeline's optional labels, kept so that they are written back. A structure added
   * without them gets a zero stress marked unknown in the mask, and its index. */
  int has_stress;          /* /labels/stress: stress[] holds every structure's */
  double *stress;          /* [cap][6] Voigt, eV/Å³ */
  char mask_kind;          /* /labels/stress_mask: 0 absent, else its class ('b', 'i', 'f') */
  double *stress_mask;     /* [cap] */
  int has_sidx;            /* /labels/structure_indices */
  int64_t *sidx;           /* [cap] */
  int n_attrs;
  mlff_attr *attrs;        /* /labels attributes except units (always eV and Å) */
};

static const char UNITS[] = "eV, Angstrom";
static const char UNITS_ACCEPTED[] = "eV and Å, spelled \"eV, Angstrom\" (what mlff writes), "
                                     "\"eV, eV/Angstrom\" (the PyTorch pipeline's), "
                                     "\"eV/Angstrom\" or \"eV, Angstrom, eV/Angstrom\", with "
                                     "Angstrom also as Angstroms, Ang, A or Å, case and spaces "
                                     "ignored";
static const char FIX_HINT[] = "regenerate it with `mlff label` or `mlff import`, or fix the "
                               "program that wrote it";

/* Chunk rows of the extendable datasets: per-atom and per-structure arrays. */
#define ATOM_CHUNK 1024
#define STRUCT_CHUNK 256

/* ---- memory ----------------------------------------------------------------------------- */

mlff_status mlff_dataset_create(mlff_dataset **out) {
  if (!out) return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_dataset_create: out is NULL");
  mlff_dataset *d = calloc(1, sizeof *d);
  if (!d || !(d->offset = calloc(1, sizeof *d->offset))) {
    free(d);
    *out = NULL;
    return mlff_set_error(MLFF_ERR_NOMEM, "out of memory creating a dataset");
  }
  *out = d;
  return MLFF_OK;
}

void mlff_dataset_free(mlff_dataset *d) {
  if (!d) return;
  for (int i = 0; i < d->n; i++) free(d->source[i]);
  for (int i = 0; i < d->n_attrs; i++) {
    free(d->attrs[i].name);
    free(d->attrs[i].value);
  }
  free(d->attrs);
  free(d->source);
  free(d->Z);
  free(d->pos);
  free(d->forces);
  free(d->offset);
  free(d->energy);
  free(d->cell);
  free(d->pbc);
  free(d->stress);
  free(d->stress_mask);
  free(d->sidx);
  free(d);
}

int mlff_dataset_size(const mlff_dataset *d) { return d ? d->n : 0; }

static int grow(void **p, size_t elem, int64_t n) {
  void *q = realloc(*p, (size_t)n * elem);
  if (!q) return 0;
  *p = q;
  return 1;
}

/* Room for n structures and a atoms in total. */
static mlff_status reserve(mlff_dataset *d, int64_t n, int64_t a) {
  if (n > INT32_MAX - 1)
    return mlff_set_error(MLFF_ERR_ARGUMENT, "a dataset holds at most %d structures", INT32_MAX - 1);
  if (n > d->cap) {
    int64_t c = d->cap ? d->cap : 64;
    while (c < n) c *= 2;
    if (c > INT32_MAX - 1) c = INT32_MAX - 1;
    if (!grow((void **)&d->offset, sizeof *d->offset, c + 1) ||
        !grow((void **)&d->energy, sizeof *d->energy, c) ||
        !grow((void **)&d->cell, 9 * sizeof *d->cell, c) ||
        !grow((void **)&d->pbc, 3 * sizeof *d->pbc, c) ||
        !grow((void **)&d->source, sizeof *d->source, c) ||
        !grow((void **)&d->stress, 6 * sizeof *d->stress, c) ||
        !grow((void **)&d->stress_mask, sizeof *d->stress_mask, c) ||
        !grow((void **)&d->sidx, sizeof *d->sidx, c))
      return mlff_set_error(MLFF_ERR_NOMEM, "out of memory for %lld structures", (long long)n);
    d->cap = (int)c;
  }
  if (a > d->atom_cap) {
    int64_t c = d->atom_cap ? d->atom_cap : 1024;
    while (c < a) c *= 2;
    if (!grow((void **)&d->Z, sizeof *d->Z, c) ||
        !grow((void **)&d->pos, 3 * sizeof *d->pos, c) ||
        !grow((void **)&d->forces, 3 * sizeof *d->forces, c))
      return mlff_set_error(MLFF_ERR_NOMEM, "out of memory for %lld atoms", (long long)a);
    d->atom_cap = c;
  }
  return MLFF_OK;
}

static int all_finite(const double *v, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (!isfinite(v[i])) return 0;
  return 1;
}

static int cell_is_zero(const double *c) {
  for (int k = 0; k < 9; k++)
    if (c[k] != 0.0) return 0;
  return 1;
}

mlff_status mlff_dataset_add(mlff_dataset *d, const mlff_frame *f, const char *source) {
  if (!d || !f) return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_dataset_add: NULL argument");
  int i = d->n;
  if (f->n_atoms < 1 || !f->atomic_numbers || !f->positions)
    return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_dataset_add: structure %d has no atoms", i);
  if (!f->has_energy || !f->has_forces || !f->forces)
    return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_dataset_add: structure %d lacks its %s; a "
                     "dataset holds labelled structures (energy and forces)", i,
                     !f->has_energy ? "energy" : "forces");
  for (int a = 0; a < f->n_atoms; a++)
    if (!mlff_element_symbol(f->atomic_numbers[a]))
      return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_dataset_add: structure %d, atom %d has atomic "
                       "number %d, which is not an element", i, a, f->atomic_numbers[a]);
  if (!all_finite(f->positions, 3 * (int64_t)f->n_atoms) || !isfinite(f->energy) ||
      !all_finite(f->forces, 3 * (int64_t)f->n_atoms) || (f->has_cell && !all_finite(f->cell, 9)))
    return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_dataset_add: structure %d has a non-finite "
                     "position, energy, force or cell value", i);
  int periodic = f->has_cell && (f->pbc[0] || f->pbc[1] || f->pbc[2]);
  if (periodic && cell_is_zero(f->cell))
    return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_dataset_add: structure %d is periodic but its "
                     "cell is zero", i);
  char *src = strdup(source ? source : "");
  mlff_status st = src ? reserve(d, (int64_t)i + 1, d->n_atoms + f->n_atoms)
                       : mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
  if (st) {
    free(src);
    return st;
  }
  int64_t o = d->n_atoms;
  memcpy(d->Z + o, f->atomic_numbers, (size_t)f->n_atoms * sizeof *d->Z);
  memcpy(d->pos + 3 * o, f->positions, (size_t)f->n_atoms * 3 * sizeof *d->pos);
  memcpy(d->forces + 3 * o, f->forces, (size_t)f->n_atoms * 3 * sizeof *d->forces);
  d->energy[i] = f->energy;
  for (int k = 0; k < 9; k++) d->cell[9 * i + k] = f->has_cell ? f->cell[k] : 0.0;
  for (int k = 0; k < 3; k++) d->pbc[3 * i + k] = f->has_cell && f->pbc[k] ? 1 : 0;
  d->source[i] = src;
  if (d->has_stress) { /* no stress label: zeros, marked unknown (a mask is made if none) */
    for (int k = 0; k < 6; k++) d->stress[6 * i + k] = 0.0;
    if (!d->mask_kind) {
      d->mask_kind = 'b';
      for (int k = 0; k < i; k++) d->stress_mask[k] = 1.0;
    }
  }
  if (d->mask_kind) d->stress_mask[i] = 0.0;
  if (d->has_sidx) d->sidx[i] = i;
  d->n_atoms += f->n_atoms;
  d->offset[i + 1] = d->n_atoms;
  d->n++;
  return MLFF_OK;
}

mlff_status mlff_dataset_get(const mlff_dataset *d, int i, mlff_frame *f, const char **source) {
  if (!d || !f) return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_dataset_get: NULL argument");
  if (i < 0 || i >= d->n)
    return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_dataset_get: structure %d out of range (the "
                     "dataset holds %d)", i, d->n);
  int64_t o = d->offset[i];
  memset(f, 0, sizeof *f);
  f->n_atoms = (int)(d->offset[i + 1] - o);
  f->atomic_numbers = d->Z + o;
  f->positions = d->pos + 3 * o;
  f->forces = d->forces + 3 * o;
  f->energy = d->energy[i];
  f->has_energy = f->has_forces = 1;
  memcpy(f->cell, d->cell + 9 * i, sizeof f->cell);
  f->has_cell = !cell_is_zero(f->cell);
  for (int k = 0; k < 3; k++) f->pbc[k] = d->pbc[3 * i + k];
  if (source) *source = d->source[i];
  return MLFF_OK;
}

mlff_status mlff_dataset_set_source(mlff_dataset *d, int i, const char *source) {
  if (!d || !source)
    return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_dataset_set_source: NULL argument");
  if (i < 0 || i >= d->n)
    return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_dataset_set_source: structure %d out of range "
                     "(the dataset holds %d)", i, d->n);
  char *s = strdup(source);
  if (!s) return mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
  free(d->source[i]);
  d->source[i] = s;
  return MLFF_OK;
}

/* A length unit spelled out in n bytes: Angstrom, Angstroms, Ang, A, Å (U+00C5, lower case
 * U+00E5, or the Angstrom sign U+212B), lower case. */
static int length_unit(const char *s, size_t n) {
  static const char *const L[] = {"angstrom", "angstroms", "ang", "a", "\xc3\x85", "\xc3\xa5",
                                  "\xe2\x84\xab"};
  for (size_t i = 0; i < sizeof L / sizeof *L; i++)
    if (strlen(L[i]) == n && !memcmp(s, L[i], n)) return 1;
  return 0;
}

/* eV and Å, compared without case and whitespace: "eV, L" (energy, length: mlff's "eV, Angstrom"),
 * "eV/L" (the force unit), "eV, eV/L" (energy, force: the pipeline's "eV, eV/Angstrom") and
 * "eV, L, eV/L", with L any spelling of length_unit. */
static int units_ok(const char *u) {
  char norm[64];
  size_t n = 0;
  for (const unsigned char *p = (const unsigned char *)u; *p; p++)
    if (!isspace(*p)) {
      if (n + 1 == sizeof norm) return 0; /* longer than any accepted spelling */
      norm[n++] = (char)tolower(*p);
    }
  norm[n] = '\0';
  if (!strncmp(norm, "ev/", 3)) return length_unit(norm + 3, n - 3);
  if (strncmp(norm, "ev,", 3)) return 0;
  const char *rest = norm + 3, *comma = strchr(rest, ',');
  if (!strncmp(rest, "ev/", 3)) return length_unit(rest + 3, strlen(rest + 3));
  if (!comma) return length_unit(rest, strlen(rest));
  return length_unit(rest, (size_t)(comma - rest)) && !strncmp(comma + 1, "ev/", 3) &&
         length_unit(comma + 4, strlen(comma + 4));
}

const char *mlff_dataset_attr(const mlff_dataset *d, const char *name) {
  if (!d || !name) return "";
  if (!strcmp(name, "units")) return UNITS;
  for (int i = 0; i < d->n_attrs; i++)
    if (!strcmp(d->attrs[i].name, name)) return d->attrs[i].value;
  return "";
}

mlff_status mlff_dataset_set_attr(mlff_dataset *d, const char *name, const char *value) {
  if (!d || !name || !value || !*name)
    return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_dataset_set_attr: NULL or empty argument");
  if (!strcmp(name, "units")) {
    if (!units_ok(value))
      return mlff_set_error(MLFF_ERR_ARGUMENT, "dataset units \"%s\" are not supported: mlff "
                       "datasets hold %s; convert the values first", value, UNITS_ACCEPTED);
    return MLFF_OK;
  }
  for (int i = 0; i < d->n_attrs; i++)
    if (!strcmp(d->attrs[i].name, name)) {
      char *v = strdup(value);
      if (!v) return mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
      free(d->attrs[i].value);
      d->attrs[i].value = v;
      return MLFF_OK;
    }
  mlff_attr *a = realloc(d->attrs, (size_t)(d->n_attrs + 1) * sizeof *a);
  if (!a) return mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
  d->attrs = a;
  a[d->n_attrs].name = strdup(name);
  a[d->n_attrs].value = strdup(value);
  if (!a[d->n_attrs].name || !a[d->n_attrs].value) {
    free(a[d->n_attrs].name);
    free(a[d->n_attrs].value);
    return mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
  }
  d->n_attrs++;
  return MLFF_OK;
}

/* ---- reader ----------------------------------------------------------------------------- */

/* A dataset's handle after checking it exists, its class is one of `classes` (a string of
 * 'i' integer, 'f' float, 'b' bool enum, 's' string) and its shape: rank `rank` with trailing
 * dims `tail` (dims[1..]); dims[0] is returned. `what` describes the expected contents. */
static mlff_status open_ds(const h5_reader *r, const char *path, const char *classes, int rank,
                           const hsize_t *tail, const char *what, hid_t *out, hsize_t *n0) {
  *out = -1;
  if (!h5_path_exists(r->file, path))
    return h5_fail(r, MLFF_ERR_FORMAT, "dataset %s is missing (expected %s); the file is "
                   "incomplete or not a labelled dataset: %s", path, what, FIX_HINT);
  hid_t d = H5Dopen2(r->file, path, H5P_DEFAULT);
  if (d < 0)
    return h5_fail(r, MLFF_ERR_FORMAT, "%s is not a dataset (expected %s): %s", path, what,
                   FIX_HINT);
  hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
  H5T_class_t c = H5Tget_class(t);
  int ok_class = (c == H5T_INTEGER && strchr(classes, 'i')) ||
                 (c == H5T_FLOAT && strchr(classes, 'f')) ||
                 (c == H5T_ENUM && strchr(classes, 'b')) ||
                 (c == H5T_STRING && strchr(classes, 's'));
  mlff_status st = MLFF_OK;
  int rk = H5Sget_simple_extent_ndims(sp);
  hsize_t dims[8] = {0};
  if (rk >= 0 && rk <= 8) H5Sget_simple_extent_dims(sp, dims, NULL);
  int ok_shape = rk == rank;
  for (int k = 1; ok_shape && k < rank; k++) ok_shape = dims[k] == tail[k - 1];
  if (!ok_class) {
    st = h5_fail(r, MLFF_ERR_FORMAT, "dataset %s holds %s type, expected %s: %s", path,
                 h5_class_name(c), what, FIX_HINT);
  } else if (!ok_shape) {
    char got[96] = "?";
    if (rk >= 0 && rk <= 8) h5_shape_str(got, sizeof got, rk, dims);
    st = h5_fail(r, MLFF_ERR_FORMAT, "dataset %s has shape %s, expected %s: %s", path, got, what,
                 FIX_HINT);
  }
  h5_close(&sp, H5Sclose);
  h5_close(&t, H5Tclose);
  if (st) {
    H5Dclose(d);
    return st;
  }
  *out = d;
  *n0 = rank ? dims[0] : 1;
  return MLFF_OK;
}

static mlff_status read_ds(const h5_reader *r, hid_t d, const char *path, hid_t mem, void *buf) {
  if (H5Dread(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
    return h5_fail(r, MLFF_ERR_FORMAT, "cannot read dataset %s (corrupt file, or values that do "
                   "not fit the expected type?)", path);
  return MLFF_OK;
}

/* Open, check the length of axis 0 (want, or any when want < 0) and read into buf. */
static mlff_status load_ds(const h5_reader *r, const char *path, const char *classes, int rank,
                           const hsize_t *tail, const char *what, int64_t want, hid_t mem,
                           void **buf, size_t elem_per_row, hsize_t *n0) {
  hid_t d;
  hsize_t n;
  mlff_status st = open_ds(r, path, classes, rank, tail, what, &d, &n);
  if (st) return st;
  if (want >= 0 && (int64_t)n != want) {
    H5Dclose(d);
    return h5_fail(r, MLFF_ERR_FORMAT, "dataset %s has %llu rows, expected %lld (%s): %s", path,
                   (unsigned long long)n, (long long)want, what, FIX_HINT);
  }
  if (h5_unwritten(d)) {
    H5Dclose(d);
    return h5_fail(r, MLFF_ERR_FORMAT, "dataset %s has %llu rows, but the file does not hold "
                   "their values (never written: an incomplete or damaged file): %s", path,
                   (unsigned long long)n, FIX_HINT);
  }
  size_t bytes = (size_t)n * elem_per_row * H5Tget_size(mem);
  *buf = malloc(bytes ? bytes : 1);
  if (!*buf) st = mlff_set_error(MLFF_ERR_NOMEM, "out of memory reading '%s'", r->path);
  else if (n) st = read_ds(r, d, path, mem, *buf);
  H5Dclose(d);
  if (n0) *n0 = n;
  return st;
}

/* Structure of atom row a (binary search in offsets). */
static int structure_of(const int64_t *offset, int n, int64_t a) {
  int lo = 0, hi = n - 1;
  while (lo < hi) {
    int mid = (lo + hi + 1) / 2;
    if (offset[mid] <= a) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

static mlff_status check_finite_rows(const h5_reader *r, const char *path, const double *v,
                                     int64_t rows, int cols, const int64_t *offset, int n,
                                     const char *what) {
  for (int64_t i = 0; i < rows * cols; i++)
    if (!isfinite(v[i])) {
      int64_t row = i / cols;
      if (offset) {
        int s = structure_of(offset, n, row);
        return h5_fail(r, MLFF_ERR_FORMAT, "dataset %s has a non-finite value (%g) at [%lld, %d]: "
                       "%s of structure %d (its atom %lld) are broken; remove that structure or "
                       "relabel it", path, v[i], (long long)row, (int)(i % cols), what, s,
                       (long long)(row - offset[s]));
      }
      return h5_fail(r, MLFF_ERR_FORMAT, "dataset %s has a non-finite value (%g) at index %lld: "
                     "the %s of structure %lld is broken; remove that structure or relabel it",
                     path, v[i], (long long)row, what, (long long)row);
    }
  return MLFF_OK;
}

/* Structure offsets off[0..n] (off[n] = a) from the `rows` values s of splits dataset `path`:
 * N+1 cumulative offsets from 0 (the PyTorch pipeline's form) or the N-1 interior numpy.split
 * offsets (mlff <= 0.1). The lengths differ by 2, so the form is never in doubt (N = 0: 1 or 0
 * rows; N = 1: 2 or 0). Offsets must increase strictly: every structure has an atom. */
static mlff_status parse_splits(const h5_reader *r, const char *path, const int64_t *s,
                                int64_t rows, int64_t n, int64_t a, int64_t *off) {
  int64_t interior = n ? n - 1 : 0;
  if (rows != n + 1 && rows != interior)
    return h5_fail(r, MLFF_ERR_FORMAT, "dataset %s has %lld rows, but the N = %lld structures "
                   "(rows of /labels/energy) need N+1 = %lld cumulative offsets starting at 0 (the "
                   "PyTorch pipeline's form) or N-1 = %lld interior numpy.split offsets (written "
                   "by mlff <= 0.1): %s", path, (long long)rows, (long long)n, (long long)(n + 1),
                   (long long)interior, FIX_HINT);
  int cumulative = rows == n + 1;
  if (cumulative && s[0] != 0)
    return h5_fail(r, MLFF_ERR_FORMAT, "dataset %s starts with %lld, not 0: its %lld rows (N+1 for "
                   "the N = %lld structures of /labels/energy) are read as the pipeline's "
                   "cumulative offsets, which start at 0 (the other form, N-1 interior offsets, "
                   "has %lld rows): %s", path, (long long)s[0], (long long)rows, (long long)n,
                   (long long)interior, FIX_HINT);
  off[0] = 0;
  for (int64_t k = 1; k < n; k++) off[k] = s[cumulative ? k : k - 1];
  off[n] = cumulative ? s[n] : a;
  const char *form = cumulative ? "N+1 cumulative offsets from 0 to the atom count"
                                : "the N-1 interior numpy.split offsets, below the atom count";
  for (int64_t k = 1; k < n || (cumulative && k == n); k++) { /* off[k] is row i of the file */
    int64_t i = cumulative ? k : k - 1;
    if (off[k] > a || (!cumulative && off[k] == a))
      return h5_fail(r, MLFF_ERR_FORMAT, "dataset %s at index %lld is %lld, beyond the %lld atoms "
                     "of /structures/atomic_numbers (the splits are %s): %s", path, (long long)i,
                     (long long)off[k], (long long)a, form, FIX_HINT);
    if (off[k] <= off[k - 1])
      return h5_fail(r, MLFF_ERR_FORMAT, "dataset %s is not increasing at index %lld (%lld after "
                     "%lld): every structure needs at least one atom (the splits are %s): %s",
                     path, (long long)i, (long long)off[k], (long long)off[k - 1], form, FIX_HINT);
    if (k == n && off[k] != a)
      return h5_fail(r, MLFF_ERR_FORMAT, "dataset %s ends with %lld (index %lld), but "
                     "/structures/atomic_numbers holds %lld atoms (the splits are %s): %s", path,
                     (long long)off[k], (long long)i, (long long)a, form, FIX_HINT);
  }
  return MLFF_OK;
}

/* A string attribute of /labels (scalar). */
static mlff_status labels_attr(const h5_reader *r, hid_t g, const char *name, char **out) {
  *out = NULL;
  hid_t a = H5Aopen(g, name, H5P_DEFAULT);
  if (a < 0) return h5_fail(r, MLFF_ERR_FORMAT, "cannot read attribute '%s' of /labels", name);
  hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
  mlff_status st = MLFF_OK;
  if (H5Tget_class(t) != H5T_STRING || H5Sget_simple_extent_npoints(sp) != 1)
    st = h5_fail(r, MLFF_ERR_FORMAT, "attribute '%s' of /labels is not one string: %s", name,
                 FIX_HINT);
  else if (!h5_read_strings(a, h5_read_attr, t, 1, out))
    st = h5_fail(r, MLFF_ERR_IO, "cannot read attribute '%s' of /labels (corrupt file?)", name);
  H5Sclose(sp);
  H5Tclose(t);
  H5Aclose(a);
  return st;
}

typedef struct {
  const h5_reader *r;
  mlff_dataset *d;
  mlff_status st;
} attr_walk;

static herr_t keep_attr(hid_t loc, const char *name, const H5A_info_t *info, void *data) {
  attr_walk *w = data;
  (void)info;
  if (!strcmp(name, "units")) return 0;
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
  if (a < 0) return 0;
  hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
  int is_string = H5Tget_class(t) == H5T_STRING && H5Sget_simple_extent_npoints(sp) == 1;
  H5Sclose(sp);
  H5Tclose(t);
  H5Aclose(a);
  if (!is_string) return 0; /* numbers and arrays are not metadata we keep */
  char *v = NULL;
  if (!(w->st = labels_attr(w->r, loc, name, &v))) w->st = mlff_dataset_set_attr(w->d, name, v);
  free(v);
  return w->st ? -1 : 0;
}

static mlff_status read_attrs(const h5_reader *r, mlff_dataset *d) {
  hid_t g = H5Gopen2(r->file, "/labels", H5P_DEFAULT);
  if (g < 0) return h5_fail(r, MLFF_ERR_FORMAT, "/labels is not a group: %s", FIX_HINT);
  mlff_status st = MLFF_OK;
  char *units = NULL;
  if (H5Aexists(g, "units") <= 0)
    st = h5_fail(r, MLFF_ERR_FORMAT, "attribute 'units' of /labels is missing; mlff datasets "
                 "hold eV and Å: if these values are, set it (h5py: f['labels'].attrs['units'] = "
                 "'%s'), otherwise convert them first", UNITS);
  else if (!(st = labels_attr(r, g, "units", &units)) && !units_ok(units))
    st = h5_fail(r, MLFF_ERR_FORMAT, "attribute 'units' of /labels is \"%.100s\", but mlff "
                 "datasets hold %s: convert energies to eV, positions to Å and forces to eV/Å, "
                 "then set units", units, UNITS_ACCEPTED);
  free(units);
  if (!st) {
    attr_walk w = {r, d, MLFF_OK};
    hsize_t idx = 0;
    if (H5Aiterate2(g, H5_INDEX_NAME, H5_ITER_INC, &idx, keep_attr, &w) < 0 && !w.st)
      w.st = h5_fail(r, MLFF_ERR_IO, "cannot list the attributes of /labels (corrupt file?)");
    st = w.st;
  }
  H5Gclose(g);
  return st;
}

/* Flags [n, cols] (cols 0: [n]) of dataset path: integers, or h5py's bool (an enum over int8),
 * as 0 or 1. */
static mlff_status read_flags(const h5_reader *r, const char *path, int cols, const char *what,
                              int64_t n, int *flags) {
  const hsize_t tail[1] = {(hsize_t)cols};
  hid_t d;
  hsize_t rows;
  mlff_status st = open_ds(r, path, "ib", cols ? 2 : 1, tail, what, &d, &rows);
  if (st) return st;
  if ((int64_t)rows != n) {
    H5Dclose(d);
    return h5_fail(r, MLFF_ERR_FORMAT, "dataset %s has %llu rows, expected %lld (one per "
                   "structure, as /labels/energy): %s", path, (unsigned long long)rows,
                   (long long)n, FIX_HINT);
  }
  int64_t count = n * (cols ? cols : 1);
  hid_t ft = H5Dget_type(d);
  if (!n) {
  } else if (H5Tget_class(ft) == H5T_INTEGER) {
    st = read_ds(r, d, path, H5T_NATIVE_INT, flags);
  } else {
    hid_t base = H5Tget_super(ft);
    size_t sz = H5Tget_size(ft);
    hid_t mt = H5Tget_native_type(ft, H5T_DIR_ASCEND);
    unsigned char *buf = malloc((size_t)count * sz);
    if (H5Tget_class(base) != H5T_INTEGER || (sz != 1 && sz != 2 && sz != 4 && sz != 8))
      st = h5_fail(r, MLFF_ERR_FORMAT, "dataset %s is an enum that is not a bool: %s", path,
                   FIX_HINT);
    else if (!buf)
      st = mlff_set_error(MLFF_ERR_NOMEM, "out of memory reading '%s'", r->path);
    else if (!(st = read_ds(r, d, path, mt, buf)))
      for (int64_t i = 0; i < count; i++) {
        int64_t v = 0;
        const unsigned char *p = buf + (size_t)i * sz;
        switch (sz) {
          case 1: v = *(const int8_t *)p; break;
          case 2: { int16_t x; memcpy(&x, p, 2); v = x; } break;
          case 4: { int32_t x; memcpy(&x, p, 4); v = x; } break;
          default: memcpy(&v, p, 8);
        }
        flags[i] = v != 0;
      }
    free(buf);
    H5Tclose(mt);
    H5Tclose(base);
  }
  H5Tclose(ft);
  H5Dclose(d);
  for (int64_t i = 0; i < count; i++) flags[i] = flags[i] != 0;
  return st;
}

/* The pipeline's optional labels, kept to be written back: stress [N, 6] float, stress_mask [N]
 * (bool, int or float), structure_indices [N] int. A stress must be finite where it is a label:
 * everywhere without a mask, where the mask is non-zero with one. */
static mlff_status read_optional(const h5_reader *r, mlff_dataset *d, int64_t n) {
  static const char *SP = "/labels/stress", *MP = "/labels/stress_mask",
                    *IP = "/labels/structure_indices";
  int has_s = h5_path_exists(r->file, SP), has_m = h5_path_exists(r->file, MP);
  if (has_m && !has_s)
    return h5_fail(r, MLFF_ERR_FORMAT, "dataset %s is there but %s is not (a mask of stresses "
                   "that are missing): remove the mask or add the stresses", MP, SP);
  mlff_status st = MLFF_OK;
  void *buf = NULL;
  char want[160];
  if (has_s) {
    const hsize_t t6[1] = {6};
    snprintf(want, sizeof want, "float [%lld, 6]: one Voigt stress (eV/Å³) per structure, N from "
             "/labels/energy", (long long)n);
    if ((st = load_ds(r, SP, "f", 2, t6, want, n, H5T_NATIVE_DOUBLE, &buf, 6, NULL))) goto done;
    if (n) memcpy(d->stress, buf, (size_t)n * 6 * sizeof *d->stress);
    d->has_stress = 1;
    free(buf);
    buf = NULL;
  }
  if (has_m) { /* its class is kept, to be written back as it came */
    H5T_class_t c = H5T_NO_CLASS;
    hid_t ds = H5Dopen2(r->file, MP, H5P_DEFAULT);
    if (ds >= 0) {
      hid_t t = H5Dget_type(ds);
      c = H5Tget_class(t);
      H5Tclose(t);
      H5Dclose(ds);
    }
    snprintf(want, sizeof want, "bool, int or float [%lld]: whether the stress of each structure "
             "is a label", (long long)n);
    if (c == H5T_FLOAT) {
      if ((st = load_ds(r, MP, "f", 1, NULL, want, n, H5T_NATIVE_DOUBLE, &buf, 1, NULL)) ||
          (st = check_finite_rows(r, MP, buf, n, 1, NULL, 0, "stress mask")))
        goto done;
      if (n) memcpy(d->stress_mask, buf, (size_t)n * sizeof *d->stress_mask);
    } else {
      int *flag = malloc((size_t)(n ? n : 1) * sizeof *flag);
      buf = flag;
      if (!flag) {
        st = mlff_set_error(MLFF_ERR_NOMEM, "out of memory reading '%s'", r->path);
        goto done;
      }
      if ((st = read_flags(r, MP, 0, want, n, flag))) goto done;
      for (int64_t i = 0; i < n; i++) d->stress_mask[i] = flag[i];
    }
    d->mask_kind = c == H5T_FLOAT ? 'f' : c == H5T_INTEGER ? 'i' : 'b';
    free(buf);
    buf = NULL;
  }
  for (int64_t i = 0; i < n && has_s; i++)
    for (int k = 0; k < 6; k++)
      if ((!has_m || d->stress_mask[i] != 0.0) && !isfinite(d->stress[6 * i + k])) {
        st = h5_fail(r, MLFF_ERR_FORMAT, "dataset %s has a non-finite value (%g) at [%lld, %d]: "
                     "the stress of structure %lld is broken; remove that structure, relabel it "
                     "or mark its stress as no label (%s false)", SP, d->stress[6 * i + k],
                     (long long)i, k, (long long)i, MP);
        goto done;
      }
  if (h5_path_exists(r->file, IP)) {
    snprintf(want, sizeof want, "int [%lld]: one index per structure, N from /labels/energy",
             (long long)n);
    if ((st = load_ds(r, IP, "i", 1, NULL, want, n, H5T_NATIVE_INT64, &buf, 1, NULL))) goto done;
    if (n) memcpy(d->sidx, buf, (size_t)n * sizeof *d->sidx);
    d->has_sidx = 1;
  }
done:
  free(buf);
  return st;
}

static mlff_status read_source(const h5_reader *r, mlff_dataset *d) {
  static const char *path = "/labels/source";
  for (int i = 0; i < d->n; i++) d->source[i] = NULL;
  if (!h5_path_exists(r->file, path)) { /* optional: the PyTorch pipeline does not write it */
    for (int i = 0; i < d->n; i++)
      if (!(d->source[i] = strdup(""))) return mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
    return MLFF_OK;
  }
  hid_t ds;
  hsize_t rows;
  mlff_status st = open_ds(r, path, "s", 1, NULL, "strings [N], one tag per structure", &ds,
                           &rows);
  if (st) return st;
  if ((int64_t)rows != d->n) {
    H5Dclose(ds);
    return h5_fail(r, MLFF_ERR_FORMAT, "dataset %s has %llu rows, expected %d (one per "
                   "structure, as /labels/energy): %s", path, (unsigned long long)rows, d->n,
                   FIX_HINT);
  }
  hid_t t = H5Dget_type(ds);
  if (d->n && !h5_read_strings(ds, h5_read_dataset, t, (size_t)d->n, d->source))
    st = h5_fail(r, MLFF_ERR_FORMAT, "cannot read dataset %s (corrupt file?)", path);
  H5Tclose(t);
  H5Dclose(ds);
  return st;
}

static mlff_status read_dataset(const h5_reader *r, mlff_dataset *d) {
  mlff_status st;
  if (!h5_path_exists(r->file, "/structures") || !h5_path_exists(r->file, "/labels")) {
    const char *which = h5_path_exists(r->file, "/structures") ? "/labels" : "/structures";
    if (H5Aexists(r->file, "format") > 0)
      return h5_fail(r, MLFF_ERR_FORMAT, "group %s is missing: this looks like an mlff model "
                     "file, not a dataset; give the path of a labelled dataset", which);
    return h5_fail(r, MLFF_ERR_FORMAT, "group %s is missing: not a labelled dataset (expected "
                   "/structures and /labels, docs/file_format.md): %s", which, FIX_HINT);
  }
  if ((st = read_attrs(r, d))) return st;

  /* N from the energies, A from the atomic numbers; every other array must agree. */
  double *energy = NULL, *pos = NULL, *forces = NULL, *cell = NULL;
  int64_t *Z64 = NULL, *splits = NULL, *fsplits = NULL;
  hsize_t N = 0, A = 0;
  const hsize_t t3[1] = {3}, t33[2] = {3, 3};
  if ((st = load_ds(r, "/labels/energy", "f", 1, NULL, "float [N], one energy (eV) per "
                    "structure", -1, H5T_NATIVE_DOUBLE, (void **)&energy, 1, &N)))
    goto done;
  if (N > (hsize_t)INT32_MAX - 2) {
    st = h5_fail(r, MLFF_ERR_FORMAT, "/labels/energy holds %llu structures; at most %d supported",
                 (unsigned long long)N, INT32_MAX - 2);
    goto done;
  }
  if ((st = load_ds(r, "/structures/atomic_numbers", "i", 1, NULL, "int [A], the atomic "
                    "numbers of all structures concatenated", -1, H5T_NATIVE_INT64,
                    (void **)&Z64, 1, &A)))
    goto done;
  int64_t n = (int64_t)N, a = (int64_t)A;
  char want[160];
  snprintf(want, sizeof want, "float [%lld, 3] (one row per atom, A = %lld from "
           "/structures/atomic_numbers)", (long long)a, (long long)a);
  if ((st = load_ds(r, "/structures/positions", "f", 2, t3, want, a, H5T_NATIVE_DOUBLE,
                    (void **)&pos, 3, NULL)))
    goto done;
  if ((st = load_ds(r, "/labels/forces", "f", 2, t3, want, a, H5T_NATIVE_DOUBLE,
                    (void **)&forces, 3, NULL)))
    goto done;
  snprintf(want, sizeof want, "float [%lld, 3, 3] (one cell per structure, N = %lld from "
           "/labels/energy; zeros for no cell)", (long long)n, (long long)n);
  {
    /* [N, 3, 3] as docs/file_format.md says; [N, 9] is read too. */
    int rank = 3;
    hid_t dd = h5_path_exists(r->file, "/structures/cells")
                   ? H5Dopen2(r->file, "/structures/cells", H5P_DEFAULT) : -1;
    if (dd >= 0) {
      hid_t sp = H5Dget_space(dd);
      if (H5Sget_simple_extent_ndims(sp) == 2) rank = 2;
      H5Sclose(sp);
      H5Dclose(dd);
    }
    const hsize_t t9[1] = {9};
    if ((st = load_ds(r, "/structures/cells", "f", rank, rank == 3 ? t33 : t9, want, n,
                      H5T_NATIVE_DOUBLE, (void **)&cell, 9, NULL)))
      goto done;
  }
  /* The splits' length tells their form (parse_splits), so any length is loaded here. */
  snprintf(want, sizeof want, "int [N+1]: cumulative offsets from 0 (or [N-1], interior "
           "offsets), N = %lld structures from /labels/energy", (long long)n);
  hsize_t n_splits = 0, n_fsplits = 0;
  if ((st = load_ds(r, "/structures/atomic_numbers_splits", "i", 1, NULL, want, -1,
                    H5T_NATIVE_INT64, (void **)&splits, 1, &n_splits)) ||
      (st = load_ds(r, "/labels/forces_splits", "i", 1, NULL, want, -1, H5T_NATIVE_INT64,
                    (void **)&fsplits, 1, &n_fsplits)))
    goto done;
  if (n == 0 && a > 0) {
    st = h5_fail(r, MLFF_ERR_FORMAT, "/labels/energy is empty but /structures/atomic_numbers "
                 "holds %lld atoms: %s", (long long)a, FIX_HINT);
    goto done;
  }
  if (n > 0 && a == 0) {
    st = h5_fail(r, MLFF_ERR_FORMAT, "/structures/atomic_numbers is empty but /labels/energy "
                 "holds %lld structures: %s", (long long)n, FIX_HINT);
    goto done;
  }
  if ((st = reserve(d, n, a)) ||
      (st = parse_splits(r, "/structures/atomic_numbers_splits", splits, (int64_t)n_splits, n, a,
                         d->offset)))
    goto done;
  if (n_fsplits != n_splits) {
    st = h5_fail(r, MLFF_ERR_FORMAT, "dataset /labels/forces_splits has %llu rows but "
                 "/structures/atomic_numbers_splits has %llu: forces must be split into "
                 "structures exactly as the atoms are: %s", (unsigned long long)n_fsplits,
                 (unsigned long long)n_splits, FIX_HINT);
    goto done;
  }
  for (hsize_t i = 0; i < n_splits; i++)
    if (fsplits[i] != splits[i]) {
      st = h5_fail(r, MLFF_ERR_FORMAT, "dataset /labels/forces_splits differs from "
                   "/structures/atomic_numbers_splits at index %llu (%lld vs %lld): forces must "
                   "be split into structures exactly as the atoms are: %s", (unsigned long long)i,
                   (long long)fsplits[i], (long long)splits[i], FIX_HINT);
      goto done;
    }
  for (int64_t i = 0; i < a; i++) {
    if (Z64[i] < 1 || Z64[i] > 1000 || !mlff_element_symbol((int)Z64[i])) {
      int s = structure_of(d->offset, (int)n, i);
      st = h5_fail(r, MLFF_ERR_FORMAT, "dataset /structures/atomic_numbers at index %lld "
                   "(structure %d, its atom %lld) is %lld, which is not a known element (1..86): "
                   "%s", (long long)i, s, (long long)(i - d->offset[s]), (long long)Z64[i],
                   FIX_HINT);
      goto done;
    }
    d->Z[i] = (int)Z64[i];
  }
  if ((st = check_finite_rows(r, "/structures/positions", pos, a, 3, d->offset, (int)n,
                              "the positions")) ||
      (st = check_finite_rows(r, "/labels/forces", forces, a, 3, d->offset, (int)n,
                              "the forces")) ||
      (st = check_finite_rows(r, "/labels/energy", energy, n, 1, NULL, 0, "energy")) ||
      (st = check_finite_rows(r, "/structures/cells", cell, n, 9, NULL, 0, "cell")))
    goto done;
  if ((st = read_flags(r, "/structures/pbc", 3, "bool or int [N, 3] periodicity flags", n,
                       d->pbc)) ||
      (st = read_optional(r, d, n)))
    goto done;
  for (int64_t i = 0; i < n; i++)
    if ((d->pbc[3 * i] || d->pbc[3 * i + 1] || d->pbc[3 * i + 2]) && cell_is_zero(cell + 9 * i)) {
      st = h5_fail(r, MLFF_ERR_FORMAT, "structure %lld is periodic (/structures/pbc) but its cell "
                   "in /structures/cells is zero: give the cell or set pbc false", (long long)i);
      goto done;
    }
  if (a > 0) { /* an empty dataset has no arrays: memcpy of NULL is undefined even for 0 bytes */
    memcpy(d->pos, pos, (size_t)a * 3 * sizeof *pos);
    memcpy(d->forces, forces, (size_t)a * 3 * sizeof *forces);
  }
  if (n > 0) {
    memcpy(d->energy, energy, (size_t)n * sizeof *energy);
    memcpy(d->cell, cell, (size_t)n * 9 * sizeof *cell);
  }
  d->n = (int)n;
  d->n_atoms = a;
  if ((st = read_source(r, d))) { /* some sources unset: free those that are, hold none */
    for (int i = 0; i < d->n; i++) free(d->source[i]);
    d->n = 0;
  }
done:
  free(energy);
  free(pos);
  free(forces);
  free(cell);
  free(Z64);
  free(splits);
  free(fsplits);
  return st;
}

/* The file exists, is readable and not a directory; "dataset file" in the messages. */
static mlff_status check_readable(const char *path) {
  struct stat sb;
  FILE *f = fopen(path, "rb");
  if (!f) return mlff_set_error(MLFF_ERR_IO, "cannot open dataset file '%s': %s", path,
                           strerror(errno));
  int is_dir = fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode);
  fclose(f);
  if (is_dir)
    return mlff_set_error(MLFF_ERR_IO, "cannot open dataset file '%s': it is a directory; give the "
                     "path of a dataset .h5 file", path);
  if (H5Fis_hdf5(path) <= 0)
    return mlff_set_error(MLFF_ERR_IO, "cannot read dataset file '%s': it is not an HDF5 file (a "
                     "dataset is HDF5, written by `mlff label`, `mlff import` or h5py; an "
                     "extended XYZ file is converted with `mlff import`)", path);
  return MLFF_OK;
}

mlff_status mlff_dataset_load(const char *path, mlff_dataset **out) {
  if (!out) return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_dataset_load: out is NULL");
  *out = NULL;
  if (!path) return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_dataset_load: path is NULL");
  h5_quiet q;
  h5_quiet_begin(&q);
  mlff_dataset *d = NULL;
  h5_reader r = {"dataset file", path, -1};
  mlff_status st = check_readable(path);
  if (st) {
  } else if ((r.file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
    st = mlff_set_error(MLFF_ERR_IO, "cannot open dataset file '%s': HDF5 cannot read it (truncated "
                   "or corrupt, or open for writing elsewhere?)", path);
  } else if (!(st = mlff_dataset_create(&d))) {
    st = read_dataset(&r, d);
  }
  h5_close(&r.file, H5Fclose);
  h5_quiet_end(&q);
  if (st) {
    mlff_dataset_free(d);
    return st;
  }
  *out = d;
  return MLFF_OK;
}

/* ---- writer ----------------------------------------------------------------------------- */

/* Per-dataset description of the layout: name, file type, rank, trailing dims, chunk rows.
 * Every file has the datasets up to DS_SRC; the pipeline's optional labels follow. */
typedef enum { DS_Z, DS_POS, DS_CELLS, DS_PBC, DS_SPLITS, DS_E, DS_F, DS_FSPLITS, DS_SRC,
               DS_STRESS, DS_MASK, DS_SIDX, N_DS } ds_id;
static const struct {
  const char *path;
  int rank;
  hsize_t tail[2];
  hsize_t chunk;
  const char *classes; /* as open_ds takes them */
} LAYOUT[N_DS] = {
    {"/structures/atomic_numbers", 1, {0, 0}, ATOM_CHUNK, "i"},
    {"/structures/positions", 2, {3, 0}, ATOM_CHUNK, "f"},
    {"/structures/cells", 3, {3, 3}, STRUCT_CHUNK, "f"},
    {"/structures/pbc", 2, {3, 0}, STRUCT_CHUNK, "ib"},
    {"/structures/atomic_numbers_splits", 1, {0, 0}, STRUCT_CHUNK, "i"},
    {"/labels/energy", 1, {0, 0}, STRUCT_CHUNK, "f"},
    {"/labels/forces", 2, {3, 0}, ATOM_CHUNK, "f"},
    {"/labels/forces_splits", 1, {0, 0}, STRUCT_CHUNK, "i"},
    {"/labels/source", 1, {0, 0}, STRUCT_CHUNK, "s"},
    {"/labels/stress", 2, {6, 0}, STRUCT_CHUNK, "f"},
    {"/labels/stress_mask", 1, {0, 0}, STRUCT_CHUNK, "ibf"},
    {"/labels/structure_indices", 1, {0, 0}, STRUCT_CHUNK, "i"},
};

typedef struct {
  const char *path; /* the file named in messages (the target, not its temporary copy) */
  const char *failed;
  hid_t types[N_DS]; /* file types (and memory types where they differ: see mem_type) */
  hid_t pbc_mem, str_mem;
} writer;

/* What an existing file holds: rows of each dataset, which optional ones are there, and the
 * class of its stress mask ('b' bool enum, 'i' integer, 'f' float). */
typedef struct {
  hsize_t rows[N_DS];
  int present[N_DS];
  char mask_kind;
} file_state;

static int wok(writer *w, herr_t e, const char *what) {
  if (e < 0 && !w->failed) w->failed = what;
  return !w->failed;
}

static hid_t bool_enum(hid_t base) {
  hid_t t = H5Tenum_create(base);
  signed char f = 0, tr = 1;
  H5Tenum_insert(t, "FALSE", &f);
  H5Tenum_insert(t, "TRUE", &tr);
  return t;
}

static void writer_types(writer *w) {
  for (int i = 0; i < N_DS; i++) w->types[i] = -1;
  w->types[DS_Z] = H5Tcopy(H5T_STD_I64LE);
  w->types[DS_POS] = H5Tcopy(H5T_IEEE_F64LE);
  w->types[DS_CELLS] = H5Tcopy(H5T_IEEE_F64LE);
  w->types[DS_PBC] = bool_enum(H5T_STD_I8LE); /* what h5py writes for numpy bool */
  w->types[DS_SPLITS] = H5Tcopy(H5T_STD_I64LE);
  w->types[DS_E] = H5Tcopy(H5T_IEEE_F64LE);
  w->types[DS_F] = H5Tcopy(H5T_IEEE_F64LE);
  w->types[DS_FSPLITS] = H5Tcopy(H5T_STD_I64LE);
  w->types[DS_SRC] = H5Tcopy(H5T_C_S1); /* variable-length UTF-8: h5py's str */
  H5Tset_size(w->types[DS_SRC], H5T_VARIABLE);
  H5Tset_cset(w->types[DS_SRC], H5T_CSET_UTF8);
  w->types[DS_STRESS] = H5Tcopy(H5T_IEEE_F64LE);
  w->types[DS_MASK] = bool_enum(H5T_STD_I8LE); /* a mask read as ints or floats stays so */
  w->types[DS_SIDX] = H5Tcopy(H5T_STD_I64LE);
  w->pbc_mem = bool_enum(H5T_NATIVE_SCHAR);
  w->str_mem = H5Tcopy(w->types[DS_SRC]);
}

static void writer_close(writer *w) {
  for (int i = 0; i < N_DS; i++) h5_close(&w->types[i], H5Tclose);
  h5_close(&w->pbc_mem, H5Tclose);
  h5_close(&w->str_mem, H5Tclose);
}

static hid_t mem_type(const writer *w, ds_id i) {
  switch (i) {
    case DS_Z: return H5T_NATIVE_INT;
    case DS_PBC: return w->pbc_mem;
    case DS_SPLITS: case DS_FSPLITS: case DS_SIDX: return H5T_NATIVE_INT64;
    case DS_SRC: return w->str_mem;
    default: return H5T_NATIVE_DOUBLE; /* DS_MASK: see put_mask */
  }
}

/* A string attribute (variable-length UTF-8, as h5py writes str) on /labels. */
static void w_attr(writer *w, hid_t loc, const char *name, const char *value) {
  if (w->failed) return;
  if (H5Aexists(loc, name) > 0) wok(w, H5Adelete(loc, name), name);
  hid_t sp = H5Screate(H5S_SCALAR), t = H5Tcopy(w->str_mem);
  hid_t a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
  if (wok(w, a, name)) {
    wok(w, H5Awrite(a, t, &value), name);
    H5Aclose(a);
  }
  H5Tclose(t);
  H5Sclose(sp);
}

/* Dataset i, of length 0 and extendable, of file type `type`. */
static void create_ds(writer *w, hid_t file, ds_id i, hid_t type) {
  if (w->failed) return;
  hsize_t dims[3] = {0, LAYOUT[i].tail[0], LAYOUT[i].tail[1]};
  hsize_t maxd[3] = {H5S_UNLIMITED, dims[1], dims[2]};
  hsize_t chunk[3] = {LAYOUT[i].chunk, dims[1], dims[2]};
  hid_t sp = H5Screate_simple(LAYOUT[i].rank, dims, maxd);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_obj_track_times(dcpl, 0);
  H5Pset_chunk(dcpl, LAYOUT[i].rank, chunk);
  hid_t d = H5Dcreate2(file, LAYOUT[i].path, type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (wok(w, d, LAYOUT[i].path)) H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(sp);
}

/* An empty file with the layout's datasets up to DS_SRC (the optional labels are created when
 * there are some to write). */
static void create_layout(writer *w, hid_t file) {
  hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
  H5Pset_obj_track_times(gcpl, 0);
  hid_t gs = H5Gcreate2(file, "structures", H5P_DEFAULT, gcpl, H5P_DEFAULT);
  hid_t gl = H5Gcreate2(file, "labels", H5P_DEFAULT, gcpl, H5P_DEFAULT);
  wok(w, gs < 0 || gl < 0 ? -1 : 0, "the groups /structures and /labels");
  for (int i = 0; i <= DS_SRC; i++) create_ds(w, file, (ds_id)i, w->types[i]);
  if (gs >= 0) H5Gclose(gs);
  if (gl >= 0) H5Gclose(gl);
  H5Pclose(gcpl);
}

/* Extend dataset i to old_rows + rows rows and write rows from buf (memory type mem) after
 * old_rows (old_rows 0 with the current length or more: rewrite it whole). */
static void extend_write_as(writer *w, hid_t file, ds_id i, hid_t mem, hsize_t old_rows,
                            hsize_t rows, const void *buf) {
  if (w->failed || !rows) return;
  const char *p = LAYOUT[i].path;
  hid_t d = H5Dopen2(file, p, H5P_DEFAULT);
  if (!wok(w, d, p)) return;
  hsize_t dims[3] = {old_rows + rows, LAYOUT[i].tail[0], LAYOUT[i].tail[1]};
  hsize_t start[3] = {old_rows, 0, 0}, count[3] = {rows, dims[1], dims[2]};
  if (wok(w, H5Dset_extent(d, dims), p)) {
    hid_t fs = H5Dget_space(d);
    hid_t ms = H5Screate_simple(LAYOUT[i].rank, count, NULL);
    if (wok(w, H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL), p))
      wok(w, H5Dwrite(d, mem, ms, fs, H5P_DEFAULT, buf), p);
    H5Sclose(ms);
    H5Sclose(fs);
  }
  H5Dclose(d);
}

static void extend_write(writer *w, hid_t file, ds_id i, hsize_t old_rows, hsize_t rows,
                         const void *buf) {
  extend_write_as(w, file, i, mem_type(w, i), old_rows, rows, buf);
}

/* What an existing file holds; refuses a file that is not our layout. */
static mlff_status existing_rows(const h5_reader *r, file_state *fs) {
  memset(fs, 0, sizeof *fs);
  for (int i = 0; i < N_DS; i++) {
    hid_t d;
    if (i >= DS_SRC && !h5_path_exists(r->file, LAYOUT[i].path)) continue; /* added below */
    fs->present[i] = 1;
    char what[96];
    snprintf(what, sizeof what, "a dataset of rank %d%s", LAYOUT[i].rank,
             i == DS_SRC ? " of strings" : "");
    mlff_status st = open_ds(r, LAYOUT[i].path, LAYOUT[i].classes,
                             LAYOUT[i].rank, LAYOUT[i].tail, what, &d, &fs->rows[i]);
    if (st) return st;
    /* Appending needs extendable (chunked, unlimited) datasets, as mlff writes them. */
    hid_t sp = H5Dget_space(d), t = H5Dget_type(d);
    hsize_t dims[3], maxd[3];
    H5Sget_simple_extent_dims(sp, dims, maxd);
    H5T_class_t c = H5Tget_class(t);
    if (i == DS_MASK) fs->mask_kind = c == H5T_FLOAT ? 'f' : c == H5T_INTEGER ? 'i' : 'b';
    H5Tclose(t);
    H5Sclose(sp);
    H5Dclose(d);
    if (maxd[0] != H5S_UNLIMITED)
      return h5_fail(r, MLFF_ERR_FORMAT, "cannot append: dataset %s has a fixed size (written by "
                     "another program?); rewrite the file first with `mlff import %s NEW.h5`",
                     LAYOUT[i].path, r->path);
  }
  const hsize_t *rows = fs->rows;
  hsize_t n = rows[DS_E], a = rows[DS_Z], interior = n ? n - 1 : 0;
  int per_structure_ok = 1;
  for (int i = DS_STRESS; i < N_DS; i++) per_structure_ok &= !fs->present[i] || rows[i] == n;
  if (rows[DS_POS] != a || rows[DS_F] != a || rows[DS_CELLS] != n || rows[DS_PBC] != n ||
      (rows[DS_SPLITS] != n + 1 && rows[DS_SPLITS] != interior) ||
      rows[DS_FSPLITS] != rows[DS_SPLITS] || (n && a < n) || (!n && a) || !per_structure_ok ||
      (fs->present[DS_MASK] && !fs->present[DS_STRESS]))
    return h5_fail(r, MLFF_ERR_FORMAT, "cannot append: the datasets' lengths disagree (%llu "
                   "energies, %llu atomic numbers, %llu positions, %llu forces, %llu splits, "
                   "where N+1 or N-1 are read; stresses, their mask and structure_indices one per "
                   "structure); the file is damaged: check it with `mlff import %s CHECK.h5`",
                   (unsigned long long)n, (unsigned long long)a, (unsigned long long)rows[DS_POS],
                   (unsigned long long)rows[DS_F], (unsigned long long)rows[DS_SPLITS], r->path);
  return MLFF_OK;
}

static int cmp_attr(const void *a, const void *b) {
  return strcmp((*(const mlff_attr *const *)a)->name, (*(const mlff_attr *const *)b)->name);
}

/* The splits of the union, N+1 cumulative offsets. A file already in that form is extended; one
 * without rows (new) or in mlff <= 0.1's N-1 form is rewritten whole in the new form (both
 * datasets alike), so that the pipeline reads what we append to. */
static mlff_status put_splits(writer *w, const h5_reader *r, hid_t file, const mlff_dataset *d,
                              const file_state *fs) {
  hsize_t n_old = fs->rows[DS_E], a_old = fs->rows[DS_Z], n = (hsize_t)d->n;
  int cumulative = fs->rows[DS_SPLITS] == n_old + 1;
  hsize_t first = cumulative ? n_old + 1 : 0, total = n_old + n + 1;
  int64_t *split = malloc((size_t)(total - first + 1) * sizeof *split); /* + 1: never 0 bytes */
  if (!split) return mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
  if (!cumulative) {
    split[0] = 0;
    hsize_t interior = fs->rows[DS_SPLITS]; /* n_old - 1, or 0 */
    if (interior) {
      const char *p = LAYOUT[DS_SPLITS].path;
      hid_t ds = H5Dopen2(file, p, H5P_DEFAULT);
      herr_t e = ds < 0 ? -1 : H5Dread(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                       split + 1);
      if (ds >= 0) H5Dclose(ds);
      if (e < 0) {
        free(split);
        return h5_fail(r, MLFF_ERR_FORMAT, "cannot append: cannot read dataset %s (corrupt "
                       "file?)", p);
      }
    }
    split[n_old] = (int64_t)a_old;
  }
  for (hsize_t i = 0; i < n; i++) split[n_old + 1 + i - first] = (int64_t)a_old + d->offset[i + 1];
  extend_write(w, file, DS_SPLITS, first, total - first, split);
  extend_write(w, file, DS_FSPLITS, first, total - first, split);
  free(split);
  return MLFF_OK;
}

/* Optional dataset i after the append: created when the file lacks it (type ftype, its n_old
 * rows from old_fill), then extended by the n rows of `fresh`; buffers of memory type mem. */
static void put_optional(writer *w, hid_t file, const file_state *fs, ds_id i, hid_t ftype,
                         hid_t mem, const void *old_fill, hsize_t n, const void *fresh) {
  hsize_t n_old = fs->rows[DS_E];
  if (!fs->present[i]) {
    create_ds(w, file, i, ftype);
    extend_write_as(w, file, i, mem, 0, n_old, old_fill);
  }
  extend_write_as(w, file, i, mem, n_old, n, fresh);
}

/* The stress mask's values v[n] as a buffer of the memory type for class kind (malloc'd). */
static void *mask_buffer(char kind, const double *v, hsize_t n) {
  size_t elem = kind == 'b' ? 1 : 8;
  unsigned char *b = malloc((size_t)(n ? n : 1) * elem);
  for (hsize_t i = 0; b && i < n; i++) {
    if (kind == 'b') b[i] = v[i] != 0.0;
    else if (kind == 'i') ((int64_t *)(void *)b)[i] = (int64_t)v[i];
    else ((double *)(void *)b)[i] = v[i];
  }
  return b;
}

/* The pipeline's optional labels after the append. Structures without a stress get zeros,
 * marked no label by the mask (made when the file or d lacks stresses the other has, its old
 * rows 1 where the file had stresses); structures without structure_indices get their index. */
static mlff_status put_labels(writer *w, hid_t file, const mlff_dataset *d, const file_state *fs) {
  hsize_t n_old = fs->rows[DS_E], n = (hsize_t)d->n, most = n_old > n ? n_old : n;
  int file_s = fs->present[DS_STRESS], need_s = file_s || d->has_stress;
  int need_m = fs->present[DS_MASK] || d->mask_kind || (file_s && !d->has_stress && n) ||
               (!file_s && d->has_stress && n_old);
  int need_i = fs->present[DS_SIDX] || d->has_sidx;
  if (!need_s && !need_i) return MLFF_OK;
  double *zero = calloc((size_t)(6 * most + 1), sizeof *zero);
  double *old_m = malloc((size_t)(n_old + 1) * sizeof *old_m);
  double *new_m = malloc((size_t)(n + 1) * sizeof *new_m);
  int64_t *old_i = malloc((size_t)(n_old + 1) * sizeof *old_i);
  int64_t *new_i = malloc((size_t)(n + 1) * sizeof *new_i);
  void *mb_old = NULL, *mb_new = NULL;
  mlff_status st = MLFF_OK;
  if (!zero || !old_m || !new_m || !old_i || !new_i) {
    st = mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
    goto done;
  }
  if (need_s)
    put_optional(w, file, fs, DS_STRESS, w->types[DS_STRESS], H5T_NATIVE_DOUBLE, zero, n,
                 d->has_stress ? d->stress : zero);
  if (need_m) {
    /* The file's class if it has a mask, else d's (bool when d has none either). */
    char kind = fs->present[DS_MASK] ? fs->mask_kind : d->mask_kind ? d->mask_kind : 'b';
    for (hsize_t k = 0; k < n_old; k++) old_m[k] = file_s ? 1.0 : 0.0;
    for (hsize_t k = 0; k < n; k++)
      new_m[k] = d->mask_kind ? d->stress_mask[k] : d->has_stress ? 1.0 : 0.0;
    mb_old = mask_buffer(kind, old_m, n_old);
    mb_new = mask_buffer(kind, new_m, n);
    if (!mb_old || !mb_new) {
      st = mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
      goto done;
    }
    hid_t ft = kind == 'i' ? H5T_STD_I64LE : kind == 'f' ? H5T_IEEE_F64LE : w->types[DS_MASK];
    hid_t mt = kind == 'i' ? H5T_NATIVE_INT64 : kind == 'f' ? H5T_NATIVE_DOUBLE : w->pbc_mem;
    put_optional(w, file, fs, DS_MASK, ft, mt, mb_old, n, mb_new);
  }
  if (need_i) {
    for (hsize_t k = 0; k < n_old; k++) old_i[k] = (int64_t)k;
    for (hsize_t k = 0; k < n; k++) new_i[k] = d->has_sidx ? d->sidx[k] : (int64_t)(n_old + k);
    put_optional(w, file, fs, DS_SIDX, w->types[DS_SIDX], H5T_NATIVE_INT64, old_i, n, new_i);
  }
done:
  free(zero);
  free(old_m);
  free(new_m);
  free(old_i);
  free(new_i);
  free(mb_old);
  free(mb_new);
  return st;
}

/* Write d's structures after the file's (fs), and d's attributes (teacher must agree with the
 * file's). */
static mlff_status append_into(writer *w, const h5_reader *r, hid_t file, const mlff_dataset *d,
                               const file_state *fs) {
  const hsize_t *rows = fs->rows;
  hsize_t n_old = rows[DS_E], a_old = rows[DS_Z];
  hid_t g = H5Gopen2(file, "/labels", H5P_DEFAULT);
  if (g < 0) return h5_fail(r, MLFF_ERR_FORMAT, "/labels is not a group: %s", FIX_HINT);
  mlff_status st = MLFF_OK;
  /* Attributes: units checked; teacher must agree; others added or replaced. */
  char *units = NULL, *old = NULL;
  if (H5Aexists(g, "units") > 0) {
    if (!(st = labels_attr(r, g, "units", &units)) && !units_ok(units))
      st = h5_fail(r, MLFF_ERR_FORMAT, "cannot append: attribute 'units' of /labels is \"%.100s\""
                   ", but mlff datasets hold %s; use a new file", units, UNITS_ACCEPTED);
    free(units);
  } else if (n_old) {
    st = h5_fail(r, MLFF_ERR_FORMAT, "cannot append: attribute 'units' of /labels is missing, so "
                 "the units of the structures already there are unknown; use a new file");
  } else {
    w_attr(w, g, "units", UNITS);
  }
  /* In name order, so that the bytes do not depend on the order the attributes were set. */
  const mlff_attr **sorted = malloc((size_t)(d->n_attrs ? d->n_attrs : 1) * sizeof *sorted);
  if (!sorted) st = mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
  for (int i = 0; i < d->n_attrs && sorted; i++) sorted[i] = &d->attrs[i];
  if (sorted) qsort(sorted, (size_t)d->n_attrs, sizeof *sorted, cmp_attr);
  for (int i = 0; i < d->n_attrs && !st && !w->failed; i++) {
    const mlff_attr *at = sorted[i];
    old = NULL;
    if (H5Aexists(g, at->name) > 0 && (st = labels_attr(r, g, at->name, &old))) break;
    if (old && !strcmp(old, at->value)) {
    } else if (old && !strcmp(at->name, "teacher") && *old && n_old) {
      st = h5_fail(r, MLFF_ERR_ARGUMENT, "cannot append: its structures were labelled by \"%.200s\""
                   " (attribute 'teacher' of /labels), these by \"%.200s\"; one dataset holds one "
                   "teacher's labels: write them to a new file", old, at->value);
    } else {
      w_attr(w, g, at->name, at->value);
    }
    free(old);
  }
  free(sorted);
  H5Gclose(g);
  if (st) return st;

  /* The source tags of structures already there, when the file had none (h5py files). */
  if (!fs->present[DS_SRC] && !w->failed) {
    create_ds(w, file, DS_SRC, w->types[DS_SRC]);
    const char **empty = calloc(n_old ? n_old : 1, sizeof *empty);
    if (!empty) return mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
    for (hsize_t i = 0; i < n_old; i++) empty[i] = "";
    extend_write(w, file, DS_SRC, 0, n_old, empty);
    free(empty);
  }
  /* Before the structures: a file of the old form is converted even when none are added. */
  if ((st = put_splits(w, r, file, d, fs)) || (st = put_labels(w, file, d, fs))) return st;

  hsize_t n = (hsize_t)d->n, a = (hsize_t)d->n_atoms;
  if (!n) return MLFF_OK;
  signed char *pbc = malloc(3 * n);
  if (!pbc) return mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
  for (hsize_t i = 0; i < 3 * n; i++) pbc[i] = (signed char)d->pbc[i];
  extend_write(w, file, DS_Z, a_old, a, d->Z);
  extend_write(w, file, DS_POS, a_old, a, d->pos);
  extend_write(w, file, DS_CELLS, n_old, n, d->cell);
  extend_write(w, file, DS_PBC, n_old, n, pbc);
  extend_write(w, file, DS_E, n_old, n, d->energy);
  extend_write(w, file, DS_F, a_old, a, d->forces);
  extend_write(w, file, DS_SRC, n_old, n, d->source);
  free(pbc);
  return MLFF_OK;
}

static mlff_status copy_file(const char *from, const char *to, const char *target) {
  FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
  mlff_status st = MLFF_OK;
  if (!in || !out) {
    st = mlff_set_error(MLFF_ERR_IO, "cannot append to dataset file '%s': cannot %s '%s': %s", target,
                   in ? "create" : "read", in ? to : from, strerror(errno));
  } else {
    char buf[1 << 16];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, in)) > 0)
      if (fwrite(buf, 1, k, out) != k) break;
    if (ferror(in) || ferror(out))
      st = mlff_set_error(MLFF_ERR_IO, "cannot append to dataset file '%s': copying it to '%s' "
                     "failed: %s (disk full?)", target, to, strerror(errno));
  }
  if (in) fclose(in);
  if (out && fclose(out) != 0 && !st)
    st = mlff_set_error(MLFF_ERR_IO, "cannot append to dataset file '%s': writing '%s' failed: %s",
                   target, to, strerror(errno));
  if (st && out) remove(to);
  return st;
}

/* Save (fresh: a new file) or append (a copy of the existing file) into path.tmpPID, then
 * rename it over path. */
static mlff_status write_file(const mlff_dataset *d, const char *path, int fresh) {
  char *tmp = h5_temp_path(path);
  if (!tmp) return mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
  h5_quiet q;
  h5_quiet_begin(&q);
  writer w = {path, NULL, {0}, -1, -1};
  writer_types(&w);
  h5_reader r = {"dataset file", path, -1};
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), fcpl = H5Pcreate(H5P_FILE_CREATE);
  H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18); /* readable by any HDF5 1.8+ */
  H5Pset_obj_track_times(fcpl, 0); /* no timestamps: the same data gives the same bytes */
  mlff_status st = MLFF_OK;
  hid_t file = -1;
  file_state fs;
  memset(&fs, 0, sizeof fs);
  if (!fresh) {
    if (!(st = check_readable(path)) && !(st = copy_file(path, tmp, path))) {
      if ((file = H5Fopen(tmp, H5F_ACC_RDWR, fapl)) < 0)
        st = mlff_set_error(MLFF_ERR_IO, "cannot append to dataset file '%s': HDF5 cannot open it "
                       "for writing (truncated or corrupt?)", path);
      else if (!h5_path_exists(file, "/structures") || !h5_path_exists(file, "/labels"))
        st = h5_fail(&r, MLFF_ERR_FORMAT, "cannot append: it has no /structures and /labels "
                     "groups, so it is not a labelled dataset; give a new file name");
      else {
        r.file = file;
        st = existing_rows(&r, &fs);
      }
    }
  } else if ((file = H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl, fapl)) < 0) {
    FILE *f = fopen(tmp, "wb"); /* HDF5 does not say why; the C library does */
    const char *why = f ? "HDF5 could not create it" : strerror(errno);
    if (f) fclose(f);
    st = mlff_set_error(MLFF_ERR_IO, "cannot create dataset file '%s': %s", path, why);
  } else {
    create_layout(&w, file);
    for (int i = 0; i <= DS_SRC; i++) fs.present[i] = 1;
  }
  if (!st && !w.failed) st = append_into(&w, &r, file, d, &fs);
  if (file >= 0 && H5Fclose(file) < 0 && !w.failed) w.failed = "(closing the file)";
  if (!st && w.failed)
    st = mlff_set_error(MLFF_ERR_IO, "cannot write dataset file '%s': HDF5 failed writing %s (disk "
                   "full or no permission?)", path, w.failed);
  const char *step = NULL;
  if (!st && h5_commit_temp(tmp, path, &step) != 0)
    st = mlff_set_error(MLFF_ERR_IO, "cannot write dataset file '%s': %s ('%s') failed: %s",
                   path, step, tmp, strerror(errno));
  if (st) remove(tmp);
  writer_close(&w);
  H5Pclose(fcpl);
  H5Pclose(fapl);
  h5_quiet_end(&q);
  free(tmp);
  return st;
}

mlff_status mlff_dataset_save(const mlff_dataset *d, const char *path) {
  if (!d || !path) return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_dataset_save: NULL argument");
  return write_file(d, path, 1);
}

mlff_status mlff_dataset_append(const mlff_dataset *d, const char *path) {
  if (!d || !path) return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_dataset_append: NULL argument");
  struct stat sb;
  int exists = stat(path, &sb) == 0;
  return write_file(d, path, !exists);
}

/* ---- SHA-256 (FIPS 180-4) ---------------------------------------------------------------- */

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};

typedef struct {
  uint32_t h[8];
  uint64_t bytes;
  unsigned char block[64];
  size_t used;
} sha256_ctx;

static uint32_t ror(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void sha256_block(sha256_ctx *c, const unsigned char *p) {
  uint32_t w[64];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
           (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = c->h[0], b = c->h[1], cc = c->h[2], d = c->h[3], e = c->h[4], f = c->h[5],
           g = c->h[6], h = c->h[7];
  for (int i = 0; i < 64; i++) {
    uint32_t t1 = h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] +
                  w[i];
    uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & cc) ^ (b & cc));
    h = g;
    g = f;
    f = e;
    e = d + t1;
    d = cc;
    cc = b;
    b = a;
    a = t1 + t2;
  }
  c->h[0] += a;
  c->h[1] += b;
  c->h[2] += cc;
  c->h[3] += d;
  c->h[4] += e;
  c->h[5] += f;
  c->h[6] += g;
  c->h[7] += h;
}

static void sha256_init(sha256_ctx *c) {
  static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  memcpy(c->h, H0, sizeof H0);
  c->bytes = 0;
  c->used = 0;
}

static void sha256_update(sha256_ctx *c, const unsigned char *p, size_t n) {
  c->bytes += n;
  while (n) {
    size_t k = 64 - c->used < n ? 64 - c->used : n;
    memcpy(c->block + c->used, p, k);
    c->used += k;
    p += k;
    n -= k;
    if (c->used == 64) {
      sha256_block(c, c->block);
      c->used = 0;
    }
  }
}

static void sha256_final(sha256_ctx *c, char hex[65]) {
  uint64_t bits = c->bytes * 8;
  unsigned char pad[72] = {0x80};
  size_t padn = (c->used < 56 ? 56 : 120) - c->used;
  for (int i = 0; i < 8; i++) pad[padn + i] = (unsigned char)(bits >> (56 - 8 * i));
  sha256_update(c, pad, padn + 8);
  for (int i = 0; i < 8; i++) snprintf(hex + 8 * i, 9, "%08x", c->h[i]);
}

mlff_status mlff_file_sha256(const char *path, char hex[65]) {
  if (!path || !hex) return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_file_sha256: NULL argument");
  hex[0] = '\0';
  FILE *f = fopen(path, "rb");
  if (!f) return mlff_set_error(MLFF_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  sha256_ctx c;
  sha256_init(&c);
  unsigned char buf[1 << 16];
  size_t k;
  while ((k = fread(buf, 1, sizeof buf, f)) > 0) sha256_update(&c, buf, k);
  int err = ferror(f);
  fclose(f);
  if (err) return mlff_set_error(MLFF_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
  sha256_final(&c, hex);
  return MLFF_OK;
}

/* SHA-256 of the concatenation of n memory blocks (train.h: the checkpoint's run signature). */
void mlff_sha256_parts(int n, const void *const *parts, const size_t *sizes, char hex[65]) {
  sha256_ctx c;
  sha256_init(&c);
  for (int i = 0; i < n; i++) sha256_update(&c, parts[i], sizes[i]);
  sha256_final(&c, hex);
}
