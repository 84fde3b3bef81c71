#!/usr/bin/env bash
# device_committee.sh — on the GPU machine, from the repository root, with .device/ (from
# scripts/device_bundle.sh) and .devdata/ (liquid boxes from bench/make_liquid.sh; a committee
# model, COMMITTEE, and its member 0 alone, MEMBER): a committee on the GPU in LAMMPS (issue 23).
#   1. step 0 of the 12,288-atom liquid, the committee on the GPU against the CPU (energy,
#      pressure, largest force deviation: compute pair mlff's c_ID[1]);
#   2. the cost: the 49,152-atom liquid, FP32 and FP16, 8 host threads, the committee against
#      its member 0 alone, interleaved repeats; LAMMPS's "Loop time" per step.
# REPEATS (default 3) repeats, FP16S (default "no yes") the precisions timed.
# Writes $OUT/<gpu>-<date>-committee.json and logs under $OUT/logs.
set -uo pipefail
out=${OUT:-/tmp/out}
mkdir -p "$out/logs"
[ -x .device/bin/lmp ] || tar xJf .device.tar.xz || exit 3
export LD_LIBRARY_PATH=$PWD/.device/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
source bench/lib.sh
BENCH_LMP=$PWD/.device/bin/lmp BENCH_PLUGIN=$PWD/.device/lib/mlffplugin.so
committee=${COMMITTEE:-.devdata/comm4.h5}
member=${MEMBER:-.devdata/comm4-member0.h5}
gpu=$(bench_gpu_name)
step0() { # name device threads: pe, press and the committee's largest deviation at step 0
  local omp=()
  [ "$3" -gt 1 ] && omp=(-sf omp -pk omp "$3")
  OMP_NUM_THREADS=$3 timeout 300 "$BENCH_LMP" -nocite -screen none -log "$out/logs/$1.log" \
    -var plugin "$BENCH_PLUGIN" -var model "$committee" -var data .devdata/liquid12288.data \
    -var device "$2" -in /dev/stdin "${omp[@]}" <<'IN'
units metal
atom_style atomic
boundary p p p
read_data ${data}
plugin load ${plugin}
pair_style mlff ${model} device ${device}
pair_coeff * * C H
compute dev all pair mlff
thermo_style custom step pe press c_dev[1]
thermo_modify format float %.10g
run 0
IN
  awk '/^ *Step/ { h = 1; next } h && NF == 4 { print $2, $3, $4; exit }' "$out/logs/$1.log"
}
echo "== step 0, 12,288 atoms, committee: GPU against CPU (16 threads)"
read -r eg pg dg < <(step0 step0_gpu gpu 1)
read -r ec pc dc < <(step0 step0_cpu cpu 16)
echo "GPU pe $eg press $pg max deviation $dg; CPU pe $ec press $pc max deviation $dc"
echo "== cost on 49,152 atoms, 8 threads (${REPEATS:-3} interleaved repeats of 1000 steps)"
bench_gpu_pair "$out/logs" .devdata/liquid49152.data member "$member" committee "$committee"
python3 - "$out" "$gpu" "$eg" "$pg" "$dg" "$ec" "$pc" "$dc" "$committee" "$member" <<'PY'
import glob, json, re, statistics, sys, time
out, gpu, eg, pg, dg, ec, pc, dc, committee, member = sys.argv[1:11]
def loop_us(path):
    t = None
    for l in open(path):
        m = re.match(r"Loop time of ([0-9.eE+-]+) on .* for (\d+) steps", l)
        if m and int(m.group(2)) >= 1000: t = 1e6 * float(m.group(1)) / int(m.group(2))
    return t
cases = {}
for fp in ("no", "yes"):
    for m in ("member", "committee"):
        ts = [t for t in (loop_us(p) for p in sorted(glob.glob(f"{out}/logs/cost_{m}_fp16{fp}_*.log"))) if t]
        cases[f"{m}_fp16_{fp}"] = {"us_per_step": ts, "median": statistics.median(ts) if ts else None}
f = lambda v: float(v) if v else None
res = {"machine": gpu, "date": time.strftime("%Y-%m-%d"), "committee": committee, "member": member,
       "step0_12288": {"gpu": {"pe_eV": f(eg), "press_bar": f(pg), "max_deviation": f(dg)},
                       "cpu": {"pe_eV": f(ec), "press_bar": f(pc), "max_deviation": f(dc)}},
       "cost_49152_t8": cases}
if eg and ec:
    res["step0_12288"]["pe_rel_diff"] = abs(float(eg) - float(ec)) / abs(float(ec))
if dg and dc:
    res["step0_12288"]["deviation_rel_diff"] = abs(float(dg) - float(dc)) / abs(float(dc))
for fp in ("no", "yes"):
    a, b = cases[f"member_fp16_{fp}"]["median"], cases[f"committee_fp16_{fp}"]["median"]
    if a and b:
        res[f"cost_ratio_fp16_{fp}"] = b / a
        print(f"fp16 {fp}: member 0 alone {a:.1f} us/step, the committee {b:.1f}: {b / a:.2f}x")
print(json.dumps(res["step0_12288"]))
json.dump(res, open(f"{out}/{gpu}-{res['date']}-committee.json", "w"), indent=1)
PY
