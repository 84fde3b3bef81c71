/* cmd_learn.c — `mlff learn`: the active-learning loop (docs/cli.md, "mlff learn"). In a work
 * folder, iteration by iteration:
 *   train    a committee on the data so far (iteration 0 from --init; later ones continue the
 *            previous iteration's committee);
 *   explore  Langevin dynamics driven by that committee: each molecule alone (gas) and a
 *            periodic liquid of one molecule's copies (quenched from its packing, then under
 *            Berendsen's barostat; NVT with --pressure none), at each temperature asked; every
 *            --sample-every steps a sample and its largest per-atom committee force deviation
 *            sigma: accurate (sigma < lo), a candidate (lo <= sigma < hi) or failed (sigma >= hi,
 *            checked at every step: the trajectory has left what the student knows and stops
 *            there, as do trajectories that blow up; the step where it left is labelled while
 *            its temperature is below 2 T);
 *   label    up to --max-label candidates, drawn at random from each trajectory in turn, with
 *            the teacher (GFN2-xTB), a liquid sample as spheres of --cluster-molecules whole
 *            molecules around its most uncertain atoms; a trajectory's start (of our making,
 *            not the student's) also above HI; the committee's true force error on them is
 *            recorded against its deviation;
 * until an iteration has no stopped trajectory and --converged of its planned samples accurate,
 * --iterations are done or --time-limit is spent; labels whose teacher forces pass --max-force
 * stay out of training.
 *
 * The folder, each file written whole (temporary name, then rename) so that a rerun with the
 * same arguments resumes at the stage where a run was stopped:
 *   data.h5                  --data plus the labels of every finished iteration (training's)
 *   iter-NN/model.h5         the committee of iteration NN
 *   iter-NN/explore.txt      its exploration's counts and samples' deviations
 *   iter-NN/candidates.xyz   the structures chosen for the teacher
 *   iter-NN/labels.h5        their labels (appended in chunks: a labelling resumes)
 *   iter-NN/record.json      the iteration's record, written last: the iteration is done
 *   learn.json               the records of all iterations, and why the loop stopped */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define MAX_TEMPS 16
#define MAX_MOLECULES 16
#define LABEL_CHUNK 5
#define GAMMA 0.01           /* Langevin friction, 1/fs (`mlff label`'s) */
#define GAMMA_QUENCH 0.1     /* a packed liquid's first steps: its packing's energy taken out */
#define TAU_P 1000.0         /* barostat time constant, fs */
#define COMPRESSIBILITY 1e-4 /* 1/bar: organic liquids 0.5-1.5e-4, water 0.45e-4 */
#define LIQUID_CONTACT 0.95  /* packed box contacts, x 2.0 Å (H..H) */
#define HIST_BINS 40         /* deviation histograms: log-spaced, 1e-3 .. 10 eV/Å */
#define MAX_SPHERES 16
#define LEFT_T 2.0   /* the sample that leaves the trust region is labelled below 2 T */
#define BLOWUP_T 5.0 /* a trajectory whose temperature passes 5 T has failed */

static const char USAGE[] =
    "mlff learn DIR --data START.h5 --molecule MOL.xyz [--molecule ...] --init MODEL.h5\n"
    "                  [--committee K] [--gas-temperatures LIST] [--liquid-temperatures LIST]\n"
    "                  [--liquid-molecules N] [--liquid-density G_CM3] [--pressure BAR|none]\n"
    "                  [--trajectories N] [--md-steps N] [--dt FS] [--sample-every N]\n"
    "                  [--equilibration N]\n"
    "                  [--trust LO,HI] [--max-label N] [--cluster-molecules M] [--spheres N]\n"
    "                  [--iterations N] [--converged F] [--time-limit S] [--epochs N]\n"
    "                  [--train-time S] [--max-force F] [--seed S] [--threads N]";
static const char HELP[] =
    "Active learning: train a committee, run dynamics with it, label with the teacher\n"
    "(GFN2-xTB) what its members disagree on, retrain, repeat. Each iteration:\n"
    "  train    a committee of K students on the data so far (iteration 0 from --init, later\n"
    "           ones continuing the previous committee);\n"
    "  explore  Langevin dynamics with it (0.01/fs friction): the molecule alone at each\n"
    "           --gas-temperatures, and a periodic liquid of --liquid-molecules copies at each\n"
    "           --liquid-temperatures under Berendsen's barostat at --pressure; a sample every\n"
    "           --sample-every steps, with sigma, the largest per-atom force deviation of the\n"
    "           committee (std over members; DP-GEN's \"model deviation\"). sigma < LO:\n"
    "           accurate; LO <= sigma < HI: a candidate; sigma >= HI: failed, and the\n"
    "           trajectory stops there, that sample labelled if its temperature is below\n"
    "           2 T (it stops too when its temperature passes 5 T);\n"
    "  label    up to --max-label candidates, drawn at random from each trajectory in turn,\n"
    "           with the teacher; a liquid sample as up to --spheres spheres of\n"
    "           --cluster-molecules whole molecules around its most uncertain atoms. The\n"
    "           start of a trajectory (the molecule, or a packed box) is labelled above HI\n"
    "           too. The committee's true force error on them is recorded.\n"
    "The loop stops when no trajectory of an iteration stopped and --converged of their\n"
    "samples were accurate, after --iterations, or when --time-limit is spent. One line per "
    "iteration on stdout; the\n"
    "record of all of them in DIR/learn.json (scripts/plot_learn.py DIR plots it). The data\n"
    "grow in DIR/data.h5 and the last committee is DIR/iter-NN/model.h5. Rerun with the same\n"
    "arguments, an interrupted run resumes where it stopped.\n"
    "  --data FILE          the starting dataset (e.g. from `mlff label`; copied to DIR)\n"
    "  --molecule FILE      the molecule (XYZ; first frame): the gas phase's start and the\n"
    "                       liquid's building block; repeat it for several molecules (gas\n"
    "                       phase only)\n"
    "  --init MODEL.h5      iteration 0's model: from `mlff init` (a fresh start; give it\n"
    "                       --dispersion there) or a trained student (continued)\n"
    "  --committee K        members (default 4; 2..16)\n"
    "  --gas-temperatures LIST\n"
    "                       K (default 300; \"none\": no gas phase)\n"
    "  --liquid-temperatures LIST\n"
    "                       K (default: no liquid)\n"
    "  --liquid-molecules N molecules of the periodic liquid (default 32)\n"
    "  --liquid-density G_CM3\n"
    "                       the liquid's starting density (required with a liquid)\n"
    "  --pressure BAR|none  the barostat's pressure (default 1.01325 bar); none: NVT\n"
    "  --trajectories N     per phase and temperature (default 1), each from its own start\n"
    "  --md-steps N         steps per trajectory (default 2000)\n"
    "  --dt FS              time step (default 0.5 fs)\n"
    "  --sample-every N     steps between samples (default 20)\n"
    "  --equilibration N    a liquid's steps after its packed start, before its first interval,\n"
    "                       with ten times the friction (default 200): the packing's energy\n"
    "                       taken out instead of heating the liquid\n"
    "  --trust LO,HI        trust levels of sigma, eV/Å (default 0.1,0.3)\n"
    "  --max-label N        candidates labelled per iteration at most (default 50)\n"
    "  --cluster-molecules M\n"
    "                       molecules per sphere carved from a liquid sample (default 8)\n"
    "  --spheres N          spheres per liquid sample at most (default 3), around its most\n"
    "                       uncertain atoms, each centred outside the ones before\n"
    "  --iterations N       at most (default 5)\n"
    "  --converged F        stop when no trajectory stopped and this share of their samples\n"
    "                       was accurate (default 0.99)\n"
    "  --time-limit S       seconds for the whole loop (default: none): no stage starts after\n"
    "                       it, and a training gets at most what is left\n"
    "  --epochs N           epochs per training at most (default 200)\n"
    "  --train-time S       seconds per training at most (default: none)\n"
    "  --max-force F        labelled structures whose largest teacher force passes F eV/Å\n"
    "                       (atoms pressed into each other) stay out of training (default 10)\n"
    "  --seed S             seeds training, starts, dynamics and draws (default 1)\n"
    "  --threads N          CPU threads (default: OpenMP's)\n";

typedef struct {
  const char *dir, *data, *init;
  const char *molecule[MAX_MOLECULES];
  int n_molecules;
  int committee, n_gas, n_liq, liquid_molecules, trajectories, md_steps, sample_every;
  int max_label, cluster_molecules, spheres, iterations, epochs, threads, equilibration;
  double gas_T[MAX_TEMPS], liq_T[MAX_TEMPS], density, pressure, dt, lo, hi, converged;
  double time_limit, train_time, max_force;
  int npt;
  long long seed;
  /* the molecule a trajectory runs (a copy of L per molecule: explore) */
  int nat, *Z;
  double *mono;
  char formula[32]; /* in the source tags where several molecules are given */
  mlff_frame mol[MAX_MOLECULES];
  double t0; /* start of this run, for --time-limit */
} learn;

/* One iteration's counts (explore.txt's first line) */
typedef struct {
  long samples, accurate, candidates, failed, stopped, chosen;
  long planned; /* the samples of trajectories that run to their end */
} counts;

/* Converged: no trajectory stopped, and the accurate samples are --converged of those planned
 * (a trajectory cut short cannot hide behind the others' samples). */
static int converged(const learn *L, const counts *k) {
  return k->planned > 0 && k->stopped == 0 && k->accurate >= L->converged * k->planned;
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

static char *path_of(const learn *L, int it, const char *name) {
  static char buf[4][4096]; /* a few at once; the command is single-threaded */
  static int k;
  char *p = buf[k++ % 4];
  if (it < 0)
    snprintf(p, 4096, "%s/%s", L->dir, name);
  else
    snprintf(p, 4096, "%s/iter-%02d/%s", L->dir, it, name);
  return p;
}

static double left(const learn *L) {
  return L->time_limit > 0 ? L->time_limit - (cli_now_s() - L->t0) : INFINITY;
}

/* Write text to path whole (temporary name, then rename). */
static int write_whole(const char *path, const char *text) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "w");
  int ok = f && fputs(text, f) >= 0;
  if (f && fclose(f) != 0) ok = 0;
  if (!ok || rename(tmp, path) != 0) {
    fprintf(stderr, "mlff learn: cannot write '%s': %s\n", path, strerror(errno));
    remove(tmp);
    return 1;
  }
  return 0;
}

static char *read_all(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  size_t cap = 4096, n = 0;
  char *s = malloc(cap);
  size_t r;
  while (s && (r = fread(s + n, 1, cap - n - 1, f)) > 0) {
    n += r;
    if (n + 1 >= cap) {
      char *t = realloc(s, cap *= 2);
      if (!t) free(s);
      s = t;
    }
  }
  fclose(f);
  if (s) s[n] = 0;
  return s;
}

/* ---- a growing text buffer (records, histograms) ------------------------------------------ */

typedef struct {
  char *s;
  size_t n, cap;
} text;

static void tx(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tx(text *t, const char *fmt, ...) {
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(t->s ? t->s + t->n : NULL, t->s ? t->cap - t->n : 0, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    if (t->s && t->n + (size_t)k < t->cap) {
      t->n += (size_t)k;
      return;
    }
    size_t cap = t->cap ? t->cap : 1024;
    while (cap < t->n + (size_t)k + 1) cap *= 2;
    char *s = realloc(t->s, cap);
    if (!s) abort();
    t->s = s;
    t->cap = cap;
  }
}

/* ---- training ------------------------------------------------------------------------------ */

typedef struct {
  int it;
  double last;
} train_progress;

static void on_train(const mlff_train_progress *p, void *user) {
  train_progress *tp = user;
  const double t = cli_now_s();
  if (t - tp->last < 10 && p->epoch != p->max_epochs) return;
  tp->last = t;
  char el[32], eta[32];
  cli_fmt_time(p->elapsed_s, el, sizeof el);
  cli_fmt_time(p->eta_s, eta, sizeof eta);
  fprintf(stderr,
          "learn: iteration %d: training member %d/%d, epoch %d/%d, valid F MAE %.1f "
          "meV/Å, %s, ETA %s\n",
          tp->it, p->member + 1, p->n_members, p->epoch, p->max_epochs, 1e3 * p->valid_force_mae,
          el, eta);
}

/* data.h5 = --data plus the labels of iterations 0 .. it-1 (rebuilt at each iteration: a run
 * stopped between an iteration's end and the next training leaves it as it was), less the
 * structures whose teacher forces pass --max-force: atoms pressed into each other, whose forces
 * of hundreds of eV/Å would dominate the loss (water's student once produced 914 eV/Å). */
static int build_data(const learn *L, int it, int *n_out) {
  mlff_dataset *d = NULL, *e = NULL;
  int rc = 1;
  if (mlff_dataset_load(L->data, &d)) goto fail;
  for (int k = 0; k < it; k++) {
    if (!exists(path_of(L, k, "labels.h5"))) continue; /* nothing was labelled then */
    if (mlff_dataset_load(path_of(L, k, "labels.h5"), &e)) goto fail;
    int left_out = 0;
    for (int q = 0; q < mlff_dataset_size(e); q++) {
      mlff_frame f;
      const char *src;
      if (mlff_dataset_get(e, q, &f, &src)) goto fail;
      if (mlff_max_atom_force(f.n_atoms, f.forces) > L->max_force) {
        left_out++;
        continue;
      }
      if (mlff_dataset_add(d, &f, src)) goto fail;
    }
    if (left_out)
      fprintf(stderr,
              "learn: %d of iteration %d's %d labelled structures left out of training: "
              "the teacher's largest atomic force above --max-force %g eV/Å (atoms pressed "
              "into each other)\n",
              left_out, k, mlff_dataset_size(e), L->max_force);
    mlff_dataset_free(e);
    e = NULL;
  }
  if (mlff_dataset_save(d, path_of(L, -1, "data.h5"))) goto fail;
  *n_out = mlff_dataset_size(d);
  rc = 0;
  goto done;
fail:
  cli_fail("learn");
done:
  mlff_dataset_free(d);
  mlff_dataset_free(e);
  return rc;
}

static int train(const learn *L, int it, double *seconds) {
  const double t0 = cli_now_s();
  int n_data = 0;
  if (build_data(L, it, &n_data)) return 1;
  const char *from = it ? path_of(L, it - 1, "model.h5") : L->init;
  mlff_model *m = NULL;
  mlff_dataset *d = NULL;
  int rc = 1;
  if (mlff_model_load(from, &m) || mlff_dataset_load(path_of(L, -1, "data.h5"), &d)) goto fail;
  char sha[65];
  if (mlff_file_sha256(path_of(L, -1, "data.h5"), sha) ||
      mlff_model_set_attr(m, "dataset_sha256", sha))
    goto fail;
  mlff_train_options o;
  mlff_train_options_default(&o);
  o.committee = L->committee;
  o.max_epochs = L->epochs;
  o.seed = (uint64_t)L->seed + 1000u * (uint64_t)it;
  o.n_threads = L->threads;
  double limit = L->train_time > 0 ? L->train_time : 0;
  if (isfinite(left(L)) && (limit == 0 || left(L) < limit)) limit = left(L) > 1 ? left(L) : 1;
  o.time_limit_s = limit;
  train_progress tp = {it, cli_now_s()};
  o.progress = on_train;
  o.user = &tp;
  fprintf(stderr, "learn: iteration %d: training a committee of %d on %d structures (from %s)\n",
          it, L->committee, n_data, from);
  if (mlff_train(m, d, &o) || mlff_model_save(m, path_of(L, it, "model.h5"))) goto fail;
  rc = 0;
  goto done;
fail:
  cli_fail("learn");
done:
  mlff_model_free(m);
  mlff_dataset_free(d);
  *seconds = cli_now_s() - t0;
  return rc;
}

/* ---- exploration --------------------------------------------------------------------------- */

/* A candidate: an open structure for the teacher and where it came from */
typedef struct {
  int n;
  int *Z;
  double *x;
  double sigma;
  int group; /* its trajectory: the draw takes from every trajectory in turn */
  char tag[256];
} candidate;

typedef struct {
  candidate *c;
  int n, cap, n_groups;
  counts k;
  long hist[2][HIST_BINS + 1]; /* gas, liquid: samples per bin (the last: >= 10 eV/Å) */
  text traj;                   /* explore.txt's trajectory lines */
} exploration;

static int hist_bin(double s) {
  if (!(s > 1e-3)) return 0;
  int b = (int)floor(log10(s / 1e-3) * HIST_BINS / 4.0);
  return b < HIST_BINS ? b : HIST_BINS;
}

static int add_candidate(exploration *E, int n, const int *Z, const double *x, double sigma,
                         const char *tag) {
  if (E->n == E->cap) {
    int cap = E->cap ? 2 * E->cap : 64;
    candidate *c = realloc(E->c, cap * sizeof *c);
    if (!c) return 1;
    E->c = c;
    E->cap = cap;
  }
  candidate *c = &E->c[E->n];
  c->n = n;
  c->Z = malloc(n * sizeof *c->Z);
  c->x = malloc(3 * (size_t)n * sizeof *c->x);
  if (!c->Z || !c->x) {
    free(c->Z);
    free(c->x);
    return 1;
  }
  memcpy(c->Z, Z, n * sizeof *Z);
  memcpy(c->x, x, 3 * (size_t)n * sizeof *x);
  c->sigma = sigma;
  c->group = E->n_groups;
  snprintf(c->tag, sizeof c->tag, "%s", tag);
  E->n++;
  return 0;
}

static double temperature(const mlff_smp_md *md) {
  double ke2 = 0;
  for (int i = 0; i < md->nat; i++)
    for (int k = 0; k < 3; k++) ke2 += md->mass[i] * md->v[3 * i + k] * md->v[3 * i + k];
  return ke2 / MLFF_ACC_UNIT / (3.0 * md->nat * MLFF_KB_EV);
}

/* Molecule q's atoms as the ones trajectories run, and its Hill formula (C, H, then the rest
 * alphabetically; all alphabetically without carbon) */
static void select_molecule(learn *L, int q) {
  const mlff_frame *f = &L->mol[q];
  L->nat = f->n_atoms;
  L->Z = f->atomic_numbers;
  L->mono = f->positions;
  int count[119] = {0}, has_c = 0;
  for (int i = 0; i < f->n_atoms; i++)
    if (f->atomic_numbers[i] > 0 && f->atomic_numbers[i] < 119) count[f->atomic_numbers[i]]++;
  has_c = count[6] > 0;
  const char *order[119];
  int n = 0;
  for (int z = 1; z < 119; z++)
    if (count[z] && !(has_c && (z == 6 || z == 1)) && mlff_element_symbol(z))
      order[n++] = mlff_element_symbol(z);
  for (int a = 1; a < n; a++) /* alphabetical */
    for (int b = a; b > 0 && strcmp(order[b], order[b - 1]) < 0; b--) {
      const char *t = order[b];
      order[b] = order[b - 1];
      order[b - 1] = t;
    }
  size_t k = 0;
  L->formula[0] = 0;
  for (int e = has_c ? -2 : 0; e < n && k < sizeof L->formula - 8; e++) {
    const char *sym = e == -2 ? "C" : e == -1 ? "H" : order[e];
    const int c = count[mlff_atomic_number(sym)];
    if (!c) continue;
    k += (size_t)snprintf(L->formula + k, sizeof L->formula - k, c > 1 ? "%s%d" : "%s", sym, c);
  }
}

/* A liquid sample's candidates: spheres of `keep` whole molecules around its most uncertain
 * atoms, at most max_spheres of them (--spheres; as many as fit, up to MAX_SPHERES, from a
 * packed start beyond the trust region: a student that cannot hold the liquid learns it from
 * there), each centred outside the spheres before it (a sphere that would reach its own image
 * is not taken). Nonzero only when out of memory. */
static int liquid_spheres(const learn *L, exploration *E, const mlff_model_box *box, int n_mol,
                          const double *x, double *whole, double *sphere, const int *Zs, int keep,
                          double sigma, const char *tag, int step, double density,
                          int max_spheres) {
  const int nat = box->nat;
  const double s = box->cell[0];
  double centres[3 * MAX_SPHERES], radii[MAX_SPHERES];
  int n_sph = 0;
  memcpy(whole, x, 3 * (size_t)nat * sizeof *whole);
  mlff_smp_make_whole(n_mol, L->nat, whole, s);
  int *order = malloc(nat * sizeof *order);
  if (!order) return 1;
  for (int i = 0; i < nat; i++) order[i] = i;
  for (int a = 1; a < nat; a++) /* by deviation, largest first (insertion: a few hundred atoms) */
    for (int b = a; b > 0 && box->deviation[order[b]] > box->deviation[order[b - 1]]; b--) {
      int t = order[b];
      order[b] = order[b - 1];
      order[b - 1] = t;
    }
  for (int q = 0; q < nat && n_sph < max_spheres; q++) {
    const int i = order[q];
    double c[3];
    for (int k = 0; k < 3; k++) c[k] = x[3 * i + k] - s * floor(x[3 * i + k] / s);
    int inside = 0;
    for (int p = 0; p < n_sph && !inside; p++) {
      double r2 = 0;
      for (int k = 0; k < 3; k++) {
        double d = c[k] - centres[3 * p + k];
        d -= s * round(d / s);
        r2 += d * d;
      }
      inside = r2 < radii[p] * radii[p];
    }
    double radius;
    if (inside || mlff_smp_carve(n_mol, L->nat, L->Z, whole, s, c, keep, sphere, &radius) != 0)
      continue;
    memcpy(centres + 3 * n_sph, c, sizeof c);
    radii[n_sph++] = radius;
    char ctag[256];
    snprintf(ctag, sizeof ctag, "source=%s deviation=%.5g step=%d density=%.4f atom=%d", tag, sigma,
             step, density, i + 1);
    if (add_candidate(E, keep * L->nat, Zs, sphere, sigma, ctag)) {
      free(order);
      return 1;
    }
  }
  free(order);
  return 0;
}

/* n steps of md, one at a time: every step's forces give the committee's deviation anyway, so
 * the interval stops (*early = 1) at the first step where it reaches hi, and that step, not a
 * later one where molecules may already have been pressed into each other, is the sample. */
static mlff_status advance(mlff_smp_md *md, int n, const double *sigma, double hi, int *early) {
  *early = 0;
  for (int k = 0; k < n; k++) {
    mlff_status st = mlff_smp_md_step(md, 1);
    if (st) return st;
    if (!(*sigma < hi)) {
      *early = 1;
      break;
    }
  }
  return MLFF_OK;
}

/* One trajectory: phase 0 gas, 1 liquid. Its samples are counted and its candidates kept;
 * returns nonzero only on an error that is not the trajectory's failure (out of memory). */
static int trajectory(const learn *L, const mlff_model *m, mlff_calc *calc, exploration *E, int it,
                      int phase, double T, int which, int traj) {
  mlff_smp_rng rng;
  mlff_smp_rng_seed(&rng, (uint64_t)L->seed,
                    1000000u * (uint64_t)it + 100000u * phase + 1000u * (uint64_t)which + traj,
                    (uint64_t)lround(T * 1000));
  const int n_mol = phase ? L->liquid_molecules : 1, nat = n_mol * L->nat;
  int *Z = malloc(nat * sizeof *Z), *sp = malloc(nat * sizeof *sp);
  double *x0 = malloc(3 * (size_t)nat * sizeof *x0), *dev = malloc(nat * sizeof *dev);
  double *whole = malloc(3 * (size_t)nat * sizeof *whole),
         *v0 = malloc(3 * (size_t)nat * sizeof *v0);
  const int keep = L->cluster_molecules < n_mol ? L->cluster_molecules : n_mol;
  double *sphere = malloc(3 * (size_t)keep * L->nat * sizeof *sphere);
  int *Zs = malloc((size_t)keep * L->nat * sizeof *Zs);
  const double **mono = malloc(n_mol * sizeof *mono);
  int rc = 1;
  mlff_smp_md md = {0};
  if (!Z || !sp || !x0 || !dev || !whole || !v0 || !sphere || !Zs || !mono) goto done;
  for (int i = 0; i < nat; i++) {
    Z[i] = L->Z[i % L->nat];
    sp[i] = mlff_model_find_element(m, mlff_element_symbol(Z[i]));
  }
  for (int i = 0; i < keep * L->nat; i++) Zs[i] = L->Z[i % L->nat];
  for (int q = 0; q < n_mol; q++) mono[q] = L->mono;
  mlff_model_box box = {calc, nat, sp, {0}, {0}, dev, 0};
  mlff_model_molecule mol = {calc, nat, sp, 0};
  double side = 0;
  if (phase) {
    side = mlff_smp_box_side(n_mol, L->nat, L->Z, L->density);
    if (mlff_smp_liquid_box(&rng, n_mol, L->nat, L->Z, mono, side, LIQUID_CONTACT, 100000, x0) <
        0) {
      fprintf(stderr,
              "mlff learn: could not pack %d molecules at %g g/cm^3 (a box of %.2f Å); "
              "give a lower --liquid-density or more --liquid-molecules\n",
              n_mol, L->density, side);
      goto done;
    }
    box.cell[0] = box.cell[4] = box.cell[8] = side;
  } else {
    memcpy(x0, L->mono, 3 * (size_t)nat * sizeof *x0);
  }
  char tag[96];
  snprintf(tag, sizeof tag, "learn%02d_%s%g%s%s", it, phase ? "liquid" : "gas", T,
           L->n_molecules > 1 ? "_" : "", L->n_molecules > 1 ? L->formula : "");
  /* Maxwell-Boltzmann velocities at T, without the centre of mass's drift */
  double P[3] = {0, 0, 0}, M = 0;
  for (int i = 0; i < nat; i++) {
    const double mi = mlff_atomic_mass(Z[i]), sd = sqrt(MLFF_KB_EV * T * MLFF_ACC_UNIT / mi);
    for (int k = 0; k < 3; k++) P[k] += mi * (v0[3 * i + k] = sd * mlff_smp_normal(&rng));
    M += mi;
  }
  for (int i = 0; i < nat; i++)
    for (int k = 0; k < 3; k++) v0[3 * i + k] -= P[k] / M;
  mlff_status st = mlff_smp_md_init_fn(
      &md, phase ? mlff_model_box_forces : mlff_model_molecule_forces,
      phase ? (void *)&box : (void *)&mol, nat, Z, x0, v0, L->dt, GAMMA, T, &rng);
  long samples = 0, accurate = 0, cands = 0, failed = 0;
  int stopped = 0;
  const char *why = "ran";
  tx(&E->traj, "%s traj %d sigma", tag, traj);
  /* the start is a sample too; it is a structure of our making, not the student's: it is
   * labelled whenever sigma >= LO, above HI as well, and the dynamics go on from it even then
   * (a packed box has contacts no liquid has, which its first steps relax; a student that
   * cannot hold the liquid stops at the next sample and learns it from the start's spheres) */
  for (int step = 0; !st && step <= L->md_steps; step += L->sample_every) {
    const double *now_sigma = phase ? &box.max_deviation : &mol.max_deviation;
    int early = 0; /* the interval ended where sigma first reached HI */
    if (step == L->sample_every && phase && L->equilibration) { /* quench the packing */
      md.gamma = GAMMA_QUENCH;
      st = advance(&md, L->equilibration, now_sigma, L->hi, &early);
      md.gamma = GAMMA;
      if (st) break;
    }
    if (step && !early) {
      st = advance(&md, L->sample_every, now_sigma, L->hi, &early);
      if (!st && !early && phase && L->npt)
        st = mlff_smp_berendsen(&md, &box, n_mol, L->nat, L->pressure, TAU_P, COMPRESSIBILITY,
                                L->sample_every * L->dt, NULL);
      if (st) break;
    }
    const double sigma = phase ? box.max_deviation : mol.max_deviation, Tn = temperature(&md);
    samples++;
    tx(&E->traj, " %.4g", sigma);
    E->hist[phase][hist_bin(sigma)]++;
    if (!isfinite(sigma) || !isfinite(Tn) || (step && Tn > BLOWUP_T * T)) {
      failed++;
      why = "blew up";
      stopped = 1;
      break;
    }
    const int beyond = sigma >= L->hi;
    if (beyond) {
      failed++;
      if (step) {
        why = "left the trust region";
        stopped = 1;
        /* where it left, while still near its temperature, it is labelled too: without that a
         * student that cannot hold a liquid for one interval never learns past its start */
        if (Tn > LEFT_T * T) break;
      }
    } else if (sigma < L->lo) {
      accurate++;
      continue;
    } else {
      cands++;
    }
    char ctag[256];
    if (!phase) {
      snprintf(ctag, sizeof ctag, "source=%s deviation=%.5g step=%d", tag, sigma, step);
      if (add_candidate(E, nat, Z, md.x, sigma, ctag)) goto done;
    } else if (liquid_spheres(L, E, &box, n_mol, md.x, whole, sphere, Zs, keep, sigma, tag, step,
                              L->density * pow(side / box.cell[0], 3),
                              beyond && !step ? MAX_SPHERES : L->spheres))
      goto done;
    if (stopped) break;
  }
  if (st) { /* the student's forces failed (not finite, atoms too close): a failure */
    fprintf(stderr, "learn: %s trajectory %d stopped: %s\n", tag, traj, mlff_last_error());
    failed++;
    stopped = 1;
    why = "failed";
  }
  tx(&E->traj, "\n");
  E->n_groups++;
  if (stopped) E->k.stopped++;
  E->k.planned += L->md_steps / L->sample_every + 1;
  E->k.samples += samples;
  E->k.accurate += accurate;
  E->k.candidates += cands;
  E->k.failed += failed;
  fprintf(stderr,
          "learn: iteration %d: %s trajectory %d %s: %ld samples, %ld accurate, %ld "
          "candidates, %ld failed, final T %.0f K%s",
          it, tag, traj, why, samples, accurate, cands, failed, temperature(&md),
          phase ? "" : "\n");
  if (phase) fprintf(stderr, ", density %.3f g/cm^3\n", L->density * pow(side / box.cell[0], 3));
  rc = 0;
done:
  mlff_smp_md_free(&md);
  free(Z);
  free(sp);
  free(x0);
  free(dev);
  free(whole);
  free(v0);
  free(sphere);
  free(Zs);
  free(mono);
  if (rc) fprintf(stderr, "mlff learn: out of memory in the exploration\n");
  return rc;
}

/* Explore with iteration it's committee; write explore.txt and candidates.xyz. */
static int explore(const learn *L, int it, double *seconds) {
  const double t0 = cli_now_s();
  mlff_model *m = NULL;
  mlff_calc *calc = NULL;
  exploration E;
  memset(&E, 0, sizeof E);
  int rc = 1;
  mlff_calc_options co;
  mlff_calc_options_default(&co);
  co.device = MLFF_DEVICE_CPU; /* small systems, double precision: the samples' deviations */
  co.n_threads = L->threads;
  if (mlff_model_load(path_of(L, it, "model.h5"), &m) || mlff_calc_create(m, &co, &calc)) {
    cli_fail("learn");
    goto done;
  }
  for (int phase = 0; phase < 2; phase++)
    for (int q = 0; q < (phase ? 1 : L->n_molecules); q++) { /* a liquid: of molecule 0 */
      learn Lm = *L;
      select_molecule(&Lm, q);
      for (int t = 0; t < (phase ? L->n_liq : L->n_gas); t++)
        for (int j = 0; j < L->trajectories; j++)
          if (trajectory(&Lm, m, calc, &E, it, phase, phase ? L->liq_T[t] : L->gas_T[t], q, j))
            goto done;
    }
  /* up to --max-label candidates: from each trajectory in turn, at random within it (so that
   * a phase with few candidates, a liquid that fails at once, is not drowned by another's) */
  int *pick = malloc((E.n ? E.n : 1) * sizeof *pick),
      *order = malloc((E.n ? E.n : 1) * sizeof *order);
  if (!pick || !order) {
    free(pick);
    free(order);
    goto done;
  }
  mlff_smp_rng rng;
  mlff_smp_rng_seed(&rng, (uint64_t)L->seed, 7, (uint64_t)it);
  for (int q = 0; q < E.n; q++) order[q] = q;
  for (int q = E.n - 1; q > 0; q--) { /* shuffle */
    int r = (int)(mlff_smp_uniform(&rng) * (q + 1)), tmp = order[q];
    order[q] = order[r];
    order[r] = tmp;
  }
  int n_pick = 0;
  for (int round = 0; n_pick < L->max_label && n_pick < E.n; round++)
    for (int g = 0; g < E.n_groups && n_pick < L->max_label; g++) {
      int seen = 0; /* the round-th of group g in the shuffled order */
      for (int q = 0; q < E.n; q++)
        if (E.c[order[q]].group == g && seen++ == round) {
          pick[n_pick++] = order[q];
          break;
        }
    }
  free(order);
  for (int a = 1; a < n_pick; a++) /* in the order they were found */
    for (int b = a; b > 0 && pick[b] < pick[b - 1]; b--) {
      int tmp = pick[b];
      pick[b] = pick[b - 1];
      pick[b - 1] = tmp;
    }
  E.k.chosen = n_pick;
  mlff_frame *fr = calloc(n_pick ? n_pick : 1, sizeof *fr);
  const char **com = calloc(n_pick ? n_pick : 1, sizeof *com);
  if (!fr || !com) {
    free(pick);
    free(fr);
    free(com);
    goto done;
  }
  for (int q = 0; q < n_pick; q++) {
    const candidate *c = &E.c[pick[q]];
    fr[q].n_atoms = c->n;
    fr[q].atomic_numbers = c->Z;
    fr[q].positions = c->x;
    com[q] = c->tag;
  }
  text t = {0};
  tx(&t, "%ld %ld %ld %ld %ld %ld %ld\n", E.k.samples, E.k.accurate, E.k.candidates, E.k.failed,
     E.k.stopped, E.k.chosen, E.k.planned);
  for (int ph = 0; ph < 2; ph++) {
    tx(&t, "hist %s", ph ? "liquid" : "gas");
    for (int b = 0; b <= HIST_BINS; b++) tx(&t, " %ld", E.hist[ph][b]);
    tx(&t, "\n");
  }
  if (E.traj.s) tx(&t, "%s", E.traj.s);
  /* candidates first: explore.txt present means the exploration is done */
  if (mlff_write_extxyz(path_of(L, it, "candidates.xyz"), fr, n_pick, com))
    cli_fail("learn");
  else
    rc = write_whole(path_of(L, it, "explore.txt"), t.s);
  free(t.s);
  free(pick);
  free(fr);
  free(com);
done:
  for (int q = 0; q < E.n; q++) {
    free(E.c[q].Z);
    free(E.c[q].x);
  }
  free(E.c);
  free(E.traj.s);
  mlff_calc_free(calc);
  mlff_model_free(m);
  *seconds = cli_now_s() - t0;
  return rc;
}

static int read_counts(const learn *L, int it, counts *k, char **body) {
  char *s = read_all(path_of(L, it, "explore.txt"));
  if (!s || sscanf(s, "%ld %ld %ld %ld %ld %ld %ld", &k->samples, &k->accurate, &k->candidates,
                   &k->failed, &k->stopped, &k->chosen, &k->planned) != 7) {
    fprintf(stderr,
            "mlff learn: '%s' is damaged (its first line: seven counts): remove it to "
            "explore again\n",
            path_of(L, it, "explore.txt"));
    free(s);
    return 1;
  }
  *body = s;
  return 0;
}

/* ---- labelling ----------------------------------------------------------------------------- */

/* Label candidates.xyz into labels.h5, resuming after the structures already there. */
static int label(const learn *L, int it, const counts *c, double *seconds) {
  const double t0 = cli_now_s();
  mlff_frame *fr = NULL;
  int n = 0, done_n = 0, rc = 1;
  mlff_teacher *t = NULL;
  mlff_dataset *chunk = NULL, *have = NULL;
  const char *out = path_of(L, it, "labels.h5");
  if (c->chosen == 0) { /* nothing to label: candidates.xyz is empty */
    *seconds = 0;
    return 0;
  }
  if (mlff_read_extxyz(path_of(L, it, "candidates.xyz"), &fr, &n)) goto fail;
  cli_remove_stale_temps(out);
  if (exists(out)) {
    if (mlff_dataset_load(out, &have)) goto fail;
    done_n = mlff_dataset_size(have);
  }
  if (done_n >= n) {
    rc = 0;
    goto done;
  }
  if (mlff_teacher_create_xtb(&t)) goto fail;
  /* the source tags are in the comment lines, which the reader does not keep */
  FILE *f = fopen(path_of(L, it, "candidates.xyz"), "r");
  char line[512], **src = calloc(n, sizeof *src);
  int q = 0;
  while (f && src && q < n && fgets(line, sizeof line, f)) {
    char *p = strstr(line, "source=");
    if (!p) continue;
    p += 7;
    p[strcspn(p, " \n")] = 0;
    src[q++] = strdup(p);
  }
  if (f) fclose(f);
  if (!src || q != n) {
    fprintf(stderr,
            "mlff learn: '%s': %d of %d frames carry source=: remove it to explore "
            "again\n",
            path_of(L, it, "candidates.xyz"), q, n);
    goto fail_src;
  }
  double last = cli_now_s();
  for (int k = done_n; k < n; k++) {
    mlff_frame *g = &fr[k];
    g->forces = malloc(3 * (size_t)g->n_atoms * sizeof *g->forces);
    if (!g->forces) goto fail_src;
    if (mlff_teacher_compute(t, g, &g->energy, g->forces)) {
      cli_fail("learn");
      goto fail_src;
    }
    g->has_energy = g->has_forces = 1;
    if (!chunk && mlff_dataset_create(&chunk)) goto fail_src;
    if (mlff_dataset_add(chunk, g, src[k])) goto fail_src;
    if (mlff_dataset_size(chunk) == LABEL_CHUNK || k == n - 1) {
      if (mlff_dataset_set_attr(chunk, "teacher", mlff_teacher_name(t)) ||
          mlff_dataset_append(chunk, out))
        goto fail_src;
      mlff_dataset_free(chunk);
      chunk = NULL;
    }
    if (cli_now_s() - last > 10 || k == n - 1) {
      last = cli_now_s();
      const double rate = (k + 1 - done_n) / (last - t0);
      char el[32], eta[32];
      cli_fmt_time(last - t0, el, sizeof el);
      cli_fmt_time((n - k - 1) / rate, eta, sizeof eta);
      fprintf(stderr, "learn: iteration %d: labelled %d/%d, %s, ETA %s\n", it, k + 1, n, el, eta);
    }
  }
  rc = 0;
fail_src:
  if (rc) cli_fail("learn");
  for (int k = 0; src && k < n; k++) free(src[k]);
  free(src);
  goto done;
fail:
  cli_fail("learn");
done:
  mlff_teacher_free(t);
  mlff_dataset_free(chunk);
  mlff_dataset_free(have);
  mlff_frames_free(fr, n);
  *seconds = cli_now_s() - t0;
  return rc;
}

/* The committee of iteration `model_it` on the labels of iteration `labels_it`: each structure's
 * largest per-atom deviation (sig[], when given, sized by the label count) and, for the record,
 * pairs "sigma max|dF| mean|dF|", the force MAE and the count over --max-force */
static int eval_labels(const learn *L, int model_it, int labels_it, text *pairs, double *mae,
                       int *over, double **sig, int *n_sig) {
  *mae = NAN;
  *over = 0;
  if (sig) *sig = NULL, *n_sig = 0;
  if (!exists(path_of(L, labels_it, "labels.h5"))) return 0;
  mlff_model *m = NULL;
  mlff_calc *c = NULL;
  mlff_dataset *d = NULL;
  int rc = 1;
  double *F = NULL, *dv = NULL;
  int *sp = NULL;
  mlff_calc_options co;
  mlff_calc_options_default(&co);
  co.device = MLFF_DEVICE_CPU;
  co.n_threads = L->threads;
  if (mlff_model_load(path_of(L, model_it, "model.h5"), &m) || mlff_calc_create(m, &co, &c) ||
      mlff_dataset_load(path_of(L, labels_it, "labels.h5"), &d))
    goto done;
  if (sig && !(*sig = calloc((size_t)mlff_dataset_size(d) + 1, sizeof **sig))) goto done;
  double sum = 0;
  long atoms = 0;
  for (int q = 0; q < mlff_dataset_size(d); q++) {
    mlff_frame f;
    const char *src;
    if (mlff_dataset_get(d, q, &f, &src)) goto done;
    const int too_strong = mlff_max_atom_force(f.n_atoms, f.forces) > L->max_force;
    *over += too_strong;
    free(F), free(dv), free(sp);
    F = malloc(3 * (size_t)f.n_atoms * sizeof *F);
    dv = malloc((size_t)f.n_atoms * sizeof *dv);
    sp = malloc((size_t)f.n_atoms * sizeof *sp);
    if (!F || !dv || !sp || mlff_frame_species(m, &f, sp)) goto done;
    mlff_structure s = mlff_frame_structure(&f, sp);
    mlff_result r;
    memset(&r, 0, sizeof r);
    r.forces = F;
    r.force_deviation = dv;
    if (mlff_compute(c, &s, &r)) goto done;
    if (sig && !too_strong) (*sig)[(*n_sig)++] = r.max_force_deviation; /* trained on */
    double worst = 0, mean = 0;
    for (int i = 0; i < f.n_atoms; i++) {
      double e2 = 0;
      for (int k = 0; k < 3; k++) {
        const double e = F[3 * i + k] - f.forces[3 * i + k];
        e2 += e * e;
        sum += fabs(e);
      }
      mean += sqrt(e2) / f.n_atoms;
      if (sqrt(e2) > worst) worst = sqrt(e2);
    }
    atoms += f.n_atoms;
    if (pairs) tx(pairs, "%s[%.5g, %.5g, %.5g]", q ? ", " : "", r.max_force_deviation, worst, mean);
  }
  *mae = atoms ? sum / (3.0 * atoms) : NAN;
  rc = 0;
done:
  if (rc) cli_fail("learn");
  free(F);
  free(dv);
  free(sp);
  mlff_dataset_free(d);
  mlff_calc_free(c);
  mlff_model_free(m);
  return rc;
}

static int cmp_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The committee's deviation on what it was trained on: iteration it's members on iteration
 * it-1's labels (now in their data). Where its median reaches LO, structures like those the
 * loop labelled do not count as accurate: the members disagree even where they were taught
 * (too little training on them, a teacher whose forces depend on more than a student sees, or a
 * student too small), and no iteration converges while it lasts. NAN at iteration 0 (nothing
 * labelled before it). */
static int known_deviation(const learn *L, int it, double *median) {
  *median = NAN;
  if (it == 0) return 0;
  double *sig, mae;
  int n, over;
  if (eval_labels(L, it, it - 1, NULL, &mae, &over, &sig, &n)) {
    free(sig);
    return 1;
  }
  if (n > 0) {
    qsort(sig, (size_t)n, sizeof *sig, cmp_double);
    *median = n % 2 ? sig[n / 2] : 0.5 * (sig[n / 2 - 1] + sig[n / 2]);
  }
  free(sig);
  return 0;
}

/* ---- the record ---------------------------------------------------------------------------- */

static void json_number(text *t, double v) {
  if (isfinite(v))
    tx(t, "%.6g", v);
  else
    tx(t, "null");
}

/* body: explore.txt after its counts' line (its histograms and trajectories), taken apart */
static int finish_iteration(const learn *L, int it, counts k, char *body, const double sec[3]) {
  text pairs = {0};
  double cand_mae, known;
  int over;
  if (eval_labels(L, it, it, &pairs, &cand_mae, &over, NULL, NULL) ||
      known_deviation(L, it, &known)) {
    free(pairs.s);
    return 1;
  }
  if (known >= L->lo)
    fprintf(stderr,
            "learn: iteration %d: warning: the committee's deviation on the structures it was "
            "trained on, those labelled in iteration %d, has a median of %.3g eV/Å, not below "
            "the lower trust level %g: while it stays there, samples like them do not count as "
            "accurate and the loop cannot converge. Causes: too little training on them (a few "
            "among many: more --train-time or --epochs), a teacher whose forces depend on more "
            "than the cutoff shows (bench/teacher_locality.py), a student too small; or raise "
            "--trust's LO above it\n",
            it, it - 1, known, L->lo);
  mlff_model *m = NULL;
  double valid_f = NAN, test_f = NAN;
  if (!mlff_model_load(path_of(L, it, "model.h5"), &m)) {
    const char *js = mlff_model_attr(m, "training_summary");
    valid_f = cli_summary_number(js, "best_valid", "force_mae_meV_per_A");
    test_f = cli_summary_number(js, "test", "force_mae_meV_per_A");
    mlff_model_free(m);
  }
  text r = {0};
  tx(&r,
     "{\"iteration\": %d, \"samples\": %ld, \"accurate\": %ld, \"candidates\": %ld, "
     "\"failed\": %ld, \"trajectories_stopped\": %ld, \"labelled\": %ld, \"planned\": %ld,\n",
     it, k.samples, k.accurate, k.candidates, k.failed, k.stopped, k.chosen, k.planned);
  tx(&r, "  \"labelled_over_max_force\": %d,\n", over);
  tx(&r, "  \"accurate_fraction\": ");
  json_number(&r, k.planned ? (double)k.accurate / k.planned : NAN);
  tx(&r, ", \"converged\": %s", converged(L, &k) ? "true" : "false");
  tx(&r, ", \"valid_force_mae_meV_per_A\": ");
  json_number(&r, valid_f);
  tx(&r, ", \"test_force_mae_meV_per_A\": ");
  json_number(&r, test_f);
  tx(&r, ", \"candidates_force_mae_meV_per_A\": ");
  json_number(&r, 1e3 * cand_mae);
  tx(&r, ",\n  \"known_deviation_median_eV_per_A\": ");
  json_number(&r, known);
  tx(&r, ",\n  \"seconds\": {\"train\": %.1f, \"explore\": %.1f, \"label\": %.1f},\n", sec[0],
     sec[1], sec[2]);
  tx(&r, "  \"candidates_deviation_max_error_mean_error\": [%s],\n", pairs.s ? pairs.s : "");
  /* histograms and trajectories from explore.txt */
  tx(&r, "  \"histogram_lower_edges_eV_per_A\": [");
  for (int b = 0; b <= HIST_BINS; b++)
    tx(&r, "%s%.4g", b ? ", " : "", 1e-3 * pow(10, 4.0 * b / HIST_BINS));
  tx(&r, "],\n");
  char *line = strtok(strchr(body, '\n') ? strchr(body, '\n') + 1 : body, "\n");
  int first_traj = 1;
  for (; line; line = strtok(NULL, "\n")) {
    char name[32];
    int used = 0;
    if (sscanf(line, "hist %31s%n", name, &used) == 1) {
      tx(&r, "  \"histogram_%s\": [", name);
      char *p = line + used, *end;
      for (int b = 0; b <= HIST_BINS; b++, p = end)
        tx(&r, "%s%ld", b ? ", " : "", strtol(p, &end, 10));
      tx(&r, "],\n");
      continue;
    }
    int traj;
    if (sscanf(line, "%31s traj %d sigma%n", name, &traj, &used) == 2) {
      tx(&r, "%s    {\"source\": \"%s\", \"trajectory\": %d, \"sigma\": [",
         first_traj ? "  \"trajectories\": [\n" : ",\n", name, traj);
      char *p = line + used, *end;
      for (int q = 0;; q++, p = end) {
        double v = strtod(p, &end);
        if (end == p) break;
        tx(&r, "%s", q ? ", " : "");
        json_number(&r, v);
      }
      tx(&r, "]}");
      first_traj = 0;
    }
  }
  tx(&r, "%s]}\n", first_traj ? "  \"trajectories\": [" : "\n  ");
  free(pairs.s);
  int rc = write_whole(path_of(L, it, "record.json"), r.s);
  free(r.s);
  if (rc) return 1;
  printf("iteration %d: %ld of %ld planned samples, %.1f%% accurate, %ld candidates, %ld failed "
         "(%ld trajectories stopped), %ld labelled; force MAE %.1f meV/Å validation, %.1f on the "
         "labelled candidates; %.0f s (train %.0f, explore %.0f, label %.0f)\n",
         it, k.samples, k.planned, k.planned ? 100.0 * k.accurate / k.planned : 0.0, k.candidates,
         k.failed, k.stopped, k.chosen, valid_f, 1e3 * cand_mae, sec[0] + sec[1] + sec[2], sec[0],
         sec[1], sec[2]);
  fflush(stdout);
  return 0;
}

static int write_learn_json(const learn *L, int n_iter, const char *status) {
  text t = {0};
  tx(&t,
     "{\"command\": \"mlff learn\", \"committee\": %d, \"trust\": [%g, %g], \"converged\": "
     "%g, \"status\": \"%s\",\n \"iterations\": [\n",
     L->committee, L->lo, L->hi, L->converged, status);
  for (int it = 0; it < n_iter; it++) {
    char *s = read_all(path_of(L, it, "record.json"));
    if (!s) continue;
    size_t n = strlen(s);
    while (n && s[n - 1] == '\n') s[--n] = 0;
    tx(&t, "%s%s", it ? ",\n" : "", s);
    free(s);
  }
  tx(&t, "\n]}\n");
  int rc = write_whole(path_of(L, -1, "learn.json"), t.s);
  free(t.s);
  return rc;
}

/* ---- arguments ----------------------------------------------------------------------------- */

static int usage(const char *fmt, const char *arg) {
  return cli_usage_error("learn", USAGE, fmt, arg);
}

static int parse_list(const char *s, double *v, int *n) {
  *n = 0;
  if (!strcmp(s, "none")) return 1;
  char buf[512];
  snprintf(buf, sizeof buf, "%s", s);
  for (char *p = strtok(buf, ","); p; p = strtok(NULL, ",")) {
    char *end;
    double x = strtod(p, &end);
    if (end == p || *end || !(x > 0) || !(x < 1e5) || *n == MAX_TEMPS) return 0;
    v[(*n)++] = x;
  }
  return *n > 0;
}

static int run(int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    printf("usage: %s\n\n%s", USAGE, HELP);
    return 0;
  }
  learn L = {0};
  L.committee = 4;
  L.n_gas = 1;
  L.gas_T[0] = 300;
  L.liquid_molecules = 32;
  L.pressure = 1.01325;
  L.npt = 1;
  L.trajectories = 1;
  L.md_steps = 2000;
  L.dt = 0.5;
  L.sample_every = 20;
  L.equilibration = 200;
  L.max_force = 10.0;
  L.lo = 0.1;
  L.hi = 0.3;
  L.max_label = 50;
  L.cluster_molecules = 8;
  L.spheres = 3;
  L.iterations = 5;
  L.converged = 0.99;
  L.epochs = 200;
  L.seed = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define VALUE()                                                                                    \
  do {                                                                                             \
    if (!v) return usage("option '%s' needs a value", a);                                          \
    i++;                                                                                           \
  } while (0)
#define COUNT(field, lo_, what)                                                                    \
  do {                                                                                             \
    long long c_;                                                                                  \
    VALUE();                                                                                       \
    if (!cli_parse_count(v, &c_) || c_ < (lo_) || c_ > 100000000)                                  \
      return usage(what " needs an integer of at least " #lo_ ", not '%s'", v);                    \
    L.field = (int)c_;                                                                             \
  } while (0)
#define NUMBER(field, what)                                                                        \
  do {                                                                                             \
    VALUE();                                                                                       \
    if (!cli_parse_number(v, &L.field) || L.field < 0)                                             \
      return usage(what " needs a non-negative number, not '%s'", v);                              \
  } while (0)
    if (!strcmp(a, "--data")) {
      VALUE();
      L.data = v;
    } else if (!strcmp(a, "--molecule")) {
      VALUE();
      if (L.n_molecules == MAX_MOLECULES) return usage("%s", "--molecule: at most 16 molecules");
      L.molecule[L.n_molecules++] = v;
    } else if (!strcmp(a, "--init")) {
      VALUE();
      L.init = v;
    } else if (!strcmp(a, "--committee"))
      COUNT(committee, 2, "--committee");
    else if (!strcmp(a, "--gas-temperatures")) {
      VALUE();
      if (!parse_list(v, L.gas_T, &L.n_gas) && strcmp(v, "none"))
        return usage("--gas-temperatures needs a list of temperatures in K (at most 16) or "
                     "none, not '%s'",
                     v);
    } else if (!strcmp(a, "--liquid-temperatures")) {
      VALUE();
      if (!parse_list(v, L.liq_T, &L.n_liq) && strcmp(v, "none"))
        return usage("--liquid-temperatures needs a list of temperatures in K (at most 16) or "
                     "none, not '%s'",
                     v);
    } else if (!strcmp(a, "--liquid-molecules"))
      COUNT(liquid_molecules, 2, "--liquid-molecules");
    else if (!strcmp(a, "--liquid-density"))
      NUMBER(density, "--liquid-density");
    else if (!strcmp(a, "--pressure")) {
      VALUE();
      if (!strcmp(v, "none"))
        L.npt = 0;
      else if (!cli_parse_number(v, &L.pressure))
        return usage("--pressure needs a number (bar) or none, not '%s'", v);
    } else if (!strcmp(a, "--trajectories"))
      COUNT(trajectories, 1, "--trajectories");
    else if (!strcmp(a, "--md-steps"))
      COUNT(md_steps, 1, "--md-steps");
    else if (!strcmp(a, "--dt"))
      NUMBER(dt, "--dt");
    else if (!strcmp(a, "--sample-every"))
      COUNT(sample_every, 1, "--sample-every");
    else if (!strcmp(a, "--equilibration"))
      COUNT(equilibration, 0, "--equilibration");
    else if (!strcmp(a, "--trust")) {
      VALUE();
      char *end;
      L.lo = strtod(v, &end);
      if (*end != ',' || !cli_parse_number(end + 1, &L.hi) || !(L.lo >= 0) || !(L.hi > L.lo))
        return usage("--trust needs LO,HI with 0 <= LO < HI (eV/Å), not '%s'", v);
    } else if (!strcmp(a, "--max-label"))
      COUNT(max_label, 0, "--max-label");
    else if (!strcmp(a, "--cluster-molecules"))
      COUNT(cluster_molecules, 1, "--cluster-molecules");
    else if (!strcmp(a, "--spheres"))
      COUNT(spheres, 1, "--spheres");
    else if (!strcmp(a, "--iterations"))
      COUNT(iterations, 1, "--iterations");
    else if (!strcmp(a, "--converged"))
      NUMBER(converged, "--converged");
    else if (!strcmp(a, "--time-limit"))
      NUMBER(time_limit, "--time-limit");
    else if (!strcmp(a, "--epochs"))
      COUNT(epochs, 1, "--epochs");
    else if (!strcmp(a, "--train-time"))
      NUMBER(train_time, "--train-time");
    else if (!strcmp(a, "--threads"))
      COUNT(threads, 0, "--threads");
    else if (!strcmp(a, "--seed")) {
      VALUE();
      if (!cli_parse_count(v, &L.seed))
        return usage("--seed needs a non-negative integer, not '%s'", v);
    } else if (a[0] == '-' && a[1])
      return usage("unknown option '%s'", a);
    else if (!L.dir)
      L.dir = a;
    else
      return usage("unexpected argument '%s' (one work folder)", a);
#undef VALUE
#undef COUNT
#undef NUMBER
  }
  if (!L.dir) return usage("%s", "no work folder given");
  if (!L.data) return usage("%s", "--data START.h5 is required (the labelled data to start from)");
  if (!L.n_molecules) return usage("%s", "--molecule MOL.xyz is required");
  if (L.n_molecules > 1 && L.n_liq)
    return usage("%s", "a liquid is of one molecule: give one --molecule with "
                       "--liquid-temperatures (mixtures are not supported yet)");
  if (!L.init)
    return usage("%s", "--init MODEL.h5 is required: a model from `mlff init` (a fresh start) "
                       "or a trained student");
  if (L.committee > 16) return usage("%s", "--committee: at most 16 members");
  if (L.spheres > MAX_SPHERES) return usage("%s", "--spheres: at most 16 per sample");
  if (!L.n_gas && !L.n_liq)
    return usage("%s", "nothing to explore: give --gas-temperatures or --liquid-temperatures");
  if (L.n_liq && !(L.density > 0))
    return usage("%s", "--liquid-density G_CM3 is required with --liquid-temperatures (the "
                       "packed box's starting density)");
  if (!(L.dt > 0) || L.dt > 5) return usage("--dt needs a step in (0, 5] fs, not %s", argv[0]);
  if (L.converged > 1) return usage("%s", "--converged is a share of the samples, at most 1");
  if (!(L.max_force > 0)) return usage("%s", "--max-force must be positive (eV/Å)");
  if (L.sample_every > L.md_steps)
    return usage("%s", "--sample-every is longer than --md-steps: no sample would be taken");

  /* the molecules, and the model's elements for them */
  mlff_model *m0 = NULL;
  int rc = 1, n_read = 0;
  for (; n_read < L.n_molecules; n_read++) {
    mlff_frame *mf = NULL;
    int n_mf = 0;
    if (mlff_read_extxyz(L.molecule[n_read], &mf, &n_mf)) {
      cli_fail("learn");
      goto out;
    }
    const int ok = n_mf >= 1 && mf[0].n_atoms >= 1;
    if (ok) { /* the first frame is kept: its arrays move into L.mol */
      L.mol[n_read] = mf[0];
      memset(&mf[0], 0, sizeof mf[0]);
    }
    mlff_frames_free(mf, n_mf);
    if (!ok) {
      fprintf(stderr, "mlff learn: '%s' holds no atoms\n", L.molecule[n_read]);
      goto out;
    }
  }
  select_molecule(&L, 0);
  if (mlff_model_load(L.init, &m0)) {
    rc = cli_fail("learn");
    goto out;
  }
  for (int q = 0; q < L.n_molecules; q++)
    for (int i = 0; i < L.mol[q].n_atoms; i++) {
      const int z = L.mol[q].atomic_numbers[i];
      if (mlff_model_find_element(m0, mlff_element_symbol(z)) < 0) {
        fprintf(stderr,
                "mlff learn: --init '%s' has no element %s, which atom %d of --molecule "
                "'%s' is: give a model of all the molecule's elements (mlff init --elements)\n",
                L.init, mlff_element_symbol(z), i + 1, L.molecule[q]);
        goto out;
      }
    }
  if (L.n_liq) {
    const int need = mlff_smp_liquid_box_molecules(L.cluster_molecules, L.nat, L.Z, L.mono,
                                                   L.density, LIQUID_CONTACT);
    if (need > L.liquid_molecules) {
      fprintf(stderr,
              "mlff learn: --liquid-molecules %d is too few to carve spheres of "
              "--cluster-molecules %d from (at least %d): give more, or fewer per sphere\n",
              L.liquid_molecules, L.cluster_molecules, need);
      goto out;
    }
  }
  { /* the teacher is there, and labelled the start: one teacher per dataset */
    mlff_teacher *t = NULL;
    mlff_dataset *d = NULL;
    if (mlff_teacher_create_xtb(&t) || mlff_dataset_load(L.data, &d)) {
      cli_fail("learn");
      mlff_teacher_free(t);
      goto out;
    }
    const char *had = mlff_dataset_attr(d, "teacher"), *name = mlff_teacher_name(t);
    const int same = !strcmp(had, name);
    if (!same)
      fprintf(stderr,
              "mlff learn: --data '%s' was labelled by '%s', but mlff learn labels with "
              "'%s': the two would be mixed in one dataset; give data labelled by mlff label "
              "with this build's teacher\n",
              L.data, had, name);
    mlff_teacher_free(t);
    mlff_dataset_free(d);
    if (!same) goto out;
  }
  if (mkdir(L.dir, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "mlff learn: cannot create work folder '%s': %s\n", L.dir, strerror(errno));
    goto out;
  }
  L.t0 = cli_now_s();
  const char *status = "iterations";
  int it = 0;
  for (; it < L.iterations; it++) {
    if (exists(path_of(&L, it, "record.json"))) { /* done in an earlier run */
      counts k;
      char *body;
      if (read_counts(&L, it, &k, &body)) goto out;
      free(body);
      fprintf(stderr, "learn: iteration %d done earlier (%s)\n", it,
              path_of(&L, it, "record.json"));
      if (converged(&L, &k)) {
        status = "converged";
        it++;
        break;
      }
      continue;
    }
    if (left(&L) <= 0) {
      status = "time-limit";
      break;
    }
    char d[4096];
    snprintf(d, sizeof d, "%s/iter-%02d", L.dir, it);
    if (mkdir(d, 0777) != 0 && errno != EEXIST) {
      fprintf(stderr, "mlff learn: cannot create '%s': %s\n", d, strerror(errno));
      goto out;
    }
    double sec[3] = {0, 0, 0};
    cli_remove_stale_temps(path_of(&L, it, "model.h5"));
    if (!exists(path_of(&L, it, "model.h5")) && train(&L, it, &sec[0])) goto out;
    if (!exists(path_of(&L, it, "explore.txt"))) {
      if (left(&L) <= 0) {
        status = "time-limit";
        break;
      }
      if (explore(&L, it, &sec[1])) goto out;
    }
    if (left(&L) <= 0) {
      status = "time-limit";
      break;
    }
    counts k;
    char *body;
    if (read_counts(&L, it, &k, &body)) goto out;
    const int failed = label(&L, it, &k, &sec[2]) || finish_iteration(&L, it, k, body, sec) ||
                       write_learn_json(&L, it + 1, "running");
    free(body);
    if (failed) goto out;
    if (converged(&L, &k)) {
      status = "converged";
      it++;
      break;
    }
  }
  if (write_learn_json(&L, it, status)) goto out;
  printf("learn: stopped (%s) after %d iteration%s; the last committee: %s; the record: %s\n",
         status, it, it == 1 ? "" : "s", path_of(&L, it - 1 >= 0 ? it - 1 : 0, "model.h5"),
         path_of(&L, -1, "learn.json"));
  rc = 0;
out:
  mlff_model_free(m0);
  for (int q = 0; q < n_read; q++) {
    free(L.mol[q].atomic_numbers);
    free(L.mol[q].positions);
    free(L.mol[q].forces);
  }
  return rc;
}

const cli_command CMD_LEARN = {"learn", run,
                               "active learning: committee MD, label what it is unsure of, retrain",
                               USAGE, HELP};
