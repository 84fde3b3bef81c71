/* pair_mlff.cpp — pair_style mlff (see pair_mlff.h). Knows only mlff.h. */
#include "pair_mlff.h"

#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "force.h"
#include "memory.h"
#include "neigh_list.h"
#include "neighbor.h"
#include "update.h"
#include "utils.h"

#include <cstring>

// warn_extrapolation: a feature counts as outside its training range beyond 1 % of its span
// (the stored range is float32: values at its ends must not trigger)
static constexpr double RANGE_TOLERANCE = 0.01;

using namespace LAMMPS_NS;

// kcal/mol per eV: the ratio of LAMMPS's own Boltzmann constants for units real and metal
// (0.0019872067 kcal/mol/K / 8.617343e-5 eV/K), so converted energies agree with LAMMPS's
// kinetic energy and temperature in units real.
static constexpr double KCALMOL_PER_EV = 23.060547830619;

// images: who makes the periodic images of a one-rank periodic box
enum { IMAGES_AUTO, IMAGES_GPU, IMAGES_LAMMPS };
// the nominal pair cutoff while the GPU makes the images: LAMMPS then keeps ghost atoms only
// within it plus the skin (not 0, which has LAMMPS warn that atoms may get lost)
static constexpr double IMAGES_CUTOFF = 0.01;

static const char *device_name(mlff_device d)
{
  switch (d) {
    case MLFF_DEVICE_CPU: return "cpu";
    case MLFF_DEVICE_GPU: return "gpu";
    default: return "auto";
  }
}

/* ---------------------------------------------------------------------- */

PairMLFF::PairMLFF(LAMMPS *lmp) : Pair(lmp)
{
  single_enable = 0;
  restartinfo = 0;
  one_coeff = 1;
  manybody_flag = 1;
  // the global virial comes from libmlff's pair forces, not from f.r over ghost atoms
  no_virial_fdotr_compute = 1;
  // libmlff gives a symmetric 6-component per-atom virial; compute centroid/stress/atom
  // reports that same per-atom virial
  centroidstressflag = CENTROID_SAME;

  model = nullptr;
  calc = nullptr;
  fp16 = 0;
  device = MLFF_DEVICE_AUTO;
  images = IMAGES_AUTO;
  own_images = false;
  sort_binsize = 0.0;
  calc_threads = -1;
  warn_every = 0;
  guard_close = MLFF_GUARD_CLOSE_MD;
  last_checked = -1;
  cutoff = 0.0;
  escale = 1.0;
  nmax = 0;
  species = nullptr;
  fbuf = ebuf = vbuf = qbuf = nullptr;
  bond_charges = false;
  nmax_q = 0;
  n_members = 1;
  warn_uncertainty = 0.0;
  nmax_members = mf_stride = 0;
  mfbuf = devi = nullptr;
  max_devi = 0.0;
  tail3 = 0;
  memset(tail3_count, 0, sizeof tail3_count);
  // compute pair mlff: c_ID[1] is a committee's largest per-atom force deviation
  nextra = 1;
  pvector = new double[1];
  pvector[0] = 0.0;
}

/* ---------------------------------------------------------------------- */

PairMLFF::~PairMLFF()
{
  release_sort_binsize();
  free_model();
  memory->destroy(species);
  memory->destroy(fbuf);
  memory->destroy(ebuf);
  memory->destroy(vbuf);
  memory->destroy(qbuf);
  memory->destroy(mfbuf);
  memory->destroy(devi);
  delete[] pvector;
  if (allocated) {
    memory->destroy(setflag);
    memory->destroy(cutsq);
  }
}

void PairMLFF::free_model()
{
  if (calc) mlff_calc_free(calc);
  if (model) mlff_model_free(model);
  calc = nullptr;
  model = nullptr;
  calc_threads = -1;
}

/* ---------------------------------------------------------------------- */

void PairMLFF::allocate()
{
  allocated = 1;
  int n = atom->ntypes + 1;
  memory->create(setflag, n, n, "pair:setflag");
  memory->create(cutsq, n, n, "pair:cutsq");
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) setflag[i][j] = 0;
}

/* ----------------------------------------------------------------------
   units: metal is native; real converts eV -> kcal/mol (Å is Å)
------------------------------------------------------------------------- */

void PairMLFF::set_units()
{
  const char *u = update->unit_style;
  if (strcmp(u, "metal") == 0)
    escale = 1.0;
  else if (strcmp(u, "real") == 0)
    escale = KCALMOL_PER_EV;
  else
    error->all(FLERR,
               "pair_style mlff does not support 'units {}': use 'units metal' (native: eV, "
               "Angstrom) or 'units real' (converted to kcal/mol)",
               u);
}

/* ----------------------------------------------------------------------
   pair_style mlff FILE [fp16 yes|no] [device auto|gpu|cpu] [images auto|gpu|lammps]
                        [warn_extrapolation N] [warn_uncertainty X] [guard_close F]
------------------------------------------------------------------------- */

void PairMLFF::settings(int narg, char **arg)
{
  const char *usage = "pair_style mlff FILE [fp16 yes|no] [device auto|gpu|cpu] "
                      "[images auto|gpu|lammps] [warn_extrapolation N] [warn_uncertainty X] "
                      "[guard_close F]";
  if (narg < 1) error->all(FLERR, "Illegal pair_style mlff command: expected '{}'", usage);

  set_units();

  int new_fp16 = 0, new_warn = 0, new_images = IMAGES_AUTO;
  double new_guard = MLFF_GUARD_CLOSE_MD;
  double new_warn_unc = 0.0;
  mlff_device new_device = MLFF_DEVICE_AUTO;
  for (int iarg = 1; iarg < narg; iarg += 2) {
    if (iarg + 1 >= narg)
      error->all(FLERR, "pair_style mlff: keyword '{}' needs a value; usage: {}", arg[iarg],
                 usage);
    if (strcmp(arg[iarg], "fp16") == 0) {
      new_fp16 = utils::logical(FLERR, arg[iarg + 1], false, lmp);
    } else if (strcmp(arg[iarg], "device") == 0) {
      if (strcmp(arg[iarg + 1], "auto") == 0)
        new_device = MLFF_DEVICE_AUTO;
      else if (strcmp(arg[iarg + 1], "gpu") == 0)
        new_device = MLFF_DEVICE_GPU;
      else if (strcmp(arg[iarg + 1], "cpu") == 0)
        new_device = MLFF_DEVICE_CPU;
      else
        error->all(FLERR, "pair_style mlff: device '{}' is not one of auto, gpu, cpu",
                   arg[iarg + 1]);
    } else if (strcmp(arg[iarg], "images") == 0) {
      if (strcmp(arg[iarg + 1], "auto") == 0)
        new_images = IMAGES_AUTO;
      else if (strcmp(arg[iarg + 1], "gpu") == 0)
        new_images = IMAGES_GPU;
      else if (strcmp(arg[iarg + 1], "lammps") == 0)
        new_images = IMAGES_LAMMPS;
      else
        error->all(FLERR, "pair_style mlff: images '{}' is not one of auto, gpu, lammps",
                   arg[iarg + 1]);
    } else if (strcmp(arg[iarg], "warn_extrapolation") == 0) {
      new_warn = utils::inumeric(FLERR, arg[iarg + 1], false, lmp);
      if (new_warn < 0)
        error->all(FLERR, "pair_style mlff: warn_extrapolation needs a step interval >= 0 "
                   "(0: off), not {}", new_warn);
    } else if (strcmp(arg[iarg], "guard_close") == 0) {
      new_guard = utils::numeric(FLERR, arg[iarg + 1], false, lmp);
      if (!(new_guard >= 0.0 && new_guard <= 1.0))
        error->all(FLERR, "pair_style mlff: guard_close needs a fraction in [0, 1] of the closest "
                   "distance in training (0: off), not {}", arg[iarg + 1]);
    } else if (strcmp(arg[iarg], "warn_uncertainty") == 0) {
      new_warn_unc = utils::numeric(FLERR, arg[iarg + 1], false, lmp);
      if (!(new_warn_unc >= 0.0))
        error->all(FLERR, "pair_style mlff: warn_uncertainty needs a force deviation >= 0 "
                   "(force units; 0: off), not {}", arg[iarg + 1]);
    } else {
      error->all(FLERR, "pair_style mlff: unknown keyword '{}'; usage: {}", arg[iarg], usage);
    }
  }

  // a repeated pair_style mlff command replaces the model; pair_coeff must follow again
  free_model();
  if (allocated) {
    int n = atom->ntypes + 1;
    for (int i = 0; i < n; i++)
      for (int j = 0; j < n; j++) setflag[i][j] = 0;
  }
  type2species.clear();

  model_file = arg[0];
  fp16 = new_fp16;
  device = new_device;
  images = new_images;
  warn_every = new_warn;
  guard_close = new_guard;
  warn_uncertainty = new_warn_unc;
  last_checked = -1;
  pvector[0] = max_devi = 0.0;

  if (mlff_model_load(model_file.c_str(), &model) != MLFF_OK) {
    std::string msg = mlff_last_error();
    model = nullptr;
    error->all(FLERR, "pair_style mlff: {}", msg);    // the core's message names the file
  }
  cutoff = mlff_model_cutoff(model);
  n_members = mlff_model_committee_size(model);
  memory->destroy(mfbuf);    // sized for the previous model's members
  memory->destroy(devi);
  nmax_members = 0;
  comm_reverse = n_members > 1 ? 3 * n_members : 0;    // the members' forces on ghost atoms
  if (warn_uncertainty > 0.0 && n_members < 2)
    error->all(FLERR, "pair_style mlff: warn_uncertainty needs a committee model (several "
               "students, `mlff train --committee K`); model '{}' has one network",
               model_file);
  if (n_members > 1 && comm->me == 0)
    utils::logmesg(lmp, "pair_style mlff: model '{}' is a committee of {} members: their mean "
                   "energy and forces; per-atom force deviation from 'fix ID all pair N mlff "
                   "force_deviation 0', its maximum from 'compute ID all pair mlff'\n",
                   model_file, n_members);
  // a model whose dispersion has a tail brings it, as 'pair_modify tail yes' would
  const mlff_dispersion_params *disp = mlff_model_dispersion(model);
  if (disp && disp->tail) {
    tail_flag = 1;
    if (comm->me == 0)
      utils::logmesg(lmp, "pair_style mlff: long-range dispersion to {:.4g} Å with its mean-field "
                     "tail beyond (as pair_modify tail yes)\n", disp->cutoff);
  }
  const mlff_electrostatics_params *coul = mlff_model_electrostatics(model);
  if (coul && comm->me == 0) {
    std::string q;
    for (int e = 0; e < mlff_model_n_elements(model); e++)
      q += fmt::format(" {} {:+.4g}", mlff_model_element(model, e), coul->charges[e]);
    utils::logmesg(lmp, "pair_style mlff: electrostatics within {:.4g} Å (damped shifted force, "
                   "alpha {:.4g} Å^-1), fixed charges by element (e):{}\n", coul->cutoff,
                   coul->alpha, q);
  }
  // bond-charge increments: each local atom's charge from its bonds, sent to its ghosts
  bond_charges = false;
  for (int a = 0; coul && a < mlff_model_n_elements(model); a++)
    for (int b = 0; b < mlff_model_n_elements(model); b++)
      bond_charges = bond_charges || coul->increments[a][b] != 0.0;
  comm_forward = bond_charges ? 1 : 0;
  if (bond_charges && comm->me == 0)
    utils::logmesg(lmp, "pair_style mlff: the charges have bond-charge increments (bonded "
                   "within {:.4g} x the sum of covalent radii): each atom's charge from its bonds "
                   "every step\n", coul->bond_factor);
  if (disp && disp->s9 > 0 && comm->me == 0)    // say where it stops and what is beyond
    utils::logmesg(lmp, "pair_style mlff: three-body dispersion (s9 {:.4g}) over triples within "
                   "{:.4g} Å, {}\n", disp->s9, disp->cutoff3,
                   disp->tail3 != 0.0 ? fmt::format("its mean-field tail beyond (tail3 {:.4g} "
                                                    "Å^-3; fully periodic boxes)", disp->tail3)
                                      : std::string("no tail beyond"));
  create_calc();
}

/* ---------------------------------------------------------------------- */

void PairMLFF::create_calc()
{
  if (calc) mlff_calc_free(calc);
  calc = nullptr;
  mlff_calc_options opt;
  mlff_calc_options_default(&opt);
  opt.device = device;
  opt.fp16 = fp16;
  opt.n_threads = comm->nthreads;
  if (device != MLFF_DEVICE_CPU) opt.gpu = gpu_of_rank(&opt.gpu_shared);
  if (mlff_calc_create(model, &opt, &calc) != MLFF_OK) {
    std::string msg = mlff_last_error();
    calc = nullptr;
    error->all(FLERR,
               "pair_style mlff: cannot evaluate model '{}' with fp16 {} and device {}: {}",
               model_file, fp16 ? "yes" : "no", device_name(device), msg);
  }
  calc_threads = comm->nthreads;
  mlff_calc_guard_close(calc, guard_close);    // in [0, 1]: settings() checked it
  // whether the check can run at all (GPU, no stored range): now; it is on only in the steps
  // that check (compute())
  if (warn_every > 0) {
    if (mlff_calc_check_range(calc, RANGE_TOLERANCE) != MLFF_OK)
      error->all(FLERR, "pair_style mlff: warn_extrapolation with model '{}': {}", model_file,
                 mlff_last_error());
    mlff_calc_check_range(calc, -1.0);
  }
}

/* ----------------------------------------------------------------------
   the GPU of this rank: local rank (among the ranks of its node) mod the node's GPU count, so
   that ranks spread over a node's GPUs and several ranks share one when there are more ranks;
   *shared: whether another rank of the node has the same GPU
------------------------------------------------------------------------- */

int PairMLFF::gpu_of_rank(int *shared)
{
  // collective on every rank, also where a node has no GPU (ranks elsewhere may have one)
  int local_rank = 0, local_size = 1;
#ifndef MPI_STUBS
  MPI_Comm node;
  MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, comm->me, MPI_INFO_NULL, &node);
  MPI_Comm_rank(node, &local_rank);
  MPI_Comm_size(node, &local_size);
  MPI_Comm_free(&node);
#endif
  int n_gpu = mlff_gpu_count();
  *shared = 0;
  if (n_gpu < 1) return 0;    // mlff_calc_create says why the GPU path cannot run
  *shared = local_rank % n_gpu < local_size - n_gpu;
  if (comm->me == 0)
    utils::logmesg(lmp,
                   "pair_style mlff: {} MPI rank(s) on this node, {} GPU(s): each rank uses "
                   "GPU (local rank mod {})\n",
                   local_size, n_gpu, n_gpu);
  return local_rank % n_gpu;
}

/* ---------------------------------------------------------------------- */

std::string PairMLFF::element_list() const
{
  std::string s;
  int n = model ? mlff_model_n_elements(model) : 0;
  for (int k = 0; k < n; k++) {
    if (k) s += " ";
    s += mlff_model_element(model, k);
  }
  return s;
}

/* ----------------------------------------------------------------------
   pair_coeff * * E1 E2 ... : element of each atom type
------------------------------------------------------------------------- */

void PairMLFF::coeff(int narg, char **arg)
{
  if (!allocated) allocate();
  const int ntypes = atom->ntypes;
  if (!model) error->all(FLERR, "pair_coeff for mlff: no model loaded (pair_style mlff FILE)");

  if (narg < 2 || strcmp(arg[0], "*") != 0 || strcmp(arg[1], "*") != 0)
    error->all(FLERR, "pair_coeff for mlff must be 'pair_coeff * * E1 ... E{}' (one element per "
               "atom type)", ntypes);
  if (narg - 2 != ntypes)
    error->all(FLERR,
               "pair_coeff for mlff: {} element(s) given but {} atom type(s) exist; use "
               "'pair_coeff * * E1 ... E{}' with one element of model '{}' ({}) per atom type",
               narg - 2, ntypes, ntypes, model_file, element_list());

  std::vector<int> map(ntypes + 1, -1);
  for (int t = 1; t <= ntypes; t++) {
    const char *sym = arg[1 + t];
    int s = mlff_model_find_element(model, sym);
    if (s < 0)
      error->all(FLERR, "pair_style mlff: element '{}' in pair_coeff is not in model '{}' "
                 "(elements: {})", sym, model_file, element_list());
    map[t] = s;
  }
  type2species = map;

  for (int i = 1; i <= ntypes; i++)
    for (int j = i; j <= ntypes; j++) setflag[i][j] = 1;
}

/* ---------------------------------------------------------------------- */

void PairMLFF::init_style()
{
  if (!model) error->all(FLERR, "pair_style mlff: no model loaded");
  if (force->newton_pair == 0)
    error->all(FLERR, "pair_style mlff requires newton pair on: add 'newton on' to the input "
               "(it is LAMMPS's default; 'newton off' or 'newton on off' disable it)");
  if (atom->tag_enable == 0) error->all(FLERR, "pair_style mlff requires atom IDs");
  if ((int) type2species.size() != atom->ntypes + 1)
    error->all(FLERR, "pair_style mlff: pair_coeff * * must name one element per atom type "
               "({} atom types)", atom->ntypes);
  // with bonds and special_bonds weights of 0, LAMMPS drops the bonded pairs from the
  // neighbour list: the model would not see its own molecule's atoms
  // (1-2, 1-3 and 1-4 neighbours come from the bond topology)
  if (atom->molecular != Atom::ATOMIC && atom->nbonds > 0) {
    const char *what[4] = {"", "1-2", "1-3", "1-4"};
    for (int k = 1; k <= 3; k++)
      if (force->special_lj[k] == 0.0 && force->special_coul[k] == 0.0)
        error->all(FLERR, "pair_style mlff needs every pair within the cutoff, but special_bonds "
                   "removes {} pairs from the neighbour list: add 'special_bonds lj/coul 1.0 "
                   "1.0 1.0' (mlff ignores special_bonds weights)", what[k]);
  }
  set_units();
  if (comm->nthreads != calc_threads) create_calc();

  // the three-body tail needs the whole system's atoms per species (constant during a run)
  const mlff_dispersion_params *disp = mlff_model_dispersion(model);
  tail3 = disp && disp->tail3 != 0.0 && domain->xperiodic && domain->yperiodic &&
      domain->zperiodic;
  if (tail3) {
    long mine[MLFF_MAX_ELEMENTS] = {0};
    for (int i = 0; i < atom->nlocal; i++)
      if (type2species[atom->type[i]] >= 0) mine[type2species[atom->type[i]]]++;
    MPI_Allreduce(mine, tail3_count, MLFF_MAX_ELEMENTS, MPI_LONG, MPI_SUM, world);
  }

  // the GPU finds its own neighbours among local and ghost atoms: no LAMMPS list to build
  const bool on_gpu = mlff_calc_device(calc) == MLFF_DEVICE_GPU;
  if (!on_gpu) neighbor->add_request(this, NeighConst::REQ_FULL);

  // one rank, periodic box: the GPU makes the images, LAMMPS's ghost atoms go unused
  const std::string why = why_no_own_images();
  own_images = images != IMAGES_LAMMPS && why.empty();
  if (images == IMAGES_GPU && !own_images)
    error->all(FLERR, "pair_style mlff: images gpu needs {}; use 'images auto' or 'images "
               "lammps' (LAMMPS's ghost atoms)", why);
  // LAMMPS sorts atoms in bins of half the neighbour cutoff, which the nominal cutoff would
  // make ~0.5 A (millions of bins in a large box: 16 benzenes in a 340 A box lost 7 us a step);
  // unless the input set a bin size (atom_modify sort), the one of the model's cutoff
  release_sort_binsize();
  if (own_images && atom->userbinsize == 0.0) {
    sort_binsize = 0.5 * (cutoff + neighbor->skin);
    atom->userbinsize = sort_binsize;
  }
  if (own_images && comm->me == 0)
    utils::logmesg(lmp, "pair_style mlff: the GPU makes the periodic images (one MPI rank, "
                   "periodic box); LAMMPS keeps ghost atoms only within the skin. Commands "
                   "that need ghost atoms within a cutoff (compute rdf, coord/atom ...) take "
                   "'comm_modify cutoff', or use 'images lammps'\n");
  else if (on_gpu && images == IMAGES_AUTO && comm->me == 0)
    utils::logmesg(lmp, "pair_style mlff: periodic images from LAMMPS's ghost atoms (the GPU "
                   "makes them itself with {})\n", why);
}

/* the sort bin size set for own images back to LAMMPS's default, unless changed since */
void PairMLFF::release_sort_binsize()
{
  if (sort_binsize > 0.0 && atom->userbinsize == sort_binsize) atom->userbinsize = 0.0;
  sort_binsize = 0.0;
}

/* the periodic cell of the box, rows a, b, c (LAMMPS's restricted triclinic form) */
void PairMLFF::cell_of_box(double cell[9]) const
{
  const double *h = domain->h;    // xprd yprd zprd yz xz xy
  const double c[9] = {h[0], 0.0, 0.0, h[5], h[1], 0.0, h[4], h[3], h[2]};
  memcpy(cell, c, sizeof(c));
}

/* why the GPU cannot make the images in this run ("" when it can) */
std::string PairMLFF::why_no_own_images() const
{
  if (mlff_calc_device(calc) != MLFF_DEVICE_GPU) return "the GPU (device gpu)";
  if (comm->nprocs != 1) return fmt::format("one MPI rank (this run has {})", comm->nprocs);
  if (domain->dimension != 3 || !domain->xperiodic || !domain->yperiodic || !domain->zperiodic)
    return "a box periodic in x, y and z";
  // bonds, angles ... across the boundary need LAMMPS's ghost atoms
  if (atom->molecular != Atom::ATOMIC) return "an atomic system (no molecular topology)";
  // one layer of images: the atoms, up to skin/2 out of the box on either side between
  // LAMMPS's rebuilds, and their images within cutoff + skin must span less than two boxes
  // (libmlff refuses the step otherwise): the box wider than cutoff + 2 skin across each face.
  // Face spacings: 1 / |row| of the inverse box matrix (LAMMPS's x -> lamda map)
  const double *hi = domain->h_inv;
  const double rows[3][3] = {{hi[0], hi[5], hi[4]}, {0.0, hi[1], hi[3]}, {0.0, 0.0, hi[2]}};
  const char *faces[3] = {"b and c", "c and a", "a and b"};
  for (int d = 0; d < 3; d++) {
    const double spacing =
        1.0 / sqrt(rows[d][0] * rows[d][0] + rows[d][1] * rows[d][1] + rows[d][2] * rows[d][2]);
    if (spacing <= cutoff + 2.0 * neighbor->skin)
      return fmt::format("a box wider than cutoff + 2 x skin = {:.2f} Å across each face "
                         "(it is {:.2f} Å between the faces spanned by {})",
                         cutoff + 2.0 * neighbor->skin, spacing, faces[d]);
  }
  return "";
}

/* ---------------------------------------------------------------------- */

double PairMLFF::init_one(int i, int j)
{
  if (setflag[i][j] == 0)
    error->all(FLERR, "pair_style mlff: pair_coeff * * E1 ... E{} is missing", atom->ntypes);
  // the model's long-range dispersion: its mean-field tail beyond the cutoff, as LAMMPS's
  // pair_modify tail (libmlff gives it per N_i N_j / V; LAMMPS divides by the volume)
  double e_ab = 0.0, w_ab = 0.0;
  const int si = type2species[i], sj = type2species[j];
  if (tail_flag && si >= 0 && sj >= 0) mlff_model_dispersion_tail(model, si, sj, &e_ab, &w_ab);
  if (e_ab != 0.0 || w_ab != 0.0) {
    double count[2] = {0.0, 0.0}, all[2];
    for (int k = 0; k < atom->nlocal; k++) {
      if (atom->type[k] == i) count[0] += 1.0;
      if (atom->type[k] == j) count[1] += 1.0;
    }
    MPI_Allreduce(count, all, 2, MPI_DOUBLE, MPI_SUM, world);
    etail_ij = escale * all[0] * all[1] * e_ab;
    ptail_ij = escale * all[0] * all[1] * w_ab;
  } else
    etail_ij = ptail_ij = 0.0;
  return own_images ? IMAGES_CUTOFF : cutoff;
}

/* ---------------------------------------------------------------------- */

void PairMLFF::compute(int eflag, int vflag)
{
  ev_init(eflag, vflag);

  const int nlocal = atom->nlocal;
  // own images: the local atoms alone, the GPU makes their images (ghost atoms unused)
  const int nall = own_images ? nlocal : nlocal + atom->nghost;
  const bool on_gpu = mlff_calc_device(calc) == MLFF_DEVICE_GPU;
  const int inum = on_gpu ? nlocal : list->inum;
  if (n_members > 1) {    // members' forces, added to by the core: zeroed
    if (atom->nmax > nmax_members) {
      nmax_members = atom->nmax;
      memory->destroy(mfbuf);
      memory->destroy(devi);
      memory->create(mfbuf, 3 * (bigint) n_members * nmax_members, "pair:mlff:mfbuf");
      memory->create(devi, nmax_members, "pair:mlff:devi");
    }
    // own images: every force is on a local atom, and the core's deviations are final
    mf_stride = own_images ? 0 : nall;
    if (!own_images) memset(mfbuf, 0, sizeof(double) * 3 * n_members * (size_t) nall);
  }
  if (bond_charges && atom->nmax > nmax_q) {
    nmax_q = atom->nmax;
    memory->destroy(qbuf);
    memory->create(qbuf, nmax_q, "pair:mlff:qbuf");
  }
  if (inum == 0) {    // no local atoms: no energy, no forces from this rank
    if (bond_charges) comm->forward_comm(this);    // collective: every rank takes part
    if (n_members > 1) committee_deviation();
    return;
  }

  if (atom->nmax > nmax || (escale != 1.0 && !fbuf)) {
    if (atom->nmax > nmax) nmax = atom->nmax;
    memory->destroy(species);
    memory->destroy(fbuf);
    memory->destroy(ebuf);
    memory->destroy(vbuf);
    memory->create(species, nmax, "pair:mlff:species");
    if (escale != 1.0) {    // scratch outputs in eV, scaled into LAMMPS's arrays below
      memory->create(fbuf, 3 * nmax, "pair:mlff:fbuf");
      memory->create(ebuf, nmax, "pair:mlff:ebuf");
      memory->create(vbuf, 6 * nmax, "pair:mlff:vbuf");
    }
  }

  const int *type = atom->type;
  const int *t2s = type2species.data();
  // LAMMPS's threads (-pk omp N / OMP_NUM_THREADS) in large systems: this loop and the scaled
  // copies below touch every atom each step
  const int nt = nall >= 8192 ? comm->nthreads : 1;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int i = 0; i < nall; i++) species[i] = t2s[type[i]];

  mlff_neighbors nl;
  nl.n_total = nall;
  nl.positions = &atom->x[0][0];
  nl.species = species;
  nl.n_list = inum;
  nl.ilist = on_gpu ? nullptr : list->ilist;
  nl.numneigh = on_gpu ? nullptr : list->numneigh;
  nl.firstneigh = on_gpu ? nullptr : list->firstneigh;
  nl.index_mask = NEIGHMASK;
  // the GPU keeps its list until LAMMPS rebuilds its own (same skin, same check)
  nl.skin = neighbor->skin;
  nl.list_age = neighbor->ago > 0 ? neighbor->ago : 0;
  double cell[9];
  if (own_images) cell_of_box(cell);
  nl.cell = own_images ? cell : nullptr;
  nl.charges = nullptr;
  if (bond_charges) {    // the local atoms' charges from their bonds (ghosts hold their
    // partners), then each ghost its owner's: a ghost at the edge of the shell may lack one
    mlff_structure all = {nall, &atom->x[0][0], species, nullptr, {0, 0, 0}};
    if (mlff_model_charges(model, &all, qbuf) != MLFF_OK)
      error->one(FLERR, "pair_style mlff: {}", mlff_last_error());
    comm->forward_comm(this);
    nl.charges = qbuf;
  }

  mlff_result r;
  memset(&r, 0, sizeof(r));
  r.member_forces = n_members > 1 && !own_images ? mfbuf : nullptr;
  r.force_deviation = n_members > 1 && own_images ? devi : nullptr;
  const bool direct = (escale == 1.0);
  if (direct) {
    r.forces = &atom->f[0][0];
    r.energy_atom = eflag_atom ? eatom : nullptr;
    r.virial_atom = vflag_atom ? &vatom[0][0] : nullptr;
  } else {
    memset(fbuf, 0, sizeof(double) * 3 * nall);
    r.forces = fbuf;
    if (eflag_atom) {
      memset(ebuf, 0, sizeof(double) * nall);
      r.energy_atom = ebuf;
    }
    if (vflag_atom) {
      memset(vbuf, 0, sizeof(double) * 6 * nall);
      r.virial_atom = vbuf;
    }
  }

  // once per checked step: a minimiser's line search evaluates one step several times
  const bool check =
      warn_every > 0 && update->ntimestep % warn_every == 0 && update->ntimestep != last_checked;
  if (check) last_checked = update->ntimestep;
  if (check) mlff_calc_check_range(calc, RANGE_TOLERANCE);    // validated in create_calc()

  if (mlff_compute_neighbors(calc, &nl, &r) != MLFF_OK) evaluation_failed();

  if (!direct) {
    double **f = atom->f;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int i = 0; i < nall; i++) {
      f[i][0] += escale * fbuf[3 * i + 0];
      f[i][1] += escale * fbuf[3 * i + 1];
      f[i][2] += escale * fbuf[3 * i + 2];
    }
    if (eflag_atom)
      for (int i = 0; i < nall; i++) eatom[i] += escale * ebuf[i];
    if (vflag_atom)
      for (int i = 0; i < nall; i++)
        for (int k = 0; k < 6; k++) vatom[i][k] += escale * vbuf[6 * i + k];
  }

  if (check) {
    report_extrapolation();
    mlff_calc_check_range(calc, -1.0);
  }
  if (n_members > 1) committee_deviation();

  if (eflag_global) eng_vdwl += escale * r.energy;
  if (vflag_global)
    for (int k = 0; k < 6; k++) virial[k] += escale * r.virial[k];

  // the three-body dispersion's tail: a whole-system energy and pressure, N^3 / V^2, which
  // LAMMPS's pair tail (N_i N_j / V) cannot carry; added once, on rank 0, no per-atom share
  if (tail3 && comm->me == 0 && (eflag_global || vflag_global)) {
    double e3 = 0.0, w3 = 0.0;
    mlff_model_dispersion_tail3(model, tail3_count, domain->xprd * domain->yprd * domain->zprd,
                                &e3, &w3);
    if (eflag_global) eng_vdwl += escale * e3;
    if (vflag_global)
      for (int k = 0; k < 3; k++) virial[k] += escale * w3;
  }
}

/* ----------------------------------------------------------------------
   a failed step (a guard, a CUDA error) stops the run on this rank: libmlff's message names
   atoms by their index in this rank's arrays (local, then ghost); here they get their atom IDs
   (a ghost has its owner's) and the step
------------------------------------------------------------------------- */

void PairMLFF::evaluation_failed()
{
  const std::string why = mlff_last_error();
  int index[2];
  const int n = mlff_calc_error_atoms(calc, index);
  std::string ids, locals;
  for (int k = 0; k < n; k++) {
    ids += fmt::format("{}{}", k ? " and " : "", atom->tag[index[k]]);
    locals += fmt::format("{}{}", k ? " and " : "", index[k]);
  }
  const std::string who =
      n ? fmt::format(", atom ID{} {} (atom{} {} below)", n > 1 ? "s" : "", ids,
                      n > 1 ? "s" : "", locals)
        : "";
  error->one(FLERR, "pair_style mlff: step {}{}: evaluation of model '{}' failed: {}{}",
             update->ntimestep, who, model_file, why,
             own_images ? " ('images lammps' takes LAMMPS's ghost atoms instead)" : "");
}

/* ----------------------------------------------------------------------
   warn_extrapolation: atoms whose descriptor left the training range (all ranks), and the
   largest excursion, as one warning from rank 0
------------------------------------------------------------------------- */

void PairMLFF::report_extrapolation()
{
  mlff_range_report rep;
  mlff_calc_range_report(calc, &rep);
  int n_local = rep.n_atoms, n_all = 0;
  MPI_Allreduce(&n_local, &n_all, 1, MPI_INT, MPI_SUM, world);
  if (n_all == 0) return;
  // the worst excursion (in training spans, as the core counts them) and the rank that saw it
  struct { double v; int rank; } mine, worst;
  mine.v = rep.species < 0 ? -1.0 : rep.excess;
  mine.rank = comm->me;
  MPI_Allreduce(&mine, &worst, 1, MPI_DOUBLE_INT, MPI_MAXLOC, world);
  double info[5] = {(double) rep.species, (double) rep.feature, rep.value, rep.min, rep.max};
  MPI_Bcast(info, 5, MPI_DOUBLE, worst.rank, world);
  if (comm->me == 0)
    error->warning(FLERR,
                   "pair_style mlff: step {}: {} atom(s) outside the training range of model '{}' "
                   "(a descriptor feature beyond its range by more than 1% of its span): the "
                   "model extrapolates there and its forces are not to be trusted. Largest: "
                   "element {} feature {} = {:.6g}, trained on [{:.6g}, {:.6g}] ({:.3g} spans "
                   "out); atoms closer than in training or denser surroundings do this",
                   update->ntimestep, n_all, model_file,
                   mlff_model_element(model, (int) info[0]), (int) info[1], info[2], info[3],
                   info[4], worst.v);
}

/* ----------------------------------------------------------------------
   committees: the members' forces on ghost atoms folded onto their owners (reverse
   communication, as LAMMPS folds forces), then the deviation of each local atom (with own
   images the core's, in devi already), its maximum over all ranks into pvector[0], and
   warn_uncertainty's warning
------------------------------------------------------------------------- */

void PairMLFF::committee_deviation()
{
  const int nlocal = atom->nlocal;
  if (!own_images) {
    comm->reverse_comm(this);
    // over local and ghost atoms alike (one call of the core's helper); ghosts' are not used
    if (mf_stride > 0 &&
        mlff_force_deviation(n_members, mf_stride, mfbuf, devi, nullptr) != MLFF_OK)
      error->one(FLERR, "pair_style mlff: {}", mlff_last_error());
  }
  double mine = 0.0, all = 0.0;
  for (int i = 0; i < nlocal; i++) {
    devi[i] *= escale;    // eV/Å -> force units
    if (devi[i] > mine) mine = devi[i];
  }
  MPI_Allreduce(&mine, &all, 1, MPI_DOUBLE, MPI_MAX, world);
  max_devi = all;
  // compute pair sums pvector over the ranks (it holds energy shares): rank 0 holds it all
  pvector[0] = comm->me == 0 ? all : 0.0;
  if (warn_uncertainty > 0.0 && all > warn_uncertainty) {
    int n_mine = 0, n_all = 0;
    for (int i = 0; i < nlocal; i++) n_mine += devi[i] > warn_uncertainty;
    MPI_Allreduce(&n_mine, &n_all, 1, MPI_INT, MPI_SUM, world);
    if (comm->me == 0)
      error->warning(FLERR,
                     "pair_style mlff: step {}: {} atom(s) with a force deviation above "
                     "warn_uncertainty {:.4g} (largest {:.4g}, force units) among the {} members "
                     "of model '{}': the committee disagrees there, and its forces are not to "
                     "be trusted (add such structures to the training data)",
                     update->ntimestep, n_all, warn_uncertainty, all, n_members, model_file);
  }
}

int PairMLFF::pack_reverse_comm(int n, int first, double *buf)
{
  int m = 0;
  const size_t stride = 3 * (size_t) mf_stride;
  for (int i = first; i < first + n; i++)
    for (int k = 0; k < n_members; k++)
      for (int d = 0; d < 3; d++) buf[m++] = mfbuf[k * stride + 3 * (size_t) i + d];
  return m;
}

void PairMLFF::unpack_reverse_comm(int n, int *list, double *buf)
{
  int m = 0;
  const size_t stride = 3 * (size_t) mf_stride;
  for (int i = 0; i < n; i++)
    for (int k = 0; k < n_members; k++)
      for (int d = 0; d < 3; d++) mfbuf[k * stride + 3 * (size_t) list[i] + d] += buf[m++];
}

/* bond-charge increments: the local atoms' charges (e) to their ghosts */
int PairMLFF::pack_forward_comm(int n, int *list, double *buf, int /*pbc_flag*/, int * /*pbc*/)
{
  for (int i = 0; i < n; i++) buf[i] = qbuf[list[i]];
  return n;
}

void PairMLFF::unpack_forward_comm(int n, int first, double *buf)
{
  for (int i = 0; i < n; i++) qbuf[first + i] = buf[i];
}

/* extract("max_force_deviation"): a committee's largest per-atom force deviation (force
   units) on every rank, the same as compute pair's c_ID[1] */
void *PairMLFF::extract(const char *name, int &dim)
{
  dim = 0;
  if (strcmp(name, "max_force_deviation") == 0) return (void *) &max_devi;
  return nullptr;
}

/* fix pair's per-atom "force_deviation" (force units) of a committee's local atoms */
void *PairMLFF::extract_peratom(const char *name, int &ncol)
{
  ncol = 0;
  if (strcmp(name, "force_deviation") != 0) return nullptr;
  if (n_members < 2)
    error->all(FLERR, "pair_style mlff: force_deviation needs a committee model (several "
               "students, `mlff train --committee K`); model '{}' has one network", model_file);
  return (void *) devi;
}

/* ---------------------------------------------------------------------- */

double PairMLFF::memory_usage()
{
  double bytes = Pair::memory_usage();
  bytes += (double) nmax * sizeof(int);
  if (fbuf) bytes += (double) nmax * 10 * sizeof(double);
  if (qbuf) bytes += (double) nmax_q * sizeof(double);
  if (mfbuf) bytes += (double) nmax_members * (3 * n_members + 1) * sizeof(double);
  return bytes;
}
