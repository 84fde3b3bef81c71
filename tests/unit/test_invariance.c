/* Symmetries and consistency of the CPU path: translation, rotation and permutation
 * invariance; a batch of B structures equals B single calls; a small periodic cell equals its
 * 2x2x2 supercell per atom (periodic images counted right); results independent of the thread
 * count; the neighbour-list entry point equals the structure entry point. */
#include <omp.h>

#include "test_util.h"

static mlff_result alloc_result(int n) {
  mlff_result r = {.forces = calloc(3 * n, sizeof(double)),
                   .energy_atom = calloc(n, sizeof(double)),
                   .virial_atom = calloc(6 * n, sizeof(double))};
  return r;
}
static void free_result(mlff_result *r) { free(r->forces); free(r->energy_atom); free(r->virial_atom); }

static mlff_result run(mlff_calc *c, const tstruct *t) {
  mlff_structure s = tview(t);
  mlff_result r = alloc_result(t->n);
  CHECK_OK(mlff_compute(c, &s, &r));
  return r;
}

static tstruct copy(const tstruct *t) {
  tstruct u = *t;
  u.x = malloc(3 * sizeof(double) * t->n);
  u.species = malloc(sizeof(int) * t->n);
  memcpy(u.x, t->x, 3 * sizeof(double) * t->n);
  memcpy(u.species, t->species, sizeof(int) * t->n);
  return u;
}

int main(void) {
  mlff_model *m = make_model(CH, 11);
  mlff_calc *c;
  CHECK_OK(mlff_calc_create(m, NULL, &c));
  tstruct d = make_dimer();
  mlff_result r0 = run(c, &d);
  const double tol = 1e-10;

  /* translation (open and periodic) */
  tstruct u = copy(&d);
  for (int i = 0; i < u.n; i++) { u.x[3 * i] += 3.7; u.x[3 * i + 1] -= 11.2; u.x[3 * i + 2] += 0.4; }
  mlff_result r1 = run(c, &u);
  CHECK_CLOSE(r1.energy, r0.energy, tol * fabs(r0.energy));
  for (int k = 0; k < 3 * d.n; k++) CHECK_CLOSE(r1.forces[k], r0.forces[k], tol);
  free_result(&r1); tfree(&u);

  /* rotation: E invariant, F rotates */
  double R[9];
  random_rotation(R);
  u = copy(&d);
  for (int i = 0; i < u.n; i++)
    for (int a = 0; a < 3; a++)
      u.x[3 * i + a] = R[3 * a] * d.x[3 * i] + R[3 * a + 1] * d.x[3 * i + 1] + R[3 * a + 2] * d.x[3 * i + 2];
  r1 = run(c, &u);
  CHECK_CLOSE(r1.energy, r0.energy, tol * fabs(r0.energy));
  for (int i = 0; i < d.n; i++)
    for (int a = 0; a < 3; a++) {
      double f = R[3 * a] * r0.forces[3 * i] + R[3 * a + 1] * r0.forces[3 * i + 1] + R[3 * a + 2] * r0.forces[3 * i + 2];
      CHECK_CLOSE(r1.forces[3 * i + a], f, tol);
    }
  free_result(&r1); tfree(&u);

  /* permutation: reverse the atom order */
  u = copy(&d);
  for (int i = 0; i < d.n; i++) {
    memcpy(u.x + 3 * i, d.x + 3 * (d.n - 1 - i), 3 * sizeof(double));
    u.species[i] = d.species[d.n - 1 - i];
  }
  r1 = run(c, &u);
  CHECK_CLOSE(r1.energy, r0.energy, tol * fabs(r0.energy));
  for (int i = 0; i < d.n; i++)
    for (int a = 0; a < 3; a++) CHECK_CLOSE(r1.forces[3 * i + a], r0.forces[3 * (d.n - 1 - i) + a], tol);
  free_result(&r1); tfree(&u);

  /* batch of B = B single calls (open, periodic, and a repeat) */
  tstruct b = make_benzene(), l = make_liquid(2, 6.0, 0.05);
  tstruct set[4] = {b, d, l, b};
  mlff_structure ss[4];
  mlff_result br[4], sr[4];
  for (int k = 0; k < 4; k++) {
    ss[k] = tview(&set[k]);
    br[k] = alloc_result(set[k].n);
    sr[k] = run(c, &set[k]);
  }
  CHECK_OK(mlff_compute_batch(c, 4, ss, br));
  for (int k = 0; k < 4; k++) {
    CHECK_CLOSE(br[k].energy, sr[k].energy, tol * fabs(sr[k].energy));
    for (int q = 0; q < 6; q++) CHECK_CLOSE(br[k].virial[q], sr[k].virial[q], tol);
    for (int i = 0; i < 3 * set[k].n; i++) CHECK_CLOSE(br[k].forces[i], sr[k].forces[i], tol);
    for (int i = 0; i < set[k].n; i++) CHECK_CLOSE(br[k].energy_atom[i], sr[k].energy_atom[i], tol);
    free_result(&br[k]);
  }

  /* periodic images: a cell smaller than the cutoff vs its 2x2x2 supercell */
  tstruct small = make_liquid(1, 4.6, 0.08), big = {0};
  big.periodic = 1;
  for (int q = 0; q < 9; q++) big.cell[q] = 2 * small.cell[q];
  big.n = 8 * small.n;
  big.x = malloc(3 * sizeof(double) * big.n);
  big.species = malloc(sizeof(int) * big.n);
  for (int img = 0, n = 0; img < 8; img++)
    for (int i = 0; i < small.n; i++, n++) {
      int s[3] = {img & 1, (img >> 1) & 1, (img >> 2) & 1};
      for (int a = 0; a < 3; a++)
        big.x[3 * n + a] = small.x[3 * i + a] + s[0] * small.cell[a] + s[1] * small.cell[3 + a] + s[2] * small.cell[6 + a];
      big.species[n] = small.species[i];
    }
  mlff_result rs = run(c, &small), rb = run(c, &big);
  CHECK_CLOSE(rb.energy, 8 * rs.energy, 1e-9 * fabs(rb.energy));
  for (int q = 0; q < 6; q++) CHECK_CLOSE(rb.virial[q], 8 * rs.virial[q], 1e-9 + 1e-9 * fabs(rb.virial[q]));
  for (int i = 0; i < big.n; i++)
    for (int a = 0; a < 3; a++) CHECK_CLOSE(rb.forces[3 * i + a], rs.forces[3 * (i % small.n) + a], 1e-9);
  printf("small cell %d atoms E %.8f, supercell %d atoms E/8 %.8f\n", small.n, rs.energy, big.n, rb.energy / 8);
  free_result(&rs); free_result(&rb);

  /* thread count: bitwise identical (per-atom work, serial scatter) */
  mlff_calc *c1;
  mlff_calc_options o1 = {MLFF_DEVICE_CPU, 0, 1, 0, 0};
  CHECK_OK(mlff_calc_create(m, &o1, &c1));
  mlff_calc *c2;
  mlff_calc_options o2 = {MLFF_DEVICE_CPU, 0, 2, 0, 0};
  CHECK_OK(mlff_calc_create(m, &o2, &c2));
  mlff_result t1 = run(c1, &big), t2 = run(c2, &big);
  CHECK(t1.energy == t2.energy);
  CHECK(!memcmp(t1.forces, t2.forces, 3 * sizeof(double) * big.n));
  free_result(&t1); free_result(&t2);
  mlff_calc_free(c1); mlff_calc_free(c2);

  /* the neighbour-list entry point (all pairs, open system) equals mlff_compute */
  int n = d.n, *ilist = malloc(n * sizeof(int)), *num = malloc(n * sizeof(int)), *all = malloc(n * n * sizeof(int));
  const int **first = malloc(n * sizeof(int *));
  for (int i = 0; i < n; i++) {
    ilist[i] = i;
    num[i] = 0;
    for (int j = 0; j < n; j++)
      if (j != i) all[i * n + num[i]++] = j | (1 << 30); /* flag bits the mask must strip */
    first[i] = all + i * n;
  }
  mlff_neighbors nl = {n, d.x, d.species, n, ilist, num, first, (1 << 29) - 1, 0.0, 0, NULL};
  mlff_result rn = alloc_result(n);
  CHECK_OK(mlff_compute_neighbors(c, &nl, &rn));
  CHECK_CLOSE(rn.energy, r0.energy, tol * fabs(r0.energy));
  for (int k = 0; k < 3 * n; k++) CHECK_CLOSE(rn.forces[k], r0.forces[k], tol);
  for (int q = 0; q < 6; q++) CHECK_CLOSE(rn.virial[q], r0.virial[q], tol);
  /* a kept list's skin and age (the GPU path's; the CPU path ignores valid ones) */
  nl.skin = 1.0;
  nl.list_age = 3;
  mlff_result rk = alloc_result(n);
  CHECK_OK(mlff_compute_neighbors(c, &nl, &rk));
  CHECK(rk.energy == rn.energy);
  free_result(&rk);
  const double bad_skin[] = {-0.5, NAN, 1e9};
  for (int k = 0; k < 3; k++) {
    nl.skin = bad_skin[k];
    CHECK(mlff_compute_neighbors(c, &nl, &rn) == MLFF_ERR_ARGUMENT);
    CHECK(strstr(mlff_last_error(), "the skin must be in [0, 100] Å") != NULL);
  }
  nl.skin = 1.0;
  nl.list_age = -1;
  CHECK(mlff_compute_neighbors(c, &nl, &rn) == MLFF_ERR_ARGUMENT);
  CHECK(strstr(mlff_last_error(), "list_age -1") != NULL);
  /* a cell (images made by the library): every atom local, and a GPU calc */
  const double cell[9] = {30, 0, 0, 0, 30, 0, 0, 0, 30};
  nl.list_age = 0;
  nl.cell = cell;
  CHECK(mlff_compute_neighbors(c, &nl, &rn) == MLFF_ERR_ARGUMENT); /* ilist given */
  CHECK(strstr(mlff_last_error(), "with a cell every atom is local") != NULL);
  mlff_neighbors nc = {n, d.x, d.species, n, NULL, NULL, NULL, 0, 1.0, 0, cell};
  CHECK(mlff_compute_neighbors(c, &nc, &rn) == MLFF_ERR_UNSUPPORTED);
  CHECK(strstr(mlff_last_error(), "needs a GPU calc") != NULL);
  nc.n_list = n - 1;
  CHECK(mlff_compute_neighbors(c, &nc, &rn) == MLFF_ERR_ARGUMENT);
  char want[64];
  snprintf(want, sizeof want, "(n_list %d, n_total %d, ilist NULL)", n - 1, n);
  CHECK(strstr(mlff_last_error(), want) != NULL);
  free_result(&rn); free(ilist); free(num); free(all); free(first);

  for (int k = 0; k < 4; k++) free_result(&sr[k]);
  free_result(&r0);
  tfree(&d); tfree(&b); tfree(&l); tfree(&small); tfree(&big);
  mlff_calc_free(c);
  mlff_model_free(m);
  if (test_failures) fprintf(stderr, "%d check(s) failed\n", test_failures);
  return test_failures != 0;
}
