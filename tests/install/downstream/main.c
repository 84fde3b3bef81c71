/* A program that uses an installed mlff as any downstream project would: the model shipped with
 * mlff, one benzene, the energy and the largest force on the CPU. */
#include <math.h>
#include <stdio.h>

#include <mlff.h>

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: downstream MODEL\n");
    return 2;
  }
  mlff_model *m;
  mlff_calc *c;
  if (mlff_model_load(argv[1], &m) != MLFF_OK) {
    fprintf(stderr, "downstream: %s\n", mlff_last_error());
    return 1;
  }
  mlff_calc_options o;
  mlff_calc_options_default(&o);
  o.device = MLFF_DEVICE_CPU;
  if (mlff_calc_create(m, &o, &c) != MLFF_OK) {
    fprintf(stderr, "downstream: %s\n", mlff_last_error());
    return 1;
  }
  double x[36], f[36];
  int species[12];
  int sc = mlff_model_find_element(m, "C"), sh = mlff_model_find_element(m, "H");
  for (int k = 0; k < 12; k++) {
    double r = k < 6 ? 1.397 : 2.481, a = (k % 6) * 1.0471975511965976; /* 60 degrees */
    x[3 * k] = r * cos(a);
    x[3 * k + 1] = r * sin(a);
    x[3 * k + 2] = 0.01 * k;
    species[k] = k < 6 ? sc : sh;
  }
  mlff_structure s = {12, x, species, NULL, {0, 0, 0}};
  mlff_result r = {0};
  r.forces = f;
  if (mlff_compute(c, &s, &r) != MLFF_OK) {
    fprintf(stderr, "downstream: %s\n", mlff_last_error());
    return 1;
  }
  double fmax = 0;
  for (int i = 0; i < 36; i++) fmax = fabs(f[i]) > fmax ? fabs(f[i]) : fmax;
  printf("downstream: mlff API %d, energy %.6f eV, largest force component %.4f eV/A\n",
         MLFF_API_VERSION, r.energy, fmax);
  mlff_calc_free(c);
  mlff_model_free(m);
  return isfinite(r.energy) && fmax > 0 ? 0 : 1;
}
