"""``python -m lathe_pytorch evaluate``: scores a model artifact (a RetrainPolicy's champion) on
another dataset version's raw test rows, prepared with the model's own schema.json. The model
that is scored is ``model.onnx``, the file the inference server serves, run by ONNX Runtime;
the work is ``lathe_runtime.evaluate`` (shared with the scikit-learn trainer), so any artifact
under the ONNX artifact contract evaluates the same way here."""

from lathe_runtime.program import run_program
from lathe_runtime.settings import EvaluateSettings
from lathe_runtime.store import Store

from .train import log


def run_evaluation(settings):
    from lathe_runtime.evaluate import evaluate_onnx

    return evaluate_onnx(settings, log, Store(settings))


def evaluate_main(env):
    return run_program("evaluate", log, EvaluateSettings, run_evaluation, env)
