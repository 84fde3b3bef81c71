/* resident.cu — the resident step of small systems on a GPU of this process's own: k_fused's
 * blocks (fused_atom) stay on the GPU between calls, each holding its element's weights, and
 * take each step from a mailbox in pinned memory; the host side posts steps, waits for the
 * tagged results, and starts, restarts and stops the kernel. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <atomic>
#include <chrono>

#include "fused_atom.cuh"
#include "resident_deal.h"

/* Every hidden layer and the output unit of element e into shared memory (Ws + woff, boff,
 * ooff): the resident step's blocks hold their element's weights between steps */
template <int T>
__device__ __forceinline__ void hold_weights(const NetArgs &N, float *Ws, int e, int t) {
  const int L = N.n_layers, last = N.sizes[L - 1];
  for (int l = 1; l < L; l++) {
    stage_weights<T>(Ws + N.woff[l - 1], N.W[e][l - 1], N.sizes[l], N.sizes[l - 1], t, N.fp16);
    for (int o = t; o < N.sizes[l]; o += T) Ws[N.boff[l - 1] + o] = N.b[e][l - 1][o];
  }
  for (int k = t; k <= last; k += T)
    Ws[N.ooff + k] = k < last ? N.W[e][L - 1][k] : N.b[e][L - 1][0];
  __syncthreads();
}

/* The resident step's copy-out: as the one-kernel step's (fused.cu), but each word goes to host
 * memory as an 8-byte entry with the step number (one PCIe write, not torn), which the host
 * checks word by word: no system fence and no flag after the results (~2 us of a benzene's
 * step on an H200, MLFF_GPU_PROFILE). The buffer is zeroed before the results go out, and a
 * device-wide fence keeps the zeros ahead of them: whatever the next step adds comes after the
 * host saw them. */
template <int T>
__device__ __forceinline__ bool copy_out_tagged(int *out_dev, unsigned long long *out_host,
                                                int out_words, int *ticket, int seq,
                                                unsigned long long *phase) {
  constexpr int PER = 8; /* words per thread held in registers */
  __shared__ int last;
  if (!last_block(last, ticket, phase)) return false;
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
#define RESIDENT_MINE 32 /* a block's atoms: <= 2 x RESIDENT_ATOMS_PER_SM (see deal_atoms) */
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

/* This block's atoms (mine[0, *n_mine)) among n_local, by element (see above); every block
 * computes the same deal (mlff_deal_blocks), which the host has checked gives no block more
 * than RESIDENT_MINE atoms. */
__device__ __forceinline__ void deal_atoms(const float4 *pos, int n_local, int n_species,
                                           int *mine, int *n_mine) {
  __shared__ int count[MLFF_CUDA_MAX_ELEMENTS], my_e, my_slot, my_eb;
  const int t = threadIdx.x, lane = t % 32, nb = gridDim.x;
  if (n_local <= nb) {
    if (t == 0) {
      *n_mine = 1;
      mine[0] = blockIdx.x;
    }
    __syncthreads();
    return;
  }
  if (t < MLFF_CUDA_MAX_ELEMENTS) count[t] = 0;
  if (t == 0) *n_mine = 0;
  __syncthreads();
  for (int a = t; a < n_local; a += RESIDENT_THREADS) {
    const int s = (int)pos[a].w;
    if (s >= 0) atomicAdd(&count[s], 1);
  }
  __syncthreads();
  if (t == 0) {
    int eb[MLFF_CUDA_MAX_ELEMENTS];
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
      fused_atom<RESIDENT_THREADS>(mine[0], P, N, (const char *)stage, n_total, rc, force, eatom,
                                   vatom, sums, overflow, sh, Ws, true);
    else /* two atoms at once, one per half of the block (a half is 1.2-1.4x slower on one atom
          * than the whole block: the phases of one atom are latency-bound) */
      for (int k = t / HALF_THREADS; k < n_mine; k += 2)
        fused_atom<HALF_THREADS, true>(mine[k], P, N, (const char *)stage, n_total, rc, force,
                                       eatom, vatom, sums, overflow,
                                       sh + (t / HALF_THREADS) * N.scratch, Ws, true);
    if (copy_out_tagged<RESIDENT_THREADS>(out_dev, out_host, out_words, ticket, seq, N.phase))
      stamp_phase(N.phase, 9);
  }
}

/* ---- host ---------------------------------------------------------------------------- */

/* How long a resident step waits for the next call before it returns; how long the host
 * waits for a step before it gives up. */
#define RESIDENT_IDLE_S 2e-3
#define RESIDENT_TIMEOUT_S 60.0

static double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
static volatile int &mail_go(mlff_cuda *g) { return ((volatile int *)g->h_mail)[0]; }
/* Whether every word of step seq's results is in (copy_out_tagged); if so, into h_out */
static bool tagged_results(mlff_cuda *g, int seq) {
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
cudaError_t stop_resident(mlff_cuda *g) {
  if (!g->res.running) return cudaSuccess;
  g->res.running = 0;
  mail_go(g) = -1;
  cudaError_t e = cudaStreamSynchronize(g->stream);
  mail_go(g) = g->res.seq; /* what a next launch starts from */
  return e;
}

/* The resident step's shared memory (fused_scratch): two atoms' scratch, every hidden layer's
 * weights (rows padded) and biases and the output unit, then the staged positions (from
 * resident_stage_off floats on, resident_stage_bytes of them). */
static size_t resident_stage_off(const mlff_cuda *g) {
  size_t wall = g->sizes[g->n_layers - 1] + 1; /* the output unit */
  for (int l = 1; l < g->n_layers; l++)
    wall += (size_t)g->sizes[l] * (g->sizes[l - 1] + 2); /* weights (rows padded) and biases */
  return (2 * fused_scratch(g) + wall + 3) & ~(size_t)3;
}
static size_t resident_stage_bytes(int n_total) {
  return (sizeof(StepHeader) + (size_t)n_total * (sizeof(float4) + 3 * sizeof(double)) + 15) &
         ~(size_t)15;
}
static size_t resident_smem(const mlff_cuda *g) {
  return resident_stage_off(g) * sizeof(float) + resident_stage_bytes(RESIDENT_MAX_ATOMS);
}

/* The resident step runs where the device launches cooperative grids and a block holds every
 * hidden layer of one element (ANI-1x widths 128, 64, 64: 116 KB); else the graph path. */
void resident_setup(mlff_cuda *g) {
  int coop = 0;
  cudaDeviceGetAttribute(&coop, cudaDevAttrCooperativeLaunch, g->device);
  g->resident_ok = coop && set_smem_limit((const void *)k_fused_resident, resident_smem(g),
                                          g->device) == cudaSuccess;
  cudaGetLastError();
}

/* More atoms than SMs: whether the resident step's deal of blocks to elements (from the
 * staged species) gives no block more atoms than it holds (RESIDENT_MINE). */
static int resident_deal_fits(const mlff_cuda *g, int n_local) {
  if (n_local <= g->n_sm) return 1; /* an atom per block */
  int count[MLFF_CUDA_MAX_ELEMENTS] = {0}, eb[MLFF_CUDA_MAX_ELEMENTS];
  const float4 *pos = (const float4 *)(g->h_stage + sizeof(StepHeader));
  for (int i = 0; i < n_local; i++)
    if (pos[i].w >= 0.f) count[(int)pos[i].w]++;
  const int most = mlff_deal_blocks(count, g->n_elements, g->n_sm, eb);
  return most >= 0 && most <= RESIDENT_MINE;
}

/* Whether a one-kernel step of these counts (staged on the host) takes the resident step. */
bool resident_fits(const mlff_cuda *g, int n_local, int n_total) {
  return n_total <= RESIDENT_MAX_ATOMS && n_local <= RESIDENT_ATOMS_PER_SM * g->n_sm &&
         g->resident_ok && !g->shared_gpu && !g->knobs.no_resident && !g->knobs.no_graph &&
         resident_deal_fits(g, n_local);
}

static mlff_cuda_status launch_resident(mlff_cuda *g, int n_local, int n_total, int want_vatom) {
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
  cudaError_t e = cudaLaunchCooperativeKernel((const void *)k_fused_resident, blocks,
                                              RESIDENT_THREADS, args, resident_smem(g),
                                              g->stream);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return fail(g, MLFF_CUDA_ERR_DEVICE, "cannot launch the resident step (%d blocks): %s",
                blocks, cudaGetErrorString(e));
  }
  R.running = 1;
  R.local = n_local;
  R.total = n_total;
  R.vatom = want_vatom;
  return MLFF_CUDA_OK;
}

/* One step on the resident kernel (launched where none runs for these counts): post the step
 * number, spin until the GPU says it is done. A kernel that returned for idleness before it
 * saw the number is launched again, and finds it. */
mlff_cuda_status run_resident(mlff_cuda *g, int n_local, int n_total, int want_vatom) {
  auto &R = g->res;
  set_layout(g, n_local, n_total, want_vatom);
  if (R.running && (R.local != n_local || R.total != n_total || R.vatom != want_vatom ||
                    R.seq >= (1 << 30)))
    CUDA_TRY(stop_resident(g));
  if (R.seq >= (1 << 30)) { /* numbers only grow: start again from 0 once in 10^9 steps */
    mail_go(g) = R.seq = R.done = 0;
    /* and no result entry may carry a number the steps reach again */
    memset(g->h_tagged, 0, 2 * out_capacity(g, g->cap_atoms));
  }
  if (R.running && now_s() - R.last > 0.5 * RESIDENT_IDLE_S) { /* it may have returned */
    cudaError_t q = cudaStreamQuery(g->stream);
    if (q == cudaSuccess) R.running = 0;
    else if (q != cudaErrorNotReady) {
      cudaGetLastError();
      return fail(g, MLFF_CUDA_ERR_DEVICE, "the resident GPU step failed: %s",
                  cudaGetErrorString(q));
    }
  }
  mlff_cuda_status st;
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
      return fail(g, MLFF_CUDA_ERR_DEVICE, "the resident GPU step failed: %s",
                  cudaGetErrorString(q));
    } else if (waited > RESIDENT_TIMEOUT_S) {
      return fail(g, MLFF_CUDA_ERR_DEVICE, "the resident GPU step did not answer within %.0f s "
                  "(MLFF_GPU_RESIDENT=0 turns it off)", RESIDENT_TIMEOUT_S);
    }
  }
  R.done = seq;
  R.last = now_s();
  if (g->knobs.profile) {
    fprintf(stderr, "mlff gpu profile (%d local, %d total atoms, resident step): %.1f us from "
            "posting the step to its results\n", n_local, n_total, 1e6 * (R.last - t0));
    print_phases(g, "resident step");
  }
  return MLFF_CUDA_OK;
}
