/* latency_probe — what the smallest GPU step is made of on this machine, without mlff: the
 * floors under the one-benzene step. Prints JSON (medians of many repeats, microseconds):
 *   launch_sync_us     an empty kernel: cudaLaunchKernel + cudaStreamSynchronize
 *   graph_sync_us      the same kernel as a one-node CUDA graph: cudaGraphLaunch + sync
 *   host_read_us       one GPU load of pinned host memory (a chain of dependent loads / n)
 *   pingpong_us        host writes a number to pinned memory, one GPU thread (of a running
 *                      kernel) sees it and writes it back, the host sees that
 *   pingpong_fence_us  the same with __threadfence_system() before the answer
 *   pingpong_io_us     the same, the GPU also reading 528 bytes (a benzene's staged positions)
 *                      after the number and writing 256 bytes (its results) before the fence
 * Usage: latency_probe [REPEATS] */
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

static double now_us() {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

#define CK(call)                                                                 \
  do {                                                                           \
    cudaError_t e_ = (call);                                                     \
    if (e_ != cudaSuccess) {                                                     \
      fprintf(stderr, "latency_probe: %s: %s\n", #call, cudaGetErrorString(e_)); \
      exit(1);                                                                   \
    }                                                                            \
  } while (0)

__global__ void k_empty() {}

__global__ void k_chain(const volatile int *h, int n, long long *out) {
  long long t0, t1;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
  int idx = 0;
  for (int i = 0; i < n; i++) idx = h[idx];
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t1));
  out[0] = t1 - t0;
  out[1] = idx;
}

/* steps 1..n: wait for *go == i, optionally read words of stage and write words of results,
 * optionally fence, answer *ack = i */
__global__ void k_pong(const volatile int *go, volatile int *ack, int n, int fence, const int4 *stage,
                       int in_words, int4 *sink, int4 *results, int out_words) {
  __shared__ int4 buf[64];
  for (int i = 1; i <= n; i++) {
    if (threadIdx.x == 0)
      while (*go != i) {
      }
    __syncthreads();
    if (threadIdx.x < in_words) buf[threadIdx.x] = __ldcv(&stage[threadIdx.x]);
    __syncthreads();
    if (threadIdx.x < out_words) results[threadIdx.x] = buf[threadIdx.x % 64];
    if (fence) __threadfence_system();
    __syncthreads();
    if (threadIdx.x == 0) *ack = i;
  }
  if (threadIdx.x == 0 && sink) sink[0] = buf[0];
}

static double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int main(int argc, char **argv) {
  const int reps = argc > 1 ? atoi(argv[1]) : 2000;
  cudaStream_t s;
  CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  std::vector<double> t(reps);
  for (int w = 0; w < 100; w++) k_empty<<<1, 32, 0, s>>>();
  CK(cudaStreamSynchronize(s));
  for (int r = 0; r < reps; r++) {
    double t0 = now_us();
    k_empty<<<1, 32, 0, s>>>();
    cudaStreamSynchronize(s);
    t[r] = now_us() - t0;
  }
  const double launch = median(t);
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
  k_empty<<<1, 32, 0, s>>>();
  CK(cudaStreamEndCapture(s, &graph));
  CK(cudaGraphInstantiate(&exec, graph, 0));
  for (int r = 0; r < reps; r++) {
    double t0 = now_us();
    cudaGraphLaunch(exec, s);
    cudaStreamSynchronize(s);
    t[r] = now_us() - t0;
  }
  const double graph_us = median(t);
  /* a chain of loads of pinned host memory (all zeros: each load's address is the last value) */
  int *h;
  long long *d_out, out[2];
  CK(cudaHostAlloc((void **)&h, 4096, cudaHostAllocMapped));
  memset(h, 0, 4096);
  int *h_dev;
  CK(cudaHostGetDevicePointer((void **)&h_dev, h, 0));
  CK(cudaMalloc(&d_out, sizeof out));
  const int n_chain = 1000;
  std::vector<double> tr(20);
  for (int r = 0; r < 20; r++) {
    k_chain<<<1, 1, 0, s>>>(h_dev, n_chain, d_out);
    CK(cudaMemcpyAsync(out, d_out, sizeof out, cudaMemcpyDeviceToHost, s));
    CK(cudaStreamSynchronize(s));
    tr[r] = 1e-3 * (double)out[0] / n_chain;
  }
  const double host_read = median(tr);
  /* ping-pong variants */
  int *mail, *mail_dev;
  CK(cudaHostAlloc((void **)&mail, 256, cudaHostAllocMapped));
  CK(cudaHostGetDevicePointer((void **)&mail_dev, mail, 0));
  int4 *stage, *stage_dev, *res, *res_dev, *sink;
  CK(cudaHostAlloc((void **)&stage, 4096, cudaHostAllocMapped));
  CK(cudaHostGetDevicePointer((void **)&stage_dev, stage, 0));
  CK(cudaHostAlloc((void **)&res, 4096, cudaHostAllocMapped));
  CK(cudaHostGetDevicePointer((void **)&res_dev, res, 0));
  CK(cudaMalloc(&sink, 64));
  double pp[3];
  const int variant[3][3] = {{0, 0, 0}, {1, 0, 0}, {1, 33, 16}}; /* fence, in, out words */
  for (int v = 0; v < 3; v++) {
    volatile int *go = mail, *ack = mail + 32;
    *go = 0;
    *ack = 0;
    k_pong<<<1, 64, 0, s>>>(mail_dev, mail_dev + 32, reps, variant[v][0], stage_dev, variant[v][1],
                            sink, res_dev, variant[v][2]);
    for (int i = 1; i <= reps; i++) {
      const double t0 = now_us();
      std::atomic_thread_fence(std::memory_order_seq_cst);
      *go = i;
      while (*ack != i) {
      }
      t[i - 1] = now_us() - t0;
    }
    CK(cudaStreamSynchronize(s));
    pp[v] = median(t);
  }
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  printf("{\"device\": \"%s\", \"repeats\": %d, \"launch_sync_us\": %.2f, \"graph_sync_us\": %.2f, "
         "\"host_read_us\": %.2f, \"pingpong_us\": %.2f, \"pingpong_fence_us\": %.2f, "
         "\"pingpong_io_us\": %.2f}\n",
         prop.name, reps, launch, graph_us, host_read, pp[0], pp[1], pp[2]);
  return 0;
}
