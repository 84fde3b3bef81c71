"""report_rows.py — the timings of bench/report.py: one Row per configuration and machine, from
a LAMMPS case (bench/bench.py's "cases") or a C-API figure (bench/gpu_bench.c's JSON); the newest
of each configuration; the fastest of a system on a card; speedups against the references."""
import re

from report_fmt import f_speedup, is_num, yes


class Row:
    """One timing: a configuration on a machine, from one field of one file."""

    def __init__(self, **kw):
        self.api = "LAMMPS"          # or "C API"
        self.variant = ""            # C API: "single", "batch call", "one box", "liquid box"
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
        self.asps_field = ""         # its field, "" where it is atoms / time
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

    def gpu_text(self, graph_words, resident_words):
        t = f"GPU {self.precision or 'FP32'}"
        if self.graph is not None and not self.resident:  # a resident step replays no graph
            t += graph_words[0] if self.graph else graph_words[1]
        if self.resident is not None:
            t += resident_words[0] if self.resident else resident_words[1]
        return t

    def device_text(self):
        if self.device == "GPU":
            t = self.gpu_text((", CUDA graph", ", no graph"),
                              (", resident step", ", resident step off"))
            if self.threads > 1:
                t += f", {self.threads} host threads" + (f" (-sf {self.suffix})" if self.suffix
                                                         else "")
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

    def setting_text(self):
        """The settings of a GPU LAMMPS row beyond its precision: 'CUDA graph, 8 host threads'."""
        return self.device_text().split(", ", 1)[1] if ", " in self.device_text() else ""

    def line_key(self):
        """Rows that share a curve."""
        return (self.api, self.variant if self.variant != "single" else "", self.machine,
                self.device, self.precision, self.threads, self.ranks, self.graph, self.resident)

    def config_key(self):
        return self.line_key() + (self.system,)

    def date_key(self):
        return self.src.sort_key()

    def asps_source(self, show=None):
        """'file, field' of the row's atom-steps/s (the file as `show` where given)."""
        show = show or self.src.show
        if self.asps_field:
            return f"{show}, {self.asps_field}"
        return f"{show}, {self.field} (atom-steps/s = atoms × 10⁶ / µs)"


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
    asps = c.get("atom_steps_per_s") if is_num(c.get("atom_steps_per_s")) else None
    return Row(api=api, variant="" if api == "LAMMPS" else str(c.get("variant", "")),
               machine=machines.label(src, device), device=device, precision=precision,
               threads=int(c.get("threads", 1) or 1), ranks=int(c.get("mpi_ranks", 1) or 1),
               suffix=str(c.get("lammps_suffix", "")), graph=graph,
               resident=yes(c["resident"]) if c.get("resident") is not None else None,
               molecules=molecules, atoms=atoms, us=us if is_num(us) else None,
               asps=asps, asps_field=f"cases.{name}.atom_steps_per_s" if asps else "",
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
            asps = e.get("atom_steps_per_s") if is_num(e.get("atom_steps_per_s")) else None
            rows.append(Row(variant="liquid box", molecules=None, atoms=int(e["atoms"]), us=us,
                            asps=asps, asps_field=f"{prec}.{key}.atom_steps_per_s" if asps
                            else "", mem=mem, mem_field=memf, field=f"{prec}.{key}.{fld}",
                            name=f"{prec}.{key}", **base))
    return rows


def collect_rows(used, machines):
    """Every timing of the files in use (LAMMPS cases and C-API figures)."""
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


def gpu_cards(best):
    """The GPU cards of the LAMMPS rows, the one of the newest file last."""
    newest = {}
    for r in best.values():
        if r.api == "LAMMPS" and r.device == "GPU":
            newest[r.machine] = max(newest.get(r.machine, r.date_key()), r.date_key())
    return sorted(newest, key=lambda m: (newest[m], m))


def main_cards(best, ref):
    """The cards of the headline and the plots: the PyTorch reference's card (figures compared on
    one card) and the card of the newest file, oldest first."""
    cards = gpu_cards(best)
    ref_cards = {str(s.data.get("machine", "")).upper() for s in ref.srcs}
    return [c for c in cards if c.upper() in ref_cards or c == cards[-1]]


def accuracy_sources(best, cards):
    """(file, card) of the GPU files on `cards` with an accuracy section, the newest last."""
    srcs = {r.src: r.machine for r in best.values()
            if r.device == "GPU" and r.accuracy and r.machine in cards}
    return sorted(srcs.items(), key=lambda sc: sc[0].sort_key())


def fastest(best, machine, precision=None, molecules=None, atoms=None):
    """The fastest LAMMPS GPU row of a card for a system (molecules, or a liquid of atoms), of
    one precision or either; None where the card has none."""
    rs = [r for r in best.values() if r.api == "LAMMPS" and r.device == "GPU" and
          r.machine == machine and (precision is None or r.precision == precision) and
          (r.molecules == molecules if molecules else (not r.molecules and r.atoms == atoms))]
    return min(rs, key=lambda r: (r.us, r.threads, r.name)) if rs else None


def field_patterns(pairs):
    """'file, cases.*.us_per_step' lines for (file, field) pairs: a case, a precision and a batch
    size of the C API become wildcards."""
    by = {}
    for show, field in pairs:
        pat = re.sub(r"^cases\.[^.]+\.", "cases.*.", field)
        pat = re.sub(r"^(fp32|fp16)\.", "{fp32,fp16}.", pat)
        pat = re.sub(r"\.(batch_api|one_box)\.\d+\.", r".\1.*.", pat)
        by.setdefault(show, [])
        if pat not in by[show]:
            by[show].append(pat)
    return [f"{f}, {', '.join(p)}" for f, p in by.items()]


def group_fields(rows):
    """'file, cases.*.us_per_step' lines for a set of rows."""
    return field_patterns((r.src.show, r.field) for r in rows)


def speedup(r, best, ref, notes):
    """(value, cell text) of the speedup of row r."""
    hit = ref.find(r)
    if hit:
        ms, s, fld, mach = hit
        notes.add(f"{s.show}, {fld}")
        v = ms * 1000.0 / r.us
        return v, f"{f_speedup(v)} vs PyTorch compile ({mach or 'reference'})"

    def cpu1(b, host_too):
        return b.api == "LAMMPS" and b.device == "CPU" and b.threads == 1 and b.ranks == 1 and \
            b.system == r.system and b.precision == "" and (host_too or
                                                             "host CPU" not in b.machine)
    base = [b for b in best.values() if cpu1(b, False)] or \
        [b for b in best.values() if cpu1(b, True)]
    if base:
        b = sorted(base, key=lambda x: x.date_key())[-1]
        if b is r:
            return 1.0, "1× (CPU 1-thread baseline)"
        notes.add(f"{b.src.show}, {b.field}")
        v = b.us / r.us
        return v, f"{f_speedup(v)} vs CPU 1 thread ({b.machine})"
    return None, "— (no reference)"
