/* Forces and virial against central finite differences of the energy, in double precision,
 * for benzene, a benzene dimer and a periodic (triclinic) box of liquid-like benzene; and
 * per-atom energies and virials summing to the totals. */
#include "test_util.h"

static double energy_of(mlff_calc *c, const tstruct *t) {
  mlff_structure s = tview(t);
  mlff_result r = {0};
  CHECK_OK(mlff_compute(c, &s, &r));
  return r.energy;
}

static void deform(tstruct *t, int a, int b, double eps) { /* x_b += eps * x_a */
  for (int i = 0; i < t->n; i++) t->x[3 * i + b] += eps * t->x[3 * i + a];
  if (t->periodic)
    for (int v = 0; v < 3; v++) t->cell[3 * v + b] += eps * t->cell[3 * v + a];
}

static void check_structure(mlff_calc *c, tstruct *t, const char *name, int stride) {
  mlff_structure s = tview(t);
  double *F = malloc(3 * sizeof(double) * t->n), *ea = malloc(sizeof(double) * t->n),
         *va = malloc(6 * sizeof(double) * t->n);
  mlff_result r = {0, {0}, F, ea, va};
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

int main(void) {
  mlff_model *m = make_model(CH, 7);
  mlff_calc *c;
  CHECK_OK(mlff_calc_create(m, NULL, &c));
  tstruct b = make_benzene(), d = make_dimer(), l = make_liquid(2, 6.0, 0.1);
  check_structure(c, &b, "benzene", 1);
  check_structure(c, &d, "dimer", 1);
  check_structure(c, &l, "liquid", 5);
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
  check_structure(c2, &b2, "celu", 1);
  tfree(&b2);
  mlff_calc_free(c2); mlff_model_free(m2);
  mlff_calc_free(c);
  mlff_model_free(m);
  if (test_failures) fprintf(stderr, "%d check(s) failed\n", test_failures);
  return test_failures != 0;
}
