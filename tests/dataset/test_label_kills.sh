#!/bin/sh
# test_label_kills.sh MLFF TMPDIR benzene.xyz KILLS [SEED] — `mlff label` killed with SIGKILL
# KILLS times at random moments and rerun ends with the same file, byte for byte, as an
# uninterrupted run. The moments are drawn from SEED (default 1) and printed, so a failure can
# be replayed: `sh test_label_kills.sh MLFF DIR MOL 20 SEED`.
#
# Rounds: the tiny plan of test_label_resume.sh (label_plan.sh), in chunks of 2 structures (so
# kills land in writes as well as in the teacher); each run is killed after a delay drawn uniformly from
# 0 to 1.2 times an uninterrupted run's wall time, and rerun until a run completes; the
# completed file is compared with `cmp` (the writers store no time stamps: the same plan gives
# the same bytes), then a new round starts from nothing, until KILLS kills have landed. After
# every kill: no worker outlives the main process, and a rerun removes the temporary files the
# killed writer left (OUT.h5.tmp<pid>). Exit 77 (skipped) when libmlff was built without libxtb.
set -u
mlff=$1
dir=$2/label_kills
mol=$3
kills=$4
seed=${5:-1}
rm -rf "$dir" && mkdir -p "$dir" || exit 1
. "$(dirname "$0")/label_plan.sh"
fail() { echo "FAIL: $*"; exit 1; }
now_ms() { date +%s%3N; }

t0=$(now_ms)
"$mlff" label "$dir/ref.h5" $plan >"$dir/ref.out" 2>"$dir/ref.err"
rc=$?
if [ $rc -ne 0 ] && grep -q "without libxtb" "$dir/ref.err"; then
  echo "skipped: $(cat "$dir/ref.err")"; exit 77
fi
[ $rc -eq 0 ] || { cat "$dir/ref.err"; fail "uninterrupted run exited $rc"; }
ref_ms=$(($(now_ms) - t0))
echo "uninterrupted run: $ref_ms ms; $kills kills, seed $seed"

# The delays: a seeded stream (awk's rand) of fractions, one per run, of 1.2 x the last run that
# went through from nothing (the uninterrupted one's at first): scaled by a run's own time, as
# fixed moments would land after most runs once the load on the cores falls.
awk -v seed="$seed" 'BEGIN { srand(seed); for (i = 0; i < 100000; i++) printf "%.6f\n", rand() }' \
  >"$dir/delays"
dur_ms=$ref_ms

out=$dir/k.h5
landed=0 runs=0 rounds=0 completed_by_kill=0
while [ $landed -lt "$kills" ]; do
  runs=$((runs + 1))
  delay=$(awk -v f="$(sed -n "${runs}p" "$dir/delays")" -v d="$dur_ms" 'BEGIN { printf "%d", 1.2 * d * f }')
  before=$(ls "$out" 2>/dev/null | wc -l)
  t_run=$(now_ms)
  "$mlff" label "$out" $plan >"$dir/run.out" 2>"$dir/run.err" &
  pid=$!
  sleep "$(awk -v d="$delay" 'BEGIN { printf "%.3f", d / 1000 }')"
  if kill -9 $pid 2>/dev/null; then
    wait $pid 2>/dev/null
    landed=$((landed + 1))
    # the workers die with the main process (PR_SET_PDEATHSIG): none may linger
    i=0
    while pgrep -f "label $out " >/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
    pgrep -f "label $out " >/dev/null && fail "kill $landed: workers outlived the killed run"
    held=$(grep -o "resuming: .* holds the first [0-9]*" "$dir/run.err" | grep -o "[0-9]*$")
    echo "kill $landed (round $((rounds + 1)), run $runs): after $delay ms (the file held ${held:-0} structures when it started; temporary files left: $(ls "$out".tmp* 2>/dev/null | wc -l))"
    continue
  fi
  # the run ended before its kill: it must have completed the file
  wait $pid
  rc=$?
  [ $rc -eq 0 ] || { cat "$dir/run.err"; fail "run $runs exited $rc"; }
  [ "$before" = 0 ] && dur_ms=$(($(now_ms) - t_run)) # a whole run's time
  if [ -n "$(ls "$out".tmp* 2>/dev/null)" ]; then fail "run $runs left $(ls "$out".tmp*)"; fi
  grep -q "wrote .*k.h5: 24 structures of the plan's 24\|complete (24 structures)" "$dir/run.out" ||
    { cat "$dir/run.out"; fail "run $runs did not complete the file"; }
  if grep -q "removed .* temporary file" "$dir/run.err"; then
    grep -h "removed .* temporary file" "$dir/run.err"
  fi
  cmp "$dir/ref.h5" "$out" || fail "round $((rounds + 1)): the file differs from the uninterrupted run's"
  rounds=$((rounds + 1))
  echo "round $rounds complete after run $runs: identical to the uninterrupted run"
  rm -f "$out" "$out.lock"
done
# Finish the last round, with the temporary file of a writer killed mid-write planted (pid 1 is
# alive and never ours: its file stays; a pid that runs no process: its file goes).
[ -f "$out" ] || "$mlff" label "$out" $plan --stop-after 2 >/dev/null 2>&1 || fail "stop-after 2"
dead=4194303
while kill -0 $dead 2>/dev/null; do dead=$((dead - 1)); done
# (a kill inside a write may have left one of its own already: that one is stale too)
left=$(ls "$out".tmp* 2>/dev/null | wc -l)
cp "$out" "$out.tmp$dead" && cp "$out" "$out.tmp1" || exit 1
"$mlff" label "$out" $plan >"$dir/run.out" 2>"$dir/run.err" || { cat "$dir/run.err"; fail "last rerun"; }
grep -h "resuming\|removed .* temporary file" "$dir/run.err"
stale=$((left + 1))
files=files
[ $stale = 1 ] && files=file
grep -q "label: removed $stale temporary $files of a killed run ('.*k.h5.tmp<pid>')" "$dir/run.err" ||
  fail "the rerun did not report the $stale stale temporary $files it removed"
[ ! -f "$out.tmp$dead" ] || fail "the stale $out.tmp$dead is still there"
[ -f "$out.tmp1" ] || fail "$out.tmp1 (pid 1 runs) was removed"
rm -f "$out.tmp1"
cmp "$dir/ref.h5" "$out" || fail "last round: the file differs from the uninterrupted run's"
rounds=$((rounds + 1))
echo "label kills: $landed SIGKILLs in $runs runs, $rounds rounds, every completed file identical to the uninterrupted run ($(sha256sum "$dir/ref.h5" | cut -c1-16)...)"
