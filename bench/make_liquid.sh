#!/usr/bin/env bash
# make_liquid.sh N_MOLECULES OUT.data [SEED] — liquid benzene at 0.874 g/cm^3 (one molecule per
# 5.29 Å cube), packed by packmol (tolerance 2.0 Å, 1 Å shy of each face so contacts across the
# periodic boundary also stay >= 2 Å), written as a LAMMPS data file (types 1 = C, 2 = H).
#
# When packmol stops short of its tolerance (Debian's packmol 20.14: "ENDED WITHOUT PERFECT
# PACKING", exit status 173; it still writes its best packing to the output file, and may write
# <output>_FORCED, the same moved inside the box), that best packing is used and stderr says so,
# with packmol's last "Maximum violation of target distance". Any other failure (packmol missing,
# no packing written, an empty one) stops the script with a message and a non-zero status.
#
# Packmol does not pack hundreds of benzenes to its tolerance: its best packing of 1,024 left
# atoms of two molecules 1.01 Å apart, which FIRE does not undo and a student never saw (it blew
# up the liquid's validation within 50 fs). So 512 molecules or more, in a number divisible by
# 8, are packed as an eighth of the box (side L/2), which packmol packs to 2.0 Å, replicated
# 2 x 2 x 2; the copies decorrelate within picoseconds of MD. Even so a best packing may hold
# two molecules 1 Å apart (128 with seed 1 did once, on 2026-12-07: 16 fused pairs in the 1,024
# box, which a student kept bonded through 50 ps of NPT), so every packing is checked: atoms of
# two molecules closer than 1.6 Å (minimum image over the packed box) and it is packed again
# with seed + 1000, at most 5 tries, then the script stops saying so.
set -euo pipefail
die() { echo "make_liquid.sh: $*" >&2; exit 1; }
[ $# -ge 2 ] || die "usage: make_liquid.sh N_MOLECULES OUT.data [SEED]"
n=$1 out=$2 seed=${3:-1}
command -v packmol >/dev/null || die "packmol not found (apt-get install packmol)"
L=$(awk -v n="$n" 'BEGIN { printf "%.6f", 5.29 * n ^ (1 / 3) }')
copies=1 np=$n Lp=$L
if [ "$n" -ge 512 ] && [ $((n % 8)) -eq 0 ]; then
  copies=2 np=$((n / 8)) Lp=$(awk -v L="$L" 'BEGIN { printf "%.6f", L / 2 }')
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk 'BEGIN { pi = atan2(0, -1); print 12; print "benzene"
  for (k = 0; k < 6; k++) printf "C %.6f %.6f 0\n", 1.397 * cos(k * pi / 3), 1.397 * sin(k * pi / 3)
  for (k = 0; k < 6; k++) printf "H %.6f %.6f 0\n", 2.481 * cos(k * pi / 3), 2.481 * sin(k * pi / 3)
}' >"$tmp/benzene.xyz"
hi=$(awk -v L="$Lp" 'BEGIN { printf "%.6f", L - 1 }')
tol=2.0
floor=1.6 # Å: closer atoms of two molecules are a fused pair that FIRE does not undo
# a packing is usable when it holds all 12 n atoms (the xyz header's count)
usable() { [ -s "$1" ] && [ "$(head -1 "$1" | tr -d ' \r')" = "$((12 * np))" ]; }
# the closest distance between atoms of two different molecules of a packing (12 atoms each, in
# order), minimum image over the packed box (the copies of a replicated box meet across it):
# validate_data.py's check, which `validate_data.py pack` makes too (stdlib Python)
closest() {
  "${PYTHON:-python3}" "$(dirname "$0")/validate_data.py" closest "$1" --size 12 --box "$Lp"
}
# pack SEED: packmol's packing into $box (its best one when it stops short of the tolerance,
# said on stderr); stops the script where there is none
pack() {
  rm -f "$tmp/box.xyz" "$tmp/box.xyz_FORCED"
  cat >"$tmp/pack.inp" <<INP
tolerance $tol
filetype xyz
output $tmp/box.xyz
seed $1
structure $tmp/benzene.xyz
  number $np
  inside box 1.0 1.0 1.0 $hi $hi $hi
end structure
INP
  rc=0
  packmol <"$tmp/pack.inp" >"$tmp/packmol.log" 2>&1 || rc=$?
  box=$tmp/box.xyz
  if grep -q "WITHOUT PERFECT PACKING" "$tmp/packmol.log"; then
    usable "$box" || box=$tmp/box.xyz_FORCED
    if ! usable "$box"; then
      tail -20 "$tmp/packmol.log" >&2
      die "packmol (exit status $rc) did not reach its tolerance and wrote no packing of" \
        "$((12 * np)) atoms (neither box.xyz nor box.xyz_FORCED)"
    fi
    viol=$(awk '/Maximum violation of target distance:/ { v = $NF } END { print v }' \
      "$tmp/packmol.log")
    echo "make_liquid.sh: packmol did not reach its tolerance (exit status $rc, $np molecules," \
      "seed $1); using its best packing ($(basename "$box")); its last maximum violation of" \
      "target distance: ${viol:-not printed} (tolerance $tol Å)" >&2
  elif [ "$rc" -ne 0 ]; then
    tail -20 "$tmp/packmol.log" >&2
    die "packmol failed (exit status $rc); its log's tail is above"
  elif ! grep -q "Success" "$tmp/packmol.log"; then
    echo "make_liquid.sh: packmol did not report success (exit status 0); using its packing" >&2
  fi
  usable "$box" || die "packmol exited 0 but wrote no packing of $((12 * np)) atoms"
}
# a best packing may still hold two molecules 1 Å apart (1,024 molecules with seed 1 did: 16
# fused pairs in the liquid, which the student kept bonded): refused, packed again with
# another seed, at most 5 tries
tries=5 seeds=
for ((k = 0; k < tries; k++)); do
  s=$((seed + 1000 * k))
  seeds="$seeds${seeds:+, }$s"
  pack "$s"
  dmin=$(closest "$box")
  awk -v d="$dmin" -v f="$floor" 'BEGIN { exit !(d >= f) }' && break
  echo "make_liquid.sh: the packing of seed $s has atoms of two molecules $dmin Å apart" \
    "(below $floor Å, a pair FIRE does not undo)$([ $((k + 1)) -lt $tries ] &&
      echo "; packing again with seed $((s + 1000))")" >&2
done
awk -v d="$dmin" -v f="$floor" 'BEGIN { exit !(d >= f) }' ||
  die "no packing of $np molecules in a $Lp Å box keeps atoms of two molecules $floor Å apart" \
    "in $tries tries (seeds $seeds; the closest last: $dmin Å): give another SEED, or fewer" \
    "molecules"
awk -v L="$L" -v Lp="$Lp" -v n="$n" -v c="$copies" '
  NR > 2 && NF >= 4 { t[++na] = ($1 == "C") ? 1 : 2; x[na] = $2; y[na] = $3; z[na] = $4 }
  END {
    how = c > 1 ? sprintf("packmol, %d packed and replicated %d x %d x %d", n / c^3, c, c, c) \
                : "packmol"
    printf "liquid benzene, %d molecules, %s\n\n%d atoms\n2 atom types\n\n", n, how, na * c^3
    printf "0 %s xlo xhi\n0 %s ylo yhi\n0 %s zlo zhi\n\n", L, L, L
    printf "Masses\n\n1 12.011\n2 1.008\n\nAtoms # atomic\n\n"
    id = 0
    for (a = 0; a < c; a++) for (b = 0; b < c; b++) for (k = 0; k < c; k++)
      for (i = 1; i <= na; i++)
        printf "%d %d %.6f %.6f %.6f\n", ++id, t[i], x[i] + a * Lp, y[i] + b * Lp, z[i] + k * Lp
  }' "$box" >"$out"
echo "make_liquid.sh: $n molecules, $((12 * n)) atoms, box $L Å$([ "$copies" = 1 ] ||
  echo " ($np packed in $Lp Å, replicated 2 x 2 x 2)") -> $out" >&2
