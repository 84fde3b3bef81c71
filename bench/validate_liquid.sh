#!/usr/bin/env bash
# validate_liquid.sh — physical validation of a liquid, end to end (docs/validation.md, issue 21): make the
# box, run examples/lammps/in.liquid_npt (NPT density, RDFs) and examples/lammps/in.gas_nvt (one
# molecule, <E_gas>), then bench/validate_liquid.py (block averages, dH_vap, verdicts against
# experiment, plots, JSON in bench/results/<machine>-<date>-liquid-<label>.json). Exit status:
# the analysis's (0 PASS, 1 FAIL, 2 not judgeable), or 3 when a LAMMPS run or the setup failed.
#
# usage: bench/validate_liquid.sh [options]
#   --model FILE        the model (default models/benzene-gfn2.h5)
#   --device D          auto|gpu|cpu (default auto)       --fp16 yes|no (default no)
#   --images I          the pair style's images keyword: auto|gpu|lammps (default auto;
#                       lammps: LAMMPS's ghost atoms, as with several ranks; docs/pair_style.md)
#   --threads N         OpenMP threads (N > 1 adds -sf omp -pk omp N; default 1)
#   --molecules N       molecules in the box (default 1024)
#   --data FILE         a ready liquid box (LAMMPS data file; types in --elements order)
#   --molecule XYZ      the molecule (default models/benzene.xyz): the gas run's molecule, and
#                       the box's, packed by packmol at --density, unless --data is given (benzene
#                       itself is packed by bench/make_liquid.sh, as the benchmarks' boxes)
#   --density D         packing density, g/cm^3 or a compound of the yardstick table (default:
#                       the compound's experimental density)
#   --gas-data FILE     a ready data file of one molecule (default: written from --molecule)
#   --elements "E1 E2"  model element of each atom type (default "C H")
#   --compound NAME     yardsticks: benzene, water, ethanol, a formula, or none (default: the
#                       --molecule's Hill formula, named when in the table: C6H6 -> benzene)
#   --temp K (300)  --press BAR (1.01325)  --eq-ps (20)  --prod-ps (100)  --gas-ps (100)
#   --gas-eq-ps (5)  --seed N  --thermo-every STEPS (200)  --rdf-cut Å (min(8, L/2 - 0.5))
#   --min-steps N       FIRE steps on the packed box at most (500; 0 for a box that is a liquid)
#   --nvt-ps PS         NVT at the box's density before the barostat (5): no barostat on a box
#                       whose velocities are fresh (in.liquid_npt says why)
#   --velocities V      create (at --temp) or data (the data file's Velocities; default create)
#   --short             a pipeline check: 32 molecules, 1 + 2 ps NPT, 1 + 5 ps gas, thermo 20
#   --skip-gas          no gas run (dH_vap not judged)
#   --machine NAME      the results' machine name (default: the GPU's, e.g. h100, else vm)
#   --label L           default <compound>-<device>-<fp32|fp16>-<molecules>
#   --work DIR          logs, RDF, plots, final.data: the box at the end of production, to
#                       continue from (--data it --velocities data --min-steps 0)
#                       (default build/validation/liquid-<label>)
#   --results DIR       JSON folder (default bench/results)   --json FILE   --no-plot
#   --lmp PATH          LAMMPS (default $MLFF_LMP, .device/bin/lmp, else scripts/setup.sh's)
#   --plugin PATH       (default $MLFF_PLUGIN, .device/lib/mlffplugin.so, else
#                       ${MLFF_BUILD_DIR:-build}/plugin/mlffplugin.so)
# On the GPU machine (the bundle of scripts/device_bundle.sh carried in .device/, no packmol
# there): bash bench/validate_liquid.sh --data .devdata/liquid12288.data --device gpu
#   --threads 8 --machine h100 --results $OUT
# Here, a tiny CPU check: bash bench/validate_liquid.sh --short --device cpu
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "validate_liquid.sh: $*" >&2; exit 3; }

model=$here/models/benzene-gfn2.h5 device=auto fp16=no images=auto threads=1 molecules=1024 data= molecule=
density= gas_data= elements="C H" compound= temp=300.0 press=1.01325 eq_ps=20 prod_ps=100
gas_ps=100 gas_eq_ps=5 seed=4928459 thermo_every=200 rdf_cut= skip_gas=0 machine= label=
min_steps=500 nvt_ps=5 velocities=create
work= results= json= no_plot=0 lmp=${MLFF_LMP:-} plugin=${MLFF_PLUGIN:-}
while [ $# -gt 0 ]; do
  opt=$1
  case "$opt" in
    --short) molecules=32 nvt_ps=0.5 eq_ps=1 prod_ps=2 gas_eq_ps=1 gas_ps=5 thermo_every=20; shift
      continue ;;
    --skip-gas) skip_gas=1; shift; continue ;;
    --no-plot) no_plot=1; shift; continue ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  esac
  [ $# -ge 2 ] || die "option $opt needs a value"
  v=$2
  case "$opt" in
    --model) model=$v ;; --device) device=$v ;; --fp16) fp16=$v ;; --threads) threads=$v ;;
    --images) images=$v ;;
    --molecules) molecules=$v ;; --data) data=$v ;; --molecule) molecule=$v ;;
    --density) density=$v ;; --gas-data) gas_data=$v ;; --elements) elements=$v ;;
    --compound) compound=$v ;; --temp) temp=$v ;; --press) press=$v ;; --eq-ps) eq_ps=$v ;;
    --prod-ps) prod_ps=$v ;; --gas-ps) gas_ps=$v ;; --gas-eq-ps) gas_eq_ps=$v ;;
    --seed) seed=$v ;; --thermo-every) thermo_every=$v ;; --rdf-cut) rdf_cut=$v ;;
    --min-steps) min_steps=$v ;; --nvt-ps) nvt_ps=$v ;; --velocities) velocities=$v ;;
    --machine) machine=$v ;; --label) label=$v ;; --work) work=$v ;; --results) results=$v ;;
    --json) json=$v ;; --lmp) lmp=$v ;; --plugin) plugin=$v ;;
    *) die "unknown option $opt (--help lists them)" ;;
  esac
  shift 2
done
case "$images" in auto | gpu | lammps) ;; *) die "--images $images: auto, gpu or lammps (the pair style's images keyword)" ;; esac

# ---- programs ---------------------------------------------------------------------------------
py=${PYTHON:-}
[ -n "$py" ] || { [ -x /usr/bin/python3 ] && py=/usr/bin/python3 || py=python3; }
if [ -z "$lmp" ]; then
  if [ -x "$here/.device/bin/lmp" ]; then
    lmp=$here/.device/bin/lmp
  else
    prefix=$(bash "$here/scripts/setup.sh" 2>/dev/null | sed -n 's/^MLFF_LAMMPS_PREFIX=//p')
    lmp=${prefix:+$prefix/bin/lmp}
  fi
fi
[ -n "$lmp" ] && [ -x "$lmp" ] || die "no LAMMPS found (--lmp PATH, or run scripts/setup.sh)"
if [ -z "$plugin" ]; then
  plugin=$here/.device/lib/mlffplugin.so
  [ -f "$plugin" ] || plugin=${MLFF_BUILD_DIR:-$here/build}/plugin/mlffplugin.so
fi
[ -f "$plugin" ] || die "no plugin at $plugin (--plugin PATH, or scripts/build.sh)"
[ -f "$model" ] || die "no model at $model"
abspath() { (cd "$(dirname "$1")" && echo "$(pwd)/$(basename "$1")"); }
model=$(abspath "$model") plugin=$(abspath "$plugin") lmp=$(abspath "$lmp")
export LD_LIBRARY_PATH=$(dirname "$(dirname "$lmp")")/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export OMP_NUM_THREADS=$threads
omp=()
[ "$threads" -gt 1 ] && omp=(-sf omp -pk omp "$threads")

# ---- names ------------------------------------------------------------------------------------
default_molecule=0
[ -n "$molecule" ] || { molecule=$here/models/benzene.xyz; default_molecule=1; }
[ -f "$molecule" ] || die "no molecule file $molecule"
molecule=$(abspath "$molecule")
formula=$("$py" "$here/bench/validate_data.py" formula "$molecule") || die "cannot read $molecule"
[ -n "$compound" ] || compound=$("$py" "$here/bench/validate_data.py" formula --name "$molecule")
if [ -z "$machine" ]; then
  machine=vm
  if [ "$device" != cpu ] && command -v nvidia-smi >/dev/null 2>&1; then
    g=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 |
      awk '{ for (i = 1; i <= NF; i++) if (toupper($i) != "NVIDIA") { print tolower($i); exit } }')
    machine=${g:-vm}
  fi
fi
if [ -n "$data" ]; then  # the box's molecule count, for the label
  [ -f "$data" ] || die "no liquid data file $data"
  molecules=$(awk -v apm="$(head -1 "$molecule")" '/ atoms$/ { print int($1 / apm); exit }' "$data")
fi
prec=$([ "$fp16" = yes ] && echo fp16 || echo fp32)
[ -n "$label" ] || label=$(echo "$compound" | tr 'A-Z' 'a-z')-$device-$prec-$molecules
work=${work:-${MLFF_BUILD_DIR:-$here/build}/validation/liquid-$label}
mkdir -p "$work"
work=$(cd "$work" && pwd)
log() { echo "[validate_liquid] $*" >&2; }
first_error() { grep -m1 '^ERROR' "$1" 2>/dev/null || tail -1 "$1" 2>/dev/null || true; }

# ---- the box and the molecule -----------------------------------------------------------------
if [ -z "$data" ]; then
  data=$work/liquid.data
  if [ "$default_molecule" = 1 ] && [ -z "$density" ]; then
    log "packing $molecules benzenes (bench/make_liquid.sh) -> $data"
    for s in 1 2 3; do  # packmol now and then stops short with an error status: other seeds
      [ -f "$data" ] || bash "$here/bench/make_liquid.sh" "$molecules" "$data" "$s" \
        2>"$work/make_liquid.log" || true
    done
    [ -f "$data" ] || { tail -20 "$work/make_liquid.log" >&2; die "make_liquid.sh failed"; }
  else
    log "packing $molecules molecules of $formula at ${density:-$compound} -> $data"
    "$py" "$here/bench/validate_data.py" pack "$molecule" "$molecules" "$data" \
      --density "${density:-$compound}" --elements "$elements" --seed "$seed" ||
      die "packing failed"
  fi
else
  data=$(abspath "$data")
fi
[ -f "$data" ] || die "no liquid data file $data"
if [ -z "$gas_data" ]; then
  gas_data=$work/gas.data
  "$py" "$here/bench/validate_data.py" gas-data "$molecule" "$gas_data" --elements "$elements" \
    2>/dev/null || die "cannot write the gas data file from $molecule"
fi
gas_data=$(abspath "$gas_data")
L=$("$py" "$here/bench/validate_data.py" box "$data")
[ -n "$rdf_cut" ] ||
  rdf_cut=$(awk -v L="$L" 'BEGIN { c = L / 2 - 0.5; printf "%.2f", c < 8 ? c : 8 }')
rdf_pairs=$("$py" "$here/bench/validate_data.py" rdf-pairs --elements "$elements")

# ---- the runs ---------------------------------------------------------------------------------
common=(-nocite -screen none -var model "$model" -var plugin "$plugin" -var device "$device"
  -var fp16 "$fp16" -var elements "$elements" -var temp "$temp" -var seed "$seed"
  -var thermo_every "$thermo_every")
status=0
log "NPT: $data (box $L Å), $nvt_ps ps NVT, then $eq_ps + $prod_ps ps at $temp K, $press bar," \
  "device $device, fp16 $fp16, $threads thread(s); log $work/log.npt"
t0=$SECONDS
(cd "$work" && "$lmp" "${common[@]}" -log log.npt -var data "$data" -var press "$press" \
  -var eq_ps "$eq_ps" -var prod_ps "$prod_ps" -var rdf_cut "$rdf_cut" \
  -var rdf_pairs "$rdf_pairs" -var rdf_file rdf.dat -var min_steps "$min_steps" \
  -var nvt_ps "$nvt_ps" -var velocities "$velocities" -var final yes -var images "$images" "${omp[@]}" \
  -in "$here/examples/lammps/in.liquid_npt") || {
  status=$?
  log "NPT run failed (exit $status): $(first_error "$work/log.npt")"
}
log "NPT took $((SECONDS - t0)) s"
gas=()
if [ "$skip_gas" = 0 ]; then
  log "gas: $gas_data, $gas_eq_ps + $gas_ps ps at $temp K; log $work/log.gas"
  t0=$SECONDS
  (cd "$work" && OMP_NUM_THREADS=1 "$lmp" "${common[@]}" -log log.gas -var data "$gas_data" \
    -var eq_ps "$gas_eq_ps" -var gas_ps "$gas_ps" -in "$here/examples/lammps/in.gas_nvt") || {
    status=$?
    log "gas run failed (exit $status): $(first_error "$work/log.gas")"
  }
  log "gas took $((SECONDS - t0)) s"
  gas=(--gas "$work/log.gas")
fi

# ---- the analysis -----------------------------------------------------------------------------
args=(--npt "$work/log.npt" "${gas[@]}" --compound "$compound" --machine "$machine"
  --label "$label" --plots "$work")
[ -f "$work/rdf.dat" ] && args+=(--rdf "$work/rdf.dat")
[ -n "$results" ] && args+=(--results "$results")
[ -n "$json" ] && args+=(--json "$json")
[ "$no_plot" = 1 ] && args+=(--no-plot)
# without a gas run, the molecule's size comes from the molecule file
[ "$skip_gas" = 1 ] && args+=(--atoms-per-molecule "$(head -1 "$molecule" | awk '{ print $1 }')")
rc=0
"$py" "$here/bench/validate_liquid.py" "${args[@]}" | tee "$work/report.txt" || rc=${PIPESTATUS[0]}
if [ "$status" != 0 ]; then
  log "a LAMMPS run failed (see above); the analysis judged what it had"
  [ "$rc" = 1 ] || rc=3
fi
exit "$rc"
