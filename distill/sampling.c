/* sampling.c — numerics of `mlff label` (mlff_distill.h, "sampling"): random numbers, van der
 * Waals radii, FIRE optimisation, harmonic samples of the normal modes (computed by harmonic.c,
 * with its masses), Langevin dynamics (BAOAB) and molecular clusters. Deterministic throughout:
 * no clocks, no threads, no global state. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "rng.h"
#include "mlff_distill.h"

/* ---- random numbers ------------------------------------------------------------------------ */

void mlff_smp_rng_seed(mlff_smp_rng *r, uint64_t seed, uint64_t stream, uint64_t index) {
  uint64_t x = seed;
  uint64_t a = mlff_splitmix64(&x);
  x = a ^ (stream * 0xd1342543de82ef95ULL + 0x632be59bd9b4e019ULL);
  uint64_t b = mlff_splitmix64(&x);
  x = b ^ (index * 0xaf251af3b0f025b5ULL + 0x2545f4914f6cdd1dULL);
  for (int i = 0; i < 4; i++) r->s[i] = mlff_splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t mlff_smp_rng_next(mlff_smp_rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double mlff_smp_uniform(mlff_smp_rng *r) {
  return (double)(mlff_smp_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

double mlff_smp_normal(mlff_smp_rng *r) {
  double u1 = 1.0 - mlff_smp_uniform(r); /* (0, 1] */
  double u2 = mlff_smp_uniform(r);
  return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* ---- elements (masses: mlff_atomic_mass, harmonic.c) -------------------------------------- */

double mlff_smp_vdw_radius(int z) {
  switch (z) {
    case 1: return 1.20;
    case 2: return 1.40;
    case 3: return 1.82;
    case 5: return 1.92;
    case 6: return 1.70;
    case 7: return 1.55;
    case 8: return 1.52;
    case 9: return 1.47;
    case 10: return 1.54;
    case 11: return 2.27;
    case 12: return 1.73;
    case 14: return 2.10;
    case 15: return 1.80;
    case 16: return 1.80;
    case 17: return 1.75;
    case 18: return 1.88;
    case 35: return 1.85;
    case 36: return 2.02;
    case 53: return 1.98;
    case 54: return 2.16;
    default: return 2.0;
  }
}

/* ---- geometry -------------------------------------------------------------------------------- */

void mlff_smp_center_of_mass(int n, const int *Z, const double *x, double com[3]) {
  double m = 0.0;
  com[0] = com[1] = com[2] = 0.0;
  for (int i = 0; i < n; i++) {
    double mi = mlff_atomic_mass(Z[i]);
    m += mi;
    for (int k = 0; k < 3; k++) com[k] += mi * x[3 * i + k];
  }
  for (int k = 0; k < 3; k++) com[k] /= m > 0 ? m : 1.0;
}

void mlff_smp_random_rotation(mlff_smp_rng *r, double R[9]) {
  /* Shoemake's uniform random unit quaternion. */
  double u1 = mlff_smp_uniform(r), u2 = mlff_smp_uniform(r), u3 = mlff_smp_uniform(r);
  double a = sqrt(1.0 - u1), b = sqrt(u1);
  double qx = a * sin(2 * M_PI * u2), qy = a * cos(2 * M_PI * u2);
  double qz = b * sin(2 * M_PI * u3), qw = b * cos(2 * M_PI * u3);
  R[0] = 1 - 2 * (qy * qy + qz * qz);
  R[1] = 2 * (qx * qy - qz * qw);
  R[2] = 2 * (qx * qz + qy * qw);
  R[3] = 2 * (qx * qy + qz * qw);
  R[4] = 1 - 2 * (qx * qx + qz * qz);
  R[5] = 2 * (qy * qz - qx * qw);
  R[6] = 2 * (qx * qz - qy * qw);
  R[7] = 2 * (qy * qz + qx * qw);
  R[8] = 1 - 2 * (qx * qx + qy * qy);
}

#define CONTACT_SCALE (2.0 / 2.4) /* 2.0 Å for H..H (Bondi radii 1.2 + 1.2) */

double mlff_smp_min_contact(int n_mol, int nat, const int *Z, const double *x, double *ratio) {
  double best = INFINITY, best_ratio = INFINITY;
  for (int m = 0; m < n_mol; m++)
    for (int l = m + 1; l < n_mol; l++)
      for (int i = 0; i < nat; i++)
        for (int j = 0; j < nat; j++) {
          const double *a = x + 3 * (m * nat + i), *b = x + 3 * (l * nat + j);
          double d = sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) +
                          (a[2] - b[2]) * (a[2] - b[2]));
          double lim = CONTACT_SCALE * (mlff_smp_vdw_radius(Z[i]) + mlff_smp_vdw_radius(Z[j]));
          if (d < best) best = d;
          if (d / lim < best_ratio) best_ratio = d / lim;
        }
  if (ratio) *ratio = best_ratio;
  return best;
}

/* Whether molecule m (atoms xm) keeps every atom of the other molecules l < n_mol, l != m, at
 * least scale * 2.0 Å x (sum of van der Waals radii / 2.4) away. */
static int clear_of_others(int n_mol, int m, int nat, const int *Z, const double *xm,
                           const double *x, double scale) {
  for (int l = 0; l < n_mol; l++) {
    if (l == m) continue;
    for (int i = 0; i < nat; i++)
      for (int j = 0; j < nat; j++) {
        const double *a = xm + 3 * i, *b = x + 3 * ((size_t)l * nat + j);
        double d2 = (a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) +
                    (a[2] - b[2]) * (a[2] - b[2]);
        double lim =
            scale * CONTACT_SCALE * (mlff_smp_vdw_radius(Z[i]) + mlff_smp_vdw_radius(Z[j]));
        if (d2 < lim * lim) return 0;
      }
  }
  return 1;
}

/* Molecules placed one by one with random orientations: molecule 0 at the origin, each next one
 * dmin..dmax from a random earlier one, rejected when it comes within scale x the contact
 * distance of an earlier one or, when radius > 0, when its centre lies outside that sphere. */
static int place_molecules(mlff_smp_rng *r, int n_mol, int nat, const int *Z,
                           const double *const *mono, double dmin, double dmax, double radius,
                           double scale, int max_tries, double *out, double (*centres)[3]) {
  int tries = 0;
  for (int m = 0; m < n_mol; m++) {
    double c0[3];
    mlff_smp_center_of_mass(nat, Z, mono[m], c0);
    int placed = 0;
    for (int attempt = 0; attempt < max_tries && !placed; attempt++) {
      tries++;
      double R[9], centre[3] = {0, 0, 0};
      mlff_smp_random_rotation(r, R);
      if (m > 0) {
        int anchor = (int)(mlff_smp_uniform(r) * m);
        double d = dmin + (dmax - dmin) * mlff_smp_uniform(r), u[3], norm = 0;
        do {
          norm = 0;
          for (int k = 0; k < 3; k++) {
            u[k] = mlff_smp_normal(r);
            norm += u[k] * u[k];
          }
        } while (norm < 1e-12);
        norm = sqrt(norm);
        for (int k = 0; k < 3; k++) centre[k] = centres[anchor][k] + d * u[k] / norm;
        if (radius > 0 &&
            centre[0] * centre[0] + centre[1] * centre[1] + centre[2] * centre[2] > radius * radius)
          continue;
      }
      double *xm = out + 3 * (size_t)m * nat;
      for (int i = 0; i < nat; i++) {
        double rel[3];
        for (int k = 0; k < 3; k++) rel[k] = mono[m][3 * i + k] - c0[k];
        for (int k = 0; k < 3; k++)
          xm[3 * i + k] = centre[k] + R[3 * k] * rel[0] + R[3 * k + 1] * rel[1] +
                          R[3 * k + 2] * rel[2];
      }
      placed = clear_of_others(m, -1, nat, Z, xm, out, scale);
      if (placed)
        for (int k = 0; k < 3; k++) centres[m][k] = centre[k];
    }
    if (!placed) return -1;
  }
  return tries;
}

int mlff_smp_cluster(mlff_smp_rng *r, int n_mol, int nat, const int *Z,
                     const double *const *mono, double dmin, double dmax, int max_tries,
                     double *out) {
  double com[4][3];
  double (*centres)[3] = n_mol <= 4 ? com : malloc((size_t)n_mol * sizeof *centres);
  if (!centres) return -1;
  int tries = place_molecules(r, n_mol, nat, Z, mono, dmin, dmax, 0, 1.0, max_tries, out, centres);
  if (centres != com) free(centres);
  return tries;
}

/* Droplets are compacted after placement: sweeps of random moves of each molecule toward the
 * centre, kept when every contact stays at least contact x 2.0 Å (H..H) apart. */
#define DROPLET_SWEEPS 200

int mlff_smp_droplet(mlff_smp_rng *r, int n_mol, int nat, const int *Z,
                     const double *const *mono, double dmin, double dmax, double radius,
                     double contact, int max_tries, double *out) {
  if (!(radius > 0)) return -1;
  double (*centres)[3] = malloc((size_t)n_mol * sizeof *centres);
  double *moved = malloc((size_t)nat * 3 * sizeof *moved);
  int tries = centres && moved ? place_molecules(r, n_mol, nat, Z, mono, dmin, dmax, radius,
                                                 contact, max_tries, out, centres)
                               : -1;
  for (int sweep = 0; sweep < DROPLET_SWEEPS && tries >= 0; sweep++)
    for (int m = 0; m < n_mol; m++) {
      /* a step of 0-15 % of the way to the centre, plus a jitter of 0.3 Å */
      double f = 0.15 * mlff_smp_uniform(r), step[3];
      for (int k = 0; k < 3; k++) step[k] = -f * centres[m][k] + 0.3 * (2 * mlff_smp_uniform(r) - 1);
      double *xm = out + 3 * (size_t)m * nat;
      for (int i = 0; i < nat; i++)
        for (int k = 0; k < 3; k++) moved[3 * i + k] = xm[3 * i + k] + step[k];
      if (!clear_of_others(n_mol, m, nat, Z, moved, out, contact)) continue;
      memcpy(xm, moved, (size_t)nat * 3 * sizeof *moved);
      for (int k = 0; k < 3; k++) centres[m][k] += step[k];
    }
  free(centres);
  free(moved);
  return tries;
}

double mlff_smp_droplet_radius(int n_mol, int nat, const int *Z, double density) {
  double mass = 0; /* amu */
  for (int i = 0; i < nat; i++) mass += mlff_atomic_mass(Z[i]);
  /* volume per molecule, Å^3: amu / (g/cm^3) = 1.66053907 Å^3 */
  double v = mass * 1.66053906660 / density;
  return cbrt(3.0 * n_mol * v / (4.0 * M_PI));
}

/* ---- teacher-driven -------------------------------------------------------------------------- */

static mlff_status teacher_call(mlff_teacher *t, int nat, const int *Z, const double *x,
                                double *energy, double *forces) {
  mlff_teacher_molecule mol = {t, nat, Z};
  return mlff_teacher_molecule_forces(&mol, x, energy, forces);
}

mlff_status mlff_smp_optimize(mlff_teacher *t, int nat, const int *Z, double *x, double fmax,
                              int max_steps, int *steps, double *fmax_out) {
  /* FIRE (Bitzek et al. 2006) with ASE's parameters, unit masses. */
  const double dtmax = 1.0, maxstep = 0.2, finc = 1.1, fdec = 0.5, astart = 0.1, fa = 0.99;
  const int nmin = 5;
  double *v = calloc((size_t)nat * 3, sizeof *v), *f = malloc((size_t)nat * 3 * sizeof *f);
  if (!v || !f) {
    free(v);
    free(f);
    return mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
  }
  double dt = 0.1, a = astart, e;
  int since_neg = 0, s;
  mlff_status st = MLFF_OK;
  for (s = 0; s <= max_steps; s++) {
    if ((st = teacher_call(t, nat, Z, x, &e, f))) break;
    double fm = mlff_max_atom_force(nat, f);
    if (fmax_out) *fmax_out = fm;
    if (fm < fmax || s == max_steps) break;
    double P = 0, vn = 0, fn = 0;
    for (int i = 0; i < 3 * nat; i++) {
      P += f[i] * v[i];
      vn += v[i] * v[i];
      fn += f[i] * f[i];
    }
    if (P > 0) {
      double sc = sqrt(vn) / (sqrt(fn) + 1e-300);
      for (int i = 0; i < 3 * nat; i++) v[i] = (1 - a) * v[i] + a * f[i] * sc;
      if (since_neg > nmin) {
        dt = fmin(dt * finc, dtmax);
        a *= fa;
      }
      since_neg++;
    } else {
      for (int i = 0; i < 3 * nat; i++) v[i] = 0;
      a = astart;
      dt *= fdec;
      since_neg = 0;
    }
    double dn = 0;
    for (int i = 0; i < 3 * nat; i++) {
      v[i] += dt * f[i];
      dn += dt * v[i] * dt * v[i];
    }
    dn = sqrt(dn);
    double sc = dn > maxstep ? maxstep / dn : 1.0;
    for (int i = 0; i < 3 * nat; i++) x[i] += sc * dt * v[i];
  }
  if (steps) *steps = s;
  free(v);
  free(f);
  return st;
}

void mlff_smp_modes_sample(const mlff_modes *m, mlff_smp_rng *r, double T, double *x,
                           double *v) {
  int n = 3 * m->nat;
  double kT = MLFF_KB_EV * T;
  memcpy(x, m->x0, (size_t)n * sizeof *x);
  if (v) memset(v, 0, (size_t)n * sizeof *v);
  for (int k = 0; k < m->n_vib; k++) {
    /* soft and imaginary modes stay at rest (kT/lambda would be huge or undefined); they draw
     * no random numbers, so samples do not depend on how many there are */
    if (!(m->lambda[k] > MLFF_SMP_MIN_EIGEN)) continue;
    double q = sqrt(kT / m->lambda[k]) * mlff_smp_normal(r);
    double qd = v ? sqrt(kT * MLFF_ACC_UNIT) * mlff_smp_normal(r) : 0.0;
    const double *e = m->modes + (size_t)k * n;
    for (int i = 0; i < n; i++) {
      double s = 1.0 / sqrt(m->mass[i / 3]);
      x[i] += q * e[i] * s;
      if (v) v[i] += qd * e[i] * s;
    }
  }
}

mlff_status mlff_smp_md_init(mlff_smp_md *md, mlff_teacher *t, int nat, const int *Z,
                             const double *x0, const double *v0, double dt, double gamma,
                             double T, mlff_smp_rng *rng) {
  memset(md, 0, sizeof *md);
  md->nat = nat;
  md->Z = Z;
  md->dt = dt;
  md->gamma = gamma;
  md->T = T;
  md->rng = rng;
  md->teacher = t;
  size_t n = (size_t)nat * 3;
  md->x = malloc(n * sizeof *md->x);
  md->v = calloc(n, sizeof *md->v);
  md->f = malloc(n * sizeof *md->f);
  md->mass = malloc((size_t)nat * sizeof *md->mass);
  if (!md->x || !md->v || !md->f || !md->mass) {
    mlff_smp_md_free(md);
    return mlff_set_error(MLFF_ERR_NOMEM, "out of memory for the dynamics");
  }
  memcpy(md->x, x0, n * sizeof *md->x);
  if (v0) memcpy(md->v, v0, n * sizeof *md->v);
  for (int i = 0; i < nat; i++)
    if (!((md->mass[i] = mlff_atomic_mass(Z[i])) > 0)) {
      mlff_smp_md_free(md);
      return mlff_set_error(MLFF_ERR_ARGUMENT, "dynamics: no standard atomic mass for element "
                            "Z = %d (atom %d)", Z[i], i);
    }
  md->calls = 1;
  return teacher_call(t, nat, Z, md->x, &md->energy, md->f);
}

mlff_status mlff_smp_md_step(mlff_smp_md *md, int n_steps) {
  int n = md->nat;
  double h = 0.5 * md->dt, c1 = exp(-md->gamma * md->dt), c2 = sqrt(1.0 - c1 * c1);
  double kT = MLFF_KB_EV * md->T;
  for (int s = 0; s < n_steps; s++) {
    for (int i = 0; i < n; i++) { /* B, A, O, A */
      double a = MLFF_ACC_UNIT / md->mass[i], sd = c2 * sqrt(kT * MLFF_ACC_UNIT / md->mass[i]);
      for (int k = 0; k < 3; k++) {
        double *v = &md->v[3 * i + k], *x = &md->x[3 * i + k];
        *v += h * a * md->f[3 * i + k];
        *x += h * *v;
        *v = c1 * *v + sd * mlff_smp_normal(md->rng);
        *x += h * *v;
      }
    }
    mlff_status st = teacher_call(md->teacher, n, md->Z, md->x, &md->energy, md->f);
    md->calls++;
    if (st) return st;
    for (int i = 0; i < n; i++) { /* B */
      double a = MLFF_ACC_UNIT / md->mass[i];
      for (int k = 0; k < 3; k++) md->v[3 * i + k] += h * a * md->f[3 * i + k];
    }
  }
  return MLFF_OK;
}

void mlff_smp_md_free(mlff_smp_md *md) {
  if (!md) return;
  free(md->x);
  free(md->v);
  free(md->f);
  free(md->mass);
  md->x = md->v = md->f = md->mass = NULL;
}
