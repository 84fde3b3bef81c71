#!/usr/bin/env python3
"""Reference descriptors from TorchANI's AEVComputer.like_1x() (elements H, C, N, O), in
float64, for each .xyz given; writes <name>.torchani.txt beside OUT. Run on a machine with
torch + torchani (the device); the output is committed and read by compare_features.py."""
import re
import sys

import numpy as np
import torch
from torchani.aev import AEVComputer

SPECIES = {"H": 0, "C": 1, "N": 2, "O": 3}


def read_xyz(path):
    lines = open(path).read().splitlines()
    n = int(lines[0])
    m = re.search(r'Lattice="([^"]+)"', lines[1])
    cell = np.array(m.group(1).split(), float).reshape(3, 3) if m else None
    rows = [l.split() for l in lines[2:2 + n]]
    return [r[0] for r in rows], np.array([[float(v) for v in r[1:4]] for r in rows]), cell


out = sys.argv[1]
aev = AEVComputer.like_1x(num_species=4).double()
for path in sys.argv[2:]:
    sym, pos, cell = read_xyz(path)
    species = torch.tensor([[SPECIES[s] for s in sym]])
    coords = torch.tensor(pos[None], dtype=torch.float64)
    if cell is None:
        res = aev(species, coords)
    else:
        res = aev(species, coords, cell=torch.tensor(cell, dtype=torch.float64),
                  pbc=torch.tensor([True, True, True]))
    a = res[1] if isinstance(res, tuple) else getattr(res, "aevs", res)
    name = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    np.savetxt(f"{out}/{name}.torchani.txt", a[0].numpy(),
               header=f"TorchANI AEVComputer.like_1x() float64, elements H C N O: {path}")
    print(name, tuple(a.shape))
