"""report_plots.py — the plots of bench/REPORT.md (bench/plots/*.png), at most six series each,
the legend outside the axes: time per step and throughput against the atom count, the cost per
molecule against the batch size, the NVE energy traces and the force errors against the teacher
(the five of the Plots section), and the equation of state's P(density) in its detail section.
Each plot's series carry the JSON files and fields of their points, for the caption under it;
`meta` holds, per plot, the series drawn and whether every legend lies clear of every axes."""
import glob
import os
import sys

from report_accuracy import fp16_entry, teacher_entry
from report_fmt import is_num
from report_rows import accuracy_sources, group_fields
from report_sections import OURS, classical_peers, nve_config, nve_sorted, peer_files
from report_targets import TARGET_BATCH

MAX_SERIES = 6
PLOTS = ("latency.png", "throughput.png", "batch.png", "nve.png", "accuracy.png")
DETAIL_PLOTS = ("eos.png",)  # drawn in their detail sections, not in the Plots section
OLD_PLOTS = ("scaling.png", "gpus.png")  # names of earlier versions, removed when found
CARD_STYLE = ({"color": "C0"}, {"color": "C3"}, {"color": "C2"}, {"color": "C4"})
MARKERS = "os^Dv<>p"


class Series:
    """One series of a plot: its label, points, the sources of its points and its style."""

    def __init__(self, label, pts, sources, kind="line", **style):
        self.label, self.pts, self.sources, self.kind, self.style = \
            label, sorted(pts), list(sources), kind, style


def row_series(label, rows, x, y, **style):
    """A line through rows at (x(r), y(r)), its sources the rows' files and fields."""
    return Series(label, [(x(r), y(r)) for r in rows], group_fields(rows), **style)


def fastest_rows(best, card, precision, molecules_only=False):
    """Of each system, the fastest LAMMPS GPU row of a card and precision."""
    by = {}
    for r in best.values():
        if r.api == "LAMMPS" and r.device == "GPU" and r.machine == card and \
                r.precision == precision and (r.molecules or not molecules_only):
            if r.system not in by or r.us < by[r.system].us:
                by[r.system] = r
    return list(by.values())


def cpu_rows(best):
    """The LAMMPS CPU rows of one thread and rank on the newest CPU machine (not a GPU host)."""
    rs = [r for r in best.values() if r.api == "LAMMPS" and r.device == "CPU" and
          r.threads == 1 and r.ranks == 1 and "host CPU" not in r.machine and not r.precision]
    if not rs:
        return []
    mach = max(rs, key=lambda r: r.date_key()).machine
    return [r for r in rs if r.machine == mach]


def asps(r):
    return r.asps if r.asps is not None else r.atoms * 1e6 / r.us


def caption_lines(png, series, alt, text):
    """A plot's link and its caption naming each series' sources (nothing without a plot)."""
    if not png:
        return []
    return [f"![{alt}]({png})\n",
            text + " Series: " + "; ".join(f"**{s.label}**, from " + "; ".join(s.sources)
                                           for s in series) + ".\n"]


class Plotter:
    def __init__(self, plot_dir, md_dir, enabled=True):
        self.dir, self.md_dir, self.enabled = plot_dir, md_dir, enabled
        self.written = []
        self.meta = {}
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

    # -- drawing ----------------------------------------------------------------------------
    def draw(self, name, title, xlabel, panels, xscale="log", yscale="log", xticks=None,
             categories=None):
        """Draws panels [(ylabel, [Series])] one above the other, a legend right of each, and
        saves the PNG; returns (path relative to the report, the series drawn)."""
        panels = [(ylabel, [s for s in ss if s.pts]) for ylabel, ss in panels]
        panels = [(ylabel, ss) for ylabel, ss in panels if ss]
        series = [s for _, ss in panels for s in ss]
        if not self.ok or not series:
            return None, []
        if len(series) > MAX_SERIES:  # a shape of the JSON the plot was not made for
            print(f"report.py: {name}: drawing the first {MAX_SERIES} of {len(series)} series, "
                  "not " + ", ".join(s.label for s in series[MAX_SERIES:]), file=sys.stderr)
            series = series[:MAX_SERIES]
            panels = [(ylabel, [s for s in ss if s in series]) for ylabel, ss in panels
                      if any(s in series for s in ss)]
        plt = self.plt
        fig, axes = plt.subplots(len(panels), 1, figsize=(9.5, 3.2 + 2.4 * len(panels)),
                                 sharex=True, squeeze=False)
        legends = []
        for ax, (ylabel, drawn) in zip(axes[:, 0], panels):
            for i, s in enumerate(drawn):
                self.draw_series(ax, s, i, len(drawn), categories)
            if not categories:
                ax.set_xscale(xscale)
            ax.set_yscale(yscale)
            ax.set_ylabel(ylabel)
            ax.grid(True, which="both", lw=0.3)
            if drawn:
                legends.append(ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1),
                                         borderaxespad=0))
        ax = axes[-1, 0]
        if categories:
            ax.set_xticks(range(len(categories)))
            ax.set_xticklabels(categories)
        elif xticks:
            ax.set_xticks(xticks)
            ax.set_xticklabels([str(t) for t in xticks])
        ax.set_xlabel(xlabel)
        axes[0, 0].set_title(title, fontsize=10)
        fig.tight_layout()
        fig.canvas.draw()
        rend = fig.canvas.get_renderer()
        boxes = [a.get_window_extent(rend) for a in axes[:, 0]]
        outside = all(not lg.get_window_extent(rend).overlaps(b) for lg in legends for b in boxes)
        os.makedirs(self.dir, exist_ok=True)
        path = os.path.join(self.dir, name)
        fig.savefig(path, dpi=100, bbox_inches="tight", metadata={"Software": None})
        plt.close(fig)
        self.written.append(path)
        self.meta[name] = {"series": [s.label for s in series], "legend_outside": outside,
                           "artists": sum(len(a.get_lines()) + len(a.containers) +
                                          len(a.collections) for a in axes[:, 0])}
        return os.path.relpath(path, self.md_dir), series

    @staticmethod
    def draw_series(ax, s, i, n, categories):
        xs, ys = [p[0] for p in s.pts], [p[1] for p in s.pts]
        if s.kind == "bar":
            w = 0.8 / n
            ax.bar([x + (i - (n - 1) / 2) * w for x in xs], ys, width=w, label=s.label,
                   **s.style)
        elif s.kind == "points":
            ax.plot(xs, ys, ls="none", label=s.label,
                    **{"marker": "x", "color": "k", "ms": 9, "mew": 1.5, **s.style})
        else:
            ax.plot(xs, ys, label=s.label, **{"marker": MARKERS[i % len(MARKERS)], "ms": 5,
                                               "lw": 1.2, **s.style})

    def remove_stale(self):
        """PNGs of this script's names (and of its earlier versions) not drawn this time."""
        if not self.ok:
            return
        keep = {os.path.abspath(p) for p in self.written}
        for p in glob.glob(os.path.join(self.dir, "*.png")):
            b = os.path.basename(p)
            if (b in PLOTS or b in DETAIL_PLOTS or b in OLD_PLOTS or b.startswith("nve-")) and \
                    os.path.abspath(p) not in keep:
                os.remove(p)

    # -- the plots --------------------------------------------------------------------------
    def latency(self, best, ref, cards):
        """µs per step against atoms: the fastest LAMMPS configuration of each system on each
        card and precision, the CPU 1-thread path and the PyTorch reference."""
        ss = []
        for k, card in enumerate(cards):
            for prec, ls in (("FP32", "-"), ("FP16", "--")):
                rs = fastest_rows(best, card, prec)
                ss.append(row_series(f"mlff {card} GPU {prec} (LAMMPS)", rs, lambda r: r.atoms,
                                     lambda r: r.us, ls=ls, **CARD_STYLE[k % 4]))
        rs = cpu_rows(best)
        if rs:
            ss.append(row_series(f"mlff CPU 1 thread, {rs[0].machine} (LAMMPS)", rs,
                                 lambda r: r.atoms, lambda r: r.us, color="0.45"))
        ss += self.pytorch_points(ref, "compile", lambda a, mol, ms: ms * 1000)
        return self.draw("latency.png", "Time per MD step against system size (benzene "
                         "molecules and liquid boxes)", "atoms",
                         [("µs per step (PyTorch: per call)", ss)])

    def pytorch_points(self, ref, mode, y, per_molecule=False):
        out = []
        for s in ref.srcs:
            pts = [(mol if per_molecule else a, y(a, mol, ms), fld)
                   for a, mol, ms, src, fld in ref.points("aev_mlp", mode)
                   if src is s and (mol or not per_molecule)]
            if pts:
                desc = (s.data.get("modes") or {}).get(mode, mode)
                out.append(Series(f"PyTorch aev-mlp {desc} ({s.data.get('machine', '?')}, "
                                  "given by the issue)", [p[:2] for p in pts],
                                  [f"{s.show}, " + ", ".join(p[2] for p in pts)], kind="points"))
        return out

    def throughput(self, best, ref, cards, used):
        """Atom-steps/s against atoms: FP16 on each card, the CPU path, the PyTorch reference
        and the classical peers of the peers file (one box each)."""
        ss = []
        for k, card in enumerate(cards):
            rs = fastest_rows(best, card, "FP16")
            ss.append(row_series(f"mlff {card} GPU FP16 (LAMMPS)", rs, lambda r: r.atoms, asps,
                                 ls="--", **CARD_STYLE[k % 4]))
        rs = cpu_rows(best)
        if rs:
            ss.append(row_series(f"mlff CPU 1 thread, {rs[0].machine} (LAMMPS)", rs,
                                 lambda r: r.atoms, asps, color="0.45"))
        ss += self.pytorch_points(ref, "compile", lambda a, mol, ms: a / ms * 1000)
        for s in peer_files(used):
            boxes = (s.data.get("timing_protocol") or {}).get("boxes") or {}
            for j, (name, p) in enumerate(classical_peers(s)):
                pts, flds = [], []
                for box, t in (p.get("timing") or {}).items():
                    a = (boxes.get(box) or {}).get("atoms") or t.get("atoms")
                    if is_num(t.get("atom_steps_per_s")) and is_num(a):
                        pts.append((a, t["atom_steps_per_s"]))
                        flds.append(f"potentials.{name}.timing.{box}.atom_steps_per_s")
                if pts:
                    ss.append(Series(f"{name} (CPU 1 thread, {s.token})", pts,
                                     [f"{s.show}, " + ", ".join(flds)], kind="points",
                                     marker="s^Dv"[j % 4], color=f"C{5 + j}", ms=8))
        return self.draw("throughput.png", "Throughput against system size, with the PyTorch "
                         "and classical peers", "atoms", [("atom-steps per second", ss)])

    def batch(self, best, ref, cards):
        """µs per molecule-step against the number B of benzene molecules."""
        ss, bound = [], None
        for k, card in enumerate(cards):
            for prec, ls in (("FP32", "-"), ("FP16", "--")):
                rs = fastest_rows(best, card, prec, molecules_only=True)
                if len(rs) < 2:
                    continue
                ss.append(row_series(f"mlff {card} GPU {prec} (LAMMPS)", rs,
                                     lambda r: r.molecules, lambda r: r.us / r.molecules, ls=ls,
                                     **CARD_STYLE[k % 4]))
                one = [r for r in rs if r.molecules == 1]
                if prec == "FP32" and one:
                    bound = (card, one[0])
        if bound:
            card, r1 = bound
            lim = {1: 1.0, **TARGET_BATCH}
            ss.append(Series(f"issue-5 bound of {card} FP32 ("
                             + ", ".join(f"{lim[b]:g}" for b in lim) + " × one molecule)",
                             [(b, r1.us * lim[b] / b) for b in lim],
                             [f"{r1.src.show}, {r1.field}"], ls=":", color="0.3", marker=""))
        ss += self.pytorch_points(ref, "compile", lambda a, mol, ms: ms * 1000 / mol,
                                  per_molecule=True)
        return self.draw("batch.png", "Cost per molecule against the batch size B",
                         "benzene molecules B", [("µs per molecule-step", ss)], xscale="log",
                         xticks=[1, 2, 4, 8, 16])

    def nve(self, used, machines):
        """E_total − E_0 per atom against time: of each NVE configuration the newest run, a
        panel per system size."""
        newest = {}
        for s in nve_sorted(used):
            if nve_config(s) not in newest or s.sort_key() > newest[nve_config(s)].sort_key():
                newest[nve_config(s)] = s
        runs = [s for s in nve_sorted(used) if s in newest.values()][-MAX_SERIES:]
        panels = {}
        for s in runs:
            ser, v = s.data.get("series") or {}, s.data.get("values") or {}
            t, e = ser.get("time_ps"), ser.get("etotal")
            if not (isinstance(t, list) and isinstance(e, list) and t and len(t) == len(e)):
                continue
            n = v.get("n_atoms") or 1
            lab = f"{machines.nve(s)[1]}, {nve_config(s)}: {s.data.get('verdict', '?')}"
            panels.setdefault(n, []).append(Series(
                lab, [(x, (y - e[0]) * 1000 / n) for x, y in zip(t, e)],
                [f"{s.show}, series.{{time_ps, etotal}}, values.n_atoms"], lw=0.6, marker=""))
        return self.draw("nve.png", "NVE runs: total energy against time",
                         "NVE time (ps)", [(f"{n:,} atoms:\nE − E₀ (meV/atom)", ss)
                                           for n, ss in sorted(panels.items())],
                         xscale="linear", yscale="linear")

    def accuracy(self, used, best, cards):
        """Force errors against the teacher: mlff and the classical peers on the peers file's
        set; on the newest card's held-out set, GPU FP16 against the teacher and against FP32."""
        cats = [("force MAE", "force_mae"), ("force RMSE", "force_rmse")]
        ss = []
        for s in peer_files(used):
            n = (s.data.get("dataset") or {}).get("structures", "?")
            pots = s.data["potentials"]
            for name, p in classical_peers(s) + ([(OURS, pots[OURS])] if OURS in pots else []):
                a = (p.get("errors") or {}).get("all") or {}
                pts = [(i, a[f"{k}_meV_per_A"]) for i, (_, k) in enumerate(cats)
                       if is_num(a.get(f"{k}_meV_per_A"))]
                ss.append(Series(f"{name} vs teacher ({s.token} CPU, {n} structures)", pts,
                                 [f"{s.show}, potentials.{name}.errors.all.{{force_mae_meV_per_A,"
                                  " force_rmse_meV_per_A}"], kind="bar"))
        for s, card in accuracy_sources(best, cards)[-1:]:
            acc = s.data["accuracy"]
            for lab, ent in (("GPU FP16 vs teacher", teacher_entry(acc, "gpu", "fp16")),
                             ("GPU FP16 vs FP32", fp16_entry(acc))):
                if ent is None:
                    continue
                pts, flds = [], []
                for i, (_, k) in enumerate(cats):
                    key = next((x for x in ent[1] if x.startswith(k)), None)
                    if key:
                        pts.append((i, ent[1][key]))
                        flds.append(f"accuracy.{ent[0]}.{key}")
                ss.append(Series(f"mlff {card} {lab} (held-out set)", pts,
                                 [f"{s.show}, " + ", ".join(flds)], kind="bar"))
        for i, s in enumerate(ss):
            s.style.setdefault("color", f"C{i}")
        return self.draw("accuracy.png", "Force error against the teacher (and FP16 against "
                         "FP32)", "", [("meV/Å", ss)], categories=[c[0] for c in cats])

    def eos(self, srcs, exp, exp_src, max_files=2):
        """P against density of the newest EOS files (points, and the fitted curve through the
        target pressure), the target pressure and the experimental density."""
        from report_liquid import eos_points
        ss, xs, ps = [], [], []
        for s in srcs[-max_files:]:
            d, pts = s.data, eos_points(s)
            cross, slope, p0 = (d.get("density_at_target_press"), d.get("slope_bar_per_g_cm3"),
                                d.get("target_press_bar"))
            if not pts:
                continue
            lab = d.get("label", s.fkind)
            ss.append(Series(f"P held at each density ({lab}, {s.token})",
                             [(x, p) for x, p, _, _ in pts],
                             [f"{s.show}, points.*.{{density, press_bar}}"], kind="points",
                             color=f"C{len(ss)}", marker="o"))
            xs += [x for x, _, _, _ in pts]
            ps += [p for _, p, _, _ in pts]
            coef = d.get("fit_coefficients") or {}
            if all(is_num(coef.get(k)) for k in ("density0", "p0", "p1", "p2")) and \
                    all(is_num(v) for v in (cross, p0)):
                # the fitted curve itself (a parabola, or a line when p2 is 0)
                lo, hi = min(xs + [cross]), max(xs + [cross])
                grid = [lo + (hi - lo) * k / 40 for k in range(41)]
                u = [x - coef["density0"] for x in grid]
                ss.append(Series(f"{d.get('fit', 'fit')} fit ({lab}): {p0:g} bar at "
                                 f"{cross:.3f} g/cm³",
                                 [(x, coef["p0"] + coef["p1"] * v + coef["p2"] * v * v)
                                  for x, v in zip(grid, u)],
                                 [f"{s.show}, fit, fit_coefficients, density_at_target_press, "
                                  "target_press_bar"], color=ss[-1].style["color"], marker=""))
                xs.append(cross)
                ps.append(p0)
            elif all(is_num(v) for v in (cross, slope, p0)):  # files from before the fit's form
                lo, hi = min(xs + [cross]), max(xs + [cross])
                ss.append(Series(f"line fit ({lab}): {p0:g} bar at {cross:.3f} g/cm³",
                                 [(x, p0 + slope * (x - cross)) for x in (lo, hi)],
                                 [f"{s.show}, density_at_target_press, slope_bar_per_g_cm3, "
                                  "target_press_bar"], color=ss[-1].style["color"], marker=""))
                xs.append(cross)
                ps.append(p0)
        if not ss:
            return None, []
        p0s = [(s, s.data["target_press_bar"]) for s in srcs[-max_files:]
               if is_num(s.data.get("target_press_bar"))]
        if is_num((exp or {}).get("density")):
            xs.append(exp["density"])
        if p0s:
            ss.append(Series(f"target pressure {p0s[-1][1]:g} bar",
                             [(min(xs), p0s[-1][1]), (max(xs), p0s[-1][1])],
                             [f"{p0s[-1][0].show}, target_press_bar"], color="0.4", ls="--",
                             marker=""))
        if is_num((exp or {}).get("density")) and exp_src is not None:
            ss.append(Series(f"experiment ({exp.get('name', '?')}): {exp['density']} g/cm³",
                             [(exp["density"], min(ps)), (exp["density"], max(ps))],
                             [f"{exp_src.show}, experiment.density"], color="k", ls=":",
                             marker=""))
        return self.draw("eos.png", "Equation of state: P against density", "density (g/cm³)",
                         [("P (bar)", ss)], xscale="linear", yscale="linear")
