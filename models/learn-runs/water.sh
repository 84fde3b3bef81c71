#!/bin/bash
# water.sh [WORK] — mlff learn on water from gas-phase labels only (monomers at 300-900 K, normal
# modes, dimers and far dimers); gas at 300 and 600 K and a 64-molecule liquid at 300 K, 1 atm.
# The run of 2026-12-06 (models/learn-runs/README.md) was stopped by hand when the session ended.
set -e
here=$(cd "$(dirname "$0")/../.." && pwd)
M=${MLFF:-$here/build/tools/mlff}
mol=$here/models/small/h2o.xyz
work=${1:-$here/build/learn-water}; mkdir -p "$work"; cd "$work"
t0=$(date +%s)
[ -f gas.h5 ] || $M label gas.h5 --molecule $mol --temperatures 300,600,900 --md-structures 400 --normal-modes 300 \
  --dimers 400 --far-dimers 200 --contact-dimers 0 --trimers 0 --tetramers 0 --droplets 0 --liquids 0 --relaxed 0 --jobs 1
t1=$(date +%s); echo "label: $((t1 - t0)) s"
[ -f init.h5 ] || $M init init.h5 --elements H,O --hidden 128,64,64 --seed 1
$M learn run --data gas.h5 --molecule $mol --init init.h5 --committee 4 --gas-temperatures 300,600 \
  --liquid-temperatures 300 --liquid-density 0.997 --liquid-molecules 64 --cluster-molecules 12 --spheres 3 \
  --md-steps 2000 --sample-every 20 --max-label 60 --trust 0.1,0.3 --iterations 30 --epochs 300 --train-time 240 --threads 1
t2=$(date +%s); echo "learn: $((t2 - t1)) s"
