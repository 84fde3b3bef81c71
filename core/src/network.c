/* network.c — per-element MLP on a block of atoms (rows), forward to atomic energies and
 * backward to dE/dG, in double precision with BLAS (one dgemm per layer and direction). */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "network.h"

size_t mlff_mlp_workspace(const mlff_network *n, int rows) {
  size_t w = 0;
  for (int l = 1; l < n->n_layers; l++) w += 2 * (size_t)rows * n->sizes[l]; /* Z and A */
  int widest = 0;
  for (int l = 0; l <= n->n_layers; l++) widest = n->sizes[l] > widest ? n->sizes[l] : widest;
  return w + 2 * (size_t)rows * widest; /* two ping-pong buffers for the backward pass */
}

/* Activation and its derivative from one exp(): *z becomes act'(z), the value is returned. */
static inline double act(mlff_activation a, double *z) {
  double x = *z;
  if (a == MLFF_ACT_CELU) {
    if (x > 0) { *z = 1.0; return x; }
    double e = exp(x / 0.1);
    *z = e;
    return 0.1 * (e - 1.0);
  }
  double s = 1.0 / (1.0 + exp(-x));
  *z = s * (1.0 + x * (1.0 - s));
  return x * s;
}

void mlff_mlp_eval(const mlff_network *n, mlff_activation activation, int rows, const double *G,
                   double *out, double *dEdG, double *work) {
  const int L = n->n_layers;
  const double *Z[MLFF_MAX_LAYERS], *A[MLFF_MAX_LAYERS];
  A[0] = G;
  double *w = work;
  /* forward: Z_l = A_{l-1} W^T + b, A_l = act(Z_l) for hidden layers; Z_l then holds act'
   * for the backward pass */
  for (int l = 1; l < L; l++) {
    int in = n->sizes[l - 1], o = n->sizes[l];
    double *z = w, *a = w + (size_t)rows * o;
    w += 2 * (size_t)rows * o;
    for (int r = 0; r < rows; r++) memcpy(z + (size_t)r * o, n->bd[l - 1], o * sizeof(double));
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, o, in, 1.0, A[l - 1], in,
                n->Wd[l - 1], in, 1.0, z, o);
    for (size_t i = 0; i < (size_t)rows * o; i++) a[i] = act(activation, &z[i]);
    Z[l] = z;
    A[l] = a;
  }
  /* output layer: one unit, a dot product per row */
  int last = n->sizes[L - 1];
  const double *wl = n->Wd[L - 1];
  for (int r = 0; r < rows; r++) {
    const double *a = A[L - 1] + (size_t)r * last;
    double s = n->bd[L - 1][0];
    for (int i = 0; i < last; i++) s += a[i] * wl[i];
    out[r] = s;
  }
  if (!dEdG) return;
  /* backward: dA_{L-1} = W_L (each row), dZ = dA * act'(Z), dA_{l-1} = dZ W_l */
  int widest = 0;
  for (int l = 0; l <= L; l++) widest = n->sizes[l] > widest ? n->sizes[l] : widest;
  double *dA = w, *dB = w + (size_t)rows * widest;
  for (int r = 0; r < rows; r++) memcpy(dA + (size_t)r * last, wl, last * sizeof(double));
  for (int l = L - 1; l >= 1; l--) {
    int in = n->sizes[l - 1], o = n->sizes[l];
    for (size_t i = 0; i < (size_t)rows * o; i++) dA[i] *= Z[l][i];
    double *dst = l == 1 ? dEdG : dB;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, in, o, 1.0, dA, o,
                n->Wd[l - 1], in, 0.0, dst, in);
    double *t = dA; dA = dB; dB = t;
  }
  if (L == 1) /* no hidden layer: dE/dG is the single row of W */
    for (int r = 0; r < rows; r++) memcpy(dEdG + (size_t)r * last, wl, last * sizeof(double));
}
