#!/usr/bin/env python3
"""plot_learn.py DIR — plot the record of `mlff learn DIR` (DIR/learn.json) into DIR/learn.png:
the distribution of the samples' committee force deviation per iteration against the trust
levels, the share of accurate samples per iteration, and the labelled candidates' deviation
against the committee's true force error on them (with Spearman's rank correlation, printed).

plot_learn.py --table NAME=FILE.json ... — a Markdown table of runs' records (learn.json files):
iterations, status, labelled structures, the last iteration's accurate share and errors, the
stages' time, Spearman's rho."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def ranks(v):
    order = sorted(range(len(v)), key=lambda i: v[i])
    r = [0.0] * len(v)
    i = 0
    while i < len(order):  # ties share their mean rank
        j = i
        while j + 1 < len(order) and v[order[j + 1]] == v[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2.0
        i = j + 1
    return r


def spearman(x, y):
    if len(x) < 3:
        return float("nan")
    rx, ry = ranks(x), ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    return sxy / (sxx * syy) ** 0.5 if sxx > 0 and syy > 0 else float("nan")


def table(pairs):
    print("| run | iterations | status | labelled (over --max-force) | last: accurate of planned "
          "| last: validation / test force MAE, meV/Å | last: labelled candidates' force MAE, "
          "meV/Å | train / explore / label, s | Spearman rho (candidates) |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, path in pairs:
        rec = json.load(open(path))
        its = rec["iterations"]
        last = its[-1]
        t = {k: sum(r["seconds"][k] for r in its) for k in ("train", "explore", "label")}
        lab = sum(r["labelled"] for r in its)
        over = sum(r.get("labelled_over_max_force", 0) for r in its)
        e = [x for r in its for x in r["candidates_deviation_max_error_mean_error"]]
        rho = spearman([x[0] for x in e], [x[1] for x in e])

        def f(v):
            return "n/a" if v is None else f"{v:.1f}"
        print(f"| {name} | {len(its)} | {rec['status']} | {lab} ({over}) | {last['accurate']} of "
              f"{last['planned']} ({100 * last['accurate'] / max(last['planned'], 1):.1f} %) | "
              f"{f(last['valid_force_mae_meV_per_A'])} / {f(last['test_force_mae_meV_per_A'])} | "
              f"{f(last['candidates_force_mae_meV_per_A'])} | {t['train']:.0f} / "
              f"{t['explore']:.0f} / {t['label']:.0f} | {rho:.2f} ({len(e)}) |")


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--table":
        table([a.split("=", 1) for a in sys.argv[2:]])
        return
    if len(sys.argv) != 2:
        sys.exit("usage: plot_learn.py DIR (the work folder of mlff learn)")
    d = sys.argv[1]
    try:
        rec = json.load(open(f"{d}/learn.json"))
    except (OSError, ValueError) as e:
        sys.exit(f"plot_learn.py: cannot read {d}/learn.json: {e}")
    its = rec["iterations"]
    lo, hi = rec["trust"]
    fig, ax = plt.subplots(1, 3, figsize=(15, 4.5))
    shown = its if len(its) <= 6 else [its[round(k * (len(its) - 1) / 5)] for k in range(6)]
    for r in shown:  # at most 6 iterations, evenly spaced, the first and the last among them
        sig = [s for t in r["trajectories"] for s in t["sigma"] if s is not None and s > 0]
        if sig:
            edges = r["histogram_lower_edges_eV_per_A"] + [1e3]  # the last bin: sigma >= 10
            ax[0].hist(sig, bins=edges, histtype="step", label=f"iteration {r['iteration']}")
    for x in (lo, hi):
        ax[0].axvline(x, color="k", ls="--", lw=0.8)
    ax[0].set_xscale("log")
    ax[0].set_xlabel("largest per-atom force deviation of a sample (eV/Å)")
    ax[0].set_ylabel("samples")
    ax[0].set_title("deviation per iteration (dashed: trust levels)")
    ax[0].legend(fontsize=8)
    x = [r["iteration"] for r in its]
    ax[1].plot(x, [100 * (r["accurate_fraction"] or 0) for r in its], "o-", label="accurate")
    ax[1].plot(x, [100 * r["failed"] / max(r["samples"], 1) for r in its], "s-", label="failed")
    ax[1].axhline(100 * rec["converged"], color="k", ls="--", lw=0.8)
    ax[1].set_xlabel("iteration")
    ax[1].set_ylabel("% of samples")
    ax[1].set_title("accurate and failed samples")
    ax[1].legend(fontsize=8)
    dev = [e[0] for r in its for e in r["candidates_deviation_max_error_mean_error"]]
    err = [e[1] for r in its for e in r["candidates_deviation_max_error_mean_error"]]
    rho = spearman(dev, err)
    if dev:
        ax[2].loglog(dev, err, ".", alpha=0.6)
    ax[2].set_xlabel("committee deviation (eV/Å)")
    ax[2].set_ylabel("largest true force error vs the teacher (eV/Å)")
    ax[2].set_title(f"labelled candidates: Spearman rho = {rho:.2f} ({len(dev)})")
    fig.tight_layout()
    fig.savefig(f"{d}/learn.png", dpi=110)
    print(f"wrote {d}/learn.png: {len(its)} iterations, status {rec['status']}; "
          f"rank correlation of deviation and true error over {len(dev)} labelled candidates: "
          f"{rho:.3f}")


if __name__ == "__main__":
    main()
