/* dispersion.cu — the model's long-range dispersion on the general path (docs/model.md): per
 * local atom, its pairs within the dispersion cutoff from its own list (k_neighbors made it, out
 * to the cutoff, or cutoff + skin on a kept list), e(r) = -c6 / (r^6 + r0^6) - c8 / (r^8 + r0^8)
 * in float from the float positions of the step. Each atom takes half of each of its pairs'
 * energy and virial and its whole force, so no atom writes another's: as the CPU path
 * (dispersion.c). The tail beyond the cutoff is the caller's (whole-system energy and pressure). */
#include <string.h>

#include "context.h"

#define DISP_WARPS 8

__global__ void __launch_bounds__(32 * DISP_WARPS)
    k_dispersion(const char *stage, int n_local, float rc, int n_species, const float4 *coef,
                 int max_disp, const int *disp_n, const int *disp_j, float *force, float *eatom,
                 float *vatom, double *sums) {
  __shared__ float4 cs[MLFF_CUDA_MAX_ELEMENTS * MLFF_CUDA_MAX_ELEMENTS];
  __shared__ float part[DISP_WARPS][7];
  for (int k = threadIdx.x; k < n_species * n_species; k += blockDim.x) cs[k] = coef[k];
  __syncthreads();
  const int lane = threadIdx.x % 32, w = threadIdx.x / 32;
  const int i = blockIdx.x * DISP_WARPS + w;
  const float4 *pos = (const float4 *)(stage + sizeof(StepHeader));
  const float rc2 = rc * rc;
  float acc[10] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0}; /* e, f[3], w[6] */
  const int si = i < n_local ? (int)pos[i].w : -1;
  if (si >= 0) {
    const float4 p = pos[i];
    const int n = disp_n[i];
    const int *list = disp_j + (size_t)i * max_disp;
    for (int k = lane; k < n; k += 32) {
      const float4 q = pos[list[k]];
      const int sj = (int)q.w;
      /* float positions relative to the grid's corner (k_stage, every step): 1e-5 Å steps at
       * 100 Å, below 1e-6 of these smooth pairs' forces; 16 bytes a pair instead of 48 */
      const float3 d = make_float3(q.x - p.x, q.y - p.y, q.z - p.z);
      const float r2 = d.x * d.x + d.y * d.y + d.z * d.z;
      if (sj < 0 || r2 >= rc2 || r2 == 0.f) continue;
      const float4 c = cs[si * n_species + sj];
      const float r6 = r2 * r2 * r2, r8 = r6 * r2;
      const float t6 = 1.f / (r6 + c.z), t8 = 1.f / (r8 + c.w);
      acc[0] -= 0.5f * (c.x * t6 + c.y * t8);
      /* e'(r) / r: the pair's force on i is g d (toward j), half its virial -g d (x) d is i's */
      const float g = (6.f * c.x * r6 * t6 * t6 + 8.f * c.y * r8 * t8 * t8) / r2;
      acc[1] += g * d.x, acc[2] += g * d.y, acc[3] += g * d.z;
      const float hh = -0.5f * g;
      acc[4] += hh * d.x * d.x, acc[5] += hh * d.y * d.y, acc[6] += hh * d.z * d.z;
      acc[7] += hh * d.x * d.y, acc[8] += hh * d.x * d.z, acc[9] += hh * d.y * d.z;
    }
  }
  for (int q = 0; q < 10; q++)
    for (int off = 16; off; off >>= 1) acc[q] += __shfl_xor_sync(0xffffffffu, acc[q], off);
  if (lane == 0) {
    if (si >= 0) { /* after the network's kernels, in stream order: i is this warp's alone */
      for (int x = 0; x < 3; x++) force[3 * (size_t)i + x] += acc[1 + x];
      eatom[i] += acc[0];
      if (vatom)
        for (int q = 0; q < 6; q++) vatom[6 * (size_t)i + q] += acc[4 + q];
    }
    part[w][0] = acc[0];
    for (int q = 0; q < 6; q++) part[w][1 + q] = acc[4 + q];
  }
  __syncthreads();
  if (threadIdx.x < 7) { /* one atomic per block and sum */
    double s = 0.0;
    for (int k = 0; k < DISP_WARPS; k++) s += part[k][threadIdx.x];
    atomicAdd(&sums[threadIdx.x], s);
  }
}

mlff_cuda_status dispersion_setup(mlff_cuda *g, const mlff_cuda_model *m) {
  g->disp_rc = (float)m->disp_cutoff;
  if (g->disp_rc <= 0.f) return MLFF_CUDA_OK;
  const int ns = m->n_elements;
  float4 coef[MLFF_CUDA_MAX_ELEMENTS * MLFF_CUDA_MAX_ELEMENTS];
  for (int a = 0; a < ns; a++)
    for (int b = 0; b < ns; b++)
      coef[a * ns + b] = make_float4((float)m->disp_c6[a][b], (float)m->disp_c8[a][b],
                                     (float)m->disp_r0_6[a][b], (float)m->disp_r0_8[a][b]);
  if (cudaMalloc(&g->d_disp_coef, sizeof coef) != cudaSuccess ||
      cudaMemcpy(g->d_disp_coef, coef, sizeof coef, cudaMemcpyHostToDevice) != cudaSuccess ||
      cudaMalloc(&g->d_disp_over, sizeof(int)) != cudaSuccess ||
      cudaMemset(g->d_disp_over, 0, sizeof(int)) != cudaSuccess ||
      cudaMallocHost(&g->h_disp_over, sizeof(int)) != cudaSuccess) {
    cudaGetLastError();
    return fail(g, MLFF_CUDA_ERR_DEVICE, "cannot set up the dispersion term on the GPU");
  }
  *g->h_disp_over = 0;
  /* its pairs come from its own list, which the one-kernel paths do not make */
  g->no_fused = 1;
  return MLFF_CUDA_OK;
}

void dispersion_free(mlff_cuda *g) {
  cudaFree(g->d_disp_coef);
  cudaFree(g->d_disp_n);
  cudaFree(g->d_disp_j);
  cudaFree(g->d_disp_over);
  cudaFreeHost(g->h_disp_over);
}

mlff_cuda_status dispersion_reserve(mlff_cuda *g, int n_local, int max_entries) {
  if (n_local <= g->disp_cap_atoms && max_entries <= g->disp_max) return MLFF_CUDA_OK;
  drop_graphs(g); /* they hold the old buffers */
  const int atoms = n_local > g->disp_cap_atoms ? n_local + n_local / 4 + 64 : g->disp_cap_atoms;
  const int entries = max_entries > g->disp_max ? (max_entries + 31) / 32 * 32 : g->disp_max;
  cudaFree(g->d_disp_n);
  cudaFree(g->d_disp_j);
  g->d_disp_n = g->d_disp_j = nullptr;
  g->disp_cap_atoms = g->disp_max = 0;
  const size_t bytes = (size_t)atoms * entries * sizeof(int);
  if (cudaMalloc(&g->d_disp_n, (size_t)atoms * sizeof(int)) != cudaSuccess ||
      cudaMalloc(&g->d_disp_j, bytes) != cudaSuccess) {
    cudaGetLastError();
    return fail(g, MLFF_CUDA_ERR_DEVICE, "cannot allocate %.1f MB of GPU memory for the "
                "dispersion's list (%d atoms, %d pairs each within %.1f Å)", (double)bytes / 1e6,
                atoms, entries, g->disp_rc);
  }
  g->disp_cap_atoms = atoms;
  g->disp_max = entries;
  return MLFF_CUDA_OK;
}

void enqueue_dispersion(mlff_cuda *g, int n_local, int want_vatom) {
  const int blocks = (n_local + DISP_WARPS - 1) / DISP_WARPS;
  k_dispersion<<<blocks, 32 * DISP_WARPS, 0, g->stream>>>(
      g->d_stage, n_local, g->disp_rc, g->n_elements, g->d_disp_coef, g->disp_max, g->d_disp_n,
      g->d_disp_j, g->d_force, g->d_eatom, want_vatom ? g->d_vatom : nullptr, g->d_sums);
  mark(g, "dispersion");
}
