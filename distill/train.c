/* train.c — mlff_train, fitting a model to a labelled dataset (docs/cli.md, `mlff train`): the
 * options, the train/validation/test split (held-out source tags to the test set), e0 and the
 * normalisation from the training set, Adam over seeded minibatches on the trainer of
 * trainer.c, validation after each epoch, the learning rate halved after patience/2 epochs
 * without improvement (down to lr_min), early stop after patience, the best weights kept, the
 * test errors of the final model, and the training summary (summary.c) stored in the model.
 * With a checkpoint file, the state after every complete epoch is written to it (checkpoint.c),
 * and a run that finds its own checkpoint there continues from it: the same final model as a
 * run never stopped. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rng.h"
#include "summary.h"
#include "train.h"

/* ---- small helpers ------------------------------------------------------------------------- */

/* Uniform integer in [0, n) without modulo bias. */
static uint64_t rand_below(uint64_t *s, uint64_t n) {
  uint64_t lim = UINT64_MAX - UINT64_MAX % n, r;
  do r = mlff_splitmix64(s);
  while (r >= lim);
  return r % n;
}

static void shuffle(int *v, int n, uint64_t *rng) {
  for (int i = n - 1; i > 0; i--) {
    int j = (int)rand_below(rng, (uint64_t)i + 1);
    int t = v[i];
    v[i] = v[j];
    v[j] = t;
  }
}

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

/* ---- mlff_train ------------------------------------------------------------------------------ */

void mlff_train_options_default(mlff_train_options *o) {
  memset(o, 0, sizeof *o);
  o->w_energy = 1.0; /* docs/cli.md: wF/wE = 1 cut the interaction-energy offset */
  o->w_forces = 1.0;
  o->max_epochs = 1000;
  o->time_limit_s = 0.0;
  o->batch_size = 32;
  o->lr = 1e-3;
  o->lr_min = 1e-5;
  o->patience = 40;
  o->valid_fraction = 0.1;
  o->test_fraction = 0.1;
  o->seed = 1;
  o->n_threads = 0;
}

static mlff_status check_options(const mlff_train_options *o) {
#define BAD(...) return mlff_set_error(MLFF_ERR_ARGUMENT, __VA_ARGS__)
  if (!(o->w_energy >= 0) || !isfinite(o->w_energy) || !(o->w_forces >= 0) ||
      !isfinite(o->w_forces))
    BAD("loss weights must be finite and >= 0 (w_energy %g, w_forces %g)", o->w_energy,
        o->w_forces);
  if (o->w_energy == 0 && o->w_forces == 0) BAD("loss weights are both zero: nothing to fit");
  if (o->max_epochs < 1) BAD("max_epochs must be >= 1, not %d", o->max_epochs);
  if (!(o->time_limit_s >= 0) || !isfinite(o->time_limit_s))
    BAD("time limit must be >= 0 seconds (0 = none), not %g", o->time_limit_s);
  if (o->batch_size < 1) BAD("batch size must be >= 1, not %d", o->batch_size);
  if (!(o->lr > 0) || !isfinite(o->lr)) BAD("learning rate must be > 0, not %g", o->lr);
  if (!(o->lr_min >= 0) || o->lr_min > o->lr)
    BAD("minimum learning rate must be in [0, lr = %g], not %g", o->lr, o->lr_min);
  if (o->patience < 1) BAD("patience must be >= 1 epoch, not %d", o->patience);
  if (!(o->valid_fraction > 0 && o->valid_fraction < 1))
    BAD("validation fraction must be in (0, 1) (early stopping needs a validation set), not %g",
        o->valid_fraction);
  if (!(o->test_fraction >= 0 && o->test_fraction < 1))
    BAD("test fraction must be in [0, 1), not %g", o->test_fraction);
  if (!(o->valid_fraction + o->test_fraction < 1))
    BAD("validation + test fractions (%g + %g) leave nothing to train on", o->valid_fraction,
        o->test_fraction);
  if (o->n_threads < 0)
    BAD("thread count must be >= 0 (0 = OpenMP's default), not %d", o->n_threads);
  return MLFF_OK;
#undef BAD
}

/* Is tag in the comma-separated list? */
static int in_list(const char *list, const char *tag) {
  size_t n = strlen(tag);
  for (const char *p = list; p && *p;) {
    while (*p == ',' || *p == ' ') p++;
    const char *q = p;
    while (*q && *q != ',') q++;
    const char *end = q;
    while (end > p && end[-1] == ' ') end--;
    if ((size_t)(end - p) == n && n && !strncmp(p, tag, n)) return 1;
    p = q;
  }
  return 0;
}

static double now_s(void) { return omp_get_wtime(); }

/* Energy/force errors of the test structures with the final model (the file's float32
 * weights, through mlff_compute). */
static mlff_status test_errors(const mlff_model *m, const mlff_dataset *d, const int *idx, int n,
                               int n_threads, mlff_summary *s) {
  mlff_calc *c;
  mlff_calc_options co;
  mlff_calc_options_default(&co);
  co.device = MLFF_DEVICE_CPU;
  co.n_threads = n_threads;
  mlff_status st = mlff_calc_create(m, &co, &c);
  if (st) return st;
  double se = 0, sf = 0, sf2 = 0;
  long comps = 0;
  int *sp = NULL;
  double *F = NULL;
  for (int i = 0; i < n && !st; i++) {
    mlff_frame f;
    const char *src;
    if ((st = mlff_dataset_get(d, idx[i], &f, &src))) break;
    int *sp2 = realloc(sp, (size_t)f.n_atoms * sizeof(int));
    double *F2 = realloc(F, 3 * (size_t)f.n_atoms * sizeof(double));
    if (sp2) sp = sp2;
    if (F2) F = F2;
    if (!sp2 || !F2) {
      st = mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
      break;
    }
    if ((st = mlff_frame_species(m, &f, sp))) break;
    mlff_structure x = mlff_frame_structure(&f, sp);
    mlff_result r = {.forces = F};
    if ((st = mlff_compute(c, &x, &r))) break;
    se += fabs(r.energy - f.energy) / f.n_atoms;
    for (int q = 0; q < 3 * f.n_atoms; q++) {
      double dv = F[q] - f.forces[q];
      sf += fabs(dv);
      sf2 += dv * dv;
    }
    comps += 3 * f.n_atoms;
  }
  free(sp);
  free(F);
  mlff_calc_free(c);
  if (st) return st;
  s->have_test = n > 0;
  if (n > 0) {
    s->test_emae = se / n;
    s->test_fmae = sf / comps;
    s->test_frmse = sqrt(sf2 / comps);
  }
  return MLFF_OK;
}

/* What makes one run: everything that changes the numbers of training (not the thread count,
 * which does not, nor the time limit, which only says when to stop), as "key value" fields
 * separated by "; ", so that a mismatch names the field. The initial parameters' hash covers
 * the initial weights (--init, --seed), the data's e0 and scale, and the dispersion term. */
static char *run_signature(const mlff_model *m, mlff_trainer *t, const mlff_train_options *o,
                           const char *test_sources, int jacobian_fp64) {
  mlff_sbuf b = {0};
  const char *sha = mlff_model_attr(m, "dataset_sha256");
  mlff_sb_printf(&b,
                 "dataset_sha256 %s; seed %llu; epochs %d; batch %d; lr %.17g; lr_min %.17g; "
                 "patience %d; w_energy %.17g; w_forces %.17g; valid_fraction %.17g; "
                 "test_fraction %.17g; test_sources %s; elements ",
                 *sha ? sha : "(none)", (unsigned long long)o->seed, o->max_epochs, o->batch_size,
                 o->lr, o->lr_min, o->patience, o->w_energy, o->w_forces, o->valid_fraction,
                 o->test_fraction, test_sources ? test_sources : "(none)");
  for (int e = 0; e < m->n_elements; e++) mlff_sb_printf(&b, "%s%s", e ? "," : "", m->elements[e]);
  mlff_sb_printf(&b, "; activation %s; layers ", mlff_activation_name(m->activation));
  for (int e = 0; e < m->n_elements; e++)
    for (int k = 0; k <= m->net[e].n_layers; k++)
      mlff_sb_printf(&b, "%s%d", k ? "-" : e ? "," : "", m->net[e].sizes[k]);
  double scale = mlff_trainer_scale(t);
  const void *parts[3] = {mlff_trainer_params(t), mlff_trainer_e0(t), &scale};
  size_t sizes[3] = {mlff_trainer_n_params(t) * sizeof(double),
                     (size_t)m->n_elements * sizeof(double), sizeof scale};
  char hex[65];
  mlff_sha256_parts(3, parts, sizes, hex);
  mlff_sb_printf(&b, "; initial_parameters_sha256 %s; dispersion %s; jacobians %s", hex,
                 m->disp.on ? "yes" : "no", jacobian_fp64 ? "float64" : "float32");
  if (m->coul.on) { /* only when on: earlier runs' checkpoints keep their identity */
    mlff_sb_printf(&b, "; electrostatics alpha %.17g cutoff %.17g charges", m->coul.p.alpha,
                   m->coul.p.cutoff);
    for (int e = 0; e < m->n_elements; e++) mlff_sb_printf(&b, " %.17g", m->coul.p.charges[e]);
    if (m->coul.bonds) { /* only with increments: the same for the models before them */
      mlff_sb_printf(&b, " increments");
      for (int a = 0; a < m->n_elements; a++)
        for (int e = 0; e < m->n_elements; e++)
          mlff_sb_printf(&b, " %.17g", m->coul.p.increments[a][e]);
      mlff_sb_printf(&b, " bond_factor %.17g radii", m->coul.p.bond_factor);
      for (int e = 0; e < m->n_elements; e++) mlff_sb_printf(&b, " %.17g", m->coul.p.bond_radii[e]);
    }
  }
  if (b.failed) {
    free(b.s);
    return NULL;
  }
  return b.s;
}

/* The summary into m; e0 and scale are m's (member 0's of a committee: the trainer's after
 * mlff_trainer_export). */
static mlff_status set_summary(mlff_model *m, const mlff_summary *s, const char *teacher) {
  char *js = mlff_summary_json(m, m->e0, m->scale, s, teacher);
  if (!js) return mlff_set_error(MLFF_ERR_NOMEM, "out of memory writing the training summary");
  mlff_status st = mlff_model_set_attr(m, "training_summary", js);
  free(js);
  return st;
}

mlff_status mlff_train(mlff_model *m, const mlff_dataset *d, const mlff_train_options *o) {
  return mlff_train_ex(m, d, o, 0);
}

mlff_status mlff_train_ex(mlff_model *m, const mlff_dataset *d, const mlff_train_options *o,
                          int jacobian_fp64) {
  const double t_start = now_s();
  if (!m || !d || !o) return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_train: NULL argument");
  mlff_status st = check_options(o);
  if (st) return st;
  const char *test_sources = o->test_sources && *o->test_sources ? o->test_sources : NULL;
  const int N = mlff_dataset_size(d);
  if (N < 1) return mlff_set_error(MLFF_ERR_ARGUMENT, "the dataset holds no structures");
  const int n_threads = o->n_threads > 0 ? o->n_threads : omp_get_max_threads();
  int *all = malloc((size_t)N * sizeof(int)), *held = calloc((size_t)N, sizeof(int));
  int *sp = NULL, *train = NULL, *valid = NULL, *test = NULL, *ids = NULL, *perm = NULL;
  double *grad = NULL, *am = NULL, *av = NULL, *best = NULL, *cur = NULL;
  char *run = NULL;
  mlff_trainer *t = NULL;
  mlff_model *member = NULL, *committee = NULL; /* a committee's member in training, and so far */
  mlff_summary sum;
  memset(&sum, 0, sizeof sum);
  const char *teacher = mlff_dataset_attr(d, "teacher");
  if (!all || !held) {
    st = mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
    goto out;
  }
  /* every structure must be of the model's elements (also the test ones, evaluated at the end) */
  for (int i = 0; i < N && !st; i++) {
    mlff_frame f;
    const char *src;
    if ((st = mlff_dataset_get(d, i, &f, &src))) break;
    int *q = realloc(sp, (size_t)(f.n_atoms > 0 ? f.n_atoms : 1) * sizeof(int));
    if (!q) {
      st = mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
      break;
    }
    sp = q;
    if ((st = mlff_trainer_check_frame(&f, i))) break;
    if ((st = mlff_frame_species(m, &f, sp))) {
      char msg[512];
      snprintf(msg, sizeof msg, "%s", mlff_last_error());
      st = mlff_set_error(st, "dataset structure %d: %s", i, msg);
      break;
    }
    if (test_sources && src && in_list(test_sources, src)) held[i] = 1;
  }
  if (st) goto out;
  /* every held-out tag must name some structures (a typo would silently hold out nothing) */
  for (const char *p = test_sources; p && *p;) {
    while (*p == ',' || *p == ' ') p++;
    const char *q = p;
    while (*q && *q != ',') q++;
    char tag[128];
    snprintf(tag, sizeof tag, "%.*s", (int)(q - p < 127 ? q - p : 127), p);
    for (char *e = tag + strlen(tag); e > tag && e[-1] == ' ';) *--e = 0;
    if (*tag) {
      int found = 0;
      for (int i = 0; i < N && !found; i++) {
        mlff_frame f;
        const char *src;
        if (mlff_dataset_get(d, i, &f, &src) == MLFF_OK && src && !strcmp(src, tag)) found = 1;
      }
      if (!found) {
        st = mlff_set_error(MLFF_ERR_ARGUMENT,
                            "test sources: no structure of the dataset has source "
                            "'%s'",
                            tag);
        goto out;
      }
    }
    p = q;
  }
  /* split: held-out sources to test; the rest shuffled (seeded) into valid, test, train */
  int n_pool = 0, n_held = 0;
  for (int i = 0; i < N; i++) {
    if (!held[i])
      all[n_pool++] = i;
    else
      n_held++;
  }
  if (n_pool < 2) {
    st = mlff_set_error(
        MLFF_ERR_ARGUMENT,
        "the training set is empty: of %d structures, %d are held out by their source "
        "tag (%s) and %d remain; training needs at least 2 (training and "
        "validation)",
        N, n_held, test_sources ? test_sources : "none", n_pool);
    goto out;
  }
  uint64_t rng = o->seed ^ 0x6d6c66662d73706cull; /* "mlff-spl" */
  shuffle(all, n_pool, &rng);
  int n_valid = (int)lround(o->valid_fraction * n_pool);
  int n_test_r = (int)lround(o->test_fraction * n_pool);
  if (n_valid < 1) n_valid = 1;
  if (o->test_fraction > 0 && n_test_r < 1) n_test_r = 1;
  int n_train = n_pool - n_valid - n_test_r;
  if (n_train < 1) {
    st = mlff_set_error(MLFF_ERR_ARGUMENT,
                        "the training set is empty: %d structures, %d held out by source, %d for "
                        "validation, %d for test (use more data or smaller fractions)",
                        N, n_held, n_valid, n_test_r);
    goto out;
  }
  train = malloc((size_t)n_train * sizeof(int));
  valid = malloc((size_t)n_valid * sizeof(int));
  test = malloc((size_t)(n_test_r + n_held + 1) * sizeof(int));
  ids = malloc((size_t)(n_train + n_valid) * sizeof(int));
  perm = malloc((size_t)n_train * sizeof(int));
  if (!train || !valid || !test || !ids || !perm) {
    st = mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
    goto out;
  }
  memcpy(valid, all, (size_t)n_valid * sizeof(int));
  int n_test = 0;
  for (int i = 0; i < n_test_r; i++) test[n_test++] = all[n_valid + i];
  for (int i = 0; i < N; i++)
    if (held[i]) test[n_test++] = i;
  memcpy(train, all + n_valid + n_test_r, (size_t)n_train * sizeof(int));
  qsort(train, n_train, sizeof(int), cmp_int);
  qsort(valid, n_valid, sizeof(int), cmp_int);
  qsort(test, n_test, sizeof(int), cmp_int);
  /* precompute training then validation structures: trainer ids 0..n_train-1, then valid */
  memcpy(ids, train, (size_t)n_train * sizeof(int));
  memcpy(ids + n_train, valid, (size_t)n_valid * sizeof(int));
  double t0 = now_s();
  if ((st = mlff_trainer_create(m, d, n_train + n_valid, ids, jacobian_fp64, n_threads, &t)))
    goto out;
  for (int i = 0; i < n_train + n_valid; i++) ids[i] = i;
  const int *tr_ids = ids, *va_ids = ids + n_train;
  int fresh = !*mlff_model_attr(m, "training_summary") && !m->net[0].feature_min;
  const int K = o->committee > 1 ? o->committee : 1;
  if (K > 1 && !fresh && m->n_members != 1 && m->n_members != K) {
    st = mlff_set_error(MLFF_ERR_ARGUMENT,
                        "the model to continue is a committee of %d members; "
                        "a committee of %d continues from one of %d members or from a single "
                        "model",
                        m->n_members, K, K);
    goto out;
  }
  if (K == 1 && m->n_members > 1) {
    st = mlff_set_error(MLFF_ERR_ARGUMENT,
                        "the model is a committee of %d members: train it "
                        "with committee %d (--committee %d), or take one member out "
                        "(mlff_model_committee_member)",
                        m->n_members, m->n_members, m->n_members);
    goto out;
  }
  sum.o = o;
  sum.test_sources = test_sources;
  sum.fresh = fresh;
  sum.N = N;
  sum.n_train = n_train;
  sum.n_valid = n_valid;
  sum.n_test = n_test;
  sum.train = train;
  sum.valid = valid;
  sum.test = test;
  for (int i = 0; i < n_train + n_valid; i++) sum.atoms += mlff_trainer_structure_atoms(t, i);
  sum.jac_bytes = mlff_trainer_jacobian_bytes(t);
  sum.bytes = mlff_trainer_bytes(t);
  sum.precompute_s = now_s() - t0;
  sum.n_threads = n_threads;
  sum.n_members = K;
  const size_t P = mlff_trainer_n_params(t);
  grad = malloc(P * sizeof(double));
  am = malloc(P * sizeof(double));
  av = malloc(P * sizeof(double));
  best = malloc(P * sizeof(double));
  if (!grad || !am || !av || !best) {
    st = mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
    goto out;
  }
  const double t_loop = now_s();
  double train_before = 0.0; /* a resumed run's training time before this one */
  mlff_summary first;        /* member 0's record, the summary's top level */
  memset(&first, 0, sizeof first);
  /* Members in turn on the one trainer (the descriptors and Jacobians are the expensive part):
   * member k is a copy of m (of its member k when continuing a committee), from weights of
   * seed + k when fresh, shuffled with seed + k. K = 1 trains m itself, as always. */
  for (int k = 0; k < K; k++) {
    mlff_model *wm = m;
    if (K > 1) {
      if ((st = mlff_model_committee_member(m, m->n_members == K ? k : 0, &wm))) goto out;
      if (fresh && k > 0 && m->n_members == 1) /* members of their own start from theirs */
        mlff_model_init_weights(wm, o->seed + (uint64_t)k);
      member = wm;
    }
    mlff_trainer_set_model(t, wm);
    if ((st = mlff_trainer_setup(t, n_train, tr_ids, fresh))) goto out;
    sum.stop = "max_epochs";
    sum.best_loss = INFINITY;
    sum.epochs = sum.best_epoch = 0;
    sum.steps = 0;
    const double t_member = now_s();
    /* the time limit shared out: an equal share of what is left to each member to come */
    const int has_limit = o->time_limit_s > 0;
    const double limit =
        has_limit ? fmax(0.0, o->time_limit_s - (t_member - t_start)) / (K - k) : 0.0;
    memset(am, 0, P * sizeof(double));
    memset(av, 0, P * sizeof(double));
    memcpy(best, mlff_trainer_params(t), P * sizeof(double));
    for (int i = 0; i < n_train; i++) perm[i] = i;
    uint64_t rng_epoch = (o->seed + (uint64_t)k) ^ 0x6d6c66662d657063ull; /* "mlff-epc" */
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    double lr = o->lr, valid_s = 0.0, b1t = 1.0, b2t = 1.0;
    int since_best = 0, since_decay = 0, first_epoch = 1, finished = 0;
    const int decay_after = o->patience / 2 > 0 ? o->patience / 2 : 1;
    double t_epochs = now_s(), t_run = t_member;
    /* A single network's checkpoint holds its whole state after each epoch, and a rerun with
     * the same arguments continues it (a committee's holds the members done so far). */
    const int resumable = o->checkpoint && K == 1;
    if (resumable) {
      cur = malloc(P * sizeof(double));
      if (!cur || !(run = run_signature(m, t, o, test_sources, jacobian_fp64))) {
        st = mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
        goto out;
      }
      mlff_checkpoint_state cs;
      memset(&cs, 0, sizeof cs);
      cs.P = P;
      cs.n_train = n_train;
      cs.theta = mlff_trainer_params(t);
      cs.adam_m = am;
      cs.adam_v = av;
      cs.best = best;
      cs.perm = perm;
      int found = 0;
      if ((st = mlff_checkpoint_read(o->checkpoint, run, &cs, &found))) goto out;
      if (found) { /* continue after epoch cs.epoch, where the checkpoint's run was */
        first_epoch = cs.epoch + 1;
        since_best = cs.since_best;
        since_decay = cs.since_decay;
        lr = cs.lr;
        b1t = cs.b1t;
        b2t = cs.b2t;
        rng_epoch = cs.rng_epoch;
        sum.epochs = cs.epoch;
        sum.steps = cs.steps;
        sum.best_epoch = cs.best_epoch;
        sum.best_loss = cs.best_loss;
        sum.best_emae = cs.best_emae;
        sum.best_fmae = cs.best_fmae;
        sum.last_train_loss = cs.last_train_loss;
        sum.hist.s = (char *)cs.history;
        sum.hist.n = strlen(cs.history);
        sum.hist.cap = sum.hist.n + 1;
        t_run -= cs.elapsed_s; /* the time limit counts the runs before this one */
        t_epochs -= cs.train_s;
        train_before = cs.train_s;
        sum.train_s = cs.train_s;
        /* a run that had ended: its final model again, no more epochs */
        if (since_best >= o->patience) {
          finished = 1;
          sum.stop = "patience";
        } else if (cs.epoch >= o->max_epochs) {
          finished = 1;
        } else if (has_limit && cs.elapsed_s >= limit) {
          finished = 1;
          sum.stop = "time_limit";
        }
      }
    }
    for (int epoch = first_epoch; !finished && epoch <= o->max_epochs; epoch++) {
      shuffle(perm, n_train, &rng_epoch);
      double loss_sum = 0.0;
      int loss_n = 0, out_of_time = 0, whole_epoch = 1;
      const double lr_epoch = lr;
      for (int b0 = 0; b0 < n_train; b0 += o->batch_size) {
        int nb = n_train - b0 < o->batch_size ? n_train - b0 : o->batch_size;
        double loss;
        if ((st = mlff_trainer_loss_grad(t, nb, perm + b0, o->w_energy, o->w_forces, &loss, grad)))
          goto out;
        if (!isfinite(loss)) {
          st = mlff_set_error(MLFF_ERR_ARGUMENT,
                              "training diverged in epoch %d%s (loss %g); try a smaller learning "
                              "rate (now %g)",
                              epoch, K > 1 ? " of a committee member" : "", loss, lr);
          goto out;
        }
        sum.steps++;
        b1t *= b1;
        b2t *= b2;
        const double c1 = 1.0 / (1.0 - b1t), c2 = 1.0 / (1.0 - b2t);
        double *th = mlff_trainer_params(t);
        for (size_t p = 0; p < P; p++) {
          double g = grad[p];
          am[p] = b1 * am[p] + (1.0 - b1) * g;
          av[p] = b2 * av[p] + (1.0 - b2) * g * g;
          th[p] -= lr * (am[p] * c1) / (sqrt(av[p] * c2) + eps);
        }
        loss_sum += loss * nb;
        loss_n += nb;
        if (has_limit && now_s() - t_run + valid_s > limit) {
          out_of_time = 1;
          whole_epoch = b0 + o->batch_size >= n_train;
          break;
        }
      }
      double tv = now_s();
      mlff_trainer_errors ve;
      if ((st = mlff_trainer_errors_of(t, n_valid, va_ids, o->w_energy, o->w_forces, &ve)))
        goto out;
      valid_s = now_s() - tv;
      double emae = ve.sum_abs_e / n_valid, fmae = ve.sum_abs_f / (3.0 * ve.n_atoms);
      sum.epochs = epoch;
      sum.last_train_loss = loss_sum / loss_n;
      if (!isfinite(ve.loss)) {
        st = mlff_set_error(MLFF_ERR_ARGUMENT,
                            "training diverged in epoch %d (validation loss %g); try a "
                            "smaller learning rate (now %g)",
                            epoch, ve.loss, lr);
        goto out;
      }
      int improved = ve.loss < sum.best_loss;
      if (improved) {
        sum.best_loss = ve.loss;
        sum.best_emae = emae;
        sum.best_fmae = fmae;
        sum.best_epoch = epoch;
        memcpy(best, mlff_trainer_params(t), P * sizeof(double));
        since_best = since_decay = 0;
      } else {
        since_best++;
        if (++since_decay >= decay_after && lr > o->lr_min) {
          lr = fmax(0.5 * lr, o->lr_min);
          since_decay = 0;
        }
      }
      if (k == 0) /* the history is member 0's */
        mlff_sb_printf(&sum.hist, "%s[%d,%.6g,%.6g,%.5g,%.5g,%.3g]", epoch > 1 ? "," : "", epoch,
                       sum.last_train_loss, ve.loss, 1e3 * emae, 1e3 * fmae, lr_epoch);
      double elapsed = now_s() - t_run;
      sum.train_s = now_s() - t_loop + train_before;
      int stop = 0;
      if (since_best >= o->patience) {
        stop = 1;
        sum.stop = "patience";
      } else if (out_of_time || (has_limit && elapsed + valid_s >= limit)) {
        stop = 1;
        sum.stop = "time_limit";
      } else if (epoch == o->max_epochs)
        stop = 1;
      /* The checkpoint after every whole epoch (one cut short by the time limit would continue
       * another run than the uninterrupted one): the best model so far, and the state. */
      if (resumable && whole_epoch) {
        if (sum.hist.failed) {
          st = mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
          goto out;
        }
        double *th = mlff_trainer_params(t);
        memcpy(cur, th, P * sizeof(double));
        memcpy(th, best, P * sizeof(double));
        st = mlff_trainer_export(t, m);
        memcpy(th, cur, P * sizeof(double));
        if (!st) st = set_summary(m, &sum, teacher);
        if (!st && *teacher) st = mlff_model_set_attr(m, "teacher", teacher);
        if (!st) {
          mlff_checkpoint_state cs = {.epoch = epoch,
                                      .best_epoch = sum.best_epoch,
                                      .since_best = since_best,
                                      .since_decay = since_decay,
                                      .steps = sum.steps,
                                      .lr = lr,
                                      .b1t = b1t,
                                      .b2t = b2t,
                                      .best_loss = sum.best_loss,
                                      .best_emae = sum.best_emae,
                                      .best_fmae = sum.best_fmae,
                                      .last_train_loss = sum.last_train_loss,
                                      .elapsed_s = elapsed,
                                      .train_s = sum.train_s,
                                      .rng_epoch = rng_epoch,
                                      .P = P,
                                      .n_train = n_train,
                                      .theta = th,
                                      .adam_m = am,
                                      .adam_v = av,
                                      .best = best,
                                      .perm = perm,
                                      .history = sum.hist.s ? sum.hist.s : ""};
          st = mlff_checkpoint_write(o->checkpoint, m, run, &cs);
        }
        if (st) goto out;
      }
      if (o->progress) {
        mlff_train_progress pr;
        pr.epoch = epoch;
        pr.max_epochs = o->max_epochs;
        pr.elapsed_s = now_s() - t_start;
        double per_epoch = (now_s() - t_epochs) / epoch; /* t_epochs: back by earlier runs' */
        /* this member's epochs left, and as many as it had for each member to come */
        double eta = per_epoch * (o->max_epochs - epoch) +
                     (K - 1 - k) * ((now_s() - t_member) + per_epoch * (o->max_epochs - epoch));
        if (o->time_limit_s > 0) eta = fmin(eta, fmax(0.0, o->time_limit_s - pr.elapsed_s));
        pr.eta_s = stop && k == K - 1 ? 0.0 : eta;
        pr.lr = lr_epoch;
        pr.train_loss = sum.last_train_loss;
        pr.valid_loss = ve.loss;
        pr.valid_energy_mae = emae;
        pr.valid_force_mae = fmae;
        pr.improved = improved;
        pr.member = k;
        pr.n_members = K;
        o->progress(&pr, o->user);
      }
      if (stop) break;
    }
    /* the best weights, folded, into the member */
    memcpy(mlff_trainer_params(t), best, P * sizeof(double));
    if ((st = mlff_trainer_export(t, wm))) goto out;
    if (K > 1) {
      mlff_sb_printf(&sum.members,
                     "%s{\"member\":%d,\"seed\":%llu,\"epochs\":%d,\"stop\":\"%s\","
                     "\"best_epoch\":%d,\"best_valid\":{\"loss\":%.9g,"
                     "\"energy_mae_meV_per_atom\":%.6g,\"force_mae_meV_per_A\":%.6g}}",
                     k ? "," : "", k, (unsigned long long)(o->seed + (uint64_t)k), sum.epochs,
                     sum.stop, sum.best_epoch, sum.best_loss, 1e3 * sum.best_emae,
                     1e3 * sum.best_fmae);
      if (k == 0) {
        committee = wm; /* the committee grows from member 0 */
        member = NULL;
        first = sum;
      } else {
        st = mlff_model_committee_add(committee, wm);
        mlff_model_free(wm);
        member = NULL;
        if (st) goto out;
      }
      if (o->checkpoint) { /* the committee so far */
        mlff_summary cp = first;
        cp.hist = sum.hist;
        cp.members = sum.members;
        cp.n_members = k + 1;
        if ((st = set_summary(committee, &cp, teacher)) ||
            (st = mlff_model_save(committee, o->checkpoint)))
          goto out;
      }
    }
  }
  if (sum.hist.failed || sum.members.failed) {
    st = mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
    goto out;
  }
  if (K > 1) { /* m becomes the committee (its handle stays the caller's) */
    mlff_model tmp = *m;
    *m = *committee;
    *committee = tmp;
    /* member 0's record at the top level, with the members' list */
    mlff_sbuf hist = sum.hist, members = sum.members;
    sum = first;
    sum.hist = hist;
    sum.members = members;
  }
  /* test errors of the model as it will be saved (a committee's mean) */
  if ((st = mlff_model_set_attr(m, "teacher",
                                *teacher ? teacher : "unknown (the dataset names no teacher)")))
    goto out;
  if ((st = test_errors(m, d, test, n_test, n_threads, &sum))) goto out;
  sum.train_s = now_s() - t_loop + train_before;
  st = set_summary(m, &sum, teacher);
out:
  free(all);
  free(held);
  free(sp);
  free(train);
  free(valid);
  free(test);
  free(ids);
  free(perm);
  free(grad);
  free(am);
  free(av);
  free(best);
  free(cur);
  free(run);
  free(sum.hist.s);
  free(sum.members.s);
  mlff_trainer_free(t);
  mlff_model_free(member);
  mlff_model_free(committee);
  return st;
}
