/* network.h — per-element MLP forward/backward on a block of rows (double, BLAS). */
#ifndef MLFF_NETWORK_H
#define MLFF_NETWORK_H

#include <stddef.h>

#include "internal.h"

/* Doubles of scratch that mlff_mlp_eval needs for `rows` rows. */
size_t mlff_mlp_workspace(const mlff_network *n, int rows);
/* out[r] = NN(G[r]) (before scale and e0); if dEdG is not NULL, dEdG[r] = dNN/dG[r].
 * G and dEdG are [rows][sizes[0]]. */
void mlff_mlp_eval(const mlff_network *n, mlff_activation activation, int rows, const double *G,
                   double *out, double *dEdG, double *work);

#endif
