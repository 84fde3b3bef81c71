/* fuzz_dataset.c — libFuzzer harness of the dataset reader, mlff_dataset_load
 * (distill/dataset.c). An input that starts with HDF5's signature is written as it is (byte
 * fuzzing: mostly libhdf5's parser); any other input is structure-aware (fuzz_h5.h): its first
 * 4 bytes shape a valid dataset in the PyTorch pipeline's ragged layout (structures, atoms,
 * float32 or float64, splits' form, pbc as bool or int, the optional labels) and the rest edits
 * its fields (drop, retype, reshape, NaN, negative or decreasing splits, ...). A load either
 * succeeds, and then every structure can be viewed, or fails with a message naming the file. */
#include "fuzz_h5.h"

#include "mlff_distill.h"

#define DATASET_FIELDS 24

static void write_dataset(const char *path, fuzz_bytes *b) {
  unsigned h0 = fuzz_u8(b), h1 = fuzz_u8(b), h2 = fuzz_u8(b), h3 = fuzz_u8(b);
  int N = (int)(h0 % 4);
  fz_type ft = h2 & 1 ? FZ_F32 : FZ_F64;
  int interior = h2 & 2, pbc_int = h2 & 4, cells9 = h2 & 8, stress = h2 & 16;
  int mask = (h2 >> 5) & 3, sidx = h1 & 1, source = h3 & 1, vlen = h3 & 2;
  static const char *const UNITS[8] = {"eV, Angstrom",  "eV, eV/Angstrom",
                                       "eV/Ang",        "eV, \xc3\x85, eV/\xc3\x85",
                                       " EV , A ",      "eV/A",
                                       "eV, Angstroms", "eV,Angstrom,eV/Angstrom"};
  double Z[12], pos[36], forces[36], cells[27], energy[3], pbc[9], stress6[18], maskv[3];
  double splits[4], idx[3];
  const char *src[3] = {"md300", "dimer", ""};
  int A = 0;
  splits[0] = 0;
  for (int s = 0; s < N; s++) {
    int n = 1 + (int)((h1 >> (2 * s + 1)) & 3);
    for (int i = A; i < A + n; i++) {
      static const double zz[4] = {1, 6, 8, 7};
      Z[i] = zz[(i + h0 / 4) % 4];
      for (int k = 0; k < 3; k++) {
        pos[3 * i + k] = 1.1 * i + 0.3 * k;
        forces[3 * i + k] = 0.1 * (k - i);
      }
    }
    A += n;
    splits[s + 1] = A;
    energy[s] = -100.0 - s;
    int periodic = (h3 >> (4 + s)) & 1;
    for (int k = 0; k < 9; k++) cells[9 * s + k] = periodic && k % 4 == 0 ? 12.0 : 0.0;
    for (int k = 0; k < 3; k++) pbc[3 * s + k] = periodic;
    for (int k = 0; k < 6; k++) stress6[6 * s + k] = 0.01 * k;
    maskv[s] = s % 2;
    idx[s] = 10 + s;
  }
  fz_file z;
  fz_init(&z, b, DATASET_FIELDS);
  hid_t f = fz_create(path);
  if (f < 0) abort();

  hid_t g = fz_group(&z, f, "structures");
  hsize_t dA[1] = {(hsize_t)A}, dA3[2] = {(hsize_t)A, 3}, dN[1] = {(hsize_t)N};
  hsize_t dN33[3] = {(hsize_t)N, 3, 3}, dN9[2] = {(hsize_t)N, 9}, dN3[2] = {(hsize_t)N, 3};
  hsize_t dN6[2] = {(hsize_t)N, 6};
  hsize_t dS[1] = {interior ? (hsize_t)(N > 1 ? N - 1 : 0) : (hsize_t)N + 1};
  const double *sp = interior ? splits + 1 : splits;
  fz_write(&z, g, "atomic_numbers", 0, FZ_I64, 1, dA, Z, NULL);
  fz_write(&z, g, "positions", 0, ft, 2, dA3, pos, NULL);
  fz_write(&z, g, "cells", 0, ft, cells9 ? 2 : 3, cells9 ? dN9 : dN33, cells, NULL);
  fz_write(&z, g, "pbc", 0, pbc_int ? FZ_I64 : FZ_BOOL, 2, dN3, pbc, NULL);
  fz_write(&z, g, "atomic_numbers_splits", 0, FZ_I64, 1, dS, sp, NULL);
  fz_group_close(g);

  g = fz_group(&z, f, "labels");
  fz_write(&z, g, "energy", 0, ft, 1, dN, energy, NULL);
  fz_write(&z, g, "forces", 0, ft, 2, dA3, forces, NULL);
  fz_write(&z, g, "forces_splits", 0, FZ_I64, 1, dS, sp, NULL);
  if (source) fz_write(&z, g, "source", 0, vlen ? FZ_VSTR : FZ_STR, 1, dN, NULL, src);
  if (stress) fz_write(&z, g, "stress", 0, ft, 2, dN6, stress6, NULL);
  if (mask) {
    static const fz_type MT[4] = {FZ_BOOL, FZ_BOOL, FZ_I8, FZ_F64};
    fz_write(&z, g, "stress_mask", 0, MT[mask], 1, dN, maskv, NULL);
  }
  if (sidx) fz_write(&z, g, "structure_indices", 0, FZ_I64, 1, dN, idx, NULL);
  const char *u[1] = {UNITS[h3 >> 5]}, *teacher[1] = {"GFN2-xTB"}, *note[1] = {"fuzz"};
  fz_attr_str(&z, g, "units", vlen, -1, u);
  fz_attr_str(&z, g, "teacher", !vlen, -1, teacher);
  fz_attr_str(&z, g, "note", vlen, -1, note);
  const double seven = 7;
  fz_attr_num(&z, g, "seed", FZ_I64, -1, &seven);
  fz_group_close(g);
  H5Fclose(f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fz_h5_init();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[4096];
  fz_input_file(data, size, path, write_dataset);
  mlff_dataset *d = NULL;
  mlff_status st = mlff_dataset_load(path, &d);
  if (st == MLFF_OK) {
    /* what a loaded dataset promises: views of every structure, with atoms and finite values */
    for (int i = 0; i < mlff_dataset_size(d); i++) {
      mlff_frame f;
      const char *source;
      if (mlff_dataset_get(d, i, &f, &source) || f.n_atoms < 1 || !source) abort();
      for (int a = 0; a < f.n_atoms; a++)
        if (f.atomic_numbers[a] < 1 || !isfinite(f.positions[3 * a]) ||
            !isfinite(f.forces[3 * a + 2]))
          abort();
    }
    (void)mlff_dataset_attr(d, "teacher");
    mlff_dataset_free(d);
  }
  fz_after("fuzz_dataset", "mlff_dataset_load", st, path);
  return 0;
}
