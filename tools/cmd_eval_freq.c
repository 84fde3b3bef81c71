/* cmd_eval_freq.c — `mlff eval --freq`: harmonic frequencies of a molecule with the student and
 * the teacher, each relaxed to its own minimum, side by side (libmlff_distill's harmonic
 * analysis, the one `mlff label` samples normal modes with). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_eval.h"

#define FREQ_FMAX 1e-4       /* eV/Å */
#define FREQ_MAX_STEPS 1000
#define FREQ_MAXSTEP 0.2     /* Å, BFGS */
#define FREQ_H 0.005         /* Å, finite-difference step */

typedef struct {
  mlff_calc *calc;
  int n;
  const int *species;
} student_ctx;

/* The student as an mlff_force_fn (the teacher's is mlff_teacher_molecule_forces). */
static mlff_status student_forces(void *user, const double *x, double *e, double *f) {
  student_ctx *c = user;
  mlff_structure s = {c->n, x, c->species, NULL, {0, 0, 0}};
  mlff_result r = {0};
  r.forces = f;
  mlff_status st = mlff_compute(c->calc, &s, &r);
  *e = r.energy;
  return st;
}

typedef struct {
  const char *who;
  mlff_relax_info relax;
  double asym;
  mlff_modes modes;
  double *x;     /* [3n] relaxed geometry */
  double *vib;   /* [modes.n_vib] wavenumbers, cm^-1, imaginary ones negative */
  double tr[6];  /* the projected-out modes' wavenumbers (~0: a check) */
  int n_frag0, n_frag;
} freq_result;

/* Relax, Hessian, modes (libmlff_distill's harmonic analysis, as `mlff label` uses). Returns 0
 * or 1 after printing an error. */
static int freq_run(mlff_force_fn fn, void *user, int n, const int *Z, const double *x0,
                    freq_result *r) {
  int N = 3 * n;
  r->x = malloc((size_t)N * sizeof *r->x);
  double *H = malloc((size_t)N * N * sizeof *H);
  int *label = malloc((size_t)n * sizeof *label);
  int rc = 1;
  if (!r->x || !H || !label) {
    fail_msg("out of memory");
    goto out;
  }
  memcpy(r->x, x0, (size_t)N * sizeof *r->x);
  r->n_frag0 = mlff_fragments(n, x0, BOND_CUTOFF, label);
  if (mlff_harmonic_relax(fn, user, n, r->x, FREQ_FMAX, FREQ_MAX_STEPS, FREQ_MAXSTEP,
                          &r->relax)) {
    fprintf(stderr, "mlff eval: --freq: relaxing with the %s: %s\n", r->who, mlff_last_error());
    goto out;
  }
  r->n_frag = mlff_fragments(n, r->x, BOND_CUTOFF, label);
  if (mlff_harmonic_hessian(fn, user, n, r->x, FREQ_H, H, &r->asym)) {
    fprintf(stderr, "mlff eval: --freq: Hessian of the %s: %s\n", r->who, mlff_last_error());
    goto out;
  }
  if (mlff_harmonic_modes(n, Z, r->x, H, &r->modes)) {
    fprintf(stderr, "mlff eval: --freq: %s: %s\n", r->who, mlff_last_error());
    goto out;
  }
  if (!r->modes.converged)
    fprintf(stderr, "mlff eval: warning: the Jacobi eigensolver did not converge for the %s\n",
            r->who);
  r->vib = malloc((size_t)r->modes.n_vib * sizeof *r->vib);
  if (!r->vib) {
    fail_msg("out of memory");
    goto out;
  }
  for (int k = 0; k < r->modes.n_vib; k++) r->vib[k] = mlff_harmonic_wavenumber(r->modes.lambda[k]);
  for (int k = 0; k < r->modes.n_tr; k++) r->tr[k] = mlff_harmonic_wavenumber(r->modes.tr[k]);
  rc = 0;
out:
  free(H);
  free(label);
  return rc;
}

static void print_freq_result(FILE *out, const char *name, const freq_result *r) {
  fprintf(out, "%s: %s in %d BFGS steps (%d force calls) to max |F| %.2e eV/Å, E %.6f eV;\n"
          "  Hessian asymmetry before symmetrising %.2e eV/Å²; %s, %d vibrational modes%s\n",
          name, r->relax.converged ? "relaxed" : "NOT CONVERGED", r->relax.steps,
          r->relax.n_calls, r->relax.fmax, r->relax.energy, r->asym,
          r->modes.linear ? "linear" : "nonlinear", r->modes.n_vib,
          r->modes.n_imaginary ? " (imaginary ones shown negative)" : "");
  if (!r->relax.converged)
    fprintf(out, "  warning: not at a stationary point: frequencies are only indicative\n");
  if (r->modes.n_imaginary)
    fprintf(out, "  warning: %d imaginary mode%s: the stationary point found is not a minimum of "
            "this calculator (BFGS keeps the symmetry of a symmetric start)\n",
            r->modes.n_imaginary, r->modes.n_imaginary == 1 ? "" : "s");
  if (r->n_frag != r->n_frag0)
    fprintf(out, "  warning: the structure changed bonding while relaxing: %d molecule%s at the "
            "start, %d at the end (atoms closer than %.1f Å bonded)\n", r->n_frag0,
            r->n_frag0 == 1 ? "" : "s", r->n_frag, BOND_CUTOFF);
}

static void json_freq_result(FILE *f, const freq_result *r) {
  fprintf(f, "{\n");
  fprintf(f, "    \"relax\": {\"steps\": %d, \"force_calls\": %d, \"converged\": %s, "
          "\"max_force_eV_per_A\": ", r->relax.steps, r->relax.n_calls,
          r->relax.converged ? "true" : "false");
  jnum(f, r->relax.fmax), fputs(", \"energy_eV\": ", f), jnum(f, r->relax.energy), fputs("},\n", f);
  fprintf(f, "    \"molecules_before_relax\": %d,\n    \"molecules_after_relax\": %d,\n",
          r->n_frag0, r->n_frag);
  fputs("    \"hessian_asymmetry_eV_per_A2\": ", f), jnum(f, r->asym), fputs(",\n", f);
  fprintf(f, "    \"linear\": %s,\n    \"n_vib\": %d,\n    \"n_imaginary\": %d,\n",
          r->modes.linear ? "true" : "false", r->modes.n_vib, r->modes.n_imaginary);
  fputs("    \"frequencies_cm1\": [", f);
  for (int k = 0; k < r->modes.n_vib; k++) {
    if (k) fputs(", ", f);
    jnum(f, r->vib[k]);
  }
  fputs("],\n    \"projected_out_cm1\": [", f);
  for (int k = 0; k < r->modes.n_tr; k++) {
    if (k) fputs(", ", f);
    jnum(f, r->tr[k]);
  }
  fputs("]\n  }", f);
}

int eval_freq(const options *o) {
  mlff_model *m = NULL;
  mlff_calc *calc = NULL;
  mlff_teacher *t = NULL;
  mlff_frame *frames = NULL;
  int n_frames = 0, rc = 1, *species = NULL;
  double *x0 = NULL;
  freq_result rs = {.who = "student"}, rt = {.who = "teacher"};
  int have_teacher = 0;

  if (mlff_model_load(o->model_path, &m) ||
      mlff_read_extxyz(o->freq_path, &frames, &n_frames)) {
    rc = cli_fail("eval");
    goto out;
  }
  if (n_frames < 1) {
    fprintf(stderr, "mlff eval: --freq: %s holds no structure\n", o->freq_path);
    goto out;
  }
  const mlff_frame *f = &frames[0];
  int n = f->n_atoms;
  if (f->has_cell && (f->pbc[0] || f->pbc[1] || f->pbc[2])) {
    fprintf(stderr, "mlff eval: --freq: %s is periodic; frequencies are computed for an isolated "
            "molecule (give no lattice, or pbc=\"F F F\")\n", o->freq_path);
    goto out;
  }
  if (n < 2) {
    fprintf(stderr, "mlff eval: --freq: %s has %d atom%s; a molecule needs at least 2\n",
            o->freq_path, n, n == 1 ? "" : "s");
    goto out;
  }
  species = malloc((size_t)n * sizeof *species);
  if (!species) {
    rc = fail_msg("out of memory");
    goto out;
  }
  if (mlff_frame_species(m, f, species)) {
    fprintf(stderr, "mlff eval: --freq: %s: %s\n", o->freq_path, mlff_last_error());
    goto out;
  }
  for (int i = 0; i < n; i++) { /* refused here rather than after the student's relaxation */
    if (!(mlff_atomic_mass(f->atomic_numbers[i]) > 0)) {
      const char *sym = mlff_element_symbol(f->atomic_numbers[i]);
      fprintf(stderr, "mlff eval: --freq: no standard atomic mass for element %s (atom %d)\n",
              sym ? sym : "?", i);
      goto out;
    }
  }
  if (make_calc(m, o, &calc)) goto out;
  /* both calculators start from the same, generically oriented copy (mlff_generic_orientation:
   * libxtb's gradient is wrong where atoms share a Cartesian coordinate, as symmetric inputs do) */
  x0 = malloc((size_t)n * 3 * sizeof *x0);
  if (!x0) {
    rc = fail_msg("out of memory");
    goto out;
  }
  memcpy(x0, f->positions, (size_t)n * 3 * sizeof *x0);
  mlff_generic_orientation(n, x0);
  student_ctx sc = {calc, n, species};
  if (freq_run(student_forces, &sc, n, f->atomic_numbers, x0, &rs)) goto out;

  mlff_status st = mlff_teacher_create_xtb(&t);
  if (st && st != MLFF_ERR_UNSUPPORTED) {
    rc = cli_fail("eval");
    goto out;
  }
  if (!st) {
    mlff_teacher_molecule tm = {t, n, f->atomic_numbers};
    if (freq_run(mlff_teacher_molecule_forces, &tm, n, f->atomic_numbers, x0, &rt)) goto out;
    have_teacher = 1;
  }

  int json_stdout = o->json_path && !strcmp(o->json_path, "-");
  FILE *out = json_stdout ? stderr : stdout;
  fprintf(out, "mlff eval --freq: %s, %d atoms%s; student %s\n", o->freq_path, n,
          n_frames > 1 ? " (first structure of the file)" : "", o->model_path);
  fprintf(out, "method: each calculator relaxes the molecule to its own minimum (BFGS, max atomic "
          "|F| < %g eV/Å, at most %d steps); Hessian by central differences of the forces (step "
          "%g Å), symmetrised, mass-weighted (standard atomic masses); translations and rotations "
          "projected out and the %d modes spanning them discarded\n", FREQ_FMAX, FREQ_MAX_STEPS,
          FREQ_H, rs.modes.n_tr);
  print_freq_result(out, "student", &rs);
  double rmsd = 0, mae = 0, maxdev = 0;
  int n_cmp = 0, max_mode = -1;
  if (have_teacher) {
    char name[300];
    snprintf(name, sizeof name, "teacher (%s)", mlff_teacher_name(t));
    print_freq_result(out, name, &rt);
    rmsd = mlff_rmsd_aligned(n, rs.x, rt.x);
    fprintf(out, "the two minima differ by %.4f Å RMSD after optimal superposition\n", rmsd);
    n_cmp = rs.modes.n_vib < rt.modes.n_vib ? rs.modes.n_vib : rt.modes.n_vib;
    if (rs.modes.n_vib != rt.modes.n_vib)
      fprintf(out, "warning: the student has %d modes, the teacher %d: compared by rank over "
              "the first %d\n", rs.modes.n_vib, rt.modes.n_vib, n_cmp);
    for (int k = 0; k < n_cmp; k++) {
      double dv = fabs(rs.vib[k] - rt.vib[k]);
      mae += dv;
      if (dv > maxdev) maxdev = dv, max_mode = k;
    }
    if (n_cmp) mae /= n_cmp;
  } else {
    fprintf(out, "teacher: unavailable (this build of libmlff has no libxtb): student "
            "frequencies only\n");
  }
  fprintf(out, "\n  %5s %14s", "mode", "student cm^-1");
  if (have_teacher) fprintf(out, " %14s %12s", "teacher cm^-1", "difference");
  fprintf(out, "\n");
  int rows = have_teacher && rt.modes.n_vib > rs.modes.n_vib ? rt.modes.n_vib : rs.modes.n_vib;
  for (int k = 0; k < rows; k++) {
    fprintf(out, "  %5d ", k + 1);
    if (k < rs.modes.n_vib) fprintf(out, "%14.1f", rs.vib[k]);
    else fprintf(out, "%14s", "");
    if (have_teacher) {
      if (k < rt.modes.n_vib) fprintf(out, " %14.1f", rt.vib[k]);
      else fprintf(out, " %14s", "");
      if (k < n_cmp) fprintf(out, " %+12.1f", rs.vib[k] - rt.vib[k]);
    }
    fprintf(out, "\n");
  }
  if (have_teacher && n_cmp)
    fprintf(out, "\nMAE over %d modes (sorted, paired by rank): %.1f cm^-1; largest |difference| "
            "%.1f cm^-1 (mode %d)\n", n_cmp, mae, maxdev, max_mode + 1);

  if (o->json_path) {
    FILE *jf = json_stdout ? stdout : fopen(o->json_path, "w");
    if (!jf) {
      fprintf(stderr, "mlff eval: cannot write '%s': %s\n", o->json_path, strerror(errno));
      goto out;
    }
    fprintf(jf, "{\n");
    jkey(jf, "  ", "command"), jstr(jf, "eval --freq"), fputs(",\n", jf);
    jkey(jf, "  ", "model"), jstr(jf, o->model_path), fputs(",\n", jf);
    jkey(jf, "  ", "molecule"), jstr(jf, o->freq_path), fputs(",\n", jf);
    jkey(jf, "  ", "n_atoms"), fprintf(jf, "%d,\n", n);
    jkey(jf, "  ", "method"),
        jstr(jf, "each calculator relaxed to its own minimum (BFGS, max atomic |F| < 1e-4 eV/A, "
             "<= 1000 steps); Hessian by central differences of forces, step 0.005 A, "
             "symmetrised; mass-weighted with standard atomic masses; translations and rotations "
             "projected out, the 6 (5 if linear) modes spanning them discarded; imaginary "
             "frequencies negative");
    fputs(",\n", jf);
    jkey(jf, "  ", "student"), json_freq_result(jf, &rs), fputs(",\n", jf);
    jkey(jf, "  ", "teacher");
    if (have_teacher) {
      json_freq_result(jf, &rt);
      fputs(",\n", jf);
      jkey(jf, "  ", "teacher_name"), jstr(jf, mlff_teacher_name(t)), fputs(",\n", jf);
      jkey(jf, "  ", "comparison");
      fprintf(jf, "{\"n_modes\": %d, \"mae_cm1\": ", n_cmp);
      jnum(jf, n_cmp ? mae : NAN), fputs(", \"max_abs_deviation_cm1\": ", jf);
      jnum(jf, n_cmp ? maxdev : NAN), fprintf(jf, ", \"max_deviation_mode\": %d, ", max_mode + 1);
      fputs("\"minima_rmsd_A\": ", jf), jnum(jf, rmsd), fputs("}\n", jf);
    } else {
      fputs("null,\n", jf);
      jkey(jf, "  ", "teacher_skipped"),
          jstr(jf, "this build of libmlff has no libxtb (GFN2-xTB teacher)");
      fputs("\n", jf);
    }
    fputs("}\n", jf);
    int bad = ferror(jf);
    if (!json_stdout) bad |= fclose(jf) != 0;
    else fflush(jf);
    if (bad) {
      fprintf(stderr, "mlff eval: error writing '%s'\n", o->json_path);
      goto out;
    }
  }
  rc = 0;
out:
  free(rs.x), free(rs.vib), free(rt.x), free(rt.vib);
  mlff_modes_free(&rs.modes), mlff_modes_free(&rt.modes);
  free(species);
  free(x0);
  mlff_teacher_free(t);
  mlff_calc_free(calc);
  mlff_frames_free(frames, n_frames);
  mlff_model_free(m);
  return rc;
}
