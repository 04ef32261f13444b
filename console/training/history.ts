/**
 * A training run's `history.json` (`TrainingHistory`, `contract/results.ts`: one record per
 * epoch, rewritten by the trainer after every epoch) turned into what the pages show: the curves
 * per epoch, and the final and best epochs. Pure.
 *
 * The best epoch is the one with the lowest validation loss, or the lowest training loss when
 * the run kept no validation split — Keras' `ModelCheckpoint(monitor='val_loss')` default, and
 * what the trainer's early stopping restores when it monitors `val_loss`.
 */
import type { EpochRecord, TrainingHistory } from '../../contract/results.js';
import type { ChartSeries } from '../svg-chart.js';

export interface TrainingEpochSummaries {
  /** Epochs recorded. */
  epochs: number;
  final: EpochRecord;
  best: EpochRecord;
  /** What `best` is the lowest of. */
  bestBy: 'valLoss' | 'loss';
}

/** The final and best epochs of `history`; undefined while it has none. */
export function epochSummaries(history: TrainingHistory): TrainingEpochSummaries | undefined {
  const epochs = [...history.epochs].sort((a, b) => a.epoch - b.epoch);
  const final = epochs.at(-1);
  if (!final) return undefined;
  const withValidation = epochs.filter(
    (e) => e.valLoss !== undefined && Number.isFinite(e.valLoss),
  );
  const bestBy = withValidation.length > 0 ? 'valLoss' : 'loss';
  const candidates = withValidation.length > 0 ? withValidation : epochs;
  let best = candidates[0]!;
  for (const e of candidates) if (e[bestBy]! < best[bestBy]!) best = e;
  return { epochs: epochs.length, final, best, bestBy };
}

/** The names of the metrics some epoch records besides the losses, sorted (`accuracy`, `val_accuracy`). */
export function epochMetricNames(history: TrainingHistory): string[] {
  return [...new Set(history.epochs.flatMap((e) => Object.keys(e.metrics)))].sort();
}

/** The curves of `history`: the losses in one chart, the other metrics in another. */
export function trainingCurves(history: TrainingHistory): {
  loss: ChartSeries[];
  metrics: ChartSeries[];
} {
  const epochs = [...history.epochs].sort((a, b) => a.epoch - b.epoch);
  const loss: ChartSeries[] = [
    { name: 'loss', points: epochs.map((e) => ({ x: e.epoch, y: e.loss })) },
  ];
  if (epochs.some((e) => e.valLoss !== undefined)) {
    loss.push({
      name: 'val_loss',
      points: epochs.map((e) => ({ x: e.epoch, y: e.valLoss ?? Number.NaN })),
    });
  }
  const metrics = epochMetricNames(history).map((name) => ({
    name,
    points: epochs.map((e) => ({ x: e.epoch, y: e.metrics[name] ?? Number.NaN })),
  }));
  return { loss, metrics };
}
