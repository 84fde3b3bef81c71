/* mlffplugin.cpp — registers pair_style mlff with LAMMPS at `plugin load`. */
#include "lammpsplugin.h"

#include "version.h"

#include "pair_mlff.h"

using namespace LAMMPS_NS;

static Pair *mlff_creator(LAMMPS *lmp)
{
  return new PairMLFF(lmp);
}

extern "C" void lammpsplugin_init(void *lmp, void *handle, void *regfunc)
{
  lammpsplugin_t plugin;
  auto register_plugin = (lammpsplugin_regfunc) regfunc;

  plugin.version = LAMMPS_VERSION;
  plugin.style = "pair";
  plugin.name = "mlff";
  plugin.info = "mlff distilled machine-learned force field v" MLFF_VERSION_STRING;
  plugin.author = "mlff developers";
  plugin.creator.v1 = (lammpsplugin_factory1 *) &mlff_creator;
  plugin.handle = handle;
  (*register_plugin)(&plugin, lmp);
}
