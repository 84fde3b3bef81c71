#!/usr/bin/python3
"""bench/teacher_periodic.py on a toy teacher whose answer is known (no tblite needed): each
pair of O atoms of two molecules closer than 3.6 Å binds by 1 eV (periodic: minimum image). On
a 5 x 5 x 5 lattice of water-like molecules 3.1 Å apart, one split across the box face, the
periodic box binds by 3 eV per molecule (6 neighbours, each bond shared), a cluster of 1 by 0
and a cluster of 7 (the centre and its 6 neighbours) by 6/7 eV; clusters hold whole molecules.
--self-check on a 3 x 3 x 3 lattice finds no difference (the toy's periodic sums are exact).
Then the refusals, each with its message.

usage: test_teacher_periodic.py REPO WORKDIR
"""
import importlib.util
import os
import subprocess
import sys

import numpy as np

from water_lattice import lattice  # by default the first plane's O atoms on the x = 0 face

repo, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)
script = os.path.join(repo, "bench/teacher_periodic.py")
spec = importlib.util.spec_from_file_location("tp", script)
tp = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tp)
fails = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        fails.append(what)


def toy(jobs):
    out = []
    for el, x, lat in jobs:
        o = x[[i for i, e in enumerate(el) if e == "O"]]
        d = o[:, None, :] - o[None, :, :]
        if lat is not None:
            d -= lat * np.round(d / lat)
        r = np.linalg.norm(d, axis=2)
        out.append(-float(np.sum(np.triu(r < 3.6, 1))))
    return out


a, n = 3.1, 5
el, x, L = lattice(n, a)
split = [m for m in range(n ** 3) if np.abs(x[3 * m + 1:3 * m + 3] - x[3 * m]).max() > L[0] / 2]
structs = tp.structures(el, x, L, [1, 7, 33])
whole = all(np.all(np.abs(np.linalg.norm(p[1:] - p[0], axis=1) - 0.9578) < 0.01)
            for *_, parts in structs for _, p in parts)
check(len(split) > 0, f"the box has molecules split across its face ({len(split)})")
check(whole, "every structure holds whole molecules (O-H 0.958 Å), the split ones too")
check([len(parts) for *_, parts in structs] == [1, 7, 33, n ** 3],
      "clusters of 1, 7, 33 molecules and the periodic box of 125")
check(structs[-1][3] is not None and all(s[3] is None for s in structs[:-1]),
      "the clusters are open, the box periodic")
res = dict(tp.interactions(structs, toy))
check(abs(res["cluster of 1"]) < 1e-9, f"a molecule alone binds by 0 ({res['cluster of 1']})")
check(abs(res["cluster of 7"] + 6000 / 7) < 1e-6,
      f"the centre and its 6 neighbours: -6/7 eV per molecule ({res['cluster of 7']:.3f} meV)")
check(abs(res["periodic box of 125"] + 3000) < 1e-6,
      f"the periodic box: -3 eV per molecule ({res['periodic box of 125']:.3f} meV)")
# --self-check on a 3 x 3 x 3 lattice (27 molecules: the 2 x 2 x 2 repetition is done too); the
# toy's periodic sums are exact, so the cluster in a 30 / 40 Å box and the repetition change nothing
el3, x3, L3 = lattice(3, a)
chk = tp.self_check(el3, x3, L3, 7, toy)
check(len(x3) == 81 and chk.get("molecules") == 27 and
      max(abs(chk[k]) for k in ("box30_minus_open_meV", "box40_minus_open_meV",
                                "supercell_minus_box_meV")) < 1e-9,
      f"--self-check: no difference for an exact periodic code ({chk})")
o7 = structs[1][2][0::3]
check(np.linalg.norm(o7 - o7.mean(0), axis=1).max() < a + 0.3,
      "the cluster of 7 is the centre molecule and its 6 nearest")

# refusals, each naming what to fix
data = os.path.join(work, "lattice.data")
with open(data, "w") as f:
    f.write(f"toy\n\n{len(el)} atoms\n2 atom types\n\n0 {L[0]} xlo xhi\n0 {L[1]} ylo yhi\n"
            f"0 {L[2]} zlo zhi\n\nMasses\n\n1 1.008\n2 15.999\n\nAtoms # atomic\n\n")
    for i, (e, p) in enumerate(zip(el, x)):
        f.write(f"{i + 1} {1 if e == 'H' else 2} {p[0]:.6f} {p[1]:.6f} {p[2]:.6f}\n")
for args, msg in (
        ([os.path.join(work, "absent.data"), "--elements", "H O"], "no data file"),
        ([data, "--elements", "H"], "--elements names 1"),
        ([data, "--elements", "H Xx"], "unknown element Xx"),
        ([data, "--elements", "H O", "--sizes", "a,b"], "comma-separated molecule counts"),
        ([data, "--elements", "H O", "--method", "GFN0-xTB"], "invalid choice: 'GFN0-xTB'"),
        ([data, "--elements", "H O", "--python-tblite", os.path.join(work, "nopython")],
         "no Python with tblite"),
        ([data, "--elements", "H O", "--sizes", "4000", "--python-tblite", sys.executable],
         "the box and its 26 images hold 3375"),
        ([data, "--elements", "H O", "--sizes", "3000", "--python-tblite", sys.executable],
         "beyond the box and its 26 images")):
    p = subprocess.run([sys.executable, script] + args, capture_output=True, text=True)
    check(p.returncode != 0 and msg in p.stderr, f"refused: {msg} ({p.stderr.strip()[-160:]})")

print("FAILED" if fails else "PASS teacher_periodic")
sys.exit(1 if fails else 0)
