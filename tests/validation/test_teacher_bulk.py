#!/usr/bin/env python3
"""test_teacher_bulk.py SOURCE_DIR — bench/teacher_bulk.py's refusals with --molecule, before any
LAMMPS, packing or teacher run: a molecule whose element --elements does not name, and one with
no experimental density in validate_liquid.py's table and no --pack-density. (Its runs need
tblite and LAMMPS and take minutes: docs/validation.md has their results.)"""
import os
import subprocess
import sys


def main():
    src = sys.argv[1]
    script = os.path.join(src, "bench", "teacher_bulk.py")

    def run(*args):
        return subprocess.run([sys.executable, script, "--model", "none.h5", *args],
                              capture_output=True, text=True, timeout=60)

    eth = os.path.join(src, "models", "small", "c2h5oh.xyz")
    p = run("--molecule", eth)
    want = f'{eth} holds O, which --elements "C H" does not name'
    if p.returncode == 0 or want not in p.stderr:
        sys.exit(f"FAILED: an element missing from --elements: {p.returncode} {p.stderr}")
    nh3 = os.path.join(src, "models", "small", "nh3.xyz")
    p = run("--molecule", nh3, "--elements", "H N")
    want = f"no experimental density of {nh3} in validate_liquid.py's table: give --pack-density"
    if p.returncode == 0 or want not in p.stderr:
        sys.exit(f"FAILED: no density to pack at: {p.returncode} {p.stderr}")
    print("PASS")


if __name__ == "__main__":
    main()
