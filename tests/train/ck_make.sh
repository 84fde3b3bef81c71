#!/bin/sh
# ck_make.sh [--check] MLFF DATA.h5 TMPDIR — the files the --checkpoint refusals of ctest read:
# ck_run.h5 (the checkpoint of a 2-epoch run, seed 1, hidden 8), ck_model.h5 (a model: no
# /checkpoint group), ck_text.h5 (not HDF5), and their checksums; with --check, that they are
# still as written (a refused checkpoint is never overwritten).
set -u
check=0
if [ "$1" = "--check" ]; then check=1; shift; fi
mlff=$1 data=$2 dir=$3
cd "$dir" || exit 1
if [ $check = 1 ]; then
  sha256sum -c ck_files.sha256 || { echo "FAIL: a refused checkpoint file was changed"; exit 1; }
  exit 0
fi
rm -f ck_run.h5 ck_model.h5 ck_text.h5
"$mlff" train "$data" --out ck_out.h5 --hidden 8 --epochs 2 --threads 1 --checkpoint ck_run.h5 ||
  exit 1
"$mlff" init ck_model.h5 --elements H,C --hidden 8 || exit 1
echo "not an HDF5 file" >ck_text.h5
sha256sum ck_run.h5 ck_model.h5 ck_text.h5 >ck_files.sha256
