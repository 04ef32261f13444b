/**
 * The permissions every controller needs on its own Lathe kind, declared once for all five
 * (`datasets`, `trainingjobs`, `modelversions`, `inferenceservices`, `retrainpolicies`).
 *
 * What a controller does beyond this baseline (creating Jobs, patching its own kind to add a
 * finalizer, reading another kind) it declares beside its code, and `cluster-permissions.ts`
 * adds that list to the union.
 *
 * Plural names are spelled out rather than imported from `operator/src/api` so that the RBAC
 * generator does not load zod schemas; `permissions.test.ts` checks they match the CRDs.
 */
import type { PermissionRule } from './permissions.js';

/** The API group of every Lathe kind. */
export const latheGroup = 'lathe.dev';

/** The resource (plural) names of the five Lathe kinds. */
export const latheResources = [
  'datasets',
  'inferenceservices',
  'modelversions',
  'retrainpolicies',
  'trainingjobs',
] as const;

export const latheKindPermissions: PermissionRule[] = [
  {
    // `list` and `watch` feed the informer cache each controller reconciles from (per watched
    // namespace, or across all); reconciles read from that cache, never with a `get`.
    apiGroups: [latheGroup],
    resources: [...latheResources],
    verbs: ['list', 'watch'],
  },
  {
    // Status is computed in memory and written to the status subresource only when it
    // changed, by server-side apply (`patchStatusIfChanged`): `patch`, never `update`. The main
    // resource stays read-only here: a controller never writes its own spec.
    apiGroups: [latheGroup],
    resources: latheResources.map((r) => `${r}/status`),
    verbs: ['patch'],
  },
  // No `<kind>/finalizers` `update` yet: it is needed only to set `blockOwnerDeletion` on a
  // child's ownerReference where OwnerReferencesPermissionEnforcement is on, and no controller
  // creates children yet. The first that does declares it beside its code.
];
