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
  /* closest distance between atoms of species a and b in the training structures (Å; 0: not
   * recorded), symmetric; the close-atom guard's reference (mlff_calc_guard_close) */
  double min_distance[MLFF_MAX_ELEMENTS][MLFF_MAX_ELEMENTS];
  int n_attrs;                   /* free-form root attributes: created, teacher, ... */
  mlff_attr *attrs;
};


/* Allocate an empty model (zeroed, arch set); networks allocated by mlff_network_alloc. */
mlff_model *mlff_model_alloc(void);
/* Allocate W/b (float and double) of one network with the given layer sizes. */
mlff_status mlff_network_alloc(mlff_network *n, int n_layers, const int *sizes);
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
