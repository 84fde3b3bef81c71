/* pairs.c — a model's long-range pair terms on one structure (pairs.h), for the trainer: one
 * neighbour list to the longer of their cutoffs, each term's sum over it. */
#include "pairs.h"

#include <math.h>
#include <stdlib.h>

#include "dispersion.h"
#include "electrostatics.h"
#include "images.h"

mlff_status mlff_long_range_structure(const mlff_model *m, int n, const double *x,
                                      const int *species, const double *cell, const int pbc[3],
                                      double *energy, double *forces) {
  *energy = 0.0;
  const double rc = fmax(m->disp.on ? m->disp.p.cutoff : 0.0, m->coul.on ? m->coul.p.cutoff : 0.0);
  if (!(rc > 0.0)) return MLFF_OK;
  mlff_images im;
  mlff_status st = mlff_images_build(&im, x, n, cell, pbc, rc, 1);
  if (st) return st;
  int *sp = malloc((size_t)(im.n_total + 1) * sizeof(int));
  int *numneigh = malloc((size_t)(n + 1) * sizeof(int));
  const int **first = malloc((size_t)(n + 1) * sizeof(int *));
  int *atoms = malloc((size_t)(n + 1) * sizeof(int));
  double *sums = malloc((7 * (size_t)n + 1) * sizeof(double)), w[6] = {0, 0, 0, 0, 0, 0};
  double *q = malloc((size_t)(im.n_total + 1) * sizeof(double));
  if (!sp || !numneigh || !first || !atoms || !sums || !q) {
    st = mlff_set_error(MLFF_ERR_NOMEM, "out of memory for the long-range terms of %d atoms", n);
  } else {
    for (int t = 0; t < im.n_total; t++) sp[t] = species[im.owner[t]];
    for (int i = 0; i < n; i++) {
      numneigh[i] = im.nb_off[i + 1] - im.nb_off[i];
      first[i] = im.nb + im.nb_off[i];
      atoms[i] = i;
    }
    /* only the structure's own atoms have lists, and each is computed from its own; each term
     * takes its pairs within its own cutoff from the one list */
    mlff_neighbors nl = {im.n_total, im.x, sp, n, atoms, numneigh, first, 0, 0.0, 0, NULL, NULL};
    if (m->disp.on)
      st = mlff_disp_list(&m->disp, &nl, atoms, n, 1, sums, forces, NULL, NULL, energy, w);
    if (!st && m->coul.on && !(st = mlff_coul_charges(&m->coul, im.n_total, im.x, sp, q))) {
      for (int t = n; t < im.n_total; t++) q[t] = q[im.owner[t]]; /* images: their atoms' */
      mlff_coul_list(&m->coul, &nl, q, atoms, n, 1, sums, forces, NULL, NULL, energy, w);
    }
    if (!st) mlff_disp_add_tail(&m->disp, m->n_elements, n, species, cell, pbc, energy, w);
  }
  free(sp), free(numneigh), free(first), free(atoms), free(sums), free(q);
  mlff_images_free(&im);
  return st;
}
