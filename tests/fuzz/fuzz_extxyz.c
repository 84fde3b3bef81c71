/* fuzz_extxyz.c — libFuzzer harness of the extended-XYZ reader, mlff_read_extxyz
 * (distill/extxyz.c): the input's bytes are the file. A read either succeeds, and then every
 * frame holds atoms with known elements and finite coordinates, or fails with a message that
 * names the file. */
#include <math.h>

#include "fuzz_common.h"

#include "mlff_distill.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[4096];
  fuzz_write_temp(data, size, path);
  mlff_frame *frames = NULL;
  int n = 0;
  mlff_status st = mlff_read_extxyz(path, &frames, &n);
  if (st == MLFF_OK) {
    if (n < 1) abort();
    for (int i = 0; i < n; i++) {
      const mlff_frame *f = &frames[i];
      if (f->n_atoms < 1) abort();
      for (int a = 0; a < f->n_atoms; a++)
        if (f->atomic_numbers[a] < 1 || f->atomic_numbers[a] > 118 ||
            !isfinite(f->positions[3 * a] + f->positions[3 * a + 1] + f->positions[3 * a + 2]) ||
            (f->has_forces && !isfinite(f->forces[3 * a + 2])))
          abort();
    }
    mlff_frames_free(frames, n);
  } else if (!fuzz_names_file(mlff_last_error(), path)) {
    fprintf(stderr, "fuzz_extxyz: the refusal does not name the file: %s\n", mlff_last_error());
    abort();
  }
  fuzz_done(path, "mlff_read_extxyz", st ? mlff_last_error() : "read");
  return 0;
}
