#!/usr/bin/env python3
"""Test of bench/make_liquid.sh's handling of packmol (label unit; standard library, < 5 s).

A fake `packmol` earlier on PATH stands in for Debian's: when packmol stops short of its
tolerance ("ENDED WITHOUT PERFECT PACKING", exit status 173) the script must take the best packing
it wrote (the output file, else <output>_FORCED), say so on stderr with packmol's last "Maximum
violation of target distance", and write the data file; a packing with atoms of two molecules
closer than 1.6 Å must be refused and packed again with another seed (and, when every try does
so, stop the script naming the seeds and the distance); a real error (packmol missing, a failure
without packing, no packing of all the atoms) must stop it with a clear message. When the real
packmol is installed, a small box that packs is checked too (no such message).

usage: test_make_liquid.py REPO WORKDIR
"""
import os
import shutil
import stat
import subprocess
import sys

repo, work = sys.argv[1], sys.argv[2]
script = os.path.join(repo, "bench", "make_liquid.sh")
N = 3  # molecules; 36 atoms

# Writes what Debian's packmol 20.14 prints and writes, by FAKE_PACKMOL:
#   best    exit 173, best packing in the output file (what 4,096 molecules with seed 1 give)
#   forced  exit 173, only <output>_FORCED
#   none    exit 173, no file
#   short   exit 173, an output file with too few atoms
#   error   exit 1, an input error, no file
FAKE = r"""#!/usr/bin/env bash
out= n=0 seed=0
while read -r k v _; do
  case $k in output) out=$v ;; number) n=$v ;; seed) seed=$v ;; esac
done
# molecules as points (their 12 atoms together), far apart in the 7.63 Å box of 3; with
# FAKE_OVERLAP the second one 1.0 Å from the first (for seeds listed in it, or all: "all")
box() {
  echo "$1"; echo " Built with Packmol"
  local c=("1.0 1.0 1.0" "3.8 3.8 3.8" "1.0 3.8 6.5")
  case " ${FAKE_OVERLAP:-} " in *" $seed "* | *" all "*) c[1]="2.0 1.0 1.0" ;; esac
  for ((i = 0; i < $1; i++)); do
    if ((i % 12 < 6)); then echo " C ${c[i / 12 % 3]}"; else echo " H ${c[i / 12 % 3]}"; fi
  done
}
ended() {
  echo "  Maximum violation of target distance:     1.826359"
  echo "  Maximum violation of target distance:     0.528398"
  echo "################################################################################"
  echo "  ENDED WITHOUT PERFECT PACKING: "
  echo "  The output file:"
  echo "    $out"
  echo "  contains the best solution found. "
  echo "STOP 173"
}
case ${FAKE_PACKMOL:?} in
  best) box $((12 * n)) >"$out"; ended; exit 173 ;;
  forced) box $((12 * n)) >"${out}_FORCED"; ended; exit 173 ;;
  none) ended; exit 173 ;;
  short) box 5 >"$out"; ended; exit 173 ;;
  error) echo " ERROR: Could not open file: nothing.xyz"; exit 1 ;;
esac
"""


def fail(msg, p=None):
    print("FAILED:", msg)
    if p is not None:
        print(f"---- exit status {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    sys.exit(1)


def run(name, path, mode=None, extra=None):
    out = os.path.join(work, f"{name}.data")
    env = dict(os.environ, PATH=path, **(extra or {}))
    if mode:
        env["FAKE_PACKMOL"] = mode
    p = subprocess.run(["/bin/bash", script, str(N), out, "7"], capture_output=True, text=True,
                       env=env, timeout=60)
    return p, out


def atoms_in(path):
    with open(path) as f:
        lines = f.read().splitlines()
    if "Atoms # atomic" not in lines:
        return -1
    body = [ln for ln in lines[lines.index("Atoms # atomic") + 1:] if ln.strip()]
    return len(body)


shutil.rmtree(work, ignore_errors=True)
fake_dir = os.path.join(work, "fakebin")
os.makedirs(fake_dir)
fake = os.path.join(fake_dir, "packmol")
with open(fake, "w") as f:
    f.write(FAKE)
os.chmod(fake, os.stat(fake).st_mode | stat.S_IEXEC)
fake_path = fake_dir + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin")

# packmol's best packing after no convergence: accepted, said on stderr with the figure
for mode, file in (("best", "box.xyz"), ("forced", "box.xyz_FORCED")):
    p, out = run(mode, fake_path, mode)
    if p.returncode != 0:
        fail(f"{mode}: packmol's best packing must be accepted", p)
    want = (f"packmol did not reach its tolerance (exit status 173, {N} molecules, seed 7); "
            f"using its best packing ({file}); its last maximum violation of target distance: "
            "0.528398 (tolerance 2.0 Å)")
    if want not in p.stderr:
        fail(f"{mode}: stderr should say {want!r}", p)
    if atoms_in(out) != 12 * N:
        fail(f"{mode}: the data file should hold {12 * N} atoms, has {atoms_in(out)}", p)

# a best packing with two molecules 1 Å apart: refused and packed again with another seed ...
env_once = dict(FAKE_OVERLAP="7")
p, out = run("overlap-once", fake_path, "best", env_once)
want = ("the packing of seed 7 has atoms of two molecules 1.000 Å apart (below 1.6 Å, a pair FIRE "
        "does not undo); packing again with seed 1007")
if p.returncode != 0 or want not in p.stderr or atoms_in(out) != 12 * N:
    fail(f"overlap once: expected {want!r} and then a data file of {12 * N} atoms", p)
# ... and where every try does so, a failure naming the seeds, the distance and the way out
p, out = run("overlap-all", fake_path, "best", dict(FAKE_OVERLAP="all"))
want = ("no packing of 3 molecules in a 7.629500 Å box keeps atoms of two molecules 1.6 Å apart "
        "in 5 tries (seeds 7, 1007, 2007, 3007, 4007; the closest last: 1.000 Å): give another "
        "SEED, or fewer molecules")
if p.returncode == 0 or want not in p.stderr or os.path.exists(out):
    fail(f"overlap always: expected a failure saying {want!r} and no {out}", p)

# real errors: a clear message, a non-zero status, no data file
for mode, want in (("none", "did not reach its tolerance and wrote no packing of 36 atoms"),
                   ("short", "did not reach its tolerance and wrote no packing of 36 atoms"),
                   ("error", "packmol failed (exit status 1)")):
    p, out = run(mode, fake_path, mode)
    if p.returncode == 0 or want not in p.stderr or os.path.exists(out):
        fail(f"{mode}: expected a failure saying {want!r} and no {out}", p)

# packmol missing: a PATH with the tools the script uses and no packmol
tools = os.path.join(work, "tools")
os.makedirs(tools)
for t in ("awk", "cat", "mktemp", "rm", "head", "tr", "grep", "tail", "basename"):
    w = shutil.which(t)
    if w is None:
        fail(f"{t} not found on PATH")
    os.symlink(w, os.path.join(tools, t))
p, out = run("missing", tools)
if p.returncode == 0 or "packmol not found" not in p.stderr or os.path.exists(out):
    fail("packmol missing: expected 'packmol not found' and a non-zero status", p)

# the real packmol on a box that packs: a data file and no word of a missed tolerance
if shutil.which("packmol"):
    p, out = run("real", os.environ.get("PATH", "/usr/bin:/bin"))
    if p.returncode != 0 or atoms_in(out) != 12 * N or "did not reach" in p.stderr:
        fail("real packmol, 3 molecules: a data file of 36 atoms, no non-convergence message", p)
    print("make_liquid: ok")
else:
    print("make_liquid: ok (packmol not installed: the real run skipped)")
