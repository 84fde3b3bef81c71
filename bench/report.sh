#!/usr/bin/env bash
# report.sh — the one command that regenerates bench/REPORT.md and bench/plots/*.png from the
# JSON already in bench/results/ (with bench/reference/ and the shipped model's evaluation). It
# runs no benchmark. Arguments go to bench/report.py (--results DIR, --out FILE, --no-plots...).
# Plots need matplotlib (Debian: python3-matplotlib, installed by scripts/setup.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
py=/usr/bin/python3
[ -x "$py" ] || py=python3
"$py" -c 'import matplotlib' 2>/dev/null ||
  echo "[report] matplotlib is not importable by $py: the report is written without plots" \
       "(apt-get install -y python3-matplotlib)" >&2
exec "$py" "$here/bench/report.py" "$@"
