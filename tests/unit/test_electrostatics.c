/* test_electrostatics.c — the model's fixed-charge electrostatics (electrostatics.h) on the CPU
 * path:
 *  - its energy on a dimer against the damped-shifted-force sum written out here (pairs and
 *    self terms), for alpha > 0 and alpha = 0; zero with its force at the cutoff;
 *  - forces and virial against finite differences, per-atom sums (check_fd), on a dimer and a
 *    triclinic periodic box with a cutoff longer than the box (several image shells);
 *  - a committee: the term is common to the members (their deviation does not change);
 *    (the GPU path against this one: tests/gpu/test_gpu.c)
 *  - a model file round trip, the reader's refusals of bad /electrostatics groups (messages),
 *    and bad parameters refused by mlff_model_set_electrostatics. */
#include <unistd.h>

#include "test_h5.h"

static const double K_COUL = 14.399645; /* eV Å e^-2 */

/* The DSF pair energy (Fennell and Gezelter 2006, eq. 19) of charges qi, qj, written
 * independently of electrostatics.h. */
static double dsf_ref(double qi, double qj, double r, double alpha, double rc) {
  if (r >= rc) return 0.0;
  const double shift =
      erfc(alpha * rc) / (rc * rc) + 2.0 * alpha / sqrt(M_PI) * exp(-alpha * alpha * rc * rc) / rc;
  return K_COUL * qi * qj * (erfc(alpha * r) / r - erfc(alpha * rc) / rc + shift * (r - rc));
}

static double energy_of_model(mlff_model *m, const tstruct *t) {
  mlff_calc_options o;
  mlff_calc_options_default(&o);
  o.device = MLFF_DEVICE_CPU;
  mlff_calc *c;
  CHECK_OK(mlff_calc_create(m, &o, &c));
  double e = energy_of(c, t);
  mlff_calc_free(c);
  return e;
}

int main(int argc, char **argv) {
  const char *tmp = argc > 1 ? argv[1] : "/tmp";
  mlff_model *m = make_model(CH, 21);
  tstruct d = make_dimer();
  const double e_nn = energy_of_model(m, &d);
  mlff_electrostatics_params p;
  memset(&p, 0, sizeof p);
  p.charges[0] = -0.13, p.charges[1] = 0.13; /* benzene's C-H pattern, neutral */

  /* 1. the term's value: the dimer's energy less the networks' = the pair sum + self terms */
  for (int k = 0; k < 2; k++) {
    p.alpha = k ? 0.0 : 0.2, p.cutoff = 9.0;
    CHECK_OK(mlff_model_set_electrostatics(m, &p));
    CHECK(mlff_model_electrostatics(m) && mlff_model_electrostatics(m)->alpha == p.alpha);
    CHECK(mlff_model_cutoff(m) == 9.0);
    double e_ref = 0.0;
    for (int i = 0; i < d.n; i++) {
      const double qi = p.charges[d.species[i]];
      e_ref -= K_COUL * qi * qi *
               (0.5 * (erfc(p.alpha * p.cutoff) / p.cutoff +
                       p.cutoff * (erfc(p.alpha * p.cutoff) / (p.cutoff * p.cutoff) +
                                   2.0 * p.alpha / sqrt(M_PI) *
                                       exp(-p.alpha * p.alpha * p.cutoff * p.cutoff) / p.cutoff)) +
                p.alpha / sqrt(M_PI));
      for (int j = i + 1; j < d.n; j++) {
        double r = sqrt(pow(d.x[3 * j] - d.x[3 * i], 2) + pow(d.x[3 * j + 1] - d.x[3 * i + 1], 2) +
                        pow(d.x[3 * j + 2] - d.x[3 * i + 2], 2));
        e_ref += dsf_ref(qi, p.charges[d.species[j]], r, p.alpha, p.cutoff);
      }
    }
    const double e = energy_of_model(m, &d) - e_nn;
    printf("dimer, alpha %g: electrostatics %.8f eV (written-out sum %.8f)\n", p.alpha, e, e_ref);
    CHECK_CLOSE(e, e_ref, 1e-10 * fabs(e_ref));
    CHECK(fabs(e_ref) > 0.1);
  }
  /* zero at the cutoff, with its slope: the pair form at rc and just inside */
  CHECK(dsf_ref(1, 1, 9.0, 0.2, 9.0) == 0.0 && fabs(dsf_ref(1, 1, 9.0 - 1e-6, 0.2, 9.0)) < 1e-9);

  /* 2. derivatives, open and periodic (cutoff 9 Å in a 7 Å box: two image shells) */
  p.alpha = 0.2, p.cutoff = 9.0;
  CHECK_OK(mlff_model_set_electrostatics(m, &p));
  mlff_calc_options o;
  mlff_calc_options_default(&o);
  o.device = MLFF_DEVICE_CPU;
  mlff_calc *c;
  CHECK_OK(mlff_calc_create(m, &o, &c));
  check_fd(c, &d, "dimer", 1);
  tstruct l = make_liquid(1, 7.0, 0.1);
  check_fd(c, &l, "box", 1);
  mlff_calc_free(c);

  /* 3. a committee of 2: the term is common to the members, so their deviation is the same
   * with it and without, while the energy moves by the term */
  {
    mlff_model *cm = make_model(CH, 31), *m2 = make_model(CH, 32);
    CHECK_OK(mlff_model_committee_add(cm, m2));
    double dev[2], en[2];
    for (int with = 0; with < 2; with++) {
      CHECK_OK(mlff_model_set_electrostatics(cm, with ? &p : NULL));
      CHECK_OK(mlff_calc_create(cm, &o, &c));
      mlff_structure s = tview(&d);
      double F[3 * 24];
      mlff_result r = {0};
      r.forces = F;
      CHECK_OK(mlff_compute(c, &s, &r));
      dev[with] = r.max_force_deviation, en[with] = r.energy;
      mlff_calc_free(c);
    }
    printf("committee: deviation %.10g / %.10g eV/Å without / with\n", dev[0], dev[1]);
    CHECK(dev[0] > 0 && fabs(dev[1] - dev[0]) <= 1e-12 * dev[0]);
    CHECK(fabs(en[1] - en[0]) > 0.1);
    /* a member whose electrostatics differ is refused */
    mlff_model *m3 = make_model(CH, 33);
    CHECK(mlff_model_committee_add(cm, m3) == MLFF_ERR_ARGUMENT &&
          strstr(mlff_last_error(), "electrostatics differ from the committee's"));
    mlff_model_free(m3), mlff_model_free(m2), mlff_model_free(cm);
  }

  /* 4. file round trip and refusals */
  char path[1024];
  snprintf(path, sizeof path, "%s/electrostatics_model.h5", tmp);
  CHECK_OK(mlff_model_save(m, path));
  mlff_model *m2;
  CHECK_OK(mlff_model_load(path, &m2));
  const mlff_electrostatics_params *q = mlff_model_electrostatics(m2);
  CHECK(q && !memcmp(q, &p, sizeof p));
  CHECK(mlff_model_dispersion(m2) == NULL);
  CHECK_CLOSE(energy_of_model(m2, &d), energy_of_model(m, &d), 1e-12);
  mlff_model_free(m2);
  double three[3] = {-0.1, 0.1, 0.0}, neg = -1.0, zero = 0.0, nan_q[2] = {-0.1, NAN};
  damage(path, "/electrostatics", "charges", three, 3);
  expect_load_error(path, "attribute 'charges' of /electrostatics holds 3 values, expected 2 "
                          "(one per element, in the order of /elements)");
  CHECK_OK(mlff_model_save(m, path));
  damage(path, "/electrostatics", "charges", nan_q, 2);
  expect_load_error(path, "attribute 'charges' of /electrostatics has a non-finite value");
  CHECK_OK(mlff_model_save(m, path));
  damage(path, "/electrostatics", "alpha", &neg, 0);
  expect_load_error(path, "group /electrostatics: alpha is -1 Å^-1; it must be >= 0");
  CHECK_OK(mlff_model_save(m, path));
  damage(path, "/electrostatics", "cutoff", &zero, 0);
  expect_load_error(path, "group /electrostatics: cutoff is 0 Å; it must be > 0");
  CHECK_OK(mlff_model_save(m, path));
  damage(path, "/electrostatics", "cutoff", NULL, 0);
  expect_load_error(path, "cutoff");
  unlink(path);

  /* 5. bad parameters, and taking the term away */
  mlff_electrostatics_params b = p;
  b.charges[1] = INFINITY;
  CHECK(mlff_model_set_electrostatics(m, &b) == MLFF_ERR_ARGUMENT &&
        strstr(mlff_last_error(), "electrostatics parameters: charges[1] is inf"));
  b = p, b.cutoff = -2.0;
  CHECK(mlff_model_set_electrostatics(m, &b) == MLFF_ERR_ARGUMENT &&
        strstr(mlff_last_error(), "cutoff is -2 Å; it must be > 0"));
  b = p, b.alpha = NAN;
  CHECK(mlff_model_set_electrostatics(m, &b) == MLFF_ERR_ARGUMENT &&
        strstr(mlff_last_error(), "alpha is nan"));
  CHECK(mlff_model_electrostatics(m) && mlff_model_electrostatics(m)->cutoff == 9.0); /* kept */
  CHECK_OK(mlff_model_set_electrostatics(m, NULL));
  CHECK(!mlff_model_electrostatics(m) && mlff_model_cutoff(m) == 5.2);
  CHECK_CLOSE(energy_of_model(m, &d), e_nn, 1e-12);

  tfree(&d), tfree(&l);
  mlff_model_free(m);
  if (test_failures) fprintf(stderr, "%d check(s) failed\n", test_failures);
  return test_failures != 0;
}
