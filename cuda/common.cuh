/* common.cuh — private to cuda/: what more than one stage shares. The descriptor's constants
 * (AevParams), the staged positions' layout (StepHeader), and the device math that both the
 * general path (descriptor.cu) and the one-kernel step (fused_atom.cuh) evaluate: cutoff
 * function, radial and angular terms, pair gradients, force scatter, activations; and the
 * encoding of periodic image shifts (host and device). */
#ifndef MLFF_CUDA_COMMON_CUH
#define MLFF_CUDA_COMMON_CUH

#include <cuda_runtime.h>

#include "mlff_cuda.h"

#define MAX_D 1024            /* descriptor length the kernels support */
#define MAX_NB_LIMIT 512      /* neighbour capacity ceiling per atom */

/* Descriptor constants, by value in every kernel that needs them. */
struct AevParams {
  float Rcr, Rca, etaR, etaA, zeta;
  int nR, nA, nZ, nS, n_radial, D, zeta_m1;
  float muR[MLFF_CUDA_MAX_RADIAL_SHELLS], muA[MLFF_CUDA_MAX_ANGULAR_SHELLS];
  float cosZ[MLFF_CUDA_MAX_ANGLE_SECTIONS], sinZ[MLFF_CUDA_MAX_ANGLE_SECTIONS];
};

/* The staged positions: this header (the cell grid of this step), float4 (x, y, z,
 * species)[n_total] for the cell list and the cutoff test, then double (x, y, z)[n_total] from
 * which the kept pairs' displacements are taken: float32 positions a few hundred Å from the
 * corner (a large box, a batch of many structures) carry 1e-5 Å steps, relative force errors
 * of 1e-5 and more. */
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

/* Periodic images (make_images): image of atom i shifted by cell rows (sa, sb, sc), each in
 * {-1, 0, 1}, stored as the code (sa + 1) + 3 (sb + 1) + 9 (sc + 1) */
__host__ __device__ inline int image_code(int sa, int sb, int sc) {
  return (sa + 1) + 3 * (sb + 1) + 9 * (sc + 1);
}
/* y = x + sa a + sb b + sc c for the image of the given code in the cell (rows a, b, c) */
__host__ __device__ inline void image_position(const double *x, int code, const double *cell,
                                               double *y) {
  const double sa = code % 3 - 1, sb = code / 3 % 3 - 1, sc = code / 9 - 1;
  for (int d = 0; d < 3; d++) y[d] = x[d] + sa * cell[d] + sb * cell[3 + d] + sc * cell[6 + d];
}

/* Displacement x_j - x_i and its length, from the double positions. */
__device__ __forceinline__ float4 displacement(const double *xd, int i, int j) {
  double dx = xd[3 * (size_t)j] - xd[3 * (size_t)i],
         dy = xd[3 * (size_t)j + 1] - xd[3 * (size_t)i + 1],
         dz = xd[3 * (size_t)j + 2] - xd[3 * (size_t)i + 2];
  return make_float4((float)dx, (float)dy, (float)dz, (float)sqrt(dx * dx + dy * dy + dz * dz));
}

/* The float test keeps a margin; the double length decides (as the CPU path does). */
#define CUTOFF_MARGIN 1.0001f

__device__ __forceinline__ float fc_f(float r, float rc) {
  return 0.5f * cosf(3.14159265358979f * r / rc) + 0.5f;
}
__device__ __forceinline__ float dfc_f(float r, float rc) {
  return -0.5f * 3.14159265358979f / rc * sinf(3.14159265358979f * r / rc);
}

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
__device__ __forceinline__ void angle_terms(const AevParams &P, float cos_t, float *f1,
                                            float *df1) {
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

/* One angular pair's gradient g_j = cc d_k + aj d_j, g_k = cc d_j + ak d_k from its sums over
 * the terms: S = sum w f1 f2, S_c = sum w f1' f2 (f1' = d f1 / d cos), S_r = sum w f1 d f2 / d r;
 * cj, ck: the cutoff function and its derivative at rj, rk (Rca); ij, ik: 1/rj, 1/rk. */
__device__ __forceinline__ void pair_coefficients(float S, float S_c, float S_r, float2 cj,
                                                  float2 ck, float cos_t, float ij, float ik,
                                                  float &cc, float &aj, float &ak) {
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
  float f1[NZ ? NZ : MLFF_CUDA_MAX_ANGLE_SECTIONS];
  float df1[NZ ? NZ : MLFF_CUDA_MAX_ANGLE_SECTIONS];
  float f2[NA ? NA : MLFF_CUDA_MAX_ANGULAR_SHELLS];
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
__device__ __forceinline__ void pair_gradient(const AevParams &P, float4 dj, float4 dk,
                                              float2 cj, float2 ck, const float *wp, float *gr,
                                              int ja, int kb) {
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
__device__ __forceinline__ void scatter_forces(int start, int stride, int i, int n,
                                               const int *nj, const float4 *nd, const float *gr,
                                               float *force, float *vatom, float *vacc) {
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

/* The activation (MLFF_CUDA_ACT_*: SiLU, or CELU with alpha 0.1) and, in *dz, its derivative,
 * from one exponential */
__device__ __forceinline__ float act_and_grad(int act, float z, float *dz) {
  if (act == MLFF_CUDA_ACT_CELU) {
    if (z > 0.f) { *dz = 1.f; return z; }
    float e = __expf(z / 0.1f);
    *dz = e;
    return 0.1f * (e - 1.f);
  }
  float s = 1.f / (1.f + __expf(-z));
  *dz = s * (1.f + z * (1.f - s));
  return z * s;
}

/* The close-atom guard: atoms i and j (species si, sj) r Å apart against the table close
 * [ns][ns] (NULL: off); an offence is kept as one 64-bit key, the largest the closest (r over
 * its limit, its float bits inverted, above i), atomically in *guard */
__device__ __forceinline__ void guard_pair(const float *close, int ns, int si, int sj, float r,
                                           int i, unsigned long long *guard) {
  if (!close) return;
  const float c = close[si * ns + sj];
  if (r < c)
    atomicMax(guard, (unsigned long long)(0xffffffffu - __float_as_uint(r / c)) << 32 |
                         (unsigned)i);
}

#endif
