/* summary.h — the training summary that mlff_train stores in the model (attribute
 * training_summary, JSON: options, split, e0, losses, timings, history) and the growing string it
 * is written with. Readers use mlff_training_split (mlff_distill.h), in summary.c as well, so the
 * format is written and read in one place. */
#ifndef MLFF_SUMMARY_H
#define MLFF_SUMMARY_H

#include <stddef.h>

#include "internal.h"
#include "mlff_distill.h"

/* A growing string (JSON). On allocation failure it stops growing and remembers it. */
typedef struct {
  char *s;
  size_t n, cap;
  int failed;
} mlff_sbuf;

void mlff_sb_printf(mlff_sbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* What one training run records. */
typedef struct {
  const mlff_train_options *o;
  const char *test_sources;
  int fresh;
  int N, n_train, n_valid, n_test;
  const int *train, *valid, *test; /* dataset indices, sorted */
  long atoms;
  size_t jac_bytes, bytes;
  double precompute_s;
  int n_threads;
  /* progress */
  int epochs, best_epoch;
  long steps;
  double best_loss, best_emae, best_fmae, last_train_loss, train_s;
  const char *stop;
  mlff_sbuf hist;
  /* committee (n_members > 1): one JSON object per member, joined by commas; the fields above
   * are member 0's */
  int n_members;
  mlff_sbuf members;
  /* test, from the final model */
  int have_test;
  double test_emae, test_fmae, test_frmse;
} mlff_summary;

/* The summary as JSON (malloc'd), or NULL when out of memory. e0 and scale: the trained ones. */
char *mlff_summary_json(const mlff_model *m, const double *e0, double scale, const mlff_summary *s,
                        const char *teacher);

#endif
