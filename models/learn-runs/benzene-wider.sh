#!/bin/bash
# benzene-wider.sh [WORK] — the benzene run from gas-phase labels (benzene.sh, TRUST=0.2,0.5)
# continued with trust levels from the committee's own floor: its deviation on what it was
# trained on was 0.13-0.31 eV/Å (median over its labelled spheres, iterations 4-9) and the
# liquid's sigma 0.22-0.35 at its quenched start, 0.51-0.65 ten femtoseconds later; so LO 0.3 and
# HI 0.8, and 6 spheres per liquid sample. Its data and its committee of iteration 9, the same
# liquid (32 molecules, 300 K, 1 atm). ITERATIONS (default 8) and TRAIN_TIME (default 300 s).
set -e
here=$(cd "$(dirname "$0")/../.." && pwd)
M=${MLFF:-$here/build/tools/mlff}
mol=$here/models/small/c6h6.xyz
benzene=${BENZENE:-$here/build/learn-benzene}
work=${1:-$here/build/learn-benzene-wider}; mkdir -p "$work"; cd "$work"
[ -f start.h5 ] || cp "$benzene/run/data.h5" start.h5
t0=$(date +%s)
$M learn run --data start.h5 --molecule $mol --init "$benzene/run/iter-09/model.h5" --committee 4 \
  --gas-temperatures 300,600 --liquid-temperatures 300 --liquid-density 0.87 --liquid-molecules 32 \
  --cluster-molecules 8 --spheres 6 --md-steps 1000 --sample-every 20 --max-label 40 --trust 0.3,0.8 \
  --iterations ${ITERATIONS:-8} --epochs 300 --train-time ${TRAIN_TIME:-300} --threads 2
echo "learn: $(( $(date +%s) - t0 )) s"
