#!/usr/bin/env python3
"""bench.py — the LAMMPS benchmarks of pair_style mlff (issue 6; docs/validation.md). Called by
bench/run.sh, which builds or finds the programs and makes the data files; Python standard
library only (it also runs on the GPU machine).

  bench.py run --mode cpu|gpu --lmp LMP --plugin SO --model H5 --in IN --data DIR --work DIR
               --out FILE [--mlff MLFF] [--heldout H5] [--mpirun MPIRUN] [--omp-pk]
      Runs every case of the mode (round-robin over MLFF_BENCH_REPEATS repeats, default 3),
      each LAMMPS process under a wrapper that records its peak resident memory (wait4's
      ru_maxrss; per MPI rank, summed) and, on the GPU, the peak device memory of its process
      (nvidia-smi, polled), then takes from every log the "Loop time" of the timed run (after
      MLFF_BENCH_BEGIN) and writes the JSON (median over repeats) to --out; with --heldout, the
      accuracy section from `mlff eval` (see below). MLFF_BENCH_DRY=1: print the commands only.
      MLFF_BENCH_TIME_LIMIT=S: start no run after S seconds (the cases left say so in the JSON).
  bench.py memwrap FILE -- CMD...
      Runs CMD and writes its peak RSS (kB) to FILE (".<rank>" appended under MPI).

Accuracy (--heldout): `mlff eval MODEL HELDOUT --split all --json --predictions` with the
student in double precision on the CPU and, in gpu mode, on the GPU in FP32 and in FP16. Errors
against the teacher come from eval's JSON ("overall"); FP16 vs FP32 and GPU vs CPU compare the
predictions of the runs structure by structure (energy per atom, force components).
"""
import argparse
import hashlib
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone

LOOP = re.compile(r"Loop time of ([\d.eE+-]+) on (\d+) procs(?: for (\d+) threads)? for (\d+) "
                  r"steps with (\d+) atoms")
CPU_USE = re.compile(r"([\d.]+)% CPU use with")
DRY = os.environ.get("MLFF_BENCH_DRY", "") not in ("", "0")


def exit_code(status):
    if hasattr(os, "waitstatus_to_exitcode"):
        return os.waitstatus_to_exitcode(status)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def say(*a):
    print("[bench]", *a, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------
# cases
# ----------------------------------------------------------------------------------------------
def case(name, data, steps, warmup=20, device="cpu", fp16=False, graph=None, threads=1, ranks=1,
         molecules=None, replicate=None, atoms_hint=None, lammps_omp=False, resident=None):
    # lammps_omp: LAMMPS's own styles on the threads too (-sf omp: fix nve/omp);
    # resident False: small systems on the graph path (MLFF_GPU_RESIDENT=0), not the resident step
    return dict(name=name, data=data, steps=steps, warmup=warmup, device=device, fp16=fp16,
                graph=graph, threads=threads, ranks=ranks, molecules=molecules,
                replicate=replicate, atoms_hint=atoms_hint, lammps_omp=lammps_omp,
                resident=resident)


def cpu_cases(d):
    c = [case("benzene", f"{d}/benzene.data", 2000, molecules=1)]
    for n, steps in ((4, 600), (8, 300), (16, 200)):
        c.append(case(f"benzene{n}", f"{d}/benzene{n}.data", steps, molecules=n))
    for atoms, steps, warm in ((768, 50, 20), (6144, 20, 5)):
        for tag, th, rk in (("t1", 1, 1), ("t2", 2, 1), ("mpi2", 1, 2)):
            c.append(case(f"liquid{atoms}_{tag}", f"{d}/liquid{atoms}.data", steps, warm,
                          threads=th, ranks=rk))
    return c


def gpu_cases(d):
    c = []
    for fp in (False, True):
        p = "fp16" if fp else "fp32"
        c.append(case(f"benzene_gpu_{p}", f"{d}/benzene.data", 5000, 100, "gpu", fp, True,
                      molecules=1, resident=True))
        c.append(case(f"benzene_gpu_{p}_graph", f"{d}/benzene.data", 5000, 100, "gpu", fp, True,
                      molecules=1, resident=False))
        c.append(case(f"benzene_gpu_{p}_nograph", f"{d}/benzene.data", 5000, 100, "gpu", fp,
                      False, molecules=1))
        for n in (4, 8, 16):
            c.append(case(f"benzene{n}_gpu_{p}", f"{d}/benzene{n}.data", 3000, 100, "gpu", fp,
                          True, molecules=n, resident=True))
        c.append(case(f"liquid768_gpu_{p}", f"{d}/liquid768.data", 200, 20, "gpu", fp, True))
        c.append(case(f"liquid49152_gpu_{p}", f"{d}/liquid49152.data", 100, 10, "gpu", fp, True))
        c.append(case(f"liquid49152_gpu_{p}_nograph", f"{d}/liquid49152.data", 100, 10, "gpu",
                      fp, False))
        # the host's share of a GPU step (staging positions, adding forces) and LAMMPS's
        # integrator (fix nve/omp) on 8 threads (H200 host, 49,152 atoms, FP16: 1.39 ms/step
        # on 4 threads, 1.24 on 8, 1.30 on 16)
        c.append(case(f"liquid49152_gpu_{p}_t8", f"{d}/liquid49152.data", 100, 10, "gpu", fp,
                      True, threads=8, lammps_omp=True))
        c.append(case(f"liquid393216_gpu_{p}", f"{d}/liquid49152.data", 30, 5, "gpu", fp, True,
                      replicate="2 2 2", atoms_hint=393216))
        c.append(case(f"liquid1327104_gpu_{p}", f"{d}/liquid49152.data", 10, 3, "gpu", fp, True,
                      replicate="3 3 3", atoms_hint=1327104))
    # the CPU of the GPU machine, one thread, as a reference
    c.append(case("benzene_cpu", f"{d}/benzene.data", 2000, molecules=1))
    return c


# ----------------------------------------------------------------------------------------------
# running one LAMMPS process with its memory recorded
# ----------------------------------------------------------------------------------------------
def nvidia_smi(query, what="gpu"):
    flag = "--query-compute-apps" if what == "apps" else "--query-gpu"
    try:
        r = subprocess.run(["nvidia-smi", f"{flag}={query}", "--format=csv,noheader,nounits"],
                           capture_output=True, text=True, timeout=10)
        return r.stdout if r.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


class GpuPoll(threading.Thread):
    """The largest used_memory that nvidia-smi reports for pid while it runs (MiB; it includes
    the CUDA context). Where the pid is not listed (a container's PID namespace), the rise of
    the GPUs' total memory.used over its value before the start."""

    def __init__(self, pid, base_total):
        super().__init__(daemon=True)
        self.pid, self.base = pid, base_total
        self.peak_pid, self.peak_total, self.stop = None, None, threading.Event()

    def run(self):
        while not self.stop.is_set():
            out = nvidia_smi("pid,used_memory", "apps")
            for line in (out or "").splitlines():
                parts = [p.strip() for p in line.split(",")]
                if len(parts) == 2 and parts[0] == str(self.pid) and parts[1].isdigit():
                    self.peak_pid = max(self.peak_pid or 0, int(parts[1]))
            tot = total_used()
            if tot is not None:
                self.peak_total = max(self.peak_total or 0, tot)
            # the GPU path allocates at its first step and keeps it: sparse polls after the
            # process shows up (nvidia-smi itself should not perturb µs-scale steps)
            self.stop.wait(1.0 if self.peak_pid else 0.25)

    def result(self):
        if self.peak_pid:
            return self.peak_pid, "nvidia-smi used_memory of the process (includes the CUDA context)"
        if self.peak_total is not None and self.base is not None:
            return (max(self.peak_total - self.base, 0),
                    "rise of nvidia-smi memory.used over its value before the run (the process "
                    "was not listed by pid; includes the CUDA context)")
        return None, "nvidia-smi gave no figure"


def total_used():
    out = nvidia_smi("memory.used")
    try:
        return sum(int(x) for x in out.split()) if out else None
    except ValueError:
        return None


def run_measured(cmd, env, mem_file, poll_gpu):
    """Run cmd (its stdout/stderr to /dev/null; LAMMPS writes its log) and return (rc, wall,
    peak RSS kB or None, device MiB or None, device memory source)."""
    base = total_used() if poll_gpu else None
    t0 = time.time()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    poll = GpuPoll(p.pid, base) if poll_gpu else None
    if poll:
        poll.start()
    # stderr is small (LAMMPS writes to its log with -screen none); read it, then reap by wait4
    err = p.stderr.read().decode(errors="replace")
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = exit_code(status)
    wall = time.time() - t0
    dev, dev_src = None, None
    if poll:
        poll.stop.set()
        poll.join()
        dev, dev_src = poll.result()
    rss = ru.ru_maxrss
    if mem_file:  # MPI: every rank's wrapper wrote its own figure; the sum of the ranks' peaks
        vals = []
        d, b = os.path.dirname(mem_file), os.path.basename(mem_file)
        for f in sorted(os.listdir(d)):
            if f.startswith(b + "."):
                vals.append(int(open(os.path.join(d, f)).read().split()[0]))
        rss = sum(vals) if vals else None
    return p.returncode, wall, rss, dev, dev_src, err


def memwrap(argv):
    """memwrap FILE -- CMD...: run CMD, write its peak RSS (kB) to FILE.<rank>."""
    f, cmd = argv[0], argv[argv.index("--") + 1:]
    rank = next((os.environ[k] for k in ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK")
                 if k in os.environ), "0")
    p = subprocess.Popen(cmd)
    _, status, ru = os.wait4(p.pid, 0)
    with open(f"{f}.{rank}", "w") as fh:
        fh.write(f"{ru.ru_maxrss}\n")
    sys.exit(exit_code(status))


# ----------------------------------------------------------------------------------------------
# logs
# ----------------------------------------------------------------------------------------------
def parse_timed(text):
    """The timed run of a LAMMPS log (after the MLFF_BENCH_BEGIN marker): (dict(t = loop seconds,
    steps, atoms, temp = final temperature or None, cpu_use_pct or None), None), or (None, why).
    bench/peers.py and bench/scaling.py read their logs with it too."""
    part = text.split("MLFF_BENCH_BEGIN", 1)
    errs = [l.strip() for l in text.splitlines() if l.startswith("ERROR")]
    if len(part) != 2:
        return None, errs[-1] if errs else "no MLFF_BENCH_BEGIN marker in the log"
    m = LOOP.search(part[1])
    if not m:
        return None, errs[-1] if errs else "no 'Loop time' after the marker"
    cpu = CPU_USE.search(part[1][m.end():])
    temp = None
    thermo = [l.split() for l in part[1][:m.start()].splitlines()]
    start = [k for k, w in enumerate(thermo) if w[:2] == ["Step", "Temp"]]
    if start:
        head = thermo[start[-1]]
        rows = [w for w in thermo[start[-1] + 1:] if len(w) == len(head) and w[0].isdigit()]
        if rows:
            try:
                temp = float(rows[-1][1])
            except ValueError:
                pass
    return dict(t=float(m[1]), steps=int(m[4]), atoms=int(m[5]), temp=temp,
                cpu_use_pct=float(cpu[1]) if cpu else None), None


def parse_log(path):
    """parse_timed of the log file at path."""
    try:
        text = open(path, errors="replace").read()
    except OSError as e:
        return None, f"no log ({e.strerror})"
    return parse_timed(text)


def read_predictions(path):
    out = {}
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        v = line.split()
        out[int(v[0])] = (int(v[1]), float(v[2]), [float(x) for x in v[3:]])
    return out


def compare(a, b):
    """Differences a - b of two prediction files: energy per atom (meV/atom), force components
    (meV/Å)."""
    keys = sorted(set(a) & set(b))
    e_abs = e_sq = f_abs = f_sq = f_max = 0.0
    nc = 0
    for k in keys:
        n, ea, fa = a[k]
        _, eb, fb = b[k]
        d = (ea - eb) / n
        e_abs += abs(d)
        e_sq += d * d
        for x, y in zip(fa, fb):
            df = x - y
            f_abs += abs(df)
            f_sq += df * df
            f_max = max(f_max, abs(df))
        nc += len(fa)
    ns = len(keys)
    if not ns:
        return None
    return {"n_structures": ns,
            "energy_mae_meV_per_atom": 1000 * e_abs / ns,
            "energy_rmse_meV_per_atom": 1000 * (e_sq / ns) ** 0.5,
            "force_mae_meV_per_A": 1000 * f_abs / nc,
            "force_rmse_meV_per_A": 1000 * (f_sq / nc) ** 0.5,
            "force_max_abs_meV_per_A": 1000 * f_max}


TEACHER_KEYS = ("n_structures", "energy_mae_meV_per_atom", "energy_rmse_meV_per_atom",
                "force_mae_meV_per_A", "force_rmse_meV_per_A", "force_max_abs_error_meV_per_A")


def accuracy(a, mode, work, env):
    if not a.heldout:
        return {"skipped": "no held-out dataset given (MLFF_BENCH_HELDOUT or run.sh's 3rd "
                           "argument)"}
    if not DRY and not os.path.exists(a.heldout):
        return {"skipped": f"held-out dataset {a.heldout} not found"}
    runs = [("cpu_fp64", "cpu", "no")]
    if mode == "gpu":
        runs += [("gpu_fp32", "gpu", "no"), ("gpu_fp16", "gpu", "yes")]
    acc = {"dataset": a.heldout, "split": "all",
           "method": "mlff eval --split all: errors against the teacher's labels from its JSON "
                     "('overall'); device against device from its --predictions, structure by "
                     "structure (energy per atom, force components)"}
    preds, evals = {}, {}
    for tag, dev, fp in runs:
        pj, pp = os.path.join(work, f"eval_{tag}.json"), os.path.join(work, f"eval_{tag}.pred")
        cmd = [a.mlff, "eval", a.model, a.heldout, "--split", "all", "--worst", "0",
               "--device", dev, "--fp16", fp, "--json", pj, "--predictions", pp]
        if DRY:
            print(" ".join(shlex.quote(c) for c in cmd))
            continue
        r = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            acc[f"error_{tag}"] = (r.stderr.strip().splitlines() or ["failed"])[-1]
            say(f"accuracy {tag}: {acc[f'error_{tag}']}")
            continue
        evals[tag] = json.load(open(pj))
        preds[tag] = read_predictions(pp)
    if DRY:
        return acc
    if evals:
        e0 = next(iter(evals.values()))
        acc["teacher"] = e0.get("dataset_teacher", "")
        acc["dataset_sha256"] = sha256(a.heldout)
    # the device comparisons first: bench/report.py's FP16 cell takes the first "fp16" entry
    for name, x, y in (("fp16_vs_fp32_gpu", "gpu_fp16", "gpu_fp32"),
                       ("gpu_fp32_vs_cpu_fp64", "gpu_fp32", "cpu_fp64"),
                       ("gpu_fp16_vs_cpu_fp64", "gpu_fp16", "cpu_fp64")):
        if x in preds and y in preds:
            acc[name] = compare(preds[x], preds[y])
    acc["student_vs_teacher"] = {tag: {k: e["overall"][k] for k in TEACHER_KEYS
                                       if k in e.get("overall", {})}
                                 for tag, e in evals.items()}
    return acc


# ----------------------------------------------------------------------------------------------
# the run
# ----------------------------------------------------------------------------------------------
def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def machine_info(mode):
    cpu = platform.processor()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    m = {"hostname": platform.node(), "cpu": cpu, "cores": os.cpu_count()}
    if mode == "gpu":
        out = nvidia_smi("name,driver_version,memory.total")
        if out:
            first = [x.strip() for x in out.splitlines()[0].split(",")]
            m["gpu"] = first[0]
            if len(first) > 2:
                m["gpu_driver"], m["gpu_memory_mib"] = first[1], first[2]
    return m


def lmp_cmd(a, c, log):
    cmd = [a.lmp, "-nocite", "-log", log, "-screen", "none", "-var", "plugin", a.plugin,
           "-var", "model", a.model, "-var", "data", c["data"], "-var", "steps", str(c["steps"]),
           "-var", "warmup", str(c["warmup"]), "-var", "device", c["device"],
           "-var", "fp16", "yes" if c["fp16"] else "no"]
    if c["replicate"]:
        cmd += ["-var", "replicate", c["replicate"]]
    cmd += ["-in", a.input]
    if c["lammps_omp"]:
        cmd += ["-sf", "omp", "-pk", "omp", str(c["threads"])]
    elif a.omp_pk:
        cmd += ["-pk", "omp", str(c["threads"])]
    return cmd


def run(a):
    mode = a.mode
    cases = cpu_cases(a.data) if mode == "cpu" else gpu_cases(a.data)
    repeats = int(os.environ.get("MLFF_BENCH_REPEATS", "3"))
    limit = float(os.environ.get("MLFF_BENCH_TIME_LIMIT", "0") or 0)
    only = os.environ.get("MLFF_BENCH_CASES", "")
    if only:
        cases = [c for c in cases if re.search(only, c["name"])]
    os.makedirs(a.work, exist_ok=True)
    t_start = time.time()
    results = {c["name"]: [] for c in cases}
    failures, skipped = {}, {}
    for r in range(1, repeats + 1):
        for c in cases:
            name = c["name"]
            if limit and time.time() - t_start > limit:
                skipped[name] = skipped.get(name, 0) + 1
                continue
            if name in failures:
                continue
            log = os.path.join(a.work, f"{name}.{r}.log")
            env = dict(os.environ, OMP_NUM_THREADS=str(c["threads"]))
            if c["graph"] is False:
                env["MLFF_GPU_GRAPH"] = "0"
            if c["resident"] is False:
                env["MLFF_GPU_RESIDENT"] = "0"
            cmd, mem_file = lmp_cmd(a, c, log), None
            if c["ranks"] > 1:
                mem_file = os.path.join(a.work, f"{name}.{r}.rss")
                cmd = ([a.mpirun, "-np", str(c["ranks"]), "--oversubscribe", "--bind-to", "none",
                        sys.executable, os.path.abspath(__file__), "memwrap", mem_file, "--"]
                       + cmd)
            if DRY:
                pre = (["MLFF_GPU_GRAPH=0"] if c["graph"] is False else []) + (
                    ["MLFF_GPU_RESIDENT=0"] if c["resident"] is False else [])
                print(" ".join([f"OMP_NUM_THREADS={c['threads']}"] + pre +
                               [shlex.quote(x) for x in cmd]))
                continue
            if os.path.exists(log):
                os.remove(log)
            rc, wall, rss, dev, dev_src, err = run_measured(cmd, env, mem_file,
                                                            c["device"] == "gpu")
            res, why = parse_log(log)
            if res is None or rc != 0:
                failures[name] = (why or f"exit status {rc}") + (
                    f"; stderr: {err.strip().splitlines()[-1]}" if err.strip() else "")
                say(f"{name} (repeat {r}): FAILED: {failures[name]}")
                continue
            res.update(rss=rss, dev=dev, dev_src=dev_src, wall=wall)
            results[name].append(res)
            say(f"{name} (repeat {r}): {res['t']:.4g} s for {res['steps']} steps, "
                f"{res['atoms']} atoms, {1e6 * res['t'] / res['steps']:.4g} us/step"
                + (f", host {rss / 1024:.0f} MB" if rss else "")
                + (f", device {dev} MiB" if dev else ""))
    if DRY:
        accuracy(a, mode, a.work, dict(os.environ))
        return
    out_cases = {}
    for c in cases:
        name, rs = c["name"], results[c["name"]]
        o = {"threads": c["threads"], "mpi_ranks": c["ranks"], "device": c["device"],
             "fp16": c["fp16"], "graph": c["graph"] if c["device"] == "gpu" else None}
        if c["resident"] is not None:
            o["resident"] = c["resident"]
        if c["lammps_omp"]:
            o["lammps_suffix"] = "omp"
        if c["molecules"]:
            o["molecules"] = c["molecules"]
        if c["replicate"]:
            o["replicate"] = c["replicate"]
        if not rs:
            o.update(atoms=c["atoms_hint"], steps=c["steps"],
                     error=failures.get(name, "not run: MLFF_BENCH_TIME_LIMIT reached"))
            out_cases[name] = o
            continue
        med = statistics.median(r["t"] for r in rs)
        atoms, steps = rs[0]["atoms"], rs[0]["steps"]
        o.update(atoms=atoms, steps=steps, warmup_steps=c["warmup"],
                 loop_time_s=[r["t"] for r in rs], us_per_step=round(med / steps * 1e6, 3),
                 atom_steps_per_s=round(atoms * steps / med, 1))
        if c["molecules"]:
            o["us_per_molecule_step"] = round(med / steps * 1e6 / c["molecules"], 3)
        rss = [r["rss"] for r in rs if r["rss"]]
        if rss:
            o["peak_host_mem_mb"] = round(max(rss) / 1024, 1)  # ru_maxrss: kB
            if atoms >= 5000:
                o["host_bytes_per_atom"] = round(max(rss) * 1024 / atoms)
        dev = [r["dev"] for r in rs if r["dev"]]
        if dev:
            o["peak_device_mem_mb"] = round(max(dev) * 1.048576, 1)  # MiB -> MB
            o["peak_device_mem_source"] = rs[0]["dev_src"]
            if atoms >= 5000:
                o["device_bytes_per_atom"] = round(max(dev) * 1048576 / atoms)
        temps = [r["temp"] for r in rs if r["temp"] is not None]
        if temps:
            o["final_temp_K"] = temps[-1]
        if name in failures:
            o["error_later_repeat"] = failures[name]
        if name in skipped:
            o["repeats_skipped_time_limit"] = skipped[name]
        out_cases[name] = o
    out = {"machine": machine_info(mode), "date": datetime.now(timezone.utc).isoformat(
               timespec="seconds"),
           "model": a.model_name or a.model, "model_sha256": sha256(a.model),
           "mode": mode,
           "source": "LAMMPS 'Loop time' of the timed run (after warmup steps), median over "
                     f"repeats ({repeats} asked); peak host memory: ru_maxrss of the LAMMPS "
                     "process (wait4; with MPI the sum over ranks); peak device memory: the "
                     "largest nvidia-smi used_memory of the process while it ran (includes the "
                     "CUDA context, ~0.5 GB)",
           "cases": out_cases}
    mem = memory_summary(out_cases)
    if mem:
        out["memory"] = mem
    notes = [a.note] if a.note else []
    hot = [(n, c["final_temp_K"], c["warmup_steps"] + c["steps"]) for n, c in out_cases.items()
           if c.get("final_temp_K", 0) > 1000]
    if hot:
        notes.append("With this model the system heats up within the run (final temperature "
                     + ", ".join(f"{n} {t:.0f} K after {s} steps" for n, t, s in hot)
                     + ", from 300 K): those timings are the model's cost per step on these "
                       "configurations, not on a stable liquid (cases.*.final_temp_K).")
    if notes:
        out["note"] = " ".join(notes)
    out["accuracy"] = accuracy(a, mode, a.work, dict(os.environ))
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    say(f"wrote {a.out} ({time.time() - t_start:.0f} s)")


def memory_summary(cases):
    """Device and host bytes per atom from the smallest and largest liquid box of one precision
    (the slope: the fixed part, CUDA context included, drops out)."""
    out = {}
    for dev, prec in (("gpu", False), ("gpu", True), ("cpu", False)):
        cs = [c for n, c in cases.items() if n.startswith("liquid") and c.get("device") == dev
              and c.get("fp16") == prec and c.get("mpi_ranks") == 1 and c.get("threads") == 1
              and c.get("graph") is not False and "us_per_step" in c]
        if len(cs) < 2:
            continue
        lo, hi = min(cs, key=lambda c: c["atoms"]), max(cs, key=lambda c: c["atoms"])
        key = f"{dev}_{'fp16' if prec else ('fp32' if dev == 'gpu' else 'fp64')}"
        for what, field in (("device", "peak_device_mem_mb"), ("host", "peak_host_mem_mb")):
            if field in lo and field in hi and hi["atoms"] > lo["atoms"]:
                out[f"{key}_{what}_bytes_per_atom_marginal"] = round(
                    (hi[field] - lo[field]) * 1e6 / (hi["atoms"] - lo["atoms"]))
    if out:
        out["method"] = ("(peak of the largest liquid box - peak of the smallest) / (atom "
                         "difference), per device and precision, 1 thread/rank")
    return out


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "memwrap":
        return memwrap(sys.argv[2:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--mode", choices=("cpu", "gpu"), required=True)
    r.add_argument("--lmp", required=True)
    r.add_argument("--plugin", required=True)
    r.add_argument("--model", required=True)
    r.add_argument("--model-name", default="", help="the model as named in the JSON")
    r.add_argument("--in", dest="input", required=True)
    r.add_argument("--data", required=True, help="folder of the data files")
    r.add_argument("--work", required=True, help="logs")
    r.add_argument("--out", required=True)
    r.add_argument("--mlff", default="mlff")
    r.add_argument("--heldout", default="")
    r.add_argument("--mpirun", default="mpirun")
    r.add_argument("--omp-pk", action="store_true", help="pass -pk omp THREADS to LAMMPS")
    r.add_argument("--note", default="")
    a = ap.parse_args()
    run(a)


if __name__ == "__main__":
    main()
