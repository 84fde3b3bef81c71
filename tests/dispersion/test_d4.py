#!/usr/bin/env python3
"""test_d4.py MLFF SOURCE_DIR WORKDIR — the model's long-range dispersion against D4 (the dftd4
package from PyPI, an independent reference, as TorchANI is for the descriptor):

1. scripts/dispersion_d4.py makes the benzene term (fixed C6/C8 per element pair, GFN2 damping);
2. `mlff energy` of a model with that term minus the same model without it is the term's energy,
   computed by libmlff's C code; for benzene, a sandwich dimer at 3.7 Å and a parallel-displaced
   one it must equal dftd4's own two-body energy to 1 % (every carbon of benzene has the same
   coordination and charge, so one C6 per element pair is nearly exact here) and differ from it
   clearly with C6 scaled by 1.1 (the comparison can fail);
3. the three-body (ATM) term, GFN2's s9 5 (dispersion_d4.py's default), against dftd4's on a
   dimer and a trimer, their intermolecular parts (25 %: one C9 scale stands for D4's zero-charge
   C6, fitted by dispersion_d4.py on a liquid-like cluster, which leaves stacked rings ~13 % low;
   and it is cut at 8 Å, which the trimer feels).
Exit 77 when dftd4 cannot be installed (no network on a first run)."""
import os
import subprocess
import sys

mlff, src, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
script = os.path.join(src, "scripts", "dispersion_d4.py")
disp, disp3 = os.path.join(work, "d4.h5"), os.path.join(work, "d4_three.h5")
for out, extra in ((disp, ["--three-body", "no"]), (disp3, [])):
    r = subprocess.run([sys.executable, script, "--molecule",
                        os.path.join(src, "models", "benzene.xyz"), "--out", out] + extra,
                       capture_output=True, text=True)
    if r.returncode != 0:
        if "pip" in r.stderr or "venv" in r.stderr or "Could not" in r.stderr:
            print("skipped: dftd4 could not be installed:\n" + r.stderr[-2000:])
            sys.exit(77)
        sys.exit(f"dispersion_d4.py failed:\n{r.stdout}\n{r.stderr}")
    print(r.stdout)

with open(os.path.join(src, "models", "benzene.xyz")) as f:
    lines = f.read().splitlines()
mono = [(l.split()[0], [float(v) for v in l.split()[1:4]]) for l in lines[2:14]]


def write_xyz(path, frames):
    with open(path, "w") as f:
        for atoms in frames:
            f.write(f"{len(atoms)}\nProperties=species:S:1:pos:R:3 pbc=\"F F F\"\n")
            for s, x in atoms:
                f.write(f"{s} {x[0]:.10f} {x[1]:.10f} {x[2]:.10f}\n")


def shifted(d):
    return [(s, [x[0] + d[0], x[1] + d[1], x[2] + d[2]]) for s, x in mono]


systems = {"benzene": mono, "sandwich 3.7": mono + shifted([0, 0, 3.7]),
           "parallel-displaced": mono + shifted([1.6, 0.0, 3.5]),
           "PD trimer": mono + shifted([1.6, 0.0, 3.5]) + shifted([-1.6, 0.0, -3.5])}
xyz = os.path.join(work, "systems.xyz")
write_xyz(xyz, list(systems.values()))

for name, extra in (("with", ["--dispersion", disp]), ("three", ["--dispersion", disp3]),
                    ("without", [])):
    subprocess.run([mlff, "init", os.path.join(work, f"m_{name}.h5"), "--elements", "C,H",
                    "--hidden", "8", "--seed", "3"] + extra, check=True, capture_output=True)


def energies(model):
    out = subprocess.run([mlff, "energy", model, xyz], check=True, capture_output=True,
                         text=True).stdout
    return [float(l.split("energy")[1].split()[0]) for l in out.splitlines()
            if l.startswith("frame") and "energy" in l]


ew, e0 = energies(os.path.join(work, "m_with.h5")), energies(os.path.join(work, "m_without.h5"))
e3 = energies(os.path.join(work, "m_three.h5"))
assert len(ew) == len(e0) == len(e3) == len(systems), (ew, e0, e3)
ours = [a - b for a, b in zip(ew, e0)]
ours3 = [a - b for a, b in zip(e3, ew)]  # the three-body term alone

# dftd4 itself, in the script's environment
ref_code = r'''
import sys, numpy as np
from dftd4.interface import DispersionModel, DampingParam
B = 0.529177210903
lines = open(sys.argv[1]).read().splitlines()
frames, k = [], 0
while k < len(lines) and lines[k].strip():
    n = int(lines[k]); frames.append([l.split() for l in lines[k + 2:k + 2 + n]]); k += 2 + n
for fr in frames:
    Z = np.array([6 if a[0] == "C" else 1 for a in fr]); X = np.array([[float(v) for v in a[1:]] for a in fr])
    m = DispersionModel(Z, X / B)
    e = [m.get_dispersion(DampingParam(s6=1.0, s8=2.7, a1=0.52, a2=5.0, s9=s9), grad=False)["energy"]
         for s9 in (0.0, 5.0)]
    print(e[0] * 27.211386245988, (e[1] - e[0]) * 27.211386245988)
'''
venv = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                       "import dispersion_d4; print(dispersion_d4.venv_python())",
                       os.path.join(src, "scripts")], check=True, capture_output=True, text=True)
py = venv.stdout.strip().splitlines()[-1]
both = [float(v) for v in subprocess.run([py, "-c", ref_code, xyz], check=True,
                                         capture_output=True, text=True).stdout.split()]
refs, refs3 = both[0::2], both[1::2]
fail = 0
# the three-body term (GFN2's s9 5, its C9 scale fitted by dispersion_d4.py on another cluster,
# cutoff3 8 Å) against dftd4's on the systems with intermolecular triples: within 25 %, so that
# a sign or s9 error (a factor 5), or a missing term, is caught
for name, a, b, n in zip(systems, ours3, refs3, [len(v) for v in systems.values()]):
    if n == 12:
        continue
    a, b = a - n // 12 * ours3[0], b - n // 12 * refs3[0]  # intermolecular: minus the molecules'
    rel = abs(a - b) / abs(b)
    print(f"{name:<20} mlff three-body {a:.6f} eV  dftd4 {b:.6f} eV  rel.diff {rel:.2e}")
    if not (rel < 0.25 and b > 0):
        print(f"FAIL: {name}: mlff's three-body dispersion differs from dftd4's by {rel:.1%}")
        fail = 1
for (name, _), a, b in zip(systems.items(), ours, refs):
    rel = abs(a - b) / abs(b)
    print(f"{name:<20} mlff {a:.6f} eV  dftd4 (two-body) {b:.6f} eV  rel.diff {rel:.2e}")
    if not rel < 0.01:
        print(f"FAIL: {name}: mlff's dispersion differs from dftd4's by {rel:.2%}")
        fail = 1
    if not abs(1.1 * a - b) / abs(b) > 0.05:  # C6 10 % larger would be caught
        fail = 1
        print(f"FAIL: {name}: the comparison cannot tell a 10 % change")
print("test_d4: " + ("FAILED" if fail else "ok"))
sys.exit(fail)
