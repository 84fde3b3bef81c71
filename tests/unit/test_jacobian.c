/* The descriptor's Jacobian (used by the trainer) against central differences of the
 * descriptor, and against the backward pass: J^T w equals mlff_aev_backward(w). */
#include "descriptor.h"
#include "test_util.h"

static void entries(const tstruct *t, int i, const mlff_aev *A, mlff_neighbor_entry *nb, int *n) {
  *n = 0;
  for (int j = 0; j < t->n; j++) {
    if (j == i) continue;
    double d[3], r2 = 0;
    for (int x = 0; x < 3; x++) { d[x] = t->x[3 * j + x] - t->x[3 * i + x]; r2 += d[x] * d[x]; }
    if (r2 >= A->rc * A->rc) continue;
    memcpy(nb[*n].d, d, sizeof d);
    nb[*n].r = sqrt(r2);
    nb[*n].species = t->species[j];
    nb[*n].index = j;
    (*n)++;
  }
}

int main(void) {
  mlff_descriptor_params p;
  mlff_descriptor_params_ani1x(&p);
  mlff_aev A;
  mlff_aev_setup(&A, &p, 2);
  const int D = A.n_features;
  tstruct t = make_dimer();
  mlff_neighbor_entry nb[64];
  double *G = malloc(sizeof(double) * D), *G2 = malloc(sizeof(double) * D),
         *Gp = malloc(sizeof(double) * D), *Gm = malloc(sizeof(double) * D);
  double maxerr = 0, maxj = 0;
  for (int i = 0; i < t.n; i += 5) {
    int n;
    entries(&t, i, &A, nb, &n);
    double *J = malloc(sizeof(double) * D * n * 3);
    mlff_aev_jacobian(&A, n, nb, G, J);
    mlff_aev_forward(&A, n, nb, G2);
    for (int f = 0; f < D; f++) CHECK_CLOSE(G[f], G2[f], 1e-13);
    const double h = 1e-6;
    for (int j = 0; j < n; j++)
      for (int x = 0; x < 3; x++) {
        mlff_neighbor_entry save = nb[j];
        nb[j].d[x] += h;
        nb[j].r = sqrt(nb[j].d[0] * nb[j].d[0] + nb[j].d[1] * nb[j].d[1] + nb[j].d[2] * nb[j].d[2]);
        mlff_aev_forward(&A, n, nb, Gp);
        nb[j] = save;
        nb[j].d[x] -= h;
        nb[j].r = sqrt(nb[j].d[0] * nb[j].d[0] + nb[j].d[1] * nb[j].d[1] + nb[j].d[2] * nb[j].d[2]);
        mlff_aev_forward(&A, n, nb, Gm);
        nb[j] = save;
        for (int f = 0; f < D; f++) {
          double fd = (Gp[f] - Gm[f]) / (2 * h), an = J[(size_t)f * n * 3 + 3 * j + x];
          maxerr = fmax(maxerr, fabs(fd - an));
          maxj = fmax(maxj, fabs(an));
          CHECK_CLOSE(an, fd, 1e-7 + 1e-6 * fabs(fd));
        }
      }
    /* J^T w = backward(w) */
    double *w = malloc(sizeof(double) * D), (*g)[3] = malloc(sizeof(double[3]) * n);
    for (int f = 0; f < D; f++) w[f] = sin(1.3 * f + i);
    mlff_aev_backward(&A, n, nb, w, g);
    for (int j = 0; j < n; j++)
      for (int x = 0; x < 3; x++) {
        double s = 0;
        for (int f = 0; f < D; f++) s += J[(size_t)f * n * 3 + 3 * j + x] * w[f];
        CHECK_CLOSE(s, g[j][x], 1e-10 * (1 + fabs(s)));
      }
    free(w); free(g); free(J);
  }
  printf("descriptor Jacobian: max |J| %.3f, max |J - FD| %.2e\n", maxj, maxerr);
  CHECK(maxj > 0.1);
  free(G); free(G2); free(Gp); free(Gm);
  tfree(&t);
  if (test_failures) fprintf(stderr, "%d check(s) failed\n", test_failures);
  return test_failures != 0;
}
