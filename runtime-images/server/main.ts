/**
 * The inference server (`ghcr.io/lathe-dev/lathe-server`): serves one verified model version
 * over KServe V1 and the Open Inference Protocol V2.
 *
 * Start-up: validate the environment (exit 2 naming a bad variable); listen at once (live, not
 * ready); load TensorFlow.js, verify and load the artifact, warm up; only then report ready. An
 * artifact that fails verification or is not a servable model ends the process with exit code 1
 * and a `serve` failure in the termination message — it never becomes ready. An unreachable
 * object store is retried with backoff while the server stays not ready.
 *
 * SIGTERM / SIGINT: readiness goes false, in-flight requests drain, the request log and labels
 * are flushed, exit 0.
 */
import { type Logger, pino } from 'pino';
import { feedbackPrefix, parseS3Uri } from '../../operator/src/contract/object-store-layout.js';
import {
  DEFAULT_TERMINATION_MESSAGE_PATH,
  writeResult,
} from '../../operator/src/contract/results.js';
import { RESULT_PATH_ENV, RuntimeEnvError } from '../../operator/src/contract/runtime-env.js';
import { ObjectStore, StorageUnavailableError } from '../../operator/src/storage/object-store.js';
import { type ServerConfig, serverConfigFromEnv } from './config.js';
import { JsonLinesSink } from './json-lines-sink.js';
import { createServerMetrics, type ServerMetrics } from './metrics.js';
import { ArtifactError, loadServedModel, type ServedModel } from './model.js';
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

async function loadWithRetry(
  config: ServerConfig,
  store: ObjectStore,
  log: Logger,
): Promise<ServedModel> {
  const { tf, backend } = await loadTensorflow(config.backend);
  log.info({ backend }, 'Loaded TensorFlow.js');
  for (let attempt = 1; ; attempt++) {
    try {
      return await loadServedModel(tf, store, {
        name: config.modelName,
        version: config.modelVersion,
        uri: config.modelUri,
        digest: config.modelDigest,
        warmUpBatchSizes: [config.batchMaxSize],
      });
    } catch (error) {
      if (!(error instanceof StorageUnavailableError)) throw error;
      const delayMs = Math.min(30_000, 500 * 2 ** Math.min(attempt, 6));
      log.warn({ err: error, attempt, delayMs }, 'Failed to reach the object store; retrying');
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
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
      paths: ['objectStore.accessKey', 'objectStore.secretKey', '*.accessKey', '*.secretKey'],
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
  const server = new InferenceServer({ ...config, metrics, log, requestLog, labelLog });
  const port = await server.listen();
  log.info(
    { port, model: config.modelName, version: config.modelVersion, uri: config.modelUri },
    'Started the inference server; loading the model',
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'Received a signal; shutting down');
    await server.shutdown();
    await Promise.all([requestLog?.close(), labelLog?.close()]);
    log.info('Drained and flushed; exiting');
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
      features: model.featureCount,
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
