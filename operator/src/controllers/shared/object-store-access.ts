/**
 * How the pods Lathe creates reach the object store: each with credentials of its own, scoped
 * to what its job needs under its namespace's prefixes — never the operator's key.
 *
 * A pod's need is a `Grant` (the prefixes it reads, the prefixes it writes). For each, the
 * operator asks the store's STS for temporary credentials whose session policy allows exactly
 * that (`AssumeRole`; MinIO and AWS S3 both implement it), and keeps them in a Secret owned by
 * the Lathe object the pod works for, `<object>-<role>-store` (labelled as managed by Lathe; its
 * annotations say what it grants and when it expires). The pod reads the Secret through
 * `secretKeyRef` and as a mounted directory, from which a long-running program reads rotated
 * credentials (`ObjectStoreEnv.credentialsDir`); endpoint, bucket and region are plain values.
 * The operator issues new credentials when a third of their lifetime is left, or when the
 * grant changes, while a pod still needs them; the Secret goes with its owner (garbage
 * collection), and credentials nobody rotates expire on their own.
 *
 * With `credentials: shared` (a store without STS), the Secret holds the operator's own key
 * instead, as before scoped credentials; `docs/security.md` says what that gives away.
 */
import type { V1EnvVar, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { CredentialsFile, type ObjectStoreConfig } from '../../../../contract/object-store.js';
import { ObjectStoreEnv } from '../../../../contract/runtime-env.js';
import type { PermissionRule } from '../../rbac/permissions.js';
import { ChildConflictError } from '../../runtime/apply.js';
import { kinds, type SecretObject, type Wire } from '../../runtime/builtin-kinds.js';
import type { ReconcileContext } from '../../runtime/controller.js';
import { isAlreadyExists, isApiError, isNotFound } from '../../runtime/kube-client.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../runtime/labels.js';
import type { KubeObject, OwnerReference } from '../../runtime/resource.js';
import type { CredentialIssuer, IssuedCredentials } from './credential-issuer.js';
import { childName } from './names.js';
import { type Grant, normalizedGrant } from './object-store-grants.js';

export type { CredentialSettings } from '../../config.js';
export { defaultCredentialSettings } from '../../config.js';
// The grants and the issuer are part of this module's surface for the controllers.
export * from './credential-issuer.js';
export * from './object-store-grants.js';
export type { ObjectStoreConfig };

/** Annotations of a credentials Secret: what it grants, until when (never a credential). */
export const CredentialsAnnotation = {
  grant: 'lathe.dev/object-store-grant',
  expiresAt: 'lathe.dev/object-store-expires-at',
} as const;

/** The pods Lathe runs for its objects, each with credentials of its own. */
export const CredentialRole = {
  ingestion: 'ingest',
  training: 'train',
  serving: 'serve',
  evaluation: 'evaluate',
  batch: 'batch',
} as const;
export type CredentialRole = (typeof CredentialRole)[keyof typeof CredentialRole];

/** The Secret of `owner`'s pods of one role: `<owner>-<role>-store`. */
export function credentialsSecretName(owner: string, role: CredentialRole): string {
  return childName(owner, `${role}-store`, 253);
}

/** Where a pod's credentials Secret is mounted. */
export const CREDENTIALS_DIR = '/var/run/lathe/object-store';
const CREDENTIALS_VOLUME = 'object-store-credentials';

/** What a pod spec needs to reach the object store with the credentials in `secretName`. */
export interface ObjectStorePodAccess {
  env: Wire<V1EnvVar>[];
  volume: Wire<V1Volume>;
  volumeMount: Wire<V1VolumeMount>;
}

/**
 * The object-store variables, volume and mount of a container of `owner`'s pods of `role`
 * (`ObjectStoreEnv`), reading the Secret `ObjectStoreAccess.provide` writes for them.
 */
export function objectStorePodAccess(
  store: ObjectStoreConfig,
  owner: string,
  role: CredentialRole,
): ObjectStorePodAccess {
  const secretName = credentialsSecretName(owner, role);
  const fromSecret = (name: string, key: string, optional = false): Wire<V1EnvVar> => ({
    name,
    valueFrom: { secretKeyRef: { name: secretName, key, ...(optional ? { optional } : {}) } },
  });
  return {
    env: [
      { name: ObjectStoreEnv.endpoint, value: store.endpoint },
      { name: ObjectStoreEnv.bucket, value: store.bucket },
      { name: ObjectStoreEnv.region, value: store.region },
      fromSecret(ObjectStoreEnv.accessKey, CredentialsFile.accessKey),
      fromSecret(ObjectStoreEnv.secretKey, CredentialsFile.secretKey),
      fromSecret(ObjectStoreEnv.sessionToken, CredentialsFile.sessionToken, true),
      { name: ObjectStoreEnv.credentialsDir, value: CREDENTIALS_DIR },
    ],
    volume: { name: CREDENTIALS_VOLUME, secret: { secretName, defaultMode: 0o444 } },
    volumeMount: { name: CREDENTIALS_VOLUME, mountPath: CREDENTIALS_DIR, readOnly: true },
  };
}

/** What `ObjectStoreAccess.provide` did: the Secret's name, and when to look again. */
export interface ProvidedCredentials {
  secretName: string;
  /** When the credentials must be rotated; undefined when they do not expire. */
  requeueAfterMs: number | undefined;
}

/** A step's requeue for `provided`: when its credentials must be rotated, if ever. */
export function rotationRequeue(provided: ProvidedCredentials): { requeueAfterMs?: number } {
  return provided.requeueAfterMs !== undefined ? { requeueAfterMs: provided.requeueAfterMs } : {};
}

interface IssuedRecord {
  grant: string;
  ownerUid: string;
  expiresAt: number;
}

/**
 * The operator's side of the pods' credentials: issues, writes and rotates them (see the
 * module header). One instance serves every controller; what it issued is remembered in
 * memory, so an operator that restarts issues each needed Secret again once.
 */
export class ObjectStoreAccess {
  readonly #issued = new Map<string, IssuedRecord>();
  readonly #legacyChecked = new Set<string>();

  constructor(
    readonly store: ObjectStoreConfig,
    private readonly issuer: CredentialIssuer,
  ) {}

  /**
   * Makes sure `owner`'s pods of `role` have valid credentials for `grant` in their Secret:
   * issues and writes new ones when there are none, the grant changed, or a third of their
   * lifetime is left. Throws `ChildConflictError` when a Secret of that name is not Lathe's.
   */
  async provide(
    ctx: ReconcileContext<KubeObject>,
    owner: KubeObject,
    ownerReference: OwnerReference,
    role: CredentialRole,
    grant: Grant,
  ): Promise<ProvidedCredentials> {
    const namespace = owner.metadata?.namespace ?? '';
    const secretName = credentialsSecretName(owner.metadata?.name ?? '', role);
    await this.#removeLegacySecret(ctx, namespace);
    const key = `${namespace}/${secretName}`;
    const wanted = JSON.stringify(normalizedGrant(grant));
    const now = ctx.now().getTime();
    const renewAt = (expiresAt: number) => expiresAt - this.issuer.lifetimeMs / 3;
    const known = this.#issued.get(key);
    if (
      known &&
      known.grant === wanted &&
      known.ownerUid === ownerReference.uid &&
      renewAt(known.expiresAt) > now
    ) {
      return { secretName, requeueAfterMs: requeueAfter(renewAt(known.expiresAt), now) };
    }
    const issued = await this.issuer.issue(grant, `lathe-${namespace}-${secretName}`);
    await writeCredentialsSecret(
      ctx,
      desiredCredentialsSecret(namespace, secretName, grant, issued, ownerReference),
    );
    const expiresAt = issued.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY;
    this.#issued.set(key, { grant: wanted, ownerUid: ownerReference.uid, expiresAt });
    ctx.log.info(
      { secret: secretName, role, mode: this.issuer.mode, expiresAt: issued.expiresAt },
      'Issued object-store credentials',
    );
    return { secretName, requeueAfterMs: requeueAfter(renewAt(expiresAt), now) };
  }

  /**
   * Deletes the namespace's `lathe-object-store` Secret, which held the operator's own key
   * before credentials were scoped (once per namespace and process; only Lathe's own).
   */
  async #removeLegacySecret(ctx: ReconcileContext<KubeObject>, namespace: string): Promise<void> {
    if (this.#legacyChecked.has(namespace)) return;
    try {
      const legacy = await ctx.client.get<SecretObject>(
        kinds.secret.resource,
        namespace,
        LEGACY_SECRET,
      );
      // Only the copy Lathe made (both labels), never a Secret of that name made by hand, such
      // as the operator's own credentials in its namespace.
      const labels = legacy.metadata?.labels ?? {};
      if (labels[MANAGED_BY_LABEL] === MANAGED_BY_VALUE && labels[PART_OF_LABEL] === 'lathe') {
        await ctx.client.delete(kinds.secret.resource, namespace, LEGACY_SECRET, {
          preconditions: { uid: legacy.metadata?.uid ?? '' },
        });
        ctx.log.info({ secret: LEGACY_SECRET }, 'Deleted the shared object-store Secret');
      }
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    this.#legacyChecked.add(namespace);
  }
}

/** The Secret holding `issued`, the credentials of `grant`, for the pods of its owner. */
export function desiredCredentialsSecret(
  namespace: string,
  name: string,
  grant: Grant,
  issued: IssuedCredentials,
  owner?: OwnerReference,
): SecretObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name,
      namespace,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, 'app.kubernetes.io/part-of': 'lathe' },
      annotations: {
        [CredentialsAnnotation.grant]: JSON.stringify(normalizedGrant(grant)),
        [CredentialsAnnotation.expiresAt]: issued.expiresAt?.toISOString() ?? 'never',
      },
      ...(owner ? { ownerReferences: [owner] } : {}),
    },
    type: 'Opaque',
    stringData: {
      [CredentialsFile.accessKey]: issued.accessKey,
      [CredentialsFile.secretKey]: issued.secretKey,
      ...(issued.sessionToken ? { [CredentialsFile.sessionToken]: issued.sessionToken } : {}),
    },
  };
}

function requeueAfter(at: number, now: number): number | undefined {
  return Number.isFinite(at) ? Math.max(1_000, at - now) : undefined;
}

const PART_OF_LABEL = 'app.kubernetes.io/part-of';

/** The Secret that held the operator's own key in every namespace, before scoped credentials. */
const LEGACY_SECRET = 'lathe-object-store';

/**
 * Creates the Secret, or replaces its data when it exists and is Lathe's: a JSON patch whose
 * first operation tests the managed-by label, so a Secret a user made under that name is left
 * untouched (`ChildConflictError`) without the operator ever reading a Secret.
 */
async function writeCredentialsSecret(
  ctx: ReconcileContext<KubeObject>,
  secret: SecretObject,
): Promise<void> {
  const { name = '', namespace = '' } = secret.metadata ?? {};
  try {
    await ctx.client.create(kinds.secret.resource, secret);
    return;
  } catch (error) {
    if (!isAlreadyExists(error)) throw error;
  }
  const data = Object.fromEntries(
    Object.entries(secret.stringData ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
  );
  try {
    await ctx.client.patch(kinds.secret.resource, namespace, name, 'json', [
      {
        op: 'test',
        path: `/metadata/labels/${MANAGED_BY_LABEL.replace(/~/g, '~0').replace(/\//g, '~1')}`,
        value: MANAGED_BY_VALUE,
      },
      { op: 'add', path: '/data', value: data },
      { op: 'add', path: '/metadata/annotations', value: secret.metadata?.annotations ?? {} },
      { op: 'add', path: '/metadata/ownerReferences', value: secret.metadata?.ownerReferences },
    ]);
  } catch (error) {
    // A failed `test` operation: the API server answers 422 (or 500 in older versions).
    if (isApiError(error) && /test|label/i.test(error.message)) {
      throw new ChildConflictError(
        'Secret',
        namespace,
        name,
        `is not labelled ${MANAGED_BY_LABEL}: ${MANAGED_BY_VALUE}`,
      );
    }
    throw error;
  }
}

/**
 * Writing the credentials Secrets: `create`, and `patch` guarded by the label test above (a
 * Secret's name depends on its owner, so `patch` cannot be limited by name; the admission
 * policy in the chart limits it to Secrets labelled as Lathe's). `get` and `delete` only of the
 * legacy `lathe-object-store`. Nothing grants `list` or `watch`: the operator reads no Secret.
 */
export const objectStoreSecretPermissions: PermissionRule[] = [
  { apiGroups: [''], resources: ['secrets'], verbs: ['create', 'patch'] },
  {
    apiGroups: [''],
    resources: ['secrets'],
    verbs: ['get', 'delete'],
    resourceNames: [LEGACY_SECRET],
  },
];
