"""The evaluate mode of a Python trainer (the TensorFlow.js trainer's is runtime-images/trainer/
evaluate.ts): score an existing model artifact (a RetrainPolicy's champion) on another dataset
version's test split, preparing that split's raw rows with the model's own schema.json, so
champion and challenger are judged on the same rows.

1. The artifact is verified against the digest the operator recorded, and model.onnx and
   schema.json against the verified manifest (ArtifactInvalid otherwise).
2. The dataset version's manifest is checked against the version's name, its schema.json (how
   it hashed its PII columns) and test.raw.jsonl against the manifest (DatasetTampered).
3. The rows are prepared with the Python twin of the record preparation (``prepare``), the
   model is run with ONNX Runtime, the same model file the inference server runs.
4. The metrics, with the trainer's keys and definitions, are the result (EvaluateResult).

Group metrics across sensitive columns (LATHE_FAIRNESS) are not computed here: the result says
so in ``fairnessError``, which a RetrainPolicy with fairness rules reports.
"""

import json

from . import contract
from .artifact import read_artifact
from .dataset import parse_schema, read_dataset
from .onnx_check import MODEL_FILE, run_onnx, session_of
from .pii_hash import PiiKeyMissingError
from .raw_test_split import RawTestSplit, pii_hash_for
from .store import Store

# Rows per ONNX Runtime call: large enough to amortise, small enough for any pod.
PREDICT_BATCH_ROWS = 8192


def evaluate_onnx(settings, log, store=None):
    """Runs one evaluation of the ONNX artifact at settings.model_uri; the succeeded result, or
    a ContractError with the failure's reason."""
    import numpy as np

    store = store or Store(settings)
    files, _ = read_artifact(store, settings.model_uri, settings.model_digest, [MODEL_FILE, contract.SCHEMA_FILE])
    try:
        schema = parse_schema(files[contract.SCHEMA_FILE])
    except contract.ContractError as error:
        raise contract.ContractError("ArtifactInvalid", str(error)) from error
    if schema.get("task") != settings.task:
        raise contract.ContractError(
            "ArtifactInvalid",
            f"the model was trained for {schema.get('task')}, the evaluation is of a {settings.task} task (LATHE_TASK)")
    log("info", "Verified the model artifact", uri=settings.model_uri, digest=settings.model_digest,
        features=len(schema["features"]))

    version = read_dataset(store, settings.dataset_uri, files=(contract.SCHEMA_FILE, contract.TEST_RAW_FILE))
    try:
        dataset_schema = json.loads(version[contract.SCHEMA_FILE])
    except ValueError as error:
        raise contract.ContractError("DatasetInvalid", f"{settings.dataset_uri}schema.json is not JSON") from error
    hash_value, other_scheme = pii_hash_for(schema, dataset_schema, settings.pii_key)
    if other_scheme:
        log("warn", "The dataset version hashed these PII columns under another scheme than the model's: "
            "their values cannot match the model's categories", columns=other_scheme)
    split = RawTestSplit(schema, hash_value)
    try:
        text = version[contract.TEST_RAW_FILE].decode("utf-8")
    except UnicodeDecodeError as error:
        raise contract.ContractError("DatasetInvalid", f"{contract.TEST_RAW_FILE} is not UTF-8: {error}") from error
    try:
        for number, line in enumerate(text.split("\n"), start=1):
            split.add_line(line, number)
    except PiiKeyMissingError as error:
        raise contract.ContractError("PiiKeyMissing", str(error)) from error
    log("info", "Prepared the test rows with the model's preparation", rows=split.rows,
        scoredRows=split.rows - split.rejected_rows, rejectedRows=split.rejected_rows,
        **({"rejectedByColumn": split.rejected_columns, "rejectedExamples": split.rejected_examples}
           if split.rejected_rows else {}),
        **({"unseenClasses": split.unseen_classes} if split.unseen else {}))
    if split.rows == 0:
        raise contract.ContractError("DatasetInvalid", f"{contract.TEST_RAW_FILE} has no rows: nothing to evaluate on")

    try:
        session = session_of(files[MODEL_FILE])
    except Exception as error:
        raise contract.ContractError("ArtifactInvalid", f"{MODEL_FILE} does not load in ONNX Runtime: {error}") from error
    features = split.prepared_features()
    outputs = [run_onnx(session, settings.task, features[i:i + PREDICT_BATCH_ROWS])
               for i in range(0, len(features), PREDICT_BATCH_ROWS)]
    width = len(schema["label"].get("classes") or []) if settings.task == "classification" else 1
    outputs = np.concatenate(outputs) if outputs else np.zeros((0, width))
    metrics = split.metrics(outputs)
    log("info", "Evaluated the model", metrics=metrics, rows=split.rows)
    result = {"kind": "evaluate", "outcome": "succeeded", "metrics": metrics, "rows": split.rows}
    if getattr(settings, "fairness", None):
        result["fairnessError"] = "this trainer's evaluate mode does not compute group metrics"
    return result
