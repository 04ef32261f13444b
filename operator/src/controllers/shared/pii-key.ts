/**
 * The namespace's PII key: how the pods that hash personal data (ingestion, the inference
 * server, the trainer's evaluation) get the key of their own namespace, and never another's.
 *
 * The operator holds the master key (`LATHE_PII_KEY`, from the Secret `lathe-pii-key` in its own
 * namespace, generated once by the chart). For each namespace where such a pod runs it derives
 * that namespace's key (`namespacePiiKey`: HMAC of the master and the namespace name) and
 * applies it as the Secret `lathe-pii` there, before the pod's Job or Deployment; the pod reads
 * it through `secretKeyRef` (`piiKeyEnv`), so the key is never in a spec, a log or an event.
 * The Secret is shared by every Lathe object of the namespace, so it has no owner; it carries
 * the managed-by label, and a Secret of that name Lathe did not create is not taken over.
 *
 * The reference is `optional`: an operator without a master key applies no Secret, and a pod
 * that then meets a hashed column fails with `PiiKeyMissing`, naming the variable.
 */
import type { V1EnvVar } from '@kubernetes/client-node';
import { namespacePiiKey, PII_KEY_ENV } from '../../../../contract/pii-hash.js';
import type { PermissionRule } from '../../rbac/permissions.js';
import { kinds, type SecretObject, type Wire } from '../../runtime/builtin-kinds.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../runtime/labels.js';
import type { KubeObject } from '../../runtime/resource.js';
import type { Step } from '../../runtime/steps.js';

/** The Secret holding a namespace's PII key. */
export const PII_KEY_SECRET = 'lathe-pii';
/** Its key. */
export const PII_KEY_SECRET_KEY = 'key';

/** The Secret `lathe-pii` of `namespace`, holding the key `masterKey` derives for it. Pure. */
export function desiredPiiKeySecret(namespace: string, masterKey: string): SecretObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: PII_KEY_SECRET,
      namespace,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, 'app.kubernetes.io/part-of': 'lathe' },
    },
    type: 'Opaque',
    stringData: { [PII_KEY_SECRET_KEY]: namespacePiiKey(masterKey, namespace) },
  };
}

/** The variable a runtime container reads its namespace's PII key from. */
export function piiKeyEnv(): Wire<V1EnvVar> {
  return {
    name: PII_KEY_ENV,
    valueFrom: {
      secretKeyRef: { name: PII_KEY_SECRET, key: PII_KEY_SECRET_KEY, optional: true },
    },
  };
}

/**
 * The step that applies `lathe-pii` in the object's namespace (nothing without a master key).
 * Put it before the step that applies the pods' Job or Deployment.
 */
export function piiKeyStep<T extends KubeObject, F>(masterKey: string | undefined): Step<T, F> {
  return {
    name: 'pii-key',
    async run(obj, ctx) {
      if (masterKey === undefined) return undefined;
      await ctx.apply(kinds.secret, desiredPiiKeySecret(obj.metadata?.namespace ?? '', masterKey));
      return undefined;
    },
  };
}

/**
 * Writing that Secret: `create`, and `get` (the check that an existing one is Lathe's) and
 * `patch` of that one name. Nothing here grants `list` or `watch` of Secrets.
 */
export const piiKeySecretPermissions: PermissionRule[] = [
  { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
  {
    apiGroups: [''],
    resources: ['secrets'],
    verbs: ['get', 'patch'],
    resourceNames: [PII_KEY_SECRET],
  },
];
