/**
 * The union of every declared permission: what the chart's ClusterRole grants (bound
 * cluster-wide, or per watched namespace) and what the leader-election Role grants.
 *
 * A controller that needs more than the baseline on its kind exports its own
 * `PermissionRule[]` beside its code (`controllers/<kind>/permissions.ts`) and is added to
 * `controllerPermissions` below; then `npx tsx scripts/generate-rbac.ts` regenerates the chart.
 */

import { modelVersionControllerPermissions } from '../controllers/modelversion/permissions.js';
import { latheKindPermissions } from './lathe-kind-permissions.js';
import { leaderElectionPermissions, operatorPermissions } from './operator-permissions.js';
import { normaliseRules, type PermissionRule } from './permissions.js';

/**
 * What each registered controller declares beyond the baseline, by controller name (as in
 * `defineController({ name })`). Every controller in `controllers/index.ts` has an entry, even
 * an empty one: `permissions.test.ts` fails when a registered controller has none.
 */
export const controllerPermissions: Readonly<Record<string, readonly PermissionRule[]>> = {
  modelversion: modelVersionControllerPermissions,
};

/** The ClusterRole's rules, in normal form. */
export function clusterRoleRules(): PermissionRule[] {
  return normaliseRules([
    ...operatorPermissions,
    ...latheKindPermissions,
    ...Object.values(controllerPermissions).flat(),
  ]);
}

/** The leader-election Role's rules for the Lease `leaseName`, in normal form. */
export function leaderElectionRoleRules(leaseName: string): PermissionRule[] {
  return normaliseRules(leaderElectionPermissions(leaseName));
}
