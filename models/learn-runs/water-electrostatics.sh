#!/bin/bash
# water-electrostatics.sh [WORK] — mlff learn on water with the electrostatics term (fixed
# charges O -0.754, H +0.377 e, DSF alpha 0.1, 12 Å; see water-electrostatics-ab.sh), from the
# labels of water-electrostatics-ab.sh (its WORK's water.h5: the molecule and 400 spheres of 32
# molecules); gas at 300 and 600 K and a 128-molecule liquid at 300 K, 1 atm, spheres of 32
# molecules, trust levels 0.2,0.6 eV/Å. ITERATIONS (default 8) and TRAIN_TIME (240 s).
set -e
here=$(cd "$(dirname "$0")/../.." && pwd)
M=${MLFF:-$here/build/tools/mlff}
mol=$here/models/small/h2o.xyz
ab=${AB:-$here/build/water-electrostatics-ab}
work=${1:-$here/build/learn-water-electrostatics}; mkdir -p "$work"; cd "$work"
[ -f start.h5 ] || cp "$ab/water.h5" start.h5
[ -f init.h5 ] || $M init init.h5 --elements H,O --hidden 128,64,64 --seed 1 \
  --electrostatics O=-0.754,H=0.377,alpha=0.1,cutoff=12
t0=$(date +%s)
$M learn run --data start.h5 --molecule $mol --init init.h5 --committee 4 --gas-temperatures 300,600 \
  --liquid-temperatures 300 --liquid-density 0.997 --liquid-molecules 128 --cluster-molecules 32 --spheres 3 \
  --md-steps 2000 --sample-every 20 --max-label 60 --trust 0.2,0.6 --iterations ${ITERATIONS:-8} \
  --epochs 300 --train-time ${TRAIN_TIME:-240} --threads 1
echo "learn: $(( $(date +%s) - t0 )) s"
