/**
 * The inference server's configuration: the `ServeEnv` variables of the shared contract plus the
 * object-store connection, validated once at start-up. A bad variable stops the server with a
 * message naming it (exit code 2), before anything is downloaded.
 */
import { hostname } from 'node:os';
import { z } from 'zod';
import {
  type BackendChoice,
  BackendChoiceSchema,
  type ObjectStoreConfig,
  objectStoreFromEnv,
  parseEnv,
  RuntimeEnvError,
  ServeEnv,
} from '../../contract/runtime-env.js';
import { type ArtifactFormat, ArtifactSchema } from '../../operator/src/api/modelversion.js';
import { DEFAULT_EXPLAIN_LIMITS, type ExplainLimits } from './explain.js';
import { DEFAULT_RECENT_REQUESTS_LIMITS, type RecentRequestsLimits } from './feedback.js';
import { DEFAULT_DRAIN_TIMEOUT_MS, DEFAULT_SERVER_LIMITS, type ServerLimits } from './server.js';

/** After draining, how long the request log and labels get to be written before exit. */
export const DEFAULT_FLUSH_TIMEOUT_MS = 5000;

export interface ServerConfig {
  namespace: string;
  inferenceService: string;
  modelName: string;
  modelVersion: string;
  modelUri: string;
  modelDigest: string;
  /** The ModelVersion's artifact format (`spec.artifact.format`); `main.ts` refuses unserved ones. */
  modelFormat: ArtifactFormat;
  port: number;
  bindAddress: string;
  /** Most requests sharing one forward pass; 1 turns batching off. */
  batchMaxSize: number;
  /** Longest a request waits for others to join its batch. */
  batchMaxLatencyMs: number;
  maxRequestBytes: number;
  /** Fraction of prediction requests written under `feedbackUri`. */
  requestLogSampleRate: number;
  requestLogFlushIntervalMs: number;
  /** Where sampled requests and labels go; unset: nothing is written (labels still score). */
  feedbackUri: string | undefined;
  backend: BackendChoice;
  shutdownDelayMs: number;
  /** After the listener closed, how long requests in flight may take (then 503). */
  drainTimeoutMs: number;
  /** Then how long writing the request log and labels may take before exit. */
  flushTimeoutMs: number;
  /** The file holding the bearer token `:feedback` needs; unset: feedback is disabled. */
  feedbackTokenFile: string | undefined;
  /** What is remembered for feedback. */
  recentRequests: RecentRequestsLimits;
  /** Names the files this replica writes. */
  podName: string;
  objectStore: ObjectStoreConfig;
  /** Input and connection limits (`LATHE_MAX_*`, `LATHE_*_TIMEOUT_MS`). */
  limits: ServerLimits;
  /** What one `:explain` request may cost (`LATHE_EXPLAIN_*`, from `spec.explain`). */
  explain: ExplainLimits;
}

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** Reads and validates the server's environment; throws `RuntimeEnvError` naming each bad variable. */
export function serverConfigFromEnv(env: Record<string, string | undefined>): ServerConfig {
  const e = parseEnv(
    z.object({
      [ServeEnv.namespace]: z.string().min(1).default('default'),
      [ServeEnv.inferenceService]: z.string().min(1).optional(),
      [ServeEnv.modelName]: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, {
        message: 'must be a model name (lowercase letters, digits and -)',
      }),
      [ServeEnv.modelVersion]: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, {
        message: 'must be a version (letters, digits, . _ -)',
      }),
      [ServeEnv.modelUri]: z.string().startsWith('s3://', { message: 'must be an s3:// URI' }),
      [ServeEnv.modelDigest]: z
        .string()
        .regex(/^sha256:[a-f0-9]{64}$/, { message: 'must be sha256:<64 hex digits>' }),
      [ServeEnv.modelFormat]: ArtifactSchema.shape.format.default('tfjs'),
      [ServeEnv.port]: int(1, 65535).default(8080),
      [ServeEnv.bindAddress]: z.string().min(1).default('0.0.0.0'),
      [ServeEnv.batchMaxSize]: int(1, 4096).default(1),
      [ServeEnv.batchMaxLatencyMs]: int(0, 10_000).default(5),
      [ServeEnv.maxRequestBytes]: int(1024, 1024 * 1024 * 1024).default(8 * 1024 * 1024),
      [ServeEnv.requestLogSampleRate]: z.coerce.number().min(0).max(1).default(0),
      [ServeEnv.requestLogFlushIntervalMs]: int(10, 3_600_000).default(10_000),
      [ServeEnv.feedbackUri]: z
        .string()
        .startsWith('s3://', { message: 'must be an s3:// URI' })
        .optional(),
      [ServeEnv.backend]: BackendChoiceSchema.default('auto'),
      [ServeEnv.shutdownDelayMs]: int(0, 600_000).default(5000),
      [ServeEnv.drainTimeoutMs]: int(0, 3_600_000).default(DEFAULT_DRAIN_TIMEOUT_MS),
      [ServeEnv.flushTimeoutMs]: int(0, 3_600_000).default(DEFAULT_FLUSH_TIMEOUT_MS),
      [ServeEnv.feedbackTokenFile]: z.string().min(1).optional(),
      [ServeEnv.recentRequests]: int(0, 10_000_000).default(
        DEFAULT_RECENT_REQUESTS_LIMITS.maxRequests,
      ),
      [ServeEnv.recentRequestsMaxBytes]: int(0, 64 * 1024 * 1024 * 1024).default(
        DEFAULT_RECENT_REQUESTS_LIMITS.maxBytes,
      ),
      [ServeEnv.podName]: z.string().min(1).optional(),
      ...limitVariables,
      [ServeEnv.explainMaxRows]: int(1, 1_000_000).default(DEFAULT_EXPLAIN_LIMITS.maxRows),
      [ServeEnv.explainTimeoutMs]: int(1, 3_600_000).default(DEFAULT_EXPLAIN_LIMITS.timeoutMs),
      [ServeEnv.explainBackgroundRows]: int(1, 1_000_000).default(
        DEFAULT_EXPLAIN_LIMITS.backgroundRows,
      ),
      [ServeEnv.explainKernelSamples]: int(1, 10_000_000).default(
        DEFAULT_EXPLAIN_LIMITS.kernelSamples,
      ),
    }),
    env,
  );
  const limits = limitsOf(e);
  const modelName = e[ServeEnv.modelName] as string;
  return {
    namespace: e[ServeEnv.namespace] as string,
    inferenceService: (e[ServeEnv.inferenceService] as string | undefined) ?? modelName,
    modelName,
    modelVersion: e[ServeEnv.modelVersion] as string,
    modelUri: e[ServeEnv.modelUri] as string,
    modelDigest: e[ServeEnv.modelDigest] as string,
    modelFormat: e[ServeEnv.modelFormat] as ArtifactFormat,
    port: e[ServeEnv.port] as number,
    bindAddress: e[ServeEnv.bindAddress] as string,
    batchMaxSize: e[ServeEnv.batchMaxSize] as number,
    batchMaxLatencyMs: e[ServeEnv.batchMaxLatencyMs] as number,
    maxRequestBytes: e[ServeEnv.maxRequestBytes] as number,
    requestLogSampleRate: e[ServeEnv.requestLogSampleRate] as number,
    requestLogFlushIntervalMs: e[ServeEnv.requestLogFlushIntervalMs] as number,
    feedbackUri: e[ServeEnv.feedbackUri] as string | undefined,
    backend: e[ServeEnv.backend] as BackendChoice,
    shutdownDelayMs: e[ServeEnv.shutdownDelayMs] as number,
    drainTimeoutMs: e[ServeEnv.drainTimeoutMs] as number,
    flushTimeoutMs: e[ServeEnv.flushTimeoutMs] as number,
    feedbackTokenFile: e[ServeEnv.feedbackTokenFile] as string | undefined,
    recentRequests: {
      maxRequests: e[ServeEnv.recentRequests] as number,
      maxBytes: e[ServeEnv.recentRequestsMaxBytes] as number,
      // First label wins over five times the requests remembered (about 100 bytes an ID).
      maxLabelled: 5 * (e[ServeEnv.recentRequests] as number),
    },
    podName: (e[ServeEnv.podName] as string | undefined) ?? hostname(),
    objectStore: objectStoreFromEnv(env),
    limits,
    explain: {
      maxRows: e[ServeEnv.explainMaxRows] as number,
      timeoutMs: e[ServeEnv.explainTimeoutMs] as number,
      backgroundRows: e[ServeEnv.explainBackgroundRows] as number,
      kernelSamples: e[ServeEnv.explainKernelSamples] as number,
    },
  };
}

const d = DEFAULT_SERVER_LIMITS;
/** The variables of `ServerLimits`, each with its default. */
const limitVariables = {
  [ServeEnv.maxJsonDepth]: int(2, 1000).default(d.maxJsonDepth),
  [ServeEnv.maxRowsPerRequest]: int(1, 10_000_000).default(d.maxRows),
  [ServeEnv.maxTensorElements]: int(1, 1_000_000_000).default(d.maxTensorElements),
  [ServeEnv.maxInFlight]: int(1, 1_000_000).default(d.maxInFlight),
  [ServeEnv.headersTimeoutMs]: int(100, 3_600_000).default(d.headersTimeoutMs),
  [ServeEnv.bodyTimeoutMs]: int(100, 3_600_000).default(d.bodyTimeoutMs),
  [ServeEnv.requestTimeoutMs]: int(100, 3_600_000).default(d.requestTimeoutMs),
  [ServeEnv.keepAliveTimeoutMs]: int(0, 3_600_000).default(d.keepAliveTimeoutMs),
  [ServeEnv.maxRequestsPerSocket]: int(0, 100_000_000).default(d.maxRequestsPerSocket),
};

/** The limits from parsed variables; a request timeout shorter than its parts is refused. */
function limitsOf(e: Record<string, unknown>): ServerLimits {
  const limits: ServerLimits = {
    maxJsonDepth: e[ServeEnv.maxJsonDepth] as number,
    maxRows: e[ServeEnv.maxRowsPerRequest] as number,
    maxTensorElements: e[ServeEnv.maxTensorElements] as number,
    maxInFlight: e[ServeEnv.maxInFlight] as number,
    headersTimeoutMs: e[ServeEnv.headersTimeoutMs] as number,
    bodyTimeoutMs: e[ServeEnv.bodyTimeoutMs] as number,
    requestTimeoutMs: e[ServeEnv.requestTimeoutMs] as number,
    keepAliveTimeoutMs: e[ServeEnv.keepAliveTimeoutMs] as number,
    maxRequestsPerSocket: e[ServeEnv.maxRequestsPerSocket] as number,
  };
  const parts = limits.headersTimeoutMs + limits.bodyTimeoutMs;
  if (limits.requestTimeoutMs < parts) {
    throw new RuntimeEnvError([
      `${ServeEnv.requestTimeoutMs}: must be at least ${ServeEnv.headersTimeoutMs} + ${ServeEnv.bodyTimeoutMs} (${parts}); got ${limits.requestTimeoutMs}`,
    ]);
  }
  return limits;
}
