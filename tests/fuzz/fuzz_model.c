/* fuzz_model.c — libFuzzer harness of the model reader, mlff_model_load (core/src/model_io.c).
 * An input that starts with HDF5's signature is written as it is (byte fuzzing: mostly
 * libhdf5's parser); any other input is structure-aware (fuzz_h5.h): its first 4 bytes shape a
 * valid model file (elements, layers, descriptor, optional parts: normalization and its closest
 * pairs, dispersion and its three-body term, electrostatics and their bond-charge increments,
 * a committee of 2 or 3) and the rest edits its
 * fields, so that the reader's own checks run. A load either succeeds or fails with a message
 * naming the file; it must not crash, trip a sanitizer, leak memory or leave HDF5 objects open. */
#include "fuzz_h5.h"

#include "mlff.h"

#define MODEL_FIELDS 128

/* <loc>/networks/<Symbol>/layer_<l>/{W, b} of a network D -> width^n_hidden -> 1 per element. */
static void write_networks(fz_file *z, hid_t loc, const char *const *elements, int ne, int D,
                           int n_hidden, int width, const double *w) {
  hid_t nets = fz_group(z, loc, "networks");
  for (int e = 0; e < ne; e++) {
    hid_t ge = fz_group(z, nets, elements[e]);
    int in = D;
    for (int l = 0; l <= n_hidden; l++) {
      char name[16];
      snprintf(name, sizeof name, "layer_%d", l);
      hid_t gl = fz_group(z, ge, name);
      int out = l == n_hidden ? 1 : width;
      hsize_t dW[2] = {(hsize_t)out, (hsize_t)in}, db[1] = {(hsize_t)out};
      fz_write(z, gl, "W", 0, FZ_F32, 2, dW, w, NULL);
      fz_write(z, gl, "b", 0, FZ_F32, 1, db, w, NULL);
      fz_group_close(gl);
      in = out;
    }
    fz_group_close(ge);
  }
  fz_group_close(nets);
}

/* A small valid model, shaped by the 4 header bytes, with the edits of z applied. */
static void write_model(const char *path, fuzz_bytes *b) {
  unsigned h0 = fuzz_u8(b), h1 = fuzz_u8(b), h2 = fuzz_u8(b), h3 = fuzz_u8(b);
  static const char *const SYM[4] = {"H", "C", "O", "N"};
  int ne = 1 + h0 % 3, n_hidden = h1 % 3, width = 1 + (h1 >> 2) % 4;
  int nR = 1 + h2 % 3, nA = 1 + (h2 >> 2) % 2, nZ = 1 + (h2 >> 3) % 2;
  int norm = h3 & 1, disp = h3 & 2, three = h3 & 8, vlen = !(h3 & 16);
  int members = h3 & 32 ? 2 + (h3 >> 6) % 2 : 1, min_dist = h2 & 16;
  int coul = h2 & 32, increments = h2 & 64;
  const char *elements[3];
  for (int e = 0; e < ne; e++) elements[e] = SYM[(e + (h0 >> 2)) % 4];
  int D = ne * nR + ne * (ne + 1) / 2 * nA * nZ;
  fz_file z;
  fz_init(&z, b, MODEL_FIELDS);
  hid_t f = fz_create(path);
  if (f < 0) abort();

  const char *s1[1];
  s1[0] = "mlff-model";
  fz_attr_str(&z, f, "format", vlen, -1, s1);
  const double one = 1;
  fz_attr_num(&z, f, "format_version", FZ_I64, -1, &one);
  s1[0] = "aev-mlp";
  fz_attr_str(&z, f, "arch", vlen, -1, s1);
  fz_attr_str(&z, f, "elements", vlen, ne, elements);
  s1[0] = h3 & 4 ? "celu" : "silu";
  fz_attr_str(&z, f, "activation", vlen, -1, s1);
  s1[0] = "{\"epochs\": 3}";
  fz_attr_str(&z, f, "training_summary", vlen, -1, s1);
  s1[0] = "GFN2-xTB";
  fz_attr_str(&z, f, "teacher", !vlen, -1, s1);

  hid_t g = fz_group(&z, f, "descriptor");
  const double Rcr = 5.2, Rca = 3.5, etaR = 16, etaA = 8, zeta = 32;
  fz_attr_num(&z, g, "Rcr", FZ_F64, -1, &Rcr);
  fz_attr_num(&z, g, "Rca", FZ_F64, -1, &Rca);
  fz_attr_num(&z, g, "etaR", FZ_F64, -1, &etaR);
  fz_attr_num(&z, g, "etaA", FZ_F64, -1, &etaA);
  fz_attr_num(&z, g, "zeta", FZ_F64, -1, &zeta);
  double mu[8];
  for (int k = 0; k < 8; k++) mu[k] = 0.9 + 0.5 * k;
  fz_attr_num(&z, g, "muR", FZ_F64, nR, mu);
  fz_attr_num(&z, g, "muA", FZ_F64, nA, mu);
  fz_attr_num(&z, g, "thetaZ", FZ_F64, nZ, mu);
  fz_group_close(g);

  g = fz_group(&z, f, "energy");
  const double e0[3] = {-13.6, -1030.5, -2040.1}, scale = 0.5;
  fz_attr_num(&z, g, "e0", FZ_F64, ne, e0);
  fz_attr_num(&z, g, "scale", FZ_F64, -1, &scale);
  fz_group_close(g);

  double w[FZ_MAX_VALUES];
  for (int i = 0; i < FZ_MAX_VALUES; i++) w[i] = 0.01 * ((i * 37) % 23 - 11);
  write_networks(&z, f, elements, ne, D, n_hidden, width, w);
  if (norm) {
    hid_t gn = fz_group(&z, f, "normalization");
    for (int e = 0; e < ne; e++) {
      hid_t ge = fz_group(&z, gn, elements[e]);
      hsize_t dD[1] = {(hsize_t)D};
      fz_write(&z, ge, "feature_min", 0, FZ_F32, 1, dD, w, NULL);
      fz_write(&z, ge, "feature_max", 0, FZ_F32, 1, dD, w + 1, NULL);
      fz_group_close(ge);
    }
    if (min_dist) { /* the closest pairs in training, [ne * ne], symmetric */
      double r[9];
      for (int i = 0; i < ne * ne; i++) r[i] = 0.7 + 0.1 * (i / ne + i % ne);
      fz_attr_num(&z, gn, "min_distance", FZ_F64, ne * ne, r);
    }
    fz_group_close(gn);
  }
  if (disp) {
    hid_t gd = fz_group(&z, f, "dispersion");
    const double s6 = 1, s8 = 2.7, a1 = 0.52, a2 = 2.65, cutoff = 10, tail = 1;
    fz_attr_num(&z, gd, "s6", FZ_F64, -1, &s6);
    fz_attr_num(&z, gd, "s8", FZ_F64, -1, &s8);
    fz_attr_num(&z, gd, "a1", FZ_F64, -1, &a1);
    fz_attr_num(&z, gd, "a2", FZ_F64, -1, &a2);
    fz_attr_num(&z, gd, "cutoff", FZ_F64, -1, &cutoff);
    fz_attr_num(&z, gd, "tail", FZ_I64, -1, &tail);
    double c6[9], c8[9];
    for (int i = 0; i < ne * ne; i++) {
      c6[i] = 2.0 + (i / ne) + (i % ne);
      c8[i] = 40.0 * c6[i];
    }
    fz_attr_num(&z, gd, "c6", FZ_F64, ne * ne, c6);
    fz_attr_num(&z, gd, "c8", FZ_F64, ne * ne, c8);
    if (three) { /* D4's three-body term */
      const double s9 = 5, alp = 16, cutoff3 = 8;
      fz_attr_num(&z, gd, "s9", FZ_F64, -1, &s9);
      fz_attr_num(&z, gd, "alp", FZ_F64, -1, &alp);
      fz_attr_num(&z, gd, "cutoff3", FZ_F64, -1, &cutoff3);
    }
    fz_group_close(gd);
  }
  if (coul) { /* electrostatics, with bond-charge increments or by element alone */
    hid_t gq = fz_group(&z, f, "electrostatics");
    const double alpha = 0.1, cutoff = 9, factor = 1.25;
    double q[3], inc[9], radii[3];
    for (int a = 0; a < ne; a++) {
      q[a] = 0.1 * (a - 1), radii[a] = 0.3 + 0.4 * a;
      for (int c = 0; c < ne; c++) inc[a * ne + c] = 0.05 * (c - a);
    }
    fz_attr_num(&z, gq, "charges", FZ_F64, ne, q);
    fz_attr_num(&z, gq, "alpha", FZ_F64, -1, &alpha);
    fz_attr_num(&z, gq, "cutoff", FZ_F64, -1, &cutoff);
    if (increments) {
      fz_attr_num(&z, gq, "increments", FZ_F64, ne * ne, inc);
      fz_attr_num(&z, gq, "bond_radii", FZ_F64, ne, radii);
      fz_attr_num(&z, gq, "bond_factor", FZ_F64, -1, &factor);
    }
    fz_group_close(gq);
  }
  if (members > 1) { /* a committee: members 1 .. K-1 beside /energy and /networks */
    hid_t gc = fz_group(&z, f, "committee");
    const double size = members;
    fz_attr_num(&z, gc, "size", FZ_I64, -1, &size);
    for (int k = 1; k < members; k++) {
      char name[16];
      snprintf(name, sizeof name, "member_%d", k);
      hid_t gm = fz_group(&z, gc, name);
      hid_t ge = fz_group(&z, gm, "energy");
      fz_attr_num(&z, ge, "e0", FZ_F64, ne, e0);
      fz_attr_num(&z, ge, "scale", FZ_F64, -1, &scale);
      fz_group_close(ge);
      write_networks(&z, gm, elements, ne, D, n_hidden, width, w + k);
      fz_group_close(gm);
    }
    fz_group_close(gc);
  }
  H5Fclose(f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fz_h5_init();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[4096];
  fz_input_file(data, size, path, write_model);
  mlff_model *m = NULL;
  mlff_status st = mlff_model_load(path, &m);
  if (st == MLFF_OK) {
    /* a model that loads answers the questions its users ask first */
    for (int e = 0; e < mlff_model_n_elements(m); e++)
      if (mlff_model_find_element(m, mlff_model_element(m, e)) != e) abort();
    if (!(mlff_model_cutoff(m) > 0) || mlff_model_n_features(m) < 1) abort();
    mlff_model_free(m);
  }
  fz_after("fuzz_model", "mlff_model_load", st, path);
  return 0;
}
