/* test_teacher.c — the GFN2-xTB teacher (libxtb in process).
 *   test_teacher program TMPDIR benzene.xyz  energy equals the `xtb` program's to 1e-6 Eh
 *   test_teacher forces  TMPDIR benzene.xyz  forces = -dE/dx by central differences
 *                                            (1e-4 eV/Å), restarts, other atoms, refusals
 *   test_teacher quick   TMPDIR benzene.xyz  a few calls of each kind (for valgrind)
 *   test_teacher hessian TMPDIR opt.xyz      normal-mode wavenumbers from our finite-difference
 *                                            Hessian (sampling.c) equal `xtb --hess`'s (1 %)
 * Exits 77 (skipped) when libmlff has no libxtb, or for `program` when `xtb` is missing. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io_test.h"
#include "mlff_distill.h"
#include "mlff_distill.h"

#define HARTREE_EV 27.211386245988

static mlff_frame *read_molecule(const char *path) {
  mlff_frame *fr;
  int n;
  CHECK_OK(mlff_read_extxyz(path, &fr, &n));
  CHECK(n >= 1 && fr[0].n_atoms == 12);
  return fr;
}

static int program(mlff_teacher *t, const char *tmp, const char *xyz) {
  if (system("command -v xtb >/dev/null 2>&1") != 0) {
    printf("the xtb program is not installed (Debian: apt-get install xtb): skipped\n");
    return 77;
  }
  char dir[512], cmd[2048], out[600];
  snprintf(dir, sizeof dir, "%s/xtb_program", tmp);
  mkdir(dir, 0755);
  snprintf(out, sizeof out, "%s/xtb.out", dir);
  /* A directory of its own: xtb writes files next to its input and reads .CHRG/.UHF there. */
  snprintf(cmd, sizeof cmd, "cp '%s' '%s/benzene.xyz' && cd '%s' && rm -f .CHRG .UHF && "
           "OMP_NUM_THREADS=1 xtb benzene.xyz --gfn 2 --sp > xtb.out 2>&1", xyz, dir, dir);
  CHECK(system(cmd) == 0);
  size_t n;
  char *text = read_all(out, &n);
  const char *line = strstr(text, "TOTAL ENERGY");
  CHECK(line != NULL);
  double e_prog;
  CHECK(sscanf(line, "TOTAL ENERGY %lf Eh", &e_prog) == 1);
  free(text);
  mlff_frame *fr = read_molecule(xyz);
  double e, F[36];
  CHECK_OK(mlff_teacher_compute(t, &fr[0], &e, F));
  double e_lib = e / HARTREE_EV;
  printf("libxtb %.10f Eh, xtb program %.10f Eh, difference %.2e Eh\n", e_lib, e_prog,
         e_lib - e_prog);
  CHECK(fabs(e_lib - e_prog) < 1e-6);
  mlff_frames_free(fr, 1);
  return 0;
}

static void distort(mlff_frame *f) {
  for (int i = 0; i < 3 * f->n_atoms; i++) f->positions[i] += 0.03 * sin(1.7 * i + 0.3);
}

/* planar: the molecule as given (all z equal, shared coordinates), the kind of input that
 * trips libxtb 6.5.1's gradient (xtb issue #986; the teacher turns every structure first).
 * This geometry happens to pass even without the turn: it guards, it does not reproduce. */
static int forces(mlff_teacher *t, const char *xyz, int quick, int planar) {
  mlff_frame *fr = read_molecule(xyz);
  mlff_frame *f = &fr[0];
  if (!planar) distort(f);
  double e0, F[36], e, G[36];
  CHECK_OK(mlff_teacher_compute(t, f, &e0, F));
  double fmax = 0;
  for (int i = 0; i < 36; i++) fmax = fmax > fabs(F[i]) ? fmax : fabs(F[i]);
  CHECK(fmax > 0.1); /* the distortion gives real forces to check */

  /* Central differences over every coordinate (each call restarts from the last). */
  const double h = 1e-3;
  double worst = 0;
  for (int i = 0; i < (quick ? 2 : 36); i++) {
    double x = f->positions[i], ep, em;
    f->positions[i] = x + h;
    CHECK_OK(mlff_teacher_compute(t, f, &ep, G));
    f->positions[i] = x - h;
    CHECK_OK(mlff_teacher_compute(t, f, &em, G));
    f->positions[i] = x;
    double err = fabs(-(ep - em) / (2 * h) - F[i]);
    if (err > worst) worst = err;
  }
  printf("forces vs -dE/dx (central differences, h = %g A): largest difference %.2e eV/A "
         "(largest force %.2f eV/A)\n", h, worst, fmax);
  CHECK(worst < 1e-4);

  /* A restarted wavefunction gives what a fresh teacher gives. */
  mlff_teacher *u;
  CHECK_OK(mlff_teacher_create_xtb(&u));
  CHECK_OK(mlff_teacher_compute(t, f, &e, G));
  double e_fresh, H[36];
  CHECK_OK(mlff_teacher_compute(u, f, &e_fresh, H));
  double dmax = 0;
  for (int i = 0; i < 36; i++)
    if (fabs(G[i] - H[i]) > dmax) dmax = fabs(G[i] - H[i]);
  printf("restarted vs fresh: energy %.2e eV, forces %.2e eV/A\n", fabs(e - e_fresh), dmax);
  CHECK(fabs(e - e_fresh) < 1e-5 && dmax < 1e-4);
  CHECK(fabs(e - e0) < 1e-6);
  mlff_teacher_free(u);

  /* Other atoms in between (a new molecule), then benzene again. */
  int Zw[3] = {8, 1, 1};
  double xw[9] = {0, 0, 0.1173, 0, 0.7572, -0.4692, 0, -0.7572, -0.4692}, Fw[9], ew;
  mlff_frame w;
  memset(&w, 0, sizeof w);
  w.n_atoms = 3;
  w.atomic_numbers = Zw;
  w.positions = xw;
  CHECK_OK(mlff_teacher_compute(t, &w, &ew, Fw));
  CHECK(ew < -100 && ew > -200); /* GFN2 water, about -5.07 Eh */
  CHECK(fabs(Fw[0]) < 1e-6 && fabs(Fw[1]) < 1e-6); /* symmetric: no force on O along x, y */
  CHECK_OK(mlff_teacher_compute(t, f, &e, G));
  CHECK(fabs(e - e0) < 1e-6);

  /* Refusals. */
  w.has_cell = 1;
  double cell[9] = {10, 0, 0, 0, 10, 0, 0, 0, 10};
  memcpy(w.cell, cell, sizeof cell);
  w.pbc[0] = w.pbc[1] = w.pbc[2] = 1;
  mlff_status st = mlff_teacher_compute(t, &w, &ew, Fw);
  printf("periodic water: %s: %s\n", mlff_status_name(st), mlff_last_error());
  if (st) CHECK(strstr(mlff_last_error(), "periodic") || strstr(mlff_last_error(), "PBC"));
  w.has_cell = 0;
  Zw[1] = 0;
  CHECK_FAILS(mlff_teacher_compute(t, &w, &ew, Fw), MLFF_ERR_ARGUMENT,
              "atom 1 has atomic number 0", "1 to 86");
  Zw[1] = 87;
  CHECK_FAILS(mlff_teacher_compute(t, &w, &ew, Fw), MLFF_ERR_ARGUMENT, "atomic number 87");
  Zw[1] = 1;
  xw[4] = NAN;
  CHECK_FAILS(mlff_teacher_compute(t, &w, &ew, Fw), MLFF_ERR_ARGUMENT, "atom 1",
              "non-finite position");
  xw[4] = 0.7572;
  CHECK_OK(mlff_teacher_compute(t, &w, &ew, Fw)); /* and it still works */
  CHECK_FAILS(mlff_teacher_compute(t, NULL, &ew, Fw), MLFF_ERR_ARGUMENT, "NULL");
  mlff_frames_free(fr, 1);
  return 0;
}

static int hessian(mlff_teacher *t, const char *tmp, const char *xyz) {
  if (system("command -v xtb >/dev/null 2>&1") != 0) {
    printf("the xtb program is not installed (Debian: apt-get install xtb): skipped\n");
    return 77;
  }
  char dir[512], cmd[2048], path[600];
  snprintf(dir, sizeof dir, "%s/xtb_hessian", tmp);
  mkdir(dir, 0755);
  snprintf(cmd, sizeof cmd, "cp '%s' '%s/opt.xyz' && cd '%s' && rm -f .CHRG .UHF vibspectrum && "
           "OMP_NUM_THREADS=1 xtb opt.xyz --gfn 2 --hess > xtb.out 2>&1", xyz, dir, dir);
  CHECK(system(cmd) == 0);
  snprintf(path, sizeof path, "%s/vibspectrum", dir);
  FILE *f = fopen(path, "r");
  CHECK(f != NULL);
  double ref[36];
  int n_ref = 0;
  char line[256];
  while (fgets(line, sizeof line, f)) {
    int mode;
    char sym[16];
    double w;
    if (line[0] == '#' || line[0] == '$') continue;
    if (sscanf(line, "%d %15s %lf", &mode, sym, &w) == 3 && mode > 6 && n_ref < 36)
      ref[n_ref++] = w;
  }
  fclose(f);
  CHECK(n_ref == 30);
  mlff_frame *fr = read_molecule(xyz);
  static double H[36 * 36];
  mlff_teacher_molecule mol = {t, 12, fr[0].atomic_numbers};
  CHECK_OK(mlff_harmonic_hessian(mlff_teacher_molecule_forces, &mol, 12, fr[0].positions, 0.005,
                                 H, NULL));
  mlff_modes m;
  CHECK_OK(mlff_harmonic_modes(12, fr[0].atomic_numbers, fr[0].positions, H, &m));
  CHECK(m.n_vib == 30 && m.n_imaginary == 0 && m.lambda[0] > MLFF_SMP_MIN_EIGEN);
  double worst = 0;
  for (int k = 0; k < 30; k++) {
    double w = mlff_harmonic_wavenumber(m.lambda[k]), d = fabs(w - ref[k]) / ref[k];
    if (d > worst) worst = d;
    printf("%s%.1f/%.1f", k ? " " : "mode wavenumbers, ours/xtb's (cm^-1): ", w, ref[k]);
  }
  printf("\nlargest relative difference %.2f %%\n", 100 * worst);
  CHECK(worst < 0.01);
  mlff_modes_free(&m);
  mlff_frames_free(fr, 1);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: test_teacher program|forces|planar|quick|hessian TMPDIR XYZ\n");
    return 2;
  }
  mlff_teacher *t;
  mlff_status st = mlff_teacher_create_xtb(&t);
  if (st == MLFF_ERR_UNSUPPORTED) {
    printf("skipped: %s\n", mlff_last_error());
    CHECK(strstr(mlff_last_error(), "libxtb-dev"));
    return 77;
  }
  CHECK_OK(st);
  printf("teacher: %s\n", mlff_teacher_name(t));
  CHECK(!strncmp(mlff_teacher_name(t), "GFN2-xTB (libxtb ", 17));
  /* the thread count is an option of the teacher, checked */
  CHECK(mlff_teacher_set_threads(t, 0) == MLFF_ERR_ARGUMENT &&
        strstr(mlff_last_error(), "thread count must be 1 to 1024, not 0"));
  CHECK_OK(mlff_teacher_set_threads(t, 1));
  int rc;
  if (!strcmp(argv[1], "program")) rc = program(t, argv[2], argv[3]);
  else if (!strcmp(argv[1], "forces")) rc = forces(t, argv[3], 0, 0);
  else if (!strcmp(argv[1], "planar")) rc = forces(t, argv[3], 0, 1);
  else if (!strcmp(argv[1], "hessian")) rc = hessian(t, argv[2], argv[3]);
  else rc = forces(t, argv[3], 1, 0);
  mlff_teacher_free(t);
  if (!rc) printf("test_teacher %s: passed\n", argv[1]);
  return rc;
}
