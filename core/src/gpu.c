/* gpu.c — the core side of the GPU path: the model as the kernels' flat description
 * (cuda/mlff_cuda.h), the periodic cell's geometry from images.c, and the kernels' failures as
 * libmlff's status and last error (the same codes and messages the kernels write). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dispersion.h"
#include "electrostatics.h"
#include "gpu.h"
#include "images.h"
#include "mlff_cuda.h"

/* the boundary's sizes are libmlff's */
_Static_assert(MLFF_CUDA_MAX_ELEMENTS == MLFF_MAX_ELEMENTS, "element count");
_Static_assert(MLFF_CUDA_MAX_LAYERS == MLFF_MAX_LAYERS, "layer count");
_Static_assert(MLFF_CUDA_MAX_RADIAL_SHELLS == MLFF_MAX_RADIAL_SHELLS, "radial shells");
_Static_assert(MLFF_CUDA_MAX_ANGULAR_SHELLS == MLFF_MAX_ANGULAR_SHELLS, "angular shells");
_Static_assert(MLFF_CUDA_MAX_ANGLE_SECTIONS == MLFF_MAX_ANGLE_SECTIONS, "angle sections");
_Static_assert(MLFF_CUDA_MESSAGE_LEN <= 1024, "a message fits mlff_last_error's buffer");

/* The kernels' failure as libmlff's: the same message, the matching status */
static mlff_status failed(mlff_cuda_status s, const mlff_cuda_message *msg) {
  mlff_status st = MLFF_ERR_DEVICE;
  switch (s) {
    case MLFF_CUDA_OK:
      return MLFF_OK;
    case MLFF_CUDA_ERR_ARGUMENT:
      st = MLFF_ERR_ARGUMENT;
      break;
    case MLFF_CUDA_ERR_NOMEM:
      st = MLFF_ERR_NOMEM;
      break;
    case MLFF_CUDA_ERR_UNSUPPORTED:
      st = MLFF_ERR_UNSUPPORTED;
      break;
    case MLFF_CUDA_ERR_DEVICE:
      st = MLFF_ERR_DEVICE;
      break;
  }
  return mlff_set_error(st, "%s", msg->text);
}

/* A network as the kernels take it: its sizes and pointers to its float weights */
static void describe_net(const mlff_network *n, mlff_cuda_network *d) {
  d->n_layers = n->n_layers;
  memcpy(d->sizes, n->sizes, sizeof d->sizes);
  for (int l = 0; l < n->n_layers; l++) {
    d->W[l] = n->W[l];
    d->b[l] = n->b[l];
  }
}

/* The model as the kernels take it: numbers and pointers to its float weights (which stay the
 * model's; mlff_cuda_create copies them to the device); a committee's members beyond the first
 * into more [n_members - 1] */
static void describe(const mlff_model *m, mlff_cuda_model *d, mlff_cuda_member *more) {
  const mlff_descriptor_params *p = &m->desc;
  memset(d, 0, sizeof *d);
  d->n_elements = m->n_elements;
  d->n_features = m->n_features;
  d->Rcr = p->Rcr;
  d->Rca = p->Rca;
  d->etaR = p->etaR;
  d->etaA = p->etaA;
  d->zeta = p->zeta;
  d->n_muR = p->n_muR;
  d->n_muA = p->n_muA;
  d->n_thetaZ = p->n_thetaZ;
  memcpy(d->muR, p->muR, sizeof d->muR);
  memcpy(d->muA, p->muA, sizeof d->muA);
  memcpy(d->thetaZ, p->thetaZ, sizeof d->thetaZ);
  d->activation = m->activation == MLFF_ACT_CELU ? MLFF_CUDA_ACT_CELU : MLFF_CUDA_ACT_SILU;
  d->scale = m->scale;
  if (m->disp.on) {
    const mlff_dispersion *q = &m->disp;
    d->disp_cutoff = q->p.cutoff;
    for (int a = 0; a < m->n_elements; a++)
      for (int b = 0; b < m->n_elements; b++) {
        d->disp_c6[a][b] = q->p.s6 * q->p.c6[a][b];
        d->disp_c8[a][b] = q->p.s8 * q->p.c8[a][b];
        d->disp_r0_6[a][b] = q->r0_6[a][b];
        d->disp_r0_8[a][b] = q->r0_8[a][b];
        d->disp3_w[a][b] = cbrt(q->p.s9 / sqrt(MLFF_EH)) * sqrt(q->p.c6[a][b]);
        d->disp3_r0[a][b] = q->r0[a][b];
      }
    if (q->p.s9 > 0)
      d->disp3_cutoff = q->p.cutoff3, d->disp3_alp = q->p.alp, d->disp3_switch = q->p.switch3;
  }
  if (m->coul.on) {
    const mlff_electrostatics *q = &m->coul;
    d->coul_cutoff = q->p.cutoff, d->coul_alpha = q->p.alpha;
    d->coul_e_shift = q->e_shift, d->coul_f_shift = q->f_shift;
    for (int a = 0; a < m->n_elements; a++) {
      d->coul_self[a] = q->self_e[a];
      for (int b = 0; b < m->n_elements; b++)
        d->coul_qq[a][b] = MLFF_COULOMB * q->p.charges[a] * q->p.charges[b];
    }
  }
  for (int e = 0; e < m->n_elements; e++) {
    d->e0[e] = m->e0[e];
    describe_net(&m->net[e], &d->net[e]);
    d->feature_min[e] = m->net[e].feature_min;
    d->feature_max[e] = m->net[e].feature_max;
  }
  d->n_members = m->n_members;
  d->members = more;
  for (int k = 1; k < m->n_members; k++) {
    mlff_cuda_member *o = &more[k - 1];
    o->scale = mlff_member_scale(m, k);
    for (int e = 0; e < m->n_elements; e++) {
      o->e0[e] = mlff_member_e0(m, k)[e];
      describe_net(&mlff_member_net(m, k)[e], &o->net[e]);
    }
  }
}

int mlff_gpu_device_count(void) { return mlff_cuda_device_count(); }

mlff_status mlff_gpu_create(const mlff_model *m, int fp16, int device, int n_threads,
                            int shared_gpu, mlff_gpu **out) {
  mlff_cuda_model d;
  mlff_cuda_message msg;
  const mlff_cuda_options o = {fp16, device, n_threads, shared_gpu};
  mlff_cuda_member *more = NULL;
  if (m->n_members > 1 && !(more = calloc((size_t)m->n_members - 1, sizeof *more)))
    return mlff_set_error(MLFF_ERR_NOMEM, "out of memory");
  describe(m, &d, more);
  mlff_status st = failed(mlff_cuda_create(&d, &o, out, &msg), &msg);
  free(more);
  return st;
}

void mlff_gpu_free(mlff_gpu *g) { mlff_cuda_free(g); }

mlff_status mlff_gpu_compute(mlff_gpu *g, int n_local, int n_total, const double *x,
                             const int *species, double skin, int list_age, const double *lattice,
                             double *forces, double *energy_atom, double *virial_atom,
                             double *member_forces, double *deviation, double *energy,
                             double virial[6]) {
  mlff_cuda_cell cell;
  mlff_cuda_message msg;
  if (lattice) { /* the geometry the images need, as the CPU path derives it */
    memcpy(cell.h, lattice, sizeof cell.h);
    mlff_inverse3(cell.h, cell.inverse, &cell.det);
    mlff_face_spacings(cell.h, cell.det, cell.spacing);
  }
  return failed(mlff_cuda_compute(g, n_local, n_total, x, species, skin, list_age,
                                  lattice ? &cell : NULL, forces, energy_atom, virial_atom,
                                  member_forces, deviation, energy, virial, &msg),
                &msg);
}

mlff_status mlff_gpu_check_range(mlff_gpu *g, double tolerance) {
  mlff_cuda_message msg;
  return failed(mlff_cuda_check_range(g, tolerance, &msg), &msg);
}

void mlff_gpu_range_report(const mlff_gpu *g, mlff_range_report *out) {
  mlff_cuda_range r;
  mlff_cuda_range_report(g, &r);
  out->n_atoms = r.n_atoms;
  out->species = r.species;
  out->feature = r.feature;
  out->value = r.value;
  out->min = r.min;
  out->max = r.max;
  out->excess = r.excess;
}

mlff_status mlff_gpu_guard_close(mlff_gpu *g, const double *close) {
  mlff_cuda_message msg;
  return failed(mlff_cuda_guard_close(g, close, &msg), &msg);
}

int mlff_gpu_close_pair(const mlff_gpu *g, int *i, int *j, double *r) {
  return mlff_cuda_close_pair(g, i, j, r);
}
