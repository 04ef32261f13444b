"""Reading a dataset version as a trainer must: every file checked against the version's
manifest.json, and the manifest against the version's name (the start of its sha256, as
ingestion names versions), so data overwritten after ingestion is DatasetTampered, naming the
file, and never trains or scores (runtime-images/trainer/dataset-version.ts is the TypeScript
reader)."""

import hashlib
import io
import json
import re
from typing import NamedTuple

from . import contract
from .manifest import MANIFEST_FILE, check_against_manifest


def read_dataset(store, uri, version="", files=contract.DATASET_FILES):
    """{file: bytes} of ``files`` of the version at ``uri``, each checked against its manifest.

    ``version`` is the version's name; when empty, the name is the last segment of ``uri``."""
    bucket, prefix = contract.parse_s3_uri(uri)
    version = version or prefix.rstrip("/").rsplit("/", 1)[-1]

    def read(file):
        try:
            return store.read(bucket, contract.key_in(prefix, file))
        except FileNotFoundError as error:
            raise contract.ContractError("DatasetInvalid", f"the dataset version {uri} has no {file}") from error

    manifest_bytes = read(MANIFEST_FILE)
    digest = hashlib.sha256(manifest_bytes).hexdigest()
    if re.fullmatch(r"[a-f0-9]{12,64}", version) and not digest.startswith(version):
        raise contract.ContractError(
            "DatasetTampered",
            f"{uri}: {MANIFEST_FILE} has digest sha256:{digest}, which does not start with the "
            f"version's name {version}: it is not the manifest ingestion wrote")
    try:
        manifest = json.loads(manifest_bytes)
    except ValueError as error:
        raise contract.ContractError("DatasetInvalid", f"{uri}{MANIFEST_FILE} is not JSON") from error
    out = {}
    for file in files:
        data = read(file)
        mismatch = check_against_manifest(manifest, file, data)
        if mismatch:
            raise contract.ContractError("DatasetTampered", f"{uri}: {mismatch}")
        out[file] = data
    return out


def parse_schema(data, task=None):
    """schema.json (contract/prepared-data.ts PreparedSchema) as a dict; ``task``, when given,
    must be the schema's."""
    try:
        schema = json.loads(data)
        schema["features"], schema["label"]["name"]
    except (ValueError, KeyError, TypeError) as error:
        raise contract.ContractError("DatasetInvalid", f"schema.json is not a prepared schema: {error}") from error
    if task is not None and schema.get("task") != task:
        raise contract.ContractError("DatasetInvalid", f"the run's task is {task}, but the dataset "
                                     f"version was prepared for {schema.get('task')}")
    return schema


def csv_field(text):
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\r\n') else text


def parse_split(data, schema, file):
    """(features, labels) of a prepared split (train.csv, test.csv) as float64 numpy arrays; the
    header must be schema.json's features and label, every cell a finite number."""
    import numpy as np

    text = data.decode("utf-8")
    header, _, body = text.partition("\n")
    expected = ",".join(csv_field(n) for n in [*schema["features"], schema["label"]["name"]])
    if header.rstrip("\r") != expected:
        raise contract.ContractError("DatasetInvalid", f"{file}: the header does not match schema.json")
    columns = len(schema["features"]) + 1
    try:
        values = np.loadtxt(io.StringIO(body), delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError as error:
        raise contract.ContractError("DatasetInvalid", f"{file}: {error}") from error
    if values.size == 0:
        values = values.reshape(0, columns)
    if values.shape[1] != columns:
        raise contract.ContractError("DatasetInvalid", f"{file}: {values.shape[1]} columns, expected {columns}")
    if not np.isfinite(values).all():
        raise contract.ContractError("DatasetInvalid", f"{file}: a cell is not a finite number")
    return values[:, :-1], values[:, -1]


class TrainingData(NamedTuple):
    """A dataset version as a trainer reads it: its files as read (schema.json's bytes go into
    the artifact), the parsed schema, the features and labels of both splits, and the classes
    (empty for regression)."""

    files: dict
    schema: dict
    x_train: object
    y_train: object
    x_test: object
    y_test: object
    classes: list


def read_training_data(store, settings):
    """The run's dataset version (settings.dataset_uri and dataset_version), every file checked
    against its manifest, prepared for settings.task, with at least one row in each split."""
    files = read_dataset(store, settings.dataset_uri, settings.dataset_version)
    schema = parse_schema(files[contract.SCHEMA_FILE], settings.task)
    x_train, y_train = parse_split(files["train.csv"], schema, "train.csv")
    x_test, y_test = parse_split(files["test.csv"], schema, "test.csv")
    if len(y_train) == 0 or len(y_test) == 0:
        raise contract.ContractError("DatasetInvalid", "train.csv and test.csv need at least one row each")
    classes = schema["label"].get("classes") or []
    return TrainingData(files, schema, x_train, y_train, x_test, y_test, classes)
