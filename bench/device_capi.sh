#!/usr/bin/env bash
# device_capi.sh — the C API at LAMMPS speed (issue 22, part 3), on the GPU machine, from the
# repository root, with the bundle of scripts/device_bundle.sh (.device/, or .device.tar.xz
# unpacked here) and .devdata/liquid49152.data (bench/make_liquid.sh 4096) carried; for the
# Calculator rows, ASE as a wheel in .whl/ (the GPU machine has none; see docs/validation.md).
#   1. tests: test_repeat (mlff_compute's kept list on the GPU against the CPU, every call),
#      test_gpu, and Python's repeat and gpu cases (with ASE);
#   2. bench/capi_bench liquid on the 49,152-atom box, FP32 and FP16, 1 and 8 host threads:
#      mlff_compute with the kept list, mlff_compute_neighbors as pair_style mlff calls it, and
#      mlff_compute with skin 0 (the behaviour before) -> $OUT/<gpu>-<date>-capi-liquid.json;
#   3. the LAMMPS step on the same card, same box, same threads (bench/in.bench, 200 steps,
#      "Loop time" / steps) and the ratio C API / LAMMPS (target <= 1.5);
#   4. bench/python_timing.py: one benzene through mlff.Calculator (CPU and GPU) against the C
#      API -> $OUT/<gpu>-<date>-python-timing.json (targets: GPU <= 60 us, CPU <= 2x the C API).
# Logs: $OUT/capi-logs.tar.gz. MLFF_BENCH_MODEL: another model (default the shipped one);
# MLFF_CAPI_DATA, MLFF_CAPI_STEPS, MLFF_CAPI_DEVICE (gpu): another box, other step counts, the
# CPU (a dry run on a small box); PYTHON: the Python with numpy (python3).
set -uo pipefail
out=${OUT:-/tmp/out}
mkdir -p "$out/logs"
[ -x .device/bin/capi_bench ] || tar xJf .device.tar.xz || exit 3
export LD_LIBRARY_PATH=$PWD/.device/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export MLFF_LIBRARY=$PWD/.device/lib/libmlff.so.0 PYTHONPATH=$PWD/python
B=$PWD/.device/bin
model=${MLFF_BENCH_MODEL:-models/benzene-gfn2.h5}
data=${MLFF_CAPI_DATA:-.devdata/liquid49152.data}
steps=${MLFF_CAPI_STEPS:-300}
py=${PYTHON:-python3}
source bench/lib.sh
gpu=$(bench_gpu_name)
stamp=${gpu:-gpu}-$(date -u +%Y-%m-%d)
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/logs/gpu.txt"
if ls .whl/ase-*.whl >/dev/null 2>&1 && ! "$py" -c "import ase" 2>/dev/null; then
  "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site \
    .whl/*.whl && export PYTHONPATH=$PYTHONPATH:/tmp/site
fi
"$py" -c "import ase; print('ASE', ase.__version__)" 2>&1 | tail -1

echo "== tests"
OMP_NUM_THREADS=2 "$B/test_repeat" >"$out/logs/test_repeat.log" 2>&1
echo "test_repeat rc=$?" | tee -a "$out/logs/test_repeat.log"
grep -E "kept calc|lists built|CHECK" "$out/logs/test_repeat.log"
"$B/test_gpu" >"$out/logs/test_gpu.log" 2>&1
echo "test_gpu rc=$?" | tee -a "$out/logs/test_gpu.log"
grep -E "kept list|CHECK" "$out/logs/test_gpu.log"
for case in repeat gpu; do
  OMP_NUM_THREADS=1 "$py" tests/python/test_mlff.py $case --repo . --work /tmp/pywork-$case \
    >"$out/logs/python_$case.log" 2>&1
  echo "python $case rc=$? (77: skipped)" | tee -a "$out/logs/python_$case.log"
  grep -E "^repeat|^gpu|FAIL|SKIP" "$out/logs/python_$case.log"
done

echo "== the 49,152-atom liquid: C API and LAMMPS, same card ($SECONDS s so far)"
for fp in fp32 fp16; do
  for t in 1 8; do
    OMP_NUM_THREADS=$t "$B/capi_bench" liquid $data "$model" --threads $t --device ${MLFF_CAPI_DEVICE:-gpu} \
      $([ $fp = fp16 ] && echo --fp16) --steps $steps --json "$out/logs/capi_${fp}_t$t.json" |
      tee -a "$out/logs/capi.log"
    omp=()
    [ $t -gt 1 ] && omp=(-sf omp -pk omp $t)
    OMP_NUM_THREADS=$t "$B/lmp" -nocite -screen none -log "$out/logs/lammps_${fp}_t$t.log" \
      -var plugin .device/lib/mlffplugin.so -var model "$model" -var data $data -var device gpu \
      -var fp16 $([ $fp = fp16 ] && echo yes || echo no) -var steps $steps -var warmup 20 \
      "${omp[@]}" -in bench/in.bench >/dev/null 2>&1
    grep -E "^Loop time" "$out/logs/lammps_${fp}_t$t.log" | tail -1
  done
done
"$py" - "$out/logs" "$out/$stamp-capi-liquid.json" "$(cut -d, -f1 "$out/logs/gpu.txt")" "$steps" <<'PY'
import json, re, sys
logs, dest, gpu, steps = sys.argv[1:5]
res = {"gpu": gpu, "source": "bench/device_capi.sh: bench/capi_bench liquid (wall time per call, "
       "mean over %s MD-like calls after 10; the skin-0 row over at most 50) and LAMMPS "
       "bench/in.bench (Loop time / %s steps after 20), the same box, card and host threads"
       % (steps, steps),
       "target": "mlff_compute mean <= 1.5 x the LAMMPS step", "cases": {}}
for fp in ("fp32", "fp16"):
    for t in (1, 8):
        key = "%s_t%d" % (fp, t)
        try:
            c = json.load(open("%s/capi_%s.json" % (logs, key)))
        except (OSError, ValueError) as e:
            res["cases"][key] = {"error": "capi_bench: %s" % e}
            continue
        try:
            text = open("%s/lammps_%s.log" % (logs, key)).read()
        except OSError:
            text = ""
        loops = re.findall(r"Loop time of ([\d.eE+-]+) on \d+ procs.*? for (\d+) steps", text)
        builds = re.findall(r"Neighbor list builds = (\d+)", text)
        lmp_us = 1e6 * float(loops[-1][0]) / int(loops[-1][1]) if loops else None
        row = {"capi": c, "lammps_us_per_step": lmp_us,
               "lammps_neighbor_builds": int(builds[-1]) if builds else None}
        if lmp_us:
            row["mlff_compute_over_lammps"] = round(c["mlff_compute"]["us_per_call"]["mean"] / lmp_us, 3)
            row["meets_target"] = row["mlff_compute_over_lammps"] <= 1.5
            if c.get("mlff_compute_neighbors"):
                row["compute_neighbors_over_lammps"] = round(
                    c["mlff_compute_neighbors"]["us_per_call"]["mean"] / lmp_us, 3)
        res["cases"][key] = row
        print("%s: mlff_compute %.0f us (%s lists), compute_neighbors %s us, skin 0 %.0f us, "
              "LAMMPS %s us/step: ratio %s" % (
                  key, c["mlff_compute"]["us_per_call"]["mean"], c["mlff_compute"]["lists_built"],
                  (c.get("mlff_compute_neighbors") or {}).get("us_per_call", {}).get("mean"),
                  c["mlff_compute_skin0"]["us_per_call"]["mean"],
                  "%.0f" % lmp_us if lmp_us else None, row.get("mlff_compute_over_lammps")))
json.dump(res, open(dest, "w"), indent=1)
PY

echo "== one benzene: Python against the C API ($SECONDS s so far)"
OMP_NUM_THREADS=1 "$py" bench/python_timing.py --capi "$B/capi_bench" --calls 5000 \
  --out "$out/$stamp-python-timing.json" 2>&1 | tee "$out/logs/python_timing.log"
tar -czf "$out/capi-logs.tar.gz" -C "$out" logs && rm -rf "$out/logs"
ls "$out"
