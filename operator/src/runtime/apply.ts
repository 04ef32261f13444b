/**
 * Writes every controller uses: server-side apply of children, status patched only when it
 * changed, and owner references.
 *
 * All writes go through one field manager, `lathe-operator`, so the API server tracks which
 * fields the operator owns: a field the operator stops setting is removed on the next apply,
 * and fields other actors own (an HPA's replicas, a user's annotation) are left alone. `force`
 * takes back fields another manager changed, which is what a controller enforcing its spec
 * wants. Apply is create-or-update in one request, so `AlreadyExists` cannot happen and a stale
 * cache cannot create a duplicate (names are deterministic).
 */
import type { KubeClient } from './kube-client.js';
import {
  apiVersionOf,
  type KubeObject,
  type OwnerReference,
  type ResourceType,
} from './resource.js';

export const fieldManager = 'lathe-operator';

/**
 * Applies `desired` (the full intent of the operator for that object: apiVersion, kind,
 * metadata.name/namespace, and the fields it owns) and returns the object as stored.
 */
export async function applyChild<T extends KubeObject>(
  client: Pick<KubeClient, 'patch'>,
  resource: ResourceType,
  desired: KubeObject,
): Promise<T> {
  const name = desired.metadata?.name;
  if (!name) throw new Error(`Cannot apply a ${resource.kind} without metadata.name`);
  const body = {
    ...desired,
    apiVersion: desired.apiVersion ?? apiVersionOf(resource),
    kind: desired.kind ?? resource.kind,
  };
  try {
    return await client.patch<T>(resource, desired.metadata?.namespace, name, 'apply', body, {
      fieldManager,
      force: true,
    });
  } catch (error) {
    throw new Error(
      `Failed to apply ${resource.kind} ${desired.metadata?.namespace ?? ''}/${name}`,
      { cause: error },
    );
  }
}

/**
 * Writes `status` to the status subresource, unless it equals `current.status` (comparing
 * conditions without their `lastTransitionTime`). Returns whether a write happened.
 *
 * Uses server-side apply on `/status` under the operator's field manager, so a status field the
 * controller stops computing disappears instead of lingering.
 */
export async function patchStatusIfChanged(
  client: Pick<KubeClient, 'patch'>,
  resource: ResourceType,
  current: KubeObject,
  status: Record<string, unknown>,
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
    throw new Error(
      `Failed to update the status of ${resource.kind} ${current.metadata?.namespace ?? ''}/${name}`,
      {
        cause: error,
      },
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
