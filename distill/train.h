/* train.h — the trainer's internals, for `mlff train` (tools/cmd_train.c) and the tests.
 * Not installed; users see mlff_train() in mlff.h.
 *
 * A trainer holds a set of labelled structures with their descriptors G and descriptor
 * Jacobians J = dG/d(neighbour vectors), computed once (docs/cli.md), and the network in its
 * training parameterisation: one flat vector theta of every element's weights acting on
 * NORMALISED descriptors (G - mu) / sigma, with per-element energy offsets e0 and the output
 * scale: E = sum_a (scale * NN_{s_a}((G_a - mu) / sigma) + e0_{s_a}).
 *
 * Loss of a set B of structures (eV, Å):
 *   L = wE * mean_{s in B} ((E_s - E_ref_s) / N_s)^2 + wF * mean_{atoms a in B} |F_a - F_ref_a|^2
 * (the force term averages over atoms the squared norm, i.e. the sum of the 3 components). */
#ifndef MLFF_TRAIN_H
#define MLFF_TRAIN_H

#include "internal.h"
#include "mlff_distill.h"

/* mlff_train, with the Jacobians stored in double instead of float when jacobian_fp64 != 0
 * (tests: forces to 1e-10). */
mlff_status mlff_train_ex(mlff_model *m, const mlff_dataset *d, const mlff_train_options *o,
                          int jacobian_fp64);

typedef struct mlff_trainer mlff_trainer;

/* The checks a dataset structure must pass before training (labels present and finite, a
 * non-singular cell where periodic), with a message naming the structure by index. */
mlff_status mlff_trainer_check_frame(const mlff_frame *f, int index);

/* Precompute structures indices[0..n) of d for model m (which must outlive the trainer):
 * neighbours (periodic images folded onto their atoms), G and J. The trainer's structures are
 * then numbered 0..n-1 in that order. n_threads 0 = OpenMP's default. */
mlff_status mlff_trainer_create(const mlff_model *m, const mlff_dataset *d, int n,
                                const int *indices, int jacobian_fp64, int n_threads,
                                mlff_trainer **out);
void mlff_trainer_free(mlff_trainer *t);

/* Set up the parameters from m, using the structures fit[0..n_fit) (trainer numbering) for
 * the statistics: normalisation mu/sigma (per element and feature, sigma floored) and the
 * descriptor range. fresh != 0: a new model — e0 by least squares, scale from the residual,
 * m's weights taken as the initial weights of the normalised network (features constant over
 * the fit set get zero first-layer weights). fresh == 0: continue from a trained model — its
 * e0 and scale are kept and its first layer is unfolded, so the function is unchanged. */
mlff_status mlff_trainer_setup(mlff_trainer *t, int n_fit, const int *fit, int fresh);

/* Train m2 from now on (committee members in turn): its descriptor, elements, activation,
 * dispersion and layer shapes must be those of the model the trainer was created for; the
 * next mlff_trainer_setup reads its weights. */
void mlff_trainer_set_model(mlff_trainer *t, const mlff_model *m2);

size_t mlff_trainer_n_params(const mlff_trainer *t);
int mlff_trainer_structure_atoms(const mlff_trainer *t, int i); /* atoms of structure i */
double *mlff_trainer_params(mlff_trainer *t);                   /* theta, writable */
double mlff_trainer_scale(const mlff_trainer *t);
const double *mlff_trainer_e0(const mlff_trainer *t);
size_t mlff_trainer_jacobian_bytes(const mlff_trainer *t); /* J storage, bytes */
size_t mlff_trainer_bytes(const mlff_trainer *t);          /* everything precomputed, bytes */

/* Loss of structures ids[0..n) and, if grad is not NULL, its gradient with respect to theta
 * (analytic: backprop for the energy term, a forward-over-reverse pass through the networks
 * for the force term). */
mlff_status mlff_trainer_loss_grad(mlff_trainer *t, int n, const int *ids, double w_energy,
                                   double w_forces, double *loss, double *grad);

/* Errors over structures ids[0..n): sums that callers turn into means. */
typedef struct {
  int n_structures;
  long n_atoms;
  double loss;      /* as mlff_trainer_loss_grad */
  double sum_abs_e; /* sum_s |dE_s| / N_s, eV/atom */
  double sum_sq_e;  /* sum_s (dE_s / N_s)^2 */
  double sum_abs_f; /* sum over atoms and components of |dF|, eV/Å */
  double sum_sq_f;  /* sum over atoms of |dF|^2 */
} mlff_trainer_errors;
mlff_status mlff_trainer_errors_of(mlff_trainer *t, int n, const int *ids, double w_energy,
                                   double w_forces, mlff_trainer_errors *e);

/* Energy (eV) and forces ([N][3], eV/Å) of structure id predicted through the stored G and J. */
mlff_status mlff_trainer_predict(mlff_trainer *t, int id, double *energy, double *forces);

/* Write theta into m with the normalisation folded into the first layer (float32 weights,
 * double copies synced), e0, scale and the descriptor range of the fit set. */
mlff_status mlff_trainer_export(const mlff_trainer *t, mlff_model *m);

/* ---- checkpoints (checkpoint.c; docs/file_format.md, "Training checkpoint") --------------- */

/* Everything mlff_train needs to continue after `epoch` completed epochs as if it had never
 * stopped: the parameters, Adam's moments and bias powers, the epoch shuffle's RNG state and
 * order, the learning-rate schedule and early-stopping counters, the best parameters and
 * their errors, the summary's history, and the time already spent (for the time limit). */
typedef struct {
  int epoch, best_epoch, since_best, since_decay;
  long steps;
  double lr, b1t, b2t, best_loss, best_emae, best_fmae, last_train_loss, elapsed_s, train_s;
  uint64_t rng_epoch;
  size_t P;
  int n_train;
  double *theta, *adam_m, *adam_v, *best; /* [P] */
  int *perm;                              /* [n_train] */
  const char *history;                    /* written; read into a malloc'd string */
} mlff_checkpoint_state;

/* Write m (the best model so far: loadable as any model) with the group /checkpoint holding s
 * and the run's signature `run`, to a temporary name renamed over path when complete. */
mlff_status mlff_checkpoint_write(const char *path, const mlff_model *m, const char *run,
                                  const mlff_checkpoint_state *s);
/* *found = 0 when path does not exist. Otherwise read it into s, whose P and n_train say what
 * this run expects and whose arrays are allocated for them (s->history malloc'd: free it);
 * refused, naming the file and the field, when it holds no checkpoint, another run's (`run`
 * differs: the message names the first field that does) or a damaged one. */
mlff_status mlff_checkpoint_read(const char *path, const char *run, mlff_checkpoint_state *s,
                                 int *found);

/* SHA-256 (hex) of the concatenation of n memory blocks (dataset.c). */
void mlff_sha256_parts(int n, const void *const *parts, const size_t *sizes, char hex[65]);

#endif
