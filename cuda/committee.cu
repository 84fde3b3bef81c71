/* committee.cu — a committee's results on the general path (docs/model.md): each member's
 * backward pass leaves 1/K of its network's forces in its own buffer (its scale is divided by
 * K: context.h's Member); their sum is the mean, added to the step's forces before the
 * dispersion (common to all members) adds its own; at the step's end, after the images' are
 * folded, each member's forces become its whole forces (the step's, less the mean network
 * force, plus its own) and each atom's deviation sqrt(mean_k |F^k - mean F|^2) is written. */
#include "context.h"

__global__ void k_members_mean(int n3, int K, const float *mforce, float *force) {
  const int q = blockIdx.x * blockDim.x + threadIdx.x;
  if (q >= n3) return;
  float s = 0.f;
  for (int k = 0; k < K; k++) s += mforce[(size_t)k * n3 + q];
  force[q] += s;
}

__global__ void k_members_final(int n, int K, const float *force, float *mforce, float *dev) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const size_t n3 = 3 * (size_t)n;
  float mean[3] = {0.f, 0.f, 0.f}, ss = 0.f;
  for (int k = 0; k < K; k++)
    for (int x = 0; x < 3; x++) mean[x] += mforce[k * n3 + 3 * (size_t)i + x];
  for (int k = 0; k < K; k++)
    for (int x = 0; x < 3; x++) {
      float *f = &mforce[k * n3 + 3 * (size_t)i + x];
      const float d = K * *f - mean[x]; /* member k's network force less the mean */
      ss += d * d;
      *f = force[3 * (size_t)i + x] + d;
    }
  dev[i] = sqrtf(ss / K);
}

void enqueue_members_mean(mlff_cuda *g, int n_total) {
  const int n3 = 3 * n_total;
  k_members_mean<<<(n3 + 255) / 256, 256, 0, g->stream>>>(n3, g->n_members, g->d_mforce,
                                                          g->d_force);
}

void enqueue_members_final(mlff_cuda *g, int n_total) {
  k_members_final<<<(n_total + 255) / 256, 256, 0, g->stream>>>(n_total, g->n_members, g->d_force,
                                                                g->d_mforce, g->d_dev);
}
