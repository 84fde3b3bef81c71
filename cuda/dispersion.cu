/* dispersion.cu — the model's long-range dispersion on the general path (docs/model.md): per
 * local atom, its pairs within the dispersion cutoff from its own list (k_neighbors made it, out
 * to the cutoff, or cutoff + skin on a kept list), e(r) = -c6 / (r^6 + r0^6) - c8 / (r^8 + r0^8)
 * in float from the float positions of the step. Each atom takes half of each of its pairs'
 * energy and virial and its whole force, so no atom writes another's: as the CPU path
 * (dispersion.c). The tail beyond the cutoff is the caller's (whole-system energy and pressure). */
#include <string.h>

#include "context.h"

#define DISP_WARPS 8

/* The end of both kernels, one warp per atom i: the warp's sums over its lanes (acc: e, f[3],
 * w[6]); lane 0 adds them to i's force, energy and virial (after the earlier kernels, in stream
 * order: i is this warp's alone), and the block's energy and virial go to sums in one atomic
 * each. Every thread of the block must call it (a barrier). */
template <int WARPS>
__device__ __forceinline__ void disp_finish(float *acc, int i, bool own, int lane, int w,
                                            float (*part)[7], float *force, float *eatom,
                                            float *vatom, double *sums) {
  for (int q = 0; q < 10; q++)
    for (int off = 16; off; off >>= 1) acc[q] += __shfl_xor_sync(0xffffffffu, acc[q], off);
  if (lane == 0) {
    if (own) {
      for (int x = 0; x < 3; x++) force[3 * (size_t)i + x] += acc[1 + x];
      eatom[i] += acc[0];
      if (vatom)
        for (int q = 0; q < 6; q++) vatom[6 * (size_t)i + q] += acc[4 + q];
    }
    part[w][0] = acc[0];
    for (int q = 0; q < 6; q++) part[w][1 + q] = acc[4 + q];
  }
  __syncthreads();
  if (threadIdx.x < 7) {
    double s = 0.0;
    for (int k = 0; k < WARPS; k++) s += part[k][threadIdx.x];
    atomicAdd(&sums[threadIdx.x], s);
  }
}

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
  disp_finish<DISP_WARPS>(acc, i, si >= 0, lane, w, part, force, eatom, vatom, sums);
}

/* The three-body (ATM) term, as dispersion.c's mlff_disp_triples: one warp per local atom i.
 * Its neighbours within the three-body cutoff are first gathered from its list into the warp's
 * shared memory (relative position, squared distance, species); then the lanes share its pairs
 * (j, k): each triple with r_jk in range gives i a third of its energy and virial and its whole
 * force -de/dx_i, so each triple, found from each of its atoms, is counted once and no atom
 * writes another's. An atom with more neighbours than fit (cap, at most DISP3_CAP) reads them
 * from its list instead. (Evaluating each triple once, at the atom first in the order of
 * positions, with shared-memory atomics for the other two's forces, measured 1.8x slower on an
 * H100: 11.7 against 6.5 ms a step on the 49,152-atom liquid; atomics on shared floats are
 * compare-and-swap loops.) */
#define DISP3_WARPS 4
#define DISP3_CAP 512

struct Disp3Acc {
  float a[10]; /* e, f[3], w[6] */
};

__device__ __forceinline__ void disp3_triple(float4 dj, int sj, float4 dk, int sk, int si,
                                             const float2 *cs, int ns, float rc2, float alp3,
                                             Disp3Acc &acc) {
  const float3 djk = make_float3(dk.x - dj.x, dk.y - dj.y, dk.z - dj.z);
  const float a = dj.w, b = dk.w, c = djk.x * djk.x + djk.y * djk.y + djk.z * djk.z;
  if (c >= rc2 || c == 0.f) return;
  const float2 pij = cs[si * ns + sj], pik = cs[si * ns + sk], pjk = cs[sj * ns + sk];
  const float c9 = pij.x * pik.x * pjk.x;
  const float r1 = sqrtf(a * b * c), ir1 = 1.f / r1, ir3 = ir1 * ir1 * ir1, ir5 = ir3 * ir1 * ir1;
  const float u = a + c - b, v = a - c + b, t = -a + c + b, uvt = u * v * t;
  const float ang = 0.375f * uvt * ir5 + ir3;
  const float q = exp2f(alp3 * __log2f(pij.y * pik.y * pjk.y * ir1));
  const float fd = 1.f / (1.f + 6.f * q), fq = fd * fd * 3.f * q * alp3;
  const float ia = 1.f / a, ib = 1.f / b, ic = 1.f / c;
  const float ga = c9 * ((0.375f * (v * t + u * t - u * v - 2.5f * uvt * ia) * ir5 - 1.5f * ia * ir3) * fd + ang * fq * ia);
  const float gb = c9 * ((0.375f * (-v * t + u * t + u * v - 2.5f * uvt * ib) * ir5 - 1.5f * ib * ir3) * fd + ang * fq * ib);
  const float gc = c9 * ((0.375f * (v * t - u * t + u * v - 2.5f * uvt * ic) * ir5 - 1.5f * ic * ir3) * fd + ang * fq * ic);
  acc.a[0] += c9 * ang * fd * (1.f / 3.f);
  acc.a[1] += 2.f * (ga * dj.x + gb * dk.x);
  acc.a[2] += 2.f * (ga * dj.y + gb * dk.y);
  acc.a[3] += 2.f * (ga * dj.z + gb * dk.z);
  const float h0 = -2.f / 3.f * ga, h1 = -2.f / 3.f * gb, h2 = -2.f / 3.f * gc;
  acc.a[4] += h0 * dj.x * dj.x + h1 * dk.x * dk.x + h2 * djk.x * djk.x;
  acc.a[5] += h0 * dj.y * dj.y + h1 * dk.y * dk.y + h2 * djk.y * djk.y;
  acc.a[6] += h0 * dj.z * dj.z + h1 * dk.z * dk.z + h2 * djk.z * djk.z;
  acc.a[7] += h0 * dj.x * dj.y + h1 * dk.x * dk.y + h2 * djk.x * djk.y;
  acc.a[8] += h0 * dj.x * dj.z + h1 * dk.x * dk.z + h2 * djk.x * djk.z;
  acc.a[9] += h0 * dj.y * dj.z + h1 * dk.y * dk.z + h2 * djk.y * djk.z;
}

/* entry k of atom i's list as (x_j - x_i, r^2) and species, or species -1 when out of range */
__device__ __forceinline__ float4 disp3_entry(const float4 *pos, const int *list, int k, float4 p,
                                              float rc2, int *sp) {
  const float4 q = pos[list[k]];
  const float4 d = make_float4(q.x - p.x, q.y - p.y, q.z - p.z, 0.f);
  const float r2 = d.x * d.x + d.y * d.y + d.z * d.z;
  *sp = (q.w < 0.f || r2 >= rc2 || r2 == 0.f) ? -1 : (int)q.w;
  return make_float4(d.x, d.y, d.z, r2);
}

__global__ void __launch_bounds__(32 * DISP3_WARPS)
    k_dispersion3(const char *stage, int n_local, float rc, float alp3, int n_species,
                  const float2 *coef, int cap, int max_disp, const int *disp_n, const int *disp_j,
                  float *force, float *eatom, float *vatom, double *sums) {
  __shared__ float2 cs[MLFF_CUDA_MAX_ELEMENTS * MLFF_CUDA_MAX_ELEMENTS];
  __shared__ float4 nb[DISP3_WARPS][DISP3_CAP];
  __shared__ int nsp[DISP3_WARPS][DISP3_CAP];
  __shared__ float part[DISP3_WARPS][7];
  for (int k = threadIdx.x; k < n_species * n_species; k += blockDim.x) cs[k] = coef[k];
  __syncthreads();
  const int lane = threadIdx.x % 32, w = threadIdx.x / 32;
  const int i = blockIdx.x * DISP3_WARPS + w;
  const float4 *pos = (const float4 *)(stage + sizeof(StepHeader));
  const float rc2 = rc * rc;
  Disp3Acc acc = {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}};
  const int si = i < n_local ? (int)pos[i].w : -1;
  if (si >= 0) {
    const float4 p = pos[i];
    const int n = disp_n[i];
    const int *list = disp_j + (size_t)i * max_disp;
    int m = 0; /* gather the neighbours in range, in list order */
    for (int k0 = 0; k0 < n; k0 += 32) {
      int sj = -1;
      float4 d = make_float4(0.f, 0.f, 0.f, 0.f);
      if (k0 + lane < n) d = disp3_entry(pos, list, k0 + lane, p, rc2, &sj);
      const unsigned in = __ballot_sync(0xffffffffu, sj >= 0);
      const int slot = m + __popc(in & ((1u << lane) - 1u));
      if (sj >= 0 && slot < cap) nb[w][slot] = d, nsp[w][slot] = sj;
      m += __popc(in);
    }
    __syncwarp();
    if (m <= cap) {
      for (int j = 0; j < m - 1; j++) {
        const float4 dj = nb[w][j];
        const int sj = nsp[w][j];
        for (int k = j + 1 + lane; k < m; k += 32)
          disp3_triple(dj, sj, nb[w][k], nsp[w][k], si, cs, n_species, rc2, alp3, acc);
      }
    } else { /* too many to gather: the same sums from the list itself */
      for (int j = 0; j < n; j++) {
        int sj, sk;
        const float4 dj = disp3_entry(pos, list, j, p, rc2, &sj);
        if (sj < 0) continue;
        for (int k = j + 1 + lane; k < n; k += 32) {
          const float4 dk = disp3_entry(pos, list, k, p, rc2, &sk);
          if (sk >= 0) disp3_triple(dj, sj, dk, sk, si, cs, n_species, rc2, alp3, acc);
        }
      }
    }
  }
  disp_finish<DISP3_WARPS>(acc.a, i, si >= 0, lane, w, part, force, eatom, vatom, sums);
}

/* the neighbours a warp gathers: DISP3_CAP, or fewer (MLFF_GPU_DISP3_CAP, so that a test
 * reaches the fallback) */
static int disp3_cap(const mlff_cuda *g) {
  const int k = g->knobs.disp3_cap;
  return k > 0 && k < DISP3_CAP ? k : DISP3_CAP;
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
  g->disp3_rc = (float)m->disp3_cutoff;
  g->disp3_alp = (float)m->disp3_alp;
  if (g->disp3_rc > 0.f) {
    float2 c3[MLFF_CUDA_MAX_ELEMENTS * MLFF_CUDA_MAX_ELEMENTS];
    for (int a = 0; a < ns; a++)
      for (int b = 0; b < ns; b++)
        c3[a * ns + b] = make_float2((float)m->disp3_w[a][b], (float)m->disp3_r0[a][b]);
    if (cudaMalloc(&g->d_disp3_coef, sizeof c3) != cudaSuccess ||
        cudaMemcpy(g->d_disp3_coef, c3, sizeof c3, cudaMemcpyHostToDevice) != cudaSuccess) {
      cudaGetLastError();
      return fail(g, MLFF_CUDA_ERR_DEVICE, "cannot set up the three-body dispersion on the GPU");
    }
  }
  /* its pairs come from its own list, which the one-kernel paths do not make */
  g->no_fused = 1;
  return MLFF_CUDA_OK;
}

void dispersion_free(mlff_cuda *g) {
  cudaFree(g->d_disp_coef);
  cudaFree(g->d_disp3_coef);
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
  if (g->disp3_rc > 0.f) {
    const int blocks3 = (n_local + DISP3_WARPS - 1) / DISP3_WARPS;
    k_dispersion3<<<blocks3, 32 * DISP3_WARPS, 0, g->stream>>>(
        g->d_stage, n_local, g->disp3_rc, g->disp3_alp / 3.f, g->n_elements, g->d_disp3_coef,
        disp3_cap(g), g->disp_max, g->d_disp_n, g->d_disp_j, g->d_force, g->d_eatom,
        want_vatom ? g->d_vatom : nullptr, g->d_sums);
    mark(g, "dispersion three-body");
  }
}
