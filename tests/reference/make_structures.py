#!/usr/bin/env python3
"""Write the structures on which our AEV is compared with TorchANI's (H, C, N, O; open and
periodic). Seeded: rerunning gives the same files."""
import numpy as np

rng = np.random.default_rng(2026)
SYM = ["H", "C", "N", "O"]


def random_atoms(n, box, dmin):
    x = []
    while len(x) < n:
        p = rng.uniform(0, box, 3)
        if all(np.linalg.norm(p - q) >= dmin for q in x):
            x.append(p)
    return np.array(x)


def write(path, species, pos, cell=None):
    with open(path, "w") as f:
        f.write(f"{len(species)}\n")
        if cell is None:
            f.write('Properties=species:S:1:pos:R:3 pbc="F F F"\n')
        else:
            f.write('Lattice="%s" Properties=species:S:1:pos:R:3 pbc="T T T"\n'
                    % " ".join("%.10f" % v for v in np.ravel(cell)))
        for s, p in zip(species, pos):
            f.write("%-2s %.10f %.10f %.10f\n" % (s, *p))


# 1. open cluster of all four elements, contacts from 0.9 Å
write("cluster_hcno.xyz", [SYM[i % 4] for i in range(14)], random_atoms(14, 4.5, 0.9))
# 2. benzene
ang = np.arange(6) * np.pi / 3
ring = np.c_[np.cos(ang), np.sin(ang), np.zeros(6)]
write("benzene.xyz", ["C"] * 6 + ["H"] * 6, np.r_[1.397 * ring, 2.481 * ring])
# 3. periodic triclinic box, cell smaller than twice the cutoff (images matter)
cell = np.array([[7.0, 0.0, 0.0], [0.8, 6.5, 0.0], [-0.5, 0.4, 7.2]])
frac = random_atoms(24, 1.0, 0.14)
write("periodic_hcno.xyz", [SYM[(3 * i) % 4] for i in range(24)], frac @ cell, cell)
