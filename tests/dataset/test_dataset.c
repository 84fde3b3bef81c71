/* test_dataset.c — datasets (docs/file_format.md): round trip, appends, the h5py layout, every refusal of
 * a damaged file with its message, and SHA-256.
 * Usage: test_dataset TMPDIR DATADIR [MLFF]: with the mlff program, tests `mlff import`. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>

#include "io_test.h"
#include "mlff_distill.h"

static const char *tmp, *data;

/* ---- a dataset to play with ------------------------------------------------------------------- */

/* Structure s: 2 + s atoms; s == 2 periodic along a and b. Values are exact binary fractions
 * plus irrational-ish parts so any conversion error shows. */
static void make_frame(int s, mlff_frame *f, int *Z, double *x, double *F) {
  memset(f, 0, sizeof *f);
  int n = 2 + s;
  for (int a = 0; a < n; a++) {
    Z[a] = a % 3 == 0 ? 6 : a % 3 == 1 ? 1 : 8;
    for (int k = 0; k < 3; k++) {
      x[3 * a + k] = 0.1 * s + 1.3 * a + 0.7 * k + sqrt(2.0) * 1e-3 * (a + k);
      F[3 * a + k] = -0.25 * s + 0.125 * a - k / 3.0;
    }
  }
  f->n_atoms = n;
  f->atomic_numbers = Z;
  f->positions = x;
  f->forces = F;
  f->energy = -100.0 * (s + 1) - 1.0 / 7.0;
  f->has_energy = f->has_forces = 1;
  if (s == 2) {
    double cell[9] = {5.5, 0, 0, 0.25, 6.5, 0, 0, 0, 7.5};
    memcpy(f->cell, cell, sizeof cell);
    f->has_cell = 1;
    f->pbc[0] = f->pbc[1] = 1;
  }
}

static const char *SOURCES[] = {"md300", "nm", "dimer", "far_dimer", "trimer"};

static mlff_dataset *make_dataset(int first, int count) {
  mlff_dataset *d;
  CHECK_OK(mlff_dataset_create(&d));
  CHECK_OK(mlff_dataset_set_attr(d, "teacher", "test teacher"));
  CHECK_OK(mlff_dataset_set_attr(d, "note", "ünïcode ok"));
  for (int s = first; s < first + count; s++) {
    mlff_frame f;
    int Z[16];
    double x[48], F[48];
    make_frame(s, &f, Z, x, F);
    CHECK_OK(mlff_dataset_add(d, &f, SOURCES[s % 5]));
  }
  return d;
}

/* a and b hold the same structures, bit for bit. */
static void check_same(const mlff_dataset *a, const mlff_dataset *b) {
  CHECK(mlff_dataset_size(a) == mlff_dataset_size(b));
  CHECK(!strcmp(mlff_dataset_attr(a, "teacher"), mlff_dataset_attr(b, "teacher")));
  for (int i = 0; i < mlff_dataset_size(a); i++) {
    mlff_frame f, g;
    const char *sf, *sg;
    CHECK_OK(mlff_dataset_get(a, i, &f, &sf));
    CHECK_OK(mlff_dataset_get(b, i, &g, &sg));
    CHECK(f.n_atoms == g.n_atoms);
    CHECK(!strcmp(sf, sg));
    CHECK(f.energy == g.energy);
    CHECK(f.has_cell == g.has_cell);
    CHECK(!memcmp(f.cell, g.cell, sizeof f.cell));
    CHECK(!memcmp(f.pbc, g.pbc, sizeof f.pbc));
    CHECK(!memcmp(f.atomic_numbers, g.atomic_numbers, (size_t)f.n_atoms * sizeof(int)));
    CHECK(!memcmp(f.positions, g.positions, (size_t)f.n_atoms * 3 * sizeof(double)));
    CHECK(!memcmp(f.forces, g.forces, (size_t)f.n_atoms * 3 * sizeof(double)));
  }
}

/* ---- editing files behind the library's back ------------------------------------------------------ */

static hid_t open_rw(const char *path) {
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  CHECK(f >= 0);
  return f;
}

/* Overwrite one element of an existing dataset (read all, change, write all). */
static void poke(const char *path, const char *ds, hid_t mem, size_t index, const void *value,
                 size_t elem) {
  hid_t f = open_rw(path), d = H5Dopen2(f, ds, H5P_DEFAULT);
  CHECK(d >= 0);
  hid_t sp = H5Dget_space(d);
  hssize_t n = H5Sget_simple_extent_npoints(sp);
  CHECK(n > (hssize_t)index);
  char *buf = malloc((size_t)n * elem);
  CHECK(buf && H5Dread(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
  memcpy(buf + index * elem, value, elem);
  CHECK(H5Dwrite(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
  free(buf);
  H5Sclose(sp);
  H5Dclose(d);
  CHECK(H5Fclose(f) >= 0);
}

static void poke_i64(const char *path, const char *ds, size_t index, int64_t v) {
  poke(path, ds, H5T_NATIVE_INT64, index, &v, sizeof v);
}

static void poke_f64(const char *path, const char *ds, size_t index, double v) {
  poke(path, ds, H5T_NATIVE_DOUBLE, index, &v, sizeof v);
}

static void set_units(const char *path, const char *units) {
  hid_t f = open_rw(path), g = H5Gopen2(f, "/labels", H5P_DEFAULT);
  CHECK(g >= 0 && H5Adelete(g, "units") >= 0);
  if (units) {
    hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR);
    H5Tset_size(t, strlen(units));
    hid_t a = H5Acreate2(g, "units", t, sp, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(a >= 0 && H5Awrite(a, t, units) >= 0);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
  }
  H5Gclose(g);
  CHECK(H5Fclose(f) >= 0);
}

static void delete_link(const char *path, const char *name) {
  hid_t f = open_rw(path);
  CHECK(H5Ldelete(f, name, H5P_DEFAULT) >= 0);
  CHECK(H5Fclose(f) >= 0);
}

/* Replace a dataset by one of another length (a 1-D int64 array of n values). */
static void replace_i64(const char *path, const char *name, hsize_t n) {
  delete_link(path, name);
  hid_t f = open_rw(path), sp = H5Screate_simple(1, &n, NULL);
  int64_t *v = calloc(n ? n : 1, sizeof *v);
  for (hsize_t i = 0; i < n; i++) v[i] = (int64_t)(2 * i + 2);
  hid_t d = H5Dcreate2(f, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  CHECK(d >= 0 && H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
  free(v);
  H5Dclose(d);
  H5Sclose(sp);
  CHECK(H5Fclose(f) >= 0);
}

/* A new dataset `name` in the file (deleted first if there), of file type ftype and the given
 * shape, chunked and extendable when `extendable` (as mlff writes), from buf of type mem. */
static void put_ds(const char *path, const char *name, hid_t ftype, int rank, const hsize_t *dims,
                   int extendable, hid_t mem, const void *buf) {
  hid_t f = open_rw(path);
  if (H5Lexists(f, name, H5P_DEFAULT) > 0) CHECK(H5Ldelete(f, name, H5P_DEFAULT) >= 0);
  hsize_t maxd[2] = {H5S_UNLIMITED, rank > 1 ? dims[1] : 0}, chunk[2] = {16, maxd[1]};
  hid_t sp = H5Screate_simple(rank, dims, extendable ? maxd : NULL);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (extendable) H5Pset_chunk(dcpl, rank, chunk);
  hid_t d = H5Dcreate2(f, name, ftype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  CHECK(d >= 0);
  if (dims[0]) CHECK(H5Dwrite(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
  H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(sp);
  CHECK(H5Fclose(f) >= 0);
}

/* Rows of a 1-D or 2-D dataset, and its type class; its values read as type mem into buf
 * (NULL: not read). */
static hsize_t get_ds(const char *path, const char *name, hid_t mem, void *buf,
                      H5T_class_t *cls) {
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  CHECK(f >= 0);
  hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
  if (d < 0) printf("get_ds: %s has no %s\n", path, name);
  CHECK(d >= 0);
  hid_t sp = H5Dget_space(d), t = H5Dget_type(d);
  hsize_t dims[2] = {0, 0};
  CHECK(H5Sget_simple_extent_ndims(sp) <= 2);
  H5Sget_simple_extent_dims(sp, dims, NULL);
  if (cls) *cls = H5Tget_class(t);
  if (buf && dims[0]) CHECK(H5Dread(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
  H5Tclose(t);
  H5Sclose(sp);
  H5Dclose(d);
  H5Fclose(f);
  return dims[0];
}

static int has_ds(const char *path, const char *name) {
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  CHECK(f >= 0);
  int yes = H5Lexists(f, name, H5P_DEFAULT) > 0;
  H5Fclose(f);
  return yes;
}

/* Both splits datasets of path are the N+1 cumulative offsets `want` (n + 1 values). */
static void check_splits_n1(const char *path, const int64_t *want, int n) {
  int64_t got[64];
  CHECK(n + 1 <= 64);
  static const char *const names[] = {"/structures/atomic_numbers_splits",
                                      "/labels/forces_splits"};
  for (int k = 0; k < 2; k++) {
    CHECK(get_ds(path, names[k], H5T_NATIVE_INT64, NULL, NULL) == (hsize_t)n + 1);
    get_ds(path, names[k], H5T_NATIVE_INT64, got, NULL);
    for (int i = 0; i <= n; i++)
      if (got[i] != want[i]) {
        printf("%s %s[%d] = %lld, expected %lld\n", path, names[k], i, (long long)got[i],
               (long long)want[i]);
        exit(1);
      }
  }
}

/* Rewrite path's splits in the form mlff <= 0.1 wrote: the N-1 interior offsets, chunked and
 * extendable. */
static void to_old_form(const char *path) {
  int64_t s[64];
  hsize_t rows = get_ds(path, "/structures/atomic_numbers_splits", H5T_NATIVE_INT64, NULL, NULL);
  CHECK(rows >= 1 && rows <= 64);
  get_ds(path, "/structures/atomic_numbers_splits", H5T_NATIVE_INT64, s, NULL);
  hsize_t interior = rows >= 2 ? rows - 2 : 0;
  put_ds(path, "/structures/atomic_numbers_splits", H5T_STD_I64LE, 1, &interior, 1,
         H5T_NATIVE_INT64, s + 1);
  put_ds(path, "/labels/forces_splits", H5T_STD_I64LE, 1, &interior, 1, H5T_NATIVE_INT64, s + 1);
}

/* A fresh good file named `name`: 5 structures with 2, 3, 4, 5, 6 atoms (splits 0 2 5 9 14 20). */
static const char *good_copy(char *buf, size_t size, const char *name) {
  tmp_path(buf, size, tmp, name);
  mlff_dataset *d = make_dataset(0, 5);
  CHECK_OK(mlff_dataset_save(d, buf));
  mlff_dataset_free(d);
  return buf;
}

static void refused(const char *path, mlff_status want, const char *a, const char *b,
                    const char *c, int line) {
  mlff_dataset *d = NULL;
  mlff_status st = mlff_dataset_load(path, &d);
  const char *subs[] = {path, a, b, c, NULL};
  if (!c) subs[3] = NULL;
  if (!b) subs[2] = NULL;
  check_fails_(st, want, "mlff_dataset_load", subs, __FILE__, line);
  CHECK(d == NULL);
}
#define REFUSED(path, want, ...) refused_va(path, want, __LINE__, __VA_ARGS__, NULL, NULL)
static void refused_va(const char *path, mlff_status want, int line, const char *a,
                       const char *b, const char *c, ...) {
  refused(path, want, a, b, c, line);
}

static void test_memory(void) {
  mlff_dataset *d = make_dataset(0, 4);
  CHECK(mlff_dataset_size(d) == 4);
  CHECK(!strcmp(mlff_dataset_attr(d, "units"), "eV, Angstrom"));
  CHECK(!strcmp(mlff_dataset_attr(d, "missing"), ""));
  mlff_frame f;
  const char *src;
  CHECK_OK(mlff_dataset_get(d, 2, &f, &src));
  CHECK(f.n_atoms == 4 && f.has_cell && f.pbc[0] && f.pbc[1] && !f.pbc[2]);
  CHECK(!strcmp(src, "dimer") && f.energy == -300.0 - 1.0 / 7.0);
  CHECK(f.atomic_numbers[0] == 6 && f.atomic_numbers[1] == 1 && f.atomic_numbers[2] == 8);
  /* Views are contiguous: structure 3 follows structure 2 in the same arrays. */
  mlff_frame g;
  CHECK_OK(mlff_dataset_get(d, 3, &g, NULL));
  CHECK(g.positions == f.positions + 3 * f.n_atoms && g.forces == f.forces + 3 * f.n_atoms);
  CHECK_OK(mlff_dataset_get(d, 0, &g, NULL));
  CHECK(!g.has_cell && !g.pbc[0]);
  CHECK_FAILS(mlff_dataset_get(d, 4, &g, NULL), MLFF_ERR_ARGUMENT, "structure 4 out of range");
  /* Refusals of mlff_dataset_add. */
  int Z[16];
  double x[48], F[48];
  make_frame(1, &f, Z, x, F);
  f.has_forces = 0;
  CHECK_FAILS(mlff_dataset_add(d, &f, "x"), MLFF_ERR_ARGUMENT, "lacks its forces");
  f.has_forces = 1;
  f.has_energy = 0;
  CHECK_FAILS(mlff_dataset_add(d, &f, "x"), MLFF_ERR_ARGUMENT, "lacks its energy");
  f.has_energy = 1;
  Z[1] = 0;
  CHECK_FAILS(mlff_dataset_add(d, &f, "x"), MLFF_ERR_ARGUMENT, "atom 1 has atomic number 0");
  Z[1] = 1;
  F[4] = NAN;
  CHECK_FAILS(mlff_dataset_add(d, &f, "x"), MLFF_ERR_ARGUMENT, "non-finite");
  CHECK(mlff_dataset_size(d) == 4);
  CHECK_FAILS(mlff_dataset_set_attr(d, "units", "kcal/mol, Angstrom"), MLFF_ERR_ARGUMENT,
              "kcal/mol", "eV");
  /* Spellings of eV and Å: mlff's, the pipeline's (energy, force), case and spaces ignored. */
  static const char *ok_units[] = {"eV/Å", "eV, Angstrom", "eV, eV/Angstrom", "eV, eV/Å",
                                   "eV, eV/A", "EV,EV/ANGSTROM", "ev , ev / angstroms",
                                   "eV, Ang", "eV/\xe2\x84\xab", "eV, Angstrom, eV/Angstrom"};
  for (size_t i = 0; i < sizeof ok_units / sizeof *ok_units; i++)
    CHECK_OK(mlff_dataset_set_attr(d, "units", ok_units[i]));
  static const char *bad_units[] = {"Hartree, Bohr", "eV, Bohr", "eV, eV/Bohr", "kcal/mol",
                                    "eV", "eV, eV/Angstrom, x", "meV, meV/Angstrom",
                                    "eV, Angstrom, kcal/mol/Angstrom"};
  for (size_t i = 0; i < sizeof bad_units / sizeof *bad_units; i++)
    CHECK_FAILS(mlff_dataset_set_attr(d, "units", bad_units[i]), MLFF_ERR_ARGUMENT,
                bad_units[i], "eV, eV/Angstrom");
  CHECK(!strcmp(mlff_dataset_attr(d, "units"), "eV, Angstrom")); /* what mlff writes */
  /* Source tags can be replaced. */
  CHECK_OK(mlff_dataset_set_source(d, 1, "relabelled"));
  CHECK_OK(mlff_dataset_get(d, 1, &g, &src));
  CHECK(!strcmp(src, "relabelled"));
  CHECK_FAILS(mlff_dataset_set_source(d, 4, "x"), MLFF_ERR_ARGUMENT, "structure 4 out of range");
  mlff_dataset_free(d);
}

static void test_round_trip(void) {
  char p1[512], p2[512], p3[512];
  tmp_path(p1, sizeof p1, tmp, "round.h5");
  tmp_path(p2, sizeof p2, tmp, "appended.h5");
  tmp_path(p3, sizeof p3, tmp, "union.h5");
  remove(p2);
  mlff_dataset *d = make_dataset(0, 5), *e;
  CHECK_OK(mlff_dataset_save(d, p1));
  static const int64_t splits5[] = {0, 2, 5, 9, 14, 20}; /* N+1, the pipeline's form */
  check_splits_n1(p1, splits5, 5);
  CHECK(!has_ds(p1, "/labels/stress") && !has_ds(p1, "/labels/structure_indices"));
  CHECK_OK(mlff_dataset_load(p1, &e));
  check_same(d, e);
  CHECK(!strcmp(mlff_dataset_attr(e, "note"), "ünïcode ok"));
  mlff_dataset_free(e);

  /* Append twice (the first creates the file) = save of the union. */
  mlff_dataset *a = make_dataset(0, 2), *b = make_dataset(2, 3);
  CHECK_OK(mlff_dataset_append(a, p2));
  CHECK_OK(mlff_dataset_append(b, p2));
  check_splits_n1(p2, splits5, 5);
  CHECK_OK(mlff_dataset_load(p2, &e));
  check_same(d, e);
  mlff_dataset_free(e);
  CHECK_OK(mlff_dataset_save(d, p3));
  mlff_dataset *u;
  CHECK_OK(mlff_dataset_load(p3, &u));
  check_same(d, u);
  mlff_dataset_free(u);

  /* Saving what was loaded gives the same bytes. */
  char p4[512], h1[65], h2[65];
  tmp_path(p4, sizeof p4, tmp, "round2.h5");
  CHECK_OK(mlff_dataset_load(p1, &e));
  CHECK_OK(mlff_dataset_save(e, p4));
  mlff_dataset_free(e);
  CHECK_OK(mlff_file_sha256(p1, h1));
  CHECK_OK(mlff_file_sha256(p4, h2));
  CHECK(!strcmp(h1, h2));

  /* Another teacher's labels are not mixed in. */
  CHECK_OK(mlff_dataset_set_attr(b, "teacher", "another teacher"));
  CHECK_FAILS(mlff_dataset_append(b, p2), MLFF_ERR_ARGUMENT, "appended.h5", "test teacher",
              "another teacher", "new file");
  CHECK_OK(mlff_dataset_load(p2, &e)); /* and the refusal left the file as it was */
  check_same(d, e);
  mlff_dataset_free(e);

  /* An empty dataset. */
  mlff_dataset *z;
  CHECK_OK(mlff_dataset_create(&z));
  CHECK_OK(mlff_dataset_save(z, p3));
  mlff_dataset_free(z);
  static const int64_t zero[] = {0};
  check_splits_n1(p3, zero, 0);
  CHECK_OK(mlff_dataset_load(p3, &z));
  CHECK(mlff_dataset_size(z) == 0);
  CHECK_OK(mlff_dataset_append(a, p3)); /* appending to an empty file */
  mlff_dataset_free(z);
  static const int64_t splits2[] = {0, 2, 5};
  check_splits_n1(p3, splits2, 2);
  CHECK_OK(mlff_dataset_load(p3, &z));
  check_same(a, z);
  mlff_dataset_free(z);
  mlff_dataset_free(a);
  mlff_dataset_free(b);
  mlff_dataset_free(d);
}

/* ---- the h5py layout ------------------------------------------------------------------------- */

static void test_h5py(void) {
  char in[512], copy[512], re[512];
  tmp_path(in, sizeof in, data, "h5py_dataset.h5");
  tmp_path(copy, sizeof copy, tmp, "h5py_copy.h5");
  tmp_path(re, sizeof re, tmp, "h5py_rewritten.h5");
  mlff_dataset *d;
  CHECK_OK(mlff_dataset_load(in, &d));
  CHECK(mlff_dataset_size(d) == 3);
  CHECK(!strcmp(mlff_dataset_attr(d, "teacher"), "h5py fixture"));
  static const int n[3] = {3, 5, 2}, z0[3] = {8, 6, 1};
  static const double e[3] = {-2079.25, -1104.25, -31.5}, scale[3] = {0.5, 0.25, 1.0};
  for (int s = 0; s < 3; s++) {
    mlff_frame f;
    const char *src;
    CHECK_OK(mlff_dataset_get(d, s, &f, &src));
    CHECK(f.n_atoms == n[s] && f.atomic_numbers[0] == z0[s] && f.energy == e[s]);
    CHECK(!strcmp(src, ""));
    for (int a = 0; a < f.n_atoms; a++)
      for (int k = 0; k < 3; k++) CHECK(f.forces[3 * a + k] == scale[s] * (a + 1) * (k - 1));
    CHECK(f.has_cell == (s == 2));
    CHECK(f.pbc[0] == (s == 2) && f.pbc[1] == (s == 2) && !f.pbc[2]);
    if (s == 2) CHECK(f.cell[0] == 5.0 && f.cell[4] == 6.0 && f.cell[6] == 0.5 && f.positions[3] == 0.74);
  }
  /* Appending needs extendable datasets: h5py's fixed-size ones are refused, with the way out. */
  copy_file(in, copy);
  CHECK_FAILS(mlff_dataset_append(d, copy), MLFF_ERR_FORMAT, "h5py_copy.h5", "fixed size",
              "mlff import");
  /* ... and once rewritten (what `mlff import IN.h5 OUT.h5` does), appends work. */
  CHECK_OK(mlff_dataset_save(d, re));
  CHECK_OK(mlff_dataset_append(d, re));
  mlff_dataset *r;
  CHECK_OK(mlff_dataset_load(re, &r));
  CHECK(mlff_dataset_size(r) == 6);
  mlff_frame f, g;
  CHECK_OK(mlff_dataset_get(r, 5, &f, NULL));
  CHECK_OK(mlff_dataset_get(d, 2, &g, NULL));
  CHECK(f.n_atoms == g.n_atoms && f.energy == g.energy && f.pbc[0] && f.has_cell);
  mlff_dataset_free(r);
  mlff_dataset_free(d);
}

/* ---- files of mlff <= 0.1 (N-1 interior splits) ------------------------------------------------ */

/* `mlff label` resumes by appending to its file: one written before the splits became the
 * pipeline's N+1 offsets is appended to, and its splits are rewritten in that form. */
static void test_old_form_append(void) {
  /* data/mlff01_dataset.h5: data/h5py_dataset.h5 imported by mlff 0.1 (`mlff import
   * h5py_dataset.h5 mlff01_dataset.h5 --source mlff01`, before this change): splits 3 8. */
  char in[512], p[512];
  tmp_path(in, sizeof in, data, "mlff01_dataset.h5");
  tmp_path(p, sizeof p, tmp, "mlff01_appended.h5");
  CHECK(get_ds(in, "/structures/atomic_numbers_splits", H5T_NATIVE_INT64, NULL, NULL) == 2);
  mlff_dataset *old, *h, *add = make_dataset(0, 2), *u;
  CHECK_OK(mlff_dataset_load(in, &old));
  tmp_path(p, sizeof p, data, "h5py_dataset.h5");
  CHECK_OK(mlff_dataset_load(p, &h));
  CHECK(mlff_dataset_size(old) == 3);
  for (int i = 0; i < 3; i++) { /* the same structures as the h5py fixture it came from */
    mlff_frame f, g;
    const char *src;
    CHECK_OK(mlff_dataset_get(old, i, &f, &src));
    CHECK_OK(mlff_dataset_get(h, i, &g, NULL));
    CHECK(!strcmp(src, "mlff01") && f.n_atoms == g.n_atoms && f.energy == g.energy);
    CHECK(!memcmp(f.forces, g.forces, (size_t)f.n_atoms * 3 * sizeof(double)));
  }
  mlff_dataset_free(h);
  /* Append two structures (2 and 3 atoms) to a copy: what a resumed `mlff label` does. */
  tmp_path(p, sizeof p, tmp, "mlff01_appended.h5");
  copy_file(in, p);
  CHECK_OK(mlff_dataset_set_attr(add, "teacher", "h5py fixture"));
  CHECK_OK(mlff_dataset_append(add, p));
  static const int64_t want[] = {0, 3, 8, 10, 12, 15};
  check_splits_n1(p, want, 5);
  CHECK_OK(mlff_dataset_load(p, &u));
  for (int i = 0; i < 2; i++) { /* old holds the union now, to compare with */
    mlff_frame f;
    const char *src;
    CHECK_OK(mlff_dataset_get(add, i, &f, &src));
    CHECK_OK(mlff_dataset_add(old, &f, src));
  }
  CHECK_OK(mlff_dataset_set_attr(old, "teacher", "h5py fixture"));
  check_same(old, u);
  mlff_dataset_free(u);
  /* Appending again extends the N+1 offsets. */
  CHECK_OK(mlff_dataset_append(add, p));
  static const int64_t want2[] = {0, 3, 8, 10, 12, 15, 17, 20};
  check_splits_n1(p, want2, 7);
  CHECK_OK(mlff_dataset_load(p, &u));
  CHECK(mlff_dataset_size(u) == 7);
  mlff_dataset_free(u);
  mlff_dataset_free(old);

  /* Old-form files of 0 and 1 structures (0 splits rows either way). */
  for (int n0 = 0; n0 <= 1; n0++) {
    char q[512];
    tmp_path(q, sizeof q, tmp, n0 ? "old_one.h5" : "old_empty.h5");
    mlff_dataset *first = make_dataset(0, n0);
    CHECK_OK(mlff_dataset_set_attr(first, "teacher", "h5py fixture"));
    CHECK_OK(mlff_dataset_save(first, q));
    to_old_form(q);
    CHECK(get_ds(q, "/structures/atomic_numbers_splits", H5T_NATIVE_INT64, NULL, NULL) == 0);
    CHECK_OK(mlff_dataset_load(q, &u));
    CHECK(mlff_dataset_size(u) == n0);
    mlff_dataset_free(u);
    CHECK_OK(mlff_dataset_append(add, q));
    static const int64_t w0[] = {0, 2, 5}, w1[] = {0, 2, 4, 7};
    check_splits_n1(q, n0 ? w1 : w0, n0 + 2);
    CHECK_OK(mlff_dataset_load(q, &u));
    CHECK(mlff_dataset_size(u) == n0 + 2);
    mlff_dataset_free(u);
    mlff_dataset_free(first);
  }
  mlff_dataset_free(add);
}

/* ---- the pipeline's optional labels: stress, stress_mask, structure_indices ------------------- */

/* Adds /labels/stress (float32 [5, 6]) to a good_copy, with a mask of class mask_type (or none)
 * marking structures 1 and 3 and structure_indices 10 .. 14 (or none). Fixed-size datasets, as
 * h5py writes them. */
static void add_stress(const char *path, hid_t mask_type, int with_sidx) {
  double st[30];
  for (int i = 0; i < 30; i++) st[i] = (i / 6 == 1 || i / 6 == 3) ? 0.125 * (i + 1) : 0.0;
  hsize_t dims[2] = {5, 6};
  put_ds(path, "/labels/stress", H5T_IEEE_F32LE, 2, dims, 0, H5T_NATIVE_DOUBLE, st);
  if (mask_type >= 0) {
    double m[5] = {0, 1, 0, 1, 0};
    put_ds(path, "/labels/stress_mask", mask_type, 1, dims, 0, H5T_NATIVE_DOUBLE, m);
  }
  if (with_sidx) {
    int64_t ix[5] = {10, 11, 12, 13, 14};
    put_ds(path, "/labels/structure_indices", H5T_STD_I64LE, 1, dims, 0, H5T_NATIVE_INT64, ix);
  }
}

static void check_doubles(const char *path, const char *name, const double *want, int n,
                          H5T_class_t want_class) {
  double got[96];
  H5T_class_t c;
  CHECK(n <= 96);
  hsize_t per_row = strstr(name, "stress_mask") || strstr(name, "indices") ? 1 : 6;
  CHECK(get_ds(path, name, H5T_NATIVE_DOUBLE, NULL, &c) * per_row == (hsize_t)n);
  get_ds(path, name, H5T_NATIVE_DOUBLE, got, NULL);
  if (c != want_class) {
    printf("%s %s: class %d, expected %d\n", path, name, (int)c, (int)want_class);
    exit(1);
  }
  for (int i = 0; i < n; i++)
    if (got[i] != want[i]) {
      printf("%s %s[%d] = %g, expected %g\n", path, name, i, got[i], want[i]);
      exit(1);
    }
}

static void test_stress(void) {
  char p[512], q[512], r[512];
  mlff_dataset *d, *e;
  double st[42] = {0}, m[7], ix[7];
  for (int i = 0; i < 30; i++) st[i] = (i / 6 == 1 || i / 6 == 3) ? 0.125 * (i + 1) : 0.0;
  /* Read and written back as they were (float stresses, an integer mask stays integer). */
  good_copy(p, sizeof p, "stress.h5");
  add_stress(p, H5T_STD_I32LE, 1);
  CHECK_OK(mlff_dataset_load(p, &d));
  tmp_path(q, sizeof q, tmp, "stress_saved.h5");
  CHECK_OK(mlff_dataset_save(d, q));
  double m5[5] = {0, 1, 0, 1, 0}, ix5[5] = {10, 11, 12, 13, 14};
  check_doubles(q, "/labels/stress", st, 30, H5T_FLOAT);
  check_doubles(q, "/labels/stress_mask", m5, 5, H5T_INTEGER);
  check_doubles(q, "/labels/structure_indices", ix5, 5, H5T_INTEGER);
  /* Structures without them: zero stress marked no label, their own index; in memory... */
  mlff_dataset *more = make_dataset(5, 2);
  for (int i = 0; i < 2; i++) {
    mlff_frame f;
    const char *src;
    CHECK_OK(mlff_dataset_get(more, i, &f, &src));
    CHECK_OK(mlff_dataset_add(d, &f, src));
  }
  for (int i = 0; i < 7; i++) {
    m[i] = i < 5 ? m5[i] : 0.0;
    ix[i] = i < 5 ? ix5[i] : i;
  }
  tmp_path(r, sizeof r, tmp, "stress_added.h5");
  CHECK_OK(mlff_dataset_save(d, r));
  check_doubles(r, "/labels/stress", st, 42, H5T_FLOAT);
  check_doubles(r, "/labels/stress_mask", m, 7, H5T_INTEGER);
  check_doubles(r, "/labels/structure_indices", ix, 7, H5T_INTEGER);
  /* ... and appended to a file (mlff_dataset_append extends it in place). */
  CHECK_OK(mlff_dataset_append(more, q));
  check_doubles(q, "/labels/stress", st, 42, H5T_FLOAT);
  check_doubles(q, "/labels/stress_mask", m, 7, H5T_INTEGER);
  check_doubles(q, "/labels/structure_indices", ix, 7, H5T_INTEGER);
  mlff_dataset *g;
  CHECK_OK(mlff_dataset_load(q, &e));
  CHECK_OK(mlff_dataset_load(r, &g)); /* the same structures, added in memory and saved */
  check_same(e, g);
  mlff_dataset_free(g);
  mlff_dataset_free(e);
  mlff_dataset_free(more);
  /* A file without them, appended to with a dataset that has them: the file's structures get
   * zero stresses marked no label and their indices. */
  good_copy(q, sizeof q, "stress_into_plain.h5");
  CHECK_OK(mlff_dataset_append(d, q)); /* d: the 7 above */
  double st12[72] = {0}, m12[12], ix12[12];
  for (int i = 0; i < 42; i++) st12[30 + i] = st[i];
  for (int i = 0; i < 12; i++) {
    m12[i] = i < 5 ? 0.0 : m[i - 5];
    ix12[i] = i < 5 ? i : ix[i - 5];
  }
  check_doubles(q, "/labels/stress", st12, 72, H5T_FLOAT);
  check_doubles(q, "/labels/stress_mask", m12, 12, H5T_INTEGER);
  check_doubles(q, "/labels/structure_indices", ix12, 12, H5T_INTEGER);
  mlff_dataset_free(d);
  /* Stresses without a mask (all labels): structures added get a bool mask, the others 1. */
  good_copy(p, sizeof p, "stress_nomask.h5");
  add_stress(p, -1, 0);
  CHECK_OK(mlff_dataset_load(p, &d));
  tmp_path(q, sizeof q, tmp, "stress_nomask_saved.h5");
  CHECK_OK(mlff_dataset_save(d, q));
  CHECK(!has_ds(q, "/labels/stress_mask") && !has_ds(q, "/labels/structure_indices"));
  more = make_dataset(5, 1);
  CHECK_OK(mlff_dataset_append(more, q));
  double m6[6] = {1, 1, 1, 1, 1, 0};
  check_doubles(q, "/labels/stress_mask", m6, 6, H5T_ENUM);
  CHECK(!has_ds(q, "/labels/structure_indices"));
  CHECK_OK(mlff_dataset_load(q, &e));
  CHECK(mlff_dataset_size(e) == 6);
  mlff_dataset_free(e);
  mlff_dataset_free(more);
  mlff_dataset_free(d);
  /* A float mask stays float; a NaN stress where it says no label is fine. */
  good_copy(p, sizeof p, "stress_floatmask.h5");
  add_stress(p, H5T_IEEE_F32LE, 0);
  poke_f64(p, "/labels/stress", 6 * 2 + 3, NAN);
  CHECK_OK(mlff_dataset_load(p, &d));
  CHECK_OK(mlff_dataset_save(d, q));
  check_doubles(q, "/labels/stress_mask", m5, 5, H5T_FLOAT);
  mlff_dataset_free(d);

  /* Refusals name the file and the field. */
  good_copy(p, sizeof p, "bad_stress_nan.h5");
  add_stress(p, H5T_STD_I8LE, 0);
  poke_f64(p, "/labels/stress", 6 * 3 + 5, NAN);
  REFUSED(p, MLFF_ERR_FORMAT, "dataset /labels/stress has a non-finite value (nan) at [3, 5]",
          "stress of structure 3");
  good_copy(p, sizeof p, "bad_stress_rows.h5");
  hsize_t dims[2] = {4, 6};
  put_ds(p, "/labels/stress", H5T_IEEE_F64LE, 2, dims, 0, H5T_NATIVE_DOUBLE, st);
  REFUSED(p, MLFF_ERR_FORMAT, "dataset /labels/stress has 4 rows, expected 5");
  good_copy(p, sizeof p, "bad_mask_alone.h5");
  add_stress(p, H5T_STD_I8LE, 0);
  delete_link(p, "/labels/stress");
  REFUSED(p, MLFF_ERR_FORMAT, "dataset /labels/stress_mask is there but /labels/stress is not");
  good_copy(p, sizeof p, "bad_mask_string.h5");
  add_stress(p, -1, 0);
  {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, 4);
    char text[20] = "yes\0no\0\0yes\0no\0\0yes";
    dims[0] = 5;
    put_ds(p, "/labels/stress_mask", t, 1, dims, 0, t, text);
    H5Tclose(t);
  }
  REFUSED(p, MLFF_ERR_FORMAT, "dataset /labels/stress_mask holds a string type, expected bool, "
          "int or float [5]");
  good_copy(p, sizeof p, "bad_indices_float.h5");
  dims[0] = 5;
  put_ds(p, "/labels/structure_indices", H5T_IEEE_F64LE, 1, dims, 0, H5T_NATIVE_DOUBLE, st);
  REFUSED(p, MLFF_ERR_FORMAT, "dataset /labels/structure_indices holds a float type, expected int");
}

/* ---- damaged files ------------------------------------------------------------------------------ */

static void test_bad_files(void) {
  char p[512];
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* the tests' own HDF5 calls below succeed */

  /* The splits, as written: N+1 cumulative offsets 0 2 5 9 14 20. Not increasing (ragged
   * structures inconsistent): */
  good_copy(p, sizeof p, "bad_splits_order.h5");
  poke_i64(p, "/structures/atomic_numbers_splits", 3, 5);
  poke_i64(p, "/labels/forces_splits", 3, 5);
  REFUSED(p, MLFF_ERR_FORMAT, "/structures/atomic_numbers_splits is not increasing at index 3",
          "(5 after 5)", "N+1 cumulative offsets");
  /* A split beyond the atoms. */
  good_copy(p, sizeof p, "bad_splits_beyond.h5");
  poke_i64(p, "/structures/atomic_numbers_splits", 4, 21);
  poke_i64(p, "/labels/forces_splits", 4, 21);
  REFUSED(p, MLFF_ERR_FORMAT, "atomic_numbers_splits at index 4 is 21, beyond the 20 atoms");
  /* Not starting at 0, not ending at the atom count. */
  good_copy(p, sizeof p, "bad_splits_start.h5");
  poke_i64(p, "/structures/atomic_numbers_splits", 0, 1);
  poke_i64(p, "/labels/forces_splits", 0, 1);
  REFUSED(p, MLFF_ERR_FORMAT, "/structures/atomic_numbers_splits starts with 1, not 0",
          "6 rows (N+1 for the N = 5 structures", "N-1 interior offsets, has 4 rows");
  good_copy(p, sizeof p, "bad_splits_end.h5");
  poke_i64(p, "/structures/atomic_numbers_splits", 5, 19);
  poke_i64(p, "/labels/forces_splits", 5, 19);
  REFUSED(p, MLFF_ERR_FORMAT, "/structures/atomic_numbers_splits ends with 19 (index 5), but "
          "/structures/atomic_numbers holds 20 atoms");
  /* Splits of neither length (N+1 = 6 nor N-1 = 4). */
  good_copy(p, sizeof p, "bad_splits_length.h5");
  replace_i64(p, "/structures/atomic_numbers_splits", 5);
  REFUSED(p, MLFF_ERR_FORMAT, "/structures/atomic_numbers_splits has 5 rows, but the N = 5 "
          "structures", "N+1 = 6 cumulative offsets starting at 0",
          "N-1 = 4 interior numpy.split offsets");
  /* forces_splits differs from atomic_numbers_splits: in a value, in its form. */
  good_copy(p, sizeof p, "bad_forces_splits.h5");
  poke_i64(p, "/labels/forces_splits", 2, 6);
  REFUSED(p, MLFF_ERR_FORMAT,
          "/labels/forces_splits differs from /structures/atomic_numbers_splits at index 2",
          "(6 vs 5)");
  good_copy(p, sizeof p, "bad_forces_splits_form.h5");
  replace_i64(p, "/labels/forces_splits", 4); /* 2 4 6 8: the old form's length */
  REFUSED(p, MLFF_ERR_FORMAT, "/labels/forces_splits has 4 rows but "
          "/structures/atomic_numbers_splits has 6");
  /* The N-1 interior offsets of mlff <= 0.1 (2 5 9 14) are read, and checked as such. */
  mlff_dataset *d;
  good_copy(p, sizeof p, "ok_old_form.h5");
  to_old_form(p);
  CHECK(get_ds(p, "/labels/forces_splits", H5T_NATIVE_INT64, NULL, NULL) == 4);
  CHECK_OK(mlff_dataset_load(p, &d));
  mlff_dataset *want = make_dataset(0, 5);
  check_same(want, d);
  mlff_dataset_free(want);
  mlff_dataset_free(d);
  good_copy(p, sizeof p, "bad_old_order.h5");
  to_old_form(p);
  poke_i64(p, "/structures/atomic_numbers_splits", 2, 5);
  poke_i64(p, "/labels/forces_splits", 2, 5);
  REFUSED(p, MLFF_ERR_FORMAT, "/structures/atomic_numbers_splits is not increasing at index 2",
          "(5 after 5)", "N-1 interior numpy.split offsets");
  good_copy(p, sizeof p, "bad_old_beyond.h5");
  to_old_form(p);
  poke_i64(p, "/structures/atomic_numbers_splits", 3, 20);
  poke_i64(p, "/labels/forces_splits", 3, 20);
  REFUSED(p, MLFF_ERR_FORMAT, "atomic_numbers_splits at index 3 is 20, beyond the 20 atoms");
  /* Non-finite values, with the structure they belong to. Atom row 10 is structure 3's
   * second atom (structures start at rows 0, 2, 5, 9, 14). */
  good_copy(p, sizeof p, "bad_nan_forces.h5");
  poke_f64(p, "/labels/forces", 3 * 10 + 1, NAN);
  REFUSED(p, MLFF_ERR_FORMAT, "/labels/forces has a non-finite value (nan) at [10, 1]",
          "forces of structure 3 (its atom 1)");
  good_copy(p, sizeof p, "bad_inf_positions.h5");
  poke_f64(p, "/structures/positions", 0, INFINITY);
  REFUSED(p, MLFF_ERR_FORMAT, "/structures/positions has a non-finite value (inf) at [0, 0]",
          "structure 0 (its atom 0)");
  good_copy(p, sizeof p, "bad_nan_energy.h5");
  poke_f64(p, "/labels/energy", 4, NAN);
  REFUSED(p, MLFF_ERR_FORMAT, "/labels/energy has a non-finite value (nan) at index 4",
          "energy of structure 4");
  /* Unknown elements. */
  good_copy(p, sizeof p, "bad_z0.h5");
  poke_i64(p, "/structures/atomic_numbers", 6, 0);
  REFUSED(p, MLFF_ERR_FORMAT, "/structures/atomic_numbers at index 6 (structure 2, its atom 1) "
          "is 0, which is not a known element");
  good_copy(p, sizeof p, "bad_z200.h5");
  poke_i64(p, "/structures/atomic_numbers", 19, 200);
  REFUSED(p, MLFF_ERR_FORMAT, "at index 19 (structure 4, its atom 5) is 200, which is not a "
          "known element");
  /* Units. */
  good_copy(p, sizeof p, "bad_units.h5");
  set_units(p, "kcal/mol, Angstrom");
  REFUSED(p, MLFF_ERR_FORMAT, "attribute 'units' of /labels is \"kcal/mol, Angstrom\"",
          "eV and Å", "convert");
  good_copy(p, sizeof p, "bad_no_units.h5");
  set_units(p, NULL);
  REFUSED(p, MLFF_ERR_FORMAT, "attribute 'units' of /labels is missing");
  good_copy(p, sizeof p, "ok_units.h5"); /* other spellings of eV and Å are fine */
  set_units(p, "eV/Angstrom");
  CHECK_OK(mlff_dataset_load(p, &d));
  mlff_dataset_free(d);
  good_copy(p, sizeof p, "ok_units_pipeline.h5"); /* the pipeline's: energy, force */
  set_units(p, "eV, eV/Angstrom");
  CHECK_OK(mlff_dataset_load(p, &d));
  mlff_dataset_free(d);
  good_copy(p, sizeof p, "bad_units_bohr.h5");
  set_units(p, "eV, eV/Bohr");
  REFUSED(p, MLFF_ERR_FORMAT, "attribute 'units' of /labels is \"eV, eV/Bohr\"",
          "\"eV, eV/Angstrom\" (the PyTorch pipeline's)");
  /* Missing datasets and groups. */
  good_copy(p, sizeof p, "bad_no_energy.h5");
  delete_link(p, "/labels/energy");
  REFUSED(p, MLFF_ERR_FORMAT, "dataset /labels/energy is missing");
  good_copy(p, sizeof p, "bad_no_forces.h5");
  delete_link(p, "/labels/forces");
  REFUSED(p, MLFF_ERR_FORMAT, "dataset /labels/forces is missing");
  good_copy(p, sizeof p, "bad_no_splits.h5");
  delete_link(p, "/labels/forces_splits");
  REFUSED(p, MLFF_ERR_FORMAT, "dataset /labels/forces_splits is missing");
  good_copy(p, sizeof p, "bad_no_structures.h5");
  delete_link(p, "/structures");
  REFUSED(p, MLFF_ERR_FORMAT, "group /structures is missing");
  /* The source tags are optional. */
  good_copy(p, sizeof p, "ok_no_source.h5");
  delete_link(p, "/labels/source");
  CHECK_OK(mlff_dataset_load(p, &d));
  mlff_frame f;
  const char *src;
  CHECK_OK(mlff_dataset_get(d, 1, &f, &src));
  CHECK(!strcmp(src, ""));
  mlff_dataset_free(d);
  /* Not a dataset at all. */
  tmp_path(p, sizeof p, tmp, "not_hdf5.h5");
  write_text(p, "1\n\nH 0 0 0\n");
  REFUSED(p, MLFF_ERR_IO, "is not an HDF5 file", "mlff import");
  tmp_path(p, sizeof p, tmp, "does_not_exist.h5");
  REFUSED(p, MLFF_ERR_IO, "No such file or directory");
  /* A model file. */
  tmp_path(p, sizeof p, tmp, "a_model.h5");
  const char *el[] = {"H", "C"};
  int hidden[] = {4};
  mlff_model_spec spec = {0};
  spec.n_elements = 2;
  spec.elements = el;
  spec.n_hidden = 1;
  spec.hidden = hidden;
  mlff_descriptor_params_ani1x(&spec.descriptor);
  mlff_model *m;
  CHECK_OK(mlff_model_create(&spec, &m));
  CHECK_OK(mlff_model_save(m, p));
  mlff_model_free(m);
  REFUSED(p, MLFF_ERR_FORMAT, "looks like an mlff model file");
  /* A damaged file is not appended to. */
  good_copy(p, sizeof p, "bad_append_units.h5");
  set_units(p, "Hartree, Bohr");
  d = make_dataset(0, 1);
  CHECK_FAILS(mlff_dataset_append(d, p), MLFF_ERR_FORMAT, "bad_append_units.h5",
              "\"Hartree, Bohr\"");
  mlff_dataset_free(d);
}

/* ---- SHA-256 ----------------------------------------------------------------------------------- */

static void sha_of_text(const char *name, const char *text, size_t n, const char *want) {
  char p[512], hex[65];
  tmp_path(p, sizeof p, tmp, name);
  FILE *f = fopen(p, "wb");
  CHECK(f && fwrite(text, 1, n, f) == n && fclose(f) == 0);
  CHECK_OK(mlff_file_sha256(p, hex));
  if (strcmp(hex, want)) {
    printf("sha256 of %s: %s, expected %s\n", name, hex, want);
    exit(1);
  }
}

static void test_sha256(void) {
  sha_of_text("sha_empty", "", 0,
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  sha_of_text("sha_abc", "abc", 3,
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  sha_of_text("sha_448", m448, strlen(m448),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  char *million = malloc(1000000);
  CHECK(million);
  memset(million, 'a', 1000000);
  sha_of_text("sha_million", million, 1000000,
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  /* Sizes around the padding boundaries and a binary file, against sha256sum. */
  for (size_t i = 0; i < 1000000; i++) million[i] = (char)((i * 2654435761u) >> 13);
  static const size_t sizes[] = {55, 56, 63, 64, 65, 119, 120, 65535, 65536, 65537, 999999};
  for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
    char p[512], hex[65], cmd[1200], want[65] = "";
    tmp_path(p, sizeof p, tmp, "sha_binary");
    FILE *f = fopen(p, "wb");
    CHECK(f && fwrite(million, 1, sizes[s], f) == sizes[s] && fclose(f) == 0);
    CHECK_OK(mlff_file_sha256(p, hex));
    snprintf(cmd, sizeof cmd, "sha256sum '%s' 2>/dev/null", p);
    FILE *pipe = popen(cmd, "r");
    if (!pipe || fscanf(pipe, "%64s", want) != 1) {
      printf("sha256sum not available: compared with the known vectors only\n");
      if (pipe) pclose(pipe);
      break;
    }
    pclose(pipe);
    if (strcmp(hex, want)) {
      printf("sha256 of %zu bytes: %s, sha256sum says %s\n", sizes[s], hex, want);
      exit(1);
    }
  }
  free(million);
  char hex[65];
  CHECK_FAILS(mlff_file_sha256("/nonexistent/x", hex), MLFF_ERR_IO, "/nonexistent/x");
}


/* ---- mlff import ------------------------------------------------------------------------------- */

/* Run the command; its stderr must contain `want` (NULL: must succeed). */
static void run_cli(const char *cmd, const char *want) {
  char full[4096], err[512];
  tmp_path(err, sizeof err, tmp, "cli.err");
  snprintf(full, sizeof full, "%s 2>'%s'", cmd, err);
  int rc = system(full);
  size_t n;
  char *text = read_all(err, &n);
  if (want ? rc == 0 || !strstr(text, want) : rc != 0) {
    printf("`%s` exited %d; stderr:\n%s\n%s%s\n", cmd, rc, text, want ? "expected: " : "",
           want ? want : "");
    exit(1);
  }
  free(text);
}

static const char *XYZ =
    "3\n"
    "Properties=species:S:1:pos:R:3:forces:R:3 energy=-2079.123456789 pbc=\"F F F\"\n"
    "O 0.0 0.0 0.1173 0.01 -0.02 0.3\n"
    "H 0.0 0.7572 -0.4692 -0.1 0.2 -0.15\n"
    "H 0.0 -0.7572 -0.4692 0.09 -0.18 -0.15\n"
    "2\n"
    "Lattice=\"5.0 0.0 0.0 0.0 6.0 0.0 0.5 0.0 7.0\" Properties=species:S:1:pos:R:3:forces:R:3 "
    "energy=-31.5 pbc=\"T T F\" stress=\"1 2 3 4 5 6 7 8 9\"\n"
    "H 0.1 0.2 0.3 1.5e-3 0 0\n"
    "H 0.84 0.2 0.3 -1.5e-3 0 0\n";

static void test_import(const char *mlff) {
  char in[512], out[512], cmd[2048];
  tmp_path(in, sizeof in, tmp, "in.extxyz");
  tmp_path(out, sizeof out, tmp, "imported.h5");
  write_text(in, XYZ);
  remove(out);
  snprintf(cmd, sizeof cmd, "'%s' import '%s' '%s' --source dft >/dev/null", mlff, in, out);
  run_cli(cmd, NULL);
  mlff_frame *fr;
  int nf;
  CHECK_OK(mlff_read_extxyz(in, &fr, &nf));
  mlff_dataset *d;
  CHECK_OK(mlff_dataset_load(out, &d));
  CHECK(mlff_dataset_size(d) == 2 && nf == 2);
  CHECK(!strcmp(mlff_dataset_attr(d, "teacher"), "unknown (imported from in)"));
  for (int i = 0; i < 2; i++) {
    mlff_frame f;
    const char *src;
    CHECK_OK(mlff_dataset_get(d, i, &f, &src));
    CHECK(!strcmp(src, "dft"));
    CHECK(f.n_atoms == fr[i].n_atoms && f.energy == fr[i].energy);
    CHECK(f.has_cell == fr[i].has_cell && !memcmp(f.pbc, fr[i].pbc, sizeof f.pbc));
    CHECK(!memcmp(f.cell, fr[i].cell, sizeof f.cell) || !f.has_cell);
    CHECK(!memcmp(f.atomic_numbers, fr[i].atomic_numbers, (size_t)f.n_atoms * sizeof(int)));
    CHECK(!memcmp(f.positions, fr[i].positions, (size_t)f.n_atoms * 3 * sizeof(double)));
    CHECK(!memcmp(f.forces, fr[i].forces, (size_t)f.n_atoms * 3 * sizeof(double)));
  }
  CHECK(fr[0].energy == -2079.123456789);
  mlff_dataset_free(d);
  mlff_frames_free(fr, nf);

  /* An existing output is neither replaced nor appended to unless asked. */
  snprintf(cmd, sizeof cmd, "'%s' import '%s' '%s'", mlff, in, out);
  run_cli(cmd, "imported.h5' exists; add --append to add to it or --overwrite to replace it");
  snprintf(cmd, sizeof cmd, "'%s' import '%s' '%s' --append --teacher 'unknown (imported from in)' "
           ">/dev/null", mlff, in, out);
  run_cli(cmd, NULL);
  CHECK_OK(mlff_dataset_load(out, &d));
  CHECK(mlff_dataset_size(d) == 4);
  const char *src;
  mlff_frame f;
  CHECK_OK(mlff_dataset_get(d, 3, &f, &src));
  CHECK(!strcmp(src, "in") && f.energy == -31.5); /* default tag: the file's stem */
  mlff_dataset_free(d);
  snprintf(cmd, sizeof cmd, "'%s' import '%s' '%s' --append --teacher other", mlff, in, out);
  run_cli(cmd, "labelled by \"unknown (imported from in)\"");

  /* A dataset in the pipeline's layout: checked and written again. */
  char h5[512];
  tmp_path(h5, sizeof h5, data, "h5py_dataset.h5");
  snprintf(cmd, sizeof cmd, "'%s' import '%s' '%s' --overwrite --source pipeline >/dev/null",
           mlff, h5, out);
  run_cli(cmd, NULL);
  mlff_dataset *a, *b;
  CHECK_OK(mlff_dataset_load(h5, &a));
  CHECK_OK(mlff_dataset_load(out, &b));
  CHECK(mlff_dataset_size(b) == 3 && !strcmp(mlff_dataset_attr(b, "teacher"), "h5py fixture"));
  for (int i = 0; i < 3; i++) {
    mlff_frame g;
    CHECK_OK(mlff_dataset_get(a, i, &f, NULL));
    CHECK_OK(mlff_dataset_get(b, i, &g, &src));
    CHECK(!strcmp(src, "pipeline") && f.n_atoms == g.n_atoms && f.energy == g.energy);
    CHECK(!memcmp(f.forces, g.forces, (size_t)f.n_atoms * 3 * sizeof(double)));
  }
  mlff_dataset_free(a);
  mlff_dataset_free(b);

  /* Refusals name the frame or the field. */
  char bad[512];
  tmp_path(bad, sizeof bad, tmp, "no_forces.extxyz");
  write_text(bad, "1\nProperties=species:S:1:pos:R:3:forces:R:3 energy=-1\nH 0 0 0 0 0 0\n"
                  "1\nProperties=species:S:1:pos:R:3 energy=-2\nH 0 0 0\n");
  snprintf(cmd, sizeof cmd, "'%s' import '%s' '%s' --overwrite", mlff, bad, out);
  run_cli(cmd, "no_forces.extxyz, frame 1: no forces; a labelled structure needs energy=");
  tmp_path(bad, sizeof bad, tmp, "no_energy.extxyz");
  write_text(bad, "1\nProperties=species:S:1:pos:R:3:forces:R:3\nH 0 0 0 0 0 0\n");
  snprintf(cmd, sizeof cmd, "'%s' import '%s' '%s' --overwrite", mlff, bad, out);
  run_cli(cmd, "no_energy.extxyz, frame 0: no energy;");
  tmp_path(bad, sizeof bad, tmp, "bad_units.h5");
  mlff_dataset *g = make_dataset(0, 2);
  CHECK_OK(mlff_dataset_save(g, bad));
  mlff_dataset_free(g);
  set_units(bad, "Hartree, Bohr");
  snprintf(cmd, sizeof cmd, "'%s' import '%s' '%s' --overwrite", mlff, bad, out);
  run_cli(cmd, "mlff import: dataset file '");
  run_cli(cmd, "attribute 'units' of /labels is \"Hartree, Bohr\"");
  snprintf(cmd, sizeof cmd, "'%s' import '%s' '%s'", mlff, in, in);
  run_cli(cmd, "is both the input and the output");
}

/* mlff_write_extxyz: frames with and without cell, energy and forces read back bit for bit
 * (%.17g), comments added to the comment line, no temporary file left; an unknown element is
 * refused and leaves no file. */
static void test_write_extxyz(void) {
  mlff_frame f[4];
  int Z[4][16];
  double x[4][48], F[4][48];
  for (int s = 0; s < 4; s++) make_frame(s, &f[s], Z[s], x[s], F[s]);
  f[1].has_forces = f[1].has_energy = 0; /* positions only, as candidates for a teacher */
  char path[512];
  snprintf(path, sizeof path, "%s/written.xyz", tmp);
  const char *com[4] = {"source=a deviation=0.5", NULL, "", "source=d"};
  CHECK_OK(mlff_write_extxyz(path, f, 4, com));
  mlff_frame *g;
  int n;
  CHECK_OK(mlff_read_extxyz(path, &g, &n));
  CHECK(n == 4);
  for (int s = 0; s < 4; s++) {
    CHECK(g[s].n_atoms == f[s].n_atoms && g[s].has_cell == f[s].has_cell);
    CHECK(!memcmp(g[s].atomic_numbers, f[s].atomic_numbers, f[s].n_atoms * sizeof(int)));
    CHECK(!memcmp(g[s].positions, f[s].positions, 3 * f[s].n_atoms * sizeof(double)));
    CHECK(g[s].has_forces == f[s].has_forces && g[s].has_energy == f[s].has_energy);
    if (f[s].has_forces)
      CHECK(!memcmp(g[s].forces, f[s].forces, 3 * f[s].n_atoms * sizeof(double)));
    if (f[s].has_energy) CHECK(g[s].energy == f[s].energy);
    if (f[s].has_cell) {
      CHECK(!memcmp(g[s].cell, f[s].cell, sizeof f[s].cell));
      CHECK(g[s].pbc[0] && g[s].pbc[1] && !g[s].pbc[2]);
    }
  }
  mlff_frames_free(g, n);
  FILE *t = fopen(path, "r");
  char line[256];
  CHECK(t && fgets(line, sizeof line, t) && fgets(line, sizeof line, t));
  CHECK(strstr(line, " source=a deviation=0.5") != NULL);
  fclose(t);
  char tmpname[600];
  snprintf(tmpname, sizeof tmpname, "%s.tmp%ld", path, (long)getpid());
  CHECK(access(tmpname, F_OK) != 0);
  Z[0][1] = 0; /* no such element */
  snprintf(path, sizeof path, "%s/written_bad.xyz", tmp);
  remove(path);
  CHECK(mlff_write_extxyz(path, f, 1, NULL) == MLFF_ERR_ARGUMENT);
  CHECK(strstr(mlff_last_error(), "frame 0, atom 1: no element Z = 0") != NULL);
  snprintf(tmpname, sizeof tmpname, "%s.tmp%ld", path, (long)getpid());
  CHECK(access(path, F_OK) != 0 && access(tmpname, F_OK) != 0);
}

int main(int argc, char **argv) {
  if (argc != 3 && argc != 4) {
    fprintf(stderr, "usage: test_dataset TMPDIR DATADIR [MLFF (tests `mlff import` only)]\n");
    return 2;
  }
  tmp = argv[1];
  data = argv[2];
  if (argc == 4) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    test_import(argv[3]);
    printf("test_dataset: mlff import passed\n");
    return 0;
  }
  test_sha256();
  test_memory();
  test_round_trip();
  test_h5py();
  test_old_form_append();
  test_stress();
  test_bad_files();
  test_write_extxyz();
  printf("test_dataset: all passed\n");
  return 0;
}
