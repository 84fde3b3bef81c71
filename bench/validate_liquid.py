#!/usr/bin/env python3
"""validate_liquid.py — physical validation of a liquid from LAMMPS logs (docs/validation.md, issue 21).

usage: validate_liquid.py --npt LOG [LOG ...] [--skip-ps PS] [--gas LOG] [--rdf FILE]
                          [--compound NAME|FORMULA|none]
                          [--machine NAME] [--label L] [--json FILE | --results DIR]
                          [--plots DIR | --no-plot] [--blocks 5] [limits ...]

Reads the log of examples/lammps/in.liquid_npt (the rows after "MLFF_NPT_PRODUCTION_BEGIN"),
the log of examples/lammps/in.gas_nvt (after "MLFF_GAS_PRODUCTION_BEGIN") and the RDF file of
the NPT run, and reports (several NPT logs: a run cut by its walltime and its continuations
from final.data, joined into one production; --skip-ps: its first PS count as equilibration):

  density     block average over production (--blocks, 5), error bar = standard error of the
              block means; drift = linear-fit slope x production time / mean (%)
  compress.   isothermal compressibility from the volume's fluctuations within each block
  energies    <E_liq>/N_mol and <E_gas> (potential energies, block averages), N_mol = atoms of the
              liquid / atoms of the gas run's molecule (--atoms-per-molecule overrides)
  dH_vap      <E_gas> - <E_liq>/N_mol + R T (kJ/mol; T = the runs' target temperature), error
              from the two standard errors
  RDF         g(r) and coordination of each element pair, averaged over production
  verdicts    density within 5 % of experiment, dH_vap within 10 % (the issue's pass lines),
              stable = |production density drift| < 1 % and no atom lost (run complete)

The experimental yardsticks (docs/validation.md) are the only numbers typed in here; every other figure is
read from the logs. The JSON (--json, or --results DIR/<machine>-<date>-liquid-<label>.json)
holds every figure, the inputs and the verdicts; plots (matplotlib, when importable): density
against time and the RDFs. Python standard library only (matplotlib optional).
Exit status: 0 PASS, 1 FAIL, 2 not judgeable (no production rows, or a criterion without a
yardstick or without its run, e.g. no gas run or no experimental value).
"""
import argparse
import datetime
import hashlib
import json
import math
import os
import re
import sys

EV_KJMOL = 96.48533212  # eV -> kJ/mol (e N_A / 1000, exact since SI 2019)
R_KJMOL = 8.314462618e-3  # kJ/(mol K)

# Experimental yardsticks (docs/validation.md): density g/cm^3, dH_vap kJ/mol, self-diffusion
# D 1e-9 m^2/s (Holz, Heil and Sacco, Phys. Chem. Chem. Phys. 2, 4740 (2000), 25 C), at T_K.
EXPERIMENT = {
    "benzene": {"formula": "C6H6", "density": 0.874, "dhvap": 33.9, "D": 2.207, "T_K": 298.0},
    "water": {"formula": "H2O", "density": 0.997, "dhvap": None, "D": 2.299, "T_K": 298.0},
    "ethanol": {"formula": "C2H6O", "density": 0.789, "dhvap": None, "D": None, "T_K": 298.0},
}
EXPERIMENT_SOURCE = "docs/validation.md (experimental yardsticks), at 298 K"


class LogError(Exception):
    pass


# ---- reading ------------------------------------------------------------------------------------
def kv(line):
    """key=value tokens of a marker line."""
    return dict(t.split("=", 1) for t in line.split()[1:] if "=" in t)


def is_number(s):
    try:
        float(s)
        return True
    except ValueError:
        return False


def parse_log(path, prefix):
    """The sections of a log of in.liquid_npt (prefix MLFF_NPT) or in.gas_nvt (MLFF_GAS).

    Returns a dict: setup (key=value of PREFIX_SETUP), elements, rdf_pairs, eq / prod (dicts of
    columns: name -> list of floats, from the thermo rows after PREFIX_EQ_BEGIN and
    PREFIX_PRODUCTION_BEGIN), markers, complete (PREFIX_PRODUCTION_END seen), errors (ERROR
    lines), lost (a "Lost atoms" message), version (LAMMPS's)."""
    try:
        lines = open(path, errors="replace").read().splitlines()
    except OSError as e:
        raise LogError(f"cannot read {path}: {e}")
    out = {"setup": {}, "elements": [], "rdf_pairs": [], "eq": {}, "prod": {}, "markers": {},
           "complete": False, "errors": [], "lost": False, "version": None, "path": path}
    section, cols = None, None
    for ln in lines:
        s = ln.strip()
        if out["version"] is None:
            m = re.match(r"LAMMPS \((.+)\)", s)
            if m:
                out["version"] = m.group(1)
        if s.startswith(prefix + "_SETUP"):
            out["setup"] = kv(s)
        elif s.startswith("MLFF_ELEMENTS"):
            out["elements"] = s.split()[1:]
        elif s.startswith("MLFF_RDF_PAIRS"):
            out["rdf_pairs"] = s.split()[1:]
        elif s.startswith(prefix + "_EQ_BEGIN"):
            section, cols = "eq", None
            out["markers"]["eq"] = kv(s)
        elif s.startswith(prefix + "_PRODUCTION_BEGIN"):
            section, cols = "prod", None
            out["markers"]["prod"] = kv(s)
        elif s.startswith(prefix + "_PRODUCTION_END"):
            end = kv(s)
            out["markers"]["end"] = end
            section = None
            # a walltime (in.liquid_npt's timer timeout) may have cut the production short
            if "planned" in end and float(end.get("steps", 0)) < float(end["planned"]):
                out["errors"].append(f"production cut short by the walltime: {end.get('steps')} of "
                                     f"{end['planned']} steps ran")
            else:
                out["complete"] = True
        elif s.startswith("ERROR"):
            out["errors"].append(s)
            if "Lost atoms" in s:
                out["lost"] = True
        elif "Lost atoms" in s:
            out["lost"] = True
        elif section and s.startswith("Step "):
            cols = s.split()
            out[section] = {c: [] for c in cols}
        elif section and cols and s.startswith("Loop time"):
            cols = None
        elif section and cols:
            w = s.split()
            if len(w) == len(cols) and all(is_number(v) for v in w):
                for c, v in zip(cols, w):
                    out[section][c].append(float(v))
    return out


def join_segments(paths, prefix="MLFF_NPT"):
    """One production from the logs of a run and its continuations (in.liquid_npt from the
    previous one's final.data, velocities data, no minimisation, NVT or equilibration): their
    production rows in order, each continuation's time and step offset by the end of the one
    before (its first row, the restart's state, dropped). Setup, equilibration and markers are
    the first log's. A walltime cut is how a segment ends, so it is no error here; any other
    error or lost atoms in any segment still is. Each segment's own production is kept in
    "segments" (the MSD restarts with each)."""
    segs = [parse_log(p, prefix) for p in paths]
    out = segs[0]
    if len(segs) == 1:
        out["segments"] = [{"path": paths[0], "prod": out["prod"]}]
        return out
    first = out["markers"].get("prod", {})
    own = [g["prod"] for g in segs]
    prod = {c: list(v) for c, v in out["prod"].items()}
    cols = list(prod)
    errors, complete = [], True
    for path, seg in zip(paths, segs):
        cut = [e for e in seg["errors"] if e.startswith("production cut short by the walltime")]
        errors += [e for e in seg["errors"] if e not in cut]
        complete = complete and (seg["complete"] or bool(cut))
        out["lost"] = out["lost"] or seg["lost"]
    for path, seg in zip(paths[1:], segs[1:]):
        m = seg["markers"].get("prod", {})
        for key in ("temp", "press", "atoms"):
            if key in first and key in m and float(first[key]) != float(m[key]):
                raise LogError(f"{path}: a continuation at {key} {m[key]}, the run it continues "
                               f"({paths[0]}) at {first[key]}")
        if list(seg["prod"]) != cols:
            raise LogError(f"{path}: production columns {' '.join(seg['prod'])} differ from those "
                           f"of {paths[0]} ({' '.join(cols)})")
        if not prod.get("Time"):
            raise LogError(f"{paths[0]}: no production rows before the continuation {path}")
        t0, s0 = prod["Time"][-1], prod["Step"][-1]
        rows = range(1 if seg["prod"]["Step"] and seg["prod"]["Step"][0] == 0 else 0,
                     len(seg["prod"]["Step"]))
        for c in cols:
            add = t0 if c == "Time" else s0 if c == "Step" else 0.0
            prod[c] += [seg["prod"][c][k] + add for k in rows]
    out["prod"], out["errors"], out["complete"] = prod, errors, complete
    out["segments"] = [{"path": p, "prod": g} for p, g in zip(paths, own)]
    return out


def parse_rdf(path):
    """The last block of a fix ave/time (mode vector) file of compute rdf: (r, [(g, coord)])."""
    try:
        lines = [ln.split() for ln in open(path) if ln.strip() and not ln.startswith("#")]
    except OSError as e:
        raise LogError(f"cannot read {path}: {e}")
    block, i = None, 0
    while i < len(lines):
        w = lines[i]
        if len(w) == 2:
            n = int(w[1])
            block = lines[i + 1:i + 1 + n]
            i += 1 + n
        else:
            i += 1
    if not block:
        raise LogError(f"{path}: no RDF block")
    r = [float(w[1]) for w in block]
    npair = (len(block[0]) - 2) // 2
    pairs = [([float(w[2 + 2 * k]) for w in block], [float(w[3 + 2 * k]) for w in block])
             for k in range(npair)]
    return r, pairs


# ---- statistics ---------------------------------------------------------------------------------
def mean(x):
    return sum(x) / len(x)


def blocks_of(x, nblocks):
    """The last nblocks * floor(n / nblocks) values in nblocks equal blocks (the remainder dropped
    at the start, so that the blocks end with the run)."""
    size = len(x) // nblocks
    used = x[len(x) - size * nblocks:]
    return [used[k * size:(k + 1) * size] for k in range(nblocks)]


def block_average(x, nblocks=5):
    """Mean of the last nblocks * floor(n / nblocks) values, the block means, and the standard
    error of the block means (std with ddof 1 / sqrt(nblocks)); None when n < nblocks."""
    n = len(x)
    if nblocks < 2 or n < nblocks:
        return None
    size = n // nblocks
    used = x[n - size * nblocks:]
    blocks = [mean(b) for b in blocks_of(x, nblocks)]
    m = mean(blocks)
    var = sum((b - m) ** 2 for b in blocks) / (nblocks - 1)
    return {"mean": m, "se": math.sqrt(var / nblocks), "block_means": blocks,
            "block_rows": size, "rows_used": size * nblocks, "std": math.sqrt(
                sum((v - m) ** 2 for v in used) / max(1, len(used) - 1))}


def compressibility(vol_a3, temp_k, nblocks=5):
    """Isothermal compressibility from NPT volume fluctuations, kappa_T = <dV^2> / (k_B T <V>),
    within each block (so that a slow drift of the volume does not count as a fluctuation): the
    mean over the blocks (1/bar) and its standard error, and dP/drho = 1 / (rho kappa_T) follows
    from it. None with fewer than 10 rows per block."""
    if nblocks < 2 or len(vol_a3) // nblocks < 10:
        return None
    kt_bar_a3 = 1.380649e-23 * temp_k * 1e30 / 1e5  # k_B T in bar Å^3
    ks = []
    for v in blocks_of(vol_a3, nblocks):
        m = mean(v)
        ks.append(sum((x - m) ** 2 for x in v) / (len(v) - 1) / (kt_bar_a3 * m))
    m = mean(ks)
    return {"mean_per_bar": m, "se_per_bar": math.sqrt(sum((k - m) ** 2 for k in ks) /
                                                       (nblocks - 1) / nblocks),
            "blocks_per_bar": ks, "method": "volume fluctuations within each block, "
            "<dV^2> / (k_B T <V>); needs a barostat that samples NPT (LAMMPS's fix npt, MTK)"}


def linear_fit(t, y):
    """Least-squares slope and intercept."""
    n = len(t)
    tm, ym = mean(t), mean(y)
    stt = sum((a - tm) ** 2 for a in t)
    if n < 2 or stt == 0:
        return 0.0, ym
    slope = sum((a - tm) * (b - ym) for a, b in zip(t, y)) / stt
    return slope, ym - slope * tm


def drift_pct(t, y):
    """Linear-fit change of y over the span of t, in % of the mean of y."""
    slope, _ = linear_fit(t, y)
    m = mean(y)
    return 100.0 * slope * (t[-1] - t[0]) / m if m else float("inf"), slope


def dhvap(e_gas, se_gas, e_liq_per_mol, se_liq_per_mol, temp_k):
    """Heat of vaporisation, kJ/mol: <E_gas> - <E_liq>/N + R T (energies in eV per molecule)."""
    du = (e_gas - e_liq_per_mol) * EV_KJMOL
    rt = R_KJMOL * temp_k
    err = math.hypot(se_gas, se_liq_per_mol) * EV_KJMOL
    return {"dhvap_kJmol": du + rt, "err_kJmol": err, "dU_kJmol": du, "RT_kJmol": rt,
            "T_K": temp_k}


def find_experiment(compound):
    """The yardsticks of a compound named or given by its formula; None when not in the table."""
    if not compound or compound.lower() == "none":
        return None
    c = compound.strip()
    for name, e in EXPERIMENT.items():
        if c.lower() == name or c == e["formula"]:
            return dict(e, name=name)
    return None


def criterion(name, value, limit, ok, unit="", note=""):
    """One verdict line: outcome PASS / FAIL / 'not judged' (ok None)."""
    return {"name": name, "value": value, "limit": limit, "unit": unit,
            "outcome": "not judged" if ok is None else ("PASS" if ok else "FAIL"), "note": note}


def rel_dev_pct(value, ref):
    return 100.0 * (value - ref) / ref


def rdf_peaks(r, g, max_peaks=5, window=3, floor=1.2):
    """Peaks of g: bins that are the largest within +-window bins and at least floor, as (r, g),
    in order of r (LAMMPS's RDF counts every pair: the molecule's own pairs give the sharp
    peaks at short r)."""
    peaks = []
    for i in range(len(g)):
        lo, hi = max(0, i - window), min(len(g), i + window + 1)
        # the largest within the window, and the first of a plateau
        if g[i] >= floor and g[i] == max(g[lo:hi]) and g[i] not in g[lo:i]:
            peaks.append((r[i], g[i]))
    return [{"r": round(a, 4), "g": round(b, 4)} for a, b in peaks[:max_peaks]]


def pair_labels(elements, rdf_pairs):
    """Element labels of compute rdf's type pairs ("1 1 1 2" -> C-C C-H for elements C H)."""
    def el(spec):
        try:
            t = int(spec.split("*")[0] or 1)
            return elements[t - 1]
        except (ValueError, IndexError):
            return f"type{spec}"
    return [f"{el(rdf_pairs[k])}-{el(rdf_pairs[k + 1])}" for k in range(0, len(rdf_pairs) - 1, 2)]


def thin(xs, nmax=2000):
    step = max(1, math.ceil(len(xs) / nmax))
    return xs[::step]


# ---- the analysis -------------------------------------------------------------------------------
def analyse(a):
    npt = join_segments(a.npt)
    prod = npt["prod"]
    if not prod.get("Density"):
        raise LogError(f"{a.npt[0]}: no production thermo rows with a Density column after "
                       "MLFF_NPT_PRODUCTION_BEGIN" + (f" ({npt['errors'][-1]})"
                                                      if npt["errors"] else ""))
    for c in ("Time", "PotEng", "Atoms"):
        if c not in prod:
            raise LogError(f"{a.npt[0]}: the production thermo rows lack the column {c}")
    marker = npt["markers"].get("prod", {})
    temp_k = float(marker.get("temp", npt["setup"].get("temp", "nan")))
    press_bar = float(marker.get("press", npt["setup"].get("press", "nan")))
    atoms0 = int(float(marker.get("atoms", prod["Atoms"][0])))
    eq = npt["eq"]
    skipped = {}
    if a.skip_ps > 0:
        # the first skip_ps of production count as equilibration (a liquid still settling)
        k0 = next((k for k, x in enumerate(prod["Time"]) if x - prod["Time"][0] >= a.skip_ps),
                  None)
        if k0 is None or len(prod["Time"]) - k0 < 2:
            raise LogError(f"{a.npt[-1]}: --skip-ps {a.skip_ps} leaves no production (it has "
                           f"{prod['Time'][-1] - prod['Time'][0]:.3f} ps)")
        skipped = {c: v[:k0] for c, v in prod.items()}
        prod = {c: v[k0:] for c, v in prod.items()}
    t, rho = prod["Time"], prod["Density"]
    nb = a.blocks
    res = {"source": "bench/validate_liquid.py (docs/validation.md, issue 21) from LAMMPS logs",
           "machine": a.machine, "date": a.date, "label": a.label,
           "lammps_version": npt["version"]}
    liq = {"rows": len(rho), "production_ps": t[-1] - t[0], "target_temp_K": temp_k,
           "target_press_bar": press_bar, "atoms": atoms0, "complete": npt["complete"],
           "errors": npt["errors"][-3:]}
    d = block_average(rho, nb)
    drift, slope = drift_pct(t, rho)
    liq["density_g_cm3"] = dict(d or {"mean": mean(rho), "se": None},
                                drift_pct=drift, slope_per_ps=slope, first=rho[0], last=rho[-1])
    for col, key in (("Temp", "temp_K"), ("Press", "press_bar"), ("Volume", "volume_A3"),
                     ("PotEng", "pe_eV")):
        if prod.get(col):
            liq[key] = block_average(prod[col], nb) or {"mean": mean(prod[col]), "se": None}
    kap = compressibility(prod.get("Volume", []), temp_k, nb) if math.isfinite(temp_k) else None
    if kap:
        kap["dP_drho_bar_per_g_cm3"] = 1.0 / (liq["density_g_cm3"]["mean"] * kap["mean_per_bar"])
        liq["compressibility"] = kap
    lost = npt["lost"] or any(n != atoms0 for n in prod["Atoms"] + skipped.get("Atoms", []))
    liq["atoms_lost"] = lost
    liq["atoms_last"] = int(prod["Atoms"][-1])
    if len(a.npt) > 1:
        liq["segments"] = [{"log": g["path"], "production_ps": (g["prod"]["Time"][-1] -
                                                               g["prod"]["Time"][0])
                            if g["prod"].get("Time") else 0.0} for g in npt["segments"]]
    if skipped:
        liq["skipped_ps"] = t[0] - skipped["Time"][0]
        liq["skipped_density_first_last"] = [skipped["Density"][0], skipped["Density"][-1]]
    if eq.get("Density"):
        liq["eq_density_first_last"] = [eq["Density"][0], eq["Density"][-1]]
    res["liquid"] = liq

    # the gas run and the number of molecules
    gas, apm = None, a.atoms_per_molecule
    if a.gas:
        g = parse_log(a.gas, "MLFF_GAS")
        gp = g["prod"]
        if not gp.get("PotEng"):
            raise LogError(f"{a.gas}: no production thermo rows with a PotEng column after "
                           "MLFF_GAS_PRODUCTION_BEGIN")
        gm = g["markers"].get("prod", {})
        g_atoms = int(float(gm.get("atoms", gp["Atoms"][0] if gp.get("Atoms") else 0)))
        gas = {"rows": len(gp["PotEng"]), "production_ps": gp["Time"][-1] - gp["Time"][0]
               if gp.get("Time") else None, "atoms": g_atoms, "complete": g["complete"],
               "target_temp_K": float(gm.get("temp", g["setup"].get("temp", "nan"))),
               "errors": g["errors"][-3:], "lammps_version": g["version"],
               "atoms_lost": g["lost"] or any(n != g_atoms for n in gp.get("Atoms", []))}
        gas["pe_eV"] = block_average(gp["PotEng"], nb) or {"mean": mean(gp["PotEng"]),
                                                           "se": None}
        if gp.get("Temp"):
            gas["temp_K"] = block_average(gp["Temp"], nb) or {"mean": mean(gp["Temp"])}
        if gp.get("Time"):
            gas["pe_drift_eV_per_ps"] = linear_fit(gp["Time"], gp["PotEng"])[0]
        gas["setup"] = g["setup"]
        res["gas"] = gas
        if apm is None:
            apm = g_atoms
    nmol = None
    if apm:
        if atoms0 % apm:
            raise LogError(f"the liquid's {atoms0} atoms are not a whole number of molecules of "
                           f"{apm} atoms")
        nmol = atoms0 // apm
    liq["atoms_per_molecule"] = apm
    liq["molecules"] = nmol
    if nmol:
        pe = liq["pe_eV"]
        liq["pe_per_molecule_eV"] = {"mean": pe["mean"] / nmol,
                                     "se": pe["se"] / nmol if pe.get("se") is not None else None}
        liq["pe_per_molecule_kJmol"] = pe["mean"] / nmol * EV_KJMOL

    dh = None
    if gas and nmol and gas["pe_eV"].get("se") is not None and liq["pe_eV"].get("se") is not None:
        dh = dhvap(gas["pe_eV"]["mean"], gas["pe_eV"]["se"], liq["pe_per_molecule_eV"]["mean"],
                   liq["pe_per_molecule_eV"]["se"], temp_k)
        if abs(gas["target_temp_K"] - temp_k) > 1e-6:
            dh["note"] = (f"gas run at {gas['target_temp_K']} K, liquid at {temp_k} K; "
                          "R T at the liquid's")
        res["dhvap"] = dh

    # RDF
    rdf_path = a.rdf
    if rdf_path is None and marker.get("rdf_file"):
        cand = os.path.join(os.path.dirname(os.path.abspath(a.npt[-1])), marker["rdf_file"])
        rdf_path = cand if os.path.exists(cand) else None
    if rdf_path:
        r, pairs = parse_rdf(rdf_path)
        labels = pair_labels(npt["elements"], npt["rdf_pairs"])
        if len(labels) != len(pairs):
            labels = [f"pair{k + 1}" for k in range(len(pairs))]
        res["rdf"] = {"file": rdf_path, "samples": marker.get("rdf_samples"), "r_A": r,
                      "pairs": [{"pair": lab, "g": [round(v, 5) for v in gg],
                                 "coord": [round(v, 5) for v in cc], "peaks": rdf_peaks(r, gg)}
                                for lab, (gg, cc) in zip(labels, pairs)]}

    # self-diffusion from the atoms' mean-squared displacement (in.liquid_npt's c_msd[4]): a
    # liquid's grows linearly, a solid's or a glass's levels off
    exp = find_experiment(a.compound)
    tm, msd = t, prod.get("c_msd[4]")
    if len(npt["segments"]) > 1:
        # the MSD restarts with each segment: the last one's own
        last = npt["segments"][-1]["prod"]
        tm, msd = last.get("Time", []), last.get("c_msd[4]")
    if msd and len(msd) >= 2 * nb:
        n = len(tm)
        second = range(n // 2, n)
        slope = linear_fit([tm[k] for k in second], [msd[k] for k in second])[0]
        edges = [round(k * n / nb) for k in range(nb + 1)]
        blocks = [linear_fit(tm[edges[b]:edges[b + 1]], msd[edges[b]:edges[b + 1]])[0] * 10 / 6
                  for b in range(nb) if edges[b + 1] - edges[b] >= 2]
        dif = {"D_1e-9_m2_s": slope * 10 / 6, "D_blocks_1e-9_m2_s": blocks,
               "msd_end_A2": msd[-1],
               "method": "slope of the atoms' MSD (A^2/ps) over the second half of production / 6 "
                         "(1 A^2/ps = 1e-8 m^2/s); per block the slope within it; no finite-size "
                         "correction (Yeh-Hummer: about +10 % for 1,000 molecules)"}
        if len(npt["segments"]) > 1:
            dif["segment"] = npt["segments"][-1]["path"]
        if tm[-1] - tm[0] < 20.0:
            dif["note"] = ("production shorter than 20 ps: the MSD is still ballistic and "
                           "rotational, not diffusive; D is not meaningful")
        if exp and exp.get("D"):
            dif["experiment_1e-9_m2_s"] = exp["D"]
            dif["dev_pct"] = rel_dev_pct(dif["D_1e-9_m2_s"], exp["D"])
        res["diffusion"] = dif

    # verdicts
    res["experiment"] = dict(exp, source=EXPERIMENT_SOURCE) if exp else None
    crit = []
    dm = liq["density_g_cm3"]["mean"]
    if exp and exp.get("density"):
        dev = rel_dev_pct(dm, exp["density"])
        crit.append(criterion("density vs experiment", dev, a.max_density_dev_pct,
                              abs(dev) < a.max_density_dev_pct, "%",
                              f"{dm:.4f} vs {exp['density']} g/cm^3"))
    else:
        crit.append(criterion("density vs experiment", None, a.max_density_dev_pct, None, "%",
                              f"no experimental density for {a.compound!r}"))
    if dh and exp and exp.get("dhvap"):
        dev = rel_dev_pct(dh["dhvap_kJmol"], exp["dhvap"])
        crit.append(criterion("dH_vap vs experiment", dev, a.max_dhvap_dev_pct,
                              abs(dev) < a.max_dhvap_dev_pct, "%",
                              f"{dh['dhvap_kJmol']:.2f} vs {exp['dhvap']} kJ/mol"))
    else:
        why = ("no gas run (<E_gas> needed)" if not gas else
               "molecule count unknown" if not nmol else
               "too few rows for block averages" if not dh else
               f"no experimental dH_vap for {a.compound!r}")
        crit.append(criterion("dH_vap vs experiment", None, a.max_dhvap_dev_pct, None, "%", why))
    why = []
    if abs(drift) >= a.max_drift_pct:
        why.append(f"density drift {drift:+.2f} % over production")
    if lost:
        why.append("atoms lost")
    if not npt["complete"]:
        end = npt["markers"].get("end")
        why.append("run incomplete (" + (npt["errors"][0] if end else
                                         "no MLFF_NPT_PRODUCTION_END") + ")")
    crit.append(criterion("stable (density drift, atoms, run complete)", drift, a.max_drift_pct,
                          not why, "%", "; ".join(why) or
                          f"drift {drift:+.3f} %, {atoms0} atoms kept, run complete"))
    if gas and (gas["atoms_lost"] or not gas["complete"]):
        crit.append(criterion("gas run complete", None, None, False, "",
                              "gas run incomplete or atoms lost"))
    res["criteria"] = crit
    outcomes = [c["outcome"] for c in crit]
    res["verdict"] = ("FAIL" if "FAIL" in outcomes else
                      "PASS" if all(o == "PASS" for o in outcomes) else "NOT JUDGED")
    res["limits"] = {"density_dev_pct": a.max_density_dev_pct,
                     "dhvap_dev_pct": a.max_dhvap_dev_pct, "density_drift_pct": a.max_drift_pct,
                     "blocks": nb}

    # inputs and series
    model = npt["setup"].get("model")
    inputs = {"npt_log": a.npt[0] if len(a.npt) == 1 else a.npt, "gas_log": a.gas,
              "rdf_file": rdf_path, "compound": a.compound, "skip_ps": a.skip_ps,
              "setup": npt["setup"], "production_marker": marker, "elements": npt["elements"],
              "model": model}
    if model and os.path.exists(model):
        inputs["model_sha256"] = hashlib.sha256(open(model, "rb").read()).hexdigest()
    res["inputs"] = inputs
    # times relative to the start of production (after the skipped part); equilibration before
    eq_end = eq["Time"][-1] if eq.get("Time") else 0.0
    pre = skipped.get("Time", [])
    eq_t = ([x - eq_end - (t[0] - pre[0] if pre else 0.0) for x in eq.get("Time", [])] +
            [x - t[0] for x in pre])
    eq_rho = eq.get("Density", []) + skipped.get("Density", [])
    t = [x - t[0] for x in t] if skipped else t
    res["series"] = {
        "eq": {"time_ps": thin(eq_t), "density": thin(eq_rho)},
        "prod": {"time_ps": thin(t), "density": thin(rho), "pe_eV": thin(prod["PotEng"])},
        "note": "eq times end at 0 (production starts at 0); at most 2000 rows each"}
    return res


# ---- output -------------------------------------------------------------------------------------
def fmt(v, spec=".4f"):
    return "n/a" if v is None else format(v, spec)


def table(res):
    liq = res["liquid"]
    d = liq["density_g_cm3"]
    out = [f"liquid validation: {res['label']} on {res['machine']} ({res['date']})",
           f"  production      {liq['production_ps']:.3f} ps, {liq['rows']} rows, "
           f"{liq['atoms']} atoms, {liq['molecules'] or '?'} molecules, "
           f"T {liq['target_temp_K']} K, P {liq['target_press_bar']} bar",
           f"  density         {fmt(d['mean'])} ± {fmt(d.get('se'))} g/cm^3 "
           f"(first {d['first']:.4f}, last {d['last']:.4f}, drift {d['drift_pct']:+.2f} %)"]
    if "segments" in liq:
        out.insert(2, f"  segments        {len(liq['segments'])} logs joined: " +
                   " + ".join(f"{g['production_ps']:.1f}" for g in liq["segments"]) + " ps")
    if "skipped_ps" in liq:
        f0, f1 = liq["skipped_density_first_last"]
        out.insert(2, f"  skipped         the first {liq['skipped_ps']:.3f} ps of production "
                   f"(density {f0:.4f} -> {f1:.4f})")
    if "temp_K" in liq:
        out.append(f"  temperature     {liq['temp_K']['mean']:.2f} K (mean)")
    if "compressibility" in liq:
        k = liq["compressibility"]
        out.append(f"  compressibility {k['mean_per_bar']:.3e} ± {k['se_per_bar']:.1e} 1/bar "
                   f"(dP/drho {k['dP_drho_bar_per_g_cm3']:.0f} bar per g/cm^3)")
    if "pe_per_molecule_eV" in liq:
        p = liq["pe_per_molecule_eV"]
        out.append(f"  E_liq/N_mol     {p['mean']:.6f} ± {fmt(p['se'], '.6f')} eV")
    if "gas" in res:
        g = res["gas"]["pe_eV"]
        out.append(f"  <E_gas>         {g['mean']:.6f} ± {fmt(g.get('se'), '.6f')} eV "
                   f"({res['gas']['production_ps']:.3f} ps)")
    if "dhvap" in res:
        h = res["dhvap"]
        out.append(f"  dH_vap          {h['dhvap_kJmol']:.2f} ± {h['err_kJmol']:.2f} kJ/mol "
                   f"(dU {h['dU_kJmol']:.2f} + RT {h['RT_kJmol']:.3f})")
    if "diffusion" in res:
        f = res["diffusion"]
        blocks = ", ".join(f"{x:.2f}" for x in f["D_blocks_1e-9_m2_s"])
        vs = (f" (experiment {f['experiment_1e-9_m2_s']}: {f['dev_pct']:+.0f} %)"
              if "experiment_1e-9_m2_s" in f else "")
        out.append(f"  self-diffusion  D {f['D_1e-9_m2_s']:.3f}e-9 m^2/s{vs}; per block {blocks}; "
                   f"MSD at the end {f['msd_end_A2']:.1f} A^2" +
                   (f" ({f['note']})" if "note" in f else ""))
    e = res["experiment"]
    if e:
        out.append(f"  experiment      {e['name']}: {e['density']} g/cm^3, dH_vap "
                   f"{fmt(e['dhvap'], '.1f')} kJ/mol ({e['T_K']:.0f} K)")
    for c in res["criteria"]:
        val = "" if c["value"] is None else f" {c['value']:+.2f} {c['unit']}"
        lim = "" if c["limit"] is None else f" (limit {c['limit']} {c['unit']})"
        out.append(f"  [{c['outcome']}] {c['name']}:{val}{lim} — {c['note']}")
    out.append(f"  verdict         {res['verdict']}")
    return "\n".join(out)


def plots(res, outdir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"validate_liquid.py: no plots: matplotlib is not importable by {sys.executable} "
              "(Debian: apt-get install python3-matplotlib; or --no-plot)", file=sys.stderr)
        return []
    outdir = os.path.abspath(outdir)
    os.makedirs(outdir, exist_ok=True)
    made = []
    s, d = res["series"], res["liquid"]["density_g_cm3"]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    if s["eq"]["time_ps"]:
        ax.plot(s["eq"]["time_ps"], s["eq"]["density"], color="0.6", lw=1, label="equilibration")
    ax.plot(s["prod"]["time_ps"], s["prod"]["density"], color="C0", lw=1, label="production")
    if d.get("block_means"):
        t0, t1 = s["prod"]["time_ps"][0], s["prod"]["time_ps"][-1]
        nb = len(d["block_means"])
        w = (t1 - t0) / nb
        for k, b in enumerate(d["block_means"]):
            ax.hlines(b, t0 + k * w, t0 + (k + 1) * w, color="C1", lw=2,
                      label="block means" if k == 0 else None)
        ax.errorbar([t1 + 0.02 * (t1 - t0 or 1)], [d["mean"]], yerr=[d["se"]], fmt="o",
                    color="C1", capsize=4, label=f"mean {d['mean']:.4f} ± {d['se']:.4f}")
    e = res["experiment"]
    if e and e.get("density"):
        lim = res["limits"]["density_dev_pct"] / 100
        ax.axhline(e["density"], color="k", ls="--", lw=1,
                   label=f"experiment {e['density']} ({e['T_K']:.0f} K)")
        ax.axhspan(e["density"] * (1 - lim), e["density"] * (1 + lim), color="C2", alpha=0.12,
                   label=f"± {res['limits']['density_dev_pct']:g} %")
    ax.set_xlabel("time (ps; production starts at 0)")
    ax.set_ylabel("density (g/cm³)")
    ax.set_title(f"NPT density, {res['label']} ({res['machine']})")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    p = os.path.join(outdir, f"density-{res['label']}.png")
    fig.savefig(p, dpi=120)
    plt.close(fig)
    made.append(p)
    if "rdf" in res:
        r = res["rdf"]["r_A"]
        fig, ax = plt.subplots(figsize=(9, 4.5))
        top = 2.0
        for k, pr in enumerate(res["rdf"]["pairs"]):
            ax.plot(r, pr["g"], lw=1.2, label=pr["pair"], color=f"C{k}")
            far = [g for x, g in zip(r, pr["g"]) if x >= 2.5]
            if far:
                top = max(top, 1.3 * max(far))
        ax.axhline(1.0, color="0.5", lw=0.8, ls=":")
        ax.set_ylim(0, top)
        ax.set_xlim(0, r[-1])
        ax.set_xlabel("r (Å)")
        ax.set_ylabel("g(r)")
        ax.set_title(f"RDF over production, {res['label']} (intramolecular peaks clipped)")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
        fig.tight_layout()
        p = os.path.join(outdir, f"rdf-{res['label']}.png")
        fig.savefig(p, dpi=120)
        plt.close(fig)
        made.append(p)
    return made


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--npt", required=True, nargs="+",
                    help="log of examples/lammps/in.liquid_npt; several: a run and its "
                    "continuations from final.data, joined into one production")
    ap.add_argument("--skip-ps", type=float, default=0.0,
                    help="the first ps of production count as equilibration (default 0)")
    ap.add_argument("--gas", help="log of examples/lammps/in.gas_nvt")
    ap.add_argument("--rdf", help="RDF file of the NPT run (default: the log's rdf_file, "
                    "next to the log)")
    ap.add_argument("--compound", default="none",
                    help="name or formula for the experimental yardsticks (benzene, C6H6, "
                    "water, ethanol; none)")
    ap.add_argument("--machine", default="vm")
    ap.add_argument("--label", default="liquid")
    ap.add_argument("--date", default=datetime.datetime.now(datetime.timezone.utc)
                    .strftime("%Y-%m-%d"))
    ap.add_argument("--json", help="output JSON (default RESULTS/<machine>-<date>-liquid-"
                    "<label>.json)")
    ap.add_argument("--results", default=os.path.join(os.path.dirname(os.path.abspath(
        __file__)), "results"))
    ap.add_argument("--plots", help="folder for the PNG plots (default: next to the NPT log)")
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--blocks", type=int, default=5)
    ap.add_argument("--atoms-per-molecule", type=int,
                    help="default: the atom count of the gas run")
    ap.add_argument("--max-density-dev-pct", type=float, default=5.0)
    ap.add_argument("--max-dhvap-dev-pct", type=float, default=10.0)
    ap.add_argument("--max-drift-pct", type=float, default=1.0)
    a = ap.parse_args(argv)
    try:
        res = analyse(a)
    except LogError as e:
        print(f"validate_liquid.py: cannot judge: {e}", file=sys.stderr)
        return 2
    if not a.no_plot:
        res["plots"] = plots(res, a.plots or os.path.dirname(os.path.abspath(a.npt[-1])))
    path = a.json or os.path.join(a.results, f"{a.machine}-{a.date}-liquid-{a.label}.json")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    print(table(res))
    print(f"  json            {path}")
    for p in res.get("plots", []):
        print(f"  plot            {p}")
    return {"PASS": 0, "FAIL": 1}.get(res["verdict"], 2)


if __name__ == "__main__":
    sys.exit(main())
