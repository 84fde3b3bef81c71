/* cli.c — helpers shared by the `mlff` subcommands. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"


int cli_fail(const char *cmd) {
  fprintf(stderr, "mlff %s: %s\n", cmd, mlff_last_error());
  return 1;
}

int cli_usage_error(const char *cmd, const char *usage, const char *fmt, const char *arg) {
  fprintf(stderr, "mlff %s: ", cmd);
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\nusage: %s\n(see `mlff %s --help`)\n", usage, cmd);
  return EXIT_USAGE;
}

int cli_wants_help(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
  return 0;
}

/* A non-negative integer option value, entirely digits. */
int cli_parse_count(const char *s, long long *v) {
  char *end;
  errno = 0;
  *v = strtoll(s, &end, 10);
  return end != s && !*end && errno == 0 && *v >= 0;
}

