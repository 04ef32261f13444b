import { describe, expect, it } from 'vitest';
import { RuntimeEnvError } from '../../contract/runtime-env.js';
import { InferenceServiceSchema } from '../../operator/src/api/inferenceservice.js';
import { explainEnv } from '../../operator/src/controllers/inferenceservice/server-env.js';
import { serverConfigFromEnv } from './config.js';
import { DEFAULT_EXPLAIN_LIMITS } from './explain.js';

const env = {
  LATHE_OBJECT_STORE_ENDPOINT: 'http://minio:9000',
  LATHE_OBJECT_STORE_ACCESS_KEY: 'a',
  LATHE_OBJECT_STORE_SECRET_KEY: 'b',
  LATHE_MODEL_NAME: 'iris',
  LATHE_MODEL_VERSION: '3',
  LATHE_MODEL_URI: 's3://lathe/models/ns/iris/3/',
  LATHE_MODEL_DIGEST: `sha256:${'a'.repeat(64)}`,
};

describe('serverConfigFromEnv', () => {
  it('applies the defaults: no batching, no request log, WebAssembly', () => {
    expect(serverConfigFromEnv(env)).toMatchObject({
      modelName: 'iris',
      modelVersion: '3',
      inferenceService: 'iris',
      port: 8080,
      batchMaxSize: 1,
      batchMaxLatencyMs: 5,
      maxRequestBytes: 8 * 1024 * 1024,
      requestLogSampleRate: 0,
      feedbackUri: undefined,
      backend: 'auto',
      objectStore: { endpoint: 'http://minio:9000', bucket: 'lathe' },
    });
  });

  it('reads the artifact format, tfjs when an older operator did not set it', () => {
    expect(serverConfigFromEnv(env).modelFormat).toBe('tfjs');
    expect(serverConfigFromEnv({ ...env, LATHE_MODEL_FORMAT: 'onnx' }).modelFormat).toBe('onnx');
    // Formats the server does not run are read, and refused as the artifact's fault (main.ts).
    expect(serverConfigFromEnv({ ...env, LATHE_MODEL_FORMAT: 'joblib' }).modelFormat).toBe(
      'joblib',
    );
    expect(() => serverConfigFromEnv({ ...env, LATHE_MODEL_FORMAT: 'pickle' })).toThrow(
      'LATHE_MODEL_FORMAT',
    );
  });

  it('bounds shutdown within a 30 s grace period by default, and feedback is off without a token', () => {
    const config = serverConfigFromEnv(env);
    expect(config).toMatchObject({
      shutdownDelayMs: 5000,
      drainTimeoutMs: 15_000,
      flushTimeoutMs: 5000,
      feedbackTokenFile: undefined,
      recentRequests: { maxRequests: 10_000, maxBytes: 64 * 1024 * 1024, maxLabelled: 50_000 },
    });
    expect(config.shutdownDelayMs + config.drainTimeoutMs + config.flushTimeoutMs).toBeLessThan(
      30_000,
    );
  });

  it('reads the feedback token file, memory bounds and shutdown bounds from the environment', () => {
    expect(
      serverConfigFromEnv({
        ...env,
        LATHE_FEEDBACK_TOKEN_FILE: '/var/run/lathe/feedback-token/token',
        LATHE_RECENT_REQUESTS: '100',
        LATHE_RECENT_REQUESTS_MAX_BYTES: '1048576',
        LATHE_DRAIN_TIMEOUT_MS: '2000',
        LATHE_FLUSH_TIMEOUT_MS: '1000',
      }),
    ).toMatchObject({
      feedbackTokenFile: '/var/run/lathe/feedback-token/token',
      recentRequests: { maxRequests: 100, maxBytes: 1048576, maxLabelled: 500 },
      drainTimeoutMs: 2000,
      flushTimeoutMs: 1000,
    });
    expect(() => serverConfigFromEnv({ ...env, LATHE_DRAIN_TIMEOUT_MS: '-1' })).toThrow(
      'LATHE_DRAIN_TIMEOUT_MS',
    );
  });

  it('sets the input and connection limits from the environment, defaults otherwise', () => {
    expect(serverConfigFromEnv(env).limits).toEqual({
      maxJsonDepth: 32,
      maxRows: 10_000,
      maxTensorElements: 1_000_000,
      maxInFlight: 128,
      headersTimeoutMs: 10_000,
      bodyTimeoutMs: 30_000,
      requestTimeoutMs: 60_000,
      keepAliveTimeoutMs: 65_000,
      maxRequestsPerSocket: 1000,
    });
    const limits = serverConfigFromEnv({
      ...env,
      LATHE_MAX_IN_FLIGHT: '4',
      LATHE_HEADERS_TIMEOUT_MS: '500',
      LATHE_BODY_TIMEOUT_MS: '700',
      LATHE_REQUEST_TIMEOUT_MS: '1200',
    }).limits;
    expect(limits).toMatchObject({
      maxInFlight: 4,
      headersTimeoutMs: 500,
      bodyTimeoutMs: 700,
      requestTimeoutMs: 1200,
    });
  });

  it('refuses a request timeout shorter than the header and body timeouts together', () => {
    expect(() =>
      serverConfigFromEnv({
        ...env,
        LATHE_HEADERS_TIMEOUT_MS: '5000',
        LATHE_BODY_TIMEOUT_MS: '5000',
        LATHE_REQUEST_TIMEOUT_MS: '6000',
      }),
    ).toThrow(
      'LATHE_REQUEST_TIMEOUT_MS: must be at least LATHE_HEADERS_TIMEOUT_MS + LATHE_BODY_TIMEOUT_MS (10000); got 6000',
    );
    expect(() => serverConfigFromEnv({ ...env, LATHE_MAX_IN_FLIGHT: '0' })).toThrow(
      'LATHE_MAX_IN_FLIGHT',
    );
  });

  it('reads spec.explain as the Deployment passes it, with the same defaults unset', () => {
    const specExplain = (explain: object) =>
      InferenceServiceSchema.parse({
        apiVersion: 'lathe.dev/v1alpha1',
        kind: 'InferenceService',
        metadata: { name: 'iris', namespace: 'ns' },
        spec: { model: { name: 'iris' }, explain },
      }).spec.explain;
    const variables = (explain: object) =>
      Object.fromEntries(explainEnv(specExplain(explain)).map((e) => [e.name, e.value]));
    expect(serverConfigFromEnv(env).explain).toEqual(DEFAULT_EXPLAIN_LIMITS);
    expect(serverConfigFromEnv({ ...env, ...variables({}) }).explain).toEqual(
      DEFAULT_EXPLAIN_LIMITS,
    );
    expect(
      serverConfigFromEnv({
        ...env,
        ...variables({ maxRows: 2, timeoutSeconds: 4, backgroundRows: 8, kernelSamples: 300 }),
      }).explain,
    ).toEqual({ maxRows: 2, timeoutMs: 4000, backgroundRows: 8, kernelSamples: 300 });
  });

  it('names every bad variable, never printing a URI', () => {
    const bad = {
      ...env,
      LATHE_MODEL_DIGEST: 'md5:abc',
      LATHE_BATCH_MAX_SIZE: '0',
      LATHE_REQUEST_LOG_SAMPLE_RATE: '2',
      LATHE_FEEDBACK_URI: 'https://secret@host/x',
    };
    expect(() => serverConfigFromEnv(bad)).toThrow(RuntimeEnvError);
    const message = (() => {
      try {
        serverConfigFromEnv(bad);
      } catch (error) {
        return (error as Error).message;
      }
    })();
    expect(message).toContain('LATHE_MODEL_DIGEST: must be sha256:<64 hex digits>');
    expect(message).toContain('LATHE_BATCH_MAX_SIZE');
    expect(message).toContain('LATHE_REQUEST_LOG_SAMPLE_RATE');
    expect(message).toContain('LATHE_FEEDBACK_URI: must be an s3:// URI');
    expect(message).not.toContain('secret@host');
  });
});
