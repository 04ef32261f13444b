/**
 * What the serving page plots, from two readings of each inference server's `/metrics`: the
 * request rate, the error rate and the latency percentiles over the interval between them, the
 * way Prometheus' `rate()` and `histogram_quantile()` would compute them from the same
 * counters, summed over the service's pods. Pure.
 *
 * The server's families (`runtime-images/server/metrics.ts`): `lathe_inference_requests_total`
 * (by model, version, protocol and HTTP `code`) and the histogram
 * `lathe_inference_request_duration_seconds`. Explain requests are counted apart by the server
 * and left out here, as the autoscaler leaves them out. An error is a 5xx answer: a 4xx is the
 * client's (a malformed request), as KServe's and Knative's dashboards count it.
 */
import type { InferenceServiceObject } from '../../operator/src/controllers/lathe-kinds.js';
import {
  bucketIncrease,
  type HistogramBucket,
  histogramBuckets,
  histogramQuantile,
  parsePrometheusText,
  sumOf,
} from '../../operator/src/controllers/shared/prometheus-text.js';

export const REQUESTS_METRIC = 'lathe_inference_requests_total';
export const LATENCY_METRIC = 'lathe_inference_request_duration_seconds';

/** One pod's counters at one time. */
export interface PodReading {
  atMs: number;
  requests: number;
  /** Requests answered with a 5xx code. */
  errors: number;
  latency: HistogramBucket[];
}

/** Reads a pod's counters from its `/metrics` text; a malformed text throws. */
export function podReading(text: string, atMs: number): PodReading {
  const samples = parsePrometheusText(text);
  return {
    atMs,
    requests: sumOf(samples, REQUESTS_METRIC),
    errors: sumOf(samples, REQUESTS_METRIC, (l) => (l.code ?? '').startsWith('5')),
    latency: histogramBuckets(samples, LATENCY_METRIC),
  };
}

/** Rates and percentiles over an interval, summed over pods. */
export interface ServingFigures {
  requestsPerSecond?: number;
  /** Share of the interval's requests answered with 5xx; undefined with no request. */
  errorRate?: number;
  /** Latency percentiles in seconds; undefined with no request. */
  p50?: number;
  p95?: number;
  p99?: number;
}

/**
 * The figures between each pod's previous reading (`before`, undefined for a pod read for the
 * first time, which adds nothing yet) and its current one. A counter that went down means the
 * server restarted: its increase is counted from zero, as `rate()` does.
 */
export function figuresBetween(
  pods: readonly { before: PodReading | undefined; after: PodReading }[],
): ServingFigures {
  let perSecond = 0;
  let requests = 0;
  let errors = 0;
  let compared = 0;
  let latency: HistogramBucket[] = [];
  for (const { before, after } of pods) {
    if (!before || after.atMs <= before.atMs) continue;
    const reset =
      after.requests < before.requests ||
      after.latency.some((b) => b.count < (before.latency.find((x) => x.le === b.le)?.count ?? 0));
    const base = reset ? { requests: 0, errors: 0, latency: [] } : before;
    const increase = after.requests - base.requests;
    compared++;
    perSecond += increase / ((after.atMs - before.atMs) / 1000);
    requests += increase;
    errors += Math.max(0, after.errors - base.errors);
    latency = addBuckets(latency, bucketIncrease(base.latency, after.latency));
  }
  if (compared === 0) return {};
  if (requests <= 0) return { requestsPerSecond: perSecond };
  return {
    requestsPerSecond: perSecond,
    errorRate: errors / requests,
    p50: histogramQuantile(0.5, latency),
    p95: histogramQuantile(0.95, latency),
    p99: histogramQuantile(0.99, latency),
  };
}

function addBuckets(
  a: readonly HistogramBucket[],
  b: readonly HistogramBucket[],
): HistogramBucket[] {
  const sum = new Map(a.map((x) => [x.le, x.count]));
  for (const x of b) sum.set(x.le, (sum.get(x.le) ?? 0) + x.count);
  return [...sum].map(([le, count]) => ({ le, count })).sort((x, y) => x.le - y.le);
}

/** One point of an InferenceService's history: its status and the servers' figures. */
export interface ServingSample extends ServingFigures {
  atMs: number;
  /** `status.replicas`: replicas of the primary version. */
  replicas: number | undefined;
  /** Ready replicas of every served version (`status.servedVersions[*].readyReplicas`). */
  readyReplicas: number;
  /** Percent of requests the canary gets (`trafficPercent` of the canary role), 0 without one. */
  canaryPercent: number;
  /** `status.drift.value`, when a RetrainPolicy measured it. */
  drift: number | undefined;
  /** Pods read this time, and those that could not be read. */
  podsRead: number;
  podsFailed: number;
}

/** The part of a sample the InferenceService's status gives. */
export function statusFigures(
  isvc: InferenceServiceObject,
): Pick<ServingSample, 'replicas' | 'readyReplicas' | 'canaryPercent' | 'drift'> {
  const served = isvc.status?.servedVersions ?? [];
  return {
    replicas: isvc.status?.replicas,
    readyReplicas: served.reduce((sum, v) => sum + v.readyReplicas, 0),
    canaryPercent: served.find((v) => v.role === 'canary')?.trafficPercent ?? 0,
    drift: isvc.status?.drift?.value,
  };
}

/** A fixed number of the newest items: the oldest is dropped when a new one comes. */
export class SampleRing<T> {
  readonly #items: (T | undefined)[];
  #next = 0;
  #size = 0;

  constructor(readonly capacity: number) {
    if (!(capacity >= 1)) throw new RangeError('capacity must be at least 1');
    this.#items = new Array(capacity);
  }

  push(item: T): void {
    this.#items[this.#next] = item;
    this.#next = (this.#next + 1) % this.capacity;
    this.#size = Math.min(this.#size + 1, this.capacity);
  }

  /** The items, oldest first. */
  toArray(): T[] {
    const start = (this.#next - this.#size + this.capacity) % this.capacity;
    return Array.from({ length: this.#size }, (_, i) => this.#items[(start + i) % this.capacity]!);
  }

  get size(): number {
    return this.#size;
  }
}
