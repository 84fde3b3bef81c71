/* Our descriptor against TorchANI's AEVComputer.like_1x() (tests/reference, computed on the
 * device with torchani 2.9, float64): an outside implementation that no one here wrote.
 * TorchANI rounds its constants to float32 before casting to float64; with the same rounded
 * constants the two agree to round-off, with the exact ANI-1x constants to 1e-6. */
#include "test_util.h"

static const char *const HCNO[] = {"H", "C", "N", "O"};

static double compare(const char *dir, const char *name, int round_to_float) {
  char xyz[1024], ref[1024];
  snprintf(xyz, sizeof xyz, "%s/%s.xyz", dir, name);
  snprintf(ref, sizeof ref, "%s/%s.torchani.txt", dir, name);
  mlff_model_spec spec = {0};
  int hidden[1] = {4};
  spec.n_elements = 4; spec.elements = HCNO; spec.n_hidden = 1; spec.hidden = hidden;
  mlff_descriptor_params *p = &spec.descriptor;
  mlff_descriptor_params_ani1x(p);
  if (round_to_float) {
    for (int k = 0; k < p->n_muR; k++) p->muR[k] = (float)p->muR[k];
    for (int k = 0; k < p->n_muA; k++) p->muA[k] = (float)p->muA[k];
    for (int k = 0; k < p->n_thetaZ; k++) p->thetaZ[k] = (float)p->thetaZ[k];
    p->Rcr = (float)p->Rcr;
    p->Rca = (float)p->Rca;
  }
  mlff_model *m;
  CHECK_OK(mlff_model_create(&spec, &m));
  mlff_calc *c;
  CHECK_OK(mlff_calc_create(m, NULL, &c));
  mlff_frame *fr;
  int nf;
  CHECK_OK(mlff_read_extxyz(xyz, &fr, &nf));
  int *sp = malloc(sizeof(int) * fr[0].n_atoms);
  CHECK_OK(mlff_frame_species(m, &fr[0], sp));
  mlff_structure s = mlff_frame_structure(&fr[0], sp);
  int D = mlff_model_n_features(m), n = fr[0].n_atoms;
  double *G = malloc(sizeof(double) * n * D);
  CHECK_OK(mlff_compute_features(c, &s, G));
  FILE *f = fopen(ref, "r");
  CHECK(f != NULL);
  char line[256];
  CHECK(fgets(line, sizeof line, f) != NULL); /* header */
  double maxdiff = 0, maxval = 0;
  int count = 0;
  for (double v; count < n * D && fscanf(f, "%lf", &v) == 1; count++) {
    maxdiff = fmax(maxdiff, fabs(v - G[count]));
    maxval = fmax(maxval, fabs(v));
  }
  CHECK(count == n * D);
  fclose(f);
  printf("%-14s %2d atoms x %d features: max |ours - TorchANI| = %.2e (max |G| %.2f)%s\n", name,
         n, D, maxdiff, maxval, round_to_float ? ", float32-rounded constants" : "");
  CHECK(maxval > 0.5);
  free(G); free(sp);
  mlff_frames_free(fr, nf);
  mlff_calc_free(c);
  mlff_model_free(m);
  return maxdiff;
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : ".";
  const char *names[] = {"benzene", "cluster_hcno", "periodic_hcno"};
  for (int k = 0; k < 3; k++) {
    CHECK(compare(dir, names[k], 1) < 1e-12);
    CHECK(compare(dir, names[k], 0) < 1e-6);
  }
  if (test_failures) fprintf(stderr, "%d check(s) failed\n", test_failures);
  return test_failures != 0;
}
