#!/usr/bin/env bash
# device_npt_segment.sh MODEL DATA LABEL — one segment of an NPT liquid run longer than a machine
# is lent for (issue 21), from the repository root: examples/lammps/in.liquid_npt with its
# walltime set so that the segment ends SEGMENT_S seconds after this script starts, less
# MARGIN_S for packing up. A box that has not settled after one call goes on in the next:
#
#   first call:  bash bench/device_npt_segment.sh models/M.h5 .devdata/box.data run-a
#   next calls:  xz -d run-a-final.data.xz
#                CONTINUE=1 bash bench/device_npt_segment.sh models/M.h5 run-a-final.data run-b
#   here:        python3 bench/validate_liquid.py --npt run-a-npt.log run-b-npt.log ... \
#                    [--skip-ps PS] [--gas GAS.log] --compound NAME
#
# The first segment relaxes the packed box (FIRE, MIN_STEPS 200), draws velocities at TEMP,
# runs NVT_PS (10) of NVT at its density and EQ_PS (20) of NPT equilibration, then production
# until the walltime (PROD_PS, 1000, is only the plan); a continuation (CONTINUE=1) takes DATA's
# positions and velocities (a final.data) and goes straight on with production. Frames every
# FRAME_PS (5) ps of production are kept (for bench/liquid_structure.py).
# Writes to $OUT three files (a device call brings back at most 8): LABEL-npt.log,
# LABEL-final.data.xz (unpack it for the next call's DATA), LABEL-frames.dump.xz.
# Environment: MLFF_LMP, MLFF_PLUGIN (default: the bundle of scripts/device_bundle.sh, .device/,
# unpacked from .device.tar.xz when needed), DEVICE (gpu), THREADS (8: -sf omp -pk omp N; 1:
# none), ELEMENTS ("C H"), TEMP (300), PRESS (1.01325), SEGMENT_S (540), MARGIN_S (45).
set -uo pipefail
die() { echo "device_npt_segment.sh: $*" >&2; exit 2; }
[ $# -eq 3 ] || die "usage: device_npt_segment.sh MODEL DATA LABEL (CONTINUE=1 for a continuation)"
t0=$SECONDS
model=$1 data=$2 label=$3
[ -f "$model" ] || die "no model $model"
[ -f "$data" ] || die "no data file $data"
wall=$(( ${SEGMENT_S:-540} - (SECONDS - t0) - ${MARGIN_S:-45} ))
[ "$wall" -gt 0 ] || die "SEGMENT_S ${SEGMENT_S:-540} leaves no time after MARGIN_S ${MARGIN_S:-45}"
out=${OUT:-/tmp/out}
mkdir -p "$out"
if [ -z "${MLFF_LMP:-}" ]; then
  [ -x .device/bin/lmp ] || tar xJf .device.tar.xz || die "no bundle: .device/ nor .device.tar.xz"
  export LD_LIBRARY_PATH=$PWD/.device/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
lmp=${MLFF_LMP:-$PWD/.device/bin/lmp}
plugin=${MLFF_PLUGIN:-$PWD/.device/lib/mlffplugin.so}
threads=${THREADS:-8}
omp=()
[ "$threads" -gt 1 ] && omp=(-sf omp -pk omp "$threads")
if [ "${CONTINUE:-0}" = 1 ]; then
  stages=(-var min_steps 0 -var nvt_ps 0 -var eq_ps 0 -var velocities data)
else
  stages=(-var min_steps "${MIN_STEPS:-200}" -var nvt_ps "${NVT_PS:-10}" -var eq_ps "${EQ_PS:-20}")
fi
frame_steps=$(awk -v p="${FRAME_PS:-5}" 'BEGIN { printf "%d", p / 0.0005 + 0.5 }')
work=$(mktemp -d)
echo "== $label: $model from $data, walltime $wall s, device ${DEVICE:-gpu}"
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
input=$(abs examples/lammps/in.liquid_npt) log=$(abs "$out")/$label-npt.log
plugin=$(abs "$plugin") model=$(abs "$model") data=$(abs "$data")
(cd "$work" && OMP_NUM_THREADS=$threads timeout $((wall + 60)) "$lmp" -nocite -screen none \
  "${omp[@]}" -in "$input" -log "$log" \
  -var plugin "$plugin" -var model "$model" -var data "$data" \
  -var device "${DEVICE:-gpu}" -var elements "${ELEMENTS:-C H}" -var temp "${TEMP:-300.0}" \
  -var press "${PRESS:-1.01325}" "${stages[@]}" -var prod_ps "${PROD_PS:-1000}" \
  -var rdf_every "$frame_steps" -var keep_dump yes -var final yes -var walltime "$wall")
rc=$?
[ -f "$work/final.data" ] && xz -T"$threads" -1 -c "$work/final.data" >"$out/$label-final.data.xz"
[ -s "$work/rdf_frames.dump" ] && xz -T"$threads" -6 -c "$work/rdf_frames.dump" >"$out/$label-frames.dump.xz"
rm -rf "$work"
grep -E "^MLFF_NPT_PRODUCTION_(BEGIN|END)|^Performance|^ERROR" "$out/$label-npt.log" | cut -c1-160
echo "$label: LAMMPS exit $rc after $((SECONDS - t0)) s; $(ls "$out" | grep -c "^$label-") files in $out"
[ "$rc" = 0 ] && [ -s "$out/$label-final.data.xz" ]
