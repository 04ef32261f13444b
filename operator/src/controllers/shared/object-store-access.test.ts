import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { SecretObject } from '../../runtime/builtin-kinds.js';
import type { ReconcileContext } from '../../runtime/controller.js';
import { ApiError, type KubeClient } from '../../runtime/kube-client.js';
import type { KubeObject } from '../../runtime/resource.js';
import {
  artifactGrantPrefix,
  type CredentialIssuer,
  credentialsSecretName,
  type Grant,
  grants,
  ObjectStoreAccess,
  objectStorePodAccess,
  sessionPolicy,
} from './object-store-access.js';

const store = {
  endpoint: 'http://minio:9000',
  bucket: 'lathe',
  region: 'us-east-1',
  accessKey: 'operator-ak',
  secretKey: 'operator-sk',
};

describe('sessionPolicy', () => {
  it('allows get and list under what is read or written, put only under what is written', () => {
    const policy = sessionPolicy('lathe', {
      read: ['datasets/a/iris/v1/'],
      write: ['runs/a/t/'],
    }) as {
      Statement: { Sid: string; Action: string[]; Resource: string[]; Condition?: unknown }[];
    };
    const bySid = Object.fromEntries(policy.Statement.map((s) => [s.Sid, s]));
    expect(bySid.Read?.Resource).toEqual([
      'arn:aws:s3:::lathe/datasets/a/iris/v1/*',
      'arn:aws:s3:::lathe/runs/a/t/*',
    ]);
    expect(bySid.List?.Condition).toEqual({
      StringLike: {
        's3:prefix': ['datasets/a/iris/v1/', 'datasets/a/iris/v1/*', 'runs/a/t/', 'runs/a/t/*'],
      },
    });
    expect(bySid.Write?.Action).toEqual([
      's3:PutObject',
      's3:AbortMultipartUpload',
      's3:ListMultipartUploadParts',
    ]);
    expect(bySid.Write?.Resource).toEqual(['arn:aws:s3:::lathe/runs/a/t/*']);
    // Nothing deletes, nothing reaches another bucket.
    const text = JSON.stringify(policy);
    expect(text).not.toContain('Delete');
    expect(text.match(/arn:aws:s3:::([a-z0-9.-]+)/g)?.every((a) => a.endsWith(':lathe'))).toBe(
      true,
    );
  });

  it('has no read or write statement for an empty grant', () => {
    const policy = sessionPolicy('lathe', { read: [], write: [] }) as { Statement: unknown[] };
    expect(policy.Statement).toHaveLength(1);
  });
});

describe('grants', () => {
  it.each<[string, Grant, Grant]>([
    [
      'ingestion reads its namespace and shared/, writes its dataset',
      grants.ingestion('a', 'iris'),
      {
        read: [
          'sources/a/',
          'datasets/a/',
          'models/a/',
          'runs/a/',
          'feedback/a/',
          'batch/a/',
          'shared/',
        ],
        write: ['datasets/a/iris/'],
      },
    ],
    [
      'training reads one version, writes its run',
      grants.training('datasets/a/iris/v1/', 'runs/a/t/'),
      { read: ['datasets/a/iris/v1/'], write: ['runs/a/t/'] },
    ],
    [
      'serving reads its artifacts, writes its feedback',
      grants.serving('a', 'svc', ['models/a/iris/1/']),
      { read: ['models/a/iris/1/'], write: ['feedback/a/svc/'] },
    ],
    [
      'a batch run reads the model and its input, writes its output',
      grants.batch('models/a/iris/1/', ['sources/a/x.csv'], 'batch/a/b/u/'),
      { read: ['models/a/iris/1/', 'sources/a/x.csv'], write: ['batch/a/b/u/'] },
    ],
    [
      'evaluation only reads',
      grants.evaluation('datasets/a/iris/v1/', undefined),
      { read: ['datasets/a/iris/v1/'], write: [] },
    ],
  ])('%s', (_name, got, want) => {
    expect(got).toEqual(want);
    const everything = [...got.read, ...got.write].filter((p) => p !== 'shared/');
    expect(everything.every((p) => p.split('/')[1] === 'a')).toBe(true);
  });
});

describe('artifactGrantPrefix', () => {
  it.each([
    ['s3://lathe/models/a/iris/1/', 'models/a/iris/1/'],
    ['s3://lathe/models/a/iris/1', 'models/a/iris/1/'],
    ['s3://lathe/runs/a/t/artifact/', 'runs/a/t/artifact/'],
    ['s3://lathe/models/b/iris/1/', undefined],
    ['s3://lathe/models/', undefined],
    ['s3://lathe/models/a/../b/iris/1/', undefined],
    ['s3://other/models/a/iris/1/', undefined],
    ['s3://lathe/shared/', undefined],
    ['not a uri', undefined],
  ])('%s → %s', (uri, want) => {
    expect(artifactGrantPrefix(uri, 'lathe', 'a')).toBe(want);
  });
});

describe('objectStorePodAccess', () => {
  it('reads every credential from the owner’s Secret, never a value, and mounts it', () => {
    const access = objectStorePodAccess(store, 'iris', 'ingest');
    const text = JSON.stringify(access);
    expect(text).not.toContain('operator-ak');
    expect(text).not.toContain('operator-sk');
    expect(access.volume).toEqual({
      name: 'object-store-credentials',
      secret: { secretName: 'iris-ingest-store', defaultMode: 0o444 },
    });
    const refs = access.env.filter((e) => e.valueFrom).map((e) => e.valueFrom?.secretKeyRef?.name);
    expect(new Set(refs)).toEqual(new Set(['iris-ingest-store']));
  });

  it('keeps a long owner name a valid Secret name', () => {
    const name = credentialsSecretName('x'.repeat(253), 'serve');
    expect(name.length).toBeLessThanOrEqual(253);
    expect(name.endsWith('-serve-store')).toBe(true);
  });
});

/** A context whose client records what the operator writes; `now` is settable. */
function fakeContext(options: { existing?: SecretObject } = {}) {
  const written: { verb: string; body: unknown }[] = [];
  let existing = options.existing;
  const client = {
    async create(_resource: unknown, obj: KubeObject) {
      written.push({ verb: 'create', body: obj });
      if (existing) throw new ApiError(409, { reason: 'AlreadyExists' }, 'exists');
      existing = obj as SecretObject;
      return obj;
    },
    async patch(_r: unknown, _ns: unknown, _name: unknown, _type: unknown, body: unknown) {
      written.push({ verb: 'patch', body });
      const label = existing?.metadata?.labels?.['app.kubernetes.io/managed-by'];
      if (label !== 'lathe') throw new ApiError(422, undefined, 'the test operation failed');
      return existing as KubeObject;
    },
    async get() {
      throw new ApiError(404, { reason: 'NotFound' }, 'not found');
    },
    async delete() {},
  } as unknown as KubeClient;
  const clock = { now: new Date('2026-12-07T00:00:00Z') };
  const ctx = {
    client,
    log: pino({ level: 'silent' }),
    now: () => clock.now,
  } as unknown as ReconcileContext<KubeObject>;
  return { ctx, written, clock };
}

function countingIssuer(lifetimeMs: number): CredentialIssuer & { issued: Grant[] } {
  const issued: Grant[] = [];
  return {
    mode: 'scoped',
    lifetimeMs,
    issued,
    async issue(grant) {
      issued.push(grant);
      return {
        accessKey: `ak-${issued.length}`,
        secretKey: `sk-${issued.length}`,
        sessionToken: `token-${issued.length}`,
        expiresAt: new Date(Date.parse('2026-12-07T00:00:00Z') + lifetimeMs * issued.length),
      };
    },
  };
}

const owner = {
  apiVersion: 'lathe.dev/v1alpha1',
  kind: 'Dataset',
  metadata: { name: 'iris', namespace: 'a', uid: 'u1' },
} as KubeObject;
const ownerRef = {
  apiVersion: 'lathe.dev/v1alpha1',
  kind: 'Dataset',
  name: 'iris',
  uid: 'u1',
  controller: true,
};

describe('ObjectStoreAccess.provide', () => {
  it('issues once, keeps the credentials while two thirds of their life are left, then rotates', async () => {
    const hour = 3_600_000;
    const issuer = countingIssuer(3 * hour);
    const access = new ObjectStoreAccess(store, issuer);
    const { ctx, written, clock } = fakeContext();
    const grant = grants.ingestion('a', 'iris');

    const first = await access.provide(ctx, owner, ownerRef, 'ingest', grant);
    expect(first).toEqual({ secretName: 'iris-ingest-store', requeueAfterMs: 2 * hour });
    const secret = written[0]?.body as SecretObject;
    expect(secret.stringData).toEqual({
      accessKey: 'ak-1',
      secretKey: 'sk-1',
      sessionToken: 'token-1',
    });
    expect(secret.metadata?.annotations?.['lathe.dev/object-store-expires-at']).toBe(
      '2026-12-07T03:00:00.000Z',
    );

    clock.now = new Date(Date.parse('2026-12-07T00:00:00Z') + hour);
    await access.provide(ctx, owner, ownerRef, 'ingest', grant);
    expect(issuer.issued).toHaveLength(1);

    clock.now = new Date(Date.parse('2026-12-07T00:00:00Z') + 2 * hour + 1);
    await access.provide(ctx, owner, ownerRef, 'ingest', grant);
    expect(issuer.issued).toHaveLength(2);
    // The Secret existed: its data is replaced by a patch that first tests Lathe's label.
    const patch = written.at(-1)?.body as { op: string; path: string }[];
    expect(patch[0]).toMatchObject({
      op: 'test',
      path: '/metadata/labels/app.kubernetes.io~1managed-by',
    });
  });

  it('issues again when the grant changes', async () => {
    const issuer = countingIssuer(3_600_000);
    const access = new ObjectStoreAccess(store, issuer);
    const { ctx } = fakeContext();
    // The same grant twice, then another: two issues.
    for (const artifact of ['models/a/m/1/', 'models/a/m/1/', 'models/a/m/2/'])
      await access.provide(ctx, owner, ownerRef, 'serve', grants.serving('a', 's', [artifact]));
    expect(issuer.issued).toHaveLength(2);
  });

  it('refuses to overwrite a Secret of that name that Lathe did not create', async () => {
    const access = new ObjectStoreAccess(store, countingIssuer(3_600_000));
    const { ctx } = fakeContext({
      existing: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'iris-ingest-store' } },
    });
    await expect(
      access.provide(ctx, owner, ownerRef, 'ingest', grants.ingestion('a', 'iris')),
    ).rejects.toMatchObject({ reason: 'ChildConflict' });
  });
});
