/* GPU path against the CPU double path (docs/gpu.md): forces, energies, virials of benzene, a dimer,
 * a periodic liquid box and a batch; FP16 against FP32; the neighbour-list entry point; graph
 * replay; mlff_compute's kept list with the dispersion (the rest of the kept list: the unit test
 * test_repeat, which takes the GPU where one is). Exit 77 (skipped) where no GPU is visible. */
#include <unistd.h>

#include "../unit/test_util.h"

typedef struct { double f_rel, e_rel, v_rel, f_rms; } cmp;

/* r1 against the reference r0: max|dF|/max|F| and the force RMS over atoms [i0, i1), |dE|/|E|,
 * max|dW|/max|W| */
static cmp results_cmp(const mlff_result *r0, const mlff_result *r1, int i0, int i1) {
  const double *F0 = r0->forces, *F1 = r1->forces;
  double fm = 0, dmax = 0, ss = 0, vmax = 0, dv = 0;
  for (int i = i0; i < i1; i++) {
    double a = 0, d = 0;
    for (int x = 0; x < 3; x++) {
      a += F0[3 * i + x] * F0[3 * i + x];
      d += (F1[3 * i + x] - F0[3 * i + x]) * (F1[3 * i + x] - F0[3 * i + x]);
    }
    fm = fmax(fm, sqrt(a));
    dmax = fmax(dmax, sqrt(d));
    ss += a;
  }
  for (int q = 0; q < 6; q++) {
    vmax = fmax(vmax, fabs(r0->virial[q]));
    dv = fmax(dv, fabs(r1->virial[q] - r0->virial[q]));
  }
  cmp c = {dmax / fm, fabs(r1->energy - r0->energy) / fabs(r0->energy), dv / vmax, sqrt(ss / (i1 - i0))};
  return c;
}

static cmp compare(mlff_calc *ref, mlff_calc *gpu, const tstruct *t) {
  mlff_structure s = tview(t);
  double *F0 = malloc(24 * t->n), *F1 = malloc(24 * t->n);
  mlff_result r0 = {0, {0}, F0, 0, 0}, r1 = {0, {0}, F1, 0, 0};
  CHECK_OK(mlff_compute(ref, &s, &r0));
  CHECK_OK(mlff_compute(gpu, &s, &r1));
  cmp c = results_cmp(&r0, &r1, 0, t->n);
  free(F0); free(F1);
  return c;
}

/* mlff_compute_neighbors on the GPU with a kept list (all n atoms local, open), against the CPU
 * on the same open structure: max|dF|/max|F| (and of atom `only`'s force when only >= 0) */
static double kept_list_error(mlff_calc *cpu, mlff_calc *gpu, int n, const double *x, const int *sp,
                              double skin, int list_age, int only) {
  double *F0 = malloc(24 * n), *F1 = calloc(3 * n, 8);
  mlff_structure s = {n, x, sp, NULL, {0, 0, 0}};
  mlff_result r0 = {0, {0}, F0, 0, 0}, r1 = {0, {0}, F1, 0, 0};
  mlff_neighbors nl = {n, x, sp, n, NULL, NULL, NULL, 0, skin, list_age, NULL};
  CHECK_OK(mlff_compute(cpu, &s, &r0));
  CHECK_OK(mlff_compute_neighbors(gpu, &nl, &r1));
  const double e = results_cmp(&r0, &r1, only >= 0 ? only : 0, only >= 0 ? only + 1 : n).f_rel;
  free(F0); free(F1);
  return e;
}

/* Periodic images made on the GPU (mlff_neighbors.cell, all atoms local: LAMMPS on one rank)
 * against the CPU on the periodic structure with positions x in cell: forces, energy, virial */
static cmp images_error(mlff_calc *cpu, mlff_calc *gpu, const tstruct *t, const double *x,
                        const double *cell, double skin, int list_age) {
  const int n = t->n;
  double *F0 = malloc(24 * n), *F1 = calloc(3 * n, 8);
  mlff_structure s = {n, x, t->species, cell, {1, 1, 1}};
  mlff_result r0 = {0, {0}, F0, 0, 0}, r1 = {0, {0}, F1, 0, 0};
  mlff_neighbors nl = {n, x, t->species, n, NULL, NULL, NULL, 0, skin, list_age, cell};
  CHECK_OK(mlff_compute(cpu, &s, &r0));
  CHECK_OK(mlff_compute_neighbors(gpu, &nl, &r1));
  cmp c = results_cmp(&r0, &r1, 0, n);
  free(F0); free(F1);
  return c;
}

/* Per-atom energies and virials, GPU against CPU on t (positions x): through mlff_compute, or
 * (cell non-NULL: t's) through mlff_compute_neighbors with the images made on the GPU; max|dF| /
 * max|F| in f_rel, max|de_i| / max|e_i| in e_rel and max|dW_i| / max|W_i| in v_rel. */
static cmp atoms_error(mlff_calc *cpu, mlff_calc *gpu, const tstruct *t, const double *x,
                       const double *cell) {
  const int n = t->n;
  double *F0 = malloc(24 * n), *F1 = calloc(3 * n, 8), *e0 = malloc(8 * n), *e1 = calloc(n, 8),
         *v0 = malloc(48 * n), *v1 = calloc(6 * n, 8);
  mlff_structure s = tview(t);
  s.positions = x;
  mlff_result r0 = {0, {0}, F0, e0, v0}, r1 = {0, {0}, F1, e1, v1};
  CHECK_OK(mlff_compute(cpu, &s, &r0));
  if (cell) {
    mlff_neighbors nl = {n, x, t->species, n, NULL, NULL, NULL, 0, 1.0, 0, cell};
    CHECK_OK(mlff_compute_neighbors(gpu, &nl, &r1));
  } else {
    CHECK_OK(mlff_compute(gpu, &s, &r1));
  }
  double em = 0, de = 0, vm = 0, dv = 0, sum = 0;
  for (int i = 0; i < n; i++) {
    em = fmax(em, fabs(e0[i]));
    de = fmax(de, fabs(e1[i] - e0[i]));
    sum += e1[i];
    for (int q = 0; q < 6; q++) {
      vm = fmax(vm, fabs(v0[6 * i + q]));
      dv = fmax(dv, fabs(v1[6 * i + q] - v0[6 * i + q]));
    }
  }
  /* mlff_compute_neighbors leaves the dispersion's tail to the caller: its energies sum to its
   * total (mlff_compute's total has the tail too) */
  if (cell) CHECK_CLOSE(sum, r1.energy, 1e-5 * fabs(r1.energy));
  cmp c = {results_cmp(&r0, &r1, 0, n).f_rel, de / em, dv / vm, 0};
  free(F0); free(F1); free(e0); free(e1); free(v0); free(v1);
  return c;
}

/* A committee of K members, GPU against CPU on t: through mlff_compute (the GPU calc's path:
 * ghosts, or its kept list) or, with cell (t's), mlff_compute_neighbors with images made on the
 * GPU. f_rel: the mean forces' max|dF|/max|F|; e_rel: |dE|/|E| (mlff_compute only) and the
 * per-atom energies' max|de_i|/max|e_i|, the larger; v_rel: the members' forces, max over
 * members and atoms |dF|/max|F|; f_rms: the deviations' max|dσ_i|/max σ_i and the relative
 * difference of their maximum, the larger. */
static cmp committee_error(mlff_calc *cpu, mlff_calc *gpu, const tstruct *t, int K,
                           const double *cell) {
  const int n = t->n;
  double *F0 = malloc(24 * n), *F1 = calloc(3 * n, 8), *e0 = malloc(8 * n), *e1 = calloc(n, 8),
         *m0 = malloc(24 * (size_t)K * n), *m1 = calloc(3 * (size_t)K * n, 8),
         *s0 = malloc(8 * n), *s1 = calloc(n, 8);
  mlff_structure s = tview(t);
  mlff_result r0 = {0, {0}, F0, e0, NULL, s0, 0, m0}, r1 = {0, {0}, F1, e1, NULL, s1, 0, m1};
  CHECK_OK(mlff_compute(cpu, &s, &r0));
  if (cell) {
    mlff_neighbors nl = {n, t->x, t->species, n, NULL, NULL, NULL, 0, 1.0, 0, cell};
    CHECK_OK(mlff_compute_neighbors(gpu, &nl, &r1));
  } else {
    CHECK_OK(mlff_compute(gpu, &s, &r1));
  }
  double fm = 0, dm = 0, em = 0, de = 0, sm = 0, ds = 0;
  for (int i = 0; i < n; i++) {
    em = fmax(em, fabs(e0[i]));
    de = fmax(de, fabs(e1[i] - e0[i]));
    sm = fmax(sm, s0[i]);
    ds = fmax(ds, fabs(s1[i] - s0[i]));
    for (int x = 0; x < 3; x++) fm = fmax(fm, fabs(F0[3 * i + x]));
  }
  for (size_t q = 0; q < 3 * (size_t)K * n; q++) dm = fmax(dm, fabs(m1[q] - m0[q]));
  cmp c = results_cmp(&r0, &r1, 0, n);
  printf("  committee, %d atoms%s: E %.10g vs %.10g (|dE|/|E| %.2e); per atom max|e_i| %.4g eV, "
         "max|de_i| %.2e eV\n", n, cell ? " (GPU images)" : "", r1.energy, r0.energy, c.e_rel, em,
         de);
  c.e_rel = fmax(cell ? 0.0 : c.e_rel, de / em);
  c.v_rel = dm / fm;
  c.f_rms = fmax(ds / sm, fabs(r1.max_force_deviation - r0.max_force_deviation) /
                              r0.max_force_deviation);
  CHECK(r0.max_force_deviation > 0.0);
  free(F0); free(F1); free(e0); free(e1); free(m0); free(m1); free(s0); free(s1);
  return c;
}

/* The training-range check (mlff_calc_check_range) of model `path`, GPU against CPU, on t with
 * its positions scaled by f about their centre: the atoms outside, and the largest excursion */
static void range_check(const char *path, const tstruct *t0, double f) {
  mlff_model *rm;
  CHECK_OK(mlff_model_load(path, &rm));
  tstruct t = *t0;
  t.x = malloc(24 * t.n);
  double c[3] = {0, 0, 0};
  for (int i = 0; i < t.n; i++)
    for (int k = 0; k < 3; k++) c[k] += t0->x[3 * i + k] / t.n;
  for (int i = 0; i < 3 * t.n; i++) t.x[i] = c[i % 3] + f * (t0->x[i] - c[i % 3]);
  mlff_calc_options oc = {MLFF_DEVICE_CPU, 0, 0, 0, 0}, og;
  mlff_calc_options_default(&og);
  og.device = MLFF_DEVICE_GPU;
  mlff_calc *cc, *cg;
  CHECK_OK(mlff_calc_create(rm, &oc, &cc));
  CHECK_OK(mlff_calc_create(rm, &og, &cg));
  mlff_structure s = tview(&t);
  double *F = malloc(24 * t.n), *F1 = malloc(24 * t.n);
  mlff_result r = {0, {0}, F, 0, 0}, r1 = {0, {0}, F1, 0, 0};
  mlff_range_report a, b;
  for (int pass = 0; pass < 3; pass++) { /* off, on, off: the GPU's steps switch paths */
    const double tol = pass == 1 ? 0.01 : -1.0;
    CHECK_OK(mlff_calc_check_range(cc, tol));
    CHECK_OK(mlff_calc_check_range(cg, tol));
    CHECK_OK(mlff_compute(cc, &s, &r));
    CHECK_OK(mlff_compute(cg, &s, &r1));
    mlff_calc_range_report(cc, &a);
    mlff_calc_range_report(cg, &b);
    double fm = 0, df = 0;
    for (int k = 0; k < 3 * t.n; k++) fm = fmax(fm, fabs(F[k])), df = fmax(df, fabs(F1[k] - F[k]));
    printf("range check %s (%d atoms, scaled %.2f, tolerance %g): CPU %d outside (species %d "
           "feature %d, %.4g spans), GPU %d (species %d feature %d, %.4g spans; value %.6g vs "
           "%.6g); forces %.1e\n", path, t.n, f, tol, a.n_atoms, a.species, a.feature, a.excess,
           b.n_atoms, b.species, b.feature, b.excess, b.value, a.value, df / fm);
    CHECK(df / fm <= 1e-5);
    CHECK(abs(a.n_atoms - b.n_atoms) <= t.n / 100);
    if (pass != 1) CHECK(a.n_atoms == 0 && b.n_atoms == 0 && b.species == -1);
    if (pass == 1) {
      CHECK(a.n_atoms > 0 && a.species == b.species && a.feature == b.feature);
      CHECK(fabs(b.excess - a.excess) <= 1e-3 * a.excess);
      CHECK(fabs(b.value - a.value) <= 1e-5 * fabs(a.value) + 1e-6);
      CHECK(b.min == a.min && b.max == a.max);
    }
  }
  free(F); free(F1); free(t.x);
  mlff_calc_free(cc); mlff_calc_free(cg);
  mlff_model_free(rm);
}

int main(int argc, char **argv) {
  mlff_model_spec spec = {0};
  int hidden[3] = {128, 64, 64};
  spec.n_elements = 2; spec.elements = CH; spec.n_hidden = 3; spec.hidden = hidden;
  spec.activation = MLFF_ACT_SILU; spec.seed = 17;
  mlff_descriptor_params_ani1x(&spec.descriptor);
  mlff_model *m;
  CHECK_OK(mlff_model_create(&spec, &m));
  mlff_calc *cpu, *gpu, *gpu16;
  mlff_calc_options oc = {MLFF_DEVICE_CPU, 0, 0, 0, 0}, og = {MLFF_DEVICE_GPU, 0, 0, 0, 0}, oh = {MLFF_DEVICE_GPU, 1, 0, 0, 0};
  CHECK_OK(mlff_calc_create(m, &oc, &cpu));
  if (mlff_gpu_count() == 0) { /* only a missing GPU skips: a failing GPU path fails */
    CHECK(mlff_calc_create(m, &og, &gpu) == MLFF_ERR_DEVICE);
    printf("skipped: %s\n", mlff_last_error());
    mlff_calc_free(cpu);
    mlff_model_free(m);
    return test_failures ? 1 : 77;
  }
  CHECK_OK(mlff_calc_create(m, &og, &gpu));
  CHECK(mlff_calc_device(gpu) == MLFF_DEVICE_GPU);
  CHECK_OK(mlff_calc_create(m, &oh, &gpu16));
  { /* fp16 needs tensor-core tiles of 16: a hidden width of 100 is refused, naming it; FP32 runs */
    int odd[2] = {100, 64};
    mlff_model_spec so = spec;
    so.n_hidden = 2;
    so.hidden = odd;
    mlff_model *mo;
    mlff_calc *co = NULL;
    CHECK_OK(mlff_model_create(&so, &mo));
    CHECK(mlff_calc_create(mo, &oh, &co) == MLFF_ERR_UNSUPPORTED && !co);
    CHECK(strstr(mlff_last_error(), "multiples of 16") && strstr(mlff_last_error(), "is 100"));
    CHECK_OK(mlff_calc_create(mo, &og, &co));
    mlff_calc_free(co);
    mlff_model_free(mo);
  }
  { /* a device ordinal past the visible ones: refused, naming the count */
    mlff_calc_options bad = {MLFF_DEVICE_GPU, 0, 0, mlff_gpu_count(), 0};
    mlff_calc *none = NULL;
    CHECK(mlff_calc_create(m, &bad, &none) == MLFF_ERR_ARGUMENT && !none);
    CHECK(strstr(mlff_last_error(), "CUDA device(s) are visible") != NULL);
  }
  /* up to 4096 atoms (with images) the step is one kernel; the 4116-atom box takes the general
   * path (cell list, the network in one kernel, or a GEMM per layer where MLFF_GPU_MLP_REGS=0) */
  tstruct b = make_benzene(), d = make_dimer(), l = make_liquid(4, 5.6, 0.0), lt = make_liquid(3, 5.8, 0.1),
          big = make_liquid(7, 5.6, 0.0), st8 = {0}, gr16 = {0};
  /* a stack of 8 and a layer of 16 molecules: few atoms, so the one-kernel step gives each atom
   * a cluster of several blocks (H100: 8 blocks for one or two molecules, 4 for 8, 2 for 16) */
  double I[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
  for (int m = 0; m < 8; m++) add_benzene(&st8, I, (double[3]){0.4 * m, 0.1 * m, 3.7 * m}, 0.05);
  for (int m = 0; m < 16; m++) add_benzene(&gr16, I, (double[3]){6.4 * (m % 4), 6.6 * (m / 4), 0.3 * (m % 3)}, 0.05);
  const char *names[] = {"benzene", "dimer", "liquid 768", "triclinic 324", "liquid 4116", "stack of 8", "layer of 16"};
  tstruct *ts[] = {&b, &d, &l, &lt, &big, &st8, &gr16};
  for (int k = 0; k < 7; k++) {
    cmp c = compare(cpu, gpu, ts[k]);
    printf("FP32 vs CPU  %-14s max|dF|/max|F| %.2e  |dE|/|E| %.2e  max|dW|/max|W| %.2e\n",
           names[k], c.f_rel, c.e_rel, c.v_rel);
    CHECK(c.f_rel <= 1e-5);
    CHECK(c.e_rel <= 1e-5);
    CHECK(c.v_rel <= 1e-4);
    cmp h = compare(gpu, gpu16, ts[k]);
    printf("FP16 vs FP32 %-14s max|dF|/max|F| %.2e  |dE|/|E| %.2e  (force RMS %.3f eV/Å)\n",
           names[k], h.f_rel, h.e_rel, h.f_rms);
    CHECK(h.f_rel <= 0.05);
  }
  { /* the resident step (up to 512 atoms with images, a GPU of this process's own): the positions are
     * fetched anew every call (a moved benzene on the same kernel), a kernel that returned for
     * idleness (> 2 ms without a call) is started again, another calc allocates, computes and
     * frees while one waits (it must not hold them up for good), and the graph path that
     * gpu_shared takes gives the same forces */
    tstruct mv = make_benzene();
    for (int k = 0; k < 3 * mv.n; k++) mv.x[k] += 0.03 * sin(1.7 * k);
    const char *what[] = {"benzene", "moved benzene", "after 20 ms idle", "beside another calc",
                          "gpu_shared (graph)"};
    cmp c[5];
    c[0] = compare(cpu, gpu, &b);
    c[1] = compare(cpu, gpu, &mv);
    usleep(20000);
    c[2] = compare(cpu, gpu, &b);
    mlff_calc *other, *shared;
    CHECK_OK(mlff_calc_create(m, &og, &other));
    mlff_structure sd = tview(&d);
    mlff_result rd = {.forces = NULL};
    CHECK_OK(mlff_compute(other, &sd, &rd));
    mlff_calc_free(other);
    c[3] = compare(cpu, gpu, &mv);
    mlff_calc_options os = og;
    os.gpu_shared = 1;
    CHECK_OK(mlff_calc_create(m, &os, &shared));
    c[4] = compare(cpu, shared, &mv);
    mlff_calc_free(shared);
    for (int k = 0; k < 5; k++) {
      printf("resident step: %-20s max|dF|/max|F| %.2e  |dE|/|E| %.2e\n", what[k], c[k].f_rel, c[k].e_rel);
      CHECK(c[k].f_rel <= 1e-5);
      CHECK(c[k].e_rel <= 1e-5);
    }
    CHECK(fabs(c[1].f_rms - c[0].f_rms) > 1e-3 * c[0].f_rms); /* the move changed the forces */
    tfree(&mv);
  }
  { /* the general path's networks: the register kernels of the shipped shape (this model's:
     * FP16, and FP32 as three TF32 products) and the general ones of every other shape
     * (MLFF_GPU_MLP_REGS=0: FP16 with activations in shared memory, FP32 a GEMM per layer).
     * The two FP16 kernels share half weights and roundings, so they agree more closely than
     * either with FP32; both FP32 ones meet the CPU's tolerance. */
    mlff_calc *gen32, *gen16;
    setenv("MLFF_GPU_MLP_REGS", "0", 1);
    CHECK_OK(mlff_calc_create(m, &og, &gen32));
    CHECK_OK(mlff_calc_create(m, &oh, &gen16));
    unsetenv("MLFF_GPU_MLP_REGS");
    cmp c32 = compare(cpu, gen32, &big), r32 = compare(gen32, gpu, &big);
    cmp a = compare(gpu, gen16, &big), r = compare(gen16, gpu16, &big);
    printf("FP32 GEMM network vs CPU, liquid 4116: max|dF|/max|F| %.2e  |dE|/|E| %.2e; vs the "
           "register network %.2e / %.2e\n", c32.f_rel, c32.e_rel, r32.f_rel, r32.e_rel);
    printf("FP16 shared-memory network vs FP32, liquid 4116: max|dF|/max|F| %.2e  |dE|/|E| %.2e; "
           "vs the register network %.2e / %.2e\n", a.f_rel, a.e_rel, r.f_rel, r.e_rel);
    CHECK(c32.f_rel <= 1e-5 && c32.e_rel <= 1e-5);
    CHECK(r32.f_rel > 0.0 && r.f_rel > 0.0); /* two kernels ran, not one twice */
    CHECK(a.f_rel <= 0.05);
    CHECK(r.f_rel <= 2e-3 && r.e_rel <= 1e-3);
    mlff_calc_free(gen32);
    mlff_calc_free(gen16);
  }
  { /* the first call of a fresh calc on a large system grows every buffer while staging */
    mlff_calc *fresh;
    CHECK_OK(mlff_calc_create(m, &og, &fresh));
    cmp c = compare(cpu, fresh, &big);
    printf("FP32 vs CPU  liquid 4116, first call of a calc: max|dF|/max|F| %.2e  |dE|/|E| %.2e\n",
           c.f_rel, c.e_rel);
    CHECK(c.f_rel <= 1e-5);
    CHECK(c.e_rel <= 1e-5);
    mlff_calc_free(fresh);
  }
  { /* a kept list (skin, list_age: LAMMPS's neighbor->skin and ->ago), the 4116-atom box as an
     * open cluster (the general path): built at age 0, reused after moves of up to 0.45 Å
     * (< skin/2) that carry pairs across the cutoff */
    const int n = big.n;
    const double skin = 1.0, rc = mlff_model_cutoff(m);
    double *x1 = malloc(24 * n), *x2 = malloc(24 * n);
    unsigned rng = 12345u;
    for (int k = 0; k < 3 * n; k++) {
      rng = rng * 1103515245u + 12345u;
      x1[k] = big.x[k] + 0.45 / sqrt(3.0) * (2.0 * ((rng >> 8) & 0xffff) / 65535.0 - 1.0);
    }
    long entered = 0;
    for (int i = 0; i < n; i++)
      for (int j = i + 1; j < n; j++) {
        double r0 = 0, r1 = 0;
        for (int k = 0; k < 3; k++) {
          r0 += (big.x[3 * i + k] - big.x[3 * j + k]) * (big.x[3 * i + k] - big.x[3 * j + k]);
          r1 += (x1[3 * i + k] - x1[3 * j + k]) * (x1[3 * i + k] - x1[3 * j + k]);
        }
        entered += r0 >= rc * rc && r1 < rc * rc;
      }
    double e_build = kept_list_error(cpu, gpu, n, big.x, big.species, skin, 0, -1);
    double e_reuse = kept_list_error(cpu, gpu, n, x1, big.species, skin, 1, -1);
    printf("kept list (skin %.1f Å): built %.2e, reused after moves of <= 0.45 Å (%ld pairs entered "
           "the cutoff) %.2e max|dF|/max|F|\n", skin, e_build, entered, e_reuse);
    CHECK(entered > 0);
    CHECK(e_build <= 1e-5);
    CHECK(e_reuse <= 1e-5);
    /* the list is really kept: atom 0 moved 2.5 Å (a broken promise) misses its new neighbours;
     * the caller's next rebuild (age 0) finds them */
    memcpy(x2, x1, 24 * n);
    x2[0] += 2.5;
    double e_broken = kept_list_error(cpu, gpu, n, x2, big.species, skin, 2, 0);
    double e_rebuilt = kept_list_error(cpu, gpu, n, x2, big.species, skin, 0, 0);
    printf("kept list: atom 0 moved 2.5 Å, reused %.2e (must be wrong), rebuilt %.2e\n", e_broken, e_rebuilt);
    CHECK(e_broken > 1e-3);
    CHECK(e_rebuilt <= 1e-5);
    /* other atoms than at the build (one fewer): a new list although list_age > 0 */
    double e_fewer = kept_list_error(cpu, gpu, n - 1, x2, big.species, skin, 1, -1);
    printf("kept list: one atom fewer at age 1 (a new list) %.2e\n", e_fewer);
    CHECK(e_fewer <= 1e-5);
    free(x1); free(x2);
  }
  { /* periodic images made on the GPU (all atoms local, a cell): the 768-atom box (the
     * one-kernel path: images' forces added on the host), the triclinic 324 and the 4116-atom
     * box (general path: k_fold), the latter on a kept list built at age 0, reused after moves
     * of up to 0.4 Å, then reused in a cell 0.2 % larger (a barostat: images follow the cell) */
    const tstruct *ps[] = {&l, &lt, &big};
    const char *pn[] = {"liquid 768", "triclinic 324", "liquid 4116"};
    for (int k = 0; k < 3; k++) {
      cmp c = images_error(cpu, gpu, ps[k], ps[k]->x, ps[k]->cell, 0.0, 0);
      printf("images on the GPU, %-14s max|dF|/max|F| %.2e  |dE|/|E| %.2e  max|dW|/max|W| %.2e\n",
             pn[k], c.f_rel, c.e_rel, c.v_rel);
      CHECK(c.f_rel <= 1e-5);
      CHECK(c.e_rel <= 1e-5);
      CHECK(c.v_rel <= 1e-4);
    }
    mlff_calc *kept;
    CHECK_OK(mlff_calc_create(m, &og, &kept));
    const int n = big.n;
    double *x1 = malloc(24 * n), *x2 = malloc(24 * n), cell2[9];
    unsigned rng = 777u;
    for (int k = 0; k < 3 * n; k++) {
      rng = rng * 1103515245u + 12345u;
      x1[k] = big.x[k] + 0.4 / sqrt(3.0) * (2.0 * ((rng >> 8) & 0xffff) / 65535.0 - 1.0);
      x2[k] = 1.002 * x1[k];
    }
    for (int k = 0; k < 9; k++) cell2[k] = 1.002 * big.cell[k];
    cmp c0 = images_error(cpu, kept, &big, big.x, big.cell, 1.0, 0);
    cmp c1 = images_error(cpu, kept, &big, x1, big.cell, 1.0, 1);
    cmp c2 = images_error(cpu, kept, &big, x2, cell2, 1.0, 2);
    /* the list is really kept (so k_images placed the images above): atom 0 moved 2.5 Å at
     * age 3 misses its new neighbours */
    x2[0] += 2.5;
    cmp c3 = images_error(cpu, kept, &big, x2, cell2, 1.0, 3);
    printf("images on the GPU, kept list: built %.2e, after moves %.2e, in a 0.2 %% larger cell "
           "%.2e max|dF|/max|F| (virial %.2e); atom 0 moved 2.5 Å %.2e (must be wrong)\n",
           c0.f_rel, c1.f_rel, c2.f_rel, c2.v_rel, c3.f_rel);
    CHECK(c0.f_rel <= 1e-5 && c1.f_rel <= 1e-5 && c2.f_rel <= 1e-5);
    CHECK(c1.v_rel <= 1e-4 && c2.v_rel <= 1e-4);
    CHECK(c3.f_rel > 1e-3);
    { /* the one-kernel path between rebuilds: the images of the rebuild (age 0) at their atoms'
       * new positions, in the new cell (refill_images) */
      mlff_calc *small_box;
      CHECK_OK(mlff_calc_create(m, &og, &small_box));
      double *y1 = malloc(24 * l.n), cl[9];
      for (int k = 0; k < 3 * l.n; k++) {
        rng = rng * 1103515245u + 12345u;
        y1[k] = 1.002 * (l.x[k] + 0.4 / sqrt(3.0) * (2.0 * ((rng >> 8) & 0xffff) / 65535.0 - 1.0));
      }
      for (int k = 0; k < 9; k++) cl[k] = 1.002 * l.cell[k];
      cmp k0 = images_error(cpu, small_box, &l, l.x, l.cell, 1.0, 0);
      cmp k1 = images_error(cpu, small_box, &l, y1, cl, 1.0, 1);
      printf("images on the GPU, liquid 768 (one kernel) rebuilt %.2e, after moves in a 0.2 %% "
             "larger cell %.2e max|dF|/max|F| (virial %.2e)\n", k0.f_rel, k1.f_rel, k1.v_rel);
      CHECK(k0.f_rel <= 1e-5 && k1.f_rel <= 1e-5 && k1.v_rel <= 1e-4);
      free(y1);
      mlff_calc_free(small_box);
    }
    /* a cell narrower than cutoff + skin across a face: refused, naming the axis and the fix */
    const double small[9] = {6.0, 0, 0, 0, 30, 0, 0, 0, 30};
    double *F = calloc(3 * b.n, 8);
    mlff_result r = {.forces = F};
    mlff_neighbors nl = {b.n, b.x, b.species, b.n, NULL, NULL, NULL, 0, 1.0, 0, small};
    CHECK(mlff_compute_neighbors(kept, &nl, &r) == MLFF_ERR_ARGUMENT);
    CHECK(strstr(mlff_last_error(), "along cell vector a") != NULL);
    CHECK(strstr(mlff_last_error(), "needs a wider cell") != NULL);
    printf("images on the GPU, 6 Å cell: %s\n", mlff_last_error());
    free(F); free(x1); free(x2);
    mlff_calc_free(kept);
  }
  { /* the first call of a fresh calc on two benzenes 150 Å apart: the cell grid outgrows its
     * first allocation while the atoms fit (the staging buffer moves under the one-kernel path;
     * mlff eval --fp16 yes crashed so) */
    tstruct far = {0};
    double I3[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    add_benzene(&far, I3, (double[3]){0, 0, 0}, 0.05);
    add_benzene(&far, I3, (double[3]){150, 0, 0}, 0.05);
    mlff_calc *fresh;
    CHECK_OK(mlff_calc_create(m, &og, &fresh));
    cmp c = compare(cpu, fresh, &far);
    printf("FP32 vs CPU  two benzenes 150 Å apart, first call of a calc: max|dF|/max|F| %.2e\n", c.f_rel);
    CHECK(c.f_rel <= 1e-5);
    mlff_calc_free(fresh);
    tfree(&far);
  }
  /* batch on the GPU = single GPU calls */
  tstruct set[3] = {b, d, lt};
  mlff_structure ss[3];
  mlff_result br[3], sr[3];
  for (int k = 0; k < 3; k++) {
    ss[k] = tview(&set[k]);
    br[k] = (mlff_result){0, {0}, malloc(24 * set[k].n), malloc(8 * set[k].n), NULL};
    sr[k] = (mlff_result){0, {0}, malloc(24 * set[k].n), malloc(8 * set[k].n), NULL};
    CHECK_OK(mlff_compute(cpu, &ss[k], &sr[k]));
  }
  CHECK_OK(mlff_compute_batch(gpu, 3, ss, br));
  for (int k = 0; k < 3; k++) {
    CHECK_CLOSE(br[k].energy, sr[k].energy, 1e-5 * fabs(sr[k].energy));
    double fm = 0;
    for (int i = 0; i < 3 * set[k].n; i++) fm = fmax(fm, fabs(sr[k].forces[i]));
    for (int i = 0; i < 3 * set[k].n; i++) CHECK_CLOSE(br[k].forces[i], sr[k].forces[i], 1e-5 * fm);
    free(br[k].forces); free(br[k].energy_atom); free(sr[k].forces); free(sr[k].energy_atom);
  }
  /* a large batch (500 dimers, 12,000 atoms in one launch) = the CPU, structure by structure:
   * the structures must not be laid out so far apart that float32 positions lose precision */
  {
    enum { NB = 500 };
    mlff_structure *bs = malloc(NB * sizeof *bs);
    mlff_result *bg = malloc(NB * sizeof *bg);
    double *Fc = malloc(24 * d.n);
    for (int k = 0; k < NB; k++) {
      bs[k] = tview(&d);
      bg[k] = (mlff_result){0, {0}, malloc(24 * d.n), NULL, NULL};
    }
    CHECK_OK(mlff_compute_batch(gpu, NB, bs, bg));
    mlff_result rc = {.forces = Fc};
    CHECK_OK(mlff_compute(cpu, &bs[0], &rc));
    double fm = 0, worst = 0;
    for (int i = 0; i < 3 * d.n; i++) fm = fmax(fm, fabs(Fc[i]));
    for (int k = 0; k < NB; k++)
      for (int i = 0; i < 3 * d.n; i++) worst = fmax(worst, fabs(bg[k].forces[i] - Fc[i]) / fm);
    printf("batch of %d dimers vs CPU: max|dF|/max|F| %.2e\n", NB, worst);
    CHECK(worst <= 1e-5);
    for (int k = 0; k < NB; k++) free(bg[k].forces);
    free(bs); free(bg); free(Fc);
  }
  /* neighbour-list entry point (as LAMMPS calls it): full list of an open dimer */
  {
    int n = d.n, *ilist = malloc(n * sizeof(int)), *num = malloc(n * sizeof(int)), *all = malloc(n * n * sizeof(int));
    const int **first = malloc(n * sizeof(int *));
    for (int i = 0; i < n; i++) {
      ilist[i] = i; num[i] = 0;
      for (int j = 0; j < n; j++) if (j != i) all[i * n + num[i]++] = j;
      first[i] = all + i * n;
    }
    mlff_neighbors nl = {n, d.x, d.species, n, ilist, num, first, 0, 0.0, 0, NULL};
    double *F0 = calloc(3 * n, 8), *F1 = calloc(3 * n, 8), *e1 = calloc(n, 8), *v1 = calloc(6 * n, 8);
    mlff_result r0 = {0, {0}, F0, NULL, NULL}, r1 = {0, {0}, F1, e1, v1};
    CHECK_OK(mlff_compute_neighbors(cpu, &nl, &r0));
    CHECK_OK(mlff_compute_neighbors(gpu, &nl, &r1));
    CHECK_CLOSE(r1.energy, r0.energy, 1e-5 * fabs(r0.energy));
    double es = 0, vs = 0;
    for (int i = 0; i < n; i++) { es += e1[i]; vs += v1[6 * i]; }
    CHECK_CLOSE(es, r1.energy, 1e-5 * fabs(r1.energy));
    CHECK_CLOSE(vs, r1.virial[0], 1e-4 * fabs(r1.virial[0]) + 1e-6);
    for (int k = 0; k < 3 * n; k++) CHECK_CLOSE(F1[k], F0[k], 1e-5);
    free(ilist); free(num); free(all); free(first); free(F0); free(F1); free(e1); free(v1);
  }
  /* long-range dispersion (12 Å, the tail on): the GPU's pairs against the CPU's, on the
   * dimer (now on the general path), the liquid boxes with structures (images of the core) and
   * with images made on the GPU, built and on a kept list after moves; FP16 networks too; then
   * the same with the three-body term (GFN2's s9, 8 Å); then fixed-charge electrostatics
   * (13 Å, alpha 0.1) alone, with the dispersion's both terms, with its three-body term within
   * the dispersion's cutoff (11 Å: the list the dispersion's), and with its pair term alone */
  static const char *const term_name[6] = {"", " (3-body)", " (electrostatics)",
                                           " (3-body smooth + electrostatics)",
                                           " (3-body smooth + electrostatics to 11 A)",
                                           " (2-body + electrostatics)"};
  for (int term = 0; term < 6; term++) {
    const int three = term == 1 || term == 3 || term == 4, coul = term >= 2;
    mlff_dispersion_params dp;
    memset(&dp, 0, sizeof dp);
    dp.s6 = 1.0, dp.s8 = 2.7, dp.a1 = 0.52, dp.a2 = 2.6459, dp.cutoff = 12.0, dp.tail = 1;
    dp.c6[0][0] = 19.3, dp.c6[0][1] = dp.c6[1][0] = 4.48, dp.c6[1][1] = 1.04;
    dp.c8[0][0] = 156.3, dp.c8[0][1] = dp.c8[1][0] = 23.4, dp.c8[1][1] = 3.53;
    if (three) dp.s9 = 5.0, dp.alp = 16.0, dp.cutoff3 = 8.0;
    /* Hard cutoffs step the energy where a pair crosses them, and the 4,116-atom box holds
     * pairs within float rounding of them (8 Å - 1e-7 Å; after the moves below 8 Å - 2.9e-6
     * Å; 12 Å - 8e-6 Å): the GPU decides such pairs from the double positions, as the CPU
     * (dispersion.cu, disp_within). The cases with electrostatics take the three-body term's
     * smooth cutoff (switch3, docs/model.md) instead, continuous there. */
    if (term == 3 || term == 4) dp.switch3 = 1.0;
    CHECK_OK(mlff_model_set_dispersion(m, term == 2 ? NULL : &dp));
    mlff_electrostatics_params ep;
    memset(&ep, 0, sizeof ep);
    ep.charges[0] = -0.09, ep.charges[1] = 0.09, ep.alpha = 0.1;
    ep.cutoff = term == 4 ? 11.0 : 13.0;
    CHECK_OK(mlff_model_set_electrostatics(m, coul ? &ep : NULL));
    mlff_calc *dc, *dg, *dh, *dk;
    CHECK_OK(mlff_calc_create(m, &oc, &dc));
    CHECK_OK(mlff_calc_create(m, &og, &dg));
    CHECK_OK(mlff_calc_create(m, &oh, &dh));
    CHECK_OK(mlff_calc_create(m, &og, &dk));
    const tstruct *ds[] = {&d, &l, &lt, &big};
    const char *dn[] = {"dimer", "liquid 768", "triclinic 324", "liquid 4116"};
    for (int k = 0; k < 4; k++) {
      cmp c = compare(dc, dg, ds[k]), h = compare(dg, dh, ds[k]);
      printf("dispersion%s FP32 vs CPU %-14s max|dF|/max|F| %.2e  |dE|/|E| %.2e  max|dW|/max|W| "
             "%.2e; FP16 vs FP32 %.2e\n", term_name[term], dn[k], c.f_rel, c.e_rel,
             c.v_rel, h.f_rel);
      CHECK(c.f_rel <= 1e-5 && c.e_rel <= 1e-5 && c.v_rel <= 1e-4);
      CHECK(h.f_rel <= 3e-3);
    }
    /* per-atom energies and virials, with ghosts (the core's images) and with images made on
     * the GPU; then the three-body kernel's fallback for atoms with more neighbours than it
     * gathers (MLFF_GPU_DISP3_CAP=8: nearly all) */
    mlff_calc *df = NULL;
    if (three) {
      setenv("MLFF_GPU_DISP3_CAP", "8", 1);
      CHECK_OK(mlff_calc_create(m, &og, &df));
      unsetenv("MLFF_GPU_DISP3_CAP");
    }
    const tstruct *as[] = {&lt, &big};
    for (int k = 0; k < 2; k++) {
      cmp a = atoms_error(dc, dg, as[k], as[k]->x, NULL),
          b = atoms_error(dc, dk, as[k], as[k]->x, as[k]->cell),
          f = three ? atoms_error(dc, df, as[k], as[k]->x, NULL) : a;
      printf("dispersion%s per atom, %-14s ghosts / GPU images / fallback: max|dF|/max|F| %.2e / "
             "%.2e / %.2e, max|de_i|/max|e_i| %.2e / %.2e / %.2e, max|dW_i|/max|W_i| %.2e / %.2e "
             "/ %.2e\n", term_name[term], dn[k + 2], a.f_rel,
             b.f_rel, f.f_rel, a.e_rel, b.e_rel, f.e_rel, a.v_rel, b.v_rel, f.v_rel);
      CHECK(a.f_rel <= 1e-5 && b.f_rel <= 1e-5 && f.f_rel <= 1e-5);
      CHECK(a.e_rel <= 1e-5 && b.e_rel <= 1e-5 && f.e_rel <= 1e-5);
      CHECK(a.v_rel <= 1e-4 && b.v_rel <= 1e-4 && f.v_rel <= 1e-4);
    }
    mlff_calc_free(df);
    const int n = big.n;
    double *x1 = malloc(24 * n);
    unsigned rng = 4242u;
    for (int k = 0; k < 3 * n; k++) {
      rng = rng * 1103515245u + 12345u;
      x1[k] = big.x[k] + 0.4 / sqrt(3.0) * (2.0 * ((rng >> 8) & 0xffff) / 65535.0 - 1.0);
    }
    cmp c0 = images_error(dc, dk, &big, big.x, big.cell, 1.0, 0);
    cmp c1 = images_error(dc, dk, &big, x1, big.cell, 1.0, 1);
    /* mlff_compute_neighbors leaves the tail to the caller (LAMMPS adds its own): compare the
     * per-atom parts, forces and the network's and pairs' energies */
    printf("dispersion%s, images on the GPU, kept list: built %.2e, after moves %.2e "
           "max|dF|/max|F|\n", term_name[term], c0.f_rel, c1.f_rel);
    CHECK(c0.f_rel <= 1e-5 && c1.f_rel <= 1e-5);
    { /* mlff_compute on the calc's kept list (the default skin): the dispersion's pairs to
       * cutoff + skin and its tail (added by the core) as the CPU's, built and then reused */
      mlff_calc_options ok;
      mlff_calc_options_default(&ok);
      ok.device = MLFF_DEVICE_GPU;
      mlff_calc *kept;
      CHECK_OK(mlff_calc_create(m, &ok, &kept));
      tstruct moved = big;
      moved.x = x1;
      cmp k0 = compare(dc, kept, &big), k1 = compare(dc, kept, &moved);
      printf("dispersion%s, mlff_compute on a kept list (skin %.1f Å): built %.2e / %.2e, after "
             "moves %.2e / %.2e max|dF|/max|F| / |dE|/|E| (virial %.2e), %ld list(s) built\n",
             term_name[term], ok.skin, k0.f_rel, k0.e_rel, k1.f_rel, k1.e_rel, k1.v_rel,
             mlff_calc_list_builds(kept));
      CHECK(k0.f_rel <= 1e-5 && k0.e_rel <= 1e-5 && k0.v_rel <= 1e-4);
      CHECK(k1.f_rel <= 1e-5 && k1.e_rel <= 1e-5 && k1.v_rel <= 1e-4);
      CHECK(mlff_calc_list_builds(kept) == 1);
      mlff_calc_free(kept);
    }
    free(x1);
    mlff_calc_free(dc); mlff_calc_free(dg); mlff_calc_free(dh); mlff_calc_free(dk);
    CHECK_OK(mlff_model_set_dispersion(m, NULL));
    CHECK_OK(mlff_model_set_electrostatics(m, NULL));
  }
  { /* committees (docs/model.md): K = 4 members (seeds 17-20) on one descriptor; the GPU's mean
     * energy, forces, per-atom energies, each member's forces and the per-atom deviation
     * against the CPU's: on benzene, and the periodic boxes with ghosts, with images made on
     * the GPU and on a kept list; then with the dispersion (common to the members: in each
     * one's forces, not in the deviation) */
    const int K = 4;
    mlff_model *cm;
    CHECK_OK(mlff_model_create(&spec, &cm));
    for (int k = 1; k < K; k++) {
      mlff_model_spec sk = spec;
      sk.seed = spec.seed + k;
      mlff_model *mk;
      CHECK_OK(mlff_model_create(&sk, &mk));
      CHECK_OK(mlff_model_committee_add(cm, mk));
      mlff_model_free(mk);
    }
    mlff_calc_options ok;
    mlff_calc_options_default(&ok);
    ok.device = MLFF_DEVICE_GPU;
    for (int disp = 0; disp < 2; disp++) {
      if (disp) {
        mlff_dispersion_params dp;
        memset(&dp, 0, sizeof dp);
        dp.s6 = 1.0, dp.s8 = 2.7, dp.a1 = 0.52, dp.a2 = 2.6459, dp.cutoff = 12.0, dp.tail = 1;
        dp.c6[0][0] = 19.3, dp.c6[0][1] = dp.c6[1][0] = 4.48, dp.c6[1][1] = 1.04;
        dp.c8[0][0] = 156.3, dp.c8[0][1] = dp.c8[1][0] = 23.4, dp.c8[1][1] = 3.53;
        /* hard cutoffs: the box's C-H pair at 12 Å - 8e-6 Å once put its half energy, 8.2e-7
         * eV = 1.2e-5 of the largest, into one atom's on the GPU's images and kept list (H100),
         * before the GPU decided such pairs in double (see the dispersion cases above) */
        dp.s9 = 5.0, dp.alp = 16.0, dp.cutoff3 = 8.0;
        CHECK_OK(mlff_model_set_dispersion(cm, &dp));
      }
      mlff_calc *cc, *cg, *ck;
      CHECK_OK(mlff_calc_create(cm, &oc, &cc));
      CHECK_OK(mlff_calc_create(cm, &og, &cg));
      CHECK_OK(mlff_calc_create(cm, &ok, &ck));
      const tstruct *cs[] = {&b, &lt, &big};
      const char *cn[] = {"benzene", "triclinic 324", "liquid 4116"};
      for (int k = 0; k < 3; k++) {
        cmp a = committee_error(cc, cg, cs[k], K, NULL), kp = committee_error(cc, ck, cs[k], K, NULL),
            im = k ? committee_error(cc, cg, cs[k], K, cs[k]->cell) : a;
        printf("committee K=%d%s %-14s ghosts / kept list / GPU images: mean F %.2e / %.2e / %.2e, "
               "E %.2e / %.2e / %.2e, members' F %.2e / %.2e / %.2e, deviation %.2e / %.2e / "
               "%.2e\n", K, disp ? " +dispersion" : "", cn[k], a.f_rel, kp.f_rel, im.f_rel,
               a.e_rel, kp.e_rel, im.e_rel, a.v_rel, kp.v_rel, im.v_rel, a.f_rms, kp.f_rms,
               im.f_rms);
        CHECK(a.f_rel <= 1e-5 && kp.f_rel <= 1e-5 && im.f_rel <= 1e-5);
        CHECK(a.e_rel <= 1e-5 && kp.e_rel <= 1e-5 && im.e_rel <= 1e-5);
        CHECK(a.v_rel <= 1e-5 && kp.v_rel <= 1e-5 && im.v_rel <= 1e-5);
        CHECK(a.f_rms <= 1e-4 && kp.f_rms <= 1e-4 && im.f_rms <= 1e-4);
      }
      mlff_calc_free(cc); mlff_calc_free(cg); mlff_calc_free(ck);
    }
    mlff_model_free(cm);
  }
  if (argc > 1) { /* the training-range check (argv[1]: a model that stores its range): one
                   * benzene squeezed (its steps switch from the one-kernel path and back) and
                   * the 4,116-atom box squeezed (the general path) */
    range_check(argv[1], &b, 0.75);
    range_check(argv[1], &big, 0.9);
  }
  { /* guards (mlff.h) on the GPU: a non-finite position is refused on the neighbour path before
     * the device bins it, naming the atom; non-finite results (a dispersion whose s6 C6
     * overflows) on every entry point: the device's sums, then the atom */
    double F[3 * 12], E[12], keep = b.x[3 * 4 + 1];
    memset(F, 0, sizeof F);
    memset(E, 0, sizeof E);
    mlff_result r = {0};
    r.forces = F;
    r.energy_atom = E;
    mlff_neighbors nl = {b.n, b.x, b.species, b.n, NULL, NULL, NULL, 0, 0.0, 0, NULL};
    mlff_structure s = tview(&b);
    int at[2] = {-1, -1};
    b.x[3 * 4 + 1] = NAN;
    CHECK(mlff_compute_neighbors(gpu, &nl, &r) == MLFF_ERR_ARGUMENT);
    CHECK(strstr(mlff_last_error(), "position of atom 4 is not finite") != NULL);
    CHECK(mlff_calc_error_atoms(gpu, at) == 1 && at[0] == 4);
    CHECK(mlff_compute(gpu, &s, &r) == MLFF_ERR_ARGUMENT);
    CHECK(strstr(mlff_last_error(), "structure 0: position of atom 4 is not finite") != NULL);
    b.x[3 * 4 + 1] = keep;
    CHECK_OK(mlff_compute_neighbors(gpu, &nl, &r));
    CHECK(mlff_calc_error_atoms(gpu, at) == 0);
    mlff_dispersion_params p;
    memset(&p, 0, sizeof p);
    p.s6 = 1e300, p.a2 = 2.6, p.cutoff = 6.0;
    for (int i = 0; i < 2; i++)
      for (int j = 0; j < 2; j++) p.c6[i][j] = p.c8[i][j] = 1e300;
    mlff_model *mi;
    CHECK_OK(mlff_model_create(&spec, &mi));
    CHECK_OK(mlff_model_set_dispersion(mi, &p));
    mlff_calc_options kept;
    mlff_calc_options_default(&kept); /* skin 1: mlff_compute on the kept list */
    kept.device = MLFF_DEVICE_GPU;
    mlff_calc *gi, *gk;
    CHECK_OK(mlff_calc_create(mi, &og, &gi));
    CHECK_OK(mlff_calc_create(mi, &kept, &gk));
    struct { const char *what; mlff_status st; } tries[3];
    tries[0].what = "mlff_compute_neighbors";
    tries[0].st = mlff_compute_neighbors(gi, &nl, &r);
    char msg0[1024];
    snprintf(msg0, sizeof msg0, "%s", mlff_last_error());
    tries[1].what = "mlff_compute";
    tries[1].st = mlff_compute(gi, &s, &r);
    char msg1[1024];
    snprintf(msg1, sizeof msg1, "%s", mlff_last_error());
    tries[2].what = "mlff_compute (kept list)";
    tries[2].st = mlff_compute(gk, &s, &r);
    const char *msgs[3] = {msg0, msg1, mlff_last_error()};
    for (int k = 0; k < 3; k++) {
      printf("GPU guard, %s: %s\n", tries[k].what, msgs[k]);
      CHECK(tries[k].st == MLFF_ERR_NUMERIC);
      CHECK(strstr(msgs[k], "is not finite") != NULL);
    }
    CHECK(strstr(msg0, "the model's force on atom ") != NULL);
    CHECK(strstr(msg1, "structure 0: the model's force on atom ") != NULL);
    CHECK(mlff_calc_error_atoms(gk, at) == 1 && at[0] >= 0 && at[0] < b.n);
    mlff_calc_free(gi);
    mlff_calc_free(gk);
    mlff_model_free(mi);
  }
  { /* the close-atom guard on the GPU (mlff_calc_guard_close; the model records no closest
     * pairs: 0.5 x the H2 bond, 0.37 Å): two atoms 0.2 Å apart stop every entry point, the
     * atoms named as the CPU names them; one benzene (the one-kernel and resident steps) and
     * the 4,116-atom box (the general path: a new list, images made on the GPU, a kept list) */
    mlff_calc_options kept;
    mlff_calc_options_default(&kept);
    kept.device = MLFF_DEVICE_GPU;
    const tstruct *gs[2] = {&b, &big};
    for (int k = 0; k < 2; k++) {
      tstruct t = *gs[k];
      t.x = malloc(24 * t.n);
      memcpy(t.x, gs[k]->x, 24 * t.n);
      const int a = 4, c5 = 5; /* atom 5 moved to 0.2 Å from atom 4 */
      for (int x = 0; x < 3; x++) t.x[3 * c5 + x] = t.x[3 * a + x] + (x == 0 ? 0.2 : 0.0);
      mlff_calc *gc, *gg, *gk;
      CHECK_OK(mlff_calc_create(m, &oc, &gc));
      CHECK_OK(mlff_calc_create(m, &og, &gg));
      CHECK_OK(mlff_calc_create(m, &kept, &gk));
      mlff_calc *all[3] = {gc, gg, gk};
      for (int q = 0; q < 3; q++) CHECK_OK(mlff_calc_guard_close(all[q], 0.5));
      double *F = calloc(3 * t.n, 8);
      mlff_result r = {0, {0}, F, NULL, NULL};
      mlff_structure s = tview(&t);
      mlff_neighbors nl = {t.n, t.x, t.species, t.n, NULL, NULL, NULL, 0, 1.0, 0,
                           t.periodic ? t.cell : NULL};
      struct { const char *what; mlff_calc *c; int neighbors; } tries[4] = {
          {"CPU, mlff_compute", gc, 0}, {"GPU, mlff_compute", gg, 0},
          {"GPU, mlff_compute (kept list)", gk, 0}, {"GPU, mlff_compute_neighbors", gg, 1}};
      for (int q = 0; q < 4; q++) {
        for (int rep = 0; rep < 2; rep++) { /* the kept list: built, then reused */
          const mlff_status st = tries[q].neighbors ? mlff_compute_neighbors(tries[q].c, &nl, &r)
                                                    : mlff_compute(tries[q].c, &s, &r);
          int at[2] = {-1, -1};
          const int n_at = mlff_calc_error_atoms(tries[q].c, at);
          printf("close-atom guard, %d atoms, %s: %s\n", t.n, tries[q].what, mlff_last_error());
          CHECK(st == MLFF_ERR_ARGUMENT);
          CHECK(strstr(mlff_last_error(), "are 0.2 Å apart, closer than 0.5 x 0.74 Å") != NULL);
          CHECK(strstr(mlff_last_error(), tries[q].neighbors ? "atoms " : "structure 0: atoms ") ==
                mlff_last_error());
          CHECK(n_at == 2 && ((at[0] == a && at[1] == c5) || (at[0] == c5 && at[1] == a)));
          nl.list_age = 1;
        }
        nl.list_age = 0;
      }
      /* off again: the same structure is evaluated (the GPU's steps and graphs made anew) */
      for (int q = 0; q < 3; q++) CHECK_OK(mlff_calc_guard_close(all[q], 0.0));
      CHECK_OK(mlff_compute(gg, &s, &r));
      CHECK_OK(mlff_compute(gk, &s, &r));
      free(F); free(t.x);
      mlff_calc_free(gc); mlff_calc_free(gg); mlff_calc_free(gk);
    }
  }
  tfree(&b); tfree(&d); tfree(&l); tfree(&lt); tfree(&big); tfree(&st8); tfree(&gr16);
  mlff_calc_free(cpu); mlff_calc_free(gpu); mlff_calc_free(gpu16);
  mlff_model_free(m);
  if (test_failures) fprintf(stderr, "%d check(s) failed\n", test_failures);
  return test_failures != 0;
}
