/* test_freq.c — libmlff_distill's harmonic analysis, which `mlff eval --freq` and `mlff label`
 * both run, on cases with known answers: the Jacobi eigensolver on matrices of known spectrum,
 * BFGS relaxation and harmonic frequencies of ball-and-spring molecules whose normal modes are
 * known in closed form (a diatomic, an equilateral triangle, a regular tetrahedron; arbitrarily
 * placed and rotated), molecules by connectivity, the aligned RMSD, the mass table, and that
 * labelling's normal-mode sampling and --freq see the same masses. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlff_distill.h"

static int failures;
#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      printf("%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);          \
      failures++;                                                              \
    }                                                                          \
  } while (0)
#define CHECK_CLOSE(a, b, tol)                                                 \
  do {                                                                         \
    double a_ = (a), b_ = (b);                                                 \
    if (!(fabs(a_ - b_) <= (tol))) {                                           \
      printf("%s:%d: %s = %.15g vs %s = %.15g (diff %.3g > %.3g)\n", __FILE__, \
             __LINE__, #a, a_, #b, b_, fabs(a_ - b_), (double)(tol));          \
      failures++;                                                              \
    }                                                                          \
  } while (0)

static uint64_t rng = 2024;
static double urand(void) {
  rng = rng * 6364136223846793005ull + 1442695040888963407ull;
  return (rng >> 11) * 0x1.0p-53;
}

/* Random orthogonal matrix Q [n][n] (Gram-Schmidt of random columns). */
static void random_orthogonal(int n, double *Q) {
  for (int i = 0; i < n * n; i++) Q[i] = 2 * urand() - 1;
  for (int k = 0; k < n; k++) {
    for (int j = 0; j < k; j++) {
      double d = 0;
      for (int i = 0; i < n; i++) d += Q[i * n + j] * Q[i * n + k];
      for (int i = 0; i < n; i++) Q[i * n + k] -= d * Q[i * n + j];
    }
    double s = 0;
    for (int i = 0; i < n; i++) s += Q[i * n + k] * Q[i * n + k];
    s = sqrt(s);
    for (int i = 0; i < n; i++) Q[i * n + k] /= s;
  }
}

static void test_jacobi(void) {
  /* 1. the tridiagonal (-1, 2, -1) matrix: eigenvalues 2 - 2 cos(k pi / (n+1)) */
  enum { N = 20 };
  double A[N * N], A0[N * N], w[N], V[N * N];
  memset(A, 0, sizeof A);
  for (int i = 0; i < N; i++) {
    A[i * N + i] = 2;
    if (i + 1 < N) A[i * N + i + 1] = A[(i + 1) * N + i] = -1;
  }
  memcpy(A0, A, sizeof A);
  int sweeps = mlff_jacobi_eigen(N, A, w, V);
  CHECK(sweeps > 0 && sweeps < 20);
  for (int k = 0; k < N; k++) CHECK_CLOSE(w[k], 2 - 2 * cos((k + 1) * M_PI / (N + 1)), 1e-13);
  /* A V = V diag(w), V orthonormal */
  double worst = 0, orth = 0;
  for (int i = 0; i < N; i++)
    for (int k = 0; k < N; k++) {
      double s = 0, o = 0;
      for (int j = 0; j < N; j++) {
        s += A0[i * N + j] * V[j * N + k];
        o += V[j * N + i] * V[j * N + k];
      }
      worst = fmax(worst, fabs(s - w[k] * V[i * N + k]));
      orth = fmax(orth, fabs(o - (i == k)));
    }
  CHECK(worst < 1e-13);
  CHECK(orth < 1e-13);

  /* 2. Q diag(d) Q^T with a random orthogonal Q, degenerate, zero and negative eigenvalues,
   * 36 x 36 (benzene's Hessian size) */
  enum { M = 36 };
  static double Q[M * M], B[M * M], B0[M * M], wb[M], Vb[M * M], d[M];
  random_orthogonal(M, Q);
  for (int k = 0; k < M; k++) d[k] = k < 6 ? 0.0 : (k < 9 ? -0.5 : (k % 7 == 0 ? 3.0 : 0.1 * k));
  for (int i = 0; i < M; i++)
    for (int j = 0; j < M; j++) {
      double s = 0;
      for (int k = 0; k < M; k++) s += Q[i * M + k] * d[k] * Q[j * M + k];
      B[i * M + j] = s;
    }
  for (int i = 0; i < M; i++) /* exact symmetry */
    for (int j = 0; j < i; j++) B[i * M + j] = B[j * M + i];
  memcpy(B0, B, sizeof B);
  CHECK(mlff_jacobi_eigen(M, B, wb, Vb) > 0);
  double ds[M];
  memcpy(ds, d, sizeof d);
  for (int i = 0; i < M; i++) /* sort the known spectrum */
    for (int j = i + 1; j < M; j++)
      if (ds[j] < ds[i]) {
        double t = ds[i];
        ds[i] = ds[j];
        ds[j] = t;
      }
  for (int k = 0; k < M; k++) CHECK_CLOSE(wb[k], ds[k], 1e-12);
  worst = 0;
  for (int i = 0; i < M; i++)
    for (int k = 0; k < M; k++) {
      double s = 0;
      for (int j = 0; j < M; j++) s += B0[i * M + j] * Vb[j * M + k];
      worst = fmax(worst, fabs(s - wb[k] * Vb[i * M + k]));
    }
  CHECK(worst < 1e-12);

  /* 3. 1 x 1 and an already diagonal matrix */
  double one = 4.5, w1;
  CHECK(mlff_jacobi_eigen(1, &one, &w1, NULL) == 0);
  CHECK(w1 == 4.5);
  double D[9] = {3, 0, 0, 0, -1, 0, 0, 0, 2}, wd[3];
  CHECK(mlff_jacobi_eigen(3, D, wd, NULL) == 0);
  CHECK(wd[0] == -1 && wd[1] == 2 && wd[2] == 3);
}

/* ---- ball-and-spring molecules: E = sum over springs k/2 (r - r0)^2 --------------------- */

typedef struct {
  int n_springs;
  int a[8], b[8];
  double k, r0;
  int calls;
} springs;

static mlff_status spring_forces(void *user, const double *x, double *e, double *f) {
  springs *s = user;
  s->calls++;
  int n = 0;
  for (int q = 0; q < s->n_springs; q++) n = fmax(n, fmax(s->a[q], s->b[q]) + 1);
  memset(f, 0, (size_t)3 * n * sizeof *f);
  *e = 0;
  for (int q = 0; q < s->n_springs; q++) {
    const double *xa = x + 3 * s->a[q], *xb = x + 3 * s->b[q];
    double d[3] = {xb[0] - xa[0], xb[1] - xa[1], xb[2] - xa[2]};
    double r = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
    *e += 0.5 * s->k * (r - s->r0) * (r - s->r0);
    double g = s->k * (r - s->r0) / r; /* dE/dxb = g d */
    for (int c = 0; c < 3; c++) {
      f[3 * s->b[q] + c] -= g * d[c];
      f[3 * s->a[q] + c] += g * d[c];
    }
  }
  return MLFF_OK;
}

/* Rotate (random rotation) and translate geometry x of n atoms; distort each coordinate by up
 * to amp. */
static void place(int n, double *x, double amp) {
  double Q[9];
  random_orthogonal(3, Q);
  double t[3] = {3 * urand() - 1.5, 3 * urand() - 1.5, 3 * urand() - 1.5};
  for (int a = 0; a < n; a++) {
    double p[3] = {x[3 * a], x[3 * a + 1], x[3 * a + 2]};
    for (int r = 0; r < 3; r++)
      x[3 * a + r] = Q[3 * r] * p[0] + Q[3 * r + 1] * p[1] + Q[3 * r + 2] * p[2] + t[r] +
                     amp * (2 * urand() - 1);
  }
}

/* Relax, Hessian, modes (as `mlff eval --freq` does); returns the number of vibrational modes,
 * fills vib and tr with wavenumbers (cm^-1) and *mi with the modes (mlff_modes_free it). */
static int spring_modes(springs *s, int n, double *x, const int *Z, double *vib, mlff_modes *mi,
                        double *tr) {
  mlff_relax_info ri;
  s->calls = 0;
  CHECK(mlff_harmonic_relax(spring_forces, s, n, x, 1e-6, 500, 0.2, &ri) == MLFF_OK);
  CHECK(ri.converged);
  CHECK(ri.fmax < 1e-6);
  CHECK(ri.n_calls == s->calls);
  int N = 3 * n;
  double *H = malloc((size_t)N * N * sizeof *H), asym;
  s->calls = 0;
  CHECK(mlff_harmonic_hessian(spring_forces, s, n, x, 0.005, H, &asym) == MLFF_OK);
  CHECK(s->calls == 6 * n);
  CHECK(asym < 1e-3 * s->k); /* O(h^2) finite-difference error */
  CHECK(mlff_harmonic_modes(n, Z, x, H, mi) == MLFF_OK);
  CHECK(mi->converged);
  for (int k = 0; k < mi->n_vib; k++) vib[k] = mlff_harmonic_wavenumber(mi->lambda[k]);
  for (int k = 0; k < mi->n_tr; k++) tr[k] = mlff_harmonic_wavenumber(mi->tr[k]);
  free(H);
  return mi->n_vib;
}

static void test_springs(void) {
  /* sqrt(eV / (Å² amu)) / (2 pi c) in cm^-1, as tools/freq.c had it (the library's constant is
   * 521.4708984, 2e-8 apart: far inside the tolerances below) */
  const double k = 30.0, r0 = 1.2, cm = 521.47091;
  double vib[12], tr[6];
  mlff_modes mi;

  /* diatomic C-O: one mode, sqrt(k / mu), linear (5 modes projected out) */
  {
    springs s = {1, {0}, {1}, k, r0, 0};
    double x[6] = {0, 0, 0, 1.5, 0, 0};
    const int Z[2] = {6, 8};
    double m[2] = {mlff_atomic_mass(6), mlff_atomic_mass(8)};
    place(2, x, 0.0);
    int nv = spring_modes(&s, 2, x, Z, vib, &mi, tr);
    CHECK(nv == 1 && mi.linear && mi.n_tr == 5);
    double mu = m[0] * m[1] / (m[0] + m[1]);
    CHECK_CLOSE(vib[0], cm * sqrt(k / mu), 1e-3 * cm * sqrt(k / mu));
    for (int t = 0; t < mi.n_tr; t++) CHECK(fabs(tr[t]) < 1.0);
    mlff_modes_free(&mi);
  }

  /* equilateral triangle of equal masses, three springs: breathing sqrt(3k/m), a degenerate
   * pair sqrt(3k/2m); started distorted and rotated */
  {
    springs s = {3, {0, 1, 2}, {1, 2, 0}, k, r0, 0};
    double x[9] = {0, 0, 0, 1.3, 0.1, 0, 0.5, 1.0, 0.05};
    const int Z[3] = {6, 6, 6};
    double mm = mlff_atomic_mass(6);
    place(3, x, 0.05);
    int nv = spring_modes(&s, 3, x, Z, vib, &mi, tr);
    CHECK(nv == 3 && !mi.linear && mi.n_tr == 6 && mi.n_imaginary == 0);
    double e = cm * sqrt(1.5 * k / mm), a = cm * sqrt(3 * k / mm);
    CHECK_CLOSE(vib[0], e, 1e-4 * e);
    CHECK_CLOSE(vib[1], e, 1e-4 * e);
    CHECK_CLOSE(vib[2], a, 1e-4 * a);
    for (int t = 0; t < 6; t++) CHECK(fabs(tr[t]) < 1.0);
    mlff_modes_free(&mi);
  }

  /* regular tetrahedron, six springs: E sqrt(k/m) x2, T2 sqrt(2k/m) x3, A1 sqrt(4k/m) */
  {
    springs s = {6, {0, 0, 0, 1, 1, 2}, {1, 2, 3, 2, 3, 3}, k, r0, 0};
    double x[12] = {1, 1, 1, 1, -1, -1, -1, 1, -1, -1, -1, 1};
    for (int i = 0; i < 12; i++) x[i] *= r0 / sqrt(8.0) * 1.1;
    const int Z[4] = {1, 1, 1, 1};
    double mm = mlff_atomic_mass(1);
    place(4, x, 0.1);
    int nv = spring_modes(&s, 4, x, Z, vib, &mi, tr);
    CHECK(nv == 6 && !mi.linear && mi.n_imaginary == 0);
    double want[6] = {1, 1, 2, 2, 2, 4};
    for (int q = 0; q < 6; q++) {
      double f = cm * sqrt(want[q] * k / mm);
      CHECK_CLOSE(vib[q], f, 1e-4 * f);
    }
    mlff_modes_free(&mi);
  }

  /* a linear triatomic (C-C-C, two springs): 3N-5 = 4 modes: a zero-stiffness bend pair
   * (springs alone do not resist bending), symmetric stretch sqrt(k/m), antisymmetric sqrt(3k/m) */
  {
    springs s = {2, {0, 1}, {1, 2}, k, r0, 0};
    double x[9] = {-1.25, 0, 0, 0, 0, 0, 1.3, 0, 0};
    const int Z[3] = {6, 6, 6};
    double mm = mlff_atomic_mass(6);
    place(3, x, 0.0);
    int nv = spring_modes(&s, 3, x, Z, vib, &mi, tr);
    CHECK(nv == 4 && mi.linear && mi.n_tr == 5);
    CHECK(fabs(vib[0]) < 10.0 && fabs(vib[1]) < 10.0); /* quartic: finite differences see ~3 */
    CHECK_CLOSE(vib[2], cm * sqrt(k / mm), 1e-4 * cm * sqrt(k / mm));
    CHECK_CLOSE(vib[3], cm * sqrt(3 * k / mm), 1e-4 * cm * sqrt(3 * k / mm));
    mlff_modes_free(&mi);
  }
}

/* BFGS gives up cleanly: a max_steps cap is reported, not an error. */
static void test_relax_cap(void) {
  springs s = {3, {0, 1, 2}, {1, 2, 0}, 30.0, 1.2, 0};
  double x[9] = {0, 0, 0, 2.0, 0.1, 0, 0.5, 1.9, 0.05};
  mlff_relax_info ri;
  CHECK(mlff_harmonic_relax(spring_forces, &s, 3, x, 1e-6, 2, 0.2, &ri) == MLFF_OK);
  CHECK(!ri.converged && ri.steps == 2 && ri.n_calls == 3 && ri.fmax > 1e-6);
}

static void test_fragments_rmsd(void) {
  /* two "molecules" 3 Å apart and a lone atom */
  double x[] = {0, 0, 0, 1.0, 0, 0, 1.5, 1.2, 0,   /* chain of bonds < 1.6 */
                0, 0, 4.0, 1.1, 0, 4.0,            /* a second pair */
                10, 10, 10};
  int label[6];
  CHECK(mlff_fragments(6, x, 1.6, label) == 3);
  CHECK(label[0] == 0 && label[1] == 0 && label[2] == 0);
  CHECK(label[3] == 1 && label[4] == 1 && label[5] == 2);
  /* an interleaved order: molecules are numbered by their first atom */
  double y[] = {0, 0, 0, 5, 0, 0, 1, 0, 0, 5, 1, 0};
  int ly[4];
  CHECK(mlff_fragments(4, y, 1.6, ly) == 2);
  CHECK(ly[0] == 0 && ly[1] == 1 && ly[2] == 0 && ly[3] == 1);

  /* RMSD: a rotated and translated copy is at 0; a known perturbation is recovered */
  double a[15], b[15];
  for (int i = 0; i < 15; i++) a[i] = 3 * urand();
  memcpy(b, a, sizeof a);
  place(5, b, 0.0);
  CHECK(mlff_rmsd_aligned(5, a, b) < 1e-7);
  double c[6] = {0, 0, 0, 1, 0, 0}, d[6] = {0, 0, 0, 1.2, 0, 0};
  CHECK_CLOSE(mlff_rmsd_aligned(2, c, d), 0.1, 1e-7); /* centred: each atom off by 0.1 */
}

static void test_masses(void) {
  CHECK_CLOSE(mlff_atomic_mass(1), 1.008, 0);
  CHECK_CLOSE(mlff_atomic_mass(6), 12.011, 0);
  CHECK_CLOSE(mlff_atomic_mass(7), 14.007, 0);
  CHECK_CLOSE(mlff_atomic_mass(8), 15.999, 0);
  CHECK_CLOSE(mlff_atomic_mass(17), 35.45, 0);
  CHECK_CLOSE(mlff_atomic_mass(53), 126.90447, 0);
  CHECK(mlff_atomic_mass(0) == 0 && mlff_atomic_mass(92) == 0);
  /* the elements whose masses the two former tables disagreed on, and the ones tools/freq.c
   * lacked (55..86) */
  CHECK_CLOSE(mlff_atomic_mass(9), 18.998403163, 0);
  CHECK_CLOSE(mlff_atomic_mass(43), 97.90721, 0); /* 98Tc */
  CHECK_CLOSE(mlff_atomic_mass(54), 131.293, 0);
  CHECK_CLOSE(mlff_atomic_mass(55), 132.90545196, 0);
  CHECK_CLOSE(mlff_atomic_mass(79), 196.966569, 0);
  CHECK_CLOSE(mlff_atomic_mass(86), 222.01758, 0); /* 222Rn */
  CHECK(mlff_atomic_mass(87) == 0 && mlff_atomic_mass(-1) == 0);
  /* the wavenumber unit from CODATA: sqrt(eV / (1e-20 m² amu)) / (2 pi c) */
  CHECK_CLOSE(MLFF_CM1_PER_SQRT_EV_A2_AMU,
              sqrt(1.602176634e-19 / (1e-20 * 1.66053906660e-27)) / (2 * M_PI * 2.99792458e10),
              1e-9);
  CHECK_CLOSE(mlff_harmonic_wavenumber(-4.0), -2 * MLFF_CM1_PER_SQRT_EV_A2_AMU, 1e-12);
}

/* `mlff label` (normal-mode samples) and `mlff eval --freq` had a mass table each, which
 * disagreed (F, Na, P, I, Xe by 8-35 ppm, Tc by 0.09 %, ...); both now run mlff_harmonic_modes,
 * which takes its masses from mlff_atomic_mass. Checked on elements of those differences. */
static void test_same_masses(void) {
  /* IUPAC 2013 standard atomic weights, written out: H, F, Na, P, Tc (98Tc), I */
  const int Z[6] = {1, 9, 11, 15, 43, 53};
  const double iupac[6] = {1.008, 18.998403163, 22.98976928, 30.973761998, 97.90721, 126.90447};
  const double k = 30.0, r0 = 1.6;

  /* 1. diatomics H-X from an analytic Hessian: the one mode at k / mu with those masses, to the
   * eigensolver's precision (the old label table moves H-Tc by 1e-5, H-I by 3e-7) */
  for (int e = 1; e < 6; e++) {
    const int Zd[2] = {Z[0], Z[e]};
    double x[6] = {0, 0, 0, r0, 0, 0}, H[36] = {0};
    for (int a = 0; a < 2; a++)
      for (int b = 0; b < 2; b++) H[3 * a * 6 + 3 * b] = a == b ? k : -k; /* along x */
    mlff_modes m;
    CHECK(mlff_harmonic_modes(2, Zd, x, H, &m) == MLFF_OK);
    double mu = iupac[0] * iupac[e] / (iupac[0] + iupac[e]);
    CHECK(m.n_vib == 1 && m.linear && m.mass[1] == iupac[e]);
    CHECK_CLOSE(m.lambda[0], k / mu, 1e-12 * k / mu);
    mlff_modes_free(&m);
  }

  /* 2. a tetrahedron H, F, Tc, I of springs through --freq's path (BFGS, finite-difference
   * Hessian, modes), then label's sampler on those modes: it moves no centre of mass and gives no
   * momentum with the IUPAC masses (either table's I or Tc in the other's place breaks all three
   * by far). That both tools' paths find the same frequencies: test_freq_xtb (the teacher). */
  const int Zt[4] = {Z[0], Z[1], Z[4], Z[5]};
  const double mt[4] = {iupac[0], iupac[1], iupac[4], iupac[5]};
  springs s = {6, {0, 0, 0, 1, 1, 2}, {1, 2, 3, 2, 3, 3}, k, r0, 0};
  double x[12] = {1, 1, 1, 1, -1, -1, -1, 1, -1, -1, -1, 1}, vib[12], tr[6];
  for (int i = 0; i < 12; i++) x[i] *= r0 / sqrt(8.0) * 1.05;
  place(4, x, 0.05);
  mlff_modes mf;
  CHECK(spring_modes(&s, 4, x, Zt, vib, &mf, tr) == 6);
  CHECK(mf.n_imaginary == 0 && mf.lambda[0] > MLFF_SMP_MIN_EIGEN); /* all 6 sampled */
  double M = 0, p[3] = {0, 0, 0}, dcom[3] = {0, 0, 0}, xs[12], v[12], pscale = 0;
  mlff_smp_rng r;
  mlff_smp_rng_seed(&r, 11, 0, 0);
  mlff_smp_modes_sample(&mf, &r, 300, xs, v);
  for (int i = 0; i < 4; i++) {
    CHECK(mf.mass[i] == mlff_atomic_mass(Zt[i]) && mf.mass[i] == mt[i]);
    M += mt[i];
    for (int c = 0; c < 3; c++) {
      p[c] += mt[i] * v[3 * i + c];
      dcom[c] += mt[i] * (xs[3 * i + c] - x[3 * i + c]);
      pscale += mt[i] * fabs(v[3 * i + c]);
    }
  }
  for (int c = 0; c < 3; c++) {
    CHECK(fabs(p[c]) < 1e-12 * pscale);
    CHECK(fabs(dcom[c] / M) < 1e-12);
  }
  /* clusters are placed about the centre of mass with the same masses */
  double com[3], want[3] = {0, 0, 0};
  mlff_smp_center_of_mass(4, Zt, x, com);
  for (int i = 0; i < 4; i++)
    for (int c = 0; c < 3; c++) want[c] += mt[i] * x[3 * i + c];
  for (int c = 0; c < 3; c++) CHECK_CLOSE(com[c], want[c] / M, 1e-13);
  mlff_modes_free(&mf);
}

int main(void) {
  test_jacobi();
  test_springs();
  test_relax_cap();
  test_fragments_rmsd();
  test_masses();
  test_same_masses();
  if (failures) {
    printf("test_freq: %d failure(s)\n", failures);
    return 1;
  }
  printf("test_freq: ok\n");
  return 0;
}
