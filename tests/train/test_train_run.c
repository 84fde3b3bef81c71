#include <omp.h>
/* mlff_train end to end on a small learnable dataset: labels from a different random mlff
 * model (the teacher: benzene monomers, dimers, periodic boxes). Checks that
 *   - training reduces the validation loss clearly and the model file holds what docs/file_format.md asks
 *     (training range, e0, teacher, training_summary with the split);
 *   - the same seed gives the same model bit for bit, with 1 or 2 threads;
 *   - held-out source tags all land in the test split; the checkpoint is written; the time
 *     limit stops training;
 *   - a run killed (SIGKILL, by itself after the checkpoint of epoch 12: this program run again
 *     as `test_train_run TMPDIR kill-after 12`) and resumed from its checkpoint gives the same
 *     model bit for bit;
 *   - bad options and data are refused with messages that say what is wrong.
 * Writes TMPDIR/teacher.h5 (argv[1]) for the command-line tests. */
#include <hdf5.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "train_test.h"

static const char *tmpdir = ".";

static mlff_dataset *make_teacher_data(int n_mono, int n_dimer, int n_box) {
  const int th[2] = {24, 24};
  mlff_model *teacher = make_model_h(2, th, MLFF_ACT_SILU, 1234);
  teacher->e0[0] = -1030.0;
  teacher->e0[1] = -13.0;
  teacher->scale = 2.0;
  mlff_calc *c;
  CHECK_OK(mlff_calc_create(teacher, NULL, &c));
  mlff_dataset *d;
  CHECK_OK(mlff_dataset_create(&d));
  for (int i = 0; i < n_mono + n_dimer + n_box; i++) {
    tstruct t;
    const char *src;
    if (i < n_mono) {
      t = make_benzene_random(0.12);
      src = "monomer";
    } else if (i < n_mono + n_dimer) {
      t = make_dimer_random(3.6 + 6.0 * trand(), 0.08);
      src = "dimer";
    } else {
      t = make_liquid(1, 5.6, 0.1 * trand());
      src = "box";
    }
    add_labelled(d, &t, c, src);
    tfree(&t);
  }
  CHECK_OK(mlff_dataset_set_attr(d, "teacher", "random mlff model (test teacher, seed 1234)"));
  mlff_calc_free(c);
  mlff_model_free(teacher);
  return d;
}

typedef struct {
  int n;
  double first_loss, first_fmae, last_loss;
  int improvements;
} progress_log;

static void log_progress(const mlff_train_progress *p, void *user) {
  progress_log *l = user;
  if (l->n++ == 0) {
    l->first_loss = p->valid_loss;
    l->first_fmae = p->valid_force_mae;
  }
  l->last_loss = p->valid_loss;
  l->improvements += p->improved;
  CHECK(p->epoch == l->n && p->lr > 0 && p->elapsed_s >= 0 && p->eta_s >= 0);
}

static mlff_model *student(uint64_t seed) {
  const int h[2] = {32, 32};
  return make_model_h(2, h, MLFF_ACT_SILU, seed);
}

/* Save m with the time-dependent parts fixed, and return the file's bytes. */
static unsigned char *model_bytes(mlff_model *m, const char *name, long *len) {
  char path[1024], sum[1 << 16];
  snprintf(path, sizeof path, "%s/%s", tmpdir, name);
  const char *js = mlff_model_attr(m, "training_summary");
  /* drop "train_time_s" and the precomputation "seconds" (wall times) and "threads" */
  snprintf(sum, sizeof sum, "%s", js);
  char *p = strstr(sum, ",\"train_time_s\":");
  if (p) strcpy(p, "}");
  if ((p = strstr(sum, ",\"seconds\":"))) {
    char *q = strchr(p, '}');
    memmove(p, q, strlen(q) + 1);
  }
  if ((p = strstr(sum, ",\"threads\":"))) {
    char *q = strchr(p + 1, '}');
    memmove(p, q, strlen(q) + 1);
  }
  CHECK_OK(mlff_model_set_attr(m, "training_summary", sum));
  CHECK_OK(mlff_model_set_attr(m, "created", "2000-01-01T00:00:00Z"));
  CHECK_OK(mlff_model_save(m, path));
  FILE *f = fopen(path, "rb");
  CHECK(f != NULL);
  fseek(f, 0, SEEK_END);
  *len = ftell(f);
  rewind(f);
  unsigned char *b = malloc(*len);
  CHECK(fread(b, 1, *len, f) == (size_t)*len);
  fclose(f);
  return b;
}

/* The options of run 1 (and of the killed run, which must be the same run). */
static void run1_options(mlff_train_options *o) {
  mlff_train_options_default(o);
  o->max_epochs = 30;
  o->batch_size = 8;
  o->lr = 2e-3;
  o->n_threads = 2;
  o->seed = 5;
  o->valid_fraction = 0.15;
  o->test_fraction = 0.1;
  o->test_sources = "box";
}

static void kill_after(const mlff_train_progress *p, void *user) {
  if (p->epoch == *(const int *)user) raise(SIGKILL); /* its checkpoint is on disk by now */
}

/* `test_train_run TMPDIR kill-after K`: run 1 on TMPDIR/teacher.h5 with the checkpoint
 * TMPDIR/killed.h5, killed by SIGKILL after epoch K. */
static int killed_run(int k) {
  char path[1024], ck[1024];
  snprintf(path, sizeof path, "%s/teacher.h5", tmpdir);
  snprintf(ck, sizeof ck, "%s/killed.h5", tmpdir);
  mlff_dataset *d;
  CHECK_OK(mlff_dataset_load(path, &d));
  mlff_train_options o;
  run1_options(&o);
  o.checkpoint = ck;
  o.progress = kill_after;
  o.user = &k;
  mlff_model *m = student(3);
  CHECK_OK(mlff_train(m, d, &o));
  fprintf(stderr, "the run was not killed after epoch %d\n", k);
  return 1;
}

/* A copy of checkpoint `from` at `to` with one thing damaged: value 0 of /checkpoint/order
 * (int32) set to order[1], or the int32 attribute /checkpoint/<attr> set to value. */
static void damaged_checkpoint(const char *from, const char *to, const char *attr, int value) {
  FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
  CHECK(in && out);
  char buf[1 << 16];
  size_t k;
  while (in && out && (k = fread(buf, 1, sizeof buf, in)) > 0) CHECK(fwrite(buf, 1, k, out) == k);
  if (in) fclose(in);
  if (out) fclose(out);
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18); /* as the writer */
  hid_t f = H5Fopen(to, H5F_ACC_RDWR, fapl);
  H5Pclose(fapl);
  CHECK(f >= 0);
  if (!attr) {
    hid_t d = H5Dopen2(f, "/checkpoint/order", H5P_DEFAULT);
    hsize_t n;
    hid_t sp = H5Dget_space(d);
    H5Sget_simple_extent_dims(sp, &n, NULL);
    int *v = malloc(n * sizeof(int));
    CHECK(H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    v[0] = v[1];
    CHECK(H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    free(v);
    H5Sclose(sp);
    H5Dclose(d);
  } else {
    /* replaced, not rewritten: H5Awrite on this file fails ("can't locate open attribute") */
    hid_t g = H5Gopen2(f, "/checkpoint", H5P_DEFAULT), sp = H5Screate(H5S_SCALAR);
    CHECK(H5Adelete(g, attr) >= 0);
    hid_t a = H5Acreate2(g, attr, H5T_NATIVE_INT32, sp, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(a >= 0 && H5Awrite(a, H5T_NATIVE_INT, &value) >= 0);
    H5Aclose(a);
    H5Sclose(sp);
    H5Gclose(g);
  }
  H5Fclose(f);
}

static void expect_refusal(mlff_model *m, const mlff_dataset *d, const mlff_train_options *o,
                           const char *needle) {
  mlff_status st = mlff_train(m, d, o);
  const char *msg = mlff_last_error();
  if (st == MLFF_OK || !strstr(msg, needle)) {
    fprintf(stderr, "expected a refusal mentioning \"%s\"; got status %d: %s\n", needle, st, msg);
    test_failures++;
  } else {
    printf("refused: %s\n", msg);
  }
}

int main(int argc, char **argv) {
  if (argc > 1) tmpdir = argv[1];
  if (argc > 3 && !strcmp(argv[2], "kill-after")) return killed_run(atoi(argv[3]));
  mlff_dataset *d = make_teacher_data(90, 40, 10);
  char path[1024];
  snprintf(path, sizeof path, "%s/teacher.h5", tmpdir);
  CHECK_OK(mlff_dataset_save(d, path));

  /* 1. a training run */
  mlff_train_options o;
  run1_options(&o);
  char ck[1024];
  snprintf(ck, sizeof ck, "%s/checkpoint.h5", tmpdir);
  unlink(ck);
  o.checkpoint = ck;
  progress_log log = {0};
  o.progress = log_progress;
  o.user = &log;
  mlff_model *m = student(3);
  double t0 = omp_get_wtime();
  CHECK_OK(mlff_train(m, d, &o));
  double secs = omp_get_wtime() - t0;
  const char *js = mlff_model_attr(m, "training_summary");
  printf("30 epochs in %.2f s: validation loss %.4g after epoch 1 -> %.4g at the end "
         "(force MAE %.1f meV/Å after epoch 1), %d improvements\n",
         secs, log.first_loss, log.last_loss, 1e3 * log.first_fmae, log.improvements);
  CHECK(log.n == 30);
  CHECK(log.last_loss < 0.3 * log.first_loss);
  CHECK(strstr(js, "\"split\":{\"train\":[") != NULL);
  CHECK(strstr(js, "\"stop\":\"max_epochs\"") != NULL);
  CHECK(strstr(js, "\"test\":{\"structures\":") != NULL);
  CHECK(!strcmp(mlff_model_attr(m, "teacher"), "random mlff model (test teacher, seed 1234)"));
  CHECK(m->net[0].feature_min && m->net[1].feature_max);
  CHECK(m->e0[0] != 0.0 && m->scale > 0.0);
  /* the boxes (structures 130..139) are all in the test split */
  const char *test = strstr(js, "\"test\":[");
  CHECK(test && strstr(test, "130,131,132,133,134,135,136,137,138,139]"));
  { /* and read back by the library's reader, as `mlff eval` reads it */
    int rec = 0, n_test = 0, *ids = NULL;
    CHECK_OK(mlff_training_split(m, "test", &rec, &ids, &n_test));
    CHECK(rec == 1 && n_test >= 10 && ids && ids[n_test - 1] == 139 && ids[n_test - 10] == 130);
    free(ids);
  }
  /* the checkpoint exists and loads */
  mlff_model *mc;
  CHECK_OK(mlff_model_load(ck, &mc));
  CHECK(strstr(mlff_model_attr(mc, "training_summary"), "\"split\"") != NULL);
  mlff_model_free(mc);

  /* 2. the same seed, the same model, with 1 or 2 threads; another seed, another model */
  long l1, l2, l3;
  unsigned char *b1 = model_bytes(m, "run_a.h5", &l1);
  mlff_train_options o2 = o;
  o2.progress = NULL;
  o2.checkpoint = NULL;
  o2.n_threads = 1;
  mlff_model *m2 = student(3);
  CHECK_OK(mlff_train(m2, d, &o2));
  unsigned char *b2 = model_bytes(m2, "run_b.h5", &l2);
  CHECK(l1 == l2 && !memcmp(b1, b2, l1));
  printf("same seed, 2 threads vs 1: model files %s (%ld bytes)\n",
         l1 == l2 && !memcmp(b1, b2, l1) ? "identical" : "DIFFER", l1);
  o2.seed = 6;
  o2.max_epochs = 3;
  mlff_model *m3 = student(3);
  CHECK_OK(mlff_train(m3, d, &o2));
  unsigned char *b3 = model_bytes(m3, "run_c.h5", &l3);
  CHECK(l1 != l3 || memcmp(b1, b3, l1));
  { /* killed after epoch 12 (another process: this program again), then resumed here */
    char killed[1024], self[1024], *args[] = {self, (char *)tmpdir, "kill-after", "12", NULL};
    snprintf(killed, sizeof killed, "%s/killed.h5", tmpdir);
    unlink(killed);
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    CHECK(n > 0);
    self[n > 0 ? n : 0] = 0;
    extern char **environ;
    pid_t pid;
    int ws = 0;
    CHECK(posix_spawn(&pid, self, NULL, NULL, args, environ) == 0);
    CHECK(waitpid(pid, &ws, 0) == pid);
    CHECK(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
    mlff_model *mk;
    CHECK_OK(mlff_model_load(killed, &mk)); /* the checkpoint is a model: the best of 12 epochs */
    CHECK(strstr(mlff_model_attr(mk, "training_summary"), "\"epochs\":12,") != NULL);
    mlff_model_free(mk);
    mlff_train_options ok;
    run1_options(&ok);
    ok.checkpoint = killed;
    mlff_dataset *dl;
    CHECK_OK(mlff_dataset_load(path, &dl));
    mk = student(3);
    CHECK_OK(mlff_train(mk, dl, &ok));
    long lk;
    unsigned char *bk = model_bytes(mk, "run_k.h5", &lk);
    CHECK(l1 == lk && !memcmp(b1, bk, l1));
    printf("killed after epoch 12 and resumed: model file %s the uninterrupted run's\n",
           l1 == lk && !memcmp(b1, bk, l1) ? "identical to" : "DIFFERS from");
    /* the run again, on its complete checkpoint: no more training, the same model */
    mlff_model_free(mk);
    mk = student(3);
    CHECK_OK(mlff_train(mk, dl, &ok));
    free(bk);
    bk = model_bytes(mk, "run_k.h5", &lk);
    CHECK(l1 == lk && !memcmp(b1, bk, l1));
    free(bk);
    /* damaged checkpoints: refused, naming the file and the field (a fresh student: the run's
     * initial parameters are part of it) */
    mlff_model_free(mk);
    mk = student(3);
    char bad[1024];
    snprintf(bad, sizeof bad, "%s/damaged.h5", tmpdir);
    ok.checkpoint = bad;
    damaged_checkpoint(killed, bad, NULL, 0);
    expect_refusal(mk, dl, &ok, "damaged.h5': /checkpoint/order is not an order of the ");
    damaged_checkpoint(killed, bad, "since_best", 3);
    expect_refusal(mk, dl, &ok, "damaged.h5': attribute /checkpoint/since_best is out of range");
    damaged_checkpoint(killed, bad, "format_version", 2);
    expect_refusal(mk, dl, &ok, "/checkpoint format_version 2, but this mlff reads version 1");
    /* another run (seed) on that checkpoint: refused, the field named */
    ok.checkpoint = killed;
    ok.seed = 6;
    expect_refusal(mk, dl, &ok, "it is the checkpoint of another run: its seed is 5, this run's is 6");
    mlff_model_free(mk);
    mlff_dataset_free(dl);
  }
  free(b1); free(b2); free(b3);
  mlff_model_free(m2);
  mlff_model_free(m3);

  /* 3. continuing from the trained model starts where it stopped */
  mlff_train_options oc = o2;
  oc.seed = 5;
  oc.max_epochs = 1;
  oc.lr = 1e-9;
  oc.lr_min = 0;
  progress_log lc = {0};
  oc.progress = log_progress;
  oc.user = &lc;
  double best = 0;
  { /* best validation loss of run 1 */
    const char *p = strstr(mlff_model_attr(m, "training_summary"), "\"best_valid\":{\"loss\":");
    CHECK(p != NULL);
    if (p) best = strtod(p + strlen("\"best_valid\":{\"loss\":"), NULL);
  }
  CHECK_OK(mlff_train(m, d, &oc));
  printf("continued: validation loss %.6g (the trained model's best %.6g)\n", lc.first_loss, best);
  CHECK(fabs(lc.first_loss - best) < 1e-3 * best);
  CHECK(strstr(mlff_model_attr(m, "training_summary"), "\"start\":\"continued") != NULL);
  mlff_model_free(m);

  /* 4. the time limit */
  mlff_train_options ot = o2;
  ot.max_epochs = 1000000;
  ot.time_limit_s = 1.0;
  ot.test_sources = NULL;
  m = student(4);
  t0 = omp_get_wtime();
  CHECK_OK(mlff_train(m, d, &ot));
  secs = omp_get_wtime() - t0;
  printf("time limit 1 s: stopped after %.2f s\n", secs);
  CHECK(secs < 4.0); /* the limit, one step and one validation pass; not the 10^6 epochs */
  CHECK(strstr(mlff_model_attr(m, "training_summary"), "\"stop\":\"time_limit\"") != NULL);
  mlff_model_free(m);

  /* 5. refusals */
  m = student(4);
  mlff_train_options b;
#define BAD_OPTION(field, value, needle) \
  b = o2; b.test_sources = NULL; b.field = value; expect_refusal(m, d, &b, needle)
  BAD_OPTION(batch_size, 0, "batch size must be >= 1");
  BAD_OPTION(valid_fraction, 0.0, "validation fraction must be in (0, 1)");
  BAD_OPTION(test_fraction, 0.9, "leave nothing to train on");
  BAD_OPTION(lr, -1.0, "learning rate must be > 0");
  BAD_OPTION(lr_min, 1.0, "minimum learning rate must be in [0, lr");
  BAD_OPTION(patience, 0, "patience must be >= 1");
  BAD_OPTION(max_epochs, 0, "max_epochs must be >= 1");
  BAD_OPTION(w_forces, NAN, "loss weights must be finite");
  b = o2;
  b.w_energy = b.w_forces = 0;
  expect_refusal(m, d, &b, "loss weights are both zero");
  b = o2;
  b.test_sources = "md900,box";
  expect_refusal(m, d, &b, "no structure of the dataset has source 'md900'");
  b.test_sources = "monomer,dimer,box";
  expect_refusal(m, d, &b, "the training set is empty");
  mlff_dataset *empty;
  CHECK_OK(mlff_dataset_create(&empty));
  b = o2;
  b.test_sources = NULL;
  expect_refusal(m, empty, &b, "the dataset holds no structures");
  mlff_dataset_free(empty);
  mlff_model_free(m);
  { /* the model lacks an element of the data */
    const char *c_only[1] = {"C"};
    mlff_model_spec spec = {0};
    int h[1] = {8};
    spec.n_elements = 1;
    spec.elements = c_only;
    spec.n_hidden = 1;
    spec.hidden = h;
    mlff_descriptor_params_ani1x(&spec.descriptor);
    CHECK_OK(mlff_model_create(&spec, &m));
    b = o2;
    b.test_sources = NULL;
    expect_refusal(m, d, &b, "element 'H'");
    mlff_model_free(m);
    /* the model has an element the training data lack */
    const char *cho[3] = {"C", "H", "O"};
    spec.n_elements = 3;
    spec.elements = cho;
    CHECK_OK(mlff_model_create(&spec, &m));
    expect_refusal(m, d, &b, "element O of the model has no atoms in the training set");
    mlff_model_free(m);
  }
  mlff_dataset_free(d);
  if (test_failures) fprintf(stderr, "%d check(s) failed\n", test_failures);
  return test_failures ? 1 : 0;
}
