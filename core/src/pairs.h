/* pairs.h — what the long-range pair terms' sums over a full neighbour list share (dispersion.c,
 * electrostatics.c): each atom's pairs from its own list, each pair's force on it and half of
 * the pair's virial, and each atom's result into the caller's arrays and the per-atom sums
 * that are added in atom order (the same totals for any thread count); and the terms' sum on
 * one structure, for the trainer. */
#ifndef MLFF_PAIRS_H
#define MLFF_PAIRS_H

#include "internal.h"

/* Entry jj of atom i's list: 1 with j, the displacement dx = x_j - x_i and r2 when it is a
 * pair within rc2 (not i itself, a known species, not coincident), else 0. */
static inline int mlff_pair_at(const mlff_neighbors *nl, int i, int jj, double rc2, int *j,
                               double dx[3], double *r2) {
  const int *list = nl->firstneigh[i];
  const double *X = nl->positions;
  int k = nl->index_mask ? list[jj] & nl->index_mask : list[jj];
  if (k < 0 || k >= nl->n_total || k == i || nl->species[k] < 0) return 0;
  for (int x = 0; x < 3; x++) dx[x] = X[3 * (size_t)k + x] - X[3 * (size_t)i + x];
  *r2 = dx[0] * dx[0] + dx[1] * dx[1] + dx[2] * dx[2];
  *j = k;
  return *r2 < rc2 && *r2 != 0.0;
}

/* A pair's share for atom i, given g = e'(r)/r: its force on i is +g dx (toward j when
 * attractive), and half of its virial -g dx (x) dx is i's. */
static inline void mlff_pair_add(double g, const double dx[3], double f[3], double w[6]) {
  for (int x = 0; x < 3; x++) f[x] += g * dx[x];
  const double h = -0.5 * g;
  w[0] += h * dx[0] * dx[0], w[1] += h * dx[1] * dx[1], w[2] += h * dx[2] * dx[2];
  w[3] += h * dx[0] * dx[1], w[4] += h * dx[0] * dx[2], w[5] += h * dx[1] * dx[2];
}

/* Atom i's (row r's) energy e, force f and virial w into the caller's arrays (each may be
 * NULL) and into row r of sums (7 doubles: e, w) */
static inline void mlff_pair_atom_out(int i, int r, double e, const double f[3], const double w[6],
                                      double *forces, double *eatom, double *vatom, double *sums) {
  if (forces)
    for (int x = 0; x < 3; x++) forces[3 * (size_t)i + x] += f[x];
  if (eatom) eatom[i] += e;
  if (vatom)
    for (int q = 0; q < 6; q++) vatom[6 * (size_t)i + q] += w[q];
  sums[7 * (size_t)r] = e;
  for (int q = 0; q < 6; q++) sums[7 * (size_t)r + 1 + q] = w[q];
}

/* The rows' sums, in row order, into *energy and virial */
static inline void mlff_pair_totals(int n, const double *sums, double *energy, double virial[6]) {
  for (int r = 0; r < n; r++) {
    *energy += sums[7 * (size_t)r];
    for (int q = 0; q < 6; q++) virial[q] += sums[7 * (size_t)r + 1 + q];
  }
}

/* A model's long-range terms (dispersion with its tails, electrostatics) on one structure (n
 * atoms, species, cell NULL or periodic along pbc), from one neighbour list to the longer of
 * their cutoffs: *energy (set; 0 without them) and forces [n][3] (added to). For the trainer,
 * which fits the networks to the teacher minus these terms (pairs.c), with each atom's charge
 * from the structure's own bonds (mlff_coul_charges). Only MLFF_ERR_NOMEM can fail. */
mlff_status mlff_long_range_structure(const mlff_model *m, int n, const double *x,
                                      const int *species, const double *cell, const int pbc[3],
                                      double *energy, double *forces);

#endif
