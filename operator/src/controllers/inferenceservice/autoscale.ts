/**
 * Lathe's autoscaler (`spec.autoscaling.mode: lathe`): the replicas of the primary version
 * from the load its pods report, fast up and slow down. Pure: samples and clock in.
 *
 * Each pod's load comes from its own Prometheus counters, read twice: requests per second is
 * the rate of `lathe_inference_request_duration_seconds_count`, and concurrency (the mean
 * number of requests in flight) is the rate of `…_sum` — by Little's law, the time requests
 * spent in the server per second of wall clock. Both are averages over the scrape interval,
 * so a burst between two scrapes is not missed the way a gauge read once would miss it.
 *
 * The recommendation is `ceil(total load / target)` within [min, max]. Up is applied at once;
 * down only to the highest recommendation of the stabilisation window, as the HPA does. The
 * recommendations of the window live in the controller's memory, as the HPA controller's do; a
 * scaler that has watched a service for less than a window (a restarted operator) therefore
 * scales up but not down until it has seen a whole window.
 */

import { finiteSumOf, parsePrometheusText } from '../shared/prometheus-text.js';

/** The server's request-duration histogram, whose count and sum give the load. */
const REQUEST_DURATION = 'lathe_inference_request_duration_seconds';

/** One pod's counters at one time. */
export interface LoadSample {
  atMs: number;
  /** Requests answered so far. */
  count: number;
  /** Seconds spent answering them so far. */
  sum: number;
}

export interface PodLoad {
  requestsPerSecond: number;
  concurrency: number;
}

/** The load of a version's ready pods, summed, and how many pods there were. */
export interface MeasuredLoad extends PodLoad {
  replicas: number;
}

/** The sum of the loads that could be measured; undefined when none could. */
export function totalLoad(
  loads: readonly (PodLoad | undefined)[],
  replicas: number,
): MeasuredLoad | undefined {
  const measured = loads.filter((l): l is PodLoad => l !== undefined);
  if (measured.length === 0) return undefined;
  return {
    requestsPerSecond: measured.reduce((s, l) => s + l.requestsPerSecond, 0),
    concurrency: measured.reduce((s, l) => s + l.concurrency, 0),
    replicas,
  };
}

/**
 * Whether a pod whose last sample is `last` is read again now: not more often than every
 * `minSpacingMs`, so the reconciles that status writes and pod events trigger between two
 * scrapes reuse the last reading instead of measuring a few milliseconds of traffic.
 */
export function scrapeDue(last: LoadSample | undefined, nowMs: number, minSpacingMs: number) {
  return last === undefined || nowMs - last.atMs >= minSpacingMs;
}

/** The load of a pod between two samples; undefined when they cannot be compared (restart). */
export function loadBetween(before: LoadSample, after: LoadSample): PodLoad | undefined {
  const seconds = (after.atMs - before.atMs) / 1000;
  if (seconds <= 0 || after.count < before.count || after.sum < before.sum) return undefined;
  return {
    requestsPerSecond: (after.count - before.count) / seconds,
    concurrency: (after.sum - before.sum) / seconds,
  };
}

/** Parses the two counters from a server's `/metrics` text (summing every label set). */
export function parseLoadSample(text: string, atMs: number): LoadSample | undefined {
  const samples = parsePrometheusText(text);
  const count = `${REQUEST_DURATION}_count`;
  const sum = `${REQUEST_DURATION}_sum`;
  if (!samples.some((s) => s.name === count || s.name === sum)) return undefined;
  return { atMs, count: finiteSumOf(samples, count), sum: finiteSumOf(samples, sum) };
}

export interface Recommendation {
  atMs: number;
  replicas: number;
}

/** `ceil(load / target)` within [min, max]. */
export function recommendReplicas(load: number, target: number, min: number, max: number): number {
  const wanted = load <= 0 ? 0 : Math.ceil(load / target - 1e-9);
  return Math.min(max, Math.max(min, wanted));
}

/**
 * The replicas to run now: the newest recommendation when it is up, the highest within the
 * stabilisation window when it is down. `history` must include the newest recommendation.
 */
export function stabilisedReplicas(
  current: number,
  history: readonly Recommendation[],
  nowMs: number,
  windowMs: number,
): number {
  const newest = history.at(-1);
  if (!newest) return current;
  if (newest.replicas >= current) return newest.replicas;
  const inWindow = history.filter((r) => nowMs - r.atMs <= windowMs);
  return Math.min(current, Math.max(...inWindow.map((r) => r.replicas)));
}

export interface ScaleInput {
  /** Replicas the primary's Deployment asks for now. */
  current: number;
  load: MeasuredLoad | undefined;
  metric: 'concurrency' | 'rps' | 'cpu';
  /** Load per replica to aim for. */
  target: number;
  min: number;
  max: number;
  windowMs: number;
  nowMs: number;
  /** The recommendations remembered so far (oldest first). */
  history: readonly Recommendation[];
  /** Since when this scaler has been watching the service. */
  observingSinceMs: number;
}

/**
 * The replicas to run and the recommendations to remember. Without a measurement (pods
 * starting, the first scrape, `cpu`, which only the HPA reads) it holds what runs, within the
 * bounds. Pure.
 */
export function decideReplicas(input: ScaleInput): {
  replicas: number;
  history: Recommendation[];
} {
  const { current, load, min, max, nowMs, windowMs } = input;
  const bounded = (n: number) => Math.min(max, Math.max(min, n));
  const recent = input.history.filter((r) => nowMs - r.atMs <= windowMs);
  if (!load || input.metric === 'cpu') return { replicas: bounded(current), history: recent };
  const total = input.metric === 'rps' ? load.requestsPerSecond : load.concurrency;
  const history = [
    ...recent,
    { atMs: nowMs, replicas: recommendReplicas(total, input.target, min, max) },
  ];
  const stabilised = stabilisedReplicas(current, history, nowMs, windowMs);
  const seenWholeWindow = nowMs - input.observingSinceMs >= windowMs;
  return {
    replicas: bounded(seenWholeWindow ? stabilised : Math.max(stabilised, current)),
    history,
  };
}
