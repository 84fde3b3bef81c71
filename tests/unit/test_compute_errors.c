/* Bad inputs to the evaluation API give a clear error, asserted by message. */
#include "test_util.h"

static void expect(mlff_status got, mlff_status want, const char *needle) {
  CHECK(got == want);
  if (!strstr(mlff_last_error(), needle)) {
    fprintf(stderr, "message '%s' lacks '%s'\n", mlff_last_error(), needle);
    test_failures++;
  }
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
  /* committees: the GPU path refuses them (no silent fall back to the CPU) */
  mlff_model *two = make_model(CH, 5), *other = make_model(CH, 6);
  CHECK_OK(mlff_model_committee_add(two, other));
  CHECK(mlff_model_committee_size(two) == 2);
#ifdef MLFF_TEST_HAVE_CUDA
  expect(mlff_calc_create(two, &gpu, &bad), MLFF_ERR_UNSUPPORTED,
         "the model is a committee of 2 members, and the GPU path evaluates single models only");
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
  if (test_failures) fprintf(stderr, "%d check(s) failed\n", test_failures);
  return test_failures != 0;
}
