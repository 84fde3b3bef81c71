/* test_golden.c — the CPU path's energies, forces and virials, compared bit for bit with values
 * saved before the layout redesign (tests/reference/golden_cpu.txt). A refactoring that changes
 * any result (summation order, an operation moved, a constant retyped) fails here.
 *
 *   test_golden MODEL REFERENCE           compare (exit 1 on the first difference)
 *   test_golden MODEL REFERENCE --write   write the reference
 *
 * OpenBLAS picks its kernels by CPU; ctest pins them (OPENBLAS_CORETYPE=Haswell) so that the
 * same bits come out on any x86-64 machine with AVX2. */
#include "test_util.h"

typedef struct {
  const char *name;
  mlff_model *model;
  tstruct t;
} golden_case;

/* One line per value: "<case> <what> <index> <%a>" — hex floats, exact. */
static void emit(FILE *f, const char *name, const char *what, int i, double v) {
  fprintf(f, "%s %s %d %a\n", name, what, i, v);
}

static void run_case(FILE *out, mlff_calc *c, const char *name, const tstruct *t) {
  mlff_structure s = tview(t);
  double *F = calloc(3 * (size_t)t->n, sizeof(double));
  double *Ea = calloc((size_t)t->n, sizeof(double));
  mlff_result r = {0};
  r.forces = F;
  r.energy_atom = Ea;
  CHECK_OK(mlff_compute(c, &s, &r));
  emit(out, name, "energy", 0, r.energy);
  for (int k = 0; k < 6; k++) emit(out, name, "virial", k, r.virial[k]);
  for (int i = 0; i < 3 * t->n; i++) emit(out, name, "force", i, F[i]);
  for (int i = 0; i < t->n; i++) emit(out, name, "energy_atom", i, Ea[i]);
  free(F);
  free(Ea);
}

/* The shipped model's species for the test structures' C = 0, H = 1. */
static void map_species(const mlff_model *m, tstruct *t) {
  int sc = mlff_model_find_element(m, "C"), sh = mlff_model_find_element(m, "H");
  for (int i = 0; i < t->n; i++) t->species[i] = t->species[i] == 0 ? sc : sh;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: test_golden MODEL REFERENCE [--write]\n");
    return 2;
  }
  int write = argc > 3 && !strcmp(argv[3], "--write");
  mlff_model *shipped, *random_model = make_model(CH, 7);
  CHECK_OK(mlff_model_load(argv[1], &shipped));
  mlff_calc_options o = {MLFF_DEVICE_CPU, 0, 2, 0, 0};
  mlff_calc *cs, *cr;
  CHECK_OK(mlff_calc_create(shipped, &o, &cs));
  CHECK_OK(mlff_calc_create(random_model, &o, &cr));

  char *buf = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&buf, &len);
  tstruct b = make_benzene(), d = make_dimer(), l = make_liquid(2, 5.6, 0.1);
  run_case(out, cr, "random.benzene", &b);
  run_case(out, cr, "random.liquid", &l);
  map_species(shipped, &b);
  map_species(shipped, &d);
  map_species(shipped, &l);
  run_case(out, cs, "shipped.benzene", &b);
  run_case(out, cs, "shipped.dimer", &d);
  run_case(out, cs, "shipped.liquid", &l);
  fclose(out);

  int status = 0;
  if (write) {
    FILE *f = fopen(argv[2], "w");
    if (!f || fwrite(buf, 1, len, f) != len || fclose(f)) {
      fprintf(stderr, "test_golden: cannot write %s\n", argv[2]);
      status = 1;
    }
  } else {
    FILE *f = fopen(argv[2], "r");
    if (!f) {
      fprintf(stderr, "test_golden: cannot read %s\n", argv[2]);
      return 1;
    }
    char line[256], *p = buf;
    int n = 0;
    while (fgets(line, sizeof line, f)) {
      char *nl = strchr(p, '\n');
      size_t k = nl ? (size_t)(nl - p + 1) : strlen(p);
      if (strlen(line) != k || strncmp(line, p, k)) {
        fprintf(stderr, "test_golden: line %d differs:\n  saved: %s  now:   %.*s", n + 1, line,
                (int)k, p);
        status = 1;
        break;
      }
      p += k;
      n++;
    }
    fclose(f);
    if (!status && *p) {
      fprintf(stderr, "test_golden: more values now than saved (%d lines saved)\n", n);
      status = 1;
    }
    if (!status) printf("test_golden: %d values identical to %s\n", n, argv[2]);
  }
  free(buf);
  tfree(&b);
  tfree(&d);
  tfree(&l);
  mlff_calc_free(cs);
  mlff_calc_free(cr);
  mlff_model_free(shipped);
  mlff_model_free(random_model);
  return status || test_failures;
}
