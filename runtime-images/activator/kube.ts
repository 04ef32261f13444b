/**
 * The activator's three calls to the API server, over HTTPS with the pod's service-account
 * token (re-read on every call: bound tokens rotate), and nothing else — no client library, so
 * the image stays small and the Role it runs under reads as the whole list:
 *
 * - get an InferenceService (does it exist, how many requests to hold and how long);
 * - merge-patch its `lathe.dev/activation-requested-at` annotation (ask for a replica);
 * - list its serving pods (which are ready, at which address).
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { ACTIVATION_REQUESTED_AT, servingPodSelector } from '../../contract/activator.js';
import { type Endpoint, readyEndpoints, type ServingPod } from './endpoints.js';

const ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The activator's view of the API (a fake in tests). */
export interface ActivatorApi {
  /** The InferenceService's scale-to-zero settings, or undefined when it does not exist. */
  inferenceService(name: string): Promise<InferenceServiceSettings | undefined>;
  /** Asks for a replica: writes `at` into the activation annotation. */
  requestActivation(name: string, at: Date): Promise<void>;
  /** The ready serving pods of the InferenceService. */
  readyEndpoints(name: string): Promise<Endpoint[]>;
}

/** What the activator reads of an InferenceService's spec (absent: its own defaults). */
export interface InferenceServiceSettings {
  queueSize?: number;
  timeoutMs?: number;
}

/** An API error, with its HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The in-cluster API, as the pod's service account. */
export function inClusterApi(namespace: string, accountDir = ACCOUNT_DIR): ActivatorApi {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host) throw new Error('KUBERNETES_SERVICE_HOST is not set: the activator runs in a pod');
  const ca = readFileSync(`${accountDir}/ca.crt`);
  const isvcPath = (name: string) =>
    `/apis/lathe.dev/v1alpha1/namespaces/${namespace}/inferenceservices/${encodeURIComponent(name)}`;

  const call = (method: string, path: string, body?: unknown, contentType?: string) =>
    new Promise<unknown>((resolve, reject) => {
      const token = readFileSync(`${accountDir}/token`, 'utf8').trim();
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = request(
        {
          host,
          port,
          method,
          path,
          ca,
          timeout: 10_000,
          headers: {
            authorization: `Bearer ${token}`,
            accept: 'application/json',
            ...(payload ? { 'content-type': contentType ?? 'application/json' } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) {
              resolve(text ? JSON.parse(text) : undefined);
            } else {
              reject(new ApiError(status, `${method} ${path}: ${status} ${text.slice(0, 300)}`));
            }
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on('error', reject);
      req.end(payload);
    });

  return {
    async inferenceService(name) {
      try {
        const isvc = (await call('GET', isvcPath(name))) as {
          spec?: { replicas?: { activationQueue?: number; activationTimeout?: string } };
        };
        return settingsOf(isvc.spec?.replicas);
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) return undefined;
        throw error;
      }
    },
    async requestActivation(name, at) {
      await call(
        'PATCH',
        isvcPath(name),
        { metadata: { annotations: { [ACTIVATION_REQUESTED_AT]: at.toISOString() } } },
        'application/merge-patch+json',
      );
    },
    async readyEndpoints(name) {
      const selector = encodeURIComponent(servingPodSelector(name));
      const list = (await call(
        'GET',
        `/api/v1/namespaces/${namespace}/pods?labelSelector=${selector}`,
      )) as { items?: ServingPod[] };
      return readyEndpoints(list.items ?? []);
    },
  };
}

/** The activator's settings from `spec.replicas` (durations as the API validated them). */
export function settingsOf(
  replicas: { activationQueue?: number; activationTimeout?: string } | undefined,
): InferenceServiceSettings {
  const timeout = replicas?.activationTimeout;
  const timeoutMs = timeout ? goDurationMs(timeout) : undefined;
  return {
    ...(replicas?.activationQueue !== undefined ? { queueSize: replicas.activationQueue } : {}),
    ...(timeoutMs !== undefined && timeoutMs > 0 ? { timeoutMs } : {}),
  };
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** Milliseconds of a Go duration (`90s`, `1m30s`); undefined when it is not one. */
export function goDurationMs(text: string): number | undefined {
  if (!/^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/.test(text)) return undefined;
  let total = 0;
  for (const match of text.matchAll(/([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g)) {
    total += Number(match[1]) * (UNIT_MS[match[2] ?? ''] ?? Number.NaN);
  }
  return total;
}
