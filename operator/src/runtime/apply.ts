/**
 * Writes every controller uses: server-side apply of children, pruning and replacing them,
 * status patched only when it changed, and owner references.
 *
 * Each controller writes under its own field manager, `lathe-<controller>`, so the API server
 * tracks which fields each one owns: a field a controller stops setting is removed on its next
 * apply, two controllers writing different fields of one object never erase each other's, and
 * fields other actors own (an HPA's replicas, a user's annotation) are left alone. `force`
 * takes back fields another manager changed, which is what a controller enforcing its spec
 * wants. Apply is create-or-update in one request, so `AlreadyExists` cannot happen and a stale
 * cache cannot create a duplicate (names are deterministic).
 *
 * Errors keep their API type (`withContext`): a 422 from the API server stays recognisable, so
 * the controller runner treats it as terminal instead of retrying it for ever.
 */
import { isImmutableFieldError, isNotFound, type KubeClient, withContext } from './kube-client.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from './labels.js';
import {
  apiVersionOf,
  type KubeObject,
  type OwnerReference,
  type ResourceType,
} from './resource.js';

/** The field manager of controller `name`. */
export function fieldManagerFor(controller: string): string {
  return `lathe-${controller}`;
}

/** What a desired child must carry for apply: a name (and namespace, for namespaced kinds). */
export interface Applicable {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string };
}

export interface ApplyOptions {
  fieldManager: string;
  /**
   * When the API server refuses the change because a field is immutable (a Job's pod
   * template), delete the object and create it again: the child then matches the spec, which
   * is what the owner asked for. Only for children whose replacement loses nothing.
   */
  recreateOnImmutable?: boolean;
}

/**
 * Applies `desired` (the full intent of the controller for that object: apiVersion, kind,
 * metadata.name/namespace, and the fields it owns) and returns the object as stored.
 */
export async function applyChild<T extends KubeObject>(
  client: Pick<KubeClient, 'patch' | 'delete'>,
  resource: ResourceType,
  desired: Applicable,
  options: ApplyOptions,
): Promise<T> {
  const name = desired.metadata?.name;
  const namespace = desired.metadata?.namespace;
  if (!name) throw new Error(`Cannot apply a ${resource.kind} without metadata.name`);
  const body = {
    ...desired,
    apiVersion: desired.apiVersion ?? apiVersionOf(resource),
    kind: desired.kind ?? resource.kind,
  };
  const apply = () =>
    client.patch<T>(resource, namespace, name, 'apply', body, {
      fieldManager: options.fieldManager,
      force: true,
    });
  try {
    return await apply();
  } catch (error) {
    if (!(options.recreateOnImmutable && isImmutableFieldError(error))) {
      throw withContext(error, `Failed to apply ${resource.kind} ${namespace ?? ''}/${name}`);
    }
  }
  try {
    await client.delete(resource, namespace, name, { propagationPolicy: 'Background' });
  } catch (error) {
    if (!isNotFound(error)) {
      throw withContext(error, `Failed to delete ${resource.kind} ${namespace ?? ''}/${name}`);
    }
  }
  try {
    return await apply();
  } catch (error) {
    // Still being deleted (finalizers): the retry with backoff creates it once it is gone.
    throw withContext(error, `Failed to recreate ${resource.kind} ${namespace ?? ''}/${name}`);
  }
}

/**
 * An object of the name a child must have exists and is not Lathe's: no
 * `app.kubernetes.io/managed-by=lathe` label, or another controller owner. Lathe never takes
 * over such an object (a forced apply would, and garbage collection would then delete it with
 * its new owner); the owner reports `ChildConflict` until the object is renamed or removed.
 */
export class ChildConflictError extends Error {
  readonly reason = 'ChildConflict';

  constructor(kind: string, namespace: string | undefined, name: string, why: string) {
    super(
      `${kind} ${namespace ? `${namespace}/` : ''}${name} already exists and ${why}; Lathe does not take over objects it did not create: delete or rename it`,
    );
    this.name = 'ChildConflictError';
  }
}

/**
 * Why `existing` cannot be applied over as the child `desired`, or undefined when it can: it
 * must carry Lathe's managed-by label and, when `desired` names a controller owner, have no
 * other controller owner. Pure.
 */
export function takeoverRefusal(existing: KubeObject, desired: Applicable): string | undefined {
  if (existing.metadata?.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE)
    return `is not managed by Lathe (no ${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE} label)`;
  const wanted = (desired as KubeObject).metadata?.ownerReferences?.find((r) => r.controller);
  const current = existing.metadata?.ownerReferences?.find((r) => r.controller);
  if (wanted && current && current.uid !== wanted.uid)
    return `is controlled by ${current.kind} ${current.name}`;
  return undefined;
}

/**
 * Deletes a child, only if it is still the object that was read (uid precondition), so a
 * stale cache can never delete a newer object of the same name. A child already gone is fine.
 */
export async function deleteChild(
  client: Pick<KubeClient, 'delete'>,
  resource: ResourceType,
  child: KubeObject,
): Promise<void> {
  const name = child.metadata?.name;
  if (!name) throw new Error(`Cannot delete a ${resource.kind} without metadata.name`);
  try {
    await client.delete(resource, child.metadata?.namespace, name, {
      propagationPolicy: 'Background',
      ...(child.metadata?.uid ? { preconditions: { uid: child.metadata.uid } } : {}),
    });
  } catch (error) {
    if (isNotFound(error)) return;
    // 409 on a uid precondition: the name now belongs to a newer object, which is not ours to delete.
    if ((error as { statusCode?: number }).statusCode === 409) return;
    throw withContext(
      error,
      `Failed to delete ${resource.kind} ${child.metadata?.namespace ?? ''}/${name}`,
    );
  }
}

/**
 * Writes `status` to the status subresource, unless it equals `current.status` (comparing
 * conditions without their `lastTransitionTime`). Returns whether a write happened.
 *
 * Uses server-side apply on `/status` under the controller's field manager, so a status field
 * the controller stops computing disappears instead of lingering.
 */
export async function patchStatusIfChanged(
  client: Pick<KubeClient, 'patch'>,
  resource: ResourceType,
  current: KubeObject,
  status: Record<string, unknown>,
  fieldManager: string,
): Promise<boolean> {
  if (statusEqual(current.status, status)) return false;
  const name = current.metadata?.name;
  if (!name) throw new Error(`Cannot patch the status of a ${resource.kind} without metadata.name`);
  const body = {
    apiVersion: current.apiVersion ?? apiVersionOf(resource),
    kind: current.kind ?? resource.kind,
    metadata: {
      name,
      ...(current.metadata?.namespace ? { namespace: current.metadata.namespace } : {}),
    },
    status,
  };
  try {
    await client.patch(resource, current.metadata?.namespace, name, 'apply', body, {
      fieldManager,
      force: true,
      subresource: 'status',
    });
  } catch (error) {
    throw withContext(
      error,
      `Failed to update the status of ${resource.kind} ${current.metadata?.namespace ?? ''}/${name}`,
    );
  }
  return true;
}

/**
 * Deep equality of two statuses, where a condition's `lastTransitionTime` does not count (a
 * builder that recomputes a condition with the same status must not cause a write) and key
 * order does not matter. `undefined` fields equal absent ones, as they do once serialised.
 */
export function statusEqual(a: unknown, b: unknown): boolean {
  return deepEqual(normaliseStatus(a), normaliseStatus(b));
}

function normaliseStatus(value: unknown): unknown {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) return value;
  const record = value as Record<string, unknown>;
  if (!Array.isArray(record.conditions)) return record;
  return {
    ...record,
    conditions: (record.conditions as unknown[]).map((c) => {
      if (c === null || typeof c !== 'object') return c;
      const { lastTransitionTime: _ignored, ...rest } = c as Record<string, unknown>;
      return rest;
    }),
  };
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => deepEqual(v, bb[i]));
  }
  const ar = a as Record<string, unknown>;
  const br = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ar), ...Object.keys(br)]);
  for (const key of keys) {
    if (!deepEqual(ar[key], br[key])) return false;
  }
  return true;
}

/** The controller owner reference that makes `owner` garbage-collect `child` and receive its events. */
export function controllerReference(
  owner: KubeObject,
  ownerResource: ResourceType,
): OwnerReference {
  const name = owner.metadata?.name;
  const uid = owner.metadata?.uid;
  if (!name || !uid)
    throw new Error(`Cannot own a child from a ${ownerResource.kind} without name and uid`);
  return {
    apiVersion: owner.apiVersion ?? apiVersionOf(ownerResource),
    kind: owner.kind ?? ownerResource.kind,
    name,
    uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}
