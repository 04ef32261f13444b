import { beforeAll, describe, expect, it } from 'vitest';
import { loadTensorflow, type Tf } from '../tensorflow/backend.js';
import { type PreparedDataset, preparedDataset } from './dataset.js';
import type { TrainHyperparameters } from './env.js';
import { denseNetworkOf } from './layers-model.js';
import { classificationMetrics, regressionMetrics } from './metrics.js';
import { isNativeBackend } from './native-ops.js';
import {
  type NumericTable,
  preparedVersionOf,
  syntheticClassification,
  syntheticRegression,
} from './prepared-fixture.js';
import { permutation, seededRandom, trainNetwork } from './train.js';
import { predictionsOf } from './trainer.js';

function datasetOf(table: NumericTable): PreparedDataset {
  const { files } = preparedVersionOf(table);
  return preparedDataset(
    {
      schema: files['schema.json']!.toString(),
      train: files['train.csv']!.toString(),
      test: files['test.csv']!.toString(),
    },
    table.task,
  );
}

const classification = datasetOf(syntheticClassification(1000, 6, 3));
const regression = datasetOf(syntheticRegression(500, 4));

const hp = (overrides: Partial<TrainHyperparameters> = {}): TrainHyperparameters => ({
  epochs: 20,
  batchSize: 32,
  learningRate: 0.01,
  optimizer: 'adam',
  validationSplit: 0.1,
  seed: 3,
  ...overrides,
});

async function trainOn(
  tf: Tf,
  dataset: PreparedDataset,
  hyperparameters: TrainHyperparameters,
  layers?: number[],
) {
  const network = denseNetworkOf(
    layers
      ? { architecture: 'mlp', layers, activation: 'relu', dropout: 0.1 }
      : { architecture: 'linear', activation: 'relu', dropout: 0 },
    dataset.schema.task,
    dataset.featureCount,
    dataset.schema.task === 'classification' ? dataset.classCount : 1,
  );
  const outcome = await trainNetwork({
    tf,
    native: isNativeBackend(tf),
    network,
    hyperparameters,
    train: dataset.train,
  });
  const outputs = predictionsOf(tf, outcome.model, dataset.test, dataset.featureCount);
  const metrics =
    dataset.schema.task === 'classification'
      ? classificationMetrics(outputs, dataset.test.labels as Int32Array, dataset.classCount)
          .metrics
      : regressionMetrics(outputs, dataset.test.labels as Float32Array);
  outcome.model.dispose();
  return { outcome, metrics, outputs };
}

describe.each(['tensorflow', 'cpu'] as const)('training on the %s backend', (backend) => {
  let tf: Tf;
  beforeAll(async () => {
    ({ tf } = await loadTensorflow({ choice: backend, gpus: 0 }));
  });

  it('learns a classification task and generalises to the held-out test split', async () => {
    const { outcome, metrics } = await trainOn(tf, classification, hp(), [16]);
    expect(tf.getBackend()).toBe(backend);
    expect(outcome.epochs).toBe(20);
    expect(outcome.trainRows + outcome.validationRows).toBe(classification.train.rows);
    expect(outcome.validationRows).toBe(Math.floor(classification.train.rows * 0.1));
    expect(outcome.history[0]!.loss).toBeGreaterThan(outcome.history.at(-1)!.loss);
    expect(outcome.history.at(-1)!.metrics).toHaveProperty('val_accuracy');
    expect(metrics.accuracy).toBeGreaterThan(0.85);
  });

  it('predicts a regression label in its own units', async () => {
    const { metrics, outputs } = await trainOn(tf, regression, hp({ epochs: 40 }));
    expect(metrics.r2).toBeGreaterThan(0.98);
    const mean = outputs.reduce((s, v) => s + v, 0) / outputs.length;
    expect(mean).toBeGreaterThan(45_000);
    expect(mean).toBeLessThan(55_000);
  });

  it('stops early and keeps the best epoch', async () => {
    const { outcome } = await trainOn(
      tf,
      classification,
      hp({ earlyStopping: { monitor: 'val_loss', patience: 2, minDelta: 1e9 } }),
    );
    expect(outcome).toMatchObject({ epochs: 3, bestEpoch: 1, stoppedEarly: true });
  });

  it('reports a diverging run', async () => {
    await expect(
      trainOn(tf, regression, hp({ optimizer: 'sgd', learningRate: 10, epochs: 30 })),
    ).rejects.toThrow(
      /training diverged: the loss is (NaN|Infinity) at epoch \d+; lower learningRate/,
    );
  });
});

describe('training settings that cannot work', () => {
  let tf: Tf;
  beforeAll(async () => {
    ({ tf } = await loadTensorflow({ choice: 'cpu', gpus: 0 }));
  });

  it.each([
    [
      { validationSplit: 0, earlyStopping: { monitor: 'val_loss', patience: 1, minDelta: 0 } },
      classification,
      'val_* metrics need validationSplit > 0',
    ],
    [
      { earlyStopping: { monitor: 'val_accuracy', patience: 1, minDelta: 0 } },
      regression,
      'earlyStopping.monitor val_accuracy is not computed by this run: choose one of loss, val_loss',
    ],
  ] as const)('%o', async (overrides, dataset, message) => {
    await expect(trainOn(tf, dataset, hp(overrides))).rejects.toThrow(message);
  });

  it('trains the same model twice from the same seed', async () => {
    const a = await trainOn(tf, classification, hp({ epochs: 2 }), [8]);
    const b = await trainOn(tf, classification, hp({ epochs: 2 }), [8]);
    expect(b.outcome.history).toEqual(a.outcome.history);
  });
});

describe('seeded shuffling', () => {
  it('is a permutation, the same for the same seed', () => {
    const a = permutation(100, seededRandom(5));
    expect([...a].sort((x, y) => x - y)).toEqual([...Array(100).keys()]);
    expect(permutation(100, seededRandom(5))).toEqual(a);
    expect(permutation(100, seededRandom(6))).not.toEqual(a);
  });
});
