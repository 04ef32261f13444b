/**
 * Two tenants, A and B, on one Lathe and one bucket: nothing Lathe hands to A's pods reaches B.
 *
 * B's prefixes hold data (seeded with the operator's key). In A, the real controllers ingest a
 * Dataset, run a TrainingJob whose custom image is a hostile probe (`e2e/images/tenant-probe.ts`:
 * it dumps its environment and tries every read, list, write and delete under B's prefixes and
 * the whole bucket with the credentials it was given) and serve an InferenceService. The
 * credentials each kind of pod gets — the Secrets the controllers wrote for ingestion, training
 * and serving, and an evaluation's, issued the way the RetrainPolicy controller issues them —
 * are then tried the same way. The object store refuses every attempt on B; each pod's own
 * grant works (so the refusals are not those of broken credentials); no pod sees the
 * operator's key.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import * as Minio from 'minio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  datasetVersionPrefix,
  namespacePrefixes,
  sourcesPrefix,
  trainingRunPrefix,
} from '../../../../contract/object-store-layout.js';
import {
  clusterInfo,
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  installCrds,
  kubeConfig,
} from '../../../../e2e/cluster/testenv.js';
import {
  scopedCredentialsSecret,
  startTestManager,
  testClient,
  testControllers,
  testStore,
} from '../../../../e2e/testing/controllers.js';
import type { Manager } from '../../runtime/manager.js';
import { latheKinds } from '../lathe-kinds.js';
import { CredentialRole, credentialsSecretName, grants } from './object-store-access.js';

const info = clusterInfo();
const { store } = testStore();
const bucket = info.minio.bucket;
const client = testClient();
let core: k8s.CoreV1Api;
let tenantA: string;
let tenantB: string;
let manager: Manager | undefined;

const short = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

/** What `tenant-probe.ts` reports. */
interface ProbeReport {
  results: Record<string, Record<'read' | 'list' | 'write' | 'delete', string>>;
  own: { read?: string; write?: string };
  digests: string[];
}

/** B's prefixes, and `-`: the whole bucket. */
const targetsOfB = () => [...namespacePrefixes(tenantB), '-'];

/** Tries every operation on B's prefixes with `credentials`, as the probe image does. */
async function probeWith(
  credentials: Record<string, string>,
  own: { read?: string; write?: string },
): Promise<Omit<ProbeReport, 'digests'>> {
  const url = new URL(info.minio.endpoint);
  const minio = new Minio.Client({
    endPoint: url.hostname,
    port: Number(url.port || 80),
    useSSL: false,
    region: 'us-east-1',
    accessKey: credentials.accessKey ?? '',
    secretKey: credentials.secretKey ?? '',
    ...(credentials.sessionToken ? { sessionToken: credentials.sessionToken } : {}),
  });
  const attempt = async (action: () => Promise<unknown>) => {
    try {
      await action();
      return 'allowed';
    } catch (error) {
      return (error as { code?: string }).code === 'AccessDenied' ? 'denied' : String(error);
    }
  };
  const read = (key: string) =>
    attempt(async () => {
      const body = await minio.getObject(bucket, key);
      for await (const _ of body);
    });
  const results: ProbeReport['results'] = {};
  for (const target of targetsOfB()) {
    const prefix = target === '-' ? '' : target;
    results[target] = {
      read: await read(`${prefix}probe-seed.txt`),
      list: await attempt(
        () =>
          new Promise((resolve, reject) => {
            const stream = minio.listObjectsV2(bucket, prefix, true);
            stream.on('data', () => {});
            stream.on('error', reject);
            stream.on('end', resolve);
          }),
      ),
      write: await attempt(() => minio.putObject(bucket, `${prefix}probe-written.txt`, 'x')),
      delete: await attempt(() => minio.removeObject(bucket, `${prefix}probe-seed.txt`)),
    };
  }
  return {
    results,
    own: {
      ...(own.read ? { read: await read(own.read) } : {}),
      ...(own.write
        ? { write: await attempt(() => minio.putObject(bucket, own.write!, 'x')) }
        : {}),
    },
  };
}

/** Every operation on every one of B's prefixes was refused by the store. */
function expectAllRefused(report: Omit<ProbeReport, 'digests'>): void {
  expect(Object.keys(report.results).sort()).toEqual(targetsOfB().sort());
  for (const [target, outcomes] of Object.entries(report.results)) {
    expect({ target, ...outcomes }).toEqual({
      target,
      read: 'denied',
      list: 'denied',
      write: 'denied',
      delete: 'denied',
    });
  }
}

/** The credentials in the Secret Lathe wrote for `owner`'s pods of `role` in A. */
async function credentialsOf(owner: string, role: CredentialRole): Promise<Record<string, string>> {
  const secret = await eventually(() =>
    core.readNamespacedSecret({ name: credentialsSecretName(owner, role), namespace: tenantA }),
  );
  return Object.fromEntries(
    Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]),
  );
}

async function seedB(): Promise<void> {
  for (const prefix of namespacePrefixes(tenantB)) {
    await store.write(bucket, `${prefix}probe-seed.txt`, Buffer.from('B’s data'));
  }
}

async function seedGone(): Promise<string[]> {
  const gone: string[] = [];
  for (const prefix of namespacePrefixes(tenantB)) {
    const left = await store.list(bucket, `${prefix}probe-seed.txt`);
    if (left.length === 0) gone.push(prefix);
  }
  return gone;
}

beforeAll(async () => {
  await installCrds();
  core = kubeConfig().makeApiClient(k8s.CoreV1Api);
  tenantA = await createTestNamespace('tenant-a');
  tenantB = await createTestNamespace('tenant-b');
  await seedB();
  // A's own source file, read by A's ingestion with A's credentials.
  const csv = ['sepal_length,sepal_width,petal_length,petal_width,species'];
  for (let i = 0; i < 60; i++) {
    const species = ['setosa', 'versicolor', 'virginica'][i % 3];
    csv.push(
      `${5 + (i % 7) / 10},${3 + (i % 5) / 10},${1 + (i % 3) * 2},${(i % 3) * 0.8},${species}`,
    );
  }
  await store.write(bucket, `${sourcesPrefix(tenantA)}iris.csv`, Buffer.from(csv.join('\n')));
  manager = startTestManager(
    tenantA,
    testControllers('dataset', 'trainingjob', 'inferenceservice'),
    'tenancy-itest',
  );
});

afterAll(async () => {
  await manager?.stop();
  await deleteTestNamespace(tenantA);
  await deleteTestNamespace(tenantB);
});

describe('two tenants on one Lathe', () => {
  let datasetVersion: string;

  it('ingestion in A reads A’s source with credentials that reach nothing of B’s', async () => {
    await client.create(latheKinds.dataset.resource, {
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'Dataset',
      metadata: { name: 'iris', namespace: tenantA },
      spec: {
        source: { s3: { bucket, key: `${sourcesPrefix(tenantA)}iris.csv` } },
        schema: { label: 'species' },
      },
    });
    const ds = await eventually(
      async () => {
        const got = await client.get<{ status?: { currentVersion?: string } }>(
          latheKinds.dataset.resource,
          tenantA,
          'iris',
        );
        expect(got.status?.currentVersion).toBeTruthy();
        return got;
      },
      { timeoutMs: 180_000, what: 'the Dataset in A ingested' },
    );
    datasetVersion = ds.status?.currentVersion ?? '';
    const report = await probeWith(await credentialsOf('iris', CredentialRole.ingestion), {
      read: `${sourcesPrefix(tenantA)}iris.csv`,
      write: `${datasetVersionPrefix(tenantA, 'iris', 'probe')}x`,
    });
    expect(report.own).toEqual({ read: 'allowed', write: 'allowed' });
    expectAllRefused(report);
    // Another dataset of A is not ingestion's to write either.
    const other = await probeWith(await credentialsOf('iris', CredentialRole.ingestion), {
      write: `${datasetVersionPrefix(tenantA, 'other', 'v1')}x`,
    });
    expect(other.own.write).toBe('denied');
  });

  it('a custom trainer image in A that dumps its env and tries B’s prefixes is refused everything', async () => {
    const ownRead = `${datasetVersionPrefix(tenantA, 'iris', datasetVersion)}train.csv`;
    const ownWrite = `${trainingRunPrefix(tenantA, 'probe')}probe.txt`;
    await client.create(latheKinds.trainingJob.resource, {
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'TrainingJob',
      metadata: { name: 'probe', namespace: tenantA },
      spec: {
        datasetRef: { name: 'iris' },
        modelName: 'iris',
        backoffLimit: 0,
        model: {
          custom: {
            image: 'lathe.dev/test/tenant-probe',
            env: [
              { name: 'PROBE_TARGETS', value: targetsOfB().join(',') },
              { name: 'PROBE_OWN_READ', value: ownRead },
              { name: 'PROBE_OWN_WRITE', value: ownWrite },
            ],
          },
        },
      },
    });
    const message = await eventually(
      async () => {
        const pods = await core.listNamespacedPod({
          namespace: tenantA,
          labelSelector: 'lathe.dev/trainingjob=probe',
        });
        const terminated = pods.items[0]?.status?.containerStatuses?.[0]?.state?.terminated;
        expect(terminated?.message).toBeTruthy();
        return terminated?.message ?? '';
      },
      { timeoutMs: 180_000, what: 'the probe trainer finished' },
    );
    const report = JSON.parse(message) as ProbeReport;
    expect(report.own).toEqual({ read: 'allowed', write: 'allowed' });
    expectAllRefused(report);
    // Nothing the pod could see is the operator's key.
    expect(report.digests).not.toContain(short(info.minio.secretKey));
    expect(report.digests).not.toContain(short(info.minio.accessKey));
  });

  it('the servers of an InferenceService in A get credentials that reach nothing of B’s', async () => {
    await client.create(latheKinds.inferenceService.resource, {
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'InferenceService',
      metadata: { name: 'svc', namespace: tenantA },
      spec: { model: { name: 'iris' } },
    });
    const report = await probeWith(await credentialsOf('svc', CredentialRole.serving), {
      write: `feedback/${tenantA}/svc/requests/probe.jsonl`,
    });
    expect(report.own).toEqual({ write: 'allowed' });
    expectAllRefused(report);
  });

  it('a champion evaluation’s credentials reach nothing of B’s', async () => {
    const versionFiles = await store.list(
      bucket,
      datasetVersionPrefix(tenantA, 'iris', datasetVersion),
    );
    expect(versionFiles.map((k) => path.posix.basename(k))).toContain('test.csv');
    const secret = await scopedCredentialsSecret(
      tenantA,
      'policy',
      CredentialRole.evaluation,
      grants.evaluation(datasetVersionPrefix(tenantA, 'iris', datasetVersion), undefined),
    );
    const report = await probeWith(secret.stringData ?? {}, {
      read: `${datasetVersionPrefix(tenantA, 'iris', datasetVersion)}test.csv`,
      write: `${datasetVersionPrefix(tenantA, 'iris', datasetVersion)}x`,
    });
    expect(report.own).toEqual({ read: 'allowed', write: 'denied' });
    expectAllRefused(report);
  });

  it('B’s data is all still there, and A holds no copy of the operator’s key', async () => {
    expect(await seedGone()).toEqual([]);
    const secrets = await core.listNamespacedSecret({ namespace: tenantA });
    expect(secrets.items.map((s) => s.metadata?.name)).not.toContain('lathe-object-store');
    for (const s of secrets.items) {
      const values = Object.values(s.data ?? {}).map((v) => Buffer.from(v, 'base64').toString());
      expect(values).not.toContain(info.minio.secretKey);
    }
  });
});
