/* internal.h — data layout shared by the core's modules (and, until cuda/ has its own boundary, read by it).
 * Not installed; users see only mlff.h. */
#ifndef MLFF_INTERNAL_H
#define MLFF_INTERNAL_H

#include "mlff.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MLFF_MAX_LAYERS (MLFF_MAX_HIDDEN + 1)
#define MLFF_SYMBOL_LEN 4

/* One element's network: n_layers dense layers, sizes[0] = D (descriptor length) ...
 * sizes[n_layers] = 1. W[l] is [sizes[l+1]][sizes[l]] row-major (as in the file), b[l] is
 * [sizes[l+1]]. The file stores float32; the CPU path computes in double from Wd/bd. */
typedef struct {
  int n_layers;
  int sizes[MLFF_MAX_LAYERS + 1];
  float *W[MLFF_MAX_LAYERS], *b[MLFF_MAX_LAYERS];
  double *Wd[MLFF_MAX_LAYERS], *bd[MLFF_MAX_LAYERS];
  /* Descriptor range seen in training (extrapolation warnings); NULL when not stored. */
  float *feature_min, *feature_max;
} mlff_network;

typedef struct {
  char *name, *value;
} mlff_attr;

/* Long-range dispersion (dispersion.h), optional: on = 0 for models without /dispersion. */
typedef struct {
  int on;
  mlff_dispersion_params p;
  double r0_6[MLFF_MAX_ELEMENTS][MLFF_MAX_ELEMENTS], r0_8[MLFF_MAX_ELEMENTS][MLFF_MAX_ELEMENTS];
  /* tail beyond the cutoff per N_a N_b / V: energy (eV Å^3) and virial W_xx (eV Å^3) */
  double tail_e[MLFF_MAX_ELEMENTS][MLFF_MAX_ELEMENTS], tail_w[MLFF_MAX_ELEMENTS][MLFF_MAX_ELEMENTS];
  /* three-body term (p.s9 > 0): R0 per pair, C9 per triple of species (eV Å^9) */
  double r0[MLFF_MAX_ELEMENTS][MLFF_MAX_ELEMENTS], lr0[MLFF_MAX_ELEMENTS][MLFF_MAX_ELEMENTS];
  double c9[MLFF_MAX_ELEMENTS][MLFF_MAX_ELEMENTS][MLFF_MAX_ELEMENTS];
} mlff_dispersion;

/* Fixed-charge electrostatics (electrostatics.h), optional: on = 0 for models without
 * /electrostatics. e_shift, f_shift: the DSF shifts (as LAMMPS's coul/dsf, per unit charge
 * product); self_e: each species' self term, eV (charges by element); self_q2: the self term
 * per q^2 (eV e^-2). bonds: the bond-charge increments are on; then hydrogen[s]: species s is
 * hydrogen (bonded to its nearest atom other than hydrogen alone), bond_reach: the longest
 * bond, Å. */
typedef struct {
  int on;
  mlff_electrostatics_params p;
  double e_shift, f_shift, self_e[MLFF_MAX_ELEMENTS], self_q2;
  int bonds, hydrogen[MLFF_MAX_ELEMENTS];
  double bond_reach;
} mlff_electrostatics;

/* One committee member beyond the first (docs/file_format.md, /committee): its own networks,
 * e0 and scale; everything else (descriptor, elements, activation, dispersion, training range)
 * is the model's, common to all members. */
typedef struct {
  mlff_network net[MLFF_MAX_ELEMENTS];
  double e0[MLFF_MAX_ELEMENTS];
  double scale;
} mlff_member;

#define MLFF_MAX_COMMITTEE 64

struct mlff_model {
  char arch[32];                 /* "aev-mlp" */
  int n_elements;
  char elements[MLFF_MAX_ELEMENTS][MLFF_SYMBOL_LEN];
  mlff_activation activation;
  mlff_descriptor_params desc;
  int n_features;                /* D */
  double e0[MLFF_MAX_ELEMENTS];  /* per-element energy offset, eV */
  double scale;                  /* E_i = scale * NN(G_i) + e0 */
  mlff_network net[MLFF_MAX_ELEMENTS];
  mlff_dispersion disp;
  mlff_electrostatics coul;
  /* closest distance between atoms of species a and b in the training structures (Å; 0: not
   * recorded), symmetric; the close-atom guard's reference (mlff_calc_guard_close) */
  double min_distance[MLFF_MAX_ELEMENTS][MLFF_MAX_ELEMENTS];
  int n_attrs;                   /* free-form root attributes: created, teacher, ... */
  mlff_attr *attrs;
  /* Committee: n_members students (1 = a single model). Member 0 is net/e0/scale above, so
   * code written for one network reads on unchanged; members 1.. are more[0..n_members-2]. */
  int n_members;
  mlff_member *more;
};

/* Member k's networks, e0 and scale (k = 0: the model's own). */
static inline const mlff_network *mlff_member_net(const mlff_model *m, int k) {
  return k ? m->more[k - 1].net : m->net;
}
static inline const double *mlff_member_e0(const mlff_model *m, int k) {
  return k ? m->more[k - 1].e0 : m->e0;
}
static inline double mlff_member_scale(const mlff_model *m, int k) {
  return k ? m->more[k - 1].scale : m->scale;
}


/* Allocate an empty model (zeroed, arch set); networks allocated by mlff_network_alloc. */
mlff_model *mlff_model_alloc(void);
/* Allocate W/b (float and double) of one network with the given layer sizes. */
mlff_status mlff_network_alloc(mlff_network *n, int n_layers, const int *sizes);
/* Free the weights of a network (not its training range) and zero it. */
void mlff_network_free(mlff_network *n);
/* Deep copy of a network's layers (not its training range) into an empty dst. */
mlff_status mlff_network_copy(mlff_network *dst, const mlff_network *src);
/* Fresh uniform Glorot weights and small biases for every network of member 0 of m, drawn
 * from seed (mlff_model_create's initialisation; the trainer's members k > 0). */
void mlff_model_init_weights(mlff_model *m, uint64_t seed);
/* Refresh the double copies Wd/bd from W/b after the float weights changed. */
void mlff_network_sync(mlff_network *n);
const char *mlff_activation_name(mlff_activation a);
int mlff_activation_parse(const char *name, mlff_activation *a);

/* Index of species pair (a, b) in the angular block: row-major upper triangle. */
static inline int mlff_pair_index(int a, int b, int n_species) {
  if (a > b) { int t = a; a = b; b = t; }
  return a * n_species - a * (a - 1) / 2 + (b - a);
}

#ifdef __cplusplus
}
#endif
#endif
