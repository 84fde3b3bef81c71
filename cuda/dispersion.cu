/* dispersion.cu — the model's long-range terms on the general path (docs/model.md): per local
 * atom, its pairs within the longer of their cutoffs from its own list (k_neighbors made it, out
 * to that cutoff, or cutoff + skin on a kept list): the dispersion, e(r) = -c6 / (r^6 + r0^6) -
 * c8 / (r^8 + r0^8), and the fixed-charge electrostatics, e(r) = qq (erfc(alpha r)/r - e_shift -
 * r f_shift) with each atom's self term, in float from the float positions of the step. Each
 * atom takes half of each of its pairs' energy and virial and its whole force, so no atom writes
 * another's: as the CPU path (dispersion.c, electrostatics.c). The dispersion's tail beyond its
 * cutoff is the caller's (whole-system energy and pressure). */
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

/* A hard cutoff (the dispersion's pairs; the three-body term's sides) steps the energy where a
 * pair crosses it, and float positions round a pair within ~1e-5 Å of it to either side: there
 * the pair's side is decided from the double positions, as the CPU decides it. (Before, a C-H
 * pair 8e-6 Å inside 12 Å that the CPU counted and the GPU did not put 8.2e-7 eV into one
 * atom's energy, 1.2e-5 of the largest; one 2.9e-6 Å inside the three-body term's 8 Å put
 * 3.3e-4 of max|F| into 12 atoms' forces: H100, 2026-12-07.) DISP_NEAR: the band of
 * |r^2 - rc^2| / rc^2 so decided, well beyond float rounding at a few hundred Å. */
#define DISP_NEAR 1e-4f
__device__ __forceinline__ bool disp_within(float r2, float rc2, double rc2d, const double *xd,
                                            int i, int j) {
  if (fabsf(r2 - rc2) > DISP_NEAR * rc2) return r2 < rc2;
  const double *a = xd + 3 * (size_t)i, *b = xd + 3 * (size_t)j;
  const double dx = b[0] - a[0], dy = b[1] - a[1], dz = b[2] - a[2];
  return dx * dx + dy * dy + dz * dz < rc2d;
}

/* The electrostatics of one run (coul_rc 0: none): the cutoff, damping and DSF shifts */
struct CoulArgs {
  float rc, alpha, es, fs;
  const float *qq, *self_e; /* [n_species^2], [n_species] */
};

__global__ void __launch_bounds__(32 * DISP_WARPS)
    k_dispersion(const char *stage, int n_local, float rc, double rc2d, int n_species,
                 const float4 *coef,
                 CoulArgs ca, int max_disp, const int *disp_n, const int *disp_j, float *force,
                 float *eatom, float *vatom, double *sums) {
  __shared__ float4 cs[MLFF_CUDA_MAX_ELEMENTS * MLFF_CUDA_MAX_ELEMENTS];
  __shared__ float cq[MLFF_CUDA_MAX_ELEMENTS * MLFF_CUDA_MAX_ELEMENTS];
  __shared__ float part[DISP_WARPS][7];
  for (int k = threadIdx.x; k < n_species * n_species; k += blockDim.x) {
    if (rc > 0.f) cs[k] = coef[k];
    if (ca.rc > 0.f) cq[k] = ca.qq[k];
  }
  __syncthreads();
  const int lane = threadIdx.x % 32, w = threadIdx.x / 32;
  const int i = blockIdx.x * DISP_WARPS + w;
  const float4 *pos = (const float4 *)(stage + sizeof(StepHeader));
  const double *xd = stage_xd(stage, ((const StepHeader *)stage)->meta.x);
  const float rc2 = rc * rc, rq2 = ca.rc * ca.rc, two_al = 1.1283791671f * ca.alpha;
  float acc[10] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0}; /* e, f[3], w[6] */
  const int si = i < n_local ? (int)pos[i].w : -1;
  if (si >= 0) {
    const float4 p = pos[i];
    const int n = disp_n[i];
    const int *list = disp_j + (size_t)i * max_disp;
    if (ca.rc > 0.f && lane == 0) acc[0] = ca.self_e[si];
    for (int k = lane; k < n; k += 32) {
      const float4 q = pos[list[k]];
      const int sj = (int)q.w;
      /* float positions relative to the grid's corner (k_stage, every step): 1e-5 Å steps at
       * 100 Å, below 1e-6 of these smooth pairs' forces; 16 bytes a pair instead of 48 */
      const float3 d = make_float3(q.x - p.x, q.y - p.y, q.z - p.z);
      const float r2 = d.x * d.x + d.y * d.y + d.z * d.z;
      if (sj < 0 || r2 == 0.f) continue;
      const bool in_disp = rc2 > 0.f && disp_within(r2, rc2, rc2d, xd, i, list[k]);
      if (!in_disp && r2 >= rq2) continue; /* (the electrostatics are 0 at their cutoff) */
      float g = 0.f; /* e'(r) / r: the pair's force on i is g d (toward j) */
      if (in_disp) {
        const float4 c = cs[si * n_species + sj];
        const float r6 = r2 * r2 * r2, r8 = r6 * r2;
        const float t6 = 1.f / (r6 + c.z), t8 = 1.f / (r8 + c.w);
        acc[0] -= 0.5f * (c.x * t6 + c.y * t8);
        g = (6.f * c.x * r6 * t6 * t6 + 8.f * c.y * r8 * t8 * t8) / r2;
      }
      if (r2 < rq2) { /* electrostatics.h's mlff_coul_pair in float */
        const float qq = cq[si * n_species + sj], r = sqrtf(r2), ir = 1.f / r;
        const float ec = erfcf(ca.alpha * r), ga = two_al * __expf(-ca.alpha * ca.alpha * r2);
        acc[0] += 0.5f * qq * (ec * ir - ca.es - r * ca.fs);
        g += qq * (-ec * ir * ir - ga * ir - ca.fs) * ir;
      }
      /* half the pair's virial -g d (x) d is i's */
      acc[1] += g * d.x, acc[2] += g * d.y, acc[3] += g * d.z;
      const float hh = -0.5f * g;
      acc[4] += hh * d.x * d.x, acc[5] += hh * d.y * d.y, acc[6] += hh * d.z * d.z;
      acc[7] += hh * d.x * d.y, acc[8] += hh * d.x * d.z, acc[9] += hh * d.y * d.z;
    }
  }
  disp_finish<DISP_WARPS>(acc, i, si >= 0, lane, w, part, force, eatom, vatom, sums);
}

/* The three-body (ATM) term, as dispersion.c's mlff_disp_triples, with each triple evaluated
 * once: by the atom that comes first in the order of positions (x, then y, then z; differences
 * below DISP3_TIE Å count as equal), so that a triple is found once however its atoms are held
 * (local atoms, images, another rank's ghosts): each of its atoms sees the same two others at
 * the same displacements. Owner-computes (each atom its own force from all of its triples)
 * evaluated each triple three times: 81 % of a 49,152-atom step (H100). One warp per local atom
 * i: its later neighbours within the three-body cutoff are gathered into the warp's shared
 * memory with what each pair (i, j) contributes alone (1/r, C9 factor, damping log); the warp
 * then takes the rows j of the pairs (j, k > j) in turn, its lanes across k. A triple's force
 * on i stays in registers, on j and k (either may be a ghost or an image) goes to their slots in
 * shared memory, and the slots are added to the global arrays at the end. Each atom of a triple takes a third of its energy and virial, as
 * on the CPU. An atom with more later neighbours than `cap` reads them from its list instead,
 * adding to the global arrays directly (slow, and rare: 256 neighbours within the half sphere). */
#define DISP3_WARPS 4
#define DISP3_CAP 256
#define DISP3_TIE 1e-9

/* a later neighbour j of i: displacement d = x_j - x_i and r^2, 1/r, i-j's C9 factor w, the
 * log2 of (r0 / r) of the damping, species and atom index; the smooth cutoff's weight of the
 * side i-j, s, and s'(r) / (2 r), q (1 and 0 without it or before its onset) */
struct Disp3Nb {
  float4 d;
  float isa, w, lq;
  int sp, idx;
  float s, q;
};

/* j after i in the order of positions (exactly antisymmetric: -d is tested the other way) */
__device__ __forceinline__ bool disp3_later(double dx, double dy, double dz) {
  if (dx > DISP3_TIE) return true;
  if (dx < -DISP3_TIE) return false;
  if (dy > DISP3_TIE) return true;
  if (dy < -DISP3_TIE) return false;
  return dz > 0.0;
}

/* the smooth cutoff's s(r) and ds/dr (dispersion.h's mlff_disp_switch in float) */
__device__ __forceinline__ float disp3_switch(float r, float r_on, float width, float *ds) {
  if (r <= r_on) return *ds = 0.f, 1.f;
  const float t = (r - r_on) / width, t2 = t * t;
  *ds = -30.f * t2 * (1.f - t) * (1.f - t) / width;
  return 1.f - t2 * t * (10.f - 15.f * t + 6.f * t2);
}

/* entry j (atom index) of i's list as a later neighbour within the cutoff, or false; with the
 * smooth cutoff (sw > 0, from r_on) the i-j side's weight s and s'(r) / (2 r) */
__device__ __forceinline__ bool disp3_load(const float4 *pos, const double *xd, int i, float4 p,
                                           int si, int j, float rc2, double rc2d,
                                           const float2 *cs, int ns, float r_on, float sw,
                                           Disp3Nb *nb) {
  const float4 q = pos[j];
  const float dx = q.x - p.x, dy = q.y - p.y, dz = q.z - p.z, r2 = dx * dx + dy * dy + dz * dz;
  if (q.w < 0.f || r2 == 0.f || !disp_within(r2, rc2, rc2d, xd, i, j)) return false;
  const double *a = xd + 3 * (size_t)i, *b = xd + 3 * (size_t)j;
  if (!disp3_later(b[0] - a[0], b[1] - a[1], b[2] - a[2])) return false;
  const int sj = (int)q.w;
  const float2 c = cs[si * ns + sj];
  nb->d = make_float4(dx, dy, dz, r2);
  nb->isa = rsqrtf(r2);
  nb->w = c.x;
  nb->lq = __log2f(c.y * nb->isa);
  nb->sp = sj;
  nb->idx = j;
  nb->s = 1.f, nb->q = 0.f;
  if (sw > 0.f && r2 > r_on * r_on) {
    float ds;
    nb->s = disp3_switch(r2 * nb->isa, r_on, sw, &ds);
    nb->q = 0.5f * ds * nb->isa;
  }
  return true;
}

/* The triple (i, j, k) of i's later neighbours J, K: false when r_jk is out of range; else its
 * energy e, the derivatives of e by the squared sides g (ij, ik, jk) and d_jk = x_k - x_j;
 * weighed by the smooth cutoff (width sw below rc) where sw > 0 */
__device__ __forceinline__ bool disp3_triple(const Disp3Nb &J, const Disp3Nb &K, const float2 *cs,
                                             int ns, float rc2, double rc2d,
                                             const double *xd, float alp3, float rc, float sw,
                                             float *e, float3 *g, float3 *djk) {
  *djk = make_float3(K.d.x - J.d.x, K.d.y - J.d.y, K.d.z - J.d.z);
  const float a = J.d.w, b = K.d.w, c = djk->x * djk->x + djk->y * djk->y + djk->z * djk->z;
  if (c == 0.f || !disp_within(c, rc2, rc2d, xd, J.idx, K.idx)) return false;
  const float2 pjk = cs[J.sp * ns + K.sp];
  const float rs = rsqrtf(c), c9 = J.w * K.w * pjk.x;
  const float ir1 = J.isa * K.isa * rs, ir3 = ir1 * ir1 * ir1, ir5 = ir3 * ir1 * ir1;
  const float u = a + c - b, v = a - c + b, t = -a + c + b, uvt = u * v * t;
  const float ang = 0.375f * uvt * ir5 + ir3;
  const float q = exp2f(alp3 * (J.lq + K.lq + __log2f(pjk.y * rs)));
  const float fd = 1.f / (1.f + 6.f * q), fq = fd * fd * 3.f * q * alp3;
  const float ia = J.isa * J.isa, ib = K.isa * K.isa, ic = rs * rs;
  *e = c9 * ang * fd;
  g->x = c9 * ((0.375f * (v * t + u * t - u * v - 2.5f * uvt * ia) * ir5 - 1.5f * ia * ir3) * fd + ang * fq * ia);
  g->y = c9 * ((0.375f * (-v * t + u * t + u * v - 2.5f * uvt * ib) * ir5 - 1.5f * ib * ir3) * fd + ang * fq * ib);
  g->z = c9 * ((0.375f * (v * t - u * t + u * v - 2.5f * uvt * ic) * ir5 - 1.5f * ic * ir3) * fd + ang * fq * ic);
  if (sw > 0.f) { /* e s_a s_b s_c; d s_a / da = s'(r_a) / (2 r_a): the sides from i (J, K)
                   * were weighed once per neighbour (disp3_load), the side j-k here */
    float sc = 1.f, qc = 0.f;
    const float r_on = rc - sw;
    if (c > r_on * r_on) {
      float dc;
      sc = disp3_switch(c * rs, r_on, sw, &dc);
      qc = 0.5f * dc * rs;
    }
    const float e0 = *e, ss = J.s * K.s * sc;
    *e = e0 * ss;
    g->x = g->x * ss + e0 * J.q * K.s * sc;
    g->y = g->y * ss + e0 * K.q * J.s * sc;
    g->z = g->z * ss + e0 * qc * J.s * K.s;
  }
  return true;
}

/* A triple's results: the forces on i, j, k (-de/dx) and the virial W = sum x (x) F, of which
 * each atom takes a third (as its energy) */
struct Disp3Out {
  float fi[3], fj[3], fk[3], w[6];
};
__device__ __forceinline__ void disp3_forces(const Disp3Nb &J, const Disp3Nb &K, float3 g,
                                             float3 djk, Disp3Out *o) {
  const float dj[3] = {J.d.x, J.d.y, J.d.z}, dk[3] = {K.d.x, K.d.y, K.d.z},
              dl[3] = {djk.x, djk.y, djk.z};
  for (int x = 0; x < 3; x++) {
    o->fi[x] = 2.f * (g.x * dj[x] + g.y * dk[x]);
    o->fj[x] = 2.f * (g.z * dl[x] - g.x * dj[x]);
    o->fk[x] = -o->fi[x] - o->fj[x];
  }
  const int ax[6] = {0, 1, 2, 0, 0, 1}, bx[6] = {0, 1, 2, 1, 2, 2};
  for (int q = 0; q < 6; q++)
    o->w[q] = -2.f * (g.x * dj[ax[q]] * dj[bx[q]] + g.y * dk[ax[q]] * dk[bx[q]] +
                      g.z * dl[ax[q]] * dl[bx[q]]);
}

/* Atom `idx`'s share of a triple, f (3), e, w (6, when vatom), added atomically to the global
 * arrays (the fallback's j and k, and every slot at the end) */
__device__ __forceinline__ void disp3_add_global(int idx, const float *f, float e, const float *w,
                                                 float *force, float *eatom, float *vatom) {
  for (int x = 0; x < 3; x++) atomicAdd(&force[3 * (size_t)idx + x], f[x]);
  atomicAdd(&eatom[idx], e);
  if (vatom)
    for (int q = 0; q < 6; q++) atomicAdd(&vatom[6 * (size_t)idx + q], w[q]);
}

/* Shared memory of one warp: the gathered neighbours (three float4 each) and their slots' sums
 * (component-major: fx fy fz e, then the virial's six when asked) */
__host__ __device__ inline size_t disp3_warp_bytes(int cap, bool vatom) {
  return (size_t)cap * (3 * sizeof(float4) + (vatom ? 10 : 4) * sizeof(float));
}

template <bool VATOM>
__global__ void __launch_bounds__(32 * DISP3_WARPS)
    k_dispersion3(const char *stage, int n_local, float rc, double rc2d, float alp3, float sw,
                  int n_species,
                  const float2 *coef, int cap, int max_disp, const int *disp_n,
                  const int *disp_j, float *force, float *eatom, float *vatom, double *sums) {
  extern __shared__ float4 disp3_smem[];
  __shared__ float2 cs[MLFF_CUDA_MAX_ELEMENTS * MLFF_CUDA_MAX_ELEMENTS];
  __shared__ float part[DISP3_WARPS][7];
  for (int k = threadIdx.x; k < n_species * n_species; k += blockDim.x) cs[k] = coef[k];
  __syncthreads();
  constexpr int NA = VATOM ? 10 : 4; /* each slot's sums */
  const int lane = threadIdx.x % 32, w = threadIdx.x / 32;
  const int i = blockIdx.x * DISP3_WARPS + w;
  const StepHeader *h = (const StepHeader *)stage;
  const float4 *pos = (const float4 *)(stage + sizeof(StepHeader));
  const double *xd = stage_xd(stage, h->meta.x);
  const float rc2 = rc * rc;
  float4 *nd = (float4 *)((char *)disp3_smem + w * disp3_warp_bytes(cap, VATOM));
  float4 *na = nd + cap;                 /* isa, w, lq, species */
  int4 *nx = (int4 *)(na + cap);         /* atom index, s, q (as bits), unused */
  float *acc = (float *)(nx + cap);      /* [NA][cap] */
  const float r_on = rc - sw;
  float own[10] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0}; /* i's: e (whole triples), f[3], w[6] */
  const int si = i < n_local ? (int)pos[i].w : -1;
  if (si >= 0) {
    const float4 p = pos[i];
    const int n = disp_n[i];
    const int *list = disp_j + (size_t)i * max_disp;
    int m = 0; /* gather the later neighbours in range, in list order */
    for (int k0 = 0; k0 < n; k0 += 32) {
      Disp3Nb b;
      const bool ok = k0 + lane < n &&
                      disp3_load(pos, xd, i, p, si, list[k0 + lane], rc2, rc2d, cs, n_species,
                                 r_on, sw, &b);
      const unsigned in = __ballot_sync(0xffffffffu, ok);
      const int slot = m + __popc(in & ((1u << lane) - 1u));
      if (ok && slot < cap) {
        nd[slot] = b.d;
        na[slot] = make_float4(b.isa, b.w, b.lq, __int_as_float(b.sp));
        nx[slot] = make_int4(b.idx, __float_as_int(b.s), __float_as_int(b.q), 0);
        for (int q = 0; q < NA; q++) acc[q * cap + slot] = 0.f;
      }
      m += __popc(in);
    }
    __syncwarp();
    if (m <= cap) {
      auto slot_nb = [&](int s) {
        const float4 a = na[s];
        Disp3Nb b;
        b.d = nd[s], b.isa = a.x, b.w = a.y, b.lq = a.z, b.sp = __float_as_int(a.w);
        const int4 x = nx[s];
        b.idx = x.x, b.s = __int_as_float(x.y), b.q = __int_as_float(x.z);
        return b;
      };
      /* rows j in turn (the whole warp), the lanes across k > j: in a row every lane has its
       * own k, so k's shares go to its slot without atomics (shared-memory float atomics are
       * compare-and-swap loops: a first version with them was 1.8x slower than evaluating
       * every triple three times); j's shares are summed over the lanes at the row's end */
      for (int j = 0; j < m - 1; j++) {
        const Disp3Nb J = slot_nb(j);
        float jsum[10] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0}; /* j's shares: f[3], e, w[6] */
        for (int k = j + 1 + lane; k < m; k += 32) {
          const Disp3Nb K = slot_nb(k);
          float e;
          float3 g, djk;
          if (!disp3_triple(J, K, cs, n_species, rc2, rc2d, xd, alp3, rc, sw, &e, &g, &djk)) continue;
          Disp3Out o;
          disp3_forces(J, K, g, djk, &o);
          const float e3 = e * (1.f / 3.f);
          own[0] += e;
          for (int x = 0; x < 3; x++) {
            own[1 + x] += o.fi[x];
            jsum[x] += o.fj[x];
            acc[x * cap + k] += o.fk[x];
          }
          jsum[3] += e3;
          acc[3 * cap + k] += e3;
          for (int q = 0; q < 6; q++) own[4 + q] += o.w[q];
          if (VATOM)
            for (int q = 0; q < 6; q++) {
              jsum[4 + q] += o.w[q] * (1.f / 3.f);
              acc[(4 + q) * cap + k] += o.w[q] * (1.f / 3.f);
            }
        }
        for (int q = 0; q < NA; q++) {
          float v = jsum[q];
          for (int off = 16; off; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
          if (lane == 0) acc[q * cap + j] += v;
        }
        __syncwarp(); /* the next row's lanes write other lanes' slots of this one */
      }
      __syncwarp();
      for (int s = lane; s < m; s += 32) { /* the slots to the global arrays */
        float f[3] = {acc[s], acc[cap + s], acc[2 * cap + s]}, wv[6] = {0, 0, 0, 0, 0, 0};
        if (VATOM)
          for (int q = 0; q < 6; q++) wv[q] = acc[(4 + q) * cap + s];
        disp3_add_global(nx[s].x, f, acc[3 * cap + s], wv, force, eatom, VATOM ? vatom : nullptr);
      }
    } else { /* too many to gather: the same sums from the list, j and k straight to global */
      for (int jj = 0; jj < n; jj++) {
        Disp3Nb J;
        if (!disp3_load(pos, xd, i, p, si, list[jj], rc2, rc2d, cs, n_species, r_on, sw, &J)) continue;
        for (int kk = jj + 1 + lane; kk < n; kk += 32) {
          Disp3Nb K;
          float e;
          float3 g, djk;
          if (!disp3_load(pos, xd, i, p, si, list[kk], rc2, rc2d, cs, n_species, r_on, sw, &K) ||
              !disp3_triple(J, K, cs, n_species, rc2, rc2d, xd, alp3, rc, sw, &e, &g, &djk))
            continue;
          Disp3Out o;
          disp3_forces(J, K, g, djk, &o);
          own[0] += e;
          for (int x = 0; x < 3; x++) own[1 + x] += o.fi[x];
          for (int q = 0; q < 6; q++) own[4 + q] += o.w[q], o.w[q] *= 1.f / 3.f;
          disp3_add_global(J.idx, o.fj, e / 3.f, o.w, force, eatom, VATOM ? vatom : nullptr);
          disp3_add_global(K.idx, o.fk, e / 3.f, o.w, force, eatom, VATOM ? vatom : nullptr);
        }
      }
    }
  }
  /* i's own: whole triples into the block's sums, a third of their energy and virial to i */
  for (int q = 0; q < 10; q++)
    for (int off = 16; off; off >>= 1) own[q] += __shfl_xor_sync(0xffffffffu, own[q], off);
  if (lane == 0) {
    if (si >= 0) {
      float w3[6];
      for (int q = 0; q < 6; q++) w3[q] = own[4 + q] * (1.f / 3.f);
      disp3_add_global(i, own + 1, own[0] * (1.f / 3.f), w3, force, eatom, VATOM ? vatom : nullptr);
    }
    part[w][0] = own[0];
    for (int q = 0; q < 6; q++) part[w][1 + q] = own[4 + q];
  }
  __syncthreads();
  if (threadIdx.x < 7) {
    double s = 0.0;
    for (int k = 0; k < DISP3_WARPS; k++) s += part[k][threadIdx.x];
    atomicAdd(&sums[threadIdx.x], s);
  }
}

/* the later neighbours a warp gathers: DISP3_CAP, or fewer (MLFF_GPU_DISP3_CAP, so that a test
 * reaches the fallback) */
static int disp3_cap(const mlff_cuda *g) {
  const int k = g->knobs.disp3_cap;
  return k > 0 && k < DISP3_CAP ? k : DISP3_CAP;
}

mlff_cuda_status dispersion_setup(mlff_cuda *g, const mlff_cuda_model *m) {
  g->disp2_rc = (float)m->disp_cutoff;
  g->disp2_rc2d = m->disp_cutoff * m->disp_cutoff;
  g->coul_rc = (float)m->coul_cutoff;
  g->disp_rc = fmaxf(g->disp2_rc, g->coul_rc); /* the long-range terms' list */
  if (g->disp_rc <= 0.f) return MLFF_CUDA_OK;
  const int ns = m->n_elements;
  if (g->coul_rc > 0.f) {
    float qq[MLFF_CUDA_MAX_ELEMENTS * MLFF_CUDA_MAX_ELEMENTS], self_e[MLFF_CUDA_MAX_ELEMENTS];
    for (int a = 0; a < ns; a++) {
      self_e[a] = (float)m->coul_self[a];
      for (int b = 0; b < ns; b++) qq[a * ns + b] = (float)m->coul_qq[a][b];
    }
    g->coul_alpha = (float)m->coul_alpha;
    g->coul_es = (float)m->coul_e_shift, g->coul_fs = (float)m->coul_f_shift;
    if (cudaMalloc(&g->d_coul_qq, sizeof qq) != cudaSuccess ||
        cudaMemcpy(g->d_coul_qq, qq, sizeof qq, cudaMemcpyHostToDevice) != cudaSuccess ||
        cudaMalloc(&g->d_coul_self, sizeof self_e) != cudaSuccess ||
        cudaMemcpy(g->d_coul_self, self_e, sizeof self_e, cudaMemcpyHostToDevice) != cudaSuccess) {
      cudaGetLastError();
      return fail(g, MLFF_CUDA_ERR_DEVICE, "cannot set up the electrostatics on the GPU");
    }
  }
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
  g->disp3_sw = (float)m->disp3_switch;
  g->disp3_rc2d = m->disp3_cutoff * m->disp3_cutoff;
  if (g->disp3_rc > 0.f) {
    float2 c3[MLFF_CUDA_MAX_ELEMENTS * MLFF_CUDA_MAX_ELEMENTS];
    for (int a = 0; a < ns; a++)
      for (int b = 0; b < ns; b++)
        c3[a * ns + b] = make_float2((float)m->disp3_w[a][b], (float)m->disp3_r0[a][b]);
    const size_t smem = DISP3_WARPS * disp3_warp_bytes(DISP3_CAP, true);
    if (cudaMalloc(&g->d_disp3_coef, sizeof c3) != cudaSuccess ||
        cudaMemcpy(g->d_disp3_coef, c3, sizeof c3, cudaMemcpyHostToDevice) != cudaSuccess ||
        set_smem_limit((const void *)k_dispersion3<true>, smem, g->device) != cudaSuccess ||
        set_smem_limit((const void *)k_dispersion3<false>, smem, g->device) != cudaSuccess) {
      cudaGetLastError();
      return fail(g, MLFF_CUDA_ERR_DEVICE, "cannot set up the three-body dispersion on the GPU");
    }
  }
  /* its pairs come from its own list, which the one-kernel paths do not make */
  g->no_fused = 1;
  return MLFF_CUDA_OK;
}

void dispersion_free(mlff_cuda *g) {
  cudaFree(g->d_coul_qq);
  cudaFree(g->d_coul_self);
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
  const CoulArgs ca = {g->coul_rc, g->coul_alpha, g->coul_es, g->coul_fs, g->d_coul_qq,
                       g->d_coul_self};
  k_dispersion<<<blocks, 32 * DISP_WARPS, 0, g->stream>>>(
      g->d_stage, n_local, g->disp2_rc, g->disp2_rc2d, g->n_elements, g->d_disp_coef, ca,
      g->disp_max,
      g->d_disp_n, g->d_disp_j, g->d_force, g->d_eatom, want_vatom ? g->d_vatom : nullptr,
      g->d_sums);
  mark(g, g->coul_rc > 0.f ? "dispersion and electrostatics" : "dispersion");
  if (g->disp3_rc > 0.f) {
    const int blocks3 = (n_local + DISP3_WARPS - 1) / DISP3_WARPS, cap = disp3_cap(g);
    const size_t smem = DISP3_WARPS * disp3_warp_bytes(cap, want_vatom);
    auto kernel = want_vatom ? k_dispersion3<true> : k_dispersion3<false>;
    kernel<<<blocks3, 32 * DISP3_WARPS, smem, g->stream>>>(
        g->d_stage, n_local, g->disp3_rc, g->disp3_rc2d, g->disp3_alp / 3.f, g->disp3_sw,
        g->n_elements,
        g->d_disp3_coef,
        cap, g->disp_max, g->d_disp_n, g->d_disp_j, g->d_force, g->d_eatom,
        want_vatom ? g->d_vatom : nullptr, g->d_sums);
    mark(g, "dispersion three-body");
  }
}
