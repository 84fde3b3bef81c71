/* cmd_label.h — what the two halves of `mlff label` share: cmd_label.c (arguments, the plan, the
 * main process: geometries, hand-out, writing, progress) and cmd_label_worker.c (the worker
 * processes, which call the teacher), and the messages between them. */
#ifndef MLFF_CMD_LABEL_H
#define MLFF_CMD_LABEL_H

#include <stddef.h>
#include <stdint.h>

#include "cli.h"

#define MAX_TEMPS 16
#define MAX_PHASES (MAX_TEMPS + 10) /* one per temperature, and the ten other kinds */
#define MAX_JOBS 256
#define MD_SEGMENT 100 /* samples per MD trajectory */
#define MD_DT 0.5      /* fs */
#define MD_GAMMA 0.01  /* 1/fs */
#define MAX_MOL 64     /* molecules in a cluster, droplet, liquid sphere or relaxed cluster */
#define MAX_MOL_TEXT "64"
/* A relaxation yields RELAX_SAVES structures: its start, evenly spaced points of its path and
 * its end; it stops early where the largest force falls below RELAX_FMAX (eV/Å). */
#define RELAX_SAVES 6
#define RELAX_FMAX 0.05

/* RNG streams: a structure's random numbers come from (seed, stream, index). */
#define STREAM_MD 100 /* + phase */
#define STREAM_NM 1
#define STREAM_CLUSTER 2
#define STREAM_LIQUID 3  /* index: the structure */
#define STREAM_RELAXED 4 /* index: the relaxation */
#define STREAM_FRAMES 5  /* index: the structure */

/* ---- the plan -------------------------------------------------------------------------------- */

/* PH_CLUSTER: independent structures whose geometries the main process builds (clusters,
 * droplets, liquid spheres); PH_RELAX: relaxations of RELAX_SAVES structures each. */
enum { PH_MD, PH_NM, PH_CLUSTER, PH_RELAX };

typedef struct {
  int kind;
  char tag[24];
  double T;  /* MD */
  int n_mol; /* clusters; relaxed: the smallest, n_mol_hi the largest */
  int n_mol_hi;
  int droplet; /* clusters: centres in a sphere of radius dmin..dmax (Å), not dmin..dmax apart */
  int liquid;  /* clusters: spheres carved from periodic liquids */
  int frames;  /* clusters: spheres carved from the given periodic frames (--frames) */
  int contact; /* clusters: dimers brought into contact (mlff_smp_contact_dimer) */
  double dmin, dmax;
  int64_t start, count;
} phase;

typedef struct {
  const char *out, *molecule;
  double temps[MAX_TEMPS];
  int n_temps;
  long long n_md, interval, equil, n_nm, n_dimer, n_far, n_tri, n_tetra, n_drop, drop_mol, seed,
      chunk, jobs, stop_after;
  long long n_contact; /* --contact-dimers */
  long long n_liquid, liquid_mol, n_relaxed, relaxed_lo, relaxed_hi, relax_steps;
  const char *frames; /* --frames: periodic frames of the molecule (extended XYZ) */
  long long frame_spheres;
  int n_frames;
  double **frame_x;   /* [n_frames][frame_mol[f] * nat][3]: molecules whole */
  double *frame_side; /* [n_frames] cubic cell side, Å */
  int *frame_mol;     /* [n_frames] molecules */
  char frames_sha[65];
  double drop_density;           /* g/cm^3 */
  double liquid_density;         /* g/cm^3; 0 until given: then --droplet-density's */
  double contact_lo, contact_hi; /* --liquid-contact: scales of the 2.0 Å H..H contact */
  int nat;                       /* atoms of the molecule */
  int *Z;                        /* [nat] */
  double *x;                     /* [nat][3] as given */
  int *Zrep;                     /* [MAX_MOL * nat]: Z repeated for clusters */
  char sha[65];                  /* of the molecule file */
  phase ph[MAX_PHASES];
  int n_ph;
  int64_t total;
  char signature[1536];
} plan;

int phase_of(const plan *p, int64_t k);
/* Molecules of relaxation j of phase ph (PH_RELAX), drawn from (seed, j) with rng, which goes on
 * to build its geometry. */
int relaxed_size(const plan *p, int ph, int64_t j, mlff_smp_rng *rng);
/* Atoms of structure k. */
int atoms_at(const plan *p, int64_t k);

/* ---- messages between the main process and the workers -------------------------------------- */

/* Cluster tasks are followed by count geometries, a relaxation by its starting geometry. */
typedef struct {
  int32_t kind, phase, seg, pad;
  int64_t first, count, emit_from;
} task_msg;

enum { REC_STRUCTURE, REC_DONE, REC_ERROR, REC_INFO };

typedef struct {
  int32_t type, n_atoms;
  int64_t k;
  double energy, seconds, cpu_seconds; /* wall and CPU time since the previous record */
  int64_t calls;
  int32_t text_len, pad;
} rec_msg; /* followed by positions and forces [n_atoms][3], or text_len bytes */

int write_full(int fd, const void *buf, size_t n);
/* 1 when n bytes were read, 0 at end of file before any, -1 on error or a short read. */
int read_full(int fd, void *buf, size_t n);
/* CPU time of this process: a worker computes on one thread, so this is its teacher's cost
 * whatever else the machine is running. */
double cpu_s(void);

/* A worker process: tasks from `in`, results to `out` until `in` closes; the exit status. */
int worker_main(const plan *p, int in, int out);

#endif
