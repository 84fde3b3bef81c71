/* train_test.h — shared by the trainer tests: in-memory labelled datasets built from the unit
 * tests' structures (benzene, dimers, periodic boxes), labelled by a model (a learnable
 * teacher), by random numbers (gradient checks need no learnable target) or by GFN2-xTB. */
#ifndef MLFF_TRAIN_TEST_H
#define MLFF_TRAIN_TEST_H

#include "../unit/test_util.h"
#include "train.h"

static const int Z_OF_SPECIES[2] = {6, 1}; /* test_util's species: 0 = C, 1 = H */

/* A labelled frame of t: energy and forces from calc c (model with elements C, H), or random
 * when c is NULL. Owns its arrays (free with frame_free). */
static mlff_frame frame_of(const tstruct *t, mlff_calc *c) {
  mlff_frame f;
  memset(&f, 0, sizeof f);
  f.n_atoms = t->n;
  f.atomic_numbers = malloc(sizeof(int) * t->n);
  f.positions = malloc(3 * sizeof(double) * t->n);
  f.forces = malloc(3 * sizeof(double) * t->n);
  for (int i = 0; i < t->n; i++) f.atomic_numbers[i] = Z_OF_SPECIES[t->species[i]];
  memcpy(f.positions, t->x, 3 * sizeof(double) * t->n);
  if (t->periodic) {
    memcpy(f.cell, t->cell, sizeof f.cell);
    f.has_cell = 1;
    f.pbc[0] = f.pbc[1] = f.pbc[2] = 1;
  }
  f.has_energy = f.has_forces = 1;
  if (c) {
    mlff_structure s = tview(t);
    mlff_result r = {.forces = f.forces};
    CHECK_OK(mlff_compute(c, &s, &r));
    f.energy = r.energy;
  } else {
    f.energy = -40.0 * t->n + 2.0 * (trand() - 0.5);
    for (int i = 0; i < 3 * t->n; i++) f.forces[i] = 2.0 * (trand() - 0.5);
  }
  return f;
}

static void frame_free(mlff_frame *f) {
  free(f->atomic_numbers);
  free(f->positions);
  free(f->forces);
}

static void add_labelled(mlff_dataset *d, const tstruct *t, mlff_calc *c, const char *source) {
  mlff_frame f = frame_of(t, c);
  CHECK_OK(mlff_dataset_add(d, &f, source));
  frame_free(&f);
}

/* A benzene, randomly rotated and distorted by jitter Å. */
static tstruct make_benzene_random(double jitter) {
  tstruct t = {0};
  double R[9], c[3] = {0, 0, 0};
  random_rotation(R);
  add_benzene(&t, R, c, jitter);
  return t;
}

/* Two benzenes, centres dist Å apart along a random direction, random orientations. */
static tstruct make_dimer_random(double dist, double jitter) {
  tstruct t = {0};
  double R[9], c0[3] = {0, 0, 0}, u[3], c1[3];
  random_rotation(R);
  add_benzene(&t, R, c0, jitter);
  double n2 = 0;
  do {
    for (int d = 0; d < 3; d++) u[d] = 2 * trand() - 1;
    n2 = u[0] * u[0] + u[1] * u[1] + u[2] * u[2];
  } while (n2 > 1 || n2 < 1e-2);
  for (int d = 0; d < 3; d++) c1[d] = dist * u[d] / sqrt(n2);
  random_rotation(R);
  add_benzene(&t, R, c1, jitter);
  return t;
}

/* Random C/H model with the given hidden widths and activation. */
static mlff_model *make_model_h(int n_hidden, const int *hidden, mlff_activation act,
                                uint64_t seed) {
  mlff_model_spec spec = {0};
  spec.n_elements = 2;
  spec.elements = CH;
  spec.n_hidden = n_hidden;
  spec.hidden = hidden;
  spec.activation = act;
  mlff_descriptor_params_ani1x(&spec.descriptor);
  spec.seed = seed;
  mlff_model *m;
  CHECK_OK(mlff_model_create(&spec, &m));
  return m;
}

#endif
