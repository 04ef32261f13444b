"""python -m lathe_sklearn [train|evaluate]: one run, exit 0 on success, 1 on a failed run, 75 on
a transient failure (the object store), 2 on an invalid environment; the result goes to
LATHE_RESULT_PATH (the pod's termination message).

Estimators (LATHE_HP_ESTIMATOR, from spec.hyperparameters.extra.estimator):
  classification: logistic_regression (default), random_forest, gradient_boosting
  regression:     ridge (default), random_forest, gradient_boosting
LATHE_HP_C (logistic regression's inverse regularisation, default 1.0), LATHE_HP_ALPHA (ridge,
default 1.0), LATHE_HP_N_ESTIMATORS (forests and boosting, default 100) and
LATHE_HYPERPARAMETERS' seed are passed on.

The artifact (format onnx) holds model.onnx (the estimator exported with skl2onnx under Lathe's
ONNX artifact contract, checked against scikit-learn's own predictions on the test split before
upload; what the inference server runs), model.joblib (the fitted estimator, for Python users:
its inputs are the prepared features of schema.json; for classification predict_proba's columns
are estimator.classes_, indices into schema.label.classes), schema.json, metrics.json, and
manifest.json, written last.
"""

import io
import json
import os
import sys
import time

from lathe_runtime import contract
from lathe_runtime.artifact import write_artifact
from lathe_runtime.dataset import read_training_data
from lathe_runtime.evaluate import evaluate_onnx
from lathe_runtime.log import logger, utc_now
from lathe_runtime.metrics import classification_metrics, regression_metrics
from lathe_runtime.onnx_check import ARTIFACT_FORMAT, MODEL_FILE, check_onnx_export
from lathe_runtime.program import run_program
from lathe_runtime.settings import EvaluateSettings, TrainSettings
from lathe_runtime.store import Store, put_json

from .onnx_export import export_onnx

log = logger("lathe-trainer-sklearn")

ESTIMATORS = {"classification": ("logistic_regression", "random_forest", "gradient_boosting"),
              "regression": ("ridge", "random_forest", "gradient_boosting")}


class Settings(TrainSettings):
    """The contract's training settings, and the estimator with its hyperparameters."""

    def check(self, read):
        self.estimator = self.extra.get("estimator") or (
            "logistic_regression" if self.task == "classification" else "ridge")
        allowed = ESTIMATORS.get(self.task, ())
        if allowed and self.estimator not in allowed:
            read.fail(f"LATHE_HP_ESTIMATOR: {self.estimator} is not one of {', '.join(allowed)} for {self.task}")
        for name, kind in (("c", float), ("alpha", float), ("n_estimators", int)):
            if name in self.extra:
                read.number(f"LATHE_HP_{name.upper()}", self.extra[name], kind)


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


def probabilities_over(estimator, x, classes):
    """predict_proba over every class of the schema, in its order (estimator.classes_ are
    indices into schema.label.classes; a class absent from the train split gets 0)."""
    import numpy as np

    probabilities = np.zeros((len(x), len(classes)))
    probabilities[:, estimator.classes_.astype(int)] = estimator.predict_proba(x)
    return probabilities


def test_metrics(estimator, task, x, y, classes):
    """The metric keys of ModelMetricsSchema (contract/results.ts), and the confusion matrix."""
    if task == "regression":
        return regression_metrics(estimator.predict(x), y), None
    return classification_metrics(probabilities_over(estimator, x, classes), y.astype(int), len(classes))


def train(settings):
    import joblib
    import sklearn

    store = Store(settings)
    started = time.time()
    put_json(store, settings.run_uri, contract.PROGRESS_FILE,
             {"epoch": 0, "totalEpochs": 1, "metrics": {}, "backend": "scikit-learn", "updatedAt": utc_now()})

    files, schema, x_train, y_train, x_test, y_test, classes = read_training_data(store, settings)
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
              "backend": "scikit-learn", "updatedAt": utc_now()})

    onnx_model = export_onnx(estimator, settings.task, x_train.shape[1], len(classes))
    expected = (estimator.predict(x_test) if settings.task == "regression"
                else probabilities_over(estimator, x_test, classes))
    # float32 inputs and arithmetic against scikit-learn's float64: a regression target in the
    # hundreds carries float32's relative error, hence the relative part of the tolerance.
    difference = check_onnx_export(onnx_model, settings.task, x_train.shape[1], classes, x_test, expected,
                                   rtol=1e-4 if settings.task == "regression" else 1e-5)
    log("info", "Exported the model to ONNX and checked it against scikit-learn on the test split",
        bytes=len(onnx_model), largestDifference=difference)

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
        MODEL_FILE: onnx_model,
        "model.joblib": model.getvalue(),
        contract.SCHEMA_FILE: files[contract.SCHEMA_FILE],
        contract.METRICS_FILE: (json.dumps(metrics_file, indent=2) + "\n").encode(),
    }
    digest = write_artifact(store, settings.output_uri, artifact)
    log("info", "Saved the model artifact", uri=settings.output_uri, digest=digest,
        seconds=round(time.time() - started, 3))
    return {"kind": "train", "outcome": "succeeded",
            "artifact": {"uri": settings.output_uri, "digest": digest, "format": ARTIFACT_FORMAT},
            "metrics": metrics, "backend": "scikit-learn", "epochs": 1}


def evaluate(settings):
    """The evaluate mode: the artifact's model.onnx on the dataset version's raw test rows,
    prepared with the model's schema.json (lathe_runtime.evaluate)."""
    return evaluate_onnx(settings, log)


def main(args=None):
    args = sys.argv[1:] if args is None else args
    if args in ([], ["train"]):
        return run_program("train", log, Settings, train)
    if args == ["evaluate"]:
        return run_program("evaluate", log, EvaluateSettings, evaluate)
    message = f"Invalid arguments {json.dumps(args)}: expected none (train), \"train\" or \"evaluate\""
    log("error", message)
    kind = "evaluate" if "evaluate" in args else "train"
    result_path = os.environ.get(contract.RESULT_PATH) or contract.DEFAULT_RESULT_PATH
    contract.write_result({"kind": kind, "outcome": "failed", "reason": "InternalError", "message": message},
                          result_path)
    return contract.EXIT_INVALID_ENVIRONMENT


if __name__ == "__main__":
    sys.exit(main())
