/* summary.c — the training summary, written (mlff_summary_json, for mlff_train) and read
 * (mlff_training_split, for `mlff eval` and users) in one place. The reader scans only what the
 * writer writes: a "split" object of integer lists, found at any depth. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "summary.h"

/* A growing string (JSON). On allocation failure it stops growing and remembers it. */

void mlff_sb_printf(mlff_sbuf *b, const char *fmt, ...) {
  if (b->failed) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
    va_end(ap);
    if (k < 0) {
      b->failed = 1;
      return;
    }
    if (b->s && b->n + (size_t)k < b->cap) {
      b->n += k;
      return;
    }
    size_t cap = (b->cap + k + 1) * 2;
    char *p = realloc(b->s, cap);
    if (!p) {
      b->failed = 1;
      return;
    }
    b->s = p;
    b->cap = cap;
  }
}

static void sb_json_string(mlff_sbuf *b, const char *s) {
  mlff_sb_printf(b, "\"");
  for (; s && *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      mlff_sb_printf(b, "\\%c", c);
    else if (c < 0x20)
      mlff_sb_printf(b, "\\u%04x", c);
    else
      mlff_sb_printf(b, "%c", c);
  }
  mlff_sb_printf(b, "\"");
}

static void sb_json_ints(mlff_sbuf *b, const int *v, int n) {
  mlff_sb_printf(b, "[");
  for (int i = 0; i < n; i++) mlff_sb_printf(b, i ? ",%d" : "%d", v[i]);
  mlff_sb_printf(b, "]");
}

char *mlff_summary_json(const mlff_model *m, const double *e0, double scale, const mlff_summary *s,
                        const char *teacher) {
  const mlff_train_options *o = s->o;
  mlff_sbuf b = {0};
  mlff_sb_printf(&b,
                 "{\"trainer\":\"mlff %s train (aev-mlp, Adam, analytic force-loss gradients)\"",
                 MLFF_VERSION_STRING);
  mlff_sb_printf(&b,
                 ",\"loss\":\"w_energy*mean_s((dE_s/N_s)^2) + w_forces*mean_atoms(|dF_a|^2); eV, "
                 "Angstrom\"");
  mlff_sb_printf(&b,
                 ",\"options\":{\"w_energy\":%.9g,\"w_forces\":%.9g,\"max_epochs\":%d,"
                 "\"time_limit_s\":%.9g,\"batch_size\":%d,\"lr\":%.9g,\"lr_min\":%.9g,"
                 "\"patience\":%d,\"valid_fraction\":%.9g,\"test_fraction\":%.9g,"
                 "\"test_sources\":",
                 o->w_energy, o->w_forces, o->max_epochs, o->time_limit_s, o->batch_size, o->lr,
                 o->lr_min, o->patience, o->valid_fraction, o->test_fraction);
  sb_json_string(&b, s->test_sources ? s->test_sources : "");
  mlff_sb_printf(&b, ",\"seed\":%llu,\"threads\":%d}", (unsigned long long)o->seed, s->n_threads);
  mlff_sb_printf(&b, ",\"start\":\"%s\"",
                 s->fresh ? "fresh (e0 fitted, normalisation from the "
                            "training set)"
                          : "continued from a trained model (e0, scale kept)");
  mlff_sb_printf(&b,
                 ",\"dataset\":{\"structures\":%d,\"train\":%d,\"valid\":%d,\"test\":%d,"
                 "\"teacher\":",
                 s->N, s->n_train, s->n_valid, s->n_test);
  sb_json_string(&b, teacher);
  mlff_sb_printf(&b, "}");
  mlff_sb_printf(&b, ",\"split\":{\"train\":");
  sb_json_ints(&b, s->train, s->n_train);
  mlff_sb_printf(&b, ",\"valid\":");
  sb_json_ints(&b, s->valid, s->n_valid);
  mlff_sb_printf(&b, ",\"test\":");
  sb_json_ints(&b, s->test, s->n_test);
  mlff_sb_printf(&b, "}");
  mlff_sb_printf(&b, ",\"e0\":{");
  for (int e = 0; e < m->n_elements; e++)
    mlff_sb_printf(&b, "%s\"%s\":%.12g", e ? "," : "", m->elements[e], e0[e]);
  mlff_sb_printf(&b, "},\"scale\":%.12g", scale);
  mlff_sb_printf(&b,
                 ",\"precomputed\":{\"training_atoms_and_validation_atoms\":%ld,"
                 "\"jacobian_bytes\":%zu,\"total_bytes\":%zu,\"seconds\":%.3f}",
                 s->atoms, s->jac_bytes, s->bytes, s->precompute_s);
  mlff_sb_printf(&b, ",\"epochs\":%d,\"steps\":%ld,\"stop\":\"%s\",\"best_epoch\":%d", s->epochs,
                 s->steps, s->stop, s->best_epoch);
  mlff_sb_printf(&b,
                 ",\"best_valid\":{\"loss\":%.9g,\"energy_mae_meV_per_atom\":%.6g,"
                 "\"force_mae_meV_per_A\":%.6g}",
                 s->best_loss, 1e3 * s->best_emae, 1e3 * s->best_fmae);
  mlff_sb_printf(&b, ",\"last_train_loss\":%.9g", s->last_train_loss);
  if (s->have_test)
    mlff_sb_printf(&b,
                   ",\"test\":{\"structures\":%d,\"energy_mae_meV_per_atom\":%.6g,"
                   "\"force_mae_meV_per_A\":%.6g,\"force_rmse_meV_per_A\":%.6g}",
                   s->n_test, 1e3 * s->test_emae, 1e3 * s->test_fmae, 1e3 * s->test_frmse);
  mlff_sb_printf(&b,
                 ",\"history\":{\"columns\":[\"epoch\",\"train_loss\",\"valid_loss\","
                 "\"valid_energy_mae_meV_per_atom\",\"valid_force_mae_meV_per_A\",\"lr\"],"
                 "\"rows\":[%s]}",
                 s->hist.s ? s->hist.s : "");
  if (s->n_members > 1)
    mlff_sb_printf(&b, ",\"committee\":{\"members\":%d,\"each\":[%s]}", s->n_members,
                   s->members.s ? s->members.s : "");
  mlff_sb_printf(&b, ",\"train_time_s\":%.3f}", s->train_s);
  if (b.failed) {
    free(b.s);
    return NULL;
  }
  return b.s;
}

/* ---- reading the split back (minimal JSON scanning) ---------------------------------------- */

static const char *skip_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  return p;
}

/* End of the string token starting at p (p points at '"'): the character after the closing quote.
 */
static const char *skip_string(const char *p, const char *end) {
  for (p++; p < end; p++) {
    if (*p == '\\')
      p++;
    else if (*p == '"')
      return p + 1;
  }
  return end;
}

/* Value of the first object key equal to `key` in [s, end) at any depth (a string token followed
 * by ':'), or NULL. */
static const char *json_key(const char *s, const char *end, const char *key) {
  size_t kl = strlen(key);
  for (const char *p = s; p < end;) {
    if (*p != '"') {
      p++;
      continue;
    }
    const char *q = skip_string(p, end);
    const char *c = skip_ws(q, end);
    if (c < end && *c == ':' && (size_t)(q - p) == kl + 2 && !strncmp(p + 1, key, kl))
      return skip_ws(c + 1, end);
    p = q;
  }
  return NULL;
}

/* End of the object or array starting at p ('{' or '['), or NULL if unbalanced. */
static const char *skip_container(const char *p, const char *end) {
  int depth = 0;
  while (p < end) {
    if (*p == '"') {
      p = skip_string(p, end);
      continue;
    }
    if (*p == '{' || *p == '[')
      depth++;
    else if (*p == '}' || *p == ']') {
      if (--depth == 0) return p + 1;
    }
    p++;
  }
  return NULL;
}

/* Read the integer list at p ('[' ...). Returns 0 and a malloc'd array (possibly empty), or -1
 * when malformed. */
static int parse_int_list(const char *p, const char *end, int **out, int *count) {
  *out = NULL;
  *count = 0;
  if (p >= end || *p != '[') return -1;
  int cap = 0;
  p = skip_ws(p + 1, end);
  if (p < end && *p == ']') return 0;
  for (;;) {
    char *e;
    long v = strtol(p, &e, 10);
    if (e == p || e > end || v < 0 || v > 2000000000L) break;
    if (*count == cap) {
      cap = cap ? 2 * cap : 64;
      int *t = realloc(*out, (size_t)cap * sizeof *t);
      if (!t) break;
      *out = t;
    }
    (*out)[(*count)++] = (int)v;
    p = skip_ws(e, end);
    if (p < end && *p == ']') return 0;
    if (p >= end || *p != ',') break;
    p = skip_ws(p + 1, end);
  }
  free(*out);
  *out = NULL;
  *count = 0;
  return -1;
}

mlff_status mlff_training_split(const mlff_model *m, const char *part, int *recorded, int **indices,
                                int *n) {
  *recorded = 0;
  *indices = NULL;
  *n = 0;
  if (!m || !part || (strcmp(part, "train") && strcmp(part, "valid") && strcmp(part, "test")))
    return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_training_split: part must be \"train\", "
                                             "\"valid\" or \"test\"");
  const char *summary = mlff_model_attr(m, "training_summary");
  const char *end = summary + strlen(summary);
  const char *v = json_key(summary, end, "split");
  if (!v) return MLFF_OK;
  if (v >= end || *v != '{')
    return mlff_set_error(MLFF_ERR_FORMAT,
                          "the model's training_summary has a \"split\" that is not an object");
  const char *vend = skip_container(v, end);
  if (!vend)
    return mlff_set_error(MLFF_ERR_FORMAT,
                          "the model's training_summary is not valid JSON (unbalanced \"split\")");
  const char *aliases[3] = {part, NULL, NULL};
  if (!strcmp(part, "valid")) aliases[1] = "validation", aliases[2] = "val";
  const char *list = NULL;
  for (int k = 0; k < 3 && aliases[k] && !list; k++) list = json_key(v + 1, vend, aliases[k]);
  if (!list)
    return mlff_set_error(MLFF_ERR_FORMAT,
                          "the split in the model's training_summary has no \"%s\" list", part);
  if (parse_int_list(list, vend, indices, n))
    return mlff_set_error(MLFF_ERR_FORMAT,
                          "the \"%s\" entry of the split in the model's training_summary is not "
                          "a list of structure indices",
                          part);
  *recorded = 1;
  return MLFF_OK;
}
