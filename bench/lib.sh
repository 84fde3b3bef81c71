# lib.sh — helpers shared by the bench scripts (sourced, not run): bench/run.sh, bench/peers.sh,
# bench/device_dispersion.sh, bench/device_committee.sh. Plain POSIX tools only (awk), so that it
# also serves on the GPU machine.
BENCH_DIR=${BENCH_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}

# bench_copies N IN.data OUT.data — N copies of the molecule of a LAMMPS data file (atom_style
# atomic, one "Atoms" section) 20 Å apart along x in a box 20 N + 20 Å long (y, z as in IN).
bench_copies() {
  awk -v n="$1" '
    /atoms$/ && !done { na = $1; print n * na " atoms"; done = 1; next }
    /xlo xhi/ { print "0.0 " 20 * n + 20 " xlo xhi"; next }
    /^Atoms/ { print; getline; print; inatoms = 1; next }
    inatoms && NF == 5 { for (k = 0; k < n; k++) printf "%d %d %.6f %.6f %.6f\n", $1 + k * na, $2, $3 + 20 * k, $4, $5; next }
    { print }' "$2" >"$3.tmp" && mv "$3.tmp" "$3"
}

# bench_liquid N_MOLECULES OUT.data [LOG] — a liquid benzene box by bench/make_liquid.sh (packmol),
# kept when OUT.data exists already. packmol now and then stops short of its tolerance with an
# error status: seeds 1, 2, 3 are tried in turn. Returns non-zero (with the log's tail on stderr)
# when none gives a box.
bench_liquid() {
  local n=$1 box=$2 log=${3:-$2.log} seed
  for seed in 1 2 3; do
    [ -f "$box" ] || "$BENCH_DIR/make_liquid.sh" "$n" "$box" "$seed" 2>"$log" || true
  done
  [ -f "$box" ] || { tail -20 "$log" >&2; return 1; }
}

# bench_gpu_name — the first visible GPU's name in lower case without "NVIDIA" (h100, h200), as
# the device scripts name their JSON; empty where nvidia-smi finds none.
bench_gpu_name() {
  nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 |
    awk '{ for (i = 1; i <= NF; i++) if (toupper($i) != "NVIDIA") { print tolower($i); exit } }'
}

# bench_in_bench LOG MODEL DATA DEVICE FP16 STEPS WARMUP THREADS — bench/in.bench in LAMMPS
# ($BENCH_LMP, with the plugin $BENCH_PLUGIN; 300 s at most), its log in LOG; THREADS > 1 adds
# the OPENMP package's styles (-sf omp -pk omp THREADS).
bench_in_bench() {
  local omp=()
  [ "$8" -gt 1 ] && omp=(-sf omp -pk omp "$8")
  OMP_NUM_THREADS=$8 timeout 300 "$BENCH_LMP" -nocite -screen none -log "$1" \
    -var plugin "$BENCH_PLUGIN" -var model "$2" -var data "$3" -var device "$4" -var fp16 "$5" \
    -var steps "$6" -var warmup "$7" -in "$BENCH_DIR/in.bench" "${omp[@]}"
}

# bench_gpu_pair LOGDIR DATA NAME_A MODEL_A NAME_B MODEL_B — the cost of two models on the GPU
# in interleaved repeats (REPEATS, default 3) of 1000 timed steps after 100, 8 host threads, in
# each precision of FP16S (default "no yes"): logs LOGDIR/cost_<name>_fp16<no|yes>_<repeat>.log
bench_gpu_pair() {
  local rep fp
  for rep in $(seq "${REPEATS:-3}"); do
    for fp in ${FP16S:-no yes}; do
      bench_in_bench "$1/cost_$3_fp16${fp}_$rep.log" "$4" "$2" gpu "$fp" 1000 100 8
      bench_in_bench "$1/cost_$5_fp16${fp}_$rep.log" "$6" "$2" gpu "$fp" 1000 100 8
    done
  done
}
