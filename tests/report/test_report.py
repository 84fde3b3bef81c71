#!/usr/bin/env python3
"""Test of bench/report.py on a fixture folder of synthetic result JSON (label unit).

usage: test_report.py REPORT_PY WORKDIR [PYTHON]
Writes the fixtures into WORKDIR, runs REPORT_PY with PYTHON (default: this interpreter) and
checks that given numbers land in the right rows of the right tables, that the issue-5 targets
are judged from them, that superseded and unreadable files are named, and, when PYTHON can
import matplotlib, that the PNGs are written and linked. Then: an empty results folder still
gives a report.
"""
import json
import os
import shutil
import subprocess
import sys


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
                         "errors": {"failed": "lmp exited 1"}}}})
    n = 50
    t = [i * 0.1 for i in range(n)]
    dump(os.path.join(r, "cpuhost-2030-01-02-nve-cpu.json"),
         {"source": "scripts/check_nve.py", "setup": {"model": "fixture-model", "device": "cpu",
                                                       "fp16": "no"},
          "verdict": "FAIL", "failed": ["temperature"],
          "criteria": [{"name": "energy drift (seed)", "value": 0.5, "pass": True,
                        "text": "(E_end - E_0)/|E_0| = +0.500000 %"},
                       {"name": "temperature", "value": 342.17, "pass": False,
                        "text": "mean T = 342.17 K"}],
          "values": {"n_atoms": 12, "atoms_lost": 0, "drift_pct": 0.5,
                     "slope_mev_atom_ps": 0.0321, "std_over_ke": 0.012, "T_mean": 342.17,
                     "target_temp": 300.0},
          "series": {"n_rows": n, "n_kept": n, "time_ps": t, "pe": [-10.0 - 0.01 * i for i in
                                                                    range(n)],
                     "ke": [0.4] * n, "etotal": [-9.6 - 0.01 * i for i in range(n)],
                     "temp": [342.0] * n}})
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
    dump(os.path.join(d, "reference", "ref.json"),
         {"source": "fixture reference", "machine": "H100", "pytorch": "9.9",
          "networks": {"aev_mlp": {"description": "aev", "systems": {
              "benzene": {"molecules": 1, "atoms": 12, "median_ms": {"compile": 2.0}},
              "liquid49152": {"atoms": 49152, "median_ms": {"compile": 1.5,
                                                            "eager": 4.25}}}}}})


def rows_with(text, *needles):
    """Table rows (lines starting with '|') that hold every needle."""
    return [ln for ln in text.splitlines()
            if ln.startswith("|") and all(n in ln for n in needles)]


def section(text, title):
    part = text.split(f"\n## {title}", 1)
    if len(part) != 2:
        fail(f"no section {title!r}", text)
    return part[1].split("\n## ", 1)[0]


def cells(row):
    return [c.strip() for c in row.strip().strip("|").split("|")]


def one_row(text, what, *needles):
    rs = rows_with(text, *needles)
    if len(rs) != 1:
        fail(f"{what}: expected one table row with {needles}, found {len(rs)}", text)
    return cells(rs[0])


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    report_py, work = sys.argv[1], sys.argv[2]
    py = sys.argv[3] if len(sys.argv) == 4 else sys.executable
    shutil.rmtree(work, ignore_errors=True)
    fixtures(work)
    out = os.path.join(work, "out", "REPORT.md")
    cmd = [py, report_py, "--results", os.path.join(work, "results"),
           "--reference", os.path.join(work, "reference", "ref.json"), "--model-eval", "",
           "--out", out, "--root", work]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        fail(f"report.py exited {p.returncode}", p.stdout + p.stderr)
    text = open(out).read()

    # The seed's table: configuration | speedup | memory | accuracy | machine | time
    conf = section(text, "Configurations")
    c = one_row(conf, "GPU benzene FP32", "1 benzene (12 atoms), LAMMPS, GPU FP32 |")
    if c[1] != "100.0× vs PyTorch compile (H100)" or c[4] != "H100" or c[5] != "20.00 µs/step":
        fail(f"GPU benzene FP32 row: speedup 2.0 ms / 20 us, machine, time: {c}", conf)
    if "student vs teacher: E MAE 0.777 meV/atom, F RMSE 33.3 meV/Å" not in c[3]:
        fail(f"accuracy cell from the file's accuracy section: {c[3]}", conf)
    c = one_row(conf, "resident step", "1 benzene (12 atoms), LAMMPS, GPU FP32, resident step |")
    if c[5] != "15.00 µs/step":
        fail(f"resident row: no 'CUDA graph' in its name, its time: {c}", conf)
    c = one_row(conf, "resident step off",
                "1 benzene (12 atoms), LAMMPS, GPU FP32, CUDA graph, resident step off |")
    if c[5] != "30.00 µs/step":
        fail(f"graph-path row of a small system: {c}", conf)
    c = one_row(conf, "GPU benzene FP16", "1 benzene (12 atoms), LAMMPS, GPU FP16 |")
    if c[2] != "device 123 MB" or "FP16 vs FP32: E MAE 0.0123 meV/atom, F RMSE 0.456" not in c[3]:
        fail(f"FP16 row: memory and FP16-vs-FP32 accuracy: {c}", conf)
    c = one_row(conf, "CPU benzene", "1 benzene (12 atoms), LAMMPS, CPU 1 thread")
    if c[4] != "cpuhost (4-core TestCPU 9000)" or c[5] != "300.5 µs/step":
        fail(f"CPU row: machine label and the newest file's time: {c}", conf)
    c = one_row(conf, "liquid 2 threads", "liquid benzene, 768 atoms, LAMMPS, CPU 2 threads")
    if not c[1].startswith("1.90× vs CPU 1 thread") or c[2] != "host 321 MB":
        fail(f"2-thread row: speedup over 1 thread (40000/21000), memory: {c}", conf)
    c = one_row(conf, "liquid FP32", "liquid benzene, 49,152 atoms, LAMMPS, GPU FP32")
    if c[1] != "1.50× vs PyTorch compile (H100)":
        fail(f"liquid speedup 1.5 ms / 1000 us: {c}", conf)
    if c[2] != "device 2,345 MB":  # bench/bench.py's field name
        fail(f"liquid FP32 row: peak_device_mem_mb: {c}", conf)
    c = one_row(conf, "C API big box", "1,000,000 atoms, C API (liquid box), GPU FP32")
    if c[2] != "device 5,000 B/atom (5.00 GB)" or c[5] != "100,000 µs/call":
        fail(f"C-API row: memory from device_bytes_per_atom, time from ms_per_call: {c}", conf)
    if "999.9" in text:
        fail("a figure of the superseded file is in the report", text)
    if "from results/h100-2030-01-02-gpu-lammps-x.json, cases.*.us_per_step" not in conf:
        fail("source file and field named under the table", conf)
    if "from reference/ref.json, networks.aev_mlp.systems.benzene.median_ms.compile" not in conf:
        fail("speedup reference named under the table", conf)

    # Targets, computed from the fixtures
    tg = section(text, "Issue-5 targets")
    c = one_row(tg, "benzene target", "One benzene on the GPU", "LAMMPS, GPU FP32 |")
    if c[3] != "20.00 µs" or c[5] != "meets":
        fail(f"20 us meets <= 25: {c}", tg)
    c = one_row(tg, "B=8", "B = 8 molecules", "LAMMPS")
    if not c[3].startswith("2.00×") or c[5] != "**misses**":
        fail(f"B = 8: 40 / 20 = 2.00 misses 1.6: {c}", tg)
    c = one_row(tg, "B=4", "B = 4 molecules", "LAMMPS")
    if not c[3].startswith("1.30×") or c[5] != "meets":
        fail(f"B = 4: 26 / 20 = 1.30 meets: {c}", tg)
    c = one_row(tg, "C-API B=4", "B = 4 molecules", "C API (batch call)")
    if not c[3].startswith("1.10×") or c[5] != "meets":
        fail(f"C-API B = 4: 33 / 30 = 1.10: {c}", tg)
    c = one_row(tg, "liquid FP16", "FP16 atom-steps/s")
    if c[3] != "6.14e7" or c[5] != "meets":
        fail(f"49152 / 800 us = 6.14e7 meets 5e7: {c}", tg)
    c = one_row(tg, "FP16 liquid", "FP16 speedup", "49,152 atoms")
    if not c[3].startswith("1.25×") or c[5] != "**misses**":
        fail(f"FP16 liquid 1000 / 800 = 1.25 misses 1.3: {c}", tg)
    summ = section(text, "Summary")
    if "**missed**" not in summ or "B = 8 molecules" not in summ:
        fail("summary states the missed targets plainly", summ)

    # NVE, peers, references, files
    nve = section(text, "NVE validation")
    c = one_row(nve, "NVE row", "cpuhost (4-core TestCPU 9000)")
    if c[4] != "**FAIL**" or c[5] != "+0.500000" or c[6] != "+0.032100" or c[8] != "342.17":
        fail(f"NVE row: verdict, drift, slope, mean T: {c}", nve)
    peers = section(text, "Peers")
    c = one_row(peers, "airebo timing", "| airebo |", "`pair_style airebo 3.0 1 1`")
    if c[2:4] != ["7.77", "1.29e5"]:
        fail(f"peer timing row: µs/atom-step and atom-steps/s: {c}", peers)
    c = one_row(peers, "airebo errors", "| airebo |", "555.5")
    if c[1:3] != ["555.5", "666.6"] or c[4] != "12.3" or c[-1] != "444.4":
        fail(f"peer error row: F MAE, F RMSE, E MAE, F MAE md300: {c}", peers)
    if len(rows_with(peers, "| reaxff |", "failed")) != 2:
        fail("the failed ReaxFF runs are shown as failed in both tables", peers)
    if "liquid768 (768 atoms) µs/atom-step" not in peers or \
            "from results/cpuhost-2030-01-02-peers.json, potentials.*.timing" not in peers:
        fail("peer table header and source", peers)
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
                     "cpuhost-2030-01-02-cpu.json") or not rows_with(files, "broken-2030",
                                                                   "unreadable"):
        fail("superseded and unreadable files named", files)

    # Plots, when this interpreter has matplotlib
    has_mpl = subprocess.run([py, "-c", "import matplotlib"], capture_output=True).returncode == 0
    pngs = ["scaling.png", "batch.png", "gpus.png", "nve-cpuhost-2030-01-02-nve-cpu.png"]
    if has_mpl:
        for png in pngs:
            path = os.path.join(work, "out", "plots", png)
            if not os.path.exists(path) or os.path.getsize(path) < 1000:
                fail(f"plot {png} not written", p.stdout + p.stderr)
            with open(path, "rb") as f:
                if f.read(8) != b"\x89PNG\r\n\x1a\n":
                    fail(f"{png} is not a PNG")
            if f"(plots/{png})" not in text:
                fail(f"{png} not linked relatively from the report", text)
    else:
        print("matplotlib not importable by", py, "- PNG checks skipped")
        if "plots not drawn" not in text:
            fail("the report should say the plots were not drawn", text)

    # An empty results folder still gives a report, each section saying what is missing.
    empty = os.path.join(work, "empty")
    os.makedirs(empty, exist_ok=True)
    out2 = os.path.join(work, "out2", "REPORT.md")
    p = subprocess.run([py, report_py, "--results", empty, "--reference",
                        os.path.join(work, "reference", "ref.json"), "--model-eval", "",
                        "--out", out2, "--root", work], capture_output=True, text=True)
    if p.returncode != 0 or not os.path.exists(out2):
        fail(f"empty folder: report.py exited {p.returncode}", p.stdout + p.stderr)
    t2 = open(out2).read()
    for want in ("No timing files", "No NVE JSON", "No peers JSON", "No scaling JSON",
                 "No stages JSON"):
        if want not in t2:
            fail(f"empty report lacks {want!r}", t2)
    print("report: ok" + ("" if has_mpl else " (PNG checks skipped)"))


if __name__ == "__main__":
    main()
