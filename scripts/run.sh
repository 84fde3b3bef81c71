#!/usr/bin/env bash
# run.sh — the README's main command: build what is missing, run the benzene NVE validation
# (examples/lammps/in.benzene_nve, docs/validation.md) in LAMMPS with the mlff plugin, check it with
# scripts/check_nve.py and print the verdict. Log, report (text and nve.json) and plot go to
# build/validation/.
#
#   bash scripts/run.sh [--nve-ps N] [--eq-ps N] [--device cpu|gpu|auto] [--fp16 yes|no]
#                       [--seed N] [--model FILE] [--out DIR]
#
# The model is models/benzene-gfn2.h5 when it exists; otherwise an UNTRAINED model with random
# weights is made (build/models/random-benzene.h5) so that the pipeline still runs end to end,
# and every line of output and the report say so: its verdict is not physics.
# Exit status: the checker's (0 PASS, 1 FAIL, 2 the log could not be judged).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${MLFF_BUILD_DIR:-$here/build}

nve_ps=100 eq_ps=10 device=cpu fp16=no seed=4928459 model= out=
usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case $1 in
    --nve-ps) nve_ps=$2; shift 2 ;;
    --eq-ps) eq_ps=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --fp16) fp16=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
out=${out:-$build/validation}
say() { printf '[run] %s\n' "$*"; }

# 1. Build what is missing (installs Debian packages and LAMMPS on first use).
say "building (scripts/build.sh; the first time this installs packages and builds LAMMPS, ~5 min)"
bash "$here/scripts/build.sh"
prefix=$(bash "$here/scripts/setup.sh" 2>/dev/null | sed -n 's/^MLFF_LAMMPS_PREFIX=//p')
lmp=$prefix/bin/lmp
plugin=$build/plugin/mlffplugin.so
tool=$build/tools/mlff
for f in "$lmp" "$plugin" "$tool"; do
  [ -e "$f" ] || { echo "run.sh: $f is missing after the build" >&2; exit 2; }
done

# 2. The model.
note=
if [ -z "$model" ]; then
  if [ -f "$here/models/benzene-gfn2.h5" ]; then
    model=$here/models/benzene-gfn2.h5
  else
    model=$build/models/random-benzene.h5
    mkdir -p "$(dirname "$model")"
    rm -f "$model"
    "$tool" init "$model" --elements C,H --hidden 128,64,64 --seed 1 >/dev/null ||
      { echo "run.sh: $tool init failed" >&2; exit 2; }
    note="UNTRAINED random model ($model, mlff init --seed 1): no trained models/benzene-gfn2.h5 yet; this checks the pipeline, the verdict is not physics"
    echo
    echo "  ********************************************************************************"
    echo "  *  models/benzene-gfn2.h5 does not exist: using an UNTRAINED model with RANDOM  *"
    echo "  *  weights. Its molecule is not benzene's potential energy surface; whatever   *"
    echo "  *  the checker says below is about the pipeline, not about physics.            *"
    echo "  ********************************************************************************"
    echo
  fi
fi
[ -f "$model" ] || { echo "run.sh: model $model not found" >&2; exit 2; }

# 3. LAMMPS. Paths in the input are relative to the repository root.
mkdir -p "$out"
log=$out/log.lammps
export LD_LIBRARY_PATH=$prefix/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
say "model:  $model"
say "LAMMPS: $lmp -in examples/lammps/in.benzene_nve (device $device, fp16 $fp16," \
  "eq $eq_ps ps + NVE $nve_ps ps at 0.5 fs, OMP_NUM_THREADS=$OMP_NUM_THREADS)"
say "log:    $log"
lmp_rc=0
(cd "$here" && "$lmp" -in examples/lammps/in.benzene_nve -log "$log" -screen none \
  -var model "$model" -var plugin "$plugin" -var device "$device" -var fp16 "$fp16" \
  -var eq_ps "$eq_ps" -var nve_ps "$nve_ps" -var seed "$seed") || lmp_rc=$?
if [ $lmp_rc -ne 0 ]; then
  say "LAMMPS exited with status $lmp_rc; last lines of its log:"
  tail -n 15 "$log" 2>/dev/null | sed 's/^/    /' || true
fi

# 4. Timing from LAMMPS's own "Loop time" lines (equilibration, then NVE).
awk '/^MLFF_EQ_BEGIN/ {sec="equilibration"} /^MLFF_NVE_BEGIN/ {sec="NVE"}
     /^Loop time of/ && sec != "" {
       printf "[run] %-13s loop time %s s for %d steps with %d atoms: %.2f us/step\n",
              sec, $4, $9, $12, $4 / $9 * 1e6; sec = "" }' "$log" 2>/dev/null || true

# 5. The checker. Prefer a Python that has matplotlib, for the plot.
py=python3
for p in python3 /usr/bin/python3; do
  if command -v "$p" >/dev/null && "$p" -c 'import matplotlib' 2>/dev/null; then py=$p; break; fi
done
rc=0
"$py" "$here/scripts/check_nve.py" "$log" --out "$out" --json "$out/nve.json" ${note:+--model-note "$note"} || rc=$?
if [ -n "$note" ]; then
  echo
  echo "  (verdict above is for an UNTRAINED random model: a pipeline check, not physics)"
fi
exit $rc
