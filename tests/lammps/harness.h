/* harness.h — what the cases of test_lammps share: the globals set by main, models and
 * structures made here, LAMMPS run through its C library interface, the core's answer on the
 * same atoms, and the comparisons. */
#ifndef MLFF_TEST_LAMMPS_HARNESS_H
#define MLFF_TEST_LAMMPS_HARNESS_H

#define LAMMPS_LIB_MPI 1
#include <mpi.h>

#include "library.h"
#include "mlff_distill.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#ifndef MLFF_PLUGIN_PATH
#error "MLFF_PLUGIN_PATH must name mlffplugin.so"
#endif

namespace mlff_test {


inline int g_rank = 0, g_size = 1;
inline int g_fail = 0;
inline bool g_verbose = false;
// `CASE gpu`: the MPI cases with device gpu (ranks bind to GPU local rank mod count)
inline bool g_gpu = false;

// the plugin: MLFF_PLUGIN where the tests run away from this build (the GPU machine)
inline std::string plugin_path()
{
  const char *p = getenv("MLFF_PLUGIN");
  return p && *p ? p : MLFF_PLUGIN_PATH;
}

inline void say(const char *fmt, ...)
{
  if (g_rank != 0) return;
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  fflush(stdout);
}

// every rank evaluates the same condition on the same (broadcast or gathered) data
#define CHECK(cond, ...)                                                   \
  do {                                                                     \
    if (!(cond)) {                                                         \
      if (g_rank == 0) {                                                   \
        fprintf(stdout, "FAIL (%s:%d) %s: ", __FILE__, __LINE__, #cond);   \
        fprintf(stdout, __VA_ARGS__);                                      \
        fputc('\n', stdout);                                               \
        fflush(stdout);                                                    \
      }                                                                    \
      g_fail = 1;                                                          \
    }                                                                      \
  } while (0)

[[noreturn]] inline void die(const std::string &msg)
{
  fprintf(stdout, "FATAL (rank %d): %s\n", g_rank, msg.c_str());
  fflush(stdout);
  MPI_Abort(MPI_COMM_WORLD, 1);
  exit(1);
}

// ---- random numbers: splitmix64, the same stream everywhere -----------------------------

struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed) {}
  uint64_t next()
  {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return (next() >> 11) * 0x1.0p-53; }
  double sym() { return 2.0 * uniform() - 1.0; }
};

// ---- models ------------------------------------------------------------------------------

const char *const ELEM_CH[2] = {"C", "H"};

// Rank 0 writes a random C/H model to path; everyone waits for it.
// A long-range dispersion of the magnitude of D4's in benzene (C = species 0, H = 1).
inline mlff_dispersion_params test_dispersion(double cutoff, int tail)
{
  mlff_dispersion_params p;
  memset(&p, 0, sizeof(p));
  p.s6 = 1.0, p.s8 = 2.7, p.a1 = 0.52, p.a2 = 2.6459, p.cutoff = cutoff, p.tail = tail;
  p.c6[0][0] = 19.3, p.c6[0][1] = p.c6[1][0] = 4.48, p.c6[1][1] = 1.04;
  p.c8[0][0] = 156.3, p.c8[0][1] = p.c8[1][0] = 23.4, p.c8[1][1] = 3.53;
  return p;
}

inline void make_model(const std::string &path, uint64_t seed, const mlff_dispersion_params *disp = nullptr,
                       const mlff_electrostatics_params *coul = nullptr)
{
  if (g_rank == 0) {
    int hidden[2] = {32, 32};
    mlff_model_spec spec;
    memset(&spec, 0, sizeof(spec));
    spec.n_elements = 2;
    spec.elements = ELEM_CH;
    spec.n_hidden = 2;
    spec.hidden = hidden;
    spec.activation = MLFF_ACT_SILU;
    mlff_descriptor_params_ani1x(&spec.descriptor);
    spec.seed = seed;
    mlff_model *m = nullptr;
    if (mlff_model_create(&spec, &m) != MLFF_OK) die(std::string("mlff_model_create: ") + mlff_last_error());
    if (disp && mlff_model_set_dispersion(m, disp) != MLFF_OK) die(mlff_last_error());
    if (coul && mlff_model_set_electrostatics(m, coul) != MLFF_OK) die(mlff_last_error());
    if (mlff_model_save(m, path.c_str()) != MLFF_OK) die(std::string("mlff_model_save: ") + mlff_last_error());
    mlff_model_free(m);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

// ---- structures --------------------------------------------------------------------------

struct Sys {
  double L[3] = {0, 0, 0};    // box from the origin: [0, Lx) x [0, Ly) x [0, Lz)
  double xy = 0, xz = 0, yz = 0;
  bool triclinic = false;
  std::vector<int> elem;      // 0 = C, 1 = H (index into ELEM_CH)
  std::vector<double> x;      // [n][3]
  int n() const { return (int) elem.size(); }
};

// Rotation matrix of a random unit quaternion (uniform on SO(3)).
inline void random_rotation(Rng &rng, double R[3][3])
{
  double u1 = rng.uniform(), u2 = rng.uniform(), u3 = rng.uniform();
  double a = sqrt(1 - u1), b = sqrt(u1);
  double q0 = a * sin(2 * M_PI * u2), q1 = a * cos(2 * M_PI * u2);
  double q2 = b * sin(2 * M_PI * u3), q3 = b * cos(2 * M_PI * u3);
  R[0][0] = 1 - 2 * (q2 * q2 + q3 * q3);
  R[0][1] = 2 * (q1 * q2 - q0 * q3);
  R[0][2] = 2 * (q1 * q3 + q0 * q2);
  R[1][0] = 2 * (q1 * q2 + q0 * q3);
  R[1][1] = 1 - 2 * (q1 * q1 + q3 * q3);
  R[1][2] = 2 * (q2 * q3 - q0 * q1);
  R[2][0] = 2 * (q1 * q3 - q0 * q2);
  R[2][1] = 2 * (q2 * q3 + q0 * q1);
  R[2][2] = 1 - 2 * (q1 * q1 + q2 * q2);
}

// Benzene (C-C 1.397 Å ring, C-H 1.084 Å) centred at c, rotated by R, each atom displaced by
// up to `jitter` Å per axis (breaks the D6h symmetry so that forces are not trivially zero).
inline void add_benzene(Sys &s, const double c[3], const double R[3][3], Rng &rng, double jitter)
{
  const double rc = 1.397, rh = 1.397 + 1.084;
  for (int e = 0; e < 2; e++)
    for (int k = 0; k < 6; k++) {
      double t = k * M_PI / 3.0, r = e == 0 ? rc : rh;
      double p[3] = {r * cos(t), r * sin(t), 0.0};
      s.elem.push_back(e);
      for (int d = 0; d < 3; d++)
        s.x.push_back(c[d] + R[d][0] * p[0] + R[d][1] * p[1] + R[d][2] * p[2] + jitter * rng.sym());
    }
}

inline Sys benzene_in_box(double L, uint64_t seed)
{
  Sys s;
  s.L[0] = s.L[1] = s.L[2] = L;
  Rng rng(seed);
  double R[3][3], c[3] = {0.5 * L, 0.5 * L, 0.5 * L};
  random_rotation(rng, R);
  add_benzene(s, c, R, rng, 0.03);
  return s;
}

// Two molecules stacked 3.8 Å apart (parallel-displaced), inside a periodic box of side L.
inline Sys dimer_in_box(double L, uint64_t seed)
{
  Sys s;
  s.L[0] = s.L[1] = s.L[2] = L;
  Rng rng(seed);
  double I[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
  double t = M_PI / 6, Rz[3][3] = {{cos(t), -sin(t), 0}, {sin(t), cos(t), 0}, {0, 0, 1}};
  double c1[3] = {0.5 * L - 0.7, 0.5 * L, 0.5 * L - 1.9};
  double c2[3] = {0.5 * L + 0.7, 0.5 * L + 0.3, 0.5 * L + 1.9};
  add_benzene(s, c1, I, rng, 0.03);
  add_benzene(s, c2, Rz, rng, 0.03);
  return s;
}

// Molecules on an nx*ny*nz lattice of spacing a (Å), random orientations; optional tilts
// make the box triclinic (lattice points follow the tilted cell).
inline Sys liquid(int nx, int ny, int nz, double a, uint64_t seed, double xy = 0, double xz = 0,
           double yz = 0)
{
  Sys s;
  s.L[0] = nx * a;
  s.L[1] = ny * a;
  s.L[2] = nz * a;
  s.xy = xy;
  s.xz = xz;
  s.yz = yz;
  s.triclinic = (xy != 0 || xz != 0 || yz != 0);
  Rng rng(seed);
  for (int i = 0; i < nx; i++)
    for (int j = 0; j < ny; j++)
      for (int k = 0; k < nz; k++) {
        double f[3] = {(i + 0.5) / nx, (j + 0.5) / ny, (k + 0.5) / nz};
        double c[3] = {f[0] * s.L[0] + f[1] * xy + f[2] * xz, f[1] * s.L[1] + f[2] * yz,
                       f[2] * s.L[2]};
        double R[3][3];
        random_rotation(rng, R);
        add_benzene(s, c, R, rng, 0.05);
      }
  return s;
}

// LAMMPS data file. type_of[e] = LAMMPS atom type (1-based) of element e.
inline void write_data(const std::string &path, const Sys &s, const int type_of[2])
{
  if (g_rank == 0) {
    FILE *f = fopen(path.c_str(), "w");
    if (!f) die("cannot write " + path);
    fprintf(f, "LAMMPS data file written by test_lammps\n\n%d atoms\n2 atom types\n\n", s.n());
    fprintf(f, "0 %.17g xlo xhi\n0 %.17g ylo yhi\n0 %.17g zlo zhi\n", s.L[0], s.L[1], s.L[2]);
    if (s.triclinic) fprintf(f, "%.17g %.17g %.17g xy xz yz\n", s.xy, s.xz, s.yz);
    const double mass[2] = {12.011, 1.008};
    fprintf(f, "\nMasses\n\n");
    for (int t = 1; t <= 2; t++)
      for (int e = 0; e < 2; e++)
        if (type_of[e] == t) fprintf(f, "%d %g\n", t, mass[e]);
    fprintf(f, "\nAtoms # atomic\n\n");
    for (int i = 0; i < s.n(); i++)
      fprintf(f, "%d %d %.17g %.17g %.17g\n", i + 1, type_of[s.elem[i]], s.x[3 * i],
              s.x[3 * i + 1], s.x[3 * i + 2]);
    fclose(f);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

// ---- LAMMPS -------------------------------------------------------------------------------

struct Lmp {
  void *h = nullptr;
  Lmp()
  {
    std::vector<const char *> args = {"lmp", "-log", "none", "-nocite"};
    if (!g_verbose) {
      args.push_back("-screen");
      args.push_back("none");
    }
    h = lammps_open((int) args.size(), (char **) args.data(), MPI_COMM_WORLD, nullptr);
    if (!h) die("lammps_open failed");
  }
  ~Lmp() { lammps_close(h); }
  Lmp(const Lmp &) = delete;
  Lmp &operator=(const Lmp &) = delete;

  // Run commands; true on success. On failure the message is in err().
  bool try_cmd(const std::string &c)
  {
    lammps_commands_string(h, c.c_str());
    if (lammps_has_error(h)) {
      char buf[4096];
      lammps_get_last_error_message(h, buf, sizeof(buf));
      last_error = buf;
      return false;
    }
    return true;
  }
  void cmd(const std::string &c)
  {
    if (!try_cmd(c)) die("LAMMPS command failed:\n" + c + "\n--> " + last_error);
  }
  std::string last_error;
};

struct Setup {
  std::string units = "metal";
  std::string data, model;
  std::string coeff = "C H";    // element of type 1, type 2
  std::string pair_extra = " device cpu";
  std::string extra;    // commands after pair_coeff
};

// Standard input: read the data file, load the plugin, define the computes that the checks
// read and put them in thermo output so that LAMMPS computes per-atom energy and virial.
inline void setup(Lmp &l, const Setup &s)
{
  std::string c;
  c += "units " + s.units + "\n";
  c += "atom_style atomic\natom_modify map yes\nboundary p p p\n";
  c += "read_data " + s.data + "\n";
  c += "plugin load " + plugin_path() + "\n";
  c += "pair_style mlff " + s.model + s.pair_extra + "\n";
  c += "pair_coeff * * " + s.coeff + "\n";
  c += s.extra;
  c += "compute pea all pe/atom\n";
  c += "compute pesum all reduce sum c_pea\n";
  c += "compute pv all pressure NULL virial\n";
  c += "compute sa all stress/atom NULL virial\n";
  c += "compute sasum all reduce sum c_sa[1] c_sa[2] c_sa[3] c_sa[4] c_sa[5] c_sa[6]\n";
  c += "compute ca all centroid/stress/atom NULL virial\n";
  c += "compute casum all reduce sum c_ca[1] c_ca[2] c_ca[3] c_ca[4] c_ca[5] c_ca[6] c_ca[7] "
       "c_ca[8] c_ca[9]\n";
  c += "thermo_style custom step pe press c_pesum c_pv[1] c_sasum[1] c_casum[1]\n";
  c += "thermo_modify norm no\n";
  l.cmd(c);
}

struct Box {
  double lo[3], hi[3], xy, yz, xz;
  double cell[9];    // rows a, b, c
  double volume;
};

inline Box get_box(Lmp &l)
{
  Box b;
  int pflags[3], boxflag;
  lammps_extract_box(l.h, b.lo, b.hi, &b.xy, &b.yz, &b.xz, pflags, &boxflag);
  double lx = b.hi[0] - b.lo[0], ly = b.hi[1] - b.lo[1], lz = b.hi[2] - b.lo[2];
  double cell[9] = {lx, 0, 0, b.xy, ly, 0, b.xz, b.yz, lz};
  memcpy(b.cell, cell, sizeof(cell));
  b.volume = lx * ly * lz;
  return b;
}

// What LAMMPS gives after `run 0`: everything per atom ordered by atom ID.
struct Eval {
  int n = 0;
  double pe = 0, pesum = 0;
  double W[6] = {0, 0, 0, 0, 0, 0};       // virial (energy units) from compute pressure
  double sasum[6] = {0, 0, 0, 0, 0, 0};   // sum of stress/atom (pressure*volume units)
  double casum[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
  double nktv2p = 1;
  std::vector<double> x, f, eatom;
  std::vector<int> type;
  Box box;
};

inline Eval evaluate(Lmp &l)
{
  l.cmd("run 0 post no");
  Eval e;
  e.n = (int) lammps_get_natoms(l.h);
  e.pe = lammps_get_thermo(l.h, "pe");
  e.box = get_box(l);
  e.nktv2p = *(double *) lammps_extract_global(l.h, "nktv2p");
  e.pesum = *(double *) lammps_extract_compute(l.h, "pesum", LMP_STYLE_GLOBAL, LMP_TYPE_SCALAR);
  double *pv = (double *) lammps_extract_compute(l.h, "pv", LMP_STYLE_GLOBAL, LMP_TYPE_VECTOR);
  double *sa = (double *) lammps_extract_compute(l.h, "sasum", LMP_STYLE_GLOBAL, LMP_TYPE_VECTOR);
  double *ca = (double *) lammps_extract_compute(l.h, "casum", LMP_STYLE_GLOBAL, LMP_TYPE_VECTOR);
  for (int k = 0; k < 6; k++) e.W[k] = pv[k] * e.box.volume / e.nktv2p;
  for (int k = 0; k < 6; k++) e.sasum[k] = sa[k];
  for (int k = 0; k < 9; k++) e.casum[k] = ca[k];
  e.x.resize(3 * e.n);
  e.f.resize(3 * e.n);
  e.eatom.resize(e.n);
  e.type.resize(e.n);
  lammps_gather_atoms(l.h, (char *) "x", 1, 3, e.x.data());
  lammps_gather_atoms(l.h, (char *) "f", 1, 3, e.f.data());
  lammps_gather_atoms(l.h, (char *) "type", 0, 1, e.type.data());
  lammps_gather(l.h, (char *) "c_pea", 1, 1, e.eatom.data());
  if (lammps_has_error(l.h)) die("gathering LAMMPS data failed");
  return e;
}

// ---- the core's answer ---------------------------------------------------------------------

struct Ref {
  double E = 0, W[6] = {0, 0, 0, 0, 0, 0};
  std::vector<double> F, eatom, vatom;
};

// mlff_compute (CPU, one thread) of LAMMPS's atoms in LAMMPS's periodic box.
// species_of_type[t] = model species of LAMMPS type t.
inline Ref reference(const std::string &model_path, const Eval &e, const int species_of_type[3])
{
  mlff_model *m = nullptr;
  if (mlff_model_load(model_path.c_str(), &m) != MLFF_OK) die(mlff_last_error());
  mlff_calc_options o = {MLFF_DEVICE_CPU, 0, 1, 0, 0, 0.0};
  mlff_calc *c = nullptr;
  if (mlff_calc_create(m, &o, &c) != MLFF_OK) die(mlff_last_error());
  std::vector<int> sp(e.n);
  for (int i = 0; i < e.n; i++) sp[i] = species_of_type[e.type[i]];
  mlff_structure s;
  s.n_atoms = e.n;
  s.positions = e.x.data();
  s.species = sp.data();
  s.cell = e.box.cell;
  s.pbc[0] = s.pbc[1] = s.pbc[2] = 1;
  Ref r;
  r.F.assign(3 * e.n, 0.0);
  r.eatom.assign(e.n, 0.0);
  r.vatom.assign(6 * e.n, 0.0);
  mlff_result res;
  memset(&res, 0, sizeof(res));
  res.forces = r.F.data();
  res.energy_atom = r.eatom.data();
  res.virial_atom = r.vatom.data();
  if (mlff_compute(c, &s, &res) != MLFF_OK) die(std::string("mlff_compute: ") + mlff_last_error());
  r.E = res.energy;
  memcpy(r.W, res.virial, sizeof(r.W));
  mlff_calc_free(c);
  mlff_model_free(m);
  return r;
}

// ---- comparisons ---------------------------------------------------------------------------

inline double maxabs(const double *a, size_t n)
{
  double m = 0;
  for (size_t i = 0; i < n; i++) m = std::max(m, fabs(a[i]));
  return m;
}

// max |a - b| / max |b| (0/0 = 0)
inline double rel_err(const double *a, const double *b, size_t n, double scale_a = 1.0)
{
  double d = 0, m = maxabs(b, n);
  for (size_t i = 0; i < n; i++) d = std::max(d, fabs(scale_a * a[i] - b[i]));
  return m > 0 ? d / m : d;
}
inline double rel_err(const std::vector<double> &a, const std::vector<double> &b, double scale_a = 1.0)
{
  return rel_err(a.data(), b.data(), b.size(), scale_a);
}
inline double rel1(double a, double b)
{
  return fabs(a - b) / std::max(fabs(b), 1e-300);
}

const double TOL = 1e-10;
// GPU FP32 against the core's double path (docs/gpu.md); also rank counts on the GPU, whose float
// atomics add in a different order each run
const double GPU_TOL = 1e-5;

// LAMMPS vs core: energy, forces (per ID), per-atom energy, sum of pe/atom, virial.
inline void compare_with_core(const char *what, const Eval &e, const Ref &r, double TOL = mlff_test::TOL)
{
  double eE = rel1(e.pe, r.E), eF = rel_err(e.f, r.F), eA = rel_err(e.eatom, r.eatom);
  double eS = rel1(e.pesum, e.pe), eW = rel_err(e.W, r.W, 6);
  say("  %-28s N=%5d  E=%.12f eV  |F|max=%.4f eV/A  rel.err: E %.1e F %.1e eatom %.1e "
      "sum(pe/atom) %.1e virial %.1e\n",
      what, e.n, e.pe, maxabs(r.F.data(), r.F.size()), eE, eF, eA, eS, eW);
  CHECK(eE <= TOL, "%s: energy LAMMPS %.15g vs core %.15g", what, e.pe, r.E);
  CHECK(eF <= TOL, "%s: forces differ from the core by %.3g (relative)", what, eF);
  CHECK(eA <= TOL, "%s: per-atom energies differ from the core by %.3g", what, eA);
  CHECK(eS <= TOL, "%s: sum of pe/atom %.15g vs pe %.15g", what, e.pesum, e.pe);
  CHECK(eW <= TOL, "%s: virial differs from the core by %.3g", what, eW);
}

const int TYPES_CH[2] = {1, 2};    // element C -> type 1, H -> type 2
const int TYPES_HC[2] = {2, 1};    // element C -> type 2, H -> type 1
const int SPECIES_CH[3] = {-1, 0, 1};    // type 1 -> C (species 0), type 2 -> H
const int SPECIES_HC[3] = {-1, 1, 0};

// Virial = -dE/d(strain) by central differences of the LAMMPS energy under homogeneous
// deformation of box and atoms (change_box ... remap); stress/atom and centroid/stress/atom
// summed equal the virial part of the pressure.
inline void check_virial(const char *what, const Sys &sys, const std::string &model, bool all6)
{
  write_data("virial.data", sys, TYPES_CH);
  Lmp l;
  Setup s;
  s.data = "virial.data";
  s.model = model;
  setup(l, s);
  Eval e0 = evaluate(l);
  const Box b = e0.box;
  const double lx = b.hi[0] - b.lo[0], ly = b.hi[1] - b.lo[1], lz = b.hi[2] - b.lo[2];
  const double eps = 1e-6;    // truncation error ~ eps^2: 1e-3 -> 4e-5, 1e-4 -> 4e-7, 1e-6 -> 4e-10
  const char *names[6] = {"xx", "yy", "zz", "xy", "xz", "yz"};
  double Wfd[6];
  const int ncomp = all6 ? 6 : 3;
  for (int k = 0; k < ncomp; k++) {
    double E[2];
    for (int sgn = 0; sgn < 2; sgn++) {
      double d = sgn ? -eps : eps;
      // cell after r_a += d * r_b (a,b = names[k]); LAMMPS cell columns a=(lx,0,0),
      // b=(xy,ly,0), c=(xz,yz,lz)
      double nlx = lx, nly = ly, nlz = lz, nxy = b.xy, nxz = b.xz, nyz = b.yz;
      switch (k) {
        case 0: nlx *= 1 + d; nxy *= 1 + d; nxz *= 1 + d; break;
        case 1: nly *= 1 + d; nyz *= 1 + d; break;
        case 2: nlz *= 1 + d; break;
        case 3: nxy += d * ly; nxz += d * b.yz; break;
        case 4: nxz += d * lz; break;
        case 5: nyz += d * lz; break;
      }
      char c[1024];
      if (e0.box.xy != 0 || e0.box.xz != 0 || e0.box.yz != 0 || all6)
        snprintf(c, sizeof(c),
                 "change_box all x final %.17g %.17g y final %.17g %.17g z final %.17g %.17g "
                 "xy final %.17g xz final %.17g yz final %.17g remap units box",
                 b.lo[0], b.lo[0] + nlx, b.lo[1], b.lo[1] + nly, b.lo[2], b.lo[2] + nlz, nxy,
                 nxz, nyz);
      else
        snprintf(c, sizeof(c),
                 "change_box all x final %.17g %.17g y final %.17g %.17g z final %.17g %.17g "
                 "remap units box",
                 b.lo[0], b.lo[0] + nlx, b.lo[1], b.lo[1] + nly, b.lo[2], b.lo[2] + nlz);
      l.cmd(c);
      l.cmd("run 0 post no");
      E[sgn] = lammps_get_thermo(l.h, "pe");
      // back to the reference box
      if (e0.box.xy != 0 || e0.box.xz != 0 || e0.box.yz != 0 || all6)
        snprintf(c, sizeof(c),
                 "change_box all x final %.17g %.17g y final %.17g %.17g z final %.17g %.17g "
                 "xy final %.17g xz final %.17g yz final %.17g remap units box",
                 b.lo[0], b.hi[0], b.lo[1], b.hi[1], b.lo[2], b.hi[2], b.xy, b.xz, b.yz);
      else
        snprintf(c, sizeof(c),
                 "change_box all x final %.17g %.17g y final %.17g %.17g z final %.17g %.17g "
                 "remap units box",
                 b.lo[0], b.hi[0], b.lo[1], b.hi[1], b.lo[2], b.hi[2]);
      l.cmd(c);
    }
    Wfd[k] = -(E[0] - E[1]) / (2 * eps);
  }
  const double Wmax = maxabs(e0.W, 6);
  say("  %s: virial (eV) from LAMMPS pressure vs -dE/dstrain (central differences, eps %g):\n",
      what, eps);
  for (int k = 0; k < ncomp; k++) {
    double err = fabs(Wfd[k] - e0.W[k]) / Wmax;
    say("    W%s = %+.9f  FD %+.9f  rel.err %.1e\n", names[k], e0.W[k], Wfd[k], err);
    CHECK(err <= 1e-7, "%s: virial %s = %.10g but -dE/deps = %.10g", what, names[k], e0.W[k],
          Wfd[k]);
  }
  // per-atom: sum of stress/atom = -virial * nktv2p (pressure*volume units)
  double sa[6], ca[9];
  for (int k = 0; k < 6; k++) sa[k] = -e0.sasum[k] / e0.nktv2p;
  for (int k = 0; k < 9; k++) ca[k] = -e0.casum[k] / e0.nktv2p;
  const double ca_sym[6] = {ca[0], ca[1], ca[2], ca[3], ca[4], ca[5]};
  const double ca_low[3] = {ca[6], ca[7], ca[8]};    // yx zx zy
  double eSA = rel_err(sa, e0.W, 6), eCA = rel_err(ca_sym, e0.W, 6);
  double eCL = rel_err(ca_low, e0.W + 3, 3);
  say("    sum stress/atom vs virial rel.err %.1e; sum centroid/stress/atom %.1e (yx zx zy %.1e)\n",
      eSA, eCA, eCL);
  CHECK(eSA <= TOL, "%s: sum of stress/atom differs from the virial by %.3g", what, eSA);
  CHECK(eCA <= TOL && eCL <= TOL, "%s: sum of centroid/stress/atom differs from the virial",
        what);
}


// the cases (test_lammps.cpp, test_lammps_cases.cpp)
int case_match();
int case_virial();
int case_units();
int case_forcefd();
int case_errors();
int case_nve();
int case_mpi_box();
int case_dispersion();
int case_mpi_compare();
int case_mpi_sparse();
int case_lmp_binary();
int case_extrapolation();
int case_restart();
int case_guards();
int case_committee();

}    // namespace mlff_test
#endif
