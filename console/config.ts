/**
 * The console's configuration, from environment variables (the chart sets them), validated
 * once at start: a bad value stops the process with one message naming every bad variable
 * (exit code 2), as the operator's `config.ts` does. The object-store variables are the
 * operator's, so one Secret configures both.
 */
import { z } from 'zod';
import { type ObjectStoreConfig, objectStoreDefaults } from '../contract/object-store.js';
import {
  boolean,
  ConfigError,
  integer,
  type LogLevel,
  logLevels,
  optional,
  parseEnvironment,
} from '../operator/src/config.js';

export { ConfigError };

export interface ConsoleConfig {
  logLevel: LogLevel;
  bindAddress: string;
  port: number;
  /** Empty: all namespaces. */
  watchNamespaces: string[];
  /** Mark the sign-in cookie `Secure` (the console is reached over HTTPS, e.g. an Ingress). */
  secureCookie: boolean;
  /** How long TokenReview and SubjectAccessReview answers are kept, in seconds. */
  reviewCacheSeconds: number;
  /** Where run records are read from; undefined: pages that need them say so. */
  objectStore: ObjectStoreConfig | undefined;
  /** How often the servers' metrics sampler samples every InferenceService, in seconds. */
  sampleIntervalSeconds: number;
  /** Samples kept per InferenceService (the serving page's window is interval × samples). */
  samples: number;
}

const envSchema = z.object({
  LATHE_LOG_LEVEL: optional(z.enum(logLevels, { error: `must be one of ${logLevels.join(', ')}` })),
  LATHE_CONSOLE_BIND_ADDRESS: optional(
    z.union([z.ipv4(), z.ipv6()], { error: 'must be an IP address' }),
  ),
  LATHE_CONSOLE_PORT: optional(integer(0, 65535)),
  LATHE_WATCH_NAMESPACES: optional(
    z
      .string()
      .transform((s) =>
        s
          .split(',')
          .map((n) => n.trim())
          .filter((n) => n !== ''),
      )
      .refine(
        (names) => names.every((n) => /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(n) && n.length <= 63),
        {
          error: 'must be a comma-separated list of namespace names',
        },
      ),
  ),
  LATHE_CONSOLE_SECURE_COOKIE: optional(boolean),
  LATHE_CONSOLE_REVIEW_CACHE_SECONDS: optional(integer(1, 600)),
  LATHE_CONSOLE_SAMPLE_INTERVAL_SECONDS: optional(integer(1, 3600)),
  LATHE_CONSOLE_SAMPLES: optional(integer(2, 10_000)),
  LATHE_OBJECT_STORE_ENDPOINT: optional(
    z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
  ),
  LATHE_OBJECT_STORE_BUCKET: optional(
    z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { error: 'must be a valid S3 bucket name' }),
  ),
  LATHE_OBJECT_STORE_ACCESS_KEY: optional(z.string()),
  LATHE_OBJECT_STORE_SECRET_KEY: optional(z.string()),
  LATHE_OBJECT_STORE_REGION: optional(
    z.string().regex(/^[a-z0-9-]+$/, { error: 'must be a region name such as us-east-1' }),
  ),
});

/** Parses the console's configuration from `env`; throws `ConfigError` listing every problem. */
export function loadConsoleConfig(env: NodeJS.ProcessEnv): ConsoleConfig {
  const e = parseEnvironment(envSchema, env);
  const store = {
    LATHE_OBJECT_STORE_ENDPOINT: e.LATHE_OBJECT_STORE_ENDPOINT,
    LATHE_OBJECT_STORE_ACCESS_KEY: e.LATHE_OBJECT_STORE_ACCESS_KEY,
    LATHE_OBJECT_STORE_SECRET_KEY: e.LATHE_OBJECT_STORE_SECRET_KEY,
  };
  const set = Object.values(store).filter((v) => v !== undefined).length;
  if (set > 0 && set < 3) {
    throw new ConfigError(
      Object.entries(store)
        .filter(([, v]) => v === undefined)
        .map(([name]) => `${name}: required when any of ${Object.keys(store).join(', ')} is set`),
    );
  }
  return {
    logLevel: e.LATHE_LOG_LEVEL ?? 'info',
    bindAddress: e.LATHE_CONSOLE_BIND_ADDRESS ?? '0.0.0.0',
    port: e.LATHE_CONSOLE_PORT ?? 8080,
    watchNamespaces: e.LATHE_WATCH_NAMESPACES ?? [],
    secureCookie: e.LATHE_CONSOLE_SECURE_COOKIE ?? false,
    reviewCacheSeconds: e.LATHE_CONSOLE_REVIEW_CACHE_SECONDS ?? 30,
    sampleIntervalSeconds: e.LATHE_CONSOLE_SAMPLE_INTERVAL_SECONDS ?? 20,
    samples: e.LATHE_CONSOLE_SAMPLES ?? 180,
    objectStore:
      set === 3
        ? {
            endpoint: e.LATHE_OBJECT_STORE_ENDPOINT!,
            accessKey: e.LATHE_OBJECT_STORE_ACCESS_KEY!,
            secretKey: e.LATHE_OBJECT_STORE_SECRET_KEY!,
            bucket: e.LATHE_OBJECT_STORE_BUCKET ?? objectStoreDefaults.bucket,
            region: e.LATHE_OBJECT_STORE_REGION ?? objectStoreDefaults.region,
          }
        : undefined,
  };
}
