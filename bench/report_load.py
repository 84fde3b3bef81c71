"""report_load.py — the JSON files of bench/report.py: reading and classifying them, which file of
a machine and kind is the newest, the machines' labels, and the PyTorch reference figures.

Files in the results folder are named <machine>-<YYYY-MM-DD>[-<kind>].json; of several files of
one machine and kind the newest wins (date in the name, then the "date" field)."""
import glob
import json
import os
import re

from report_api import is_capi_liquid, is_python_timing
from report_cost import is_term_cost
from report_fmt import is_num
from report_liquid import is_dimers, is_eos, is_liquid
from report_soak import is_soak

GPU_NAMES = re.compile(r"^(h100|h200|a100|a10|l4|l40s?|v100|t4|rtx\w*|gh200|b200|mi\d+\w*|gpu)$",
                       re.I)
FILE_NAME = re.compile(r"^(?P<machine>.+?)-(?P<date>\d{4}-\d{2}-\d{2})(?:-(?P<kind>.+))?\.json$")


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
        if d.get("kind") in ("scaling", "stages"):
            return d["kind"]
        if is_liquid(d):  # bench/validate_liquid.py (before the NVE test: it has a verdict too)
            return "liquid"
        if is_dimers(d):  # bench/dimer_curves.py
            return "dimers"
        if is_eos(d):  # bench/liquid_eos.py
            return "eos"
        if is_term_cost(d):  # bench/device_dispersion.sh, bench/device_committee.sh
            return "term-cost"
        if is_soak(d):  # bench/device_soak.sh
            return "soak"
        if is_python_timing(d):  # bench/python_timing.py
            return "python-timing"
        if "verdict" in d and ("criteria" in d or "series" in d or "error" in d):
            return "nve"
        if "peers" in self.fkind or "peers" in d or "potentials" in d:
            return "peers"
        if is_capi_liquid(d):  # bench/device_capi.sh (before LAMMPS: it has cases too)
            return "capi-liquid"
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


def short_gpu(name):
    """'NVIDIA H100 80GB HBM3' -> 'H100'."""
    toks = [t for t in str(name).split() if t.upper() not in ("NVIDIA", "TESLA", "GEFORCE")]
    return toks[0] if toks else str(name)


def gpu_of(src):
    d = src.data
    dev = d.get("device")
    if isinstance(dev, str) and dev.lower() not in ("cpu", "gpu", "cuda", ""):
        return short_gpu(dev)
    if isinstance(d.get("gpu"), str) and d["gpu"]:
        return short_gpu(d["gpu"])
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

    def own(self, src):
        """Label of the machine of a whole file (its GPU, else its host)."""
        return self.label(src, "GPU" if self.is_gpu(src) else "CPU")

    def nve(self, src):
        """(device, machine label) of an NVE file (scripts/check_nve.py --json)."""
        setup = src.data.get("setup") or {}
        dev = "GPU" if str(setup.get("device", "")).lower() == "gpu" else "CPU"
        mach = self.by_token.get(src.token) if dev == "CPU" else None
        if dev == "GPU" or mach is None:
            g = GPU_NAMES.match(src.token)
            mach = (src.token.upper() if g else src.token) + (" host CPU" if g and dev == "CPU"
                                                              else "")
        return dev, mach


class Reference:
    """The PyTorch reference figures (bench/reference/*.json: networks.NET.systems.KEY)."""

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
        """The reference time (ms) of `net` in `mode` for the system of row, with its file,
        field and machine; None where the reference has no such figure."""
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

    def points(self, net, mode):
        """[(atoms, molecules or None, ms, src, field)] of `net` in `mode`, by atoms."""
        out = []
        for s, n, key, sd in self.systems():
            ms = (sd.get("median_ms") or {}).get(mode)
            if n == net and is_num(ms) and is_num(sd.get("atoms")):
                out.append((sd["atoms"], sd.get("molecules"), ms, s,
                            f"networks.{n}.systems.{key}.median_ms.{mode}"))
        return sorted(out, key=lambda p: p[0])

