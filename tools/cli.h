/* cli.h — what the `mlff` subcommands share: the command record and small helpers. */
#ifndef MLFF_CLI_H
#define MLFF_CLI_H

#include "mlff_distill.h"

#define EXIT_USAGE 2

typedef struct {
  const char *name;
  int (*run)(int argc, char **argv); /* argv[0] is the command name */
  const char *summary;               /* one line for `mlff help` */
  const char *usage;                 /* the synopsis */
  const char *help;                  /* what --help prints under the synopsis */
} cli_command;

/* Subcommands defined in cmd_*.c. */
extern const cli_command CMD_LABEL, CMD_IMPORT, CMD_TRAIN, CMD_EVAL, CMD_LEARN;

/* "mlff CMD: <mlff_last_error()>" on stderr; returns 1. */
int cli_fail(const char *cmd);
/* "mlff CMD: <fmt with arg>", the usage and a pointer to --help; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *usage, const char *fmt, const char *arg);
int cli_wants_help(int argc, char **argv);
/* A non-negative integer option value, entirely digits. */
int cli_parse_count(const char *s, long long *v);
/* Remove PATH.tmp<pid> files that writers (mlff_model_save, mlff_dataset_save/_append, and
 * PATH.tmp<pid>.tmp<pid> of a train checkpoint) left when killed before renaming them over
 * PATH, where process <pid> no longer runs (a live writer's file is kept). Returns how many
 * were removed. */
int cli_remove_stale_temps(const char *path);
/* A finite number option value, entirely a number (strtod, no trailing text). */
int cli_parse_number(const char *s, double *v);
/* Give m the electrostatics of an --electrostatics value,
 * "SYM=q,...[,A-B=d,...][,alpha=A][,cutoff=R][,bond_factor=F]": a charge (e) for every element
 * of m (0 where not given when there are increments), bond-charge increments d (e) that an atom
 * A gains from each bond to a B (B losing as much; radii: Cordero's covalent radii, bond_factor
 * default 1.25), alpha (Å^-1, default 0.1) and cutoff (Å, default the dispersion's where m has
 * one, else 12). 0 on success; else 1 with what is wrong in why. */
int cli_set_electrostatics(mlff_model *m, const char *spec, char *why, size_t n);
/* Monotonic wall-clock seconds (progress, ETAs, stage times). */
double cli_now_s(void);
/* Seconds as m:ss or h:mm:ss (progress lines, ETAs). */
void cli_fmt_time(double s, char *buf, size_t n);
/* A number after "key": in a model's training_summary (JSON), inside the object that follows
 * "section": (NULL: anywhere); NAN when absent. */
double cli_summary_number(const char *js, const char *section, const char *key);
/* The string after "key": in a training_summary, into buf; "" when absent. */
const char *cli_summary_string(const char *js, const char *key, char *buf, size_t n);

#endif
