/* model_io.c — model files: mlff_model_load and mlff_model_save with libhdf5, schema v1 of
 * docs/file_format.md. The reader trusts nothing in the file: every field is checked, and every refusal
 * names the file and the field and says what to do. libhdf5's own error-stack printing is
 * switched off for the duration of our calls (and restored) so users see only our message.
 * The writer produces byte-reproducible files: no object timestamps, attributes in a fixed
 * order, so saving a loaded model again gives the same bytes. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>

#include "dispersion.h"
#include "electrostatics.h"
#include "h5util.h"
#include "internal.h"

/* Layer shapes beyond these are not a model but a corrupt header; refuse before allocating. */
#define MAX_DIM (1 << 24)
#define MAX_LAYER_VALUES ((hsize_t)1 << 28)

/* Root attributes with a fixed meaning; every other string attribute is free-form metadata. */
static const char *const RESERVED[] = {"format", "format_version", "arch", "elements",
                                       "activation"};

static int is_reserved(const char *name) {
  for (size_t i = 0; i < sizeof RESERVED / sizeof *RESERVED; i++)
    if (!strcmp(name, RESERVED[i])) return 1;
  return 0;
}

/* ---- reader ---------------------------------------------------------------------------- */

static const char *FIX_HINT = "re-export the model with mlff_model_save (or `mlff train`)";

/* Open attribute `name` of object `obj` (an absolute path, for messages) at loc. */
static mlff_status open_attr(const h5_reader *r, hid_t loc, const char *obj, const char *name,
                             hid_t *a) {
  *a = -1;
  if (H5Aexists(loc, name) <= 0)
    return h5_fail(r, MLFF_ERR_FORMAT, "attribute '%s' of %s is missing; the file is incomplete "
                   "or not written by mlff: %s", name, obj, FIX_HINT);
  if ((*a = H5Aopen(loc, name, H5P_DEFAULT)) < 0)
    return h5_fail(r, MLFF_ERR_IO, "cannot read attribute '%s' of %s (corrupt file?)", name, obj);
  return MLFF_OK;
}

/* Strings of attribute `name`: exactly one (want_n == 1, out[0]) or 1..max_n (n_out). */
static mlff_status attr_strings(const h5_reader *r, hid_t loc, const char *obj, const char *name,
                                char **out, int max_n, int *n_out) {
  hid_t a, t = -1, sp = -1;
  mlff_status st = open_attr(r, loc, obj, name, &a);
  if (st) return st;
  t = H5Aget_type(a);
  sp = H5Aget_space(a);
  hssize_t n = H5Sget_simple_extent_npoints(sp);
  if (H5Tget_class(t) != H5T_STRING)
    st = h5_fail(r, MLFF_ERR_FORMAT, "attribute '%s' of %s is %s, expected a string", name, obj,
                 h5_class_name(H5Tget_class(t)));
  else if (!n_out && n != 1)
    st = h5_fail(r, MLFF_ERR_FORMAT, "attribute '%s' of %s holds %lld strings, expected one",
                 name, obj, (long long)n);
  else if (n_out && (n < 1 || n > max_n))
    st = h5_fail(r, MLFF_ERR_FORMAT, "attribute '%s' of %s holds %lld strings; 1..%d supported",
                 name, obj, (long long)n, max_n);
  else if (!h5_read_strings(a, h5_read_attr, t, (size_t)n, out))
    st = h5_fail(r, MLFF_ERR_IO, "cannot read attribute '%s' of %s (corrupt file?)", name, obj);
  else if (n_out)
    *n_out = (int)n;
  h5_close(&sp, H5Sclose);
  h5_close(&t, H5Tclose);
  h5_close(&a, H5Aclose);
  return st;
}

/* A scalar string attribute into a fixed buffer (for short, fixed-vocabulary values). */
static mlff_status attr_word(const h5_reader *r, hid_t loc, const char *obj, const char *name,
                             char *buf, size_t size) {
  char *s = NULL;
  mlff_status st = attr_strings(r, loc, obj, name, &s, 1, NULL);
  if (st) return st;
  snprintf(buf, size, "%s", s);
  free(s);
  return MLFF_OK;
}

/* Numeric attribute: a scalar (n_out NULL; shape () or (1)) or a 1-D array of 1..max_n values
 * (max_what names the limit for the message). Values must be finite. */
static mlff_status attr_doubles(const h5_reader *r, hid_t loc, const char *obj, const char *name,
                                double *v, int max_n, const char *max_what, int *n_out) {
  hid_t a, t = -1, sp = -1;
  mlff_status st = open_attr(r, loc, obj, name, &a);
  if (st) return st;
  t = H5Aget_type(a);
  sp = H5Aget_space(a);
  hssize_t n = H5Sget_simple_extent_npoints(sp);
  H5T_class_t c = H5Tget_class(t);
  double *buf = NULL;
  if (c != H5T_FLOAT && c != H5T_INTEGER)
    st = h5_fail(r, MLFF_ERR_FORMAT, "attribute '%s' of %s is %s, expected a number", name, obj,
                 h5_class_name(c));
  else if (!n_out && n != 1)
    st = h5_fail(r, MLFF_ERR_FORMAT, "attribute '%s' of %s holds %lld values, expected one number",
                 name, obj, (long long)n);
  else if (n_out && n < 1)
    st = h5_fail(r, MLFF_ERR_FORMAT, "attribute '%s' of %s is empty; %s", name, obj, FIX_HINT);
  else if (n_out && n > max_n)
    st = h5_fail(r, MLFF_ERR_FORMAT,
                 "attribute '%s' of %s holds %lld values; this libmlff supports at most %d (%s): "
                 "upgrade mlff or use a smaller descriptor", name, obj, (long long)n, max_n,
                 max_what);
  else if (!(buf = malloc((size_t)n * sizeof *buf)))
    st = mlff_set_error(MLFF_ERR_NOMEM, "out of memory reading '%s'", r->path);
  else if (H5Aread(a, H5T_NATIVE_DOUBLE, buf) < 0)
    st = h5_fail(r, MLFF_ERR_IO, "cannot read attribute '%s' of %s (corrupt file?)", name, obj);
  else {
    for (hssize_t i = 0; i < n && !st; i++)
      if (!isfinite(buf[i]))
        st = h5_fail(r, MLFF_ERR_FORMAT, "attribute '%s' of %s has a non-finite value (%g) at "
                     "index %lld: %s", name, obj, buf[i], (long long)i, FIX_HINT);
    if (!st) {
      memcpy(v, buf, (size_t)n * sizeof *buf);
      if (n_out) *n_out = (int)n;
    }
  }
  free(buf);
  h5_close(&sp, H5Sclose);
  h5_close(&t, H5Tclose);
  h5_close(&a, H5Aclose);
  return st;
}

static mlff_status attr_int(const h5_reader *r, hid_t loc, const char *obj, const char *name,
                            long long *v) {
  hid_t a, t = -1;
  mlff_status st = open_attr(r, loc, obj, name, &a);
  if (st) return st;
  t = H5Aget_type(a);
  hid_t sp = H5Aget_space(a);
  if (H5Tget_class(t) != H5T_INTEGER)
    st = h5_fail(r, MLFF_ERR_FORMAT, "attribute '%s' of %s is %s, expected an integer", name, obj,
                 h5_class_name(H5Tget_class(t)));
  else if (H5Sget_simple_extent_npoints(sp) != 1)
    st = h5_fail(r, MLFF_ERR_FORMAT, "attribute '%s' of %s is an array, expected one integer",
                 name, obj);
  else if (H5Aread(a, H5T_NATIVE_LLONG, v) < 0)
    st = h5_fail(r, MLFF_ERR_IO, "cannot read attribute '%s' of %s (corrupt file?)", name, obj);
  h5_close(&sp, H5Sclose);
  h5_close(&t, H5Tclose);
  h5_close(&a, H5Aclose);
  return st;
}

static mlff_status open_group(const h5_reader *r, const char *path, hid_t *g) {
  *g = -1;
  if (!h5_path_exists(r->file, path))
    return h5_fail(r, MLFF_ERR_FORMAT, "group %s is missing; the file is incomplete or not "
                   "written by mlff: %s", path, FIX_HINT);
  if ((*g = H5Gopen2(r->file, path, H5P_DEFAULT)) < 0)
    return h5_fail(r, MLFF_ERR_FORMAT, "%s is not a group (corrupt file?): %s", path, FIX_HINT);
  return MLFF_OK;
}

/* Shape of a float dataset: rank (≤ 2) and dims. */
static mlff_status dataset_shape(const h5_reader *r, const char *path, int *rank, hsize_t dims[2]) {
  if (!h5_path_exists(r->file, path))
    return h5_fail(r, MLFF_ERR_FORMAT, "dataset %s is missing; the file is incomplete or not "
                   "written by mlff: %s", path, FIX_HINT);
  hid_t d = H5Dopen2(r->file, path, H5P_DEFAULT), t = -1, sp = -1;
  if (d < 0)
    return h5_fail(r, MLFF_ERR_FORMAT, "%s is not a dataset (corrupt file?): %s", path, FIX_HINT);
  mlff_status st = MLFF_OK;
  t = H5Dget_type(d);
  sp = H5Dget_space(d);
  H5T_class_t c = H5Tget_class(t);
  int rk = H5Sget_simple_extent_ndims(sp);
  if (c != H5T_FLOAT)
    st = h5_fail(r, MLFF_ERR_FORMAT, "dataset %s is %s array, expected float32: %s", path,
                 h5_class_name(c), FIX_HINT);
  else if (rk < 0 || rk > 2)
    st = h5_fail(r, MLFF_ERR_FORMAT, "dataset %s has %d dimensions, expected 1 or 2", path, rk);
  else if (h5_unwritten(d))
    st = h5_fail(r, MLFF_ERR_FORMAT, "dataset %s: the file does not hold its values (never "
                 "written: an incomplete or damaged file): %s", path, FIX_HINT);
  else {
    *rank = rk;
    dims[0] = dims[1] = 1;
    H5Sget_simple_extent_dims(sp, dims, NULL);
  }
  h5_close(&sp, H5Sclose);
  h5_close(&t, H5Tclose);
  h5_close(&d, H5Dclose);
  return st;
}

/* Read a float dataset of n values (shape already checked) and refuse non-finite values,
 * naming the index ([i] or [i, j] when cols > 0). */
static mlff_status dataset_read(const h5_reader *r, const char *path, float *v, size_t n,
                                size_t cols) {
  hid_t d = H5Dopen2(r->file, path, H5P_DEFAULT);
  if (d < 0) return h5_fail(r, MLFF_ERR_IO, "cannot open dataset %s (corrupt file?)", path);
  herr_t e = H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
  H5Dclose(d);
  if (e < 0) return h5_fail(r, MLFF_ERR_IO, "cannot read dataset %s (corrupt file?)", path);
  for (size_t i = 0; i < n; i++)
    if (!isfinite(v[i])) {
      char idx[64];
      if (cols)
        snprintf(idx, sizeof idx, "[%zu, %zu]", i / cols, i % cols);
      else
        snprintf(idx, sizeof idx, "[%zu]", i);
      return h5_fail(r, MLFF_ERR_FORMAT, "dataset %s has a non-finite value (%g) at %s; the "
                     "weights are corrupt (a diverged training run?): retrain or use an earlier "
                     "checkpoint", path, (double)v[i], idx);
    }
  return MLFF_OK;
}

static mlff_status read_elements(const h5_reader *r, mlff_model *m) {
  char *sym[MLFF_MAX_ELEMENTS] = {0};
  int n = 0;
  mlff_status st = attr_strings(r, r->file, "/", "elements", sym, MLFF_MAX_ELEMENTS, &n);
  for (int e = 0; e < n && !st; e++) {
    if (strlen(sym[e]) >= MLFF_SYMBOL_LEN || !mlff_atomic_number(sym[e]))
      st = h5_fail(r, MLFF_ERR_FORMAT, "root attribute 'elements' lists '%s' (index %d), which is "
                   "not a chemical element symbol (write symbols like \"H\", \"C\")", sym[e], e);
    for (int f = 0; f < e && !st; f++)
      if (!strcmp(sym[e], sym[f]))
        st = h5_fail(r, MLFF_ERR_FORMAT, "root attribute 'elements' lists '%s' twice (indices %d "
                     "and %d); each element must appear once: %s", sym[e], f, e, FIX_HINT);
    if (!st) snprintf(m->elements[e], MLFF_SYMBOL_LEN, "%s", sym[e]);
  }
  if (!st) m->n_elements = n;
  for (int e = 0; e < n; e++) free(sym[e]);
  return st;
}

static mlff_status read_descriptor(const h5_reader *r, mlff_model *m) {
  hid_t g;
  mlff_status st = open_group(r, "/descriptor", &g);
  if (st) return st;
  mlff_descriptor_params *p = &m->desc;
  const char *o = "/descriptor";
  if ((st = attr_doubles(r, g, o, "Rcr", &p->Rcr, 1, NULL, NULL)) ||
      (st = attr_doubles(r, g, o, "Rca", &p->Rca, 1, NULL, NULL)) ||
      (st = attr_doubles(r, g, o, "etaR", &p->etaR, 1, NULL, NULL)) ||
      (st = attr_doubles(r, g, o, "etaA", &p->etaA, 1, NULL, NULL)) ||
      (st = attr_doubles(r, g, o, "zeta", &p->zeta, 1, NULL, NULL)) ||
      (st = attr_doubles(r, g, o, "muR", p->muR, MLFF_MAX_RADIAL_SHELLS,
                         "MLFF_MAX_RADIAL_SHELLS", &p->n_muR)) ||
      (st = attr_doubles(r, g, o, "muA", p->muA, MLFF_MAX_ANGULAR_SHELLS,
                         "MLFF_MAX_ANGULAR_SHELLS", &p->n_muA)) ||
      (st = attr_doubles(r, g, o, "thetaZ", p->thetaZ, MLFF_MAX_ANGLE_SECTIONS,
                         "MLFF_MAX_ANGLE_SECTIONS", &p->n_thetaZ))) {
    H5Gclose(g);
    return st;
  }
  H5Gclose(g);
  const struct { const char *name; double v; } pos[] = {
      {"Rcr", p->Rcr}, {"Rca", p->Rca}, {"etaR", p->etaR}, {"etaA", p->etaA}, {"zeta", p->zeta}};
  for (size_t i = 0; i < sizeof pos / sizeof *pos; i++)
    if (!(pos[i].v > 0))
      return h5_fail(r, MLFF_ERR_FORMAT, "attribute '%s' of /descriptor is %g; it must be > 0",
                     pos[i].name, pos[i].v);
  return MLFF_OK;
}

/* e0 and scale of a member: the group <prefix>/energy ("" for member 0, the root's). */
static mlff_status read_energy(const h5_reader *r, const mlff_model *m, const char *prefix,
                               double *e0, double *scale) {
  hid_t g;
  char obj[96];
  snprintf(obj, sizeof obj, "%s/energy", prefix);
  mlff_status st = open_group(r, obj, &g);
  if (st) return st;
  int n = 0;
  if (!(st = attr_doubles(r, g, obj, "e0", e0, MLFF_MAX_ELEMENTS, "MLFF_MAX_ELEMENTS", &n)) &&
      !(st = attr_doubles(r, g, obj, "scale", scale, 1, NULL, NULL)) && n != m->n_elements)
    st = h5_fail(r, MLFF_ERR_FORMAT, "attribute 'e0' of %s holds %d values, expected %d "
                 "(one per element of the root attribute 'elements'): %s", obj, n, m->n_elements,
                 FIX_HINT);
  H5Gclose(g);
  return st;
}

/* The network of element e: layers layer_0, layer_1, ... chained from D to 1 output, under
 * <prefix>/networks ("" for member 0); into n. like: the network members share (member 0's
 * of a committee member; NULL for member 0 itself), whose layer shapes n must have. */
static mlff_status read_network(const h5_reader *r, const mlff_model *m, const char *prefix,
                                int e, mlff_network *n, const mlff_network *like) {
  const char *sym = m->elements[e];
  char path[256], base[128];
  snprintf(base, sizeof base, "%s/networks/%s", prefix, sym);
  int L = 0;
  for (; L <= MLFF_MAX_LAYERS; L++) {
    snprintf(path, sizeof path, "%s/layer_%d", base, L);
    if (!h5_path_exists(r->file, path)) break;
  }
  if (L == 0) {
    snprintf(path, sizeof path, "%s/layer_0/W", base);
    if (!h5_path_exists(r->file, base))
      return h5_fail(r, MLFF_ERR_FORMAT, "group %s is missing (element '%s' is listed in the root "
                     "attribute 'elements' but has no network): %s", base, sym, FIX_HINT);
    return h5_fail(r, MLFF_ERR_FORMAT, "dataset %s is missing; the file is incomplete: %s", path,
                   FIX_HINT);
  }
  if (L > MLFF_MAX_LAYERS)
    return h5_fail(r, MLFF_ERR_FORMAT, "%s has more than %d layers; this libmlff supports at most "
                   "%d (MLFF_MAX_HIDDEN + 1): upgrade mlff", base, MLFF_MAX_LAYERS, MLFF_MAX_LAYERS);
  if (like && L != like->n_layers)
    return h5_fail(r, MLFF_ERR_FORMAT, "%s has %d layers, but /networks/%s (member 0) has %d: "
                   "committee members share one architecture; %s", base, L, sym, like->n_layers,
                   FIX_HINT);
  int sizes[MLFF_MAX_LAYERS + 1];
  sizes[0] = m->n_features;
  mlff_status st;
  for (int l = 0; l < L; l++) {
    int rank;
    hsize_t dims[2];
    char got[64], want[64];
    snprintf(path, sizeof path, "%s/layer_%d/W", base, l);
    if ((st = dataset_shape(r, path, &rank, dims))) return st;
    int last = l == L - 1;
    hsize_t want_out = last ? 1 : (rank == 2 ? dims[0] : 0);
    h5_shape_str(got, sizeof got, rank, dims);
    if (last)
      snprintf(want, sizeof want, "[1, %d]", sizes[l]);
    else
      snprintf(want, sizeof want, "[out, %d]", sizes[l]);
    if (rank != 2 || dims[1] != (hsize_t)sizes[l] || (last && dims[0] != 1) || dims[0] < 1) {
      char why[160];
      if (rank == 2 && dims[1] == (hsize_t)sizes[l] && last)
        snprintf(why, sizeof why, "the last layer (layer_%d) must have one output; is a layer "
                 "missing?", l);
      else if (l == 0)
        snprintf(why, sizeof why, "the first layer takes the descriptor, D = %d features (from "
                 "/descriptor and %d elements)", sizes[0], m->n_elements);
      else
        snprintf(why, sizeof why, "its input is the output of layer_%d (%d)", l - 1, sizes[l]);
      return h5_fail(r, MLFF_ERR_FORMAT, "dataset %s has shape %s, expected %s: %s; the file is "
                     "damaged or inconsistent: %s", path, got, want, why, FIX_HINT);
    }
    if (dims[0] > MAX_DIM || dims[0] * dims[1] > MAX_LAYER_VALUES)
      return h5_fail(r, MLFF_ERR_FORMAT, "dataset %s has an implausible shape %s (corrupt file?)",
                     path, got);
    if (like && dims[0] != (hsize_t)like->sizes[l + 1])
      return h5_fail(r, MLFF_ERR_FORMAT, "dataset %s has shape %s, expected [%d, %d] (as "
                     "/networks/%s/layer_%d/W of member 0: committee members share one "
                     "architecture): %s", path, got, like->sizes[l + 1], sizes[l], sym, l,
                     FIX_HINT);
    sizes[l + 1] = (int)want_out;
    snprintf(path, sizeof path, "%s/layer_%d/b", base, l);
    if ((st = dataset_shape(r, path, &rank, dims))) return st;
    if (rank != 1 || dims[0] != (hsize_t)sizes[l + 1]) {
      h5_shape_str(got, sizeof got, rank, dims);
      return h5_fail(r, MLFF_ERR_FORMAT, "dataset %s has shape %s, expected [%d] (one bias per "
                     "output of layer_%d/W): %s", path, got, sizes[l + 1], l, FIX_HINT);
    }
  }
  if ((st = mlff_network_alloc(n, L, sizes))) return st;
  for (int l = 0; l < L; l++) {
    snprintf(path, sizeof path, "%s/layer_%d/W", base, l);
    if ((st = dataset_read(r, path, n->W[l], (size_t)sizes[l + 1] * sizes[l], sizes[l])))
      return st;
    snprintf(path, sizeof path, "%s/layer_%d/b", base, l);
    if ((st = dataset_read(r, path, n->b[l], sizes[l + 1], 0))) return st;
  }
  mlff_network_sync(n);
  return MLFF_OK;
}

/* Optional training range: /normalization/<Symbol>/feature_min, feature_max, both [D]. */
static mlff_status read_normalization(const h5_reader *r, mlff_model *m, int e) {
  char base[128], path[256];
  snprintf(base, sizeof base, "/normalization/%s", m->elements[e]);
  if (!h5_path_exists(r->file, base)) return MLFF_OK;
  mlff_network *n = &m->net[e];
  float **dst[2] = {&n->feature_min, &n->feature_max};
  const char *names[2] = {"feature_min", "feature_max"};
  for (int k = 0; k < 2; k++) {
    int rank;
    hsize_t dims[2];
    snprintf(path, sizeof path, "%s/%s", base, names[k]);
    mlff_status st = dataset_shape(r, path, &rank, dims);
    if (st) return st;
    if (rank != 1 || dims[0] != (hsize_t)m->n_features) {
      char got[64];
      h5_shape_str(got, sizeof got, rank, dims);
      return h5_fail(r, MLFF_ERR_FORMAT, "dataset %s has shape %s, expected [%d] (the descriptor "
                     "length D): %s", path, got, m->n_features, FIX_HINT);
    }
    if (!(*dst[k] = malloc((size_t)m->n_features * sizeof(float))))
      return mlff_set_error(MLFF_ERR_NOMEM, "out of memory reading '%s'", r->path);
    if ((st = dataset_read(r, path, *dst[k], m->n_features, 0))) return st;
  }
  return MLFF_OK;
}

/* Optional closest distances in training: attribute min_distance of /normalization, float64
 * [n*n] (Å, by species, row-major, symmetric, >= 0; 0: not recorded). */
static mlff_status read_min_distance(const h5_reader *r, mlff_model *m) {
  if (!h5_path_exists(r->file, "/normalization") ||
      H5Aexists_by_name(r->file, "/normalization", "min_distance", H5P_DEFAULT) <= 0)
    return MLFF_OK;
  hid_t g;
  mlff_status st = open_group(r, "/normalization", &g);
  if (st) return st;
  const char *obj = "/normalization";
  const int n = m->n_elements, nn = n * n;
  double v[MLFF_MAX_ELEMENTS * MLFF_MAX_ELEMENTS];
  int got = 0;
  st = attr_doubles(r, g, obj, "min_distance", v, MLFF_MAX_ELEMENTS * MLFF_MAX_ELEMENTS,
                    "elements squared", &got);
  h5_close(&g, H5Gclose);
  if (st) return st;
  if (got != nn)
    return h5_fail(r, MLFF_ERR_FORMAT, "attribute 'min_distance' of /normalization holds %d "
                   "values, expected %d (elements x elements, row-major): %s", got, nn, FIX_HINT);
  for (int a = 0; a < n; a++)
    for (int b = 0; b < n; b++) {
      if (!(v[a * n + b] >= 0))
        return h5_fail(r, MLFF_ERR_FORMAT, "attribute 'min_distance' of /normalization: "
                       "[%d][%d] (%s-%s) is %g Å; distances must be >= 0 (0: not recorded): %s",
                       a, b, m->elements[a], m->elements[b], v[a * n + b], FIX_HINT);
      if (v[a * n + b] != v[b * n + a])
        return h5_fail(r, MLFF_ERR_FORMAT, "attribute 'min_distance' of /normalization is not "
                       "symmetric: [%d][%d] = %g but [%d][%d] = %g Å: %s", a, b, v[a * n + b],
                       b, a, v[b * n + a], FIX_HINT);
      m->min_distance[a][b] = v[a * n + b];
    }
  return MLFF_OK;
}

/* Optional long-range dispersion (dispersion.h): /dispersion with attributes s6, s8, a1, a2 (Å),
 * cutoff (Å), tail (0/1), c6 [n*n] (eV Å^6) and c8 [n*n] (eV Å^8), by species, row-major; and,
 * optionally, the three-body term's s9 with its alp and cutoff3 (Å), its smooth cutoff switch3
 * (Å) and its tail tail3 (Å^-3). */
/* The /dispersion group of an open file, its coefficients indexed by n_elements species (a
 * model's elements, or those of the group's own `elements` attribute in a standalone file). */
static mlff_status read_dispersion_group(const h5_reader *r, int n_elements, mlff_dispersion *d) {
  hid_t g;
  mlff_status st = open_group(r, "/dispersion", &g);
  if (st) return st;
  const char *obj = "/dispersion";
  double c6[MLFF_MAX_ELEMENTS * MLFF_MAX_ELEMENTS], c8[MLFF_MAX_ELEMENTS * MLFF_MAX_ELEMENTS];
  int n6 = 0, n8 = 0;
  long long tail = 0;
  const int nn = n_elements * n_elements;
  if (!(st = attr_doubles(r, g, obj, "s6", &d->p.s6, 1, NULL, NULL)) &&
      !(st = attr_doubles(r, g, obj, "s8", &d->p.s8, 1, NULL, NULL)) &&
      !(st = attr_doubles(r, g, obj, "a1", &d->p.a1, 1, NULL, NULL)) &&
      !(st = attr_doubles(r, g, obj, "a2", &d->p.a2, 1, NULL, NULL)) &&
      !(st = attr_doubles(r, g, obj, "cutoff", &d->p.cutoff, 1, NULL, NULL)) &&
      !(st = attr_int(r, g, obj, "tail", &tail)) &&
      !(st = attr_doubles(r, g, obj, "c6", c6, MLFF_MAX_ELEMENTS * MLFF_MAX_ELEMENTS,
                          "elements squared", &n6)) &&
      !(st = attr_doubles(r, g, obj, "c8", c8, MLFF_MAX_ELEMENTS * MLFF_MAX_ELEMENTS,
                          "elements squared", &n8))) {
    if (n6 != nn || n8 != nn)
      st = h5_fail(r, MLFF_ERR_FORMAT, "attribute '%s' of /dispersion holds %d values, expected %d "
                   "(elements x elements, row-major)", n6 != nn ? "c6" : "c8",
                   n6 != nn ? n6 : n8, nn);
  }
  /* the three-body term is optional: absent s9 means none (files before it) */
  d->p.s9 = 0.0, d->p.alp = 0.0, d->p.cutoff3 = 0.0;
  if (!st && H5Aexists(g, "s9") > 0 &&
      !(st = attr_doubles(r, g, obj, "s9", &d->p.s9, 1, NULL, NULL)) && d->p.s9 != 0.0 &&
      !(st = attr_doubles(r, g, obj, "cutoff3", &d->p.cutoff3, 1, NULL, NULL)))
    st = attr_doubles(r, g, obj, "alp", &d->p.alp, 1, NULL, NULL);
  /* its smooth cutoff is optional: absent means a hard one (files before it) */
  d->p.switch3 = 0.0;
  if (!st && d->p.s9 != 0.0 && H5Aexists(g, "switch3") > 0)
    st = attr_doubles(r, g, obj, "switch3", &d->p.switch3, 1, NULL, NULL);
  /* its tail is optional too: absent means none */
  d->p.tail3 = 0.0;
  if (!st && H5Aexists(g, "tail3") > 0)
    st = attr_doubles(r, g, obj, "tail3", &d->p.tail3, 1, NULL, NULL);
  h5_close(&g, H5Gclose);
  if (st) return st;
  for (int a = 0; a < n_elements; a++)
    for (int b = 0; b < n_elements; b++) {
      d->p.c6[a][b] = c6[a * n_elements + b];
      d->p.c8[a][b] = c8[a * n_elements + b];
    }
  d->p.tail = tail != 0;
  char why[256];
  if (mlff_disp_check(d, n_elements, why, sizeof why))
    return h5_fail(r, MLFF_ERR_FORMAT, "group /dispersion: %s", why);
  d->on = 1;
  mlff_disp_setup(d, n_elements);
  return MLFF_OK;
}

static mlff_status read_dispersion(const h5_reader *r, mlff_model *m) {
  if (!h5_path_exists(r->file, "/dispersion")) return MLFF_OK;
  return read_dispersion_group(r, m->n_elements, &m->disp);
}

/* Optional electrostatics (electrostatics.h): /electrostatics with attributes charges [n] (e, by
 * species), alpha (Å^-1) and cutoff (Å); optionally the bond-charge increments [n n] (e) with
 * bond_radii [n] (Å) and bond_factor. */
static mlff_status read_electrostatics(const h5_reader *r, mlff_model *m) {
  if (!h5_path_exists(r->file, "/electrostatics")) return MLFF_OK;
  hid_t g;
  mlff_status st = open_group(r, "/electrostatics", &g);
  if (st) return st;
  const char *obj = "/electrostatics";
  mlff_electrostatics c;
  memset(&c, 0, sizeof c);
  int nq = 0;
  if (!(st = attr_doubles(r, g, obj, "charges", c.p.charges, MLFF_MAX_ELEMENTS, "elements",
                          &nq)) &&
      !(st = attr_doubles(r, g, obj, "alpha", &c.p.alpha, 1, NULL, NULL)) &&
      !(st = attr_doubles(r, g, obj, "cutoff", &c.p.cutoff, 1, NULL, NULL)) &&
      nq != m->n_elements)
    st = h5_fail(r, MLFF_ERR_FORMAT, "attribute 'charges' of /electrostatics holds %d values, "
                 "expected %d (one per element, in the order of /elements)", nq, m->n_elements);
  if (!st && H5Aexists(g, "increments") > 0) { /* then both of the bonds' attributes too */
    const int ne = m->n_elements;
    double inc[MLFF_MAX_ELEMENTS * MLFF_MAX_ELEMENTS];
    int ni = 0, nr = 0;
    if (!(st = attr_doubles(r, g, obj, "increments", inc, ne * ne, "elements squared", &ni)) &&
        !(st = attr_doubles(r, g, obj, "bond_radii", c.p.bond_radii, MLFF_MAX_ELEMENTS,
                            "elements", &nr)) &&
        !(st = attr_doubles(r, g, obj, "bond_factor", &c.p.bond_factor, 1, NULL, NULL))) {
      if (ni != ne * ne)
        st = h5_fail(r, MLFF_ERR_FORMAT, "attribute 'increments' of /electrostatics holds %d "
                     "values, expected %d (elements x elements, row-major)", ni, ne * ne);
      else if (nr != ne)
        st = h5_fail(r, MLFF_ERR_FORMAT, "attribute 'bond_radii' of /electrostatics holds %d "
                     "values, expected %d (one per element, in the order of /elements)", nr, ne);
      for (int a = 0; !st && a < ne; a++)
        for (int b = 0; b < ne; b++) c.p.increments[a][b] = inc[a * ne + b];
    }
  }
  h5_close(&g, H5Gclose);
  if (st) return st;
  char why[320];
  if (mlff_coul_check(&c.p, m->n_elements, why, sizeof why))
    return h5_fail(r, MLFF_ERR_FORMAT, "group /electrostatics: %s", why);
  if (!mlff_coul_has_increments(&c.p, m->n_elements)) /* all 0: as mlff_model_set_electrostatics */
    memset(c.p.bond_radii, 0, sizeof c.p.bond_radii), c.p.bond_factor = 0.0;
  c.on = 1;
  mlff_coul_setup(&c, m->n_elements, (const char (*)[MLFF_SYMBOL_LEN])m->elements);
  m->coul = c;
  return MLFF_OK;
}

/* Optional committee (docs/file_format.md): /committee with attribute size K >= 2 and groups
 * member_1 .. member_<K-1>, each with energy (e0, scale) and networks/<Symbol>/layer_<l>/W, b
 * shaped as member 0's (/energy, /networks). */
static mlff_status read_committee(const h5_reader *r, mlff_model *m) {
  if (!h5_path_exists(r->file, "/committee")) return MLFF_OK;
  hid_t g;
  long long K = 0;
  mlff_status st = open_group(r, "/committee", &g);
  if (st) return st;
  st = attr_int(r, g, "/committee", "size", &K);
  H5Gclose(g);
  if (st) return st;
  if (K < 2 || K > MLFF_MAX_COMMITTEE)
    return h5_fail(r, MLFF_ERR_FORMAT, "attribute 'size' of /committee is %lld; a committee has "
                   "2..%d members (a single model has no /committee group): %s", K,
                   MLFF_MAX_COMMITTEE, FIX_HINT);
  char path[96];
  snprintf(path, sizeof path, "/committee/member_%lld", K);
  if (h5_path_exists(r->file, path))
    return h5_fail(r, MLFF_ERR_FORMAT, "group %s exists, but attribute 'size' of /committee is "
                   "%lld (members 1..%lld besides /networks): the file is inconsistent: %s", path,
                   K, K - 1, FIX_HINT);
  if (!(m->more = calloc((size_t)K - 1, sizeof *m->more)))
    return mlff_set_error(MLFF_ERR_NOMEM, "out of memory reading '%s'", r->path);
  for (int k = 1; k < K; k++) {
    mlff_member *mb = &m->more[k - 1];
    m->n_members = k + 1; /* so that mlff_model_free frees what was read */
    snprintf(path, sizeof path, "/committee/member_%d", k);
    if (!h5_path_exists(r->file, path))
      return h5_fail(r, MLFF_ERR_FORMAT, "group %s is missing (attribute 'size' of /committee is "
                     "%lld): the file is incomplete: %s", path, K, FIX_HINT);
    if ((st = read_energy(r, m, path, mb->e0, &mb->scale))) return st;
    for (int e = 0; e < m->n_elements; e++)
      if ((st = read_network(r, m, path, e, &mb->net[e], &m->net[e]))) return st;
  }
  return MLFF_OK;
}

/* H5Aiterate2 callback: keep every non-reserved scalar string root attribute. */
typedef struct {
  const h5_reader *r;
  mlff_model *m;
  mlff_status st;
} attr_walk;

static herr_t keep_attr(hid_t loc, const char *name, const H5A_info_t *info, void *data) {
  attr_walk *w = data;
  (void)info;
  if (is_reserved(name)) return 0;
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
  if (a < 0) return 0;
  hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
  char *v = NULL;
  /* Non-string or array attributes are not metadata we understand; skip them. */
  if (H5Tget_class(t) == H5T_STRING && H5Sget_simple_extent_npoints(sp) == 1) {
    if (!h5_read_strings(a, h5_read_attr, t, 1, &v))
      w->st = h5_fail(w->r, MLFF_ERR_IO, "cannot read root attribute '%s' (corrupt file?)", name);
    else
      w->st = mlff_model_set_attr(w->m, name, v);
  }
  free(v);
  H5Sclose(sp);
  H5Tclose(t);
  H5Aclose(a);
  return w->st ? -1 : 0;
}

static mlff_status read_model(h5_reader *r, mlff_model *m) {
  mlff_status st;
  char *fmt = NULL;
  if (H5Aexists(r->file, "format") <= 0)
    return h5_fail(r, MLFF_ERR_FORMAT, "not an mlff model file: it is HDF5 but has no root "
                   "attribute 'format' (an mlff model has format=\"mlff-model\"); is it a dataset "
                   "or another program's file? Give the path of a model written by `mlff train`");
  if ((st = attr_strings(r, r->file, "/", "format", &fmt, 1, NULL))) return st;
  if (strcmp(fmt, "mlff-model")) {
    st = h5_fail(r, MLFF_ERR_FORMAT, "not an mlff model file: root attribute 'format' is \"%.64s\","
                 " expected \"mlff-model\"; give the path of a model written by `mlff train`", fmt);
    free(fmt);
    return st;
  }
  free(fmt);
  long long version;
  if ((st = attr_int(r, r->file, "/", "format_version", &version))) return st;
  if (version > MLFF_FORMAT_VERSION)
    return h5_fail(r, MLFF_ERR_FORMAT, "root attribute 'format_version' is %lld, but this libmlff "
                   "(%s) reads format_version up to %d: upgrade mlff to read this model", version,
                   MLFF_VERSION_STRING, MLFF_FORMAT_VERSION);
  if (version < 1)
    return h5_fail(r, MLFF_ERR_FORMAT, "root attribute 'format_version' is %lld; valid versions "
                   "start at 1 (corrupt file?)", version);
  char word[64];
  if ((st = attr_word(r, r->file, "/", "arch", word, sizeof word))) return st;
  if (strcmp(word, "aev-mlp"))
    return h5_fail(r, MLFF_ERR_FORMAT, "root attribute 'arch' is \"%s\", but this libmlff (%s) "
                   "evaluates only \"aev-mlp\": upgrade mlff", word, MLFF_VERSION_STRING);
  snprintf(m->arch, sizeof m->arch, "%.31s", word);
  if ((st = read_elements(r, m))) return st;
  if ((st = attr_word(r, r->file, "/", "activation", word, sizeof word))) return st;
  if (!mlff_activation_parse(word, &m->activation))
    return h5_fail(r, MLFF_ERR_FORMAT, "root attribute 'activation' is \"%s\"; this libmlff knows "
                   "\"silu\" and \"celu\": upgrade mlff", word);
  if ((st = read_descriptor(r, m))) return st;
  m->n_features = mlff_descriptor_length(&m->desc, m->n_elements);
  if ((st = read_energy(r, m, "", m->e0, &m->scale))) return st;
  for (int e = 0; e < m->n_elements; e++)
    if ((st = read_network(r, m, "", e, &m->net[e], NULL)) || (st = read_normalization(r, m, e)))
      return st;
  if ((st = read_min_distance(r, m))) return st;
  if ((st = read_dispersion(r, m))) return st;
  if ((st = read_electrostatics(r, m))) return st;
  if ((st = read_committee(r, m))) return st;
  attr_walk w = {r, m, MLFF_OK};
  hsize_t idx = 0;
  if (H5Aiterate2(r->file, H5_INDEX_NAME, H5_ITER_INC, &idx, keep_attr, &w) < 0 && !w.st)
    w.st = h5_fail(r, MLFF_ERR_IO, "cannot list the root attributes (corrupt file?)");
  return w.st;
}

mlff_status mlff_model_load(const char *path, mlff_model **out) {
  if (!out) return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_model_load: out is NULL");
  *out = NULL;
  if (!path) return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_model_load: path is NULL");
  struct stat sb;
  FILE *f = fopen(path, "rb");
  if (!f) return mlff_set_error(MLFF_ERR_IO, "cannot open model file '%s': %s", path, strerror(errno));
  int is_dir = fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode);
  fclose(f);
  if (is_dir)
    return mlff_set_error(MLFF_ERR_IO, "cannot open model file '%s': it is a directory; give the "
                     "path of a model .h5 file", path);
  h5_quiet q;
  h5_quiet_begin(&q);
  mlff_status st = MLFF_OK;
  h5_reader r = {"model file", path, -1};
  mlff_model *m = NULL;
  if (H5Fis_hdf5(path) <= 0) {
    st = mlff_set_error(MLFF_ERR_IO, "cannot read model file '%s': it is not an HDF5 file (an mlff "
                   "model is an HDF5 file written by `mlff train` or mlff_model_save); check the "
                   "path", path);
  } else if ((r.file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
    st = mlff_set_error(MLFF_ERR_IO, "cannot open model file '%s': HDF5 cannot read it (truncated or "
                   "corrupt?); copy the file again", path);
  } else if (!(m = mlff_model_alloc())) {
    st = mlff_set_error(MLFF_ERR_NOMEM, "out of memory loading '%s'", path);
  } else {
    st = read_model(&r, m);
  }
  h5_close(&r.file, H5Fclose);
  h5_quiet_end(&q);
  if (st) {
    mlff_model_free(m);
    return st;
  }
  *out = m;
  return MLFF_OK;
}

/* The /dispersion group of a standalone file (dispersion_d4.py writes one; its `elements`
 * attribute names the species) or of a model file (the root's `elements`), its coefficients
 * mapped onto m's elements. */
mlff_status mlff_model_load_dispersion(mlff_model *m, const char *path) {
  if (!m || !path) return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_model_load_dispersion: NULL argument");
  h5_quiet q;
  h5_quiet_begin(&q);
  h5_reader r = {"dispersion file", path, -1};
  mlff_status st = MLFF_OK;
  char *sym[MLFF_MAX_ELEMENTS] = {0};
  int n = 0;
  mlff_dispersion d;
  memset(&d, 0, sizeof d);
  hid_t g = -1;
  if (H5Fis_hdf5(path) <= 0)
    st = mlff_set_error(MLFF_ERR_IO, "cannot read dispersion file '%s': it is missing or not an "
                        "HDF5 file (scripts/dispersion_d4.py writes one)", path);
  else if ((r.file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0)
    st = mlff_set_error(MLFF_ERR_IO, "cannot open dispersion file '%s' (truncated or corrupt?)",
                        path);
  else if (!(st = open_group(&r, "/dispersion", &g))) {
    /* a standalone file names its elements on the group; a model file on its root */
    if (H5Aexists(g, "elements") > 0)
      st = attr_strings(&r, g, "/dispersion", "elements", sym, MLFF_MAX_ELEMENTS, &n);
    else
      st = attr_strings(&r, r.file, "/", "elements", sym, MLFF_MAX_ELEMENTS, &n);
    if (!st) st = read_dispersion_group(&r, n, &d);
  }
  h5_close(&g, H5Gclose);
  int map[MLFF_MAX_ELEMENTS];
  for (int e = 0; e < m->n_elements && !st; e++) {
    map[e] = -1;
    for (int k = 0; k < n; k++)
      if (!strcmp(sym[k], m->elements[e])) map[e] = k;
    if (map[e] < 0)
      st = h5_fail(&r, MLFF_ERR_FORMAT, "/dispersion has no coefficients for element %s of the "
                   "model (it has %d elements); make the file for the model's elements",
                   m->elements[e], n);
  }
  h5_close(&r.file, H5Fclose);
  h5_quiet_end(&q);
  for (int k = 0; k < n; k++) free(sym[k]);
  if (st) return st;
  mlff_dispersion_params p = d.p;
  for (int a = 0; a < m->n_elements; a++)
    for (int b = 0; b < m->n_elements; b++) {
      p.c6[a][b] = d.p.c6[map[a]][map[b]];
      p.c8[a][b] = d.p.c8[map[a]][map[b]];
    }
  return mlff_model_set_dispersion(m, &p);
}

/* ---- writer ---------------------------------------------------------------------------- */

/* Write state: the first HDF5 failure is remembered with the field being written, and every
 * later call becomes a no-op, so the writer code reads straight through. */
typedef struct {
  const char *failed; /* field whose write failed first, or NULL */
  hid_t gcpl, dcpl;   /* creation property lists without timestamps */
} writer;

static int wok(writer *w, herr_t e, const char *field) {
  if (e < 0 && !w->failed) w->failed = field;
  return !w->failed;
}

static void w_attr(writer *w, hid_t loc, const char *name, hid_t ftype, hid_t mtype,
                   hid_t space, const void *data) {
  if (w->failed) return;
  hid_t a = H5Acreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
  if (!wok(w, a, name)) return;
  wok(w, H5Awrite(a, mtype, data), name);
  H5Aclose(a);
}

/* Fixed-length, null-padded strings (n of them; n == 0 means a scalar). */
static void w_attr_strings(writer *w, hid_t loc, const char *name, const char *const *v, int n,
                           H5T_cset_t cset) {
  if (w->failed) return;
  int count = n ? n : 1;
  size_t len = 1; /* HDF5 has no zero-length fixed strings; "" is one NUL */
  for (int i = 0; i < count; i++)
    if (strlen(v[i]) > len) len = strlen(v[i]);
  char *buf = calloc((size_t)count, len);
  if (!buf) {
    w->failed = name;
    return;
  }
  for (int i = 0; i < count; i++) memcpy(buf + i * len, v[i], strlen(v[i]));
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, len);
  H5Tset_strpad(t, H5T_STR_NULLPAD);
  H5Tset_cset(t, cset);
  hsize_t dim = (hsize_t)n;
  hid_t sp = n ? H5Screate_simple(1, &dim, NULL) : H5Screate(H5S_SCALAR);
  w_attr(w, loc, name, t, t, sp, buf);
  H5Sclose(sp);
  H5Tclose(t);
  free(buf);
}

/* Doubles, stored little-endian IEEE (n == 0 means a scalar). */
static void w_attr_doubles(writer *w, hid_t loc, const char *name, const double *v, int n) {
  if (w->failed) return;
  hsize_t dim = (hsize_t)n;
  hid_t sp = n ? H5Screate_simple(1, &dim, NULL) : H5Screate(H5S_SCALAR);
  w_attr(w, loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, sp, v);
  H5Sclose(sp);
}

static hid_t w_group(writer *w, hid_t loc, const char *name) {
  if (w->failed) return -1;
  hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, w->gcpl, H5P_DEFAULT);
  wok(w, g, name);
  return g;
}

static void w_dataset(writer *w, hid_t loc, const char *name, int rank, const hsize_t *dims,
                      const float *v) {
  if (w->failed) return;
  hid_t sp = H5Screate_simple(rank, dims, NULL);
  hid_t d = H5Dcreate2(loc, name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, w->dcpl, H5P_DEFAULT);
  if (wok(w, d, name)) {
    wok(w, H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), name);
    H5Dclose(d);
  }
  H5Sclose(sp);
}

static int cmp_attr_name(const void *a, const void *b) {
  return strcmp((*(const mlff_attr *const *)a)->name, (*(const mlff_attr *const *)b)->name);
}

/* The networks of member k under loc/networks, and its e0 and scale as attributes of
 * loc/energy (the root for member 0; /committee/member_<k> for the others). */
static void write_member(writer *w, hid_t loc, const mlff_model *m, int k) {
  hid_t g = w_group(w, loc, "energy");
  w_attr_doubles(w, g, "e0", mlff_member_e0(m, k), m->n_elements);
  double scale = mlff_member_scale(m, k);
  w_attr_doubles(w, g, "scale", &scale, 0);
  h5_close(&g, H5Gclose);

  hid_t nets = w_group(w, loc, "networks");
  for (int e = 0; e < m->n_elements && !w->failed; e++) {
    const mlff_network *n = &mlff_member_net(m, k)[e];
    hid_t ge = w_group(w, nets, m->elements[e]);
    for (int l = 0; l < n->n_layers && !w->failed; l++) {
      char name[32];
      snprintf(name, sizeof name, "layer_%d", l);
      hid_t gl = w_group(w, ge, name);
      hsize_t dw[2] = {(hsize_t)n->sizes[l + 1], (hsize_t)n->sizes[l]};
      w_dataset(w, gl, "W", 2, dw, n->W[l]);
      w_dataset(w, gl, "b", 1, dw, n->b[l]);
      h5_close(&gl, H5Gclose);
    }
    h5_close(&ge, H5Gclose);
  }
  h5_close(&nets, H5Gclose);
}

static void write_model(writer *w, hid_t file, const mlff_model *m, const char *created) {
  const char *fmt = "mlff-model", *arch = m->arch, *act = mlff_activation_name(m->activation);
  const char *elems[MLFF_MAX_ELEMENTS];
  for (int e = 0; e < m->n_elements; e++) elems[e] = m->elements[e];
  /* 2 only where it matters: a reader of version 1 would drop the bond-charge increments */
  int version = m->coul.on && m->coul.bonds ? 2 : 1;
  w_attr_strings(w, file, "format", &fmt, 0, H5T_CSET_ASCII);
  hid_t sp = H5Screate(H5S_SCALAR);
  w_attr(w, file, "format_version", H5T_STD_I32LE, H5T_NATIVE_INT, sp, &version);
  H5Sclose(sp);
  w_attr_strings(w, file, "arch", &arch, 0, H5T_CSET_ASCII);
  w_attr_strings(w, file, "elements", elems, m->n_elements, H5T_CSET_ASCII);
  w_attr_strings(w, file, "activation", &act, 0, H5T_CSET_ASCII);

  /* Free-form metadata sorted by name, so the bytes do not depend on the order in memory. */
  const mlff_attr **sorted = malloc((size_t)(m->n_attrs + 1) * sizeof *sorted);
  mlff_attr created_attr = {(char *)"created", (char *)created};
  int ns = 0;
  if (!sorted) {
    if (!w->failed) w->failed = "metadata (out of memory)";
  } else {
    for (int i = 0; i < m->n_attrs; i++) /* an empty "created" is replaced by the stamp */
      if (!is_reserved(m->attrs[i].name) && !(created && !strcmp(m->attrs[i].name, "created")))
        sorted[ns++] = &m->attrs[i];
    if (created) sorted[ns++] = &created_attr;
    qsort(sorted, (size_t)ns, sizeof *sorted, cmp_attr_name);
    for (int i = 0; i < ns; i++) {
      const char *v = sorted[i]->value;
      w_attr_strings(w, file, sorted[i]->name, &v, 0, H5T_CSET_UTF8);
    }
    free(sorted);
  }

  const mlff_descriptor_params *p = &m->desc;
  hid_t g = w_group(w, file, "descriptor");
  w_attr_doubles(w, g, "Rcr", &p->Rcr, 0);
  w_attr_doubles(w, g, "Rca", &p->Rca, 0);
  w_attr_doubles(w, g, "etaR", &p->etaR, 0);
  w_attr_doubles(w, g, "etaA", &p->etaA, 0);
  w_attr_doubles(w, g, "zeta", &p->zeta, 0);
  w_attr_doubles(w, g, "muR", p->muR, p->n_muR);
  w_attr_doubles(w, g, "muA", p->muA, p->n_muA);
  w_attr_doubles(w, g, "thetaZ", p->thetaZ, p->n_thetaZ);
  h5_close(&g, H5Gclose);

  /* member 0 where a single model keeps its network: old readers read it as a single model */
  write_member(w, file, m, 0);

  int any_norm = 0, any_min = 0;
  for (int e = 0; e < m->n_elements; e++) any_norm |= m->net[e].feature_min != NULL;
  for (int a = 0; a < m->n_elements; a++)
    for (int b = 0; b < m->n_elements; b++) any_min |= m->min_distance[a][b] > 0;
  if (any_norm || any_min) {
    hid_t gn = w_group(w, file, "normalization");
    if (any_min) {
      double v[MLFF_MAX_ELEMENTS * MLFF_MAX_ELEMENTS];
      const int n = m->n_elements;
      for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++) v[a * n + b] = m->min_distance[a][b];
      w_attr_doubles(w, gn, "min_distance", v, n * n);
    }
    for (int e = 0; e < m->n_elements && !w->failed; e++) {
      const mlff_network *n = &m->net[e];
      if (!n->feature_min || !n->feature_max) continue;
      hid_t ge = w_group(w, gn, m->elements[e]);
      hsize_t d = (hsize_t)m->n_features;
      w_dataset(w, ge, "feature_min", 1, &d, n->feature_min);
      w_dataset(w, ge, "feature_max", 1, &d, n->feature_max);
      h5_close(&ge, H5Gclose);
    }
    h5_close(&gn, H5Gclose);
  }
  if (m->disp.on) {
    const mlff_dispersion *d = &m->disp;
    double c6[MLFF_MAX_ELEMENTS * MLFF_MAX_ELEMENTS], c8[MLFF_MAX_ELEMENTS * MLFF_MAX_ELEMENTS];
    const int n = m->n_elements;
    for (int a = 0; a < n; a++)
      for (int b = 0; b < n; b++) c6[a * n + b] = d->p.c6[a][b], c8[a * n + b] = d->p.c8[a][b];
    hid_t gd = w_group(w, file, "dispersion");
    w_attr_doubles(w, gd, "s6", &d->p.s6, 0);
    w_attr_doubles(w, gd, "s8", &d->p.s8, 0);
    w_attr_doubles(w, gd, "a1", &d->p.a1, 0);
    w_attr_doubles(w, gd, "a2", &d->p.a2, 0);
    w_attr_doubles(w, gd, "cutoff", &d->p.cutoff, 0);
    int tail = d->p.tail;
    hid_t sp1 = H5Screate(H5S_SCALAR);
    w_attr(w, gd, "tail", H5T_STD_I32LE, H5T_NATIVE_INT, sp1, &tail);
    H5Sclose(sp1);
    w_attr_doubles(w, gd, "c6", c6, n * n);
    w_attr_doubles(w, gd, "c8", c8, n * n);
    if (d->p.s9 > 0) {
      w_attr_doubles(w, gd, "s9", &d->p.s9, 0);
      w_attr_doubles(w, gd, "alp", &d->p.alp, 0);
      w_attr_doubles(w, gd, "cutoff3", &d->p.cutoff3, 0);
      if (d->p.switch3 > 0) w_attr_doubles(w, gd, "switch3", &d->p.switch3, 0);
      if (d->p.tail3 != 0.0) w_attr_doubles(w, gd, "tail3", &d->p.tail3, 0);
    }
    h5_close(&gd, H5Gclose);
  }
  if (m->coul.on) {
    const mlff_electrostatics_params *p = &m->coul.p;
    hid_t ge = w_group(w, file, "electrostatics");
    w_attr_doubles(w, ge, "charges", p->charges, m->n_elements);
    w_attr_doubles(w, ge, "alpha", &p->alpha, 0);
    w_attr_doubles(w, ge, "cutoff", &p->cutoff, 0);
    if (m->coul.bonds) {
      const int ne = m->n_elements;
      double inc[MLFF_MAX_ELEMENTS * MLFF_MAX_ELEMENTS];
      for (int a = 0; a < ne; a++)
        for (int b = 0; b < ne; b++) inc[a * ne + b] = p->increments[a][b];
      w_attr_doubles(w, ge, "increments", inc, ne * ne);
      w_attr_doubles(w, ge, "bond_radii", p->bond_radii, ne);
      w_attr_doubles(w, ge, "bond_factor", &p->bond_factor, 0);
    }
    h5_close(&ge, H5Gclose);
  }
  if (m->n_members > 1) { /* absent for a single model: its file is as before committees */
    hid_t gc = w_group(w, file, "committee");
    int size = m->n_members;
    hid_t sp1 = H5Screate(H5S_SCALAR);
    w_attr(w, gc, "size", H5T_STD_I32LE, H5T_NATIVE_INT, sp1, &size);
    H5Sclose(sp1);
    for (int k = 1; k < m->n_members && !w->failed; k++) {
      char name[32];
      snprintf(name, sizeof name, "member_%d", k);
      hid_t gm = w_group(w, gc, name);
      write_member(w, gm, m, k);
      h5_close(&gm, H5Gclose);
    }
    h5_close(&gc, H5Gclose);
  }
}

static mlff_status check_savable(const mlff_model *m, const char *path) {
  if (m->n_elements < 1 || m->n_elements > MLFF_MAX_ELEMENTS)
    return mlff_set_error(MLFF_ERR_ARGUMENT, "cannot save model to '%s': it has %d elements", path,
                     m->n_elements);
  for (int e = 0; e < m->n_elements; e++) {
    const mlff_network *n = &m->net[e];
    if (n->n_layers < 1 || n->sizes[0] != m->n_features || n->sizes[n->n_layers] != 1)
      return mlff_set_error(MLFF_ERR_ARGUMENT, "cannot save model to '%s': the network of '%s' does "
                       "not map %d features to one output", path, m->elements[e], m->n_features);
    for (int l = 0; l < n->n_layers; l++)
      if (!n->W[l] || !n->b[l])
        return mlff_set_error(MLFF_ERR_ARGUMENT, "cannot save model to '%s': layer %d of '%s' has no "
                         "weights", path, l, m->elements[e]);
    for (int k = 1; k < m->n_members; k++) { /* the reader wants member 0's shapes */
      const mlff_network *x = &m->more[k - 1].net[e];
      int same = x->n_layers == n->n_layers;
      for (int l = 0; same && l <= n->n_layers; l++) same = x->sizes[l] == n->sizes[l];
      if (!same)
        return mlff_set_error(MLFF_ERR_ARGUMENT, "cannot save model to '%s': committee member %d's "
                              "network of '%s' differs in shape from member 0's (members share "
                              "one architecture)", path, k, m->elements[e]);
    }
  }
  return MLFF_OK;
}

mlff_status mlff_model_save(const mlff_model *m, const char *path) {
  if (!m || !path) return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_model_save: model or path is NULL");
  mlff_status st = check_savable(m, path);
  if (st) return st;
  /* "created" is stamped once, when a model without one is first written. */
  char created[32], *stamp = NULL;
  if (!*mlff_model_attr(m, "created")) {
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    stamp = created;
  }
  /* Write next to the target and rename: a failed or killed save never destroys an existing
   * model, and a reader never sees a half-written one (h5_commit_temp). */
  char *tmp = h5_temp_path(path);
  if (!tmp) return mlff_set_error(MLFF_ERR_NOMEM, "out of memory");

  h5_quiet q;
  h5_quiet_begin(&q);
  writer w = {NULL, -1, -1};
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  /* 1.8 object format: readable by every HDF5 since 2008, and allows attributes > 64 KiB
   * (a long training_summary) through dense attribute storage. */
  H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18);
  w.gcpl = H5Pcreate(H5P_GROUP_CREATE);
  w.dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_obj_track_times(w.gcpl, 0); /* timestamps would make identical models differ */
  H5Pset_obj_track_times(w.dcpl, 0);
  hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
  H5Pset_obj_track_times(fcpl, 0);
  hid_t file = H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl, fapl);
  if (file < 0) {
    FILE *f = fopen(tmp, "wb"); /* HDF5 does not say why; the C library does */
    const char *why = f ? "HDF5 could not create it" : strerror(errno);
    if (f) {
      fclose(f);
      remove(tmp);
    }
    st = mlff_set_error(MLFF_ERR_IO, "cannot create model file '%s': %s", path, why);
  } else {
    write_model(&w, file, m, stamp);
    if (H5Fclose(file) < 0 && !w.failed) w.failed = "(closing the file)";
    if (w.failed) {
      st = mlff_set_error(MLFF_ERR_IO, "cannot write model file '%s': HDF5 failed writing %s (disk "
                     "full or no permission?)", path, w.failed);
      remove(tmp);
    } else {
      const char *step = NULL;
      if (h5_commit_temp(tmp, path, &step) != 0) {
        st = mlff_set_error(MLFF_ERR_IO, "cannot write model file '%s': %s ('%s') failed: %s",
                            path, step, tmp, strerror(errno));
        remove(tmp);
      }
    }
  }
  H5Pclose(fcpl);
  H5Pclose(w.dcpl);
  H5Pclose(w.gcpl);
  H5Pclose(fapl);
  h5_quiet_end(&q);
  free(tmp);
  return st;
}
