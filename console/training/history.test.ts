import { describe, expect, it } from 'vitest';
import type { EpochRecord, TrainingHistory } from '../../contract/results.js';
import { epochMetricNames, epochSummaries, trainingCurves } from './history.js';

const epoch = (n: number, loss: number, valLoss?: number, accuracy?: number): EpochRecord => ({
  epoch: n,
  loss,
  ...(valLoss !== undefined ? { valLoss } : {}),
  metrics: accuracy !== undefined ? { accuracy } : {},
});

describe('epochSummaries', () => {
  it.each([
    {
      case: 'validation loss decides the best epoch',
      epochs: [epoch(1, 0.9, 1.0), epoch(2, 0.5, 0.6), epoch(3, 0.3, 0.7)],
      best: 2,
      bestBy: 'valLoss',
      final: 3,
    },
    {
      case: 'training loss without a validation split',
      epochs: [epoch(1, 0.9), epoch(2, 0.5), epoch(3, 0.6)],
      best: 2,
      bestBy: 'loss',
      final: 3,
    },
    {
      case: 'records out of order',
      epochs: [epoch(3, 0.3), epoch(1, 0.9), epoch(2, 0.2)],
      best: 2,
      bestBy: 'loss',
      final: 3,
    },
    {
      case: 'a tie keeps the earlier epoch',
      epochs: [epoch(1, 0.5), epoch(2, 0.5)],
      best: 1,
      bestBy: 'loss',
      final: 2,
    },
  ])('$case', ({ epochs, best, bestBy, final }) => {
    const summary = epochSummaries({ epochs })!;
    expect(summary.best.epoch).toBe(best);
    expect(summary.bestBy).toBe(bestBy);
    expect(summary.final.epoch).toBe(final);
    expect(summary.epochs).toBe(epochs.length);
  });

  it('is undefined before the first epoch', () => {
    expect(epochSummaries({ epochs: [] })).toBeUndefined();
  });
});

describe('trainingCurves', () => {
  it('charts loss and val_loss together, each other metric as its own series', () => {
    const history: TrainingHistory = {
      epochs: [
        { epoch: 1, loss: 1, valLoss: 1.1, metrics: { accuracy: 0.5, val_accuracy: 0.4 } },
        { epoch: 2, loss: 0.5, metrics: { accuracy: 0.7 } },
      ],
    };
    const curves = trainingCurves(history);
    expect(curves.loss.map((s) => s.name)).toEqual(['loss', 'val_loss']);
    expect(curves.loss[1]!.points[1]!.y).toBeNaN();
    expect(curves.metrics.map((s) => s.name)).toEqual(['accuracy', 'val_accuracy']);
    expect(curves.metrics[0]!.points).toEqual([
      { x: 1, y: 0.5 },
      { x: 2, y: 0.7 },
    ]);
    expect(epochMetricNames(history)).toEqual(['accuracy', 'val_accuracy']);
  });

  it('has no val_loss series when no epoch was validated', () => {
    expect(trainingCurves({ epochs: [epoch(1, 1)] }).loss.map((s) => s.name)).toEqual(['loss']);
  });
});
