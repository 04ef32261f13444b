/**
 * The trainer image's `evaluate` mode: scores an existing model artifact (a RetrainPolicy's
 * champion) on another dataset version's test split (the challenger's), preparing that split's
 * raw rows with the model's own fitted preparation, so champion and challenger are compared on
 * the same rows (operator/src/controllers/retrainpolicy/promotion.ts).
 *
 * 1. The artifact is verified against the digest the operator recorded, and its files checked
 *    against the verified manifest as they are read (`readLayersArtifact`, shared with the
 *    inference server). Only TensorFlow.js layers models: a scikit-learn artifact fails with a
 *    message naming the format.
 * 2. The dataset version's `manifest.json` is verified against the version's name, its
 *    `schema.json` (read for how it hashed its PII columns, `piiHashFor`) is checked against the manifest, and
 *    `test.raw.jsonl` is streamed through the model's preparation (`RawTestSplit`) while its
 *    sha256 is computed; it is checked against the manifest before any figure is computed
 *    (`dataset-version.ts`; a mismatch is `DatasetTampered`, naming the file).
 * 3. TensorFlow.js is loaded on the fastest backend (native first, as for training: the split is
 *    predicted in batches of thousands of rows), the model is built from memory and run on the
 *    accepted rows.
 * 4. The metrics, with the trainer's keys and code, are the result (`EvaluateResult`).
 *
 * Every failure becomes a result with a reason (`FailureReasonSchema`); nothing here exits the
 * process (`main.ts` does).
 */
import { StringDecoder } from 'node:string_decoder';
import type * as tfjs from '@tensorflow/tfjs';
import type { Logger } from 'pino';
import { type FairnessSummary, fairnessSummaryOf } from '../../contract/fairness/summary.js';
import { ObjectStore, StorageUnavailableError } from '../../contract/object-store.js';
import { DatasetFile } from '../../contract/object-store-layout.js';
import { PiiKeyMissingError, piiKeyFromEnv } from '../../contract/pii-hash.js';
import { type PreparedSchema, PreparedSchemaSchema } from '../../contract/prepared-data.js';
import type { EvaluateResult, FailureReason } from '../../contract/results.js';
import type { TrainingFairness } from '../../operator/src/api/fairness.js';
import {
  intraOpThreadsFor,
  type LoadedTensorflow,
  loadTensorflow,
  type Tf,
  tensorValues,
} from '../tensorflow/backend.js';
import {
  ArtifactError,
  buildLayersModel,
  type LayersArtifact,
  largestKernel,
  outputWidthOf,
  readLayersArtifact,
} from '../tensorflow/layers-artifact.js';
import { DatasetError } from './dataset.js';
import {
  DatasetTamperedError,
  type DatasetVersion,
  openDatasetVersion,
} from './dataset-version.js';
import type { EvaluateSettings } from './env.js';
import { groupReport } from './model-card.js';
import { piiHashFor, RawTestSplit } from './raw-test-split.js';

/** What the evaluation needs of an object store (the `ObjectStore` fits; tests pass their own). */
export type EvaluationStore = Pick<ObjectStore, 'read' | 'digestOf' | 'openRead'>;

/** Rows per forward pass: large enough to amortise dispatches, small enough for any pod. */
const PREDICT_BATCH_ROWS = 8192;

/** A failure with the reason the result reports. */
class EvaluationFailure extends Error {
  constructor(
    readonly reason: FailureReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface EvaluationOptions {
  store?: EvaluationStore;
  /** The namespace's PII key (default: `LATHE_PII_KEY` of the environment, when set). */
  piiKey?: Buffer | undefined;
  loadBackend?: (settings: EvaluateSettings, intraOpThreads: number) => Promise<LoadedTensorflow>;
}

/** Runs one evaluation; never throws: failures are results. */
export async function runEvaluation(
  settings: EvaluateSettings,
  log: Logger,
  options: EvaluationOptions = {},
): Promise<EvaluateResult> {
  try {
    return await evaluate(settings, log, options);
  } catch (error) {
    const failure = asFailure(error);
    const file = error instanceof DatasetTamperedError ? { file: error.file } : {};
    log.error({ reason: failure.reason, ...file, err: error }, 'Evaluation failed');
    return {
      kind: 'evaluate',
      outcome: 'failed',
      reason: failure.reason,
      message: failure.message,
    };
  }
}

function asFailure(error: unknown): { reason: FailureReason; message: string } {
  const message = (error as Error)?.message ?? String(error);
  if (error instanceof EvaluationFailure) return { reason: error.reason, message };
  if (error instanceof ArtifactError) {
    // Another framework's artifact is not a broken one: this image cannot run it.
    if (error.reason === 'UnsupportedFormat') return { reason: 'InternalError', message };
    return {
      reason: 'ArtifactInvalid',
      message: `The artifact cannot be evaluated (${error.reason}): ${message}`,
    };
  }
  if (error instanceof DatasetTamperedError) return { reason: 'DatasetTampered', message };
  if (error instanceof PiiKeyMissingError) return { reason: 'PiiKeyMissing', message };
  if (error instanceof DatasetError) return { reason: 'DatasetInvalid', message };
  if (error instanceof StorageUnavailableError) return { reason: 'StorageUnavailable', message };
  // A forced backend that cannot load (BackendUnavailableError), or anything unexpected.
  return { reason: 'InternalError', message };
}

async function evaluate(
  settings: EvaluateSettings,
  log: Logger,
  options: EvaluationOptions,
): Promise<EvaluateResult> {
  const store: EvaluationStore = options.store ?? new ObjectStore(settings.objectStore);

  const artifact = await readLayersArtifact(store, {
    uri: settings.modelUri,
    digest: settings.modelDigest,
  });
  const schema = artifact.schema;
  if (schema.task !== settings.task) {
    throw new EvaluationFailure(
      'ArtifactInvalid',
      `the model was trained for ${schema.task}, the evaluation is of a ${settings.task} task (LATHE_TASK)`,
    );
  }
  log.info(
    { uri: settings.modelUri, digest: artifact.digest, features: schema.features.length },
    'Verified the model artifact',
  );

  const piiKey = 'piiKey' in options ? options.piiKey : piiKeyFromEnv(process.env);
  const split = await readRawTestSplit(
    store,
    settings.datasetUri,
    schema,
    piiKey,
    log,
    settings.fairness !== undefined,
  );
  log.info(
    {
      rows: split.rows,
      scoredRows: split.acceptedRows,
      rejectedRows: split.rejectedRows,
      ...(split.rejectedRows > 0
        ? { rejectedByColumn: split.rejectedByColumn, rejectedExamples: split.rejectedExamples }
        : {}),
      ...(split.unseenClasses.length > 0 ? { unseenClasses: split.unseenClasses } : {}),
    },
    split.rejectedRows > 0
      ? `Prepared the test rows with the model's preparation; it rejected ${split.rejectedRows} of ${split.rows} rows, which count as wrong`
      : "Prepared the test rows with the model's preparation",
  );
  if (split.rows === 0) {
    throw new DatasetError(`${DatasetFile.testRaw} has no rows: nothing to evaluate on`);
  }

  const batchRows = Math.min(PREDICT_BATCH_ROWS, Math.max(1, split.acceptedRows));
  const intraOpThreads = intraOpThreadsFor(batchRows * largestKernel(artifact));
  const loaded = await (options.loadBackend ?? defaultBackend)(settings, intraOpThreads);
  log.info(
    {
      backend: loaded.backend,
      skipped: loaded.skipped,
      requested: settings.backend,
      intraOpThreads: process.env.TF_NUM_INTRAOP_THREADS ?? intraOpThreads,
    },
    `Chose the TensorFlow.js backend ${loaded.backend}`,
  );
  const outputs = await predictAll(loaded.tf, artifact, split);
  const metrics = split.metrics(outputs);
  log.info({ metrics, rows: split.rows, backend: loaded.backend }, 'Evaluated the model');
  const fairness = settings.fairness ? fairnessOfSplit(split, outputs, settings.fairness) : {};
  if (settings.fairness) log.info(fairness, 'Evaluated the model across the sensitive columns');
  return { kind: 'evaluate', outcome: 'succeeded', metrics, rows: split.rows, ...fairness };
}

/**
 * The model's disparities on the split across its sensitive columns (for a RetrainPolicy's
 * champion rules), or why they could not be computed. Never throws.
 */
function fairnessOfSplit(
  split: RawTestSplit,
  outputs: Float32Array,
  fairness: TrainingFairness,
): { fairness?: FairnessSummary; fairnessError?: string } {
  const sensitiveColumns = split.sensitiveColumns;
  if (sensitiveColumns.length === 0) {
    return { fairnessError: 'the dataset version names no sensitive columns' };
  }
  try {
    const report = groupReport(split.schema, split.groupRows(outputs), sensitiveColumns, fairness);
    return { fairness: fairnessSummaryOf(report) };
  } catch (error) {
    return { fairnessError: (error as Error).message.slice(0, 1024) };
  }
}

function defaultBackend(
  settings: EvaluateSettings,
  intraOpThreads: number,
): Promise<LoadedTensorflow> {
  return loadTensorflow({ choice: settings.backend, gpus: settings.gpus, intraOpThreads });
}

/** The model's outputs on every accepted row of `split`, row-major, in batches. */
async function predictAll(
  tf: Tf,
  artifact: LayersArtifact,
  split: RawTestSplit,
): Promise<Float32Array> {
  const model = await buildLayersModel(tf, artifact);
  try {
    const featureCount = artifact.schema.features.length;
    const width = outputWidthOf(artifact.schema);
    const features = split.preparedFeatures();
    const outputs = new Float32Array(split.acceptedRows * width);
    for (let start = 0; start < split.acceptedRows; start += PREDICT_BATCH_ROWS) {
      const rows = Math.min(PREDICT_BATCH_ROWS, split.acceptedRows - start);
      const batch = tensorValues(tf, () => {
        const x = tf.tensor2d(
          features.subarray(start * featureCount, (start + rows) * featureCount),
          [rows, featureCount],
        );
        // One forward pass per batch (predict's default would split it into batches of 32).
        return model.predict(x, { batchSize: PREDICT_BATCH_ROWS }) as tfjs.Tensor;
      });
      outputs.set(batch, start * width);
    }
    return outputs;
  } finally {
    model.dispose();
  }
}

/**
 * Streams `test.raw.jsonl` of the dataset version through the model's preparation, checking it
 * (and `schema.json`, read for how the version hashed its PII columns) against the version's verified manifest;
 * holds only the prepared rows, never the file, and returns nothing the file's check refused.
 */
async function readRawTestSplit(
  store: EvaluationStore,
  datasetUri: string,
  schema: PreparedSchema,
  piiKey: Buffer | undefined,
  log: Logger,
  withSensitiveColumns: boolean,
): Promise<RawTestSplit> {
  const version = await openDatasetVersion(store, datasetUri);
  if (!version.lists(DatasetFile.testRaw)) {
    throw new DatasetError(
      `the dataset version ${datasetUri} has no ${DatasetFile.testRaw} (written by ingestion since the evaluate mode exists; re-ingest to get it)`,
    );
  }
  const datasetSchema = await readDatasetSchema(version);
  const pii = piiHashFor(schema, datasetSchema, piiKey);
  if (pii.otherScheme.length > 0) {
    log.warn(
      { columns: pii.otherScheme },
      `The dataset version hashes the PII columns ${pii.otherScheme.join(', ')} another way than the model (a version written before the keyed hash has its own salt): their values cannot match the model's categories and are scored as unknown ones`,
    );
  }

  const split = new RawTestSplit(
    schema,
    pii.hash,
    withSensitiveColumns ? (datasetSchema.sensitiveColumns ?? []) : [],
  );
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let line = 0;
  // `chunks` throws after the last chunk when the file does not match its manifest.
  for await (const chunk of version.chunks(DatasetFile.testRaw)) {
    pending += decoder.write(chunk);
    let newline = pending.indexOf('\n');
    let start = 0;
    while (newline !== -1) {
      split.addLine(pending.slice(start, newline).replace(/\r$/, ''), ++line);
      start = newline + 1;
      newline = pending.indexOf('\n', start);
    }
    pending = pending.slice(start);
  }
  pending += decoder.end();
  if (pending !== '') split.addLine(pending.replace(/\r$/, ''), ++line);
  return split;
}

/** The dataset version's own `schema.json`, checked against its manifest. */
async function readDatasetSchema(version: DatasetVersion): Promise<PreparedSchema> {
  const bytes = await version.read(DatasetFile.schema);
  const parsed = PreparedSchemaSchema.safeParse(
    (() => {
      try {
        return JSON.parse(bytes.toString('utf8'));
      } catch {
        return undefined;
      }
    })(),
  );
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new DatasetError(
      `${version.uri}${DatasetFile.schema} is not a prepared schema${issue ? ` (${issue.path.join('.')}: ${issue.message})` : ''}`,
    );
  }
  return parsed.data;
}
