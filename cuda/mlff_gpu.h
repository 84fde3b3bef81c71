/* mlff_gpu.h — the CUDA path behind libmlff's calc (SPEC §6), as a C interface the core calls.
 * Knows only the core's data layout (internal.h). One context per calc: device buffers sized to
 * the largest system seen, the model's weights on the device, and a CUDA graph of one step that
 * is replayed while the atom counts stay the same. */
#ifndef MLFF_GPU_H
#define MLFF_GPU_H

#include "../core/src/internal.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mlff_gpu mlff_gpu;

/* Number of visible CUDA devices (0 when none or no driver); never fails. */
int mlff_gpu_device_count(void);
/* Upload the model to CUDA device `device` (an ordinal among the visible ones); fp16: network
 * matrix products in FP16 with FP32 accumulation; n_threads: host threads for the per-atom
 * loops of large systems (staging positions, adding results); shared_gpu: other processes use
 * this GPU too (small systems then take the graph path, not the resident step). */
mlff_status mlff_gpu_create(const mlff_model *m, int fp16, int device, int n_threads,
                            int shared_gpu, mlff_gpu **out);
void mlff_gpu_free(mlff_gpu *g);

/* One evaluation. Atoms [0, n_local) get energies; atoms [n_local, n_total) are images/ghosts
 * that only act as neighbours. Neighbours are found on the device (cell list) within the
 * model's cutoff; species < 0 atoms are ignored. skin and list_age as in mlff_neighbors (skin
 * > 0: the list is kept between calls, above the one-kernel size). lattice (NULL, or [3][3] rows
 * a, b, c, periodic along all three): every atom is local (n_total == n_local) and the periodic
 * images are made here, their forces added to their atoms'. Outputs (double, as the
 * core's API), each when not NULL: forces [n_total][3], energy_atom [n_local] and
 * virial_atom [n_total][6] are ADDED to (as LAMMPS accumulates; no host copy in between),
 * energy and virial (W = sum d (x) f_j, xx yy zz xy xz yz) are set. */
mlff_status mlff_gpu_compute(mlff_gpu *g, int n_local, int n_total, const double *x,
                             const int *species, double skin, int list_age, const double *lattice,
                             double *forces, double *energy_atom, double *virial_atom,
                             double *energy, double virial[6]);

/* Replays of a captured step and captures so far (for tests and benchmarks). */
void mlff_gpu_stats(const mlff_gpu *g, long *replays, long *captures);

#ifdef __cplusplus
}
#endif
#endif
