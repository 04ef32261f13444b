"""One training run of the PyTorch trainer, on every rank: read and verify the dataset version,
fit the MLP (``training.train_network``), and on rank 0 alone score the test split, export the
model (``export``), check the export against torch and upload the artifact, manifest.json last.
Every rank returns rank 0's result (broadcast), so whichever pod the operator reads, it reads the
same one."""

import json
import time

from lathe_runtime import contract
from lathe_runtime.artifact import write_artifact
from lathe_runtime.dataset import read_training_data
from lathe_runtime.log import logger
from lathe_runtime.metrics import classification_metrics, regression_metrics
from lathe_runtime.onnx_check import ARTIFACT_FORMAT, check_onnx_export
from lathe_runtime.settings import TrainSettings
from lathe_runtime.store import Store

from .export import ONNX_FILE, TORCHSCRIPT_FILE, onnx_bytes, predict, torchscript_bytes
from .network import hyperparameters_of, serving_model
from .run_files import RunReporter
from .training import TrainingError, train_network

log = logger("lathe-trainer-pytorch")

#: Test rows the ONNX export is compared with torch on.
CHECK_ROWS = 2048


class Settings(TrainSettings):
    """The contract's training settings, and the network's hyperparameters (``network.py``)."""

    def check(self, read):
        self.hp, problems = hyperparameters_of(self.hyperparameters, self.extra)
        for problem in problems:
            read.fail(problem)


def test_metrics(task, outputs, labels, classes):
    """The metrics of ModelMetricsSchema, and the confusion matrix (classification)."""
    if task == "regression":
        return regression_metrics(outputs.reshape(-1), labels), None
    return classification_metrics(outputs, labels.astype(int), len(classes))


def _check_labels(task, y, classes, file):
    import numpy as np

    if task != "classification":
        return
    if len(classes) < 2:
        raise contract.ContractError("DatasetInvalid", f"schema.json lists {len(classes)} classes; "
                                     "classification needs at least 2")
    bad = np.nonzero((y != np.floor(y)) | (y < 0) | (y >= len(classes)))[0]
    if len(bad):
        raise contract.ContractError("DatasetInvalid", f"{file}: row {int(bad[0]) + 1} has label {y[bad[0]]}, "
                                     f"not a class index below {len(classes)}")


def run_training(settings, placement, device):
    """Trains on this rank; the result (rank 0's, on every rank). Raises ContractError."""
    backend = "pytorch-cuda" if device.type == "cuda" else "pytorch"
    store = Store(settings)
    started = time.time()
    hp = settings.hp
    reporter = RunReporter(store, settings.run_uri, hp.epochs, backend) if placement.leader else None

    files, schema, x_train, y_train, x_test, y_test, classes = read_training_data(store, settings)
    _check_labels(settings.task, y_train, classes, "train.csv")
    _check_labels(settings.task, y_test, classes, "test.csv")
    outputs = len(classes) if settings.task == "classification" else 1
    if placement.leader:
        log("info", "Loaded the dataset version", trainRows=len(y_train), testRows=len(y_test),
            features=x_train.shape[1], layers=list(hp.layers), worldSize=placement.world_size,
            device=str(device))
    else:
        # Every worker says where it stands, so each pod's log shows it took part.
        log("info", "Joined the worker group", rank=placement.rank, worldSize=placement.world_size,
            trainRows=len(y_train), device=str(device))

    try:
        outcome = train_network(x_train, y_train, settings.task, outputs, hp, placement, device,
                                on_epoch=reporter.epoch if reporter else None)
    except TrainingError as error:
        raise contract.ContractError("TrainingFailed", str(error)) from error

    result = None
    if placement.leader:
        last = outcome.history[-1]
        log("info", "Trained the network", epochs=len(outcome.history), bestEpoch=outcome.best_epoch,
            stoppedEarly=outcome.stopped_early, loss=last["loss"], seconds=round(outcome.seconds, 3),
            samplesPerSecond=round(outcome.train_rows * len(outcome.history) / max(outcome.seconds, 1e-9)))
        result = _save(settings, store, schema, files, outcome, x_test, y_test, classes, backend, placement)
        reporter.flush()
        log("info", "Saved the model artifact", uri=settings.output_uri, digest=result["artifact"]["digest"],
            seconds=round(time.time() - started, 3))
    if placement.distributed:
        import torch.distributed as dist

        shared = [result]
        dist.broadcast_object_list(shared, src=0, device=device if device.type == "cuda" else None)
        result = shared[0]
    return result


def _save(settings, store, schema, files, outcome, x_test, y_test, classes, backend, placement):
    import torch

    serving = serving_model(outcome.network, settings.task)
    scored = predict(serving, x_test)
    metrics, confusion = test_metrics(settings.task, scored, y_test, classes)
    log("info", "Evaluated the model on the test split", metrics=metrics)

    features = x_test.shape[1]
    model_onnx = onnx_bytes(serving, features, settings.task)
    difference = check_onnx_export(model_onnx, settings.task, features, classes, x_test[:CHECK_ROWS],
                                   scored[:CHECK_ROWS])
    log("info", "Exported the model to ONNX and checked it against torch", bytes=len(model_onnx),
        largestDifference=difference)

    distributed = (f" (DistributedDataParallel over {'nccl' if backend == 'pytorch-cuda' else 'gloo'}, "
                   f"{placement.world_size} processes)" if placement.distributed else "")
    metrics_file = {
        "formatVersion": 1,
        "task": settings.task,
        "metrics": metrics,
        **({"confusionMatrix": confusion, "classes": classes} if confusion is not None else {}),
        "evaluatedOn": {"datasetVersion": settings.dataset_version, "split": "test", "rows": int(len(y_test))},
        "framework": f"PyTorch {torch.__version__}{distributed}",
        "backend": backend,
    }
    digest = write_artifact(store, settings.output_uri, {
        ONNX_FILE: model_onnx,
        TORCHSCRIPT_FILE: torchscript_bytes(serving, features),
        contract.SCHEMA_FILE: files[contract.SCHEMA_FILE],
        contract.METRICS_FILE: (json.dumps(metrics_file, indent=2) + "\n").encode(),
    })
    return {"kind": "train", "outcome": "succeeded",
            "artifact": {"uri": settings.output_uri, "digest": digest, "format": ARTIFACT_FORMAT},
            "metrics": metrics, "backend": backend, "epochs": len(outcome.history)}
