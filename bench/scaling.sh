#!/usr/bin/env bash
# scaling.sh — on the GPU machine, from the repository root, with .device/ (scripts/device_bundle.sh,
# MPI LAMMPS and mpiexec inside) and .devdata/liquid49152.data carried: multi-GPU weak and strong
# scaling and ranks sharing one GPU (bench/scaling.py), JSON to $OUT/<gpu>-<date>-scaling.json
# (copy it to bench/results/; bench/report.sh puts it in the report). MLFF_SCALING_GPUS caps the
# GPU count; MLFF_BENCH_MODEL: another model.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-/tmp/out}
dev=$here/.device
data=$here/.devdata/liquid49152.data
[ -x "$dev/bin/mpiexec" ] || { echo "scaling.sh: $dev/bin/mpiexec not found (unpack the bundle of scripts/device_bundle.sh)" >&2; exit 1; }
[ -f "$data" ] || { echo "scaling.sh: $data not found (bench/make_liquid.sh 4096 $data, here)" >&2; exit 1; }
export LD_LIBRARY_PATH=$dev/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | grep -oE '[HABLV][0-9]+' | head -1 | tr 'A-Z' 'a-z')
mkdir -p "$out/logs/scaling"
exec python3 "$here/bench/scaling.py" --lmp "$dev/bin/lmp" --plugin "$dev/lib/mlffplugin.so" \
  --model "${MLFF_BENCH_MODEL:-$here/models/benzene-gfn2.h5}" --data "$data" --mpiexec "$dev/bin/mpiexec" \
  --work "$out/logs/scaling" --out "$out/${gpu:-gpu}-$(date -u +%F)-scaling.json" --gpus "${MLFF_SCALING_GPUS:-0}"
