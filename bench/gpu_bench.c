/* gpu_bench.c — the C API on the GPU (docs/validation.md): wall time per mlff_compute call, everything
 * included (host staging, copies, graph replay), median of repeats; writes JSON on stdout.
 *   gpu_bench LIQUID.data [REPLICATE]   (a LAMMPS data file of liquid benzene, types 1=C 2=H)
 * Cases: one benzene; B = 1, 4, 8, 16 benzenes through the batch API and as one structure;
 * the liquid box and its REPLICATE^3 copy; FP32 and FP16. The calcs' options leave the skin at 0
 * (a new neighbour list every call, the series' figures from before the kept list): repeated
 * calls with the kept list, as MD makes them, are bench/capi_bench's. */
#include <cuda_runtime.h>
#include <math.h>
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

typedef struct { int n; double *x; int *sp; double cell[9]; int periodic; } sys_t;

static void benzene_at(sys_t *s, double cx, double cy, double cz) {
  s->x = realloc(s->x, sizeof(double) * 3 * (s->n + 12));
  s->sp = realloc(s->sp, sizeof(int) * (s->n + 12));
  for (int k = 0; k < 12; k++) {
    double r = k < 6 ? 1.397 : 2.481, a = (k % 6) * M_PI / 3;
    s->x[3 * (s->n + k)] = cx + r * cos(a);
    s->x[3 * (s->n + k) + 1] = cy + r * sin(a);
    s->x[3 * (s->n + k) + 2] = cz + 0.02 * (k % 3);
    s->sp[s->n + k] = k < 6 ? 0 : 1;
  }
  s->n += 12;
}

static sys_t read_data(const char *path) {
  sys_t s = {0};
  bench_read_data("gpu_bench", path, &s.n, &s.x, &s.sp, s.cell);
  s.periodic = 1;
  return s;
}

static sys_t replicate(const sys_t *s, int r) {
  sys_t o = {0};
  o.n = s->n * r * r * r;
  o.x = malloc(sizeof(double) * 3 * o.n);
  o.sp = malloc(sizeof(int) * o.n);
  int k = 0;
  for (int a = 0; a < r; a++)
    for (int b = 0; b < r; b++)
      for (int c = 0; c < r; c++)
        for (int i = 0; i < s->n; i++, k++) {
          o.x[3 * k] = s->x[3 * i] + a * s->cell[0];
          o.x[3 * k + 1] = s->x[3 * i + 1] + b * s->cell[4];
          o.x[3 * k + 2] = s->x[3 * i + 2] + c * s->cell[8];
          o.sp[k] = s->sp[i];
        }
  for (int q = 0; q < 9; q++) o.cell[q] = r * s->cell[q];
  o.periodic = 1;
  return o;
}

static mlff_structure view(const sys_t *s) {
  mlff_structure v = {s->n, s->x, s->sp, s->periodic ? s->cell : NULL, {s->periodic, s->periodic, s->periodic}};
  return v;
}

/* median seconds per call of mlff_compute_batch over `reps` calls after warm-up */
static double time_calls(mlff_calc *c, int nb, mlff_structure *st, int reps) {
  mlff_result *r = calloc(nb, sizeof *r);
  for (int b = 0; b < nb; b++) r[b].forces = malloc(sizeof(double) * 3 * st[b].n_atoms);
  double *t = malloc(sizeof(double) * reps);
  for (int w = 0; w < 5; w++)
    if (mlff_compute_batch(c, nb, st, r)) { fprintf(stderr, "%s\n", mlff_last_error()); exit(1); }
  for (int i = 0; i < reps; i++) {
    double t0 = now();
    mlff_compute_batch(c, nb, st, r);
    t[i] = now() - t0;
  }
  qsort(t, reps, sizeof *t, cmpd);
  double med = t[reps / 2];
  for (int b = 0; b < nb; b++) free(r[b].forces);
  free(r); free(t);
  return med;
}

int main(int argc, char **argv) {
  const char *E[2] = {"C", "H"};
  int hidden[3] = {128, 64, 64};
  mlff_model_spec spec = {0};
  spec.n_elements = 2; spec.elements = E; spec.n_hidden = 3; spec.hidden = hidden; spec.seed = 1;
  mlff_descriptor_params_ani1x(&spec.descriptor);
  mlff_model *m;
  if (mlff_model_create(&spec, &m)) return 1;
  if (argc > 2 && strcmp(argv[2], "-")) { mlff_model_free(m); if (mlff_model_load(argv[2], &m)) { fprintf(stderr, "%s\n", mlff_last_error()); return 1; } }
  int rep = argc > 3 ? atoi(argv[3]) : 0;
  if (argc > 4 && !strcmp(argv[4], "profile")) { /* stage times of a few steps, on stderr */
    setenv("MLFF_GPU_PROFILE", "1", 1);
    mlff_calc *c;
    mlff_calc_options o = {MLFF_DEVICE_GPU, 0, 0, 0, 0};
    if (mlff_calc_create(m, &o, &c)) { fprintf(stderr, "%s\n", mlff_last_error()); return 1; }
    sys_t one = {0};
    benzene_at(&one, 0, 0, 0);
    mlff_structure s1 = view(&one);
    sys_t liq = read_data(argv[1]);
    mlff_structure sl = view(&liq);
    double t0 = now();
    time_calls(c, 1, &s1, 3);
    fprintf(stderr, "benzene: %.1f us per call (profiled)\n", (now() - t0) / 8 * 1e6);
    time_calls(c, 1, &sl, 3);
    return 0;
  }
  struct cudaDeviceProp prop;
  cudaGetDeviceProperties(&prop, 0);
  printf("{\n \"device\": \"%s\",\n \"source\": \"wall time per mlff_compute_batch call (host staging, copies, graph replay included), median of repeats\",\n", prop.name);
  for (int fp16 = 0; fp16 <= 1; fp16++) {
    mlff_calc *c;
    mlff_calc_options o = {MLFF_DEVICE_GPU, fp16, 0, 0, 0};
    if (mlff_calc_create(m, &o, &c)) { fprintf(stderr, "%s\n", mlff_last_error()); return 1; }
    printf(" \"%s\": {\n", fp16 ? "fp16" : "fp32");
    sys_t one = {0};
    benzene_at(&one, 0, 0, 0);
    mlff_structure s1 = view(&one);
    double t1 = time_calls(c, 1, &s1, 2000);
    printf("  \"benzene_us\": %.2f,\n", t1 * 1e6);
    { /* the graph path that calcs on a shared GPU take, instead of the resident step */
      mlff_calc *cs;
      mlff_calc_options os = o;
      os.gpu_shared = 1;
      if (mlff_calc_create(m, &os, &cs)) { fprintf(stderr, "%s\n", mlff_last_error()); return 1; }
      printf("  \"benzene_graph_us\": %.2f,\n", time_calls(cs, 1, &s1, 2000) * 1e6);
      mlff_calc_free(cs);
    }
    printf("  \"batch_api\": {");
    int Bs[4] = {1, 4, 8, 16};
    for (int k = 0; k < 4; k++) {
      mlff_structure st[16];
      for (int b = 0; b < Bs[k]; b++) st[b] = s1;
      double t = time_calls(c, Bs[k], st, 1000);
      printf("%s\"%d\": {\"us_per_call\": %.2f, \"ratio_to_single\": %.3f}", k ? ", " : "", Bs[k], t * 1e6, t / t1);
    }
    printf("},\n  \"one_box\": {");
    for (int k = 0; k < 4; k++) {
      sys_t box = {0};
      for (int b = 0; b < Bs[k]; b++) benzene_at(&box, 20.0 * b, 0, 0);
      mlff_structure sb = view(&box);
      double t = time_calls(c, 1, &sb, 1000);
      printf("%s\"%d\": {\"us_per_call\": %.2f, \"ratio_to_single\": %.3f}", k ? ", " : "", Bs[k], t * 1e6, t / t1);
      free(box.x); free(box.sp);
    }
    printf("}");
    if (argc > 1) {
      sys_t liq = read_data(argv[1]);
      mlff_structure sl = view(&liq);
      double t = time_calls(c, 1, &sl, 50);
      printf(",\n  \"liquid\": {\"atoms\": %d, \"ms_per_call\": %.3f, \"atom_steps_per_s\": %.4g}", liq.n, t * 1e3, liq.n / t);
      if (rep > 1) {
        size_t f0, tot, f1;
        sys_t big = replicate(&liq, rep);
        mlff_structure sg = view(&big);
        cudaMemGetInfo(&f0, &tot);
        mlff_calc *c2;
        mlff_calc_create(m, &o, &c2);
        double tb = time_calls(c2, 1, &sg, 10);
        cudaMemGetInfo(&f1, &tot);
        printf(",\n  \"liquid_big\": {\"atoms\": %d, \"ms_per_call\": %.3f, \"atom_steps_per_s\": %.4g, \"device_bytes_per_atom\": %.0f}",
               big.n, tb * 1e3, big.n / tb, (double)(f0 - f1) / big.n);
        mlff_calc_free(c2);
        free(big.x); free(big.sp);
      }
      free(liq.x); free(liq.sp);
    }
    printf("\n }%s\n", fp16 ? "" : ",");
    free(one.x); free(one.sp);
    mlff_calc_free(c);
  }
  printf("}\n");
  mlff_model_free(m);
  return 0;
}
