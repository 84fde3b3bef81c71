/* neighbors.cu — the general path's first stages: positions in (k_stage; on a kept list the
 * moves since its build, k_moved, and the periodic images following their atoms, k_images),
 * the cell list (k_cells, a scan, k_cell_fill), the neighbour list within the cutoff
 * (k_neighbors) or a kept list's candidates within cutoff + skin refined to it (k_refine), the
 * rows sorted by element (k_count_species, k_offsets, k_rows); and, at the step's end, the
 * images' forces onto their atoms (k_fold). */
#include <cub/device/device_scan.cuh>

#include "context.h"

/* General path: float4 (x - corner, species) from the staged doubles and species. */
__global__ void k_stage(char *stage, int n_total) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n_total) return;
  const StepHeader *h = (const StepHeader *)stage;
  const double *x = stage_xd(stage, n_total) + 3 * (size_t)i;
  ((float4 *)(stage + sizeof(StepHeader)))[i] =
      make_float4((float)(x[0] - h->origin[0]), (float)(x[1] - h->origin[1]),
                  (float)(x[2] - h->origin[2]), (float)stage_species(stage, n_total)[i]);
}

/* Kept list: the double positions from those of its build and the moves since (floats: at most
 * a few Å, so that their rounding is below 1e-6 Å) */
__global__ void k_moved(double *xd, const double *xref, const float *delta, long n3) {
  const long k = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (k < n3) xd[k] = xref[k] + (double)delta[k];
}

/* Images made here, on the kept list: each at its owner's position plus its shift in the
 * current cell (which may change between list builds, as under a barostat) */
__global__ void k_images(double *xd, int n_local, int n_img, const int2 *img,
                         const double *cell) {
  const int q = blockIdx.x * blockDim.x + threadIdx.x;
  if (q >= n_img) return;
  const int2 m = img[q];
  image_position(xd + 3 * (size_t)m.x, m.y, cell, xd + 3 * ((size_t)n_local + q));
}

/* Images' forces, energies (where a term gives them some) and per-atom virials onto their
 * owners (the caller sees local atoms only) */
__global__ void k_fold(int n_local, int n_img, const int2 *img, float *force, float *eatom,
                       float *vatom) {
  const int q = blockIdx.x * blockDim.x + threadIdx.x;
  if (q >= n_img) return;
  const size_t o = img[q].x, g = (size_t)n_local + q;
  for (int x = 0; x < 3; x++) atomicAdd(&force[3 * o + x], force[3 * g + x]);
  if (eatom) atomicAdd(&eatom[o], eatom[g]);
  if (vatom)
    for (int x = 0; x < 6; x++) atomicAdd(&vatom[6 * o + x], vatom[6 * g + x]);
}

__global__ void k_cells(const char *stage, int n_total, int *cell_of, int *cell_count) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n_total) return;
  const StepHeader *h = (const StepHeader *)stage;
  const float4 *pos = (const float4 *)(stage + sizeof(StepHeader));
  float4 p = pos[i];
  int c[3];
  float q[3] = {p.x, p.y, p.z};
  for (int d = 0; d < 3; d++) {
    c[d] = (int)(q[d] * h->inv_cell);
    c[d] = c[d] < 0 ? 0 : (c[d] >= h->dims[d] ? h->dims[d] - 1 : c[d]);
  }
  int cell = (c[2] * h->dims[1] + c[1]) * h->dims[0] + c[0];
  cell_of[i] = cell;
  atomicAdd(&cell_count[cell], 1);
}

__global__ void k_cell_fill(int n_total, const int *cell_of, const int *cell_start, int *cell_fill,
                            int *cell_atoms) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n_total) return;
  int c = cell_of[i];
  cell_atoms[cell_start[c] + atomicAdd(&cell_fill[c], 1)] = i;
}

/* Warp per local atom: neighbours within rc from the cells within `reach` cells around it (1:
 * the 27 of the descriptor's list; 0: as far as rc reaches in this step's grid, for the
 * dispersion's longer cutoff, read on the device as a replayed graph must), a cell's atoms
 * across the lanes, found ones compacted by ballot (a thread per atom, scanning ~300 candidates
 * alone and writing its list with a stride, was latency-bound). Order: by cell, then cell
 * order. nbr_d NULL: candidates (float test with its margin only, no displacements). */
#define NEIGHBOR_WARPS 4
__global__ void k_neighbors(const char *stage, int n_local, float rc, int reach,
                            const int *cell_of, const int *cell_start, const int *cell_atoms,
                            int max_nb, int *nbr_n, int *nbr_j, float4 *nbr_d, int *overflow,
                            const float *close, int ns, unsigned long long *guard) {
  const int lane = threadIdx.x % 32;
  const int i = blockIdx.x * NEIGHBOR_WARPS + threadIdx.x / 32;
  if (i >= n_local) return;
  const StepHeader *h = (const StepHeader *)stage;
  const float4 *pos = (const float4 *)(stage + sizeof(StepHeader));
  const float4 p = pos[i];
  int n = 0;
  if (p.w >= 0.f) {
    const int c = cell_of[i];
    const int cx = c % h->dims[0], cy = (c / h->dims[0]) % h->dims[1],
              cz = c / (h->dims[0] * h->dims[1]);
    if (reach <= 0) reach = (int)ceilf(rc * h->inv_cell);
    const float rc2 = rc * rc, rc2_loose = rc2 * CUTOFF_MARGIN;
    const double *xd = stage_xd(stage, h->meta.x);
    const unsigned below = (1u << lane) - 1;
    for (int z = max(cz - reach, 0); z <= min(cz + reach, h->dims[2] - 1); z++)
      for (int y = max(cy - reach, 0); y <= min(cy + reach, h->dims[1] - 1); y++)
        for (int x = max(cx - reach, 0); x <= min(cx + reach, h->dims[0] - 1); x++) {
          if (reach > 1) { /* far reaches: skip the cells that lie wholly beyond rc */
            const float w = 1.f / h->inv_cell, q[3] = {p.x, p.y, p.z};
            const int cxyz[3] = {x, y, z};
            float gap2 = 0.f;
            for (int k = 0; k < 3; k++) {
              const float lo = cxyz[k] * w, t = fmaxf(fmaxf(lo - q[k], q[k] - lo - w), 0.f);
              gap2 += t * t;
            }
            if (gap2 >= rc2_loose) continue;
          }
          const int cc = (z * h->dims[1] + y) * h->dims[0] + x;
          const int s1 = cell_start[cc + 1];
          for (int base = cell_start[cc]; base < s1; base += 32) {
            const int s = base + lane;
            int j = -1;
            float4 d = make_float4(0.f, 0.f, 0.f, 0.f);
            if (s < s1) {
              j = cell_atoms[s];
              const float4 q = pos[j];
              const float dx = q.x - p.x, dy = q.y - p.y, dz = q.z - p.z;
              const float r2 = dx * dx + dy * dy + dz * dz;
              if (j == i || q.w < 0.f || r2 >= rc2_loose) j = -1;
              if (j >= 0 && nbr_d) {
                d = displacement(xd, i, j);
                guard_pair(close, ns, (int)p.w, (int)q.w, d.w, i, guard);
                if (d.w >= rc || d.w == 0.f) j = -1;
              }
            }
            const unsigned found = __ballot_sync(0xffffffffu, j >= 0);
            const int k = n + __popc(found & below);
            if (j >= 0 && k < max_nb) {
              nbr_j[(size_t)i * max_nb + k] = j;
              if (nbr_d) nbr_d[(size_t)i * max_nb + k] = d;
            }
            n += __popc(found);
          }
        }
  }
  if (lane == 0) {
    if (n > max_nb) atomicMax(overflow, n);
    nbr_n[i] = min(n, max_nb);
  }
}

/* Warp per local atom: the kept list's candidates (within cutoff + skin when it was built) that
 * are within the cutoff now, with their displacements; order kept. */
__global__ void k_refine(const char *stage, int n_local, float rc, int max_nb, const int *cand_n,
                         const int *cand_j, int *nbr_n, int *nbr_j, float4 *nbr_d,
                         const float *close, int ns, unsigned long long *guard) {
  const int lane = threadIdx.x % 32;
  const int i = blockIdx.x * NEIGHBOR_WARPS + threadIdx.x / 32;
  if (i >= n_local) return;
  const double *xd = stage_xd(stage, ((const StepHeader *)stage)->meta.x);
  const int nc = cand_n[i];
  const unsigned below = (1u << lane) - 1;
  int n = 0;
  for (int base = 0; base < nc; base += 32) {
    const int s = base + lane;
    int j = -1;
    float4 d = make_float4(0.f, 0.f, 0.f, 0.f);
    if (s < nc) {
      j = cand_j[(size_t)i * max_nb + s];
      d = displacement(xd, i, j);
      if (close) {
        const float4 *pos = (const float4 *)(stage + sizeof(StepHeader));
        guard_pair(close, ns, (int)pos[i].w, (int)pos[j].w, d.w, i, guard);
      }
      if (d.w >= rc || d.w == 0.f) j = -1;
    }
    const unsigned found = __ballot_sync(0xffffffffu, j >= 0);
    if (j >= 0) {
      const int k = n + __popc(found & below); /* < nc <= max_nb */
      nbr_j[(size_t)i * max_nb + k] = j;
      nbr_d[(size_t)i * max_nb + k] = d;
    }
    n += __popc(found);
  }
  if (lane == 0) nbr_n[i] = n;
}

__global__ void k_count_species(const char *stage, int n_local, int *count) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n_local) return;
  const float4 *pos = (const float4 *)(stage + sizeof(StepHeader));
  int s = (int)pos[i].w;
  if (s >= 0) atomicAdd(&count[s], 1);
}

__global__ void k_offsets(int n_species, const int *count, int *offset, int *fill) {
  int o = 0;
  for (int s = 0; s < n_species; s++) {
    offset[s] = o;
    fill[s] = 0;
    o += count[s];
  }
  offset[n_species] = o;
}

__global__ void k_rows(const char *stage, int n_local, const int *offset, int *fill, int *row,
                       int *row_atom) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n_local) return;
  const float4 *pos = (const float4 *)(stage + sizeof(StepHeader));
  int s = (int)pos[i].w;
  if (s < 0) {
    row[i] = -1;
    return;
  }
  int r = offset[s] + atomicAdd(&fill[s], 1);
  row[i] = r;
  row_atom[r] = i;
}

/* ---- host ---------------------------------------------------------------------------- */

/* Temporary storage of the cell list's scan of n counts (the instance enqueue_neighbor_list
 * runs: int * in and out) */
size_t cell_scan_bytes(int n) {
  size_t bytes = 0;
  cub::DeviceScan::ExclusiveSum(nullptr, bytes, (int *)nullptr, (int *)nullptr, n);
  return bytes;
}

void enqueue_positions(mlff_cuda *g, int n_local, int n_total, int mode) {
  cudaStream_t s = g->stream;
  /* the header, then the doubles and species (the float4 positions are made here); on the kept
   * list the moves since its build alone (the header and the species in the float4s stay) */
  const size_t xd_off = sizeof(StepHeader) + (size_t)n_total * sizeof(float4);
  const long n3 = 3L * n_total;
  if (g->n_img) /* the current cell (k_images) */
    cudaMemcpyAsync(g->d_cell, g->h_cell, 9 * sizeof(double), cudaMemcpyHostToDevice, s);
  if (mode == LIST_REUSE) {
    const long m3 = 3L * g->moving;
    cudaMemcpyAsync(g->d_delta, g->h_delta, m3 * sizeof(float), cudaMemcpyHostToDevice, s);
    k_moved<<<(unsigned)((m3 + 255) / 256), 256, 0, s>>>((double *)(g->d_stage + xd_off),
                                                         g->d_xref, g->d_delta, m3);
    if (g->n_img)
      k_images<<<(g->n_img + 255) / 256, 256, 0, s>>>((double *)(g->d_stage + xd_off), n_local,
                                                      g->n_img, g->d_img, g->d_cell);
    if (g->disp_rc > 0.f) /* the dispersion's pairs read the float positions: now's */
      k_stage<<<(n_total + 255) / 256, 256, 0, s>>>(g->d_stage, n_total);
  } else {
    if (g->n_img)
      cudaMemcpyAsync(g->d_img, g->h_img, g->n_img * sizeof(int2), cudaMemcpyHostToDevice, s);
    cudaMemcpyAsync(g->d_stage, g->h_stage, sizeof(StepHeader), cudaMemcpyHostToDevice, s);
    cudaMemcpyAsync(g->d_stage + xd_off, g->h_stage + xd_off,
                    (size_t)n_total * (3 * sizeof(double) + sizeof(int)), cudaMemcpyHostToDevice,
                    s);
    k_stage<<<(n_total + 255) / 256, 256, 0, s>>>(g->d_stage, n_total);
    if (mode == LIST_BUILD)
      cudaMemcpyAsync(g->d_xref, g->d_stage + xd_off, n3 * sizeof(double),
                      cudaMemcpyDeviceToDevice, s);
  }
  mark(g, "positions in");
}

void enqueue_neighbor_list(mlff_cuda *g, int n_local, int n_total, int mode, float skin) {
  cudaStream_t s = g->stream;
  int tb = 128, bt = (n_total + tb - 1) / tb, bl = (n_local + tb - 1) / tb;
  const int nbw = (n_local + NEIGHBOR_WARPS - 1) / NEIGHBOR_WARPS;
  if (mode != LIST_REUSE) {
    cudaMemsetAsync(g->d_cell_count, 0, (g->cap_cells + 1) * sizeof(int), s);
    cudaMemsetAsync(g->d_cell_fill, 0, (g->cap_cells + 1) * sizeof(int), s);
    k_cells<<<bt, tb, 0, s>>>(g->d_stage, n_total, g->d_cell_of, g->d_cell_count);
    cub::DeviceScan::ExclusiveSum(g->d_scan_tmp, g->scan_tmp_bytes, g->d_cell_count,
                                  g->d_cell_start, g->cap_cells + 1, s);
    k_cell_fill<<<bt, tb, 0, s>>>(n_total, g->d_cell_of, g->d_cell_start, g->d_cell_fill,
                                  g->d_cell_atoms);
    if (mode == LIST_NEW)
      k_neighbors<<<nbw, 32 * NEIGHBOR_WARPS, 0, s>>>(
          g->d_stage, n_local, g->rc, 1, g->d_cell_of, g->d_cell_start, g->d_cell_atoms,
          g->max_nb, g->d_nbr_n, g->d_nbr_j, g->d_nbr_d, g->d_overflow,
          g->guard_on ? g->d_close : nullptr, g->n_elements, g->d_guard);
    else
      k_neighbors<<<nbw, 32 * NEIGHBOR_WARPS, 0, s>>>(
          g->d_stage, n_local, g->rc + skin, 1, g->d_cell_of, g->d_cell_start, g->d_cell_atoms,
          g->max_nb, g->d_cand_n, g->d_cand_j, nullptr, g->d_overflow, nullptr, 0, nullptr);
  }
  if (mode != LIST_NEW)
    k_refine<<<nbw, 32 * NEIGHBOR_WARPS, 0, s>>>(g->d_stage, n_local, g->rc, g->max_nb,
                                                 g->d_cand_n, g->d_cand_j, g->d_nbr_n,
                                                 g->d_nbr_j, g->d_nbr_d,
                                                 g->guard_on ? g->d_close : nullptr,
                                                 g->n_elements, g->d_guard);
  mark(g, mode == LIST_REUSE ? "kept neighbours refined" : "cells+neighbours");
  if (mode != LIST_REUSE) { /* the same atoms in the same order keep their rows */
    cudaMemsetAsync(g->d_count, 0, (MLFF_CUDA_MAX_ELEMENTS + 1) * sizeof(int), s);
    k_count_species<<<bl, tb, 0, s>>>(g->d_stage, n_local, g->d_count);
    k_offsets<<<1, 1, 0, s>>>(g->n_elements, g->d_count, g->d_offset, g->d_fill);
    k_rows<<<bl, tb, 0, s>>>(g->d_stage, n_local, g->d_offset, g->d_fill, g->d_row,
                             g->d_row_atom);
  }
  mark(g, "rows by element");
}

void enqueue_dispersion_list(mlff_cuda *g, int n_local, int mode, float skin) {
  if (mode == LIST_REUSE) return; /* the kept one: its pairs stay within cutoff + skin */
  cudaStream_t s = g->stream;
  const float rc = g->disp_rc + (mode == LIST_BUILD ? skin : 0.f);
  const int nbw = (n_local + NEIGHBOR_WARPS - 1) / NEIGHBOR_WARPS;
  k_neighbors<<<nbw, 32 * NEIGHBOR_WARPS, 0, s>>>(g->d_stage, n_local, rc, 0, g->d_cell_of,
                                                  g->d_cell_start, g->d_cell_atoms, g->disp_max,
                                                  g->d_disp_n, g->d_disp_j, nullptr,
                                                  g->d_disp_over, nullptr, 0, nullptr);
  /* a list too short shows on the host after the step (which then runs again, longer) */
  cudaMemcpyAsync(g->h_disp_over, g->d_disp_over, sizeof(int), cudaMemcpyDeviceToHost, s);
  cudaMemsetAsync(g->d_disp_over, 0, sizeof(int), s);
  mark(g, "dispersion list");
}

void enqueue_image_forces(mlff_cuda *g, int n_local, int n_total, int want_vatom) {
  const int blocks = (g->n_img + 255) / 256;
  k_fold<<<blocks, 256, 0, g->stream>>>(n_local, g->n_img, g->d_img, g->d_force, g->d_eatom,
                                        want_vatom ? g->d_vatom : nullptr);
  for (int k = 0; k < g->n_members && g->n_members > 1; k++) /* each member's forces */
    k_fold<<<blocks, 256, 0, g->stream>>>(n_local, g->n_img, g->d_img,
                                          g->d_mforce + 3 * (size_t)k * n_total, nullptr,
                                          nullptr);
}
