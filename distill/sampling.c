/* sampling.c — numerics of `mlff label` (see sampling.h): random numbers, element data, a
 * Jacobi eigensolver, FIRE optimisation, the finite-difference Hessian and normal modes,
 * Langevin dynamics (BAOAB) and molecular clusters. Deterministic throughout: no clocks, no
 * threads, no global state. */
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

/* ---- elements ------------------------------------------------------------------------------ */

static const double MASS[87] = {
    0,      1.008,  4.0026, 6.94,   9.0122, 10.81,  12.011, 14.007, 15.999, 18.998, 20.180,
    22.990, 24.305, 26.982, 28.085, 30.974, 32.06,  35.45,  39.948, 39.098, 40.078, 44.956,
    47.867, 50.942, 51.996, 54.938, 55.845, 58.933, 58.693, 63.546, 65.38,  69.723, 72.630,
    74.922, 78.971, 79.904, 83.798, 85.468, 87.62,  88.906, 91.224, 92.906, 95.95,  98.0,
    101.07, 102.91, 106.42, 107.87, 112.41, 114.82, 118.71, 121.76, 127.60, 126.90, 131.29,
    132.91, 137.33, 138.91, 140.12, 140.91, 144.24, 145.0,  150.36, 151.96, 157.25, 158.93,
    162.50, 164.93, 167.26, 168.93, 173.05, 174.97, 178.49, 180.95, 183.84, 186.21, 190.23,
    192.22, 195.08, 196.97, 200.59, 204.38, 207.2,  208.98, 209.0,  210.0,  222.0};

double mlff_smp_mass(int z) { return z >= 1 && z <= 86 ? MASS[z] : 2.5 * z; }

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

/* ---- Jacobi eigensolver ---------------------------------------------------------------------- */

int mlff_smp_jacobi(int n, double *A, double *w, double *V) {
  double *Vw = V ? V : malloc((size_t)n * n * sizeof *Vw);
  if (!Vw) return -2;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) Vw[i * n + j] = i == j;
  int sweeps = -1;
  for (int sweep = 1; sweep <= 100; sweep++) {
    double off = 0, frob = 0;
    for (int p = 0; p < n; p++)
      for (int q = 0; q < n; q++) {
        double a2 = A[p * n + q] * A[p * n + q];
        frob += a2;
        if (p != q) off += a2;
      }
    if (off == 0 || off <= 1e-30 * frob) {
      sweeps = sweep - 1;
      break;
    }
    int rotated = 0;
    for (int p = 0; p < n - 1; p++)
      for (int q = p + 1; q < n; q++) {
        double apq = A[p * n + q], app = A[p * n + p], aqq = A[q * n + q];
        if (apq == 0) continue;
        /* after a few sweeps, an element too small to change either diagonal is set to zero */
        double g = 100 * fabs(apq);
        if (sweep > 4 && fabs(app) + g == fabs(app) && fabs(aqq) + g == fabs(aqq)) {
          A[p * n + q] = A[q * n + p] = 0;
          continue;
        }
        rotated = 1;
        /* J = rotation in the (p, q) plane with tan(phi) = t, chosen so that (J^T A J)_pq = 0 */
        double theta = (aqq - app) / (2 * apq);
        double t = fabs(theta) > 1e150 ? 0.5 / theta
                                       : (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
        double c = 1 / sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < n; k++) { /* A J: columns p and q */
          double akp = A[k * n + p], akq = A[k * n + q];
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (int k = 0; k < n; k++) { /* J^T (A J): rows p and q */
          double apk = A[p * n + k], aqk = A[q * n + k];
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
        A[p * n + q] = A[q * n + p] = 0;
        for (int k = 0; k < n; k++) {
          double vkp = Vw[k * n + p], vkq = Vw[k * n + q];
          Vw[k * n + p] = c * vkp - s * vkq;
          Vw[k * n + q] = s * vkp + c * vkq;
        }
      }
    if (!rotated) {
      sweeps = sweep;
      break;
    }
  }
  for (int i = 0; i < n; i++) w[i] = A[i * n + i];
  /* sort ascending (selection sort: n is small), eigenvectors along */
  for (int i = 0; i < n - 1; i++) {
    int k = i;
    for (int j = i + 1; j < n; j++)
      if (w[j] < w[k]) k = j;
    if (k == i) continue;
    double tw = w[i];
    w[i] = w[k];
    w[k] = tw;
    for (int r = 0; r < n; r++) {
      double tv = Vw[r * n + i];
      Vw[r * n + i] = Vw[r * n + k];
      Vw[r * n + k] = tv;
    }
  }
  if (!V) free(Vw);
  return sweeps;
}

/* ---- geometry -------------------------------------------------------------------------------- */

void mlff_smp_center_of_mass(int n, const int *Z, const double *x, double com[3]) {
  double m = 0.0;
  com[0] = com[1] = com[2] = 0.0;
  for (int i = 0; i < n; i++) {
    double mi = mlff_smp_mass(Z[i]);
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
  for (int i = 0; i < nat; i++) mass += mlff_smp_mass(Z[i]);
  /* volume per molecule, Å^3: amu / (g/cm^3) = 1.66053907 Å^3 */
  double v = mass * 1.66053906660 / density;
  return cbrt(3.0 * n_mol * v / (4.0 * M_PI));
}

/* ---- teacher-driven -------------------------------------------------------------------------- */

mlff_status mlff_smp_teacher(mlff_teacher *t, int nat, const int *Z, const double *x,
                             double *energy, double *forces) {
  mlff_frame f;
  memset(&f, 0, sizeof f);
  f.n_atoms = nat;
  f.atomic_numbers = (int *)Z;
  f.positions = (double *)x;
  return mlff_teacher_compute(t, &f, energy, forces);
}

static double max_force(int nat, const double *f) {
  double m = 0;
  for (int i = 0; i < nat; i++) {
    double n = sqrt(f[3 * i] * f[3 * i] + f[3 * i + 1] * f[3 * i + 1] + f[3 * i + 2] * f[3 * i + 2]);
    if (n > m) m = n;
  }
  return m;
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
    if ((st = mlff_smp_teacher(t, nat, Z, x, &e, f))) break;
    double fm = max_force(nat, f);
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

mlff_status mlff_smp_hessian(mlff_teacher *t, int nat, const int *Z, const double *x, double h,
                             double *H) {
  int n = 3 * nat;
  double *xp = malloc((size_t)n * sizeof *xp), *fp = malloc((size_t)n * sizeof *fp),
         *fm = malloc((size_t)n * sizeof *fm);
  mlff_status st = MLFF_OK;
  if (!xp || !fp || !fm) st = mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
  for (int i = 0; i < n && !st; i++) {
    double e;
    memcpy(xp, x, (size_t)n * sizeof *xp);
    xp[i] = x[i] + h;
    if ((st = mlff_smp_teacher(t, nat, Z, xp, &e, fp))) break;
    xp[i] = x[i] - h;
    if ((st = mlff_smp_teacher(t, nat, Z, xp, &e, fm))) break;
    for (int j = 0; j < n; j++) H[i * n + j] = -(fp[j] - fm[j]) / (2 * h);
  }
  if (!st)
    for (int i = 0; i < n; i++)
      for (int j = i + 1; j < n; j++) H[i * n + j] = H[j * n + i] = 0.5 * (H[i * n + j] + H[j * n + i]);
  free(xp);
  free(fp);
  free(fm);
  return st;
}

void mlff_smp_modes_free(mlff_smp_modes *m) {
  if (!m) return;
  free(m->x0);
  free(m->mass);
  free(m->lambda);
  free(m->modes);
  memset(m, 0, sizeof *m);
}

double mlff_smp_wavenumber(double lambda) {
  /* sqrt(lambda * 9.6485e27 s^-2) / (2 pi c), c in cm/s */
  double omega = sqrt(fabs(lambda) * 1.602176634e-19 / (1e-20 * 1.66053906660e-27));
  return (lambda < 0 ? -1 : 1) * omega / (2 * M_PI * 2.99792458e10);
}

mlff_status mlff_smp_normal_modes(int nat, const int *Z, const double *x, const double *H,
                                  mlff_smp_modes *m) {
  memset(m, 0, sizeof *m);
  int n = 3 * nat;
  double *A = malloc((size_t)n * n * sizeof *A), *V = malloc((size_t)n * n * sizeof *V);
  double *w = malloc((size_t)n * sizeof *w), *D = calloc((size_t)6 * n, sizeof *D);
  double *P = malloc((size_t)n * n * sizeof *P), *T = malloc((size_t)n * n * sizeof *T);
  m->x0 = malloc((size_t)n * sizeof *m->x0);
  m->mass = malloc((size_t)nat * sizeof *m->mass);
  mlff_status st = MLFF_OK;
  if (!A || !V || !w || !D || !P || !T || !m->x0 || !m->mass) {
    st = mlff_set_error(MLFF_ERR_NOMEM, "out of memory for the normal modes");
    goto done;
  }
  m->nat = nat;
  memcpy(m->x0, x, (size_t)n * sizeof *x);
  for (int i = 0; i < nat; i++) m->mass[i] = mlff_smp_mass(Z[i]);
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++)
      A[i * n + j] = H[i * n + j] / sqrt(m->mass[i / 3] * m->mass[j / 3]);
  /* Translations and rotations in mass-weighted coordinates, orthonormalised; a linear
   * molecule has one rotation fewer (it drops out as a zero vector). */
  double com[3];
  mlff_smp_center_of_mass(nat, Z, x, com);
  int nd = 0;
  for (int k = 0; k < 6; k++) {
    double *d = D + (size_t)nd * n;
    for (int i = 0; i < nat; i++) {
      double sm = sqrt(m->mass[i]), r[3];
      for (int c = 0; c < 3; c++) r[c] = x[3 * i + c] - com[c];
      if (k < 3) {
        d[3 * i + k] = sm;
      } else { /* e_a x r */
        int a = k - 3;
        double e[3] = {0, 0, 0};
        e[a] = 1;
        d[3 * i] = sm * (e[1] * r[2] - e[2] * r[1]);
        d[3 * i + 1] = sm * (e[2] * r[0] - e[0] * r[2]);
        d[3 * i + 2] = sm * (e[0] * r[1] - e[1] * r[0]);
      }
    }
    double len0 = 0;
    for (int i = 0; i < n; i++) len0 += d[i] * d[i];
    for (int l = 0; l < nd; l++) {
      const double *o = D + (size_t)l * n;
      double dot = 0;
      for (int i = 0; i < n; i++) dot += d[i] * o[i];
      for (int i = 0; i < n; i++) d[i] -= dot * o[i];
    }
    double len = 0;
    for (int i = 0; i < n; i++) len += d[i] * d[i];
    if (len > 1e-10 * (len0 > 0 ? len0 : 1) && len > 1e-20) {
      len = sqrt(len);
      for (int i = 0; i < n; i++) d[i] /= len;
      nd++;
    } else {
      for (int i = 0; i < n; i++) d[i] = 0;
    }
  }
  /* A <- P A P with P = I - sum d d^T. */
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      double p = i == j ? 1.0 : 0.0;
      for (int l = 0; l < nd; l++) p -= D[(size_t)l * n + i] * D[(size_t)l * n + j];
      P[i * n + j] = p;
    }
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      double s = 0;
      for (int k = 0; k < n; k++) s += A[i * n + k] * P[k * n + j];
      T[i * n + j] = s;
    }
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      double s = 0;
      for (int k = 0; k < n; k++) s += P[i * n + k] * T[k * n + j];
      A[i * n + j] = s;
    }
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++) A[i * n + j] = A[j * n + i] = 0.5 * (A[i * n + j] + A[j * n + i]);
  if (mlff_smp_jacobi(n, A, w, V) < 0) {
    st = mlff_set_error(MLFF_ERR_ARGUMENT, "normal modes: the Jacobi eigensolver did not converge");
    goto done;
  }
  int kept = 0;
  for (int k = 0; k < n; k++) {
    if (w[k] > MLFF_SMP_MIN_EIGEN) kept++;
    else if (w[k] < -MLFF_SMP_MIN_EIGEN) m->n_imaginary++;
  }
  m->lambda = malloc((size_t)(kept ? kept : 1) * sizeof *m->lambda);
  m->modes = malloc((size_t)(kept ? kept : 1) * n * sizeof *m->modes);
  if (!m->lambda || !m->modes) {
    st = mlff_set_error(MLFF_ERR_NOMEM, "out of memory for the normal modes");
    goto done;
  }
  for (int k = 0, j = 0; k < n; k++) {
    if (!(w[k] > MLFF_SMP_MIN_EIGEN)) continue;
    m->lambda[j] = w[k];
    for (int i = 0; i < n; i++) m->modes[(size_t)j * n + i] = V[i * n + k];
    j++;
  }
  m->n_modes = kept;
done:
  free(A);
  free(V);
  free(w);
  free(D);
  free(P);
  free(T);
  if (st) mlff_smp_modes_free(m);
  return st;
}

void mlff_smp_modes_sample(const mlff_smp_modes *m, mlff_smp_rng *r, double T, double *x,
                           double *v) {
  int n = 3 * m->nat;
  double kT = MLFF_KB_EV * T;
  memcpy(x, m->x0, (size_t)n * sizeof *x);
  if (v) memset(v, 0, (size_t)n * sizeof *v);
  for (int k = 0; k < m->n_modes; k++) {
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
  for (int i = 0; i < nat; i++) md->mass[i] = mlff_smp_mass(Z[i]);
  md->calls = 1;
  return mlff_smp_teacher(t, nat, Z, md->x, &md->energy, md->f);
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
    mlff_status st = mlff_smp_teacher(md->teacher, n, md->Z, md->x, &md->energy, md->f);
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
