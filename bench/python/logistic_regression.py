"""scikit-learn's LogisticRegression on a prepared dataset version's split, for
`npm run bench:train`. Prints JSON: the test accuracy.

usage: logistic_regression.py DATA_DIR
"""

import json
import sys

import sklearn
from sklearn.linear_model import LogisticRegression

from prepared import load

schema, (x_train, y_train), (x_test, y_test) = load(sys.argv[1])
model = LogisticRegression(max_iter=5000).fit(x_train, y_train)
print(json.dumps({"accuracy": float(model.score(x_test, y_test)), "version": sklearn.__version__}))
