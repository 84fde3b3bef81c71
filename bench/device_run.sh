#!/usr/bin/env bash
# device_run.sh — on the GPU machine, from the repository root, with .device/ (from
# scripts/device_bundle.sh) and .devdata/ (liquid boxes from bench/make_liquid.sh) carried:
# GPU tests, compute-sanitizer memcheck and racecheck, the C-API benchmark and LAMMPS runs
# (timers), everything written under $OUT (logs in one tarball: at most 8 files come back).
set -uo pipefail
out=${OUT:-/tmp/out}
mkdir -p "$out/logs"
export LD_LIBRARY_PATH=$PWD/.device/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export OMP_NUM_THREADS=1
B=$PWD/.device/bin
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/logs/gpu.txt"
echo "== gpu tests"
"$B/test_gpu" 2>&1 | tee "$out/logs/test_gpu.log"
echo "test_gpu rc=${PIPESTATUS[0]}" | tee -a "$out/logs/test_gpu.log"
san=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
if [ -n "$san" ]; then
  for tool in memcheck racecheck; do
    echo "== compute-sanitizer $tool"
    timeout 150 "$san" --tool "$tool" --error-exitcode 9 "$B/test_gpu" >"$out/logs/sanitizer_$tool.log" 2>&1
    echo "$tool rc=$?" | tee -a "$out/logs/sanitizer_$tool.log"
    tail -3 "$out/logs/sanitizer_$tool.log"
  done
fi
echo "== C API benchmark"
timeout 300 "$B/gpu_bench" .devdata/liquid49152.data - 3 >"$out/gpu_bench.json" 2>"$out/logs/gpu_bench.err"
cat "$out/gpu_bench.json"
echo "== stage times (MLFF_GPU_PROFILE)"
"$B/gpu_bench" .devdata/liquid49152.data - 0 profile 2>&1 | tail -12
echo "== LAMMPS"
# the shipped model where there is one (a trained model keeps molecules whole), else random
model=models/benzene-gfn2.h5
if [ ! -f "$model" ]; then
  model=$out/logs/random-128-64-64.h5
  "$B/mlff" init "$model" --elements C,H --hidden 128,64,64 --seed 1 >/dev/null
fi
echo "model: $model"
# B molecules in one box: copies of the example's benzene 20 Å apart
for n in 4 8 16; do
  awk -v n="$n" 'BEGIN { s = 0 }
    /atoms$/ && !done { na = $1; print n * na " atoms"; done = 1; next }
    /xlo xhi/ { print "0.0 " 20 * n + 20 " xlo xhi"; next }
    /^Atoms/ { print; getline; print; inatoms = 1; next }
    inatoms && NF == 5 { for (k = 0; k < n; k++) printf "%d %d %.6f %.6f %.6f\n", $1 + k * na, $2, $3 + 20 * k, $4, $5; next }
    { print }' examples/lammps/benzene.data >"$out/logs/benzene$n.data"
done
run() { # name data device fp16 steps
  "$B/lmp" -nocite -log "$out/logs/$1.log" -screen none -var plugin .device/lib/mlffplugin.so \
    -var model "$model" -var data "$2" -var device "$3" -var fp16 "$4" -var steps "$5" -in bench/in.bench
  echo "$1 rc=$? $(grep -A1 MLFF_BENCH_BEGIN -m1 "$out/logs/$1.log" >/dev/null; grep 'Loop time' "$out/logs/$1.log" | tail -1)"
}
# GPU against CPU inside LAMMPS: energy and pressure of the same box, run 0
for dev in cpu gpu; do
  "$B/lmp" -nocite -log "$out/logs/check_$dev.log" -screen none -var plugin .device/lib/mlffplugin.so \
    -var model "$model" -var data .devdata/liquid768.data -var device $dev -var fp16 no -var steps 0 \
    -var warmup 0 -in bench/in.bench
  echo "$dev: $(grep -A1 '^ *Step' "$out/logs/check_$dev.log" | tail -1)"
done
for r in 1 2 3; do
  run benzene_gpu_fp32_$r examples/lammps/benzene.data gpu no 5000
  run benzene_gpu_fp16_$r examples/lammps/benzene.data gpu yes 5000
  for n in 4 8 16; do run benzene${n}_gpu_fp32_$r "$out/logs/benzene$n.data" gpu no 3000; done
  run liquid49152_gpu_fp32_$r .devdata/liquid49152.data gpu no 200
  run liquid49152_gpu_fp16_$r .devdata/liquid49152.data gpu yes 200
done
run benzene_cpu_1 examples/lammps/benzene.data cpu no 2000
tar -czf "$out/logs.tar.gz" -C "$out" logs && rm -rf "$out/logs"
