#!/usr/bin/env bash
# device_bundle.sh — everything the GPU machine needs to run our tests and benchmarks, built
# here for sm_90 and gathered into one folder (default .device/, ignored by git) that the device
# tool carries: a lean LAMMPS (PLUGIN + MOLECULE, stripped; docs/gpu.md) with MPI and OPENMP (the
# threaded integrator, fix nve/omp, for large boxes), libmlff with the
# CUDA kernels, the plugin, the tool, the GPU tests and benchmarks, and the shared libraries they
# need that a bare CUDA machine lacks. The GPU machine has no MPI: MPICH comes along as the
# relocatable build on PyPI (wheel `mpich`, fetched once into the cache; its library and
# mpiexec travel in .device/). On the device:
#   export LD_LIBRARY_PATH=$PWD/.device/lib; .device/bin/mpiexec -n 2 .device/bin/lmp ...
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/.device}
CACHE=${MLFF_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlff}
bash "$here/scripts/setup.sh" >/dev/null
src=$CACHE/src/lammps-20250204
MPICH_VERSION=5.0.2
mpich=$CACHE/mpich/mpich-$MPICH_VERSION
if [ ! -x "$mpich/bin/mpicxx" ]; then
  echo "[bundle] fetching MPICH $MPICH_VERSION (PyPI wheel) into $mpich" >&2
  rm -rf "$CACHE/mpich/wheel" && mkdir -p "$CACHE/mpich/wheel"
  python3 -m pip download -q --no-deps --only-binary=:all: --platform manylinux_2_28_x86_64 \
    --python-version 3.12 --implementation cp -d "$CACHE/mpich/wheel" "mpich==$MPICH_VERSION"
  (cd "$CACHE/mpich/wheel" && python3 -m zipfile -e mpich-*.whl .)
  rm -rf "$mpich" && mv "$CACHE/mpich/wheel/mpich-$MPICH_VERSION.data/data" "$mpich"
  chmod +x "$mpich"/bin/*
  rm -rf "$CACHE/mpich/wheel"
fi
lean=$CACHE/lammps-20250204-lean-mpich-omp
if [ ! -f "$lean/.complete" ]; then
  echo "[bundle] building a lean LAMMPS (PLUGIN, MOLECULE, OPENMP, MPICH) into $lean" >&2
  rm -rf "$CACHE/build-lean-mpi"
  cmake -S "$src/cmake" -B "$CACHE/build-lean-mpi" -D CMAKE_INSTALL_PREFIX="$lean" -D PKG_PLUGIN=on \
    -D PKG_MOLECULE=on -D PKG_OPENMP=on -D BUILD_MPI=on -D MPI_C_COMPILER="$mpich/bin/mpicc" \
    -D MPI_CXX_COMPILER="$mpich/bin/mpicxx" -D BUILD_OMP=on -D BUILD_SHARED_LIBS=on \
    -D LAMMPS_EXCEPTIONS=on -D CMAKE_BUILD_TYPE=Release -D LAMMPS_MACHINE= >"$CACHE/lean-mpi-cmake.log" 2>&1
  cmake --build "$CACHE/build-lean-mpi" -j "$(nproc)" >"$CACHE/lean-mpi-build.log" 2>&1
  cmake --install "$CACHE/build-lean-mpi" >/dev/null
  touch "$lean/.complete"
fi
if [ ! -f "$lean/share/mlff/lammps-src/pair.h" ]; then # what plugin/CMakeLists.txt needs
  mkdir -p "$lean/share/mlff"
  cp "$src/examples/plugins/LAMMPSInterfaceCXX.cmake" "$lean/share/mlff/"
  cp -r "$src/src" "$lean/share/mlff/lammps-src"
  find "$lean/share/mlff/lammps-src" -type f ! -name '*.h' -delete
fi
build=${MLFF_DEVICE_BUILD:-$here/build-device}
# no teacher there (MLFF_XTB=OFF): the GPU machine evaluates, it does not label
cmake -S "$here" -B "$build" -D MLFF_CUDA=ON -D CMAKE_CUDA_ARCHITECTURES=90 -D MLFF_XTB=OFF \
  -D MLFF_LAMMPS_PREFIX="$lean" -D MLFF_LAMMPS_MPI=ON -D MPI_C_COMPILER="$mpich/bin/mpicc" \
  -D MPI_CXX_COMPILER="$mpich/bin/mpicxx" -D MPIEXEC_EXECUTABLE="$mpich/bin/mpiexec" >"$build.cmake.log" 2>&1 || { tail -20 "$build.cmake.log" >&2; exit 1; }
cmake --build "$build" -j "$(nproc)" >"$build.log" 2>&1 || { grep -E "error" "$build.log" | head -20 >&2; exit 1; }
rm -rf "$out" && mkdir -p "$out/bin" "$out/lib"
cp "$lean/bin/lmp" "$out/bin/"
cp "$build/tools/mlff" "$out/bin/"
for t in "$build"/tests/gpu/test_* "$build"/tests/unit/test_repeat "$build"/tests/lammps/test_lammps \
  "$build"/bench/gpu_bench "$build"/bench/capi_bench "$build"/bench/latency_probe; do
  [ -x "$t" ] && cp "$t" "$out/bin/"
done
# MPICH's launcher (it starts hydra_pmi_proxy from its own folder) and library (which finds
# its fabric libraries in mpich/ beside it through its RUNPATH)
cp "$mpich"/bin/{mpiexec,hydra_pmi_proxy} "$out/bin/"
cp -L "$mpich/lib/libmpi.so.12" "$out/lib/"
cp -a "$mpich/lib/mpich" "$out/lib/mpich"
cp "$build/plugin/mlffplugin.so" "$out/lib/"
cp -L "$lean"/lib*/liblammps.so.0 "$out/lib/"
# every shared library of these that is not part of the base system (glibc, libstdc++, libgcc)
for f in "$out"/bin/* "$out"/lib/*.so*; do
  LD_LIBRARY_PATH=$build/core:$build/distill:$out/lib ldd "$f" 2>/dev/null | awk '/=> \// { print $3 }'
done | sort -u | grep -vE '/(libc|libm|libdl|librt|libpthread|ld-linux|libstdc\+\+|libgcc_s)\.so' |
  grep -vE "^($mpich|$out)/" |
  while read -r lib; do [ -e "$out/lib/$(basename "$lib")" ] || cp -L "$lib" "$out/lib/"; done
strip --strip-unneeded "$out"/bin/* "$out"/lib/*.so* 2>/dev/null || true
du -sh "$out" >&2
# OpenBLAS alone is 36 MB: the folder travels compressed (unpack there: tar -xJf)
tar -cJf "$out.tar.xz" -C "$(dirname "$out")" "$(basename "$out")"
ls -la "$out.tar.xz" >&2
