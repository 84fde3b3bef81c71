"""report_headline.py — the headline table of bench/REPORT.md: at most 15 rows, the
configurations a reader decides by, each with its machine, our figure, the figure it is compared
with, the ratio and the JSON file and field of every figure.

Rows: one benzene (FP32, FP16), B = 16 and the 49,152-atom liquid (FP16, FP32) against the PyTorch
reference, on the reference's card and on the newest card (the fastest LAMMPS configuration of each
system there); the largest (10⁶-atom) box on the newest card against its 49,152-atom throughput;
the first two classical peers of the peers file (report_sections.classical_peers) against mlff
on the same machine and data; the NVE runs against the checker's limit; FP16 against FP32 beside
the model's own error: 5 × 2 + 1 + 2 + 1 + 1 = 15 rows at most."""
import re

from report_accuracy import fp16_entry, teacher_entry
from report_fmt import f_sci, f_sig, f_speedup, f_times, f_us, is_num, md_table
from report_rows import accuracy_sources, fastest, gpu_cards, main_cards
from report_sections import OURS, classical_peers, nve_config, nve_sorted, peer_files
from report_targets import TARGET_LIQUID_ATOMS

MAX_ROWS = 15
PEER_NET = "aev_mlp"   # the PyTorch version of our student (docs/validation.md's torch.compile peer)
BIG_BOX = 1_000_000    # the "10⁶-atom box": the largest liquid box of at least this many atoms


class Fig:
    """A figure of the table: its text and the (file, field) pairs it is made of."""

    def __init__(self, text, *sources):
        self.text, self.sources = text, list(sources)


def sources_text(figs):
    """'`file` field, field; `file` field' of the figures' sources, a file named once."""
    by = {}
    for f in figs:
        for s, fld in f.sources:
            by.setdefault(s.show, [])
            if fld not in by[s.show]:
                by[s.show].append(fld)
    return "; ".join(f"`{show}` {', '.join(flds)}" for show, flds in by.items())


class HRow:
    def __init__(self, what, machine, ours, against, theirs, ratio):
        self.what, self.machine, self.against, self.ratio = what, machine, against, ratio
        self.ours, self.theirs = ours, theirs

    def cells(self):
        src = "ours: " + sources_text(self.ours)
        if self.theirs:
            src += " — theirs: " + sources_text(self.theirs)
        return [self.what, self.machine, "; ".join(f.text for f in self.ours), self.against,
                "; ".join(f.text for f in self.theirs) or "—", self.ratio, src]


def time_fig(r):
    unit = " µs/call" if r.api == "C API" else " µs/step"
    return Fig(f_us(r.us) + unit, (r.src, r.field))


def asps_value(r):
    return r.asps if r.asps_field else r.atoms * 1e6 / r.us


def asps_fig(r):
    if r.asps_field:
        return Fig(f"{f_sci(r.asps)} atom-steps/s", (r.src, r.asps_field))
    return Fig(f"{f_sci(asps_value(r))} atom-steps/s", (r.src, f"cases.{r.name}.atoms"),
               (r.src, r.field))


def pytorch_rows(best, ref, cards):
    """Our fastest LAMMPS configuration against the PyTorch reference, per system and card."""
    out = []
    systems = ((1, None, "FP32", False), (1, None, "FP16", False), (16, None, "FP32", False),
               (None, TARGET_LIQUID_ATOMS, "FP16", True), (None, TARGET_LIQUID_ATOMS, "FP32", True))
    for mol, atoms, prec, throughput in systems:
        for card in cards:
            r = fastest(best, card, prec, molecules=mol, atoms=atoms)
            if r is None:
                continue
            modes = ("compile_fp16", "compile") if prec == "FP16" else ("compile",)
            hit = next((h for h in (ref.find(r, PEER_NET, m) for m in modes) if h), None)
            if hit is None:
                continue
            ms, s, fld, mach = hit
            mode = fld.rsplit(".", 1)[1]
            desc = (s.data.get("modes") or {}).get(mode, mode)
            against = f"PyTorch {PEER_NET.replace('_', '-')} {desc} ({mach or '?'}, given by " \
                "the issue)"
            ratio = f_times(ms * 1000 / r.us, "faster", "slower")
            if throughput:
                sysfld = fld.rsplit(".median_ms.", 1)[0] + ".atoms"
                theirs = Fig(f"{f_sci(r.atoms / (ms / 1000))} atom-steps/s", (s, sysfld), (s, fld))
                out.append(HRow(r.config_text(), r.machine, [asps_fig(r)], against, [theirs],
                                ratio))
            else:
                out.append(HRow(r.config_text(), r.machine, [time_fig(r)], against,
                                [Fig(f"{f_us(ms * 1000)} µs/call", (s, fld))], ratio))
    return out


def big_box_row(best, card):
    """The largest liquid box of >= BIG_BOX atoms on a card against the same configuration at
    49,152 atoms."""
    sizes = [r.atoms for r in best.values() if r.api == "LAMMPS" and r.device == "GPU" and
             r.machine == card and not r.molecules and r.atoms >= BIG_BOX]
    if not sizes:
        return []
    r = fastest(best, card, None, atoms=max(sizes))
    k = r.config_key()[:-1] + (("liquid", TARGET_LIQUID_ATOMS),)
    c = best.get(k) or fastest(best, card, r.precision, atoms=TARGET_LIQUID_ATOMS)
    if c is None:
        return [HRow(r.config_text(), r.machine, [asps_fig(r)], "—", [], "—")]
    return [HRow(r.config_text(), r.machine, [asps_fig(r)],
                 f"the same card at {TARGET_LIQUID_ATOMS:,} atoms ({c.setting_text() or 'same'})",
                 [asps_fig(c)], f"{100 * asps_value(r) / asps_value(c):.0f} % of that throughput")]


def classical_rows(used, machines):
    """mlff against each classical potential of bench/peers.py's file: cost per atom-step on
    the same box and machine, force error against the same teacher data."""
    out = []
    for s in peer_files(used):
        ours = s.data["potentials"].get(OURS)
        if not isinstance(ours, dict):
            continue
        for name, p in classical_peers(s):
            ofigs, tfigs, ratios = [], [], []
            for box in ours.get("timing") or {}:
                a = ((ours.get("timing") or {}).get(box) or {}).get("us_per_atom_step")
                b = ((p.get("timing") or {}).get(box) or {}).get("us_per_atom_step")
                if is_num(a) and is_num(b):
                    fld = f"timing.{box}.us_per_atom_step"
                    ofigs.append(Fig(f"{f_sig(a)} µs/atom-step ({box})",
                                     (s, f"potentials.{OURS}.{fld}")))
                    tfigs.append(Fig(f"{f_sig(b)} µs/atom-step", (s, f"potentials.{name}.{fld}")))
                    ratios.append(f_times(b / a, "faster", "slower"))
                    break
            a = ((ours.get("errors") or {}).get("all") or {}).get("force_mae_meV_per_A")
            b = ((p.get("errors") or {}).get("all") or {}).get("force_mae_meV_per_A")
            if is_num(a) and is_num(b):
                fld = "errors.all.force_mae_meV_per_A"
                ofigs.append(Fig(f"F MAE {f_sig(a)} meV/Å", (s, f"potentials.{OURS}.{fld}")))
                tfigs.append(Fig(f"F MAE {f_sig(b)} meV/Å", (s, f"potentials.{name}.{fld}")))
                ratios.append(f_times(b / a, "smaller force error", "larger force error"))
            if not ofigs:
                continue
            style = next((x for x in p.get("pair") or [] if x.startswith("pair_style")), name)
            n = (s.data.get("dataset") or {}).get("structures", "?")
            out.append(HRow(f"mlff against {name}, CPU 1 thread; errors against the teacher on "
                            f"{n} structures", machines.label(s, "CPU"), ofigs,
                            f"{name} (`{style}`), same LAMMPS, machine and data", tfigs,
                            "; ".join(ratios)))
    return out


def nve_row(used, machines):
    """Every NVE run's verdict and the largest linear drift against the checker's limit."""
    runs = nve_sorted(used)
    if not runs:
        return []
    passed = [s for s in runs if s.data.get("verdict") == "PASS"]
    verdict = Fig(f"{len(passed)} of {len(runs)} runs PASS", *[(s, "verdict") for s in runs])
    slopes = [s for s in runs if is_num((s.data.get("values") or {}).get("slope_mev_atom_ps"))]
    mach = ", ".join(dict.fromkeys(machines.nve(s)[1] for s in runs))
    if not slopes:
        return [HRow("NVE (docs/validation.md): every run", mach, [verdict], "—", [], "—")]
    w = max(slopes, key=lambda s: abs(s.data["values"]["slope_mev_atom_ps"]))
    v = w.data["values"]["slope_mev_atom_ps"]
    dev, m = machines.nve(w)
    ours = [verdict, Fig(f"largest linear drift {v:+.6f} meV/atom/ps ({nve_config(w)}, {m})",
                         (w, "values.slope_mev_atom_ps"))]
    crit = w.data.get("criteria") or []
    i = next((i for i, c in enumerate(crit) if c.get("key") == "slope_mev_atom_ps"), None)
    lim = re.search(r"[\d.]+(?:e-?\d+)?$", str(crit[i].get("limit", ""))) if i is not None \
        else None
    if lim is None:
        return [HRow("NVE (docs/validation.md): every run", mach, ours, "—", [], "—")]
    theirs = Fig(f"{crit[i]['limit']} {crit[i].get('unit', '')}".strip(),
                 (w, f"criteria[{i}].limit"))
    x = float(lim.group(0)) / abs(v) if v else float("inf")
    ratio = f"{f_speedup(x)} inside the limit" if x > 1 else "**outside the limit**"
    return [HRow("NVE (docs/validation.md): every run", mach, ours,
                 "`scripts/check_nve.py`'s limit on the linear drift", [theirs], ratio)]


def fp16_row(best, cards):
    """FP16 against FP32 (forces) beside the model's own error against the teacher, from the
    newest GPU file that has both."""
    for s, card in reversed(accuracy_sources(best, cards)):
        acc = s.data["accuracy"]
        f16, tea = fp16_entry(acc), teacher_entry(acc, "gpu", "fp32")
        fk = next((k for k in (f16 or ("", {}))[1] if "force" in k and "rmse" in k), None)
        tk = next((k for k in (tea or ("", {}))[1] if "force" in k and "rmse" in k), None)
        if not (fk and tk):
            continue
        a, b = f16[1][fk], tea[1][tk]
        ours = Fig(f"F RMSE {f_sig(a)} meV/Å (FP16 − FP32)", (s, f"accuracy.{f16[0]}.{fk}"))
        return [HRow("FP16 against FP32: force error on the held-out set", card, [ours],
                     "the model's own error against the teacher (GPU FP32)",
                     [Fig(f"F RMSE {f_sig(b)} meV/Å", (s, f"accuracy.{tea[0]}.{tk}"))],
                     f_times(b / a, "smaller", "larger") if a > 0 else "—")]
    return []


def headline_rows(best, ref, used, machines):
    cards = gpu_cards(best)
    chosen = main_cards(best, ref)
    rows = pytorch_rows(best, ref, chosen)
    rows += big_box_row(best, cards[-1]) if cards else []
    rows += classical_rows(used, machines) + nve_row(used, machines) + fp16_row(best, chosen)
    return rows[:MAX_ROWS], chosen


def headline_section(best, ref, used, machines):
    rows, cards = headline_rows(best, ref, used, machines)
    if not rows:
        return ["No figure in the JSON for the headline table.\n"]
    L = [md_table(["configuration", "machine", "ours", "compared with", "theirs", "ratio",
                   "from (JSON file and field)"], [r.cells() for r in rows]), ""]
    if cards:
        L.append("GPU rows: the fastest LAMMPS configuration of each system on "
                 + " and ".join(cards) + " (named in the row; each card's newest file). The "
                 "PyTorch figures were measured by others on the card named in their cell and "
                 "given by the issue: a row of another card compares across cards. Ratios: their "
                 "time over ours, or our throughput over theirs; for errors, theirs over ours.\n")
    return L
