"""Reads a prepared dataset version from a directory (train.csv, test.csv, schema.json)."""

import json
import os

import numpy as np


def load(directory):
    schema = json.load(open(os.path.join(directory, "schema.json")))

    def split(name):
        values = np.loadtxt(os.path.join(directory, name), delimiter=",", skiprows=1, ndmin=2)
        return values[:, :-1].astype(np.float32), values[:, -1].astype(np.int64)

    return schema, split("train.csv"), split("test.csv")
