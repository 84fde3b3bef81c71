#!/usr/bin/env bash
# check_format.sh — the files of scripts/formatted_files.txt must be as clang-format writes them
# (.clang-format at the repository root). Prints each file that differs and how to fix it.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cf=${CLANG_FORMAT:-clang-format}
command -v "$cf" >/dev/null || { echo "check_format: $cf not found (apt-get install clang-format)" >&2; exit 1; }
bad=0 n=0
while read -r f; do
  case "$f" in ''|'#'*) continue ;; esac
  [ -f "$here/$f" ] || { echo "check_format: $f (listed in scripts/formatted_files.txt) does not exist" >&2; bad=1; continue; }
  n=$((n + 1))
  if ! "$cf" --style=file "$here/$f" | cmp -s - "$here/$f"; then
    echo "check_format: $f is not formatted: run clang-format -i $f" >&2
    bad=1
  fi
done <"$here/scripts/formatted_files.txt"
[ $bad = 0 ] && echo "check_format: $n files formatted"
exit $bad
