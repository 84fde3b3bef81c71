#!/usr/bin/env python3
"""Test of bench/report.py on a fixture folder of synthetic result JSON (label unit).

usage: test_report.py REPORT_PY WORKDIR [PYTHON]
Writes the fixtures into WORKDIR, runs REPORT_PY with PYTHON (default: this interpreter) and
checks the report's shape and figures: the headline table (at most 15 rows, the cards it shows,
its derived figures, every figure naming a JSON file and field that holds it), the issue-5
targets, the detail tables, superseded and unreadable files named; when PYTHON can import
matplotlib, that at most five plots are written and linked, each of at most six series with its
legend clear of the axes and a caption naming the sources of every series, and that plots of
earlier versions are removed; the kinds of issues 21, 22 and 24 (the C API on the liquid against
LAMMPS, Python against the C API, soak runs, the equation of state with its plot), with
malformed files of each shown as not judged or not used. Then the same structural checks on the repository's own
bench/results (as bench/report.sh would read them, written into WORKDIR), and an empty results
folder still gives a report.
"""
import json
import os
import re
import shutil
import subprocess
import sys

MAX_HEADLINE_ROWS, MAX_PLOTS, MAX_SERIES = 15, 5, 6


def fail(msg, text=""):
    print("FAILED:", msg)
    if text:
        print("----\n" + text[-8000:])
    sys.exit(1)


def dump(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        if isinstance(obj, str):
            f.write(obj)
        else:
            json.dump(obj, f, indent=1)


def case(atoms, us, threads=1, ranks=1, steps=100, **kw):
    c = {"threads": threads, "mpi_ranks": ranks, "atoms": atoms, "steps": steps,
         "loop_time_s": [us * steps * 1e-6], "us_per_step": us,
         "atom_steps_per_s": round(atoms / us * 1e6, 1)}
    c.update(kw)
    return c


CPU_MACHINE = {"hostname": "cpuhost", "cpu": "TestCPU 9000", "cores": 4}


def nve(verdict, slope, device, fp16, n_atoms, failed=()):
    n = 50
    return {"source": "scripts/check_nve.py",
            "setup": {"model": "fixture-model", "device": device, "fp16": fp16},
            "verdict": verdict, "failed": list(failed),
            "criteria": [{"name": "energy drift (seed)", "key": "drift_pct", "value": 0.5,
                          "unit": "%", "limit": "|.| < 1", "pass": True,
                          "text": "(E_end - E_0)/|E_0| = +0.500000 %"},
                         {"name": "energy drift (linear fit)", "key": "slope_mev_atom_ps",
                          "value": slope, "unit": "meV/atom/ps", "limit": "|.| < 0.01",
                          "pass": abs(slope) < 0.01, "text": f"{slope:+.6f} meV/atom/ps"},
                         {"name": "temperature", "key": "T_mean", "value": 342.17, "unit": "K",
                          "limit": "300 +- 20", "pass": "temperature" not in failed,
                          "text": "mean T = 342.17 K"}],
            "values": {"n_atoms": n_atoms, "atoms_lost": 0, "drift_pct": 0.5,
                       "slope_mev_atom_ps": slope, "std_over_ke": 0.012, "T_mean": 342.17,
                       "target_temp": 300.0, "duration_ps": 4.9},
            "series": {"n_rows": n, "n_kept": n, "time_ps": [i * 0.1 for i in range(n)],
                       "pe": [-10.0 - 0.01 * i for i in range(n)], "ke": [0.4] * n,
                       "etotal": [-9.6 - 0.01 * i for i in range(n)], "temp": [342.0] * n}}


def fixtures(d):
    r = os.path.join(d, "results")
    dump(os.path.join(r, "cpuhost-2030-01-01-cpu.json"),  # superseded by the next one
         {"machine": CPU_MACHINE, "date": "2030-01-01T00:00:00+00:00", "model": "m.h5",
          "cases": {"benzene": case(12, 999.9)}})
    dump(os.path.join(r, "cpuhost-2030-01-02-cpu.json"),
         {"machine": CPU_MACHINE, "date": "2030-01-02T00:00:00+00:00", "model": "m.h5",
          "source": "LAMMPS 'Loop time'",
          "cases": {"benzene": case(12, 300.5), "liquid768_t1": case(768, 40000.0),
                    "liquid768_t2": case(768, 21000.0, threads=2, peak_host_mem_mb=321.0)}})
    dump(os.path.join(r, "h100-2030-01-02-gpu-lammps-x.json"),
         {"machine": {"hostname": "collector", "cpu": "X", "cores": 2},
          "date": "2030-01-02T01:00:00+00:00", "model": "fixture-model",
          "accuracy": {"fp16_vs_fp32": {"energy_mae_meV_per_atom": 0.0123,
                                        "force_rmse_meV_per_A": 0.456},
                       "student_vs_teacher": {"energy_mae_meV_per_atom": 0.777,
                                              "force_rmse_meV_per_A": 33.3,
                                              "force_mae_meV_per_A": 22.2}},
          "cases": {"benzene_gpu_fp32": case(12, 20.0),
                    # small systems on the resident step, and with it off (the graph path)
                    "benzene_gpu_fp32_res": case(12, 15.0, graph=True, resident=True),
                    "benzene_gpu_fp32_graph": case(12, 30.0, graph=True, resident=False),
                    "benzene_gpu_fp16": case(12, 19.0, device_mem_mb=123.0),
                    "benzene4_gpu_fp32": case(48, 26.0),
                    "benzene8_gpu_fp32": case(96, 40.0),
                    "benzene16_gpu_fp32": case(192, 36.0),
                    "liquid49152_gpu_fp32": case(49152, 1000.0, peak_device_mem_mb=2345.0),
                    "liquid49152_gpu_fp16": case(49152, 800.0)}})
    # the newest card: its newest file is used, the older one is superseded
    dump(os.path.join(r, "h200-2030-01-02-gpu.json"),
         {"machine": {"gpu": "NVIDIA H200"}, "date": "2030-01-02T00:00:00+00:00",
          "model": "fixture-model", "cases": {"benzene_gpu_fp32": case(12, 777.7)}})
    dump(os.path.join(r, "h200-2030-01-03-gpu.json"),
         {"machine": {"gpu": "NVIDIA H200"}, "date": "2030-01-03T00:00:00+00:00",
          "model": "fixture-model",
          "accuracy": {"fp16_vs_fp32_gpu": {"force_rmse_meV_per_A": 0.6},
                       "student_vs_teacher": {"gpu_fp32": {"force_rmse_meV_per_A": 30.0},
                                              "gpu_fp16": {"force_rmse_meV_per_A": 30.1,
                                                           "force_mae_meV_per_A": 20.0}}},
          "cases": {"benzene_gpu_fp32": case(12, 10.0, graph=True, resident=True),
                    "benzene_gpu_fp16": case(12, 12.5, graph=True, resident=True),
                    "benzene4_gpu_fp32": case(48, 11.0, graph=True, resident=True),
                    "benzene16_gpu_fp32": case(192, 40.0, graph=True, resident=True),
                    "liquid49152_gpu_fp32": case(49152, 700.0),
                    "liquid49152_gpu_fp16": case(49152, 500.0, graph=True),
                    "liquid1327104_gpu_fp16": case(1327104, 25000.0, graph=True),
                    "liquid1327104_gpu_fp32": case(1327104, 30000.0, graph=True)}})
    # a third card, neither the reference's nor the newest: not in the headline
    dump(os.path.join(r, "a100-2029-12-31-gpu.json"),
         {"machine": {"gpu": "NVIDIA A100"}, "date": "2029-12-31T00:00:00+00:00",
          "cases": {"benzene_gpu_fp32": case(12, 55.5)}})
    dump(os.path.join(r, "h100-2030-01-02-gpu-capi-y.json"),
         {"device": "NVIDIA H100 80GB HBM3", "source": "wall time per call",
          "fp32": {"benzene_us": 30.0,
                   "batch_api": {"1": {"us_per_call": 30.5}, "4": {"us_per_call": 33.0}},
                   "liquid_big": {"atoms": 1000000, "ms_per_call": 100.0,
                                  "atom_steps_per_s": 1.0e7, "device_bytes_per_atom": 5000}}})
    # the shape bench/peers.py writes
    dump(os.path.join(r, "cpuhost-2030-01-02-peers.json"),
         {"machine": dict(CPU_MACHINE, name="cpuhost"), "lammps": {"version": "4 Feb 2025"},
          "dataset": {"teacher": "GFN2-xTB", "structures": 650},
          "timing_protocol": {"boxes": {"liquid768": {"atoms": 768}},
                              "source": "LAMMPS 'Loop time'"},
          "potentials": {
              "airebo": {"pair": ["pair_style airebo 3.0 1 1", "pair_coeff * * CH.airebo C H"],
                         "units": "metal",
                         "timing": {"liquid768": {"loop_time_s": [1.0], "atoms": 768,
                                                  "steps": 50, "us_per_atom_step": 7.77,
                                                  "atom_steps_per_s": 128700.0}},
                         "errors": {"all": {"force_mae_meV_per_A": 555.5,
                                            "force_rmse_meV_per_A": 666.6,
                                            "energy_mae_meV_per_atom_offset_removed": 12.3},
                                    "md300": {"force_mae_meV_per_A": 444.4}}},
              "reaxff": {"pair": ["pair_style reaxff NULL"], "units": "real",
                         "timing": {"liquid768": {"loop_time_s": [], "failed": "lmp exited 1"}},
                         "errors": {"failed": "lmp exited 1"}},
              # two more peers: more rows than the headline has room for
              **{name: {"pair": [f"pair_style {name}"], "units": "metal",
                        "timing": {"liquid768": {"atoms": 768, "us_per_atom_step": 1.0,
                                                 "atom_steps_per_s": 1e6}},
                        "errors": {"all": {"force_mae_meV_per_A": 900.0,
                                           "force_rmse_meV_per_A": 999.0}}}
                 for name in ("tersoff", "rebo")},
              "mlff": {"pair": ["pair_style mlff m.h5 device cpu"], "units": "metal",
                       "timing": {"liquid768": {"loop_time_s": [1.0], "atoms": 768,
                                                "steps": 50, "us_per_atom_step": 3.885,
                                                "atom_steps_per_s": 257400.0}},
                       "errors": {"all": {"force_mae_meV_per_A": 22.22,
                                          "force_rmse_meV_per_A": 30.3}}}}})
    dump(os.path.join(r, "cpuhost-2030-01-02-nve-cpu.json"),
         nve("FAIL", 0.0321, "cpu", "no", 12, failed=("temperature",)))
    dump(os.path.join(r, "h200-2030-01-03-nve-gpu-fp16.json"),
         nve("PASS", -0.00025, "gpu", "yes", 12))
    # the shape bench/scaling.py writes: one GPU, one failed run
    dump(os.path.join(r, "h100-2030-01-02-scaling.json"),
         {"kind": "scaling", "date": "2030-01-02", "machine": {"gpu": "NVIDIA H100"},
          "gpus_visible": 1, "gpus_used": 1, "model": "m.h5", "steps": 20, "warmup": 5,
          "threads_per_rank": 1,
          "weak": [{"gpus": 1, "mpi_ranks": 1, "atoms": 983040, "us_per_step": 80000.0,
                    "atom_steps_per_s": 1.2288e7, "efficiency": 1.0}],
          "strong": [{"gpus": 1, "mpi_ranks": 1, "error": "exit status 1: out of memory"}],
          "shared": [{"gpus": 1, "mpi_ranks": 1, "atoms": 983040, "us_per_step": 80000.0,
                      "atom_steps_per_s": 1.2288e7, "efficiency": 1.0},
                     {"gpus": 1, "mpi_ranks": 2, "atoms": 983040, "us_per_step": 100000.0,
                      "atom_steps_per_s": 9.8304e6, "efficiency": 0.8}],
          "not_run": [{"gpus": 2, "why": "this machine has 1 GPU(s)"}]})
    # the shape bench/stages.py writes: an FP16 and an FP32 case
    stage_case = lambda loop, pair, net: {  # noqa: E731
        "loop_ms_per_step": loop, "steps": 100, "atoms": 49152,
        "lammps_ms_per_step": {"Pair": pair, "Comm": 0.2, "Modify": 0.15},
        "local_atoms": 49152, "total_atoms": 65000, "steps_profiled": 50, "rebuild_steps": 5,
        "gpu_stages_us": {"positions in": 50.0, "network fwd+bwd": net,
                          "descriptor backward+forces": 275.5},
        "host_us": {"staging": 35.0, "adding results": 40.0}}
    dump(os.path.join(r, "h100-2030-01-02-stages.json"),
         {"kind": "stages", "date": "2030-01-02", "machine": {"gpu": "NVIDIA H100"},
          "cases": {"liquid49152_gpu_fp16_t8": stage_case(1.2, 0.8, 70.0),
                    "liquid49152_gpu_fp32_t8": stage_case(1.43, 1.03, 300.0)}})
    dump(os.path.join(r, "broken-2030-01-02.json"), "{not json")
    new_kinds(r)
    dump(os.path.join(d, "reference", "ref.json"),
         {"source": "fixture reference", "machine": "H100", "pytorch": "9.9",
          "modes": {"eager": "eager", "compile": "torch.compile, FP32",
                    "compile_fp16": "torch.compile with FP16"},
          "networks": {"aev_mlp": {"description": "aev", "systems": {
              "benzene": {"molecules": 1, "atoms": 12,
                          "median_ms": {"compile": 2.0, "compile_fp16": 3.8}},
              "benzene16": {"molecules": 16, "atoms": 192, "median_ms": {"compile": 4.0}},
              "liquid49152": {"atoms": 49152, "median_ms": {"compile": 1.5,
                                                            "eager": 4.25}}}}}})
    # plots of earlier versions of the report (removed) and a PNG of someone else's (kept)
    for png in ("scaling.png", "gpus.png", "nve-old.png", "keep.png"):
        dump(os.path.join(d, "out", "plots", png), "not a plot")


def capi_record(fp16, threads, mean, **extra):
    rec = {"program": "bench/capi_bench liquid", "model": "m.h5", "device": "gpu", "fp16": fp16,
           "threads": threads, "skin_A": 1, "atoms": 49152, "steps": 300,
           "move_A_per_step": 0.005, "same_last_energy": True,
           "mlff_compute_skin0": {"us_per_call": {"mean": 4321.0}, "lists_built": 60},
           "mlff_compute_neighbors": {"us_per_call": {"mean": 1234.5}, "lists_built": 15}}
    if mean is not None:
        rec["mlff_compute"] = {"us_per_call": {"median": mean - 100, "mean": mean},
                               "lists_built": 16}
    rec.update(extra)
    return rec


def new_kinds(r):
    """The files of bench/device_capi.sh, bench/python_timing.py, bench/device_soak.sh and
    bench/liquid_eos.py, and a liquid file for the experimental density; malformed ones too."""
    dump(os.path.join(r, "h100-2030-01-02-capi-liquid.json"),
         {"gpu": "NVIDIA H100 80GB HBM3", "source": "fixture capi",
          "cases": {"fp32_t1": {"capi": capi_record(0, 1, 1500.0), "lammps_us_per_step": 1000.0,
                                "lammps_neighbor_builds": 15, "meets_target": True},
                    # the file says it meets; 1600 / 1000 does not: the report says so
                    "fp16_t8": {"capi": capi_record(1, 8, 1600.0), "lammps_us_per_step": 1000.0,
                                "lammps_neighbor_builds": 15, "meets_target": True},
                    # no mlff_compute record: shown, not judged
                    "fp32_t8": {"capi": capi_record(0, 8, None), "lammps_us_per_step": 900.0}}})
    dump(os.path.join(r, "h100-2030-01-02-python-timing.json"),
         {"program": "bench/python_timing.py", "calls": 100, "threads": 1, "python": "3.12",
          "numpy": "2.0", "ase": None, "source": "fixture python",
          "devices": {
              "cpu": {"calculator_get_forces_us": {"median": 500.0},
                      "evaluator_compute_us": {"median": 450.0},
                      "capi_mlff_compute_us": {"median": 200.0},
                      "python_path_timed": "Calculator.get_forces"},
              "gpu": {"calculator_get_forces_us": None,
                      "calculator_note": "ASE is not importable here (fixture)",
                      "evaluator_compute_us": {"median": 45.5},
                      "capi_mlff_compute_us": {"median": 30.0},
                      "python_path_timed": "Evaluator.compute"}}})
    crit = [{"name": "energy drift (seed)", "value": 0.0001, "unit": "%", "limit": "|.| < 1",
             "pass": True},
            {"name": "temperature", "value": 333.3, "unit": "K", "limit": "300 +- 20",
             "pass": False}]
    dump(os.path.join(r, "h100-2030-01-02-soak.json"),
         {"gpu": "NVIDIA H100 80GB HBM3", "model": "m.h5", "source": "bench/device_soak.sh",
          "flat_rule": "fixture flat rule",
          "runs": {"benzene": {"rc": 0, "wall_s": 24, "nve_steps": 1000000, "atoms": 12,
                               "us_per_step": 22.99,
                               "host_rss_mib": {"after_warmup": 154.9, "end": 155.0, "max": 155.0,
                                                "flat": True},
                               "gpu_memory_mib": {"after_warmup": 500.0, "end": 612.0,
                                                  "max": 612.0, "flat": False},
                               "nve": {"verdict": "FAIL", "failed": ["temperature"],
                                       "criteria": crit}},
                   # the checker could not read the log; no GPU memory sampled
                   "liquid": {"rc": 1, "wall_s": 3, "host_rss_mib": {"after_warmup": 10.0,
                                                                     "end": 10.0, "max": 10.0,
                                                                     "flat": True},
                              "gpu_memory_mib": None, "nve": {"error": "no log (fixture)"}},
                   "sanitizer-benzene": {"rc": 9, "errors": 3,
                                         "leaks": ["LEAK SUMMARY: 64 bytes leaked in 1 "
                                                   "allocations"]}}})
    # a soak file without runs: not a known kind, not used
    dump(os.path.join(r, "h200-2030-01-02-soak.json"), {"gpu": "NVIDIA H200", "runs": {}})
    # P = 10000 (rho - 0.8) + 1: the crossing at 0.8, given as outside the scan
    dump(os.path.join(r, "h100-2030-01-02-eos-fix.json"),
         {"source": "bench/liquid_eos.py", "label": "fixture-eos", "model": "/x/m-d4.h5",
          "temp_K": 300.0, "target_press_bar": 1.01325, "deform_ps": 3.0, "hold_ps": 7.0,
          "skip_ps": 2.0,
          "points": [{"density": 0.82, "press_bar": 201.0, "press_se_bar": 12.5, "rows": 101},
                     {"density": 0.86, "press_bar": 601.0, "press_se_bar": 20.0, "rows": 101},
                     {"density": 0.84, "press_bar": 401.0, "press_se_bar": 15.0, "rows": 101}],
          "slope_bar_per_g_cm3": 10000.0, "density_at_target_press": 0.8,
          "density_at_target_press_se": 0.0123, "inside_scan": False})
    # an equation of state whose points are unusable and without a crossing
    dump(os.path.join(r, "h100-2030-01-02-eos-bad.json"),
         {"label": "bad-eos", "points": [{"density": "x"}], "density_at_target_press": None})
    # bench/device_dispersion.sh (a term at 1000 -> 1600 us: 37.5 %) and bench/device_committee.sh
    # (K = 4 at 1000 -> 1400 us: 1.40x; FP16 not timed)
    dump(os.path.join(r, "h100-2030-01-02-dispersion3.json"),
         {"machine": "h100", "model": "p.h5", "model_disp": "t.h5",
          "step0_12288": {"pe_rel_diff": 2.5e-08},
          "cost_49152_t8": {"plain_fp16_no": {"us_per_step": [1000.0, 990.0], "median": 1000.0},
                            "disp_fp16_no": {"us_per_step": [1600.0], "median": 1600.0},
                            "plain_fp16_yes": {"us_per_step": [], "median": None}}})
    # the same with WHAT (the two models in words): the report says that instead
    dump(os.path.join(r, "h100-2030-01-02-switch-cost.json"),
         {"machine": "h100", "model": "p.h5", "model_disp": "s.h5", "what": "a switch against none",
          "cost_49152_t8": {"plain_fp16_no": {"median": 1000.0},
                            "disp_fp16_no": {"median": 1100.0}}})
    dump(os.path.join(r, "h100-2030-01-02-committee.json"),
         {"machine": "h100", "committee": "c4.h5", "member": "c4-0.h5",
          "step0_12288": {"gpu": {"pe_eV": -1.5, "max_deviation": 0.25},
                          "cpu": {"pe_eV": -1.5, "max_deviation": 0.25}},
          "cost_49152_t8": {"member_fp16_no": {"median": 1000.0},
                            "committee_fp16_no": {"median": 1400.0}}})
    dump(os.path.join(r, "cpuhost-2030-01-02-liquid-fix.json"),
         {"label": "fix-liquid", "verdict": "PASS",
          "experiment": {"name": "benzene", "density": 0.874, "T_K": 298.0, "dhvap": 33.9},
          "liquid": {"molecules": 32, "production_ps": 1.0,
                     "density_g_cm3": {"mean": 0.85, "se": 0.01}}})


def check_new_kinds(text):
    """The tables of the new kinds, their target rows, and their malformed files."""
    tc = section(text, "What dispersion and committees cost on the GPU")
    c = one_row(tc, "three-body cost", "| fp16 no |", "1,600.0")
    if c[1] != "1,000.0" or c[3] != "37.5 %" or c[4] != "≤ 25 %: **misses**":
        fail(f"three-body cost row {c}", tc)
    c = one_row(tc, "committee cost", "| fp16 no |", "1,400.0")
    if c[1] != "1,000.0" or c[3] != "1.40×" or c[4] != "≤ 1.5×: meets":
        fail(f"committee cost row {c}", tc)
    if rows_with(tc, "| fp16 yes |") or "`t.h5` against the same model without the term" not in tc \
            or "largest force deviation 0.25 vs 0.25 eV/Å" not in tc \
            or "(H100): a switch against none, LAMMPS" not in tc or "`s.h5` against" in tc:
        fail("the cost section's text or an untimed precision's row", tc)
    cl = section(text, "C API on the 49,152-atom liquid")
    c = one_row(cl, "capi fp32_t1", "| fp32_t1 |")
    if c[1] != "GPU FP32, 1 host thread" or c[2] != "1,500.0 (1,400.0)" or c[3] != "1,234.5" \
            or c[4] != "4,321.0" or c[5] != "1,000.0" or c[6] != "1.500×" or c[7] != "meets" \
            or c[8] != "16 / 15":
        fail(f"capi-liquid row: mean (median), neighbours, skin 0, LAMMPS, ratio: {c}", cl)
    c = one_row(cl, "capi fp16_t8", "| fp16_t8 |")
    if c[6] != "1.600×" or c[7] != "**misses**":
        fail(f"capi-liquid 1600 / 1000 misses 1.5: {c}", cl)
    if "fp16_t8: the file's meets_target (True) differs" not in cl:
        fail("capi-liquid: the file's verdict that disagrees with its own figures is named", cl)
    c = one_row(cl, "capi fp32_t8", "| fp32_t8 |")
    if c[2] != "— (—)" or c[7] != "not judged":
        fail(f"capi-liquid: a case without mlff_compute is shown, not judged: {c}", cl)
    py = section(text, "Python against the C API")
    c = one_row(py, "python cpu", "| CPU |")
    if c[1:4] != ["500.0", "450.0", "200.0"] or c[5] != "2.50×" or \
            c[6] != "≤ 2× the C API: **misses**":
        fail(f"python CPU: 500 / 200 = 2.5 misses 2: {c}", py)
    c = one_row(py, "python gpu", "| GPU |")
    if c[1] != "—" or c[4] != "Evaluator.compute" or c[6] != "≤ 60 µs: meets":
        fail(f"python GPU: no ASE, Evaluator.compute 45.5 us meets 60: {c}", py)
    if "ASE is not importable here (fixture)" not in py:
        fail("python: the file's note on the missing Calculator row", py)
    tg = section(text, "Targets")
    c = one_row(tg, "capi target", "C API mlff_compute, GPU FP16, 8 host threads")
    if not c[2].startswith("1.600× (1,600.0 / 1,000.0 µs)") or c[3] != "**misses**" or \
            "cases.fp16_t8.capi.mlff_compute.us_per_call.mean" not in c[4]:
        fail(f"issue-22 target row of the C API on the liquid: {c}", tg)
    if rows_with(tg, "GPU FP32, 8 host threads", "C API mlff_compute"):
        fail("no target row for a case without mlff_compute", tg)
    block(tg, "Issue 22: 49,152-atom liquid through the C API within 1.5× of the LAMMPS step")
    c = one_row(block(tg, "Issue 22: one benzene through mlff.Calculator on the GPU, µs per "
                          "call"), "python gpu target", "Evaluator.compute")
    if c[2] != "45.50 µs" or c[3] != "meets":
        fail(f"issue-22 Python GPU target: {c}", tg)
    c = one_row(tg, "python cpu target", "Calculator.get_forces, 1 thread")
    if not c[2].startswith("2.50×") or c[3] != "**misses**":
        fail(f"issue-22 Python CPU target: {c}", tg)
    head = text.split("## Plots", 1)[0]
    if "Issue 22: one benzene through mlff.Calculator on the CPU, time / the C API's, target " \
            "≤ 2×: **missed**" not in head:
        fail("summary: the issue-22 targets under the headline", head)

    sk = section(text, "Soak runs")
    c = one_row(sk, "soak benzene", "| benzene | 12 |")
    if c[2] != "1,000,000" or c[3] != "22.99" or c[6] != "154.9 / 155.0 / 155.0" or \
            c[7] != "flat" or c[8] != "500.0 / 612.0 / 612.0" or c[9] != "**grew**" or \
            c[10] != "**FAIL**" or c[11] != "temperature":
        fail(f"soak benzene row: steps, µs/step, memory, flat, verdict: {c}", sk)
    c = one_row(sk, "soak liquid", "| liquid |")
    if c[5] != "1" or c[8] != "not sampled" or c[10] != "not judged: no log (fixture)":
        fail(f"soak liquid row: exit 1, no GPU memory, not judged: {c}", sk)
    c = one_row(sk, "soak criterion", "| temperature | 300")
    if c[1] != "300 +- 20 K" or c[2] != "333.3 **FAIL**":
        fail(f"soak criteria table: {c}", sk)
    c = one_row(sk, "sanitizer", "| sanitizer-benzene |")
    if c[1:] != ["9", "3", "LEAK SUMMARY: 64 bytes leaked in 1 allocations"]:
        fail(f"soak: memcheck row: {c}", sk)
    if "fixture flat rule" not in sk:
        fail("soak: the file's rule for flat memory", sk)

    eo = section(text, "Equation of state")
    rows = table_rows(block(eo, "fixture-eos") if "**fixture-eos**" in eo else
                      eo.split("label fixture-eos", 1)[1])
    if [r[:3] for r in rows] != [["0.8200", "201.0", "12.5"], ["0.8400", "401.0", "15.0"],
                                 ["0.8600", "601.0", "20.0"]]:
        fail(f"eos table: points by density with P and its error: {rows}", eo)
    if "P = 1.01325 bar at **0.800 ± 0.012 g/cm³** (**outside** the scanned densities" \
            not in eo or "0.874 g/cm³ (from results/cpuhost-2030-01-02-liquid-fix.json, " \
            "experiment.density); the crossing is -8.5 % from it" not in eo:
        fail("eos: the crossing with its error, outside the scan, beside experiment", eo)
    if "label bad-eos" not in eo or "(no point in the file)" not in eo:
        fail("eos: a file without usable points says so", eo)
    files = section(text, "Files read")
    if not rows_with(files, "h200-2030-01-02-soak.json", "not a known kind"):
        fail("a soak file without runs is not used", files)
    for f, kind in (("h100-2030-01-02-capi-liquid.json", "capi-liquid"),
                    ("h100-2030-01-02-python-timing.json", "python-timing"),
                    ("h100-2030-01-02-soak.json", "soak"), ("h100-2030-01-02-eos-fix.json", "eos")):
        if not rows_with(files, f, f"| {kind} | used"):
            fail(f"{f} read as {kind}", files)


# ----------------------------------------------------------------------------------------------
# reading the report
# ----------------------------------------------------------------------------------------------
def rows_with(text, *needles):
    """Table rows (lines starting with '|') that hold every needle."""
    return [ln for ln in text.splitlines()
            if ln.startswith("|") and all(n in ln for n in needles)]


def section(text, title):
    """The text of a section (## or ###) up to the next heading of any level."""
    m = re.search(rf"^#{{2,3}} {re.escape(title)}[^\n]*\n(.*?)(?=^#{{2,3}} |\Z)", text,
                  re.M | re.S)
    if not m:
        fail(f"no section {title!r}", text)
    return m.group(1)


def block(text, bold):
    """The text after a bold paragraph title ('**title**') up to the next one."""
    part = text.split(f"**{bold}**", 1)
    if len(part) != 2:
        fail(f"no block **{bold}**", text)
    return part[1].split("\n**", 1)[0]


def cells(row):
    return [c.strip() for c in re.split(r"(?<!\\)\|", row.strip().strip("|"))]


def one_row(text, what, *needles):
    rs = rows_with(text, *needles)
    if len(rs) != 1:
        fail(f"{what}: expected one table row with {needles}, found {len(rs)}", text)
    return cells(rs[0])


def table_rows(text):
    """The body rows of the first table in text."""
    lines = [ln for ln in text.splitlines() if ln.startswith("|")]
    if len(lines) < 2 or not set(lines[1]) <= set("|-"):
        fail("no table", text)
    return [cells(ln) for ln in lines[2:]]


def resolve(root, path, field):
    """The value at a dotted field (with [i] indices) of a JSON file under root."""
    full = path if os.path.isabs(path) else os.path.join(root, path)
    if not os.path.exists(full):
        return KeyError(f"no file {full}")
    v = json.load(open(full))
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", field):
        try:
            v = v[int(part[1:-1])] if part.startswith("[") else v[part]
        except (KeyError, IndexError, TypeError, ValueError):
            return KeyError(f"{path}: no field {field}")
    return v


def sources(cell):
    """[(file, field)] of a headline 'from' cell: '`file` f1, f2; `file` f3'."""
    out = []
    for f, flds in re.findall(r"`([^`]+\.json)` ([^`;—]+)", cell):
        out += [(f, x.strip()) for x in flds.split(",") if x.strip()]
    return out


def check_headline(text, root):
    """The structure every report's headline must have; returns its rows."""
    rows = table_rows(section(text, "Headline"))
    if not 0 < len(rows) <= MAX_HEADLINE_ROWS:
        fail(f"headline: {len(rows)} rows, want 1 to {MAX_HEADLINE_ROWS}", text)
    for c in rows:
        if len(c) != 7:
            fail(f"headline row of {len(c)} cells, want 7: {c}")
        if not c[1]:
            fail(f"headline row without a machine: {c}")
        ours, _, theirs = c[6].partition(" — theirs: ")
        if not ours.startswith("ours: ") or not sources(ours):
            fail(f"headline: our figure {c[2]!r} names no JSON file and field: {c}")
        if c[4] != "—" and not sources(theirs):
            fail(f"headline: the compared figure {c[4]!r} names no JSON file and field: {c}")
        for f, fld in sources(c[6]):
            v = resolve(root, f, fld)
            if isinstance(v, Exception) or isinstance(v, (dict, list)):
                fail(f"headline: {f}, {fld} is not a value of the file ({v!r}): {c}")
    return rows


def check_plots(text, meta_path, out_dir, stderr):
    """At most five plots in the Plots section (the equation of state's in its own section),
    each at most six series (none left out for want of room), legends outside the axes, every
    series named with its sources in the caption; returns the plot names."""
    if "series, not " in stderr:
        fail("a plot had more series than it has room for", stderr)
    meta = json.load(open(meta_path))
    link = r"!\[[^\]]*\]\(plots/([^)]+\.png)\)"
    main_plots = re.findall(link, section(text, "Plots"))
    linked = re.findall(link, text)
    if not 0 < len(main_plots) <= MAX_PLOTS or sorted(linked) != sorted(meta) or \
            len(set(linked)) != len(linked) or "eos.png" in main_plots:
        fail(f"plots: in the Plots section {main_plots}, linked {linked}, drawn {sorted(meta)};"
             f" want each drawn plot linked once, 1 to {MAX_PLOTS} in the Plots section", text)
    plots = text
    for png, m in meta.items():
        path = os.path.join(out_dir, "plots", png)
        with open(path, "rb") as f:
            if f.read(8) != b"\x89PNG\r\n\x1a\n" or os.path.getsize(path) < 1000:
                fail(f"{png} is not a PNG")
        if not 0 < len(m["series"]) <= MAX_SERIES:
            fail(f"{png}: {len(m['series'])} series, want 1 to {MAX_SERIES}: {m['series']}")
        if m["artists"] != len(m["series"]):
            fail(f"{png}: {m['artists']} artists drawn for {len(m['series'])} labelled series")
        if not m["legend_outside"]:
            fail(f"{png}: a legend overlaps the axes")
        cap = plots.split(f"(plots/{png})", 1)[1].split("![", 1)[0]
        for lab in m["series"]:
            if not re.search(rf"\*\*{re.escape(lab)}\*\*, from \S+\.json, \S", cap):
                fail(f"{png}: series {lab!r} without its JSON file and field in the caption", cap)
    return list(meta)


def run_report(py, report_py, results, out, root, ref, extra=()):
    cmd = [py, report_py, "--results", results, "--model-eval", "", "--out", out,
           "--root", root, *extra] + (["--reference", ref] if ref else [])
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0 or not os.path.exists(out):
        fail(f"report.py exited {p.returncode}: {' '.join(cmd)}", p.stdout + p.stderr)
    return open(out).read(), p


# ----------------------------------------------------------------------------------------------
def check_fixture_figures(text, work):
    hl = section(text, "Headline")
    rows = check_headline(text, work)
    if any("A100" in c[1] for c in rows) or not all(
            any(card == c[1] for c in rows) for card in ("H100", "H200")):
        fail("headline: the reference's card (H100) and the newest (H200), not the A100", hl)
    if "777.7" in text or "999.9" in text:
        fail("a figure of a superseded file is in the report", text)
    # derived figures of the fixtures: their time / ours, our throughput / theirs
    want = [("1 benzene (12 atoms), LAMMPS, GPU FP32, resident step", "H100",
             "15.00 µs/step", "2,000.0 µs/call", "133.3× faster"),
            ("1 benzene (12 atoms), LAMMPS, GPU FP32, resident step", "H200",
             "10.00 µs/step", "2,000.0 µs/call", "200.0× faster"),
            ("1 benzene (12 atoms), LAMMPS, GPU FP16", "H100",
             "19.00 µs/step", "3,800.0 µs/call", "200.0× faster"),        # compile_fp16
            ("16 benzenes (192 atoms), LAMMPS, GPU FP32", "H100",
             "36.00 µs/step", "4,000.0 µs/call", "111.1× faster"),
            ("16 benzenes (192 atoms), LAMMPS, GPU FP32, resident step", "H200",
             "40.00 µs/step", "4,000.0 µs/call", "100.0× faster"),
            ("liquid benzene, 49,152 atoms, LAMMPS, GPU FP16", "H100",
             "6.14e7 atom-steps/s", "3.28e7 atom-steps/s", "1.88× faster"),
            ("liquid benzene, 49,152 atoms, LAMMPS, GPU FP32", "H200",
             "7.02e7 atom-steps/s", "3.28e7 atom-steps/s", "2.14× faster"),
            ("liquid benzene, 1,327,104 atoms, LAMMPS, GPU FP16, CUDA graph", "H200",
             "5.31e7 atom-steps/s", "9.83e7 atom-steps/s", "54 % of that throughput")]
    for what, mach, ours, theirs, ratio in want:
        c = [c for c in rows if c[0] == what and c[1] == mach]
        if len(c) != 1 or c[0][2] != ours or c[0][4] != theirs or c[0][5] != ratio:
            fail(f"headline {what}, {mach}: want {ours} / {theirs} / {ratio}, got {c}", hl)
    c = one_row(hl, "H100 liquid FP16 sources", "liquid benzene, 49,152 atoms, LAMMPS, GPU FP16",
                "| H100 |")
    if sources(c[6]) != [("results/h100-2030-01-02-gpu-lammps-x.json",
                          "cases.liquid49152_gpu_fp16.atom_steps_per_s"),
                         ("reference/ref.json", "networks.aev_mlp.systems.liquid49152.atoms"),
                         ("reference/ref.json",
                          "networks.aev_mlp.systems.liquid49152.median_ms.compile")]:
        fail(f"headline: the throughput row's sources: {sources(c[6])}", hl)
    c = one_row(hl, "airebo", "mlff against airebo")
    if c[1] != "cpuhost (4-core TestCPU 9000)" or \
            c[2] != "3.88 µs/atom-step (liquid768); F MAE 22.2 meV/Å" or \
            c[4] != "7.77 µs/atom-step; F MAE 556 meV/Å" or \
            c[5] != "2.00× faster; 25.0× smaller force error":
        fail(f"headline: mlff against AIREBO (7.77 / 3.885, 555.5 / 22.22): {c}", hl)
    if rows_with(hl, "against reaxff") or rows_with(hl, "against rebo") or \
            not rows_with(hl, "against tersoff"):
        fail("headline: the first two classical peers with figures (ReaxFF failed): AIREBO, "
             "Tersoff", hl)
    c = one_row(hl, "NVE", "NVE (docs/validation.md)")
    if not c[2].startswith("1 of 2 runs PASS; largest linear drift +0.032100") or \
            c[4] != "\\|.\\| < 0.01 meV/atom/ps" or c[5] != "**outside the limit**":
        fail(f"headline: NVE verdicts and the largest drift against the limit: {c}", hl)
    c = one_row(hl, "FP16", "FP16 against FP32")
    if c[1] != "H200" or c[2] != "F RMSE 0.6 meV/Å (FP16 − FP32)" or \
            c[4] != "F RMSE 30 meV/Å" or c[5] != "50.0× smaller":
        fail(f"headline: FP16 error beside the model's, newest card's file (30 / 0.6): {c}", hl)

    # the issue-5 summary under the headline, and the details per target
    head = text.split("## Plots", 1)[0]
    if "B = 8 molecules: time / single-molecule time, target ≤ 1.6×: **missed** by all 1" \
            not in head:
        fail("summary: B = 8 (40 / 20 = 2.00) misses 1.6 in the one configuration", head)
    tg = section(text, "Targets")
    c = one_row(block(tg, "One benzene on the GPU"), "benzene target",
                "1 benzene (12 atoms), LAMMPS, GPU FP32 | H100")
    if c[2] != "20.00 µs" or c[3] != "meets" or \
            c[4] != "h100-2030-01-02-gpu-lammps-x.json, cases.benzene_gpu_fp32.us_per_step":
        fail(f"20 us meets <= 25, its source: {c}", tg)
    c = one_row(block(tg, "B = 8 molecules: time / single-molecule time"), "B=8", "LAMMPS")
    if not c[2].startswith("2.00×") or c[3] != "**misses**":
        fail(f"B = 8: 40 / 20 = 2.00 misses 1.6: {c}", tg)
    c = one_row(block(tg, "B = 4 molecules: time / single-molecule time"), "B=4",
                "LAMMPS, GPU FP32 | H100")
    if not c[2].startswith("1.30×") or c[3] != "meets":
        fail(f"B = 4: 26 / 20 = 1.30 meets: {c}", tg)
    c = one_row(tg, "C-API B=4", "4 benzenes", "C API (batch call)")
    if not c[2].startswith("1.10×") or c[3] != "meets":
        fail(f"C-API B = 4: 33 / 30 = 1.10: {c}", tg)
    c = one_row(block(tg, "49,152-atom liquid, FP16 atom-steps/s"), "liquid FP16", "H100")
    if c[2] != "6.14e7" or c[3] != "meets":
        fail(f"49152 / 800 us = 6.14e7 meets 5e7: {c}", tg)
    c = one_row(block(tg, "FP16 speedup over FP32 (FP32 time / FP16 time)"), "FP16 liquid",
                "49,152 atoms", "H100")
    if not c[2].startswith("1.25×") or c[3] != "**misses**":
        fail(f"FP16 liquid 1000 / 800 = 1.25 misses 1.3: {c}", tg)

    # the configurations table: configuration | speedup | memory | accuracy | machine | time
    conf = section(text, "Configurations")
    c = one_row(conf, "GPU benzene FP32", "1 benzene (12 atoms), LAMMPS, GPU FP32 | ", "| H100 |")
    if c[1] != "100.0× vs PyTorch compile (H100)" or c[4] != "H100" or c[5] != "20.00 µs/step":
        fail(f"GPU benzene FP32 row: speedup 2.0 ms / 20 us, machine, time: {c}", conf)
    if c[3] != "33.3":
        fail(f"accuracy cell: force RMSE from the file's accuracy section: {c[3]}", conf)
    c = one_row(conf, "resident step off",
                "1 benzene (12 atoms), LAMMPS, GPU FP32, CUDA graph, resident step off |")
    if c[5] != "30.00 µs/step":
        fail(f"graph-path row of a small system: {c}", conf)
    c = one_row(conf, "GPU benzene FP16", "1 benzene (12 atoms), LAMMPS, GPU FP16 | ")
    if c[2] != "device 123 MB" or c[3] != "33.3; FP16 − FP32 0.456":
        fail(f"FP16 row: memory and FP16-vs-FP32 accuracy: {c}", conf)
    c = one_row(conf, "CPU benzene", "1 benzene (12 atoms), LAMMPS, CPU 1 thread")
    if c[4] != "cpuhost (4-core TestCPU 9000)" or c[5] != "300.5 µs/step":
        fail(f"CPU row: machine label and the newest file's time: {c}", conf)
    c = one_row(conf, "liquid 2 threads", "liquid benzene, 768 atoms, LAMMPS, CPU 2 threads")
    if not c[1].startswith("1.90× vs CPU 1 thread") or c[2] != "host 321 MB":
        fail(f"2-thread row: speedup over 1 thread (40000/21000), memory: {c}", conf)
    c = one_row(conf, "liquid FP32", "liquid benzene, 49,152 atoms, LAMMPS, GPU FP32 | ",
                "| H100 |")
    if c[1] != "1.50× vs PyTorch compile (H100)" or c[2] != "device 2,345 MB":
        fail(f"liquid speedup 1.5 ms / 1000 us, peak_device_mem_mb: {c}", conf)
    c = one_row(conf, "C API big box", "1,000,000 atoms, C API (liquid box), GPU FP32")
    if c[2] != "device 5,000 B/atom (5.00 GB)" or c[5] != "100,000 µs/call" or c[6] != "1.00e7":
        fail(f"C-API row: memory from device_bytes_per_atom, ms_per_call, atom-steps/s: {c}",
             conf)
    if not rows_with(conf, "A100"):
        fail("the third card's figures stay in the details", conf)
    if "from results/h100-2030-01-02-gpu-lammps-x.json, cases.*.us_per_step" not in conf or \
            "from reference/ref.json, networks.aev_mlp.systems.benzene.median_ms.compile" \
            not in conf:
        fail("source files and fields named under the configurations table", conf)

    # NVE, stages, peers, multi-GPU, references, files
    nv = section(text, "NVE validation")
    c = one_row(nv, "NVE row", "cpuhost (4-core TestCPU 9000)")
    if c[5] != "**FAIL**" or c[6] != "temperature" or c[7] != "+0.500000" or \
            c[8] != "+0.032100" or c[10] != "342.17":
        fail(f"NVE row: verdict, failed, drift, slope, mean T: {c}", nv)
    if "[FAIL] temperature: mean T = 342.17 K" not in nv or "[FAIL] energy drift (seed)" in nv:
        fail("NVE: the failing criteria as the checker wrote them, and only those", nv)
    peers = section(text, "Peers")
    c = one_row(peers, "airebo timing", "| airebo |", "`pair_style airebo 3.0 1 1`")
    if c[2:4] != ["7.77", "1.29e5"]:
        fail(f"peer timing row: µs/atom-step and atom-steps/s: {c}", peers)
    c = one_row(peers, "airebo errors", "| airebo |", "555.5")
    if c[1:3] != ["555.5", "666.6"] or c[4] != "12.3" or c[-1] != "444.4":
        fail(f"peer error row: F MAE, F RMSE, E MAE, F MAE md300: {c}", peers)
    if len(rows_with(peers, "| reaxff |", "failed")) != 2:
        fail("the failed ReaxFF runs are shown as failed in both tables", peers)
    stg = section(text, "Where a large GPU step's time goes")
    c = one_row(stg, "stages network", "| GPU network fwd+bwd, µs |")
    if c[1:3] != ["70.00", "300.0"]:
        fail(f"stages: the network row, FP16 and FP32 columns: {c}", stg)
    c = one_row(stg, "stages Pair", "| LAMMPS Pair, ms |")
    if c[1:3] != ["0.800", "1.030"]:
        fail(f"stages: LAMMPS Pair per step: {c}", stg)
    # common part 1.2 - 0.07 = 1.130 ms; 1.3x needs (300 - 1.3 * 70) / 0.3 us = 0.697 ms
    if "FP32/FP16 1.19×" not in stg or "1.130 ms, is common" not in stg or \
            "at most 0.697 ms" not in stg:
        fail("stages: the FP16 saving against the common part, from the JSON", stg)
    mg = section(text, "Multi-GPU")
    c = one_row(mg, "shared 2 ranks", "| ranks sharing one GPU | 1 | 2 |")
    if c[3] != "983,040" or c[6] != "80 %":
        fail(f"scaling row: atoms, efficiency: {c}", mg)
    if not rows_with(mg, "| strong (fixed box) |", "failed: exit status 1") or \
            "2 GPUs: not run (this machine has 1 GPU(s))" not in mg:
        fail("scaling: the failed run and the GPU counts not run are named", mg)
    ref = section(text, "PyTorch reference")
    c = one_row(ref, "reference", "liquid benzene (49,152 atoms)")
    if "4.25" not in c or "1.5" not in c:
        fail(f"reference row: {c}", ref)
    files = section(text, "Files read")
    if not rows_with(files, "cpuhost-2030-01-01-cpu.json", "superseded by "
                     "cpuhost-2030-01-02-cpu.json") or \
            not rows_with(files, "h200-2030-01-02-gpu.json", "superseded") or \
            not rows_with(files, "broken-2030", "unreadable"):
        fail("superseded and unreadable files named", files)


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    report_py, work = sys.argv[1], sys.argv[2]
    py = sys.argv[3] if len(sys.argv) == 4 else sys.executable
    shutil.rmtree(work, ignore_errors=True)
    fixtures(work)
    out = os.path.join(work, "out", "REPORT.md")
    meta = os.path.join(work, "out", "plot-meta.json")
    text, p = run_report(py, report_py, os.path.join(work, "results"), out, work,
                         os.path.join(work, "reference", "ref.json"), ["--plot-meta", meta])
    check_fixture_figures(text, work)
    check_new_kinds(text)

    has_mpl = subprocess.run([py, "-c", "import matplotlib"], capture_output=True).returncode == 0
    plot_dir = os.path.join(work, "out", "plots")
    if has_mpl:
        drawn = check_plots(text, meta, os.path.join(work, "out"), p.stderr)
        if set(drawn) != {"latency.png", "throughput.png", "batch.png", "nve.png",
                          "accuracy.png", "eos.png"}:
            fail(f"the fixtures give all five plots and the EOS plot, drawn: {drawn}",
                 p.stdout + p.stderr)
        m = json.load(open(meta))["eos.png"]["series"]
        if m != ["P held at each density (fixture-eos, h100)",
                 "line fit (fixture-eos): 1.01325 bar at 0.800 g/cm³",
                 "target pressure 1.01325 bar", "experiment (benzene): 0.874 g/cm³"]:
            fail(f"eos plot: points, line, 1 atm and experiment: {m}")
        left = sorted(os.listdir(plot_dir))
        if left != sorted(drawn + ["keep.png"]):
            fail(f"plots of earlier versions removed, others kept: {left}")
        # the CPU line, the PyTorch points and the peers in the throughput plot
        m = json.load(open(meta))["throughput.png"]["series"]
        if not any("airebo" in s for s in m) or not any("PyTorch" in s for s in m) or \
                any("reaxff" in s for s in m):
            fail(f"throughput plot: AIREBO and PyTorch drawn, failed ReaxFF not: {m}")
    else:
        print("matplotlib not importable by", py, "- PNG checks skipped")
        if "plots not drawn" not in text:
            fail("the report should say the plots were not drawn", text)

    # the repository's own results, as bench/report.sh reads them: the same structure
    repo = os.path.dirname(os.path.dirname(os.path.abspath(report_py)))
    real = os.path.join(repo, "bench", "results")
    if os.path.isdir(real) and os.listdir(real):
        out3 = os.path.join(work, "real", "REPORT.md")
        meta3 = os.path.join(work, "real", "plot-meta.json")
        refs = sorted(os.path.join(repo, "bench", "reference", f) for f in
                      os.listdir(os.path.join(repo, "bench", "reference")))
        text3, p3 = run_report(py, report_py, real, out3, repo, None,
                              ["--plot-meta", meta3] + [a for r in refs
                                                        for a in ("--reference", r)])
        check_headline(text3, repo)
        if has_mpl:
            check_plots(text3, meta3, os.path.join(work, "real"), p3.stderr)

    # An empty results folder still gives a report, each section saying what is missing.
    empty = os.path.join(work, "empty")
    os.makedirs(empty, exist_ok=True)
    t2, _ = run_report(py, report_py, empty, os.path.join(work, "out2", "REPORT.md"), work,
                       os.path.join(work, "reference", "ref.json"))
    for want in ("No figure in the JSON for the headline", "No timing files", "No NVE JSON",
                 "No peers JSON", "No scaling JSON", "No stages JSON", "No soak JSON",
                 "No equation-of-state JSON", "No C-API liquid JSON", "No Python timing JSON"):
        if want not in t2:
            fail(f"empty report lacks {want!r}", t2)
    print("report: ok" + ("" if has_mpl else " (PNG checks skipped)"))


if __name__ == "__main__":
    main()
