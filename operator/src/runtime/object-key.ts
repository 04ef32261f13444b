/**
 * Object keys: how the work queue and the caches name an object. A key is the string
 * `namespace/name` (or `name` for a cluster-scoped object), as in client-go, so it can be
 * deduplicated in a `Set` and logged as is.
 */
import type { KubeObject } from './resource.js';

/** The parts of a key, as a reconcile receives them. */
export interface ObjectKey {
  /** `''` for a cluster-scoped object. */
  namespace: string;
  name: string;
}

export function keyString(key: ObjectKey): string {
  return key.namespace === '' ? key.name : `${key.namespace}/${key.name}`;
}

export function parseKey(key: string): ObjectKey {
  const slash = key.indexOf('/');
  if (slash < 0) return { namespace: '', name: key };
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** The key of an object; throws if it has no name (an object from the API server always has). */
export function keyOf(obj: KubeObject): ObjectKey {
  const name = obj.metadata?.name;
  if (!name) throw new Error(`${obj.kind ?? 'object'} has no metadata.name`);
  return { namespace: obj.metadata?.namespace ?? '', name };
}

export function keyStringOf(obj: KubeObject): string {
  return keyString(keyOf(obj));
}
