#!/bin/bash
# water-continued.sh [WORK] — the water run of water.sh, continued (session 17): its data and its
# committee of iteration 28, plus 400 contact dimers (a quarter of them along a principal axis),
# trust levels 0.15,0.5 eV/Å, a 128-molecule liquid explored by 4 trajectories, spheres of 48
# molecules (their centres have 5.2 Å of water around them). Needs water.sh's folder (WATER).
set -e
here=$(cd "$(dirname "$0")/../.." && pwd)
M=${MLFF:-$here/build/tools/mlff}
mol=$here/models/small/h2o.xyz
water=${WATER:-$here/build/learn-water}
work=${1:-$here/build/learn-water-continued}; mkdir -p "$work"; cd "$work"
t0=$(date +%s)
[ -f contact.h5 ] || $M label contact.h5 --molecule $mol --seed 11 --temperatures 300 --md-structures 40 \
  --normal-modes 0 --dimers 0 --far-dimers 0 --contact-dimers 400 --trimers 0 --tetramers 0 --droplets 0 \
  --liquids 0 --relaxed 0 --jobs 1
if [ ! -f start.h5 ]; then
  cp "$water/run/data.h5" start.part.h5
  $M import contact.h5 start.part.h5 --append
  mv start.part.h5 start.h5
fi
echo "label: $(( $(date +%s) - t0 )) s"
$M learn run --data start.h5 --molecule $mol --init "$water/run/iter-28/model.h5" --committee 4 \
  --gas-temperatures 300,600 --liquid-temperatures 300 --liquid-density 0.997 --liquid-molecules 128 \
  --cluster-molecules 48 --spheres 4 --trajectories 4 --md-steps 2000 --sample-every 20 --max-label 80 \
  --trust 0.15,0.5 --iterations 12 --epochs 300 --train-time 240 --threads 1 --time-limit 3600
echo "learn: $(( $(date +%s) - t0 )) s"
