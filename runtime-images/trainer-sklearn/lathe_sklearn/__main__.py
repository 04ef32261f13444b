"""python -m lathe_sklearn: one training run, exit 0 on success, 1 on a failed run, 2 on an
invalid environment; the result goes to LATHE_RESULT_PATH (the pod's termination message).

Estimators (LATHE_HP_ESTIMATOR, from spec.hyperparameters.extra.estimator):
  classification: logistic_regression (default), random_forest, gradient_boosting
  regression:     ridge (default), random_forest, gradient_boosting
LATHE_HP_C (logistic regression's inverse regularisation, default 1.0), LATHE_HP_ALPHA (ridge,
default 1.0), LATHE_HP_N_ESTIMATORS (forests and boosting, default 100) and
LATHE_HYPERPARAMETERS' seed are passed on. The artifact holds model.joblib (the fitted
estimator: its inputs are the prepared features of schema.json; for classification
predict_proba's columns are estimator.classes_, indices into schema.label.classes), schema.json,
metrics.json, and manifest.json, written last.
"""

import datetime
import io
import json
import os
import sys
import time

from . import contract
from .manifest import MANIFEST_FILE, check_against_manifest, manifest_for


def log(level, msg, **fields):
    record = {"level": level, "time": datetime.datetime.now(datetime.timezone.utc).isoformat(),
              "component": "lathe-trainer-sklearn", "msg": msg, **fields}
    print(json.dumps(record, default=str), flush=True)


class Settings:
    def __init__(self, env):
        problems = []

        def need(name):
            value = env.get(name, "")
            if not value:
                problems.append(f"{name}: required")
            return value

        self.endpoint = need(contract.OBJECT_STORE_ENDPOINT)
        self.access_key = need(contract.OBJECT_STORE_ACCESS_KEY)
        self.secret_key = need(contract.OBJECT_STORE_SECRET_KEY)
        # Temporary credentials scoped to this run; the directory holds their rotations.
        self.session_token = env.get(contract.OBJECT_STORE_SESSION_TOKEN) or None
        self.credentials_dir = env.get(contract.OBJECT_STORE_CREDENTIALS_DIR) or None
        self.region = env.get(contract.OBJECT_STORE_REGION) or "us-east-1"
        self.dataset_uri = need(contract.DATASET_URI)
        self.dataset_version = need(contract.DATASET_VERSION)
        self.output_uri = need(contract.OUTPUT_URI)
        self.run_uri = need(contract.RUN_URI)
        self.task = need(contract.TASK)
        if self.task and self.task not in ("classification", "regression"):
            problems.append(f'{contract.TASK}: must be classification or regression (got "{self.task}")')
        for name in (contract.DATASET_URI, contract.OUTPUT_URI, contract.RUN_URI):
            if env.get(name):
                try:
                    contract.parse_s3_uri(env[name])
                except ValueError:
                    problems.append(f"{name}: must be an s3://<bucket>/<prefix>/ URI")
        if self.endpoint and not self.endpoint.startswith(("http://", "https://")):
            problems.append(f"{contract.OBJECT_STORE_ENDPOINT}: must be an http(s) URL")
        try:
            self.hyperparameters = json.loads(env.get(contract.HYPERPARAMETERS) or "{}")
            if not isinstance(self.hyperparameters, dict):
                raise ValueError("not an object")
        except ValueError as error:
            problems.append(f"{contract.HYPERPARAMETERS}: not a JSON object ({error})")
            self.hyperparameters = {}
        self.extra = {k[len(contract.EXTRA_HYPERPARAMETER_PREFIX):].lower(): v for k, v in env.items()
                      if k.startswith(contract.EXTRA_HYPERPARAMETER_PREFIX)}
        self.estimator = self.extra.get("estimator") or (
            "logistic_regression" if self.task == "classification" else "ridge")
        allowed = {"classification": ("logistic_regression", "random_forest", "gradient_boosting"),
                   "regression": ("ridge", "random_forest", "gradient_boosting")}.get(self.task, ())
        if allowed and self.estimator not in allowed:
            problems.append(f"LATHE_HP_ESTIMATOR: {self.estimator} is not one of {', '.join(allowed)} for {self.task}")
        for name, kind in (("c", float), ("alpha", float), ("n_estimators", int)):
            if name in self.extra:
                try:
                    kind(self.extra[name])
                except ValueError:
                    problems.append(f"LATHE_HP_{name.upper()}: not a number (got \"{self.extra[name]}\")")
        if problems:
            raise contract.ContractError("InternalError", "Invalid environment:\n" +
                                         "\n".join(f"  - {p}" for p in problems))


class CredentialsDir:
    """The run's credentials: from the mounted Secret's files when they can be read (the
    operator rotates temporary credentials there before they expire), else from the
    environment. minio asks before every request; the files are read at most every 5 s."""

    def __init__(self, settings):
        self.settings = settings
        self.checked = 0.0
        self.current = None

    def retrieve(self):
        import os
        import time
        from minio.credentials import Credentials

        now = time.monotonic()
        if self.current is None or now - self.checked >= 5:
            self.checked = now
            keys = {"accessKey": self.settings.access_key, "secretKey": self.settings.secret_key,
                    "sessionToken": self.settings.session_token}
            if self.settings.credentials_dir:
                for name in keys:
                    try:
                        with open(os.path.join(self.settings.credentials_dir, name)) as f:
                            keys[name] = f.read().strip() or None
                    except OSError:
                        pass
            self.current = Credentials(keys["accessKey"], keys["secretKey"], keys["sessionToken"])
        return self.current


class Store:
    """The few object-store operations needed, with the contract's failure reasons."""

    def __init__(self, settings):
        from minio import Minio
        from urllib.parse import urlparse

        url = urlparse(settings.endpoint)
        self.client = Minio(url.netloc, credentials=CredentialsDir(settings),
                            secure=url.scheme == "https", region=settings.region)

    def read(self, bucket, key):
        from minio.error import S3Error
        try:
            response = self.client.get_object(bucket, key)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()
        except S3Error as error:
            if error.code in ("NoSuchKey", "NoSuchBucket", "NotFound"):
                raise FileNotFoundError(f"s3://{bucket}/{key}") from error
            raise contract.ContractError("StorageUnavailable", f"s3://{bucket}/{key}: {error}") from error
        except Exception as error:  # network errors
            raise contract.ContractError("StorageUnavailable", f"s3://{bucket}/{key}: {error}") from error

    def write(self, bucket, key, data, content_type="application/octet-stream"):
        try:
            self.client.put_object(bucket, key, io.BytesIO(data), len(data), content_type=content_type)
        except Exception as error:
            raise contract.ContractError("StorageUnavailable", f"s3://{bucket}/{key}: {error}") from error


def read_dataset(store, uri, version=""):
    """The version's files, each checked against its manifest, and the manifest against the
    version's name (the start of the manifest's sha256, as ingestion names versions): data
    overwritten after ingestion is DatasetTampered, naming the file, and never trains."""
    import hashlib
    import re

    bucket, prefix = contract.parse_s3_uri(uri)

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
    files = {}
    for file in contract.DATASET_FILES:
        data = read(file)
        mismatch = check_against_manifest(manifest, file, data)
        if mismatch:
            raise contract.ContractError("DatasetTampered", f"{uri}: {mismatch}")
        files[file] = data
    return files


def csv_field(text):
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\r\n') else text


def parse_split(data, schema, file):
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


def estimator_for(settings, seed):
    from sklearn import ensemble, linear_model

    n_estimators = int(settings.extra.get("n_estimators", 100))
    if settings.task == "classification":
        if settings.estimator == "random_forest":
            return ensemble.RandomForestClassifier(n_estimators=n_estimators, random_state=seed)
        if settings.estimator == "gradient_boosting":
            return ensemble.GradientBoostingClassifier(n_estimators=n_estimators, random_state=seed)
        return linear_model.LogisticRegression(C=float(settings.extra.get("c", 1.0)), max_iter=1000,
                                               random_state=seed)
    if settings.estimator == "random_forest":
        return ensemble.RandomForestRegressor(n_estimators=n_estimators, random_state=seed)
    if settings.estimator == "gradient_boosting":
        return ensemble.GradientBoostingRegressor(n_estimators=n_estimators, random_state=seed)
    return linear_model.Ridge(alpha=float(settings.extra.get("alpha", 1.0)))


def test_metrics(estimator, task, x, y, classes):
    """The metric keys of ModelMetricsSchema (contract/results.ts)."""
    import numpy as np
    from sklearn import metrics as m

    if task == "regression":
        predicted = estimator.predict(x)
        mse = float(m.mean_squared_error(y, predicted))
        return {"mse": mse, "rmse": mse ** 0.5, "mae": float(m.mean_absolute_error(y, predicted)),
                "r2": float(m.r2_score(y, predicted)), "loss": mse}, None
    labels = list(range(len(classes)))
    truth = y.astype(int)
    # Probabilities over every class of the schema, in its order (a class absent from the train
    # split gets probability 0).
    probabilities = np.zeros((len(x), len(classes)))
    probabilities[:, estimator.classes_.astype(int)] = estimator.predict_proba(x)
    predicted = probabilities.argmax(axis=1)
    result = {
        "accuracy": float(m.accuracy_score(truth, predicted)),
        "precision": float(m.precision_score(truth, predicted, labels=labels, average="macro", zero_division=0)),
        "recall": float(m.recall_score(truth, predicted, labels=labels, average="macro", zero_division=0)),
        "f1": float(m.f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)),
        "loss": float(m.log_loss(truth, np.clip(probabilities, 1e-7, 1 - 1e-7), labels=labels)),
    }
    if len(classes) == 2 and len(set(truth)) == 2:
        result["rocAuc"] = float(m.roc_auc_score(truth, probabilities[:, 1]))
    confusion = m.confusion_matrix(truth, predicted, labels=labels).tolist()
    return result, confusion


def put_json(store, uri, file, value):
    bucket, prefix = contract.parse_s3_uri(uri)
    store.write(bucket, contract.key_in(prefix, file), (json.dumps(value) + "\n").encode(), "application/json")


def train(settings):
    import joblib
    import sklearn

    store = Store(settings)
    started = time.time()
    now = lambda: datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
    put_json(store, settings.run_uri, contract.PROGRESS_FILE,
             {"epoch": 0, "totalEpochs": 1, "metrics": {}, "backend": "scikit-learn", "updatedAt": now()})

    files = read_dataset(store, settings.dataset_uri, settings.dataset_version)
    try:
        schema = json.loads(files["schema.json"])
        schema["features"], schema["label"]["name"]
    except (ValueError, KeyError, TypeError) as error:
        raise contract.ContractError("DatasetInvalid", f"schema.json is not a prepared schema: {error}") from error
    if schema.get("task") != settings.task:
        raise contract.ContractError("DatasetInvalid", f"the TrainingJob's task is {settings.task}, but the dataset "
                                     f"version was prepared for {schema.get('task')}")
    x_train, y_train = parse_split(files["train.csv"], schema, "train.csv")
    x_test, y_test = parse_split(files["test.csv"], schema, "test.csv")
    if len(y_train) == 0 or len(y_test) == 0:
        raise contract.ContractError("DatasetInvalid", "train.csv and test.csv need at least one row each")
    classes = schema["label"].get("classes") or []
    log("info", "Loaded the dataset version", trainRows=len(y_train), testRows=len(y_test),
        features=x_train.shape[1], estimator=settings.estimator)

    seed = int(settings.hyperparameters.get("seed", 42))
    estimator = estimator_for(settings, seed)
    try:
        estimator.fit(x_train, y_train.astype(int) if settings.task == "classification" else y_train)
    except ValueError as error:
        raise contract.ContractError("TrainingFailed", f"{type(estimator).__name__}: {error}") from error
    train_metrics = {}
    if settings.task == "classification":
        train_metrics["accuracy"] = float(estimator.score(x_train, y_train.astype(int)))
    metrics, confusion = test_metrics(estimator, settings.task, x_test, y_test, classes)
    log("info", "Evaluated the model on the test split", metrics=metrics)

    train_loss = test_metrics(estimator, settings.task, x_train, y_train, classes)[0]["loss"]
    record = {"epoch": 1, "loss": train_loss, "metrics": train_metrics}
    put_json(store, settings.run_uri, contract.HISTORY_FILE, {"epochs": [record]})
    put_json(store, settings.run_uri, contract.PROGRESS_FILE,
             {"epoch": 1, "totalEpochs": 1, "loss": train_loss, "metrics": train_metrics,
              "backend": "scikit-learn", "updatedAt": now()})

    model = io.BytesIO()
    joblib.dump(estimator, model)
    metrics_file = {
        "formatVersion": 1,
        "task": settings.task,
        "metrics": metrics,
        **({"confusionMatrix": confusion, "classes": classes} if confusion is not None else {}),
        "evaluatedOn": {"datasetVersion": settings.dataset_version, "split": "test", "rows": int(len(y_test))},
        "framework": f"scikit-learn {sklearn.__version__}",
        "backend": "scikit-learn",
    }
    artifact = {
        "model.joblib": model.getvalue(),
        "schema.json": files["schema.json"],
        "metrics.json": (json.dumps(metrics_file, indent=2) + "\n").encode(),
    }
    manifest, digest = manifest_for(artifact)
    bucket, prefix = contract.parse_s3_uri(settings.output_uri)
    for file, data in artifact.items():
        store.write(bucket, contract.key_in(prefix, file), data)
    store.write(bucket, contract.key_in(prefix, MANIFEST_FILE), manifest, "application/json")
    log("info", "Saved the model artifact", uri=settings.output_uri, digest=digest,
        seconds=round(time.time() - started, 3))
    return {"kind": "train", "outcome": "succeeded",
            "artifact": {"uri": settings.output_uri, "digest": digest, "format": "joblib"},
            "metrics": metrics, "backend": "scikit-learn", "epochs": 1}


def main():
    result_path = os.environ.get(contract.RESULT_PATH) or contract.DEFAULT_RESULT_PATH
    try:
        settings = Settings(os.environ)
    except contract.ContractError as error:
        log("error", "Refused the environment", error=str(error))
        contract.write_result({"kind": "train", "outcome": "failed", "reason": error.reason,
                               "message": str(error)}, result_path)
        return 2
    try:
        result = train(settings)
    except contract.ContractError as error:
        log("error", "TrainingJob failed", reason=error.reason, error=str(error))
        result = {"kind": "train", "outcome": "failed", "reason": error.reason, "message": str(error)}
    except Exception as error:  # anything else is a bug worth a clear result, not a traceback only
        log("error", "TrainingJob failed", reason="InternalError", error=repr(error))
        result = {"kind": "train", "outcome": "failed", "reason": "InternalError", "message": repr(error)}
    contract.write_result(result, result_path)
    return 0 if result["outcome"] == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
