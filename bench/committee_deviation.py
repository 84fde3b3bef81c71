#!/usr/bin/python3
"""committee_deviation.py — does a committee's uncertainty say where the student is wrong? (issue
23): a committee model (`mlff train --committee K`) evaluated on held-out teacher data, per
structure its largest per-atom force deviation against its force RMSE and largest atom error
against the teacher, per atom the deviation against the error |F - F_teacher|; Spearman (rank)
and Pearson correlations, a scatter plot, JSON.

usage: committee_deviation.py MODEL.h5 DATA.h5 [--json FILE] [--plot FILE.png] [--threads N]
Needs numpy and h5py (and matplotlib for the plot); the model through the mlff package.
"""
import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python"))
import mlff  # noqa: E402


try:
    from ase.data import chemical_symbols as SYMBOLS
except ImportError:  # the first four periods suffice for the seed's systems
    SYMBOLS = ("X H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu "
               "Zn Ga Ge As Se Br Kr").split()


def ranks(x):
    """Ranks 0..n-1 with ties averaged."""
    x = np.asarray(x, float)
    order = np.argsort(x, kind="mergesort")
    r = np.empty(len(x))
    r[order] = np.arange(len(x))
    vals, inv, counts = np.unique(x, return_inverse=True, return_counts=True)
    if (counts > 1).any():  # ties: their mean rank
        sums = np.bincount(inv, weights=r)
        r = (sums / counts)[inv]
    return r


def spearman(a, b):
    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])


def pearson(a, b):
    return float(np.corrcoef(a, b)[0, 1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("data")
    ap.add_argument("--json")
    ap.add_argument("--plot")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    ev = mlff.Evaluator(a.model, device="cpu", threads=a.threads)
    K = ev.model.committee_size
    if K < 2:
        sys.exit(f"committee_deviation: {a.model} holds one network, not a committee "
                 "(mlff train --committee K)")
    ds = mlff.read_dataset(a.data)
    rows, dev_atoms, err_atoms = [], [], []
    for k, s in enumerate(ds.structures):
        if max(s["numbers"]) >= len(SYMBOLS):
            sys.exit(f"committee_deviation: atomic number {max(s['numbers'])} in structure {k}: "
                     "install ASE (python3-ase) for its symbol")
        sp = ev.model.species([SYMBOLS[z] for z in s["numbers"]])
        r = ev.compute(s["positions"], sp, s.get("cell"), s.get("pbc"))
        err = np.linalg.norm(r["forces"] - s["forces"], axis=1)  # eV/A per atom
        dev = r["force_deviation"]
        rows.append({"index": k, "source": s.get("source") or "", "atoms": len(sp),
                     "max_deviation": float(dev.max()),
                     "force_rmse": float(np.sqrt(np.mean((r["forces"] - s["forces"]) ** 2))),
                     "max_atom_error": float(err.max())})
        dev_atoms.append(dev)
        err_atoms.append(err)
    dv, fr, me = (np.array([q[key] for q in rows])
                  for key in ("max_deviation", "force_rmse", "max_atom_error"))
    da, ea = np.concatenate(dev_atoms), np.concatenate(err_atoms)
    res = {"source": "bench/committee_deviation.py (issue 23)", "model": os.path.basename(a.model),
           "data": os.path.basename(a.data), "members": K, "structures": len(rows),
           "atoms": int(len(da)), "units": "meV/A",
           "structure": {"spearman_max_deviation_vs_force_rmse": spearman(dv, fr),
                         "pearson_max_deviation_vs_force_rmse": pearson(dv, fr),
                         "spearman_max_deviation_vs_max_atom_error": spearman(dv, me),
                         "max_deviation_mean": 1e3 * float(dv.mean()),
                         "force_rmse_mean": 1e3 * float(fr.mean())},
           "atom": {"spearman_deviation_vs_error": spearman(da, ea),
                    "pearson_deviation_vs_error": pearson(da, ea),
                    "deviation_mean": 1e3 * float(da.mean()), "error_mean": 1e3 * float(ea.mean())},
           "by_source": {}}
    for src in sorted({q["source"] for q in rows}):
        sel = [i for i, q in enumerate(rows) if q["source"] == src]
        res["by_source"][src] = {
            "structures": len(sel), "max_deviation_mean": 1e3 * float(dv[sel].mean()),
            "force_rmse_mean": 1e3 * float(fr[sel].mean()),
            "spearman": spearman(dv[sel], fr[sel]) if len(sel) > 2 else None}
    s, t = res["structure"], res["atom"]
    print(f"{a.model}: a committee of {K}, on {len(rows)} structures ({len(da)} atoms) of {a.data}")
    print(f"  per structure: largest deviation vs force RMSE: Spearman {s['spearman_max_deviation_vs_force_rmse']:.3f}, "
          f"Pearson {s['pearson_max_deviation_vs_force_rmse']:.3f}; vs largest atom error: Spearman "
          f"{s['spearman_max_deviation_vs_max_atom_error']:.3f}")
    print(f"  per atom: deviation vs |F - F_teacher|: Spearman {t['spearman_deviation_vs_error']:.3f}, "
          f"Pearson {t['pearson_deviation_vs_error']:.3f} (means {t['deviation_mean']:.1f} and "
          f"{t['error_mean']:.1f} meV/A)")
    for src, q in res["by_source"].items():
        print(f"  {src:12s} {q['structures']:5d} structures: deviation {q['max_deviation_mean']:7.1f}, "
              f"force RMSE {q['force_rmse_mean']:7.1f} meV/A, Spearman "
              + (f"{q['spearman']:.3f}" if q["spearman"] is not None else "-"))
    if a.json:
        res["structures_detail"] = rows
        json.dump(res, open(a.json, "w"), indent=1)
    if a.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(1, 2, figsize=(10, 4.2))
        for src in sorted(res["by_source"]):
            sel = [i for i, q in enumerate(rows) if q["source"] == src]
            ax[0].scatter(1e3 * dv[sel], 1e3 * fr[sel], s=8, label=src)
        ax[0].set_xlabel("largest per-atom force deviation (meV/Å)")
        ax[0].set_ylabel("force RMSE against the teacher (meV/Å)")
        ax[0].set_title(f"per structure: Spearman {s['spearman_max_deviation_vs_force_rmse']:.2f}")
        ax[0].legend(fontsize=7)
        ax[1].hexbin(1e3 * da, 1e3 * ea, gridsize=50, bins="log", mincnt=1)
        ax[1].set_xlabel("force deviation (meV/Å)")
        ax[1].set_ylabel("|F − F_teacher| (meV/Å)")
        ax[1].set_title(f"per atom: Spearman {t['spearman_deviation_vs_error']:.2f}")
        fig.suptitle(f"{os.path.basename(a.model)} ({K} members) on {os.path.basename(a.data)}")
        fig.tight_layout()
        fig.savefig(a.plot, dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main())
