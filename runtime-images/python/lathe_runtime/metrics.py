"""The test metrics every trainer reports, with the keys of ModelMetricsSchema
(contract/results.ts) and the definitions of runtime-images/trainer/metrics.ts, in numpy alone
(a PyTorch image need not carry scikit-learn): macro averages with a never-predicted class
counting 0, cross-entropy with the true class's probability clipped to [1e-7, 1 - 1e-7], ROC
AUC as the Mann-Whitney statistic for two classes when both occur."""

LOG_EPSILON = 1e-7


def classification_metrics(probabilities, labels, classes):
    """(metrics, confusion matrix) of ``probabilities`` [rows, classes] (schema.label.classes'
    order) against true class indices ``labels``; the prediction is the first most probable."""
    import numpy as np

    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if probabilities.shape != (len(labels), classes):
        raise ValueError(f"expected probabilities of shape ({len(labels)}, {classes}), got {probabilities.shape}")
    rows = np.arange(len(labels))
    _check_labels(labels, classes)
    positive = probabilities[:, 1] if classes == 2 else None
    return classification_metrics_of(labels, probabilities.argmax(axis=1), probabilities[rows, labels],
                                     classes, positive)


def classification_metrics_of(labels, predicted, truth_probability, classes, positive_scores=None):
    """Metrics of scored rows (metrics.ts classificationMetricsOf): ``predicted`` is -1 where the
    model made no prediction (a row its preparation rejected), which counts against the true
    class's recall and pays the clip's full price in the loss."""
    import numpy as np

    labels = np.asarray(labels, dtype=np.int64)
    predicted = np.asarray(predicted, dtype=np.int64)
    rows = len(labels)
    if rows == 0:
        raise ValueError("cannot evaluate on an empty test split")
    _check_labels(labels, classes)
    confusion = np.zeros((classes, classes), dtype=np.int64)
    scored = predicted >= 0
    np.add.at(confusion, (labels[scored], predicted[scored]), 1)
    actual = np.bincount(labels, minlength=classes)
    true_positives = np.diag(confusion).astype(np.float64)
    predicted_as = confusion.sum(axis=0)
    precision = np.divide(true_positives, predicted_as, out=np.zeros(classes), where=predicted_as > 0)
    recall = np.divide(true_positives, actual, out=np.zeros(classes), where=actual > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros(classes), where=both > 0)
    p = np.clip(np.asarray(truth_probability, dtype=np.float64), LOG_EPSILON, 1 - LOG_EPSILON)
    metrics = {
        "accuracy": float(true_positives.sum() / rows),
        "precision": float(precision.mean()),
        "recall": float(recall.mean()),
        "f1": float(f1.mean()),
        "loss": float(-np.log(p).mean()),
    }
    if classes == 2 and positive_scores is not None:
        auc = roc_auc(positive_scores, labels)
        if auc is not None:
            metrics["rocAuc"] = auc
    return metrics, confusion.tolist()


def roc_auc(scores, labels):
    """Area under the ROC curve for class 1 (ties count one half); None with one class only."""
    import numpy as np

    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    positives = int((labels == 1).sum())
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return None
    # Average ranks of tied scores (1-based), as metrics.ts ranks them.
    order = np.argsort(scores, kind="stable")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores))
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    rank_sum = ranks[labels == 1].sum()
    return float((rank_sum - positives * (positives + 1) / 2) / (positives * negatives))


def regression_metrics(predictions, targets):
    """mse, rmse, mae, r2 and loss (= mse) of ``predictions`` against ``targets``."""
    import numpy as np

    predictions = np.asarray(predictions, dtype=np.float64).reshape(-1)
    targets = np.asarray(targets, dtype=np.float64).reshape(-1)
    if len(targets) == 0:
        raise ValueError("cannot evaluate on an empty test split")
    if len(predictions) != len(targets):
        raise ValueError(f"expected {len(targets)} predictions, got {len(predictions)}")
    error = predictions - targets
    squared = float((error ** 2).sum())
    total = float(((targets - targets.mean()) ** 2).sum())
    mse = squared / len(targets)
    return {
        "mse": mse,
        "rmse": mse ** 0.5,
        "mae": float(np.abs(error).mean()),
        # A constant target: perfect predictions score 1, anything else 0 (scikit-learn's choice).
        "r2": (1.0 if squared == 0 else 0.0) if total == 0 else 1 - squared / total,
        "loss": mse,
    }


def _check_labels(labels, classes):
    import numpy as np

    bad = np.nonzero((labels < 0) | (labels >= classes))[0]
    if len(bad):
        raise ValueError(f"label {labels[bad[0]]} of row {bad[0]} is not a class")
