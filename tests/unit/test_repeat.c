/* Repeated mlff_compute calls on one calc, as MD or an optimiser makes them (issue 22): small
 * moves below and above skin/2, atoms drifting across the cell's faces, a changed species,
 * cell and atom count, other systems and a batch in between. Every call against a CPU calc
 * that computes each structure from nothing. With the default options: on the CPU (CI) a new
 * list every call, bit for bit the reference; where the build has CUDA and a GPU is visible,
 * the GPU's kept list (skin 1 Å), within the GPU tests' tolerances, and fewer lists than calls.
 * Also the skin option's default and its bad values. */
#include "test_util.h"

typedef struct {
  double f, e, v, ea, va; /* max|dF|/max|F|, |dE|/|E|, max|dW|/max|W|; per-atom sums vs totals */
} diff;

static int on_gpu;
static int calls; /* mlff_compute calls on the kept calc */

/* kept against ref on t: forces, energy, virial; and the kept calc's per-atom energies and
 * virials against its totals */
static diff compare(mlff_calc *ref, mlff_calc *kept, const tstruct *t) {
  const int n = t->n;
  mlff_structure s = tview(t);
  double *F0 = malloc(24 * n), *F1 = malloc(24 * n), *e1 = malloc(8 * n), *v1 = malloc(48 * n);
  mlff_result r0 = {0, {0}, F0, NULL, NULL}, r1 = {0, {0}, F1, e1, v1};
  CHECK_OK(mlff_compute(ref, &s, &r0));
  CHECK_OK(mlff_compute(kept, &s, &r1));
  calls++;
  double fm = 0, df = 0, vm = 0, dv = 0, es = 0, vs[6] = {0}, dva = 0;
  for (int k = 0; k < 3 * n; k++) {
    fm = fmax(fm, fabs(F0[k]));
    df = fmax(df, fabs(F1[k] - F0[k]));
  }
  for (int i = 0; i < n; i++) {
    es += e1[i];
    for (int q = 0; q < 6; q++) vs[q] += v1[6 * i + q];
  }
  for (int q = 0; q < 6; q++) {
    vm = fmax(vm, fabs(r0.virial[q]));
    dv = fmax(dv, fabs(r1.virial[q] - r0.virial[q]));
    dva = fmax(dva, fabs(vs[q] - r1.virial[q]));
  }
  /* no dispersion tail here: the per-atom energies sum to the energy */
  diff d = {df / fm, fabs(r1.energy - r0.energy) / fabs(r0.energy), dv / vm,
            fabs(es - r1.energy) / fabs(r1.energy), dva / vm};
  free(F0);
  free(F1);
  free(e1);
  free(v1);
  return d;
}

static void expect_close(diff d, const char *what) {
  /* the CPU: the same code on the same structure; the GPU: tests/gpu's tolerances */
  const double tf = on_gpu ? 1e-5 : 1e-12, te = on_gpu ? 1e-5 : 1e-12, tv = on_gpu ? 1e-4 : 1e-12;
  printf("%-44s max|dF|/max|F| %.2e  |dE|/|E| %.2e  max|dW|/max|W| %.2e  (per-atom sums %.1e "
         "%.1e)\n",
         what, d.f, d.e, d.v, d.ea, d.va);
  CHECK(d.f <= tf);
  CHECK(d.e <= te);
  CHECK(d.v <= tv);
  CHECK(d.ea <= (on_gpu ? 1e-5 : 1e-12));
  CHECK(d.va <= (on_gpu ? 1e-4 : 1e-12));
}

/* x += amp * a random direction per atom, |move| <= amp */
static void jiggle(tstruct *t, const double *x0, double amp) {
  for (int i = 0; i < t->n; i++) {
    double u[3], r = 0;
    do {
      r = 0;
      for (int d = 0; d < 3; d++) {
        u[d] = 2 * trand() - 1;
        r += u[d] * u[d];
      }
    } while (r > 1.0 || r < 1e-6);
    for (int d = 0; d < 3; d++) t->x[3 * i + d] = x0[3 * i + d] + amp * u[d];
  }
}

static void run_box(mlff_calc *ref, mlff_calc *kept, tstruct *t, const char *name) {
  const int n = t->n;
  char what[128];
  double *x0 = malloc(24 * n), *v = malloc(24 * n);
  memcpy(x0, t->x, 24 * n);
  const long b0 = mlff_calc_list_builds(kept);
  const int c0 = calls;
#define STEP(label)                                                                                \
  do {                                                                                             \
    snprintf(what, sizeof what, "%s: %s", name, label);                                            \
    expect_close(compare(ref, kept, t), what);                                                     \
  } while (0)
  STEP("first call");
  /* below skin/2 = 0.5 Å from the first call: the list is reused on a GPU */
  jiggle(t, x0, 0.45);
  STEP("moves <= 0.45 A");
  jiggle(t, x0, 0.45);
  STEP("other moves <= 0.45 A");
  const long b_small = mlff_calc_list_builds(kept);
  /* one atom 0.7 Å away from the first call: a rebuild */
  t->x[3 * 5] = x0[3 * 5] + 0.7;
  STEP("atom 5 moved 0.7 A");
  /* the whole box moved by 0.3 a: atoms out of the cell, wrapped at the rebuild */
  for (int i = 0; i < n; i++)
    for (int d = 0; d < 3; d++) t->x[3 * i + d] = x0[3 * i + d] + 0.3 * t->cell[d];
  STEP("box shifted by 0.3 a");
  /* ballistic steps of 0.12 Å per atom: atoms cross the faces between rebuilds */
  memcpy(x0, t->x, 24 * n);
  jiggle(t, x0, 0.12);
  for (int k = 0; k < 3 * n; k++) v[k] = t->x[k] - x0[k];
  for (int s = 1; s <= 6; s++) {
    for (int k = 0; k < 3 * n; k++) t->x[k] = x0[k] + s * v[k];
    snprintf(what, sizeof what, "%s: drift step %d", name, s);
    expect_close(compare(ref, kept, t), what);
  }
  /* a big move: atom 0 by 2.5 Å */
  t->x[0] += 2.5;
  STEP("atom 0 moved 2.5 A");
  /* another species on one atom, same positions */
  t->species[3] = 1 - t->species[3];
  STEP("atom 3's species changed");
  t->species[3] = 1 - t->species[3];
  STEP("and back");
  /* a cell 1 % larger, positions scaled with it (a barostat's step) */
  double cell0[9];
  memcpy(cell0, t->cell, sizeof cell0);
  for (int k = 0; k < 9; k++) t->cell[k] *= 1.01;
  for (int k = 0; k < 3 * n; k++) t->x[k] *= 1.01;
  STEP("cell and positions x 1.01");
  /* one molecule fewer (the same arrays: only n changes), then all again */
  t->n = n - 12;
  STEP("one molecule fewer");
  t->n = n;
  STEP("all molecules again");
  /* other work on the calc in between: a benzene, and a batch of the box and a benzene */
  tstruct b = make_benzene();
  STEP("before a benzene");
  {
    mlff_structure sb = tview(&b);
    mlff_result rb = {.forces = NULL};
    CHECK_OK(mlff_compute(kept, &sb, &rb));
  }
  jiggle(t, t->x, 0.05);
  STEP("after a benzene");
  {
    mlff_structure ss[2] = {tview(t), tview(&b)};
    mlff_result rr[2] = {{.energy = 0}, {.energy = 0}};
    CHECK_OK(mlff_compute_batch(kept, 2, ss, rr));
  }
  jiggle(t, t->x, 0.05);
  STEP("after a batch");
#undef STEP
  const long builds = mlff_calc_list_builds(kept) - b0;
  const int n_calls = calls - c0;
  printf("%s: %d calls, %ld neighbour lists built (%s)\n", name, n_calls, builds,
         on_gpu ? "GPU, skin 1 A" : "CPU: one a call");
  /* benzene and batch: 2 more */
  if (on_gpu) {
    CHECK(b_small - b0 == 1); /* the moves below skin/2 reused the first call's list */
    CHECK(builds < n_calls);
  } else {
    CHECK(builds == n_calls + 2);
  }
  memcpy(t->cell, cell0, sizeof cell0);
  tfree(&b);
  free(x0);
  free(v);
}

int main(void) {
  mlff_model *m = make_model(CH, 7);
  mlff_calc_options o;
  mlff_calc_options_default(&o);
  CHECK(o.skin == 1.0 && o.device == MLFF_DEVICE_AUTO);
  { /* bad skins: refused, naming it */
    mlff_calc *bad = NULL;
    const double skins[] = {-0.1, NAN, 1e3};
    for (int k = 0; k < 3; k++) {
      mlff_calc_options b = o;
      b.device = MLFF_DEVICE_CPU;
      b.skin = skins[k];
      CHECK(mlff_calc_create(m, &b, &bad) == MLFF_ERR_ARGUMENT && !bad);
      CHECK(strstr(mlff_last_error(), "skin") != NULL);
    }
    printf("bad skin: %s\n", mlff_last_error());
  }
  mlff_calc *ref, *kept;
  mlff_calc_options oc = o;
  oc.device = MLFF_DEVICE_CPU;
  CHECK_OK(mlff_calc_create(m, &oc, &ref));
  CHECK_OK(mlff_calc_create(m, &o, &kept)); /* the defaults: the GPU where one is */
  on_gpu = mlff_calc_device(kept) == MLFF_DEVICE_GPU;
  printf("kept calc on the %s\n", on_gpu ? "GPU" : "CPU");
  CHECK(mlff_calc_list_builds(kept) == 0);
  /* 768 atoms (on a GPU: the one-kernel step, images kept), a triclinic 324 and 4116 atoms
   * (the general path: the list kept on the device) */
  tstruct l = make_liquid(4, 5.6, 0.0), lt = make_liquid(3, 5.8, 0.1),
          big = make_liquid(7, 5.6, 0.0);
  run_box(ref, kept, &l, "liquid 768");
  run_box(ref, kept, &lt, "triclinic 324");
  run_box(ref, kept, &big, "liquid 4116");
  { /* an open cluster (the 4116 atoms without their cell), and a cell narrower than cutoff +
     * skin (a benzene in 6 A: a new list every call, images of images) */
    tstruct open = big;
    open.periodic = 0;
    double *x0 = malloc(24 * open.n);
    memcpy(x0, open.x, 24 * open.n);
    expect_close(compare(ref, kept, &open), "open 4116: first call");
    const long b1 = mlff_calc_list_builds(kept);
    jiggle(&open, x0, 0.4);
    expect_close(compare(ref, kept, &open), "open 4116: moves <= 0.4 A");
    CHECK(mlff_calc_list_builds(kept) == b1 + !on_gpu);
    open.x[0] += 1.0;
    expect_close(compare(ref, kept, &open), "open 4116: atom 0 moved 1 A more");
    CHECK(mlff_calc_list_builds(kept) == b1 + 1 + !on_gpu);
    memcpy(open.x, x0, 24 * open.n);
    free(x0);
    tstruct nb = make_benzene();
    nb.periodic = 1;
    const double narrow[9] = {6.0, 0, 0, 0, 9.0, 0, 0, 0, 9.0};
    memcpy(nb.cell, narrow, sizeof narrow);
    const long b2 = mlff_calc_list_builds(kept);
    expect_close(compare(ref, kept, &nb), "benzene in a 6 A cell");
    jiggle(&nb, nb.x, 0.01);
    expect_close(compare(ref, kept, &nb), "benzene in a 6 A cell, moved");
    CHECK(mlff_calc_list_builds(kept) == b2 + 2);
    tfree(&nb);
  }
  tfree(&l);
  tfree(&lt);
  tfree(&big);
  mlff_calc_free(ref);
  mlff_calc_free(kept);
  mlff_model_free(m);
  if (test_failures) fprintf(stderr, "%d check(s) failed\n", test_failures);
  return test_failures != 0;
}
