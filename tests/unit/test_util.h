/* test_util.h — shared by the unit tests: a CHECK macro and the structures the tests use
 * (benzene, a dimer, a periodic box of liquid-like benzene), built from geometry alone. */
#ifndef MLFF_TEST_UTIL_H
#define MLFF_TEST_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlff_distill.h"

static int test_failures;
#define CHECK(cond)                                                              \
  do {                                                                           \
    if (!(cond)) {                                                               \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
      test_failures++;                                                           \
    }                                                                            \
  } while (0)
#define CHECK_OK(call)                                                                   \
  do {                                                                                   \
    mlff_status st_ = (call);                                                            \
    if (st_ != MLFF_OK) {                                                                \
      fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, mlff_last_error()); \
      exit(1);                                                                           \
    }                                                                                    \
  } while (0)
#define CHECK_CLOSE(a, b, tol)                                                              \
  do {                                                                                      \
    double a_ = (a), b_ = (b);                                                              \
    if (!(fabs(a_ - b_) <= (tol))) {                                                        \
      fprintf(stderr, "%s:%d: %s = %.15g vs %s = %.15g (diff %.3g > %.3g)\n", __FILE__,      \
              __LINE__, #a, a_, #b, b_, fabs(a_ - b_), (double)(tol));                      \
      test_failures++;                                                                      \
    }                                                                                       \
  } while (0)

/* A test structure that owns its arrays. Species: 0 = C, 1 = H (model elements {"C","H"}). */
typedef struct {
  int n;
  double *x;
  int *species;
  double cell[9];
  int periodic;
} tstruct;

static mlff_structure tview(const tstruct *t) {
  mlff_structure s = {t->n, t->x, t->species, t->periodic ? t->cell : NULL, {0, 0, 0}};
  if (t->periodic) s.pbc[0] = s.pbc[1] = s.pbc[2] = 1;
  return s;
}

static void tfree(tstruct *t) { free(t->x); free(t->species); }

static uint64_t trng_state = 12345;
static double trand(void) { /* uniform in [0,1), seeded, for reproducible geometry */
  trng_state = trng_state * 6364136223846793005ull + 1442695040888963407ull;
  return (trng_state >> 11) * 0x1.0p-53;
}

/* Random rotation matrix (uniform via a random unit quaternion). */
static void random_rotation(double R[9]) {
  double u1 = trand(), u2 = 2 * M_PI * trand(), u3 = 2 * M_PI * trand();
  double a = sqrt(1 - u1) * sin(u2), b = sqrt(1 - u1) * cos(u2), c = sqrt(u1) * sin(u3),
         d = sqrt(u1) * cos(u3);
  double q[4] = {d, a, b, c}; /* w x y z */
  double w = q[0], x = q[1], y = q[2], z = q[3];
  double M[9] = {1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
                 2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
                 2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)};
  memcpy(R, M, sizeof M);
}

/* Append one benzene (C-C 1.397 Å, C-H 1.084 Å), rotated by R and centred at c, slightly
 * distorted (amplitude jitter Å) so that forces are not zero by symmetry. */
static void add_benzene(tstruct *t, const double R[9], const double c[3], double jitter) {
  t->x = realloc(t->x, 3 * sizeof(double) * (t->n + 12));
  t->species = realloc(t->species, sizeof(int) * (t->n + 12));
  for (int k = 0; k < 12; k++) {
    int ring = k % 6;
    double rad = k < 6 ? 1.397 : 1.397 + 1.084;
    double p[3] = {rad * cos(ring * M_PI / 3), rad * sin(ring * M_PI / 3), 0};
    for (int d = 0; d < 3; d++) p[d] += jitter * (2 * trand() - 1);
    double *x = t->x + 3 * (t->n + k);
    for (int d = 0; d < 3; d++) x[d] = c[d] + R[3 * d] * p[0] + R[3 * d + 1] * p[1] + R[3 * d + 2] * p[2];
    t->species[t->n + k] = k < 6 ? 0 : 1;
  }
  t->n += 12;
}

static tstruct make_benzene(void) {
  tstruct t = {0};
  double I[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1}, c[3] = {0, 0, 0};
  add_benzene(&t, I, c, 0.05);
  return t;
}

/* Parallel-displaced dimer, 3.8 Å apart. */
static tstruct make_dimer(void) {
  tstruct t = {0};
  double I[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1}, c0[3] = {0, 0, 0}, c1[3] = {1.2, 0.3, 3.6};
  add_benzene(&t, I, c0, 0.05);
  add_benzene(&t, I, c1, 0.05);
  return t;
}

/* n^3 randomly rotated molecules on a lattice of spacing a, periodic; the cell is skewed by
 * tilt (a fraction of a) to exercise triclinic images. */
static tstruct make_liquid(int n, double a, double tilt) {
  tstruct t = {0};
  t.periodic = 1;
  double L = n * a;
  double cell[9] = {L, 0, 0, tilt * L, L, 0, 0.5 * tilt * L, -0.3 * tilt * L, L};
  memcpy(t.cell, cell, sizeof cell);
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++)
      for (int k = 0; k < n; k++) {
        double R[9], f[3] = {(i + 0.5) / n, (j + 0.5) / n, (k + 0.5) / n}, c[3];
        random_rotation(R);
        for (int d = 0; d < 3; d++) c[d] = f[0] * cell[d] + f[1] * cell[3 + d] + f[2] * cell[6 + d];
        add_benzene(&t, R, c, 0.05);
      }
  return t;
}

/* Random C/H model of modest size (fast tests). */
static mlff_model *make_model(const char *const *elements, uint64_t seed) {
  mlff_model_spec spec = {0};
  int hidden[3] = {32, 24, 16};
  spec.n_elements = 2;
  spec.elements = elements;
  spec.n_hidden = 3;
  spec.hidden = hidden;
  spec.activation = MLFF_ACT_SILU;
  mlff_descriptor_params_ani1x(&spec.descriptor);
  spec.seed = seed;
  mlff_model *m;
  CHECK_OK(mlff_model_create(&spec, &m));
  return m;
}

static const char *const CH[] = {"C", "H"};

static inline double energy_of(mlff_calc *c, const tstruct *t) {
  mlff_structure s = tview(t);
  mlff_result r = {0};
  CHECK_OK(mlff_compute(c, &s, &r));
  return r.energy;
}

static inline void deform(tstruct *t, int a, int b, double eps) { /* x_b += eps * x_a */
  for (int i = 0; i < t->n; i++) t->x[3 * i + b] += eps * t->x[3 * i + a];
  if (t->periodic)
    for (int v = 0; v < 3; v++) t->cell[3 * v + b] += eps * t->cell[3 * v + a];
}

/* Forces and virial of c on t against central finite differences of the energy (every
 * stride-th atom), and per-atom energies and virials against the totals. */
static inline void check_fd(mlff_calc *c, tstruct *t, const char *name, int stride) {
  mlff_structure s = tview(t);
  double *F = malloc(3 * sizeof(double) * t->n), *ea = malloc(sizeof(double) * t->n),
         *va = malloc(6 * sizeof(double) * t->n);
  mlff_result r = {.forces = F, .energy_atom = ea, .virial_atom = va};
  CHECK_OK(mlff_compute(c, &s, &r));
  const double h = 1e-5;
  double fmax = 0, errmax = 0;
  for (int i = 0; i < t->n; i += stride)
    for (int d = 0; d < 3; d++) {
      double x0 = t->x[3 * i + d];
      t->x[3 * i + d] = x0 + h;
      double ep = energy_of(c, t);
      t->x[3 * i + d] = x0 - h;
      double em = energy_of(c, t);
      t->x[3 * i + d] = x0;
      double fd = -(ep - em) / (2 * h);
      fmax = fmax > fabs(fd) ? fmax : fabs(fd);
      errmax = errmax > fabs(fd - F[3 * i + d]) ? errmax : fabs(fd - F[3 * i + d]);
      CHECK_CLOSE(F[3 * i + d], fd, 1e-7 + 1e-6 * fabs(fd));
    }
  printf("%-8s %4d atoms  E = %.8f eV  max|F| %.4f eV/Å  max|F - FD| %.2e eV/Å\n", name, t->n,
         r.energy, fmax, errmax);
  CHECK(fmax > 1e-3); /* a test of forces that are all zero would prove nothing */
  /* virial: W_ab = -dE/d(eps) for x_b += eps x_a */
  for (int a = 0; a < 3; a++)
    for (int b = 0; b < 3; b++) {
      static const int comp[3][3] = {{0, 3, 4}, {3, 1, 5}, {4, 5, 2}};
      if (a > b) continue; /* W is symmetric for a rotation-invariant energy; 6 components */
      tstruct u = *t;
      u.x = malloc(3 * sizeof(double) * t->n);
      memcpy(u.x, t->x, 3 * sizeof(double) * t->n);
      deform(&u, a, b, h);
      double ep = energy_of(c, &u);
      memcpy(u.x, t->x, 3 * sizeof(double) * t->n);
      memcpy(u.cell, t->cell, sizeof u.cell);
      deform(&u, a, b, -h);
      double em = energy_of(c, &u);
      free(u.x);
      double fd = -(ep - em) / (2 * h);
      CHECK_CLOSE(r.virial[comp[a][b]], fd, 1e-6 + 1e-6 * fabs(fd));
    }
  double esum = 0, vsum[6] = {0};
  for (int i = 0; i < t->n; i++) {
    esum += ea[i];
    for (int q = 0; q < 6; q++) vsum[q] += va[6 * i + q];
  }
  CHECK_CLOSE(esum, r.energy, 1e-9 * fabs(r.energy) + 1e-12);
  for (int q = 0; q < 6; q++) CHECK_CLOSE(vsum[q], r.virial[q], 1e-9 * fabs(r.virial[q]) + 1e-12);
  free(F); free(ea); free(va);
}


#endif
