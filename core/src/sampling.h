/* sampling.h — the numerics behind `mlff label` (SPEC §4): a seedable random number generator,
 * element masses and radii, a Jacobi eigensolver, geometry optimisation, the finite-difference
 * Hessian and its normal modes, Langevin dynamics, and molecular clusters. Everything is driven
 * by an mlff_teacher and is deterministic: the same inputs and seed give the same bits.
 *
 * Internal to mlff (not in mlff.h): the `mlff label` tool and the tests use it. Units: Å, eV,
 * amu, fs, K. */
#ifndef MLFF_SAMPLING_H
#define MLFF_SAMPLING_H

#include <stdint.h>

#include "mlff.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MLFF_KB_EV 8.617333262e-5     /* Boltzmann constant, eV/K */
#define MLFF_ACC_UNIT 9.648533212e-3  /* (eV/Å)/amu in Å/fs² */

/* ---- random numbers: xoshiro256**, seeded from (seed, stream, index) by splitmix64 ---------- */

typedef struct {
  uint64_t s[4];
} mlff_smp_rng;

void mlff_smp_rng_seed(mlff_smp_rng *r, uint64_t seed, uint64_t stream, uint64_t index);
uint64_t mlff_smp_rng_next(mlff_smp_rng *r);
double mlff_smp_uniform(mlff_smp_rng *r); /* [0, 1) */
double mlff_smp_normal(mlff_smp_rng *r);  /* standard normal (Box–Muller, one per call) */

/* ---- elements ------------------------------------------------------------------------------ */

double mlff_smp_mass(int z);       /* standard atomic weight, amu (1..86) */
double mlff_smp_vdw_radius(int z); /* Bondi van der Waals radius, Å (2.0 where unknown) */

/* ---- linear algebra -------------------------------------------------------------------------- */

/* Eigen-decomposition of the symmetric n x n matrix a (row-major, destroyed) by cyclic Jacobi
 * rotations: w[n] ascending eigenvalues, v[n][n] (may be NULL) row-major with the eigenvectors
 * as COLUMNS (v[i*n + k] is component i of eigenvector k). Returns the number of sweeps, -1 when
 * it did not converge in 100 sweeps (w and v then hold the last iterate), -2 when out of memory
 * (v NULL). */
int mlff_smp_jacobi(int n, double *a, double *w, double *v);

/* ---- geometry -------------------------------------------------------------------------------- */

void mlff_smp_center_of_mass(int n, const int *Z, const double *x, double com[3]);
void mlff_smp_random_rotation(mlff_smp_rng *r, double R[9]); /* uniform over SO(3) */

/* Place n_mol molecules (copies of nat atoms Z, geometries mono[m], any frame) with random
 * orientations: molecule 0 at the origin, each next one with its centre of mass at a distance
 * U(dmin, dmax) in a random direction from the centre of a random earlier one, rejecting any
 * placement that brings two atoms of different molecules closer than 2.0 Å scaled by their van
 * der Waals radii (2.0 Å for H..H). out: [n_mol * nat][3]. Returns the placements tried, or -1
 * after max_tries for one molecule. */
int mlff_smp_cluster(mlff_smp_rng *r, int n_mol, int nat, const int *Z,
                     const double *const *mono, double dmin, double dmax, int max_tries,
                     double *out);
/* A droplet: as mlff_smp_cluster, but every centre of mass also within the sphere of the
 * given radius about the origin and contacts scaled by `contact` (1: 2.0 Å for H..H), then
 * compacted by random moves toward the centre that keep those contacts: liquid-like
 * surroundings, neighbours on all sides, many at the contact distance. Returns the placements
 * tried, or -1 after max_tries for one molecule (too dense). */
int mlff_smp_droplet(mlff_smp_rng *r, int n_mol, int nat, const int *Z,
                     const double *const *mono, double dmin, double dmax, double radius,
                     double contact, int max_tries, double *out);
/* Radius (Å) of the sphere that holds n_mol molecules (atoms Z) at the density (g/cm^3). */
double mlff_smp_droplet_radius(int n_mol, int nat, const int *Z, double density);
/* Closest distance between atoms of different molecules of a cluster built as above. */
double mlff_smp_min_contact(int n_mol, int nat, const int *Z, const double *x, double *ratio);

/* ---- teacher-driven -------------------------------------------------------------------------- */

/* FIRE minimisation of x (nat atoms) until the largest force component norm is below fmax
 * (eV/Å) or max_steps; steps and the final largest force norm are returned. */
mlff_status mlff_smp_optimize(mlff_teacher *t, int nat, const int *Z, double *x, double fmax,
                              int max_steps, int *steps, double *fmax_out);

/* Hessian (eV/Å², [3n][3n], symmetrised) by central differences of the teacher's forces. */
mlff_status mlff_smp_hessian(mlff_teacher *t, int nat, const int *Z, const double *x, double h,
                             double *H);

typedef struct {
  int nat, n_modes;  /* atoms; vibrational modes kept (eigenvalue > MLFF_SMP_MIN_EIGEN) */
  int n_imaginary;   /* modes with a clearly negative eigenvalue (not a minimum), left out */
  double *x0;        /* [nat][3] reference geometry */
  double *mass;      /* [nat] amu */
  double *lambda;    /* [n_modes] eigenvalues of the mass-weighted Hessian, eV/(Å² amu) */
  double *modes;     /* [n_modes][3 nat] unit eigenvectors in mass-weighted coordinates */
} mlff_smp_modes;

#define MLFF_SMP_MIN_EIGEN 1e-2 /* about 50 cm^-1 */

/* Normal modes of H at x: mass-weighted, translations and rotations projected out. */
mlff_status mlff_smp_normal_modes(int nat, const int *Z, const double *x, const double *H,
                                  mlff_smp_modes *m);
void mlff_smp_modes_free(mlff_smp_modes *m);
/* Wavenumber (cm^-1) of an eigenvalue of the mass-weighted Hessian. */
double mlff_smp_wavenumber(double lambda);
/* A classical harmonic sample at temperature T (K): x = x0 + displacements with each mode's
 * coordinate ~ N(0, kT/lambda); v (Å/fs, or NULL) with each mode's velocity ~ N(0, kT). */
void mlff_smp_modes_sample(const mlff_smp_modes *m, mlff_smp_rng *r, double T, double *x,
                           double *v);

/* Langevin dynamics (BAOAB splitting, one teacher call per step). */
typedef struct {
  int nat;
  const int *Z;
  double *x, *v, *f; /* [nat][3]: positions (Å), velocities (Å/fs), forces (eV/Å) */
  double *mass;      /* [nat] */
  double energy;     /* eV, at x */
  double dt, gamma, T; /* fs, 1/fs, K */
  mlff_smp_rng *rng;
  mlff_teacher *teacher;
  long calls;        /* teacher calls so far */
} mlff_smp_md;

/* Allocates x, v, f, mass from x0 and v0 (v0 may be NULL: zero) and computes the first forces. */
mlff_status mlff_smp_md_init(mlff_smp_md *md, mlff_teacher *t, int nat, const int *Z,
                             const double *x0, const double *v0, double dt, double gamma,
                             double T, mlff_smp_rng *rng);
mlff_status mlff_smp_md_step(mlff_smp_md *md, int n_steps);
void mlff_smp_md_free(mlff_smp_md *md);

/* Teacher call on a bare molecule (no cell). */
mlff_status mlff_smp_teacher(mlff_teacher *t, int nat, const int *Z, const double *x,
                             double *energy, double *forces);

#ifdef __cplusplus
}
#endif
#endif
