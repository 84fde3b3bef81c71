#!/bin/bash
# ethanol-wider.sh [WORK] — the ethanol run (ethanol.sh) continued with trust levels set from the
# committee's own floor: its deviation on what it was trained on was 0.06-0.13 eV/Å (the largest
# per-atom sigma of each labelled sphere), so LO 0.2 and HI 0.5 instead of 0.1 and 0.3. Its data
# (start + 88 labels) and its committee of iteration 9, the same liquid (32 molecules, 300 K,
# 1 atm). ITERATIONS (default 5) and TRAIN_TIME (default 240 s) in the environment.
set -e
here=$(cd "$(dirname "$0")/../.." && pwd)
M=${MLFF:-$here/build/tools/mlff}
mol=$here/models/small/c2h5oh.xyz
ethanol=${ETHANOL:-$here/build/learn-ethanol}
work=${1:-$here/build/learn-ethanol-wider}; mkdir -p "$work"; cd "$work"
[ -f start.h5 ] || cp "$ethanol/run/data.h5" start.h5
t0=$(date +%s)
$M learn run --data start.h5 --molecule $mol --init "$ethanol/run/iter-09/model.h5" --committee 4 \
  --gas-temperatures 300,600 --liquid-temperatures 300 --liquid-density 0.789 --liquid-molecules 32 \
  --cluster-molecules 12 --spheres 3 --md-steps 1000 --sample-every 20 --max-label 40 --trust 0.2,0.5 \
  --iterations ${ITERATIONS:-5} --epochs 300 --train-time ${TRAIN_TIME:-240} --threads 1
echo "learn: $(( $(date +%s) - t0 )) s"
