"""The model files of a PyTorch artifact: ``model.onnx`` for serving and ``model.pt`` for this
image's own evaluation.

``model.onnx`` follows Lathe's ONNX artifact contract: one float32 input ``features`` of shape
[N, features] (the prepared features of ``schema.json``, in its order), and one output:
``probabilities`` [N, classes] (softmax, in the order of ``schema.label.classes``) for
classification, ``predictions`` [N, 1] (in the label's units) for regression; N is dynamic.
``torch.onnx.export`` traces the serving model at opset 17, which ONNX Runtime 1.14 and later run.

``model.pt`` is the same serving model as TorchScript (``torch.jit.trace``): the evaluate mode
scores a champion with it, without ONNX Runtime. The export is checked against torch's own
outputs on the given rows with ONNX Runtime when its Python package is importable (it is not a
dependency of the image; its absence skips the check and says so).
"""

import io

ONNX_FILE = "model.onnx"
TORCHSCRIPT_FILE = "model.pt"
INPUT_NAME = "features"
OPSET = 17


def output_name(task):
    return "probabilities" if task == "classification" else "predictions"


def onnx_bytes(serving, features, task):
    """The serving model as ONNX bytes (see the module header)."""
    import torch

    example = torch.zeros((1, features), dtype=torch.float32)
    out = io.BytesIO()
    name = output_name(task)
    with torch.no_grad():
        torch.onnx.export(serving, (example,), out, input_names=[INPUT_NAME], output_names=[name],
                          dynamic_axes={INPUT_NAME: {0: "N"}, name: {0: "N"}}, opset_version=OPSET,
                          do_constant_folding=True)
    return out.getvalue()


def torchscript_bytes(serving, features):
    """The serving model as TorchScript bytes (``torch.jit.load`` reads them back)."""
    import torch

    example = torch.zeros((2, features), dtype=torch.float32)
    with torch.no_grad():
        traced = torch.jit.trace(serving, (example,))
    out = io.BytesIO()
    torch.jit.save(traced, out)
    return out.getvalue()


def load_torchscript(data):
    import torch

    return torch.jit.load(io.BytesIO(data), map_location="cpu").eval()


def predict(model, rows, chunk=8192):
    """The model's outputs (numpy, float32) on ``rows`` (a numpy matrix), in chunks."""
    import numpy as np
    import torch

    outputs = []
    with torch.no_grad():
        for start in range(0, len(rows), chunk):
            outputs.append(model(torch.as_tensor(rows[start:start + chunk], dtype=torch.float32)).numpy())
    return np.concatenate(outputs) if outputs else np.zeros((0, 1), dtype=np.float32)


def onnx_check(model_bytes, rows, expected, absolute=1e-4, relative=1e-5):
    """None when ONNX Runtime is absent, else the largest absolute difference between its
    outputs on ``rows`` and ``expected`` (torch's); raises ValueError when an output differs by
    more than ``absolute + relative * |expected|`` (float32 keeps ~7 digits: a regression in
    the tens of thousands differs in its third decimal)."""
    try:
        import onnxruntime
    except ImportError:
        return None
    import numpy as np

    session = onnxruntime.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    got = session.run(None, {INPUT_NAME: np.asarray(rows, dtype=np.float32)})[0]
    if got.shape != expected.shape:
        raise ValueError(f"the ONNX export returns shape {got.shape} where torch returns {expected.shape}")
    difference = np.abs(got - expected)
    if not np.all(difference <= absolute + relative * np.abs(expected)):
        worst = np.unravel_index(np.argmax(difference - relative * np.abs(expected)), difference.shape)
        raise ValueError(f"the ONNX export disagrees with torch: {got[worst]} where torch computes "
                         f"{expected[worst]} (row {worst[0]})")
    return float(difference.max()) if difference.size else 0.0
