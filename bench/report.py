#!/usr/bin/python3
"""report.py — write bench/REPORT.md and its plots (bench/plots/*.png) from the JSON that the
benchmarks left in bench/results/, the PyTorch reference figures in bench/reference/ and the
shipped model's evaluation (models/benzene-gfn2-eval/eval-heldout.json). It measures nothing:
every figure in the report is a JSON value (or a ratio of two, with both named), and the file
and field of each are named under its table.

usage: report.py [--results DIR] [--reference FILE ...] [--model-eval FILE] [--out REPORT.md]
                 [--plots DIR] [--root DIR] [--no-plots]

Files in the results folder are named <machine>-<YYYY-MM-DD>[-<kind>].json; of several files
of one machine and kind the newest wins (date in the name, then the "date" field). Kinds, told
apart by their content:
  * LAMMPS timings: {"cases": {NAME: {threads, mpi_ranks, atoms, steps, us_per_step,
    atom_steps_per_s, [device, fp16, graph, molecules, peak_host_mem_mb,
    peak_device_mem_mb (or device_mem_mb)]}},
    [machine, date, model, source, note, accuracy]}
  * C-API timings: {"device", "fp32"/"fp16": {benzene_us, batch_api, one_box, liquid, ...}}
  * NVE validation: written by scripts/check_nve.py --json ("verdict", "criteria", "series")
  * peers (*-peers.json): timings and errors of classical potentials, per potential
  * accuracy sections (any file): FP16 vs FP32, student vs teacher
Sections are built only from the files present; a missing kind leaves a line saying so.
"""
import argparse
import glob
import json
import math
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The issue-5 targets (the numbers of the issue; the report compares JSON values with them).
TARGET_BENZENE_US = 25.0                       # one benzene, GPU, µs/step, at most
TARGET_BATCH = {4: 1.3, 8: 1.6, 16: 2.0}       # B molecules: step time / single step, at most
TARGET_LIQUID_ATOMS = 49152
TARGET_LIQUID_ASPS = 5e7                       # FP16 atom-steps/s, at least
TARGET_FP16_SPEEDUP = 1.3                      # FP32 time / FP16 time, at least
GPU_NAMES = re.compile(r"^(h100|h200|a100|a10|l4|l40s?|v100|t4|rtx\w*|gh200|b200|mi\d+\w*|gpu)$",
                       re.I)
FILE_NAME = re.compile(r"^(?P<machine>.+?)-(?P<date>\d{4}-\d{2}-\d{2})(?:-(?P<kind>.+))?\.json$")


# ----------------------------------------------------------------------------------------------
# formatting
# ----------------------------------------------------------------------------------------------
def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def f_us(v):
    if not is_num(v):
        return "—"
    if v < 100:
        return f"{v:.2f}"
    if v < 10000:
        return f"{v:,.1f}"
    return f"{v:,.0f}"


def f_sci(v):
    if not is_num(v):
        return "—"
    m, e = f"{v:.3e}".split("e")
    return f"{float(m):.2f}e{int(e)}"


def f_ratio(v):
    return f"{v:.2f}×" if is_num(v) else "—"


def f_speedup(v):
    if not is_num(v):
        return "—"
    return f"{v:.1f}×" if v >= 10 else f"{v:.2f}×"


def f_gen(v):
    """A JSON scalar as a table cell."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 10000 else str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return "—"
        a = abs(v)
        if a != 0 and (a >= 1e6 or a < 1e-3):
            return f_sci(v)
        if a >= 1000:
            return f"{v:,.1f}"
        return f"{v:.4g}"
    if v is None:
        return "—"
    return str(v).replace("|", "\\|").replace("\n", " ")


def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out)


def verdict(ok):
    return "meets" if ok else "**misses**"


# ----------------------------------------------------------------------------------------------
# loading
# ----------------------------------------------------------------------------------------------
class Src:
    """One JSON file: its path as shown in the report, parsed content and name parts."""

    def __init__(self, path, root):
        self.path = path
        rel = os.path.relpath(os.path.abspath(path), root)
        self.show = rel if not rel.startswith("..") else path
        self.name = os.path.basename(path)
        m = FILE_NAME.match(self.name)
        self.token = m.group("machine") if m else os.path.splitext(self.name)[0]
        self.fdate = m.group("date") if m else ""
        self.fkind = (m.group("kind") or "bench") if m else os.path.splitext(self.name)[0]
        self.data, self.error = None, None
        try:
            with open(path) as f:
                self.data = json.load(f)
            if not isinstance(self.data, dict):
                self.error = "not a JSON object"
        except (OSError, ValueError) as e:
            self.error = str(e).splitlines()[0][:160]
        self.kind = self.classify() if self.error is None else "unreadable"
        d = self.data if isinstance(self.data, dict) else {}
        self.date = str(d.get("date", "")) if isinstance(d.get("date", ""), str) else ""
        self.superseded_by = None

    def classify(self):
        d = self.data
        if d.get("kind") == "scaling":
            return "scaling"
        if d.get("kind") == "stages":
            return "stages"
        if "verdict" in d and ("criteria" in d or "series" in d or "error" in d):
            return "nve"
        if "peers" in self.fkind or "peers" in d or "potentials" in d:
            return "peers"
        if isinstance(d.get("cases"), dict):
            return "lammps"
        if any(isinstance(d.get(p), dict) and ("benzene_us" in d[p] or "batch_api" in d[p]
                                               or "liquid" in d[p]) for p in ("fp32", "fp16")):
            return "capi"
        if isinstance(d.get("accuracy"), dict):
            return "accuracy"
        return "other"

    def sort_key(self):
        return (self.fdate, self.date, self.name)


def load_sources(results_dir, root):
    files = sorted(glob.glob(os.path.join(results_dir, "*.json")))
    srcs = [Src(p, root) for p in files]
    groups = {}
    for s in srcs:
        if s.kind != "unreadable":
            groups.setdefault((s.token, s.fkind), []).append(s)
    for g in groups.values():
        g.sort(key=Src.sort_key)
        for old in g[:-1]:
            old.superseded_by = g[-1]
    return srcs


# ----------------------------------------------------------------------------------------------
# machines
# ----------------------------------------------------------------------------------------------
def short_gpu(name):
    """'NVIDIA H100 80GB HBM3' -> 'H100'."""
    toks = [t for t in str(name).split() if t.upper() not in ("NVIDIA", "TESLA", "GEFORCE")]
    return toks[0] if toks else str(name)


def gpu_of(src):
    d = src.data
    dev = d.get("device")
    if isinstance(dev, str) and dev.lower() not in ("cpu", "gpu", "cuda", ""):
        return short_gpu(dev)
    m = d.get("machine")
    if isinstance(m, dict):
        for k in ("gpu", "device", "gpu_name"):
            if isinstance(m.get(k), str) and m[k]:
                return short_gpu(m[k])
    if GPU_NAMES.match(src.token):
        return src.token.upper()
    return None


def cpu_label(src):
    m = src.data.get("machine")
    if isinstance(m, dict) and m.get("hostname"):
        bits = []
        if m.get("cores"):
            bits.append(f"{m['cores']}-core")
        if m.get("cpu"):
            bits.append(str(m["cpu"]))
        return f"{m['hostname']} ({' '.join(bits)})" if bits else str(m["hostname"])
    return src.token


class Machines:
    """Labels of the machines: a GPU machine by its GPU ('H100'), a CPU machine by host name,
    cores and CPU model; the token of a file name (h100, vm) maps to its label."""

    def __init__(self, srcs):
        self.by_token = {}
        for s in sorted(srcs, key=Src.sort_key):
            if s.kind in ("unreadable",):
                continue
            g = gpu_of(s)
            if g:
                self.by_token[s.token] = g
            elif s.kind in ("lammps", "capi", "peers", "accuracy") and \
                    isinstance(s.data.get("machine"), dict):
                self.by_token[s.token] = cpu_label(s)  # the newest file's wins

    def is_gpu(self, src):
        return gpu_of(src) is not None

    def label(self, src, device="GPU"):
        """Label of the machine that ran a figure of src on `device` ('CPU' or 'GPU')."""
        g = gpu_of(src)
        if g:
            return g if device == "GPU" else f"{g} host CPU"
        return self.by_token.get(src.token, cpu_label(src))


# ----------------------------------------------------------------------------------------------
# measurements
# ----------------------------------------------------------------------------------------------
class Row:
    """One timing: a configuration on a machine, from one field of one file."""

    def __init__(self, **kw):
        self.api = "LAMMPS"          # or "C API"
        self.variant = ""            # C API: "single", "batch call", "one box"
        self.machine = ""
        self.device = "CPU"
        self.precision = ""          # "FP32", "FP16" ("" for the CPU path)
        self.threads = 1
        self.ranks = 1
        self.suffix = ""             # LAMMPS -sf (GPU runs with "omp": fix nve/omp on the threads)
        self.graph = None
        self.resident = None         # small systems on the GPU: the resident step (or not)
        self.molecules = None        # benzene copies, None for a liquid box
        self.atoms = 0
        self.us = None               # µs per step (LAMMPS) or per call (C API)
        self.asps = None             # atom-steps/s
        self.mem = ""                # text
        self.mem_field = ""
        self.model = ""
        self.src = None
        self.field = ""              # e.g. cases.benzene_gpu_fp32.us_per_step
        self.name = ""
        self.accuracy = None         # the file's accuracy section (dict) or None
        self.__dict__.update(kw)

    @property
    def system(self):
        if self.molecules:
            return ("benzene", self.molecules)
        return ("liquid", self.atoms)

    def system_text(self):
        if self.molecules == 1:
            return f"1 benzene ({self.atoms} atoms)"
        if self.molecules:
            return f"{self.molecules} benzenes ({self.atoms:,} atoms)"
        return f"liquid benzene, {self.atoms:,} atoms"

    def device_text(self):
        if self.device == "GPU":
            t = f"GPU {self.precision or 'FP32'}"
            if self.graph is not None and not self.resident:  # a resident step replays no graph
                t += ", CUDA graph" if self.graph else ", no graph"
            if self.resident is not None:
                t += ", resident step" if self.resident else ", resident step off"
            if self.threads > 1:
                t += f", {self.threads} host threads" + (f" (-sf {self.suffix})" if self.suffix else "")
            return t
        t = "CPU"
        if self.precision == "FP16":
            t += " FP16"
        if self.ranks > 1:
            t += f" {self.ranks} MPI ranks"
            if self.threads > 1:
                t += f" × {self.threads} threads"
        else:
            t += f" {self.threads} thread" + ("s" if self.threads != 1 else "")
        return t

    def api_text(self):
        if self.api == "C API":
            return f"C API ({self.variant})" if self.variant else "C API"
        return "LAMMPS"

    def config_text(self):
        return f"{self.system_text()}, {self.api_text()}, {self.device_text()}"

    def line_key(self):
        """Rows that share a curve in the scaling plot."""
        return (self.api, self.variant if self.variant != "single" else "", self.machine,
                self.device, self.precision, self.threads, self.ranks, self.graph, self.resident)

    def config_key(self):
        return self.line_key() + (self.system,)

    def line_label(self):
        if self.device == "GPU":
            t = f"GPU {self.precision or 'FP32'}"
            if self.graph is not None and not self.resident:
                t += ", graph" if self.graph else ", no graph"
            if self.resident is not None:
                t += ", resident" if self.resident else ", not resident"
        else:
            t = self.device_text()
        lab = f"LAMMPS {t}, {self.machine}"
        if self.api == "C API":
            lab = lab.replace("LAMMPS ", "", 1)
            lab = f"C API {self.variant}: " + lab if self.variant not in ("", "single") \
                else "C API: " + lab
        return lab

    def date_key(self):
        return self.src.sort_key()


def yes(v):
    if isinstance(v, str):
        return v.strip().lower() in ("yes", "true", "on", "1", "fp16")
    return bool(v)


def describe_case(src, machines, name, c):
    low = name.lower()
    dev = c.get("device")
    if isinstance(dev, str) and dev:
        device = "CPU" if dev.strip().lower() == "cpu" else "GPU"
    elif re.search(r"(^|_)gpu(_|$)", low):
        device = "GPU"
    elif re.search(r"(^|_)cpu(_|$)", low):
        device = "CPU"
    else:
        device = "GPU" if machines.is_gpu(src) else "CPU"
    if "fp16" in c:
        fp16 = yes(c["fp16"])
    elif "precision" in c:
        fp16 = "16" in str(c["precision"])
    else:
        fp16 = bool(re.search(r"(^|_)fp16(_|$)", low))
    precision = "FP16" if fp16 else ("FP32" if device == "GPU" else "")
    atoms = int(c.get("atoms", 0) or 0)
    molecules = c.get("molecules")
    if not is_num(molecules):
        molecules = None
        m = re.match(r"^benzene(\d*)(_|$)", low)
        if m:
            molecules = int(m.group(1)) if m.group(1) else 1
        elif "liquid" not in low and atoms and atoms % 12 == 0 and atoms <= 12 * 64 and \
                "benzene" in str(c.get("system", "")).lower():
            molecules = atoms // 12
    if "liquid" in low or "liquid" in str(c.get("system", "")).lower() or \
            (molecules and molecules > 64):  # a box of many molecules: a liquid, not copies
        molecules = None
    us, field = c.get("us_per_step"), "us_per_step"
    api = "LAMMPS"
    if not is_num(us) and is_num(c.get("us_per_call")):
        us, field, api = c["us_per_call"], "us_per_call", "C API"
    mem, mem_field = [], []
    if is_num(c.get("peak_host_mem_mb")):
        mem.append(f"host {c['peak_host_mem_mb']:,.0f} MB")
        mem_field.append(f"cases.{name}.peak_host_mem_mb")
    for dkey in ("peak_device_mem_mb", "device_mem_mb"):  # bench/bench.py writes the first
        if is_num(c.get(dkey)):
            mem.append(f"device {c[dkey]:,.0f} MB")
            mem_field.append(f"cases.{name}.{dkey}")
            break
    graph = c.get("graph")
    graph = yes(graph) if graph is not None else None
    return Row(api=api, variant="" if api == "LAMMPS" else str(c.get("variant", "")),
               machine=machines.label(src, device), device=device, precision=precision,
               threads=int(c.get("threads", 1) or 1), ranks=int(c.get("mpi_ranks", 1) or 1),
               suffix=str(c.get("lammps_suffix", "")), graph=graph,
               resident=yes(c["resident"]) if c.get("resident") is not None else None,
               molecules=molecules, atoms=atoms, us=us if is_num(us) else None,
               asps=c.get("atom_steps_per_s") if is_num(c.get("atom_steps_per_s")) else None,
               mem=", ".join(mem), mem_field="; ".join(mem_field),
               model=str(src.data.get("model", c.get("model", ""))), src=src,
               field=f"cases.{name}.{field}", name=name,
               accuracy=src.data.get("accuracy") if isinstance(src.data.get("accuracy"), dict)
               else None)


def capi_rows(src, machines):
    d = src.data
    rows = []
    model = str(d.get("model", "")) or ("random weights (file name)" if "random" in src.name
                                        else "")
    acc = d.get("accuracy") if isinstance(d.get("accuracy"), dict) else None
    for prec in ("fp32", "fp16"):
        p = d.get(prec)
        if not isinstance(p, dict):
            continue
        base = dict(api="C API", machine=machines.label(src, "GPU"), device="GPU",
                    precision=prec.upper(), model=model, src=src, accuracy=acc)
        if is_num(p.get("benzene_us")):
            rows.append(Row(variant="single", molecules=1, atoms=12, us=p["benzene_us"],
                            asps=12e6 / p["benzene_us"], field=f"{prec}.benzene_us",
                            name=f"{prec}.benzene", **base))
        for variant, vtext in (("batch_api", "batch call"), ("one_box", "one box")):
            v = p.get(variant)
            if not isinstance(v, dict):
                continue
            for b, e in v.items():
                if not (str(b).isdigit() and isinstance(e, dict) and is_num(e.get("us_per_call"))):
                    continue
                n = int(b)
                rows.append(Row(variant=vtext, molecules=n, atoms=12 * n, us=e["us_per_call"],
                                asps=12e6 * n / e["us_per_call"],
                                field=f"{prec}.{variant}.{b}.us_per_call",
                                name=f"{prec}.{variant}.{b}", **base))
        for key, e in p.items():
            if not (isinstance(e, dict) and is_num(e.get("atoms")) and
                    (is_num(e.get("ms_per_call")) or is_num(e.get("us_per_call")))):
                continue
            us = e["ms_per_call"] * 1000 if is_num(e.get("ms_per_call")) else e["us_per_call"]
            fld = "ms_per_call" if is_num(e.get("ms_per_call")) else "us_per_call"
            mem, memf = "", ""
            if is_num(e.get("device_bytes_per_atom")):
                tot = e["device_bytes_per_atom"] * e["atoms"]
                mem = (f"device {e['device_bytes_per_atom']:,.0f} B/atom "
                       f"({tot / 1e9:.2f} GB)" if tot >= 1e9 else
                       f"device {e['device_bytes_per_atom']:,.0f} B/atom ({tot / 1e6:.1f} MB)")
                memf = f"{prec}.{key}.device_bytes_per_atom"
            rows.append(Row(variant="liquid box", molecules=None, atoms=int(e["atoms"]), us=us,
                            asps=e.get("atom_steps_per_s") if is_num(e.get("atom_steps_per_s"))
                            else None, mem=mem, mem_field=memf, field=f"{prec}.{key}.{fld}",
                            name=f"{prec}.{key}", **base))
    return rows


def newest_per_config(rows):
    best = {}
    for r in rows:
        k = r.config_key()
        if k not in best or r.date_key() > best[k].date_key():
            best[k] = r
    return best


def order(r):
    sysk = (0, r.molecules, 0) if r.molecules else (1, 0, r.atoms)
    return (sysk, r.api != "LAMMPS", r.variant, r.device != "CPU", r.machine, r.precision,
            r.ranks, r.threads)


# ----------------------------------------------------------------------------------------------
# references
# ----------------------------------------------------------------------------------------------
class Reference:
    def __init__(self, srcs):
        self.srcs = [s for s in srcs if s.error is None and isinstance(s.data.get("networks"),
                                                                       dict)]

    def systems(self):
        """(src, network, system key, system dict) for every reference system."""
        for s in self.srcs:
            for net, nd in s.data["networks"].items():
                for key, sd in (nd.get("systems") or {}).items():
                    if isinstance(sd, dict):
                        yield s, net, key, sd

    def find(self, row, net="aev_mlp", mode="compile"):
        """The reference time (ms) of `net` in `mode` for the system of row, with its field."""
        for s, n, key, sd in self.systems():
            if n != net:
                continue
            ms = (sd.get("median_ms") or {}).get(mode)
            if not is_num(ms) or sd.get("atoms") != row.atoms:
                continue
            mol = sd.get("molecules")
            if (row.molecules or None) != (mol or None):
                continue
            return ms, s, f"networks.{n}.systems.{key}.median_ms.{mode}", s.data.get("machine",
                                                                                    "")
        return None


# ----------------------------------------------------------------------------------------------
# accuracy
# ----------------------------------------------------------------------------------------------
def flatten(d, prefix="", depth=3):
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and depth > 1:
            out.update(flatten(v, key + ".", depth - 1))
        elif isinstance(v, (int, float, str, bool)) or v is None:
            out[key] = v
    return out


def metric(d, *words):
    """The first numeric field of d whose name holds every word (case-insensitive)."""
    for k, v in d.items():
        lk = k.lower()
        if all(w in lk for w in words) and is_num(v):
            return k, v
    return None


def acc_text(d):
    parts = []
    for words, fmt in ((("energy", "mae"), "E MAE {:.3g} meV/atom"),
                       (("force", "rmse"), "F RMSE {:.3g} meV/Å"),
                       (("force", "mae"), "F MAE {:.3g} meV/Å")):
        m = metric(d, *words)
        if m:
            parts.append(fmt.format(m[1]))
    return ", ".join(parts)


def acc_entries(acc):
    """{comparison name: metrics dict} of an accuracy section."""
    out = {}
    if not isinstance(acc, dict):
        return out
    flat_top = {k: v for k, v in acc.items() if is_num(v)}
    if flat_top:
        out["accuracy"] = flat_top
    for k, v in acc.items():
        if isinstance(v, dict):
            sub = {kk: vv for kk, vv in v.items() if is_num(vv)}
            if sub:
                out[k] = sub
            for kk, vv in v.items():
                if isinstance(vv, dict):
                    sub2 = {a: b for a, b in vv.items() if is_num(b)}
                    if sub2:
                        out[f"{k}.{kk}"] = sub2
    return out


class Accuracy:
    def __init__(self, model_eval):
        self.eval = model_eval  # Src or None

    def model_eval_text(self, row, notes):
        if self.eval is None or self.eval.error or "benzene-gfn2" not in row.model:
            return ""
        ov = self.eval.data.get("overall")
        if not isinstance(ov, dict):
            return ""
        t = acc_text(ov)
        if t:
            notes.add(f"{self.eval.show}, overall.* (student vs teacher on "
                      f"{ov.get('n_structures', '?')} held-out structures)")
            return "student vs teacher: " + t + " (held out)"
        return ""

    def cell(self, row, notes):
        parts = []
        entries = acc_entries(row.accuracy)
        teacher = [(k, v) for k, v in entries.items()
                   if "teacher" in k.lower() or "student" in k.lower()]
        # bench/bench.py: student_vs_teacher.{cpu_fp64,gpu_fp32,gpu_fp16}: the row's own first
        own = (row.device + "_" + (row.precision or "fp64")).lower()
        teacher.sort(key=lambda kv: not kv[0].lower().endswith(own))
        fp16 = [(k, v) for k, v in entries.items() if "fp16" in k.lower()]
        fp16.sort(key=lambda kv: "fp16_vs_fp32" not in kv[0].lower())
        if teacher and acc_text(teacher[0][1]):
            parts.append("student vs teacher: " + acc_text(teacher[0][1]))
            notes.add(f"{row.src.show}, accuracy.{teacher[0][0]}.*")
        else:
            t = self.model_eval_text(row, notes)
            if t:
                parts.append(t)
            elif "random" in row.model.lower():
                parts.append("random weights: timing only")
        if row.precision == "FP16":
            if fp16 and acc_text(fp16[0][1]):
                parts.append("FP16 vs FP32: " + acc_text(fp16[0][1]))
                notes.add(f"{row.src.show}, accuracy.{fp16[0][0]}.*")
            else:
                parts.append("FP16 vs FP32: not in the JSON")
        return "; ".join(parts) if parts else "not in the JSON"


# ----------------------------------------------------------------------------------------------
# the report
# ----------------------------------------------------------------------------------------------
class Notes:
    """Sources of one table, printed under it."""

    def __init__(self):
        self.items = []

    def add(self, s):
        if s not in self.items:
            self.items.append(s)

    def text(self, lead="Sources"):
        if not self.items:
            return ""
        return f"{lead}: " + "; ".join(f"from {i}" for i in self.items) + "."


def group_fields(rows):
    """'file, cases.*.us_per_step' lines for a set of rows."""
    by = {}
    for r in rows:
        pat = re.sub(r"^cases\.[^.]+\.", "cases.*.", r.field)
        pat = re.sub(r"^(fp32|fp16)\.", "{fp32,fp16}.", pat)
        pat = re.sub(r"\.(batch_api|one_box)\.\d+\.", r".\1.*.", pat)
        by.setdefault(r.src.show, [])
        if pat not in by[r.src.show]:
            by[r.src.show].append(pat)
    return [f"{f}, {', '.join(p)}" for f, p in by.items()]


def build(args):
    root = os.path.abspath(args.root)
    srcs = load_sources(args.results, root)
    refs = [Src(p, root) for p in (args.reference if args.reference is not None else
                                   sorted(glob.glob(os.path.join(root, "bench", "reference",
                                                                 "*.json"))))]
    model_eval = None
    if args.model_eval and os.path.exists(args.model_eval):
        model_eval = Src(args.model_eval, root)
    machines = Machines(srcs)
    ref = Reference(refs)
    accuracy = Accuracy(model_eval)
    used = [s for s in srcs if s.superseded_by is None and s.error is None]

    rows = []
    for s in used:
        if s.kind == "lammps":
            for name, c in s.data["cases"].items():
                if isinstance(c, dict):
                    r = describe_case(s, machines, name, c)
                    if r.us is not None:
                        rows.append(r)
        elif s.kind == "capi":
            rows.extend(capi_rows(s, machines))
    best = newest_per_config(rows)

    out_dir = os.path.dirname(os.path.abspath(args.out))
    plots = Plotter(args.plots, out_dir, enabled=not args.no_plots)

    L = []
    L.append("# mlff benchmarks\n")
    L.append("Generated by `bench/report.py` (run `bash bench/report.sh`) from the JSON files "
             f"in `{os.path.relpath(os.path.abspath(args.results), root)}/`, the PyTorch "
             "reference figures in `bench/reference/` and the shipped model's evaluation; it "
             "measures nothing. Every figure below is a JSON value, or a ratio of two JSON "
             "values with both named; the file and the field are named under each table. GPU "
             "figures were measured on the device named in each row, CPU figures on the "
             "machine named in each row. Of several files of one machine and kind the newest "
             "is used (listed at the end), and of two figures of one configuration, the "
             "newer file's.\n")

    targets = target_checks(best, rows)
    L.append("## Summary\n")
    if targets:
        L.append("Issue-5 targets against the JSON (details in [Issue-5 targets]"
                 "(#issue-5-targets)):\n")
        L.extend(target_summary(targets))
        L.append("")
    else:
        L.append("No timing in the JSON bears on the issue-5 targets.\n")
    nve_srcs = sorted([s for s in used if s.kind == "nve"], key=lambda s: (
        str((s.data.get("setup") or {}).get("device", "")).lower() == "gpu",
        yes((s.data.get("setup") or {}).get("fp16", "no")), s.name))
    if nve_srcs:
        L.append("NVE validation (SPEC §7, [details](#nve-validation)): " + "; ".join(
            f"`{s.name}` **{s.data.get('verdict', '?')}**"
            + (f" (failed: {', '.join(s.data.get('failed') or [])})"
               if s.data.get("failed") else "") for s in nve_srcs) + ".\n")

    # ---- the seed's table -------------------------------------------------------------------
    L.append("## Configurations\n")
    main = [r for r in sorted(best.values(), key=order)
            if r.api == "LAMMPS" or r.variant in ("single", "liquid box") or r.molecules == 16]
    if main:
        notes, memnotes, accnotes, spnotes = Notes(), Notes(), Notes(), Notes()
        trs = []
        for r in main:
            sp, sptext = speedup(r, best, ref, spnotes)
            trs.append([r.config_text(), sptext, r.mem or "not measured",
                        accuracy.cell(r, accnotes), r.machine,
                        f_us(r.us) + (" µs/call" if r.api == "C API" else " µs/step")])
            if r.mem_field:
                memnotes.add(f"{r.src.show}, {r.mem_field}")
        L.append("The seed's table (configuration | speedup | memory | accuracy), with the "
                 "machine and the measured time of each row. LAMMPS rows: µs per MD step "
                 "(LAMMPS 'Loop time' / steps); C-API rows: µs per energy+forces call. "
                 "Speedup: the PyTorch aev-mlp `torch.compile` time for the same system "
                 "(energy+forces per call, measured by others on an H100, given by the "
                 "issue) over this row's time where such a reference exists, else the CPU "
                 "1-thread LAMMPS time of the same system (on the CPU machine here) over "
                 "this row's time; — where neither exists.\n")
        L.append(md_table(["configuration", "speedup", "memory", "accuracy", "machine",
                           "time"], trs))
        L.append("")
        for f in group_fields(main):
            notes.add(f)
        L.append(notes.text("Times") + " " + spnotes.text("Speedup references") +
                 (" " + memnotes.text("Memory") if memnotes.items else "") +
                 (" " + accnotes.text("Accuracy") if accnotes.items else "") + "\n")
        for s in sorted({r.src for r in main}, key=lambda s: s.name):
            if isinstance(s.data.get("note"), str):
                L.append(f"Note in {s.show}: {s.data['note']}\n")
    else:
        L.append("No timing files (LAMMPS or C API) in the results folder.\n")

    # ---- targets ----------------------------------------------------------------------------
    L.append("## Issue-5 targets\n")
    if targets:
        L.append("Each line compares a JSON value (or a ratio of two) with the issue's target: "
                 f"one benzene on the GPU ≤ {TARGET_BENZENE_US:g} µs/step; B = 4, 8, 16 "
                 "molecules ≤ " + ", ".join(f"{v:g}×" for v in TARGET_BATCH.values()) +
                 " the single-molecule step; the "
                 f"{TARGET_LIQUID_ATOMS:,}-atom liquid ≥ {f_sci(TARGET_LIQUID_ASPS)} "
                 f"atom-steps/s in FP16; FP16 ≥ {TARGET_FP16_SPEEDUP:g}× FP32 (time ratio).\n")
        L.append(md_table(["target", "configuration", "machine", "value", "target value",
                           "verdict", "from"],
                          [[t["what"], t["config"], t["machine"], t["value_text"],
                            t["target_text"], verdict(t["ok"]), t["from"]] for t in targets]))
        L.append("")
    else:
        L.append("No timing in the JSON bears on these targets.\n")

    # ---- plots ------------------------------------------------------------------------------
    L.append("## Scaling\n")
    png = plots.scaling(best, ref)
    if png:
        L.append(f"![µs/step against atoms]({png})\n")
        L.append("µs per step (LAMMPS, solid) or per call (C API, dashed) against the atom "
                 "count, log-log, one line per configuration and machine; crosses: the "
                 "PyTorch aev-mlp `torch.compile` reference (H100, given by the issue, "
                 "energy+forces per call). Points: " + "; ".join(
                     f"from {f}" for f in group_fields(plots.last_rows)) + "; " +
                 "; ".join(f"from {s.show}, networks.aev_mlp.systems.*.median_ms.compile"
                           for s in ref.srcs) + ".\n")
    else:
        L.append(plots.why_not or "No timing to plot.\n")
        L.append("")
    png = plots.batch(best, ref)
    if png:
        L.append(f"![per-molecule cost against batch size]({png})\n")
        L.append("µs per molecule-step (step or call time / B) against the number B of "
                 "benzene molecules, one line per configuration; dotted: the issue-5 "
                 "bound (single-molecule time × 1, 1.3, 1.6, 2 at B = 1, 4, 8, 16, over B) "
                 "of the LAMMPS GPU FP32 line; crosses: PyTorch references (H100, given by "
                 "the issue). Points: " + "; ".join(f"from {f}" for f in
                                                   group_fields(plots.last_rows)) + "; " +
                 "; ".join(f"from {s.show}, networks.*.systems.*.median_ms.compile / molecules"
                           for s in ref.srcs) + ".\n")
    elif plots.enabled and plots.ok:
        L.append("No batch timings (B > 1 benzene molecules) in the JSON.\n")

    # ---- NVE --------------------------------------------------------------------------------
    L.append("## NVE validation\n")
    if nve_srcs:
        L.extend(nve_section(nve_srcs, machines, plots))
    else:
        L.append("No NVE JSON (`*-nve-*.json`, written by `scripts/check_nve.py --json`) in the "
                 "results folder.\n")

    # ---- stages -----------------------------------------------------------------------------
    L.append("## Where a large GPU step's time goes\n")
    st_srcs = [s for s in used if s.kind == "stages"]
    if st_srcs:
        for s in st_srcs:
            L.extend(stages_section(s))
    else:
        L.append("No stages JSON (`*-stages.json`, written by `bench/stages.py` from "
                 "`bench/device_run.sh`) in the results folder.\n")

    # ---- peers ------------------------------------------------------------------------------
    L.append("## Peers\n")
    peer_srcs = [s for s in used if s.kind == "peers"]
    if peer_srcs:
        for s in peer_srcs:
            L.extend(peers_section(s, machines))
    else:
        L.append("No peers JSON (`*-peers.json`) in the results folder.\n")

    # ---- multi-GPU ----------------------------------------------------------------------------
    L.append("## Multi-GPU: MPI ranks, each on a GPU\n")
    sc_srcs = [s for s in used if s.kind == "scaling"]
    if sc_srcs:
        for s in sc_srcs:
            L.extend(scaling_section(s, machines, plots))
    else:
        L.append("No scaling JSON (`*-scaling.json`, written by `bench/scaling.sh` on the GPU "
                 "machine) in the results folder.\n")

    # ---- accuracy sections ------------------------------------------------------------------
    acc_srcs = [s for s in used if isinstance(s.data.get("accuracy"), dict)]
    L.append("## Accuracy\n")
    if acc_srcs:
        for s in acc_srcs:
            ents = acc_entries(s.data["accuracy"])
            cols = []
            for e in ents.values():
                for k in e:
                    if k not in cols:
                        cols.append(k)
            L.append(f"**{s.name}** ({machines.label(s, 'GPU' if machines.is_gpu(s) else 'CPU')})"
                     "\n")
            L.append(md_table(["comparison"] + cols,
                              [[k] + [f_gen(e.get(c)) for c in cols] for k, e in ents.items()]))
            L.append(f"\nfrom {s.show}, accuracy.*\n")
    if model_eval is not None and model_eval.error is None and \
            isinstance(model_eval.data.get("overall"), dict):
        ov = model_eval.data["overall"]
        keys = [k for k in ov if is_num(ov[k])]
        L.append(f"Shipped model against its teacher ({model_eval.data.get('dataset_teacher', '?')}"
                 f"), held-out structures:\n")
        L.append(md_table(["field", "value"], [[k, f_gen(ov[k])] for k in keys]))
        L.append(f"\nfrom {model_eval.show}, overall.*\n")
    if not acc_srcs and model_eval is None:
        L.append("No accuracy figures in the JSON.\n")

    # ---- every measurement --------------------------------------------------------------------
    L.append("## All timings, per file\n")
    any_t = False
    for s in used:
        rs = [r for r in rows if r.src is s]
        if not rs:
            continue
        any_t = True
        L.append(f"### {s.name}\n")
        meta = []
        for k in ("source", "model", "date"):
            if isinstance(s.data.get(k), str):
                meta.append(f"{k}: {s.data[k]}")
        if meta:
            L.append("; ".join(meta) + ".\n")
        if isinstance(s.data.get("note"), str):
            L.append(f"Note in the file: {s.data['note']}\n")
        if s.kind == "capi":
            hdr = ["case", "configuration", "machine", "µs/call", "atom-steps/s",
                   "× single", "memory"]
            trs = []
            for r in sorted(rs, key=order):
                single = next((x for x in rs if x.precision == r.precision and
                               x.variant == "single"), None)
                ratio = r.us / single.us if single and r.molecules and r.molecules > 1 else None
                trs.append([r.name, r.config_text(), r.machine, f_us(r.us), f_sci(r.asps),
                            f_ratio(ratio), r.mem or "—"])
        else:
            hdr = ["case", "configuration", "machine", "atoms", "steps", "µs/step",
                   "µs/molecule-step", "atom-steps/s", "memory"]
            trs = []
            for r in sorted(rs, key=order):
                c = s.data["cases"][r.name]
                trs.append([r.name, r.config_text(), r.machine, f"{r.atoms:,}",
                            f_gen(c.get("steps")), f_us(r.us),
                            f_us(r.us / r.molecules) if r.molecules else "—", f_sci(r.asps),
                            r.mem or "—"])
        L.append(md_table(hdr, trs))
        flds = ("cases.*.{atoms,steps,us_per_step,atom_steps_per_s}; µs/molecule-step = "
                "us_per_step / molecules" if s.kind == "lammps" else
                "{fp32,fp16}.{benzene_us, batch_api.*.us_per_call, one_box.*.us_per_call, "
                "liquid*.ms_per_call, liquid*.atom_steps_per_s, liquid*.device_bytes_per_atom}; "
                "× single = us_per_call / benzene_us; benzene atom-steps/s = 12 × B / time")
        L.append(f"\nfrom {s.show}, {flds}\n")
    if not any_t:
        L.append("None.\n")

    # ---- machines and versions ----------------------------------------------------------------
    L.append("## Machines and versions\n")
    mrows = []
    for s in used:
        info = machine_fields(s)
        mrows.append([s.name, machines.label(s, "GPU" if machines.is_gpu(s) else "CPU"),
                      "; ".join(f"{k}: {f_gen(v)}" for k, v in info.items()) or "—"])
    for s in refs:
        if s.error is None:
            mrows.append([s.show, str(s.data.get("machine", "?")) + " (PyTorch reference, "
                          "measured by others)", f"pytorch: {s.data.get('pytorch', '?')}"])
    if mrows:
        L.append(md_table(["file", "machine (label used here)", "fields in the file"], mrows))
        L.append("\nfrom each file's machine, device, versions, model and setup fields. In the "
                 "LAMMPS files of a GPU machine the `machine` block names the host that "
                 "collected the logs, not the one that ran them; the label comes from the file "
                 "name or its device field.\n")
        vers = [s.name for s in used if any(k.startswith(("versions", "software", "cuda",
                                                           "driver", "lammps"))
                                            for k in machine_fields(s))]
        if not vers:
            L.append("No result file records software versions (LAMMPS, CUDA, driver, "
                     "compiler): none are quoted here.\n")
        else:
            L.append("Software versions are recorded only in: " + ", ".join(vers) + ".\n")

    # ---- PyTorch references -------------------------------------------------------------------
    L.append("## PyTorch reference (given by the issue; H100, PyTorch 2.11)\n")
    if ref.srcs:
        for s in ref.srcs:
            L.append(f"{s.data.get('source', '')}\n")
            modes = list((s.data.get("modes") or {}).keys()) or ["eager", "compile"]
            trs = []
            for ss, net, key, sd in ref.systems():
                if ss is not s:
                    continue
                ms = sd.get("median_ms") or {}
                desc = s.data["networks"][net].get("description", net)
                sysd = (f"{sd.get('molecules')} benzene" + ("s" if sd.get("molecules", 1) > 1
                                                            else "")
                        if sd.get("molecules") else "liquid benzene") + \
                    f" ({sd.get('atoms', 0):,} atoms)"
                trs.append([desc, sysd] + [f_gen(ms.get(m)) if m in ms else "—" for m in modes])
            L.append(md_table(["network (PyTorch)", "system"] + [f"{m} ms" for m in modes], trs))
            L.append(f"\nfrom {s.show}, networks.*.systems.*.median_ms.* (reference figures, "
                     f"machine {s.data.get('machine', '?')}, PyTorch {s.data.get('pytorch', '?')};"
                     " not measured in this project)\n")
    else:
        L.append("No reference file in `bench/reference/`.\n")

    # ---- files --------------------------------------------------------------------------------
    L.append("## Files read\n")
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
    L.append(md_table(["file", "kind", "state"], frows))
    L.append("")
    plots.remove_stale()
    text = "\n".join(L).rstrip() + "\n"
    os.makedirs(out_dir, exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    return text, plots.written


def machine_fields(s):
    d = s.data
    out = {}
    m = d.get("machine")
    if isinstance(m, dict):
        out.update({f"machine.{k}": v for k, v in flatten(m).items()})
    for k in ("device", "gpu", "driver", "cuda", "lammps", "lammps_version", "date"):
        if isinstance(d.get(k), (str, int, float)):
            out[k] = d[k]
    k = "model"
    if isinstance(d.get(k), (str, int, float)):
        out[k] = d[k]
    elif isinstance(d.get(k), dict) and d[k].get("path"):
        out["model.path"] = d[k]["path"]
    for k in ("versions", "software", "lammps"):
        if isinstance(d.get(k), dict):
            out.update({f"{k}.{kk}": v for kk, v in flatten(d[k]).items()})
    if s.kind == "nve" and isinstance(d.get("setup"), dict):
        out.update({f"setup.{k}": v for k, v in d["setup"].items()})
    return out


def speedup(r, best, ref, notes):
    """(value, cell text) of the speedup of row r."""
    hit = ref.find(r)
    if hit:
        ms, s, fld, mach = hit
        notes.add(f"{s.show}, {fld}")
        v = ms * 1000.0 / r.us
        return v, f"{f_speedup(v)} vs PyTorch compile ({mach or 'reference'})"
    base = [b for b in best.values() if b.api == "LAMMPS" and b.device == "CPU" and
            b.threads == 1 and b.ranks == 1 and b.system == r.system and
            b.precision == "" and "host CPU" not in b.machine]
    if not base:
        base = [b for b in best.values() if b.api == "LAMMPS" and b.device == "CPU" and
                b.threads == 1 and b.ranks == 1 and b.system == r.system and b.precision == ""]
    if base:
        b = sorted(base, key=lambda x: x.date_key())[-1]
        if b is r:
            return 1.0, "1× (CPU 1-thread baseline)"
        notes.add(f"{b.src.show}, {b.field}")
        v = b.us / r.us
        return v, f"{f_speedup(v)} vs CPU 1 thread ({b.machine})"
    return None, "— (no reference)"


def target_summary(targets):
    """One line per target: met or missed, by how many configurations, best and worst."""
    out = []
    groups = {}
    for t in targets:
        groups.setdefault(t["what"], []).append(t)
    for what, ts in groups.items():
        hib = ts[0]["higher_better"]
        best = max(ts, key=lambda t: t["value"]) if hib else min(ts, key=lambda t: t["value"])
        missed = [t for t in ts if not t["ok"]]
        n = len(ts)
        where = lambda t: f"{t['value_text']} — {t['config']}, {t['machine']}"
        alln = "the one" if n == 1 else "both" if n == 2 else f"all {n}"
        if not missed:
            worst = min(ts, key=lambda t: t["value"]) if hib else \
                max(ts, key=lambda t: t["value"])
            out.append(f"- {what}, target {ts[0]['target_text']}: met by "
                       f"{alln} configuration"
                       f"{'s' if n > 1 else ''} measured; worst {where(worst)}.")
        elif len(missed) == n:
            out.append(f"- {what}, target {ts[0]['target_text']}: **missed** by "
                       f"{alln} configuration"
                       f"{'s' if n > 1 else ''} measured; best {where(best)}.")
        else:
            out.append(f"- {what}, target {ts[0]['target_text']}: **missed** by {len(missed)} "
                       f"of {n} configurations: " + "; ".join(where(t) for t in missed) +
                       f"; best {where(best)}.")
    return out


def target_checks(best, rows):
    """Every comparison of a JSON figure with an issue-5 target."""
    out = []
    bl = sorted(best.values(), key=order)

    def src_of(*rs):
        return "; ".join(f"{r.src.show}, {r.field}" for r in rs)

    for r in bl:
        if r.device == "GPU" and r.molecules == 1 and r.variant in ("", "single"):
            out.append(dict(what="One benzene on the GPU", higher_better=False,
                            config=r.config_text(),
                            machine=r.machine, value=r.us, value_text=f"{f_us(r.us)} µs",
                            target_text=f"≤ {TARGET_BENZENE_US:g} µs",
                            ok=r.us <= TARGET_BENZENE_US, **{"from": src_of(r)}))
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
            lim = TARGET_BATCH[r.molecules]
            out.append(dict(what=f"B = {r.molecules} molecules: time / single-molecule time",
                            higher_better=False,
                            config=r.config_text(), machine=r.machine, value=ratio,
                            value_text=f"{ratio:.2f}× ({f_us(r.us)} / {f_us(s.us)} µs)",
                            target_text=f"≤ {lim:g}×", ok=ratio <= lim,
                            **{"from": src_of(r, s)}))
    for r in bl:
        if r.device == "GPU" and r.atoms == TARGET_LIQUID_ATOMS and not r.molecules and \
                r.precision == "FP16" and is_num(r.asps):
            out.append(dict(what=f"{TARGET_LIQUID_ATOMS:,}-atom liquid, FP16 atom-steps/s",
                            higher_better=True,
                            config=r.config_text(), machine=r.machine, value=r.asps,
                            value_text=f_sci(r.asps),
                            target_text=f"≥ {f_sci(TARGET_LIQUID_ASPS)}",
                            ok=r.asps >= TARGET_LIQUID_ASPS,
                            **{"from": src_of(r).replace("us_per_step", "atom_steps_per_s")
                               .replace("ms_per_call", "atom_steps_per_s")}))
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
            out.append(dict(what="FP16 speedup over FP32 (FP32 time / FP16 time)",
                            higher_better=True,
                            config=r.config_text().replace("GPU FP16", "GPU FP16 vs FP32"),
                            machine=r.machine, value=ratio,
                            value_text=f"{ratio:.2f}× ({f_us(twin.us)} / {f_us(r.us)} µs)",
                            target_text=f"≥ {TARGET_FP16_SPEEDUP:g}×",
                            ok=ratio >= TARGET_FP16_SPEEDUP, **{"from": src_of(twin, r)}))
    return out


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
    L.append("")
    f16 = [k for k in names if "fp16" in k]
    for k16 in f16:
        k32 = k16.replace("fp16", "fp32")
        if k32 not in cases:
            continue
        t16, t32 = cases[k16].get("loop_ms_per_step"), cases[k32].get("loop_ms_per_step")
        n16 = (cases[k16].get("gpu_stages_us") or {}).get("network fwd+bwd")
        n32 = (cases[k32].get("gpu_stages_us") or {}).get("network fwd+bwd")
        if not all(is_num(v) for v in (t16, t32, n16, n32)):
            continue
        common = t16 - n16 / 1e3
        need = (n32 - 1.3 * n16) / 0.3 / 1e3
        L.append(f"{k16} against {k32}: FP16 changes one stage, the network (fwd+bwd {n16:.1f} µs "
                 f"against {n32:.1f} µs in FP32); the timed steps take {t16:.3f} and {t32:.3f} ms "
                 f"(FP32/FP16 {t32 / t16:.2f}×). The rest of the FP16 step, {common:.3f} ms, is "
                 "common to both; with these network times FP32/FP16 reaches 1.3× only when that "
                 f"common part is at most {need:.3f} ms.\n")
    return L


def scaling_section(s, machines, plots):
    d = s.data
    m = d.get("machine") or {}
    L = [f"`{s.show}`: {d.get('gpus_used', '?')} of {d.get('gpus_visible', '?')} visible GPU(s) "
         f"({m.get('gpu', '?')}), model `{d.get('model', '?')}`, FP32, "
         f"{d.get('threads_per_rank', 1)} thread per rank, {d.get('steps', '?')} timed steps after "
         f"{d.get('warmup', '?')} (LAMMPS Loop time). Each rank uses GPU (local rank mod GPU "
         "count). Efficiency: weak t1/tN, strong t1/(N tN); ranks sharing one GPU: t1/tN, a speed-up (the "
         "host's share of each step runs on several cores while the GPU is shared).\n"]
    rows = []
    for kind, label in (("weak", "weak (~10⁶ atoms per GPU)"), ("strong", "strong (fixed box)"),
                        ("shared", "ranks sharing one GPU")):
        for r in d.get(kind) or []:
            if r.get("error"):
                rows.append([label, str(r.get("gpus", "?")), str(r.get("mpi_ranks", "?")), "—",
                             "failed: " + r["error"][:120], "—", "—"])
                continue
            rows.append([label, str(r.get("gpus")), str(r.get("mpi_ranks")), f"{r['atoms']:,}",
                         f_us(r.get("us_per_step")), f_sci(r.get("atom_steps_per_s")),
                         f"{100 * r['efficiency']:.0f} %" if is_num(r.get("efficiency")) else "—"])
    L.append(md_table(["series", "GPUs", "MPI ranks", "atoms", "µs per step",
                       "atom-steps/s", "parallel efficiency"], rows))
    for nr in d.get("not_run") or []:
        L.append(f"- {nr.get('gpus')} GPUs: not run ({nr.get('why', '?')}).")
    if d.get("not_run"):
        L.append("")
    png = plots.gpus(s)
    if png:
        L.append(f"![parallel efficiency]({png})\n")
    return L


def nve_section(nve_srcs, machines, plots):
    L = []
    crit_names = []
    for s in nve_srcs:
        for c in s.data.get("criteria") or []:
            if c.get("name") not in crit_names:
                crit_names.append(c.get("name"))
    rows = []
    for s in nve_srcs:
        d = s.data
        setup = d.get("setup") or {}
        dev = "GPU" if str(setup.get("device", "")).lower() == "gpu" else "CPU"
        mach = machines.by_token.get(s.token) if dev == "CPU" else None
        if dev == "GPU" or mach is None:
            g = GPU_NAMES.match(s.token)
            mach = (s.token.upper() if g else s.token) + (" host CPU" if g and dev == "CPU"
                                                          else "")
        cfg = s.fkind[4:] if s.fkind.startswith("nve-") else s.fkind
        prec = "FP16" if yes(setup.get("fp16", "no")) else ("FP32" if dev == "GPU" else "")
        v = d.get("values") or {}
        crit = {c.get("name"): c for c in d.get("criteria") or []}
        row = [cfg, f"{dev} {prec}".strip(), mach, str(setup.get("model", "—")),
               f"**{d.get('verdict', '?')}**",
               f"{v['drift_pct']:+.6f}" if is_num(v.get("drift_pct")) else "—",
               f"{v['slope_mev_atom_ps']:+.6f}" if is_num(v.get("slope_mev_atom_ps")) else "—",
               f"{v['std_over_ke']:.6f}" if is_num(v.get("std_over_ke")) else "—",
               f"{v['T_mean']:.2f}" if is_num(v.get("T_mean")) else "—",
               f_gen(v.get("atoms_lost")), f_us(v.get("us_per_step"))]
        row += [("PASS" if crit[n].get("pass") else "**FAIL**") if n in crit else "—"
                for n in crit_names]
        rows.append(row)
    L.append("Benzene, 0.5 fs: 10 ps Langevin at 300 K, then 100 ps NVE "
             "(`examples/lammps/in.benzene_nve`), judged by `scripts/check_nve.py` (SPEC §7).\n")
    L.append(md_table(["config", "device", "machine", "model", "verdict", "drift %",
                       "linear drift meV/atom/ps", "std(E)/mean KE", "mean T (K)", "atoms lost",
                       "µs/step (NVE run)"]
                      + crit_names, rows))
    L.append("\n" + "; ".join(f"from {s.show}" for s in nve_srcs) +
             ": verdict, values.{drift_pct, slope_mev_atom_ps, std_over_ke, T_mean, atoms_lost, "
             "us_per_step}, criteria.*.pass. Limits (check_nve.py defaults): drift |.| < 1 %, "
             "linear drift |.| < 0.01 meV/atom/ps, std(E)/mean KE < 0.05, mean T within 20 K "
             "of 300 K, no atom lost.\n")
    for s in nve_srcs:
        d = s.data
        crit = d.get("criteria") or []
        if crit:
            L.append(f"**{s.name}** — criteria as the checker wrote them:\n")
            for c in crit:
                L.append(f"- [{'PASS' if c.get('pass') else 'FAIL'}] {c.get('name')}: "
                         f"{c.get('text', '')}")
            L.append("")
        if d.get("error"):
            L.append(f"**{s.name}**: the log could not be judged: {d['error']}\n")
        png = plots.nve(s)
        if png:
            L.append(f"![NVE {s.name}]({png})\n")
            L.append(f"from {s.show}, series.{{time_ps, pe, ke, etotal, temp}} "
                     f"({(d.get('series') or {}).get('n_kept', '?')} of "
                     f"{(d.get('series') or {}).get('n_rows', '?')} thermo rows).\n")
        elif plots.why_not and d.get("series"):
            L.append(plots.why_not + "\n")
    return L


def peers_potentials(s, machines):
    """The table of bench/peers.py's output: {"potentials": {NAME: {pair, units, timing: {BOX:
    {us_per_atom_step, atom_steps_per_s, ...}}, errors: {all: {...}, TAG: {...}}}}}."""
    d = s.data
    pots = d["potentials"]
    L = []
    mach = machines.label(s, "CPU")
    L.append(f"**{s.name}** ({mach})\n")
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
        for b in (p.get("timing") or {}):
            if b not in boxes:
                boxes.append(b)
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
        for t in e:
            if t != "all" and isinstance(e[t], dict) and t not in tags:
                tags.append(t)
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


def peers_section(s, machines):
    d = s.data
    if isinstance(d.get("potentials"), dict) and all(
            isinstance(p, dict) and ("timing" in p or "errors" in p)
            for p in d["potentials"].values()):
        return peers_potentials(s, machines)
    L = []
    entries = None
    for key in ("peers", "potentials", "cases", "results"):
        if isinstance(d.get(key), (dict, list)):
            entries, path = d[key], key
            break
    if entries is None:
        entries = {k: v for k, v in d.items() if isinstance(v, dict) and
                   k not in ("machine", "versions", "software")}
        path = ""
    if isinstance(entries, list):
        entries = {str(e.get("potential") or e.get("name") or e.get("peer") or i): e
                   for i, e in enumerate(entries) if isinstance(e, dict)}
    flat = {k: flatten(v) for k, v in entries.items() if isinstance(v, dict)}
    cols = []
    for f in flat.values():
        for k in f:
            if k not in cols:
                cols.append(k)
    L.append(f"**{s.name}** ({machines.label(s, 'GPU' if machines.is_gpu(s) else 'CPU')})\n")
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


# ----------------------------------------------------------------------------------------------
# plots
# ----------------------------------------------------------------------------------------------
def line_order(r):
    """CPU 1 thread, CPU threads, CPU ranks, GPU FP32, GPU FP16; LAMMPS before the C API."""
    return (r.api != "LAMMPS", r.device != "CPU", "host CPU" in r.machine, r.machine,
            r.precision == "FP16", r.ranks, r.threads, r.variant, str(r.graph))


def line_colour(r, i):
    if r.device == "CPU":
        if "host CPU" in r.machine:
            return "0.55"
        return "C0" if r.threads == 1 and r.ranks == 1 else "C2" if r.ranks == 1 else "C4"
    fp16 = r.precision == "FP16"
    if r.api == "C API":
        return ("C9" if r.variant == "batch call" else "C5") if fp16 else \
            ("C8" if r.variant == "batch call" else "C6")
    return "C1" if fp16 else "C3"


class Plotter:
    def __init__(self, plot_dir, md_dir, enabled=True):
        self.dir, self.md_dir, self.enabled = plot_dir, md_dir, enabled
        self.written = []
        self.last_rows = []  # the rows the last plot drew
        self.why_not = ""
        self.ok = False
        self.plt = None
        if not enabled:
            self.why_not = "(plots not drawn: --no-plots)"
            return
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
            self.plt, self.ok = plt, True
        except Exception as e:  # noqa: BLE001 — any import failure: no plots
            self.why_not = (f"(plots not drawn: matplotlib not importable ({e}); "
                            "apt-get install python3-matplotlib)")
            print("report.py: " + self.why_not, file=sys.stderr)

    def save(self, fig, name):
        os.makedirs(self.dir, exist_ok=True)
        path = os.path.join(self.dir, name)
        fig.savefig(path, dpi=100, metadata={"Software": None})
        self.plt.close(fig)
        self.written.append(path)
        return os.path.relpath(path, self.md_dir)

    def remove_stale(self):
        """PNGs of this script's names (scaling, batch, gpus, nve-*) not drawn this time."""
        if not self.ok:
            return
        keep = {os.path.abspath(p) for p in self.written}
        for p in glob.glob(os.path.join(self.dir, "*.png")):
            b = os.path.basename(p)
            if (b in ("scaling.png", "batch.png", "gpus.png") or b.startswith("nve-")) and \
                    os.path.abspath(p) not in keep:
                os.remove(p)

    def scaling(self, best, ref):
        if not self.ok:
            return None
        lines = {}
        for r in best.values():
            if r.api == "C API" and r.variant == "batch call":
                continue  # separate systems in one call: not one box of N atoms
            k = list(r.line_key())
            if r.api == "C API":
                k[1] = "box"  # single molecule, one box of B, liquid boxes: one curve
            lines.setdefault(tuple(k), []).append(r)
        self.last_rows = [r for rs in lines.values() for r in rs]
        if not lines:
            return None
        plt = self.plt
        fig, ax = plt.subplots(figsize=(9, 6))
        for i, (k, rs) in enumerate(sorted(lines.items(), key=lambda kv: line_order(kv[1][0]))):
            pts = {}
            rank = {"single": 0, "liquid box": 0, "one box": 1, "": 0}
            for r in sorted(rs, key=lambda r: (r.date_key(), -rank.get(r.variant, 2))):
                pts[r.atoms] = r  # the newest; of a C API single and one-box of 1, single
            xs = sorted(pts)
            lab = rs[0].line_label()
            if rs[0].api == "C API":
                lab = re.sub(r"^C API [^:]*:", "C API (one box per call):", lab)
            ax.plot(xs, [pts[x].us for x in xs], marker="os^Dv<>p"[i % 8], ms=5,
                    ls="--" if rs[0].api == "C API" else "-", label=lab,
                    color=line_colour(rs[0], i))
        for s, net, key, sd in ref.systems():
            ms = (sd.get("median_ms") or {}).get("compile")
            if net == "aev_mlp" and is_num(ms) and is_num(sd.get("atoms")):
                ax.plot([sd["atoms"]], [ms * 1000], "kx", ms=8)
        ax.plot([], [], "kx", label="PyTorch aev-mlp compile (H100, given by the issue)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("atoms")
        ax.set_ylabel("µs per step (LAMMPS) or per call (C API)")
        ax.set_title("Cost against system size (benzene molecules and liquid boxes)")
        ax.grid(True, which="both", lw=0.3)
        ax.legend(fontsize=7, loc="upper left")
        fig.tight_layout()
        return self.save(fig, "scaling.png")

    def batch(self, best, ref):
        if not self.ok:
            return None
        lines = {}
        for r in best.values():
            if r.molecules and r.device == "GPU":
                lines.setdefault(r.line_key(), []).append(r)
        # a LAMMPS or C-API line needs B > 1 to be drawn; single-molecule rows join their line
        lines = {k: v for k, v in lines.items() if any(r.molecules > 1 for r in v)}
        for k, v in list(lines.items()):
            if k[0] == "C API":
                single = [r for r in best.values() if r.api == "C API" and r.variant == "single"
                          and r.machine == k[2] and r.precision == k[4] and r.molecules == 1]
                if single and not any(r.molecules == 1 for r in v):
                    v.append(single[0])
        self.last_rows = [r for rs in lines.values() for r in rs]
        if not lines:
            return None
        plt = self.plt
        fig, ax = plt.subplots(figsize=(8, 5.5))
        bound_drawn = False
        for i, (k, rs) in enumerate(sorted(lines.items(), key=lambda kv: line_order(kv[1][0]))):
            pts = {r.molecules: r for r in rs}
            xs = sorted(pts)
            ax.plot(xs, [pts[x].us / x for x in xs], marker="os^Dv<>p"[i % 8], ms=4,
                    ls="--" if k[0] == "C API" else "-", color=line_colour(rs[0], i),
                    label=rs[0].line_label())
            if k[0] == "LAMMPS" and k[4] == "FP32" and 1 in pts and not bound_drawn:
                bx = [1] + sorted(TARGET_BATCH)
                lim = {1: 1.0, **TARGET_BATCH}
                ax.plot(bx, [pts[1].us * lim[b] / b for b in bx], ":", color="0.4",
                        label=f"issue-5 bound ({rs[0].line_label()})")
                bound_drawn = True
        marks = {"aev_mlp": ("kx", "PyTorch aev-mlp compile"),
                 "painn_like": ("k+", "PyTorch PaiNN-like compile")}
        for net, (st, lab) in marks.items():
            pts = []
            for s, n, key, sd in ref.systems():
                ms = (sd.get("median_ms") or {}).get("compile")
                if n == net and is_num(ms) and sd.get("molecules"):
                    pts.append((sd["molecules"], ms * 1000 / sd["molecules"]))
            if pts:
                pts.sort()
                ax.plot([p[0] for p in pts], [p[1] for p in pts], st + ":", ms=8, lw=0.6,
                        label=lab + " (H100, given by the issue)")
        ax.set_xscale("log", base=2)
        ax.set_xticks([1, 2, 4, 8, 16])
        ax.set_xticklabels(["1", "2", "4", "8", "16"])
        ax.set_yscale("log")
        ax.set_xlabel("benzene molecules B")
        ax.set_ylabel("µs per molecule-step")
        ax.set_title("Per-molecule cost against batch size")
        ax.grid(True, which="both", lw=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        return self.save(fig, "batch.png")

    def gpus(self, s):
        """Parallel efficiency against GPUs (weak, strong) and ranks on one GPU (shared)."""
        if not self.ok:
            return None
        series = []
        for kind, key, label in (("weak", "gpus", "weak scaling (GPUs)"),
                                 ("strong", "gpus", "strong scaling (GPUs)"),
                                 ("shared", "mpi_ranks", "ranks sharing one GPU")):
            pts = sorted((r[key], r["efficiency"]) for r in s.data.get(kind) or []
                         if is_num(r.get("efficiency")))
            if pts:
                series.append((label, pts))
        if not series:
            return None
        plt = self.plt
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for i, (label, pts) in enumerate(series):
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", color=f"C{i}", label=label)
        ax.axhline(1.0, color="k", lw=0.5, ls="--")
        ax.axhline(0.9, color="0.6", lw=0.5, ls=":")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("GPUs (weak, strong) or MPI ranks (one GPU)")
        ax.set_ylabel("parallel efficiency (ranks on one GPU: speed-up)")
        top = max(p[1] for _, pts in series for p in pts)
        ax.set_ylim(0, max(1.15, 1.1 * top))
        ax.set_title(f"pair_style mlff under MPI: {s.name}", fontsize=9)
        ax.legend(fontsize=8)
        ax.grid(True, lw=0.3)
        fig.tight_layout()
        return self.save(fig, "gpus.png")

    def nve(self, s):
        if not self.ok:
            return None
        ser = s.data.get("series") or {}
        t = ser.get("time_ps")
        if not t or not all(isinstance(ser.get(k), list) and len(ser[k]) == len(t)
                            for k in ("pe", "ke", "etotal", "temp")):
            return None
        v = s.data.get("values") or {}
        n = v.get("n_atoms") or 1
        e0 = ser["etotal"][0]
        plt = self.plt
        fig, ax = plt.subplots(3, 1, figsize=(8, 7.5), sharex=True)
        ax[0].plot(t, [(e - e0) * 1000 / n for e in ser["etotal"]], lw=0.7)
        ax[0].set_ylabel("E_total − E_0\n(meV/atom)")
        pe_mean = sum(ser["pe"]) / len(ser["pe"])
        ax[1].plot(t, [p - pe_mean for p in ser["pe"]], lw=0.6, label="PE - mean PE")
        ax[1].plot(t, ser["ke"], lw=0.6, label="KE")
        ax[1].set_ylabel("energy (eV)")
        ax[1].legend(fontsize=7, loc="upper right")
        ax[2].plot(t, ser["temp"], lw=0.6, color="C3")
        if is_num(v.get("target_temp")):
            ax[2].axhline(v["target_temp"], color="k", lw=0.5, ls="--")
        ax[2].set_ylabel("temperature (K)")
        ax[2].set_xlabel("NVE time (ps)")
        setup = s.data.get("setup") or {}
        fig.suptitle(f"NVE {s.name}: {s.data.get('verdict', '?')} "
                     f"(model {setup.get('model', '?')}, device {setup.get('device', '?')}, "
                     f"fp16 {setup.get('fp16', '?')})", fontsize=9)
        fig.tight_layout()
        return self.save(fig, f"nve-{os.path.splitext(s.name)[0]}.png")


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
