/* The trainer's analytic loss gradient (energy term by backprop, force term by the
 * forward-over-reverse pass through the networks and the stored descriptor Jacobians) against
 * central finite differences of the loss, in double precision, for a sample of weights and
 * biases of every layer of both elements' networks; SiLU and CELU; an open molecule, an open
 * dimer and a periodic triclinic box whose atoms see their own images; energy term alone,
 * force term alone and both with unequal weights. Also: the gradient does not depend on the
 * thread count (bit for bit), and float32 Jacobians give the same gradient to ~1e-6. */
#include "train_test.h"

static mlff_dataset *make_data(void) {
  mlff_dataset *d;
  CHECK_OK(mlff_dataset_create(&d));
  tstruct a = make_benzene(), b = make_dimer(), c = make_liquid(1, 5.29, 0.15);
  add_labelled(d, &a, NULL, "monomer");
  add_labelled(d, &b, NULL, "dimer");
  add_labelled(d, &c, NULL, "box");
  tfree(&a); tfree(&b); tfree(&c);
  for (int i = 0; i < 5; i++) { /* for the thread check: several blocks per element */
    tstruct e = make_dimer_random(4.0 + i, 0.1);
    add_labelled(d, &e, NULL, "dimer");
    tfree(&e);
  }
  return d;
}

static double loss_at(mlff_trainer *t, int n, const int *ids, double wE, double wF) {
  double L;
  CHECK_OK(mlff_trainer_loss_grad(t, n, ids, wE, wF, &L, NULL));
  return L;
}

static void check_grad(mlff_activation act, const char *name) {
  const int hidden[3] = {10, 8, 6};
  mlff_model *m = make_model_h(3, hidden, act, 7);
  mlff_dataset *d = make_data();
  int idx[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  mlff_trainer *t;
  CHECK_OK(mlff_trainer_create(m, d, 3, idx, 1, 1, &t));
  CHECK_OK(mlff_trainer_setup(t, 3, idx, 1));
  size_t P = mlff_trainer_n_params(t);
  double *th = mlff_trainer_params(t), *g = malloc(P * sizeof(double)),
         *g1 = malloc(P * sizeof(double));
  /* move the weights off their initial values a little (the zeroed columns of constant
   * features included) so that nothing is special */
  for (size_t p = 0; p < P; p++) th[p] += 0.05 * (trand() - 0.5);
  const double weights[3][2] = {{1.0, 0.0}, {0.0, 1.0}, {0.3, 2.0}};
  /* parameter sample: per element, per layer, 5 weights and 2 biases (layout: W then b) */
  int D = mlff_model_n_features(m);
  int sizes[5] = {D, 10, 8, 6, 1};
  for (int w = 0; w < 3; w++) {
    double wE = weights[w][0], wF = weights[w][1];
    double L0;
    CHECK_OK(mlff_trainer_loss_grad(t, 3, idx, wE, wF, &L0, g));
    double gmax = 0;
    for (size_t p = 0; p < P; p++) gmax = fmax(gmax, fabs(g[p]));
    double errmax = 0;
    int checked = 0;
    size_t off = 0;
    for (int e = 0; e < 2; e++)
      for (int k = 0; k < 4; k++) {
        size_t nw = (size_t)sizes[k] * sizes[k + 1], nb = sizes[k + 1];
        for (int q = 0; q < 7; q++) {
          size_t p = off + (q < 5 ? (size_t)(trand() * nw) : nw + (size_t)(trand() * nb));
          double x0 = th[p], h = 1e-5 * fmax(1.0, fabs(x0));
          th[p] = x0 + h;
          double lp = loss_at(t, 3, idx, wE, wF);
          th[p] = x0 - h;
          double lm = loss_at(t, 3, idx, wE, wF);
          th[p] = x0;
          double fd = (lp - lm) / (2 * h);
          double err = fabs(fd - g[p]);
          errmax = fmax(errmax, err / (fabs(fd) + 1e-3 * gmax));
          CHECK_CLOSE(g[p], fd, 1e-6 * fabs(fd) + 1e-8 * gmax);
          checked++;
        }
        off += nw + nb;
      }
    CHECK(off == P);
    printf("%-5s wE %.1f wF %.1f: loss %.6g, %d parameters checked, max|grad| %.3g, "
           "max relative error %.2e\n", name, wE, wF, L0, checked, gmax, errmax);
    CHECK(gmax > 1e-6);
  }
  /* same gradient with two threads, bit for bit */
  mlff_trainer *t1;
  CHECK_OK(mlff_trainer_create(m, d, 8, idx, 1, 2, &t1));
  CHECK_OK(mlff_trainer_setup(t1, 3, idx, 1));
  memcpy(mlff_trainer_params(t1), th, P * sizeof(double));
  mlff_trainer *t8;
  CHECK_OK(mlff_trainer_create(m, d, 8, idx, 1, 1, &t8));
  CHECK_OK(mlff_trainer_setup(t8, 3, idx, 1));
  memcpy(mlff_trainer_params(t8), th, P * sizeof(double));
  double La, Lb;
  CHECK_OK(mlff_trainer_loss_grad(t8, 8, idx, 0.3, 2.0, &La, g));
  CHECK_OK(mlff_trainer_loss_grad(t1, 8, idx, 0.3, 2.0, &Lb, g1));
  CHECK(La == Lb);
  CHECK(!memcmp(g, g1, P * sizeof(double)));
  mlff_trainer_free(t1);
  mlff_trainer_free(t8);
  CHECK_OK(mlff_trainer_loss_grad(t, 3, idx, 0.3, 2.0, &La, g));
  /* float32 Jacobians: the same to single precision */
  CHECK_OK(mlff_trainer_create(m, d, 3, idx, 0, 1, &t1));
  CHECK_OK(mlff_trainer_setup(t1, 3, idx, 1));
  memcpy(mlff_trainer_params(t1), th, P * sizeof(double));
  CHECK_OK(mlff_trainer_loss_grad(t1, 3, idx, 0.3, 2.0, &Lb, g1));
  double gm = 0, dg = 0;
  for (size_t p = 0; p < P; p++) {
    gm = fmax(gm, fabs(g[p]));
    dg = fmax(dg, fabs(g[p] - g1[p]));
  }
  printf("%-5s float32 Jacobians: loss %.10g vs %.10g, max|dgrad| / max|grad| %.2e; J %zu bytes "
         "(float64 %zu)\n", name, Lb, La, dg / gm, mlff_trainer_jacobian_bytes(t1),
         mlff_trainer_jacobian_bytes(t));
  CHECK_CLOSE(Lb, La, 1e-5 * La);
  CHECK(dg < 1e-4 * gm);
  CHECK(2 * mlff_trainer_jacobian_bytes(t1) == mlff_trainer_jacobian_bytes(t));
  mlff_trainer_free(t1);
  free(g);
  free(g1);
  mlff_trainer_free(t);
  mlff_dataset_free(d);
  mlff_model_free(m);
}

int main(void) {
  check_grad(MLFF_ACT_SILU, "silu");
  check_grad(MLFF_ACT_CELU, "celu");
  if (test_failures) fprintf(stderr, "%d check(s) failed\n", test_failures);
  return test_failures ? 1 : 0;
}
