#!/usr/bin/env bash
# make_benzene_gfn2.sh — regenerate the shipped model, models/benzene-gfn2.h5, from nothing
# (issues 4 and 21): label benzene with GFN2-xTB (gas-phase and condensed-phase structures),
# train a first student around the long-range dispersion term (the networks learn the teacher
# minus D4's two-body dispersion and fixed-charge electrostatics), let that student run its own
# liquid in LAMMPS and label spheres of its frames (the places it goes to, including where it
# goes wrong: one round of active learning), train the student on everything, then again with
# D4's three-body term added to the dispersion (5b), polish it on 8,400 more contact dimers with
# the energy weighted (5c), evaluate it on held-out data, write its report.
#   bash models/make_benzene_gfn2.sh [WORKDIR]   (default build/models; 73-92 min on 2 cores:
#   the issue's 60 are not met; run from nothing on 2026-12-08 it gave back the shipped model's
#   weights bit for bit: scripts/compare_models.py)
# MLFF_MODEL_OUT=FILE writes the model there instead of models/benzene-gfn2.h5 (its report
# beside it, FILE with .md); the evaluation's JSON goes to WORKDIR and, for the shipped model,
# to models/benzene-gfn2-eval/. Held-out data are separate teacher trajectories, dimers,
# droplets, liquid spheres and relaxed clusters (other seeds), never seen in training; the
# random test split is reported too. The liquid's validation needs a GPU
# (bench/validate_liquid.sh, bench/liquid_eos.py) and the teacher's bulk the tblite teacher
# (bench/teacher_bulk.py): their JSON, given as LIQUID_JSON="A.json B.json", join the report.
# SWITCH3=W gives the three-body term (5b) a smooth cutoff of W Å below CUTOFF3 (default 8 Å;
# docs/model.md; its file then in WORKDIR): default 0, the hard cutoff of the shipped model.
# CUTOFF3 8.5 with SWITCH3 1 keeps the triples the hard 8 Å holds (-0.5 meV/molecule in the
# liquid) where 8 with 1 takes away 6.3 meV/molecule of their repulsion.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bash "$here/scripts/build.sh"
build=${MLFF_BUILD_DIR:-$here/build}
mlff=$build/tools/mlff
work=${1:-$build/models}
model=${MLFF_MODEL_OUT:-$here/models/benzene-gfn2.h5}
mkdir -p "$work"
export OMP_WAIT_POLICY=passive # idle OpenMP threads must not spin against OpenBLAS
mol=$here/models/benzene.xyz
no_condensed=(--liquids 0 --relaxed 0)
none=(--normal-modes 0 --dimers 0 --far-dimers 0 --contact-dimers 0 --trimers 0 --tetramers 0
  --droplets 0)
# the electrostatics (docs/model.md#electrostatics): GFN2-xTB's own Mulliken charges of the
# relaxed monomer scaled to its stacked dimers beyond the cutoff, in the damped-shifted-force form
# (bench/dimer_decompose.py --fit-charges stacked --dsf 0.1,12; bench/results/
# vm-2026-12-07-dimer-decompose-charge-fit-dsf-benzene-gfn2.json): they carry the teacher's
# interaction beyond 5.2 A that D4 does not (docs/validation.md)
coul=C=-0.09058,H=0.09058,alpha=0.1,cutoff=12
t0=$(date +%s)
# 0. the dispersion term: D4's C6 for benzene with GFN2's damping, 10 Å and the tail (the file
#    is kept beside the model; dispersion_d4.py needs dftd4 from PyPI once, in the mlff cache)
disp=$here/models/benzene-gfn2-dispersion.h5
[ -f "$disp" ] || python3 "$here/scripts/dispersion_d4.py" --molecule "$mol" --out "$disp" --cutoff 10 \
  --three-body no
# 1. training data: ~6,500 gas-phase structures (MD at 300/600/900 K, normal modes, clusters of
#    2-4 with 1,200 dimers and 600 contact dimers for the curves inside the cutoff (bench/
#    electrostatics_ab.sh), 400 droplets of 13 molecules), then the condensed phase (150
#    spheres of 20 molecules carved from packed liquids at 0.6-1.1 x 0.95 g/cm3, 4 relaxations
#    of 10-30 molecules)
"$mlff" label "$work/benzene-gfn2-gas.h5" --molecule "$mol" --seed 1 "${no_condensed[@]}" \
  --dimers 1200 --contact-dimers 600
t1=$(date +%s)
"$mlff" label "$work/benzene-gfn2-condensed.h5" --molecule "$mol" --seed 3 --temperatures 300 \
  --md-structures 40 "${none[@]}" --liquids 150 --liquid-density 0.95 --relaxed 4
t2=$(date +%s)
"$mlff" import "$work/benzene-gfn2-gas.h5" "$work/benzene-gfn2-train.h5" --overwrite
"$mlff" import "$work/benzene-gfn2-condensed.h5" "$work/benzene-gfn2-train.h5" --append
# 2. the first student: ANI-1x descriptor, 128-64-64 SiLU per element, with the dispersion term
#    and the electrostatics (the students after it keep both through --init)
"$mlff" train "$work/benzene-gfn2-train.h5" --out "$work/student-v1.h5" --elements C,H \
  --hidden 128,64,64 --time-limit 1200 --seed 1 --dispersion "$disp" --electrostatics "$coul"
t3=$(date +%s)
# 3. its own liquid: 128 molecules packed at 0.874 g/cm3, NPT at 300 and 400 K for 5 ps each in
#    LAMMPS (examples/lammps/in.liquid_frames, stopped where it heats past 1000 K), a frame every
#    100 fs; two spheres of 20 molecules from each frame (the first at its tightest contact)
#    labelled by the teacher, added to the training data (bench/make_liquid.sh 128, seed 7).
#    A student whose FIRE relaxation presses atoms together (the close-atom guard stops LAMMPS)
#    gives its relaxation's frames, one every 10 steps, instead
prefix=$(bash "$here/scripts/setup.sh" | sed -n 's/^MLFF_LAMMPS_PREFIX=//p')
export LD_LIBRARY_PATH=$prefix/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
[ -f "$work/liquid128.data" ] || bash "$here/bench/make_liquid.sh" 128 "$work/liquid128.data" 7
frames=$work/student-v1-frames.xyz
if [ ! -s "$frames" ]; then
  rm -f "$frames.part"
  for T in 300 400; do
    # a student that presses atoms together (the close-atom guard stops LAMMPS with an error;
    # seen in FIRE, 2026-12-07: H-H 0.72 Å at step 106) leaves its relaxation's frames, a frame
    # every 10 steps up to there: they are labelled instead of its MD's (once: the relaxation
    # is the same at both temperatures)
    rm -f "$work/student-v1-$T.dump" "$work/student-v1-$T-min.dump"
    if (cd "$work" && "$prefix/bin/lmp" -in "$here/examples/lammps/in.liquid_frames" -sf omp \
      -pk omp 2 -var plugin "$build/plugin/mlffplugin.so" -var model "$work/student-v1.h5" \
      -var data "$work/liquid128.data" -var device cpu -var temp $T -var run_ps 5 \
      -var frame_every 200 -var seed $T -var frames "student-v1-$T.dump" -var min_every 10 \
      -var min_frames "student-v1-$T-min.dump" -log "student-v1-$T.log" >/dev/null); then
      grep -E "^MLFF_FRAMES_END|Fix halt" "$work/student-v1-$T.log" || true
      bash "$here/bench/dump2extxyz.sh" "$work/student-v1-$T.dump" >>"$frames.part"
    else
      grep -m1 "^ERROR" "$work/student-v1-$T.log" >&2 || true
      echo "make_benzene_gfn2.sh: student-v1 stopped at $T K; its relaxation's frames are labelled" >&2
      if [ -s "$work/student-v1-$T.dump" ]; then # it failed in its MD
        bash "$here/bench/dump2extxyz.sh" "$work/student-v1-$T.dump" >>"$frames.part"
      elif [ -s "$work/student-v1-$T-min.dump" ] && [ "${relax_kept:-}" != yes ]; then
        bash "$here/bench/dump2extxyz.sh" "$work/student-v1-$T-min.dump" >>"$frames.part"
        relax_kept=yes
      fi
    fi
  done
  mv "$frames.part" "$frames"
fi
"$mlff" label "$work/benzene-gfn2-liquid-md.h5" --molecule "$mol" --frames "$frames" \
  --frame-spheres 2 --liquid-molecules 20 --seed 5
"$mlff" import "$work/benzene-gfn2-liquid-md.h5" "$work/benzene-gfn2-train.h5" --append
# 3b. the repulsive wall: 240 spheres of 10 molecules with closest contacts of 0.6-0.9 x 2.0 Å
#     (H..H 1.2-1.8 Å). The first student, trained on contacts of 0.9 x and up, let FIRE slide
#     a C-H of one molecule onto a C-C bond of the next on the packed 1,024-molecule box (its
#     liquid blew up within 50 fs); these show the student the teacher's wall there.
"$mlff" label "$work/benzene-gfn2-wall.h5" --molecule "$mol" --seed 6 --temperatures 300 \
  --md-structures 40 "${none[@]}" --liquids 240 --liquid-molecules 10 --liquid-contact 0.6-0.9 \
  --relaxed 0
"$mlff" import "$work/benzene-gfn2-wall.h5" "$work/benzene-gfn2-train.h5" --append
t4=$(date +%s)
# 4. held-out data: new trajectories (300 and 600 K), dimers and droplets; new liquid spheres
#    and relaxed clusters (other seeds)
"$mlff" label "$work/benzene-gfn2-test.h5" --molecule "$mol" --seed 2 \
  --temperatures 300,600 --md-structures 200 --normal-modes 0 --dimers 200 --far-dimers 50 \
  --contact-dimers 0 --trimers 0 --tetramers 0 --droplets 50 "${no_condensed[@]}"
"$mlff" label "$work/benzene-gfn2-test-condensed.h5" --molecule "$mol" --seed 4 --temperatures 300 \
  --md-structures 10 "${none[@]}" --liquids 20 --relaxed 2
t5=$(date +%s)
# 5. the student: the first one trained on everything (its network, e0 and dispersion kept)
"$mlff" train "$work/benzene-gfn2-train.h5" --out "$work/student-v2.h5" --time-limit 900 \
  --seed 1 --init "$work/student-v1.h5"
#    then 5 minutes at a tenth of the learning rate (the 15 minutes above end at 1e-3)
"$mlff" train "$work/benzene-gfn2-train.h5" --out "$work/student-v3.h5" --time-limit 300 \
  --seed 1 --init "$work/student-v2.h5" --lr 1e-4 --lr-min 1e-5 --patience 20
t5b=$(date +%s)
# 5b. D4's three-body term too (docs/model.md#the-three-body-term): GFN2's s9 5, 8 Å, which the
#     5.2 Å networks cannot see and the pair term cannot carry; the networks, from v3, relearn
#     the teacher minus both terms on the same data, then the same polish
disp3=$here/models/benzene-gfn2-dispersion3.h5
[ "${SWITCH3:-0}" = 0 ] || disp3=$work/benzene-gfn2-dispersion3-switch3.h5
[ -f "$disp3" ] || python3 "$here/scripts/dispersion_d4.py" --molecule "$mol" --out "$disp3" \
  --cutoff 10 --three-body yes --cutoff3 "${CUTOFF3:-8}" --switch3 "${SWITCH3:-0}"
"$mlff" train "$work/benzene-gfn2-train.h5" --out "$work/student-v4.h5" --time-limit 900 \
  --seed 1 --init "$work/student-v3.h5" --dispersion "$disp3"
"$mlff" train "$work/benzene-gfn2-train.h5" --out "$work/student-v5.h5" --time-limit 300 \
  --seed 1 --init "$work/student-v4.h5" --lr 1e-4 --lr-min 1e-5 --patience 20
t5c=$(date +%s)
# 5c. the dimer wells: 8,400 contact dimers more (2,100 of them a translated copy along a
#     principal axis: stacked and displaced pairs at their wall), and the energy weighted 1000x:
#     with --w-energy 1 the force term outweighs a dimer's interaction energy error a
#     thousandfold, and the student over-bound the stacked well by ~30 meV (docs/validation.md).
#     Then a tenth of that weight at a lower rate, which gives back the gas-phase forces
"$mlff" label "$work/benzene-gfn2-dimers.h5" --molecule "$mol" --seed 8 --temperatures 300 \
  --md-structures 40 --normal-modes 0 --dimers 0 --far-dimers 0 --contact-dimers 8400 \
  --trimers 0 --tetramers 0 --droplets 0 "${no_condensed[@]}"
"$mlff" import "$work/benzene-gfn2-dimers.h5" "$work/benzene-gfn2-train.h5" --append
"$mlff" train "$work/benzene-gfn2-train.h5" --out "$work/student-v6.h5" --time-limit 900 \
  --seed 1 --init "$work/student-v5.h5" --w-energy 1000 --lr 1e-4 --lr-min 1e-5 --patience 40
"$mlff" train "$work/benzene-gfn2-train.h5" --out "$model" --time-limit 600 \
  --seed 1 --init "$work/student-v6.h5" --w-energy 100 --lr 3e-5 --lr-min 1e-5 --patience 20
t6=$(date +%s)
# 6. evaluation: held-out structures, interaction energies (per molecule of each cluster),
#    harmonic frequencies, the dimer curves
m=$model
"$mlff" eval "$m" "$work/benzene-gfn2-test.h5" --split all --interaction \
  --json "$work/eval-heldout.json" >"$work/eval-heldout.txt"
"$mlff" eval "$m" "$work/benzene-gfn2-test-condensed.h5" --split all --interaction \
  --json "$work/eval-condensed.json" >"$work/eval-condensed.txt"
"$mlff" eval "$m" "$work/benzene-gfn2-train.h5" --split test \
  --json "$work/eval-testsplit.json" >"$work/eval-testsplit.txt"
"$mlff" eval "$m" --freq "$mol" --json "$work/eval-freq.json" >"$work/eval-freq.txt"
python3=/usr/bin/python3; [ -x $python3 ] || python3=python3 # Debian's, which has numpy, h5py
$python3 "$here/bench/dimer_curves.py" --model "$m" --mlff "$mlff" --machine vm \
  --json "$work/dimers.json" --work "$work/dimers" >"$work/dimers.txt"
t7=$(date +%s)
printf '{"label_s": %d, "label_condensed_s": %d, "train_first_s": %d, "student_md_and_label_s": %d, "label_heldout_s": %d, "train_s": %d, "train_three_body_s": %d, "dimers_s": %d, "eval_s": %d}\n' \
  $((t1 - t0)) $((t2 - t1)) $((t3 - t2)) $((t4 - t3)) $((t5 - t4)) $((t5b - t5)) $((t5c - t5b)) \
  $((t6 - t5c)) $((t7 - t6)) >"$work/timings.json"
cat "$work/timings.json"
# 7. the report, from those files (for the shipped model, the JSON ones are kept beside it)
if [ "$model" = "$here/models/benzene-gfn2.h5" ]; then
  mkdir -p "$here/models/benzene-gfn2-eval"
  cp "$work"/eval-*.json "$work"/eval-*.txt "$work/dimers.json" "$work/timings.json" \
    "$here/models/benzene-gfn2-eval/"
fi
MLFF_RECIPE=models/make_benzene_gfn2.sh \
  $python3 "$here/models/report.py" "$work" "$m" "${model%.h5}.md" ${LIQUID_JSON:-}
# what the report's data tables came from: with it the report can be rewritten from the kept
# files alone (report.py models/benzene-gfn2-eval MODEL OUT.md [JSON ...])
if [ "$model" = "$here/models/benzene-gfn2.h5" ]; then
  cp "$work/datasets.json" "$here/models/benzene-gfn2-eval/"
fi
