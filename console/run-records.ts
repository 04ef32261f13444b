/**
 * What pages read from the object store: the records runs leave there (`runs/<ns>/<job>/
 * history.json`, model cards, batch manifests; `contract/object-store-layout.ts`), read with
 * the install's object-store settings, the way MLflow's UI reads its artifact store.
 *
 * The store has no notion of the viewer: a page reads a key only for an object it got from
 * `VisibleObjects` (which the viewer may get), and builds the key from that object with the
 * layout's functions — never from the request.
 */
import { ObjectNotFoundError, type ObjectStore } from '../contract/object-store.js';

/** Reads run records from the object store. */
export interface RunRecords {
  /** The object at `key` as text, or undefined when it does not exist. */
  readText(key: string, maxBytes?: number): Promise<string | undefined>;
}

/** `RunRecords` over Lathe's bucket. */
export function objectStoreRunRecords(store: ObjectStore, bucket: string): RunRecords {
  return {
    async readText(key, maxBytes = 4 * 1024 * 1024) {
      try {
        return (await store.read(bucket, key, maxBytes)).toString('utf8');
      } catch (error) {
        if (error instanceof ObjectNotFoundError) return undefined;
        throw error;
      }
    },
  };
}
