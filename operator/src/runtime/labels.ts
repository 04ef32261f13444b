/**
 * The labels every child Lathe creates carries, and how a pod finds its Lathe owner.
 *
 * A pod's controller owner is its Job or ReplicaSet, not the Lathe object, so ownerReferences
 * alone cannot map a pod event to the Dataset or InferenceService behind it. Every child and
 * every pod template therefore carries `app.kubernetes.io/managed-by=lathe` and
 * `lathe.dev/<kind>=<name>` (kind in lower case), set by `childLabels` in each desired-state
 * builder; the runtime maps a pod to its owner by those labels (`ownerKeyFromLabels`).
 */
import type { ObjectKey } from './object-key.js';
import type { KubeObject } from './resource.js';

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'lathe';

/** `lathe.dev/<kind>`: the label naming the Lathe object of `kind` a child belongs to. */
export function ownerLabel(kind: string): string {
  return `lathe.dev/${kind.toLowerCase()}`;
}

/** The standard labels of a child of the Lathe object `owner` (of kind `kind`). */
export function childLabels(kind: string, ownerName: string): Record<string, string> {
  return { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [ownerLabel(kind)]: ownerName };
}

/** The label selector of every object Lathe manages (what the child informers watch). */
export const managedBySelector = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;

/** The selector of the children of Lathe objects of `kind`: managed by Lathe, with the owner label. */
export function childrenOfKindSelector(kind: string): string {
  return `${managedBySelector},${ownerLabel(kind)}`;
}

/** The key of the `kind` object an object (a pod) belongs to by its labels, if any. */
export function ownerKeyFromLabels(obj: KubeObject, kind: string): ObjectKey | undefined {
  const labels = obj.metadata?.labels ?? {};
  if (labels[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE) return undefined;
  const name = labels[ownerLabel(kind)];
  if (!name) return undefined;
  return { namespace: obj.metadata?.namespace ?? '', name };
}
