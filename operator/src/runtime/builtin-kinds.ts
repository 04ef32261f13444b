/**
 * Typed views of the built-in kinds controllers create and read, so a desired-state builder
 * that writes a wrong field does not compile.
 *
 * The types are @kubernetes/client-node's generated models, seen through `Wire<>`: the runtime
 * keeps objects in their JSON form (timestamps are RFC 3339 strings, never `Date`), so every
 * `Date` in a model becomes a `string` here. Builders return these types; caches hold them.
 */
import type {
  V1ConfigMap,
  V1CronJob,
  V1Deployment,
  V1Job,
  V1Pod,
  V1PodDisruptionBudget,
  V1ReplicaSet,
  V1Role,
  V1RoleBinding,
  V1Secret,
  V1Service,
  V1ServiceAccount,
  V2HorizontalPodAutoscaler,
} from '@kubernetes/client-node';
import { builtin, builtinKind, type ResourceType } from './resource.js';

/** `T` as it travels on the wire: `Date` fields are strings; everything else as declared. */
export type Wire<T> = T extends Date
  ? string
  : T extends (infer E)[]
    ? Wire<E>[]
    : T extends object
      ? { [K in keyof T]: Wire<T[K]> }
      : T;

export type JobObject = Wire<V1Job>;
export type PodObject = Wire<V1Pod>;
export type DeploymentObject = Wire<V1Deployment>;
export type ReplicaSetObject = Wire<V1ReplicaSet>;
export type ServiceObject = Wire<V1Service>;
export type CronJobObject = Wire<V1CronJob>;
export type PodDisruptionBudgetObject = Wire<V1PodDisruptionBudget>;
export type HorizontalPodAutoscalerObject = Wire<V2HorizontalPodAutoscaler>;
export type ServiceAccountObject = Wire<V1ServiceAccount>;
export type RoleObject = Wire<V1Role>;
export type RoleBindingObject = Wire<V1RoleBinding>;
export type SecretObject = Wire<V1Secret>;
export type ConfigMapObject = Wire<V1ConfigMap>;

const replicaSet: ResourceType = {
  group: 'apps',
  version: 'v1',
  kind: 'ReplicaSet',
  plural: 'replicasets',
  namespaced: true,
};

/** Kind specs of the built-in kinds, typed. */
export const kinds = {
  job: builtinKind<JobObject>(builtin.job),
  pod: builtinKind<PodObject>(builtin.pod),
  deployment: builtinKind<DeploymentObject>(builtin.deployment),
  replicaSet: builtinKind<ReplicaSetObject>(replicaSet),
  service: builtinKind<ServiceObject>(builtin.service),
  cronJob: builtinKind<CronJobObject>(builtin.cronJob),
  podDisruptionBudget: builtinKind<PodDisruptionBudgetObject>(builtin.podDisruptionBudget),
  horizontalPodAutoscaler: builtinKind<HorizontalPodAutoscalerObject>(
    builtin.horizontalPodAutoscaler,
  ),
  serviceAccount: builtinKind<ServiceAccountObject>(builtin.serviceAccount),
  role: builtinKind<RoleObject>(builtin.role),
  roleBinding: builtinKind<RoleBindingObject>(builtin.roleBinding),
  secret: builtinKind<SecretObject>(builtin.secret),
  configMap: builtinKind<ConfigMapObject>(builtin.configMap),
};
