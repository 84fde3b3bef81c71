#!/bin/bash
# benzene.sh [WORK] — mlff learn on benzene from gas-phase labels only (monomers at 300-900 K,
# normal modes, dimers and far dimers: no cluster, droplet or liquid data), with the shipped
# model's D4 dispersion term; gas at 300 and 600 K and a 32-molecule liquid at 300 K, 1 atm.
# The run of 2026-12-06 (models/learn-runs/README.md) was stopped by hand after 4 iterations.
# TRUST (default 0.1,0.3), ITERATIONS (10) and TRAIN_TIME (360 s) in the environment; the run of
# 2026-12-07 used TRUST=0.2,0.5 (the committee's floor on a 384-atom box, as for ethanol).
set -e
here=$(cd "$(dirname "$0")/../.." && pwd)
M=${MLFF:-$here/build/tools/mlff}
mol=$here/models/small/c6h6.xyz
work=${1:-$here/build/learn-benzene}; mkdir -p "$work"; cd "$work"
t0=$(date +%s)
[ -f gas.h5 ] || $M label gas.h5 --molecule $mol --temperatures 300,600,900 --md-structures 400 --normal-modes 300 \
  --dimers 400 --far-dimers 200 --contact-dimers 0 --trimers 0 --tetramers 0 --droplets 0 --liquids 0 --relaxed 0 --jobs 2
t1=$(date +%s); echo "label: $((t1 - t0)) s"
[ -f init.h5 ] || $M init init.h5 --elements H,C --hidden 128,64,64 --seed 1 --dispersion $here/models/benzene-gfn2.h5
$M learn run --data gas.h5 --molecule $mol --init init.h5 --committee 4 --gas-temperatures 300,600 \
  --liquid-temperatures 300 --liquid-density 0.87 --liquid-molecules 32 --cluster-molecules 8 --spheres 3 \
  --md-steps 1000 --sample-every 20 --max-label 40 --trust ${TRUST:-0.1,0.3} --iterations ${ITERATIONS:-10} \
  --epochs 300 --train-time ${TRAIN_TIME:-360} --threads 2
t2=$(date +%s); echo "learn: $((t2 - t1)) s"
