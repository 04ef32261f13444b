/**
 * The union of every permission the operator needs: what the chart's ClusterRole grants (bound
 * cluster-wide, or per watched namespace) and what the leader-election Role grants.
 *
 * Each controller's permissions are derived from its declaration (`derive.ts`: the kinds it
 * reconciles, owns and watches, its finalizer, and any extra rules it lists), so the role
 * grants exactly what the code uses; `npm run generate` regenerates the chart from them.
 */
import { loadConfig } from '../config.js';
import { controllers } from '../controllers/index.js';
import { engineResources } from '../controllers/trainingjob/distributed/choose.js';
import { engineBackends } from '../controllers/trainingjob/distributed/engine-backends.js';
import { builtin } from '../runtime/resource.js';
import { permissionsOf } from './derive.js';
import { leaderElectionPermissions, operatorPermissions } from './operator-permissions.js';
import { normaliseRules, type PermissionRule } from './permissions.js';

/**
 * The registered controllers, built from a configuration with every optional part set (an
 * object store), so that what a configured operator can do is what the role grants.
 */
export function registeredControllers() {
  return controllers({
    ...loadConfig(
      {
        POD_NAMESPACE: 'lathe-system',
        LATHE_OBJECT_STORE_ENDPOINT: 'http://object-store:9000',
        LATHE_OBJECT_STORE_ACCESS_KEY: 'unused',
        LATHE_OBJECT_STORE_SECRET_KEY: 'unused',
      },
      'rbac-generator',
    ),
    // Every engine a distributed run may be handed to: which are installed is known only where
    // the operator runs (engine-backends.ts), so the role allows them all.
    distributedBackends: engineBackends,
  });
}

/** The permissions of each registered controller, by controller name. */
export function controllerPermissions(): Record<string, PermissionRule[]> {
  return Object.fromEntries(registeredControllers().map((c) => [c.name, permissionsOf(c)]));
}

/**
 * The cluster-scoped resources a rule may name, as `group/plural`. A RoleBinding grants a
 * ClusterRole's rules on namespaced resources only, so a rule on one of these would do nothing
 * once `watchNamespaces` is set: such rules go to a ClusterRole of their own, always bound
 * cluster-wide (`clusterScopedRules`).
 */
const clusterScopedResources = new Set(
  [...Object.values(builtin), ...Object.values(engineResources)]
    .filter((r) => !r.namespaced)
    .map((r) => `${r.group}/${r.plural}`),
);

/** Every declared rule, split by the scope of its resources. */
function rulesByScope(): { namespaced: PermissionRule[]; clusterScoped: PermissionRule[] } {
  const namespaced: PermissionRule[] = [];
  const clusterScoped: PermissionRule[] = [];
  for (const rule of [...operatorPermissions, ...Object.values(controllerPermissions()).flat()]) {
    for (const group of rule.apiGroups) {
      for (const resource of rule.resources) {
        const atomic = { ...rule, apiGroups: [group], resources: [resource] };
        const scoped = clusterScopedResources.has(`${group}/${resource.split('/')[0]}`);
        (scoped ? clusterScoped : namespaced).push(atomic);
      }
    }
  }
  return { namespaced, clusterScoped };
}

/** The ClusterRole's rules (namespaced resources and Lathe's kinds), in normal form. */
export function clusterRoleRules(): PermissionRule[] {
  return normaliseRules(rulesByScope().namespaced);
}

/**
 * The rules on cluster-scoped resources (Kubeflow Trainer's ClusterTrainingRuntimes), in normal
 * form: the chart's second ClusterRole, bound cluster-wide even when `watchNamespaces` is set.
 */
export function clusterScopedRules(): PermissionRule[] {
  const { clusterScoped } = rulesByScope();
  return clusterScoped.length > 0 ? normaliseRules(clusterScoped) : [];
}

/** The leader-election Role's rules for the Lease `leaseName`, in normal form. */
export function leaderElectionRoleRules(leaseName: string): PermissionRule[] {
  return normaliseRules(leaderElectionPermissions(leaseName));
}
