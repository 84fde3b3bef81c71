/* freq.c — see freq.h: Jacobi eigensolver, atomic masses, BFGS relaxation, finite-difference
 * Hessian, harmonic frequencies, molecules by connectivity, aligned RMSD. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "freq.h"
#include "mlff_distill.h"

/* ---- Jacobi eigensolver ------------------------------------------------------------------- */

/* one solver for the project: distill/sampling.c's */
int freq_jacobi(int n, double *A, double *w, double *V) { return mlff_smp_jacobi(n, A, w, V); }

/* ---- masses ------------------------------------------------------------------------------- */

double freq_atomic_mass(int z) {
  /* IUPAC 2016 conventional/standard atomic weights (as ASE's atomic_masses_iupac2016) */
  static const double M[55] = {
      0,         1.008,     4.002602,  6.94,      9.0121831, 10.81,     12.011,    14.007,
      15.999,    18.998403163, 20.1797, 22.98976928, 24.305, 26.9815385, 28.085, 30.973761998,
      32.06,     35.45,     39.948,    39.0983,   40.078,    44.955908, 47.867,    50.9415,
      51.9961,   54.938044, 55.845,    58.933194, 58.6934,   63.546,    65.38,     69.723,
      72.630,    74.921595, 78.971,    79.904,    83.798,    85.4678,   87.62,     88.90584,
      91.224,    92.90637,  95.95,     97.90721,  101.07,    102.90550, 106.42,    107.8682,
      112.414,   114.818,   118.710,   121.760,   127.60,    126.90447, 131.293};
  return z >= 1 && z <= 54 ? M[z] : 0;
}

/* ---- relaxation --------------------------------------------------------------------------- */

static double max_atom_norm(int n, const double *v) {
  double m = 0;
  for (int a = 0; a < n; a++) {
    double s = sqrt(v[3 * a] * v[3 * a] + v[3 * a + 1] * v[3 * a + 1] + v[3 * a + 2] * v[3 * a + 2]);
    if (s > m) m = s;
  }
  return m;
}

int freq_relax_bfgs(freq_force_fn fn, void *user, int n, double *x, double fmax, int max_steps,
                    double maxstep, freq_relax_info *info) {
  int N = 3 * n, rc = 0;
  memset(info, 0, sizeof *info);
  double *H = malloc((size_t)N * N * sizeof *H), *A = malloc((size_t)N * N * sizeof *A),
         *V = malloc((size_t)N * N * sizeof *V), *w = malloc((size_t)N * sizeof *w),
         *f = malloc((size_t)N * sizeof *f), *f0 = malloc((size_t)N * sizeof *f0),
         *x0 = malloc((size_t)N * sizeof *x0), *dr = malloc((size_t)N * sizeof *dr),
         *dg = malloc((size_t)N * sizeof *dg);
  if (!H || !A || !V || !w || !f || !f0 || !x0 || !dr || !dg) {
    rc = -2;
    goto out;
  }
  for (int i = 0; i < N * N; i++) H[i] = 0;
  for (int i = 0; i < N; i++) H[i * N + i] = 70.0;
  double e;
  if ((rc = fn(user, x, &e, f))) goto out;
  info->n_calls = 1;
  for (int step = 0;; step++) {
    info->energy = e;
    info->fmax = max_atom_norm(n, f);
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
    if (freq_jacobi(N, A, w, V) == -2) {
      rc = -2;
      goto out;
    }
    /* dr = V |w|^-1 V^T f */
    for (int i = 0; i < N; i++) dr[i] = 0;
    for (int k = 0; k < N; k++) {
      double c = 0;
      for (int i = 0; i < N; i++) c += V[i * N + k] * f[i];
      double ak = fabs(w[k]) > 1e-8 ? fabs(w[k]) : 1e-8;
      c /= ak;
      for (int i = 0; i < N; i++) dr[i] += c * V[i * N + k];
    }
    double longest = max_atom_norm(n, dr);
    double scale = longest > maxstep ? maxstep / longest : 1.0;
    memcpy(x0, x, (size_t)N * sizeof *x);
    memcpy(f0, f, (size_t)N * sizeof *f);
    for (int i = 0; i < N; i++) x[i] += scale * dr[i];
    if ((rc = fn(user, x, &e, f))) {
      memcpy(x, x0, (size_t)N * sizeof *x);
      goto out;
    }
    info->n_calls++;
  }
out:
  free(H); free(A); free(V); free(w); free(f); free(f0); free(x0); free(dr); free(dg);
  return rc;
}

/* ---- Hessian ------------------------------------------------------------------------------ */

int freq_hessian(freq_force_fn fn, void *user, int n, const double *x, double h, double *H,
                 double *asymmetry) {
  int N = 3 * n, rc = 0;
  double *xd = malloc((size_t)N * sizeof *xd), *fp = malloc((size_t)N * sizeof *fp),
         *fm = malloc((size_t)N * sizeof *fm);
  if (!xd || !fp || !fm) {
    rc = -2;
    goto out;
  }
  memcpy(xd, x, (size_t)N * sizeof *xd);
  for (int i = 0; i < N; i++) {
    double e;
    xd[i] = x[i] + h;
    if ((rc = fn(user, xd, &e, fp))) goto out;
    xd[i] = x[i] - h;
    if ((rc = fn(user, xd, &e, fm))) goto out;
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
  free(xd); free(fp); free(fm);
  return rc;
}

/* ---- frequencies -------------------------------------------------------------------------- */

int freq_modes(int n, const double *m, const double *x, const double *H, double *vib, double *tr,
               freq_modes_info *info) {
  memset(info, 0, sizeof *info);
  if (n < 2) return -3;
  int N = 3 * n, rc = 0;
  double *U = malloc((size_t)6 * N * sizeof *U), *P = malloc((size_t)N * N * sizeof *P),
         *B = malloc((size_t)N * N * sizeof *B), *C = malloc((size_t)N * N * sizeof *C),
         *V = malloc((size_t)N * N * sizeof *V), *w = malloc((size_t)N * sizeof *w),
         *ov = malloc((size_t)N * sizeof *ov);
  int *drop = calloc((size_t)N, sizeof *drop);
  if (!U || !P || !B || !C || !V || !w || !ov || !drop) {
    rc = -2;
    goto out;
  }
  /* translation and rotation vectors in mass-weighted coordinates q = sqrt(m) x */
  double M = 0, com[3] = {0, 0, 0};
  for (int a = 0; a < n; a++) {
    M += m[a];
    for (int d = 0; d < 3; d++) com[d] += m[a] * x[3 * a + d];
  }
  for (int d = 0; d < 3; d++) com[d] /= M;
  double inertia = 0; /* sum m r^2: the scale of a rotation vector's squared norm */
  for (int a = 0; a < n; a++)
    for (int d = 0; d < 3; d++) inertia += m[a] * (x[3 * a + d] - com[d]) * (x[3 * a + d] - com[d]);
  int nu = 0;
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
  info->n_tr = nu;
  info->linear = nu == 5;
  info->n_vib = N - nu;
  /* P = 1 - U^T U; C = P Hmw P */
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      double s = i == j;
      for (int k = 0; k < nu; k++) s -= U[(size_t)k * N + i] * U[(size_t)k * N + j];
      P[i * N + j] = s;
    }
  for (int i = 0; i < N; i++) /* C = mass-weighted Hessian */
    for (int j = 0; j < N; j++) C[i * N + j] = H[i * N + j] / sqrt(m[i / 3] * m[j / 3]);
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
  int sw = freq_jacobi(N, C, w, V);
  if (sw == -2) {
    rc = -2;
    goto out;
  }
  if (sw < 0) rc = -1;
  /* overlap of every eigenvector with the translation/rotation space; drop the nu largest */
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
  int iv = 0, it = 0;
  for (int k = 0; k < N; k++) { /* w ascending, so vib ascending */
    double f = (w[k] < 0 ? -1 : 1) * sqrt(fabs(w[k])) * FREQ_CM1_PER_SQRT_EV_A2_AMU;
    if (drop[k]) {
      if (tr) tr[it] = f;
      it++;
    } else {
      vib[iv++] = f;
      if (w[k] < 0) info->n_imaginary++;
    }
  }
out:
  free(U); free(P); free(B); free(C); free(V); free(w); free(ov); free(drop);
  return rc;
}

/* ---- molecules and alignment -------------------------------------------------------------- */

static int uf_find(int *parent, int i) {
  while (parent[i] != i) i = parent[i] = parent[parent[i]];
  return i;
}

int freq_fragments(int n, const double *x, double bond, int *label) {
  int *parent = malloc((size_t)(n > 0 ? n : 1) * sizeof *parent);
  if (!parent) return -2;
  for (int i = 0; i < n; i++) parent[i] = i;
  double b2 = bond * bond;
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++) {
      double d2 = 0;
      for (int d = 0; d < 3; d++) d2 += (x[3 * i + d] - x[3 * j + d]) * (x[3 * i + d] - x[3 * j + d]);
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

void freq_generic_orientation(int n, double *x) {
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

double freq_rmsd_aligned(int n, const double *a, const double *b) {
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
  freq_jacobi(4, K, w, V);
  double msd = (g - 2 * w[3]) / n;
  return msd > 0 ? sqrt(msd) : 0;
}
