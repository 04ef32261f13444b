/**
 * `spec.distributed` handed to JobSet, against JobSet's real controller and webhooks (v0.9.1,
 * built from its Go module and started for this suite only: `e2e/cluster/engine-control.ts`;
 * the first run builds it, about 3 minutes, then it is cached). With JobSet installed, Auto picks
 * it; the rendezvous probe (`e2e/images/rendezvous-probe.ts`) proves the workers met at
 * `<jobset>-node-0-0.<jobset>` with the environment Lathe gave them; and a worker killed mid-run
 * restarts the whole group through JobSet's own `failurePolicy`, inside one attempt. Then the
 * PyTorch trainer (`runtime-images/trainer-pytorch`) as two DDP workers handed to JobSet
 * converges to the accuracy of the same training on one pod.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startEngine, stopEngines } from '../../../../e2e/cluster/engine-control.js';
import type { EngineName } from '../../../../e2e/cluster/engines.js';
import {
  clusterInfo,
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  installCrds,
  repoRoot,
} from '../../../../e2e/cluster/testenv.js';
import {
  runtimeImage,
  startTestManager,
  testClient,
  testControllersWith,
  testStore,
} from '../../../../e2e/testing/controllers.js';
import { preparePytorchEnv } from '../../../../runtime-images/trainer-pytorch/pytorch-env.js';
import type { TrainingJobInput } from '../../api/trainingjob.js';
import { kinds, type PodObject } from '../../runtime/builtin-kinds.js';
import type { Manager } from '../../runtime/manager.js';
import type { KubeObject } from '../../runtime/resource.js';
import { latheKinds, type ModelVersionObject, type TrainingJobObject } from '../lathe-kinds.js';
import { servedEngineBackends } from './distributed/engine-backends.js';
import { JOBSET_RESTART_LABEL, type JobSetObject, jobSetKind } from './distributed/jobset.js';

const info = clusterInfo();
const { store } = testStore();
const client = testClient();
let namespace: string;
let manager: Manager | undefined;
let started: EngineName[] = [];

const PROBE = 'lathe.dev/test/rendezvous-probe:1';

function trainingJob(
  name: string,
  distributed: NonNullable<TrainingJobInput['spec']['distributed']>,
  env: Record<string, string> = {},
): KubeObject {
  return {
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'TrainingJob',
    metadata: { name, namespace },
    spec: {
      datasetRef: { name: 'iris' },
      model: {
        custom: {
          image: PROBE,
          env: Object.entries({ PROBE_TIMEOUT_SECONDS: '90', ...env }).map(([n, value]) => ({
            name: n,
            value,
          })),
        },
      },
      resources: { cpu: '100m', memory: '256Mi' },
      modelName: name,
      distributed,
    },
  };
}

const getTj = (name: string) =>
  client.get<TrainingJobObject>(latheKinds.trainingJob.resource, namespace, name);

async function finished(name: string, phase: 'Succeeded' | 'Failed', timeoutMs = 180_000) {
  return await eventually(
    async () => {
      const tj = await getTj(name);
      expect(tj.status?.phase, JSON.stringify(tj.status)).toBe(phase);
      return tj;
    },
    { what: `TrainingJob ${name} ${phase}`, timeoutMs },
  );
}

const listed = async <T extends KubeObject>(
  kind: { resource: Parameters<typeof client.list>[0] },
  labelSelector: string,
) => (await client.list<T>(kind.resource, { namespace, labelSelector })).items;

async function modelVersionsOf(tj: TrainingJobObject): Promise<ModelVersionObject[]> {
  return listed<ModelVersionObject>(
    latheKinds.modelVersion,
    `lathe.dev/trainingjob-uid=${tj.metadata.uid}`,
  );
}

beforeAll(async () => {
  // Fails here, naming the build or start-up step, when JobSet cannot run: never a silent skip.
  started = await startEngine('jobset');
  await preparePytorchEnv();
  await installCrds();
  namespace = await createTestNamespace('ddp-jobset');
  manager = startTestManager(
    namespace,
    // As main.ts does when the API server serves JobSet at start-up.
    testControllersWith(
      { distributedBackends: await servedEngineBackends(client) },
      'dataset',
      'trainingjob',
      'modelversion',
    ),
    'distributed-jobset-itest',
  );
  const dataset = parse(
    await readFile(path.join(repoRoot, 'examples', 'dataset-iris.yaml'), 'utf8'),
  ) as KubeObject;
  dataset.metadata = { ...dataset.metadata, namespace };
  await client.create(latheKinds.dataset.resource, dataset);
});

afterAll(async () => {
  await manager?.stop();
  await deleteTestNamespace(namespace);
  // Later suites see a cluster without JobSet (Auto picks the Indexed Job there).
  await stopEngines(started);
});

describe('TrainingJob spec.distributed handed to JobSet', () => {
  it('Auto picks JobSet; two workers meet at worker 0 by its JobSet hostname', async () => {
    await client.create(latheKinds.trainingJob.resource, trainingJob('meet', { workers: 2 }));
    const tj = await finished('meet', 'Succeeded');
    expect(tj.status?.distributed).toMatchObject({
      backend: 'JobSet',
      reason: 'JobSetInstalled',
      workers: 2,
      restarts: 0,
    });
    expect(tj.status?.attempts).toBe(1);

    const [jobset, ...others] = await listed<JobSetObject>(
      jobSetKind,
      'lathe.dev/trainingjob=meet',
    );
    expect(others).toEqual([]);
    expect(jobset?.spec?.network).toMatchObject({ enableDNSHostnames: true });
    expect(jobset?.spec?.failurePolicy?.maxRestarts).toBe(3);
    expect(jobset?.status?.restarts ?? 0).toBe(0);
    expect(jobset?.status?.conditions?.find((c) => c.type === 'Completed')?.status).toBe('True');

    const [mv, ...more] = await modelVersionsOf(tj);
    expect(more).toEqual([]);
    expect(mv?.spec.metrics).toEqual({ workers: 2 });
    const ranks = JSON.parse(
      (await store.read(info.minio.bucket, `models/${namespace}/meet/1/ranks.json`)).toString(
        'utf8',
      ),
    ) as { worldSize: number; hellos: { rank: number; hostname: string }[] };
    expect(ranks.worldSize).toBe(2);
    expect(ranks.hellos.map((h) => h.rank)).toEqual([0, 1]);
    // JobSet's hostnames: <jobset>-node-<job index>-<pod index>.
    const name = jobset?.metadata?.name ?? '';
    expect(ranks.hellos.map((h) => h.hostname)).toEqual([`${name}-node-0-0`, `${name}-node-0-1`]);
  });

  it('restarts the whole group through JobSet when a worker is killed, in one attempt', async () => {
    await client.create(
      latheKinds.trainingJob.resource,
      trainingJob(
        'killed',
        { workers: 2, backend: 'JobSet', maxRestarts: 2 },
        { PROBE_HOLD_SECONDS: '15' },
      ),
    );
    const victim = await eventually(
      async () => {
        const pods = await listed<PodObject>(
          kinds.pod,
          `lathe.dev/trainingjob=killed,${JOBSET_RESTART_LABEL}=0`,
        );
        expect(pods.filter((p) => p.status?.phase === 'Running')).toHaveLength(2);
        const pod = pods.find(
          (p) => p.metadata?.annotations?.['batch.kubernetes.io/job-completion-index'] === '1',
        );
        expect(pod).toBeDefined();
        return pod as PodObject;
      },
      { what: 'both workers of JobSet restart 0 running', timeoutMs: 90_000 },
    );
    await client.delete(kinds.pod.resource, namespace, victim.metadata?.name ?? '');

    const tj = await finished('killed', 'Succeeded', 240_000);
    expect(tj.status?.distributed).toMatchObject({ backend: 'JobSet', reason: 'Pinned' });
    // JobSet restarted the group itself: still the first attempt, and its restarts in status.
    // (At least one: a restarted worker that reaches the old worker 0 before it is gone fails
    // as a DDP process would, and JobSet restarts again, within maxRestarts.)
    expect(tj.status?.attempts).toBe(1);
    const [jobset, ...others] = await listed<JobSetObject>(
      jobSetKind,
      'lathe.dev/trainingjob=killed',
    );
    expect(others).toEqual([]);
    expect(jobset?.status?.restarts).toBeGreaterThanOrEqual(1);
    expect(tj.status?.distributed?.restarts).toBe(jobset?.status?.restarts);
    expect(await modelVersionsOf(tj)).toHaveLength(1);
  });

  it('PyTorch DDP on two JobSet workers converges to the accuracy of one pod', async () => {
    const torch = (name: string, distributed?: { workers: number; backend: 'JobSet' }) => ({
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'TrainingJob',
      metadata: { name, namespace },
      spec: {
        datasetRef: { name: 'iris' },
        model: { custom: { image: runtimeImage('trainer-pytorch') } },
        hyperparameters: {
          epochs: 60,
          batchSize: 16,
          learningRate: 0.02,
          seed: 7,
          extra: { layers: '16' },
        },
        resources: { cpu: '1', memory: '1Gi' },
        modelName: name,
        ...(distributed ? { distributed } : {}),
      },
    });
    await client.create(latheKinds.trainingJob.resource, torch('torch-single'));
    await client.create(
      latheKinds.trainingJob.resource,
      torch('torch-ddp', { workers: 2, backend: 'JobSet' }),
    );
    const [single, ddp] = await Promise.all([
      finished('torch-single', 'Succeeded', 420_000),
      finished('torch-ddp', 'Succeeded', 420_000),
    ]);
    expect(ddp.status?.distributed).toMatchObject({ backend: 'JobSet', workers: 2 });
    const [singleMv] = await modelVersionsOf(single);
    const ddpMvs = await modelVersionsOf(ddp);
    expect(ddpMvs).toHaveLength(1);
    const one = singleMv?.spec.metrics?.accuracy ?? 0;
    const two = ddpMvs[0]?.spec.metrics?.accuracy ?? 0;
    console.log(`accuracy: one pod ${one}, two DDP workers on JobSet ${two}`);
    expect(one).toBeGreaterThanOrEqual(0.9);
    expect(Math.abs(two - one)).toBeLessThanOrEqual(0.05);
  }, 480_000);
});
