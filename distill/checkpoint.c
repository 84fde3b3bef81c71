/* checkpoint.c — mlff_train's checkpoint (train.h; docs/file_format.md, "Training checkpoint"):
 * a model file (the best model so far, as `--checkpoint` always wrote) plus a /checkpoint group
 * with the state that continuing the run needs. An extension of the model file rather than a
 * format of its own: model readers ignore groups they do not know, so the checkpoint stays
 * usable wherever a model is (`mlff info`, `mlff eval`, `--init`), and one file is one run.
 *
 * Written atomically: the model to PATH.tmp<pid> (mlff_model_save), the group added to it,
 * then fsync and rename over PATH (h5_commit_temp): a kill at any moment leaves the previous
 * checkpoint or the new one, never a half-written file under PATH. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5util.h"
#include "train.h"

#define CK_FORMAT "mlff-train-checkpoint"
#define CK_VERSION 1

/* ---- writing ------------------------------------------------------------------------------- */

typedef struct {
  hid_t g, gcpl, dcpl;
  const char *failed; /* the first thing HDF5 could not write */
} ck_writer;

static void put_attr(ck_writer *w, const char *name, hid_t type, const void *v) {
  if (w->failed) return;
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(w->g, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0 || H5Awrite(a, type, v) < 0) w->failed = name;
  if (a >= 0) H5Aclose(a);
  H5Sclose(sp);
}

static void put_string_attr(ck_writer *w, const char *name, const char *v) {
  if (w->failed) return;
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, strlen(v) + 1);
  H5Tset_strpad(type, H5T_STR_NULLTERM);
  put_attr(w, name, type, v);
  H5Tclose(type);
}

static void put_array(ck_writer *w, const char *name, hid_t type, size_t n, const void *v) {
  if (w->failed) return;
  hsize_t dims[1] = {n};
  hid_t sp = H5Screate_simple(1, dims, NULL);
  hid_t d = H5Dcreate2(w->g, name, type, sp, H5P_DEFAULT, w->dcpl, H5P_DEFAULT);
  if (d < 0 || (n && H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0)) w->failed = name;
  if (d >= 0) H5Dclose(d);
  H5Sclose(sp);
}

/* The history as a 1-D char dataset: it grows with the epochs past the 64 KiB of an attribute
 * in compact storage. */
static void put_text(ck_writer *w, const char *name, const char *v) {
  put_array(w, name, H5T_NATIVE_CHAR, strlen(v), v);
}

mlff_status mlff_checkpoint_write(const char *path, const mlff_model *m, const char *run,
                                  const mlff_checkpoint_state *s) {
  char *tmp = h5_temp_path(path);
  if (!tmp) return mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
  mlff_status st = mlff_model_save(m, tmp);
  if (st) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", mlff_last_error());
    free(tmp);
    return mlff_set_error(st, "cannot write checkpoint file '%s': %s", path, msg);
  }
  h5_quiet q;
  h5_quiet_begin(&q);
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18); /* as the model's own objects */
  ck_writer w = {-1, H5Pcreate(H5P_GROUP_CREATE), H5Pcreate(H5P_DATASET_CREATE), NULL};
  H5Pset_obj_track_times(w.gcpl, 0); /* no time stamps, as in models and datasets */
  H5Pset_obj_track_times(w.dcpl, 0);
  hid_t file = H5Fopen(tmp, H5F_ACC_RDWR, fapl);
  if (file < 0)
    w.failed = "(opening the model just written)";
  else if ((w.g = H5Gcreate2(file, "/checkpoint", H5P_DEFAULT, w.gcpl, H5P_DEFAULT)) < 0)
    w.failed = "/checkpoint";
  const int32_t version = CK_VERSION,
                ints[4] = {s->epoch, s->best_epoch, s->since_best, s->since_decay};
  const int64_t steps = s->steps;
  put_string_attr(&w, "format", CK_FORMAT);
  put_attr(&w, "format_version", H5T_NATIVE_INT32, &version);
  put_string_attr(&w, "run", run);
  put_attr(&w, "epoch", H5T_NATIVE_INT32, &ints[0]);
  put_attr(&w, "best_epoch", H5T_NATIVE_INT32, &ints[1]);
  put_attr(&w, "since_best", H5T_NATIVE_INT32, &ints[2]);
  put_attr(&w, "since_decay", H5T_NATIVE_INT32, &ints[3]);
  put_attr(&w, "steps", H5T_NATIVE_INT64, &steps);
  put_attr(&w, "rng_epoch", H5T_NATIVE_UINT64, &s->rng_epoch);
  put_attr(&w, "lr", H5T_NATIVE_DOUBLE, &s->lr);
  put_attr(&w, "adam_beta1_power", H5T_NATIVE_DOUBLE, &s->b1t);
  put_attr(&w, "adam_beta2_power", H5T_NATIVE_DOUBLE, &s->b2t);
  put_attr(&w, "best_loss", H5T_NATIVE_DOUBLE, &s->best_loss);
  put_attr(&w, "best_energy_mae", H5T_NATIVE_DOUBLE, &s->best_emae);
  put_attr(&w, "best_force_mae", H5T_NATIVE_DOUBLE, &s->best_fmae);
  put_attr(&w, "last_train_loss", H5T_NATIVE_DOUBLE, &s->last_train_loss);
  put_attr(&w, "elapsed_s", H5T_NATIVE_DOUBLE, &s->elapsed_s);
  put_attr(&w, "train_s", H5T_NATIVE_DOUBLE, &s->train_s);
  put_array(&w, "theta", H5T_NATIVE_DOUBLE, s->P, s->theta);
  put_array(&w, "adam_m", H5T_NATIVE_DOUBLE, s->P, s->adam_m);
  put_array(&w, "adam_v", H5T_NATIVE_DOUBLE, s->P, s->adam_v);
  put_array(&w, "best_theta", H5T_NATIVE_DOUBLE, s->P, s->best);
  put_array(&w, "order", H5T_NATIVE_INT, (size_t)s->n_train, s->perm);
  put_text(&w, "history", s->history ? s->history : "");
  if (w.g >= 0) H5Gclose(w.g);
  if (file >= 0 && H5Fclose(file) < 0 && !w.failed) w.failed = "(closing the file)";
  H5Pclose(w.gcpl);
  H5Pclose(w.dcpl);
  H5Pclose(fapl);
  h5_quiet_end(&q);
  const char *step = NULL;
  if (w.failed)
    st = mlff_set_error(MLFF_ERR_IO,
                        "cannot write checkpoint file '%s': HDF5 failed writing /checkpoint/%s "
                        "(disk full?)",
                        path, w.failed);
  else if (h5_commit_temp(tmp, path, &step) != 0)
    st = mlff_set_error(MLFF_ERR_IO, "cannot write checkpoint file '%s': %s ('%s') failed: %s",
                        path, step, tmp, strerror(errno));
  if (st) remove(tmp);
  free(tmp);
  return st;
}

/* ---- reading ------------------------------------------------------------------------------- */

typedef struct {
  h5_reader r;
  hid_t g;
} ck_reader;

#define CK_FIX "give another --checkpoint file, or remove it to start afresh"

static mlff_status get_attr(ck_reader *c, const char *name, hid_t type, void *v) {
  if (H5Aexists(c->g, name) <= 0)
    return h5_fail(&c->r, MLFF_ERR_FORMAT, "attribute /checkpoint/%s is missing; " CK_FIX, name);
  hid_t a = H5Aopen(c->g, name, H5P_DEFAULT), sp = a >= 0 ? H5Aget_space(a) : -1;
  int ok = a >= 0 && sp >= 0 && H5Sget_simple_extent_npoints(sp) == 1 && H5Aread(a, type, v) >= 0;
  h5_close(&sp, H5Sclose);
  h5_close(&a, H5Aclose);
  return ok ? MLFF_OK
            : h5_fail(&c->r, MLFF_ERR_FORMAT,
                      "attribute /checkpoint/%s is not a single number; " CK_FIX, name);
}

static mlff_status get_string_attr(ck_reader *c, const char *name, char **out) {
  *out = NULL;
  if (H5Aexists(c->g, name) <= 0)
    return h5_fail(&c->r, MLFF_ERR_FORMAT, "attribute /checkpoint/%s is missing; " CK_FIX, name);
  hid_t a = H5Aopen(c->g, name, H5P_DEFAULT), type = a >= 0 ? H5Aget_type(a) : -1;
  hid_t sp = a >= 0 ? H5Aget_space(a) : -1;
  int ok = type >= 0 && H5Tget_class(type) == H5T_STRING && sp >= 0 &&
           H5Sget_simple_extent_npoints(sp) == 1 && h5_read_strings(a, h5_read_attr, type, 1, out);
  h5_close(&sp, H5Sclose);
  h5_close(&type, H5Tclose);
  h5_close(&a, H5Aclose);
  return ok ? MLFF_OK
            : h5_fail(&c->r, MLFF_ERR_FORMAT, "attribute /checkpoint/%s is not a string; " CK_FIX,
                      name);
}

/* 1-D dataset of n values (n < 0: any length, allocated into *alloc with a final 0 byte). */
static mlff_status get_array(ck_reader *c, const char *name, hid_t type, long n, void *v,
                             char **alloc) {
  char path[64];
  snprintf(path, sizeof path, "/checkpoint/%s", name);
  if (!h5_path_exists(c->r.file, path))
    return h5_fail(&c->r, MLFF_ERR_FORMAT, "dataset %s is missing; " CK_FIX, path);
  hid_t d = H5Dopen2(c->r.file, path, H5P_DEFAULT), sp = d >= 0 ? H5Dget_space(d) : -1;
  hsize_t dims[1] = {0};
  int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
  if (rank == 1) H5Sget_simple_extent_dims(sp, dims, NULL);
  mlff_status st = MLFF_OK;
  if (rank != 1 || (n >= 0 && dims[0] != (hsize_t)n)) {
    char shape[64];
    hsize_t all[8];
    if (rank > 0 && rank <= 8) H5Sget_simple_extent_dims(sp, all, NULL);
    h5_shape_str(shape, sizeof shape, rank > 0 && rank <= 8 ? rank : 0, all);
    st = h5_fail(&c->r, MLFF_ERR_FORMAT,
                 "dataset %s has shape %s, but this run has [%ld] (%s); " CK_FIX, path, shape, n,
                 !strcmp(name, "order") ? "training structures" : "parameters");
  } else if (h5_unwritten(d)) {
    st = h5_fail(&c->r, MLFF_ERR_FORMAT,
                 "dataset %s declares values the file does not hold; " CK_FIX, path);
  } else {
    if (n < 0 && !(v = *alloc = calloc(dims[0] + 1, 1)))
      st = mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
    else if (dims[0] && H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0)
      st = h5_fail(&c->r, MLFF_ERR_FORMAT, "dataset %s cannot be read as %s; " CK_FIX, path,
                   n < 0 ? "text" : "numbers");
  }
  h5_close(&sp, H5Sclose);
  h5_close(&d, H5Dclose);
  return st;
}

/* The first "; "-separated field ("key value") of run a that b lacks or has otherwise: the
 * field's key into key, a's and b's values into va and vb. */
static void first_difference(const char *a, const char *b, char *key, char *va, char *vb,
                             size_t size) {
  snprintf(key, size, "(the whole description)");
  snprintf(va, size, "%s", a);
  snprintf(vb, size, "%s", b);
  for (const char *p = a; *p;) {
    const char *e = strstr(p, "; ");
    size_t n = e ? (size_t)(e - p) : strlen(p);
    const char *sp = memchr(p, ' ', n);
    size_t kn = sp ? (size_t)(sp - p) : n;
    /* the same key in b */
    const char *q = b, *found = NULL;
    size_t fn = 0;
    while (*q) {
      const char *f = strstr(q, "; ");
      size_t m = f ? (size_t)(f - q) : strlen(q);
      if (m >= kn && !strncmp(q, p, kn) && (m == kn || q[kn] == ' ')) {
        found = q;
        fn = m;
        break;
      }
      q += m + (f ? 2 : 0);
    }
    if (!found || fn != n || strncmp(found, p, n)) {
      snprintf(key, size, "%.*s", (int)kn, p);
      snprintf(va, size, "%.*s", (int)(n - kn - (sp ? 1 : 0)), p + kn + (sp ? 1 : 0));
      if (found)
        snprintf(vb, size, "%.*s", (int)(fn - kn - (fn > kn ? 1 : 0)), found + kn + (fn > kn));
      else
        snprintf(vb, size, "(none)");
      return;
    }
    p += n + (e ? 2 : 0);
  }
}

mlff_status mlff_checkpoint_read(const char *path, const char *run, mlff_checkpoint_state *s,
                                 int *found) {
  *found = 0;
  s->history = NULL;
  if (access(path, F_OK) != 0) {
    if (errno == ENOENT) return MLFF_OK;
    return mlff_set_error(MLFF_ERR_IO, "cannot read checkpoint file '%s': %s", path,
                          strerror(errno));
  }
  *found = 1;
  h5_quiet q;
  h5_quiet_begin(&q);
  ck_reader c = {{"checkpoint file", path, -1}, -1};
  char *fmt = NULL, *theirs = NULL, *hist = NULL;
  mlff_status st = MLFF_OK;
  int32_t version = 0, ints[4] = {0};
  int64_t steps = 0;
  if ((c.r.file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
    st = h5_fail(&c.r, MLFF_ERR_FORMAT,
                 "it exists but is not an HDF5 file (or is damaged), so this run cannot resume "
                 "from it; " CK_FIX);
    goto out;
  }
  if (!h5_path_exists(c.r.file, "/checkpoint")) {
    st = h5_fail(&c.r, MLFF_ERR_FORMAT,
                 "it holds no training state (no /checkpoint group): a model, or the checkpoint "
                 "of an mlff that could not resume; " CK_FIX);
    goto out;
  }
  if ((c.g = H5Gopen2(c.r.file, "/checkpoint", H5P_DEFAULT)) < 0) {
    st = h5_fail(&c.r, MLFF_ERR_FORMAT, "/checkpoint is not a group; " CK_FIX);
    goto out;
  }
  if ((st = get_string_attr(&c, "format", &fmt))) goto out;
  if (strcmp(fmt, CK_FORMAT)) {
    st = h5_fail(&c.r, MLFF_ERR_FORMAT,
                 "attribute /checkpoint/format is '%s', not '" CK_FORMAT "'; " CK_FIX, fmt);
    goto out;
  }
  if ((st = get_attr(&c, "format_version", H5T_NATIVE_INT32, &version))) goto out;
  if (version < 1 || version > CK_VERSION) {
    st = h5_fail(&c.r, MLFF_ERR_FORMAT,
                 "/checkpoint format_version %d, but this mlff reads version %d; " CK_FIX,
                 (int)version, CK_VERSION);
    goto out;
  }
  if ((st = get_string_attr(&c, "run", &theirs))) goto out;
  if (strcmp(theirs, run)) {
    char key[512], va[512], vb[512];
    first_difference(run, theirs, key, vb, va, sizeof key);
    st = h5_fail(&c.r, MLFF_ERR_ARGUMENT,
                 "it is the checkpoint of another run: its %s is %s, this run's is %s; rerun "
                 "with the arguments and dataset that made it to resume, or " CK_FIX,
                 key, va, vb);
    goto out;
  }
  if ((st = get_attr(&c, "epoch", H5T_NATIVE_INT32, &ints[0])) ||
      (st = get_attr(&c, "best_epoch", H5T_NATIVE_INT32, &ints[1])) ||
      (st = get_attr(&c, "since_best", H5T_NATIVE_INT32, &ints[2])) ||
      (st = get_attr(&c, "since_decay", H5T_NATIVE_INT32, &ints[3])) ||
      (st = get_attr(&c, "steps", H5T_NATIVE_INT64, &steps)) ||
      (st = get_attr(&c, "rng_epoch", H5T_NATIVE_UINT64, &s->rng_epoch)) ||
      (st = get_attr(&c, "lr", H5T_NATIVE_DOUBLE, &s->lr)) ||
      (st = get_attr(&c, "adam_beta1_power", H5T_NATIVE_DOUBLE, &s->b1t)) ||
      (st = get_attr(&c, "adam_beta2_power", H5T_NATIVE_DOUBLE, &s->b2t)) ||
      (st = get_attr(&c, "best_loss", H5T_NATIVE_DOUBLE, &s->best_loss)) ||
      (st = get_attr(&c, "best_energy_mae", H5T_NATIVE_DOUBLE, &s->best_emae)) ||
      (st = get_attr(&c, "best_force_mae", H5T_NATIVE_DOUBLE, &s->best_fmae)) ||
      (st = get_attr(&c, "last_train_loss", H5T_NATIVE_DOUBLE, &s->last_train_loss)) ||
      (st = get_attr(&c, "elapsed_s", H5T_NATIVE_DOUBLE, &s->elapsed_s)) ||
      (st = get_attr(&c, "train_s", H5T_NATIVE_DOUBLE, &s->train_s)))
    goto out;
  s->epoch = ints[0];
  s->best_epoch = ints[1];
  s->since_best = ints[2];
  s->since_decay = ints[3];
  s->steps = (long)steps;
  /* counters consistent with each other, numbers in range: a damaged file is refused here, not
   * trained on */
  const char *bad = NULL;
  if (s->epoch < 1)
    bad = "epoch";
  else if (s->best_epoch < 1 || s->best_epoch > s->epoch)
    bad = "best_epoch";
  else if (s->since_best != s->epoch - s->best_epoch)
    bad = "since_best";
  else if (s->since_decay < 0 || s->since_decay > s->since_best)
    bad = "since_decay";
  else if (s->steps < s->epoch)
    bad = "steps";
  else if (!(s->lr > 0) || !isfinite(s->lr))
    bad = "lr";
  else if (!(s->b1t > 0 && s->b1t < 1))
    bad = "adam_beta1_power";
  else if (!(s->b2t > 0 && s->b2t < 1))
    bad = "adam_beta2_power";
  else if (!isfinite(s->best_loss) || s->best_loss < 0)
    bad = "best_loss";
  else if (!(s->elapsed_s >= 0) || !(s->train_s >= 0))
    bad = "elapsed_s";
  if (bad) {
    st = h5_fail(&c.r, MLFF_ERR_FORMAT,
                 "attribute /checkpoint/%s is out of range (epoch %d, best_epoch %d, since_best "
                 "%d, since_decay %d, steps %ld, lr %g); " CK_FIX,
                 bad, s->epoch, s->best_epoch, s->since_best, s->since_decay, s->steps, s->lr);
    goto out;
  }
  if ((st = get_array(&c, "theta", H5T_NATIVE_DOUBLE, (long)s->P, s->theta, NULL)) ||
      (st = get_array(&c, "adam_m", H5T_NATIVE_DOUBLE, (long)s->P, s->adam_m, NULL)) ||
      (st = get_array(&c, "adam_v", H5T_NATIVE_DOUBLE, (long)s->P, s->adam_v, NULL)) ||
      (st = get_array(&c, "best_theta", H5T_NATIVE_DOUBLE, (long)s->P, s->best, NULL)) ||
      (st = get_array(&c, "order", H5T_NATIVE_INT, s->n_train, s->perm, NULL)) ||
      (st = get_array(&c, "history", H5T_NATIVE_CHAR, -1, NULL, &hist)))
    goto out;
  for (size_t p = 0; p < s->P; p++)
    if (!isfinite(s->theta[p]) || !isfinite(s->adam_m[p]) || !(s->adam_v[p] >= 0) ||
        !isfinite(s->adam_v[p]) || !isfinite(s->best[p])) {
      st = h5_fail(&c.r, MLFF_ERR_FORMAT,
                   "parameter %zu of /checkpoint/theta, adam_m, adam_v or best_theta is not "
                   "finite (or a negative second moment); " CK_FIX,
                   p);
      goto out;
    }
  /* the order must be a permutation of the training structures */
  char *seen = calloc((size_t)s->n_train + 1, 1);
  if (!seen) {
    st = mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
    goto out;
  }
  for (int i = 0; i < s->n_train && !st; i++) {
    int k = s->perm[i];
    if (k < 0 || k >= s->n_train || seen[k])
      st = h5_fail(&c.r, MLFF_ERR_FORMAT,
                   "/checkpoint/order is not an order of the %d training structures (entry %d "
                   "is %d); " CK_FIX,
                   s->n_train, i, k);
    else
      seen[k] = 1;
  }
  free(seen);
  if (!st) {
    s->history = hist;
    hist = NULL;
  }
out:
  free(fmt);
  free(theirs);
  free(hist);
  h5_close(&c.g, H5Gclose);
  h5_close(&c.r.file, H5Fclose);
  h5_quiet_end(&q);
  return st;
}
