/**
 * What only a real kubelet does, through Lathe installed with Helm from the cluster's registry:
 * the kernel enforcing a memory limit (an ingestion pod over it is OOM-killed, and the Dataset
 * says so), the kubelet reading a container's termination message (a trainer's reaches the
 * TrainingJob's status), and the kubelet's probes deciding a server's readiness, with a server
 * pod deleted under traffic drained without a failed request.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ObjectStore } from '../../contract/object-store.js';
import { DatasetFile, datasetVersionPrefix } from '../../contract/object-store-layout.js';
import {
  clusterInfo,
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  kubeConfig,
  kubectl,
  kubectlOrThrow,
  repoRoot,
} from '../cluster/testenv.js';
import { imagesValuesPath, installLatheFromRegistry } from './testing.js';

const core = kubeConfig().makeApiClient(k8s.CoreV1Api);
const info = clusterInfo();
let namespace: string;

type Conditions = { type: string; status: string; reason?: string; message?: string }[];
interface Lathe {
  metadata: { name: string };
  spec: Record<string, unknown>;
  status?: Record<string, unknown> & { conditions?: Conditions };
}

async function example(file: string, name: string, spec: Record<string, unknown> = {}) {
  const object = parse(await readFile(path.join(repoRoot, 'examples', file), 'utf8')) as Lathe;
  object.metadata = { name };
  object.spec = { ...object.spec, ...spec };
  return object;
}

async function apply(object: Lathe): Promise<void> {
  await kubectlOrThrow(['-n', namespace, 'apply', '-f', '-'], { input: stringify(object) });
}

async function get(kind: string, name: string): Promise<Lathe> {
  return JSON.parse(await kubectlOrThrow(['-n', namespace, 'get', kind, name, '-o', 'json']));
}

async function datasetVersion(name: string): Promise<string> {
  return eventually(
    async () => {
      const version = (await get('dataset', name)).status?.currentVersion as string | undefined;
      expect(version).toBeDefined();
      return version!;
    },
    { what: `Dataset ${name} has a version`, timeoutMs: 180_000 },
  );
}

beforeAll(async () => {
  await installLatheFromRegistry();
  namespace = await createTestNamespace('real-node');
  await apply(await example('dataset-iris.yaml', 'iris'));
}, 600_000);

afterAll(async () => {
  // The operator's finalizers go first (it is still running), then the namespace.
  await kubectl(
    ['-n', namespace, 'delete', 'inferenceservices,trainingjobs,modelversions,datasets', '--all'],
    { timeoutMs: 120_000 },
  );
  await deleteTestNamespace(namespace);
});

/** The server image as pushed to the cluster's registry (from the values `--push` wrote). */
async function pushedServerImage(): Promise<string> {
  const values = parse(await readFile(imagesValuesPath(), 'utf8')) as {
    runtimeImages: { server: { repository: string; tag: string } };
  };
  return `${values.runtimeImages.server.repository}:${values.runtimeImages.server.tag}`;
}

/** The kubelet's events about pulling `pod`'s image, as "Reason: message". */
async function pullEvents(pod: string): Promise<string[]> {
  const events = await core.listNamespacedEvent({
    namespace,
    fieldSelector: `involvedObject.name=${pod}`,
  });
  return events.items
    .filter((e) => ['Pulling', 'Pulled', 'Failed', 'BackOff'].includes(e.reason ?? ''))
    .map((e) => `${e.reason}: ${e.message}`);
}

describe('the real node', () => {
  it('pulls through the kubelet from the registry as a cluster does, by imagePullPolicy', async () => {
    const image = await pushedServerImage();
    const pod = (name: string, image: string, imagePullPolicy: string) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name },
      spec: {
        automountServiceAccountToken: false,
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: 'main',
            image,
            imagePullPolicy,
            command: ['node', '-e', 'setInterval(() => {}, 1e9)'],
          },
        ],
      },
    });
    const create = (name: string, image: string, policy: string) =>
      kubectlOrThrow(['-n', namespace, 'apply', '-f', '-'], {
        input: JSON.stringify(pod(name, image, policy)),
      });
    const running = (name: string) =>
      eventually(
        async () => {
          const status = await core.readNamespacedPodStatus({ namespace, name });
          expect(status.status?.phase, name).toBe('Running');
        },
        { what: `pod ${name} Running`, timeoutMs: 120_000 },
      );
    // Always: the kubelet asks the registry every time.
    await create('always', image, 'Always');
    await running('always');
    expect((await pullEvents('always')).join('\n')).toMatch(/^Pulling: Pulling image/m);
    // IfNotPresent, and the image is on the node now: not pulled again.
    await create('present', image, 'IfNotPresent');
    await running('present');
    await eventually(
      async () =>
        expect((await pullEvents('present')).join('\n')).toMatch(/already present on machine/),
      { what: 'the kubelet reports the image already present' },
    );
    // Not in the registry: the pull fails and backs off, as anywhere.
    await create('missing', image.replace(/lathe-server:/, 'no-such-image:'), 'IfNotPresent');
    await eventually(
      async () => {
        const missing = await core.readNamespacedPodStatus({ namespace, name: 'missing' });
        expect(missing.status?.containerStatuses?.[0]?.state?.waiting?.reason).toMatch(
          /^(ErrImagePull|ImagePullBackOff)$/,
        );
      },
      { what: 'pod missing fails to pull', timeoutMs: 60_000 },
    );
    await kubectl([
      '-n',
      namespace,
      'delete',
      'pod',
      'present',
      'always',
      'missing',
      '--wait=false',
    ]);
  });

  it('OOM-kills an ingestion pod over its memory limit, and the Dataset says so', async () => {
    await apply(await example('dataset-iris.yaml', 'iris-oom', { resources: { memory: '24Mi' } }));
    const failed = await eventually(
      async () => {
        const ingestion = (await get('dataset', 'iris-oom')).status?.lastIngestion as
          | { reason?: string; message?: string }
          | undefined;
        expect(ingestion?.reason).toBe('OutOfMemory');
        return ingestion!;
      },
      { what: 'Dataset iris-oom reports OutOfMemory', timeoutMs: 180_000 },
    );
    expect(failed.message).toContain('OOMKilled');
    const pods = await core.listNamespacedPod({ namespace });
    const killed = pods.items
      .filter((pod) => pod.metadata?.name?.startsWith('iris-oom-ingest-'))
      .map((pod) => pod.status?.containerStatuses?.[0]?.state?.terminated);
    expect(killed).toContainEqual(expect.objectContaining({ reason: 'OOMKilled', exitCode: 137 }));
  });

  it("puts the trainer's termination message, as the kubelet read it, in TrainingJob status", async () => {
    const version = await datasetVersion('iris');
    // Same header, other rows: a file that still parses, so only its digest can tell.
    const store = new ObjectStore(info.minio);
    const trainKey = `${datasetVersionPrefix(namespace, 'iris', version)}${DatasetFile.train}`;
    const original = (await store.read(info.minio.bucket, trainKey)).toString('utf8');
    const [header, first] = original.split('\n');
    await store.write(info.minio.bucket, trainKey, Buffer.from(`${header}\n${first}\n${first}\n`));
    try {
      await apply(
        await example('trainingjob-iris.yaml', 'on-tampered-data', { modelName: 'iris-tampered' }),
      );
      const failure = await eventually(
        async () => {
          const job = await get('trainingjob', 'on-tampered-data');
          const found = job.status?.failure as { reason?: string; message?: string } | undefined;
          expect(found?.reason).toBe('DatasetTampered');
          return found!;
        },
        { what: 'TrainingJob on-tampered-data failed with DatasetTampered', timeoutMs: 240_000 },
      );
      expect(failure.message).toMatch(/^train\.csv does not match the dataset version's manifest/);
      const pods = await core.listNamespacedPod({ namespace });
      const terminated = pods.items
        .filter((pod) => pod.metadata?.name?.startsWith('on-tampered-data-train-'))
        .map((pod) => pod.status?.containerStatuses?.[0]?.state?.terminated);
      expect(terminated[0]?.message).toContain('train.csv does not match');
    } finally {
      await store.write(info.minio.bucket, trainKey, Buffer.from(original));
    }
  });

  it("serves once the kubelet's readiness probe passes, and drains a deleted pod without a failed request", async () => {
    await datasetVersion('iris');
    await apply(await example('trainingjob-iris.yaml', 'iris-1'));
    const modelVersion = await eventually(
      async () => {
        const job = await get('trainingjob', 'iris-1');
        const mv = (job.status?.modelVersion as { name?: string } | undefined)?.name;
        expect(mv, JSON.stringify(job.status?.conditions)).toBeDefined();
        return mv!;
      },
      { what: 'TrainingJob iris-1 registered a ModelVersion', timeoutMs: 300_000 },
    );
    await kubectlOrThrow([
      '-n',
      namespace,
      'patch',
      'modelversion',
      modelVersion,
      '--type',
      'merge',
      '-p',
      '{"spec":{"stage":"production"}}',
    ]);
    const isvc = await example('inferenceservice-iris.yaml', 'iris', {
      replicas: { min: 2, max: 2 },
    });
    delete isvc.spec.canary;
    await apply(isvc);
    await eventually(
      async () => {
        const ready = (await get('inferenceservice', 'iris')).status?.conditions?.find(
          (c) => c.type === 'Ready',
        );
        expect(ready?.status, ready?.message).toBe('True');
      },
      { what: 'InferenceService iris Ready', timeoutMs: 300_000 },
    );
    // The service's two servers (a pod of an earlier rollout may still be draining: it is
    // deleted, not one of them), each Ready once the kubelet's probe passed.
    const servers = await eventually(
      async () => {
        const running = (
          await core.listNamespacedPod({
            namespace,
            labelSelector: 'lathe.dev/inferenceservice=iris,app.kubernetes.io/component=server',
          })
        ).items.filter(
          (pod) => pod.status?.phase === 'Running' && !pod.metadata?.deletionTimestamp,
        );
        expect(running).toHaveLength(2);
        for (const pod of running)
          expect(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
        return running;
      },
      { what: 'two Ready servers', timeoutMs: 60_000 },
    );
    for (const pod of servers) {
      // Ready because the kubelet's probe said so: the probe is HTTP, and the pod's Ready
      // condition came after its container started.
      const probe = pod.spec?.containers[0]?.readinessProbe;
      expect(probe?.httpGet?.path).toBeDefined();
      const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
      expect(ready?.status).toBe('True');
      const started = pod.status?.containerStatuses?.[0]?.state?.running?.startedAt;
      expect(new Date(ready!.lastTransitionTime!).getTime()).toBeGreaterThanOrEqual(
        new Date(started!).getTime(),
      );
    }

    const service = await core.readNamespacedService({ namespace, name: 'iris' });
    const url = `http://${service.spec?.clusterIP}/v1/models/iris:predict`;
    const body = JSON.stringify({
      instances: [{ sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 }],
    });
    const outcomes = { ok: 0, failed: [] as string[] };
    let sending = true;
    const client = async () => {
      while (sending) {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(10_000),
        }).catch((error: Error) => error);
        if (response instanceof Error) outcomes.failed.push(response.message);
        else if (response.status !== 200) outcomes.failed.push(`HTTP ${response.status}`);
        else outcomes.ok++;
        if (!(response instanceof Error)) await response.body?.cancel();
      }
    };
    const clients = [client(), client(), client()];
    await new Promise((r) => setTimeout(r, 2_000));
    const victim = servers[0]!.metadata!.name!;
    await core.deleteNamespacedPod({ namespace, name: victim });
    // Through the drain and a replacement becoming Ready.
    await eventually(
      async () => {
        const pods = (
          await core.listNamespacedPod({
            namespace,
            labelSelector: 'lathe.dev/inferenceservice=iris,app.kubernetes.io/component=server',
          })
        ).items;
        expect(pods.some((pod) => pod.metadata?.name === victim)).toBe(false);
        const ready = pods.filter((pod) =>
          pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
        );
        expect(ready).toHaveLength(2);
      },
      { what: 'the deleted server gone and a replacement Ready', timeoutMs: 180_000 },
    );
    await new Promise((r) => setTimeout(r, 2_000));
    sending = false;
    await Promise.all(clients);
    expect(outcomes.failed).toEqual([]);
    expect(outcomes.ok).toBeGreaterThan(100);
  }, 900_000);
});
