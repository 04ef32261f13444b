/**
 * The operator as a user runs it — installed with Helm, two replicas, RBAC through its own
 * ServiceAccount — under the failures real clusters have: the leader killed, the API server
 * restarted, the operator restarted in the middle of a burst of objects.
 *
 * The effect checked is the ModelVersion controller's: each object ends `Ready=True` with the
 * verified digest, and carries exactly one `ArtifactVerified` event — a second verification
 * would record a second one, a lost object none.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manifestFor } from '../../contract/manifest.js';
import { ObjectStore } from '../../contract/object-store.js';
import { restartComponent } from '../cluster/cluster.js';
import {
  clusterInfo,
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  helm,
  kubeConfig,
  kubectlOrThrow,
  repoRoot,
  stateDir,
} from '../cluster/testenv.js';

const kc = kubeConfig();
const core = kc.makeApiClient(k8s.CoreV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const coordination = kc.makeApiClient(k8s.CoordinationV1Api);
const { minio } = clusterInfo();
const store = new ObjectStore(minio);
const release = `lathe-${randomBytes(2).toString('hex')}`;
const leaseName = 'lathe-operator-leader';
let system: string;
let work: string;
let artifact: { uri: string; digest: string };
let nextVersion = 1;

async function operatorPods(): Promise<k8s.V1Pod[]> {
  const pods = await core.listNamespacedPod({
    namespace: system,
    labelSelector: 'app.kubernetes.io/name=lathe',
  });
  return pods.items.filter((p) => !p.metadata?.deletionTimestamp);
}

/** The pod of a holder identity (`<pod name>_<random>`, unique per process). */
const podOf = (identity: string | undefined) => identity?.replace(/_[a-f0-9]+$/, '');

async function leaseHolder(): Promise<string | undefined> {
  const lease = await coordination.readNamespacedLease({ name: leaseName, namespace: system });
  return lease.spec?.holderIdentity || undefined;
}

async function createModelVersions(
  count: number,
  onEach?: (i: number) => Promise<void>,
): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const version = nextVersion++;
    const name = `model-${version}`;
    await custom.createNamespacedCustomObject({
      group: 'lathe.dev',
      version: 'v1alpha1',
      namespace: work,
      plural: 'modelversions',
      body: {
        apiVersion: 'lathe.dev/v1alpha1',
        kind: 'ModelVersion',
        metadata: { name },
        spec: { modelName: 'model', version, artifact: { ...artifact, format: 'tfjs' } },
      },
    });
    names.push(name);
    await onEach?.(i);
  }
  return names;
}

/**
 * Every named ModelVersion is Ready with the verified digest (no lost work) and has one
 * ArtifactVerified event (no work done twice). A replica SIGKILLed between its status patch and
 * its event leaves none — the two writes are not atomic — and events are best-effort (an event
 * emitted while the API server is down is dropped, as client-go drops them), so
 * `eventsMayBeLost` accepts zero or one.
 */
async function expectReconciledOnce(
  names: string[],
  options: { timeoutMs?: number; eventsMayBeLost?: boolean } = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  await eventually(
    async () => {
      const list = (await custom.listNamespacedCustomObject({
        group: 'lathe.dev',
        version: 'v1alpha1',
        namespace: work,
        plural: 'modelversions',
      })) as {
        items: {
          metadata: { name: string };
          status?: { verifiedDigest?: string; conditions?: { type: string; status: string }[] };
        }[];
      };
      const ready = new Set(
        list.items
          .filter((mv) => mv.status?.verifiedDigest === artifact.digest)
          .filter((mv) =>
            mv.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
          )
          .map((mv) => mv.metadata.name),
      );
      const missing = names.filter((n) => !ready.has(n));
      if (missing.length)
        throw new Error(`${missing.length} not Ready yet, e.g. ${missing.slice(0, 3).join(', ')}`);
    },
    { timeoutMs, intervalMs: 1_000, what: 'every ModelVersion verified' },
  );
  const events = await kc.makeApiClient(k8s.EventsV1Api).listNamespacedEvent({ namespace: work });
  const verifiedEvents = new Map<string, number>();
  for (const event of events.items.filter((e) => e.reason === 'ArtifactVerified')) {
    const name = event.regarding?.name ?? '';
    verifiedEvents.set(name, (verifiedEvents.get(name) ?? 0) + (event.series?.count ?? 1));
  }
  const allowed = options.eventsMayBeLost ? [0, 1] : [1];
  const notOnce = names
    .filter((n) => !allowed.includes(verifiedEvents.get(n) ?? 0))
    .map((n) => `${n}: ${verifiedEvents.get(n) ?? 0}`);
  expect(notOnce, 'ModelVersions verified other than once').toEqual([]);
}

/** SIGKILLs a pod's container process group, as an OOM kill or a node failure would. */
async function killPodProcess(pod: k8s.V1Pod): Promise<void> {
  const dir = path.join(
    stateDir,
    'node/pods',
    `${pod.metadata?.namespace}_${pod.metadata?.name}_${pod.metadata?.uid}`,
  );
  const { pid } = JSON.parse(await readFile(path.join(dir, 'operator.pid'), 'utf8')) as {
    pid: number;
  };
  process.kill(-pid, 'SIGKILL');
}

beforeAll(async () => {
  system = await createTestNamespace('lathe-system', {
    'pod-security.kubernetes.io/enforce': 'restricted',
  });
  work = await createTestNamespace('lathe-work');
  await core.createNamespacedSecret({
    namespace: system,
    body: {
      metadata: { name: 'object-store' },
      stringData: { accessKey: minio.accessKey, secretKey: minio.secretKey },
    },
  });
  const prefix = `models/${work}/model/shared/`;
  const files = {
    'model.json': Buffer.from('{"modelTopology":{}}'),
    'weights.bin': randomBytes(1024),
  };
  const { manifest, digest } = manifestFor(files);
  for (const [file, bytes] of Object.entries(files))
    await store.write(minio.bucket, `${prefix}${file}`, bytes);
  await store.write(minio.bucket, `${prefix}manifest.json`, manifest);
  artifact = { uri: `s3://${minio.bucket}/${prefix}`, digest };

  const installed = await helm(
    [
      'install',
      release,
      path.join(repoRoot, 'charts/lathe'),
      '--namespace',
      system,
      '--set',
      'replicaCount=2',
      '--set',
      `watchNamespaces={${work}}`,
      '--set',
      `objectStore.endpoint=${minio.endpoint}`,
      '--set',
      'objectStore.credentialsSecret.name=object-store',
      '--wait',
      '--timeout',
      '180s',
    ],
    { timeoutMs: 200_000 },
  );
  expect(installed.stderr).not.toMatch(/error/i);
  expect(installed.code).toBe(0);
}, 240_000);

afterAll(async () => {
  await helm(['uninstall', release, '--namespace', system, '--wait']);
  await deleteTestNamespace(work);
  await deleteTestNamespace(system);
  await store.removePrefix(minio.bucket, `models/${work}/`);
});

describe('the operator installed with Helm', () => {
  it('runs two replicas of which exactly one leads', async () => {
    const pods = await operatorPods();
    expect(pods).toHaveLength(2);
    const holder = await eventually(async () => {
      const h = await leaseHolder();
      expect(h).toBeDefined();
      return h!;
    });
    expect(pods.map((p) => p.metadata?.name)).toContain(podOf(holder));
    const leaderStatus = await Promise.all(
      pods.map(async (pod) => {
        const metrics = await (await fetch(`http://${pod.status?.podIP}:8080/metrics`)).text();
        return Number(/^leader_election_master_status\{[^}]*\} (\d)/m.exec(metrics)?.[1]);
      }),
    );
    expect(leaderStatus.sort()).toEqual([0, 1]);
  });

  it('fails over when the leader is killed, losing and duplicating no work', async () => {
    const before = await createModelVersions(10);
    await expectReconciledOnce(before);

    const leader = await leaseHolder();
    const leaderPod = (await operatorPods()).find((p) => p.metadata?.name === podOf(leader))!;
    const lease = await coordination.readNamespacedLease({ name: leaseName, namespace: system });
    const leaseSeconds = lease.spec?.leaseDurationSeconds ?? 15;
    const during = await createModelVersions(10, async (i) => {
      if (i === 4) await killPodProcess(leaderPod);
    });
    const killedAt = Date.now();
    // The standby acquires the lease once it expires (the killed leader cannot release it).
    const newLeader = await eventually(
      async () => {
        const holder = await leaseHolder();
        if (!holder || holder === leader) throw new Error(`still held by ${holder}`);
        return holder;
      },
      { timeoutMs: (leaseSeconds + 10) * 1000, what: 'a new leader' },
    );
    expect(newLeader).not.toBe(leader);
    console.log(
      `Leader ${leader} killed (SIGKILL); ${newLeader} took over after ${((Date.now() - killedAt) / 1000).toFixed(1)} s`,
    );
    await expectReconciledOnce([...before, ...during], { eventsMayBeLost: true });
  });

  it('reconnects and converges after the API server restarts', async () => {
    const before = await createModelVersions(5);
    await restartComponent('kube-apiserver', 2_000);
    const after = await createModelVersions(5);
    await expectReconciledOnce([...before, ...after], {
      timeoutMs: 180_000,
      eventsMayBeLost: true,
    });
    await eventually(async () => expect(await leaseHolder()).toBeDefined(), { timeoutMs: 60_000 });
  });

  it('reconciles each of 200 objects exactly once in effect across an operator restart mid-burst', async () => {
    const names = await createModelVersions(200, async (i) => {
      if (i === 80)
        await kubectlOrThrow(['-n', system, 'rollout', 'restart', `deployment/${release}`]);
    });
    await expectReconciledOnce(names, { timeoutMs: 300_000 });
    await kubectlOrThrow([
      '-n',
      system,
      'rollout',
      'status',
      `deployment/${release}`,
      '--timeout=120s',
    ]);
  });
});
