/* test_eval.c MLFF TMPDIR — `mlff eval` against a dataset, figure by figure.
 *
 * Two random models: the "student" under evaluation and a "labeller" whose energies and forces
 * are the dataset's labels, so every true error is known by direct mlff_compute calls. The
 * test writes the model and dataset files (also those the CLI refusal tests of CMakeLists.txt
 * read), runs the `mlff` binary with --json, and compares each figure with its own direct
 * computation to 1e-9 (relative): overall, per element, per source, the worst structures, the
 * split recorded in the model's training_summary, --sources, --threads, --json -. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../io/io_test.h" /* CHECK, CHECK_OK: report and stop */
#include "mlff_distill.h"

static const char *mlff_bin, *tmp;
static char path_buf[8][1024];
static const char *tpath(int slot, const char *name) {
  snprintf(path_buf[slot], sizeof path_buf[slot], "%s/%s", tmp, name);
  return path_buf[slot];
}

static uint64_t rng = 99;
static double urand(void) {
  rng = rng * 6364136223846793005ull + 1442695040888963407ull;
  return (rng >> 11) * 0x1.0p-53;
}

/* ---- structures ---------------------------------------------------------------------------- */

typedef struct {
  int n;
  int z[64];
  double x[192];
} geom;

static void add_atom(geom *g, int z, double x, double y, double w) {
  g->z[g->n] = z;
  g->x[3 * g->n] = x;
  g->x[3 * g->n + 1] = y;
  g->x[3 * g->n + 2] = w;
  g->n++;
}

static void add_benzene(geom *g, const double c[3], double jitter) {
  for (int k = 0; k < 12; k++) {
    double rad = k < 6 ? 1.397 : 1.397 + 1.084, a = (k % 6) * M_PI / 3;
    add_atom(g, k < 6 ? 6 : 1, c[0] + rad * cos(a) + jitter * (2 * urand() - 1),
             c[1] + rad * sin(a) + jitter * (2 * urand() - 1), c[2] + jitter * (2 * urand() - 1));
  }
}

static void add_methane(geom *g, const double c[3], double jitter) {
  double t = 1.09 / sqrt(3.0);
  double v[5][3] = {{0, 0, 0}, {t, t, t}, {t, -t, -t}, {-t, t, -t}, {-t, -t, t}};
  for (int k = 0; k < 5; k++)
    add_atom(g, k ? 1 : 6, c[0] + v[k][0] + jitter * (2 * urand() - 1),
             c[1] + v[k][1] + jitter * (2 * urand() - 1), c[2] + v[k][2] + jitter * (2 * urand() - 1));
}

static mlff_model *make_model(uint64_t seed) {
  static const char *const el[] = {"H", "C"};
  int hidden[3] = {32, 24, 16};
  mlff_model_spec spec = {0};
  spec.n_elements = 2;
  spec.elements = el;
  spec.n_hidden = 3;
  spec.hidden = hidden;
  spec.activation = MLFF_ACT_SILU;
  mlff_descriptor_params_ani1x(&spec.descriptor);
  spec.seed = seed;
  mlff_model *m;
  CHECK_OK(mlff_model_create(&spec, &m));
  return m;
}

/* Label g with the labeller and add it to d. */
/* Label g with the labeller and add it to d; periodic in a cubic box of side `box` (0: open). */
static void add_labelled_in(mlff_dataset *d, mlff_calc *labeller, const mlff_model *lm,
                            const geom *g, const char *source, double box) {
  int sp[64];
  double F[192];
  mlff_frame f = {0};
  f.n_atoms = g->n;
  f.atomic_numbers = (int *)g->z;
  f.positions = (double *)g->x;
  if (box > 0) {
    f.has_cell = 1;
    f.cell[0] = f.cell[4] = f.cell[8] = box;
    f.pbc[0] = f.pbc[1] = f.pbc[2] = 1;
  }
  CHECK_OK(mlff_frame_species(lm, &f, sp));
  mlff_structure s = mlff_frame_structure(&f, sp);
  mlff_result r = {0};
  r.forces = F;
  CHECK_OK(mlff_compute(labeller, &s, &r));
  f.energy = r.energy;
  f.forces = F;
  f.has_energy = f.has_forces = 1;
  CHECK_OK(mlff_dataset_add(d, &f, source));
}

static void add_labelled(mlff_dataset *d, mlff_calc *labeller, const mlff_model *lm,
                         const geom *g, const char *source) {
  add_labelled_in(d, labeller, lm, g, source, 0.0);
}

/* ---- the direct computation ------------------------------------------------------------- */

typedef struct {
  long n_struct, n_atoms;
  double e_mae_pa, e_rmse_pa, e_me_pa, e_mae, e_rmse, f_mae, f_rmse, f_max;
  double el_mae[2], el_rmse[2]; /* H, C */
  long el_atoms[2];
  int worst[3];                 /* indices of the 3 largest per-structure force RMSEs */
} direct;

/* Errors of model m on the structures idx[0..n) of d whose source is in `sources` (NULL: any). */
static direct compute_direct(const mlff_model *m, const mlff_dataset *d, const int *idx, int n,
                             const char *const *sources) {
  mlff_calc *c;
  CHECK_OK(mlff_calc_create(m, NULL, &c));
  direct r;
  memset(&r, 0, sizeof r);
  double ea = 0, es = 0, esum = 0, eabs = 0, esq = 0, fa = 0, fs = 0, ela[2] = {0}, els[2] = {0};
  double rmse_of[512];
  int which[512], nw = 0;
  for (int k = 0; k < n; k++) {
    mlff_frame f;
    const char *src;
    CHECK_OK(mlff_dataset_get(d, idx[k], &f, &src));
    if (sources) {
      int ok = 0;
      for (int q = 0; sources[q]; q++) ok |= !strcmp(sources[q], src);
      if (!ok) continue;
    }
    int sp[64];
    double F[192];
    CHECK_OK(mlff_frame_species(m, &f, sp));
    mlff_structure s = mlff_frame_structure(&f, sp);
    mlff_result res = {0};
    res.forces = F;
    CHECK_OK(mlff_compute(c, &s, &res));
    double de = res.energy - f.energy;
    r.n_struct++;
    r.n_atoms += f.n_atoms;
    ea += fabs(de / f.n_atoms);
    es += (de / f.n_atoms) * (de / f.n_atoms);
    esum += de / f.n_atoms;
    eabs += fabs(de);
    esq += de * de;
    double s2 = 0;
    for (int i = 0; i < f.n_atoms; i++)
      for (int q = 0; q < 3; q++) {
        double df = F[3 * i + q] - f.forces[3 * i + q];
        fa += fabs(df);
        fs += df * df;
        s2 += df * df;
        ela[sp[i]] += fabs(df);
        els[sp[i]] += df * df;
        if (fabs(df) > r.f_max) r.f_max = fabs(df);
      }
    for (int i = 0; i < f.n_atoms; i++) r.el_atoms[sp[i]]++;
    rmse_of[nw] = sqrt(s2 / (3.0 * f.n_atoms));
    which[nw++] = idx[k];
  }
  double ns = (double)r.n_struct, nc = 3.0 * r.n_atoms;
  r.e_mae_pa = 1000 * ea / ns;
  r.e_rmse_pa = 1000 * sqrt(es / ns);
  r.e_me_pa = 1000 * esum / ns;
  r.e_mae = 1000 * eabs / ns;
  r.e_rmse = 1000 * sqrt(esq / ns);
  r.f_mae = 1000 * fa / nc;
  r.f_rmse = 1000 * sqrt(fs / nc);
  r.f_max *= 1000;
  for (int e = 0; e < 2; e++) {
    r.el_mae[e] = 1000 * ela[e] / (3.0 * r.el_atoms[e]);
    r.el_rmse[e] = 1000 * sqrt(els[e] / (3.0 * r.el_atoms[e]));
  }
  for (int w = 0; w < 3; w++) { /* selection of the three largest */
    int best = -1;
    for (int k = 0; k < nw; k++)
      if (which[k] >= 0 && (best < 0 || rmse_of[k] > rmse_of[best])) best = k;
    r.worst[w] = best >= 0 ? which[best] : -1;
    if (best >= 0) which[best] = -1 - which[best];
  }
  mlff_calc_free(c);
  return r;
}

/* ---- running the CLI and reading its JSON ---------------------------------------------- */

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  char *b = malloc((size_t)n + 1);
  CHECK(b && fread(b, 1, (size_t)n, f) == (size_t)n);
  b[n] = 0;
  fclose(f);
  return b;
}

/* Run `mlff eval ARGS --json OUT`; returns the JSON text (exit status must be 0). */
static char *run_eval(const char *args) {
  char cmd[8192];
  const char *out = tpath(7, "eval_out.json");
  remove(out);
  snprintf(cmd, sizeof cmd, "'%s' eval %s --json '%s' > '%s/eval_out.txt' 2>&1", mlff_bin, args,
           out, tmp);
  int rc = system(cmd);
  if (rc != 0) {
    char lp[1100];
    snprintf(lp, sizeof lp, "%s/eval_out.txt", tmp);
    char *log = slurp(lp);
    printf("command failed (status %d): %s\n%s\n", rc, cmd, log ? log : "");
    exit(1);
  }
  char *j = slurp(out);
  CHECK(j != NULL);
  return j;
}

/* The number after the last key of a path of keys, each searched after the previous one. */
static double jget(const char *json, const char *const *keys) {
  const char *p = json;
  for (int k = 0; keys[k]; k++) {
    char pat[256];
    snprintf(pat, sizeof pat, "\"%s\":", keys[k]);
    p = strstr(p, pat);
    if (!p) {
      printf("JSON lacks key path element \"%s\":\n%s\n", keys[k], json);
      exit(1);
    }
    p += strlen(pat);
  }
  char *end;
  double v = strtod(p, &end);
  if (end == p) {
    printf("JSON: no number after \"%s\"\n", keys[0]);
    exit(1);
  }
  return v;
}
#define J(json, ...) jget(json, (const char *const[]){__VA_ARGS__, NULL})

static int n_checked;
static void close_to(double got, double want, const char *what) {
  n_checked++;
  if (!(fabs(got - want) <= 1e-9 * fmax(1.0, fabs(want)))) {
    printf("%s: mlff eval says %.17g, direct computation %.17g (diff %.3g)\n", what, got, want,
           fabs(got - want));
    exit(1);
  }
}

/* Compare a figures block ("overall" or by_source's tag) with the direct computation. */
static void check_block(const char *json, const char *k1, const char *k2, const direct *d) {
  char what[128];
#define CMP(key, val)                                                          \
  snprintf(what, sizeof what, "%s%s%s %s", k1, k2 ? "/" : "", k2 ? k2 : "", key);   \
  close_to(k2 ? J(json, k1, k2, key) : J(json, k1, key), val, what)
  CMP("n_structures", (double)d->n_struct);
  CMP("n_atoms", (double)d->n_atoms);
  CMP("energy_mae_meV_per_atom", d->e_mae_pa);
  CMP("energy_rmse_meV_per_atom", d->e_rmse_pa);
  CMP("energy_mean_error_meV_per_atom", d->e_me_pa);
  CMP("energy_mae_meV_per_structure", d->e_mae);
  CMP("energy_rmse_meV_per_structure", d->e_rmse);
  CMP("force_mae_meV_per_A", d->f_mae);
  CMP("force_rmse_meV_per_A", d->f_rmse);
  CMP("force_max_abs_error_meV_per_A", d->f_max);
#undef CMP
}

static void check_elements(const char *json, const direct *d) {
  close_to(J(json, "by_element", "H", "n_atoms"), (double)d->el_atoms[0], "by_element H n_atoms");
  close_to(J(json, "by_element", "H", "force_mae_meV_per_A"), d->el_mae[0], "H force MAE");
  close_to(J(json, "by_element", "H", "force_rmse_meV_per_A"), d->el_rmse[0], "H force RMSE");
  close_to(J(json, "by_element", "C", "n_atoms"), (double)d->el_atoms[1], "by_element C n_atoms");
  close_to(J(json, "by_element", "C", "force_mae_meV_per_A"), d->el_mae[1], "C force MAE");
  close_to(J(json, "by_element", "C", "force_rmse_meV_per_A"), d->el_rmse[1], "C force RMSE");
}

static void write_model_with_summary(const char *src, const char *dst, const char *summary,
                                     const char *sha) {
  mlff_model *m;
  CHECK_OK(mlff_model_load(src, &m));
  CHECK_OK(mlff_model_set_attr(m, "training_summary", summary));
  if (sha) CHECK_OK(mlff_model_set_attr(m, "dataset_sha256", sha));
  CHECK_OK(mlff_model_save(m, dst));
  mlff_model_free(m);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: test_eval MLFF_BINARY TMPDIR\n");
    return 2;
  }
  mlff_bin = argv[1];
  tmp = argv[2];

  /* models and data */
  mlff_model *student = make_model(11), *labeller = make_model(22);
  CHECK_OK(mlff_model_set_attr(student, "teacher", "test labeller"));
  CHECK_OK(mlff_model_save(student, tpath(0, "student.h5")));
  mlff_calc *lc;
  CHECK_OK(mlff_calc_create(labeller, NULL, &lc));
  mlff_dataset *d;
  CHECK_OK(mlff_dataset_create(&d));
  CHECK_OK(mlff_dataset_set_attr(d, "teacher", "random mlff model (seed 22)"));
  const double origin[3] = {0, 0, 0};
  for (int k = 0; k < 5; k++) { /* 0..4 */
    geom g = {0};
    add_benzene(&g, origin, 0.10);
    add_labelled(d, lc, labeller, &g, "md300");
  }
  for (int k = 0; k < 3; k++) { /* 5..7 */
    geom g = {0};
    add_benzene(&g, origin, 0.04);
    add_labelled(d, lc, labeller, &g, "normal_modes");
  }
  for (int k = 0; k < 3; k++) { /* 8..10: two benzenes 3.6-4.5 Å apart */
    geom g = {0};
    double c1[3] = {0.8 * urand(), 0.8 * urand(), 3.6 + 0.9 * urand()};
    add_benzene(&g, origin, 0.05);
    add_benzene(&g, c1, 0.05);
    add_labelled(d, lc, labeller, &g, "dimer");
  }
  { /* 11 */
    geom g = {0};
    add_methane(&g, origin, 0.05);
    add_labelled(d, lc, labeller, &g, "small");
  }
  const char *data = tpath(1, "data.h5");
  CHECK_OK(mlff_dataset_save(d, data));
  mlff_dataset_free(d);

  /* a dataset with an element the models lack (O), for the refusal test */
  {
    mlff_dataset *dO;
    CHECK_OK(mlff_dataset_create(&dO));
    geom g = {0};
    add_benzene(&g, origin, 0.05);
    add_labelled(dO, lc, labeller, &g, "md300");
    mlff_frame f = {0};
    int z[3] = {8, 1, 1};
    double x[9] = {0, 0, 0, 0.96, 0, 0, -0.24, 0.93, 0}, F[9] = {0};
    f.n_atoms = 3, f.atomic_numbers = z, f.positions = x, f.forces = F;
    f.has_energy = f.has_forces = 1;
    f.energy = -2000;
    CHECK_OK(mlff_dataset_add(dO, &f, "water"));
    CHECK_OK(mlff_dataset_save(dO, tpath(2, "data_O.h5")));
    mlff_dataset_free(dO);
  }
  mlff_calc_free(lc);
  mlff_model_free(labeller);
  mlff_model_free(student);

  /* the direct computation reads the files as the CLI does */
  mlff_model *m;
  mlff_dataset *dl;
  CHECK_OK(mlff_model_load(tpath(0, "student.h5"), &m));
  CHECK_OK(mlff_dataset_load(data, &dl));
  int n = mlff_dataset_size(dl);
  CHECK(n == 12);
  int all[12];
  for (int i = 0; i < n; i++) all[i] = i;

  char args[4096];
  /* 1. every structure: overall, per element, per source, worst */
  snprintf(args, sizeof args, "'%s' '%s' --split all --worst 3", tpath(0, "student.h5"), data);
  char *j = run_eval(args);
  direct da = compute_direct(m, dl, all, n, NULL);
  check_block(j, "overall", NULL, &da);
  check_elements(j, &da);
  static const char *const tags[] = {"md300", "normal_modes", "dimer", "small"};
  for (int t = 0; t < 4; t++) {
    const char *only[] = {tags[t], NULL};
    direct dt = compute_direct(m, dl, all, n, only);
    check_block(j, "by_source", tags[t], &dt);
  }
  for (int w = 0; w < 3; w++) { /* the k-th "index" after worst_by_force_rmse */
    const char *p = strstr(j, "\"worst_by_force_rmse\"");
    CHECK(p);
    for (int q = 0; q <= w; q++) {
      p = strstr(p + 1, "\"index\":");
      CHECK(p);
    }
    close_to(strtod(p + 8, NULL), da.worst[w], "worst structure index");
  }
  {
    int count = 0;
    for (const char *p = strstr(j, "\"worst_by_force_rmse\""); (p = strstr(p + 1, "\"index\":"));)
      count++;
    CHECK(count == 3);
  }
  free(j);

  /* 2. no --split, a model without a recorded split: every structure */
  snprintf(args, sizeof args, "'%s' '%s'", tpath(0, "student.h5"), data);
  j = run_eval(args);
  check_block(j, "overall", NULL, &da);
  CHECK(strstr(j, "\"split\": \"all\""));
  CHECK(strstr(j, "\"split_from_model\": false"));
  free(j);

  /* 3. the split recorded in the model (dataset_sha256 matches) */
  char sha[65];
  CHECK_OK(mlff_file_sha256(data, sha));
  const char *summary =
      "{\"options\": {\"seed\": 1, \"split_seed\": \"x\", \"valid_fraction\": 0.2},"
      " \"split\": {\"train\": [0, 1, 2, 3, 5, 8], \"valid\": [4, 9],\n"
      "  \"test\": [6, 7, 10, 11]}, \"epochs\": [{\"test\": [99]}]}";
  write_model_with_summary(tpath(0, "student.h5"), tpath(3, "student_split.h5"), summary, sha);
  int test_idx[] = {6, 7, 10, 11}, valid_idx[] = {4, 9}, train_idx[] = {0, 1, 2, 3, 5, 8};
  direct dtest = compute_direct(m, dl, test_idx, 4, NULL);
  snprintf(args, sizeof args, "'%s' '%s'", tpath(3, "student_split.h5"), data);
  j = run_eval(args); /* default: the test split */
  check_block(j, "overall", NULL, &dtest);
  check_elements(j, &dtest);
  CHECK(strstr(j, "\"split\": \"test\"") && strstr(j, "\"split_from_model\": true"));
  free(j);
  snprintf(args, sizeof args, "'%s' '%s' --split valid", tpath(3, "student_split.h5"), data);
  j = run_eval(args);
  direct dvalid = compute_direct(m, dl, valid_idx, 2, NULL);
  check_block(j, "overall", NULL, &dvalid);
  free(j);
  snprintf(args, sizeof args, "'%s' '%s' --split train --threads 2", tpath(3, "student_split.h5"),
           data);
  j = run_eval(args);
  direct dtrain = compute_direct(m, dl, train_idx, 6, NULL);
  check_block(j, "overall", NULL, &dtrain);
  free(j);
  snprintf(args, sizeof args, "'%s' '%s' --split all", tpath(3, "student_split.h5"), data);
  j = run_eval(args);
  check_block(j, "overall", NULL, &da);
  free(j);

  /* 4. --sources within a split and within everything */
  snprintf(args, sizeof args, "'%s' '%s' --split all --sources dimer,small",
           tpath(3, "student_split.h5"), data);
  j = run_eval(args);
  {
    const char *only[] = {"dimer", "small", NULL};
    direct ds = compute_direct(m, dl, all, n, only);
    check_block(j, "overall", NULL, &ds);
    CHECK(!strstr(j, "\"md300\""));
  }
  free(j);
  snprintf(args, sizeof args, "'%s' '%s' --sources dimer", tpath(3, "student_split.h5"), data);
  j = run_eval(args); /* test split: only structure 10 is a dimer */
  {
    const char *only[] = {"dimer", NULL};
    direct ds = compute_direct(m, dl, test_idx, 4, only);
    CHECK(ds.n_struct == 1);
    check_block(j, "overall", NULL, &ds);
  }
  free(j);

  /* 5. a model trained on another dataset: its split does not apply, default is all */
  write_model_with_summary(tpath(0, "student.h5"), tpath(4, "student_otherdata.h5"), summary,
                           "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  snprintf(args, sizeof args, "'%s' '%s'", tpath(4, "student_otherdata.h5"), data);
  j = run_eval(args);
  check_block(j, "overall", NULL, &da);
  CHECK(strstr(j, "trained on another dataset"));
  free(j);
  /* (an empty test split, for the refusal test of CMakeLists.txt) */
  write_model_with_summary(tpath(0, "student.h5"), tpath(5, "student_emptysplit.h5"),
                           "{\"split\": {\"train\": [0,1], \"valid\": [2], \"test\": []}}", sha);

  /* 6. --interaction: clusters against the teacher, or a clear skip without libxtb */
  snprintf(args, sizeof args, "'%s' '%s' --split all --interaction --worst 0",
           tpath(0, "student.h5"), data);
  j = run_eval(args);
  check_block(j, "overall", NULL, &da);
  CHECK(strstr(j, "\"worst_by_force_rmse\": []"));
  CHECK(strstr(j, "\"interaction\""));
  if (strstr(j, "\"skipped\"")) {
    printf("interaction energies: skipped (no teacher in this build)\n");
  } else {
    close_to(J(j, "interaction", "all", "n_clusters"), 3, "interaction clusters");
    close_to(J(j, "interaction", "by_source", "dimer", "n_clusters"), 3, "dimer clusters");
    CHECK(isfinite(J(j, "interaction", "all", "interaction_mae_meV_per_cluster")));
    /* dimers: two molecules a cluster, so per molecule is half per cluster */
    close_to(J(j, "interaction", "all", "interaction_mae_meV_per_molecule"),
             0.5 * J(j, "interaction", "all", "interaction_mae_meV_per_cluster"),
             "interaction MAE per molecule of dimers");
  }
  free(j);

  /* 7. --json -: stdout is the JSON alone (the table goes to stderr) */
  {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' eval '%s' '%s' --split all --json - 2>/dev/null", mlff_bin,
             tpath(0, "student.h5"), data);
    FILE *p = popen(cmd, "r");
    CHECK(p);
    static char buf[1 << 16];
    size_t len = fread(buf, 1, sizeof buf - 1, p);
    buf[len] = 0;
    CHECK(pclose(p) == 0);
    CHECK(buf[0] == '{' && buf[len - 2] == '}');
    check_block(buf, "overall", NULL, &da);
  }

  /* 8. periodic structures of different cells evaluated in one batch: each with its own cell
   * (the batch once kept a view of a frame that went out of scope, so all took the last's). */
  {
    mlff_model *lab = make_model(22);
    mlff_calc *lc2;
    CHECK_OK(mlff_calc_create(lab, NULL, &lc2));
    mlff_dataset *db;
    CHECK_OK(mlff_dataset_create(&db));
    CHECK_OK(mlff_dataset_set_attr(db, "teacher", "random mlff model (seed 22)"));
    for (int k = 0; k < 3; k++) { /* boxes of 4.5, 5 and 5.5 Å: the images are within cutoff */
      geom g = {0};
      add_methane(&g, origin, 0.05);
      add_labelled_in(db, lc2, lab, &g, "box", 4.5 + 0.5 * k);
    }
    CHECK_OK(mlff_dataset_save(db, tpath(6, "data_boxes.h5")));
    mlff_dataset_free(db);
    mlff_calc_free(lc2);
    mlff_model_free(lab);
    CHECK_OK(mlff_dataset_load(tpath(6, "data_boxes.h5"), &db));
    int three[3] = {0, 1, 2};
    direct dbx = compute_direct(m, db, three, 3, NULL);
    snprintf(args, sizeof args, "'%s' '%s' --split all", tpath(0, "student.h5"),
             tpath(6, "data_boxes.h5"));
    j = run_eval(args);
    check_block(j, "overall", NULL, &dbx);
    free(j);
    mlff_dataset_free(db);
  }

  mlff_dataset_free(dl);
  mlff_model_free(m);
  printf("test_eval: ok (%d figures equal the direct computation)\n", n_checked);
  return 0;
}
