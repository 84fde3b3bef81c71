/* cmd_label_worker.c — `mlff label`'s worker processes (cmd_label.h): each holds its own
 * teacher (GFN2-xTB, one thread) and computes the tasks the main process hands it: an MD
 * trajectory, a batch of normal-mode samples, a batch of cluster geometries to label, or a
 * relaxation; it sends every structure back through its pipe. Every trajectory, relaxation and
 * independent structure starts with a fresh teacher, so that its result does not depend on what
 * this worker computed before (resuming relies on it). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd_label.h"

#define OPT_FMAX 5e-4 /* eV/Å */
#define OPT_STEPS 3000
#define HESSIAN_STEP 0.005 /* Å */

/* ---- pipes ----------------------------------------------------------------------------------- */

int write_full(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n) {
    ssize_t k = write(fd, p, n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return -1;
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

int read_full(int fd, void *buf, size_t n) {
  char *p = buf;
  size_t got = 0;
  while (got < n) {
    ssize_t k = read(fd, p + got, n - got);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return -1;
    if (k == 0) return got ? -1 : 0;
    got += (size_t)k;
  }
  return 1;
}

double cpu_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- worker ---------------------------------------------------------------------------------- */

typedef struct {
  const plan *p;
  int out; /* result pipe */
  mlff_teacher *t;
  int prepared;
  mlff_modes modes;      /* around the optimised geometry */
  double mark, cpu_mark; /* wall and CPU time of the last record */
  long calls;            /* teacher calls since the last record */
} worker;

static int send_text(worker *w, int type, const char *text) {
  rec_msg r = {0};
  r.type = type;
  r.text_len = (int32_t)strlen(text);
  return write_full(w->out, &r, sizeof r) || write_full(w->out, text, (size_t)r.text_len);
}

static int send_structure(worker *w, int64_t k, int n, const double *x, double e, const double *f) {
  rec_msg r = {0};
  double t = cli_now_s(), c = cpu_s();
  r.type = REC_STRUCTURE;
  r.n_atoms = n;
  r.k = k;
  r.energy = e;
  r.seconds = t - w->mark;
  r.cpu_seconds = c - w->cpu_mark;
  r.calls = w->calls;
  w->mark = t;
  w->cpu_mark = c;
  w->calls = 0;
  return write_full(w->out, &r, sizeof r) || write_full(w->out, x, (size_t)n * 3 * sizeof *x) ||
         write_full(w->out, f, (size_t)n * 3 * sizeof *f);
}

/* A teacher with no history: each trajectory and each independent structure starts afresh,
 * so that its result does not depend on what this worker computed before. */
static mlff_status fresh_teacher(worker *w) {
  mlff_teacher_free(w->t);
  w->t = NULL;
  return mlff_teacher_create_xtb(&w->t);
}

static mlff_status prepare(worker *w) {
  if (w->prepared) return MLFF_OK;
  const plan *p = w->p;
  int n = 3 * p->nat, steps = 0;
  double fmax = 0, t0 = cli_now_s();
  double *x = malloc((size_t)n * sizeof *x), *H = malloc((size_t)n * n * sizeof *H);
  mlff_status st = x && H ? MLFF_OK : mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
  if (!st) {
    memcpy(x, p->x, (size_t)n * sizeof *x);
    st = fresh_teacher(w);
  }
  if (!st) st = mlff_smp_optimize(w->t, p->nat, p->Z, x, OPT_FMAX, OPT_STEPS, &steps, &fmax);
  mlff_teacher_molecule mol = {w->t, p->nat, p->Z};
  if (!st)
    st =
        mlff_harmonic_hessian(mlff_teacher_molecule_forces, &mol, p->nat, x, HESSIAN_STEP, H, NULL);
  if (!st) st = mlff_harmonic_modes(p->nat, p->Z, x, H, &w->modes);
  if (!st && !w->modes.converged)
    st = mlff_set_error(MLFF_ERR_ARGUMENT, "normal modes: the Jacobi eigensolver did not converge");
  if (!st) {
    char info[512];
    const mlff_modes *m = &w->modes;
    int first = 0; /* the modes sampled: lambda ascending, those above MLFF_SMP_MIN_EIGEN */
    while (first < m->n_vib && !(m->lambda[first] > MLFF_SMP_MIN_EIGEN)) first++;
    int n_sampled = m->n_vib - first;
    snprintf(info, sizeof info,
             "optimised the molecule in %d teacher calls (largest force "
             "%.1e eV/A%s); Hessian from %d calls: %d vibrational modes, %.0f-%.0f cm^-1%s; "
             "%.1f s",
             steps + 1, fmax, fmax < OPT_FMAX ? "" : ", NOT converged", 2 * n, n_sampled,
             n_sampled ? mlff_harmonic_wavenumber(m->lambda[first]) : 0.0,
             n_sampled ? mlff_harmonic_wavenumber(m->lambda[m->n_vib - 1]) : 0.0,
             m->lambda[0] < -MLFF_SMP_MIN_EIGEN ? " (and imaginary ones, left out: not a minimum)"
                                                : "",
             cli_now_s() - t0);
    send_text(w, REC_INFO, info);
    w->prepared = 1;
    w->mark = cli_now_s(); /* the preparation is reported here, not in the first structure */
    w->cpu_mark = cpu_s();
    w->calls = 0;
  }
  free(x);
  free(H);
  return st;
}

static mlff_status run_md(worker *w, const task_msg *tk) {
  const plan *p = w->p;
  const phase *ph = &p->ph[tk->phase];
  mlff_status st = prepare(w);
  if (st) return st;
  int n = 3 * p->nat;
  double *x = malloc((size_t)n * sizeof *x), *v = malloc((size_t)n * sizeof *v);
  mlff_smp_md md;
  memset(&md, 0, sizeof md);
  mlff_smp_rng rng;
  mlff_smp_rng_seed(&rng, (uint64_t)p->seed, STREAM_MD + (uint64_t)tk->phase, (uint64_t)tk->seg);
  if (!x || !v) st = mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
  if (!st) {
    mlff_smp_modes_sample(&w->modes, &rng, ph->T, x, v);
    st = fresh_teacher(w);
  }
  if (!st) st = mlff_smp_md_init(&md, w->t, p->nat, p->Z, x, v, MD_DT, MD_GAMMA, ph->T, &rng);
  if (!st) st = mlff_smp_md_step(&md, (int)p->equil);
  long counted = 0; /* the equilibration is charged to the first sample */
  for (int64_t j = 0; j < tk->count && !st; j++) {
    if ((st = mlff_smp_md_step(&md, (int)p->interval))) break;
    w->calls += md.calls - counted;
    counted = md.calls;
    int64_t k = tk->first + j;
    if (k >= tk->emit_from && send_structure(w, k, p->nat, md.x, md.energy, md.f))
      st = mlff_set_error(MLFF_ERR_IO, "lost the connection to the main process");
  }
  if (st && md.x) {
    char why[1024];
    snprintf(why, sizeof why, "%s", mlff_last_error());
    st = mlff_set_error(st, "%s trajectory %d: %s", ph->tag, tk->seg, why);
  }
  mlff_smp_md_free(&md);
  free(x);
  free(v);
  return st;
}

static mlff_status label_one(worker *w, int64_t k, int nat, const int *Z, const double *x,
                             double *f) {
  double e;
  mlff_status st = fresh_teacher(w);
  mlff_teacher_molecule mol = {w->t, nat, Z};
  if (!st) st = mlff_teacher_molecule_forces(&mol, x, &e, f);
  w->calls++;
  if (st) {
    char why[1024];
    snprintf(why, sizeof why, "%s", mlff_last_error());
    return mlff_set_error(st, "structure %lld (%s): %s", (long long)k,
                          w->p->ph[phase_of(w->p, k)].tag, why);
  }
  if (send_structure(w, k, nat, x, e, f))
    return mlff_set_error(MLFF_ERR_IO, "lost the connection to the main process");
  return MLFF_OK;
}

static mlff_status run_nm(worker *w, const task_msg *tk) {
  const plan *p = w->p;
  const phase *ph = &p->ph[tk->phase];
  mlff_status st = prepare(w);
  if (st) return st;
  int n = 3 * p->nat;
  double *x = malloc((size_t)n * sizeof *x), *f = malloc((size_t)n * sizeof *f);
  if (!x || !f) st = mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
  for (int64_t j = 0; j < tk->count && !st; j++) {
    int64_t k = tk->first + j;
    mlff_smp_rng rng;
    mlff_smp_rng_seed(&rng, (uint64_t)p->seed, STREAM_NM, (uint64_t)k);
    double T = p->temps[(k - ph->start) % p->n_temps];
    mlff_smp_modes_sample(&w->modes, &rng, T, x, NULL);
    st = label_one(w, k, p->nat, p->Z, x, f);
  }
  free(x);
  free(f);
  return st;
}

static mlff_status run_clusters(worker *w, int in, const task_msg *tk) {
  const plan *p = w->p;
  int nat = atoms_at(p, tk->first);
  double *x = malloc((size_t)nat * 3 * sizeof *x), *f = malloc((size_t)nat * 3 * sizeof *f);
  mlff_status st = x && f ? MLFF_OK : mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
  for (int64_t j = 0; j < tk->count; j++) {
    if (read_full(in, x, (size_t)nat * 3 * sizeof *x) != 1) {
      st = mlff_set_error(MLFF_ERR_IO, "lost the connection to the main process");
      break;
    }
    if (!st) st = label_one(w, tk->first + j, nat, p->Zrep, x, f);
  }
  free(x);
  free(f);
  return st;
}

/* The path of a relaxation: every teacher call's geometry, energy and forces. */
typedef struct {
  int nat, n, cap;
  double *x, *f, *e; /* [cap][nat][3], [cap][nat][3], [cap] */
} path;

static mlff_status keep_point(void *user, int step, const double *x, double e, const double *f) {
  (void)step;
  path *pa = user;
  size_t n3 = (size_t)pa->nat * 3;
  if (pa->n == pa->cap) {
    int cap = pa->cap ? 2 * pa->cap : 16;
    double *nx = realloc(pa->x, cap * n3 * sizeof *nx);
    if (nx) pa->x = nx;
    double *nf = realloc(pa->f, cap * n3 * sizeof *nf);
    if (nf) pa->f = nf;
    double *ne = realloc(pa->e, (size_t)cap * sizeof *ne);
    if (ne) pa->e = ne;
    if (!nx || !nf || !ne) return mlff_set_error(MLFF_ERR_NOMEM, "out of memory (relaxation)");
    pa->cap = cap;
  }
  memcpy(pa->x + pa->n * n3, x, n3 * sizeof *x);
  memcpy(pa->f + pa->n * n3, f, n3 * sizeof *f);
  pa->e[pa->n++] = e;
  return MLFF_OK;
}

/* A relaxed cluster: its starting geometry (from the main process) relaxed with the teacher
 * (FIRE) for up to --relax-steps steps; of the path's points, RELAX_SAVES evenly spaced ones from
 * the start to the end are sent (repeated only where the path is shorter than that). A
 * relaxation is replayed whole on resuming, and only its structures from emit_from on sent. */
static mlff_status run_relax(worker *w, int in, const task_msg *tk) {
  const plan *p = w->p;
  int nat = atoms_at(p, tk->first), steps = 0;
  double *x = malloc((size_t)nat * 3 * sizeof *x);
  path pa = {nat, 0, 0, NULL, NULL, NULL};
  mlff_status st = x ? MLFF_OK : mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
  if (!st && read_full(in, x, (size_t)nat * 3 * sizeof *x) != 1)
    st = mlff_set_error(MLFF_ERR_IO, "lost the connection to the main process");
  if (!st) st = fresh_teacher(w);
  if (!st && (st = mlff_smp_fire(w->t, nat, p->Zrep, x, RELAX_FMAX, (int)p->relax_steps, keep_point,
                                 &pa, &steps, NULL))) {
    char why[1024]; /* say which relaxation failed */
    snprintf(why, sizeof why, "%s", mlff_last_error());
    st = mlff_set_error(st, "relaxation %d (%d atoms), step %d: %s", tk->seg, nat, pa.n, why);
  }
  w->calls += pa.n;
  for (int64_t j = 0; j < tk->count && !st; j++) {
    int64_t k = tk->first + j;
    int i = (int)llround((double)j * (pa.n - 1) / (double)(tk->count - 1));
    size_t at = (size_t)i * nat * 3;
    if (k >= tk->emit_from && send_structure(w, k, nat, pa.x + at, pa.e[i], pa.f + at))
      st = mlff_set_error(MLFF_ERR_IO, "lost the connection to the main process");
  }
  free(x);
  free(pa.x);
  free(pa.f);
  free(pa.e);
  return st;
}

int worker_main(const plan *p, int in, int out) {
  signal(SIGINT, SIG_DFL);
  worker w;
  memset(&w, 0, sizeof w);
  w.p = p;
  w.out = out;
  w.mark = cli_now_s();
  int rc = 0;
  for (;;) {
    task_msg tk;
    int r = read_full(in, &tk, sizeof tk);
    if (r != 1) break;    /* the main process is done (or gone) */
    w.mark = cli_now_s(); /* time per structure: computing only, not waiting for tasks */
    w.cpu_mark = cpu_s();
    w.calls = 0;
    mlff_status st;
    if (tk.kind == PH_MD)
      st = run_md(&w, &tk);
    else if (tk.kind == PH_NM)
      st = run_nm(&w, &tk);
    else if (tk.kind == PH_RELAX)
      st = run_relax(&w, in, &tk);
    else
      st = run_clusters(&w, in, &tk);
    if (st) {
      send_text(&w, REC_ERROR, mlff_last_error());
      rc = 1;
      break;
    }
    rec_msg done = {0};
    done.type = REC_DONE;
    if (write_full(out, &done, sizeof done)) break;
  }
  mlff_teacher_free(w.t);
  mlff_modes_free(&w.modes);
  return rc;
}
