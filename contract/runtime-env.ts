/**
 * The environment the operator gives the programs it runs (`runtime-images/`), and the parsers
 * those programs read it with. The operator's desired-state builders take the variable names
 * from here, and each program validates its environment with the schema here at start-up, so
 * a renamed variable breaks the build, not a pod at 3 a.m.
 *
 * Secrets never travel in a value the operator writes: credentials come through `secretKeyRef`
 * (or a Secret volume), so they are never in a Job spec, a log or an event.
 */
import { z } from 'zod';
import { type ObjectStoreConfig, objectStoreDefaults } from './object-store.js';

export type { ObjectStoreConfig } from './object-store.js';

/** Variables every runtime program reads to reach the object store. */
export const ObjectStoreEnv = {
  endpoint: 'LATHE_OBJECT_STORE_ENDPOINT',
  bucket: 'LATHE_OBJECT_STORE_BUCKET',
  region: 'LATHE_OBJECT_STORE_REGION',
  /**
   * The pod's own credentials, scoped to what its job needs in its namespace's prefixes, from
   * its object-store Secret through secretKeyRef (`docs/security.md`).
   */
  accessKey: 'LATHE_OBJECT_STORE_ACCESS_KEY',
  secretKey: 'LATHE_OBJECT_STORE_SECRET_KEY',
  /** The session token of temporary (STS) credentials; unset with long-lived keys. */
  sessionToken: 'LATHE_OBJECT_STORE_SESSION_TOKEN',
  /**
   * Where the same Secret is mounted (files `accessKey`, `secretKey`, `sessionToken`): the
   * operator rotates temporary credentials before they expire, and a long-running program reads
   * the new ones from here.
   */
  credentialsDir: 'LATHE_OBJECT_STORE_CREDENTIALS_DIR',
} as const;

/** Variables of the ingestion program (`runtime-images/ingest`). */
export const IngestEnv = {
  namespace: 'LATHE_DATASET_NAMESPACE',
  name: 'LATHE_DATASET_NAME',
  /** The Dataset's spec, JSON, with defaults applied. */
  spec: 'LATHE_DATASET_SPEC',
  /** Scratch directory for the spill files of a source larger than memory (an emptyDir). */
  workDir: 'LATHE_WORK_DIR',
  /** S3 source: credentials from `spec.source.s3.credentialsSecretRef` (secretKeyRef). */
  s3AccessKey: 'LATHE_SOURCE_S3_ACCESS_KEY',
  s3SecretKey: 'LATHE_SOURCE_S3_SECRET_KEY',
  /** PostgreSQL source: the connection URI from `connectionSecretRef` (secretKeyRef). */
  postgresUri: 'LATHE_SOURCE_POSTGRES_URI',
  /** HTTP source: a directory where `headersSecretRef` is mounted, one file per header. */
  httpHeadersDir: 'LATHE_SOURCE_HTTP_HEADERS_DIR',
  /**
   * HTTP source: comma-separated CIDRs the install refuses (`LATHE_HTTP_SOURCE_DENY_CIDRS` of
   * the operator), and those it allows inside them. Loopback, link-local, unspecified and the
   * API server are refused whatever these say.
   */
  httpDenyCidrs: 'LATHE_HTTP_SOURCE_DENY_CIDRS',
  httpAllowCidrs: 'LATHE_HTTP_SOURCE_ALLOW_CIDRS',
  /**
   * HTTP source: comma-separated IP addresses of the API server known to the operator, refused
   * like `KUBERNETES_SERVICE_HOST`.
   */
  httpApiServerAddresses: 'LATHE_HTTP_SOURCE_API_SERVER_ADDRESSES',
} as const;

/** Variables of a trainer (Lathe's, or a custom image honouring the contract). */
export const TrainEnv = {
  namespace: 'LATHE_TRAINING_JOB_NAMESPACE',
  name: 'LATHE_TRAINING_JOB_NAME',
  /** `s3://<bucket>/datasets/<ns>/<dataset>/<version>/`: read train.csv, test.csv, schema.json. */
  datasetUri: 'LATHE_DATASET_URI',
  datasetVersion: 'LATHE_DATASET_VERSION',
  /** `s3://<bucket>/runs/<ns>/<job>/artifact/`: write the artifact here, manifest.json last. */
  outputUri: 'LATHE_OUTPUT_URI',
  /** `s3://<bucket>/runs/<ns>/<job>/`: write progress.json and history.json here. */
  runUri: 'LATHE_RUN_URI',
  /** `classification` or `regression`. */
  task: 'LATHE_TASK',
  /** The built-in model (`spec.model.builtin`), JSON; unset for a custom image. */
  model: 'LATHE_MODEL',
  /** `spec.hyperparameters` without `extra`, JSON. */
  hyperparameters: 'LATHE_HYPERPARAMETERS',
  /** Prefix of one variable per `spec.hyperparameters.extra` entry: `LATHE_HP_<NAME>`. */
  extraHyperparameterPrefix: 'LATHE_HP_',
  /** `auto` (default), `tensorflow-gpu`, `tensorflow`, `wasm` or `cpu`. */
  backend: 'LATHE_BACKEND',
  /** GPUs the pod was given (0 when none): the trainer uses the GPU backend only when > 0. */
  gpus: 'LATHE_GPUS',
  /** `spec.fairness` (group metrics across the dataset's sensitive columns, the gate), JSON. */
  fairness: 'LATHE_FAIRNESS',
  /** `spec.modelCard` (intended-use fields of the model card), JSON. */
  modelCard: 'LATHE_MODEL_CARD',
} as const;

/** Variables of the inference server (`runtime-images/server`). */
export const ServeEnv = {
  namespace: 'LATHE_INFERENCE_SERVICE_NAMESPACE',
  inferenceService: 'LATHE_INFERENCE_SERVICE',
  modelName: 'LATHE_MODEL_NAME',
  modelVersion: 'LATHE_MODEL_VERSION',
  /** `s3://<bucket>/models/<ns>/<model>/<version>/`. */
  modelUri: 'LATHE_MODEL_URI',
  /** The verified digest of the artifact's manifest; the server refuses anything else. */
  modelDigest: 'LATHE_MODEL_DIGEST',
  /**
   * The ModelVersion's `spec.artifact.format`: `tfjs` (the default, for an operator that did
   * not set it) is run by TensorFlow.js, `onnx` by ONNX Runtime; any other is refused.
   */
  modelFormat: 'LATHE_MODEL_FORMAT',
  port: 'LATHE_PORT',
  bindAddress: 'LATHE_BIND_ADDRESS',
  batchMaxSize: 'LATHE_BATCH_MAX_SIZE',
  batchMaxLatencyMs: 'LATHE_BATCH_MAX_LATENCY_MS',
  maxRequestBytes: 'LATHE_MAX_REQUEST_BYTES',
  requestLogSampleRate: 'LATHE_REQUEST_LOG_SAMPLE_RATE',
  /** How often sampled requests and labels are written out, in ms (default 10000). */
  requestLogFlushIntervalMs: 'LATHE_REQUEST_LOG_FLUSH_INTERVAL_MS',
  /** `s3://<bucket>/feedback/<ns>/<inferenceservice>/`. */
  feedbackUri: 'LATHE_FEEDBACK_URI',
  backend: 'LATHE_BACKEND',
  /**
   * After SIGTERM, how long the server keeps answering (not ready, `Connection: close`) before
   * it stops accepting connections, so endpoints drop the pod first (default 5000 ms).
   */
  shutdownDelayMs: 'LATHE_SHUTDOWN_DELAY_MS',
  /** The pod's name (downward API), naming the files it writes; the hostname when unset. */
  podName: 'LATHE_POD_NAME',
  /** Deepest nesting of arrays and objects a JSON body may have (default 32); deeper is a 400. */
  maxJsonDepth: 'LATHE_MAX_JSON_DEPTH',
  /** Most rows one prediction request may carry (default 10000); more is a 400. */
  maxRowsPerRequest: 'LATHE_MAX_ROWS_PER_REQUEST',
  /** Most elements one V2 input tensor may hold (default 1000000); more is a 400. */
  maxTensorElements: 'LATHE_MAX_TENSOR_ELEMENTS',
  /** Prediction requests in flight beyond which new ones get 503 with Retry-After (default 128). */
  maxInFlight: 'LATHE_MAX_IN_FLIGHT',
  /** Longest a client may take to send a request's headers, in ms (default 10000); then 408. */
  headersTimeoutMs: 'LATHE_HEADERS_TIMEOUT_MS',
  /** Longest a prediction's body may take to arrive after its headers, in ms (default 30000). */
  bodyTimeoutMs: 'LATHE_BODY_TIMEOUT_MS',
  /** Longest any whole request may take to arrive, in ms (default 60000): the backstop. */
  requestTimeoutMs: 'LATHE_REQUEST_TIMEOUT_MS',
  /** How long an idle kept-alive connection stays open, in ms (default 65000). */
  keepAliveTimeoutMs: 'LATHE_KEEP_ALIVE_TIMEOUT_MS',
  /** Requests served on one connection before it is closed (default 1000; 0: no limit). */
  maxRequestsPerSocket: 'LATHE_MAX_REQUESTS_PER_SOCKET',
  /**
   * After the listener closed on SIGTERM, how long requests in flight may take, in ms (default
   * 15000); those left are answered 503.
   */
  drainTimeoutMs: 'LATHE_DRAIN_TIMEOUT_MS',
  /** Then how long writing the request log and labels may take before exit, in ms (default 5000). */
  flushTimeoutMs: 'LATHE_FLUSH_TIMEOUT_MS',
  /** The file holding the bearer token `:feedback` requires; unset: feedback is disabled (403). */
  feedbackTokenFile: 'LATHE_FEEDBACK_TOKEN_FILE',
  /** Requests remembered for feedback (default 10000). */
  recentRequests: 'LATHE_RECENT_REQUESTS',
  /** Bytes (estimated) the requests remembered for feedback may take (default 64 MiB). */
  recentRequestsMaxBytes: 'LATHE_RECENT_REQUESTS_MAX_BYTES',
  /** Most rows one `:explain` request may carry (`spec.explain.maxRows`); more is a 400. */
  explainMaxRows: 'LATHE_EXPLAIN_MAX_ROWS',
  /** Longest one `:explain` may compute, in ms (`spec.explain.timeoutSeconds`); then 504. */
  explainTimeoutMs: 'LATHE_EXPLAIN_TIMEOUT_MS',
  /** Background rows (of the artifact's `background.json`) each explanation averages over. */
  explainBackgroundRows: 'LATHE_EXPLAIN_BACKGROUND_ROWS',
  /** KernelSHAP's coalitions per row, for a model of more than 12 input columns. */
  explainKernelSamples: 'LATHE_EXPLAIN_KERNEL_SAMPLES',
} as const;

/**
 * Variables of an evaluation run (the trainer image, `evaluate` mode): score an existing model
 * artifact on a dataset version's test split, preparing the split's raw rows with the model's
 * own `schema.json`. The champion/challenger decision uses it to evaluate both on one split.
 */
export const EvaluateEnv = {
  /** `s3://…/models/<ns>/<model>/<version>/`: the artifact to evaluate. */
  modelUri: 'LATHE_EVALUATE_MODEL_URI',
  /** Its verified digest; the run refuses anything else. */
  modelDigest: 'LATHE_EVALUATE_MODEL_DIGEST',
  /** `s3://…/datasets/<ns>/<dataset>/<version>/`: whose `test.raw.jsonl` is scored. */
  datasetUri: 'LATHE_DATASET_URI',
} as const;

/** Variables of the trainer image's `batch` mode: one shard of a BatchPrediction (`contract/batch.ts`). */
export const BatchEnv = {
  /** `s3://…/models/<ns>/<model>/<version>/`: the artifact that scores. */
  modelUri: 'LATHE_BATCH_MODEL_URI',
  /** Its verified digest; the shard refuses anything else. */
  modelDigest: 'LATHE_BATCH_MODEL_DIGEST',
  /** Its `spec.artifact.format`: `tfjs` (default) on TensorFlow.js, `onnx` on ONNX Runtime. */
  modelFormat: 'LATHE_BATCH_MODEL_FORMAT',
  /** `BatchInput`, JSON: the objects scored and how CSV is read. */
  input: 'LATHE_BATCH_INPUT',
  /** `BatchOutputOptions`, JSON: format, outputs, passthrough columns. */
  output: 'LATHE_BATCH_OUTPUT',
  /** `s3://…/batch/<ns>/<name>/<run>/`: where parts and markers go. */
  outputUri: 'LATHE_BATCH_OUTPUT_URI',
  /** How many shards the run has (the Job's completions). */
  shards: 'LATHE_BATCH_SHARDS',
  /**
   * `s3://…/stats.json` of the model's dataset version, when it has one: the training
   * distributions the shard counts its inputs over (`contract/distribution-counts.ts`).
   */
  statsUri: 'LATHE_BATCH_STATS_URI',
  /** The largest share of failed records (0–100) before the shard fails. */
  maxFailedRecordsPercent: 'LATHE_BATCH_MAX_FAILED_RECORDS_PERCENT',
  /** Set by Kubernetes in every pod of an Indexed Job: this pod's shard. */
  shardIndex: 'JOB_COMPLETION_INDEX',
  /**
   * HTTP input: a directory where `spec.input.http.headersSecretRef` is mounted, one file per
   * header (as `IngestEnv.httpHeadersDir`). The address policy is `IngestEnv`'s `httpDenyCidrs`,
   * `httpAllowCidrs` and `httpApiServerAddresses`, the same install policy as ingestion's.
   */
  httpHeadersDir: 'LATHE_BATCH_HTTP_HEADERS_DIR',
} as const;

/** Variables of the retrain trigger (`runtime-images/retrain`), run by a RetrainPolicy's CronJob. */
export const RetrainEnv = {
  namespace: 'LATHE_RETRAIN_NAMESPACE',
  policy: 'LATHE_RETRAIN_POLICY',
  policyUid: 'LATHE_RETRAIN_POLICY_UID',
  /** The policy's `spec.template` (metadata and spec of the TrainingJob), JSON. */
  template: 'LATHE_TRAINING_TEMPLATE',
  /** `Allow`, `Forbid` or `Replace`. */
  concurrencyPolicy: 'LATHE_CONCURRENCY_POLICY',
  /** The scheduled Job's name (downward API label `job-name`): names the TrainingJob, so a retried pod creates it once. */
  runName: 'LATHE_RUN_NAME',
} as const;

/** Where a program writes its result (`results.ts`); the pod's `terminationMessagePath`. */
export const RESULT_PATH_ENV = 'LATHE_RESULT_PATH';

/** The TensorFlow.js backends, fastest first. */
export const tensorflowBackends = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type TensorflowBackend = (typeof tensorflowBackends)[number];
export const BackendChoiceSchema = z.enum(['auto', ...tensorflowBackends]);
export type BackendChoice = z.infer<typeof BackendChoiceSchema>;

/** A variable's problem, named, as a program prints it before exiting with code 2. */
export class RuntimeEnvError extends Error {
  constructor(problems: string[]) {
    super(`Invalid environment:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'RuntimeEnvError';
  }
}

/**
 * Parses `env` with a zod object keyed by variable names; throws `RuntimeEnvError` naming each
 * bad variable (never printing a value of a variable whose name ends in _KEY or _URI).
 */
export function parseEnv<S extends z.ZodObject>(
  schema: S,
  env: Record<string, string | undefined>,
): z.infer<S> {
  const relevant = Object.fromEntries(Object.keys(schema.shape).map((k) => [k, env[k]]));
  const parsed = schema.safeParse(relevant);
  if (parsed.success) return parsed.data;
  throw new RuntimeEnvError(
    parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? 'environment');
      const secret = /(_KEY|_URI|_SPEC)$/.test(name);
      const value = env[name];
      return `${name}: ${issue.message}${secret || value === undefined ? '' : ` (got "${value}")`}`;
    }),
  );
}

const required = z.string().min(1);

/** Reads the object-store settings from `env`. */
export function objectStoreFromEnv(env: Record<string, string | undefined>): ObjectStoreConfig {
  const e = parseEnv(
    z.object({
      [ObjectStoreEnv.endpoint]: z.url({ protocol: /^https?$/ }),
      [ObjectStoreEnv.bucket]: required.default(objectStoreDefaults.bucket),
      [ObjectStoreEnv.region]: required.default(objectStoreDefaults.region),
      [ObjectStoreEnv.accessKey]: required,
      [ObjectStoreEnv.secretKey]: required,
      [ObjectStoreEnv.sessionToken]: z.string().optional(),
      [ObjectStoreEnv.credentialsDir]: z.string().optional(),
    }),
    env,
  );
  const sessionToken = e[ObjectStoreEnv.sessionToken] as string | undefined;
  const credentialsDir = e[ObjectStoreEnv.credentialsDir] as string | undefined;
  return {
    endpoint: e[ObjectStoreEnv.endpoint] as string,
    bucket: e[ObjectStoreEnv.bucket] as string,
    region: e[ObjectStoreEnv.region] as string,
    accessKey: e[ObjectStoreEnv.accessKey] as string,
    secretKey: e[ObjectStoreEnv.secretKey] as string,
    ...(sessionToken ? { sessionToken } : {}),
    ...(credentialsDir ? { credentialsDir } : {}),
  };
}
