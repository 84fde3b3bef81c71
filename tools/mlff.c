/* mlff.c — the `mlff` command: one binary, one subcommand per task (init, info, features,
 * energy here; label, import, train, eval in cmd_*.c). Each subcommand is a thin layer over libmlff's public API; errors print
 * "mlff <cmd>: <message>" on stderr and exit 1, usage errors exit 2. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlff.h"
#include "cli.h"

/* ---- init ---------------------------------------------------------------------------------- */

static const char INIT_USAGE[] =
    "mlff init OUT.h5 --elements H,C [--hidden 128,64,64] [--activation silu|celu] [--seed N]\n"
    "                 [--dispersion DISP.h5] [--electrostatics SYM=Q,...[,A-B=D,...][,alpha=A][,cutoff=R]]";
static const char INIT_HELP[] =
    "Write a model with seeded random weights and the ANI-1x descriptor (Rcr 5.2 Å, Rca 3.5 Å,\n"
    "16 radial shells, 4x8 angular): a starting point for training, or a stand-in for tests\n"
    "and benchmarks. Its energies are meaningless until trained.\n"
    "  --elements LIST    comma-separated chemical symbols, in species order (required)\n"
    "  --hidden LIST      hidden layer widths (default 128,64,64)\n"
    "  --activation NAME  silu (default) or celu (alpha 0.1)\n"
    "  --seed N           random seed for the weights (default 1)\n"
    "  --dispersion FILE  the long-range dispersion term of FILE's /dispersion group (from\n"
    "                     scripts/dispersion_d4.py, or another model)\n"
    "  --electrostatics SYM=Q,...[,A-B=D,...][,alpha=A][,cutoff=R][,bond_factor=F]\n"
    "                     fixed atomic charges (e) for every element, Coulomb's law with damped\n"
    "                     shifted forces (alpha Å^-1, default 0.1; cutoff Å, default the\n"
    "                     dispersion's, else 12): the networks learn what is left (docs/model.md);\n"
    "                     A-B=D: a bond-charge increment (an A gains D per bond to a B)\n";

static int cmd_init(int argc, char **argv) {
  const char *out = NULL, *elements = NULL, *hidden = "128,64,64", *act = "silu",
             *dispersion = NULL, *electrostatics = NULL;
  long long seed = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int has_value = i + 1 < argc;
    if (!strcmp(a, "--elements") && has_value) elements = argv[++i];
    else if (!strcmp(a, "--hidden") && has_value) hidden = argv[++i];
    else if (!strcmp(a, "--activation") && has_value) act = argv[++i];
    else if (!strcmp(a, "--dispersion") && has_value) dispersion = argv[++i];
    else if (!strcmp(a, "--electrostatics") && has_value) electrostatics = argv[++i];
    else if (!strcmp(a, "--seed") && has_value) {
      if (!cli_parse_count(argv[++i], &seed))
        return cli_usage_error("init", INIT_USAGE, "--seed needs a non-negative integer, not '%s'",
                           argv[i]);
    } else if (a[0] == '-' && a[1])
      return cli_usage_error("init", INIT_USAGE, "unknown option or missing value: '%s'", a);
    else if (!out) out = a;
    else return cli_usage_error("init", INIT_USAGE, "unexpected argument '%s'", a);
  }
  if (!out) return cli_usage_error("init", INIT_USAGE, "%s", "no output file given");
  if (!elements) return cli_usage_error("init", INIT_USAGE, "%s", "--elements is required");

  char ebuf[256];
  const char *syms[MLFF_MAX_ELEMENTS];
  int ne = 0;
  snprintf(ebuf, sizeof ebuf, "%s", elements);
  for (char *p = strtok(ebuf, ","); p; p = strtok(NULL, ",")) {
    if (ne == MLFF_MAX_ELEMENTS)
      return cli_usage_error("init", INIT_USAGE, "--elements: more than 16 elements in '%s'",
                         elements);
    syms[ne++] = p;
  }
  if (!ne) return cli_usage_error("init", INIT_USAGE, "--elements: no element in '%s'", elements);

  int widths[MLFF_MAX_HIDDEN], nh = 0;
  char hbuf[256];
  snprintf(hbuf, sizeof hbuf, "%s", hidden);
  for (char *p = strtok(hbuf, ","); p; p = strtok(NULL, ",")) {
    long long w;
    if (nh == MLFF_MAX_HIDDEN || !cli_parse_count(p, &w) || w < 1 || w > 65536)
      return cli_usage_error("init", INIT_USAGE,
                         "--hidden: '%s' is not a list of 1..8 positive widths", hidden);
    widths[nh++] = (int)w;
  }
  if (!nh) return cli_usage_error("init", INIT_USAGE, "--hidden: no width in '%s'", hidden);

  mlff_model_spec spec = {0};
  spec.n_elements = ne;
  spec.elements = syms;
  spec.n_hidden = nh;
  spec.hidden = widths;
  spec.seed = (uint64_t)seed;
  if (!strcmp(act, "silu")) spec.activation = MLFF_ACT_SILU;
  else if (!strcmp(act, "celu")) spec.activation = MLFF_ACT_CELU;
  else return cli_usage_error("init", INIT_USAGE, "--activation must be silu or celu, not '%s'", act);
  mlff_descriptor_params_ani1x(&spec.descriptor);

  mlff_model *m;
  if (mlff_model_create(&spec, &m)) return cli_fail("init");
  if (mlff_model_set_attr(m, "teacher", "none (random weights from mlff init)") ||
      (dispersion && mlff_model_load_dispersion(m, dispersion))) {
    mlff_model_free(m);
    return cli_fail("init");
  }
  char why[512];
  if (electrostatics && cli_set_electrostatics(m, electrostatics, why, sizeof why)) {
    mlff_model_free(m);
    return cli_usage_error("init", INIT_USAGE, "--electrostatics: %s", why);
  }
  if (mlff_model_save(m, out)) {
    mlff_model_free(m);
    return cli_fail("init");
  }
  printf("wrote %s: elements", out);
  for (int e = 0; e < ne; e++) printf(" %s", mlff_model_element(m, e));
  printf(", network %d", mlff_model_n_features(m));
  for (int l = 0; l < nh; l++) printf(" -> %d", widths[l]);
  printf(" -> 1, %s, seed %llu, random weights (untrained)%s%s\n", act,
         (unsigned long long)seed, dispersion ? ", with long-range dispersion" : "",
         electrostatics ? ", with electrostatics" : "");
  mlff_model_free(m);
  return 0;
}

/* ---- info ---------------------------------------------------------------------------------- */

static const char INFO_USAGE[] = "mlff info MODEL.h5";
static const char INFO_HELP[] =
    "Print a model's elements, descriptor, layer shapes, parameter count and metadata.\n";

static int cmd_info(int argc, char **argv) {
  if (argc != 2 || argv[1][0] == '-')
    return cli_usage_error("info", INFO_USAGE, "%s", "expects exactly one model file");
  mlff_model *m;
  if (mlff_model_load(argv[1], &m)) return cli_fail("info");
  printf("model       %s\n", argv[1]);
  mlff_model_print(m, stdout);
  mlff_model_free(m);
  return 0;
}

/* ---- features and energy: a model and a structure file ----------------------------------- */

typedef struct {
  mlff_model *model;
  mlff_calc *calc;
  mlff_frame *frames;
  int n_frames;
} session;

static void session_free(session *s) {
  mlff_frames_free(s->frames, s->n_frames);
  mlff_calc_free(s->calc);
  mlff_model_free(s->model);
}

static int session_open(session *s, const char *model, const char *structures) {
  memset(s, 0, sizeof *s);
  return mlff_model_load(model, &s->model) || mlff_read_extxyz(structures, &s->frames,
                                                                &s->n_frames) ||
         mlff_calc_create(s->model, NULL, &s->calc);
}

/* Parse "MODEL STRUCTURE [--frame K]"; frame -1 = all. */
static int parse_model_structure(const char *cmd, const char *usage, int argc, char **argv,
                                 const char **model, const char **structure, long long *frame) {
  *model = *structure = NULL;
  *frame = -1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--frame") && i + 1 < argc) {
      if (!cli_parse_count(argv[++i], frame))
        return cli_usage_error(cmd, usage, "--frame needs a frame index (0, 1, ...), not '%s'",
                           argv[i]);
    } else if (argv[i][0] == '-' && argv[i][1])
      return cli_usage_error(cmd, usage, "unknown option or missing value: '%s'", argv[i]);
    else if (!*model) *model = argv[i];
    else if (!*structure) *structure = argv[i];
    else return cli_usage_error(cmd, usage, "unexpected argument '%s'", argv[i]);
  }
  if (!*structure) return cli_usage_error(cmd, usage, "%s", "expects a model and a structure file");
  return 0;
}

static int check_frame(const char *cmd, const session *s, const char *path, long long k) {
  if (k >= s->n_frames) {
    fprintf(stderr, "mlff %s: --frame %lld: '%s' holds %d frame%s (0..%d)\n", cmd, k, path,
            s->n_frames, s->n_frames == 1 ? "" : "s", s->n_frames - 1);
    return 1;
  }
  return 0;
}

/* Species of frame k, with the structure file named in the message. */
static int *frame_species(const char *cmd, const session *s, int k, const char *path) {
  int *sp = malloc((size_t)s->frames[k].n_atoms * sizeof *sp);
  if (!sp) {
    fprintf(stderr, "mlff %s: out of memory\n", cmd);
    return NULL;
  }
  if (mlff_frame_species(s->model, &s->frames[k], sp)) {
    fprintf(stderr, "mlff %s: %s, frame %d: %s\n", cmd, path, k, mlff_last_error());
    free(sp);
    return NULL;
  }
  return sp;
}

static const char FEATURES_USAGE[] = "mlff features MODEL.h5 STRUCTURE.extxyz [--frame K]";
static const char FEATURES_HELP[] =
    "Print the descriptor (atomic environment vector) of every atom of one frame (default 0):\n"
    "a '#' header line, then one row per atom with the model's D features as %.10e.\n"
    "Feature order: radial [species][shell], then angular [pair][muA][thetaZ] (docs/model.md).\n";

static int cmd_features(int argc, char **argv) {
  const char *mp, *xp;
  long long k;
  int rc = parse_model_structure("features", FEATURES_USAGE, argc, argv, &mp, &xp, &k);
  if (rc) return rc;
  if (k < 0) k = 0;
  session s;
  if (session_open(&s, mp, xp)) {
    rc = cli_fail("features");
    session_free(&s);
    return rc;
  }
  if (check_frame("features", &s, xp, k)) {
    session_free(&s);
    return 1;
  }
  const mlff_frame *f = &s.frames[k];
  int D = mlff_model_n_features(s.model);
  int *sp = frame_species("features", &s, (int)k, xp);
  double *G = sp ? malloc((size_t)f->n_atoms * D * sizeof *G) : NULL;
  rc = 1;
  if (sp && !G) fprintf(stderr, "mlff features: out of memory\n");
  if (G) {
    mlff_structure st = mlff_frame_structure(f, sp);
    if (mlff_compute_features(s.calc, &st, G)) {
      rc = cli_fail("features");
    } else {
      printf("# %s frame %lld: %d atoms x D=%d features; elements (species order):", xp, k,
             f->n_atoms, D);
      for (int e = 0; e < mlff_model_n_elements(s.model); e++)
        printf(" %s", mlff_model_element(s.model, e));
      printf("\n");
      for (int i = 0; i < f->n_atoms; i++)
        for (int j = 0; j < D; j++)
          printf("%.10e%c", G[(size_t)i * D + j], j + 1 < D ? ' ' : '\n');
      rc = 0;
    }
  }
  free(G);
  free(sp);
  session_free(&s);
  return rc;
}

static const char ENERGY_USAGE[] = "mlff energy MODEL.h5 STRUCTURE.extxyz [--frame K]";
static const char ENERGY_HELP[] =
    "Print the model's energy (eV) and forces (eV/Å) for every frame of an (extended) XYZ\n"
    "file, or only frame K. Where the file carries energy/forces (e.g. from a teacher), they\n"
    "are shown alongside as the reference.\n";

static int cmd_energy(int argc, char **argv) {
  const char *mp, *xp;
  long long only;
  int rc = parse_model_structure("energy", ENERGY_USAGE, argc, argv, &mp, &xp, &only);
  if (rc) return rc;
  session s;
  if (session_open(&s, mp, xp)) {
    rc = cli_fail("energy");
    session_free(&s);
    return rc;
  }
  if (only >= 0 && check_frame("energy", &s, xp, only)) {
    session_free(&s);
    return 1;
  }
  rc = 0;
  for (int k = 0; k < s.n_frames && !rc; k++) {
    if (only >= 0 && k != only) continue;
    const mlff_frame *f = &s.frames[k];
    int *sp = frame_species("energy", &s, k, xp);
    double *F = sp ? malloc((size_t)f->n_atoms * 3 * sizeof *F) : NULL;
    if (!F) {
      if (sp) fprintf(stderr, "mlff energy: out of memory\n");
      free(sp);
      rc = 1;
      break;
    }
    mlff_structure st = mlff_frame_structure(f, sp);
    mlff_result r = {0};
    r.forces = F;
    if (mlff_compute(s.calc, &st, &r)) {
      rc = cli_fail("energy");
    } else {
      printf("frame %d: %d atoms  energy %.8f eV", k, f->n_atoms, r.energy);
      if (f->has_energy)
        printf("  (reference %.8f eV, difference %+.3f meV/atom)", f->energy,
               1000.0 * (r.energy - f->energy) / f->n_atoms);
      printf("\n#   atom el  fx fy fz (eV/Å)%s\n",
             f->has_forces ? "   reference fx fy fz (eV/Å)" : "");
      for (int i = 0; i < f->n_atoms; i++) {
        printf("%8d %-2s % .6f % .6f % .6f", i, mlff_element_symbol(f->atomic_numbers[i]),
               F[3 * i], F[3 * i + 1], F[3 * i + 2]);
        if (f->has_forces)
          printf("   % .6f % .6f % .6f", f->forces[3 * i], f->forces[3 * i + 1],
                 f->forces[3 * i + 2]);
        printf("\n");
      }
    }
    free(F);
    free(sp);
  }
  session_free(&s);
  return rc;
}

/* ---- dispatch ------------------------------------------------------------------------------ */

static int cmd_help(int argc, char **argv);

static const cli_command CMD_INIT = {"init", cmd_init, "write a model with random weights (ANI-1x descriptor)", INIT_USAGE, INIT_HELP};
static const cli_command CMD_INFO = {"info", cmd_info, "print a model's elements, layers and metadata", INFO_USAGE, INFO_HELP};
static const cli_command CMD_FEATURES = {"features", cmd_features, "print the descriptor of every atom of a structure", FEATURES_USAGE, FEATURES_HELP};
static const cli_command CMD_ENERGY = {"energy", cmd_energy, "energy and forces of the structures in an XYZ file", ENERGY_USAGE, ENERGY_HELP};
static const cli_command CMD_HELP = {"help", cmd_help, "this overview, or `mlff help COMMAND`", "mlff help [COMMAND]", ""};

/* Subcommands with files of their own (cmd_*.c) declare theirs in cli.h. */
static const cli_command *const COMMANDS[] = {&CMD_INIT, &CMD_INFO, &CMD_FEATURES, &CMD_ENERGY,
                                              &CMD_LABEL, &CMD_LEARN, &CMD_IMPORT, &CMD_TRAIN, &CMD_EVAL,
                                              &CMD_HELP};
#define N_COMMANDS ((int)(sizeof COMMANDS / sizeof *COMMANDS))

static const cli_command *find_command(const char *name) {
  for (int i = 0; i < N_COMMANDS; i++)
    if (!strcmp(COMMANDS[i]->name, name)) return COMMANDS[i];
  return NULL;
}

static void print_command_help(const cli_command *c) { printf("usage: %s\n\n%s", c->usage, c->help); }

static void print_overview(FILE *o) {
  fprintf(o, "mlff %s — distilled machine-learned force fields (models in HDF5, eV and Å)\n\n"
          "usage: mlff COMMAND [ARGS]   (mlff COMMAND --help for details)\n\ncommands:\n",
          MLFF_VERSION_STRING);
  for (int i = 0; i < N_COMMANDS; i++)
    fprintf(o, "  %-10s %s\n", COMMANDS[i]->name, COMMANDS[i]->summary);
}

static int cmd_help(int argc, char **argv) {
  if (argc < 2) {
    print_overview(stdout);
    return 0;
  }
  const cli_command *c = find_command(argv[1]);
  if (!c) {
    fprintf(stderr, "mlff help: unknown command '%s'\n", argv[1]);
    print_overview(stderr);
    return EXIT_USAGE;
  }
  print_command_help(c);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    print_overview(stderr);
    return EXIT_USAGE;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) return cmd_help(1, argv);
  if (!strcmp(argv[1], "--version")) {
    printf("mlff %s (model format_version %d)\n", MLFF_VERSION_STRING, MLFF_FORMAT_VERSION);
    return 0;
  }
  const cli_command *c = find_command(argv[1]);
  if (!c) {
    fprintf(stderr, "mlff: unknown command '%s'\n\n", argv[1]);
    print_overview(stderr);
    return EXIT_USAGE;
  }
  if (c->run != cmd_help && cli_wants_help(argc - 1, argv + 1)) {
    print_command_help(c);
    return 0;
  }
  return c->run(argc - 1, argv + 1);
}
