/* extxyz.c — structures from extended XYZ files (as ASE writes them) and plain XYZ files,
 * and the mapping of a frame's elements onto a model's species. Every refusal names the
 * file, the line and what is wrong with it. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "internal.h"
#include "mlff_distill.h"

#define MAX_PROPERTIES 64

typedef struct {
  const char *path;
  FILE *f;
  char *buf;
  size_t cap;
  int line; /* number of the line last read, 1-based */
} xyz_reader;

static mlff_status xfail(const xyz_reader *x, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static mlff_status xfail(const xyz_reader *x, int line, const char *fmt, ...) {
  char msg[800];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return mlff_set_error(MLFF_ERR_FORMAT, "%s, line %d: %s", x->path, line, msg);
}

/* Next line without its end-of-line (\n or \r\n); NULL at end of file. */
static char *next_line(xyz_reader *x) {
  ssize_t n = getline(&x->buf, &x->cap, x->f);
  if (n < 0) return NULL;
  x->line++;
  while (n > 0 && (x->buf[n - 1] == '\n' || x->buf[n - 1] == '\r')) x->buf[--n] = '\0';
  return x->buf;
}

static int is_blank(const char *s) {
  while (isspace((unsigned char)*s)) s++;
  return !*s;
}

/* Whole-token number parsing: "1.5x" and "" are not numbers. */
static int parse_double(const char *s, double *v) {
  char *end;
  errno = 0;
  *v = strtod(s, &end);
  return end != s && *end == '\0';
}

static int parse_long(const char *s, long *v) {
  char *end;
  errno = 0;
  *v = strtol(s, &end, 10);
  return end != s && *end == '\0' && errno == 0;
}

/* Split s in place at whitespace; returns the number of tokens (at most max are stored). */
static int split(char *s, char **tok, int max) {
  int n = 0;
  for (;;) {
    while (isspace((unsigned char)*s)) s++;
    if (!*s) return n;
    if (n < max) tok[n] = s;
    n++;
    while (*s && !isspace((unsigned char)*s)) s++;
    if (*s) *s++ = '\0';
  }
}

/* Element symbol ("C", "Cl", also "cl"/"CL") or atomic number ("6") → Z; 0 if unknown. */
static int element_z(const char *tok) {
  long z;
  if (parse_long(tok, &z)) return z >= 1 && z <= 1000 && mlff_element_symbol((int)z) ? (int)z : 0;
  int found = mlff_atomic_number(tok);
  if (found || strlen(tok) > 3) return found;
  char norm[4];
  size_t n = strlen(tok);
  for (size_t i = 0; i <= n; i++) norm[i] = (char)(i ? tolower((unsigned char)tok[i])
                                                     : toupper((unsigned char)tok[i]));
  return mlff_atomic_number(norm);
}

/* ---- comment line: key=value pairs ------------------------------------------------------- */

typedef struct {
  char name[32];
  char type; /* S, R, I, L */
  int width;
  int column; /* first column of this property on an atom line */
} property;

typedef struct {
  int has_lattice, has_pbc, has_energy, has_properties;
  double lattice[9], energy;
  int pbc[3];
  int n_props, n_columns;
  property props[MAX_PROPERTIES];
} header;

/* Next token of a key=value line: a "quoted string" (with \" escapes), a {braced list}, or a
 * bare word ending at whitespace or '='. The token is terminated in place; the one character
 * that follows it is consumed and returned in *after (0 at the end of the line). Returns NULL
 * on an unclosed quote or brace. */
static char *kv_token(char **sp, char *after) {
  char *s = *sp, *out, *start;
  if (*s == '"' || *s == '{') {
    char close = *s == '"' ? '"' : '}';
    start = out = ++s;
    while (*s && *s != close) {
      if (close == '"' && *s == '\\' && s[1]) s++;
      *out++ = *s++;
    }
    if (!*s) return NULL;
    s++; /* past the closing quote or brace; out < s, so terminating does not clobber *s */
  } else {
    start = s;
    while (*s && !isspace((unsigned char)*s) && *s != '=') s++;
    out = s;
  }
  *after = *s;
  *out = '\0';
  *sp = *after ? s + 1 : s;
  return start;
}

static mlff_status parse_properties(const xyz_reader *x, header *h, char *spec) {
  char *fields[3 * MAX_PROPERTIES + 1];
  int n = 0;
  for (char *p = spec;;) { /* split at ':' in place */
    if (n >= 3 * MAX_PROPERTIES)
      return xfail(x, x->line, "Properties has more than %d columns", MAX_PROPERTIES);
    fields[n++] = p;
    if (!(p = strchr(p, ':'))) break;
    *p++ = '\0';
  }
  if (n % 3)
    return xfail(x, x->line, "Properties must be name:type:count triples (like "
                 "species:S:1:pos:R:3), found %d fields", n);
  h->n_props = n / 3;
  h->n_columns = 0;
  for (int i = 0; i < h->n_props; i++) {
    property *p = &h->props[i];
    long w;
    const char *type = fields[3 * i + 1];
    if (strlen(type) != 1 || !strchr("SRIL", type[0]))
      return xfail(x, x->line, "Properties: column '%s' has type '%s'; expected S, R, I or L",
                   fields[3 * i], type);
    if (!parse_long(fields[3 * i + 2], &w) || w < 1 || w > 1000)
      return xfail(x, x->line, "Properties: column '%s' has count '%s'; expected a positive "
                   "integer", fields[3 * i], fields[3 * i + 2]);
    snprintf(p->name, sizeof p->name, "%s", fields[3 * i]);
    p->type = type[0];
    p->width = (int)w;
    p->column = h->n_columns;
    h->n_columns += p->width;
  }
  h->has_properties = 1;
  return MLFF_OK;
}

static mlff_status parse_bool3(const xyz_reader *x, const char *key, char *v, int *out) {
  char *tok[4];
  if (split(v, tok, 4) != 3)
    return xfail(x, x->line, "%s must hold three flags like \"T T T\"", key);
  for (int k = 0; k < 3; k++) {
    if (!strcasecmp(tok[k], "T") || !strcasecmp(tok[k], "True") || !strcmp(tok[k], "1"))
      out[k] = 1;
    else if (!strcasecmp(tok[k], "F") || !strcasecmp(tok[k], "False") || !strcmp(tok[k], "0"))
      out[k] = 0;
    else
      return xfail(x, x->line, "%s: '%s' is not T or F", key, tok[k]);
  }
  return MLFF_OK;
}

static mlff_status use_pair(const xyz_reader *x, header *h, const char *key, char *v) {
  if (!strcasecmp(key, "Lattice")) {
    char *tok[10];
    if (split(v, tok, 10) != 9)
      return xfail(x, x->line, "Lattice must hold 9 numbers (the rows a, b, c of the cell)");
    for (int k = 0; k < 9; k++)
      if (!parse_double(tok[k], &h->lattice[k]) || !isfinite(h->lattice[k]))
        return xfail(x, x->line, "Lattice: '%s' is not a finite number", tok[k]);
    h->has_lattice = 1;
  } else if (!strcasecmp(key, "Properties")) {
    return parse_properties(x, h, v);
  } else if (!strcasecmp(key, "pbc")) {
    h->has_pbc = 1;
    return parse_bool3(x, "pbc", v, h->pbc);
  } else if (!strcasecmp(key, "energy")) {
    if (!parse_double(v, &h->energy) || !isfinite(h->energy))
      return xfail(x, x->line, "energy=%s is not a finite number", v);
    h->has_energy = 1;
  }
  return MLFF_OK; /* other keys (stress, config_type, ...) are not ours */
}

/* Parse the comment line. Plain XYZ comments (free text without '=') yield no keys. */
static mlff_status parse_header(const xyz_reader *x, char *s, header *h) {
  memset(h, 0, sizeof *h);
  if (strchr(s, '=')) {
    for (;;) {
      while (isspace((unsigned char)*s)) s++;
      if (!*s) break;
      char after;
      char *key = kv_token(&s, &after);
      if (!key) return xfail(x, x->line, "unclosed quote or brace in the comment line");
      char flag[] = "T", *value = flag; /* a bare key is a flag */
      int has_eq = after == '=';
      if (!has_eq && after && !isspace((unsigned char)after))
        return xfail(x, x->line, "unexpected '%c' after key '%s'", after, key);
      if (!has_eq) {
        while (isspace((unsigned char)*s)) s++;
        if (*s == '=') { /* "key = value" */
          s++;
          has_eq = 1;
        }
      }
      if (has_eq) {
        while (isspace((unsigned char)*s)) s++;
        if (!(value = kv_token(&s, &after)))
          return xfail(x, x->line, "unclosed quote or brace after '%s='", key);
        if (after && !isspace((unsigned char)after))
          return xfail(x, x->line, "unexpected '%c' after the value of '%s'", after, key);
      }
      mlff_status st = use_pair(x, h, key, value);
      if (st) return st;
    }
  }
  if (!h->has_properties) { /* ASE's default: plain XYZ columns */
    const property def[2] = {{"species", 'S', 1, 0}, {"pos", 'R', 3, 1}};
    memcpy(h->props, def, sizeof def);
    h->n_props = 2;
    h->n_columns = 4;
  }
  if (!h->has_pbc) h->pbc[0] = h->pbc[1] = h->pbc[2] = h->has_lattice;
  if (!h->has_lattice && (h->pbc[0] || h->pbc[1] || h->pbc[2]))
    return xfail(x, x->line, "pbc is T along some axis but no Lattice is given");
  return MLFF_OK;
}

static const property *find_prop(const header *h, const char *name) {
  for (int i = 0; i < h->n_props; i++)
    if (!strcmp(h->props[i].name, name)) return &h->props[i];
  return NULL;
}

/* ---- frames ------------------------------------------------------------------------------ */

static void frame_clear(mlff_frame *f) {
  free(f->atomic_numbers);
  free(f->positions);
  free(f->forces);
  memset(f, 0, sizeof *f);
}

void mlff_frames_free(mlff_frame *frames, int n_frames) {
  if (!frames) return;
  for (int i = 0; i < n_frames; i++) frame_clear(&frames[i]);
  free(frames);
}

/* Room for more atoms in f (up to n): the arrays grow with the atom lines read, so that a
 * count line promising more atoms than the file holds costs no memory (a file of a few lines
 * announcing 10^8 atoms had up to 5.2 GB allocated before its truncation was found). */
static mlff_status frame_grow(const xyz_reader *x, mlff_frame *f, long *cap, long n,
                              int forces) {
  long c = *cap ? 2 * *cap : 64;
  if (c > n) c = n;
  int *z = realloc(f->atomic_numbers, (size_t)c * sizeof *z);
  if (z) f->atomic_numbers = z;
  double *p = z ? realloc(f->positions, (size_t)c * 3 * sizeof *p) : NULL;
  if (p) f->positions = p;
  double *q = p && forces ? realloc(f->forces, (size_t)c * 3 * sizeof *q) : NULL;
  if (q) f->forces = q;
  if (!z || !p || (forces && !q))
    return mlff_set_error(MLFF_ERR_NOMEM, "%s: out of memory for %ld atoms", x->path, n);
  *cap = c;
  return MLFF_OK;
}

/* Read one frame whose count line (just read) says n atoms. Frames are numbered from 0 in
 * messages, as `mlff ... --frame K` counts them; lines from 1, as editors do. */
static mlff_status read_frame(xyz_reader *x, long n, int frame_no, mlff_frame *f) {
  int count_line = x->line;
  char *s = next_line(x);
  if (!s)
    return xfail(x, count_line + 1, "frame %d ends after its atom count: the comment line is "
                 "missing (truncated file?)", frame_no);
  header h;
  mlff_status st = parse_header(x, s, &h);
  if (st) return st;
  const property *sp = find_prop(&h, "species"), *pos = find_prop(&h, "pos");
  const property *frc = find_prop(&h, "forces");
  if (!sp) sp = find_prop(&h, "Z");
  if (!frc) frc = find_prop(&h, "force");
  if (!sp || !pos)
    return xfail(x, x->line, "Properties lacks the %s column; it needs species:S:1 and "
                 "pos:R:3", sp ? "'pos'" : "'species'");
  if (pos->type != 'R' || pos->width != 3)
    return xfail(x, x->line, "Properties: pos must be R:3, found %c:%d", pos->type, pos->width);
  if (frc && (frc->type != 'R' || frc->width != 3))
    return xfail(x, x->line, "Properties: %s must be R:3, found %c:%d", frc->name, frc->type,
                 frc->width);
  if (sp->width != 1 || (sp->type != 'S' && sp->type != 'I'))
    return xfail(x, x->line, "Properties: %s must be S:1 (symbols) or I:1 (atomic numbers)",
                 sp->name);

  f->n_atoms = (int)n;
  f->has_cell = h.has_lattice;
  if (h.has_lattice) memcpy(f->cell, h.lattice, sizeof f->cell);
  memcpy(f->pbc, h.pbc, sizeof f->pbc);
  f->has_energy = h.has_energy;
  f->energy = h.energy;
  f->has_forces = frc != NULL;

  char *tok[MAX_PROPERTIES * 4];
  int max_tok = (int)(sizeof tok / sizeof *tok);
  if (h.n_columns > max_tok)
    return xfail(x, x->line, "Properties describe %d columns; at most %d supported", h.n_columns,
                 max_tok);
  long cap = 0;
  for (long i = 0; i < n; i++) {
    if (!(s = next_line(x)))
      return xfail(x, x->line + 1, "frame %d ends after %ld of %ld atom lines (truncated file?)",
                   frame_no, i, n);
    if (i == cap && (st = frame_grow(x, f, &cap, n, frc != NULL))) return st;
    int nt = split(s, tok, max_tok);
    /* Plain XYZ often carries extra columns; with explicit Properties the count must match. */
    if (nt < h.n_columns || (h.has_properties && nt != h.n_columns))
      return xfail(x, x->line, "atom line has %d columns, expected %d (from %s)", nt,
                   h.n_columns, h.has_properties ? "Properties" : "species x y z");
    const char *sym = tok[sp->column];
    int z = element_z(sym);
    if (!z)
      return xfail(x, x->line, "unknown element '%s' (expected a chemical symbol like H, C, O "
                   "or an atomic number)", sym);
    f->atomic_numbers[i] = z;
    static const char axis[] = "xyz";
    for (int k = 0; k < 3; k++) {
      const char *t = tok[pos->column + k];
      double v;
      if (!parse_double(t, &v) || !isfinite(v))
        return xfail(x, x->line, "coordinate %c of atom %ld is '%s', not a finite number",
                     axis[k], i + 1, t);
      f->positions[3 * i + k] = v;
      if (frc) {
        t = tok[frc->column + k];
        if (!parse_double(t, &v) || !isfinite(v))
          return xfail(x, x->line, "force %c of atom %ld is '%s', not a finite number", axis[k],
                       i + 1, t);
        f->forces[3 * i + k] = v;
      }
    }
  }
  return MLFF_OK;
}

mlff_status mlff_read_extxyz(const char *path, mlff_frame **frames, int *n_frames) {
  if (!frames || !n_frames || !path)
    return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_read_extxyz: NULL argument");
  *frames = NULL;
  *n_frames = 0;
  xyz_reader x = {path, fopen(path, "r"), NULL, 0, 0};
  if (!x.f) return mlff_set_error(MLFF_ERR_IO, "cannot open structure file '%s': %s", path,
                             strerror(errno));
  mlff_frame *fr = NULL;
  int n = 0, cap = 0;
  mlff_status st = MLFF_OK;
  char *s;
  while ((s = next_line(&x))) {
    if (is_blank(s)) continue; /* blank lines between frames and at the end */
    char *tok[2];
    long count;
    if (split(s, tok, 2) != 1 || !parse_long(tok[0], &count) || count < 1 || count > 100000000) {
      st = xfail(&x, x.line, "expected the atom count of frame %d (a positive integer), found "
                 "'%s'", n, s);
      break;
    }
    if (n == cap) {
      int nc = cap ? 2 * cap : 8;
      mlff_frame *g = realloc(fr, (size_t)nc * sizeof *g);
      if (!g) {
        st = mlff_set_error(MLFF_ERR_NOMEM, "%s: out of memory", path);
        break;
      }
      fr = g;
      cap = nc;
    }
    memset(&fr[n], 0, sizeof fr[n]);
    n++; /* counted before reading so that an error frees the partial frame */
    if ((st = read_frame(&x, count, n - 1, &fr[n - 1]))) break;
  }
  if (!st && ferror(x.f))
    st = mlff_set_error(MLFF_ERR_IO, "%s, line %d: read error: %s", path, x.line + 1,
                   strerror(errno));
  if (!st && n == 0)
    st = mlff_set_error(MLFF_ERR_FORMAT, "structure file '%s' holds no frames (empty file?)", path);
  free(x.buf);
  fclose(x.f);
  if (st) {
    mlff_frames_free(fr, n);
    return st;
  }
  *frames = fr;
  *n_frames = n;
  return MLFF_OK;
}

mlff_status mlff_frame_species(const mlff_model *m, const mlff_frame *f, int *species) {
  if (!m || !f || !species) return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_frame_species: NULL");
  for (int i = 0; i < f->n_atoms; i++) {
    const char *sym = mlff_element_symbol(f->atomic_numbers[i]);
    int s = sym ? mlff_model_find_element(m, sym) : -1;
    if (s < 0) {
      char list[MLFF_MAX_ELEMENTS * (MLFF_SYMBOL_LEN + 2)] = "";
      for (int e = 0; e < m->n_elements; e++) {
        if (e) strcat(list, ", ");
        strcat(list, m->elements[e]);
      }
      if (sym)
        return mlff_set_error(MLFF_ERR_ARGUMENT, "the structure has element '%s' (atom %d), which "
                         "the model does not know; its elements are %s", sym, i + 1, list);
      return mlff_set_error(MLFF_ERR_ARGUMENT, "atom %d has atomic number %d, which the model does "
                       "not know; its elements are %s", i + 1, f->atomic_numbers[i], list);
    }
    species[i] = s;
  }
  return MLFF_OK;
}

mlff_structure mlff_frame_structure(const mlff_frame *f, const int *species) {
  mlff_structure s;
  s.n_atoms = f->n_atoms;
  s.positions = f->positions;
  s.species = species;
  s.cell = f->has_cell ? f->cell : NULL;
  for (int k = 0; k < 3; k++) s.pbc[k] = f->has_cell ? f->pbc[k] : 0;
  return s;
}

/* ---- writing ----------------------------------------------------------------------------- */

mlff_status mlff_write_extxyz(const char *path, const mlff_frame *frames, int n_frames,
                              const char *const *comments) {
  if (!path || (n_frames && !frames) || n_frames < 0)
    return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_write_extxyz: NULL argument");
  /* the whole file under a temporary name, then renamed: a reader never sees half of it */
  size_t len = strlen(path) + 32;
  char *tmp = malloc(len);
  if (!tmp) return mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
  snprintf(tmp, len, "%s.tmp%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "w");
  if (!f) {
    mlff_status st = mlff_set_error(MLFF_ERR_IO, "cannot create structure file '%s': %s", tmp,
                                    strerror(errno));
    free(tmp);
    return st;
  }
  mlff_status st = MLFF_OK;
  for (int k = 0; k < n_frames && !st; k++) {
    const mlff_frame *fr = &frames[k];
    fprintf(f, "%d\n", fr->n_atoms);
    if (fr->has_cell) {
      fprintf(f, "Lattice=\"");
      for (int q = 0; q < 9; q++) fprintf(f, "%.17g%s", fr->cell[q], q < 8 ? " " : "\" ");
      fprintf(f, "pbc=\"%c %c %c\" ", fr->pbc[0] ? 'T' : 'F', fr->pbc[1] ? 'T' : 'F',
              fr->pbc[2] ? 'T' : 'F');
    }
    fprintf(f, "Properties=species:S:1:pos:R:3%s", fr->has_forces ? ":forces:R:3" : "");
    if (fr->has_energy) fprintf(f, " energy=%.17g", fr->energy);
    if (comments && comments[k] && comments[k][0]) fprintf(f, " %s", comments[k]);
    fprintf(f, "\n");
    for (int i = 0; i < fr->n_atoms; i++) {
      const char *sym = mlff_element_symbol(fr->atomic_numbers[i]);
      if (!sym) {
        st = mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_write_extxyz: frame %d, atom %d: no element "
                            "Z = %d", k, i, fr->atomic_numbers[i]);
        break;
      }
      const double *x = fr->positions + 3 * (size_t)i;
      fprintf(f, "%-2s %.17g %.17g %.17g", sym, x[0], x[1], x[2]);
      if (fr->has_forces) {
        const double *g = fr->forces + 3 * (size_t)i;
        fprintf(f, " %.17g %.17g %.17g", g[0], g[1], g[2]);
      }
      fprintf(f, "\n");
    }
  }
  if (fflush(f) || ferror(f)) {
    if (!st) st = mlff_set_error(MLFF_ERR_IO, "cannot write structure file '%s': %s", tmp,
                                 strerror(errno));
  }
  fclose(f);
  if (!st && rename(tmp, path) != 0)
    st = mlff_set_error(MLFF_ERR_IO, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
  if (st) remove(tmp);
  free(tmp);
  return st;
}
