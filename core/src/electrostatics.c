/* electrostatics.c — the fixed-charge electrostatics' constants, parameter checks and pair sums
 * (electrostatics.h): the general path (compute.c) and the trainer call these. */
#include "electrostatics.h"

#include "images.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mlff_coul_setup(mlff_electrostatics *c, int n_elements) {
  const double al = c->p.alpha, rc = c->p.cutoff, erfc_rc = erfc(al * rc);
  c->f_shift = -(erfc_rc / (rc * rc) + 2.0 * al / sqrt(M_PI) * exp(-al * al * rc * rc) / rc);
  c->e_shift = erfc_rc / rc - c->f_shift * rc;
  for (int a = 0; a < n_elements; a++)
    c->self_e[a] =
        -(0.5 * c->e_shift + al / sqrt(M_PI)) * MLFF_COULOMB * c->p.charges[a] * c->p.charges[a];
}

const char *mlff_coul_check(const mlff_electrostatics_params *p, int n_elements, char *buf,
                            size_t size) {
  if (!(p->cutoff > 0 && isfinite(p->cutoff)))
    return snprintf(buf, size, "cutoff is %g Å; it must be > 0", p->cutoff), buf;
  if (!(p->alpha >= 0 && isfinite(p->alpha)))
    return snprintf(buf, size, "alpha is %g Å^-1; it must be >= 0 (0: shifted-force Coulomb)",
                    p->alpha),
           buf;
  for (int a = 0; a < n_elements; a++)
    if (!isfinite(p->charges[a]))
      return snprintf(buf, size, "charges[%d] is %g; charges must be finite (e)", a, p->charges[a]),
             buf;
  return NULL;
}

void mlff_coul_list(const mlff_electrostatics *c, const mlff_neighbors *nl, const int *atoms, int n,
                    int n_threads, double *sums, double *forces, double *eatom, double *vatom,
                    double *energy, double virial[6]) {
  const double rc2 = c->p.cutoff * c->p.cutoff, *X = nl->positions;
#pragma omp parallel for schedule(dynamic, 16) num_threads(n >= 48 ? n_threads : 1)
  for (int r = 0; r < n; r++) {
    const int i = atoms[r], si = nl->species[i];
    double e = 0.0, f[3] = {0, 0, 0}, w[6] = {0, 0, 0, 0, 0, 0};
    for (int q = 0; q < 7; q++) sums[7 * (size_t)r + q] = 0.0; /* the caller's, not zeroed */
    if (si < 0) continue;
    e = c->self_e[si];
    const int *list = nl->firstneigh[i];
    for (int jj = 0; jj < nl->numneigh[i]; jj++) {
      int j = nl->index_mask ? list[jj] & nl->index_mask : list[jj];
      if (j < 0 || j >= nl->n_total || j == i || nl->species[j] < 0) continue;
      double dx[3] = {X[3 * (size_t)j] - X[3 * (size_t)i],
                      X[3 * (size_t)j + 1] - X[3 * (size_t)i + 1],
                      X[3 * (size_t)j + 2] - X[3 * (size_t)i + 2]};
      double r2 = dx[0] * dx[0] + dx[1] * dx[1] + dx[2] * dx[2];
      if (r2 >= rc2 || r2 == 0.0) continue;
      double rr = sqrt(r2), dedr;
      e += 0.5 * mlff_coul_pair(c, si, nl->species[j], rr, &dedr);
      /* as the dispersion's pairs (dispersion.c): the force on i is +e'(r) d/r, half of the
       * pair's virial -e'(r) d (x) d / r is this atom's */
      double g = dedr / rr;
      for (int x = 0; x < 3; x++) f[x] += g * dx[x];
      double h = -0.5 * g;
      w[0] += h * dx[0] * dx[0], w[1] += h * dx[1] * dx[1], w[2] += h * dx[2] * dx[2];
      w[3] += h * dx[0] * dx[1], w[4] += h * dx[0] * dx[2], w[5] += h * dx[1] * dx[2];
    }
    if (forces)
      for (int x = 0; x < 3; x++) forces[3 * (size_t)i + x] += f[x];
    if (eatom) eatom[i] += e;
    if (vatom)
      for (int q = 0; q < 6; q++) vatom[6 * (size_t)i + q] += w[q];
    sums[7 * (size_t)r] = e;
    for (int q = 0; q < 6; q++) sums[7 * (size_t)r + 1 + q] = w[q];
  }
  for (int r = 0; r < n; r++) { /* in atom order: the same sums for any thread count */
    *energy += sums[7 * (size_t)r];
    for (int q = 0; q < 6; q++) virial[q] += sums[7 * (size_t)r + 1 + q];
  }
}

mlff_status mlff_coul_structure(const mlff_electrostatics *c, int n, const double *x,
                                const int *species, const double *cell, const int pbc[3],
                                double *energy, double *forces, double *virial) {
  mlff_structure_list L;
  mlff_status st = mlff_structure_list_build(&L, x, n, species, cell, pbc, c->p.cutoff);
  if (st) return st;
  double *f = calloc(3 * (size_t)(n + 1), sizeof(double)), w[6] = {0, 0, 0, 0, 0, 0}, e = 0.0;
  double *sums = malloc((7 * (size_t)n + 1) * sizeof(double));
  if (!f || !sums) {
    st = mlff_set_error(MLFF_ERR_NOMEM, "out of memory for the electrostatics of %d atoms", n);
  } else {
    mlff_coul_list(c, &L.nl, L.atoms, n, 1, sums, f, NULL, NULL, &e, w);
    *energy = e;
    if (forces) memcpy(forces, f, 3 * (size_t)n * sizeof(double));
    if (virial) memcpy(virial, w, sizeof w);
  }
  free(f), free(sums);
  mlff_structure_list_free(&L);
  return st;
}
