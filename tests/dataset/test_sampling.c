/* test_sampling.c — the numerics of `mlff label` that need no teacher: the random numbers, the
 * Jacobi eigensolver and normal modes (libmlff_distill's harmonic analysis: projection) and the
 * harmonic sampling statistics, rotations, molecular clusters, periodic liquids and the spheres
 * carved from them. */
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

/* Contact dimers: the closest contact is the one asked for, molecules whole; an aligned pair is
 * a translated copy; some aligned pairs are stacked closer (centres) than any centre window of
 * mlff_smp_cluster allows (3.4 Å), the case they exist for. */
static void test_contact_dimers(void) {
  const double *mono[2] = {BZ_X, BZ_X};
  double out[72], again[72], closest_aligned = INFINITY;
  mlff_smp_rng r;
  for (int s = 0; s < 400; s++) {
    double contact = 0.85 + 0.75 * (s % 7) / 6.0;
    int aligned = s % 3; /* random, a copy along a random line, a copy along an axis */
    mlff_smp_rng_seed(&r, 9, 4, (uint64_t)s);
    CHECK(mlff_smp_contact_dimer(&r, 12, BZ_Z, mono, contact, aligned, out) == 0);
    double ratio;
    mlff_smp_min_contact(2, 12, BZ_Z, out, &ratio);
    CHECK(ratio >= contact && ratio < contact + 1e-3);
    for (int m = 0; m < 2; m++) {
      const double *a = out + 36 * m, *b = a + 3;
      CHECK(fabs(sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) +
                      (a[2] - b[2]) * (a[2] - b[2])) - 1.397) < 1e-9);
    }
    double c[2][3];
    for (int m = 0; m < 2; m++) mlff_smp_center_of_mass(12, BZ_Z, out + 36 * m, c[m]);
    double d = sqrt((c[1][0] - c[0][0]) * (c[1][0] - c[0][0]) +
                    (c[1][1] - c[0][1]) * (c[1][1] - c[0][1]) +
                    (c[1][2] - c[0][2]) * (c[1][2] - c[0][2]));
    if (aligned) {
      for (int i = 0; i < 36; i++)
        CHECK(fabs(out[36 + i] - out[i] - (c[1][i % 3] - c[0][i % 3])) < 1e-9);
      if (contact < 1.2 && d < closest_aligned) closest_aligned = d;
    }
    /* the line within the tilt of one of molecule 0's axes (a random line: 4 in 10 would be) */
    if (aligned == MLFF_SMP_ALONG_AXIS) {
      double I[9] = {0}, w[3], V[9], best = 0;
      for (int i = 0; i < 12; i++) {
        const double *p = out + 3 * i, m = mlff_atomic_mass(BZ_Z[i]);
        double q[3] = {p[0] - c[0][0], p[1] - c[0][1], p[2] - c[0][2]};
        for (int a = 0; a < 3; a++)
          for (int b = 0; b < 3; b++)
            I[3 * a + b] += m * ((a == b ? q[0] * q[0] + q[1] * q[1] + q[2] * q[2] : 0) - q[a] * q[b]);
      }
      mlff_jacobi_eigen(3, I, w, V);
      for (int k = 0; k < 3; k++)
        best = fmax(best, fabs((c[1][0] - c[0][0]) * V[k] + (c[1][1] - c[0][1]) * V[3 + k] +
                               (c[1][2] - c[0][2]) * V[6 + k]) / d);
      CHECK(best >= cos(MLFF_SMP_AXIS_TILT_DEG * M_PI / 180.0) - 1e-9);
    }
    if (s == 5) {
      mlff_smp_rng_seed(&r, 9, 4, 5);
      mlff_smp_contact_dimer(&r, 12, BZ_Z, mono, contact, aligned, again);
      CHECK(!memcmp(out, again, sizeof out));
    }
  }
  printf("contact dimers: the closest aligned pair has its centres %.2f A apart\n", closest_aligned);
  CHECK(closest_aligned < 3.4);
  CHECK(mlff_smp_contact_dimer(&r, 12, BZ_Z, mono, 0, 0, out) == -1);
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

static double dist3(const double *a, const double *b) {
  return sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) +
              (a[2] - b[2]) * (a[2] - b[2]));
}

/* Closest contact of a periodic box, as a fraction of the contact distance (2.0 Å x the sum of
 * van der Waals radii / 2.4), over every pair of molecules and every image of the 27 around the
 * box, a molecule's own images included: brute force, independent of the library's minimum
 * images. *across: how many pairs are closer than 1.3 x contact through a boundary. */
static double box_contact(int n_mol, const double *x, double side, int *across) {
  double worst = INFINITY;
  *across = 0;
  for (int m = 0; m < n_mol; m++)
    for (int l = m; l < n_mol; l++)
      for (int img = 0; img < 27; img++) {
        double shift[3] = {side * (img % 3 - 1), side * (img / 3 % 3 - 1), side * (img / 9 - 1)};
        if (l == m && img == 13) continue; /* a molecule with itself */
        double pair = INFINITY;
        for (int i = 0; i < 12; i++)
          for (int j = 0; j < 12; j++) {
            double b[3];
            for (int k = 0; k < 3; k++) b[k] = x[36 * l + 3 * j + k] + shift[k];
            double lim = 2.0 / 2.4 * (mlff_smp_vdw_radius(BZ_Z[i]) + mlff_smp_vdw_radius(BZ_Z[j]));
            pair = fmin(pair, dist3(x + 36 * m + 3 * i, b) / lim);
          }
        worst = fmin(worst, pair);
        if (img != 13 && pair < 1.3) ++*across;
      }
  return worst;
}

/* Periodic liquids: the density asked for, contacts kept across the boundary, molecules whole;
 * spheres carved from them: whole molecules, the nearest ones; rigid thermal motion; the same
 * seed, the same bytes. */
static void test_liquids(void) {
  enum { KEEP = 8, MAXBOX = 64 };
  static double box[MAXBOX * 36], again[MAXBOX * 36], out[KEEP * 36], out2[KEEP * 36];
  const double *mono[MAXBOX];
  for (int m = 0; m < MAXBOX; m++) mono[m] = BZ_X;
  const double mass = 6 * mlff_atomic_mass(6) + 6 * mlff_atomic_mass(1);
  /* 0.6 and 1.1 x liquid benzene, contacts as droplets' (0.9-1.15 x 2.0 Å H..H) */
  struct { double density, contact; } cases[] = {{0.524, 1.15}, {0.874, 1.0}, {0.961, 0.9},
                                                 {0.961, 1.15}};
  for (int c = 0; c < 4; c++) {
    double rho = cases[c].density, contact = cases[c].contact;
    int n_box = mlff_smp_liquid_box_molecules(KEEP, 12, BZ_Z, BZ_X, rho, contact);
    CHECK(n_box >= (int)ceil(2.4 * KEEP) && n_box <= MAXBOX);
    double side = mlff_smp_box_side(n_box, 12, BZ_Z, rho);
    mlff_smp_rng r;
    mlff_smp_rng_seed(&r, 4, 3, (uint64_t)c);
    int cycles = mlff_smp_liquid_box(&r, n_box, 12, BZ_Z, mono, side, contact, 10000, box);
    CHECK(cycles >= 0);
    /* every centre in the box, so the box holds n_box molecules: its density is the one asked */
    for (int m = 0; m < n_box; m++) {
      double cm[3];
      mlff_smp_center_of_mass(12, BZ_Z, box + 36 * m, cm);
      for (int k = 0; k < 3; k++) CHECK(cm[k] >= 0 && cm[k] < side);
      CHECK(fabs(dist3(box + 36 * m, box + 36 * m + 3) - 1.397) < 1e-9); /* rigid, whole */
    }
    double density = n_box * mass * 1.66053906660 / (side * side * side);
    CHECK(fabs(density / rho - 1) < 1e-12);
    int across;
    double worst = box_contact(n_box, box, side, &across);
    printf("liquid box: %d benzenes at %.3f g/cm3 (side %.2f A), contacts >= %.2f: %d cycles, "
           "closest %.3f x contact, %d close pairs across the boundary\n", n_box, density, side,
           contact, cycles, worst, across);
    CHECK(worst >= contact && across > 0);
    /* carve: whole molecules, the KEEP nearest the centre, each once */
    double centre[3] = {0.1 * side, 0.95 * side, 0.5 * side}, radius;
    CHECK(mlff_smp_carve(n_box, 12, BZ_Z, box, side, centre, KEEP, out, &radius) == 0);
    CHECK(radius <= 0.5 * side);
    int used[MAXBOX] = {0};
    for (int j = 0; j < KEEP; j++) {
      const double *o = out + 36 * j;
      int found = -1;
      for (int m = 0; m < n_box && found < 0; m++) {
        /* the same molecule moved by one vector, which is a lattice vector minus the centre */
        double v[3], dev = 0;
        for (int k = 0; k < 3; k++) v[k] = o[k] - box[36 * m + k];
        for (int i = 0; i < 12; i++)
          for (int k = 0; k < 3; k++)
            dev = fmax(dev, fabs(o[3 * i + k] - box[36 * m + 3 * i + k] - v[k]));
        double lat = 0;
        for (int k = 0; k < 3; k++) {
          double n = (v[k] + centre[k]) / side;
          lat = fmax(lat, fabs(n - nearbyint(n)));
        }
        if (dev < 1e-9 && lat < 1e-9) found = m;
      }
      CHECK(found >= 0 && !used[found]);
      used[found] = 1;
      double cj[3], zero[3] = {0, 0, 0};
      mlff_smp_center_of_mass(12, BZ_Z, o, cj);
      CHECK(dist3(cj, zero) <= radius + 1e-9);
    }
    for (int m = 0; m < n_box; m++) { /* left out: no nearer than the farthest kept */
      if (used[m]) continue;
      double cm[3], d2 = 0;
      mlff_smp_center_of_mass(12, BZ_Z, box + 36 * m, cm);
      for (int k = 0; k < 3; k++) {
        double d = cm[k] - centre[k];
        d -= side * nearbyint(d / side);
        d2 += d * d;
      }
      CHECK(sqrt(d2) >= radius - 1e-9);
    }
    double ratio;
    mlff_smp_min_contact(KEEP, 12, BZ_Z, out, &ratio);
    CHECK(ratio >= contact);
    /* thermal motion at 400 K: rigid, contacts kept */
    memcpy(out2, out, sizeof out);
    int moved = mlff_smp_rigid_jitter(&r, KEEP, 12, BZ_Z, out2, 400, contact);
    CHECK(moved > 0 && moved <= KEEP);
    mlff_smp_min_contact(KEEP, 12, BZ_Z, out2, &ratio);
    CHECK(ratio >= contact);
    for (int j = 0; j < KEEP; j++)
      CHECK(fabs(dist3(out2 + 36 * j, out2 + 36 * j + 3) - 1.397) < 1e-9);
    /* the same seed, the same bytes */
    mlff_smp_rng_seed(&r, 4, 3, (uint64_t)c);
    CHECK(mlff_smp_liquid_box(&r, n_box, 12, BZ_Z, mono, side, contact, 10000, again) == cycles);
    CHECK(!memcmp(box, again, (size_t)n_box * 36 * sizeof *box));
  }
  /* A box too small for a molecule and its image, and a sphere too large for its box: refused. */
  mlff_smp_rng r;
  mlff_smp_rng_seed(&r, 4, 3, 9);
  CHECK(mlff_smp_liquid_box(&r, 2, 12, BZ_Z, mono, 7.5, 1.0, 10000, box) == -1); /* < 7.8 A */
  double side = mlff_smp_box_side(20, 12, BZ_Z, 0.874), centre[3] = {0, 0, 0};
  mlff_smp_rng_seed(&r, 4, 3, 10);
  CHECK(mlff_smp_liquid_box(&r, 20, 12, BZ_Z, mono, side, 1.0, 10000, box) >= 0);
  CHECK(mlff_smp_carve(20, 12, BZ_Z, box, side, centre, 20, again, NULL) == -1);
}

/* Rigid thermal motion: its spread follows kT in the cage (0.19 Å per axis for benzene at
 * 300 K, 50 cm^-1), less the moves refused: molecules far apart refuse none. */
static void test_jitter(void) {
  enum { N = 4 };
  double x[N * 36], x0[N * 36], s2 = 0;
  int moves = 0;
  for (int s = 0; s < 500; s++) {
    for (int m = 0; m < N; m++)
      for (int i = 0; i < 12; i++)
        for (int k = 0; k < 3; k++)
          x0[36 * m + 3 * i + k] = BZ_X[3 * i + k] + (k == 0 ? 20.0 * m : 0); /* 20 Å apart */
    memcpy(x, x0, sizeof x);
    mlff_smp_rng r;
    mlff_smp_rng_seed(&r, 8, 3, (uint64_t)s);
    moves += mlff_smp_rigid_jitter(&r, N, 12, BZ_Z, x, 300, 1.0);
    for (int m = 0; m < N; m++) {
      double a[3], b[3];
      mlff_smp_center_of_mass(12, BZ_Z, x0 + 36 * m, a);
      mlff_smp_center_of_mass(12, BZ_Z, x + 36 * m, b);
      for (int k = 0; k < 3; k++) s2 += (b[k] - a[k]) * (b[k] - a[k]);
    }
  }
  double rms = sqrt(s2 / (500.0 * N * 3));
  double w = 2 * M_PI * 2.99792458e-5 * MLFF_SMP_CAGE_CM1, M = 6 * 12.011 + 6 * 1.008;
  double want = sqrt(MLFF_KB_EV * 300 * MLFF_ACC_UNIT / (M * w * w));
  printf("rigid motion at 300 K: %.3f A rms per axis (kT in the cage: %.3f A)\n", rms, want);
  CHECK(moves == 500 * N && fabs(rms / want - 1) < 0.05);
}

/* Frames as MD writes them: molecules wrapped across the boundary made whole again; the
 * tightest contact found across the boundary, with its midpoint. */
static void test_frames(void) {
  enum { N = 8 };
  const double side = 14.0, step = 7.0;
  static double x[N * 36], whole[N * 36];
  for (int m = 0; m < N; m++) /* a 2x2x2 grid of flat benzenes, 7 Å apart */
    for (int i = 0; i < 12; i++)
      for (int k = 0; k < 3; k++)
        whole[36 * m + 3 * i + k] = BZ_X[3 * i + k] + step * ((m >> k) & 1) + (k ? 0.5 : 5.0);
  /* molecule 7 moved 0.54 Å along x: its right H comes within 1.5 Å of the left H of molecule
   * 6's periodic image (0.75 x the contact distance); molecules 1, 3, 5 and 7 cross x = side */
  for (int i = 0; i < 12; i++) whole[36 * 7 + 3 * i] += 0.54;
  memcpy(x, whole, sizeof x);
  for (int n = 0; n < N * 12; n++) /* wrapped into [0, side) */
    for (int k = 0; k < 3; k++) x[3 * n + k] -= side * floor(x[3 * n + k] / side);
  mlff_smp_make_whole(N, 12, x, side);
  for (int m = 0; m < N; m++) /* every molecule whole: its atoms as the monomer's about atom 0 */
    for (int i = 0; i < 12; i++)
      for (int k = 0; k < 3; k++)
        CHECK(fabs((x[36 * m + 3 * i + k] - x[36 * m + k]) -
                   (BZ_X[3 * i + k] - BZ_X[k])) < 1e-9);
  double centre[3];
  double ratio = mlff_smp_tightest_contact(N, 12, BZ_Z, x, side, centre);
  /* brute force over all pairs of atoms and the 27 images */
  double best = INFINITY, mid[3] = {0, 0, 0};
  for (int a = 0; a < N * 12; a++)
    for (int b = 0; b < N * 12; b++) {
      if (a / 12 == b / 12) continue;
      for (int img = 0; img < 27; img++) {
        double d2 = 0, s[3];
        for (int k = 0, code = img; k < 3; k++, code /= 3) s[k] = side * (code % 3 - 1);
        for (int k = 0; k < 3; k++)
          d2 += (x[3 * b + k] + s[k] - x[3 * a + k]) * (x[3 * b + k] + s[k] - x[3 * a + k]);
        double lim = 2.0 / 2.4 * (mlff_smp_vdw_radius(BZ_Z[a % 12]) +
                                  mlff_smp_vdw_radius(BZ_Z[b % 12]));
        if (sqrt(d2) / lim < best - 1e-12) {
          best = sqrt(d2) / lim;
          for (int k = 0; k < 3; k++) {
            mid[k] = 0.5 * (x[3 * a + k] + x[3 * b + k] + s[k]);
            mid[k] -= side * floor(mid[k] / side);
          }
        }
      }
    }
  printf("frames: tightest contact %.4f x the contact distance (brute force %.4f), at %.3f "
         "%.3f %.3f\n", ratio, best, centre[0], centre[1], centre[2]);
  CHECK(fabs(ratio - best) < 1e-12 && ratio < 1.0);
  for (int k = 0; k < 3; k++) CHECK(fabs(centre[k] - mid[k]) < 1e-9);
}

/* The model at path and a CPU calc of it on one thread (the student tests below) */
static void open_cpu_calc(const char *path, mlff_model **m, mlff_calc **c) {
  CHECK(mlff_model_load(path, m) == MLFF_OK);
  mlff_calc_options o;
  mlff_calc_options_default(&o);
  o.device = MLFF_DEVICE_CPU;
  o.n_threads = 1;
  CHECK(mlff_calc_create(*m, &o, c) == MLFF_OK);
}

/* Dynamics driven by a student (mlff_smp_md_init_fn with mlff_model_molecule_forces, model at
 * path): its forces and energy are the model's (mlff_compute), one network's deviation is 0,
 * and without friction (gamma 0: velocity Verlet) a benzene started at 300 K keeps its total
 * energy over 1 ps within 2 % of its kinetic energy, with an error that falls as dt^2 from
 * 0.5 to 0.25 fs: forces and integration agree. */
static void test_student_md(const char *path) {
  mlff_model *m;
  mlff_calc *c;
  open_cpu_calc(path, &m, &c);
  const int n = 12;
  double x[36], f[36], f2[36], v[36], e;
  int Z[12], sp[12];
  for (int k = 0; k < 6; k++) { /* D6h: C-C 1.397 Å, C-H 1.084 Å */
    const double a = k * 3.14159265358979323846 / 3.0;
    for (int h = 0; h < 2; h++) {
      const int i = k + 6 * h;
      const double r = h ? 2.481 : 1.397;
      x[3 * i] = r * cos(a), x[3 * i + 1] = r * sin(a), x[3 * i + 2] = 0.0;
      Z[i] = h ? 1 : 6;
      sp[i] = mlff_model_find_element(m, h ? "H" : "C");
    }
  }
  mlff_model_molecule mol = {c, n, sp, -1.0};
  CHECK(mlff_model_molecule_forces(&mol, x, &e, f) == MLFF_OK);
  mlff_structure s = {n, x, sp, NULL, {0, 0, 0}};
  mlff_result r;
  memset(&r, 0, sizeof r);
  r.forces = f2;
  CHECK(mlff_compute(c, &s, &r) == MLFF_OK);
  CHECK(e == r.energy && mol.max_deviation == 0.0);
  for (int k = 0; k < 3 * n; k++) CHECK(f[k] == f2[k]);
  /* velocity Verlet's energy error goes as dt^2: halving the step quarters it */
  double worst[2], kin = 0;
  for (int pass = 0; pass < 2; pass++) {
    const double dt = pass ? 0.25 : 0.5;
    const int steps = (int)(1000.0 / dt), every = steps / 20;
    mlff_smp_rng rng;
    mlff_smp_rng_seed(&rng, 3, 0, 0);
    for (int i = 0; i < n; i++)
      for (int k = 0; k < 3; k++)
        v[3 * i + k] = sqrt(MLFF_KB_EV * 300.0 * MLFF_ACC_UNIT / mlff_atomic_mass(Z[i])) *
                       mlff_smp_normal(&rng);
    mlff_smp_md md;
    CHECK(mlff_smp_md_init_fn(&md, mlff_model_molecule_forces, &mol, n, Z, x, v, dt, 0.0, 300.0,
                              &rng) == MLFF_OK);
    double e0 = 0;
    worst[pass] = 0;
    for (int step = 0; step <= steps; step += every) {
      if (step) CHECK(mlff_smp_md_step(&md, every) == MLFF_OK);
      kin = 0;
      for (int i = 0; i < n; i++)
        for (int k = 0; k < 3; k++)
          kin += 0.5 * md.mass[i] * md.v[3 * i + k] * md.v[3 * i + k] / MLFF_ACC_UNIT;
      if (!step) e0 = md.energy + kin;
      worst[pass] = fmax(worst[pass], fabs(md.energy + kin - e0));
    }
    CHECK(md.calls == steps + 1);
    mlff_smp_md_free(&md);
  }
  const double ratio = worst[0] / worst[1];
  printf("student dynamics (%s): total energy within %.2e eV over 1 ps at 0.5 fs, %.2e at 0.25 "
         "fs (ratio %.2f; dt^2: 4); kinetic at the end %.3f eV\n", path, worst[0], worst[1],
         ratio, kin);
  CHECK(ratio > 2.5 && ratio < 6.0 && worst[0] < 0.02 * 1.5 * n * MLFF_KB_EV * 300.0);
  CHECK(kin > 0.05);
  mlff_calc_free(c);
  mlff_model_free(m);
}

/* A student on a periodic box (mlff_model_box_forces; 8 benzene molecules packed at 0.6 g/cm^3,
 * model at path): its energy, forces and virial are mlff_compute's with the cell; the pressure
 * of a box at rest, W / 3V, is -dE/dV by central differences of uniform scaling (sign and
 * units: bar); Berendsen's barostat with P far above P0 widens the cell by its 1 % cap, moves
 * molecules rigidly (their centres of mass scaled, bond lengths kept) and leaves the forces of
 * the new positions. */
static void test_student_box(const char *path) {
  mlff_model *m;
  mlff_calc *c;
  open_cpu_calc(path, &m, &c);
  enum { NM = 8, N = NM * 12 };
  const double *mono[NM];
  for (int k = 0; k < NM; k++) mono[k] = BZ_X;
  int Z[N], sp[N];
  for (int i = 0; i < N; i++) {
    Z[i] = BZ_Z[i % 12];
    sp[i] = mlff_model_find_element(m, Z[i] == 6 ? "C" : "H");
  }
  mlff_smp_rng r;
  mlff_smp_rng_seed(&r, 5, 0, 0);
  const double side = mlff_smp_box_side(NM, 12, BZ_Z, 0.6);
  static double x[3 * N], f[3 * N], f2[3 * N], dev[N], xs[3 * N];
  CHECK(mlff_smp_liquid_box(&r, NM, 12, BZ_Z, mono, side, 0.9, 10000, x) >= 0);
  mlff_model_box box = {c, N, sp, {side, 0, 0, 0, side, 0, 0, 0, side}, {0}, dev, -1};
  double e;
  CHECK(mlff_model_box_forces(&box, x, &e, f) == MLFF_OK);
  mlff_structure st = {N, x, sp, box.cell, {1, 1, 1}};
  mlff_result res;
  memset(&res, 0, sizeof res);
  res.forces = f2;
  CHECK(mlff_compute(c, &st, &res) == MLFF_OK);
  CHECK(e == res.energy && !memcmp(f, f2, sizeof f) && !memcmp(box.virial, res.virial, sizeof res.virial));
  CHECK(box.max_deviation == 0 && dev[0] == 0);
  /* the pressure at rest against -dE/dV */
  mlff_smp_md md;
  CHECK(mlff_smp_md_init_fn(&md, mlff_model_box_forces, &box, N, Z, x, NULL, 0.5, 0.0, 300.0, &r) ==
        MLFF_OK);
  const double P = mlff_smp_pressure(&md, &box), h = 1e-4;
  double E[2];
  for (int q = 0; q < 2; q++) {
    const double s = cbrt(1 + (q ? h : -h));
    double cell[9] = {side * s, 0, 0, 0, side * s, 0, 0, 0, side * s};
    for (int i = 0; i < 3 * N; i++) xs[i] = x[i] * s;
    mlff_structure sq = {N, xs, sp, cell, {1, 1, 1}};
    mlff_result rq;
    memset(&rq, 0, sizeof rq);
    CHECK(mlff_compute(c, &sq, &rq) == MLFF_OK);
    E[q] = rq.energy;
  }
  const double V = side * side * side, P_fd = -(E[1] - E[0]) / (2 * h * V) * 1.602176634e6;
  printf("box pressure at rest %.3f bar, -dE/dV %.3f bar\n", P, P_fd);
  CHECK(fabs(P - P_fd) < 1e-4 * fabs(P_fd) + 0.05);
  /* the barostat: P0 far below P widens the box by the cap, molecules rigid */
  double mu;
  memcpy(xs, md.x, sizeof xs);
  CHECK(mlff_smp_berendsen(&md, &box, NM, 12, P - 1e9, 1000.0, 1e-4, 10.0, &mu) == MLFF_OK);
  CHECK(mu == 1.01 && fabs(box.cell[0] - 1.01 * side) < 1e-12 && box.cell[1] == 0);
  for (int k = 0; k < NM; k++) {
    double c0[3], c1[3];
    mlff_smp_center_of_mass(12, BZ_Z, xs + 36 * k, c0);
    mlff_smp_center_of_mass(12, BZ_Z, md.x + 36 * k, c1);
    for (int a = 0; a < 3; a++) CHECK(fabs(c1[a] - 1.01 * c0[a]) < 1e-9);
    CHECK(fabs(dist3(md.x + 36 * k, md.x + 36 * k + 3) - dist3(xs + 36 * k, xs + 36 * k + 3)) < 1e-12);
  }
  mlff_structure s2 = {N, md.x, sp, box.cell, {1, 1, 1}};
  memset(&res, 0, sizeof res);
  res.forces = f2;
  CHECK(mlff_compute(c, &s2, &res) == MLFF_OK);
  CHECK(!memcmp(md.f, f2, sizeof f2) && md.energy == res.energy);
  CHECK(mlff_smp_berendsen(&md, &box, NM, 11, 1.0, 1000.0, 1e-4, 10.0, NULL) == MLFF_ERR_ARGUMENT);
  mlff_smp_md_free(&md);
  mlff_calc_free(c);
  mlff_model_free(m);
}

int main(int argc, char **argv) {
  test_rng();
  test_jacobi();
  test_normal_modes();
  test_clusters();
  test_contact_dimers();
  test_droplets();
  test_liquids();
  test_jitter();
  test_frames();
  if (argc > 1) test_student_md(argv[1]);
  if (argc > 1) test_student_box(argv[1]);
  printf("test_sampling: all passed\n");
  return 0;
}
