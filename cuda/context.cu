/* context.cu — the context behind mlff_cuda.h: device selection, the model's upload and the
 * choice of kernels it takes (mlff_cuda_create), the device and pinned buffers sized to the
 * largest system seen (reserve), the results' layout, the debugging knobs, errors, and the
 * teardown (mlff_cuda_free). The step itself is in step.cu. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"

static mlff_cuda_status vfail(mlff_cuda_message *m, mlff_cuda_status s, const char *fmt,
                              va_list ap) {
  vsnprintf(m->text, sizeof m->text, fmt, ap);
  return s;
}
mlff_cuda_status fail(mlff_cuda_message *m, mlff_cuda_status s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfail(m, s, fmt, ap);
  va_end(ap);
  return s;
}
mlff_cuda_status fail(mlff_cuda *g, mlff_cuda_status s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfail(&g->message, s, fmt, ap);
  va_end(ap);
  return s;
}

/* The debugging knobs (DebugKnobs): the one place that reads them from the environment */
static DebugKnobs read_debug_knobs() {
  auto off = [](const char *name) {
    const char *v = getenv(name);
    return v && !strcmp(v, "0");
  };
  const char *profile = getenv("MLFF_GPU_PROFILE");
  DebugKnobs k;
  k.profile = profile && atoi(profile) > 0;
  k.no_graph = off("MLFF_GPU_GRAPH");
  k.no_reuse = off("MLFF_GPU_LIST_REUSE");
  k.no_mlp_regs = off("MLFF_GPU_MLP_REGS");
  k.no_resident = off("MLFF_GPU_RESIDENT");
  const char *cap = getenv("MLFF_GPU_DISP3_CAP");
  k.disp3_cap = cap ? atoi(cap) : 0;
  return k;
}

extern "C" int mlff_cuda_device_count(void) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

cudaError_t use_device(const mlff_cuda *g) {
  int cur = -1;
  if (cudaGetDevice(&cur) == cudaSuccess && cur == g->device) return cudaSuccess;
  return cudaSetDevice(g->device);
}

static void free_buffers(mlff_cuda *g) {
  void *bufs[] = {g->d_stage, g->d_cell_count, g->d_cell_start, g->d_cell_fill, g->d_cell_of,
                  g->d_cell_atoms, g->d_scan_tmp, g->d_nbr_n, g->d_nbr_j, g->d_nbr_d, g->d_cand_n,
                  g->d_cand_j, g->d_count,
                  g->d_offset, g->d_fill, g->d_row, g->d_row_atom, g->d_G, g->d_dG, g->d_bufA,
                  g->d_bufB, g->d_out, g->d_xref, g->d_delta};
  for (size_t k = 0; k < sizeof bufs / sizeof *bufs; k++) cudaFree(bufs[k]);
  for (int l = 0; l < MLFF_CUDA_MAX_LAYERS; l++) {
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

void drop_graphs(mlff_cuda *g) {
  stop_resident(g); /* an error stays with the context: the next call reports it */
  for (int k = 0; k < 2; k++) {
    if (g->graph[k].exec) cudaGraphExecDestroy(g->graph[k].exec);
    g->graph[k].exec = nullptr;
  }
}

size_t out_capacity(const mlff_cuda *g, size_t atoms) {
  const size_t members = g->n_members > 1 ? 3 * (size_t)g->n_members + 1 : 0;
  return OUT_HEADER + (10 + members) * atoms * sizeof(float);
}

mlff_cuda_status reserve(mlff_cuda *g, int atoms, int cells, int max_nb) {
  if (atoms <= g->cap_atoms && cells <= g->cap_cells && max_nb <= g->max_nb)
    return MLFF_CUDA_OK;
  drop_graphs(g);
  atoms = atoms > g->cap_atoms ? atoms + atoms / 4 + 64 : g->cap_atoms;
  cells = cells > g->cap_cells ? cells + cells / 4 + 64 : g->cap_cells;
  max_nb = max_nb > g->max_nb ? max_nb : g->max_nb;
  free_buffers(g);
  g->generation++;
  size_t A = atoms, D = g->aev.D;
  /* a failed allocation names the sizes: a user can tell a huge system from a leak */
#define ALLOC(call, bytes)                                                                   \
  do {                                                                                       \
    cudaError_t e_ = (call);                                                                 \
    if (e_ != cudaSuccess) {                                                                 \
      cudaGetLastError();                                                                    \
      return fail(g, MLFF_CUDA_ERR_DEVICE, "cannot allocate %.1f MB of GPU memory for %d "    \
                  "atoms (%d neighbours each, %d cells): %s", (double)(bytes) / 1e6, atoms,  \
                  max_nb, cells, cudaGetErrorString(e_));                                    \
    }                                                                                        \
  } while (0)
  const size_t stage_cap = sizeof(StepHeader) + A * STAGE_BYTES_PER_ATOM;
  ALLOC(cudaMalloc(&g->d_stage, stage_cap), stage_cap);
  ALLOC(cudaMalloc(&g->d_cell_count, (cells + 1) * sizeof(int)), (cells + 1) * sizeof(int));
  ALLOC(cudaMalloc(&g->d_cell_start, (cells + 1) * sizeof(int)), (cells + 1) * sizeof(int));
  ALLOC(cudaMalloc(&g->d_cell_fill, (cells + 1) * sizeof(int)), (cells + 1) * sizeof(int));
  ALLOC(cudaMalloc(&g->d_cell_of, A * sizeof(int)), A * sizeof(int));
  ALLOC(cudaMalloc(&g->d_cell_atoms, A * sizeof(int)), A * sizeof(int));
  g->scan_tmp_bytes = cell_scan_bytes(cells + 1);
  ALLOC(cudaMalloc(&g->d_scan_tmp, g->scan_tmp_bytes), g->scan_tmp_bytes);
  ALLOC(cudaMalloc(&g->d_nbr_n, A * sizeof(int)), A * sizeof(int));
  ALLOC(cudaMalloc(&g->d_nbr_j, A * max_nb * sizeof(int)), A * max_nb * sizeof(int));
  ALLOC(cudaMalloc(&g->d_nbr_d, A * max_nb * sizeof(float4)), A * max_nb * sizeof(float4));
  ALLOC(cudaMalloc(&g->d_cand_n, A * sizeof(int)), A * sizeof(int));
  ALLOC(cudaMalloc(&g->d_cand_j, A * max_nb * sizeof(int)), A * max_nb * sizeof(int));
  ALLOC(cudaMalloc(&g->d_count, (MLFF_CUDA_MAX_ELEMENTS + 1) * sizeof(int)),
        (MLFF_CUDA_MAX_ELEMENTS + 1) * sizeof(int));
  ALLOC(cudaMalloc(&g->d_offset, (MLFF_CUDA_MAX_ELEMENTS + 1) * sizeof(int)),
        (MLFF_CUDA_MAX_ELEMENTS + 1) * sizeof(int));
  ALLOC(cudaMalloc(&g->d_fill, (MLFF_CUDA_MAX_ELEMENTS + 1) * sizeof(int)),
        (MLFF_CUDA_MAX_ELEMENTS + 1) * sizeof(int));
  ALLOC(cudaMalloc(&g->d_row, A * sizeof(int)), A * sizeof(int));
  ALLOC(cudaMalloc(&g->d_row_atom, A * sizeof(int)), A * sizeof(int));
  ALLOC(cudaMalloc(&g->d_G, A * D * sizeof(float)), A * D * sizeof(float));
  ALLOC(cudaMalloc(&g->d_dG, A * D * sizeof(float)), A * D * sizeof(float));
  for (int l = 1; l < g->n_layers; l++) {
    const size_t bytes = A * g->sizes[l] * sizeof(float);
    ALLOC(cudaMalloc(&g->d_Z[l], bytes), bytes);
    ALLOC(cudaMalloc(&g->d_A[l], bytes), bytes);
  }
  ALLOC(cudaMalloc(&g->d_bufA, A * g->widest * sizeof(float)), A * g->widest * sizeof(float));
  ALLOC(cudaMalloc(&g->d_bufB, A * g->widest * sizeof(float)), A * g->widest * sizeof(float));
  size_t out_cap = out_capacity(g, A);
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
    return fail(g, MLFF_CUDA_ERR_DEVICE, "the GPU cannot address pinned host memory (no unified "
                "addressing?): the one-kernel step needs it");
  }
  g->cap_atoms = atoms;
  g->cap_cells = cells;
  g->max_nb = max_nb;
#undef ALLOC
  return MLFF_CUDA_OK;
}

/* A kernel's dynamic shared memory limit is one per process and device, not per calc: raise it
 * to the device's maximum (once `need` fits), so that a calc of a smaller model cannot lower it
 * under another's launches (it did: "invalid argument" at the next capture). */
cudaError_t set_smem_limit(const void *kernel, size_t need, int device) {
  int max_optin = 0;
  cudaError_t e =
      cudaDeviceGetAttribute(&max_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
  if (e != cudaSuccess) return e;
  cudaFuncAttributes fa; /* the limit counts the kernel's static shared memory too */
  if ((e = cudaFuncGetAttributes(&fa, kernel)) != cudaSuccess) return e;
  const int limit = max_optin - (int)fa.sharedSizeBytes;
  if (need > (size_t)limit) return cudaErrorInvalidValue;
  e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, limit);
  if (e != cudaSuccess) cudaGetLastError(); /* not left for a later check to find */
  return e;
}

void select_member(mlff_cuda *g, int k) {
  const Member &mk = g->mem[k];
  memcpy(g->net, mk.net, sizeof g->net);
  g->scale = mk.scale;
  memcpy(g->e0, mk.e0, sizeof g->e0);
  memcpy(g->bout, mk.bout, sizeof g->bout);
  g->d_e0 = mk.d_e0;
}

void set_layout(mlff_cuda *g, int n_local, int n_total, int want_vatom) {
  size_t f = OUT_HEADER, e = f + 3 * (size_t)n_total * sizeof(float),
         v = e + (size_t)n_total * sizeof(float);
  const size_t mf = v + (want_vatom ? 6 * (size_t)n_total * sizeof(float) : 0),
               dv = mf + (g->n_members > 1 ? 3 * (size_t)g->n_members * n_total * sizeof(float) : 0);
  g->out_bytes = dv + (g->n_members > 1 ? (size_t)n_total * sizeof(float) : 0);
  g->d_sums = (double *)g->d_out;
  g->d_overflow = (int *)(g->d_out + 56);
  g->d_ticket = (int *)(g->d_out + 60);
  g->d_range_n = (int *)(g->d_out + 64);
  g->d_range_key = (unsigned long long *)(g->d_out + 72);
  g->d_guard = (unsigned long long *)(g->d_out + 80);
  g->d_force = (float *)(g->d_out + f);
  g->d_eatom = (float *)(g->d_out + e);
  g->d_vatom = (float *)(g->d_out + v);
  g->d_mforce = (float *)(g->d_out + mf);
  g->d_dev = (float *)(g->d_out + dv);
  g->h_sums = (double *)g->h_out;
  g->h_overflow = (int *)(g->h_out + 56);
  g->h_range_n = (int *)(g->h_out + 64);
  g->h_range_key = (unsigned long long *)(g->h_out + 72);
  g->h_guard = (unsigned long long *)(g->h_out + 80);
  g->h_force = (float *)(g->h_out + f);
  g->h_eatom = (float *)(g->h_out + e);
  g->h_vatom = (float *)(g->h_out + v);
  g->h_mforce = (float *)(g->h_out + mf);
  g->h_dev = (float *)(g->h_out + dv);
}

static int widest_hidden(const mlff_cuda_network *n) {
  int w = 0;
  for (int l = 1; l < n->n_layers; l++) w = n->sizes[l] > w ? n->sizes[l] : w;
  return w;
}

/* The checks that fail before a context exists, into msg */
static mlff_cuda_status check_device_and_model(const mlff_cuda_model *m, int device,
                                               mlff_cuda_message *msg) {
  const int n_devices = mlff_cuda_device_count();
  if (n_devices < 1)
    return fail(msg, MLFF_CUDA_ERR_DEVICE, "no CUDA device is visible (check nvidia-smi and "
                "CUDA_VISIBLE_DEVICES), use device cpu");
  if (device < 0 || device >= n_devices)
    return fail(msg, MLFF_CUDA_ERR_ARGUMENT, "GPU %d asked for, but %d CUDA device(s) are "
                "visible (ordinals 0-%d; check CUDA_VISIBLE_DEVICES)", device, n_devices,
                n_devices - 1);
  if (cudaSetDevice(device) != cudaSuccess) {
    cudaGetLastError();
    return fail(msg, MLFF_CUDA_ERR_DEVICE, "cannot use CUDA device %d (is it in exclusive mode "
                "and taken by another process?)", device);
  }
  const mlff_cuda_network *n0 = &m->net[0];
  for (int e = 1; e < m->n_elements; e++) {
    bool same = m->net[e].n_layers == n0->n_layers;
    for (int l = 0; l <= n0->n_layers && same; l++) same = m->net[e].sizes[l] == n0->sizes[l];
    if (!same)
      return fail(msg, MLFF_CUDA_ERR_UNSUPPORTED, "GPU path: all elements' networks must have "
                  "the same layer sizes");
  }
  if (m->n_members > MLFF_CUDA_MAX_MEMBERS)
    return fail(msg, MLFF_CUDA_ERR_UNSUPPORTED, "GPU path: a committee of at most %d members "
                "(the model has %d)", MLFF_CUDA_MAX_MEMBERS, m->n_members);
  for (int k = 1; k < m->n_members; k++)
    for (int e = 0; e < m->n_elements; e++) {
      const mlff_cuda_network *n = &m->members[k - 1].net[e];
      bool same = n->n_layers == n0->n_layers;
      for (int l = 0; l <= n0->n_layers && same; l++) same = n->sizes[l] == n0->sizes[l];
      if (!same)
        return fail(msg, MLFF_CUDA_ERR_UNSUPPORTED, "GPU path: all committee members' networks "
                    "must have the same layer sizes (member %d differs from member 0)", k);
    }
  if (m->n_features > MAX_D || n0->n_layers < 2 || widest_hidden(n0) > 1024)
    return fail(msg, MLFF_CUDA_ERR_UNSUPPORTED, "GPU path: needs D <= %d, at least one hidden "
                "layer, widths <= 1024", MAX_D);
  return MLFF_CUDA_OK;
}

/* The descriptor's constants as the kernels take them */
static AevParams aev_params(const mlff_cuda_model *m) {
  AevParams P;
  memset(&P, 0, sizeof P);
  P.Rcr = (float)m->Rcr; P.Rca = (float)m->Rca; P.etaR = (float)m->etaR; P.etaA = (float)m->etaA;
  P.zeta = (float)m->zeta;
  P.nR = m->n_muR; P.nA = m->n_muA; P.nZ = m->n_thetaZ; P.nS = m->n_elements;
  P.n_radial = P.nS * P.nR;
  P.D = m->n_features;
  double zm1 = m->zeta - 1.0;
  P.zeta_m1 = (zm1 >= 0 && zm1 <= 64 && zm1 == floor(zm1)) ? (int)zm1 : -1;
  for (int k = 0; k < P.nR; k++) P.muR[k] = (float)m->muR[k];
  for (int k = 0; k < P.nA; k++) P.muA[k] = (float)m->muA[k];
  for (int z = 0; z < P.nZ; z++) {
    P.cosZ[z] = (float)cos(m->thetaZ[z]);
    P.sinZ[z] = (float)sin(m->thetaZ[z]);
  }
  return P;
}

/* The context's device buffers and kernels for model m, after the stream is made; st so far */
static mlff_cuda_status setup(mlff_cuda *g, const mlff_cuda_model *m) {
  mlff_cuda_status st = MLFF_CUDA_OK;
  const int device = g->device;
  /* each member's networks (a committee's scale and e0 divided by its size: see Member) */
  for (int k = 0; k < g->n_members; k++) {
    const mlff_cuda_network *net = k ? m->members[k - 1].net : m->net;
    const double *e0 = k ? m->members[k - 1].e0 : m->e0;
    const double share = 1.0 / g->n_members, scale = k ? m->members[k - 1].scale : m->scale;
    memset(g->net, 0, sizeof g->net);
    g->d_e0 = nullptr;
    g->scale = (float)(scale * share);
    for (int e = 0; e < m->n_elements; e++) {
      g->e0[e] = (float)(e0[e] * share);
      g->bout[e] = net[e].b[g->n_layers - 1][0];
    }
    for (int e = 0; e < m->n_elements && !st; e++)
      for (int l = 0; l < g->n_layers && !st; l++) {
        size_t nw = (size_t)g->sizes[l + 1] * g->sizes[l], nb = g->sizes[l + 1];
        if (cudaMalloc(&g->net[e].W[l], nw * sizeof(float)) != cudaSuccess ||
            cudaMalloc(&g->net[e].b[l], nb * sizeof(float)) != cudaSuccess ||
            cudaMemcpy(g->net[e].W[l], net[e].W[l], nw * sizeof(float),
                       cudaMemcpyHostToDevice) != cudaSuccess ||
            cudaMemcpy(g->net[e].b[l], net[e].b[l], nb * sizeof(float),
                       cudaMemcpyHostToDevice) != cudaSuccess)
          st = fail(g, MLFF_CUDA_ERR_DEVICE, "cannot upload the network to the GPU");
      }
    if (!st) st = mlp_setup(g, net);
    if (!st && (cudaMalloc(&g->d_e0, MLFF_CUDA_MAX_ELEMENTS * sizeof(float)) != cudaSuccess ||
                cudaMemcpy(g->d_e0, g->e0, MLFF_CUDA_MAX_ELEMENTS * sizeof(float),
                           cudaMemcpyHostToDevice) != cudaSuccess))
      st = fail(g, MLFF_CUDA_ERR_DEVICE, "cannot upload the energy offsets to the GPU");
    Member &mk = g->mem[k]; /* kept (freed from here) also when an upload failed */
    memcpy(mk.net, g->net, sizeof mk.net);
    mk.scale = g->scale;
    memcpy(mk.e0, g->e0, sizeof mk.e0);
    memcpy(mk.bout, g->bout, sizeof mk.bout);
    mk.d_e0 = g->d_e0;
    if (st) break;
  }
  select_member(g, 0);
  if (!st) st = dispersion_setup(g, m);
  if (!st) st = range_setup(g, m);
  if (!st && (cudaMalloc(&g->d_close, sizeof g->h_close) != cudaSuccess ||
              cudaMemset(g->d_close, 0, sizeof g->h_close) != cudaSuccess))
    st = fail(g, MLFF_CUDA_ERR_DEVICE, "cannot set up the close-atom guard on the GPU");
  /* the members' results come from the general path's stages */
  if (g->n_members > 1) g->no_fused = 1;
  int smem = 0;
  if (!st && descriptor_smem_setup(device, &smem) != cudaSuccess)
    st = fail(g, MLFF_CUDA_ERR_DEVICE, "this GPU cannot give %d bytes of shared memory to a "
              "block", smem);
  if (!st && fused_setup(g) != cudaSuccess)
    st = fail(g, MLFF_CUDA_ERR_DEVICE, "this GPU cannot give %zu bytes of shared memory to a "
              "block", fused_smem(g));
  resident_setup(g);
  if (!st && (cudaHostAlloc((void **)&g->h_mail, 256, cudaHostAllocMapped) != cudaSuccess ||
              cudaHostGetDevicePointer((void **)&g->h_mail_dev, g->h_mail, 0) != cudaSuccess ||
              cudaMalloc(&g->d_bcast, sizeof(int)) != cudaSuccess ||
              cudaMemset(g->d_bcast, 0, sizeof(int)) != cudaSuccess)) {
    cudaGetLastError();
    st = fail(g, MLFF_CUDA_ERR_DEVICE, "cannot allocate the resident step's mailbox in pinned "
              "memory");
  }
  if (!st) memset(g->h_mail, 0, 256);
  if (!st) st = reserve(g, 256, 64, g->max_nb);
  const size_t phase_bytes = 2 * FUSED_PHASES * sizeof(unsigned long long);
  if (!st && g->knobs.profile && (cudaMalloc(&g->d_phase, phase_bytes) != cudaSuccess ||
                                  cudaMemset(g->d_phase, 0, phase_bytes) != cudaSuccess))
    st = fail(g, MLFF_CUDA_ERR_DEVICE, "cannot allocate the profile's phase clocks");
  return st;
}

extern "C" mlff_cuda_status mlff_cuda_create(const mlff_cuda_model *m,
                                             const mlff_cuda_options *o, mlff_cuda **out,
                                             mlff_cuda_message *msg) {
  *out = nullptr;
  mlff_cuda_status st = check_device_and_model(m, o->device, msg);
  if (st) return st;
  mlff_cuda *g = (mlff_cuda *)calloc(1, sizeof *g);
  if (!g) return fail(msg, MLFF_CUDA_ERR_NOMEM, "out of memory");
  const mlff_cuda_network *n0 = &m->net[0];
  g->img_local = -1; /* no images made yet */
  g->n_elements = m->n_elements;
  g->n_layers = n0->n_layers;
  g->device = o->device;
  g->n_threads = o->n_threads > 0 ? o->n_threads : 1;
  g->shared_gpu = o->gpu_shared;
  g->knobs = read_debug_knobs();
  if (cudaDeviceGetAttribute(&g->n_sm, cudaDevAttrMultiProcessorCount, g->device) !=
      cudaSuccess) {
    cudaGetLastError();
    g->n_sm = 1;
  }
  g->widest = 0;
  for (int l = 0; l <= g->n_layers; l++) {
    g->sizes[l] = n0->sizes[l];
    g->widest = g->sizes[l] > g->widest ? g->sizes[l] : g->widest;
  }
  g->fp16 = o->fp16;
  g->act = m->activation;
  g->n_members = m->n_members > 1 ? m->n_members : 1;
  g->range_tol = -1.0;
  g->aev = aev_params(m);
  g->rc = (float)fmax(m->Rcr, m->Rca);
  g->max_nb = 96;
  if (cudaStreamCreateWithFlags(&g->stream, cudaStreamNonBlocking) != cudaSuccess) {
    free(g);
    return fail(msg, MLFF_CUDA_ERR_DEVICE, "cannot create a CUDA stream");
  }
  if ((st = setup(g, m))) {
    *msg = g->message;
    mlff_cuda_free(g);
    return st;
  }
  *out = g;
  return MLFF_CUDA_OK;
}

extern "C" void mlff_cuda_free(mlff_cuda *g) {
  if (!g) return;
  use_device(g);
  drop_graphs(g);
  free_buffers(g);
  for (int k = 0; k < 32; k++)
    if (g->ev[k]) cudaEventDestroy(g->ev[k]);
  for (int k = 0; k < g->n_members; k++) {
    for (int e = 0; e < MLFF_CUDA_MAX_ELEMENTS; e++)
      for (int l = 0; l < MLFF_CUDA_MAX_LAYERS; l++) {
        cudaFree(g->mem[k].net[e].W[l]);
        cudaFree(g->mem[k].net[e].b[l]);
        cudaFree(g->mem[k].net[e].Wh[l]);
      }
    cudaFree(g->mem[k].d_e0);
  }
  dispersion_free(g);
  range_free(g);
  cudaFree(g->d_close);
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
