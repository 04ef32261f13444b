"""The model files of a PyTorch artifact: ``model.onnx`` for serving and ``model.pt`` for this
image's own evaluation.

``model.onnx`` follows Lathe's ONNX artifact contract: one float32 input ``features`` of shape
[N, features] (the prepared features of ``schema.json``, in its order), and one output:
``probabilities`` [N, classes] (softmax, in the order of ``schema.label.classes``) for
classification, ``predictions`` [N, 1] (in the label's units) for regression; N is dynamic.
``torch.onnx.export`` traces the serving model at opset 17, which ONNX Runtime 1.14 and later run.

``model.pt`` is the same serving model as TorchScript (``torch.jit.trace``): torch's own model,
which loads without the training code (``load_torchscript``), so that what the ONNX model
serves can be compared with what PyTorch computes. The trainer checks the export against
torch's outputs before it uploads anything (``lathe_runtime.onnx_check``).
"""

import io

from lathe_runtime.onnx_check import INPUT_NAME, MODEL_FILE, output_name

ONNX_FILE = MODEL_FILE
TORCHSCRIPT_FILE = "model.pt"
OPSET = 17


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
