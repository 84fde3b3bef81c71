/* mlff_cuda.h — the boundary of the CUDA kernels (docs/gpu.md): the only header of cuda/ that code
 * outside it includes (core/src/gpu.c). Plain C, flat arrays and plain structs: the kernels know
 * nothing of libmlff's model, API or error handling, and libmlff nothing of CUDA. Failures come
 * back as an mlff_cuda_status and a message in a caller's buffer; libmlff turns them into its
 * own status and last error.
 *
 * One context per calc: the model's weights on the device, device buffers sized to the largest
 * system seen, and a CUDA graph of one step that is replayed while the atom counts stay. */
#ifndef MLFF_CUDA_H
#define MLFF_CUDA_H

#ifdef __cplusplus
extern "C" {
#endif

/* Sizes of the model description (libmlff checks at compile time that its own agree). */
#define MLFF_CUDA_MAX_ELEMENTS 16
#define MLFF_CUDA_MAX_LAYERS 9 /* hidden layers and the output unit */
#define MLFF_CUDA_MAX_RADIAL_SHELLS 64
#define MLFF_CUDA_MAX_ANGULAR_SHELLS 16
#define MLFF_CUDA_MAX_ANGLE_SECTIONS 32
#define MLFF_CUDA_MESSAGE_LEN 1024
#define MLFF_CUDA_MAX_MEMBERS 16 /* committee members */

typedef enum {
  MLFF_CUDA_OK = 0,
  MLFF_CUDA_ERR_ARGUMENT,    /* the call's data: too many neighbours, a cell too narrow ... */
  MLFF_CUDA_ERR_NOMEM,       /* host memory */
  MLFF_CUDA_ERR_UNSUPPORTED, /* a model shape or option these kernels do not run */
  MLFF_CUDA_ERR_DEVICE       /* no usable device, or a CUDA runtime error */
} mlff_cuda_status;

/* The text of a failure, written by the call that fails (NUL-terminated, truncated to fit). */
typedef struct {
  char text[MLFF_CUDA_MESSAGE_LEN];
} mlff_cuda_message;

enum { MLFF_CUDA_ACT_SILU = 0, MLFF_CUDA_ACT_CELU = 1 /* alpha = 0.1 */ };

/* One element's network: n_layers dense layers, sizes[0] = D ... sizes[n_layers] = 1; W[l] is
 * [sizes[l+1]][sizes[l]] row-major, b[l] is [sizes[l+1]] (the caller's memory, read by create) */
typedef struct {
  int n_layers;
  int sizes[MLFF_CUDA_MAX_LAYERS + 1];
  const float *W[MLFF_CUDA_MAX_LAYERS], *b[MLFF_CUDA_MAX_LAYERS];
} mlff_cuda_network;

/* A committee member beyond the first: its own networks, scale and e0 (the first's shapes) */
typedef struct {
  double scale, e0[MLFF_CUDA_MAX_ELEMENTS];
  mlff_cuda_network net[MLFF_CUDA_MAX_ELEMENTS];
} mlff_cuda_member;

/* The model (docs/model.md): descriptor parameters, per-element networks, E_i = scale NN + e0. */
typedef struct {
  int n_elements;
  int n_features; /* D, the descriptor length */
  double Rcr, Rca, etaR, etaA, zeta;
  int n_muR, n_muA, n_thetaZ;
  double muR[MLFF_CUDA_MAX_RADIAL_SHELLS], muA[MLFF_CUDA_MAX_ANGULAR_SHELLS];
  double thetaZ[MLFF_CUDA_MAX_ANGLE_SECTIONS];
  int activation; /* MLFF_CUDA_ACT_* */
  double scale, e0[MLFF_CUDA_MAX_ELEMENTS];
  mlff_cuda_network net[MLFF_CUDA_MAX_ELEMENTS];
  /* A committee (docs/model.md) of n_members K >= 2 students: the one above and members[0 ..
   * K-2], one descriptor for all; energy, forces and virial are their mean. 0 or 1: one. */
  int n_members;
  const mlff_cuda_member *members;
  /* Per element, the features' training range [n_features] (min, max), or NULL: none (no
   * range check, mlff_cuda_check_range) */
  const float *feature_min[MLFF_CUDA_MAX_ELEMENTS], *feature_max[MLFF_CUDA_MAX_ELEMENTS];
  /* Long-range dispersion (docs/model.md), none when disp_cutoff is 0: per pair of species
   * e(r) = -c6 / (r^6 + r0_6) - c8 / (r^8 + r0_8) within disp_cutoff (Å), the weights s6, s8
   * folded into c6 and c8, r0_6 and r0_8 the damping radius to the 6th and 8th power. */
  double disp_cutoff;
  double disp_c6[MLFF_CUDA_MAX_ELEMENTS][MLFF_CUDA_MAX_ELEMENTS];
  double disp_c8[MLFF_CUDA_MAX_ELEMENTS][MLFF_CUDA_MAX_ELEMENTS];
  double disp_r0_6[MLFF_CUDA_MAX_ELEMENTS][MLFF_CUDA_MAX_ELEMENTS];
  double disp_r0_8[MLFF_CUDA_MAX_ELEMENTS][MLFF_CUDA_MAX_ELEMENTS];
  /* Its three-body (ATM) term, none when disp3_cutoff is 0: over triples with all sides within
   * disp3_cutoff (Å), e = w_ab w_ac w_bc (3 cos cos cos + 1) / (r_ab r_ac r_bc)^3 / (1 + 6
   * (r0_ab r0_ac r0_bc / (r_ab r_ac r_bc))^(alp/3)): C9 = s9 sqrt(C6 C6 C6 / Eh) split into
   * per-pair factors w = (s9 / sqrt(Eh))^(1/3) sqrt(C6) (eV^(1/3) Å^3), r0 the damping radius. */
  double disp3_cutoff, disp3_alp;
  double disp3_switch; /* its smooth cutoff's width (Å; 0: hard), as mlff.h's switch3 */
  double disp3_w[MLFF_CUDA_MAX_ELEMENTS][MLFF_CUDA_MAX_ELEMENTS];
  double disp3_r0[MLFF_CUDA_MAX_ELEMENTS][MLFF_CUDA_MAX_ELEMENTS];
  /* Fixed-charge electrostatics (docs/model.md), none when coul_cutoff is 0: per pair
   * e(r) = qq (erfc(alpha r)/r - e_shift - r f_shift) within coul_cutoff (Å), qq = k q_a q_b
   * (eV Å), the damped shifted force's e_shift (Å^-1) and f_shift (Å^-2); each atom's self
   * term coul_self[species] (eV). */
  double coul_cutoff, coul_alpha, coul_e_shift, coul_f_shift;
  double coul_qq[MLFF_CUDA_MAX_ELEMENTS][MLFF_CUDA_MAX_ELEMENTS];
  double coul_self[MLFF_CUDA_MAX_ELEMENTS];
} mlff_cuda_model;

typedef struct {
  int fp16;       /* network matrix products in FP16 with FP32 accumulation */
  int device;     /* CUDA ordinal among the visible devices */
  int n_threads;  /* host threads for the per-atom loops of large systems (staging, results) */
  int gpu_shared; /* other processes use this GPU too: small systems take the graph path, not
                   * the resident step */
} mlff_cuda_options;

/* A periodic cell, rows a, b, c, with what its caller derives from it (the core's cell
 * geometry): the inverse (row-major; fractional coordinate f_d = sum_k x_k inverse[3k + d]),
 * the determinant and the distances between opposite faces. */
typedef struct {
  double h[9], inverse[9], det, spacing[3];
} mlff_cuda_cell;

typedef struct mlff_cuda mlff_cuda;

/* Number of visible CUDA devices (0 when none or no driver); never fails. */
int mlff_cuda_device_count(void);

/* Upload the model to the device of o; *out is NULL on failure. */
mlff_cuda_status mlff_cuda_create(const mlff_cuda_model *m, const mlff_cuda_options *o,
                                  mlff_cuda **out, mlff_cuda_message *msg);
void mlff_cuda_free(mlff_cuda *g);

/* Committees (K > 1 members): member_forces [K][n_total][3], each member's forces (the common
 * dispersion included), are ADDED to as forces are (NULL: not wanted), and deviation [n_total]
 * (NULL: not wanted) is SET to sqrt(mean_k |F_i^k - mean_k F_i^k|^2) of each atom's member
 * forces, after the images' are added to their atoms' (ghosts' as they are: the caller folds).
 * Both are ignored for one network.
 *
 * One evaluation. Atoms [0, n_local) get energies; atoms [n_local, n_total) are images/ghosts
 * that act as neighbours (energy_atom has room for them too: no term gives them energy now).
 * Neighbours are found on the device (cell list) within the model's cutoff; species < 0 atoms are
 * ignored. skin and list_age as in mlff_neighbors (skin > 0: the list is kept between calls, above
 * the one-kernel size). cell (NULL, or periodic along all three rows): every atom is local (n_total
 * == n_local) and the periodic images are made here, their results added to their atoms'. Outputs,
 * each when not NULL: forces [n_total][3], energy_atom [n_total] and virial_atom [n_total][6] are
 * ADDED to (as LAMMPS accumulates; no host copy in between), energy and virial (W = sum d (x) f_j,
 * xx yy zz xy xz yz) are set. */
mlff_cuda_status mlff_cuda_compute(mlff_cuda *g, int n_local, int n_total, const double *x,
                                   const int *species, double skin, int list_age,
                                   const mlff_cuda_cell *cell, double *forces, double *energy_atom,
                                   double *virial_atom, double *member_forces, double *deviation,
                                   double *energy, double virial[6], mlff_cuda_message *msg);

/* The close-atom guard (mlff.h's mlff_calc_guard_close): with close [n_elements][n_elements]
 * (Å, row-major; NULL or zeros: off) an evaluation in which atoms of species a and b are
 * closer than close[a][b] fails (MLFF_CUDA_ERR_ARGUMENT), and mlff_cuda_close_pair gives the
 * closest such pair. */
mlff_cuda_status mlff_cuda_guard_close(mlff_cuda *g, const double *close, mlff_cuda_message *msg);
/* After a failed evaluation: 1 when it failed on the guard, with the pair's atoms (indices into
 * the call's atoms; an image made here is named by its atom) and their distance (Å); else 0. */
int mlff_cuda_close_pair(const mlff_cuda *g, int *i, int *j, double *r);

/* The training-range check (mlff.h's mlff_calc_check_range): with tolerance >= 0 every later
 * evaluation counts the local atoms with a feature more than tolerance x (that feature's
 * training span, floored at 1e-3 of the element's widest) outside the range, and keeps the
 * largest excursion; < 0 switches it off. MLFF_CUDA_ERR_UNSUPPORTED when the model gave no
 * range. While on, small systems take the general path (the one-kernel steps do not check). */
mlff_cuda_status mlff_cuda_check_range(mlff_cuda *g, double tolerance, mlff_cuda_message *msg);
typedef struct {
  int n_atoms;     /* atoms of the last evaluation outside the range (0 when off) */
  int species;     /* the largest excursion's element, -1 when none */
  int feature;     /* and feature */
  double value;    /* the feature's value there */
  double min, max; /* its training range */
  double excess;   /* how far outside, in (floored) spans */
} mlff_cuda_range;
void mlff_cuda_range_report(const mlff_cuda *g, mlff_cuda_range *out);

#ifdef __cplusplus
}
#endif
#endif
