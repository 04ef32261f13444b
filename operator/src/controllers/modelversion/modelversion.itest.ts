/**
 * The ModelVersion controller on the real API server and MinIO, run in-process by the real
 * manager: verification of a version registered by hand, waiting for an upload, a tampered
 * artifact, one production version per model, recovery once the operator gets a store, and
 * artifact clean-up (only ever of the version's own prefix).
 */
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manifestFor } from '../../../../contract/manifest.js';
import { ObjectStore } from '../../../../contract/object-store.js';
import {
  clusterInfo,
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  installCrds,
  kubeConfig,
  kubectl,
  kubectlOrThrow,
} from '../../../../e2e/cluster/testenv.js';
import { OperatorMetrics } from '../../observability/metrics.js';
import { HttpKubeClient, isNotFound } from '../../runtime/kube-client.js';
import { Manager } from '../../runtime/manager.js';
import { builtin, type KubeObject } from '../../runtime/resource.js';
import { ARTIFACT_FINALIZER, modelVersionController, modelVersionResource } from './reconcile.js';

const { minio } = clusterInfo();
const store = new ObjectStore(minio);
const client = new HttpKubeClient(kubeConfig());
let namespace: string;
let manager: Manager;

async function uploadArtifact(prefix: string): Promise<string> {
  const files = {
    'model.json': Buffer.from('{"modelTopology":{}}'),
    'group1-shard1of1.bin': randomBytes(2048),
  };
  const { manifest, digest } = manifestFor(files);
  for (const [path, bytes] of Object.entries(files))
    await store.write(minio.bucket, `${prefix}${path}`, bytes);
  await store.write(minio.bucket, `${prefix}manifest.json`, manifest);
  return digest;
}

function modelVersion(
  name: string,
  prefix: string,
  digest: string,
  deletionPolicy = 'Retain',
  stage = 'none',
  inNamespace = namespace,
) {
  return {
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'ModelVersion',
    metadata: { name, namespace: inNamespace },
    spec: {
      modelName: 'iris',
      version: Number(name.split('-').at(-1)),
      artifact: { uri: `s3://${minio.bucket}/${prefix}`, format: 'tfjs', digest },
      deletionPolicy,
      stage,
    },
  };
}

const stageOf = async (name: string) => (await get(name)).spec as { stage: string };

function startManager(ns: string, withStore: boolean): Manager {
  const m = new Manager({
    client,
    log: pino({ level: process.env.LATHE_TEST_LOG_LEVEL ?? 'silent' }),
    metrics: new OperatorMetrics(undefined, { processMetrics: false }),
    identity: `modelversion-itest-${ns}`,
    namespaces: [ns],
    defaultWorkers: 2,
  });
  m.add(
    modelVersionController(
      withStore ? { store, bucket: minio.bucket } : { store: undefined, bucket: undefined },
    ),
  );
  m.start();
  return m;
}

const get = (name: string) =>
  client.get<KubeObject>(modelVersionResource.resource, namespace, name);
const condition = (mv: KubeObject, type: string) =>
  (
    (mv.status as { conditions?: { type: string; status: string; reason: string }[] })
      ?.conditions ?? []
  ).find((c) => c.type === type);

beforeAll(async () => {
  await installCrds();
  namespace = await createTestNamespace('mv');
  manager = startManager(namespace, true);
  await eventually(() => expect(manager.notReadyReason()).toBeUndefined(), {
    what: 'manager ready',
  });
});

afterAll(async () => {
  await manager?.stop();
  await deleteTestNamespace(namespace);
});

describe('ModelVersion controller', () => {
  it('verifies a version registered by hand: Ready, digest and size in status, one event', async () => {
    const prefix = `models/${namespace}/iris/1/`;
    const digest = await uploadArtifact(prefix);
    await client.create(modelVersionResource.resource, modelVersion('iris-1', prefix, digest));
    const mv = await eventually(
      async () => {
        const got = await get('iris-1');
        expect(condition(got, 'Ready')).toMatchObject({
          status: 'True',
          reason: 'ArtifactVerified',
        });
        expect(condition(got, 'ArtifactVerified')).toMatchObject({ status: 'True' });
        return got;
      },
      { what: 'iris-1 verified' },
    );
    expect(mv.status).toMatchObject({ observedGeneration: 1, verifiedDigest: digest });
    expect((mv.status as { sizeBytes: number }).sizeBytes).toBeGreaterThan(2048);
    const events = await client.list<
      KubeObject & { reason?: string; regarding?: { name?: string } }
    >(builtin.event, { namespace });
    expect(
      events.items.filter((e) => e.reason === 'ArtifactVerified' && e.regarding?.name === 'iris-1'),
    ).toHaveLength(1);
  });

  it('waits for an artifact that is not uploaded yet, then verifies it', async () => {
    const prefix = `models/${namespace}/iris/2/`;
    const files = { 'model.json': Buffer.from('{}') };
    const { manifest, digest } = manifestFor(files);
    await client.create(modelVersionResource.resource, modelVersion('iris-2', prefix, digest));
    await eventually(async () => {
      const got = await get('iris-2');
      expect(condition(got, 'Reconciling')).toMatchObject({
        status: 'True',
        reason: 'ArtifactNotFound',
      });
      expect(condition(got, 'Ready')).toMatchObject({ status: 'False' });
    });
    await store.write(minio.bucket, `${prefix}model.json`, files['model.json']);
    await store.write(minio.bucket, `${prefix}manifest.json`, manifest);
    await eventually(
      async () => expect(condition(await get('iris-2'), 'Ready')?.status).toBe('True'),
      {
        timeoutMs: 40_000,
        what: 'iris-2 verified after upload',
      },
    );
  });

  it('stalls on a tampered artifact with the reason and the digests in the message', async () => {
    const prefix = `models/${namespace}/iris/3/`;
    const digest = await uploadArtifact(prefix);
    await store.write(minio.bucket, `${prefix}group1-shard1of1.bin`, randomBytes(2048));
    await client.create(modelVersionResource.resource, modelVersion('iris-3', prefix, digest));
    await eventually(async () => {
      const got = await get('iris-3');
      expect(condition(got, 'Stalled')).toMatchObject({ status: 'True', reason: 'FileMismatch' });
      expect(condition(got, 'Ready')).toMatchObject({ status: 'False', reason: 'FileMismatch' });
      expect(JSON.stringify(got.status)).toContain('group1-shard1of1.bin');
    });
  });

  it('deletes the artifact with deletionPolicy Delete, and keeps it with Retain', async () => {
    const deleted = `models/${namespace}/iris/4/`;
    const kept = `models/${namespace}/iris/5/`;
    await client.create(
      modelVersionResource.resource,
      modelVersion('iris-4', deleted, await uploadArtifact(deleted), 'Delete'),
    );
    await client.create(
      modelVersionResource.resource,
      modelVersion('iris-5', kept, await uploadArtifact(kept), 'Retain'),
    );
    await eventually(async () => {
      const [four, five] = await Promise.all([get('iris-4'), get('iris-5')]);
      expect(condition(four, 'Ready')?.status).toBe('True');
      expect(condition(five, 'Ready')?.status).toBe('True');
      expect(four.metadata?.finalizers).toEqual([ARTIFACT_FINALIZER]);
      expect(five.metadata?.finalizers ?? []).toEqual([]);
    });
    await client.delete(modelVersionResource.resource, namespace, 'iris-4');
    await client.delete(modelVersionResource.resource, namespace, 'iris-5');
    await eventually(async () => {
      for (const name of ['iris-4', 'iris-5'])
        await expect(get(name)).rejects.toSatisfy(isNotFound);
    });
    expect(await store.list(minio.bucket, deleted)).toEqual([]);
    expect((await store.list(minio.bucket, kept)).length).toBe(3);
  });

  it('deletes nothing outside its own namespace’s prefix: the parent is refused at admission, another tenant’s prefix is kept and the version released', async () => {
    // Another tenant's model, where a version in this namespace will point.
    const other = `lathe-itest-other-${randomBytes(4).toString('hex')}`;
    const theirs = `models/${other}/iris/22/`;
    await uploadArtifact(theirs);
    const stored = await store.list(minio.bucket, theirs);
    expect(stored.length).toBe(3);

    // A parent prefix with Delete never gets in: the API server cannot see the namespace, but
    // it can see that this is not a version's own prefix.
    const parent = modelVersion('iris-21', 'models', `sha256:${'0'.repeat(64)}`, 'Delete');
    await expect(client.create(modelVersionResource.resource, parent)).rejects.toThrow(
      /version’s own prefix/,
    );

    // Another namespace's version prefix has the right shape; the operator refuses it.
    await client.create(
      modelVersionResource.resource,
      modelVersion('iris-22', theirs, `sha256:${'0'.repeat(64)}`, 'Delete'),
    );
    await eventually(async () =>
      expect((await get('iris-22')).metadata?.finalizers).toEqual([ARTIFACT_FINALIZER]),
    );
    await client.delete(modelVersionResource.resource, namespace, 'iris-22');
    await eventually(async () => expect(get('iris-22')).rejects.toSatisfy(isNotFound), {
      what: 'iris-22 released',
    });
    expect(await store.list(minio.bucket, theirs)).toEqual(stored);
    const events = await client.list<
      KubeObject & { reason?: string; type?: string; note?: string; regarding?: { name?: string } }
    >(builtin.event, { namespace });
    const kept = events.items.find(
      (e) => e.reason === 'ArtifactKept' && e.regarding?.name === 'iris-22',
    );
    expect(kept?.type).toBe('Warning');
    expect(kept?.note).toContain(`s3://${minio.bucket}/${theirs}`);
    expect(kept?.note).toContain(
      `not this version's own prefix s3://${minio.bucket}/models/${namespace}/iris/22/`,
    );
    await store.removePrefix(minio.bucket, theirs);
  });

  it('keeps one production version per model: promoting one archives the previous', async () => {
    const uploaded = async (n: number) => {
      const prefix = `models/${namespace}/iris/${n}/`;
      return { prefix, digest: await uploadArtifact(prefix) };
    };
    const six = await uploaded(6);
    await client.create(
      modelVersionResource.resource,
      modelVersion('iris-6', six.prefix, six.digest, 'Retain', 'production'),
    );
    await eventually(async () => {
      const got = await get('iris-6');
      expect(condition(got, 'Ready')?.status).toBe('True');
      expect(got.status).toMatchObject({ stage: 'production' });
      expect((got.status as { stageTransitionTime?: string }).stageTransitionTime).toMatch(/Z$/);
    });

    // A tampered version promoted to production never demotes the one that works.
    const eight = await uploaded(8);
    await store.write(minio.bucket, `${eight.prefix}model.json`, Buffer.from('{"tampered":1}'));
    await client.create(
      modelVersionResource.resource,
      modelVersion('iris-8', eight.prefix, eight.digest, 'Retain', 'production'),
    );
    await eventually(async () =>
      expect(condition(await get('iris-8'), 'Stalled')?.reason).toBe('FileMismatch'),
    );
    expect((await stageOf('iris-6')).stage).toBe('production');

    // A verified version promoted to production archives the previous one, with an event naming both.
    const seven = await uploaded(7);
    await client.create(
      modelVersionResource.resource,
      modelVersion('iris-7', seven.prefix, seven.digest, 'Retain', 'production'),
    );
    await eventually(
      async () => {
        expect((await stageOf('iris-6')).stage).toBe('archived');
        expect((await stageOf('iris-7')).stage).toBe('production');
        expect((await get('iris-6')).status).toMatchObject({ stage: 'archived' });
      },
      { what: 'iris-6 archived' },
    );
    const events = await client.list<KubeObject & { reason?: string; note?: string }>(
      builtin.event,
      { namespace },
    );
    const archived = events.items.find((e) => e.reason === 'Archived');
    expect(archived?.note).toContain('iris-7 was promoted to production');
    expect(archived?.note).toContain('iris-6');
    expect(events.items.some((e) => e.reason === 'Promoted')).toBe(true);
  });

  it('a failed step turns a Ready version Ready=False with the error, not the old Ready=True', async () => {
    // An admission policy refuses to archive versions in this namespace, as a platform team's
    // policy might: promoting a second version makes the registry step fail after `verify`.
    const policy = `lathe-itest-no-archive-${namespace}`;
    const vap = {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: policy },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          resourceRules: [
            {
              apiGroups: ['lathe.dev'],
              apiVersions: ['*'],
              operations: ['UPDATE'],
              resources: ['modelversions'],
            },
          ],
        },
        validations: [
          {
            expression: "!has(object.spec.stage) || object.spec.stage != 'archived'",
            message: 'archiving is frozen in this namespace',
            reason: 'Forbidden',
          },
        ],
      },
    };
    const binding = {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: policy },
      spec: {
        policyName: policy,
        validationActions: ['Deny'],
        matchResources: {
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
        },
      },
    };
    await kubectlOrThrow(['apply', '-f', '-'], {
      input: `${JSON.stringify(vap)}\n---\n${JSON.stringify(binding)}`,
    });
    try {
      // The API server compiles a new policy in the background: wait until it is enforced.
      await eventually(async () => {
        const probe = await kubectl([
          'patch',
          '-n',
          namespace,
          'modelversion',
          'iris-1',
          '--dry-run=server',
          '--type=merge',
          '-p',
          '{"spec":{"stage":"archived"}}',
        ]);
        expect(probe.stderr).toContain('archiving is frozen');
      });
      const ten = `models/${namespace}/frozen/10/`;
      const eleven = `models/${namespace}/frozen/11/`;
      const frozen = (name: string, prefix: string, digest: string) => {
        const mv = modelVersion(name, prefix, digest, 'Retain', 'production');
        return { ...mv, spec: { ...mv.spec, modelName: 'frozen' } };
      };
      await client.create(
        modelVersionResource.resource,
        frozen('frozen-10', ten, await uploadArtifact(ten)),
      );
      await eventually(async () =>
        expect(condition(await get('frozen-10'), 'Ready')?.status).toBe('True'),
      );
      await client.create(
        modelVersionResource.resource,
        frozen('frozen-11', eleven, await uploadArtifact(eleven)),
      );
      // frozen-11 is verified, but archiving frozen-10 is refused: it is not Ready.
      const failed = await eventually(
        async () => {
          const got = await get('frozen-11');
          expect(condition(got, 'ArtifactVerified')?.status).toBe('True');
          expect(condition(got, 'Ready')?.status).toBe('False');
          return got;
        },
        { what: 'frozen-11 Ready=False after the refused archive' },
      );
      expect(JSON.stringify(failed.status)).toContain('archiving is frozen');
      expect((await stageOf('frozen-10')).stage).toBe('production');
    } finally {
      await kubectl([
        'delete',
        'validatingadmissionpolicybinding,validatingadmissionpolicy',
        policy,
      ]);
    }
    // Once the policy is gone, the retry archives frozen-10 and frozen-11 is Ready.
    await eventually(
      async () => {
        expect((await stageOf('frozen-10')).stage).toBe('archived');
        expect(condition(await get('frozen-11'), 'Ready')?.status).toBe('True');
      },
      { timeoutMs: 60_000, what: 'recovered after the policy was removed' },
    );
  });

  it('a wiped status comes back the same, with one verification event and no promotion', async () => {
    const prefix = `models/${namespace}/iris/12/`;
    await client.create(
      modelVersionResource.resource,
      modelVersion('iris-12', prefix, await uploadArtifact(prefix)),
    );
    const before = await eventually(async () => {
      const got = await get('iris-12');
      expect(condition(got, 'Ready')?.status).toBe('True');
      return got;
    });
    await client.patch(
      modelVersionResource.resource,
      namespace,
      'iris-12',
      'merge',
      { status: null },
      { subresource: 'status' },
    );
    const after = await eventually(
      async () => {
        const got = await get('iris-12');
        expect(condition(got, 'Ready')?.status).toBe('True');
        return got;
      },
      { what: 'iris-12 Ready again after the wipe' },
    );
    const comparable = (mv: KubeObject) => {
      const {
        conditions,
        stageTransitionTime: _t,
        ...rest
      } = mv.status as {
        conditions: { type: string; status: string; reason: string }[];
        stageTransitionTime?: string;
      };
      return { ...rest, conditions: conditions.map((c) => [c.type, c.status, c.reason]).sort() };
    };
    expect(comparable(after)).toEqual(comparable(before));
    const events = await client.list<
      KubeObject & { reason?: string; regarding?: { name?: string } }
    >(builtin.event, { namespace });
    const about = events.items.filter((e) => e.regarding?.name === 'iris-12');
    expect(about.filter((e) => e.reason === 'Promoted' || e.reason === 'Archived')).toEqual([]);
    // The artifact is read again (status was its only record), and the repeated event joins
    // the first one's series instead of adding an event.
    expect(about.filter((e) => e.reason === 'ArtifactVerified')).toHaveLength(1);
  });

  it('reports StorageNotConfigured, and verifies once the operator is given a store', async () => {
    const other = await createTestNamespace('mv-nostore');
    const prefix = `models/${other}/iris/9/`;
    const digest = await uploadArtifact(prefix);
    const storeless = startManager(other, false);
    try {
      await client.create(
        modelVersionResource.resource,
        modelVersion('iris-9', prefix, digest, 'Retain', 'none', other),
      );
      const getOther = () => client.get<KubeObject>(modelVersionResource.resource, other, 'iris-9');
      await eventually(async () =>
        expect(condition(await getOther(), 'Stalled')?.reason).toBe('StorageNotConfigured'),
      );
      await storeless.stop();
      const configured = startManager(other, true);
      try {
        await eventually(
          async () => expect(condition(await getOther(), 'Ready')?.status).toBe('True'),
          {
            what: 'verified after the restart with a store',
          },
        );
      } finally {
        await configured.stop();
      }
    } finally {
      await storeless.stop();
      await deleteTestNamespace(other);
    }
  });
});
