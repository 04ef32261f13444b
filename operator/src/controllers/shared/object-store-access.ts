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
import http from 'node:http';
import https from 'node:https';
import type { V1EnvVar, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { AssumeRoleProvider } from 'minio/dist/esm/AssumeRoleProvider.mjs';
import { CredentialsFile, type ObjectStoreConfig } from '../../../../contract/object-store.js';
import {
  datasetPrefix,
  feedbackPrefix,
  isReadableByNamespace,
  namespacePrefixes,
  parseS3Uri,
  SHARED_PREFIX,
} from '../../../../contract/object-store-layout.js';
import { ObjectStoreEnv } from '../../../../contract/runtime-env.js';
import type { CredentialSettings } from '../../config.js';
import type { PermissionRule } from '../../rbac/permissions.js';
import { ChildConflictError } from '../../runtime/apply.js';
import { kinds, type SecretObject, type Wire } from '../../runtime/builtin-kinds.js';
import type { ReconcileContext } from '../../runtime/controller.js';
import { isAlreadyExists, isApiError, isNotFound } from '../../runtime/kube-client.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../runtime/labels.js';
import type { KubeObject, OwnerReference } from '../../runtime/resource.js';
import { childName } from './names.js';

export { defaultCredentialSettings } from '../../config.js';
export type { CredentialSettings, ObjectStoreConfig };

/** What one pod may do in Lathe's bucket: keys under `read` it reads, under `write` it writes. */
export interface Grant {
  read: string[];
  write: string[];
}

/** What the pods of each role need (pure; the prefixes come from `object-store-layout.ts`). */
export const grants = {
  /**
   * Ingestion: reads its namespace's own prefixes and `shared/` (an S3 source in Lathe's
   * bucket without credentials of its own, a feedback source), writes its dataset's versions.
   */
  ingestion(namespace: string, dataset: string): Grant {
    return {
      read: [...namespacePrefixes(namespace), SHARED_PREFIX],
      write: [datasetPrefix(namespace, dataset)],
    };
  },
  /** A trainer (Lathe's or a custom image): reads one dataset version, writes its run. */
  training(datasetVersionPrefix: string, runPrefix: string): Grant {
    return { read: [datasetVersionPrefix], write: [runPrefix] };
  },
  /** A server: reads the artifacts it serves, appends to its service's request log. */
  serving(namespace: string, inferenceService: string, artifactPrefixes: string[]): Grant {
    return { read: artifactPrefixes, write: [feedbackPrefix(namespace, inferenceService)] };
  },
  /** A champion evaluation: reads the challenger's dataset version and the champion's artifact. */
  evaluation(datasetVersionPrefix: string, artifactPrefix: string | undefined): Grant {
    return { read: [datasetVersionPrefix, ...(artifactPrefix ? [artifactPrefix] : [])], write: [] };
  },
};

/**
 * The prefix of an artifact that `namespace`'s pods may be granted: the artifact's directory in
 * Lathe's `bucket`, when it lies under the namespace's own prefixes; undefined otherwise (an
 * artifact elsewhere is not readable with Lathe's credentials, and the server says so).
 */
export function artifactGrantPrefix(
  uri: string,
  bucket: string,
  namespace: string,
): string | undefined {
  let location: { bucket: string; key: string };
  try {
    location = parseS3Uri(uri);
  } catch {
    return undefined;
  }
  const prefix = location.key.replace(/\/?$/, '/');
  if (location.bucket !== bucket || !isReadableByNamespace(prefix, namespace)) return undefined;
  if (prefix === SHARED_PREFIX) return undefined;
  return prefix;
}

/** `grant` with each list sorted and without repeats, so equal needs compare equal. */
export function normalizedGrant(grant: Grant): Grant {
  const tidy = (prefixes: string[]) => [...new Set(prefixes)].sort();
  return { read: tidy(grant.read), write: tidy(grant.write) };
}

/**
 * The S3 session policy of `grant` in `bucket` (IAM policy grammar, as MinIO and AWS read it):
 * get and list under every prefix it reads or writes, put (multipart included) under those it
 * writes; nothing else — no delete, no other bucket.
 */
export function sessionPolicy(bucket: string, grant: Grant): Record<string, unknown> {
  const { read, write } = normalizedGrant(grant);
  const readable = [...new Set([...read, ...write])].sort();
  const objects = (prefixes: string[]) => prefixes.map((p) => `arn:aws:s3:::${bucket}/${p}*`);
  const statements: Record<string, unknown>[] = [
    {
      Sid: 'Location',
      Effect: 'Allow',
      Action: ['s3:GetBucketLocation'],
      Resource: [`arn:aws:s3:::${bucket}`],
    },
  ];
  if (readable.length > 0) {
    statements.push(
      { Sid: 'Read', Effect: 'Allow', Action: ['s3:GetObject'], Resource: objects(readable) },
      {
        Sid: 'List',
        Effect: 'Allow',
        Action: ['s3:ListBucket'],
        Resource: [`arn:aws:s3:::${bucket}`],
        Condition: { StringLike: { 's3:prefix': readable.flatMap((p) => [p, `${p}*`]) } },
      },
    );
  }
  if (write.length > 0) {
    statements.push({
      Sid: 'Write',
      Effect: 'Allow',
      Action: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
      Resource: objects(write),
    });
  }
  return { Version: '2012-10-17', Statement: statements };
}

/** Credentials handed to a pod. `expiresAt` undefined: they do not expire (the shared key). */
export interface IssuedCredentials {
  accessKey: string;
  secretKey: string;
  sessionToken?: string;
  expiresAt: Date | undefined;
}

/** Issues the credentials of a grant. */
export interface CredentialIssuer {
  /** `scoped` (STS) or `shared` (the operator's key). */
  readonly mode: 'scoped' | 'shared';
  /** How long issued credentials live, in ms; rotation starts when a third of it is left. */
  readonly lifetimeMs: number;
  issue(grant: Grant, sessionName: string): Promise<IssuedCredentials>;
}

/** The issuer the settings describe, over the operator's own key. */
export function credentialIssuer(
  store: ObjectStoreConfig,
  settings: CredentialSettings,
): CredentialIssuer {
  if (settings.mode === 'shared') {
    return {
      mode: 'shared',
      lifetimeMs: Number.POSITIVE_INFINITY,
      async issue() {
        return { accessKey: store.accessKey, secretKey: store.secretKey, expiresAt: undefined };
      },
    };
  }
  const stsEndpoint = settings.stsEndpoint ?? store.endpoint;
  // A connection per request, so none is left half-open by a store that restarted.
  const transportAgent = stsEndpoint.startsWith('https:')
    ? new https.Agent({ keepAlive: false })
    : new http.Agent({ keepAlive: false });
  return {
    mode: 'scoped',
    lifetimeMs: settings.durationSeconds * 1000,
    async issue(grant, sessionName) {
      const provider = new AssumeRoleProvider({
        stsEndpoint,
        accessKey: store.accessKey,
        secretKey: store.secretKey,
        region: store.region,
        durationSeconds: settings.durationSeconds,
        policy: JSON.stringify(sessionPolicy(store.bucket, grant)),
        roleSessionName: sessionName.slice(0, 64),
        transportAgent,
        ...(settings.roleArn ? { roleArn: settings.roleArn } : {}),
      });
      const issuedAt = Date.now();
      let timer: NodeJS.Timeout | undefined;
      let credentials: Awaited<ReturnType<typeof provider.getCredentials>>;
      try {
        credentials = await Promise.race([
          provider.getCredentials(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`no answer in ${STS_TIMEOUT_MS / 1000} s`)),
              STS_TIMEOUT_MS,
            );
          }),
        ]);
      } catch (error) {
        throw stsError(error);
      } finally {
        clearTimeout(timer);
      }
      const sessionToken = credentials.getSessionToken();
      return {
        accessKey: credentials.getAccessKey(),
        secretKey: credentials.getSecretKey(),
        ...(sessionToken ? { sessionToken } : {}),
        expiresAt: new Date(issuedAt + settings.durationSeconds * 1000),
      };
    },
  };
}

/** How long the operator waits for the STS to answer. */
const STS_TIMEOUT_MS = 15_000;

/**
 * The error of a failed `AssumeRole`, with the reason a status shows: `CredentialsRefused` when
 * the STS answered with an error (the operator's key may not assume the role, a policy too
 * large), `StorageUnavailable` when it could not be reached (retried with backoff).
 */
function stsError(error: unknown): Error {
  const message = (error as Error).message ?? String(error);
  const refused = /Unable to obtain credentials/.test(message);
  return Object.assign(
    new Error(
      refused
        ? `The object store's STS refused temporary credentials for a pod: ${message}`
        : `The object store's STS could not be reached to issue a pod's credentials: ${message}`,
      { cause: error },
    ),
    { reason: refused ? 'CredentialsRefused' : 'StorageUnavailable' },
  );
}

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
