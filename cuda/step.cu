/* step.cu — one evaluation (mlff_cuda_compute): the positions staged on the host (the periodic
 * images made first where there is a cell), a kept neighbour list reused where the caller's
 * skin allows, the step's stages enqueued in order (enqueue_step) and captured once into a
 * CUDA graph that is replayed while the counts stay (run_step), or the resident step for small
 * systems; then the results added into the caller's arrays. MLFF_GPU_PROFILE's reports. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <chrono>

#include <omp.h>

#include "context.h"

void mark(mlff_cuda *g, const char *name) {
  if (!g->knobs.profile || g->n_marks >= 32) return;
  if (!g->ev[g->n_marks]) cudaEventCreate(&g->ev[g->n_marks]);
  g->ev_name[g->n_marks] = name;
  cudaEventRecord(g->ev[g->n_marks++], g->stream);
}

/* the one-kernel steps' phases (FUSED_PHASES slots) */
static const char *const fused_phase_name[FUSED_PHASES] = {
    "entry", "neighbours", "descriptor", "network forward (output)", "network backward (output)",
    "descriptor backward", "forces", "step seen", "positions in", "results out",
    "layer 1", "layer 2", "layer 3", "layer 3 back", "layer 2 back", "layer 1 back",
    "last block's ticket", "results copied"};
/* the order in time in which print_phases reads the slots */
static const int fused_phase_order[FUSED_PHASES] = {7,  8,  0,  1, 2, 10, 11, 12, 3,
                                                    13, 14, 15, 4, 5, 6,  16, 17, 9};

void print_phases(mlff_cuda *g, const char *what) {
  unsigned long long ph[2 * FUSED_PHASES];
  if (cudaMemcpy(ph, g->d_phase, sizeof ph, cudaMemcpyDeviceToHost) != cudaSuccess) {
    cudaGetLastError();
    return;
  }
  fprintf(stderr, "mlff gpu %s phases (block 0):", what);
  int prev = -1;
  for (int q = 0; q < FUSED_PHASES; q++) {
    const int k = fused_phase_order[q];
    if (!ph[2 * k + 1]) continue; /* not on this path */
    if (prev >= 0)
      fprintf(stderr, " %s %.2f us;", fused_phase_name[k],
              1e-3 * (double)(ph[2 * k + 1] - ph[2 * prev + 1]));
    prev = k;
  }
  const double ns = (double)(ph[2 * 6 + 1] - ph[1]);
  fprintf(stderr, " SM clock %.0f MHz\n", ns > 0 ? 1e3 * (double)(ph[2 * 6] - ph[0]) / ns : 0.0);
}

/* The whole step on g->stream (captured into a graph by the caller). */
static void enqueue_step(mlff_cuda *g, int n_local, int n_total, int want_vatom, int mode,
                         float skin) {
  set_layout(g, n_local, n_total, want_vatom);
  mark(g, "start");
  /* d_out is zero between steps (zeroed when allocated, and by every step after its copy) */
  if (g->fused) {
    enqueue_fused(g, n_local, n_total, want_vatom);
    return;
  }
  enqueue_positions(g, n_local, n_total, mode);
  enqueue_neighbor_list(g, n_local, n_total, mode, skin);
  enqueue_descriptor_forward(g, n_local);
  mark(g, "descriptor forward");
  enqueue_range(g, n_local);
  if (g->n_members == 1) {
    enqueue_network(g, n_local);
    mark(g, "network fwd+bwd");
    enqueue_descriptor_backward(g, n_local, want_vatom, g->d_force);
  } else { /* a committee: one descriptor, each member's network and backward pass */
    for (int k = 0; k < g->n_members; k++) {
      select_member(g, k);
      enqueue_network(g, n_local);
      enqueue_descriptor_backward(g, n_local, want_vatom, g->d_mforce + 3 * (size_t)k * n_total);
    }
    select_member(g, 0);
    enqueue_members_mean(g, n_total);
    mark(g, "members' networks and backward passes");
  }
  if (g->disp_rc > 0.f) {
    enqueue_dispersion_list(g, n_local, mode, skin);
    enqueue_dispersion(g, n_local, want_vatom);
  }
  if (g->n_img) enqueue_image_forces(g, n_local, n_total, want_vatom);
  if (g->n_members > 1) enqueue_members_final(g, n_total);
  mark(g, "descriptor backward+forces");
  cudaMemcpyAsync(g->h_out, g->d_out, g->out_bytes, cudaMemcpyDeviceToHost, g->stream);
  cudaMemsetAsync(g->d_out, 0, g->out_bytes, g->stream);
  mark(g, "results out");
}

/* Capture the step into a graph (or reuse the one captured for these counts), run it, and
 * return with the results in the pinned host buffers. Small systems on a GPU of their own run
 * on the resident kernel instead. */
static mlff_cuda_status run_step(mlff_cuda *g, int n_local, int n_total, int want_vatom,
                                 int mode, float skin) {
  /* the one-kernel steps do not check the training range */
  int fused = n_total <= FUSED_MAX_ATOMS && !g->no_fused && g->range_tol < 0;
  if (fused && resident_fits(g, n_local, n_total)) {
    g->fused = 1;
    return run_resident(g, n_local, n_total, want_vatom);
  }
  CUDA_TRY(stop_resident(g)); /* it holds the stream */
  if (g->knobs.profile) {
    g->fused = fused;
    g->n_marks = 0;
    enqueue_step(g, n_local, n_total, want_vatom, mode, skin);
    CUDA_TRY(cudaStreamSynchronize(g->stream));
    fprintf(stderr, "mlff gpu profile (%d local, %d total atoms, %s):", n_local, n_total,
            fused ? "one kernel" : "general path");
    for (int k = 1; k < g->n_marks; k++) {
      float ms;
      cudaEventElapsedTime(&ms, g->ev[k - 1], g->ev[k]);
      fprintf(stderr, " %s %.1f us;", g->ev_name[k], 1e3 * ms);
    }
    fprintf(stderr, "\n");
    if (fused) print_phases(g, "one-kernel");
    return MLFF_CUDA_OK;
  }
  if (g->knobs.no_graph) {
    g->fused = fused;
    enqueue_step(g, n_local, n_total, want_vatom, mode, skin);
    CUDA_TRY(cudaStreamSynchronize(g->stream));
    return MLFF_CUDA_OK;
  }
  auto &gr = g->graph[mode == LIST_REUSE];
  if (!gr.exec || gr.local != n_local || gr.total != n_total || gr.vatom != want_vatom ||
      gr.fused != fused || gr.mode != mode || gr.skin != skin || gr.images != g->n_img) {
    g->fused = fused;
    if (gr.exec) cudaGraphExecDestroy(gr.exec);
    gr.exec = nullptr;
    cudaGraph_t graph;
    CUDA_TRY(cudaStreamBeginCapture(g->stream, cudaStreamCaptureModeThreadLocal));
    enqueue_step(g, n_local, n_total, want_vatom, mode, skin);
    CUDA_TRY(cudaStreamEndCapture(g->stream, &graph));
    cudaError_t e = cudaGraphInstantiate(&gr.exec, graph, 0);
    cudaGraphDestroy(graph);
    if (e != cudaSuccess)
      return fail(g, MLFF_CUDA_ERR_DEVICE, "cannot instantiate the step's CUDA graph: %s",
                  cudaGetErrorString(e));
    gr.local = n_local;
    gr.total = n_total;
    gr.vatom = want_vatom;
    gr.fused = fused;
    gr.mode = mode;
    gr.skin = skin;
    gr.images = g->n_img;
  } else {
    g->fused = fused;
    set_layout(g, n_local, n_total, want_vatom); /* the host pointers of this graph */
  }
  CUDA_TRY(cudaGraphLaunch(gr.exec, g->stream));
  CUDA_TRY(cudaStreamSynchronize(g->stream));
  return MLFF_CUDA_OK;
}

/* The step found atoms closer than the close-atom guard allows (its key names a local atom
 * i): the closest such pair, found here in double (i's partner among all the step's atoms; an
 * image made here by its owner's position and the cell), kept for mlff_cuda_close_pair */
static mlff_cuda_status close_failure(mlff_cuda *g, int n_local, int n_total, const double *x,
                                      const int *species, const double *lattice) {
  const int i = (int)(unsigned)*g->h_guard, ns = g->n_elements;
  const double *xi = x + 3 * (size_t)i;
  double best = INFINITY, rbest = 0.0;
  int jbest = -1;
  for (int j = 0; j < n_total; j++) {
    if (j == i) continue;
    int o = j; /* whose species */
    double y[3];
    if (j >= n_local && lattice && g->n_img) { /* an image made here */
      o = g->h_img[j - n_local].x;
      image_position(x + 3 * (size_t)o, g->h_img[j - n_local].y, g->h_cell, y);
    } else {
      for (int d = 0; d < 3; d++) y[d] = x[3 * (size_t)j + d];
    }
    if (species[o] < 0) continue;
    const double c = g->h_close[species[i] * ns + species[o]];
    const double r = sqrt((y[0] - xi[0]) * (y[0] - xi[0]) + (y[1] - xi[1]) * (y[1] - xi[1]) +
                          (y[2] - xi[2]) * (y[2] - xi[2]));
    if (c > 0.0 && r < c && r / c < best) best = r / c, rbest = r, jbest = o;
  }
  g->close_failed = 1;
  g->close_i = i;
  g->close_j = jbest;
  g->close_r = rbest;
  return fail(g, MLFF_CUDA_ERR_ARGUMENT, "atoms %d and %d are %.4g Å apart, closer than the "
              "close-atom guard allows", i, jbest, rbest);
}

/* mlff_cuda_compute, its failures' messages in g->message */
static mlff_cuda_status compute(mlff_cuda *g, int n_local, int n_total, const double *x,
                                const int *species, double skin, int list_age,
                                const mlff_cuda_cell *box, double *forces, double *energy_atom,
                                double *virial_atom, double *member_forces, double *deviation,
                                double *energy, double virial[6]) {
  const double *lattice = box ? box->h : nullptr; /* the periodic cell's rows */
  g->close_failed = 0;
  *energy = 0.0;
  for (int q = 0; q < 6; q++) virial[q] = 0.0;
  if (n_local <= 0) return MLFF_CUDA_OK; /* nothing to add; no kernel may have an empty grid */
  /* MLFF_GPU_PROFILE: the host's share of the call too (staging, the step, adding results) */
  const auto t_start = std::chrono::steady_clock::now();
  double t_stage = 0.0, t_step = 0.0;
  auto us_since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t)
        .count();
  };
  /* cell grid over the bounding box of the atoms that take part; coordinates relative to its
   * corner so that floats keep their precision in large boxes */
  if (use_device(g) != cudaSuccess)
    return fail(g, MLFF_CUDA_ERR_DEVICE, "cannot make CUDA device %d current", g->device);
  /* host loops over atoms share g->n_threads threads in large systems (waking them costs more
   * than a small molecule's whole loop) */
  const int nt = n_total >= HOST_THREADS_MIN_ATOMS ? g->n_threads : 1;
  (void)nt; /* nvcc does not see its use in the pragmas */
  double t_bbox = 0.0, t_reserve = 0.0;
  /* with a cell the caller's atoms are all local, and the images are made here: anew where no
   * kept list applies, else those of its build follow their owners (k_images) */
  const int n_caller = n_total;
  if (lattice && n_total != n_local)
    return fail(g, MLFF_CUDA_ERR_ARGUMENT, "periodic images on the GPU: with a cell every atom "
                "is local (%d of %d are), the images are made here", n_local, n_total);
  auto kept_ok = [&](int n_all) {
    return skin > 0.0 && list_age > 0 && g->list_kept && !g->knobs.no_reuse &&
           g->list_skin == (float)skin && g->list_local == n_local && g->list_total == n_all &&
           g->list_generation == g->generation && g->list_images == (lattice != nullptr);
  };
  bool images_made = false;
  if (!lattice) {
    g->n_img = 0;
    g->img_local = -1; /* a later call with a cell makes its images anew */
  } else if (kept_ok(n_local + g->n_img)) {
    memcpy(g->h_cell, lattice, 9 * sizeof(double));
    n_total = n_local + g->n_img;
  }
  g->moving = lattice ? n_local : n_total;
  for (;;) {
    if (lattice && !images_made && !kept_ok(n_total)) {
      const auto t_b = std::chrono::steady_clock::now();
      if (skin > 0.0 && list_age > 0 && g->img_local == n_local && g->img_skin == (float)skin) {
        /* between the caller's rebuilds its images stay those of the last one, at their atoms'
         * current positions (as LAMMPS moves its ghosts): their number stays too, and the
         * one-kernel paths keep their launch (a count that changed every step restarted the
         * resident step: one benzene 24 -> 27 us, 16 benzenes 40 -> 56 us) */
        if (g->n_img) refill_images(g, n_local, x, species, lattice, nt);
      } else {
        /* to the model's whole range: the dispersion's cutoff where it has one */
        mlff_cuda_status st =
            make_images(g, n_local, x, species, box, fmaxf(g->rc, g->disp_rc) + skin, nt);
        if (st) return st;
        g->img_local = skin > 0.0 && list_age == 0 ? n_local : -1; /* valid until a rebuild */
        g->img_skin = (float)skin;
      }
      if (g->n_img) { /* else the caller's arrays as they are (a molecule far from the faces) */
        x = g->h_all;
        species = g->h_all_sp;
      }
      n_total = n_local + g->n_img;
      images_made = true;
      t_bbox += us_since(t_b);
    }
    /* the general path copies positions and species as given and finds the corner in the
     * same pass (k_stage makes the float4 positions); the one-kernel path stages float4 and
     * double positions relative to the corner on the host */
    const int general = n_total > FUSED_MAX_ATOMS || g->no_fused || g->range_tol >= 0;
    /* a list to keep is built where the caller rebuilt its own (LAMMPS: neighbor->ago == 0):
     * from there on, no atom moves more than skin/2 before the next rebuild */
    const int build = general && skin > 0.0 && list_age == 0 && !g->knobs.no_reuse;
    /* a step on the kept list (the same atoms as at its build, no buffer moved since): only the
     * moves since its build are staged, as floats, with no bounding box (the cell grid is not
     * used); the build's positions stay in h_stage */
    if (general && kept_ok(n_total)) {
      const auto t_b = std::chrono::steady_clock::now();
      const double *ref = stage_xd(g->h_stage, n_total);
      float *moved = g->h_delta;
      const long m3 = 3L * g->moving; /* images follow their owners on the device */
#pragma omp parallel for num_threads(nt) schedule(static)
      for (long k = 0; k < m3; k++) moved[k] = (float)(x[k] - ref[k]);
      t_bbox += us_since(t_b);
      t_stage = us_since(t_start);
      const auto t_run = std::chrono::steady_clock::now();
      mlff_cuda_status st =
          run_step(g, n_local, n_total, virial_atom != nullptr, LIST_REUSE, (float)skin);
      if (st) return st;
      t_step += us_since(t_run);
      break; /* a kept list cannot overflow */
    }
    auto t_r = std::chrono::steady_clock::now();
    mlff_cuda_status st = reserve(g, n_total, g->cap_cells > 0 ? g->cap_cells : 64, g->max_nb);
    if (st) return st;
    t_reserve += us_since(t_r);
    const auto t_b = std::chrono::steady_clock::now();
    double lo[3] = {1e300, 1e300, 1e300}, hi[3] = {-1e300, -1e300, -1e300};
    double *raw = (double *)stage_xd(g->h_stage, n_total);
    int *sp = (int *)stage_species(g->h_stage, n_total);
    /* plain comparisons: fmin/fmax are library calls here, which made this loop ~1 ms of a
     * 4 ms step for 65k atoms (H100 host, MLFF_GPU_PROFILE) */
#pragma omp parallel for num_threads(nt) schedule(static) reduction(min : lo[:3]) \
    reduction(max : hi[:3])
    for (int i = 0; i < n_total; i++) {
      const double *xi = x + 3 * (size_t)i;
      if (general) {
        raw[3 * (size_t)i] = xi[0];
        raw[3 * (size_t)i + 1] = xi[1];
        raw[3 * (size_t)i + 2] = xi[2];
        sp[i] = species[i];
      }
      if (species[i] < 0) continue;
      for (int d = 0; d < 3; d++) {
        if (xi[d] < lo[d]) lo[d] = xi[d];
        if (xi[d] > hi[d]) hi[d] = xi[d];
      }
    }
    if (lo[0] > hi[0]) /* no atom of the model */
      for (int d = 0; d < 3; d++) lo[d] = hi[d] = 0.0;
    t_bbox += us_since(t_b);
    double cell = build ? g->rc + skin : g->rc;
    int dims[3];
    long ncell;
    for (;;) {
      ncell = 1;
      for (int d = 0; d < 3; d++) {
        dims[d] = (int)((hi[d] - lo[d]) / cell) + 1;
        ncell *= dims[d];
      }
      if (ncell <= 8L * n_total + 27) break;
      cell *= 2.0;
    }
    t_r = std::chrono::steady_clock::now();
    const long generation = g->generation;
    if ((st = reserve(g, n_total, (int)ncell, g->max_nb))) return st;
    t_reserve += us_since(t_r);
    if (general && g->generation != generation) continue; /* buffers grew: stage again */
    const int mode = build ? LIST_BUILD : LIST_NEW;
    g->list_kept = 0; /* until this step has built one */
    if (g->disp_rc > 0.f) { /* its list: room for the pairs of the mean density, and more */
      double vol = 1.0;
      for (int d = 0; d < 3; d++) vol *= fmax(hi[d] - lo[d], 1.0);
      const double r = g->disp_rc + (build ? skin : 0.0);
      const double pairs = fmin((double)n_total, n_total / vol * 4.18879 * r * r * r);
      if ((st = dispersion_reserve(g, n_local, (int)(1.5 * pairs) + 64))) return st;
    }
    StepHeader *h = (StepHeader *)g->h_stage;
    for (int d = 0; d < 3; d++) {
      h->dims[d] = dims[d];
      h->origin[d] = general ? lo[d] : 0.0;
    }
    h->inv_cell = (float)(1.0 / cell);
    h->meta.x = n_total;
    h->meta.y = hi[0] - lo[0] <= FLOAT_SPAN && hi[1] - lo[1] <= FLOAT_SPAN &&
                hi[2] - lo[2] <= FLOAT_SPAN;
    if (!general) { /* after the reserve above: h_stage may have moved (raw is stale then) */
      float4 *pos = (float4 *)(g->h_stage + sizeof(StepHeader));
      double *xd = (double *)stage_xd(g->h_stage, n_total);
      for (int i = 0; i < n_total; i++) {
        for (int d = 0; d < 3; d++) xd[3 * (size_t)i + d] = x[3 * (size_t)i + d] - lo[d];
        pos[i] = make_float4((float)xd[3 * (size_t)i], (float)xd[3 * (size_t)i + 1],
                             (float)xd[3 * (size_t)i + 2], (float)species[i]);
      }
    }
    t_stage = us_since(t_start) - t_step;
    const auto t_run = std::chrono::steady_clock::now();
    if ((st = run_step(g, n_local, n_total, virial_atom != nullptr, mode, (float)skin))) return st;
    t_step += us_since(t_run);
    if (g->disp_rc > 0.f && *g->h_disp_over > 0) { /* its list was too short: longer, again */
      const int need = *g->h_disp_over + 64;
      *g->h_disp_over = 0;
      if ((st = dispersion_reserve(g, n_local, need))) return st;
      continue;
    }
    if (*g->h_overflow == 0) {
      if (mode == LIST_BUILD) {
        g->list_kept = 1;
        g->list_skin = (float)skin;
        g->list_local = n_local;
        g->list_total = n_total;
        g->list_generation = g->generation;
        g->list_images = lattice != nullptr;
      }
      break;
    }
    if (g->fused) { /* more neighbours than the one-kernel path holds: the general path */
      g->no_fused = 1;
      continue;
    }
    int need = *g->h_overflow + 16;
    if (need > MAX_NB_LIMIT)
      return fail(g, MLFF_CUDA_ERR_ARGUMENT, "an atom has %d neighbours within %.2f Å (the GPU "
                  "path holds at most %d): are atoms overlapping?%s", *g->h_overflow,
                  build ? g->rc + skin : g->rc, MAX_NB_LIMIT,
                  build ? " Or use a smaller neighbour skin." : "");
    if ((st = reserve(g, n_total, (int)ncell, need))) return st; /* and run again */
  }
  if (g->guard_on && *g->h_guard) return close_failure(g, n_local, n_total, x, species, lattice);
  if (lattice && g->fused) /* the one-kernel paths leave the images' results to the host */
    for (int q = 0; q < g->n_img; q++) {
      const size_t o = g->h_img[q].x, i = (size_t)n_local + q;
      for (int k = 0; k < 3; k++) g->h_force[3 * o + k] += g->h_force[3 * i + k];
      g->h_eatom[o] += g->h_eatom[i];
      if (virial_atom)
        for (int k = 0; k < 6; k++) g->h_vatom[6 * o + k] += g->h_vatom[6 * i + k];
    }
  const long n3 = forces ? 3L * n_caller : 0, n6 = virial_atom ? 6L * n_caller : 0;
  const int ne = energy_atom ? n_caller : 0;
#pragma omp parallel num_threads(nt)
  {
#pragma omp for schedule(static) nowait
    for (long k = 0; k < n3; k++) forces[k] += g->h_force[k];
#pragma omp for schedule(static) nowait
    for (int i = 0; i < ne; i++) energy_atom[i] += g->h_eatom[i];
#pragma omp for schedule(static) nowait
    for (long k = 0; k < n6; k++) virial_atom[k] += g->h_vatom[k];
  }
  range_collect(g);
  if (g->n_members > 1) { /* device layout [K][n_total][3]; the caller's [K][n_caller][3] */
    const int K = g->n_members;
    const long nc3 = 3L * n_caller, nd3 = 3L * n_total, nm = member_forces ? nc3 : 0;
    const int nv = deviation ? n_caller : 0;
#pragma omp parallel num_threads(nt)
    {
      for (int k = 0; k < K; k++) {
#pragma omp for schedule(static) nowait
        for (long q = 0; q < nm; q++) member_forces[k * nc3 + q] += g->h_mforce[k * nd3 + q];
      }
#pragma omp for schedule(static) nowait
      for (int i = 0; i < nv; i++) deviation[i] = g->h_dev[i];
    }
  }
  *energy = g->h_sums[0];
  for (int q = 0; q < 6; q++) virial[q] = g->h_sums[1 + q];
  if (g->knobs.profile)
    fprintf(stderr, "mlff gpu host (%d total atoms): bounding box and staging %.1f us (box %.1f, "
            "buffers %.1f); step (launch to results) %.1f us; adding results %.1f us\n", n_total,
            t_stage, t_bbox, t_reserve, t_step, us_since(t_start) - t_stage - t_step);
  return MLFF_CUDA_OK;
}

extern "C" mlff_cuda_status mlff_cuda_compute(mlff_cuda *g, int n_local, int n_total,
                                              const double *x, const int *species, double skin,
                                              int list_age, const mlff_cuda_cell *cell,
                                              double *forces, double *energy_atom,
                                              double *virial_atom, double *member_forces,
                                              double *deviation, double *energy,
                                              double virial[6], mlff_cuda_message *msg) {
  const mlff_cuda_status st =
      compute(g, n_local, n_total, x, species, skin, list_age, cell, forces, energy_atom,
              virial_atom, member_forces, deviation, energy, virial);
  if (st) *msg = g->message;
  return st;
}

extern "C" mlff_cuda_status mlff_cuda_guard_close(mlff_cuda *g, const double *close,
                                                  mlff_cuda_message *msg) {
  const int ns = g->n_elements;
  float t[MLFF_CUDA_MAX_ELEMENTS * MLFF_CUDA_MAX_ELEMENTS] = {0};
  bool on = false;
  for (int k = 0; close && k < ns * ns; k++) on |= (t[k] = (float)close[k]) > 0.f;
  if (use_device(g) != cudaSuccess || stop_resident(g) != cudaSuccess ||
      cudaMemcpy(g->d_close, t, sizeof t, cudaMemcpyHostToDevice) != cudaSuccess) {
    cudaGetLastError();
    fail(msg, MLFF_CUDA_ERR_DEVICE, "cannot set the close-atom guard on the GPU");
    return MLFF_CUDA_ERR_DEVICE;
  }
  memcpy(g->h_close, t, sizeof t);
  if (on != (g->guard_on != 0)) drop_graphs(g); /* their kernels' arguments name the table */
  g->guard_on = on;
  return MLFF_CUDA_OK;
}

extern "C" int mlff_cuda_close_pair(const mlff_cuda *g, int *i, int *j, double *r) {
  if (!g->close_failed) return 0;
  *i = g->close_i;
  *j = g->close_j;
  *r = g->close_r;
  return 1;
}
