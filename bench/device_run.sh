#!/usr/bin/env bash
# device_run.sh — on the GPU machine, from the repository root, with .device/ (from
# scripts/device_bundle.sh) and .devdata/ (liquid boxes from bench/make_liquid.sh) carried:
# the floors of a small step (bench/latency_probe: $OUT/<gpu>-<date>-latency.json),
# GPU tests (test_gpu; test_lammps on the GPU under mpiexec with 1, 2, 4 ranks), compute-sanitizer
# memcheck and racecheck, bench/run.sh gpu (LAMMPS timings, memory,
# accuracy: $OUT/<gpu>-<date>-gpu.json), the C-API benchmark and the stage times of the 49,152-atom
# step ($OUT/<gpu>-<date>-stages.json, bench/stages.py) while time is left (the call has
# ~8 min; MLFF_DEVICE_SECONDS, default 420, is what this script plans for), everything written
# under $OUT (logs in one tarball: at most 8 files come back). MLFF_BENCH_MODEL: another model;
# MLFF_DEVICE_SANITIZE=0: no compute-sanitizer runs (more of the call left to the benchmarks);
# MLFF_DEVICE_NVE=1: the 100 ps NVE validations on the GPU at the end (docs/validation.md).
# The held-out set of the accuracy section: .devdata/heldout.h5 (or MLFF_BENCH_HELDOUT).
set -uo pipefail
out=${OUT:-/tmp/out}
mkdir -p "$out/logs"
export LD_LIBRARY_PATH=$PWD/.device/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export OMP_NUM_THREADS=1
B=$PWD/.device/bin
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/logs/gpu.txt"
echo "== floors of a small step on this machine (bench/latency_probe: launches, PCIe round trips)"
source bench/lib.sh
gpu=$(bench_gpu_name)
"$B/latency_probe" 3000 | tee "$out/${gpu:-gpu}-$(date -u +%Y-%m-%d)-latency.json"
echo "== gpu tests"
"$B/test_gpu" tests/reference/golden-model.h5 2>&1 | tee "$out/logs/test_gpu.log"
echo "test_gpu rc=${PIPESTATUS[0]}" | tee -a "$out/logs/test_gpu.log"
echo "== LAMMPS on the GPU under MPI: 1, 2, 4 ranks sharing the GPU(s) (local rank mod count)"
mkdir -p "$out/logs/mpi" && (
  cd "$out/logs/mpi" && export MLFF_PLUGIN=$B/../lib/mlffplugin.so
  for np in 1 2 4; do "$B/mpiexec" -n $np "$B/test_lammps" mpi_box gpu; done
  "$B/test_lammps" mpi_compare gpu
  "$B/mpiexec" -n 4 "$B/test_lammps" mpi_sparse gpu
) > "$out/logs/test_lammps_gpu_mpi.log" 2>&1
grep -E "rel.err|ranks vs|PASS|FAIL|SKIP" "$out/logs/test_lammps_gpu_mpi.log"
san=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
if [ -n "$san" ] && [ "${MLFF_DEVICE_SANITIZE:-1}" != 0 ]; then
  for tool in memcheck racecheck; do
    echo "== compute-sanitizer $tool"
    timeout 150 "$san" --tool "$tool" --error-exitcode 9 "$B/test_gpu" tests/reference/golden-model.h5 >"$out/logs/sanitizer_$tool.log" 2>&1
    echo "$tool rc=$?" | tee -a "$out/logs/sanitizer_$tool.log"
    tail -3 "$out/logs/sanitizer_$tool.log"
  done
fi
echo "== LAMMPS: GPU against CPU, energy and pressure of the same box (run 0; the 768-atom box takes"
echo "   the one-kernel step, the 49,152-atom box the general path, both the first call of a calc)"
model=${MLFF_BENCH_MODEL:-models/benzene-gfn2.h5}
for box in liquid768 liquid49152; do
  for dev in cpu gpu; do
    OMP_NUM_THREADS=$([ $dev = cpu ] && echo 8 || echo 1) "$B/lmp" -nocite -log "$out/logs/check_${box}_$dev.log" \
      -screen none -var plugin .device/lib/mlffplugin.so -var model "$model" -var data .devdata/$box.data \
      -var device $dev -var fp16 no -var steps 0 -var warmup 0 -in bench/in.bench
  done
  python3 - "$out/logs/check_${box}_cpu.log" "$out/logs/check_${box}_gpu.log" "$box" <<'PY'
import sys
def row(path):  # Step Temp E_pair E_mol TotEng Press of the first thermo line
    lines = open(path).read().splitlines()
    i = next(k for k, l in enumerate(lines) if l.split()[:1] == ["Step"])
    return [float(v) for v in lines[i + 1].split()]
c, g = row(sys.argv[1]), row(sys.argv[2])
de = abs(g[2] - c[2]) / abs(c[2])
print(f"{sys.argv[3]}: E_pair CPU {c[2]:.6f} GPU {g[2]:.6f} (rel. {de:.1e}); press CPU {c[5]:.4f} "
      f"GPU {g[5]:.4f}: {'OK' if de <= 1e-5 else 'MISMATCH'}")
PY
done
echo "== LAMMPS: the kept neighbour list (reused between LAMMPS's rebuilds) against a new list every"
echo "   step (MLFF_GPU_LIST_REUSE=0), 49,152 atoms, thermo after 200 steps (both on the GPU, FP32)"
for reuse in 0 1; do
  MLFF_GPU_LIST_REUSE=$reuse "$B/lmp" -nocite -log "$out/logs/check_reuse$reuse.log" -screen none \
    -var plugin .device/lib/mlffplugin.so -var model "$model" -var data .devdata/liquid49152.data \
    -var device gpu -var fp16 no -var steps 200 -var warmup 0 -in bench/in.bench
done
python3 - "$out/logs/check_reuse0.log" "$out/logs/check_reuse1.log" <<'PY'
import sys
def last(path):  # Step Temp E_pair E_mol TotEng Press of the last thermo line
    lines = open(path).read().splitlines()
    i = max(k for k, l in enumerate(lines) if l.startswith("Loop time"))
    return [float(v) for v in lines[i - 1].split()]
a, b = last(sys.argv[1]), last(sys.argv[2])
de = abs(b[4] - a[4]) / abs(a[4])
print(f"step {a[0]:.0f}: TotEng new list {a[4]:.4f}, kept list {b[4]:.4f} (rel. {de:.1e}); press "
      f"{a[5]:.3f} / {b[5]:.3f}: {'OK' if de <= 1e-6 else 'MISMATCH'}")
PY
# the benchmarks (bench/run.sh gpu: LAMMPS timings, memory, accuracy) -> $out/<gpu>-<date>-gpu.json;
# no run starts once the call nears its end (MLFF_BENCH_TIME_LIMIT, from what is left of ~7 min)
echo "== bench/run.sh gpu ($SECONDS s so far)"
left=$(( ${MLFF_DEVICE_SECONDS:-420} - 60 - SECONDS ))
[ "$left" -lt 60 ] && left=60
MLFF_BENCH_TIME_LIMIT=${MLFF_BENCH_TIME_LIMIT:-$left} MLFF_BENCH_WORK=$out/logs/bench \
  MLFF_BENCH_RESULTS=$out bash bench/run.sh gpu ${MLFF_BENCH_MODEL:+"$MLFF_BENCH_MODEL"} 2>&1 |
  tee "$out/logs/bench_run.log" | grep -v '^\[bench\] .*(repeat [2-9])'
left=$(( ${MLFF_DEVICE_SECONDS:-420} - 20 - SECONDS ))
if [ "$left" -gt 30 ]; then
  echo "== C API benchmark ($SECONDS s so far)"
  timeout "$left" "$B/gpu_bench" .devdata/liquid49152.data - 3 >"$out/gpu_bench.json" 2>"$out/logs/gpu_bench.err"
  cat "$out/gpu_bench.json"
  echo "== stage times (MLFF_GPU_PROFILE)"
  timeout 60 "$B/gpu_bench" .devdata/liquid49152.data - 0 profile 2>&1 | tail -12
else
  echo "== C API benchmark skipped: $SECONDS s spent"
fi
# where the 49,152-atom step's time goes (bench/stages.py): the timed t8 runs of bench/run.sh
# above, and the same input with MLFF_GPU_PROFILE=1 -> $out/<gpu>-<date>-stages.json
if [ $(( ${MLFF_DEVICE_SECONDS:-420} - SECONDS )) -gt 40 ]; then
  echo "== stage times of the 49,152-atom step, LAMMPS, 8 threads ($SECONDS s so far)"
  cases=()
  for fp in fp16 fp32; do
    timed=$out/logs/bench/liquid49152_gpu_${fp}_t8.1.log
    [ -f "$timed" ] || continue
    OMP_NUM_THREADS=8 MLFF_GPU_PROFILE=1 timeout 60 "$B/lmp" -nocite -screen none \
      -log "$out/logs/stages_$fp.log" -var plugin .device/lib/mlffplugin.so -var model "$model" \
      -var data .devdata/liquid49152.data -var device gpu -var fp16 $([ $fp = fp16 ] && echo yes || echo no) \
      -var steps 60 -var warmup 10 -in bench/in.bench -sf omp -pk omp 8 2>"$out/logs/stages_$fp.err" &&
      cases+=("liquid49152_gpu_${fp}_t8=$timed:$out/logs/stages_$fp.err")
  done
  [ ${#cases[@]} -gt 0 ] && python3 bench/stages.py --out "$out/${gpu:-gpu}-$(date -u +%Y-%m-%d)-stages.json" \
    --gpu "$(cut -d, -f1 "$out/logs/gpu.txt")" "${cases[@]}" && cat "$out/${gpu:-gpu}-$(date -u +%Y-%m-%d)-stages.json"
fi
# 100 ps NVE on the GPU (docs/validation.md), with MLFF_DEVICE_NVE=1 (~2 min more): one benzene in FP32 and
# FP16 (the resident step) and the 12,288-atom liquid in FP32 on 8 threads (kept list, periodic
# images made on the GPU), judged by scripts/check_nve.py ->
# $out/<gpu>-<date>-nve-gpu-{fp32,fp16,liquid12288-fp32}.json (MLFF_DEVICE_NVE_PS: a shorter run)
if [ "${MLFF_DEVICE_NVE:-0}" = 1 ]; then
  stamp=${gpu:-gpu}-$(date -u +%Y-%m-%d)
  for c in fp32:no:examples/lammps/benzene.data:1 fp16:yes:examples/lammps/benzene.data:1 \
    liquid12288-fp32:no:.devdata/liquid12288.data:8; do
    IFS=: read -r name fp16 data threads <<<"$c"
    if [ $(( ${MLFF_DEVICE_SECONDS:-420} - SECONDS )) -lt 60 ]; then
      echo "== NVE $name skipped: $SECONDS s spent"
      continue
    fi
    echo "== ${MLFF_DEVICE_NVE_PS:-100} ps NVE on the GPU: $name ($SECONDS s so far)"
    omp=()
    [ "$threads" -gt 1 ] && omp=(-sf omp -pk omp "$threads")
    OMP_NUM_THREADS=$threads timeout $(( ${MLFF_DEVICE_SECONDS:-420} - SECONDS )) "$B/lmp" -nocite \
      -screen none -log "$out/logs/nve-$name.log" -var plugin .device/lib/mlffplugin.so \
      -var model "$model" -var data "$data" -var device gpu -var fp16 "$fp16" \
      -var nve_ps "${MLFF_DEVICE_NVE_PS:-100}" "${omp[@]}" -in examples/lammps/in.benzene_nve
    python3 scripts/check_nve.py "$out/logs/nve-$name.log" --out "$out/logs/nve-$name" --no-plot \
      --json "$out/$stamp-nve-gpu-$name.json" | tail -2
  done
fi
tar -czf "$out/logs.tar.gz" -C "$out" logs && rm -rf "$out/logs"
