"""Keras on the same model, data and batch size as the TensorFlow.js trainer, for
`npm run bench:train`. Prints JSON: per-epoch seconds and the test accuracy.

usage: keras_train.py DATA_DIR BATCH_SIZE EPOCHS SEED
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402

from prepared import load  # noqa: E402

directory, batch_size, epochs, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
schema, (x_train, y_train), (x_test, y_test) = load(directory)
classes = len(schema["label"]["classes"])
tf.keras.utils.set_random_seed(seed)
# The TensorFlow.js trainer's mlp [64, 32], relu: Glorot-uniform kernels, zero biases, softmax.
model = tf.keras.Sequential([
    tf.keras.layers.Input((x_train.shape[1],)),
    tf.keras.layers.Dense(64, activation="relu"),
    tf.keras.layers.Dense(32, activation="relu"),
    tf.keras.layers.Dense(classes, activation="softmax"),
])
model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=0.001),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])


class EpochTimer(tf.keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.started)


timer = EpochTimer()
model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=0,
          callbacks=[timer])
accuracy = float((model.predict(x_test, batch_size=8192, verbose=0).argmax(axis=1) == y_test).mean())
print(json.dumps({"epochSeconds": timer.seconds, "trainRows": int(len(y_train)), "accuracy": accuracy,
                  "version": tf.__version__}))
