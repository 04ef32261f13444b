import { describe, expect, it } from 'vitest';
import { manifestFor, sha256Digest } from '../../contract/manifest.js';
import { ObjectNotFoundError, StorageUnavailableError } from '../../contract/object-store.js';
import { DatasetError } from './dataset.js';
import {
  DatasetTamperedError,
  openDatasetVersion,
  versionOfDatasetUri,
} from './dataset-version.js';

const files = {
  'schema.json': Buffer.from('{"task":"classification"}\n'),
  'train.csv': Buffer.from('x,y\n1,0\n2,1\n'),
  'test.csv': Buffer.from('x,y\n3,1\n'),
  'test.raw.jsonl': Buffer.from('{"x":3,"y":"b"}\n'),
};
const { manifest, digest } = manifestFor(files);
/** The version's name, as ingestion gives it: the manifest's sha256, 16 hex digits. */
const version = digest.slice('sha256:'.length, 'sha256:'.length + 16);
const uri = `s3://lathe/datasets/ns/d/${version}/`;

/** An object store in memory holding the version, with `changes` (undefined: deleted). */
function storeWith(changes: Record<string, Buffer | undefined> = {}, at = version) {
  const objects = new Map<string, Buffer>();
  for (const [file, bytes] of Object.entries({
    ...files,
    'manifest.json': manifest,
    ...changes,
  })) {
    if (bytes) objects.set(`lathe/datasets/ns/d/${at}/${file}`, bytes);
  }
  const get = (bucket: string, key: string) => {
    const found = objects.get(`${bucket}/${key}`);
    if (!found) throw new ObjectNotFoundError(`s3://${bucket}/${key} does not exist`);
    return found;
  };
  return {
    read: async (bucket: string, key: string) => get(bucket, key),
    // Small chunks: the hash must cover every one of them.
    openRead: async (bucket: string, key: string) => {
      const bytes = get(bucket, key);
      return (async function* () {
        for (let i = 0; i < bytes.length; i += 5) yield bytes.subarray(i, i + 5);
      })();
    },
  };
}

/** Reads `file` both ways: whole, and streamed to the end. */
async function readBothWays(store: ReturnType<typeof storeWith>, file: string, at = uri) {
  const v = await openDatasetVersion(store, at);
  const whole = await v.read(file).catch((e: unknown) => e);
  const chunks: Buffer[] = [];
  const streamed = await (async () => {
    for await (const chunk of v.chunks(file)) chunks.push(chunk);
    return Buffer.concat(chunks);
  })().catch((e: unknown) => e);
  return { whole, streamed };
}

describe('openDatasetVersion and DatasetVersion', () => {
  it('reads every file of an intact version, whole or streamed, byte for byte', async () => {
    for (const [file, bytes] of Object.entries(files)) {
      const { whole, streamed } = await readBothWays(storeWith(), file);
      expect(whole).toEqual(bytes);
      expect(streamed).toEqual(bytes);
    }
  });

  it('accepts a version named by hand (no content hash): only its files are checked', async () => {
    const { whole } = await readBothWays(
      storeWith({}, 'v1'),
      'train.csv',
      's3://lathe/datasets/ns/d/v1/',
    );
    expect(whole).toEqual(files['train.csv']);
  });

  const flipped = (bytes: Buffer) => {
    const copy = Buffer.from(bytes);
    copy[copy.length - 2] = copy[copy.length - 2]! ^ 1;
    return copy;
  };

  it.each([
    {
      name: 'a file overwritten with other bytes of the same size',
      changes: { 'train.csv': flipped(files['train.csv']) },
      file: 'train.csv',
      problem: new RegExp(
        `^train\\.csv is ${files['train.csv'].length} bytes with sha256:[0-9a-f]{64}; manifest\\.json says ${files['train.csv'].length} bytes with sha256:`,
      ),
    },
    {
      name: 'a file with a row appended',
      changes: { 'test.raw.jsonl': Buffer.concat([files['test.raw.jsonl'], Buffer.from('{}\n')]) },
      file: 'test.raw.jsonl',
      problem: /^test\.raw\.jsonl is \d+ bytes/,
    },
    {
      name: 'the preparation (schema.json) changed',
      changes: { 'schema.json': Buffer.from('{"task":"regression"}\n') },
      file: 'schema.json',
      problem: /^schema\.json is \d+ bytes/,
    },
    {
      name: 'a file deleted',
      changes: { 'test.csv': undefined },
      file: 'test.csv',
      problem: /^test\.csv is listed in manifest\.json but missing$/,
    },
    {
      name: 'a file the manifest does not list',
      changes: { 'extra.csv': Buffer.from('x,y\n') },
      file: 'extra.csv',
      problem: /^extra\.csv is not listed in manifest\.json$/,
    },
  ])('refuses $name, naming the file, whole and streamed', async ({ changes, file, problem }) => {
    const { whole, streamed } = await readBothWays(storeWith(changes), file);
    for (const error of [whole, streamed]) {
      expect(error).toBeInstanceOf(DatasetTamperedError);
      expect(error).toMatchObject({ file });
      const message = (error as Error).message;
      expect(
        message.startsWith(`${file} does not match the dataset version's manifest.json (${uri}): `),
      ).toBe(true);
      expect(message.slice(message.indexOf('): ') + 3)).toMatch(problem);
    }
  });

  it('refuses a manifest rewritten to match changed files: the version is named after the old one', async () => {
    const changed = { ...files, 'train.csv': Buffer.from('x,y\n9,1\n') };
    const rewritten = manifestFor(changed).manifest;
    const error = await openDatasetVersion(
      storeWith({ 'train.csv': changed['train.csv'], 'manifest.json': rewritten }),
      uri,
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatasetTamperedError);
    expect(error).toMatchObject({ file: 'manifest.json' });
    expect((error as Error).message).toBe(
      `manifest.json of the dataset version ${uri}: manifest.json has digest ${sha256Digest(rewritten)}, which does not start with the version's name ${version}: it is not the manifest ingestion wrote`,
    );
  });

  it.each([
    {
      name: 'no manifest (the version is not complete)',
      changes: { 'manifest.json': undefined },
      at: 'v1',
      message: 'has no manifest.json (it is not complete)',
    },
    {
      name: 'a malformed manifest under a name that pins nothing',
      changes: { 'manifest.json': Buffer.from('{"files":[]}') },
      at: 'v1',
      message: 'manifest.json is not a valid manifest (files: ',
    },
  ])('reports $name as an invalid version', async ({ changes, at, message }) => {
    const error = await openDatasetVersion(
      storeWith(changes, at),
      `s3://lathe/datasets/ns/d/${at}/`,
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatasetError);
    expect(error).not.toBeInstanceOf(DatasetTamperedError);
    expect((error as Error).message).toContain(message);
  });

  it('passes an unreachable store on, to be retried', async () => {
    const store = {
      read: async () => {
        throw new StorageUnavailableError('connect ECONNREFUSED');
      },
    };
    await expect(openDatasetVersion(store, uri)).rejects.toBeInstanceOf(StorageUnavailableError);
  });

  it.each([
    ['s3://lathe/datasets/ns/d/0123456789abcdef/', '0123456789abcdef'],
    ['s3://lathe/datasets/ns/d/v1', 'v1'],
  ])('names the version of %s', (datasetUri, name) => {
    expect(versionOfDatasetUri(datasetUri)).toBe(name);
  });
});
