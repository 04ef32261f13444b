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
 * What a classifier's metrics are computed from, row by row. The trainer derives it from the
 * model's probabilities (`scoredClassification`); the `evaluate` mode, which scores a model on
 * another dataset version's rows, also has rows the model made no prediction for (its
 * preparation rejected them) and true classes it never saw.
 */
export interface ScoredClassification {
  /** The true class of each row, `0 .. classes - 1`. */
  labels: Int32Array;
  /** The predicted class of each row, or -1 where the model made no prediction. */
  predicted: Int32Array;
  /** The probability the model gave each row's true class (0 where it gave none). */
  truthProbability: Float32Array | Float64Array;
  /** Two classes: each row's score for class 1, what ROC AUC ranks (±Infinity allowed). */
  positiveScores?: Float32Array | Float64Array;
}

function checkLabel(truth: number, row: number, classes: number): void {
  if (!(truth >= 0 && truth < classes))
    throw new Error(`label ${truth} of row ${row} is not a class`);
}

/**
 * The rows of class probabilities `probabilities` (row-major, `classes` per row) against the
 * true class indices `labels`: the predicted class is the most probable one (the first on a
 * tie).
 */
export function scoredClassification(
  probabilities: Float32Array | Float64Array,
  labels: Int32Array,
  classes: number,
): ScoredClassification {
  const rows = labels.length;
  if (probabilities.length !== rows * classes) {
    throw new Error(
      `expected ${rows * classes} probabilities (${rows} rows x ${classes} classes), got ${probabilities.length}`,
    );
  }
  const predicted = new Int32Array(rows);
  const truthProbability = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const offset = r * classes;
    const truth = labels[r]!;
    checkLabel(truth, r, classes);
    predicted[r] = argmaxOf(probabilities, offset, classes);
    truthProbability[r] = probabilities[offset + truth]!;
  }
  if (classes !== 2) return { labels, predicted, truthProbability };
  const positiveScores = new Float64Array(rows);
  for (let r = 0; r < rows; r++) positiveScores[r] = probabilities[r * 2 + 1]!;
  return { labels, predicted, truthProbability, positiveScores };
}

/** The index of the largest of `width` values from `offset`, the first on a tie. */
export function argmaxOf(values: ArrayLike<number>, offset: number, width: number): number {
  let best = 0;
  for (let c = 1; c < width; c++) {
    if (values[offset + c]! > values[offset + best]!) best = c;
  }
  return best;
}

/**
 * Metrics of class probabilities `probabilities` (row-major, `classes` per row) against the
 * true class indices `labels` (see `classificationMetricsOf`).
 */
export function classificationMetrics(
  probabilities: Float32Array | Float64Array,
  labels: Int32Array,
  classes: number,
): ClassificationEvaluation {
  if (labels.length === 0) throw new Error('cannot evaluate on an empty test split');
  return classificationMetricsOf(scoredClassification(probabilities, labels, classes), classes);
}

/**
 * Metrics of scored rows over `classes` classes. Macro averages count a class that is never
 * predicted (or never present) as precision (recall) 0, as scikit-learn does with
 * `zero_division=0`; a row without a prediction counts against its true class's recall and
 * nobody's precision. `loss` is the mean cross-entropy, the true class's probability clipped to
 * [1e-7, 1 - 1e-7] (a row without one pays the clip's full price); `rocAuc` is there for two
 * classes with `positiveScores`, when both classes occur. The confusion matrix leaves out rows
 * without a prediction.
 */
export function classificationMetricsOf(
  scored: ScoredClassification,
  classes: number,
): ClassificationEvaluation {
  const { labels, predicted, truthProbability } = scored;
  const rows = labels.length;
  if (rows === 0) throw new Error('cannot evaluate on an empty test split');
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  const actual = new Array<number>(classes).fill(0);
  let crossEntropy = 0;
  let correct = 0;
  for (let r = 0; r < rows; r++) {
    const truth = labels[r]!;
    checkLabel(truth, r, classes);
    actual[truth]!++;
    const guess = predicted[r]!;
    if (guess >= 0) {
      confusion[truth]![guess]!++;
      if (guess === truth) correct++;
    }
    const p = Math.min(Math.max(truthProbability[r]!, LOG_EPSILON), 1 - LOG_EPSILON);
    crossEntropy -= Math.log(p);
  }

  let precisionSum = 0;
  let recallSum = 0;
  let f1Sum = 0;
  for (let c = 0; c < classes; c++) {
    const truePositives = confusion[c]![c]!;
    let predictedAs = 0;
    for (let k = 0; k < classes; k++) predictedAs += confusion[k]![c]!;
    const precision = predictedAs === 0 ? 0 : truePositives / predictedAs;
    const recall = actual[c] === 0 ? 0 : truePositives / actual[c]!;
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
  if (classes === 2 && scored.positiveScores) {
    const auc = rocAuc(scored.positiveScores, labels);
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
  // Compared, not subtracted: two infinite scores (rows scored as surely wrong) are a tie.
  const order = Array.from(scores.keys()).sort((a, b) =>
    scores[a]! < scores[b]! ? -1 : scores[a]! > scores[b]! ? 1 : 0,
  );
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
