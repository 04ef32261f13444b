/**
 * The read side of an informer: an in-memory store of parsed objects keyed by `namespace/name`.
 *
 * Every stored object is deep-frozen, so a controller that tries to mutate what it read from the
 * cache fails loudly (in strict mode, which ES modules are) instead of corrupting the shared copy
 * that other controllers and the next reconcile will read. Copy with `structuredClone` first.
 *
 * The cache keeps exactly one copy of each object, and its strings are shared across objects:
 * a thousand ModelVersions carry the same namespace, condition types, reasons and messages, and
 * the same few timestamps, and without sharing each would hold its own copy of every one of
 * them (measured: about half of a cached ModelVersion's bytes). See `freezeForCache`.
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

/**
 * Freezes `value` like `deepFreeze`, and first replaces every string in it by the engine's one
 * internalized copy of that string, so equal strings in different cached objects share memory.
 * Values are unchanged; only the number of copies in memory is. Internalized strings are held
 * weakly by V8's string table: a string no object uses any more is collected as usual.
 */
export function freezeForCache<T>(value: T): DeepReadonly<T> {
  return canonical(value) as DeepReadonly<T>;
}

function canonical(value: unknown): unknown {
  if (typeof value === 'string') return internalized(value);
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = canonical(value[i]);
  } else {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) record[key] = canonical(record[key]);
  }
  return Object.freeze(value);
}

/**
 * V8 internalizes every string used as a property key (one copy per distinct string, in its
 * weak string table); reading the key back yields that copy. A string that is an array index
 * ("42") is stored as a number and comes back as a fresh string: correct, merely not shared.
 */
function internalized(text: string): string {
  const holder = { [text]: true };
  for (const key in holder) return key;
  return text;
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
