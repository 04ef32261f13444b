import { describe, expect, it } from 'vitest';
import {
  classificationMetrics,
  classificationMetricsOf,
  regressionMetrics,
  rocAuc,
} from './metrics.js';

describe('classificationMetrics', () => {
  it('computes accuracy, macro precision/recall/F1, ROC AUC, loss and the confusion matrix (binary)', () => {
    const probabilities = new Float32Array([0.9, 0.1, 0.6, 0.4, 0.65, 0.35, 0.2, 0.8]);
    const { metrics, confusionMatrix } = classificationMetrics(
      probabilities,
      new Int32Array([0, 0, 1, 1]),
      2,
    );
    expect(confusionMatrix).toEqual([
      [2, 0],
      [1, 1],
    ]);
    expect(metrics.accuracy).toBeCloseTo(0.75, 6);
    expect(metrics.precision).toBeCloseTo((2 / 3 + 1) / 2, 6);
    expect(metrics.recall).toBeCloseTo((1 + 0.5) / 2, 6);
    expect(metrics.f1).toBeCloseTo((0.8 + 2 / 3) / 2, 6);
    // scikit-learn: roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    expect(metrics.rocAuc).toBeCloseTo(0.75, 6);
    expect(metrics.loss).toBeCloseTo(
      -(Math.log(0.9) + Math.log(0.6) + Math.log(0.35) + Math.log(0.8)) / 4,
      5,
    );
  });

  it('counts a class never predicted as precision 0, and has no ROC AUC beyond two classes', () => {
    const probabilities = new Float32Array([
      0.8, 0.1, 0.1, 0.5, 0.3, 0.2, 0.1, 0.1, 0.8, 0.2, 0.2, 0.6,
    ]);
    const { metrics, confusionMatrix } = classificationMetrics(
      probabilities,
      new Int32Array([0, 1, 2, 2]),
      3,
    );
    expect(confusionMatrix).toEqual([
      [1, 0, 0],
      [1, 0, 0],
      [0, 0, 2],
    ]);
    expect(metrics.precision).toBeCloseTo((0.5 + 0 + 1) / 3, 6);
    expect(metrics.recall).toBeCloseTo((1 + 0 + 1) / 3, 6);
    expect(metrics.f1).toBeCloseTo((2 / 3 + 0 + 1) / 3, 6);
    expect(metrics).not.toHaveProperty('rocAuc');
  });

  it.each([
    ['no rows', new Float32Array([]), new Int32Array([]), 'empty test split'],
    ['a short probability array', new Float32Array([1]), new Int32Array([0]), 'expected 2'],
    ['a label out of range', new Float32Array([0.5, 0.5]), new Int32Array([2]), 'label 2 of row 0'],
  ])('rejects %s', (_, probabilities, labels, message) => {
    expect(() => classificationMetrics(probabilities, labels, 2)).toThrow(message);
  });
});

describe('rocAuc', () => {
  it.each([
    ['perfect ranking', [0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1], 1],
    ['inverted ranking', [0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1], 0],
    ['ties count one half', [0.5, 0.5], [0, 1], 0.5],
    ['ties across classes', [0.2, 0.5, 0.5, 0.9], [0, 0, 1, 1], 0.875],
    // Rows scored as surely wrong (the evaluate mode's rejected rows), several of each sign.
    [
      'infinite scores',
      [-Infinity, -Infinity, 0.4, Infinity, Infinity, 0.3],
      [1, 1, 1, 0, 0, 0],
      1 / 9,
    ],
  ])('%s', (_, scores, labels, expected) => {
    expect(rocAuc(new Float64Array(scores), new Int32Array(labels))).toBeCloseTo(expected, 6);
  });

  it('is undefined with one class only', () => {
    expect(rocAuc(new Float64Array([0.1, 0.9]), new Int32Array([1, 1]))).toBeUndefined();
  });
});

describe('classificationMetricsOf', () => {
  it('counts a row without a prediction against its class’s recall, and no one’s precision', () => {
    const { metrics, confusionMatrix } = classificationMetricsOf(
      {
        labels: new Int32Array([0, 0, 1]),
        predicted: new Int32Array([0, -1, 1]),
        truthProbability: new Float64Array([0.9, 0, 0.6]),
      },
      2,
    );
    expect(confusionMatrix).toEqual([
      [1, 0],
      [0, 1],
    ]);
    expect(metrics.accuracy).toBeCloseTo(2 / 3, 12);
    expect(metrics.precision).toBeCloseTo(1, 12);
    expect(metrics.recall).toBeCloseTo((0.5 + 1) / 2, 12);
    expect(metrics.loss).toBeCloseTo((-Math.log(0.9) - Math.log(1e-7) - Math.log(0.6)) / 3, 6);
    // Without scores, no ROC AUC.
    expect(metrics).not.toHaveProperty('rocAuc');
  });
});

describe('regressionMetrics', () => {
  it('computes mse, rmse, mae, r2 and loss', () => {
    const metrics = regressionMetrics(new Float32Array([1, 2, 4]), new Float32Array([1, 2, 3]));
    expect(metrics.mse).toBeCloseTo(1 / 3, 6);
    expect(metrics.rmse).toBeCloseTo(Math.sqrt(1 / 3), 6);
    expect(metrics.mae).toBeCloseTo(1 / 3, 6);
    expect(metrics.r2).toBeCloseTo(0.5, 6);
    expect(metrics.loss).toBe(metrics.mse);
  });

  it('scores a constant target like scikit-learn', () => {
    expect(regressionMetrics(new Float32Array([2, 2]), new Float32Array([2, 2])).r2).toBe(1);
    expect(regressionMetrics(new Float32Array([1, 3]), new Float32Array([2, 2])).r2).toBe(0);
  });

  it('rejects mismatched lengths', () => {
    expect(() => regressionMetrics(new Float32Array([1]), new Float32Array([1, 2]))).toThrow(
      'expected 2 predictions, got 1',
    );
  });
});
