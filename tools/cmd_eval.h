/* cmd_eval.h — what the two halves of `mlff eval` share: cmd_eval.c (arguments, errors against a
 * dataset) and cmd_eval_freq.c (--freq, harmonic frequencies). */
#ifndef MLFF_CMD_EVAL_H
#define MLFF_CMD_EVAL_H

#include <stdio.h>

#include "cli.h"

#define BOND_CUTOFF 1.6 /* Å, molecules of a cluster */

typedef struct {
  const char *model_path, *data_path, *json_path, *split, *sources, *freq_path, *pred_path;
  long long worst, threads;
  int interaction;
  mlff_device device; /* --device (default cpu) */
  int fp16;           /* --fp16 */
} options;

/* "mlff eval: MSG" on stderr; returns 1. */
int fail_msg(const char *msg);
/* JSON pieces: a string, a number (null when not finite), an indented key and its colon. */
void jstr(FILE *f, const char *s);
void jnum(FILE *f, double v);
void jkey(FILE *f, const char *indent, const char *key);
/* The student's calculator on the device and precision asked for: 0, or 1 after printing why. */
int make_calc(const mlff_model *m, const options *o, mlff_calc **calc);

/* --freq: MODEL and a molecule (o->freq_path); the exit status. */
int eval_freq(const options *o);

#endif
