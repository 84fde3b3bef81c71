#!/usr/bin/env bash
# fuzz.sh [--json FILE] [SECONDS] [READER[:SECONDS]...] — fuzz the file readers with libFuzzer,
# built with clang, AddressSanitizer and UndefinedBehaviorSanitizer (tests/fuzz, its own CMake
# project) into build-fuzz/ (or $MLFF_BUILD_DIR-fuzz), without CUDA, libxtb, OpenMP or BLAS. READER: model,
# dataset, extxyz (default: all three); SECONDS per reader (default 60), or per reader after its
# name. scripts/test.sh runs it for 30 s per reader; the long run of bench/results:
#   MLFF_FUZZ_WORKERS=2 bash scripts/fuzz.sh --json FILE 2000 model dataset:1050 extxyz:60
#
# Each reader starts from its seeds in tests/fuzz/corpus/<reader>/ plus the corpus grown by earlier
# runs (build-fuzz/corpus/<reader>/); findings go to build-fuzz/findings/<reader>/. Prints the
# executions per reader and its findings (crashes, sanitizer reports, hangs, allocations beyond
# 4 GB), mlff's apart from libhdf5's, writes them to FILE as JSON with --json (the readers of an
# existing FILE that this run did not fuzz are kept), and exits 1 on any finding in mlff.
#
# Environment: MLFF_FUZZ_WORKERS (default 1) parallel fuzzing processes per reader (libFuzzer's
# -fork); MLFF_FUZZ_SEED (default 1; 0 = random) libFuzzer's -seed, so that a short run is the
# same run every time; CC (default clang); MLFF_FUZZ_PREBUILT=1 runs the harnesses already in the build
# folder (a machine without clang); MLFF_FUZZ_HOST names the machine in the JSON.
# libhdf5's own faults on byte-mutated files are not mlff's: a finding whose stack faults in
# libhdf5 is counted apart and does not fail the run (libhdf5 1.10.8 reads freed memory on some
# damaged files: tests/fuzz/hdf5_faults/), memory errors that ASan catches in its calls
# of memcpy, free, ... and its leaks are suppressed (tests/fuzz/asan.supp, lsan.supp), its absurd
# allocation requests answered with NULL
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

# Where a finding faults: the first frame of its report's stack that is neither the sanitizers',
# libFuzzer's (a hang's report starts in its alarm handler) nor libc's (memcpy, malloc, ...).
# "libhdf5" when that frame is in libhdf5, else "mlff".
culprit() {
  awk '/^ *#[0-9]+ 0x/ {
         if ($0 ~ /__interceptor_|__asan|__sanitizer|__ubsan|fuzzer::|sysdeps|libc\.so| in (malloc|calloc|realloc|free) /) next
         print ($0 ~ /libhdf5/) ? "libhdf5" : "mlff"; found = 1; exit
       }
       END { if (!found) print "mlff" }' "$1"
}

commit=${MLFF_FUZZ_COMMIT:-$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)}
fail=0 rows=()
for spec in "${readers[@]}"; do
  r=${spec%%:*} t=$seconds
  [ "$spec" = "$r" ] || t=${spec#*:}
  corpus=$build/corpus/$r findings=$build/findings/$r logs=$build/logs/$r
  mkdir -p "$corpus" "$findings" "$logs"
  rm -f "$logs"/*.log
  # Fork mode: a crash ends only the child that met it, so that libhdf5's own faults on mutated
  # files (which end a run) are told apart from mlff's below instead of stopping the fuzzing.
  opts=(-fork="$workers" -ignore_crashes=1 -max_total_time="$t" -timeout=10 -rss_limit_mb=2048
        -malloc_limit_mb=4096 -detect_leaks=0 -artifact_prefix="$findings/")
  [ "$seed" = 0 ] || opts+=(-seed="$seed")
  marker=$logs/started
  touch "$marker"
  start=$(date +%s.%N)
  rc=0
  nice -n 10 "$build/fuzz_$r" "${opts[@]}" "$corpus" "$here/tests/fuzz/corpus/$r" \
    >"$logs/fuzz.log" 2>&1 || rc=$?
  wall=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
  # the fork parent's status lines: "#<executions>: cov: ... oom/timeout/crash: ..."
  execs=$(sed -n 's/^#\([0-9]*\): cov:.*/\1/p' "$logs/fuzz.log" | tail -1)
  execs=${execs:-0}
  # Each new finding replayed alone, its report kept beside it (FILE.log), and classified.
  # Not reproduced alone: a fault that depends on the heap's state (libhdf5's reads of freed
  # memory), or a leak found at a child's exit (its input is then the empty one), counted apart.
  crashes=0 hdf5=0 unrepro=0
  while IFS= read -r a; do
    nice -n 10 "$build/fuzz_$r" -runs=1 -timeout=10 "$a" >"$a.log" 2>&1 || true
    if ! grep -qE "ERROR: |runtime error:" "$a.log"; then
      unrepro=$((unrepro + 1))
    elif [ "$(culprit "$a.log")" = libhdf5 ]; then
      hdf5=$((hdf5 + 1))
    else
      crashes=$((crashes + 1))
      sed -n '/ERROR\|runtime error/,/SUMMARY/p' "$a.log" | grep -v '^    #[2-9][0-9]' | head -40 >&2
    fi
  done < <(find "$findings" -type f -newer "$marker" ! -name '*.log')
  # libhdf5's leaks are suppressed: any leak report is of mlff's memory
  leaks=$(grep -c "ERROR: LeakSanitizer" "$logs/fuzz.log" || true)
  crashes=$((crashes + leaks))
  # libFuzzer's fork mode exits 70 when a child timed out (the timeouts are ignored, and
  # classified above with the other findings: libhdf5's loops on a damaged heap are its own)
  [ "$rc" -eq 70 ] && [ "$crashes" -eq 0 ] && [ "$execs" -gt 0 ] && rc=0
  status=ok
  if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ] || [ "$execs" -eq 0 ]; then status=FAILED fail=1; fi
  printf '[fuzz] %-8s %10d executions in %6.1f s (%d worker(s)): %d crash(es) or sanitizer report(s) in mlff, %d in libhdf5 (not ours), %d not reproduced alone: %s\n' \
    "$r" "$execs" "$wall" "$workers" "$crashes" "$hdf5" "$unrepro" "$status" >&2
  [ "$status" = ok ] || echo "[fuzz] $r: inputs and their reports in $findings, log in $logs" >&2
  rows+=("$(printf '{"%s": {"executions": %d, "wall_s": %.1f, "workers": %d, "seconds": %d, "crashes_or_sanitizer_reports_in_mlff": %d, "faults_in_libhdf5": %d, "not_reproduced_alone": %d, "exit_status": %d, "corpus_files": %d, "date": "%s", "commit": "%s"}}' \
    "$r" "$execs" "$wall" "$workers" "$t" "$crashes" "$hdf5" "$unrepro" "$rc" "$(find "$corpus" -type f | wc -l)" \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$commit")")
done

if [ -n "$json" ]; then
  mkdir -p "$(dirname "$json")"
  python3 - "$json" "$(uname -sr), $(nproc) cores" "$("$cc" --version 2>/dev/null | head -1)" \
    "$(dpkg-query -W -f='${Version}' libhdf5-dev 2>/dev/null)" "${rows[@]}" <<'EOF'
import json, os, sys
path, host, compiler, hdf5, rows = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
readers = {}
if os.path.exists(path):  # readers of an earlier run that this one did not fuzz are kept
    with open(path) as f:
        readers = json.load(f).get("readers", {})
for row in rows:
    readers.update(json.loads(row))
out = {"what": "libFuzzer runs of the file readers (scripts/fuzz.sh, tests/fuzz)",
       "host": os.environ.get("MLFF_FUZZ_HOST") or host, "compiler": compiler or "clang",
       "libhdf5": hdf5 or "unknown",
       "sanitizers": "address,undefined (-fno-sanitize-recover=all); leaks checked at exit",
       "readers": readers}
with open(path, "w") as f:
    json.dump(out, f, indent=2)
    f.write("\n")
EOF
  echo "[fuzz] wrote $json" >&2
fi
exit $fail
