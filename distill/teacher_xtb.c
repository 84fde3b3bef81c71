/* teacher_xtb.c — the built-in teacher (docs/cli.md): GFN2-xTB through libxtb's C API, in process.
 *
 * Units: libxtb works in Hartree and Bohr; we convert with 27.211386245988 eV/Eh and
 * 0.529177210903 Å/Bohr, and forces are the negative gradient. A teacher keeps libxtb's
 * molecule, calculator and results between calls: when the next structure has the same atoms
 * (atomic numbers in the same order, same periodicity), only the coordinates are updated and
 * the SCF starts from the previous wavefunction (about 3–5 ms for benzene instead of ~7).
 *
 * Threads: libxtb runs on one thread (OpenMP and OpenBLAS) during our calls, unless
 * mlff_teacher_set_threads says otherwise; the caller's thread counts are
 * restored afterwards. For molecules of tens of atoms libxtb's threading gains little, while
 * one process per core (as `mlff label --jobs` runs) gains nearly the core count; and a fixed
 * count keeps results bitwise reproducible, which resuming a labelling run relies on.
 *
 * Built without libxtb (pkg-config found no `xtb`), every function refuses with
 * MLFF_ERR_UNSUPPORTED and says to install libxtb-dev. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mlff_distill.h"

#define HARTREE_EV 27.211386245988
#define BOHR_ANGSTROM 0.529177210903

#ifndef MLFF_HAVE_XTB

struct mlff_teacher {
  int unused;
};

static mlff_status no_xtb(void) {
  return mlff_set_error(MLFF_ERR_UNSUPPORTED, "this libmlff_distill was built without libxtb, so the GFN2-xTB "
                   "teacher is not available: install libxtb-dev (Debian: apt-get install "
                   "libxtb-dev xtb) and rebuild mlff");
}

mlff_status mlff_teacher_create_xtb(mlff_teacher **out) {
  if (out) *out = NULL;
  return no_xtb();
}
void mlff_teacher_free(mlff_teacher *t) { (void)t; }
const char *mlff_teacher_name(const mlff_teacher *t) {
  (void)t;
  return "GFN2-xTB (not available: built without libxtb)";
}
mlff_status mlff_teacher_compute(mlff_teacher *t, const mlff_frame *f, double *energy,
                                 double *forces) {
  return no_xtb();
}
mlff_status mlff_teacher_set_threads(mlff_teacher *t, int n_threads) { return no_xtb(); }

#else

#include <stdbool.h>

#include <cblas.h>
#include <xtb.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#ifndef MLFF_XTB_VERSION
#define MLFF_XTB_VERSION "unknown version"
#endif

struct mlff_teacher {
  xtb_TEnvironment env;
  xtb_TMolecule mol; /* NULL until the first structure, and after a failure */
  xtb_TCalculator calc;
  xtb_TResults res;
  int n;             /* atoms of mol */
  int *Z;            /* [n] */
  bool periodic[3];
  double *xyz, *grad; /* [n][3], Bohr and Eh/Bohr */
  int threads;
  char name[64];
};

/* libxtb's error stack as one line (emptied). */
static void xtb_message(mlff_teacher *t, char *buf, int size) {
  int n = size - 1;
  memset(buf, 0, (size_t)size); /* libxtb does not terminate what it copies */
  xtb_getError(t->env, buf, &n);
  buf[size - 1] = '\0';
  for (char *p = buf; *p; p++)
    if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
  size_t len = strlen(buf);
  while (len && buf[len - 1] == ' ') buf[--len] = '\0';
  char *s = buf;
  while (*s == ' ') s++;
  memmove(buf, s, strlen(s) + 1);
  if (!*buf) snprintf(buf, (size_t)size, "no message from libxtb");
}

static void drop_molecule(mlff_teacher *t) {
  if (t->res) xtb_delResults(&t->res);
  if (t->calc) xtb_delCalculator(&t->calc);
  if (t->mol) xtb_delMolecule(&t->mol);
  t->res = NULL;
  t->calc = NULL;
  t->mol = NULL;
  t->n = 0;
}

mlff_status mlff_teacher_create_xtb(mlff_teacher **out) {
  if (!out) return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_teacher_create_xtb: out is NULL");
  *out = NULL;
  mlff_teacher *t = calloc(1, sizeof *t);
  if (!t) return mlff_set_error(MLFF_ERR_NOMEM, "out of memory creating the teacher");
  t->env = xtb_newEnvironment();
  if (!t->env) {
    free(t);
    return mlff_set_error(MLFF_ERR_UNSUPPORTED, "libxtb could not create a calculation environment");
  }
  xtb_setVerbosity(t->env, XTB_VERBOSITY_MUTED);
  t->threads = 1;
  snprintf(t->name, sizeof t->name, "GFN2-xTB (libxtb %s)", MLFF_XTB_VERSION);
  *out = t;
  return MLFF_OK;
}

mlff_status mlff_teacher_set_threads(mlff_teacher *t, int n_threads) {
  if (!t) return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_teacher_set_threads: teacher is NULL");
  if (n_threads < 1 || n_threads > 1024)
    return mlff_set_error(MLFF_ERR_ARGUMENT, "the teacher's thread count must be 1 to 1024, not %d",
                          n_threads);
  t->threads = n_threads;
  return MLFF_OK;
}

void mlff_teacher_free(mlff_teacher *t) {
  if (!t) return;
  drop_molecule(t);
  if (t->env) xtb_delEnvironment(&t->env);
  free(t->Z);
  free(t->xyz);
  free(t->grad);
  free(t);
}

const char *mlff_teacher_name(const mlff_teacher *t) {
  return t ? t->name : "GFN2-xTB (libxtb " MLFF_XTB_VERSION ")";
}

typedef struct {
  int omp, blas;
} thread_state;

static void threads_begin(const mlff_teacher *t, thread_state *s) {
#ifdef _OPENMP
  s->omp = omp_get_max_threads();
  omp_set_num_threads(t->threads);
#endif
  s->blas = openblas_get_num_threads();
  if (s->blas != t->threads) openblas_set_num_threads(t->threads);
}

static void threads_end(const mlff_teacher *t, const thread_state *s) {
#ifdef _OPENMP
  omp_set_num_threads(s->omp);
#endif
  if (s->blas != t->threads) openblas_set_num_threads(s->blas);
}

static double det3(const double *c) {
  return c[0] * (c[4] * c[8] - c[5] * c[7]) - c[1] * (c[3] * c[8] - c[5] * c[6]) +
         c[2] * (c[3] * c[7] - c[4] * c[6]);
}

static mlff_status check_frame(const mlff_frame *f, int periodic) {
  if (f->n_atoms < 1 || !f->atomic_numbers || !f->positions)
    return mlff_set_error(MLFF_ERR_ARGUMENT, "teacher: the structure has no atoms");
  for (int i = 0; i < f->n_atoms; i++) {
    int z = f->atomic_numbers[i];
    if (z < 1 || z > 86)
      return mlff_set_error(MLFF_ERR_ARGUMENT, "teacher: atom %d has atomic number %d; GFN2-xTB "
                       "covers elements 1 to 86 (H to Rn)", i, z);
    for (int k = 0; k < 3; k++)
      if (!isfinite(f->positions[3 * i + k]))
        return mlff_set_error(MLFF_ERR_ARGUMENT, "teacher: atom %d has a non-finite position", i);
  }
  if (periodic) {
    for (int k = 0; k < 9; k++)
      if (!isfinite(f->cell[k]))
        return mlff_set_error(MLFF_ERR_ARGUMENT, "teacher: the cell has a non-finite value");
    if (fabs(det3(f->cell)) < 1e-6)
      return mlff_set_error(MLFF_ERR_ARGUMENT, "teacher: the cell is degenerate (volume %g Å^3)",
                       det3(f->cell));
  }
  return MLFF_OK;
}

/* libxtb 6.5.1 (Debian's) returns gradients that disagree with its own energy by up to
 * 1e-3 Eh/bohr when two atoms share a Cartesian coordinate to ~1e-8 Å (xtb issue #986, fixed
 * upstream by PR #1208) — planar benzene has all z equal. The energy is rotation invariant, so
 * every structure is turned by one fixed, generic rotation before libxtb sees it, and the
 * gradient turned back. */
static const double ROT[9] = {
    /* Rz(1.1) Ry(0.7) Rx(0.3): orthonormal to round-off */
    0.34692944965489897, -0.76504757837548576, 0.54253309556556439,
    0.68163298659342297, 0.60300439876021394, 0.41444199432919854,
    -0.64421768723769102, 0.22602632124962302, 0.73068164993551243};

static void rotate_in(const double *x, double *out, int n, double scale) {
  for (int i = 0; i < n; i++)
    for (int a = 0; a < 3; a++)
      out[3 * i + a] = scale * (ROT[3 * a] * x[3 * i] + ROT[3 * a + 1] * x[3 * i + 1] +
                                ROT[3 * a + 2] * x[3 * i + 2]);
}

/* New molecule, calculator (GFN2 parameters) and results for f's atoms. */
static mlff_status new_molecule(mlff_teacher *t, const mlff_frame *f, const bool *periodic,
                                const double *lattice) {
  drop_molecule(t);
  int n = f->n_atoms;
  int *Z = realloc(t->Z, (size_t)n * sizeof *Z);
  if (Z) t->Z = Z;
  double *x = Z ? realloc(t->xyz, (size_t)n * 3 * sizeof *x) : NULL;
  if (x) t->xyz = x;
  double *g = x ? realloc(t->grad, (size_t)n * 3 * sizeof *g) : NULL;
  if (g) t->grad = g;
  if (!g) return mlff_set_error(MLFF_ERR_NOMEM, "teacher: out of memory for %d atoms", n);
  memcpy(t->Z, f->atomic_numbers, (size_t)n * sizeof *Z);
  rotate_in(f->positions, t->xyz, n, 1.0 / BOHR_ANGSTROM);
  double charge = 0.0;
  int uhf = 0;
  char msg[512];
  t->mol = xtb_newMolecule(t->env, &n, t->Z, t->xyz, &charge, &uhf, lattice, periodic);
  if (!t->mol || xtb_checkEnvironment(t->env)) {
    xtb_message(t, msg, sizeof msg);
    drop_molecule(t);
    return mlff_set_error(MLFF_ERR_ARGUMENT, "teacher (GFN2-xTB): libxtb refused the %d-atom "
                     "structure: %s", n, msg);
  }
  t->calc = xtb_newCalculator();
  xtb_loadGFN2xTB(t->env, t->mol, t->calc, NULL);
  if (xtb_checkEnvironment(t->env)) {
    xtb_message(t, msg, sizeof msg);
    drop_molecule(t);
    return mlff_set_error(MLFF_ERR_UNSUPPORTED, "teacher (GFN2-xTB): libxtb could not set up GFN2-xTB "
                     "for the %d-atom %sstructure: %s", n, periodic ? "periodic " : "", msg);
  }
  t->res = xtb_newResults();
  t->n = n;
  for (int k = 0; k < 3; k++) t->periodic[k] = periodic ? periodic[k] : false;
  return MLFF_OK;
}

mlff_status mlff_teacher_compute(mlff_teacher *t, const mlff_frame *f, double *energy,
                                 double *forces) {
  if (!t || !f || !energy || !forces)
    return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_teacher_compute: NULL argument");
  int periodic = f->has_cell && (f->pbc[0] || f->pbc[1] || f->pbc[2]);
  mlff_status st = check_frame(f, periodic);
  if (st) return st;
  int n = f->n_atoms;
  bool pflags[3] = {periodic && f->pbc[0], periodic && f->pbc[1], periodic && f->pbc[2]};
  double lattice[9];
  rotate_in(f->cell, lattice, 3, 1.0 / BOHR_ANGSTROM); /* lattice vectors turn with the atoms */
  thread_state ts;
  threads_begin(t, &ts);
  int same = t->mol && t->n == n && !memcmp(t->Z, f->atomic_numbers, (size_t)n * sizeof *t->Z);
  for (int k = 0; k < 3 && same; k++) same = t->periodic[k] == pflags[k];
  char msg[512];
  if (same) {
    rotate_in(f->positions, t->xyz, n, 1.0 / BOHR_ANGSTROM);
    xtb_updateMolecule(t->env, t->mol, t->xyz, periodic ? lattice : NULL);
    if (xtb_checkEnvironment(t->env)) {
      xtb_message(t, msg, sizeof msg);
      drop_molecule(t);
      st = mlff_set_error(MLFF_ERR_ARGUMENT, "teacher (GFN2-xTB): libxtb refused the new coordinates "
                     "of the %d-atom structure: %s", n, msg);
    }
  } else {
    st = new_molecule(t, f, periodic ? pflags : NULL, periodic ? lattice : NULL);
  }
  if (!st) {
    xtb_singlepoint(t->env, t->mol, t->calc, t->res);
    if (xtb_checkEnvironment(t->env)) {
      xtb_message(t, msg, sizeof msg);
      drop_molecule(t); /* start the next call from scratch, not from a failed wavefunction */
      if (periodic && strstr(msg, "PBC"))
        st = mlff_set_error(MLFF_ERR_UNSUPPORTED, "teacher (GFN2-xTB): libxtb %s cannot compute "
                       "periodic structures with GFN2-xTB (libxtb: %s); label molecules and "
                       "clusters without a cell", MLFF_XTB_VERSION, msg);
      else
        st = mlff_set_error(MLFF_ERR_ARGUMENT, "teacher (GFN2-xTB): the single point of the %d-atom "
                     "structure failed: %s; check the geometry (atoms too close together or "
                     "far apart?) and that it is neutral and closed-shell", n, msg);
    }
  }
  double e = NAN;
  if (!st) {
    xtb_getEnergy(t->env, t->res, &e);
    xtb_getGradient(t->env, t->res, t->grad);
    if (xtb_checkEnvironment(t->env)) {
      xtb_message(t, msg, sizeof msg);
      drop_molecule(t);
      st = mlff_set_error(MLFF_ERR_ARGUMENT, "teacher (GFN2-xTB): reading the energy and gradient "
                     "failed: %s", msg);
    }
  }
  threads_end(t, &ts);
  if (st) return st;
  int finite = isfinite(e);
  for (int i = 0; i < 3 * n && finite; i++) finite = isfinite(t->grad[i]);
  if (!finite) {
    drop_molecule(t);
    return mlff_set_error(MLFF_ERR_ARGUMENT, "teacher (GFN2-xTB): the %d-atom structure gave a "
                     "non-finite energy or gradient (atoms on top of each other?)", n);
  }
  *energy = e * HARTREE_EV;
  for (int i = 0; i < n; i++) /* back to the caller's frame: F = -R^T g */
    for (int a = 0; a < 3; a++)
      forces[3 * i + a] = -(HARTREE_EV / BOHR_ANGSTROM) *
                          (ROT[a] * t->grad[3 * i] + ROT[3 + a] * t->grad[3 * i + 1] +
                           ROT[6 + a] * t->grad[3 * i + 2]);
  return MLFF_OK;
}

#endif
