/**
 * The versions of each Dataset in the object store, read through two bounded caches so a
 * reconcile does not list the store every time:
 *
 * - the listing of `datasets/<namespace>/<dataset>/`, remembered with the UID of the newest
 *   ingestion Job that succeeded when it was taken. A new version only appears when an
 *   ingestion succeeds, so a different UID (or a current version missing from the listing)
 *   lists again; so does age, for versions added or removed by hand.
 * - each version's row counts (kept with the listing) and `stats.json` (a few, for the
 *   current versions' columns), which never change: a version is named by its content.
 *
 * Deleting a version updates the cached listing, so a retried deletion does not list again.
 * An unreachable store is reported as `StorageUnavailable` (the reason the Dataset's
 * `Reconciling` condition shows), and retried.
 */
import { type DatasetStats, DatasetStatsSchema } from '../../../../contract/dataset-stats.js';
import {
  ObjectNotFoundError,
  type ObjectStore,
  StorageUnavailableError,
} from '../../../../contract/object-store.js';
import {
  DatasetFile,
  datasetPrefix,
  datasetVersionPrefix,
} from '../../../../contract/object-store-layout.js';
import { ExpiringMap } from '../../runtime/expiring-map.js';
import { type StoredVersion, storedVersionsOf } from './history.js';

/** Datasets whose listing is remembered. */
const LISTINGS_CACHE_SIZE = 2_000;
/** A listing is taken again after this long, whatever happened. */
const LISTING_MAX_AGE_MS = 30 * 60_000;
/** Versions whose statistics are remembered. */
const STATS_CACHE_SIZE = 500;

export interface DatasetRef {
  namespace: string;
  name: string;
}

/** A version's row counts, as `status.versions` shows them. */
export interface RowCounts {
  rows: number;
  trainRows: number;
  testRows: number;
}

interface Listing {
  /** The newest succeeded ingestion when it was taken. */
  basis: string;
  /** The version it was taken to find, if any (found or not: not listed again for it). */
  soughtFor: string | undefined;
  versions: StoredVersion[];
  counts: Map<string, RowCounts>;
}

/** The object store could not be reached: the reconcile is retried. */
export class StorageUnavailable extends Error {
  readonly reason = 'StorageUnavailable';
}

async function reachable<T>(what: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (error instanceof StorageUnavailableError)
      throw new StorageUnavailable(`${what}: ${error.message}`, { cause: error });
    throw error;
  }
}

/** How the `versions` step reads a Dataset's versions: from the store, or from what is known. */
export interface VersionReader {
  versions(ds: DatasetRef, basis: string, expected?: string): Promise<StoredVersion[]>;
  rowCounts(ds: DatasetRef, basis: string, version: string): Promise<RowCounts | undefined>;
  stats(ds: DatasetRef, version: string): Promise<DatasetStats | undefined>;
}

export class DatasetVersionStore implements VersionReader {
  readonly #store: ObjectStore;
  readonly #bucket: string;
  readonly #listings = new ExpiringMap<string, Listing>({
    maxEntries: LISTINGS_CACHE_SIZE,
    maxAgeMs: LISTING_MAX_AGE_MS,
  });
  readonly #stats = new ExpiringMap<string, DatasetStats>({ maxEntries: STATS_CACHE_SIZE });

  constructor(store: ObjectStore, bucket: string) {
    this.#store = store;
    this.#bucket = bucket;
  }

  /**
   * The complete versions of `ds`, newest first. `basis` identifies the newest ingestion that
   * succeeded (its Job's UID, '' for none); `expected` is a version that should be there (the
   * current one): a listing taken on another basis, or without it, is taken again (once).
   */
  async versions(ds: DatasetRef, basis: string, expected?: string): Promise<StoredVersion[]> {
    return (await this.#listing(ds, basis, expected)).versions;
  }

  /** The row counts of a version (from its `stats.json`), or undefined when it has none. */
  async rowCounts(ds: DatasetRef, basis: string, version: string): Promise<RowCounts | undefined> {
    const listing = await this.#listing(ds, basis, undefined);
    const known = listing.counts.get(version);
    if (known) return known;
    const stats = await this.#readStats(ds, version);
    if (!stats) return undefined;
    const counts = { rows: stats.rows, trainRows: stats.trainRows, testRows: stats.testRows };
    listing.counts.set(version, counts);
    return counts;
  }

  async #listing(ds: DatasetRef, basis: string, expected: string | undefined): Promise<Listing> {
    const key = `${ds.namespace}/${ds.name}`;
    const cached = this.#listings.get(key);
    if (
      cached &&
      cached.basis === basis &&
      (!expected ||
        cached.soughtFor === expected ||
        cached.versions.some((v) => v.version === expected))
    )
      return cached;
    const prefix = datasetPrefix(ds.namespace, ds.name);
    const objects = await reachable('Listing the versions', () =>
      this.#store.listObjects(this.#bucket, prefix),
    );
    const listing: Listing = {
      basis,
      soughtFor: expected,
      versions: storedVersionsOf(prefix, objects),
      counts: cached?.counts ?? new Map(),
    };
    this.#listings.set(key, listing);
    return listing;
  }

  /**
   * The same answers from the caches alone, whatever their basis, for when the store cannot be
   * reached: a listing never taken is empty, statistics never read unknown.
   */
  known(): VersionReader {
    const listing = (ds: DatasetRef) => this.#listings.get(`${ds.namespace}/${ds.name}`);
    return {
      versions: async (ds) => listing(ds)?.versions ?? [],
      rowCounts: async (ds, _basis, version) => listing(ds)?.counts.get(version),
      stats: async (ds, version) =>
        this.#stats.get(
          `${datasetVersionPrefix(ds.namespace, ds.name, version)}${DatasetFile.stats}`,
        ),
    };
  }

  /** The statistics of one version, or undefined when it has none (or is gone). */
  async stats(ds: DatasetRef, version: string): Promise<DatasetStats | undefined> {
    return await this.#readStats(ds, version);
  }

  async #readStats(ds: DatasetRef, version: string): Promise<DatasetStats | undefined> {
    const key = `${datasetVersionPrefix(ds.namespace, ds.name, version)}${DatasetFile.stats}`;
    const cached = this.#stats.get(key);
    if (cached) return cached;
    try {
      const bytes = await reachable('Reading the statistics', () =>
        this.#store.read(this.#bucket, key),
      );
      const text = bytes.toString('utf8');
      const stats = DatasetStatsSchema.parse(JSON.parse(text));
      this.#stats.set(key, stats);
      return stats;
    } catch (error) {
      if (error instanceof ObjectNotFoundError) return undefined;
      throw error;
    }
  }

  /** Deletes every file of one version; returns how many. */
  async remove(ds: DatasetRef, version: string): Promise<number> {
    const prefix = datasetVersionPrefix(ds.namespace, ds.name, version);
    const removed = await reachable('Deleting a version', () =>
      this.#store.removePrefix(this.#bucket, prefix),
    );
    const cached = this.#listings.get(`${ds.namespace}/${ds.name}`);
    if (cached) {
      cached.versions = cached.versions.filter((v) => v.version !== version);
      cached.counts.delete(version);
    }
    this.#stats.delete(`${prefix}${DatasetFile.stats}`);
    return removed;
  }
}
