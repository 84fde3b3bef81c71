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
} mlff_calc_options;

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
  const int *ilist;        /* [n_list] their indices */
  const int *numneigh;     /* [n_total] indexed by atom index */
  const int *const *firstneigh; /* firstneigh[i][0..numneigh[i]) = neighbour indices */
  int index_mask;          /* if non-zero, neighbour indices are (value & index_mask) */
} mlff_neighbors;

/* energy and virial are set; forces [n_total][3], energy_atom [n_total] and virial_atom
 * [n_total][6] are ADDED to (as a pair style accumulates), so the caller zeroes them. */
mlff_status mlff_compute_neighbors(mlff_calc *c, const mlff_neighbors *nl, mlff_result *r);

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

#ifdef __cplusplus
}
#endif
#endif /* MLFF_H */
