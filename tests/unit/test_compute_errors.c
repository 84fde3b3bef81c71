/* Bad inputs to the evaluation API give a clear error, asserted by message. */
#include "test_util.h"

static void expect(mlff_status got, mlff_status want, const char *needle) {
  CHECK(got == want);
  if (!strstr(mlff_last_error(), needle)) {
    fprintf(stderr, "message '%s' lacks '%s'\n", mlff_last_error(), needle);
    test_failures++;
  }
}

/* A full neighbour list of every atom over all others (an open structure of a few atoms). */
typedef struct {
  int numneigh[64], list[64][64];
  const int *first[64];
} full_list;

static mlff_neighbors neighbors_of(const tstruct *t, full_list *fl) {
  for (int i = 0; i < t->n; i++) {
    fl->numneigh[i] = 0;
    for (int j = 0; j < t->n; j++)
      if (j != i) fl->list[i][fl->numneigh[i]++] = j;
    fl->first[i] = fl->list[i];
  }
  mlff_neighbors nl = {t->n, t->x, t->species, t->n, NULL, fl->numneigh, fl->first, 0, 0.0, 0,
                       NULL};
  return nl;
}

static void expect_atoms(const mlff_calc *c, int n, int a, int b) {
  int at[2] = {-1, -1};
  int got = mlff_calc_error_atoms(c, at);
  if (got != n || (n > 0 && at[0] != a) || (n > 1 && at[1] != b)) {
    fprintf(stderr, "error atoms: %d (%d %d), expected %d (%d %d)\n", got, at[0], at[1], n, a, b);
    test_failures++;
  }
}

/* Guards (mlff.h): atoms far closer than in training, non-finite positions and results; each
 * failure names its atoms in the message and through mlff_calc_error_atoms. */
static void guards(void) {
  mlff_model *m = make_model(CH, 7);
  mlff_calc *c;
  mlff_calc_options cpu = {MLFF_DEVICE_CPU, 0, 0, 0, 0, 0.0}; /* the GPU's: tests/gpu */
  CHECK_OK(mlff_calc_create(m, &cpu, &c));
  tstruct b = make_benzene();
  mlff_structure s = tview(&b);
  full_list fl;
  mlff_neighbors nl = neighbors_of(&b, &fl);
  double F[3 * 12];
  mlff_result r = {0};
  r.forces = F;
  /* H 6 pushed 0.3 Å from C 0 (its C-H bond: 1.08 Å) */
  for (int d = 0; d < 3; d++) b.x[3 * 6 + d] = b.x[d] + (d == 0 ? 0.3 : 0.0);
  CHECK_OK(mlff_compute(c, &s, &r)); /* a new calc evaluates any structure: the guard is off */
  expect_atoms(c, 0, 0, 0);
  expect(mlff_calc_guard_close(c, 1.5), MLFF_ERR_ARGUMENT,
         "mlff_calc_guard_close: fraction 1.5; it must be in [0, 1] (0: off; MD: 0.5)");
  expect(mlff_calc_guard_close(c, NAN), MLFF_ERR_ARGUMENT, "fraction nan");
  CHECK_OK(mlff_calc_guard_close(c, MLFF_GUARD_CLOSE_MD));
  /* no closest pair recorded: half the H2 bond, 0.37 Å */
  expect(mlff_compute(c, &s, &r), MLFF_ERR_ARGUMENT,
         "structure 0: atoms 0 (C) and 6 (H) are 0.3 Å apart, closer than 0.5 x 0.74 Å (the H2 "
         "bond: the model records no closest pair in training)");
  expect_atoms(c, 2, 0, 6);
  expect(mlff_compute_neighbors(c, &nl, &r), MLFF_ERR_ARGUMENT,
         "atoms 0 (C) and 6 (H) are 0.3 Å apart");
  CHECK(strncmp(mlff_last_error(), "atoms 0 (C)", 11) == 0); /* no structure on this path */
  expect_atoms(c, 2, 0, 6);
  b.x[3 * 6] = b.x[0] + 0.4; /* beyond 0.37 Å: runs */
  CHECK_OK(mlff_compute(c, &s, &r));
  expect_atoms(c, 0, 0, 0);
  CHECK_OK(mlff_calc_guard_close(c, 0.0)); /* off */
  b.x[3 * 6] = b.x[0];                     /* coincident: skipped by the descriptor */
  CHECK_OK(mlff_compute(c, &s, &r));
  CHECK_OK(mlff_calc_guard_close(c, 0.5));
  expect(mlff_compute(c, &s, &r), MLFF_ERR_ARGUMENT,
         "structure 0: atoms 0 (C) and 6 (H) are 0 Å apart");
  expect_atoms(c, 2, 0, 6);
  expect(mlff_compute_neighbors(c, &nl, &r), MLFF_ERR_ARGUMENT,
         "atoms 0 (C) and 6 (H) are 0 Å apart");

  /* the closest pair in training recorded: fraction x that (read when the guard is set) */
  expect(mlff_model_set_min_distance(m, 0, 2, 1.0), MLFF_ERR_ARGUMENT, "species 0, 2");
  expect(mlff_model_set_min_distance(m, 0, 1, -1.0), MLFF_ERR_ARGUMENT,
         "-1 Å; it must be finite and >= 0 (0: not recorded)");
  CHECK_OK(mlff_model_set_min_distance(m, 0, 1, 1.0));
  CHECK(mlff_model_min_distance(m, 1, 0) == 1.0 && mlff_model_min_distance(m, 0, 0) == 0.0);
  CHECK(mlff_model_min_distance(m, 0, 5) == 0.0);
  CHECK_OK(mlff_calc_guard_close(c, 0.5));
  b.x[3 * 6] = b.x[0] + 0.45;
  expect(mlff_compute(c, &s, &r), MLFF_ERR_ARGUMENT,
         "atoms 0 (C) and 6 (H) are 0.45 Å apart, closer than 0.5 x 1 Å, the closest C-H pair in "
         "training");
  b.x[3 * 6] = b.x[0] + 0.55;
  CHECK_OK(mlff_compute(c, &s, &r));
  b.x[3 * 6] = b.x[0] + 1.084;

  /* non-finite positions name the atom on both paths */
  b.x[3 * 4 + 1] = INFINITY;
  expect(mlff_compute_neighbors(c, &nl, &r), MLFF_ERR_ARGUMENT, "position of atom 4 is not finite");
  expect_atoms(c, 1, 4, 0);
  expect(mlff_compute(c, &s, &r), MLFF_ERR_ARGUMENT,
         "structure 0: position of atom 4 is not finite");
  expect_atoms(c, 1, 4, 0);
  b.x[3 * 4 + 1] = 0.0;
  CHECK_OK(mlff_compute(c, &s, &r));
  expect_atoms(c, 0, 0, 0);
  mlff_calc_free(c);

  /* non-finite results: a dispersion whose coefficients overflow (s6 C6 = Inf) */
  mlff_dispersion_params p;
  memset(&p, 0, sizeof p);
  p.s6 = 1e300, p.a2 = 2.6, p.cutoff = 6.0;
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 2; j++) p.c6[i][j] = p.c8[i][j] = 1e300;
  CHECK_OK(mlff_model_set_dispersion(m, &p));
  CHECK_OK(mlff_calc_create(m, &cpu, &c));
  double E[12];
  r.energy_atom = E;
  expect(mlff_compute(c, &s, &r), MLFF_ERR_NUMERIC,
         "structure 0: the model's force on atom 0 is not finite");
  CHECK(strstr(mlff_last_error(), "weights or dispersion coefficients overflow") != NULL);
  expect_atoms(c, 1, 0, 0);
  for (int i = 0; i < 36; i++) F[i] = 0.0;
  for (int i = 0; i < 12; i++) E[i] = 0.0;
  expect(mlff_compute_neighbors(c, &nl, &r), MLFF_ERR_NUMERIC,
         "the model's force on atom 0 is not finite");
  expect_atoms(c, 1, 0, 0);
  CHECK(strcmp(mlff_status_name(MLFF_ERR_NUMERIC), "non-finite result") == 0);
  mlff_calc_free(c);
  tfree(&b);
  mlff_model_free(m);
}

int main(void) {
  mlff_model *m = make_model(CH, 5);
  mlff_calc *c;
  CHECK_OK(mlff_calc_create(m, NULL, &c));
  tstruct b = make_benzene();
  mlff_structure s = tview(&b);
  mlff_result r = {0};

  b.x[3 * 4 + 1] = NAN;
  expect(mlff_compute(c, &s, &r), MLFF_ERR_ARGUMENT, "position of atom 4 is not finite");
  b.x[3 * 4 + 1] = 0.0;
  b.species[7] = 2;
  expect(mlff_compute(c, &s, &r), MLFF_ERR_ARGUMENT, "atom 7 has species 2");
  b.species[7] = 1;
  s.pbc[0] = 1;
  expect(mlff_compute(c, &s, &r), MLFF_ERR_ARGUMENT, "pbc set but no cell");
  s.pbc[0] = 0;
  double flat[9] = {10, 0, 0, 0, 10, 0, 0, 0, 0};
  mlff_structure p = s;
  p.cell = flat;
  p.pbc[0] = p.pbc[1] = p.pbc[2] = 1;
  expect(mlff_compute(c, &p, &r), MLFF_ERR_ARGUMENT, "cell is singular");
  CHECK_OK(mlff_compute(c, &s, &r)); /* the calc still works after errors */

  mlff_calc *bad = NULL;
  mlff_calc_options cpu16 = {MLFF_DEVICE_CPU, 1, 0, 0, 0};
  expect(mlff_calc_create(m, &cpu16, &bad), MLFF_ERR_UNSUPPORTED, "fp16");
  CHECK(bad == NULL);
  mlff_calc_options gpu = {MLFF_DEVICE_GPU, 0, 0, 0, 0}, auto16 = {MLFF_DEVICE_AUTO, 1, 0, 0, 0};
#ifndef MLFF_TEST_HAVE_CUDA
  expect(mlff_calc_create(m, &gpu, &bad), MLFF_ERR_UNSUPPORTED, "without CUDA");
  expect(mlff_calc_create(m, &auto16, &bad), MLFF_ERR_UNSUPPORTED, "fp16 yes");
#else
  /* a CUDA build: where no GPU is visible, both say so; where one is, both work */
  mlff_status st = mlff_calc_create(m, &gpu, &bad);
  if (st == MLFF_OK) {
    mlff_calc_free(bad);
  } else {
    expect(st, MLFF_ERR_DEVICE, "no CUDA device is visible");
    expect(mlff_calc_create(m, &auto16, &bad), MLFF_ERR_DEVICE, "fp16 yes needs a GPU");
  }
#endif
  /* committees: a GPU calc of one where there is no GPU is refused as any other */
  mlff_model *two = make_model(CH, 5), *other = make_model(CH, 6);
  CHECK_OK(mlff_model_committee_add(two, other));
  CHECK(mlff_model_committee_size(two) == 2);
#ifdef MLFF_TEST_HAVE_CUDA
  if ((st = mlff_calc_create(two, &gpu, &bad)) == MLFF_OK) {
    mlff_calc_free(bad); /* a GPU machine: test_gpu compares it with the CPU */
    bad = NULL;
  } else {
    expect(st, MLFF_ERR_DEVICE, "no CUDA device is visible");
  }
#else
  expect(mlff_calc_create(two, &gpu, &bad), MLFF_ERR_UNSUPPORTED, "without CUDA");
#endif
  CHECK(bad == NULL);
  expect(mlff_model_committee_add(two, two), MLFF_ERR_ARGUMENT, "NULL or identical");
  expect(mlff_force_deviation(0, 3, NULL, NULL, NULL), MLFF_ERR_ARGUMENT,
         "mlff_force_deviation: 0 members, 3 atoms, member_forces NULL");
  mlff_model_free(other);
  mlff_model_free(two);
  tfree(&b);
  mlff_calc_free(c);
  mlff_model_free(m);
  guards();
  if (test_failures) fprintf(stderr, "%d check(s) failed\n", test_failures);
  return test_failures != 0;
}
