#!/usr/bin/env bash
# make_benzene_gfn2.sh — regenerate models/benzene-gfn2.h5 from nothing (issue 4): label
# benzene with GFN2-xTB, train the student, evaluate it on held-out data, write the report.
#   bash models/make_benzene_gfn2.sh [WORKDIR]   (default build/models; ~45 min on 2 cores)
# Held-out data are separate teacher trajectories and clusters (another seed), never seen in
# training; the random test split inside the training set is reported too.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bash "$here/scripts/build.sh"
mlff=${MLFF_BUILD_DIR:-$here/build}/tools/mlff
work=${1:-${MLFF_BUILD_DIR:-$here/build}/models}
mkdir -p "$work"
export OMP_WAIT_POLICY=passive # idle OpenMP threads must not spin against OpenBLAS
t0=$(date +%s)
# 1. training data: ~5,500 structures (MD at 300/600/900 K, normal modes, clusters of 2-4,
#    400 droplets of 13 molecules)
"$mlff" label "$work/benzene-gfn2-train.h5" --molecule "$here/models/benzene.xyz" --seed 1
t1=$(date +%s)
# 2. held-out data: new trajectories (300 and 600 K), new dimers and droplets, another seed
"$mlff" label "$work/benzene-gfn2-test.h5" --molecule "$here/models/benzene.xyz" --seed 2 \
  --temperatures 300,600 --md-structures 200 --normal-modes 0 --dimers 200 --far-dimers 50 \
  --trimers 0 --tetramers 0 --droplets 50
t2=$(date +%s)
# 3. the student: ANI-1x descriptor, 128-64-64 SiLU per element, 25 minutes at most
"$mlff" train "$work/benzene-gfn2-train.h5" --out "$here/models/benzene-gfn2.h5" --elements C,H \
  --hidden 128,64,64 --time-limit 1500 --seed 1
t3=$(date +%s)
# 4. evaluation: held-out structures, interaction energies, harmonic frequencies
"$mlff" eval "$here/models/benzene-gfn2.h5" "$work/benzene-gfn2-test.h5" --split all --interaction \
  --json "$work/eval-heldout.json" >"$work/eval-heldout.txt"
"$mlff" eval "$here/models/benzene-gfn2.h5" "$work/benzene-gfn2-train.h5" --split test \
  --json "$work/eval-testsplit.json" >"$work/eval-testsplit.txt"
"$mlff" eval "$here/models/benzene-gfn2.h5" --freq "$here/models/benzene.xyz" \
  --json "$work/eval-freq.json" >"$work/eval-freq.txt"
t4=$(date +%s)
printf '{"label_s": %d, "label_heldout_s": %d, "train_s": %d, "eval_s": %d}\n' \
  $((t1 - t0)) $((t2 - t1)) $((t3 - t2)) $((t4 - t3)) >"$work/timings.json"
cat "$work/timings.json"
# 5. the report, from those files (the JSON ones kept beside the model)
mkdir -p "$here/models/benzene-gfn2-eval"
cp "$work"/eval-*.json "$work"/eval-*.txt "$work/timings.json" "$here/models/benzene-gfn2-eval/"
python3=/usr/bin/python3; [ -x $python3 ] || python3=python3 # Debian's, which has h5py
$python3 "$here/models/report.py" "$work" "$here/models/benzene-gfn2.h5" "$here/models/benzene-gfn2.md"
