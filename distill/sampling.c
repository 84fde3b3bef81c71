/* sampling.c — numerics of `mlff label` (mlff_distill.h, "sampling"): random numbers, van der
 * Waals radii, FIRE optimisation, harmonic samples of the normal modes (computed by harmonic.c,
 * with its masses), Langevin dynamics (BAOAB), molecular clusters, periodic liquids and the
 * spheres carved from them. Deterministic throughout: no clocks, no threads, no global state. */
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

/* The van der Waals radii of atoms Z (malloc'd; NULL when out of memory). */
static double *vdw_radii(int nat, const int *Z) {
  double *rv = malloc((size_t)(nat > 0 ? nat : 1) * sizeof *rv);
  for (int i = 0; rv && i < nat; i++) rv[i] = mlff_smp_vdw_radius(Z[i]);
  return rv;
}

/* Whether atoms a and b (b moved by shift, or not: NULL) of two molecules of nat atoms (van der
 * Waals radii rv) are all at least scale x 2.0 Å x (sum of the radii / 2.4) apart. */
static int pair_clear(int nat, const double *rv, const double *a, const double *b,
                      const double *shift, double scale) {
  for (int i = 0; i < nat; i++)
    for (int j = 0; j < nat; j++) {
      double d2 = 0;
      for (int k = 0; k < 3; k++) {
        double d = a[3 * i + k] - (shift ? b[3 * j + k] + shift[k] : b[3 * j + k]);
        d2 += d * d;
      }
      double lim = scale * CONTACT_SCALE * (rv[i] + rv[j]);
      if (d2 < lim * lim) return 0;
    }
  return 1;
}

/* Whether molecule m (atoms xm) keeps every atom of the other molecules l < n_mol, l != m, at
 * least scale x the contact distance away (open boundaries). */
static int clear_of_others(int n_mol, int m, int nat, const double *rv, const double *xm,
                           const double *x, double scale) {
  for (int l = 0; l < n_mol; l++)
    if (l != m && !pair_clear(nat, rv, xm, x + 3 * (size_t)l * nat, NULL, scale)) return 0;
  return 1;
}

/* xm = centre + R (mono - c0): a monomer turned and moved as a rigid body. */
static void place_rigid(int nat, const double *mono, const double c0[3], const double R[9],
                        const double centre[3], double *xm) {
  for (int i = 0; i < nat; i++) {
    double rel[3];
    for (int k = 0; k < 3; k++) rel[k] = mono[3 * i + k] - c0[k];
    for (int k = 0; k < 3; k++)
      xm[3 * i + k] = centre[k] + R[3 * k] * rel[0] + R[3 * k + 1] * rel[1] + R[3 * k + 2] * rel[2];
  }
}

/* Rodrigues: the rotation by |w| about w. */
static void rotation_of_vector(const double w[3], double R[9]) {
  double t = sqrt(w[0] * w[0] + w[1] * w[1] + w[2] * w[2]);
  double u[3] = {0, 0, 1}, c = cos(t), s = sin(t);
  if (t > 0)
    for (int k = 0; k < 3; k++) u[k] = w[k] / t;
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++) R[3 * i + j] = (1 - c) * u[i] * u[j] + (i == j ? c : 0);
  R[1] -= s * u[2];
  R[2] += s * u[1];
  R[3] += s * u[2];
  R[5] -= s * u[0];
  R[6] -= s * u[1];
  R[7] += s * u[0];
}

/* u: a direction uniform on the sphere, not normalised (normal deviates, redrawn when all but
 * zero); returns its length. */
static double random_direction(mlff_smp_rng *r, double u[3]) {
  double norm;
  do {
    norm = 0;
    for (int k = 0; k < 3; k++) {
      u[k] = mlff_smp_normal(r);
      norm += u[k] * u[k];
    }
  } while (norm < 1e-12);
  return sqrt(norm);
}

/* Molecules placed one by one with random orientations: molecule 0 at the origin, each next one
 * dmin..dmax from a random earlier one, rejected when it comes within scale x the contact
 * distance of an earlier one or, when radius > 0, when its centre lies outside that sphere. */
static int place_molecules(mlff_smp_rng *r, int n_mol, int nat, const int *Z, const double *rv,
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
        double d = dmin + (dmax - dmin) * mlff_smp_uniform(r), u[3];
        double norm = random_direction(r, u);
        for (int k = 0; k < 3; k++) centre[k] = centres[anchor][k] + d * u[k] / norm;
        if (radius > 0 &&
            centre[0] * centre[0] + centre[1] * centre[1] + centre[2] * centre[2] > radius * radius)
          continue;
      }
      double *xm = out + 3 * (size_t)m * nat;
      place_rigid(nat, mono[m], c0, R, centre, xm);
      placed = clear_of_others(m, -1, nat, rv, xm, out, scale);
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
  double (*centres)[3] = malloc((size_t)n_mol * sizeof *centres), *rv = vdw_radii(nat, Z);
  int tries = centres && rv ? place_molecules(r, n_mol, nat, Z, rv, mono, dmin, dmax, 0, 1.0,
                                              max_tries, out, centres)
                            : -1;
  free(centres);
  free(rv);
  return tries;
}

/* Molecule 1 of a dimer (out + 3 nat) placed at centre distance s along u; its contact ratio. */
static double dimer_at(int nat, const int *Z, const double *mono, const double c0[3],
                       const double R[9], const double u[3], double s, double *out) {
  double centre[3] = {s * u[0], s * u[1], s * u[2]}, ratio;
  place_rigid(nat, mono, c0, R, centre, out + 3 * (size_t)nat);
  mlff_smp_min_contact(2, nat, Z, out, &ratio);
  return ratio;
}

/* u: a principal axis of inertia of the molecule x (nat atoms about the origin), drawn at
 * random, either sign, tilted by an angle uniform on the cap up to MLFF_SMP_AXIS_TILT_DEG (u
 * enters as a random unit vector and gives the tilt's direction): stacked and slipped-stacked
 * pairs of flat molecules, end-on pairs of long ones, which a random line seldom finds. */
static void along_axis(mlff_smp_rng *r, int nat, const int *Z, const double *x, double u[3]) {
  double I[9] = {0}, w[3], V[9];
  for (int i = 0; i < nat; i++) {
    const double m = mlff_atomic_mass(Z[i]), *p = x + 3 * i;
    const double r2 = p[0] * p[0] + p[1] * p[1] + p[2] * p[2];
    for (int a = 0; a < 3; a++)
      for (int b = 0; b < 3; b++) I[3 * a + b] += m * ((a == b ? r2 : 0.0) - p[a] * p[b]);
  }
  mlff_jacobi_eigen(3, I, w, V); /* V given: cannot run out of memory; columns: the axes */
  const int k = (int)(3.0 * mlff_smp_uniform(r)) % 3;
  const double sign = mlff_smp_uniform(r) < 0.5 ? -1.0 : 1.0;
  double a[3] = {sign * V[k], sign * V[3 + k], sign * V[6 + k]}, t[3], tn = 0.0, ua = 0.0;
  for (int q = 0; q < 3; q++) ua += u[q] * a[q];
  for (int q = 0; q < 3; q++) {
    t[q] = u[q] - ua * a[q];
    tn += t[q] * t[q];
  }
  tn = sqrt(tn);
  const double cmin = cos(MLFF_SMP_AXIS_TILT_DEG * M_PI / 180.0);
  const double ct = 1.0 - (1.0 - cmin) * mlff_smp_uniform(r), st = sqrt(1.0 - ct * ct);
  for (int q = 0; q < 3; q++) u[q] = ct * a[q] + (tn > 1e-9 ? st * t[q] / tn : 0.0);
}

/* Contact dimers: the second molecule brought in from afar along a random line until the
 * closest contact reaches the target (first touch, then bisection to 1e-4 Å), not placed at a
 * drawn centre distance: the centre distance of a contact depends on the orientation (stacked
 * planar rings touch at 3.2 Å, T-shapes at 5 Å), so centre windows miss close, well-aligned
 * pairs of flat or long molecules. */
int mlff_smp_contact_dimer(mlff_smp_rng *r, int nat, const int *Z, const double *const *mono,
                           double contact, int aligned, double *out) {
  double c[2][3], R[2][9], u[3], norm, ext = 0, rmax = 0;
  for (int m = 0; m < 2; m++) {
    mlff_smp_center_of_mass(nat, Z, mono[m], c[m]);
    for (int i = 0; i < nat; i++) {
      double d2 = 0;
      for (int k = 0; k < 3; k++) {
        double d = mono[m][3 * i + k] - c[m][k];
        d2 += d * d;
      }
      if (sqrt(d2) > ext) ext = sqrt(d2);
    }
  }
  for (int i = 0; i < nat; i++)
    if (mlff_smp_vdw_radius(Z[i]) > rmax) rmax = mlff_smp_vdw_radius(Z[i]);
  mlff_smp_random_rotation(r, R[0]);
  if (aligned) memcpy(R[1], R[0], sizeof R[0]);
  else mlff_smp_random_rotation(r, R[1]);
  norm = random_direction(r, u);
  for (int k = 0; k < 3; k++) u[k] /= norm;
  const double origin[3] = {0, 0, 0};
  place_rigid(nat, mono[0], c[0], R[0], origin, out);
  if (aligned == MLFF_SMP_ALONG_AXIS) along_axis(r, nat, Z, out, u);
  double far = 2 * ext + 2 * contact * CONTACT_SCALE * rmax + 1, step = 0.1, s = far;
  if (!(contact > 0) || dimer_at(nat, Z, mono[1], c[1], R[1], u, s, out) < contact) return -1;
  while (s > 0 && dimer_at(nat, Z, mono[1], c[1], R[1], u, s - step, out) >= contact) s -= step;
  if (s <= 0) return -1; /* never touches */
  double lo = s - step, hi = s; /* ratio(lo) < contact <= ratio(hi) */
  while (hi - lo > 1e-4) {
    double mid = 0.5 * (lo + hi);
    if (dimer_at(nat, Z, mono[1], c[1], R[1], u, mid, out) >= contact) hi = mid;
    else lo = mid;
  }
  dimer_at(nat, Z, mono[1], c[1], R[1], u, hi, out);
  return 0;
}

/* Droplets are compacted after placement: sweeps of random moves of each molecule toward the
 * centre, kept when every contact stays at least contact x 2.0 Å (H..H) apart. */
#define DROPLET_SWEEPS 200

int mlff_smp_droplet(mlff_smp_rng *r, int n_mol, int nat, const int *Z,
                     const double *const *mono, double dmin, double dmax, double radius,
                     double contact, int max_tries, double *out) {
  if (!(radius > 0)) return -1;
  double (*centres)[3] = malloc((size_t)n_mol * sizeof *centres);
  double *moved = malloc((size_t)nat * 3 * sizeof *moved), *rv = vdw_radii(nat, Z);
  int tries = centres && moved && rv ? place_molecules(r, n_mol, nat, Z, rv, mono, dmin, dmax,
                                                       radius, contact, max_tries, out, centres)
                                     : -1;
  for (int sweep = 0; sweep < DROPLET_SWEEPS && tries >= 0; sweep++)
    for (int m = 0; m < n_mol; m++) {
      /* a step of 0-15 % of the way to the centre, plus a jitter of 0.3 Å */
      double f = 0.15 * mlff_smp_uniform(r), step[3];
      for (int k = 0; k < 3; k++) step[k] = -f * centres[m][k] + 0.3 * (2 * mlff_smp_uniform(r) - 1);
      double *xm = out + 3 * (size_t)m * nat;
      for (int i = 0; i < nat; i++)
        for (int k = 0; k < 3; k++) moved[3 * i + k] = xm[3 * i + k] + step[k];
      if (!clear_of_others(n_mol, m, nat, rv, moved, out, contact)) continue;
      memcpy(xm, moved, (size_t)nat * 3 * sizeof *moved);
      for (int k = 0; k < 3; k++) centres[m][k] += step[k];
    }
  free(centres);
  free(moved);
  free(rv);
  return tries;
}

/* Volume per molecule (Å^3) at the density (g/cm^3): amu / (g/cm^3) = 1.66053906660 Å^3. */
static double molecular_volume(int nat, const int *Z, double density) {
  double mass = 0; /* amu */
  for (int i = 0; i < nat; i++) mass += mlff_atomic_mass(Z[i]);
  return mass * 1.66053906660 / density;
}

double mlff_smp_droplet_radius(int n_mol, int nat, const int *Z, double density) {
  return cbrt(3.0 * n_mol * molecular_volume(nat, Z, density) / (4.0 * M_PI));
}

/* ---- periodic liquids ------------------------------------------------------------------------ */

double mlff_smp_box_side(int n_mol, int nat, const int *Z, double density) {
  return cbrt(n_mol * molecular_volume(nat, Z, density));
}

/* Largest distance of an atom from the centre of mass c. */
static double bounding_radius(int nat, const double *x, const double c[3]) {
  double r2 = 0;
  for (int i = 0; i < nat; i++) {
    double d2 = 0;
    for (int k = 0; k < 3; k++) d2 += (x[3 * i + k] - c[k]) * (x[3 * i + k] - c[k]);
    if (d2 > r2) r2 = d2;
  }
  return sqrt(r2);
}

/* Largest contact distance between two atoms of radii rv at this scale. */
static double max_contact(int nat, const double *rv, double scale) {
  double r = 0;
  for (int i = 0; i < nat; i++) r = fmax(r, rv[i]);
  return scale * CONTACT_SCALE * 2 * r;
}

static double min_image(double d, double side) { return d - side * nearbyint(d / side); }

int mlff_smp_liquid_box_molecules(int n_keep, int nat, const int *Z, const double *x,
                                  double density, double contact) {
  double c[3], *rv = vdw_radii(nat, Z);
  if (!rv) return -1;
  mlff_smp_center_of_mass(nat, Z, x, c);
  /* a molecule must not meet its own image: the side exceeds its diameter and the largest
   * contact, with 1 Å to spare for the distortions of the MD samples */
  double need = 2 * bounding_radius(nat, x, c) + max_contact(nat, rv, contact) + 1.0;
  free(rv);
  /* a box of 2.4 spheres' volume has a side 8 % above the sphere's diameter */
  int n = (int)ceil(2.4 * n_keep), n_min = (int)ceil(need * need * need /
                                                      molecular_volume(nat, Z, density));
  return n > n_min ? n : n_min;
}

/* A periodic box under construction: molecules whole, centres of mass in [0, side)^3. */
typedef struct {
  int n, nat;
  const double *rv;            /* [nat] van der Waals radii */
  double *x, (*c)[3], *radius; /* [n * nat][3], [n][3], [n] bounding radii */
  double side, contact, reach; /* reach: the largest contact distance */
  double move;                 /* Monte Carlo amplitude, Å */
} liquid;

/* Whether molecule m, with atoms xm and centre cm, keeps the contacts with every image of every
 * other molecule l < n_check, l != m. Only images whose bounding spheres come within a contact
 * of m's are checked atom by atom; with the side above 2 x radius + reach (checked at the start)
 * these are among the 27 images around the nearest one, and no molecule meets its own. */
static int liquid_clear(const liquid *q, int m, const double *xm, const double cm[3],
                        int n_check) {
  for (int l = 0; l < n_check; l++) {
    if (l == m) continue;
    double d[3], far = q->radius[m] + q->radius[l] + q->reach;
    for (int k = 0; k < 3; k++) d[k] = min_image(cm[k] - q->c[l][k], q->side);
    if (d[0] * d[0] + d[1] * d[1] + d[2] * d[2] >= far * far) continue; /* the nearest is far */
    for (int img = 0; img < 27; img++) {
      double shift[3], d2 = 0;
      for (int k = 0, code = img; k < 3; k++, code /= 3) {
        double n = code % 3 - 1, e = d[k] - n * q->side;
        /* the shift that moves l's atoms to this image, as seen from m */
        shift[k] = cm[k] - d[k] + n * q->side - q->c[l][k];
        d2 += e * e;
      }
      if (d2 < far * far &&
          !pair_clear(q->nat, q->rv, xm, q->x + 3 * (size_t)l * q->nat, shift, q->contact))
        return 0;
    }
  }
  return 1;
}

/* One Monte Carlo sweep: each molecule in turn moved by up to q->move Å along each axis and
 * turned by up to q->move / 2 rad about each, where the contacts allow; the centre wrapped into
 * the box. The amplitude follows the acceptance (kept near 30-50 %: dense packings need small
 * moves, loose ones large). */
static void liquid_sweep(liquid *q, mlff_smp_rng *r, double *moved) {
  int accepted = 0;
  for (int m = 0; m < q->n; m++) {
    double *xm = q->x + 3 * (size_t)m * q->nat, w[3], R[9], c[3];
    for (int k = 0; k < 3; k++) w[k] = 0.5 * q->move * (2 * mlff_smp_uniform(r) - 1);
    for (int k = 0; k < 3; k++) {
      c[k] = q->c[m][k] + q->move * (2 * mlff_smp_uniform(r) - 1);
      c[k] -= q->side * floor(c[k] / q->side);
    }
    rotation_of_vector(w, R);
    place_rigid(q->nat, xm, q->c[m], R, c, moved);
    if (!liquid_clear(q, m, moved, c, q->n)) continue;
    memcpy(xm, moved, (size_t)q->nat * 3 * sizeof *moved);
    memcpy(q->c[m], c, sizeof c);
    accepted++;
  }
  if (accepted < 0.3 * q->n) q->move = fmax(0.8 * q->move, 0.01);
  else if (accepted > 0.5 * q->n) q->move = fmin(1.25 * q->move, 0.5);
}

/* Scale the box and the centres to the new side (molecules rigid); kept when every contact
 * holds. */
static int liquid_compress(liquid *q, double new_side, double *saved) {
  size_t n3 = (size_t)q->n * q->nat * 3;
  memcpy(saved, q->x, n3 * sizeof *saved);
  double side = q->side, f = new_side / side;
  q->side = new_side;
  for (int m = 0; m < q->n; m++)
    for (int i = 0; i < q->nat; i++)
      for (int k = 0; k < 3; k++) q->x[3 * ((size_t)m * q->nat + i) + k] += (f - 1) * q->c[m][k];
  for (int m = 0; m < q->n; m++)
    for (int k = 0; k < 3; k++) q->c[m][k] *= f;
  int ok = 1;
  for (int m = 1; m < q->n && ok; m++)
    ok = liquid_clear(q, m, q->x + 3 * (size_t)m * q->nat, q->c[m], m);
  if (ok) return 1;
  memcpy(q->x, saved, n3 * sizeof *saved);
  for (int m = 0; m < q->n; m++)
    for (int k = 0; k < 3; k++) q->c[m][k] /= f;
  q->side = side;
  return 0;
}

/* Random insertion jams far below liquid densities (benzene: between 0.5 and 0.7 g/cm^3 at
 * contacts of 2.0 Å H..H), so molecules are inserted into a box LIQUID_EXPAND times wider, which
 * is then compressed to the side asked for: the hard-body compression of a molecular fluid. A
 * cycle tries one compression step; after a success the step grows by half (to 3 % at most),
 * after a failure it shrinks by 30 % (not below 0.1 %) and a Monte Carlo sweep loosens the
 * packing. Benzene, 58 molecules: 300-550 cycles at 0.6 times its liquid density, 1,000-4,200
 * at 1.1 times (0.1-2.5 s). */
#define LIQUID_EXPAND 1.4
#define LIQUID_CYCLES 5000

int mlff_smp_liquid_box(mlff_smp_rng *r, int n_mol, int nat, const int *Z,
                        const double *const *mono, double side, double contact, int max_tries,
                        double *out) {
  double *rv = vdw_radii(nat, Z);
  liquid q = {n_mol, nat, rv, out, malloc((size_t)n_mol * sizeof *q.c),
              malloc((size_t)n_mol * sizeof *q.radius), LIQUID_EXPAND * side, contact,
              rv ? max_contact(nat, rv, contact) : 0, 0.3};
  double *saved = malloc((size_t)n_mol * nat * 3 * sizeof *saved);
  int result = rv && q.c && q.radius && saved ? 0 : -1;
  for (int m = 0; m < n_mol && result >= 0; m++) {
    double c0[3];
    mlff_smp_center_of_mass(nat, Z, mono[m], c0);
    q.radius[m] = bounding_radius(nat, mono[m], c0);
    if (!(side > 2 * q.radius[m] + q.reach)) result = -1; /* it would meet its own image */
    double *xm = out + 3 * (size_t)m * nat;
    int placed = 0;
    for (int attempt = 0; attempt < max_tries && !placed && result >= 0; attempt++) {
      double R[9];
      mlff_smp_random_rotation(r, R);
      for (int k = 0; k < 3; k++) q.c[m][k] = q.side * mlff_smp_uniform(r);
      place_rigid(nat, mono[m], c0, R, q.c[m], xm);
      placed = liquid_clear(&q, m, xm, q.c[m], m);
    }
    if (!placed) result = -1;
  }
  double step = 0.03;
  for (int cycle = 0; result >= 0 && q.side > side; cycle++) {
    if (cycle == LIQUID_CYCLES) {
      result = -1;
      break;
    }
    if (liquid_compress(&q, fmax((1 - step) * q.side, side), saved)) {
      step = fmin(1.5 * step, 0.03);
    } else {
      liquid_sweep(&q, r, saved);
      step = fmax(0.7 * step, 1e-3);
    }
    result = cycle + 1;
  }
  free(rv);
  free(q.c);
  free(q.radius);
  free(saved);
  return result;
}

typedef struct {
  double d2;
  int m;
} ranked;

static int by_distance(const void *a, const void *b) {
  const ranked *x = a, *y = b;
  if (x->d2 != y->d2) return x->d2 < y->d2 ? -1 : 1;
  return x->m - y->m; /* ties in box order: the same input, the same choice */
}

int mlff_smp_carve(int n_box, int nat, const int *Z, const double *box, double side,
                   const double centre[3], int n_keep, double *out, double *radius) {
  if (n_keep < 1 || n_keep > n_box) return -1;
  ranked *rk = malloc((size_t)n_box * sizeof *rk);
  double (*shift)[3] = malloc((size_t)n_box * sizeof *shift);
  if (!rk || !shift) {
    free(rk);
    free(shift);
    return -1;
  }
  for (int m = 0; m < n_box; m++) {
    double c[3];
    mlff_smp_center_of_mass(nat, Z, box + 3 * (size_t)m * nat, c);
    rk[m].m = m;
    rk[m].d2 = 0;
    for (int k = 0; k < 3; k++) {
      double d = min_image(c[k] - centre[k], side);
      shift[m][k] = d - c[k]; /* to the image nearest the centre, the centre to the origin */
      rk[m].d2 += d * d;
    }
  }
  qsort(rk, (size_t)n_box, sizeof *rk, by_distance);
  double r = sqrt(rk[n_keep - 1].d2);
  if (radius) *radius = r;
  /* beyond half the side a molecule's second image could lie in the sphere too: a hole */
  int ok = r <= 0.5 * side;
  for (int j = 0; j < n_keep && ok; j++) {
    const double *xm = box + 3 * (size_t)rk[j].m * nat;
    double *o = out + 3 * (size_t)j * nat;
    for (int i = 0; i < nat; i++)
      for (int k = 0; k < 3; k++) o[3 * i + k] = xm[3 * i + k] + shift[rk[j].m][k];
  }
  free(rk);
  free(shift);
  return ok ? 0 : -1;
}

void mlff_smp_make_whole(int n_mol, int nat, double *x, double side) {
  for (int m = 0; m < n_mol; m++) {
    const double *a = x + 3 * (size_t)m * nat;
    for (int i = 1; i < nat; i++)
      for (int k = 0; k < 3; k++) {
        double *b = x + 3 * ((size_t)m * nat + i) + k;
        *b = a[k] + min_image(*b - a[k], side);
      }
  }
}

double mlff_smp_tightest_contact(int n_mol, int nat, const int *Z, const double *x, double side,
                                 double centre[3]) {
  double *rv = vdw_radii(nat, Z), (*c)[3] = malloc((size_t)(n_mol > 0 ? n_mol : 1) * sizeof *c);
  double best = INFINITY, reach = 0, radius = 0;
  if (!rv || !c) {
    free(rv);
    free(c);
    return -1;
  }
  for (int m = 0; m < n_mol; m++) {
    mlff_smp_center_of_mass(nat, Z, x + 3 * (size_t)m * nat, c[m]);
    radius = fmax(radius, bounding_radius(nat, x + 3 * (size_t)m * nat, c[m]));
  }
  reach = 2 * radius + max_contact(nat, rv, 1.5); /* pairs of molecules farther apart: no contact */
  for (int m = 0; m < n_mol; m++)
    for (int l = m + 1; l < n_mol; l++) {
      double s[3], d2 = 0; /* the shift that brings l to its image nearest m */
      for (int k = 0; k < 3; k++) {
        double d = min_image(c[l][k] - c[m][k], side);
        s[k] = c[m][k] + d - c[l][k];
        d2 += d * d;
      }
      if (d2 > reach * reach) continue;
      for (int i = 0; i < nat; i++)
        for (int j = 0; j < nat; j++) {
          const double *a = x + 3 * ((size_t)m * nat + i), *b = x + 3 * ((size_t)l * nat + j);
          double e2 = 0;
          for (int k = 0; k < 3; k++) e2 += (b[k] + s[k] - a[k]) * (b[k] + s[k] - a[k]);
          double ratio = sqrt(e2) / (CONTACT_SCALE * (rv[i] + rv[j]));
          if (ratio >= best) continue;
          best = ratio;
          for (int k = 0; k < 3; k++) {
            double mid = 0.5 * (a[k] + b[k] + s[k]);
            centre[k] = mid - side * floor(mid / side);
          }
        }
    }
  free(rv);
  free(c);
  return best;
}

int mlff_smp_rigid_jitter(mlff_smp_rng *r, int n_mol, int nat, const int *Z, double *x,
                          double T, double contact) {
  /* a harmonic cage of MLFF_SMP_CAGE_CM1: k = M w^2 for translations, I w^2 for rotations */
  double w = 2 * M_PI * 2.99792458e-5 * MLFF_SMP_CAGE_CM1; /* rad/fs */
  double kT = MLFF_KB_EV * T * MLFF_ACC_UNIT;              /* amu Å²/fs² */
  double *moved = malloc((size_t)nat * 3 * sizeof *moved), *rv = vdw_radii(nat, Z);
  if (!moved || !rv) {
    free(moved);
    free(rv);
    return -1;
  }
  int accepted = 0;
  for (int m = 0; m < n_mol; m++) {
    double *xm = x + 3 * (size_t)m * nat, c[3], M = 0, I = 0;
    mlff_smp_center_of_mass(nat, Z, xm, c);
    for (int i = 0; i < nat; i++) {
      double mi = mlff_atomic_mass(Z[i]);
      M += mi;
      for (int k = 0; k < 3; k++) I += mi * (xm[3 * i + k] - c[k]) * (xm[3 * i + k] - c[k]);
    }
    I *= 2.0 / 3.0; /* the mean of the three principal moments: trace / 3 */
    double st = sqrt(kT / (M * w * w)), sr = I > 0 ? sqrt(kT / (I * w * w)) : 0;
    double step[3], rot[3], R[9];
    for (int k = 0; k < 3; k++) step[k] = c[k] + st * mlff_smp_normal(r);
    for (int k = 0; k < 3; k++) rot[k] = sr * mlff_smp_normal(r);
    rotation_of_vector(rot, R);
    place_rigid(nat, xm, c, R, step, moved);
    if (!clear_of_others(n_mol, m, nat, rv, moved, x, contact)) continue;
    memcpy(xm, moved, (size_t)nat * 3 * sizeof *moved);
    accepted++;
  }
  free(moved);
  free(rv);
  return accepted;
}

/* ---- teacher-driven -------------------------------------------------------------------------- */

static mlff_status teacher_call(mlff_teacher *t, int nat, const int *Z, const double *x,
                                double *energy, double *forces) {
  mlff_teacher_molecule mol = {t, nat, Z};
  return mlff_teacher_molecule_forces(&mol, x, energy, forces);
}

mlff_status mlff_smp_optimize(mlff_teacher *t, int nat, const int *Z, double *x, double fmax,
                              int max_steps, int *steps, double *fmax_out) {
  return mlff_smp_fire(t, nat, Z, x, fmax, max_steps, NULL, NULL, steps, fmax_out);
}

mlff_status mlff_smp_fire(mlff_teacher *t, int nat, const int *Z, double *x, double fmax,
                          int max_steps, mlff_smp_step_fn on_step, void *user, int *steps,
                          double *fmax_out) {
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
    if (on_step && (st = on_step(user, s, x, e, f))) break;
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

/* Everything of an mlff_smp_md but its forces */
static mlff_status md_setup(mlff_smp_md *md, int nat, const int *Z, const double *x0,
                            const double *v0, double dt, double gamma, double T,
                            mlff_smp_rng *rng) {
  memset(md, 0, sizeof *md);
  md->nat = nat;
  md->Z = Z;
  md->dt = dt;
  md->gamma = gamma;
  md->T = T;
  md->rng = rng;
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
  return MLFF_OK;
}

/* The first forces, at x0 */
static mlff_status md_first_call(mlff_smp_md *md) {
  md->calls = 1;
  return md->force(md->user, md->x, &md->energy, md->f);
}

mlff_status mlff_smp_md_init(mlff_smp_md *md, mlff_teacher *t, int nat, const int *Z,
                             const double *x0, const double *v0, double dt, double gamma,
                             double T, mlff_smp_rng *rng) {
  mlff_status st = md_setup(md, nat, Z, x0, v0, dt, gamma, T, rng);
  if (st) return st;
  md->mol = (mlff_teacher_molecule){t, nat, Z};
  md->force = mlff_teacher_molecule_forces;
  md->user = &md->mol; /* md's own member: md must not move while it runs */
  return md_first_call(md);
}

mlff_status mlff_smp_md_init_fn(mlff_smp_md *md, mlff_force_fn force, void *user, int nat,
                                const int *Z, const double *x0, const double *v0, double dt,
                                double gamma, double T, mlff_smp_rng *rng) {
  mlff_status st = md_setup(md, nat, Z, x0, v0, dt, gamma, T, rng);
  if (st) return st;
  md->force = force;
  md->user = user;
  return md_first_call(md);
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
    mlff_status st = md->force(md->user, md->x, &md->energy, md->f);
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

/* ---- pressure and barostat (a student's liquid, `mlff learn`) ---------------------------- */

#define EV_PER_A3_IN_BAR 1.602176634e6

static double cell_volume(const double *c) {
  return fabs(c[0] * (c[4] * c[8] - c[5] * c[7]) - c[1] * (c[3] * c[8] - c[5] * c[6]) +
              c[2] * (c[3] * c[7] - c[4] * c[6]));
}

double mlff_smp_pressure(const mlff_smp_md *md, const mlff_model_box *box) {
  double ke2 = 0; /* 2 KE, eV */
  for (int i = 0; i < md->nat; i++)
    for (int k = 0; k < 3; k++) ke2 += md->mass[i] * md->v[3 * i + k] * md->v[3 * i + k];
  ke2 /= MLFF_ACC_UNIT;
  const double w = box->virial[0] + box->virial[1] + box->virial[2];
  return (ke2 + w) / (3.0 * cell_volume(box->cell)) * EV_PER_A3_IN_BAR;
}

mlff_status mlff_smp_berendsen(mlff_smp_md *md, mlff_model_box *box, int n_mol, int mol_nat,
                               double P0, double tau, double compressibility, double interval,
                               double *mu_out) {
  if (n_mol < 1 || mol_nat < 1 || (long)n_mol * mol_nat != md->nat || !(tau > 0) ||
      !(interval > 0) || !(compressibility > 0))
    return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_smp_berendsen: %d molecules of %d atoms for "
                          "%d atoms, tau %g fs, interval %g fs, compressibility %g/bar", n_mol,
                          mol_nat, md->nat, tau, interval, compressibility);
  const double P = mlff_smp_pressure(md, box);
  double mu3 = 1.0 - compressibility * interval / tau * (P0 - P);
  double mu = cbrt(mu3 > 0 ? mu3 : 0.0);
  if (!(mu >= 0.99)) mu = 0.99; /* also a non-finite pressure: the forces will say so */
  if (mu > 1.01) mu = 1.01;
  for (int m = 0; m < n_mol; m++) {
    const int a0 = m * mol_nat;
    double com[3], M = 0;
    com[0] = com[1] = com[2] = 0;
    for (int i = a0; i < a0 + mol_nat; i++) {
      M += md->mass[i];
      for (int k = 0; k < 3; k++) com[k] += md->mass[i] * md->x[3 * i + k];
    }
    for (int k = 0; k < 3; k++) {
      const double shift = (mu - 1.0) * com[k] / M;
      for (int i = a0; i < a0 + mol_nat; i++) md->x[3 * i + k] += shift;
    }
  }
  for (int q = 0; q < 9; q++) box->cell[q] *= mu;
  if (mu_out) *mu_out = mu;
  md->calls++;
  return md->force(md->user, md->x, &md->energy, md->f);
}
