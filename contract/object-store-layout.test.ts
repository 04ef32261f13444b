import { describe, expect, it } from 'vitest';
import {
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
