#!/usr/bin/env python3
"""nve_table.py — the README's NVE table from small-molecules-nve/*.json (scripts/check_nve.py
--json of each molecule's run in models/make_small_molecules.sh)."""
import json
import os

here = os.path.dirname(os.path.abspath(__file__))
print("| molecule | verdict | drift (seed), % | linear drift, meV/atom/ps | std E / mean KE | "
      "mean T, K | what failed |")
print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
for m, name in [("h2o", "H2O"), ("nh3", "NH3"), ("ch4", "CH4"), ("c2h6", "C2H6"),
                ("c6h6", "C6H6"), ("ch3cooh", "CH3COOH"), ("h2o_5", "(H2O)5")]:
    d = json.load(open(os.path.join(here, "small-molecules-nve", m + ".json")))
    c = {x["key"]: x for x in d["criteria"]}

    def v(k, fmt):
        x = c.get(k)
        return "n/a" if not x or x["value"] is None else format(x["value"], fmt)
    failed = "; ".join(x["name"] for x in d["criteria"] if not x["pass"]) or "—"
    print(f"| {name} | {d['verdict']} | {v('drift_pct', '+.6f')} | {v('slope_mev_atom_ps', '+.6f')} "
          f"| {v('std_over_ke', '.4f')} | {v('T_mean', '.1f')} | {failed} |")
