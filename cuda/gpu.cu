/* gpu.cu — one MD step of the aev-mlp model on a CUDA device (SPEC §6).
 *
 * Per step, on one stream, captured once in a CUDA graph and replayed:
 *   positions in (one copy) -> cell list -> neighbour list -> rows sorted by element ->
 *   descriptors (a warp per atom: radial terms by neighbour, angular terms by pair, as
 *   TorchANI's cuaev splits them) -> per-element MLP forward and backward (tiled FP32 GEMMs;
 *   with fp16 on, one kernel on tensor cores, FP16 operands and FP32 accumulation) ->
 *   descriptor backward and force scatter (float atomics) -> energy and virial reductions ->
 *   results out (one copy). Up to 4,096 atoms the whole step is one kernel (k_fused).
 * Descriptors, forces and sums stay FP32 (energy and virial totals in FP64). */
#include <cuda_runtime.h>
#include <mma.h>
#include <cub/device/device_scan.cuh>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <atomic>
#include <chrono>

#include <omp.h>

#include "mlff_gpu.h"
#include "resident_deal.h"

#define WARPS_PER_BLOCK 4
/* k_aev_forward's shared memory per warp: G, then per neighbour slot a float4 d, a cutoff
 * value and a species; counts rounded to 4 so that every warp's float4s stay aligned */
__host__ __device__ inline int aev_fwd_round4(int n) { return (n + 3) & ~3; }
__host__ __device__ inline int aev_fwd_words(int D, int max_nb) {
  return aev_fwd_round4(D) + 6 * aev_fwd_round4(max_nb);
}
/* k_aev_backward's per warp: dE/dG, then per neighbour slot the angular neighbours' d (float4)
 * and cutoff function with its derivative (float2), the pair gradient (3), the angular
 * neighbour's slot and the neighbour's species; then the angular pairs' coefficients, a chunk
 * at a time (float4, AEV_BWD_PAIRS of them). dE/dG's angular species blocks
 * (n_blocks of them) are padded by 4 words each, so that one warp's loads from different blocks
 * fall in different banks: D_padded = D + 4 n_blocks. */
#define AEV_BLOCK_PAD 4
#define AEV_BWD_PAIRS 64 /* pair coefficients per chunk: 1 KB a warp (occupancy: shared memory) */
__host__ __device__ inline int aev_bwd_words(int D_padded, int max_nb) {
  return aev_fwd_round4(D_padded) + 11 * aev_fwd_round4(max_nb) + 4 * AEV_BWD_PAIRS;
}
#define MAX_D 1024            /* descriptor length the kernels support */
#define MAX_NB_LIMIT 512      /* neighbour capacity ceiling per atom */

#define CUDA_TRY(call)                                                                     \
  do {                                                                                     \
    cudaError_t e_ = (call);                                                               \
    if (e_ != cudaSuccess)                                                                 \
      return mlff_fail(MLFF_ERR_DEVICE, "CUDA error in %s: %s", #call, cudaGetErrorString(e_)); \
  } while (0)

/* Descriptor constants, by value in every kernel that needs them. */
struct AevParams {
  float Rcr, Rca, etaR, etaA, zeta;
  int nR, nA, nZ, nS, n_radial, D, zeta_m1;
  float muR[MLFF_MAX_RADIAL_SHELLS], muA[MLFF_MAX_ANGULAR_SHELLS];
  float cosZ[MLFF_MAX_ANGLE_SECTIONS], sinZ[MLFF_MAX_ANGLE_SECTIONS];
};
/* k_aev_backward's dE/dG row in shared memory, angular blocks padded (aev_bwd_words) */
__host__ __device__ inline int aev_bwd_dG_words(const AevParams &P) {
  return P.D + AEV_BLOCK_PAD * (P.nS * (P.nS + 1) / 2);
}

/* The staged positions: this header (the cell grid of this step), float4 (x, y, z, species)[n_total] for the cell list and
 * the cutoff test, then double (x, y, z)[n_total] from which the kept pairs' displacements are
 * taken: float32 positions a few hundred Å from the corner (a large box, a batch of many
 * structures) carry 1e-5 Å steps, relative force errors of 1e-5 and more. */
struct StepHeader {
  float inv_cell; /* float4 positions are relative to the corner of the grid */
  int dims[3];
  int4 meta;   /* n_total; small: all atoms within FLOAT_SPAN Å of the corner, float
                * displacements suffice; 2 unused. One load: it may come from host memory */
  double origin[3]; /* general path: the corner, which k_stage subtracts */
  double pad1;
};
/* The general path stages less on the host: the double positions as given and the species
 * (int, after the doubles), in one pass that also finds the corner; k_stage writes the float4
 * positions relative to the corner on the device. The one-kernel path stages float4 and double
 * positions relative to the corner on the host (small systems; the step is one kernel). */
/* Up to this span float32 positions are as exact as the test asks (1e-5 of the largest force;
 * measured 1.4e-6 for benzene, 4.7e-6 at 21 Å, 9e-6 at 39 Å); the one-kernel path then skips
 * the double positions, one read of host memory fewer in its zero-copy form. */
#define FLOAT_SPAN 16.0
static_assert(sizeof(StepHeader) % 16 == 0, "float4 positions follow the header");

__device__ __host__ __forceinline__ const double *stage_xd(const char *stage, int n_total) {
  return (const double *)(stage + sizeof(StepHeader) + (size_t)n_total * sizeof(float4));
}
__device__ __host__ __forceinline__ const int *stage_species(const char *stage, int n_total) {
  return (const int *)(stage_xd(stage, n_total) + 3 * (size_t)n_total);
}
#define STAGE_BYTES_PER_ATOM (sizeof(float4) + 3 * sizeof(double) + sizeof(int))

/* General path: float4 (x - corner, species) from the staged doubles and species. */
__global__ void k_stage(char *stage, int n_total) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n_total) return;
  const StepHeader *h = (const StepHeader *)stage;
  const double *x = stage_xd(stage, n_total) + 3 * (size_t)i;
  ((float4 *)(stage + sizeof(StepHeader)))[i] =
      make_float4((float)(x[0] - h->origin[0]), (float)(x[1] - h->origin[1]),
                  (float)(x[2] - h->origin[2]), (float)stage_species(stage, n_total)[i]);
}

/* Kept list: the double positions from those of its build and the moves since (floats: at most
 * a few Å, so that their rounding is below 1e-6 Å) */
__global__ void k_moved(double *xd, const double *xref, const float *delta, long n3) {
  const long k = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (k < n3) xd[k] = xref[k] + (double)delta[k];
}

/* Images made here, on the kept list: each at its owner's position plus its shift in the
 * current cell (which may change between list builds, as under a barostat) */
__global__ void k_images(double *xd, int n_local, int n_img, const int2 *img, const double *cell) {
  const int q = blockIdx.x * blockDim.x + threadIdx.x;
  if (q >= n_img) return;
  const int2 m = img[q];
  const double sa = m.y % 3 - 1, sb = m.y / 3 % 3 - 1, sc = m.y / 9 - 1;
  for (int d = 0; d < 3; d++)
    xd[3 * ((size_t)n_local + q) + d] = xd[3 * (size_t)m.x + d] + sa * cell[d] + sb * cell[3 + d] + sc * cell[6 + d];
}

/* Images' forces and per-atom virials onto their owners (the caller sees local atoms only) */
__global__ void k_fold(int n_local, int n_img, const int2 *img, float *force, float *vatom) {
  const int q = blockIdx.x * blockDim.x + threadIdx.x;
  if (q >= n_img) return;
  const size_t o = img[q].x, g = (size_t)n_local + q;
  for (int x = 0; x < 3; x++) atomicAdd(&force[3 * o + x], force[3 * g + x]);
  if (vatom)
    for (int x = 0; x < 6; x++) atomicAdd(&vatom[6 * o + x], vatom[6 * g + x]);
}

/* Displacement x_j - x_i and its length, from the double positions. */
__device__ __forceinline__ float4 displacement(const double *xd, int i, int j) {
  double dx = xd[3 * (size_t)j] - xd[3 * (size_t)i], dy = xd[3 * (size_t)j + 1] - xd[3 * (size_t)i + 1],
         dz = xd[3 * (size_t)j + 2] - xd[3 * (size_t)i + 2];
  return make_float4((float)dx, (float)dy, (float)dz, (float)sqrt(dx * dx + dy * dy + dz * dz));
}

/* The float test keeps a margin; the double length decides (as the CPU path does). */
#define CUTOFF_MARGIN 1.0001f

struct Net { /* one element's layers on the device; all elements share the sizes */
  float *W[MLFF_MAX_LAYERS], *b[MLFF_MAX_LAYERS];
  __half *Wh[MLFF_MAX_LAYERS];
};

struct mlff_gpu {
  int n_elements, n_layers, sizes[MLFF_MAX_LAYERS + 1], fp16, widest;
  mlff_activation act;
  float scale, e0[MLFF_MAX_ELEMENTS];
  AevParams aev;
  float rc;
  Net net[MLFF_MAX_ELEMENTS];
  cudaStream_t stream;
  /* capacities */
  int cap_atoms, cap_cells, max_nb;
  long generation; /* buffers reallocated so many times (what was staged is gone) */
  /* device buffers */
  char *d_stage;        /* StepHeader + float4 (x, y, z, species) + double (x, y, z) positions */
  int *d_cell_count, *d_cell_start, *d_cell_fill, *d_cell_of, *d_cell_atoms;
  void *d_scan_tmp;
  size_t scan_tmp_bytes;
  int *d_nbr_n, *d_nbr_j;
  float4 *d_nbr_d;
  /* The kept list (the caller's skin > 0): candidates within cutoff + skin, found at a call the
   * caller marked as a rebuild (list_age 0), refined to the cutoff every call; valid while the
   * caller's atoms, their order and the buffers stay (list_* below) */
  int *d_cand_n, *d_cand_j;
  /* and its steps' positions: those of its build (d_xref; the host's copy stays in h_stage)
   * plus the moves since, sent as floats (h_delta -> d_delta): half the bytes of doubles */
  double *d_xref;
  float *d_delta, *h_delta;
  int list_kept, list_local, list_total, list_images;
  float list_skin;
  /* Periodic images made here (mlff_gpu_compute with a cell: the caller's atoms are all local).
   * Image q of n_img is atom h_img[q].x shifted by cell rows (code % 3 - 1, code / 3 % 3 - 1,
   * code / 9 - 1), code = h_img[q].y; staged after the local atoms. On the kept list an image
   * follows its owner with the current cell (k_images), and its forces go to the owner (k_fold;
   * the host on the one-kernel paths). */
  int n_img, cap_img, cap_all, cap_off;
  int2 *h_img, *d_img;
  int *h_img_off; /* [cap_off] each atom's first image (make_images) */
  int img_local;   /* the images were made at the caller's rebuild (list_age 0) of so many
                    * atoms (else -1): calls until its next rebuild keep them (refill_images) */
  float img_skin;
  double *h_cell, *d_cell; /* [9], rows a, b, c: pinned, sent every step */
  double *h_all;           /* local atoms then images, staged from here (cap_all atoms) */
  int *h_all_sp;
  int moving; /* atoms whose moves a kept-list step sends: all, or the local ones with images */
  long list_generation;
  int no_reuse; /* MLFF_GPU_LIST_REUSE=0: a new list every call (benchmarks) */
  int *d_count, *d_offset, *d_fill, *d_row, *d_row_atom;
  float *d_e0;
  unsigned long long *d_phase; /* MLFF_GPU_PROFILE: the one-kernel step's phase clocks */
  float *d_G, *d_dG, *d_Z[MLFF_MAX_LAYERS], *d_A[MLFF_MAX_LAYERS], *d_bufA, *d_bufB;
  /* All results in one buffer, so that one memset clears them and one copy brings them back:
   * [energy, virial[6] (double) | overflow (int) | ticket (int) | force[3 n_total] |
   *  eatom[n_local] | vatom[6 n_total] (when asked)]; the pointers below point into it. */
  char *d_out, *h_out;
  size_t out_bytes;
  float *d_force, *d_eatom, *d_vatom;
  double *d_sums;
  int *d_overflow;
  int *d_ticket;        /* blocks of the one-kernel step that are done (the last copies out) */
  float *h_force, *h_eatom, *h_vatom;
  double *h_sums;
  int *h_overflow;
  int fused;            /* this step runs as one kernel (small systems) */
  int no_fused;         /* an atom had more neighbours than the one-kernel path holds */
  /* host */
  char *h_stage;
  char *h_stage_dev, *h_out_dev; /* the same pinned buffers as the device addresses them */
  /* the resident step's results: an 8-byte entry (step << 32 | word) per 4-byte word of h_out,
   * so that the host knows each word of a step by itself (copy_out_tagged) */
  unsigned long long *h_tagged, *h_tagged_dev;
  /* graphs: [0] steps that build a list, [1] steps that reuse the kept one */
  struct {
    cudaGraphExec_t exec;
    int local, total, vatom, fused, mode, images;
    float skin;
  } graph[2];
  long replays, captures;
  /* MLFF_GPU_PROFILE=1: steps run without the graph, with an event after each stage, and
   * the stage times go to stderr (where the time goes, without a profiler) */
  int profile, n_marks;
  int n_sm;     /* streaming multiprocessors of the device */
  size_t mlp_smem;   /* k_mlp_fp16's shared memory per block */
  int mlp_warps, mlp_weights_shared; /* its warps per block; weights in shared memory */
  int mlp_regs;      /* the shipped shape: k_mlp_fp16_regs / k_mlp_fp32_regs instead */
  float bout[MLFF_MAX_ELEMENTS]; /* the output unit's bias per element */
  int device;   /* CUDA ordinal: made current on every entry (calcs on one thread may use different GPUs) */
  int n_threads; /* host threads for staging and adding results in large systems */
  int no_graph; /* MLFF_GPU_GRAPH=0: launch the step's kernels one by one (benchmarks) */
  /* The resident step (k_fused_resident) of small systems, where this process has the GPU to
   * itself: a mailbox in pinned memory, [0] the step the host asks for, [32] the last step the
   * GPU finished (own cache lines), and the word block 0 passes steps on through */
  int *h_mail, *h_mail_dev, *d_bcast;
  int resident_ok; /* the device and the model allow it (cooperative launch, shared memory) */
  int shared_gpu;  /* the caller says other processes use this GPU: no resident step */
  int no_resident; /* MLFF_GPU_RESIDENT=0 (benchmarks: the graph path instead) */
  struct {
    int running, epoch, seq, done, local, total, vatom;
    double last; /* host clock (s) when the last step came back */
  } res;
  cudaEvent_t ev[32];
  const char *ev_name[32];
};

static void mark(mlff_gpu *g, const char *name) {
  if (!g->profile || g->n_marks >= 32) return;
  if (!g->ev[g->n_marks]) cudaEventCreate(&g->ev[g->n_marks]);
  g->ev_name[g->n_marks] = name;
  cudaEventRecord(g->ev[g->n_marks++], g->stream);
}

/* ---------------------------------------------------------------------------------------- */

__device__ __forceinline__ float fc_f(float r, float rc) { return 0.5f * cosf(3.14159265358979f * r / rc) + 0.5f; }
__device__ __forceinline__ float dfc_f(float r, float rc) {
  return -0.5f * 3.14159265358979f / rc * sinf(3.14159265358979f * r / rc);
}

__global__ void k_cells(const char *stage, int n_total, int *cell_of, int *cell_count) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n_total) return;
  const StepHeader *h = (const StepHeader *)stage;
  const float4 *pos = (const float4 *)(stage + sizeof(StepHeader));
  float4 p = pos[i];
  int c[3];
  float q[3] = {p.x, p.y, p.z};
  for (int d = 0; d < 3; d++) {
    c[d] = (int)(q[d] * h->inv_cell);
    c[d] = c[d] < 0 ? 0 : (c[d] >= h->dims[d] ? h->dims[d] - 1 : c[d]);
  }
  int cell = (c[2] * h->dims[1] + c[1]) * h->dims[0] + c[0];
  cell_of[i] = cell;
  atomicAdd(&cell_count[cell], 1);
}

__global__ void k_cell_fill(int n_total, const int *cell_of, const int *cell_start, int *cell_fill,
                            int *cell_atoms) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n_total) return;
  int c = cell_of[i];
  cell_atoms[cell_start[c] + atomicAdd(&cell_fill[c], 1)] = i;
}

/* Warp per local atom: neighbours within rc from the 27 cells around it, a cell's atoms across
 * the lanes, found ones compacted by ballot (a thread per atom, scanning ~300 candidates alone
 * and writing its list with a stride, was latency-bound). Order: by cell, then cell order.
 * nbr_d NULL: candidates of a kept list (float test with its margin only, no displacements). */
#define NEIGHBOR_WARPS 4
__global__ void k_neighbors(const char *stage, int n_local, float rc, const int *cell_of,
                            const int *cell_start, const int *cell_atoms, int max_nb,
                            int *nbr_n, int *nbr_j, float4 *nbr_d, int *overflow) {
  const int lane = threadIdx.x % 32;
  const int i = blockIdx.x * NEIGHBOR_WARPS + threadIdx.x / 32;
  if (i >= n_local) return;
  const StepHeader *h = (const StepHeader *)stage;
  const float4 *pos = (const float4 *)(stage + sizeof(StepHeader));
  const float4 p = pos[i];
  int n = 0;
  if (p.w >= 0.f) {
    const int c = cell_of[i];
    const int cx = c % h->dims[0], cy = (c / h->dims[0]) % h->dims[1], cz = c / (h->dims[0] * h->dims[1]);
    const float rc2 = rc * rc, rc2_loose = rc2 * CUTOFF_MARGIN;
    const double *xd = stage_xd(stage, h->meta.x);
    const unsigned below = (1u << lane) - 1;
    for (int z = max(cz - 1, 0); z <= min(cz + 1, h->dims[2] - 1); z++)
      for (int y = max(cy - 1, 0); y <= min(cy + 1, h->dims[1] - 1); y++)
        for (int x = max(cx - 1, 0); x <= min(cx + 1, h->dims[0] - 1); x++) {
          const int cc = (z * h->dims[1] + y) * h->dims[0] + x;
          const int s1 = cell_start[cc + 1];
          for (int base = cell_start[cc]; base < s1; base += 32) {
            const int s = base + lane;
            int j = -1;
            float4 d = make_float4(0.f, 0.f, 0.f, 0.f);
            if (s < s1) {
              j = cell_atoms[s];
              const float4 q = pos[j];
              const float dx = q.x - p.x, dy = q.y - p.y, dz = q.z - p.z;
              const float r2 = dx * dx + dy * dy + dz * dz;
              if (j == i || q.w < 0.f || r2 >= rc2_loose) j = -1;
              if (j >= 0 && nbr_d) {
                d = displacement(xd, i, j);
                if (d.w >= rc || d.w == 0.f) j = -1;
              }
            }
            const unsigned found = __ballot_sync(0xffffffffu, j >= 0);
            const int k = n + __popc(found & below);
            if (j >= 0 && k < max_nb) {
              nbr_j[(size_t)i * max_nb + k] = j;
              if (nbr_d) nbr_d[(size_t)i * max_nb + k] = d;
            }
            n += __popc(found);
          }
        }
  }
  if (lane == 0) {
    if (n > max_nb) atomicMax(overflow, n);
    nbr_n[i] = min(n, max_nb);
  }
}

/* Warp per local atom: the kept list's candidates (within cutoff + skin when it was built) that
 * are within the cutoff now, with their displacements; order kept. */
__global__ void k_refine(const char *stage, int n_local, float rc, int max_nb, const int *cand_n,
                         const int *cand_j, int *nbr_n, int *nbr_j, float4 *nbr_d) {
  const int lane = threadIdx.x % 32;
  const int i = blockIdx.x * NEIGHBOR_WARPS + threadIdx.x / 32;
  if (i >= n_local) return;
  const double *xd = stage_xd(stage, ((const StepHeader *)stage)->meta.x);
  const int nc = cand_n[i];
  const unsigned below = (1u << lane) - 1;
  int n = 0;
  for (int base = 0; base < nc; base += 32) {
    const int s = base + lane;
    int j = -1;
    float4 d = make_float4(0.f, 0.f, 0.f, 0.f);
    if (s < nc) {
      j = cand_j[(size_t)i * max_nb + s];
      d = displacement(xd, i, j);
      if (d.w >= rc || d.w == 0.f) j = -1;
    }
    const unsigned found = __ballot_sync(0xffffffffu, j >= 0);
    if (j >= 0) {
      const int k = n + __popc(found & below); /* < nc <= max_nb */
      nbr_j[(size_t)i * max_nb + k] = j;
      nbr_d[(size_t)i * max_nb + k] = d;
    }
    n += __popc(found);
  }
  if (lane == 0) nbr_n[i] = n;
}

__global__ void k_count_species(const char *stage, int n_local, int *count) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n_local) return;
  const float4 *pos = (const float4 *)(stage + sizeof(StepHeader));
  int s = (int)pos[i].w;
  if (s >= 0) atomicAdd(&count[s], 1);
}

__global__ void k_offsets(int n_species, const int *count, int *offset, int *fill) {
  int o = 0;
  for (int s = 0; s < n_species; s++) {
    offset[s] = o;
    fill[s] = 0;
    o += count[s];
  }
  offset[n_species] = o;
}

__global__ void k_rows(const char *stage, int n_local, const int *offset, int *fill, int *row,
                       int *row_atom) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n_local) return;
  const float4 *pos = (const float4 *)(stage + sizeof(StepHeader));
  int s = (int)pos[i].w;
  if (s < 0) {
    row[i] = -1;
    return;
  }
  int r = offset[s] + atomicAdd(&fill[s], 1);
  row[i] = r;
  row_atom[r] = i;
}

/* ---- descriptors ---------------------------------------------------------------------- */

/* Template counts (N, NZ, NA, NR below): > 0 fixes the model's count at compile time, so that
 * per-thread arrays of terms stay in registers (ANI-1x: 16 radial shells, 4 x 8 angular);
 * 0 takes the count at run time (arrays in local memory). */
template <int N = 0>
__device__ __forceinline__ void gauss_comb(float x, float eta, const float *mu, int n, float *g) {
#pragma unroll
  for (int k = 0; k < (N ? N : n); k++) {
    float d = x - mu[k];
    g[k] = __expf(-eta * d * d);
  }
}

/* base^e for small integer e; zeta = 32 (every ANI model) takes the straight-line path */
__device__ __forceinline__ float ipow(float b, int e) {
  if (e == 32) {
    float b2 = b * b, b4 = b2 * b2, b8 = b4 * b4, b16 = b8 * b8;
    return b16 * b16;
  }
  if (e == 31) {
    float b2 = b * b, b4 = b2 * b2, b8 = b4 * b4, b16 = b8 * b8;
    return b16 * b8 * b4 * b2 * b;
  }
  float r = 1.f;
  for (; e; e >>= 1) {
    if (e & 1) r *= b;
    b *= b;
  }
  return r;
}

/* ANI-1x's counts (16 radial shells, 4 x 8 angular) and zeta = 32: the kernels' compile-time
 * instances (ANI1X_ZETA fixed there: with a run-time exponent every angle factor went through
 * ipow's branches and loop, or powf) */
#define ANI1X_ZETA 32
__host__ __device__ inline bool ani1x_counts(const AevParams &P) {
  return P.nR == 16 && P.nA == 4 && P.nZ == 8 && P.zeta_m1 == ANI1X_ZETA - 1;
}

/* base^zeta where zeta is known only at run time: ANI1X_ZETA on a straight line */
__device__ __forceinline__ float pow_zeta(const AevParams &P, float base) {
  return P.zeta_m1 == ANI1X_ZETA - 1 ? ipow(base, ANI1X_ZETA)
         : P.zeta_m1 >= 0            ? ipow(base, P.zeta_m1 + 1)
                                     : powf(base, P.zeta);
}

/* f1[z] = ((1 + cos(theta' - thetaZ))/2)^zeta and d f1 / d cos(theta); NZ > 0: the ANI-1x
 * instance (zeta = ANI1X_ZETA) */
template <int NZ = 0>
__device__ __forceinline__ void angle_terms(const AevParams &P, float cos_t, float *f1, float *df1) {
  float c = 0.95f * cos_t, s = sqrtf(fmaxf(1.f - c * c, 1e-12f)), c_s = c / s;
  const int zm1 = NZ ? ANI1X_ZETA - 1 : P.zeta_m1;
#pragma unroll
  for (int z = 0; z < (NZ ? NZ : P.nZ); z++) {
    float base = 0.5f * (1.f + c * P.cosZ[z] + s * P.sinZ[z]);
    float pm1 = zm1 >= 0 ? ipow(base, zm1) : powf(base, P.zeta - 1.f);
    f1[z] = pm1 * base;
    if (df1) df1[z] = 0.5f * 0.95f * P.zeta * pm1 * (P.cosZ[z] - c_s * P.sinZ[z]);
  }
}

__device__ __forceinline__ int pair_index(int a, int b, int n) {
  if (a > b) { int t = a; a = b; b = t; }
  return a * n - a * (a - 1) / 2 + (b - a);
}

/* Pair p of na angular neighbours -> (j, k), j != k, every unordered pair once for p in
 * [0, na(na-1)/2): by diagonals, k = j + d (mod na) for d = 1, 2, ..., so that consecutive p
 * (the lanes of a warp) have distinct j and distinct k and rarely add into one neighbour's
 * gradient at once (shared-memory atomics on one address serialise). O(1), unlike a walk
 * along the rows of the triangle. For even na, the last diagonal d = na/2 takes j < na/2 only,
 * which p < na(na-1)/2 already ensures. */
__device__ __forceinline__ void decode_pair(int p, int na, int &j, int &k) {
  int d = 1 + p / na;
  j = p - (d - 1) * na;
  k = j + d;
  if (k >= na) k -= na;
}

/* One halving exchange of a warp's per-lane sums v[0, 2H): lanes with bit O set keep the upper
 * half, the others the lower, each adding its partner's copy; after the steps O = 16 .. 1 lane l
 * holds the warp's totals of entries [l * n, l * n + n) of the original 32 n. */
template <int H, int O>
__device__ __forceinline__ void halve(float *v, int lane) {
  const bool upper = lane & O;
#pragma unroll
  for (int k = 0; k < H; k++) {
    const float send = upper ? v[k] : v[k + H], keep = upper ? v[k + H] : v[k];
    v[k] = keep + __shfl_xor_sync(0xffffffffu, send, O);
  }
}

/* All five exchanges: each lane's 32 n sums v become, in v[0, n), the warp's totals of entries
 * [lane * n, lane * n + n). */
template <int N>
__device__ __forceinline__ void sum_across_lanes(float *v, int lane) {
  halve<16 * N, 16>(v, lane);
  halve<8 * N, 8>(v, lane);
  halve<4 * N, 4>(v, lane);
  halve<2 * N, 2>(v, lane);
  halve<N, 1>(v, lane);
}

/* Angular neighbours of one or two species sorted by species (ANI-1x's C/H): species 0 in slots
 * [0, n0), species 1 in slots cap - 1, cap - 2, ... (n1 of them). The pairs of species block
 * q (0: 0-0, 1: 0-1, 2: 1-1) one block at a time: every pair of a warp's turn then adds into
 * the same 32 features (no 0/1 weights over three blocks) and reads the same dE/dG. */
__device__ __forceinline__ int block_pairs(int q, int n0, int n1) {
  return q == 0 ? n0 * (n0 - 1) / 2 : q == 1 ? n0 * n1 : n1 * (n1 - 1) / 2;
}
/* pair p of block q -> slots (a, b); across the block's cross pairs consecutive p have
 * distinct a and, by the diagonal shift, distinct b where n1 >= n0 (see decode_pair) */
__device__ __forceinline__ void block_pair(int q, int p, int n0, int n1, int cap, int &a, int &b) {
  if (q == 0) {
    decode_pair(p, n0, a, b);
  } else if (q == 2) {
    decode_pair(p, n1, a, b);
    a = cap - 1 - a;
    b = cap - 1 - b;
  } else {
    const int u = p / n0;
    a = p - u * n0;
    b = cap - 1 - (u + a) % n1;
  }
}

/* The angular features of one or two species, 4 x 8 (shell, section) per block: a lane per
 * pair of one block, its 8 angle factors and 4 radial factors computed once, by its lane, and
 * their 32 products added into the lane's 32 sums (registers), instead of every lane computing
 * its own feature of every pair from shuffled pair terms; the sums are reduced by halving
 * exchanges once per block (lane l ends with feature l). */
template <int ZETA = 0> /* > 0: zeta at compile time (ANI1X_ZETA) */
__device__ __forceinline__ void angular_by_block(const AevParams &P, int n0, int n1, int cap,
                                                 const float4 *angd, const float *fca, float *GA,
                                                 int lane) {
  const int e = ZETA ? ZETA : P.zeta_m1 >= 0 ? P.zeta_m1 + 1 : -1;
  for (int q = 0; q < 3; q++) {
    const int np = block_pairs(q, n0, n1);
    if (!np) continue; /* G is zero already */
    float v[32];
#pragma unroll
    for (int k = 0; k < 32; k++) v[k] = 0.f;
    for (int base = 0; base < np; base += 32) {
      float c = 0.f, sn = 0.f, w = 0.f, r = 0.f;
      if (base + lane < np) {
        int a, b;
        block_pair(q, base + lane, n0, n1, cap, a, b);
        const float4 dj = angd[a], dk = angd[b];
        c = 0.95f * (dj.x * dk.x + dj.y * dk.y + dj.z * dk.z) / (dj.w * dk.w);
        sn = sqrtf(fmaxf(1.f - c * c, 1e-12f));
        w = 2.f * fca[a] * fca[b];
        r = 0.5f * (dj.w + dk.w);
      }
      float A[8];
#pragma unroll
      for (int z = 0; z < 8; z++) {
        const float bse = 0.5f * (1.f + c * P.cosZ[z] + sn * P.sinZ[z]);
        A[z] = e >= 0 ? ipow(bse, e) : powf(bse, P.zeta);
      }
#pragma unroll
      for (int x = 0; x < 4; x++) {
        const float u = r - P.muA[x], rx = w * __expf(-P.etaA * u * u);
#pragma unroll
        for (int z = 0; z < 8; z++) v[x * 8 + z] = fmaf(rx, A[z], v[x * 8 + z]);
      }
    }
    sum_across_lanes<1>(v, lane);
    GA[32 * q + lane] = v[0];
  }
}

/* Warp per atom: G row of atom i (rows sorted by element). The neighbours are read once, a
 * lane each, and what the loops need of them is then passed by shuffles or kept in shared
 * memory (angular neighbours: displacement, species, cutoff value), so that no loop waits on a
 * global load per neighbour or pair. Lanes own features: radial shells for each neighbour, then
 * the (shell, section) features of each angular pair in turn, so every lane adds only to its
 * own entries of G (no atomics, no bank conflicts). */
__global__ void k_aev_forward(AevParams P, const char *stage, int n_local, const int *row,
                              int max_nb, const int *nbr_n, const int *nbr_j, const float4 *nbr_d,
                              float *G_out) {
  extern __shared__ float sh[];
  const unsigned FULL = 0xffffffffu;
  int w = threadIdx.x / 32, lane = threadIdx.x % 32;
  int i = blockIdx.x * WARPS_PER_BLOCK + w;
  float *G = sh + w * aev_fwd_words(P.D, max_nb);
  const int nb4 = aev_fwd_round4(max_nb);
  float4 *angd = (float4 *)(G + aev_fwd_round4(P.D)); /* [max_nb] angular neighbours: d */
  float *fca = (float *)(angd + nb4);                 /* cutoff value */
  int *asp = (int *)(fca + nb4);                      /* species */
  if (i >= n_local || row[i] < 0) return;
  const float4 *pos = (const float4 *)(stage + sizeof(StepHeader));
  for (int f = lane; f < P.D; f += 32) G[f] = 0.f;
  int n = nbr_n[i];
  const float4 *nd = nbr_d + (size_t)i * max_nb;
  const int *nj = nbr_j + (size_t)i * max_nb;
  __syncwarp();
  int na = 0, n0 = 0, n1 = 0;
  const int nAZ = P.nA * P.nZ;
  const bool by_block = nAZ == 32 && P.nS <= 2 && P.nA == 4; /* angular neighbours by species */
  /* two species, 16 shells (ANI-1x's C/H, H/O ...): a lane per neighbour, its 16 terms added
   * into the lane's 32 sums (registers), reduced across lanes at the end: no shuffles or
   * shared-memory updates per neighbour */
  const bool radial_by_nb = P.nS == 2 && P.nR == 16;
  float vr[32];
#pragma unroll
  for (int q = 0; q < 32; q++) vr[q] = 0.f;
  for (int base = 0; base < n; base += 32) {
    const int k = base + lane;
    const float4 d = k < n ? nd[k] : make_float4(0, 0, 0, 1e30f);
    const int sp = k < n ? (int)pos[nj[k]].w : 0;
    const bool in = k < n && d.w < P.Rca;
    const unsigned m = __ballot_sync(FULL, in), lt = (1u << lane) - 1;
    if (by_block) {
      const unsigned m1 = __ballot_sync(FULL, in && sp != 0), m0 = m & ~m1;
      if (in) {
        const int slot = sp ? nb4 - 1 - (n1 + __popc(m1 & lt)) : n0 + __popc(m0 & lt);
        angd[slot] = d;
        fca[slot] = fc_f(d.w, P.Rca);
      }
      n0 += __popc(m0);
      n1 += __popc(m1);
    } else if (in) {
      int slot = na + __popc(m & lt);
      angd[slot] = d;
      fca[slot] = fc_f(d.w, P.Rca);
      asp[slot] = sp;
    }
    na += __popc(m);
    const float fr = d.w < P.Rcr ? 0.25f * fc_f(d.w, P.Rcr) : 0.f;
    if (radial_by_nb) {
#pragma unroll
      for (int q = 0; q < 16; q++) {
        const float x = d.w - P.muR[q], t = fr * __expf(-P.etaR * x * x);
        vr[q] += sp == 0 ? t : 0.f;
        vr[16 + q] += sp == 0 ? 0.f : t;
      }
      continue;
    }
    /* radial: this batch's neighbours in turn, lanes over the shells */
    const int cnt = min(32, n - base);
    for (int q = 0; q < cnt; q++) {
      const float r = __shfl_sync(FULL, d.w, q), f = __shfl_sync(FULL, fr, q);
      const int s = __shfl_sync(FULL, sp, q);
      if (f == 0.f) continue; /* beyond the radial cutoff: the same for every lane */
      for (int sh_ = lane; sh_ < P.nR; sh_ += 32) {
        float x = r - P.muR[sh_];
        G[s * P.nR + sh_] += f * __expf(-P.etaR * x * x);
      }
    }
  }
  if (radial_by_nb) { /* lane l ends with feature l: species l / 16, shell l % 16 */
    sum_across_lanes<1>(vr, lane);
    G[lane] = vr[0];
  }
  __syncwarp();
  const int npairs = na * (na - 1) / 2;
  float *GA = G + P.n_radial;
  if (by_block && P.zeta_m1 == ANI1X_ZETA - 1)
    angular_by_block<ANI1X_ZETA>(P, n0, n1, nb4, angd, fca, GA, lane);
  else if (by_block)
    angular_by_block(P, n0, n1, nb4, angd, fca, GA, lane);
  else if (nAZ == 32) {
    /* one feature per lane (ANI-1x: 4 shells x 8 sections): the lane's constants are fixed;
     * a pair's own terms are computed once, by one lane, and passed to all; the lane's sum
     * stays in a register while consecutive pairs share a species block */
    const int x = lane / P.nZ, z = lane - x * P.nZ;
    const float cz = P.cosZ[z], sz = P.sinZ[z], mu = P.muA[x];
    int cur = -1;
    float acc = 0.f;
    for (int base = 0; base < npairs; base += 32) {
      float c_l = 0.f, sn_l = 0.f, w_l = 0.f, r_l = 0.f;
      int blk_l = 0;
      if (base + lane < npairs) {
        int a, b;
        decode_pair(base + lane, na, a, b);
        const float4 dj = angd[a], dk = angd[b];
        const float cos_t = (dj.x * dk.x + dj.y * dk.y + dj.z * dk.z) / (dj.w * dk.w);
        c_l = 0.95f * cos_t;
        sn_l = sqrtf(fmaxf(1.f - c_l * c_l, 1e-12f));
        w_l = 2.f * fca[a] * fca[b];
        r_l = 0.5f * (dj.w + dk.w);
        blk_l = pair_index(asp[a], asp[b], P.nS);
      }
      const int cnt = min(32, npairs - base);
      for (int q = 0; q < cnt; q++) {
        const float c = __shfl_sync(FULL, c_l, q), sn = __shfl_sync(FULL, sn_l, q);
        const float wq = __shfl_sync(FULL, w_l, q), u = __shfl_sync(FULL, r_l, q) - mu;
        const int blk = __shfl_sync(FULL, blk_l, q);
        const float bse = 0.5f * (1.f + c * cz + sn * sz);
        const float pw = pow_zeta(P, bse);
        if (blk != cur) {
          if (cur >= 0) GA[cur * 32 + lane] += acc;
          cur = blk;
          acc = 0.f;
        }
        acc += wq * pw * __expf(-P.etaA * u * u);
      }
    }
    if (cur >= 0) GA[cur * 32 + lane] += acc;
  } else
    for (int p = 0; p < npairs; p++) {
      int a, b;
      decode_pair(p, na, a, b);
      const float4 dj = angd[a], dk = angd[b];
      float cos_t = (dj.x * dk.x + dj.y * dk.y + dj.z * dk.z) / (dj.w * dk.w);
      float c = 0.95f * cos_t, sn = sqrtf(fmaxf(1.f - c * c, 1e-12f));
      float wgt = 2.f * fca[a] * fca[b], ravg = 0.5f * (dj.w + dk.w);
      float *Gp = GA + pair_index(asp[a], asp[b], P.nS) * nAZ;
      for (int f = lane; f < nAZ; f += 32) {
        int x = f / P.nZ, z = f - x * P.nZ;
        float base = 0.5f * (1.f + c * P.cosZ[z] + sn * P.sinZ[z]);
        float pw = pow_zeta(P, base);
        float u = ravg - P.muA[x];
        Gp[f] += wgt * pw * __expf(-P.etaA * u * u);
      }
    }
  __syncwarp();
  float *out = G_out + (size_t)row[i] * P.D;
  for (int f = lane; f < P.D; f += 32) out[f] = G[f];
}

/* One angular pair's gradient g_j = cc d_k + aj d_j, g_k = cc d_j + ak d_k from its sums over
 * the terms: S = sum w f1 f2, S_c = sum w f1' f2 (f1' = d f1 / d cos), S_r = sum w f1 d f2 / d r;
 * cj, ck: the cutoff function and its derivative at rj, rk (Rca); ij, ik: 1/rj, 1/rk. */
__device__ __forceinline__ void pair_coefficients(float S, float S_c, float S_r, float2 cj, float2 ck,
                                                  float cos_t, float ij, float ik, float &cc,
                                                  float &aj, float &ak) {
  const float fcjk = cj.x * ck.x;
  const float dE_dc = 2.f * fcjk * S_c;
  const float dE_drj = 2.f * (cj.y * ck.x * S + 0.5f * fcjk * S_r);
  const float dE_drk = 2.f * (cj.x * ck.y * S + 0.5f * fcjk * S_r);
  /* d cos / d d_j = d_k/(rj rk) - cos d_j/rj^2, and symmetrically for k */
  cc = dE_dc * ij * ik;
  aj = (dE_drj - dE_dc * cos_t * ij) * ij;
  ak = (dE_drk - dE_dc * cos_t * ik) * ik;
}

/* The coefficients of one angular pair's gradient (pair_coefficients) from its terms; wp:
 * dE/dG of the central atom's features of the pair's species block (nA x nZ). */
template <int NA = 0, int NZ = 0>
__device__ __forceinline__ void pair_terms(const AevParams &P, float4 dj, float4 dk, float2 cj,
                                           float2 ck, const float *wp, float &cc, float &aj,
                                           float &ak) {
  float f1[NZ ? NZ : MLFF_MAX_ANGLE_SECTIONS], df1[NZ ? NZ : MLFF_MAX_ANGLE_SECTIONS];
  float f2[NA ? NA : MLFF_MAX_ANGULAR_SHELLS];
  const int nA = NA ? NA : P.nA, nZ = NZ ? NZ : P.nZ;
  const float ij = 1.f / dj.w, ik = 1.f / dk.w, inv = ij * ik;
  float cos_t = (dj.x * dk.x + dj.y * dk.y + dj.z * dk.z) * inv;
  float ravg = 0.5f * (dj.w + dk.w);
  angle_terms<NZ>(P, cos_t, f1, df1);
  gauss_comb<NA>(ravg, P.etaA, P.muA, nA, f2);
  float S = 0.f, S_c = 0.f, S_r = 0.f;
#pragma unroll
  for (int q = 0; q < nA; q++) {
    float t = 0.f, tc = 0.f;
    if constexpr (NZ > 0 && NZ % 4 == 0) {
      /* wp is 16-byte aligned here (n_radial and nA nZ multiples of 4): a quarter of the
       * shared-memory loads, which bounded k_aev_backward (ncu: L1 79 %, 41 % of wavefronts
       * excess, most of them these loads of three species blocks in one bank) */
#pragma unroll
      for (int z = 0; z < NZ; z += 4) {
        const float4 w4 = *(const float4 *)(wp + q * NZ + z);
        t += w4.x * f1[z] + w4.y * f1[z + 1] + w4.z * f1[z + 2] + w4.w * f1[z + 3];
        tc += w4.x * df1[z] + w4.y * df1[z + 1] + w4.z * df1[z + 2] + w4.w * df1[z + 3];
      }
    } else {
#pragma unroll
      for (int z = 0; z < nZ; z++) {
        float wz = wp[q * nZ + z];
        t += wz * f1[z];
        tc += wz * df1[z];
      }
    }
    S += t * f2[q];
    S_c += tc * f2[q];
    S_r += t * f2[q] * (-2.f * P.etaA * (ravg - P.muA[q]));
  }
  pair_coefficients(S, S_c, S_r, cj, ck, cos_t, ij, ik, cc, aj, ak);
}

/* The gradient of one angular pair (j, k), added into gr[3 * ja ..] and gr[3 * kb ..] (shared
 * memory, atomics: other threads may add into the same neighbours at once) */
template <int NA = 0, int NZ = 0>
__device__ __forceinline__ void pair_gradient(const AevParams &P, float4 dj, float4 dk, float2 cj,
                                              float2 ck, const float *wp, float *gr, int ja, int kb) {
  float cc, aj, ak;
  pair_terms<NA, NZ>(P, dj, dk, cj, ck, wp, cc, aj, ak);
  const float djv[3] = {dj.x, dj.y, dj.z}, dkv[3] = {dk.x, dk.y, dk.z};
#pragma unroll
  for (int x = 0; x < 3; x++) {
    atomicAdd(&gr[3 * ja + x], cc * dkv[x] + aj * djv[x]);
    atomicAdd(&gr[3 * kb + x], cc * djv[x] + ak * dkv[x]);
  }
}

/* Pair gradients gr of atom i's n neighbours -> forces (-g on j, +g on i), virial and per-atom
 * virial (half to each atom). Threads start, start + stride, ... take neighbours; every warp
 * reduces its share of i's force before one atomic each, and adds its share of the virial into
 * vacc (lane 0): the caller sums it over atoms before adding to the totals, one address for
 * the whole grid (an atomic per atom and component there serialised). */
__device__ __forceinline__ void scatter_forces(int start, int stride, int i, int n, const int *nj,
                                               const float4 *nd, const float *gr, float *force,
                                               float *vatom, float *vacc) {
  float fi[3] = {0, 0, 0}, v[6] = {0, 0, 0, 0, 0, 0};
  for (int k = start; k < n; k += stride) {
    int j = nj[k];
    float4 d = nd[k];
    float gx = gr[3 * k], gy = gr[3 * k + 1], gz = gr[3 * k + 2];
    atomicAdd(&force[3 * j], -gx);
    atomicAdd(&force[3 * j + 1], -gy);
    atomicAdd(&force[3 * j + 2], -gz);
    fi[0] += gx; fi[1] += gy; fi[2] += gz;
    float vv[6] = {-d.x * gx, -d.y * gy, -d.z * gz, -d.x * gy, -d.x * gz, -d.y * gz};
    for (int q = 0; q < 6; q++) v[q] += vv[q];
    if (vatom)
      for (int q = 0; q < 6; q++) {
        atomicAdd(&vatom[6 * (size_t)j + q], 0.5f * vv[q]);
        atomicAdd(&vatom[6 * (size_t)i + q], 0.5f * vv[q]);
      }
  }
  for (int off = 16; off; off >>= 1) {
    for (int x = 0; x < 3; x++) fi[x] += __shfl_down_sync(0xffffffffu, fi[x], off);
    for (int q = 0; q < 6; q++) v[q] += __shfl_down_sync(0xffffffffu, v[q], off);
  }
  if (threadIdx.x % 32 == 0) {
    for (int x = 0; x < 3; x++) atomicAdd(&force[3 * i + x], fi[x]);
    for (int q = 0; q < 6; q++) vacc[q] += v[q];
  }
}

/* Warp per atom: pair gradients from dE/dG, scattered as forces (float atomics); virial and
 * per-atom virial from the same pair terms. */
#define BWD_BLOCKS_PER_SM 6 /* resident at once (registers): the grid is one such wave */
template <int NR, int NA, int NZ>
__global__ void __launch_bounds__(32 * WARPS_PER_BLOCK, BWD_BLOCKS_PER_SM) k_aev_backward(AevParams P, const char *stage, int n_local, const int *row,
                               int max_nb, const int *nbr_n, const int *nbr_j, const float4 *nbr_d,
                               const float *dG_in, float *force, float *vatom, double *sums) {
  extern __shared__ float sh[];
  const int w = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int nb4 = aev_fwd_round4(max_nb);
  const int dG_words = aev_bwd_dG_words(P), nAZ = P.nA * P.nZ, stride = nAZ + AEV_BLOCK_PAD;
  float *dG = sh + w * aev_bwd_words(dG_words, max_nb);
  float4 *angd = (float4 *)(dG + aev_fwd_round4(dG_words)); /* [max_nb] angular neighbours' d */
  float2 *angc = (float2 *)(angd + nb4);              /* their fc, dfc at Rca */
  float *gr = (float *)(angc + nb4);                  /* [max_nb][3] */
  int *ang = (int *)(gr + 3 * nb4);                   /* [max_nb] their neighbour slots */
  int *nsp = ang + nb4;                               /* [max_nb] neighbour species */
  float4 *pc = (float4 *)(nsp + nb4);                 /* [AEV_BWD_PAIRS] cc, aj, ak of pairs */
  const float4 *pos = (const float4 *)(stage + sizeof(StepHeader));
  float vacc[6] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
  /* a warp takes atoms in turn over a grid of about the GPU's size (its virial summed across
   * them in registers) */
  for (int i = blockIdx.x * WARPS_PER_BLOCK + w; i < n_local; i += gridDim.x * WARPS_PER_BLOCK) {
    if (row[i] < 0) continue;
    __syncwarp(); /* the previous atom's scatter is done with this warp's shared memory */
    const float *src = dG_in + (size_t)row[i] * P.D;
    for (int f = lane; f < P.D; f += 32)
      dG[f < P.n_radial ? f : f + AEV_BLOCK_PAD * ((f - P.n_radial) / nAZ)] = src[f];
    int n = nbr_n[i];
    for (int k = lane; k < 3 * n; k += 32) gr[k] = 0.f;
    __syncwarp();
    const float4 *nd = nbr_d + (size_t)i * max_nb;
    const int *nj = nbr_j + (size_t)i * max_nb;
    float g[NR ? NR : MLFF_MAX_RADIAL_SHELLS];
    const int nR = NR ? NR : P.nR;
    int na = 0;
    for (int base = 0; base < n; base += 32) {
      int k = base + lane;
      float4 d = k < n ? nd[k] : make_float4(0, 0, 0, 1e30f);
      const int s = k < n ? (int)pos[nj[k]].w : 0;
      if (k < n) nsp[k] = s; /* read once: the pairs below take it from here */
      if (k < n && d.w < P.Rcr) {
        float f = fc_f(d.w, P.Rcr), df = dfc_f(d.w, P.Rcr);
        gauss_comb<NR>(d.w, P.etaR, P.muR, nR, g);
        const float *wr = dG + s * nR;
        float acc = 0.f;
#pragma unroll
        for (int q = 0; q < nR; q++) acc += wr[q] * g[q] * (df - 2.f * P.etaR * (d.w - P.muR[q]) * f);
        acc *= 0.25f / d.w;
        gr[3 * k] += acc * d.x;
        gr[3 * k + 1] += acc * d.y;
        gr[3 * k + 2] += acc * d.z;
      }
      unsigned m = __ballot_sync(0xffffffffu, k < n && d.w < P.Rca);
      if (k < n && d.w < P.Rca) {
        const int slot = na + __popc(m & ((1u << lane) - 1));
        ang[slot] = k;
        angd[slot] = d;
        angc[slot] = make_float2(fc_f(d.w, P.Rca), dfc_f(d.w, P.Rca));
      }
      na += __popc(m);
    }
    __syncwarp();
    /* Angular pairs in chunks of AEV_BWD_PAIRS. First a lane per pair over all species blocks
     * (a block at a time, as the descriptor forward does, leaves lanes idle at each block's
     * end: 356 -> 436 us on the 49,152-atom box) stores its coefficients; then a lane per
     * angular neighbour a gathers the chunk's pairs that hold a: on diagonal d (decode_pair),
     * as j, pair (a, a + d), as k, pair (a - d, a). No lane adds where another does: the
     * shared-memory float atomics this replaces were CAS loops, 3.1 rounds each on average
     * (ncu, 49,152-atom box: 40 % of the kernel's stall samples). */
    const int np = na * (na - 1) / 2;
    for (int c0 = 0; c0 < np; c0 += AEV_BWD_PAIRS) {
      const int c1 = min(np, c0 + AEV_BWD_PAIRS);
      for (int p = c0 + lane; p < c1; p += 32) {
        int a, b;
        decode_pair(p, na, a, b);
        float cc, aj, ak;
        pair_terms<NA, NZ>(P, angd[a], angd[b], angc[a], angc[b],
                           dG + P.n_radial + pair_index(nsp[ang[a]], nsp[ang[b]], P.nS) * stride,
                           cc, aj, ak);
        pc[p - c0] = make_float4(cc, aj, ak, 0.f);
      }
      __syncwarp();
      const int d1 = 1 + (c1 - 1) / na;
      for (int a = lane; a < na; a += 32) {
        /* g_a = sum over its pairs of cc d_other + (aj or ak) d_a */
        float vx = 0.f, vy = 0.f, vz = 0.f, s = 0.f;
        for (int d = 1 + c0 / na, base = (d - 1) * na; d <= d1; d++, base += na) {
          const int k = a + d < na ? a + d : a + d - na, j = a >= d ? a - d : a - d + na;
          if (base + a >= c0 && base + a < c1) { /* a as j of (a, k) */
            const float4 q = pc[base + a - c0], o = angd[k];
            vx += q.x * o.x; vy += q.x * o.y; vz += q.x * o.z; s += q.y;
          }
          if (base + j >= c0 && base + j < c1) { /* a as k of (j, a) */
            const float4 q = pc[base + j - c0], o = angd[j];
            vx += q.x * o.x; vy += q.x * o.y; vz += q.x * o.z; s += q.z;
          }
        }
        const float4 da = angd[a];
        float *g = gr + 3 * ang[a];
        g[0] += vx + s * da.x;
        g[1] += vy + s * da.y;
        g[2] += vz + s * da.z;
      }
      __syncwarp(); /* the next chunk's coefficients overwrite pc */
    }
    scatter_forces(lane, 32, i, n, nj, nd, gr, force, vatom, vacc);
  }
  if (lane == 0)
    for (int q = 0; q < 6; q++) atomicAdd(&sums[1 + q], (double)vacc[q]);
}

/* ---- network -------------------------------------------------------------------------- */

struct LayerArgs {
  const float *W[MLFF_MAX_ELEMENTS];  /* per element, [out][in] */
  const float *b[MLFF_MAX_ELEMENTS];
};

__device__ __forceinline__ float act_and_grad(int act, float z, float *dz) {
  if (act == MLFF_ACT_CELU) {
    if (z > 0.f) { *dz = 1.f; return z; }
    float e = __expf(z / 0.1f);
    *dz = e;
    return 0.1f * (e - 1.f);
  }
  float s = 1.f / (1.f + __expf(-z));
  *dz = s * (1.f + z * (1.f - s));
  return z * s;
}

#define TM 64
#define TN 64
#define TK 16

/* C[rows of element e][N] = A[.][K] op(W_e) (+ epilogue), element e = blockIdx.z; rows of e are
 * [offset[e], offset[e+1]). forward: op(W) = W^T (W is [N][K]), + bias, activation: writes A_out
 * = act(z) and Z_out = act'(z). backward: op(W) = W (W is [K'=rows of W][N]): C = dZ W, times
 * mul[.] (the next layer's act') when mul is not NULL. */
template <bool FORWARD>
__global__ void k_gemm(LayerArgs L, const int *offset, const float *A, int K, int N, float *C,
                       float *Z_out, const float *mul, int act) {
  /* rows padded to a multiple of 4: a thread's 4 rows and 4 columns are one float4 load each
   * (with scalar loads the inner loop made 8 shared loads per 16 FMAs) */
  __shared__ __align__(16) float As[TK][TM + 4];
  __shared__ __align__(16) float Bs[TK][TN + 4];
  int e = blockIdx.z;
  int r0 = offset[e] + blockIdx.y * TM, r_end = offset[e + 1];
  if (r0 >= r_end) return;
  int c0 = blockIdx.x * TN;
  int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const float *W = L.W[e];
  float acc[4][4] = {};
  for (int k0 = 0; k0 < K; k0 += TK) {
    for (int t = threadIdx.x; t < TM * TK; t += 256) {
      int r = t / TK, k = t % TK;
      As[k][r] = (r0 + r < r_end && k0 + k < K) ? A[(size_t)(r0 + r) * K + k0 + k] : 0.f;
    }
    for (int t = threadIdx.x; t < TN * TK; t += 256) {
      int c = t / TK, k = t % TK, cc = c0 + c, kk = k0 + k;
      float v = 0.f;
      if (cc < N && kk < K) v = FORWARD ? W[(size_t)cc * K + kk] : W[(size_t)kk * N + cc];
      Bs[k][c] = v;
    }
    __syncthreads();
#pragma unroll
    for (int k = 0; k < TK; k++) {
      const float4 a4 = *(const float4 *)&As[k][ty * 4], b4 = *(const float4 *)&Bs[k][tx * 4];
      const float a[4] = {a4.x, a4.y, a4.z, a4.w}, b[4] = {b4.x, b4.y, b4.z, b4.w};
#pragma unroll
      for (int p = 0; p < 4; p++)
#pragma unroll
        for (int q = 0; q < 4; q++) acc[p][q] += a[p] * b[q];
    }
    __syncthreads();
  }
  for (int p = 0; p < 4; p++) {
    int r = r0 + ty * 4 + p;
    if (r >= r_end) continue;
    for (int q = 0; q < 4; q++) {
      int c = c0 + tx * 4 + q;
      if (c >= N) continue;
      size_t o = (size_t)r * N + c;
      if (FORWARD) {
        float dz, a = act_and_grad(act, acc[p][q] + L.b[e][c], &dz);
        C[o] = a;
        Z_out[o] = dz;
      } else {
        C[o] = mul ? acc[p][q] * mul[o] : acc[p][q];
      }
    }
  }
}

using namespace nvcuda;

/* ---- FP16 network, one kernel: forward, energy and backward of all layers -------------- */

/* A warp owns 16 rows (atoms of one element) through every layer, so the warps of a block never
 * wait for each other: the descriptor rows in as half, each hidden layer's activations (half,
 * the next product's input) and act' (half) in the warp's shared memory, the energy from the
 * last layer's float activations, the backward products back down to dE/dG (float, out). Tensor
 * cores (WMMA 16x16x16, FP32 accumulation). A block serves one element and takes its 16-row
 * tiles in turn; its element's weights, pre-rounded to half, are copied once into the block's
 * shared memory (rows padded by 8 halves: conflict-free fragment loads) where they fit beside
 * the warps' areas, else read from L2 (H200, 49,152 atoms: 191 us with shared weights, 261
 * from L2; the register kernel below, 68 us, shows that the shared-memory round trips of the
 * accumulators and activations cost most). Compared with a GEMM per layer, the descriptors are
 * read once and dE/dG written once. Sizes: D and hidden widths multiples of 16. */
#define MLP_MAX_WARPS 8 /* warps of a block (fewer where shared memory runs out) */
#define MLP_CHUNK 8     /* output tiles of 16 columns in flight per warp */
struct MlpArgs {
  int n_layers, sizes[MLFF_MAX_LAYERS + 1], act;
  int weights_shared; /* copy the element's half weights into shared memory (mlp_weight_words) */
  float scale, e0[MLFF_MAX_ELEMENTS];
  const __half *Wh[MLFF_MAX_ELEMENTS][MLFF_MAX_LAYERS]; /* fp16 yes */
  const float *W[MLFF_MAX_ELEMENTS][MLFF_MAX_LAYERS];   /* fp16 no */
  const float *b[MLFF_MAX_ELEMENTS][MLFF_MAX_LAYERS];
  const float *wout[MLFF_MAX_ELEMENTS]; /* output unit's weights (float) and bias */
  float bout[MLFF_MAX_ELEMENTS];
};

/* shared memory of one warp, in floats: 32 columns of the descriptor rows (half), per hidden
 * layer half activations and half act', and a 16x16 float scratch tile */
#define MLP_GCHUNK 32
__host__ __device__ inline int mlp_words_per_warp(const int *sizes, int n_layers) {
  int w = 16 * (MLP_GCHUNK + 8) / 2;
  for (int l = 1; l < n_layers; l++) w += 2 * (16 * (sizes[l] + 8) / 2);
  return w + 16 * 20;
}
/* one element's hidden-layer weights as half in shared memory, rows of K + 8, in floats */
__host__ __device__ inline int mlp_weight_words(const int *sizes, int n_layers) {
  int w = 0;
  for (int l = 1; l < n_layers; l++) w += sizes[l] * (sizes[l - 1] + 8) / 2;
  return w;
}

/* A block copies one element's layer W [O][K] (rows of whole uint4s) into shared memory as
 * rows of K + 8 (the padding keeps fragment loads conflict-free). */
template <typename T>
__device__ __forceinline__ void copy_padded_rows(T *dst, const T *src, int O, int K) {
  const int per = 16 / sizeof(T), row = K / per; /* T per uint4, uint4 per row */
  for (int q = threadIdx.x; q < O * row; q += blockDim.x) {
    const int o = q / row, k = per * (q % row);
    *(uint4 *)(dst + o * (K + 8) + k) = ((const uint4 *)src)[q];
  }
}

/* The register networks' output unit: rows g and g + 8 of a 16-row tile, summed over their
 * quad's four threads (y0, y8: this thread's partial sums); thread t = 0 writes the atoms'
 * energies and adds them to the warp's total. */
__device__ __forceinline__ void tile_energies(const MlpArgs &M, int e, float y0, float y8, int r0,
                                              int g, int t, bool ok0, bool ok8, const int *row_atom,
                                              float *eatom, double &e_warp) {
  for (int off = 1; off < 4; off <<= 1) {
    y0 += __shfl_xor_sync(0xffffffffu, y0, off);
    y8 += __shfl_xor_sync(0xffffffffu, y8, off);
  }
  if (t == 0) {
    const float en0 = M.scale * (y0 + M.bout[e]) + M.e0[e], en8 = M.scale * (y8 + M.bout[e]) + M.e0[e];
    if (ok0) { eatom[row_atom[r0 + g]] = en0; e_warp += en0; }
    if (ok8) { eatom[row_atom[r0 + g + 8]] = en8; e_warp += en8; }
  }
}
/* dE/dG of a 16-row tile from the last backward product's accumulators (rows g, g + 8;
 * columns 2t, 2t + 1 of every 8) */
template <int D>
__device__ __forceinline__ void store_tile_rows(const float (&acc)[D / 8][4], float *dG, int r0, int g,
                                                int t, bool ok0, bool ok8) {
  float *da = dG + (size_t)(r0 + g) * D + 2 * t, *db = da + 8 * (size_t)D;
#pragma unroll
  for (int j = 0; j < D / 8; j++) {
    if (ok0) *(float2 *)(da + 8 * j) = make_float2(acc[j][0], acc[j][1]);
    if (ok8) *(float2 *)(db + 8 * j) = make_float2(acc[j][2], acc[j][3]);
  }
}
/* the warp's energy: one atomic per warp (one address for the whole grid) */
__device__ __forceinline__ void add_warp_energy(double e_warp, int lane, double *sums) {
  for (int off = 16; off; off >>= 1) e_warp += __shfl_xor_sync(0xffffffffu, e_warp, off);
  if (lane == 0) atomicAdd(&sums[0], e_warp);
}

__global__ void __launch_bounds__(32 * MLP_MAX_WARPS, 1)
k_mlp_fp16(MlpArgs M, const int *offset, const int *row_atom, const float *G, float *dG,
           float *eatom, double *sums) {
  extern __shared__ float sh[];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, e = blockIdx.y, nw = blockDim.x / 32;
  const int L = M.n_layers, r_end = offset[e + 1];
  if (offset[e] + blockIdx.x * nw * 16 >= r_end) return; /* no tile of this element for us */
  /* the layers' weights W_l [O][K] and their row strides: shared copies or L2 */
  const __half *Wl[MLFF_MAX_LAYERS];
  int ldw[MLFF_MAX_LAYERS];
  float *base = sh;
  for (int l = 1; l < L; l++) {
    const int K = M.sizes[l - 1], O = M.sizes[l];
    if (M.weights_shared) {
      __half *dst = (__half *)base;
      copy_padded_rows(dst, M.Wh[e][l - 1], O, K);
      Wl[l] = dst;
      ldw[l] = K + 8;
      base += O * (K + 8) / 2;
    } else {
      Wl[l] = M.Wh[e][l - 1];
      ldw[l] = K;
    }
  }
  if (M.weights_shared) __syncthreads();
  base += warp * mlp_words_per_warp(M.sizes, L);
  __half *Gh = (__half *)base;
  /* per hidden layer: activations (the next input; in the last, dE/dZ) and act', both half,
   * rows of width + 8; accumulators leave through one 16 x 16 float tile at a time */
  __half *Ah[MLFF_MAX_LAYERS], *Dh[MLFF_MAX_LAYERS];
  float *p = base + 16 * (MLP_GCHUNK + 8) / 2;
  for (int l = 1; l < L; l++) {
    Ah[l] = (__half *)p;
    p += 16 * (M.sizes[l] + 8) / 2;
    Dh[l] = (__half *)p;
    p += 16 * (M.sizes[l] + 8) / 2;
  }
  float *tile = p; /* [16][20] */
  for (int r0 = offset[e] + (blockIdx.x * nw + warp) * 16; r0 < r_end; r0 += gridDim.x * nw * 16) {
    /* forward: Z_l = A_{l-1} W_l^T; W_l [O][K] row-major is W_l^T column-major */
    for (int l = 1; l < L; l++) {
      const int K = M.sizes[l - 1], O = M.sizes[l];
      const __half *A = l == 1 ? Gh : Ah[l - 1], *W = Wl[l];
      const int ld = ldw[l];
      const float *bias = M.b[e][l - 1], *wo = M.wout[e];
      const bool last = l == L - 1;
      float y[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
      for (int c0 = 0; c0 < O; c0 += 16 * MLP_CHUNK) {
        const int nc = min(MLP_CHUNK, (O - c0) / 16);
        wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[MLP_CHUNK];
#pragma unroll
        for (int c = 0; c < MLP_CHUNK; c++) wmma::fill_fragment(acc[c], 0.f);
        for (int k0 = 0; k0 < K; k0 += 16) {
          wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
          if (l == 1) { /* the descriptor rows, MLP_GCHUNK columns at a time, as half (past the end: 0) */
            if (k0 % MLP_GCHUNK == 0) {
              const int w4 = min(MLP_GCHUNK, K - k0) / 4;
              __syncwarp();
#pragma unroll 8
              for (int idx = lane; idx < 16 * w4; idx += 32) {
                const int r = idx / w4, k = 4 * (idx % w4);
                const float4 v = r0 + r < r_end ? *(const float4 *)(G + (size_t)(r0 + r) * K + k0 + k)
                                                : make_float4(0.f, 0.f, 0.f, 0.f);
                __half *d = Gh + r * (MLP_GCHUNK + 8) + k;
                d[0] = __float2half(v.x); d[1] = __float2half(v.y);
                d[2] = __float2half(v.z); d[3] = __float2half(v.w);
              }
              __syncwarp();
            }
            wmma::load_matrix_sync(fa, Gh + k0 % MLP_GCHUNK, MLP_GCHUNK + 8);
          } else {
            wmma::load_matrix_sync(fa, A + k0, K + 8);
          }
          wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> fb[MLP_CHUNK];
#pragma unroll /* all of the step's weight tiles requested before the first product */
          for (int c = 0; c < MLP_CHUNK; c++)
            if (c < nc) wmma::load_matrix_sync(fb[c], W + (size_t)(c0 + 16 * c) * ld + k0, ld);
#pragma unroll
          for (int c = 0; c < MLP_CHUNK; c++)
            if (c < nc) wmma::mma_sync(acc[c], fa, fb[c], acc[c]);
        }
        /* bias and activation, a 16 x 16 tile at a time: act as half (the next input), act' as
         * half; in the last layer the energy (lane l sums rows l / 16 + 2 q of column l % 16)
         * and dE/dZ as the input of the backward pass */
#pragma unroll
        for (int c = 0; c < MLP_CHUNK; c++) {
          if (c >= nc) break;
          wmma::store_matrix_sync(tile, acc[c], 20, wmma::mem_row_major);
          __syncwarp();
          const int col = c0 + 16 * c + lane % 16;
          const float bc = bias[col], wc = last ? wo[col] : 0.f;
#pragma unroll
          for (int q = 0; q < 8; q++) {
            const int r = lane / 16 + 2 * q;
            float dz, a = act_and_grad(M.act, tile[r * 20 + lane % 16] + bc, &dz);
            if (last) {
              y[q] += a * wc;
              Ah[l][r * (O + 8) + col] = __float2half(M.scale * wc * dz);
            } else {
              Ah[l][r * (O + 8) + col] = __float2half(a);
              Dh[l][r * (O + 8) + col] = __float2half(dz);
            }
          }
          __syncwarp();
        }
      }
      if (last) { /* rows' sums over the 16 lanes of a half-warp; lanes 0 and 16 write them */
        float e_sum = 0.f; /* one atomic on the total per half-warp (one address for all) */
#pragma unroll
        for (int q = 0; q < 8; q++) {
          for (int off = 8; off; off >>= 1) y[q] += __shfl_xor_sync(0xffffffffu, y[q], off);
          const int r = lane / 16 + 2 * q;
          if (lane % 16 == 0 && r0 + r < r_end) {
            const float en = M.scale * (y[q] + M.bout[e]) + M.e0[e];
            eatom[row_atom[r0 + r]] = en;
            e_sum += en;
          }
        }
        if (lane % 16 == 0) atomicAdd(&sums[0], (double)e_sum);
      }
      __syncwarp();
    }
    /* backward: dA_{l-1} = dZ_l W_l (W_l [O][K] row-major), times act' of layer l-1 */
    for (int l = L - 1; l >= 1; l--) {
      const int K = M.sizes[l - 1], O = M.sizes[l];
      const __half *dZ = Ah[l], *W = Wl[l];
      const int ld = ldw[l];
      for (int c0 = 0; c0 < K; c0 += 16 * MLP_CHUNK) {
        const int nc = min(MLP_CHUNK, (K - c0) / 16);
        wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[MLP_CHUNK];
#pragma unroll
        for (int c = 0; c < MLP_CHUNK; c++) wmma::fill_fragment(acc[c], 0.f);
        for (int k0 = 0; k0 < O; k0 += 16) {
          wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
          wmma::load_matrix_sync(fa, dZ + k0, O + 8);
          wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> fb[MLP_CHUNK];
#pragma unroll
          for (int c = 0; c < MLP_CHUNK; c++)
            if (c < nc) wmma::load_matrix_sync(fb[c], W + (size_t)k0 * ld + c0 + 16 * c, ld);
#pragma unroll
          for (int c = 0; c < MLP_CHUNK; c++)
            if (c < nc) wmma::mma_sync(acc[c], fa, fb[c], acc[c]);
        }
#pragma unroll
        for (int c = 0; c < MLP_CHUNK; c++) {
          if (c >= nc) break;
          wmma::store_matrix_sync(tile, acc[c], 20, wmma::mem_row_major);
          __syncwarp();
          for (int q = lane; q < 256; q += 32) {
            const int r = q / 16, col = c0 + 16 * c + q % 16;
            const float v = tile[r * 20 + q % 16];
            if (l > 1) /* the input of the next backward product, written over the activations */
              Ah[l - 1][r * (K + 8) + col] = __float2half(v * __half2float(Dh[l - 1][r * (K + 8) + col]));
            else if (r0 + r < r_end)
              dG[(size_t)(r0 + r) * K + col] = v;
          }
          __syncwarp();
        }
      }
      __syncwarp();
    }
  }
}

/* The FP16 network of the shipped shape (D -> H1 -> H2 -> H3 -> 1 with compile-time widths),
 * its activations never leaving registers: mma.sync m16n8k16 (FP32 accumulation), whose
 * accumulator layout (PTX ISA: thread (g = lane / 4, t = lane % 4) holds rows g and g + 8,
 * columns 2t and 2t + 1 of an 8-column tile) is, two tiles side by side, the layout of the next
 * product's A operand (as FlashAttention passes P to P V): bias, activation, act' and the
 * backward's act' products all happen on a thread's own elements, with no shared-memory round
 * trip and no warp barrier. A warp owns 16 rows; a block serves one element, its weights (half,
 * rows padded by 8: conflict-free ldmatrix) copied once into shared memory. k_mlp_fp16 serves
 * other shapes. */
#define MLPR_WARPS 8
struct Frag { uint32_t r[4]; }; /* A operand of one k16 chunk: 16 rows x 16 columns, half */

__device__ __forceinline__ uint32_t pack_half2(float lo, float hi) {
  __half2 h = __floats2half2_rn(lo, hi);
  return *(uint32_t *)&h;
}
__device__ __forceinline__ float2 unpack_half2(uint32_t v) { return __half22float2(*(__half2 *)&v); }

__device__ __forceinline__ void mma16816(float (&c)[4], const Frag &a, uint32_t b0, uint32_t b1) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
               "{%8,%9}, {%0,%1,%2,%3};\n"
               : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
               : "r"(a.r[0]), "r"(a.r[1]), "r"(a.r[2]), "r"(a.r[3]), "r"(b0), "r"(b1));
}
template <bool TRANS>
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&b)[4], const __half *p) {
  const unsigned a = (unsigned)__cvta_generic_to_shared(p);
  if (TRANS)
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(b[0]), "=r"(b[1]), "=r"(b[2]), "=r"(b[3]) : "r"(a));
  else
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(b[0]), "=r"(b[1]), "=r"(b[2]), "=r"(b[3]) : "r"(a));
}

/* acc[N/8] = A (16 x K) times W^T, W [N][K + 8] in shared memory (forward: B = W^T) */
template <int K, int N>
__device__ __forceinline__ void mma_forward(const Frag (&a)[K / 16], const __half *W, float (&acc)[N / 8][4],
                                            int lane) {
#pragma unroll
  for (int j = 0; j < N / 8; j++) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.f;
  const __half *row = W + ((lane / 16) * 8 + lane % 8) * (K + 8) + ((lane / 8) & 1) * 8;
#pragma unroll
  for (int kc = 0; kc < K / 16; kc++)
#pragma unroll
    for (int np = 0; np < N / 16; np++) {
      uint32_t b[4];
      ldmatrix_x4<false>(b, row + np * 16 * (K + 8) + kc * 16);
      mma16816(acc[2 * np], a[kc], b[0], b[1]);
      mma16816(acc[2 * np + 1], a[kc], b[2], b[3]);
    }
}
/* acc[K/8] = dZ (16 x O) times W, W [O][K + 8] in shared memory (backward: B = W) */
template <int O, int K>
__device__ __forceinline__ void mma_backward(const Frag (&a)[O / 16], const __half *W, float (&acc)[K / 8][4],
                                             int lane) {
#pragma unroll
  for (int j = 0; j < K / 8; j++) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.f;
  const __half *row = W + (((lane / 8) & 1) * 8 + lane % 8) * (K + 8) + (lane / 16) * 8;
#pragma unroll
  for (int kc = 0; kc < O / 16; kc++)
#pragma unroll
    for (int np = 0; np < K / 16; np++) {
      uint32_t b[4];
      ldmatrix_x4<true>(b, row + kc * 16 * (K + 8) + np * 16);
      mma16816(acc[2 * np], a[kc], b[0], b[1]);
      mma16816(acc[2 * np + 1], a[kc], b[2], b[3]);
    }
}
/* bias and activation of a hidden layer's accumulators: the activations as the next product's
 * A operand, act' (half) in the same layout */
template <int N>
__device__ __forceinline__ void hidden_out(int act, const float (&acc)[N / 8][4], const float *bias,
                                           Frag (&a)[N / 16], Frag (&d)[N / 16], int lane) {
#pragma unroll
  for (int j = 0; j < N / 8; j++) {
    const float2 bb = *(const float2 *)(bias + 8 * j + 2 * (lane % 4));
    float v[4], dv[4];
#pragma unroll
    for (int q = 0; q < 4; q++) v[q] = act_and_grad(act, acc[j][q] + (q & 1 ? bb.y : bb.x), &dv[q]);
    a[j / 2].r[2 * (j & 1)] = pack_half2(v[0], v[1]);
    a[j / 2].r[2 * (j & 1) + 1] = pack_half2(v[2], v[3]);
    d[j / 2].r[2 * (j & 1)] = pack_half2(dv[0], dv[1]);
    d[j / 2].r[2 * (j & 1) + 1] = pack_half2(dv[2], dv[3]);
  }
}
/* the backward's accumulators times act' (same layout) as the next backward product's A operand */
template <int N>
__device__ __forceinline__ void times_act_grad(const float (&acc)[N / 8][4], const Frag (&d)[N / 16],
                                               Frag (&a)[N / 16]) {
#pragma unroll
  for (int j = 0; j < N / 8; j++) {
    const float2 d01 = unpack_half2(d[j / 2].r[2 * (j & 1)]), d23 = unpack_half2(d[j / 2].r[2 * (j & 1) + 1]);
    a[j / 2].r[2 * (j & 1)] = pack_half2(acc[j][0] * d01.x, acc[j][1] * d01.y);
    a[j / 2].r[2 * (j & 1) + 1] = pack_half2(acc[j][2] * d23.x, acc[j][3] * d23.y);
  }
}

template <int D, int H1, int H2, int H3>
__global__ void __launch_bounds__(32 * MLPR_WARPS, 1)
k_mlp_fp16_regs(MlpArgs M, const int *offset, const int *row_atom, const float *G, float *dG,
                float *eatom, double *sums) {
  extern __shared__ float sh[];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, e = blockIdx.y;
  const int g = lane / 4, t = lane % 4, r_end = offset[e + 1];
  if (offset[e] + blockIdx.x * MLPR_WARPS * 16 >= r_end) return; /* no tile of this element for us */
  __half *W1 = (__half *)sh, *W2 = W1 + H1 * (D + 8), *W3 = W2 + H2 * (H1 + 8);
  copy_padded_rows(W1, M.Wh[e][0], H1, D);
  copy_padded_rows(W2, M.Wh[e][1], H2, H1);
  copy_padded_rows(W3, M.Wh[e][2], H3, H2);
  __syncthreads();
  const float *b1 = M.b[e][0], *b2 = M.b[e][1], *b3 = M.b[e][2], *wo = M.wout[e];
  double e_warp = 0.0;
  for (int r0 = offset[e] + (blockIdx.x * MLPR_WARPS + warp) * 16; r0 < r_end;
       r0 += gridDim.x * MLPR_WARPS * 16) {
    const bool ok0 = r0 + g < r_end, ok8 = r0 + g + 8 < r_end;
    Frag a0[D / 16];
    { /* the descriptor rows g and g + 8 as the first product's A operand */
      const float *ga = G + (size_t)(r0 + g) * D + 2 * t, *gb = ga + 8 * (size_t)D;
#pragma unroll
      for (int kc = 0; kc < D / 16; kc++) {
        const float2 z = make_float2(0.f, 0.f);
        const float2 x0 = ok0 ? __ldg((const float2 *)(ga + 16 * kc)) : z;
        const float2 x1 = ok8 ? __ldg((const float2 *)(gb + 16 * kc)) : z;
        const float2 x2 = ok0 ? __ldg((const float2 *)(ga + 16 * kc + 8)) : z;
        const float2 x3 = ok8 ? __ldg((const float2 *)(gb + 16 * kc + 8)) : z;
        a0[kc].r[0] = pack_half2(x0.x, x0.y);
        a0[kc].r[1] = pack_half2(x1.x, x1.y);
        a0[kc].r[2] = pack_half2(x2.x, x2.y);
        a0[kc].r[3] = pack_half2(x3.x, x3.y);
      }
    }
    Frag a1[H1 / 16], d1[H1 / 16], a2[H2 / 16], d2[H2 / 16], dz3[H3 / 16];
    {
      float acc[H1 / 8][4];
      mma_forward<D, H1>(a0, W1, acc, lane);
      hidden_out<H1>(M.act, acc, b1, a1, d1, lane);
    }
    {
      float acc[H2 / 8][4];
      mma_forward<H1, H2>(a1, W2, acc, lane);
      hidden_out<H2>(M.act, acc, b2, a2, d2, lane);
    }
    {
      float acc[H3 / 8][4], y0 = 0.f, y8 = 0.f; /* rows g and g + 8 of the output unit */
      mma_forward<H2, H3>(a2, W3, acc, lane);
#pragma unroll
      for (int j = 0; j < H3 / 8; j++) {
        const float2 bb = *(const float2 *)(b3 + 8 * j + 2 * t), ww = *(const float2 *)(wo + 8 * j + 2 * t);
        float v[4], dv[4];
#pragma unroll
        for (int q = 0; q < 4; q++) v[q] = act_and_grad(M.act, acc[j][q] + (q & 1 ? bb.y : bb.x), &dv[q]);
        y0 += v[0] * ww.x + v[1] * ww.y;
        y8 += v[2] * ww.x + v[3] * ww.y;
        dz3[j / 2].r[2 * (j & 1)] = pack_half2(M.scale * ww.x * dv[0], M.scale * ww.y * dv[1]);
        dz3[j / 2].r[2 * (j & 1) + 1] = pack_half2(M.scale * ww.x * dv[2], M.scale * ww.y * dv[3]);
      }
      tile_energies(M, e, y0, y8, r0, g, t, ok0, ok8, row_atom, eatom, e_warp);
    }
    {
      float acc[H2 / 8][4];
      mma_backward<H3, H2>(dz3, W3, acc, lane);
      times_act_grad<H2>(acc, d2, a2); /* dE/dZ2, over the activations */
    }
    {
      float acc[H1 / 8][4];
      mma_backward<H2, H1>(a2, W2, acc, lane);
      times_act_grad<H1>(acc, d1, a1); /* dE/dZ1 */
    }
    {
      float acc[D / 8][4];
      mma_backward<H1, D>(a1, W1, acc, lane);
      store_tile_rows<D>(acc, dG, r0, g, t, ok0, ok8);
    }
  }
  add_warp_energy(e_warp, lane, sums);
}
/* The FP32 network of the same shape on tensor cores, to FP32 accuracy: each product is three
 * TF32 products (a_hi b_hi + a_hi b_lo + a_lo b_hi, hi = x rounded to TF32, lo = the rest;
 * the dropped a_lo b_lo is ~2^-22 of a term), mma.sync m16n8k8. Its accumulator (thread
 * (g, t): rows g, g + 8, columns 2t, 2t + 1) becomes the next product's A operand (columns t,
 * t + 4) by reading column 2t as k = t and 2t + 1 as k = t + 4 within every 8 columns, in A
 * and in the weights alike (a sum does not care about its order). The element's FP32 weights
 * (rows padded by 8 floats) are copied once per block into shared memory; act' stays FP32. */
struct Frag32 { float r[4]; }; /* A operand of one k8 chunk: (g, 2t), (g + 8, 2t), (g, 2t + 1), (g + 8, 2t + 1) */

__device__ __forceinline__ uint32_t to_tf32(float x) {
  uint32_t u;
  asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(u) : "f"(x));
  return u;
}
__device__ __forceinline__ void split_tf32(float x, uint32_t &hi, uint32_t &lo) {
  hi = to_tf32(x);
  lo = to_tf32(x - __uint_as_float(hi));
}
__device__ __forceinline__ void mma1688(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
               "{%8,%9}, {%0,%1,%2,%3};\n"
               : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
/* c += a b in three TF32 products; b0, b1: this thread's two weights */
__device__ __forceinline__ void mma_3xtf32(float (&c)[4], const uint32_t (&ah)[4], const uint32_t (&al)[4],
                                           float b0, float b1) {
  uint32_t bh0, bl0, bh1, bl1;
  split_tf32(b0, bh0, bl0);
  split_tf32(b1, bh1, bl1);
  mma1688(c, al, bh0, bh1);
  mma1688(c, ah, bl0, bl1);
  mma1688(c, ah, bh0, bh1);
}
__device__ __forceinline__ void split_frag(const Frag32 &a, uint32_t (&ah)[4], uint32_t (&al)[4]) {
#pragma unroll
  for (int q = 0; q < 4; q++) split_tf32(a.r[q], ah[q], al[q]);
}
/* acc[N/8] = A (16 x K) times W^T, W [N][K + 8] in shared memory */
template <int K, int N>
__device__ __forceinline__ void mma32_forward(const Frag32 (&a)[K / 8], const float *W, float (&acc)[N / 8][4],
                                              int lane) {
#pragma unroll
  for (int j = 0; j < N / 8; j++) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.f;
  const float *w = W + (lane / 4) * (K + 8) + 2 * (lane % 4);
#pragma unroll
  for (int kc = 0; kc < K / 8; kc++) {
    uint32_t ah[4], al[4];
    split_frag(a[kc], ah, al);
#pragma unroll
    for (int j = 0; j < N / 8; j++) {
      const float2 b = *(const float2 *)(w + 8 * j * (K + 8) + 8 * kc);
      mma_3xtf32(acc[j], ah, al, b.x, b.y);
    }
  }
}
/* acc[K/8] = dZ (16 x O) times W, W [O][K + 8] in shared memory */
template <int O, int K>
__device__ __forceinline__ void mma32_backward(const Frag32 (&a)[O / 8], const float *W, float (&acc)[K / 8][4],
                                               int lane) {
#pragma unroll
  for (int j = 0; j < K / 8; j++) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.f;
  const float *w = W + 2 * (lane % 4) * (K + 8) + lane / 4;
#pragma unroll
  for (int kc = 0; kc < O / 8; kc++) {
    uint32_t ah[4], al[4];
    split_frag(a[kc], ah, al);
#pragma unroll
    for (int j = 0; j < K / 8; j++) {
      const float *wk = w + 8 * kc * (K + 8) + 8 * j;
      mma_3xtf32(acc[j], ah, al, wk[0], wk[K + 8]);
    }
  }
}
/* accumulator tile (c0..c3) -> A chunk order */
__device__ __forceinline__ Frag32 c_to_a(float c0, float c1, float c2, float c3) {
  Frag32 f;
  f.r[0] = c0; f.r[1] = c2; f.r[2] = c1; f.r[3] = c3;
  return f;
}

/* bias and activation of a hidden layer's accumulators: activations and act' (FP32) in the
 * next product's A order */
template <int N>
__device__ __forceinline__ void hidden_out32(int act, const float (&acc)[N / 8][4], const float *bias,
                                             Frag32 (&a)[N / 8], Frag32 (&d)[N / 8], int lane) {
#pragma unroll
  for (int j = 0; j < N / 8; j++) {
    const float2 bb = *(const float2 *)(bias + 8 * j + 2 * (lane % 4));
    float v[4], dv[4];
#pragma unroll
    for (int q = 0; q < 4; q++) v[q] = act_and_grad(act, acc[j][q] + (q & 1 ? bb.y : bb.x), &dv[q]);
    a[j] = c_to_a(v[0], v[1], v[2], v[3]);
    d[j] = c_to_a(dv[0], dv[1], dv[2], dv[3]);
  }
}
/* the backward's accumulators (C order) times act' (A order: c0, c2, c1, c3) as the next
 * backward product's A operand */
template <int N>
__device__ __forceinline__ void times_act_grad32(const float (&acc)[N / 8][4], const Frag32 (&d)[N / 8],
                                                 Frag32 (&a)[N / 8]) {
#pragma unroll
  for (int j = 0; j < N / 8; j++)
    a[j] = c_to_a(acc[j][0] * d[j].r[0], acc[j][1] * d[j].r[2], acc[j][2] * d[j].r[1], acc[j][3] * d[j].r[3]);
}

template <int D, int H1, int H2, int H3>
__global__ void __launch_bounds__(32 * MLPR_WARPS, 1)
k_mlp_fp32_regs(MlpArgs M, const int *offset, const int *row_atom, const float *G, float *dG,
                float *eatom, double *sums) {
  extern __shared__ float sh[];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, e = blockIdx.y;
  const int g = lane / 4, t = lane % 4, r_end = offset[e + 1];
  if (offset[e] + blockIdx.x * MLPR_WARPS * 16 >= r_end) return;
  float *W1 = sh, *W2 = W1 + H1 * (D + 8), *W3 = W2 + H2 * (H1 + 8);
  copy_padded_rows(W1, M.W[e][0], H1, D);
  copy_padded_rows(W2, M.W[e][1], H2, H1);
  copy_padded_rows(W3, M.W[e][2], H3, H2);
  __syncthreads();
  const float *b1 = M.b[e][0], *b2 = M.b[e][1], *b3 = M.b[e][2], *wo = M.wout[e];
  double e_warp = 0.0;
  for (int r0 = offset[e] + (blockIdx.x * MLPR_WARPS + warp) * 16; r0 < r_end;
       r0 += gridDim.x * MLPR_WARPS * 16) {
    const bool ok0 = r0 + g < r_end, ok8 = r0 + g + 8 < r_end;
    Frag32 a1[H1 / 8], d1[H1 / 8], a2[H2 / 8], d2[H2 / 8], dz3[H3 / 8];
    {
      Frag32 a0[D / 8];
      const float *ga = G + (size_t)(r0 + g) * D + 2 * t, *gb = ga + 8 * (size_t)D;
#pragma unroll
      for (int kc = 0; kc < D / 8; kc++) {
        const float2 z = make_float2(0.f, 0.f);
        const float2 x0 = ok0 ? __ldg((const float2 *)(ga + 8 * kc)) : z;
        const float2 x1 = ok8 ? __ldg((const float2 *)(gb + 8 * kc)) : z;
        a0[kc] = c_to_a(x0.x, x0.y, x1.x, x1.y);
      }
      float acc[H1 / 8][4];
      mma32_forward<D, H1>(a0, W1, acc, lane);
      hidden_out32<H1>(M.act, acc, b1, a1, d1, lane);
    }
    {
      float acc[H2 / 8][4];
      mma32_forward<H1, H2>(a1, W2, acc, lane);
      hidden_out32<H2>(M.act, acc, b2, a2, d2, lane);
    }
    {
      float acc[H3 / 8][4], y0 = 0.f, y8 = 0.f;
      mma32_forward<H2, H3>(a2, W3, acc, lane);
#pragma unroll
      for (int j = 0; j < H3 / 8; j++) {
        const float2 bb = *(const float2 *)(b3 + 8 * j + 2 * t), ww = *(const float2 *)(wo + 8 * j + 2 * t);
        float v[4], dv[4];
#pragma unroll
        for (int q = 0; q < 4; q++) v[q] = act_and_grad(M.act, acc[j][q] + (q & 1 ? bb.y : bb.x), &dv[q]);
        y0 += v[0] * ww.x + v[1] * ww.y;
        y8 += v[2] * ww.x + v[3] * ww.y;
        dz3[j] = c_to_a(M.scale * ww.x * dv[0], M.scale * ww.y * dv[1], M.scale * ww.x * dv[2],
                        M.scale * ww.y * dv[3]);
      }
      tile_energies(M, e, y0, y8, r0, g, t, ok0, ok8, row_atom, eatom, e_warp);
    }
    {
      float acc[H2 / 8][4];
      mma32_backward<H3, H2>(dz3, W3, acc, lane);
      times_act_grad32<H2>(acc, d2, a2); /* dE/dZ2, over the activations */
    }
    {
      float acc[H1 / 8][4];
      mma32_backward<H2, H1>(a2, W2, acc, lane);
      times_act_grad32<H1>(acc, d1, a1); /* dE/dZ1 */
    }
    {
      float acc[D / 8][4];
      mma32_backward<H1, D>(a1, W1, acc, lane);
      store_tile_rows<D>(acc, dG, r0, g, t, ok0, ok8);
    }
  }
  add_warp_energy(e_warp, lane, sums);
}

/* its one instance: the shipped models' D, H1, H2, H3 */
#define MLPR_SHAPE 128, 128, 64, 64
static const int mlpr_shape[4] = {MLPR_SHAPE};
/* the element's weights in shared memory, rows padded by 8 elements: bytes of one element each */
static int mlpr_smem_bytes(int bytes_per_weight) {
  const int *n = mlpr_shape;
  return bytes_per_weight * (n[1] * (n[0] + 8) + n[2] * (n[1] + 8) + n[3] * (n[2] + 8));
}

/* Output layer (one unit): atomic energy, and dE/dA of the last hidden layer times its act'.
 * A warp per row, lanes along the row (coalesced; a thread per row strided by K was memory-
 * latency bound), OUTPUT_ROWS rows per warp, and one atomic per block for the energy sum. */
#define OUTPUT_ROWS 8
__global__ void k_output(LayerArgs L, const int *offset, const int *row_atom, int n_rows_cap,
                         const float *A, const float *dz_last, int K, float scale, const float *e0,
                         int n_species, float *dA, float *eatom, double *sums) {
  __shared__ float block_e[4];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, n_rows = offset[n_species];
  float e_sum = 0.f;
  for (int q = 0; q < OUTPUT_ROWS; q++) {
    const int r = (blockIdx.x * 4 + warp) * OUTPUT_ROWS + q;
    if (r >= n_rows) break;
    int e = 0;
    while (r >= offset[e + 1]) e++;
    const float *w = L.W[e], *a = A + (size_t)r * K, *dz = dz_last + (size_t)r * K;
    float y = 0.f;
    for (int k = lane; k < K; k += 32) {
      float wk = w[k];
      y += a[k] * wk;
      dA[(size_t)r * K + k] = scale * wk * dz[k];
    }
    for (int off = 16; off; off >>= 1) y += __shfl_xor_sync(0xffffffffu, y, off);
    float e_r = scale * (y + L.b[e][0]) + e0[e];
    if (lane == 0) eatom[row_atom[r]] = e_r;
    e_sum += e_r;
  }
  if (lane == 0) block_e[warp] = e_sum;
  __syncthreads();
  if (threadIdx.x == 0)
    atomicAdd(&sums[0], (double)(block_e[0] + block_e[1] + block_e[2] + block_e[3]));
}

/* ---- small systems: the whole step in one kernel ---------------------------------------- */

#define FUSED_THREADS 256
#define FUSED_MAX_ATOMS 4096  /* brute-force neighbour search up to here */
#define FUSED_MAX_NB 256
/* Up to here the one-kernel step reads positions straight from pinned host memory (every block
 * reads all of them). LAMMPS step on an H100: 12 atoms 44 -> 38 us, 48 atoms 56 -> 44 us, but
 * 192 atoms 70 -> 75 us. */
#define ZERO_COPY_ATOMS 128
#define HOST_THREADS_MIN_ATOMS 8192 /* below: the host loops of a step run on one thread */

struct NetArgs {
  int n_layers, sizes[MLFF_MAX_LAYERS + 1], act, fp16;
  int split;             /* split each dot product over threads (few blocks: latency-bound) */
  int hidden_total;      /* sum over hidden layers of 2 x width: the activation buffers */
  /* resident step: hidden layer l's staged weights at Ws + woff[l - 1], its biases at
   * Ws + boff[l - 1]; the output unit's weights at Ws + ooff, its bias after them */
  int woff[MLFF_MAX_LAYERS], boff[MLFF_MAX_LAYERS], ooff;
  int scratch;           /* floats of one atom's share of shared memory (fused_atom), 16-byte multiple */
  float scale, e0[MLFF_MAX_ELEMENTS];
  const float *W[MLFF_MAX_ELEMENTS][MLFF_MAX_LAYERS], *b[MLFF_MAX_ELEMENTS][MLFF_MAX_LAYERS];
  /* MLFF_GPU_PROFILE: block 0 writes its SM clock (clock64) and the global timer (ns) at the end
   * of each phase of the one-kernel step: [FUSED_PHASES][2] */
  unsigned long long *phase;
};

/* slots: 0-6 the phases of fused_atom; 7-9 the resident step's hand-over (block 0 saw the step,
 * block 0 has the positions, the last block's results are out); 10-12 the end of hidden layers
 * 1-3 forward, 13-15 backward (3, 2, 1); 16-17 the last block's ticket and copy (by that block) */
#define FUSED_PHASES 18
static const char *const fused_phase_name[FUSED_PHASES] = {
    "entry", "neighbours", "descriptor", "network forward (output)", "network backward (output)",
    "descriptor backward", "forces", "step seen", "positions in", "results out",
    "layer 1", "layer 2", "layer 3", "layer 3 back", "layer 2 back", "layer 1 back",
    "last block's ticket", "results copied"};
/* the order in time in which print_phases reads the slots */
static const int fused_phase_order[FUSED_PHASES] = {7, 8, 0, 1, 2, 10, 11, 12, 3, 13, 14, 15, 4, 5, 6, 16, 17, 9};
/* slot k's clocks, by thread 0 of the block that calls it */
__device__ __forceinline__ void stamp_phase(unsigned long long *phase, int k) {
  if (!phase || threadIdx.x != 0) return;
  unsigned long long gt;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(gt));
  phase[2 * k] = clock64();
  phase[2 * k + 1] = gt;
}
__device__ __forceinline__ void fused_phase(const NetArgs &N, int k) {
  if (blockIdx.x == 0) stamp_phase(N.phase, k);
}

/* FP16 operands with FP32 accumulation, as on the tensor cores, where fp16 is on */
__device__ __forceinline__ float rnd(float x, int fp16) {
  return fp16 ? __half2float(__float2half_rn(x)) : x;
}

/* W [O][K] from global to shared, rows padded to K+1 (rounded to half when fp16 is on).
 * Latency-bound (a block stages ~100 KB per step from L2): 16-byte loads, eight in flight per
 * thread before any store. Ends with a barrier: the weights are there for every thread. */
#define STAGE_UNROLL 8
template <int T>
__device__ __forceinline__ void stage_weights(float *Ws, const float *W, int O, int K, int t, int fp16) {
  __syncthreads(); /* whoever still reads the previous layer's weights is done */
  if ((K & 3) == 0 && ((size_t)W & 15) == 0) {
    const int K4 = K / 4, n4 = O * K4;
    const float4 *W4 = (const float4 *)W;
    for (int base = t; base < n4; base += STAGE_UNROLL * T) {
      float4 v[STAGE_UNROLL];
#pragma unroll
      for (int u = 0; u < STAGE_UNROLL; u++) {
        int idx = base + u * T;
        if (idx < n4) v[u] = __ldg(&W4[idx]);
      }
#pragma unroll
      for (int u = 0; u < STAGE_UNROLL; u++) {
        int idx = base + u * T;
        if (idx >= n4) break;
        int o = idx / K4, k = 4 * (idx - o * K4);
        float *d = Ws + o * (K + 1) + k;
        d[0] = rnd(v[u].x, fp16);
        d[1] = rnd(v[u].y, fp16);
        d[2] = rnd(v[u].z, fp16);
        d[3] = rnd(v[u].w, fp16);
      }
    }
  } else {
    const int n = O * K;
#pragma unroll 8
    for (int idx = t; idx < n; idx += T) {
      int o = idx / K, k = idx - o * K;
      Ws[o * (K + 1) + k] = rnd(__ldg(&W[idx]), fp16);
    }
  }
  __syncthreads();
}

/* pair_gradient shared by four consecutive lanes (gmask), lane q taking angular shell q of
 * four: the terms of one shell, summed over the four by two exchanges; lanes 0-2 add one
 * component each into gr. A quarter of the latency of one lane per pair, for the one-kernel
 * step, whose few pairs leave most threads idle. */
template <int NZ>
__device__ __forceinline__ void pair_gradient_quarter(const AevParams &P, int q, unsigned gmask,
                                                      float4 dj, float4 dk, float2 cj, float2 ck,
                                                      int sj, int sk, const float *dG, float *gr,
                                                      int ja, int kb) {
  float f1[NZ], df1[NZ];
  const float ij = 1.f / dj.w, ik = 1.f / dk.w, inv = ij * ik;
  const float cos_t = (dj.x * dk.x + dj.y * dk.y + dj.z * dk.z) * inv;
  const float ravg = 0.5f * (dj.w + dk.w), u = ravg - P.muA[q], f2 = __expf(-P.etaA * u * u);
  angle_terms<NZ>(P, cos_t, f1, df1);
  const float *wp = dG + P.n_radial + pair_index(sj, sk, P.nS) * 4 * NZ + q * NZ;
  float t = 0.f, tc = 0.f;
#pragma unroll
  for (int z = 0; z < NZ; z++) {
    const float wz = wp[z];
    t += wz * f1[z];
    tc += wz * df1[z];
  }
  float S = t * f2, S_c = tc * f2, S_r = S * (-2.f * P.etaA * u);
#pragma unroll
  for (int off = 1; off < 4; off <<= 1) {
    S += __shfl_xor_sync(gmask, S, off);
    S_c += __shfl_xor_sync(gmask, S_c, off);
    S_r += __shfl_xor_sync(gmask, S_r, off);
  }
  float cc, aj, ak;
  pair_coefficients(S, S_c, S_r, cj, ck, cos_t, ij, ik, cc, aj, ak);
  if (q < 3) {
    const float djx = q == 0 ? dj.x : q == 1 ? dj.y : dj.z, dkx = q == 0 ? dk.x : q == 1 ? dk.y : dk.z;
    atomicAdd(&gr[3 * ja + q], cc * dkx + aj * djx);
    atomicAdd(&gr[3 * kb + q], cc * djx + ak * dkx);
  }
}

/* The one-kernel step's descriptor backward: the pair gradients of atom i's neighbours, into gr
 * (shared memory). Thread per angular pair (four per pair where there are four angular shells),
 * then per radial neighbour, in one range (a thread takes one or the other). Counts as in
 * pair_gradient (ANI-1x's at compile time: registers). */
template <int T, int NR, int NA, int NZ>
__device__ __forceinline__ void fused_descriptor_backward(const AevParams &P, int t, int n, int na,
                                                          const float4 *nd, const int *ns,
                                                          const int *ang, const float *dG, float *gr) {
  const int npairs = na * (na - 1) / 2, nR = NR ? NR : P.nR;
  constexpr int LANES = NA == 4 && NZ > 0 ? 4 : 1; /* threads per pair */
  for (int u = t; u < LANES * npairs + n; u += T) {
    if (LANES == 4 && u < LANES * npairs) { /* a pair's four lanes are all here (T % 4 == 0) */
      int a, b;
      decode_pair(u / 4, na, a, b);
      const int ja = ang[a], kb = ang[b];
      const float4 dj = nd[ja], dk = nd[kb];
      if constexpr (LANES == 4)
        pair_gradient_quarter<NZ>(P, u & 3, 0xFu << (t & 28), dj, dk,
                                  make_float2(fc_f(dj.w, P.Rca), dfc_f(dj.w, P.Rca)),
                                  make_float2(fc_f(dk.w, P.Rca), dfc_f(dk.w, P.Rca)), ns[ja], ns[kb],
                                  dG, gr, ja, kb);
      continue;
    }
    if (LANES == 1 && u < npairs) {
      int a, b;
      decode_pair(u, na, a, b);
      const int ja = ang[a], kb = ang[b];
      const float4 dj = nd[ja], dk = nd[kb];
      pair_gradient<NA, NZ>(P, dj, dk, make_float2(fc_f(dj.w, P.Rca), dfc_f(dj.w, P.Rca)),
                            make_float2(fc_f(dk.w, P.Rca), dfc_f(dk.w, P.Rca)),
                            dG + P.n_radial + pair_index(ns[ja], ns[kb], P.nS) * P.nA * P.nZ, gr,
                            ja, kb);
      continue;
    }
    const int k = u - LANES * npairs;
    const float4 d = nd[k];
    if (d.w >= P.Rcr) continue;
    const float *w = dG + ns[k] * nR;
    const float f = fc_f(d.w, P.Rcr), df = dfc_f(d.w, P.Rcr);
    float g[NR ? NR : MLFF_MAX_RADIAL_SHELLS];
    gauss_comb<NR>(d.w, P.etaR, P.muR, nR, g);
    float acc = 0.f;
#pragma unroll
    for (int q = 0; q < nR; q++) acc += w[q] * g[q] * (df - 2.f * P.etaR * (d.w - P.muR[q]) * f);
    acc *= 0.25f / d.w;
    atomicAdd(&gr[3 * k], acc * d.x);
    atomicAdd(&gr[3 * k + 1], acc * d.y);
    atomicAdd(&gr[3 * k + 2], acc * d.z);
  }
}

/* The barrier of T threads that work on one atom: the block, or one half of it (named barriers
 * 1 and 2; __syncthreads is barrier 0) */
template <int T, bool HALF>
__device__ __forceinline__ void group_sync(int h) {
  if constexpr (HALF)
    asm volatile("bar.sync %0, %1;" ::"r"(1 + h), "r"(T) : "memory");
  else
    __syncthreads();
}

/* Every hidden layer and the output unit of element e into shared memory (Ws + woff, boff,
 * ooff): the resident step's blocks hold their element's weights between steps */
template <int T>
__device__ __forceinline__ void hold_weights(const NetArgs &N, float *Ws, int e, int t) {
  const int L = N.n_layers, last = N.sizes[L - 1];
  for (int l = 1; l < L; l++) {
    stage_weights<T>(Ws + N.woff[l - 1], N.W[e][l - 1], N.sizes[l], N.sizes[l - 1], t, N.fp16);
    for (int o = t; o < N.sizes[l]; o += T) Ws[N.boff[l - 1] + o] = N.b[e][l - 1][o];
  }
  for (int k = t; k <= last; k += T) Ws[N.ooff + k] = k < last ? N.W[e][L - 1][k] : N.b[e][L - 1][0];
  __syncthreads();
}

/* T threads per atom (the block, or with HALF one half of it, whose two halves take two atoms at
 * once): neighbours (brute force over all atoms), descriptor, the element's network forward and
 * backward (matrix-vector products), descriptor backward and force scatter. Sizes: hidden widths
 * <= 1024 in all. scratch: the atom's own share of shared memory (N.scratch floats). held (the
 * resident step): every hidden layer of the atom's element is in Ws already (hold_weights);
 * else the weights are staged into Ws one layer at a time (from L2). */
template <int T, bool HALF = false>
__device__ __forceinline__ void fused_atom(const int i, const AevParams &P, const NetArgs &N, const char *stage,
                                           int n_total, float rc, float *force, float *eatom,
                                           float *vatom, double *sums, int *overflow,
                                           float *scratch, float *Ws, bool held) {
  constexpr int NG = HALF ? 2 : 1; /* groups of T threads in the block */
  __shared__ int cnt_[NG], na_[NG];
  __shared__ float red_[NG][T / 32];
  __shared__ float part_[NG][T]; /* partial dot products of split matrix-vector products */
  __shared__ float vblk_[NG][T / 32][6];
  const int hf = HALF ? threadIdx.x / T : 0, t = threadIdx.x - hf * T, lane = t % 32, warp = t / 32;
  int &cnt = cnt_[hf], &na = na_[hf];
  float *red = red_[hf], *part = part_[hf];
  const float4 *pos = (const float4 *)(stage + sizeof(StepHeader));
  const float4 p = pos[i];
  if (p.w < 0.f) return;
  const int e = (int)p.w;
  float4 *nd = (float4 *)scratch;                     /* [FUSED_MAX_NB] */
  int *nj = (int *)(nd + FUSED_MAX_NB);               /* [FUSED_MAX_NB] */
  int *ang = nj + FUSED_MAX_NB;                       /* [FUSED_MAX_NB] */
  int *ns = ang + FUSED_MAX_NB;                       /* [FUSED_MAX_NB] neighbour species */
  float *gr = (float *)(ns + FUSED_MAX_NB);           /* [3 FUSED_MAX_NB] */
  float *G = gr + 3 * FUSED_MAX_NB;                   /* [D]: descriptor, later dE/dG */
  float *H = G + P.D;                                 /* per hidden layer: act, act'; 2 x 1024 */
  fused_phase(N, 0);
  if (t == 0) { cnt = 0; na = 0; }
  group_sync<T, HALF>(hf);
  const float rc2_loose = rc * rc * CUTOFF_MARGIN;
  const int4 meta = ((const StepHeader *)stage)->meta;
  const double *xd = stage_xd(stage, meta.x);
  const int small = meta.y;
  for (int j = t; j < n_total; j += T) {
    float4 q = pos[j];
    float dx = q.x - p.x, dy = q.y - p.y, dz = q.z - p.z, r2 = dx * dx + dy * dy + dz * dz;
    if (j == i || q.w < 0.f || r2 >= rc2_loose) continue;
    const float4 d = small ? make_float4(dx, dy, dz, sqrtf(r2)) : displacement(xd, i, j);
    if (d.w >= rc || d.w == 0.f) continue;
    int k = atomicAdd(&cnt, 1);
    if (k < FUSED_MAX_NB) {
      nd[k] = d;
      nj[k] = j;
      ns[k] = (int)q.w; /* positions are read once: they may live in host memory */
    }
  }
  for (int f = t; f < P.D; f += T) G[f] = 0.f;
  group_sync<T, HALF>(hf);
  if (cnt > FUSED_MAX_NB) {
    if (t == 0) atomicMax(overflow, cnt);
    return;
  }
  const int n = cnt;
  fused_phase(N, 1);
  for (int k = t; k < n; k += T) {
    if (nd[k].w < P.Rca) ang[atomicAdd(&na, 1)] = k;
    gr[3 * k] = gr[3 * k + 1] = gr[3 * k + 2] = 0.f;
  }
  group_sync<T, HALF>(hf);
  const int npairs = na * (na - 1) / 2;
  /* descriptor: warps take the neighbours, then the pairs, in turn; lanes own features (few
   * collisions). A lane reads the shell constants of its first feature once: the lanes of a
   * warp read different ones, and the constant bank serves one address at a time */
  const int nW = T / 32, nAZ = P.nA * P.nZ, xl = lane / P.nZ, zl = lane - xl * P.nZ;
  const float muR_l = lane < P.nR ? P.muR[lane] : 0.f, muA_l = lane < nAZ ? P.muA[xl] : 0.f,
              cosZ_l = lane < nAZ ? P.cosZ[zl] : 0.f, sinZ_l = lane < nAZ ? P.sinZ[zl] : 0.f;
  for (int q = warp; q < n + npairs; q += nW) {
    if (q < n) {
      const float4 d = nd[q];
      if (d.w >= P.Rcr) continue;
      const float f = 0.25f * fc_f(d.w, P.Rcr);
      float *Gs = G + ns[q] * P.nR;
      for (int r = lane; r < P.nR; r += 32) {
        const float x = d.w - (r == lane ? muR_l : P.muR[r]);
        atomicAdd(&Gs[r], f * __expf(-P.etaR * x * x));
      }
      continue;
    }
    int a, b;
    decode_pair(q - n, na, a, b);
    float4 dj = nd[ang[a]], dk = nd[ang[b]];
    float cos_t = (dj.x * dk.x + dj.y * dk.y + dj.z * dk.z) / (dj.w * dk.w);
    float c = 0.95f * cos_t, sn = sqrtf(fmaxf(1.f - c * c, 1e-12f));
    float wgt = 2.f * fc_f(dj.w, P.Rca) * fc_f(dk.w, P.Rca), ravg = 0.5f * (dj.w + dk.w);
    float *Gp = G + P.n_radial + pair_index(ns[ang[a]], ns[ang[b]], P.nS) * nAZ;
    for (int f = lane; f < nAZ; f += 32) {
      const int x = f / P.nZ, z = f - x * P.nZ;
      const bool mine = f == lane;
      float base = 0.5f * (1.f + c * (mine ? cosZ_l : P.cosZ[z]) + sn * (mine ? sinZ_l : P.sinZ[z]));
      float pw = pow_zeta(P, base);
      float u = ravg - (mine ? muA_l : P.muA[x]);
      atomicAdd(&Gp[f], wgt * pw * __expf(-P.etaA * u * u));
    }
  }
  group_sync<T, HALF>(hf);
  fused_phase(N, 2);
  /* network forward: warp w takes outputs w, w+4, ...; lanes split the dot product */
  const float *in = G;
  float *layer_out[MLFF_MAX_LAYERS];
  float *h = H;
  const int L = N.n_layers, last = N.sizes[L - 1];
  /* Each layer's weights are staged in shared memory first: one burst of independent,
   * coalesced loads, instead of a chain of L2 round trips inside the dot products. Rows are
   * padded to K+1 so that both W x (thread per row) and W^T y (thread per column) are free of
   * bank conflicts. */
  for (int l = 1; l < N.n_layers; l++) {
    const int K = N.sizes[l - 1], O = N.sizes[l];
    const float *bias = held ? Ws + N.boff[l - 1] : N.b[e][l - 1];
    const float *Wl = held ? Ws + N.woff[l - 1] : Ws;
    if constexpr (!HALF) /* (halves share held weights) */
      if (!held) stage_weights<T>(Ws, N.W[e][l - 1], O, K, t, N.fp16);
    float *a_out = h, *d_out = h + O;
    /* S threads per output, each a K/S slice of the dot product (a latency chain S times
     * shorter); thread u takes output u % O, slice u / O, so a warp's lanes read consecutive
     * rows (no bank conflicts) and one input value (a broadcast) */
    const int S = !N.split || O >= T ? 1 : T / O, chunk = (K + S - 1) / S;
    for (int u = t; u < O * S; u += T) {
      const int o = u % O, s = u / O, k1 = min(K, (s + 1) * chunk);
      const float *wr = Wl + (size_t)o * (K + 1);
      float acc0 = 0.f, acc1 = 0.f;
      int k = s * chunk;
      for (; k + 1 < k1; k += 2) {
        acc0 += wr[k] * rnd(in[k], N.fp16);
        acc1 += wr[k + 1] * rnd(in[k + 1], N.fp16);
      }
      if (k < k1) acc0 += wr[k] * rnd(in[k], N.fp16);
      if (S > 1) {
        part[u] = acc0 + acc1;
        continue;
      }
      float dz;
      a_out[o] = act_and_grad(N.act, acc0 + acc1 + bias[o], &dz);
      d_out[o] = dz;
    }
    if (S > 1) {
      group_sync<T, HALF>(hf);
      for (int o = t; o < O; o += T) {
        float z = bias[o], dz;
        for (int q = 0; q < S; q++) z += part[q * O + o];
        a_out[o] = act_and_grad(N.act, z, &dz);
        d_out[o] = dz;
      }
    }
    group_sync<T, HALF>(hf);
    layer_out[l] = h;
    in = a_out;
    h += 2 * O;
    if (l <= 3) fused_phase(N, 9 + l);
  }
  /* output unit: energy; then dE/d(last hidden pre-activation) */
  const float *wl = held ? Ws + N.ooff : N.W[e][L - 1];
  float y = 0.f;
  for (int k = t; k < last; k += T) y += rnd(wl[k], N.fp16) * rnd(in[k], N.fp16);
  for (int off = 16; off; off >>= 1) y += __shfl_down_sync(0xffffffffu, y, off);
  if (lane == 0) red[warp] = y;
  float *dz = h, *dprev = h + 1024;
  for (int k = t; k < last; k += T)
    dz[k] = N.scale * rnd(wl[k], N.fp16) * layer_out[L - 1][last + k];
  group_sync<T, HALF>(hf);
  fused_phase(N, 3);
  if (t == 0) {
    float yy = held ? wl[last] : N.b[e][L - 1][0];
    for (int w = 0; w < T / 32; w++) yy += red[w];
    float en = N.scale * yy + N.e0[e];
    eatom[i] = en;
    atomicAdd(&sums[0], (double)en);
  }
  /* backward: dA_{l-1}[k] = sum_o dZ_l[o] W[o][k] (times act' of layer l-1) */
  for (int l = L - 1; l >= 1; l--) {
    const int K = N.sizes[l - 1], O = N.sizes[l];
    float *dst = l == 1 ? G : dprev;
    /* the last hidden layer's weights are still staged from the forward pass */
    const float *Wl = held ? Ws + N.woff[l - 1] : Ws;
    if constexpr (!HALF)
      if (!held && l < L - 1) stage_weights<T>(Ws, N.W[e][l - 1], O, K, t, N.fp16);
    /* as forward: S threads per input k, each a slice of the outputs o */
    const int S = !N.split || K >= T ? 1 : T / K, chunk = (O + S - 1) / S;
    for (int u = t; u < K * S; u += T) {
      const int k = u % K, s = u / K, o1 = min(O, (s + 1) * chunk);
      float acc0 = 0.f, acc1 = 0.f;
      int o = s * chunk;
      for (; o + 1 < o1; o += 2) {
        acc0 += rnd(dz[o], N.fp16) * Wl[(size_t)o * (K + 1) + k];
        acc1 += rnd(dz[o + 1], N.fp16) * Wl[(size_t)(o + 1) * (K + 1) + k];
      }
      if (o < o1) acc0 += rnd(dz[o], N.fp16) * Wl[(size_t)o * (K + 1) + k];
      float acc = acc0 + acc1;
      if (S > 1) part[u] = acc;
      else dst[k] = l > 1 ? acc * layer_out[l - 1][K + k] : acc;
    }
    if (S > 1) {
      group_sync<T, HALF>(hf);
      for (int k = t; k < K; k += T) {
        float acc = 0.f;
        for (int q = 0; q < S; q++) acc += part[q * K + k];
        dst[k] = l > 1 ? acc * layer_out[l - 1][K + k] : acc;
      }
    }
    group_sync<T, HALF>(hf); /* dst complete, and Ws free for the next layer */
    if (l <= 3) fused_phase(N, 16 - l);
    if (l > 1) {
      float *tmp = dz; dz = dprev; dprev = tmp;
    }
  }
  fused_phase(N, 4);
  /* descriptor backward: G now holds dE/dG */
  if (ani1x_counts(P))
    fused_descriptor_backward<T, 16, 4, 8>(P, t, n, na, nd, ns, ang, G, gr);
  else
    fused_descriptor_backward<T, 0, 0, 0>(P, t, n, na, nd, ns, ang, G, gr);
  group_sync<T, HALF>(hf);
  fused_phase(N, 5);
  float vacc[6] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
  scatter_forces(t, T, i, n, nj, nd, gr, force, vatom, vacc);
  /* the block's virial, one atomic per component (not per warp: on six addresses for all) */
  float(*vblk)[6] = vblk_[hf];
  if (lane == 0)
    for (int q = 0; q < 6; q++) vblk[warp][q] = vacc[q];
  group_sync<T, HALF>(hf);
  if (t < 6) {
    float v = 0.f;
    for (int w = 0; w < T / 32; w++) v += vblk[w][t];
    atomicAdd(&sums[1 + t], (double)v);
  }
  fused_phase(N, 6);
}

/* The block that finishes a step last (by its ticket) copies the results (the output buffer,
 * out_words 4-byte words) into pinned host memory and zeroes the buffer for the next step:
 * no copies, no memset around the kernel. Returns whether this block did. */
template <int T>
__device__ __forceinline__ bool copy_out_if_last(int *out_dev, int *out_host, int out_words, int *ticket,
                                                 unsigned long long *phase) {
  __shared__ int last;
  __threadfence(); /* this block's results are visible device-wide before its ticket */
  __syncthreads();
  if (threadIdx.x == 0) last = atomicAdd(ticket, 1) == (int)gridDim.x - 1;
  __syncthreads();
  if (!last) return false;
  stamp_phase(phase, 16);
  __threadfence();
  for (int w = threadIdx.x; w < out_words; w += T) out_host[w] = __ldcg(&out_dev[w]);
  __syncthreads();
  stamp_phase(phase, 17);
  for (int w = threadIdx.x; w < out_words; w += T) out_dev[w] = 0; /* ticket too */
  __threadfence_system();
  __syncthreads(); /* every thread's results are out before whatever the block writes next */
  return true;
}

/* The resident step's copy-out: as copy_out_if_last, but each word goes to host memory as an
 * 8-byte entry with the step number (one PCIe write, not torn), which the host checks word by
 * word: no system fence and no flag after the results (~2 us of a benzene's step on an H200,
 * MLFF_GPU_PROFILE). The buffer is zeroed before the results go out, and a device-wide fence
 * keeps the zeros ahead of them: whatever the next step adds comes after the host saw them. */
template <int T>
__device__ __forceinline__ bool copy_out_tagged(int *out_dev, unsigned long long *out_host, int out_words,
                                                int *ticket, int seq, unsigned long long *phase) {
  constexpr int PER = 8; /* words per thread held in registers */
  __shared__ int last;
  __threadfence(); /* this block's results are visible device-wide before its ticket */
  __syncthreads();
  if (threadIdx.x == 0) last = atomicAdd(ticket, 1) == (int)gridDim.x - 1;
  __syncthreads();
  if (!last) return false;
  stamp_phase(phase, 16);
  __threadfence();
  const unsigned long long tag = (unsigned long long)seq << 32;
  for (int base = 0; base < out_words; base += PER * T) { /* out_words <= PER T in one round */
    int v[PER];
#pragma unroll
    for (int u = 0; u < PER; u++) {
      const int w = base + u * T + threadIdx.x;
      v[u] = w < out_words ? __ldcg(&out_dev[w]) : 0;
    }
    __syncthreads(); /* every word read before any is zeroed (the ticket too) */
#pragma unroll
    for (int u = 0; u < PER; u++) {
      const int w = base + u * T + threadIdx.x;
      if (w < out_words) out_dev[w] = 0;
    }
    __threadfence(); /* the zeros are in L2 before the host can see this step's results */
#pragma unroll
    for (int u = 0; u < PER; u++) {
      const int w = base + u * T + threadIdx.x;
      if (w < out_words) ((volatile unsigned long long *)out_host)[w] = tag | (unsigned)v[u];
    }
  }
  stamp_phase(phase, 17);
  return true;
}

/* Block per local atom (fused_atom). With out_host set (small systems): the positions are
 * read straight from pinned host memory, and the last block copies the results out, so that
 * the step is one graph node. */
__global__ void __launch_bounds__(FUSED_THREADS)
k_fused(AevParams P, NetArgs N, const char *stage, int n_total, float rc, float *force,
        float *eatom, float *vatom, double *sums, int *overflow, int *out_dev, int *out_host,
        int out_words, int *ticket) {
  extern __shared__ float sh[];
  fused_atom<FUSED_THREADS>(blockIdx.x, P, N, stage, n_total, rc, force, eatom, vatom, sums, overflow,
                            sh, sh + N.scratch, false);
  if (out_host) copy_out_if_last<FUSED_THREADS>(out_dev, out_host, out_words, ticket, N.phase);
}

/* The resident step (small systems, a GPU not shared with other processes): k_fused's blocks
 * stay on the GPU between calls, each with its element's weights in shared memory, and wait
 * for the host's next step number in pinned memory. Only block 0 polls the host (a PCIe read
 * per poll); it passes each number on through a device word (bcast) that the other blocks
 * poll. Numbers only grow; block 0 answers a negative one, or idle_ns without a call, by
 * telling every block to return (bcast = -epoch, the launch's own number, so that a value left
 * by an earlier launch means nothing), so that a resident step never holds the GPU for long:
 * cudaFree or cudaDeviceSynchronize elsewhere in the process wait at most that long.
 * Positions: block 0 alone reads them from host memory and relays them through device memory
 * (stage_dev) before it passes the step on: the other blocks read them from L2. (Every block
 * reading them from host memory made a benzene's step 37 us instead of 24 on an H200.)
 * Atoms: one per block while there are no more atoms than blocks; beyond, the blocks are dealt
 * out to the elements in proportion to their atoms, and a block takes every eb-th atom of its
 * element, so that the weights it holds stay its own. */
#define RESIDENT_MAX_ATOMS 512   /* with images; and at most RESIDENT_ATOMS_PER_SM x SMs local */
#define RESIDENT_ATOMS_PER_SM 8
/* Threads of a resident block: one block per SM, so twice k_fused's, for the latency-bound
 * phases of one atom (ptxas then keeps the kernel within 128 registers) */
#define RESIDENT_THREADS 512
#define HALF_THREADS (RESIDENT_THREADS / 2)
#define RESIDENT_MINE 32         /* a block's atoms: <= 2 x RESIDENT_ATOMS_PER_SM (see deal_atoms) */
struct ResidentArgs {
  const int4 *stage_host;   /* the staged positions in pinned host memory */
  int4 *stage_dev;          /* their relay in device memory (block 0 writes, the others read) */
  int stage_words;          /* 16-byte words of the staged positions */
  const volatile int *go;   /* host-mapped: the step the host asks for (< 0: return) */
  volatile int *bcast;      /* device: block 0's word to the other blocks */
  int seq0, epoch;          /* the last step done before this launch; this launch's number */
  long long idle_ns;
  int stage_off;            /* shared memory: the positions, in floats past fused_atom's share */
};

__device__ __forceinline__ long long global_ns() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return (long long)t;
}

/* This block's atoms (mine[0, *n_mine)) among n_local, by element (see above); every block
 * computes the same deal (mlff_deal_blocks), which the host has checked gives no block more
 * than RESIDENT_MINE atoms. */
__device__ __forceinline__ void deal_atoms(const float4 *pos, int n_local, int n_species, int *mine,
                                           int *n_mine) {
  __shared__ int count[MLFF_MAX_ELEMENTS], my_e, my_slot, my_eb;
  const int t = threadIdx.x, lane = t % 32, nb = gridDim.x;
  if (n_local <= nb) {
    if (t == 0) {
      *n_mine = 1;
      mine[0] = blockIdx.x;
    }
    __syncthreads();
    return;
  }
  if (t < MLFF_MAX_ELEMENTS) count[t] = 0;
  if (t == 0) *n_mine = 0;
  __syncthreads();
  for (int a = t; a < n_local; a += RESIDENT_THREADS) {
    const int s = (int)pos[a].w;
    if (s >= 0) atomicAdd(&count[s], 1);
  }
  __syncthreads();
  if (t == 0) {
    int eb[MLFF_MAX_ELEMENTS];
    const int most = mlff_deal_blocks(count, n_species, nb, eb);
    if (most < 0 || most > RESIDENT_MINE) __trap(); /* the host declines such systems */
    my_e = -1;
    for (int e = 0, start = 0; e < n_species; start += eb[e], e++)
      if ((int)blockIdx.x < start + eb[e]) {
        my_e = e;
        my_slot = blockIdx.x - start;
        my_eb = eb[e];
        break;
      }
  }
  __syncthreads();
  if (t < 32 && my_e >= 0) { /* rank among the element's atoms by ballots, 32 atoms a round */
    for (int base = 0, rank0 = 0; base < n_local; base += 32) {
      const int a = base + lane;
      const bool is = a < n_local && (int)pos[a].w == my_e;
      const unsigned m = __ballot_sync(0xffffffffu, is);
      const int r = rank0 + __popc(m & ((1u << lane) - 1u));
      if (is && r % my_eb == my_slot) mine[atomicAdd(n_mine, 1)] = a;
      rank0 += __popc(m);
    }
  }
  __syncthreads();
}

__global__ void __launch_bounds__(RESIDENT_THREADS, 1)
k_fused_resident(AevParams P, NetArgs N, ResidentArgs R, int n_local, int n_total, float rc,
                 float *force, float *eatom, float *vatom, double *sums, int *overflow,
                 int *out_dev, unsigned long long *out_host, int out_words, int *ticket) {
  extern __shared__ float sh[];
  __shared__ int cmd, loaded, n_mine, mine[RESIDENT_MINE];
  int4 *stage = (int4 *)(sh + R.stage_off);
  float *Ws = sh + 2 * N.scratch; /* after two atoms' scratch: the element's weights */
  const int t = threadIdx.x;
  const bool relay = blockIdx.x == 0;
  if (t == 0) loaded = -1;
  for (int seq = R.seq0;;) {
    if (t == 0) {
      int c;
      if (blockIdx.x == 0) {
        const long long t0 = global_ns();
        while ((c = *R.go) == seq)
          if (global_ns() - t0 > R.idle_ns) break;
        c = c > seq ? c : -R.epoch;
        if (c < 0) *R.bcast = c; /* a step: once the positions are relayed, below */
        if (c > 0) fused_phase(N, 7);
      } else {
        while ((c = *R.bcast) <= seq && c != -R.epoch) {
        }
        __threadfence(); /* the relayed positions are read after the word */
      }
      cmd = c;
    }
    __syncthreads();
    if (cmd < 0) return;
    seq = cmd;
    /* the positions of this step: from host memory (not from L1, where an earlier step's may
     * be), or from the relay (from L2) */
    for (int w = t; w < R.stage_words; w += RESIDENT_THREADS) {
      const int4 v = relay ? __ldcv(&R.stage_host[w]) : __ldcg(&R.stage_dev[w]);
      stage[w] = v;
      if (relay) R.stage_dev[w] = v;
    }
    if (relay) {
      __threadfence();
      __syncthreads();
      if (t == 0) *R.bcast = seq;
    }
    __syncthreads();
    fused_phase(N, 8);
    const float4 *pos = (const float4 *)((const char *)stage + sizeof(StepHeader));
    deal_atoms(pos, n_local, P.nS, mine, &n_mine);
    /* the block's atoms are of one element (deal_atoms): its weights, unless held already */
    const int e = n_mine > 0 ? (int)pos[mine[0]].w : -1;
    if (e >= 0 && e != loaded) {
      hold_weights<RESIDENT_THREADS>(N, Ws, e, t);
      if (t == 0) loaded = e; /* read again after the next step's barriers */
    }
    if (n_mine == 1)
      fused_atom<RESIDENT_THREADS>(mine[0], P, N, (const char *)stage, n_total, rc, force, eatom, vatom,
                                   sums, overflow, sh, Ws, true);
    else /* two atoms at once, one per half of the block (a half is 1.2-1.4x slower on one atom
          * than the whole block: the phases of one atom are latency-bound) */
      for (int k = t / HALF_THREADS; k < n_mine; k += 2)
        fused_atom<HALF_THREADS, true>(mine[k], P, N, (const char *)stage, n_total, rc, force, eatom,
                                       vatom, sums, overflow, sh + (t / HALF_THREADS) * N.scratch, Ws, true);
    if (copy_out_tagged<RESIDENT_THREADS>(out_dev, out_host, out_words, ticket, seq, N.phase))
      stamp_phase(N.phase, 9);
  }
}

/* ---- host side ------------------------------------------------------------------------ */

extern "C" int mlff_gpu_device_count(void) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

static void free_buffers(mlff_gpu *g) {
  void *bufs[] = {g->d_stage, g->d_cell_count, g->d_cell_start, g->d_cell_fill, g->d_cell_of,
                  g->d_cell_atoms, g->d_scan_tmp, g->d_nbr_n, g->d_nbr_j, g->d_nbr_d, g->d_cand_n,
                  g->d_cand_j, g->d_count,
                  g->d_offset, g->d_fill, g->d_row, g->d_row_atom, g->d_G, g->d_dG, g->d_bufA,
                  g->d_bufB, g->d_out, g->d_xref, g->d_delta};
  for (size_t k = 0; k < sizeof bufs / sizeof *bufs; k++) cudaFree(bufs[k]);
  for (int l = 0; l < MLFF_MAX_LAYERS; l++) {
    cudaFree(g->d_Z[l]);
    cudaFree(g->d_A[l]);
    g->d_Z[l] = g->d_A[l] = nullptr;
  }
  cudaFreeHost(g->h_stage);
  cudaFreeHost(g->h_out);
  cudaFreeHost(g->h_tagged);
  cudaFreeHost(g->h_delta);
  g->d_out = g->h_out = nullptr;
  g->d_xref = nullptr;
  g->d_delta = g->h_delta = nullptr;
  g->h_tagged = g->h_tagged_dev = nullptr;
  g->d_stage = nullptr; g->d_cell_count = g->d_cell_start = g->d_cell_fill = nullptr;
  g->d_cell_of = g->d_cell_atoms = nullptr; g->d_scan_tmp = nullptr;
  g->d_nbr_n = g->d_nbr_j = g->d_cand_n = g->d_cand_j = nullptr; g->d_nbr_d = nullptr;
  g->d_count = g->d_offset = g->d_fill = g->d_row = g->d_row_atom = nullptr;
  g->d_G = g->d_dG = g->d_bufA = g->d_bufB = nullptr;
  g->h_stage = nullptr;
  g->cap_atoms = g->cap_cells = 0;
}

static double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
static volatile int &mail_go(mlff_gpu *g) { return ((volatile int *)g->h_mail)[0]; }
/* Whether every word of step seq's results is in (copy_out_tagged); if so, into h_out */
static bool tagged_results(mlff_gpu *g, int seq) {
  const int n = (int)(g->out_bytes / 4);
  const volatile unsigned long long *e = g->h_tagged;
  if ((int)(e[n - 1] >> 32) != seq) return false; /* the last word first: cheap while waiting */
  int *out = (int *)g->h_out;
  for (int w = 0; w < n; w++) {
    const unsigned long long x = e[w]; /* one read: the word and its step together */
    if ((int)(x >> 32) != seq) return false;
    out[w] = (int)(unsigned)x;
  }
  return true;
}

/* Ask a running resident step to return and wait until it has (its buffers may go next). */
static cudaError_t stop_resident(mlff_gpu *g) {
  if (!g->res.running) return cudaSuccess;
  g->res.running = 0;
  mail_go(g) = -1;
  cudaError_t e = cudaStreamSynchronize(g->stream);
  mail_go(g) = g->res.seq; /* what a next launch starts from */
  return e;
}

/* Forget the work launched on this calc's buffers: the graphs, and a resident step. */
static void drop_graphs(mlff_gpu *g) {
  stop_resident(g); /* an error stays with the context: the next call reports it */
  for (int k = 0; k < 2; k++) {
    if (g->graph[k].exec) cudaGraphExecDestroy(g->graph[k].exec);
    g->graph[k].exec = nullptr;
  }
}

/* Bytes of the results buffer (set_layout) for so many atoms: sums, force, eatom, vatom */
static size_t out_capacity(size_t atoms) { return 64 + 10 * atoms * sizeof(float); }

static mlff_status reserve(mlff_gpu *g, int atoms, int cells, int max_nb) {
  if (atoms <= g->cap_atoms && cells <= g->cap_cells && max_nb <= g->max_nb) return MLFF_OK;
  drop_graphs(g);
  atoms = atoms > g->cap_atoms ? atoms + atoms / 4 + 64 : g->cap_atoms;
  cells = cells > g->cap_cells ? cells + cells / 4 + 64 : g->cap_cells;
  max_nb = max_nb > g->max_nb ? max_nb : g->max_nb;
  free_buffers(g);
  g->generation++;
  size_t A = atoms, D = g->aev.D;
  /* a failed allocation names the sizes: a user can tell a huge system from a leak */
#define ALLOC(call, bytes)                                                                      \
  do {                                                                                          \
    cudaError_t e_ = (call);                                                                    \
    if (e_ != cudaSuccess) {                                                                    \
      cudaGetLastError();                                                                       \
      return mlff_fail(MLFF_ERR_DEVICE, "cannot allocate %.1f MB of GPU memory for %d atoms "   \
                       "(%d neighbours each, %d cells): %s", (double)(bytes) / 1e6, atoms,       \
                       max_nb, cells, cudaGetErrorString(e_));                                  \
    }                                                                                           \
  } while (0)
  const size_t stage_cap = sizeof(StepHeader) + A * STAGE_BYTES_PER_ATOM;
  ALLOC(cudaMalloc(&g->d_stage, stage_cap), stage_cap);
  ALLOC(cudaMalloc(&g->d_cell_count, (cells + 1) * sizeof(int)), (cells + 1) * sizeof(int));
  ALLOC(cudaMalloc(&g->d_cell_start, (cells + 1) * sizeof(int)), (cells + 1) * sizeof(int));
  ALLOC(cudaMalloc(&g->d_cell_fill, (cells + 1) * sizeof(int)), (cells + 1) * sizeof(int));
  ALLOC(cudaMalloc(&g->d_cell_of, A * sizeof(int)), A * sizeof(int));
  ALLOC(cudaMalloc(&g->d_cell_atoms, A * sizeof(int)), A * sizeof(int));
  g->scan_tmp_bytes = 0;
  cub::DeviceScan::ExclusiveSum(nullptr, g->scan_tmp_bytes, g->d_cell_count, g->d_cell_start, cells + 1);
  ALLOC(cudaMalloc(&g->d_scan_tmp, g->scan_tmp_bytes), g->scan_tmp_bytes);
  ALLOC(cudaMalloc(&g->d_nbr_n, A * sizeof(int)), A * sizeof(int));
  ALLOC(cudaMalloc(&g->d_nbr_j, A * max_nb * sizeof(int)), A * max_nb * sizeof(int));
  ALLOC(cudaMalloc(&g->d_nbr_d, A * max_nb * sizeof(float4)), A * max_nb * sizeof(float4));
  ALLOC(cudaMalloc(&g->d_cand_n, A * sizeof(int)), A * sizeof(int));
  ALLOC(cudaMalloc(&g->d_cand_j, A * max_nb * sizeof(int)), A * max_nb * sizeof(int));
  ALLOC(cudaMalloc(&g->d_count, (MLFF_MAX_ELEMENTS + 1) * sizeof(int)), (MLFF_MAX_ELEMENTS + 1) * sizeof(int));
  ALLOC(cudaMalloc(&g->d_offset, (MLFF_MAX_ELEMENTS + 1) * sizeof(int)), (MLFF_MAX_ELEMENTS + 1) * sizeof(int));
  ALLOC(cudaMalloc(&g->d_fill, (MLFF_MAX_ELEMENTS + 1) * sizeof(int)), (MLFF_MAX_ELEMENTS + 1) * sizeof(int));
  ALLOC(cudaMalloc(&g->d_row, A * sizeof(int)), A * sizeof(int));
  ALLOC(cudaMalloc(&g->d_row_atom, A * sizeof(int)), A * sizeof(int));
  ALLOC(cudaMalloc(&g->d_G, A * D * sizeof(float)), A * D * sizeof(float));
  ALLOC(cudaMalloc(&g->d_dG, A * D * sizeof(float)), A * D * sizeof(float));
  for (int l = 1; l < g->n_layers; l++) {
    ALLOC(cudaMalloc(&g->d_Z[l], A * g->sizes[l] * sizeof(float)), A * g->sizes[l] * sizeof(float));
    ALLOC(cudaMalloc(&g->d_A[l], A * g->sizes[l] * sizeof(float)), A * g->sizes[l] * sizeof(float));
  }
  ALLOC(cudaMalloc(&g->d_bufA, A * g->widest * sizeof(float)), A * g->widest * sizeof(float));
  ALLOC(cudaMalloc(&g->d_bufB, A * g->widest * sizeof(float)), A * g->widest * sizeof(float));
  size_t out_cap = out_capacity(A);
  ALLOC(cudaMalloc(&g->d_out, out_cap), out_cap);
  ALLOC(cudaMallocHost(&g->h_stage, stage_cap), stage_cap);
  ALLOC(cudaMallocHost(&g->h_out, out_cap), out_cap);
  ALLOC(cudaMallocHost(&g->h_tagged, 2 * out_cap), 2 * out_cap);
  memset(g->h_tagged, 0, 2 * out_cap); /* no entry of a step yet */
  ALLOC(cudaMalloc(&g->d_xref, A * 3 * sizeof(double)), A * 3 * sizeof(double));
  ALLOC(cudaMalloc(&g->d_delta, A * 3 * sizeof(float)), A * 3 * sizeof(float));
  ALLOC(cudaMallocHost(&g->h_delta, A * 3 * sizeof(float)), A * 3 * sizeof(float));
  ALLOC(cudaMemset(g->d_out, 0, out_cap), out_cap); /* zero between steps from here on */
  if (cudaHostGetDevicePointer((void **)&g->h_stage_dev, g->h_stage, 0) != cudaSuccess ||
      cudaHostGetDevicePointer((void **)&g->h_out_dev, g->h_out, 0) != cudaSuccess ||
      cudaHostGetDevicePointer((void **)&g->h_tagged_dev, g->h_tagged, 0) != cudaSuccess) {
    cudaGetLastError();
    return mlff_fail(MLFF_ERR_DEVICE, "the GPU cannot address pinned host memory (no unified "
                     "addressing?): the one-kernel step needs it");
  }
  g->cap_atoms = atoms;
  g->cap_cells = cells;
  g->max_nb = max_nb;
#undef ALLOC
  return MLFF_OK;
}

static size_t fused_smem(const mlff_gpu *g, int resident);
static size_t fused_scratch(const mlff_gpu *g);

static int g_widest_hidden(const mlff_network *n) {
  int w = 0;
  for (int l = 1; l < n->n_layers; l++) w = n->sizes[l] > w ? n->sizes[l] : w;
  return w;
}

/* A kernel's dynamic shared memory limit is one per process and device, not per calc: raise it
 * to the device's maximum (once `need` fits), so that a calc of a smaller model cannot lower it
 * under another's launches (it did: "invalid argument" at the next capture). */
static cudaError_t set_smem_limit(const void *kernel, size_t need, int device) {
  int max_optin = 0;
  cudaError_t e = cudaDeviceGetAttribute(&max_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
  if (e != cudaSuccess) return e;
  cudaFuncAttributes fa; /* the limit counts the kernel's static shared memory too */
  if ((e = cudaFuncGetAttributes(&fa, kernel)) != cudaSuccess) return e;
  const int limit = max_optin - (int)fa.sharedSizeBytes;
  if (need > (size_t)limit) return cudaErrorInvalidValue;
  e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, limit);
  if (e != cudaSuccess) cudaGetLastError(); /* not left for a later check to find */
  return e;
}

/* Make the context's device current for this host thread (cheap when it already is). */
static cudaError_t use_device(const mlff_gpu *g) {
  int cur = -1;
  if (cudaGetDevice(&cur) == cudaSuccess && cur == g->device) return cudaSuccess;
  return cudaSetDevice(g->device);
}

extern "C" mlff_status mlff_gpu_create(const mlff_model *m, int fp16, int device, int n_threads,
                                       int shared_gpu, mlff_gpu **out) {
  *out = nullptr;
  const int n_devices = mlff_gpu_device_count();
  if (n_devices < 1)
    return mlff_fail(MLFF_ERR_DEVICE, "no CUDA device is visible (check nvidia-smi and "
                                      "CUDA_VISIBLE_DEVICES), use device cpu");
  if (device < 0 || device >= n_devices)
    return mlff_fail(MLFF_ERR_ARGUMENT, "GPU %d asked for, but %d CUDA device(s) are visible "
                     "(ordinals 0-%d; check CUDA_VISIBLE_DEVICES)", device, n_devices, n_devices - 1);
  if (cudaSetDevice(device) != cudaSuccess) {
    cudaGetLastError();
    return mlff_fail(MLFF_ERR_DEVICE, "cannot use CUDA device %d (is it in exclusive mode and "
                     "taken by another process?)", device);
  }
  const mlff_network *n0 = &m->net[0];
  for (int e = 1; e < m->n_elements; e++) {
    if (m->net[e].n_layers != n0->n_layers)
      return mlff_fail(MLFF_ERR_UNSUPPORTED, "GPU path: all elements' networks must have the same layer sizes");
    for (int l = 0; l <= n0->n_layers; l++)
      if (m->net[e].sizes[l] != n0->sizes[l])
        return mlff_fail(MLFF_ERR_UNSUPPORTED, "GPU path: all elements' networks must have the same layer sizes");
  }
  if (m->n_features > MAX_D || n0->n_layers < 2 || g_widest_hidden(n0) > 1024)
    return mlff_fail(MLFF_ERR_UNSUPPORTED, "GPU path: needs D <= %d, at least one hidden layer, widths <= 1024", MAX_D);
  mlff_gpu *g = (mlff_gpu *)calloc(1, sizeof *g);
  if (!g) return mlff_fail(MLFF_ERR_NOMEM, "out of memory");
  g->img_local = -1; /* no images made yet */
  g->n_elements = m->n_elements;
  g->n_layers = n0->n_layers;
  g->device = device;
  g->n_threads = n_threads > 0 ? n_threads : 1;
  if (cudaDeviceGetAttribute(&g->n_sm, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) {
    cudaGetLastError();
    g->n_sm = 1;
  }
  g->widest = 0;
  for (int l = 0; l <= g->n_layers; l++) {
    g->sizes[l] = n0->sizes[l];
    g->widest = g->sizes[l] > g->widest ? g->sizes[l] : g->widest;
  }
  g->fp16 = fp16;
  g->act = m->activation;
  g->scale = (float)m->scale;
  for (int e = 0; e < m->n_elements; e++) g->e0[e] = (float)m->e0[e];
  const mlff_descriptor_params *p = &m->desc;
  AevParams &P = g->aev;
  P.Rcr = (float)p->Rcr; P.Rca = (float)p->Rca; P.etaR = (float)p->etaR; P.etaA = (float)p->etaA;
  P.zeta = (float)p->zeta;
  P.nR = p->n_muR; P.nA = p->n_muA; P.nZ = p->n_thetaZ; P.nS = m->n_elements;
  P.n_radial = P.nS * P.nR;
  P.D = m->n_features;
  double zm1 = p->zeta - 1.0;
  P.zeta_m1 = (zm1 >= 0 && zm1 <= 64 && zm1 == floor(zm1)) ? (int)zm1 : -1;
  for (int k = 0; k < P.nR; k++) P.muR[k] = (float)p->muR[k];
  for (int k = 0; k < P.nA; k++) P.muA[k] = (float)p->muA[k];
  for (int z = 0; z < P.nZ; z++) {
    P.cosZ[z] = (float)cos(p->thetaZ[z]);
    P.sinZ[z] = (float)sin(p->thetaZ[z]);
  }
  g->rc = (float)fmax(p->Rcr, p->Rca);
  g->profile = getenv("MLFF_GPU_PROFILE") && atoi(getenv("MLFF_GPU_PROFILE")) > 0;
  g->no_graph = getenv("MLFF_GPU_GRAPH") && !strcmp(getenv("MLFF_GPU_GRAPH"), "0");
  g->no_reuse = getenv("MLFF_GPU_LIST_REUSE") && !strcmp(getenv("MLFF_GPU_LIST_REUSE"), "0");
  g->max_nb = 96;
  mlff_status st = MLFF_OK;
  if (cudaStreamCreateWithFlags(&g->stream, cudaStreamNonBlocking) != cudaSuccess) {
    free(g);
    return mlff_fail(MLFF_ERR_DEVICE, "cannot create a CUDA stream");
  }
  for (int e = 0; e < m->n_elements && !st; e++)
    for (int l = 0; l < g->n_layers && !st; l++) {
      size_t nw = (size_t)g->sizes[l + 1] * g->sizes[l], nb = g->sizes[l + 1];
      if (cudaMalloc(&g->net[e].W[l], nw * sizeof(float)) != cudaSuccess ||
          cudaMalloc(&g->net[e].b[l], nb * sizeof(float)) != cudaSuccess ||
          cudaMemcpy(g->net[e].W[l], m->net[e].W[l], nw * sizeof(float), cudaMemcpyHostToDevice) != cudaSuccess ||
          cudaMemcpy(g->net[e].b[l], m->net[e].b[l], nb * sizeof(float), cudaMemcpyHostToDevice) != cudaSuccess)
        st = mlff_fail(MLFF_ERR_DEVICE, "cannot upload the network to the GPU");
    }
  for (int e = 0; e < m->n_elements; e++) g->bout[e] = m->net[e].b[g->n_layers - 1][0];
  /* the shipped shape: the network in one kernel, activations in registers (FP16, or FP32 as
   * three TF32 products); MLFF_GPU_MLP_REGS=0 takes the general kernels instead */
  const char *regs = getenv("MLFF_GPU_MLP_REGS");
  g->mlp_regs = g->n_layers == 4 && !(regs && !strcmp(regs, "0"));
  for (int l = 0; l < 4 && g->mlp_regs; l++) g->mlp_regs = g->sizes[l] == mlpr_shape[l];
  if (g->mlp_regs && set_smem_limit(fp16 ? (const void *)k_mlp_fp16_regs<MLPR_SHAPE>
                                         : (const void *)k_mlp_fp32_regs<MLPR_SHAPE>,
                                    mlpr_smem_bytes(fp16 ? 2 : 4), device) != cudaSuccess)
    g->mlp_regs = 0;
  /* FP16: the whole network in one kernel where D and the hidden widths are multiples of 16
   * (tensor-core tiles) and a block's warps fit in shared memory; weights rounded to half once */
  if (!st && fp16) {
    for (int l = 0; l < g->n_layers && !st; l++)
      if (g->sizes[l] % 16)
        st = mlff_fail(MLFF_ERR_UNSUPPORTED, "fp16 yes runs the network on tensor-core tiles of 16: "
                       "the descriptor length and hidden widths must be multiples of 16, and %s is %d "
                       "(use fp16 no)", l ? "a hidden width" : "the descriptor length", g->sizes[l]);
    /* the element's weights in shared memory where they fit beside at least two warps (1 block
     * per SM, up to MLP_MAX_WARPS warps); else from L2, a warp per block */
    int max_optin = 0;
    cudaDeviceGetAttribute(&max_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
    const size_t per_warp = (size_t)mlp_words_per_warp(g->sizes, g->n_layers) * sizeof(float);
    const size_t weights = (size_t)mlp_weight_words(g->sizes, g->n_layers) * sizeof(float);
    g->mlp_weights_shared = (size_t)max_optin >= weights + 2 * per_warp;
    g->mlp_warps = g->mlp_weights_shared ? (int)((max_optin - weights) / per_warp) : 1;
    if (g->mlp_warps > MLP_MAX_WARPS) g->mlp_warps = MLP_MAX_WARPS;
    g->mlp_smem = (g->mlp_weights_shared ? weights : 0) + g->mlp_warps * per_warp;
    if (!st && set_smem_limit((const void *)k_mlp_fp16, g->mlp_smem, device) != cudaSuccess)
      st = mlff_fail(MLFF_ERR_UNSUPPORTED, "fp16 yes: the FP16 network needs %zu bytes of shared "
                     "memory per block, more than this GPU gives (use fp16 no)", g->mlp_smem);
    if (!st) {
      for (int e = 0; e < m->n_elements && !st; e++) {
        g->bout[e] = m->net[e].b[g->n_layers - 1][0];
        for (int l = 0; l < g->n_layers - 1 && !st; l++) {
          size_t nw = (size_t)g->sizes[l + 1] * g->sizes[l];
          __half *h = (__half *)malloc(nw * sizeof(__half));
          if (!h) { st = mlff_fail(MLFF_ERR_NOMEM, "out of memory"); break; }
          for (size_t k = 0; k < nw; k++) h[k] = __float2half((float)m->net[e].W[l][k]);
          if (cudaMalloc(&g->net[e].Wh[l], nw * sizeof(__half)) != cudaSuccess ||
              cudaMemcpy(g->net[e].Wh[l], h, nw * sizeof(__half), cudaMemcpyHostToDevice) != cudaSuccess)
            st = mlff_fail(MLFF_ERR_DEVICE, "cannot upload the FP16 network to the GPU");
          free(h);
        }
      }
    }
  }
  if (!st && (cudaMalloc(&g->d_e0, MLFF_MAX_ELEMENTS * sizeof(float)) != cudaSuccess ||
              cudaMemcpy(g->d_e0, g->e0, MLFF_MAX_ELEMENTS * sizeof(float), cudaMemcpyHostToDevice) != cudaSuccess))
    st = mlff_fail(MLFF_ERR_DEVICE, "cannot upload the energy offsets to the GPU");
  /* the descriptor kernels keep a row and a neighbour list per warp in shared memory */
  int fwd_words = aev_fwd_words(MAX_D, MAX_NB_LIMIT),
      bwd_words = aev_bwd_words(MAX_D + AEV_BLOCK_PAD * MLFF_MAX_ELEMENTS * (MLFF_MAX_ELEMENTS + 1) / 2, MAX_NB_LIMIT);
  int smem = WARPS_PER_BLOCK * (fwd_words > bwd_words ? fwd_words : bwd_words) * (int)sizeof(float);
  if (!st && (set_smem_limit((const void *)k_aev_forward, smem, device) != cudaSuccess ||
              set_smem_limit((const void *)k_aev_backward<0, 0, 0>, smem, device) != cudaSuccess ||
              set_smem_limit((const void *)k_aev_backward<16, 4, 8>, smem, device) != cudaSuccess))
    st = mlff_fail(MLFF_ERR_DEVICE, "this GPU cannot give %d bytes of shared memory to a block", smem);
  if (!st && set_smem_limit((const void *)k_fused, fused_smem(g, 0), device) != cudaSuccess)
    st = mlff_fail(MLFF_ERR_DEVICE, "this GPU cannot give %zu bytes of shared memory to a block", fused_smem(g, 0));
  /* the resident step: where the device launches cooperative grids and a block holds every
   * hidden layer of one element (ANI-1x widths 128, 64, 64: 116 KB); else the graph path */
  int coop = 0;
  cudaDeviceGetAttribute(&coop, cudaDevAttrCooperativeLaunch, device);
  g->resident_ok = coop && set_smem_limit((const void *)k_fused_resident, fused_smem(g, 1), device) == cudaSuccess;
  cudaGetLastError();
  g->shared_gpu = shared_gpu;
  g->no_resident = getenv("MLFF_GPU_RESIDENT") && !strcmp(getenv("MLFF_GPU_RESIDENT"), "0");
  if (!st && (cudaHostAlloc((void **)&g->h_mail, 256, cudaHostAllocMapped) != cudaSuccess ||
              cudaHostGetDevicePointer((void **)&g->h_mail_dev, g->h_mail, 0) != cudaSuccess ||
              cudaMalloc(&g->d_bcast, sizeof(int)) != cudaSuccess ||
              cudaMemset(g->d_bcast, 0, sizeof(int)) != cudaSuccess)) {
    cudaGetLastError();
    st = mlff_fail(MLFF_ERR_DEVICE, "cannot allocate the resident step's mailbox in pinned memory");
  }
  if (!st) memset(g->h_mail, 0, 256);
  if (!st) st = reserve(g, 256, 64, g->max_nb);
  if (!st && g->profile && (cudaMalloc(&g->d_phase, 2 * FUSED_PHASES * sizeof(unsigned long long)) != cudaSuccess ||
                            cudaMemset(g->d_phase, 0, 2 * FUSED_PHASES * sizeof(unsigned long long)) != cudaSuccess))
    st = mlff_fail(MLFF_ERR_DEVICE, "cannot allocate the profile's phase clocks");
  if (st) {
    mlff_gpu_free(g);
    return st;
  }
  *out = g;
  return MLFF_OK;
}

extern "C" void mlff_gpu_free(mlff_gpu *g) {
  if (!g) return;
  use_device(g);
  drop_graphs(g);
  free_buffers(g);
  for (int k = 0; k < 32; k++)
    if (g->ev[k]) cudaEventDestroy(g->ev[k]);
  for (int e = 0; e < MLFF_MAX_ELEMENTS; e++)
    for (int l = 0; l < MLFF_MAX_LAYERS; l++) {
      cudaFree(g->net[e].W[l]);
      cudaFree(g->net[e].b[l]);
      cudaFree(g->net[e].Wh[l]);
    }
  cudaFree(g->d_e0);
  cudaFree(g->d_img);
  cudaFree(g->d_cell);
  cudaFreeHost(g->h_img);
  cudaFreeHost(g->h_cell);
  free(g->h_all);
  free(g->h_all_sp);
  free(g->h_img_off);
  cudaFree(g->d_phase);
  cudaFree(g->d_bcast);
  cudaFreeHost(g->h_mail);
  if (g->stream) cudaStreamDestroy(g->stream);
  free(g);
}

extern "C" void mlff_gpu_stats(const mlff_gpu *g, long *replays, long *captures) {
  *replays = g->replays;
  *captures = g->captures;
}

static NetArgs net_args(const mlff_gpu *g, int n_local) {
  NetArgs N;
  memset(&N, 0, sizeof N);
  /* Split dot products only while the blocks (atoms) leave most SMs idle: on an H100 one
   * benzene (12 blocks) gains, 16 benzenes (192 blocks) lose 66 -> 73 us per step. */
  N.split = 2 * n_local <= g->n_sm;
  N.n_layers = g->n_layers;
  for (int l = 1; l < g->n_layers; l++) N.hidden_total += 2 * g->sizes[l];
  for (int l = 1; l < g->n_layers - 1; l++) N.woff[l] = N.woff[l - 1] + g->sizes[l] * (g->sizes[l - 1] + 1);
  const int Lh = g->n_layers - 1; /* hidden layers */
  N.boff[0] = N.woff[Lh - 1] + g->sizes[Lh] * (g->sizes[Lh - 1] + 1);
  for (int l = 1; l < Lh; l++) N.boff[l] = N.boff[l - 1] + g->sizes[l];
  N.ooff = N.boff[Lh - 1] + g->sizes[Lh];
  N.scratch = (int)fused_scratch(g);
  for (int l = 0; l <= g->n_layers; l++) N.sizes[l] = g->sizes[l];
  N.act = g->act;
  N.fp16 = g->fp16;
  N.scale = g->scale;
  N.phase = g->d_phase;
  for (int e = 0; e < g->n_elements; e++) {
    N.e0[e] = g->e0[e];
    for (int l = 0; l < g->n_layers; l++) {
      N.W[e][l] = g->net[e].W[l];
      N.b[e][l] = g->net[e].b[l];
    }
  }
  return N;
}

/* One atom's scratch in fused_atom (floats, a multiple of 4): neighbours, descriptor, hidden
 * activations and their derivatives, two backward buffers. k_fused's shared memory: one scratch,
 * then one layer's weights; the resident step's: two (a block's halves take two atoms at once),
 * every hidden layer's weights, and the staged positions (at resident_stage_off floats). */
static size_t fused_scratch(const mlff_gpu *g) {
  size_t hidden = 0;
  for (int l = 1; l < g->n_layers; l++) hidden += 2 * g->sizes[l];
  const size_t words = FUSED_MAX_NB * (sizeof(float4) + 3 * sizeof(int) + 3 * sizeof(float)) / sizeof(float) +
                       g->aev.D + hidden + 2 * 1024;
  return (words + 3) & ~(size_t)3;
}
static size_t resident_stage_off(const mlff_gpu *g) {
  size_t wall = g->sizes[g->n_layers - 1] + 1; /* the output unit */
  for (int l = 1; l < g->n_layers; l++)
    wall += (size_t)g->sizes[l] * (g->sizes[l - 1] + 2); /* weights (rows padded) and biases */
  return (2 * fused_scratch(g) + wall + 3) & ~(size_t)3;
}
static size_t resident_stage_bytes(int n_total) {
  return (sizeof(StepHeader) + (size_t)n_total * (sizeof(float4) + 3 * sizeof(double)) + 15) & ~(size_t)15;
}
static size_t fused_smem(const mlff_gpu *g, int resident) {
  if (resident) return resident_stage_off(g) * sizeof(float) + resident_stage_bytes(RESIDENT_MAX_ATOMS);
  size_t wmax = 0;
  for (int l = 0; l < g->n_layers - 1; l++) {
    size_t w = (size_t)g->sizes[l + 1] * (g->sizes[l] + 1);
    wmax = w > wmax ? w : wmax;
  }
  return (fused_scratch(g) + wmax) * sizeof(float);
}

static LayerArgs layer_args(const mlff_gpu *g, int l) {
  LayerArgs L;
  memset(&L, 0, sizeof L);
  for (int e = 0; e < g->n_elements; e++) {
    L.W[e] = g->net[e].W[l];
    L.b[e] = g->net[e].b[l];
  }
  return L;
}

static void set_layout(mlff_gpu *g, int n_local, int n_total, int want_vatom) {
  size_t f = 64, e = f + 3 * (size_t)n_total * sizeof(float), v = e + (size_t)n_local * sizeof(float);
  g->out_bytes = v + (want_vatom ? 6 * (size_t)n_total * sizeof(float) : 0);
  g->d_sums = (double *)g->d_out;
  g->d_overflow = (int *)(g->d_out + 56);
  g->d_ticket = (int *)(g->d_out + 60);
  g->d_force = (float *)(g->d_out + f);
  g->d_eatom = (float *)(g->d_out + e);
  g->d_vatom = (float *)(g->d_out + v);
  g->h_sums = (double *)g->h_out;
  g->h_overflow = (int *)(g->h_out + 56);
  g->h_force = (float *)(g->h_out + f);
  g->h_eatom = (float *)(g->h_out + e);
  g->h_vatom = (float *)(g->h_out + v);
}

static MlpArgs mlp_args(const mlff_gpu *g) {
  MlpArgs M;
  memset(&M, 0, sizeof M);
  M.n_layers = g->n_layers;
  for (int l = 0; l <= g->n_layers; l++) M.sizes[l] = g->sizes[l];
  M.act = g->act;
  M.weights_shared = g->mlp_weights_shared;
  M.scale = g->scale;
  for (int e = 0; e < g->n_elements; e++) {
    M.e0[e] = g->e0[e];
    for (int l = 0; l < g->n_layers - 1; l++) {
      M.Wh[e][l] = g->net[e].Wh[l];
      M.W[e][l] = g->net[e].W[l];
      M.b[e][l] = g->net[e].b[l];
    }
    M.wout[e] = g->net[e].W[g->n_layers - 1];
    M.bout[e] = g->bout[e];
  }
  return M;
}

/* How a general-path step gets its neighbour list: a new one within the cutoff; a kept one
 * built (candidates within cutoff + skin, then refined); the kept one refined (no cells, no
 * neighbour search, rows by element as before: the atoms are the same). */
enum { LIST_NEW = 0, LIST_BUILD = 1, LIST_REUSE = 2 };

/* The whole step on g->stream (captured into a graph by the caller). */
static void enqueue_step(mlff_gpu *g, int n_local, int n_total, int want_vatom, int mode,
                         float skin) {
  cudaStream_t s = g->stream;
  const AevParams &P = g->aev;
  set_layout(g, n_local, n_total, want_vatom);
  mark(g, "start");
  /* d_out is zero between steps (zeroed when allocated, and by every step after its copy) */
  if (g->fused && n_total <= ZERO_COPY_ATOMS) {
    k_fused<<<n_local, FUSED_THREADS, fused_smem(g, 0), s>>>(
        P, net_args(g, n_local), g->h_stage_dev, n_total, g->rc, g->d_force, g->d_eatom,
        want_vatom ? g->d_vatom : nullptr, g->d_sums, g->d_overflow, (int *)g->d_out,
        (int *)g->h_out_dev, (int)(g->out_bytes / 4), g->d_ticket);
    mark(g, "fused step (positions in, results out)");
    return;
  }
  if (g->fused) { /* header, float4 and double positions, staged on the host */
    const size_t stage_bytes = sizeof(StepHeader) + (size_t)n_total * (sizeof(float4) + 3 * sizeof(double));
    cudaMemcpyAsync(g->d_stage, g->h_stage, stage_bytes, cudaMemcpyHostToDevice, s);
    mark(g, "positions in");
    k_fused<<<n_local, FUSED_THREADS, fused_smem(g, 0), s>>>(
        P, net_args(g, n_local), g->d_stage, n_total, g->rc, g->d_force, g->d_eatom,
        want_vatom ? g->d_vatom : nullptr, g->d_sums, g->d_overflow, nullptr, nullptr, 0, nullptr);
    mark(g, "fused step");
    cudaMemcpyAsync(g->h_out, g->d_out, g->out_bytes, cudaMemcpyDeviceToHost, s);
    cudaMemsetAsync(g->d_out, 0, g->out_bytes, s);
    mark(g, "results out");
    return;
  }
  /* the header, then the doubles and species (the float4 positions are made here); on the kept
   * list the moves since its build alone (the header and the species in the float4s stay) */
  const size_t xd_off = sizeof(StepHeader) + (size_t)n_total * sizeof(float4);
  const long n3 = 3L * n_total;
  if (g->n_img) /* the current cell (k_images) */
    cudaMemcpyAsync(g->d_cell, g->h_cell, 9 * sizeof(double), cudaMemcpyHostToDevice, s);
  if (mode == LIST_REUSE) {
    const long m3 = 3L * g->moving;
    cudaMemcpyAsync(g->d_delta, g->h_delta, m3 * sizeof(float), cudaMemcpyHostToDevice, s);
    k_moved<<<(unsigned)((m3 + 255) / 256), 256, 0, s>>>((double *)(g->d_stage + xd_off), g->d_xref,
                                                       g->d_delta, m3);
    if (g->n_img)
      k_images<<<(g->n_img + 255) / 256, 256, 0, s>>>((double *)(g->d_stage + xd_off), n_local,
                                                      g->n_img, g->d_img, g->d_cell);
  } else {
    if (g->n_img)
      cudaMemcpyAsync(g->d_img, g->h_img, g->n_img * sizeof(int2), cudaMemcpyHostToDevice, s);
    cudaMemcpyAsync(g->d_stage, g->h_stage, sizeof(StepHeader), cudaMemcpyHostToDevice, s);
    cudaMemcpyAsync(g->d_stage + xd_off, g->h_stage + xd_off,
                    (size_t)n_total * (3 * sizeof(double) + sizeof(int)), cudaMemcpyHostToDevice, s);
    k_stage<<<(n_total + 255) / 256, 256, 0, s>>>(g->d_stage, n_total);
    if (mode == LIST_BUILD)
      cudaMemcpyAsync(g->d_xref, g->d_stage + xd_off, n3 * sizeof(double), cudaMemcpyDeviceToDevice, s);
  }
  mark(g, "positions in");
  int tb = 128, bt = (n_total + tb - 1) / tb, bl = (n_local + tb - 1) / tb;
  const int nbw = (n_local + NEIGHBOR_WARPS - 1) / NEIGHBOR_WARPS;
  if (mode != LIST_REUSE) {
    cudaMemsetAsync(g->d_cell_count, 0, (g->cap_cells + 1) * sizeof(int), s);
    cudaMemsetAsync(g->d_cell_fill, 0, (g->cap_cells + 1) * sizeof(int), s);
    k_cells<<<bt, tb, 0, s>>>(g->d_stage, n_total, g->d_cell_of, g->d_cell_count);
    cub::DeviceScan::ExclusiveSum(g->d_scan_tmp, g->scan_tmp_bytes, g->d_cell_count, g->d_cell_start,
                                  g->cap_cells + 1, s);
    k_cell_fill<<<bt, tb, 0, s>>>(n_total, g->d_cell_of, g->d_cell_start, g->d_cell_fill, g->d_cell_atoms);
    if (mode == LIST_NEW)
      k_neighbors<<<nbw, 32 * NEIGHBOR_WARPS, 0, s>>>(
          g->d_stage, n_local, g->rc, g->d_cell_of, g->d_cell_start, g->d_cell_atoms, g->max_nb,
          g->d_nbr_n, g->d_nbr_j, g->d_nbr_d, g->d_overflow);
    else
      k_neighbors<<<nbw, 32 * NEIGHBOR_WARPS, 0, s>>>(
          g->d_stage, n_local, g->rc + skin, g->d_cell_of, g->d_cell_start, g->d_cell_atoms,
          g->max_nb, g->d_cand_n, g->d_cand_j, nullptr, g->d_overflow);
  }
  if (mode != LIST_NEW)
    k_refine<<<nbw, 32 * NEIGHBOR_WARPS, 0, s>>>(g->d_stage, n_local, g->rc, g->max_nb, g->d_cand_n,
                                                 g->d_cand_j, g->d_nbr_n, g->d_nbr_j, g->d_nbr_d);
  mark(g, mode == LIST_REUSE ? "kept neighbours refined" : "cells+neighbours");
  if (mode != LIST_REUSE) { /* the same atoms in the same order keep their rows */
    cudaMemsetAsync(g->d_count, 0, (MLFF_MAX_ELEMENTS + 1) * sizeof(int), s);
    k_count_species<<<bl, tb, 0, s>>>(g->d_stage, n_local, g->d_count);
    k_offsets<<<1, 1, 0, s>>>(g->n_elements, g->d_count, g->d_offset, g->d_fill);
    k_rows<<<bl, tb, 0, s>>>(g->d_stage, n_local, g->d_offset, g->d_fill, g->d_row, g->d_row_atom);
  }
  int wb = (n_local + WARPS_PER_BLOCK - 1) / WARPS_PER_BLOCK;
  size_t shf = WARPS_PER_BLOCK * aev_fwd_words(P.D, g->max_nb) * sizeof(float);
  mark(g, "rows by element");
  k_aev_forward<<<wb, 32 * WARPS_PER_BLOCK, shf, s>>>(P, g->d_stage, n_local, g->d_row, g->max_nb,
                                                     g->d_nbr_n, g->d_nbr_j, g->d_nbr_d, g->d_G);
  mark(g, "descriptor forward");
  if (g->fp16) { /* the whole FP16 network in one kernel */
    /* with shared weights, one block per SM and element that takes tiles in turn (each block
     * copies its weights once) */
    const int warps = g->mlp_regs ? MLPR_WARPS : g->mlp_warps;
    int tiles = (n_local + 16 * warps - 1) / (16 * warps);
    if ((g->mlp_regs || g->mlp_weights_shared) && tiles > g->n_sm) tiles = g->n_sm;
    dim3 grid(tiles, g->n_elements);
    if (g->mlp_regs)
      k_mlp_fp16_regs<MLPR_SHAPE><<<grid, 32 * MLPR_WARPS, mlpr_smem_bytes(2), s>>>(
          mlp_args(g), g->d_offset, g->d_row_atom, g->d_G, g->d_dG, g->d_eatom, g->d_sums);
    else
      k_mlp_fp16<<<grid, 32 * warps, g->mlp_smem, s>>>(mlp_args(g), g->d_offset, g->d_row_atom,
                                                       g->d_G, g->d_dG, g->d_eatom, g->d_sums);
    mark(g, "network fwd+bwd");
  } else if (g->mlp_regs) { /* the FP32 network of the shipped shape in one kernel */
    int tiles = (n_local + 16 * MLPR_WARPS - 1) / (16 * MLPR_WARPS);
    dim3 grid(tiles < g->n_sm ? tiles : g->n_sm, g->n_elements);
    k_mlp_fp32_regs<MLPR_SHAPE><<<grid, 32 * MLPR_WARPS, mlpr_smem_bytes(4), s>>>(
        mlp_args(g), g->d_offset, g->d_row_atom, g->d_G, g->d_dG, g->d_eatom, g->d_sums);
    mark(g, "network fwd+bwd");
  } else {
  /* network: hidden layers forward */
  const float *A = g->d_G;
  for (int l = 1; l < g->n_layers; l++) {
    int K = g->sizes[l - 1], N = g->sizes[l];
    LayerArgs La = layer_args(g, l - 1);
    dim3 grid((N + TN - 1) / TN, (n_local + TM - 1) / TM, g->n_elements);
    k_gemm<true><<<grid, 256, 0, s>>>(La, g->d_offset, A, K, N, g->d_A[l], g->d_Z[l], nullptr, g->act);
    A = g->d_A[l];
  }
  int Lh = g->n_layers - 1, last = g->sizes[Lh];
  LayerArgs Lo = layer_args(g, g->n_layers - 1);
  k_output<<<(n_local + 4 * OUTPUT_ROWS - 1) / (4 * OUTPUT_ROWS), 128, 0, s>>>(Lo, g->d_offset, g->d_row_atom, n_local, A,
                                                g->d_Z[Lh], last, g->scale, g->d_e0, g->n_elements,
                                                g->d_bufA, g->d_eatom, g->d_sums);
  /* backward through the hidden layers: dA_{l-1} = dZ_l W_l (times act' of layer l-1) */
  float *dZ = g->d_bufA, *other = g->d_bufB;
  for (int l = Lh; l >= 1; l--) {
    int K = g->sizes[l] /* rows of W_{l-1} = out */, N = g->sizes[l - 1];
    LayerArgs La = layer_args(g, l - 1);
    float *dst = l == 1 ? g->d_dG : other;
    const float *mul = l == 1 ? nullptr : g->d_Z[l - 1];
    dim3 grid((N + TN - 1) / TN, (n_local + TM - 1) / TM, g->n_elements);
    k_gemm<false><<<grid, 256, 0, s>>>(La, g->d_offset, dZ, K, N, dst, nullptr, mul, g->act);
    other = dZ;
    dZ = dst;
  }
  mark(g, "network fwd+bwd");
  }
  size_t shb = WARPS_PER_BLOCK * aev_bwd_words(aev_bwd_dG_words(P), g->max_nb) * sizeof(float);
  /* ANI-1x's counts at compile time (terms in registers); other models at run time */
  auto *bwd = ani1x_counts(P) ? k_aev_backward<16, 4, 8> : k_aev_backward<0, 0, 0>;
  const int wb_bwd = wb < BWD_BLOCKS_PER_SM * g->n_sm ? wb : BWD_BLOCKS_PER_SM * g->n_sm;
  bwd<<<wb_bwd, 32 * WARPS_PER_BLOCK, shb, s>>>(P, g->d_stage, n_local, g->d_row, g->max_nb,
                                                      g->d_nbr_n, g->d_nbr_j, g->d_nbr_d, g->d_dG,
                                                      g->d_force, want_vatom ? g->d_vatom : nullptr,
                                                      g->d_sums);
  if (g->n_img)
    k_fold<<<(g->n_img + 255) / 256, 256, 0, s>>>(n_local, g->n_img, g->d_img, g->d_force,
                                                  want_vatom ? g->d_vatom : nullptr);
  mark(g, "descriptor backward+forces");
  cudaMemcpyAsync(g->h_out, g->d_out, g->out_bytes, cudaMemcpyDeviceToHost, s);
  cudaMemsetAsync(g->d_out, 0, g->out_bytes, s);
  mark(g, "results out");
}

/* MLFF_GPU_PROFILE: the phases of the last one-kernel step, as block 0 clocked them */
static void print_phases(mlff_gpu *g, const char *what) {
  unsigned long long ph[2 * FUSED_PHASES];
  if (cudaMemcpy(ph, g->d_phase, sizeof ph, cudaMemcpyDeviceToHost) != cudaSuccess) {
    cudaGetLastError();
    return;
  }
  fprintf(stderr, "mlff gpu %s phases (block 0):", what);
  int prev = -1;
  for (int q = 0; q < FUSED_PHASES; q++) {
    const int k = fused_phase_order[q];
    if (!ph[2 * k + 1]) continue; /* not on this path */
    if (prev >= 0)
      fprintf(stderr, " %s %.2f us;", fused_phase_name[k], 1e-3 * (double)(ph[2 * k + 1] - ph[2 * prev + 1]));
    prev = k;
  }
  const double ns = (double)(ph[2 * 6 + 1] - ph[1]);
  fprintf(stderr, " SM clock %.0f MHz\n", ns > 0 ? 1e3 * (double)(ph[2 * 6] - ph[0]) / ns : 0.0);
}

/* How long a resident step waits for the next call before it returns; how long the host
 * waits for a step before it gives up. */
#define RESIDENT_IDLE_S 2e-3
#define RESIDENT_TIMEOUT_S 60.0

static mlff_status launch_resident(mlff_gpu *g, int n_local, int n_total, int want_vatom) {
  auto &R = g->res;
  ResidentArgs A;
  A.stage_host = (const int4 *)g->h_stage_dev;
  A.stage_dev = (int4 *)g->d_stage;
  A.stage_words = (int)(resident_stage_bytes(n_total) / 16);
  A.go = g->h_mail_dev;
  A.bcast = g->d_bcast;
  A.seq0 = R.done;
  A.epoch = ++R.epoch;
  A.idle_ns = (long long)(RESIDENT_IDLE_S * 1e9);
  A.stage_off = (int)resident_stage_off(g);
  NetArgs N = net_args(g, n_local);
  /* a resident block is alone on its SM: threads a whole dot product would leave idle have
   * nothing else to run, whatever the number of atoms */
  N.split = 1;
  float *vatom = want_vatom ? g->d_vatom : nullptr;
  int *out_dev = (int *)g->d_out, out_words = (int)(g->out_bytes / 4);
  unsigned long long *out_host = g->h_tagged_dev;
  void *args[] = {&g->aev, &N, &A, &n_local, &n_total, &g->rc, &g->d_force, &g->d_eatom, &vatom,
                  &g->d_sums, &g->d_overflow, &out_dev, &out_host, &out_words, &g->d_ticket};
  const int blocks = n_local < g->n_sm ? n_local : g->n_sm;
  cudaError_t e = cudaLaunchCooperativeKernel((const void *)k_fused_resident, blocks, RESIDENT_THREADS,
                                              args, fused_smem(g, 1), g->stream);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return mlff_fail(MLFF_ERR_DEVICE, "cannot launch the resident step (%d blocks): %s", blocks,
                     cudaGetErrorString(e));
  }
  R.running = 1;
  R.local = n_local;
  R.total = n_total;
  R.vatom = want_vatom;
  return MLFF_OK;
}

/* One step on the resident kernel (launched where none runs for these counts): post the step
 * number, spin until the GPU says it is done. A kernel that returned for idleness before it
 * saw the number is launched again, and finds it. */
static mlff_status run_resident(mlff_gpu *g, int n_local, int n_total, int want_vatom) {
  auto &R = g->res;
  set_layout(g, n_local, n_total, want_vatom);
  if (R.running && (R.local != n_local || R.total != n_total || R.vatom != want_vatom || R.seq >= (1 << 30)))
    CUDA_TRY(stop_resident(g));
  if (R.seq >= (1 << 30)) { /* numbers only grow: start again from 0 once in 10^9 steps */
    mail_go(g) = R.seq = R.done = 0;
    /* and no result entry may carry a number the steps reach again */
    memset(g->h_tagged, 0, 2 * out_capacity(g->cap_atoms));
  }
  if (R.running && now_s() - R.last > 0.5 * RESIDENT_IDLE_S) { /* it may have returned */
    cudaError_t q = cudaStreamQuery(g->stream);
    if (q == cudaSuccess) R.running = 0;
    else if (q != cudaErrorNotReady) {
      cudaGetLastError();
      return mlff_fail(MLFF_ERR_DEVICE, "the resident GPU step failed: %s", cudaGetErrorString(q));
    }
  }
  mlff_status st;
  if (!R.running && (st = launch_resident(g, n_local, n_total, want_vatom))) return st;
  const int seq = ++R.seq;
  std::atomic_thread_fence(std::memory_order_seq_cst); /* the staged positions first */
  mail_go(g) = seq;
  const double t0 = now_s();
  for (long k = 1; !tagged_results(g, seq); k++) {
    if (k % 256) continue;
    const double waited = now_s() - t0;
    if (waited < 1e-4) continue;
    cudaError_t q = cudaStreamQuery(g->stream);
    if (q == cudaSuccess) { /* returned (idle) before it saw this step */
      R.running = 0;
      if ((st = launch_resident(g, n_local, n_total, want_vatom))) return st;
    } else if (q != cudaErrorNotReady) {
      cudaGetLastError();
      R.running = 0;
      return mlff_fail(MLFF_ERR_DEVICE, "the resident GPU step failed: %s", cudaGetErrorString(q));
    } else if (waited > RESIDENT_TIMEOUT_S) {
      return mlff_fail(MLFF_ERR_DEVICE, "the resident GPU step did not answer within %.0f s "
                       "(MLFF_GPU_RESIDENT=0 turns it off)", RESIDENT_TIMEOUT_S);
    }
  }
  R.done = seq;
  R.last = now_s();
  if (g->profile) {
    fprintf(stderr, "mlff gpu profile (%d local, %d total atoms, resident step): %.1f us from "
            "posting the step to its results\n", n_local, n_total, 1e6 * (R.last - t0));
    print_phases(g, "resident step");
  }
  return MLFF_OK;
}

/* More atoms than SMs: whether the resident step's deal of blocks to elements (from the
 * staged species) gives no block more atoms than it holds (RESIDENT_MINE). */
static int resident_deal_fits(const mlff_gpu *g, int n_local) {
  if (n_local <= g->n_sm) return 1; /* an atom per block */
  int count[MLFF_MAX_ELEMENTS] = {0}, eb[MLFF_MAX_ELEMENTS];
  const float4 *pos = (const float4 *)(g->h_stage + sizeof(StepHeader));
  for (int i = 0; i < n_local; i++)
    if (pos[i].w >= 0.f) count[(int)pos[i].w]++;
  const int most = mlff_deal_blocks(count, g->n_elements, g->n_sm, eb);
  return most >= 0 && most <= RESIDENT_MINE;
}

/* Capture the step into a graph (or reuse the one captured for these counts), run it, and
 * return with the results in the pinned host buffers. Small systems on a GPU of their own run
 * on the resident kernel instead. */
static mlff_status run_step(mlff_gpu *g, int n_local, int n_total, int want_vatom, int mode,
                            float skin) {
  int fused = n_total <= FUSED_MAX_ATOMS && !g->no_fused;
  if (fused && n_total <= RESIDENT_MAX_ATOMS && n_local <= RESIDENT_ATOMS_PER_SM * g->n_sm &&
      g->resident_ok && !g->shared_gpu && !g->no_resident && !g->no_graph &&
      resident_deal_fits(g, n_local)) {
    g->fused = 1;
    return run_resident(g, n_local, n_total, want_vatom);
  }
  CUDA_TRY(stop_resident(g)); /* it holds the stream */
  if (g->profile) {
    g->fused = fused;
    g->n_marks = 0;
    enqueue_step(g, n_local, n_total, want_vatom, mode, skin);
    CUDA_TRY(cudaStreamSynchronize(g->stream));
    fprintf(stderr, "mlff gpu profile (%d local, %d total atoms, %s):", n_local, n_total,
            fused ? "one kernel" : "general path");
    for (int k = 1; k < g->n_marks; k++) {
      float ms;
      cudaEventElapsedTime(&ms, g->ev[k - 1], g->ev[k]);
      fprintf(stderr, " %s %.1f us;", g->ev_name[k], 1e3 * ms);
    }
    fprintf(stderr, "\n");
    if (fused) print_phases(g, "one-kernel");
    return MLFF_OK;
  }
  if (g->no_graph) {
    g->fused = fused;
    enqueue_step(g, n_local, n_total, want_vatom, mode, skin);
    CUDA_TRY(cudaStreamSynchronize(g->stream));
    return MLFF_OK;
  }
  auto &gr = g->graph[mode == LIST_REUSE];
  if (!gr.exec || gr.local != n_local || gr.total != n_total || gr.vatom != want_vatom ||
      gr.fused != fused || gr.mode != mode || gr.skin != skin || gr.images != g->n_img) {
    g->fused = fused;
    if (gr.exec) cudaGraphExecDestroy(gr.exec);
    gr.exec = nullptr;
    cudaGraph_t graph;
    CUDA_TRY(cudaStreamBeginCapture(g->stream, cudaStreamCaptureModeThreadLocal));
    enqueue_step(g, n_local, n_total, want_vatom, mode, skin);
    CUDA_TRY(cudaStreamEndCapture(g->stream, &graph));
    cudaError_t e = cudaGraphInstantiate(&gr.exec, graph, 0);
    cudaGraphDestroy(graph);
    if (e != cudaSuccess)
      return mlff_fail(MLFF_ERR_DEVICE, "cannot instantiate the step's CUDA graph: %s", cudaGetErrorString(e));
    gr.local = n_local;
    gr.total = n_total;
    gr.vatom = want_vatom;
    gr.fused = fused;
    gr.mode = mode;
    gr.skin = skin;
    gr.images = g->n_img;
    g->captures++;
  } else {
    g->replays++;
    g->fused = fused;
    set_layout(g, n_local, n_total, want_vatom); /* the host pointers of this graph */
  }
  CUDA_TRY(cudaGraphLaunch(gr.exec, g->stream));
  CUDA_TRY(cudaStreamSynchronize(g->stream));
  return MLFF_OK;
}

/* The periodic images of n atoms in the cell (rows a, b, c) that lie within cut of them: along
 * each axis, those whose fractional coordinate is within cut (over the face spacing) of the
 * atoms' own range there (the atoms may have moved a little out of the cell since they were
 * wrapped). One layer of images: the cell must be at least cut wide across each face. Writes
 * the atoms then their images into h_all / h_all_sp, the images into h_img, and the cell into
 * h_cell; sets n_img. Images run in atom order, then shift order: the same every call. */
static mlff_status make_images(mlff_gpu *g, int n, const double *x, const int *species,
                               const double *cell, double cut, int nt) {
  (void)nt; /* nvcc does not see its use in the pragmas */
  const double *A = cell, *B = cell + 3, *C = cell + 6;
  /* columns of the inverse: fractional coordinate f_d = x . inv[d] */
  const double det = A[0] * (B[1] * C[2] - B[2] * C[1]) - A[1] * (B[0] * C[2] - B[2] * C[0]) +
                     A[2] * (B[0] * C[1] - B[1] * C[0]);
  if (!(fabs(det) > 1e-9))
    return mlff_fail(MLFF_ERR_ARGUMENT, "periodic images on the GPU: the cell (a = %g %g %g, b = "
                     "%g %g %g, c = %g %g %g Å) has no volume", A[0], A[1], A[2], B[0], B[1], B[2],
                     C[0], C[1], C[2]);
  const double inv[3][3] = {
      {(B[1] * C[2] - B[2] * C[1]) / det, (B[2] * C[0] - B[0] * C[2]) / det, (B[0] * C[1] - B[1] * C[0]) / det},
      {(C[1] * A[2] - C[2] * A[1]) / det, (C[2] * A[0] - C[0] * A[2]) / det, (C[0] * A[1] - C[1] * A[0]) / det},
      {(A[1] * B[2] - A[2] * B[1]) / det, (A[2] * B[0] - A[0] * B[2]) / det, (A[0] * B[1] - A[1] * B[0]) / det}};
  auto frac = [&](int i, int d) {
    return x[3 * (size_t)i] * inv[d][0] + x[3 * (size_t)i + 1] * inv[d][1] + x[3 * (size_t)i + 2] * inv[d][2];
  };
  double m[3], lo[3] = {1e300, 1e300, 1e300}, hi[3] = {-1e300, -1e300, -1e300};
  for (int d = 0; d < 3; d++) /* cut in fractional units: cut / face spacing */
    m[d] = cut * sqrt(inv[d][0] * inv[d][0] + inv[d][1] * inv[d][1] + inv[d][2] * inv[d][2]);
#pragma omp parallel for num_threads(nt) schedule(static) reduction(min : lo[:3]) reduction(max : hi[:3])
  for (int i = 0; i < n; i++)
    for (int d = 0; d < 3; d++) {
      const double f = frac(i, d);
      if (f < lo[d]) lo[d] = f;
      if (f > hi[d]) hi[d] = f;
    }
  for (int d = 0; d < 3 && n > 0; d++)
    if (m[d] > 1.0 || hi[d] - lo[d] + m[d] >= 2.0)
      return mlff_fail(MLFF_ERR_ARGUMENT, "periodic images on the GPU: along cell vector %c the "
                       "atoms span %.3g cells and the cutoff + skin (%.2f Å) is %.3g of the face "
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
    if (!o) return mlff_fail(MLFF_ERR_NOMEM, "periodic images on the GPU: out of host memory");
    g->h_img_off = o;
    g->cap_off = n + 1;
  }
  int *off = g->h_img_off;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int i = 0; i < n; i++) {
    int lo_s[3], hi_s[3];
    off[i] = shifts(i, lo_s, hi_s) ? (hi_s[0] - lo_s[0] + 1) * (hi_s[1] - lo_s[1] + 1) * (hi_s[2] - lo_s[2] + 1) - 1 : 0;
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
    if (!xa || !sa) return mlff_fail(MLFF_ERR_NOMEM, "periodic images on the GPU: out of host memory");
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
      return mlff_fail(MLFF_ERR_DEVICE, "periodic images on the GPU: cannot allocate %d images", cap);
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
          double *y = g->h_all + 3 * ((size_t)n + q);
          for (int d = 0; d < 3; d++) y[d] = x[3 * (size_t)i + d] + sa * A[d] + sb * B[d] + sc * C[d];
          g->h_all_sp[n + q] = species[i];
          g->h_img[q] = make_int2(i, (sa + 1) + 3 * (sb + 1) + 9 * (sc + 1));
          q++;
        }
  }
  if (!g->h_cell && (cudaMallocHost(&g->h_cell, 9 * sizeof(double)) != cudaSuccess ||
                     cudaMalloc(&g->d_cell, 9 * sizeof(double)) != cudaSuccess))
    return mlff_fail(MLFF_ERR_DEVICE, "periodic images on the GPU: cannot allocate the cell");
  memcpy(g->h_cell, cell, 9 * sizeof(double));
  g->n_img = n_img;
  return MLFF_OK;
}

/* The images of the last make_images (h_img) at the current positions of their atoms, in the
 * current cell, with the atoms before them into h_all / h_all_sp */
static void refill_images(mlff_gpu *g, int n, const double *x, const int *species,
                          const double *cell, int nt) {
  (void)nt; /* nvcc does not see its use in the pragmas */
  memcpy(g->h_all, x, 3 * (size_t)n * sizeof(double));
  memcpy(g->h_all_sp, species, (size_t)n * sizeof(int));
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
  for (int q = 0; q < g->n_img; q++) {
    const int2 m = g->h_img[q];
    const double sa = m.y % 3 - 1, sb = m.y / 3 % 3 - 1, sc = m.y / 9 - 1;
    double *y = g->h_all + 3 * ((size_t)n + q);
    for (int d = 0; d < 3; d++) y[d] = x[3 * (size_t)m.x + d] + sa * cell[d] + sb * cell[3 + d] + sc * cell[6 + d];
    g->h_all_sp[n + q] = species[m.x];
  }
  memcpy(g->h_cell, cell, 9 * sizeof(double));
}

extern "C" mlff_status mlff_gpu_compute(mlff_gpu *g, int n_local, int n_total, const double *x,
                                        const int *species, double skin, int list_age,
                                        const double *lattice, double *forces, double *energy_atom,
                                        double *virial_atom, double *energy, double virial[6]) {
  *energy = 0.0;
  for (int q = 0; q < 6; q++) virial[q] = 0.0;
  if (n_local <= 0) return MLFF_OK; /* nothing to add; no kernel may have an empty grid */
  /* MLFF_GPU_PROFILE: the host's share of the call too (staging, the step, adding results) */
  const auto t_start = std::chrono::steady_clock::now();
  double t_stage = 0.0, t_step = 0.0;
  auto us_since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t).count();
  };
  /* cell grid over the bounding box of the atoms that take part; coordinates relative to its
   * corner so that floats keep their precision in large boxes */
  if (use_device(g) != cudaSuccess)
    return mlff_fail(MLFF_ERR_DEVICE, "cannot make CUDA device %d current", g->device);
  /* host loops over atoms share g->n_threads threads in large systems (waking them costs more
   * than a small molecule's whole loop) */
  const int nt = n_total >= HOST_THREADS_MIN_ATOMS ? g->n_threads : 1;
  (void)nt; /* nvcc does not see its use in the pragmas */
  double t_bbox = 0.0, t_reserve = 0.0;
  /* with a cell the caller's atoms are all local, and the images are made here: anew where no
   * kept list applies, else those of its build follow their owners (k_images) */
  const int n_caller = n_total;
  if (lattice && n_total != n_local)
    return mlff_fail(MLFF_ERR_ARGUMENT, "periodic images on the GPU: with a cell every atom is "
                     "local (%d of %d are), the images are made here", n_local, n_total);
  auto kept_ok = [&](int n_all) {
    return skin > 0.0 && list_age > 0 && g->list_kept && !g->no_reuse &&
           g->list_skin == (float)skin && g->list_local == n_local && g->list_total == n_all &&
           g->list_generation == g->generation && g->list_images == (lattice != nullptr);
  };
  bool images_made = false;
  if (!lattice) {
    g->n_img = 0;
    g->img_local = -1; /* a later call with a cell makes its images anew */
  } else if (kept_ok(n_local + g->n_img)) {
    memcpy(g->h_cell, lattice, 9 * sizeof(double));
    n_total = n_local + g->n_img;
  }
  g->moving = lattice ? n_local : n_total;
  for (;;) {
    if (lattice && !images_made && !kept_ok(n_total)) {
      const auto t_b = std::chrono::steady_clock::now();
      if (skin > 0.0 && list_age > 0 && g->img_local == n_local && g->img_skin == (float)skin) {
        /* between the caller's rebuilds its images stay those of the last one, at their atoms'
         * current positions (as LAMMPS moves its ghosts): their number stays too, and the
         * one-kernel paths keep their launch (a count that changed every step restarted the
         * resident step: one benzene 24 -> 27 us, 16 benzenes 40 -> 56 us) */
        if (g->n_img) refill_images(g, n_local, x, species, lattice, nt);
      } else {
        mlff_status st = make_images(g, n_local, x, species, lattice, g->rc + skin, nt);
        if (st) return st;
        g->img_local = skin > 0.0 && list_age == 0 ? n_local : -1; /* valid until a rebuild */
        g->img_skin = (float)skin;
      }
      if (g->n_img) { /* else the caller's arrays as they are (a molecule far from the faces) */
        x = g->h_all;
        species = g->h_all_sp;
      }
      n_total = n_local + g->n_img;
      images_made = true;
      t_bbox += us_since(t_b);
    }
    /* the general path copies positions and species as given and finds the corner in the
     * same pass (k_stage makes the float4 positions); the one-kernel path stages float4 and
     * double positions relative to the corner on the host */
    const int general = n_total > FUSED_MAX_ATOMS || g->no_fused;
    /* a list to keep is built where the caller rebuilt its own (LAMMPS: neighbor->ago == 0):
     * from there on, no atom moves more than skin/2 before the next rebuild */
    const int build = general && skin > 0.0 && list_age == 0 && !g->no_reuse;
    /* a step on the kept list (the same atoms as at its build, no buffer moved since): only the
     * moves since its build are staged, as floats, with no bounding box (the cell grid is not
     * used); the build's positions stay in h_stage */
    if (general && kept_ok(n_total)) {
      const auto t_b = std::chrono::steady_clock::now();
      const double *ref = stage_xd(g->h_stage, n_total);
      float *moved = g->h_delta;
      const long m3 = 3L * g->moving; /* images follow their owners on the device */
#pragma omp parallel for num_threads(nt) schedule(static)
      for (long k = 0; k < m3; k++) moved[k] = (float)(x[k] - ref[k]);
      t_bbox += us_since(t_b);
      t_stage = us_since(t_start);
      const auto t_run = std::chrono::steady_clock::now();
      mlff_status st = run_step(g, n_local, n_total, virial_atom != nullptr, LIST_REUSE, (float)skin);
      if (st) return st;
      t_step += us_since(t_run);
      break; /* a kept list cannot overflow */
    }
    auto t_r = std::chrono::steady_clock::now();
    mlff_status st = reserve(g, n_total, g->cap_cells > 0 ? g->cap_cells : 64, g->max_nb);
    if (st) return st;
    t_reserve += us_since(t_r);
    const auto t_b = std::chrono::steady_clock::now();
    double lo[3] = {1e300, 1e300, 1e300}, hi[3] = {-1e300, -1e300, -1e300};
    double *raw = (double *)stage_xd(g->h_stage, n_total);
    int *sp = (int *)stage_species(g->h_stage, n_total);
    /* plain comparisons: fmin/fmax are library calls here, which made this loop ~1 ms of a
     * 4 ms step for 65k atoms (H100 host, MLFF_GPU_PROFILE) */
#pragma omp parallel for num_threads(nt) schedule(static) reduction(min : lo[:3]) reduction(max : hi[:3])
    for (int i = 0; i < n_total; i++) {
      const double *xi = x + 3 * (size_t)i;
      if (general) {
        raw[3 * (size_t)i] = xi[0];
        raw[3 * (size_t)i + 1] = xi[1];
        raw[3 * (size_t)i + 2] = xi[2];
        sp[i] = species[i];
      }
      if (species[i] < 0) continue;
      for (int d = 0; d < 3; d++) {
        if (xi[d] < lo[d]) lo[d] = xi[d];
        if (xi[d] > hi[d]) hi[d] = xi[d];
      }
    }
    if (lo[0] > hi[0]) /* no atom of the model */
      for (int d = 0; d < 3; d++) lo[d] = hi[d] = 0.0;
    t_bbox += us_since(t_b);
    double cell = build ? g->rc + skin : g->rc;
    int dims[3];
    long ncell;
    for (;;) {
      ncell = 1;
      for (int d = 0; d < 3; d++) {
        dims[d] = (int)((hi[d] - lo[d]) / cell) + 1;
        ncell *= dims[d];
      }
      if (ncell <= 8L * n_total + 27) break;
      cell *= 2.0;
    }
    t_r = std::chrono::steady_clock::now();
    const long generation = g->generation;
    if ((st = reserve(g, n_total, (int)ncell, g->max_nb))) return st;
    t_reserve += us_since(t_r);
    if (general && g->generation != generation) continue; /* buffers grew: stage again */
    const int mode = build ? LIST_BUILD : LIST_NEW;
    g->list_kept = 0; /* until this step has built one */
    StepHeader *h = (StepHeader *)g->h_stage;
    for (int d = 0; d < 3; d++) {
      h->dims[d] = dims[d];
      h->origin[d] = general ? lo[d] : 0.0;
    }
    h->inv_cell = (float)(1.0 / cell);
    h->meta.x = n_total;
    h->meta.y = hi[0] - lo[0] <= FLOAT_SPAN && hi[1] - lo[1] <= FLOAT_SPAN && hi[2] - lo[2] <= FLOAT_SPAN;
    if (!general) { /* after the reserve above: h_stage may have moved (raw is stale then) */
      float4 *pos = (float4 *)(g->h_stage + sizeof(StepHeader));
      double *xd = (double *)stage_xd(g->h_stage, n_total);
      for (int i = 0; i < n_total; i++) {
        for (int d = 0; d < 3; d++) xd[3 * (size_t)i + d] = x[3 * (size_t)i + d] - lo[d];
        pos[i] = make_float4((float)xd[3 * (size_t)i], (float)xd[3 * (size_t)i + 1],
                             (float)xd[3 * (size_t)i + 2], (float)species[i]);
      }
    }
    t_stage = us_since(t_start) - t_step;
    const auto t_run = std::chrono::steady_clock::now();
    if ((st = run_step(g, n_local, n_total, virial_atom != nullptr, mode, (float)skin))) return st;
    t_step += us_since(t_run);
    if (*g->h_overflow == 0) {
      if (mode == LIST_BUILD) {
        g->list_kept = 1;
        g->list_skin = (float)skin;
        g->list_local = n_local;
        g->list_total = n_total;
        g->list_generation = g->generation;
        g->list_images = lattice != nullptr;
      }
      break;
    }
    if (g->fused) { /* more neighbours than the one-kernel path holds: the general path */
      g->no_fused = 1;
      continue;
    }
    int need = *g->h_overflow + 16;
    if (need > MAX_NB_LIMIT)
      return mlff_fail(MLFF_ERR_ARGUMENT, "an atom has %d neighbours within %.2f Å (the GPU path holds "
                       "at most %d): are atoms overlapping?%s", *g->h_overflow,
                       build ? g->rc + skin : g->rc, MAX_NB_LIMIT,
                       build ? " Or use a smaller neighbour skin." : "");
    if ((st = reserve(g, n_total, (int)ncell, need))) return st; /* and run again */
  }
  if (lattice && g->fused) /* the one-kernel paths leave the images' results to the host */
    for (int q = 0; q < g->n_img; q++) {
      const size_t o = g->h_img[q].x, i = (size_t)n_local + q;
      for (int k = 0; k < 3; k++) g->h_force[3 * o + k] += g->h_force[3 * i + k];
      if (virial_atom)
        for (int k = 0; k < 6; k++) g->h_vatom[6 * o + k] += g->h_vatom[6 * i + k];
    }
  const long n3 = forces ? 3L * n_caller : 0, n6 = virial_atom ? 6L * n_caller : 0;
  const int ne = energy_atom ? n_local : 0;
#pragma omp parallel num_threads(nt)
  {
#pragma omp for schedule(static) nowait
    for (long k = 0; k < n3; k++) forces[k] += g->h_force[k];
#pragma omp for schedule(static) nowait
    for (int i = 0; i < ne; i++) energy_atom[i] += g->h_eatom[i];
#pragma omp for schedule(static) nowait
    for (long k = 0; k < n6; k++) virial_atom[k] += g->h_vatom[k];
  }
  *energy = g->h_sums[0];
  for (int q = 0; q < 6; q++) virial[q] = g->h_sums[1 + q];
  if (g->profile)
    fprintf(stderr, "mlff gpu host (%d total atoms): bounding box and staging %.1f us (box %.1f, "
            "buffers %.1f); step (launch to results) %.1f us; adding results %.1f us\n", n_total,
            t_stage, t_bbox, t_reserve, t_step, us_since(t_start) - t_stage - t_step);
  return MLFF_OK;
}
