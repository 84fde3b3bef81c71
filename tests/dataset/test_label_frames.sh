#!/bin/sh
# test_label_frames.sh MLFF TMPDIR benzene.xyz DUMP2EXTXYZ — `mlff label --frames`: periodic frames
# (a grid of 27 benzenes, the second frame wrapped across the boundary as MD writes it) refused
# with a message naming the frame and the fix when the cell is not a cube, the atoms are not
# whole molecules or not in --molecule's order; labelled (with libxtb) into spheres tagged
# liquid_md, the same bytes when stopped and resumed; bench/dump2extxyz.sh turns a LAMMPS dump
# into such frames and refuses unsorted ids. Exit 77 when libmlff was built without libxtb (the
# refusals and the conversion are checked first).
set -u
mlff=$1
dir=$2/label_frames
mol=$3
conv=$4
rm -rf "$dir" && mkdir -p "$dir" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
# frames FILE SHIFT LATTICE: 27 benzenes 6.2 Å apart, moved by SHIFT along x and wrapped
frames() {
  awk -v shift="$2" -v lat="$3" -v nframes="${4:-1}" 'NR > 2 { e[NR - 3] = $1; x[NR - 3] = $2; y[NR - 3] = $3; z[NR - 3] = $4 }
  END {
    L = 18.6
    for (f = 0; f < nframes; f++) {
      print 27 * 12
      printf "Lattice=\"%s\" Properties=species:S:1:pos:R:3 pbc=\"T T T\"\n", lat
      for (m = 0; m < 27; m++)
        for (i = 0; i < 12; i++) {
          px = x[i] + 6.2 * (m % 3) + 1 + shift + 0.1 * f; py = y[i] + 6.2 * (int(m / 3) % 3) + 1
          pz = z[i] + 6.2 * int(m / 9) + 1
          px -= L * int(px / L); if (px < 0) px += L
          printf "%s %.6f %.6f %.6f\n", e[i], px, py, pz
        }
    }
  }' "$mol" >"$1"
}
cube="18.6 0 0 0 18.6 0 0 0 18.6"
frames "$dir/f1.xyz" 0 "$cube"
frames "$dir/f2.xyz" 3.3 "$cube"
cat "$dir/f1.xyz" "$dir/f2.xyz" >"$dir/frames.xyz"
refused() { # refused NAME PATTERN ARGS...: the command fails, printing PATTERN
  name=$1 pat=$2
  shift 2
  "$mlff" label "$dir/$name.h5" --molecule "$mol" "$@" >"$dir/$name.out" 2>&1 &&
    fail "$name: accepted"
  grep -q "$pat" "$dir/$name.out" || { cat "$dir/$name.out"; fail "$name: message"; }
  [ ! -f "$dir/$name.h5" ] || fail "$name: an output file was written"
}
frames "$dir/box.xyz" 0 "18.6 0 0 0 18.0 0 0 0 18.6"
refused noncubic "box.xyz, frame 1: --frames needs periodic frames in a cubic cell" --frames "$dir/box.xyz"
head -n 200 "$dir/f1.xyz" | sed '1s/.*/198/' >"$dir/cut.xyz"
refused count "cut.xyz, frame 1: 198 atoms are not a number of whole molecules of .*benzene.xyz's 12 atoms" --frames "$dir/cut.xyz"
awk 'NR == 3 { c = $0; next } NR == 9 { print; print c; next } { print }' "$dir/f1.xyz" >"$dir/order.xyz"
refused order "order.xyz, frame 1: atom 6 is H where molecule 1's atom 6 is C" --frames "$dir/order.xyz"
refused small "frames.xyz, frame 1: 324 atoms are not enough whole molecules" --frames "$dir/frames.xyz" --liquid-molecules 28
sed '2s/.*/Properties=species:S:1:pos:R:3/' "$dir/f1.xyz" >"$dir/nocell.xyz"
refused nocell "nocell.xyz, frame 1: --frames needs periodic frames in a cubic cell" --frames "$dir/nocell.xyz"

# bench/dump2extxyz.sh: a LAMMPS dump of frame 2 (box from -1 to 17.6) gives frame 2 back
awk 'NR == 1 { n = $1 } NR > 2 { a++; line[a] = $0 }
  END { print "ITEM: TIMESTEP"; print 100; print "ITEM: NUMBER OF ATOMS"; print n
        print "ITEM: BOX BOUNDS pp pp pp"; for (k = 0; k < 3; k++) print "-1.0 17.6"
        print "ITEM: ATOMS id element x y z"
        for (i = 1; i <= n; i++) { split(line[i], v, " "); printf "%d %s %.6f %.6f %.6f\n", i, v[1], v[2] - 1, v[3] - 1, v[4] - 1 } }' \
  "$dir/f2.xyz" >"$dir/f2.dump"
bash "$conv" "$dir/f2.dump" "$dir/f2_conv.xyz" || fail "dump2extxyz.sh failed"
sed -n 2p "$dir/f2_conv.xyz" | grep -q 'Lattice="18.6 0 0 0 18.6 0 0 0 18.6" .*pbc="T T T" step=100' ||
  fail "dump2extxyz.sh header: $(sed -n 2p "$dir/f2_conv.xyz")"
sed -n '3,$p' "$dir/f2_conv.xyz" | awk '{ printf "%s %.4f %.4f %.4f\n", $1, $2, $3, $4 }' >"$dir/a.txt"
sed -n '3,$p' "$dir/f2.xyz" | awk '{ printf "%s %.4f %.4f %.4f\n", $1, $2, $3, $4 }' >"$dir/b.txt"
cmp -s "$dir/a.txt" "$dir/b.txt" || fail "dump2extxyz.sh moved atoms"
# to stdout, appended twice: two frames (opening /dev/stdout with > truncated the first)
rm -f "$dir/twice.xyz"
bash "$conv" "$dir/f2.dump" >>"$dir/twice.xyz" && bash "$conv" "$dir/f2.dump" >>"$dir/twice.xyz" ||
  fail "dump2extxyz.sh to stdout failed"
[ "$(grep -c Lattice "$dir/twice.xyz")" = 2 ] || fail "dump2extxyz.sh >> kept $(grep -c Lattice "$dir/twice.xyz") frames of 2"
awk 'NR == 10 { print "2" substr($0, 2); next } { print }' "$dir/f2.dump" >"$dir/unsorted.dump"
bash "$conv" "$dir/unsorted.dump" "$dir/unsorted.xyz" 2>"$dir/unsorted.err" && fail "unsorted dump accepted"
grep -q "unsorted.dump, line 10: atom ids not 1..N in order (add: dump_modify ID sort id)" \
  "$dir/unsorted.err" || { cat "$dir/unsorted.err"; fail "unsorted dump message"; }

# Labelled: 2 frames x 2 spheres of 3 molecules; stopped after 2 and resumed: the same bytes.
plan="--molecule $mol --frames $dir/frames.xyz --liquid-molecules 3 --frame-spheres 2 --chunk 2 --seed 3"
"$mlff" label "$dir/a.h5" $plan >"$dir/a.out" 2>"$dir/a.err"
rc=$?
if [ $rc -ne 0 ] && grep -q "without libxtb" "$dir/a.err"; then
  echo "refusals and dump2extxyz.sh passed; labelling skipped: $(cat "$dir/a.err")"; exit 77
fi
[ $rc -eq 0 ] || { cat "$dir/a.err"; fail "labelling the frames exited $rc"; }
grep -q "plan of 4 structures: liquid_md 4" "$dir/a.err" || { cat "$dir/a.err"; fail "plan line"; }
grep -q "wrote .*a.h5: 4 structures of the plan's 4" "$dir/a.out" || fail "summary"
"$mlff" label "$dir/b.h5" $plan --stop-after 2 >/dev/null 2>&1 || fail "stop-after run"
"$mlff" label "$dir/b.h5" $plan >"$dir/b.out" 2>&1 || { cat "$dir/b.out"; fail "resume"; }
cmp "$dir/a.h5" "$dir/b.h5" || fail "the resumed file differs"
"$mlff" label "$dir/a.h5" $plan --frame-spheres 3 >"$dir/c.out" 2>&1 && fail "other plan accepted"
grep -q "holds 4 structures of another labelling plan" "$dir/c.out" || fail "plan refusal"

# --liquid-contact: liquids packed at 0.6-0.65 x the 2.0 A contact hold closer contacts than the
# default range allows (0.9 x), and none closer than 0.6 x 0.97^11 (the packer's retries)
"$mlff" label "$dir/w.h5" --molecule "$mol" --temperatures 300 --md-structures 4 \
  --md-interval 5 --md-equilibration 10 --normal-modes 0 --dimers 0 --far-dimers 0 \
  --contact-dimers 0 --trimers 0 --tetramers 0 --droplets 0 --relaxed 0 --liquids 3 --liquid-molecules 4 \
  --liquid-contact 0.6-0.65 --seed 2 >"$dir/w.out" 2>&1 || { cat "$dir/w.out"; fail "--liquid-contact run"; }
py=/usr/bin/python3
if [ -x $py ] && $py -c "import h5py, numpy" 2>/dev/null; then
  $py - "$dir/w.h5" <<'PY' || fail "--liquid-contact: contacts"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
z = f["/structures/atomic_numbers"][()]; x = f["/structures/positions"][()]
sp = list(f["/structures/atomic_numbers_splits"][()]); src = f["/labels/source"][()]
if sp and sp[0] != 0: sp = [0] + sp + [len(z)]
r = {1: 1.2, 6: 1.7}
for k in range(len(src)):
    if (src[k].decode() if isinstance(src[k], bytes) else src[k]) != "liquid": continue
    a, b = sp[k], sp[k + 1]
    xs, zs = x[a:b], z[a:b]; mol = np.arange(b - a) // 12
    d = np.linalg.norm(xs[:, None] - xs[None], axis=-1)
    lim = 2.0 / 2.4 * (np.vectorize(r.get)(zs)[:, None] + np.vectorize(r.get)(zs)[None])
    ratio = np.where(mol[:, None] != mol[None], d / lim, 9).min()
    print(f"liquid {k}: tightest contact {ratio:.3f} x the contact distance")
    assert 0.6 * 0.97 ** 11 - 1e-9 <= ratio < 0.9, ratio
PY
fi
echo "label --frames: refusals, dump2extxyz.sh, 4 spheres, resumed identically; --liquid-contact"
