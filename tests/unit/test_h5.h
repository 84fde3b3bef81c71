/* test_h5.h — for the unit tests of the model reader's optional groups (test_dispersion.c,
 * test_electrostatics.c): spoil one attribute of a saved model, and expect the load refused. */
#ifndef MLFF_TEST_H5_H
#define MLFF_TEST_H5_H

#include <hdf5.h>

#include "test_util.h"

/* Replace attribute attr of group (e.g. "/dispersion") of the file at path by n float64 values
 * (a scalar when n is 0); v NULL: delete it. */
static void damage(const char *path, const char *group, const char *attr, const double *v, int n) {
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT), g = H5Gopen2(f, group, H5P_DEFAULT);
  H5Adelete(g, attr);
  if (v) {
    hsize_t dim = (hsize_t)n;
    hid_t sp = n ? H5Screate_simple(1, &dim, NULL) : H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(g, attr, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_DOUBLE, v);
    H5Aclose(a), H5Sclose(sp);
  }
  H5Gclose(g), H5Fclose(f);
}

/* The model file at path is refused as a format error whose message holds needle. */
static void expect_load_error(const char *path, const char *needle) {
  mlff_model *m = NULL;
  mlff_status st = mlff_model_load(path, &m);
  if (st != MLFF_ERR_FORMAT || !strstr(mlff_last_error(), needle)) {
    fprintf(stderr, "load of %s: status %d, \"%s\"; wanted a format error with \"%s\"\n", path, st,
            mlff_last_error(), needle);
    test_failures++;
  } else
    printf("refused: %s\n", mlff_last_error());
  mlff_model_free(m);
}

#endif
