/* layout.c — sizeof and offsetof of every struct of mlff.h, one line each:
 *   STRUCT size N            (sizeof)
 *   STRUCT.FIELD offset N    (offsetof)
 * tests/python/test_mlff.py compares them with the ctypes declarations of python/mlff/_lib.py. */
#include <mlff.h>
#include <stddef.h>
#include <stdio.h>

#define SIZE(T) printf("%s size %zu\n", #T, sizeof(T))
#define OFF(T, F) printf("%s.%s offset %zu\n", #T, #F, offsetof(T, F))

int main(void) {
  printf("MLFF_API_VERSION %d\nMLFF_FORMAT_VERSION %d\nMLFF_VERSION_STRING %s\n", MLFF_API_VERSION,
         MLFF_FORMAT_VERSION, MLFF_VERSION_STRING);
  printf("enum size %zu\n", sizeof(mlff_status));
  SIZE(mlff_descriptor_params);
  OFF(mlff_descriptor_params, Rcr), OFF(mlff_descriptor_params, Rca);
  OFF(mlff_descriptor_params, etaR), OFF(mlff_descriptor_params, etaA);
  OFF(mlff_descriptor_params, zeta), OFF(mlff_descriptor_params, n_muR);
  OFF(mlff_descriptor_params, n_muA), OFF(mlff_descriptor_params, n_thetaZ);
  OFF(mlff_descriptor_params, muR), OFF(mlff_descriptor_params, muA);
  OFF(mlff_descriptor_params, thetaZ);
  SIZE(mlff_model_spec);
  OFF(mlff_model_spec, n_elements), OFF(mlff_model_spec, elements);
  OFF(mlff_model_spec, n_hidden), OFF(mlff_model_spec, hidden);
  OFF(mlff_model_spec, activation), OFF(mlff_model_spec, descriptor), OFF(mlff_model_spec, seed);
  SIZE(mlff_dispersion_params);
  OFF(mlff_dispersion_params, s6), OFF(mlff_dispersion_params, s8);
  OFF(mlff_dispersion_params, a1), OFF(mlff_dispersion_params, a2);
  OFF(mlff_dispersion_params, cutoff), OFF(mlff_dispersion_params, tail);
  OFF(mlff_dispersion_params, c6), OFF(mlff_dispersion_params, c8);
  OFF(mlff_dispersion_params, s9), OFF(mlff_dispersion_params, alp);
  OFF(mlff_dispersion_params, cutoff3), OFF(mlff_dispersion_params, tail3);
  OFF(mlff_dispersion_params, switch3);
  SIZE(mlff_electrostatics_params);
  OFF(mlff_electrostatics_params, charges), OFF(mlff_electrostatics_params, alpha);
  OFF(mlff_electrostatics_params, cutoff), OFF(mlff_electrostatics_params, increments);
  OFF(mlff_electrostatics_params, bond_radii), OFF(mlff_electrostatics_params, bond_factor);
  SIZE(mlff_calc_options);
  OFF(mlff_calc_options, device), OFF(mlff_calc_options, fp16), OFF(mlff_calc_options, n_threads);
  OFF(mlff_calc_options, gpu), OFF(mlff_calc_options, gpu_shared), OFF(mlff_calc_options, skin);
  SIZE(mlff_structure);
  OFF(mlff_structure, n_atoms), OFF(mlff_structure, positions), OFF(mlff_structure, species);
  OFF(mlff_structure, cell), OFF(mlff_structure, pbc);
  SIZE(mlff_result);
  OFF(mlff_result, energy), OFF(mlff_result, virial), OFF(mlff_result, forces);
  OFF(mlff_result, energy_atom), OFF(mlff_result, virial_atom);
  OFF(mlff_result, force_deviation), OFF(mlff_result, max_force_deviation);
  OFF(mlff_result, member_forces);
  SIZE(mlff_neighbors);
  OFF(mlff_neighbors, n_total), OFF(mlff_neighbors, positions), OFF(mlff_neighbors, species);
  OFF(mlff_neighbors, n_list), OFF(mlff_neighbors, ilist), OFF(mlff_neighbors, numneigh);
  OFF(mlff_neighbors, firstneigh), OFF(mlff_neighbors, index_mask), OFF(mlff_neighbors, skin);
  OFF(mlff_neighbors, list_age), OFF(mlff_neighbors, cell), OFF(mlff_neighbors, charges);
  SIZE(mlff_range_report);
  OFF(mlff_range_report, n_atoms), OFF(mlff_range_report, species);
  OFF(mlff_range_report, feature), OFF(mlff_range_report, value), OFF(mlff_range_report, min);
  OFF(mlff_range_report, max), OFF(mlff_range_report, excess);
  /* enum values the binding hard-codes */
  printf("MLFF_ERR_DEVICE %d\nMLFF_ERR_NUMERIC %d\nMLFF_DEVICE_GPU %d\nMLFF_ACT_CELU %d\n",
         MLFF_ERR_DEVICE, MLFF_ERR_NUMERIC, MLFF_DEVICE_GPU, MLFF_ACT_CELU);
  printf("MLFF_MAX_RADIAL_SHELLS %d\nMLFF_MAX_ANGULAR_SHELLS %d\nMLFF_MAX_ANGLE_SECTIONS %d\n",
         MLFF_MAX_RADIAL_SHELLS, MLFF_MAX_ANGULAR_SHELLS, MLFF_MAX_ANGLE_SECTIONS);
  printf("MLFF_MAX_ELEMENTS %d\nMLFF_MAX_HIDDEN %d\n", MLFF_MAX_ELEMENTS, MLFF_MAX_HIDDEN);
  return 0;
}
