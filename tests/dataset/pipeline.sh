#!/bin/sh
# pipeline.sh MODE MLFF TMPDIR SRCDIR [VARIANT REGEX] — datasets written by the PyTorch pipeline
# (data/make_pipeline_fixture.py writes one as its h5py writer does: N+1 splits, float32 labels,
# stresses, units "eV, eV/Angstrom"), generated here at run time:
#   import   `mlff import` reads it and writes it back whole (check_pipeline.py), float32
#            geometry too, and the result imports again;
#   eval     `mlff eval` evaluates a (random) model on it;
#   train    `mlff train` trains a tiny model on it for two epochs, then evaluates it;
#   refuse   the fixture's VARIANT is refused by `mlff import` with a message matching REGEX
#            (tests/io/expect_fail.sh: exit status 1).
# Exit 77 (skipped) without Debian's python3 with h5py.
set -u
mode=$1 mlff=$2 src=$4
py=/usr/bin/python3
if ! [ -x $py ] || ! $py -c "import h5py, numpy" 2>/dev/null; then
  echo "skipped: no python3-h5py"
  exit 77
fi
dir=$3/pipeline_$mode${5:+_$5}
rm -rf "$dir" && mkdir -p "$dir" || exit 1
fixture() { $py "$src/data/make_pipeline_fixture.py" "$@" || exit 1; }
fail() { echo "FAIL: $*"; exit 1; }
case $mode in
  import)
    fixture "$dir/pipeline.h5"
    "$mlff" import "$dir/pipeline.h5" "$dir/ours.h5" --source pipeline || fail "import"
    $py "$src/check_pipeline.py" "$dir/pipeline.h5" "$dir/ours.h5" pipeline || fail "ours.h5"
    "$mlff" import "$dir/ours.h5" "$dir/again.h5" || fail "import of our own file"
    $py "$src/check_pipeline.py" "$dir/pipeline.h5" "$dir/again.h5" pipeline || fail "again.h5"
    fixture "$dir/f32.h5" f32_geometry
    "$mlff" import "$dir/f32.h5" "$dir/f32_ours.h5" --source pipeline || fail "import (float32)"
    $py "$src/check_pipeline.py" "$dir/f32.h5" "$dir/f32_ours.h5" pipeline || fail "f32_ours.h5"
    ;;
  eval)
    fixture "$dir/pipeline.h5"
    "$mlff" init "$dir/model.h5" --elements H,C --hidden 8 >/dev/null || fail "init"
    "$mlff" eval "$dir/model.h5" "$dir/pipeline.h5" >"$dir/eval.out" || fail "eval"
    cat "$dir/eval.out"
    grep -q "labels: pipeline fixture (random labels)" "$dir/eval.out" || fail "eval: teacher"
    grep -Eq "^  all +24 +192 " "$dir/eval.out" || fail "eval: 24 structures, 192 atoms"
    ;;
  train)
    fixture "$dir/pipeline.h5"
    "$mlff" train "$dir/pipeline.h5" --out "$dir/model.h5" --hidden 8 --epochs 2 --batch 4 \
      --threads 1 >"$dir/train.out" 2>&1 || { cat "$dir/train.out"; fail "train"; }
    cat "$dir/train.out"
    grep -q "wrote .*model.h5: 2 epochs (stop: max_epochs)" "$dir/train.out" ||
      fail "train: summary"
    "$mlff" eval "$dir/model.h5" "$dir/pipeline.h5" --split test >"$dir/eval.out" ||
      fail "eval of the trained model on its test split"
    grep -q "structures: the test split" "$dir/eval.out" ||
      { cat "$dir/eval.out"; fail "eval: split"; }
    ;;
  refuse)
    fixture "$dir/$5.h5" "$5"
    exec sh "$(dirname "$0")/../io/expect_fail.sh" --rc 1 "$6" \
      "$mlff" import "$dir/$5.h5" "$dir/out.h5"
    ;;
  *) echo "pipeline.sh: unknown mode '$mode'"; exit 2 ;;
esac
echo "pipeline.sh $mode: ok"
