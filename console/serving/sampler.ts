/**
 * "Over time" without a database: every `intervalMs` (default 20 s) the console samples each
 * InferenceService — its status (replicas, canary share, drift) and its servers' `/metrics`
 * (request rate, error rate, latency percentiles between two readings, `readings.ts`) — into a
 * ring of the newest `capacity` samples (default 180: one hour). The serving page draws from
 * it and says since when the console has been sampling: a restart starts the history afresh,
 * as the operator's autoscaler forgets its readings (`autoscale-step.ts`). For longer history,
 * scrape the same `/metrics` with Prometheus.
 *
 * Bounded: at most `maxServices` services are sampled (the first by namespace and name; the
 * page of another says so), a service gone from the cache is forgotten at the next round, at
 * most `concurrency` pods are read at once, each within `SCRAPE_TIMEOUT_MS`, and a round
 * starts only after the previous one ended. Pods are reached by IP on the server's port, as the
 * operator's autoscaler reaches them (`operator/src/controllers/shared/server-metrics.ts`).
 */
import type { InferenceServiceObject } from '../../operator/src/controllers/lathe-kinds.js';
import {
  scrapeMetrics,
  serverMetricsUrl,
} from '../../operator/src/controllers/shared/server-metrics.js';
import {
  figuresBetween,
  type PodReading,
  podReading,
  SampleRing,
  type ServingSample,
  statusFigures,
} from './readings.js';

/** A serving pod the sampler reads: its name and IP (ready pods only). */
export interface ServingPod {
  name: string;
  ip: string;
}

export interface ServingSamplerOptions {
  /** The InferenceServices to sample (the console's cache). */
  services: () => readonly InferenceServiceObject[];
  /** The ready serving pods of an InferenceService, with their IPs. */
  podsOf: (isvc: InferenceServiceObject) => readonly ServingPod[];
  /** Reads a `/metrics` URL (default: `scrapeMetrics`, 2 s timeout). */
  scrape?: (url: string) => Promise<string>;
  /** The URL of a pod's metrics (default: `serverMetricsUrl`, port 8080). */
  metricsUrl?: (ip: string) => string;
  intervalMs?: number;
  capacity?: number;
  maxServices?: number;
  concurrency?: number;
  nowMs?: () => number;
}

/** What the sampler has of one InferenceService. */
export interface ServingHistory {
  samples: ServingSample[];
  /** Whether the service is beyond `maxServices` and not sampled. */
  overLimit: boolean;
  intervalMs: number;
  capacity: number;
  /** When the sampler started; undefined before it has. */
  startedAtMs: number | undefined;
}

interface ServiceMemory {
  ring: SampleRing<ServingSample>;
  pods: Map<string, PodReading>;
}

export class ServingSampler {
  readonly intervalMs: number;
  readonly capacity: number;
  readonly #options: ServingSamplerOptions;
  readonly #maxServices: number;
  readonly #concurrency: number;
  readonly #nowMs: () => number;
  readonly #memory = new Map<string, ServiceMemory>();
  #overLimit = new Set<string>();
  #startedAtMs: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: ServingSamplerOptions) {
    this.#options = options;
    this.intervalMs = options.intervalMs ?? 20_000;
    this.capacity = options.capacity ?? 180;
    this.#maxServices = options.maxServices ?? 1_000;
    this.#concurrency = options.concurrency ?? 16;
    this.#nowMs = options.nowMs ?? Date.now;
  }

  /** Samples now, then every `intervalMs` after a round ends, until `stop`. */
  start(): void {
    this.#startedAtMs ??= this.#nowMs();
    const round = () => {
      if (this.#stopped) return;
      void this.sampleOnce().finally(() => {
        if (this.#stopped) return;
        this.#timer = setTimeout(round, this.intervalMs);
        this.#timer.unref();
      });
    };
    round();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  /** One round: every service's status and pods, one sample each. Never throws. */
  async sampleOnce(): Promise<void> {
    this.#startedAtMs ??= this.#nowMs();
    const all = [...this.#options.services()]
      .map((isvc) => ({ isvc, key: keyOf(isvc) }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .map(({ isvc }) => isvc);
    const sampled = all.slice(0, this.#maxServices);
    this.#overLimit = new Set(all.slice(this.#maxServices).map(keyOf));
    const keep = new Set(sampled.map(keyOf));
    for (const key of this.#memory.keys()) if (!keep.has(key)) this.#memory.delete(key);

    const jobs = sampled.flatMap((isvc) =>
      this.#options.podsOf(isvc).map((pod) => ({ isvc, pod })),
    );
    const readings = new Map<string, Map<string, PodReading | undefined>>();
    let next = 0;
    const worker = async () => {
      while (next < jobs.length) {
        const { isvc, pod } = jobs[next++]!;
        const reading = await this.#read(pod);
        const forService = readings.get(keyOf(isvc)) ?? new Map();
        forService.set(pod.name, reading);
        readings.set(keyOf(isvc), forService);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, jobs.length) }, worker));

    const atMs = this.#nowMs();
    for (const isvc of sampled) {
      const key = keyOf(isvc);
      const memory = this.#memory.get(key) ?? {
        ring: new SampleRing(this.capacity),
        pods: new Map(),
      };
      const read = readings.get(key) ?? new Map<string, PodReading | undefined>();
      const pairs = [...read].flatMap(([name, after]) =>
        after ? [{ before: memory.pods.get(name), after }] : [],
      );
      const failed = [...read.values()].filter((r) => r === undefined).length;
      memory.ring.push({
        atMs,
        ...statusFigures(isvc),
        ...figuresBetween(pairs),
        podsRead: pairs.length,
        podsFailed: failed,
      });
      // Keep the last reading of each pod still there (one that failed keeps its previous).
      const pods = new Map<string, PodReading>();
      for (const [name, after] of read) {
        const reading = after ?? memory.pods.get(name);
        if (reading) pods.set(name, reading);
      }
      memory.pods = pods;
      this.#memory.set(key, memory);
    }
  }

  async #read(pod: ServingPod): Promise<PodReading | undefined> {
    const url = (this.#options.metricsUrl ?? serverMetricsUrl)(pod.ip);
    try {
      const text = await (this.#options.scrape ?? scrapeMetrics)(url);
      return podReading(text, this.#nowMs());
    } catch {
      // A pod starting, stopping or unreachable: counted as failed in the sample.
      return undefined;
    }
  }

  /** The samples of one InferenceService, oldest first. */
  history(namespace: string, name: string): ServingHistory {
    const key = `${namespace}/${name}`;
    return {
      samples: this.#memory.get(key)?.ring.toArray() ?? [],
      overLimit: this.#overLimit.has(key),
      intervalMs: this.intervalMs,
      capacity: this.capacity,
      startedAtMs: this.#startedAtMs,
    };
  }
}

function keyOf(isvc: InferenceServiceObject): string {
  return `${isvc.metadata.namespace ?? ''}/${isvc.metadata.name ?? ''}`;
}
