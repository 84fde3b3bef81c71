/* freq.h — small numerical helpers of `mlff eval`: a Jacobi eigensolver, standard atomic
 * masses, geometry relaxation (BFGS), finite-difference Hessians, harmonic frequencies with
 * translations and rotations projected out, molecules of a cluster by connectivity, and the
 * RMSD of two geometries after optimal superposition. Calculator-agnostic: forces come from a
 * callback, so the student (libmlff) and the teacher (GFN2-xTB) go through the same code.
 * Units: eV, Å, amu; frequencies in cm^-1. */
#ifndef MLFF_FREQ_H
#define MLFF_FREQ_H

/* sqrt(eV / Å² / amu) in cm^-1: omega / (2 pi c). */
#define FREQ_CM1_PER_SQRT_EV_A2_AMU 521.47091

/* Energy (eV) and forces (eV/Å, [n][3]) at positions x ([n][3], Å); 0 on success. On failure
 * the callback leaves its message where the caller can find it (e.g. mlff_last_error()). */
typedef int (*freq_force_fn)(void *user, const double *x, double *energy, double *forces);

/* Eigenvalues and eigenvectors of the symmetric n x n matrix A (row-major; destroyed) by cyclic
 * Jacobi rotations. w[n]: eigenvalues in ascending order; V (may be NULL) [n][n]: column k is the
 * unit eigenvector of w[k] (V[i*n+k]). Returns the number of sweeps, or -1 if the off-diagonal
 * part did not vanish within 100 sweeps (w and V are then approximate), -2 if out of memory. */
int freq_jacobi(int n, double *A, double *w, double *V);

/* Standard atomic weight (amu; IUPAC conventional values) of element z = 1..54; 0 if unknown. */
double freq_atomic_mass(int z);

typedef struct {
  int steps;       /* BFGS steps taken */
  int n_calls;     /* force evaluations */
  int converged;   /* max atomic |F| < fmax reached */
  double fmax;     /* max atomic |F| at the final geometry, eV/Å */
  double energy;   /* energy at the final geometry, eV */
} freq_relax_info;

/* Relax x ([n][3], in place) with BFGS in Cartesian coordinates (ASE's scheme: initial Hessian
 * 70 eV/Å², step along the eigenvectors of the updated Hessian with |eigenvalues|, the largest
 * atomic displacement capped at maxstep Å) until the largest atomic force norm is below fmax
 * eV/Å or max_steps steps were taken. Returns 0, or the callback's non-zero status (x is then
 * the last geometry that evaluated), or -2 when out of memory. Not converging is not an error:
 * see info->converged. */
int freq_relax_bfgs(freq_force_fn fn, void *user, int n, double *x, double fmax, int max_steps,
                    double maxstep, freq_relax_info *info);

/* Hessian H [3n][3n] (eV/Å²) at x by central differences of the forces with step h (Å):
 * H_ij = -(F_j(x + h e_i) - F_j(x - h e_i)) / 2h, 6n force calls, then symmetrised;
 * *asymmetry (may be NULL) = max_ij |H_ij - H_ji| / 2 before symmetrising. Returns 0, the
 * callback's status, or -2 when out of memory. */
int freq_hessian(freq_force_fn fn, void *user, int n, const double *x, double h, double *H,
                 double *asymmetry);

typedef struct {
  int n_tr;       /* translations + rotations removed: 6, or 5 for a linear molecule */
  int n_vib;      /* 3n - n_tr vibrational modes */
  int linear;
  int n_imaginary; /* vibrational modes with a negative eigenvalue */
} freq_modes_info;

/* Harmonic frequencies from a Cartesian Hessian H [3n][3n] (eV/Å²) of atoms with masses m[n]
 * (amu) at positions x: mass-weighted, translations and rotations about the centre of mass
 * projected out (P H P with P = 1 - sum of the orthonormalised translation/rotation vectors),
 * diagonalised; the n_tr modes spanning translations/rotations (largest overlap with that space)
 * are discarded. vib[3n - n_tr]: the vibrational frequencies (cm^-1, ascending; imaginary ones
 * as negative numbers); tr (may be NULL) [6]: the discarded modes' values (~0, a check).
 * Returns 0, -1 if the eigensolver did not converge, -2 if out of memory, -3 if n < 2. */
int freq_modes(int n, const double *m, const double *x, const double *H, double *vib,
               double *tr, freq_modes_info *info);

/* Molecules of a cluster: atoms closer than bond (Å) are bonded; label[n] gets the molecule of
 * every atom (0, 1, ... in order of each molecule's first atom). Returns the number of
 * molecules, or -2 if out of memory. Open boundaries (no periodic images). */
int freq_fragments(int n, const double *x, double bond, int *label);

/* Rotate x ([n][3]) in place about its centroid by a fixed, generic rotation (Euler angles
 * 0.3, 0.7, 1.1 rad), so that no two atoms of a symmetric input share a Cartesian coordinate:
 * libxtb 6.5.1 (Debian's) returns gradients inconsistent with its energy, by up to 1e-3
 * Eh/bohr, when atoms share a coordinate to within ~1e-8 Å (grimme-lab/xtb issue 986, fixed
 * upstream by PR 1208); a symmetric molecule relaxed by BFGS keeps such coincidences. */
void freq_generic_orientation(int n, double *x);

/* RMSD (Å) between geometries a and b ([n][3]) after translating both to their centroids and
 * rotating b onto a optimally (quaternion method, weights all 1). */
double freq_rmsd_aligned(int n, const double *a, const double *b);

#endif
