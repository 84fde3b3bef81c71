#!/bin/sh
# test_train_kills.sh MLFF TMPDIR DATA.h5 KILLS [SEED] — `mlff train --checkpoint` killed with
# SIGKILL KILLS times at random moments (drawn from SEED, default 1, and printed) and rerun
# until it completes ends with the model of an uninterrupted run without a checkpoint; so does a
# run stopped by --time-limit and rerun without it. Same model: the networks, normalisation,
# energy offsets and descriptor identical (h5diff, which compares values and attributes), and
# the training summary's record from "epochs" to the history of every epoch identical as text.
# (The whole files differ only where they must: the creation time, the options, timings.)
# Two threads: the trainer sums in a fixed order, so the thread count does not change the
# numbers (test_train_run checks 1 against 2 threads), and resuming is bit-identical too.
set -u
mlff=$1
dir=$2/train_kills
data=$3
kills=$4
seed=${5:-1}
rm -rf "$dir" && mkdir -p "$dir" || exit 1
args="$data --hidden 16,16 --epochs 16 --batch 8 --threads 2 --seed 3 --test-sources box"
fail() { echo "FAIL: $*"; exit 1; }
now_ms() { date +%s%3N; }
# the record of training in a model's summary, from "epochs" to the history's last row
record() { h5dump -w 0 -a /training_summary "$1" | sed -n 's/.*\("epochs":.*\)"train_time_s.*/\1/p'; }
same_model() { # reference, candidate, what
  for g in /networks /normalization /energy /descriptor; do
    h5diff -q "$1" "$2" $g $g || fail "$3: $g differs from the uninterrupted run's"
  done
  [ -n "$(record "$1")" ] || fail "no training record in $1"
  [ "$(record "$1")" = "$(record "$2")" ] || {
    record "$1"; record "$2"; fail "$3: the training record differs"; }
}

t0=$(now_ms)
"$mlff" train $args --out "$dir/ref.h5" >"$dir/ref.out" 2>"$dir/ref.err" ||
  { cat "$dir/ref.err"; fail "uninterrupted run"; }
ref_ms=$(($(now_ms) - t0))
grep "^wrote" "$dir/ref.out"
echo "uninterrupted run: $ref_ms ms; $kills kills, seed $seed"
# Each kill's moment: a seeded fraction of 1.1 x the last complete run's time (the uninterrupted
# one's at first). Scaled by a run's own time, not the first one's: when the load on the cores
# falls, runs get shorter than the first, and fixed moments would land after most of them.
awk -v seed="$seed" 'BEGIN { srand(seed); for (i = 0; i < 100000; i++) printf "%.6f\n", rand() }' \
  >"$dir/delays"
dur_ms=$ref_ms

# Killed at random moments, rerun until complete; then again from nothing until KILLS landed.
ck=$dir/ck.h5
landed=0 runs=0 rounds=0
while [ $landed -lt "$kills" ]; do
  runs=$((runs + 1))
  delay=$(awk -v f="$(sed -n "${runs}p" "$dir/delays")" -v d="$dur_ms" 'BEGIN { printf "%d", 1.1 * d * f }')
  t_run=$(now_ms)
  "$mlff" train $args --out "$dir/k.h5" --checkpoint "$ck" >"$dir/run.out" 2>"$dir/run.err" &
  pid=$!
  sleep "$(awk -v d="$delay" 'BEGIN { printf "%.3f", d / 1000 }')"
  if kill -9 $pid 2>/dev/null; then
    wait $pid 2>/dev/null
    landed=$((landed + 1))
    from=$(sed -n 's/.*resumed from checkpoint .* after epoch \([0-9]*\)/\1/p' "$dir/run.err")
    last=$(grep -o "^epoch [0-9]*" "$dir/run.err" | tail -1)
    echo "kill $landed (round $((rounds + 1)), run $runs): after $delay ms (${from:+resumed after epoch $from; }last progress: ${last:-none}; temporary files left: $(ls "$ck".tmp* 2>/dev/null | wc -l))"
    continue
  fi
  wait $pid || { cat "$dir/run.err"; fail "run $runs failed"; }
  grep -q "resumed from" "$dir/run.err" || dur_ms=$(($(now_ms) - t_run)) # a whole run's time
  [ -z "$(ls "$ck".tmp* "$dir"/k.h5.tmp* 2>/dev/null)" ] || fail "run $runs left temporary files"
  grep -h "removed .* temporary file" "$dir/run.err"
  rounds=$((rounds + 1))
  same_model "$dir/ref.h5" "$dir/k.h5" "round $rounds"
  echo "round $rounds complete after run $runs: the model of the uninterrupted run"
  rm -f "$ck" "$dir/k.h5"
done
if [ -f "$ck" ]; then
  "$mlff" train $args --out "$dir/k.h5" --checkpoint "$ck" >"$dir/run.out" 2>"$dir/run.err" ||
    { cat "$dir/run.err"; fail "last rerun"; }
  grep -h "resumed from\|removed .* temporary file" "$dir/run.err"
  rounds=$((rounds + 1))
  same_model "$dir/ref.h5" "$dir/k.h5" "round $rounds"
  echo "round $rounds complete: the model of the uninterrupted run"
fi

# Stopped cleanly by --time-limit (not part of the run: the rerun continues it), then rerun.
# The limit, a share of the last whole run's time, must leave at least one whole epoch after the
# precompute and stop the run before its end; the load on the cores changes run times, so the
# share adapts: larger when no checkpoint was written, smaller when the run was not stopped.
stopped=0 share=0.5 try=0
while [ $stopped = 0 ] && [ $try -lt 8 ]; do
  try=$((try + 1))
  rm -f "$ck"
  "$mlff" train $args --out "$dir/t.h5" --checkpoint "$ck" --time-limit "$(awk -v t="$dur_ms" \
    -v s=$share 'BEGIN { printf "%.3f", t * s / 1000 }')" >"$dir/t1.out" 2>&1 ||
    { cat "$dir/t1.out"; fail "time-limited run"; }
  if ! grep -q "stop: time_limit" "$dir/t1.out"; then
    echo "time limit of $share x $dur_ms ms: the run ended first; less time"
    share=$(awk -v s=$share 'BEGIN { print s * 0.6 }')
  elif [ ! -f "$ck" ]; then
    echo "time limit of $share x $dur_ms ms: no whole epoch, no checkpoint; more time"
    share=$(awk -v s=$share 'BEGIN { print s * 1.5 }')
  else
    stopped=1
  fi
done
[ $stopped = 1 ] || fail "no time limit both left a whole epoch (a checkpoint) and stopped the run"
"$mlff" train $args --out "$dir/t.h5" --checkpoint "$ck" >"$dir/t2.out" 2>&1 || { cat "$dir/t2.out"; fail "rerun"; }
grep "resumed from" "$dir/t2.out" || { cat "$dir/t2.out"; fail "no resume message"; }
same_model "$dir/ref.h5" "$dir/t.h5" "stopped by --time-limit and rerun"
# A completed checkpoint: rerun, it trains no more and writes the same model again.
"$mlff" train $args --out "$dir/t3.h5" --checkpoint "$ck" >"$dir/t3.out" 2>&1 || { cat "$dir/t3.out"; fail "rerun of a complete run"; }
grep -q "^epoch" "$dir/t3.out" && fail "a complete run trained again"
same_model "$dir/ref.h5" "$dir/t3.h5" "rerun of the complete checkpoint"
# The checkpoint is a model too.
"$mlff" info "$ck" >/dev/null || fail "mlff info cannot read the checkpoint"
echo "train kills: $landed SIGKILLs in $runs runs, $rounds rounds, and a --time-limit stop: every resumed run ends with the uninterrupted run's model"
