import { describe, expect, it } from 'vitest';
import { feedbackFileKey } from '../../../../contract/object-store-layout.js';
import type { InferenceServiceObject } from '../lathe-kinds.js';
import {
  dayOfKey,
  expireRequestLogs,
  firstKeptDay,
  RETENTION_INTERVAL_MS,
  RETENTION_RETRY_MS,
  type RetentionStore,
  retentionStep,
} from './retention.js';

describe('firstKeptDay', () => {
  it.each([
    { now: '2026-12-07T10:00:00Z', days: 30, first: '2026-11-07' },
    { now: '2026-12-07T00:00:00Z', days: 1, first: '2026-12-06' },
    { now: '2026-03-01T23:59:59Z', days: 1, first: '2026-02-28' },
    { now: '2026-12-07T10:00:00Z', days: 3650, first: '2016-12-09' },
  ])('$now with $days days keeps $first and later', ({ now, days, first }) => {
    expect(firstKeptDay(new Date(now), days)).toBe(first);
  });
});

describe('dayOfKey', () => {
  const dir = 'feedback/ns/iris/requests/';
  it.each([
    { key: `${dir}2026-01-02/03/x.jsonl`, day: '2026-01-02' },
    { key: `${dir}2026-01-02/`, day: '2026-01-02' },
    { key: `${dir}notes.txt`, day: undefined },
    { key: `${dir}2026-1-2/x`, day: undefined },
    { key: 'feedback/ns/other/requests/2026-01-02/x', day: undefined },
  ])('$key → $day', ({ key, day }) => {
    expect(dayOfKey(dir, key)).toBe(day);
  });
});

/** An in-memory store that lists in ascending order and counts what it lists. */
class MemoryStore implements RetentionStore {
  listed = 0;
  constructor(readonly objects: Set<string>) {}
  async *keys(_bucket: string, prefix: string): AsyncIterable<string> {
    for (const key of [...this.objects].sort()) {
      if (!key.startsWith(prefix)) continue;
      this.listed++;
      yield key;
    }
  }
  async removePrefix(_bucket: string, prefix: string): Promise<number> {
    let n = 0;
    for (const key of [...this.objects]) {
      if (key.startsWith(prefix)) {
        this.objects.delete(key);
        n++;
      }
    }
    return n;
  }
}

const prefix = 'feedback/ns/iris/';
const keyAt = (kind: 'requests' | 'labels', iso: string, seq = 0) =>
  feedbackFileKey(prefix, kind, new Date(iso), 'pod-a', seq);

describe('expireRequestLogs', () => {
  it('deletes whole days before the first kept day, in requests and labels, and nothing else', async () => {
    const old = [
      keyAt('requests', '2026-10-01T05:00:00Z'),
      keyAt('requests', '2026-10-01T23:00:00Z', 1),
      keyAt('requests', '2026-11-06T23:59:59Z'),
      keyAt('labels', '2026-10-02T00:00:00Z'),
    ];
    const kept = [
      keyAt('requests', '2026-11-07T00:00:00Z'),
      keyAt('requests', '2026-12-07T09:00:00Z'),
      keyAt('labels', '2026-12-01T00:00:00Z'),
      'feedback/ns/iris/requests/README',
      'feedback/ns/other/requests/2026-10-01/00/x.jsonl',
      'feedback/ns/iris-2/requests/2026-10-01/00/x.jsonl',
    ];
    const store = new MemoryStore(new Set([...old, ...kept]));
    const expired = await expireRequestLogs(store, 'lathe', prefix, '2026-11-07');
    expect(expired).toEqual({
      days: ['requests/2026-10-01/', 'requests/2026-11-06/', 'labels/2026-10-02/'],
      objects: 4,
    });
    expect([...store.objects].sort()).toEqual([...kept].sort());
  });

  it('stops listing at the first day it keeps', async () => {
    const keys = Array.from({ length: 50 }, (_, i) =>
      keyAt('requests', `2026-12-0${1 + (i % 5)}T00:00:00Z`, i),
    );
    const store = new MemoryStore(new Set(keys));
    await expireRequestLogs(store, 'lathe', prefix, '2026-11-07');
    expect(store.listed).toBe(1);
  });
});

describe('retentionStep', () => {
  const isvc = {
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'InferenceService',
    metadata: { name: 'iris', namespace: 'ns', uid: 'u1' },
    spec: { requestLogging: { sampleRate: 1, retentionDays: 30 } },
  } as unknown as InferenceServiceObject;
  const config = {
    endpoint: 'http://minio:9000',
    bucket: 'lathe',
    region: 'us-east-1',
    accessKey: 'a',
    secretKey: 'b',
  };

  function contextAt(clock: { now: Date }) {
    const events: { type: string; reason: string; message: string }[] = [];
    const ctx = {
      now: () => clock.now,
      log: { info: () => undefined, warn: () => undefined },
      events: {
        record: async (_o: unknown, type: string, reason: string, _a: string, message: string) =>
          void events.push({ type, reason, message }),
      },
    };
    return { ctx: ctx as never, events };
  }

  it('runs at most once an hour, at once when the retention changes, and says what it deleted', async () => {
    const store = new MemoryStore(new Set([keyAt('requests', '2026-10-01T05:00:00Z')]));
    const step = retentionStep(config, () => store);
    const clock = { now: new Date('2026-12-07T10:00:00Z') };
    const { ctx, events } = contextAt(clock);

    expect(await step.run(isvc, ctx, {})).toEqual({ requeueAfterMs: RETENTION_INTERVAL_MS });
    expect(store.objects.size).toBe(0);
    expect(events).toEqual([
      {
        type: 'Normal',
        reason: 'RequestLogsExpired',
        message: 'Deleted 1 request-log objects older than 30 days: requests/2026-10-01/',
      },
    ]);

    store.objects.add(keyAt('requests', '2026-10-02T05:00:00Z'));
    clock.now = new Date('2026-12-07T10:20:00Z');
    expect(await step.run(isvc, ctx, {})).toEqual({ requeueAfterMs: 40 * 60 * 1000 });
    expect(store.objects.size).toBe(1);

    const shorter = {
      ...isvc,
      spec: { requestLogging: { sampleRate: 1, retentionDays: 10 } },
    } as unknown as InferenceServiceObject;
    await step.run(shorter, ctx, {});
    expect(store.objects.size).toBe(0);

    clock.now = new Date('2026-12-07T11:00:00Z');
    expect(await step.run(isvc, ctx, {})).toEqual({ requeueAfterMs: RETENTION_INTERVAL_MS });
    expect(events).toHaveLength(2);
  });

  it('does not stop serving when the store fails: a Warning, and a retry in five minutes', async () => {
    const failing: RetentionStore = {
      // biome-ignore lint/correctness/useYield: fails before the first key
      async *keys() {
        throw new Error('connect ECONNREFUSED');
      },
      removePrefix: async () => 0,
    };
    const step = retentionStep({ store: config }, () => failing);
    const { ctx, events } = contextAt({ now: new Date('2026-12-07T10:00:00Z') });
    expect(await step.run(isvc, ctx, {})).toEqual({ requeueAfterMs: RETENTION_RETRY_MS });
    expect(events[0]).toMatchObject({ type: 'Warning', reason: 'RequestLogRetentionFailed' });
    expect(events[0]!.message).toContain('s3://lathe/feedback/ns/iris/');
    expect(events[0]!.message).toContain('ECONNREFUSED');
  });
});
