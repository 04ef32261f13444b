"""The ingestion benchmark's baseline: pandas read_csv (read_parquet for a .parquet file,
pyarrow) plus the same preparation Lathe's ingestion program applies with a Dataset's
defaults, on the same file.

    python bench/pandas_ingest.py <data.csv|data.parquet> <label> <out-dir> [seed]

Stratified seeded split 80/20; fitted on the train split: numeric columns imputed with the mean
and standardised (population standard deviation), categorical columns imputed with the most
frequent value and one-hot encoded (50 most frequent categories); the label encoded as the
index of its sorted class; per-column statistics and the train deciles and bin fractions (what
stats.json holds); both splits written as CSV. Prints one JSON line of timings and peak RSS.
"""

import json
import resource
import sys
import time

import numpy as np
import pandas as pd


def main() -> None:
    path, label, out, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4] if len(sys.argv) > 4 else 42)
    wall, cpu = time.perf_counter(), time.process_time()

    df = pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)
    read_seconds = time.perf_counter() - wall

    y_raw = df.pop(label).astype(str)
    classes = sorted(y_raw.unique())
    y = pd.Categorical(y_raw, categories=classes).codes

    # Stratified, seeded split: round(n_c * 0.2) test rows per class.
    rng = np.random.default_rng(seed)
    test = np.zeros(len(df), dtype=bool)
    for c in range(len(classes)):
        rows = np.flatnonzero(y == c)
        test[rng.choice(rows, int(round(len(rows) * 0.2)), replace=False)] = True
    train = ~test

    features = {}
    stats = {}
    for name in df.columns:
        col = df[name]
        if pd.api.types.is_numeric_dtype(col):
            values = col.to_numpy(dtype=np.float64)
            stats[name] = {"missing": int(np.isnan(values).sum()), "mean": float(np.nanmean(values)),
                           "std": float(np.nanstd(values)), "min": float(np.nanmin(values)),
                           "max": float(np.nanmax(values))}
            fill = np.nanmean(values[train])
            values = np.where(np.isnan(values), fill, values)
            mean, std = values[train].mean(), values[train].std()
            edges = np.unique(np.quantile(values[train], np.arange(1, 10) / 10))
            stats[name]["fractions"] = (np.bincount(np.searchsorted(edges, values[train], side="right"),
                                                    minlength=len(edges) + 1) / train.sum()).tolist()
            features[name] = (values - mean) / (std if std > 0 else 1.0)
        else:
            stats[name] = {"missing": int(col.isna().sum()), "distinct": int(col.nunique())}
            counts = col[train].value_counts()
            col = col.fillna(counts.index[0])
            categories = sorted(col[train].value_counts().index[:50])
            codes = pd.Categorical(col, categories=categories).codes
            for i, category in enumerate(categories):
                features[f"{name}={category}"] = (codes == i).astype(np.int8)
            stats[name]["fractions"] = (np.bincount(codes[train] + 1, minlength=len(categories) + 1)
                                        / train.sum()).tolist()

    prepared = pd.DataFrame(features)
    prepared[label] = y
    prepare_seconds = time.perf_counter() - wall - read_seconds

    prepared[train].to_csv(f"{out}/train.csv", index=False, float_format="%.8g")
    prepared[test].to_csv(f"{out}/test.csv", index=False, float_format="%.8g")
    with open(f"{out}/stats.json", "w") as f:
        json.dump(stats, f)

    print(json.dumps({
        "rows": len(df),
        "seconds": time.perf_counter() - wall,
        "cpuSeconds": time.process_time() - cpu,
        "readSeconds": read_seconds,
        "prepareSeconds": prepare_seconds,
        "peakRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }))


if __name__ == "__main__":
    main()
