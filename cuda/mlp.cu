/* mlp.cu — the per-element networks of the general path, forward and backward to dE/dG, with
 * the atoms' energies: for the shipped shape one kernel with the activations in registers
 * (k_mlp_regs, FP16 or FP32 as three TF32 products); for other shapes with fp16 one kernel
 * with the activations in shared memory (k_mlp_fp16), else a tiled FP32 GEMM per layer
 * (k_gemm) and the output unit (k_output). */
#include <mma.h>

#include <type_traits>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"

/* ---- the general kernels: a GEMM per layer ----------------------------------------------- */

struct LayerArgs {
  const float *W[MLFF_CUDA_MAX_ELEMENTS];  /* per element, [out][in] */
  const float *b[MLFF_CUDA_MAX_ELEMENTS];
};

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
  int n_layers, sizes[MLFF_CUDA_MAX_LAYERS + 1], act;
  int weights_shared; /* copy the element's half weights into shared memory (mlp_weight_words) */
  float scale, e0[MLFF_CUDA_MAX_ELEMENTS];
  const __half *Wh[MLFF_CUDA_MAX_ELEMENTS][MLFF_CUDA_MAX_LAYERS]; /* fp16 yes */
  const float *W[MLFF_CUDA_MAX_ELEMENTS][MLFF_CUDA_MAX_LAYERS];   /* fp16 no */
  const float *b[MLFF_CUDA_MAX_ELEMENTS][MLFF_CUDA_MAX_LAYERS];
  const float *wout[MLFF_CUDA_MAX_ELEMENTS]; /* output unit's weights (float) and bias */
  float bout[MLFF_CUDA_MAX_ELEMENTS];
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
__device__ __forceinline__ void tile_energies(const MlpArgs &M, int e, float y0, float y8,
                                              int r0, int g, int t, bool ok0, bool ok8,
                                              const int *row_atom, float *eatom,
                                              double &e_warp) {
  for (int off = 1; off < 4; off <<= 1) {
    y0 += __shfl_xor_sync(0xffffffffu, y0, off);
    y8 += __shfl_xor_sync(0xffffffffu, y8, off);
  }
  if (t == 0) {
    const float en0 = M.scale * (y0 + M.bout[e]) + M.e0[e],
                en8 = M.scale * (y8 + M.bout[e]) + M.e0[e];
    if (ok0) { eatom[row_atom[r0 + g]] += en0; e_warp += en0; }
    if (ok8) { eatom[row_atom[r0 + g + 8]] += en8; e_warp += en8; }
  }
}
/* dE/dG of a 16-row tile from the last backward product's accumulators (rows g, g + 8;
 * columns 2t, 2t + 1 of every 8) */
template <int D>
__device__ __forceinline__ void store_tile_rows(const float (&acc)[D / 8][4], float *dG, int r0,
                                                int g, int t, bool ok0, bool ok8) {
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

/* One chunk of a warp's products: acc[c] += fa B_c for its nc weight tiles c (16 x 16 half,
 * leading dimension ld) from column c0 + 16 c, row k0 on; all of the step's weight tiles
 * requested before the first product. FORWARD: B = W^T (W [O][K] read column-major). */
using Acc16 = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;
using A16 = wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major>;
template <bool FORWARD>
__device__ __forceinline__ void mma_tiles(Acc16 (&acc)[MLP_CHUNK], const A16 &fa, const __half *W,
                                          int ld, int c0, int k0, int nc) {
  using Layout = typename std::conditional<FORWARD, wmma::col_major, wmma::row_major>::type;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, Layout> fb[MLP_CHUNK];
#pragma unroll
  for (int c = 0; c < MLP_CHUNK; c++)
    if (c < nc)
      wmma::load_matrix_sync(fb[c], FORWARD ? W + (size_t)(c0 + 16 * c) * ld + k0
                                            : W + (size_t)k0 * ld + c0 + 16 * c, ld);
#pragma unroll
  for (int c = 0; c < MLP_CHUNK; c++)
    if (c < nc) wmma::mma_sync(acc[c], fa, fb[c], acc[c]);
}

__global__ void __launch_bounds__(32 * MLP_MAX_WARPS, 1)
k_mlp_fp16(MlpArgs M, const int *offset, const int *row_atom, const float *G, float *dG,
           float *eatom, double *sums) {
  extern __shared__ float sh[];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, e = blockIdx.y, nw = blockDim.x / 32;
  const int L = M.n_layers, r_end = offset[e + 1];
  if (offset[e] + blockIdx.x * nw * 16 >= r_end) return; /* no tile of this element for us */
  /* the layers' weights W_l [O][K] and their row strides: shared copies or L2 */
  const __half *Wl[MLFF_CUDA_MAX_LAYERS];
  int ldw[MLFF_CUDA_MAX_LAYERS];
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
  __half *Ah[MLFF_CUDA_MAX_LAYERS], *Dh[MLFF_CUDA_MAX_LAYERS];
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
        Acc16 acc[MLP_CHUNK];
#pragma unroll
        for (int c = 0; c < MLP_CHUNK; c++) wmma::fill_fragment(acc[c], 0.f);
        for (int k0 = 0; k0 < K; k0 += 16) {
          A16 fa;
          if (l == 1) { /* the descriptor rows, MLP_GCHUNK columns at a time, as half (past the
                         * end: 0) */
            if (k0 % MLP_GCHUNK == 0) {
              const int w4 = min(MLP_GCHUNK, K - k0) / 4;
              __syncwarp();
#pragma unroll 8
              for (int idx = lane; idx < 16 * w4; idx += 32) {
                const int r = idx / w4, k = 4 * (idx % w4);
                const float4 v = r0 + r < r_end
                                     ? *(const float4 *)(G + (size_t)(r0 + r) * K + k0 + k)
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
          mma_tiles<true>(acc, fa, W, ld, c0, k0, nc);
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
            eatom[row_atom[r0 + r]] += en;
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
        Acc16 acc[MLP_CHUNK];
#pragma unroll
        for (int c = 0; c < MLP_CHUNK; c++) wmma::fill_fragment(acc[c], 0.f);
        for (int k0 = 0; k0 < O; k0 += 16) {
          A16 fa;
          wmma::load_matrix_sync(fa, dZ + k0, O + 8);
          mma_tiles<false>(acc, fa, W, ld, c0, k0, nc);
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
              Ah[l - 1][r * (K + 8) + col] =
                  __float2half(v * __half2float(Dh[l - 1][r * (K + 8) + col]));
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
/* ---- the shipped shape: the network in registers ---------------------------------------- */

/* The network of the shipped shape (D -> H1 -> H2 -> H3 -> 1 with compile-time widths), its
 * activations never leaving registers: mma.sync, whose accumulator layout (PTX ISA: thread
 * (g = lane / 4, t = lane % 4) holds rows g and g + 8, columns 2t and 2t + 1 of an 8-column
 * tile) is the layout of the next product's A operand (as FlashAttention passes P to P V):
 * bias, activation, act' and the backward's act' products all happen on a thread's own
 * elements, with no shared-memory round trip and no warp barrier. A warp owns 16 rows; a block
 * serves one element, its weights (rows padded by 8: conflict-free loads) copied once into
 * shared memory. One kernel body (k_mlp_regs), two precisions (the Mma policies below): FP16
 * operands, or FP32 as three TF32 products. k_mlp_fp16 and the GEMMs serve other shapes. */
#define MLPR_WARPS 8

/* FP16: mma.sync m16n8k16 (FP32 accumulation) on half operands; two accumulator tiles side by
 * side are one A chunk of 16 columns; the weights pre-rounded to half, loaded by ldmatrix. */
__device__ __forceinline__ uint32_t pack_half2(float lo, float hi) {
  __half2 h = __floats2half2_rn(lo, hi);
  return *(uint32_t *)&h;
}
__device__ __forceinline__ float2 unpack_half2(uint32_t v) {
  return __half22float2(*(__half2 *)&v);
}
struct MmaFp16 {
  using Weight = __half;
  static constexpr int KC = 16; /* columns of one A chunk */
  struct Frag { uint32_t r[4]; }; /* A operand of one k16 chunk: 16 rows x 16 columns, half */
  static __device__ __forceinline__ const __half *weights(const MlpArgs &M, int e, int l) {
    return M.Wh[e][l];
  }
  /* rows g (c0, c1) and g + 8 (c2, c3), columns 2t, 2t + 1 of 8-column tile j, into A chunks */
  static __device__ __forceinline__ void put(Frag *a, int j, float c0, float c1, float c2,
                                             float c3) {
    a[j / 2].r[2 * (j & 1)] = pack_half2(c0, c1);
    a[j / 2].r[2 * (j & 1) + 1] = pack_half2(c2, c3);
  }
  /* what put stored (rounded) */
  static __device__ __forceinline__ void get(const Frag *a, int j, float (&c)[4]) {
    const float2 d01 = unpack_half2(a[j / 2].r[2 * (j & 1)]);
    const float2 d23 = unpack_half2(a[j / 2].r[2 * (j & 1) + 1]);
    c[0] = d01.x; c[1] = d01.y; c[2] = d23.x; c[3] = d23.y;
  }
  static __device__ __forceinline__ void mma16816(float (&c)[4], const Frag &a, uint32_t b0,
                                                  uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, "
                 "{%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a.r[0]), "r"(a.r[1]), "r"(a.r[2]), "r"(a.r[3]), "r"(b0), "r"(b1));
  }
  template <bool TRANS>
  static __device__ __forceinline__ void ldmatrix_x4(uint32_t (&b)[4], const __half *p) {
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
  static __device__ __forceinline__ void forward(const Frag (&a)[K / 16], const __half *W,
                                                 float (&acc)[N / 8][4], int lane) {
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
  static __device__ __forceinline__ void backward(const Frag (&a)[O / 16], const __half *W,
                                                  float (&acc)[K / 8][4], int lane) {
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
};

/* FP32 on tensor cores, to FP32 accuracy: each product is three TF32 products (a_hi b_hi +
 * a_hi b_lo + a_lo b_hi, hi = x rounded to TF32, lo = the rest; the dropped a_lo b_lo is
 * ~2^-22 of a term), mma.sync m16n8k8. Its accumulator (thread (g, t): rows g, g + 8, columns
 * 2t, 2t + 1) becomes the next product's A operand (columns t, t + 4) by reading column 2t as
 * k = t and 2t + 1 as k = t + 4 within every 8 columns, in A and in the weights alike (a sum
 * does not care about its order). The weights stay FP32 (rows padded by 8 floats), and so
 * does act'. */
struct MmaTf32x3 {
  using Weight = float;
  static constexpr int KC = 8;
  /* A operand of one k8 chunk: (g, 2t), (g + 8, 2t), (g, 2t + 1), (g + 8, 2t + 1) */
  struct Frag { float r[4]; };
  static __device__ __forceinline__ const float *weights(const MlpArgs &M, int e, int l) {
    return M.W[e][l];
  }
  /* accumulator tile j (c0..c3) -> A chunk order */
  static __device__ __forceinline__ void put(Frag *a, int j, float c0, float c1, float c2,
                                             float c3) {
    Frag f;
    f.r[0] = c0; f.r[1] = c2; f.r[2] = c1; f.r[3] = c3;
    a[j] = f;
  }
  static __device__ __forceinline__ void get(const Frag *a, int j, float (&c)[4]) {
    c[0] = a[j].r[0]; c[1] = a[j].r[2]; c[2] = a[j].r[1]; c[3] = a[j].r[3];
  }
  static __device__ __forceinline__ uint32_t to_tf32(float x) {
    uint32_t u;
    asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(u) : "f"(x));
    return u;
  }
  static __device__ __forceinline__ void split_tf32(float x, uint32_t &hi, uint32_t &lo) {
    hi = to_tf32(x);
    lo = to_tf32(x - __uint_as_float(hi));
  }
  static __device__ __forceinline__ void mma1688(float (&c)[4], const uint32_t (&a)[4],
                                                 uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, "
                 "{%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
  /* c += a b in three TF32 products; b0, b1: this thread's two weights */
  static __device__ __forceinline__ void mma_3xtf32(float (&c)[4], const uint32_t (&ah)[4],
                                                    const uint32_t (&al)[4], float b0, float b1) {
    uint32_t bh0, bl0, bh1, bl1;
    split_tf32(b0, bh0, bl0);
    split_tf32(b1, bh1, bl1);
    mma1688(c, al, bh0, bh1);
    mma1688(c, ah, bl0, bl1);
    mma1688(c, ah, bh0, bh1);
  }
  static __device__ __forceinline__ void split_frag(const Frag &a, uint32_t (&ah)[4],
                                                    uint32_t (&al)[4]) {
#pragma unroll
    for (int q = 0; q < 4; q++) split_tf32(a.r[q], ah[q], al[q]);
  }
  /* acc[N/8] = A (16 x K) times W^T, W [N][K + 8] in shared memory */
  template <int K, int N>
  static __device__ __forceinline__ void forward(const Frag (&a)[K / 8], const float *W,
                                                 float (&acc)[N / 8][4], int lane) {
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
  static __device__ __forceinline__ void backward(const Frag (&a)[O / 8], const float *W,
                                                  float (&acc)[K / 8][4], int lane) {
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
};

/* bias and activation of a hidden layer's accumulators: the activations as the next product's
 * A operand, act' in the same layout */
template <class Mma, int N>
__device__ __forceinline__ void hidden_out(int act, const float (&acc)[N / 8][4],
                                           const float *bias,
                                           typename Mma::Frag (&a)[N / Mma::KC],
                                           typename Mma::Frag (&d)[N / Mma::KC], int lane) {
#pragma unroll
  for (int j = 0; j < N / 8; j++) {
    const float2 bb = *(const float2 *)(bias + 8 * j + 2 * (lane % 4));
    float v[4], dv[4];
#pragma unroll
    for (int q = 0; q < 4; q++)
      v[q] = act_and_grad(act, acc[j][q] + (q & 1 ? bb.y : bb.x), &dv[q]);
    Mma::put(a, j, v[0], v[1], v[2], v[3]);
    Mma::put(d, j, dv[0], dv[1], dv[2], dv[3]);
  }
}
/* the backward's accumulators times act' (same layout) as the next backward product's A
 * operand */
template <class Mma, int N>
__device__ __forceinline__ void times_act_grad(const float (&acc)[N / 8][4],
                                               const typename Mma::Frag (&d)[N / Mma::KC],
                                               typename Mma::Frag (&a)[N / Mma::KC]) {
#pragma unroll
  for (int j = 0; j < N / 8; j++) {
    float dv[4];
    Mma::get(d, j, dv);
    Mma::put(a, j, acc[j][0] * dv[0], acc[j][1] * dv[1], acc[j][2] * dv[2], acc[j][3] * dv[3]);
  }
}

template <class Mma, int D, int H1, int H2, int H3>
__global__ void __launch_bounds__(32 * MLPR_WARPS, 1)
k_mlp_regs(MlpArgs M, const int *offset, const int *row_atom, const float *G, float *dG,
           float *eatom, double *sums) {
  using Weight = typename Mma::Weight;
  using Frag = typename Mma::Frag;
  constexpr int KC = Mma::KC;
  extern __shared__ float sh[];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, e = blockIdx.y;
  const int g = lane / 4, t = lane % 4, r_end = offset[e + 1];
  if (offset[e] + blockIdx.x * MLPR_WARPS * 16 >= r_end) return; /* no tile of this element */
  Weight *W1 = (Weight *)sh, *W2 = W1 + H1 * (D + 8), *W3 = W2 + H2 * (H1 + 8);
  copy_padded_rows(W1, Mma::weights(M, e, 0), H1, D);
  copy_padded_rows(W2, Mma::weights(M, e, 1), H2, H1);
  copy_padded_rows(W3, Mma::weights(M, e, 2), H3, H2);
  __syncthreads();
  const float *b1 = M.b[e][0], *b2 = M.b[e][1], *b3 = M.b[e][2], *wo = M.wout[e];
  double e_warp = 0.0;
  for (int r0 = offset[e] + (blockIdx.x * MLPR_WARPS + warp) * 16; r0 < r_end;
       r0 += gridDim.x * MLPR_WARPS * 16) {
    const bool ok0 = r0 + g < r_end, ok8 = r0 + g + 8 < r_end;
    Frag a1[H1 / KC], d1[H1 / KC], a2[H2 / KC], d2[H2 / KC], dz3[H3 / KC];
    {
      Frag a0[D / KC]; /* the descriptor rows g and g + 8 as the first product's A operand */
      const float *ga = G + (size_t)(r0 + g) * D + 2 * t, *gb = ga + 8 * (size_t)D;
#pragma unroll
      for (int j = 0; j < D / 8; j++) {
        const float2 z = make_float2(0.f, 0.f);
        const float2 x0 = ok0 ? __ldg((const float2 *)(ga + 8 * j)) : z;
        const float2 x1 = ok8 ? __ldg((const float2 *)(gb + 8 * j)) : z;
        Mma::put(a0, j, x0.x, x0.y, x1.x, x1.y);
      }
      float acc[H1 / 8][4];
      Mma::template forward<D, H1>(a0, W1, acc, lane);
      hidden_out<Mma, H1>(M.act, acc, b1, a1, d1, lane);
    }
    {
      float acc[H2 / 8][4];
      Mma::template forward<H1, H2>(a1, W2, acc, lane);
      hidden_out<Mma, H2>(M.act, acc, b2, a2, d2, lane);
    }
    {
      float acc[H3 / 8][4], y0 = 0.f, y8 = 0.f; /* rows g and g + 8 of the output unit */
      Mma::template forward<H2, H3>(a2, W3, acc, lane);
#pragma unroll
      for (int j = 0; j < H3 / 8; j++) {
        const float2 bb = *(const float2 *)(b3 + 8 * j + 2 * t);
        const float2 ww = *(const float2 *)(wo + 8 * j + 2 * t);
        float v[4], dv[4];
#pragma unroll
        for (int q = 0; q < 4; q++)
          v[q] = act_and_grad(M.act, acc[j][q] + (q & 1 ? bb.y : bb.x), &dv[q]);
        y0 += v[0] * ww.x + v[1] * ww.y;
        y8 += v[2] * ww.x + v[3] * ww.y;
        Mma::put(dz3, j, M.scale * ww.x * dv[0], M.scale * ww.y * dv[1], M.scale * ww.x * dv[2],
                 M.scale * ww.y * dv[3]);
      }
      tile_energies(M, e, y0, y8, r0, g, t, ok0, ok8, row_atom, eatom, e_warp);
    }
    {
      float acc[H2 / 8][4];
      Mma::template backward<H3, H2>(dz3, W3, acc, lane);
      times_act_grad<Mma, H2>(acc, d2, a2); /* dE/dZ2, over the activations */
    }
    {
      float acc[H1 / 8][4];
      Mma::template backward<H2, H1>(a2, W2, acc, lane);
      times_act_grad<Mma, H1>(acc, d1, a1); /* dE/dZ1 */
    }
    {
      float acc[D / 8][4];
      Mma::template backward<H1, D>(a1, W1, acc, lane);
      store_tile_rows<D>(acc, dG, r0, g, t, ok0, ok8);
    }
  }
  add_warp_energy(e_warp, lane, sums);
}

/* its one shape (two instances, one per precision): the shipped models' D, H1, H2, H3 */
#define MLPR_SHAPE 128, 128, 64, 64
static const int mlpr_shape[4] = {MLPR_SHAPE};
/* the element's weights in shared memory, rows padded by 8 elements: bytes of one element */
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
    if (lane == 0) eatom[row_atom[r]] += e_r; /* += : a committee's members add their shares */
    e_sum += e_r;
  }
  if (lane == 0) block_e[warp] = e_sum;
  __syncthreads();
  if (threadIdx.x == 0)
    atomicAdd(&sums[0], (double)(block_e[0] + block_e[1] + block_e[2] + block_e[3]));
}

/* ---- host ---------------------------------------------------------------------------- */

static LayerArgs layer_args(const mlff_cuda *g, int l) {
  LayerArgs L;
  memset(&L, 0, sizeof L);
  for (int e = 0; e < g->n_elements; e++) {
    L.W[e] = g->net[e].W[l];
    L.b[e] = g->net[e].b[l];
  }
  return L;
}

static MlpArgs mlp_args(const mlff_cuda *g) {
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

/* The register kernel of the context's precision */
static const void *mlp_regs_kernel(const mlff_cuda *g) {
  return g->fp16 ? (const void *)k_mlp_regs<MmaFp16, MLPR_SHAPE>
                 : (const void *)k_mlp_regs<MmaTf32x3, MLPR_SHAPE>;
}

mlff_cuda_status mlp_setup(mlff_cuda *g, const mlff_cuda_network *net) {
  const int device = g->device;
  mlff_cuda_status st = MLFF_CUDA_OK;
  /* the shipped shape: the network in one kernel, activations in registers (FP16, or FP32 as
   * three TF32 products); MLFF_GPU_MLP_REGS=0 takes the general kernels instead */
  g->mlp_regs = g->n_layers == 4 && !g->knobs.no_mlp_regs;
  for (int l = 0; l < 4 && g->mlp_regs; l++) g->mlp_regs = g->sizes[l] == mlpr_shape[l];
  if (g->mlp_regs &&
      set_smem_limit(mlp_regs_kernel(g), mlpr_smem_bytes(g->fp16 ? sizeof(__half) : sizeof(float)),
                     device) != cudaSuccess)
    g->mlp_regs = 0;
  if (!g->fp16) return st;
  /* FP16: the whole network in one kernel where D and the hidden widths are multiples of 16
   * (tensor-core tiles) and a block's warps fit in shared memory; weights rounded to half once */
  for (int l = 0; l < g->n_layers && !st; l++)
    if (g->sizes[l] % 16)
      st = fail(g, MLFF_CUDA_ERR_UNSUPPORTED, "fp16 yes runs the network on tensor-core tiles of "
                "16: the descriptor length and hidden widths must be multiples of 16, and %s is "
                "%d (use fp16 no)", l ? "a hidden width" : "the descriptor length", g->sizes[l]);
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
    st = fail(g, MLFF_CUDA_ERR_UNSUPPORTED, "fp16 yes: the FP16 network needs %zu bytes of "
              "shared memory per block, more than this GPU gives (use fp16 no)", g->mlp_smem);
  for (int e = 0; e < g->n_elements && !st; e++)
    for (int l = 0; l < g->n_layers - 1 && !st; l++) {
      size_t nw = (size_t)g->sizes[l + 1] * g->sizes[l];
      __half *h = (__half *)malloc(nw * sizeof(__half));
      if (!h) {
        st = fail(g, MLFF_CUDA_ERR_NOMEM, "out of memory");
        break;
      }
      for (size_t k = 0; k < nw; k++) h[k] = __float2half((float)net[e].W[l][k]);
      if (cudaMalloc(&g->net[e].Wh[l], nw * sizeof(__half)) != cudaSuccess ||
          cudaMemcpy(g->net[e].Wh[l], h, nw * sizeof(__half), cudaMemcpyHostToDevice) !=
              cudaSuccess)
        st = fail(g, MLFF_CUDA_ERR_DEVICE, "cannot upload the FP16 network to the GPU");
      free(h);
    }
  return st;
}

void enqueue_network(mlff_cuda *g, int n_local) {
  cudaStream_t s = g->stream;
  if (g->mlp_regs) { /* the shipped shape in one kernel: FP16, or FP32 as three TF32 products */
    int tiles = (n_local + 16 * MLPR_WARPS - 1) / (16 * MLPR_WARPS);
    /* one block per SM and element that takes tiles in turn (each copies its weights once) */
    dim3 grid(tiles < g->n_sm ? tiles : g->n_sm, g->n_elements);
    if (g->fp16)
      k_mlp_regs<MmaFp16, MLPR_SHAPE><<<grid, 32 * MLPR_WARPS, mlpr_smem_bytes(sizeof(__half)),
                                        s>>>(mlp_args(g), g->d_offset, g->d_row_atom, g->d_G,
                                             g->d_dG, g->d_eatom, g->d_sums);
    else
      k_mlp_regs<MmaTf32x3, MLPR_SHAPE><<<grid, 32 * MLPR_WARPS, mlpr_smem_bytes(sizeof(float)),
                                          s>>>(mlp_args(g), g->d_offset, g->d_row_atom, g->d_G,
                                               g->d_dG, g->d_eatom, g->d_sums);
    return;
  }
  if (g->fp16) { /* the whole FP16 network in one kernel */
    /* with shared weights, one block per SM and element that takes tiles in turn */
    int tiles = (n_local + 16 * g->mlp_warps - 1) / (16 * g->mlp_warps);
    if (g->mlp_weights_shared && tiles > g->n_sm) tiles = g->n_sm;
    dim3 grid(tiles, g->n_elements);
    k_mlp_fp16<<<grid, 32 * g->mlp_warps, g->mlp_smem, s>>>(mlp_args(g), g->d_offset,
                                                            g->d_row_atom, g->d_G, g->d_dG,
                                                            g->d_eatom, g->d_sums);
    return;
  }
  /* network: hidden layers forward */
  const float *A = g->d_G;
  for (int l = 1; l < g->n_layers; l++) {
    int K = g->sizes[l - 1], N = g->sizes[l];
    LayerArgs La = layer_args(g, l - 1);
    dim3 grid((N + TN - 1) / TN, (n_local + TM - 1) / TM, g->n_elements);
    k_gemm<true><<<grid, 256, 0, s>>>(La, g->d_offset, A, K, N, g->d_A[l], g->d_Z[l], nullptr,
                                      g->act);
    A = g->d_A[l];
  }
  int Lh = g->n_layers - 1, last = g->sizes[Lh];
  LayerArgs Lo = layer_args(g, g->n_layers - 1);
  k_output<<<(n_local + 4 * OUTPUT_ROWS - 1) / (4 * OUTPUT_ROWS), 128, 0, s>>>(
      Lo, g->d_offset, g->d_row_atom, n_local, A, g->d_Z[Lh], last, g->scale, g->d_e0,
      g->n_elements, g->d_bufA, g->d_eatom, g->d_sums);
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
}
