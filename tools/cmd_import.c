/* cmd_import.c — `mlff import`: labelled structures from extended XYZ (ASE's format: energy=
 * in the comment line, a forces:R:3 column; eV and Å), or a dataset in the PyTorch pipeline's
 * HDF5 layout (loaded, so checked, and written again), into an mlff dataset file. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static const char USAGE[] =
    "mlff import IN.extxyz|IN.h5 OUT.h5 [--source TAG] [--teacher NAME] [--append|--overwrite]";
static const char HELP[] =
    "Convert labelled structures into an mlff dataset (docs/file_format.md).\n"
    "  IN.extxyz   extended XYZ as ASE writes it: every frame needs energy= in its comment\n"
    "              line and a forces column (Properties=species:S:1:pos:R:3:forces:R:3), in eV\n"
    "              and Å (ASE's units); Lattice and pbc are kept\n"
    "  IN.h5       a dataset in the ragged layout (h5py / the PyTorch pipeline): checked and\n"
    "              written again (extendable, with source tags)\n"
    "  --source TAG   source tag of the imported structures (default: IN's file name without\n"
    "                 its extension; for IN.h5 only where a structure has none)\n"
    "  --teacher NAME who labelled them (default: kept from IN.h5, or \"unknown (imported\n"
    "                 from IN)\")\n"
    "  --append       add to an existing OUT.h5 (same teacher) instead of refusing\n"
    "  --overwrite    replace an existing OUT.h5\n";

static int is_hdf5(const char *path) {
  static const unsigned char SIG[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  int yes = 0;
  /* The signature sits at 0, 512, 1024, ... (after a user block). */
  for (long off = 0; off <= 65536 && !yes; off = off ? 2 * off : 512) {
    unsigned char buf[8];
    if (fseek(f, off, SEEK_SET) || fread(buf, 1, 8, f) != 8) break;
    yes = !memcmp(buf, SIG, 8);
  }
  fclose(f);
  return yes;
}

/* File name without directory and extension. */
static void stem(const char *path, char *buf, size_t size) {
  const char *b = strrchr(path, '/');
  b = b ? b + 1 : path;
  snprintf(buf, size, "%s", b);
  char *dot = strrchr(buf, '.');
  if (dot && dot != buf) *dot = '\0';
}

static int same_file(const char *a, const char *b) {
  struct stat sa, sb;
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Frames of IN into d; on a refusal prints the message and returns 1. */
static int from_extxyz(const char *in, const char *source, mlff_dataset *d) {
  mlff_frame *fr;
  int nf;
  if (mlff_read_extxyz(in, &fr, &nf)) return cli_fail("import");
  int rc = 0;
  for (int i = 0; i < nf && !rc; i++) {
    if (!fr[i].has_energy || !fr[i].has_forces) {
      fprintf(stderr, "mlff import: %s, frame %d: no %s; a labelled structure needs energy= in "
              "the comment line and a forces:R:3 column (ASE writes both when the atoms carry "
              "a calculator's results)\n", in, i,
              !fr[i].has_energy && !fr[i].has_forces ? "energy and no forces"
              : !fr[i].has_energy ? "energy" : "forces");
      rc = 1;
    } else if (mlff_dataset_add(d, &fr[i], source)) {
      fprintf(stderr, "mlff import: %s, frame %d: %s\n", in, i, mlff_last_error());
      rc = 1;
    }
  }
  mlff_frames_free(fr, nf);
  return rc;
}

/* A loaded dataset with `source` where a structure has none (everything else kept as read). */
static mlff_status from_h5(const char *in, const char *source, mlff_dataset **out) {
  mlff_dataset *d;
  mlff_status st = mlff_dataset_load(in, &d);
  for (int i = 0; !st && source && i < mlff_dataset_size(d); i++) {
    const char *src;
    mlff_frame f;
    mlff_dataset_get(d, i, &f, &src);
    if (!*src) st = mlff_dataset_set_source(d, i, source);
  }
  if (st) {
    mlff_dataset_free(d);
    return st;
  }
  *out = d;
  return MLFF_OK;
}

static int run(int argc, char **argv) {
  const char *in = NULL, *out = NULL, *source = NULL, *teacher = NULL;
  int append = 0, overwrite = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int has_value = i + 1 < argc;
    if (!strcmp(a, "--source") && has_value) source = argv[++i];
    else if (!strcmp(a, "--teacher") && has_value) teacher = argv[++i];
    else if (!strcmp(a, "--append")) append = 1;
    else if (!strcmp(a, "--overwrite")) overwrite = 1;
    else if (a[0] == '-' && a[1])
      return cli_usage_error("import", USAGE, "unknown option or missing value: '%s'", a);
    else if (!in) in = a;
    else if (!out) out = a;
    else return cli_usage_error("import", USAGE, "unexpected argument '%s'", a);
  }
  if (!out) return cli_usage_error("import", USAGE, "%s", "expects an input and an output file");
  if (append && overwrite)
    return cli_usage_error("import", USAGE, "%s", "--append and --overwrite exclude each other");
  if (source && !*source)
    return cli_usage_error("import", USAGE, "%s", "--source needs a non-empty tag");
  struct stat sb;
  int exists = stat(out, &sb) == 0;
  if (exists && same_file(in, out)) {
    fprintf(stderr, "mlff import: '%s' is both the input and the output; give another output "
            "file\n", out);
    return 1;
  }
  if (exists && !append && !overwrite) {
    fprintf(stderr, "mlff import: '%s' exists; add --append to add to it or --overwrite to "
            "replace it\n", out);
    return 1;
  }
  FILE *probe = fopen(in, "rb");
  if (!probe) {
    fprintf(stderr, "mlff import: cannot open '%s': %s\n", in, strerror(errno));
    return 1;
  }
  fclose(probe);

  int h5 = is_hdf5(in);
  char tag[256];
  stem(in, tag, sizeof tag);
  mlff_dataset *d = NULL;
  mlff_status st;
  if (h5) {
    st = from_h5(in, source, &d);
  } else if (!(st = mlff_dataset_create(&d)) && from_extxyz(in, source ? source : tag, d)) {
    mlff_dataset_free(d);
    return 1;
  }
  char who[512];
  if (!st) {
    if (teacher) {
      st = mlff_dataset_set_attr(d, "teacher", teacher);
    } else if (!*mlff_dataset_attr(d, "teacher")) {
      snprintf(who, sizeof who, "unknown (imported from %s)", tag);
      st = mlff_dataset_set_attr(d, "teacher", who);
    }
  }
  if (!st) st = append && exists ? mlff_dataset_append(d, out) : mlff_dataset_save(d, out);
  if (st) {
    mlff_dataset_free(d);
    return cli_fail("import");
  }
  long long atoms = 0;
  int seen[87] = {0};
  for (int i = 0; i < mlff_dataset_size(d); i++) {
    mlff_frame f;
    mlff_dataset_get(d, i, &f, NULL);
    atoms += f.n_atoms;
    for (int a = 0; a < f.n_atoms; a++)
      if (f.atomic_numbers[a] > 0 && f.atomic_numbers[a] < 87) seen[f.atomic_numbers[a]] = 1;
  }
  printf("%s %d structures (%lld atoms; elements", append && exists ? "appended" : "wrote",
         mlff_dataset_size(d), atoms);
  for (int z = 1; z < 87; z++)
    if (seen[z]) printf(" %s", mlff_element_symbol(z));
  printf(") from %s to %s; teacher \"%s\"\n", in, out, mlff_dataset_attr(d, "teacher"));
  mlff_dataset_free(d);
  return 0;
}

const cli_command CMD_IMPORT = {"import", run,
                                "extended XYZ (energy, forces) or an HDF5 dataset into a dataset",
                                USAGE, HELP};
