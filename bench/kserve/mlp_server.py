"""The KServe baseline of `npm run bench:serve`: the KServe Python model server serving the same MLP as Lathe's server, its weights loaded into Keras (tensorflow-cpu) from the
TensorFlow.js artifact Lathe serves (model.json + weights.bin).

It takes prepared feature rows, as a KServe user would send them to a Keras model:
  V1: POST /v1/models/<name>:predict  {"instances": [[...features...], ...]}
  V2: POST /v2/models/<name>/infer    one FP32 input [n, features]
and answers with the softmax probabilities. The forward pass is the Keras model compiled into a
TensorFlow graph once (`tf.function` with an input signature, TensorFlow's documented way to
make repeated calls fast): on one row that is ~0.3 ms against ~1.8 ms for the eager call
`model(x, training=False)` and ~0.35 ms for `predict_on_batch` (measured on the 2-core
development machine, tensorflow-cpu 2.21.0), so the baseline is the fastest Keras call, not a
straw man.

    python mlp_server.py --model_dir DIR --model_name NAME --http_port PORT [--workers N]

`--workers` (KServe's own flag, default 1) runs that many uvicorn worker processes: KServe's
event loop is single-threaded, so this is how it uses more than one core.
"""

import argparse
import json
import logging
import os
import sys
import uuid

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import kserve  # noqa: E402
import tensorflow as tf  # noqa: E402
from kserve import InferOutput, InferRequest, InferResponse  # noqa: E402

# The Keras loader shared with the batch benchmark's baseline (bench/python/tfjs_keras.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from tfjs_keras import load_tfjs_dense_model  # noqa: E402


class MLP(kserve.Model):
    def __init__(self, name: str, model_dir: str):
        super().__init__(name)
        self.model_dir = model_dir
        self.model = None
        self.load()

    def load(self) -> bool:
        self.model = load_tfjs_dense_model(self.model_dir)
        width = self.model.input_shape[-1]
        model = self.model
        self.forward = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec([None, width], tf.float32)],
        )
        self.forward(np.zeros((1, width), dtype=np.float32))
        self.ready = True
        return self.ready

    def __getstate__(self):
        # With --workers > 1 KServe pickles the model into each worker process (spawn): a compiled
        # function does not pickle, so each worker loads and compiles its own.
        state = self.__dict__.copy()
        state["model"] = None
        state.pop("forward", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.load()

    def predict(self, payload, headers=None, response_headers=None):
        if isinstance(payload, InferRequest):
            x = payload.inputs[0].as_numpy().astype(np.float32, copy=False)
            y = self.forward(x).numpy()
            output = InferOutput(name="probabilities", shape=list(y.shape), datatype="FP32")
            output.set_data_from_numpy(y, binary_data=False)
            return InferResponse(
                model_name=self.name, infer_outputs=[output], response_id=payload.id or str(uuid.uuid4())
            )
        x = np.asarray(payload["instances"], dtype=np.float32)
        y = self.forward(x).numpy()
        return {"predictions": y.tolist()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(parents=[kserve.model_server.parser])
    parser.add_argument("--model_dir", required=True)
    args, _ = parser.parse_known_args()
    model = MLP(args.model_name, args.model_dir)
    server = kserve.ModelServer(
        http_port=args.http_port, workers=args.workers, enable_grpc=False, enable_latency_logging=False
    )
    # No log line per request (access log, latency trace): Lathe's server does not write one either.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("kserve.trace").setLevel(logging.WARNING)
    server.start([model])
