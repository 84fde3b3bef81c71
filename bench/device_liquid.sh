#!/usr/bin/env bash
# device_liquid.sh MODEL LABEL [FRAMES_PS [EQ_PS [PROD_PS]]] — on the GPU machine, from the repository root, with
# the bundle of scripts/device_bundle.sh (.device/, or .device.tar.xz unpacked here) and the boxes
# of .devdata/ carried: a student's liquid, watched and then validated (issue 21).
#   1. its own MD of the 1,024-molecule liquid (.devdata/liquid12288.data): examples/lammps/
#      in.liquid_frames, NPT at 300 K for FRAMES_PS ps (default 5), a frame every 100 fs, stopped
#      where it heats past 1000 K; the frames come back as $OUT/LABEL-frames.xyz.xz (extended XYZ,
#      for `mlff label --frames` here) with the log;
#   2. when it held: bench/validate_liquid.sh (EQ_PS + PROD_PS NPT, default 20 + 100 ps, the gas
#      run, RDFs; a packed box first expands, then re-densifies over ~100 ps), its JSON in
#      $OUT (<gpu>-<date>-liquid-LABEL-gpu-fp32-1024.json) and its plots in $OUT/LABEL-plots.tar.
# Logs: $OUT/LABEL-logs.tar.xz.
set -uo pipefail
model=${1:?usage: device_liquid.sh MODEL LABEL [FRAMES_PS [EQ_PS [PROD_PS]]]} label=${2:?label}
frames_ps=${3:-5} eq_ps=${4:-20} prod_ps=${5:-100}
out=${OUT:-/tmp/out}
mkdir -p "$out"
[ -x .device/bin/lmp ] || tar xJf .device.tar.xz || exit 3
export LD_LIBRARY_PATH=$PWD/.device/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export OMP_NUM_THREADS=8
work=/tmp/liquid-$label
mkdir -p "$work"
source bench/lib.sh
gpu=$(bench_gpu_name)
echo "== $label: its own liquid, $frames_ps ps NPT at 300 K on the GPU ($gpu)"
t0=$SECONDS
.device/bin/lmp -nocite -screen none -sf omp -pk omp 8 -in examples/lammps/in.liquid_frames \
  -var plugin "$PWD/.device/lib/mlffplugin.so" -var model "$PWD/$model" -var device gpu \
  -var data "$PWD/.devdata/liquid12288.data" -var run_ps "$frames_ps" -var frame_every 200 \
  -var thermo_every 100 -var frames "$work/frames.dump" -log "$work/frames.log"
echo "frames run: exit $?, $((SECONDS - t0)) s"
grep -E "^MLFF_FRAMES_END|halt" "$work/frames.log" | head -3
awk '/^ +Step +Time/ { on = 1; next } /^Loop time/ { on = 0 } on && NF == 7 && $1 % 1000 == 0 {
  printf "  %6.2f ps  T %7.1f K  density %.4f g/cm3\n", $2, $5, $7 }' "$work/frames.log"
bash bench/dump2extxyz.sh "$work/frames.dump" "$work/$label-frames.xyz" &&
  xz -T8 -6 -c "$work/$label-frames.xyz" >"$out/$label-frames.xyz.xz"
held=1
grep -q "Fix halt condition" "$work/frames.log" && held=0
if [ "$held" = 1 ]; then
  echo "== $label held together: the full validation"
  t0=$SECONDS
  bash bench/validate_liquid.sh --model "$model" --data .devdata/liquid12288.data --device gpu \
    --threads 8 --machine "$gpu" --label "$label-gpu-fp32-1024" --results "$out" \
    --eq-ps "$eq_ps" --prod-ps "$prod_ps" \
    --work "$work/validation"
  echo "validation: exit $?, $((SECONDS - t0)) s"
  (cd "$work/validation" && tar cf "$out/$label-plots.tar" ./*.png 2>/dev/null)
else
  echo "== $label heated past 1000 K: no validation"
fi
tar cJf "$out/$label-logs.tar.xz" -C "$work" frames.log $(cd "$work" && ls validation/log.* validation/report.txt 2>/dev/null)
