/* A short training run on real teacher labels: GFN2-xTB (libxtb, in process) energies and
 * forces of distorted benzenes and benzene dimers. The validation loss and force error must
 * fall clearly (150 epochs on 100 training structures: a few seconds). Exit 77 (skipped) when libmlff was built without libxtb. */
#include <omp.h>

#include "train_test.h"

typedef struct {
  int n;
  double first_loss, first_fmae, best_loss, best_fmae;
} progress_log;

static void log_progress(const mlff_train_progress *p, void *user) {
  progress_log *l = user;
  if (l->n++ == 0) {
    l->first_loss = p->valid_loss;
    l->first_fmae = p->valid_force_mae;
    l->best_loss = INFINITY;
  }
  if (p->valid_loss < l->best_loss) {
    l->best_loss = p->valid_loss;
    l->best_fmae = p->valid_force_mae;
  }
}

int main(void) {
  mlff_teacher *teacher;
  mlff_status st = mlff_teacher_create_xtb(&teacher);
  if (st == MLFF_ERR_UNSUPPORTED) {
    printf("skipped: %s\n", mlff_last_error());
    return 77;
  }
  CHECK_OK(st);
  mlff_dataset *d;
  CHECK_OK(mlff_dataset_create(&d));
  double t0 = omp_get_wtime();
  const int n_mono = 120, n_dimer = 30;
  for (int i = 0; i < n_mono + n_dimer; i++) {
    tstruct t = i < n_mono ? make_benzene_random(0.08) : make_dimer_random(3.8 + 3.0 * trand(), 0.05);
    mlff_frame f = frame_of(&t, NULL);
    CHECK_OK(mlff_teacher_compute(teacher, &f, &f.energy, f.forces));
    CHECK_OK(mlff_dataset_add(d, &f, i < n_mono ? "monomer" : "dimer"));
    frame_free(&f);
    tfree(&t);
  }
  CHECK_OK(mlff_dataset_set_attr(d, "teacher", mlff_teacher_name(teacher)));
  printf("labelled %d structures with %s in %.1f s\n", n_mono + n_dimer,
         mlff_teacher_name(teacher), omp_get_wtime() - t0);
  mlff_teacher_free(teacher);

  const int h[2] = {64, 64};
  mlff_model *m = make_model_h(2, h, MLFF_ACT_SILU, 1);
  mlff_train_options o;
  mlff_train_options_default(&o);
  o.max_epochs = 150;
  o.patience = 1000;
  o.batch_size = 4;
  o.lr = 1e-3;
  o.valid_fraction = 0.15;
  o.test_fraction = 0.1;
  progress_log log = {0};
  o.progress = log_progress;
  o.user = &log;
  t0 = omp_get_wtime();
  CHECK_OK(mlff_train(m, d, &o));
  const char *js = mlff_model_attr(m, "training_summary");
  const char *test = strstr(js, "\"test\":{");
  printf("%d epochs in %.1f s: validation loss %.4g -> %.4g, force MAE %.0f -> %.0f meV/Å\n%.*s\n",
         log.n, omp_get_wtime() - t0, log.first_loss, log.best_loss, 1e3 * log.first_fmae,
         1e3 * log.best_fmae, test ? (int)(strchr(test, '}') - test + 1) : 0, test ? test : "");
  CHECK(log.best_loss < 0.3 * log.first_loss);
  CHECK(log.best_fmae < 0.6 * log.first_fmae);
  CHECK(strstr(mlff_model_attr(m, "teacher"), "GFN2-xTB") != NULL);
  mlff_model_free(m);
  mlff_dataset_free(d);
  if (test_failures) fprintf(stderr, "%d check(s) failed\n", test_failures);
  return test_failures ? 1 : 0;
}
