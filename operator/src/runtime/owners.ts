/**
 * Mapping a child's events to its owner's key: a Job changed, so the TrainingJob that controls
 * it must be reconciled. Only the controller owner reference counts (there is at most one), and
 * only when it names the owner kind, so a child adopted by something else is ignored.
 */
import type { ObjectKey } from './object-key.js';
import type { KubeObject, ResourceType } from './resource.js';

/** The key of the `owner`-kind object that controls `child`, if any. Owners share the child's namespace. */
export function controllerOwnerKey(child: KubeObject, owner: ResourceType): ObjectKey | undefined {
  const ref = child.metadata?.ownerReferences?.find((r) => r.controller === true);
  if (!ref || ref.kind !== owner.kind || groupOf(ref.apiVersion) !== owner.group) return undefined;
  return { namespace: owner.namespaced ? (child.metadata?.namespace ?? '') : '', name: ref.name };
}

function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/** The UID of `child`'s controller owner, of whatever kind. */
export function controllerOwnerUid(child: KubeObject): string | undefined {
  return child.metadata?.ownerReferences?.find((r) => r.controller === true)?.uid;
}
