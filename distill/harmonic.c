/* harmonic.c — the project's one harmonic analysis (mlff_distill.h, "harmonic analysis"): atomic
 * masses, the Jacobi eigensolver, BFGS relaxation, the finite-difference Hessian, normal modes
 * with translations and rotations projected out, molecules by connectivity and the aligned RMSD.
 * `mlff label` samples its normal modes with it (sampling.c) and `mlff eval --freq` computes the
 * student's and the teacher's frequencies with it, so that both see the same masses and modes.
 * Forces come from a callback; deterministic, no global state. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mlff_distill.h"

/* ---- masses ------------------------------------------------------------------------------- */

/* IUPAC 2013 standard atomic weights (Meija et al., Pure Appl. Chem. 88, 265 (2016)), as ASE's
 * atomic_masses_iupac2016, the masses of the PyTorch pipeline this project replaces. */
static const double MASS[87] = {
    0,            1.008,       4.002602,    6.94,         9.0121831,   10.81,
    12.011,       14.007,      15.999,      18.998403163, 20.1797,     22.98976928,
    24.305,       26.9815385,  28.085,      30.973761998, 32.06,       35.45,
    39.948,       39.0983,     40.078,      44.955908,    47.867,      50.9415,
    51.9961,      54.938044,   55.845,      58.933194,    58.6934,     63.546,
    65.38,        69.723,      72.630,      74.921595,    78.971,      79.904,
    83.798,       85.4678,     87.62,       88.90584,     91.224,      92.90637,
    95.95,        97.90721,    101.07,      102.90550,    106.42,      107.8682,
    112.414,      114.818,     118.710,     121.760,      127.60,      126.90447,
    131.293,      132.90545196, 137.327,    138.90547,    140.116,     140.90766,
    144.242,      144.91276,   150.36,      151.964,      157.25,      158.92535,
    162.500,      164.93033,   167.259,     168.93422,    173.054,     174.9668,
    178.49,       180.94788,   183.84,      186.207,      190.23,      192.217,
    195.084,      196.966569,  200.592,     204.38,       207.2,       208.98040,
    208.98243,    209.98715,   222.01758};

double mlff_atomic_mass(int z) { return z >= 1 && z <= 86 ? MASS[z] : 0.0; }

/* ---- Jacobi eigensolver ------------------------------------------------------------------- */

int mlff_jacobi_eigen(int n, double *A, double *w, double *V) {
  double *Vw = V ? V : malloc((size_t)n * n * sizeof *Vw);
  if (!Vw) return -2;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) Vw[i * n + j] = i == j;
  int sweeps = -1;
  for (int sweep = 1; sweep <= 100; sweep++) {
    double off = 0, frob = 0;
    for (int p = 0; p < n; p++)
      for (int q = 0; q < n; q++) {
        double a2 = A[p * n + q] * A[p * n + q];
        frob += a2;
        if (p != q) off += a2;
      }
    if (off == 0 || off <= 1e-30 * frob) {
      sweeps = sweep - 1;
      break;
    }
    int rotated = 0;
    for (int p = 0; p < n - 1; p++)
      for (int q = p + 1; q < n; q++) {
        double apq = A[p * n + q], app = A[p * n + p], aqq = A[q * n + q];
        if (apq == 0) continue;
        /* after a few sweeps, an element too small to change either diagonal is set to zero */
        double g = 100 * fabs(apq);
        if (sweep > 4 && fabs(app) + g == fabs(app) && fabs(aqq) + g == fabs(aqq)) {
          A[p * n + q] = A[q * n + p] = 0;
          continue;
        }
        rotated = 1;
        /* J = rotation in the (p, q) plane with tan(phi) = t, chosen so that (J^T A J)_pq = 0 */
        double theta = (aqq - app) / (2 * apq);
        double t = fabs(theta) > 1e150
                       ? 0.5 / theta
                       : (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
        double c = 1 / sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < n; k++) { /* A J: columns p and q */
          double akp = A[k * n + p], akq = A[k * n + q];
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (int k = 0; k < n; k++) { /* J^T (A J): rows p and q */
          double apk = A[p * n + k], aqk = A[q * n + k];
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
        A[p * n + q] = A[q * n + p] = 0;
        for (int k = 0; k < n; k++) {
          double vkp = Vw[k * n + p], vkq = Vw[k * n + q];
          Vw[k * n + p] = c * vkp - s * vkq;
          Vw[k * n + q] = s * vkp + c * vkq;
        }
      }
    if (!rotated) {
      sweeps = sweep;
      break;
    }
  }
  for (int i = 0; i < n; i++) w[i] = A[i * n + i];
  /* sort ascending (selection sort: n is small), eigenvectors along */
  for (int i = 0; i < n - 1; i++) {
    int k = i;
    for (int j = i + 1; j < n; j++)
      if (w[j] < w[k]) k = j;
    if (k == i) continue;
    double tw = w[i];
    w[i] = w[k];
    w[k] = tw;
    for (int r = 0; r < n; r++) {
      double tv = Vw[r * n + i];
      Vw[r * n + i] = Vw[r * n + k];
      Vw[r * n + k] = tv;
    }
  }
  if (!V) free(Vw);
  return sweeps;
}

/* ---- forces ------------------------------------------------------------------------------- */

mlff_status mlff_teacher_molecule_forces(void *molecule, const double *x, double *energy,
                                         double *forces) {
  const mlff_teacher_molecule *mol = molecule;
  mlff_frame f;
  memset(&f, 0, sizeof f);
  f.n_atoms = mol->nat;
  f.atomic_numbers = (int *)mol->Z;
  f.positions = (double *)x;
  return mlff_teacher_compute(mol->teacher, &f, energy, forces);
}

/* A model's energy and forces on structure s: its virial (or NULL), per-atom deviations (or
 * NULL) and largest deviation too */
static mlff_status model_forces(mlff_calc *c, const mlff_structure *s, double *energy,
                                double *forces, double *virial, double *deviation,
                                double *max_deviation) {
  mlff_result r;
  memset(&r, 0, sizeof r);
  r.forces = forces;
  r.force_deviation = deviation;
  mlff_status st = mlff_compute(c, s, &r);
  if (st) return st;
  *energy = r.energy;
  if (virial) memcpy(virial, r.virial, sizeof r.virial);
  *max_deviation = r.max_force_deviation;
  return MLFF_OK;
}

mlff_status mlff_model_molecule_forces(void *molecule, const double *x, double *energy,
                                       double *forces) {
  mlff_model_molecule *mol = molecule;
  mlff_structure s = {mol->nat, x, mol->species, NULL, {0, 0, 0}};
  return model_forces(mol->calc, &s, energy, forces, NULL, NULL, &mol->max_deviation);
}

mlff_status mlff_model_box_forces(void *box, const double *x, double *energy, double *forces) {
  mlff_model_box *b = box;
  mlff_structure s = {b->nat, x, b->species, b->cell, {1, 1, 1}};
  return model_forces(b->calc, &s, energy, forces, b->virial, b->deviation, &b->max_deviation);
}

double mlff_max_atom_force(int nat, const double *f) {
  double m = 0;
  for (int i = 0; i < nat; i++) {
    const double *fi = f + 3 * i;
    double n = sqrt(fi[0] * fi[0] + fi[1] * fi[1] + fi[2] * fi[2]);
    if (n > m) m = n;
  }
  return m;
}

static mlff_status out_of_memory(const char *what) {
  return mlff_set_error(MLFF_ERR_NOMEM, "out of memory for the %s", what);
}

/* ---- relaxation --------------------------------------------------------------------------- */

mlff_status mlff_harmonic_relax(mlff_force_fn fn, void *user, int nat, double *x, double fmax,
                                int max_steps, double maxstep, mlff_relax_info *info) {
  int N = 3 * nat;
  mlff_status st = MLFF_OK;
  memset(info, 0, sizeof *info);
  double *H = malloc((size_t)N * N * sizeof *H), *A = malloc((size_t)N * N * sizeof *A),
         *V = malloc((size_t)N * N * sizeof *V), *w = malloc((size_t)N * sizeof *w),
         *f = malloc((size_t)N * sizeof *f), *f0 = malloc((size_t)N * sizeof *f0),
         *x0 = malloc((size_t)N * sizeof *x0), *dr = malloc((size_t)N * sizeof *dr),
         *dg = malloc((size_t)N * sizeof *dg);
  if (!H || !A || !V || !w || !f || !f0 || !x0 || !dr || !dg) {
    st = out_of_memory("BFGS relaxation");
    goto out;
  }
  for (int i = 0; i < N * N; i++) H[i] = 0;
  for (int i = 0; i < N; i++) H[i * N + i] = 70.0;
  double e;
  if ((st = fn(user, x, &e, f))) goto out;
  info->n_calls = 1;
  for (int step = 0;; step++) {
    info->energy = e;
    info->fmax = mlff_max_atom_force(nat, f);
    info->steps = step;
    if (info->fmax < fmax) {
      info->converged = 1;
      break;
    }
    if (step == max_steps) break;
    if (step > 0) { /* BFGS update of the Hessian with dr = x - x0, df = f - f0 */
      double a = 0, b = 0, dr2 = 0;
      for (int i = 0; i < N; i++) {
        dr[i] = x[i] - x0[i];
        f0[i] = f[i] - f0[i]; /* f0 now holds df */
        dr2 += dr[i] * dr[i];
        a += dr[i] * f0[i];
      }
      for (int i = 0; i < N; i++) {
        double s = 0;
        for (int j = 0; j < N; j++) s += H[i * N + j] * dr[j];
        dg[i] = s;
        b += dr[i] * s;
      }
      if (dr2 > 1e-14 && a != 0 && b != 0)
        for (int i = 0; i < N; i++)
          for (int j = 0; j < N; j++) H[i * N + j] -= f0[i] * f0[j] / a + dg[i] * dg[j] / b;
    }
    memcpy(A, H, (size_t)N * N * sizeof *A);
    mlff_jacobi_eigen(N, A, w, V); /* V given: cannot run out of memory */
    /* dr = V |w|^-1 V^T f */
    for (int i = 0; i < N; i++) dr[i] = 0;
    for (int k = 0; k < N; k++) {
      double c = 0;
      for (int i = 0; i < N; i++) c += V[i * N + k] * f[i];
      double ak = fabs(w[k]) > 1e-8 ? fabs(w[k]) : 1e-8;
      c /= ak;
      for (int i = 0; i < N; i++) dr[i] += c * V[i * N + k];
    }
    double longest = mlff_max_atom_force(nat, dr); /* the largest atomic displacement */
    double scale = longest > maxstep ? maxstep / longest : 1.0;
    memcpy(x0, x, (size_t)N * sizeof *x);
    memcpy(f0, f, (size_t)N * sizeof *f);
    for (int i = 0; i < N; i++) x[i] += scale * dr[i];
    if ((st = fn(user, x, &e, f))) {
      memcpy(x, x0, (size_t)N * sizeof *x);
      goto out;
    }
    info->n_calls++;
  }
out:
  free(H), free(A), free(V), free(w), free(f), free(f0), free(x0), free(dr), free(dg);
  return st;
}

/* ---- Hessian ------------------------------------------------------------------------------ */

mlff_status mlff_harmonic_hessian(mlff_force_fn fn, void *user, int nat, const double *x,
                                  double h, double *H, double *asymmetry) {
  int N = 3 * nat;
  mlff_status st = MLFF_OK;
  double *xd = malloc((size_t)N * sizeof *xd), *fp = malloc((size_t)N * sizeof *fp),
         *fm = malloc((size_t)N * sizeof *fm);
  if (!xd || !fp || !fm) {
    st = out_of_memory("Hessian");
    goto out;
  }
  memcpy(xd, x, (size_t)N * sizeof *xd);
  for (int i = 0; i < N; i++) {
    double e;
    xd[i] = x[i] + h;
    if ((st = fn(user, xd, &e, fp))) goto out;
    xd[i] = x[i] - h;
    if ((st = fn(user, xd, &e, fm))) goto out;
    xd[i] = x[i];
    for (int j = 0; j < N; j++) H[i * N + j] = -(fp[j] - fm[j]) / (2 * h);
  }
  double asym = 0;
  for (int i = 0; i < N; i++)
    for (int j = i + 1; j < N; j++) {
      double d = 0.5 * fabs(H[i * N + j] - H[j * N + i]), s = 0.5 * (H[i * N + j] + H[j * N + i]);
      if (d > asym) asym = d;
      H[i * N + j] = H[j * N + i] = s;
    }
  if (asymmetry) *asymmetry = asym;
out:
  free(xd), free(fp), free(fm);
  return st;
}

/* ---- normal modes ------------------------------------------------------------------------- */

void mlff_modes_free(mlff_modes *m) {
  if (!m) return;
  free(m->x0);
  free(m->mass);
  free(m->lambda);
  free(m->modes);
  memset(m, 0, sizeof *m);
}

double mlff_harmonic_wavenumber(double lambda) {
  return (lambda < 0 ? -1 : 1) * sqrt(fabs(lambda)) * MLFF_CM1_PER_SQRT_EV_A2_AMU;
}

/* The translations and rotations about the centre of mass of atoms (masses m) at x, as
 * orthonormal vectors in mass-weighted coordinates q = sqrt(m) x: U [6][3n], the first *nu rows
 * set. The rotation about a linear molecule's axis vanishes and is left out (*nu = 5). */
static void rigid_motions(int n, const double *m, const double *x, double *U, int *nu_out) {
  int N = 3 * n, nu = 0;
  double M = 0, com[3] = {0, 0, 0};
  for (int a = 0; a < n; a++) {
    M += m[a];
    for (int d = 0; d < 3; d++) com[d] += m[a] * x[3 * a + d];
  }
  for (int d = 0; d < 3; d++) com[d] /= M;
  double inertia = 0; /* sum m r^2: the scale of a rotation vector's squared norm */
  for (int a = 0; a < n; a++)
    for (int d = 0; d < 3; d++) inertia += m[a] * (x[3 * a + d] - com[d]) * (x[3 * a + d] - com[d]);
  for (int k = 0; k < 6; k++) {
    double *u = U + (size_t)nu * N;
    for (int a = 0; a < n; a++) {
      double sm = sqrt(m[a]), r[3];
      for (int d = 0; d < 3; d++) r[d] = x[3 * a + d] - com[d];
      if (k < 3) {
        for (int d = 0; d < 3; d++) u[3 * a + d] = d == k ? sm : 0;
      } else { /* e_k x r */
        int j = k - 3;
        double e[3] = {j == 0, j == 1, j == 2};
        u[3 * a + 0] = sm * (e[1] * r[2] - e[2] * r[1]);
        u[3 * a + 1] = sm * (e[2] * r[0] - e[0] * r[2]);
        u[3 * a + 2] = sm * (e[0] * r[1] - e[1] * r[0]);
      }
    }
    for (int pass = 0; pass < 2; pass++) /* Gram-Schmidt, twice */
      for (int j = 0; j < nu; j++) {
        double dot = 0;
        for (int i = 0; i < N; i++) dot += U[(size_t)j * N + i] * u[i];
        for (int i = 0; i < N; i++) u[i] -= dot * U[(size_t)j * N + i];
      }
    double norm = 0;
    for (int i = 0; i < N; i++) norm += u[i] * u[i];
    norm = sqrt(norm);
    double scale = k < 3 ? sqrt(M) : sqrt(inertia);
    if (norm <= 1e-5 * scale) continue; /* the rotation about a linear molecule's axis */
    for (int i = 0; i < N; i++) u[i] /= norm;
    nu++;
  }
  *nu_out = nu;
}

mlff_status mlff_harmonic_modes(int nat, const int *Z, const double *x, const double *H,
                                mlff_modes *m) {
  memset(m, 0, sizeof *m);
  if (nat < 2)
    return mlff_set_error(MLFF_ERR_ARGUMENT, "normal modes: %d atom%s; a molecule needs at "
                          "least 2", nat, nat == 1 ? "" : "s");
  for (int i = 0; i < nat; i++)
    if (!(mlff_atomic_mass(Z[i]) > 0)) {
      const char *sym = mlff_element_symbol(Z[i]);
      return mlff_set_error(MLFF_ERR_ARGUMENT, "normal modes: no standard atomic mass for "
                            "element %s (Z = %d, atom %d)", sym ? sym : "?", Z[i], i);
    }
  int N = 3 * nat, nu = 0;
  mlff_status st = MLFF_OK;
  double *U = malloc((size_t)6 * N * sizeof *U), *P = malloc((size_t)N * N * sizeof *P),
         *B = malloc((size_t)N * N * sizeof *B), *C = malloc((size_t)N * N * sizeof *C),
         *V = malloc((size_t)N * N * sizeof *V), *w = malloc((size_t)N * sizeof *w),
         *ov = malloc((size_t)N * sizeof *ov);
  int *drop = calloc((size_t)N, sizeof *drop);
  m->x0 = malloc((size_t)N * sizeof *m->x0);
  m->mass = malloc((size_t)nat * sizeof *m->mass);
  if (!U || !P || !B || !C || !V || !w || !ov || !drop || !m->x0 || !m->mass) {
    st = out_of_memory("normal modes");
    goto out;
  }
  m->nat = nat;
  memcpy(m->x0, x, (size_t)N * sizeof *x);
  for (int i = 0; i < nat; i++) m->mass[i] = mlff_atomic_mass(Z[i]);
  const double *ms = m->mass;
  rigid_motions(nat, ms, x, U, &nu);
  m->n_tr = nu;
  m->linear = nu == 5;
  m->n_vib = N - nu;
  /* P = 1 - U^T U; C = P Hmw P */
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      double s = i == j;
      for (int k = 0; k < nu; k++) s -= U[(size_t)k * N + i] * U[(size_t)k * N + j];
      P[i * N + j] = s;
    }
  for (int i = 0; i < N; i++) /* C = mass-weighted Hessian */
    for (int j = 0; j < N; j++) C[i * N + j] = H[i * N + j] / sqrt(ms[i / 3] * ms[j / 3]);
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      double s = 0;
      for (int k = 0; k < N; k++) s += P[i * N + k] * C[k * N + j];
      B[i * N + j] = s;
    }
  for (int i = 0; i < N; i++)
    for (int j = 0; j <= i; j++) {
      double s = 0;
      for (int k = 0; k < N; k++) s += B[i * N + k] * P[k * N + j];
      C[i * N + j] = s;
    }
  for (int i = 0; i < N; i++)
    for (int j = i + 1; j < N; j++) C[i * N + j] = C[j * N + i];
  m->converged = mlff_jacobi_eigen(N, C, w, V) >= 0; /* V given: cannot run out of memory */
  /* overlap of every eigenvector with the translation/rotation space; drop the nu largest:
   * robust where a soft vibration is as close to zero as the projected-out ones */
  for (int k = 0; k < N; k++) {
    double o = 0;
    for (int j = 0; j < nu; j++) {
      double dot = 0;
      for (int i = 0; i < N; i++) dot += U[(size_t)j * N + i] * V[i * N + k];
      o += dot * dot;
    }
    ov[k] = o;
  }
  for (int t = 0; t < nu; t++) {
    int best = -1;
    for (int k = 0; k < N; k++)
      if (!drop[k] && (best < 0 || ov[k] > ov[best])) best = k;
    drop[best] = 1;
  }
  m->lambda = malloc((size_t)m->n_vib * sizeof *m->lambda);
  m->modes = malloc((size_t)m->n_vib * N * sizeof *m->modes);
  if (!m->lambda || !m->modes) {
    st = out_of_memory("normal modes");
    goto out;
  }
  for (int k = 0, iv = 0, it = 0; k < N; k++) { /* w ascending, so lambda ascending */
    if (drop[k]) {
      m->tr[it++] = w[k];
      continue;
    }
    m->lambda[iv] = w[k];
    for (int i = 0; i < N; i++) m->modes[(size_t)iv * N + i] = V[i * N + k];
    if (w[k] < 0) m->n_imaginary++;
    iv++;
  }
out:
  free(U), free(P), free(B), free(C), free(V), free(w), free(ov), free(drop);
  if (st) mlff_modes_free(m);
  return st;
}

/* ---- molecules and alignment -------------------------------------------------------------- */

static int uf_find(int *parent, int i) {
  while (parent[i] != i) i = parent[i] = parent[parent[i]];
  return i;
}

int mlff_fragments(int n, const double *x, double bond, int *label) {
  int *parent = malloc((size_t)(n > 0 ? n : 1) * sizeof *parent);
  if (!parent) {
    out_of_memory("molecules of a cluster");
    return -1;
  }
  for (int i = 0; i < n; i++) parent[i] = i;
  double b2 = bond * bond;
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++) {
      double d2 = 0;
      for (int d = 0; d < 3; d++) {
        double dx = x[3 * i + d] - x[3 * j + d];
        d2 += dx * dx;
      }
      if (d2 < b2) {
        int ri = uf_find(parent, i), rj = uf_find(parent, j);
        if (ri != rj) parent[ri > rj ? ri : rj] = ri < rj ? ri : rj;
      }
    }
  /* roots are each molecule's smallest atom index: number them in order of appearance */
  int k = 0;
  for (int i = 0; i < n; i++) label[i] = -1;
  for (int i = 0; i < n; i++) {
    int r = uf_find(parent, i);
    if (label[r] < 0) label[r] = k++;
    label[i] = label[r];
  }
  free(parent);
  return k;
}

void mlff_generic_orientation(int n, double *x) {
  const double a = 0.3, b = 0.7, c = 1.1; /* z-x-z Euler angles */
  double ca = cos(a), sa = sin(a), cb = cos(b), sb = sin(b), cc = cos(c), sc = sin(c);
  double R[9] = {ca * cc - sa * cb * sc, -ca * sc - sa * cb * cc, sa * sb,
                 sa * cc + ca * cb * sc, -sa * sc + ca * cb * cc, -ca * sb,
                 sb * sc,                sb * cc,                 cb};
  double g[3] = {0, 0, 0};
  for (int i = 0; i < n; i++)
    for (int d = 0; d < 3; d++) g[d] += x[3 * i + d] / n;
  for (int i = 0; i < n; i++) {
    double p[3] = {x[3 * i] - g[0], x[3 * i + 1] - g[1], x[3 * i + 2] - g[2]};
    for (int d = 0; d < 3; d++)
      x[3 * i + d] = g[d] + R[3 * d] * p[0] + R[3 * d + 1] * p[1] + R[3 * d + 2] * p[2];
  }
}

double mlff_rmsd_aligned(int n, const double *a, const double *b) {
  if (n < 1) return 0;
  double ca[3] = {0, 0, 0}, cb[3] = {0, 0, 0};
  for (int i = 0; i < n; i++)
    for (int d = 0; d < 3; d++) {
      ca[d] += a[3 * i + d] / n;
      cb[d] += b[3 * i + d] / n;
    }
  double S[3][3] = {{0}}, g = 0;
  for (int i = 0; i < n; i++) {
    double p[3], q[3];
    for (int d = 0; d < 3; d++) {
      p[d] = a[3 * i + d] - ca[d];
      q[d] = b[3 * i + d] - cb[d];
      g += p[d] * p[d] + q[d] * q[d];
    }
    for (int r = 0; r < 3; r++)
      for (int c = 0; c < 3; c++) S[r][c] += q[r] * p[c];
  }
  /* Horn's quaternion matrix; its largest eigenvalue is the best sum of q'.p */
  double K[16] = {
      S[0][0] + S[1][1] + S[2][2], S[1][2] - S[2][1], S[2][0] - S[0][2], S[0][1] - S[1][0],
      S[1][2] - S[2][1], S[0][0] - S[1][1] - S[2][2], S[0][1] + S[1][0], S[2][0] + S[0][2],
      S[2][0] - S[0][2], S[0][1] + S[1][0], -S[0][0] + S[1][1] - S[2][2], S[1][2] + S[2][1],
      S[0][1] - S[1][0], S[2][0] + S[0][2], S[1][2] + S[2][1], -S[0][0] - S[1][1] + S[2][2]};
  double w[4], V[16];
  mlff_jacobi_eigen(4, K, w, V);
  double msd = (g - 2 * w[3]) / n;
  return msd > 0 ? sqrt(msd) : 0;
}
