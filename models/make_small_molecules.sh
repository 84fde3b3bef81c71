#!/usr/bin/env bash
# make_small_molecules.sh [WORK] — one model of H, C, N and O for the small molecules the seed
# pipeline benchmarks with (models/small/: H2O, NH3, CH4, C2H6, C6H6, CH3COOH and a cyclic water
# pentamer), distilled from GFN2-xTB with `mlff learn` (issue 23) from gas-phase labels, then each
# molecule's NVE check in LAMMPS on the CPU (examples/lammps/in.benzene_nve with that molecule,
# 10 ps Langevin then NVE_PS ps of NVE, judged by scripts/check_nve.py). Nothing in it is
# specific to any of the molecules: each is an XYZ file.
#   WORK (default build/small-molecules): labels, the learn folder, the model
#   (WORK/small-molecules.h5), the NVE logs and WORK/report.txt (the verdicts).
# Knobs: ITERATIONS (4), TRAIN_TIME (300 s per training), NVE_PS (100), JOBS (2).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$here/build/small-molecules}
M=${MLFF:-$here/build/tools/mlff}
py=/usr/bin/python3
mols="h2o nh3 ch4 c2h6 c6h6 ch3cooh h2o_5"
mkdir -p "$work"
t0=$SECONDS
seed=1
args=()
for m in $mols; do
  xyz=$here/models/small/$m.xyz
  args+=(--molecule "$xyz")
  # pairs of the molecule too, but not of the 15-atom pentamer (its own MD holds its contacts)
  pairs="--dimers 100 --far-dimers 50"
  [ "$m" = h2o_5 ] && pairs="--dimers 0 --far-dimers 0"
  [ -f "$work/label-$m.h5" ] ||
    "$M" label "$work/label-$m.h5" --molecule "$xyz" --temperatures 300,600 --md-structures 300 \
      --normal-modes 200 $pairs --contact-dimers 0 --trimers 0 --tetramers 0 --droplets 0 \
      --liquids 0 --relaxed 0 --seed $seed --jobs "${JOBS:-2}" 2>"$work/label-$m.log" >/dev/null
  seed=$((seed + 1))
done
rm -f "$work/start.h5"
first=1
for m in $mols; do
  if [ $first = 1 ]; then "$M" import "$work/label-$m.h5" "$work/start.h5" >/dev/null; first=0
  else "$M" import "$work/label-$m.h5" "$work/start.h5" --append >/dev/null; fi
done
t1=$SECONDS
echo "labels: $((t1 - t0)) s"
[ -f "$work/init.h5" ] || "$M" init "$work/init.h5" --elements H,C,N,O --hidden 128,64,64 --seed 1 >/dev/null
"$M" learn "$work/learn" --data "$work/start.h5" "${args[@]}" --init "$work/init.h5" \
  --committee 4 --gas-temperatures 300,600 --md-steps 2000 --sample-every 20 --max-label 60 \
  --trust 0.1,0.3 --iterations "${ITERATIONS:-4}" --epochs 300 --train-time "${TRAIN_TIME:-300}" \
  --threads "${JOBS:-2}" 2>"$work/learn.log"
last=$(ls -d "$work"/learn/iter-* | sort | tail -1)
cp "$last/model.h5" "$work/small-molecules.h5"
t2=$SECONDS
echo "learn: $((t2 - t1)) s ($last)"
prefix=$(bash "$here/scripts/setup.sh" | sed -n 's/^MLFF_LAMMPS_PREFIX=//p')
plugin=${MLFF_PLUGIN:-$here/build/plugin/mlffplugin.so}
: >"$work/report.txt"
for m in $mols; do
  "$py" "$here/bench/validate_data.py" gas-data "$here/models/small/$m.xyz" "$work/$m.data" \
    --elements "H C N O" 2>/dev/null
  (cd "$here" && LD_LIBRARY_PATH=$prefix/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} "$prefix/bin/lmp" -nocite -screen none \
    -log "$work/nve-$m.log" -in examples/lammps/in.benzene_nve -var plugin "$plugin" \
    -var model "$work/small-molecules.h5" -var data "$work/$m.data" -var elements "H C N O" \
    -var device cpu -var fp16 no -var nve_ps "${NVE_PS:-100}") || true
  mkdir -p "$work/nve-$m"
  verdict=$("$py" "$here/scripts/check_nve.py" "$work/nve-$m.log" --out "$work/nve-$m" \
    --json "$work/nve-$m.json" 2>&1 | grep "^VERDICT") || true
  echo "$m: $verdict" | tee -a "$work/report.txt"
done
echo "NVE checks: $((SECONDS - t2)) s; total $SECONDS s" | tee -a "$work/report.txt"
