/* mlff_distill.h — the distillation API of libmlff_distill: structures on disk (extended XYZ),
 * labelled datasets in the PyTorch pipeline's ragged HDF5 layout, the GFN2-xTB teacher (libxtb,
 * in process), sampling of configurations for the teacher to label, harmonic analysis, and the
 * trainer. Built on the run-time API of mlff.h (models are the same mlff_model handles); errors
 * are reported through mlff_last_error() like the run-time library's. Units: eV, Å, amu, fs, K. */
#ifndef MLFF_DISTILL_H
#define MLFF_DISTILL_H

#include "mlff.h"

#ifndef MLFF_DISTILL_API
#if defined(MLFF_BUILDING_DISTILL) && defined(__GNUC__)
#define MLFF_DISTILL_API __attribute__((visibility("default")))
#else
#define MLFF_DISTILL_API
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- structures on disk ---------------------------------------------------------------- */

/* A structure read from a file, owning its arrays. Element symbols are kept as atomic numbers;
 * map them to a model's species with mlff_frame_species. */
typedef struct {
  int n_atoms;
  int *atomic_numbers; /* [n_atoms] */
  double *positions;   /* [n_atoms][3] */
  double cell[9];
  int pbc[3];
  int has_cell;
  int has_energy, has_forces;
  double energy;       /* eV, when the file gives one */
  double *forces;      /* [n_atoms][3] eV/Å or NULL */
} mlff_frame;

/* Read every frame of an extended-XYZ file. *frames is an array of *n_frames frames. */
MLFF_DISTILL_API mlff_status mlff_read_extxyz(const char *path, mlff_frame **frames, int *n_frames);
MLFF_DISTILL_API void mlff_frames_free(mlff_frame *frames, int n_frames);
/* species[i] = model species of frame atom i; fails naming the element the model lacks. */
MLFF_DISTILL_API mlff_status mlff_frame_species(const mlff_model *m, const mlff_frame *f, int *species);
/* A view of a frame as an mlff_structure (species from mlff_frame_species). */
MLFF_DISTILL_API mlff_structure mlff_frame_structure(const mlff_frame *f, const int *species);

/* ---- datasets (SPEC §3): labelled structures in the PyTorch pipeline's ragged layout -------
 * /structures/{atomic_numbers, positions, cells, pbc, atomic_numbers_splits},
 * /labels/{energy, forces, forces_splits, source}; /labels attrs teacher, units. Splits follow
 * numpy.split: the N-1 interior offsets of the concatenated per-atom arrays. */

typedef struct mlff_dataset mlff_dataset;

MLFF_DISTILL_API mlff_status mlff_dataset_create(mlff_dataset **out); /* empty */
MLFF_DISTILL_API void mlff_dataset_free(mlff_dataset *d);
/* Refuses, naming file and field: inconsistent splits, non-finite values, unknown elements,
 * missing labels, units other than eV/Å. */
MLFF_DISTILL_API mlff_status mlff_dataset_load(const char *path, mlff_dataset **out);
MLFF_DISTILL_API mlff_status mlff_dataset_save(const mlff_dataset *d, const char *path); /* replaces path */
/* Append d's structures to path, creating it if missing: labelling writes in chunks and an
 * interrupted run loses at most the chunk in flight. */
MLFF_DISTILL_API mlff_status mlff_dataset_append(const mlff_dataset *d, const char *path);
MLFF_DISTILL_API int mlff_dataset_size(const mlff_dataset *d);
/* Copy in one labelled structure (has_energy and has_forces required); source tags where it
 * came from ("md300", "normal_modes", "dimer", ...). */
MLFF_DISTILL_API mlff_status mlff_dataset_add(mlff_dataset *d, const mlff_frame *f, const char *source);
/* A view of structure i: pointers into d, valid while d is unchanged; *source may be "". */
MLFF_DISTILL_API mlff_status mlff_dataset_get(const mlff_dataset *d, int i, mlff_frame *f, const char **source);
MLFF_DISTILL_API const char *mlff_dataset_attr(const mlff_dataset *d, const char *name); /* "" when absent */
MLFF_DISTILL_API mlff_status mlff_dataset_set_attr(mlff_dataset *d, const char *name, const char *value);
/* SHA-256 of a file's bytes, as 64 hex digits (models record their dataset's). */
MLFF_DISTILL_API mlff_status mlff_file_sha256(const char *path, char hex[65]);

/* ---- teacher (SPEC §4): GFN2-xTB through libxtb, in process --------------------------------- */

typedef struct mlff_teacher mlff_teacher;

/* MLFF_ERR_UNSUPPORTED when libmlff was built without libxtb. */
MLFF_DISTILL_API mlff_status mlff_teacher_create_xtb(mlff_teacher **out);
MLFF_DISTILL_API void mlff_teacher_free(mlff_teacher *t);
MLFF_DISTILL_API const char *mlff_teacher_name(const mlff_teacher *t); /* e.g. "GFN2-xTB (libxtb 6.5.1)" */
/* Energy (eV) and forces (eV/Å, [n][3]) of a neutral closed-shell structure (open, or periodic
 * when f->has_cell). Reuses the previous wavefunction when the atoms are the same. */
MLFF_DISTILL_API mlff_status mlff_teacher_compute(mlff_teacher *t, const mlff_frame *f, double *energy,
                                 double *forces);

/* ---- training (SPEC §4) ------------------------------------------------------------------ */

typedef struct {
  int epoch, max_epochs;
  double elapsed_s, eta_s;
  double lr;
  double train_loss, valid_loss;
  double valid_energy_mae;  /* eV/atom */
  double valid_force_mae;   /* eV/Å */
  int improved;             /* validation loss improved this epoch */
} mlff_train_progress;

typedef struct {
  double w_energy, w_forces; /* loss = wE mean((dE/N)^2) + wF mean(|dF|^2), eV and Å */
  int max_epochs;
  double time_limit_s;       /* stop (keeping the best model) after this; 0 = none */
  int batch_size;            /* structures per Adam step */
  double lr, lr_min;         /* learning rate, decayed on validation plateaus down to lr_min */
  int patience;              /* epochs without validation improvement before stopping */
  double valid_fraction, test_fraction;
  uint64_t seed;             /* split, initial weights' shuffle: same seed, same model */
  int n_threads;             /* 0 = OpenMP's default */
  const char *checkpoint;    /* model file written at every validation improvement, or NULL */
  /* Comma-separated `source` tags whose structures all go to the test set (held-out
   * trajectories, clusters), e.g. "md900,tetramer"; NULL or "" for none. */
  const char *test_sources;
  void (*progress)(const mlff_train_progress *p, void *user); /* once per epoch, or NULL */
  void *user;
} mlff_train_options;

MLFF_DISTILL_API void mlff_train_options_default(mlff_train_options *o);
/* Fit m (architecture and initial weights given, e.g. by mlff_model_create) to d: e0 by least
 * squares, then Adam on the loss with analytic force-loss gradients. m ends as the best model
 * on the validation set, with input normalisation folded into its first layer, the training
 * range of the descriptor, and attrs teacher, dataset_sha256 (when d came from a file, set by
 * the caller) and training_summary (JSON: options, split indices, losses, timings). */
MLFF_DISTILL_API mlff_status mlff_train(mlff_model *m, const mlff_dataset *d, const mlff_train_options *o);

/* The train/valid/test split that mlff_train recorded in m's training_summary: *recorded = 1
 * and the dataset indices of `part` ("train", "valid" or "test") in *indices (malloc'd: free()
 * it), *n of them; *recorded = 0 when m records no split (not trained by mlff, or before the
 * split was recorded). MLFF_ERR_FORMAT, naming what is wrong, when the record is malformed. */
MLFF_DISTILL_API mlff_status mlff_training_split(const mlff_model *m, const char *part,
                                                 int *recorded, int **indices, int *n);

/* ---- sampling (`mlff label`): a seedable random number generator, element masses and radii,
 * a Jacobi eigensolver, geometry optimisation, the finite-difference Hessian and its normal
 * modes, Langevin dynamics, and molecular clusters. Everything is driven by an mlff_teacher and
 * is deterministic: the same inputs and seed give the same bits. Units: Å, eV, amu, fs, K. -- */

#define MLFF_KB_EV 8.617333262e-5     /* Boltzmann constant, eV/K */
#define MLFF_ACC_UNIT 9.648533212e-3  /* (eV/Å)/amu in Å/fs² */

/* ---- random numbers: xoshiro256**, seeded from (seed, stream, index) by splitmix64 ---------- */

typedef struct {
  uint64_t s[4];
} mlff_smp_rng;

MLFF_DISTILL_API void mlff_smp_rng_seed(mlff_smp_rng *r, uint64_t seed, uint64_t stream, uint64_t index);
MLFF_DISTILL_API uint64_t mlff_smp_rng_next(mlff_smp_rng *r);
MLFF_DISTILL_API double mlff_smp_uniform(mlff_smp_rng *r); /* [0, 1) */
MLFF_DISTILL_API double mlff_smp_normal(mlff_smp_rng *r);  /* standard normal (Box–Muller, one per call) */

/* ---- elements ------------------------------------------------------------------------------ */

MLFF_DISTILL_API double mlff_smp_mass(int z);       /* standard atomic weight, amu (1..86) */
MLFF_DISTILL_API double mlff_smp_vdw_radius(int z); /* Bondi van der Waals radius, Å (2.0 where unknown) */

/* ---- linear algebra -------------------------------------------------------------------------- */

/* Eigen-decomposition of the symmetric n x n matrix a (row-major, destroyed) by cyclic Jacobi
 * rotations: w[n] ascending eigenvalues, v[n][n] (may be NULL) row-major with the eigenvectors
 * as COLUMNS (v[i*n + k] is component i of eigenvector k). Returns the number of sweeps, -1 when
 * it did not converge in 100 sweeps (w and v then hold the last iterate), -2 when out of memory
 * (v NULL). */
MLFF_DISTILL_API int mlff_smp_jacobi(int n, double *a, double *w, double *v);

/* ---- geometry -------------------------------------------------------------------------------- */

MLFF_DISTILL_API void mlff_smp_center_of_mass(int n, const int *Z, const double *x, double com[3]);
MLFF_DISTILL_API void mlff_smp_random_rotation(mlff_smp_rng *r, double R[9]); /* uniform over SO(3) */

/* Place n_mol molecules (copies of nat atoms Z, geometries mono[m], any frame) with random
 * orientations: molecule 0 at the origin, each next one with its centre of mass at a distance
 * U(dmin, dmax) in a random direction from the centre of a random earlier one, rejecting any
 * placement that brings two atoms of different molecules closer than 2.0 Å scaled by their van
 * der Waals radii (2.0 Å for H..H). out: [n_mol * nat][3]. Returns the placements tried, or -1
 * after max_tries for one molecule. */
MLFF_DISTILL_API int mlff_smp_cluster(mlff_smp_rng *r, int n_mol, int nat, const int *Z,
                     const double *const *mono, double dmin, double dmax, int max_tries,
                     double *out);
/* A droplet: as mlff_smp_cluster, but every centre of mass also within the sphere of the
 * given radius about the origin and contacts scaled by `contact` (1: 2.0 Å for H..H), then
 * compacted by random moves toward the centre that keep those contacts: liquid-like
 * surroundings, neighbours on all sides, many at the contact distance. Returns the placements
 * tried, or -1 after max_tries for one molecule (too dense). */
MLFF_DISTILL_API int mlff_smp_droplet(mlff_smp_rng *r, int n_mol, int nat, const int *Z,
                     const double *const *mono, double dmin, double dmax, double radius,
                     double contact, int max_tries, double *out);
/* Radius (Å) of the sphere that holds n_mol molecules (atoms Z) at the density (g/cm^3). */
MLFF_DISTILL_API double mlff_smp_droplet_radius(int n_mol, int nat, const int *Z, double density);
/* Closest distance between atoms of different molecules of a cluster built as above. */
MLFF_DISTILL_API double mlff_smp_min_contact(int n_mol, int nat, const int *Z, const double *x, double *ratio);

/* ---- teacher-driven -------------------------------------------------------------------------- */

/* FIRE minimisation of x (nat atoms) until the largest force component norm is below fmax
 * (eV/Å) or max_steps; steps and the final largest force norm are returned. */
MLFF_DISTILL_API mlff_status mlff_smp_optimize(mlff_teacher *t, int nat, const int *Z, double *x, double fmax,
                              int max_steps, int *steps, double *fmax_out);

/* Hessian (eV/Å², [3n][3n], symmetrised) by central differences of the teacher's forces. */
MLFF_DISTILL_API mlff_status mlff_smp_hessian(mlff_teacher *t, int nat, const int *Z, const double *x, double h,
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
MLFF_DISTILL_API mlff_status mlff_smp_normal_modes(int nat, const int *Z, const double *x, const double *H,
                                  mlff_smp_modes *m);
MLFF_DISTILL_API void mlff_smp_modes_free(mlff_smp_modes *m);
/* Wavenumber (cm^-1) of an eigenvalue of the mass-weighted Hessian. */
MLFF_DISTILL_API double mlff_smp_wavenumber(double lambda);
/* A classical harmonic sample at temperature T (K): x = x0 + displacements with each mode's
 * coordinate ~ N(0, kT/lambda); v (Å/fs, or NULL) with each mode's velocity ~ N(0, kT). */
MLFF_DISTILL_API void mlff_smp_modes_sample(const mlff_smp_modes *m, mlff_smp_rng *r, double T, double *x,
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
MLFF_DISTILL_API mlff_status mlff_smp_md_init(mlff_smp_md *md, mlff_teacher *t, int nat, const int *Z,
                             const double *x0, const double *v0, double dt, double gamma,
                             double T, mlff_smp_rng *rng);
MLFF_DISTILL_API mlff_status mlff_smp_md_step(mlff_smp_md *md, int n_steps);
MLFF_DISTILL_API void mlff_smp_md_free(mlff_smp_md *md);

/* Teacher call on a bare molecule (no cell). */
MLFF_DISTILL_API mlff_status mlff_smp_teacher(mlff_teacher *t, int nat, const int *Z, const double *x,
                             double *energy, double *forces);

#ifdef __cplusplus
}
#endif
#endif /* MLFF_DISTILL_H */
