/* test_freq_xtb.c DATA_DIR — the frequency pipeline of `mlff eval --freq` end to end on the
 * teacher: GFN2-xTB benzene, relaxed, Hessian by central differences, frequencies. Benzene's
 * 30 modes run from the e2u out-of-plane ring mode (experiment 398 cm^-1) to the C-H
 * stretches (experiment ~3060 cm^-1; GFN2-xTB: lowest pair 368, highest 3092 here). Then
 * `mlff label`'s preparation of its normal-mode samples (FIRE, the same Hessian and modes) must
 * find the same frequencies. Exit 77 when libmlff has no teacher. Label slow. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlff_distill.h"

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
  double *x = malloc(N * sizeof *x), *H = malloc((size_t)N * N * sizeof *H), vib[36], tr[6];
  memcpy(x, fr[0].positions, N * sizeof *x);
  mlff_generic_orientation(n, x); /* as mlff eval --freq does (libxtb's gradient, xtb #986) */
  mlff_teacher_molecule c = {t, n, fr[0].atomic_numbers};
  mlff_relax_info ri;
  if (mlff_harmonic_relax(mlff_teacher_molecule_forces, &c, n, x, 1e-4, 1000, 0.2, &ri)) {
    printf("teacher failed: %s\n", mlff_last_error());
    return 1;
  }
  printf("GFN2 benzene relaxed: %d steps, converged %d, max |F| %.2e eV/A, E %.6f eV\n",
         ri.steps, ri.converged, ri.fmax, ri.energy);
  if (ri.fmax > 1e-3) bad = printf("relaxation did not get below 1e-3 eV/A\n");
  double asym;
  if (mlff_harmonic_hessian(mlff_teacher_molecule_forces, &c, n, x, 0.005, H, &asym)) {
    printf("teacher failed: %s\n", mlff_last_error());
    return 1;
  }
  mlff_modes mi;
  if (mlff_harmonic_modes(n, fr[0].atomic_numbers, x, H, &mi)) {
    printf("%s\n", mlff_last_error());
    return 1;
  }
  for (int k = 0; k < mi.n_vib; k++) vib[k] = mlff_harmonic_wavenumber(mi.lambda[k]);
  for (int k = 0; k < mi.n_tr; k++) tr[k] = mlff_harmonic_wavenumber(mi.tr[k]);
  printf("Hessian asymmetry %.2e eV/A^2; %d modes:", asym, mi.n_vib);
  for (int k = 0; k < mi.n_vib; k++) printf(" %.1f", vib[k]);
  printf("\nprojected out:");
  for (int k = 0; k < mi.n_tr; k++) printf(" %.2f", tr[k]);
  printf("\n");
  /* D6h: the e2u pair is degenerate; the Hessian symmetric to finite-difference accuracy (both
   * fail with the libxtb gradient bug mlff_generic_orientation avoids) */
  if (!(fabs(vib[1] - vib[0]) < 1.0)) bad = printf("lowest pair %.1f, %.1f not degenerate\n", vib[0], vib[1]);
  if (!(asym < 0.05)) bad = printf("Hessian asymmetry %.3g eV/A^2 >= 0.05\n", asym);
  if (mi.n_vib != 30 || mi.linear) bad = printf("expected 30 modes of a nonlinear molecule\n");
  if (mi.n_imaginary) bad = printf("%d imaginary modes at the minimum\n", mi.n_imaginary);
  if (!(vib[0] > 330 && vib[0] < 480)) bad = printf("lowest mode %.1f not in 330..480\n", vib[0]);
  if (!(vib[29] > 2950 && vib[29] < 3250))
    bad = printf("highest mode %.1f not in 2950..3250\n", vib[29]);
  for (int k = 0; k < mi.n_tr; k++)
    if (fabs(tr[k]) > 1.0) bad = printf("projected-out mode %.2f cm^-1 is not ~0\n", tr[k]);

  /* `mlff label`'s way to its modes (tools/cmd_label.c, prepare: FIRE to 5e-4 eV/A from the
   * same start, the same Hessian and modes): the same frequencies to within what the two
   * minima's difference allows, and every mode sampled */
  double *xl = malloc(N * sizeof *xl), fmax, worst = 0;
  int steps;
  memcpy(xl, fr[0].positions, N * sizeof *xl);
  mlff_generic_orientation(n, xl);
  mlff_modes ml;
  if (mlff_smp_optimize(t, n, fr[0].atomic_numbers, xl, 5e-4, 3000, &steps, &fmax) ||
      mlff_harmonic_hessian(mlff_teacher_molecule_forces, &c, n, xl, 0.005, H, NULL) ||
      mlff_harmonic_modes(n, fr[0].atomic_numbers, xl, H, &ml)) {
    printf("label's path: %s\n", mlff_last_error());
    return 1;
  }
  for (int k = 0; k < ml.n_vib && k < mi.n_vib; k++) {
    double d = fabs(mlff_harmonic_wavenumber(ml.lambda[k]) - vib[k]);
    if (d > worst) worst = d;
  }
  printf("label's path: FIRE %d steps to %.1e eV/A; largest frequency difference to eval's "
         "%.2f cm^-1\n", steps, fmax, worst);
  if (ml.n_vib != mi.n_vib) bad = printf("label's path: %d modes, eval's %d\n", ml.n_vib, mi.n_vib);
  if (!(worst < 2.0)) bad = printf("label's and eval's frequencies differ by %.2f cm^-1\n", worst);
  if (!(ml.lambda[0] > MLFF_SMP_MIN_EIGEN)) bad = printf("label would leave mode 1 out\n");
  mlff_modes_free(&ml);
  mlff_modes_free(&mi);
  free(xl);
  free(x);
  free(H);
  mlff_frames_free(fr, nf);
  mlff_teacher_free(t);
  printf(bad ? "test_freq_xtb: FAILED\n" : "test_freq_xtb: ok\n");
  return bad ? 1 : 0;
}
