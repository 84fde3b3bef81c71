/* test_model_io.c — model files: a saved model loads back bit for bit and saves to the same
 * bytes; every kind of bad file (docs/file_format.md) is refused with a message naming the file and the
 * field, and libhdf5 prints nothing of its own. Usage: test_model_io TMPDIR
 * (Failures print on stdout: stderr is redirected while bad files are refused.) */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <unistd.h>

#include <hdf5.h>

#include "internal.h"
#include "io_test.h"

static const char *dir;

/* A model with every field set to something non-default: two elements of different
 * networks' contents, e0/scale, metadata (one attribute > 64 KiB, one in UTF-8), and a stored
 * training range for C only. */
static mlff_model *make_model(uint64_t seed) {
  const char *el[] = {"H", "C"};
  int hidden[] = {16, 8};
  mlff_model_spec spec = {.n_elements = 2, .elements = el, .n_hidden = 2, .hidden = hidden,
                          .activation = MLFF_ACT_CELU, .seed = seed};
  mlff_descriptor_params_ani1x(&spec.descriptor);
  spec.descriptor.Rcr = 5.1;
  mlff_model *m;
  CHECK_OK(mlff_model_create(&spec, &m));
  m->e0[0] = -13.587;
  m->e0[1] = -1029.86;
  m->scale = 0.731;
  CHECK_OK(mlff_model_set_attr(m, "teacher", "GFN2-xTB (libxtb 6.6)"));
  CHECK_OK(mlff_model_set_attr(m, "dataset_sha256", "3671165bd52fad36734e0a9136c5bc5e"));
  CHECK_OK(mlff_model_set_attr(m, "note", "units: eV and \xc3\x85"));
  size_t big = 100000;
  char *summary = malloc(big + 1);
  CHECK(summary);
  for (size_t i = 0; i < big; i++) summary[i] = "{\"epoch\": 12}, "[i % 15];
  summary[big] = '\0';
  CHECK_OK(mlff_model_set_attr(m, "training_summary", summary));
  free(summary);
  mlff_network *c = &m->net[1];
  c->feature_min = malloc(m->n_features * sizeof(float));
  c->feature_max = malloc(m->n_features * sizeof(float));
  CHECK(c->feature_min && c->feature_max);
  for (int j = 0; j < m->n_features; j++) {
    c->feature_min[j] = -0.01f * j;
    c->feature_max[j] = 1.0f + 0.5f * j;
  }
  CHECK_OK(mlff_model_set_min_distance(m, 0, 1, 0.9512)); /* H-C; C-C and H-H not recorded */
  CHECK_OK(mlff_model_set_min_distance(m, 1, 1, 1.2875));
  return m;
}

static void check_same_model(const mlff_model *a, const mlff_model *b) {
  CHECK(!strcmp(a->arch, b->arch));
  CHECK(a->n_elements == b->n_elements);
  CHECK(a->activation == b->activation);
  CHECK(a->n_features == b->n_features);
  CHECK(a->scale == b->scale);
  const mlff_descriptor_params *p = &a->desc, *q = &b->desc;
  CHECK(p->Rcr == q->Rcr && p->Rca == q->Rca && p->etaR == q->etaR && p->etaA == q->etaA &&
        p->zeta == q->zeta);
  CHECK(p->n_muR == q->n_muR && p->n_muA == q->n_muA && p->n_thetaZ == q->n_thetaZ);
  CHECK(!memcmp(p->muR, q->muR, p->n_muR * sizeof(double)));
  CHECK(!memcmp(p->muA, q->muA, p->n_muA * sizeof(double)));
  CHECK(!memcmp(p->thetaZ, q->thetaZ, p->n_thetaZ * sizeof(double)));
  for (int e = 0; e < a->n_elements; e++) {
    CHECK(!strcmp(a->elements[e], b->elements[e]));
    CHECK(a->e0[e] == b->e0[e]);
    const mlff_network *x = &a->net[e], *y = &b->net[e];
    CHECK(x->n_layers == y->n_layers);
    for (int l = 0; l <= x->n_layers; l++) CHECK(x->sizes[l] == y->sizes[l]);
    for (int l = 0; l < x->n_layers; l++) {
      size_t nw = (size_t)x->sizes[l + 1] * x->sizes[l], nb = x->sizes[l + 1];
      CHECK(!memcmp(x->W[l], y->W[l], nw * sizeof(float)));
      CHECK(!memcmp(x->b[l], y->b[l], nb * sizeof(float)));
      CHECK(!memcmp(x->Wd[l], y->Wd[l], nw * sizeof(double))); /* synced after reading */
      CHECK(!memcmp(x->bd[l], y->bd[l], nb * sizeof(double)));
    }
    CHECK(!x->feature_min == !y->feature_min);
    if (x->feature_min) {
      CHECK(!memcmp(x->feature_min, y->feature_min, a->n_features * sizeof(float)));
      CHECK(!memcmp(x->feature_max, y->feature_max, a->n_features * sizeof(float)));
    }
  }
  for (int i = 0; i < a->n_attrs; i++)
    CHECK(!strcmp(a->attrs[i].value, mlff_model_attr(b, a->attrs[i].name)));
  CHECK(!memcmp(a->min_distance, b->min_distance, sizeof a->min_distance));
}

static void test_round_trip(void) {
  char p1[512], p2[512];
  tmp_path(p1, sizeof p1, dir, "model_rt1.h5");
  tmp_path(p2, sizeof p2, dir, "model_rt2.h5");
  mlff_model *m = make_model(42), *l1, *l2;
  CHECK(!*mlff_model_attr(m, "created"));
  CHECK_OK(mlff_model_save(m, p1));
  CHECK_OK(mlff_model_load(p1, &l1));
  check_same_model(m, l1);
  /* save stamps "created" (ISO-8601 UTC) into the file, not into the model saved */
  const char *created = mlff_model_attr(l1, "created");
  CHECK(strlen(created) == 20 && created[4] == '-' && created[10] == 'T' && created[19] == 'Z');
  CHECK(!*mlff_model_attr(m, "created"));
  CHECK(!strcmp(mlff_model_attr(l1, "note"), "units: eV and \xc3\x85"));
  CHECK(strlen(mlff_model_attr(l1, "training_summary")) == 100000);
  CHECK(l1->net[0].feature_min == NULL && l1->net[1].feature_min != NULL);

  /* saving the loaded model again gives the same bytes (no timestamps, fixed order) */
  CHECK_OK(mlff_model_save(l1, p2));
  size_t n1, n2;
  char *b1 = read_all(p1, &n1), *b2 = read_all(p2, &n2);
  CHECK(n1 == n2 && !memcmp(b1, b2, n1));
  free(b1);
  free(b2);
  CHECK_OK(mlff_model_load(p2, &l2));
  check_same_model(l1, l2);
  CHECK(!strcmp(mlff_model_attr(l2, "created"), created));

  /* overwriting an existing model file works and leaves no temporary behind; an empty
   * "created" is stamped, and a metadata entry named like a reserved field is not written */
  CHECK_OK(mlff_model_set_attr(m, "created", ""));
  CHECK_OK(mlff_model_set_attr(m, "format", "not this"));
  CHECK_OK(mlff_model_save(m, p2));
  char tmp[600];
  snprintf(tmp, sizeof tmp, "%s.tmp%ld", p2, (long)getpid());
  CHECK(access(tmp, F_OK) != 0);
  mlff_model_free(l2);
  CHECK_OK(mlff_model_load(p2, &l2));
  CHECK(strlen(mlff_model_attr(l2, "created")) == 20 && !*mlff_model_attr(l2, "format"));
  mlff_model_free(l2);
  mlff_model_free(l1);
  mlff_model_free(m);
}

/* ---- mutations of a good file -------------------------------------------------------------- */

static void set_str_attr(hid_t loc, const char *name, const char *const *v, int n, int vlen) {
  if (H5Aexists(loc, name) > 0) CHECK(H5Adelete(loc, name) >= 0);
  hid_t t = H5Tcopy(H5T_C_S1);
  hsize_t dim = n;
  hid_t sp = n ? H5Screate_simple(1, &dim, NULL) : H5Screate(H5S_SCALAR);
  char buf[16 * 32] = {0};
  const void *data = v;
  if (vlen) {
    H5Tset_size(t, H5T_VARIABLE);
  } else { /* fixed length, null-terminated, as other writers do it */
    H5Tset_size(t, 32);
    for (int i = 0; i < (n ? n : 1); i++) snprintf(buf + 32 * i, 32, "%s", v[i]);
    data = buf;
  }
  hid_t a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
  CHECK(a >= 0 && H5Awrite(a, t, data) >= 0);
  H5Aclose(a);
  H5Sclose(sp);
  H5Tclose(t);
}

static void set_num_attr(hid_t loc, const char *name, hid_t type, const void *v, int n) {
  if (H5Aexists(loc, name) > 0) CHECK(H5Adelete(loc, name) >= 0);
  hsize_t dim = n;
  hid_t sp = n ? H5Screate_simple(1, &dim, NULL) : H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(loc, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
  CHECK(a >= 0 && H5Awrite(a, type, v) >= 0);
  H5Aclose(a);
  H5Sclose(sp);
}

static void replace_dataset(hid_t f, const char *path, int rank, const hsize_t *dims,
                            const float *v) {
  CHECK(H5Ldelete(f, path, H5P_DEFAULT) >= 0);
  hid_t sp = H5Screate_simple(rank, dims, NULL);
  hid_t d = H5Dcreate2(f, path, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  CHECK(d >= 0 && H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
  H5Dclose(d);
  H5Sclose(sp);
}

static void m_foreign(hid_t f) { CHECK(H5Adelete(f, "format") >= 0); }
static void m_format(hid_t f) {
  const char *v[] = {"ase-trajectory"};
  set_str_attr(f, "format", v, 0, 0);
}
static void m_version(hid_t f) {
  int v = 3;
  set_num_attr(f, "format_version", H5T_NATIVE_INT, &v, 0);
}
static void m_arch(hid_t f) {
  const char *v[] = {"painn"};
  set_str_attr(f, "arch", v, 0, 1);
}
static void m_dup(hid_t f) {
  const char *v[] = {"H", "H"};
  set_str_attr(f, "elements", v, 2, 0);
}
static void m_unknown(hid_t f) {
  const char *v[] = {"H", "Xx"};
  set_str_attr(f, "elements", v, 2, 1);
}
static void m_vlen_ok(hid_t f) { /* as h5py writes Python str: variable-length */
  const char *v[] = {"H", "C"};
  set_str_attr(f, "elements", v, 2, 1);
  const char *a[] = {"celu"};
  set_str_attr(f, "activation", a, 0, 1);
}
static void m_no_dataset(hid_t f) {
  CHECK(H5Ldelete(f, "/networks/C/layer_1/W", H5P_DEFAULT) >= 0);
}
static void m_no_layer(hid_t f) { CHECK(H5Ldelete(f, "/networks/C/layer_2", H5P_DEFAULT) >= 0); }
static void m_shape(hid_t f) {
  float v[8 * 15] = {0};
  hsize_t d[2] = {8, 15};
  replace_dataset(f, "/networks/C/layer_1/W", 2, d, v);
}
static void m_bias_shape(hid_t f) {
  float v[9] = {0};
  hsize_t d[1] = {9};
  replace_dataset(f, "/networks/H/layer_1/b", 1, d, v);
}
static void m_nan(hid_t f) { /* C comes after H: the H network is already read (no leak) */
  hid_t d = H5Dopen2(f, "/networks/C/layer_0/W", H5P_DEFAULT);
  static float w[16 * 128];
  CHECK(d >= 0 && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, w) >= 0);
  w[2 * 128 + 5] = NAN;
  CHECK(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, w) >= 0);
  H5Dclose(d);
}
static void m_inf_bias(hid_t f) {
  hid_t d = H5Dopen2(f, "/networks/H/layer_2/b", H5P_DEFAULT);
  float b = INFINITY;
  CHECK(d >= 0 && H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, &b) >= 0);
  H5Dclose(d);
}
static void m_no_attr(hid_t f) {
  hid_t g = H5Gopen2(f, "/descriptor", H5P_DEFAULT);
  CHECK(H5Adelete(g, "etaA") >= 0);
  H5Gclose(g);
}
static void m_many_muR(hid_t f) {
  double mu[MLFF_MAX_RADIAL_SHELLS + 1];
  for (int k = 0; k <= MLFF_MAX_RADIAL_SHELLS; k++) mu[k] = 0.5 + 0.05 * k;
  hid_t g = H5Gopen2(f, "/descriptor", H5P_DEFAULT);
  set_num_attr(g, "muR", H5T_NATIVE_DOUBLE, mu, MLFF_MAX_RADIAL_SHELLS + 1);
  H5Gclose(g);
}
static void m_e0_count(hid_t f) {
  double e0[3] = {1, 2, 3};
  hid_t g = H5Gopen2(f, "/energy", H5P_DEFAULT);
  set_num_attr(g, "e0", H5T_NATIVE_DOUBLE, e0, 3);
  H5Gclose(g);
}
static void m_norm_shape(hid_t f) {
  float v[5] = {0};
  hsize_t d[1] = {5};
  replace_dataset(f, "/normalization/C/feature_max", 1, d, v);
}
static void set_min_distance(hid_t f, hid_t type, const void *v, int n) {
  hid_t g = H5Gopen2(f, "/normalization", H5P_DEFAULT);
  set_num_attr(g, "min_distance", type, v, n);
  H5Gclose(g);
}
static void m_min_count(hid_t f) {
  double v[3] = {1, 1, 1};
  set_min_distance(f, H5T_NATIVE_DOUBLE, v, 3);
}
static void m_min_negative(hid_t f) {
  double v[4] = {0, 0.95, 0.95, -1.3};
  set_min_distance(f, H5T_NATIVE_DOUBLE, v, 4);
}
static void m_min_asymmetric(hid_t f) {
  double v[4] = {0, 0.95, 0.96, 1.3};
  set_min_distance(f, H5T_NATIVE_DOUBLE, v, 4);
}
static void m_min_nan(hid_t f) {
  double v[4] = {0, NAN, NAN, 1.3};
  set_min_distance(f, H5T_NATIVE_DOUBLE, v, 4);
}
static void m_min_text(hid_t f) {
  const char *v[] = {"0.95"};
  hid_t g = H5Gopen2(f, "/normalization", H5P_DEFAULT);
  set_str_attr(g, "min_distance", v, 0, 0);
  H5Gclose(g);
}
static void m_min_absent(hid_t f) { /* a file written before the attribute existed */
  CHECK(H5Adelete_by_name(f, "/normalization", "min_distance", H5P_DEFAULT) >= 0);
}
static void m_activation(hid_t f) {
  const char *v[] = {"relu"};
  set_str_attr(f, "activation", v, 0, 0);
}

/* Copy the good file to NAME.h5 and apply fn to the copy; returns the copy's path. */
static const char *mutated(const char *good, const char *name, void (*fn)(hid_t),
                           char *buf, size_t size) {
  char leaf[128];
  snprintf(leaf, sizeof leaf, "bad_%s.h5", name);
  tmp_path(buf, size, dir, leaf);
  copy_file(good, buf);
  hid_t f = H5Fopen(buf, H5F_ACC_RDWR, H5P_DEFAULT);
  CHECK(f >= 0);
  fn(f);
  CHECK(H5Fclose(f) >= 0);
  return buf;
}

static void test_bad_files(void) {
  char good[512], p[512];
  tmp_path(good, sizeof good, dir, "model_good.h5");
  mlff_model *m = make_model(7), *l = NULL;
  CHECK_OK(mlff_model_save(m, good));
  mlff_model_free(m);

  /* libhdf5 must print nothing: send stderr to a file during the refusals and check it. */
  char errlog[512];
  tmp_path(errlog, sizeof errlog, dir, "model_stderr.txt");
  fflush(stderr);
  int saved = dup(fileno(stderr));
  CHECK(saved >= 0 && freopen(errlog, "w", stderr));
  H5E_auto2_t before_fn;
  void *before_data;
  H5Eget_auto2(H5E_DEFAULT, &before_fn, &before_data);

  tmp_path(p, sizeof p, dir, "no-such-model.h5");
  CHECK_FAILS(mlff_model_load(p, &l), MLFF_ERR_IO, p, "cannot open model file",
              "No such file or directory");
  CHECK(l == NULL);
  CHECK_FAILS(mlff_model_load(dir, &l), MLFF_ERR_IO, dir, "directory");

  tmp_path(p, sizeof p, dir, "model_text.h5");
  write_text(p, "this is a text file, not a model\n");
  CHECK_FAILS(mlff_model_load(p, &l), MLFF_ERR_IO, p, "not an HDF5 file");

  /* foreign HDF5: a file another program wrote, no format attribute at all */
  tmp_path(p, sizeof p, dir, "model_foreign.h5");
  hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t d3 = 3;
  hid_t sp = H5Screate_simple(1, &d3, NULL);
  hid_t ds = H5Dcreate2(f, "positions", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT,
                        H5P_DEFAULT);
  CHECK(f >= 0 && ds >= 0);
  H5Dclose(ds);
  H5Sclose(sp);
  H5Fclose(f);
  CHECK_FAILS(mlff_model_load(p, &l), MLFF_ERR_FORMAT, p, "not an mlff model file", "'format'");

  struct {
    const char *name;
    void (*fn)(hid_t);
    const char *sub[3];
  } cases[] = {
      {"foreign2", m_foreign, {"not an mlff model file", "'format'", NULL}},
      {"format", m_format, {"not an mlff model file", "ase-trajectory", "'format'"}},
      {"version", m_version, {"'format_version' is 3", "up to 2", "upgrade mlff"}},
      {"arch", m_arch, {"'arch'", "painn", "upgrade mlff"}},
      {"dup", m_dup, {"'elements'", "'H' twice", NULL}},
      {"unknown", m_unknown, {"'elements'", "'Xx'", NULL}},
      {"no_dataset", m_no_dataset, {"/networks/C/layer_1/W", "missing", NULL}},
      {"no_layer", m_no_layer, {"/networks/C/layer_1/W", "[8, 16]", "expected [1, 16]"}},
      {"shape", m_shape, {"/networks/C/layer_1/W", "shape [8, 15]", "expected [out, 16]"}},
      {"bias_shape", m_bias_shape, {"/networks/H/layer_1/b", "[9]", "expected [8]"}},
      {"nan", m_nan, {"/networks/C/layer_0/W", "non-finite", "[2, 5]"}},
      {"inf", m_inf_bias, {"/networks/H/layer_2/b", "inf", "[0]"}},
      {"no_attr", m_no_attr, {"'etaA'", "/descriptor", "missing"}},
      {"many_muR", m_many_muR, {"'muR'", "/descriptor", "at most 64"}},
      {"e0_count", m_e0_count, {"'e0'", "/energy", "expected 2"}},
      {"norm_shape", m_norm_shape, {"/normalization/C/feature_max", "[5]", "expected [128]"}},
      {"activation", m_activation, {"'activation'", "relu", NULL}},
      {"min_count", m_min_count, {"'min_distance' of /normalization", "3 values", "expected 4"}},
      {"min_negative", m_min_negative,
       {"'min_distance' of /normalization", "[1][1] (C-C) is -1.3", "must be >= 0"}},
      {"min_asymmetric", m_min_asymmetric,
       {"'min_distance' of /normalization is not symmetric", "[0][1] = 0.95", "[1][0] = 0.96"}},
      {"min_nan", m_min_nan, {"'min_distance' of /normalization", "non-finite", "index 1"}},
      {"min_text", m_min_text, {"'min_distance' of /normalization", "expected a number", NULL}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    mutated(good, cases[i].name, cases[i].fn, p, sizeof p);
    mlff_status st = mlff_model_load(p, &l);
    if (st == MLFF_OK || st != MLFF_ERR_FORMAT) {
      fprintf(stdout, "case %s: status %s: %s\n", cases[i].name, mlff_status_name(st),
              mlff_last_error());
      CHECK(st == MLFF_ERR_FORMAT);
    }
    CHECK(l == NULL);
    const char *msg = mlff_last_error();
    if (!strstr(msg, p)) printf("case %s: message lacks the path: %s\n", cases[i].name, msg);
    CHECK(strstr(msg, p));
    for (int k = 0; k < 3 && cases[i].sub[k]; k++) {
      if (!strstr(msg, cases[i].sub[k]))
        printf("case %s: message lacks \"%s\": %s\n", cases[i].name, cases[i].sub[k], msg);
      CHECK(strstr(msg, cases[i].sub[k]));
    }
  }

  /* a model without the closest distances in training (older files) loads, recording none */
  mutated(good, "min_absent", m_min_absent, p, sizeof p);
  CHECK_OK(mlff_model_load(p, &l));
  CHECK(mlff_model_min_distance(l, 0, 1) == 0.0 && mlff_model_min_distance(l, 1, 1) == 0.0);
  mlff_model_free(l);
  CHECK_OK(mlff_model_load(good, &l));
  CHECK(mlff_model_min_distance(l, 1, 0) == 0.9512 && mlff_model_min_distance(l, 0, 0) == 0.0);
  mlff_model_free(l);

  /* variable-length strings (as h5py writes Python str) are read as well */
  mutated(good, "vlen", m_vlen_ok, p, sizeof p);
  CHECK_OK(mlff_model_load(p, &l));
  CHECK(!strcmp(mlff_model_element(l, 1), "C") && l->activation == MLFF_ACT_CELU);
  mlff_model_free(l);

  /* saving where it cannot be written names the file and the reason */
  tmp_path(p, sizeof p, dir, "no-such-dir/model.h5");
  CHECK_OK(mlff_model_load(good, &l));
  CHECK_FAILS(mlff_model_save(l, p), MLFF_ERR_IO, p, "No such file or directory");
  mlff_model_free(l);

  H5E_auto2_t after_fn;
  void *after_data;
  H5Eget_auto2(H5E_DEFAULT, &after_fn, &after_data);
  fflush(stderr);
  CHECK(dup2(saved, fileno(stderr)) >= 0);
  close(saved);
  CHECK(after_fn == before_fn && after_data == before_data); /* printing restored */
  size_t n;
  char *log = read_all(errlog, &n);
  if (n) fprintf(stderr, "libhdf5 printed while refusing bad files:\n%.2000s\n", log);
  CHECK(n == 0);
  free(log);

  CHECK_FAILS(mlff_model_load(NULL, &l), MLFF_ERR_ARGUMENT, "path");
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s TMPDIR\n", argv[0]);
    return 2;
  }
  dir = argv[1];
  test_round_trip();
  test_bad_files();
  printf("test_model_io: ok\n");
  return 0;
}
