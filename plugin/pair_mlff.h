/* pair_mlff.h — LAMMPS pair style `mlff`: a thin C++ layer over libmlff's C API (mlff.h).
 *
 *   pair_style mlff FILE [fp16 yes|no] [device auto|gpu|cpu] [images auto|gpu|lammps]
 *                        [warn_extrapolation N] [guard_close F]
 *   pair_coeff * * E1 E2 ...        (one model element per LAMMPS atom type)
 *
 * Units metal natively (eV, Å); units real converted (kcal/mol). Needs newton pair on and a
 * full neighbour list; the model is strictly local, so LAMMPS's ghost atoms within the cutoff
 * are all it needs. On one MPI rank with a GPU and a box periodic in x, y and z, the GPU makes
 * the periodic images itself (images auto|gpu) and LAMMPS keeps ghost atoms only within the
 * skin (the pair style's nominal cutoff is then IMAGES_CUTOFF). Energy, forces, global and
 * per-atom virial come from libmlff.
 *
 * A committee model (K students, CPU): energy and forces are the members' mean; the per-atom
 * force deviation is `fix ID all pair N mlff force_deviation 0` (per atom) and its maximum over
 * all atoms `compute ID all pair mlff` (c_ID[1]), both in LAMMPS force units;
 * `warn_uncertainty X` warns when that maximum exceeds X.
 */
#ifndef LMP_PAIR_MLFF_H
#define LMP_PAIR_MLFF_H

#include "pair.h"

#include "mlff.h"

#include <string>
#include <vector>

namespace LAMMPS_NS {

class PairMLFF : public Pair {
 public:
  PairMLFF(class LAMMPS *);
  ~PairMLFF() override;

  void compute(int, int) override;
  void settings(int, char **) override;
  void coeff(int, char **) override;
  void init_style() override;
  double init_one(int, int) override;
  double memory_usage() override;
  void *extract(const char *, int &) override;
  void *extract_peratom(const char *, int &) override;
  int pack_reverse_comm(int, int, double *) override;
  void unpack_reverse_comm(int, int *, double *) override;
  int pack_forward_comm(int, int *, double *, int, int *) override;
  void unpack_forward_comm(int, int, double *) override;

 protected:
  std::string model_file;
  mlff_model *model;
  mlff_calc *calc;
  int fp16;
  mlff_device device;
  int images;              // IMAGES_AUTO, IMAGES_GPU, IMAGES_LAMMPS (the keyword)
  bool own_images;         // this run: the GPU makes the periodic images (init_style)
  double sort_binsize;     // atom->userbinsize set here for own images (0: not set)
  int calc_threads;        // thread count the calc was created with
  int warn_every;          // warn_extrapolation N: check the training range every N steps (0 off)
  double guard_close;      // guard_close F: stop at pairs nearer than F x closest in training
  bigint last_checked;     // the step checked last (minimisers evaluate a step several times)
  double cutoff;           // Å (= LAMMPS distance units for metal and real)
  double escale;           // eV -> LAMMPS energy unit (1 for metal, kcal/mol per eV for real)
  std::vector<int> type2species;  // [ntypes+1], model species of each atom type

  // committees (n_members > 1): each member's forces on local and ghost atoms, folded onto the
  // owners by reverse communication, then the per-atom deviation of the local atoms
  int n_members;
  double warn_uncertainty;  // warn when the largest deviation exceeds it (force units; 0 off)
  int nmax_members;         // atoms the two arrays below hold
  int mf_stride;            // atoms per member in mfbuf this step (local + ghost)
  double *mfbuf;            // [n_members][mf_stride][3], eV/Å
  double *devi;             // [nmax_members], force units: the per-atom deviation
  double max_devi;          // its maximum over all atoms of all ranks (force units)
  int tail3;                // add the three-body dispersion's tail (model has one, box periodic)
  long tail3_count[MLFF_MAX_ELEMENTS];  // atoms of each model species, all ranks

  int nmax;                // size of the per-atom buffers below
  int *species;            // [nmax]
  double *fbuf, *ebuf, *vbuf;  // scratch outputs in eV, used when escale != 1
  bool bond_charges;       // the model's charges have bond-charge increments
  int nmax_q;              // atoms qbuf holds
  double *qbuf;            // [nmax_q], e: then the atoms' charges (local from bonds, ghosts sent)

  void allocate();
  void free_model();
  void create_calc();
  void set_units();
  std::string element_list() const;
  void report_extrapolation();
  [[noreturn]] void evaluation_failed();
  void committee_deviation();
  int gpu_of_rank(int *shared);
  void cell_of_box(double cell[9]) const;
  std::string why_no_own_images() const;
  void release_sort_binsize();
};

}    // namespace LAMMPS_NS

#endif
