import { describe, expect, it } from 'vitest';
import {
  ArtifactManifestSchema,
  checkAgainstManifest,
  checkEntryAgainstManifest,
  manifestEntry,
  manifestFor,
  manifestFromEntries,
  sha256Digest,
  verifyArtifact,
  verifyDatasetManifest,
} from './manifest.js';
import { ObjectNotFoundError, StorageUnavailableError } from './object-store.js';

/** An in-memory store holding `objects` (bucket/key → bytes): pure logic under test, no I/O. */
function memoryStore(objects: Record<string, Buffer>) {
  const get = (bucket: string, key: string) => {
    const found = objects[`${bucket}/${key}`];
    if (!found) throw new ObjectNotFoundError(`${bucket}/${key} does not exist`);
    return found;
  };
  return {
    read: async (bucket: string, key: string) => get(bucket, key),
    digestOf: async (bucket: string, key: string) => {
      const bytes = get(bucket, key);
      return { digest: sha256Digest(bytes), sizeBytes: bytes.length };
    },
  };
}

const files = {
  'model.json': Buffer.from('{"layers":[]}'),
  'weights.bin': Buffer.from([1, 2, 3, 4]),
};
const { manifest, digest } = manifestFor(files);
const uri = 's3://lathe/models/ns/iris/1/';
const stored = (overrides: Record<string, Buffer | undefined> = {}) => {
  const all: Record<string, Buffer | undefined> = {
    'lathe/models/ns/iris/1/manifest.json': manifest,
    'lathe/models/ns/iris/1/model.json': files['model.json'],
    'lathe/models/ns/iris/1/weights.bin': files['weights.bin'],
    ...overrides,
  };
  return memoryStore(
    Object.fromEntries(Object.entries(all).filter(([, v]) => v)) as Record<string, Buffer>,
  );
};

describe('verifyArtifact', () => {
  it('verifies an intact artifact and sums its size', async () => {
    const result = await verifyArtifact(stored(), { uri, digest });
    expect(result).toMatchObject({
      verified: true,
      digest,
      files: 2,
      sizeBytes: manifest.length + files['model.json'].length + files['weights.bin'].length,
    });
  });

  it.each([
    [
      'a non-s3 URI',
      { uri: 'https://example.com/m/', digest },
      {},
      'UnsupportedArtifactURI',
      'not an s3://',
    ],
    [
      'a missing manifest',
      { uri, digest },
      { 'lathe/models/ns/iris/1/manifest.json': undefined },
      'ArtifactNotFound',
      'manifest.json does not exist',
    ],
    [
      'another digest',
      { uri, digest: `sha256:${'0'.repeat(64)}` },
      {},
      'DigestMismatch',
      'the expected digest is',
    ],
    [
      'a missing file',
      { uri, digest },
      { 'lathe/models/ns/iris/1/weights.bin': undefined },
      'FileMismatch',
      'weights.bin is listed',
    ],
    [
      'a changed file',
      { uri, digest },
      { 'lathe/models/ns/iris/1/weights.bin': Buffer.from([9, 9, 9, 9]) },
      'FileMismatch',
      'weights.bin is 4 bytes',
    ],
  ])('reports %s', async (_, artifact, overrides, reason, message) => {
    const result = await verifyArtifact(stored(overrides), artifact);
    expect(result).toMatchObject({ verified: false, reason });
    expect(result.verified === false && result.message).toContain(message);
  });

  it('reports a manifest that is not one, naming the field', async () => {
    const bad = Buffer.from('{"files":[{"path":"/abs","sizeBytes":1,"sha256":"x"}]}');
    const result = await verifyArtifact(stored({ 'lathe/models/ns/iris/1/manifest.json': bad }), {
      uri,
      digest: sha256Digest(bad),
    });
    expect(result).toMatchObject({ verified: false, reason: 'ManifestInvalid' });
    expect(result.verified === false && result.message).toContain('files.0.path');
  });

  it('returns the verified bytes of the files to read whole, and streams the others', async () => {
    const store = stored();
    const streamed: string[] = [];
    const digestOf = store.digestOf;
    store.digestOf = async (bucket, key) => {
      streamed.push(key);
      return digestOf(bucket, key);
    };
    const result = await verifyArtifact(
      store,
      { uri, digest },
      { readWhole: (p) => p === 'model.json' },
    );
    expect(result.verified && [...result.contents]).toEqual([['model.json', files['model.json']]]);
    expect(streamed).toEqual(['models/ns/iris/1/weights.bin']);
  });

  it.each([
    ['a changed file', Buffer.from([9, 9, 9, 9]), 'weights.bin is 4 bytes with sha256:'],
    ['a missing file', undefined, 'weights.bin is listed in manifest.json but missing'],
  ])('reports %s read whole as it reports it streamed', async (_, bytes, message) => {
    const result = await verifyArtifact(
      stored({ 'lathe/models/ns/iris/1/weights.bin': bytes }),
      { uri, digest },
      { readWhole: () => true },
    );
    expect(result).toMatchObject({ verified: false, reason: 'FileMismatch' });
    expect(result.verified === false && result.message).toContain(message);
  });

  it('throws when the store is unreachable, so the reconcile is retried', async () => {
    const down = {
      read: async () => {
        throw new StorageUnavailableError('connect ECONNREFUSED');
      },
      digestOf: async () => ({ digest: '', sizeBytes: 0 }),
    };
    await expect(verifyArtifact(down, { uri, digest })).rejects.toBeInstanceOf(
      StorageUnavailableError,
    );
  });
});

describe('the manifest bytes (what another language must reproduce)', () => {
  it('pins the canonical bytes and digest of a fixed manifest', () => {
    const { manifest, digest } = manifestFor({
      'weights.bin': Buffer.from([0, 1, 2, 3]),
      'model.json': Buffer.from('{"format":"layers-model"}'),
      'sub/dir/a.txt': Buffer.from('hello\n'),
    });
    // The same bytes as Python's `json.dumps({"files": entries}, indent=2) + "\n"` with the
    // entries sorted by path: what the scikit-learn trainer writes.
    expect(manifest.toString('utf8')).toBe(
      `${[
        '{',
        '  "files": [',
        '    {',
        '      "path": "model.json",',
        '      "sizeBytes": 25,',
        '      "sha256": "d347a2b772de39112d9703afe004935a65dca3d2ccbc74be81247a4fb530748e"',
        '    },',
        '    {',
        '      "path": "sub/dir/a.txt",',
        '      "sizeBytes": 6,',
        '      "sha256": "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"',
        '    },',
        '    {',
        '      "path": "weights.bin",',
        '      "sizeBytes": 4,',
        '      "sha256": "054edec1d0211f624fed0cbca9d4f9400b0e491c43742af2c5b0abebf0c990d8"',
        '    }',
        '  ]',
        '}',
      ].join('\n')}\n`,
    );
    expect(digest).toBe('sha256:ba60a024c75427b2036ee12fad7fa5bf27029fe0b359a81d94e0798baf6f3e3f');
  });

  it('is the same whatever order the files come in', () => {
    const a = { path: 'a', sizeBytes: 1, sha256: 'a'.repeat(64) };
    const b = { path: 'b', sizeBytes: 2, sha256: 'b'.repeat(64) };
    expect(manifestFromEntries([b, a]).digest).toBe(manifestFromEntries([a, b]).digest);
  });
});

describe('checkAgainstManifest and checkEntryAgainstManifest', () => {
  const bytes = Buffer.from('{"size": 1}\n');
  const manifest = ArtifactManifestSchema.parse(
    JSON.parse(manifestFor({ 'test.raw.jsonl': bytes }).manifest.toString()),
  );

  it('accepts the bytes the manifest lists, in memory or hashed while streamed', () => {
    expect(checkAgainstManifest(manifest, 'test.raw.jsonl', bytes)).toBeUndefined();
    expect(
      checkEntryAgainstManifest(manifest, manifestEntry('test.raw.jsonl', bytes)),
    ).toBeUndefined();
  });

  it('names a changed or unlisted file', () => {
    expect(checkAgainstManifest(manifest, 'test.raw.jsonl', Buffer.from('{}\n'))).toMatch(
      /^test.raw.jsonl is 3 bytes with sha256:[0-9a-f]{64}; manifest.json says 12 bytes with sha256:/,
    );
    expect(checkEntryAgainstManifest(manifest, manifestEntry('test.csv', bytes))).toBe(
      'test.csv is not listed in manifest.json',
    );
  });
});

describe('verifyDatasetManifest', () => {
  const dataset = manifestFor({ 'train.csv': Buffer.from('x,y\n1,0\n') });
  const hex = dataset.digest.slice('sha256:'.length);

  it.each([
    ['the 16 digits ingestion names a version with', hex.slice(0, 16)],
    ['the whole sha256', hex],
    ['a name that is not a content hash (written by hand)', 'v1'],
  ])('accepts the manifest of a version named by %s', (_, version) => {
    const result = verifyDatasetManifest(dataset.manifest, version);
    expect(result).toMatchObject({ verified: true, digest: dataset.digest });
    expect(result.verified && result.manifest.files.map((f) => f.path)).toEqual(['train.csv']);
  });

  it('refuses a manifest whose sha256 does not start with the version name', () => {
    const other = manifestFor({ 'train.csv': Buffer.from('x,y\n1,1\n') });
    expect(verifyDatasetManifest(other.manifest, hex.slice(0, 16))).toEqual({
      verified: false,
      reason: 'ManifestMismatch',
      message: `manifest.json has digest ${other.digest}, which does not start with the version's name ${hex.slice(0, 16)}: it is not the manifest ingestion wrote`,
    });
  });

  it('reports a malformed manifest, naming the field', () => {
    const result = verifyDatasetManifest(Buffer.from('{"files":[]}'), 'v1');
    expect(result).toMatchObject({ verified: false, reason: 'ManifestInvalid' });
    expect(result.verified === false && result.message).toContain('files: ');
  });
});
