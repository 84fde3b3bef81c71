#!/usr/bin/env bash
# run.sh — the benchmark driver of pair_style mlff in LAMMPS (issue 6; docs/validation.md). Every timing is
# LAMMPS's "Loop time" of the timed run (median of repeats), with each process's peak host
# memory and, on the GPU, its peak device memory; the accuracy of the student against the
# teacher (and FP16 vs FP32, GPU vs CPU) on a held-out set through `mlff eval`. The cases and
# the JSON are bench/bench.py's; this script finds the programs and makes the data.
#
# Usage: bench/run.sh cpu|gpu [MODEL [HELDOUT.h5]]
#   MODEL    default models/benzene-gfn2.h5 (else a random-weight 128-64-64 model, timing only)
#   HELDOUT  held-out dataset for the accuracy section (default: $MLFF_BENCH_HELDOUT; gpu mode:
#            .devdata/heldout.h5); the section says "skipped" when there is none
#
# cpu (here): LAMMPS from scripts/setup.sh, the build in $MLFF_BUILD_DIR (default build/; built
#   by scripts/build.sh when its programs are missing), packmol. Cases: one benzene; B = 4, 8, 16
#   benzenes 20 Å apart; liquid boxes of 768 and 6,144 atoms on 1 thread, 2 OpenMP threads
#   (-pk omp) and 2 MPI ranks. Writes $MLFF_BENCH_RESULTS (default bench/results)/
#   <host>-<date>-cpu.json.
# gpu (on the GPU machine, from the repository root): .device/ (scripts/device_bundle.sh,
#   unpacked) and .devdata/liquid768.data, .devdata/liquid49152.data (bench/make_liquid.sh 64 and
#   4096). Cases: benzene and B = 4, 8, 16 in FP32 and FP16 (the resident step), one benzene also
#   on the graph path (MLFF_GPU_RESIDENT=0), one benzene and the 49,152-atom box also without
#   the CUDA graph (MLFF_GPU_GRAPH=0); liquid 768 (one-kernel path), 49,152, and
#   the latter replicated 2x2x2 (393,216) and 3x3x3 (1,327,104 atoms); one benzene on the CPU of
#   that machine. Writes $MLFF_BENCH_RESULTS (default $OUT, else bench/results)/
#   <gpu>-<date>-gpu.json (e.g. h100-2026-11-25-gpu.json), logs in $MLFF_BENCH_WORK (default
#   $OUT/logs, else /tmp/mlff-bench).
# Environment: MLFF_BENCH_REPEATS (3), MLFF_BENCH_DRY=1 (print the commands, run nothing),
#   MLFF_BENCH_TIME_LIMIT (seconds after which no run starts), MLFF_BENCH_CASES (a regular
#   expression: only the cases whose names match).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/bench/lib.sh"
mode=${1:-}
case "$mode" in cpu | gpu) ;; *) echo "usage: bench/run.sh cpu|gpu [MODEL [HELDOUT.h5]]" >&2; exit 2 ;; esac
dry=${MLFF_BENCH_DRY:-0}
[ "$dry" = 0 ] && dry=
act() { if [ -n "$dry" ]; then echo "$*"; else "$@"; fi; }
date=$(date -u +%Y-%m-%d)
model=${2:-$here/models/benzene-gfn2.h5}
heldout=${3:-${MLFF_BENCH_HELDOUT:-}}

if [ "$mode" = cpu ]; then
  prefix=$(bash "$here/scripts/setup.sh" | sed -n 's/^MLFF_LAMMPS_PREFIX=//p')
  build=${MLFF_BUILD_DIR:-$here/build}
  if [ -z "$dry" ]; then
    [ -x "$build/tools/mlff" ] && [ -f "$build/plugin/mlffplugin.so" ] || bash "$here/scripts/build.sh"
    command -v packmol >/dev/null || apt-get install -y -qq packmol >/dev/null
  fi
  export LD_LIBRARY_PATH=$prefix/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_WAIT_POLICY=passive
  lmp=$prefix/bin/lmp plugin=$build/plugin/mlffplugin.so mlff=$build/tools/mlff
  work=${MLFF_BENCH_WORK:-$build/bench}
  results=${MLFF_BENCH_RESULTS:-$here/bench/results}
  machine=$(hostname -s | tr -c 'A-Za-z0-9_.\n-' _)
  py=/usr/bin/python3
  [ -x "$py" ] || py=python3
  extra=(--omp-pk --mpirun "$(command -v mpirun || echo mpirun)")
else
  dev=$here/.device
  [ -n "$dry" ] || [ -x "$dev/bin/lmp" ] || { echo "run.sh gpu: $dev/bin/lmp not found (unpack the bundle of scripts/device_bundle.sh)" >&2; exit 1; }
  export LD_LIBRARY_PATH=$dev/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  lmp=$dev/bin/lmp plugin=$dev/lib/mlffplugin.so mlff=$dev/bin/mlff
  work=${MLFF_BENCH_WORK:-${OUT:+$OUT/logs}}
  work=${work:-/tmp/mlff-bench}
  results=${MLFF_BENCH_RESULTS:-${OUT:-$here/bench/results}}
  gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 || true)
  machine=$(echo "$gpu" | awk '{ for (i = 1; i <= NF; i++) if (toupper($i) != "NVIDIA") { print tolower($i); exit } }')
  machine=${machine:-gpu}
  heldout=${heldout:-$here/.devdata/heldout.h5}
  py=${PYTHON:-python3}
  extra=()
fi
mkdir -p "$work/data" "$results"
data=$work/data

# the model: a random-weight one of the same size where there is no trained model
model_name=$model
case "$model_name" in "$here"/*) model_name=${model_name#"$here"/} ;; esac
if [ ! -f "$model" ] && [ -z "$dry" ]; then
  model=$work/random-128-64-64.h5 model_name="random weights 128-64-64 (mlff init --seed 1)"
  "$mlff" init "$model" --elements C,H --hidden 128,64,64 --seed 1 >/dev/null
  echo "[bench] no trained model: timing a random-weight model of the same size" >&2
fi

# data: benzene, B copies 20 Å apart, liquid boxes
act cp "$here/examples/lammps/benzene.data" "$data/benzene.data"
for n in 4 8 16; do act bench_copies "$n" "$here/examples/lammps/benzene.data" "$data/benzene$n.data"; done
if [ "$mode" = cpu ]; then
  for n in 64 512; do act bench_liquid "$n" "$data/liquid$((12 * n)).data" "$work/make_liquid$n.log"; done
else
  for a in 768 49152; do
    [ -n "$dry" ] || [ -f "$here/.devdata/liquid$a.data" ] ||
      { echo "run.sh gpu: .devdata/liquid$a.data not found (bench/make_liquid.sh $((a / 12)) .devdata/liquid$a.data, here)" >&2; exit 1; }
    act ln -sf "$here/.devdata/liquid$a.data" "$data/liquid$a.data"
  done
fi

out=$results/$machine-$date-$mode.json
exec "$py" "$here/bench/bench.py" run --mode "$mode" --lmp "$lmp" --plugin "$plugin" \
  --mlff "$mlff" --model "$model" --model-name "$model_name" --in "$here/bench/in.bench" \
  --data "$data" --work "$work" --out "$out" --heldout "$heldout" "${extra[@]}"
