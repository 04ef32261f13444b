/**
 * When a Dataset's source is read again: pure, from the Dataset and its ingestion Jobs (as
 * found in the cache), never from the Dataset's own previous status.
 *
 * Each ingestion Job records what started it in annotations (`RunAnnotation`). The newest Job
 * is the latest run. A new run is due, in this order of precedence, when:
 * 1. no run exists for the current spec generation (`SpecChanged`);
 * 2. the `lathe.dev/refresh` annotation carries a value no run has answered yet (`Requested`);
 * 3. the latest run failed for a reason worth retrying — the source or the store was
 *    unreachable, refused the credentials, had no such object or table, the SQL failed, the
 *    pod crashed — and its backoff has passed (`Retry`): 10 s, 20 s, 40 s, … up to 5 minutes;
 * 4. `spec.refreshInterval` has passed since the latest run finished (`Refresh`).
 * A run that failed validation (or found data it cannot parse) is not retried: the same data
 * would fail again; the next spec change, request or refresh tries again.
 *
 * The Job name is a hash of the decision's inputs, so two reconciles that decide the same run
 * (a stale cache, a restart) name the same Job and server-side apply makes it once.
 */

import type { FailureReason } from '../../../../contract/results.js';
import { durationMs } from '../../api/duration.js';
import type { JobObject } from '../../runtime/builtin-kinds.js';
import { childName, shortHash } from '../shared/names.js';

/** Annotation a user sets (to any new value) to ingest now: `kubectl annotate … lathe.dev/refresh=$(date +%s) --overwrite`. */
export const REFRESH_ANNOTATION = 'lathe.dev/refresh';

/** What an ingestion Job records about why it exists. */
export const RunAnnotation = {
  generation: 'lathe.dev/generation',
  trigger: 'lathe.dev/trigger',
  attempt: 'lathe.dev/attempt',
  request: 'lathe.dev/refresh-request',
} as const;

export type RunTrigger = 'SpecChanged' | 'Requested' | 'Refresh' | 'Retry';

/** A new run to start. */
export interface PlannedRun {
  jobName: string;
  trigger: RunTrigger;
  generation: number;
  attempt: number;
  /** The `lathe.dev/refresh` value in effect (answered by this run). */
  request: string;
}

/** How the latest run ended, as far as scheduling is concerned. */
export interface FinishedRun {
  job: JobObject;
  succeeded: boolean;
  /** The failure reason (from the program's result, or the Job's), when it failed. */
  reason?: FailureReason | string;
  finishedAt: string | undefined;
}

export type RunDecision =
  | { action: 'start'; run: PlannedRun }
  /** The active run reads an older spec: stop it (then start one for the current spec). */
  | { action: 'supersede'; job: JobObject }
  /** Nothing to start before `at` (a retry or refresh is scheduled then). */
  | { action: 'wait'; at: Date }
  | { action: 'idle' };

const retryBaseMs = 10_000;
const retryCapMs = 5 * 60_000;

/** Reasons that the same run would fail again with: no retry until something changes. */
const notRetried = new Set<string>([
  'ValidationFailed',
  'InvalidData',
  'SourceAddressRefused',
  'SourceCredentialsRequired',
]);

/** The delay before retry number `attempt + 1` of a run that failed `attempt` times. */
export function retryDelayMs(attempt: number): number {
  return Math.min(retryBaseMs * 2 ** Math.max(0, attempt - 1), retryCapMs);
}

/** The name of an ingestion Job: `<dataset>-ingest-<hash of the decision's inputs>`. */
export function ingestJobName(dataset: string, ...inputs: (string | number)[]): string {
  return childName(dataset, `ingest-${shortHash(...inputs)}`);
}

export function runAnnotations(job: JobObject | undefined) {
  const a = job?.metadata?.annotations ?? {};
  return {
    generation: Number(a[RunAnnotation.generation] ?? Number.NaN),
    trigger: (a[RunAnnotation.trigger] ?? 'SpecChanged') as RunTrigger,
    attempt: Number(a[RunAnnotation.attempt] ?? 1),
    request: a[RunAnnotation.request] ?? '',
  };
}

/** The Jobs newest first (creation time, then name, so the order is total). */
export function newestFirst(jobs: readonly JobObject[]): JobObject[] {
  return [...jobs].sort(
    (a, b) =>
      (b.metadata?.creationTimestamp ?? '').localeCompare(a.metadata?.creationTimestamp ?? '') ||
      (b.metadata?.name ?? '').localeCompare(a.metadata?.name ?? ''),
  );
}

/**
 * What to do next for the Dataset `name` at `generation`, given its latest run (undefined: no
 * Job found) and whether that run is still active.
 */
export function decideRun(input: {
  name: string;
  generation: number;
  refreshInterval: string | undefined;
  request: string;
  latest: { job: JobObject; active: true } | ({ active: false } & FinishedRun) | undefined;
  now: Date;
}): RunDecision {
  const { name, generation, request, latest, now } = input;
  const previous = runAnnotations(latest?.job);
  if (latest?.active) {
    return previous.generation === generation
      ? { action: 'idle' }
      : { action: 'supersede', job: latest.job };
  }
  const start = (trigger: RunTrigger, attempt: number, ...inputs: (string | number)[]) => ({
    action: 'start' as const,
    run: {
      jobName: ingestJobName(name, generation, trigger, ...inputs),
      trigger,
      generation,
      attempt,
      request,
    },
  });
  if (!latest || previous.generation !== generation) return start('SpecChanged', 1, request);
  if (request !== '' && request !== previous.request) return start('Requested', 1, request);
  const latestName = latest.job.metadata?.name ?? '';
  const finishedMs = Date.parse(latest.finishedAt ?? '') || now.getTime();
  if (!latest.succeeded && !notRetried.has(latest.reason ?? '')) {
    const due = finishedMs + retryDelayMs(previous.attempt);
    if (now.getTime() >= due) return start('Retry', previous.attempt + 1, latestName);
    return { action: 'wait', at: new Date(due) };
  }
  if (input.refreshInterval) {
    const due = finishedMs + durationMs(input.refreshInterval);
    if (now.getTime() >= due) return start('Refresh', 1, latestName);
    return { action: 'wait', at: new Date(due) };
  }
  return { action: 'idle' };
}
