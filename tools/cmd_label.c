/* cmd_label.c — `mlff label`: sample structures around a molecule with the teacher (GFN2-xTB)
 * and write them, labelled, to a dataset file (docs/file_format.md, docs/cli.md). This file: arguments, the plan
 * and the main process; cmd_label_worker.c: the workers, which call the teacher.
 *
 * The plan, in order of structure index k:
 *   md<T>      for each temperature: Langevin dynamics with the teacher (BAOAB, 0.5 fs,
 *              friction 0.01/fs), in independent trajectories of MD_SEGMENT samples: each
 *              starts from a classical harmonic sample (positions and velocities along the
 *              normal modes at T), equilibrates --md-equilibration steps, then yields a sample
 *              every --md-interval steps;
 *   nm         normal-mode displacements: the harmonic Boltzmann distribution at the
 *              temperatures in turn, around the optimised geometry;
 *   dimer, far_dimer, trimer, tetramer
 *              clusters of monomers drawn from the MD samples at the first temperature, with
 *              random orientations and centre distances (3.4–7 Å; 8–12 Å for far dimers,
 *              which pin the isolated-molecule reference), overlaps rejected;
 *   contact_dimer
 *              pairs of such monomers brought together along a random line until their
 *              closest contact is CONTACT_DIMER_LO-HI x 2.0 Å (H..H), half of them with the
 *              same orientation (stacked and slipped pairs of flat molecules): the wall and
 *              well at every orientation, which centre windows miss;
 *   droplet    --droplet-molecules monomers (MD samples as above), each placed 3.4-7 Å from
 *              an earlier one inside a sphere sized for 0.7-1.0 times --droplet-density,
 *              then compacted toward the centre down to closest contacts of 0.9-1.15 x 2.0 Å
 *              (H..H): liquid-like surroundings and the repulsive wall, without which a student
 *              falls apart in the condensed phase;
 *   relaxed    clusters of --relaxed-molecules (drawn) carved as for `liquid`, then relaxed
 *              with the teacher (FIRE) for up to --relax-steps steps: RELAX_SAVES structures
 *              of each path, from its start to its end (the condensed phase near its minimum,
 *              whose interaction energies a model must match);
 *   liquid     spheres of --liquid-molecules whole molecules carved from periodic liquids:
 *              a cubic box of MD monomers at 0.6-1.1 x --liquid-density (contacts as for
 *              droplets, packed by hard-body Monte Carlo), the molecules whose centres lie
 *              nearest a random point, each then moved as a rigid body by thermal motion at
 *              250-450 K (intramolecular motion: the MD samples'), labelled as open clusters;
 *   liquid_md  spheres of --liquid-molecules carved from the periodic frames of --frames (a
 *              student's MD, say): per frame, the first around its tightest intermolecular
 *              contact (where a student that lets molecules press into each other goes wrong),
 *              the others around random points; labelled as they are.
 * Deterministic: everything derives from (seed, k) — an MD trajectory from (seed, its
 * temperature, its number), a relaxation from (seed, its number) — and the teacher starts
 * afresh for every trajectory, relaxation and other structure, runs on one thread, so a
 * structure's bits do not depend on which worker computed it or when. The file grows in
 * chunks (appends at multiples of --chunk); rerun with the same arguments, an interrupted run
 * resumes where the file ends (replaying, without saving, the part of an MD trajectory or a
 * relaxation already there) and ends with the same file as an uninterrupted run.
 *
 * Parallel: --jobs worker processes (fork), each with its own teacher; the parent hands out
 * tasks (an MD trajectory, a batch of normal-mode or cluster structures, a relaxation), builds
 * the cluster geometries, collects results through pipes, writes them in order and shows
 * progress. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd_label.h"

#define NM_BATCH 25
#define CLUSTER_BATCH 10
#define LIQUID_BATCH 2     /* liquid spheres per task: each costs as much as ~15 droplets */
#define CLUSTER_TRIES 100000
#define DROPLET_RETRIES 50 /* fresh radii drawn before a droplet is given up */
#define CONTACT_DIMER_LO 1.0 /* contact dimers' closest contacts, x 2.0 Å (H..H) */
#define CONTACT_DIMER_HI 1.6
#define LIQUID_RETRIES 12  /* boxes packed before a liquid is given up, contacts 3 % closer each */
#define LIQUID_CENTRES 20  /* centres tried in a box before another box is packed */
#define FRAME_CENTRES 50   /* random centres tried in a frame before it is given up */
/* Libxtb keeps large arrays on the stack: single points of 600 benzene atoms or more crash with
 * Linux's default 8 MiB (measured: 480 atoms ran, 600 and 720 did not; 720 ran with 64 MiB). */
#define TEACHER_STACK ((rlim_t)512 << 20)

static const char USAGE[] =
    "mlff label OUT.h5 --molecule MOL.xyz [--temperatures 300,600,900] [--md-structures N]\n"
    "                  [--md-interval STEPS] [--md-equilibration STEPS] [--normal-modes N]\n"
    "                  [--dimers N] [--far-dimers N] [--contact-dimers N] [--trimers N]\n"
    "                  [--tetramers N]\n"
    "                  [--droplets N] [--droplet-molecules M] [--droplet-density G_CM3]\n"
    "                  [--liquids N] [--liquid-molecules M] [--liquid-density G_CM3]\n"
    "                  [--liquid-contact LO-HI]\n"
    "                  [--relaxed N] [--relaxed-molecules LO-HI] [--relax-steps S]\n"
    "                  [--frames FRAMES.xyz] [--frame-spheres N]\n"
    "                  [--seed S] [--chunk N] [--jobs N]";
static const char HELP[] =
    "Sample structures around one molecule and label them with the teacher (GFN2-xTB through\n"
    "libxtb): molecular dynamics at each temperature, normal-mode displacements, clusters\n"
    "of 2-4 molecules, droplets, relaxed clusters and spheres carved from periodic liquids.\n"
    "Writes the dataset OUT.h5 (docs/file_format.md) every --chunk structures; rerun with the same\n"
    "arguments, an interrupted run resumes where OUT.h5 ends and ends with the same file as an\n"
    "uninterrupted one.\n"
    "  --molecule FILE      the molecule (XYZ or extended XYZ; first frame; no cell)\n"
    "  --temperatures LIST  MD and normal-mode temperatures, K (default 300,600,900)\n"
    "  --md-structures N    MD samples per temperature (default 1000)\n"
    "  --md-interval STEPS  0.5 fs steps between MD samples (default 40)\n"
    "  --md-equilibration STEPS\n"
    "                       steps before the first sample of each trajectory of 100 samples\n"
    "                       (default 400 = 200 fs; each starts from a harmonic sample at T)\n"
    "  --normal-modes N     harmonic displacements along the normal modes (default 500)\n"
    "  --dimers N           pairs with centres 3.4-7 Å apart (default 800)\n"
    "  --far-dimers N       pairs with centres 8-12 Å apart (default 500): they pin the\n"
    "                       isolated-molecule energy\n"
    "  --contact-dimers N   pairs brought together along a random line to closest contacts\n"
    "                       of 1.0-1.6 x 2.0 A (H..H), half of them a translated copy\n"
    "                       (half of those along a principal axis of inertia, tilted by\n"
    "                       up to 30 degrees; default 400): the repulsive wall and the well\n"
    "                       at every orientation, stacked pairs of flat molecules included\n"
    "  --trimers N          clusters of three (default 200)\n"
    "  --tetramers N        clusters of four (default 100)\n"
    "  --droplets N         droplets (default 400): liquid-like surroundings, which a model\n"
    "                       needs to hold together in the condensed phase\n"
    "  --droplet-molecules M\n"
    "                       molecules per droplet (default 13: one and its first shell)\n"
    "  --droplet-density G_CM3\n"
    "                       the liquid's density (default 0.874, benzene at 298 K); centres\n"
    "                       lie in a sphere that holds the droplet at 0.7-1.0 times it, then\n"
    "                       are compacted down to closest contacts of 1.8-2.3 A (H..H)\n"
    "  --liquids N          spheres carved from periodic liquids (default 150): a box at\n"
    "                       0.6-1.1 x --liquid-density, contacts as for droplets, the molecules\n"
    "                       nearest a random point, moved as rigid bodies at 250-450 K\n"
    "  --liquid-molecules M molecules per sphere (default 20, at most " MAX_MOL_TEXT ")\n"
    "  --liquid-density G_CM3\n"
    "                       the liquid's density (default: --droplet-density)\n"
    "  --liquid-contact LO-HI\n"
    "                       closest contacts of liquids and relaxed clusters, drawn from LO-HI\n"
    "                       x 2.0 A (H..H; default 0.9-1.15); below 0.9 the student sees the\n"
    "                       repulsive wall that its MD would otherwise find holes in\n"
    "  --relaxed N          relaxed clusters (default 6), 6 structures each: a sphere carved\n"
    "                       as for --liquids, relaxed with the teacher (FIRE), its start, 4\n"
    "                       points of its path and its end\n"
    "  --relaxed-molecules LO-HI\n"
    "                       molecules per relaxed cluster, drawn (default 10-30)\n"
    "  --relax-steps S      FIRE steps at most per relaxation (default 60; 5 or more)\n"
    "                       (clusters, droplets, liquids and relaxed clusters take their monomers\n"
    "                       from the MD samples at the first temperature, random orientations)\n"
    "  --frames FILE        periodic frames of a liquid of --molecule (extended XYZ with a cubic\n"
    "                       Lattice, molecules in order, each atoms as in --molecule; e.g. a\n"
    "                       student's MD, bench/dump2extxyz.sh converts LAMMPS dumps): spheres\n"
    "                       of --liquid-molecules are carved from every frame, the first around\n"
    "                       its tightest intermolecular contact, the others around random\n"
    "                       points, and labelled as they are. With --frames, the other kinds\n"
    "                       of structures default to none (ask for them to add them)\n"
    "  --frame-spheres N    spheres per frame (default 2)\n"
    "  --seed S             random seed (default 1)\n"
    "  --chunk N            structures per write (default 50)\n"
    "  --jobs N             worker processes (default: the number of CPUs)\n"
    "Every structure's source records where it came from: md300, nm, dimer, far_dimer,\n"
    "contact_dimer, trimer, tetramer, droplet, relaxed, liquid, liquid_md. Progress\n"
    "(done/total, rate, ETA, phase) goes to stderr.\n";

/* ---- the plan ------------------------------------------------------------------------------- */

int phase_of(const plan *p, int64_t k) {
  for (int i = 0; i < p->n_ph; i++)
    if (k < p->ph[i].start + p->ph[i].count) return i;
  return p->n_ph - 1;
}

int relaxed_size(const plan *p, int ph, int64_t j, mlff_smp_rng *rng) {
  const phase *f = &p->ph[ph];
  mlff_smp_rng_seed(rng, (uint64_t)p->seed, STREAM_RELAXED, (uint64_t)j);
  return f->n_mol + (int)(mlff_smp_uniform(rng) * (f->n_mol_hi - f->n_mol + 1));
}

int atoms_at(const plan *p, int64_t k) {
  int ph = phase_of(p, k);
  const phase *f = &p->ph[ph];
  if (f->kind == PH_RELAX) {
    mlff_smp_rng rng;
    return relaxed_size(p, ph, (k - f->start) / RELAX_SAVES, &rng) * p->nat;
  }
  return f->kind == PH_CLUSTER ? f->n_mol * p->nat : p->nat;
}

static phase *add_phase(plan *p, int kind, const char *tag, double T, int n_mol, double dmin,
                        double dmax, long long count) {
  if (count <= 0) return NULL;
  phase *f = &p->ph[p->n_ph++];
  memset(f, 0, sizeof *f);
  f->kind = kind;
  snprintf(f->tag, sizeof f->tag, "%s", tag);
  f->T = T;
  f->n_mol = f->n_mol_hi = n_mol;
  f->dmin = dmin;
  f->dmax = dmax;
  f->start = p->total;
  f->count = count;
  p->total += count;
  return f;
}

static void make_plan(plan *p) {
  p->n_ph = 0;
  p->total = 0;
  for (int t = 0; t < p->n_temps; t++) {
    char tag[24];
    snprintf(tag, sizeof tag, "md%g", p->temps[t]);
    add_phase(p, PH_MD, tag, p->temps[t], 1, 0, 0, p->n_md);
  }
  add_phase(p, PH_NM, "nm", 0, 1, 0, 0, p->n_nm);
  add_phase(p, PH_CLUSTER, "dimer", 0, 2, 3.4, 7.0, p->n_dimer);
  add_phase(p, PH_CLUSTER, "far_dimer", 0, 2, 8.0, 12.0, p->n_far);
  phase *f = add_phase(p, PH_CLUSTER, "contact_dimer", 0, 2, 0, 0, p->n_contact);
  if (f) f->contact = 1;
  add_phase(p, PH_CLUSTER, "trimer", 0, 3, 3.4, 7.0, p->n_tri);
  add_phase(p, PH_CLUSTER, "tetramer", 0, 4, 3.4, 7.0, p->n_tetra);
  /* droplets: the radius that holds them at the density, to 1/0.7 times the volume */
  double r1 = mlff_smp_droplet_radius((int)p->drop_mol, p->nat, p->Z, p->drop_density);
  f = add_phase(p, PH_CLUSTER, "droplet", 0, (int)p->drop_mol, r1, r1 * cbrt(1 / 0.7),
                       p->n_drop);
  if (f) f->droplet = 1;
  /* relaxations before liquids: long tasks first, so that short ones fill the workers' ends */
  if ((f = add_phase(p, PH_RELAX, "relaxed", 0, (int)p->relaxed_lo, 0, 0,
                     p->n_relaxed * RELAX_SAVES)))
    f->n_mol_hi = (int)p->relaxed_hi;
  if ((f = add_phase(p, PH_CLUSTER, "liquid", 0, (int)p->liquid_mol, 0, 0, p->n_liquid)))
    f->liquid = 1;
  if ((f = add_phase(p, PH_CLUSTER, "liquid_md", 0, (int)p->liquid_mol, 0, 0,
                     (long long)p->n_frames * p->frame_spheres)))
    f->frames = 1;
  char temps[256] = "", contact[128] = "", condensed[512] = "", frames[256] = "";
  for (int t = 0; t < p->n_temps; t++)
    snprintf(temps + strlen(temps), sizeof temps - strlen(temps), "%s%g", t ? "," : "",
             p->temps[t]);
  /* (absent when not asked for: files of plans without them still resume) */
  if (p->n_contact)
    snprintf(contact, sizeof contact, "; contact dimers %lld (contacts %g-%g x 2.0 A, half "
             "aligned, half of those along a principal axis)", p->n_contact, CONTACT_DIMER_LO,
             CONTACT_DIMER_HI);
  if (p->n_liquid || p->n_relaxed)
    snprintf(condensed, sizeof condensed, "; relaxed %lld of %lld-%lld molecules (FIRE, %lld "
             "steps at most, %d structures each); liquids %lld of %lld molecules (carved from "
             "boxes at 0.6-1.1 x %g g/cm3, contacts %g-%g x 2.0 A, rigid motion at 250-450 K "
             "in a %g cm-1 cage)", p->n_relaxed, p->relaxed_lo, p->relaxed_hi, p->relax_steps,
             RELAX_SAVES, p->n_liquid, p->liquid_mol, p->liquid_density, p->contact_lo,
             p->contact_hi, MLFF_SMP_CAGE_CM1);
  if (p->n_frames)
    snprintf(frames, sizeof frames, "; frames sha256 %s (%d frames), %lld spheres of %lld "
             "molecules each (the first at the tightest contact)", p->frames_sha, p->n_frames,
             p->frame_spheres, p->liquid_mol);
  /* Everything that decides the contents, and nothing else (not --chunk, --jobs). */
  snprintf(p->signature, sizeof p->signature,
           "mlff label v1: molecule sha256 %s (%d atoms); temperatures %s K; md %lld per "
           "temperature every %lld steps (dt %g fs, Langevin %g/fs, %d equilibration steps, "
           "%d samples per trajectory); normal modes %lld; dimers %lld (3.4-7 A); far dimers "
           "%lld (8-12 A); trimers %lld; tetramers %lld; droplets %lld of %lld molecules "
           "(0.7-1.0 x %g g/cm3, contacts 0.9-1.15 x 2.0 A)%s%s%s; seed %lld",
           p->sha, p->nat, temps, p->n_md, p->interval, MD_DT, MD_GAMMA, (int)p->equil, MD_SEGMENT,
           p->n_nm, p->n_dimer, p->n_far, p->n_tri, p->n_tetra, p->n_drop, p->drop_mol,
           p->drop_density, contact, condensed, frames, p->seed);
}

/* Relative cost of structure k, for the ETA: teacher calls x atoms^2 (1 + atoms / 220), which
 * follows the libxtb single points of 120-720 atoms timed for docs/cli.md to about 15 %. */
static double cost_at(const plan *p, int64_t k) {
  const phase *f = &p->ph[phase_of(p, k)];
  double n = atoms_at(p, k), call = n * n * (1 + n / 220);
  if (f->kind == PH_MD) return call * (p->interval + (double)p->equil / MD_SEGMENT);
  if (f->kind == PH_RELAX) return call * (double)(p->relax_steps + 1) / RELAX_SAVES;
  return 1.5 * call; /* a single point from scratch costs more than a restarted MD step */
}

/* ---- main process ------------------------------------------------------------------------------ */

typedef struct {
  int64_t first, count, emit_from;
  int kind, phase, seg;
  int dispatched;
} task;

typedef struct {
  pid_t pid;
  int to, from; /* task pipe (write end), result pipe (read end) */
  int busy;
} worker_proc;

typedef struct {
  double *x, *f; /* [n][3] */
  double energy;
  int n;
  int received;
} result;

typedef struct {
  plan *p;
  mlff_dataset *prefix; /* structures already in OUT.h5 */
  int64_t n_done;       /* = size of prefix */
  int64_t written;      /* structures in OUT.h5 now */
  int64_t target;       /* total, or --stop-after */
  result *res;          /* [total] */
  const char *teacher_name;
  /* progress */
  int tty;
  double t_start, t_last_print, units_total, units_done;
  int64_t received_this_run;
  int cur_phase;
  int printed_progress;
  double ph_seconds[MAX_PHASES], ph_cpu[MAX_PHASES];
  int64_t ph_calls[MAX_PHASES], ph_count[MAX_PHASES], ph_atoms[MAX_PHASES];
  double geometry_s; /* building cluster geometries here, in the main process */
} parent;

static void fmt_duration(char *buf, size_t size, double s) {
  if (!isfinite(s) || s < 0) snprintf(buf, size, "?");
  else if (s < 60) snprintf(buf, size, "%.0fs", s);
  else if (s < 3600) snprintf(buf, size, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
  else snprintf(buf, size, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}

static void clear_progress(parent *P) {
  if (P->tty && P->printed_progress) {
    fprintf(stderr, "\r\033[K");
    P->printed_progress = 0;
  }
}

static void progress(parent *P, int force) {
  double t = cli_now_s();
  if (!force && t - P->t_last_print < (P->tty ? 0.5 : 10.0)) return;
  P->t_last_print = t;
  double el = t - P->t_start;
  double rate = el > 0 ? (double)P->received_this_run / el : 0;
  double eta = P->units_done > 0 ? (P->units_total - P->units_done) * el / P->units_done : NAN;
  char e1[32], e2[32];
  fmt_duration(e1, sizeof e1, eta);
  fmt_duration(e2, sizeof e2, el);
  int64_t done = P->n_done + P->received_this_run;
  fprintf(stderr, "%slabel: %lld/%lld structures (%.1f%%), %.1f/s, elapsed %s, ETA %s, phase %s%s",
          P->tty ? "\r\033[K" : "", (long long)done, (long long)P->target,
          P->target ? 100.0 * (double)done / (double)P->target : 100.0, rate, e2, e1,
          P->p->ph[P->cur_phase].tag, P->tty ? "" : "\n");
  P->printed_progress = 1;
  fflush(stderr);
}

/* Append the received structures [written, upto) to OUT.h5. */
static mlff_status flush(parent *P, int64_t upto) {
  if (upto <= P->written) return MLFF_OK;
  mlff_dataset *d;
  mlff_status st = mlff_dataset_create(&d);
  if (st) return st;
  if ((st = mlff_dataset_set_attr(d, "teacher", P->teacher_name)) ||
      (st = mlff_dataset_set_attr(d, "sampling", P->p->signature))) {
    mlff_dataset_free(d);
    return st;
  }
  for (int64_t k = P->written; k < upto && !st; k++) {
    result *r = &P->res[k];
    int ph = phase_of(P->p, k);
    mlff_frame f;
    memset(&f, 0, sizeof f);
    f.n_atoms = r->n;
    f.atomic_numbers = P->p->Zrep;
    f.positions = r->x;
    f.forces = r->f;
    f.energy = r->energy;
    f.has_energy = f.has_forces = 1;
    st = mlff_dataset_add(d, &f, P->p->ph[ph].tag);
  }
  if (!st) st = mlff_dataset_append(d, P->p->out);
  mlff_dataset_free(d);
  if (st) return st;
  for (int64_t k = P->written; k < upto; k++) { /* keep positions: clusters draw on them */
    free(P->res[k].f);
    P->res[k].f = NULL;
  }
  P->written = upto;
  return MLFF_OK;
}

/* Positions of MD sample j of the first temperature (the cluster monomers). */
static const double *pool_geometry(parent *P, int64_t j) {
  int64_t k = P->p->ph[0].start + j;
  if (k < P->n_done) {
    mlff_frame f;
    mlff_dataset_get(P->prefix, (int)k, &f, NULL);
    return f.positions;
  }
  return P->res[k].x;
}

static int pool_ready(parent *P) {
  const phase *md = &P->p->ph[0];
  for (int64_t k = md->start; k < md->start + md->count; k++)
    if (k >= P->n_done && !P->res[k].received) return 0;
  return 1;
}

/* A sphere of n_mol whole molecules carved from a periodic liquid of MD monomers (liquid and
 * relaxed structures), given thermal motion as rigid bodies; `what` names it in errors. */
static mlff_status liquid_geometry(parent *P, mlff_smp_rng *rng, int n_mol, const char *what,
                                   double *out) {
  const plan *p = P->p;
  double T = 250 + 200 * mlff_smp_uniform(rng);
  double density = (0.6 + 0.5 * mlff_smp_uniform(rng)) * p->liquid_density;
  double contact = p->contact_lo + (p->contact_hi - p->contact_lo) * mlff_smp_uniform(rng);
  int n_box = mlff_smp_liquid_box_molecules(n_mol, p->nat, p->Z, p->x, density, contact);
  double side = mlff_smp_box_side(n_box, p->nat, p->Z, density);
  double *box = malloc((size_t)(n_box > 0 ? n_box : 1) * p->nat * 3 * sizeof *box);
  const double **mono = malloc((size_t)(n_box > 0 ? n_box : 1) * sizeof *mono);
  mlff_status st = n_box > 0 && box && mono ? MLFF_OK
                                            : mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
  int done = 0;
  /* A packing that stalls (dense, wide contacts, an awkward shape) is packed again from other
   * monomers with contacts 3 % closer: deterministic all the same. */
  for (int tries = 0; tries < LIQUID_RETRIES && !st && !done; tries++, contact *= 0.97) {
    for (int m = 0; m < n_box; m++)
      mono[m] = pool_geometry(P, (int64_t)(mlff_smp_uniform(rng) * (double)p->ph[0].count));
    if (mlff_smp_liquid_box(rng, n_box, p->nat, p->Z, mono, side, contact, CLUSTER_TRIES / 10,
                            box) < 0)
      continue;
    for (int c = 0; c < LIQUID_CENTRES && !done; c++) { /* the sphere may not fit around one */
      double centre[3];
      for (int d = 0; d < 3; d++) centre[d] = side * mlff_smp_uniform(rng);
      done = !mlff_smp_carve(n_box, p->nat, p->Z, box, side, centre, n_mol, out, NULL);
    }
    if (done && mlff_smp_rigid_jitter(rng, n_mol, p->nat, p->Z, out, T, contact) < 0)
      st = mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
  }
  if (!st && !done)
    st = mlff_set_error(MLFF_ERR_ARGUMENT, "%s: could not pack %d molecules at %.3f g/cm3 into "
                        "a periodic box in %d attempts (contacts down to %.2f x 2.0 A): lower "
                        "--liquid-density", what, n_box, density, LIQUID_RETRIES, contact / 0.97);
  free(box);
  free(mono);
  return st;
}

/* Sphere k of the frames phase f: frame j = k / spheres; the first around the frame's tightest
 * contact, the others around random points (seeded by k). */
static mlff_status frame_geometry(const plan *p, const phase *f, int64_t k, double *out) {
  int64_t i = k - f->start;
  int j = (int)(i / p->frame_spheres), n_box = p->frame_mol[j];
  double side = p->frame_side[j], centre[3], radius = 0;
  const double *box = p->frame_x[j];
  if (i % p->frame_spheres == 0) { /* (no two molecules near each other: random centres) */
    double ratio = mlff_smp_tightest_contact(n_box, p->nat, p->Z, box, side, centre);
    if (ratio < 0) return mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
    if (isfinite(ratio) &&
        !mlff_smp_carve(n_box, p->nat, p->Z, box, side, centre, f->n_mol, out, &radius))
      return MLFF_OK;
  }
  mlff_smp_rng rng;
  mlff_smp_rng_seed(&rng, (uint64_t)p->seed, STREAM_FRAMES, (uint64_t)k);
  for (int c = 0; c < FRAME_CENTRES; c++) {
    for (int d = 0; d < 3; d++) centre[d] = side * mlff_smp_uniform(&rng);
    if (!mlff_smp_carve(n_box, p->nat, p->Z, box, side, centre, f->n_mol, out, &radius))
      return MLFF_OK;
  }
  return mlff_set_error(MLFF_ERR_ARGUMENT, "%s, frame %d: a sphere of %d molecules does not fit "
                        "in its box (side %.2f A: the sphere's radius, %.2f A, must stay within "
                        "half the side): lower --liquid-molecules or give larger boxes",
                        p->frames, j + 1, f->n_mol, side, radius);
}

static mlff_status cluster_geometry(parent *P, int ph, int64_t k, double *out) {
  const plan *p = P->p;
  const phase *f = &p->ph[ph];
  mlff_smp_rng rng;
  char what[64];
  if (f->frames) return frame_geometry(p, f, k, out);
  snprintf(what, sizeof what, "%s %lld (%s)", f->kind == PH_RELAX ? "relaxation" : "structure",
           (long long)k, f->tag);
  if (f->kind == PH_RELAX) { /* the start of relaxation k */
    int n_mol = relaxed_size(p, ph, k, &rng);
    return liquid_geometry(P, &rng, n_mol, what, out);
  }
  if (f->liquid) {
    mlff_smp_rng_seed(&rng, (uint64_t)p->seed, STREAM_LIQUID, (uint64_t)k);
    return liquid_geometry(P, &rng, f->n_mol, what, out);
  }
  mlff_smp_rng_seed(&rng, (uint64_t)p->seed, STREAM_CLUSTER, (uint64_t)k);
  const double *mono[MAX_MOL];
  for (int m = 0; m < f->n_mol; m++) {
    int64_t j = (int64_t)(mlff_smp_uniform(&rng) * (double)p->ph[0].count);
    mono[m] = pool_geometry(P, j);
  }
  if (f->contact) {
    double contact =
        CONTACT_DIMER_LO + (CONTACT_DIMER_HI - CONTACT_DIMER_LO) * mlff_smp_uniform(&rng);
    /* half at random orientations, a quarter translated copies along a random line, a quarter
     * along a principal axis (stacked rings: the close wall a random line seldom finds) */
    const double mode = mlff_smp_uniform(&rng);
    int aligned = mode < 0.5 ? 0 : mode < 0.75 ? 1 : MLFF_SMP_ALONG_AXIS;
    if (mlff_smp_contact_dimer(&rng, p->nat, p->Z, mono, contact, aligned, out) < 0)
      return mlff_set_error(MLFF_ERR_ARGUMENT, "structure %lld (%s): the two molecules never "
                            "came within %.2f x 2.0 A of each other", (long long)k, f->tag,
                            contact);
    return MLFF_OK;
  }
  if (f->droplet) {
    /* dense packings fail now and then: draw another radius (deterministic all the same) */
    /* closest contacts from 0.9 to 1.15 x 2.0 Å (H..H): the repulsive wall that a packed or
     * hot liquid reaches, which a student must have seen (without it, molecules interpenetrate) */
    double contact = 0.9 + 0.25 * mlff_smp_uniform(&rng);
    for (int tries = 0; tries < DROPLET_RETRIES; tries++) {
      double radius = f->dmin + (f->dmax - f->dmin) * mlff_smp_uniform(&rng);
      if (mlff_smp_droplet(&rng, f->n_mol, p->nat, p->Z, mono, 3.4, 7.0, radius, contact,
                           CLUSTER_TRIES / 10, out) >= 0)
        return MLFF_OK;
    }
    return mlff_set_error(MLFF_ERR_ARGUMENT, "structure %lld (%s): could not place %d molecules in "
                     "a sphere of %.1f-%.1f A without overlaps in %d attempts: lower "
                     "--droplet-density or --droplet-molecules", (long long)k, f->tag, f->n_mol,
                     f->dmin, f->dmax, DROPLET_RETRIES);
  }
  if (mlff_smp_cluster(&rng, f->n_mol, p->nat, p->Z, mono, f->dmin, f->dmax, CLUSTER_TRIES,
                       out) < 0)
    return mlff_set_error(MLFF_ERR_ARGUMENT, "structure %lld (%s): could not place %d molecules "
                     "%g-%g A apart without overlaps in %d tries", (long long)k, f->tag,
                     f->n_mol, f->dmin, f->dmax, CLUSTER_TRIES);
  return MLFF_OK;
}

static mlff_status dispatch(parent *P, worker_proc *wp, task *tk) {
  task_msg m = {0};
  m.kind = tk->kind;
  m.phase = tk->phase;
  m.seg = tk->seg;
  m.first = tk->first;
  m.count = tk->count;
  m.emit_from = tk->emit_from;
  if (write_full(wp->to, &m, sizeof m))
    return mlff_set_error(MLFF_ERR_IO, "a worker process died (pid %d)", (int)wp->pid);
  if (tk->kind == PH_CLUSTER || tk->kind == PH_RELAX) {
    /* cluster structures, or the start of relaxation seg (one for all its structures) */
    int nat = atoms_at(P->p, tk->first), n = tk->kind == PH_RELAX ? 1 : (int)tk->count;
    double *x = malloc((size_t)nat * 3 * sizeof *x), t0 = cpu_s();
    if (!x) return mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
    mlff_status st = MLFF_OK;
    for (int j = 0; j < n && !st; j++) {
      int64_t which = tk->kind == PH_RELAX ? tk->seg : tk->first + j;
      if (!(st = cluster_geometry(P, tk->phase, which, x)) &&
          write_full(wp->to, x, (size_t)nat * 3 * sizeof *x))
        st = mlff_set_error(MLFF_ERR_IO, "a worker process died (pid %d)", (int)wp->pid);
    }
    P->geometry_s += cpu_s() - t0;
    free(x);
    if (st) return st;
  }
  tk->dispatched = 1;
  wp->busy = 1;
  return MLFF_OK;
}

/* One message from a worker. *stop set on an error (message in mlff_last_error). */
static mlff_status receive(parent *P, worker_proc *wp) {
  rec_msg r;
  int got = read_full(wp->from, &r, sizeof r);
  if (got != 1)
    return mlff_set_error(MLFF_ERR_IO, "a worker process (pid %d) ended unexpectedly (killed, or "
                     "out of memory?)", (int)wp->pid);
  if (r.type == REC_ERROR || r.type == REC_INFO) {
    char *text = calloc((size_t)r.text_len + 1, 1);
    if (!text || read_full(wp->from, text, (size_t)r.text_len) != 1) {
      free(text);
      return mlff_set_error(MLFF_ERR_IO, "a worker process (pid %d) ended unexpectedly",
                       (int)wp->pid);
    }
    mlff_status st = MLFF_OK;
    if (r.type == REC_ERROR) {
      st = mlff_set_error(MLFF_ERR_ARGUMENT, "%s", text);
    } else {
      static int shown;
      if (!shown++) {
        clear_progress(P);
        fprintf(stderr, "label: %s\n", text);
      }
    }
    free(text);
    return st;
  }
  if (r.type == REC_DONE) {
    wp->busy = 0;
    return MLFF_OK;
  }
  if (r.k < 0 || r.k >= P->p->total || r.n_atoms != atoms_at(P->p, r.k))
    return mlff_set_error(MLFF_ERR_IO, "a worker sent a malformed result");
  result *res = &P->res[r.k];
  res->n = r.n_atoms;
  res->energy = r.energy;
  res->x = malloc((size_t)r.n_atoms * 3 * sizeof *res->x);
  res->f = malloc((size_t)r.n_atoms * 3 * sizeof *res->f);
  if (!res->x || !res->f) return mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
  if (read_full(wp->from, res->x, (size_t)r.n_atoms * 3 * sizeof *res->x) != 1 ||
      read_full(wp->from, res->f, (size_t)r.n_atoms * 3 * sizeof *res->f) != 1)
    return mlff_set_error(MLFF_ERR_IO, "a worker process (pid %d) ended unexpectedly", (int)wp->pid);
  res->received = 1;
  int ph = phase_of(P->p, r.k);
  P->ph_seconds[ph] += r.seconds;
  P->ph_cpu[ph] += r.cpu_seconds;
  P->ph_calls[ph] += r.calls;
  P->ph_count[ph]++;
  P->received_this_run++;
  P->units_done += cost_at(P->p, r.k);
  P->ph_atoms[ph] += r.n_atoms;
  P->cur_phase = ph;
  return MLFF_OK;
}

/* Tasks of the plan from structure n_done on. */
static task *make_tasks(const plan *p, int64_t n_done, int64_t target, int *n_tasks) {
  int cap = 64, n = 0;
  task *t = malloc((size_t)cap * sizeof *t);
  if (!t) return NULL;
  for (int i = 0; i < p->n_ph; i++) {
    const phase *f = &p->ph[i];
    int64_t size = f->kind == PH_MD      ? MD_SEGMENT
                   : f->kind == PH_NM    ? NM_BATCH
                   : f->kind == PH_RELAX ? RELAX_SAVES
                   : f->liquid || f->frames ? LIQUID_BATCH
                                         : CLUSTER_BATCH;
    for (int64_t s = 0; s * size < f->count; s++) {
      int64_t first = f->start + s * size, count = f->count - s * size;
      if (count > size) count = size;
      if (first + count <= n_done || first >= target) continue;
      if (n == cap) {
        task *g = realloc(t, (size_t)(cap *= 2) * sizeof *t);
        if (!g) {
          free(t);
          return NULL;
        }
        t = g;
      }
      task *k = &t[n++];
      k->kind = f->kind;
      k->phase = i;
      k->seg = (int)s;
      k->first = first;
      k->count = count;
      k->emit_from = first > n_done ? first : n_done;
      /* independent structures: start at the first missing one (MD trajectories and
       * relaxations are replayed from their start) */
      if (f->kind == PH_NM || f->kind == PH_CLUSTER) {
        k->first = k->emit_from;
        k->count = first + count - k->first;
      }
      k->dispatched = 0;
    }
  }
  *n_tasks = n;
  return t;
}

static void stop_workers(worker_proc *w, int n, int kill_them) {
  for (int i = 0; i < n; i++) {
    if (w[i].to >= 0) close(w[i].to);
    if (w[i].from >= 0) close(w[i].from);
    w[i].to = w[i].from = -1;
    if (kill_them && w[i].pid > 0) kill(w[i].pid, SIGTERM);
  }
  for (int i = 0; i < n; i++)
    if (w[i].pid > 0) waitpid(w[i].pid, NULL, 0);
}

static mlff_status run_plan(parent *P, int n_jobs) {
  int n_tasks = 0;
  task *tasks = make_tasks(P->p, P->n_done, P->target, &n_tasks);
  if (!tasks) return mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
  if (n_jobs > n_tasks) n_jobs = n_tasks;
  worker_proc *w = calloc((size_t)(n_jobs ? n_jobs : 1), sizeof *w);
  if (!w) {
    free(tasks);
    return mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
  }
  mlff_status st = MLFF_OK;
  fflush(stdout);
  fflush(stderr);
#ifdef __linux__
  const pid_t main_pid = getpid();
#endif
  for (int i = 0; i < n_jobs; i++) {
    int a[2], b[2];
    w[i].to = w[i].from = -1;
    if (pipe(a) || pipe(b)) {
      st = mlff_set_error(MLFF_ERR_IO, "cannot create a pipe: %s", strerror(errno));
      break;
    }
    pid_t pid = fork();
    if (pid < 0) {
      st = mlff_set_error(MLFF_ERR_IO, "cannot start a worker process: %s", strerror(errno));
      close(a[0]); close(a[1]); close(b[0]); close(b[1]);
      break;
    }
    if (pid == 0) {
#ifdef __linux__
      /* A killed main process (SIGKILL runs no handler) leaves its workers computing until
       * their next write to the pipe fails, a whole MD trajectory perhaps: die with it. */
      if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != main_pid) _exit(1);
#endif
      close(a[1]);
      close(b[0]);
      for (int j = 0; j < i; j++) { /* the other workers' pipes are not ours */
        close(w[j].to);
        close(w[j].from);
      }
      free(w); /* nor the main process's bookkeeping */
      free(tasks);
      _exit(worker_main(P->p, a[0], b[1]));
    }
    close(a[0]);
    close(b[1]);
    w[i].pid = pid;
    w[i].to = a[1];
    w[i].from = b[0];
  }
  int next = 0; /* first task not yet dispatched */
  while (!st && P->written < P->target) {
    /* Hand out tasks in plan order; clusters wait for their monomers. */
    for (int i = 0; i < n_jobs && !st; i++) {
      if (w[i].busy) continue;
      while (next < n_tasks && tasks[next].dispatched) next++;
      for (int j = next; j < n_tasks; j++) {
        if (tasks[j].dispatched) continue;
        if ((tasks[j].kind == PH_CLUSTER || tasks[j].kind == PH_RELAX) &&
            !P->p->ph[tasks[j].phase].frames && !pool_ready(P))
          break;
        st = dispatch(P, &w[i], &tasks[j]);
        break;
      }
    }
    if (st) break;
    struct pollfd fds[MAX_JOBS];
    int nf = 0, idx[MAX_JOBS];
    for (int i = 0; i < n_jobs; i++)
      if (w[i].busy) {
        fds[nf].fd = w[i].from;
        fds[nf].events = POLLIN;
        idx[nf++] = i;
      }
    if (!nf) {
      st = mlff_set_error(MLFF_ERR_ARGUMENT, "internal error: nothing left to compute before "
                     "structure %lld", (long long)P->written);
      break;
    }
    int r = poll(fds, (nfds_t)nf, 500);
    if (r < 0 && errno != EINTR) {
      st = mlff_set_error(MLFF_ERR_IO, "poll: %s", strerror(errno));
      break;
    }
    for (int i = 0; i < nf && r > 0 && !st; i++)
      if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) st = receive(P, &w[idx[i]]);
    /* Write every complete chunk (chunks end at multiples of --chunk, and at the target). */
    while (!st && P->written < P->target) {
      int64_t end = (P->written / P->p->chunk + 1) * P->p->chunk;
      if (end > P->target) end = P->target;
      int64_t k = P->written;
      while (k < end && P->res[k].received) k++;
      if (k < end) break;
      st = flush(P, end);
    }
    progress(P, 0);
  }
  stop_workers(w, n_jobs, st != MLFF_OK || P->written < P->p->total);
  free(w);
  free(tasks);
  return st;
}

/* ---- arguments --------------------------------------------------------------------------------- */

static int parse_temps(const char *s, plan *p) {
  char buf[512];
  snprintf(buf, sizeof buf, "%s", s);
  p->n_temps = 0;
  for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
    char *end;
    double T = strtod(tok, &end);
    if (*end || !(T > 0) || T > 1e5 || p->n_temps == MAX_TEMPS) return 0;
    p->temps[p->n_temps++] = T;
  }
  return p->n_temps > 0;
}

static int load_molecule(plan *p) {
  mlff_frame *fr;
  int nf;
  if (mlff_read_extxyz(p->molecule, &fr, &nf)) return cli_fail("label");
  const mlff_frame *f = &fr[0];
  int periodic = f->has_cell && (f->pbc[0] || f->pbc[1] || f->pbc[2]);
  if (periodic) {
    fprintf(stderr, "mlff label: %s: the molecule has a periodic cell; mlff label samples an "
            "isolated molecule: give it without Lattice (or with pbc=\"F F F\")\n", p->molecule);
    mlff_frames_free(fr, nf);
    return 1;
  }
  p->nat = f->n_atoms;
  p->Z = malloc((size_t)p->nat * sizeof *p->Z);
  p->Zrep = malloc((size_t)p->nat * MAX_MOL * sizeof *p->Zrep);
  p->x = malloc((size_t)p->nat * 3 * sizeof *p->x);
  if (!p->Z || !p->Zrep || !p->x) {
    mlff_frames_free(fr, nf);
    fprintf(stderr, "mlff label: out of memory\n");
    return 1;
  }
  memcpy(p->Z, f->atomic_numbers, (size_t)p->nat * sizeof *p->Z);
  memcpy(p->x, f->positions, (size_t)p->nat * 3 * sizeof *p->x);
  for (int m = 0; m < MAX_MOL; m++) memcpy(p->Zrep + m * p->nat, p->Z, (size_t)p->nat * sizeof *p->Z);
  mlff_frames_free(fr, nf);
  if (mlff_file_sha256(p->molecule, p->sha)) return cli_fail("label");
  return 0;
}

/* The frames of --frames: cubic periodic cells holding whole numbers of --molecule's atoms in
 * its order; kept with every molecule made whole. 0, or 1 after printing why not. */
static int load_frames(plan *p) {
  mlff_frame *fr;
  int nf;
  if (mlff_read_extxyz(p->frames, &fr, &nf)) return cli_fail("label");
  p->frame_x = calloc((size_t)nf, sizeof *p->frame_x);
  p->frame_side = calloc((size_t)nf, sizeof *p->frame_side);
  p->frame_mol = calloc((size_t)nf, sizeof *p->frame_mol);
  int rc = p->frame_x && p->frame_side && p->frame_mol ? 0 : 1;
  if (rc) fprintf(stderr, "mlff label: out of memory\n");
  for (int j = 0; j < nf && !rc; j++, p->n_frames++) {
    const mlff_frame *f = &fr[j];
    const double *c = f->cell;
    double side = c[0], off = fabs(c[1]) + fabs(c[2]) + fabs(c[3]) + fabs(c[5]) + fabs(c[6]) +
                              fabs(c[7]);
    if (!f->has_cell || !f->pbc[0] || !f->pbc[1] || !f->pbc[2] || !(side > 0) ||
        off > 1e-9 * side || fabs(c[4] - side) > 1e-6 * side || fabs(c[8] - side) > 1e-6 * side) {
      fprintf(stderr, "mlff label: %s, frame %d: --frames needs periodic frames in a cubic cell "
              "(Lattice=\"L 0 0 0 L 0 0 0 L\", pbc=\"T T T\"), as an isotropic NPT or an NVT run "
              "writes them\n", p->frames, j + 1);
      rc = 1;
      break;
    }
    int n_mol = f->n_atoms / p->nat;
    if (f->n_atoms % p->nat || n_mol < p->liquid_mol) {
      fprintf(stderr, "mlff label: %s, frame %d: %d atoms are not %s whole molecules of %s's %d "
              "atoms (--liquid-molecules %lld)\n", p->frames, j + 1, f->n_atoms,
              f->n_atoms % p->nat ? "a number of" : "enough", p->molecule, p->nat, p->liquid_mol);
      rc = 1;
      break;
    }
    for (int i = 0; i < f->n_atoms; i++)
      if (f->atomic_numbers[i] != p->Z[i % p->nat]) {
        fprintf(stderr, "mlff label: %s, frame %d: atom %d is %s where molecule %d's atom %d is "
                "%s in %s: the frames' molecules must list their atoms as --molecule does\n",
                p->frames, j + 1, i + 1, mlff_element_symbol(f->atomic_numbers[i]) ?
                mlff_element_symbol(f->atomic_numbers[i]) : "?", i / p->nat + 1, i % p->nat + 1,
                mlff_element_symbol(p->Z[i % p->nat]), p->molecule);
        rc = 1;
        break;
      }
    if (rc) break;
    p->frame_x[j] = malloc((size_t)f->n_atoms * 3 * sizeof **p->frame_x);
    if (!p->frame_x[j]) {
      fprintf(stderr, "mlff label: out of memory\n");
      rc = 1;
      break;
    }
    memcpy(p->frame_x[j], f->positions, (size_t)f->n_atoms * 3 * sizeof **p->frame_x);
    mlff_smp_make_whole(n_mol, p->nat, p->frame_x[j], side);
    p->frame_side[j] = side;
    p->frame_mol[j] = n_mol;
  }
  mlff_frames_free(fr, nf);
  if (!rc && !nf) {
    fprintf(stderr, "mlff label: %s holds no frames\n", p->frames);
    rc = 1;
  }
  if (!rc && mlff_file_sha256(p->frames, p->frames_sha)) rc = cli_fail("label");
  return rc;
}

static void free_plan(plan *p) {
  for (int j = 0; p->frame_x && j < p->n_frames; j++) free(p->frame_x[j]);
  free(p->frame_x);
  free(p->frame_side);
  free(p->frame_mol);
  free(p->Z);
  free(p->Zrep);
  free(p->x);
}

/* A density in g/cm^3 (0.05-25): 1, or 0 when s is not one. */
static int parse_density(const char *s, double *v) {
  char *end;
  *v = strtod(s, &end);
  return !*end && end != s && *v > 0.05 && *v < 25;
}

/* "LO-HI", molecules per relaxed cluster: 1, or 0 when s is not two counts LO <= HI. */
static int parse_range(const char *s, long long *lo, long long *hi) {
  char a[32], *dash = strchr(s, '-');
  if (!dash || dash == s || (size_t)(dash - s) >= sizeof a) return 0;
  memcpy(a, s, (size_t)(dash - s));
  a[dash - s] = 0;
  return cli_parse_count(a, lo) && cli_parse_count(dash + 1, hi) && *lo <= *hi;
}

/* "LO-HI", two numbers: 1, or 0 when s is not two numbers LO <= HI (as parse_range, not counts). */
static int parse_scale_range(const char *s, double *lo, double *hi) {
  const char *dash = strchr(s, '-');
  char *end1, *end2;
  if (!dash || dash == s) return 0;
  *lo = strtod(s, &end1);
  *hi = strtod(dash + 1, &end2);
  return end1 == dash && end2 != dash + 1 && !*end2 && *lo <= *hi;
}

static int parse_args(int argc, char **argv, plan *p) {
  p->n_md = 1000;
  p->interval = 40;
  p->equil = 400;
  p->n_nm = 500;
  p->n_dimer = 800;
  p->n_far = 500;
  p->n_contact = 400;
  p->n_tri = 200;
  p->n_tetra = 100;
  p->n_drop = 400;
  p->drop_mol = 13;
  p->drop_density = 0.874;
  p->n_liquid = 150;
  p->liquid_mol = 20;
  p->n_relaxed = 6;
  p->relaxed_lo = 10;
  p->relaxed_hi = 30;
  p->relax_steps = 60;
  p->seed = 1;
  p->chunk = 50;
  long n_cpu = sysconf(_SC_NPROCESSORS_ONLN);
  p->jobs = n_cpu > 0 ? n_cpu : 1;
  p->stop_after = -1;
  p->frame_spheres = 2;
  p->contact_lo = 0.9; /* as droplets' */
  p->contact_hi = 1.15;
  parse_temps("300,600,900", p);
  for (int i = 1; i < argc; i++) /* labelling given frames: nothing else unless asked for */
    if (!strcmp(argv[i], "--frames"))
      p->n_md = p->n_nm = p->n_dimer = p->n_far = p->n_contact = p->n_tri = p->n_tetra = p->n_drop =
          p->n_liquid = p->n_relaxed = 0;
  struct { const char *name; long long *v; long long min; } counts[] = {
      {"--md-structures", &p->n_md, 0}, {"--md-interval", &p->interval, 1},
      {"--md-equilibration", &p->equil, 0},
      {"--normal-modes", &p->n_nm, 0},  {"--dimers", &p->n_dimer, 0},
      {"--far-dimers", &p->n_far, 0},   {"--contact-dimers", &p->n_contact, 0},
      {"--trimers", &p->n_tri, 0},
      {"--tetramers", &p->n_tetra, 0},  {"--droplets", &p->n_drop, 0},
      {"--droplet-molecules", &p->drop_mol, 2}, {"--liquids", &p->n_liquid, 0},
      {"--liquid-molecules", &p->liquid_mol, 2}, {"--relaxed", &p->n_relaxed, 0},
      {"--relax-steps", &p->relax_steps, 1},    {"--seed", &p->seed, 0},
      {"--chunk", &p->chunk, 1},        {"--jobs", &p->jobs, 1},
      {"--frame-spheres", &p->frame_spheres, 1},
      {"--stop-after", &p->stop_after, 0}, /* testing: exit after N structures are written */
  };
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int has_value = i + 1 < argc, done = 0;
    for (size_t c = 0; c < sizeof counts / sizeof *counts && !done; c++) {
      if (strcmp(a, counts[c].name)) continue;
      done = 1;
      if (!has_value) return cli_usage_error("label", USAGE, "%s needs a value", a);
      if (!cli_parse_count(argv[++i], counts[c].v) || *counts[c].v < counts[c].min ||
          *counts[c].v > 100000000)
        return cli_usage_error("label", USAGE, counts[c].min ? "%s needs a positive integer"
                               : "%s needs a non-negative integer", a);
    }
    if (done) continue;
    if (!strcmp(a, "--molecule") && has_value) p->molecule = argv[++i];
    else if (!strcmp(a, "--frames") && has_value) p->frames = argv[++i];
    else if (!strcmp(a, "--droplet-density") && has_value) {
      if (!parse_density(argv[++i], &p->drop_density))
        return cli_usage_error("label", USAGE, "--droplet-density needs a density in g/cm3 "
                               "(0.05-25), not '%s'", argv[i]);
    } else if (!strcmp(a, "--liquid-density") && has_value) {
      if (!parse_density(argv[++i], &p->liquid_density))
        return cli_usage_error("label", USAGE, "--liquid-density needs a density in g/cm3 "
                               "(0.05-25), not '%s'", argv[i]);
    } else if (!strcmp(a, "--liquid-contact") && has_value) {
      if (!parse_scale_range(argv[++i], &p->contact_lo, &p->contact_hi) ||
          !(p->contact_lo >= 0.3) || !(p->contact_hi <= 2))
        return cli_usage_error("label", USAGE, "--liquid-contact needs LO-HI, two scales of the "
                               "2.0 A contact with 0.3 <= LO <= HI <= 2, not '%s'", argv[i]);
    } else if (!strcmp(a, "--relaxed-molecules") && has_value) {
      if (!parse_range(argv[++i], &p->relaxed_lo, &p->relaxed_hi) || p->relaxed_lo < 2)
        return cli_usage_error("label", USAGE, "--relaxed-molecules needs LO-HI, two counts "
                               "with 2 <= LO <= HI, not '%s'", argv[i]);
    } else if (!strcmp(a, "--temperatures") && has_value) {
      if (!parse_temps(argv[++i], p))
        return cli_usage_error("label", USAGE, "--temperatures needs 1..16 positive numbers "
                               "separated by commas (K), not '%s'", argv[i]);
    } else if (a[0] == '-' && a[1])
      return cli_usage_error("label", USAGE, "unknown option or missing value: '%s'", a);
    else if (!p->out) p->out = a;
    else return cli_usage_error("label", USAGE, "unexpected argument '%s'", a);
  }
  if (!p->out) return cli_usage_error("label", USAGE, "%s", "no output file given");
  if (!p->molecule) return cli_usage_error("label", USAGE, "%s", "--molecule is required");
  if (p->jobs > MAX_JOBS) p->jobs = MAX_JOBS;
  if (p->drop_mol > MAX_MOL)
    return cli_usage_error("label", USAGE, "--droplet-molecules is at most %s", MAX_MOL_TEXT);
  if (p->liquid_mol > MAX_MOL)
    return cli_usage_error("label", USAGE, "--liquid-molecules is at most %s", MAX_MOL_TEXT);
  if (p->relaxed_hi > MAX_MOL)
    return cli_usage_error("label", USAGE, "--relaxed-molecules: at most %s", MAX_MOL_TEXT);
  if (p->relax_steps < RELAX_SAVES - 1)
    return cli_usage_error("label", USAGE, "--relax-steps is at least %s (the relaxation's "
                           "structures are its start, 4 points of its path and its end)", "5");
  if (!(p->liquid_density > 0)) p->liquid_density = p->drop_density;
  if (!p->n_md && (p->n_dimer || p->n_far || p->n_contact || p->n_tri || p->n_tetra || p->n_drop ||
                   p->n_liquid || p->n_relaxed))
    return cli_usage_error("label", USAGE, "%s", "clusters take their monomers from the MD "
                           "samples: --md-structures must be positive when --dimers, "
                           "--far-dimers, --contact-dimers, --trimers, --tetramers, --droplets, --liquids or "
                           "--relaxed are");
  return 0;
}

/* ---- the command ------------------------------------------------------------------------------- */

/* OUT.h5 as it is: its structures must be the beginning of this plan. */
static int check_existing(parent *P) {
  plan *p = P->p;
  struct stat sb;
  if (stat(p->out, &sb) != 0) return 0;
  if (mlff_dataset_load(p->out, &P->prefix)) return cli_fail("label");
  const char *sig = mlff_dataset_attr(P->prefix, "sampling");
  if (strcmp(sig, p->signature)) {
    fprintf(stderr, "mlff label: '%s' already exists and holds %d structures %s: rerun with the "
            "arguments that made it to resume, or give a new output file.\n  its plan:  %s\n"
            "  this plan: %s\n", p->out, mlff_dataset_size(P->prefix),
            *sig ? "of another labelling plan" : "not written by `mlff label`",
            *sig ? sig : "(none)", p->signature);
    return 1;
  }
  const char *teacher = mlff_dataset_attr(P->prefix, "teacher");
  if (strcmp(teacher, P->teacher_name)) {
    fprintf(stderr, "mlff label: '%s' was labelled by \"%s\", this run's teacher is \"%s\"; "
            "give a new output file\n", p->out, teacher, P->teacher_name);
    return 1;
  }
  P->n_done = mlff_dataset_size(P->prefix);
  if (P->n_done > p->total) {
    fprintf(stderr, "mlff label: '%s' holds %lld structures, more than the %lld of its plan "
            "(corrupt?); give a new output file\n", p->out, (long long)P->n_done,
            (long long)p->total);
    return 1;
  }
  for (int64_t k = 0; k < P->n_done; k++) {
    mlff_frame f;
    const char *src;
    mlff_dataset_get(P->prefix, (int)k, &f, &src);
    int ph = phase_of(p, k);
    if (strcmp(src, p->ph[ph].tag) || f.n_atoms != atoms_at(p, k)) {
      fprintf(stderr, "mlff label: '%s': structure %lld is \"%s\" with %d atoms, but the plan "
              "has \"%s\" with %d there (edited file?); give a new output file\n", p->out,
              (long long)k, src, f.n_atoms, p->ph[ph].tag, atoms_at(p, k));
      return 1;
    }
  }
  P->written = P->n_done;
  return 0;
}

static void print_summary(const parent *P, double wall, int n_jobs) {
  const plan *p = P->p;
  printf("wrote %s: %lld structures of the plan's %lld (%s, %s)\n", p->out,
         (long long)P->written, (long long)p->total, P->teacher_name, "eV, Angstrom");
  if (!P->received_this_run) return;
  double cpu = 0;
  for (int i = 0; i < p->n_ph; i++) cpu += P->ph_cpu[i];
  printf("this run: %lld structures in %.1f s with %d worker%s (%.1f CPU s in the workers); "
         "teacher cost per phase (one thread each; wall includes waiting for a busy CPU):\n",
         (long long)P->received_this_run, wall, n_jobs, n_jobs == 1 ? "" : "s", cpu);
  printf("  %-10s %6s %6s %9s %12s %12s %16s\n", "phase", "atoms", "done", "calls",
         "wall ms/call", "CPU ms/call", "CPU ms/structure");
  for (int i = 0; i < p->n_ph; i++) {
    if (!P->ph_count[i]) continue;
    double calls = P->ph_calls[i] ? (double)P->ph_calls[i] : 1.0;
    printf("  %-10s %6.0f %6lld %9lld %12.2f %12.2f %16.1f\n", p->ph[i].tag, /* mean atoms */
           (double)P->ph_atoms[i] / (double)P->ph_count[i], (long long)P->ph_count[i],
           (long long)P->ph_calls[i], 1e3 * P->ph_seconds[i] / calls, 1e3 * P->ph_cpu[i] / calls,
           1e3 * P->ph_cpu[i] / (double)P->ph_count[i]);
  }
  if (P->geometry_s > 0)
    printf("  cluster geometries: %.1f s in the main process\n", P->geometry_s);
}

/* Room on the stack for libxtb's large clusters (TEACHER_STACK), raised before the workers
 * start: Linux lets the main thread's stack grow to the soft limit in force when it grows, and
 * the workers inherit it. Where the hard limit is lower, as much as it allows. */
static void raise_stack_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_STACK, &rl) || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= TEACHER_STACK)
    return;
  rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < TEACHER_STACK ? rl.rlim_max
                                                                            : TEACHER_STACK;
  setrlimit(RLIMIT_STACK, &rl);
}

/* One `mlff label` per output file: OUT.lock, locked while we run (the lock goes with the
 * process, however it ends). Returns the descriptor, or -1 after printing why. */
static int lock_output(const char *out, char *lock_path, size_t size) {
  snprintf(lock_path, size, "%s.lock", out);
  int fd = open(lock_path, O_RDWR | O_CREAT, 0644);
  if (fd < 0) {
    fprintf(stderr, "mlff label: cannot create '%s': %s\n", lock_path, strerror(errno));
    return -1;
  }
  struct flock l;
  memset(&l, 0, sizeof l);
  l.l_type = F_WRLCK;
  l.l_whence = SEEK_SET;
  if (fcntl(fd, F_SETLK, &l) < 0) {
    fprintf(stderr, "mlff label: another `mlff label` is writing '%s' (it holds '%s'); wait for "
            "it or give another output file\n", out, lock_path);
    close(fd);
    return -1;
  }
  return fd;
}

static int run(int argc, char **argv) {
  plan p;
  memset(&p, 0, sizeof p);
  int rc = parse_args(argc, argv, &p);
  if (!rc) rc = load_molecule(&p);
  if (!rc && p.frames) rc = load_frames(&p);
  if (rc) {
    free_plan(&p);
    return rc;
  }
  make_plan(&p);
  char lock_path[4096];
  int lock = lock_output(p.out, lock_path, sizeof lock_path);
  if (lock < 0) {
    free_plan(&p);
    return 1;
  }
  int stale = cli_remove_stale_temps(p.out);
  if (stale)
    fprintf(stderr, "label: removed %d temporary file%s of a killed run ('%s.tmp<pid>')\n", stale,
            stale == 1 ? "" : "s", p.out);
  parent P;
  memset(&P, 0, sizeof P);
  P.p = &p;
  mlff_teacher *t = NULL;
  char teacher_name[128] = "";
  if (mlff_teacher_create_xtb(&t)) {
    rc = cli_fail("label");
  } else {
    snprintf(teacher_name, sizeof teacher_name, "%s", mlff_teacher_name(t));
    mlff_teacher_free(t);
    P.teacher_name = teacher_name;
    rc = check_existing(&P);
  }
  P.target = p.stop_after >= 0 && p.stop_after < p.total ? p.stop_after : p.total;
  if (!rc && !(P.res = calloc((size_t)(p.total ? p.total : 1), sizeof *P.res))) {
    fprintf(stderr, "mlff label: out of memory\n");
    rc = 1;
  }
  if (!rc) {
    fprintf(stderr, "label: plan of %lld structures:", (long long)p.total);
    for (int i = 0; i < p.n_ph; i++)
      fprintf(stderr, "%s %s %lld", i ? "," : "", p.ph[i].tag, (long long)p.ph[i].count);
    fprintf(stderr, "\n");
    if (P.n_done) fprintf(stderr, "label: resuming: %s holds the first %lld\n", p.out,
                          (long long)P.n_done);
  }
  if (!rc && P.written >= P.target) {
    printf("%s: complete (%lld structures)\n", p.out, (long long)P.written);
  } else if (!rc) {
    signal(SIGPIPE, SIG_IGN);
    for (int i = 0; i < p.n_ph; i++) {
      int64_t from = p.ph[i].start > P.n_done ? p.ph[i].start : P.n_done;
      int64_t to = p.ph[i].start + p.ph[i].count < P.target ? p.ph[i].start + p.ph[i].count
                                                             : P.target;
      for (int64_t k = from; k < to; k++) P.units_total += cost_at(&p, k);
    }
    P.tty = isatty(2);
    P.t_start = P.t_last_print = cli_now_s();
    P.cur_phase = phase_of(&p, P.n_done);
    int n_jobs = (int)p.jobs;
    raise_stack_limit();
    mlff_status st = run_plan(&P, n_jobs);
    double wall = cli_now_s() - P.t_start;
    if (!st) progress(&P, 1);
    clear_progress(&P);
    if (P.tty && !st) fprintf(stderr, "\n");
    if (st) {
      fprintf(stderr, "mlff label: %s\n", mlff_last_error());
      fprintf(stderr, "mlff label: %s holds the first %lld structures; rerun the same command "
              "to resume\n", p.out, (long long)P.written);
      rc = 1;
    } else {
      print_summary(&P, wall, n_jobs < 1 ? 1 : n_jobs);
      if (P.written < p.total)
        printf("stopped after %lld structures (--stop-after); rerun without it to finish\n",
               (long long)P.written);
    }
  }
  if (P.res)
    for (int64_t k = 0; k < p.total; k++) {
      free(P.res[k].x);
      free(P.res[k].f);
    }
  free(P.res);
  mlff_dataset_free(P.prefix);
  unlink(lock_path);
  close(lock);
  free_plan(&p);
  return rc;
}

const cli_command CMD_LABEL = {"label", run,
                               "label sampled structures with the teacher (GFN2-xTB) into a dataset",
                               USAGE, HELP};
