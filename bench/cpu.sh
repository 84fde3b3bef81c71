#!/usr/bin/env bash
# cpu.sh — CPU benchmarks of pair_style mlff in LAMMPS (issue 3's figures): one benzene on one
# thread, a 768-atom liquid benzene box on 1 and 2 threads and on 2 MPI ranks. Every figure comes
# from LAMMPS's "Loop time" (median of repeats) and lands in bench/results/<machine>-<date>-cpu.json.
# Usage: bench/cpu.sh [MODEL]   (default: the shipped model, else a random 128-64-64 model)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
prefix=$(bash "$here/scripts/setup.sh" | sed -n 's/^MLFF_LAMMPS_PREFIX=//p')
bash "$here/scripts/build.sh"
build=${MLFF_BUILD_DIR:-$here/build}
command -v packmol >/dev/null || { apt-get install -y -qq packmol >/dev/null; }
export LD_LIBRARY_PATH=$prefix/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
work=$build/bench
mkdir -p "$work" "$here/bench/results"
model=${1:-$here/models/benzene-gfn2.h5}
if [ ! -f "$model" ]; then
  model=$work/random-128-64-64.h5
  "$build/tools/mlff" init "$model" --elements C,H --hidden 128,64,64 --seed 1 >/dev/null
  echo "[bench] no trained model: timing a random-weight model of the same size ($model)" >&2
fi
"$here/bench/make_liquid.sh" 64 "$work/liquid768.data" 2>/dev/null
repeats=${MLFF_BENCH_REPEATS:-3}
run_case() { # name data steps threads ranks
  local name=$1 data=$2 steps=$3 threads=$4 ranks=$5 i
  for i in $(seq "$repeats"); do
    local log=$work/$name.$i.log launcher=()
    [ "$ranks" -gt 1 ] && launcher=(mpirun -np "$ranks" --oversubscribe --bind-to none)
    OMP_NUM_THREADS=$threads "${launcher[@]}" "$prefix/bin/lmp" -nocite -log "$log" -screen none \
      -var plugin "$build/plugin/mlffplugin.so" -var model "$model" -var data "$data" \
      -var steps "$steps" -in "$here/bench/in.bench" -pk omp "$threads" >/dev/null
    echo "$name $threads $ranks $log"
  done
}
{
  run_case benzene "$here/examples/lammps/benzene.data" 2000 1 1
  run_case liquid768_t1 "$work/liquid768.data" 50 1 1
  run_case liquid768_t2 "$work/liquid768.data" 50 2 1
  run_case liquid768_mpi2 "$work/liquid768.data" 50 1 2
} >"$work/cases.txt"
out=$here/bench/results/$(hostname -s | tr -c 'A-Za-z0-9_.\n-' _)-$(date -u +%Y-%m-%d)-cpu.json
/usr/bin/python3 "$here/bench/collect.py" "$work/cases.txt" "$model" >"$out"
cat "$out"
echo "[bench] wrote $out" >&2
