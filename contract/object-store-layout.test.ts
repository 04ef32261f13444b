import { describe, expect, it } from 'vitest';
import {
  batchOutputPrefix,
  datasetVersionPrefix,
  feedbackFileKey,
  isReadableByNamespace,
  keyInArtifact,
  modelVersionPrefix,
  namespacePrefixes,
  parseFeedbackFileKey,
  parseS3Uri,
  SHARED_PREFIX,
  trainingRunPrefix,
} from './object-store-layout.js';

describe('object-store layout', () => {
  it.each([
    [datasetVersionPrefix('ns', 'iris', 'abc123'), 'datasets/ns/iris/abc123/'],
    [modelVersionPrefix('ns', 'iris', 3), 'models/ns/iris/3/'],
    [trainingRunPrefix('ns', 'train-1'), 'runs/ns/train-1/'],
  ])('%s', (actual, expected) => expect(actual).toBe(expected));

  it.each([
    ['s3://lathe/models/ns/iris/3/', { bucket: 'lathe', key: 'models/ns/iris/3/' }],
    ['s3://my.bucket-1/a/b.json', { bucket: 'my.bucket-1', key: 'a/b.json' }],
  ])('parses %s', (uri, expected) => expect(parseS3Uri(uri)).toEqual(expected));

  it.each(['https://x/y', 's3://', 's3://UPPER/key', 'gs://bucket/key'])(
    'rejects %s, naming it',
    (uri) => {
      expect(() => parseS3Uri(uri)).toThrow(uri);
    },
  );

  it.each([
    ['models/a/', 'model.json', 'models/a/model.json'],
    ['models/a', 'model.json', 'models/a/model.json'],
  ])('joins %s and %s', (prefix, file, expected) =>
    expect(keyInArtifact(prefix, file)).toBe(expected),
  );

  it('names feedback files by kind, UTC day and hour, time, writer and sequence', () => {
    const time = new Date('2026-01-02T03:04:05.678Z');
    expect(feedbackFileKey('feedback/ns/iris/', 'requests', time, 'iris-v3-7d9f', 12)).toBe(
      'feedback/ns/iris/requests/2026-01-02/03/20260102T030405.678Z-iris-v3-7d9f-000012.jsonl',
    );
    expect(feedbackFileKey('feedback/ns/iris', 'labels', time, 'pod/with:odd', 0)).toBe(
      'feedback/ns/iris/labels/2026-01-02/03/20260102T030405.678Z-pod_with_odd-000000.jsonl',
    );
  });

  it('reads a feedback file name back', () => {
    const time = new Date('2026-01-02T03:04:05.678Z');
    for (const [writer, seq] of [
      ['iris-v3-7d9f', 12],
      ['a', 1234567],
    ] as const) {
      const key = feedbackFileKey('feedback/ns/iris/', 'labels', time, writer, seq);
      expect(parseFeedbackFileKey(key)).toEqual({ time, writer, seq });
    }
    for (const key of [
      'feedback/ns/iris/labels/notes.txt',
      'feedback/ns/iris/labels/2026-01-02/03/20260102T030405Z-pod-000001.jsonl',
      'feedback/ns/iris/labels/2026-01-02/03/20261302T030405.678Z-pod-000001.jsonl',
    ]) {
      expect(parseFeedbackFileKey(key)).toBeUndefined();
    }
  });
});

describe('isReadableByNamespace', () => {
  it.each([
    ['sources/team-a/iris.csv', true],
    ['sources/team-a/parts/', true],
    ['datasets/team-a/iris/0123456789abcdef/train.csv', true],
    ['feedback/team-a/iris/', true],
    ['models/team-a/iris/3/', true],
    ['runs/team-a/t/', true],
    ['shared/examples/iris.csv', true],
    ['sources/team-b/iris.csv', false],
    ['datasets/team-b/', false],
    ['sources/team-a-other/iris.csv', false],
    ['sources/team-a', false],
    ['examples/iris.csv', false],
    ['', false],
    ['iris.csv', false],
    ['sources/team-a/../team-b/iris.csv', false],
    ['shared/../datasets/team-b/x', false],
    ['sources/team-a//x.csv', false],
    ['sources/team-a/./x.csv', false],
    ['sources/team-a/..', false],
  ])('%j: %s', (key, readable) => {
    expect(isReadableByNamespace(key, 'team-a')).toBe(readable);
  });

  it('names every prefix of the namespace, and only them', () => {
    expect(namespacePrefixes('team-a')).toEqual([
      'sources/team-a/',
      'datasets/team-a/',
      'models/team-a/',
      'runs/team-a/',
      'feedback/team-a/',
      'batch/team-a/',
    ]);
    expect(SHARED_PREFIX).toBe('shared/');
  });
});

describe('batchOutputPrefix', () => {
  it.each([
    [undefined, { ok: true, prefix: 'batch/ml/score/u1/' }],
    ['batch/ml/', { ok: true, prefix: 'batch/ml/u1/' }],
    ['batch/ml/daily/2026-12-07/', { ok: true, prefix: 'batch/ml/daily/2026-12-07/u1/' }],
  ])('writes a run with the prefix %s under the run’s UID', (prefix, expected) => {
    expect(batchOutputPrefix('ml', 'score', 'u1', prefix)).toEqual(expected);
  });

  it.each([
    ['batch/other/', 'batch/other/ is not under batch/ml/'],
    ['batch/mlx/', 'batch/mlx/ is not under batch/ml/'],
    ['sources/ml/out/', 'is not under batch/ml/'],
    ['datasets/ml/iris/', 'is not under batch/ml/'],
    ['batch/ml/out', 'is not under batch/ml/ (a prefix ending with /)'],
    ['batch/ml/../other/', 'has an empty, . or .. segment'],
    ['batch/ml//x/', 'has an empty, . or .. segment'],
  ])('refuses %s, a prefix the namespace may not write', (prefix, message) => {
    const result = batchOutputPrefix('ml', 'score', 'u1', prefix);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toContain(message);
  });
});
