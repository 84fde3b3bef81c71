/* fused.cu — the one-kernel step of small systems (up to FUSED_MAX_ATOMS atoms with images): a
 * block per atom (fused_atom), with the positions read from pinned host memory and the results
 * copied out by the last block where the system is tiny (one graph node in all), else between
 * a copy in and a copy out. Also the arguments and shared memory of the atoms' networks, which
 * the resident step (resident.cu) shares. */
#include <string.h>

#include "fused_atom.cuh"

#define FUSED_THREADS 256
/* Up to here the one-kernel step reads positions straight from pinned host memory (every block
 * reads all of them). LAMMPS step on an H100: 12 atoms 44 -> 38 us, 48 atoms 56 -> 44 us, but
 * 192 atoms 70 -> 75 us. */
#define ZERO_COPY_ATOMS 128

/* The block that finishes a step last (by its ticket) copies the results (the output buffer,
 * out_words 4-byte words) into pinned host memory and zeroes the buffer for the next step:
 * no copies, no memset around the kernel. Returns whether this block did. */
template <int T>
__device__ __forceinline__ bool copy_out_if_last(int *out_dev, int *out_host, int out_words,
                                                 int *ticket, unsigned long long *phase) {
  __shared__ int last;
  if (!last_block(last, ticket, phase)) return false;
  for (int w = threadIdx.x; w < out_words; w += T) out_host[w] = __ldcg(&out_dev[w]);
  __syncthreads();
  stamp_phase(phase, 17);
  for (int w = threadIdx.x; w < out_words; w += T) out_dev[w] = 0; /* ticket too */
  __threadfence_system();
  __syncthreads(); /* every thread's results are out before whatever the block writes next */
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
  fused_atom<FUSED_THREADS>(blockIdx.x, P, N, stage, n_total, rc, force, eatom, vatom, sums,
                            overflow, sh, sh + N.scratch, false);
  if (out_host) copy_out_if_last<FUSED_THREADS>(out_dev, out_host, out_words, ticket, N.phase);
}

/* ---- host ---------------------------------------------------------------------------- */

NetArgs net_args(const mlff_cuda *g, int n_local) {
  NetArgs N;
  memset(&N, 0, sizeof N);
  /* Split dot products only while the blocks (atoms) leave most SMs idle: on an H100 one
   * benzene (12 blocks) gains, 16 benzenes (192 blocks) lose 66 -> 73 us per step. */
  N.split = 2 * n_local <= g->n_sm;
  N.n_layers = g->n_layers;
  for (int l = 1; l < g->n_layers; l++) N.hidden_total += 2 * g->sizes[l];
  for (int l = 1; l < g->n_layers - 1; l++)
    N.woff[l] = N.woff[l - 1] + g->sizes[l] * (g->sizes[l - 1] + 1);
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
  N.close = g->guard_on ? g->d_close : nullptr;
  N.n_species = g->n_elements;
  N.guard = g->d_guard;
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
 * activations and their derivatives, two backward buffers. k_fused's shared memory: one
 * scratch, then one layer's weights (fused_smem); the resident step's: two (a block's halves
 * take two atoms at once), every hidden layer's weights, and the staged positions
 * (resident_smem). */
size_t fused_scratch(const mlff_cuda *g) {
  size_t hidden = 0;
  for (int l = 1; l < g->n_layers; l++) hidden += 2 * g->sizes[l];
  const size_t words =
      FUSED_MAX_NB * (sizeof(float4) + 3 * sizeof(int) + 3 * sizeof(float)) / sizeof(float) +
      g->aev.D + hidden + 2 * 1024;
  return (words + 3) & ~(size_t)3;
}
size_t fused_smem(const mlff_cuda *g) {
  size_t wmax = 0;
  for (int l = 0; l < g->n_layers - 1; l++) {
    size_t w = (size_t)g->sizes[l + 1] * (g->sizes[l] + 1);
    wmax = w > wmax ? w : wmax;
  }
  return (fused_scratch(g) + wmax) * sizeof(float);
}

cudaError_t fused_setup(const mlff_cuda *g) {
  return set_smem_limit((const void *)k_fused, fused_smem(g), g->device);
}

void enqueue_fused(mlff_cuda *g, int n_local, int n_total, int want_vatom) {
  cudaStream_t s = g->stream;
  const AevParams &P = g->aev;
  /* d_out is zero between steps (zeroed when allocated, and by every step after its copy) */
  if (n_total <= ZERO_COPY_ATOMS) {
    k_fused<<<n_local, FUSED_THREADS, fused_smem(g), s>>>(
        P, net_args(g, n_local), g->h_stage_dev, n_total, g->rc, g->d_force, g->d_eatom,
        want_vatom ? g->d_vatom : nullptr, g->d_sums, g->d_overflow, (int *)g->d_out,
        (int *)g->h_out_dev, (int)(g->out_bytes / 4), g->d_ticket);
    mark(g, "fused step (positions in, results out)");
    return;
  }
  /* header, float4 and double positions, staged on the host */
  const size_t stage_bytes =
      sizeof(StepHeader) + (size_t)n_total * (sizeof(float4) + 3 * sizeof(double));
  cudaMemcpyAsync(g->d_stage, g->h_stage, stage_bytes, cudaMemcpyHostToDevice, s);
  mark(g, "positions in");
  k_fused<<<n_local, FUSED_THREADS, fused_smem(g), s>>>(
      P, net_args(g, n_local), g->d_stage, n_total, g->rc, g->d_force, g->d_eatom,
      want_vatom ? g->d_vatom : nullptr, g->d_sums, g->d_overflow, nullptr, nullptr, 0, nullptr);
  mark(g, "fused step");
  cudaMemcpyAsync(g->h_out, g->d_out, g->out_bytes, cudaMemcpyDeviceToHost, s);
  cudaMemsetAsync(g->d_out, 0, g->out_bytes, s);
  mark(g, "results out");
}
