/**
 * The training page's view of one TrainingJob: its status as `kubectl get` shows it (phase,
 * progress, the ModelVersion it made) and its curves per epoch from the run's `history.json`.
 * Pure: the object and the history read in, the view out.
 *
 * A run is live until its phase is Succeeded or Failed: the page then refreshes itself (a
 * `<meta http-equiv="refresh">`, so it needs no script), the way TensorBoard and the MLflow run
 * page poll a running run's metrics.
 */
import type { EpochRecord } from '../../contract/results.js';
import type { TrainingJobObject } from '../../operator/src/controllers/lathe-kinds.js';
import type { ChartSeries } from '../svg-chart.js';
import {
  epochMetricNames,
  epochSummaries,
  type TrainingEpochSummaries,
  trainingCurves,
} from './history.js';
import type { HistoryRead } from './history-reader.js';

/** How often a live run's page reloads. */
export const LIVE_REFRESH_SECONDS = 5;
/** The most epochs listed in the table (the charts draw every one). */
export const MAX_EPOCH_ROWS = 1_000;

export interface TrainingView {
  namespace: string;
  name: string;
  model: string;
  dataset: string;
  phase: string | undefined;
  /** Reload every this many seconds; undefined once the run has finished. */
  refreshSeconds: number | undefined;
  status: TrainingJobObject['status'];
  /** Where the epochs come from, or why there are none. */
  history:
    | { state: 'found'; readAt: string }
    | { state: 'missing' | 'no-store' }
    | { state: 'unreadable'; message: string };
  /** Every epoch recorded, in order; the table shows the last `MAX_EPOCH_ROWS`. */
  epochs: EpochRecord[];
  metricNames: string[];
  summaries: TrainingEpochSummaries | undefined;
  curves: { loss: ChartSeries[]; metrics: ChartSeries[] };
}

/** Whether the run has ended (nothing more will be written to its history). */
export function isFinished(tj: TrainingJobObject): boolean {
  return tj.status?.phase === 'Succeeded' || tj.status?.phase === 'Failed';
}

/** The view of `tj` with its history (`undefined`: the console has no object store). */
export function trainingView(tj: TrainingJobObject, read: HistoryRead | undefined): TrainingView {
  const history = read?.state === 'found' ? read.history : { epochs: [] };
  const epochs = [...history.epochs].sort((a, b) => a.epoch - b.epoch);
  return {
    namespace: tj.metadata.namespace ?? '',
    name: tj.metadata.name ?? '',
    model: tj.spec.modelName,
    dataset: tj.spec.datasetRef.name,
    phase: tj.status?.phase,
    refreshSeconds: isFinished(tj) ? undefined : LIVE_REFRESH_SECONDS,
    status: tj.status,
    history:
      read === undefined
        ? { state: 'no-store' }
        : read.state === 'found'
          ? { state: 'found', readAt: new Date(read.readAtMs).toISOString() }
          : read.state === 'missing'
            ? { state: 'missing' }
            : { state: 'unreadable', message: read.message },
    epochs,
    metricNames: epochMetricNames({ epochs }),
    summaries: epochSummaries({ epochs }),
    curves: trainingCurves({ epochs }),
  };
}
