/* cmd_eval.c — `mlff eval` (being written; see issue 4). */
#include <stdio.h>

#include "cli.h"

static int run(int argc, char **argv) {
  fprintf(stderr, "mlff eval: not implemented yet\n");
  return 1;
}

const cli_command CMD_EVAL = {"eval", run, "(not implemented yet)", "mlff eval ...", ""};
