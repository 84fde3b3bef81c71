/* dispersion.c — the long-range dispersion's constants, tail and parameter checks
 * (dispersion.h); the pair sums live with each evaluation path (compute.c, the trainer). */
#include "dispersion.h"

#include "images.h"
#include "pairs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* int_rc^inf r^2 e(r) dr and int_rc^inf r^3 (-e'(r)) dr of species a, b: r = rc / t maps the
 * range onto t in (0, 1], where both integrands are smooth (~ t^2 near 0); Simpson's rule. */
static void tail_integrals(const mlff_dispersion *d, int a, int b, double *ie, double *iw) {
  const int n = 2000; /* even */
  const double rc = d->p.cutoff;
  double se = 0.0, sw = 0.0;
  for (int k = 1; k <= n; k++) { /* t = 0 contributes 0 */
    double t = (double)k / n, r = rc / t, dedr;
    double e = mlff_disp_pair(d, a, b, r, &dedr);
    double jac = rc / (t * t), wk = k == n ? 1.0 : (k % 2 ? 4.0 : 2.0);
    se += wk * r * r * e * jac;
    sw += wk * r * r * r * (-dedr) * jac;
  }
  *ie = se / (3.0 * n);
  *iw = sw / (3.0 * n);
}

void mlff_disp_setup(mlff_dispersion *d, int n_elements) {
  for (int a = 0; a < n_elements; a++)
    for (int b = 0; b < n_elements; b++) {
      double c6 = d->p.c6[a][b], c8 = d->p.c8[a][b];
      double r0 = d->p.a1 * (c6 > 0 ? sqrt(c8 / c6) : 0.0) + d->p.a2;
      double r0_2 = r0 * r0;
      d->r0[a][b] = r0;
      d->lr0[a][b] = log(r0);
      d->r0_6[a][b] = r0_2 * r0_2 * r0_2;
      d->r0_8[a][b] = d->r0_6[a][b] * r0_2;
    }
  for (int a = 0; a < n_elements; a++)
    for (int b = 0; b < n_elements; b++) {
      for (int c = 0; c < n_elements; c++) /* D4's C9 = -sqrt(C6 C6 C6) in atomic units */
        d->c9[a][b][c] = d->p.s9 * sqrt(d->p.c6[a][b] * d->p.c6[a][c] * d->p.c6[b][c] / MLFF_EH);
    }
  for (int a = 0; a < n_elements; a++)
    for (int b = 0; b < n_elements; b++) {
      double ie, iw;
      tail_integrals(d, a, b, &ie, &iw);
      d->tail_e[a][b] = 2.0 * M_PI * ie;
      d->tail_w[a][b] = (2.0 * M_PI / 3.0) * iw;
    }
}

void mlff_disp_tail(const mlff_dispersion *d, int n_elements, const long *count, double volume,
                    double *energy, double *virial_diag) {
  double e = 0.0, w = 0.0;
  for (int a = 0; a < n_elements; a++)
    for (int b = 0; b < n_elements; b++) {
      e += (double)count[a] * count[b] * d->tail_e[a][b];
      w += (double)count[a] * count[b] * d->tail_w[a][b];
    }
  *energy = e / volume;
  *virial_diag = w / volume;
}

void mlff_disp_tail3(const mlff_dispersion *d, int n_elements, const long *count, double volume,
                     double *energy, double *virial_diag) {
  double s = 0.0;
  for (int a = 0; a < n_elements; a++)
    for (int b = 0; b < n_elements; b++)
      for (int c = 0; c < n_elements; c++)
        s += (double)count[a] * count[b] * count[c] * d->c9[a][b][c];
  *energy = d->p.tail3 * s / (6.0 * volume * volume);
  *virial_diag = 2.0 * *energy; /* E ~ V^-2: -dE/dV V = 2 E */
}

const char *mlff_disp_check(const mlff_dispersion *d, int n_elements, char *buf, size_t size) {
  if (!(d->p.cutoff > 0))
    return snprintf(buf, size, "cutoff is %g Å; it must be > 0", d->p.cutoff), buf;
  const double *par[4] = {&d->p.s6, &d->p.s8, &d->p.a1, &d->p.a2};
  const char *name[4] = {"s6", "s8", "a1", "a2"};
  for (int k = 0; k < 4; k++)
    if (!(*par[k] >= 0)) return snprintf(buf, size, "%s is %g; it must be >= 0", name[k], *par[k]), buf;
  if (!(d->p.s9 >= 0)) return snprintf(buf, size, "s9 is %g; it must be >= 0", d->p.s9), buf;
  if (d->p.s9 > 0 && !(d->p.cutoff3 > 0 && d->p.cutoff3 <= d->p.cutoff))
    return snprintf(buf, size, "cutoff3 is %g Å with s9 %g; the three-body cutoff must be > 0 "
                    "and at most the pair cutoff (%g Å)", d->p.cutoff3, d->p.s9, d->p.cutoff), buf;
  if (!(d->p.switch3 >= 0 && d->p.switch3 < (d->p.s9 > 0 ? d->p.cutoff3 : INFINITY)) ||
      (d->p.switch3 > 0 && !(d->p.s9 > 0)))
    return snprintf(buf, size, "switch3 is %g Å with s9 %g and cutoff3 %g Å; the three-body "
                    "switching width must be >= 0, below cutoff3, and needs the three-body term",
                    d->p.switch3, d->p.s9, d->p.cutoff3), buf;
  if (!isfinite(d->p.tail3))
    return snprintf(buf, size, "tail3 is %g; it must be finite (0: no three-body tail)",
                    d->p.tail3), buf;
  if (d->p.tail3 != 0.0 && !(d->p.s9 > 0))
    return snprintf(buf, size, "tail3 is %g but s9 is %g: a three-body tail needs the three-body "
                    "term (s9 > 0)", d->p.tail3, d->p.s9), buf;
  if (d->p.s9 > 0 && !(d->p.alp > 0))
    return snprintf(buf, size, "alp is %g with s9 %g; the three-body damping exponent must be > 0 "
                    "(D4: 16)", d->p.alp, d->p.s9), buf;
  for (int a = 0; a < n_elements; a++)
    for (int b = 0; b < n_elements; b++) {
      const double(*c[2])[MLFF_MAX_ELEMENTS] = {d->p.c6, d->p.c8};
      const char *cn[2] = {"c6", "c8"};
      for (int k = 0; k < 2; k++) {
        if (!(c[k][a][b] >= 0))
          return snprintf(buf, size, "%s[%d][%d] is %g; coefficients must be >= 0", cn[k], a, b,
                          c[k][a][b]), buf;
        if (c[k][a][b] != c[k][b][a])
          return snprintf(buf, size, "%s is not symmetric: [%d][%d] = %g but [%d][%d] = %g", cn[k],
                          a, b, c[k][a][b], b, a, c[k][b][a]), buf;
      }
      if ((d->p.c6[a][b] > 0) != (d->p.c8[a][b] > 0))
        return snprintf(buf, size, "c6[%d][%d] = %g and c8[%d][%d] = %g: both zero or both > 0",
                        a, b, d->p.c6[a][b], a, b, d->p.c8[a][b]), buf;
    }
  return NULL;
}

void mlff_disp_triples(const mlff_dispersion *d, int si, int m, const double (*dx)[3],
                       const double *r2, const int *sp, double *aux, double *e, double f[3],
                       double w[6]) {
  const double rc2 = d->p.cutoff3 * d->p.cutoff3, alp3 = d->p.alp / 3.0;
  const double sw = d->p.switch3, r_on = d->p.cutoff3 - sw;
  /* per neighbour once: r, 1/r^2, ln r^2 (the pairs below need one sqrt, log, exp and
   * division each instead of a pow and many divisions) */
  double *rr = aux, *ir2 = aux + m, *lr2 = aux + 2 * (size_t)m;
  for (int j = 0; j < m; j++) rr[j] = sqrt(r2[j]), ir2[j] = 1.0 / r2[j], lr2[j] = log(r2[j]);
  double es = 0.0;
  for (int j = 0; j < m; j++) {
    const int sj = sp[j];
    const double a = r2[j], ia = ir2[j];
    for (int k = j + 1; k < m; k++) {
      double djk[3] = {dx[k][0] - dx[j][0], dx[k][1] - dx[j][1], dx[k][2] - dx[j][2]};
      /* a, b, c: the squared sides ij, ik, jk */
      const double b = r2[k], c = djk[0] * djk[0] + djk[1] * djk[1] + djk[2] * djk[2];
      if (c >= rc2 || c == 0.0) continue;
      const int sk = sp[k];
      const double ib = ir2[k], ic = 1.0 / c;
      const double ir1 = 1.0 / (rr[j] * rr[k] * sqrt(c)), ir3 = ir1 * ir1 * ir1;
      const double ir5 = ir3 * ir1 * ir1;
      /* 3 cos cos cos + 1 over (r_ij r_ik r_jk)^3, from the sides: (3/8) u v t / r1^5 + 1/r1^3 */
      const double u = a + c - b, v = a - c + b, t = -a + c + b, uvt = u * v * t;
      const double ang = 0.375 * uvt * ir5 + ir3;
      /* the damping's (R0 R0 R0 / r1)^(alp/3), through logarithms */
      const double q = exp(alp3 * (d->lr0[si][sj] + d->lr0[si][sk] + d->lr0[sj][sk] -
                                   0.5 * (lr2[j] + lr2[k] + log(c))));
      const double fd = 1.0 / (1.0 + 6.0 * q), c9 = d->c9[si][sj][sk];
      es += c9 * ang * fd;
      /* d/da etc.: r1 grows as sqrt(a) (dr1/da = r1 / 2a), the damping through q ~ r1^-alp3 */
      const double pa = v * t + u * t - u * v, pb = -v * t + u * t + u * v, pc = v * t - u * t + u * v;
      const double fq = fd * fd * 3.0 * q * alp3; /* d fd / d ln(x) for x = a, b, c */
      double ga = c9 * ((0.375 * (pa - 2.5 * uvt * ia) * ir5 - 1.5 * ia * ir3) * fd + ang * fq * ia);
      double gb = c9 * ((0.375 * (pb - 2.5 * uvt * ib) * ir5 - 1.5 * ib * ir3) * fd + ang * fq * ib);
      double gc = c9 * ((0.375 * (pc - 2.5 * uvt * ic) * ir5 - 1.5 * ic * ir3) * fd + ang * fq * ic);
      if (sw > 0) { /* the smooth cutoff: e s_a s_b s_c, and d/da (s_a) = s'(r_a) / (2 r_a) */
        const double rs[3] = {rr[j], rr[k], sqrt(c)};
        double s[3], ds[3];
        for (int q = 0; q < 3; q++) mlff_disp_switch(rs[q], r_on, sw, &s[q], &ds[q]);
        const double e0 = c9 * ang * fd, ss = s[0] * s[1] * s[2];
        es += e0 * (ss - 1.0);
        ga = ga * ss + e0 * ds[0] / (2.0 * rs[0]) * s[1] * s[2];
        gb = gb * ss + e0 * ds[1] / (2.0 * rs[1]) * s[0] * s[2];
        gc = gc * ss + e0 * ds[2] / (2.0 * rs[2]) * s[0] * s[1];
      }
      /* a = |dx_j|^2, b = |dx_k|^2 with dx = x - x_i: -de/dx_i = 2 ga dx_j + 2 gb dx_k */
      for (int x = 0; x < 3; x++) f[x] += 2.0 * (ga * dx[j][x] + gb * dx[k][x]);
      /* the triple's virial sum_v x_v (x) f_v = -2 (ga dx_j dx_j + gb dx_k dx_k + gc djk djk) */
      const double h[3] = {-2.0 * ga / 3.0, -2.0 * gb / 3.0, -2.0 * gc / 3.0};
      const double *vv[3] = {dx[j], dx[k], djk};
      for (int s = 0; s < 3; s++) {
        const double *z = vv[s];
        w[0] += h[s] * z[0] * z[0], w[1] += h[s] * z[1] * z[1], w[2] += h[s] * z[2] * z[2];
        w[3] += h[s] * z[0] * z[1], w[4] += h[s] * z[0] * z[2], w[5] += h[s] * z[1] * z[2];
      }
    }
  }
  *e += es / 3.0;
}

mlff_status mlff_disp_list(const mlff_dispersion *d, const mlff_neighbors *nl, const int *atoms,
                           int n, int n_threads, double *sums, double *forces, double *eatom,
                           double *vatom, double *energy, double virial[6]) {
  const double rc2 = d->p.cutoff * d->p.cutoff;
  const double rc3_2 = d->p.cutoff3 * d->p.cutoff3;
  const int three = d->p.s9 > 0;
  int failed = 0;
#pragma omp parallel num_threads(n >= 48 ? n_threads : 1)
  {
  /* the three-body term's neighbours of one atom, grown as needed (per thread) */
  double(*tdx)[3] = NULL, *tr2 = NULL;
  int *tsp = NULL, tcap = 0;
#pragma omp for schedule(dynamic, 16)
  for (int r = 0; r < n; r++) {
    const int i = atoms[r], si = nl->species[i];
    double e = 0.0, f[3] = {0, 0, 0}, w[6] = {0, 0, 0, 0, 0, 0};
    for (int q = 0; q < 7; q++) sums[7 * (size_t)r + q] = 0.0; /* the caller's, not zeroed */
    if (si < 0) continue;
    int m = 0;
    if (three && nl->numneigh[i] > tcap) {
      tcap = nl->numneigh[i] + nl->numneigh[i] / 4;
      free(tdx), free(tr2), free(tsp);
      tdx = malloc((size_t)tcap * sizeof *tdx), tr2 = malloc(4 * (size_t)tcap * sizeof *tr2);
      tsp = malloc((size_t)tcap * sizeof *tsp);
      if (!tdx || !tr2 || !tsp) {
#pragma omp atomic write
        failed = 1;
        tcap = 0;
      }
    }
    for (int jj = 0; jj < nl->numneigh[i]; jj++) {
      int j;
      double dx[3], r2, dedr;
      if (!mlff_pair_at(nl, i, jj, rc2, &j, dx, &r2)) continue;
      const double rr = sqrt(r2);
      e += 0.5 * mlff_disp_pair(d, si, nl->species[j], rr, &dedr);
      mlff_pair_add(dedr / rr, dx, f, w);
      if (three && r2 < rc3_2 && m < tcap) {
        memcpy(tdx[m], dx, sizeof dx);
        tr2[m] = r2, tsp[m] = nl->species[j], m++;
      }
    }
    if (three) mlff_disp_triples(d, si, m, (const double(*)[3])tdx, tr2, tsp, tr2 + tcap, &e, f, w);
    mlff_pair_atom_out(i, r, e, f, w, forces, eatom, vatom, sums);
  }
  free(tdx), free(tr2), free(tsp);
  }
  if (failed) /* sums are the caller's */
    return mlff_set_error(MLFF_ERR_NOMEM, "out of memory for the three-body dispersion's lists");
  mlff_pair_totals(n, sums, energy, virial);
  return MLFF_OK;
}

void mlff_disp_add_tail(const mlff_dispersion *d, int n_elements, int n, const int *species,
                        const double *cell, const int pbc[3], double *energy, double virial[6]) {
  if (!d->on || !(d->p.tail || d->p.tail3 != 0.0) || !cell || !pbc[0] || !pbc[1] || !pbc[2])
    return;
  long count[MLFF_MAX_ELEMENTS] = {0};
  for (int i = 0; i < n; i++) count[species[i]]++;
  double inv[9], det, et, wt;
  mlff_inverse3(cell, inv, &det);
  if (d->p.tail) {
    mlff_disp_tail(d, n_elements, count, fabs(det), &et, &wt);
    *energy += et;
    for (int q = 0; q < 3; q++) virial[q] += wt;
  }
  if (d->p.tail3 != 0.0) {
    mlff_disp_tail3(d, n_elements, count, fabs(det), &et, &wt);
    *energy += et;
    for (int q = 0; q < 3; q++) virial[q] += wt;
  }
}
