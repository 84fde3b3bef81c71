/* h5util.c — HDF5 helpers shared by model_io.c and dataset.c (see h5util.h). */
#include "h5util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void h5_quiet_begin(h5_quiet *q) {
  q->func = NULL;
  q->data = NULL;
  H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void h5_quiet_end(const h5_quiet *q) { H5Eset_auto2(H5E_DEFAULT, q->func, q->data); }

void h5_close(hid_t *id, herr_t (*closer)(hid_t)) {
  if (*id >= 0) closer(*id);
  *id = -1;
}

int h5_path_exists(hid_t file, const char *path) {
  char buf[512];
  size_t n = strlen(path);
  if (n >= sizeof buf) return 0;
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != '\0') continue;
    char c = buf[i];
    buf[i] = '\0';
    htri_t e = H5Lexists(file, buf, H5P_DEFAULT);
    buf[i] = c;
    if (e <= 0) return 0;
  }
  return 1;
}

const char *h5_class_name(H5T_class_t c) {
  switch (c) {
    case H5T_INTEGER: return "an integer";
    case H5T_FLOAT: return "a float";
    case H5T_STRING: return "a string";
    case H5T_COMPOUND: return "a compound";
    case H5T_ARRAY: return "an array";
    case H5T_ENUM: return "an enum";
    default: return "an unsupported";
  }
}

void h5_shape_str(char *buf, size_t size, int rank, const hsize_t *dims) {
  int n = snprintf(buf, size, "[");
  for (int k = 0; k < rank && n < (int)size; k++)
    n += snprintf(buf + n, size - (size_t)n, "%s%llu", k ? ", " : "",
                  (unsigned long long)dims[k]);
  if (n < (int)size) snprintf(buf + n, size - (size_t)n, "]");
}

int h5_unwritten(hid_t d) {
  hid_t t = H5Dget_type(d), sp = H5Dget_space(d), dcpl = H5Dget_create_plist(d);
  hssize_t n = H5Sget_simple_extent_npoints(sp);
  size_t size = H5Tget_size(t);
  int filters = dcpl >= 0 ? H5Pget_nfilters(dcpl) : 0;
  hsize_t stored = H5Dget_storage_size(d);
  h5_close(&dcpl, H5Pclose);
  h5_close(&sp, H5Sclose);
  h5_close(&t, H5Tclose);
  if (n <= 0 || !size) return 0;
  double need = (double)n * (double)size, have = (double)stored * (filters > 0 ? 1032.0 : 1.0);
  return need > have + 16.0 * 1024 * 1024;
}

herr_t h5_read_attr(hid_t a, hid_t mem_type, void *buf) { return H5Aread(a, mem_type, buf); }

herr_t h5_read_dataset(hid_t d, hid_t mem_type, void *buf) {
  return H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
}

int h5_read_strings(hid_t obj, h5_string_reader rd, hid_t ftype, size_t n, char **out) {
  int ok = 1;
  hid_t mt = H5Tcopy(H5T_C_S1);
  H5Tset_cset(mt, H5Tget_cset(ftype)); /* HDF5 does not convert between character sets */
  if (H5Tis_variable_str(ftype) > 0) {
    char **buf = calloc(n ? n : 1, sizeof *buf);
    H5Tset_size(mt, H5T_VARIABLE);
    if (!buf || rd(obj, mt, buf) < 0) ok = 0;
    for (size_t i = 0; buf && i < n; i++) {
      if (ok && !(out[i] = strdup(buf[i] ? buf[i] : ""))) ok = 0;
      if (buf[i]) H5free_memory(buf[i]);
    }
    free(buf);
  } else {
    size_t sz = H5Tget_size(ftype);
    char *buf = calloc(n ? n : 1, sz ? sz : 1);
    H5Tset_size(mt, sz ? sz : 1);
    H5Tset_strpad(mt, H5T_STR_NULLPAD);
    if (!buf || rd(obj, mt, buf) < 0) ok = 0;
    for (size_t i = 0; ok && i < n; i++)
      if (!(out[i] = strndup(buf + i * sz, sz))) ok = 0;
    free(buf);
  }
  H5Tclose(mt);
  if (!ok)
    for (size_t i = 0; i < n; i++) {
      free(out[i]);
      out[i] = NULL;
    }
  return ok;
}

mlff_status h5_fail(const h5_reader *r, mlff_status s, const char *fmt, ...) {
  char msg[900];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return mlff_set_error(s, "%s '%s': %s", r->kind, r->path, msg);
}

char *h5_temp_path(const char *path) {
  size_t len = strlen(path) + 32;
  char *tmp = malloc(len);
  if (tmp) snprintf(tmp, len, "%s.tmp%ld", path, (long)getpid());
  return tmp;
}

static int fsync_path(const char *p, int flags) {
  int fd = open(p, flags);
  if (fd < 0) return -1;
  int rc = fsync(fd);
  int e = errno;
  close(fd);
  errno = e;
  return rc;
}

int h5_commit_temp(const char *tmp, const char *path, const char **step) {
  if (fsync_path(tmp, O_RDONLY) != 0) {
    *step = "fsync of the temporary file";
    return -1;
  }
  if (rename(tmp, path) != 0) {
    *step = "rename of the temporary file";
    return -1;
  }
  size_t n = strlen(path) + 1;
  char *dir = malloc(n);
  if (!dir) return 0; /* renamed: only the directory's sync is skipped */
  memcpy(dir, path, n);
  /* some file systems refuse fsync on a directory (EINVAL): the rename stands */
  if (fsync_path(dirname(dir), O_RDONLY | O_DIRECTORY) != 0 && errno != EINVAL) {
    free(dir);
    *step = "fsync of the directory";
    return -1;
  }
  free(dir);
  return 0;
}
