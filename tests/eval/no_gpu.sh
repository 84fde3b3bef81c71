#!/bin/sh
# no_gpu.sh EXPECT_FAIL ARGS... — run tests/io/expect_fail.sh ARGS only where no GPU is visible
# (a refusal of `--device gpu` cannot be asserted where the GPU path works): exit 77 = skipped.
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
  echo "no_gpu.sh: a GPU is visible; the no-GPU refusal is not tested here"
  exit 77
fi
exec "$@"
