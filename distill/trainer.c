/* trainer.c — the trainer's numerics (train.h): per-structure descriptors and their Jacobians,
 * the normalised network's parameters, and the loss and its analytic gradient of a minibatch.
 * mlff_train (train.c) drives it.
 *
 *
 * Once per structure: neighbours (periodic images folded onto their atoms), descriptors G and
 * their Jacobian J = dG/d(d_k) with respect to the neighbour vectors d_k = x_k - x_a. J is kept
 * block-sparse: neighbour k of species s_k only moves the radial block of s_k and, within Rca,
 * the angular blocks of the pairs (s_k, t); those rows are stored (float32 by default), the
 * rest are zero by construction.
 *
 * Per Adam step, for a minibatch of structures (all products dgemm on blocks of ROW_BLOCK atoms
 * of one element; OpenMP over blocks and structures; OpenBLAS on one thread):
 *   1. forward and backward through each element's MLP: y_a = NN(Ghat_a), v_a = dNN/dGhat_a,
 *      with Ghat = (G - mu) / sigma;
 *   2. per structure: E = sum_a scale y_a + e0, forces F = -sum_a J_a^T (scale v_a / sigma)
 *      scattered onto the atoms (images onto owners), residuals; the loss
 *        L = wE mean_s (dE_s / N_s)^2 + wF mean_atoms |dF_a|^2;
 *      lambda_k = dL/dF_k, u_a = J_a (lambda_{k} - lambda_a) summed over a's neighbours k
 *      (the displacement pattern that the force loss pulls a's descriptor along), and
 *      c_a = dL/dy_a from the energy term;
 *   3. dL/dtheta = sum_a [c_a dy_a/dtheta + d(v_a . Uhat_a)/dtheta], Uhat = -scale u / sigma:
 *      ordinary backprop plus a forward-over-reverse ("double backprop") pass with tangent
 *      Uhat: per hidden layer, zdot = W hdot_prev, hdot = s'(z) zdot, and in reverse
 *      g = a s'(z) + adot s''(z) zdot, gdot = adot s'(z) (adot from step 1),
 *      dW += g h_prev^T + gdot hdot_prev^T, db += g, a_prev = W^T g.
 *   Per-block gradients are summed in block order: the result does not depend on the number
 *   of threads.
 */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "descriptor.h"
#include "images.h"
#include "internal.h"
#include "pairs.h"
#include "train.h"

#define ROW_BLOCK 32 /* atoms per dgemm block: fixed, so sums do not depend on threads */
#define NB_RADIAL 0x10
#define NB_ANGULAR 0x20
#define NB_SPECIES 0x0f

/* ---- neighbours of a frame's atoms (periodic images folded onto their owners) ----------- */

static int frame_periodic(const mlff_frame *f) {
  return f->has_cell && (f->pbc[0] || f->pbc[1] || f->pbc[2]);
}

/* Cell checks done serially before the parallel precomputation (which then cannot fail but
 * for memory). */
mlff_status mlff_trainer_check_frame(const mlff_frame *f, int index) {
  if (f->n_atoms < 1)
    return mlff_set_error(MLFF_ERR_ARGUMENT, "dataset structure %d has no atoms", index);
  if (!f->has_energy || !f->has_forces || !f->forces)
    return mlff_set_error(MLFF_ERR_ARGUMENT, "dataset structure %d lacks %s", index,
                          !f->has_energy ? "its energy label" : "its force labels");
  if (!isfinite(f->energy))
    return mlff_set_error(MLFF_ERR_ARGUMENT, "dataset structure %d: energy is not finite", index);
  for (int i = 0; i < 3 * f->n_atoms; i++)
    if (!isfinite(f->positions[i]) || !isfinite(f->forces[i]))
      return mlff_set_error(MLFF_ERR_ARGUMENT, "dataset structure %d: %s of atom %d is not finite",
                            index, isfinite(f->positions[i]) ? "force" : "position", i / 3);
  if (!f->has_cell && (f->pbc[0] || f->pbc[1] || f->pbc[2]))
    return mlff_set_error(MLFF_ERR_ARGUMENT, "dataset structure %d: pbc set but no cell", index);
  if (frame_periodic(f)) {
    double inv[9], det;
    mlff_inverse3(f->cell, inv, &det);
    if (!(fabs(det) > 1e-9) || !isfinite(det))
      return mlff_set_error(MLFF_ERR_ARGUMENT,
                            "dataset structure %d: cell is singular (volume %g Å^3)", index, det);
  }
  return MLFF_OK;
}

/* Neighbour entries of every atom of f within rc: *off [n+1] and *nb (index = owner atom).
 * The same images and neighbours as the evaluation path (images.c). */
static mlff_status frame_neighbors(const mlff_frame *f, const int *species, double rc,
                                   int **off_out, mlff_neighbor_entry **nb_out) {
  const int n = f->n_atoms;
  mlff_images im;
  if (mlff_images_build(&im, f->positions, n, frame_periodic(f) ? f->cell : NULL, f->pbc, rc, 1))
    return MLFF_ERR_NOMEM;
  size_t len = im.nb_off[n];
  int *off = malloc(((size_t)n + 1) * sizeof(int));
  mlff_neighbor_entry *nb = malloc((len + 1) * sizeof *nb);
  if (!off || !nb) {
    free(off);
    free(nb);
    mlff_images_free(&im);
    return MLFF_ERR_NOMEM;
  }
  for (int t = 0; t <= n; t++) off[t] = im.nb_off[t];
  for (int t = 0; t < n; t++) {
    const double *p = im.x + 3 * (size_t)t;
    for (int k = im.nb_off[t]; k < im.nb_off[t + 1]; k++) {
      int u = im.nb[k];
      const double *q = im.x + 3 * (size_t)u;
      mlff_neighbor_entry *e = nb + k;
      for (int d = 0; d < 3; d++) e->d[d] = q[d] - p[d];
      e->r = sqrt(e->d[0] * e->d[0] + e->d[1] * e->d[1] + e->d[2] * e->d[2]);
      e->species = species[im.owner[u]];
      e->index = im.owner[u];
    }
  }
  mlff_images_free(&im);
  *off_out = off;
  *nb_out = nb;
  return MLFF_OK;
}

/* ---- the trainer ---------------------------------------------------------------------------- */

/* One precomputed structure. */
typedef struct {
  int n;           /* atoms */
  int *species;    /* [n] */
  double energy;   /* reference, eV */
  double *forces;  /* [n][3] reference, eV/Å: the networks' part (teacher minus dispersion) */
  double e_disp;   /* the model's long-range terms, dispersion and electrostatics (eV), and */
  double *f_disp;  /* their forces ([n][3] eV/Å, NULL without them): off the labels, added back
                    * to predictions */
  double *G;       /* [n][D] raw descriptors */
  int *nb_off;     /* [n+1] neighbour ranges */
  int *owner;      /* [n_nb] the atom (of this structure) a neighbour is, or is an image of */
  uint8_t *info;   /* [n_nb] species | NB_RADIAL | NB_ANGULAR: which J blocks are stored */
  size_t *jac_off; /* [n+1] start of each atom's J rows (in elements of 3 values) */
  void *J;         /* float or double [rows][3] */
  double *rmin;    /* [S][S] closest pair of species a, b within the cutoff, Å (INFINITY: none) */
} tstruct_t;

typedef struct {
  int L;                                               /* layers */
  int sizes[MLFF_MAX_LAYERS + 1];                      /* D ... 1 */
  size_t off, len;                                     /* this element's slice of theta */
  size_t woff[MLFF_MAX_LAYERS], boff[MLFF_MAX_LAYERS]; /* within the slice */
} layout_t;

/* Row-indexed arrays of one element for the current batch. */
typedef struct {
  size_t cap;
  double *mem;
  double *X0, *V, *U, *y, *c; /* [rows][D] x3, [rows] x2 */
  double *H[MLFF_MAX_LAYERS], *S1[MLFF_MAX_LAYERS], *S2[MLFF_MAX_LAYERS], *Ad[MLFF_MAX_LAYERS],
      *Gd[MLFF_MAX_LAYERS], *Zd[MLFF_MAX_LAYERS], *Hd[MLFF_MAX_LAYERS], *A[MLFF_MAX_LAYERS];
} ews_t;

typedef struct {
  int e, r0, R;
} block_t;

struct mlff_trainer {
  const mlff_model *m;
  mlff_aev aev;
  int S, D, nR, nAZ, n_threads, fp64;
  int ang_off[MLFF_MAX_ELEMENTS][MLFF_MAX_ELEMENTS]; /* feature offset of pair block (s, t) */
  int n;
  tstruct_t *st;
  size_t jac_bytes, bytes;
  /* parameters */
  layout_t lay[MLFF_MAX_ELEMENTS];
  size_t P;
  double *theta;
  double *mu, *sigma; /* [S][D] */
  float *fmin, *fmax; /* [S][D] */
  double e0[MLFF_MAX_ELEMENTS], scale;
  /* closest pairs of the fit set (Å; 0: no such pair within the cutoff) */
  double min_distance[MLFF_MAX_ELEMENTS][MLFF_MAX_ELEMENTS];
  int ready; /* setup done */
  /* batch workspace (grow-only) */
  ews_t ws[MLFF_MAX_ELEMENTS];
  size_t cap_atoms, cap_structs, cap_blocks, cap_gbuf;
  int *row;                      /* [atoms] row of each batch atom within its element */
  int *atom0;                    /* [structs+1] first batch atom of each structure */
  double *Fp, *lam;              /* [atoms][3] */
  double *s_de, *s_sqf, *s_absf; /* [structs] */
  block_t *blocks;
  double *gbuf;    /* [blocks][max len] */
  double *scratch; /* [threads][2 D] */
};

static void tstruct_free(tstruct_t *s) {
  free(s->species);
  free(s->forces);
  free(s->f_disp);
  free(s->G);
  free(s->nb_off);
  free(s->owner);
  free(s->info);
  free(s->jac_off);
  free(s->J);
  free(s->rmin);
}

void mlff_trainer_free(mlff_trainer *t) {
  if (!t) return;
  for (int i = 0; i < t->n; i++) tstruct_free(&t->st[i]);
  free(t->st);
  free(t->theta);
  free(t->mu);
  free(t->sigma);
  free(t->fmin);
  free(t->fmax);
  for (int e = 0; e < MLFF_MAX_ELEMENTS; e++) free(t->ws[e].mem);
  free(t->row);
  free(t->atom0);
  free(t->Fp);
  free(t->lam);
  free(t->s_de);
  free(t->s_sqf);
  free(t->s_absf);
  free(t->blocks);
  free(t->gbuf);
  free(t->scratch);
  free(t);
}

/* Number of J rows (features) neighbour e contributes. */
static inline int nb_rows(const mlff_trainer *t, uint8_t info) {
  return ((info & NB_RADIAL) ? t->nR : 0) + ((info & NB_ANGULAR) ? t->S * t->nAZ : 0);
}

/* Descriptors and block-sparse Jacobians of one structure. Jd: scratch [D][nmax][3]. */
static mlff_status precompute(const mlff_trainer *t, const mlff_frame *f, const int *species,
                              tstruct_t *s) {
  const int n = f->n_atoms, D = t->D;
  const mlff_descriptor_params *p = &t->m->desc;
  int *off = NULL;
  mlff_neighbor_entry *nb = NULL;
  double *Jd = NULL;
  if (frame_neighbors(f, species, t->aev.rc, &off, &nb)) return MLFF_ERR_NOMEM;
  size_t n_nb = (size_t)off[n];
  int nmax = 0;
  for (int i = 0; i < n; i++) nmax = off[i + 1] - off[i] > nmax ? off[i + 1] - off[i] : nmax;
  s->n = n;
  s->energy = f->energy;
  s->species = malloc((size_t)n * sizeof(int));
  s->forces = malloc(3 * (size_t)n * sizeof(double));
  s->G = malloc((size_t)n * D * sizeof(double));
  s->nb_off = off;
  s->owner = malloc((n_nb + 1) * sizeof(int));
  s->info = malloc(n_nb + 1);
  s->jac_off = malloc(((size_t)n + 1) * sizeof(size_t));
  s->rmin = malloc((size_t)t->S * t->S * sizeof(double));
  Jd = malloc(((size_t)D * (nmax ? nmax : 1) * 3) * sizeof(double));
  if (!s->species || !s->forces || !s->G || !s->owner || !s->info || !s->jac_off || !s->rmin || !Jd)
    goto nomem;
  /* the closest pairs the model is trained on: the close-atom guard's reference */
  for (int q = 0; q < t->S * t->S; q++) s->rmin[q] = INFINITY;
  for (int i = 0; i < n; i++)
    for (int k = off[i]; k < off[i + 1]; k++) {
      double *rm = s->rmin + (size_t)species[i] * t->S + nb[k].species;
      if (nb[k].r > 0 && nb[k].r < *rm) *rm = nb[k].r;
    }
  memcpy(s->species, species, (size_t)n * sizeof(int));
  memcpy(s->forces, f->forces, 3 * (size_t)n * sizeof(double));
  if (t->m->disp.on || t->m->coul.on) { /* the networks learn the teacher minus these terms */
    if (!(s->f_disp = calloc(3 * (size_t)n, sizeof(double))) ||
        mlff_long_range_structure(t->m, n, f->positions, species,
                                  frame_periodic(f) ? f->cell : NULL, f->pbc, &s->e_disp,
                                  s->f_disp))
      goto nomem;
    s->energy -= s->e_disp;
    for (int q = 0; q < 3 * n; q++) s->forces[q] -= s->f_disp[q];
  }
  size_t rows = 0;
  for (int i = 0; i < n; i++) {
    s->jac_off[i] = rows;
    for (int k = off[i]; k < off[i + 1]; k++) {
      uint8_t info = (uint8_t)nb[k].species;
      if (nb[k].r < p->Rcr) info |= NB_RADIAL;
      if (nb[k].r < p->Rca) info |= NB_ANGULAR;
      s->info[k] = info;
      s->owner[k] = nb[k].index;
      rows += nb_rows(t, info);
    }
  }
  s->jac_off[n] = rows;
  size_t esz = t->fp64 ? sizeof(double) : sizeof(float);
  s->J = malloc((rows ? rows : 1) * 3 * esz);
  if (!s->J) goto nomem;
  for (int i = 0; i < n; i++) {
    int nn = off[i + 1] - off[i];
    mlff_aev_jacobian(&t->aev, nn, nb + off[i], s->G + (size_t)i * D, Jd);
    size_t row = s->jac_off[i];
    const size_t stride = 3 * (size_t)nn; /* Jd[f] holds nn neighbours x 3 */
    for (int k = 0; k < nn; k++) {
      uint8_t info = s->info[off[i] + k];
      int sk = info & NB_SPECIES;
      int starts[1 + MLFF_MAX_ELEMENTS], lens[1 + MLFF_MAX_ELEMENTS], nblk = 0;
      if (info & NB_RADIAL) {
        starts[nblk] = sk * t->nR;
        lens[nblk++] = t->nR;
      }
      if (info & NB_ANGULAR)
        for (int u = 0; u < t->S; u++) {
          starts[nblk] = t->ang_off[sk][u];
          lens[nblk++] = t->nAZ;
        }
      for (int b = 0; b < nblk; b++) { /* a block of len rows, stored [3][len] */
        const int len = lens[b];
        for (int q = 0; q < len; q++) {
          const double *src = Jd + (size_t)(starts[b] + q) * stride + 3 * k;
          for (int x = 0; x < 3; x++) {
            if (t->fp64)
              ((double *)s->J)[3 * row + (size_t)x * len + q] = src[x];
            else
              ((float *)s->J)[3 * row + (size_t)x * len + q] = (float)src[x];
          }
        }
        row += len;
      }
    }
  }
  free(nb);
  free(Jd);
  return MLFF_OK;
nomem:
  free(nb);
  free(Jd);
  return MLFF_ERR_NOMEM;
}

static size_t tstruct_bytes(const mlff_trainer *t, const tstruct_t *s, size_t *jac) {
  size_t n_nb = (size_t)s->nb_off[s->n];
  size_t j = s->jac_off[s->n] * 3 * (t->fp64 ? sizeof(double) : sizeof(float));
  *jac += j;
  return j +
         (size_t)s->n * (sizeof(int) + 3 * sizeof(double) + t->D * sizeof(double) + sizeof(int) +
                         sizeof(size_t)) +
         n_nb * (sizeof(int) + 1);
}

mlff_status mlff_trainer_create(const mlff_model *m, const mlff_dataset *d, int n,
                                const int *indices, int jacobian_fp64, int n_threads,
                                mlff_trainer **out) {
  *out = NULL;
  if (!m || !d || n < 0 || (n > 0 && !indices))
    return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_trainer_create: NULL argument");
  if (m->n_elements > 15)
    return mlff_set_error(MLFF_ERR_UNSUPPORTED,
                          "training supports up to 15 elements, the model has %d", m->n_elements);
  mlff_trainer *t = calloc(1, sizeof *t);
  if (!t) return mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
  t->m = m;
  t->S = m->n_elements;
  t->D = m->n_features;
  t->nR = m->desc.n_muR;
  t->nAZ = m->desc.n_muA * m->desc.n_thetaZ;
  t->fp64 = jacobian_fp64 != 0;
  t->n_threads = n_threads > 0 ? n_threads : omp_get_max_threads();
  t->scale = 1.0;
  openblas_set_num_threads(1); /* we thread over blocks; see docs/pair_style.md */
  mlff_aev_setup(&t->aev, &t->m->desc, t->S);
  for (int s = 0; s < t->S; s++)
    for (int u = 0; u < t->S; u++)
      t->ang_off[s][u] = t->S * t->nR + mlff_pair_index(s, u, t->S) * t->nAZ;
  /* parameter layout */
  size_t P = 0;
  for (int e = 0; e < t->S; e++) {
    const mlff_network *net = &m->net[e];
    layout_t *l = &t->lay[e];
    l->L = net->n_layers;
    memcpy(l->sizes, net->sizes, sizeof l->sizes);
    if (l->sizes[0] != t->D || l->sizes[l->L] != 1) {
      mlff_trainer_free(t);
      return mlff_set_error(MLFF_ERR_ARGUMENT,
                            "network %s maps %d -> %d; expected %d inputs, 1 output",
                            m->elements[e], l->sizes[0], l->sizes[l->L], t->D);
    }
    l->off = P;
    size_t q = 0;
    for (int k = 0; k < l->L; k++) {
      l->woff[k] = q;
      q += (size_t)l->sizes[k] * l->sizes[k + 1];
      l->boff[k] = q;
      q += l->sizes[k + 1];
    }
    l->len = q;
    P += q;
  }
  t->P = P;
  t->theta = calloc(P, sizeof(double));
  t->mu = calloc((size_t)t->S * t->D, sizeof(double));
  t->sigma = calloc((size_t)t->S * t->D, sizeof(double));
  t->fmin = calloc((size_t)t->S * t->D, sizeof(float));
  t->fmax = calloc((size_t)t->S * t->D, sizeof(float));
  t->st = calloc(n ? (size_t)n : 1, sizeof(tstruct_t));
  mlff_frame *frames = calloc(n ? (size_t)n : 1, sizeof(mlff_frame));
  int **species = calloc(n ? (size_t)n : 1, sizeof(int *));
  mlff_status st = MLFF_OK;
  if (!t->theta || !t->mu || !t->sigma || !t->fmin || !t->fmax || !t->st || !frames || !species) {
    st = mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
    goto out;
  }
  t->n = n;
  /* serial: views, species, checks (messages); then the parallel precomputation */
  for (int i = 0; i < n && !st; i++) {
    const char *src;
    if ((st = mlff_dataset_get(d, indices[i], &frames[i], &src))) break;
    if ((st = mlff_trainer_check_frame(&frames[i], indices[i]))) break;
    species[i] = malloc((size_t)frames[i].n_atoms * sizeof(int));
    if (!species[i]) {
      st = mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
      break;
    }
    if ((st = mlff_frame_species(m, &frames[i], species[i]))) {
      char msg[512];
      snprintf(msg, sizeof msg, "%s", mlff_last_error());
      st = mlff_set_error(st, "dataset structure %d: %s", indices[i], msg);
    }
  }
  if (st) goto out;
  int failed = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(t->n_threads) reduction(| : failed)
  for (int i = 0; i < n; i++)
    if (precompute(t, &frames[i], species[i], &t->st[i])) failed = 1;
  if (failed) {
    st = mlff_set_error(MLFF_ERR_NOMEM, "out of memory precomputing descriptors and Jacobians");
    goto out;
  }
  for (int i = 0; i < n; i++) t->bytes += tstruct_bytes(t, &t->st[i], &t->jac_bytes);
out:
  if (species)
    for (int i = 0; i < n; i++) free(species[i]);
  free(species);
  free(frames);
  if (st) {
    mlff_trainer_free(t);
    return st;
  }
  *out = t;
  return MLFF_OK;
}

void mlff_trainer_set_model(mlff_trainer *t, const mlff_model *m2) {
  t->m = m2;
  t->ready = 0;
}

size_t mlff_trainer_n_params(const mlff_trainer *t) { return t->P; }
int mlff_trainer_structure_atoms(const mlff_trainer *t, int i) { return t->st[i].n; }
double *mlff_trainer_params(mlff_trainer *t) { return t->theta; }
double mlff_trainer_scale(const mlff_trainer *t) { return t->scale; }
const double *mlff_trainer_e0(const mlff_trainer *t) { return t->e0; }
size_t mlff_trainer_jacobian_bytes(const mlff_trainer *t) { return t->jac_bytes; }
size_t mlff_trainer_bytes(const mlff_trainer *t) { return t->bytes; }

/* Minimum-norm least squares x = argmin |A x - b| for a few columns (A [n][k], k <= 16):
 * eigen-decomposition of A^T A by cyclic Jacobi, small eigenvalues dropped (an element whose
 * count is the same multiple of another's in every structure — benzene's C and H — only fixes
 * their sum; the minimum-norm split is as good as any). */
static void lsq_min_norm(int n, int k, const double *A, const double *b, double *x) {
  double M[MLFF_MAX_ELEMENTS][MLFF_MAX_ELEMENTS] = {{0}}, r[MLFF_MAX_ELEMENTS] = {0};
  double Q[MLFF_MAX_ELEMENTS][MLFF_MAX_ELEMENTS] = {{0}};
  for (int s = 0; s < n; s++)
    for (int i = 0; i < k; i++) {
      r[i] += A[s * k + i] * b[s];
      for (int j = 0; j < k; j++) M[i][j] += A[s * k + i] * A[s * k + j];
    }
  for (int i = 0; i < k; i++) Q[i][i] = 1.0;
  for (int sweep = 0; sweep < 100; sweep++) {
    double off = 0.0, diag = 0.0;
    for (int i = 0; i < k; i++)
      for (int j = 0; j < k; j++) {
        if (i == j)
          diag += M[i][j] * M[i][j];
        else
          off += M[i][j] * M[i][j];
      }
    if (off <= 1e-30 * diag) break;
    for (int p = 0; p < k; p++)
      for (int q = p + 1; q < k; q++) {
        if (M[p][q] == 0.0) continue;
        double th = 0.5 * (M[q][q] - M[p][p]) / M[p][q];
        double tt = (th >= 0 ? 1.0 : -1.0) / (fabs(th) + sqrt(th * th + 1.0));
        double c = 1.0 / sqrt(tt * tt + 1.0), s = tt * c;
        for (int i = 0; i < k; i++) { /* M <- M J */
          double a = M[i][p], bb = M[i][q];
          M[i][p] = c * a - s * bb;
          M[i][q] = s * a + c * bb;
        }
        for (int i = 0; i < k; i++) { /* M <- J^T M */
          double a = M[p][i], bb = M[q][i];
          M[p][i] = c * a - s * bb;
          M[q][i] = s * a + c * bb;
        }
        for (int i = 0; i < k; i++) {
          double a = Q[i][p], bb = Q[i][q];
          Q[i][p] = c * a - s * bb;
          Q[i][q] = s * a + c * bb;
        }
      }
  }
  double lmax = 0.0;
  for (int i = 0; i < k; i++) lmax = fmax(lmax, M[i][i]);
  for (int i = 0; i < k; i++) x[i] = 0.0;
  for (int j = 0; j < k; j++) {
    if (!(M[j][j] > 1e-10 * lmax)) continue;
    double qr = 0.0;
    for (int i = 0; i < k; i++) qr += Q[i][j] * r[i];
    for (int i = 0; i < k; i++) x[i] += Q[i][j] * qr / M[j][j];
  }
}

mlff_status mlff_trainer_setup(mlff_trainer *t, int n_fit, const int *fit, int fresh) {
  const int S = t->S, D = t->D;
  const mlff_model *m = t->m;
  if (n_fit < 1)
    return mlff_set_error(MLFF_ERR_ARGUMENT, "no structures to fit the normalisation on");
  for (int i = 0; i < n_fit; i++)
    if (fit[i] < 0 || fit[i] >= t->n)
      return mlff_set_error(MLFF_ERR_ARGUMENT, "structure %d outside the trainer's 0..%d", fit[i],
                            t->n - 1);
  /* per-element feature statistics over the fit set (serial: a fixed summation order) */
  long count[MLFF_MAX_ELEMENTS] = {0};
  double *sq = calloc((size_t)S * D, sizeof(double));
  if (!sq) return mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
  for (int i = 0; i < S * D; i++) {
    t->mu[i] = 0.0;
    t->fmin[i] = INFINITY;
    t->fmax[i] = -INFINITY;
  }
  for (int i = 0; i < n_fit; i++) {
    const tstruct_t *s = &t->st[fit[i]];
    for (int a = 0; a < s->n; a++) {
      int e = s->species[a];
      count[e]++;
      const double *g = s->G + (size_t)a * D;
      double *mu = t->mu + (size_t)e * D;
      for (int f = 0; f < D; f++) mu[f] += g[f];
    }
  }
  for (int e = 0; e < S; e++) {
    if (!count[e]) {
      free(sq);
      return mlff_set_error(
          MLFF_ERR_ARGUMENT,
          "element %s of the model has no atoms in the training set (nothing would "
          "train its network)",
          m->elements[e]);
    }
    for (int f = 0; f < D; f++) t->mu[(size_t)e * D + f] /= count[e];
  }
  for (int i = 0; i < n_fit; i++) {
    const tstruct_t *s = &t->st[fit[i]];
    for (int a = 0; a < s->n; a++) {
      int e = s->species[a];
      const double *g = s->G + (size_t)a * D, *mu = t->mu + (size_t)e * D;
      double *q = sq + (size_t)e * D;
      float *lo = t->fmin + (size_t)e * D, *hi = t->fmax + (size_t)e * D;
      for (int f = 0; f < D; f++) {
        double dv = g[f] - mu[f];
        q[f] += dv * dv;
        lo[f] = fminf(lo[f], (float)g[f]);
        hi[f] = fmaxf(hi[f], (float)g[f]);
      }
    }
  }
  for (int e = 0; e < S; e++) {
    double smax = 0.0;
    double *sg = t->sigma + (size_t)e * D;
    for (int f = 0; f < D; f++) {
      sg[f] = sqrt(sq[(size_t)e * D + f] / count[e]);
      smax = fmax(smax, sg[f]);
    }
    /* floor: 1e-3 of the element's widest feature (1 if every feature is constant) */
    double floor_ = smax > 0 ? 1e-3 * smax : 1.0;
    for (int f = 0; f < D; f++) sg[f] = fmax(sg[f], floor_);
  }
  free(sq);
  for (int a = 0; a < S; a++)
    for (int b = 0; b < S; b++) {
      double r = INFINITY;
      /* both orders: an image pair's two distances may differ in the last bit */
      for (int i = 0; i < n_fit; i++)
        r = fmin(r, fmin(t->st[fit[i]].rmin[a * S + b], t->st[fit[i]].rmin[b * S + a]));
      t->min_distance[a][b] = isfinite(r) ? r : 0.0; /* 0: no such pair within the cutoff */
    }
  /* parameters */
  for (int e = 0; e < S; e++) {
    const mlff_network *net = &m->net[e];
    const layout_t *l = &t->lay[e];
    double *th = t->theta + l->off;
    for (int k = 0; k < l->L; k++) {
      memcpy(th + l->woff[k], net->Wd[k], (size_t)l->sizes[k] * l->sizes[k + 1] * sizeof(double));
      memcpy(th + l->boff[k], net->bd[k], (size_t)l->sizes[k + 1] * sizeof(double));
    }
    const double *mu = t->mu + (size_t)e * D, *sg = t->sigma + (size_t)e * D;
    const float *lo = t->fmin + (size_t)e * D, *hi = t->fmax + (size_t)e * D;
    double *W = th + l->woff[0], *b = th + l->boff[0];
    for (int i = 0; i < l->sizes[1]; i++) {
      double *w = W + (size_t)i * D;
      if (fresh) { /* features constant over the fit set carry nothing: no weight */
        for (int f = 0; f < D; f++)
          if (lo[f] == hi[f]) w[f] = 0.0;
      } else { /* unfold: W x + b = (W sigma) (x - mu) / sigma + (b + W mu) */
        double bb = b[i];
        for (int f = 0; f < D; f++) {
          bb += w[f] * mu[f];
          w[f] *= sg[f];
        }
        b[i] = bb;
      }
    }
  }
  if (fresh) {
    double *A = malloc((size_t)n_fit * S * sizeof(double)),
           *E = malloc((size_t)n_fit * sizeof(double));
    if (!A || !E) {
      free(A);
      free(E);
      return mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < n_fit; i++) {
      const tstruct_t *s = &t->st[fit[i]];
      for (int e = 0; e < S; e++) A[(size_t)i * S + e] = 0.0;
      for (int a = 0; a < s->n; a++) A[(size_t)i * S + s->species[a]] += 1.0;
      E[i] = s->energy;
    }
    lsq_min_norm(n_fit, S, A, E, t->e0);
    /* scale: RMS of the residual per sqrt(atom), the size of an atomic energy if atoms varied
     * independently; floored at 10 meV */
    double ss = 0.0;
    for (int i = 0; i < n_fit; i++) {
      double r = E[i];
      for (int e = 0; e < S; e++) r -= A[(size_t)i * S + e] * t->e0[e];
      ss += r * r / t->st[fit[i]].n;
    }
    t->scale = fmax(sqrt(ss / n_fit), 0.01);
    free(A);
    free(E);
  } else {
    for (int e = 0; e < S; e++) t->e0[e] = m->e0[e];
    t->scale = m->scale;
  }
  t->ready = 1;
  return MLFF_OK;
}

mlff_status mlff_trainer_export(const mlff_trainer *t, mlff_model *m) {
  const int S = t->S, D = t->D;
  if (!t->ready) return mlff_set_error(MLFF_ERR_ARGUMENT, "trainer not set up");
  if (m->n_elements != S || m->n_features != D)
    return mlff_set_error(MLFF_ERR_ARGUMENT,
                          "export: the model's shape differs from the trainer's");
  for (int e = 0; e < S; e++) {
    mlff_network *net = &m->net[e];
    const layout_t *l = &t->lay[e];
    const double *th = t->theta + l->off;
    const double *mu = t->mu + (size_t)e * D, *sg = t->sigma + (size_t)e * D;
    for (int k = 0; k < l->L; k++) {
      size_t nw = (size_t)l->sizes[k] * l->sizes[k + 1];
      const double *W = th + l->woff[k], *b = th + l->boff[k];
      if (k == 0) { /* fold: W' = W / sigma, b' = b - W' mu */
        for (int i = 0; i < l->sizes[1]; i++) {
          double bb = b[i];
          for (int f = 0; f < D; f++) {
            double w = W[(size_t)i * D + f] / sg[f];
            net->W[0][(size_t)i * D + f] = (float)w;
            bb -= w * mu[f];
          }
          net->b[0][i] = (float)bb;
        }
      } else {
        for (size_t i = 0; i < nw; i++) net->W[k][i] = (float)W[i];
        for (int i = 0; i < l->sizes[k + 1]; i++) net->b[k][i] = (float)b[i];
      }
    }
    mlff_network_sync(net);
    if (!net->feature_min) net->feature_min = malloc((size_t)D * sizeof(float));
    if (!net->feature_max) net->feature_max = malloc((size_t)D * sizeof(float));
    if (!net->feature_min || !net->feature_max)
      return mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
    memcpy(net->feature_min, t->fmin + (size_t)e * D, (size_t)D * sizeof(float));
    memcpy(net->feature_max, t->fmax + (size_t)e * D, (size_t)D * sizeof(float));
    m->e0[e] = t->e0[e];
  }
  m->scale = t->scale;
  for (int a = 0; a < S; a++)
    for (int b = 0; b < S; b++) m->min_distance[a][b] = t->min_distance[a][b];
  return MLFF_OK;
}

/* ---- one batch: forward, forces, loss, gradient ------------------------------------------- */

/* Activation, first and second derivative. */
static inline double act3(mlff_activation a, double x, double *d1, double *d2) {
  if (a == MLFF_ACT_CELU) {
    if (x > 0) {
      *d1 = 1.0;
      *d2 = 0.0;
      return x;
    }
    double e = exp(x / 0.1);
    *d1 = e;
    *d2 = e / 0.1;
    return 0.1 * (e - 1.0);
  }
  double s = 1.0 / (1.0 + exp(-x));
  *d1 = s * (1.0 + x * (1.0 - s));
  *d2 = s * (1.0 - s) * (2.0 + x * (1.0 - 2.0 * s));
  return x * s;
}

static mlff_status ensure(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return MLFF_OK;
  size_t n = need + need / 2 + 16;
  void *q = realloc(*p, n * elem);
  if (!q) return mlff_set_error(MLFF_ERR_NOMEM, "out of memory for the training workspace");
  *p = q;
  *cap = n;
  return MLFF_OK;
}

static mlff_status ews_ensure(mlff_trainer *t, int e, size_t rows) {
  ews_t *w = &t->ws[e];
  if (rows <= w->cap) return MLFF_OK;
  const layout_t *l = &t->lay[e];
  size_t cap = rows + rows / 2 + 16, per = 3 * (size_t)t->D + 2;
  for (int k = 0; k + 1 < l->L; k++) per += 8 * (size_t)l->sizes[k + 1];
  double *mem = malloc(cap * per * sizeof(double));
  if (!mem) return mlff_set_error(MLFF_ERR_NOMEM, "out of memory for the training workspace");
  free(w->mem);
  w->mem = mem;
  w->cap = cap;
  double *q = mem;
  w->X0 = q;
  q += cap * t->D;
  w->V = q;
  q += cap * t->D;
  w->U = q;
  q += cap * t->D;
  w->y = q;
  q += cap;
  w->c = q;
  q += cap;
  for (int k = 0; k + 1 < l->L; k++) {
    size_t o = cap * l->sizes[k + 1];
    w->H[k] = q;
    q += o;
    w->S1[k] = q;
    q += o;
    w->S2[k] = q;
    q += o;
    w->Ad[k] = q;
    q += o;
    w->Gd[k] = q;
    q += o;
    w->Zd[k] = q;
    q += o;
    w->Hd[k] = q;
    q += o;
    w->A[k] = q;
    q += o;
  }
  return MLFF_OK;
}

/* Pass 1 on rows [r0, r0+R) of element e: y = NN(X0), V = dNN/dX0; keeps H, s', s'', adot,
 * gdot for pass 2. */
static void block_pass1(mlff_trainer *t, int e, int r0, int R) {
  const layout_t *l = &t->lay[e];
  const int L = l->L, D = t->D;
  const double *th = t->theta + l->off;
  ews_t *w = &t->ws[e];
  const double *X = w->X0 + (size_t)r0 * D;
  int in = D;
  for (int k = 0; k + 1 < L; k++) {
    int o = l->sizes[k + 1];
    const double *W = th + l->woff[k], *b = th + l->boff[k];
    double *H = w->H[k] + (size_t)r0 * o, *S1 = w->S1[k] + (size_t)r0 * o,
           *S2 = w->S2[k] + (size_t)r0 * o;
    for (int r = 0; r < R; r++) memcpy(H + (size_t)r * o, b, o * sizeof(double));
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, R, o, in, 1.0, X, in, W, in, 1.0, H, o);
    for (size_t i = 0; i < (size_t)R * o; i++) H[i] = act3(t->m->activation, H[i], &S1[i], &S2[i]);
    X = H;
    in = o;
  }
  const double *wL = th + l->woff[L - 1], bL = th[l->boff[L - 1]];
  for (int r = 0; r < R; r++) {
    const double *x = X + (size_t)r * in;
    double s = bL;
    for (int i = 0; i < in; i++) s += x[i] * wL[i];
    w->y[r0 + r] = s;
  }
  double *V = w->V + (size_t)r0 * D;
  if (L == 1) {
    for (int r = 0; r < R; r++) memcpy(V + (size_t)r * D, wL, D * sizeof(double));
    return;
  }
  {
    int o = l->sizes[L - 1];
    double *Ad = w->Ad[L - 2] + (size_t)r0 * o;
    for (int r = 0; r < R; r++) memcpy(Ad + (size_t)r * o, wL, o * sizeof(double));
  }
  for (int k = L - 2; k >= 0; k--) {
    int o = l->sizes[k + 1], ni = l->sizes[k];
    const double *Ad = w->Ad[k] + (size_t)r0 * o, *S1 = w->S1[k] + (size_t)r0 * o;
    double *Gd = w->Gd[k] + (size_t)r0 * o;
    for (size_t i = 0; i < (size_t)R * o; i++) Gd[i] = Ad[i] * S1[i];
    double *dst = k ? w->Ad[k - 1] + (size_t)r0 * ni : V;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, R, ni, o, 1.0, Gd, o, th + l->woff[k],
                ni, 0.0, dst, ni);
  }
}

/* Pass 2: gradient of sum_r (c_r y_r + V_r . U_r) into g (this element's slice layout). */
static void block_pass2(mlff_trainer *t, int e, int r0, int R, int tangent, double *g) {
  const layout_t *l = &t->lay[e];
  const int L = l->L, D = t->D;
  const double *th = t->theta + l->off;
  ews_t *w = &t->ws[e];
  const double *c = w->c + r0;
  const double *Hd_prev = w->U + (size_t)r0 * D;
  int in = D;
  if (tangent)
    for (int k = 0; k + 1 < L; k++) {
      int o = l->sizes[k + 1];
      double *Zd = w->Zd[k] + (size_t)r0 * o, *Hd = w->Hd[k] + (size_t)r0 * o;
      const double *S1 = w->S1[k] + (size_t)r0 * o;
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, R, o, in, 1.0, Hd_prev, in,
                  th + l->woff[k], in, 0.0, Zd, o);
      for (size_t i = 0; i < (size_t)R * o; i++) Hd[i] = S1[i] * Zd[i];
      Hd_prev = Hd;
      in = o;
    }
  /* output layer */
  {
    int ni = l->sizes[L - 1];
    const double *Hl = L > 1 ? w->H[L - 2] + (size_t)r0 * ni : w->X0 + (size_t)r0 * D;
    const double *Hdl = L > 1 ? w->Hd[L - 2] + (size_t)r0 * ni : w->U + (size_t)r0 * D;
    double *gw = g + l->woff[L - 1];
    for (int i = 0; i < ni; i++) gw[i] = 0.0;
    double gb = 0.0;
    for (int r = 0; r < R; r++) {
      const double *h = Hl + (size_t)r * ni, *hd = Hdl + (size_t)r * ni;
      double cr = c[r];
      if (tangent)
        for (int i = 0; i < ni; i++) gw[i] += cr * h[i] + hd[i];
      else
        for (int i = 0; i < ni; i++) gw[i] += cr * h[i];
      gb += cr;
    }
    g[l->boff[L - 1]] = gb;
    if (L == 1) return;
    const double *wL = th + l->woff[L - 1];
    double *A = w->A[L - 2] + (size_t)r0 * ni;
    for (int r = 0; r < R; r++)
      for (int i = 0; i < ni; i++) A[(size_t)r * ni + i] = c[r] * wL[i];
  }
  for (int k = L - 2; k >= 0; k--) {
    int o = l->sizes[k + 1], ni = l->sizes[k];
    double *A = w->A[k] + (size_t)r0 * o;
    const double *S1 = w->S1[k] + (size_t)r0 * o, *S2 = w->S2[k] + (size_t)r0 * o,
                 *Ad = w->Ad[k] + (size_t)r0 * o, *Zd = w->Zd[k] + (size_t)r0 * o,
                 *Gd = w->Gd[k] + (size_t)r0 * o;
    if (tangent)
      for (size_t i = 0; i < (size_t)R * o; i++) A[i] = A[i] * S1[i] + Ad[i] * S2[i] * Zd[i];
    else
      for (size_t i = 0; i < (size_t)R * o; i++) A[i] *= S1[i];
    const double *Hp = k ? w->H[k - 1] + (size_t)r0 * ni : w->X0 + (size_t)r0 * D;
    const double *Hdp = k ? w->Hd[k - 1] + (size_t)r0 * ni : w->U + (size_t)r0 * D;
    double *gW = g + l->woff[k], *gb = g + l->boff[k];
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, o, ni, R, 1.0, A, o, Hp, ni, 0.0, gW, ni);
    if (tangent)
      cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, o, ni, R, 1.0, Gd, o, Hdp, ni, 1.0, gW,
                  ni);
    for (int i = 0; i < o; i++) gb[i] = 0.0;
    for (int r = 0; r < R; r++)
      for (int i = 0; i < o; i++) gb[i] += A[(size_t)r * o + i];
    if (k)
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, R, ni, o, 1.0, A, o, th + l->woff[k],
                  ni, 0.0, w->A[k - 1] + (size_t)r0 * ni, ni);
  }
}

/* Jacobian contractions of atom a of s (J in float or double; each neighbour's blocks are
 * stored component-major, [3][len], so that the loops vectorise):
 * forces: g_k = sum_f v[f] J[f][k]; F_owner(k) -= g_k; F_a += g_k;
 * tangent: u[f] += J[f][k] . (lam_owner(k) - lam_a). */
#define DEFINE_CONTRACTIONS(T, FORCES, TANGENT)                                                    \
  static inline void FORCES##_block(const T *J, const double *v, int len, double *g) {             \
    double g0 = 0, g1 = 0, g2 = 0;                                                                 \
    const T *Jy = J + len, *Jz = J + 2 * len;                                                      \
    for (int q = 0; q < len; q++) {                                                                \
      g0 += v[q] * J[q];                                                                           \
      g1 += v[q] * Jy[q];                                                                          \
      g2 += v[q] * Jz[q];                                                                          \
    }                                                                                              \
    g[0] += g0;                                                                                    \
    g[1] += g1;                                                                                    \
    g[2] += g2;                                                                                    \
  }                                                                                                \
  static void FORCES(const mlff_trainer *t, const tstruct_t *s, int a, const double *v,            \
                     double *F) {                                                                  \
    const T *J = (const T *)s->J + 3 * s->jac_off[a];                                              \
    const int nR = t->nR, nAZ = t->nAZ, S = t->S;                                                  \
    double fa0 = 0, fa1 = 0, fa2 = 0;                                                              \
    for (int k = s->nb_off[a]; k < s->nb_off[a + 1]; k++) {                                        \
      uint8_t info = s->info[k];                                                                   \
      int sk = info & NB_SPECIES;                                                                  \
      double g[3] = {0, 0, 0};                                                                     \
      if (info & NB_RADIAL) {                                                                      \
        FORCES##_block(J, v + sk * nR, nR, g);                                                     \
        J += 3 * nR;                                                                               \
      }                                                                                            \
      if (info & NB_ANGULAR)                                                                       \
        for (int u = 0; u < S; u++) {                                                              \
          FORCES##_block(J, v + t->ang_off[sk][u], nAZ, g);                                        \
          J += 3 * nAZ;                                                                            \
        }                                                                                          \
      double *fo = F + 3 * (size_t)s->owner[k];                                                    \
      fo[0] -= g[0];                                                                               \
      fo[1] -= g[1];                                                                               \
      fo[2] -= g[2];                                                                               \
      fa0 += g[0];                                                                                 \
      fa1 += g[1];                                                                                 \
      fa2 += g[2];                                                                                 \
    }                                                                                              \
    F[3 * a] += fa0;                                                                               \
    F[3 * a + 1] += fa1;                                                                           \
    F[3 * a + 2] += fa2;                                                                           \
  }                                                                                                \
  static inline void TANGENT##_block(const T *J, double m0, double m1, double m2, int len,         \
                                     double *u) {                                                  \
    const T *Jy = J + len, *Jz = J + 2 * len;                                                      \
    for (int q = 0; q < len; q++) u[q] += J[q] * m0 + Jy[q] * m1 + Jz[q] * m2;                     \
  }                                                                                                \
  static void TANGENT(const mlff_trainer *t, const tstruct_t *s, int a, const double *lam,         \
                      double *u_out) {                                                             \
    const T *J = (const T *)s->J + 3 * s->jac_off[a];                                              \
    const int nR = t->nR, nAZ = t->nAZ, S = t->S;                                                  \
    const double *la = lam + 3 * (size_t)a;                                                        \
    for (int k = s->nb_off[a]; k < s->nb_off[a + 1]; k++) {                                        \
      uint8_t info = s->info[k];                                                                   \
      int sk = info & NB_SPECIES;                                                                  \
      const double *lo = lam + 3 * (size_t)s->owner[k];                                            \
      double m0 = lo[0] - la[0], m1 = lo[1] - la[1], m2 = lo[2] - la[2];                           \
      if (info & NB_RADIAL) {                                                                      \
        TANGENT##_block(J, m0, m1, m2, nR, u_out + sk * nR);                                       \
        J += 3 * nR;                                                                               \
      }                                                                                            \
      if (info & NB_ANGULAR)                                                                       \
        for (int w = 0; w < S; w++) {                                                              \
          TANGENT##_block(J, m0, m1, m2, nAZ, u_out + t->ang_off[sk][w]);                          \
          J += 3 * nAZ;                                                                            \
        }                                                                                          \
    }                                                                                              \
  }
DEFINE_CONTRACTIONS(float, forces_f32, tangent_f32)
DEFINE_CONTRACTIONS(double, forces_f64, tangent_f64)

enum { MODE_ERRORS = 0, MODE_GRAD = 1, MODE_PREDICT = 2 };

static mlff_status grow_batch(mlff_trainer *t, size_t atoms, size_t structs, size_t blocks,
                              size_t gsize) {
  if (atoms > t->cap_atoms) {
    size_t c = atoms + atoms / 2 + 16;
    int *row = realloc(t->row, c * sizeof(int));
    if (row) t->row = row;
    double *Fp = realloc(t->Fp, 3 * c * sizeof(double));
    if (Fp) t->Fp = Fp;
    double *lam = realloc(t->lam, 3 * c * sizeof(double));
    if (lam) t->lam = lam;
    if (!row || !Fp || !lam) return mlff_set_error(MLFF_ERR_NOMEM, "out of memory for a batch");
    t->cap_atoms = c;
  }
  if (structs + 1 > t->cap_structs) {
    size_t c = structs + structs / 2 + 16;
    int *a0 = realloc(t->atom0, (c + 1) * sizeof(int));
    if (a0) t->atom0 = a0;
    double *de = realloc(t->s_de, c * sizeof(double));
    if (de) t->s_de = de;
    double *sq = realloc(t->s_sqf, c * sizeof(double));
    if (sq) t->s_sqf = sq;
    double *ab = realloc(t->s_absf, c * sizeof(double));
    if (ab) t->s_absf = ab;
    if (!a0 || !de || !sq || !ab)
      return mlff_set_error(MLFF_ERR_NOMEM, "out of memory for a batch");
    t->cap_structs = c;
  }
  mlff_status st;
  if ((st = ensure((void **)&t->blocks, &t->cap_blocks, blocks, sizeof(block_t)))) return st;
  if ((st = ensure((void **)&t->gbuf, &t->cap_gbuf, gsize, sizeof(double)))) return st;
  if (!t->scratch) {
    t->scratch = malloc((size_t)t->n_threads * 2 * t->D * sizeof(double));
    if (!t->scratch) return mlff_set_error(MLFF_ERR_NOMEM, "out of memory for a batch");
  }
  return MLFF_OK;
}

/* The batch ids[0..n): per-structure errors and the batch loss into *err; in MODE_GRAD with
 * grad != NULL also the gradient of the batch loss; in MODE_PREDICT (n == 1) the structure's
 * energy and forces. */
static mlff_status run_batch(mlff_trainer *t, int n, const int *ids, double wE, double wF, int mode,
                             double *grad, mlff_trainer_errors *err, double *energy,
                             double *forces) {
  const int S = t->S, D = t->D;
  mlff_status st;
  if (!t->ready) return mlff_set_error(MLFF_ERR_ARGUMENT, "trainer not set up");
  if (n < 1) return mlff_set_error(MLFF_ERR_ARGUMENT, "empty batch");
  for (int i = 0; i < n; i++)
    if (ids[i] < 0 || ids[i] >= t->n)
      return mlff_set_error(MLFF_ERR_ARGUMENT, "structure %d outside the trainer's 0..%d", ids[i],
                            t->n - 1);
  const int want_grad = mode == MODE_GRAD && grad != NULL;
  const int tangent = want_grad && wF != 0.0;
  long n_atoms = 0;
  for (int i = 0; i < n; i++) n_atoms += t->st[ids[i]].n;
  if ((st = grow_batch(t, (size_t)n_atoms, (size_t)n, 0, 0))) return st;
  int rows[MLFF_MAX_ELEMENTS] = {0};
  t->atom0[0] = 0;
  for (int i = 0; i < n; i++) {
    const tstruct_t *s = &t->st[ids[i]];
    for (int a = 0; a < s->n; a++) t->row[t->atom0[i] + a] = rows[s->species[a]]++;
    t->atom0[i + 1] = t->atom0[i] + s->n;
  }
  int n_blocks = 0;
  size_t maxlen = 0;
  for (int e = 0; e < S; e++) {
    if ((st = ews_ensure(t, e, (size_t)rows[e]))) return st;
    n_blocks += (rows[e] + ROW_BLOCK - 1) / ROW_BLOCK;
    maxlen = t->lay[e].len > maxlen ? t->lay[e].len : maxlen;
  }
  if ((st = grow_batch(t, (size_t)n_atoms, (size_t)n, (size_t)n_blocks,
                       want_grad ? (size_t)n_blocks * maxlen : 0)))
    return st;
  int b = 0, first_block[MLFF_MAX_ELEMENTS + 1];
  for (int e = 0; e < S; e++) {
    first_block[e] = b;
    for (int r0 = 0; r0 < rows[e]; r0 += ROW_BLOCK) {
      t->blocks[b].e = e;
      t->blocks[b].r0 = r0;
      t->blocks[b].R = rows[e] - r0 < ROW_BLOCK ? rows[e] - r0 : ROW_BLOCK;
      b++;
    }
  }
  first_block[S] = b;
  const int nt = t->n_threads;
  /* normalised descriptors into the element rows */
#pragma omp parallel for schedule(dynamic, 4) num_threads(nt)
  for (int i = 0; i < n; i++) {
    const tstruct_t *s = &t->st[ids[i]];
    for (int a = 0; a < s->n; a++) {
      int e = s->species[a];
      double *X = t->ws[e].X0 + (size_t)t->row[t->atom0[i] + a] * D;
      const double *G = s->G + (size_t)a * D, *mu = t->mu + (size_t)e * D,
                   *sg = t->sigma + (size_t)e * D;
      for (int f = 0; f < D; f++) X[f] = (G[f] - mu[f]) / sg[f];
    }
  }
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
  for (int k = 0; k < n_blocks; k++)
    block_pass1(t, t->blocks[k].e, t->blocks[k].r0, t->blocks[k].R);
  /* per structure: energy, forces through J, residuals; the seeds c and U of pass 2 */
  const double scale = t->scale;
#pragma omp parallel num_threads(nt)
  {
    double *v = t->scratch + (size_t)omp_get_thread_num() * 2 * D, *u = v + D;
#pragma omp for schedule(dynamic, 1)
    for (int i = 0; i < n; i++) {
      const tstruct_t *s = &t->st[ids[i]];
      const int *row = t->row + t->atom0[i];
      double *F = t->Fp + 3 * (size_t)t->atom0[i];
      memset(F, 0, 3 * (size_t)s->n * sizeof(double));
      double E = 0.0;
      for (int a = 0; a < s->n; a++) {
        int e = s->species[a];
        E += scale * t->ws[e].y[row[a]] + t->e0[e];
        const double *V = t->ws[e].V + (size_t)row[a] * D, *sg = t->sigma + (size_t)e * D;
        for (int f = 0; f < D; f++) v[f] = scale * V[f] / sg[f];
        if (t->fp64)
          forces_f64(t, s, a, v, F);
        else
          forces_f32(t, s, a, v, F);
      }
      double dE = E - s->energy, sq = 0.0, ab = 0.0;
      for (int q = 0; q < 3 * s->n; q++) {
        double r = F[q] - s->forces[q];
        sq += r * r;
        ab += fabs(r);
      }
      t->s_de[i] = dE;
      t->s_sqf[i] = sq;
      t->s_absf[i] = ab;
      if (!want_grad) continue;
      double cE = 2.0 * wE * dE / ((double)s->n * s->n) / n * scale;
      for (int a = 0; a < s->n; a++) t->ws[s->species[a]].c[row[a]] = cE;
      if (!tangent) continue;
      double *lam = t->lam + 3 * (size_t)t->atom0[i];
      for (int q = 0; q < 3 * s->n; q++) lam[q] = 2.0 * wF * (F[q] - s->forces[q]) / n_atoms;
      for (int a = 0; a < s->n; a++) {
        int e = s->species[a];
        memset(u, 0, D * sizeof(double));
        if (t->fp64)
          tangent_f64(t, s, a, lam, u);
        else
          tangent_f32(t, s, a, lam, u);
        double *U = t->ws[e].U + (size_t)row[a] * D;
        const double *sg = t->sigma + (size_t)e * D;
        for (int f = 0; f < D; f++) U[f] = -scale * u[f] / sg[f];
      }
    }
  }
  mlff_trainer_errors E = {n, n_atoms, 0, 0, 0, 0, 0};
  for (int i = 0; i < n; i++) {
    int N = t->st[ids[i]].n;
    E.sum_abs_e += fabs(t->s_de[i]) / N;
    E.sum_sq_e += (t->s_de[i] / N) * (t->s_de[i] / N);
    E.sum_abs_f += t->s_absf[i];
    E.sum_sq_f += t->s_sqf[i];
  }
  E.loss = wE * E.sum_sq_e / n + wF * E.sum_sq_f / n_atoms;
  if (err) *err = E;
  if (mode == MODE_PREDICT) {
    if (energy) *energy = t->s_de[0] + t->st[ids[0]].energy;
    if (forces) memcpy(forces, t->Fp, 3 * (size_t)t->st[ids[0]].n * sizeof(double));
  }
  if (!want_grad) return MLFF_OK;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
  for (int k = 0; k < n_blocks; k++)
    block_pass2(t, t->blocks[k].e, t->blocks[k].r0, t->blocks[k].R, tangent,
                t->gbuf + (size_t)k * maxlen);
  /* sum the blocks of each element in block order */
  for (int e = 0; e < S; e++) {
    const layout_t *l = &t->lay[e];
    double *g = grad + l->off;
    int b0 = first_block[e], b1 = first_block[e + 1];
#pragma omp parallel for schedule(static) num_threads(nt)
    for (size_t q = 0; q < l->len; q++) {
      double sum = 0.0;
      for (int k = b0; k < b1; k++) sum += t->gbuf[(size_t)k * maxlen + q];
      g[q] = sum;
    }
  }
  return MLFF_OK;
}

mlff_status mlff_trainer_loss_grad(mlff_trainer *t, int n, const int *ids, double w_energy,
                                   double w_forces, double *loss, double *grad) {
  mlff_trainer_errors e;
  mlff_status st = run_batch(t, n, ids, w_energy, w_forces, MODE_GRAD, grad, &e, NULL, NULL);
  if (!st && loss) *loss = e.loss;
  return st;
}

mlff_status mlff_trainer_errors_of(mlff_trainer *t, int n, const int *ids, double w_energy,
                                   double w_forces, mlff_trainer_errors *out) {
  mlff_trainer_errors tot = {0, 0, 0, 0, 0, 0, 0};
  for (int i0 = 0; i0 < n;) { /* chunks of about 4096 atoms bound the workspace */
    int i1 = i0;
    long atoms = 0;
    while (i1 < n && (i1 == i0 || atoms + t->st[ids[i1]].n <= 4096)) atoms += t->st[ids[i1++]].n;
    mlff_trainer_errors e;
    mlff_status st =
        run_batch(t, i1 - i0, ids + i0, w_energy, w_forces, MODE_ERRORS, NULL, &e, NULL, NULL);
    if (st) return st;
    tot.n_structures += e.n_structures;
    tot.n_atoms += e.n_atoms;
    tot.sum_abs_e += e.sum_abs_e;
    tot.sum_sq_e += e.sum_sq_e;
    tot.sum_abs_f += e.sum_abs_f;
    tot.sum_sq_f += e.sum_sq_f;
    i0 = i1;
  }
  if (n > 0) tot.loss = w_energy * tot.sum_sq_e / n + w_forces * tot.sum_sq_f / tot.n_atoms;
  *out = tot;
  return MLFF_OK;
}

mlff_status mlff_trainer_predict(mlff_trainer *t, int id, double *energy, double *forces) {
  mlff_status st = run_batch(t, 1, &id, 0.0, 0.0, MODE_PREDICT, NULL, NULL, energy, forces);
  const tstruct_t *s = &t->st[id];
  if (!st && s->f_disp) { /* the whole model's prediction */
    *energy += s->e_disp;
    for (int q = 0; q < 3 * s->n && forces; q++) forces[q] += s->f_disp[q];
  }
  return st;
}
