#!/usr/bin/python3
"""Test of bench/peers.py's force-error path (label lammps): the AIREBO and ReaxFF energies and
forces it reads back from LAMMPS, on three tiny structures (two distorted benzenes and a dimer)
written to a dataset file in docs/file_format.md's layout.

usage: test_peers.py REPO LMP LAMMPS_LIBDIR POTENTIALS_DIR CHO_EXAMPLE_DIR WORKDIR

Checks, each of which fails the test:
 1. read_dataset gives back the structures written with h5py (atom order, tags);
 2. the QEq parameters re-indexed for C, H match the force field, and a wrong element map of
    the example is refused;
 3. per potential, peers.evaluate's energies and forces equal those of an independent LAMMPS
    run written here (own data files, own input; ReaxFF in its native units real, converted
    here with 1 kcal/mol = 0.0433641 eV), so a missing or wrong real -> metal conversion or a
    permutation of atoms fails;
 4. the forces are minus the central finite difference (h = 1e-3 Å) of the independent run's
    energy for a few atoms and directions of every structure;
 5. error_stats' MAE/RMSE per tag equal a plain loop over the components.
Exit 77 (skipped) when the ReaxFF CHO example (param.qeq) is not there.
"""
import math
import os
import re
import subprocess
import sys

import numpy as np

KCAL = 0.0433641  # eV per kcal/mol, the figure the conversion must reproduce
H_FD = 1e-3


def fail(msg):
    print("FAILED:", msg)
    sys.exit(1)


def structures():
    rng = np.random.RandomState(7)
    R0 = np.loadtxt(os.path.join(REPO, "models", "benzene.xyz"), skiprows=2, usecols=(1, 2, 3))
    Z0 = np.array([6] * 6 + [1] * 6)
    a = R0 + rng.normal(scale=0.04, size=R0.shape)
    b = R0 + rng.normal(scale=0.08, size=R0.shape)
    c, s = math.cos(0.7), math.sin(0.7)
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    d = np.vstack([R0 + rng.normal(scale=0.03, size=R0.shape),
                   R0 @ rot.T + [0.6, -0.3, 3.7] + rng.normal(scale=0.03, size=R0.shape)])
    return [(Z0, a, "md300"), (Z0, b, "md600"), (np.concatenate([Z0, Z0]), d, "dimer")]


def write_h5(path, structs, rng):
    import h5py
    z = np.concatenate([s[0] for s in structs])
    r = np.concatenate([s[1] for s in structs])
    splits = np.concatenate([[0], np.cumsum([len(s[0]) for s in structs])])  # N+1, the pipeline's
    forces = rng.normal(scale=0.5, size=r.shape)
    energy = rng.normal(scale=1.0, size=len(structs)) - 400
    with h5py.File(path, "w") as f:
        f["structures/atomic_numbers"] = z.astype(np.int64)
        f["structures/positions"] = r
        f["structures/cells"] = np.zeros((len(structs), 3, 3))
        f["structures/pbc"] = np.zeros((len(structs), 3), bool)
        f["structures/atomic_numbers_splits"] = splits.astype(np.int64)
        f["labels/energy"] = energy
        f["labels/forces"] = forces
        f["labels/forces_splits"] = splits.astype(np.int64)
        f["labels/source"] = np.array([s[2] for s in structs], dtype=h5py.string_dtype())
        f["labels"].attrs["units"] = "eV, Angstrom"
        f["labels"].attrs["teacher"] = "test labels (random)"
    return energy, forces


def own_data(path, Z, R, charge):
    """Written independently of peers.write_data: a cubic box, 15 Å around the centre."""
    c = R.mean(0)
    with open(path, "w") as f:
        f.write(f"test\n\n{len(Z)} atoms\n2 atom types\n\n")
        for k, ax in enumerate("xyz"):
            f.write(f"{c[k] - 15} {c[k] + 15} {ax}lo {ax}hi\n")
        f.write("\nMasses\n\n1 12.011\n2 1.008\n\nAtoms\n\n")
        for i in range(len(Z)):
            t = 1 if Z[i] == 6 else 2
            q = "0 " if charge else ""
            f.write(f"{i + 1} {t} {q}{R[i, 0]!r} {R[i, 1]!r} {R[i, 2]!r}\n")


def independent(pot, structs, work, qeq):
    """Energies and forces in the potential's native units, and the finite-difference energies,
    from one LAMMPS input written here."""
    if pot == "airebo":
        head = ["units metal", "atom_style atomic"]
        tail = ["pair_style airebo 3.0 1 1", f"pair_coeff * * {POT}/CH.airebo C H"]
    else:
        head = ["units real", "atom_style charge"]
        tail = ["pair_style reaxff NULL", f"pair_coeff * * {POT}/ffield.reax.cho C H",
                f"fix q all qeq/reaxff 1 0.0 10.0 1e-10 {qeq}"]
    lines, probes = [], []
    for i, (Z, R, _) in enumerate(structs):
        data = os.path.join(work, f"own{i}.data")
        own_data(data, Z, R, pot == "reaxff")
        lines += ["clear", *head, "boundary f f f", f"read_data {data}", *tail,
                  "variable e equal pe", "run 0", f'print "E0 {i} ${{e}}"',
                  f"dump d all custom 1 {work}/own{i}.dump id fx fy fz",
                  "dump_modify d format float %.15g sort id", "run 0", "undump d"]
        for atom in (0, len(Z) // 2 + 1, len(Z) - 1):
            for k, ax in enumerate("xyz"):
                for sgn in (1, -1):
                    lines += [f"set atom {atom + 1} {ax} {R[atom, k] + sgn * H_FD!r}", "run 0",
                              f'print "FD {i} {atom} {k} {sgn} ${{e}}"']
                lines.append(f"set atom {atom + 1} {ax} {R[atom, k]!r}")
                probes.append((i, atom, k))
    inp = os.path.join(work, f"in.own.{pot}")
    open(inp, "w").write("\n".join(lines) + "\n")
    log = os.path.join(work, f"log.own.{pot}")
    p = subprocess.run([LMP, "-in", inp, "-log", log, "-screen", "none", "-nocite"], cwd=work,
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        fail(f"independent {pot} run failed: {p.stdout[-2000:]} {p.stderr[-2000:]}")
    text = open(log).read()
    e0 = {int(m[1]): float(m[2]) for m in re.finditer(r"^E0 (\d+) (\S+)$", text, re.M)}
    fd = {}
    for m in re.finditer(r"^FD (\d+) (\d+) (\d+) (-?1) (\S+)$", text, re.M):
        fd[(int(m[1]), int(m[2]), int(m[3]), int(m[4]))] = float(m[5])
    forces = [np.loadtxt(os.path.join(work, f"own{i}.dump"), skiprows=9)[:, 1:4]
              for i in range(len(structs))]
    return e0, forces, fd, probes


def main():
    global REPO, LMP, POT
    REPO, LMP, libdir, POT, cho, work = sys.argv[1:7]
    os.environ["LD_LIBRARY_PATH"] = libdir + ":" + os.environ.get("LD_LIBRARY_PATH", "")
    os.environ["OMP_NUM_THREADS"] = "1"
    if not os.path.isfile(os.path.join(cho, "param.qeq")):
        print(f"SKIPPED: no param.qeq in {cho}")
        sys.exit(77)
    os.makedirs(work, exist_ok=True)
    sys.path.insert(0, os.path.join(REPO, "bench"))
    import peers

    # 1. the dataset round trip
    structs = structures()
    rng = np.random.RandomState(3)
    h5 = os.path.join(work, "tiny.h5")
    labels_e, labels_f = write_h5(h5, structs, rng)
    got, attrs = peers.read_dataset(h5)
    if len(got) != 3 or [g["source"] for g in got] != ["md300", "md600", "dimer"]:
        fail(f"read_dataset: {len(got)} structures, tags {[g['source'] for g in got]}")
    for g, (Z, R, _) in zip(got, structs):
        if not (np.array_equal(g["Z"], Z) and np.allclose(g["R"], R, atol=0, rtol=0) and not g["periodic"]):
            fail("read_dataset: atoms or positions differ from what was written")
    if not np.allclose(np.concatenate([g["F"] for g in got]), labels_f, rtol=0, atol=0):
        fail("read_dataset: forces differ")

    # 2. QEq parameters for C, H; a wrong map of the example's types must be refused
    ffield = os.path.join(POT, "ffield.reax.cho")
    qeq = peers.qeq_params_for(os.path.join(cho, "param.qeq"), os.path.join(cho, "in.CHO"),
                               ffield, os.path.join(work, "param.qeq.CH"))
    ff = peers.reaxff_atom_params(ffield)
    rows = [l.split() for l in open(qeq) if l.strip()]
    for t, el in ((1, "C"), (2, "H")):
        row = [r for r in rows if r[0] == str(t)]
        if len(row) != 1 or abs(float(row[0][1]) - ff[el]["chi"]) > 1e-9:
            fail(f"param.qeq.CH type {t} is not {el}: {rows}")
    wrong = os.path.join(work, "in.wrong")
    open(wrong, "w").write("pair_coeff * * ffield.reax.cho C H O\n")
    try:
        peers.qeq_params_for(os.path.join(cho, "param.qeq"), wrong, ffield,
                             os.path.join(work, "param.qeq.wrong"))
        fail("qeq_params_for accepted an example whose types are mapped C H O")
    except SystemExit:
        pass

    # 3.-4. peers.evaluate against an independent run and its finite differences
    cfg = {"potdir": POT, "qeq": qeq, "plugin": None, "model": None}
    worst = {}
    for pot, conv in (("airebo", 1.0), ("reaxff", KCAL)):
        E, F = peers.evaluate(pot, got, cfg, os.path.join(work, f"peers-{pot}"), LMP)
        e0, f0, fd, probes = independent(pot, structs, work, qeq)
        for i in range(len(structs)):
            if abs(E[i] - e0[i] * conv) > 1e-5 * abs(e0[i] * conv):
                fail(f"{pot} structure {i}: peers energy {E[i]} eV, independent {e0[i]} native "
                     f"= {e0[i] * conv} eV")
            d = np.max(np.abs(F[i] - f0[i] * conv))
            # ReaxFF: peers converges QEq to 1e-6, the independent run to 1e-10
            if d > 2e-4 + 1e-4 * np.max(np.abs(f0[i] * conv)):
                fail(f"{pot} structure {i}: peers forces differ from the independent run's by "
                     f"{d} eV/Å (largest force {np.max(np.abs(f0[i] * conv))} eV/Å)")
        errs = []
        for (i, atom, k) in probes:
            f_fd = -(fd[(i, atom, k, 1)] - fd[(i, atom, k, -1)]) / (2 * H_FD) * conv
            f = F[i][atom, k]
            errs.append(abs(f_fd - f))
            if abs(f_fd - f) > 5e-3 + 5e-3 * abs(f):
                fail(f"{pot} structure {i} atom {atom} {'xyz'[k]}: peers force {f} eV/Å, "
                     f"finite difference {f_fd} eV/Å")
        worst[pot] = max(errs)
        print(f"{pot}: {len(probes)} finite-difference components, largest |F - F_fd| "
              f"{max(errs):.2e} eV/Å; energies and forces match the independent run")

        # 5. the statistics
        st = peers.error_stats(got, E, F)
        for tag in ("all", "md300", "md600", "dimer"):
            idx = [i for i, g in enumerate(got) if tag == "all" or g["source"] == tag]
            ab, sq, n = 0.0, 0.0, 0
            for i in idx:
                for a in range(len(got[i]["Z"])):
                    for k in range(3):
                        e = F[i][a][k] - got[i]["F"][a][k]
                        ab, sq, n = ab + abs(e), sq + e * e, n + 1
            want = (round(1000 * ab / n, 3), round(1000 * math.sqrt(sq / n), 3))
            have = (st[tag]["force_mae_meV_per_A"], st[tag]["force_rmse_meV_per_A"])
            if any(abs(x - y) > 2e-3 for x, y in zip(want, have)):
                fail(f"{pot} error_stats[{tag}] = {have}, a plain loop gives {want}")
            if tag != "all" and st[tag]["energy_mae_meV_per_atom_offset_removed"] > 1e-6:
                fail(f"{pot} error_stats[{tag}]: one structure per tag, offset-removed energy "
                     f"error must be 0, got {st[tag]['energy_mae_meV_per_atom_offset_removed']}")
    print("PASSED")


if __name__ == "__main__":
    main()
