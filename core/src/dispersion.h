/* dispersion.h — the model's long-range dispersion (docs/model.md, model file group
 * /dispersion): pairwise C6/r^6 + C8/r^8 with Becke–Johnson damping, the form of D3(BJ) and D4,
 *   e(r) = -s6 C6 / (r^6 + R0^6) - s8 C8 / (r^8 + R0^8),   R0 = a1 sqrt(C8 / C6) + a2,
 * summed over pairs up to its own cutoff (well beyond the descriptor's), and the mean-field
 * tail beyond it (damping neglected there), for energy and virial, as LAMMPS's
 * `pair_modify tail yes`. C6 and C8 are fixed per pair of elements. Atom i carries half of
 * each of its pairs, so the term is atom-centred like the networks'. */
#ifndef MLFF_DISPERSION_H
#define MLFF_DISPERSION_H

#include "internal.h"

#define MLFF_EH 27.211386245988 /* Hartree in eV (CODATA 2018), for D4's C9 */

/* Derived constants of a model's dispersion (R0 powers, tail integrals); call after the
 * parameters change. */
void mlff_disp_setup(mlff_dispersion *d, int n_elements);

/* Pair energy (eV) of species a, b at distance r < cutoff, and de/dr (eV/Å). */
static inline double mlff_disp_pair(const mlff_dispersion *d, int a, int b, double r,
                                    double *dedr) {
  double r2 = r * r, r6 = r2 * r2 * r2, r8 = r6 * r2;
  double t6 = 1.0 / (r6 + d->r0_6[a][b]), t8 = 1.0 / (r8 + d->r0_8[a][b]);
  double c6 = d->p.s6 * d->p.c6[a][b], c8 = d->p.s8 * d->p.c8[a][b];
  *dedr = (6.0 * c6 * r6 * t6 * t6 + 8.0 * c8 * r8 * t8 * t8) / r;
  return -(c6 * t6 + c8 * t8);
}

/* The three-body term's smooth cutoff (switch3 > 0): s(r) = 1 up to r_on = cutoff3 - switch3,
 * then 1 - 10 t^3 + 15 t^4 - 6 t^5 with t = (r - r_on) / switch3 (s, s' and s'' continuous,
 * 0 at cutoff3), and ds/dr. */
static inline void mlff_disp_switch(double r, double r_on, double width, double *s, double *ds) {
  if (r <= r_on) {
    *s = 1.0, *ds = 0.0;
    return;
  }
  const double t = (r - r_on) / width, t2 = t * t;
  *s = 1.0 - t2 * t * (10.0 - 15.0 * t + 6.0 * t2);
  *ds = -30.0 * t2 * (1.0 - t) * (1.0 - t) / width;
}

/* The three-body (ATM) sum of atom i (species si) over the pairs of its m neighbours within
 * cutoff3 (weighed by the smooth cutoff where switch3 > 0), given as displacements dx[j] = x_j - x_i, squared distances r2[j] and species sp[j]:
 * every triple (i, j, k) with r_jk < cutoff3 too. Adds a third of each triple's energy and
 * virial (each triple is found from its three atoms alike) and its whole force on i (-de/dx_i)
 * into *e, f[3], w[6]. aux: room for 3 m doubles. */
void mlff_disp_triples(const mlff_dispersion *d, int si, int m, const double (*dx)[3],
                       const double *r2, const int *sp, double *aux, double *e, double f[3],
                       double w[6]);

/* Mean-field tail beyond the cutoff of a periodic system of volume V (Å^3) holding count[s]
 * atoms of each species, with a uniform pair density there (g(r) = 1) and the damped pair form:
 * energy (eV) and the diagonal virial W_xx = W_yy = W_zz (eV), which adds P_tail V.
 * Per pair of species (d->tail_e, d->tail_w; LAMMPS's etail_ij, ptail_ij up to its N_i N_j):
 *   E = sum_ab N_a N_b / V * 2 pi int_rc^inf r^2 e(r) dr,
 *   W_xx = sum_ab N_a N_b / V * (2 pi / 3) int_rc^inf r^3 (-e'(r)) dr. */
void mlff_disp_tail(const mlff_dispersion *d, int n_elements, const long *count, double volume,
                    double *energy, double *virial_diag);

/* The three-body term's tail (mlff_dispersion_params.tail3, mlff.h): E = tail3 S / V^2 with
 * S = (1/6) sum_abc N_a N_b N_c C9_abc, W_xx = W_yy = W_zz = 2 E. */
void mlff_disp_tail3(const mlff_dispersion *d, int n_elements, const long *count, double volume,
                     double *energy, double *virial_diag);

/* The tails of one structure added to *energy and virial[0..2] (the pair tail when `tail` is
 * set, the three-body one when tail3 is not 0), when the cell is periodic along all three axes
 * (else nothing). */
void mlff_disp_add_tail(const mlff_dispersion *d, int n_elements, int n, const int *species,
                        const double *cell, const int pbc[3], double *energy, double virial[6]);

/* Dispersion of the atoms atoms[0..n) of a system given by a full neighbour list (every pair
 * within the cutoff in both atoms' lists, as LAMMPS and mlff_compute make them; other entries are
 * skipped): each atom's force from its own list alone, E_i = 1/2 sum_j e(r_ij), and its
 * per-atom virial half of each of its pairs'. Threads over atoms; sums in atom order, so the
 * result does not depend on the thread count. sums: the caller's workspace of 7 n doubles
 * (kept in its calc: no allocation per call). Adds into forces, eatom, vatom (each may be
 * NULL) and into *energy and virial[6]. Cannot fail. */
mlff_status mlff_disp_list(const mlff_dispersion *d, const mlff_neighbors *nl, const int *atoms,
                           int n, int n_threads, double *sums, double *forces, double *eatom,
                           double *vatom, double *energy, double virial[6]);

/* Refusal of bad parameters (NULL if good): what is wrong, for the file reader's message. */
const char *mlff_disp_check(const mlff_dispersion *d, int n_elements, char *buf, size_t size);

#endif
