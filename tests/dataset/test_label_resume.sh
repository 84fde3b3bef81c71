#!/bin/sh
# test_label_resume.sh MLFF TMPDIR benzene.xyz — `mlff label` gives the same file (byte for byte)
# when run through, when stopped after the first chunk and rerun, when stopped inside a
# relaxation and rerun, when killed (SIGKILL) and rerun, and on one worker instead of several; a
# rerun with other arguments is refused. The plan has every kind of structure, tiny.
# Exit 77 (skipped) when libmlff was built without libxtb.
set -u
mlff=$1
dir=$2/label_resume
mol=$3
rm -rf "$dir" && mkdir -p "$dir" || exit 1
. "$(dirname "$0")/label_plan.sh"
fail() { echo "FAIL: $*"; exit 1; }

"$mlff" label "$dir/a.h5" $plan >"$dir/a.out" 2>"$dir/a.err"
rc=$?
if [ $rc -ne 0 ] && grep -q "without libxtb" "$dir/a.err"; then
  echo "skipped: $(cat "$dir/a.err")"; exit 77
fi
[ $rc -eq 0 ] || { cat "$dir/a.err"; fail "uninterrupted run exited $rc"; }
cat "$dir/a.out"
grep -q "wrote .*a.h5: 24 structures of the plan's 24" "$dir/a.out" || fail "summary"
grep -q "md300 6, nm 3, dimer 3, contact_dimer 2, droplet 2, relaxed 6, liquid 2" "$dir/a.err" || fail "plan line"

# Stopped after the first chunk, then resumed.
"$mlff" label "$dir/b.h5" $plan --stop-after 2 >"$dir/b1.out" 2>&1 || fail "stop-after run"
grep -q "stopped after 2 structures" "$dir/b1.out" || fail "stop-after message"
"$mlff" label "$dir/b.h5" $plan >"$dir/b2.out" 2>&1 || { cat "$dir/b2.out"; fail "resume"; }
grep -q "resuming: .*b.h5 holds the first 2" "$dir/b2.out" || fail "resume message"
cmp "$dir/a.h5" "$dir/b.h5" || fail "stopped-and-resumed file differs from the uninterrupted one"

# Stopped inside the relaxation (structures 14-19), then resumed: it is replayed, and only its
# structures from 18 on are written. (Stops at chunk boundaries: the HDF5 layout of the source
# strings, not their contents, depends on where appends began.)
"$mlff" label "$dir/r.h5" $plan --stop-after 18 >"$dir/r1.out" 2>&1 || fail "stop-after 18 run"
grep -q "stopped after 18 structures" "$dir/r1.out" || { cat "$dir/r1.out"; fail "stop-after 18"; }
"$mlff" label "$dir/r.h5" $plan >"$dir/r2.out" 2>&1 || { cat "$dir/r2.out"; fail "resume at 18"; }
grep -q "resuming: .*r.h5 holds the first 18" "$dir/r2.out" || fail "resume message (18)"
cmp "$dir/a.h5" "$dir/r.h5" || fail "file resumed inside the relaxation differs"

# One worker.
"$mlff" label "$dir/c.h5" $plan --jobs 1 >/dev/null 2>&1 || fail "--jobs 1 run"
cmp "$dir/a.h5" "$dir/c.h5" || fail "--jobs 1 file differs"

# Killed as soon as the first chunk is on disk, then resumed.
"$mlff" label "$dir/d.h5" $plan >/dev/null 2>&1 &
pid=$!
i=0
while [ ! -f "$dir/d.h5" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
sleep 0.2
"$mlff" label "$dir/d.h5" $plan >"$dir/d.out" 2>&1 || { cat "$dir/d.out"; fail "resume after kill"; }
grep -E "resuming|complete" "$dir/d.out" | head -1
cmp "$dir/a.h5" "$dir/d.h5" || fail "killed-and-resumed file differs"

# Two runs on one file: the second is refused while the first runs.
"$mlff" label "$dir/g.h5" $plan --jobs 1 >/dev/null 2>&1 &
pid=$!
i=0
while [ ! -f "$dir/g.h5.lock" ] && [ $i -lt 600 ]; do sleep 0.02; i=$((i + 1)); done
"$mlff" label "$dir/g.h5" $plan >"$dir/g.out" 2>&1 && fail "a second run on the same file started"
wait $pid || fail "the first run on g.h5 failed"
grep -q "another \`mlff label\` is writing" "$dir/g.out" || { cat "$dir/g.out"; fail "lock message"; }
[ ! -f "$dir/g.h5.lock" ] || fail "the lock file was left behind"
cmp "$dir/a.h5" "$dir/g.h5" || fail "g.h5 differs"

# Complete: nothing to do. Other arguments: refused, naming both plans.
"$mlff" label "$dir/a.h5" $plan >"$dir/e.out" 2>&1 || fail "rerun of a complete file"
grep -q "complete (24 structures)" "$dir/e.out" || fail "complete message"
"$mlff" label "$dir/a.h5" $plan --seed 6 >"$dir/f.out" 2>&1 && fail "other seed accepted"
grep -q "holds 24 structures of another labelling plan" "$dir/f.out" ||
  { cat "$dir/f.out"; fail "plan refusal"; }
grep -q "seed 5" "$dir/f.out" && grep -q "seed 6" "$dir/f.out" || fail "plan refusal lacks the plans"
# Droplet options: bad values refused with a message naming the option.
"$mlff" label "$dir/h.h5" $plan --droplet-molecules 65 >"$dir/h.out" 2>&1 && fail "65 molecules accepted"
grep -q "droplet-molecules is at most 64" "$dir/h.out" || { cat "$dir/h.out"; fail "droplet-molecules message"; }
"$mlff" label "$dir/h.h5" $plan --droplet-density 0 >"$dir/h.out" 2>&1 && fail "density 0 accepted"
grep -q "droplet-density needs a density in g/cm3" "$dir/h.out" || { cat "$dir/h.out"; fail "density message"; }
"$mlff" label "$dir/h.h5" $plan --droplet-density 9 >"$dir/h.out" 2>&1 && fail "density 9 accepted"
grep -q "could not place 3 molecules in a sphere" "$dir/h.out" || { cat "$dir/h.out"; fail "overfull droplet message"; }
echo "label resume: identical files ($(sha256sum "$dir/a.h5" | cut -c1-16)...)"
