/**
 * One training run of `npm run bench:train` in a fresh process: a forced TensorFlow.js backend
 * trains the benchmark model on a prepared dataset version in a directory, then prints JSON
 * (per-epoch seconds, test accuracy) on stdout. Exits 3 when the backend is not present.
 *
 *   tsx bench/train-worker.ts BACKEND DATA_DIR BATCH_SIZE EPOCHS SEED
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BackendChoiceSchema } from '../contract/runtime-env.js';
import {
  BackendUnavailableError,
  intraOpThreadsFor,
  loadTensorflow,
} from '../runtime-images/tensorflow/backend.js';
import { preparedDataset } from '../runtime-images/trainer/dataset.js';
import { denseNetworkOf } from '../runtime-images/trainer/layers-model.js';
import { classificationMetrics } from '../runtime-images/trainer/metrics.js';
import { isNativeBackend } from '../runtime-images/trainer/native-ops.js';
import { largestMatMul } from '../runtime-images/trainer/network.js';
import { trainNetwork } from '../runtime-images/trainer/train.js';
import { predictionsOf } from '../runtime-images/trainer/trainer.js';

const [backendArg, dir, batchArg, epochsArg, seedArg] = process.argv.slice(2);
const choice = BackendChoiceSchema.parse(backendArg);
const read = (file: string) => readFileSync(path.join(dir!, file), 'utf8');

const dataset = preparedDataset(
  { schema: read('schema.json'), train: read('train.csv'), test: read('test.csv') },
  'classification',
);
const network = denseNetworkOf(
  { architecture: 'mlp', layers: [64, 32], activation: 'relu', dropout: 0 },
  'classification',
  dataset.featureCount,
  dataset.classCount,
);
// TensorFlow's threads as the trainer chooses them.
const intraOpThreads = intraOpThreadsFor(largestMatMul(network, Number(batchArg)));
let loaded: Awaited<ReturnType<typeof loadTensorflow>>;
try {
  loaded = await loadTensorflow({
    choice,
    gpus: choice === 'tensorflow-gpu' ? 1 : 0,
    intraOpThreads,
  });
} catch (error) {
  if (error instanceof BackendUnavailableError) {
    console.log(JSON.stringify({ absent: error.message }));
    process.exit(3);
  }
  throw error;
}
const { tf, backend } = loaded;
const outcome = await trainNetwork({
  tf,
  native: isNativeBackend(tf),
  network,
  hyperparameters: {
    epochs: Number(epochsArg),
    batchSize: Number(batchArg),
    learningRate: 0.001,
    optimizer: 'adam',
    validationSplit: 0,
    seed: Number(seedArg),
  },
  train: dataset.train,
});
const probabilities = predictionsOf(tf, outcome.model, dataset.test, dataset.featureCount);
const { metrics } = classificationMetrics(
  probabilities,
  dataset.test.labels as Int32Array,
  dataset.classCount,
);
console.log(
  JSON.stringify({
    backend,
    epochSeconds: outcome.epochSeconds,
    trainRows: outcome.trainRows,
    accuracy: metrics.accuracy,
  }),
);
process.exit(0);
