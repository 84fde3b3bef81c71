#!/usr/bin/python3
"""teacher_bulk.py — the teacher's own liquid, where its MD cannot go (issue 21): energies of small
periodic boxes of the liquid at several densities, by the teacher (GFN2-xTB, periodic, through
tblite: libxtb 6.5.1 has no periodic GFN2) and by a student (`mlff energy`), per molecule relative
to its molecules alone at their geometries in the box (the interaction energy per molecule). The configurations are the
student's own liquid at each density (LAMMPS NVT at 300 K, examples/lammps/in.liquid_nvt_frames),
so the comparison says whether the student follows its teacher in the bulk, density by density:
where it does, the density the student's NPT finds is the teacher's. The teacher's D4 dispersion
(dftd4, GFN2's damping) is reported too, split into its two-body part and its three-body (ATM,
s9 5) part: the latter is the many-body repulsion a pairwise term cannot carry. The student learned
the teacher's open clusters (libxtb), so these verdicts are the teacher's only where tblite's
periodic GFN2-xTB agrees with its own clusters: bench/teacher_periodic.py asks (for benzene it
does; for ethanol it does not, by some 50 meV per molecule, nor for water, by some 200).

--pressure adds each box's configurational pressure by both: -dE/dV when the box and the
molecules' centres are scaled by 1 +- 0.001 in length, molecules rigid (the molecular virial,
free of intramolecular forces, whose small differences in bond lengths would swamp the atomic
virial of a mismatched pair). The kinetic part is the same for both, so the difference teacher
minus student is the pressure the teacher would add at the student's densities (first order in
the difference of the two liquids): where it is positive the teacher's liquid is less dense.

--teacher-from EARLIER.json judges another student on the configurations of an earlier run
without running the teacher again: the same options make the same boxes (the sampler's NVT
on the CPU, one thread, is deterministic); the earlier run's student, evaluated again on them,
must give its recorded values (to 1e-4 meV and 1e-2 bar per frame, well above rounding and far
below what other frames give), which proves the frames are the same, and the earlier teacher values are then taken as they are.

usage: teacher_bulk.py --model MODEL.h5 [--sampler MODEL.h5] [--mlff PATH] [--molecules 8] [--boxes 2]
                       [--densities 0.68,0.78,0.874] [--frames 3] [--python-tblite PY]
                       [--lmp PATH] [--plugin PATH] [--pressure] [--teacher-from EARLIER.json]
                       [--molecule MOL.xyz --elements "H C O" [--pack-density G_CM3]]
                       [--json FILE]
Boxes: bench/make_liquid.sh (benzene, packmol at 0.874 g/cm3, seeds 1..boxes), or with --molecule
any molecule packed by bench/validate_data.py at --pack-density (default: its experimental
density in validate_liquid.py's table; --densities default to 0.8, 0.9 and 1 times it); the
molecules' centres scaled with the cell to each density, then the student's NVT at 300 K (FIRE,
1 ps, then a frame every 0.25 ps). --elements: the model's element of each atom type (default
C H). The teacher runs in the Python that has tblite (default: the mlff cache's venv,
~/.cache/mlff/venv-dftd4-4.3.1, where scripts/dispersion_d4.py put dftd4; `pip install tblite`
there once); it agrees with libxtb on molecules (benzene: -432.080443 eV from both). Needs numpy.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import validate_data  # noqa: E402
from validate_data import masses_of, write_data  # noqa: E402
TEACHER = r"""
import sys, json, numpy as np
from tblite.interface import Calculator
from dftd4.interface import DampingParam, DispersionModel
ANG, HARTREE = 1 / 0.52917721067, 27.211386245988
Z = {"H": 1, "C": 6, "N": 7, "O": 8, "F": 9, "P": 15, "S": 16, "Cl": 17}
out = []
for el, x, lat in json.load(open(sys.argv[1])):
    kw = {"lattice": np.array(lat).reshape(3, 3) * ANG, "periodic": np.array([True] * 3)} if lat else {}
    z, xb = np.array([Z[e] for e in el]), np.array(x) * ANG
    c = Calculator("GFN2-xTB", z, xb, **kw)
    c.set("verbosity", 0)
    # and GFN2's dispersion alone (D4, its damping), two-body and with its three-body term
    d4 = DispersionModel(z, xb, **kw)
    disp = [d4.get_dispersion(DampingParam(s6=1.0, s8=2.7, a1=0.52, a2=5.0, s9=s9),
                              grad=False)["energy"] * HARTREE for s9 in (0.0, 5.0)]
    out.append([c.singlepoint().get("energy") * HARTREE, disp[0], disp[1] - disp[0]])
    print(len(out), out[-1], file=sys.stderr, flush=True)
json.dump(out, open(sys.argv[2], "w"))
"""


def read_data(path, elements):
    """A cubic box of make_liquid.sh or validate_data.py pack: elements (atom type k is
    elements[k - 1]), positions from its corner, side."""
    types, pos, edges = validate_data.read_data(path)
    return [elements[t - 1] for t in types], np.array(pos), edges[0]


def scaled(el, x, L, factor, size):
    """Molecules (`size` atoms each, in order, whole) rigid, centres of mass scaled with the cell."""
    m = np.array(masses_of(el))
    y = np.array(x, dtype=float)
    for k in range(0, len(el), size):
        c = (m[k:k + size, None] * y[k:k + size]).sum(0) / m[k:k + size].sum()
        y[k:k + size] += (factor - 1) * c
    return y, L * factor


STRAIN = 1e-3  # in length, for the configurational pressure
EV_A3_BAR = 1.602176634e6


def write_xyz(path, frames):
    with open(path, "w") as f:
        for el, x, lat in frames:
            f.write(f"{len(el)}\n")
            if lat:
                f.write('Lattice="%s" Properties=species:S:1:pos:R:3 pbc="T T T"\n'
                        % " ".join(f"{v:.10f}" for v in lat))
            else:
                f.write('Properties=species:S:1:pos:R:3 pbc="F F F"\n')
            for e, p in zip(el, x):
                f.write(f"{e} {p[0]:.10f} {p[1]:.10f} {p[2]:.10f}\n")


LMP_IN = """units metal
atom_style atomic
boundary p p p
read_data {data}
plugin load {plugin}
pair_style mlff {model} device cpu
pair_coeff * * {elements}
neighbor 2.0 bin
neigh_modify every 1 delay 0 check yes
thermo 500
min_style fire
minimize 0.0 0.05 100 1000
reset_timestep 0
timestep 0.0005
velocity all create 300 {seed} mom yes rot no dist gaussian
fix t all nvt temp 300 300 0.1
run 2000
dump d all custom 500 {dump} id element xu yu zu
dump_modify d element {elements} sort id format float %.6f
run {steps}
"""


def read_frames(path):
    L = open(path).read().split("\n")
    i, out = 0, []
    while i < len(L) and L[i].strip():
        n = int(L[i])
        lat = [float(v) for v in L[i + 1].split('Lattice="')[1].split('"')[0].split()]
        rows = [l.split() for l in L[i + 2:i + 2 + n]]
        out.append(([r[0] for r in rows], np.array([[float(v) for v in r[1:4]] for r in rows]),
                    lat))
        i += n + 2
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--sampler", help="the model whose NVT makes the configurations (default: "
                    "--model; a cheaper one, e.g. without the three-body term, gives the same "
                    "kind of liquid faster on the CPU)")
    ap.add_argument("--mlff", default=os.path.join(ROOT, "build", "tools", "mlff"))
    ap.add_argument("--molecules", type=int, default=8)
    ap.add_argument("--boxes", type=int, default=2)
    ap.add_argument("--densities", help="g/cm3, comma-separated (default 0.68,0.78,0.874 for "
                    "benzene; 0.8,0.9,1 x --pack-density with --molecule)")
    ap.add_argument("--molecule", help="the molecule (XYZ), packed by validate_data.py "
                    "(default: benzene, packed by make_liquid.sh)")
    ap.add_argument("--elements", default="C H", help="the model's element of each atom type, "
                    "the pair_coeff order (default C H)")
    ap.add_argument("--pack-density", type=float,
                    help="g/cm3 of the packing (default: the molecule's experimental density)")
    ap.add_argument("--frames", type=int, default=3)
    ap.add_argument("--python-tblite", default=os.path.expanduser(
        "~/.cache/mlff/venv-dftd4-4.3.1/bin/python"))
    ap.add_argument("--lmp", default=None)
    ap.add_argument("--plugin", default=os.path.join(ROOT, "build", "plugin", "mlffplugin.so"))
    ap.add_argument("--pressure", action="store_true",
                    help="also the configurational pressure of each box by teacher and student")
    ap.add_argument("--teacher-from", metavar="JSON",
                    help="the teacher's values of an earlier run on the same configurations")
    ap.add_argument("--json")
    a = ap.parse_args()
    earlier = json.load(open(a.teacher_from)) if a.teacher_from else None
    elements = a.elements.split()
    if a.molecule:
        from validate_data import hill_formula, read_xyz
        els = read_xyz(a.molecule)[0]
        missing = sorted(set(els) - set(elements))
        if missing:
            sys.exit(f"teacher_bulk.py: {a.molecule} holds {', '.join(missing)}, which --elements "
                     f"\"{a.elements}\" does not name: give the model's elements in its order")
        if a.pack_density is None:
            from validate_liquid import find_experiment
            ex = find_experiment(hill_formula(els)) or {}
            if not ex.get("density"):
                sys.exit(f"teacher_bulk.py: no experimental density of {a.molecule} in "
                         "validate_liquid.py's table: give --pack-density")
            a.pack_density = ex["density"]
        pack_rho = a.pack_density
        if a.densities is None:
            a.densities = ",".join(f"{f * pack_rho:.3f}" for f in (0.8, 0.9, 1.0))
    else:
        pack_rho = 0.874  # make_liquid.sh's
        if a.densities is None:
            a.densities = "0.68,0.78,0.874"
    dens = [float(v) for v in a.densities.split(",")]
    if a.lmp is None:
        prefix = subprocess.run(["bash", os.path.join(ROOT, "scripts", "setup.sh")],
                                capture_output=True, text=True).stdout
        a.lmp = re.search(r"^MLFF_LAMMPS_PREFIX=(.*)$", prefix, re.M).group(1) + "/bin/lmp"
    env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(os.path.dirname(os.path.dirname(a.lmp)),
                                                        "lib"))
    work = tempfile.mkdtemp(prefix="teacher_bulk-")
    frames, tags = [], []
    for b in range(a.boxes):
        data = os.path.join(work, f"box{b}.data")
        if a.molecule:
            subprocess.run([sys.executable, os.path.join(HERE, "validate_data.py"), "pack",
                            a.molecule, str(a.molecules), data, "--density", str(pack_rho),
                            "--elements", a.elements, "--seed", str(b + 1)], check=True,
                           capture_output=True)
        else:
            subprocess.run(["bash", os.path.join(HERE, "make_liquid.sh"), str(a.molecules), data,
                            str(b + 1)], check=True, capture_output=True)
        el, x, L = read_data(data, elements)
        size = len(el) // a.molecules
        for rho in dens:
            y, Ls = scaled(el, x, L, (pack_rho / rho) ** (1 / 3), size)
            d2, dump = os.path.join(work, f"b{b}-{rho}.data"), os.path.join(work, f"b{b}-{rho}.dump")
            write_data(d2, "teacher_bulk box", elements, [elements.index(e) + 1 for e in el], y,
                       [0, 0, 0], [Ls] * 3)
            inp = os.path.join(work, f"b{b}-{rho}.in")
            open(inp, "w").write(LMP_IN.format(data=d2, plugin=a.plugin, model=os.path.abspath(
                a.sampler or a.model), seed=1000 + b, dump=dump, steps=500 * a.frames,
                elements=a.elements))
            subprocess.run([a.lmp, "-screen", "none", "-log", inp + ".log", "-in", inp],
                           check=True, env=env)
            xyz = subprocess.run(["bash", os.path.join(HERE, "dump2extxyz.sh"), dump],
                                 check=True, capture_output=True, text=True).stdout
            path = os.path.join(work, f"b{b}-{rho}.xyz")
            open(path, "w").write(xyz)
            for el2, x2, lat in read_frames(path)[1:]:  # the frames after the first 1 ps
                frames.append((el2, x2, lat))
                tags.append((b, rho, "box"))
                for m in range(0, len(el2), size):  # each molecule alone
                    frames.append((el2[m:m + size], x2[m:m + size], None))
                    tags.append((b, rho, "molecule"))
                if a.pressure:  # cubic boxes: lat is diagonal
                    for f in (1 - STRAIN, 1 + STRAIN):
                        y2, L2 = scaled(el2, x2, lat[0], f, size)
                        frames.append((el2, y2, [L2, 0, 0, 0, L2, 0, 0, 0, L2]))
                        tags.append((b, rho, "strained"))
    xyz = os.path.join(work, "frames.xyz")
    write_xyz(xyz, frames)
    def energies(model):
        p = subprocess.run([a.mlff, "energy", model, xyz], capture_output=True, text=True,
                           check=True)
        return [float(v) for v in re.findall(
            r"^frame \d+: \d+ atoms\s+energy (-?[\d.]+(?:[eE][-+]?\d+)?) eV", p.stdout, re.M)]

    def per_box(e):
        """Per box frame: (box, density, interaction energy per molecule meV, its
        configurational pressure bar or None) from per-structure energies e (eV, or rows)."""
        out, n, k = [], a.molecules, 0
        while k < len(frames):
            b, rho, _ = tags[k]
            inter = e[k] - sum(e[k + 1:k + 1 + n])
            k += 1 + n
            pc = None
            if a.pressure:
                dv = frames[k + 1][2][0] ** 3 - frames[k][2][0] ** 3
                pc = -(e[k + 1] - e[k]) / dv * EV_A3_BAR
                k += 2
            out.append((b, rho, 1000 * inter / n, pc))
        return out

    student = per_box(energies(a.model))
    if earlier is None:
        jin, jout, script = (os.path.join(work, n) for n in ("in.json", "out.json", "teacher.py"))
        json.dump([(el, np.asarray(x).tolist(), lat) for el, x, lat in frames], open(jin, "w"))
        open(script, "w").write(TEACHER)
        subprocess.run([a.python_tblite, script, jin, jout], check=True,
                       env=dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2")))
        got = json.load(open(jout))
        assert len(got) == len(frames)
        # the teacher's, and its D4 two- and three-body parts
        teacher = [per_box([g[q] for g in got]) for q in range(3)]
        teacher = [{"teacher_meV": t[2], "teacher_d4_two_body_meV": d2[2],
                    "teacher_d4_three_body_meV": d3[2], "teacher_pconf_bar": t[3]}
                   for t, d2, d3 in zip(*teacher)]
    else:  # the earlier run's frames, proven the same by its own student's values on them
        old = [q for row in earlier["per_density"] for q in row["frames_detail"]]
        again = per_box(energies(earlier["model"]))
        order = sorted(range(len(again)), key=lambda i: (dens.index(again[i][1]), again[i][0]))
        if len(old) != len(again):
            sys.exit(f"teacher_bulk.py: {a.teacher_from} holds {len(old)} box frames, these "
                     f"options make {len(again)}: give the earlier run's options")
        teacher = [None] * len(again)
        for q, i in zip(old, order):
            b, rho, e, pc = again[i]
            # the same frames agree to the rounding of ~4,000 eV totals (1e-6 meV per molecule
            # across builds and BLAS) and of the strained pair's difference (~1e-3 bar); other
            # frames differ by meV and tens of bar
            bad = b != q["box"] or abs(e - q["student_meV"]) > 1e-4 or (
                a.pressure and abs(pc - q["student_pconf_bar"]) > 1e-2)
            if bad:
                sys.exit(f"teacher_bulk.py: box {b} at {rho} g/cm3: {earlier['model']} gives "
                         f"{e:.6f} meV/molecule here, {q['student_meV']:.6f} in "
                         f"{a.teacher_from}: not the same configurations (other options, "
                         "sampler, LAMMPS or threads); run the teacher instead")
            teacher[i] = {k: q[k] for k in ("teacher_meV", "teacher_d4_two_body_meV",
                                            "teacher_d4_three_body_meV", "teacher_pconf_bar")
                          if k in q}
        print(f"teacher values: {a.teacher_from} (its {len(old)} box frames reproduced by "
              f"{os.path.basename(earlier['model'])} to 1e-4 meV)")
    rows = {}
    for (b, rho, e, pc), t in zip(student, teacher):
        row = {"box": b, "student_meV": e, **{k: v for k, v in t.items() if k != "teacher_pconf_bar"}}
        if a.pressure:
            row["student_pconf_bar"], row["teacher_pconf_bar"] = pc, t["teacher_pconf_bar"]
        rows.setdefault(rho, []).append(row)
    res = {"source": "bench/teacher_bulk.py (issue 21)", "model": a.model,
           "sampler": a.sampler or a.model, "molecule": a.molecule or "benzene (make_liquid.sh)",
           "pack_density": pack_rho,
           "molecules": a.molecules, "boxes": a.boxes, "frames_per_box": a.frames,
           "teacher": "GFN2-xTB, tblite (periodic)", "per_density": []}
    if earlier is not None:
        res["teacher_from"] = os.path.basename(a.teacher_from)
    print("interaction energy per molecule in the student's own liquid (meV/molecule):")
    print(f"{'g/cm3':>6} {'frames':>6} {'teacher':>9} {'student':>9} {'student-teacher':>16} "
          f"{'MAE':>6}   teacher's D4: {'2-body':>7} {'3-body':>7}")
    for rho in dens:
        r = rows[rho]
        t = np.mean([q["teacher_meV"] for q in r])
        s = np.mean([q["student_meV"] for q in r])
        mae = np.mean([abs(q["student_meV"] - q["teacher_meV"]) for q in r])
        d2 = np.mean([q["teacher_d4_two_body_meV"] for q in r])
        d3 = np.mean([q["teacher_d4_three_body_meV"] for q in r])
        res["per_density"].append({"density": rho, "frames": len(r), "teacher_meV_per_molecule": t,
                                   "student_meV_per_molecule": s, "mae_meV_per_molecule": mae,
                                   "teacher_d4_two_body_meV_per_molecule": d2,
                                   "teacher_d4_three_body_meV_per_molecule": d3,
                                   "frames_detail": r})
        print(f"{rho:6.3f} {len(r):6d} {t:9.1f} {s:9.1f} {s - t:+16.1f} {mae:6.1f}   "
              f"{'':14}{d2:7.1f} {d3:7.1f}")
    if a.pressure:
        print("configurational pressure (molecules rigid) of the same boxes, bar; mean and "
              "standard error over frames:")
        print(f"{'g/cm3':>6} {'teacher':>9} {'student':>9} {'teacher-student':>16} {'+-':>6}")
        for row in res["per_density"]:
            r = row["frames_detail"]
            d = [q["teacher_pconf_bar"] - q["student_pconf_bar"] for q in r]
            row["teacher_pconf_bar"] = float(np.mean([q["teacher_pconf_bar"] for q in r]))
            row["student_pconf_bar"] = float(np.mean([q["student_pconf_bar"] for q in r]))
            row["teacher_minus_student_pconf_bar"] = float(np.mean(d))
            row["teacher_minus_student_pconf_sem_bar"] = float(np.std(d, ddof=1) / np.sqrt(len(d))
                                                               if len(d) > 1 else float("nan"))
            print(f"{row['density']:6.3f} {row['teacher_pconf_bar']:9.0f} "
                  f"{row['student_pconf_bar']:9.0f} {row['teacher_minus_student_pconf_bar']:+16.0f} "
                  f"{row['teacher_minus_student_pconf_sem_bar']:6.0f}")
    if a.json:
        json.dump(res, open(a.json, "w"), indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
