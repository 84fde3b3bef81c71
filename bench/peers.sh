#!/usr/bin/env bash
# peers.sh — classical peers of pair_style mlff on the CPU (issue 6, part 3; docs/validation.md): AIREBO
# (CH.airebo) and ReaxFF with QEq (ffield.reax.cho, param.qeq of examples/reaxff/CHO) from the
# same LAMMPS build, next to the mlff plugin with the shipped model. In one run:
#   1. cost per atom-step on a 768-atom liquid benzene box (bench/make_liquid.sh), 1 thread,
#      same steps, from LAMMPS's "Loop time" (median of MLFF_BENCH_REPEATS repeats, default 3);
#   2. force (and offset-removed energy) errors against the teacher's labels on held-out
#      structures, per source tag, every structure through LAMMPS (`run 0`);
# and writes bench/results/<machine>-<date>-peers.json, then prints a short table.
# Usage: bench/peers.sh [MODEL [DATASET]]
#   MODEL    default models/benzene-gfn2.h5
#   DATASET  default $build/models/benzene-gfn2-test.h5 (models/make_benzene_gfn2.sh's held-out
#            set) if it exists, else a small held-out set labelled here once (seed 2: 50 MD
#            structures at 300 K and at 600 K, 50 dimers; ~1 min on one core), kept in the work dir
# Environment: MLFF_BENCH_REPEATS (3), MLFF_PEERS_MOLECULES (box sizes in molecules, "64"; e.g.
#   "64 512"), MLFF_PEERS_STEPS (50), MLFF_PEERS_WORK (work dir, default $build/peers),
#   MLFF_BUILD_DIR (the build with build/plugin/mlffplugin.so and build/tools/mlff; built by
#   scripts/build.sh only when those are missing).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/bench/lib.sh"
prefix=$(bash "$here/scripts/setup.sh" | sed -n 's/^MLFF_LAMMPS_PREFIX=//p')
build=${MLFF_BUILD_DIR:-$here/build}
[ -x "$build/tools/mlff" ] && [ -f "$build/plugin/mlffplugin.so" ] || bash "$here/scripts/build.sh"
command -v packmol >/dev/null || { apt-get install -y -qq packmol >/dev/null; }
export LD_LIBRARY_PATH=$prefix/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
work=${MLFF_PEERS_WORK:-$build/peers}
mkdir -p "$work" "$here/bench/results"
model=${1:-$here/models/benzene-gfn2.h5}
[ -f "$model" ] || { echo "peers.sh: model $model not found" >&2; exit 1; }

# QEq parameters: examples/reaxff/CHO/param.qeq of the LAMMPS source that setup.sh unpacked next
# to the prefix (its types are that example's H C O; peers.py re-indexes them for C H)
cho=${MLFF_REAXFF_CHO_DIR:-$(ls -d "$(dirname "$prefix")"/src/lammps-*/examples/reaxff/CHO 2>/dev/null | head -1)}
[ -f "$cho/param.qeq" ] || { echo "peers.sh: no examples/reaxff/CHO/param.qeq under $(dirname "$prefix")/src (set MLFF_REAXFF_CHO_DIR)" >&2; exit 1; }
potentials=$prefix/share/lammps/potentials
/usr/bin/python3 -c "import sys; sys.path.insert(0, '$here/bench'); import peers
peers.qeq_params_for('$cho/param.qeq', '$cho/in.CHO', '$potentials/ffield.reax.cho', '$work/param.qeq.CH')"

# held-out data
dataset=${2:-}
if [ -z "$dataset" ]; then
  dataset=$build/models/benzene-gfn2-test.h5
  if [ ! -f "$dataset" ]; then
    dataset=$work/heldout-seed2.h5
    # resumable: a complete file is left as it is
    "$build/tools/mlff" label "$dataset" --molecule "$here/models/benzene.xyz" --seed 2 \
      --temperatures 300,600 --md-structures 50 --normal-modes 0 --dimers 50 --far-dimers 0 \
      --trimers 0 --tetramers 0 --jobs 1 >"$work/label.log" 2>&1 ||
      { tail -5 "$work/label.log" >&2; exit 1; }
  fi
fi
[ -f "$dataset" ] || { echo "peers.sh: dataset $dataset not found" >&2; exit 1; }
# the core library's own errors of the model on the same structures (cross-check of the plugin)
"$build/tools/mlff" eval "$model" "$dataset" --split all --worst 0 --threads 1 \
  --json "$work/mlff-eval.json" >/dev/null

boxes=()
for n in ${MLFF_PEERS_MOLECULES:-64}; do
  box=$work/liquid$((12 * n)).data
  bench_liquid "$n" "$box" "$work/make_liquid.log" || exit 1 # seeds 1, 2, 3 (bench/lib.sh)
  boxes+=(--box "liquid$((12 * n))=$box")
done
machine=$(hostname -s | tr -c 'A-Za-z0-9_.\n-' _)
out=$here/bench/results/$machine-$(date -u +%Y-%m-%d)-peers.json
/usr/bin/python3 "$here/bench/peers.py" run --lmp "$prefix/bin/lmp" --potentials "$potentials" \
  --qeq "$work/param.qeq.CH" --plugin "$build/plugin/mlffplugin.so" --model "$model" \
  --dataset "$dataset" "${boxes[@]}" --work "$work" --out "$out" --machine "$machine" \
  --steps "${MLFF_PEERS_STEPS:-50}" --repeats "${MLFF_BENCH_REPEATS:-3}" \
  --mlff-eval "$work/mlff-eval.json"
echo "[peers] wrote $out" >&2
