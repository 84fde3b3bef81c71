/* test_bond_charges.c — the electrostatics' bond-charge increments (electrostatics.h) on the CPU
 * path:
 *  - ethanol's charges from three increments (C-H, C-O, O-H) against the sums written out here,
 *    the molecule neutral; a hydrogen between two oxygens bonded to the nearer alone, one
 *    stretched to 1.9 Å still bonded, a C-O at 1.9 Å not; a molecule across a periodic cell's
 *    faces given the charges of its whole copy;
 *  - the energy of two ethanols against the damped-shifted-force sum over those charges;
 *  - forces and virial against finite differences (check_fd), open and periodic;
 *  - charges given by the caller (mlff_neighbors.charges) against the library's own;
 *  - a file round trip (format_version 2 with increments, 1 without), the reader's and
 *    mlff_model_set_electrostatics' refusals, the GPU path's refusal. */
#include <unistd.h>

#include "test_h5.h"

static const double K_COUL = 14.399645; /* eV Å e^-2 */
static const char *const CHO[] = {"C", "H", "O"};
enum { C = 0, H = 1, O = 2 };

/* ethanol, anti (models/small/c2h5oh.xyz): C(H3) C(H2) O H(O) H H (on C1) H H H (on C0) */
static const double ETHANOL[9][3] = {
    {1.177822, -0.405158, 0.0},      {-0.003319, 0.553061, 0.0},     {-1.194227, -0.206375, 0.0},
    {-1.951029, 0.387827, 0.0},      {0.038751, 1.197181, 0.890934}, {0.038751, 1.197181, -0.890934},
    {2.110456, 0.151904, 0.0},       {1.136236, -1.038668, 0.881576}, {1.136237, -1.038668, -0.881576}};
static const int ETHANOL_SPECIES[9] = {C, C, O, H, H, H, H, H, H};

static mlff_model *make_cho(uint64_t seed) {
  mlff_model_spec spec = {0};
  int hidden[2] = {16, 16};
  spec.n_elements = 3, spec.elements = CHO, spec.n_hidden = 2, spec.hidden = hidden;
  spec.activation = MLFF_ACT_SILU, spec.seed = seed;
  mlff_descriptor_params_ani1x(&spec.descriptor);
  mlff_model *m;
  CHECK_OK(mlff_model_create(&spec, &m));
  return m;
}

/* Append one ethanol rotated by R about its centre and moved to c, jittered. */
static void add_ethanol(tstruct *t, const double R[9], const double c[3], double jitter) {
  t->x = realloc(t->x, 3 * sizeof(double) * (t->n + 9));
  t->species = realloc(t->species, sizeof(int) * (t->n + 9));
  for (int k = 0; k < 9; k++) {
    double p[3];
    for (int d = 0; d < 3; d++) p[d] = ETHANOL[k][d] + jitter * (2 * trand() - 1);
    for (int d = 0; d < 3; d++)
      t->x[3 * (t->n + k) + d] = c[d] + R[3 * d] * p[0] + R[3 * d + 1] * p[1] + R[3 * d + 2] * p[2];
    t->species[t->n + k] = ETHANOL_SPECIES[k];
  }
  t->n += 9;
}

static double dsf_ref(double qi, double qj, double r, double alpha, double rc) {
  if (r >= rc) return 0.0;
  const double shift =
      erfc(alpha * rc) / (rc * rc) + 2.0 * alpha / sqrt(M_PI) * exp(-alpha * alpha * rc * rc) / rc;
  return K_COUL * qi * qj * (erfc(alpha * r) / r - erfc(alpha * rc) / rc + shift * (r - rc));
}

static double energy_cpu(const mlff_model *m, const tstruct *t) {
  mlff_calc_options o;
  mlff_calc_options_default(&o);
  o.device = MLFF_DEVICE_CPU;
  mlff_calc *c;
  CHECK_OK(mlff_calc_create(m, &o, &c));
  const double e = energy_of(c, t);
  mlff_calc_free(c);
  return e;
}

static void charges_of(const mlff_model *m, const tstruct *t, double *q) {
  mlff_structure s = tview(t);
  CHECK_OK(mlff_model_charges(m, &s, q));
}

int main(int argc, char **argv) {
  const char *tmp = argc > 1 ? argv[1] : "/tmp";
  mlff_model *m = make_cho(3);
  const double I[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1}, zero[3] = {0, 0, 0};
  tstruct e1 = {0};
  add_ethanol(&e1, I, zero, 0.0);
  const double e_nn = energy_cpu(m, &e1);
  double q[64];
  mlff_structure s1 = tview(&e1);
  CHECK(mlff_model_charges(m, &s1, q) == MLFF_ERR_ARGUMENT &&
        strstr(mlff_last_error(), "the model has no electrostatics"));

  /* 1. ethanol's charges: an atom gains increments[its species][its partner's] per bond */
  const double dCH = -0.05, dCO = 0.25, dOH = -0.45;
  mlff_electrostatics_params p;
  memset(&p, 0, sizeof p);
  p.alpha = 0.2, p.cutoff = 9.0, p.bond_factor = 1.25;
  p.charges[O] = 0.01, p.charges[H] = -0.005; /* by element too: added to the increments' */
  p.increments[C][H] = dCH, p.increments[H][C] = -dCH;
  p.increments[C][O] = dCO, p.increments[O][C] = -dCO;
  p.increments[O][H] = dOH, p.increments[H][O] = -dOH;
  p.bond_radii[C] = 0.76, p.bond_radii[H] = 0.31, p.bond_radii[O] = 0.66;
  CHECK_OK(mlff_model_set_electrostatics(m, &p));
  const double want[9] = {3 * dCH, 2 * dCH + dCO, 0.01 - dCO + dOH, -0.005 - dOH,
                          -0.005 - dCH, -0.005 - dCH, -0.005 - dCH, -0.005 - dCH, -0.005 - dCH};
  charges_of(m, &e1, q);
  double total = 0.0;
  for (int i = 0; i < 9; i++) {
    CHECK_CLOSE(q[i], want[i], 1e-15);
    total += q[i];
  }
  printf("ethanol's charges: C %+.3f %+.3f O %+.3f H(O) %+.3f H(C) %+.3f; total %+.3f e\n", q[0],
         q[1], q[2], q[3], q[4], total);
  CHECK_CLOSE(total, 0.01 - 6 * 0.005, 1e-14); /* the increments move charge, create none */

  /* a hydrogen between two oxygens (0.98 and 1.10 Å, both within 1.25 x 0.97): the nearer's */
  {
    tstruct w = {0};
    w.n = 3;
    w.x = calloc(9, sizeof(double)), w.species = calloc(3, sizeof(int));
    const double xs[9] = {0, 0, 0, 0.98, 0, 0, 2.08, 0, 0};
    memcpy(w.x, xs, sizeof xs);
    w.species[0] = O, w.species[1] = H, w.species[2] = O;
    charges_of(m, &w, q);
    CHECK_CLOSE(q[0], 0.01 + dOH, 1e-15);
    CHECK_CLOSE(q[1], -0.005 - dOH, 1e-15);
    CHECK_CLOSE(q[2], 0.01, 1e-15); /* the farther oxygen: no bond */
    tfree(&w);
  }
  /* a hydrogen stays bonded to its atom stretched to 1.9 Å (twice the factor for hydrogens),
   * whatever hydrogen is nearer; a C-O at 1.9 Å (1.34 x the radii) is no bond */
  {
    tstruct w = {0};
    w.n = 4;
    w.x = calloc(12, sizeof(double)), w.species = calloc(4, sizeof(int));
    const double xs[12] = {0, 0, 0, 1.9, 0, 0, 2.6, 0.5, 0, 0, 1.9, 0};
    memcpy(w.x, xs, sizeof xs);
    w.species[0] = O, w.species[1] = H, w.species[2] = H, w.species[3] = C;
    charges_of(m, &w, q); /* H1: O at 1.9, H2 at 0.86; H2: H1 alone (no partner) */
    CHECK_CLOSE(q[1], -0.005 - dOH, 1e-15);
    CHECK_CLOSE(q[2], -0.005, 1e-15);
    CHECK_CLOSE(q[0], 0.01 + dOH, 1e-15); /* and not the C's increment */
    CHECK_CLOSE(q[3], 0.0, 1e-15);
    tfree(&w);
  }
  /* periodic: ethanol across the faces of a 7 Å cell, wrapped, keeps its charges */
  {
    tstruct pw = {0};
    const double corner[3] = {0.3, 0.2, 6.9};
    add_ethanol(&pw, I, corner, 0.0);
    pw.periodic = 1;
    const double cell[9] = {7, 0, 0, 0.5, 7, 0, 0, 0.3, 7};
    memcpy(pw.cell, cell, sizeof cell);
    int wrapped = 0;
    for (int i = 0; i < 9; i++) /* into [0, 7) along z, x: the cell's a and c edges */
      for (int d = 0; d < 3; d += 2)
        if (pw.x[3 * i + d] < 0 || pw.x[3 * i + d] >= 7) {
          const double k = floor(pw.x[3 * i + d] / 7.0);
          for (int e = 0; e < 3; e++) pw.x[3 * i + e] -= k * cell[3 * d + e];
          wrapped++;
        }
    charges_of(m, &pw, q);
    for (int i = 0; i < 9; i++) CHECK_CLOSE(q[i], want[i], 1e-15);
    printf("wrapped into the cell: %d coordinates moved, charges as the whole molecule's\n",
           wrapped);
    CHECK(wrapped >= 3);
    tfree(&pw);
  }

  /* 2. the energy of two ethanols: the DSF sum over those charges, written out */
  tstruct d = {0};
  double R[9];
  const double c1[3] = {3.2, 1.1, 1.9};
  add_ethanol(&d, I, zero, 0.03);
  random_rotation(R);
  add_ethanol(&d, R, c1, 0.03);
  CHECK_OK(mlff_model_set_electrostatics(m, NULL));
  const double e_nn2 = energy_cpu(m, &d);
  CHECK_OK(mlff_model_set_electrostatics(m, &p));
  charges_of(m, &d, q);
  double e_ref = 0.0;
  const double rc = p.cutoff, al = p.alpha;
  const double e_shift = erfc(al * rc) / rc + rc * (erfc(al * rc) / (rc * rc) +
                                                    2.0 * al / sqrt(M_PI) * exp(-al * al * rc * rc) / rc);
  for (int i = 0; i < d.n; i++) {
    e_ref -= K_COUL * q[i] * q[i] * (0.5 * e_shift + al / sqrt(M_PI));
    for (int j = i + 1; j < d.n; j++) {
      double r2 = 0;
      for (int k = 0; k < 3; k++) r2 += pow(d.x[3 * j + k] - d.x[3 * i + k], 2);
      e_ref += dsf_ref(q[i], q[j], sqrt(r2), al, rc);
    }
  }
  const double e_coul = energy_cpu(m, &d) - e_nn2;
  printf("two ethanols: electrostatics %.8f eV (written-out sum %.8f)\n", e_coul, e_ref);
  CHECK_CLOSE(e_coul, e_ref, 1e-10 * fabs(e_ref));
  CHECK(fabs(e_ref) > 0.05);
  CHECK(fabs(energy_cpu(m, &e1) - e_nn) > 0.01); /* the term is on */

  /* 3. derivatives: the charges are constant between bond changes */
  mlff_calc_options o;
  mlff_calc_options_default(&o);
  o.device = MLFF_DEVICE_CPU;
  mlff_calc *c;
  CHECK_OK(mlff_calc_create(m, &o, &c));
  check_fd(c, &d, "two ethanols", 1);
  tstruct box = {0};
  box.periodic = 1;
  const double bc[9] = {8.5, 0, 0, 0.6, 8.5, 0, -0.4, 0.3, 8.5};
  memcpy(box.cell, bc, sizeof bc);
  for (int k = 0; k < 4; k++) {
    const double f[3] = {0.25 + 0.5 * (k & 1), 0.25 + 0.5 * (k >> 1 & 1), 0.25 + 0.25 * k};
    double cc[3];
    for (int e = 0; e < 3; e++) cc[e] = f[0] * bc[e] + f[1] * bc[3 + e] + f[2] * bc[6 + e];
    random_rotation(R);
    add_ethanol(&box, R, cc, 0.03);
  }
  check_fd(c, &box, "ethanol box", 2);

  /* 4. the caller's charges against the library's own, on a full list of every pair */
  {
    const int n = d.n;
    int num[64], lists[64][64];
    const int *first[64];
    for (int i = 0; i < n; i++) {
      num[i] = 0;
      for (int j = 0; j < n; j++)
        if (j != i) lists[i][num[i]++] = j;
      first[i] = lists[i];
    }
    double f0[3 * 64] = {0}, f1[3 * 64] = {0}, qq[64];
    charges_of(m, &d, qq);
    mlff_neighbors nl = {n, d.x, d.species, n, NULL, num, first, 0, 0.0, 0, NULL, NULL};
    mlff_result r0 = {0}, r1 = {0};
    r0.forces = f0, r1.forces = f1;
    CHECK_OK(mlff_compute_neighbors(c, &nl, &r0));
    nl.charges = qq;
    CHECK_OK(mlff_compute_neighbors(c, &nl, &r1));
    CHECK_CLOSE(r1.energy, r0.energy, 1e-12 * fabs(r0.energy));
    for (int k = 0; k < 3 * n; k++) CHECK_CLOSE(f1[k], f0[k], 1e-12);
    CHECK_CLOSE(r0.energy, energy_of(c, &d), 1e-10);
    for (int i = 0; i < n; i++) qq[i] = 0.0; /* the given charges are the ones used */
    CHECK_OK(mlff_compute_neighbors(c, &nl, &r1));
    CHECK_CLOSE(r1.energy, e_nn2, 1e-9);
  }
  mlff_calc_free(c);

  /* 5. the GPU path refuses (or a build without CUDA refuses the GPU) */
  o.device = MLFF_DEVICE_GPU;
  CHECK(mlff_calc_create(m, &o, &c) == MLFF_ERR_UNSUPPORTED &&
        (strstr(mlff_last_error(), "bond-charge increments, which this version computes on the "
                                   "CPU only: use device cpu") ||
         strstr(mlff_last_error(), "built without CUDA")));

  /* 6. file round trip, versions and refusals */
  char path[1024];
  snprintf(path, sizeof path, "%s/bond_charges_model.h5", tmp);
  CHECK_OK(mlff_model_save(m, path));
  mlff_model *m2;
  CHECK_OK(mlff_model_load(path, &m2));
  CHECK(!memcmp(mlff_model_electrostatics(m2), mlff_model_electrostatics(m), sizeof p));
  CHECK_CLOSE(energy_cpu(m2, &d), energy_cpu(m, &d), 1e-12);
  mlff_model_free(m2);
  {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    int v = 0;
    hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_INT, &v);
    H5Aclose(a), H5Fclose(f);
    CHECK(v == 2);
  }
  double eight[8] = {0}, inc_bad[9] = {0, 0.1, 0, 0.1, 0, 0, 0, 0, 0}, two[2] = {0.7, 0.3};
  double fzero = 0.0;
  damage(path, "/electrostatics", "increments", eight, 8);
  expect_load_error(path, "attribute 'increments' of /electrostatics holds 8 values, expected 9");
  CHECK_OK(mlff_model_save(m, path));
  damage(path, "/electrostatics", "increments", inc_bad, 9);
  expect_load_error(path, "increments[0][1] is 0.1 and increments[1][0] 0.1; bond-charge "
                          "increments must be finite and opposite");
  CHECK_OK(mlff_model_save(m, path));
  damage(path, "/electrostatics", "bond_radii", two, 2);
  expect_load_error(path, "attribute 'bond_radii' of /electrostatics holds 2 values, expected 3");
  CHECK_OK(mlff_model_save(m, path));
  damage(path, "/electrostatics", "bond_factor", &fzero, 0);
  expect_load_error(path, "bond_factor is 0; it must be > 0 with bond-charge increments");
  CHECK_OK(mlff_model_save(m, path));
  damage(path, "/electrostatics", "bond_radii", NULL, 0);
  expect_load_error(path, "attribute 'bond_radii' of /electrostatics is missing");
  /* without increments the file is version 1, as before them */
  mlff_electrostatics_params plain = p;
  memset(plain.increments, 0, sizeof plain.increments);
  CHECK_OK(mlff_model_set_electrostatics(m, &plain));
  CHECK(mlff_model_electrostatics(m)->bond_factor == 0.0 &&
        mlff_model_electrostatics(m)->bond_radii[0] == 0.0);
  CHECK_OK(mlff_model_save(m, path));
  {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    int v = 0;
    hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_INT, &v);
    CHECK(v == 1 && H5Aexists_by_name(f, "/electrostatics", "increments", H5P_DEFAULT) == 0);
    H5Aclose(a), H5Fclose(f);
  }
  unlink(path);
  mlff_electrostatics_params b = p;
  b.increments[C][H] = 0.2; /* not opposite to H-C */
  CHECK(mlff_model_set_electrostatics(m, &b) == MLFF_ERR_ARGUMENT &&
        strstr(mlff_last_error(), "increments[0][1] is 0.2 and increments[1][0] 0.05"));
  b = p, b.bond_radii[O] = 0.0;
  CHECK(mlff_model_set_electrostatics(m, &b) == MLFF_ERR_ARGUMENT &&
        strstr(mlff_last_error(), "bond_radii[2] is 0 Å; it must be in (0, 10) Å"));
  b = p, b.bond_factor = NAN;
  CHECK(mlff_model_set_electrostatics(m, &b) == MLFF_ERR_ARGUMENT &&
        strstr(mlff_last_error(), "bond_factor is nan"));

  tfree(&e1), tfree(&d), tfree(&box);
  mlff_model_free(m);
  if (test_failures) fprintf(stderr, "%d check(s) failed\n", test_failures);
  return test_failures != 0;
}
