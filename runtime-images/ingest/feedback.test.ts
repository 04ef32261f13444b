/**
 * The feedback source on an in-memory store holding files in the inference server's format
 * (the contract's schemas and `feedbackFileKey`): the join, what it skips, the window, the
 * partitioned join, and the errors a user sees.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type FeedbackLabels,
  FeedbackLabelsSchema,
  type SampledRequest,
  SampledRequestSchema,
} from '../../contract/feedback-log.js';
import {
  type FeedbackKind,
  feedbackFileKey,
  feedbackPrefix,
  parseFeedbackFileKey,
} from '../../contract/object-store-layout.js';
import { IngestFailure } from './failure.js';
import {
  type FeedbackCounts,
  type FeedbackFile,
  type FeedbackStore,
  feedbackTable,
  labelFilesToRead,
  leadingRequestId,
  partitionOf,
} from './feedback.js';
import type { Cell } from './table.js';

const prefix = feedbackPrefix('ns', 'iris');
type RawRecord = Record<string, unknown> | null;

let workDir: string;
beforeEach(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'lathe-feedback-test-'));
});
afterEach(async () => {
  await rm(workDir, { recursive: true, force: true });
});

/** An object store in memory: keys listed in ascending order, as S3 lists them. */
class MemoryStore implements FeedbackStore {
  readonly objects = new Map<string, string>();
  readonly opened: string[] = [];

  async *keys(p: string): AsyncGenerator<string> {
    for (const key of [...this.objects.keys()].sort()) if (key.startsWith(p)) yield key;
  }

  async open(key: string): Promise<AsyncIterable<Buffer>> {
    this.opened.push(key);
    const text = this.objects.get(key) ?? '';
    return (async function* () {
      // Small chunks, so lines cross chunk boundaries.
      for (let at = 0; at < text.length; at += 50) yield Buffer.from(text.slice(at, at + 50));
    })();
  }

  /** Writes a file of `kind` as a server replica would name it. */
  put(kind: FeedbackKind, time: string, writer: string, seq: number, lines: object[]): string {
    const key = feedbackFileKey(prefix, kind, new Date(time), writer, seq);
    this.objects.set(key, lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
    return key;
  }
}

function request(requestId: string, records: RawRecord[], time = '2026-01-02T03:00:00.000Z') {
  const line: SampledRequest = {
    requestId,
    time,
    model: 'iris',
    modelVersion: '3',
    protocol: 'v1',
    records,
    features: records.map(() => [0.5, 1]),
    predictions: records.map(() => ({ label: 'setosa', probabilities: [0.9, 0.1] })),
  };
  return SampledRequestSchema.parse(line);
}

function labels(
  requestId: string,
  values: (string | number | boolean)[],
  time: string,
  records: RawRecord[] | null = null,
) {
  const line: FeedbackLabels = {
    requestId,
    time,
    model: 'iris',
    modelVersion: '3',
    labels: values,
    records,
    features: records ? records.map(() => [0.5, 1]) : null,
    predictions: records
      ? records.map(() => ({ label: 'setosa', probabilities: [0.9, 0.1] }))
      : null,
  };
  return FeedbackLabelsSchema.parse(line);
}

async function read(
  store: MemoryStore,
  options: { since?: string; bucketBytes?: number; label?: string } = {},
): Promise<{ columns: string[]; rows: Record<string, Cell>[]; counts: FeedbackCounts }> {
  let counts: FeedbackCounts | undefined;
  const table = feedbackTable({
    store,
    prefix,
    location: `s3://lathe/${prefix}`,
    service: 'InferenceService ns/iris',
    label: options.label ?? 'species',
    since: options.since ? new Date(options.since) : undefined,
    workDir,
    bucketBytes: options.bucketBytes,
    log: (_message, fields) => {
      counts = fields as unknown as FeedbackCounts;
    },
  });
  const rows: Cell[][] = [];
  for await (const batch of table.batches()) rows.push(...batch);
  return {
    columns: table.columns,
    rows: rows.map((row) => Object.fromEntries(table.columns.map((c, j) => [c, row[j] ?? null]))),
    counts: counts!,
  };
}

async function failure(store: MemoryStore, options: { since?: string } = {}) {
  try {
    await read(store, options);
  } catch (error) {
    if (error instanceof IngestFailure) return error;
    throw error;
  }
  throw new Error('expected the feedback source to fail');
}

const flower = (n: number, extra: Record<string, unknown> = {}) => ({
  sepal_length: n,
  petal_length: n / 2,
  ...extra,
});

describe('the feedback source', () => {
  it('joins labels with the records they carry or with the sampled requests, and skips the rest', async () => {
    const store = new MemoryStore();
    store.put('requests', '2026-01-02T03:00:00.000Z', 'iris-a', 0, [
      request('r1', [flower(1), flower(2)]),
      request('r2', [flower(3)]),
      request('r3', [null, flower(4)]), // the first row was sent prepared
      request('r4', [flower(5)]),
    ]);
    store.put('labels', '2026-01-02T04:00:00.000Z', 'iris-b', 0, [
      labels('r1', ['setosa', 'virginica'], '2026-01-02T04:00:00.000Z'),
      labels('r0', ['setosa'], '2026-01-02T04:00:01.000Z', [flower(9, { colour: 'blue' })]),
      labels('r3', ['versicolor', 'setosa'], '2026-01-02T04:00:02.000Z'),
      labels('gone', ['setosa'], '2026-01-02T04:00:03.000Z'), // never sampled
      labels('r4', ['setosa', 'setosa'], '2026-01-02T04:00:04.000Z'), // two labels, one row
    ]);
    const { columns, rows, counts } = await read(store);
    // The label first, then the records' keys as they appear.
    expect(columns).toEqual(['species', 'sepal_length', 'petal_length', 'colour']);
    expect(rows).toEqual([
      { species: 'setosa', sepal_length: 9, petal_length: 4.5, colour: 'blue' },
      { species: 'setosa', sepal_length: 1, petal_length: 0.5, colour: null },
      { species: 'virginica', sepal_length: 2, petal_length: 1, colour: null },
      { species: 'setosa', sepal_length: 4, petal_length: 2, colour: null },
    ]);
    expect(counts).toMatchObject({
      labelFiles: 1,
      labels: 5,
      rows: 4,
      rowsFromLabels: 1,
      rowsFromRequests: 3,
      notSampled: 1,
      preparedOnly: 1,
      mismatched: 2,
      partitions: 1,
    });
  });

  it('takes the first label of a request, as the servers do, keeping the records another carried', async () => {
    const store = new MemoryStore();
    store.put('labels', '2026-01-02T04:00:00.000Z', 'iris-a', 0, [
      labels('r1', ['setosa'], '2026-01-02T04:00:00.000Z', [flower(1)]),
      labels('r2', ['setosa'], '2026-01-02T04:00:09.000Z', [flower(2)]),
    ]);
    // Another replica, later: a relabel of r1 (without records), an earlier label for r2.
    store.put('labels', '2026-01-02T05:00:00.000Z', 'iris-b', 0, [
      labels('r1', ['virginica'], '2026-01-02T05:00:00.000Z'),
      labels('r2', ['versicolor'], '2026-01-02T04:00:05.000Z'),
    ]);
    const { rows, counts } = await read(store);
    expect(rows).toEqual([
      { species: 'setosa', sepal_length: 1, petal_length: 0.5 },
      { species: 'versicolor', sepal_length: 2, petal_length: 1 },
    ]);
    expect(counts).toMatchObject({ labels: 4, relabels: 2, rows: 2 });
    // Every label carried or found its records: requests/ was not read.
    expect(store.opened.every((k) => k.includes('/labels/'))).toBe(true);
  });

  it('gives the same rows when the join is partitioned to keep memory small', async () => {
    const store = new MemoryStore();
    const requests: SampledRequest[] = [];
    const labelLines: FeedbackLabels[] = [];
    for (let i = 0; i < 300; i++) {
      const time = `2026-01-02T03:${String(Math.floor(i / 60)).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}.000Z`;
      if (i % 5 !== 0) requests.push(request(`req-${i}`, [flower(i)], time));
      // Every third label carries its records; the others need requests/.
      labelLines.push(
        labels(`req-${i}`, [i % 2 ? 'setosa' : 'virginica'], time, i % 3 ? null : [flower(i)]),
      );
    }
    store.put('requests', '2026-01-02T03:00:00.000Z', 'iris-a', 0, requests.slice(0, 120));
    store.put('requests', '2026-01-02T03:02:00.000Z', 'iris-a', 1, requests.slice(120));
    store.put('labels', '2026-01-02T03:00:00.000Z', 'iris-b', 0, labelLines);
    const whole = await read(store);
    const partitioned = await read(store, { bucketBytes: 2048 });
    expect(partitioned.counts.partitions).toBeGreaterThan(3);
    expect(whole.counts.partitions).toBe(1);
    const sorted = (rows: Record<string, Cell>[]) =>
      rows.map((r) => JSON.stringify(r)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    expect(sorted(partitioned.rows)).toEqual(sorted(whole.rows));
    // 300 labels: 100 carry records; of the 200 others, those whose request was sampled.
    const joined = labelLines.filter((l, i) => l.records !== null || i % 5 !== 0).length;
    expect(whole.rows).toHaveLength(joined);
    expect(whole.counts).toMatchObject({ rowsFromLabels: 100, notSampled: 300 - joined });
    expect(partitioned.counts).toMatchObject({ rows: joined, notSampled: 300 - joined });
    // The scratch files are gone.
    expect(await readdir(workDir)).toEqual([]);
  });

  it('counts only labels received since the window start, reading only the files that can hold them', async () => {
    const store = new MemoryStore();
    const old = store.put('labels', '2026-01-01T10:00:00.000Z', 'iris-a', 0, [
      labels('a', ['setosa'], '2026-01-01T10:00:00.000Z', [flower(1)]),
    ]);
    const straddling = store.put('labels', '2026-01-01T23:59:50.000Z', 'iris-a', 1, [
      labels('b', ['setosa'], '2026-01-01T23:59:50.000Z', [flower(2)]),
      labels('c', ['virginica'], '2026-01-02T00:00:03.000Z', [flower(3)]),
    ]);
    store.put('labels', '2026-01-02T00:00:10.000Z', 'iris-a', 2, [
      labels('d', ['versicolor'], '2026-01-02T00:00:10.000Z', [flower(4)]),
    ]);
    const { rows, counts } = await read(store, { since: '2026-01-02T00:00:00.000Z' });
    expect(rows.map((r) => r.species)).toEqual(['virginica', 'versicolor']);
    expect(counts).toMatchObject({ labelFiles: 2, labels: 2, beforeWindow: 1 });
    expect(store.opened).not.toContain(old);
    expect(store.opened).toContain(straddling);
  });

  it('ignores keys that are not feedback files', async () => {
    const store = new MemoryStore();
    store.objects.set(`${prefix}labels/README.txt`, 'not JSON\n');
    store.put('labels', '2026-01-02T04:00:00.000Z', 'iris-a', 0, [
      labels('r1', [4.5], '2026-01-02T04:00:00.000Z', [{ x: 1 }]),
    ]);
    const { rows, counts } = await read(store, { label: 'y' });
    expect(rows).toEqual([{ y: 4.5, x: 1 }]);
    expect(counts.otherFiles).toBe(1);
  });

  it('is SourceNotFound without labelled feedback, or when no label could be joined', async () => {
    const store = new MemoryStore();
    store.put('requests', '2026-01-02T03:00:00.000Z', 'iris-a', 0, [request('r1', [flower(1)])]);
    const none = await failure(store);
    expect(none.reason).toBe('SourceNotFound');
    expect(none.message).toContain('InferenceService ns/iris has no labelled feedback');
    expect(none.message).toContain(`s3://lathe/${prefix}labels/`);

    store.put('labels', '2026-01-01T04:00:00.000Z', 'iris-a', 0, [
      labels('r1', ['setosa'], '2026-01-01T04:00:00.000Z'),
    ]);
    const old = await failure(store, { since: '2026-01-02T00:00:00.000Z' });
    expect(old.reason).toBe('SourceNotFound');
    expect(old.message).toContain('received since 2026-01-02T00:00:00.000Z');

    store.put('labels', '2026-01-02T04:00:00.000Z', 'iris-a', 1, [
      labels('unsampled', ['setosa'], '2026-01-02T04:00:00.000Z'),
    ]);
    const unjoined = await failure(store, { since: '2026-01-02T00:00:00.000Z' });
    expect(unjoined.reason).toBe('SourceNotFound');
    expect(unjoined.message).toContain('no row could be joined');
    expect(unjoined.message).toContain('1 rows were not sampled');
  });

  it('reports a line that is not a feedback record as InvalidData, naming the file and line', async () => {
    const store = new MemoryStore();
    const key = store.put('labels', '2026-01-02T04:00:00.000Z', 'iris-a', 0, [
      labels('r1', ['setosa'], '2026-01-02T04:00:00.000Z', [flower(1)]),
      { requestId: 'r2', time: '2026-01-02T04:00:01.000Z', labels: 'setosa' },
    ]);
    const error = await failure(store);
    expect(error.reason).toBe('InvalidData');
    expect(error.message).toContain(`s3://lathe/${key}: line 2 is not a feedback label`);
    expect(error.message).toContain('labels');
  });
});

describe('sampled requests', () => {
  it('are joined whatever the order of their keys, and parsed only when a label needs them', async () => {
    const store = new MemoryStore();
    const { requestId, ...rest } = request('r2', [flower(2)]);
    const key = `${prefix}requests/2026-01-02/03/20260102T030000.000Z-other-000000.jsonl`;
    store.objects.set(
      key,
      [
        `${JSON.stringify(request('r1', [flower(1)]))}\n`,
        // Another writer's key order: the line is parsed to find its ID.
        `${JSON.stringify({ ...rest, requestId })}\n`,
        // Never labelled, so never parsed: a broken tail goes unnoticed.
        '{"requestId":"r3","time": broken\n',
      ].join(''),
    );
    store.put('labels', '2026-01-02T04:00:00.000Z', 'iris-b', 0, [
      labels('r1', ['setosa'], '2026-01-02T04:00:00.000Z'),
      labels('r2', ['virginica'], '2026-01-02T04:00:01.000Z'),
    ]);
    const { rows } = await read(store);
    expect(rows.map((r) => [r.species, r.sepal_length])).toEqual([
      ['setosa', 1],
      ['virginica', 2],
    ]);
    // A labelled request whose line is broken is InvalidData, naming the file and line.
    store.put('labels', '2026-01-02T04:00:00.000Z', 'iris-b', 0, [
      labels('r3', ['setosa'], '2026-01-02T04:00:00.000Z'),
    ]);
    const error = await failure(store);
    expect(error.reason).toBe('InvalidData');
    expect(error.message).toContain(`s3://lathe/${key}: line 3 is not valid JSON`);
  });

  it.each([
    ['{"requestId":"abc-1","time":"x"}', 'abc-1'],
    ['{"requestId":"a\\"b","time":"x"}', undefined],
    ['{"time":"x","requestId":"abc"}', undefined],
    ['{"requestId": "abc"}', undefined],
  ])('reads the leading request ID of %s', (line, expected) => {
    expect(leadingRequestId(line)).toBe(expected);
  });
});

describe('labelFilesToRead', () => {
  const file = (time: string, writer: string, seq: number): FeedbackFile => {
    const key = feedbackFileKey(prefix, 'labels', new Date(time), writer, seq);
    return { key, ...parseFeedbackFileKey(key)! };
  };
  const a0 = file('2026-01-01T10:00:00.000Z', 'a', 0);
  const a1 = file('2026-01-01T23:59:00.000Z', 'a', 1);
  const a2 = file('2026-01-02T01:00:00.000Z', 'a', 2);
  const b0 = file('2026-01-01T08:00:00.000Z', 'b', 0);
  const c0 = file('2026-01-02T00:00:00.000Z', 'c', 0);
  const c1 = file('2026-01-02T02:00:00.000Z', 'c', 1);

  it.each([
    ['no window: every file', undefined, [a0, a1, a2, b0, c0, c1]],
    // a1 may hold labels up to a2's start; b0 is b's latest, so it may hold anything later.
    ['a window', '2026-01-02T00:00:00.000Z', [a1, a2, b0, c0, c1]],
    // c0 ends where c1 starts, exactly at the window's start: a label at that instant counts.
    ['a window starting at a file', '2026-01-02T02:00:00.000Z', [a2, b0, c0, c1]],
    ['a window after everything', '2026-02-01T00:00:00.000Z', [a2, b0, c1]],
  ])('%s', (_name, since, expected) => {
    const files = [c1, a2, b0, a0, c0, a1];
    expect(labelFilesToRead(files, since ? new Date(since) : undefined)).toEqual(
      expected.map((f) => f.key).sort(),
    );
  });

  it('spreads request IDs over the partitions', () => {
    const counts = new Array(8).fill(0);
    for (let i = 0; i < 8000; i++) counts[partitionOf(crypto.randomUUID(), 8)]++;
    for (const n of counts) expect(n).toBeGreaterThan(800);
    expect(partitionOf('req-1', 8)).toBe(partitionOf('req-1', 8));
  });
});
