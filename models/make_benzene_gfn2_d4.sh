#!/usr/bin/env bash
# make_benzene_gfn2_d4.sh — the candidate successor of the shipped model (issue 21, not shipped
# yet): label benzene with GFN2-xTB (gas-phase and condensed-phase structures), train the student
# around the long-range dispersion term (the networks learn the teacher minus D4's two-body
# dispersion), evaluate it on held-out data, write its report. Its model goes to
# WORKDIR/benzene-gfn2-d4.h5 and its report to WORKDIR/benzene-gfn2-d4.md; models/benzene-gfn2.h5
# (models/make_benzene_gfn2.sh) stays the shipped one until a candidate passes the liquid's
# validation (bench/validate_liquid.sh on a GPU).
#   bash models/make_benzene_gfn2_d4.sh [WORKDIR]   (default build/models; ~60 min on 2 cores)
# Held-out data are separate teacher trajectories, dimers, droplets, liquid spheres and relaxed
# clusters (other seeds), never seen in training; the random test split is reported too.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bash "$here/scripts/build.sh"
mlff=${MLFF_BUILD_DIR:-$here/build}/tools/mlff
work=${1:-${MLFF_BUILD_DIR:-$here/build}/models}
mkdir -p "$work"
export OMP_WAIT_POLICY=passive # idle OpenMP threads must not spin against OpenBLAS
mol=$here/models/benzene.xyz
no_condensed=(--liquids 0 --relaxed 0)
t0=$(date +%s)
# 0. the dispersion term: D4's C6 for benzene with GFN2's damping, 10 Å and the tail (the file
#    is kept beside the model; dispersion_d4.py needs dftd4 from PyPI once, in the mlff cache)
disp=$here/models/benzene-gfn2-dispersion.h5
[ -f "$disp" ] || python3 "$here/scripts/dispersion_d4.py" --molecule "$mol" --out "$disp" --cutoff 10
# 1. training data: ~5,500 gas-phase structures (MD at 300/600/900 K, normal modes, clusters of
#    2-4, 400 droplets of 13 molecules), then the condensed phase (100 spheres of 20 molecules
#    carved from liquids at 0.6-1.1 x the density, 4 relaxations of 10-30 molecules)
"$mlff" label "$work/benzene-gfn2-gas.h5" --molecule "$mol" --seed 1 "${no_condensed[@]}"
t1=$(date +%s)
"$mlff" label "$work/benzene-gfn2-condensed.h5" --molecule "$mol" --seed 3 --temperatures 300 \
  --md-structures 40 --normal-modes 0 --dimers 0 --far-dimers 0 --trimers 0 --tetramers 0 \
  --droplets 0 --liquids 100 --relaxed 4
t2=$(date +%s)
"$mlff" import "$work/benzene-gfn2-gas.h5" "$work/benzene-gfn2-train.h5" --overwrite
"$mlff" import "$work/benzene-gfn2-condensed.h5" "$work/benzene-gfn2-train.h5" --append
# 2. held-out data: new trajectories (300 and 600 K), dimers and droplets; new liquid spheres
#    and relaxed clusters (other seeds)
"$mlff" label "$work/benzene-gfn2-test.h5" --molecule "$mol" --seed 2 \
  --temperatures 300,600 --md-structures 200 --normal-modes 0 --dimers 200 --far-dimers 50 \
  --trimers 0 --tetramers 0 --droplets 50 "${no_condensed[@]}"
"$mlff" label "$work/benzene-gfn2-test-condensed.h5" --molecule "$mol" --seed 4 --temperatures 300 \
  --md-structures 10 --normal-modes 0 --dimers 0 --far-dimers 0 --trimers 0 --tetramers 0 \
  --droplets 0 --liquids 20 --relaxed 2
t3=$(date +%s)
# 3. the student: ANI-1x descriptor, 128-64-64 SiLU per element, with the dispersion term,
#    25 minutes at most
"$mlff" train "$work/benzene-gfn2-train.h5" --out "$work/benzene-gfn2-d4.h5" --elements C,H \
  --hidden 128,64,64 --time-limit 1500 --seed 1 --dispersion "$disp"
t4=$(date +%s)
# 4. evaluation: held-out structures, interaction energies (per molecule of each cluster),
#    harmonic frequencies, the dimer curves
m=$work/benzene-gfn2-d4.h5
"$mlff" eval "$m" "$work/benzene-gfn2-test.h5" --split all --interaction \
  --json "$work/eval-heldout.json" >"$work/eval-heldout.txt"
"$mlff" eval "$m" "$work/benzene-gfn2-test-condensed.h5" --split all --interaction \
  --json "$work/eval-condensed.json" >"$work/eval-condensed.txt"
"$mlff" eval "$m" "$work/benzene-gfn2-train.h5" --split test \
  --json "$work/eval-testsplit.json" >"$work/eval-testsplit.txt"
"$mlff" eval "$m" --freq "$mol" --json "$work/eval-freq.json" >"$work/eval-freq.txt"
python3=/usr/bin/python3; [ -x $python3 ] || python3=python3 # Debian's, which has numpy, h5py
$python3 "$here/bench/dimer_curves.py" --model "$m" --mlff "$mlff" --machine vm \
  --json "$work/dimers.json" --work "$work/dimers" >"$work/dimers.txt"
t5=$(date +%s)
printf '{"label_s": %d, "label_condensed_s": %d, "label_heldout_s": %d, "train_s": %d, "eval_s": %d}\n' \
  $((t1 - t0)) $((t2 - t1)) $((t3 - t2)) $((t4 - t3)) $((t5 - t4)) >"$work/timings.json"
cat "$work/timings.json"
# 5. the report, from those files; the liquid's validation (bench/validate_liquid.sh, on a GPU)
#    adds its JSON when given as LIQUID_JSON
$python3 "$here/models/report.py" "$work" "$m" "$work/benzene-gfn2-d4.md" ${LIQUID_JSON:-}
