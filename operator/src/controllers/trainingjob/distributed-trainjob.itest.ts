/**
 * `spec.distributed` handed to Kubeflow Trainer, against its real controller manager and
 * webhooks (v2.0.1, with JobSet v0.9.1 beneath it, both built from their Go modules and started
 * for this suite only: `e2e/cluster/engine-control.ts`; the first run builds them, about 3
 * minutes each, then they are cached), and its `torch-distributed` ClusterTrainingRuntime. With
 * Trainer serving TrainJob, Auto picks it for a run with a command; the rendezvous probe
 * (`e2e/images/rendezvous-probe.ts`) proves the two workers met at Trainer's
 * `<trainjob>-node-0-0.<trainjob>`, and worker 0's result, read from a pod that carries none of
 * Lathe's labels, registers the ModelVersion. A worker killed mid-run is replaced by the
 * runtime's Job inside the same TrainJob (its torch runtime has no JobSet failurePolicy), and
 * the run still registers one ModelVersion.
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
  startTestManager,
  testClient,
  testControllersWith,
  testStore,
} from '../../../../e2e/testing/controllers.js';
import type { TrainingJobInput } from '../../api/trainingjob.js';
import { kinds, type PodObject } from '../../runtime/builtin-kinds.js';
import type { Manager } from '../../runtime/manager.js';
import type { KubeObject } from '../../runtime/resource.js';
import { latheKinds, type ModelVersionObject, type TrainingJobObject } from '../lathe-kinds.js';
import { servedEngineBackends } from './distributed/engine-backends.js';
import {
  JOBSET_NAME_LABEL,
  TRAINJOB_RUNTIME,
  type TrainJobObject,
  trainJobKind,
} from './distributed/trainjob.js';

const info = clusterInfo();
const { store } = testStore();
const client = testClient();
let namespace: string;
let manager: Manager | undefined;
let started: EngineName[] = [];

const PROBE = 'lathe.dev/test/rendezvous-probe:1';
/** The probe's program, named as a command: Trainer's runtime would run its own otherwise. */
const PROBE_COMMAND = [
  process.execPath,
  '--import',
  'tsx',
  path.join(repoRoot, 'e2e/images/rendezvous-probe.ts'),
];

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
          command: PROBE_COMMAND,
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

beforeAll(async () => {
  // Fails here, naming the build or start-up step, when Trainer cannot run: never a silent skip.
  started = await startEngine('trainer');
  await installCrds();
  namespace = await createTestNamespace('ddp-trainjob');
  manager = startTestManager(
    namespace,
    // As main.ts does when the API server serves TrainJob and JobSet at start-up.
    testControllersWith(
      { distributedBackends: await servedEngineBackends(client) },
      'dataset',
      'trainingjob',
      'modelversion',
    ),
    'distributed-trainjob-itest',
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
  // Later suites see a cluster without Trainer and JobSet.
  await stopEngines(started);
});

describe('TrainingJob spec.distributed handed to Kubeflow Trainer', () => {
  it("Auto picks TrainJob; two workers meet at Trainer's worker 0 and register", async () => {
    await client.create(latheKinds.trainingJob.resource, trainingJob('meet', { workers: 2 }));
    const tj = await eventually(
      async () => {
        const current = await getTj('meet');
        expect(current.status?.phase, JSON.stringify(current.status)).toBe('Succeeded');
        return current;
      },
      { what: 'TrainingJob meet Succeeded', timeoutMs: 240_000 },
    );
    expect(tj.status?.distributed).toMatchObject({
      backend: 'TrainJob',
      reason: 'TrainJobInstalled',
      workers: 2,
    });
    expect(tj.status?.attempts).toBe(1);

    const [trainJob, ...others] = (
      await client.list<TrainJobObject>(trainJobKind.resource, {
        namespace,
        labelSelector: 'lathe.dev/trainingjob=meet',
      })
    ).items;
    expect(others).toEqual([]);
    expect(trainJob?.spec?.runtimeRef.name).toBe(TRAINJOB_RUNTIME);
    expect(trainJob?.spec?.trainer?.numNodes).toBe(2);
    expect(trainJob?.status?.conditions?.find((c) => c.type === 'Complete')?.status).toBe('True');

    const [mv, ...more] = (
      await client.list<ModelVersionObject>(latheKinds.modelVersion.resource, {
        namespace,
        labelSelector: `lathe.dev/trainingjob-uid=${tj.metadata.uid}`,
      })
    ).items;
    expect(more).toEqual([]);
    expect(mv?.spec.metrics).toEqual({ workers: 2 });
    const ranks = JSON.parse(
      (await store.read(info.minio.bucket, `models/${namespace}/meet/1/ranks.json`)).toString(
        'utf8',
      ),
    ) as { worldSize: number; hellos: { rank: number; hostname: string }[] };
    expect(ranks.worldSize).toBe(2);
    expect(ranks.hellos.map((h) => h.rank)).toEqual([0, 1]);
    // Trainer's JobSet is named after the TrainJob: <trainjob>-node-0-<pod index>.
    const name = trainJob?.metadata?.name ?? '';
    expect(ranks.hellos.map((h) => h.hostname)).toEqual([`${name}-node-0-0`, `${name}-node-0-1`]);
  });

  it('replaces a killed worker inside the TrainJob and registers one ModelVersion', async () => {
    await client.create(
      latheKinds.trainingJob.resource,
      trainingJob(
        'killed',
        { workers: 2, backend: 'TrainJob', maxRestarts: 2 },
        { PROBE_HOLD_SECONDS: '15' },
      ),
    );
    const victim = await eventually(
      async () => {
        const pods = (
          await client.list<PodObject>(kinds.pod.resource, {
            namespace,
            labelSelector: JOBSET_NAME_LABEL,
          })
        ).items.filter((p) => p.metadata?.labels?.[JOBSET_NAME_LABEL]?.startsWith('killed-'));
        expect(pods.filter((p) => p.status?.phase === 'Running')).toHaveLength(2);
        const pod = pods.find(
          (p) => p.metadata?.annotations?.['batch.kubernetes.io/job-completion-index'] === '1',
        );
        expect(pod).toBeDefined();
        return pod as PodObject;
      },
      { what: 'both workers of the TrainJob running', timeoutMs: 90_000 },
    );
    await client.delete(kinds.pod.resource, namespace, victim.metadata?.name ?? '');
    const tj = await eventually(
      async () => {
        const current = await getTj('killed');
        expect(current.status?.phase, JSON.stringify(current.status)).toBe('Succeeded');
        return current;
      },
      { what: 'TrainingJob killed Succeeded', timeoutMs: 240_000 },
    );
    expect(tj.status?.distributed).toMatchObject({ backend: 'TrainJob', reason: 'Pinned' });
    // The runtime's Job (default backoffLimit, no JobSet failurePolicy) replaced the killed
    // worker inside the same TrainJob: still the first attempt, no JobSet restart.
    expect(tj.status?.attempts).toBe(1);
    expect(tj.status?.distributed?.restarts).toBe(0);
    const jobsetName = victim.metadata?.labels?.[JOBSET_NAME_LABEL];
    const replacements = (
      await client.list<PodObject>(kinds.pod.resource, {
        namespace,
        labelSelector: `${JOBSET_NAME_LABEL}=${jobsetName}`,
      })
    ).items.filter(
      (p) =>
        p.metadata?.annotations?.['batch.kubernetes.io/job-completion-index'] === '1' &&
        p.metadata?.name !== victim.metadata?.name,
    );
    expect(replacements.length).toBeGreaterThan(0);
    const mvs = (
      await client.list<ModelVersionObject>(latheKinds.modelVersion.resource, {
        namespace,
        labelSelector: `lathe.dev/trainingjob-uid=${tj.metadata.uid}`,
      })
    ).items;
    expect(mvs).toHaveLength(1);
  });
});
