import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { clusterInfo } from '../e2e/cluster/testenv.js';
import { manifestFor, verifyArtifact } from './manifest.js';
import { ObjectNotFoundError, ObjectStore, StorageUnavailableError } from './object-store.js';

describe('ObjectStore on the local MinIO', () => {
  const { minio } = clusterInfo();
  const store = new ObjectStore(minio);
  const prefix = `itest/${randomBytes(4).toString('hex')}/`;

  it('writes, reads, digests, lists and removes objects', async () => {
    await store.write(minio.bucket, `${prefix}a.txt`, 'hello');
    await store.write(minio.bucket, `${prefix}sub/b.bin`, Buffer.from([1, 2, 3]));
    expect((await store.read(minio.bucket, `${prefix}a.txt`)).toString()).toBe('hello');
    expect(await store.digestOf(minio.bucket, `${prefix}a.txt`)).toEqual({
      digest: 'sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824',
      sizeBytes: 5,
    });
    expect((await store.list(minio.bucket, prefix)).sort()).toEqual([
      `${prefix}a.txt`,
      `${prefix}sub/b.bin`,
    ]);
    expect(await store.removePrefix(minio.bucket, prefix)).toBe(2);
    expect(await store.list(minio.bucket, prefix)).toEqual([]);
  });

  it('says a missing object is missing', async () => {
    await expect(store.read(minio.bucket, `${prefix}nope`)).rejects.toBeInstanceOf(
      ObjectNotFoundError,
    );
  });

  it('says an unreachable store is unavailable', async () => {
    const nowhere = new ObjectStore({ ...minio, endpoint: 'http://127.0.0.1:1' });
    await expect(nowhere.read(minio.bucket, 'x')).rejects.toBeInstanceOf(StorageUnavailableError);
  });

  it('verifies a real artifact end to end, and notices a changed byte', async () => {
    const files = {
      'model.json': Buffer.from('{"format":"layers-model"}'),
      'group1-shard1of1.bin': randomBytes(4096),
    };
    const { manifest, digest } = manifestFor(files);
    const root = `${prefix}model/`;
    await store.write(minio.bucket, `${root}manifest.json`, manifest);
    for (const [path, bytes] of Object.entries(files))
      await store.write(minio.bucket, `${root}${path}`, bytes);
    const uri = `s3://${minio.bucket}/${root}`;
    expect(await verifyArtifact(store, { uri, digest })).toMatchObject({
      verified: true,
      files: 2,
    });

    await store.write(minio.bucket, `${root}group1-shard1of1.bin`, randomBytes(4096));
    expect(await verifyArtifact(store, { uri, digest })).toMatchObject({
      verified: false,
      reason: 'FileMismatch',
    });
    await store.removePrefix(minio.bucket, prefix);
  });
});
