/**
 * The operator's configuration, read from environment variables (the Helm chart sets them) and
 * validated once at start-up. A bad value stops the process with one readable message naming
 * every bad variable and why (exit code 2), instead of failing later in some reconcile.
 */

import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import os from 'node:os';
import { z } from 'zod';
import { parseCidrList } from '../../contract/cidr.js';
import { type ObjectStoreConfig, objectStoreDefaults } from '../../contract/object-store.js';
import { refusedNamespaces } from './runtime/namespace-policy.js';

/** How the operator obtains pods' credentials (`LATHE_OBJECT_STORE_CREDENTIALS*`). */
export interface CredentialSettings {
  mode: 'scoped' | 'shared';
  /** Lifetime of scoped credentials, in seconds (900 or more). */
  durationSeconds: number;
  /** The STS endpoint; the object store's endpoint when unset (MinIO). */
  stsEndpoint?: string;
  /** The role to assume (AWS); MinIO ignores it. */
  roleArn?: string;
}

export const defaultCredentialSettings: CredentialSettings = {
  mode: 'scoped',
  durationSeconds: 12 * 3600,
};

/** The version of the operator and, by default, of the runtime images it runs. Kept equal to package.json (a test checks). */
export const LATHE_VERSION = '0.1.0';

export const logLevels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevel = (typeof logLevels)[number];

export interface OperatorConfig {
  logLevel: LogLevel;
  /** Empty: all namespaces. */
  watchNamespaces: string[];
  /**
   * Namespaces whose Lathe objects get no children, only a `NamespaceRefused` condition: always
   * `kube-system`, plus `LATHE_REFUSED_NAMESPACES`. None of them may be watched.
   */
  refusedNamespaces: string[];
  leaderElection: {
    enabled: boolean;
    /** Set whenever `enabled`. */
    namespace: string | undefined;
    id: string;
    leaseDurationSeconds: number;
    renewDeadlineSeconds: number;
    retryPeriodSeconds: number;
  };
  bindAddress: string;
  metricsPort: number;
  healthPort: number;
  workers: number;
  /** Undefined until configured; the ModelVersion controller requires it. */
  objectStore: ObjectStoreConfig | undefined;
  /**
   * The PII master key (`LATHE_PII_KEY`, from the Secret `lathe-pii-key`): each namespace's
   * key derives from it (`controllers/shared/pii-key.ts`). Unset: PII columns cannot be hashed.
   */
  piiMasterKey?: string | undefined;
  /** How the pods' own object-store credentials are obtained (`object-store-access.ts`). */
  objectStoreCredentials: CredentialSettings;
  images: {
    ingest: string;
    trainer: string;
    /** The trainer built with the GPU variant of TensorFlow, for TrainingJobs that ask for GPUs. */
    trainerGpu: string;
    server: string;
    retrain: string;
    /** The activator that holds requests of InferenceServices scaled to zero. */
    activator: string;
  };
  /**
   * Where a Dataset's HTTP source may connect, passed to every ingestion pod: CIDRs refused
   * (`denyCIDRs`), CIDRs allowed inside them, and the API server's addresses known here.
   * Loopback, link-local and unspecified addresses are refused whatever these say.
   */
  httpSource: HttpSourcePolicy;
  podName: string | undefined;
  podNamespace: string | undefined;
  /** This replica's identity: lease holder and event reporting instance. */
  identity: string;
}

/** The install's policy for HTTP sources (see `runtime-images/ingest/address-policy.ts`). */
export interface HttpSourcePolicy {
  /** CIDRs as written, validated. */
  denyCIDRs: string[];
  allowCIDRs: string[];
  /** The `kubernetes` Service's address as this process sees it (`KUBERNETES_SERVICE_HOST`). */
  apiServerAddresses: string[];
}

/** The configuration could not be read; `problems` has one line per bad variable. */
export class ConfigError extends Error {
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** A loose image-reference check: no whitespace, no scheme, not empty. */
const imageReference = /^[a-z0-9][a-z0-9._\-/:@]*$/i;

/** Empty and whitespace-only values count as unset, as an empty Helm value renders. */
export const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess(
    (v) =>
      typeof v === 'string' && v.trim() === '' ? undefined : typeof v === 'string' ? v.trim() : v,
    schema.optional(),
  );

/** A whole number from `min` to `max`, from an environment variable's text. */
export const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, { error: `must be a whole number from ${min} to ${max}` })
    .transform(Number)
    .refine((n) => n >= min && n <= max, { error: `must be a whole number from ${min} to ${max}` });

/** true/false (also 1/0, yes/no, any case), from an environment variable's text. */
export const boolean = z
  .string()
  .transform((s) => s.toLowerCase())
  .refine((s) => ['true', 'false', '1', '0', 'yes', 'no'].includes(s), {
    error: 'must be true or false',
  })
  .transform((s) => s === 'true' || s === '1' || s === 'yes');

const image = z
  .string()
  .regex(imageReference, { error: 'must be an image reference such as ghcr.io/org/name:tag' });

/** A comma-separated list of CIDRs, each checked; the message names every bad entry. */
const cidrList = z.string().transform((text, ctx) => {
  try {
    return parseCidrList(text).map((c) => c.text);
  } catch (error) {
    ctx.addIssue({
      code: 'custom',
      message: `must be a comma-separated list of CIDRs: ${(error as Error).message}`,
    });
    return z.NEVER;
  }
});

/** A comma-separated list of namespace names; blanks and empty entries are dropped. */
const namespaceList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((n) => n.trim())
      .filter((n) => n !== ''),
  )
  .refine((names) => names.every((n) => dns1123Label.test(n) && n.length <= 63), {
    error: 'must be a comma-separated list of namespace names',
  });

const envSchema = z.object({
  LATHE_LOG_LEVEL: optional(z.enum(logLevels, { error: `must be one of ${logLevels.join(', ')}` })),
  LATHE_WATCH_NAMESPACES: optional(namespaceList),
  LATHE_REFUSED_NAMESPACES: optional(namespaceList),
  LATHE_LEADER_ELECT: optional(boolean),
  LATHE_LEADER_ELECTION_NAMESPACE: optional(
    z.string().regex(dns1123Label, { error: 'must be a namespace name' }),
  ),
  LATHE_LEADER_ELECTION_ID: optional(
    z
      .string()
      .max(253)
      .regex(dns1123Subdomain, { error: 'must be a valid Lease name (lower-case DNS subdomain)' }),
  ),
  LATHE_LEASE_DURATION_SECONDS: optional(integer(1, 3600)),
  LATHE_RENEW_DEADLINE_SECONDS: optional(integer(1, 3600)),
  LATHE_RETRY_PERIOD_SECONDS: optional(integer(1, 3600)),
  LATHE_BIND_ADDRESS: optional(z.union([z.ipv4(), z.ipv6()], { error: 'must be an IP address' })),
  LATHE_METRICS_PORT: optional(integer(0, 65535)),
  LATHE_HEALTH_PORT: optional(integer(0, 65535)),
  LATHE_WORKERS: optional(integer(1, 64)),
  LATHE_OBJECT_STORE_ENDPOINT: optional(
    z.url({
      protocol: /^https?$/,
      error: 'must be an http:// or https:// URL, such as http://minio:9000',
    }),
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
  LATHE_OBJECT_STORE_CREDENTIALS: optional(
    z.enum(['scoped', 'shared'], { error: 'must be scoped or shared' }),
  ),
  LATHE_OBJECT_STORE_CREDENTIALS_DURATION_SECONDS: optional(integer(900, 365 * 24 * 3600)),
  LATHE_OBJECT_STORE_STS_ENDPOINT: optional(
    z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
  ),
  LATHE_OBJECT_STORE_STS_ROLE_ARN: optional(z.string().min(1)),
  LATHE_PII_KEY: optional(z.string().min(1)),
  LATHE_IMAGE_INGEST: optional(image),
  LATHE_IMAGE_TRAINER: optional(image),
  LATHE_IMAGE_TRAINER_GPU: optional(image),
  LATHE_IMAGE_SERVER: optional(image),
  LATHE_IMAGE_RETRAIN: optional(image),
  LATHE_IMAGE_ACTIVATOR: optional(image),
  LATHE_HTTP_SOURCE_DENY_CIDRS: optional(cidrList),
  LATHE_HTTP_SOURCE_ALLOW_CIDRS: optional(cidrList),
  KUBERNETES_SERVICE_HOST: optional(z.string()),
  POD_NAME: optional(z.string()),
  POD_NAMESPACE: optional(z.string().regex(dns1123Label, { error: 'must be a namespace name' })),
});

/**
 * The variables `schema` names, read from `env` and parsed; throws `ConfigError` listing every
 * bad one with its value (never a `*_KEY`'s).
 */
export function parseEnvironment<S extends z.ZodObject>(
  schema: S,
  env: NodeJS.ProcessEnv,
): z.infer<S> {
  const relevant = Object.fromEntries(Object.keys(schema.shape).map((k) => [k, env[k]]));
  const parsed = schema.safeParse(relevant);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = String(issue.path[0] ?? 'environment');
        const value = env[name];
        const shown = name.endsWith('_KEY') || value === undefined ? '' : ` (got "${value}")`;
        return `${name}: ${issue.message}${shown}`;
      }),
    );
  }
  return parsed.data;
}

/**
 * Parses the operator's configuration from `env`. Throws `ConfigError` listing every problem.
 * `hostname` only seeds the identity when `POD_NAME` is unset (local runs).
 */
export function loadConfig(
  env: NodeJS.ProcessEnv,
  hostname: string = os.hostname(),
): OperatorConfig {
  const e = parseEnvironment(envSchema, env);
  const problems: string[] = [];

  const leaderElect = e.LATHE_LEADER_ELECT ?? true;
  const leaseDuration = e.LATHE_LEASE_DURATION_SECONDS ?? 15;
  const renewDeadline = e.LATHE_RENEW_DEADLINE_SECONDS ?? 10;
  const retryPeriod = e.LATHE_RETRY_PERIOD_SECONDS ?? 2;
  const electionNamespace = e.LATHE_LEADER_ELECTION_NAMESPACE ?? e.POD_NAMESPACE;
  if (leaderElect) {
    if (!electionNamespace) {
      problems.push(
        'LATHE_LEADER_ELECTION_NAMESPACE: required when LATHE_LEADER_ELECT is true and POD_NAMESPACE is unset',
      );
    }
    // client-go's rules: the lease outlives the renew deadline, which outlives a retry (with jitter).
    if (renewDeadline >= leaseDuration) {
      problems.push(
        `LATHE_RENEW_DEADLINE_SECONDS: must be less than LATHE_LEASE_DURATION_SECONDS (${renewDeadline} >= ${leaseDuration})`,
      );
    }
    if (retryPeriod * 1.2 >= renewDeadline) {
      problems.push(
        `LATHE_RETRY_PERIOD_SECONDS: must be less than LATHE_RENEW_DEADLINE_SECONDS / 1.2 (${retryPeriod} vs ${renewDeadline})`,
      );
    }
  }
  const watchNamespaces = e.LATHE_WATCH_NAMESPACES ?? [];
  const refused = refusedNamespaces(e.LATHE_REFUSED_NAMESPACES ?? []);
  const watchedAndRefused = watchNamespaces.filter((n) => refused.includes(n));
  if (watchedAndRefused.length > 0) {
    problems.push(
      `LATHE_WATCH_NAMESPACES: ${watchedAndRefused.join(', ')} ${watchedAndRefused.length === 1 ? 'is' : 'are'} refused (kube-system always, others by LATHE_REFUSED_NAMESPACES); Lathe never acts there`,
    );
  }
  const metricsPort = e.LATHE_METRICS_PORT ?? 8080;
  const healthPort = e.LATHE_HEALTH_PORT ?? 8081;
  if (metricsPort !== 0 && metricsPort === healthPort) {
    problems.push(`LATHE_HEALTH_PORT: must differ from LATHE_METRICS_PORT (both ${healthPort})`);
  }

  let objectStore: OperatorConfig['objectStore'];
  const storeVars = {
    LATHE_OBJECT_STORE_ENDPOINT: e.LATHE_OBJECT_STORE_ENDPOINT,
    LATHE_OBJECT_STORE_ACCESS_KEY: e.LATHE_OBJECT_STORE_ACCESS_KEY,
    LATHE_OBJECT_STORE_SECRET_KEY: e.LATHE_OBJECT_STORE_SECRET_KEY,
  };
  const setStoreVars = Object.entries(storeVars).filter(([, v]) => v !== undefined);
  if (setStoreVars.length > 0 && setStoreVars.length < 3) {
    for (const [name, value] of Object.entries(storeVars)) {
      if (value === undefined) {
        problems.push(`${name}: required when any of ${Object.keys(storeVars).join(', ')} is set`);
      }
    }
  } else if (
    e.LATHE_OBJECT_STORE_ENDPOINT &&
    e.LATHE_OBJECT_STORE_ACCESS_KEY &&
    e.LATHE_OBJECT_STORE_SECRET_KEY
  ) {
    objectStore = {
      endpoint: e.LATHE_OBJECT_STORE_ENDPOINT,
      bucket: e.LATHE_OBJECT_STORE_BUCKET ?? objectStoreDefaults.bucket,
      accessKey: e.LATHE_OBJECT_STORE_ACCESS_KEY,
      secretKey: e.LATHE_OBJECT_STORE_SECRET_KEY,
      region: e.LATHE_OBJECT_STORE_REGION ?? objectStoreDefaults.region,
    };
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const defaultImage = (name: string) => `ghcr.io/lathe-dev/lathe-${name}:${LATHE_VERSION}`;
  return {
    logLevel: e.LATHE_LOG_LEVEL ?? 'info',
    watchNamespaces,
    refusedNamespaces: refused,
    leaderElection: {
      enabled: leaderElect,
      namespace: electionNamespace,
      id: e.LATHE_LEADER_ELECTION_ID ?? 'lathe-operator-leader',
      leaseDurationSeconds: leaseDuration,
      renewDeadlineSeconds: renewDeadline,
      retryPeriodSeconds: retryPeriod,
    },
    bindAddress: e.LATHE_BIND_ADDRESS ?? '0.0.0.0',
    metricsPort,
    healthPort,
    workers: e.LATHE_WORKERS ?? 2,
    ...(e.LATHE_PII_KEY ? { piiMasterKey: e.LATHE_PII_KEY } : {}),
    objectStore,
    objectStoreCredentials: {
      mode: e.LATHE_OBJECT_STORE_CREDENTIALS ?? defaultCredentialSettings.mode,
      durationSeconds:
        e.LATHE_OBJECT_STORE_CREDENTIALS_DURATION_SECONDS ??
        defaultCredentialSettings.durationSeconds,
      ...(e.LATHE_OBJECT_STORE_STS_ENDPOINT
        ? { stsEndpoint: e.LATHE_OBJECT_STORE_STS_ENDPOINT }
        : {}),
      ...(e.LATHE_OBJECT_STORE_STS_ROLE_ARN ? { roleArn: e.LATHE_OBJECT_STORE_STS_ROLE_ARN } : {}),
    },
    images: {
      ingest: e.LATHE_IMAGE_INGEST ?? defaultImage('ingest'),
      trainer: e.LATHE_IMAGE_TRAINER ?? defaultImage('trainer'),
      trainerGpu: e.LATHE_IMAGE_TRAINER_GPU ?? defaultImage('trainer-gpu'),
      server: e.LATHE_IMAGE_SERVER ?? defaultImage('server'),
      retrain: e.LATHE_IMAGE_RETRAIN ?? defaultImage('retrain'),
      activator: e.LATHE_IMAGE_ACTIVATOR ?? defaultImage('activator'),
    },
    httpSource: {
      denyCIDRs: e.LATHE_HTTP_SOURCE_DENY_CIDRS ?? [],
      allowCIDRs: e.LATHE_HTTP_SOURCE_ALLOW_CIDRS ?? [],
      apiServerAddresses:
        e.KUBERNETES_SERVICE_HOST && isIP(e.KUBERNETES_SERVICE_HOST)
          ? [e.KUBERNETES_SERVICE_HOST]
          : [],
    },
    podName: e.POD_NAME,
    podNamespace: e.POD_NAMESPACE,
    // Unique per process, as in controller-runtime (`<pod>_<random>`): a container restarted in
    // the same pod after a crash must not inherit the dead process's lease and resume "leading"
    // with cold caches; it waits for the lease like any other candidate.
    identity: `${e.POD_NAME ?? hostname}_${randomBytes(4).toString('hex')}`,
  };
}
