/* fuzz_common.h — what the libFuzzer harnesses of tests/fuzz share: the readers take a path, so
 * each input goes to a fresh file (mkstemp) in a directory private to the process, removed at
 * exit; and a reader of the input's bytes that yields zeros once they run out, so that a short
 * input means "the rest as a valid file has it". Header-only: each harness is one program. */
#ifndef MLFF_FUZZ_COMMON_H
#define MLFF_FUZZ_COMMON_H

#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_dir[4096];

static void fuzz_dir_remove(void) {
  if (fuzz_dir[0]) rmdir(fuzz_dir);
}

/* A new empty file in the process's directory; its path in path[4096]. Aborts when the system
 * refuses: a harness that cannot write its input tests nothing. */
static void fuzz_temp_path(char *path) {
  if (!fuzz_dir[0]) {
    const char *t = getenv("TMPDIR");
    snprintf(fuzz_dir, sizeof fuzz_dir, "%s/mlff-fuzz-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(fuzz_dir)) {
      perror("fuzz: mkdtemp");
      abort();
    }
    atexit(fuzz_dir_remove);
  }
  snprintf(path, 4096, "%s/input-XXXXXX", fuzz_dir);
  int fd = mkstemp(path);
  if (fd < 0) {
    perror("fuzz: mkstemp");
    abort();
  }
  close(fd);
}

/* data[0..size) into a new temporary file (path[4096]). */
static void fuzz_write_temp(const uint8_t *data, size_t size, char *path) {
  fuzz_temp_path(path);
  FILE *f = fopen(path, "wb");
  if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f)) {
    perror("fuzz: writing the input");
    abort();
  }
}

/* After the reader: the input file is removed, or with MLFF_FUZZ_KEEP=FILE kept as FILE (to
 * turn a structure-aware input into the file a regression test reads); with MLFF_FUZZ_VERBOSE
 * set the reader's verdict is printed (what a crash input's message is). */
static void fuzz_done(const char *path, const char *reader, const char *verdict) {
  const char *keep = getenv("MLFF_FUZZ_KEEP");
  if (getenv("MLFF_FUZZ_VERBOSE")) fprintf(stderr, "%s: %s\n", reader, verdict);
  if (keep && *keep && !rename(path, keep)) return;
  unlink(path);
}

/* Does the message name the file? A plain loop, not strstr: libFuzzer intercepts strstr and
 * would take the random temporary path into its dictionary, which made runs with one -seed
 * differ. */
static int fuzz_names_file(const char *msg, const char *path) {
  size_t n = strlen(path);
  for (; *msg; msg++) {
    size_t i = 0;
    while (i < n && msg[i] == path[i]) i++;
    if (i == n) return 1;
  }
  return 0;
}

/* The input as a stream of bytes: 0 once exhausted. */
typedef struct {
  const uint8_t *p;
  size_t n;
} fuzz_bytes;

static inline unsigned fuzz_u8(fuzz_bytes *b) {
  if (!b->n) return 0;
  b->n--;
  return *b->p++;
}

static inline unsigned fuzz_u16(fuzz_bytes *b) {
  unsigned lo = fuzz_u8(b);
  return lo | fuzz_u8(b) << 8;
}

#endif
