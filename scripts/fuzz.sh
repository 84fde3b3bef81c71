#!/usr/bin/env bash
# fuzz.sh [--json FILE] [SECONDS] [READER[:SECONDS]...] — fuzz the file readers with libFuzzer,
# built with clang, AddressSanitizer and UndefinedBehaviorSanitizer (tests/fuzz, its own CMake
# project) into build-fuzz/ (or $MLFF_BUILD_DIR-fuzz), without CUDA, libxtb, OpenMP or BLAS. READER: model,
# dataset, extxyz (default: all three); SECONDS per reader (default 60), or per reader after its
# name. scripts/test.sh runs it for 30 s per reader; the long run of bench/results:
#   MLFF_FUZZ_WORKERS=2 bash scripts/fuzz.sh --json FILE 1200 model dataset:700 extxyz:120
#
# Each reader starts from its seeds in tests/fuzz/corpus/<reader>/ plus the corpus grown by earlier
# runs (build-fuzz/corpus/<reader>/); findings go to build-fuzz/findings/<reader>/. Prints the
# executions, crashes and sanitizer reports per reader (libFuzzer's final statistics), writes them
# to FILE as JSON with --json, and exits 1 on any crash, sanitizer report, leak or hang.
#
# Environment: MLFF_FUZZ_WORKERS (default 1) parallel fuzzing processes per reader (-jobs and
# -workers); MLFF_FUZZ_SEED (default 1; 0 = random) libFuzzer's -seed, so that a short run is
# the same run every time (with one worker only: parallel jobs given one seed would repeat each
# other); CC (default clang); MLFF_FUZZ_PREBUILT=1 runs the harnesses already in the build
# folder (a machine without clang); MLFF_FUZZ_HOST names the machine in the JSON.
# libhdf5's own faults on byte-mutated files are not mlff's: memory errors that ASan catches in
# its calls of memcpy, free, ... and its leaks are suppressed (tests/fuzz/asan.supp, lsan.supp),
# its absurd allocation requests answered with NULL
# (allocator_may_return_null, which it handles), and per-input leak checks are off (libhdf5
# leaks on damaged files made every execution pay for a full scan); LeakSanitizer still checks
# the whole run at exit, where a leak of mlff's own would show.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
json=
if [ "${1:-}" = "--json" ]; then json=$2; shift 2; fi
seconds=${1:-60}
[ $# -gt 0 ] && shift
readers=("$@")
[ ${#readers[@]} -gt 0 ] || readers=(model dataset extxyz)
for r in "${readers[@]}"; do
  case "${r%%:*}" in model|dataset|extxyz) ;; *) echo "fuzz.sh: unknown reader '$r' (model, dataset, extxyz)" >&2; exit 2 ;; esac
done
workers=${MLFF_FUZZ_WORKERS:-1}
seed=${MLFF_FUZZ_SEED:-1}
build=${MLFF_BUILD_DIR:-$here/build}-fuzz
cc=${CC:-clang}

if [ -z "${MLFF_FUZZ_PREBUILT:-}" ]; then
  command -v "$cc" >/dev/null || { echo "fuzz.sh: $cc not found (apt-get install clang libclang-rt-dev)" >&2; exit 1; }
  cmake -S "$here/tests/fuzz" -B "$build" -D CMAKE_C_COMPILER="$cc" >"$build.cmake.log" 2>&1 ||
    { cat "$build.cmake.log" >&2; exit 1; }
  cmake --build "$build" -j "$(nproc)" >"$build.build.log" 2>&1 ||
    { grep -E "error" "$build.build.log" >&2; exit 1; }
  echo "[fuzz] built $build (libFuzzer, ASan + UBSan)" >&2
fi

# max_malloc_fill_size=0: no filling of every new block (libhdf5 allocates a lot; 25 % faster).
export ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=1:abort_on_error=0:max_malloc_fill_size=0:suppressions=$here/tests/fuzz/asan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$here/tests/fuzz/lsan.supp:print_suppressions=0
# The harnesses write every input to a file: in memory (/dev/shm) where there is one, as file
# creation on a disk made the extended-XYZ harness 30 times slower.
base=${TMPDIR:-/tmp}
[ -n "${TMPDIR:-}" ] || { [ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm; }
tmp=$(mktemp -d "$base/mlff-fuzz-run-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export TMPDIR=$tmp # the harnesses' input files

fail=0 rows=()
for spec in "${readers[@]}"; do
  r=${spec%%:*} t=$seconds
  [ "$spec" = "$r" ] || t=${spec#*:}
  corpus=$build/corpus/$r findings=$build/findings/$r logs=$build/logs/$r
  mkdir -p "$corpus" "$findings" "$logs"
  rm -f "$logs"/*.log
  opts=(-max_total_time="$t" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048
        -malloc_limit_mb=4096 -detect_leaks=0 -artifact_prefix="$findings/")
  # every job of -jobs would get the same -seed and run the same inputs: seeded runs are serial
  [ "$seed" = 0 ] || [ "$workers" -gt 1 ] || opts+=(-seed="$seed")
  before=$(find "$findings" -type f | wc -l)
  start=$(date +%s.%N)
  rc=0
  if [ "$workers" -gt 1 ]; then # libFuzzer writes each job's output to fuzz-<job>.log in the cwd
    (cd "$logs" && nice -n 10 "$build/fuzz_$r" -jobs="$workers" -workers="$workers" "${opts[@]}" \
      "$corpus" "$here/tests/fuzz/corpus/$r" >"$logs/main.log" 2>&1) || rc=$?
  else
    nice -n 10 "$build/fuzz_$r" "${opts[@]}" "$corpus" "$here/tests/fuzz/corpus/$r" \
      >"$logs/fuzz-0.log" 2>&1 || rc=$?
  fi
  wall=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
  execs=$(cat "$logs"/fuzz-*.log | sed -n 's/^stat::number_of_executed_units: *//p' |
          awk '{ s += $1 } END { print s + 0 }')
  crashes=$(( $(find "$findings" -type f | wc -l) - before ))
  reports=$(cat "$logs"/fuzz-*.log | grep -cE "ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:" || true)
  status=ok
  if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ] || [ "$reports" -ne 0 ]; then
    status=FAILED fail=1
    grep -hE -B2 -A25 "ERROR: |runtime error:" "$logs"/fuzz-*.log | head -60 >&2 || true
  fi
  printf '[fuzz] %-8s %10d executions in %6.1f s (%d worker(s)): %d crash(es), %d sanitizer report(s): %s\n' \
    "$r" "$execs" "$wall" "$workers" "$crashes" "$reports" "$status" >&2
  [ "$status" = ok ] || echo "[fuzz] $r: inputs in $findings, logs in $logs" >&2
  rows+=("$(printf '    "%s": {"executions": %d, "wall_s": %.1f, "workers": %d, "seconds_per_worker": %d, "crashes": %d, "sanitizer_reports": %d, "exit_status": %d, "corpus_files": %d}' \
    "$r" "$execs" "$wall" "$workers" "$t" "$crashes" "$reports" "$rc" "$(find "$corpus" -type f | wc -l)")")
done

if [ -n "$json" ]; then
  mkdir -p "$(dirname "$json")"
  {
    printf '{\n  "what": "libFuzzer runs of the file readers (scripts/fuzz.sh, tests/fuzz)",\n'
    printf '  "date": "%s",\n  "host": "%s%s, %s cores",\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
      "${MLFF_FUZZ_HOST:+$MLFF_FUZZ_HOST, }" "$(uname -sr)" "$(nproc)"
    printf '  "compiler": "%s",\n' "$("$cc" --version 2>/dev/null | head -1 || echo clang)"
    printf '  "libhdf5": "%s",\n' "$(dpkg-query -W -f='${Version}' libhdf5-dev 2>/dev/null || echo unknown)"
    printf '  "sanitizers": "address,undefined (-fno-sanitize-recover=all); leaks checked at exit",\n'
    printf '  "commit": "%s",\n' "${MLFF_FUZZ_COMMIT:-$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)}"
    printf '  "readers": {\n'
    for i in "${!rows[@]}"; do
      printf '%s%s\n' "${rows[$i]}" "$([ "$i" -lt $((${#rows[@]} - 1)) ] && echo ,)"
    done
    printf '  }\n}\n'
  } >"$json"
  echo "[fuzz] wrote $json" >&2
fi
exit $fail
