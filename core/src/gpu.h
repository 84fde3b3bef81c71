/* gpu.h — the core side of the GPU path (docs/gpu.md): compute.c's calls into cuda/, in libmlff's
 * terms (model, status, last error). Only where libmlff is built with CUDA (MLFF_HAVE_CUDA). */
#ifndef MLFF_GPU_H
#define MLFF_GPU_H

#include "internal.h"

/* the kernels' context (cuda/mlff_cuda.h), one per calc */
typedef struct mlff_cuda mlff_gpu;

/* Number of visible CUDA devices (0 when none or no driver); never fails. */
int mlff_gpu_device_count(void);
/* Upload the model to CUDA device `device` (an ordinal among the visible ones); fp16: network
 * matrix products in FP16 with FP32 accumulation; n_threads: host threads for the per-atom
 * loops of large systems (staging positions, adding results); shared_gpu: other processes use
 * this GPU too (small systems then take the graph path, not the resident step). */
mlff_status mlff_gpu_create(const mlff_model *m, int fp16, int device, int n_threads,
                            int shared_gpu, mlff_gpu **out);
void mlff_gpu_free(mlff_gpu *g);

/* One evaluation (mlff_cuda_compute): atoms [0, n_local) get energies, [n_local, n_total) are
 * ghosts; lattice (NULL, or [3][3] rows a, b,
 * c, periodic along all three): every atom is local and the periodic images are made on the
 * GPU path. forces, energy_atom [n_total] and virial_atom are ADDED to, energy and virial
 * set. A committee's member_forces [K][n_total][3] are ADDED to, deviation [n_total] set (each
 * may be NULL; ignored for one network). */
mlff_status mlff_gpu_compute(mlff_gpu *g, int n_local, int n_total, const double *x,
                             const int *species, double skin, int list_age, const double *lattice,
                             double *forces, double *energy_atom, double *virial_atom,
                             double *member_forces, double *deviation, double *energy,
                             double virial[6]);

/* The training-range check on the GPU path (mlff_calc_check_range; the model's range went
 * to the device with it) and the last evaluation's report */
mlff_status mlff_gpu_check_range(mlff_gpu *g, double tolerance);
void mlff_gpu_range_report(const mlff_gpu *g, mlff_range_report *out);

/* The close-atom guard on the GPU path: close [n_elements][n_elements] Å (row-major; zeros:
 * off); after a failed evaluation, 1 and the pair (indices into the call's atoms) when the guard
 * stopped it */
mlff_status mlff_gpu_guard_close(mlff_gpu *g, const double *close);
int mlff_gpu_close_pair(const mlff_gpu *g, int *i, int *j, double *r);

#endif
