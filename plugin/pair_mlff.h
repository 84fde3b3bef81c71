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

  int nmax;                // size of the per-atom buffers below
  int *species;            // [nmax]
  double *fbuf, *ebuf, *vbuf;  // scratch outputs in eV, used when escale != 1

  void allocate();
  void free_model();
  void create_calc();
  void set_units();
  std::string element_list() const;
  void report_extrapolation();
  [[noreturn]] void evaluation_failed();
  int gpu_of_rank(int *shared);
  void cell_of_box(double cell[9]) const;
  std::string why_no_own_images() const;
  void release_sort_binsize();
};

}    // namespace LAMMPS_NS

#endif
