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
    // namespace, or across all). `get` reads one object past the cache, when a reconcile must
    // see the latest resourceVersion rather than the cached one.
    apiGroups: [latheGroup],
    resources: [...latheResources],
    verbs: ['get', 'list', 'watch'],
  },
  {
    // Status is computed in memory and written to the status subresource only when it
    // changed: `patch` for the server-side apply `patchStatusIfChanged` does, `update` for a
    // PUT guarded by resourceVersion (`KubeClient.replace(kind, obj, 'status')`) where a
    // controller needs optimistic concurrency. The main resource stays read-only: a controller
    // never writes its own spec.
    apiGroups: [latheGroup],
    resources: latheResources.map((r) => `${r}/status`),
    verbs: ['patch', 'update'],
  },
  {
    // Children carry a controller ownerReference with `blockOwnerDeletion: true`. Where the
    // OwnerReferencesPermissionEnforcement admission plugin is enabled (OpenShift, hardened
    // clusters), setting that field requires `update` on the owner's `finalizers`
    // subresource. `finalizers` is not a real subresource: this verb grants nothing else.
    apiGroups: [latheGroup],
    resources: latheResources.map((r) => `${r}/finalizers`),
    verbs: ['update'],
  },
];
