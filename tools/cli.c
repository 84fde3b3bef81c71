/* cli.c — helpers shared by the `mlff` subcommands. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

int cli_remove_stale_temps(const char *path) {
  char dbuf[4096], bbuf[4096];
  snprintf(dbuf, sizeof dbuf, "%s", path);
  snprintf(bbuf, sizeof bbuf, "%s", path);
  const char *dir = dirname(dbuf), *base = basename(bbuf);
  size_t nb = strlen(base);
  DIR *d = opendir(dir);
  if (!d) return 0;
  int removed = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    const char *n = e->d_name;
    if (strncmp(n, base, nb) || strncmp(n + nb, ".tmp", 4)) continue;
    const char *digits = n + nb + 4;
    char *end;
    errno = 0;
    long pid = strtol(digits, &end, 10);
    if (!strncmp(end, ".tmp", 4)) { /* a checkpoint's model, PATH.tmpPID.tmpPID */
      char *end2;
      long pid2 = strtol(end + 4, &end2, 10);
      if (end2 == end + 4 || pid2 != pid) continue;
      end = end2;
    }
    if (end == digits || *end || errno || pid <= 0) continue;
    /* a live writer (of another command, say) keeps its file; pid reuse only keeps one longer */
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
    char full[8192];
    snprintf(full, sizeof full, "%s/%s", dir, n);
    if (remove(full) == 0) removed++;
  }
  closedir(d);
  return removed;
}

int cli_parse_number(const char *s, double *v) {
  char *end;
  errno = 0;
  *v = strtod(s, &end);
  return end != s && !*end && errno == 0 && isfinite(*v);
}

int cli_set_electrostatics(mlff_model *m, const char *spec, char *why, size_t n) {
  mlff_electrostatics_params p;
  memset(&p, 0, sizeof p);
  const mlff_dispersion_params *d = mlff_model_dispersion(m);
  p.alpha = 0.1, p.cutoff = d ? d->cutoff : 12.0;
  const int ne = mlff_model_n_elements(m);
  int given[MLFF_MAX_ELEMENTS] = {0};
  char buf[512];
  if (snprintf(buf, sizeof buf, "%s", spec) >= (int)sizeof buf)
    return snprintf(why, n, "'%.40s...' is too long", spec), 1;
  for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(t, '=');
    double v;
    if (!eq || !cli_parse_number(eq + 1, &v))
      return snprintf(why, n, "'%s' is not SYMBOL=CHARGE, alpha=A or cutoff=R", t), 1;
    *eq = 0;
    if (!strcmp(t, "alpha"))
      p.alpha = v;
    else if (!strcmp(t, "cutoff"))
      p.cutoff = v;
    else {
      int e = mlff_model_find_element(m, t);
      if (e < 0) return snprintf(why, n, "element %s is not one of the model's", t), 1;
      p.charges[e] = v, given[e] = 1;
    }
  }
  for (int e = 0; e < ne; e++)
    if (!given[e])
      return snprintf(why, n,
                      "no charge for element %s (give one for each of the model's "
                      "elements, e.g. %s=0)",
                      mlff_model_element(m, e), mlff_model_element(m, e)),
             1;
  if (mlff_model_set_electrostatics(m, &p)) return snprintf(why, n, "%s", mlff_last_error()), 1;
  return 0;
}

double cli_now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void cli_fmt_time(double s, char *buf, size_t n) {
  if (!(s >= 0) || !isfinite(s)) s = 0;
  long t = lround(s);
  if (t >= 3600)
    snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  else
    snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

/* A number after "key": inside the object that follows "section": (NULL: anywhere). */
double cli_summary_number(const char *js, const char *section, const char *key) {
  const char *p = js;
  char pat[96];
  if (section) {
    snprintf(pat, sizeof pat, "\"%s\":{", section);
    p = strstr(js, pat);
    if (!p) return NAN;
  }
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *q = strstr(p, pat);
  const char *close = section ? strchr(p, '}') : NULL;
  if (!q || (close && q > close)) return NAN;
  return strtod(q + strlen(pat), NULL);
}

const char *cli_summary_string(const char *js, const char *key, char *buf, size_t n) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":\"", key);
  const char *q = strstr(js, pat);
  if (!q) return "";
  q += strlen(pat);
  size_t k = 0;
  while (q[k] && q[k] != '"' && k + 1 < n) k++;
  snprintf(buf, n, "%.*s", (int)k, q);
  return buf;
}
