/* images.h — one structure's atoms, their periodic images within a cutoff, and the full
 * neighbour list of its own atoms (cell list): what the evaluation (compute.c) and the
 * trainer (train.c) both start from. */
#ifndef MLFF_IMAGES_H
#define MLFF_IMAGES_H

#include "internal.h"

typedef struct {
  int n_atoms, n_total; /* the structure's atoms, then images: n_total points in all */
  double *x;            /* [n_total][3]; atoms wrapped into the cell along periodic axes */
  int *owner;           /* [n_total]: the atom each point is (an image of) */
  int *nb_off;          /* [n_atoms + 1]: neighbours of atom t are nb[nb_off[t] .. nb_off[t+1]) */
  int *nb;              /* point indices within rc (excluding the atom itself and r = 0) */
  int coincident[2];    /* the first atom and point left out at r = 0, else -1 (with lists) */
  /* capacities and the cell list's scratch, kept between builds by mlff_images_rebuild */
  size_t cap_points, cap_off, cap_nb, cap_head, cap_next, cap_binof;
  int *head, *next, *binof;
} mlff_images;

/* 3x3 inverse of a row-major matrix; *det its determinant. */
void mlff_inverse3(const double *h, double *inv, double *det);
/* Distances between opposite faces of the cell h (rows a, b, c; det its determinant): w[d]
 * across the faces spanned by the other two rows. */
void mlff_face_spacings(const double *h, double det, double w[3]);
/* Build im for n atoms at positions; periodic along axis d when cell != NULL and pbc[d]. The
 * cell must be non-singular (callers check, with their own message). with_lists = 0 skips the
 * neighbour list (nb_off, nb are not set). Only MLFF_ERR_NOMEM can fail (im is freed then). */
mlff_status mlff_images_build(mlff_images *im, const double *positions, int n, const double *cell,
                              const int pbc[3], double rc, int with_lists);
/* The same into the buffers of im, zeroed or from an earlier build (grown as needed): a caller
 * that builds again and again allocates nothing once they fit (mlff_compute's CPU path). */
mlff_status mlff_images_rebuild(mlff_images *im, const double *positions, int n,
                                const double *cell, const int pbc[3], double rc, int with_lists);
void mlff_images_free(mlff_images *im);

#endif
