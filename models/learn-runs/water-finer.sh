#!/bin/bash
# water-finer.sh [WORK] — water-continued.sh's run, continued (session 18) with what
# bench/teacher_locality.py showed: GFN2-xTB's forces on a water molecule still move by tens of
# meV/Å when molecules 8-10 Å away are added, so no local student's deviation in the liquid
# falls below ~0.2 eV/Å (the old lower trust level, 0.15, lay under that floor). Here: trust
# levels 0.3,0.8 eV/Å, and a sample every 2 fs to see more of the liquid's way out of the trust
# region. Needs water-continued.sh's folder (CONTINUED).
set -e
here=$(cd "$(dirname "$0")/../.." && pwd)
M=${MLFF:-$here/build/tools/mlff}
mol=$here/models/small/h2o.xyz
cont=${CONTINUED:-$here/build/learn-water-continued}
work=${1:-$here/build/learn-water-finer}; mkdir -p "$work"; cd "$work"
t0=$(date +%s)
$M learn run --data "$cont/run/data.h5" --molecule $mol --init "$cont/run/iter-08/model.h5" --committee 4 \
  --gas-temperatures 300,600 --liquid-temperatures 300 --liquid-density 0.997 --liquid-molecules 128 \
  --cluster-molecules 48 --spheres 4 --trajectories 4 --md-steps 2000 --sample-every 4 --max-label 80 \
  --trust 0.3,0.8 --iterations ${ITERATIONS:-8} --epochs 300 --train-time 240 --threads 1 \
  --time-limit ${TIME_LIMIT:-3600}
echo "learn: $(( $(date +%s) - t0 )) s"
