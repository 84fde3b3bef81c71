#!/usr/bin/env bash
# test.sh — the README's test command (CI runs exactly this, via .ci/run):
#   1. build everything that is missing (scripts/build.sh): libmlff, libmlff_distill, the tool,
#      the LAMMPS plugin, and the CUDA code for sm_90 wherever nvcc is found (CI has nvcc and no
#      GPU: the GPU tests then skip with exit code 77, but the kernels must compile);
#   2. the whole ctest suite of that build (extra arguments go to ctest);
#   3. the formatting of the files kept in .clang-format's style (scripts/check_format.sh);
#   4. the unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer, in a build
#      without CUDA and without libxtb (scripts/test_sanitize.sh);
#   5. the fuzzers of the model, dataset and extended-XYZ readers, 30 s each under libFuzzer with
#      ASan + UBSan, built with clang into build-fuzz/ (scripts/fuzz.sh; about 2 minutes).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bash "$here/scripts/build.sh"
build=${MLFF_BUILD_DIR:-$here/build}
if command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ]; then
  [ -f "$build/cuda/libmlff_cuda.a" ] ||
    { echo "test.sh: nvcc is here but the CUDA code was not built ($build/cuda/libmlff_cuda.a)" >&2; exit 1; }
  echo "[test] CUDA code compiled ($build/cuda/libmlff_cuda.a; sm_90 unless CMAKE_CUDA_ARCHITECTURES says otherwise)" >&2
fi
(cd "$build" && ctest --output-on-failure -j "$(nproc)" "$@")
bash "$here/scripts/check_format.sh"
bash "$here/scripts/test_sanitize.sh"
bash "$here/scripts/fuzz.sh" 30
