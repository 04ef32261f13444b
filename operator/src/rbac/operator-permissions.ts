/**
 * The permissions of the operator process itself, whatever controllers it runs: recording
 * events (`runtime/events.ts`) and leader election on a Lease (`runtime/leader-election.ts`).
 *
 * Leader election only ever touches one Lease in the operator's own namespace, so it goes to a
 * namespaced Role, never to the ClusterRole.
 */
import type { PermissionRule } from './permissions.js';

/** The Lease name the operator uses when `LATHE_LEADER_ELECTION_ID` is not set. */
export const defaultLeaderElectionId = 'lathe-operator-leader';

/** Cluster-wide (or per watched namespace) permissions of the operator process. */
export const operatorPermissions: PermissionRule[] = [
  {
    // EventRecorder: `create` for a first occurrence, `patch` to bump the `series` count of a
    // repeat within the dedupe window. Events are written in the namespace of the object they
    // are about, so this follows the watched namespaces. Only `events.k8s.io/v1` is used,
    // never the core `v1` Event.
    apiGroups: ['events.k8s.io'],
    resources: ['events'],
    verbs: ['create', 'patch'],
  },
];

/**
 * The permissions for leader election on the Lease `leaseName` in the operator's namespace.
 *
 * `get` reads the record every retry period; `update` renews, takes over an expired lease and
 * releases it on shutdown (an optimistic-concurrency PUT). Those two are restricted to the one
 * Lease by name. `create` makes the Lease the first time; the authorizer sees no object name
 * on a create, so it cannot be restricted by name, and being namespaced it cannot reach
 * beyond the operator's namespace. No `list`, `watch` or `patch`: the elector polls by name.
 */
export function leaderElectionPermissions(leaseName: string): PermissionRule[] {
  return [
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
    {
      apiGroups: ['coordination.k8s.io'],
      resources: ['leases'],
      verbs: ['get', 'update'],
      resourceNames: [leaseName],
    },
  ];
}
