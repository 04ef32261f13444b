/**
 * The permissions a controller needs, derived from what it declares, so a controller cannot
 * use a verb its role lacks (or be granted one it does not use) by forgetting a line:
 *
 * - its own kind (`for`): `list`, `watch` (the informer), `patch` on `<kind>/status`
 *   (server-side apply of status); with a `finalizer`, `patch` on the kind (the finalizer list
 *   is written with a merge patch);
 * - each owned kind: `list`, `watch`, and `create` + `patch` (server-side apply creates or
 *   updates); `delete` when it declares `deletes` (pruning, replacing on an immutable field);
 *   and `update` on `<kind>/finalizers`, because children carry `blockOwnerDeletion`, which the
 *   OwnerReferencesPermissionEnforcement admission plugin checks against that subresource;
 * - each watched kind: `list`, `watch`;
 * - whatever else it lists in `permissions`.
 */
import type { ControllerDefinition } from '../runtime/controller.js';
import type { KubeObject, ResourceType } from '../runtime/resource.js';
import type { PermissionRule } from './permissions.js';

const rule = (resource: ResourceType, verbs: string[], subresource?: string): PermissionRule => ({
  apiGroups: [resource.group],
  resources: [subresource ? `${resource.plural}/${subresource}` : resource.plural],
  verbs,
});

/** Every permission `definition` needs (not normalised). */
export function permissionsOf(definition: ControllerDefinition<KubeObject>): PermissionRule[] {
  const own = definition.for.resource;
  const rules: PermissionRule[] = [rule(own, ['list', 'watch']), rule(own, ['patch'], 'status')];
  if (definition.finalizer) rules.push(rule(own, ['patch']));
  const owned = definition.owns ?? [];
  for (const child of owned) {
    rules.push(
      rule(child.kind.resource, [
        'get',
        'list',
        'watch',
        'create',
        'patch',
        ...(child.deletes ? ['delete'] : []),
      ]),
    );
  }
  if (owned.length > 0) rules.push(rule(own, ['update'], 'finalizers'));
  for (const watched of definition.watches ?? []) {
    rules.push(rule(watched.kind.resource, ['list', 'watch']));
  }
  return [...rules, ...(definition.permissions ?? [])];
}
