/* context.h — private to cuda/: the context behind mlff_cuda.h (struct mlff_cuda) and what the
 * host code of the stage files shares: errors, buffers, the step's enqueue functions of each
 * stage (each stage's file launches its own kernels; CUDA_SEPARABLE_COMPILATION is off, so a
 * kernel is launched from host code in its own translation unit). */
#ifndef MLFF_CUDA_CONTEXT_H
#define MLFF_CUDA_CONTEXT_H

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "common.cuh"
#include "mlff_cuda.h"

/* Up to this many atoms (with images) the step is one kernel (fused.cu) */
#define FUSED_MAX_ATOMS 4096        /* brute-force neighbour search up to here */
#define HOST_THREADS_MIN_ATOMS 8192 /* below: the host loops of a step run on one thread */
/* MLFF_GPU_PROFILE: the one-kernel steps' phase clocks (stamp_phase), FUSED_PHASES slots: 0-6
 * the phases of fused_atom; 7-9 the resident step's hand-over (block 0 saw the step, block 0
 * has the positions, the last block's results are out); 10-12 the end of hidden layers 1-3
 * forward, 13-15 backward (3, 2, 1); 16-17 the last block's ticket and copy (by that block) */
#define FUSED_PHASES 18

/* Debugging and benchmarking knobs, nothing a user sets: read from the environment once, when
 * a context is made, and nowhere else (docs/gpu.md lists them). */
struct DebugKnobs {
  /* MLFF_GPU_PROFILE=1: steps run without the graph, with an event after each stage, and the
   * stage times go to stderr (where the time goes, without a profiler) */
  bool profile;
  bool no_graph;    /* MLFF_GPU_GRAPH=0: launch the step's kernels one by one */
  bool no_reuse;    /* MLFF_GPU_LIST_REUSE=0: a new neighbour list every call */
  bool no_mlp_regs; /* MLFF_GPU_MLP_REGS=0: the general network kernels for every shape */
  bool no_resident; /* MLFF_GPU_RESIDENT=0: the graph path for small systems too */
  int disp3_cap;    /* MLFF_GPU_DISP3_CAP=N: the three-body kernel gathers at most N neighbours
                     * per atom (0: its own limit), so that a test reaches its fallback */
};

struct Net { /* one element's layers on the device; all elements share the sizes */
  float *W[MLFF_CUDA_MAX_LAYERS], *b[MLFF_CUDA_MAX_LAYERS];
  __half *Wh[MLFF_CUDA_MAX_LAYERS];
};

/* A committee member's networks on the device (all members share the shapes), its scale and e0
 * divided by the committee's size: the network stage of each member adds its share of the mean
 * energy, and its dE/dG (and so the backward pass's forces and virial) is 1/K of its own. */
struct Member {
  Net net[MLFF_CUDA_MAX_ELEMENTS];
  float scale, e0[MLFF_CUDA_MAX_ELEMENTS], bout[MLFF_CUDA_MAX_ELEMENTS];
  float *d_e0;
};

struct mlff_cuda {
  int n_elements, n_layers, sizes[MLFF_CUDA_MAX_LAYERS + 1], fp16, widest;
  int act; /* MLFF_CUDA_ACT_* */
  /* The member the network stage runs: its fields (net, scale, e0, bout, d_e0 below), copied
   * from mem[] by select_member; member 0 outside the committee's loop of a step */
  int n_members;
  Member mem[MLFF_CUDA_MAX_MEMBERS];
  float scale, e0[MLFF_CUDA_MAX_ELEMENTS];
  AevParams aev;
  float rc;
  Net net[MLFF_CUDA_MAX_ELEMENTS];
  cudaStream_t stream;
  DebugKnobs knobs;
  mlff_cuda_message message; /* of the failure under way (fail) */
  /* capacities */
  int cap_atoms, cap_cells, max_nb;
  long generation; /* buffers reallocated so many times (what was staged is gone) */
  /* device buffers */
  char *d_stage; /* StepHeader + float4 (x, y, z, species) + double (x, y, z) positions */
  int *d_cell_count, *d_cell_start, *d_cell_fill, *d_cell_of, *d_cell_atoms;
  void *d_scan_tmp;
  size_t scan_tmp_bytes;
  int *d_nbr_n, *d_nbr_j;
  float4 *d_nbr_d;
  /* The kept list (the caller's skin > 0): candidates within cutoff + skin, found at a call the
   * caller marked as a rebuild (list_age 0), refined to the cutoff every call; valid while the
   * caller's atoms, their order and the buffers stay (list_* below) */
  int *d_cand_n, *d_cand_j;
  /* and its steps' positions: those of its build (d_xref; the host's copy stays in h_stage)
   * plus the moves since, sent as floats (h_delta -> d_delta): half the bytes of doubles */
  double *d_xref;
  float *d_delta, *h_delta;
  int list_kept, list_local, list_total, list_images;
  float list_skin;
  /* Periodic images made here (mlff_cuda_compute with a cell: the caller's atoms are all
   * local). Image q of n_img is atom h_img[q].x shifted by cell rows as h_img[q].y encodes them
   * (image_code); staged after the local atoms. On the kept list an image follows its owner
   * with the current cell (k_images), and its forces go to the owner (k_fold; the host on the
   * one-kernel paths). */
  int n_img, cap_img, cap_all, cap_off;
  int2 *h_img, *d_img;
  int *h_img_off; /* [cap_off] each atom's first image (make_images) */
  int img_local;  /* the images were made at the caller's rebuild (list_age 0) of so many
                   * atoms (else -1): calls until its next rebuild keep them (refill_images) */
  float img_skin;
  double *h_cell, *d_cell; /* [9], rows a, b, c: pinned, sent every step */
  double *h_all;           /* local atoms then images, staged from here (cap_all atoms) */
  int *h_all_sp;
  int moving; /* atoms whose moves a kept-list step sends: all, or the local ones with images */
  long list_generation;
  int *d_count, *d_offset, *d_fill, *d_row, *d_row_atom;
  float *d_e0;
  unsigned long long *d_phase; /* MLFF_GPU_PROFILE: the one-kernel step's phase clocks */
  float *d_G, *d_dG, *d_Z[MLFF_CUDA_MAX_LAYERS], *d_A[MLFF_CUDA_MAX_LAYERS], *d_bufA, *d_bufB;
  /* All results in one buffer, so that one memset clears them and one copy brings them back:
   * [energy, virial[6] (double) | overflow (int) | ticket (int) | range check: count (int),
   *  pad, largest excursion (u64) | close-atom guard (u64), pad | force[3 n_total] |
   *  eatom[n_total] | vatom[6 n_total] (when asked) | committees: member forces [K][n_total][3],
   *  deviation[n_total]]; the pointers below point into it. */
  char *d_out, *h_out;
  size_t out_bytes;
  float *d_force, *d_eatom, *d_vatom, *d_mforce, *d_dev;
  double *d_sums;
  int *d_overflow;
  int *d_ticket; /* blocks of the one-kernel step that are done (the last copies out) */
  float *h_force, *h_eatom, *h_vatom, *h_mforce, *h_dev;
  double *h_sums;
  int *h_overflow;
  int fused;    /* this step runs as one kernel (small systems) */
  int no_fused; /* an atom had more neighbours than the one-kernel path holds */
  /* host */
  char *h_stage;
  char *h_stage_dev, *h_out_dev; /* the same pinned buffers as the device addresses them */
  /* the resident step's results: an 8-byte entry (step << 32 | word) per 4-byte word of h_out,
   * so that the host knows each word of a step by itself (copy_out_tagged) */
  unsigned long long *h_tagged, *h_tagged_dev;
  /* graphs: [0] steps that build a list, [1] steps that reuse the kept one */
  struct {
    cudaGraphExec_t exec;
    int local, total, vatom, fused, mode, images;
    float skin;
  } graph[2];
  int n_marks;                       /* MLFF_GPU_PROFILE: the events recorded in this step (mark) */
  int n_sm;                          /* streaming multiprocessors of the device */
  size_t mlp_smem;                   /* k_mlp_fp16's shared memory per block */
  int mlp_warps, mlp_weights_shared; /* its warps per block; weights in shared memory */
  int mlp_regs; /* the shipped shape: the register network (k_mlp_regs) instead */
  float bout[MLFF_CUDA_MAX_ELEMENTS]; /* the output unit's bias per element */
  int device;    /* CUDA ordinal: made current on every entry (calcs on one thread may use
                  * different GPUs) */
  int n_threads; /* host threads for staging and adding results in large systems */
  /* The resident step (k_fused_resident) of small systems, where this process has the GPU to
   * itself: a mailbox in pinned memory, [0] the step the host asks for, [32] the last step the
   * GPU finished (own cache lines), and the word block 0 passes steps on through */
  int *h_mail, *h_mail_dev, *d_bcast;
  int resident_ok; /* the device and the model allow it (cooperative launch, shared memory) */
  int shared_gpu;  /* the caller says other processes use this GPU: no resident step */
  struct {
    int running, epoch, seq, done, local, total, vatom;
    double last; /* host clock (s) when the last step came back */
  } res;
  cudaEvent_t ev[32];
  const char *ev_name[32];
  /* Long-range dispersion (dispersion.cu), none when disp_rc is 0: its own list of candidates
   * within disp_rc (+ skin on a kept list), made from the cell list when the neighbour list is
   * (k_neighbors, further out), and the pairs' energies and forces after the network's. */
  float disp_rc;
  float4 *d_disp_coef;      /* [n_elements^2]: c6, c8, r0^6, r0^8 of each pair of species */
  int *d_disp_n, *d_disp_j; /* [disp_cap_atoms], [disp_cap_atoms][disp_max] */
  int disp_cap_atoms, disp_max;
  int *d_disp_over, *h_disp_over; /* the largest count that did not fit (pinned host copy) */
  /* its three-body term (none when disp3_rc is 0): per pair of species w, r0 (see mlff_cuda.h) */
  float disp3_rc, disp3_alp, disp3_sw;
  double disp2_rc2d, disp3_rc2d; /* the hard cutoffs squared, for pairs decided in double */
  float2 *d_disp3_coef;
  /* disp_rc above is the long-range terms' list radius: the larger of the dispersion's cutoff
   * (disp2_rc; 0: no dispersion) and the electrostatics' (coul_rc; 0: none). The
   * electrostatics: per pair of species k q_a q_b (d_coul_qq), per species the self term
   * (d_coul_self), the damping and the DSF shifts (mlff_cuda.h). */
  float disp2_rc, coul_rc, coul_alpha, coul_es, coul_fs;
  float *d_coul_qq, *d_coul_self;
  /* The training-range check (range.cu), none when range_D is 0 (the model gave no range):
   * [min | max | floored span][n_elements][D] on the device (d_range) and the host (h_range),
   * the tolerance (< 0: off) in pinned memory, copied in every step; the results in the
   * results buffer's header (d_range_n, d_range_key); the last step's report */
  int range_D;
  float *d_range, *h_range, *d_range_tol, *h_range_tol;
  double range_tol;
  int *d_range_n, *h_range_n;
  unsigned long long *d_range_key, *h_range_key;
  mlff_cuda_range range;
  /* The close-atom guard: per pair of species the distance below which a step fails (d_close,
   * zeros: off; h_close the host's copy), checked where the neighbour lists' displacements are
   * made (k_neighbors, k_refine, fused_atom); the closest offence of the step in the results
   * header (d_guard: see guard_pair); the last failure's pair */
  float *d_close, h_close[MLFF_CUDA_MAX_ELEMENTS * MLFF_CUDA_MAX_ELEMENTS];
  unsigned long long *d_guard, *h_guard;
  int guard_on, close_failed, close_i, close_j;
  double close_r;
};

/* ---- context.cu ------------------------------------------------------------------------- */

/* Record the failure's message in g (or m) and return s. */
mlff_cuda_status fail(mlff_cuda *g, mlff_cuda_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
mlff_cuda_status fail(mlff_cuda_message *m, mlff_cuda_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define CUDA_TRY(call)                                                                             \
  do {                                                                                             \
    cudaError_t e_ = (call);                                                                       \
    if (e_ != cudaSuccess)                                                                         \
      return fail(g, MLFF_CUDA_ERR_DEVICE, "CUDA error in %s: %s", #call, cudaGetErrorString(e_)); \
  } while (0)

/* Buffers for so many atoms, cells and neighbours per atom (grow only; the graphs go when any
 * buffer moves, and generation counts the moves). */
mlff_cuda_status reserve(mlff_cuda *g, int atoms, int cells, int max_nb);
#define OUT_HEADER 96 /* bytes before the forces in the results buffer */
/* Bytes of the results buffer (set_layout) for so many atoms: sums, force, eatom, vatom, and a
 * committee's member forces and deviations */
size_t out_capacity(const mlff_cuda *g, size_t atoms);
/* Point d_force ... h_vatom into the results buffers for these counts; sets out_bytes. */
void set_layout(mlff_cuda *g, int n_local, int n_total, int want_vatom);
/* Make member k's networks the ones the network stage enqueues (select_member(g, 0) after) */
void select_member(mlff_cuda *g, int k);
/* Forget the work launched on this context's buffers: the graphs, and a resident step. */
void drop_graphs(mlff_cuda *g);
/* Allow the kernel the device's most dynamic shared memory, once `need` fits in it. */
cudaError_t set_smem_limit(const void *kernel, size_t need, int device);
/* Make the context's device current for this host thread (cheap when it already is). */
cudaError_t use_device(const mlff_cuda *g);

/* ---- step.cu ---------------------------------------------------------------------------- */

/* How a general-path step gets its neighbour list: a new one within the cutoff; a kept one
 * built (candidates within cutoff + skin, then refined); the kept one refined (no cells, no
 * neighbour search, rows by element as before: the atoms are the same). */
enum { LIST_NEW = 0, LIST_BUILD = 1, LIST_REUSE = 2 };

/* MLFF_GPU_PROFILE: an event after a stage of the step (named by it) */
void mark(mlff_cuda *g, const char *name);
/* MLFF_GPU_PROFILE: the phases of the last one-kernel step, as block 0 clocked them */
void print_phases(mlff_cuda *g, const char *what);

/* ---- the stages' host code, each enqueueing its kernels on g->stream -------------------- */

/* neighbors.cu: positions in (staged on the host, or the moves since the kept list's build,
 * with the images following their atoms), then the neighbour list and rows by element */
size_t cell_scan_bytes(int cells);
void enqueue_positions(mlff_cuda *g, int n_local, int n_total, int mode);
void enqueue_neighbor_list(mlff_cuda *g, int n_local, int n_total, int mode, float skin);
/* the images' forces, energies and per-atom virials (and members' forces) onto their atoms */
void enqueue_image_forces(mlff_cuda *g, int n_local, int n_total, int want_vatom);

/* committee.cu: the members' mean force (after their backward passes), and, at the step's end,
 * their forces and deviations (docs/model.md) */
void enqueue_members_mean(mlff_cuda *g, int n_total);
void enqueue_members_final(mlff_cuda *g, int n_total);

/* descriptor.cu */
cudaError_t descriptor_smem_setup(int device, int *bytes);
void enqueue_descriptor_forward(mlff_cuda *g, int n_local);
/* forces into `force` (the step's, or a committee member's) */
void enqueue_descriptor_backward(mlff_cuda *g, int n_local, int want_vatom, float *force);

/* mlp.cu: the kernels a model's network takes (and its FP16 weights) */
mlff_cuda_status mlp_setup(mlff_cuda *g, const mlff_cuda_network *net);
void enqueue_network(mlff_cuda *g, int n_local);

/* fused.cu: the one-kernel step of small systems (positions in and results out included) */
size_t fused_smem(const mlff_cuda *g);
cudaError_t fused_setup(const mlff_cuda *g);
void enqueue_fused(mlff_cuda *g, int n_local, int n_total, int want_vatom);

/* resident.cu: the resident step of small systems on a GPU of this process's own */
void resident_setup(mlff_cuda *g);
bool resident_fits(const mlff_cuda *g, int n_local, int n_total);
mlff_cuda_status run_resident(mlff_cuda *g, int n_local, int n_total, int want_vatom);
cudaError_t stop_resident(mlff_cuda *g);

/* range.cu: the training-range check (none when the model gave no range) */
mlff_cuda_status range_setup(mlff_cuda *g, const mlff_cuda_model *m);
void range_free(mlff_cuda *g);
void enqueue_range(mlff_cuda *g, int n_local); /* after the descriptor */
void range_collect(mlff_cuda *g);              /* after the step: g->range */

/* dispersion.cu: the long-range dispersion (none when g->disp_rc is 0) */
mlff_cuda_status dispersion_setup(mlff_cuda *g, const mlff_cuda_model *m);
void dispersion_free(mlff_cuda *g);
/* its list for n_local atoms of at most max_entries candidates each (grow only; the graphs go
 * when it moves) */
mlff_cuda_status dispersion_reserve(mlff_cuda *g, int n_local, int max_entries);
/* the pairs' energies, forces and virials added to the step's results (after the network) */
void enqueue_dispersion(mlff_cuda *g, int n_local, int want_vatom);
/* neighbors.cu: its list, from the cell list of the step (list modes as the neighbours') */
void enqueue_dispersion_list(mlff_cuda *g, int n_local, int mode, float skin);

/* images.cu: the periodic images of the caller's atoms, into h_all / h_all_sp (host) */
mlff_cuda_status make_images(mlff_cuda *g, int n, const double *x, const int *species,
                             const mlff_cuda_cell *cell, double cut, int nt);
void refill_images(mlff_cuda *g, int n, const double *x, const int *species, const double *cell,
                   int nt);

#endif
