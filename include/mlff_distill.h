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
/* Write n_frames frames to path as extended XYZ (energy and forces where the frame has them,
 * Lattice and pbc where it has a cell; comments[k], or NULL, adds key=value text to frame k's
 * comment line). The file is written under a temporary name and renamed: never half there. */
MLFF_DISTILL_API mlff_status mlff_write_extxyz(const char *path, const mlff_frame *frames,
                                              int n_frames, const char *const *comments);
/* species[i] = model species of frame atom i; fails naming the element the model lacks. */
MLFF_DISTILL_API mlff_status mlff_frame_species(const mlff_model *m, const mlff_frame *f, int *species);
/* A view of a frame as an mlff_structure (species from mlff_frame_species). */
MLFF_DISTILL_API mlff_structure mlff_frame_structure(const mlff_frame *f, const int *species);

/* ---- datasets (docs/file_format.md): labelled structures in the PyTorch pipeline's ragged layout -------
 * /structures/{atomic_numbers, positions, cells, pbc, atomic_numbers_splits},
 * /labels/{energy, forces, forces_splits, source}; /labels attrs teacher, units. Splits are the
 * N+1 cumulative offsets of the concatenated per-atom arrays (the N-1 interior numpy.split
 * offsets of files written by mlff <= 0.1 are read too). The pipeline's optional
 * /labels/{stress, stress_mask, structure_indices} are kept and written back. */

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
/* Replace the source tag of structure i (e.g. to tag structures of a file that had none). */
MLFF_DISTILL_API mlff_status mlff_dataset_set_source(mlff_dataset *d, int i, const char *source);
MLFF_DISTILL_API const char *mlff_dataset_attr(const mlff_dataset *d, const char *name); /* "" when absent */
MLFF_DISTILL_API mlff_status mlff_dataset_set_attr(mlff_dataset *d, const char *name, const char *value);
/* SHA-256 of a file's bytes, as 64 hex digits (models record their dataset's). */
MLFF_DISTILL_API mlff_status mlff_file_sha256(const char *path, char hex[65]);

/* ---- teacher (docs/cli.md): GFN2-xTB through libxtb, in process --------------------------------- */

typedef struct mlff_teacher mlff_teacher;

/* MLFF_ERR_UNSUPPORTED when libmlff was built without libxtb. */
MLFF_DISTILL_API mlff_status mlff_teacher_create_xtb(mlff_teacher **out);
MLFF_DISTILL_API void mlff_teacher_free(mlff_teacher *t);
MLFF_DISTILL_API const char *mlff_teacher_name(const mlff_teacher *t); /* e.g. "GFN2-xTB (libxtb 6.5.1)" */
/* Threads libxtb may use during mlff_teacher_compute (default 1: for molecules of tens of atoms
 * its threading gains little, while one process per core gains nearly the core count, and a
 * fixed count keeps labels bitwise reproducible). */
MLFF_DISTILL_API mlff_status mlff_teacher_set_threads(mlff_teacher *t, int n_threads);
/* Energy (eV) and forces (eV/Å, [n][3]) of a neutral closed-shell structure (open, or periodic
 * when f->has_cell). Reuses the previous wavefunction when the atoms are the same. */
MLFF_DISTILL_API mlff_status mlff_teacher_compute(mlff_teacher *t, const mlff_frame *f, double *energy,
                                 double *forces);

/* ---- training (docs/cli.md) ------------------------------------------------------------------ */

typedef struct {
  int epoch, max_epochs;
  double elapsed_s, eta_s;
  double lr;
  double train_loss, valid_loss;
  double valid_energy_mae;  /* eV/atom */
  double valid_force_mae;   /* eV/Å */
  int improved;             /* validation loss improved this epoch */
  int member, n_members;    /* committee member being trained (0 ..) of n_members (1: one) */
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
  /* Checkpoint file, or NULL: the best model so far plus the state of training, written after
   * every epoch (docs/cli.md, "Resuming a run"); when it exists, training continues from it
   * (refused, MLFF_ERR_ARGUMENT or MLFF_ERR_FORMAT, when it is another run's or not one). */
  const char *checkpoint;
  /* Comma-separated `source` tags whose structures all go to the test set (held-out
   * trajectories, clusters), e.g. "md900,tetramer"; NULL or "" for none. */
  const char *test_sources;
  void (*progress)(const mlff_train_progress *p, void *user); /* once per epoch, or NULL */
  void *user;
  /* Committee (docs/cli.md, --committee): train this many members (0 or 1: one model) on the
   * same split, member k from initial weights of seed + k and with its own shuffles (seed + k),
   * into one model. The time limit is shared out: each member gets an equal share of what is
   * left when it starts. With K > 1, the checkpoint is written as each member is done (the
   * committee so far). A model to continue (trained, given as m) must have K members or 1. */
  int committee;
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

/* ---- harmonic analysis (`mlff label`'s normal-mode sampling, `mlff eval --freq`): the one
 * Jacobi eigensolver, table of atomic masses, BFGS relaxation, finite-difference Hessian and
 * set of normal modes of the project, so that the teacher and a student, and labelling and
 * evaluation, are analysed alike. Calculator-agnostic: forces come from a callback. Units: eV,
 * Å, amu; wavenumbers in cm^-1. ---------------------------------------------------------------- */

/* Standard atomic weight (amu) of element z = 1..86, IUPAC 2013 (published 2016; ASE's default
 * masses, atomic_masses_iupac2016): conventional values where IUPAC gives an interval, the mass
 * of the longest-lived isotope for Tc, Pm, Po, At, Rn. 0 for any other z. */
MLFF_DISTILL_API double mlff_atomic_mass(int z);

/* Eigen-decomposition of the symmetric n x n matrix a (row-major, destroyed) by cyclic Jacobi
 * rotations: w[n] ascending eigenvalues, v[n][n] (may be NULL) row-major with the eigenvectors
 * as COLUMNS (v[i*n + k] is component i of eigenvector k). Returns the number of sweeps, -1 when
 * it did not converge in 100 sweeps (w and v then hold the last iterate), -2 when out of memory
 * (v NULL). */
MLFF_DISTILL_API int mlff_jacobi_eigen(int n, double *a, double *w, double *v);

/* Energy (eV) and forces (eV/Å, [nat][3]) at positions x ([nat][3], Å). A failure returns its
 * status with the message set (mlff_set_error); the functions below pass it on. */
typedef mlff_status (*mlff_force_fn)(void *user, const double *x, double *energy,
                                     double *forces);

/* The teacher on a bare molecule (no cell) as an mlff_force_fn: user is one of these. */
typedef struct {
  mlff_teacher *teacher;
  int nat;
  const int *Z;
} mlff_teacher_molecule;
MLFF_DISTILL_API mlff_status mlff_teacher_molecule_forces(void *molecule, const double *x,
                                                          double *energy, double *forces);

/* A model on a bare molecule (no cell) as an mlff_force_fn, the student's side of the teacher's
 * (mlff_smp_md_init_fn: dynamics driven by a student, as an active-learning loop runs them):
 * user is one of these, species [nat] the model's species of the atoms
 * (mlff_model_find_element). After each call max_deviation holds a committee's largest per-atom
 * force deviation (eV/Å; 0 for one network). */
typedef struct {
  mlff_calc *calc;
  int nat;
  const int *species;
  double max_deviation;
} mlff_model_molecule;
MLFF_DISTILL_API mlff_status mlff_model_molecule_forces(void *molecule, const double *x,
                                                        double *energy, double *forces);
/* A model on a periodic box as an mlff_force_fn (a student's liquid, as `mlff learn` explores
 * it): as mlff_model_molecule, with the cell (rows a, b, c, Å; the caller may change it between
 * calls, as a barostat does) and, after each call, the virial (eV) and each atom's committee
 * force deviation in deviation [nat] (eV/Å) where not NULL. */
typedef struct {
  mlff_calc *calc;
  int nat;
  const int *species;
  double cell[9];
  double virial[6];
  double *deviation;
  double max_deviation;
} mlff_model_box;
MLFF_DISTILL_API mlff_status mlff_model_box_forces(void *box, const double *x, double *energy,
                                                   double *forces);

/* The largest atomic force norm max_i |f_i| (eV/Å) of forces [nat][3]: the relaxations' test. */
MLFF_DISTILL_API double mlff_max_atom_force(int nat, const double *forces);

typedef struct {
  int steps;       /* BFGS steps taken */
  int n_calls;     /* force evaluations */
  int converged;   /* max atomic |F| < fmax reached */
  double fmax;     /* max atomic |F| at the final geometry, eV/Å */
  double energy;   /* energy at the final geometry, eV */
} mlff_relax_info;

/* Relax x ([nat][3], in place) with BFGS in Cartesian coordinates (ASE's scheme: initial Hessian
 * 70 eV/Å², steps along the eigenvectors of the updated Hessian with |eigenvalues|, the largest
 * atomic displacement capped at maxstep Å) until the largest atomic force norm is below fmax
 * eV/Å or max_steps steps were taken. Not converging is not an error: see info->converged. On
 * the callback's failure its status is returned and x is the last geometry that evaluated. */
MLFF_DISTILL_API mlff_status mlff_harmonic_relax(mlff_force_fn fn, void *user, int nat, double *x,
                                                 double fmax, int max_steps, double maxstep,
                                                 mlff_relax_info *info);

/* Hessian H [3 nat][3 nat] (eV/Å²) at x by central differences of the forces with step h (Å):
 * H_ij = -(F_j(x + h e_i) - F_j(x - h e_i)) / 2h, 6 nat force calls, then symmetrised;
 * *asymmetry (may be NULL) = max_ij |H_ij - H_ji| / 2 before symmetrising. */
MLFF_DISTILL_API mlff_status mlff_harmonic_hessian(mlff_force_fn fn, void *user, int nat,
                                                   const double *x, double h, double *H,
                                                   double *asymmetry);

/* Normal modes: the vibrations of a molecule about x, translations and rotations projected out. */
typedef struct {
  int nat;
  int n_tr;        /* translations + rotations removed: 6, or 5 for a linear molecule */
  int linear;
  int n_vib;       /* 3 nat - n_tr vibrational modes */
  int n_imaginary; /* vibrational modes with a negative eigenvalue */
  int converged;   /* 0 when the eigensolver stopped at its sweep limit: modes approximate */
  double tr[6];    /* eigenvalues of the n_tr discarded modes, eV/(Å² amu) (~0: a check) */
  double *x0;      /* [nat][3] reference geometry */
  double *mass;    /* [nat] amu, mlff_atomic_mass */
  double *lambda;  /* [n_vib] ascending eigenvalues of the mass-weighted Hessian, eV/(Å² amu) */
  double *modes;   /* [n_vib][3 nat] unit eigenvectors in mass-weighted coordinates */
} mlff_modes;

/* Normal modes of the Hessian H [3 nat][3 nat] (eV/Å²) of atoms Z at x: mass-weighted with
 * mlff_atomic_mass, projected with P = 1 - (orthonormalised translations and rotations about the
 * centre of mass), diagonalised; the n_tr eigenvectors of largest overlap with the translations
 * and rotations are discarded. Refuses fewer than 2 atoms and elements without a mass. */
MLFF_DISTILL_API mlff_status mlff_harmonic_modes(int nat, const int *Z, const double *x,
                                                 const double *H, mlff_modes *m);
MLFF_DISTILL_API void mlff_modes_free(mlff_modes *m);
/* Wavenumber (cm^-1) of an eigenvalue of the mass-weighted Hessian: sqrt(|lambda|) x
 * MLFF_CM1_PER_SQRT_EV_A2_AMU, negative for a negative eigenvalue (an imaginary frequency). */
MLFF_DISTILL_API double mlff_harmonic_wavenumber(double lambda);
#define MLFF_CM1_PER_SQRT_EV_A2_AMU 521.4708983725 /* sqrt(eV / (Å² amu)) / (2 pi c) in cm^-1 */

/* Molecules of a cluster: atoms closer than bond (Å) are bonded; label[n] gets the molecule of
 * every atom (0, 1, ... in order of each molecule's first atom). Returns the number of
 * molecules, or -1 when out of memory. Open boundaries (no periodic images). */
MLFF_DISTILL_API int mlff_fragments(int n, const double *x, double bond, int *label);

/* RMSD (Å) between geometries a and b ([n][3]) after translating both to their centroids and
 * rotating b onto a optimally (quaternion method, weights all 1). */
MLFF_DISTILL_API double mlff_rmsd_aligned(int n, const double *a, const double *b);

/* Rotate x ([n][3]) in place about its centroid by a fixed, generic rotation (Euler angles
 * 0.3, 0.7, 1.1 rad), so that no two atoms of a symmetric input share a Cartesian coordinate:
 * libxtb 6.5.1 (Debian's) returns gradients inconsistent with its energy, by up to 1e-3
 * Eh/bohr, when atoms share a coordinate to within ~1e-8 Å (grimme-lab/xtb issue 986, fixed
 * upstream by PR 1208); a symmetric molecule relaxed by BFGS keeps such coincidences. */
MLFF_DISTILL_API void mlff_generic_orientation(int n, double *x);

/* ---- sampling (`mlff label`): a seedable random number generator, van der Waals radii,
 * geometry optimisation, harmonic samples of the normal modes (harmonic analysis above),
 * Langevin dynamics, molecular clusters and periodic liquids. Everything is driven by an
 * mlff_teacher and is deterministic: the same inputs and seed give the same bits. Units: Å, eV,
 * amu, fs, K. ---- */

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

/* ---- elements (masses: mlff_atomic_mass) --------------------------------------------------- */

MLFF_DISTILL_API double mlff_smp_vdw_radius(int z); /* Bondi van der Waals radius, Å (2.0 where unknown) */

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
/* A dimer in contact: molecule 0 (mono[0]) turned at random about the origin, molecule 1
 * (mono[1]) turned at random too, or as molecule 0 when `aligned` is not 0 (a translated copy:
 * stacked and slipped pairs of flat molecules, neighbours in molecular crystals), brought in
 * from afar along a random line through the origin (aligned MLFF_SMP_ALONG_AXIS: along one of
 * molecule 0's principal axes of inertia, tilted by up to MLFF_SMP_AXIS_TILT_DEG) until its
 * closest contact ratio (mlff_smp_min_contact) equals `contact` (1: 2.0 Å for H..H) to 1e-4 Å.
 * out: [2 * nat][3]. Returns 0, or -1 when contact is not positive or the molecules never
 * touch. */
#define MLFF_SMP_ALONG_AXIS 2
#define MLFF_SMP_AXIS_TILT_DEG 30.0
MLFF_DISTILL_API int mlff_smp_contact_dimer(mlff_smp_rng *r, int nat, const int *Z,
                     const double *const *mono, double contact, int aligned, double *out);
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

/* Periodic liquids, and spheres carved from them (whole molecules, open boundaries). */

/* Side (Å) of the cubic box that holds n_mol molecules (atoms Z) at the density (g/cm^3). */
MLFF_DISTILL_API double mlff_smp_box_side(int n_mol, int nat, const int *Z, double density);
/* A periodic liquid: n_mol molecules (geometries mono[m]), each whole, with random orientations,
 * no atom within `contact` x the contact distance of mlff_smp_cluster (2.0 Å for H..H) of an
 * atom of another molecule or of its periodic images. Random insertion jams far below liquid
 * densities, so the molecules are inserted (centres of mass uniform, max_tries each) into a box
 * 1.4 times wider, which is then compressed to the side asked for (g/cm^3: mlff_smp_box_side)
 * by hard-body Monte Carlo: compression steps that keep the contacts, with a sweep of random
 * rigid moves after each step that does not. out: [n_mol * nat][3], molecules whole, centres
 * in [0, side)^3. Returns the compression cycles, or -1 when a molecule could not be inserted,
 * the compression stalled (too dense for these contacts), or a molecule would meet its own
 * image (side too small: mlff_smp_liquid_box_molecules). */
MLFF_DISTILL_API int mlff_smp_liquid_box(mlff_smp_rng *r, int n_mol, int nat, const int *Z,
                     const double *const *mono, double side, double contact, int max_tries,
                     double *out);
/* Molecules of a box (at the density, contacts scaled by up to `contact`) from which
 * mlff_smp_carve can take a sphere of n_keep: 2.4 times n_keep, or more where a molecule (atoms
 * Z at x) is large for its volume, so that it cannot meet its own image. -1: out of memory. */
MLFF_DISTILL_API int mlff_smp_liquid_box_molecules(int n_keep, int nat, const int *Z,
                     const double *x, double density, double contact);
/* The n_keep molecules of a periodic box (n_box molecules, whole) whose centres of mass lie
 * nearest `centre` (nearest images; ties in box order): a sphere of whole molecules, written
 * to out ([n_keep * nat][3]) nearest first with `centre` moved to the origin; *radius (or
 * NULL) gets the distance of the farthest kept centre. Returns 0, or -1 when that radius
 * exceeds half the side (a second image of a molecule could then lie in the sphere, missing:
 * carve around another centre or from a larger box), n_keep is not 1..n_box, or out of
 * memory. */
MLFF_DISTILL_API int mlff_smp_carve(int n_box, int nat, const int *Z, const double *box,
                     double side, const double centre[3], int n_keep, double *out,
                     double *radius);
/* Periodic frames (n_mol molecules of nat atoms each, in order; a cubic cell of this side, Å):
 * each molecule made whole in place, every atom moved to its image nearest the molecule's first
 * atom (as MD programs write wrapped coordinates). */
MLFF_DISTILL_API void mlff_smp_make_whole(int n_mol, int nat, double *x, double side);
/* The tightest contact between atoms of different molecules of a periodic box (whole molecules,
 * cubic side): the smallest ratio of their distance (nearest images) to the contact distance of
 * mlff_smp_cluster (2.0 Å for H..H), returned; centre gets the midpoint of that pair, in
 * [0, side)^3. Where a student's MD goes wrong, molecules usually press into each other there.
 * INFINITY when no two molecules come near; -1 when out of memory. */
MLFF_DISTILL_API double mlff_smp_tightest_contact(int n_mol, int nat, const int *Z,
                                                  const double *x, double side,
                                                  double centre[3]);
/* Thermal motion of the molecules of a cluster as rigid bodies in a harmonic cage of
 * MLFF_SMP_CAGE_CM1 at temperature T (K): each molecule in turn moved by a Gaussian step of
 * variance kT / (M w^2) per axis and turned by a Gaussian rotation vector of variance
 * kT / (I w^2) per axis (I: the mean principal moment); a move that brings it within `contact`
 * x the contact distance of another molecule is not made. Returns the moves made, or -1 when
 * out of memory. */
MLFF_DISTILL_API int mlff_smp_rigid_jitter(mlff_smp_rng *r, int n_mol, int nat, const int *Z,
                     double *x, double T, double contact);
#define MLFF_SMP_CAGE_CM1 50.0 /* cm^-1: a molecule rattling in its liquid cage (benzene at
                                  300 K: 0.19 Å and 9 degrees rms per axis) */

/* ---- teacher-driven -------------------------------------------------------------------------- */

/* FIRE minimisation of x (nat atoms) until the largest force component norm is below fmax
 * (eV/Å) or max_steps; steps and the final largest force norm are returned. */
MLFF_DISTILL_API mlff_status mlff_smp_optimize(mlff_teacher *t, int nat, const int *Z, double *x, double fmax,
                              int max_steps, int *steps, double *fmax_out);
/* Called by mlff_smp_fire at every teacher call (step 0: the start) with the geometry, its
 * energy and forces; a status other than MLFF_OK stops the minimisation with that status. */
typedef mlff_status (*mlff_smp_step_fn)(void *user, int step, const double *x, double energy,
                                        const double *forces);
/* mlff_smp_optimize, telling on_step (or nobody, NULL) every point of the path. */
MLFF_DISTILL_API mlff_status mlff_smp_fire(mlff_teacher *t, int nat, const int *Z, double *x,
                          double fmax, int max_steps, mlff_smp_step_fn on_step, void *user,
                          int *steps, double *fmax_out);

/* Normal-mode samples (mlff_modes from mlff_harmonic_modes) move only the modes stiffer than
 * this: soft and imaginary ones stay at rest. */
#define MLFF_SMP_MIN_EIGEN 1e-2 /* eV/(Å² amu), about 52 cm^-1 */

/* A classical harmonic sample at temperature T (K): x = x0 + displacements with each sampled
 * mode's coordinate ~ N(0, kT/lambda); v (Å/fs, or NULL) with its velocity ~ N(0, kT). */
MLFF_DISTILL_API void mlff_smp_modes_sample(const mlff_modes *m, mlff_smp_rng *r, double T,
                                            double *x, double *v);

/* Langevin dynamics (BAOAB splitting, one force call per step; gamma 0: velocity Verlet). */
typedef struct {
  int nat;
  const int *Z;
  double *x, *v, *f; /* [nat][3]: positions (Å), velocities (Å/fs), forces (eV/Å) */
  double *mass;      /* [nat] */
  double energy;     /* eV, at x */
  double dt, gamma, T; /* fs, 1/fs, K */
  mlff_smp_rng *rng;
  long calls;        /* force calls so far */
  mlff_force_fn force; /* what gives the forces (the teacher's, or mlff_smp_md_init_fn's) */
  void *user;
  mlff_teacher_molecule mol; /* mlff_smp_md_init's: the teacher on the molecule (force's user) */
} mlff_smp_md;

/* Allocates x, v, f, mass from x0 and v0 (v0 may be NULL: zero) and computes the first forces
 * (the teacher's). */
MLFF_DISTILL_API mlff_status mlff_smp_md_init(mlff_smp_md *md, mlff_teacher *t, int nat, const int *Z,
                             const double *x0, const double *v0, double dt, double gamma,
                             double T, mlff_smp_rng *rng);
/* The same with forces from force(user, ...), e.g. a student's (mlff_model_molecule_forces). */
MLFF_DISTILL_API mlff_status mlff_smp_md_init_fn(mlff_smp_md *md, mlff_force_fn force, void *user,
                                                 int nat, const int *Z, const double *x0,
                                                 const double *v0, double dt, double gamma,
                                                 double T, mlff_smp_rng *rng);
MLFF_DISTILL_API mlff_status mlff_smp_md_step(mlff_smp_md *md, int n_steps);
MLFF_DISTILL_API void mlff_smp_md_free(mlff_smp_md *md);
/* Pressure in a periodic box: dynamics md whose forces come from mlff_model_box_forces (user =
 * box). Instantaneous pressure (bar) from the velocities and the last call's virial:
 * P = (2 KE + W_xx + W_yy + W_zz) / (3 V). */
MLFF_DISTILL_API double mlff_smp_pressure(const mlff_smp_md *md, const mlff_model_box *box);
/* One step of Berendsen's isotropic barostat covering `interval` fs of dynamics: the cell and
 * the centres of mass of the n_mol molecules (mol_nat atoms each, in order; moved rigidly, so
 * that bonds are not strained) scaled by mu = (1 - compressibility interval / tau (P0 - P))^1/3,
 * mu kept within [0.99, 1.01], then the forces recomputed. P0 in bar, compressibility in 1/bar,
 * tau in fs; *mu_out (or NULL) gets mu. */
MLFF_DISTILL_API mlff_status mlff_smp_berendsen(mlff_smp_md *md, mlff_model_box *box, int n_mol,
                                                int mol_nat, double P0, double tau,
                                                double compressibility, double interval,
                                                double *mu_out);

#ifdef __cplusplus
}
#endif
#endif /* MLFF_DISTILL_H */
