/* model.c — the in-memory model: allocation, seeded random creation, accessors, metadata,
 * and the human-readable summary printed by `mlff info`. File I/O lives in model_io.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dispersion.h"
#include "electrostatics.h"
#include "internal.h"
#include "rng.h"

void mlff_descriptor_params_ani1x(mlff_descriptor_params *p) {
  memset(p, 0, sizeof *p);
  p->Rcr = 5.2;
  p->Rca = 3.5;
  p->etaR = 16.0;
  p->etaA = 8.0;
  p->zeta = 32.0;
  p->n_muR = 16;
  for (int k = 0; k < 16; k++) p->muR[k] = 0.9 + 0.26875 * k;
  p->n_muA = 4;
  for (int a = 0; a < 4; a++) p->muA[a] = 0.9 + 0.65 * a;
  p->n_thetaZ = 8;
  for (int z = 0; z < 8; z++) p->thetaZ[z] = (2 * z + 1) * M_PI / 16.0;
}

int mlff_descriptor_length(const mlff_descriptor_params *p, int n) {
  return n * p->n_muR + n * (n + 1) / 2 * p->n_muA * p->n_thetaZ;
}

const char *mlff_activation_name(mlff_activation a) {
  return a == MLFF_ACT_CELU ? "celu" : "silu";
}

int mlff_activation_parse(const char *name, mlff_activation *a) {
  if (!strcmp(name, "silu")) { *a = MLFF_ACT_SILU; return 1; }
  if (!strcmp(name, "celu")) { *a = MLFF_ACT_CELU; return 1; }
  return 0;
}

mlff_model *mlff_model_alloc(void) {
  mlff_model *m = calloc(1, sizeof *m);
  if (m) {
    strcpy(m->arch, "aev-mlp");
    m->scale = 1.0;
    m->n_members = 1;
  }
  return m;
}

mlff_status mlff_network_alloc(mlff_network *n, int n_layers, const int *sizes) {
  if (n_layers < 1 || n_layers > MLFF_MAX_LAYERS)
    return mlff_set_error(MLFF_ERR_ARGUMENT, "network has %d layers; 1..%d supported", n_layers,
                     MLFF_MAX_LAYERS);
  n->n_layers = n_layers;
  for (int l = 0; l <= n_layers; l++) n->sizes[l] = sizes[l];
  for (int l = 0; l < n_layers; l++) {
    size_t nw = (size_t)sizes[l + 1] * sizes[l], nb = sizes[l + 1];
    n->W[l] = calloc(nw, sizeof(float));
    n->b[l] = calloc(nb, sizeof(float));
    n->Wd[l] = calloc(nw, sizeof(double));
    n->bd[l] = calloc(nb, sizeof(double));
    if (!n->W[l] || !n->b[l] || !n->Wd[l] || !n->bd[l])
      return mlff_set_error(MLFF_ERR_NOMEM, "out of memory allocating a %dx%d layer", sizes[l + 1],
                       sizes[l]);
  }
  return MLFF_OK;
}

void mlff_network_sync(mlff_network *n) {
  for (int l = 0; l < n->n_layers; l++) {
    size_t nw = (size_t)n->sizes[l + 1] * n->sizes[l];
    for (size_t i = 0; i < nw; i++) n->Wd[l][i] = n->W[l][i];
    for (int i = 0; i < n->sizes[l + 1]; i++) n->bd[l][i] = n->b[l][i];
  }
}

void mlff_network_free(mlff_network *n) {
  for (int l = 0; l < MLFF_MAX_LAYERS; l++) {
    free(n->W[l]); free(n->b[l]); free(n->Wd[l]); free(n->bd[l]);
    n->W[l] = n->b[l] = NULL;
    n->Wd[l] = n->bd[l] = NULL;
  }
  n->n_layers = 0;
}

mlff_status mlff_network_copy(mlff_network *dst, const mlff_network *src) {
  mlff_status st = mlff_network_alloc(dst, src->n_layers, src->sizes);
  if (st) return st;
  for (int l = 0; l < src->n_layers; l++) {
    size_t nw = (size_t)src->sizes[l + 1] * src->sizes[l], nb = src->sizes[l + 1];
    memcpy(dst->W[l], src->W[l], nw * sizeof(float));
    memcpy(dst->b[l], src->b[l], nb * sizeof(float));
  }
  mlff_network_sync(dst);
  return MLFF_OK;
}

static void free_members(mlff_model *m) {
  for (int k = 0; m->more && k < m->n_members - 1; k++)
    for (int e = 0; e < MLFF_MAX_ELEMENTS; e++) mlff_network_free(&m->more[k].net[e]);
  free(m->more);
  m->more = NULL;
  m->n_members = 1;
}

void mlff_model_free(mlff_model *m) {
  if (!m) return;
  free_members(m);
  for (int e = 0; e < MLFF_MAX_ELEMENTS; e++) {
    mlff_network *n = &m->net[e];
    mlff_network_free(n);
    free(n->feature_min);
    free(n->feature_max);
  }
  for (int i = 0; i < m->n_attrs; i++) {
    free(m->attrs[i].name);
    free(m->attrs[i].value);
  }
  free(m->attrs);
  free(m);
}

static double uniform01(uint64_t *s) { return (mlff_splitmix64(s) >> 11) * 0x1.0p-53; }

void mlff_model_init_weights(mlff_model *m, uint64_t seed) {
  uint64_t rng = seed;
  for (int e = 0; e < m->n_elements; e++) {
    mlff_network *n = &m->net[e];
    const int *sizes = n->sizes;
    /* Uniform Glorot weights, small biases: outputs O(1) for inputs O(1). */
    for (int l = 0; l < n->n_layers; l++) {
      double lim = sqrt(6.0 / (sizes[l] + sizes[l + 1]));
      for (size_t i = 0; i < (size_t)sizes[l] * sizes[l + 1]; i++)
        n->W[l][i] = (float)((2 * uniform01(&rng) - 1) * lim);
      for (int i = 0; i < sizes[l + 1]; i++) n->b[l][i] = (float)(0.1 * (2 * uniform01(&rng) - 1));
    }
    mlff_network_sync(n);
  }
}

static mlff_status check_descriptor(const mlff_descriptor_params *p) {
  if (!(p->Rcr > 0) || !(p->Rca > 0) || !(p->etaR > 0) || !(p->etaA > 0) || !(p->zeta > 0))
    return mlff_set_error(MLFF_ERR_ARGUMENT, "descriptor: Rcr, Rca, etaR, etaA, zeta must be > 0");
  if (p->n_muR < 1 || p->n_muR > MLFF_MAX_RADIAL_SHELLS || p->n_muA < 1 ||
      p->n_muA > MLFF_MAX_ANGULAR_SHELLS || p->n_thetaZ < 1 ||
      p->n_thetaZ > MLFF_MAX_ANGLE_SECTIONS)
    return mlff_set_error(MLFF_ERR_ARGUMENT, "descriptor: shell counts out of range");
  return MLFF_OK;
}

mlff_status mlff_model_create(const mlff_model_spec *spec, mlff_model **out) {
  *out = NULL;
  if (!spec || spec->n_elements < 1 || spec->n_elements > MLFF_MAX_ELEMENTS)
    return mlff_set_error(MLFF_ERR_ARGUMENT, "model needs 1..%d elements", MLFF_MAX_ELEMENTS);
  if (spec->n_hidden < 1 || spec->n_hidden > MLFF_MAX_HIDDEN)
    return mlff_set_error(MLFF_ERR_ARGUMENT, "model needs 1..%d hidden layers", MLFF_MAX_HIDDEN);
  for (int l = 0; l < spec->n_hidden; l++)
    if (spec->hidden[l] < 1)
      return mlff_set_error(MLFF_ERR_ARGUMENT, "hidden layer %d has width %d", l, spec->hidden[l]);
  mlff_status st = check_descriptor(&spec->descriptor);
  if (st) return st;
  for (int e = 0; e < spec->n_elements; e++) {
    if (!mlff_atomic_number(spec->elements[e]))
      return mlff_set_error(MLFF_ERR_ARGUMENT, "unknown element symbol '%s'", spec->elements[e]);
    for (int f = 0; f < e; f++)
      if (!strcmp(spec->elements[e], spec->elements[f]))
        return mlff_set_error(MLFF_ERR_ARGUMENT, "element '%s' given twice", spec->elements[e]);
  }
  mlff_model *m = mlff_model_alloc();
  if (!m) return mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
  m->n_elements = spec->n_elements;
  m->activation = spec->activation;
  m->desc = spec->descriptor;
  m->n_features = mlff_descriptor_length(&m->desc, m->n_elements);
  int sizes[MLFF_MAX_LAYERS + 1];
  sizes[0] = m->n_features;
  for (int l = 0; l < spec->n_hidden; l++) sizes[l + 1] = spec->hidden[l];
  sizes[spec->n_hidden + 1] = 1;
  for (int e = 0; e < m->n_elements; e++) {
    snprintf(m->elements[e], MLFF_SYMBOL_LEN, "%s", spec->elements[e]);
    if ((st = mlff_network_alloc(&m->net[e], spec->n_hidden + 1, sizes))) {
      mlff_model_free(m);
      return st;
    }
  }
  mlff_model_init_weights(m, spec->seed);
  *out = m;
  return MLFF_OK;
}

int mlff_model_n_elements(const mlff_model *m) { return m->n_elements; }
const char *mlff_model_element(const mlff_model *m, int s) {
  return s >= 0 && s < m->n_elements ? m->elements[s] : NULL;
}
int mlff_model_find_element(const mlff_model *m, const char *sym) {
  for (int e = 0; e < m->n_elements; e++)
    if (!strcmp(m->elements[e], sym)) return e;
  return -1;
}
int mlff_model_n_features(const mlff_model *m) { return m->n_features; }
double mlff_model_cutoff(const mlff_model *m) {
  double rc = fmax(m->desc.Rcr, m->desc.Rca);
  if (m->disp.on) rc = fmax(rc, m->disp.p.cutoff);
  return m->coul.on ? fmax(rc, m->coul.p.cutoff) : rc;
}

mlff_status mlff_model_set_electrostatics(mlff_model *m, const mlff_electrostatics_params *p) {
  if (!m) return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_model_set_electrostatics: model is NULL");
  if (!p) {
    memset(&m->coul, 0, sizeof m->coul);
    return MLFF_OK;
  }
  mlff_electrostatics c;
  memset(&c, 0, sizeof c);
  c.on = 1;
  const int ne = m->n_elements; /* values beyond n_elements stay 0 */
  for (int a = 0; a < ne; a++) {
    c.p.charges[a] = p->charges[a];
    for (int b = 0; b < ne; b++) c.p.increments[a][b] = p->increments[a][b];
  }
  c.p.alpha = p->alpha, c.p.cutoff = p->cutoff;
  if (mlff_coul_has_increments(&c.p, ne)) { /* else the bonds' radii and factor stay 0 */
    for (int a = 0; a < ne; a++) c.p.bond_radii[a] = p->bond_radii[a];
    c.p.bond_factor = p->bond_factor;
  }
  char why[320];
  if (mlff_coul_check(&c.p, ne, why, sizeof why))
    return mlff_set_error(MLFF_ERR_ARGUMENT, "electrostatics parameters: %s", why);
  mlff_coul_setup(&c, ne, (const char (*)[MLFF_SYMBOL_LEN])m->elements);
  m->coul = c;
  return MLFF_OK;
}

const mlff_electrostatics_params *mlff_model_electrostatics(const mlff_model *m) {
  return m && m->coul.on ? &m->coul.p : NULL;
}

mlff_status mlff_model_set_dispersion(mlff_model *m, const mlff_dispersion_params *p) {
  if (!m) return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_model_set_dispersion: model is NULL");
  if (!p) {
    memset(&m->disp, 0, sizeof m->disp);
    return MLFF_OK;
  }
  mlff_dispersion d;
  memset(&d, 0, sizeof d);
  d.on = 1;
  d.p = *p;
  char why[256];
  if (mlff_disp_check(&d, m->n_elements, why, sizeof why))
    return mlff_set_error(MLFF_ERR_ARGUMENT, "dispersion parameters: %s", why);
  mlff_disp_setup(&d, m->n_elements);
  m->disp = d;
  return MLFF_OK;
}

mlff_status mlff_model_dispersion_tail(const mlff_model *m, int a, int b, double *energy,
                                       double *virial) {
  if (!m || !energy || !virial || a < 0 || b < 0 || a >= m->n_elements || b >= m->n_elements)
    return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_model_dispersion_tail: species %d, %d of a "
                          "model with %d elements (or a NULL argument)", a, b,
                          m ? m->n_elements : 0);
  int on = m->disp.on && m->disp.p.tail;
  *energy = on ? m->disp.tail_e[a][b] : 0.0;
  *virial = on ? m->disp.tail_w[a][b] : 0.0;
  return MLFF_OK;
}

mlff_status mlff_model_dispersion_tail3(const mlff_model *m, const long *count, double volume,
                                        double *energy, double *virial) {
  if (!m || !count || !energy || !virial || !(volume > 0))
    return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_model_dispersion_tail3: volume %g Å^3 (must "
                          "be > 0) or a NULL argument", volume);
  *energy = *virial = 0.0;
  if (m->disp.on && m->disp.p.tail3 != 0.0)
    mlff_disp_tail3(&m->disp, m->n_elements, count, volume, energy, virial);
  return MLFF_OK;
}

double mlff_model_min_distance(const mlff_model *m, int a, int b) {
  if (!m || a < 0 || b < 0 || a >= m->n_elements || b >= m->n_elements) return 0.0;
  return m->min_distance[a][b];
}

mlff_status mlff_model_set_min_distance(mlff_model *m, int a, int b, double r) {
  if (!m || a < 0 || b < 0 || a >= m->n_elements || b >= m->n_elements)
    return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_model_set_min_distance: species %d, %d of a "
                          "model with %d elements (or a NULL model)", a, b, m ? m->n_elements : 0);
  if (!(r >= 0.0 && isfinite(r)))
    return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_model_set_min_distance: %g Å; it must be "
                          "finite and >= 0 (0: not recorded)", r);
  m->min_distance[a][b] = m->min_distance[b][a] = r;
  return MLFF_OK;
}

const mlff_dispersion_params *mlff_model_dispersion(const mlff_model *m) {
  return m && m->disp.on ? &m->disp.p : NULL;
}
const mlff_descriptor_params *mlff_model_descriptor(const mlff_model *m) { return &m->desc; }

/* ---- committees ---------------------------------------------------------------------------- */

int mlff_model_committee_size(const mlff_model *m) { return m ? m->n_members : 0; }

/* Why members of a and b cannot form one committee ("" when they can): everything but the
 * networks' weights, e0 and scale must be the same (one descriptor computed once serves all;
 * the dispersion is added once). */
static int committee_mismatch(const mlff_model *a, const mlff_model *b, char *why, size_t n) {
  const mlff_descriptor_params *p = &a->desc, *q = &b->desc;
  if (a->n_elements != b->n_elements) {
    snprintf(why, n, "%d elements, the committee has %d", b->n_elements, a->n_elements);
    return 1;
  }
  for (int e = 0; e < a->n_elements; e++)
    if (strcmp(a->elements[e], b->elements[e])) {
      snprintf(why, n, "element %d is %s, the committee's is %s", e, b->elements[e],
               a->elements[e]);
      return 1;
    }
  if (a->activation != b->activation) {
    snprintf(why, n, "activation %s, the committee's is %s", mlff_activation_name(b->activation),
             mlff_activation_name(a->activation));
    return 1;
  }
  int same = p->Rcr == q->Rcr && p->Rca == q->Rca && p->etaR == q->etaR && p->etaA == q->etaA &&
             p->zeta == q->zeta && p->n_muR == q->n_muR && p->n_muA == q->n_muA &&
             p->n_thetaZ == q->n_thetaZ;
  for (int k = 0; same && k < p->n_muR; k++) same = p->muR[k] == q->muR[k];
  for (int k = 0; same && k < p->n_muA; k++) same = p->muA[k] == q->muA[k];
  for (int k = 0; same && k < p->n_thetaZ; k++) same = p->thetaZ[k] == q->thetaZ[k];
  if (!same) {
    snprintf(why, n, "its descriptor differs from the committee's (members share one)");
    return 1;
  }
  if (a->disp.on != b->disp.on || (a->disp.on && memcmp(&a->disp.p, &b->disp.p, sizeof a->disp.p))) {
    snprintf(why, n, "its dispersion differs from the committee's (members share one)");
    return 1;
  }
  if (a->coul.on != b->coul.on || (a->coul.on && memcmp(&a->coul.p, &b->coul.p, sizeof a->coul.p))) {
    snprintf(why, n, "its electrostatics differ from the committee's (members share them)");
    return 1;
  }
  for (int e = 0; e < a->n_elements; e++) { /* one architecture: the reader and GPU expect it */
    const mlff_network *x = &b->net[e], *y = &a->net[e];
    int same = x->n_layers == y->n_layers;
    for (int l = 0; same && l <= y->n_layers; l++) same = x->sizes[l] == y->sizes[l];
    if (!same) {
      snprintf(why, n, "a network of %s shaped unlike the committee's (members share one "
               "architecture)", a->elements[e]);
      return 1;
    }
  }
  return 0;
}

mlff_status mlff_model_committee_add(mlff_model *m, const mlff_model *other) {
  if (!m || !other || m == other)
    return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_model_committee_add: NULL or identical models");
  char why[160];
  if (committee_mismatch(m, other, why, sizeof why))
    return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_model_committee_add: the new member has %s",
                          why);
  const int K = m->n_members + other->n_members;
  if (K > MLFF_MAX_COMMITTEE)
    return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_model_committee_add: %d members; at most %d",
                          K, MLFF_MAX_COMMITTEE);
  mlff_member *more = realloc(m->more, (size_t)(K - 1) * sizeof *more);
  if (!more) return mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
  m->more = more;
  for (int k = 0; k < other->n_members; k++) {
    mlff_member *dst = &m->more[m->n_members - 1];
    memset(dst, 0, sizeof *dst);
    mlff_status st = MLFF_OK;
    for (int e = 0; e < m->n_elements && !st; e++)
      st = mlff_network_copy(&dst->net[e], &mlff_member_net(other, k)[e]);
    if (st) {
      for (int e = 0; e < MLFF_MAX_ELEMENTS; e++) mlff_network_free(&dst->net[e]);
      return st;
    }
    memcpy(dst->e0, mlff_member_e0(other, k), sizeof dst->e0);
    dst->scale = mlff_member_scale(other, k);
    m->n_members++;
  }
  return MLFF_OK;
}

mlff_status mlff_model_committee_member(const mlff_model *m, int k, mlff_model **out) {
  if (!out) return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_model_committee_member: out is NULL");
  *out = NULL;
  if (!m || k < 0 || k >= m->n_members)
    return mlff_set_error(MLFF_ERR_ARGUMENT, "mlff_model_committee_member: member %d of a "
                          "committee of %d (0..%d)", k, m ? m->n_members : 0,
                          m ? m->n_members - 1 : -1);
  mlff_model *c = mlff_model_alloc();
  if (!c) return mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
  memcpy(c->arch, m->arch, sizeof c->arch);
  c->n_elements = m->n_elements;
  memcpy(c->elements, m->elements, sizeof c->elements);
  c->activation = m->activation;
  c->desc = m->desc;
  c->n_features = m->n_features;
  c->disp = m->disp;
  c->coul = m->coul;
  memcpy(c->e0, mlff_member_e0(m, k), sizeof c->e0);
  c->scale = mlff_member_scale(m, k);
  mlff_status st = MLFF_OK;
  const size_t D = (size_t)m->n_features;
  for (int e = 0; e < m->n_elements && !st; e++) {
    mlff_network *n = &c->net[e];
    const mlff_network *src = &m->net[e];
    if ((st = mlff_network_copy(n, &mlff_member_net(m, k)[e]))) break;
    if (src->feature_min && src->feature_max) { /* the training range is the committee's */
      n->feature_min = malloc(D * sizeof(float));
      n->feature_max = malloc(D * sizeof(float));
      if (!n->feature_min || !n->feature_max) {
        st = mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
        break;
      }
      memcpy(n->feature_min, src->feature_min, D * sizeof(float));
      memcpy(n->feature_max, src->feature_max, D * sizeof(float));
    }
  }
  for (int i = 0; i < m->n_attrs && !st; i++)
    st = mlff_model_set_attr(c, m->attrs[i].name, m->attrs[i].value);
  if (st) {
    mlff_model_free(c);
    return st;
  }
  *out = c;
  return MLFF_OK;
}
const char *mlff_model_arch(const mlff_model *m) { return m->arch; }

const char *mlff_model_attr(const mlff_model *m, const char *name) {
  for (int i = 0; i < m->n_attrs; i++)
    if (!strcmp(m->attrs[i].name, name)) return m->attrs[i].value;
  return "";
}

mlff_status mlff_model_set_attr(mlff_model *m, const char *name, const char *value) {
  char *v = strdup(value);
  if (!v) return mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
  for (int i = 0; i < m->n_attrs; i++)
    if (!strcmp(m->attrs[i].name, name)) {
      free(m->attrs[i].value);
      m->attrs[i].value = v;
      return MLFF_OK;
    }
  mlff_attr *a = realloc(m->attrs, (m->n_attrs + 1) * sizeof *a);
  char *nm = strdup(name);
  if (!a || !nm) {
    free(v); free(nm);
    if (a) m->attrs = a;
    return mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
  }
  m->attrs = a;
  a[m->n_attrs].name = nm;
  a[m->n_attrs].value = v;
  m->n_attrs++;
  return MLFF_OK;
}

static void print_list(FILE *o, const char *name, const double *v, int n) {
  fprintf(o, "  %-7s", name);
  for (int i = 0; i < n; i++) fprintf(o, " %.6g", v[i]);
  fprintf(o, "\n");
}

void mlff_model_print(const mlff_model *m, FILE *o) {
  const mlff_descriptor_params *d = &m->desc;
  fprintf(o, "arch        %s\n", m->arch);
  fprintf(o, "elements   ");
  for (int e = 0; e < m->n_elements; e++) fprintf(o, " %s", m->elements[e]);
  fprintf(o, "\nactivation  %s\n", mlff_activation_name(m->activation));
  fprintf(o, "descriptor  aev, %d features per atom (%d radial + %d angular)\n", m->n_features,
          m->n_elements * d->n_muR, m->n_features - m->n_elements * d->n_muR);
  fprintf(o, "  Rcr %.4g Å  Rca %.4g Å  etaR %.4g  etaA %.4g  zeta %.4g\n", d->Rcr, d->Rca,
          d->etaR, d->etaA, d->zeta);
  print_list(o, "muR", d->muR, d->n_muR);
  print_list(o, "muA", d->muA, d->n_muA);
  print_list(o, "thetaZ", d->thetaZ, d->n_thetaZ);
  fprintf(o, "energy      E = %.6g * NN(G) + e0;  e0:", m->scale);
  for (int e = 0; e < m->n_elements; e++) fprintf(o, " %s %.6f", m->elements[e], m->e0[e]);
  fprintf(o, " eV\n");
  fprintf(o, "committee   %d member%s%s\n", m->n_members, m->n_members > 1 ? "s" : "",
          m->n_members > 1 ? " (energy and forces: their mean; uncertainty: the per-atom force "
                             "deviation); energy and networks above: member 0"
                           : "");
  if (m->disp.on) {
    const mlff_dispersion_params *p = &m->disp.p;
    fprintf(o, "dispersion  C6/r^6 + C8/r^8, Becke-Johnson damping: s6 %.4g s8 %.4g a1 %.4g a2 %.4g "
               "Å, cutoff %.4g Å, tail %s\n", p->s6, p->s8, p->a1, p->a2, p->cutoff,
            p->tail ? "yes" : "no");
    for (int a = 0; a < m->n_elements; a++)
      for (int b = a; b < m->n_elements; b++)
        fprintf(o, "  %s-%s  C6 %.6g eV Å^6  C8 %.6g eV Å^8\n", m->elements[a], m->elements[b],
                p->c6[a][b], p->c8[a][b]);
    if (p->s9 > 0)
      fprintf(o, "  three-body (Axilrod-Teller-Muto): s9 %.6g, alp %.4g, triples within %.4g Å\n",
              p->s9, p->alp, p->cutoff3);
    if (p->switch3 > 0)
      fprintf(o, "  three-body smooth cutoff: switch3 %.4g Å (each side from %.4g Å)\n", p->switch3,
              p->cutoff3 - p->switch3);
    if (p->tail3 != 0.0)
      fprintf(o, "  three-body tail beyond %.4g Å: tail3 %.6g Å^-3 (periodic systems)\n",
              p->cutoff3, p->tail3);
  }
  if (m->coul.on) {
    const mlff_electrostatics_params *p = &m->coul.p;
    fprintf(o, "electrostatics  fixed charges, damped shifted force: alpha %.4g Å^-1, cutoff %.4g "
               "Å; charges", p->alpha, p->cutoff);
    for (int e = 0; e < m->n_elements; e++) fprintf(o, " %s %+.6g", m->elements[e], p->charges[e]);
    fprintf(o, " e\n");
    if (m->coul.bonds) {
      fprintf(o, "                bond-charge increments (e, to the first atom of a bond; bonded "
                 "within %.4g x the sum of the radii):", p->bond_factor);
      for (int a = 0; a < m->n_elements; a++)
        for (int b = a + 1; b < m->n_elements; b++)
          if (p->increments[a][b] != 0.0)
            fprintf(o, " %s-%s %+.6g", m->elements[a], m->elements[b], p->increments[a][b]);
      fprintf(o, "; radii");
      for (int e = 0; e < m->n_elements; e++) fprintf(o, " %s %.4g", m->elements[e], p->bond_radii[e]);
      fprintf(o, " Å\n");
    }
  }
  int any_min = 0;
  for (int a = 0; a < m->n_elements; a++)
    for (int b = a; b < m->n_elements; b++) any_min |= m->min_distance[a][b] > 0;
  if (any_min) {
    fprintf(o, "closest in training (Å):");
    for (int a = 0; a < m->n_elements; a++)
      for (int b = a; b < m->n_elements; b++)
        if (m->min_distance[a][b] > 0)
          fprintf(o, " %s-%s %.4g", m->elements[a], m->elements[b], m->min_distance[a][b]);
    fprintf(o, "\n");
  }
  long total = 0;
  for (int e = 0; e < m->n_elements; e++) {
    const mlff_network *n = &m->net[e];
    long np = 0;
    fprintf(o, "network %-3s", m->elements[e]);
    for (int l = 0; l <= n->n_layers; l++) fprintf(o, "%s%d", l ? " -> " : " ", n->sizes[l]);
    for (int l = 0; l < n->n_layers; l++) np += (long)n->sizes[l + 1] * (n->sizes[l] + 1);
    fprintf(o, "   (%ld parameters%s)\n", np,
            n->feature_min ? ", training range stored" : "");
    total += np;
  }
  if (m->n_members > 1)
    fprintf(o, "parameters  %ld per member, %ld in all\n", total, total * m->n_members);
  else
    fprintf(o, "parameters  %ld\n", total);
  /* training_summary holds the split and the history (~100 kB): the start is what a reader
   * wants here, the rest is in the file */
  const size_t show = 240;
  for (int i = 0; i < m->n_attrs; i++) {
    const char *v = m->attrs[i].value;
    size_t len = strlen(v);
    if (len <= show)
      fprintf(o, "%-11s %s\n", m->attrs[i].name, v);
    else
      fprintf(o, "%-11s %.*s ... (%zu characters in all; h5dump -a /%s shows them)\n",
              m->attrs[i].name, (int)show, v, len, m->attrs[i].name);
  }
}

static const char *const SYMBOLS[] = {
    "",   "H",  "He", "Li", "Be", "B",  "C",  "N",  "O",  "F",  "Ne", "Na", "Mg", "Al", "Si",
    "P",  "S",  "Cl", "Ar", "K",  "Ca", "Sc", "Ti", "V",  "Cr", "Mn", "Fe", "Co", "Ni", "Cu",
    "Zn", "Ga", "Ge", "As", "Se", "Br", "Kr", "Rb", "Sr", "Y",  "Zr", "Nb", "Mo", "Tc", "Ru",
    "Rh", "Pd", "Ag", "Cd", "In", "Sn", "Sb", "Te", "I",  "Xe", "Cs", "Ba", "La", "Ce", "Pr",
    "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W",
    "Re", "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn"};
#define N_SYMBOLS ((int)(sizeof SYMBOLS / sizeof *SYMBOLS))

int mlff_atomic_number(const char *s) {
  if (!s) return 0;
  for (int z = 1; z < N_SYMBOLS; z++)
    if (!strcmp(SYMBOLS[z], s)) return z;
  return 0;
}

const char *mlff_element_symbol(int z) { return z > 0 && z < N_SYMBOLS ? SYMBOLS[z] : NULL; }
