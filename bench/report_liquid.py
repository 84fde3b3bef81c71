"""report_liquid.py — the physical validation of bench/report.py (issue 21): the liquids of
bench/validate_liquid.py (*-liquid-<label>.json: NPT density, heat of vaporisation, verdict
against experiment) and the dimer curves of bench/dimer_curves.py (*-dimers-<label>.json: the
student's interaction energies against the teacher's). One row per file, newest per machine and
label; every figure names its field."""
from report_fmt import is_num, md_table


def is_liquid(d):
    return isinstance(d.get("liquid"), dict) and "experiment" in d and "verdict" in d


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
    exp = next((s.data.get("experiment") for s in srcs if s.data.get("experiment")), {}) or {}
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
    return ["Benzene dimer curves (`bench/dimer_curves.py`): the student's interaction energy "
            "against GFN2-xTB's (`xtb --sp`) along three orientations, 3–8 Å between centres; "
            "mean absolute error per curve, overall and in the well (issue 21 aims at ≤ 3 meV).\n",
            md_table(["label", "machine", "stacked MAE meV", "T-shaped MAE meV",
                      "parallel-displaced MAE meV", "overall MAE meV", "in the well meV"], rows),
            "\n" + "; ".join(f"from {s.show}" for s in srcs) +
            ": curves.<orientation>.stats.mae_meV, overall.{mae_meV, mae_well_meV}.\n"]
