"""The batch benchmark's baseline (`npm run bench:batch`): what a Python user scores a file with
in-process, on the same MLP and the same raw file as Lathe's batch program.

    python keras_batch.py <data.csv> <model-dir> <out.jsonl> <passthrough,columns> [threads]

1. pandas `read_csv` of the raw file from disk (the C parser; categorical and boolean inputs
   read as text, as Lathe reads them).
2. The preparation of the model's own `schema.json`, vectorised with pandas/numpy: numeric
   inputs imputed with the fitted value and scaled (standard, minMax or none), categorical ones
   imputed, then one-hot or ordinal encoded over the fitted categories (an unseen category to
   `__other__` when the schema has it), booleans normalised to "true"/"false" as Lathe does.
   Features are computed in float64 and handed to the model as float32, as Lathe does. (A
   missing value in a column without an imputation fails here; Lathe writes an error row. The
   benchmark's file has none.)
3. The same weights in Keras (tensorflow-cpu): the TensorFlow.js `model.json` + `weights.bin` read
   into a Keras Sequential of Dense layers (bench/python/tfjs_keras.py, shared with
   bench/kserve/mlp_server.py), then
   `model.predict(x, batch_size=1024)`.
4. The output written as JSON Lines with pandas `to_json` (C writer): the passthrough columns,
   `label` (the most probable class) and `probabilities` (class -> probability), Lathe's row.

`threads` (default 1) sets TensorFlow's intra- and inter-op threads, for the equal-cores
comparison (the benchmark also pins the process to one core with taskset). Prints one JSON line:
rows and the seconds of each step (process time from the interpreter's start is measured by the
caller, with /usr/bin/time).
"""

import json
import os
import sys
import time

started = time.perf_counter()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
THREADS = int(sys.argv[5]) if len(sys.argv) > 5 else 1
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(THREADS))
os.environ.setdefault("TF_NUM_INTEROP_THREADS", str(THREADS))
os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from tfjs_keras import load_tfjs_dense_model  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(THREADS)
tf.config.threading.set_inter_op_parallelism_threads(THREADS)

TRUE_TOKENS = {"true", "t", "yes", "y", "1"}
FALSE_TOKENS = {"false", "f", "no", "n", "0"}


def prepare(df: pd.DataFrame, schema: dict) -> np.ndarray:
    """The prepared features of every row, in `schema["features"]` order, as float32."""
    x = np.empty((len(df), len(schema["features"])), dtype=np.float32)
    at = 0
    for spec in schema["inputs"]:
        name = spec["name"]
        col = df[name]
        if spec["kind"] == "numeric":
            values = col.to_numpy(dtype=np.float64, na_value=np.nan)
            missing = np.isnan(values)
            if missing.any():
                if spec["impute"] is None:
                    raise ValueError(f"column {name}: a value is required ({int(missing.sum())} missing)")
                values = np.where(missing, float(spec["impute"]), values)
            scale = spec["scale"]
            if scale["method"] == "standard":
                values = (values - scale["mean"]) / scale["std"]
            elif scale["method"] == "minMax":
                span = scale["max"] - scale["min"]
                values = np.zeros_like(values) if span == 0 else (values - scale["min"]) / span
            x[:, at] = values
            at += 1
            continue
        text = col.str.strip()
        if spec["type"] == "boolean":
            lowered = text.str.lower()
            text = lowered.where(~lowered.isin(TRUE_TOKENS), "true").where(~lowered.isin(FALSE_TOKENS), "false")
        if text.isna().any():
            if spec["impute"] is None:
                raise ValueError(f"column {name}: a value is required ({int(text.isna().sum())} missing)")
            text = text.fillna(spec["impute"])
        categories = spec["categories"]
        codes = pd.Categorical(text, categories=categories).codes.astype(np.int64)
        unseen = codes < 0
        if spec["encoding"] == "ordinal":
            x[:, at] = np.where(unseen, len(categories) if spec["other"] else -1, codes)
            at += 1
            continue
        width = len(categories) + (1 if spec["other"] else 0)
        block = np.zeros((len(df), width), dtype=np.float32)
        rows = np.arange(len(df))
        seen = ~unseen
        block[rows[seen], codes[seen]] = 1
        if spec["other"]:
            block[rows[unseen], len(categories)] = 1
        x[:, at : at + width] = block
        at += width
    if at != x.shape[1]:
        raise ValueError(f"prepared {at} features, schema.json names {x.shape[1]}")
    return x


def main() -> None:
    data, model_dir, out, passthrough = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    passthrough_columns = [c for c in passthrough.split(",") if c]
    imported = time.perf_counter()
    with open(os.path.join(model_dir, "schema.json"), encoding="utf-8") as f:
        schema = json.load(f)
    text_columns = {s["name"]: str for s in schema["inputs"] if s["kind"] != "numeric"}

    t = time.perf_counter()
    df = pd.read_csv(data, dtype=text_columns)
    read_seconds = time.perf_counter() - t

    t = time.perf_counter()
    x = prepare(df, schema)
    prepare_seconds = time.perf_counter() - t

    t = time.perf_counter()
    model = load_tfjs_dense_model(model_dir)
    load_seconds = time.perf_counter() - t

    t = time.perf_counter()
    probabilities = model.predict(x, batch_size=1024, verbose=0)
    predict_seconds = time.perf_counter() - t

    t = time.perf_counter()
    classes = schema["label"]["classes"]
    output = df[passthrough_columns].copy()
    output["label"] = np.asarray(classes, dtype=object)[probabilities.argmax(axis=1)]
    output["probabilities"] = [dict(zip(classes, row)) for row in probabilities.tolist()]
    output.to_json(out, orient="records", lines=True)
    write_seconds = time.perf_counter() - t

    print(
        json.dumps(
            {
                "rows": len(df),
                "importSeconds": imported - started,
                "readSeconds": read_seconds,
                "prepareSeconds": prepare_seconds,
                "loadSeconds": load_seconds,
                "predictSeconds": predict_seconds,
                "writeSeconds": write_seconds,
                "pandas": pd.__version__,
                "numpy": np.__version__,
                "tensorflow": tf.__version__,
                "keras": keras.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
