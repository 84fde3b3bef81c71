/* descriptor.h — AEV of one atom from its neighbour entries, and the backward pass. */
#ifndef MLFF_DESCRIPTOR_H
#define MLFF_DESCRIPTOR_H

#include "internal.h"

/* One neighbour j of a central atom i: d = x_j - x_i, r = |d|. */
typedef struct {
  double d[3];
  double r;
  int species;
  int index; /* atom index of j in the system */
} mlff_neighbor_entry;

/* Precomputed constants of a descriptor. */
typedef struct {
  const mlff_descriptor_params *p;
  int n_species, n_radial, n_features;
  double rc;          /* max(Rcr, Rca) */
  int zeta_m1_int;    /* zeta - 1 when it is a small integer (fast power), else -1 */
  double stepR, stepA;   /* spacing of muR / muA when uniform, else 0 */
  double decayR, decayA; /* exp(-2 eta step^2): ratio of successive Gaussian quotients */
  double cosZ[MLFF_MAX_ANGLE_SECTIONS], sinZ[MLFF_MAX_ANGLE_SECTIONS];
} mlff_aev;

void mlff_aev_setup(mlff_aev *a, const mlff_descriptor_params *p, int n_species);
/* G[n_features] of an atom with n neighbours (all with r < rc; others are ignored). */
void mlff_aev_forward(const mlff_aev *a, int n, const mlff_neighbor_entry *nb, double *G);
/* grad[j] = dE/d(d_j) given dEdG[n_features]; grad is overwritten. */
void mlff_aev_backward(const mlff_aev *a, int n, const mlff_neighbor_entry *nb,
                       const double *dEdG, double (*grad)[3]);
/* The same for nvec gradients at once (committee members): dEdG + v * dstride into
 * grad + v * gstride (rows of 3), v = 0 .. nvec-1; the geometry is computed once. */
void mlff_aev_backward_multi(const mlff_aev *a, int n, const mlff_neighbor_entry *nb, int nvec,
                             const double *dEdG, size_t dstride, double (*grad)[3],
                             size_t gstride);
/* G[n_features] and J[n_features][n][3] = dG_f / d(d_j) for the n neighbours (the derivative
 * with respect to the central atom is minus the sum over j). For training. */
void mlff_aev_jacobian(const mlff_aev *a, int n, const mlff_neighbor_entry *nb, double *G,
                       double *J);

#endif
