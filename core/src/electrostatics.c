/* electrostatics.c — the fixed-charge electrostatics' constants, parameter checks and pair sums
 * (electrostatics.h): the general path (compute.c) and the trainer's long-range sum (pairs.c) call
 * these. */
#include "electrostatics.h"

#include "pairs.h"

#include <stdio.h>

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
  const double rc2 = c->p.cutoff * c->p.cutoff;
#pragma omp parallel for schedule(dynamic, 16) num_threads(n >= 48 ? n_threads : 1)
  for (int r = 0; r < n; r++) {
    const int i = atoms[r], si = nl->species[i];
    double f[3] = {0, 0, 0}, w[6] = {0, 0, 0, 0, 0, 0};
    for (int q = 0; q < 7; q++) sums[7 * (size_t)r + q] = 0.0; /* the caller's, not zeroed */
    if (si < 0) continue;
    double e = c->self_e[si];
    for (int jj = 0; jj < nl->numneigh[i]; jj++) {
      int j;
      double dx[3], r2, dedr;
      if (!mlff_pair_at(nl, i, jj, rc2, &j, dx, &r2)) continue;
      const double rr = sqrt(r2);
      e += 0.5 * mlff_coul_pair(c, si, nl->species[j], rr, &dedr);
      mlff_pair_add(dedr / rr, dx, f, w);
    }
    mlff_pair_atom_out(i, r, e, f, w, forces, eatom, vatom, sums);
  }
  mlff_pair_totals(n, sums, energy, virial);
}
