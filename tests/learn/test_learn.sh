#!/bin/sh
# test_learn.sh MLFF TMPDIR benzene.xyz PLOT — `mlff learn` on a tiny problem: two iterations of
# a 2-member committee exploring benzene alone and a 24-molecule liquid (NPT), labelling with
# GFN2-xTB. Checks the record (counts add up, labels and data grow as recorded, the packed
# liquid's start is labelled above the trust level, the committee's deviation on what it was
# trained on and the warning when it reaches LO), a rerun that finds everything done, a run
# killed (SIGKILL) after its first training and rerun: the same candidates and records as the
# uninterrupted run; and scripts/plot_learn.py's plot of the record. Exit 77 (skipped) without
# libxtb.
set -u
mlff=$1
dir=$2/learn
mol=$3
plot=$4
py=/usr/bin/python3
[ -x $py ] && $py -c "import h5py, matplotlib" 2>/dev/null || { echo "skipped: no python3-h5py or python3-matplotlib"; exit 77; }
rm -rf "$dir" && mkdir -p "$dir" || exit 1
fail() { echo "FAIL: $*"; exit 1; }

"$mlff" label "$dir/start.h5" --molecule "$mol" --temperatures 300 --md-structures 40 \
  --md-interval 10 --md-equilibration 20 --normal-modes 20 --dimers 10 --far-dimers 5 \
  --contact-dimers 0 --trimers 0 --tetramers 0 --droplets 0 --liquids 0 --relaxed 0 --jobs 2 \
  >"$dir/label.out" 2>"$dir/label.err"
rc=$?
if [ $rc -ne 0 ] && grep -q "without libxtb" "$dir/label.err"; then
  echo "skipped: $(cat "$dir/label.err")"; exit 77
fi
[ $rc -eq 0 ] || { cat "$dir/label.err"; fail "labelling the start exited $rc"; }
"$mlff" init "$dir/init.h5" --elements H,C --hidden 16,16 --seed 2 >/dev/null || fail "init"

args="--data $dir/start.h5 --molecule $mol --init $dir/init.h5 --committee 2
  --gas-temperatures 300 --liquid-temperatures 300 --liquid-density 0.87 --liquid-molecules 24
  --cluster-molecules 4 --spheres 2 --md-steps 60 --sample-every 20 --epochs 5 --iterations 2
  --max-label 5 --trust 0.05,2 --threads 2"
"$mlff" learn "$dir/a" $args >"$dir/a.out" 2>"$dir/a.err" || { cat "$dir/a.err"; fail "learn exited $?"; }
cat "$dir/a.out"
grep -q "^iteration 0: .* samples, .*% accurate, .* labelled; force MAE .* meV/Å validation" \
  "$dir/a.out" || fail "iteration line"
grep -q "^learn: stopped (iterations) after 2 iterations" "$dir/a.out" || fail "stop line"
$py - "$dir/a" "$dir/start.h5" <<'PY' || fail "record"
import json, sys, h5py
d, start = sys.argv[1], sys.argv[2]
rec = json.load(open(f"{d}/learn.json"))
assert rec["status"] == "iterations" and len(rec["iterations"]) == 2, rec["status"]
n_start = len(h5py.File(start)["labels/energy"])
n = n_start
for r in rec["iterations"]:
    it = r["iteration"]
    assert r["samples"] == r["accurate"] + r["candidates"] + r["failed"], r
    # two trajectories of 60 steps, a sample every 20 and at the start: 8 planned; a stopped
    # trajectory's missing samples count against convergence
    assert r["planned"] == 8 and r["accurate_fraction"] == r["accurate"] / 8, r
    assert r["converged"] == (r["trajectories_stopped"] == 0 and r["accurate"] >= 0.99 * 8), r
    sig = [s for t in r["trajectories"] for s in t["sigma"]]
    assert len(sig) == r["samples"], (len(sig), r["samples"])
    assert sum(r["histogram_gas"]) + sum(r["histogram_liquid"]) == r["samples"]
    assert len(r["histogram_lower_edges_eV_per_A"]) == len(r["histogram_gas"])
    with h5py.File(f"{d}/iter-{it:02d}/labels.h5") as f:
        src = [s.decode() for s in f["labels/source"][:]]
        assert len(src) == r["labelled"] == len(r["candidates_deviation_max_error_mean_error"])
        assert all(s.startswith(f"learn{it:02d}_") for s in src), src
        # the packed liquid's start: a 4-molecule sphere (48 atoms) labelled whatever its sigma
        splits = f["structures/atomic_numbers_splits"][:]
        liq = [k for k, s in enumerate(src) if "liquid" in s]
        assert liq and all(splits[k + 1] - splits[k] == 48 for k in liq), (src, splits)
        # the teacher's largest force above --max-force (10 eV/Å): counted, left out of training
        F = f["labels/forces"][:]
        over = sum(1 for k in range(len(src)) if
                   max(sum(c * c for c in F[j]) ** 0.5 for j in range(splits[k], splits[k + 1])) > 10)
        assert r["labelled_over_max_force"] == over, (r["labelled_over_max_force"], over)
    n += r["labelled"] - (r["labelled_over_max_force"] if it < len(rec["iterations"]) - 1 else 0)
# the last training's data: the start plus the labels of the iterations before it, less those
# over --max-force
assert len(h5py.File(f"{d}/data.h5")["labels/energy"]) == n - rec["iterations"][-1]["labelled"], n
# the committee's deviation on what it was trained on (the labels before it): none at iteration
# 0; after that a deviation, and the warning in the log exactly when it reaches LO (0.05)
known = [r["known_deviation_median_eV_per_A"] for r in rec["iterations"]]
assert known[0] is None and known[1] > 0, known
log = open(f"{d}/../a.err").read()
warned = "learn: iteration 1: warning: the committee's deviation on the structures it was trained on" in log
assert warned == (known[1] >= 0.05), (warned, known)
err = [e for r in rec["iterations"] for e in r["candidates_deviation_max_error_mean_error"]]
assert all(x[1] > 0 for x in err), err  # a true force error was measured for each
print("record ok:", [(r["samples"], r["candidates"], r["labelled"]) for r in rec["iterations"]])
PY

# Rerun: everything is done
"$mlff" learn "$dir/a" $args >"$dir/a2.out" 2>"$dir/a2.err" || fail "rerun exited $?"
grep -q "iteration 1 done earlier" "$dir/a2.err" || fail "rerun did not find iteration 1 done"
grep -q "^iteration" "$dir/a2.out" && fail "rerun redid an iteration"

# Killed after the first training, then rerun: the same candidates and counts
"$mlff" learn "$dir/b" $args >"$dir/b1.out" 2>&1 &
pid=$!
i=0
while [ ! -f "$dir/b/iter-00/model.h5" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
grep -q "^learn: stopped" "$dir/b1.out" && fail "the kill came after the run had ended: nothing resumed"
"$mlff" learn "$dir/b" $args >"$dir/b2.out" 2>"$dir/b2.err" || { cat "$dir/b2.err"; fail "resumed run exited $?"; }
grep -q "iteration 0: training" "$dir/b2.err" && fail "the rerun trained iteration 0 again"
for it in 00 01; do
  cmp "$dir/a/iter-$it/candidates.xyz" "$dir/b/iter-$it/candidates.xyz" ||
    fail "iteration $it's candidates differ after a kill and rerun"
done
$py - "$dir/a/learn.json" "$dir/b/learn.json" <<'PY' || fail "records differ after a kill and rerun"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for r in a["iterations"] + b["iterations"]:
    r.pop("seconds")
assert a == b
PY

# The plot of the record
$py "$plot" "$dir/a" >"$dir/plot.out" 2>&1 || { cat "$dir/plot.out"; fail "plot_learn.py"; }
[ -s "$dir/a/learn.png" ] || fail "no learn.png"
$py "$plot" --table tiny="$dir/a/learn.json" >"$dir/table.out" 2>&1 || { cat "$dir/table.out"; fail "plot_learn.py --table"; }
grep -q "^| tiny | 2 | iterations | " "$dir/table.out" || { cat "$dir/table.out"; fail "the table's row"; }
echo "PASS"
