"""The TensorFlow.js layers model Lathe trains, as a Keras model with the same weights: what the
benchmarks' Python baselines (bench/kserve/mlp_server.py, bench/python/keras_batch.py) run, so
both load it one way.
"""

import json
import os

import keras
import numpy as np


def load_tfjs_dense_model(model_dir: str) -> keras.Model:
    """Builds the Keras equivalent of a TensorFlow.js Sequential of Dense layers and sets its weights."""
    with open(os.path.join(model_dir, "model.json"), encoding="utf-8") as f:
        model_json = json.load(f)
    topology = model_json["modelTopology"]
    config = topology.get("model_config", topology)["config"]
    layer_configs = config["layers"] if isinstance(config, dict) else config
    weights_bytes = b""
    specs = []
    for group in model_json["weightsManifest"]:
        for path in group["paths"]:
            with open(os.path.join(model_dir, path), "rb") as f:
                weights_bytes += f.read()
        specs.extend(group["weights"])

    input_width = None
    layers = []
    for layer in layer_configs:
        if layer["class_name"] == "InputLayer":
            continue
        if layer["class_name"] != "Dense":
            raise ValueError(f"only Dense layers are supported, not {layer['class_name']}")
        cfg = layer["config"]
        shape = cfg.get("batch_input_shape") or cfg.get("batchInputShape")
        if shape and input_width is None:
            input_width = shape[-1]
        layers.append(keras.layers.Dense(cfg["units"], activation=cfg["activation"], name=cfg["name"]))
    model = keras.Sequential([keras.Input(shape=(input_width,)), *layers])

    offset = 0
    values = {}
    for spec in specs:
        count = int(np.prod(spec["shape"]))
        values[spec["name"]] = np.frombuffer(weights_bytes, dtype=np.float32, count=count, offset=offset).reshape(
            spec["shape"]
        )
        offset += count * 4
    for layer in layers:
        kernel = next(v for k, v in values.items() if k.startswith(f"{layer.name}/") and k.endswith("kernel"))
        bias = next(v for k, v in values.items() if k.startswith(f"{layer.name}/") and k.endswith("bias"))
        layer.set_weights([kernel, bias])
    return model
