/* test_lammps_cases.cpp — the cases of test_lammps that run on several ranks (mpi_box, mpi_compare,
 * mpi_sparse), with long-range dispersion, through the lmp binary, and the extrapolation
 * warning (harness.h). */
#include "harness.h"

namespace mlff_test {

std::string forces_file(int np)
{
  return std::string("mpi_box") + (g_gpu ? "_gpu" : "") + "_np" + std::to_string(np) + ".forces";
}

// MPI: a periodic box of 96 molecules; LAMMPS on any rank count equals the core (and so each
// other), forces compared per atom ID. On the CPU the model has long-range dispersion and
// electrostatics with bond-charge increments.
int case_mpi_box()
{
  const std::string model = "mpi_box_model.h5";
  // on the CPU with long-range dispersion (8 Å: ghosts beyond the descriptor's cutoff)
  // and its three-body term (6 Å): triples through ghosts on every rank; and charges from
  // bonds (C-H increments, 8 Å): each rank's local atoms' charges sent to their ghosts (a
  // ghost with a charge of its own, missing a bond at the shell's edge, would differ)
  mlff_dispersion_params disp = test_dispersion(8.0, 0);
  disp.s9 = 5.0, disp.alp = 16.0, disp.cutoff3 = 6.0;
  mlff_electrostatics_params coul;
  memset(&coul, 0, sizeof coul);
  coul.alpha = 0.2, coul.cutoff = 8.0, coul.bond_factor = 1.25;
  coul.charges[0] = 0.02, coul.charges[1] = -0.01; /* C, H: the H's +0.12 in all */
  coul.increments[0][1] = -0.13, coul.increments[1][0] = 0.13;
  coul.bond_radii[0] = 0.76, coul.bond_radii[1] = 0.31;
  make_model(model, 17, g_gpu ? nullptr : &disp, g_gpu ? nullptr : &coul);
  write_data("mpi_box.data", liquid(4, 4, 6, 6.0, 11), TYPES_CH);
  Eval e;
  {
    Lmp l;
    Setup s;
    s.data = "mpi_box.data";
    s.model = model;
    if (g_gpu) s.pair_extra = " device gpu";
    // a skin of 0.01 Å: ghosts reach 8.01 Å, so that a ghost within the cutoff may lack its
    // bonded partner (its charge must come from its owner); the molecules moved off the
    // lattice that puts the boundaries between them
    if (!g_gpu) s.extra = "neighbor 0.01 bin\ndisplace_atoms all move 1.3 2.1 2.9 units box\n";
    setup(l, s);
    e = evaluate(l);
  }
  Ref r = reference(model, e, SPECIES_CH);
  char what[64];
  snprintf(what, sizeof(what), "96 molecules, %d rank(s)%s", g_size, g_gpu ? ", GPU" : "");
  compare_with_core(what, e, r, g_gpu ? GPU_TOL : TOL);
  if (g_rank == 0) {    // mpi_compare reads them
    FILE *f = fopen(forces_file(g_size).c_str(), "w");
    if (f) {
      fprintf(f, "# id fx fy fz (eV/A), %d ranks; E = %.17g eV\n", g_size, e.pe);
      for (int i = 0; i < e.n; i++)
        fprintf(f, "%d %.17g %.17g %.17g\n", i + 1, e.f[3 * i], e.f[3 * i + 1], e.f[3 * i + 2]);
      fclose(f);
    }
  }
  return 0;
}

// LAMMPS with the standard input (setup) on a data file and a model, evaluated once.
static Eval evaluate_with(const std::string &data, const std::string &model)
{
  Lmp l;
  Setup s;
  s.data = data;
  s.model = model;
  setup(l, s);
  return evaluate(l);
}

// Long-range dispersion (9 Å, in boxes of 12 Å: ghosts over more than one image): LAMMPS equals
// the core (energy, forces, per-atom energy and virial); the virial is -dE/dstrain; with the
// tail, pe and pressure carry it (as the core's energy and virial do) and pe/atom does not; and
// the same with its three-body term.
int case_dispersion()
{
  const std::string model = "disp_model.h5", model_tail = "disp_tail_model.h5";
  const mlff_dispersion_params p = test_dispersion(9.0, 0), pt = test_dispersion(9.0, 1);
  make_model(model, 21, &p);
  make_model(model_tail, 21, &pt);
  struct {
    const char *name;
    Sys sys;
  } systems[] = {
      {"dimer, 20 A box", dimer_in_box(20.0, 5)},
      {"8 molecules, triclinic 12 A", liquid(2, 2, 2, 6.0, 6, 1.2, -0.8, 0.9)},
  };
  for (auto &t : systems) {
    write_data("disp.data", t.sys, TYPES_CH);
    Eval e = evaluate_with("disp.data", model), et = evaluate_with("disp.data", model_tail);
    Ref r = reference(model, e, SPECIES_CH), rt = reference(model_tail, et, SPECIES_CH);
    compare_with_core(t.name, e, r);
    // the tail: whole-system energy and pressure, no per-atom share
    double eE = rel1(et.pe, rt.E), eW = rel_err(et.W, rt.W, 6), eF = rel_err(et.f, rt.F);
    double tail = et.pe - et.pesum;
    say("  %-28s with tail: rel.err E %.1e F %.1e virial %.1e; tail %.6f eV (core %.6f)\n",
        t.name, eE, eF, eW, tail, rt.E - r.E);
    CHECK(eE <= TOL && eF <= TOL && eW <= TOL, "%s: with the tail LAMMPS differs from the core",
          t.name);
    CHECK(rel1(tail, rt.E - r.E) <= 1e-8, "%s: pe - sum(pe/atom) %.10g is not the tail %.10g",
          t.name, tail, rt.E - r.E);
    CHECK(tail < 0 && (et.W[0] - e.W[0]) < 0, "%s: the tail must bind (energy and pressure)",
          t.name);
  }
  check_virial("dispersion, 8 molecules", liquid(2, 2, 2, 6.0, 7, 0.6, 0.3, -0.4), model, true);
  // with the three-body term (7 Å) too: LAMMPS equals the core, the virial is -dE/dstrain
  const std::string model3 = "disp3_model.h5";
  mlff_dispersion_params p3 = test_dispersion(9.0, 0);
  p3.s9 = 5.0, p3.alp = 16.0, p3.cutoff3 = 7.0;
  make_model(model3, 21, &p3);
  for (auto &t : systems) {
    write_data("disp3.data", t.sys, TYPES_CH);
    Eval e = evaluate_with("disp3.data", model3);
    compare_with_core((std::string(t.name) + ", three-body").c_str(), e,
                      reference(model3, e, SPECIES_CH));
  }
  check_virial("three-body dispersion, 8 molecules", liquid(2, 2, 2, 6.0, 7, 0.6, 0.3, -0.4),
               model3, true);
  // and with its tail (tail3): pe and pressure carry it as the core's energy and virial do (on
  // any rank count: added once), pe/atom does not
  const std::string model3t = "disp3t_model.h5";
  p3.tail3 = 50.0;
  make_model(model3t, 21, &p3);
  for (auto &t : systems) {
    write_data("disp3t.data", t.sys, TYPES_CH);
    const Eval e[2] = {evaluate_with("disp3t.data", model3), evaluate_with("disp3t.data", model3t)};
    Ref r = reference(model3, e[0], SPECIES_CH), rt = reference(model3t, e[1], SPECIES_CH);
    double eE = rel1(e[1].pe, rt.E), eW = rel_err(e[1].W, rt.W, 6), eF = rel_err(e[1].f, rt.F);
    double tail = e[1].pe - e[1].pesum;
    say("  %-28s with tail3: rel.err E %.1e F %.1e virial %.1e; tail %.6f eV (core %.6f)\n",
        t.name, eE, eF, eW, tail, rt.E - r.E);
    CHECK(eE <= TOL && eF <= TOL && eW <= TOL, "%s: with tail3 LAMMPS differs from the core",
          t.name);
    CHECK(rel1(tail, rt.E - r.E) <= 1e-8 && tail > 0,
          "%s: pe - sum(pe/atom) %.10g is not the three-body tail %.10g", t.name, tail, rt.E - r.E);
    CHECK(rel1(e[1].W[0] - e[0].W[0], 2.0 * tail) <= 1e-6,
          "%s: the tail3 virial W_xx %.10g is not 2 E %.10g", t.name, e[1].W[0] - e[0].W[0],
          2.0 * tail);
  }
  return 0;
}

// Committees (3 members, a dispersion term common to them): LAMMPS's energy and forces are the
// core's mean; the per-atom force deviation (fix pair ... force_deviation) and its maximum
// (compute pair mlff) equal the core's, in a periodic box whose ghost atoms carry members'
// forces (folded by reverse communication; on any rank count). Refusals with a single model.
int case_committee()
{
  const std::string model = "committee_model.h5", single = "committee_single.h5";
  const mlff_dispersion_params disp = test_dispersion(8.0, 0);
  make_model(single, 31, &disp);
  for (int k = 1; k < 3; k++) make_model("committee_member" + std::to_string(k) + ".h5", 31 + k, &disp);
  if (g_rank == 0) { /* make_model is collective: the members first, then join them */
    mlff_model *m = nullptr, *o = nullptr;
    if (mlff_model_load(single.c_str(), &m) != MLFF_OK) die(mlff_last_error());
    for (int k = 1; k < 3; k++) {
      const std::string p = "committee_member" + std::to_string(k) + ".h5";
      if (mlff_model_load(p.c_str(), &o) != MLFF_OK || mlff_model_committee_add(m, o) != MLFF_OK)
        die(mlff_last_error());
      mlff_model_free(o);
    }
    if (mlff_model_save(m, model.c_str()) != MLFF_OK) die(mlff_last_error());
    mlff_model_free(m);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  struct {
    const char *name;
    Sys sys;
  } systems[] = {
      {"dimer, 20 A box", dimer_in_box(20.0, 8)},
      {"8 molecules, triclinic 12 A", liquid(2, 2, 2, 6.0, 9, 1.2, -0.8, 0.9)},
  };
  for (auto &t : systems) {
    write_data("committee.data", t.sys, TYPES_CH);
    Lmp l;
    Setup s;
    s.data = "committee.data";
    s.model = model;
    s.pair_extra = " device cpu warn_uncertainty 1e-3";
    setup(l, s);
    l.cmd("compute dev all pair mlff\nfix fdev all pair 1 mlff force_deviation 0");
    Eval e = evaluate(l);
    compare_with_core(t.name, e, reference(model, e, SPECIES_CH));
    // the core's deviation of the same atoms
    std::vector<double> dev(e.n), ref(e.n);
    lammps_gather(l.h, (char *) "f_fdev", 1, 1, dev.data());
    const double mx = ((double *) lammps_extract_compute(l.h, "dev", LMP_STYLE_GLOBAL,
                                                         LMP_TYPE_VECTOR))[0];
    mlff_model *m = nullptr;
    mlff_calc *c = nullptr;
    mlff_calc_options o = {MLFF_DEVICE_CPU, 0, 1, 0, 0, 0.0};
    if (mlff_model_load(model.c_str(), &m) != MLFF_OK || mlff_calc_create(m, &o, &c) != MLFF_OK)
      die(mlff_last_error());
    std::vector<int> sp(e.n);
    for (int i = 0; i < e.n; i++) sp[i] = SPECIES_CH[e.type[i]];
    mlff_structure st = {e.n, e.x.data(), sp.data(), e.box.cell, {1, 1, 1}};
    mlff_result r;
    memset(&r, 0, sizeof(r));
    r.force_deviation = ref.data();
    if (mlff_compute(c, &st, &r) != MLFF_OK) die(mlff_last_error());
    const double eD = rel_err(dev, ref), eM = rel1(mx, r.max_force_deviation);
    say("  %-28s committee of 3: max force deviation %.6f eV/A (core %.6f); rel.err per atom "
        "%.1e, max %.1e\n", t.name, mx, r.max_force_deviation, eD, eM);
    CHECK(eD <= TOL && eM <= TOL && mx > 1e-3, "%s: the force deviation differs from the core",
          t.name);
    mlff_calc_free(c);
    mlff_model_free(m);
  }
  // a single model: no deviation to give, and warn_uncertainty refused
  write_data("committee.data", systems[0].sys, TYPES_CH);
  for (int k = 0; k < 2; k++) {
    Lmp l;
    Setup s;
    s.data = "committee.data";
    s.model = single;
    if (k == 0) {
      setup(l, s);
      CHECK(!l.try_cmd("fix fdev all pair 1 mlff force_deviation 0") &&
                l.last_error.find("force_deviation needs a committee model") != std::string::npos,
            "fix pair force_deviation of a single model: '%s'", l.last_error.c_str());
    } else {
      s.pair_extra = " device cpu warn_uncertainty 0.1";
      std::string c = "units metal\natom_style atomic\nread_data committee.data\nplugin load " +
                      plugin_path() + "\npair_style mlff " + single + s.pair_extra;
      CHECK(!l.try_cmd(c) && l.last_error.find("warn_uncertainty needs a committee model") !=
                                 std::string::npos,
            "warn_uncertainty with a single model: '%s'", l.last_error.c_str());
    }
  }
  return 0;
}

// MPI: the force files that mpi_box wrote on 1, 2 and 4 ranks agree with each other.
bool read_forces(const std::string &path, double &E, std::vector<double> &F)
{
  FILE *f = fopen(path.c_str(), "r");
  if (!f) return false;
  char line[512];
  F.clear();
  E = NAN;
  while (fgets(line, sizeof(line), f)) {
    if (line[0] == '#') {
      const char *p = strstr(line, "E = ");
      if (p) E = atof(p + 4);
      continue;
    }
    int id;
    double v[3];
    if (sscanf(line, "%d %lf %lf %lf", &id, &v[0], &v[1], &v[2]) != 4) continue;
    if ((int) F.size() < 3 * id) F.resize(3 * id, NAN);
    for (int d = 0; d < 3; d++) F[3 * (id - 1) + d] = v[d];
  }
  fclose(f);
  return std::isfinite(E) && !F.empty();
}

int case_mpi_compare()
{
  double E1;
  std::vector<double> F1;
  if (!read_forces(forces_file(1), E1, F1)) {
    CHECK(false, "%s missing: run mpi_box on 1 rank first", forces_file(1).c_str());
    return 1;
  }
  const double tol = g_gpu ? GPU_TOL : TOL;
  for (int np : {2, 4}) {
    double E;
    std::vector<double> F;
    std::string path = forces_file(np);
    if (!read_forces(path, E, F)) {
      CHECK(false, "%s missing", path.c_str());
      continue;
    }
    CHECK(F.size() == F1.size(), "%s: %zu atoms, 1 rank: %zu", path.c_str(), F.size() / 3,
          F1.size() / 3);
    if (F.size() != F1.size()) continue;
    double eE = rel1(E, E1), eF = rel_err(F, F1);
    say("  %d ranks vs 1 rank (per atom ID): rel.err E %.1e F %.1e\n", np, eE, eF);
    CHECK(eE <= tol && eF <= tol, "%d ranks differ from 1 rank: E %.3g F %.3g", np, eE, eF);
  }
  return 0;
}

// MPI: one molecule in a large box: most ranks own no atom.
int case_mpi_sparse()
{
  const std::string model = "mpi_sparse_model.h5";
  make_model(model, 18);
  write_data("mpi_sparse.data", benzene_in_box(40.0, 12), TYPES_CH);
  Eval e;
  int empty = 0;
  {
    Lmp l;
    Setup s;
    s.data = "mpi_sparse.data";
    s.model = model;
    if (g_gpu) s.pair_extra = " device gpu";
    // a skin of 0.01 Å: ghosts reach 8.01 Å, so that a ghost within the cutoff may lack its
    // bonded partner (its charge must come from its owner); the molecules moved off the
    // lattice that puts the boundaries between them
    if (!g_gpu) s.extra = "neighbor 0.01 bin\ndisplace_atoms all move 1.3 2.1 2.9 units box\n";
    setup(l, s);
    e = evaluate(l);
    int nlocal = lammps_extract_setting(l.h, "nlocal");
    int mine = nlocal == 0;
    MPI_Allreduce(&mine, &empty, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    // a few MD steps with empty ranks
    l.cmd("velocity all create 300 1234 mom yes rot yes\ntimestep 0.0005\nfix nve all nve\n"
          "run 20 post no");
  }
  say("  %d of %d ranks own no atom\n", empty, g_size);
  if (g_size > 1) CHECK(empty > 0, "expected ranks without atoms");
  Ref r = reference(model, e, SPECIES_CH);
  char what[64];
  snprintf(what, sizeof(what), "1 molecule, %d rank(s)%s", g_size, g_gpu ? ", GPU" : "");
  compare_with_core(what, e, r, g_gpu ? GPU_TOL : TOL);
  return 0;
}

// The real `lmp` binary loads the plugin by absolute path, with LD_LIBRARY_PATH reaching
// liblammps only (libmlff through the plugin's RPATH), and prints the core's energy.
#if defined(MLFF_LMP_BINARY) && defined(MLFF_LAMMPS_LIBDIR)
// Run the lmp executable on the input text (written to in.NAME, output in NAME.out); its
// exit status, and its whole output in *out.
int run_lmp_binary(const std::string &name, const std::string &input, std::string *out)
{
  FILE *f = fopen(("in." + name).c_str(), "w");
  fputs(input.c_str(), f);
  fclose(f);
  std::string cmd = std::string("env -u LD_LIBRARY_PATH LD_LIBRARY_PATH=") + MLFF_LAMMPS_LIBDIR +
                    " OMP_NUM_THREADS=1 " + MLFF_LMP_BINARY + " -in in." + name +
                    " -log none -nocite > " + name + ".out 2>&1";
  int rc = system(cmd.c_str());
  out->clear();
  FILE *o = fopen((name + ".out").c_str(), "r");
  char line[1024];
  while (o && fgets(line, sizeof(line), o)) *out += line;
  if (o) fclose(o);
  return rc;
}
#endif

int case_lmp_binary()
{
#if defined(MLFF_LMP_BINARY) && defined(MLFF_LAMMPS_LIBDIR)
  const std::string model = "lmp_binary_model.h5";
  make_model(model, 19);
  Sys sys = dimer_in_box(20.0, 13);
  write_data("lmp_binary.data", sys, TYPES_CH);
  if (g_rank != 0) return 0;
  std::string all;
  int rc = run_lmp_binary("lmp_binary",
                          "units metal\natom_style atomic\natom_modify map yes\nboundary p p p\n"
                          "read_data lmp_binary.data\nplugin load " MLFF_PLUGIN_PATH "\n"
                          "pair_style mlff " + model + " device cpu\n"
                          "pair_coeff * * C H\nthermo_style custom step pe\n"
                          "thermo_modify norm no\nrun 0\nprint \"MLFF_PE $(pe:%.17g)\"\n",
                          &all);
  double pe = NAN;
  size_t at = all.find("\nMLFF_PE ");
  if (at != std::string::npos) pe = atof(all.c_str() + at + 9);
  CHECK(rc == 0 && std::isfinite(pe), "lmp failed (rc %d):\n%s", rc, all.c_str());
  if (rc != 0 || !std::isfinite(pe)) return 0;
  // the core's energy of the same structure (open cell suffices: 20 A box, molecule centred)
  mlff_model *m = nullptr;
  mlff_model_load(model.c_str(), &m);
  mlff_calc_options opt = {MLFF_DEVICE_CPU, 0, 1, 0, 0, 0.0};
  mlff_calc *c = nullptr;
  mlff_calc_create(m, &opt, &c);
  std::vector<int> sp(sys.elem);
  double cell[9] = {20, 0, 0, 0, 20, 0, 0, 0, 20};
  mlff_structure st = {sys.n(), sys.x.data(), sp.data(), cell, {1, 1, 1}};
  mlff_result res;
  memset(&res, 0, sizeof(res));
  if (mlff_compute(c, &st, &res) != MLFF_OK) die(mlff_last_error());
  say("  lmp binary: pe %.12f eV, core %.12f eV, rel.err %.1e\n", pe, res.energy,
      rel1(pe, res.energy));
  CHECK(rel1(pe, res.energy) <= TOL, "lmp binary energy %.15g vs core %.15g", pe, res.energy);
  mlff_calc_free(c);
  mlff_model_free(m);
  return 0;
#else
  say("  lmp binary not known at build time: skipped\n");
  return 77;
#endif
}

// warn_extrapolation with the shipped model (it stores its training range): a benzene
// molecule as trained gives no warning; the same molecule squeezed to 75 % (atoms far closer
// than any training structure) gives one per checked step, naming the atoms, the element and
// the feature.
int case_extrapolation()
{
#if defined(MLFF_LMP_BINARY) && defined(MLFF_LAMMPS_LIBDIR) && defined(MLFF_SHIPPED_MODEL)
  Sys sys = benzene_in_box(20.0, 21), squeezed = sys;
  for (int i = 0; i < sys.n(); i++)
    for (int k = 0; k < 3; k++)
      squeezed.x[3 * i + k] = 10.0 + 0.75 * (sys.x[3 * i + k] - 10.0);
  write_data("extrap_ok.data", sys, TYPES_CH);
  write_data("extrap_squeezed.data", squeezed, TYPES_CH);
  if (g_rank != 0) return 0;
  std::string out[2];
  const char *names[2] = {"extrap_ok", "extrap_squeezed"};
  for (int k = 0; k < 2; k++) {
    int rc = run_lmp_binary(names[k],
                            std::string("units metal\natom_style atomic\nboundary p p p\n"
                                        "read_data ") + names[k] + ".data\nplugin load "
                                MLFF_PLUGIN_PATH "\npair_style mlff " MLFF_SHIPPED_MODEL
                                " device cpu warn_extrapolation 2\npair_coeff * * C H\n"
                                "timestep 0.0001\nfix 1 all nve\nrun 4\n",
                            &out[k]);
    CHECK(rc == 0, "%s: lmp failed (rc %d):\n%s", names[k], rc, out[k].c_str());
  }
  CHECK(out[0].find("outside the training range") == std::string::npos,
        "a benzene molecule as trained was reported as extrapolating:\n%s", out[0].c_str());
  // checked at steps 0, 2 and 4
  int n = 0;
  for (size_t at = 0; (at = out[1].find("WARNING: pair_style mlff: step ", at)) != std::string::npos; at++) n++;
  CHECK(n == 3, "squeezed benzene: %d warnings, expected 3 (steps 0, 2, 4):\n%s", n,
        out[1].c_str());
  for (const char *part : {"atom(s) outside the training range of model '", "Largest: element ",
                           " feature ", "spans out"})
    CHECK(out[1].find(part) != std::string::npos, "squeezed benzene: warning lacks '%s':\n%s",
          part, out[1].c_str());
  // the minimiser evaluates forces several times per step (line search): one warning a step
  std::string mini;
  int rc = run_lmp_binary("extrap_min",
                          "units metal\natom_style atomic\nboundary p p p\n"
                          "read_data extrap_squeezed.data\nplugin load " MLFF_PLUGIN_PATH
                          "\npair_style mlff " MLFF_SHIPPED_MODEL
                          " device cpu warn_extrapolation 1\npair_coeff * * C H\n"
                          "min_style fire\nminimize 0 0 6 60\n",
                          &mini);
  CHECK(rc == 0, "extrap_min: lmp failed (rc %d):\n%s", rc, mini.c_str());
  std::vector<long> steps;
  for (size_t at = 0; (at = mini.find("WARNING: pair_style mlff: step ", at)) != std::string::npos; at++)
    steps.push_back(atol(mini.c_str() + at + strlen("WARNING: pair_style mlff: step ")));
  bool repeated = false;
  for (size_t k = 1; k < steps.size(); k++) repeated |= steps[k] == steps[k - 1];
  CHECK(!steps.empty() && !repeated, "minimize: %zu warnings, a step warned twice: %s\n%s",
        steps.size(), repeated ? "yes" : "no", mini.c_str());
  size_t w = out[1].find("WARNING: pair_style mlff: step 0:");
  say("  %s\n", w == std::string::npos ? "(no warning)"
                                       : out[1].substr(w, out[1].find('\n', w) - w).c_str());
  return 0;
#else
  say("  lmp binary or shipped model not known at build time: skipped\n");
  return 77;
#endif
}

// Restart and data files. pair_style mlff stores nothing in a restart file (restartinfo 0):
// LAMMPS refuses to run after read_restart until pair_style and pair_coeff are given again
// (its own message, asserted here), and with them the continued run is the uninterrupted one.
// 20 steps of NVE in one go, against 10 steps, write_restart (or write_data), a new LAMMPS
// instance that reads the file, and 10 more: positions and velocities per atom ID.
struct Traj {
  std::vector<double> x, v;
  double pe = 0;
};

static Traj traj_of(Lmp &l)
{
  Traj t;
  const int n = (int) lammps_get_natoms(l.h);
  t.x.resize(3 * n);
  t.v.resize(3 * n);
  lammps_gather_atoms(l.h, (char *) "x", 1, 3, t.x.data());
  lammps_gather_atoms(l.h, (char *) "v", 1, 3, t.v.data());
  t.pe = lammps_get_thermo(l.h, "pe");
  return t;
}

int case_restart()
{
  const std::string model = "restart_model.h5";
  make_model(model, 23);
  // 8 molecules in a 12 A periodic box (atoms cross the faces and change ranks under MPI)
  write_data("restart.data", liquid(2, 2, 2, 6.0, 24), TYPES_CH);
  const std::string pair = "plugin load " + plugin_path() + "\npair_style mlff " + model +
                           " device cpu\npair_coeff * * C H\n";
  const std::string md = "timestep 0.0005\nfix nve all nve\nthermo_style custom step pe\n"
                         "thermo_modify norm no\nneigh_modify every 1 delay 0 check yes\n";
  const std::string start = "units metal\natom_style atomic\natom_modify map yes\n"
                            "boundary p p p\nread_data restart.data\n" + pair +
                            "velocity all create 300 4928459 mom yes rot yes dist gaussian\n" + md;
  Traj once;
  {
    Lmp l;
    l.cmd(start + "run 20 post no");
    once = traj_of(l);
  }
  {
    Lmp l;
    l.cmd(start + "run 10 post no\nwrite_restart restart.bin\nwrite_data restart_10.data\n");
  }
  // read_restart without pair_style: LAMMPS's own error names the style to give again
  {
    Lmp l;
    l.cmd("read_restart restart.bin\n");
    bool ran = l.try_cmd("run 0 post no");
    say("  read_restart, no pair_style   -> %s\n",
        l.last_error.substr(0, l.last_error.find('\n')).c_str());
    CHECK(!ran && l.last_error.find("Must re-specify non-restarted pair style (mlff) after "
                                    "read_restart") != std::string::npos,
          "run after read_restart without pair_style: %s", ran ? "ran" : l.last_error.c_str());
  }
  const char *how[2] = {"read_restart", "read_data"};
  const std::string read[2] = {"read_restart restart.bin\n",
                               "units metal\natom_style atomic\natom_modify map yes\n"
                               "boundary p p p\nread_data restart_10.data\n"};
  for (int k = 0; k < 2; k++) {
    Lmp l;
    l.cmd(read[k] + pair + md + "run 10 post no");
    Traj cont = traj_of(l);
    const long step = (long) lammps_get_thermo(l.h, "step");
    double dx = 0, dv = 0;
    for (size_t i = 0; i < once.x.size(); i++) {
      dx = std::max(dx, fabs(cont.x[i] - once.x[i]));
      dv = std::max(dv, fabs(cont.v[i] - once.v[i]));
    }
    say("  run 10, %-12s, run 10 vs run 20: max|dx| %.1e A, max|dv| %.1e A/ps, pe %.12f vs "
        "%.12f eV (step %ld)\n", how[k], dx, dv, cont.pe, once.pe, step);
    // only round-off may separate the runs (measured on 1 and 2 ranks: |dx| 0, |dv| 7e-15):
    // 1e-12 is ~1e3 x the last bit of a 12 A coordinate or a 10 A/ps velocity
    CHECK(dx <= 1e-12 && dv <= 1e-12, "%s: the continued run left the uninterrupted one "
          "(max|dx| %.3g A, max|dv| %.3g A/ps)", how[k], dx, dv);
    CHECK(rel1(cont.pe, once.pe) <= 1e-12, "%s: pe %.15g vs %.15g", how[k], cont.pe, once.pe);
    // read_data starts at step 0; read_restart at the step written
    CHECK(step == (k == 0 ? 20 : 10), "%s: at step %ld", how[k], step);
  }
  return 0;
}

// Guards in MD (one rank: error->one stops the rank that saw it): atoms far closer than in
// training, a non-finite position, non-finite forces each stop the run with a message naming
// the atoms by their IDs and the step. The data file numbers the atoms backwards from 112, so
// an atom's ID differs from its index in LAMMPS's arrays.
int case_guards()
{
  const std::string model = "guards_model.h5", model_inf = "guards_inf_model.h5";
  make_model(model, 25);
  mlff_dispersion_params disp = test_dispersion(8.0, 0);    // s6 C6 overflows: Inf energies
  disp.s6 = 1e300;
  for (int a = 0; a < 2; a++)
    for (int b = 0; b < 2; b++) disp.c6[a][b] = disp.c8[a][b] = 1e300;
  make_model(model_inf, 25, &disp);
  const Sys sys = benzene_in_box(20.0, 26);
  auto id_of = [&](int i) { return 112 - i; };
  if (g_rank == 0) {
    FILE *f = fopen("guards.data", "w");
    fprintf(f, "guards\n\n12 atoms\n2 atom types\n\n0 20 xlo xhi\n0 20 ylo yhi\n0 20 zlo zhi\n\n"
               "Masses\n\n1 12.011\n2 1.008\n\nAtoms # atomic\n\n");
    for (int i = 0; i < sys.n(); i++)
      fprintf(f, "%d %d %.17g %.17g %.17g\n", id_of(i), TYPES_CH[sys.elem[i]], sys.x[3 * i],
              sys.x[3 * i + 1], sys.x[3 * i + 2]);
    fclose(f);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  auto start = [&](Lmp &l, const std::string &m, const std::string &extra) {
    l.cmd("units metal\natom_style atomic\natom_modify map yes\nboundary p p p\n"
          "read_data guards.data\nplugin load " + plugin_path() + "\npair_style mlff " + m +
          " device cpu" + extra + "\npair_coeff * * C H\ntimestep 0.0005\nfix nve all nve\n"
          "neigh_modify every 1 delay 0 check yes\nthermo 1\n");
  };
  auto expect = [&](const char *what, const std::string &err, std::vector<std::string> parts) {
    say("  %-22s -> %s\n", what, err.substr(0, err.find('\n')).c_str());
    for (auto &p : parts)
      CHECK(err.find(p) != std::string::npos, "%s: the message lacks '%s': %s", what, p.c_str(),
            err.c_str());
  };
  // C atom 0 (ID 112) and H atom 6 (ID 106): H moved to 0.3 A from its C after 3 steps
  const int c0 = 0, h6 = 6;
  char moved[256];
  snprintf(moved, sizeof(moved), "set atom %d x $(x[%d]+0.3) y $(y[%d]) z $(z[%d])\n", id_of(h6),
           id_of(c0), id_of(c0), id_of(c0));
  {
    Lmp l;
    start(l, model, "");
    l.cmd("run 3 post no");
    l.cmd(moved);
    CHECK(!l.try_cmd("run 2 post no"), "close atoms: the run went on");
    expect("close atoms", l.last_error,
           {"pair_style mlff: step 3, atom IDs " + std::to_string(id_of(c0)) + " and " +
                std::to_string(id_of(h6)) + " (atoms ",
            "evaluation of model '" + model + "' failed: atoms ", " (C) and ", " (H) are 0.3 Å "
            "apart, closer than 0.5 x 0.74 Å (the H2 bond"});
  }
  {    // guard_close 0: the same step runs
    Lmp l;
    start(l, model, " guard_close 0");
    l.cmd("run 3 post no");
    l.cmd(moved);
    CHECK(l.try_cmd("run 2 post no"), "guard_close 0: %s", l.last_error.c_str());
  }
  {    // a recorded closest pair: 0.5 x 0.8 A stops a C-H pair at 0.35 A (the fallback would not)
    if (g_rank == 0) {
      mlff_model *m = nullptr;
      if (mlff_model_load(model.c_str(), &m) != MLFF_OK) die(mlff_last_error());
      mlff_model_set_min_distance(m, 0, 1, 0.8);
      if (mlff_model_save(m, "guards_min_model.h5") != MLFF_OK) die(mlff_last_error());
      mlff_model_free(m);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    snprintf(moved, sizeof(moved), "set atom %d x $(x[%d]+0.39) y $(y[%d]) z $(z[%d])\n",
             id_of(h6), id_of(c0), id_of(c0), id_of(c0));
    Lmp l;
    start(l, "guards_min_model.h5", "");
    l.cmd("run 2 post no");
    l.cmd(moved);
    CHECK(!l.try_cmd("run 2 post no"), "recorded closest pair: the run went on");
    expect("recorded closest pair", l.last_error,
           {"step 2, atom IDs 112 and 106", "are 0.39 Å apart, closer than 0.5 x 0.8 Å, the "
            "closest C-H pair in training"});
  }
  {    // a non-finite velocity makes a non-finite position at step 1 (LAMMPS, seeing no atom
       // move beyond the skin, builds no new list)
    Lmp l;
    start(l, model, "");
    l.cmd("run 0 post no");
    int id = 109;
    double v[3] = {NAN, 0.0, 0.0};
    lammps_scatter_atoms_subset(l.h, (char *) "v", 1, 3, 1, &id, v);
    CHECK(!l.try_cmd("run 3 post no"), "NaN position: the run went on");
    expect("non-finite position", l.last_error,
           {"pair_style mlff: step 1, atom ID 109 (atom ", "is not finite (nan "});
  }
  {    // non-finite forces (the dispersion overflows) at step 0
    Lmp l;
    start(l, model_inf, "");
    CHECK(!l.try_cmd("run 0 post no"), "non-finite forces: the run went on");
    expect("non-finite forces", l.last_error,
           {"pair_style mlff: step 0, atom ID ", "the model's force on atom ",
            "is not finite", "dispersion coefficients overflow"});
  }
  {    // guard_close outside [0, 1]
    Lmp l;
    l.cmd("units metal\natom_style atomic\nboundary p p p\nread_data guards.data\nplugin load " +
          plugin_path());
    CHECK(!l.try_cmd("pair_style mlff " + model + " guard_close 1.5"), "guard_close 1.5 accepted");
    expect("guard_close 1.5", l.last_error,
           {"pair_style mlff: guard_close needs a fraction in [0, 1] of the closest distance in "
            "training (0: off), not 1.5"});
  }
  return 0;
}

}    // namespace mlff_test
