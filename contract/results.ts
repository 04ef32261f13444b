/**
 * What a finished runtime pod reports, and the files a trainer writes as it goes.
 *
 * A pod reports its result in its termination message (`terminationMessagePath`, by default
 * `/dev/termination-log`), which the kubelet copies into the container status, where the
 * operator reads it from its Pod cache: no extra API call, no shared volume. The kubelet keeps
 * at most 4096 bytes, so a result carries only what the operator needs to decide and to fill
 * status; everything larger (statistics, confusion matrix) stays in the object store.
 */
import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import { FairnessSummarySchema } from './fairness/summary.js';

/** The kubelet's limit on a termination message. */
export const MAX_TERMINATION_MESSAGE_BYTES = 4096;
/** Where a container's termination message goes unless the pod says otherwise. */
export const DEFAULT_TERMINATION_MESSAGE_PATH = '/dev/termination-log';

/** Reasons a runtime program fails with, for conditions a user can act on. */
export const FailureReasonSchema = z.enum([
  /** A `spec.validation` rule failed; `rule`, `column` and `observed` say which and why. */
  'ValidationFailed',
  /** The source answered 404 / NoSuchKey / no such table. */
  'SourceNotFound',
  /** The source refused the credentials (401, 403, password authentication failed). */
  'SourceUnauthorized',
  /**
   * The HTTP source resolved (or redirected) to an address the program may not connect to:
   * loopback, link-local (cloud metadata), unspecified, the API server, or a range the
   * install denies. Not retried; no connection was made.
   */
  'SourceAddressRefused',
  /**
   * An S3 source reads Lathe's store outside the namespace's prefixes (another bucket, another
   * namespace's data) without `spec.source.s3.credentialsSecretRef`: the operator's credentials
   * are not lent for that. Terminal until the spec changes.
   */
  'SourceCredentialsRequired',
  /** The source could not be reached or failed (network, 5xx, timeout): retried. */
  'SourceUnavailable',
  /** The SQL query failed (syntax, permission on a table, ...). */
  'QueryFailed',
  /** The data could not be parsed or has no usable rows/columns. */
  'InvalidData',
  /**
   * The Dataset hashes a PII column and the pod was given no PII key (`LATHE_PII_KEY`): the
   * operator has none configured. Nothing was written.
   */
  'PiiKeyMissing',
  /** The object store could not be reached or failed: retried. */
  'StorageUnavailable',
  /** The dataset version a trainer was given is missing or malformed. */
  'DatasetInvalid',
  /**
   * A file of the dataset version a trainer was given does not match the version's
   * `manifest.json` (its sha256 or size, or it is missing, or the manifest is not the one the
   * version is named after): changed in the object store after ingestion. The message names the
   * file. Not retried: ingest the data again, and find out who wrote to the store.
   */
  'DatasetTampered',
  /** The training diverged (NaN loss) or could not build the model. */
  'TrainingFailed',
  /**
   * The model artifact (to serve, or to evaluate) failed verification or is not a model this
   * program can run.
   */
  'ArtifactInvalid',
  /**
   * A BatchPrediction shard found more records it could not score than
   * `spec.maxFailedRecordsPercent` allows; the message gives the count.
   */
  'TooManyFailedRecords',
  /** Anything else: the message says what. */
  'InternalError',
]);
export type FailureReason = z.infer<typeof FailureReasonSchema>;

/** Failure reasons worth retrying unchanged: the cause is outside the spec. */
export const transientFailureReasons: ReadonlySet<FailureReason> = new Set([
  'SourceUnavailable',
  'StorageUnavailable',
]);

/**
 * Exit codes of the runtime programs. Every failure exits non-zero so the Job shows it, and
 * the code says whether a retry can help, for the Job's `podFailurePolicy`: `failed` and
 * `invalidEnvironment` should fail the Job at once (`FailJob`), `transient` (EX_TEMPFAIL) is
 * worth the Job's back-off. The termination message says the same in words.
 */
export const RuntimeExitCode = {
  succeeded: 0,
  /** The data, the spec or a Secret must change (any non-transient reason). */
  failed: 1,
  /** The program's environment is invalid: an operator bug. */
  invalidEnvironment: 2,
  /** A reason in `transientFailureReasons`. */
  transient: 75,
} as const;

/** The exit code a program gives for a failure with `reason`. */
export function exitCodeFor(reason: FailureReason): number {
  return transientFailureReasons.has(reason) ? RuntimeExitCode.transient : RuntimeExitCode.failed;
}

const FailureSchema = z.object({
  outcome: z.literal('failed'),
  reason: FailureReasonSchema,
  message: z.string(),
  /** ValidationFailed: the rule (`minRows`, `maxMissingFraction`, `min`, `max`, `allowedValues`). */
  rule: z.string().optional(),
  /** ValidationFailed / InvalidData: the column concerned. */
  column: z.string().optional(),
  /** ValidationFailed: the value observed, as text. */
  observed: z.string().optional(),
});
export type Failure = z.infer<typeof FailureSchema>;

/** The ingestion program's result. */
export const IngestResultSchema = z.discriminatedUnion('outcome', [
  z.object({
    kind: z.literal('ingest'),
    outcome: z.literal('succeeded'),
    /** The version: content hash of the prepared data. */
    version: z.string(),
    rows: z.number().int().min(0),
    trainRows: z.number().int().min(0),
    testRows: z.number().int().min(0),
    /** True when the version was already in the store (unchanged data): nothing was uploaded. */
    reused: z.boolean(),
  }),
  FailureSchema.extend({ kind: z.literal('ingest') }),
]);
export type IngestResult = z.infer<typeof IngestResultSchema>;

/** The trainer's result (Lathe's trainer, or any image honouring the contract). */
export const TrainResultSchema = z.discriminatedUnion('outcome', [
  z.object({
    kind: z.literal('train'),
    outcome: z.literal('succeeded'),
    /** Where the trainer wrote the artifact (`LATHE_OUTPUT_URI`), and its manifest digest. */
    artifact: z.object({
      uri: z.string(),
      digest: z.string(),
      format: z.enum(['tfjs', 'onnx', 'savedmodel', 'torchscript', 'joblib', 'other']),
    }),
    /** Scalar test metrics (as in `metrics.json`). */
    metrics: z.record(z.string(), z.number()),
    /** What computed: `tensorflow-gpu`, `tensorflow`, `wasm`, `cpu`, or a framework's name. */
    backend: z.string(),
    epochs: z.number().int().min(0),
  }),
  FailureSchema.extend({ kind: z.literal('train') }),
]);
export type TrainResult = z.infer<typeof TrainResultSchema>;

/**
 * The inference server's result: it only ends on its own when it cannot serve (a server that
 * drained after SIGTERM writes nothing), so this is always a failure.
 */
export const ServeResultSchema = FailureSchema.extend({ kind: z.literal('serve') });
export type ServeResult = z.infer<typeof ServeResultSchema>;

/** An evaluation run's result: the model's metrics on the dataset version's test split. */
export const EvaluateResultSchema = z.discriminatedUnion('outcome', [
  z.object({
    kind: z.literal('evaluate'),
    outcome: z.literal('succeeded'),
    metrics: z.record(z.string(), z.number()),
    rows: z.number().int().min(0),
    /**
     * With `LATHE_FAIRNESS` and a split that has sensitive columns: the model's disparities on
     * it (for a RetrainPolicy's "no worse than the champion" rules).
     */
    fairness: FairnessSummarySchema.optional(),
    /** Why the disparities could not be computed, when they were asked for. */
    fairnessError: z.string().max(1024).optional(),
  }),
  FailureSchema.extend({ kind: z.literal('evaluate') }),
]);
export type EvaluateResult = z.infer<typeof EvaluateResultSchema>;

/** A BatchPrediction shard's result (the trainer image's `batch` mode, `contract/batch.ts`). */
export const BatchResultSchema = z.discriminatedUnion('outcome', [
  z.object({
    kind: z.literal('batch'),
    outcome: z.literal('succeeded'),
    shard: z.number().int().min(0),
    /** Rows written, error rows included. */
    rows: z.number().int().min(0),
    failedRecords: z.number().int().min(0),
    /** True when the shard's marker was already there: nothing was done again. */
    skipped: z.boolean(),
  }),
  FailureSchema.extend({ kind: z.literal('batch') }),
]);
export type BatchResult = z.infer<typeof BatchResultSchema>;

/** The schema of each kind of result, by `kind`. */
const resultSchemas = {
  ingest: IngestResultSchema,
  train: TrainResultSchema,
  serve: ServeResultSchema,
  evaluate: EvaluateResultSchema,
  batch: BatchResultSchema,
} as const;
type ResultKind = keyof typeof resultSchemas;
type ResultOf<K extends ResultKind> = z.infer<(typeof resultSchemas)[K]>;
type AnyResult = ResultOf<ResultKind>;

/** Serialises `result` to fit the kubelet's 4096 bytes, shortening the message if needed. */
export function terminationMessage(result: AnyResult): string {
  let text = JSON.stringify(result);
  if (Buffer.byteLength(text) <= MAX_TERMINATION_MESSAGE_BYTES) return text;
  if (result.outcome === 'failed') {
    const overflow = Buffer.byteLength(text) - MAX_TERMINATION_MESSAGE_BYTES + 3;
    const message = `${result.message.slice(0, Math.max(0, result.message.length - overflow - 16))}...`;
    text = JSON.stringify({ ...result, message });
    if (Buffer.byteLength(text) <= MAX_TERMINATION_MESSAGE_BYTES) return text;
  }
  throw new Error(`The result does not fit in ${MAX_TERMINATION_MESSAGE_BYTES} bytes`);
}

/** Writes `result` as the termination message at `path`. */
export function writeResult(result: AnyResult, path: string): void {
  writeFileSync(path, terminationMessage(result));
}

/** Parses a termination message; undefined when it is not a result of this `kind`. */
export function parseResult<K extends ResultKind>(
  kind: K,
  message: string | undefined,
): ResultOf<K> | undefined {
  if (!message) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(message);
  } catch {
    return undefined;
  }
  const parsed = resultSchemas[kind].safeParse(json);
  return parsed.success ? (parsed.data as ResultOf<K>) : undefined;
}

/** One epoch of training. */
export const EpochRecordSchema = z.object({
  epoch: z.number().int().min(1),
  loss: z.number(),
  valLoss: z.number().optional(),
  /** Other metrics of the epoch (accuracy, val_accuracy, ...). */
  metrics: z.record(z.string(), z.number()).default({}),
});
export type EpochRecord = z.infer<typeof EpochRecordSchema>;

/** `runs/<ns>/<job>/progress.json`: the latest epoch, rewritten each epoch. */
export const TrainingProgressSchema = z.object({
  epoch: z.number().int().min(0),
  totalEpochs: z.number().int().min(1),
  loss: z.number().optional(),
  valLoss: z.number().optional(),
  metrics: z.record(z.string(), z.number()).default({}),
  backend: z.string().optional(),
  /** RFC 3339. */
  updatedAt: z.string(),
});
export type TrainingProgress = z.infer<typeof TrainingProgressSchema>;

/** `runs/<ns>/<job>/history.json`: every epoch so far. */
export const TrainingHistorySchema = z.object({
  epochs: z.array(EpochRecordSchema),
});
export type TrainingHistory = z.infer<typeof TrainingHistorySchema>;

/**
 * `metrics.json` of a model artifact. Metric keys: classification `accuracy`, `precision`,
 * `recall`, `f1` (macro averages), `rocAuc` (binary only), `loss`; regression `mse`, `rmse`,
 * `mae`, `r2`, `loss`.
 */
export const ModelMetricsSchema = z.object({
  formatVersion: z.literal(1),
  task: z.enum(['classification', 'regression']),
  metrics: z.record(z.string(), z.number()),
  /** Classification: rows are true classes, columns predicted, in `classes` order. */
  confusionMatrix: z.array(z.array(z.number().int().min(0))).optional(),
  classes: z.array(z.string()).optional(),
  evaluatedOn: z.object({
    datasetVersion: z.string(),
    split: z.literal('test'),
    rows: z.number().int().min(0),
  }),
  /** What trained it: `tensorflow.js` on a backend, `scikit-learn`, ... */
  framework: z.string(),
  backend: z.string().optional(),
});
export type ModelMetrics = z.infer<typeof ModelMetricsSchema>;
