/* fuzz_h5.h — the structure-aware half of the HDF5 harnesses (fuzz_model.c, fuzz_dataset.c).
 * Mutated bytes of an HDF5 file mostly exercise libhdf5's own parser; here the input's bytes
 * instead edit the *content* of a file that the harness writes with the HDF5 C API, so that
 * mlff's validation is what runs. A harness writes a valid file field by field (each dataset,
 * attribute and group is a numbered field); the input is a list of edits
 * {field, operation, argument} applied on the way: drop the field, change its type, rank or
 * extent, poison one value (NaN, inf, negative, huge), write a group in its place, ...
 * An empty edit list gives the valid file. */
#ifndef MLFF_FUZZ_H5_H
#define MLFF_FUZZ_H5_H

#include <math.h>

#include <hdf5.h>

#include "fuzz_common.h"
#include "mlff.h"

#define FZ_MAX_EDITS 16
#define FZ_MAX_VALUES 4096 /* fields are small; a larger extent is written as unwritten chunks */

typedef enum { FZ_F64, FZ_F32, FZ_I64, FZ_I8, FZ_BOOL, FZ_STR, FZ_VSTR } fz_type;

typedef enum {
  FZ_KEEP,      /* as the valid file has it */
  FZ_DROP,      /* absent */
  FZ_TYPE,      /* another type: arg % 7 picks fz_type */
  FZ_RANK,      /* rank arg % 4 (0: scalar), the extent kept where it can be */
  FZ_EXTENT,    /* one axis (arg % rank) gets another length (arg / 4: 0, 1, n-1, n+1, 2n, 2^40) */
  FZ_VALUE,     /* value (arg / 16) % n becomes a special one (arg % 16) */
  FZ_GROUP,     /* a group (or, for a group, a dataset) of that name instead */
  FZ_NULLSPACE, /* a null dataspace (no elements, not even a shape) */
  FZ_CHUNKED,   /* chunked, extendable storage holding nothing: every value the fill value */
  FZ_N_OPS
} fz_op;

typedef struct {
  unsigned field, op, arg;
} fz_edit;

typedef struct {
  int next_field; /* the number of the next field written */
  int n_fields;   /* fields are numbered modulo this (the harness's count, roughly) */
  int n_edits;
  fz_edit edits[FZ_MAX_EDITS];
} fz_file;

/* The edits: 4 bytes each (field, operation, argument low and high byte), after the harness's
 * own header bytes. */
static void fz_init(fz_file *z, fuzz_bytes *b, int n_fields) {
  memset(z, 0, sizeof *z);
  z->n_fields = n_fields;
  while (b->n && z->n_edits < FZ_MAX_EDITS) {
    fz_edit *e = &z->edits[z->n_edits++];
    e->field = fuzz_u8(b) % (unsigned)n_fields;
    e->op = fuzz_u8(b) % FZ_N_OPS;
    e->arg = fuzz_u16(b);
  }
}

/* The edit of the next field (FZ_KEEP when none). */
static fz_edit fz_next(fz_file *z) {
  unsigned id = (unsigned)(z->next_field++ % z->n_fields);
  for (int i = 0; i < z->n_edits; i++)
    if (z->edits[i].field == id && z->edits[i].op != FZ_KEEP) return z->edits[i];
  fz_edit none = {id, FZ_KEEP, 0};
  return none;
}

static double fz_special(unsigned k) {
  static const double v[16] = {NAN,          INFINITY, -INFINITY, -1,  0, 1e308, -1e308, 4.9e-324,
                               2147483648.0, 9.3e18,   -9.3e18,   0.5, 3, 87,    1001,   -2};
  return v[k % 16];
}

static const char *fz_special_string(unsigned k) {
  static const char *const s[8] = {"",
                                   "X",
                                   "Xx",
                                   "H",
                                   "C",
                                   "eV, bohr",
                                   "\xc3\x85\xff",
                                   "a string much longer than any chemical symbol or unit name"};
  return s[k % 8];
}

static hid_t fz_h5type(fz_type t) {
  switch (t) {
    case FZ_F64:
      return H5Tcopy(H5T_IEEE_F64LE);
    case FZ_F32:
      return H5Tcopy(H5T_IEEE_F32LE);
    case FZ_I64:
      return H5Tcopy(H5T_STD_I64LE);
    case FZ_I8:
      return H5Tcopy(H5T_STD_I8LE);
    case FZ_BOOL: { /* h5py's bool: an enum over int8 */
      hid_t e = H5Tenum_create(H5T_NATIVE_INT8);
      int8_t f = 0, t1 = 1;
      H5Tenum_insert(e, "FALSE", &f);
      H5Tenum_insert(e, "TRUE", &t1);
      return e;
    }
    case FZ_STR: {
      hid_t s = H5Tcopy(H5T_C_S1);
      H5Tset_size(s, 16);
      return s;
    }
    default: {
      hid_t s = H5Tcopy(H5T_C_S1);
      H5Tset_size(s, H5T_VARIABLE);
      H5Tset_cset(s, H5T_CSET_UTF8);
      return s;
    }
  }
}

/* One field: a dataset (is_attr 0) or an attribute of loc named name, of type t, rank (0..3) and
 * dims, holding n = prod(dims) values v[] (numbers) or s[] (strings; s may be NULL for numbers),
 * with the field's edit applied. Nothing happens when loc < 0 (its group was dropped), but the
 * field still takes its number, so that the numbering of the others holds. */
static void fz_write(fz_file *z, hid_t loc, const char *name, int is_attr, fz_type t, int rank,
                     const hsize_t *dims0, const double *v, const char *const *s) {
  fz_edit e = fz_next(z);
  if (loc < 0 || e.op == FZ_DROP) return;
  hsize_t dims[4] = {1, 1, 1, 1};
  const int rank0 = rank;
  for (int k = 0; k < rank; k++) dims[k] = dims0[k];
  int chunked = e.op == FZ_CHUNKED && !is_attr, null_space = e.op == FZ_NULLSPACE;
  if (e.op == FZ_GROUP) {
    if (is_attr) { /* an attribute cannot be a group: a dataset of the same name instead */
      hid_t sp = H5Screate(H5S_SCALAR),
            d = H5Dcreate2(loc, name, H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      if (d >= 0) H5Dclose(d);
      H5Sclose(sp);
    } else {
      hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      if (g >= 0) H5Gclose(g);
    }
    return;
  }
  if (e.op == FZ_TYPE) t = (fz_type)(e.arg % 7);
  if (e.op == FZ_RANK) {
    int r = (int)(e.arg % 4);
    for (int k = rank; k < r; k++) dims[k] = 1 + (e.arg >> 2) % 3;
    rank = r;
  }
  if (e.op == FZ_EXTENT && rank > 0) {
    int k = (int)(e.arg % (unsigned)rank);
    hsize_t d = dims[k];
    switch ((e.arg / 4) % 6) {
      case 0:
        dims[k] = 0;
        break;
      case 1:
        dims[k] = 1;
        break;
      case 2:
        dims[k] = d ? d - 1 : 0;
        break;
      case 3:
        dims[k] = d + 1;
        break;
      case 4:
        dims[k] = 2 * d + 2;
        break;
      default:
        dims[k] = (hsize_t)1 << 40;
        break;
    }
  }
  hsize_t n = 1;
  for (int k = 0; k < rank; k++)
    n = dims[k] && n > ((hsize_t)1 << 62) / dims[k] ? (hsize_t)1 << 62 : n * dims[k];
  if (n > FZ_MAX_VALUES) {
    if (is_attr) return; /* attributes hold their values: too large to write, so left out */
    chunked = 1;
  }
  hid_t type = fz_h5type(t), sp, dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (null_space) {
    sp = H5Screate(H5S_NULL);
  } else if (chunked && rank > 0) {
    hsize_t maxd[4], chunk[4];
    for (int k = 0; k < rank; k++) {
      maxd[k] = H5S_UNLIMITED;
      chunk[k] = dims[k] ? (dims[k] < 16 ? dims[k] : 16) : 1;
    }
    sp = H5Screate_simple(rank, dims, maxd);
    H5Pset_chunk(dcpl, rank, chunk);
  } else {
    chunked = 0;
    sp = rank ? H5Screate_simple(rank, dims, NULL) : H5Screate(H5S_SCALAR);
  }
  hid_t obj = is_attr ? H5Acreate2(loc, name, type, sp, H5P_DEFAULT, H5P_DEFAULT)
                      : H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (obj >= 0 && !chunked && !null_space && n > 0) {
    /* The values, converted to the field's type; the nominal ones where the extent allows. */
    size_t count = (size_t)n;
    double *num = calloc(count, sizeof *num);
    const char **str = calloc(count, sizeof *str);
    char(*txt)[32] = calloc(count, sizeof *txt);
    size_t nominal = 1;
    for (int k = 0; k < rank0; k++) nominal *= dims0[k];
    for (size_t i = 0; i < count; i++) {
      num[i] = v && i < nominal ? v[i] : (double)i;
      if (s && i < nominal)
        str[i] = s[i];
      else {
        snprintf(txt[i], sizeof txt[i], "%g", num[i]);
        str[i] = txt[i];
      }
    }
    if (e.op == FZ_VALUE) {
      size_t i = (e.arg / 16) % count;
      num[i] = fz_special(e.arg);
      str[i] = fz_special_string(e.arg);
    }
    hid_t mem = -1;
    void *buf = NULL;
    if (t == FZ_VSTR) {
      mem = H5Tcopy(type);
      buf = str;
    } else if (t == FZ_STR) {
      char *fixed = calloc(count, 16);
      for (size_t i = 0; i < count; i++) strncpy(fixed + 16 * i, str[i], 16);
      mem = H5Tcopy(type);
      buf = fixed;
    } else if (t == FZ_BOOL || t == FZ_I8 || t == FZ_I64) {
      int64_t *iv = calloc(count, sizeof *iv);
      for (size_t i = 0; i < count; i++) /* out-of-range values wrap, as a careless writer's */
        iv[i] = isfinite(num[i]) && fabs(num[i]) < 9.2e18 ? (int64_t)num[i] : INT64_MIN;
      if (t == FZ_I64) {
        mem = H5Tcopy(H5T_NATIVE_INT64);
        buf = iv;
      } else {
        int8_t *bv = calloc(count, 1);
        for (size_t i = 0; i < count; i++) bv[i] = (int8_t)iv[i];
        free(iv);
        mem = t == FZ_BOOL ? H5Tcopy(type) : H5Tcopy(H5T_NATIVE_INT8);
        buf = bv;
      }
    } else if (t == FZ_F32) {
      float *fv = calloc(count, sizeof *fv);
      for (size_t i = 0; i < count; i++) fv[i] = (float)num[i];
      mem = H5Tcopy(H5T_NATIVE_FLOAT);
      buf = fv;
    } else {
      mem = H5Tcopy(H5T_NATIVE_DOUBLE);
      buf = num;
    }
    if (is_attr)
      H5Awrite(obj, mem, buf);
    else
      H5Dwrite(obj, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    H5Tclose(mem);
    if (buf != num && buf != str) free(buf);
    free(num);
    free(str);
    free(txt);
  }
  if (obj >= 0) is_attr ? H5Aclose(obj) : H5Dclose(obj);
  H5Pclose(dcpl);
  H5Sclose(sp);
  H5Tclose(type);
}

static void fz_attr_num(fz_file *z, hid_t loc, const char *name, fz_type t, int n,
                        const double *v) {
  hsize_t d = (hsize_t)n;
  fz_write(z, loc, name, 1, t, n < 0 ? 0 : 1, &d, v, NULL);
}

static void fz_attr_str(fz_file *z, hid_t loc, const char *name, int vlen, int n,
                        const char *const *s) {
  hsize_t d = (hsize_t)n;
  fz_write(z, loc, name, 1, vlen ? FZ_VSTR : FZ_STR, n < 0 ? 0 : 1, &d, NULL, s);
}

/* A group (closed by the caller with fz_group_close), or -1 when dropped or replaced by a
 * dataset; a group that already exists is opened. */
static hid_t fz_group(fz_file *z, hid_t loc, const char *name) {
  fz_edit e = fz_next(z);
  if (loc < 0 || e.op == FZ_DROP) return -1;
  if (e.op == FZ_GROUP) { /* a dataset where the group should be */
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(loc, name, H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (d >= 0) H5Dclose(d);
    H5Sclose(sp);
    return -1;
  }
  if (H5Lexists(loc, name, H5P_DEFAULT) > 0) return H5Gopen2(loc, name, H5P_DEFAULT);
  return H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
}

static void fz_group_close(hid_t g) {
  if (g >= 0) H5Gclose(g);
}

/* HDF5's free lists return blocks above 64 KiB per list (each file's metadata cache) to the
 * system at every close; kept instead (up to 4 MiB a list, 16 MiB in all: unlimited lists grew
 * without bound on damaged files), a file costs no fresh pages. Called from
 * LLVMFuzzerInitialize. */
static void fz_h5_init(void) {
  const int all = 16 << 20, list = 4 << 20;
  H5set_free_list_limits(all, list, all, list, all, list);
}

/* An HDF5 file (truncated) at path, reproducible and quiet; -1 on failure. */
static hid_t fz_create(const char *path) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* edits make some calls fail on purpose */
  /* the newest file format: compact groups and object headers, so fewer metadata blocks to
   * write and read (the dataset harness ran a third faster than with the default format) */
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  return f;
}

/* Every HDF5 object the reader opened must be closed again: a leak would keep files open. */
static void fz_check_closed(const char *reader) {
  ssize_t open = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
  if (open != 0) {
    fprintf(stderr, "fuzz: %s left %zd HDF5 objects open\n", reader, open);
    abort();
  }
}

/* The input as a file at path[4096]: as it is when it is an HDF5 file (the corpus's valid and
 * bad files, and libFuzzer's mutations of them), else the file `build` writes from its bytes. */
static void fz_input_file(const uint8_t *data, size_t size, char *path,
                          void (*build)(const char *path, fuzz_bytes *b)) {
  if (size >= 8 && !memcmp(data, "\x89HDF\r\n\x1a\n", 8)) {
    fuzz_write_temp(data, size, path);
  } else {
    fuzz_bytes b = {data, size};
    fuzz_temp_path(path);
    build(path, &b);
  }
}

/* After `reader` (e.g. "mlff_model_load") returned st on path: a refusal must name the file,
 * every HDF5 object must be closed again; then the input file goes. */
static void fz_after(const char *harness, const char *reader, mlff_status st, const char *path) {
  if (st != MLFF_OK && !fuzz_names_file(mlff_last_error(), path)) {
    fprintf(stderr, "%s: the refusal does not name the file: %s\n", harness, mlff_last_error());
    abort();
  }
  fz_check_closed(reader);
  fuzz_done(path, reader, st ? mlff_last_error() : "loaded");
}

#endif
