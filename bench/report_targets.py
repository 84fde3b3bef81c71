"""report_targets.py — the targets of issues 5 and 22 against the JSON: every comparison of a
timing with a target, a one-line summary per target and the details, a table per target. The
issue-5 comparisons are made here from the configuration rows; those of issue 22 (the C API and
Python against LAMMPS) by report_api.py, through target()."""
from report_fmt import f_sci, f_us, md_table, verdict
from report_rows import order

# The issue-5 targets (the numbers of the issue; the report compares JSON values with them).
TARGET_BENZENE_US = 25.0                       # one benzene, GPU, µs/step, at most
TARGET_BATCH = {4: 1.3, 8: 1.6, 16: 2.0}       # B molecules: step time / single step, at most
TARGET_LIQUID_ATOMS = 49152
TARGET_LIQUID_ASPS = 5e7                       # FP16 atom-steps/s, at least
TARGET_FP16_SPEEDUP = 1.3                      # FP32 time / FP16 time, at least

# The issue-22 targets (report_api.py compares the JSON with them).
TARGET_CAPI_LIQUID_RATIO = 1.5                 # C API mlff_compute / LAMMPS step, at most
TARGET_PY_GPU_US = 60.0                        # one benzene via mlff.Calculator, GPU, µs, at most
TARGET_PY_CPU_RATIO = 2.0                      # the same on the CPU / the C API's, at most

LIQUID_WHAT = f"{TARGET_LIQUID_ATOMS:,}-atom liquid, FP16 atom-steps/s"


def target(what, config, machine, value, value_text, target_value, unit, higher_better,
           sources):
    """One comparison of `value` with `target_value` (shown with `unit`)."""
    ok = value >= target_value if higher_better else value <= target_value
    shown = f_sci(target_value) if unit == "sci" else f"{target_value:g}{unit}"
    return {"what": what, "higher_better": higher_better, "config": config,
            "machine": machine, "value": value, "value_text": value_text,
            "target_text": ("≥ " if higher_better else "≤ ") + shown,
            "ok": ok, "from": "; ".join(sources)}


def check(what, r, value, value_text, target_value, unit, higher_better, rows_from,
          config=None):
    """One comparison of `value` (of row r) with an issue-5 target."""
    return target(what, config or r.config_text(), r.machine, value, value_text, target_value,
                  unit, higher_better, rows_from)


def target_checks(best):
    """Every comparison of a JSON figure with an issue-5 target."""
    out = []
    bl = sorted(best.values(), key=order)

    def src(r):
        return f"{r.src.name}, {r.field}"

    for r in bl:
        if r.device == "GPU" and r.molecules == 1 and r.variant in ("", "single"):
            out.append(check("One benzene on the GPU", r, r.us, f"{f_us(r.us)} µs",
                             TARGET_BENZENE_US, " µs", False, [src(r)]))
    for r in bl:
        if r.device == "GPU" and r.molecules in TARGET_BATCH:
            single = [x for x in bl if x.device == "GPU" and x.molecules == 1 and
                      x.api == r.api and x.machine == r.machine and
                      x.precision == r.precision and x.graph == r.graph and
                      x.resident == r.resident and x.variant in ("", "single")]
            if not single:
                continue
            s = single[0]
            ratio = r.us / s.us
            out.append(check(f"B = {r.molecules} molecules: time / single-molecule time", r,
                             ratio, f"{ratio:.2f}× ({f_us(r.us)} / {f_us(s.us)} µs)",
                             TARGET_BATCH[r.molecules], "×", False, [src(r), src(s)]))
    for r in bl:
        if r.device == "GPU" and r.atoms == TARGET_LIQUID_ATOMS and not r.molecules and \
                r.precision == "FP16" and r.asps is not None:
            out.append(check(LIQUID_WHAT, r, r.asps, f_sci(r.asps), TARGET_LIQUID_ASPS, "sci",
                             True, [r.asps_source(r.src.name)]))
    for r in bl:
        # FP16 against FP32: the single molecule, the one-box batches of LAMMPS, liquid boxes
        if r.device == "GPU" and r.precision == "FP16" and r.variant in ("", "single",
                                                                        "liquid box"):
            k = list(r.config_key())
            k[4] = "FP32"
            twin = best.get(tuple(k))
            if twin is None:
                continue
            ratio = twin.us / r.us
            out.append(check("FP16 speedup over FP32 (FP32 time / FP16 time)", r, ratio,
                             f"{ratio:.2f}× ({f_us(twin.us)} / {f_us(r.us)} µs)",
                             TARGET_FP16_SPEEDUP, "×", True, [src(twin), src(r)],
                             config=r.config_text().replace("GPU FP16", "GPU FP16 vs FP32")))
    return out


def grouped(targets):
    groups = {}
    for t in targets:
        groups.setdefault(t["what"], []).append(t)
    return groups


def target_summary(targets):
    """One line per target: met or missed, by how many configurations, the best figure."""
    out = []
    for what, ts in grouped(targets).items():
        hib = ts[0]["higher_better"]
        ranked = sorted(ts, key=lambda t: t["value"], reverse=hib)
        best, worst = ranked[0], ranked[-1]
        n, met = len(ts), sum(t["ok"] for t in ts)

        def where(t):
            return f"{t['value_text']} ({t['config']}, {t['machine']})"
        head = f"- {what}, target {ts[0]['target_text']}: "
        if met == n:
            out.append(head + f"met by all {n} configuration{'s' if n > 1 else ''}; "
                       f"worst {where(worst)}.")
        elif met == 0:
            out.append(head + f"**missed** by all {n} configuration{'s' if n > 1 else ''}; "
                       f"best {where(best)}.")
        else:
            out.append(head + f"met by {met} of {n} configurations; best {where(best)}, "
                       f"worst {where(worst)}.")
    return out


def targets_section(targets):
    """The details: per target, every configuration's figure, verdict and source."""
    if not targets:
        return ["No timing in the JSON bears on these targets.\n"]
    L = ["Each row compares a JSON value (or a ratio of two) with the issue's target. Issue 5: "
         f"one benzene on the GPU ≤ {TARGET_BENZENE_US:g} µs/step; B = 4, 8, 16 molecules ≤ "
         + ", ".join(f"{v:g}×" for v in TARGET_BATCH.values()) + " the single-molecule step; "
         f"the {TARGET_LIQUID_ATOMS:,}-atom liquid ≥ {f_sci(TARGET_LIQUID_ASPS)} atom-steps/s "
         f"in FP16; FP16 ≥ {TARGET_FP16_SPEEDUP:g}× FP32 (time ratio). Issue 22: the "
         f"{TARGET_LIQUID_ATOMS:,}-atom liquid through the C API (`mlff_compute`, mean per call) "
         f"≤ {TARGET_CAPI_LIQUID_RATIO:g}× the LAMMPS step on the same card and threads; one "
         f"benzene through `mlff.Calculator` ≤ {TARGET_PY_GPU_US:g} µs per call on the GPU and "
         f"≤ {TARGET_PY_CPU_RATIO:g}× the C API's call on the CPU. The files named are in the "
         "results folder.\n"]
    for what, ts in grouped(targets).items():
        L.append(f"**{what}** (target {ts[0]['target_text']})\n")
        L.append(md_table(["configuration", "machine", "value", "verdict", "from"],
                          [[t["config"], t["machine"], t["value_text"], verdict(t["ok"]),
                            t["from"]] for t in ts]))
        L.append("")
    return L
