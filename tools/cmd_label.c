/* cmd_label.c — `mlff label` (being written; see issue 4). */
#include <stdio.h>

#include "cli.h"

static int run(int argc, char **argv) {
  fprintf(stderr, "mlff label: not implemented yet\n");
  return 1;
}

const cli_command CMD_LABEL = {"label", run, "(not implemented yet)", "mlff label ...", ""};
