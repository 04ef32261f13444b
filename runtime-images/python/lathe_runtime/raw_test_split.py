"""A dataset version's raw test rows (test.raw.jsonl) prepared with a model's OWN fitted
preparation, and the model's metrics on them: the twin of runtime-images/trainer/
raw-test-split.ts, so a Python trainer's evaluate mode judges a champion on a challenger's
split exactly as the TensorFlow.js trainer's does.

Every row counts: a row the model's preparation rejects (CellError) gets no prediction (for
classification wrong, its true class's probability 0, ranked surely wrong by ROC AUC; for
regression the split's mean label), and a class the model never saw is scored with the model's
prediction (wrong whatever it is) and joins the macro averages.
"""

import json

from . import contract
from .metrics import classification_metrics_of, regression_metrics
from .pii_hash import pii_hashing
from .prepare import CellError, encode_label, is_missing, parse_category_cell, record_preparer

FILE = contract.TEST_RAW_FILE
REJECTED_EXAMPLES = 5


def _is_hashed(column):
    return column.get("hash") is not None or column.get("hashSalt") is not None


def pii_hash_for(model, dataset, pii_key):
    """(hash_value, other_scheme) for the model's hashed PII columns given the dataset
    version's schema (raw-test-split.ts piiHashFor): a column the version hashed holds hashes,
    taken as they are; one hashed under another scheme is named in other_scheme; a column the
    version did not hash is hashed as the inference server would (the key is needed)."""
    dataset_columns = {i["name"]: i for i in (dataset or {}).get("inputs", [])
                       if i["kind"] == "categorical" and _is_hashed(i)}
    already_hashed, other_scheme = set(), []
    for column in model["inputs"]:
        if column["kind"] != "categorical" or not _is_hashed(column):
            continue
        version = dataset_columns.get(column["name"])
        if version is None:
            continue
        already_hashed.add(column["name"])
        same = (version.get("hash") == column["hash"] if column.get("hash") is not None
                else version.get("hashSalt") == column.get("hashSalt"))
        if not same:
            other_scheme.append(column["name"])
    hashing = pii_hashing(pii_key)

    def hash_value(column, value):
        return value if column["name"] in already_hashed else hashing(column, value)

    return hash_value, other_scheme


class RawTestSplit:
    """The raw test rows of one split prepared for one model (``schema``: its schema.json)."""

    def __init__(self, schema, hash_value=None):
        self.schema = schema
        self.prepare = record_preparer(schema, hash_value)
        self.features = []
        self.labels = []
        self.accepted = []
        self.unseen = {}
        self.rejected_columns = {}
        self.rejected_examples = []
        self.rejected_rows = 0
        self.known_classes = len(schema["label"].get("classes") or [])

    @property
    def rows(self):
        return len(self.labels)

    def add_line(self, text, line):
        """Adds one line of test.raw.jsonl (1-based ``line``); blank lines are skipped."""
        if text.strip() == "":
            return
        try:
            record = json.loads(text, parse_constant=_refuse_constant)
        except ValueError as error:
            raise contract.ContractError("DatasetInvalid", f"{FILE} line {line} is not JSON: {error}") from error
        if not isinstance(record, dict):
            raise contract.ContractError("DatasetInvalid", f"{FILE} line {line} is not a JSON object keyed by column")
        self.add(record, line)

    def add(self, record, line):
        label = self._label_of(record, line)
        try:
            features = self.prepare(record)
        except CellError as error:
            features = None
            self.rejected_rows += 1
            self.rejected_columns[error.column] = self.rejected_columns.get(error.column, 0) + 1
            if len(self.rejected_examples) < REJECTED_EXAMPLES:
                self.rejected_examples.append({"line": line, "column": error.column, "message": str(error)})
        if features is not None:
            if len(features) != len(self.schema["features"]):
                raise ValueError(f"prepared {len(features)} features, schema.json names {len(self.schema['features'])}")
            self.features.append(features)
        self.accepted.append(features is not None)
        self.labels.append(label)

    def _label_of(self, record, line):
        name = self.schema["label"]["name"]
        raw = record.get(name)
        if is_missing(raw):
            raise contract.ContractError("DatasetInvalid", f"{FILE} line {line} has no value for the label {name}")
        try:
            return encode_label(self.schema, raw)
        except CellError as error:
            if self.schema["task"] == "regression":
                raise contract.ContractError("DatasetInvalid", f"{FILE} line {line}: {error}") from error
        class_name = parse_category_cell(self.schema["label"]["type"], raw)
        entry = self.unseen.setdefault(class_name, {"index": self.known_classes + len(self.unseen), "rows": 0})
        entry["rows"] += 1
        return entry["index"]

    @property
    def unseen_classes(self):
        return [{"name": name, "rows": entry["rows"]} for name, entry in self.unseen.items()]

    def prepared_features(self):
        """The accepted rows' features, float32 [rows, features]: what the model is run on."""
        import numpy as np

        return np.asarray(self.features, dtype=np.float32).reshape(-1, len(self.schema["features"]))

    def metrics(self, outputs):
        """The metrics of the model's ``outputs`` on prepared_features() over every row."""
        import numpy as np

        if self.rows == 0:
            raise contract.ContractError("DatasetInvalid", f"{FILE} has no rows: nothing to evaluate on")
        width = self.known_classes if self.schema["task"] == "classification" else 1
        # float32, as the TypeScript reads a model's outputs.
        outputs = np.asarray(outputs, dtype=np.float32).astype(np.float64).reshape(-1)
        accepted = sum(self.accepted)
        if outputs.size != accepted * width:
            raise ValueError(f"expected {accepted * width} outputs ({accepted} rows x {width}), got {outputs.size}")
        if self.schema["task"] == "regression":
            # float32 targets, as a trainer reads the label from the prepared split.
            targets = np.asarray(self.labels, dtype=np.float32).astype(np.float64)
            mean = _sequential_mean(targets)
            predictions = np.full(self.rows, mean)
            predictions[np.asarray(self.accepted)] = outputs
            return regression_metrics(predictions, targets)
        return self._classification_metrics(outputs.reshape(-1, width), width)

    def _classification_metrics(self, outputs, known):
        import numpy as np

        classes = known + len(self.unseen)
        labels = np.asarray(self.labels, dtype=np.int64)
        accepted = np.asarray(self.accepted, dtype=bool)
        predicted = np.full(self.rows, -1, dtype=np.int64)
        truth_probability = np.zeros(self.rows)
        predicted[accepted] = outputs.argmax(axis=1) if len(outputs) else []
        rows_accepted = np.nonzero(accepted)[0]
        seen = labels[accepted] < known
        truth_probability[rows_accepted[seen]] = outputs[np.nonzero(seen)[0], labels[accepted][seen]]
        positive = None
        if classes == 2 and known == 2:
            positive = np.where(labels == 1, -np.inf, np.inf)
            positive[accepted] = outputs[:, 1]
        return classification_metrics_of(labels, predicted, truth_probability, classes, positive)[0]


def _sequential_mean(values):
    """The mean summed left to right, as the TypeScript loop sums it."""
    total = 0.0
    for v in values:
        total += float(v)
    return total / len(values)


def _refuse_constant(name):
    raise ValueError(f"{name} is not JSON")
