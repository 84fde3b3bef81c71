/* capi_bench.c — the C API's cost per call on repeated calls, as MD makes them (issue 22):
 * wall time of each call (everything the caller waits for), after warm-up; writes JSON.
 *
 *   capi_bench liquid DATA MODEL [options]   a LAMMPS data file (types 1 = C, 2 = H; box from 0)
 *     (a) mlff_compute with the calc's kept list (skin, default 1 Å), positions moved every call
 *         as in MD (each atom at its own constant velocity, --move Å per step per component,
 *         Gaussian): the call a Python or C user makes;
 *     (b) the same trajectory through mlff_compute_neighbors with the cell, skin and list_age as
 *         pair_style mlff passes them on one rank (the caller checks skin/2 every step, wraps the
 *         atoms at its rebuilds and zeroes its forces: LAMMPS's share of a step), the path the
 *         issue's LAMMPS step takes;
 *     (c) mlff_compute with skin 0 (a new list every call: the behaviour before the kept list).
 *   capi_bench benzene XYZ MODEL [options]   one molecule (an xyz file), moved slightly every call:
 *     mlff_compute per call, the figure bench/python_timing.py compares Python with.
 *
 * Options: --device gpu|cpu (gpu), --fp16, --threads N (the calc's n_threads; 0: OpenMP's), --skin
 * S (1.0), --steps N (timed calls; liquid 200, benzene 5000), --move A (liquid 0.005), --json PATH
 * (else stdout). Needs only libmlff (no CUDA headers): it runs on CPU-only builds too. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_data.h"
#include "mlff.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}
static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}
static void die(const char *what) {
  fprintf(stderr, "capi_bench: %s%s%s\n", what, *mlff_last_error() ? ": " : "", mlff_last_error());
  exit(1);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static double uniform(void) {
  rng = rng * 6364136223846793005ull + 1442695040888963407ull;
  return ((rng >> 11) + 0.5) * 0x1.0p-53;
}
static double gauss(void) { return sqrt(-2.0 * log(uniform())) * cos(2.0 * M_PI * uniform()); }

typedef struct {
  int n;
  double *x;
  int *sp;
  double cell[9];
} sys_t;

static sys_t read_data(const char *path) {
  sys_t s = {0};
  bench_read_data("capi_bench", path, &s.n, &s.x, &s.sp, s.cell);
  return s;
}

static sys_t read_xyz(const char *path, const mlff_model *m) {
  sys_t s = {0};
  FILE *f = fopen(path, "r");
  char line[512];
  if (!f || !fgets(line, sizeof line, f)) {
    perror(path);
    exit(1);
  }
  s.n = atoi(line);
  s.x = malloc(sizeof(double) * 3 * s.n);
  s.sp = malloc(sizeof(int) * s.n);
  if (!fgets(line, sizeof line, f)) exit(1);
  for (int i = 0; i < s.n; i++) {
    char sym[8];
    if (!fgets(line, sizeof line, f) ||
        sscanf(line, "%7s %lf %lf %lf", sym, s.x + 3 * i, s.x + 3 * i + 1, s.x + 3 * i + 2) != 4) {
      fprintf(stderr, "capi_bench: %s: atom %d unreadable\n", path, i);
      exit(1);
    }
    if ((s.sp[i] = mlff_model_find_element(m, sym)) < 0) {
      fprintf(stderr, "capi_bench: %s: the model has no %s\n", path, sym);
      exit(1);
    }
  }
  fclose(f);
  return s;
}

typedef struct {
  double median_us, mean_us, min_us;
} stats;

static stats stats_of(double *t, int n) {
  stats s = {0, 0, 0};
  for (int i = 0; i < n; i++) s.mean_us += t[i];
  s.mean_us *= 1e6 / n;
  qsort(t, n, sizeof *t, cmpd);
  s.median_us = 1e6 * t[n / 2];
  s.min_us = 1e6 * t[0];
  return s;
}

static const char *device_name(mlff_device d) { return d == MLFF_DEVICE_GPU ? "gpu" : "cpu"; }

int main(int argc, char **argv) {
  if (argc < 4 || (strcmp(argv[1], "liquid") && strcmp(argv[1], "benzene"))) {
    fprintf(stderr, "usage: capi_bench liquid DATA MODEL | benzene XYZ MODEL [--device gpu|cpu] "
                    "[--fp16] [--threads N] [--skin S] [--steps N] [--move A] [--json PATH]\n");
    return 2;
  }
  const int liquid = !strcmp(argv[1], "liquid");
  mlff_calc_options o;
  mlff_calc_options_default(&o);
  o.device = MLFF_DEVICE_GPU;
  int steps = liquid ? 200 : 5000;
  double move = 0.005;
  const char *json = NULL;
  for (int a = 4; a < argc; a++) {
    const char *k = argv[a], *v = a + 1 < argc ? argv[a + 1] : NULL;
    if (!strcmp(k, "--fp16"))
      o.fp16 = 1;
    else if (!v)
      die("an option lacks its value");
    else if (!strcmp(k, "--device"))
      o.device = strcmp(v, "cpu") ? MLFF_DEVICE_GPU : MLFF_DEVICE_CPU, a++;
    else if (!strcmp(k, "--threads"))
      o.n_threads = atoi(v), a++;
    else if (!strcmp(k, "--skin"))
      o.skin = atof(v), a++;
    else if (!strcmp(k, "--steps"))
      steps = atoi(v), a++;
    else if (!strcmp(k, "--move"))
      move = atof(v), a++;
    else if (!strcmp(k, "--json"))
      json = v, a++;
    else
      die("unknown option");
  }
  mlff_model *m;
  if (mlff_model_load(argv[3], &m)) die("cannot load the model");
  mlff_calc *c;
  if (mlff_calc_create(m, &o, &c)) die("cannot create the calc");
  FILE *out = json ? fopen(json, "w") : stdout;
  if (!out) die("cannot write the JSON file");
  const double cutoff = mlff_model_cutoff(m);
  fprintf(out,
          "{\n \"program\": \"bench/capi_bench %s\",\n \"model\": \"%s\",\n \"device\": \"%s\",\n"
          " \"fp16\": %d,\n \"threads\": %d,\n \"skin_A\": %g,\n \"cutoff_A\": %g,\n",
          argv[1], argv[3], device_name(mlff_calc_device(c)), o.fp16, o.n_threads, o.skin, cutoff);

  if (!liquid) { /* one molecule: a pool of slightly moved copies, one per call in turn */
    sys_t s = read_xyz(argv[2], m);
    enum { POOL = 64 };
    double *pool = malloc(sizeof(double) * 3 * s.n * POOL), *F = malloc(sizeof(double) * 3 * s.n);
    for (int p = 0; p < POOL; p++)
      for (int k = 0; k < 3 * s.n; k++) pool[3 * s.n * p + k] = s.x[k] + 0.01 * gauss();
    mlff_structure st = {s.n, pool, s.sp, NULL, {0, 0, 0}};
    mlff_result r = {.forces = F};
    double *t = malloc(sizeof(double) * steps);
    for (int i = 0; i < 200; i++) { /* warm-up: first-call allocations, the resident step */
      st.positions = pool + 3 * s.n * (i % POOL);
      if (mlff_compute(c, &st, &r)) die("mlff_compute");
    }
    for (int i = 0; i < steps; i++) {
      st.positions = pool + 3 * s.n * (i % POOL);
      const double t0 = now();
      mlff_compute(c, &st, &r);
      t[i] = now() - t0;
    }
    stats q = stats_of(t, steps);
    fprintf(out,
            " \"system\": \"%s (%d atoms, open)\",\n \"calls\": %d,\n"
            " \"mlff_compute_us\": {\"median\": %.2f, \"mean\": %.2f, \"min\": %.2f}\n}\n",
            argv[2], s.n, steps, q.median_us, q.mean_us, q.min_us);
    printf("benzene, %s: mlff_compute %.2f us per call (median of %d; mean %.2f)\n",
           device_name(mlff_calc_device(c)), q.median_us, steps, q.mean_us);
    if (out != stdout) fclose(out);
    mlff_calc_free(c);
    mlff_model_free(m);
    return 0;
  }

  sys_t s = read_data(argv[2]);
  const int n = s.n, warm = 10;
  const int total = warm + steps;
  /* the trajectory: x_t = x_0 + t v, one constant velocity per atom (the worst case for the
   * list's life: no atom turns back) */
  double *v = malloc(sizeof(double) * 3 * n), *xt = malloc(sizeof(double) * 3 * n);
  for (int k = 0; k < 3 * n; k++) v[k] = move * gauss();
  double *F = calloc(3 * (size_t)n, sizeof(double)), *t = malloc(sizeof(double) * total);
  mlff_result r = {.forces = F};
  double e_a = 0, e_b = 0;
  fprintf(out,
          " \"system\": \"%s (%d atoms, periodic %.2f x %.2f x %.2f A)\",\n \"atoms\": %d,\n"
          " \"steps\": %d,\n \"move_A_per_step\": %g,\n",
          argv[2], n, s.cell[0], s.cell[4], s.cell[8], n, steps, move);

  /* (a) and (c): mlff_compute, kept list and (skin 0) a new list every call */
  for (int pass = 0; pass < 2; pass++) {
    mlff_calc *cc = c;
    if (pass == 1) {
      mlff_calc_options o0 = o;
      o0.skin = 0.0;
      if (mlff_calc_create(m, &o0, &cc)) die("cannot create the skin-0 calc");
    }
    const long b0 = mlff_calc_list_builds(cc);
    mlff_structure st = {n, xt, s.sp, s.cell, {1, 1, 1}};
    const int calls = pass == 1 ? (steps < 50 ? steps : 50) + warm : total; /* slow: fewer */
    for (int i = 0; i < calls; i++) {
      for (int k = 0; k < 3 * n; k++) xt[k] = s.x[k] + i * v[k];
      const double t0 = now();
      if (mlff_compute(cc, &st, &r)) die("mlff_compute");
      t[i] = now() - t0;
      if (i == calls - 1) (pass ? &e_b : &e_a)[0] = r.energy;
    }
    const long builds = mlff_calc_list_builds(cc) - b0;
    stats q = stats_of(t + warm, calls - warm);
    fprintf(out,
            " \"%s\": {\"us_per_call\": {\"median\": %.1f, \"mean\": %.1f, \"min\": %.1f}, "
            "\"calls\": %d, \"lists_built\": %ld, \"last_energy_eV\": %.8f},\n",
            pass ? "mlff_compute_skin0" : "mlff_compute", q.median_us, q.mean_us, q.min_us, calls,
            builds, pass ? e_b : e_a);
    printf("liquid %d atoms, %s: mlff_compute (skin %g) %.1f us per call (mean; median %.1f), %ld "
           "lists in %d calls\n",
           n, device_name(mlff_calc_device(cc)), pass ? 0.0 : o.skin, q.mean_us, q.median_us,
           builds, calls);
    if (pass == 1) mlff_calc_free(cc);
  }

  /* (b) mlff_compute_neighbors as pair_style mlff calls it on one rank (own images) */
  if (mlff_calc_device(c) == MLFF_DEVICE_GPU) {
    mlff_calc *cn;
    if (mlff_calc_create(m, &o, &cn)) die("cannot create the calc");
    double *xw = malloc(sizeof(double) * 3 * n), *ref = malloc(sizeof(double) * 3 * n),
           *shift = calloc(3 * (size_t)n, sizeof(double));
    const double half2 = 0.25 * o.skin * o.skin;
    int age = 0, builds = 0;
    mlff_neighbors nl = {n, xw, s.sp, n, NULL, NULL, NULL, 0, o.skin, 0, s.cell};
    for (int i = 0; i < total; i++) {
      for (int k = 0; k < 3 * n; k++) xt[k] = s.x[k] + i * v[k];
      const double t0 = now();
      /* LAMMPS's neighbor check (every step) and, at a rebuild, its pbc() (atoms into the box);
       * force_clear every step */
      int rebuild = age == 0;
      for (int a = 0; a < n && !rebuild; a++) {
        double d2 = 0;
        for (int d = 0; d < 3; d++)
          d2 += (xt[3 * a + d] - ref[3 * a + d]) * (xt[3 * a + d] - ref[3 * a + d]);
        rebuild = d2 > half2;
      }
      if (rebuild) {
        for (int a = 0; a < n; a++)
          for (int d = 0; d < 3; d++) {
            const double L = s.cell[4 * d], y = xt[3 * a + d];
            shift[3 * a + d] = -floor(y / L) * L;
          }
        memcpy(ref, xt, sizeof(double) * 3 * n);
        age = 0;
        builds += i >= warm;
      }
      for (int k = 0; k < 3 * n; k++) xw[k] = xt[k] + shift[k];
      memset(F, 0, sizeof(double) * 3 * n);
      nl.list_age = age++;
      if (mlff_compute_neighbors(cn, &nl, &r)) die("mlff_compute_neighbors");
      t[i] = now() - t0;
    }
    stats q = stats_of(t + warm, steps);
    fprintf(out,
            " \"mlff_compute_neighbors\": {\"us_per_call\": {\"median\": %.1f, \"mean\": %.1f, "
            "\"min\": %.1f}, \"calls\": %d, \"lists_built\": %d, \"last_energy_eV\": %.8f},\n",
            q.median_us, q.mean_us, q.min_us, steps, builds, r.energy);
    printf("liquid %d atoms, gpu: mlff_compute_neighbors (cell, skin %g, list_age) %.1f us per "
           "call (mean; median %.1f), %d lists in %d calls\n",
           n, o.skin, q.mean_us, q.median_us, builds, steps);
    fprintf(out, " \"same_last_energy\": %s\n}\n",
            fabs(r.energy - e_a) <= 1e-5 * fabs(e_a) ? "true" : "false");
    free(xw);
    free(ref);
    free(shift);
    mlff_calc_free(cn);
  } else {
    fprintf(out, " \"mlff_compute_neighbors\": null\n}\n");
  }
  if (out != stdout) fclose(out);
  free(v);
  free(xt);
  free(F);
  free(t);
  free(s.x);
  free(s.sp);
  mlff_calc_free(c);
  mlff_model_free(m);
  return 0;
}
