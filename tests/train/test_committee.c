/* Committees (docs/model.md, docs/file_format.md /committee): a model of K students evaluates
 * to their mean, with the per-atom force deviation as its uncertainty. Checks that
 *   - energy, per-atom energies, forces and virial are the mean of the members evaluated one at
 *     a time (mlff_model_committee_member), with a common dispersion term, on an open dimer and
 *     a periodic box, through mlff_compute, mlff_compute_batch and mlff_compute_neighbors;
 *   - the deviation equals the standard deviation computed here from the members' forces, and
 *     member_forces are the members' forces;
 *   - the mean forces are the finite-difference derivative of the mean energy (FP64);
 *   - the file round trip keeps every member (same numbers), a single model's file has no
 *     /committee group and is byte for byte what member 0 alone writes;
 *   - mis-shaped committees are refused with messages naming the file and the field, and so
 *     are members that do not fit (elements, descriptor, architecture);
 *   - mlff_train with committee 3 trains 3 members (member 0 is the single model of that seed,
 *     bit for bit), records them in the training summary, and reports the members in progress.
 * argv[1]: a scratch directory. */
#include <hdf5.h>
#include <unistd.h>

#include "train_test.h"

static const char *tmpdir = ".";

static void check_fails(mlff_status got, mlff_status want, const char *what, const char *sub1,
                        const char *sub2) {
  const char *msg = mlff_last_error();
  if (got != want || !strstr(msg, sub1) || (sub2 && !strstr(msg, sub2))) {
    fprintf(stderr, "%s: got %s (want %s), message \"%s\" should contain \"%s\"%s%s\n", what,
            mlff_status_name(got), mlff_status_name(want), msg, sub1, sub2 ? " and " : "",
            sub2 ? sub2 : "");
    test_failures++;
  }
}

static mlff_dispersion_params some_dispersion(void) {
  mlff_dispersion_params p;
  memset(&p, 0, sizeof p);
  p.s6 = 1.0, p.s8 = 2.7, p.a1 = 0.52, p.a2 = 2.6459, p.cutoff = 7.0,
  p.tail = 0; /* no pair of the tests near it: the plain cut would jump */
  const double c6[2][2] = {{19.4, 4.5}, {4.5, 1.05}};
  for (int a = 0; a < 2; a++)
    for (int b = 0; b < 2; b++) p.c6[a][b] = c6[a][b], p.c8[a][b] = 20.0 * c6[a][b];
  return p;
}

/* A committee of K random C/H members (hidden 16,12), with the dispersion above. */
static mlff_model *make_committee(int K) {
  const int hid[2] = {16, 12};
  const mlff_dispersion_params disp = some_dispersion();
  mlff_model *m = make_model_h(2, hid, MLFF_ACT_SILU, 100);
  CHECK_OK(mlff_model_set_dispersion(m, &disp));
  /* small e0: finite differences of the energy lose digits in a large constant */
  m->e0[0] = -1.0, m->e0[1] = -0.5, m->scale = 1.5;
  for (int k = 1; k < K; k++) {
    mlff_model *o = make_model_h(2, hid, MLFF_ACT_SILU, 100 + k);
    CHECK_OK(mlff_model_set_dispersion(o, &disp));
    o->e0[0] = -1.0 + 0.1 * k, o->e0[1] = -0.5 - 0.05 * k, o->scale = 1.5 + 0.2 * k;
    CHECK_OK(mlff_model_committee_add(m, o));
    mlff_model_free(o);
  }
  CHECK(mlff_model_committee_size(m) == K);
  return m;
}

static mlff_calc *cpu_calc(const mlff_model *m) {
  mlff_calc_options o;
  mlff_calc_options_default(&o);
  o.device = MLFF_DEVICE_CPU;
  mlff_calc *c;
  CHECK_OK(mlff_calc_create(m, &o, &c));
  return c;
}

typedef struct {
  double energy, virial[6];
  double *f, *ea, *va, *dev, *mf;
} outputs;

static outputs outputs_alloc(int n, int K) {
  outputs o = {0};
  o.f = calloc(3 * (size_t)n, sizeof(double));
  o.ea = calloc((size_t)n, sizeof(double));
  o.va = calloc(6 * (size_t)n, sizeof(double));
  o.dev = calloc((size_t)n, sizeof(double));
  o.mf = calloc(3 * (size_t)n * K, sizeof(double));
  return o;
}
static void outputs_free(outputs *o) {
  free(o->f), free(o->ea), free(o->va), free(o->dev), free(o->mf);
}
static mlff_result result_of(outputs *o) {
  mlff_result r = {.forces = o->f,
                   .energy_atom = o->ea,
                   .virial_atom = o->va,
                   .force_deviation = o->dev,
                   .member_forces = o->mf};
  return r;
}

/* The committee m on t against its members evaluated one at a time. */
static void check_mean(const mlff_model *m, const tstruct *t, const char *name) {
  const int K = mlff_model_committee_size(m), n = t->n;
  mlff_structure s = tview(t);
  outputs c = outputs_alloc(n, K);
  mlff_calc *cc = cpu_calc(m);
  mlff_result r = result_of(&c);
  CHECK_OK(mlff_compute(cc, &s, &r));
  /* the members alone, and the mean and deviation by hand */
  double e = 0, vir[6] = {0}, *F = calloc(3 * (size_t)n, sizeof(double));
  double *EA = calloc((size_t)n, sizeof(double)), *MF = calloc(3 * (size_t)n * K, sizeof(double));
  for (int k = 0; k < K; k++) {
    mlff_model *mk;
    CHECK_OK(mlff_model_committee_member(m, k, &mk));
    CHECK(mlff_model_committee_size(mk) == 1);
    mlff_calc *ck = cpu_calc(mk);
    outputs o = outputs_alloc(n, 1);
    mlff_result rk = result_of(&o);
    rk.member_forces = NULL;
    CHECK_OK(mlff_compute(ck, &s, &rk));
    CHECK(rk.max_force_deviation == 0.0);
    for (int i = 0; i < n; i++) CHECK(o.dev[i] == 0.0);
    e += rk.energy / K;
    for (int q = 0; q < 6; q++) vir[q] += rk.virial[q] / K;
    for (int i = 0; i < n; i++) EA[i] += o.ea[i] / K;
    for (int q = 0; q < 3 * n; q++) {
      F[q] += o.f[q] / K;
      MF[(size_t)k * 3 * n + q] = o.f[q];
    }
    outputs_free(&o);
    mlff_calc_free(ck);
    mlff_model_free(mk);
  }
  const double tol = 1e-9 * (1 + fabs(e));
  CHECK_CLOSE(r.energy, e, tol);
  for (int q = 0; q < 6; q++) CHECK_CLOSE(r.virial[q], vir[q], 1e-9);
  double dmax = 0;
  for (int i = 0; i < n; i++) {
    CHECK_CLOSE(c.ea[i], EA[i], 1e-9);
    double mean[3] = {0}, ss = 0;
    for (int k = 0; k < K; k++)
      for (int d = 0; d < 3; d++) mean[d] += MF[(size_t)k * 3 * n + 3 * i + d] / K;
    for (int k = 0; k < K; k++)
      for (int d = 0; d < 3; d++) {
        double x = MF[(size_t)k * 3 * n + 3 * i + d] - mean[d];
        ss += x * x;
      }
    double dev = sqrt(ss / K);
    dmax = fmax(dmax, dev);
    CHECK_CLOSE(c.dev[i], dev, 1e-9);
    for (int d = 0; d < 3; d++) CHECK_CLOSE(c.f[3 * i + d], F[3 * i + d], 1e-9);
  }
  for (size_t q = 0; q < 3 * (size_t)n * K; q++) CHECK_CLOSE(c.mf[q], MF[q], 1e-9);
  CHECK_CLOSE(r.max_force_deviation, dmax, 1e-12);
  CHECK(dmax > 1e-3); /* different members: a real spread */
  /* the public helper gives the same from the members' forces */
  double *dv = calloc((size_t)n, sizeof(double)), mx = -1;
  CHECK_OK(mlff_force_deviation(K, n, MF, dv, &mx));
  CHECK_CLOSE(mx, dmax, 1e-12);
  for (int i = 0; i < n; i++) CHECK_CLOSE(dv[i], c.dev[i], 1e-12);
  printf("%s: %d atoms, K %d: E %.6f eV, max force deviation %.4f eV/Å\n", name, n, K, r.energy,
         dmax);
  free(dv), free(F), free(EA), free(MF);
  outputs_free(&c);
  mlff_calc_free(cc);
}

/* mlff_compute_batch gives each structure what mlff_compute gives it. */
static void check_batch(const mlff_model *m, const tstruct *a, const tstruct *b) {
  const int K = mlff_model_committee_size(m);
  mlff_calc *c = cpu_calc(m);
  mlff_structure s[2] = {tview(a), tview(b)};
  outputs o1[2] = {outputs_alloc(a->n, K), outputs_alloc(b->n, K)};
  outputs o2[2] = {outputs_alloc(a->n, K), outputs_alloc(b->n, K)};
  mlff_result rb[2] = {result_of(&o1[0]), result_of(&o1[1])};
  rb[1].member_forces = NULL; /* the deviation needs no member_forces */
  CHECK_OK(mlff_compute_batch(c, 2, s, rb));
  for (int q = 0; q < 2; q++) {
    mlff_result r1 = result_of(&o2[q]);
    CHECK_OK(mlff_compute(c, &s[q], &r1));
    CHECK_CLOSE(rb[q].energy, r1.energy, 1e-9);
    CHECK_CLOSE(rb[q].max_force_deviation, r1.max_force_deviation, 1e-12);
    for (int i = 0; i < s[q].n_atoms; i++) CHECK_CLOSE(o1[q].dev[i], o2[q].dev[i], 1e-12);
  }
  for (int q = 0; q < 2; q++) outputs_free(&o1[q]), outputs_free(&o2[q]);
  mlff_calc_free(c);
}

/* The neighbour-list path on an open structure (no ghosts: final deviations) against
 * mlff_compute; and with ghosts, member_forces folded by the caller give the deviation. */
static void check_neighbors(const mlff_model *m, const tstruct *t) {
  const int K = mlff_model_committee_size(m), n = t->n;
  const double rc = mlff_model_cutoff(m);
  int *num = calloc((size_t)n, sizeof(int)), **first = calloc((size_t)n, sizeof(int *));
  for (int i = 0; i < n; i++) {
    first[i] = malloc((size_t)n * sizeof(int));
    for (int j = 0; j < n; j++) {
      double d2 = 0;
      for (int x = 0; x < 3; x++) d2 += pow(t->x[3 * j + x] - t->x[3 * i + x], 2);
      if (j != i && d2 < rc * rc) first[i][num[i]++] = j;
    }
  }
  mlff_neighbors nl = {0};
  nl.n_total = n, nl.positions = t->x, nl.species = t->species, nl.n_list = n;
  nl.numneigh = num, nl.firstneigh = (const int *const *)first;
  mlff_calc *c = cpu_calc(m);
  outputs a = outputs_alloc(n, K), b = outputs_alloc(n, K);
  mlff_result ra = result_of(&a), rb = result_of(&b);
  CHECK_OK(mlff_compute_neighbors(c, &nl, &ra));
  mlff_structure s = tview(t);
  CHECK_OK(mlff_compute(c, &s, &rb));
  CHECK_CLOSE(ra.energy, rb.energy, 1e-9);
  CHECK_CLOSE(ra.max_force_deviation, rb.max_force_deviation, 1e-12);
  for (int i = 0; i < n; i++) {
    CHECK_CLOSE(a.dev[i], b.dev[i], 1e-12);
    for (int d = 0; d < 3; d++) CHECK_CLOSE(a.f[3 * i + d], b.f[3 * i + d], 1e-10);
  }
  for (size_t q = 0; q < 3 * (size_t)n * K; q++) CHECK_CLOSE(a.mf[q], b.mf[q], 1e-10);
  /* member_forces are added to, as forces are: a second call doubles them */
  CHECK_OK(mlff_compute_neighbors(c, &nl, &ra));
  for (size_t q = 0; q < 3 * (size_t)n * K; q++) CHECK_CLOSE(a.mf[q], 2 * b.mf[q], 1e-9);
  outputs_free(&a), outputs_free(&b);
  mlff_calc_free(c);
  for (int i = 0; i < n; i++) free(first[i]);
  free(first), free(num);
}

static hid_t open_rw(const char *path) {
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  CHECK(f >= 0);
  return f;
}

static void copy_file(const char *from, const char *to) {
  FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
  CHECK(a && b);
  char buf[65536];
  size_t k;
  while ((k = fread(buf, 1, sizeof buf, a)) > 0) CHECK(fwrite(buf, 1, k, b) == k);
  fclose(a), fclose(b);
}

static char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  CHECK(f != NULL);
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  rewind(f);
  char *b = malloc((size_t)len + 1);
  CHECK(fread(b, 1, (size_t)len, f) == (size_t)len);
  fclose(f);
  *n = (size_t)len;
  return b;
}

static void set_size(hid_t f, int K) {
  hid_t g = H5Gopen2(f, "/committee", H5P_DEFAULT);
  CHECK(H5Adelete(g, "size") >= 0);
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(g, "size", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
  CHECK(H5Awrite(a, H5T_NATIVE_INT, &K) >= 0);
  H5Aclose(a), H5Sclose(sp), H5Gclose(g);
}

static void replace_float(hid_t f, const char *path, int rank, const hsize_t *dims, float value) {
  CHECK(H5Ldelete(f, path, H5P_DEFAULT) >= 0);
  hsize_t n = 1;
  for (int r = 0; r < rank; r++) n *= dims[r];
  float *v = malloc(n * sizeof(float));
  for (hsize_t i = 0; i < n; i++) v[i] = value;
  hid_t sp = H5Screate_simple(rank, dims, NULL);
  hid_t d = H5Dcreate2(f, path, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  CHECK(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
  H5Dclose(d), H5Sclose(sp);
  free(v);
}

/* A damaged copy of good, refused with a message naming the file and sub. */
static void check_refused(const char *good, const char *name, void (*damage)(hid_t),
                          const char *sub) {
  char p[600];
  snprintf(p, sizeof p, "%s/committee_bad_%s.h5", tmpdir, name);
  copy_file(good, p);
  hid_t f = open_rw(p);
  damage(f);
  CHECK(H5Fclose(f) >= 0);
  mlff_model *m = NULL;
  check_fails(mlff_model_load(p, &m), MLFF_ERR_FORMAT, name, p, sub);
  CHECK(m == NULL);
}

static void d_size_big(hid_t f) { set_size(f, 4); }
static void d_size_one(hid_t f) { set_size(f, 1); }
static void d_extra(hid_t f) { set_size(f, 2); }
static void d_shape(hid_t f) {
  const hsize_t dims[2] = {7, 16};
  replace_float(f, "/committee/member_2/networks/H/layer_1/W", 2, dims, 0.1f);
}
static void d_nan(hid_t f) {
  const hsize_t dims[1] = {12};
  replace_float(f, "/committee/member_1/networks/C/layer_1/b", 1, dims, NAN);
}
static void d_e0(hid_t f) {
  hid_t g = H5Gopen2(f, "/committee/member_1/energy", H5P_DEFAULT);
  CHECK(H5Adelete(g, "e0") >= 0);
  double v[3] = {1, 2, 3};
  hsize_t n = 3;
  hid_t sp = H5Screate_simple(1, &n, NULL);
  hid_t a = H5Acreate2(g, "e0", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
  CHECK(H5Awrite(a, H5T_NATIVE_DOUBLE, v) >= 0);
  H5Aclose(a), H5Sclose(sp), H5Gclose(g);
}
static void d_no_scale(hid_t f) {
  hid_t g = H5Gopen2(f, "/committee/member_2/energy", H5P_DEFAULT);
  CHECK(H5Adelete(g, "scale") >= 0);
  H5Gclose(g);
}
static void d_layers(hid_t f) {
  CHECK(H5Ldelete(f, "/committee/member_1/networks/C/layer_2", H5P_DEFAULT) >= 0);
}
static void d_no_member(hid_t f) { CHECK(H5Ldelete(f, "/committee/member_1", H5P_DEFAULT) >= 0); }

static void test_files(void) {
  mlff_model *m = make_committee(3);
  char p[512], q[512], s1[512], s2[512];
  snprintf(p, sizeof p, "%s/committee3.h5", tmpdir);
  CHECK_OK(mlff_model_set_attr(m, "created", "2026-12-06T00:00:00Z"));
  CHECK_OK(mlff_model_save(m, p));
  mlff_model *l;
  CHECK_OK(mlff_model_load(p, &l));
  CHECK(mlff_model_committee_size(l) == 3);
  /* the same numbers from the file (float32 weights both ways) */
  tstruct t = make_dimer();
  mlff_structure s = tview(&t);
  outputs a = outputs_alloc(t.n, 3), b = outputs_alloc(t.n, 3);
  mlff_calc *ca = cpu_calc(m), *cb = cpu_calc(l);
  mlff_result ra = result_of(&a), rb = result_of(&b);
  CHECK_OK(mlff_compute(ca, &s, &ra));
  CHECK_OK(mlff_compute(cb, &s, &rb));
  CHECK(ra.energy == rb.energy && ra.max_force_deviation == rb.max_force_deviation);
  CHECK(!memcmp(a.mf, b.mf, 3 * (size_t)t.n * 3 * sizeof(double)));
  mlff_calc_free(ca), mlff_calc_free(cb);
  outputs_free(&a), outputs_free(&b);
  tfree(&t);
  /* saving the loaded committee gives the same bytes */
  snprintf(q, sizeof q, "%s/committee3_again.h5", tmpdir);
  CHECK_OK(mlff_model_save(l, q));
  size_t n1, n2;
  char *b1 = slurp(p, &n1), *b2 = slurp(q, &n2);
  CHECK(n1 == n2 && !memcmp(b1, b2, n1));
  free(b1), free(b2);
  /* a single model: no /committee, and member 0 taken out writes the same bytes as the model
   * that never was a committee (everything common is copied) */
  mlff_model *m0, *single = make_committee(1);
  CHECK_OK(mlff_model_set_attr(single, "created", "2026-12-06T00:00:00Z"));
  CHECK_OK(mlff_model_committee_member(m, 0, &m0));
  snprintf(s1, sizeof s1, "%s/committee_member0.h5", tmpdir);
  snprintf(s2, sizeof s2, "%s/committee_single.h5", tmpdir);
  CHECK_OK(mlff_model_save(m0, s1));
  CHECK_OK(mlff_model_save(single, s2));
  b1 = slurp(s1, &n1), b2 = slurp(s2, &n2);
  CHECK(n1 == n2 && !memcmp(b1, b2, n1));
  free(b1), free(b2);
  hid_t f = H5Fopen(s1, H5F_ACC_RDONLY, H5P_DEFAULT);
  CHECK(f >= 0 && H5Lexists(f, "/committee", H5P_DEFAULT) == 0);
  H5Fclose(f);
  mlff_model_free(m0), mlff_model_free(single);

  /* refusals, each naming the file and the field */
  check_refused(p, "size_big", d_size_big, "group /committee/member_3 is missing");
  check_refused(p, "size_one", d_size_one, "attribute 'size' of /committee is 1");
  check_refused(p, "extra", d_extra, "group /committee/member_2 exists, but attribute 'size'");
  check_refused(p, "shape", d_shape,
                "dataset /committee/member_2/networks/H/layer_1/W has shape [7, 16], expected "
                "[12, 16]");
  check_refused(p, "nan", d_nan,
                "dataset /committee/member_1/networks/C/layer_1/b has a "
                "non-finite value");
  check_refused(p, "e0", d_e0, "attribute 'e0' of /committee/member_1/energy holds 3 values");
  check_refused(p, "scale", d_no_scale,
                "attribute 'scale' of /committee/member_2/energy is "
                "missing");
  check_refused(p, "layers", d_layers,
                "/committee/member_1/networks/C has 2 layers, but "
                "/networks/C (member 0) has 3");
  check_refused(p, "no_member", d_no_member, "group /committee/member_1 is missing");

  /* members that do not fit, and members out of range */
  const int hid[2] = {16, 12}, other[2] = {16, 8};
  mlff_model *x = make_model_h(2, hid, MLFF_ACT_SILU, 9); /* no dispersion */
  check_fails(mlff_model_committee_add(l, x), MLFF_ERR_ARGUMENT, "dispersion",
              "its dispersion differs", NULL);
  mlff_model_free(x);
  x = make_model_h(2, other, MLFF_ACT_SILU, 9);
  const mlff_dispersion_params disp = some_dispersion();
  CHECK_OK(mlff_model_set_dispersion(x, &disp));
  check_fails(mlff_model_committee_add(l, x), MLFF_ERR_ARGUMENT, "architecture",
              "shaped unlike the committee's", NULL);
  mlff_model_free(x);
  x = make_model_h(2, hid, MLFF_ACT_CELU, 9);
  CHECK_OK(mlff_model_set_dispersion(x, &disp));
  check_fails(mlff_model_committee_add(l, x), MLFF_ERR_ARGUMENT, "activation", "activation celu",
              NULL);
  mlff_model_free(x);
  check_fails(mlff_model_committee_member(l, 3, &x), MLFF_ERR_ARGUMENT, "member 3",
              "member 3 of a committee of 3", NULL);
#ifdef MLFF_TEST_HAVE_CUDA
  /* the GPU path refuses committees rather than falling back to the CPU unasked */
  mlff_calc_options go;
  mlff_calc_options_default(&go);
  go.device = MLFF_DEVICE_GPU;
  mlff_calc *gc = NULL;
  check_fails(mlff_calc_create(l, &go, &gc), MLFF_ERR_UNSUPPORTED, "gpu", "committee of 3 members",
              "use device cpu");
#endif
  mlff_model_free(l);
  mlff_model_free(m);
}

typedef struct {
  int seen[4], lines;
} member_log;

static void on_progress(const mlff_train_progress *p, void *user) {
  member_log *l = user;
  CHECK(p->n_members == 3 && p->member >= 0 && p->member < 3);
  l->seen[p->member]++;
  l->lines++;
}

static void test_train(void) {
  /* a tiny learnable dataset: labels from a random model */
  const int th[1] = {12};
  mlff_model *teacher = make_model_h(1, th, MLFF_ACT_SILU, 77);
  mlff_calc *tc = cpu_calc(teacher);
  mlff_dataset *d;
  CHECK_OK(mlff_dataset_create(&d));
  for (int i = 0; i < 24; i++) {
    tstruct t = i < 16 ? make_benzene_random(0.1) : make_dimer_random(4.0 + 3 * trand(), 0.05);
    add_labelled(d, &t, tc, i < 16 ? "monomer" : "dimer");
    tfree(&t);
  }
  mlff_calc_free(tc);
  mlff_model_free(teacher);
  mlff_train_options o;
  mlff_train_options_default(&o);
  o.max_epochs = 3;
  o.batch_size = 8;
  o.n_threads = 1;
  o.seed = 5;
  const int hid[1] = {8};
  mlff_model *single = make_model_h(1, hid, MLFF_ACT_SILU, 5);
  CHECK_OK(mlff_train(single, d, &o));
  CHECK(mlff_model_committee_size(single) == 1);
  CHECK(!strstr(mlff_model_attr(single, "training_summary"), "\"committee\""));

  mlff_model *com = make_model_h(1, hid, MLFF_ACT_SILU, 5);
  member_log log = {{0}, 0};
  o.committee = 3;
  o.progress = on_progress;
  o.user = &log;
  char ck[512];
  snprintf(ck, sizeof ck, "%s/committee_checkpoint.h5", tmpdir);
  o.checkpoint = ck;
  CHECK_OK(mlff_train(com, d, &o));
  CHECK(mlff_model_committee_size(com) == 3);
  CHECK(log.seen[0] == 3 && log.seen[1] == 3 && log.seen[2] == 3);
  const char *js = mlff_model_attr(com, "training_summary");
  CHECK(strstr(js, "\"committee\":{\"members\":3,\"each\":[{\"member\":0,\"seed\":5,") != NULL);
  CHECK(strstr(js, "{\"member\":2,\"seed\":7,") != NULL);
  mlff_model *ckm;
  CHECK_OK(mlff_model_load(ck, &ckm));
  CHECK(mlff_model_committee_size(ckm) == 3);
  mlff_model_free(ckm);
  /* member 0 is the single model of that seed, bit for bit; the others differ */
  tstruct t = make_dimer();
  mlff_structure s = tview(&t);
  double e[3];
  for (int k = 0; k < 3; k++) {
    mlff_model *mk;
    CHECK_OK(mlff_model_committee_member(com, k, &mk));
    mlff_calc *c = cpu_calc(mk);
    mlff_result r = {0};
    CHECK_OK(mlff_compute(c, &s, &r));
    e[k] = r.energy;
    mlff_calc_free(c);
    mlff_model_free(mk);
  }
  mlff_calc *c1 = cpu_calc(single);
  mlff_result r1 = {0};
  CHECK_OK(mlff_compute(c1, &s, &r1));
  CHECK(r1.energy == e[0]);
  CHECK(e[1] != e[0] && e[2] != e[0] && e[1] != e[2]);
  mlff_calc_free(c1);
  check_mean(com, &t, "trained committee"); /* its mean and deviation, as for any committee */
  tfree(&t);
  /* continuing a committee needs as many members */
  o.committee = 2;
  o.progress = NULL;
  o.checkpoint = NULL;
  check_fails(mlff_train(com, d, &o), MLFF_ERR_ARGUMENT, "continue 3 as 2",
              "committee of 3 members; a committee of 2", NULL);
  o.committee = 1;
  check_fails(mlff_train(com, d, &o), MLFF_ERR_ARGUMENT, "continue 3 as 1",
              "the model is a committee of 3 members", NULL);
  mlff_model_free(com);
  mlff_model_free(single);
  mlff_dataset_free(d);
}

int main(int argc, char **argv) {
  if (argc > 1) tmpdir = argv[1];
  mlff_model *m = make_committee(3);
  tstruct dimer = make_dimer(), box = make_liquid(1, 5.6, 0.1);
  check_mean(m, &dimer, "dimer");
  check_mean(m, &box, "periodic box");
  check_batch(m, &dimer, &box);
  check_neighbors(m, &dimer);
  /* the committee's mean forces are the derivative of its mean energy */
  mlff_calc *c = cpu_calc(m);
  check_fd(c, &dimer, "committee dimer", 5);
  check_fd(c, &box, "committee box", 7);
  mlff_calc_free(c);
  tfree(&dimer), tfree(&box);
  mlff_model_free(m);
  test_files();
  test_train();
  if (test_failures) {
    fprintf(stderr, "%d failure(s)\n", test_failures);
    return 1;
  }
  printf("committee: all checks passed\n");
  return 0;
}
