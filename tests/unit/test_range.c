/* test_range.c MODEL.h5 — the extrapolation check (mlff_calc_check_range): with a model that
 * stores its training range (the shipped one), a benzene molecule as trained is inside it and
 * the same molecule squeezed to 75 % is outside it on every atom, with the largest excursion
 * reported consistently; the check is off by default and after tolerance < 0; a model without a
 * range and a NULL calc are refused with their messages. */
#include "test_util.h"

static void squeeze(tstruct *t, double f) {
  double c[3] = {0, 0, 0};
  for (int i = 0; i < t->n; i++)
    for (int k = 0; k < 3; k++) c[k] += t->x[3 * i + k] / t->n;
  for (int i = 0; i < t->n; i++)
    for (int k = 0; k < 3; k++) t->x[3 * i + k] = c[k] + f * (t->x[3 * i + k] - c[k]);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: test_range MODEL.h5\n");
    return 2;
  }
  mlff_model *m = NULL;
  CHECK_OK(mlff_model_load(argv[1], &m));
  mlff_calc_options o = {MLFF_DEVICE_CPU, 0, 1, 0, 0};
  mlff_calc *c = NULL;
  CHECK_OK(mlff_calc_create(m, &o, &c));
  tstruct b = make_benzene();
  mlff_structure s = tview(&b);
  double f[36];
  mlff_result r;
  memset(&r, 0, sizeof r);
  r.forces = f;
  mlff_range_report rep;

  /* off by default */
  CHECK_OK(mlff_compute(c, &s, &r));
  mlff_calc_range_report(c, &rep);
  CHECK(rep.n_atoms == 0 && rep.species == -1 && rep.feature == -1);

  /* on: benzene as trained is inside */
  CHECK_OK(mlff_calc_check_range(c, 0.01));
  CHECK_OK(mlff_compute(c, &s, &r));
  mlff_calc_range_report(c, &rep);
  printf("benzene: %d atoms outside\n", rep.n_atoms);
  CHECK(rep.n_atoms == 0);

  /* squeezed to 75 %: every atom outside; the report names a real feature beyond its range */
  squeeze(&b, 0.75);
  CHECK_OK(mlff_compute(c, &s, &r));
  mlff_calc_range_report(c, &rep);
  printf("squeezed: %d atoms outside; largest: species %d feature %d = %g, range [%g, %g], "
         "%.3g spans\n", rep.n_atoms, rep.species, rep.feature, rep.value, rep.min, rep.max,
         rep.excess);
  CHECK(rep.n_atoms == b.n);
  CHECK(rep.species >= 0 && rep.species < mlff_model_n_elements(m));
  CHECK(rep.feature >= 0 && rep.feature < mlff_model_n_features(m));
  CHECK(rep.value > rep.max || rep.value < rep.min);
  CHECK(rep.excess > 0.01);
  /* the excursion in spans: at most the raw span's (the floor only widens it) */
  double out = rep.value > rep.max ? rep.value - rep.max : rep.min - rep.value;
  CHECK(rep.excess <= out / (rep.max - rep.min) * (1 + 1e-12));
  /* the feature's value is the descriptor's (mlff_compute_features) at the worst atom */
  int D = mlff_model_n_features(m), found = 0;
  double *G = malloc(sizeof(double) * b.n * D);
  CHECK_OK(mlff_compute_features(c, &s, G));
  for (int i = 0; i < b.n; i++)
    found |= b.species[i] == rep.species && fabs(G[i * D + rep.feature] - rep.value) <= 1e-12 * fabs(rep.value);
  CHECK(found);
  free(G);

  /* off again */
  CHECK_OK(mlff_calc_check_range(c, -1));
  CHECK_OK(mlff_compute(c, &s, &r));
  mlff_calc_range_report(c, &rep);
  CHECK(rep.n_atoms == 0);

  /* refusals */
  const char *ch[2] = {"C", "H"};
  mlff_model *plain = make_model(ch, 3); /* mlff_model_create: no training range */
  mlff_calc *pc = NULL;
  CHECK_OK(mlff_calc_create(plain, &o, &pc));
  CHECK(mlff_calc_check_range(pc, 0.01) == MLFF_ERR_UNSUPPORTED);
  CHECK(strstr(mlff_last_error(), "stores no training range for element C") != NULL);
  CHECK(mlff_calc_check_range(pc, -1) == MLFF_OK); /* off: nothing to check */
  CHECK(mlff_calc_check_range(NULL, 0.01) == MLFF_ERR_ARGUMENT);
  mlff_calc_free(pc);
  mlff_model_free(plain);

  tfree(&b);
  mlff_calc_free(c);
  mlff_model_free(m);
  if (test_failures) return 1;
  printf("test_range: all passed\n");
  return 0;
}
