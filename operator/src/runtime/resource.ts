/**
 * The shape of Kubernetes objects as the runtime sees them, and how a kind maps to its REST
 * path.
 *
 * Kinds are declared, not discovered: every kind the operator touches is known at build time
 * (its own five plus a handful of built-ins), so a `ResourceType` carries the plural and scope
 * explicitly and the runtime never needs a discovery round-trip or a RESTMapper.
 */

/** Object metadata fields the runtime relies on. Everything else passes through untouched. */
export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
  [field: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** Any Kubernetes object in its JSON form (timestamps are strings, never `Date`). */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  [field: string]: unknown;
}

/** A kind and where it is served. */
export interface ResourceType {
  /** API group; `''` for the core group. */
  group: string;
  version: string;
  kind: string;
  /** Lower-case plural used in the REST path, e.g. `configmaps`. */
  plural: string;
  namespaced: boolean;
}

/**
 * A kind as an informer reads it: where it is served and how a raw object from the API server
 * is normalised before anything else sees it (zod `.parse` for Lathe kinds, identity for
 * built-ins). `parse` must throw on an invalid object.
 */
export interface KindSpec<T extends KubeObject = KubeObject> {
  resource: ResourceType;
  parse(raw: KubeObject): T;
}

/** `group/version`, or `version` for the core group. */
export function apiVersionOf(resource: ResourceType): string {
  return resource.group === '' ? resource.version : `${resource.group}/${resource.version}`;
}

/** A stable, human-readable name of a kind, used in logs, metrics and cache keys. */
export function gvkString(resource: ResourceType): string {
  return `${apiVersionOf(resource)}, Kind=${resource.kind}`;
}

/** Path of a collection (`namespace` undefined: across all namespaces, or a cluster-scoped kind). */
export function collectionPath(resource: ResourceType, namespace?: string): string {
  const root =
    resource.group === ''
      ? `/api/${resource.version}`
      : `/apis/${resource.group}/${resource.version}`;
  if (resource.namespaced && namespace !== undefined && namespace !== '') {
    return `${root}/namespaces/${encodeURIComponent(namespace)}/${resource.plural}`;
  }
  return `${root}/${resource.plural}`;
}

/** Path of one object, optionally of one of its subresources (`status`). */
export function objectPath(
  resource: ResourceType,
  namespace: string | undefined,
  name: string,
  subresource?: string,
): string {
  if (resource.namespaced && (namespace === undefined || namespace === '')) {
    throw new Error(`${resource.kind} ${name} is namespaced but no namespace was given`);
  }
  const base = `${collectionPath(resource, namespace)}/${encodeURIComponent(name)}`;
  return subresource ? `${base}/${subresource}` : base;
}

/** A parse function for kinds whose JSON is trusted as is (built-ins). */
export function identityParse<T extends KubeObject>(raw: KubeObject): T {
  return raw as T;
}

/** A `KindSpec` for a built-in kind, whose objects need no normalisation. */
export function builtinKind<T extends KubeObject = KubeObject>(
  resource: ResourceType,
): KindSpec<T> {
  return { resource, parse: identityParse<T> };
}

/** The built-in kinds the operator reads or writes. */
export const builtin = {
  configMap: {
    group: '',
    version: 'v1',
    kind: 'ConfigMap',
    plural: 'configmaps',
    namespaced: true,
  },
  secret: { group: '', version: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true },
  service: { group: '', version: 'v1', kind: 'Service', plural: 'services', namespaced: true },
  pod: { group: '', version: 'v1', kind: 'Pod', plural: 'pods', namespaced: true },
  namespace: {
    group: '',
    version: 'v1',
    kind: 'Namespace',
    plural: 'namespaces',
    namespaced: false,
  },
  job: { group: 'batch', version: 'v1', kind: 'Job', plural: 'jobs', namespaced: true },
  cronJob: { group: 'batch', version: 'v1', kind: 'CronJob', plural: 'cronjobs', namespaced: true },
  deployment: {
    group: 'apps',
    version: 'v1',
    kind: 'Deployment',
    plural: 'deployments',
    namespaced: true,
  },
  podDisruptionBudget: {
    group: 'policy',
    version: 'v1',
    kind: 'PodDisruptionBudget',
    plural: 'poddisruptionbudgets',
    namespaced: true,
  },
  horizontalPodAutoscaler: {
    group: 'autoscaling',
    version: 'v2',
    kind: 'HorizontalPodAutoscaler',
    plural: 'horizontalpodautoscalers',
    namespaced: true,
  },
  lease: {
    group: 'coordination.k8s.io',
    version: 'v1',
    kind: 'Lease',
    plural: 'leases',
    namespaced: true,
  },
  event: {
    group: 'events.k8s.io',
    version: 'v1',
    kind: 'Event',
    plural: 'events',
    namespaced: true,
  },
  serviceAccount: {
    group: '',
    version: 'v1',
    kind: 'ServiceAccount',
    plural: 'serviceaccounts',
    namespaced: true,
  },
  role: {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    kind: 'Role',
    plural: 'roles',
    namespaced: true,
  },
  roleBinding: {
    group: 'rbac.authorization.k8s.io',
    version: 'v1',
    kind: 'RoleBinding',
    plural: 'rolebindings',
    namespaced: true,
  },
} as const satisfies Record<string, ResourceType>;

/**
 * A `KindSpec` for a namespaced custom kind described by a zod schema (as `api/` defines the
 * Lathe kinds: `group`, `version`, `kind`, `plural` and a whole-object `schema`).
 */
export function schemaKind<O>(descriptor: {
  group: string;
  version: string;
  kind: string;
  plural: string;
  schema: { parse(raw: unknown): O };
}): KindSpec<O & KubeObject> {
  return {
    resource: {
      group: descriptor.group,
      version: descriptor.version,
      kind: descriptor.kind,
      plural: descriptor.plural,
      namespaced: true,
    },
    // The schema's metadata is looser than `ObjectMeta` in places (owner references as plain
    // records); the API server guarantees the fields the runtime reads.
    parse: (raw) => descriptor.schema.parse(raw) as O & KubeObject,
  };
}
