import { describe, expect, it } from 'vitest';
import {
  ArtifactManifestSchema,
  datasetVersionPrefix,
  keyInArtifact,
  modelVersionPrefix,
  parseS3Uri,
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
});

describe('artifact manifest', () => {
  const sha = 'a'.repeat(64);
  it('accepts relative files with sizes and digests', () => {
    expect(
      ArtifactManifestSchema.parse({ files: [{ path: 'model.json', sizeBytes: 10, sha256: sha }] }),
    ).toBeTruthy();
  });
  it.each([
    ['an absolute path', { path: '/etc/passwd', sizeBytes: 1, sha256: sha }, 'relative path'],
    [
      'a path escaping the artifact',
      { path: 'a/../../b', sizeBytes: 1, sha256: sha },
      'relative path',
    ],
    [
      'the manifest itself',
      { path: 'manifest.json', sizeBytes: 1, sha256: sha },
      'other than manifest.json',
    ],
    ['a bad digest', { path: 'm.json', sizeBytes: 1, sha256: 'XYZ' }, '64 lowercase hex'],
  ])('rejects %s', (_, file, message) => {
    const result = ArtifactManifestSchema.safeParse({ files: [file] });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toContain(message);
  });
});
