/* h5util.h — HDF5 helpers shared by the model file (model_io.c) and the dataset file
 * (dataset.c): a quiet HDF5 error stack, safe closes, path and type checks, string reads, and a
 * reader whose error messages start with the kind and path of the file. */
#ifndef MLFF_H5UTIL_H
#define MLFF_H5UTIL_H

#include <hdf5.h>

#include "internal.h"

/* HDF5 prints its own error stack on failure; our messages replace it while a file is read. */
typedef struct {
  H5E_auto2_t func;
  void *data;
} h5_quiet;
void h5_quiet_begin(h5_quiet *q);
void h5_quiet_end(const h5_quiet *q);

/* Close *id with closer when it is open, and mark it closed. */
void h5_close(hid_t *id, herr_t (*closer)(hid_t));
/* Does every component of an absolute path exist? (H5Lexists errors on a missing parent.) */
int h5_path_exists(hid_t file, const char *path);
/* "an integer", "a float", ...: a type class for messages. */
const char *h5_class_name(H5T_class_t c);
/* "[d0, d1, ...]" */
void h5_shape_str(char *buf, size_t size, int rank, const hsize_t *dims);

/* Does dataset d declare far more values than the file stores? Unwritten values read as the
 * fill value, so a reader would allocate for the declared extent: a file of a few KiB (an
 * extendable dataset never written, or a damaged header) could ask for terabytes. Checked before
 * allocating. Accepted: up to 16 MiB beyond the bytes stored (small unwritten datasets, as h5py
 * makes with a shape and no data, read as zeros), times deflate's limit (1032:1) when
 * compressed. */
int h5_unwritten(hid_t d);

/* n strings (fixed- or variable-length, type ftype) of an attribute (h5_read_attr) or a
 * dataset (h5_read_dataset) into freshly allocated out[]; 0 on failure (out[] then all NULL). */
typedef herr_t (*h5_string_reader)(hid_t obj, hid_t mem_type, void *buf);
herr_t h5_read_attr(hid_t a, hid_t mem_type, void *buf);
herr_t h5_read_dataset(hid_t d, hid_t mem_type, void *buf);
int h5_read_strings(hid_t obj, h5_string_reader rd, hid_t ftype, size_t n, char **out);

/* PATH.tmp<pid> (malloc'd; NULL when out of memory): the one name a writer gives the file it
 * writes before h5_commit_temp renames it over PATH (a rerun of `mlff label` or `mlff train`
 * removes those of processes that no longer run: tools/cli.c). */
char *h5_temp_path(const char *path);

/* Make a finished temporary file the file at path: fsync tmp (its data on disk before its name:
 * after a crash of the machine, not only of the process, path is the old file or the new one,
 * never a new name over missing data), rename it over path, fsync the directory (the rename
 * itself on disk). 0 on success; else -1 with errno set and *step naming what failed. */
int h5_commit_temp(const char *tmp, const char *path, const char **step);

/* An open file being read; kind names it in messages ("model file", "dataset file"). */
typedef struct {
  const char *kind;
  const char *path;
  hid_t file;
} h5_reader;
/* mlff_set_error with "<kind> '<path>': " before the message. */
mlff_status h5_fail(const h5_reader *r, mlff_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif
