#!/usr/bin/python3
"""report.py WORKDIR MODEL.h5 OUT.md [JSON ...] — the shipped model's report, written from
what make_benzene_gfn2.sh measured: the datasets, the model's training_summary and dispersion,
the JSON of `mlff eval` (held-out structures and condensed-phase clusters, the random test
split, frequencies), the dimer curves (bench/dimer_curves.py) and, when given, the liquid's
validation (bench/validate_liquid.py), its equation of state (bench/liquid_eos.py) and the bulk
liquid against the periodic teacher (bench/teacher_bulk.py). Every figure in the report comes
from one of those files;
the issues' targets are printed beside them."""
import json
import os
import sys
from collections import Counter

import h5py

work, model_path, out_path = sys.argv[1:4]
# further JSON files, told apart by their content: the liquid's validation, the teacher's
# bulk liquid (bench/teacher_bulk.py), the equation of state (bench/liquid_eos.py)
liquid_path = bulk_path = eos_path = None
for extra in sys.argv[4:]:
    with open(extra) as f:
        keys = json.load(f).keys()
    if "per_density" in keys:
        bulk_path = extra
    elif "density_at_target_press" in keys:
        eos_path = extra
    else:
        liquid_path = extra


def load(name, optional=False):
    path = os.path.join(work, name)
    if optional and not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def sources(path):
    with h5py.File(path, "r") as f:
        src = [s.decode() if isinstance(s, bytes) else str(s) for s in f["/labels/source"][()]]
        n_atoms = len(f["/structures/atomic_numbers"])
        teacher = f["/labels"].attrs.get("teacher", b"")
        teacher = teacher.decode() if isinstance(teacher, bytes) else str(teacher)
    return Counter(src), n_atoms, teacher


timings = load("timings.json")
held = load("eval-heldout.json")
split = load("eval-testsplit.json")
freq = load("eval-freq.json")
condensed = load("eval-condensed.json", optional=True)
dimers = load("dimers.json", optional=True)
liquid = json.load(open(liquid_path)) if liquid_path else None
eos = json.load(open(eos_path)) if eos_path else None
bulk = json.load(open(bulk_path)) if bulk_path else None


def teacher_density():
    """The teacher's liquid density, first order: at the student's density at the target
    pressure the teacher's configurational pressure on the same boxes is higher by dp
    (teacher_bulk.py --pressure, interpolated in density), so the teacher's density is lower by
    dp over the student's dP/drho there. The student's density and dP/drho come from its NPT
    run when that is stable and has the compressibility (validate_liquid.py: volume
    fluctuations), else from the equation of state (liquid_eos.py: short NVT holds, which read
    a liquid still settling). None without the teacher's pressures or either source."""
    pq = [q for q in (bulk or {}).get("per_density", []) if "teacher_minus_student_pconf_bar" in q]
    li = (liquid or {}).get("liquid", {})
    dn, kap = li.get("density_g_cm3", {}), li.get("compressibility")
    limit = ((liquid or {}).get("limits") or {}).get("density_drift_pct", 1.0)
    if pq and kap and dn.get("se") is not None and abs(dn.get("drift_pct", 1e9)) < limit:
        how, rho_s, rho_se = "NPT", dn["mean"], dn["se"]
        slope = kap["dP_drho_bar_per_g_cm3"]
        slope_rel = kap["se_per_bar"] / kap["mean_per_bar"]
    elif pq and eos:
        how, rho_s, rho_se = "equation of state", eos["density_at_target_press"], \
            eos["density_at_target_press_se"]
        slope, slope_rel = eos["slope_bar_per_g_cm3"], 0.0
    else:
        return None
    xs = [q["density"] for q in pq]
    if len(xs) > 1:
        k = min(range(len(xs) - 1), key=lambda i: abs(0.5 * (xs[i] + xs[i + 1]) - rho_s))
        a, b = pq[k], pq[k + 1]
        t = (rho_s - a["density"]) / (b["density"] - a["density"])
        dp = (1 - t) * a["teacher_minus_student_pconf_bar"] + t * b["teacher_minus_student_pconf_bar"]
        se = max(a["teacher_minus_student_pconf_sem_bar"], b["teacher_minus_student_pconf_sem_bar"])
    else:
        dp, se = pq[0]["teacher_minus_student_pconf_bar"], pq[0]["teacher_minus_student_pconf_sem_bar"]
    rho_t = rho_s - dp / slope
    err = (rho_se ** 2 + (se / slope) ** 2 + (dp / slope * slope_rel) ** 2) ** 0.5
    return {"student": rho_s, "student_se": rho_se, "slope": slope, "how": how,
            "dp": dp, "dp_se": se, "teacher": rho_t, "teacher_se": err, "points": pq}


def teacher_dhvap():
    """The teacher's heat of vaporisation, first order: the student's (the liquid's validation)
    less the student's extra cohesion over the teacher's on the same boxes (teacher_bulk.py,
    interpolated to the student's liquid density; 1 meV per molecule = 0.0964853 kJ/mol). None
    without both files."""
    dh = (liquid or {}).get("dhvap") or {}
    pd = (bulk or {}).get("per_density", [])
    if dh.get("dhvap_kJmol") is None or not pd:
        return None
    rho = liquid["liquid"]["density_g_cm3"]["mean"]
    xs = [q["density"] for q in pd]
    diff = [q["student_meV_per_molecule"] - q["teacher_meV_per_molecule"] for q in pd]
    if len(xs) > 1:
        k = max(0, min(len(xs) - 2, sum(x < rho for x in xs) - 1))
        t = (rho - xs[k]) / (xs[k + 1] - xs[k])
        d = (1 - t) * diff[k] + t * diff[k + 1]
    else:
        d = diff[0]
    return {"student": dh["dhvap_kJmol"], "extra_meV": d,
            "teacher": dh["dhvap_kJmol"] + 0.0964853 * d, "density": rho}


# the data tables: from the datasets when they are at hand, and then also written to
# datasets.json, so that the report can be rewritten from the kept JSON files alone
h5 = [os.path.join(work, f"benzene-gfn2-{s}.h5") for s in ("train", "test")]
cache = os.path.join(work, "datasets.json")
if all(os.path.exists(p) for p in h5):
    (train_src, train_atoms, teacher), (test_src, test_atoms, _) = (sources(p) for p in h5)
    with open(cache, "w") as f:
        json.dump({"source": "models/report.py from " + " and ".join(os.path.basename(p)
                                                                      for p in h5),
                   "teacher": teacher, "train": {"sources": train_src, "atoms": train_atoms},
                   "test": {"sources": test_src, "atoms": test_atoms}}, f, indent=1)
        f.write("\n")
elif os.path.exists(cache):
    with open(cache) as f:
        kept = json.load(f)
    teacher = kept["teacher"]
    train_src, train_atoms = Counter(kept["train"]["sources"]), kept["train"]["atoms"]
    test_src, test_atoms = Counter(kept["test"]["sources"]), kept["test"]["atoms"]
else:
    sys.exit(f"report.py: {work} holds neither the datasets ({' and '.join(h5)}) nor the "
             "datasets.json written from them")
with h5py.File(model_path, "r") as f:
    summary = json.loads(f.attrs["training_summary"])
    disp = dict(f["dispersion"].attrs) if "dispersion" in f else None
    coul = dict(f["electrostatics"].attrs) if "electrostatics" in f else None
    elements = [e.decode() if isinstance(e, bytes) else str(e) for e in f.attrs["elements"]]


def verdict(value, limit):
    return "meets" if value <= limit else "**misses**"


def fig(d, key):
    return d.get(key, float("nan"))


L = []
name = os.path.splitext(os.path.basename(out_path))[0]  # benzene-gfn2, benzene-gfn2-d4
recipe = os.environ.get("MLFF_RECIPE", f"models/make_{name.replace('-', '_')}.sh")
L.append(f"# {name} — a distilled GFN2-xTB student for benzene\n")
L.append(f"Generated by `models/report.py` from the files that `{recipe}` "
         f"writes (the JSON ones are kept in `models/{name}-eval/`); rerun that script to "
         "regenerate data, model and this report. Teacher: "
         f"{teacher}. Student: aev-mlp (ANI-1x descriptor, 128-64-64 SiLU per element).\n")
if disp is not None:
    n = len(elements)
    c6 = disp["c6"].reshape(n, n)
    pairs = ", ".join(f"{elements[a]}-{elements[b]} {c6[a][b]:.3g}" for a in range(n)
                      for b in range(a, n))
    L.append(f"Long-range dispersion (in the model file, /dispersion): C6/r⁶ + C8/r⁸ with "
             f"Becke–Johnson damping (s6 {float(disp['s6']):g}, s8 {float(disp['s8']):g}, "
             f"a1 {float(disp['a1']):g}, a2 {float(disp['a2']):.4g} Å), cutoff "
             f"{float(disp['cutoff']):g} Å, tail {'on' if int(disp['tail']) else 'off'}; "
             f"C6 (eV Å⁶): {pairs}; from D4 by scripts/dispersion_d4.py"
             + (f"; and D4's three-body (Axilrod–Teller–Muto) term, s9 {float(disp['s9']):.4g}, "
                f"over triples within {float(disp['cutoff3']):g} Å (docs/model.md)"
                if float(disp.get("s9", 0)) > 0 else "")
             + ". The networks were trained on the teacher minus this term"
             + (" and the electrostatics.\n" if coul is not None else ".\n"))
if coul is not None:
    q = ", ".join(f"{e} {float(c):+.5g} e" for e, c in zip(elements, coul["charges"]))
    L.append(f"Electrostatics (in the model file, /electrostatics): fixed atomic charges {q}, "
             f"Coulomb's law with damped shifted forces (alpha {float(coul['alpha']):g} Å⁻¹, "
             f"cutoff {float(coul['cutoff']):g} Å; docs/model.md): the rings' quadrupoles, which "
             "the teacher's interaction carries beyond the descriptor's cutoff.\n")
    if "increments" in coul:  # bond-charge increments (docs/model.md#bond-charge-increments)
        n = len(elements)
        inc = [float(v) for v in coul["increments"]]
        pairs = ", ".join(f"{elements[a]}-{elements[b]} {inc[a * n + b]:+.5g} e"
                          for a in range(n) for b in range(a + 1, n) if inc[a * n + b] != 0)
        L.append(f"Bond-charge increments: {pairs} (to the first atom of each bond; bonded within "
                 f"{float(coul['bond_factor']):g} x the sum of covalent radii).\n")
L.append("## Data\n")
L.append("| set | structures | atoms | by source |\n|---|---|---|---|")
L.append(f"| training (split into train/valid/test) | {sum(train_src.values())} | {train_atoms} | "
         + ", ".join(f"{k} {v}" for k, v in sorted(train_src.items())) + " |")
L.append(f"| held out (other seed: new trajectories and dimers) | {sum(test_src.values())} | "
         f"{test_atoms} | " + ", ".join(f"{k} {v}" for k, v in sorted(test_src.items())) + " |\n")
L.append("## Cost (this machine, 2 cores)\n")
L.append("| step | wall time |\n|---|---|")
steps = [("label_s", "labelling, training set (gas phase)"),
         ("label_condensed_s", "labelling, condensed phase"),
         ("train_first_s", "training, the first student"),
         ("student_md_and_label_s", "the first student's liquid (LAMMPS) and its spheres labelled"),
         ("label_heldout_s", "labelling, held-out sets"),
         ("train_s", "training" + (", the final student (from the first)"
                                   if "train_first_s" in timings else "")),
         ("train_three_body_s", "training again, with the three-body dispersion term"),
         ("dimers_s", "contact dimers labelled, the polish with the energy weighted"),
         ("eval_s", "evaluation")]
for key, what in steps:
    if key in timings:
        L.append(f"| {what} | {timings[key] / 60:.1f} min |")
L.append(f"| **all** | {sum(v for v in timings.values()) / 60:.1f} min (target ≤ 60) |\n")
keys = ["epochs", "best_epoch", "stop", "train_time_s"]
L.append("Training (`training_summary` of the model): " +
         ", ".join(f"{k} {summary[k]}" for k in keys if k in summary) + ".\n")

L.append("## Errors on held-out structures (`eval-heldout.json`)\n")
L.append("| source | structures | energy MAE meV/atom | force MAE meV/Å | force RMSE meV/Å |")
L.append("|---|---|---|---|---|")
for name, d in [("all", held["overall"])] + sorted(held["by_source"].items()):
    L.append(f"| {name} | {d['n_structures']} | {d['energy_mae_meV_per_atom']:.3f} | "
             f"{d['force_mae_meV_per_A']:.1f} | {d['force_rmse_meV_per_A']:.1f} |")
L.append("")
bys = held["by_source"]
mono = [bys[k] for k in ("md300", "md600") if k in bys]
checks = []
for d, name in zip(mono, ("md300", "md600")):
    checks.append((f"monomer {name} force MAE", d["force_mae_meV_per_A"], 30, "meV/Å (aim 15)"))
    checks.append((f"monomer {name} energy MAE", d["energy_mae_meV_per_atom"], 1, "meV/atom"))
if "dimer" in bys:
    checks.append(("dimer force MAE", bys["dimer"]["force_mae_meV_per_A"], 40, "meV/Å"))
inter = held.get("interaction", {})
if "by_source" in inter and "dimer" in inter["by_source"]:
    d = inter["by_source"]["dimer"]
    checks.append(("dimer interaction-energy MAE", d["interaction_mae_meV_per_cluster"], 20,
                   f"meV per dimer ({d['n_clusters']} dimers; mean error "
                   f"{d['interaction_mean_error_meV_per_cluster']:+.1f}, teacher mean "
                   f"{d['teacher_mean_interaction_meV_per_cluster']:.1f})"))
comp = freq.get("comparison") or {}
if comp:
    checks.append(("harmonic frequencies MAE", comp["mae_cm1"], 15,
                   f"cm⁻¹ over {comp['n_modes']} modes (max deviation "
                   f"{comp['max_abs_deviation_cm1']:.0f})"))
if condensed and "interaction" in condensed and condensed["interaction"].get("all"):
    for tag, d in sorted(condensed["interaction"].get("by_source", {}).items()):
        if "interaction_mae_meV_per_molecule" in d:
            checks.append((f"held-out {tag} clusters: interaction-energy MAE",
                           d["interaction_mae_meV_per_molecule"], 5,
                           f"meV per molecule ({d['n_clusters']} clusters; teacher mean "
                           f"{d['teacher_mean_interaction_meV_per_molecule']:.1f} meV/molecule)"))
if dimers and "overall" in dimers:
    checks.append(("dimer curves (stacked, T, parallel-displaced) MAE", dimers["overall"][
        "mae_well_meV"], 3, f"meV over the {dimers['overall']['well_points']} points where the "
        "teacher is below +50 meV (bench/dimer_curves.py)"))
if liquid:
    dn = liquid["liquid"]["density_g_cm3"]
    exp = liquid.get("experiment", {})
    if exp.get("density"):
        dev = 100 * abs(dn["mean"] - exp["density"]) / exp["density"]
        checks.append(("liquid density, NPT 300 K 1 atm", dev, 5,
                       f"% from {exp['density']} g/cm³ (got {dn['mean']:.4f} ± {dn['se']:.4f}, "
                       f"drift {dn.get('drift_pct', float('nan')):+.2f} % over production)"))
    if dn.get("drift_pct") is not None:
        limit = (liquid.get("limits") or {}).get("density_drift_pct", 1.0)
        checks.append(("liquid density stable (drift over production)", abs(dn["drift_pct"]),
                       limit, f"% over {liquid['liquid'].get('production_ps', '?')} ps "
                       f"(first {dn['first']:.4f}, last {dn['last']:.4f} g/cm³)"))
    dh = liquid.get("dhvap") or {}
    if exp.get("dhvap") and dh.get("dhvap_kJmol") is not None:
        dev = 100 * abs(dh["dhvap_kJmol"] - exp["dhvap"]) / exp["dhvap"]
        checks.append(("heat of vaporisation", dev, 10,
                       f"% from {exp['dhvap']} kJ/mol (got {dh['dhvap_kJmol']:.2f} ± "
                       f"{dh['err_kJmol']:.2f})"))
td = teacher_density()
if td:
    checks.append((f"liquid density ({td['how']}) against the teacher's",
                   100 * abs(td["student"] - td["teacher"]) / td["teacher"], 5,
                   f"% from {td['teacher']:.3f} ± {td['teacher_se']:.3f} g/cm³, the teacher's "
                   f"estimated from its pressure on the student's boxes (got {td['student']:.3f} ± "
                   f"{td['student_se']:.3f}; issue 21: match the teacher where it differs from "
                   "experiment)"))
tdh = teacher_dhvap()
if tdh:
    checks.append(("heat of vaporisation against the teacher's",
                   100 * abs(tdh["student"] - tdh["teacher"]) / tdh["teacher"], 10,
                   f"% from {tdh['teacher']:.1f} kJ/mol, the student's {tdh['student']:.2f} less "
                   f"its extra cohesion over the teacher's on the same boxes "
                   f"({-tdh['extra_meV']:+.1f} meV per molecule at {tdh['density']:.3f} g/cm³, "
                   "teacher_bulk.py; first order)"))
L.append("## Against the issue's targets\n")
L.append("| figure | value | target | |\n|---|---|---|---|")
for name, value, limit, unit in checks:
    L.append(f"| {name} | {value:.2f} | ≤ {limit} | {verdict(value, limit)} — {unit} |")
L.append("")
L.append("## Random test split of the training set (`eval-testsplit.json`)\n")
d = split["overall"]
L.append(f"{d['n_structures']} structures never used for fitting or early stopping: energy MAE "
         f"{d['energy_mae_meV_per_atom']:.3f} meV/atom, force MAE {d['force_mae_meV_per_A']:.1f} "
         f"meV/Å, RMSE {d['force_rmse_meV_per_A']:.1f} meV/Å. By source: "
         + "; ".join(f"{k} {v['force_mae_meV_per_A']:.1f}" for k, v in sorted(split["by_source"].items()))
         + " meV/Å.\n")
if dimers and "curves" in dimers:
    L.append("## Dimer curves (`dimers.json`): interaction energy, meV\n")
    L.append("| orientation | points | MAE (teacher < +50 meV) | teacher minimum | model minimum |")
    L.append("|---|---|---|---|---|")
    for name, c in dimers["curves"].items():
        pts = c["points"]
        t = min(pts, key=lambda p: p["teacher_meV"])
        m = min(pts, key=lambda p: p["model_meV"])
        well = [abs(p["model_meV"] - p["teacher_meV"]) for p in pts if p["teacher_meV"] < 50]
        L.append(f"| {name} | {len(pts)} | {sum(well) / max(len(well), 1):.1f} | "
                 f"{t['teacher_meV']:.1f} at {t['d_A']:.2f} Å | {m['model_meV']:.1f} at "
                 f"{m['d_A']:.2f} Å |")
    L.append("")
if liquid:
    li, ga = liquid["liquid"], liquid.get("gas") or {}
    L.append(f"## Liquid benzene ({os.path.basename(liquid_path)})\n")
    L.append(f"NPT at {li['target_temp_K']:g} K and {li['target_press_bar']:g} bar, "
             f"{li['atoms']} atoms, {li['production_ps']:g} ps of production on "
             f"{liquid.get('machine', '?')}: density {li['density_g_cm3']['mean']:.4f} ± "
             f"{li['density_g_cm3']['se']:.4f} g/cm³ (block means "
             + ", ".join(f"{v:.4f}" for v in li["density_g_cm3"]["block_means"]) + "). "
             + (f"Heat of vaporisation {liquid['dhvap']['dhvap_kJmol']:.2f} ± "
                f"{liquid['dhvap']['err_kJmol']:.2f} kJ/mol. " if liquid.get("dhvap") else "")
             + (f"Isothermal compressibility {li['compressibility']['mean_per_bar']:.3g} ± "
                f"{li['compressibility']['se_per_bar']:.2g} bar⁻¹ (volume fluctuations). "
                if li.get("compressibility") else "")
             + (f"The run was {len(li['segments'])} segments joined (" +
                " + ".join(f"{g['production_ps']:.1f}" for g in li["segments"]) + " ps of NPT); "
                if li.get("segments") else "")
             + (("its" if li.get("segments") else "Its") +
                f" first {li['skipped_ps']:.1f} ps of production counted as equilibration "
                f"(density {li['skipped_density_first_last'][0]:.3f} → "
                f"{li['skipped_density_first_last'][1]:.3f} g/cm³). " if li.get("skipped_ps")
                else "")
             + f"Verdict: {liquid.get('verdict', '?')}.\n")
    stem = os.path.splitext(os.path.basename(out_path))[0]
    if os.path.exists(os.path.join(os.path.dirname(out_path), f"{stem}-eval", "liquid-density.png")):
        L.append(f"![NPT density]({stem}-eval/liquid-density.png)\n")
if eos:
    L.append(f"## Equation of state at {eos['temp_K']:g} K ({os.path.basename(eos_path)})\n")
    L.append(f"NVT at fixed densities (bench/liquid_eos.py: {eos['deform_ps']:g} ps to reach each "
             f"density, {eos['hold_ps']:g} ps held, the first {eos['skip_ps']:g} ps of it "
             f"skipped), on {eos['machine']}:\n")
    L.append("| density g/cm³ | pressure bar |\n|---|---|")
    for q in eos["points"]:
        L.append(f"| {q['density']:.4f} | {q['press_bar']:.0f} ± {q['press_se_bar']:.0f} |")
    L.append(f"\nThe pressure is {eos['target_press_bar']:g} bar at "
             f"{eos['density_at_target_press']:.3f} ± {eos['density_at_target_press_se']:.3f} "
             f"g/cm³ ({'inside' if eos['inside_scan'] else 'outside'} the scanned densities).\n")
if bulk:
    L.append(f"## The bulk liquid against the periodic teacher ({os.path.basename(bulk_path)})\n")
    L.append(f"Interaction energy per molecule of {bulk['molecules']}-molecule periodic boxes of "
             f"the liquid ({bulk['boxes']} boxes x {bulk['frames_per_box']} frames per density, "
             f"bench/teacher_bulk.py; teacher: {bulk['teacher']}"
             + (f"; configurations from the NVT of {os.path.basename(bulk['sampler'])}"
                if os.path.basename(bulk.get("sampler") or "") != os.path.basename(bulk["model"])
                else "") + "), meV per molecule:\n")
    L.append("| density g/cm³ | teacher | student | student − teacher | teacher's D4 two-body | "
             "its three-body |\n|---|---|---|---|---|---|")
    for q in bulk["per_density"]:
        L.append(f"| {q['density']:g} | {q['teacher_meV_per_molecule']:.1f} | "
                 f"{q['student_meV_per_molecule']:.1f} | "
                 f"{q['student_meV_per_molecule'] - q['teacher_meV_per_molecule']:+.1f} | "
                 f"{q.get('teacher_d4_two_body_meV_per_molecule', float('nan')):.1f} | "
                 f"{q.get('teacher_d4_three_body_meV_per_molecule', float('nan')):.1f} |")
    L.append("")
    pq = [q for q in bulk["per_density"] if "teacher_minus_student_pconf_bar" in q]
    if pq:
        L.append("Configurational pressure of the same boxes (the molecules' centres and the box "
                 "scaled by 1 ± 0.001 in length, molecules rigid: the molecular virial; "
                 "teacher_bulk.py --pressure), bar, and the teacher minus the student with its "
                 "standard error over the frames:\n")
        L.append("| density g/cm³ | teacher | student | teacher − student |\n|---|---|---|---|")
        for q in pq:
            L.append(f"| {q['density']:g} | {q['teacher_pconf_bar']:.0f} | "
                     f"{q['student_pconf_bar']:.0f} | {q['teacher_minus_student_pconf_bar']:+.0f} ± "
                     f"{q['teacher_minus_student_pconf_sem_bar']:.0f} |")
        if td:
            where = ("its NPT run, dP/dρ from the volume's fluctuations" if td["how"] == "NPT"
                     else "the equation of state above")
            L.append(f"\nAt the student's density at 1 atm ({td['student']:.3f} g/cm³, {where}) "
                     f"the teacher's "
                     f"pressure is higher by {td['dp']:+.0f} ± {td['dp_se']:.0f} bar; with the "
                     f"student's dP/dρ there ({td['slope']:.0f} bar per g/cm³) the teacher's own "
                     f"liquid would sit at about **{td['teacher']:.3f} ± {td['teacher_se']:.3f} "
                     "g/cm³** (first order in the difference between the two).")
        L.append("")
if comp:
    s, t = freq["student"]["frequencies_cm1"], freq["teacher"]["frequencies_cm1"]
    L.append("## Harmonic frequencies (`eval-freq.json`), cm⁻¹\n")
    L.append(freq["method"][0].upper() + freq["method"][1:] + ".\n")
    L.append("| mode | student | teacher | difference |\n|---|---|---|---|")
    for k, (a, b) in enumerate(zip(s, t)):
        L.append(f"| {k + 1} | {a:.0f} | {b:.0f} | {a - b:+.0f} |")
    L.append("")
with open(out_path, "w") as f:
    f.write("\n".join(L))
print(f"wrote {out_path}")
