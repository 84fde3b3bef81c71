#!/bin/bash
# ethanol-bond-increments.sh [WIDER_WORK] [WORK] — ethanol's student with bond-charge increments
# (docs/model.md#bond-charge-increments, issue 23): charges by element cannot tell ethanol's
# hydroxyl H (+0.28 e in GFN2-xTB) from its alkyl H (+0.01..0.05), so its electrostatics beyond
# the 5.2 Å descriptor were missing (dimer curves 7.8 meV). Here:
#  1. the teacher's Mulliken charges of the relaxed monomer (xtb --opt; kept in bench/results),
#     fitted by three increments (bench/bond_increments.py: H-C, H-O, C-O; 0.013 e rms);
#  2. their scale, fitted as dimer_decompose.py --fit-charges stacked --dsf 0.1,12 does on the
#     teacher's stacked dimer curve beyond the cutoff (1.366; the held-out curves' rest there
#     3.97 -> 0.23 meV: bench/results/vm-2026-12-08-dimer-decompose-bond-increments-ethanol.json);
#  3. member 0 of ethanol-wider's committee of iteration 10 trained on, from that run's data
#     (WIDER_WORK/run/data.h5: ethanol.sh + ethanol-wider.sh), with those increments (150
#     epochs at most, lr 3e-4, one thread).
set -e
here=$(cd "$(dirname "$0")/../.." && pwd)
M=${MLFF:-$here/build/tools/mlff}
export PYTHONPATH=$here/python MLFF_LIBRARY=${MLFF_LIBRARY:-$here/build/core/libmlff.so}
wider=${1:-$here/build/learn-ethanol-wider}
work=${2:-$here/build/ethanol-bond-increments}; mkdir -p "$work"; cd "$work"
t0=$(date +%s)
/usr/bin/python3 - "$here/models/learn-runs/ethanol-wider-iter10.h5" member0.h5 <<'PY'
import ctypes, sys
import mlff
from mlff import _lib as L
m, out = mlff.Model(sys.argv[1]), L.mlff_model_p()
mlff.model.check(L.lib().mlff_model_committee_member(m._handle(), 0, ctypes.byref(out)))
mlff.model.check(L.lib().mlff_model_save(out, sys.argv[2].encode()))
L.lib().mlff_model_free(out)
PY
spec=$(/usr/bin/python3 "$here/bench/bond_increments.py" --model member0.h5 \
  --molecule "$here/models/small/c2h5oh.xyz" \
  --charges "$here/bench/results/vm-2026-12-07-ethanol-monomer-xtb.charges" \
  --scale 1.3656039065228576 --json increments.json | sed -n 's/^mlff train --electrostatics //p')
echo "electrostatics: $spec"
$M train "$wider/run/data.h5" --out model.h5 --init member0.h5 \
  --electrostatics "$spec,alpha=0.1,cutoff=12" --epochs 150 --time-limit 3000 --lr 3e-4 \
  --patience 30 --threads 1 --seed 1
echo "ethanol-bond-increments: $(( $(date +%s) - t0 )) s"
