/**
 * How the pods Lathe creates reach the object store without a credential ever appearing in a
 * spec, a log, an event or a status.
 *
 * A pod can only read Secrets of its own namespace, and the operator's credentials live in the
 * operator's namespace, so the operator keeps a copy, the Secret `lathe-object-store`, in each
 * namespace where it runs pods (applied before the pod's Job or Deployment; labelled as managed
 * by Lathe). Pods read it through `secretKeyRef`; endpoint, bucket and region are plain values.
 */
import type { V1EnvVar } from '@kubernetes/client-node';
import type { ObjectStoreConfig } from '../../../../contract/object-store.js';
import { ObjectStoreEnv } from '../../../../contract/runtime-env.js';
import type { PermissionRule } from '../../rbac/permissions.js';
import type { SecretObject, Wire } from '../../runtime/builtin-kinds.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../runtime/labels.js';

export type { ObjectStoreConfig };

/** The Secret each namespace with Lathe pods gets. */
export const OBJECT_STORE_SECRET = 'lathe-object-store';

/** The Secret holding the operator's object-store credentials in `namespace`. */
export function desiredObjectStoreSecret(
  namespace: string,
  store: ObjectStoreConfig,
): SecretObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: OBJECT_STORE_SECRET,
      namespace,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, 'app.kubernetes.io/part-of': 'lathe' },
    },
    type: 'Opaque',
    stringData: { accessKey: store.accessKey, secretKey: store.secretKey },
  };
}

/** The object-store variables of a runtime container (`ObjectStoreEnv`). */
export function objectStoreEnv(store: ObjectStoreConfig): Wire<V1EnvVar>[] {
  const fromSecret = (name: string, key: string): Wire<V1EnvVar> => ({
    name,
    valueFrom: { secretKeyRef: { name: OBJECT_STORE_SECRET, key } },
  });
  return [
    { name: ObjectStoreEnv.endpoint, value: store.endpoint },
    { name: ObjectStoreEnv.bucket, value: store.bucket },
    { name: ObjectStoreEnv.region, value: store.region },
    fromSecret(ObjectStoreEnv.accessKey, 'accessKey'),
    fromSecret(ObjectStoreEnv.secretKey, 'secretKey'),
  ];
}

/**
 * Writing that Secret: server-side apply (`create` the first time, `patch` after, restricted to
 * Secrets of that one name), after a `get` of that one name that refuses to take over a Secret
 * Lathe did not create. The operator reads no other Secret: nothing here grants `list` or
 * `watch`.
 */
export const objectStoreSecretPermissions: PermissionRule[] = [
  { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
  {
    apiGroups: [''],
    resources: ['secrets'],
    // get: the check that the Secret of that name is Lathe's before applying it.
    verbs: ['get', 'patch'],
    resourceNames: [OBJECT_STORE_SECRET],
  },
];
