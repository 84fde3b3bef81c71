"""REPORT.md: what a model's optional terms cost on the GPU, from bench/device_dispersion.sh
(the dispersion, or its three-body part: the model with the term against the same model
without it) and bench/device_committee.sh (a committee against its member 0 alone), both on
the 49,152-atom liquid in LAMMPS (issues 21 and 23)."""
from report_fmt import f_us, md_table, verdict

TARGET_DISP_SHARE = 0.25   # issue 21: the dispersion's GPU cost, at most this share of the step
TARGET_COMMITTEE_K4 = 1.5  # issue 23: a committee of 4 at most this many times one member


def is_term_cost(d):
    return isinstance(d.get("cost_49152_t8"), dict)


def _median(case):
    return case.get("median") if isinstance(case, dict) else None


def term_cost_section(srcs, machines):
    L = []
    for s in srcs:
        d, cost = s.data, s.data["cost_49152_t8"]
        committee = "committee" in d
        rows = []
        for fp in ("no", "yes"):
            base, more = ("member", "committee") if committee else ("plain", "disp")
            a, b = _median(cost.get(f"{base}_fp16_{fp}")), _median(cost.get(f"{more}_fp16_{fp}"))
            if not a or not b:
                continue
            if committee:
                ok = b / a <= TARGET_COMMITTEE_K4
                judged = f"≤ {TARGET_COMMITTEE_K4:g}×: " + verdict(ok)
                rows.append([f"fp16 {fp}", f_us(a), f_us(b), f"{b / a:.2f}×", judged])
            else:
                share = (b - a) / b
                ok = share <= TARGET_DISP_SHARE
                judged = f"≤ {100 * TARGET_DISP_SHARE:g} %: " + verdict(ok)
                rows.append([f"fp16 {fp}", f_us(a), f_us(b), f"{100 * share:.1f} %", judged])
        step0 = d.get("step0_12288", {})
        if committee:
            L.append(f"`{s.show}` ({machines.own(s)}): the committee `{d.get('committee')}` "
                     f"against its member 0 alone (`{d.get('member')}`), LAMMPS µs per step, "
                     "8 host threads, medians of the interleaved repeats.\n")
            head = ["precision", "member 0", "committee", "ratio", "target"]
            L.append(md_table(head, rows) + "\n")
            g, c = step0.get("gpu", {}), step0.get("cpu", {})
            if g and c:
                L.append("Step 0 of the 12,288-atom liquid, GPU against CPU: energy "
                         f"{g.get('pe_eV')} vs {c.get('pe_eV')} eV, largest force deviation "
                         f"{g.get('max_deviation')} vs {c.get('max_deviation')} eV/Å.\n")
        else:
            which = d.get("what") or (
                f"`{d['model_disp']}` against the same model without the term (`{d['model']}`)"
                if d.get("model_disp") and d.get("model") else
                "the model with its dispersion term against the same without it")
            L.append(f"`{s.show}` ({machines.own(s)}): {which}, LAMMPS µs per step, 8 host "
                     "threads, medians of the interleaved repeats; the term's share of the step "
                     "(issue 21's aim: at most 25 %).\n")
            head = ["precision", "without", "with", "the term's share", "aim"]
            L.append(md_table(head, rows) + "\n")
            if step0.get("pe_rel_diff") is not None:
                L.append(f"Step 0 of the 12,288-atom liquid, GPU against CPU: energies differ by "
                         f"{step0['pe_rel_diff']:.1e} (relative).\n")
    return L
