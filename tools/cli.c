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

/* Covalent radii, Å, by atomic number 1-86 (Cordero et al., Dalton Trans. 2008, 2832; the
 * values of ASE's ase.data.covalent_radii): the bonds of the bond-charge increments */
static const double COVALENT_RADIUS[87] = {
    0,    0.31, 0.28, 1.28, 0.96, 0.84, 0.76, 0.71, 0.66, 0.57, 0.58, 1.66, 1.41, 1.21, 1.11,
    1.07, 1.05, 1.02, 1.06, 2.03, 1.76, 1.70, 1.60, 1.53, 1.39, 1.39, 1.32, 1.26, 1.24, 1.32,
    1.22, 1.22, 1.20, 1.19, 1.20, 1.20, 1.16, 2.20, 1.95, 1.90, 1.75, 1.64, 1.54, 1.47, 1.46,
    1.42, 1.39, 1.45, 1.44, 1.42, 1.39, 1.39, 1.38, 1.39, 1.40, 2.44, 2.15, 2.07, 2.04, 2.03,
    2.01, 1.99, 1.98, 1.98, 1.96, 1.94, 1.92, 1.92, 1.89, 1.90, 1.87, 1.87, 1.75, 1.70, 1.62,
    1.51, 1.44, 1.41, 1.36, 1.36, 1.32, 1.45, 1.46, 1.48, 1.40, 1.50, 1.50};

int cli_set_electrostatics(mlff_model *m, const char *spec, char *why, size_t n) {
  mlff_electrostatics_params p;
  memset(&p, 0, sizeof p);
  const mlff_dispersion_params *d = mlff_model_dispersion(m);
  p.alpha = 0.1, p.cutoff = d ? d->cutoff : 12.0, p.bond_factor = 1.25;
  const int ne = mlff_model_n_elements(m);
  int given[MLFF_MAX_ELEMENTS] = {0}, any_increment = 0;
  char buf[512];
  if (snprintf(buf, sizeof buf, "%s", spec) >= (int)sizeof buf)
    return snprintf(why, n, "'%.40s...' is too long", spec), 1;
  for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(t, '=');
    double v;
    if (!eq || !cli_parse_number(eq + 1, &v))
      return snprintf(why, n,
                      "'%s' is not SYMBOL=CHARGE, A-B=INCREMENT, alpha=A, cutoff=R or "
                      "bond_factor=F",
                      t),
             1;
    *eq = 0;
    char *dash = strchr(t, '-');
    if (!strcmp(t, "alpha"))
      p.alpha = v;
    else if (!strcmp(t, "cutoff"))
      p.cutoff = v;
    else if (!strcmp(t, "bond_factor"))
      p.bond_factor = v;
    else if (dash) { /* A-B: what A gains from a bond to B */
      *dash = 0;
      const int a = mlff_model_find_element(m, t), b = mlff_model_find_element(m, dash + 1);
      if (a < 0 || b < 0)
        return snprintf(why, n, "increment %s-%s: element %s is not one of the model's", t,
                        dash + 1, a < 0 ? t : dash + 1),
               1;
      if (a == b)
        return snprintf(why, n,
                        "increment %s-%s: a bond between two atoms of one element moves "
                        "no charge (it must be 0)",
                        t, dash + 1),
               1;
      p.increments[a][b] = v, p.increments[b][a] = -v;
      any_increment |= v != 0.0;
    } else {
      int e = mlff_model_find_element(m, t);
      if (e < 0) return snprintf(why, n, "element %s is not one of the model's", t), 1;
      p.charges[e] = v, given[e] = 1;
    }
  }
  for (int e = 0; e < ne; e++) {
    const char *sym = mlff_model_element(m, e);
    if (!given[e] && !any_increment)
      return snprintf(why, n,
                      "no charge for element %s (give one for each of the model's "
                      "elements, e.g. %s=0)",
                      sym, sym),
             1;
    const int z = mlff_atomic_number(sym);
    if (any_increment && !(z >= 1 && z <= 86))
      return snprintf(why, n,
                      "no covalent radius for element %s (mlff knows H to Rn): its "
                      "bonds for the increments are unknown",
                      sym),
             1;
    p.bond_radii[e] = any_increment ? COVALENT_RADIUS[z] : 0.0;
  }
  if (!any_increment) p.bond_factor = 0.0;
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
