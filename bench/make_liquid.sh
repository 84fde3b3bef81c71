#!/usr/bin/env bash
# make_liquid.sh N_MOLECULES OUT.data [SEED] — liquid benzene at 0.874 g/cm^3 (one molecule per
# 5.29 Å cube), packed by packmol (tolerance 2.0 Å, 1 Å shy of each face so contacts across the
# periodic boundary also stay >= 2 Å), written as a LAMMPS data file (types 1 = C, 2 = H).
set -euo pipefail
n=$1 out=$2 seed=${3:-1}
command -v packmol >/dev/null || { echo "make_liquid.sh: packmol not found (apt-get install packmol)" >&2; exit 1; }
L=$(awk -v n="$n" 'BEGIN { printf "%.6f", 5.29 * n ^ (1 / 3) }')
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk 'BEGIN { pi = atan2(0, -1); print 12; print "benzene";
  for (k = 0; k < 6; k++) printf "C %.6f %.6f 0\n", 1.397 * cos(k * pi / 3), 1.397 * sin(k * pi / 3);
  for (k = 0; k < 6; k++) printf "H %.6f %.6f 0\n", 2.481 * cos(k * pi / 3), 2.481 * sin(k * pi / 3) }' >"$tmp/benzene.xyz"
hi=$(awk -v L="$L" 'BEGIN { printf "%.6f", L - 1 }')
cat >"$tmp/pack.inp" <<INP
tolerance 2.0
filetype xyz
output $tmp/box.xyz
seed $seed
structure $tmp/benzene.xyz
  number $n
  inside box 1.0 1.0 1.0 $hi $hi $hi
end structure
INP
packmol <"$tmp/pack.inp" >"$tmp/packmol.log" || { tail -20 "$tmp/packmol.log" >&2; exit 1; }
grep -q "Success" "$tmp/packmol.log" || echo "make_liquid.sh: packmol did not reach its tolerance; using its best packing" >&2
awk -v L="$L" -v n="$n" 'NR > 2 && NF >= 4 { t[++na] = ($1 == "C") ? 1 : 2; x[na] = $2; y[na] = $3; z[na] = $4 }
  END {
    printf "liquid benzene, %d molecules, packmol\n\n%d atoms\n2 atom types\n\n", n, na
    printf "0 %s xlo xhi\n0 %s ylo yhi\n0 %s zlo zhi\n\nMasses\n\n1 12.011\n2 1.008\n\nAtoms # atomic\n\n", L, L, L
    for (i = 1; i <= na; i++) printf "%d %d %.6f %.6f %.6f\n", i, t[i], x[i], y[i], z[i]
  }' "$tmp/box.xyz" >"$out"
echo "make_liquid.sh: $n molecules, $((12 * n)) atoms, box $L Å -> $out" >&2
