/**
 * The training loop: seeded shuffling, mini-batches, a validation split held out of the train
 * split, per-epoch history, early stopping with the best epoch's weights restored, and a NaN
 * guard. The test split never enters here: it is evaluated afterwards on the saved model.
 */
import type * as tfjs from '@tensorflow/tfjs';
import type { EpochRecord } from '../../contract/results.js';
import { seededRandom } from '../../contract/seeded-random.js';
import type { Tf } from '../tensorflow/backend.js';
import type { Split } from './dataset.js';
import type { TrainHyperparameters } from './env.js';
import {
  buildLayersModel,
  foldTargetScaling,
  type TargetScaling,
  targetScalingOf,
} from './layers-model.js';
import { NativeOps, NativeParameters } from './native-ops.js';
import {
  type BatchTargets,
  type DenseNetwork,
  forward,
  lossOf,
  type ParameterStore,
  type Tensor,
  type TensorOps,
  trainStep,
} from './network.js';
import { PortableOps, PortableParameters } from './portable-ops.js';

/** A training run that cannot go on: the program reports `TrainingFailed` with the message. */
export class TrainingError extends Error {
  override name = 'TrainingError';
}

export interface TrainingInput {
  tf: Tf;
  /** Whether `tf` runs on tfjs-node: use TensorFlow's fused kernels. */
  native: boolean;
  network: DenseNetwork;
  hyperparameters: TrainHyperparameters;
  train: Split;
  /** Called after every epoch with its record (the caller uploads progress). */
  onEpoch?: (record: EpochRecord) => void;
}

export interface TrainingOutcome {
  /** The trained model, weights set, outputs in the artifact's convention. */
  model: tfjs.Sequential;
  history: EpochRecord[];
  /** Epochs run (fewer than asked when early stopping stopped the run). */
  epochs: number;
  /** The epoch whose weights the model has (the last, unless early stopping restored one). */
  bestEpoch: number;
  stoppedEarly: boolean;
  /** Training throughput: rows of the train split processed per second, validation excluded. */
  samplesPerSecond: number;
  /** Seconds each epoch's training took (validation excluded); the first includes warm-up. */
  epochSeconds: number[];
  trainRows: number;
  validationRows: number;
}

/** The seeded generator the trainer shuffles with (the same as every Lathe program's). */
export { seededRandom };

/** A uniformly random permutation of 0..n-1 (Fisher-Yates). */
export function permutation(n: number, random: () => number): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

/** Which way a monitored metric improves: accuracy up, losses down (Keras' `auto` mode). */
export function improves(monitor: string): 'up' | 'down' {
  return /acc/.test(monitor) ? 'up' : 'down';
}

/** The metrics an epoch record has, by the names `earlyStopping.monitor` uses. */
export function monitoredValue(record: EpochRecord, monitor: string): number | undefined {
  if (monitor === 'loss') return record.loss;
  if (monitor === 'val_loss') return record.valLoss;
  return record.metrics[monitor];
}

/** The names `earlyStopping.monitor` may take for this task, with or without validation. */
export function monitorableMetrics(
  task: 'classification' | 'regression',
  validation: boolean,
): string[] {
  const names = task === 'classification' ? ['loss', 'accuracy'] : ['loss'];
  return validation ? [...names, ...names.map((n) => `val_${n}`)] : names;
}

interface Rows {
  x: Tensor;
  targets: BatchTargets;
  count: number;
}

/** The rows `order` selects from `split`, as tensors (labels standardised for regression). */
function rowsOf(
  tf: Tf,
  split: Split,
  order: Int32Array,
  featureCount: number,
  network: DenseNetwork,
  scaling: TargetScaling | undefined,
  withOneHot: boolean,
): Rows {
  const count = order.length;
  const features = new Float32Array(count * featureCount);
  for (let r = 0; r < count; r++) {
    const from = order[r]! * featureCount;
    features.set(split.features.subarray(from, from + featureCount), r * featureCount);
  }
  const x = tf.tensor2d(features, [count, featureCount]);
  if (network.task === 'classification') {
    const labels = new Int32Array(count);
    for (let r = 0; r < count; r++) labels[r] = split.labels[order[r]!]!;
    const labelTensor = tf.tensor1d(labels, 'int32');
    const classes = network.units.at(-1)!;
    return {
      x,
      targets: {
        labels: labelTensor,
        ...(withOneHot ? { oneHot: tf.oneHot(labelTensor as tfjs.Tensor1D, classes) } : {}),
      },
      count,
    };
  }
  const values = new Float32Array(count);
  for (let r = 0; r < count; r++) {
    values[r] = (split.labels[order[r]!]! - scaling!.mean) / scaling!.std;
  }
  return { x, targets: { labels: tf.tensor2d(values, [count, 1]) }, count };
}

function disposeRows(tf: Tf, rows: Rows): void {
  tf.dispose([rows.x, rows.targets.labels, ...(rows.targets.oneHot ? [rows.targets.oneHot] : [])]);
}

/** Loss sum and correct count of `rows` under the current weights, in chunks. */
function evaluateRows(
  tf: Tf,
  network: DenseNetwork,
  ops: TensorOps,
  parameters: ParameterStore,
  rows: Rows,
): { lossSum: number; correct: number } {
  const chunk = 16384;
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < rows.count; start += chunk) {
    const size = Math.min(chunk, rows.count - start);
    const [l, c] = tf.tidy(() => {
      const weights = parameters.read();
      const slice = (t: Tensor) => (size === rows.count ? t : tf.slice(t, start, size));
      const targets: BatchTargets = {
        labels: slice(rows.targets.labels),
        ...(rows.targets.oneHot ? { oneHot: slice(rows.targets.oneHot) } : {}),
      };
      const loss = lossOf(network, ops, forward(network, ops, weights, slice(rows.x)), targets);
      return [loss.lossSum.dataSync()[0]!, loss.correct?.dataSync()[0] ?? 0];
    });
    lossSum += l;
    correct += c;
  }
  return { lossSum, correct };
}

/** Trains `network` on `train`; see the module header. Throws `TrainingError`. */
export async function trainNetwork(input: TrainingInput): Promise<TrainingOutcome> {
  const { tf, network, hyperparameters: hp, train } = input;
  const featureCount = network.inputs;
  const random = seededRandom(hp.seed);
  const order = permutation(train.rows, random);
  const validationRows = Math.floor(train.rows * hp.validationSplit);
  const trainRows = train.rows - validationRows;
  if (trainRows < 1) {
    throw new TrainingError(
      `validationSplit ${hp.validationSplit} leaves no rows to train on (train.csv has ${train.rows})`,
    );
  }
  const monitor = hp.earlyStopping?.monitor;
  const monitorable = monitorableMetrics(network.task, validationRows > 0);
  if (monitor !== undefined && !monitorable.includes(monitor)) {
    throw new TrainingError(
      `earlyStopping.monitor ${monitor} is not computed by this run: choose one of ${monitorable.join(', ')}${validationRows === 0 ? ' (val_* metrics need validationSplit > 0)' : ''}`,
    );
  }

  const scaling =
    network.task === 'regression'
      ? targetScalingOf(train.labels.subarray(0, train.rows) as Float32Array)
      : undefined;
  const ops: TensorOps = input.native ? new NativeOps(tf) : new PortableOps(tf);
  const model = buildLayersModel(tf, network, hp.seed);
  const initial = model.getWeights();
  const parameters: ParameterStore = input.native
    ? new NativeParameters(tf, initial, hp.optimizer, hp.learningRate)
    : new PortableParameters(tf, initial, hp.optimizer, hp.learningRate);

  const trainOrder = order.subarray(0, trainRows);
  const all = rowsOf(tf, train, trainOrder, featureCount, network, scaling, !input.native);
  const validation =
    validationRows > 0
      ? rowsOf(tf, train, order.subarray(trainRows), featureCount, network, scaling, !input.native)
      : undefined;
  // Losses are reported in the label's units: the standardised MSE times the variance.
  const lossScale = scaling ? scaling.std ** 2 : 1;

  const history: EpochRecord[] = [];
  let best: { value: number; epoch: number; weights: Tensor[] } | undefined;
  let wait = 0;
  let stoppedEarly = false;
  const epochSeconds: number[] = [];
  let step = 0;
  let trained = false;
  try {
    for (let epoch = 1; epoch <= hp.epochs; epoch++) {
      const started = performance.now();
      const shuffled = tf.tensor1d(permutation(trainRows, random), 'int32');
      const sizes: number[] = [];
      for (let at = 0; at < trainRows; at += hp.batchSize)
        sizes.push(Math.min(hp.batchSize, trainRows - at));
      const batchesOf = (t: Tensor) =>
        sizes.length === 1 ? [tf.gather(t, shuffled)] : tf.split(tf.gather(t, shuffled), sizes);
      const [xs, labels, oneHots] = tf.tidy(() => [
        batchesOf(all.x),
        batchesOf(all.targets.labels),
        all.targets.oneHot ? batchesOf(all.targets.oneHot) : [],
      ]);
      const sums: Tensor[] = [];
      const hits: Tensor[] = [];
      for (let b = 0; b < sizes.length; b++) {
        const result = tf.tidy(() => {
          const targets: BatchTargets = {
            labels: labels[b]!,
            ...(oneHots[b] ? { oneHot: oneHots[b] } : {}),
          };
          const r = trainStep(network, ops, parameters, xs[b]!, targets, hp.seed, step++);
          return r.correct ? [r.lossSum, r.correct] : [r.lossSum];
        });
        sums.push(result[0]!);
        if (result[1]) hits.push(result[1]);
      }
      const loss = (tf.tidy(() => tf.addN(sums).dataSync()[0]!) / trainRows) * lossScale;
      const accuracy =
        hits.length > 0 ? tf.tidy(() => tf.addN(hits).dataSync()[0]!) / trainRows : undefined;
      tf.dispose([shuffled, xs, labels, oneHots, sums, hits]);
      epochSeconds.push((performance.now() - started) / 1000);

      if (!Number.isFinite(loss)) {
        throw new TrainingError(
          `training diverged: the loss is ${loss} at epoch ${epoch}; lower learningRate (now ${hp.learningRate}) or check the data`,
        );
      }
      const record: EpochRecord = { epoch, loss, metrics: {} };
      if (accuracy !== undefined) record.metrics.accuracy = accuracy;
      if (validation) {
        const v = evaluateRows(tf, network, ops, parameters, validation);
        record.valLoss = (v.lossSum / validation.count) * lossScale;
        if (network.task === 'classification') {
          record.metrics.val_accuracy = v.correct / validation.count;
        }
      }
      history.push(record);
      input.onEpoch?.(record);
      // Training is synchronous: let uploads of progress and history go out between epochs.
      await new Promise((resolve) => setImmediate(resolve));

      if (monitor !== undefined && hp.earlyStopping) {
        const value = monitoredValue(record, monitor)!;
        const { minDelta, patience } = hp.earlyStopping;
        const better =
          best === undefined ||
          (improves(monitor) === 'up'
            ? value > best.value + minDelta
            : value < best.value - minDelta);
        if (better) {
          if (best) tf.dispose(best.weights);
          best = { value, epoch, weights: tf.tidy(() => parameters.read()) };
          wait = 0;
        } else if (++wait >= patience) {
          stoppedEarly = true;
          break;
        }
      }
    }

    let bestEpoch = history.length;
    if (best && best.epoch !== history.length) {
      parameters.assign(best.weights);
      bestEpoch = best.epoch;
    }
    const final = tf.tidy(() => parameters.read());
    const saved = scaling ? foldTargetScaling(tf, final, scaling) : final;
    // setWeights keeps its own reference to each value; `initial` are the model's variables.
    model.setWeights(saved);
    tf.dispose([final, saved]);
    trained = true;
    return {
      model,
      history,
      epochs: history.length,
      bestEpoch,
      stoppedEarly,
      samplesPerSecond:
        (trainRows * history.length) /
        Math.max(
          epochSeconds.reduce((a, b) => a + b, 0),
          1e-9,
        ),
      epochSeconds,
      trainRows,
      validationRows,
    };
  } finally {
    if (!trained) model.dispose();
    if (best) tf.dispose(best.weights);
    disposeRows(tf, all);
    if (validation) disposeRows(tf, validation);
    parameters.dispose();
  }
}
