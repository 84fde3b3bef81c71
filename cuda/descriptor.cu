/* descriptor.cu — the general path's descriptor stages, a warp per atom: the forward
 * (k_aev_forward: radial and angular terms into the atom's row of G, rows by element) and the
 * backward (k_aev_backward: dE/dG to pair gradients, scattered as forces, virial and per-atom
 * virial). The term math they share with the one-kernel step is in common.cuh. */
#include "context.h"

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
/* k_aev_backward's dE/dG row in shared memory, angular blocks padded (aev_bwd_words) */
__host__ __device__ inline int aev_bwd_dG_words(const AevParams &P) {
  return P.D + AEV_BLOCK_PAD * (P.nS * (P.nS + 1) / 2);
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

/* Warp per atom: pair gradients from dE/dG, scattered as forces (float atomics); virial and
 * per-atom virial from the same pair terms. */
#define BWD_BLOCKS_PER_SM 6 /* resident at once (registers): the grid is one such wave */
template <int NR, int NA, int NZ>
__global__ void __launch_bounds__(32 * WARPS_PER_BLOCK, BWD_BLOCKS_PER_SM)
k_aev_backward(AevParams P, const char *stage, int n_local, const int *row, int max_nb,
               const int *nbr_n, const int *nbr_j, const float4 *nbr_d, const float *dG_in,
               float *force, float *vatom, double *sums) {
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
    float g[NR ? NR : MLFF_CUDA_MAX_RADIAL_SHELLS];
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
        for (int q = 0; q < nR; q++)
          acc += wr[q] * g[q] * (df - 2.f * P.etaR * (d.w - P.muR[q]) * f);
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

/* ---- host ---------------------------------------------------------------------------- */

/* The descriptor kernels keep a row and a neighbour list per warp in shared memory: enough for
 * the largest (MAX_D, MAX_NB_LIMIT), in *bytes. */
cudaError_t descriptor_smem_setup(int device, int *bytes) {
  int fwd_words = aev_fwd_words(MAX_D, MAX_NB_LIMIT),
      bwd_words = aev_bwd_words(MAX_D + AEV_BLOCK_PAD * MLFF_CUDA_MAX_ELEMENTS *
                                            (MLFF_CUDA_MAX_ELEMENTS + 1) / 2,
                                MAX_NB_LIMIT);
  int smem = WARPS_PER_BLOCK * (fwd_words > bwd_words ? fwd_words : bwd_words) * (int)sizeof(float);
  *bytes = smem;
  cudaError_t e;
  if ((e = set_smem_limit((const void *)k_aev_forward, smem, device)) != cudaSuccess ||
      (e = set_smem_limit((const void *)k_aev_backward<0, 0, 0>, smem, device)) != cudaSuccess ||
      (e = set_smem_limit((const void *)k_aev_backward<16, 4, 8>, smem, device)) != cudaSuccess)
    return e;
  return cudaSuccess;
}

void enqueue_descriptor_forward(mlff_cuda *g, int n_local) {
  const AevParams &P = g->aev;
  int wb = (n_local + WARPS_PER_BLOCK - 1) / WARPS_PER_BLOCK;
  size_t shf = WARPS_PER_BLOCK * aev_fwd_words(P.D, g->max_nb) * sizeof(float);
  k_aev_forward<<<wb, 32 * WARPS_PER_BLOCK, shf, g->stream>>>(P, g->d_stage, n_local, g->d_row,
                                                              g->max_nb, g->d_nbr_n, g->d_nbr_j,
                                                              g->d_nbr_d, g->d_G);
}

void enqueue_descriptor_backward(mlff_cuda *g, int n_local, int want_vatom, float *force) {
  const AevParams &P = g->aev;
  int wb = (n_local + WARPS_PER_BLOCK - 1) / WARPS_PER_BLOCK;
  size_t shb = WARPS_PER_BLOCK * aev_bwd_words(aev_bwd_dG_words(P), g->max_nb) * sizeof(float);
  /* ANI-1x's counts at compile time (terms in registers); other models at run time */
  auto *bwd = ani1x_counts(P) ? k_aev_backward<16, 4, 8> : k_aev_backward<0, 0, 0>;
  const int wb_bwd = wb < BWD_BLOCKS_PER_SM * g->n_sm ? wb : BWD_BLOCKS_PER_SM * g->n_sm;
  bwd<<<wb_bwd, 32 * WARPS_PER_BLOCK, shb, g->stream>>>(
      P, g->d_stage, n_local, g->d_row, g->max_nb, g->d_nbr_n, g->d_nbr_j, g->d_nbr_d, g->d_dG,
      force, want_vatom ? g->d_vatom : nullptr, g->d_sums);
}
