/* electrostatics.h — the model's fixed-charge electrostatics (docs/model.md, model file group
 * /electrostatics): Coulomb's law between atomic charges with damped shifted forces (DSF,
 * Fennell and Gezelter 2006, as LAMMPS's coul/dsf), every pair within its cutoff, and each atom's
 * self term. The charges are by element, plus bond-charge increments where the model has them
 * (mlff_coul_charges). Atom i carries half of each of its pairs and its self term, so the term is
 * atom-centred like the networks'. */
#ifndef MLFF_ELECTROSTATICS_H
#define MLFF_ELECTROSTATICS_H

#include "internal.h"

#include <math.h>

#define MLFF_COULOMB 14.399645 /* e^2 / (4 pi eps0) in eV Å (LAMMPS's metal qqr2e) */

/* Derived constants (shifts, self terms, which species are hydrogen); call after the
 * parameters change. */
void mlff_coul_setup(mlff_electrostatics *c, int n_elements,
                     const char (*elements)[MLFF_SYMBOL_LEN]);

/* Pair energy (eV) of charges qi, qj (e) at distance r < cutoff, and de/dr (eV/Å). */
static inline double mlff_coul_pair(const mlff_electrostatics *c, double qi, double qj, double r,
                                    double *dedr) {
  const double kqq = MLFF_COULOMB * qi * qj, al = c->p.alpha;
  const double erfcr = erfc(al * r), gauss = 2.0 * al / sqrt(M_PI) * exp(-al * al * r * r);
  *dedr = kqq * (-erfcr / (r * r) - gauss / r - c->f_shift);
  return kqq * (erfcr / r - c->e_shift - r * c->f_shift);
}

/* The charges (e) of atoms 0 .. n-1 at positions x [n][3] with species (-1: none, charge 0):
 * charges by element, plus with bond increments those of each atom's bonds among these atoms
 * (images and ghosts being atoms too; an atom whose partners lie beyond them misses theirs).
 * Only MLFF_ERR_NOMEM can fail. */
mlff_status mlff_coul_charges(const mlff_electrostatics *c, int n, const double *x,
                              const int *species, double *q);

/* Electrostatics of the atoms atoms[0..n) of a system given by a full neighbour list (as
 * mlff_disp_list, dispersion.h) and the charges q [nl->n_total] (mlff_coul_charges): each
 * atom's force from its own list, E_i = 1/2 sum_j e(r_ij) + its self term, its per-atom virial
 * half of each of its pairs'. sums: 7 n doubles of the caller's. Adds into forces, eatom, vatom
 * (each may be NULL), *energy and virial[6]. */
void mlff_coul_list(const mlff_electrostatics *c, const mlff_neighbors *nl, const double *q,
                    const int *atoms, int n, int n_threads, double *sums, double *forces,
                    double *eatom, double *vatom, double *energy, double virial[6]);

/* Refusal of bad parameters (NULL if good): what is wrong, for the file reader's message. */
const char *mlff_coul_check(const mlff_electrostatics_params *p, int n_elements, char *buf,
                            size_t size);

/* The longest bond between species a and b, Å: bond_factor (R_a + R_b), twice that with a
 * hydrogen (bonded to its nearest atom other than hydrogen: a stretched X-H stays bonded until
 * another atom is nearer). Needs mlff_coul_setup's hydrogen flags. */
double mlff_coul_bond_length(const mlff_electrostatics *c, int a, int b);

/* Whether p has bond-charge increments (any non-zero) */
int mlff_coul_has_increments(const mlff_electrostatics_params *p, int n_elements);

#endif
