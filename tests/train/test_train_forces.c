/* Energies and forces predicted through the trainer's stored descriptors and Jacobians equal
 * mlff_compute's (float64 Jacobians: 1e-10; float32: single precision) for open molecules, a
 * dimer and periodic boxes (images folded onto their atoms); continuing from a model unfolds
 * its first layer exactly and exporting folds it back; e0 by least squares recovers linear
 * per-element energies (also when only the sum of two elements' offsets is determined). */
#include "train_test.h"

static double max_abs(const double *v, int n) {
  double m = 0;
  for (int i = 0; i < n; i++) m = fmax(m, fabs(v[i]));
  return m;
}

/* Trainer predictions against mlff_compute with model m, for every structure of d. */
static void compare(mlff_trainer *t, const mlff_model *m, const mlff_dataset *d, double tol,
                    const char *what) {
  mlff_calc *c;
  CHECK_OK(mlff_calc_create(m, NULL, &c));
  double worst_e = 0, worst_f = 0;
  for (int i = 0; i < mlff_dataset_size(d); i++) {
    mlff_frame f;
    const char *src;
    CHECK_OK(mlff_dataset_get(d, i, &f, &src));
    int *sp = malloc(sizeof(int) * f.n_atoms);
    double *F = malloc(3 * sizeof(double) * f.n_atoms), *Ft = malloc(3 * sizeof(double) * f.n_atoms);
    CHECK_OK(mlff_frame_species(m, &f, sp));
    mlff_structure s = mlff_frame_structure(&f, sp);
    mlff_result r = {.forces = F};
    CHECK_OK(mlff_compute(c, &s, &r));
    double Et;
    CHECK_OK(mlff_trainer_predict(t, i, &Et, Ft));
    double fm = max_abs(F, 3 * f.n_atoms), df = 0;
    for (int q = 0; q < 3 * f.n_atoms; q++) df = fmax(df, fabs(F[q] - Ft[q]));
    double de = fabs(Et - r.energy) / fabs(r.energy);
    worst_e = fmax(worst_e, de);
    worst_f = fmax(worst_f, df / fm);
    CHECK(fm > 1e-3);
    CHECK(de <= tol);
    CHECK(df <= tol * fm);
    free(sp); free(F); free(Ft);
  }
  printf("%-40s max relative error: energy %.2e, forces %.2e (tolerance %.0e)\n", what, worst_e,
         worst_f, tol);
  mlff_calc_free(c);
}

/* The closest pair of species a, b in t, periodic images included (one layer: the cells here
 * are wider than any closest pair), folded into rmin. */
static void closest_pairs(const tstruct *t, double rmin[2][2]) {
  const int L = t->periodic ? 1 : 0;
  for (int i = 0; i < t->n; i++)
    for (int j = 0; j < t->n; j++)
      for (int u = -L; u <= L; u++)
        for (int v = -L; v <= L; v++)
          for (int w = -L; w <= L; w++) {
            if (i == j && !u && !v && !w) continue;
            double r2 = 0.0;
            for (int d = 0; d < 3; d++) {
              double dx = t->x[3 * j + d] - t->x[3 * i + d] + u * t->cell[d] +
                          v * t->cell[3 + d] + w * t->cell[6 + d];
              r2 += dx * dx;
            }
            double *r = &rmin[t->species[i]][t->species[j]];
            if (sqrt(r2) < *r) *r = sqrt(r2);
          }
}

int main(void) {
  const int hidden[2] = {16, 12};
  mlff_model *m = make_model_h(2, hidden, MLFF_ACT_SILU, 11);
  m->e0[0] = -1030.25; /* the trainer must carry e0 and scale */
  m->e0[1] = -13.5;
  m->scale = 0.37;
  mlff_dataset *d;
  CHECK_OK(mlff_dataset_create(&d));
  tstruct s[5] = {make_benzene(), make_dimer(), make_liquid(1, 5.29, 0.15),
                  make_liquid(2, 5.29, 0.1), make_dimer_random(9.0, 0.1)};
  double rmin[2][2] = {{INFINITY, INFINITY}, {INFINITY, INFINITY}};
  for (int i = 0; i < 5; i++) {
    add_labelled(d, &s[i], NULL, "x");
    closest_pairs(&s[i], rmin);
    tfree(&s[i]);
  }
  int idx[5] = {0, 1, 2, 3, 4};
  /* continue from m: the trainer's function is m's */
  mlff_trainer *t;
  CHECK_OK(mlff_trainer_create(m, d, 5, idx, 1, 2, &t));
  CHECK_OK(mlff_trainer_setup(t, 5, idx, 0));
  printf("precomputed: %zu bytes, of which Jacobians (float64) %zu\n", mlff_trainer_bytes(t),
         mlff_trainer_jacobian_bytes(t));
  compare(t, m, d, 1e-10, "float64 Jacobians vs mlff_compute");
  /* export unchanged: the same float weights back */
  const int hid[2] = {16, 12};
  mlff_model *m2 = make_model_h(2, hid, MLFF_ACT_SILU, 99);
  CHECK_OK(mlff_trainer_export(t, m2));
  double dw = 0;
  for (int e = 0; e < 2; e++)
    for (int k = 0; k < 3; k++) {
      size_t nw = (size_t)m->net[e].sizes[k] * m->net[e].sizes[k + 1];
      for (size_t q = 0; q < nw; q++)
        dw = fmax(dw, fabs(m->net[e].W[k][q] - m2->net[e].W[k][q]) /
                          (fabs(m->net[e].W[k][q]) + 1e-30));
      for (int q = 0; q < m->net[e].sizes[k + 1]; q++)
        dw = fmax(dw, fabs(m->net[e].b[k][q] - m2->net[e].b[k][q]) /
                          (fabs(m->net[e].b[k][q]) + 1e-3));
    }
  printf("unfold + fold: max relative change of a weight %.2e\n", dw);
  CHECK(dw < 1e-6);
  CHECK(m2->e0[0] == m->e0[0] && m2->e0[1] == m->e0[1] && m2->scale == m->scale);
  CHECK(m2->net[0].feature_min && m2->net[1].feature_max);
  /* the closest pairs of the fit set, recorded for the close-atom guard */
  printf("closest in training: C-C %.4f C-H %.4f H-H %.4f Å (recorded %.4f %.4f %.4f)\n",
         rmin[0][0], rmin[0][1], rmin[1][1], mlff_model_min_distance(m2, 0, 0),
         mlff_model_min_distance(m2, 0, 1), mlff_model_min_distance(m2, 1, 1));
  for (int a = 0; a < 2; a++)
    for (int b = 0; b < 2; b++) CHECK_CLOSE(mlff_model_min_distance(m2, a, b), rmin[a][b], 1e-12);
  /* train-like change of the normalised weights, exported: the file's model computes what
   * the trainer computes, to float32 rounding of the weights */
  double *th = mlff_trainer_params(t);
  for (size_t p = 0; p < mlff_trainer_n_params(t); p++) th[p] *= 1.0 + 0.2 * (trand() - 0.5);
  CHECK_OK(mlff_trainer_export(t, m2));
  compare(t, m2, d, 2e-5, "after export (float32 weights)");
  mlff_trainer_free(t);
  /* float32 Jacobians */
  CHECK_OK(mlff_trainer_create(m, d, 5, idx, 0, 2, &t));
  CHECK_OK(mlff_trainer_setup(t, 5, idx, 0));
  printf("precomputed: %zu bytes, of which Jacobians (float32) %zu\n", mlff_trainer_bytes(t),
         mlff_trainer_jacobian_bytes(t));
  compare(t, m, d, 2e-6, "float32 Jacobians vs mlff_compute");
  mlff_trainer_free(t);
  /* a model with long-range dispersion: the trainer takes it off the labels and adds it back
   * to its predictions, which equal mlff_compute's (periodic boxes with the tail) */
  mlff_dispersion_params dp;
  memset(&dp, 0, sizeof dp);
  dp.s6 = 1.0, dp.s8 = 2.7, dp.a1 = 0.52, dp.a2 = 2.6459, dp.cutoff = 9.0, dp.tail = 1;
  dp.c6[0][0] = 19.4, dp.c6[0][1] = dp.c6[1][0] = 4.5, dp.c6[1][1] = 1.05;
  dp.c8[0][0] = 520, dp.c8[0][1] = dp.c8[1][0] = 84, dp.c8[1][1] = 12;
  CHECK_OK(mlff_model_set_dispersion(m, &dp));
  CHECK_OK(mlff_trainer_create(m, d, 5, idx, 1, 2, &t));
  CHECK_OK(mlff_trainer_setup(t, 5, idx, 0));
  compare(t, m, d, 1e-10, "with dispersion, float64 vs mlff_compute");
  mlff_trainer_free(t);
  /* electrostatics too (with the dispersion, then alone): the same, for both terms */
  mlff_electrostatics_params ep;
  memset(&ep, 0, sizeof ep);
  ep.charges[0] = -0.12, ep.charges[1] = 0.12, ep.alpha = 0.1, ep.cutoff = 10.0;
  CHECK_OK(mlff_model_set_electrostatics(m, &ep));
  for (int with_disp = 1; with_disp >= 0; with_disp--) {
    if (!with_disp) CHECK_OK(mlff_model_set_dispersion(m, NULL));
    CHECK_OK(mlff_trainer_create(m, d, 5, idx, 1, 2, &t));
    CHECK_OK(mlff_trainer_setup(t, 5, idx, 0));
    compare(t, m, d, 1e-10, with_disp ? "with dispersion and electrostatics, float64 vs "
                                        "mlff_compute"
                                      : "with electrostatics, float64 vs mlff_compute");
    mlff_trainer_free(t);
  }
  CHECK_OK(mlff_model_set_electrostatics(m, NULL));
  CHECK_OK(mlff_model_set_dispersion(m, NULL));
  mlff_dataset_free(d);

  /* e0: energies exactly linear in the composition; fragments of benzene give varied C/H */
  CHECK_OK(mlff_dataset_create(&d));
  int n = 0;
  for (int k = 0; k < 12; k++) {
    tstruct b = make_benzene_random(0.05);
    b.n = 12 - (k % 5); /* drop up to 4 hydrogens */
    mlff_frame f = frame_of(&b, NULL);
    int nC = 0, nH = 0;
    for (int i = 0; i < b.n; i++) *(b.species[i] == 0 ? &nC : &nH) += 1;
    f.energy = -1030.5 * nC - 13.25 * nH;
    CHECK_OK(mlff_dataset_add(d, &f, "fragment"));
    frame_free(&f);
    tfree(&b);
    n++;
  }
  int ids[12];
  for (int i = 0; i < n; i++) ids[i] = i;
  CHECK_OK(mlff_trainer_create(m, d, n, ids, 0, 1, &t));
  CHECK_OK(mlff_trainer_setup(t, n, ids, 1));
  const double *e0 = mlff_trainer_e0(t);
  printf("e0 by least squares: C %.10f H %.10f (exact -1030.5, -13.25), scale %g\n", e0[0], e0[1],
         mlff_trainer_scale(t));
  CHECK_CLOSE(e0[0], -1030.5, 1e-8);
  CHECK_CLOSE(e0[1], -13.25, 1e-8);
  CHECK(mlff_trainer_scale(t) == 0.01); /* no residual: the floor */
  mlff_trainer_free(t);
  mlff_dataset_free(d);
  /* benzene only: n_C = n_H everywhere, only e0_C + e0_H is determined */
  CHECK_OK(mlff_dataset_create(&d));
  for (int k = 0; k < 6; k++) {
    tstruct b = k < 3 ? make_benzene_random(0.05) : make_dimer_random(6.0, 0.05);
    mlff_frame f = frame_of(&b, NULL);
    f.energy = (-1030.5 - 13.25) * b.n / 2 + 0.1 * (k % 3 - 1);
    CHECK_OK(mlff_dataset_add(d, &f, "benzene"));
    frame_free(&f);
    tfree(&b);
  }
  CHECK_OK(mlff_trainer_create(m, d, 6, ids, 0, 1, &t));
  CHECK_OK(mlff_trainer_setup(t, 6, ids, 1));
  e0 = mlff_trainer_e0(t);
  printf("e0, benzene only: C %.6f H %.6f (sum %.6f, expected about -1043.75), scale %.4g\n",
         e0[0], e0[1], e0[0] + e0[1], mlff_trainer_scale(t));
  CHECK(fabs(e0[0] + e0[1] - (-1043.75)) < 0.02);
  CHECK_CLOSE(e0[0], e0[1], 1e-6); /* the minimum-norm split */
  mlff_trainer_free(t);
  mlff_dataset_free(d);
  mlff_model_free(m);
  mlff_model_free(m2);
  if (test_failures) fprintf(stderr, "%d check(s) failed\n", test_failures);
  return test_failures ? 1 : 0;
}
