"""report_sections.py — the detail sections of bench/REPORT.md that show one kind of file each:
the configurations table, NVE validation, where a GPU step's time goes (stages), classical peers,
multi-GPU scaling, machines and versions, the PyTorch reference and the files read."""
from report_fmt import Notes, f_gen, f_sci, f_us, flatten, is_num, md_table, yes
from report_rows import field_patterns, group_fields, order, speedup
from report_targets import TARGET_FP16_SPEEDUP


def configurations_section(best, ref, accuracy):
    """The seed's table (configuration | speedup | memory | accuracy) with machine and time."""
    main = [r for r in sorted(best.values(), key=order)
            if r.api == "LAMMPS" or r.variant in ("single", "liquid box") or r.molecules == 16]
    if not main:
        return ["No timing files (LAMMPS or C API) in the results folder.\n"]
    notes, memnotes, accnotes, spnotes = Notes(), Notes(), Notes(), Notes()
    trs = []
    for r in main:
        sptext = speedup(r, best, ref, spnotes)[1]
        trs.append([r.config_text(), sptext, r.mem or "not measured", accuracy.cell(r, accnotes),
                    r.machine, f_us(r.us) + (" µs/call" if r.api == "C API" else " µs/step"),
                    f_sci(r.asps)])
    for f in field_patterns((r.src.show, m) for r in main for m in r.mem_field.split("; ") if m):
        memnotes.add(f)
    L = ["The seed's table (configuration | speedup | memory | accuracy), with the machine, the "
         "measured time and atom-steps/s of each row. LAMMPS rows: µs per MD step (LAMMPS 'Loop "
         "time' / steps); C-API rows: µs per energy+forces call. Speedup: the PyTorch aev-mlp "
         "`torch.compile` time for the same system (measured by others on an H100, given by the "
         "issue) over this row's time where such a reference exists, else the CPU 1-thread "
         "LAMMPS time of the same system over this row's time.\n"]
    L.append(md_table(["configuration", "speedup", "memory", "accuracy: F RMSE vs teacher, "
                       "meV/Å", "machine", "time", "atom-steps/s"], trs))
    L.append("")
    for f in group_fields(main):
        notes.add(f)
    L.append(notes.text("Times") + " Atom-steps/s: the files' atom_steps_per_s, else atoms × "
             "10⁶ / µs. " + spnotes.text("Speedup references") +
             (" " + memnotes.text("Memory") if memnotes.items else "") +
             (" " + accnotes.text("Accuracy") if accnotes.items else "") + "\n")
    for s in sorted({r.src for r in main}, key=lambda s: s.name):
        if isinstance(s.data.get("note"), str):
            L.append(f"Note in {s.show}: {s.data['note']}\n")
    return L


def nve_sorted(srcs):
    """The NVE files, CPU first, then GPU FP32, then GPU FP16."""
    return sorted([s for s in srcs if s.kind == "nve"], key=lambda s: (
        str((s.data.get("setup") or {}).get("device", "")).lower() == "gpu",
        yes((s.data.get("setup") or {}).get("fp16", "no")), s.name))


def nve_config(s):
    return s.fkind[4:] if s.fkind.startswith("nve-") else s.fkind


def nve_section(nve_srcs, machines):
    """One row per NVE file with its figures and verdict; the checker's criteria only for the
    runs that fail or could not be judged."""
    rows = []
    for s in nve_srcs:
        d = s.data
        dev, mach = machines.nve(s)
        prec = "FP16" if yes((d.get("setup") or {}).get("fp16", "no")) else \
            ("FP32" if dev == "GPU" else "")
        v = d.get("values") or {}
        rows.append([nve_config(s), f"{dev} {prec}".strip(), mach, f_gen(v.get("n_atoms")),
                     f_gen(v.get("duration_ps")), f"**{d.get('verdict', '?')}**",
                     ", ".join(d.get("failed") or []) or "—",
                     f"{v['drift_pct']:+.6f}" if is_num(v.get("drift_pct")) else "—",
                     f"{v['slope_mev_atom_ps']:+.6f}" if is_num(v.get("slope_mev_atom_ps"))
                     else "—",
                     f"{v['std_over_ke']:.6f}" if is_num(v.get("std_over_ke")) else "—",
                     f"{v['T_mean']:.2f}" if is_num(v.get("T_mean")) else "—",
                     f_gen(v.get("atoms_lost")), f_us(v.get("us_per_step"))])
    limits = {}
    for s in nve_srcs:
        for c in s.data.get("criteria") or []:
            limits.setdefault(c.get("name"), f"{c.get('limit', '?')} {c.get('unit', '')}".strip())
    L = ["Benzene (`examples/lammps/in.benzene_nve`) and liquid boxes: Langevin, then NVE, judged "
         "by `scripts/check_nve.py` (docs/validation.md).\n",
         md_table(["config", "device", "machine", "atoms", "NVE ps", "verdict", "failed",
                   "drift %", "linear drift meV/atom/ps", "std(E)/mean KE", "mean T (K)",
                   "atoms lost", "µs/step (NVE run)"], rows),
         "\n" + "; ".join(f"from {s.show}" for s in nve_srcs) +
         ": verdict, failed, values.{n_atoms, duration_ps, drift_pct, slope_mev_atom_ps, "
         "std_over_ke, T_mean, atoms_lost, us_per_step}. Limits, from criteria.*.{name, limit, "
         "unit}: " + "; ".join(f"{k}: {v}" for k, v in limits.items()) + ".\n"]
    for s in nve_srcs:
        d = s.data
        bad = [c for c in d.get("criteria") or [] if not c.get("pass")]
        if bad:
            L.append(f"**{s.name}** — the criteria it fails, as the checker wrote them:\n")
            L += [f"- [FAIL] {c.get('name')}: {c.get('text', '')}" for c in bad]
            L.append("")
        if d.get("error"):
            L.append(f"**{s.name}**: the log could not be judged: {d['error']}\n")
    return L


def stages_section(s):
    """LAMMPS's timing breakdown and the GPU path's stages, a column per case; where an FP16 and
    an FP32 case are there, what the FP16 network saves against what both share."""
    d = s.data
    cases = {k: c for k, c in (d.get("cases") or {}).items() if isinstance(c, dict)}
    if not cases:
        return [f"`{s.show}`: no cases.\n"]
    names = list(cases)
    n_prof = ", ".join(f"{k}: {cases[k].get('steps_profiled', '?')}" for k in names)
    L = [f"`{s.show}` ({(d.get('machine') or {}).get('gpu', '?')}): per case, the timed run's "
         "LAMMPS timing breakdown (ms per step: section time / steps, from its log) and the GPU "
         "path's stages under `MLFF_GPU_PROFILE=1` (µs, medians over the steps on the kept "
         f"neighbour list; steps profiled: {n_prof}). Profiled steps run without the CUDA graph "
         "and with an event after each stage: their stages add up to more than the timed step's "
         "Pair; they show the split, the timed run the total.\n"]
    rows = [["LAMMPS step (Loop time), ms"] + [f"{c['loop_ms_per_step']:.3f}" if is_num(
        c.get("loop_ms_per_step")) else "—" for c in cases.values()]]
    for sec in ("Pair", "Comm", "Modify", "Neigh", "Output", "Other"):
        vals = [(c.get("lammps_ms_per_step") or {}).get(sec) for c in cases.values()]
        if any(is_num(v) for v in vals):
            rows.append([f"LAMMPS {sec}, ms"] + [f"{v:.3f}" if is_num(v) else "—" for v in vals])
    for field, label in (("gpu_stages_us", "GPU"), ("host_us", "host:")):
        keys = []  # every case's keys, in first-seen order
        for c in cases.values():
            keys += [k for k in (c.get(field) or {}) if k not in keys]
        for k in keys:
            rows.append([f"{label} {k}, µs"] + [f_us((c.get(field) or {}).get(k))
                                               for c in cases.values()])
    L.append(md_table(["", *names], rows))
    L.append(f"\nfrom {s.show}, cases.*.{{loop_ms_per_step, lammps_ms_per_step.*, "
             "gpu_stages_us.*, host_us.*}\n")
    for k16 in [k for k in names if "fp16" in k]:
        k32 = k16.replace("fp16", "fp32")
        if k32 not in cases:
            continue
        t16, t32 = cases[k16].get("loop_ms_per_step"), cases[k32].get("loop_ms_per_step")
        n16 = (cases[k16].get("gpu_stages_us") or {}).get("network fwd+bwd")
        n32 = (cases[k32].get("gpu_stages_us") or {}).get("network fwd+bwd")
        if not all(is_num(v) for v in (t16, t32, n16, n32)):
            continue
        common = t16 - n16 / 1e3
        x = TARGET_FP16_SPEEDUP
        need = (n32 - x * n16) / (x - 1) / 1e3
        L.append(f"{k16} against {k32}: FP16 changes one stage, the network (fwd+bwd {n16:.1f} µs "
                 f"against {n32:.1f} µs in FP32); the timed steps take {t16:.3f} and {t32:.3f} ms "
                 f"(FP32/FP16 {t32 / t16:.2f}×). The rest of the FP16 step, {common:.3f} ms, is "
                 f"common to both; with these network times FP32/FP16 reaches {x:g}× only when "
                 f"that common part is at most {need:.3f} ms.\n")
    return L


def scaling_section(s):
    d = s.data
    m = d.get("machine") or {}
    L = [f"`{s.show}`: {d.get('gpus_used', '?')} of {d.get('gpus_visible', '?')} visible GPU(s) "
         f"({m.get('gpu', '?')}), model `{d.get('model', '?')}`, FP32, "
         f"{d.get('threads_per_rank', 1)} thread per rank, {d.get('steps', '?')} timed steps "
         f"after {d.get('warmup', '?')} (LAMMPS Loop time). Each rank uses GPU (local rank mod "
         "GPU count). Efficiency: weak t1/tN, strong t1/(N tN); ranks sharing one GPU: t1/tN, a "
         "speed-up (the host's share of each step runs on several cores while the GPU is "
         "shared).\n"]
    rows = []
    for kind, label in (("weak", "weak (~10⁶ atoms per GPU)"), ("strong", "strong (fixed box)"),
                        ("shared", "ranks sharing one GPU")):
        for r in d.get(kind) or []:
            if r.get("error"):
                rows.append([label, str(r.get("gpus", "?")), str(r.get("mpi_ranks", "?")), "—",
                             "failed: " + r["error"][:120], "—", "—"])
                continue
            eff = r.get("efficiency")
            rows.append([label, str(r.get("gpus")), str(r.get("mpi_ranks")), f"{r['atoms']:,}",
                         f_us(r.get("us_per_step")), f_sci(r.get("atom_steps_per_s")),
                         f"{100 * eff:.0f} %" if is_num(eff) else "—"])
    L.append(md_table(["series", "GPUs", "MPI ranks", "atoms", "µs per step",
                       "atom-steps/s", "parallel efficiency"], rows))
    L.append(f"\nfrom {s.show}, {{weak,strong,shared}}.*.{{gpus, mpi_ranks, atoms, us_per_step, "
             "atom_steps_per_s, efficiency}\n")
    for nr in d.get("not_run") or []:
        L.append(f"- {nr.get('gpus')} GPUs: not run ({nr.get('why', '?')}).")
    if d.get("not_run"):
        L.append("")
    return L


def peers_potentials(s, machines):
    """The tables of bench/peers.py's output: {"potentials": {NAME: {pair, units, timing: {BOX:
    {us_per_atom_step, atom_steps_per_s, ...}}, errors: {all: {...}, TAG: {...}}}}}."""
    d = s.data
    pots = d["potentials"]
    mach = machines.label(s, "CPU")
    L = [f"**{s.name}** ({mach})\n"]
    meta = []
    if isinstance(d.get("lammps"), dict) and d["lammps"].get("version"):
        meta.append(f"LAMMPS {d['lammps']['version']}")
    ds = d.get("dataset") if isinstance(d.get("dataset"), dict) else {}
    if ds.get("teacher"):
        meta.append(f"teacher {ds['teacher']} on {ds.get('structures', '?')} structures")
    tp = d.get("timing_protocol") if isinstance(d.get("timing_protocol"), dict) else {}
    if tp.get("source"):
        meta.append(f"timing: {tp['source']}")
    if meta:
        L.append("; ".join(meta) + ".\n")
    boxes = []
    for p in pots.values():
        boxes += [b for b in (p.get("timing") or {}) if b not in boxes]
    trs = []
    for n, p in pots.items():
        pair = p.get("pair")
        row = [n, "; ".join(f"`{x}`" for x in pair if x.startswith("pair_style"))
               if isinstance(pair, list) else "—"]
        for b in boxes:
            t = (p.get("timing") or {}).get(b) or {}
            if is_num(t.get("us_per_atom_step")):
                row += [f"{t['us_per_atom_step']:.3g}", f_sci(t.get("atom_steps_per_s"))]
            else:
                row += ["failed" if t.get("failed") else "—", "—"]
        trs.append(row)
    if boxes:
        hdr = ["potential", "pair style"]
        for b in boxes:
            at = ((tp.get("boxes") or {}).get(b) or {}).get("atoms")
            bt = f"{b} ({at:,} atoms)" if is_num(at) else b
            hdr += [f"{bt} µs/atom-step", f"{bt} atom-steps/s"]
        L.append(md_table(hdr, trs))
        L.append(f"\nfrom {s.show}, potentials.*.timing.*.{{us_per_atom_step, atom_steps_per_s}}"
                 f" (machine {mach}, 1 MPI rank, 1 thread)\n")
    tags = []
    for p in pots.values():
        e = p.get("errors") or {}
        tags += [t for t in e if t != "all" and isinstance(e[t], dict) and t not in tags]
    trs = []
    for n, p in pots.items():
        e = p.get("errors") or {}
        a = e.get("all") if isinstance(e.get("all"), dict) else None
        if a is None:
            trs.append([n] + ["failed" if e.get("failed") else "—"] * (5 + len(tags)))
            continue
        trs.append([n, f_gen(a.get("force_mae_meV_per_A")), f_gen(a.get("force_rmse_meV_per_A")),
                    f_gen(a.get("force_max_meV_per_A")),
                    f_gen(a.get("energy_mae_meV_per_atom_offset_removed")),
                    f_gen(a.get("energy_mae_meV_per_atom_raw"))] +
                   [f_gen((e.get(t) or {}).get("force_mae_meV_per_A")) for t in tags])
    if trs:
        L.append("Errors against the teacher (potential minus teacher; forces component-wise):\n")
        L.append(md_table(["potential", "F MAE meV/Å", "F RMSE meV/Å", "F max meV/Å",
                           "E MAE meV/atom (offset removed)", "E MAE meV/atom (raw)"] +
                          [f"F MAE {t}" for t in tags], trs))
        L.append(f"\nfrom {s.show}, potentials.*.errors.all.{{force_mae_meV_per_A, "
                 "force_rmse_meV_per_A, force_max_meV_per_A, energy_mae_meV_per_atom_offset_"
                 "removed, energy_mae_meV_per_atom_raw}, potentials.*.errors.<tag>."
                 "force_mae_meV_per_A\n")
    if isinstance(d.get("error_protocol"), str):
        L.append(f"Error protocol (from the file): {d['error_protocol']}\n")
    return L


def is_potentials(d):
    """Whether a peers file has bench/peers.py's shape."""
    return isinstance(d.get("potentials"), dict) and all(
        isinstance(p, dict) and ("timing" in p or "errors" in p)
        for p in d["potentials"].values())


OURS = "mlff"        # our entry in bench/peers.py's potentials
MAX_CLASSICAL = 2    # classical peers in the headline and plots: the file's first (AIREBO, ReaxFF)


def peer_files(used):
    return [s for s in used if s.kind == "peers" and is_potentials(s.data)]


def classical_peers(s):
    """[(name, entry)] of the first MAX_CLASSICAL classical potentials of a peers file that have
    a timing or an error figure."""
    def has_figures(p):
        t = [x for x in (p.get("timing") or {}).values() if isinstance(x, dict)]
        return any(is_num(x.get("us_per_atom_step")) for x in t) or \
            isinstance((p.get("errors") or {}).get("all"), dict)
    return [(n, p) for n, p in s.data["potentials"].items()
            if n != OURS and has_figures(p)][:MAX_CLASSICAL]


def peers_section(s, machines):
    d = s.data
    if is_potentials(d):
        return peers_potentials(s, machines)
    entries, path = None, ""
    for key in ("peers", "potentials", "cases", "results"):
        if isinstance(d.get(key), (dict, list)):
            entries, path = d[key], key
            break
    if entries is None:
        entries = {k: v for k, v in d.items() if isinstance(v, dict) and
                   k not in ("machine", "versions", "software")}
    if isinstance(entries, list):
        entries = {str(e.get("potential") or e.get("name") or e.get("peer") or i): e
                   for i, e in enumerate(entries) if isinstance(e, dict)}
    flat = {k: flatten(v) for k, v in entries.items() if isinstance(v, dict)}
    cols = []
    for f in flat.values():
        cols += [k for k in f if k not in cols]
    L = [f"**{s.name}** ({machines.own(s)})\n"]
    meta = [f"{k}: {d[k]}" for k in ("source", "teacher", "system", "note", "date")
            if isinstance(d.get(k), str)]
    if meta:
        L.append("; ".join(meta) + ".\n")
    if flat:
        L.append(md_table(["peer"] + cols, [[k] + [f_gen(f.get(c)) for c in cols]
                                            for k, f in flat.items()]))
        L.append(f"\nfrom {s.show}, {path + '.' if path else ''}*.<column>\n")
    else:
        L.append("(no per-potential entries found in the file)\n")
    return L


def machine_fields(s):
    d = s.data
    out = {}
    m = d.get("machine")
    if isinstance(m, dict):
        out.update({f"machine.{k}": v for k, v in flatten(m).items()})
    for k in ("device", "gpu", "driver", "cuda", "lammps", "lammps_version", "date", "model"):
        if isinstance(d.get(k), (str, int, float)):
            out[k] = d[k]
    if isinstance(d.get("model"), dict) and d["model"].get("path"):
        out["model.path"] = d["model"]["path"]
    for k in ("versions", "software", "lammps"):
        if isinstance(d.get(k), dict):
            out.update({f"{k}.{kk}": v for kk, v in flatten(d[k]).items()})
    if s.kind == "nve" and isinstance(d.get("setup"), dict):
        out.update({f"setup.{k}": v for k, v in d["setup"].items()})
    return out


def machines_section(used, refs, machines):
    mrows = []
    for s in used:
        mrows.append([s.name, machines.own(s), "; ".join(
            f"{k}: {f_gen(v)}" for k, v in machine_fields(s).items()) or "—"])
    for s in refs:
        if s.error is None:
            mrows.append([s.show, str(s.data.get("machine", "?")) + " (PyTorch reference, "
                          "measured by others)", f"pytorch: {s.data.get('pytorch', '?')}"])
    if not mrows:
        return []
    L = [md_table(["file", "machine (label used here)", "fields in the file"], mrows),
         "\nfrom each file's machine, device, versions, model and setup fields. In the LAMMPS "
         "files of a GPU machine the `machine` block names the host that collected the logs, not "
         "the one that ran them; the label comes from the file name or its device field.\n"]
    vers = [s.name for s in used if any(k.startswith(("versions", "software", "cuda", "driver",
                                                      "lammps")) for k in machine_fields(s))]
    if not vers:
        L.append("No result file records software versions (LAMMPS, CUDA, driver, compiler): "
                 "none are quoted here.\n")
    else:
        L.append("Software versions are recorded only in: " + ", ".join(vers) + ".\n")
    return L


def reference_section(ref):
    if not ref.srcs:
        return ["No reference file in `bench/reference/`.\n"]
    L = []
    for s in ref.srcs:
        L.append(f"{s.data.get('source', '')}\n")
        modes = list((s.data.get("modes") or {}).keys()) or ["eager", "compile"]
        trs = []
        for ss, net, key, sd in ref.systems():
            if ss is not s:
                continue
            ms = sd.get("median_ms") or {}
            desc = s.data["networks"][net].get("description", net)
            mol = sd.get("molecules")
            sysd = (f"{mol} benzene" + ("s" if mol > 1 else "") if mol else "liquid benzene") + \
                f" ({sd.get('atoms', 0):,} atoms)"
            trs.append([desc, sysd] + [f_gen(ms.get(m)) if m in ms else "—" for m in modes])
        L.append(md_table(["network (PyTorch)", "system"] + [f"{m} ms" for m in modes], trs))
        L.append(f"\nfrom {s.show}, networks.*.systems.*.median_ms.* (reference figures, "
                 f"machine {s.data.get('machine', '?')}, PyTorch {s.data.get('pytorch', '?')};"
                 " not measured in this project)\n")
    return L


def files_section(srcs, refs, model_eval):
    frows = []
    for s in srcs + refs + ([model_eval] if model_eval else []):
        state = "used"
        if s.error:
            state = f"unreadable: {s.error}"
        elif s.superseded_by is not None:
            state = f"superseded by {s.superseded_by.name}"
        elif s in refs:
            state = "used (reference figures)"
        elif s is model_eval:
            state = "used (the shipped model's evaluation)"
        elif s.kind == "other":
            state = "not a known kind: not used"
        kind = "reference" if s in refs else "model eval" if s is model_eval else s.kind
        frows.append([s.show, kind if kind != "other" else "—", state])
    return [md_table(["file", "kind", "state"], frows), ""]
