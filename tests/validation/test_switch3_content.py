#!/usr/bin/env python3
"""test_switch3_content.py SOURCE_DIR WORK — bench/switch3_content.py on a small periodic frame
written here (two benzene rings 4 Å apart, stacked, in a 20 Å box) with the shipped model (its
three-body term: hard, 8 Å): the model's own cutoff3 with switch3 0 changes nothing (exactly 0),
a 3 Å switch below 8 Å weighs triples down (its energy differs), and the refusals (a variant
that is not CUTOFF3:SWITCH3; a switch as wide as cutoff3, refused by the library)."""
import json
import os
import subprocess
import sys


def main():
    src, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    script = os.path.join(src, "bench", "switch3_content.py")
    model = os.path.join(src, "models", "benzene-gfn2.h5")
    mol = [l.split() for l in open(os.path.join(src, "models", "benzene.xyz")).read().splitlines()[2:14]]
    data = os.path.join(work, "two.data")
    with open(data, "w") as f:
        f.write("two stacked benzenes\n\n24 atoms\n2 atom types\n\n")
        for ax in "xyz":
            f.write(f"0 20.0 {ax}lo {ax}hi\n")
        f.write("\nMasses\n\n1 12.011\n2 1.008\n\nAtoms # atomic\n\n")
        k = 0
        for z in (8.0, 12.0):
            for e, x, y, _ in mol:
                k += 1
                f.write(f"{k} {1 if e == 'C' else 2} {10 + float(x):.6f} {10 + float(y):.6f} {z:.6f}\n")

    def run(*args):
        return subprocess.run([sys.executable, script, "--model", model, "--data", data,
                               "--atoms-per-molecule", "12", *args],
                              capture_output=True, text=True, timeout=100)

    out = os.path.join(work, "switch3.json")
    p = run("--variants", "8:0,8:3", "--json", out)
    if p.returncode != 0:
        sys.exit(f"FAILED: {p.returncode} {p.stdout} {p.stderr}")
    rows = json.load(open(out))["variants"]
    print(p.stdout)
    if rows[0]["dE_meV_per_molecule"] != 0.0:
        sys.exit(f"FAILED: the model's own three-body term changed the energy: {rows[0]}")
    if abs(rows[1]["dE_meV_per_molecule"]) < 1e-3:
        sys.exit(f"FAILED: a 3 Å switch left the triples as they were: {rows[1]}")
    p = run("--variants", "8.5")
    want = "--variants: '8.5' is not CUTOFF3:SWITCH3"
    if p.returncode == 0 or want not in p.stderr:
        sys.exit(f"FAILED: a variant without its switch: {p.returncode} {p.stderr}")
    p = run("--variants", "8:8")
    want = "switch3 is 8 Å with s9"
    if p.returncode == 0 or want not in p.stderr:
        sys.exit(f"FAILED: a switch as wide as cutoff3: {p.returncode} {p.stderr}")
    print("PASS")


if __name__ == "__main__":
    main()
