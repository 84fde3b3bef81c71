/* test_sampling.c — the numerics of `mlff label` that need no teacher: the random numbers, the
 * Jacobi eigensolver and normal modes (libmlff_distill's harmonic analysis: projection) and the
 * harmonic sampling statistics, rotations and molecular clusters. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_test.h"
#include "mlff_distill.h"

static void test_rng(void) {
  mlff_smp_rng a, b, c;
  mlff_smp_rng_seed(&a, 7, 1, 42);
  mlff_smp_rng_seed(&b, 7, 1, 42);
  mlff_smp_rng_seed(&c, 7, 1, 43);
  int differ = 0;
  for (int i = 0; i < 100; i++) {
    uint64_t x = mlff_smp_rng_next(&a), y = mlff_smp_rng_next(&b), z = mlff_smp_rng_next(&c);
    CHECK(x == y);
    differ += x != z;
  }
  CHECK(differ == 100);
  double s = 0, s2 = 0, u = 0;
  const int n = 200000;
  for (int i = 0; i < n; i++) {
    double g = mlff_smp_normal(&a);
    s += g;
    s2 += g * g;
    double v = mlff_smp_uniform(&a);
    CHECK(v >= 0 && v < 1);
    u += v;
  }
  CHECK(fabs(s / n) < 0.01 && fabs(s2 / n - 1) < 0.01 && fabs(u / n - 0.5) < 0.005);
}

static void test_jacobi(void) {
  const int n = 24;
  double *A = malloc(n * n * sizeof *A), *B = malloc(n * n * sizeof *B);
  double *V = malloc(n * n * sizeof *V), w[24];
  mlff_smp_rng r;
  mlff_smp_rng_seed(&r, 1, 2, 3);
  for (int i = 0; i < n; i++)
    for (int j = 0; j <= i; j++) A[i * n + j] = A[j * n + i] = mlff_smp_normal(&r);
  A[0] = A[n + 1] = 2.5; /* a near-degenerate pair */
  A[1] = A[n] = 0;
  memcpy(B, A, n * n * sizeof *A);
  int sweeps = mlff_jacobi_eigen(n, B, w, V);
  CHECK(sweeps > 0 && sweeps < 20);
  double res = 0, orth = 0;
  for (int k = 0; k < n; k++) {
    if (k) CHECK(w[k] >= w[k - 1]);
    for (int i = 0; i < n; i++) {
      double av = 0;
      for (int j = 0; j < n; j++) av += A[i * n + j] * V[j * n + k];
      res = fmax(res, fabs(av - w[k] * V[i * n + k]));
    }
    for (int l = 0; l < n; l++) {
      double d = 0;
      for (int i = 0; i < n; i++) d += V[i * n + k] * V[i * n + l];
      orth = fmax(orth, fabs(d - (k == l)));
    }
  }
  printf("jacobi: %d sweeps, residual %.1e, orthonormality %.1e\n", sweeps, res, orth);
  CHECK(res < 1e-10 && orth < 1e-12);
  free(A);
  free(B);
  free(V);
}

/* A rigid 3-D network of springs between all pairs: 3N-6 positive modes. */
static void test_normal_modes(void) {
  enum { N = 8 };
  int Z[N] = {6, 1, 1, 8, 7, 6, 1, 1};
  double x[3 * N];
  mlff_smp_rng r;
  mlff_smp_rng_seed(&r, 5, 0, 0);
  for (int i = 0; i < 3 * N; i++) x[i] = 2.0 * mlff_smp_normal(&r);
  static double H[9 * N * N];
  memset(H, 0, sizeof H);
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++) {
      if (i == j) continue;
      double u[3], d = 0, k = 5.0 + i + j;
      for (int c = 0; c < 3; c++) {
        u[c] = x[3 * j + c] - x[3 * i + c];
        d += u[c] * u[c];
      }
      for (int c = 0; c < 3; c++) u[c] /= sqrt(d);
      for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
          H[(3 * i + a) * 3 * N + 3 * j + b] -= k * u[a] * u[b];
          H[(3 * i + a) * 3 * N + 3 * i + b] += k * u[a] * u[b];
        }
    }
  mlff_modes m;
  CHECK_OK(mlff_harmonic_modes(N, Z, x, H, &m));
  CHECK(m.n_vib == 3 * N - 6 && m.n_imaginary == 0);
  CHECK(m.lambda[0] > MLFF_SMP_MIN_EIGEN); /* every mode is sampled */
  /* Classical harmonic samples: <E_pot> = <E_kin> = n_modes kT / 2. */
  const double T = 500, kT = MLFF_KB_EV * T;
  double epot = 0, ekin = 0, xs[3 * N], v[3 * N];
  const int samples = 4000;
  for (int s = 0; s < samples; s++) {
    mlff_smp_rng_seed(&r, 9, 1, (uint64_t)s);
    mlff_smp_modes_sample(&m, &r, T, xs, v);
    double e = 0, p[3] = {0, 0, 0};
    for (int i = 0; i < 3 * N; i++)
      for (int j = 0; j < 3 * N; j++) e += 0.5 * (xs[i] - x[i]) * H[i * 3 * N + j] * (xs[j] - x[j]);
    epot += e;
    for (int i = 0; i < N; i++)
      for (int c = 0; c < 3; c++) {
        ekin += 0.5 * mlff_atomic_mass(Z[i]) * v[3 * i + c] * v[3 * i + c] / MLFF_ACC_UNIT;
        p[c] += mlff_atomic_mass(Z[i]) * v[3 * i + c];
      }
    for (int c = 0; c < 3; c++) CHECK(fabs(p[c]) < 1e-10); /* no centre-of-mass motion */
  }
  epot /= samples * 0.5 * m.n_vib * kT;
  ekin /= samples * 0.5 * m.n_vib * kT;
  printf("normal modes: %d, %.0f-%.0f cm^-1; <E_pot>, <E_kin> / (n kT/2) = %.3f, %.3f\n",
         m.n_vib, mlff_harmonic_wavenumber(m.lambda[0]),
         mlff_harmonic_wavenumber(m.lambda[m.n_vib - 1]), epot, ekin);
  CHECK(fabs(epot - 1) < 0.05 && fabs(ekin - 1) < 0.05);
  mlff_modes_free(&m);
}

static const int BZ_Z[12] = {6, 6, 6, 6, 6, 6, 1, 1, 1, 1, 1, 1};
static const double BZ_X[36] = {
    1.397, 0, 0, 0.6985, 1.2098374891, 0, -0.6985, 1.2098374891, 0, -1.397, 0, 0,
    -0.6985, -1.2098374891, 0, 0.6985, -1.2098374891, 0, 2.481, 0, 0, 1.2405, 2.1486090268, 0,
    -1.2405, 2.1486090268, 0, -2.481, 0, 0, -1.2405, -2.1486090268, 0, 1.2405, -2.1486090268, 0};

static void test_clusters(void) {
  double R[9];
  mlff_smp_rng r;
  mlff_smp_rng_seed(&r, 3, 3, 3);
  mlff_smp_random_rotation(&r, R);
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++) {
      double d = 0;
      for (int k = 0; k < 3; k++) d += R[3 * i + k] * R[3 * j + k];
      CHECK(fabs(d - (i == j)) < 1e-12);
    }
  const double *mono[4] = {BZ_X, BZ_X, BZ_X, BZ_X};
  double out[4 * 36];
  struct { int n_mol; double dmin, dmax; } kinds[] = {{2, 3.4, 7}, {2, 8, 12}, {3, 3.4, 7}, {4, 3.4, 7}};
  for (int kind = 0; kind < 4; kind++)
    for (int s = 0; s < 50; s++) {
      mlff_smp_rng_seed(&r, 1, 2, (uint64_t)(100 * kind + s));
      int n_mol = kinds[kind].n_mol;
      int tries = mlff_smp_cluster(&r, n_mol, 12, BZ_Z, mono, kinds[kind].dmin, kinds[kind].dmax,
                                   100000, out);
      CHECK(tries >= n_mol);
      double ratio;
      mlff_smp_min_contact(n_mol, 12, BZ_Z, out, &ratio);
      CHECK(ratio >= 1.0);
      /* Every molecule is intact (a rigid rotation of the monomer: C-C 1.397 Å)... */
      for (int m = 0; m < n_mol; m++) {
        const double *a = out + 36 * m, *b = a + 3;
        double d = sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) +
                        (a[2] - b[2]) * (a[2] - b[2]));
        CHECK(fabs(d - 1.397) < 1e-9);
      }
      /* ... and each after the first has its centre dmin..dmax from an earlier one. */
      double c[4][3];
      for (int m = 0; m < n_mol; m++) mlff_smp_center_of_mass(12, BZ_Z, out + 36 * m, c[m]);
      for (int m = 1; m < n_mol; m++) {
        int near = 0;
        for (int l = 0; l < m; l++) {
          double d = sqrt((c[m][0] - c[l][0]) * (c[m][0] - c[l][0]) +
                          (c[m][1] - c[l][1]) * (c[m][1] - c[l][1]) +
                          (c[m][2] - c[l][2]) * (c[m][2] - c[l][2]));
          near |= d >= kinds[kind].dmin - 1e-9 && d <= kinds[kind].dmax + 1e-9;
        }
        CHECK(near);
      }
    }
  /* The same (seed, index) gives the same cluster. */
  double again[4 * 36];
  mlff_smp_rng_seed(&r, 1, 2, 7);
  mlff_smp_cluster(&r, 3, 12, BZ_Z, mono, 3.4, 7, 100000, out);
  mlff_smp_rng_seed(&r, 1, 2, 7);
  mlff_smp_cluster(&r, 3, 12, BZ_Z, mono, 3.4, 7, 100000, again);
  CHECK(!memcmp(out, again, 3 * 36 * sizeof *out));
}

/* Droplets: liquid-like contacts kept, molecules whole, and dense: the most central molecule
 * has a first shell (liquid benzene: about 12 centres within 7.5 Å). */
static void test_droplets(void) {
  enum { NM = 13 };
  const double *mono[NM];
  for (int m = 0; m < NM; m++) mono[m] = BZ_X;
  double out[NM * 36], again[NM * 36];
  double radius = mlff_smp_droplet_radius(NM, 12, BZ_Z, 0.874);
  /* 13 benzenes (78.11 amu) at 0.874 g/cm^3: 148.4 A^3 each, a sphere of 7.72 A */
  CHECK(fabs(radius - 7.72) < 0.01);
  int worst_shell = NM;
  for (int s = 0; s < 10; s++) {
    mlff_smp_rng r;
    mlff_smp_rng_seed(&r, 5, 2, (uint64_t)s);
    double contact = s % 2 ? 1.15 : 0.9;
    CHECK(mlff_smp_droplet(&r, NM, 12, BZ_Z, mono, 3.4, 7, radius, contact, 10000, out) >= NM);
    double ratio;
    mlff_smp_min_contact(NM, 12, BZ_Z, out, &ratio);
    CHECK(ratio >= contact);
    double c[NM][3];
    int central = 0;
    for (int m = 0; m < NM; m++) {
      const double *a = out + 36 * m, *b = a + 3;
      CHECK(fabs(sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) +
                      (a[2] - b[2]) * (a[2] - b[2])) - 1.397) < 1e-9);
      mlff_smp_center_of_mass(12, BZ_Z, a, c[m]);
      if (c[m][0] * c[m][0] + c[m][1] * c[m][1] + c[m][2] * c[m][2] <
          c[central][0] * c[central][0] + c[central][1] * c[central][1] +
              c[central][2] * c[central][2])
        central = m;
    }
    int shell = 0;
    for (int m = 0; m < NM; m++) {
      double d2 = 0;
      for (int k = 0; k < 3; k++) d2 += (c[m][k] - c[central][k]) * (c[m][k] - c[central][k]);
      shell += m != central && d2 < 7.5 * 7.5;
    }
    if (shell < worst_shell) worst_shell = shell;
    if (s == 0) {
      mlff_smp_rng_seed(&r, 5, 2, 0);
      mlff_smp_droplet(&r, NM, 12, BZ_Z, mono, 3.4, 7, radius, contact, 10000, again);
      CHECK(!memcmp(out, again, sizeof out));
    }
  }
  printf("droplets: the central molecule has at least %d neighbours within 7.5 A\n", worst_shell);
  CHECK(worst_shell >= 8);
}

int main(void) {
  test_rng();
  test_jacobi();
  test_normal_modes();
  test_clusters();
  test_droplets();
  printf("test_sampling: all passed\n");
  return 0;
}
