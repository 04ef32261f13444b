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
 * down only to the highest recommendation of the stabilisation window, as the HPA does.
 */

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
  let count = 0;
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    const match = /^lathe_inference_request_duration_seconds_(count|sum)(\{[^}]*\})?\s+(\S+)/.exec(
      line,
    );
    if (!match) continue;
    found = true;
    const value = Number(match[3]);
    if (!Number.isFinite(value)) continue;
    if (match[1] === 'count') count += value;
    else sum += value;
  }
  return found ? { atMs, count, sum } : undefined;
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
