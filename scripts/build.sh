#!/usr/bin/env bash
# build.sh — install what is missing (scripts/setup.sh), then configure and build mlff into
# build/ (or $MLFF_BUILD_DIR) with the LAMMPS plugin. Prints nothing but progress on stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
prefix=$(bash "$here/scripts/setup.sh" | sed -n 's/^MLFF_LAMMPS_PREFIX=//p')
build=${MLFF_BUILD_DIR:-$here/build}
cmake -S "$here" -B "$build" -D MLFF_LAMMPS_PREFIX="$prefix" ${MLFF_CMAKE_ARGS:-} >"$build.cmake.log" 2>&1 ||
  { cat "$build.cmake.log" >&2; exit 1; }
cmake --build "$build" -j "$(nproc)" 2>&1 | grep -E "error|warning|Error" >&2 || true
cmake --build "$build" -j "$(nproc)" >/dev/null
echo "[build] mlff built in $build (LAMMPS: $prefix)" >&2
