/**
 * The settings of the trainer image's `batch` mode (one shard of a BatchPrediction), read from
 * the environment the operator gives the shard's pod (`BatchEnv`, `ObjectStoreEnv`, and the
 * backend, GPUs and result path as the other modes read them), validated at start-up: a bad
 * variable is named in the error and the program exits before touching anything.
 */
import { z } from 'zod';
import {
  type BatchInput,
  BatchInputSchema,
  type BatchOutputOptions,
  BatchOutputOptionsSchema,
} from '../../contract/batch.js';
import { parseS3Uri } from '../../contract/object-store-layout.js';
import {
  type BackendChoice,
  BatchEnv,
  type ObjectStoreConfig,
  objectStoreFromEnv,
  parseEnv,
  RESULT_PATH_ENV,
  RuntimeEnvError,
  TrainEnv,
} from '../../contract/runtime-env.js';
import type { AddressPolicy } from '../ingest/address-policy.js';
import { httpPolicyFromEnv } from '../ingest/settings.js';
import { executionEnv, jsonOf, prefixUri } from '../trainer/env.js';

export interface BatchSettings {
  /** The artifact that scores: `s3://<bucket>/models/<ns>/<model>/<version>/`. */
  modelUri: string;
  /** Its digest (`sha256:<hex>` of its manifest): the shard refuses anything else. */
  modelDigest: string;
  /** Its format: `tfjs` runs on TensorFlow.js, `onnx` on ONNX Runtime. */
  modelFormat: 'tfjs' | 'onnx';
  input: BatchInput;
  output: BatchOutputOptions;
  /** Where the parts and markers go: `s3://<bucket>/batch/<ns>/<name>/<run>/`. */
  outputUri: string;
  /** `stats.json` of the model's dataset version, if it has one: inputs are counted over it. */
  statsUri?: string | undefined;
  shards: number;
  /** This pod's shard, `0 ≤ shardIndex < shards`. */
  shardIndex: number;
  /** The largest share of failed records, in percent (default 0: none may fail). */
  maxFailedRecordsPercent: number;
  backend: BackendChoice;
  gpus: number;
  objectStore: ObjectStoreConfig;
  resultPath: string;
  /** HTTP input: where the request headers' Secret is mounted (one file per header). */
  httpHeadersDir: string | undefined;
  /** HTTP input: which addresses may be reached (the install's policy, as ingestion's). */
  httpPolicy: AddressPolicy;
}

/** Output column names a passthrough column may not take: the outputs' own. */
const RESERVED_COLUMNS = new Set(['label', 'probabilities', 'prediction', 'error']);
/** With explanations: the JSON Lines key, and the CSV columns' prefix. */
const EXPLANATION_COLUMN = 'explanation';
const EXPLANATION_PREFIX = 'shap_';

/** An object in the store (the training statistics). */
const s3ObjectUri = z.string().refine(
  (uri) => {
    try {
      return !parseS3Uri(uri).key.endsWith('/') && parseS3Uri(uri).key !== '';
    } catch {
      return false;
    }
  },
  { message: 'must be an s3://<bucket>/<key> URI of an object' },
);

const inputObjectUri = z.string().refine(
  (uri) => {
    if (/^https?:\/\/[^\s/]/.test(uri)) return URL.canParse(uri);
    try {
      return !parseS3Uri(uri).key.endsWith('/') && parseS3Uri(uri).key !== '';
    } catch {
      return false;
    }
  },
  { message: 'must be an s3://<bucket>/<key> URI of an object or an http(s):// URL' },
);

const BatchEnvSchema = z.object({
  [BatchEnv.modelUri]: prefixUri,
  [BatchEnv.modelDigest]: z
    .string()
    .regex(/^sha256:[a-f0-9]{64}$/, { message: 'must be sha256:<64 lowercase hex digits>' }),
  [BatchEnv.modelFormat]: z.enum(['tfjs', 'onnx']).default('tfjs'),
  [BatchEnv.input]: jsonOf(
    BatchInputSchema.extend({
      objects: z.array(BatchInputSchema.shape.objects.element.extend({ uri: inputObjectUri })),
    }).superRefine((input, ctx) => {
      for (const [i, o] of input.objects.entries()) {
        if (o.uri.startsWith('s3://') && o.sizeBytes === undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['objects', i, 'sizeBytes'],
            message: 'an S3 object needs its size (the operator lists it)',
          });
        }
      }
      const headerless = !input.csv.header && input.objects.some((o) => o.format === 'csv');
      if (headerless && (input.columns ?? []).length === 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['columns'],
          message: 'CSV without a header (csv.header: false) needs the column names',
        });
      }
    }),
  ),
  [BatchEnv.output]: jsonOf(
    BatchOutputOptionsSchema.superRefine((output, ctx) => {
      const explained = output.include.includes('explanations');
      for (const [i, name] of output.passthroughColumns.entries()) {
        if (
          RESERVED_COLUMNS.has(name) ||
          name.startsWith('probability_') ||
          (explained && (name === EXPLANATION_COLUMN || name.startsWith(EXPLANATION_PREFIX)))
        ) {
          ctx.addIssue({
            code: 'custom',
            path: ['passthroughColumns', i],
            message: `"${name}" is an output column's name`,
          });
        }
      }
      if (explained && !output.explanations) {
        ctx.addIssue({
          code: 'custom',
          path: ['explanations'],
          message: 'is required when include has explanations',
        });
      }
    }),
  ),
  [BatchEnv.outputUri]: prefixUri,
  [BatchEnv.statsUri]: s3ObjectUri.optional(),
  [BatchEnv.shards]: z.coerce.number().int().min(1),
  [BatchEnv.shardIndex]: z.coerce.number().int().min(0),
  [BatchEnv.maxFailedRecordsPercent]: z.coerce.number().min(0).max(100).default(0),
  [BatchEnv.httpHeadersDir]: z.string().min(1).optional(),
  ...executionEnv,
});

/** Reads the `batch` mode's settings; throws `RuntimeEnvError` naming every bad variable. */
export function batchSettingsFromEnv(env: Record<string, string | undefined>): BatchSettings {
  const e = parseEnv(BatchEnvSchema, env);
  const shards = e[BatchEnv.shards];
  const shardIndex = e[BatchEnv.shardIndex];
  if (shardIndex >= shards) {
    throw new RuntimeEnvError([
      `${BatchEnv.shardIndex}: shard ${shardIndex} is not in 0..${shards - 1} (${BatchEnv.shards} is ${shards})`,
    ]);
  }
  return {
    modelUri: e[BatchEnv.modelUri],
    modelDigest: e[BatchEnv.modelDigest],
    modelFormat: e[BatchEnv.modelFormat],
    input: e[BatchEnv.input],
    output: e[BatchEnv.output],
    outputUri: e[BatchEnv.outputUri],
    statsUri: e[BatchEnv.statsUri],
    shards,
    shardIndex,
    maxFailedRecordsPercent: e[BatchEnv.maxFailedRecordsPercent],
    backend: e[TrainEnv.backend],
    gpus: e[TrainEnv.gpus],
    objectStore: objectStoreFromEnv(env),
    resultPath: e[RESULT_PATH_ENV],
    httpHeadersDir: e[BatchEnv.httpHeadersDir],
    httpPolicy: httpPolicyFromEnv(env),
  };
}
