/* Forces and virial against central finite differences of the energy, in double precision,
 * for benzene, a benzene dimer and a periodic (triclinic) box of liquid-like benzene; and
 * per-atom energies and virials summing to the totals (check_fd, test_util.h). */
#include "test_util.h"

int main(void) {
  mlff_model *m = make_model(CH, 7);
  mlff_calc *c;
  CHECK_OK(mlff_calc_create(m, NULL, &c));
  tstruct b = make_benzene(), d = make_dimer(), l = make_liquid(2, 6.0, 0.1);
  check_fd(c, &b, "benzene", 1);
  check_fd(c, &d, "dimer", 1);
  check_fd(c, &l, "liquid", 5);
  tfree(&b); tfree(&d); tfree(&l);
  /* CELU networks too */
  mlff_model_spec spec = {0};
  int hidden[2] = {16, 16};
  spec.n_elements = 2; spec.elements = CH; spec.n_hidden = 2; spec.hidden = hidden;
  spec.activation = MLFF_ACT_CELU; spec.seed = 3;
  mlff_descriptor_params_ani1x(&spec.descriptor);
  mlff_model *m2;
  CHECK_OK(mlff_model_create(&spec, &m2));
  mlff_calc *c2;
  CHECK_OK(mlff_calc_create(m2, NULL, &c2));
  tstruct b2 = make_benzene();
  check_fd(c2, &b2, "celu", 1);
  tfree(&b2);
  mlff_calc_free(c2); mlff_model_free(m2);
  mlff_calc_free(c);
  mlff_model_free(m);
  if (test_failures) fprintf(stderr, "%d check(s) failed\n", test_failures);
  return test_failures != 0;
}
