/* electrostatics.c — the fixed-charge electrostatics' constants, parameter checks, atomic charges
 * (by element and bond-charge increments) and pair sums (electrostatics.h): the general path
 * (compute.c) and the trainer's long-range sum (pairs.c) call these. */
#include "electrostatics.h"

#include "images.h"
#include "pairs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mlff_coul_has_increments(const mlff_electrostatics_params *p, int n_elements) {
  for (int a = 0; a < n_elements; a++)
    for (int b = 0; b < n_elements; b++)
      if (p->increments[a][b] != 0.0) return 1;
  return 0;
}

void mlff_coul_setup(mlff_electrostatics *c, int n_elements,
                     const char (*elements)[MLFF_SYMBOL_LEN]) {
  const double al = c->p.alpha, rc = c->p.cutoff, erfc_rc = erfc(al * rc);
  c->f_shift = -(erfc_rc / (rc * rc) + 2.0 * al / sqrt(M_PI) * exp(-al * al * rc * rc) / rc);
  c->e_shift = erfc_rc / rc - c->f_shift * rc;
  c->self_q2 = -(0.5 * c->e_shift + al / sqrt(M_PI)) * MLFF_COULOMB;
  for (int a = 0; a < n_elements; a++)
    c->self_e[a] = c->self_q2 * c->p.charges[a] * c->p.charges[a];
  c->bonds = mlff_coul_has_increments(&c->p, n_elements);
  c->bond_reach = 0.0;
  for (int a = 0; a < n_elements; a++) c->hydrogen[a] = !strcmp(elements[a], "H");
  for (int a = 0; a < n_elements; a++)
    for (int b = 0; c->bonds && b < n_elements; b++)
      c->bond_reach = fmax(c->bond_reach, mlff_coul_bond_length(c, a, b));
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
  for (int a = 0; a < n_elements; a++)
    for (int b = 0; b < n_elements; b++)
      if (!isfinite(p->increments[a][b]) || p->increments[a][b] != -p->increments[b][a])
        return snprintf(buf, size,
                        "increments[%d][%d] is %g and increments[%d][%d] %g; bond-charge "
                        "increments must be finite and opposite (what an atom gains its partner "
                        "loses)",
                        a, b, p->increments[a][b], b, a, p->increments[b][a]),
               buf;
  if (!mlff_coul_has_increments(p, n_elements)) return NULL;
  if (!(p->bond_factor > 0 && isfinite(p->bond_factor)))
    return snprintf(buf, size,
                    "bond_factor is %g; it must be > 0 with bond-charge increments "
                    "(bonded: r < bond_factor (R_a + R_b); e.g. 1.25)",
                    p->bond_factor),
           buf;
  for (int a = 0; a < n_elements; a++)
    if (!(p->bond_radii[a] > 0 && p->bond_radii[a] < 10))
      return snprintf(buf, size,
                      "bond_radii[%d] is %g Å; it must be in (0, 10) Å with bond-charge "
                      "increments (a covalent radius)",
                      a, p->bond_radii[a]),
             buf;
  return NULL;
}

double mlff_coul_bond_length(const mlff_electrostatics *c, int a, int b) {
  const double f = c->hydrogen[a] || c->hydrogen[b] ? 2.0 * c->p.bond_factor : c->p.bond_factor;
  return f * (c->p.bond_radii[a] + c->p.bond_radii[b]);
}

/* Atom j is within bonding reach of i (mlff_coul_bond_length); *r2 the squared distance */
static int within_bond(const mlff_electrostatics *c, const double *x, int i, int j, int si, int sj,
                       double *r2) {
  const double rb = mlff_coul_bond_length(c, si, sj);
  double d2 = 0.0;
  for (int k = 0; k < 3; k++) {
    const double d = x[3 * (size_t)j + k] - x[3 * (size_t)i + k];
    d2 += d * d;
  }
  *r2 = d2;
  return d2 < rb * rb && d2 > 0.0;
}

mlff_status mlff_coul_charges(const mlff_electrostatics *c, int n, const double *x,
                              const int *species, double *q) {
  for (int i = 0; i < n; i++) q[i] = species[i] >= 0 ? c->p.charges[species[i]] : 0.0;
  if (!c->bonds || n < 2) return MLFF_OK;
  /* a cell list of side >= the longest bond over the atoms' box (coarser when the box is
   * sparse: at most ~2 cells per atom), so that bonds lie between neighbouring cells */
  double lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
  for (int i = 0; i < n; i++)
    for (int k = 0; k < 3 && species[i] >= 0; k++)
      lo[k] = fmin(lo[k], x[3 * (size_t)i + k]), hi[k] = fmax(hi[k], x[3 * (size_t)i + k]);
  if (!(lo[0] <= hi[0])) return MLFF_OK; /* no atom of the model's */
  double side = c->bond_reach;
  long dim[3];
  for (;;) {
    double cells = 1.0;
    for (int k = 0; k < 3; k++) {
      dim[k] = (long)fmin((hi[k] - lo[k]) / side, 1e6) + 1;
      cells *= (double)dim[k];
    }
    if (cells <= 2.0 * n + 64) break;
    side *= 1.26;
  }
  const size_t n_cells = (size_t)dim[0] * dim[1] * dim[2];
  int *head = malloc(n_cells * sizeof(int)), *next = malloc((size_t)n * sizeof(int));
  int *cell_of = malloc((size_t)n * sizeof(int)), *nearest = malloc((size_t)n * sizeof(int));
  if (!head || !next || !cell_of || !nearest) {
    free(head), free(next), free(cell_of), free(nearest);
    return mlff_set_error(MLFF_ERR_NOMEM, "out of memory for the bonds of %d atoms", n);
  }
  for (size_t k = 0; k < n_cells; k++) head[k] = -1;
  for (int i = 0; i < n; i++) {
    nearest[i] = -1, cell_of[i] = -1;
    if (species[i] < 0) continue;
    long ic[3];
    for (int k = 0; k < 3; k++) {
      ic[k] = (long)((x[3 * (size_t)i + k] - lo[k]) / side);
      if (ic[k] >= dim[k]) ic[k] = dim[k] - 1;
    }
    cell_of[i] = (int)((ic[0] * dim[1] + ic[1]) * dim[2] + ic[2]);
    next[i] = head[cell_of[i]], head[cell_of[i]] = i;
  }
  /* pass 0: each hydrogen's nearest partner other than hydrogen within reach; pass 1: each
   * atom's increments over its bonds (a pair with a hydrogen counts only where it is that
   * hydrogen's nearest; two hydrogens, whose increment is 0, never) */
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < n; i++) {
      const int si = species[i];
      if (si < 0 || (pass == 0 && !c->hydrogen[si])) continue;
      const long c0 = cell_of[i] / (dim[1] * dim[2]), c1 = cell_of[i] / dim[2] % dim[1],
                 c2 = cell_of[i] % dim[2];
      double best = INFINITY;
      for (long a = c0 - 1; a <= c0 + 1; a++)
        for (long b = c1 - 1; b <= c1 + 1; b++)
          for (long d = c2 - 1; d <= c2 + 1; d++) {
            if (a < 0 || b < 0 || d < 0 || a >= dim[0] || b >= dim[1] || d >= dim[2]) continue;
            for (int j = head[(a * dim[1] + b) * dim[2] + d]; j >= 0; j = next[j]) {
              const int sj = species[j];
              double r2;
              if (j == i || (c->hydrogen[si] && c->hydrogen[sj]) ||
                  !within_bond(c, x, i, j, si, sj, &r2))
                continue;
              if (pass == 0) {
                if (r2 < best) best = r2, nearest[i] = j;
              } else if ((!c->hydrogen[si] || nearest[i] == j) &&
                         (!c->hydrogen[sj] || nearest[j] == i)) {
                q[i] += c->p.increments[si][sj];
              }
            }
          }
    }
  free(head), free(next), free(cell_of), free(nearest);
  return MLFF_OK;
}

void mlff_coul_list(const mlff_electrostatics *c, const mlff_neighbors *nl, const double *q,
                    const int *atoms, int n, int n_threads, double *sums, double *forces,
                    double *eatom, double *vatom, double *energy, double virial[6]) {
  const double rc2 = c->p.cutoff * c->p.cutoff;
#pragma omp parallel for schedule(dynamic, 16) num_threads(n >= 48 ? n_threads : 1)
  for (int r = 0; r < n; r++) {
    const int i = atoms[r], si = nl->species[i];
    double f[3] = {0, 0, 0}, w[6] = {0, 0, 0, 0, 0, 0};
    for (int k = 0; k < 7; k++) sums[7 * (size_t)r + k] = 0.0; /* the caller's, not zeroed */
    if (si < 0) continue;
    double e = c->self_q2 * q[i] * q[i];
    for (int jj = 0; jj < nl->numneigh[i]; jj++) {
      int j;
      double dx[3], r2, dedr;
      if (!mlff_pair_at(nl, i, jj, rc2, &j, dx, &r2)) continue;
      const double rr = sqrt(r2);
      e += 0.5 * mlff_coul_pair(c, q[i], q[j], rr, &dedr);
      mlff_pair_add(dedr / rr, dx, f, w);
    }
    mlff_pair_atom_out(i, r, e, f, w, forces, eatom, vatom, sums);
  }
  mlff_pair_totals(n, sums, energy, virial);
}

mlff_status mlff_model_charges(const mlff_model *m, const mlff_structure *s, double *charges) {
  if (!m || !s || !charges || s->n_atoms < 0 || (s->n_atoms > 0 && (!s->positions || !s->species)))
    return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_model_charges: NULL argument");
  if (!m->coul.on)
    return mlff_set_error(MLFF_ERR_ARGUMENT,
                          "mlff_model_charges: the model has no electrostatics "
                          "(no /electrostatics group): it gives atoms no charges");
  const int n = s->n_atoms;
  int periodic = s->cell && (s->pbc[0] || s->pbc[1] || s->pbc[2]);
  if (!periodic && (s->pbc[0] || s->pbc[1] || s->pbc[2]))
    return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_model_charges: pbc set but no cell given");
  for (int i = 0; i < n; i++) {
    const double *x = s->positions + 3 * (size_t)i;
    if (s->species[i] < -1 || s->species[i] >= m->n_elements) /* -1: not the model's */
      return mlff_set_error(MLFF_ERR_ARGUMENT,
                            "mlff_model_charges: atom %d has species %d; the "
                            "model has %d",
                            i, s->species[i], m->n_elements);
    if (!isfinite(x[0]) || !isfinite(x[1]) || !isfinite(x[2]))
      return mlff_set_error(MLFF_ERR_ARGUMENT,
                            "mlff_model_charges: position of atom %d is not "
                            "finite (%g %g %g)",
                            i, x[0], x[1], x[2]);
  }
  if (periodic) {
    double inv[9], det;
    mlff_inverse3(s->cell, inv, &det);
    if (!(fabs(det) > 1e-9) || !isfinite(det))
      return mlff_set_error(MLFF_ERR_ARGUMENT,
                            "mlff_model_charges: cell is singular (volume %g "
                            "Å^3)",
                            det);
  }
  if (!m->coul.bonds || !periodic)
    return mlff_coul_charges(&m->coul, n, s->positions, s->species, charges);
  /* images to two bond lengths: a partner's bonds decide whether it is bonded (hydrogens) */
  mlff_images im;
  mlff_status st =
      mlff_images_build(&im, s->positions, n, s->cell, s->pbc, 2.0 * m->coul.bond_reach, 0);
  if (st) return st;
  int *sp = malloc((size_t)(im.n_total + 1) * sizeof(int));
  double *q = malloc((size_t)(im.n_total + 1) * sizeof(double));
  if (!sp || !q)
    st = mlff_set_error(MLFF_ERR_NOMEM, "out of memory for the charges of %d atoms", n);
  else {
    for (int t = 0; t < im.n_total; t++) sp[t] = s->species[im.owner[t]];
    st = mlff_coul_charges(&m->coul, im.n_total, im.x, sp, q);
    for (int i = 0; !st && i < n; i++) charges[i] = q[i]; /* the atoms come first */
  }
  free(sp), free(q);
  mlff_images_free(&im);
  return st;
}
