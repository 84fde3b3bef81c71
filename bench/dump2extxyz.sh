#!/usr/bin/env bash
# dump2extxyz.sh DUMP [OUT.xyz] — a LAMMPS text dump (dump custom ... id element x y z, or xu yu
# zu; orthogonal box; `dump_modify ... sort id element C H`) as extended XYZ frames with their
# periodic cell, the input of `mlff label --frames`: positions shifted so that the box starts at
# the origin, atoms in id order, the timestep kept as step=. Writes OUT.xyz (default: stdout).
set -euo pipefail
die() { echo "dump2extxyz.sh: $*" >&2; exit 1; }
[ $# -ge 1 ] && [ -r "$1" ] || die "usage: dump2extxyz.sh DUMP [OUT.xyz] (DUMP readable)"
# (no redirection to stdout by name: `>> frames.xyz` must append, and opening /dev/stdout
#  with > would truncate what the caller appends to)
convert() {
awk -v src="$1" '
function fail(msg) { printf "dump2extxyz.sh: %s, line %d: %s\n", src, NR, msg > "/dev/stderr"; bad = 1; exit 1 }
/^ITEM: TIMESTEP/ { getline step; next }
/^ITEM: NUMBER OF ATOMS/ { getline n; n += 0; next }
/^ITEM: BOX BOUNDS/ {
  if (NF != 6 && NF != 5) fail("a triclinic box (xy xz yz): only orthogonal boxes are supported")
  for (k = 0; k < 3; k++) { getline; lo[k] = $1; hi[k] = $2 }
  next
}
/^ITEM: ATOMS/ {
  ie = ix = iy = iz = ii = 0
  for (c = 3; c <= NF; c++) {
    f = $c; j = c - 2
    if (f == "id") ii = j
    else if (f == "element") ie = j
    else if (f == "x" || f == "xu") ix = j
    else if (f == "y" || f == "yu") iy = j
    else if (f == "z" || f == "zu") iz = j
  }
  if (!ii || !ie || !ix || !iy || !iz) fail("the ATOMS columns must include id, element and x y z (or xu yu zu)")
  printf "%d\nLattice=\"%.10g 0 0 0 %.10g 0 0 0 %.10g\" Properties=species:S:1:pos:R:3 pbc=\"T T T\" step=%s\n",
    n, hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2], step
  for (a = 1; a <= n; a++) {
    if ((getline line) <= 0) fail("the dump ends inside a frame")
    split(line, v, " ")
    if (v[ii] + 0 != a) fail("atom ids not 1..N in order (add: dump_modify ID sort id)")
    printf "%s %.6f %.6f %.6f\n", v[ie], v[ix] - lo[0], v[iy] - lo[1], v[iz] - lo[2]
  }
  frames++
  next
}
END { if (!bad && !frames) { printf "dump2extxyz.sh: %s holds no frames\n", src > "/dev/stderr"; exit 1 } }
' "$1"
}
if [ $# -ge 2 ]; then convert "$1" >"$2"; else convert "$1"; fi
