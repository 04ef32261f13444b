/**
 * The read side of an informer: an in-memory store of parsed objects keyed by `namespace/name`.
 *
 * Every stored object is deep-frozen, so a controller that tries to mutate what it read from the
 * cache fails loudly (in strict mode, which ES modules are) instead of corrupting the shared copy
 * that other controllers and the next reconcile will read. Copy with `structuredClone` first.
 */
import type { KubeObject } from './resource.js';

/** Freezes `value` and everything reachable from it; returns it with a read-only type. */
export function deepFreeze<T>(value: T): DeepReadonly<T> {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child);
  }
  return value as DeepReadonly<T>;
}

export type DeepReadonly<T> = T extends (infer E)[]
  ? ReadonlyArray<DeepReadonly<E>>
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** An object the API server holds but the kind's schema rejected. */
export interface InvalidObject {
  /** The object as the API server sent it (frozen). */
  raw: KubeObject;
  error: Error;
  /** True when this report is the object's deletion. */
  deleted: boolean;
}

/** Read-only access to the cached objects of one kind. */
export interface ObjectReader<T extends KubeObject> {
  get(namespace: string, name: string): T | undefined;
  /** All objects, or those of one namespace. */
  list(namespace?: string): T[];
  /** The object under this key if it exists but failed to parse. */
  getInvalid(namespace: string, name: string): InvalidObject | undefined;
  /** The objects an index (added with `addIndexer`) files under `value`. */
  byIndex(index: string, value: string): T[];
  hasSynced(): boolean;
}
