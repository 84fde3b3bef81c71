/* cmd_train.c — `mlff train` (being written; see issue 4). */
#include <stdio.h>

#include "cli.h"

static int run(int argc, char **argv) {
  fprintf(stderr, "mlff train: not implemented yet\n");
  return 1;
}

const cli_command CMD_TRAIN = {"train", run, "(not implemented yet)", "mlff train ...", ""};
