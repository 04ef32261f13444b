/**
 * The activator's request path, the way Knative's activator works but Lathe's own: it receives
 * the traffic of the InferenceServices of its namespace that are at zero (their Services select
 * its pods), and for each request
 *
 * 1. finds which InferenceService it is for (`target.ts`) and that it exists (404 otherwise);
 * 2. reads the body (bounded: 413 beyond the servers' own limit), since it must be replayed;
 * 3. forwards it at once to a ready serving pod if there is one (the Service is switching back);
 * 4. otherwise holds it in that service's bounded queue (`hold-queue.ts`), asks for a replica
 *    (the activation annotation, at most every `activationIntervalMs`), polls the service's
 *    pods until one is ready, and forwards every held request to it, marking the answer with
 *    `x-lathe-cold-start-ms` (how long the request waited).
 *
 * A full queue, a request held past its deadline, or a pod that refuses the forwarded request
 * twice gets 503 with `Retry-After` and a JSON error — never 502 or 504, which clients and load
 * balancers read as a broken server rather than "come back in a moment".
 */
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { COLD_START_HEADER } from '../../contract/activator.js';
import type { Endpoint } from './endpoints.js';
import { HoldQueue } from './hold-queue.js';
import type { ActivatorApi } from './kube.js';
import { inferenceServiceOf } from './target.js';

export interface ActivatorOptions {
  namespace: string;
  api: ActivatorApi;
  /** Requests held per service when its spec does not say. */
  queueSize: number;
  /** Longest a request is held when its spec does not say. */
  timeoutMs: number;
  /** Largest request body (the servers' limit: a larger one would be refused there anyway). */
  maxBodyBytes?: number;
  /** How often the pods of a service with held requests are read. */
  pollIntervalMs?: number;
  /** How often a replica is asked for again while requests wait. */
  activationIntervalMs?: number;
  /** How long what the API said of a service is reused. */
  settingsTtlMs?: number;
  log?: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

/** A request waiting for a replica. */
interface Waiting {
  req: IncomingMessage;
  res: ServerResponse;
  body: Buffer;
}

/** What the activator keeps per InferenceService. */
interface Gate {
  name: string;
  queue: HoldQueue<Waiting>;
  queueSize: number;
  timeoutMs: number;
  settingsAtMs: number;
  endpoints: Endpoint[];
  endpointsAtMs: number;
  next: number;
  lastActivationMs: number;
  polling: boolean;
}

/** Counters the activator exports on `/activator/metrics`. */
export interface ActivatorCounts {
  forwarded: number;
  forwardedAfterWait: number;
  overflow: number;
  timedOut: number;
  unavailable: number;
  activationsRequested: number;
  /** Per service: cold starts seen (first held request to first ready replica), and their seconds. */
  coldStarts: Record<string, { count: number; sumSeconds: number }>;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
]);

/** Path of the activator's own health check (not a path any server serves). */
export const ACTIVATOR_HEALTH_PATH = '/activator/healthz';
export const ACTIVATOR_METRICS_PATH = '/activator/metrics';

/** The activator (see the module header); `server` is its HTTP server, not yet listening. */
export class Activator {
  readonly server: Server;
  readonly counts: ActivatorCounts = {
    forwarded: 0,
    forwardedAfterWait: 0,
    overflow: 0,
    timedOut: 0,
    unavailable: 0,
    activationsRequested: 0,
    coldStarts: {},
  };
  readonly #gates = new Map<string, Gate>();
  readonly #options: Required<Omit<ActivatorOptions, 'log'>> & Pick<ActivatorOptions, 'log'>;
  #closed = false;

  constructor(options: ActivatorOptions) {
    this.#options = {
      maxBodyBytes: 8 * 1024 * 1024,
      pollIntervalMs: 250,
      activationIntervalMs: 2_000,
      settingsTtlMs: 10_000,
      ...options,
    };
    this.server = createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => {
        this.#log('error', 'Failed to handle a request', { err: String(error) });
        unavailable(res, 'the activator could not handle the request', 1);
      });
    });
    // Held requests may wait for a cold start: the client's own timeout decides, not Node's.
    this.server.requestTimeout = 0;
    this.server.headersTimeout = 10_000;
  }

  /** Requests held now, per service. */
  held(): Record<string, number> {
    return Object.fromEntries([...this.#gates].map(([name, gate]) => [name, gate.queue.size]));
  }

  /** Answers every held request 503 and stops polling (shutdown). */
  close(): void {
    this.#closed = true;
    for (const gate of this.#gates.values()) {
      for (const { item } of gate.queue.releaseAll()) {
        unavailable(item.res, 'the activator is shutting down', 1);
      }
    }
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = req.url ?? '/';
    if (path === ACTIVATOR_HEALTH_PATH) return json(res, 200, { status: 'ok' });
    if (path === ACTIVATOR_METRICS_PATH) return metricsText(res, this.counts, this.held());
    const name = inferenceServiceOf(path, req.headers.host, this.#options.namespace);
    if (!name) {
      return json(res, 404, {
        error: `no InferenceService named in the path (/v1/models/<name>, /v2/models/<name>) or the Host header`,
      });
    }
    const body = await readBody(req, this.#options.maxBodyBytes);
    if (body === 'too large') {
      return json(res, 413, {
        error: `request body is larger than ${this.#options.maxBodyBytes} bytes`,
      });
    }
    if (body === 'aborted') return;
    const gate = await this.#gate(name);
    if (!gate) return json(res, 404, { error: `InferenceService ${name} does not exist` });

    const endpoints = await this.#freshEndpoints(gate);
    if (endpoints.length > 0) return this.#forward(gate, { req, res, body }, undefined);

    const waiting: Waiting = { req, res, body };
    if (!gate.queue.hold(waiting)) {
      this.counts.overflow += 1;
      return unavailable(
        res,
        `InferenceService ${name} is starting and already holds ${gate.queueSize} requests`,
        retryAfterSeconds(gate.timeoutMs),
      );
    }
    res.on('close', () => gate.queue.cancel(waiting));
    this.#activate(gate);
    this.#poll(gate);
  }

  /** The gate of `name`, its settings re-read when stale; undefined when it does not exist. */
  async #gate(name: string): Promise<Gate | undefined> {
    const now = Date.now();
    const known = this.#gates.get(name);
    if (known && now - known.settingsAtMs < this.#options.settingsTtlMs) return known;
    const settings = await this.#options.api.inferenceService(name);
    if (!settings) {
      if (known && known.queue.size === 0) this.#gates.delete(name);
      return known && known.queue.size > 0 ? known : undefined;
    }
    const queueSize = settings.queueSize ?? this.#options.queueSize;
    const timeoutMs = settings.timeoutMs ?? this.#options.timeoutMs;
    const gate: Gate = known ?? {
      name,
      queue: this.#queue(name, queueSize, timeoutMs),
      queueSize,
      timeoutMs,
      settingsAtMs: now,
      endpoints: [],
      endpointsAtMs: 0,
      next: 0,
      lastActivationMs: Number.NEGATIVE_INFINITY,
      polling: false,
    };
    gate.settingsAtMs = now;
    // Changed settings take effect once nothing is held, so no held request loses its deadline.
    if ((gate.queueSize !== queueSize || gate.timeoutMs !== timeoutMs) && gate.queue.size === 0) {
      Object.assign(gate, { queue: this.#queue(name, queueSize, timeoutMs), queueSize, timeoutMs });
    }
    this.#gates.set(name, gate);
    return gate;
  }

  #queue(name: string, capacity: number, timeoutMs: number): HoldQueue<Waiting> {
    return new HoldQueue<Waiting>({
      capacity,
      timeoutMs,
      onTimeout: (waiting, waitedMs) => {
        this.counts.timedOut += 1;
        unavailable(
          waiting.res,
          `InferenceService ${name} had no ready replica within ${Math.round(waitedMs / 1000)}s`,
          retryAfterSeconds(timeoutMs),
        );
      },
    });
  }

  async #freshEndpoints(gate: Gate): Promise<Endpoint[]> {
    const now = Date.now();
    if (now - gate.endpointsAtMs < this.#options.pollIntervalMs) return gate.endpoints;
    try {
      gate.endpoints = await this.#options.api.readyEndpoints(gate.name);
    } catch (error) {
      this.#log('warn', 'Could not list the pods of an InferenceService', {
        inferenceService: gate.name,
        err: String(error),
      });
      gate.endpoints = [];
    }
    gate.endpointsAtMs = Date.now();
    return gate.endpoints;
  }

  /** Asks for a replica, unless it was asked for recently. */
  #activate(gate: Gate): void {
    const now = Date.now();
    if (now - gate.lastActivationMs < this.#options.activationIntervalMs) return;
    gate.lastActivationMs = now;
    this.counts.activationsRequested += 1;
    // The time of the oldest held request, the same on every retry: the operator times the
    // cold start from it, and re-asking with an unchanged value writes nothing.
    const since = gate.queue.oldestHeldAtMs() ?? now;
    this.#options.api.requestActivation(gate.name, new Date(since)).then(
      () => this.#log('info', 'Asked for a replica', { inferenceService: gate.name }),
      (error: unknown) => {
        // Asked again on the next poll; the held requests keep their deadlines.
        gate.lastActivationMs = Number.NEGATIVE_INFINITY;
        this.#log('warn', 'Could not ask for a replica', {
          inferenceService: gate.name,
          err: String(error),
        });
      },
    );
  }

  /** Polls the pods while requests are held; releases them to the first ready pod. */
  #poll(gate: Gate): void {
    if (gate.polling) return;
    gate.polling = true;
    const tick = async () => {
      if (this.#closed || gate.queue.size === 0) {
        gate.polling = false;
        return;
      }
      const endpoints = await this.#freshEndpoints(gate);
      if (endpoints.length > 0) {
        const oldest = gate.queue.oldestHeldAtMs();
        if (oldest !== undefined) {
          const seen = this.counts.coldStarts[gate.name] ?? { count: 0, sumSeconds: 0 };
          this.counts.coldStarts[gate.name] = seen;
          seen.count += 1;
          seen.sumSeconds += (Date.now() - oldest) / 1000;
        }
        for (const { item, waitedMs } of gate.queue.releaseAll()) {
          void this.#forward(gate, item, waitedMs);
        }
        gate.polling = false;
        return;
      }
      this.#activate(gate);
      setTimeout(() => void tick(), this.#options.pollIntervalMs).unref();
    };
    void tick();
  }

  /** Forwards to a ready pod (round robin), trying a second one if the first refuses. */
  async #forward(gate: Gate, waiting: Waiting, waitedMs: number | undefined): Promise<void> {
    const { req, res } = waiting;
    if (res.destroyed || res.headersSent) return;
    for (let attempt = 0; attempt < 2; attempt++) {
      if (attempt > 0) gate.endpointsAtMs = 0;
      const endpoints = attempt === 0 ? gate.endpoints : await this.#freshEndpoints(gate);
      if (endpoints.length === 0) break;
      const endpoint = endpoints[gate.next++ % endpoints.length] as Endpoint;
      const outcome = await proxy(endpoint, req, waiting.body, res, waitedMs);
      if (outcome === 'answered') {
        this.counts.forwarded += 1;
        if (waitedMs !== undefined) this.counts.forwardedAfterWait += 1;
        return;
      }
      if (outcome === 'client gone') return;
    }
    this.counts.unavailable += 1;
    unavailable(res, `InferenceService ${gate.name} has no replica that answers`, 1);
  }

  #log(level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) {
    this.#options.log?.(level, msg, fields);
  }
}

/** Sends one request to `endpoint` and streams the answer back. */
function proxy(
  endpoint: Endpoint,
  req: IncomingMessage,
  body: Buffer,
  res: ServerResponse,
  waitedMs: number | undefined,
): Promise<'answered' | 'refused' | 'client gone'> {
  return new Promise((resolve) => {
    const headers: Record<string, string | string[]> = {};
    for (const [key, value] of Object.entries(req.headers as IncomingHttpHeaders)) {
      if (value !== undefined && !HOP_BY_HOP.has(key)) headers[key] = value;
    }
    headers['content-length'] = String(body.length);
    if (req.headers.host) headers['x-forwarded-host'] = req.headers.host;
    const upstream = httpRequest(
      {
        host: endpoint.host,
        port: endpoint.port,
        method: req.method,
        path: req.url,
        headers,
      },
      (answer) => {
        if (res.destroyed) {
          answer.resume();
          resolve('client gone');
          return;
        }
        const out: Record<string, string | string[]> = {};
        for (const [key, value] of Object.entries(answer.headers)) {
          if (value !== undefined && key !== 'connection' && key !== 'keep-alive') out[key] = value;
        }
        if (waitedMs !== undefined) out[COLD_START_HEADER] = String(Math.round(waitedMs));
        res.writeHead(answer.statusCode ?? 500, out);
        answer.pipe(res);
        answer.on('end', () => resolve('answered'));
        answer.on('error', () => {
          res.destroy();
          resolve('answered');
        });
      },
    );
    // A connection the pod refuses or resets before answering is tried on another pod.
    upstream.on('error', () => resolve(res.headersSent ? 'answered' : 'refused'));
    upstream.end(body);
  });
}

/** The whole body, or why not. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too large' | 'aborted'> {
  return new Promise((resolve) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      resolve('too large');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        resolve('too large');
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('aborted', () => resolve('aborted'));
    req.on('error', () => resolve('aborted'));
  });
}

/** Seconds a client should wait before trying again: a fraction of the hold timeout, 1–30. */
export function retryAfterSeconds(timeoutMs: number): number {
  return Math.min(30, Math.max(1, Math.round(timeoutMs / 4000)));
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function unavailable(res: ServerResponse, error: string, retryAfter: number) {
  json(res, 503, { error }, { 'retry-after': String(retryAfter) });
}

function metricsText(res: ServerResponse, counts: ActivatorCounts, held: Record<string, number>) {
  const lines = [
    '# HELP lathe_activator_requests_total Requests the activator finished, by outcome.',
    '# TYPE lathe_activator_requests_total counter',
    `lathe_activator_requests_total{outcome="forwarded"} ${counts.forwarded - counts.forwardedAfterWait}`,
    `lathe_activator_requests_total{outcome="forwarded_after_wait"} ${counts.forwardedAfterWait}`,
    `lathe_activator_requests_total{outcome="overflow"} ${counts.overflow}`,
    `lathe_activator_requests_total{outcome="timeout"} ${counts.timedOut}`,
    `lathe_activator_requests_total{outcome="unavailable"} ${counts.unavailable}`,
    '# HELP lathe_activator_activations_total Replicas the activator asked for.',
    '# TYPE lathe_activator_activations_total counter',
    `lathe_activator_activations_total ${counts.activationsRequested}`,
    '# HELP lathe_activator_requests_held Requests held now, per InferenceService.',
    '# TYPE lathe_activator_requests_held gauge',
    ...Object.entries(held).map(
      ([name, n]) => `lathe_activator_requests_held{inferenceservice="${name}"} ${n}`,
    ),
    '# HELP lathe_inferenceservice_cold_start_seconds From the first request held at zero to the first ready replica.',
    '# TYPE lathe_inferenceservice_cold_start_seconds summary',
    ...Object.entries(counts.coldStarts).flatMap(([name, c]) => [
      `lathe_inferenceservice_cold_start_seconds_sum{inferenceservice="${name}"} ${c.sumSeconds}`,
      `lathe_inferenceservice_cold_start_seconds_count{inferenceservice="${name}"} ${c.count}`,
    ]),
  ];
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
  res.end(`${lines.join('\n')}\n`);
}

/** Starts an HTTP server for `activator` on `port`; resolves once it listens. */
export function listen(activator: Activator, port: number, host = '0.0.0.0'): Promise<number> {
  return new Promise((resolve, reject) => {
    activator.server.once('error', reject);
    activator.server.listen(port, host, () => {
      const address = activator.server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}
