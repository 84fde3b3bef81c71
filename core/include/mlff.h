/* mlff.h — public C API of libmlff: distilled machine-learned force fields.
 *
 * Units: eV and Å throughout. Every symbol is prefixed mlff_; objects are opaque handles
 * created and freed by the library; every function that can fail returns an mlff_status,
 * and mlff_last_error() gives the message of the last failure on the calling thread.
 *
 * Typical use:
 *   mlff_model *m;  mlff_calc *c;
 *   if (mlff_model_load("benzene.h5", &m) != MLFF_OK) fprintf(stderr, "%s\n", mlff_last_error());
 *   mlff_calc_create(m, NULL, &c);
 *   mlff_compute(c, &structure, &result);
 *   mlff_calc_free(c);  mlff_model_free(m);
 */
#ifndef MLFF_H
#define MLFF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MLFF_VERSION_STRING "0.1.0"
#define MLFF_FORMAT_VERSION 1 /* newest model-file format_version this library reads */

typedef enum {
  MLFF_OK = 0,
  MLFF_ERR_IO,          /* file missing, unreadable, not HDF5 */
  MLFF_ERR_FORMAT,      /* file readable but not a valid mlff file (message names the field) */
  MLFF_ERR_ARGUMENT,    /* bad argument: NULL, out-of-range species, non-finite position, ... */
  MLFF_ERR_NOMEM,       /* allocation failed */
  MLFF_ERR_UNSUPPORTED, /* asked for something this build cannot do (GPU without CUDA, ...) */
  MLFF_ERR_DEVICE       /* CUDA runtime error or no usable GPU */
} mlff_status;

/* Message of the last failed call on this thread ("" if none). Valid until the next call. */
const char *mlff_last_error(void);
const char *mlff_status_name(mlff_status s);

/* ---- descriptor (ANI-style atomic environment vector, SPEC §2) ------------------------- */

#define MLFF_MAX_RADIAL_SHELLS 64
#define MLFF_MAX_ANGULAR_SHELLS 16
#define MLFF_MAX_ANGLE_SECTIONS 32
#define MLFF_MAX_ELEMENTS 16
#define MLFF_MAX_HIDDEN 8

typedef struct {
  double Rcr, Rca;  /* radial and angular cutoffs, Å */
  double etaR, etaA, zeta;
  int n_muR, n_muA, n_thetaZ;
  double muR[MLFF_MAX_RADIAL_SHELLS];
  double muA[MLFF_MAX_ANGULAR_SHELLS];
  double thetaZ[MLFF_MAX_ANGLE_SECTIONS];
} mlff_descriptor_params;

/* Fill p with the ANI-1x defaults (Rcr 5.2, Rca 3.5, 16 radial shells, 4x8 angular). */
void mlff_descriptor_params_ani1x(mlff_descriptor_params *p);
/* Length of one atom's descriptor for n_elements species. */
int mlff_descriptor_length(const mlff_descriptor_params *p, int n_elements);

/* ---- model ------------------------------------------------------------------------------ */

typedef struct mlff_model mlff_model;

typedef enum { MLFF_ACT_SILU = 0, MLFF_ACT_CELU = 1 /* alpha = 0.1 */ } mlff_activation;

/* What mlff_model_create needs: a network with seeded random weights (for tests, benchmarks,
 * and as the trainer's starting point). */
typedef struct {
  int n_elements;
  const char *const *elements; /* chemical symbols, e.g. {"H", "C"} */
  int n_hidden;                /* number of hidden layers (1..MLFF_MAX_HIDDEN) */
  const int *hidden;           /* their widths, e.g. {128, 64, 64} */
  mlff_activation activation;
  mlff_descriptor_params descriptor;
  uint64_t seed;
} mlff_model_spec;

mlff_status mlff_model_create(const mlff_model_spec *spec, mlff_model **out);
/* Read a model file (HDF5, SPEC §3). Refuses wrong format, newer format_version, missing or
 * mis-shaped datasets, non-finite weights and duplicated elements, naming file and field. */
mlff_status mlff_model_load(const char *path, mlff_model **out);
mlff_status mlff_model_save(const mlff_model *m, const char *path);
void mlff_model_free(mlff_model *m);

int mlff_model_n_elements(const mlff_model *m);
const char *mlff_model_element(const mlff_model *m, int species); /* NULL if out of range */
int mlff_model_find_element(const mlff_model *m, const char *symbol); /* species or -1 */
int mlff_model_n_features(const mlff_model *m);
double mlff_model_cutoff(const mlff_model *m); /* max(Rcr, Rca), Å */
const mlff_descriptor_params *mlff_model_descriptor(const mlff_model *m);
const char *mlff_model_arch(const mlff_model *m);
/* Free-form metadata strings (attributes of the file root); "" when absent. Setting copies. */
const char *mlff_model_attr(const mlff_model *m, const char *name);
mlff_status mlff_model_set_attr(mlff_model *m, const char *name, const char *value);
/* Human-readable summary: elements, descriptor, layer shapes, parameters, metadata. */
void mlff_model_print(const mlff_model *m, FILE *out);

/* ---- evaluation ------------------------------------------------------------------------- */

typedef enum { MLFF_DEVICE_AUTO = 0, MLFF_DEVICE_CPU = 1, MLFF_DEVICE_GPU = 2 } mlff_device;

typedef struct {
  mlff_device device; /* AUTO: the GPU when the build has CUDA and one is visible */
  int fp16;           /* network in FP16 on tensor cores (GPU only) */
  int n_threads;      /* CPU threads; 0 = OpenMP's default */
  int gpu;            /* CUDA device of the GPU path, an ordinal among the visible ones (0 = the
                         first; MPI ranks: local rank mod mlff_gpu_count()) */
  int gpu_shared;     /* other processes use this GPU too (MPI ranks sharing it). Otherwise small
                         systems (up to 512 atoms with images) run on a resident step: a kernel
                         that stays on the GPU between calls, its weights in shared memory, and
                         spins waiting for the next call (up to 2 ms; MLFF_GPU_RESIDENT=0 turns
                         it off). Processes that share a GPU take turns on it, and a spinning
                         kernel would hold their turns. */
} mlff_calc_options;

/* CUDA devices visible to this libmlff (0 when it was built without CUDA, or none is). */
int mlff_gpu_count(void);

/* An evaluation context: holds workspaces sized to the last call. The model must outlive it.
 * A calc is not thread-safe; use one per thread. options may be NULL (defaults). */
typedef struct mlff_calc mlff_calc;
mlff_status mlff_calc_create(const mlff_model *m, const mlff_calc_options *options,
                             mlff_calc **out);
void mlff_calc_free(mlff_calc *c);
mlff_device mlff_calc_device(const mlff_calc *c); /* the device actually used */

/* One structure: open (cell NULL) or periodic along the axes with pbc[k] != 0. */
typedef struct {
  int n_atoms;
  const double *positions; /* [n_atoms][3], Å */
  const int *species;      /* [n_atoms], model species index (see mlff_model_find_element) */
  const double *cell;      /* [3][3], rows are the lattice vectors a, b, c (Å); NULL = open */
  int pbc[3];
} mlff_structure;

/* Outputs. Pointers may be NULL when not wanted; arrays are caller-allocated. */
typedef struct {
  double energy;       /* eV */
  double virial[6];    /* eV; xx yy zz xy xz yz, W = sum over pairs of r_ij (x) f_ij */
  double *forces;      /* [n][3], eV/Å */
  double *energy_atom; /* [n], eV */
  double *virial_atom; /* [n][6], eV, same order as virial; sums to virial */
} mlff_result;

/* Energy, forces, virial of one structure. Per-atom arrays are overwritten. */
mlff_status mlff_compute(mlff_calc *c, const mlff_structure *s, mlff_result *r);
/* B independent structures in one call (one launch sequence on the GPU); results[b] as above. */
mlff_status mlff_compute_batch(mlff_calc *c, int n_structures, const mlff_structure *s,
                               mlff_result *results);

/* A system described the way an MD code holds it: local atoms, ghost (image) atoms, and a full
 * neighbour list of each local atom over local+ghost atoms (LAMMPS's layout). Energy is computed
 * for the atoms in ilist; forces land on local and ghost atoms alike (newton on), and the caller
 * folds ghost forces back onto their owners. */
typedef struct {
  int n_total;             /* local + ghost atoms */
  const double *positions; /* [n_total][3], Å */
  const int *species;      /* [n_total], model species; -1 = not part of this model (skipped) */
  int n_list;              /* number of atoms to compute */
  const int *ilist;        /* [n_list] their indices; NULL = atoms 0 .. n_list-1 */
  /* The list itself: numneigh[n_total] indexed by atom, firstneigh[i][0..numneigh[i]) the
   * neighbour indices. The GPU path finds neighbours itself: there both may be NULL (and the
   * atoms to compute must be 0 .. n_list-1, ghosts after them). */
  const int *numneigh;
  const int *const *firstneigh;
  int index_mask;          /* if non-zero, neighbour indices are (value & index_mask) */
  /* The GPU path may keep its own list between calls, as an MD code keeps its lists (LAMMPS:
   * neighbor->skin, neighbor->ago). skin > 0 (Å): a call with list_age 0 (the caller has just
   * rebuilt its lists; atoms may have moved between ranks or been reordered) builds a list to
   * cutoff + skin; a call with list_age > 0 promises the same atoms in the same order as that
   * call, none moved more than skin/2 since, and reuses it. skin 0 (the default): a new list
   * on every call. The CPU path uses the list above and ignores both. */
  double skin;
  int list_age;
  /* NULL, or a cell [3][3] (rows a, b, c, Å) periodic along all three: then every atom is local
   * (n_list == n_total, ilist NULL, no list: neighbour arrays NULL) and the library makes the
   * periodic images itself, so the caller needs no ghost atoms (LAMMPS on one rank). The cell
   * must be at least cutoff + skin wide across each face, the positions wrapped into it (up to
   * skin/2 outside). GPU calcs only. */
  const double *cell;
} mlff_neighbors;

/* energy and virial are set; forces [n_total][3], energy_atom [n_total] and virial_atom
 * [n_total][6] are ADDED to (as a pair style accumulates), so the caller zeroes them. */
mlff_status mlff_compute_neighbors(mlff_calc *c, const mlff_neighbors *nl, mlff_result *r);

/* Extrapolation check: the descriptors of the atoms computed against the range the model saw
 * in training (stored by `mlff train`). While on, every call counts the atoms with a feature
 * more than tolerance x (that feature's training span, at least 1e-3 of the element's widest
 * span: the trainer's floor on its feature scales) outside the training range. tolerance
 * < 0 switches it off (the default). CPU path only: on a GPU calc, and for a model that stores
 * no range, MLFF_ERR_UNSUPPORTED. */
mlff_status mlff_calc_check_range(mlff_calc *c, double tolerance);
typedef struct {
  int n_atoms;         /* atoms of the last call outside the range (0 when the check is off) */
  int species;         /* the largest excursion: species, -1 when none */
  int feature;         /* its feature index (0 .. n_features-1) */
  double value;        /* the feature's value there */
  double min, max;     /* the feature's training range */
  double excess;       /* how far outside, in (floored) training spans */
} mlff_range_report;
void mlff_calc_range_report(const mlff_calc *c, mlff_range_report *out);

/* Descriptor of every atom of s, row-major [n_atoms][n_features] (mlff_model_n_features). */
mlff_status mlff_compute_features(mlff_calc *c, const mlff_structure *s, double *features);

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
mlff_status mlff_read_extxyz(const char *path, mlff_frame **frames, int *n_frames);
void mlff_frames_free(mlff_frame *frames, int n_frames);
/* species[i] = model species of frame atom i; fails naming the element the model lacks. */
mlff_status mlff_frame_species(const mlff_model *m, const mlff_frame *f, int *species);
/* A view of a frame as an mlff_structure (species from mlff_frame_species). */
mlff_structure mlff_frame_structure(const mlff_frame *f, const int *species);

int mlff_atomic_number(const char *symbol); /* 0 if unknown */
const char *mlff_element_symbol(int z);     /* NULL if unknown */

/* ---- datasets (SPEC §3): labelled structures in the PyTorch pipeline's ragged layout -------
 * /structures/{atomic_numbers, positions, cells, pbc, atomic_numbers_splits},
 * /labels/{energy, forces, forces_splits, source}; /labels attrs teacher, units. Splits follow
 * numpy.split: the N-1 interior offsets of the concatenated per-atom arrays. */

typedef struct mlff_dataset mlff_dataset;

mlff_status mlff_dataset_create(mlff_dataset **out); /* empty */
void mlff_dataset_free(mlff_dataset *d);
/* Refuses, naming file and field: inconsistent splits, non-finite values, unknown elements,
 * missing labels, units other than eV/Å. */
mlff_status mlff_dataset_load(const char *path, mlff_dataset **out);
mlff_status mlff_dataset_save(const mlff_dataset *d, const char *path); /* replaces path */
/* Append d's structures to path, creating it if missing: labelling writes in chunks and an
 * interrupted run loses at most the chunk in flight. */
mlff_status mlff_dataset_append(const mlff_dataset *d, const char *path);
int mlff_dataset_size(const mlff_dataset *d);
/* Copy in one labelled structure (has_energy and has_forces required); source tags where it
 * came from ("md300", "normal_modes", "dimer", ...). */
mlff_status mlff_dataset_add(mlff_dataset *d, const mlff_frame *f, const char *source);
/* A view of structure i: pointers into d, valid while d is unchanged; *source may be "". */
mlff_status mlff_dataset_get(const mlff_dataset *d, int i, mlff_frame *f, const char **source);
const char *mlff_dataset_attr(const mlff_dataset *d, const char *name); /* "" when absent */
mlff_status mlff_dataset_set_attr(mlff_dataset *d, const char *name, const char *value);
/* SHA-256 of a file's bytes, as 64 hex digits (models record their dataset's). */
mlff_status mlff_file_sha256(const char *path, char hex[65]);

/* ---- teacher (SPEC §4): GFN2-xTB through libxtb, in process --------------------------------- */

typedef struct mlff_teacher mlff_teacher;

/* MLFF_ERR_UNSUPPORTED when libmlff was built without libxtb. */
mlff_status mlff_teacher_create_xtb(mlff_teacher **out);
void mlff_teacher_free(mlff_teacher *t);
const char *mlff_teacher_name(const mlff_teacher *t); /* e.g. "GFN2-xTB (libxtb 6.5.1)" */
/* Energy (eV) and forces (eV/Å, [n][3]) of a neutral closed-shell structure (open, or periodic
 * when f->has_cell). Reuses the previous wavefunction when the atoms are the same. */
mlff_status mlff_teacher_compute(mlff_teacher *t, const mlff_frame *f, double *energy,
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
  void (*progress)(const mlff_train_progress *p, void *user); /* once per epoch, or NULL */
  void *user;
} mlff_train_options;

void mlff_train_options_default(mlff_train_options *o);
/* Fit m (architecture and initial weights given, e.g. by mlff_model_create) to d: e0 by least
 * squares, then Adam on the loss with analytic force-loss gradients. m ends as the best model
 * on the validation set, with input normalisation folded into its first layer, the training
 * range of the descriptor, and attrs teacher, dataset_sha256 (when d came from a file, set by
 * the caller) and training_summary (JSON: options, split indices, losses, timings). */
mlff_status mlff_train(mlff_model *m, const mlff_dataset *d, const mlff_train_options *o);

#ifdef __cplusplus
}
#endif
#endif /* MLFF_H */
