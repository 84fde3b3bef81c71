#!/bin/sh
# h5py_reads_ours.sh MLFF TMPDIR DATADIR CHECK.py — h5py (the PyTorch pipeline's reader) reads a
# dataset written by mlff: shapes, dtypes, splits, pbc as bool, sources, attributes.
# Exit 77 when Debian's python3 with h5py is not there.
py=/usr/bin/python3
[ -x $py ] && $py -c "import h5py, numpy" 2>/dev/null || { echo "skipped: no python3-h5py"; exit 77; }
"$1" import "$3/h5py_dataset.h5" "$2/ours_for_h5py.h5" --overwrite --source fixture || exit 1
exec $py "$4" "$2/ours_for_h5py.h5"
