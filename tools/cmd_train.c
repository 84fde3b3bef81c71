/* cmd_train.c — `mlff train`: fit a student model to a labelled dataset (docs/cli.md). A thin layer
 * over mlff_train (distill/train.c): options, the model to start from, a progress line per
 * epoch on stderr, the model file and a summary at the end. */
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "mlff_distill.h"

static const char USAGE[] =
    "mlff train DATA.h5 --out MODEL.h5 [--elements C,H] [--hidden 128,64,64]\n"
    "                  [--activation silu|celu] [--epochs N] [--time-limit S] [--batch B]\n"
    "                  [--lr X] [--lr-min X] [--patience N] [--w-energy X] [--w-forces X]\n"
    "                  [--valid-fraction F] [--test-fraction F] [--test-sources LIST] [--seed S]\n"
    "                  [--threads N] [--checkpoint FILE] [--init MODEL.h5]\n"
    "                  [--dispersion DISP.h5] [--electrostatics SYM=Q,...,A-B=D,...] [--committee K]";
static const char HELP[] =
    "Fit a student (aev-mlp: ANI-1x descriptor, one MLP per element) to the energies and\n"
    "forces of a dataset (from `mlff label` or `mlff import`) and write it to MODEL.h5.\n"
    "\n"
    "Loss (eV, Å):  w_energy * mean over structures of (dE/N)^2\n"
    "             + w_forces * mean over atoms of |dF|^2   (squared norm of the 3 components)\n"
    "Per-element energy offsets e0 are fitted first by least squares on the training set\n"
    "(E ~ sum of e0 over the atoms); the networks learn the rest, E_atom = scale * NN + e0 with\n"
    "scale the RMS residual energy per sqrt(atom) (at least 10 meV). The networks train on\n"
    "normalised descriptors (per element and feature: mean and standard deviation over the\n"
    "training atoms); the normalisation is folded into the first layer of the written model,\n"
    "which stores the training range of every feature (extrapolation warnings). Descriptors\n"
    "and their Jacobians are computed once (float32 Jacobians, the memory is reported), so\n"
    "force training is exact: analytic gradients of the force loss. Adam on minibatches of\n"
    "structures; the learning rate halves after patience/2 epochs without a better validation\n"
    "loss (down to --lr-min); training stops after --patience such epochs, after --epochs, or\n"
    "at --time-limit, and the model is the best one on the validation set. Same seed and data:\n"
    "the same model, whatever the thread count (unless stopped by the time limit).\n"
    "\n"
    "Structures are split at random (seeded) into training, validation and test sets; the\n"
    "split is recorded in the model's training_summary (with the options, e0, losses per\n"
    "epoch, timings and the test errors), which `mlff eval --split` reads.\n"
    "  --out FILE          the model to write (required)\n"
    "  --elements LIST     species of the model, e.g. C,H (default: the dataset's, by Z)\n"
    "  --hidden LIST       hidden layer widths (default 128,64,64)\n"
    "  --activation NAME   silu (default) or celu (alpha 0.1)\n"
    "  --epochs N          at most N epochs (default 1000)\n"
    "  --time-limit S      stop after S seconds of wall time (default: none), keeping the best\n"
    "  --batch B           structures per Adam step (default 32)\n"
    "  --lr X, --lr-min X  learning rate (default 1e-3) and its floor (default 1e-5)\n"
    "  --patience N        epochs without improvement before stopping (default 40)\n"
    "  --w-energy X        weight of the energy term (default 1)\n"
    "  --w-forces X        weight of the force term (default 1)\n"
    "  --valid-fraction F  validation share of the structures (default 0.1)\n"
    "  --test-fraction F   test share (default 0.1); both are shares of the structures not\n"
    "                      held out by --test-sources\n"
    "  --test-sources LIST structures with these source tags (comma-separated, e.g.\n"
    "                      md900,tetramer) all go to the test set: held-out trajectories and\n"
    "                      clusters never seen in training\n"
    "  --seed S            split, shuffles and initial weights (default 1)\n"
    "  --threads N         CPU threads (default: OpenMP's)\n"
    "  --checkpoint FILE   after every epoch, write to FILE the best model so far and the state\n"
    "                      of training (weights, Adam moments, epoch, shuffle order and RNG,\n"
    "                      learning rate, early-stopping counters); when FILE exists, continue\n"
    "                      that run from it: killed or stopped by --time-limit, then rerun with\n"
    "                      the same arguments, it ends with the model an uninterrupted run\n"
    "                      gives. A FILE of another run (other arguments or dataset) is refused\n"
    "  --init MODEL.h5     start from this model instead of random weights: a trained model\n"
    "                      continues (its e0, scale and function kept); a model from `mlff init`\n"
    "                      is a fresh start with its weights. --hidden and --activation do not\n"
    "                      apply.\n"
    "  --dispersion FILE   give the model this long-range dispersion term (the /dispersion group\n"
    "                      of FILE, e.g. from scripts/dispersion_d4.py): the networks then learn\n"
    "                      the teacher minus it, and the model evaluates both (docs/model.md)\n"
    "  --electrostatics SYM=Q,...[,A-B=D,...][,alpha=A][,cutoff=R][,bond_factor=F]\n"
    "                      give the model fixed atomic charges (e, every element) interacting by\n"
    "                      Coulomb's law with damped shifted forces (alpha Å^-1, default 0.1;\n"
    "                      cutoff Å, default the dispersion's, else 12); the networks learn the\n"
    "                      teacher minus it (bench/dimer_decompose.py --fit-charges fits them).\n"
    "                      A-B=D: a bond-charge increment, an atom A gains D (e) for each bond to\n"
    "                      a B, which loses D (bonded: closer than F x the sum of covalent radii,\n"
    "                      F default 1.25; a hydrogen to its nearest atom alone); charges not\n"
    "                      given are then 0 (bench/bond_increments.py fits them)\n"
    "  --committee K       train K students (default 1) on the same split, member k from\n"
    "                      initial weights and shuffles of seed + k, into one model file: it\n"
    "                      evaluates to their mean, and the spread of their forces (the\n"
    "                      per-atom force deviation) is the uncertainty. --time-limit is shared\n"
    "                      out among the members; --checkpoint is written as each is done\n";

static int usage(const char *fmt, const char *arg) {
  return cli_usage_error("train", USAGE, fmt, arg);
}

/* ---- progress ------------------------------------------------------------------------------ */

typedef struct {
  int tty;
  int printed;
  const char *checkpoint;
} progress_state;

static void on_progress(const mlff_train_progress *p, void *user) {
  progress_state *ps = user;
  char el[32], eta[32], member[32] = "";
  if (p->n_members > 1) snprintf(member, sizeof member, "member %d/%d  ", p->member + 1, p->n_members);
  if (!ps->printed && p->epoch > 1 && p->n_members <= 1)
    fprintf(stderr, "mlff train: resumed from checkpoint '%s' after epoch %d\n", ps->checkpoint,
            p->epoch - 1);
  cli_fmt_time(p->elapsed_s, el, sizeof el);
  cli_fmt_time(p->eta_s, eta, sizeof eta);
  fprintf(stderr,
          "%s%sepoch %d/%d  train loss %.4g  valid loss %.4g  E MAE %.3f meV/atom  F MAE %.2f "
          "meV/Å  lr %.2g  %s  ETA %s%s%s",
          ps->tty ? "\r\033[K" : "", member, p->epoch, p->max_epochs, p->train_loss, p->valid_loss,
          1e3 * p->valid_energy_mae, 1e3 * p->valid_force_mae, p->lr, el, eta,
          p->improved ? "  *" : "", ps->tty ? "" : "\n");
  fflush(stderr);
  ps->printed = 1;
}

/* ---- the command --------------------------------------------------------------------------- */

static int run(int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    printf("usage: %s\n\n%s", USAGE, HELP);
    return 0;
  }
  mlff_train_options o;
  mlff_train_options_default(&o);
  o.committee = 1;
  const char *data = NULL, *out = NULL, *elements = NULL, *hidden = NULL, *act = NULL,
             *init = NULL, *test_sources = NULL, *dispersion = NULL, *electrostatics = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    long long n;
    double x;
#define NEED_VALUE() \
  do { if (!v) return usage("option '%s' needs a value", a); i++; } while (0)
#define COUNT(field, what)                                                                   \
  do {                                                                                       \
    NEED_VALUE();                                                                            \
    if (!cli_parse_count(v, &n) || n > 1000000000LL)                                         \
      return usage(what " needs a non-negative integer, not '%s'", v);                      \
    field = n;                                                                               \
  } while (0)
#define REAL(field, what)                                                                    \
  do {                                                                                       \
    NEED_VALUE();                                                                            \
    if (!cli_parse_number(v, &x)) return usage(what " needs a number, not '%s'", v);       \
    field = x;                                                                               \
  } while (0)
    if (!strcmp(a, "--out")) { NEED_VALUE(); out = v; }
    else if (!strcmp(a, "--elements")) { NEED_VALUE(); elements = v; }
    else if (!strcmp(a, "--hidden")) { NEED_VALUE(); hidden = v; }
    else if (!strcmp(a, "--activation")) { NEED_VALUE(); act = v; }
    else if (!strcmp(a, "--init")) { NEED_VALUE(); init = v; }
    else if (!strcmp(a, "--test-sources")) { NEED_VALUE(); test_sources = v; }
    else if (!strcmp(a, "--dispersion")) { NEED_VALUE(); dispersion = v; }
    else if (!strcmp(a, "--electrostatics")) { NEED_VALUE(); electrostatics = v; }
    else if (!strcmp(a, "--checkpoint")) { NEED_VALUE(); o.checkpoint = v; }
    else if (!strcmp(a, "--epochs")) COUNT(o.max_epochs, "--epochs");
    else if (!strcmp(a, "--batch")) COUNT(o.batch_size, "--batch");
    else if (!strcmp(a, "--patience")) COUNT(o.patience, "--patience");
    else if (!strcmp(a, "--threads")) COUNT(o.n_threads, "--threads");
    else if (!strcmp(a, "--seed")) COUNT(o.seed, "--seed");
    else if (!strcmp(a, "--committee")) COUNT(o.committee, "--committee");
    else if (!strcmp(a, "--time-limit")) REAL(o.time_limit_s, "--time-limit");
    else if (!strcmp(a, "--lr")) REAL(o.lr, "--lr");
    else if (!strcmp(a, "--lr-min")) REAL(o.lr_min, "--lr-min");
    else if (!strcmp(a, "--w-energy")) REAL(o.w_energy, "--w-energy");
    else if (!strcmp(a, "--w-forces")) REAL(o.w_forces, "--w-forces");
    else if (!strcmp(a, "--valid-fraction")) REAL(o.valid_fraction, "--valid-fraction");
    else if (!strcmp(a, "--test-fraction")) REAL(o.test_fraction, "--test-fraction");
    else if (a[0] == '-' && a[1]) return usage("unknown option '%s'", a);
    else if (!data) data = a;
    else return usage("unexpected argument '%s' (one dataset file)", a);
#undef NEED_VALUE
#undef COUNT
#undef REAL
  }
  if (!data) return usage("%s", "no dataset file given");
  if (o.committee < 1 || o.committee > 64)
    return usage("--committee needs 1..64 members, not %s", o.committee < 1 ? "0" : "more than 64");
  if (!out) return usage("%s", "--out MODEL.h5 is required");
  if (init && (hidden || act))
    return usage("%s describes a new network; with --init the model's own is trained",
                 hidden ? "--hidden" : "--activation");
  { /* fail now, not after an hour of training, when the output cannot be written */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", out);
    const char *dn = dirname(dir);
    if (access(dn, W_OK) != 0) {
      fprintf(stderr, "mlff train: cannot write the model into directory '%s': %s\n", dn,
              strerror(errno));
      return 1;
    }
  }

  mlff_dataset *d = NULL;
  mlff_model *m = NULL;
  int rc = 1;
  if (mlff_dataset_load(data, &d)) return cli_fail("train");
  int N = mlff_dataset_size(d);
  /* elements: given, or the dataset's in order of atomic number */
  const char *syms[MLFF_MAX_ELEMENTS];
  char ebuf[256];
  int ne = 0;
  if (elements) {
    snprintf(ebuf, sizeof ebuf, "%s", elements);
    for (char *p = strtok(ebuf, ","); p; p = strtok(NULL, ",")) {
      if (ne == MLFF_MAX_ELEMENTS) {
        rc = usage("--elements: more than 16 elements in '%s'", elements);
        goto done;
      }
      syms[ne++] = p;
    }
    if (!ne) {
      rc = usage("--elements: no element in '%s'", elements);
      goto done;
    }
  } else {
    char seen[128] = {0};
    for (int i = 0; i < N; i++) {
      mlff_frame f;
      const char *src;
      if (mlff_dataset_get(d, i, &f, &src)) {
        rc = cli_fail("train");
        goto done;
      }
      for (int a = 0; a < f.n_atoms; a++)
        if (f.atomic_numbers[a] > 0 && f.atomic_numbers[a] < 128) seen[f.atomic_numbers[a]] = 1;
    }
    for (int z = 1; z < 128; z++)
      if (seen[z]) {
        if (ne == MLFF_MAX_ELEMENTS) {
          fprintf(stderr, "mlff train: %s holds more than %d elements\n", data, MLFF_MAX_ELEMENTS);
          goto done;
        }
        syms[ne++] = mlff_element_symbol(z);
      }
  }
  if (init) {
    if (mlff_model_load(init, &m)) {
      rc = cli_fail("train");
      goto done;
    }
    if (elements) {
      int same = ne == mlff_model_n_elements(m);
      for (int e = 0; same && e < ne; e++) same = !strcmp(syms[e], mlff_model_element(m, e));
      if (!same) {
        fprintf(stderr, "mlff train: --elements %s differs from the elements of %s (", elements,
                init);
        for (int e = 0; e < mlff_model_n_elements(m); e++)
          fprintf(stderr, "%s%s", e ? "," : "", mlff_model_element(m, e));
        fprintf(stderr, "); leave --elements out to train that model\n");
        goto done;
      }
    }
    mlff_model_set_attr(m, "created", ""); /* a new model: stamped when written */
  } else {
    int widths[MLFF_MAX_HIDDEN], nh = 0;
    char hbuf[256];
    snprintf(hbuf, sizeof hbuf, "%s", hidden ? hidden : "128,64,64");
    for (char *p = strtok(hbuf, ","); p; p = strtok(NULL, ",")) {
      long long w;
      if (nh == MLFF_MAX_HIDDEN || !cli_parse_count(p, &w) || w < 1 || w > 65536) {
        rc = usage("--hidden: '%s' is not a list of 1..8 positive widths", hidden);
        goto done;
      }
      widths[nh++] = (int)w;
    }
    if (!nh) {
      rc = usage("--hidden: no width in '%s'", hidden);
      goto done;
    }
    mlff_model_spec spec = {0};
    spec.n_elements = ne;
    spec.elements = syms;
    spec.n_hidden = nh;
    spec.hidden = widths;
    spec.seed = o.seed;
    if (!act || !strcmp(act, "silu")) spec.activation = MLFF_ACT_SILU;
    else if (!strcmp(act, "celu")) spec.activation = MLFF_ACT_CELU;
    else {
      rc = usage("--activation must be silu or celu, not '%s'", act);
      goto done;
    }
    mlff_descriptor_params_ani1x(&spec.descriptor);
    if (mlff_model_create(&spec, &m)) {
      rc = cli_fail("train");
      goto done;
    }
  }
  if (dispersion && mlff_model_load_dispersion(m, dispersion)) {
    rc = cli_fail("train");
    goto done;
  }
  char ewhy[512];
  if (electrostatics && cli_set_electrostatics(m, electrostatics, ewhy, sizeof ewhy)) {
    rc = usage("--electrostatics: %s", ewhy);
    goto done;
  }
  char sha[65];
  if (mlff_file_sha256(data, sha) || mlff_model_set_attr(m, "dataset_sha256", sha)) {
    rc = cli_fail("train");
    goto done;
  }
  fprintf(stderr, "mlff train: %s: %d structures; model: elements", data, N);
  for (int e = 0; e < mlff_model_n_elements(m); e++)
    fprintf(stderr, " %s", mlff_model_element(m, e));
  fprintf(stderr, ", %d features%s%s", mlff_model_n_features(m),
          init ? ", continuing from --init" : "",
          mlff_model_dispersion(m) || mlff_model_electrostatics(m)
              ? mlff_model_electrostatics(m)
                    ? (mlff_model_dispersion(m) ? ", with long-range dispersion and electrostatics "
                                                  "(the networks learn the rest)"
                                                : ", with electrostatics (the networks learn the "
                                                  "rest)")
                    : ", with long-range dispersion (the networks learn the rest)"
              : "");
  if (o.committee > 1) fprintf(stderr, "; a committee of %d members", o.committee);
  fprintf(stderr, "\n");
  if (o.checkpoint) {
    /* what a killed run left: its temporary files, and the checkpoint this run continues */
    int stale = cli_remove_stale_temps(o.checkpoint);
    if (stale)
      fprintf(stderr, "mlff train: removed %d temporary file%s of a killed run ('%s.tmp<pid>')\n",
              stale, stale == 1 ? "" : "s", o.checkpoint);
    if (access(o.checkpoint, F_OK) == 0) {
      if (o.committee > 1) { /* it holds the members done so far, not a state to go on from */
        fprintf(stderr,
                "mlff train: --checkpoint '%s' exists, and a committee's checkpoint cannot be "
                "continued yet (a single network's can): remove it or give another file\n",
                o.checkpoint);
        rc = 1;
        goto done;
      }
      fprintf(stderr, "mlff train: --checkpoint '%s' exists: continuing its run\n", o.checkpoint);
    }
  }
  cli_remove_stale_temps(out);
  progress_state ps = {isatty(2), 0, o.checkpoint};
  o.progress = on_progress;
  o.user = &ps;
  o.test_sources = test_sources;
  mlff_status st = mlff_train(m, d, &o);
  if (ps.printed && ps.tty) fprintf(stderr, "\n");
  if (st) {
    rc = cli_fail("train");
    goto done;
  }
  if (mlff_model_save(m, out)) {
    rc = cli_fail("train");
    goto done;
  }
  const char *js = mlff_model_attr(m, "training_summary");
  char stop[64];
  printf("wrote %s: %d epochs (stop: %s), best validation at epoch %d: energy MAE %.3f "
         "meV/atom, force MAE %.2f meV/Å\n",
         out, (int)cli_summary_number(js, NULL, "epochs"), cli_summary_string(js, "stop", stop, sizeof stop),
         (int)cli_summary_number(js, NULL, "best_epoch"),
         cli_summary_number(js, "best_valid", "energy_mae_meV_per_atom"),
         cli_summary_number(js, "best_valid", "force_mae_meV_per_A"));
  if (mlff_model_committee_size(m) > 1)
    printf("committee of %d members (validation above: member 0's; test below: their mean)\n",
           mlff_model_committee_size(m));
  double tn = cli_summary_number(js, "test", "structures");
  if (tn > 0)
    printf("test (%d structures): energy MAE %.3f meV/atom, force MAE %.2f meV/Å, RMSE %.2f "
           "meV/Å\n",
           (int)tn, cli_summary_number(js, "test", "energy_mae_meV_per_atom"),
           cli_summary_number(js, "test", "force_mae_meV_per_A"),
           cli_summary_number(js, "test", "force_rmse_meV_per_A"));
  printf("split: %d train, %d validation, %d test structures; descriptors and Jacobians "
         "%.1f MiB (Jacobians %.1f MiB, float32), computed in %.1f s; training %.1f s\n",
         (int)cli_summary_number(js, "dataset", "train"), (int)cli_summary_number(js, "dataset", "valid"),
         (int)cli_summary_number(js, "dataset", "test"),
         cli_summary_number(js, "precomputed", "total_bytes") / 1048576.0,
         cli_summary_number(js, "precomputed", "jacobian_bytes") / 1048576.0,
         cli_summary_number(js, "precomputed", "seconds"), cli_summary_number(js, NULL, "train_time_s"));
  rc = 0;
done:
  mlff_model_free(m);
  mlff_dataset_free(d);
  return rc;
}

const cli_command CMD_TRAIN = {"train", run,
                               "fit a student model to a labelled dataset (Adam, analytic forces)",
                               USAGE, HELP};
