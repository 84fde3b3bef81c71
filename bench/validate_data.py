#!/usr/bin/env python3
"""validate_data.py — inputs for the physical validation of a liquid (bench/validate_liquid.sh),
for any molecule. Python standard library only (it also serves on the GPU machine).

  validate_data.py gas-data MOL.xyz OUT.data [--elements "C H"] [--box 40]
      one molecule as a LAMMPS data file (atom_style atomic; atom type k = the k-th element of
      --elements, the order of the pair_coeff line; masses from the table below)
  validate_data.py pack MOL.xyz N OUT.data --density G_CM3|COMPOUND [--elements "C H"] [--seed S]
                   [--tolerance 2.0]
      a periodic box of N molecules at the given density, packed by packmol (tolerance 2.0 Å,
      1 Å shy of each face, as bench/make_liquid.sh does for benzene; packmol's best packing is
      used, with a note, when it stops short of its tolerance, unless it holds atoms of two
      molecules closer than 1.6 Å: then it is packed again with seed + 1000, at most 5 tries)
  validate_data.py rdf-pairs [--elements "C H"]
      the type pairs of every pair of elements for compute rdf ("1 1 1 2 2 2" for C H; several
      types of one element as a range "a*b" when they are contiguous)
  validate_data.py formula MOL.xyz [--name]  the Hill formula (C6H6; --name: benzene)
  validate_data.py box DATA                 the shortest box edge of a data file, Å
  validate_data.py closest XYZ --size N --box L
      the closest distance between atoms of two different molecules (N atoms each, in order) of
      a cubic periodic box of side L, Å, when below 1.6 Å (else 1.600): bench/make_liquid.sh's
      check of a packing
"""
import argparse
import os
import subprocess
import sys
import tempfile

# standard atomic weights (IUPAC, abridged; the masses LAMMPS gets), g/mol
MASSES = {
    "H": 1.008, "He": 4.0026, "Li": 6.94, "Be": 9.0122, "B": 10.81, "C": 12.011, "N": 14.007,
    "O": 15.999, "F": 18.998, "Ne": 20.180, "Na": 22.990, "Mg": 24.305, "Al": 26.982,
    "Si": 28.085, "P": 30.974, "S": 32.06, "Cl": 35.45, "Ar": 39.948, "K": 39.098,
    "Ca": 40.078, "Br": 79.904, "I": 126.90,
}
AVOGADRO = 6.02214076e23


def die(msg):
    print(f"validate_data.py: {msg}", file=sys.stderr)
    sys.exit(1)


def norm_element(s):
    return s[:1].upper() + s[1:].lower()


def read_xyz(path):
    """First frame of an XYZ or extended XYZ file: ([element], [(x, y, z)])."""
    try:
        lines = open(path).read().splitlines()
    except OSError as e:
        die(f"cannot read {path}: {e}")
    try:
        n = int(lines[0].split()[0])
    except (IndexError, ValueError):
        die(f"{path}: the first line is not an atom count")
    if len(lines) < n + 2:
        die(f"{path}: {n} atoms announced, {max(0, len(lines) - 2)} lines follow")
    els, pos = [], []
    for ln in lines[2:n + 2]:
        w = ln.split()
        if len(w) < 4:
            die(f"{path}: bad atom line {ln!r}")
        els.append(norm_element(w[0]))
        pos.append(tuple(float(v) for v in w[1:4]))
    return els, pos


def element_list(s):
    els = [norm_element(e) for e in s.split()]
    if not els:
        die("--elements is empty")
    return els


def type_of(els, elements):
    """Atom type (1-based) of each element: its first position in the pair_coeff list."""
    types = []
    for e in els:
        if e not in elements:
            die(f"element {e} of the molecule is not in --elements {' '.join(elements)}")
        types.append(elements.index(e) + 1)
    return types


def masses_of(elements):
    for e in elements:
        if e not in MASSES:
            die(f"no mass for element {e} in validate_data.py's table")
    return [MASSES[e] for e in elements]


def hill_formula(els):
    counts = {}
    for e in els:
        counts[e] = counts.get(e, 0) + 1
    order = (["C", "H"] + sorted(k for k in counts if k not in ("C", "H"))) if "C" in counts \
        else sorted(counts)
    return "".join(f"{e}{counts[e] if counts[e] > 1 else ''}" for e in order if e in counts)


def write_data(path, title, elements, types, pos, lo, hi):
    with open(path, "w") as f:
        f.write(f"{title}\n\n{len(types)} atoms\n{len(elements)} atom types\n\n")
        for k, ax in enumerate("xyz"):
            f.write(f"{lo[k]:.6f} {hi[k]:.6f} {ax}lo {ax}hi\n")
        f.write("\nMasses\n\n")
        for t, (e, m) in enumerate(zip(elements, masses_of(elements)), 1):
            f.write(f"{t} {m}  # {e}\n")
        f.write("\nAtoms # atomic\n\n")
        for i, (t, p) in enumerate(zip(types, pos), 1):
            f.write(f"{i} {t} {p[0]:.6f} {p[1]:.6f} {p[2]:.6f}\n")


def read_data(path):
    """What write_data wrote (or LAMMPS's write_data, atom_style atomic, orthogonal box): the atom
    types, positions from the box's lower corner and the box's edges, in atom-id order."""
    try:
        lines = open(path).read().splitlines()
    except OSError as e:
        die(f"cannot read the data file {path}: {e.strerror}")
    n, lo, hi, start = None, [None] * 3, [None] * 3, None
    for k, line in enumerate(lines):
        w = line.split()
        if len(w) >= 2 and w[1] == "atoms":
            n = int(w[0])
        for d, ax in enumerate("xyz"):
            if len(w) >= 4 and w[2] == f"{ax}lo" and w[3] == f"{ax}hi":
                lo[d], hi[d] = float(w[0]), float(w[1])
        if line.startswith("Atoms"):
            if "#" in line and line.split("#")[1].strip() != "atomic":
                die(f"{path}: Atoms section is '{line.split('#')[1].strip()}'; atomic needed")
            start = k + 2
            break
    if n is None or start is None or None in lo or None in hi:
        die(f"{path}: no atom count, orthogonal box (xlo xhi ...) or Atoms section")
    rows = sorted((lines[k].split() for k in range(start, start + n)), key=lambda r: int(r[0]))
    types = [int(r[1]) for r in rows]
    pos = [[float(r[2 + d]) - lo[d] for d in range(3)] for r in rows]
    return types, pos, [hi[d] - lo[d] for d in range(3)]


def cmd_gas_data(a):
    elements = element_list(a.elements)
    els, pos = read_xyz(a.xyz)
    types = type_of(els, elements)
    c = [sum(p[k] for p in pos) / len(pos) for k in range(3)]
    h = 0.5 * a.box
    write_data(a.out, f"{hill_formula(els)}, one molecule from {os.path.basename(a.xyz)}",
               elements, types, pos, [ck - h for ck in c], [ck + h for ck in c])
    print(f"validate_data.py: {hill_formula(els)}, {len(els)} atoms -> {a.out}", file=sys.stderr)


FUSE_FLOOR = 1.6  # Å: atoms of two molecules closer than this are a fused pair FIRE does not undo


def closest_between_molecules(pos, size, L, within=FUSE_FLOOR):
    """The closest distance between atoms of two different molecules (size atoms each, in
    order) of a periodic cubic box of side L, by the minimum image, when below `within`; else
    `within` (a cell list of that size: no all-pairs loop)."""
    nc = max(1, int(L // within))
    w = L / nc
    cells = {}
    for i, p in enumerate(pos):
        cells.setdefault(tuple(int(c // w) % nc for c in p), []).append(i)
    best = within
    for (cx, cy, cz), atoms in cells.items():
        near = []
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for dz in (-1, 0, 1):
                    near += cells.get(((cx + dx) % nc, (cy + dy) % nc, (cz + dz) % nc), [])
        for i in atoms:
            for j in set(near):
                if j <= i or i // size == j // size:
                    continue
                d2 = 0.0
                for k in range(3):
                    d = pos[i][k] - pos[j][k]
                    d -= L * round(d / L)
                    d2 += d * d
                best = min(best, d2 ** 0.5)
    return best


def cmd_pack(a):
    elements = element_list(a.elements)
    els, pos = read_xyz(a.xyz)
    types = type_of(els, elements)
    molar = sum(MASSES[e] for e in els)
    try:
        density = float(a.density)
    except ValueError:  # a compound of the yardstick table: its experimental density
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from validate_liquid import find_experiment
        exp = find_experiment(a.density)
        if not exp or not exp.get("density"):
            die(f"--density {a.density!r}: neither a number nor a compound with an experimental "
                "density (benzene, water, ethanol or their formulas)")
        density = exp["density"]
    a.density = density
    L = (a.n * molar / AVOGADRO / a.density * 1e24) ** (1.0 / 3.0)
    # a best packing may hold two molecules 1 Å apart: refused, packed again with another seed
    seeds = []
    for k in range(5):
        seeds.append(a.seed + 1000 * k)
        allpos = pack_once(a, els, pos, L, seeds[-1])
        dmin = closest_between_molecules(allpos, len(els), L)
        if dmin >= FUSE_FLOOR:
            break
        print(f"validate_data.py: the packing of seed {seeds[-1]} has atoms of two molecules "
              f"{dmin:.3f} Å apart (below {FUSE_FLOOR} Å, a pair FIRE does not undo)"
              + (f"; packing again with seed {seeds[-1] + 1000}" if k < 4 else ""), file=sys.stderr)
    else:
        die(f"no packing of {a.n} molecules in a {L:.6f} Å box keeps atoms of two molecules "
            f"{FUSE_FLOOR} Å apart in 5 tries (seeds {', '.join(map(str, seeds))}; the closest "
            f"last: {dmin:.3f} Å): give another --seed, fewer molecules or a lower density")
    write_data(a.out, f"{hill_formula(els)} liquid, {a.n} molecules, {a.density} g/cm^3, packmol",
               elements, types * a.n, allpos, [0.0] * 3, [L] * 3)
    print(f"validate_data.py: {a.n} molecules of {hill_formula(els)}, {a.n * len(els)} atoms, "
          f"box {L:.6f} Å -> {a.out}", file=sys.stderr)


def pack_once(a, els, pos, L, seed):
    """packmol's packing of a.n molecules into the box (its best one, with a note, when it stops
    short of the tolerance): the atoms' positions."""
    with tempfile.TemporaryDirectory() as tmp:
        mol = os.path.join(tmp, "mol.xyz")
        with open(mol, "w") as f:
            f.write(f"{len(els)}\nmolecule\n")
            for e, p in zip(els, pos):
                f.write(f"{e} {p[0]:.6f} {p[1]:.6f} {p[2]:.6f}\n")
        out = os.path.join(tmp, "box.xyz")
        inp = (f"tolerance {a.tolerance}\nfiletype xyz\noutput {out}\nseed {seed}\n"
               f"structure {mol}\n  number {a.n}\n"
               f"  inside box 1.0 1.0 1.0 {L - 1:.6f} {L - 1:.6f} {L - 1:.6f}\nend structure\n")
        with open(os.path.join(tmp, "pack.inp"), "w") as f:
            f.write(inp)
        try:  # packmol reads its input from stdin, which must be a file (it seeks)
            with open(os.path.join(tmp, "pack.inp")) as stdin:
                p = subprocess.run(["packmol"], stdin=stdin, capture_output=True, text=True)
        except FileNotFoundError:
            die("packmol not found (apt-get install packmol)")
        log = p.stdout + p.stderr
        box = None
        for cand in (out, out + "_FORCED"):
            try:
                lines = open(cand).read().splitlines()
            except OSError:
                continue
            if lines and lines[0].strip() == str(a.n * len(els)):
                box = lines
                break
        if box is None:
            print("\n".join(log.splitlines()[-20:]), file=sys.stderr)
            die(f"packmol (exit status {p.returncode}) wrote no packing of {a.n * len(els)} atoms")
        if "WITHOUT PERFECT PACKING" in log or p.returncode != 0:
            print(f"validate_data.py: packmol did not reach its tolerance (exit status "
                  f"{p.returncode}, seed {seed}); using its best packing", file=sys.stderr)
    return [tuple(float(v) for v in ln.split()[1:4]) for ln in box[2:2 + a.n * len(els)]]


def rdf_pairs(elements):
    """compute rdf's type pairs of every pair of distinct elements, and their labels."""
    uniq = []
    for e in elements:
        if e not in uniq:
            uniq.append(e)
    spec = {}
    for e in uniq:
        ts = [k + 1 for k, x in enumerate(elements) if x == e]
        if ts != list(range(ts[0], ts[-1] + 1)):
            die(f"the types of element {e} ({ts}) are not contiguous: give rdf_pairs by hand")
        spec[e] = str(ts[0]) if len(ts) == 1 else f"{ts[0]}*{ts[-1]}"
    pairs, labels = [], []
    for i, a in enumerate(uniq):
        for b in uniq[i:]:
            pairs += [spec[a], spec[b]]
            labels.append(f"{a}-{b}")
    return pairs, labels


def data_box(path):
    lo_hi = {}
    for ln in open(path):
        w = ln.split()
        if len(w) >= 4 and w[2][1:] == "lo" and w[3][1:] == "hi":
            lo_hi[w[2][0]] = float(w[1]) - float(w[0])
        if w and w[0] == "Atoms":
            break
    if len(lo_hi) != 3:
        die(f"{path}: no xlo xhi / ylo yhi / zlo zhi lines")
    return min(lo_hi.values())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gas-data")
    g.add_argument("xyz")
    g.add_argument("out")
    g.add_argument("--elements", default="C H")
    g.add_argument("--box", type=float, default=40.0)
    p = sub.add_parser("pack")
    p.add_argument("xyz")
    p.add_argument("n", type=int)
    p.add_argument("out")
    p.add_argument("--density", required=True,
                   help="g/cm^3, or a compound of validate_liquid.py's yardstick table")
    p.add_argument("--elements", default="C H")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--tolerance", type=float, default=2.0)
    r = sub.add_parser("rdf-pairs")
    r.add_argument("--elements", default="C H")
    r.add_argument("--labels", action="store_true", help="print the pairs' labels instead")
    f = sub.add_parser("formula")
    f.add_argument("xyz")
    f.add_argument("--name", action="store_true",
                   help="the compound's name in the yardstick table (else the formula, lower case)")
    b = sub.add_parser("box")
    b.add_argument("data")
    c = sub.add_parser("closest")
    c.add_argument("xyz")
    c.add_argument("--size", type=int, required=True, help="atoms per molecule")
    c.add_argument("--box", type=float, required=True, help="side of the cubic box, Å")
    a = ap.parse_args()
    if a.cmd == "gas-data":
        cmd_gas_data(a)
    elif a.cmd == "pack":
        cmd_pack(a)
    elif a.cmd == "rdf-pairs":
        pairs, labels = rdf_pairs(element_list(a.elements))
        print(" ".join(labels if a.labels else pairs))
    elif a.cmd == "formula":
        f = hill_formula(read_xyz(a.xyz)[0])
        if a.name:
            sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
            from validate_liquid import find_experiment
            f = (find_experiment(f) or {}).get("name", f.lower())
        print(f)
    elif a.cmd == "box":
        print(f"{data_box(a.data):.6f}")
    elif a.cmd == "closest":
        print(f"{closest_between_molecules(read_xyz(a.xyz)[1], a.size, a.box):.3f}")


if __name__ == "__main__":
    main()
