# lib.sh — helpers shared by the bench scripts (sourced, not run): bench/run.sh, bench/peers.sh,
# bench/device_run.sh. Plain POSIX tools only (awk), so that it also serves on the GPU machine.
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
