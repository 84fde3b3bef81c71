#!/usr/bin/python3
"""bench/teacher_locality.py on a toy teacher whose range is known (no tblite needed): a
pair force that ends at RC. Clusters that hold every molecule within reach of the centre's
atoms must give the centre exactly the force of the largest; smaller ones must not. The
periodic path is checked on a lattice of water-like molecules with one split across the box
face: every cluster holds whole molecules at their minimum-image distances. Then the
refusals, each with its message.

usage: test_teacher_locality.py REPO WORKDIR
"""
import importlib.util
import os
import subprocess
import sys

import numpy as np

from water_lattice import lattice

repo, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)
spec = importlib.util.spec_from_file_location("tl", os.path.join(repo, "bench/teacher_locality.py"))
tl = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tl)
fails = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        fails.append(what)


def toy(rc):
    """forces of U = sum over atom pairs closer than rc of (rc - r)^2"""
    def run(structures):
        out = []
        for _, x in structures:
            d = x[:, None, :] - x[None, :, :]
            r = np.linalg.norm(d, axis=2) + np.eye(len(x))
            g = np.where(r < rc, -2 * (rc - r), 0.0) * (1 - np.eye(len(x)))  # dU/dr
            out.append(-((g / r)[:, :, None] * d).sum(1))
        return out
    return run


# a 5 x 5 x 5 lattice of O-H-H, 3.1 Å apart, random orientations, wrapped into the box;
# molecule 0 sits at the corner: its hydrogens wrap to the far faces
a, n = 3.1, 5
el, x, L = lattice(n, a, seed=7, shift=(0.0, 0.0, 0.0))
mols = tl.molecules(el, x, L)
check(len(mols) == n ** 3 and all(len(i) == 3 for i, _ in mols), f"{n ** 3} molecules of 3 atoms found")
split = any(np.abs(x[i] - x[i][0]).max() > L[0] / 2 for i, _ in mols)
check(split, "the lattice has a molecule split across the box (the case the unwrapping is for)")
sizes = [1, 7, 27, 33]  # the centre, its 6 neighbours at 3.1 Å, 12 at 4.4, 8 at 5.4; 6 at 6.2
ok_whole, ok_dist, ok_complete = True, True, True
for centre in (0, 62):
    for e, p, rows, r, complete in tl.clusters(el, mols, L, centre, sizes):
        for m in range(0, len(e), 3):
            oh = np.linalg.norm(p[m + 1:m + 3] - p[m], axis=1)
            ok_whole &= bool(np.all(np.abs(oh - 0.9578) < 0.01))
        cen = p.reshape(-1, 3, 3).mean(1)
        ok_dist &= rows == [0, 1, 2]  # the centre molecule comes first
        ok_dist &= bool(np.linalg.norm(cen - cen[0], axis=1).max() < r + 1e-9 < 6.2 + 0.3)
        # complete: no atom left out lies nearer the centre's atoms; one lies at that distance
        ok_complete &= complete > 0.5 and (len(e) == len(el) or complete < r + 2)
check(ok_whole, "every cluster holds whole molecules (O-H 0.958 Å), the split one too")
check(ok_dist, "every cluster's molecules lie within their minimum-image distance of the centre")
check(ok_complete, "every cluster's completeness radius is positive and near its outer molecules")

RC = 3.5
table, per = tl.locality([(el, x, L)], sizes, toy(RC), centres=3, seed=1)
check(len(per) == 3 and [t["molecules"] for t in table] == sizes, "3 centres, a row per size")
check(table[0]["mean_dF_meV_per_A"] > 100, "the centre alone misses its neighbours' pull "
      f"({table[0]['mean_dF_meV_per_A']:.0f} meV/Å)")
check(table[2]["complete_A_min"] > RC and table[1]["complete_A_min"] < RC,
      f"27 molecules hold every atom within {RC} Å of the centre's atoms, 7 do not "
      f"({table[2]['complete_A_min']:.2f}, {table[1]['complete_A_min']:.2f} Å)")
consistent = all((s["complete_A"] is None or s["complete_A"] >= RC) == (s["max_dF_meV_per_A"] == 0)
                 for c in per for s in c["sizes"][:-1])
check(consistent, f"a centre's forces change exactly when a cluster misses atoms within {RC} Å")
check(table[2]["max_dF_meV_per_A"] == 0, f"27 molecules hold everything within {RC} Å of the "
      f"centre's atoms: its forces are the largest cluster's ({table[2]['max_dF_meV_per_A']:.1e})")
check(table[-1]["max_dF_meV_per_A"] == 0 and table[2]["radius_A"] > table[1]["radius_A"],
      "the reference row is zero; radii grow with the size")
table_l, _ = tl.locality([(el, x, L)], sizes, toy(5.5), centres=3, seed=1)
check(table_l[2]["mean_dF_meV_per_A"] > 1, "a teacher reaching 5.5 Å: 27 molecules are not enough "
      f"({table_l[2]['mean_dF_meV_per_A']:.0f} meV/Å)")
# a box repeated 2 x 2 x 2: the same liquid, so the same clusters of the same centre
big = tl.replicate((el, x, L), 2)
check(len(big[0]) == 8 * len(el) and np.allclose(big[2], 2 * L), "--replicate 2: 8 copies, twice the side")
mb = tl.molecules(*big)
c1 = tl.clusters(el, mols, L, 62, [27])[0]
c2 = tl.clusters(big[0], mb, big[2], [i for i, (idx, _) in enumerate(mb) if 186 in idx][0], [27])[0]
check(np.allclose(np.sort(c1[1] - c1[1][0], axis=0), np.sort(c2[1] - c2[1][0], axis=0)),
      "a replicated box gives the same cluster around the same molecule")
# a cluster without a cell: the centre is the molecule nearest the centroid
sel = [m for m, (_, p) in enumerate(mols) if np.linalg.norm(p.mean(0) - mols[62][1].mean(0)) < 5.5]
el_c = [e for m in sel for e in ("O", "H", "H")]
x_c = np.vstack([mols[m][1] for m in sel])
_, per_c = tl.locality([(el_c, x_c, None)], [1, 7, len(sel)], toy(RC))
check(per_c[0]["molecule"] == sel.index(62) and len(per_c) == 1 and
      per_c[0]["sizes"][-1]["complete_A"] is None,
      "a cluster's centre molecule is the one nearest its centroid")

# --charges: a teacher that is the toy's short-range force plus Coulomb's law between fixed charges
# (no cutoff) is carried exactly by those charges, at the fitted scale 1; charges twice as large
# fit at 1/2; the short-range toy alone gives nothing for charges to carry (beyond its reach)
Q = {"O": -0.8, "H": 0.4}


def coulomb_toy(rc, charges):
    short = toy(rc)

    def run(structures):
        out = short(structures)
        for f, (e, xx) in zip(out, structures):
            q = np.array([charges[s] for s in e])
            d = xx[:, None, :] - xx[None, :, :]
            r = np.linalg.norm(d, axis=2) + np.eye(len(xx))
            w = q[:, None] * q[None, :] / r ** 3 * (1 - np.eye(len(xx)))
            f += 14.399645 * (w[:, :, None] * d).sum(1)
        return out
    return run


tq, _ = tl.locality([(el, x, L)], sizes, coulomb_toy(RC, Q), centres=3, seed=1, charges=Q,
                    cutoff=RC)
check(tq[2]["component_mae_meV_per_A"] > 10 and tq[2]["component_mae_less_coulomb_meV_per_A"] < 1e-6,
      "a Coulomb teacher: the far force (%.1f meV/Å) is the charges' (%.1e left)"
      % (tq[2]["component_mae_meV_per_A"], tq[2]["component_mae_less_coulomb_meV_per_A"]))
check(abs(tq[-1]["charge_scale_fit"] - 1) < 1e-9, "the fitted scale is 1 (%.12f)" % tq[-1]["charge_scale_fit"])
t2, _ = tl.locality([(el, x, L)], sizes, coulomb_toy(RC, Q), centres=3, seed=1,
                    charges={k: 2 * v for k, v in Q.items()}, cutoff=RC)
check(abs(t2[-1]["charge_scale_fit"] - 0.5) < 1e-9 and
      t2[2]["component_mae_less_scaled_coulomb_meV_per_A"] < 1e-6,
      "charges twice too large fit at 0.5 and then carry it all")


def write(path, text):
    open(path, "w").write(text)
    return path


def refuse(args, msg, what):
    r = subprocess.run([sys.executable, os.path.join(repo, "bench/teacher_locality.py")] + args +
                       ["--python-tblite", sys.executable], capture_output=True, text=True)
    err = r.stderr.strip().split("\n")[-1]
    check(r.returncode != 0 and msg in err, f"refuses {what}: {err}")


good = write(os.path.join(work, "box.xyz"), "%d\nLattice=\"%g 0 0 0 %g 0 0 0 %g\" "
             "Properties=species:S:1:pos:R:3\n" % (len(el), *L) +
             "".join(f"{e} {p[0]:.6f} {p[1]:.6f} {p[2]:.6f}\n" for e, p in zip(el, x)))
refuse([os.path.join(work, "none.xyz")], "none.xyz: No such file", "a missing file")
refuse([write(os.path.join(work, "xx.xyz"), "1\n\nXx 0 0 0\n")], "element(s) Xx not handled",
       "an unknown element")
refuse([write(os.path.join(work, "cols.xyz"), "1\nProperties=pos:R:3:species:S:1\n0 0 0 H\n")],
       "the columns must begin species:S:1:pos:R:3", "other columns")
refuse([good, "--sizes", "8"], "at least two counts", "a single size")
refuse([good, "--sizes", "8,x"], "expected a comma-separated list", "a size that is no number")
refuse([good, "--sizes", "1,80"], "beyond half the box", "clusters larger than the box allows")
refuse([good, "--replicate", "0"], "--replicate 0: 1 or more", "--replicate 0")
refuse([good, "--charges", "O=-0.8"], "--charges 'O=-0.8': no charge for H", "charges missing an element")
refuse([good, "--charges", "O:-0.8"], "expected SYM=Q,...", "charges not SYM=Q")
print("FAILED: %d" % len(fails) if fails else "all passed")
sys.exit(1 if fails else 0)
