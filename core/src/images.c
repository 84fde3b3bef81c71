/* images.c — periodic images within the cutoff and a cell-list neighbour search (images.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "images.h"

void mlff_inverse3(const double *h, double *inv, double *det) {
  double d = h[0] * (h[4] * h[8] - h[5] * h[7]) - h[1] * (h[3] * h[8] - h[5] * h[6]) +
             h[2] * (h[3] * h[7] - h[4] * h[6]);
  *det = d;
  inv[0] = (h[4] * h[8] - h[5] * h[7]) / d;
  inv[1] = (h[2] * h[7] - h[1] * h[8]) / d;
  inv[2] = (h[1] * h[5] - h[2] * h[4]) / d;
  inv[3] = (h[5] * h[6] - h[3] * h[8]) / d;
  inv[4] = (h[0] * h[8] - h[2] * h[6]) / d;
  inv[5] = (h[2] * h[3] - h[0] * h[5]) / d;
  inv[6] = (h[3] * h[7] - h[4] * h[6]) / d;
  inv[7] = (h[1] * h[6] - h[0] * h[7]) / d;
  inv[8] = (h[0] * h[4] - h[1] * h[3]) / d;
}

void mlff_face_spacings(const double *h, double det, double w[3]) {
  for (int d = 0; d < 3; d++) {
    const double *a = h + 3 * ((d + 1) % 3), *b = h + 3 * ((d + 2) % 3);
    double cx = a[1] * b[2] - a[2] * b[1], cy = a[2] * b[0] - a[0] * b[2],
           cz = a[0] * b[1] - a[1] * b[0];
    w[d] = fabs(det) / sqrt(cx * cx + cy * cy + cz * cz); /* distance between faces */
  }
}

void mlff_images_free(mlff_images *im) {
  free(im->x);
  free(im->owner);
  free(im->nb_off);
  free(im->nb);
  free(im->head);
  free(im->next);
  free(im->binof);
  memset(im, 0, sizeof *im);
}

/* room for `need` points (x, owner) */
static int reserve_points(mlff_images *im, size_t need) {
  if (need <= im->cap_points) return 1;
  size_t c = need + need / 2 + 16;
  double *x = realloc(im->x, 3 * c * sizeof(double));
  if (x) im->x = x;
  int *o = realloc(im->owner, c * sizeof(int));
  if (o) im->owner = o;
  if (!x || !o) return 0;
  im->cap_points = c;
  return 1;
}

/* *p holds at least need ints (grow only) */
static int grow_ints(int **p, size_t *cap, size_t need) {
  if (need <= *cap) return 1;
  size_t c = need + need / 4 + 16;
  int *q = realloc(*p, c * sizeof(int));
  if (!q) return 0;
  *p = q;
  *cap = c;
  return 1;
}

static int add_point(mlff_images *im, const double *y, int owner) {
  if ((size_t)im->n_total == im->cap_points && !reserve_points(im, 2 * im->cap_points + 16))
    return 0;
  memcpy(im->x + 3 * (size_t)im->n_total, y, 3 * sizeof(double));
  im->owner[im->n_total++] = owner;
  return 1;
}

/* Full neighbour lists of points [0, n_atoms) over all points: bins >= rc, widened while there
 * are far more bins than points (sparse open systems). */
static mlff_status cell_list(mlff_images *im, double rc) {
  const int total = im->n_total, n = im->n_atoms;
  double lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
  for (int i = 0; i < total; i++)
    for (int d = 0; d < 3; d++) {
      lo[d] = fmin(lo[d], im->x[3 * (size_t)i + d]);
      hi[d] = fmax(hi[d], im->x[3 * (size_t)i + d]);
    }
  int nbin[3];
  double bin = rc;
  for (;;) {
    long nb = 1;
    for (int d = 0; d < 3; d++) {
      nbin[d] = total ? (int)((hi[d] - lo[d]) / bin) + 1 : 1;
      nb *= nbin[d];
    }
    if (nb <= 8L * total + 27) break;
    bin *= 2.0;
  }
  long nbins = (long)nbin[0] * nbin[1] * nbin[2];
  /* kept in im between builds (mlff_images_rebuild) */
  if (!grow_ints(&im->head, &im->cap_head, (size_t)nbins + 1) ||
      !grow_ints(&im->next, &im->cap_next, (size_t)total + 1) ||
      !grow_ints(&im->binof, &im->cap_binof, (size_t)total + 1) ||
      !grow_ints(&im->nb_off, &im->cap_off, (size_t)n + 1) ||
      !grow_ints(&im->nb, &im->cap_nb, 16 * (size_t)n + 16))
    return MLFF_ERR_NOMEM;
  int *head = im->head, *next = im->next, *binof = im->binof;
  size_t len = 0, cap = im->cap_nb;
  mlff_status st = MLFF_OK;
  for (long b = 0; b < nbins; b++) head[b] = -1;
  for (int t = total - 1; t >= 0; t--) {
    const double *x = im->x + 3 * (size_t)t;
    int ix = (int)((x[0] - lo[0]) / bin), iy = (int)((x[1] - lo[1]) / bin),
        iz = (int)((x[2] - lo[2]) / bin);
    binof[t] = (iz * nbin[1] + iy) * nbin[0] + ix;
    next[t] = head[binof[t]];
    head[binof[t]] = t;
  }
  const double rc2 = rc * rc;
  im->coincident[0] = im->coincident[1] = -1;
  for (int t = 0; t < n; t++) {
    int b = binof[t], ix = b % nbin[0], iy = (b / nbin[0]) % nbin[1], iz = b / (nbin[0] * nbin[1]);
    const double *x = im->x + 3 * (size_t)t;
    im->nb_off[t] = (int)len;
    for (int z = iz > 0 ? iz - 1 : 0; z <= iz + 1 && z < nbin[2]; z++)
      for (int y = iy > 0 ? iy - 1 : 0; y <= iy + 1 && y < nbin[1]; y++)
        for (int xx = ix > 0 ? ix - 1 : 0; xx <= ix + 1 && xx < nbin[0]; xx++)
          for (int u = head[(z * nbin[1] + y) * nbin[0] + xx]; u >= 0; u = next[u]) {
            if (u == t) continue;
            const double *q = im->x + 3 * (size_t)u;
            double d0 = q[0] - x[0], d1 = q[1] - x[1], d2 = q[2] - x[2];
            double r2 = d0 * d0 + d1 * d1 + d2 * d2;
            if (r2 == 0.0 && im->coincident[0] < 0) /* for the close-atom guard (compute.c) */
              im->coincident[0] = t, im->coincident[1] = u;
            if (r2 >= rc2 || r2 == 0.0) continue;
            if (len == cap) {
              if (!grow_ints(&im->nb, &im->cap_nb, 2 * cap)) return MLFF_ERR_NOMEM;
              cap = im->cap_nb;
            }
            im->nb[len++] = u;
          }
  }
  im->nb_off[n] = (int)len;
  return st;
}

mlff_status mlff_images_build(mlff_images *im, const double *pos, int n, const double *cell,
                              const int pbc[3], double rc, int with_lists) {
  memset(im, 0, sizeof *im);
  return mlff_images_rebuild(im, pos, n, cell, pbc, rc, with_lists);
}

mlff_status mlff_images_rebuild(mlff_images *im, const double *pos, int n, const double *cell,
                                const int pbc[3], double rc, int with_lists) {
  im->n_atoms = n;
  im->n_total = 0;
  if (!reserve_points(im, (size_t)n + 16)) goto nomem;
  int periodic = cell && (pbc[0] || pbc[1] || pbc[2]);
  double H[9] = {0}, inv[9] = {0}, det = 1.0, w[3] = {0};
  if (periodic) {
    memcpy(H, cell, sizeof H);
    mlff_inverse3(H, inv, &det);
    mlff_face_spacings(H, det, w);
  }
  for (int i = 0; i < n; i++) {
    const double *p = pos + 3 * (size_t)i;
    double y[3] = {p[0], p[1], p[2]};
    if (periodic) {
      double f[3];
      for (int d = 0; d < 3; d++) f[d] = p[0] * inv[d] + p[1] * inv[3 + d] + p[2] * inv[6 + d];
      for (int d = 0; d < 3; d++)
        if (pbc[d]) f[d] -= floor(f[d]);
      for (int d = 0; d < 3; d++) y[d] = f[0] * H[d] + f[1] * H[3 + d] + f[2] * H[6 + d];
    }
    if (!add_point(im, y, i)) goto nomem;
  }
  if (periodic) {
    int m[3];
    double margin[3];
    for (int d = 0; d < 3; d++) {
      margin[d] = pbc[d] ? rc / w[d] : 0.0;
      m[d] = pbc[d] ? (int)ceil(margin[d]) : 0;
    }
    /* per axis, the shifts that keep the image within the margin (an atom away from every face
     * has none but 0: most atoms skip the 26 candidate shifts); ascending, as a triple loop over
     * all shifts with the same test would visit them */
    int *shifts = malloc(3 * (2 * (size_t)(m[0] + m[1] + m[2]) + 3) * sizeof(int));
    if (!shifts) goto nomem;
    for (int i = 0; i < n; i++) {
      double f[3];
      const double *x = im->x + 3 * (size_t)i;
      for (int d = 0; d < 3; d++) f[d] = x[0] * inv[d] + x[1] * inv[3 + d] + x[2] * inv[6 + d];
      int *sh[3], ns[3], *p = shifts;
      for (int d = 0; d < 3; d++) {
        sh[d] = p;
        ns[d] = 0;
        for (int a = -m[d]; a <= m[d]; a++)
          if (!pbc[d] || (f[d] + a >= -margin[d] && f[d] + a < 1.0 + margin[d])) p[ns[d]++] = a;
        p += ns[d];
      }
      for (int ia = 0; ia < ns[0]; ia++)
        for (int ib = 0; ib < ns[1]; ib++)
          for (int ik = 0; ik < ns[2]; ik++) {
            const int a = sh[0][ia], b = sh[1][ib], k = sh[2][ik];
            if (!a && !b && !k) continue;
            double g[3] = {f[0] + a, f[1] + b, f[2] + k}, y[3];
            for (int d = 0; d < 3; d++) y[d] = g[0] * H[d] + g[1] * H[3 + d] + g[2] * H[6 + d];
            if (!add_point(im, y, i)) {
              free(shifts);
              goto nomem;
            }
          }
    }
    free(shifts);
  }
  if (with_lists && cell_list(im, rc)) goto nomem;
  return MLFF_OK;
nomem:
  mlff_images_free(im);
  return mlff_set_error(MLFF_ERR_NOMEM, "out of memory for periodic images and neighbour lists");
}
