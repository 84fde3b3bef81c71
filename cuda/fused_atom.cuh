/* fused_atom.cuh — private to cuda/: one atom's whole step by a group of threads (fused_atom),
 * what the one-kernel step (fused.cu, k_fused) and the resident step (resident.cu,
 * k_fused_resident) are made of: brute-force neighbours, descriptor, the element's network
 * forward and backward, descriptor backward and force scatter; the phase clocks of
 * MLFF_GPU_PROFILE; and the last block's ticket that both kernels copy their results out by. */
#ifndef MLFF_CUDA_FUSED_ATOM_CUH
#define MLFF_CUDA_FUSED_ATOM_CUH

#include "context.h"

#define FUSED_MAX_NB 256

struct NetArgs {
  int n_layers, sizes[MLFF_CUDA_MAX_LAYERS + 1], act, fp16;
  int split;             /* split each dot product over threads (few blocks: latency-bound) */
  int hidden_total;      /* sum over hidden layers of 2 x width: the activation buffers */
  /* resident step: hidden layer l's staged weights at Ws + woff[l - 1], its biases at
   * Ws + boff[l - 1]; the output unit's weights at Ws + ooff, its bias after them */
  int woff[MLFF_CUDA_MAX_LAYERS], boff[MLFF_CUDA_MAX_LAYERS], ooff;
  int scratch; /* floats of one atom's share of shared memory (fused_atom), 16-byte multiple */
  float scale, e0[MLFF_CUDA_MAX_ELEMENTS];
  const float *W[MLFF_CUDA_MAX_ELEMENTS][MLFF_CUDA_MAX_LAYERS];
  const float *b[MLFF_CUDA_MAX_ELEMENTS][MLFF_CUDA_MAX_LAYERS];
  /* MLFF_GPU_PROFILE: block 0 writes its SM clock (clock64) and the global timer (ns) at the end
   * of each phase of the one-kernel step: [FUSED_PHASES][2] */
  unsigned long long *phase;
  /* the close-atom guard (guard_pair): its table and the step's key */
  const float *close;
  int n_species;
  unsigned long long *guard;
};
/* The arguments of the atoms' networks (split: see net_args) and one atom's share of shared
 * memory (fused.cu) */
NetArgs net_args(const mlff_cuda *g, int n_local);
size_t fused_scratch(const mlff_cuda *g);

/* the device's global timer (ns) */
__device__ __forceinline__ long long global_ns() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return (long long)t;
}
/* slot k's clocks (FUSED_PHASES), by thread 0 of the block that calls it */
__device__ __forceinline__ void stamp_phase(unsigned long long *phase, int k) {
  if (!phase || threadIdx.x != 0) return;
  const unsigned long long gt = global_ns();
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
__device__ __forceinline__ void stage_weights(float *Ws, const float *W, int O, int K, int t,
                                              int fp16) {
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
    const float djx = q == 0 ? dj.x : q == 1 ? dj.y : dj.z,
                dkx = q == 0 ? dk.x : q == 1 ? dk.y : dk.z;
    atomicAdd(&gr[3 * ja + q], cc * dkx + aj * djx);
    atomicAdd(&gr[3 * kb + q], cc * djx + ak * dkx);
  }
}

/* The one-kernel step's descriptor backward: the pair gradients of atom i's neighbours, into gr
 * (shared memory). Thread per angular pair (four per pair where there are four angular shells),
 * then per radial neighbour, in one range (a thread takes one or the other). Counts as in
 * pair_gradient (ANI-1x's at compile time: registers). */
template <int T, int NR, int NA, int NZ>
__device__ __forceinline__ void fused_descriptor_backward(const AevParams &P, int t, int n,
                                                          int na, const float4 *nd, const int *ns,
                                                          const int *ang, const float *dG,
                                                          float *gr) {
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
                                  make_float2(fc_f(dk.w, P.Rca), dfc_f(dk.w, P.Rca)), ns[ja],
                                  ns[kb], dG, gr, ja, kb);
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
    float g[NR ? NR : MLFF_CUDA_MAX_RADIAL_SHELLS];
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

/* T threads per atom (the block, or with HALF one half of it, whose two halves take two atoms at
 * once): neighbours (brute force over all atoms), descriptor, the element's network forward and
 * backward (matrix-vector products), descriptor backward and force scatter. Sizes: hidden widths
 * <= 1024 in all. scratch: the atom's own share of shared memory (N.scratch floats). held (the
 * resident step): every hidden layer of the atom's element is in Ws already (hold_weights);
 * else the weights are staged into Ws one layer at a time (from L2). */
template <int T, bool HALF = false>
__device__ __forceinline__ void fused_atom(const int i, const AevParams &P, const NetArgs &N,
                                           const char *stage, int n_total, float rc, float *force,
                                           float *eatom, float *vatom, double *sums, int *overflow,
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
    guard_pair(N.close, N.n_species, e, (int)q.w, d.w, i, N.guard);
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
      float base =
          0.5f * (1.f + c * (mine ? cosZ_l : P.cosZ[z]) + sn * (mine ? sinZ_l : P.sinZ[z]));
      float pw = pow_zeta(P, base);
      float u = ravg - (mine ? muA_l : P.muA[x]);
      atomicAdd(&Gp[f], wgt * pw * __expf(-P.etaA * u * u));
    }
  }
  group_sync<T, HALF>(hf);
  fused_phase(N, 2);
  /* network forward: warp w takes outputs w, w+4, ...; lanes split the dot product */
  const float *in = G;
  float *layer_out[MLFF_CUDA_MAX_LAYERS];
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

/* Whether this block is the last of the grid to finish the step (by its ticket; every thread
 * of the block gets the answer, through the caller's shared word `last`): its results are
 * visible device-wide before it takes one, and the last block sees every block's results
 * after. */
__device__ __forceinline__ bool last_block(int &last, int *ticket, unsigned long long *phase) {
  __threadfence(); /* this block's results are visible device-wide before its ticket */
  __syncthreads();
  if (threadIdx.x == 0) last = atomicAdd(ticket, 1) == (int)gridDim.x - 1;
  __syncthreads();
  if (!last) return false;
  stamp_phase(phase, 16);
  __threadfence();
  return true;
}

#endif
