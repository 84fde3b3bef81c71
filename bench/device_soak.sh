#!/usr/bin/env bash
# device_soak.sh — long runs on the GPU without drift or leaks (issue 24, part 5), on the GPU
# machine, from the repository root, with the bundle of scripts/device_bundle.sh (.device/, or
# .device.tar.xz unpacked here) and .devdata/liquid49152.data (bench/make_liquid.sh 4096) carried.
#   1. one benzene: examples/lammps/in.benzene_nve on the GPU, 10 ps Langevin then NVE for
#      SOAK_BENZENE_STEPS steps (default 10^6 = 500 ps), judged by scripts/check_nve.py;
#   2. the 49,152-atom liquid: examples/lammps/in.liquid_nve (FIRE, 5 ps Langevin) then NVE for
#      SOAK_LIQUID_STEPS steps (default 10^5 = 50 ps), judged by the same criteria;
#   3. both again, short, under compute-sanitizer's memcheck (leak check on): its error count.
# While each run goes, a sampler reads the run's host memory (VmRSS of lmp) and its GPU memory
# (nvidia-smi, per process) every 2 s. Memory counts as flat when its last sample exceeds the
# first one after the warm-up (10 s or 10 % of the run, whichever is later) by at most 2 MiB or
# 0.5 %.
# Writes $OUT/<gpu>-<date>-soak.json (one record per run; -soak-PARTS.json when SOAK_PARTS is
# not all three) and $OUT/soak-logs.tar.gz.
# Settings (environment):
#   MLFF_SOAK_MODEL    the model, relative to the repository root (default models/benzene-gfn2.h5)
#   MLFF_SOAK_LMP      the LAMMPS binary (default .device/bin/lmp of the bundle; when set, the
#                      bundle is not unpacked and LD_LIBRARY_PATH must already reach LAMMPS's
#                      libraries, e.g. $MLFF_LAMMPS_PREFIX/lib of scripts/setup.sh)
#   MLFF_SOAK_PLUGIN   the plugin (default .device/lib/mlffplugin.so; locally
#                      build/plugin/mlffplugin.so)
#   MLFF_SOAK_DEVICE   gpu (default) or cpu
#   MLFF_SOAK_DATA     the liquid's data file (default .devdata/liquid49152.data)
#   MLFF_SOAK_SANITIZER_DATA  the liquid under compute-sanitizer (default MLFF_SOAK_DATA; memcheck
#                      slows the step a hundredfold, so a smaller box fits a call beside the rest)
#   MLFF_SOAK_SANITIZER=0  skips step 3 (it is skipped anyway without compute-sanitizer)
#   SOAK_BENZENE_STEPS, SOAK_LIQUID_STEPS  NVE steps (defaults 10^6 and 10^5)
#   SOAK_BENZENE_EQ_PS, SOAK_LIQUID_EQ_PS  Langevin before NVE, ps (defaults 10 and 5)
#   MLFF_SOAK_THREADS  OpenMP threads of LAMMPS's own work (-sf omp -pk omp N; default 1: none)
#   SOAK_PARTS         which of "benzene liquid sanitizer" to run (default all three): the
#                      liquid's 10^5 steps with a three-body dispersion term take most of one
#                      device call (~5 ms a step), so the parts may go in separate calls, each
#                      writing its own JSON with the runs it made
# A dry run on the CPU with the local build (tests/bench: bench.soak_dry_run):
#   prefix=$(bash scripts/setup.sh | sed -n 's/^MLFF_LAMMPS_PREFIX=//p')
#   bash bench/make_liquid.sh 8 /tmp/liq8.data 1
#   LD_LIBRARY_PATH=$prefix/lib MLFF_SOAK_LMP=$prefix/bin/lmp \
#   MLFF_SOAK_PLUGIN=$PWD/build/plugin/mlffplugin.so MLFF_SOAK_DEVICE=cpu \
#   MLFF_SOAK_DATA=/tmp/liq8.data SOAK_BENZENE_STEPS=4000 SOAK_LIQUID_STEPS=200 \
#   SOAK_LIQUID_EQ_PS=0.1 OUT=/tmp/soak bash bench/device_soak.sh
# Without nvidia-smi the GPU memory is not sampled (gpu_memory_mib null) and the file is named
# <device>-<date>-soak.json.
set -uo pipefail
out=${OUT:-/tmp/out}
logs=$out/soak-logs
mkdir -p "$logs"
if [ -n "${MLFF_SOAK_LMP:-}" ]; then
  lmp=$MLFF_SOAK_LMP
else
  [ -x .device/bin/lmp ] || tar xJf .device.tar.xz || exit 3
  export LD_LIBRARY_PATH=$PWD/.device/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  lmp=$PWD/.device/bin/lmp
fi
plugin=${MLFF_SOAK_PLUGIN:-$PWD/.device/lib/mlffplugin.so}
[ -x "$lmp" ] || { echo "device_soak.sh: no LAMMPS binary $lmp" >&2; exit 3; }
[ -f "$plugin" ] || { echo "device_soak.sh: no plugin $plugin" >&2; exit 3; }
model=$PWD/${MLFF_SOAK_MODEL:-models/benzene-gfn2.h5}
device=${MLFF_SOAK_DEVICE:-gpu}
data=${MLFF_SOAK_DATA:-$PWD/.devdata/liquid49152.data} eq=${SOAK_LIQUID_EQ_PS:-5}
sdata=${MLFF_SOAK_SANITIZER_DATA:-$data}
beq=${SOAK_BENZENE_EQ_PS:-10}
nb=${SOAK_BENZENE_STEPS:-1000000} nl=${SOAK_LIQUID_STEPS:-100000}
parts=" ${SOAK_PARTS:-benzene liquid sanitizer} "
threads=${MLFF_SOAK_THREADS:-1} omp=()
[ "$threads" -gt 1 ] 2>/dev/null && omp=(-sf omp -pk omp "$threads")
for p in $parts; do
  case $p in benzene | liquid | sanitizer) ;;
  *) echo "device_soak.sh: SOAK_PARTS holds '$p'; the parts are benzene, liquid and sanitizer" >&2; exit 3 ;;
  esac
done
smi=$(command -v nvidia-smi)
gpu=
if [ -n "$smi" ]; then
  source bench/lib.sh
  gpu=$(bench_gpu_name)
fi
stamp=${gpu:-$device}-$(date -u +%Y-%m-%d)
{ [ -n "$smi" ] && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader |
  tee "$logs/gpu.txt"; } || echo "no GPU (device $device)" >"$logs/gpu.txt"
sanitizer=
[ "${MLFF_SOAK_SANITIZER:-1}" = 0 ] || [[ $parts != *" sanitizer "* ]] ||
  sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)

# sample PID FILE: "seconds rss_kib gpu_mib" every 2 s while PID lives
sample() {
  local pid=$1 file=$2 t0=$SECONDS
  while kill -0 "$pid" 2>/dev/null; do
    rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
    g=-1  # not sampled
    [ -n "$smi" ] && g=$(nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits 2>/dev/null |
      awk -F', *' -v p="$pid" '$1 == p { print $2 }')
    [ -n "$rss" ] && echo "$((SECONDS - t0)) $rss ${g:-0}" >>"$file"
    sleep 2
  done
}

# run NAME INPUT ARGS...: lmp in the background with the sampler; its rc in $logs/NAME.rc
run() {
  local name=$1 input=$2
  shift 2
  : >"$logs/$name.mem"
  local t0=$SECONDS
  OMP_NUM_THREADS=$threads "$lmp" -nocite -screen none -log "$logs/$name.log" "${omp[@]}" -in "$input" \
    -var plugin "$plugin" -var model "$model" -var device "$device" "$@" &
  local pid=$!
  sample $pid "$logs/$name.mem" &
  wait $pid
  echo $? >"$logs/$name.rc"
  echo "$((SECONDS - t0))" >"$logs/$name.wall"
  echo "$name: rc $(cat "$logs/$name.rc"), $(cat "$logs/$name.wall") s"
  python3 scripts/check_nve.py "$logs/$name.log" --out "$logs/$name-check" --no-plot \
    --json "$logs/$name-check.json" | tail -3
}

if [[ $parts == *" benzene "* ]]; then
  echo "== one benzene, $nb NVE steps on $device"
  run benzene examples/lammps/in.benzene_nve -var eq_ps "$beq" -var nve_ps "$(python3 -c "print($nb * 0.0005)")" \
    -var thermo_every $((nb >= 100000 ? 1000 : 100))
fi
if [[ $parts == *" liquid "* ]]; then
  echo "== the liquid ($(sed -n 3p "$data")), $nl NVE steps on $device"
  run liquid examples/lammps/in.liquid_nve -var data "$data" -var eq_ps "$eq" \
    -var nve_ps "$(python3 -c "print($nl * 0.0005)")" -var thermo_every $((nl >= 10000 ? 500 : 10))
fi

echo "== compute-sanitizer memcheck, short runs (${sanitizer:-not found})"
if [ -n "$sanitizer" ]; then
  for c in "benzene examples/lammps/in.benzene_nve -var eq_ps 0.1 -var nve_ps 0.5 -var thermo_every 100" \
    "liquid examples/lammps/in.liquid_nve -var data $sdata -var eq_ps 0.01 -var nve_ps 0.01 -var thermo_every 10"; do
    set -- $c
    name=sanitizer-$1 input=$2
    shift 2
    timeout 200 "$sanitizer" --tool memcheck --leak-check full --error-exitcode 9 \
      "$lmp" -nocite -screen none -log "$logs/$name.log" -in "$input" -var plugin "$plugin" \
      -var model "$model" -var device "$device" "$@" >"$logs/$name.txt" 2>&1
    echo $? >"$logs/$name.rc"
    echo "$name: rc $(cat "$logs/$name.rc"); $(grep -E "ERROR SUMMARY|LEAK SUMMARY" "$logs/$name.txt" | tr '\n' ' ')"
  done
fi

tag=
[ "$parts" = " benzene liquid sanitizer " ] || tag=-$(echo $parts | tr ' ' '-')
python3 - "$logs" "$out/$stamp-soak$tag.json" "$(cut -d, -f1 "$logs/gpu.txt")" "$model" "$device" "$sdata" <<'PY'
import json, os, re, sys
logs, dest, gpu, model, device, sdata = sys.argv[1:7]
res = {"gpu": None if gpu.startswith("no GPU") else gpu, "device": device, "model": os.path.basename(model),
       "source": "bench/device_soak.sh (issue 24)",
       "flat_rule": "last sample <= first sample after the warm-up (10 s or 10 % of the run, the "
       "later) + max(2 MiB, 0.5 %)",
       "runs": {}}
for name in ("benzene", "liquid"):
    if not os.path.exists(f"{logs}/{name}.rc"):  # not among SOAK_PARTS
        continue
    r = {"rc": int(open(f"{logs}/{name}.rc").read()), "wall_s": int(open(f"{logs}/{name}.wall").read())}
    text = open(f"{logs}/{name}.log").read()
    loops = re.findall(r"Loop time of ([\d.eE+-]+) on \d+ procs for (\d+) steps with (\d+) atoms", text)
    if loops:  # the last run is the NVE one
        r.update(nve_steps=int(loops[-1][1]), atoms=int(loops[-1][2]),
                 us_per_step=round(1e6 * float(loops[-1][0]) / int(loops[-1][1]), 2))
    rows = [[float(v) for v in l.split()] for l in open(f"{logs}/{name}.mem") if l.strip()]
    if rows:
        # past loading and the first steps: 10 s or 10 % of the run, whichever is later
        late = [q for q in rows if q[0] >= max(10.0, 0.1 * rows[-1][0])]
        warm = late[0] if late else rows[len(rows) // 2]
        for col, key, unit in ((1, "host_rss", 1 / 1024), (2, "gpu_memory", 1.0)):
            if any(q[col] < 0 for q in rows):  # no nvidia-smi: not sampled
                r[key + "_mib"] = None
                continue
            a, b, m = warm[col] * unit, rows[-1][col] * unit, max(q[col] for q in rows) * unit
            r[key + "_mib"] = {"after_warmup": round(a, 1), "end": round(b, 1), "max": round(m, 1),
                               "flat": b <= a + max(2.0, 0.005 * a)}
        r["samples"] = len(rows)
    try:
        c = json.load(open(f"{logs}/{name}-check.json"))
        r["nve"] = {k: c[k] for k in c if k not in ("series",)}
    except (OSError, ValueError) as e:
        r["nve"] = {"error": str(e)}
    res["runs"][name] = r
for name in ("sanitizer-benzene", "sanitizer-liquid"):
    try:
        t = open(f"{logs}/{name}.txt").read()
    except OSError:
        continue
    m = re.search(r"ERROR SUMMARY: (\d+) error", t)
    res["runs"][name] = {"rc": int(open(f"{logs}/{name}.rc").read()),
                         "data": None if name.endswith("benzene") else os.path.basename(sdata),
                         "errors": int(m.group(1)) if m else None,
                         "leaks": re.findall(r"LEAK SUMMARY: .*", t)}
json.dump(res, open(dest, "w"), indent=1)
print(json.dumps({k: {q: v[q] for q in v if q != "nve"} for k, v in res["runs"].items()}, indent=1))
PY
tar -czf "$out/soak-logs$tag.tar.gz" -C "$out" soak-logs && rm -rf "$logs"
ls "$out"
