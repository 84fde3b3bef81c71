/* test_freq_xtb.c DATA_DIR — the frequency pipeline of `mlff eval --freq` end to end on the
 * teacher: GFN2-xTB benzene, relaxed, Hessian by central differences, frequencies. Benzene's
 * 30 modes run from the e2u out-of-plane ring mode (experiment 398 cm^-1) to the C-H
 * stretches (experiment ~3060 cm^-1; GFN2-xTB: lowest pair 368, highest 3092 here). Exit 77 when
 * libmlff has no teacher. Label slow. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "freq.h"
#include "mlff_distill.h"

typedef struct {
  mlff_teacher *t;
  int n;
  int *z;
} ctx;

static int teacher_forces(void *user, const double *x, double *e, double *f) {
  ctx *c = user;
  mlff_frame fr = {0};
  fr.n_atoms = c->n;
  fr.atomic_numbers = c->z;
  fr.positions = (double *)x;
  if (mlff_teacher_compute(c->t, &fr, e, f)) {
    printf("teacher failed: %s\n", mlff_last_error());
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  mlff_teacher *t;
  mlff_status st = mlff_teacher_create_xtb(&t);
  if (st == MLFF_ERR_UNSUPPORTED) {
    printf("skipped: %s\n", mlff_last_error());
    return 77;
  }
  if (st) {
    printf("mlff_teacher_create_xtb: %s\n", mlff_last_error());
    return 1;
  }
  char path[1024];
  snprintf(path, sizeof path, "%s/benzene.xyz", argv[1]);
  mlff_frame *fr;
  int nf;
  if (mlff_read_extxyz(path, &fr, &nf)) {
    printf("%s\n", mlff_last_error());
    return 1;
  }
  int n = fr[0].n_atoms, N = 3 * n, bad = 0;
  double *x = malloc(N * sizeof *x), *H = malloc((size_t)N * N * sizeof *H), m[12], vib[36], tr[6];
  memcpy(x, fr[0].positions, N * sizeof *x);
  freq_generic_orientation(n, x); /* as mlff eval --freq does (see freq.h) */
  for (int i = 0; i < n; i++) m[i] = freq_atomic_mass(fr[0].atomic_numbers[i]);
  ctx c = {t, n, fr[0].atomic_numbers};
  freq_relax_info ri;
  if (freq_relax_bfgs(teacher_forces, &c, n, x, 1e-4, 1000, 0.2, &ri)) return 1;
  printf("GFN2 benzene relaxed: %d steps, converged %d, max |F| %.2e eV/A, E %.6f eV\n",
         ri.steps, ri.converged, ri.fmax, ri.energy);
  if (ri.fmax > 1e-3) bad = printf("relaxation did not get below 1e-3 eV/A\n");
  double asym;
  if (freq_hessian(teacher_forces, &c, n, x, 0.005, H, &asym)) return 1;
  freq_modes_info mi;
  if (freq_modes(n, m, x, H, vib, tr, &mi)) return 1;
  printf("Hessian asymmetry %.2e eV/A^2; %d modes:", asym, mi.n_vib);
  for (int k = 0; k < mi.n_vib; k++) printf(" %.1f", vib[k]);
  printf("\nprojected out:");
  for (int k = 0; k < mi.n_tr; k++) printf(" %.2f", tr[k]);
  printf("\n");
  /* D6h: the e2u pair is degenerate; the Hessian symmetric to finite-difference accuracy (both
   * fail with the libxtb gradient bug freq_generic_orientation avoids) */
  if (!(fabs(vib[1] - vib[0]) < 1.0)) bad = printf("lowest pair %.1f, %.1f not degenerate\n", vib[0], vib[1]);
  if (!(asym < 0.05)) bad = printf("Hessian asymmetry %.3g eV/A^2 >= 0.05\n", asym);
  if (mi.n_vib != 30 || mi.linear) bad = printf("expected 30 modes of a nonlinear molecule\n");
  if (mi.n_imaginary) bad = printf("%d imaginary modes at the minimum\n", mi.n_imaginary);
  if (!(vib[0] > 330 && vib[0] < 480)) bad = printf("lowest mode %.1f not in 330..480\n", vib[0]);
  if (!(vib[29] > 2950 && vib[29] < 3250))
    bad = printf("highest mode %.1f not in 2950..3250\n", vib[29]);
  for (int k = 0; k < mi.n_tr; k++)
    if (fabs(tr[k]) > 1.0) bad = printf("projected-out mode %.2f cm^-1 is not ~0\n", tr[k]);
  free(x);
  free(H);
  mlff_frames_free(fr, nf);
  mlff_teacher_free(t);
  printf(bad ? "test_freq_xtb: FAILED\n" : "test_freq_xtb: ok\n");
  return bad ? 1 : 0;
}
