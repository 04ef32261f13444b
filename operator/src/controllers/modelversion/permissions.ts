/**
 * What the ModelVersion controller (`reconcile.ts`) needs beyond the baseline every controller
 * has on its own kind (`rbac/lathe-kind-permissions.ts`). The chart's ClusterRole is generated
 * from these declarations (`scripts/generate-rbac.ts`).
 */
import { latheGroup } from '../../rbac/lathe-kind-permissions.js';
import type { PermissionRule } from '../../rbac/permissions.js';

export const modelVersionControllerPermissions: PermissionRule[] = [
  {
    // `addFinalizer`/`removeFinalizer` write `metadata.finalizers` with a merge patch (guarded
    // by resourceVersion) for `deletionPolicy: Delete`, whose artifact is removed from the
    // object store before the object goes. Nothing else of the object is ever written; no
    // `update`: the controller never PUTs a ModelVersion.
    apiGroups: [latheGroup],
    resources: ['modelversions'],
    verbs: ['patch'],
  },
];
