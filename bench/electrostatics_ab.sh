#!/usr/bin/env bash
# electrostatics_ab.sh DATA WORK — does a model's electrostatics term help? (issue 21)
# Two students continued from the shipped model (models/benzene-gfn2.h5) on the same data, seed
# and limits: A with its dispersion alone, B with fixed-charge electrostatics as well (CHARGES,
# default C=-0.0906,H=0.0906,alpha=0.1,cutoff=12: GFN2-xTB's own charges scaled as
# `bench/dimer_decompose.py --charges models/benzene-gfn2-eval/monomer-xtbopt.charges
# --fit-charges stacked --dsf 0.1,12` finds, bench/results/vm-2026-12-07-dimer-decompose-
# charge-fit-dsf-benzene-gfn2.json: 0.09058 e). Both are judged on the teacher's dimer curves
# (bench/dimer_decompose.py on models/benzene-gfn2-eval/dimers.json) and on their test split.
#   DATA  a benzene dataset labelled by GFN2-xTB (e.g. run/data.h5 of
#         models/learn-runs/benzene-wider.sh: gas-phase labels and liquid spheres)
#   WORK  gets dimers.h5 (DIMERS 1200 dimers and CONTACT 600 contact dimers of benzene, labelled
#         here, seed 77), train.h5 (DATA + dimers), A.h5, B.h5, their logs, A-dimers.json,
#         B-dimers.json and summary.json; and, with HELDOUT, heldout.h5 (the shipped model's
#         held-out condensed set, labelled here as models/make_benzene_gfn2.sh labels it: seed 4,
#         20 liquid spheres of 20 molecules and 12 frames of 2 relaxations of 10-30 molecules)
#         and the students' interaction energies on it (A-heldout.json, B-heldout.json)
# Steps whose outputs exist are skipped: a rerun only summarises. Settings (environment):
# HELDOUT=1 (the held-out clusters too; 5 min of the teacher on one core),
# TRAIN_TIME (900 s), PATIENCE (100 epochs), THREADS (1 per training; the two run side by side),
# MLFF (build/tools/mlff), PYTHON (/usr/bin/python3, with numpy), D4_PYTHON (as
# dimer_decompose.py's --d4-python).
set -euo pipefail
die() { echo "electrostatics_ab.sh: $*" >&2; exit 2; }
[ $# -eq 2 ] || die "usage: electrostatics_ab.sh DATA WORK"
here=$(cd "$(dirname "$0")/.." && pwd)
data=$1 work=$2
[ -f "$data" ] || die "no dataset $data"
M=${MLFF:-$here/build/tools/mlff}
py=${PYTHON:-/usr/bin/python3}
[ -x "$M" ] || die "no mlff tool at $M (bash scripts/build.sh)"
charges=${CHARGES:-C=-0.0906,H=0.0906,alpha=0.1,cutoff=12}
mkdir -p "$work"
cd "$work"
if [ ! -f dimers.h5 ]; then
  "$M" label dimers.h5 --molecule "$here/models/benzene.xyz" --temperatures 300 \
    --md-structures 50 --normal-modes 0 --dimers "${DIMERS:-1200}" --far-dimers 0 \
    --contact-dimers "${CONTACT:-600}" --trimers 0 --tetramers 0 --droplets 0 --seed 77 \
    --jobs 1 2>label.log
fi
if [ ! -f train.h5 ]; then
  "$M" import "$data" train.h5 --overwrite
  "$M" import dimers.h5 train.h5 --append
fi
train() { # NAME [extra options]
  local name=$1
  shift
  [ -f "$name.h5" ] || "$M" train train.h5 --out "$name.h5" --init "$here/models/benzene-gfn2.h5" \
    --time-limit "${TRAIN_TIME:-900}" --patience "${PATIENCE:-100}" --seed 1 \
    --threads "${THREADS:-1}" "$@" >"$name.log" 2>&1
}
train A &
train B --electrostatics "$charges" &
wait
[ -f A.h5 ] && [ -f B.h5 ] || die "a training failed: see $work/A.log, $work/B.log"
d4=()
[ -n "${D4_PYTHON:-}" ] && d4=(--d4-python "$D4_PYTHON")
for s in A B; do
  [ -f "$s-dimers.json" ] ||
    PYTHONPATH=$here/python MLFF_LIBRARY=${MLFF_LIBRARY:-$here/build/core/libmlff.so} \
      "$py" "$here/bench/dimer_decompose.py" --dimers "$here/models/benzene-gfn2-eval/dimers.json" \
      --model "$s.h5" --molecule "$here/models/benzene-gfn2-eval/monomer-xtbopt.xyz" \
      "${d4[@]}" --json "$s-dimers.json" | tail -1
done
if [ "${HELDOUT:-0}" = 1 ]; then
  [ -f heldout.h5 ] || "$M" label heldout.h5 --molecule "$here/models/benzene.xyz" --seed 4 \
    --temperatures 300 --md-structures 10 --normal-modes 0 --dimers 0 --far-dimers 0 \
    --contact-dimers 0 --trimers 0 --tetramers 0 --droplets 0 --liquids 20 --relaxed 2 --jobs 1 \
    2>heldout.log
  for s in A B; do
    [ -f "$s-heldout.json" ] || "$M" eval "$s.h5" heldout.h5 --split all --interaction \
      --json "$s-heldout.json" >"$s-heldout.txt"
  done
fi
"$py" - "$data" "$charges" <<'PY'
import json, os, re, sys
data, charges = sys.argv[1:3]
out = {"source": "bench/electrostatics_ab.sh (issue 21)", "data": data, "extra": "dimers.h5",
       "electrostatics": charges, "students": {}}
for s, what in (("A", "dispersion (the shipped model's)"), ("B", "dispersion + electrostatics")):
    log = open(f"{s}.log").read()
    test = re.search(r"test \((\d+) structures\): energy MAE ([\d.]+) meV/atom, force MAE ([\d.]+)", log)
    wrote = re.search(r"wrote \S+: (\d+) epochs .*best validation at epoch (\d+)", log)
    d = json.load(open(f"{s}-dimers.json"))["summary"]
    out["students"][s] = {
        "terms": what, "epochs": int(wrote.group(1)), "best_epoch": int(wrote.group(2)),
        "test_structures": int(test.group(1)), "test_energy_mae_meV_per_atom": float(test.group(2)),
        "test_force_mae_meV_per_A": float(test.group(3)),
        "dimer_mae_meV": d["mae_meV"], "dimer_inside_cutoff_mae_meV": d["inside_cutoff"]["mae_meV"],
        "dimer_beyond_cutoff_mae_meV": d["beyond_cutoff"]["mae_meV"],
        "dimer_with_d4_three_body_mae_meV": d["with_d4_three_body_mae_meV"]}
    if os.path.exists(f"{s}-heldout.json"):  # interaction energy per molecule, student - teacher
        h = json.load(open(f"{s}-heldout.json"))["interaction"]["by_source"]
        out["students"][s]["heldout_clusters"] = {
            src: {"n": h[src]["n_clusters"], "mae_meV_per_molecule": h[src]["interaction_mae_meV_per_molecule"],
                  "mean_error_meV_per_molecule": h[src]["interaction_mean_error_meV_per_molecule"]}
            for src in ("relaxed", "liquid") if src in h}
json.dump(out, open("summary.json", "w"), indent=1)
for s, r in out["students"].items():
    print(f"{s} ({r['terms']}): dimer curves MAE {r['dimer_mae_meV']:.2f} meV (inside the cutoff "
          f"{r['dimer_inside_cutoff_mae_meV']:.2f}, beyond {r['dimer_beyond_cutoff_mae_meV']:.2f}); "
          f"test force MAE {r['test_force_mae_meV_per_A']:.2f} meV/A ({r['epochs']} epochs)")
    for src, c in r.get("heldout_clusters", {}).items():
        print(f"  held-out {src} clusters ({c['n']}): interaction MAE {c['mae_meV_per_molecule']:.2f} "
              f"meV/molecule, mean error {c['mean_error_meV_per_molecule']:+.2f}")
PY
