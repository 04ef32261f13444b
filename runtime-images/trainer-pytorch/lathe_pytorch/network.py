"""The network the PyTorch trainer fits, and the hyperparameters that shape it.

A multi-layer perceptron for prepared tabular features, as Lathe's built-in ``mlp``
(operator/src/api/trainingjob.ts): hidden layers of ``LATHE_HP_LAYERS`` units (``"64,32"``),
``LATHE_HP_ACTIVATION`` between them, ``LATHE_HP_DROPOUT`` after each; a custom image gets no
``LATHE_MODEL``, so the architecture travels as extra hyperparameters. The training
hyperparameters are those of ``spec.hyperparameters`` (``LATHE_HYPERPARAMETERS``), with the same
defaults as the schema's.

``ServingModel`` is what leaves the trainer: the network with the serving head of Lathe's ONNX
artifact contract (softmax probabilities over the schema's classes, or the prediction in the
label's units), so the exported graph, TorchScript and the metrics all compute the same thing.
"""

from dataclasses import dataclass

ACTIVATIONS = ("relu", "tanh", "sigmoid", "elu", "selu")
OPTIMIZERS = ("adam", "sgd", "rmsprop", "adagrad")
DEFAULT_LAYERS = (64, 32)


@dataclass(frozen=True)
class EarlyStopping:
    monitor: str = "val_loss"
    patience: int = 5
    min_delta: float = 0.0


@dataclass(frozen=True)
class Hyperparameters:
    """``spec.hyperparameters`` and the architecture's extras, validated."""

    epochs: int = 50
    batch_size: int = 32
    learning_rate: float = 0.001
    optimizer: str = "adam"
    validation_split: float = 0.1
    seed: int = 42
    early_stopping: EarlyStopping | None = None
    layers: tuple = DEFAULT_LAYERS
    activation: str = "relu"
    dropout: float = 0.0


def _number(problems, field, value, kind, low, high, low_open=False):
    try:
        if isinstance(value, bool) or (kind is int and isinstance(value, float) and not value.is_integer()):
            raise ValueError
        number = kind(value)
    except (TypeError, ValueError):
        problems.append(f"{field}: must be {'an integer' if kind is int else 'a number'} (got {value!r})")
        return None
    if number < low or number > high or (low_open and number == low):
        problems.append(f"{field}: must be {'>' if low_open else '>='} {low} and <= {high} (got {value!r})")
        return None
    return number


def hyperparameters_of(spec, extra):
    """(Hyperparameters, problems): ``spec`` is LATHE_HYPERPARAMETERS parsed, ``extra`` the
    ``LATHE_HP_*`` variables by lower-case name. Each problem names its field."""
    problems = []
    values = {}
    for key, field, kind, low, high, low_open in (
        ("epochs", "epochs", int, 1, 10000, False),
        ("batchSize", "batch_size", int, 1, 65536, False),
        ("learningRate", "learning_rate", float, 0, 10, True),
        ("validationSplit", "validation_split", float, 0, 0.5, False),
        ("seed", "seed", int, 0, 2147483647, False),
    ):
        if key in spec:
            number = _number(problems, f"hyperparameters.{key}", spec[key], kind, low, high, low_open)
            if number is not None:
                values[field] = number
    optimizer = spec.get("optimizer", "adam")
    if optimizer not in OPTIMIZERS:
        problems.append(f"hyperparameters.optimizer: must be one of {', '.join(OPTIMIZERS)} (got {optimizer!r})")
    else:
        values["optimizer"] = optimizer
    stopping = spec.get("earlyStopping")
    if stopping is not None:
        if not isinstance(stopping, dict):
            problems.append("hyperparameters.earlyStopping: must be an object")
        else:
            patience = _number(problems, "hyperparameters.earlyStopping.patience",
                               stopping.get("patience", 5), int, 1, 1000)
            min_delta = _number(problems, "hyperparameters.earlyStopping.minDelta",
                                stopping.get("minDelta", 0), float, 0, float("inf"))
            monitor = stopping.get("monitor", "val_loss")
            if patience is not None and min_delta is not None:
                values["early_stopping"] = EarlyStopping(str(monitor), patience, min_delta)

    if "layers" in extra:
        try:
            layers = tuple(int(part) for part in extra["layers"].replace(" ", "").split(",") if part)
            if not layers or len(layers) > 16 or any(units < 1 or units > 4096 for units in layers):
                raise ValueError
            values["layers"] = layers
        except ValueError:
            problems.append(f"LATHE_HP_LAYERS: must be 1 to 16 comma-separated unit counts of 1-4096, e.g. 64,32 "
                            f"(got {extra['layers']!r})")
    if "activation" in extra:
        if extra["activation"] not in ACTIVATIONS:
            problems.append(f"LATHE_HP_ACTIVATION: must be one of {', '.join(ACTIVATIONS)} (got {extra['activation']!r})")
        else:
            values["activation"] = extra["activation"]
    if "dropout" in extra:
        dropout = _number(problems, "LATHE_HP_DROPOUT", extra["dropout"], float, 0, 0.9)
        if dropout is not None:
            values["dropout"] = dropout
    return Hyperparameters(**values), problems


def monitorable_metrics(task, validation):
    """The names ``earlyStopping.monitor`` may take, as runtime-images/trainer/train.ts has them."""
    names = ["loss", "accuracy"] if task == "classification" else ["loss"]
    return names + [f"val_{name}" for name in names] if validation else names


def build_network(features, outputs, hp):
    """The MLP: ``features`` inputs, ``hp.layers`` hidden units, ``outputs`` logits (one per class)
    or one regression output. Its initial weights come from torch's generator: seed it first."""
    from torch import nn

    activation = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "elu": nn.ELU,
                  "selu": nn.SELU}[hp.activation]
    layers = []
    width = features
    for units in hp.layers:
        layers += [nn.Linear(width, units), activation()]
        if hp.dropout > 0:
            layers.append(nn.Dropout(hp.dropout))
        width = units
    layers.append(nn.Linear(width, outputs))
    return nn.Sequential(*layers)


def serving_model(network, task):
    """The network with its serving head: softmax for classification; regression outputs are
    already in the label's units (``fold_target_scaling``)."""
    import torch
    from torch import nn

    class ServingModel(nn.Module):
        def __init__(self, body, softmax):
            super().__init__()
            self.body = body
            self.softmax = softmax

        def forward(self, features):
            out = self.body(features)
            return torch.softmax(out, dim=1) if self.softmax else out

    return ServingModel(network, task == "classification").eval()


def fold_target_scaling(network, mean, std):
    """Regression trains on the standardised label; this folds ``y = out * std + mean`` into the
    last layer, so the network predicts in the label's units (as the TF.js trainer does)."""
    import torch

    last = network[-1]
    with torch.no_grad():
        last.weight.mul_(std)
        last.bias.mul_(std).add_(mean)
