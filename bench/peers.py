#!/usr/bin/python3
"""peers.py — classical peers of the student in LAMMPS (issue 6, part 3; docs/validation.md): AIREBO and
ReaxFF/QEq from the same LAMMPS build, next to pair_style mlff, timed on the same liquid benzene
box and compared with the teacher's (GFN2-xTB) forces on held-out structures.

usage: peers.py run --lmp LMP --potentials DIR --qeq PARAM.QEQ --plugin SO --model MODEL.h5
                    --dataset DATA.h5 --box NAME=FILE.data [--box ...] --work DIR --out OUT.json
                    [--machine NAME] [--steps 50] [--warmup 10] [--repeats 3]
                    [--potential airebo,reaxff,mlff] [--mlff-eval EVAL.json]

Timing: per potential and box, a warm-up run, then a timed NVE run from the same packed box with
the same velocities (300 K, same seed), 0.5 fs, 1 MPI rank, 1 OpenMP thread; the figure is
LAMMPS's "Loop time" of the timed run, median over the repeats (repeats interleaved across the
potentials, so a busy neighbour on the machine hits each of them alike). LAMMPS's "% CPU use"
and the last temperature of each run are kept, as is every loop time.

Force errors: every non-periodic structure of the dataset is evaluated with `run 0` in one
LAMMPS process per potential (`clear`, `read_data`, `run 0`, `write_dump` per structure;
boundary f f f, a box 10 Å wider than the structure on each side). ReaxFF runs in units real
and its energies and forces are converted here to eV and eV/Å (LAMMPS's own real->metal factor,
1 kcal/mol = 1/23.060549 eV). Errors are potential minus teacher, component-wise over all atoms
(every x, y, z is one sample), in meV/Å, like `mlff eval`. Energies of classical potentials have
another zero: energy errors are reported after removing the mean offset per source tag
(the offset itself is reported), in meV/atom; for mlff the raw energy error is reported too.

The module's functions (read_dataset, evaluate, qeq_params_for, ...) are used by the test in
tests/peers/.
"""
import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
from collections import OrderedDict
from datetime import datetime, timezone

import numpy as np

from bench import parse_timed as bench_parse_timed, sha256  # bench/bench.py, beside this file

# LAMMPS's conversion factor real -> metal (src/utils.cpp, get_conversion_factor: 1/23.060549).
KCAL_PER_MOL_IN_EV = 1.0 / 23.060549
TYPES = {6: (1, "C", 12.011), 1: (2, "H", 1.008)}  # atomic number -> LAMMPS type, symbol, mass
PAD = 10.0  # Å of empty space around a non-periodic structure (boundary f f f)


def potential_setup(name, potdir=None, qeq=None, plugin=None, model=None):
    """The LAMMPS lines of one potential for atom types 1 = C, 2 = H: units, atom style and the
    commands after read_data. ReaxFF runs in units real; the others in metal."""
    if name == "airebo":
        return {"units": "metal", "atom_style": "atomic", "dt": 0.0005, "energy_to_eV": 1.0,
                "lines": ["pair_style airebo 3.0 1 1",
                          f"pair_coeff * * {potdir}/CH.airebo C H"]}
    if name == "reaxff":
        return {"units": "real", "atom_style": "charge", "dt": 0.5,
                "energy_to_eV": KCAL_PER_MOL_IN_EV,
                "lines": ["pair_style reaxff NULL",
                          f"pair_coeff * * {potdir}/ffield.reax.cho C H",
                          f"fix peers_qeq all qeq/reaxff 1 0.0 10.0 1e-6 {qeq}"]}
    if name == "mlff":
        return {"units": "metal", "atom_style": "atomic", "dt": 0.0005, "energy_to_eV": 1.0,
                "lines": [f"plugin load {plugin}", f"pair_style mlff {model} device cpu",
                          "pair_coeff * * C H"]}
    raise ValueError(f"unknown potential {name!r}")


def qeq_params_for(param_qeq, example_input, ffield, out, elements=("C", "H")):
    """Write OUT: the QEq parameters of examples/reaxff/CHO/param.qeq (indexed by that example's
    atom types) re-indexed for our types (1 = C, 2 = H). The example's type -> element map comes
    from the pair_coeff line of its input; every row is checked against the chi, eta (=2 etaEEM)
    and gamma of the element in the force field file, so a wrong map cannot pass."""
    types = None
    for line in open(example_input):
        w = line.split()
        if len(w) > 4 and w[0] == "pair_coeff" and w[1] == "*" and w[2] == "*":
            types = w[4:]
    if not types:
        raise SystemExit(f"peers.py: no 'pair_coeff * * FFIELD ELEMENTS' line in {example_input}")
    rows = {}
    for line in open(param_qeq):
        w = line.split("#", 1)[0].split()
        if len(w) == 4:
            rows[types[int(w[0]) - 1]] = [float(x) for x in w[1:]]
    ff = reaxff_atom_params(ffield)
    with open(out, "w") as f:
        for t, el in enumerate(elements, 1):
            if el not in rows:
                raise SystemExit(f"peers.py: {param_qeq} has no row for {el} (types {types})")
            chi, eta, gamma = rows[el]
            want = ff[el]
            if (abs(chi - want["chi"]) > 1e-4 or abs(eta - 2 * want["eta"]) > 1e-3
                    or abs(gamma - want["gamma"]) > 1e-4):
                raise SystemExit(f"peers.py: {param_qeq} row for {el} ({chi} {eta} {gamma}) does not "
                                 f"match {ffield} (chi {want['chi']}, 2 eta {2 * want['eta']}, "
                                 f"gamma {want['gamma']})")
            f.write(f"{t} {chi} {eta} {gamma}\n")
    return out


def reaxff_atom_params(ffield):
    """chiEEM, etaEEM and gamma of each element of a ReaxFF force field file."""
    lines = open(ffield).read().splitlines()
    ngen = int(lines[1].split()[0])
    i = 2 + ngen
    nat = int(lines[i].split()[0])
    i += 4
    out = {}
    for _ in range(nat):
        a = lines[i].split()
        b = lines[i + 1].split()
        out[a[0]] = {"gamma": float(a[6]), "chi": float(b[5]), "eta": float(b[6])}
        i += 4
    return out


def read_dataset(path):
    """Structures of a dataset file (docs/file_format.md, the ragged layout): list of dicts with Z, R (Å),
    F (eV/Å), E (eV), source, periodic."""
    import h5py
    with h5py.File(path, "r") as f:
        z = f["structures/atomic_numbers"][:]
        r = f["structures/positions"][:]
        splits = f["structures/atomic_numbers_splits"][:]
        fs = f["labels/forces"][:]
        if not np.array_equal(f["labels/forces_splits"][:], splits):
            raise SystemExit(f"peers.py: {path}: forces_splits differ from atomic_numbers_splits")
        e = f["labels/energy"][:]
        n = len(e)
        pbc = f["structures/pbc"][:] if "structures/pbc" in f else np.zeros((n, 3), bool)
        cells = f["structures/cells"][:].reshape(n, 9) if "structures/cells" in f else np.zeros((n, 9))
        src = ([s.decode() if isinstance(s, bytes) else str(s) for s in f["labels/source"][:]]
               if "labels/source" in f else [""] * n)
        attrs = {k: (v.decode() if isinstance(v, bytes) else str(v))
                 for k, v in f["labels"].attrs.items()}
    # N+1 cumulative offsets from 0 (the pipeline's form, written by mlff since issue 22) or the
    # N-1 interior numpy.split offsets (mlff <= 0.1): told apart by length.
    if len(splits) == n + 1 and n >= 0 and splits[0] == 0 and splits[-1] == len(z):
        bounds = splits.astype(int)
    elif len(splits) == max(n - 1, 0):
        bounds = np.concatenate([[0], splits, [len(z)]]).astype(int)
    else:
        raise SystemExit(f"peers.py: {path}: atomic_numbers_splits has {len(splits)} rows; "
                         f"expected N+1 = {n + 1} offsets from 0 to {len(z)} or "
                         f"N-1 = {max(n - 1, 0)}")
    out = []
    for i in range(n):
        a, b = bounds[i], bounds[i + 1]
        out.append({"Z": z[a:b].astype(int), "R": r[a:b].astype(float), "F": fs[a:b].astype(float),
                    "E": float(e[i]), "source": src[i] or "untagged",
                    "periodic": bool(np.any(pbc[i])) and bool(np.any(cells[i]))})
    return out, attrs


def write_data(path, Z, R, atom_style, box=None):
    """A LAMMPS data file, types 1 = C, 2 = H; box: (lo[3], hi[3]), default the structure's
    extent widened by PAD on every side."""
    Z = np.asarray(Z)
    R = np.asarray(R, float)
    bad = sorted(set(int(z) for z in Z) - set(TYPES))
    if bad:
        raise SystemExit(f"peers.py: elements {bad} not in C/H: the classical peers are C/H only")
    lo, hi = (R.min(0) - PAD, R.max(0) + PAD) if box is None else box
    with open(path, "w") as f:
        f.write(f"peers.py structure\n\n{len(Z)} atoms\n2 atom types\n\n")
        for d, ax in enumerate("xyz"):
            f.write(f"{lo[d]:.10f} {hi[d]:.10f} {ax}lo {ax}hi\n")
        f.write("\nMasses\n\n1 12.011\n2 1.008\n\n")
        f.write(f"Atoms # {atom_style}\n\n")
        for i, (z, r) in enumerate(zip(Z, R), 1):
            q = " 0.0" if atom_style == "charge" else ""
            f.write(f"{i} {TYPES[int(z)][0]}{q} {r[0]:.12f} {r[1]:.12f} {r[2]:.12f}\n")


def atomic_to_charge(src, dst):
    """Convert a data file of atom_style atomic (bench/make_liquid.sh) to atom_style charge (q = 0)."""
    out, in_atoms = [], False
    for line in open(src):
        w = line.split()
        if w and w[0] == "Atoms":
            out.append("Atoms # charge\n")
            in_atoms = True
            continue
        if in_atoms and len(w) == 5:
            out.append(f"{w[0]} {w[1]} 0.0 {w[2]} {w[3]} {w[4]}\n")
            continue
        if in_atoms and w and not w[0].lstrip("-").isdigit():
            in_atoms = False
        out.append(line)
    open(dst, "w").writelines(out)


def lmp_env():
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = "1"
    return env


def run_lmp(lmp, inp, log, cwd):
    p = subprocess.run([lmp, "-nocite", "-screen", "none", "-log", log, "-in", inp], cwd=cwd,
                       env=lmp_env(), capture_output=True, text=True)
    if p.returncode != 0:
        tail = open(log).read()[-3000:] if os.path.exists(log) else ""
        err = [l for l in (tail + p.stdout + p.stderr).splitlines() if "ERROR" in l]
        raise RuntimeError(f"{lmp} -in {inp} exited {p.returncode}: "
                           f"{err[-1] if err else (p.stderr or tail)[-500:]}")
    return open(log).read()


def evaluate(name, structures, cfg, work, lmp):
    """Energies (eV) and forces (eV/Å, in the structures' atom order) of the structures with one
    potential: one LAMMPS process, a clear/read_data/run 0/write_dump block per structure."""
    os.makedirs(work, exist_ok=True)
    pot = potential_setup(name, **cfg)
    blocks = []
    for i, s in enumerate(structures):
        data = os.path.join(work, f"s{i}.{pot['atom_style']}.data")
        write_data(data, s["Z"], s["R"], pot["atom_style"])
        blocks += ["clear", f"units {pot['units']}", f"atom_style {pot['atom_style']}",
                   "boundary f f f", f"read_data {data}", *pot["lines"],
                   "thermo_style custom step pe", "run 0",
                   f'print "PEERS_E {i} $(pe:%.15g)"',
                   f"write_dump all custom {work}/f{i}.dump id fx fy fz "
                   "modify format float %.15g sort id"]
    inp = os.path.join(work, "in.forces")
    open(inp, "w").write("\n".join(blocks) + "\n")
    text = run_lmp(lmp, inp, os.path.join(work, "log.forces"), work)
    energies = {int(m[1]): float(m[2]) for m in re.finditer(r"^PEERS_E (\d+) (\S+)$", text, re.M)}
    E, F = [], []
    for i, s in enumerate(structures):
        rows = np.loadtxt(os.path.join(work, f"f{i}.dump"), skiprows=9, ndmin=2)
        if rows.shape[0] != len(s["Z"]) or not np.array_equal(rows[:, 0], np.arange(1, len(s["Z"]) + 1)):
            raise RuntimeError(f"{name}: structure {i}: dump rows are not atoms 1..{len(s['Z'])} in order")
        if i not in energies:
            raise RuntimeError(f"{name}: structure {i}: no energy printed")
        E.append(energies[i] * pot["energy_to_eV"])
        F.append(rows[:, 1:4] * pot["energy_to_eV"])  # kcal/mol/Å -> eV/Å for ReaxFF
    return np.array(E), F


def error_stats(structures, E, F, raw_energy=False):
    """Force MAE/RMSE (meV/Å, component-wise) and energy errors per source tag and overall:
    energies in meV/atom after removing the mean error per tag (the offset is reported, eV per
    structure); with raw_energy also without removing it (a meaningful zero: mlff only)."""
    tags = sorted(set(s["source"] for s in structures))
    out = OrderedDict()
    resid_all = []
    for tag in ["all"] + tags:
        idx = [i for i, s in enumerate(structures) if tag == "all" or s["source"] == tag]
        dF = np.concatenate([(F[i] - structures[i]["F"]).ravel() for i in idx])
        nat = np.array([len(structures[i]["Z"]) for i in idx], float)
        dE = np.array([E[i] - structures[i]["E"] for i in idx])
        g = OrderedDict(structures=len(idx), atoms=int(nat.sum()),
                        force_mae_meV_per_A=round(1000 * float(np.mean(np.abs(dF))), 3),
                        force_rmse_meV_per_A=round(1000 * float(np.sqrt(np.mean(dF ** 2))), 3),
                        force_max_meV_per_A=round(1000 * float(np.max(np.abs(dF))), 3))
        if tag != "all":
            off = float(np.mean(dE))
            resid = (dE - off) / nat
            resid_all.append(resid)
            g["energy_offset_eV"] = round(off, 6)
            g["energy_mae_meV_per_atom_offset_removed"] = round(1000 * float(np.mean(np.abs(resid))), 3)
            if raw_energy:
                g["energy_mae_meV_per_atom_raw"] = round(1000 * float(np.mean(np.abs(dE / nat))), 3)
        out[tag] = g
    resid = np.concatenate(resid_all)
    out["all"]["energy_mae_meV_per_atom_offset_removed"] = round(1000 * float(np.mean(np.abs(resid))), 3)
    if raw_energy:
        dEa = np.array([(E[i] - s["E"]) / len(s["Z"]) for i, s in enumerate(structures)])
        out["all"]["energy_mae_meV_per_atom_raw"] = round(1000 * float(np.mean(np.abs(dEa))), 3)
    return out


def time_inputs(name, data, cfg, steps, warmup):
    pot = potential_setup(name, **cfg)
    return "\n".join([
        f"units {pot['units']}", f"atom_style {pot['atom_style']}", "boundary p p p",
        f"read_data {data}", *pot["lines"],
        "neighbor 1.0 bin", "neigh_modify every 10 delay 0 check yes", f"timestep {pot['dt']}",
        "velocity all create 300.0 4928459 mom yes rot yes dist gaussian", "fix 1 all nve",
        "thermo 10", f"run {warmup}", 'print "MLFF_BENCH_BEGIN"', f"run {steps}"]) + "\n"


def parse_timed(text):
    """The timed run of a log (bench.parse_timed), in this file's names; raises on failure."""
    r, why = bench_parse_timed(text)
    if r is None:
        raise RuntimeError(why)
    return {"loop_time_s": r["t"], "steps": r["steps"], "atoms": r["atoms"],
            "cpu_use_pct": r["cpu_use_pct"], "temp_end_K": r["temp"]}


def lammps_version(lmp):
    p = subprocess.run([lmp, "-h"], capture_output=True, text=True, env=lmp_env())
    m = re.search(r"LAMMPS version:\s*(.+)|Large-scale Atomic/Molecular Massively Parallel "
                  r"Simulator - (.+)", p.stdout)
    return (m[1] or m[2]).strip() if m else p.stdout.splitlines()[0] if p.stdout else "unknown"


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cmd", choices=["run"])
    for a in ("--lmp", "--potentials", "--qeq", "--plugin", "--model", "--dataset", "--work", "--out"):
        ap.add_argument(a, required=True)
    ap.add_argument("--box", action="append", required=True, help="NAME=FILE.data (atom_style atomic)")
    ap.add_argument("--machine", default=platform.node())
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--potential", default="airebo,reaxff,mlff")
    ap.add_argument("--mlff-eval", help="JSON of `mlff eval` on the same dataset (cross-check)")
    a = ap.parse_args()
    names = a.potential.split(",")
    ab = os.path.abspath
    cfg = {"potdir": ab(a.potentials), "qeq": ab(a.qeq), "plugin": ab(a.plugin), "model": ab(a.model)}
    work = os.path.abspath(a.work)
    os.makedirs(work, exist_ok=True)
    res = OrderedDict((n, OrderedDict(pair=potential_setup(n, **cfg)["lines"],
                                      units=potential_setup(n, **cfg)["units"],
                                      timing=OrderedDict(), errors=None)) for n in names)

    # 1. timing
    boxes = OrderedDict(b.split("=", 1) for b in a.box)
    box_info = OrderedDict()
    for bname, data in boxes.items():
        charge = os.path.join(work, f"{bname}.charge.data")
        atomic_to_charge(data, charge)
        files = {"atomic": os.path.abspath(data), "charge": charge}
        for n in names:
            res[n]["timing"][bname] = OrderedDict(loop_time_s=[], cpu_use_pct=[], temp_end_K=[])
        for rep in range(1, a.repeats + 1):
            for n in names:
                pot = potential_setup(n, **cfg)
                inp = os.path.join(work, f"in.time.{n}.{bname}")
                open(inp, "w").write(time_inputs(n, files[pot["atom_style"]], cfg, a.steps, a.warmup))
                log = os.path.join(work, f"log.time.{n}.{bname}.{rep}")
                t = res[n]["timing"][bname]
                try:
                    r = parse_timed(run_lmp(a.lmp, inp, log, work))
                except RuntimeError as e:
                    t["failed"] = str(e)
                    print(f"[peers] {n} {bname} repeat {rep}: FAILED: {e}", file=sys.stderr)
                    continue
                t["loop_time_s"].append(r["loop_time_s"])
                t["cpu_use_pct"].append(r["cpu_use_pct"])
                t["temp_end_K"].append(r["temp_end_K"])
                t["atoms"], t["steps"] = r["atoms"], r["steps"]
                box_info[bname] = {"atoms": r["atoms"], "molecules": r["atoms"] // 12, "data": files["atomic"]}
                print(f"[peers] {n} {bname} repeat {rep}: loop {r['loop_time_s']:.3f} s, "
                      f"CPU use {r['cpu_use_pct']}%, T_end {r['temp_end_K']} K", file=sys.stderr)
        for n in names:
            t = res[n]["timing"][bname]
            if t["loop_time_s"]:
                med = statistics.median(t["loop_time_s"])
                t["us_per_atom_step"] = round(med / (t["atoms"] * t["steps"]) * 1e6, 3)
                t["atom_steps_per_s"] = round(t["atoms"] * t["steps"] / med, 1)

    # 2. force errors against the teacher
    structures, attrs = read_dataset(a.dataset)
    kept = [s for s in structures if not s["periodic"]]
    by_source = OrderedDict()
    for s in kept:
        by_source[s["source"]] = by_source.get(s["source"], 0) + 1
    for n in names:
        try:
            E, F = evaluate(n, kept, cfg, os.path.join(work, f"forces-{n}"), a.lmp)
            res[n]["errors"] = error_stats(kept, E, F, raw_energy=(n == "mlff"))
        except RuntimeError as e:
            res[n]["errors"] = {"failed": str(e)}
            print(f"[peers] {n} force evaluation FAILED: {e}", file=sys.stderr)
    if a.mlff_eval and "mlff" in res and os.path.exists(a.mlff_eval):
        ev = json.load(open(a.mlff_eval))
        keep = lambda g: {k: round(g[k], 3) for k in ("force_mae_meV_per_A", "force_rmse_meV_per_A",
                                                      "energy_mae_meV_per_atom")}
        res["mlff"]["errors_by_mlff_eval"] = OrderedDict(
            [("note", "`mlff eval` (core library, no LAMMPS) on the same dataset: a cross-check "
                      "of the plugin's figures above"), ("all", keep(ev["overall"]))] +
            [(t, keep(g)) for t, g in ev["by_source"].items()])

    out = OrderedDict(
        machine={"name": a.machine, "hostname": platform.node(), "cpu": cpu_model(),
                 "cores": os.cpu_count()},
        date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        lammps={"version": lammps_version(a.lmp), "binary": a.lmp},
        model={"path": os.path.abspath(a.model), "sha256": sha256(a.model)},
        dataset={"path": os.path.abspath(a.dataset), "sha256": sha256(a.dataset),
                 "teacher": attrs.get("teacher", ""), "sampling": attrs.get("sampling", ""),
                 "structures": len(kept),
                 "by_source": by_source, "skipped_periodic": len(structures) - len(kept)},
        timing_protocol={"threads": 1, "mpi_ranks": 1, "steps": a.steps, "warmup_steps": a.warmup,
                         "repeats": a.repeats, "timestep_fs": 0.5, "ensemble": "NVE from 300 K",
                         "boxes": box_info,
                         "note": "timed from the packed box as bench/make_liquid.sh writes it "
                                 "(not relaxed); temp_end_K, the temperature at the end of each "
                                 "timed run, shows how far each potential heats it",
                         "source": "LAMMPS 'Loop time' of the timed run, median over repeats; "
                                   "repeats interleaved across potentials"},
        error_protocol=("potential minus teacher on the dataset's non-periodic structures, run 0 "
                        "per structure (boundary f f f); forces component-wise, meV/A; energies "
                        "in meV/atom after removing the mean offset per source tag "
                        "(energy_offset_eV, per structure); raw energy errors only mean something "
                        "for mlff (classical potentials have another zero); ReaxFF converted from "
                        "real units with 1 kcal/mol = 1/23.060549 eV"),
        potentials=res)
    json.dump(out, open(a.out, "w"), indent=1)
    print_table(out)


def print_table(out):
    pots = out["potentials"]
    tags = []
    for p in pots.values():
        if p["errors"] and "all" in p["errors"]:
            tags = [t for t in p["errors"] if t != "all"]
            break
    boxes = list(out["timing_protocol"]["boxes"]) or [b for p in pots.values() for b in p["timing"]][:1]
    head = ["potential"] + [f"{b} us/atom-step" for b in boxes] + ["F MAE all", "F RMSE all"] + \
           [f"F MAE {t}" for t in tags] + ["E MAE* all"]
    rows = []
    for n, p in pots.items():
        row = [n]
        for b in boxes:
            t = p["timing"].get(b, {})
            row.append(f"{t['us_per_atom_step']:.2f}" if "us_per_atom_step" in t else "failed")
        e = p["errors"] or {}
        if "all" in e:
            row += [f"{e['all']['force_mae_meV_per_A']:.1f}", f"{e['all']['force_rmse_meV_per_A']:.1f}"]
            row += [f"{e[t]['force_mae_meV_per_A']:.1f}" for t in tags]
            row.append(f"{e['all']['energy_mae_meV_per_atom_offset_removed']:.2f}")
        else:
            row += ["failed"] * (3 + len(tags))
        rows.append(row)
    w = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    for r in [head] + rows:
        print("  ".join(c.rjust(w[i]) if i else c.ljust(w[i]) for i, c in enumerate(r)))
    print("forces in meV/Å against the teacher; E MAE*: meV/atom after removing the mean offset "
          "per source tag")


if __name__ == "__main__":
    main()
