/* images.cu — the periodic images of the caller's atoms (mlff_cuda_compute with a cell), made
 * on the host: those within the cutoff (+ skin) of the atoms, in a fixed order, staged after
 * the atoms (make_images); between the caller's list rebuilds the same images at their atoms'
 * new positions (refill_images). On a kept list the device moves them (k_images) and adds
 * their forces to their atoms (k_fold), in neighbors.cu. The cell's inverse and face spacings
 * come from the caller (mlff_cuda_cell). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"

/* The periodic images of n atoms in the cell that lie within cut of them: along each axis,
 * those whose fractional coordinate is within cut (over the face spacing) of the atoms' own
 * range there (the atoms may have moved a little out of the cell since they were wrapped).
 * One layer of images: the cell must be at least cut wide across each face. Writes the atoms
 * then their images into h_all / h_all_sp, the images into h_img, and the cell into h_cell;
 * sets n_img. Images run in atom order, then shift order: the same every call. */
mlff_cuda_status make_images(mlff_cuda *g, int n, const double *x, const int *species,
                             const mlff_cuda_cell *cell, double cut, int nt) {
  (void)nt; /* nvcc does not see its use in the pragmas */
  const double *H = cell->h, *inv = cell->inverse;
  if (!(fabs(cell->det) > 1e-9))
    return fail(g, MLFF_CUDA_ERR_ARGUMENT, "periodic images on the GPU: the cell (a = %g %g %g, "
                "b = %g %g %g, c = %g %g %g Å) has no volume", H[0], H[1], H[2], H[3], H[4], H[5],
                H[6], H[7], H[8]);
  /* fractional coordinate d: x . (column d of the inverse) */
  auto frac = [&](int i, int d) {
    return x[3 * (size_t)i] * inv[d] + x[3 * (size_t)i + 1] * inv[3 + d] +
           x[3 * (size_t)i + 2] * inv[6 + d];
  };
  double m[3], lo[3] = {1e300, 1e300, 1e300}, hi[3] = {-1e300, -1e300, -1e300};
  for (int d = 0; d < 3; d++) m[d] = cut / cell->spacing[d]; /* cut in fractional units */
#pragma omp parallel for num_threads(nt) schedule(static) reduction(min : lo[:3]) \
    reduction(max : hi[:3])
  for (int i = 0; i < n; i++)
    for (int d = 0; d < 3; d++) {
      const double f = frac(i, d);
      if (f < lo[d]) lo[d] = f;
      if (f > hi[d]) hi[d] = f;
    }
  for (int d = 0; d < 3 && n > 0; d++)
    if (m[d] > 1.0 || hi[d] - lo[d] + m[d] >= 2.0)
      return fail(g, MLFF_CUDA_ERR_ARGUMENT, "periodic images on the GPU: along cell vector %c "
                  "the atoms span %.3g cells and the cutoff + skin (%.2f Å) is %.3g of the face "
                  "spacing; one layer of images needs a wider cell and wrapped positions",
                  "abc"[d], hi[d] - lo[d], cut, m[d]);
  /* count, then fill: each atom's images in shift order. Along an axis an atom has an image
   * at +1 (or -1) only near the low (or high) face: most atoms have none. */
  auto shifts = [&](int i, int lo_s[3], int hi_s[3]) {
    int any = 0;
    for (int d = 0; d < 3; d++) {
      const double f = frac(i, d);
      lo_s[d] = f - 1.0 >= lo[d] - m[d] ? -1 : 0;
      hi_s[d] = f + 1.0 <= hi[d] + m[d] ? 1 : 0;
      any |= lo_s[d] | hi_s[d];
    }
    return any && species[i] >= 0;
  };
  if (n + 1 > g->cap_off) {
    int *o = (int *)realloc(g->h_img_off, (size_t)(n + 1) * sizeof(int));
    if (!o) return fail(g, MLFF_CUDA_ERR_NOMEM, "periodic images on the GPU: out of host memory");
    g->h_img_off = o;
    g->cap_off = n + 1;
  }
  int *off = g->h_img_off;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int i = 0; i < n; i++) {
    int lo_s[3], hi_s[3];
    off[i] = shifts(i, lo_s, hi_s) ? (hi_s[0] - lo_s[0] + 1) * (hi_s[1] - lo_s[1] + 1) *
                                             (hi_s[2] - lo_s[2] + 1) - 1
                                   : 0;
  }
  int n_img = 0;
  for (int i = 0; i < n; i++) { /* counts -> offsets */
    const int c = off[i];
    off[i] = n_img;
    n_img += c;
  }
  if (n + n_img > g->cap_all) {
    const int cap = n + n_img + (n + n_img) / 4 + 64;
    double *xa = (double *)realloc(g->h_all, 3 * (size_t)cap * sizeof(double));
    if (xa) g->h_all = xa;
    int *sa = (int *)realloc(g->h_all_sp, (size_t)cap * sizeof(int));
    if (sa) g->h_all_sp = sa;
    if (!xa || !sa)
      return fail(g, MLFF_CUDA_ERR_NOMEM, "periodic images on the GPU: out of host memory");
    g->cap_all = cap;
  }
  if (n_img > g->cap_img) {
    const int cap = n_img + n_img / 2 + 64;
    cudaFreeHost(g->h_img);
    cudaFree(g->d_img);
    g->h_img = nullptr;
    g->d_img = nullptr;
    g->cap_img = 0;
    if (cudaMallocHost(&g->h_img, cap * sizeof(int2)) != cudaSuccess ||
        cudaMalloc(&g->d_img, cap * sizeof(int2)) != cudaSuccess)
      return fail(g, MLFF_CUDA_ERR_DEVICE, "periodic images on the GPU: cannot allocate %d "
                  "images", cap);
    g->cap_img = cap;
    drop_graphs(g); /* they hold the old pointers */
  }
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int i = 0; i < n; i++) {
    for (int d = 0; d < 3; d++) g->h_all[3 * (size_t)i + d] = x[3 * (size_t)i + d];
    g->h_all_sp[i] = species[i];
    int lo_s[3], hi_s[3];
    if (!shifts(i, lo_s, hi_s)) continue;
    int q = off[i];
    for (int sc = lo_s[2]; sc <= hi_s[2]; sc++)
      for (int sb = lo_s[1]; sb <= hi_s[1]; sb++)
        for (int sa = lo_s[0]; sa <= hi_s[0]; sa++) {
          if (!sa && !sb && !sc) continue; /* the atom itself */
          const int code = image_code(sa, sb, sc);
          image_position(x + 3 * (size_t)i, code, H, g->h_all + 3 * ((size_t)n + q));
          g->h_all_sp[n + q] = species[i];
          g->h_img[q] = make_int2(i, code);
          q++;
        }
  }
  if (!g->h_cell && (cudaMallocHost(&g->h_cell, 9 * sizeof(double)) != cudaSuccess ||
                     cudaMalloc(&g->d_cell, 9 * sizeof(double)) != cudaSuccess))
    return fail(g, MLFF_CUDA_ERR_DEVICE, "periodic images on the GPU: cannot allocate the cell");
  memcpy(g->h_cell, H, 9 * sizeof(double));
  g->n_img = n_img;
  return MLFF_CUDA_OK;
}

/* The images of the last make_images (h_img) at the current positions of their atoms, in the
 * current cell, with the atoms before them into h_all / h_all_sp */
void refill_images(mlff_cuda *g, int n, const double *x, const int *species, const double *cell,
                   int nt) {
  (void)nt; /* nvcc does not see its use in the pragmas */
  memcpy(g->h_all, x, 3 * (size_t)n * sizeof(double));
  memcpy(g->h_all_sp, species, (size_t)n * sizeof(int));
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
  for (int q = 0; q < g->n_img; q++) {
    const int2 m = g->h_img[q];
    image_position(x + 3 * (size_t)m.x, m.y, cell, g->h_all + 3 * ((size_t)n + q));
    g->h_all_sp[n + q] = species[m.x];
  }
  memcpy(g->h_cell, cell, 9 * sizeof(double));
}
