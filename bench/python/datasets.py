"""Prints a data set for `npm run bench:train` as JSON {features, rows, labels} on stdout.

synthetic: scikit-learn's make_classification (20,000 rows, 20 features, 3 classes): enough
           rows for samples/s to mean something, generated, so nothing is downloaded.
digits:    the 8x8 handwritten digits bundled in scikit-learn's wheel (1,797 rows, 64
           features, 10 classes): real data.
"""

import json
import sys

from sklearn import datasets

name = sys.argv[1]
if name == "synthetic":
    x, y = datasets.make_classification(n_samples=20000, n_features=20, n_informative=10,
                                        n_redundant=5, n_classes=3, class_sep=1.0,
                                        random_state=0)
    features = [f"x{i + 1}" for i in range(x.shape[1])]
    labels = [f"class-{int(v)}" for v in y]
elif name == "digits":
    d = datasets.load_digits()
    x, features = d.data, [f"pixel{i}" for i in range(d.data.shape[1])]
    labels = [str(int(v)) for v in d.target]
else:
    sys.exit(f"unknown data set {name}")
json.dump({"features": features, "rows": x.tolist(), "labels": labels}, sys.stdout)
