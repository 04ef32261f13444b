/**
 * The versions of each Dataset in the object store, read through two bounded caches so a
 * reconcile does not list the store every time:
 *
 * - the listing of `datasets/<namespace>/<dataset>/`, remembered with the UID of the newest
 *   ingestion Job that succeeded when it was taken. A new version only appears when an
 *   ingestion succeeds, so a different UID (or a current version missing from the listing)
 *   lists again; so does age, for versions added or removed by hand.
 * - each version's `stats.json`, which never changes (a version is named by its content).
 *
 * Deleting a version updates the cached listing, so a retried deletion does not list again.
 */
import { type DatasetStats, DatasetStatsSchema } from '../../../../contract/dataset-stats.js';
import { ObjectNotFoundError, type ObjectStore } from '../../../../contract/object-store.js';
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

export class DatasetVersionStore {
  readonly #store: ObjectStore;
  readonly #bucket: string;
  readonly #listings = new ExpiringMap<string, { basis: string; versions: StoredVersion[] }>({
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
   * succeeded (its Job's UID, '' for none); `expected` is a version that must be there (the
   * current one): a cached listing taken on another basis, or without it, is taken again.
   */
  async versions(ds: DatasetRef, basis: string, expected?: string): Promise<StoredVersion[]> {
    const key = `${ds.namespace}/${ds.name}`;
    const cached = this.#listings.get(key);
    if (
      cached &&
      cached.basis === basis &&
      (!expected || cached.versions.some((v) => v.version === expected))
    )
      return cached.versions;
    const prefix = datasetPrefix(ds.namespace, ds.name);
    const versions = storedVersionsOf(prefix, await this.#store.listObjects(this.#bucket, prefix));
    this.#listings.set(key, { basis, versions });
    return versions;
  }

  /** The statistics of one version, or undefined when it has none (or is gone). */
  async stats(ds: DatasetRef, version: string): Promise<DatasetStats | undefined> {
    const key = `${datasetVersionPrefix(ds.namespace, ds.name, version)}${DatasetFile.stats}`;
    const cached = this.#stats.get(key);
    if (cached) return cached;
    try {
      const text = (await this.#store.read(this.#bucket, key)).toString('utf8');
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
    const removed = await this.#store.removePrefix(this.#bucket, prefix);
    const key = `${ds.namespace}/${ds.name}`;
    const cached = this.#listings.get(key);
    if (cached) {
      this.#listings.set(key, {
        basis: cached.basis,
        versions: cached.versions.filter((v) => v.version !== version),
      });
    }
    this.#stats.delete(`${prefix}${DatasetFile.stats}`);
    return removed;
  }
}
