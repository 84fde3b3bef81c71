#!/usr/bin/env python3
"""md_benzene.py — molecular dynamics of one benzene molecule in ASE with an mlff model.

Langevin dynamics at 300 K (0.5 fs steps, friction 0.01/fs), then velocity-Verlet NVE from the
state it reached, printing energies every 100 steps and the total-energy spread of the NVE
part. One molecule, open boundaries. Runs in seconds on one core.

    python3 examples/python/md_benzene.py                      # from anywhere
    python3 examples/python/md_benzene.py --device gpu --steps 4000
"""
import argparse
import os
import time

import numpy as np
from ase import units
from ase.io import read
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary, ZeroRotation
from ase.md.verlet import VelocityVerlet

import mlff

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--model", default=os.path.join(REPO, "models", "benzene-gfn2.h5"))
ap.add_argument("--device", default="cpu", choices=["cpu", "gpu", "auto"])
ap.add_argument("--temp", type=float, default=300.0, help="K")
ap.add_argument("--steps", type=int, default=1000, help="steps of each part (0.5 fs)")
ap.add_argument("--seed", type=int, default=42)
args = ap.parse_args()

atoms = read(os.path.join(REPO, "models", "benzene.xyz"))
atoms.calc = mlff.Calculator(args.model, device=args.device)
print("model %s on the %s" % (atoms.calc.model, atoms.calc.device))

MaxwellBoltzmannDistribution(atoms, temperature_K=args.temp, rng=np.random.RandomState(args.seed))
Stationary(atoms)      # no drift of the centre of mass
ZeroRotation(atoms)    # nor rotation


def report(dyn, t0):
    epot, ekin = atoms.get_potential_energy(), atoms.get_kinetic_energy()
    temp = 2 * ekin / (3 * len(atoms) - 6) / units.kB  # an isolated molecule: 3N - 6
    print("%8.3f ps  Epot %12.5f  Ekin %8.5f  Etot %12.5f eV  T %6.1f K  (%.2f ms/step)"
          % (dyn.get_time() / (1000 * units.fs), epot, ekin, epot + ekin, temp,
             1e3 * (time.perf_counter() - t0[0]) / max(dyn.nsteps, 1)))


dt = 0.5 * units.fs
print("-- Langevin at %g K, %d steps" % (args.temp, args.steps))
lang = Langevin(atoms, dt, temperature_K=args.temp, friction=0.01 / units.fs,
                rng=np.random.RandomState(args.seed))
t0 = [time.perf_counter()]
lang.attach(report, interval=100, dyn=lang, t0=t0)
lang.run(args.steps)

print("-- NVE (velocity Verlet), %d steps" % args.steps)
Stationary(atoms)
ZeroRotation(atoms)
nve = VelocityVerlet(atoms, dt)
etot = []
nve.attach(lambda: etot.append(atoms.get_potential_energy() + atoms.get_kinetic_energy()), interval=1)
t0 = [time.perf_counter()]
nve.attach(report, interval=100, dyn=nve, t0=t0)
nve.run(args.steps)
etot = np.array(etot)
print("NVE: total energy spread %.2e eV, first to last %+.2e eV over %d steps"
      % (etot.max() - etot.min(), etot[-1] - etot[0], args.steps))
