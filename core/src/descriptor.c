/* descriptor.c — the ANI-style atomic environment vector of one atom (docs/model.md) and its
 * backward pass: given dE/dG, the gradient of E with respect to each neighbour vector.
 * Double precision; the same arithmetic as TorchANI's AEVComputer, reorganised so that the
 * angular term of a pair costs n_muA + n_thetaZ transcendental calls instead of their product:
 * factor1 depends only on the angle section z, factor2 only on the radial shell a. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "descriptor.h"

/* Cosine cutoff and its derivative. */
static inline double fc(double r, double rc) { return 0.5 * cos(M_PI * r / rc) + 0.5; }
static inline double dfc(double r, double rc) { return -0.5 * M_PI / rc * sin(M_PI * r / rc); }

/* Equal spacing of shell centres lets a Gaussian comb cost two exp() calls, not one per shell. */
static double uniform_step(const double *mu, int n) {
  if (n < 2) return 0.0;
  double step = mu[1] - mu[0];
  for (int k = 2; k < n; k++)
    if (fabs(mu[k] - mu[k - 1] - step) > 1e-12 * fabs(step)) return 0.0;
  return step > 0 ? step : 0.0;
}

/* g[k] = exp(-eta (x - mu[k])^2) for all k. For equally spaced mu, by the recurrence
 * g[k+1] = g[k] q[k], q[k+1] = q[k] exp(-2 eta step^2), started at the shell nearest x and run
 * outwards (values only shrink there, so an underflow is a true zero, never a lost peak). */
static inline void gaussians(double x, double eta, const double *mu, int n, double step,
                             double decay, double *g) {
  if (step == 0.0) {
    for (int k = 0; k < n; k++) {
      double d = x - mu[k];
      g[k] = exp(-eta * d * d);
    }
    return;
  }
  int k0 = (int)floor((x - mu[0]) / step + 0.5);
  k0 = k0 < 0 ? 0 : (k0 >= n ? n - 1 : k0);
  double t = x - mu[k0];
  g[k0] = exp(-eta * t * t);
  double up = exp(eta * step * (2.0 * t - step)); /* g[k0+1]/g[k0] */
  double down = decay / up; /* g[k0-1]/g[k0] = exp(-eta step (2t + step)) */
  double q = up;
  for (int k = k0 + 1; k < n; k++) { g[k] = g[k - 1] * q; q *= decay; }
  q = down;
  for (int k = k0 - 1; k >= 0; k--) { g[k] = g[k + 1] * q; q *= decay; }
}

void mlff_aev_setup(mlff_aev *a, const mlff_descriptor_params *p, int n_species) {
  a->p = p;
  a->n_species = n_species;
  a->n_radial = n_species * p->n_muR;
  a->n_features = mlff_descriptor_length(p, n_species);
  a->rc = fmax(p->Rcr, p->Rca);
  double zm1 = p->zeta - 1.0;
  a->zeta_m1_int = (zm1 >= 0 && zm1 <= 64 && zm1 == floor(zm1)) ? (int)zm1 : -1;
  a->stepR = uniform_step(p->muR, p->n_muR);
  a->stepA = uniform_step(p->muA, p->n_muA);
  a->decayR = exp(-2.0 * p->etaR * a->stepR * a->stepR);
  a->decayA = exp(-2.0 * p->etaA * a->stepA * a->stepA);
  for (int z = 0; z < p->n_thetaZ; z++) {
    a->cosZ[z] = cos(p->thetaZ[z]);
    a->sinZ[z] = sin(p->thetaZ[z]);
  }
}

/* Angular factors of one pair: f1[z], f2[a] and, when wanted, their derivatives with respect
 * to cos(theta_ijk) and to the mean distance. */
#define HOT static inline __attribute__((always_inline))

HOT void angular_factors(const mlff_aev *A, double cos_t, double ravg, double *f1, double *df1,
                         double *f2, double *df2, const int nA, const int nZ) {
  const mlff_descriptor_params *p = A->p;
  double c = 0.95 * cos_t;       /* cos(theta') with theta' = acos(0.95 cos theta) */
  double s = sqrt(1.0 - c * c);  /* sin(theta') >= sqrt(1 - 0.95^2) > 0: smooth */
  double base[MLFF_MAX_ANGLE_SECTIONS], pm1[MLFF_MAX_ANGLE_SECTIONS];
  for (int z = 0; z < nZ; z++) /* (1 + cos(theta' - thetaZ)) / 2 without acos */
    base[z] = 0.5 * (1.0 + c * A->cosZ[z] + s * A->sinZ[z]);
  if (A->zeta_m1_int >= 0) { /* base^(zeta-1) by squaring, all sections at once */
    double sq[MLFF_MAX_ANGLE_SECTIONS];
    for (int z = 0; z < nZ; z++) { pm1[z] = 1.0; sq[z] = base[z]; }
    for (int e = A->zeta_m1_int; e; e >>= 1) {
      if (e & 1)
        for (int z = 0; z < nZ; z++) pm1[z] *= sq[z];
      for (int z = 0; z < nZ; z++) sq[z] *= sq[z];
    }
  } else {
    for (int z = 0; z < nZ; z++) pm1[z] = pow(base[z], p->zeta - 1.0);
  }
  for (int z = 0; z < nZ; z++) f1[z] = pm1[z] * base[z];
  if (df1) {
    double k = 0.5 * 0.95 * p->zeta, c_s = c / s;
    for (int z = 0; z < nZ; z++) df1[z] = k * pm1[z] * (A->cosZ[z] - c_s * A->sinZ[z]);
  }
  gaussians(ravg, p->etaA, p->muA, nA, A->stepA, A->decayA, f2);
  if (df2)
    for (int a = 0; a < nA; a++) df2[a] = -2.0 * p->etaA * (ravg - p->muA[a]) * f2[a];
}

/* The neighbours within Rca with their cutoff values: one cos/sin each rather than one per
 * pair. On the stack up to ANGULAR_STACK neighbours (a dense liquid has ~20), else the heap. */
#define ANGULAR_STACK 128
typedef struct {
  int n, *idx;
  double *fc, *dfc;
  int idx_s[ANGULAR_STACK];
  double fc_s[2 * ANGULAR_STACK];
} angular_list;

static void angular_list_build(angular_list *L, const mlff_aev *A, int n,
                               const mlff_neighbor_entry *nb) {
  L->idx = L->idx_s;
  L->fc = L->fc_s;
  if (n > ANGULAR_STACK) {
    L->idx = malloc(n * sizeof(int));
    L->fc = malloc(2 * n * sizeof(double));
    if (!L->idx || !L->fc) abort(); /* a few kB: failing here means the process is done */
  }
  L->dfc = L->fc + (n > ANGULAR_STACK ? n : ANGULAR_STACK);
  L->n = 0;
  for (int j = 0; j < n; j++)
    if (nb[j].r < A->p->Rca) {
      L->idx[L->n] = j;
      L->fc[L->n] = fc(nb[j].r, A->p->Rca);
      L->dfc[L->n] = dfc(nb[j].r, A->p->Rca);
      L->n++;
    }
}

static void angular_list_free(angular_list *L) {
  if (L->idx != L->idx_s) {
    free(L->idx);
    free(L->fc);
  }
}

HOT void angular_forward(const mlff_aev *A, const angular_list *L, const mlff_neighbor_entry *nb,
                         double *G, const int nA, const int nZ) {
  double f1[MLFF_MAX_ANGLE_SECTIONS], f2[MLFF_MAX_ANGULAR_SHELLS];
  for (int jj = 0; jj < L->n; jj++) {
    int j = L->idx[jj];
    for (int kk = jj + 1; kk < L->n; kk++) {
      int k = L->idx[kk];
      double cos_t = (nb[j].d[0] * nb[k].d[0] + nb[j].d[1] * nb[k].d[1] +
                      nb[j].d[2] * nb[k].d[2]) / (nb[j].r * nb[k].r);
      angular_factors(A, cos_t, 0.5 * (nb[j].r + nb[k].r), f1, NULL, f2, NULL, nA, nZ);
      double w = 2.0 * L->fc[jj] * L->fc[kk];
      double *g = G + A->n_radial +
                  mlff_pair_index(nb[j].species, nb[k].species, A->n_species) * nA * nZ;
      for (int a = 0; a < nA; a++) {
        double wa = w * f2[a];
        for (int z = 0; z < nZ; z++) g[a * nZ + z] += wa * f1[z];
      }
    }
  }
}

void mlff_aev_forward(const mlff_aev *A, int n, const mlff_neighbor_entry *nb, double *G) {
  const mlff_descriptor_params *p = A->p;
  const int nR = p->n_muR, nA = p->n_muA, nZ = p->n_thetaZ;
  memset(G, 0, sizeof(double) * A->n_features);
  for (int j = 0; j < n; j++) {
    double r = nb[j].r;
    if (r >= p->Rcr) continue;
    double f = 0.25 * fc(r, p->Rcr), gk[MLFF_MAX_RADIAL_SHELLS];
    gaussians(r, p->etaR, p->muR, nR, A->stepR, A->decayR, gk);
    double *g = G + nb[j].species * nR;
    for (int k = 0; k < nR; k++) g[k] += f * gk[k];
  }
  angular_list L;
  angular_list_build(&L, A, n, nb);
  if (nA == 4 && nZ == 8) /* ANI-1x: constant trip counts, unrolled and vectorised */
    angular_forward(A, &L, nb, G, 4, 8);
  else
    angular_forward(A, &L, nb, G, nA, nZ);
  angular_list_free(&L);
}

/* The angular part of the backward pass for nvec gradients dEdG + v * dstride at once, into
 * grad + v * gstride: the triplets' geometry and factors (the expensive part) once, each
 * vector's contraction in turn (committee members share the descriptor). */
HOT void angular_backward(const mlff_aev *A, const angular_list *L,
                          const mlff_neighbor_entry *nb, int nvec, const double *dEdG,
                          size_t dstride, double (*grad)[3], size_t gstride, const int nA,
                          const int nZ) {
  double f1[MLFF_MAX_ANGLE_SECTIONS], df1[MLFF_MAX_ANGLE_SECTIONS];
  double f2[MLFF_MAX_ANGULAR_SHELLS], df2[MLFF_MAX_ANGULAR_SHELLS];
  for (int jj = 0; jj < L->n; jj++) {
    int j = L->idx[jj];
    double rj = nb[j].r, fcj = L->fc[jj], dfcj = L->dfc[jj];
    for (int kk = jj + 1; kk < L->n; kk++) {
      int k = L->idx[kk];
      double rk = nb[k].r, fck = L->fc[kk], dfck = L->dfc[kk];
      const double *dj = nb[j].d, *dk = nb[k].d;
      double inv = 1.0 / (rj * rk);
      double cos_t = (dj[0] * dk[0] + dj[1] * dk[1] + dj[2] * dk[2]) * inv;
      angular_factors(A, cos_t, 0.5 * (rj + rk), f1, df1, f2, df2, nA, nZ);
      const size_t off = (size_t)A->n_radial +
                         (size_t)mlff_pair_index(nb[j].species, nb[k].species, A->n_species) *
                             nA * nZ;
      for (int v = 0; v < nvec; v++) {
        const double *w = dEdG + v * dstride + off;
        double(*g)[3] = grad + v * gstride;
        /* S = sum w f1 f2, and its derivatives by cos(theta) and by the mean distance */
        double S = 0.0, S_c = 0.0, S_r = 0.0;
        for (int a = 0; a < nA; a++) {
          double t = 0.0, tc = 0.0, tr = 0.0;
          for (int z = 0; z < nZ; z++) {
            double wz = w[a * nZ + z];
            t += wz * f1[z];
            tc += wz * df1[z];
          }
          tr = t * df2[a];
          S += t * f2[a];
          S_c += tc * f2[a];
          S_r += tr;
        }
        double fcjk = fcj * fck;
        double dE_dc = 2.0 * fcjk * S_c;
        double dE_drj = 2.0 * (dfcj * fck * S + 0.5 * fcjk * S_r);
        double dE_drk = 2.0 * (fcj * dfck * S + 0.5 * fcjk * S_r);
        for (int x = 0; x < 3; x++) {
          /* d cos / d d_j = d_k/(rj rk) - cos d_j/rj^2, and symmetrically for k */
          g[j][x] += dE_dc * (dk[x] * inv - cos_t * dj[x] / (rj * rj)) + dE_drj * dj[x] / rj;
          g[k][x] += dE_dc * (dj[x] * inv - cos_t * dk[x] / (rk * rk)) + dE_drk * dk[x] / rk;
        }
      }
    }
  }
}

void mlff_aev_backward_multi(const mlff_aev *A, int n, const mlff_neighbor_entry *nb, int nvec,
                             const double *dEdG, size_t dstride, double (*grad)[3],
                             size_t gstride) {
  const mlff_descriptor_params *p = A->p;
  const int nR = p->n_muR, nA = p->n_muA, nZ = p->n_thetaZ;
  for (int v = 0; v < nvec; v++)
    for (int j = 0; j < n; j++) {
      double(*g)[3] = grad + v * gstride;
      g[j][0] = g[j][1] = g[j][2] = 0.0;
    }
  for (int j = 0; j < n; j++) {
    double r = nb[j].r;
    if (r >= p->Rcr) continue;
    double f = fc(r, p->Rcr), df = dfc(r, p->Rcr), gk[MLFF_MAX_RADIAL_SHELLS];
    gaussians(r, p->etaR, p->muR, nR, A->stepR, A->decayR, gk);
    for (int v = 0; v < nvec; v++) {
      const double *w = dEdG + v * dstride + nb[j].species * nR;
      double s = 0.0;
      for (int k = 0; k < nR; k++) s += w[k] * gk[k] * (df - 2.0 * p->etaR * (r - p->muR[k]) * f);
      s *= 0.25 / r;
      for (int x = 0; x < 3; x++) grad[v * gstride + j][x] += s * nb[j].d[x];
    }
  }
  angular_list L;
  angular_list_build(&L, A, n, nb);
  if (nA == 4 && nZ == 8)
    angular_backward(A, &L, nb, nvec, dEdG, dstride, grad, gstride, 4, 8);
  else
    angular_backward(A, &L, nb, nvec, dEdG, dstride, grad, gstride, nA, nZ);
  angular_list_free(&L);
}

void mlff_aev_backward(const mlff_aev *A, int n, const mlff_neighbor_entry *nb,
                       const double *dEdG, double (*grad)[3]) {
  mlff_aev_backward_multi(A, n, nb, 1, dEdG, 0, grad, 0);
}

/* Forward-mode: G and its full Jacobian with respect to the neighbour vectors, for training
 * (docs/cli.md: descriptors and their Jacobian are fixed per structure, computed once). */
void mlff_aev_jacobian(const mlff_aev *A, int n, const mlff_neighbor_entry *nb, double *G,
                       double *J) {
  const mlff_descriptor_params *p = A->p;
  const int nR = p->n_muR, nA = p->n_muA, nZ = p->n_thetaZ;
  const size_t row = 3 * (size_t)n; /* J[f] holds n neighbours x 3 */
  memset(G, 0, sizeof(double) * A->n_features);
  memset(J, 0, sizeof(double) * A->n_features * row);
  for (int j = 0; j < n; j++) {
    double r = nb[j].r;
    if (r >= p->Rcr) continue;
    double f = fc(r, p->Rcr), df = dfc(r, p->Rcr), gk[MLFF_MAX_RADIAL_SHELLS];
    gaussians(r, p->etaR, p->muR, nR, A->stepR, A->decayR, gk);
    int f0 = nb[j].species * nR;
    for (int k = 0; k < nR; k++) {
      G[f0 + k] += 0.25 * f * gk[k];
      double s = 0.25 * gk[k] * (df - 2.0 * p->etaR * (r - p->muR[k]) * f) / r;
      for (int x = 0; x < 3; x++) J[(f0 + k) * row + 3 * j + x] += s * nb[j].d[x];
    }
  }
  double f1[MLFF_MAX_ANGLE_SECTIONS], df1[MLFF_MAX_ANGLE_SECTIONS];
  double f2[MLFF_MAX_ANGULAR_SHELLS], df2[MLFF_MAX_ANGULAR_SHELLS];
  angular_list L;
  angular_list_build(&L, A, n, nb);
  for (int jj = 0; jj < L.n; jj++) {
    int j = L.idx[jj];
    double rj = nb[j].r, fcj = L.fc[jj], dfcj = L.dfc[jj];
    for (int kk = jj + 1; kk < L.n; kk++) {
      int k = L.idx[kk];
      double rk = nb[k].r, fck = L.fc[kk], dfck = L.dfc[kk];
      const double *dj = nb[j].d, *dk = nb[k].d;
      double inv = 1.0 / (rj * rk);
      double cos_t = (dj[0] * dk[0] + dj[1] * dk[1] + dj[2] * dk[2]) * inv;
      angular_factors(A, cos_t, 0.5 * (rj + rk), f1, df1, f2, df2, nA, nZ);
      double dcj[3], dck[3], uj[3], uk[3];
      for (int x = 0; x < 3; x++) {
        dcj[x] = dk[x] * inv - cos_t * dj[x] / (rj * rj);
        dck[x] = dj[x] * inv - cos_t * dk[x] / (rk * rk);
        uj[x] = dj[x] / rj;
        uk[x] = dk[x] / rk;
      }
      int base = A->n_radial + mlff_pair_index(nb[j].species, nb[k].species, A->n_species) * nA * nZ;
      for (int a = 0; a < nA; a++)
        for (int z = 0; z < nZ; z++) {
          int fi = base + a * nZ + z;
          G[fi] += 2.0 * fcj * fck * f2[a] * f1[z];
          /* d/d r_j, d/d r_k (through the cutoffs and the mean distance) and d/d cos */
          double t_rj = 2.0 * f1[z] * (dfcj * fck * f2[a] + 0.5 * fcj * fck * df2[a]);
          double t_rk = 2.0 * f1[z] * (fcj * dfck * f2[a] + 0.5 * fcj * fck * df2[a]);
          double t_c = 2.0 * fcj * fck * f2[a] * df1[z];
          double *Jj = J + fi * row + 3 * j, *Jk = J + fi * row + 3 * k;
          for (int x = 0; x < 3; x++) {
            Jj[x] += t_rj * uj[x] + t_c * dcj[x];
            Jk[x] += t_rk * uk[x] + t_c * dck[x];
          }
        }
    }
  }
  angular_list_free(&L);
}
