"""A trainer's check of its own ONNX export before it uploads it: the model must have the
inputs and outputs of Lathe's ONNX artifact contract (the inference server feeds it and reads
it by name) and give the framework's own predictions on the test split. An export that differs
fails the run (TrainingFailed) rather than registering a model that serves something else.

The contract: one float32 input ``features`` of shape [rows, len(schema.features)];
classification: one float32 output ``probabilities`` [rows, len(schema.label.classes)] in the
schema's class order; regression: one float32 output ``predictions`` [rows, 1] or [rows]. The
file is ``model.onnx`` beside schema.json.
"""

from . import contract

MODEL_FILE = "model.onnx"
INPUT_NAME = "features"
CLASSIFICATION_OUTPUT = "probabilities"
REGRESSION_OUTPUT = "predictions"
ARTIFACT_FORMAT = "onnx"


def output_name(task):
    return CLASSIFICATION_OUTPUT if task == "classification" else REGRESSION_OUTPUT


def session_of(model_bytes):
    """An onnxruntime session on the CPU, single-threaded (a trainer pod's check, not serving)."""
    import onnxruntime

    # Errors only (graph optimisation notes would fill the run's log), and no telemetry. On a
    # read-only root, `import onnxruntime` itself still warns once that it cannot persist its
    # telemetry identifier; harmless.
    onnxruntime.set_default_logger_severity(3)
    if hasattr(onnxruntime, "disable_telemetry_events"):
        onnxruntime.disable_telemetry_events()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


def run_onnx(session, task, features):
    """The model's outputs for ``features`` (float32 [rows, n]) as float64 [rows, width]."""
    import numpy as np

    out = session.run([output_name(task)], {INPUT_NAME: np.asarray(features, dtype=np.float32)})[0]
    return np.asarray(out, dtype=np.float64).reshape(len(features), -1)


def check_onnx_export(model_bytes, task, features_count, classes, x, expected, rtol=1e-5, atol=1e-5):
    """Raises TrainingFailed unless the export follows the contract and its outputs on ``x``
    equal ``expected`` (probabilities over the schema's classes, or predictions) within
    ``atol + rtol * |expected|``. Returns the largest absolute difference."""
    import numpy as np

    def refuse(message):
        raise contract.ContractError("TrainingFailed", f"the ONNX export {message}")

    try:
        session = session_of(model_bytes)
    except Exception as error:
        refuse(f"does not load in onnxruntime: {error}")
    inputs = session.get_inputs()
    if len(inputs) != 1 or inputs[0].name != INPUT_NAME or inputs[0].type != "tensor(float)":
        refuse(f"must have one float input named {INPUT_NAME}, has "
               + ", ".join(f"{i.name} ({i.type})" for i in inputs))
    if len(inputs[0].shape) != 2 or inputs[0].shape[1] != features_count:
        refuse(f"input {INPUT_NAME} has shape {inputs[0].shape}, expected [rows, {features_count}]")
    name = output_name(task)
    outputs = {o.name: o for o in session.get_outputs()}
    if name not in outputs or outputs[name].type != "tensor(float)":
        refuse(f"has no float output named {name} (outputs: {', '.join(outputs)})")
    width = len(classes) if task == "classification" else 1
    shape = outputs[name].shape
    if not (len(shape) == 2 and shape[1] == width) and not (task == "regression" and len(shape) == 1):
        refuse(f"output {name} has shape {shape}, expected [rows, {width}]")
    got = run_onnx(session, task, x)
    expected = np.asarray(expected, dtype=np.float64).reshape(len(x), -1)
    if got.shape != expected.shape:
        refuse(f"gives {name} of shape {got.shape}, expected {expected.shape}")
    difference = np.abs(got - expected)
    bad = difference > atol + rtol * np.abs(expected)
    if bad.any():
        row, column = (int(i) for i in np.argwhere(bad)[0])
        refuse(f"differs from the framework's own {name} on {int(bad.any(axis=1).sum())} of {len(x)} "
               f"test rows (row {row}, column {column}: {float(got[row, column])!r} vs {float(expected[row, column])!r}; "
               f"tolerance {atol} + {rtol} x |expected|)")
    return float(difference.max()) if difference.size else 0.0
