/**
 * What the console's own service account may do, declared next to the code that needs it (as
 * each controller declares its permissions); `npm run generate` renders these into the chart's
 * `console-clusterrole.yaml` (`operator/src/rbac/chart-templates.ts`). Read-only: list and
 * watch for the informers — never get, update or delete — plus the two review APIs that ask
 * the API server about a viewer. What a viewer sees is decided by the viewer's rights
 * (`access.ts`), never by these.
 */
import { latheGroup, latheResources } from '../operator/src/rbac/lathe-kind-permissions.js';
import type { PermissionRule } from '../operator/src/rbac/permissions.js';

/**
 * Reads in the namespaces the console shows: the six Lathe kinds (`cache.ts`) and the serving
 * pods whose metrics the sampler reads (`serving/serving-pods.ts`). Bound cluster-wide, or in
 * each watched namespace.
 */
export const consoleReadPermissions: readonly PermissionRule[] = [
  { apiGroups: [latheGroup], resources: [...latheResources], verbs: ['list', 'watch'] },
  { apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] },
];

/** The reviews that say who a viewer is and what they may get (`access-review.ts`): cluster-wide. */
export const consoleReviewPermissions: readonly PermissionRule[] = [
  { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
  { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
];
