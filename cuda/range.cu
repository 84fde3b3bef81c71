/* range.cu — the training-range check on the general path (mlff.h's mlff_calc_check_range):
 * after the descriptor, each local atom's features against its element's training range; the
 * atoms with a feature more than `tolerance` (floored) spans outside are counted, and the
 * largest excursion is kept as one 64-bit key (its excess's float bits above species, side and
 * feature: positive floats order as their bits), both in the step's results header. The
 * tolerance comes from pinned host memory through a copy in the step (so that switching the
 * check on or off, as pair_style mlff does in the steps it checks, keeps the step's graph);
 * a negative one makes the kernel return at once. */
#include <stdlib.h>
#include <string.h>

#include "context.h"

#define RANGE_WARPS 8

__global__ void __launch_bounds__(32 * RANGE_WARPS)
    k_range(const char *stage, int n_local, int D, const int *row, const float *G,
            const float *lo, const float *hi, const float *span, const float *tol, int *count,
            unsigned long long *worst) {
  const float t = *tol;
  if (t < 0.f) return;
  const int lane = threadIdx.x % 32;
  const int i = blockIdx.x * RANGE_WARPS + threadIdx.x / 32;
  if (i >= n_local || row[i] < 0) return; /* whole warps */
  const int s = (int)((const float4 *)(stage + sizeof(StepHeader)))[i].w;
  const float *g = G + (size_t)row[i] * D;
  float best = 0.f;
  unsigned where = 0; /* side << 31 | species << 16 | feature */
  for (int f = lane; f < D; f += 32) {
    const size_t k = (size_t)s * D + f;
    const float v = g[f], up = (v - hi[k]) / span[k], down = (lo[k] - v) / span[k];
    const float e = up > down ? up : down;
    if (e > t && e > best) best = e, where = (up > down ? 1u << 31 : 0u) | s << 16 | f;
  }
  unsigned long long key = best > 0.f ? (unsigned long long)__float_as_uint(best) << 32 | where : 0;
  for (int off = 16; off; off >>= 1) {
    const unsigned long long o = __shfl_xor_sync(0xffffffffu, key, off);
    key = o > key ? o : key;
  }
  if (lane == 0 && key) {
    atomicAdd(count, 1);
    atomicMax(worst, key);
  }
}

mlff_cuda_status range_setup(mlff_cuda *g, const mlff_cuda_model *m) {
  const int D = m->n_features, ns = m->n_elements;
  g->range_D = 0;
  for (int s = 0; s < ns; s++)
    if (!m->feature_min[s] || !m->feature_max[s]) return MLFF_CUDA_OK; /* no range: no check */
  const size_t n = (size_t)ns * D;
  float *h = (float *)malloc(3 * n * sizeof(float));
  if (!h) return fail(g, MLFF_CUDA_ERR_NOMEM, "out of memory");
  for (int s = 0; s < ns; s++) {
    /* spans floored at 1e-3 of the element's widest, as the CPU path's (compute.c) */
    double widest = 0.0;
    for (int f = 0; f < D; f++)
      widest = fmax(widest, (double)m->feature_max[s][f] - m->feature_min[s][f]);
    const double floor_ = widest > 0 ? 1e-3 * widest : 1e-12;
    for (int f = 0; f < D; f++) {
      const size_t k = (size_t)s * D + f;
      h[k] = m->feature_min[s][f];
      h[n + k] = m->feature_max[s][f];
      h[2 * n + k] = (float)fmax((double)m->feature_max[s][f] - m->feature_min[s][f], floor_);
    }
  }
  cudaError_t e = cudaMalloc(&g->d_range, 3 * n * sizeof(float));
  if (e == cudaSuccess)
    e = cudaMemcpy(g->d_range, h, 3 * n * sizeof(float), cudaMemcpyHostToDevice);
  if (e == cudaSuccess) e = cudaMalloc(&g->d_range_tol, sizeof(float));
  if (e == cudaSuccess) e = cudaMallocHost(&g->h_range_tol, sizeof(float));
  g->h_range = h; /* kept: the report's range and value */
  if (e != cudaSuccess) {
    cudaGetLastError();
    return fail(g, MLFF_CUDA_ERR_DEVICE, "cannot set up the training-range check on the GPU");
  }
  *g->h_range_tol = -1.f;
  g->range_D = D;
  return MLFF_CUDA_OK;
}

void range_free(mlff_cuda *g) {
  cudaFree(g->d_range);
  cudaFree(g->d_range_tol);
  cudaFreeHost(g->h_range_tol);
  free(g->h_range);
}

void enqueue_range(mlff_cuda *g, int n_local) {
  if (!g->range_D) return;
  const size_t n = (size_t)g->n_elements * g->range_D;
  cudaMemcpyAsync(g->d_range_tol, g->h_range_tol, sizeof(float), cudaMemcpyHostToDevice,
                  g->stream);
  k_range<<<(n_local + RANGE_WARPS - 1) / RANGE_WARPS, 32 * RANGE_WARPS, 0, g->stream>>>(
      g->d_stage, n_local, g->range_D, g->d_row, g->d_G, g->d_range, g->d_range + n,
      g->d_range + 2 * n, g->d_range_tol, g->d_range_n, g->d_range_key);
  mark(g, "training-range check");
}

/* the last step's count and largest excursion, in the report */
void range_collect(mlff_cuda *g) {
  mlff_cuda_range *r = &g->range;
  memset(r, 0, sizeof *r);
  r->species = r->feature = -1;
  if (!g->range_D || *g->h_range_tol < 0.f) return;
  r->n_atoms = *g->h_range_n;
  const unsigned long long key = *g->h_range_key;
  if (!key) return;
  const unsigned where = (unsigned)key, bits = (unsigned)(key >> 32);
  float excess;
  memcpy(&excess, &bits, sizeof excess);
  const size_t n = (size_t)g->n_elements * g->range_D;
  r->species = (where >> 16) & 0x7fff;
  r->feature = where & 0xffff;
  const size_t k = (size_t)r->species * g->range_D + r->feature;
  r->min = g->h_range[k];
  r->max = g->h_range[n + k];
  r->excess = excess;
  r->value = (where >> 31) ? r->max + excess * g->h_range[2 * n + k]
                           : r->min - excess * g->h_range[2 * n + k];
}

extern "C" mlff_cuda_status mlff_cuda_check_range(mlff_cuda *g, double tolerance,
                                                  mlff_cuda_message *msg) {
  if (tolerance >= 0 && !g->range_D) {
    fail(msg, MLFF_CUDA_ERR_UNSUPPORTED, "the model gave the GPU path no training range");
    return MLFF_CUDA_ERR_UNSUPPORTED;
  }
  g->range_tol = tolerance;
  if (g->range_D) *g->h_range_tol = tolerance >= 0 ? (float)tolerance : -1.f;
  return MLFF_CUDA_OK;
}

extern "C" void mlff_cuda_range_report(const mlff_cuda *g, mlff_cuda_range *out) {
  *out = g->range;
}
