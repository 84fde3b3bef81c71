/* io_test.h — helpers of the I/O tests: CHECK macros that stop at the first failure (printing
 * on stdout, since a test may redirect stderr), a check that a refusal's message names what it
 * should, and small file utilities. */
#ifndef MLFF_IO_TEST_H
#define MLFF_IO_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlff_distill.h"

/* Report a failure and stop (exit flushes stdout). */
#define CHECK(cond)                                                         \
  do {                                                                      \
    if (!(cond)) {                                                          \
      printf("%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);       \
      exit(1);                                                              \
    }                                                                       \
  } while (0)

#define CHECK_OK(call)                                                      \
  do {                                                                      \
    mlff_status st_ = (call);                                               \
    if (st_ != MLFF_OK) {                                                   \
      printf("%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call,           \
             mlff_last_error());                                            \
      exit(1);                                                              \
    }                                                                       \
  } while (0)

/* The call must fail with `want` and its message must contain every listed substring. */
#define CHECK_FAILS(call, want, ...)                                        \
  do {                                                                      \
    const char *subs_[] = {__VA_ARGS__, NULL};                              \
    check_fails_((call), (want), #call, subs_, __FILE__, __LINE__);         \
  } while (0)

static inline void check_fails_(mlff_status got, mlff_status want, const char *expr,
                                const char *const *subs, const char *file, int line) {
  const char *msg = mlff_last_error();
  if (got != want) {
    printf("%s:%d: %s returned %s, expected %s (message: %s)\n", file, line, expr,
           mlff_status_name(got), mlff_status_name(want), msg);
    exit(1);
  }
  for (int i = 0; subs[i]; i++)
    if (!strstr(msg, subs[i])) {
      printf("%s:%d: %s: message lacks \"%s\":\n  %s\n", file, line, expr, subs[i], msg);
      exit(1);
    }
}

/* dir/name into buf (tests write only under the directory given on their command line). */
static inline const char *tmp_path(char *buf, size_t size, const char *dir, const char *name) {
  snprintf(buf, size, "%s/%s", dir, name);
  return buf;
}

static inline void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  CHECK(fputs(text, f) >= 0);
  CHECK(fclose(f) == 0);
}

/* Whole file into a malloc'd buffer; *n its length. */
static inline char *read_all(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  CHECK(f != NULL);
  CHECK(fseek(f, 0, SEEK_END) == 0);
  long len = ftell(f);
  CHECK(len >= 0);
  rewind(f);
  char *buf = malloc((size_t)len + 1);
  CHECK(buf != NULL);
  CHECK(fread(buf, 1, (size_t)len, f) == (size_t)len);
  fclose(f);
  *n = (size_t)len;
  return buf;
}

static inline void copy_file(const char *from, const char *to) {
  size_t n;
  char *buf = read_all(from, &n);
  FILE *f = fopen(to, "wb");
  CHECK(f != NULL);
  CHECK(fwrite(buf, 1, n, f) == n);
  CHECK(fclose(f) == 0);
  free(buf);
}

#endif
