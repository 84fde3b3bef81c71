/* mlff.h — the run-time C API of libmlff: load a distilled machine-learned force field and
 * evaluate energies, forces and virials on the CPU or a GPU. This header is the library's
 * contract: libmlff.so exports exactly the functions declared here. Building datasets, the
 * teacher and training are in mlff_distill.h (libmlff_distill).
 *
 * Units: eV and Å throughout. Every symbol is prefixed mlff_; objects are opaque handles
 * created and freed by the library; every function that can fail returns an mlff_status,
 * and mlff_last_error() gives the message of the last failure on the calling thread.
 *
 * Typical use:
 *   mlff_model *m;  mlff_calc *c;
 *   if (mlff_model_load("benzene.h5", &m) != MLFF_OK) fprintf(stderr, "%s\n", mlff_last_error());
 *   mlff_calc_create(m, NULL, &c);
 *   mlff_compute(c, &structure, &result);
 *   mlff_calc_free(c);  mlff_model_free(m);
 */
#ifndef MLFF_H
#define MLFF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exported from libmlff when it is built (MLFF_BUILDING_LIBMLFF, -fvisibility=hidden); nothing
 * for users of the library. */
#ifndef MLFF_API
#if defined(MLFF_BUILDING_LIBMLFF) && defined(__GNUC__)
#define MLFF_API __attribute__((visibility("default")))
#else
#define MLFF_API
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* MLFF_API_VERSION grows by one with every change of this header that is not backward
 * compatible (a field moved, a function changed, a field added to a struct the caller
 * allocates: a program built against the older header must be rebuilt); new functions keep it.
 * 2: mlff_calc_options.skin, mlff_result's committee outputs (force_deviation,
 * max_force_deviation, member_forces). 3: bond-charge increments in
 * mlff_electrostatics_params, mlff_neighbors.charges. */
#define MLFF_API_VERSION 3
#define MLFF_VERSION_STRING "0.1.0"
/* newest model-file format_version this library reads (2: bond-charge increments; a file
 * without them is written as 1) */
#define MLFF_FORMAT_VERSION 2

typedef enum {
  MLFF_OK = 0,
  MLFF_ERR_IO,          /* file missing, unreadable, not HDF5 */
  MLFF_ERR_FORMAT,      /* file readable but not a valid mlff file (message names the field) */
  MLFF_ERR_ARGUMENT,    /* bad argument: NULL, out-of-range species, non-finite position, ... */
  MLFF_ERR_NOMEM,       /* allocation failed */
  MLFF_ERR_UNSUPPORTED, /* asked for something this build cannot do (GPU without CUDA, ...) */
  MLFF_ERR_DEVICE,      /* CUDA runtime error or no usable GPU */
  MLFF_ERR_NUMERIC      /* the result is not finite (energy, virial or a force) */
} mlff_status;

/* Message of the last failed call on this thread ("" if none). Valid until the next call. */
MLFF_API const char *mlff_last_error(void);
MLFF_API const char *mlff_status_name(mlff_status s);
/* Record a failure as the calling thread's last error and return s, for libraries and bindings
 * layered on libmlff (libmlff_distill, the Python package), so that one mlff_last_error() serves
 * them all. printf-style. */
MLFF_API mlff_status mlff_set_error(mlff_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- descriptor (ANI-style atomic environment vector, docs/model.md) ------------------------- */

#define MLFF_MAX_RADIAL_SHELLS 64
#define MLFF_MAX_ANGULAR_SHELLS 16
#define MLFF_MAX_ANGLE_SECTIONS 32
#define MLFF_MAX_ELEMENTS 16
#define MLFF_MAX_HIDDEN 8

typedef struct {
  double Rcr, Rca; /* radial and angular cutoffs, Å */
  double etaR, etaA, zeta;
  int n_muR, n_muA, n_thetaZ;
  double muR[MLFF_MAX_RADIAL_SHELLS];
  double muA[MLFF_MAX_ANGULAR_SHELLS];
  double thetaZ[MLFF_MAX_ANGLE_SECTIONS];
} mlff_descriptor_params;

/* Fill p with the ANI-1x defaults (Rcr 5.2, Rca 3.5, 16 radial shells, 4x8 angular). */
MLFF_API void mlff_descriptor_params_ani1x(mlff_descriptor_params *p);
/* Length of one atom's descriptor for n_elements species. */
MLFF_API int mlff_descriptor_length(const mlff_descriptor_params *p, int n_elements);

/* ---- model ------------------------------------------------------------------------------ */

typedef struct mlff_model mlff_model;

typedef enum { MLFF_ACT_SILU = 0, MLFF_ACT_CELU = 1 /* alpha = 0.1 */ } mlff_activation;

/* What mlff_model_create needs: a network with seeded random weights (for tests, benchmarks,
 * and as the trainer's starting point). */
typedef struct {
  int n_elements;
  const char *const *elements; /* chemical symbols, e.g. {"H", "C"} */
  int n_hidden;                /* number of hidden layers (1..MLFF_MAX_HIDDEN) */
  const int *hidden;           /* their widths, e.g. {128, 64, 64} */
  mlff_activation activation;
  mlff_descriptor_params descriptor;
  uint64_t seed;
} mlff_model_spec;

MLFF_API mlff_status mlff_model_create(const mlff_model_spec *spec, mlff_model **out);
/* Read a model file (HDF5, docs/file_format.md). Refuses wrong format, newer format_version,
 * missing or mis-shaped datasets, non-finite weights and duplicated elements, naming file and
 * field. */
MLFF_API mlff_status mlff_model_load(const char *path, mlff_model **out);
MLFF_API mlff_status mlff_model_save(const mlff_model *m, const char *path);
MLFF_API void mlff_model_free(mlff_model *m);

MLFF_API int mlff_model_n_elements(const mlff_model *m);
MLFF_API const char *mlff_model_element(const mlff_model *m,
                                        int species); /* NULL if out of range */
MLFF_API int mlff_model_find_element(const mlff_model *m, const char *symbol); /* species or -1 */
MLFF_API int mlff_model_n_features(const mlff_model *m);
MLFF_API double
mlff_model_cutoff(const mlff_model *m); /* interaction range: max(Rcr, Rca, dispersion and
                                         * electrostatics cutoffs), Å */
MLFF_API const mlff_descriptor_params *mlff_model_descriptor(const mlff_model *m);
MLFF_API const char *mlff_model_arch(const mlff_model *m);
/* Long-range dispersion, an optional part of a model (docs/model.md): pairwise C6/r^6 + C8/r^8
 * with Becke–Johnson damping, e(r) = -s6 C6/(r^6 + R0^6) - s8 C8/(r^8 + R0^8) with
 * R0 = a1 sqrt(C8/C6) + a2, over pairs within `cutoff`, plus the mean-field tail beyond it
 * (periodic systems; LAMMPS's pair_modify tail) when `tail` is set. E = networks + this. */
typedef struct {
  double s6, s8, a1, a2; /* a2 in Å (GFN2-xTB's D4: 1, 2.7, 0.52, 5.0 Bohr = 2.6459 Å) */
  double cutoff;         /* Å, at least the descriptor's */
  int tail;              /* add the mean-field tail beyond the cutoff */
  double c6[MLFF_MAX_ELEMENTS][MLFF_MAX_ELEMENTS]; /* eV Å^6, by species, symmetric */
  double c8[MLFF_MAX_ELEMENTS][MLFF_MAX_ELEMENTS]; /* eV Å^8, by species, symmetric */
  /* Three-body Axilrod–Teller–Muto term of D3/D4, off when s9 is 0: over triples with all three
   * distances within cutoff3 (Å, at most cutoff),
   *   e = C9 (3 cos a cos b cos c + 1) / (r_ij r_ik r_jk)^3 / (1 + 6 (R0_ij R0_ik R0_jk /
   *       (r_ij r_ik r_jk))^(alp/3)),  C9 = s9 sqrt(C6_ij C6_ik C6_jk / Eh)  (C6 in eV Å^6),
   * R0 as above; D4 takes alp 16 and GFN2-xTB s9 5. */
  double s9, alp, cutoff3;
  /* The three-body term's mean-field tail beyond cutoff3, Å^-3 (0: none; needs s9): a system
   * periodic along all three axes, of volume V with N_a atoms of species a, gains
   *   E = tail3 S / V^2,  S = (1/6) sum over species a, b, c of N_a N_b N_c C9_abc,
   * and W_xx = W_yy = W_zz = 2 E (a uniform density of triples beyond cutoff3: E ~ V^-2 with
   * the structure scaled). Unlike the pair tail it depends on the liquid's structure where two
   * sides of a triple are short, so it is measured on the liquid's frames
   * (bench/three_body_tail.py --write-tail3) and holds near the densities it was measured at. */
  double tail3;
  /* The three-body term's smooth cutoff, Å (0: a hard cutoff, as files without it): each side r
   * of a triple weighs it by s(r), 1 up to cutoff3 - switch3 and falling to 0 at cutoff3 as
   * 1 - 10 t^3 + 15 t^4 - 6 t^5 (t the fraction of the way), so that energy and forces are
   * continuous where a side crosses cutoff3: with a hard cutoff a triple's whole energy appears
   * or vanishes there, and float (GPU) and double (CPU) positions can fall either side of it. */
  double switch3;
} mlff_dispersion_params;
/* Give m a dispersion term (copied; checked: finite, coefficients >= 0 and symmetric), or take
 * it away (p NULL). The model's calcs must be created after the change. */
MLFF_API mlff_status mlff_model_set_dispersion(mlff_model *m, const mlff_dispersion_params *p);
/* Give m the dispersion of a file holding a /dispersion group: a model file, or a standalone one
 * whose group has an `elements` attribute (scripts/dispersion_d4.py writes one from D4). The
 * file's elements may be any superset of m's. Refuses, naming file and field, as the model
 * reader does. */
MLFF_API mlff_status mlff_model_load_dispersion(mlff_model *m, const char *path);
/* The dispersion's mean-field tail beyond its cutoff for species a and b, per N_a N_b / V (a
 * uniform pair density there, the damped form): energy and diagonal virial W_xx = W_yy = W_zz,
 * both eV Å^3, so that a periodic system of volume V gains sum over ordered species pairs of
 * N_a N_b energy / V and N_a N_b virial / V (LAMMPS's etail_ij and ptail_ij up to its counts).
 * Zero when the model has no dispersion or its tail is off. */
MLFF_API mlff_status mlff_model_dispersion_tail(const mlff_model *m, int a, int b, double *energy,
                                                double *virial);
/* The three-body tail (tail3 above) of a periodic system of volume V (Å^3) holding count[a]
 * atoms of each species a (n_elements values): its energy (eV) and diagonal virial
 * W_xx = W_yy = W_zz (eV). Zero when the model has no three-body tail. */
MLFF_API mlff_status mlff_model_dispersion_tail3(const mlff_model *m, const long *count,
                                                 double volume, double *energy, double *virial);
/* The model's dispersion, or NULL when it has none. */
MLFF_API const mlff_dispersion_params *mlff_model_dispersion(const mlff_model *m);

/* Electrostatics, an optional part of a model (docs/model.md): fixed atomic charges by element
 * interacting by Coulomb's law with damped shifted forces (Fennell and Gezelter 2006; LAMMPS's
 * coul/dsf), over every pair within `cutoff`, in a molecule and between molecules:
 *   e(r) = k q_a q_b [erfc(alpha r)/r - erfc(alpha rc)/rc + (r - rc) (erfc(alpha rc)/rc^2 +
 *          2 alpha/sqrt(pi) exp(-alpha^2 rc^2)/rc)],  k = 14.399645 eV Å e^-2,
 * zero with its force at rc, plus each atom's self term -k q_a^2 (erfc(alpha rc)/(2 rc) +
 * alpha/sqrt(pi)). E = networks + dispersion + this: the networks learn what is left, so the
 * long-range electrostatics the teacher's molecules feel beyond the descriptor's cutoff (their
 * quadrupoles, dipoles) are carried by the charges. Charges by element suit systems whose atoms
 * of one element are alike (bench/dimer_decompose.py --fit-charges fits them to a teacher).
 * Where they are not (ethanol's hydroxyl H against its alkyl H), bond-charge increments (as
 * MMFF94's) give an atom's charge by what it is bonded to:
 *   q_i = charges[s_i] + sum over atoms j bonded to i of increments[s_i][s_j],
 * increments antisymmetric (what an atom gains its partner loses: a molecule whose charges are
 * 0 stays neutral). Atoms i, j other than hydrogen are bonded when r_ij < bond_factor
 * (bond_radii[s_i] + bond_radii[s_j]); a hydrogen is bonded to its nearest atom other than
 * hydrogen within twice that (a stretched X-H stays bonded until another atom is nearer). The
 * charges follow the geometry of each call (no state is kept); they change only where a bond
 * forms or breaks by that rule, where the energy jumps (bench/bond_increments.py fits the
 * increments to a teacher's atomic charges; docs/model.md). */
typedef struct {
  double charges[MLFF_MAX_ELEMENTS]; /* e, by species */
  double alpha;                      /* damping, Å^-1 (0: shifted-force Coulomb) */
  double cutoff;                     /* Å */
  /* bond-charge increments, e, [species of the atom][species of its partner]; all 0: charges
   * by element alone (bond_radii and bond_factor then unused, 0) */
  double increments[MLFF_MAX_ELEMENTS][MLFF_MAX_ELEMENTS];
  double bond_radii[MLFF_MAX_ELEMENTS]; /* Å, by species (covalent radii; > 0 with increments) */
  double bond_factor;                   /* > 0 with increments (e.g. 1.25) */
} mlff_electrostatics_params;
/* Give m an electrostatic term (copied; checked: finite charges, alpha >= 0, cutoff > 0), or take
 * it away (p NULL). The model's calcs must be created after the change. */
MLFF_API mlff_status mlff_model_set_electrostatics(mlff_model *m,
                                                   const mlff_electrostatics_params *p);
/* The model's electrostatics, or NULL when it has none. */
MLFF_API const mlff_electrostatics_params *mlff_model_electrostatics(const mlff_model *m);

/* The closest distance between an atom of species a and one of species b in the structures the
 * model was trained on (Å, recorded by `mlff train`; docs/file_format.md), or 0 when the model
 * does not record it (older files, mlff_model_create). The close-atom guard's reference
 * (mlff_calc_guard_close). Setting stores r for (a, b) and (b, a); r finite, >= 0 (0: not
 * recorded). */
MLFF_API double mlff_model_min_distance(const mlff_model *m, int a, int b);
MLFF_API mlff_status mlff_model_set_min_distance(mlff_model *m, int a, int b, double r);
/* Committees (docs/model.md): a model may hold K students ("members") that share everything
 * but their networks, e0 and scale (one descriptor, computed once per call for all of them; one
 * dispersion term). Evaluation gives the members' mean energy, forces and virial, and the
 * per-atom force deviation sqrt(mean_k |F_i^k - mean_k F_i^k|^2) as the uncertainty (DP-GEN's
 * "model deviation"). A model of one network is a committee of 1. */
MLFF_API int mlff_model_committee_size(const mlff_model *m);
/* Member k (0 .. size-1) as a new single-network model (a copy: descriptor, dispersion,
 * training range and metadata included), to evaluate or save one member alone. */
MLFF_API mlff_status mlff_model_committee_member(const mlff_model *m, int k, mlff_model **out);
/* Append every member of `other` to m's committee (copies). Refused, saying why, unless other
 * has m's elements, activation, descriptor and dispersion. The model's calcs must be created
 * after the change. */
MLFF_API mlff_status mlff_model_committee_add(mlff_model *m, const mlff_model *other);

/* Free-form metadata strings (attributes of the file root); "" when absent. Setting copies. */
MLFF_API const char *mlff_model_attr(const mlff_model *m, const char *name);
MLFF_API mlff_status mlff_model_set_attr(mlff_model *m, const char *name, const char *value);
/* Human-readable summary: elements, descriptor, layer shapes, parameters, metadata. */
MLFF_API void mlff_model_print(const mlff_model *m, FILE *out);

/* ---- evaluation ------------------------------------------------------------------------- */

typedef enum { MLFF_DEVICE_AUTO = 0, MLFF_DEVICE_CPU = 1, MLFF_DEVICE_GPU = 2 } mlff_device;

typedef struct {
  mlff_device device; /* AUTO: the GPU when the build has CUDA and one is visible */
  int fp16;           /* network in FP16 on tensor cores (GPU only) */
  int n_threads;      /* CPU threads; 0 = OpenMP's default */
  int gpu;            /* CUDA device of the GPU path, an ordinal among the visible ones (0 = the
                         first; MPI ranks: local rank mod mlff_gpu_count()) */
  int gpu_shared;     /* other processes use this GPU too (MPI ranks sharing it). Otherwise small
                         systems (up to 512 atoms with images) run on a resident step: a kernel
                         that stays on the GPU between calls, its weights in shared memory, and
                         spins waiting for the next call (up to 2 ms). Processes that share a GPU
                         take turns on it, and a spinning kernel would hold their turns. */
  double skin;        /* Å, for mlff_compute on a GPU calc: repeated calls on the same system
                         (same atom count, species and cell, as in MD or an optimisation) keep
                         the neighbour list and periodic images of the last build, made to
                         cutoff + skin, and rebuild them only when an atom moved more than
                         skin/2 since that build (LAMMPS's neighbor skin and check), so that such
                         a call costs what an MD step costs. 0: a new list every call. Applies
                         to open structures and to ones periodic along all three axes whose cell
                         is wider than cutoff + skin across each face (others take a new list
                         every call); results are those of a new list (the same neighbours
                         within the cutoff). The CPU path ignores it. Default 1.0 (LAMMPS's
                         `neighbor 1.0` of bench/in.bench). Aggregate initialisers that leave it
                         out get 0, the behaviour of mlff <= 0.1. */
} mlff_calc_options;

/* The defaults: device AUTO, fp16 off, OpenMP's threads, GPU 0, not shared, skin 1.0 Å. */
MLFF_API void mlff_calc_options_default(mlff_calc_options *o);

/* CUDA devices visible to this libmlff (0 when it was built without CUDA, or none is). */
MLFF_API int mlff_gpu_count(void);

/* An evaluation context: holds workspaces sized to the largest system seen (grown, never
 * allocated per call) and, on a GPU with a skin, the last system's neighbour list. The model
 * must outlive it. A calc is not thread-safe; use one per thread. options may be NULL
 * (defaults). */
typedef struct mlff_calc mlff_calc;
MLFF_API mlff_status mlff_calc_create(const mlff_model *m, const mlff_calc_options *options,
                                      mlff_calc **out);
MLFF_API void mlff_calc_free(mlff_calc *c);
MLFF_API mlff_device mlff_calc_device(const mlff_calc *c); /* the device actually used */
/* Neighbour lists built by mlff_compute and mlff_compute_batch on this calc so far: one per call,
 * except where a kept list (mlff_calc_options.skin) was reused. For tests and for tuning the
 * skin (calls / builds = the calls a list lasts). */
MLFF_API long mlff_calc_list_builds(const mlff_calc *c);

/* One structure: open (cell NULL) or periodic along the axes with pbc[k] != 0. */
typedef struct {
  int n_atoms;
  const double *positions; /* [n_atoms][3], Å */
  const int *species;      /* [n_atoms], model species index (see mlff_model_find_element) */
  const double *cell;      /* [3][3], rows are the lattice vectors a, b, c (Å); NULL = open */
  int pbc[3];
} mlff_structure;

/* The atomic charges (e) the model's electrostatics give structure s, charges [n_atoms]:
 * charges by element plus the bond-charge increments of each atom's bonds (across periodic
 * boundaries too); an atom of species -1 (not the model's, as in mlff_neighbors) has none and
 * bonds to none. Refused when the model has no electrostatics. */
MLFF_API mlff_status mlff_model_charges(const mlff_model *m, const mlff_structure *s,
                                        double *charges);

/* Outputs. Pointers may be NULL when not wanted; arrays are caller-allocated. */
typedef struct {
  double energy;       /* eV */
  double virial[6];    /* eV; xx yy zz xy xz yz, W = sum over pairs of r_ij (x) f_ij */
  double *forces;      /* [n][3], eV/Å */
  double *energy_atom; /* [n], eV */
  double *virial_atom; /* [n][6], eV, same order as virial; sums to virial */
  /* Committees (mlff_model_committee_size K > 1; for K = 1 deviations are 0, member_forces the
   * forces). Appended after the fields above; aggregate initialisers that leave them out get
   * NULL and 0. force_deviation[i] (eV/Å) = sqrt(mean_k |F_i^k - mean_k F_i^k|^2) over the
   * members' forces on atom i; max_force_deviation its maximum over the atoms (always set).
   * member_forces [K][n][3]: each member's forces. On mlff_compute_neighbors both are those of
   * this call before any ghost forces are folded (see there). */
  double *force_deviation;    /* [n], eV/Å, or NULL */
  double max_force_deviation; /* eV/Å */
  double *member_forces;      /* [K][n][3], eV/Å, or NULL */
} mlff_result;

/* The per-atom force deviation of K members' forces member_forces [K][n][3] into deviation [n]
 * (may be NULL) and its maximum into *max (may be NULL): for callers that assemble the members'
 * forces themselves, e.g. an MD code folding ghost-atom forces onto their owners first. */
MLFF_API mlff_status mlff_force_deviation(int K, int n, const double *member_forces,
                                          double *deviation, double *max);

/* Energy, forces, virial of one structure. Per-atom arrays are overwritten. On a GPU calc with
 * a skin (mlff_calc_options), a call on the system of the previous call with no atom moved
 * more than skin/2 since the list's build reuses that list; anything else builds a new one. */
MLFF_API mlff_status mlff_compute(mlff_calc *c, const mlff_structure *s, mlff_result *r);
/* B independent structures in one call (one launch sequence on the GPU); results[b] as above. */
MLFF_API mlff_status mlff_compute_batch(mlff_calc *c, int n_structures, const mlff_structure *s,
                                        mlff_result *results);

/* A system described the way an MD code holds it: local atoms, ghost (image) atoms, and a full
 * neighbour list of each local atom over local+ghost atoms (LAMMPS's layout). Energy is computed
 * for the atoms in ilist; forces land on local and ghost atoms alike (newton on), and the caller
 * folds ghost forces back onto their owners. */
typedef struct {
  int n_total;             /* local + ghost atoms */
  const double *positions; /* [n_total][3], Å */
  const int *species;      /* [n_total], model species; -1 = not part of this model (skipped) */
  int n_list;              /* number of atoms to compute */
  const int *ilist;        /* [n_list] their indices; NULL = atoms 0 .. n_list-1 */
  /* The list itself: numneigh[n_total] indexed by atom, firstneigh[i][0..numneigh[i]) the
   * neighbour indices. The GPU path finds neighbours itself: there both may be NULL (and the
   * atoms to compute must be 0 .. n_list-1, ghosts after them). */
  const int *numneigh;
  const int *const *firstneigh;
  int index_mask; /* if non-zero, neighbour indices are (value & index_mask) */
  /* The GPU path may keep its own list between calls, as an MD code keeps its lists (LAMMPS:
   * neighbor->skin, neighbor->ago). skin > 0 (Å): a call with list_age 0 (the caller has just
   * rebuilt its lists; atoms may have moved between ranks or been reordered) builds a list to
   * cutoff + skin; a call with list_age > 0 promises the same atoms in the same order as that
   * call, none moved more than skin/2 since, and reuses it. skin 0 (the default): a new list
   * on every call. The CPU path uses the list above and ignores both. */
  double skin;
  int list_age;
  /* NULL, or a cell [3][3] (rows a, b, c, Å) periodic along all three: then every atom is local
   * (n_list == n_total, ilist NULL, no list: neighbour arrays NULL) and the library makes the
   * periodic images itself, so the caller needs no ghost atoms (LAMMPS on one rank). The cell
   * must be at least cutoff + skin wide across each face, the positions wrapped into it (up to
   * skin/2 outside). GPU calcs only. */
  const double *cell;
  /* NULL, or the charges [n_total] (e) of a model with bond-charge increments
   * (mlff_electrostatics_params): each local atom's as mlff_model_charges gives it, each ghost
   * its owner's (LAMMPS: computed for the local atoms, then sent to the ghosts). NULL: the
   * library finds them among these atoms, where a ghost within two bond lengths of the edge of
   * the ghost shell may miss a bond. Unused by other models. */
  const double *charges;
} mlff_neighbors;

/* energy and virial are set; forces [n_total][3], energy_atom [n_total] and virial_atom
 * [n_total][6] are ADDED to (as a pair style accumulates), so the caller zeroes them.
 * Committees: member_forces [K][n_total][3] is added to as forces are; force_deviation
 * [n_total] is set from this call's member forces on every atom, ghosts included, and
 * max_force_deviation is its maximum over the atoms computed (ilist). Those are final only
 * where no force lands on a ghost image of a computed atom (an open system, all atoms local);
 * with ghosts, fold member_forces as forces are folded (LAMMPS: reverse communication), then
 * call mlff_force_deviation on the local atoms (with a cell, the images' member forces are
 * folded by the library: the deviations are final). */
MLFF_API mlff_status mlff_compute_neighbors(mlff_calc *c, const mlff_neighbors *nl, mlff_result *r);

/* Extrapolation check: the descriptors of the atoms computed against the range the model saw
 * in training (stored by `mlff train`). While on, every call counts the atoms with a feature
 * more than tolerance x (that feature's training span, at least 1e-3 of the element's widest
 * span: the trainer's floor on its feature scales) outside the training range. tolerance
 * < 0 switches it off (the default). CPU and GPU paths (on a GPU, small systems take the general
 * path while it is on: the one-kernel steps do not check); a model that stores no range:
 * MLFF_ERR_UNSUPPORTED. */
MLFF_API mlff_status mlff_calc_check_range(mlff_calc *c, double tolerance);
typedef struct {
  int n_atoms;     /* atoms of the last call outside the range (0 when the check is off) */
  int species;     /* the largest excursion: species, -1 when none */
  int feature;     /* its feature index (0 .. n_features-1) */
  double value;    /* the feature's value there */
  double min, max; /* the feature's training range */
  double excess;   /* how far outside, in (floored) training spans */
} mlff_range_report;
MLFF_API void mlff_calc_range_report(const mlff_calc *c, mlff_range_report *out);

/* Guards: a call fails, rather than return numbers that mean nothing, when
 *  - a position is not finite (MLFF_ERR_ARGUMENT),
 *  - two atoms are far closer than any pair of their elements in training (MLFF_ERR_ARGUMENT;
 *    see mlff_calc_guard_close),
 *  - the energy, virial or forces come out non-finite (MLFF_ERR_NUMERIC; CPU and GPU: a check of
 *    the summed energy and virial, which any non-finite force reaches, then a search for the atom),
 * and the message names the atoms by their index in the call's input. mlff_calc_error_atoms gives
 * those indices to a caller that names atoms its own way (LAMMPS: atom IDs).
 *
 * Close-atom guard: the call fails when atoms of species a and b are closer than fraction x
 * mlff_model_min_distance(a, b), or, where the model records none, closer than fraction x
 * MLFF_GUARD_CLOSE_FALLBACK (the H2 bond, the shortest there is). Off (0) in a new calc, as
 * evaluating any structure is legitimate (random placements in tests and datasets); MD codes
 * switch it on with MLFF_GUARD_CLOSE_MD (pair_style mlff does). Fraction in [0, 1], 0 = off. CPU
 * and GPU paths (on the GPU, where the neighbour lists are made, in float). */
#define MLFF_GUARD_CLOSE_MD 0.5
#define MLFF_GUARD_CLOSE_FALLBACK 0.74 /* Å */
MLFF_API mlff_status mlff_calc_guard_close(mlff_calc *c, double fraction);
/* The atoms the last failed call on c named, as indices into its input (mlff_neighbors: 0 ..
 * n_total-1; mlff_compute, mlff_compute_batch: the index within the structure the message names),
 * at most 2 written to atoms; returns their number (0 after a call that succeeded or whose
 * failure concerns no atom, such as a CUDA error). */
MLFF_API int mlff_calc_error_atoms(const mlff_calc *c, int atoms[2]);

/* Descriptor of every atom of s, row-major [n_atoms][n_features] (mlff_model_n_features). */
MLFF_API mlff_status mlff_compute_features(mlff_calc *c, const mlff_structure *s, double *features);

/* ---- elements --------------------------------------------------------------------------- */

MLFF_API int mlff_atomic_number(const char *symbol); /* 0 if unknown */
MLFF_API const char *mlff_element_symbol(int z);     /* NULL if unknown */

#ifdef __cplusplus
}
#endif
#endif /* MLFF_H */
