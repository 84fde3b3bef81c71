"""report_liquid.py — the physical validation of bench/report.py (issue 21): the liquids of
bench/validate_liquid.py (*-liquid-<label>.json: NPT density, heat of vaporisation, verdict
against experiment), the equation of state of bench/liquid_eos.py (*-eos-<label>.json: P at
fixed densities, the density at the target pressure by a fit) and the dimer curves of
bench/dimer_curves.py (*-dimers-<label>.json: the student's interaction energies against the
teacher's). One row (or block) per file, newest per machine and label; every figure names its
field. The experimental density beside the equation of state is the liquid files'
experiment.density."""
from report_fmt import is_num, md_table


def is_liquid(d):
    return isinstance(d.get("liquid"), dict) and "experiment" in d and "verdict" in d


def is_eos(d):
    return isinstance(d.get("points"), list) and "density_at_target_press" in d


def experiment(srcs):
    """(experiment dict, its file) of the first liquid file that names one, else ({}, None)."""
    for s in srcs:
        if isinstance(s.data.get("experiment"), dict) and s.data["experiment"]:
            return s.data["experiment"], s
    return {}, None


def is_dimers(d):
    return isinstance(d.get("curves"), dict) and isinstance(d.get("overall"), dict)


def _pm(v, key="mean", err="se", fmt="{:.3f}"):
    if not isinstance(v, dict) or not is_num(v.get(key)):
        return "—"
    s = fmt.format(v[key])
    return s + (" ± " + fmt.format(v[err]) if is_num(v.get(err)) else "")


def liquid_section(srcs):
    rows = []
    for s in srcs:
        d = s.data
        q, exp, dh = d.get("liquid") or {}, d.get("experiment") or {}, d.get("dhvap") or {}
        rho = q.get("density_g_cm3") or {}
        dev = (100.0 * (rho["mean"] / exp["density"] - 1)
               if is_num(rho.get("mean")) and is_num(exp.get("density")) else None)
        rows.append([d.get("label", s.fkind), s.token, f"{q.get('molecules', '—')}",
                     f"{q['production_ps']:g}" if is_num(q.get("production_ps")) else "—",
                     _pm(rho), f"{dev:+.1f}" if dev is not None else "—",
                     f"{rho['drift_pct']:+.1f}" if is_num(rho.get("drift_pct")) else "—",
                     _pm(dh, "dhvap_kJmol", "err_kJmol", "{:.1f}"),
                     f"**{d.get('verdict', '?')}**", "yes" if q.get("atoms_lost") else "no"])
    exp = experiment(srcs)[0]
    L = ["NPT at 300 K and 1 atm (`examples/lammps/in.liquid_npt` through "
         "`bench/validate_liquid.sh`): block-averaged density (± standard error over the blocks), "
         "its deviation from experiment and its drift from the first to the last block, the heat "
         "of vaporisation ⟨E_gas⟩ − ⟨E_liq⟩/N + RT (gas: `examples/lammps/in.gas_nvt`), judged "
         f"against experiment ({exp.get('name', '?')}: {exp.get('density', '?')} g/cm³, "
         f"ΔH_vap {exp.get('dhvap', '?')} kJ/mol at {exp.get('T_K', '?')} K; limits in "
         "docs/validation.md).\n",
         md_table(["label", "machine", "molecules", "production ps", "density g/cm³",
                   "vs experiment %", "drift %", "ΔH_vap kJ/mol", "verdict", "atoms lost"], rows),
         "\n" + "; ".join(f"from {s.show}" for s in srcs) +
         ": label, liquid.{molecules, production_ps, density_g_cm3.{mean, se, drift_pct}, "
         "atoms_lost}, dhvap.{dhvap_kJmol, err_kJmol}, verdict, experiment.density.\n"]
    return L


def dimers_section(srcs):
    rows = []
    for s in srcs:
        d = s.data
        cells = [d.get("label", s.fkind), s.token]
        for name in ("stacked", "T-shaped", "parallel-displaced"):
            st = ((d.get("curves") or {}).get(name) or {}).get("stats") or {}
            cells.append(f"{st['mae_meV']:.1f}" if is_num(st.get("mae_meV")) else "—")
        ov = d.get("overall") or {}
        cells += [f"{ov['mae_meV']:.1f}" if is_num(ov.get("mae_meV")) else "—",
                  f"{ov['mae_well_meV']:.1f}" if is_num(ov.get("mae_well_meV")) else "—"]
        rows.append(cells)
    return ["Dimer curves (`bench/dimer_curves.py`; each row a model and its molecule): the "
            "student's interaction energy "
            "against GFN2-xTB's (`xtb --sp`) along three orientations, 3–8 Å between centres; "
            "mean absolute error per curve, overall and in the well (issue 21 aims at ≤ 3 meV).\n",
            md_table(["label", "machine", "stacked MAE meV", "T-shaped MAE meV",
                      "parallel-displaced MAE meV", "overall MAE meV", "in the well meV"], rows),
            "\n" + "; ".join(f"from {s.show}" for s in srcs) +
            ": curves.<orientation>.stats.mae_meV, overall.{mae_meV, mae_well_meV}.\n"]


def eos_points(s):
    """[(density, P bar, its standard error or None, rows)] of an EOS file, by density."""
    out = []
    for q in s.data.get("points") or []:
        if isinstance(q, dict) and is_num(q.get("density")) and is_num(q.get("press_bar")):
            se = q.get("press_se_bar")
            out.append((q["density"], q["press_bar"], se if is_num(se) else None,
                        q.get("rows")))
    return sorted(out)


def eos_section(srcs, liquid_srcs):
    """Per file: P at each density, the line's crossing of the target pressure with its error,
    and the experimental density (from a liquid file) beside it."""
    exp, exp_src = experiment(liquid_srcs)
    L = ["P(density) at fixed densities (`bench/liquid_eos.py`, `examples/lammps/in.liquid_eos`): "
         "NVT while `fix deform` brings the box to each density, then NVT held; P is the hold's "
         "mean after its first ps are skipped, ± the standard error of block means; a straight "
         "line through the points gives the density at the target pressure, its error from the "
         "line's scatter (docs/validation.md).\n"]
    for s in srcs:
        d = s.data
        pts = eos_points(s)
        L.append(f"`{s.show}` (label {d.get('label', s.fkind)}, model "
                 f"`{str(d.get('model', '?')).split('/')[-1]}`, {d.get('temp_K', '?')} K; "
                 f"brought in {d.get('deform_ps', '?')} ps, held {d.get('hold_ps', '?')} ps, "
                 f"the first {d.get('skip_ps', '?')} ps of the hold skipped)\n")
        if not pts:
            L.append("(no point in the file)\n")
            continue
        L.append(md_table(["density g/cm³", "P bar", "± bar", "hold rows"],
                          [[f"{x:.4f}", f"{p:,.1f}", f"{se:.1f}" if se is not None else "—",
                            f"{n}" if is_num(n) else "—"] for x, p, se, n in pts]))
        cross, err = d.get("density_at_target_press"), d.get("density_at_target_press_se")
        text = f"\nfrom {s.show}, points.*.{{density, press_bar, press_se_bar, rows}}. "
        if is_num(cross):
            where = {True: "inside", False: "**outside**"}.get(d.get("inside_scan"), "?")
            text += (f"P = {d.get('target_press_bar', '?')} bar at **{cross:.3f}"
                     + (f" ± {err:.3f}" if is_num(err) else "") + f" g/cm³** ({where} the "
                     "scanned densities; dP/dρ "
                     + (f"{d['slope_bar_per_g_cm3']:,.0f} bar per g/cm³"
                        if is_num(d.get("slope_bar_per_g_cm3")) else "—")
                     + "; target_press_bar, density_at_target_press, "
                     "density_at_target_press_se, inside_scan, slope_bar_per_g_cm3).")
            if is_num(exp.get("density")):
                text += (f" Experiment ({exp.get('name', '?')}, {exp.get('T_K', '?')} K): "
                         f"{exp['density']} g/cm³ (from {exp_src.show}, experiment.density); "
                         f"the crossing is {100 * (cross / exp['density'] - 1):+.1f} % from it.")
            else:
                text += " No liquid file names the experimental density."
        else:
            text += "The file has no crossing (density_at_target_press)."
        L.append(text + "\n")
    return L
