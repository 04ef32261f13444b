/**
 * The inference server (`ghcr.io/lathe-dev/lathe-server`): serves one verified model version
 * over KServe V1 and the Open Inference Protocol V2.
 *
 * Start-up: validate the environment (exit 2 naming a bad variable); listen at once (live, not
 * ready); verify and read the artifact of the ModelVersion's format (`LATHE_MODEL_FORMAT`),
 * load TensorFlow.js (`tfjs`; `LATHE_BACKEND`, `auto` is WebAssembly, see tensorflow.ts) or ONNX
 * Runtime (`onnx`), build the model and warm it up; only then report ready. An artifact that
 * fails verification, is of another format, or is not a servable model ends the process with exit code 1
 * and a `serve` failure in the termination message — it never becomes ready. An unreachable
 * object store is retried with backoff while the server stays not ready.
 *
 * SIGTERM / SIGINT, bounded so the pod exits within its 30 s grace period by default:
 * readiness goes false and the buffered request log and labels start being written at once;
 * requests are answered for `LATHE_SHUTDOWN_DELAY_MS` (5 s) while endpoints drop the pod; in-flight
 * requests get `LATHE_DRAIN_TIMEOUT_MS` (15 s), then are answered 503; the request log and
 * labels get `LATHE_FLUSH_TIMEOUT_MS` (5 s) to be written (what is not is counted in the log);
 * exit 0. A backstop timer exits 1 should any step overrun its bound.
 */
import { type Logger, pino } from 'pino';
import { ObjectStore, StorageUnavailableError } from '../../contract/object-store.js';
import { feedbackPrefix, parseS3Uri } from '../../contract/object-store-layout.js';
import { piiKeyFromEnv } from '../../contract/pii-hash.js';
import { DEFAULT_TERMINATION_MESSAGE_PATH, writeResult } from '../../contract/results.js';
import { RESULT_PATH_ENV, RuntimeEnvError } from '../../contract/runtime-env.js';
import { readOnnxArtifact } from '../onnx/onnx-artifact.js';
import { BackendUnavailableError, cpuBudget, intraOpThreadsFor } from '../tensorflow/backend.js';
import {
  type LayersArtifact,
  largestKernel,
  readLayersArtifact,
} from '../tensorflow/layers-artifact.js';
import { type ServerConfig, serverConfigFromEnv } from './config.js';
import { FeedbackTokenFile } from './feedback-token.js';
import { closeWithin, JsonLinesSink } from './json-lines-sink.js';
import { createServerMetrics, type ServerMetrics } from './metrics.js';
import {
  ArtifactError,
  explanationBackgroundOf,
  onnxServedModelOf,
  SERVED_FORMATS,
  type ServedModel,
  servedModelOf,
} from './model.js';
import { InferenceServer } from './server.js';
import { loadTensorflow } from './tensorflow.js';

function feedbackSinks(
  config: ServerConfig,
  store: ObjectStore,
  metrics: ServerMetrics,
  log: Logger,
) {
  if (!config.feedbackUri) return { requestLog: undefined, labelLog: undefined };
  const { bucket, key } = parseS3Uri(config.feedbackUri);
  const prefix = key === '' ? feedbackPrefix(config.namespace, config.inferenceService) : key;
  const sink = (kind: 'requests' | 'labels') =>
    new JsonLinesSink({
      kind,
      bucket,
      prefix,
      writer: config.podName,
      flushIntervalMs: config.requestLogFlushIntervalMs,
      write: (b, k, body) => store.write(b, k, body, 'application/x-ndjson'),
      onWritten: (n) => metrics.requestLogRecords.inc({ outcome: 'written' }, n),
      onDropped: (n) => metrics.requestLogRecords.inc({ outcome: 'dropped' }, n),
      onWriteFailure: (error) => {
        metrics.requestLogWriteFailures.inc();
        log.warn({ err: error, kind }, 'Failed to write a feedback file; will retry');
      },
    });
  return {
    requestLog: config.requestLogSampleRate > 0 ? sink('requests') : undefined,
    labelLog: sink('labels'),
  };
}

/** `read`, retried with backoff while the object store cannot be reached. */
async function withStoreRetry<T>(read: () => Promise<T>, log: Logger): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (error) {
      if (!(error instanceof StorageUnavailableError)) throw error;
      const delayMs = Math.min(30_000, 500 * 2 ** Math.min(attempt, 6));
      log.warn({ err: error, attempt, delayMs }, 'Failed to reach the object store; retrying');
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}

/**
 * Reads and verifies the artifact of the ModelVersion's format (retrying an unreachable store),
 * then builds and warms up its model: TensorFlow.js (`tfjs`), with its intra-op threads sized
 * for the model's largest matmul at the largest batch, or ONNX Runtime (`onnx`), with the pod's
 * CPU budget. Any other format is refused (`UnsupportedFormat`).
 */
async function loadWithRetry(
  config: ServerConfig,
  store: ObjectStore,
  log: Logger,
): Promise<ServedModel> {
  const format = config.modelFormat;
  if (!(SERVED_FORMATS as readonly string[]).includes(format)) {
    throw new ArtifactError(
      'UnsupportedFormat',
      `the ModelVersion's artifact is format ${format}; the inference server runs ${SERVED_FORMATS.join(' and ')} models (export the model to ONNX to serve it: docs/server.md)`,
    );
  }
  const location = { uri: config.modelUri, digest: config.modelDigest };
  const common = {
    name: config.modelName,
    version: config.modelVersion,
    warmUpBatchSizes: [config.batchMaxSize],
    piiKey: piiKeyFromEnv(process.env),
  };
  if (format === 'onnx') {
    const artifact = await withStoreRetry(() => readOnnxArtifact(store, location), log);
    const background = explanationBackgroundOf(artifact);
    const intraOpThreads = cpuBudget();
    log.info({ intraOpThreads }, 'Loading the ONNX model with ONNX Runtime (CPU)');
    return onnxServedModelOf(artifact, { ...common, background, intraOpThreads });
  }
  const artifact: LayersArtifact = await withStoreRetry(
    () => readLayersArtifact(store, location),
    log,
  );
  // Parsed from the bytes verification kept, before TensorFlow.js is loaded: a bad one stops
  // the server early.
  const background = explanationBackgroundOf(artifact);
  const intraOpThreads = intraOpThreadsFor(config.batchMaxSize * largestKernel(artifact));
  const { tf, backend, skipped } = await loadTensorflow(config.backend, { intraOpThreads });
  log.info(
    {
      backend,
      requested: config.backend,
      skipped,
      ...(backend.startsWith('tensorflow')
        ? { intraOpThreads: process.env.TF_NUM_INTRAOP_THREADS ?? intraOpThreads }
        : {}),
    },
    `Loaded TensorFlow.js on the ${backend} backend`,
  );
  return servedModelOf(tf, artifact, { ...common, background });
}

function fail(
  log: Logger,
  reason: 'ArtifactInvalid' | 'StorageUnavailable' | 'InternalError',
  message: string,
): never {
  log.error({ reason }, message);
  try {
    writeResult(
      { kind: 'serve', outcome: 'failed', reason, message },
      process.env[RESULT_PATH_ENV] ?? DEFAULT_TERMINATION_MESSAGE_PATH,
    );
  } catch {
    // No termination-message file outside a pod: the log line above says it all.
  }
  process.exit(1);
}

async function main(): Promise<void> {
  const log = pino({
    base: { component: 'lathe-server' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: {
      paths: [
        'objectStore.accessKey',
        'objectStore.secretKey',
        'objectStore.sessionToken',
        '*.accessKey',
        '*.secretKey',
        '*.sessionToken',
      ],
      censor: '[REDACTED]',
    },
  });
  let config: ServerConfig;
  try {
    config = serverConfigFromEnv(process.env);
  } catch (error) {
    if (error instanceof RuntimeEnvError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
  const metrics = createServerMetrics();
  const store = new ObjectStore(config.objectStore);
  const { requestLog, labelLog } = feedbackSinks(config, store, metrics, log);
  const feedbackToken = new FeedbackTokenFile(config.feedbackTokenFile, (error) =>
    log.warn({ err: error }, 'Failed to read the feedback token file; feedback is disabled'),
  );
  const server = new InferenceServer({
    ...config,
    metrics,
    log,
    requestLog,
    labelLog,
    feedbackToken,
  });
  const port = await server.listen();
  log.info(
    { port, model: config.modelName, version: config.modelVersion, uri: config.modelUri },
    'Started the inference server; loading the model',
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const { shutdownDelayMs, drainTimeoutMs, flushTimeoutMs } = config;
    log.info(
      { signal, shutdownDelayMs, drainTimeoutMs, flushTimeoutMs },
      'Received a signal; shutting down',
    );
    const backstopMs = shutdownDelayMs + drainTimeoutMs + flushTimeoutMs + 2000;
    setTimeout(() => {
      log.error({ backstopMs }, 'Shutdown overran its bounds; exiting');
      process.exit(1);
    }, backstopMs).unref();
    // What is buffered now goes out while requests drain; the final flush then has little left.
    void requestLog?.flush();
    void labelLog?.flush();
    const { unanswered } = await server.shutdown();
    const flushed = await closeWithin([requestLog, labelLog], flushTimeoutMs);
    if (!flushed.complete) {
      log.warn(
        { unwritten: flushed.unwritten, flushTimeoutMs },
        'The request log and labels were not all written in time; the rest is lost',
      );
    }
    log.info({ unanswered, flushed: flushed.complete }, 'Drained and flushed; exiting');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  let model: ServedModel;
  try {
    model = await loadWithRetry(config, store, log);
  } catch (error) {
    if (error instanceof ArtifactError) {
      fail(
        log,
        'ArtifactInvalid',
        `The artifact cannot be served (${error.reason}): ${error.message}`,
      );
    }
    if (error instanceof BackendUnavailableError) {
      fail(log, 'InternalError', `The TensorFlow.js backend cannot be used: ${error.message}`);
    }
    fail(log, 'InternalError', `The model could not be loaded: ${(error as Error).message}`);
  }
  if (stopping) return;
  requestLog?.start();
  labelLog?.start();
  server.setModel(model);
  log.info(
    {
      model: model.name,
      version: model.version,
      digest: model.digest,
      format: model.format,
      features: model.featureCount,
      backgroundRows: model.background?.rows.length ?? 0,
      batchMaxSize: config.batchMaxSize,
      batchMaxLatencyMs: config.batchMaxLatencyMs,
    },
    'Loaded, verified and warmed up the model; ready',
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
