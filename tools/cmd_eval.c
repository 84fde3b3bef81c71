/* cmd_eval.c — `mlff eval`: a model's errors against a labelled dataset (overall, per element,
 * per source tag, worst structures; optionally interaction energies of clusters against the
 * teacher), and the arguments; harmonic frequencies of a molecule, student vs teacher (--freq),
 * are cmd_eval_freq.c's. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_eval.h"

static const char USAGE[] =
    "mlff eval MODEL.h5 DATA.h5 [--json FILE|-] [--split test|valid|train|all] [--sources LIST]\n"
    "                 [--worst N] [--threads N] [--interaction] [--device cpu|gpu|auto]\n"
    "                 [--fp16 yes|no] [--predictions FILE]\n"
    "       mlff eval MODEL.h5 --freq MOLECULE.xyz [--json FILE|-] [--threads N]\n"
    "                 [--device cpu|gpu|auto] [--fp16 yes|no]";
static const char HELP[] =
    "Errors of a model (the student) against the labels of a dataset, or its harmonic\n"
    "frequencies against the teacher's.\n"
    "\n"
    "Against a dataset: errors are student minus reference. Energies: per structure, and per\n"
    "structure divided by its atom count (meV/atom); MAE, RMSE and the mean signed error.\n"
    "Forces: component-wise over all atoms (every x, y, z of every atom is one sample), meV/Å,\n"
    "MAE, RMSE and the largest error. Broken down per element (the forces on atoms of that\n"
    "element) and per source tag of the structures, with the N structures of largest force\n"
    "RMSE listed.\n"
    "  --split NAME   test, valid, train: the structures of that part of the split recorded in\n"
    "                 the model's training_summary (an error when the model records none, or\n"
    "                 when it was trained on another dataset: dataset_sha256 differs); all:\n"
    "                 every structure. Default: test when the model records a split of this\n"
    "                 dataset, else all.\n"
    "  --sources LIST only structures whose source tag is in the comma-separated LIST\n"
    "  --worst N      list the N structures of largest force RMSE (default 5; 0: none)\n"
    "  --threads N    CPU threads of the model's evaluation (default: OpenMP's)\n"
    "  --device D     where the student runs: cpu (default; double precision), gpu (CUDA, FP32\n"
    "                 descriptors and sums), auto (the GPU when this build has CUDA and one is\n"
    "                 visible, else the CPU); the same paths as pair_style mlff's device option\n"
    "  --fp16 yes|no  the network's matrix products in FP16 on tensor cores (GPU only; default\n"
    "                 no), as pair_style mlff's fp16 option\n"
    "  --predictions FILE  also write the student's predictions, one line per structure:\n"
    "                 dataset index, atom count, energy (eV), then the forces (eV/Å, x y z of\n"
    "                 every atom); for comparing two devices or precisions structure by structure\n"
    "  --interaction  for clusters (source containing dimer, trimer, tetramer, cluster,\n"
    "                 droplet, liquid or relaxed; open boundaries): split each into molecules\n"
    "                 (atoms closer than\n"
    "                 1.6 Å are bonded), E_int = E(cluster) - sum E(molecule) with the student\n"
    "                 and with the teacher (GFN2-xTB, computed here for the cluster and its\n"
    "                 molecules alike); reports the interaction-energy errors in meV per cluster\n"
    "                 and per molecule of the cluster\n"
    "                 (negative mean: the student over-binds). Needs libxtb; skipped otherwise.\n"
    "  --json FILE    also write every figure as JSON to FILE ('-': stdout; the table then goes\n"
    "                 to stderr)\n"
    "\n"
    "--freq MOLECULE.xyz: harmonic frequencies of the first structure of an (extended) XYZ\n"
    "file, with the student and with the teacher (GFN2-xTB; student only when libxtb is\n"
    "missing). Frequencies at a non-stationary point are ill-defined, so each calculator first\n"
    "relaxes the molecule to its own minimum (BFGS, max atomic |F| < 1e-4 eV/Å, at most 1000\n"
    "steps), then its Hessian comes from central differences of its forces (step 0.005 Å,\n"
    "symmetrised), mass-weighted with standard atomic masses; translations and rotations are\n"
    "projected out and the 6 modes spanning them (5 for a linear molecule) discarded. The\n"
    "3N-6 frequencies (cm^-1; imaginary ones negative) are listed side by side, sorted, with\n"
    "their MAE and largest deviation. The molecule is first turned to a generic orientation:\n"
    "libxtb 6.5.1's forces are wrong where two atoms share a Cartesian coordinate, as\n"
    "symmetric inputs do (xtb issue 986).\n";

int fail_msg(const char *msg) {
  fprintf(stderr, "mlff eval: %s\n", msg);
  return 1;
}

/* ---- JSON output -------------------------------------------------------------------------- */

void jstr(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
    else if (*p == '\n') fputs("\\n", f);
    else if (*p == '\t') fputs("\\t", f);
    else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
    else fputc(*p, f);
  }
  fputc('"', f);
}

void jnum(FILE *f, double v) {
  if (isfinite(v)) fprintf(f, "%.17g", v);
  else fputs("null", f);
}

void jkey(FILE *f, const char *indent, const char *key) {
  fprintf(f, "%s", indent);
  jstr(f, key);
  fputs(": ", f);
}

/* ---- errors of one structure and their sums ---------------------------------------------- */

typedef struct {
  int index;          /* in the dataset */
  const char *source;
  int n_atoms;
  double e_model, e_ref; /* eV */
  double f_abs, f_sq, f_max; /* over its 3N force components, eV/Å */
  double devi_max;           /* a committee's largest per-atom force deviation, eV/Å */
} serr;

/* A committee's uncertainty against the errors: its per-structure maximum force deviation,
 * mean and maximum over the structures, and its Pearson correlation with the structures'
 * force RMSE (does the deviation point at the bad structures?). */
typedef struct {
  double mean, max, r;
} devi_stats;

static devi_stats committee_stats(const serr *e, int n) {
  devi_stats d = {0, 0, NAN};
  double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
  for (int k = 0; k < n; k++) {
    double x = e[k].devi_max, y = sqrt(e[k].f_sq / (3.0 * e[k].n_atoms));
    sx += x, sy += y, sxx += x * x, syy += y * y, sxy += x * y;
    if (x > d.max) d.max = x;
  }
  if (n > 0) d.mean = sx / n;
  double vx = n * sxx - sx * sx, vy = n * syy - sy * sy;
  if (n > 1 && vx > 0 && vy > 0) d.r = (n * sxy - sx * sy) / sqrt(vx * vy);
  return d;
}

typedef struct {
  long n_struct, n_atoms;
  double e_abs_pa, e_sq_pa, e_sum_pa; /* per atom, eV */
  double e_abs, e_sq, e_sum;          /* per structure, eV */
  double f_abs, f_sq, f_max;          /* forces, eV/Å */
} accum;

static void accum_add(accum *a, const serr *s) {
  double de = s->e_model - s->e_ref, dpa = de / s->n_atoms;
  a->n_struct++;
  a->n_atoms += s->n_atoms;
  a->e_abs_pa += fabs(dpa);
  a->e_sq_pa += dpa * dpa;
  a->e_sum_pa += dpa;
  a->e_abs += fabs(de);
  a->e_sq += de * de;
  a->e_sum += de;
  a->f_abs += s->f_abs;
  a->f_sq += s->f_sq;
  if (s->f_max > a->f_max) a->f_max = s->f_max;
}

typedef struct {
  double e_mae_pa, e_rmse_pa, e_me_pa, e_mae, e_rmse, e_me, f_mae, f_rmse, f_max; /* meV, meV/Å */
} figures;

static figures accum_figures(const accum *a) {
  figures g;
  double ns = (double)a->n_struct, nc = 3.0 * (double)a->n_atoms;
  g.e_mae_pa = 1000 * a->e_abs_pa / ns;
  g.e_rmse_pa = 1000 * sqrt(a->e_sq_pa / ns);
  g.e_me_pa = 1000 * a->e_sum_pa / ns;
  g.e_mae = 1000 * a->e_abs / ns;
  g.e_rmse = 1000 * sqrt(a->e_sq / ns);
  g.e_me = 1000 * a->e_sum / ns;
  g.f_mae = 1000 * a->f_abs / nc;
  g.f_rmse = 1000 * sqrt(a->f_sq / nc);
  g.f_max = 1000 * a->f_max;
  return g;
}

static void json_figures(FILE *f, const char *ind, const accum *a, int with_energy) {
  figures g = accum_figures(a);
  fprintf(f, "{\n");
  char in2[32];
  snprintf(in2, sizeof in2, "%s  ", ind);
  if (with_energy) {
    jkey(f, in2, "n_structures");
    fprintf(f, "%ld,\n", a->n_struct);
  }
  jkey(f, in2, "n_atoms");
  fprintf(f, "%ld,\n", a->n_atoms);
  if (with_energy) {
    jkey(f, in2, "energy_mae_meV_per_atom"), jnum(f, g.e_mae_pa), fputs(",\n", f);
    jkey(f, in2, "energy_rmse_meV_per_atom"), jnum(f, g.e_rmse_pa), fputs(",\n", f);
    jkey(f, in2, "energy_mean_error_meV_per_atom"), jnum(f, g.e_me_pa), fputs(",\n", f);
    jkey(f, in2, "energy_mae_meV_per_structure"), jnum(f, g.e_mae), fputs(",\n", f);
    jkey(f, in2, "energy_rmse_meV_per_structure"), jnum(f, g.e_rmse), fputs(",\n", f);
    jkey(f, in2, "energy_mean_error_meV_per_structure"), jnum(f, g.e_me), fputs(",\n", f);
  }
  jkey(f, in2, "force_mae_meV_per_A"), jnum(f, g.f_mae), fputs(",\n", f);
  jkey(f, in2, "force_rmse_meV_per_A"), jnum(f, g.f_rmse), fputs(",\n", f);
  jkey(f, in2, "force_max_abs_error_meV_per_A"), jnum(f, g.f_max), fprintf(f, "\n%s}", ind);
}

static void print_row(FILE *o, const char *label, const accum *a, int with_energy) {
  figures g = accum_figures(a);
  if (with_energy)
    fprintf(o, "  %-22s %7ld %8ld %9.3f %9.3f %+9.3f %10.3f %9.3f %9.3f %9.1f\n", label,
            a->n_struct, a->n_atoms, g.e_mae_pa, g.e_rmse_pa, g.e_me_pa, g.e_mae, g.f_mae,
            g.f_rmse, g.f_max);
  else
    fprintf(o, "  %-22s %7s %8ld %9s %9s %9s %10s %9.3f %9.3f %9.1f\n", label, "", a->n_atoms, "",
            "", "", "", g.f_mae, g.f_rmse, g.f_max);
}

/* ---- interaction energies ---------------------------------------------------------------- */

typedef struct {
  long n;
  double abs, sq, sum, teacher_sum; /* eV, per cluster */
  double abs_pm, sum_pm, teacher_pm; /* eV, per molecule of each cluster (err / molecules) */
} iaccum;

static void iaccum_add(iaccum *a, double err, double teacher, int n_mol) {
  a->n++;
  a->abs += fabs(err);
  a->sq += err * err;
  a->sum += err;
  a->teacher_sum += teacher;
  a->abs_pm += fabs(err) / n_mol;
  a->sum_pm += err / n_mol;
  a->teacher_pm += teacher / n_mol;
}

static int is_cluster_source(const char *s) {
  static const char *const words[] = {"dimer", "trimer", "tetramer", "cluster", "droplet",
                                      "liquid", "relaxed"};
  for (int k = 0; k < 7; k++)
    if (strstr(s, words[k])) return 1;
  return 0;
}

typedef struct {
  int requested, skipped; /* skipped: no teacher in this build */
  char teacher[256];
  long n_periodic, n_single; /* clusters left out: periodic; one molecule only */
  long n_teacher_failed;
  iaccum all;
  int n_tags;
  const char **tags;
  iaccum *by_tag;
  double label_dev_sum; /* sum over clusters of |E_label - E_teacher| / N, eV */
} interaction;

/* Energy of the molecule `mol` of a cluster (atoms with label == mol) by the student (*es; the
 * return value is the student's status) and by the teacher (*et, *teacher_status). */
static mlff_status molecule_energies(mlff_calc *calc, mlff_teacher *t, const mlff_frame *f,
                                     const int *species, const int *label, int mol, double *es,
                                     double *et, mlff_status *teacher_status) {
  int n = 0;
  for (int i = 0; i < f->n_atoms; i++) n += label[i] == mol;
  double *x = malloc((size_t)n * 3 * sizeof *x), *F = malloc((size_t)n * 3 * sizeof *F);
  int *sp = malloc((size_t)n * sizeof *sp), *z = malloc((size_t)n * sizeof *z);
  mlff_status st = MLFF_ERR_NOMEM;
  *teacher_status = MLFF_ERR_NOMEM;
  if (x && F && sp && z) {
    int k = 0;
    for (int i = 0; i < f->n_atoms; i++)
      if (label[i] == mol) {
        memcpy(x + 3 * k, f->positions + 3 * i, 3 * sizeof *x);
        sp[k] = species[i];
        z[k] = f->atomic_numbers[i];
        k++;
      }
    mlff_structure s = {n, x, sp, NULL, {0, 0, 0}};
    mlff_result r = {0};
    r.forces = F;
    st = mlff_compute(calc, &s, &r);
    *es = r.energy;
    mlff_frame fm = {0};
    fm.n_atoms = n;
    fm.atomic_numbers = z;
    fm.positions = x;
    if (!st) *teacher_status = mlff_teacher_compute(t, &fm, et, F);
  }
  free(x);
  free(F);
  free(sp);
  free(z);
  return st;
}

/* Returns 0, or 1 after printing an error. */
static int run_interaction(interaction *ia, const mlff_dataset *d, mlff_calc *calc, const serr *errs,
                           int n_sel, int *const *species, int n_tags, const char **tags) {
  mlff_teacher *t = NULL;
  mlff_status st = mlff_teacher_create_xtb(&t);
  if (st == MLFF_ERR_UNSUPPORTED) {
    ia->skipped = 1;
    return 0;
  }
  if (st) return cli_fail("eval");
  snprintf(ia->teacher, sizeof ia->teacher, "%s", mlff_teacher_name(t));
  ia->n_tags = n_tags;
  ia->tags = tags;
  ia->by_tag = calloc((size_t)(n_tags > 0 ? n_tags : 1), sizeof *ia->by_tag);
  int rc = 0;
  if (!ia->by_tag) {
    mlff_teacher_free(t);
    return fail_msg("out of memory");
  }
  for (int k = 0; k < n_sel && !rc; k++) {
    const serr *s = &errs[k];
    if (!is_cluster_source(s->source)) continue;
    mlff_frame f;
    const char *src;
    if (mlff_dataset_get(d, s->index, &f, &src)) {
      rc = cli_fail("eval");
      break;
    }
    if (f.has_cell && (f.pbc[0] || f.pbc[1] || f.pbc[2])) {
      ia->n_periodic++;
      continue;
    }
    int *label = malloc((size_t)f.n_atoms * sizeof *label);
    double *F = malloc((size_t)f.n_atoms * 3 * sizeof *F);
    int n_mol = label && F ? mlff_fragments(f.n_atoms, f.positions, BOND_CUTOFF, label) : -1;
    if (n_mol < 0) {
      rc = fail_msg("out of memory");
    } else if (n_mol < 2) {
      ia->n_single++;
    } else {
      /* the teacher on the whole cluster (as a view without cell: open boundaries) */
      mlff_frame fc = f;
      fc.has_cell = 0;
      fc.has_energy = fc.has_forces = 0;
      fc.forces = NULL;
      double etc, es_sum = 0, et_sum = 0;
      int teacher_ok = mlff_teacher_compute(t, &fc, &etc, F) == MLFF_OK;
      for (int mol = 0; mol < n_mol && teacher_ok && !rc; mol++) {
        double es = 0, et = 0;
        mlff_status tst;
        if (molecule_energies(calc, t, &f, species[k], label, mol, &es, &et, &tst))
          rc = cli_fail("eval");
        else if (tst) teacher_ok = 0; /* the teacher failed on a molecule (SCF, ...) */
        es_sum += es;
        et_sum += et;
      }
      if (!rc && !teacher_ok) {
        fprintf(stderr, "mlff eval: warning: the teacher failed on structure %d (%s): %s; left "
                "out of the interaction energies\n", s->index, s->source, mlff_last_error());
        ia->n_teacher_failed++;
      } else if (!rc) {
        double eis = s->e_model - es_sum, eit = etc - et_sum;
        iaccum_add(&ia->all, eis - eit, eit, n_mol);
        for (int g = 0; g < n_tags; g++)
          if (!strcmp(tags[g], s->source)) iaccum_add(&ia->by_tag[g], eis - eit, eit, n_mol);
        ia->label_dev_sum += fabs(s->e_ref - etc) / f.n_atoms;
      }
    }
    free(label);
    free(F);
  }
  mlff_teacher_free(t);
  return rc;
}

static void json_iaccum(FILE *f, const char *ind, const iaccum *a) {
  char in2[32];
  snprintf(in2, sizeof in2, "%s  ", ind);
  fprintf(f, "{\n");
  jkey(f, in2, "n_clusters"), fprintf(f, "%ld,\n", a->n);
  double n = (double)a->n;
  jkey(f, in2, "interaction_mae_meV_per_cluster"), jnum(f, 1000 * a->abs / n), fputs(",\n", f);
  jkey(f, in2, "interaction_rmse_meV_per_cluster"), jnum(f, 1000 * sqrt(a->sq / n)), fputs(",\n", f);
  jkey(f, in2, "interaction_mean_error_meV_per_cluster"), jnum(f, 1000 * a->sum / n),
      fputs(",\n", f);
  jkey(f, in2, "teacher_mean_interaction_meV_per_cluster"), jnum(f, 1000 * a->teacher_sum / n),
      fputs(",\n", f);
  jkey(f, in2, "interaction_mae_meV_per_molecule"), jnum(f, 1000 * a->abs_pm / n), fputs(",\n", f);
  jkey(f, in2, "interaction_mean_error_meV_per_molecule"), jnum(f, 1000 * a->sum_pm / n),
      fputs(",\n", f);
  jkey(f, in2, "teacher_mean_interaction_meV_per_molecule"), jnum(f, 1000 * a->teacher_pm / n),
      fprintf(f, "\n%s}", ind);
}

/* ---- dataset evaluation ------------------------------------------------------------------- */

static const char *device_word(mlff_device d) {
  return d == MLFF_DEVICE_GPU ? "gpu" : d == MLFF_DEVICE_AUTO ? "auto" : "cpu";
}

/* The student's calculator on the device and precision asked for; a refusal names the options
 * (the core's message speaks pair_style's words: "fp16 yes", "device cpu"). */
int make_calc(const mlff_model *m, const options *o, mlff_calc **calc) {
  mlff_calc_options co;
  mlff_calc_options_default(&co);
  co.device = o->device;
  co.fp16 = o->fp16;
  co.n_threads = (int)o->threads;
  if (mlff_calc_create(m, &co, calc)) {
    fprintf(stderr, "mlff eval: --device %s --fp16 %s: %s\n", device_word(o->device),
            o->fp16 ? "yes" : "no", mlff_last_error());
    return 1;
  }
  return 0;
}

static int cmp_worst(const void *a, const void *b) {
  const serr *x = *(const serr *const *)a, *y = *(const serr *const *)b;
  double rx = x->f_sq / (3.0 * x->n_atoms), ry = y->f_sq / (3.0 * y->n_atoms);
  if (rx != ry) return rx < ry ? 1 : -1;
  return x->index - y->index;
}

/* Is tag one of the comma-separated list? */
static int in_list(const char *list, const char *tag) {
  size_t tl = strlen(tag);
  for (const char *p = list;;) {
    const char *c = strchr(p, ',');
    size_t l = c ? (size_t)(c - p) : strlen(p);
    if (l == tl && !strncmp(p, tag, l)) return 1;
    if (!c) return 0;
    p = c + 1;
  }
}

static int eval_dataset(const options *o) {
  mlff_model *m = NULL;
  mlff_dataset *d = NULL;
  mlff_calc *calc = NULL;
  int *sel = NULL, *split_idx = NULL, n_sel = 0, rc = 1;
  int **species = NULL;
  serr *errs = NULL;
  const char **tags = NULL;
  accum *by_tag = NULL, *by_el = NULL;
  interaction ia = {0};
  FILE *jf = NULL;
  const char *split_desc = NULL;

  if (mlff_model_load(o->model_path, &m) || mlff_dataset_load(o->data_path, &d)) {
    rc = cli_fail("eval");
    goto out;
  }
  int n = mlff_dataset_size(d);
  if (n == 0) {
    fprintf(stderr, "mlff eval: %s holds no structures\n", o->data_path);
    goto out;
  }

  /* which structures: the split */
  const char *summary = mlff_model_attr(m, "training_summary");
  const char *want = o->split ? o->split : "test";
  int n_split = 0, has = 0;
  if (!o->split || strcmp(o->split, "all")) {
    if (mlff_training_split(m, want, &has, &split_idx, &n_split)) {
      fprintf(stderr, "mlff eval: %s: %s\n", o->model_path, mlff_last_error());
      goto out;
    }
    if (!has && o->split) {
      fprintf(stderr,
              "mlff eval: %s records no train/valid/test split (%s), so --split %s cannot be "
              "honoured; use --split all to evaluate every structure of %s\n",
              o->model_path,
              *summary ? "its training_summary has no \"split\"" : "it has no training_summary",
              o->split, o->data_path);
      goto out;
    }
  }
  int use_split = has > 0;
  char split_note[512] = "";
  if (use_split) {
    const char *model_sha = mlff_model_attr(m, "dataset_sha256");
    char sha[65];
    if (*model_sha) {
      if (mlff_file_sha256(o->data_path, sha)) {
        rc = cli_fail("eval");
        goto out;
      }
      if (strcmp(sha, model_sha)) {
        if (o->split) {
          fprintf(stderr,
                  "mlff eval: %s was trained on another dataset (sha256 %.12s...) than %s (sha256 "
                  "%.12s...): its recorded split does not apply; use --split all\n",
                  o->model_path, model_sha, o->data_path, sha);
          goto out;
        }
        use_split = 0;
        snprintf(split_note, sizeof split_note,
                 "the model was trained on another dataset (sha256 %.12s... vs %.12s...), so its "
                 "recorded split does not apply", model_sha, sha);
      }
    }
  } else if (!o->split) {
    snprintf(split_note, sizeof split_note, "the model records no train/valid/test split");
  }
  sel = malloc((size_t)n * sizeof *sel);
  if (!sel) {
    rc = fail_msg("out of memory");
    goto out;
  }
  if (use_split) {
    if (n_split == 0) {
      fprintf(stderr, "mlff eval: the %s split recorded in %s is empty: nothing to evaluate\n",
              want, o->model_path);
      goto out;
    }
    for (int k = 0; k < n_split; k++)
      if (split_idx[k] >= n) {
        fprintf(stderr,
                "mlff eval: the %s split recorded in %s names structure %d, but %s holds %d "
                "structures (0..%d)\n", want, o->model_path, split_idx[k], o->data_path, n, n - 1);
        goto out;
      }
    split_desc = want;
  } else {
    split_desc = "all";
  }

  /* ... and the source tags */
  int n_cand = use_split ? n_split : n;
  for (int k = 0; k < n_cand; k++) {
    int i = use_split ? split_idx[k] : k;
    mlff_frame f;
    const char *src;
    if (mlff_dataset_get(d, i, &f, &src)) {
      rc = cli_fail("eval");
      goto out;
    }
    if (o->sources && !in_list(o->sources, src ? src : "")) continue;
    sel[n_sel++] = i;
  }
  if (o->sources) { /* warn about tags that select nothing (typos) */
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", o->sources);
    for (char *p = strtok(buf, ","); p; p = strtok(NULL, ",")) {
      int found = 0;
      for (int k = 0; k < n_sel && !found; k++) {
        mlff_frame f;
        const char *src;
        mlff_dataset_get(d, sel[k], &f, &src);
        found = !strcmp(src ? src : "", p);
      }
      if (!found)
        fprintf(stderr, "mlff eval: warning: --sources: no structure of the selection (%s) has "
                "source '%s'\n", split_desc, p);
    }
  }
  if (n_sel == 0) {
    fprintf(stderr, "mlff eval: no structure to evaluate: no structure of %s%s has a source "
            "tag in '%s'\n", use_split ? "the model's split " : "the dataset",
            use_split ? split_desc : "", o->sources ? o->sources : "");
    goto out;
  }

  /* species of every selected structure; an element the model lacks is an error */
  species = calloc((size_t)n_sel, sizeof *species);
  errs = calloc((size_t)n_sel, sizeof *errs);
  tags = calloc((size_t)n_sel, sizeof *tags);
  by_tag = calloc((size_t)n_sel, sizeof *by_tag);
  int ne = mlff_model_n_elements(m);
  by_el = calloc((size_t)ne, sizeof *by_el);
  if (!species || !errs || !tags || !by_tag || !by_el) {
    rc = fail_msg("out of memory");
    goto out;
  }
  long total_atoms = 0;
  for (int k = 0; k < n_sel; k++) {
    mlff_frame f;
    const char *src;
    mlff_dataset_get(d, sel[k], &f, &src);
    species[k] = malloc((size_t)(f.n_atoms > 0 ? f.n_atoms : 1) * sizeof **species);
    if (!species[k]) {
      rc = fail_msg("out of memory");
      goto out;
    }
    if (mlff_frame_species(m, &f, species[k])) {
      fprintf(stderr, "mlff eval: %s, structure %d (source '%s'): %s\n", o->data_path, sel[k],
              src ? src : "", mlff_last_error());
      goto out;
    }
    errs[k].index = sel[k];
    errs[k].source = src ? src : "";
    errs[k].n_atoms = f.n_atoms;
    errs[k].e_ref = f.energy;
    total_atoms += f.n_atoms;
  }

  /* evaluate in batches (one call per batch; the core threads over its atoms) */
  if (make_calc(m, o, &calc)) goto out;
  FILE *pf = NULL;
  if (o->pred_path && !(pf = fopen(o->pred_path, "w"))) {
    fprintf(stderr, "mlff eval: cannot write '%s': %s\n", o->pred_path, strerror(errno));
    goto out;
  }
  if (pf)
    fprintf(pf, "# mlff eval --predictions: model %s, dataset %s, device %s, fp16 %s\n"
            "# index n_atoms energy_eV then fx fy fz (eV/A) of every atom\n",
            o->model_path, o->data_path, mlff_calc_device(calc) == MLFF_DEVICE_GPU ? "gpu" : "cpu",
            o->fp16 ? "yes" : "no");
  {
    enum { MAX_BATCH = 256, MAX_BATCH_ATOMS = 20000 };
    mlff_structure st[MAX_BATCH];
    mlff_frame fr[MAX_BATCH]; /* live for the whole batch: st[b].cell points into fr[b] */
    mlff_result res[MAX_BATCH];
    double *F = malloc((size_t)(total_atoms > 0 ? total_atoms : 1) * 3 * sizeof *F);
    if (!F) {
      rc = fail_msg("out of memory");
      goto out;
    }
    for (int k0 = 0; k0 < n_sel;) {
      int nb = 0;
      long atoms = 0;
      double *Fp = F;
      while (k0 + nb < n_sel && nb < MAX_BATCH &&
             (nb == 0 || atoms + errs[k0 + nb].n_atoms <= MAX_BATCH_ATOMS)) {
        int k = k0 + nb;
        const char *src;
        mlff_dataset_get(d, sel[k], &fr[nb], &src);
        st[nb] = mlff_frame_structure(&fr[nb], species[k]);
        memset(&res[nb], 0, sizeof res[nb]);
        res[nb].forces = Fp;
        Fp += 3 * fr[nb].n_atoms;
        atoms += fr[nb].n_atoms;
        nb++;
      }
      if (mlff_compute_batch(calc, nb, st, res)) {
        free(F);
        if (pf) fclose(pf);
        fprintf(stderr, "mlff eval: %s, structures %d..: %s\n", o->data_path, sel[k0],
                mlff_last_error());
        goto out;
      }
      for (int b = 0; b < nb; b++) {
        int k = k0 + b;
        mlff_frame f;
        const char *src;
        mlff_dataset_get(d, sel[k], &f, &src);
        serr *s = &errs[k];
        s->e_model = res[b].energy;
        s->devi_max = res[b].max_force_deviation;
        if (pf) {
          fprintf(pf, "%d %d %.12g", sel[k], f.n_atoms, res[b].energy);
          for (int i = 0; i < 3 * f.n_atoms; i++) fprintf(pf, " %.9g", res[b].forces[i]);
          fputc('\n', pf);
        }
        for (int i = 0; i < f.n_atoms; i++) {
          accum *ea = &by_el[species[k][i]];
          ea->n_atoms++;
          for (int c = 0; c < 3; c++) {
            double df = res[b].forces[3 * i + c] - f.forces[3 * i + c];
            s->f_abs += fabs(df);
            s->f_sq += df * df;
            if (fabs(df) > s->f_max) s->f_max = fabs(df);
            ea->f_abs += fabs(df);
            ea->f_sq += df * df;
            if (fabs(df) > ea->f_max) ea->f_max = fabs(df);
          }
        }
      }
      k0 += nb;
    }
    free(F);
    if (pf && (ferror(pf) | fclose(pf))) {
      fprintf(stderr, "mlff eval: error writing '%s'\n", o->pred_path);
      goto out;
    }
  }

  /* sums: overall, per source tag (in order of first appearance) */
  accum all = {0};
  int n_tags = 0;
  for (int k = 0; k < n_sel; k++) {
    accum_add(&all, &errs[k]);
    int g = 0;
    while (g < n_tags && strcmp(tags[g], errs[k].source)) g++;
    if (g == n_tags) tags[n_tags++] = errs[k].source;
    accum_add(&by_tag[g], &errs[k]);
  }

  if (o->interaction &&
      run_interaction(&ia, d, calc, errs, n_sel, species, n_tags, tags)) goto out;
  ia.requested = o->interaction;

  /* worst structures */
  int n_worst = o->worst < n_sel ? (int)o->worst : n_sel;
  const serr **order = malloc((size_t)n_sel * sizeof *order);
  if (!order) {
    rc = fail_msg("out of memory");
    goto out;
  }
  for (int k = 0; k < n_sel; k++) order[k] = &errs[k];
  qsort(order, (size_t)n_sel, sizeof *order, cmp_worst);

  /* the table */
  int json_stdout = o->json_path && !strcmp(o->json_path, "-");
  FILE *out = json_stdout ? stderr : stdout;
  const char *dteacher = mlff_dataset_attr(d, "teacher");
  fprintf(out, "mlff eval: model %s against %s%s%s%s\n", o->model_path, o->data_path,
          *dteacher ? " (labels: " : "", dteacher, *dteacher ? ")" : "");
  if (mlff_calc_device(calc) == MLFF_DEVICE_GPU)
    fprintf(out, "student on the GPU: FP32 descriptors and sums, network in %s\n",
            o->fp16 ? "FP16 (tensor cores, FP32 accumulation)" : "FP32");
  if (use_split)
    fprintf(out, "structures: the %s split recorded in the model", split_desc);
  else
    fprintf(out, "structures: all of the dataset%s%s%s", *split_note ? " (" : "", split_note,
            *split_note ? ")" : "");
  if (o->sources) fprintf(out, ", sources %s", o->sources);
  fprintf(out, ": %d structures, %ld atoms\n", n_sel, all.n_atoms);
  fprintf(out,
          "errors are student minus reference; energy per atom = energy error of a structure / its\n"
          "atom count; forces component-wise over all atoms (each x, y, z is one sample)\n\n");
  fprintf(out, "  %-22s %7s %8s %9s %9s %9s %10s %9s %9s %9s\n", "", "structs", "atoms", "E MAE",
          "E RMSE", "E mean", "E MAE", "F MAE", "F RMSE", "F max");
  fprintf(out, "  %-22s %7s %8s %9s %9s %9s %10s %9s %9s %9s\n", "", "", "", "meV/atom",
          "meV/atom", "meV/atom", "meV/struct", "meV/Å", "meV/Å", "meV/Å");
  print_row(out, "all", &all, 1);
  for (int g = 0; g < n_tags; g++) {
    char label[64];
    snprintf(label, sizeof label, "source %s", *tags[g] ? tags[g] : "(none)");
    print_row(out, label, &by_tag[g], 1);
  }
  for (int e = 0; e < ne; e++) {
    if (!by_el[e].n_atoms) continue;
    char label[64];
    snprintf(label, sizeof label, "element %s", mlff_model_element(m, e));
    print_row(out, label, &by_el[e], 0);
  }
  if (n_worst > 0) {
    fprintf(out, "\n%d structure%s of largest force RMSE:\n", n_worst, n_worst == 1 ? "" : "s");
    fprintf(out, "  %8s %-16s %6s %12s %12s %10s %10s\n", "index", "source", "atoms",
            "dE (meV)", "dE meV/atom", "F MAE", "F RMSE");
    for (int k = 0; k < n_worst; k++) {
      const serr *s = order[k];
      double de = s->e_model - s->e_ref;
      fprintf(out, "  %8d %-16s %6d %+12.3f %+12.3f %10.3f %10.3f\n", s->index,
              *s->source ? s->source : "(none)", s->n_atoms, 1000 * de, 1000 * de / s->n_atoms,
              1000 * s->f_abs / (3.0 * s->n_atoms), 1000 * sqrt(s->f_sq / (3.0 * s->n_atoms)));
    }
  }
  if (ia.requested) {
    fprintf(out, "\ninteraction energies E(cluster) - sum E(molecules), student minus teacher:\n");
    if (ia.skipped) {
      fprintf(out, "  skipped: interaction energies need the teacher (GFN2-xTB), and this build "
              "of libmlff has no libxtb\n");
    } else {
      fprintf(out, "  teacher %s; molecules: atoms closer than %.1f Å bonded\n", ia.teacher,
              BOND_CUTOFF);
      if (ia.all.n == 0) {
        fprintf(out, "  no cluster in the selection (sources containing dimer, trimer, tetramer, "
                "cluster, droplet, liquid or relaxed)\n");
      } else {
        fprintf(out, "  %-22s %8s %12s %12s %12s %14s %12s %14s\n", "", "clusters", "MAE", "RMSE",
                "mean error", "teacher mean", "MAE", "teacher mean");
        fprintf(out, "  %-22s %8s %12s %12s %12s %14s %12s %14s\n", "", "", "meV/cluster",
                "meV/cluster", "meV/cluster", "E_int meV", "meV/molec.", "meV/molec.");
        for (int g = -1; g < ia.n_tags; g++) {
          const iaccum *a = g < 0 ? &ia.all : &ia.by_tag[g];
          if (!a->n) continue;
          char label[64];
          if (g < 0) snprintf(label, sizeof label, "all clusters");
          else snprintf(label, sizeof label, "source %s", ia.tags[g]);
          double nn = (double)a->n;
          fprintf(out, "  %-22s %8ld %12.3f %12.3f %+12.3f %+14.3f %12.3f %+14.3f\n", label,
                  a->n, 1000 * a->abs / nn, 1000 * sqrt(a->sq / nn), 1000 * a->sum / nn,
                  1000 * a->teacher_sum / nn, 1000 * a->abs_pm / nn, 1000 * a->teacher_pm / nn);
        }
        fprintf(out, "  (negative mean error: the student over-binds.) Dataset labels vs this "
                "teacher on these clusters: mean |difference| %.3f meV/atom (~0 when the labels "
                "are this teacher's)\n", 1000 * ia.label_dev_sum / ia.all.n);
      }
      if (ia.n_periodic || ia.n_single || ia.n_teacher_failed)
        fprintf(out, "  left out: %ld periodic, %ld of a single molecule, %ld where the teacher "
                "failed\n", ia.n_periodic, ia.n_single, ia.n_teacher_failed);
    }
  }

  const int n_members = mlff_model_committee_size(m);
  const devi_stats dv = committee_stats(errs, n_sel);
  if (n_members > 1)
    fprintf(out, "\ncommittee of %d members (figures above: their mean): largest per-atom force "
            "deviation of a structure, mean %.3f meV/Å, max %.3f meV/Å; its correlation with "
            "the structure's force RMSE %.3f\n", n_members, 1000 * dv.mean, 1000 * dv.max, dv.r);

  /* JSON */
  if (o->json_path) {
    jf = json_stdout ? stdout : fopen(o->json_path, "w");
    if (!jf) {
      fprintf(stderr, "mlff eval: cannot write '%s': %s\n", o->json_path, strerror(errno));
      free(order);
      goto out;
    }
    fprintf(jf, "{\n");
    jkey(jf, "  ", "command"), jstr(jf, "eval"), fputs(",\n", jf);
    jkey(jf, "  ", "model"), jstr(jf, o->model_path), fputs(",\n", jf);
    jkey(jf, "  ", "dataset"), jstr(jf, o->data_path), fputs(",\n", jf);
    jkey(jf, "  ", "dataset_teacher"), jstr(jf, dteacher), fputs(",\n", jf);
    jkey(jf, "  ", "device"), jstr(jf, mlff_calc_device(calc) == MLFF_DEVICE_GPU ? "gpu" : "cpu");
    fputs(",\n", jf);
    jkey(jf, "  ", "fp16"), fputs(o->fp16 ? "true" : "false", jf), fputs(",\n", jf);
    jkey(jf, "  ", "split"), jstr(jf, split_desc), fputs(",\n", jf);
    jkey(jf, "  ", "split_from_model"), fputs(use_split ? "true" : "false", jf), fputs(",\n", jf);
    jkey(jf, "  ", "split_note"), jstr(jf, split_note), fputs(",\n", jf);
    jkey(jf, "  ", "sources_filter");
    if (o->sources) jstr(jf, o->sources);
    else fputs("null", jf);
    fputs(",\n", jf);
    jkey(jf, "  ", "conventions"),
        jstr(jf, "errors are student minus reference; energies in meV per atom (structure error "
             "/ its atom count) and meV per structure; forces in meV/Å, component-wise over all "
             "atoms");
    fputs(",\n", jf);
    jkey(jf, "  ", "overall"), json_figures(jf, "  ", &all, 1), fputs(",\n", jf);
    if (n_members > 1) {
      jkey(jf, "  ", "committee"), fprintf(jf, "{\"members\": %d, ", n_members);
      fputs("\"max_force_deviation_mean_meV_per_A\": ", jf), jnum(jf, 1000 * dv.mean);
      fputs(", \"max_force_deviation_max_meV_per_A\": ", jf), jnum(jf, 1000 * dv.max);
      fputs(", \"correlation_with_force_rmse\": ", jf), jnum(jf, dv.r), fputs("},\n", jf);
    }
    jkey(jf, "  ", "by_element"), fputs("{", jf);
    int first = 1;
    for (int e = 0; e < ne; e++) {
      if (!by_el[e].n_atoms) continue;
      fputs(first ? "\n" : ",\n", jf);
      first = 0;
      jkey(jf, "    ", mlff_model_element(m, e)), json_figures(jf, "    ", &by_el[e], 0);
    }
    fputs(first ? "},\n" : "\n  },\n", jf);
    jkey(jf, "  ", "by_source"), fputs("{", jf);
    for (int g = 0; g < n_tags; g++) {
      fputs(g ? ",\n" : "\n", jf);
      jkey(jf, "    ", tags[g]), json_figures(jf, "    ", &by_tag[g], 1);
    }
    fputs(n_tags ? "\n  },\n" : "},\n", jf);
    jkey(jf, "  ", "worst_by_force_rmse"), fputs("[", jf);
    for (int k = 0; k < n_worst; k++) {
      const serr *s = order[k];
      double de = s->e_model - s->e_ref;
      fprintf(jf, "%s    {\"index\": %d, \"source\": ", k ? ",\n" : "\n", s->index);
      jstr(jf, s->source);
      fprintf(jf, ", \"n_atoms\": %d, \"energy_error_meV\": ", s->n_atoms);
      jnum(jf, 1000 * de), fputs(", \"energy_error_meV_per_atom\": ", jf);
      jnum(jf, 1000 * de / s->n_atoms), fputs(", \"force_mae_meV_per_A\": ", jf);
      jnum(jf, 1000 * s->f_abs / (3.0 * s->n_atoms)), fputs(", \"force_rmse_meV_per_A\": ", jf);
      jnum(jf, 1000 * sqrt(s->f_sq / (3.0 * s->n_atoms))), fputs(", \"force_max_abs_error_meV_per_A\": ", jf);
      jnum(jf, 1000 * s->f_max), fputs("}", jf);
    }
    fputs(n_worst ? "\n  ]" : "]", jf);
    if (ia.requested) {
      fputs(",\n", jf);
      jkey(jf, "  ", "interaction"), fputs("{\n", jf);
      if (ia.skipped) {
        jkey(jf, "    ", "skipped"),
            jstr(jf, "interaction energies need the teacher (GFN2-xTB); this build has no libxtb");
        fputs("\n  }", jf);
      } else {
        jkey(jf, "    ", "teacher"), jstr(jf, ia.teacher), fputs(",\n", jf);
        jkey(jf, "    ", "bond_cutoff_A"), jnum(jf, BOND_CUTOFF), fputs(",\n", jf);
        jkey(jf, "    ", "left_out_periodic"), fprintf(jf, "%ld,\n", ia.n_periodic);
        jkey(jf, "    ", "left_out_single_molecule"), fprintf(jf, "%ld,\n", ia.n_single);
        jkey(jf, "    ", "left_out_teacher_failed"), fprintf(jf, "%ld,\n", ia.n_teacher_failed);
        jkey(jf, "    ", "label_minus_teacher_mean_abs_meV_per_atom"),
            jnum(jf, ia.all.n ? 1000 * ia.label_dev_sum / ia.all.n : NAN), fputs(",\n", jf);
        jkey(jf, "    ", "all"), json_iaccum(jf, "    ", &ia.all), fputs(",\n", jf);
        jkey(jf, "    ", "by_source"), fputs("{", jf);
        int firsti = 1;
        for (int g = 0; g < ia.n_tags; g++) {
          if (!ia.by_tag[g].n) continue;
          fputs(firsti ? "\n" : ",\n", jf);
          firsti = 0;
          jkey(jf, "      ", ia.tags[g]), json_iaccum(jf, "      ", &ia.by_tag[g]);
        }
        fputs(firsti ? "}\n  }" : "\n    }\n  }", jf);
      }
    }
    fputs("\n}\n", jf);
    int bad = ferror(jf);
    if (!json_stdout) bad |= fclose(jf) != 0;
    else fflush(jf);
    jf = NULL;
    if (bad) {
      fprintf(stderr, "mlff eval: error writing '%s'\n", o->json_path);
      free(order);
      goto out;
    }
  }
  free(order);
  rc = 0;
out:
  if (species)
    for (int k = 0; k < n_sel; k++) free(species[k]);
  free(species);
  free(errs);
  free(tags);
  free(by_tag);
  free(by_el);
  free(ia.by_tag);
  free(sel);
  free(split_idx);
  mlff_calc_free(calc);
  mlff_dataset_free(d);
  mlff_model_free(m);
  return rc;
}

/* ---- arguments ---------------------------------------------------------------------------- */

static int run(int argc, char **argv) {
  options o = {0};
  o.worst = 5;
  o.device = MLFF_DEVICE_CPU;
  int worst_given = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int has_value = i + 1 < argc;
    if (!strcmp(a, "--json") && has_value) o.json_path = argv[++i];
    else if (!strcmp(a, "--split") && has_value) {
      o.split = argv[++i];
      if (strcmp(o.split, "test") && strcmp(o.split, "valid") && strcmp(o.split, "train") &&
          strcmp(o.split, "all"))
        return cli_usage_error("eval", USAGE, "--split must be test, valid, train or all, not '%s'",
                               o.split);
    } else if (!strcmp(a, "--sources") && has_value) {
      o.sources = argv[++i];
      if (!*o.sources || strstr(o.sources, ",,") || o.sources[0] == ',' ||
          o.sources[strlen(o.sources) - 1] == ',')
        return cli_usage_error("eval", USAGE,
                               "--sources needs a comma-separated list of source tags, not '%s'",
                               o.sources);
    } else if (!strcmp(a, "--worst") && has_value) {
      worst_given = 1;
      if (!cli_parse_count(argv[++i], &o.worst))
        return cli_usage_error("eval", USAGE, "--worst needs a non-negative integer, not '%s'",
                               argv[i]);
    } else if (!strcmp(a, "--threads") && has_value) {
      if (!cli_parse_count(argv[++i], &o.threads) || o.threads > 4096)
        return cli_usage_error("eval", USAGE, "--threads needs a number of threads, not '%s'",
                               argv[i]);
    } else if (!strcmp(a, "--device") && has_value) {
      const char *v = argv[++i];
      if (!strcmp(v, "cpu")) o.device = MLFF_DEVICE_CPU;
      else if (!strcmp(v, "gpu")) o.device = MLFF_DEVICE_GPU;
      else if (!strcmp(v, "auto")) o.device = MLFF_DEVICE_AUTO;
      else return cli_usage_error("eval", USAGE, "--device must be cpu, gpu or auto, not '%s'", v);
    } else if (!strcmp(a, "--fp16") && has_value) {
      const char *v = argv[++i];
      if (!strcmp(v, "yes")) o.fp16 = 1;
      else if (!strcmp(v, "no")) o.fp16 = 0;
      else return cli_usage_error("eval", USAGE, "--fp16 must be yes or no, not '%s'", v);
    } else if (!strcmp(a, "--predictions") && has_value) o.pred_path = argv[++i];
    else if (!strcmp(a, "--freq") && has_value) o.freq_path = argv[++i];
    else if (!strcmp(a, "--interaction")) o.interaction = 1;
    else if (a[0] == '-' && a[1])
      return cli_usage_error("eval", USAGE, "unknown option or missing value: '%s'", a);
    else if (!o.model_path) o.model_path = a;
    else if (!o.data_path) o.data_path = a;
    else return cli_usage_error("eval", USAGE, "unexpected argument '%s'", a);
  }
  if (!o.model_path) return cli_usage_error("eval", USAGE, "%s", "no model file given");
  if (o.freq_path) {
    if (o.data_path)
      return cli_usage_error("eval", USAGE,
                             "--freq takes a model and a molecule, not a dataset ('%s')",
                             o.data_path);
    if (o.split || o.sources || o.interaction || worst_given || o.pred_path)
      return cli_usage_error("eval", USAGE, "%s",
                             "--split, --sources, --worst, --interaction and --predictions apply "
                             "to a dataset, not to --freq");
    return eval_freq(&o);
  }
  if (!o.data_path)
    return cli_usage_error("eval", USAGE, "%s", "expects a model and a dataset file (or --freq)");
  return eval_dataset(&o);
}

const cli_command CMD_EVAL = {"eval", run,
                              "errors of a model against a dataset; frequencies vs the teacher",
                              USAGE, HELP};
