/**
 * Retention of an InferenceService's request log: the step that deletes the sampled requests
 * and labels (`feedback/<ns>/<name>/requests/<yyyy-mm-dd>/`, `labels/<yyyy-mm-dd>/`, layout in
 * `contract/object-store-layout.ts`) older than `spec.requestLogging.retentionDays`.
 *
 * Whole days go: a day's prefix is deleted once its last moment is older than the retention, so
 * a record is kept at least `retentionDays` and at most one day more. Keys are listed in
 * ascending order and days sort as text, so the listing stops at the first day still kept:
 * an hourly pass reads only what it deletes. It runs at most once an hour per service (the
 * time of the last pass is held in memory: a restarted operator runs it once at once), and at
 * once when the retention changes; each pass that deleted something logs it and records a
 * `RequestLogsExpired` event naming the days.
 *
 * A failure to reach the store does not stop serving: it is logged with a Warning event, and
 * the pass is tried again in five minutes.
 */
import { ObjectStore, type ObjectStoreConfig } from '../../../../contract/object-store.js';
import { FeedbackDir, feedbackPrefix } from '../../../../contract/object-store-layout.js';
import type { Step } from '../../runtime/steps.js';
import type { InferenceServiceObject } from '../lathe-kinds.js';
import type { ServingFacts } from './status.js';

/** How often one service's request log is checked. */
export const RETENTION_INTERVAL_MS = 60 * 60 * 1000;
/** When a pass failed, how soon it is tried again. */
export const RETENTION_RETRY_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The first day (`yyyy-mm-dd`, UTC) still kept at `now`: every day before it ended more than
 * `retentionDays` ago. Pure.
 */
export function firstKeptDay(now: Date, retentionDays: number): string {
  return new Date(now.getTime() - retentionDays * DAY_MS).toISOString().slice(0, 10);
}

const DAY = /^(\d{4}-\d{2}-\d{2})\//;

/**
 * The day of a key under `dirPrefix` (`…/requests/`), when it is a day prefix the server wrote;
 * undefined for anything else, which retention leaves alone. Pure.
 */
export function dayOfKey(dirPrefix: string, key: string): string | undefined {
  if (!key.startsWith(dirPrefix)) return undefined;
  return DAY.exec(key.slice(dirPrefix.length))?.[1];
}

/** What the store must do for retention (a subset of `ObjectStore`, for tests). */
export interface RetentionStore {
  keys(bucket: string, prefix: string): AsyncIterable<string>;
  removePrefix(bucket: string, prefix: string): Promise<number>;
}

/** What one pass deleted. */
export interface ExpiredLogs {
  /** `requests/2026-01-02/`, … relative to the service's feedback prefix. */
  days: string[];
  objects: number;
}

/** Deletes the day prefixes of `prefix`'s requests and labels before `firstKept`. */
export async function expireRequestLogs(
  store: RetentionStore,
  bucket: string,
  prefix: string,
  firstKept: string,
): Promise<ExpiredLogs> {
  const expired: ExpiredLogs = { days: [], objects: 0 };
  for (const dir of Object.values(FeedbackDir)) {
    const dirPrefix = `${prefix}${dir}`;
    const days: string[] = [];
    for await (const key of store.keys(bucket, dirPrefix)) {
      const day = dayOfKey(dirPrefix, key);
      if (day === undefined) continue;
      if (day >= firstKept) break;
      if (days.at(-1) !== day) days.push(day);
    }
    for (const day of days) {
      expired.objects += await store.removePrefix(bucket, `${dirPrefix}${day}/`);
      expired.days.push(`${dir}${day}/`);
    }
  }
  return expired;
}

type ServingStep = Step<InferenceServiceObject, ServingFacts>;

/** The store's configuration, alone or as the operator's object-store access holds it. */
export type RetentionStoreSource = ObjectStoreConfig | { store: ObjectStoreConfig } | undefined;

/**
 * The retention step. `source` is the operator's object store (the storage step has already
 * stalled the service when there is none); `openStore` is for tests.
 */
export function retentionStep(
  source: RetentionStoreSource,
  openStore: (config: ObjectStoreConfig) => RetentionStore = (config) => new ObjectStore(config),
): ServingStep {
  const config = source && 'store' in source ? source.store : source;
  let store: RetentionStore | undefined;
  /** Service (uid and retention) → when its last pass ran. */
  const lastPass = new Map<string, number>();
  return {
    name: 'request log retention',
    async run(isvc, ctx) {
      if (!config) return undefined;
      const retentionDays = isvc.spec.requestLogging.retentionDays;
      const key = `${isvc.metadata.uid}/${retentionDays}`;
      const now = ctx.now();
      const last = lastPass.get(key);
      if (last !== undefined && now.getTime() - last < RETENTION_INTERVAL_MS) {
        return { requeueAfterMs: RETENTION_INTERVAL_MS - (now.getTime() - last) };
      }
      store ??= openStore(config);
      const namespace = isvc.metadata.namespace ?? '';
      const prefix = feedbackPrefix(namespace, isvc.metadata.name ?? '');
      const firstKept = firstKeptDay(now, retentionDays);
      let expired: ExpiredLogs;
      try {
        expired = await expireRequestLogs(store, config.bucket, prefix, firstKept);
      } catch (error) {
        const message = `Could not delete request logs older than ${retentionDays} days under s3://${config.bucket}/${prefix}: ${(error as Error).message}`;
        ctx.log.warn({ err: error, prefix, retentionDays }, 'Failed to expire request logs');
        await ctx.events.record(isvc, 'Warning', 'RequestLogRetentionFailed', 'Retention', message);
        return { requeueAfterMs: RETENTION_RETRY_MS };
      }
      for (const stale of lastPass.keys()) {
        if (stale.startsWith(`${isvc.metadata.uid}/`)) lastPass.delete(stale);
      }
      lastPass.set(key, now.getTime());
      if (expired.days.length > 0) {
        ctx.log.info(
          { prefix, retentionDays, firstKept, days: expired.days, objects: expired.objects },
          'Deleted request logs past retention of InferenceService',
        );
        await ctx.events.record(
          isvc,
          'Normal',
          'RequestLogsExpired',
          'Retention',
          `Deleted ${expired.objects} request-log objects older than ${retentionDays} days: ${summary(expired.days)}`,
        );
      }
      return { requeueAfterMs: RETENTION_INTERVAL_MS };
    },
  };
}

/** The days for an event message: all of them, or the first and last few. */
function summary(days: readonly string[]): string {
  if (days.length <= 6) return days.join(', ');
  return `${days.slice(0, 3).join(', ')}, … (${days.length - 6} more), ${days.slice(-3).join(', ')}`;
}
