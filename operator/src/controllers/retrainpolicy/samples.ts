/**
 * Reading the requests an InferenceService sampled (`feedback/<ns>/<isvc>/requests/`) for a
 * drift check: the files of the last window, newest first, up to a bound on rows, so a busy
 * service never makes a check read without end.
 */
import { type SampledRequest, SampledRequestSchema } from '../../../../contract/feedback-log.js';
import type { ObjectStore } from '../../../../contract/object-store.js';
import { FeedbackDir, feedbackPrefix } from '../../../../contract/object-store-layout.js';

/** The most request rows one drift check reads. */
export const MAX_SAMPLED_ROWS = 5_000;

/** The hour prefixes (`requests/<yyyy-mm-dd>/<hh>/`) that cover [since, until]. */
export function hourPrefixes(prefix: string, since: Date, until: Date): string[] {
  const out: string[] = [];
  const start = new Date(since);
  start.setUTCMinutes(0, 0, 0);
  for (let t = start.getTime(); t <= until.getTime(); t += 3_600_000) {
    const iso = new Date(t).toISOString();
    out.push(`${prefix}${FeedbackDir.requests}${iso.slice(0, 10)}/${iso.slice(11, 13)}/`);
  }
  return out;
}

/** The time a feedback file's name starts with (`20260102T030405.678Z-…`). */
export function fileTime(key: string): number {
  const name = key.slice(key.lastIndexOf('/') + 1);
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z/.exec(name);
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, +m[7]!) : Number.NaN;
}

/** The raw records sampled by `inferenceService` since `since`, newest files first. */
export async function sampledRecords(
  store: Pick<ObjectStore, 'list' | 'read'>,
  bucket: string,
  namespace: string,
  inferenceService: string,
  since: Date,
  until: Date,
): Promise<Record<string, unknown>[]> {
  const prefix = feedbackPrefix(namespace, inferenceService);
  const keys: string[] = [];
  for (const hour of hourPrefixes(prefix, since, until))
    keys.push(...(await store.list(bucket, hour)));
  const recent = keys
    .filter((k) => fileTime(k) >= since.getTime())
    .sort()
    .reverse();
  const records: Record<string, unknown>[] = [];
  for (const key of recent) {
    const text = (await store.read(bucket, key, 64 * 1024 * 1024)).toString('utf8');
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      let request: SampledRequest;
      try {
        request = SampledRequestSchema.parse(JSON.parse(line));
      } catch {
        continue;
      }
      for (const record of request.records) if (record) records.push(record);
      if (records.length >= MAX_SAMPLED_ROWS) return records;
    }
  }
  return records;
}
