/**
 * Evaluation metrics of a trained model on the held-out test split, computed from the saved
 * model's own outputs (class probabilities, or predictions in the label's units). Pure
 * functions over typed arrays; the keys are those of `ModelMetricsSchema` in the contract, so
 * every trainer (TensorFlow.js, scikit-learn, ...) reports the same names.
 */

/** Probabilities are clipped here before the logarithm, as Keras does (its `epsilon()`). */
const LOG_EPSILON = 1e-7;

export interface ClassificationEvaluation {
  /** accuracy, precision, recall, f1 (macro averages), rocAuc (binary only), loss. */
  metrics: Record<string, number>;
  /** Rows are true classes, columns predicted classes. */
  confusionMatrix: number[][];
}

/**
 * Metrics of class probabilities `probabilities` (row-major, `classes` per row) against the
 * true class indices `labels`. The predicted class is the most probable one (the first on a
 * tie). Macro averages count a class that is never predicted (or never present) as precision
 * (recall) 0, as scikit-learn does with `zero_division=0`; `loss` is the mean cross-entropy.
 */
export function classificationMetrics(
  probabilities: Float32Array | Float64Array,
  labels: Int32Array,
  classes: number,
): ClassificationEvaluation {
  const rows = labels.length;
  if (rows === 0) throw new Error('cannot evaluate on an empty test split');
  if (probabilities.length !== rows * classes) {
    throw new Error(
      `expected ${rows * classes} probabilities (${rows} rows x ${classes} classes), got ${probabilities.length}`,
    );
  }
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  let crossEntropy = 0;
  let correct = 0;
  for (let r = 0; r < rows; r++) {
    const offset = r * classes;
    let best = 0;
    for (let c = 1; c < classes; c++) {
      if (probabilities[offset + c]! > probabilities[offset + best]!) best = c;
    }
    const truth = labels[r]!;
    if (truth < 0 || truth >= classes) throw new Error(`label ${truth} of row ${r} is not a class`);
    confusion[truth]![best]!++;
    if (best === truth) correct++;
    const p = Math.min(Math.max(probabilities[offset + truth]!, LOG_EPSILON), 1 - LOG_EPSILON);
    crossEntropy -= Math.log(p);
  }

  let precisionSum = 0;
  let recallSum = 0;
  let f1Sum = 0;
  for (let c = 0; c < classes; c++) {
    const truePositives = confusion[c]![c]!;
    let predicted = 0;
    let actual = 0;
    for (let k = 0; k < classes; k++) {
      predicted += confusion[k]![c]!;
      actual += confusion[c]![k]!;
    }
    const precision = predicted === 0 ? 0 : truePositives / predicted;
    const recall = actual === 0 ? 0 : truePositives / actual;
    precisionSum += precision;
    recallSum += recall;
    f1Sum += precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  }

  const metrics: Record<string, number> = {
    accuracy: correct / rows,
    precision: precisionSum / classes,
    recall: recallSum / classes,
    f1: f1Sum / classes,
    loss: crossEntropy / rows,
  };
  if (classes === 2) {
    const scores = new Float64Array(rows);
    for (let r = 0; r < rows; r++) scores[r] = probabilities[r * 2 + 1]!;
    const auc = rocAuc(scores, labels);
    if (auc !== undefined) metrics.rocAuc = auc;
  }
  return { metrics, confusionMatrix: confusion };
}

/**
 * Area under the ROC curve of `scores` for the positive class 1: the probability that a random
 * positive scores above a random negative, ties counting one half (the Mann-Whitney U
 * statistic, which equals the trapezoidal area scikit-learn computes). Undefined when the
 * labels hold only one class, where the area is not defined.
 */
export function rocAuc(
  scores: Float32Array | Float64Array,
  labels: Int32Array,
): number | undefined {
  const order = Array.from(scores.keys()).sort((a, b) => scores[a]! - scores[b]!);
  let positives = 0;
  let rankSumOfPositives = 0;
  for (let i = 0; i < order.length; ) {
    // A run of tied scores shares the average of its ranks (1-based).
    let j = i;
    while (j + 1 < order.length && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const averageRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (labels[order[k]!] === 1) {
        positives++;
        rankSumOfPositives += averageRank;
      }
    }
    i = j + 1;
  }
  const negatives = order.length - positives;
  if (positives === 0 || negatives === 0) return undefined;
  return (rankSumOfPositives - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** mse, rmse, mae, r2 and loss (= mse, the training loss) of `predictions` against `targets`. */
export function regressionMetrics(
  predictions: Float32Array | Float64Array,
  targets: Float32Array | Float64Array,
): Record<string, number> {
  const rows = targets.length;
  if (rows === 0) throw new Error('cannot evaluate on an empty test split');
  if (predictions.length !== rows) {
    throw new Error(`expected ${rows} predictions, got ${predictions.length}`);
  }
  let mean = 0;
  for (let i = 0; i < rows; i++) mean += targets[i]!;
  mean /= rows;
  let squared = 0;
  let absolute = 0;
  let total = 0;
  for (let i = 0; i < rows; i++) {
    const error = predictions[i]! - targets[i]!;
    squared += error * error;
    absolute += Math.abs(error);
    total += (targets[i]! - mean) ** 2;
  }
  const mse = squared / rows;
  return {
    mse,
    rmse: Math.sqrt(mse),
    mae: absolute / rows,
    // A constant target: perfect predictions score 1, anything else 0 (scikit-learn's choice).
    r2: total === 0 ? (squared === 0 ? 1 : 0) : 1 - squared / total,
    loss: mse,
  };
}
