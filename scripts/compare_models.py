#!/usr/bin/env python3
"""compare_models.py — whether two mlff model files hold the same model (a recipe's
reproducibility: models/make_benzene_gfn2.sh run again from nothing against the shipped file).

usage: compare_models.py A.h5 B.h5 [--json OUT.json] [--timings TIMINGS.json]

Compares every dataset (the networks' weights and biases, normalization, committee members)
bit for bit, and every attribute of every group; the root's metadata that records when and
from which file a model was made (created, dataset_sha256, training_summary) is listed apart,
as it differs between two runs of one recipe by design. Exit status 0 when the datasets and
the other attributes are identical, 1 when not. --timings adds a recipe's timings.json (its
steps' wall times, s) to the JSON. Needs numpy and h5py.
"""
import argparse
import json
import sys

import h5py
import numpy as np

METADATA = {"created", "dataset_sha256", "training_summary"}


def same(a, b):
    try:
        return np.array_equal(np.asarray(a), np.asarray(b))
    except (TypeError, ValueError):
        return a == b


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--json")
    ap.add_argument("--timings")
    o = ap.parse_args(argv)
    try:
        fa, fb = h5py.File(o.a, "r"), h5py.File(o.b, "r")
    except OSError as e:
        sys.exit(f"compare_models.py: {e}")
    datasets, differ, missing, attrs, meta = 0, [], [], [], []

    def objects(f):
        out = {"/": f}

        def add(name, obj):  # (a value returned would stop visititems)
            out[name] = obj

        f.visititems(add)
        return out

    oa, ob = objects(fa), objects(fb)
    for name in sorted(set(oa) | set(ob)):
        if name not in oa or name not in ob:
            missing.append(name)
            continue
        x, y = oa[name], ob[name]
        if isinstance(x, h5py.Dataset):
            datasets += 1
            if not (isinstance(y, h5py.Dataset) and same(x[()], y[()])):
                differ.append(name)
        for k in sorted(set(x.attrs) | set(y.attrs)):
            if k in x.attrs and k in y.attrs and same(x.attrs[k], y.attrs[k]):
                continue
            (meta if name == "/" and k in METADATA else attrs).append(f"{name}:{k}")
    identical = not differ and not missing and not attrs
    print(f"{o.a} against {o.b}: {datasets} datasets, {len(differ)} differ"
          + (f" ({', '.join(differ)})" if differ else "")
          + (f"; only in one: {', '.join(missing)}" if missing else "")
          + (f"; attributes that differ: {', '.join(attrs)}" if attrs else "")
          + f"; run metadata that differs: {', '.join(meta) or 'none'}")
    print("the same model" if identical else "NOT the same model")
    if o.json:
        rec = {"source": "scripts/compare_models.py", "a": o.a, "b": o.b, "datasets": datasets,
               "datasets_differ": differ, "only_in_one": missing, "attributes_differ": attrs,
               "metadata_differ": meta, "identical": identical}
        if o.timings:
            rec["timings_s"] = json.load(open(o.timings))
            rec["total_min"] = sum(rec["timings_s"].values()) / 60.0
        with open(o.json, "w") as f:
            json.dump(rec, f, indent=1)
            f.write("\n")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
