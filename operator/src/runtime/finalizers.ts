/**
 * Finalizers, for state outside the cluster only (object-store data); in-cluster children are
 * cleaned up by garbage collection through owner references.
 *
 * Both helpers write a merge patch carrying the object's `resourceVersion`, which the API server
 * treats as a precondition: if anyone changed the object since it was read (for instance added
 * or removed their own finalizer), the patch fails with 409 Conflict instead of overwriting
 * their list, and the reconcile is retried from a fresh read.
 */
import type { KubeClient } from './kube-client.js';
import type { KubeObject, ResourceType } from './resource.js';

export function hasFinalizer(obj: KubeObject, finalizer: string): boolean {
  return obj.metadata?.finalizers?.includes(finalizer) ?? false;
}

/** Adds `finalizer` if missing. Returns the updated object, or `obj` when nothing was needed. */
export async function addFinalizer<T extends KubeObject>(
  client: Pick<KubeClient, 'patch'>,
  resource: ResourceType,
  obj: T,
  finalizer: string,
  options: { fieldManager?: string } = {},
): Promise<T> {
  if (hasFinalizer(obj, finalizer)) return obj;
  return await writeFinalizers(
    client,
    resource,
    obj,
    [...(obj.metadata?.finalizers ?? []), finalizer],
    options,
  );
}

/** Removes `finalizer` if present, keeping every other finalizer. */
export async function removeFinalizer<T extends KubeObject>(
  client: Pick<KubeClient, 'patch'>,
  resource: ResourceType,
  obj: T,
  finalizer: string,
  options: { fieldManager?: string } = {},
): Promise<T> {
  if (!hasFinalizer(obj, finalizer)) return obj;
  return await writeFinalizers(
    client,
    resource,
    obj,
    (obj.metadata?.finalizers ?? []).filter((f) => f !== finalizer),
    options,
  );
}

/** The merge patch that sets the finalizer list, guarded by the object's resourceVersion. */
export function finalizerPatch(obj: KubeObject, finalizers: string[]): Record<string, unknown> {
  const resourceVersion = obj.metadata?.resourceVersion;
  if (!resourceVersion)
    throw new Error('Cannot change finalizers of an object without a resourceVersion');
  return { metadata: { resourceVersion, finalizers } };
}

async function writeFinalizers<T extends KubeObject>(
  client: Pick<KubeClient, 'patch'>,
  resource: ResourceType,
  obj: T,
  finalizers: string[],
  options: { fieldManager?: string },
): Promise<T> {
  const name = obj.metadata?.name;
  if (!name)
    throw new Error(`Cannot change finalizers of a ${resource.kind} without metadata.name`);
  return await client.patch<T>(
    resource,
    obj.metadata?.namespace,
    name,
    'merge',
    finalizerPatch(obj, finalizers),
    options.fieldManager ? { fieldManager: options.fieldManager } : {},
  );
}
