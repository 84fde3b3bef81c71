/* test_dispersion.c — the model's long-range dispersion (dispersion.h) on the CPU path:
 *  - forces and virial against finite differences, per-atom sums (check_fd), on a dimer and a
 *    triclinic periodic box with a cutoff longer than the box (several image shells);
 *  - the pair energy against the D3/D4 formula written out here, and zero beyond the cutoff;
 *  - the three-body (ATM) term against its angle form written out here, with derivatives;
 *  - the tail: a uniform random gas gives the same energy and pressure with a short cutoff plus
 *    tail as with a long one, and differs clearly without the tail;
 *  - the three-body tail (tail3): its energy, virial and V^-2 law on a periodic box, none on an
 *    open structure, the C API's figures, refusals;
 *  - a model file round trip, and the reader's refusals of bad /dispersion groups (messages);
 *  - bad parameters refused by mlff_model_set_dispersion. */
#include <unistd.h>

#include "test_h5.h"

static mlff_dispersion_params params(double cutoff, int tail) {
  mlff_dispersion_params p;
  memset(&p, 0, sizeof p);
  p.s6 = 1.0, p.s8 = 2.7, p.a1 = 0.52, p.a2 = 5.0 * 0.529177210903;
  p.cutoff = cutoff;
  p.tail = tail;
  /* species 0 = C, 1 = H; magnitudes of D4's in benzene (eV Å^6, eV Å^8) */
  double c6[2][2] = {{19.4, 4.5}, {4.5, 1.05}}, c8[2][2] = {{520.0, 84.0}, {84.0, 12.0}};
  for (int a = 0; a < 2; a++)
    for (int b = 0; b < 2; b++) p.c6[a][b] = c6[a][b], p.c8[a][b] = c8[a][b];
  return p;
}

/* Energy and virial trace of a structure. */
static double energy_virial(mlff_calc *c, const tstruct *t, double *wtrace) {
  mlff_structure s = tview(t);
  mlff_result r = {0};
  CHECK_OK(mlff_compute(c, &s, &r));
  if (wtrace) *wtrace = r.virial[0] + r.virial[1] + r.virial[2];
  return r.energy;
}

/* The D4(BJ) pair formula, written independently of dispersion.h. */
static double pair_ref(const mlff_dispersion_params *p, int a, int b, double r) {
  double r0 = p->a1 * sqrt(p->c8[a][b] / p->c6[a][b]) + p->a2;
  return -p->s6 * p->c6[a][b] / (pow(r, 6) + pow(r0, 6)) -
         p->s8 * p->c8[a][b] / (pow(r, 8) + pow(r0, 8));
}

/* The ATM triple energy from its angles, written independently of dispersion.c: all triples
 * of an open structure with every side within cutoff3, each side weighed by the smooth cutoff
 * where switch3 > 0 (mlff.h: 1 - 10 t^3 + 15 t^4 - 6 t^5 over the last switch3 Å). */
static double atm_ref(const mlff_dispersion_params *p, const tstruct *t) {
  double e = 0.0;
  const double *x = t->x;
  for (int i = 0; i < t->n; i++)
    for (int j = i + 1; j < t->n; j++)
      for (int k = j + 1; k < t->n; k++) {
        const int v[3] = {i, j, k}, s[3] = {t->species[i], t->species[j], t->species[k]};
        double r[3], cosv[3];
        for (int q = 0; q < 3; q++) { /* side q joins v[q] and v[(q+1)%3] */
          const double *a = x + 3 * v[q], *b = x + 3 * v[(q + 1) % 3];
          r[q] = sqrt(pow(b[0] - a[0], 2) + pow(b[1] - a[1], 2) + pow(b[2] - a[2], 2));
        }
        if (r[0] >= p->cutoff3 || r[1] >= p->cutoff3 || r[2] >= p->cutoff3) continue;
        for (int q = 0; q < 3; q++) { /* the angle opposite side q, law of cosines */
          const double o = r[q], a = r[(q + 1) % 3], b = r[(q + 2) % 3];
          cosv[q] = (a * a + b * b - o * o) / (2 * a * b);
        }
        double r0[3], c6 = 1.0;
        for (int q = 0; q < 3; q++) {
          const int a = s[q], b = s[(q + 1) % 3];
          r0[q] = p->a1 * sqrt(p->c8[a][b] / p->c6[a][b]) + p->a2;
          c6 *= p->c6[a][b];
        }
        const double rr = r[0] * r[1] * r[2];
        double sw = 1.0;
        for (int q = 0; q < 3 && p->switch3 > 0; q++) {
          const double t = fmax(0.0, (r[q] - (p->cutoff3 - p->switch3)) / p->switch3);
          sw *= 1.0 - 10.0 * pow(t, 3) + 15.0 * pow(t, 4) - 6.0 * pow(t, 5);
        }
        const double damp = 1.0 / (1.0 + 6.0 * pow(r0[0] * r0[1] * r0[2] / rr, p->alp / 3.0));
        e += p->s9 * sqrt(c6 / 27.211386245988) * (3.0 * cosv[0] * cosv[1] * cosv[2] + 1.0) /
             (rr * rr * rr) * damp * sw;
      }
  return e;
}

int main(int argc, char **argv) {
  const char *tmp = argc > 1 ? argv[1] : "/tmp";
  mlff_model *m = make_model(CH, 11);
  mlff_calc_options o;
  mlff_calc_options_default(&o);
  o.device = MLFF_DEVICE_CPU;
  mlff_calc *c0, *c;
  CHECK_OK(mlff_calc_create(m, &o, &c0));
  tstruct d = make_dimer();
  double e_nn = energy_virial(c0, &d, NULL);
  mlff_calc_free(c0);

  /* 1. the term's value: dimer energy minus the network's = the sum of pair energies */
  mlff_dispersion_params p = params(9.0, 0);
  CHECK_OK(mlff_model_set_dispersion(m, &p));
  CHECK(mlff_model_dispersion(m) && mlff_model_dispersion(m)->cutoff == 9.0);
  CHECK(mlff_model_cutoff(m) == 9.0);
  CHECK_OK(mlff_calc_create(m, &o, &c));
  double e_ref = 0;
  for (int i = 0; i < d.n; i++)
    for (int j = i + 1; j < d.n; j++) {
      double r = sqrt(pow(d.x[3 * j] - d.x[3 * i], 2) + pow(d.x[3 * j + 1] - d.x[3 * i + 1], 2) +
                      pow(d.x[3 * j + 2] - d.x[3 * i + 2], 2));
      if (r < p.cutoff) e_ref += pair_ref(&p, d.species[i], d.species[j], r);
    }
  double e_disp = energy_virial(c, &d, NULL) - e_nn;
  printf("dimer: dispersion %.6f eV (pair sum %.6f)\n", e_disp, e_ref);
  CHECK_CLOSE(e_disp, e_ref, 1e-10 * fabs(e_ref));
  CHECK(e_ref < -0.05); /* a dimer at 3.8 Å is bound by dispersion */

  /* 2. derivatives, open and periodic (cutoff 9 Å in a 7 Å box: two image shells) */
  check_fd(c, &d, "dimer", 1);
  tstruct l = make_liquid(1, 7.0, 0.1);
  check_fd(c, &l, "box", 1);
  mlff_calc_free(c);

  /* 2b. the three-body (ATM) term: its energy against atm_ref, its derivatives, open and
   * periodic (cutoff3 6 Å in a 7 Å box: triples through the images) */
  mlff_dispersion_params p3 = params(9.0, 0);
  p3.s9 = 5.0, p3.alp = 16.0, p3.cutoff3 = 6.0;
  CHECK_OK(mlff_model_set_dispersion(m, &p3));
  CHECK_OK(mlff_calc_create(m, &o, &c));
  double e3 = energy_virial(c, &d, NULL) - e_nn - e_ref, e3_ref = atm_ref(&p3, &d);
  printf("dimer: three-body %.8f eV (triple sum %.8f)\n", e3, e3_ref);
  CHECK_CLOSE(e3, e3_ref, 1e-9 * fabs(e3_ref));
  CHECK(e3_ref > 1e-4); /* repulsive, and large enough to be seen */
  check_fd(c, &d, "dimer three-body", 1);
  check_fd(c, &l, "box three-body", 1);
  mlff_calc_free(c);

  /* 2c. its smooth cutoff (switch3 3 Å: every side beyond 3 Å of the dimer's triples is
   * weighed): the energy against atm_ref's, derivatives, and continuity where a side crosses
   * cutoff3 (a hard cutoff jumps by the triple's whole energy there) */
  p3.switch3 = 3.0;
  CHECK_OK(mlff_model_set_dispersion(m, &p3));
  CHECK_OK(mlff_calc_create(m, &o, &c));
  double e3s = energy_virial(c, &d, NULL) - e_nn - e_ref, e3s_ref = atm_ref(&p3, &d);
  printf("dimer: three-body with switch3 3 Å %.8f eV (triple sum %.8f; hard %.8f)\n", e3s,
         e3s_ref, e3);
  CHECK_CLOSE(e3s, e3s_ref, 1e-9 * fabs(e3s_ref));
  CHECK(fabs(e3s - e3) > 1e-3 * fabs(e3)); /* the weights do act */
  check_fd(c, &d, "dimer three-body, smooth cutoff", 1);
  check_fd(c, &l, "box three-body, smooth cutoff", 1);
  mlff_calc_free(c);
  { /* a C trimer whose third atom moves across cutoff3 (6 Å from both others): the energy's
     * step there, hard and smooth */
    tstruct t3 = {0};
    t3.n = 3;
    const double y = sqrt(36.0 - 0.49); /* sides 6 Å at y */
    double xt[9] = {0, 0, 0, 1.4, 0, 0, 0.7, 0, 0};
    int st3[3] = {0, 0, 0};
    t3.x = xt, t3.species = st3;
    double step[2];
    for (int smooth = 0; smooth < 2; smooth++) {
      p3.switch3 = smooth ? 3.0 : 0.0;
      CHECK_OK(mlff_model_set_dispersion(m, &p3));
      CHECK_OK(mlff_calc_create(m, &o, &c));
      xt[7] = y - 1e-9;
      double inside = energy_virial(c, &t3, NULL);
      xt[7] = y + 1e-9;
      step[smooth] = energy_virial(c, &t3, NULL) - inside;
      mlff_calc_free(c);
    }
    printf("trimer side across cutoff3: energy step hard %.3e eV, smooth %.3e eV\n", step[0],
           step[1]);
    CHECK(fabs(step[0]) > 1e-7 && fabs(step[1]) < 1e-10);
    p3.switch3 = 0.0;
  }

  /* 3. the tail: a uniform random gas of C and H, 30 Å box */
  tstruct g = {0};
  g.periodic = 1;
  double L = 30.0, cell[9] = {L, 0, 0, 0, L, 0, 0, 0, L};
  memcpy(g.cell, cell, sizeof cell);
  g.n = 1000;
  g.x = malloc(3 * sizeof(double) * g.n);
  g.species = malloc(sizeof(int) * g.n);
  for (int i = 0; i < g.n; i++) {
    for (int k = 0; k < 3; k++) g.x[3 * i + k] = L * trand();
    g.species[i] = i % 2;
  }
  double e[3], w[3];
  const double rc[3] = {8.0, 14.0, 8.0};
  const int tail[3] = {1, 1, 0};
  for (int k = 0; k < 3; k++) {
    p = params(rc[k], tail[k]);
    CHECK_OK(mlff_model_set_dispersion(m, &p));
    CHECK_OK(mlff_calc_create(m, &o, &c));
    e[k] = energy_virial(c, &g, &w[k]);
    mlff_calc_free(c);
  }
  printf("gas: E %.5f (8 Å + tail) %.5f (14 Å + tail) %.5f (8 Å, no tail) eV; W %.5f %.5f %.5f eV\n",
         e[0], e[1], e[2], w[0], w[1], w[2]);
  double et = e[0] - e[2], wt = w[0] - w[2]; /* the tail at 8 Å */
  CHECK(et < 0 && wt < 0);
  CHECK(fabs(e[0] - e[1]) < 0.05 * fabs(et)); /* agrees with the longer cutoff ... */
  CHECK(fabs(e[2] - e[1]) > 0.5 * fabs(et));  /* ... which the truncated sum does not */
  CHECK(fabs(w[0] - w[1]) < 0.05 * fabs(wt));
  CHECK(fabs(w[2] - w[1]) > 0.5 * fabs(wt));

  /* 3b. the three-body tail (tail3): a periodic box gains tail3 S / V^2 with S = (1/6) sum
   * N_a N_b N_c C9_abc (written out here from C6), its virial trace 6 E (E ~ V^-2); the same box
   * scaled by 1.1 in length gains 1.1^-6 of it; an open structure gains nothing */
  {
    const double t3 = 123.0; /* Å^-3 */
    double eg[2][2], wg[2][2], vol[2];
    tstruct g2 = g;
    g2.x = malloc(3 * sizeof(double) * g.n);
    for (int v = 0; v < 2; v++) {
      const double f = v ? 1.1 : 1.0;
      for (int i = 0; i < 3 * g.n; i++) g2.x[i] = f * g.x[i];
      for (int k = 0; k < 9; k++) g2.cell[k] = f * g.cell[k];
      vol[v] = pow(f * L, 3);
      for (int with = 0; with < 2; with++) {
        p3 = params(8.0, 0);
        p3.s9 = 5.0, p3.alp = 16.0, p3.cutoff3 = 4.0, p3.tail3 = with ? t3 : 0.0;
        CHECK_OK(mlff_model_set_dispersion(m, &p3));
        CHECK_OK(mlff_calc_create(m, &o, &c));
        eg[v][with] = energy_virial(c, &g2, &wg[v][with]);
        mlff_calc_free(c);
      }
    }
    long count[2] = {0, 0};
    for (int i = 0; i < g.n; i++) count[g.species[i]]++;
    double S = 0.0;
    for (int a = 0; a < 2; a++)
      for (int b = 0; b < 2; b++)
        for (int cc = 0; cc < 2; cc++)
          S += (double)count[a] * count[b] * count[cc] * 5.0 *
               sqrt(p3.c6[a][b] * p3.c6[a][cc] * p3.c6[b][cc] / 27.211386245988) / 6.0;
    const double e_ref = t3 * S / (vol[0] * vol[0]);
    const double e_t3 = eg[0][1] - eg[0][0], w_t3 = wg[0][1] - wg[0][0];
    printf("three-body tail: %.6f eV (tail3 S / V^2 = %.6f), virial trace %.6f eV\n", e_t3,
           e_ref, w_t3);
    CHECK_CLOSE(e_t3, e_ref, 1e-9 * fabs(e_ref));
    CHECK_CLOSE(w_t3, 6.0 * e_ref, 1e-9 * fabs(e_ref));
    CHECK_CLOSE(eg[1][1] - eg[1][0], e_ref * pow(1.1, -6), 1e-9 * fabs(e_ref));
    long cnt2[2] = {count[0], count[1]};
    double e_api, w_api;
    CHECK_OK(mlff_model_dispersion_tail3(m, cnt2, vol[0], &e_api, &w_api));
    CHECK_CLOSE(e_api, e_ref, 1e-12 * fabs(e_ref));
    CHECK_CLOSE(w_api, 2.0 * e_ref, 1e-12 * fabs(e_ref));
    CHECK(mlff_model_dispersion_tail3(m, cnt2, 0.0, &e_api, &w_api) == MLFF_ERR_ARGUMENT &&
          strstr(mlff_last_error(), "volume 0"));
    CHECK_OK(mlff_calc_create(m, &o, &c)); /* open: no tail */
    double e_open = energy_virial(c, &d, NULL);
    mlff_calc_free(c);
    p3.tail3 = 0.0;
    CHECK_OK(mlff_model_set_dispersion(m, &p3));
    CHECK_OK(mlff_calc_create(m, &o, &c));
    CHECK_CLOSE(e_open, energy_virial(c, &d, NULL), 1e-12);
    mlff_calc_free(c);
    free(g2.x);
    /* refused: not finite, or without the three-body term */
    p3.tail3 = NAN;
    CHECK(mlff_model_set_dispersion(m, &p3) == MLFF_ERR_ARGUMENT &&
          strstr(mlff_last_error(), "tail3 is nan; it must be finite"));
    p3 = params(8.0, 0);
    p3.tail3 = 1.0;
    CHECK(mlff_model_set_dispersion(m, &p3) == MLFF_ERR_ARGUMENT &&
          strstr(mlff_last_error(), "tail3 is 1 but s9 is 0: a three-body tail needs the "
                 "three-body term"));
  }

  /* 4. file round trip and refusals */
  p = params(12.0, 1);
  CHECK_OK(mlff_model_set_dispersion(m, &p));
  char path[1024];
  snprintf(path, sizeof path, "%s/dispersion_model.h5", tmp);
  CHECK_OK(mlff_model_save(m, path));
  mlff_model *m2;
  CHECK_OK(mlff_model_load(path, &m2));
  const mlff_dispersion_params *q = mlff_model_dispersion(m2);
  CHECK(q && !memcmp(q, &p, sizeof p));
  /* a model file is a dispersion source too (mlff train --dispersion reads this one) */
  mlff_model *m3 = make_model(CH, 12);
  CHECK_OK(mlff_model_load_dispersion(m3, path));
  CHECK(mlff_model_dispersion(m3) && !memcmp(mlff_model_dispersion(m3), &p, sizeof p));
  char keep[1024];
  snprintf(keep, sizeof keep, "%s/dispersion_source.h5", tmp);
  CHECK_OK(mlff_model_save(m2, keep));
  mlff_model_free(m3);
  mlff_model_free(m2);
  double asym[4] = {19.4, 4.5, 4.4, 1.05}, three[3] = {1, 2, 3}, neg = -1.0;
  damage(path, "/dispersion", "c6", asym, 4);
  expect_load_error(path, "group /dispersion: c6 is not symmetric: [0][1] = 4.5 but [1][0] = 4.4");
  damage(path, "/dispersion", "c6", three, 3);
  expect_load_error(path, "attribute 'c6' of /dispersion holds 3 values, expected 4");
  CHECK_OK(mlff_model_save(m, path));
  damage(path, "/dispersion", "cutoff", &neg, 0);
  expect_load_error(path, "group /dispersion: cutoff is -1 Å; it must be > 0");
  /* with the three-body term: kept by the round trip, refused past the pair cutoff */
  p3 = params(12.0, 1);
  p3.s9 = 5.0, p3.alp = 16.0, p3.cutoff3 = 8.0;
  CHECK_OK(mlff_model_set_dispersion(m, &p3));
  CHECK_OK(mlff_model_save(m, path));
  CHECK_OK(mlff_model_load(path, &m2));
  CHECK(mlff_model_dispersion(m2) && !memcmp(mlff_model_dispersion(m2), &p3, sizeof p3));
  mlff_model_free(m2);
  p3.tail3 = 42.5; /* its tail, kept too */
  CHECK_OK(mlff_model_set_dispersion(m, &p3));
  CHECK_OK(mlff_model_save(m, path));
  CHECK_OK(mlff_model_load(path, &m2));
  CHECK(mlff_model_dispersion(m2) && mlff_model_dispersion(m2)->tail3 == 42.5 &&
        !memcmp(mlff_model_dispersion(m2), &p3, sizeof p3));
  mlff_model_free(m2);
  double inf = INFINITY;
  damage(path, "/dispersion", "tail3", &inf, 0);
  expect_load_error(path, "attribute 'tail3' of /dispersion has a non-finite value (inf)");
  p3.tail3 = 0.0;
  CHECK_OK(mlff_model_set_dispersion(m, &p3));
  CHECK_OK(mlff_model_save(m, path));
  double far = 13.0;
  damage(path, "/dispersion", "cutoff3", &far, 0);
  expect_load_error(path, "group /dispersion: cutoff3 is 13 Å with s9 5; the three-body cutoff "
                    "must be > 0 and at most the pair cutoff (12 Å)");
  p3.switch3 = 1.5; /* the smooth cutoff: kept by the round trip, refused at cutoff3's width */
  CHECK_OK(mlff_model_set_dispersion(m, &p3));
  CHECK_OK(mlff_model_save(m, path));
  CHECK_OK(mlff_model_load(path, &m2));
  CHECK(mlff_model_dispersion(m2) && mlff_model_dispersion(m2)->switch3 == 1.5 &&
        !memcmp(mlff_model_dispersion(m2), &p3, sizeof p3));
  mlff_model_free(m2);
  double wide = 8.0;
  damage(path, "/dispersion", "switch3", &wide, 0);
  expect_load_error(path, "group /dispersion: switch3 is 8 Å with s9 5 and cutoff3 8 Å; the "
                    "three-body switching width must be >= 0, below cutoff3");
  p3.switch3 = 0.0;
  unlink(path);

  /* 5. bad parameters, and taking the term away */
  p = params(12.0, 1);
  p.c8[0][1] = 0;
  mlff_status st = mlff_model_set_dispersion(m, &p);
  CHECK(st == MLFF_ERR_ARGUMENT && strstr(mlff_last_error(), "c8 is not symmetric"));
  p.c8[1][0] = 0;
  st = mlff_model_set_dispersion(m, &p);
  CHECK(st == MLFF_ERR_ARGUMENT && strstr(mlff_last_error(), "both zero or both > 0"));
  p = params(12.0, 1);
  p.switch3 = 1.0; /* a smooth cutoff without the three-body term */
  st = mlff_model_set_dispersion(m, &p);
  CHECK(st == MLFF_ERR_ARGUMENT && strstr(mlff_last_error(), "needs the three-body term"));
  p.s9 = 5.0, p.alp = 16.0, p.cutoff3 = 8.0, p.switch3 = -1.0;
  st = mlff_model_set_dispersion(m, &p);
  CHECK(st == MLFF_ERR_ARGUMENT && strstr(mlff_last_error(), "switch3 is -1 Å"));
  CHECK_OK(mlff_model_set_dispersion(m, NULL));
  CHECK(!mlff_model_dispersion(m) && mlff_model_cutoff(m) == 5.2);

  tfree(&d), tfree(&l), tfree(&g);
  mlff_model_free(m);
  if (test_failures) fprintf(stderr, "%d check(s) failed\n", test_failures);
  return test_failures != 0;
}
