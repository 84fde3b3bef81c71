/* cmd_import.c — `mlff import` (being written; see issue 4). */
#include <stdio.h>

#include "cli.h"

static int run(int argc, char **argv) {
  fprintf(stderr, "mlff import: not implemented yet\n");
  return 1;
}

const cli_command CMD_IMPORT = {"import", run, "(not implemented yet)", "mlff import ...", ""};
