/**
 * `spec.distributed` on the local cluster, on the built-in Indexed Job backend: the real Job,
 * EndpointSlice and CoreDNS make `<job>-0.<service>` reach worker 0, and the rendezvous probe
 * (`e2e/images/rendezvous-probe.ts`) proves every worker met there with the environment Lathe
 * gave it. Then the group's failure handling: a worker killed mid-run restarts the whole group
 * (one restart in status, one ModelVersion), a worker that keeps failing ends in
 * `TrainingFailed` with its own words once `maxRestarts` is spent, and a pinned engine that is
 * not installed stalls.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  clusterInfo,
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  installCrds,
  repoRoot,
} from '../../../../e2e/cluster/testenv.js';
import {
  startTestManager,
  testClient,
  testControllers,
  testStore,
} from '../../../../e2e/testing/controllers.js';
import type { TrainingJobInput } from '../../api/trainingjob.js';
import {
  type JobObject,
  kinds,
  type PodObject,
  type ServiceObject,
} from '../../runtime/builtin-kinds.js';
import type { Manager } from '../../runtime/manager.js';
import type { KubeObject } from '../../runtime/resource.js';
import { latheKinds, type ModelVersionObject, type TrainingJobObject } from '../lathe-kinds.js';

const info = clusterInfo();
const { store } = testStore();
const client = testClient();
let namespace: string;
let manager: Manager | undefined;

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
  await installCrds();
  namespace = await createTestNamespace('ddp');
  manager = startTestManager(
    namespace,
    testControllers('dataset', 'trainingjob', 'modelversion'),
    'distributed-itest',
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
});

describe('TrainingJob spec.distributed on the Indexed Job backend', () => {
  it('runs three workers that meet at worker 0 through the headless Service; rank 0 registers the model', async () => {
    await client.create(latheKinds.trainingJob.resource, trainingJob('meet', { workers: 3 }));
    const tj = await finished('meet', 'Succeeded');
    expect(tj.status?.distributed).toMatchObject({
      backend: 'IndexedJob',
      reason: 'NoEngineInstalled',
      workers: 3,
      restarts: 0,
    });
    expect(tj.status?.distributed?.message).toMatch(/^Auto: an Indexed Job.*JobSet/);
    expect(tj.status?.attempts).toBe(1);

    const [job, ...otherJobs] = await listed<JobObject>(kinds.job, 'lathe.dev/trainingjob=meet');
    expect(otherJobs).toEqual([]);
    expect(job?.spec).toMatchObject({ completionMode: 'Indexed', completions: 3, backoffLimit: 0 });
    const group = job?.metadata?.labels?.['lathe.dev/worker-group'] ?? '';
    expect(job?.metadata?.name).toBe(`${group}-a0`);
    const [service] = await listed<ServiceObject>(kinds.service, 'lathe.dev/trainingjob=meet');
    expect(service?.metadata?.name).toBe(group);
    expect(service?.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true });

    const [mv, ...more] = await modelVersionsOf(tj);
    expect(more).toEqual([]);
    expect(mv?.spec.metrics).toEqual({ workers: 3 });
    const prefix = `models/${namespace}/meet/1/`;
    const ranks = JSON.parse(
      (await store.read(info.minio.bucket, `${prefix}ranks.json`)).toString('utf8'),
    ) as { worldSize: number; hellos: { rank: number }[] };
    expect(ranks.worldSize).toBe(3);
    expect(ranks.hellos.map((h) => h.rank)).toEqual([0, 1, 2]);
  });

  it('restarts the whole group when a worker is killed, and registers one ModelVersion', async () => {
    await client.create(
      latheKinds.trainingJob.resource,
      trainingJob(
        'killed',
        { workers: 2, backend: 'IndexedJob', maxRestarts: 2 },
        {
          PROBE_HOLD_SECONDS: '15',
        },
      ),
    );
    // Worker 1 of the first attempt, once both workers run.
    const victim = await eventually(
      async () => {
        const pods = await listed<PodObject>(
          kinds.pod,
          'lathe.dev/trainingjob=killed,lathe.dev/attempt=0',
        );
        expect(pods.filter((p) => p.status?.phase === 'Running')).toHaveLength(2);
        const pod = pods.find(
          (p) => p.metadata?.annotations?.['batch.kubernetes.io/job-completion-index'] === '1',
        );
        expect(pod).toBeDefined();
        return pod as PodObject;
      },
      { what: 'both workers of attempt 0 running', timeoutMs: 90_000 },
    );
    await client.delete(kinds.pod.resource, namespace, victim.metadata?.name ?? '');

    const tj = await finished('killed', 'Succeeded', 240_000);
    expect(tj.status?.distributed).toMatchObject({
      backend: 'IndexedJob',
      reason: 'Pinned',
      restarts: 1,
    });
    expect(tj.status?.attempts).toBe(2);
    expect(await modelVersionsOf(tj)).toHaveLength(1);
    const jobs = await listed<JobObject>(kinds.job, 'lathe.dev/trainingjob=killed');
    expect(jobs.map((j) => j.metadata?.labels?.['lathe.dev/attempt'])).toEqual(['1']);
    const events = await client.list<KubeObject & { reason?: string; message?: string }>(
      { group: '', version: 'v1', kind: 'Event', plural: 'events', namespaced: true },
      { namespace, fieldSelector: 'involvedObject.name=killed' },
    );
    expect(events.items.map((e) => e.reason)).toContain('WorkerGroupRestarted');
  });

  it('fails with the worker’s own message once maxRestarts is spent', async () => {
    await client.create(
      latheKinds.trainingJob.resource,
      trainingJob('crashing', { workers: 2, maxRestarts: 1 }, { PROBE_FAIL_RANK: '1' }),
    );
    const tj = await finished('crashing', 'Failed');
    expect(tj.status?.failure?.reason).toBe('TrainingFailed');
    expect(tj.status?.failure?.message).toContain('Worker 1 of Job');
    expect(tj.status?.failure?.message).toContain('after 1 restart of the group');
    expect(tj.status?.failure?.message).toContain('rank 1 was told to fail');
    expect(tj.status?.distributed).toMatchObject({ restarts: 1, failedWorker: 1 });
    expect(await modelVersionsOf(tj)).toEqual([]);
  });

  it('stalls a run pinned to an engine that is not installed, saying so', async () => {
    await client.create(
      latheKinds.trainingJob.resource,
      trainingJob('pinned', { workers: 2, backend: 'JobSet' }),
    );
    const tj = await eventually(
      async () => {
        const t = await getTj('pinned');
        const stalled = t.status?.conditions?.find((c) => c.type === 'Stalled');
        expect(stalled?.status).toBe('True');
        return t;
      },
      { what: 'TrainingJob pinned Stalled' },
    );
    const stalled = tj.status?.conditions?.find((c) => c.type === 'Stalled');
    expect(stalled?.reason).toBe('BackendNotInstalled');
    expect(stalled?.message).toContain('spec.distributed.backend is JobSet');
    expect(tj.status?.distributed).toMatchObject({ reason: 'BackendNotInstalled', workers: 2 });
    expect(await listed<JobObject>(kinds.job, 'lathe.dev/trainingjob=pinned')).toEqual([]);
  });
});
