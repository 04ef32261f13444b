/**
 * One training run, end to end: choose the backend, read and check the dataset version, train,
 * evaluate the saved model on the test split, upload the artifact (manifest last) and return
 * the result the pod reports. Every failure becomes a `TrainResult` with a reason a user can
 * act on (`FailureReasonSchema`); nothing here exits the process (`main.ts` does).
 */
import type * as tfjs from '@tensorflow/tfjs';
import type { Logger } from 'pino';
import { DatasetStatsSchema } from '../../contract/dataset-stats.js';
import { ObjectStore, StorageUnavailableError } from '../../contract/object-store.js';
import { DatasetFile, ModelFile } from '../../contract/object-store-layout.js';
import type { FailureReason, ModelMetrics, TrainResult } from '../../contract/results.js';
import {
  BackendUnavailableError,
  intraOpThreadsFor,
  type LoadedTensorflow,
  loadTensorflow,
  type Tf,
  tensorValues,
} from '../tensorflow/backend.js';
import { metricsFile, serializeLayersModel, uploadArtifact } from './artifact.js';
import { DatasetError, type PreparedDataset, preparedDataset, type Split } from './dataset.js';
import {
  DatasetTamperedError,
  type DatasetVersion,
  openDatasetVersion,
} from './dataset-version.js';
import type { TrainSettings } from './env.js';
import { denseNetworkOf } from './layers-model.js';
import { classificationMetrics, regressionMetrics } from './metrics.js';
import {
  backgroundOf,
  fairnessOnTest,
  importanceOnTest,
  modelCardOf,
  sensitiveValuesOf,
} from './model-card.js';
import { isNativeBackend } from './native-ops.js';
import { largestMatMul } from './network.js';
import { RunReporter } from './run-files.js';
import { TrainingError, trainNetwork } from './train.js';

/** What the trainer needs of an object store (the `ObjectStore` fits; tests pass their own). */
export type TrainerStore = Pick<ObjectStore, 'read' | 'write'>;

/** Datasets are read whole into memory; refuse anything beyond this per file. */
const MAX_DATASET_FILE_BYTES = 2 * 1024 * 1024 * 1024 - 1;

/**
 * Reads schema.json, train.csv and test.csv of a dataset version, each checked against the
 * version's verified manifest (`dataset-version.ts`) before it is used.
 */
export async function readDatasetVersion(
  store: TrainerStore,
  datasetUri: string,
): Promise<{ schema: Buffer; train: Buffer; test: Buffer; version: DatasetVersion }> {
  const version = await openDatasetVersion(store, datasetUri);
  return {
    schema: await version.read(DatasetFile.schema, MAX_DATASET_FILE_BYTES),
    train: await version.read(DatasetFile.train, MAX_DATASET_FILE_BYTES),
    test: await version.read(DatasetFile.test, MAX_DATASET_FILE_BYTES),
    version,
  };
}

/** A file of the version the model card uses, when the version lists it (older ones may not). */
async function optionalFile(version: DatasetVersion, file: string): Promise<Buffer | undefined> {
  return version.lists(file) ? version.read(file, MAX_DATASET_FILE_BYTES) : undefined;
}

/**
 * The model card and the explanation background of a trained model (`model-card.ts`): the
 * importance of each input, the group metrics across the sensitive columns and the gate's
 * verdict, the data's statistics and the spec's intended use.
 */
async function modelCardFiles(
  tf: Tf,
  model: tfjs.LayersModel,
  dataset: PreparedDataset,
  files: { version: DatasetVersion },
  settings: TrainSettings,
  metrics: ModelMetrics,
  log: Logger,
): Promise<Record<string, Buffer>> {
  const width = dataset.schema.task === 'classification' ? dataset.classCount : 1;
  const predict = (rows: number[][]): number[][] => {
    const flat = tensorValues(tf, () => {
      const x = tf.tensor2d(rows, [rows.length, dataset.featureCount]);
      return model.predict(x, { batchSize: 8192 }) as tfjs.Tensor;
    });
    return rows.map((_, i) => Array.from(flat.subarray(i * width, (i + 1) * width)));
  };
  const importance = dataset.test.rows >= 2 ? importanceOnTest(dataset, predict) : undefined;
  const sensitiveColumns = dataset.schema.sensitiveColumns ?? [];
  let sensitive: Record<string, string>[] | undefined;
  if (sensitiveColumns.length > 0) {
    const raw = await optionalFile(files.version, DatasetFile.testRaw);
    if (raw) {
      const lines = raw
        .toString('utf8')
        .split('\n')
        .filter((line) => line !== '');
      sensitive = sensitiveValuesOf(sensitiveColumns, lines, dataset.test.rows);
    }
  }
  const outputs = predictionsOf(tf, model, dataset.test, dataset.featureCount);
  const fairness = fairnessOnTest(dataset, outputs, sensitive, settings.fairness);
  const statsBytes = await optionalFile(files.version, DatasetFile.stats);
  const stats = statsBytes
    ? DatasetStatsSchema.safeParse(JSON.parse(statsBytes.toString('utf8')))
    : undefined;
  const card = modelCardOf({
    dataset,
    datasetVersion: settings.datasetVersion,
    framework: metrics.framework,
    backend: metrics.backend ?? '',
    metrics: metrics.metrics,
    importance,
    fairness,
    statistics: stats?.success ? stats.data : undefined,
    intendedUse: settings.modelCard,
  });
  log.info(
    {
      importance: importance?.columns
        .slice(0, 5)
        .map((c) => `${c.column}=${c.mean.toPrecision(3)}`),
      fairness: fairness?.verdict?.message ?? fairness?.error,
    },
    'Computed the model card',
  );
  return {
    [ModelFile.card]: Buffer.from(`${JSON.stringify(card, null, 2)}\n`),
    [ModelFile.background]: Buffer.from(`${JSON.stringify(backgroundOf(dataset))}\n`),
  };
}

/** The saved model's outputs on `split`: probabilities (classes per row) or predictions. */
export function predictionsOf(tf: Tf, model: tfjs.LayersModel, split: Split, featureCount: number) {
  return tensorValues(tf, () => {
    const x = tf.tensor2d(split.features, [split.rows, featureCount]);
    return model.predict(x, { batchSize: 8192 }) as tfjs.Tensor;
  });
}

/** Test metrics of the trained model, as `metrics.json` has them. */
export function evaluateOnTest(
  tf: Tf,
  model: tfjs.LayersModel,
  dataset: PreparedDataset,
  datasetVersion: string,
  backend: string,
): ModelMetrics {
  const outputs = predictionsOf(tf, model, dataset.test, dataset.featureCount);
  const evaluatedOn = { datasetVersion, split: 'test' as const, rows: dataset.test.rows };
  const framework = `tensorflow.js ${tf.version_core}`;
  if (dataset.schema.task === 'classification') {
    const { metrics, confusionMatrix } = classificationMetrics(
      outputs,
      dataset.test.labels as Int32Array,
      dataset.classCount,
    );
    return {
      formatVersion: 1,
      task: 'classification',
      metrics,
      confusionMatrix,
      classes: dataset.schema.label.classes ?? [],
      evaluatedOn,
      framework,
      backend,
    };
  }
  return {
    formatVersion: 1,
    task: 'regression',
    metrics: regressionMetrics(outputs, dataset.test.labels as Float32Array),
    evaluatedOn,
    framework,
    backend,
  };
}

/** Options that tests and the benchmark change; the program uses the defaults. */
export interface RunOptions {
  store?: TrainerStore;
  loadBackend?: (settings: TrainSettings, intraOpThreads: number) => Promise<LoadedTensorflow>;
}

/** Runs one training; never throws: failures are results. */
export async function runTraining(
  settings: TrainSettings,
  log: Logger,
  options: RunOptions = {},
): Promise<TrainResult> {
  try {
    return await train(settings, log, options);
  } catch (error) {
    const failure = asFailure(error);
    const file = error instanceof DatasetTamperedError ? { file: error.file } : {};
    log.error({ reason: failure.reason, ...file, err: error }, 'TrainingJob failed');
    return { kind: 'train', outcome: 'failed', reason: failure.reason, message: failure.message };
  }
}

function asFailure(error: unknown): { reason: FailureReason; message: string } {
  const message = (error as Error)?.message ?? String(error);
  if (error instanceof DatasetTamperedError) return { reason: 'DatasetTampered', message };
  if (error instanceof DatasetError) return { reason: 'DatasetInvalid', message };
  if (error instanceof StorageUnavailableError) return { reason: 'StorageUnavailable', message };
  if (error instanceof TrainingError || error instanceof BackendUnavailableError) {
    return { reason: 'TrainingFailed', message };
  }
  return { reason: 'InternalError', message };
}

async function train(
  settings: TrainSettings,
  log: Logger,
  options: RunOptions,
): Promise<TrainResult> {
  const store: TrainerStore = options.store ?? new ObjectStore(settings.objectStore);
  const files = await readDatasetVersion(store, settings.datasetUri);
  const dataset = preparedDataset(
    {
      schema: files.schema.toString('utf8'),
      train: files.train.toString('utf8'),
      test: files.test.toString('utf8'),
    },
    settings.task,
  );
  log.info(
    {
      datasetVersion: settings.datasetVersion,
      trainRows: dataset.train.rows,
      testRows: dataset.test.rows,
      features: dataset.featureCount,
      classes: dataset.classCount || undefined,
    },
    'Loaded the dataset version',
  );

  const network = denseNetworkOf(
    settings.model,
    settings.task,
    dataset.featureCount,
    settings.task === 'classification' ? dataset.classCount : 1,
  );
  // The backend is loaded once the model's size is known: it decides TensorFlow's threads.
  const intraOpThreads = intraOpThreadsFor(
    largestMatMul(network, settings.hyperparameters.batchSize),
  );
  const loaded = await (options.loadBackend ?? defaultBackend)(settings, intraOpThreads);
  const { tf, backend } = loaded;
  log.info(
    {
      backend,
      skipped: loaded.skipped,
      requested: settings.backend,
      gpus: settings.gpus,
      intraOpThreads: process.env.TF_NUM_INTRAOP_THREADS ?? intraOpThreads,
    },
    `Chose the TensorFlow.js backend ${backend}`,
  );
  const reporter = new RunReporter(
    store,
    settings.runUri,
    settings.hyperparameters.epochs,
    backend,
  );
  reporter.schedule();
  const outcome = await trainNetwork({
    tf,
    native: isNativeBackend(tf),
    network,
    hyperparameters: settings.hyperparameters,
    train: dataset.train,
    onEpoch: (record) => {
      reporter.epoch(record);
      log.info({ ...record, totalEpochs: settings.hyperparameters.epochs }, 'Trained an epoch');
    },
  });
  log.info(
    {
      epochs: outcome.epochs,
      bestEpoch: outcome.bestEpoch,
      stoppedEarly: outcome.stoppedEarly,
      samplesPerSecond: Math.round(outcome.samplesPerSecond),
      trainRows: outcome.trainRows,
      validationRows: outcome.validationRows,
    },
    'Trained the model',
  );

  const metrics = evaluateOnTest(tf, outcome.model, dataset, settings.datasetVersion, backend);
  log.info({ metrics: metrics.metrics }, 'Evaluated the model on the test split');

  const card = await modelCardFiles(tf, outcome.model, dataset, files, settings, metrics, log);
  const { modelJson, weights } = await serializeLayersModel(tf, outcome.model);
  const digest = await uploadArtifact(store, settings.outputUri, {
    [ModelFile.model]: modelJson,
    [ModelFile.weights]: weights,
    [ModelFile.schema]: files.schema,
    [ModelFile.metrics]: metricsFile(metrics),
    ...card,
  });
  await reporter.flush();
  log.info({ uri: settings.outputUri, digest }, 'Saved the model artifact');
  return {
    kind: 'train',
    outcome: 'succeeded',
    artifact: { uri: settings.outputUri, digest, format: 'tfjs' },
    metrics: metrics.metrics,
    backend,
    epochs: outcome.epochs,
  };
}

function defaultBackend(
  settings: TrainSettings,
  intraOpThreads: number,
): Promise<LoadedTensorflow> {
  return loadTensorflow({ choice: settings.backend, gpus: settings.gpus, intraOpThreads });
}
