#!/usr/bin/env bash
# test.sh — the README's test command: build everything that is missing, then run the whole
# ctest suite (GPU tests skip with exit code 77 where no GPU is visible).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bash "$here/scripts/build.sh"
build=${MLFF_BUILD_DIR:-$here/build}
cd "$build"
ctest --output-on-failure -j "$(nproc)" "$@"
