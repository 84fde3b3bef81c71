#!/usr/bin/python3
"""report.py — write bench/REPORT.md and its plots (bench/plots/*.png) from the JSON that the
benchmarks left in bench/results/, the PyTorch reference figures in bench/reference/ and the
shipped model's evaluation (models/benzene-gfn2-eval/eval-heldout.json). It measures nothing:
every figure in the report is a JSON value (or a ratio of two, with both named), and the file
and field of each are named beside it or under its table.

usage: report.py [--results DIR] [--reference FILE ...] [--model-eval FILE] [--out REPORT.md]
                 [--plots DIR] [--root DIR] [--no-plots] [--plot-meta FILE]

The report opens with one headline table (report_headline.py) and the targets of issues 5 and
22, then at most five plots (report_plots.py), then the details: the targets per configuration
(report_targets.py), every configuration (report_rows.py), NVE, the soak runs (report_soak.py),
the liquid, its equation of state (with its P(density) plot) and the dimer curves
(report_liquid.py), stages, peers, multi-GPU, the C API and Python against LAMMPS
(report_api.py), accuracy (report_accuracy.py), machines, the PyTorch reference and the files
read (report_sections.py). Files are read and classified by report_load.py:
  * LAMMPS timings: {"cases": {NAME: {threads, mpi_ranks, atoms, steps, us_per_step,
    atom_steps_per_s, [device, fp16, graph, resident, molecules, peak_host_mem_mb,
    peak_device_mem_mb (or device_mem_mb)]}}, [machine, date, model, source, note, accuracy]}
  * C-API timings: {"device", "fp32"/"fp16": {benzene_us, batch_api, one_box, liquid, ...}}
  * NVE validation: written by scripts/check_nve.py --json ("verdict", "criteria", "series")
  * liquid validation (bench/validate_liquid.py), the equation of state (bench/liquid_eos.py)
    and dimer curves (bench/dimer_curves.py): report_liquid.py
  * the C API on the liquid against LAMMPS (bench/device_capi.sh, *-capi-liquid.json) and one
    benzene through Python against the C API (bench/python_timing.py): report_api.py
  * soak runs (bench/device_soak.sh, *-soak.json): report_soak.py
  * peers (*-peers.json): timings and errors of classical potentials, per potential
  * stages (bench/stages.py), scaling (bench/scaling.py): "kind" names them
  * accuracy sections (any file): FP16 vs FP32, student vs teacher
Of several files of one machine and kind the newest is used. Sections are built only from the
files present; a missing kind leaves a line saying so.
"""
import argparse
import glob
import json
import os
import sys

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)

from report_accuracy import Accuracy  # noqa: E402
from report_api import api_target_checks, capi_liquid_section, python_section  # noqa: E402
from report_cost import term_cost_section  # noqa: E402
from report_headline import headline_section  # noqa: E402
from report_load import Machines, Reference, Src, load_sources  # noqa: E402
from report_liquid import dimers_section, eos_section, experiment, liquid_section  # noqa: E402
from report_plots import Plotter, caption_lines  # noqa: E402
from report_rows import collect_rows, main_cards, newest_per_config  # noqa: E402
from report_sections import (configurations_section, files_section, machines_section,  # noqa
                             nve_section, nve_sorted, peers_section, reference_section,
                             scaling_section, stages_section)
from report_soak import soak_section  # noqa: E402
from report_targets import (TARGET_BATCH, target_checks, target_summary,  # noqa: E402
                            targets_section)

ROOT = os.path.dirname(BENCH)

PLOT_TEXT = {
    "latency.png": ("time per step against atoms",
                    "µs per MD step against the atom count (log-log): one benzene, B = 4, 8, 16 "
                    "molecules and liquid boxes; GPU lines: the fastest LAMMPS configuration of "
                    "each system on the card (solid FP32, dashed FP16); crosses: the PyTorch "
                    "reference, µs per energy+forces call."),
    "throughput.png": ("throughput against atoms",
                       "Atom-steps per second against the atom count (log-log); GPU lines: the "
                       "fastest LAMMPS FP16 configuration of each system on the card; crosses: "
                       "the PyTorch reference (atoms / call time); other markers: the classical "
                       "peers, one CPU thread on the same machine as the CPU line's peers run."),
    "batch.png": ("cost per molecule against batch size",
                  "µs per molecule-step (step time / B) against the number B of benzene "
                  "molecules; dotted: the issue-5 bound (the one-molecule time × "
                  + ", ".join(f"{v:g}" for v in TARGET_BATCH.values()) + " at B = "
                  + ", ".join(str(b) for b in TARGET_BATCH) + ", over B); crosses: the PyTorch "
                  "reference per molecule."),
    "nve.png": ("NVE energy traces",
                "Total energy minus its first value, per atom, over the NVE run: of each "
                "NVE configuration the newest run, a panel per system size (every run is in the "
                "NVE table below)."),
    "eos.png": ("pressure against density",
                "P held at each density (points), the curve fitted through them, the target "
                "pressure (dashed) and the experimental density (dotted); the newest two "
                "equation-of-state files."),
    "accuracy.png": ("force errors",
                     "Force errors (MAE and RMSE, meV/Å, log scale) against the teacher: mlff "
                     "and the classical peers on the peers file's structures; the newest GPU "
                     "file's held-out set for GPU FP16 against the teacher and against FP32."),
}


def plots_section(plots, best, ref, used, machines):
    cards = main_cards(best, ref)
    drawn = [plots.latency(best, ref, cards), plots.throughput(best, ref, cards, used),
             plots.batch(best, ref, cards), plots.nve(used, machines),
             plots.accuracy(used, best, cards)]
    L = []
    for png, series in drawn:
        if png:
            L += caption_lines(png, series, *PLOT_TEXT[os.path.basename(png)])
    if not L:
        L.append((plots.why_not or "No timing to plot.") + "\n")
    return L


def build(args):
    root = os.path.abspath(args.root)
    srcs = load_sources(args.results, root)
    refs = [Src(p, root) for p in (args.reference if args.reference is not None else
                                   sorted(glob.glob(os.path.join(root, "bench", "reference",
                                                                 "*.json"))))]
    model_eval = Src(args.model_eval, root) if args.model_eval and \
        os.path.exists(args.model_eval) else None
    machines, ref, accuracy = Machines(srcs), Reference(refs), Accuracy(model_eval)
    used = [s for s in srcs if s.superseded_by is None and s.error is None]
    best = newest_per_config(collect_rows(used, machines))
    out_dir = os.path.dirname(os.path.abspath(args.out))
    plots = Plotter(args.plots, out_dir, enabled=not args.no_plots)
    targets = target_checks(best) + api_target_checks(used, machines)

    def section(title, lines, level="##"):
        L.append(f"{level} {title}\n")
        L.extend(lines)

    L = ["# mlff benchmarks\n",
         "Generated by `bench/report.py` (run `bash bench/report.sh`) from the JSON files in "
         f"`{os.path.relpath(os.path.abspath(args.results), root)}/`, the PyTorch reference in "
         "`bench/reference/` and the shipped model's evaluation; it measures nothing. Every "
         "figure is a JSON value, or a ratio of JSON values, and names its file and field. Of "
         "several files of one machine and kind the newest is used (see [Files read]"
         "(#files-read)).\n"]
    section("Headline", headline_section(best, ref, used, machines))
    summary = target_summary(targets)
    if summary:
        L.append("Targets of issues 5 and 22 (per configuration in [the details](#targets)):\n")
        L += summary + [""]
    else:
        L.append("No timing in the JSON bears on the targets of issues 5 and 22.\n")
    section("Plots", plots_section(plots, best, ref, used, machines))
    L.append("## Details\n")
    nve_srcs = nve_sorted(used)

    def of(kind):
        return [s for s in used if s.kind == kind]

    liquids, eos = of("liquid"), of("eos")
    details = [
        ("Targets", targets_section(targets)),
        ("Configurations", configurations_section(best, ref, accuracy)),
        ("NVE validation", nve_section(nve_srcs, machines) if nve_srcs else [
            "No NVE JSON (`*-nve-*.json`, written by `scripts/check_nve.py --json`) in the "
            "results folder.\n"]),
        ("Soak runs: long NVE, memory and memcheck", soak_section(of("soak"), machines)
         if of("soak") else ["No soak JSON (`*-soak.json`, written by `bench/device_soak.sh`) "
                             "in the results folder.\n"]),
        ("Liquid: density and heat of vaporisation", liquid_section(liquids) if liquids
         else ["No liquid JSON (`*-liquid-*.json`, written by `bench/validate_liquid.sh`) in the "
               "results folder.\n"]),
        ("Equation of state", eos_section(eos, liquids) + caption_lines(
            *plots.eos(eos, *experiment(liquids)), *PLOT_TEXT["eos.png"]) if eos
         else ["No equation-of-state JSON (`*-eos-*.json`, written by `bench/liquid_eos.py`) in "
               "the results folder.\n"]),
        ("Dimer curves against the teacher", dimers_section(
            [s for s in used if s.kind == "dimers"]) if any(s.kind == "dimers" for s in used)
         else ["No dimer-curve JSON (`*-dimers-*.json`, written by `bench/dimer_curves.py`) in "
               "the results folder.\n"]),
        ("What dispersion and committees cost on the GPU",
         term_cost_section(of("term-cost"), machines) if of("term-cost") else [
             "No cost JSON (`*-dispersion*.json`, `*-committee.json`, written by "
             "`bench/device_dispersion.sh`, `bench/device_committee.sh`) in the results "
             "folder.\n"]),
        ("Where a large GPU step's time goes", [x for s in used if s.kind == "stages"
                                                for x in stages_section(s)] or [
            "No stages JSON (`*-stages.json`, written by `bench/stages.py` from "
            "`bench/device_run.sh`) in the results folder.\n"]),
        ("Peers", [x for s in used if s.kind == "peers" for x in peers_section(s, machines)] or [
            "No peers JSON (`*-peers.json`) in the results folder.\n"]),
        ("Multi-GPU: MPI ranks, each on a GPU", [x for s in used if s.kind == "scaling"
                                                 for x in scaling_section(s)] or [
            "No scaling JSON (`*-scaling.json`, written by `bench/scaling.sh` on the GPU "
            "machine) in the results folder.\n"]),
        ("C API on the 49,152-atom liquid against the LAMMPS step",
         capi_liquid_section(of("capi-liquid"), machines) if of("capi-liquid") else [
             "No C-API liquid JSON (`*-capi-liquid.json`, written by `bench/device_capi.sh`) in "
             "the results folder.\n"]),
        ("Python against the C API: one benzene", python_section(of("python-timing"), machines)
         if of("python-timing") else [
             "No Python timing JSON (`*-python-timing.json`, written by "
             "`bench/python_timing.py`) in the results folder.\n"]),
        ("Accuracy", accuracy.section(used, machines)),
        ("Machines and versions", machines_section(used, refs, machines)),
        ("PyTorch reference (given by the issue)", reference_section(ref)),
        ("Files read", files_section(srcs, refs, model_eval)),
    ]
    for title, lines in details:
        section(title, lines, "###")
    plots.remove_stale()
    text = "\n".join(L).rstrip() + "\n"
    os.makedirs(out_dir, exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    if args.plot_meta:
        with open(args.plot_meta, "w") as f:
            json.dump(plots.meta, f, indent=1)
    return text, plots.written


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", default=os.path.join(ROOT, "bench", "results"),
                    help="folder of result JSON (default bench/results)")
    ap.add_argument("--reference", action="append", default=None,
                    help="reference JSON (repeatable; default bench/reference/*.json)")
    ap.add_argument("--model-eval",
                    default=os.path.join(ROOT, "models", "benzene-gfn2-eval", "eval-heldout.json"),
                    help="the shipped model's `mlff eval` JSON ('' for none)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "REPORT.md"))
    ap.add_argument("--plots", default=None, help="folder of the PNGs (default: plots/ beside "
                                                  "the report)")
    ap.add_argument("--root", default=ROOT, help="paths in the report are relative to this")
    ap.add_argument("--no-plots", action="store_true")
    ap.add_argument("--plot-meta", default=None,
                    help="also write, as JSON, each plot's series and whether its legends lie "
                         "outside the axes (for tests)")
    args = ap.parse_args(argv)
    if args.plots is None:
        args.plots = os.path.join(os.path.dirname(os.path.abspath(args.out)), "plots")
    if not os.path.isdir(args.results):
        print(f"report.py: no results folder {args.results}", file=sys.stderr)
        return 2
    text, pngs = build(args)
    print(f"report.py: wrote {args.out} ({len(text.splitlines())} lines)"
          + (f" and {len(pngs)} plot(s) in {args.plots}" if pngs else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
