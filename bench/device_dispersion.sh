#!/usr/bin/env bash
# device_dispersion.sh — on the GPU machine, from the repository root, with .device/ (from
# scripts/device_bundle.sh) and .devdata/ (liquid boxes from bench/make_liquid.sh; a model with
# long-range dispersion, MODEL_DISP, and the same networks without it, MODEL): the dispersion
# term on the GPU in LAMMPS.
#   1. step 0 of the 12,288-atom liquid, GPU against CPU (energy, pressure): the same numbers;
#   2. the cost: the 49,152-atom liquid, FP16 and FP32, 8 host threads, with and without the
#      term, interleaved repeats; LAMMPS's "Loop time" per step.
# With MODEL the same model's pair term alone and MODEL_DISP with the three-body term too, it
# measures that term instead; LABEL (default "dispersion") names the JSON; WHAT, when given,
# says in words what the two models are (bench/report_cost.py prints it instead of its default).
# REPEATS (default 3) repeats, FP16S (default "no yes") the precisions timed.
# Writes $OUT/<gpu>-<date>-LABEL.json and logs under $OUT/logs.
set -uo pipefail
out=${OUT:-/tmp/out}
mkdir -p "$out/logs"
export LD_LIBRARY_PATH=$PWD/.device/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
source bench/lib.sh
BENCH_LMP=$PWD/.device/bin/lmp BENCH_PLUGIN=$PWD/.device/lib/mlffplugin.so
model=${MODEL:-models/benzene-gfn2.h5}
model_disp=${MODEL_DISP:-.devdata/benzene-disp.h5}
gpu=$(bench_gpu_name)
# run NAME MODEL DATA DEVICE FP16 STEPS WARMUP THREADS: bench/in.bench, its log $out/logs/NAME.log
run() { bench_in_bench "$out/logs/$1.log" "${@:2}"; }
thermo0() { # the step-0 row of a log: PotEng and Press
  awk '/^ *Step/ { h = 1; next } h && NF > 3 { print $3, $NF; exit }' "$1"
}
echo "== step 0, 12,288 atoms, with dispersion: GPU against CPU (16 threads)"
run step0_gpu "$model_disp" .devdata/liquid12288.data gpu no 0 0 1
run step0_cpu "$model_disp" .devdata/liquid12288.data cpu no 0 0 16
read -r eg pg < <(thermo0 "$out/logs/step0_gpu.log")
read -r ec pc < <(thermo0 "$out/logs/step0_cpu.log")
echo "GPU pe $eg press $pg; CPU pe $ec press $pc"
echo "== cost on 49,152 atoms, 8 threads (${REPEATS:-3} interleaved repeats of 1000 steps)"
bench_gpu_pair "$out/logs" .devdata/liquid49152.data plain "$model" disp "$model_disp"
python3 - "$out" "$gpu" "$eg" "$pg" "$ec" "$pc" "${LABEL:-dispersion}" "$model" "$model_disp" <<'PY'
import glob, json, os, re, statistics, sys, time
out, gpu, eg, pg, ec, pc, label, model, model_disp = sys.argv[1:10]
def loop_us(path):
    t = None
    for l in open(path):
        m = re.match(r"Loop time of ([0-9.eE+-]+) on .* for (\d+) steps", l)
        if m and int(m.group(2)) >= 1000: t = 1e6 * float(m.group(1)) / int(m.group(2))
    return t
cases = {}
for fp in ("no", "yes"):
    for m in ("plain", "disp"):
        ts = [loop_us(p) for p in sorted(glob.glob(f"{out}/logs/cost_{m}_fp16{fp}_*.log"))]
        ts = [t for t in ts if t]
        cases[f"{m}_fp16_{fp}"] = {"us_per_step": ts, "median": statistics.median(ts) if ts else None}
res = {"machine": gpu, "date": time.strftime("%Y-%m-%d"), "model": model, "model_disp": model_disp,
       "step0_12288": {"gpu": {"pe_eV": float(eg), "press_bar": float(pg)},
                       "cpu": {"pe_eV": float(ec), "press_bar": float(pc)},
                       "pe_rel_diff": abs(float(eg) - float(ec)) / abs(float(ec))},
       "cost_49152_t8": cases}
if os.environ.get("WHAT"):
    res["what"] = os.environ["WHAT"]
for fp in ("no", "yes"):
    a, b = cases[f"plain_fp16_{fp}"]["median"], cases[f"disp_fp16_{fp}"]["median"]
    if a and b:
        res[f"dispersion_share_fp16_{fp}"] = (b - a) / b
        print(f"fp16 {fp}: {a:.1f} us/step without, {b:.1f} with; the term is {100 * (b - a) / b:.1f} % of the step")
print(f"step 0: pe GPU {eg} CPU {ec} (rel. diff {res['step0_12288']['pe_rel_diff']:.2e}); press GPU {pg} CPU {pc}")
json.dump(res, open(f"{out}/{gpu}-{res['date']}-{label}.json", "w"), indent=1)
PY
