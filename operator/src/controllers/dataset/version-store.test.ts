import { describe, expect, it } from 'vitest';
import {
  type ListedObject,
  type ObjectStore,
  StorageUnavailableError,
} from '../../../../contract/object-store.js';
import { DatasetVersionStore, StorageUnavailable } from './version-store.js';

const A = 'aaaaaaaaaaaaaaaa';
const B = 'bbbbbbbbbbbbbbbb';
const ds = { namespace: 'ns', name: 'iris' };
const stats = (rows: number) =>
  Buffer.from(
    JSON.stringify({
      formatVersion: 1,
      rows,
      trainRows: rows - 30,
      testRows: 30,
      sourceRows: rows,
      columns: [],
      distributions: [],
    }),
  );

/** An object store of a few versions that counts what it is asked. */
function fakeStore(versions: Record<string, string>) {
  const calls = { list: 0, read: 0, remove: [] as string[] };
  let down = false;
  const store = {
    async listObjects(_bucket: string, prefix: string): Promise<ListedObject[]> {
      calls.list += 1;
      if (down) throw new StorageUnavailableError('connect ECONNREFUSED');
      return Object.entries(versions).map(([v, at]) => ({
        key: `${prefix}${v}/manifest.json`,
        sizeBytes: 1,
        lastModified: new Date(at),
      }));
    },
    async read(_bucket: string, key: string): Promise<Buffer> {
      calls.read += 1;
      return stats(key.includes(A) ? 150 : 140);
    },
    async removePrefix(_bucket: string, prefix: string): Promise<number> {
      calls.remove.push(prefix);
      return 6;
    },
  };
  return {
    store: store as unknown as ObjectStore,
    calls,
    versions,
    setDown: (d: boolean) => {
      down = d;
    },
  };
}

describe('DatasetVersionStore', () => {
  it('lists a Dataset once per newest succeeded ingestion, and again for a new one', async () => {
    const fake = fakeStore({ [A]: '2026-06-01T00:00:00Z' });
    const versions = new DatasetVersionStore(fake.store, 'lathe');
    expect((await versions.versions(ds, 'job-1', A)).map((v) => v.version)).toEqual([A]);
    await versions.versions(ds, 'job-1', A);
    await versions.versions(ds, 'job-1');
    expect(fake.calls.list).toBe(1);

    fake.versions[B] = '2026-06-02T00:00:00Z';
    expect((await versions.versions(ds, 'job-2', B)).map((v) => v.version)).toEqual([B, A]);
    expect(fake.calls.list).toBe(2);
  });

  it('lists again once for a current version the listing lacks, not on every pass', async () => {
    const fake = fakeStore({ [A]: '2026-06-01T00:00:00Z' });
    const versions = new DatasetVersionStore(fake.store, 'lathe');
    await versions.versions(ds, 'job-1');
    await versions.versions(ds, 'job-1', B);
    await versions.versions(ds, 'job-1', B);
    expect(fake.calls.list).toBe(2);
  });

  it('reads row counts once; a deleted version leaves the cached listing', async () => {
    const fake = fakeStore({ [A]: '2026-06-01T00:00:00Z', [B]: '2026-06-02T00:00:00Z' });
    const versions = new DatasetVersionStore(fake.store, 'lathe');
    expect(await versions.rowCounts(ds, 'job-1', A)).toEqual({
      rows: 150,
      trainRows: 120,
      testRows: 30,
    });
    await versions.rowCounts(ds, 'job-1', A);
    expect(fake.calls.read).toBe(1);

    await versions.remove(ds, A);
    expect(fake.calls.remove).toEqual([`datasets/ns/iris/${A}/`]);
    expect((await versions.versions(ds, 'job-1')).map((v) => v.version)).toEqual([B]);
    expect(fake.calls.list).toBe(1);
  });

  it('says StorageUnavailable when the store cannot be reached', async () => {
    const fake = fakeStore({});
    fake.setDown(true);
    const versions = new DatasetVersionStore(fake.store, 'lathe');
    const error = await versions.versions(ds, '').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageUnavailable);
    expect(error).toMatchObject({ reason: 'StorageUnavailable' });
    expect((error as Error).message).toContain('ECONNREFUSED');
  });

  it('answers from what it knows while the store is down, without asking it', async () => {
    const fake = fakeStore({ [A]: '2026-06-01T00:00:00Z' });
    const versions = new DatasetVersionStore(fake.store, 'lathe');
    await versions.rowCounts(ds, 'job-1', A);
    fake.setDown(true);
    const known = versions.known();
    expect((await known.versions(ds, 'job-2', B)).map((v) => v.version)).toEqual([A]);
    expect(await known.rowCounts(ds, 'job-2', A)).toMatchObject({ rows: 150 });
    expect(await known.versions({ namespace: 'ns', name: 'other' }, '')).toEqual([]);
    expect(fake.calls.list).toBe(1);
  });
});
