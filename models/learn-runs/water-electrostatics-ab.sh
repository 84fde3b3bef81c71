#!/bin/bash
# water-electrostatics-ab.sh [WORK] — does fixed-charge electrostatics help a local student of
# water? (issue 23; the charges from bench/teacher_locality.py --charges O=-0.6,H=0.3 on the
# 128-molecule frames, scaled by its fitted 1.257: O -0.754, H +0.377 e). GFN2-xTB labels of the
# molecule and of 400 spheres of 32 molecules carved from liquids at 0.6-1.1 x 0.997 g/cm3, then
# two students from the same split, seed and limits, A without and B with the term, and each
# one's test errors by source (mlff eval). Run on 2026-12-07: water-electrostatics-ab.txt.
set -e
here=$(cd "$(dirname "$0")/../.." && pwd)
M=${MLFF:-$here/build/tools/mlff}
work=${1:-$here/build/water-electrostatics-ab}; mkdir -p "$work"; cd "$work"
[ -f water.h5 ] || $M label water.h5 --molecule "$here/models/small/h2o.xyz" --temperatures 300,600 \
  --md-structures 300 --normal-modes 200 --dimers 400 --far-dimers 200 --contact-dimers 200 \
  --trimers 0 --tetramers 0 --droplets 0 --liquids 400 --liquid-molecules 32 --liquid-density 0.997 \
  --relaxed 0 --seed 5 --jobs 1
opts=(--elements H,O --hidden 128,64,64 --time-limit 900 --patience 100 --seed 1 --threads 1)
[ -f A.h5 ] || $M train water.h5 --out A.h5 "${opts[@]}" > A.log 2>&1 &
[ -f B.h5 ] || $M train water.h5 --out B.h5 "${opts[@]}" \
  --electrostatics O=-0.754,H=0.377,alpha=0.1,cutoff=12 > B.log 2>&1 &
wait
for m in A B; do echo "== $m: $(grep '^test' $m.log)"; $M eval $m.h5 water.h5 --split test; done
