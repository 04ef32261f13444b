/**
 * The trainer image's `batch` mode: scores ONE shard of a BatchPrediction (`contract/batch.ts`),
 * one pod of an Indexed Job, the model loaded in-process (no load on the online service).
 *
 * 1. The shard's marker (`_shards/<i>.json`) is looked for first: a marker left for the same
 *    model digest means the part is complete, and the shard reports it without reading or
 *    writing anything else (a retried or restarted run skips finished shards). A marker of
 *    another model is overwritten.
 * 2. The artifact is verified against the recorded digest and loaded as the inference server
 *    loads it: a TensorFlow.js layers model (`readLayersArtifact`) on the fastest backend
 *    (native first), or an ONNX model (`readOnnxArtifact`, format `onnx`) on ONNX Runtime.
 * 3. The shard's byte ranges (`shardRanges`) are streamed from the store object by object
 *    (`openReadRange`), or from an HTTP(S) input with `Range` requests (`http-source.ts`, its
 *    size learned from the server first; a server that says none: shard 0 reads it all), cut
 *    into records (`records.ts`: a CSV object's header read separately),
 *    prepared with the model's `schema.json`, scored 1,024 at a time and written in input order
 *    to a local part file (`score.ts`): memory holds one batch, whatever the shard's size. With
 *    `explanations` included, each batch's rows are also explained (`explain.ts`) against the
 *    artifact's background; an artifact without one fails the shard (`ArtifactInvalid`) first.
 *    Each scored batch is also counted (`distribution.ts`): the inputs over the training
 *    distributions of the model's dataset version (`stats.json`, when it has one), and the
 *    predictions.
 * 4. If more records failed than `maxFailedRecordsPercent` of the rows, the shard fails with
 *    `TooManyFailedRecords` and writes nothing. Otherwise the part is uploaded, then its marker
 *    (rows, failed records, size, sha256, model digest, the counts): the marker last, so a
 *    marker means a complete part.
 *
 * Every failure becomes a result with a reason; nothing here exits the process (`main.ts` does).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type * as tfjs from '@tensorflow/tfjs';
import type { Logger } from 'pino';
import {
  type BatchInputObject,
  type BatchShardMarker,
  BatchShardMarkerSchema,
  batchMarkerFile,
  batchPartFile,
  type ObjectRange,
  shardRanges,
} from '../../contract/batch.js';
import { type DatasetStats, DatasetStatsSchema } from '../../contract/dataset-stats.js';
import {
  ObjectNotFoundError,
  ObjectStore,
  StorageUnavailableError,
} from '../../contract/object-store.js';
import { parseS3Uri } from '../../contract/object-store-layout.js';
import { PiiKeyMissingError, piiHashing, piiKeyFromEnv } from '../../contract/pii-hash.js';
import type { BatchResult, FailureReason } from '../../contract/results.js';
import { CsvSyntaxError } from '../ingest/csv.js';
import { IngestFailure } from '../ingest/failure.js';
import { displayUrl, type HttpTransport } from '../ingest/guarded-http.js';
import { readHeaderFiles } from '../ingest/sources.js';
import { type OnnxArtifact, readOnnxArtifact } from '../onnx/onnx-artifact.js';
import { loadOnnxModel } from '../onnx/onnx-runtime.js';
import {
  intraOpThreadsFor,
  type LoadedTensorflow,
  loadTensorflow,
  tensorValues,
} from '../tensorflow/backend.js';
import {
  ArtifactError,
  buildLayersModel,
  explanationBackgroundOf,
  type LayersArtifact,
  largestKernel,
  outputWidthOf,
  readLayersArtifact,
} from '../tensorflow/layers-artifact.js';
import { shardDistribution } from './distribution.js';
import { BatchExplainer } from './explain.js';
import { type HttpSourceOptions, httpBytesFrom, httpSizeOf } from './http-source.js';
import {
  csvHeaderOf,
  type InputRecord,
  type RecordFormat,
  RecordTooLongError,
  readOffsetOf,
  recordBatchesOfRange,
} from './records.js';
import { PartFile, PartFormat, PREDICT_BATCH_ROWS, scoreRecords } from './score.js';
import type { BatchSettings } from './settings.js';

/** What a shard needs of an object store (the `ObjectStore` fits; tests pass their own). */
export type BatchStore = Pick<
  ObjectStore,
  'read' | 'digestOf' | 'openReadRange' | 'upload' | 'write'
>;

/** A failure with the reason the result reports. */
class BatchFailure extends Error {
  constructor(
    readonly reason: FailureReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface BatchShardOptions {
  store?: BatchStore;
  /** The namespace's PII key (default: `LATHE_PII_KEY` of the environment, when set). */
  piiKey?: Buffer | undefined;
  loadBackend?: (settings: BatchSettings, intraOpThreads: number) => Promise<LoadedTensorflow>;
  /** Where the part is written before its upload (default: `os.tmpdir()`). */
  workDir?: string;
  /** How an HTTP input is reached (default: node:dns and node:http(s)); tests pass their own. */
  httpTransport?: HttpTransport;
  httpRetryDelayMs?: (attempt: number) => number;
  /** Every how many scored rows one is counted (default `COUNT_STRIDE`). */
  countStride?: number;
}

/** Scores one shard; never throws: failures are results. */
export async function runBatchShard(
  settings: BatchSettings,
  log: Logger,
  options: BatchShardOptions = {},
): Promise<BatchResult> {
  try {
    return await scoreShard(settings, log.child({ shard: settings.shardIndex }), options);
  } catch (error) {
    const failure = asFailure(error);
    log.error(
      { shard: settings.shardIndex, reason: failure.reason, err: error },
      'BatchPrediction shard failed',
    );
    return { kind: 'batch', outcome: 'failed', reason: failure.reason, message: failure.message };
  }
}

function asFailure(error: unknown): { reason: FailureReason; message: string } {
  const message = (error as Error)?.message ?? String(error);
  if (error instanceof BatchFailure) return { reason: error.reason, message };
  if (error instanceof IngestFailure) return { reason: error.reason, message };
  if (error instanceof ArtifactError) {
    // Another framework's artifact is not a broken one: this image cannot run it.
    if (error.reason === 'UnsupportedFormat') return { reason: 'InternalError', message };
    return {
      reason: 'ArtifactInvalid',
      message: `The artifact cannot be used (${error.reason}): ${message}`,
    };
  }
  if (error instanceof PiiKeyMissingError) return { reason: 'PiiKeyMissing', message };
  if (error instanceof ObjectNotFoundError) return { reason: 'SourceNotFound', message };
  if (error instanceof StorageUnavailableError) return { reason: 'StorageUnavailable', message };
  if (error instanceof CsvSyntaxError || error instanceof RecordTooLongError)
    return { reason: 'InvalidData', message };
  return { reason: 'InternalError', message };
}

/** The marker of a finished shard for this model, if there is one. */
async function finishedMarker(
  store: BatchStore,
  bucket: string,
  key: string,
  modelDigest: string,
  log: Logger,
): Promise<BatchShardMarker | undefined> {
  let bytes: Buffer;
  try {
    bytes = await store.read(bucket, key);
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return undefined;
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    json = undefined;
  }
  const parsed = BatchShardMarkerSchema.safeParse(json);
  if (!parsed.success) {
    log.warn({ key }, 'Found an unreadable shard marker; scoring the shard again');
    return undefined;
  }
  if (parsed.data.modelDigest !== modelDigest) {
    log.warn(
      { key, markerDigest: parsed.data.modelDigest, modelDigest },
      "Found another model's shard marker; scoring the shard again",
    );
    return undefined;
  }
  return parsed.data;
}

async function scoreShard(
  settings: BatchSettings,
  log: Logger,
  options: BatchShardOptions,
): Promise<BatchResult> {
  const store: BatchStore = options.store ?? new ObjectStore(settings.objectStore);
  const shard = settings.shardIndex;
  const { bucket: outputBucket, key: outputPrefix } = parseS3Uri(settings.outputUri);
  const format = settings.output.format;
  const partName = batchPartFile(shard, format);
  const markerKey = `${outputPrefix}${batchMarkerFile(shard)}`;

  const marker = await finishedMarker(store, outputBucket, markerKey, settings.modelDigest, log);
  if (marker) {
    log.info(
      { rows: marker.rows, failedRecords: marker.failedRecords, part: marker.part },
      'Found the shard finished (its marker is there); skipped it',
    );
    return {
      kind: 'batch',
      outcome: 'succeeded',
      shard,
      rows: marker.rows,
      failedRecords: marker.failedRecords,
      skipped: true,
    };
  }

  const location = { uri: settings.modelUri, digest: settings.modelDigest };
  const artifact =
    settings.modelFormat === 'onnx'
      ? await readOnnxArtifact(store, location)
      : await readLayersArtifact(store, location);
  const schema = artifact.schema;
  log.info(
    { uri: settings.modelUri, digest: artifact.digest, task: schema.task },
    'Verified the model artifact',
  );
  const explained = settings.output.include.includes('explanations');
  const background = explained ? explanationBackgroundOf(artifact) : undefined;
  if (explained && !background) {
    throw new BatchFailure(
      'ArtifactInvalid',
      `the model has no explanation background (background.json) in its artifact, so its rows cannot be explained; retrain it with this version of Lathe, or leave explanations out of spec.output.include`,
    );
  }
  const piiKey = 'piiKey' in options ? options.piiKey : piiKeyFromEnv(process.env);
  const hashing = piiHashing(piiKey);

  const http = await httpSourceOptions(settings, log, options);
  const ranges = await rangesOfShard(settings, http, log);
  log.info(
    {
      ranges: ranges.map((r) => ({ uri: shownUri(settings.input.objects[r.object]!), ...r })),
      shards: settings.shards,
    },
    'Planned the shard',
  );

  const model =
    'model' in artifact
      ? await onnxShardModel(artifact, log)
      : await tensorflowShardModel(artifact, settings, options, log);
  const predictNow = model.predict;
  const featureCount = schema.features.length;
  const predict = async (features: Float32Array, rows: number) => predictNow(features, rows);
  const explainer =
    background && settings.output.explanations
      ? new BatchExplainer(
          { schema, featureCount, outputWidth: outputWidthOf(schema), predict: predictNow },
          background,
          settings.output.explanations,
          format,
          (batch) => {
            const fields = { ...batch, milliseconds: Math.round(batch.milliseconds) };
            if (batch.unexplained > 0)
              log.warn(fields, 'Explained a batch; some rows could not be (explanation: null)');
            else log.info(fields, 'Explained a batch');
          },
        )
      : undefined;
  if (explainer) {
    log.info(
      {
        method: explainer.method,
        backgroundRows: explainer.backgroundRows,
        ...settings.output.explanations,
      },
      'Explaining each scored row (Shapley values per input column)',
    );
  }

  const dir = await mkdtemp(path.join(options.workDir ?? os.tmpdir(), 'lathe-batch-'));
  const part = new PartFile(path.join(dir, partName));
  try {
    const partFormat = new PartFormat(schema, settings.output);
    await part.write(partFormat.preamble());
    const distribution = shardDistribution(
      schema,
      await trainingStatsOf(store, settings.statsUri, log),
      options.countStride,
    );
    const counts = await scoreRecords(
      shardRecords(store, settings, http, ranges),
      schema,
      hashing,
      partFormat,
      predict,
      part,
      explainer,
      distribution.observe,
    );
    const { sha256, sizeBytes } = await part.close();
    log.info(
      {
        rows: counts.rows,
        failedRecords: counts.failedRecords,
        ...(counts.failedRecords > 0 ? { failureExamples: counts.failureExamples } : {}),
        sizeBytes,
      },
      'Scored the shard',
    );
    const limit = settings.maxFailedRecordsPercent;
    if (counts.failedRecords * 100 > limit * counts.rows) {
      throw new BatchFailure(
        'TooManyFailedRecords',
        `${counts.failedRecords} of ${counts.rows} records of shard ${shard} could not be scored, more than maxFailedRecordsPercent (${limit}%) allows${
          counts.failureExamples[0]
            ? `; the first: row ${counts.failureExamples[0].row}: ${counts.failureExamples[0].error}`
            : ''
        }`,
      );
    }
    const contentType = format === 'csv' ? 'text/csv' : 'application/x-ndjson';
    await store.upload(
      outputBucket,
      `${outputPrefix}${partName}`,
      part.path,
      sizeBytes,
      contentType,
    );
    const written: BatchShardMarker = {
      formatVersion: 1,
      shard,
      part: partName,
      rows: counts.rows,
      failedRecords: counts.failedRecords,
      sizeBytes,
      sha256,
      modelDigest: settings.modelDigest,
      distribution: distribution.counter.counts(),
    };
    await store.write(outputBucket, markerKey, `${JSON.stringify(written)}\n`, 'application/json');
    log.info({ part: partName, sha256, sizeBytes }, 'Wrote the shard’s part and marker');
    return {
      kind: 'batch',
      outcome: 'succeeded',
      shard,
      rows: counts.rows,
      failedRecords: counts.failedRecords,
      skipped: false,
    };
  } finally {
    part.destroy();
    await model.dispose();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The training statistics the inputs are counted over, or undefined without them (a model
 * whose dataset version has no `stats.json`: only its predictions are counted). A statistics
 * file that is there but unreadable fails the shard: it is not an old model's missing one.
 */
async function trainingStatsOf(
  store: BatchStore,
  uri: string | undefined,
  log: Logger,
): Promise<DatasetStats | undefined> {
  if (!uri) return undefined;
  const { bucket, key } = parseS3Uri(uri);
  let bytes: Buffer;
  try {
    bytes = await store.read(bucket, key);
  } catch (error) {
    if (!(error instanceof ObjectNotFoundError)) throw error;
    log.warn({ uri }, 'Found no training statistics; counting the predictions only');
    return undefined;
  }
  const parsed = DatasetStatsSchema.safeParse(JSON.parse(bytes.toString('utf8')));
  if (!parsed.success)
    throw new Error(`The training statistics ${uri} are not a stats.json: ${parsed.error.message}`);
  return parsed.data;
}

/** A shard's model: one forward pass over prepared rows, and what frees it. */
interface ShardModel {
  predict(features: Float32Array, rows: number): Float32Array | Promise<Float32Array>;
  dispose(): void | Promise<void>;
}

/**
 * A TensorFlow.js artifact's model, on the fastest backend (native first), its intra-op threads
 * sized for the largest matmul of a scoring batch.
 */
async function tensorflowShardModel(
  artifact: LayersArtifact,
  settings: BatchSettings,
  options: BatchShardOptions,
  log: Logger,
): Promise<ShardModel> {
  const intraOpThreads = intraOpThreadsFor(PREDICT_BATCH_ROWS * largestKernel(artifact));
  const loaded = await (options.loadBackend ?? defaultBackend)(settings, intraOpThreads);
  log.info(
    { backend: loaded.backend, skipped: loaded.skipped, requested: settings.backend },
    `Chose the TensorFlow.js backend ${loaded.backend}`,
  );
  const { tf } = loaded;
  const model = await buildLayersModel(tf, artifact);
  const featureCount = artifact.schema.features.length;
  return {
    predict: (features, rows) =>
      tensorValues(tf, () => {
        const x = tf.tensor2d(features, [rows, featureCount]);
        // One forward pass per batch (predict's default would split it into batches of 32).
        return model.predict(x, { batchSize: rows }) as tfjs.Tensor;
      }),
    dispose: () => {
      model.dispose();
    },
  };
}

/** An ONNX artifact's model on ONNX Runtime, with the pod's CPU budget. */
async function onnxShardModel(artifact: OnnxArtifact, log: Logger): Promise<ShardModel> {
  const model = await loadOnnxModel(artifact.model, artifact.schema);
  log.info({ intraOpThreads: model.intraOpThreads }, 'Loaded the ONNX model on ONNX Runtime (CPU)');
  return {
    predict: (features, rows) => model.predict(features, rows),
    dispose: () => model.release(),
  };
}

function defaultBackend(
  settings: BatchSettings,
  intraOpThreads: number,
): Promise<LoadedTensorflow> {
  return loadTensorflow({ choice: settings.backend, gpus: settings.gpus, intraOpThreads });
}

function isHttp(object: BatchInputObject): boolean {
  return /^https?:\/\//.test(object.uri);
}

/** An object's URI as logs and messages may show it (a URL's query may hold a signature). */
function shownUri(object: BatchInputObject): string {
  return isHttp(object) ? displayUrl(object.uri) : object.uri;
}

/** How an HTTP input is read, when the run has one: its headers read from the mounted Secret. */
async function httpSourceOptions(
  settings: BatchSettings,
  log: Logger,
  options: BatchShardOptions,
): Promise<HttpSourceOptions | undefined> {
  if (!settings.input.objects.some(isHttp)) return undefined;
  return {
    headers: await readHeaderFiles(settings.httpHeadersDir),
    policy: settings.httpPolicy,
    log,
    ...(options.httpTransport ? { transport: options.httpTransport } : {}),
    ...(options.httpRetryDelayMs ? { retryDelayMs: options.httpRetryDelayMs } : {}),
  };
}

/**
 * The shard's ranges. An HTTP object's size is asked of its server by every shard (the same
 * answer for all); a server that gives none (a streamed answer, no `Range`) leaves the input
 * unsplittable: shard 0 reads it whole and the others score nothing.
 */
async function rangesOfShard(
  settings: BatchSettings,
  http: HttpSourceOptions | undefined,
  log: Logger,
): Promise<ObjectRange[]> {
  const sizes: (number | undefined)[] = [];
  for (const object of settings.input.objects) {
    sizes.push(
      object.sizeBytes ?? (http && isHttp(object) ? await httpSizeOf(object.uri, http) : undefined),
    );
  }
  const known = sizes.filter((size) => size !== undefined);
  if (known.length === sizes.length) {
    return shardRanges(
      known.map((sizeBytes) => ({ sizeBytes })),
      settings.shards,
      settings.shardIndex,
    );
  }
  log.warn(
    { shards: settings.shards },
    'The HTTP input did not say its size; shard 0 reads it whole, the other shards score nothing',
  );
  if (settings.shardIndex !== 0) return [];
  return sizes.map((size, object) => ({ object, start: 0, end: size ?? Number.POSITIVE_INFINITY }));
}

/** The bytes of `object` from `offset` to its end: from the store, or its URL with `Range`. */
async function bytesFrom(
  store: BatchStore,
  http: HttpSourceOptions | undefined,
  object: BatchInputObject,
  offset: number,
): Promise<AsyncIterable<Buffer | Uint8Array>> {
  if (http && isHttp(object)) return httpBytesFrom(object.uri, offset, http);
  const { bucket, key } = parseS3Uri(object.uri);
  return store.openReadRange(bucket, key, offset);
}

/** How the records of `object` are read (a CSV object's header read from its first bytes). */
async function recordFormatOf(
  store: BatchStore,
  settings: BatchSettings,
  http: HttpSourceOptions | undefined,
  object: BatchInputObject,
): Promise<RecordFormat> {
  if (object.format === 'jsonl') return { format: 'jsonl' };
  const { delimiter, header } = settings.input.csv;
  if (!header) return { format: 'csv', delimiter, columns: settings.input.columns ?? [], header };
  const columns = await csvHeaderOf(
    await bytesFrom(store, http, object, 0),
    delimiter,
    shownUri(object),
  );
  return { format: 'csv', delimiter, columns, header };
}

/** The records of the shard's ranges, object after object, streamed a chunk's records at a time. */
async function* shardRecords(
  store: BatchStore,
  settings: BatchSettings,
  http: HttpSourceOptions | undefined,
  ranges: readonly ObjectRange[],
): AsyncGenerator<InputRecord[]> {
  for (const range of ranges) {
    const object = settings.input.objects[range.object]!;
    const format = await recordFormatOf(store, settings, http, object);
    const chunks = await bytesFrom(store, http, object, readOffsetOf(range.start));
    yield* recordBatchesOfRange(chunks, range, format);
  }
}
