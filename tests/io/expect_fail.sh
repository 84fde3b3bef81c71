#!/bin/sh
# expect_fail.sh [--rc N] REGEX COMMAND [ARGS...] — pass when COMMAND fails (exit status N, or
# any non-zero status) and its stderr matches the extended regular expression REGEX: a refusal
# must say why, not only fail.
want_rc=
if [ "$1" = "--rc" ]; then want_rc=$2; shift 2; fi
regex=$1
shift
err=$("$@" 2>&1 >/dev/null)
rc=$?
if [ "$rc" -eq 0 ]; then
  echo "expect_fail: '$*' succeeded; expected a failure" >&2
  exit 1
fi
if [ -n "$want_rc" ] && [ "$rc" -ne "$want_rc" ]; then
  echo "expect_fail: '$*' exited $rc, expected $want_rc; stderr: $err" >&2
  exit 1
fi
if ! printf '%s\n' "$err" | grep -Eq -- "$regex"; then
  echo "expect_fail: stderr of '$*' does not match /$regex/:" >&2
  printf '%s\n' "$err" >&2
  exit 1
fi
echo "expect_fail: ok (exit $rc): $err"
