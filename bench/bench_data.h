/* bench_data.h — the LAMMPS data file reader that the C benchmarks (capi_bench, gpu_bench) share:
 * bench/make_liquid.sh's boxes (orthogonal, atom_style atomic, types 1 = C and 2 = H, the
 * shipped models' species 0 and 1). Positions are shifted so that the box starts at 0. Exits
 * with a message naming the file on anything else: a benchmark of a half-read box measures
 * nothing. */
#ifndef MLFF_BENCH_DATA_H
#define MLFF_BENCH_DATA_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void bench_read_data(const char *who, const char *path, int *n_out, double **x_out,
                            int **sp_out, double cell[9]) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "%s: ", who);
    perror(path);
    exit(1);
  }
  char line[512];
  double lo[3] = {0}, hi[3] = {0};
  int n = 0;
  while (fgets(line, sizeof line, f)) {
    double a, b;
    if (strstr(line, "atoms") && !strstr(line, "types")) n = atoi(line);
    /* (sscanf stops matching at a literal: test for the keyword itself) */
    for (int d = 0; d < 3; d++) {
      const char *key[3] = {"xlo xhi", "ylo yhi", "zlo zhi"};
      if (strstr(line, key[d]) && sscanf(line, "%lf %lf", &a, &b) == 2) lo[d] = a, hi[d] = b;
    }
    if (!strncmp(line, "Atoms", 5)) break;
  }
  double *x = malloc(sizeof(double) * 3 * (n > 0 ? n : 1));
  int *sp = malloc(sizeof(int) * (n > 0 ? n : 1));
  int k = 0;
  while (k < n && fgets(line, sizeof line, f)) {
    int id, t;
    double p[3];
    if (sscanf(line, "%d %d %lf %lf %lf", &id, &t, p, p + 1, p + 2) != 5) continue;
    if (id < 1 || id > n) continue;
    for (int d = 0; d < 3; d++) x[3 * (id - 1) + d] = p[d] - lo[d];
    sp[id - 1] = t - 1;
    k++;
  }
  fclose(f);
  if (k != n || n == 0) {
    fprintf(stderr, "%s: %s: read %d of %d atoms\n", who, path, k, n);
    exit(1);
  }
  memset(cell, 0, 9 * sizeof(double));
  for (int d = 0; d < 3; d++) cell[4 * d] = hi[d] - lo[d];
  *n_out = n, *x_out = x, *sp_out = sp;
}

#endif
