/* compute.c — the CPU evaluation path: energy, forces, virial (global and per atom) from a
 * neighbour list (mlff_compute_neighbors, the layout LAMMPS hands a pair style), and for bare
 * structures, single or batched, by building periodic images and a cell list first
 * (mlff_compute, mlff_compute_batch). Everything in double precision.
 *
 * One step: neighbours within the cutoff -> descriptors (threads over atoms) -> per-element MLP
 * on species-sorted blocks (BLAS) -> descriptor backward to per-pair gradients (threads over
 * atoms) -> serial scatter of pair gradients into forces and virials (no atomics, and the sum
 * order, hence the result, is independent of the thread count). */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "descriptor.h"
#include "dispersion.h"
#include "electrostatics.h"
#include "images.h"
#include "internal.h"
#include "network.h"
#ifdef MLFF_HAVE_CUDA
#include "gpu.h"
#endif

#define MLP_BLOCK 64 /* rows per dgemm: large enough for BLAS, small enough to spread */

struct mlff_calc {
  const mlff_model *model;
  mlff_device device;
  int n_threads;
#ifdef MLFF_HAVE_CUDA
  mlff_gpu *gpu; /* the device path when device == MLFF_DEVICE_GPU */
#endif
  mlff_aev aev;
  double skin;              /* mlff_calc_options.skin: > 0 keeps mlff_compute's list (GPU) */
  long list_builds;         /* mlff_calc_list_builds */
  double range_tol;         /* extrapolation check: < 0 off */
  mlff_range_report range;  /* of the last call */
  double guard_close;       /* mlff_calc_guard_close's fraction (0: off) */
  double close2[MLFF_MAX_ELEMENTS][MLFF_MAX_ELEMENTS]; /* pairs nearer than sqrt(this) stop */
  int n_structs;            /* > 0 while compute_structures runs: messages name structure atoms */
  int n_err_atoms, err_atoms[2]; /* mlff_calc_error_atoms */
  /* grow-only workspaces */
  size_t cap_rows, cap_nb, cap_mlp;
  int *row_atom, *nb_off, *nb_cnt;
  mlff_neighbor_entry *nb;
  double (*grad)[3];
  double *G, *dEdG, *e_row, *work; /* work: per-thread MLP scratch */
  int *starts, *ilist; /* compute_structures: first atom of each structure, atoms computed */
  mlff_images im;       /* sys_append's images and lists, reused by every structure */
  double *disp_sums;    /* the long-range terms' per-atom sums (mlff_disp_list, mlff_coul_list) */
  size_t cap_disp_sums;
  double *q;            /* the atoms' charges (mlff_coul_charges) */
  size_t cap_q;
  /* committees: this call's member forces [K][n_total][3] (compute_core), and per structure
   * folded onto its atoms [K][n][3] (compute_structures) */
  double *fk, *fold;
  size_t cap_fk, cap_fold;
  double *dEdGk, *e_rowk; /* members' network gradients [K][rows][D] and energies [K][rows] */
  double (*gradk)[3];     /* members' pair gradients [K][neighbour entries] */
  size_t cap_dEdGk, cap_e_rowk, cap_gradk;
  size_t cap_starts, cap_ilist;
  /* structure path: system of local + image atoms */
  struct sysbuf {
    int n, cap;
    double *x;
    int *species, *owner, *numneigh, **firstneigh;
    int *nbr;
    size_t n_nbr, cap_nbr;
    double *out; /* forces, energies, virials of the system's atoms: [3 n | n | 6 n] */
    size_t cap_out;
  } sys;
#ifdef MLFF_HAVE_CUDA
  /* structures on the GPU: the device's atom order, positions and outputs, kept between calls
   * (fresh zeroed pages for 10 doubles per atom cost ~3.7 ms of page faults per call at 65k) */
  struct gpubuf {
    size_t cap_order, cap_sp, cap_local, cap_x, cap_out;
    int *order, *sp, *local;
    double *x, *out, *shift;
    size_t cap_shift;
  } gb;
  /* mlff_compute's kept system (skin > 0): what the device's kept list and images were built
   * for, and the wrap into the cell made at that build, so that later calls pass the device
   * positions continuous with those it built from (atoms that crossed a face stay where they
   * are, up to skin/2 outside the cell, as LAMMPS's atoms between its rebuilds) */
  struct keep {
    int valid, n, periodic, shifted; /* shifted: some atom's shift is not 0 */
    double cell[9];
    size_t cap;
    int *species;
    double *xref;  /* the caller's positions at the build */
    double *shift; /* added to the caller's positions: the build's wrap into the cell */
    double *xw;    /* the positions passed to the device (when shifted) */
  } keep;
#endif
};

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 1;
  size_t n = need + need / 2 + 16;
  void *q = realloc(*p, n * elem);
  if (!q) return 0;
  *p = q;
  *cap = n;
  return 1;
}

void mlff_calc_options_default(mlff_calc_options *o) {
  memset(o, 0, sizeof *o);
  o->device = MLFF_DEVICE_AUTO;
  o->skin = 1.0;
}

mlff_status mlff_calc_create(const mlff_model *m, const mlff_calc_options *o, mlff_calc **out) {
  *out = NULL;
  if (!m) return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_calc_create: model is NULL");
  mlff_calc_options def;
  mlff_calc_options_default(&def);
  if (!o) o = &def;
#ifndef MLFF_HAVE_CUDA
  if (o->device == MLFF_DEVICE_GPU)
    return mlff_set_error(MLFF_ERR_UNSUPPORTED,
                     "device gpu requested, but this libmlff was built without CUDA "
                     "(rebuild where nvcc is found, or use device cpu)");
  if (o->fp16)
    return mlff_set_error(MLFF_ERR_UNSUPPORTED,
                     "fp16 yes runs the network on GPU tensor cores, but this libmlff was built "
                     "without CUDA: use fp16 no (the CPU path computes in double precision)");
#endif
  if (!(o->skin >= 0.0 && o->skin <= 100.0)) /* NaN fails too */
    return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_calc_create: skin %g Å: it must be in [0, 100] "
                          "Å (0: a new neighbour list every call)", o->skin);
  if (o->fp16 && o->device == MLFF_DEVICE_CPU)
    return mlff_set_error(MLFF_ERR_UNSUPPORTED,
                     "fp16 yes needs the GPU path; with device cpu use fp16 no");
  mlff_device device = MLFF_DEVICE_CPU;
#ifdef MLFF_HAVE_CUDA
  if (o->device == MLFF_DEVICE_GPU || (o->device == MLFF_DEVICE_AUTO && mlff_gpu_device_count() > 0))
    device = MLFF_DEVICE_GPU;
  else if (o->fp16)
    return mlff_set_error(MLFF_ERR_DEVICE, "fp16 yes needs a GPU, and no CUDA device is visible: use "
                                      "fp16 no (the CPU path computes in double precision)");
#endif
  if (device == MLFF_DEVICE_GPU && m->coul.on && m->coul.bonds)
    return mlff_set_error(MLFF_ERR_UNSUPPORTED, "the model's electrostatics have bond-charge "
                          "increments, which this version computes on the CPU only: use device "
                          "cpu (LAMMPS: pair_style mlff device cpu; Python: device=\"cpu\")");
  mlff_calc *c = calloc(1, sizeof *c);
  if (!c) return mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
  c->model = m;
  c->device = device;
#ifdef MLFF_HAVE_CUDA
  if (device == MLFF_DEVICE_GPU) {
    mlff_status st = mlff_gpu_create(m, o->fp16, o->gpu,
                                     o->n_threads > 0 ? o->n_threads : omp_get_max_threads(),
                                     o->gpu_shared, &c->gpu);
    if (st) {
      free(c);
      return st;
    }
  }
#endif
  c->n_threads = o->n_threads > 0 ? o->n_threads : omp_get_max_threads();
  c->skin = o->skin;
  c->range_tol = -1; /* extrapolation check off */
  c->range.species = c->range.feature = -1;
  mlff_calc_guard_close(c, 0.0); /* off: mlff.h says why */
  /* Our threads call BLAS: a threaded OpenBLAS underneath would oversubscribe the cores. */
  openblas_set_num_threads(1);
  mlff_aev_setup(&c->aev, &m->desc, m->n_elements);
  *out = c;
  return MLFF_OK;
}

void mlff_calc_free(mlff_calc *c) {
  if (!c) return;
#ifdef MLFF_HAVE_CUDA
  mlff_gpu_free(c->gpu);
  free(c->gb.order); free(c->gb.sp); free(c->gb.local); free(c->gb.x); free(c->gb.out);
  free(c->gb.shift);
  free(c->keep.species); free(c->keep.xref); free(c->keep.shift); free(c->keep.xw);
#endif
  free(c->starts); free(c->ilist); free(c->disp_sums); free(c->q); free(c->fk); free(c->fold);
  free(c->dEdGk); free(c->e_rowk); free(c->gradk);
  mlff_images_free(&c->im);
  free(c->row_atom); free(c->nb_off); free(c->nb_cnt); free(c->nb); free(c->grad);
  free(c->G); free(c->dEdG); free(c->e_row); free(c->work);
  struct sysbuf *s = &c->sys;
  free(s->x); free(s->species); free(s->owner);
  free(s->numneigh); free(s->firstneigh); free(s->nbr); free(s->out);
  free(c);
}

mlff_device mlff_calc_device(const mlff_calc *c) { return c->device; }

long mlff_calc_list_builds(const mlff_calc *c) { return c ? c->list_builds : 0; }

int mlff_gpu_count(void) {
#ifdef MLFF_HAVE_CUDA
  return mlff_gpu_device_count();
#else
  return 0;
#endif
}

/* ---- guards (mlff.h): the atoms a failure names ------------------------------------------ */

mlff_status mlff_calc_guard_close(mlff_calc *c, double fraction) {
  if (!c) return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_calc_guard_close: NULL calc");
  if (!(fraction >= 0.0 && fraction <= 1.0)) /* NaN fails too */
    return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_calc_guard_close: fraction %g; it must be in "
                          "[0, 1] (0: off; MD: %g)", fraction, MLFF_GUARD_CLOSE_MD);
  const mlff_model *m = c->model;
  double close[MLFF_MAX_ELEMENTS * MLFF_MAX_ELEMENTS];
  for (int a = 0; a < m->n_elements; a++)
    for (int b = 0; b < m->n_elements; b++) {
      const double ref = m->min_distance[a][b] > 0 ? m->min_distance[a][b] : MLFF_GUARD_CLOSE_FALLBACK;
      close[a * m->n_elements + b] = fraction * ref;
    }
#ifdef MLFF_HAVE_CUDA
  if (c->gpu) { /* the device checks its own neighbour lists */
    mlff_status st = mlff_gpu_guard_close(c->gpu, close);
    if (st) return st;
  }
#endif
  c->guard_close = fraction;
  for (int a = 0; a < m->n_elements; a++)
    for (int b = 0; b < m->n_elements; b++)
      c->close2[a][b] = close[a * m->n_elements + b] * close[a * m->n_elements + b];
  return MLFF_OK;
}

int mlff_calc_error_atoms(const mlff_calc *c, int atoms[2]) {
  if (!c) return 0;
  for (int k = 0; k < c->n_err_atoms && atoms; k++) atoms[k] = c->err_atoms[k];
  return c->n_err_atoms;
}

/* Atom i of the current input as the caller knows it: itself (mlff_compute_neighbors), or on the
 * structure path the atom of its structure it is (an image of), *structure set (else -1). */
static int caller_atom(const mlff_calc *c, int i, int *structure) {
  *structure = -1;
  if (!c->n_structs) return i;
  const int o = c->sys.owner[i];
  int b = 0;
  while (b + 1 < c->n_structs && c->starts[b + 1] <= o) b++;
  *structure = b;
  return o - c->starts[b];
}

/* The failure names atoms i (and j >= 0) of the current input: recorded for
 * mlff_calc_error_atoms; prefix: "structure B: " on the structure path, else "" */
static void name_atoms(mlff_calc *c, int i, int j, int out[2], char *prefix, size_t size) {
  int b;
  out[0] = caller_atom(c, i, &b);
  out[1] = j >= 0 ? caller_atom(c, j, &b) : -1;
  c->n_err_atoms = j >= 0 ? 2 : 1;
  c->err_atoms[0] = out[0];
  c->err_atoms[1] = out[1];
  if (b >= 0)
    snprintf(prefix, size, "structure %d: ", b);
  else if (size)
    prefix[0] = '\0';
}

/* Whether energy and virial are finite: 7 comparisons that see every force, as a non-finite pair
 * force reaches the virial (its components d_a f_b, d != 0) and a non-finite atomic energy the
 * energy. */
static int sums_finite(double energy, const double virial[6]) {
  int ok = isfinite(energy);
  for (int q = 0; q < 6; q++) ok &= isfinite(virial[q]) != 0;
  return ok;
}

/* The result is not finite: the first of n atoms whose force or energy is not (forces, eatom may
 * be NULL; index map: the caller's atom of entry q, NULL = q), named; MLFF_ERR_NUMERIC. */
static mlff_status not_finite(mlff_calc *c, int n, const double *forces, const double *eatom,
                              const int *map, double energy, const double virial[6]) {
  int q = 0;
  for (; q < n; q++) {
    const double *f = forces ? forces + 3 * (size_t)q : NULL;
    if ((f && !(isfinite(f[0]) && isfinite(f[1]) && isfinite(f[2]))) ||
        (eatom && !isfinite(eatom[q])))
      break;
  }
  const char *why = "atoms overlapping, or a model whose weights or dispersion coefficients "
                    "overflow";
  if (q == n) {
    c->n_err_atoms = 0;
    return mlff_set_error(MLFF_ERR_NUMERIC, "the model's energy (%g eV) or virial (%g %g %g %g %g "
                          "%g eV) is not finite: %s", energy, virial[0], virial[1], virial[2],
                          virial[3], virial[4], virial[5], why);
  }
  int at[2];
  char pre[32];
  name_atoms(c, map ? map[q] : q, -1, at, pre, sizeof pre);
  const double *f = forces ? forces + 3 * (size_t)q : NULL;
  return mlff_set_error(MLFF_ERR_NUMERIC, "%sthe model's force on atom %d is not finite (%g %g %g "
                        "eV/Å; energy %g eV): %s", pre, at[0], f ? f[0] : NAN, f ? f[1] : NAN,
                        f ? f[2] : NAN, eatom ? eatom[q] : energy, why);
}

/* Whether all n values are finite, at the cost of a load and an OR each (vectorised; an
 * exponent of all ones is Inf or NaN) */
static int all_finite(const double *v, size_t n) {
  const uint64_t exp_mask = 0x7ff0000000000000ull;
  uint64_t bad = 0;
  for (size_t k = 0; k < n; k++) {
    uint64_t b;
    memcpy(&b, v + k, sizeof b);
    bad |= (b & exp_mask) == exp_mask;
  }
  return !bad;
}

/* A molecule is too small to share: waking threads costs more than its whole step. */
static int threads_for(const mlff_calc *c, int rows) { return rows >= 48 ? c->n_threads : 1; }

/* The close-atom guard's failure: atoms a and b as the caller knows them (recorded already; pre:
 * their structure, or ""), of species sa, sb, r Å apart. */
static mlff_status close_message(const mlff_calc *c, const char *pre, int a, int sa, int b,
                                 int sb, double r) {
  const mlff_model *m = c->model;
  const double ref = m->min_distance[sa][sb];
  char whose[96];
  if (ref > 0)
    snprintf(whose, sizeof whose, "%.4g Å, the closest %s-%s pair in training", ref,
             m->elements[sa], m->elements[sb]);
  else
    snprintf(whose, sizeof whose, "%.4g Å (the H2 bond: the model records no closest pair in "
             "training)", MLFF_GUARD_CLOSE_FALLBACK);
  return mlff_set_error(MLFF_ERR_ARGUMENT, "%satoms %d (%s) and %d (%s) are %.4g Å apart, closer "
                        "than %g x %s: the model knows nothing of such a pair, and its forces "
                        "there mean nothing (overlapping atoms in the input, or a run that went "
                        "wrong: too long a time step, too hot)", pre, a, m->elements[sa], b,
                        m->elements[sb], r, c->guard_close, whose);
}

/* Atom i has a neighbour nearer than the close-atom guard allows: the nearest such, named. */
static mlff_status too_close(mlff_calc *c, const mlff_neighbors *nl, int i) {
  const double *X = nl->positions;
  const int si = nl->species[i];
  int jmin = -1;
  double rmin = INFINITY;
  for (int jj = 0; jj < nl->numneigh[i]; jj++) {
    const int j = nl->index_mask ? nl->firstneigh[i][jj] & nl->index_mask : nl->firstneigh[i][jj];
    if (j == i || nl->species[j] < 0) continue; /* prepare checked the range */
    double r2 = 0.0;
    for (int d = 0; d < 3; d++) r2 += (X[3 * (size_t)j + d] - X[3 * (size_t)i + d]) *
                                      (X[3 * (size_t)j + d] - X[3 * (size_t)i + d]);
    if (r2 < c->close2[si][nl->species[j]] && r2 < rmin) rmin = r2, jmin = j;
  }
  int at[2];
  char pre[32];
  name_atoms(c, i, jmin, at, pre, sizeof pre);
  return close_message(c, pre, at[0], si, at[1], nl->species[jmin], sqrt(rmin));
}

#ifdef MLFF_HAVE_CUDA
/* A committee's deviations on the GPU path go to the caller's array, or to a workspace where
 * the caller wants none (their maximum is always given); one network's: nowhere (*dev NULL). */
static mlff_status gpu_deviation_out(mlff_calc *c, const mlff_result *r, int n, double **dev) {
  *dev = r->force_deviation;
  if (c->model->n_members == 1 || *dev) return MLFF_OK;
  if (!grow((void **)&c->fold, &c->cap_fold, (size_t)n + 1, sizeof(double)))
    return mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
  *dev = c->fold;
  return MLFF_OK;
}

/* After the evaluation: the largest deviation over the first n_max atoms (those computed), or
 * for one network none, and zeros in the caller's n-atom array. */
static void gpu_deviation_max(const mlff_calc *c, mlff_result *r, const double *dev, int n_max,
                              int n) {
  r->max_force_deviation = 0.0;
  if (c->model->n_members == 1) {
    if (r->force_deviation) memset(r->force_deviation, 0, (size_t)n * sizeof(double));
    return;
  }
  for (int i = 0; i < n_max; i++)
    if (dev[i] > r->max_force_deviation) r->max_force_deviation = dev[i];
}

/* A GPU evaluation failed with st: where the close-atom guard stopped it, the CPU path's message
 * instead, its atoms named as the caller knows them (order: the device's atom q is order[q] of
 * the system, or NULL: the caller's own indices; pre: a prefix of the message, or NULL) */
static mlff_status gpu_failed(mlff_calc *c, mlff_status st, const int *order, const int *species,
                              const char *pre) {
  int i, j;
  double r;
  if (!mlff_gpu_close_pair(c->gpu, &i, &j, &r)) return st;
  const int si = species[i], sj = j >= 0 ? species[j] : si;
  if (order) i = order[i], j = j >= 0 ? order[j] : -1;
  int at[2];
  char own[32];
  name_atoms(c, i, j, at, own, sizeof own);
  return close_message(c, pre ? pre : own, at[0], si, at[1], sj, r);
}
#endif

/* Rows (atoms to compute) sorted by species so each element's MLP runs on contiguous rows.
 * Fills c->row_atom and the neighbour entries of every row, and *n_rows. */
static mlff_status prepare(mlff_calc *c, const mlff_neighbors *nl, int guard, int *n_rows,
                           int species_start[MLFF_MAX_ELEMENTS + 1]) {
  const mlff_model *m = c->model;
  const int S = m->n_elements;
  for (int i = 0; i < nl->n_total; i++) {
    int s = nl->species[i];
    if (s < -1 || s >= S)
      return mlff_set_error(MLFF_ERR_ARGUMENT, "atom %d has species %d; the model has %d (0..%d)",
                       i, s, S, S - 1);
    const double *x = nl->positions + 3 * (size_t)i;
    if (!isfinite(x[0]) || !isfinite(x[1]) || !isfinite(x[2])) {
      int at[2];
      char pre[32];
      name_atoms(c, i, -1, at, pre, sizeof pre);
      return mlff_set_error(MLFF_ERR_ARGUMENT, "%sposition of atom %d is not finite (%g %g %g)",
                            pre, at[0], x[0], x[1], x[2]);
    }
  }
  if (!nl->numneigh || !nl->firstneigh)
    return mlff_set_error(MLFF_ERR_ARGUMENT, "the CPU path needs a neighbour list (numneigh, firstneigh)");
  int count[MLFF_MAX_ELEMENTS] = {0};
  size_t total_nb = 0;
  for (int ii = 0; ii < nl->n_list; ii++) {
    int i = nl->ilist ? nl->ilist[ii] : ii;
    if (i < 0 || i >= nl->n_total)
      return mlff_set_error(MLFF_ERR_ARGUMENT, "ilist[%d] = %d outside 0..%d", ii, i, nl->n_total - 1);
    if (nl->species[i] < 0) continue;
    count[nl->species[i]]++;
    total_nb += nl->numneigh[i];
  }
  species_start[0] = 0;
  for (int s = 0; s < S; s++) species_start[s + 1] = species_start[s] + count[s];
  int rows = species_start[S];
  size_t D = m->n_features;
  /* the per-row arrays share one capacity, counted in rows */
  if ((size_t)rows + 1 > c->cap_rows) {
    size_t n = rows + rows / 2 + 16;
    int *ra = realloc(c->row_atom, n * sizeof(int));
    if (ra) c->row_atom = ra;
    int *no = realloc(c->nb_off, (n + 1) * sizeof(int));
    if (no) c->nb_off = no;
    int *nc = realloc(c->nb_cnt, n * sizeof(int));
    if (nc) c->nb_cnt = nc;
    double *G = realloc(c->G, n * D * sizeof(double));
    if (G) c->G = G;
    double *dG = realloc(c->dEdG, n * D * sizeof(double));
    if (dG) c->dEdG = dG;
    double *e = realloc(c->e_row, n * sizeof(double));
    if (e) c->e_row = e;
    if (!ra || !no || !nc || !G || !dG || !e)
      return mlff_set_error(MLFF_ERR_NOMEM, "out of memory for %d descriptors", rows);
    c->cap_rows = n;
  }
  size_t nb_cap = c->cap_nb;
  if (!grow((void **)&c->nb, &nb_cap, total_nb, sizeof(mlff_neighbor_entry)))
    return mlff_set_error(MLFF_ERR_NOMEM, "out of memory for %zu neighbours", total_nb);
  nb_cap = c->cap_nb;
  if (!grow((void **)&c->grad, &nb_cap, total_nb, sizeof(double[3])))
    return mlff_set_error(MLFF_ERR_NOMEM, "out of memory for %zu neighbours", total_nb);
  c->cap_nb = nb_cap;
  int fill[MLFF_MAX_ELEMENTS];
  for (int s = 0; s < S; s++) fill[s] = species_start[s];
  for (int ii = 0; ii < nl->n_list; ii++) {
    int i = nl->ilist ? nl->ilist[ii] : ii;
    if (nl->species[i] >= 0) c->row_atom[fill[nl->species[i]]++] = i;
  }
  c->nb_off[0] = 0;
  for (int r = 0; r < rows; r++) c->nb_off[r + 1] = c->nb_off[r] + nl->numneigh[c->row_atom[r]];
  const double rc2 = c->aev.rc * c->aev.rc;
  const double *X = nl->positions;
  int bad = -1, close = rows; /* close: the first row with a pair nearer than the guard allows */
#pragma omp parallel for schedule(dynamic, 16) num_threads(threads_for(c, rows)) \
    reduction(min : close)
  for (int r = 0; r < rows; r++) {
    int i = c->row_atom[r], n = 0;
    mlff_neighbor_entry *e = c->nb + c->nb_off[r];
    const int *list = nl->firstneigh[i];
    const double *lim = c->close2[nl->species[i]]; /* one comparison a pair: the guard's cost */
    for (int jj = 0; jj < nl->numneigh[i]; jj++) {
      int j = nl->index_mask ? list[jj] & nl->index_mask : list[jj];
      if (j < 0 || j >= nl->n_total) {
        bad = i;
        continue;
      }
      if (j == i || nl->species[j] < 0) continue;
      double d0 = X[3 * j] - X[3 * i], d1 = X[3 * j + 1] - X[3 * i + 1],
             d2 = X[3 * j + 2] - X[3 * i + 2];
      double r2 = d0 * d0 + d1 * d1 + d2 * d2;
      if (r2 < lim[nl->species[j]] && r < close) close = r; /* coincident atoms too */
      if (r2 >= rc2 || r2 == 0.0) continue;
      e[n].d[0] = d0; e[n].d[1] = d1; e[n].d[2] = d2;
      e[n].r = sqrt(r2);
      e[n].species = nl->species[j];
      e[n].index = j;
      n++;
    }
    c->nb_cnt[r] = n;
  }
  if (bad >= 0)
    return mlff_set_error(MLFF_ERR_ARGUMENT, "neighbour list of atom %d holds an index outside 0..%d",
                     bad, nl->n_total - 1);
  if (close < rows && guard) return too_close(c, nl, c->row_atom[close]);
  *n_rows = rows;
  return MLFF_OK;
}

/* Committee member k's networks on the rows' descriptors: energies e_out [rows] and gradients
 * dEdG_out [rows][D]. */
static mlff_status network_pass(mlff_calc *c, int rows, const int *species_start, int member,
                                double *e_out, double *dEdG_out) {
  const mlff_model *m = c->model;
  const size_t D = m->n_features;
  const mlff_network *net = mlff_member_net(m, member);
  const double *e0 = mlff_member_e0(m, member), scale = mlff_member_scale(m, member);
  size_t per_thread = 0;
  for (int s = 0; s < m->n_elements; s++) {
    size_t w = mlff_mlp_workspace(&net[s], MLP_BLOCK);
    per_thread = w > per_thread ? w : per_thread;
  }
  if (!grow((void **)&c->work, &c->cap_mlp, per_thread * c->n_threads, sizeof(double)))
    return mlff_set_error(MLFF_ERR_NOMEM, "out of memory for network workspace");
  /* blocks of up to MLP_BLOCK rows of one species */
  int n_blocks = 0;
  for (int s = 0; s < m->n_elements; s++)
    n_blocks += (species_start[s + 1] - species_start[s] + MLP_BLOCK - 1) / MLP_BLOCK;
#pragma omp parallel num_threads(threads_for(c, rows))
  {
    double *work = c->work + per_thread * omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
    for (int b = 0; b < n_blocks; b++) {
      /* find block b's species and first row */
      int s = 0, k = b;
      for (; s < m->n_elements; s++) {
        int nb = (species_start[s + 1] - species_start[s] + MLP_BLOCK - 1) / MLP_BLOCK;
        if (k < nb) break;
        k -= nb;
      }
      int r0 = species_start[s] + k * MLP_BLOCK;
      int nr = species_start[s + 1] - r0 < MLP_BLOCK ? species_start[s + 1] - r0 : MLP_BLOCK;
      mlff_mlp_eval(&net[s], m->activation, nr, c->G + r0 * D, e_out + r0, dEdG_out + r0 * D,
                    work);
      for (int r = r0; r < r0 + nr; r++) {
        e_out[r] = scale * e_out[r] + e0[s];
        for (size_t f = 0; f < D; f++) dEdG_out[r * D + f] *= scale;
      }
    }
  }
  return MLFF_OK;
}

/* Descriptors of all rows (once, for every committee member), then (if energies wanted)
 * member 0's networks: e_row and dEdG. */
static mlff_status forward(mlff_calc *c, int rows, const int *species_start, int with_network) {
  const size_t D = c->model->n_features;
#pragma omp parallel for schedule(dynamic, 8) num_threads(threads_for(c, rows))
  for (int r = 0; r < rows; r++)
    mlff_aev_forward(&c->aev, c->nb_cnt[r], c->nb + c->nb_off[r], c->G + r * D);
  if (!with_network) return MLFF_OK;
  return network_pass(c, rows, species_start, 0, c->e_row, c->dEdG);
}

/* The full step on a neighbour list: set energy/virial, add into forces, eatom, vatom. */
/* Rows' descriptors (c->G) against the model's training range, into c->range: excursions in
 * units of each feature's training span. */
static void check_range(mlff_calc *c, const int *species_start) {
  const mlff_model *m = c->model;
  const size_t D = m->n_features;
  mlff_range_report *out = &c->range;
  double worst = 0.0; /* excursion in training spans */
  memset(out, 0, sizeof *out);
  out->species = out->feature = -1;
  for (int s = 0; s < m->n_elements; s++) {
    const float *lo = m->net[s].feature_min, *hi = m->net[s].feature_max;
    /* spans floored at 1e-3 of the element's widest, as the trainer floors its scales: a
     * feature that hardly varied in training must not count every rounding as extrapolation */
    double widest = 0.0;
    for (size_t f = 0; f < D; f++) widest = fmax(widest, (double)hi[f] - lo[f]);
    const double floor_ = widest > 0 ? 1e-3 * widest : 1e-12;
    for (int r = species_start[s]; r < species_start[s + 1]; r++) {
      int outside = 0;
      for (size_t f = 0; f < D; f++) {
        double g = c->G[r * D + f], span = fmax((double)hi[f] - lo[f], floor_);
        double excess = g > hi[f] ? (g - hi[f]) / span : g < lo[f] ? (lo[f] - g) / span : 0.0;
        if (excess <= c->range_tol) continue;
        outside = 1;
        if (excess > worst) {
          worst = excess;
          out->species = s;
          out->feature = (int)f;
          out->value = g;
          out->min = lo[f];
          out->max = hi[f];
          out->excess = excess;
        }
      }
      out->n_atoms += outside;
    }
  }
}

mlff_status mlff_calc_check_range(mlff_calc *c, double tolerance) {
  if (!c) return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_calc_check_range: NULL calc");
  if (tolerance >= 0) {
    for (int s = 0; s < c->model->n_elements; s++)
      if (!c->model->net[s].feature_min || !c->model->net[s].feature_max)
        return mlff_set_error(MLFF_ERR_UNSUPPORTED, "the model stores no training range for element "
                         "%s (feature_min/feature_max, written by `mlff train`): nothing to "
                         "check against", c->model->elements[s]);
  }
#ifdef MLFF_HAVE_CUDA
  if (c->gpu) { /* the device checks its own descriptors */
    mlff_status st = mlff_gpu_check_range(c->gpu, tolerance);
    if (st) return st;
  }
#endif
  c->range_tol = tolerance;
  memset(&c->range, 0, sizeof c->range);
  c->range.species = c->range.feature = -1;
  return MLFF_OK;
}

void mlff_calc_range_report(const mlff_calc *c, mlff_range_report *out) {
  if (!out) return;
#ifdef MLFF_HAVE_CUDA
  if (c && c->gpu) {
    mlff_gpu_range_report(c->gpu, out);
    return;
  }
#endif
  if (c) *out = c->range;
  else {
    memset(out, 0, sizeof *out);
    out->species = out->feature = -1;
  }
}

/* Pair gradients grad (per neighbour entry) scattered into forces (added); the rows' energies
 * e_row and the virials, times weight (1/K of a committee's mean), into *energy, w, eatom and
 * vatom (added). */
static void scatter(mlff_calc *c, int rows, double weight, const double (*grad)[3],
                    const double *e_row, double *forces, double *eatom, double *vatom,
                    double *energy, double w[6]) {
  double e = 0.0;
  for (int r = 0; r < rows; r++) {
    int i = c->row_atom[r];
    e += e_row[r];
    if (eatom) eatom[i] += weight * e_row[r];
    const mlff_neighbor_entry *nb = c->nb + c->nb_off[r];
    const double (*g)[3] = grad + c->nb_off[r];
    for (int k = 0; k < c->nb_cnt[r]; k++) {
      int j = nb[k].index;
      /* E depends on d = x_j - x_i: force -g on j, +g on i; virial d (x) f_j */
      const double *d = nb[k].d;
      if (forces)
        for (int x = 0; x < 3; x++) {
          forces[3 * i + x] += g[k][x];
          forces[3 * (size_t)j + x] -= g[k][x];
        }
      double v[6] = {-d[0] * g[k][0], -d[1] * g[k][1], -d[2] * g[k][2],
                     -d[0] * g[k][1], -d[0] * g[k][2], -d[1] * g[k][2]};
      for (int q = 0; q < 6; q++) w[q] += weight * v[q];
      if (vatom)
        for (int q = 0; q < 6; q++) {
          vatom[6 * (size_t)i + q] += weight * 0.5 * v[q];
          vatom[6 * (size_t)j + q] += weight * 0.5 * v[q];
        }
    }
  }
  *energy += weight * e;
}

/* The full step on a neighbour list: set energy/virial, add into forces, eatom, vatom. A
 * committee (K > 1, or member forces wanted) leaves this call's member forces [K][n_total][3]
 * in c->fk, the mean added into forces, and adds them into member_forces when not NULL. */
static mlff_status compute_core(mlff_calc *c, const mlff_neighbors *nl, double *forces,
                                double *eatom, double *vatom, double *energy, double virial[6],
                                double *member_forces) {
  int rows, species_start[MLFF_MAX_ELEMENTS + 1];
  mlff_status st = prepare(c, nl, 1, &rows, species_start);
  if (st) return st;
  const int K = c->model->n_members, disp = c->model->disp.on, coul = c->model->coul.on;
  const int one = K == 1 && !member_forces; /* one network: straight into the caller's arrays */
  const size_t n3 = 3 * (size_t)nl->n_total;
  double e = 0.0, w[6] = {0};
  const size_t D = c->model->n_features;
  if (one) {
    if ((st = forward(c, rows, species_start, 1))) return st;
    if (c->range_tol >= 0) check_range(c, species_start);
#pragma omp parallel for schedule(dynamic, 8) num_threads(threads_for(c, rows))
    for (int r = 0; r < rows; r++)
      mlff_aev_backward(&c->aev, c->nb_cnt[r], c->nb + c->nb_off[r], c->dEdG + r * D,
                        c->grad + c->nb_off[r]);
    scatter(c, rows, 1.0, (const double (*)[3])c->grad, c->e_row, forces, eatom, vatom, &e, w);
  } else { /* member k's forces into c->fk[k], the dispersion's (common) into c->fk[K] */
    const size_t n_nb = (size_t)c->nb_off[rows], rd = (size_t)rows * D;
    if (!grow((void **)&c->fk, &c->cap_fk, (K + 1) * n3 + 1, sizeof(double)) ||
        !grow((void **)&c->dEdGk, &c->cap_dEdGk, K * rd + 1, sizeof(double)) ||
        !grow((void **)&c->e_rowk, &c->cap_e_rowk, (size_t)K * rows + 1, sizeof(double)) ||
        !grow((void **)&c->gradk, &c->cap_gradk, K * n_nb + 1, sizeof(double[3])))
      return mlff_set_error(MLFF_ERR_NOMEM, "out of memory for %d members' gradients", K);
    memset(c->fk, 0, (K + 1) * n3 * sizeof(double));
    if ((st = forward(c, rows, species_start, 0))) return st; /* descriptors, once */
    if (c->range_tol >= 0) check_range(c, species_start);
    for (int k = 0; k < K; k++)
      if ((st = network_pass(c, rows, species_start, k, c->e_rowk + (size_t)k * rows,
                             c->dEdGk + k * rd)))
        return st;
    /* the descriptor's backward pass once for all members: its geometry is theirs */
#pragma omp parallel for schedule(dynamic, 8) num_threads(threads_for(c, rows))
    for (int r = 0; r < rows; r++)
      mlff_aev_backward_multi(&c->aev, c->nb_cnt[r], c->nb + c->nb_off[r], K, c->dEdGk + r * D,
                              rd, c->gradk + c->nb_off[r], n_nb);
    for (int k = 0; k < K; k++)
      scatter(c, rows, 1.0 / K, (const double (*)[3])(c->gradk + k * n_nb),
              c->e_rowk + (size_t)k * rows, c->fk + k * n3, eatom, vatom, &e, w);
  }
  *energy = e;
  memcpy(virial, w, sizeof w);
  if ((disp || coul) && /* the long-range terms, on the same (full) list */
      !grow((void **)&c->disp_sums, &c->cap_disp_sums, 7 * (size_t)rows + 1, sizeof(double)))
    return mlff_set_error(MLFF_ERR_NOMEM, "out of memory for the long-range terms' sums");
  if (disp && (st = mlff_disp_list(&c->model->disp, nl, c->row_atom, rows, c->n_threads,
                                   c->disp_sums, one ? forces : c->fk + K * n3, eatom, vatom,
                                   energy, virial)))
    return st;
  if (coul) { /* common to the members, as the dispersion */
    const double *q = c->model->coul.bonds ? nl->charges : NULL;
    if (!q) {
      if (!grow((void **)&c->q, &c->cap_q, (size_t)nl->n_total + 1, sizeof(double)))
        return mlff_set_error(MLFF_ERR_NOMEM, "out of memory for %d charges", nl->n_total);
      if ((st = mlff_coul_charges(&c->model->coul, nl->n_total, nl->positions, nl->species, c->q)))
        return st;
      q = c->q;
    }
    mlff_coul_list(&c->model->coul, nl, q, c->row_atom, rows, c->n_threads, c->disp_sums,
                   one ? forces : c->fk + K * n3, eatom, vatom, energy, virial);
  }
  if (!one)
    for (size_t q = 0; q < n3; q++) { /* the mean, summed in member order; dispersion to all */
      double f = 0.0, fd = c->fk[K * n3 + q];
      for (int k = 0; k < K; k++) f += c->fk[k * n3 + q];
      if (forces) forces[q] += f / K + fd;
      if (member_forces)
        for (int k = 0; k < K; k++) member_forces[k * n3 + q] += c->fk[k * n3 + q] + fd;
    }
  if (!sums_finite(*energy, virial)) { /* the networks' own rows first, then what was added */
    const size_t n_nb = (size_t)c->nb_off[rows];
    for (int k = 0; k < (one ? 1 : K); k++) {
      const double *e_row = one ? c->e_row : c->e_rowk + (size_t)k * rows;
      const double (*grad)[3] = one ? (const double (*)[3])c->grad
                                    : (const double (*)[3])(c->gradk + k * n_nb);
      for (int r = 0; r < rows; r++) {
        int ok = isfinite(e_row[r]);
        for (int q = 0; q < c->nb_cnt[r] && ok; q++) ok = all_finite(grad[c->nb_off[r] + q], 3);
        if (!ok) {
          int at[2];
          char pre[32];
          name_atoms(c, c->row_atom[r], -1, at, pre, sizeof pre);
          return mlff_set_error(MLFF_ERR_NUMERIC, "%sthe model's energy or forces at atom %d (%s) "
                                "are not finite (its energy %g eV): atoms overlapping, or a model "
                                "whose weights overflow", pre, at[0],
                                c->model->elements[nl->species[c->row_atom[r]]], e_row[r]);
        }
      }
    }
    return not_finite(c, nl->n_total, forces, eatom, NULL, *energy, virial);
  }
  return MLFF_OK;
}

/* sqrt(mean_k |f_k - mean f|^2) of one atom's K member forces f[k * stride + 0..2]. */
static double atom_deviation(int K, size_t stride, const double *f) {
  double mean[3] = {0, 0, 0}, ss = 0.0;
  for (int k = 0; k < K; k++)
    for (int x = 0; x < 3; x++) mean[x] += f[k * stride + x];
  for (int x = 0; x < 3; x++) mean[x] /= K;
  for (int k = 0; k < K; k++)
    for (int x = 0; x < 3; x++) {
      double d = f[k * stride + x] - mean[x];
      ss += d * d;
    }
  return sqrt(ss / K);
}

/* Deviations of K members' forces mf [K][n][3] (members stride apart) into dev [n] (or NULL);
 * returns their maximum over the atoms which[0..n_which) (which NULL: atoms 0..n_which-1). */
static double deviation(int K, int n, size_t stride, const double *mf, double *dev,
                        const int *which, int n_which) {
  double mx = 0.0;
  for (int i = 0; dev && i < n; i++) dev[i] = atom_deviation(K, stride, mf + 3 * (size_t)i);
  for (int q = 0; q < n_which; q++) {
    int i = which ? which[q] : q;
    double v = dev ? dev[i] : atom_deviation(K, stride, mf + 3 * (size_t)i);
    if (v > mx) mx = v;
  }
  return mx;
}

mlff_status mlff_force_deviation(int K, int n, const double *member_forces, double *dev,
                                 double *max) {
  if (K < 1 || n < 0 || (n > 0 && !member_forces))
    return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_force_deviation: %d members, %d atoms%s", K,
                          n, member_forces ? "" : ", member_forces NULL");
  double mx = deviation(K, n, 3 * (size_t)n, member_forces, dev, NULL, n);
  if (max) *max = mx;
  return MLFF_OK;
}

#ifdef MLFF_HAVE_CUDA
/* The device finds its own neighbours: it needs the local atoms first (as LAMMPS orders them),
 * then the ghosts. Per-atom outputs are added, as on the CPU: straight into the caller's arrays. */
static mlff_status gpu_neighbors(mlff_calc *c, const mlff_neighbors *nl, mlff_result *r) {
  for (int ii = 0; nl->ilist && ii < nl->n_list; ii++)
    if (nl->ilist[ii] != ii)
      return mlff_set_error(MLFF_ERR_UNSUPPORTED, "GPU path: ilist must list atoms 0..%d in order "
                       "(local atoms first, then ghosts)", nl->n_list - 1);
  /* the device would bin a non-finite atom nowhere (or out of bounds): refused here, as on the
   * CPU; a vectorised pass, under 1 % of the step */
  if (!all_finite(nl->positions, 3 * (size_t)nl->n_total))
    for (int i = 0; i < nl->n_total; i++) {
      const double *x = nl->positions + 3 * (size_t)i;
      if (!all_finite(x, 3)) {
        int at[2];
        char pre[32];
        name_atoms(c, i, -1, at, pre, sizeof pre);
        return mlff_set_error(MLFF_ERR_ARGUMENT, "position of atom %d is not finite (%g %g %g)",
                              at[0], x[0], x[1], x[2]);
      }
    }
  const int K = c->model->n_members, n = nl->n_total;
  /* one network: its member forces are its forces (this call's, apart from what the caller's
   * array held); a committee's deviations come from the device */
  double *forces = r->forces, *dev;
  mlff_status st = gpu_deviation_out(c, r, n, &dev);
  if (st) return st;
  if (K == 1 && r->member_forces) {
    if (!grow((void **)&c->fk, &c->cap_fk, 3 * (size_t)n + 1, sizeof(double)))
      return mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
    forces = c->fk;
    memset(forces, 0, 3 * (size_t)n * sizeof(double));
  }
  st = mlff_gpu_compute(c->gpu, nl->n_list, n, nl->positions, nl->species, nl->skin, nl->list_age,
                        nl->cell, forces, r->energy_atom, r->virial_atom, r->member_forces, dev,
                        &r->energy, r->virial);
  if (st) return gpu_failed(c, st, NULL, nl->species, NULL);
  if (forces != r->forces)
    for (size_t q = 0; q < 3 * (size_t)n; q++) {
      if (r->forces) r->forces[q] += forces[q];
      r->member_forces[q] += forces[q];
    }
  gpu_deviation_max(c, r, dev, nl->n_list, n);
  /* the device's sums (already on the host) see every force; the arrays only on failure.
   * forces and per-atom energies were added to the caller's: those name the atom */
  if (!sums_finite(r->energy, r->virial))
    return not_finite(c, nl->n_total, r->forces, r->energy_atom, NULL, r->energy, r->virial);
  return MLFF_OK;
}
#endif

mlff_status mlff_compute_neighbors(mlff_calc *c, const mlff_neighbors *nl, mlff_result *r) {
  if (!c || !nl || !r) return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_compute_neighbors: NULL argument");
  c->n_err_atoms = 0;
  if (!(nl->skin >= 0.0 && nl->skin <= 100.0) || nl->list_age < 0) /* NaN fails too */
    return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_compute_neighbors: skin %g Å and list_age %d: the "
                     "skin must be in [0, 100] Å (0: no list kept) and list_age >= 0",
                     nl->skin, nl->list_age);
  if (nl->cell && (nl->n_list != nl->n_total || nl->ilist))
    return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_compute_neighbors: with a cell every atom is local "
                     "(n_list %d, n_total %d, ilist %s): the periodic images are made by the "
                     "library", nl->n_list, nl->n_total, nl->ilist ? "given" : "NULL");
#ifdef MLFF_HAVE_CUDA
  if (c->gpu) {
    c->keep.valid = 0; /* the device's kept list is the caller's now */
    return gpu_neighbors(c, nl, r);
  }
#endif
  if (nl->cell)
    return mlff_set_error(MLFF_ERR_UNSUPPORTED, "mlff_compute_neighbors: a cell (periodic images made "
                     "by the library) needs a GPU calc; on the CPU pass the images as ghost atoms "
                     "with a neighbour list, or use mlff_compute with a periodic structure");
  mlff_status st = compute_core(c, nl, r->forces, r->energy_atom, r->virial_atom, &r->energy,
                                r->virial, r->member_forces);
  if (st) return st;
  const int K = c->model->n_members;
  if (K == 1) { /* one network: nothing deviates */
    r->max_force_deviation = 0.0;
    if (r->force_deviation) memset(r->force_deviation, 0, (size_t)nl->n_total * sizeof(double));
  } else /* c->fk: this call's member forces (the common dispersion left out: it cancels) */
    r->max_force_deviation = deviation(K, nl->n_total, 3 * (size_t)nl->n_total, c->fk,
                                       r->force_deviation, nl->ilist, nl->n_list);
  return MLFF_OK;
}

/* ---- structures: periodic images and a cell list --------------------------------------- */

static int sys_reserve(struct sysbuf *s, int n) {
  if (n <= s->cap) return 1;
  int cap = n + n / 2 + 64;
  double *x = realloc(s->x, 3 * (size_t)cap * sizeof(double));
  if (x) s->x = x;
  int *sp = realloc(s->species, cap * sizeof(int));
  if (sp) s->species = sp;
  int *ow = realloc(s->owner, cap * sizeof(int));
  if (ow) s->owner = ow;
  int *nn = realloc(s->numneigh, cap * sizeof(int));
  if (nn) s->numneigh = nn;
  int **fn = realloc(s->firstneigh, cap * sizeof(int *));
  if (fn) s->firstneigh = fn;
  if (!x || !sp || !ow || !nn || !fn) return 0;
  s->cap = cap;
  return 1;
}

static int sys_add(struct sysbuf *s, const double *x, int species, int owner) {
  if (!sys_reserve(s, s->n + 1)) return -1;
  memcpy(s->x + 3 * (size_t)s->n, x, 3 * sizeof(double));
  s->species[s->n] = species;
  s->owner[s->n] = owner;
  return s->n++;
}

/* Append structure st's atoms (wrapped into the cell along periodic axes) and their periodic
 * images within the cutoff to the system, then (with_lists) its neighbour lists. */
static mlff_status sys_append(mlff_calc *c, const mlff_structure *st, int index, int with_lists) {
  struct sysbuf *s = &c->sys;
  const int n = st->n_atoms, base = s->n;
  if (n < 0 || (n > 0 && (!st->positions || !st->species)))
    return mlff_set_error(MLFF_ERR_ARGUMENT, "structure %d: n_atoms %d with NULL arrays", index, n);
  int periodic = st->cell && (st->pbc[0] || st->pbc[1] || st->pbc[2]);
  if (!periodic && (st->pbc[0] || st->pbc[1] || st->pbc[2]))
    return mlff_set_error(MLFF_ERR_ARGUMENT, "structure %d: pbc set but no cell given", index);
  if (periodic) {
    double inv[9], det;
    mlff_inverse3(st->cell, inv, &det);
    if (!(fabs(det) > 1e-9) || !isfinite(det))
      return mlff_set_error(MLFF_ERR_ARGUMENT, "structure %d: cell is singular (volume %g Å^3)",
                       index, det);
  }
  for (int i = 0; i < n; i++) {
    const double *x = st->positions + 3 * (size_t)i;
    if (!isfinite(x[0]) || !isfinite(x[1]) || !isfinite(x[2])) {
      c->n_err_atoms = 1;
      c->err_atoms[0] = i;
      return mlff_set_error(MLFF_ERR_ARGUMENT,
                       "structure %d: position of atom %d is not finite (%g %g %g)", index, i,
                       x[0], x[1], x[2]);
    }
    if (st->species[i] < 0 || st->species[i] >= c->model->n_elements)
      return mlff_set_error(MLFF_ERR_ARGUMENT, "structure %d: atom %d has species %d; the model has %d",
                       index, i, st->species[i], c->model->n_elements);
  }
  /* images and lists to the model's whole range: the dispersion's cutoff where it has one; in
   * the calc's buffers, which the next structure or call reuses */
  mlff_images *im = &c->im;
  mlff_status ret = mlff_images_rebuild(im, st->positions, n, periodic ? st->cell : NULL, st->pbc,
                                      mlff_model_cutoff(c->model), with_lists);
  if (ret) return ret;
  if (!sys_reserve(s, base + im->n_total)) {
    return mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
  }
  for (int t = 0; t < im->n_total; t++)
    sys_add(s, im->x + 3 * (size_t)t, st->species[im->owner[t]], base + im->owner[t]);
  for (int t = 0; t < im->n_total; t++) {
    s->numneigh[base + t] = 0;
    s->firstneigh[base + t] = NULL;
  }
  if (with_lists) {
    size_t len = im->nb_off[n];
    if (!grow((void **)&s->nbr, &s->cap_nbr, s->n_nbr + len, sizeof(int))) {
        return mlff_set_error(MLFF_ERR_NOMEM, "out of memory for neighbour lists");
    }
    for (int t = 0; t < n; t++) {
      s->numneigh[base + t] = im->nb_off[t + 1] - im->nb_off[t];
      /* an offset now, a pointer once nbr is final (it may still move) */
      s->firstneigh[base + t] = (int *)(uintptr_t)s->n_nbr;
      for (int k = im->nb_off[t]; k < im->nb_off[t + 1]; k++) s->nbr[s->n_nbr++] = base + im->nb[k];
    }
  }
  /* coincident atoms are left out of the lists (images.c): the guard sees them here */
  if (with_lists && c->guard_close > 0 && im->coincident[0] >= 0) {
    const int a = im->coincident[0], b = im->owner[im->coincident[1]];
    char pre[32];
    snprintf(pre, sizeof pre, "structure %d: ", index);
    c->n_err_atoms = 2;
    c->err_atoms[0] = a;
    c->err_atoms[1] = b;
    return close_message(c, pre, a, st->species[a], b, st->species[b], 0.0);
  }
  return MLFF_OK;
}

#ifdef MLFF_HAVE_CUDA
/* The system of compute_structures on the device: local atoms first, then images, and each
 * structure moved (translation changes nothing) into its own cell of a 3D grid, so that no two
 * share a neighbour. A grid, not a row: the device works in float32 relative to the corner of
 * the whole system, and a row of 500 dimers spans ~10^4 Å, where float32 steps are 1e-3 Å
 * (force errors of ~1 % were measured so); a grid keeps the span near cbrt(n) cells.
 * smf (NULL: not wanted): the members' forces [K][s->n][3] (one network's: its forces). */
static mlff_status gpu_structures(mlff_calc *c, int n, const int *starts, int n_local,
                                  const int *ilist, double *f, double *ea, double *va,
                                  double *smf, double virial[6]) {
  struct sysbuf *s = &c->sys;
  struct gpubuf *gb = &c->gb;
  const int N = s->n, K = c->model->n_members;
  const size_t n_out = (10 + (smf && K > 1 ? 3 * (size_t)K : 0)) * N; /* f, e, W, members' f */
  /* no pair between structures: apart by more than the model's whole range (dispersion too) */
  const double gap = 2.0 * mlff_model_cutoff(c->model) + 1.0;
  mlff_status st = MLFF_OK;
  c->keep.valid = 0; /* this call's list replaces the kept one on the device */
  if (!grow((void **)&gb->shift, &gb->cap_shift, 3 * (size_t)n + 1, sizeof(double)) ||
      !grow((void **)&gb->order, &gb->cap_order, N + 1, sizeof(int)) ||
      !grow((void **)&gb->sp, &gb->cap_sp, N + 1, sizeof(int)) ||
      !grow((void **)&gb->local, &gb->cap_local, N + 1, sizeof(int)) ||
      !grow((void **)&gb->x, &gb->cap_x, 3 * (size_t)N + 1, sizeof(double)) ||
      !grow((void **)&gb->out, &gb->cap_out, n_out + 1, sizeof(double))) {
    st = mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
    goto done;
  }
  int *order = gb->order, *sp = gb->sp, *local = gb->local;
  double *x = gb->x, *shift = gb->shift;
  /* zeroed: the device adds into them */
  double *fo = gb->out, *eo = fo + 3 * (size_t)N, *vo = eo + N, *mo = vo + 6 * (size_t)N;
  memset(fo, 0, n_out * sizeof(double));
  memset(local, 0, N * sizeof(int));
  /* shift[b] first holds structure b's lower corner; the grid cell fits the widest one */
  double cell = 0.0;
  for (int b = 0; b < n; b++) {
    double lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
    for (int i = starts[b]; i < starts[b + 1]; i++)
      for (int k = 0; k < 3; k++) { /* comparisons, not fmin/fmax: those are calls */
        const double v = s->x[3 * (size_t)i + k];
        if (v < lo[k]) lo[k] = v;
        if (v > hi[k]) hi[k] = v;
      }
    for (int k = 0; k < 3; k++) {
      if (lo[k] > hi[k]) lo[k] = hi[k] = 0.0;
      shift[3 * b + k] = lo[k];
      cell = fmax(cell, hi[k] - lo[k]);
    }
  }
  cell += gap;
  int side = 1;
  while ((long)side * side * side < n) side++;
  for (int b = 0; b < n; b++) {
    int g[3] = {b % side, (b / side) % side, b / (side * side)};
    for (int k = 0; k < 3; k++) shift[3 * b + k] = g[k] * cell - shift[3 * b + k];
  }
  int k = 0;
  for (int q = 0; q < n_local; q++) {
    order[k++] = ilist[q];
    local[ilist[q]] = 1;
  }
  for (int i = 0; i < N; i++)
    if (!local[i]) order[k++] = i;
  for (int b = 0; b < n; b++)
    for (int i = starts[b]; i < starts[b + 1]; i++) local[i] = b; /* now: structure of i */
  for (int q = 0; q < N; q++) {
    int i = order[q];
    for (int k = 0; k < 3; k++) x[3 * (size_t)q + k] = s->x[3 * (size_t)i + k] + shift[3 * local[i] + k];
    sp[q] = s->species[i];
  }
  double energy;
  if ((st = mlff_gpu_compute(c->gpu, n_local, N, x, sp, 0.0, 0, NULL, fo, eo, va ? vo : NULL,
                             smf && K > 1 ? mo : NULL, NULL, &energy, virial))) {
    st = gpu_failed(c, st, order, sp, NULL);
    goto done;
  }
  if (!sums_finite(energy, virial)) { /* device order: entry q is system atom order[q] */
    st = not_finite(c, N, fo, eo, order, energy, virial);
    goto done;
  }
  for (int q = 0; q < N; q++) {
    int i = order[q];
    for (int d = 0; d < 3; d++) f[3 * (size_t)i + d] = fo[3 * (size_t)q + d];
    if (va)
      for (int d = 0; d < 6; d++) va[6 * (size_t)i + d] = vo[6 * (size_t)q + d];
    ea[i] = eo[q]; /* images' too (folded with the forces' in structures()) */
    for (int k = 0; smf && k < K; k++) /* the images' are folded with the forces' (structures) */
      for (int d = 0; d < 3; d++)
        smf[3 * ((size_t)k * N + i) + d] = K > 1 ? mo[3 * ((size_t)k * N + q) + d] : fo[3 * (size_t)q + d];
  }
done:
  return st;
}
#endif

static mlff_status structures(mlff_calc *c, int n, const mlff_structure *st, mlff_result *res,
                              double *features);

/* Evaluate n structures as one system; fold image forces onto their atoms. With features
 * non-NULL, only descriptors are computed (n must be 1). Failures name atoms of their structure
 * (c->n_structs, while the system's atoms are those of c->sys). */
static mlff_status compute_structures(mlff_calc *c, int n, const mlff_structure *st,
                                      mlff_result *res, double *features) {
  if (c) c->n_err_atoms = c->n_structs = 0;
  mlff_status ret = structures(c, n, st, res, features);
  if (c) c->n_structs = 0;
  return ret;
}

static mlff_status structures(mlff_calc *c, int n, const mlff_structure *st, mlff_result *res,
                              double *features) {
  if (!c || n < 0 || (n > 0 && !st) || (!res && !features))
    return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_compute: NULL argument");
  struct sysbuf *s = &c->sys;
  s->n = 0;
  s->n_nbr = 0;
  int n_local = 0;
  mlff_status ret;
  if (!grow((void **)&c->starts, &c->cap_starts, (size_t)n + 1, sizeof(int)))
    return mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
  int *starts = c->starts;
  for (int b = 0; b < n; b++) {
    starts[b] = s->n;
    n_local += st[b].n_atoms;
    int with_lists = 1;
#ifdef MLFF_HAVE_CUDA
    with_lists = !c->gpu || features;
#endif
    if ((ret = sys_append(c, &st[b], b, with_lists))) return ret;
  }
  starts[n] = s->n;
  if (!features) c->list_builds++;
  /* the local atoms of every structure, in order, are what we compute */
  if (!grow((void **)&c->ilist, &c->cap_ilist, (size_t)n_local + 1, sizeof(int)) ||
      !grow((void **)&s->out, &s->cap_out, 10 * (size_t)s->n + 1, sizeof(double)))
    return mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
  int *ilist = c->ilist;
  /* kept in the calc: fresh zeroed pages for 10 doubles per atom cost page faults every call */
  double *f = s->out, *ea = f + 3 * (size_t)s->n, *va = ea + s->n;
  int k = 0;
  for (int b = 0; b < n; b++)
    for (int i = 0; i < st[b].n_atoms; i++) ilist[k++] = starts[b] + i;
  for (int i = 0; i < s->n; i++)
    if (s->numneigh[i]) s->firstneigh[i] = s->nbr + (size_t)(uintptr_t)s->firstneigh[i];
  c->n_structs = n; /* the system is complete: failures can name their structure's atoms */
  mlff_neighbors nl = {s->n, s->x, s->species, n_local, ilist, s->numneigh,
                       (const int *const *)s->firstneigh, 0, 0.0, 0, NULL, NULL};
  if (c->model->coul.bonds && !features) { /* each structure's own bonds; images as their atoms */
    if (!grow((void **)&c->q, &c->cap_q, (size_t)s->n + 1, sizeof(double)))
      return mlff_set_error(MLFF_ERR_NOMEM, "out of memory for %d charges", s->n);
    for (int b = 0; b < n; b++) {
      if ((ret = mlff_coul_charges(&c->model->coul, starts[b + 1] - starts[b],
                                   s->x + 3 * (size_t)starts[b], s->species + starts[b],
                                   c->q + starts[b])))
        return ret;
      for (int i = starts[b]; i < starts[b + 1]; i++) c->q[i] = c->q[s->owner[i]];
    }
    nl.charges = c->q;
  }
  if (features) {
    int rows, species_start[MLFF_MAX_ELEMENTS + 1];
    if ((ret = prepare(c, &nl, 0, &rows, species_start))) return ret; /* descriptors: no guard */
    if ((ret = forward(c, rows, species_start, 0))) return ret;
    size_t D = c->model->n_features;
    for (int r = 0; r < rows; r++)
      memcpy(features + (size_t)c->row_atom[r] * D, c->G + r * D, D * sizeof(double));
    return MLFF_OK;
  }
  double energy, virial[6];
  /* per-atom virials give each structure's virial; one structure not asking for them takes the
   * total (on the device: no per-atom virial atomics, fewer results to copy) */
  int per_atom_virial = 1;
  /* committees: the system's member forces [K][s->n][3], folded per structure below */
  const int K = c->model->n_members;
  const size_t sn3 = 3 * (size_t)s->n;
  int want_members = K > 1;
  for (int b = 0; b < n; b++) want_members |= res[b].member_forces != NULL;
  double *smf = NULL;
  if (want_members) {
    if (!grow((void **)&c->fold, &c->cap_fold, K * sn3 + 1, sizeof(double)))
      return mlff_set_error(MLFF_ERR_NOMEM, "out of memory for %d members' forces", K);
    smf = c->fold;
    memset(smf, 0, K * sn3 * sizeof(double));
  }
#ifdef MLFF_HAVE_CUDA
  if (c->gpu) { /* sets every entry read below */
    per_atom_virial = n > 1 || (n == 1 && res[0].virial_atom);
    if ((ret = gpu_structures(c, n, starts, n_local, ilist, f, ea, per_atom_virial ? va : NULL,
                              smf, virial)))
      return ret;
  } else
#endif
  {
    memset(f, 0, 10 * (size_t)s->n * sizeof(double)); /* compute_core adds into them */
    if ((ret = compute_core(c, &nl, f, ea, va, &energy, virial, smf))) return ret;
  }
  for (int b = 0; b < n; b++) {
    mlff_result *r = &res[b];
    int na = st[b].n_atoms, s0 = starts[b];
    r->energy = 0.0;
    memset(r->virial, 0, sizeof r->virial);
    if (r->forces) memset(r->forces, 0, 3 * (size_t)na * sizeof(double));
    if (r->energy_atom) memset(r->energy_atom, 0, (size_t)na * sizeof(double));
    if (r->virial_atom) memset(r->virial_atom, 0, 6 * (size_t)na * sizeof(double));
    for (int i = s0; i < starts[b + 1]; i++) {
      int o = s->owner[i] - s0; /* the structure's own atom this is (an image of) */
      if (r->forces)
        for (int x = 0; x < 3; x++) r->forces[3 * o + x] += f[3 * (size_t)i + x];
      /* energies: the GPU's three-body term gives an image its share of the triples it
       * evaluates (each triple once, at whichever copy of its atoms comes first) */
      r->energy += ea[i];
      if (r->energy_atom) r->energy_atom[o] += ea[i];
      if (per_atom_virial)
        for (int q = 0; q < 6; q++) r->virial[q] += va[6 * (size_t)i + q];
      if (r->virial_atom)
        for (int q = 0; q < 6; q++) r->virial_atom[6 * o + q] += va[6 * (size_t)i + q];
    }
    if (!per_atom_virial) memcpy(r->virial, virial, sizeof r->virial);
    /* the dispersion's mean-field tail: whole-system energy and pressure, no per-atom share */
    mlff_disp_add_tail(&c->model->disp, c->model->n_elements, na, st[b].species, st[b].cell,
                       st[b].pbc, &r->energy, r->virial);
    r->max_force_deviation = 0.0;
    if (smf) { /* fold each member's image forces onto the atoms (c->fk is free now) */
      const size_t n3 = 3 * (size_t)na;
      double *mf = r->member_forces ? r->member_forces : c->fk;
      memset(mf, 0, K * n3 * sizeof(double));
      for (int k = 0; k < K; k++)
        for (int i = s0; i < starts[b + 1]; i++) {
          int o = s->owner[i] - s0;
          for (int x = 0; x < 3; x++) mf[k * n3 + 3 * o + x] += smf[k * sn3 + 3 * (size_t)i + x];
        }
      if (K > 1) r->max_force_deviation = deviation(K, na, n3, mf, r->force_deviation, NULL, na);
    }
    if (K == 1 && r->force_deviation) memset(r->force_deviation, 0, (size_t)na * sizeof(double));
  }
  return MLFF_OK;
}

#ifdef MLFF_HAVE_CUDA
/* Whether mlff_compute takes the kept-list path for st: a GPU calc with a skin, and st open or
 * periodic along all three axes in a cell wider than cutoff + skin across each face (one layer
 * of images made on the device side from wrapped positions, as for LAMMPS on one rank); *periodic
 * says which. Anything else (narrow or partly periodic cells, bad arguments, whose messages are
 * the general path's) takes the general path. */
static int kept_applies(const mlff_calc *c, const mlff_structure *st, int *periodic) {
  if (!c->gpu || !(c->skin > 0.0) || st->n_atoms <= 0 || !st->positions || !st->species)
    return 0;
  const int all = st->pbc[0] && st->pbc[1] && st->pbc[2];
  if (!st->pbc[0] && !st->pbc[1] && !st->pbc[2]) {
    *periodic = 0; /* open (a cell without pbc is ignored, as on the general path) */
    return 1;
  }
  if (!all || !st->cell) return 0;
  const struct keep *k = &c->keep;
  if (k->valid && k->periodic && !memcmp(k->cell, st->cell, sizeof k->cell)) {
    *periodic = 1; /* the cell checked at the build */
    return 1;
  }
  double inv[9], det, w[3];
  mlff_inverse3(st->cell, inv, &det);
  if (!(fabs(det) > 1e-9) || !isfinite(det)) return 0;
  mlff_face_spacings(st->cell, det, w);
  /* the device makes one layer of images to cutoff + skin: a margin for its float cutoff */
  const double need = (mlff_model_cutoff(c->model) + c->skin) * (1.0 + 1e-6) + 1e-6;
  for (int d = 0; d < 3; d++)
    if (!(w[d] > need)) return 0;
  *periodic = 1;
  return 1;
}

/* mlff_compute on the kept list (kept_applies): the same system as the last build (atom count,
 * species, cell) with no atom moved more than skin/2 since reuses the device's list and images
 * (list_age 1, as LAMMPS between its rebuilds); anything else rebuilds them (list_age 0) from
 * positions wrapped into the cell. The check is one pass over the positions on the host; no
 * atom-sized allocation once the buffers fit. */
static mlff_status compute_kept(mlff_calc *c, const mlff_structure *st, int periodic,
                                mlff_result *r) {
  struct keep *k = &c->keep;
  const int n = st->n_atoms;
  const double *x = st->positions;
  const int nt = n >= 8192 ? c->n_threads : 1; /* waking threads costs more in small systems */
  (void)nt;
  int rebuild = !k->valid || k->n != n || k->periodic != periodic ||
                (periodic && memcmp(k->cell, st->cell, sizeof k->cell)) ||
                memcmp(k->species, st->species, (size_t)n * sizeof(int));
  if (!rebuild) {
    const double t2 = 0.25 * c->skin * c->skin;
    const int shifted = k->shifted;
    const double *ref = k->xref, *sh = k->shift;
    double *xw = k->xw;
    int moved = 0;
#pragma omp parallel for num_threads(nt) schedule(static) reduction(| : moved)
    for (int i = 0; i < n; i++) {
      const double *a = x + 3 * (size_t)i, *b = ref + 3 * (size_t)i;
      const double d0 = a[0] - b[0], d1 = a[1] - b[1], d2 = a[2] - b[2];
      if (!(d0 * d0 + d1 * d1 + d2 * d2 <= t2)) moved = 1; /* NaN too: the rebuild checks */
      if (shifted)
        for (int d = 0; d < 3; d++) xw[3 * (size_t)i + d] = a[d] + sh[3 * (size_t)i + d];
    }
    rebuild = moved;
  }
  if (rebuild) {
    k->valid = 0;
    for (int i = 0; i < n; i++) { /* the general path's checks and messages */
      const double *p = x + 3 * (size_t)i;
      if (!isfinite(p[0]) || !isfinite(p[1]) || !isfinite(p[2])) {
        c->n_err_atoms = 1;
        c->err_atoms[0] = i;
        return mlff_set_error(MLFF_ERR_ARGUMENT,
                              "structure 0: position of atom %d is not finite (%g %g %g)", i,
                              p[0], p[1], p[2]);
      }
      if (st->species[i] < 0 || st->species[i] >= c->model->n_elements)
        return mlff_set_error(MLFF_ERR_ARGUMENT,
                              "structure 0: atom %d has species %d; the model has %d", i,
                              st->species[i], c->model->n_elements);
    }
    if ((size_t)n > k->cap) {
      const size_t cap = (size_t)n + (size_t)n / 4 + 16;
      int *sp = realloc(k->species, cap * sizeof(int));
      if (sp) k->species = sp;
      double *xr = realloc(k->xref, 3 * cap * sizeof(double));
      if (xr) k->xref = xr;
      double *sh = realloc(k->shift, 3 * cap * sizeof(double));
      if (sh) k->shift = sh;
      double *xw = realloc(k->xw, 3 * cap * sizeof(double));
      if (xw) k->xw = xw;
      if (!sp || !xr || !sh || !xw)
        return mlff_set_error(MLFF_ERR_NOMEM, "out of memory for %d atoms", n);
      k->cap = cap;
    }
    memcpy(k->species, st->species, (size_t)n * sizeof(int));
    memcpy(k->xref, x, 3 * (size_t)n * sizeof(double));
    k->n = n;
    k->periodic = periodic;
    k->shifted = 0;
    if (periodic) {
      const double *H = st->cell;
      double inv[9], det;
      mlff_inverse3(H, inv, &det);
      memcpy(k->cell, H, sizeof k->cell);
      int shifted = 0;
#pragma omp parallel for num_threads(nt) schedule(static) reduction(| : shifted)
      for (int i = 0; i < n; i++) {
        const double *p = x + 3 * (size_t)i;
        double m[3], *sh = k->shift + 3 * (size_t)i;
        for (int d = 0; d < 3; d++) /* whole cells to move by: into [0, 1) fractionally */
          m[d] = -floor(p[0] * inv[d] + p[1] * inv[3 + d] + p[2] * inv[6 + d]);
        shifted |= m[0] != 0.0 || m[1] != 0.0 || m[2] != 0.0;
        for (int d = 0; d < 3; d++) {
          sh[d] = m[0] * H[d] + m[1] * H[3 + d] + m[2] * H[6 + d];
          k->xw[3 * (size_t)i + d] = p[d] + sh[d];
        }
      }
      k->shifted = shifted;
    }
  }
  /* the device adds into the per-atom arrays */
  const int K = c->model->n_members;
  double *dev;
  mlff_status ret = gpu_deviation_out(c, r, n, &dev);
  if (ret) return ret;
  if (r->forces) memset(r->forces, 0, 3 * (size_t)n * sizeof(double));
  if (r->energy_atom) memset(r->energy_atom, 0, (size_t)n * sizeof(double));
  if (r->virial_atom) memset(r->virial_atom, 0, 6 * (size_t)n * sizeof(double));
  if (r->member_forces) memset(r->member_forces, 0, 3 * (size_t)K * n * sizeof(double));
  ret = mlff_gpu_compute(c->gpu, n, n, k->shifted ? k->xw : x, st->species, c->skin, rebuild ? 0 : 1,
                       periodic ? st->cell : NULL, r->forces, r->energy_atom, r->virial_atom,
                       r->member_forces, dev, &r->energy, r->virial);
  if (ret) {
    k->valid = 0;
    return gpu_failed(c, ret, NULL, st->species, "structure 0: ");
  }
  gpu_deviation_max(c, r, dev, n, n);
  if (K == 1 && r->member_forces && r->forces) /* one network: its forces */
    memcpy(r->member_forces, r->forces, 3 * (size_t)n * sizeof(double));
  if (!sums_finite(r->energy, r->virial))
    return not_finite(c, n, r->forces, r->energy_atom, NULL, r->energy, r->virial);
  if (rebuild) {
    k->valid = 1;
    c->list_builds++;
  }
  /* the dispersion's mean-field tail, as on the general path */
  mlff_disp_add_tail(&c->model->disp, c->model->n_elements, n, st->species, st->cell, st->pbc,
                     &r->energy, r->virial);
  return MLFF_OK;
}
#endif

mlff_status mlff_compute(mlff_calc *c, const mlff_structure *s, mlff_result *r) {
#ifdef MLFF_HAVE_CUDA
  int periodic;
  if (c && s && r && kept_applies(c, s, &periodic) && (r->forces || !r->member_forces)) {
    c->n_err_atoms = 0; /* (one network's member forces are copied from its forces) */
    return compute_kept(c, s, periodic, r);
  }
#endif
  return compute_structures(c, 1, s, r, NULL);
}

mlff_status mlff_compute_batch(mlff_calc *c, int n, const mlff_structure *s, mlff_result *r) {
  return compute_structures(c, n, s, r, NULL);
}

mlff_status mlff_compute_features(mlff_calc *c, const mlff_structure *s, double *features) {
  if (!features) return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_compute_features: features is NULL");
  return compute_structures(c, 1, s, NULL, features);
}
