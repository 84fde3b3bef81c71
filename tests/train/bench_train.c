/* bench_train — training throughput on a synthetic benzene-like dataset (the composition of
 * `mlff label`'s default plan: monomers 3500, dimers 800 at 3.4-7 Å, far dimers 500 at 8-12 Å,
 * trimers 200, tetramers 100, scaled to N structures), labelled by a random mlff model, or on
 * a dataset file. Prints the precomputation's memory and time and, per epoch, the
 * structures/s and the losses.
 *   bench_train [--data FILE] [--n N] [--threads T] [--epochs E] [--hidden 128,64,64]
 *               [--batch B] [--fp64] [--lr X] [--test-sources LIST]                         */
#include <omp.h>

#include "train_test.h"

static void add_cluster(tstruct *t, int k, double rmin, double rmax) {
  double c[4][3];
  for (int i = 0; i < k; i++) {
    for (int tries = 0;; tries++) {
      double u[3], n2;
      do {
        for (int d = 0; d < 3; d++) u[d] = 2 * trand() - 1;
        n2 = u[0] * u[0] + u[1] * u[1] + u[2] * u[2];
      } while (n2 > 1);
      double r = i ? rmin + (rmax - rmin) * trand() : 0;
      for (int d = 0; d < 3; d++) c[i][d] = (i ? c[(int)(trand() * i)][d] : 0) + r * u[d] / sqrt(n2 + 1e-12);
      int ok = 1;
      for (int j = 0; j < i; j++) {
        double dd = 0;
        for (int d = 0; d < 3; d++) dd += (c[i][d] - c[j][d]) * (c[i][d] - c[j][d]);
        if (dd < rmin * rmin) ok = 0;
      }
      if (ok || tries > 100) break;
    }
    double R[9];
    random_rotation(R);
    add_benzene(t, R, c[i], 0.1);
  }
}

static double t_last;
static int n_train_structs;
static void progress(const mlff_train_progress *p, void *user) {
  double now = omp_get_wtime();
  printf("epoch %3d  %.3f s  %6.0f structures/s  train loss %.5g  valid loss %.5g  E MAE %.2f "
         "meV/atom  F MAE %.1f meV/Å  lr %.2g%s\n",
         p->epoch, now - t_last, n_train_structs / (now - t_last), p->train_loss, p->valid_loss,
         1e3 * p->valid_energy_mae, 1e3 * p->valid_force_mae, p->lr, p->improved ? " *" : "");
  fflush(stdout);
  t_last = now;
}

int main(int argc, char **argv) {
  int n = 5000, threads = 1, epochs = 3, batch = 32, fp64 = 0;
  const char *data = NULL, *hidden = "128,64,64", *test_sources = NULL;
  double lr = 1e-3;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--data")) data = argv[++i];
    else if (!strcmp(argv[i], "--n")) n = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--epochs")) epochs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--batch")) batch = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--hidden")) hidden = argv[++i];
    else if (!strcmp(argv[i], "--lr")) lr = atof(argv[++i]);
    else if (!strcmp(argv[i], "--fp64")) fp64 = 1;
    else if (!strcmp(argv[i], "--test-sources")) test_sources = argv[++i];
    else { fprintf(stderr, "unknown argument %s\n", argv[i]); return 2; }
  }
  int h[8], nh = 0;
  for (const char *p = hidden; *p && nh < 8;) {
    h[nh++] = atoi(p);
    p = strchr(p, ',');
    if (!p) break;
    p++;
  }
  mlff_dataset *d;
  double t0 = omp_get_wtime();
  if (data) {
    CHECK_OK(mlff_dataset_load(data, &d));
  } else {
    const int th[2] = {64, 64};
    mlff_model *teacher = make_model_h(2, th, MLFF_ACT_SILU, 1234);
    teacher->scale = 2.0;
    mlff_calc *c;
    mlff_calc_options co = {MLFF_DEVICE_CPU, 0, 1, 0, 0};
    CHECK_OK(mlff_calc_create(teacher, &co, &c));
    CHECK_OK(mlff_dataset_create(&d));
    for (int i = 0; i < n; i++) {
      double f = (double)i / n;
      tstruct t = {0};
      const char *src;
      if (f < 0.686) { add_cluster(&t, 1, 0, 0); src = "md"; }
      else if (f < 0.843) { add_cluster(&t, 2, 3.4, 7.0); src = "dimer"; }
      else if (f < 0.941) { add_cluster(&t, 2, 8.0, 12.0); src = "far_dimer"; }
      else if (f < 0.980) { add_cluster(&t, 3, 3.6, 6.0); src = "trimer"; }
      else { add_cluster(&t, 4, 3.6, 6.0); src = "tetramer"; }
      add_labelled(d, &t, c, src);
      tfree(&t);
    }
    mlff_calc_free(c);
    mlff_model_free(teacher);
  }
  long atoms = 0;
  for (int i = 0; i < mlff_dataset_size(d); i++) {
    mlff_frame f;
    const char *s;
    CHECK_OK(mlff_dataset_get(d, i, &f, &s));
    atoms += f.n_atoms;
  }
  printf("dataset: %d structures, %ld atoms (%.1f s)\n", mlff_dataset_size(d), atoms,
         omp_get_wtime() - t0);
  mlff_model *m = make_model_h(nh, h, MLFF_ACT_SILU, 1);
  mlff_train_options o;
  mlff_train_options_default(&o);
  o.max_epochs = epochs;
  o.n_threads = threads;
  o.batch_size = batch;
  o.lr = lr;
  o.lr_min = lr < o.lr_min ? lr : o.lr_min;
  o.progress = progress;
  n_train_structs = mlff_dataset_size(d) - (int)lround(0.1 * mlff_dataset_size(d)) * 2;
  o.test_sources = test_sources;
  t0 = t_last = omp_get_wtime();
  CHECK_OK(mlff_train_ex(m, d, &o, fp64));
  const char *js = mlff_model_attr(m, "training_summary");
  const char *p = strstr(js, "\"precomputed\"");
  printf("%.*s\n", p ? (int)(strchr(p, '}') - p + 1) : 0, p ? p : "");
  p = strstr(js, "\"test\":{");
  if (p) printf("%.*s\n", (int)(strchr(p, '}') - p + 1), p);
  printf("threads %d, hidden %s, batch %d: total %.2f s\n", threads, hidden, batch,
         omp_get_wtime() - t0);
  mlff_model_free(m);
  mlff_dataset_free(d);
  return test_failures ? 1 : 0;
}
