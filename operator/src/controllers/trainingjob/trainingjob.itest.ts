/**
 * Dataset → TrainingJob → ModelVersion on the local cluster, with the Dataset, TrainingJob and
 * ModelVersion controllers run in-process by the real manager, and the real ingestion and
 * training programs as Jobs on the process node.
 *
 * The example classification data reaches test accuracy ≥ 0.9 on the native TensorFlow backend
 * and the regression data a sensible R²; a request for more GPUs than the node has reports
 * InsufficientGPU with the scheduler's message; stopping the operator while a run trains still
 * yields exactly one ModelVersion; an artifact tampered with before registration fails
 * verification; a dataset file overwritten after ingestion stops the run (`DatasetTampered`,
 * naming the file) with no ModelVersion; the scikit-learn image honours the same contract.
 *
 * And the shape of the reconcile: a Job name taken by an object Lathe does not manage shows
 * `ChildConflict` until it is gone; a wiped status comes back the same, with no second Job or
 * ModelVersion; suspending pauses the same Job (its pod goes) and resuming runs it on.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  DatasetFile,
  datasetVersionPrefix,
  RunFile,
  trainingRunPrefix,
} from '../../../../contract/object-store-layout.js';
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
import { type TrainingJobInput, TrainingJobSchema } from '../../api/trainingjob.js';
import { LATHE_VERSION } from '../../config.js';
import { type JobObject, kinds, type PodObject } from '../../runtime/builtin-kinds.js';
import type { Condition } from '../../runtime/conditions.js';
import type { Manager } from '../../runtime/manager.js';
import type { KubeObject } from '../../runtime/resource.js';
import { latheKinds, type ModelVersionObject, type TrainingJobObject } from '../lathe-kinds.js';
import { trainingJobName } from './desired.js';

const info = clusterInfo();
const { store } = testStore();
const client = testClient();
let namespace: string;
let manager: Manager | undefined;

function startManager(): Manager {
  return startTestManager(
    namespace,
    testControllers('dataset', 'trainingjob', 'modelversion'),
    'trainingjob-itest',
  );
}

async function applyExample(file: string): Promise<void> {
  const obj = parse(await readFile(path.join(repoRoot, 'examples', file), 'utf8')) as KubeObject;
  obj.metadata = { ...obj.metadata, namespace };
  await client.create(latheKinds.dataset.resource, obj);
}

function trainingJob(name: string, spec: Partial<TrainingJobInput['spec']>): KubeObject {
  return {
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'TrainingJob',
    metadata: { name, namespace },
    spec: {
      datasetRef: { name: 'iris' },
      model: { builtin: { architecture: 'mlp', layers: [16], backend: 'tensorflow' } },
      hyperparameters: { epochs: 80, batchSize: 16, learningRate: 0.02, seed: 7 },
      modelName: 'iris',
      ...spec,
    },
  };
}

const getJob = (name: string) =>
  client.get<TrainingJobObject>(latheKinds.trainingJob.resource, namespace, name);
const getMv = (name: string) =>
  client.get<ModelVersionObject>(latheKinds.modelVersion.resource, namespace, name);
const ready = (o: { status?: { conditions?: { type: string; status: string }[] } }) =>
  o.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';

async function succeeded(name: string, timeoutMs = 240_000): Promise<TrainingJobObject> {
  return await eventually(
    async () => {
      const tj = await getJob(name);
      expect(tj.status?.phase, JSON.stringify(tj.status?.failure ?? tj.status?.conditions)).toBe(
        'Succeeded',
      );
      return tj;
    },
    { what: `TrainingJob ${name} Succeeded`, timeoutMs },
  );
}

const condition = (tj: TrainingJobObject, type: string): Condition | undefined =>
  tj.status?.conditions?.find((c) => c.type === type);

/** The Jobs Lathe made for the TrainingJob `name`. */
async function jobsOf(name: string): Promise<JobObject[]> {
  return (
    await client.list<JobObject>(kinds.job.resource, {
      namespace,
      labelSelector: `lathe.dev/trainingjob=${name}`,
    })
  ).items;
}

/** A status as it can be compared after a rewrite: conditions by type, no transition times. */
function comparable(status: TrainingJobObject['status']): unknown {
  const conditions = [...(status?.conditions ?? [])]
    .map(({ lastTransitionTime: _, ...c }) => c)
    .sort((a, b) => a.type.localeCompare(b.type));
  return { ...status, conditions };
}

/** The TrainingJob `name` once Succeeded, created with `spec` unless an earlier test did. */
async function succeededOnce(
  name: string,
  spec: Partial<TrainingJobInput['spec']>,
): Promise<TrainingJobObject> {
  try {
    await getJob(name);
  } catch {
    await client.create(latheKinds.trainingJob.resource, trainingJob(name, spec));
  }
  return await succeeded(name);
}

async function modelVersionsOf(tj: TrainingJobObject): Promise<ModelVersionObject[]> {
  return (
    await client.list<ModelVersionObject>(latheKinds.modelVersion.resource, {
      namespace,
      labelSelector: `lathe.dev/trainingjob-uid=${tj.metadata.uid}`,
    })
  ).items;
}

beforeAll(async () => {
  await installCrds();
  namespace = await createTestNamespace('train');
  manager = startManager();
  await applyExample('dataset-iris.yaml');
  await applyExample('dataset-diabetes.yaml');
});

afterAll(async () => {
  await manager?.stop();
  await deleteTestNamespace(namespace);
});

describe('TrainingJob', () => {
  it('trains the example classification data to a verified ModelVersion with accuracy ≥ 0.9 and lineage', async () => {
    await client.create(latheKinds.trainingJob.resource, trainingJob('iris-mlp', {}));
    const tj = await succeeded('iris-mlp');
    expect(tj.status).toMatchObject({
      task: 'classification',
      modelVersion: { name: 'iris-v1', version: 1 },
    });
    expect(tj.status?.progress?.epoch).toBeGreaterThan(0);
    expect(tj.status?.progress?.summary).toMatch(/^\d+\/80 loss=/);
    const mv = await eventually(async () => {
      const m = await getMv('iris-v1');
      expect(ready(m)).toBe(true);
      return m;
    });
    expect(mv.spec.metrics?.accuracy).toBeGreaterThanOrEqual(0.9);
    expect(Object.keys(mv.spec.metrics ?? {})).toEqual(
      expect.arrayContaining(['accuracy', 'precision', 'recall', 'f1', 'loss']),
    );
    expect(mv.spec.lineage).toMatchObject({
      dataset: { name: 'iris', version: tj.status?.datasetVersion },
      trainingJob: { name: 'iris-mlp', uid: tj.metadata.uid, backend: 'tensorflow' },
    });
    expect(mv.spec.artifact.uri).toBe(`s3://${info.minio.bucket}/models/${namespace}/iris/1/`);
    expect(mv.spec.hyperparameters).toMatchObject({
      epochs: '80',
      layers: '16',
      architecture: 'mlp',
    });
    const history = JSON.parse(
      (
        await store.read(
          info.minio.bucket,
          `${trainingRunPrefix(namespace, 'iris-mlp')}${RunFile.history}`,
        )
      ).toString('utf8'),
    ) as { epochs: unknown[] };
    expect(history.epochs.length).toBe(tj.status?.progress?.epoch);
  });

  it('rebuilds a wiped status the same, with no second Job and no second ModelVersion', async () => {
    const before = await succeededOnce('iris-mlp', {});
    const [job] = await jobsOf('iris-mlp');
    const registered = await modelVersionsOf(before);
    expect(registered).toHaveLength(1);
    const wiped = await client.patch<TrainingJobObject>(
      latheKinds.trainingJob.resource,
      namespace,
      'iris-mlp',
      'merge',
      { status: null },
      { subresource: 'status' },
    );
    expect(wiped.status).toBeUndefined();
    await eventually(
      async () =>
        expect(comparable((await getJob('iris-mlp')).status)).toEqual(comparable(before.status)),
      { what: 'the same status again' },
    );
    const jobs = await jobsOf('iris-mlp');
    expect(jobs.map((j) => j.metadata?.uid)).toEqual([job?.metadata?.uid]);
    expect((await modelVersionsOf(before)).map((m) => m.metadata.name)).toEqual(
      registered.map((m) => m.metadata.name),
    );
  });

  it('reports ChildConflict while an object Lathe does not manage holds the Job name, and proceeds once it is gone', async () => {
    const tj = trainingJob('conflicted', {});
    const jobName = trainingJobName(TrainingJobSchema.parse(tj));
    // Suspended, so that it never starts a pod; no managed-by label, no owner.
    await client.create(kinds.job.resource, {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: jobName, namespace, labels: { app: 'impostor' } },
      spec: {
        suspend: true,
        template: {
          spec: { restartPolicy: 'Never', containers: [{ name: 'impostor', image: 'impostor:1' }] },
        },
      },
    });
    await client.create(latheKinds.trainingJob.resource, tj);
    const conflicted = await eventually(
      async () => {
        const t = await getJob('conflicted');
        expect(condition(t, 'Ready')).toMatchObject({ status: 'False', reason: 'ChildConflict' });
        return t;
      },
      { what: 'Ready=False ChildConflict', timeoutMs: 120_000 },
    );
    expect(condition(conflicted, 'Ready')?.message).toContain(`Job ${namespace}/${jobName}`);
    expect(conflicted.status?.phase).toBe('Pending');
    expect(conflicted.status?.jobName).toBeUndefined();
    await client.delete(kinds.job.resource, namespace, jobName);
    const job = await eventually(
      async () => {
        const j = await client.get<JobObject>(kinds.job.resource, namespace, jobName);
        expect(j.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('lathe');
        expect(j.metadata?.ownerReferences?.[0]?.uid).toBe(conflicted.metadata.uid);
        return j;
      },
      { what: "Lathe's Job in the impostor's place" },
    );
    await eventually(async () => {
      const t = await getJob('conflicted');
      expect(condition(t, 'Ready')?.reason).not.toBe('ChildConflict');
      expect(t.status?.jobName).toBe(job.metadata?.name);
    });
    await client.delete(latheKinds.trainingJob.resource, namespace, 'conflicted');
  });

  it('suspends the same Job (its pod goes) and resumes it to success', async () => {
    await client.create(
      latheKinds.trainingJob.resource,
      trainingJob('paused', {
        hyperparameters: { epochs: 1000, batchSize: 8, learningRate: 0.01, seed: 5 },
      }),
    );
    const running = await eventually(
      async () => {
        const t = await getJob('paused');
        expect(t.status?.phase).toBe('Running');
        return t;
      },
      { what: 'training running', timeoutMs: 120_000 },
    );
    const [job] = await jobsOf('paused');
    expect(job?.metadata?.name).toBe(running.status?.jobName);
    const setSuspend = (suspend: boolean) =>
      client.patch(latheKinds.trainingJob.resource, namespace, 'paused', 'merge', {
        spec: { suspend },
      });

    await setSuspend(true);
    await eventually(
      async () => {
        const jobs = await jobsOf('paused');
        expect(jobs.map((j) => [j.metadata?.uid, j.spec?.suspend])).toEqual([
          [job?.metadata?.uid, true],
        ]);
        const pods = await client.list<PodObject>(kinds.pod.resource, {
          namespace,
          labelSelector: `batch.kubernetes.io/job-name=${job?.metadata?.name}`,
        });
        expect(pods.items).toEqual([]);
      },
      { what: 'the same Job suspended, its pod gone', timeoutMs: 120_000 },
    );
    const suspended = await eventually(async () => {
      const t = await getJob('paused');
      expect(t.status?.phase).toBe('Suspended');
      return t;
    });
    expect(condition(suspended, 'Suspended')).toMatchObject({
      status: 'True',
      reason: 'Suspended',
    });
    expect(condition(suspended, 'Ready')).toMatchObject({ status: 'False', reason: 'Suspended' });
    expect(condition(suspended, 'Reconciling')?.status).toBe('True');

    await setSuspend(false);
    const done = await succeeded('paused');
    expect(done.status?.jobName).toBe(job?.metadata?.name);
    expect(condition(done, 'Suspended')).toMatchObject({ status: 'False' });
    const jobs = await jobsOf('paused');
    expect(jobs.map((j) => [j.metadata?.uid, j.spec?.suspend])).toEqual([
      [job?.metadata?.uid, false],
    ]);
    expect(await modelVersionsOf(done)).toHaveLength(1);
  });

  it('trains the example regression data to a sensible R²', async () => {
    await client.create(
      latheKinds.trainingJob.resource,
      trainingJob('diabetes-linear', {
        datasetRef: { name: 'diabetes' },
        model: { builtin: { architecture: 'linear' } },
        hyperparameters: { epochs: 150, batchSize: 32, learningRate: 0.05, seed: 1 },
        modelName: 'diabetes',
      }),
    );
    const tj = await succeeded('diabetes-linear');
    expect(tj.status?.task).toBe('regression');
    const mv = await getMv(tj.status?.modelVersion?.name ?? '');
    expect(mv.spec.metrics?.r2).toBeGreaterThan(0.3);
    expect(Object.keys(mv.spec.metrics ?? {})).toEqual(
      expect.arrayContaining(['mse', 'rmse', 'mae', 'r2']),
    );
  });

  it("reports InsufficientGPU with the scheduler's message when the node has too few GPUs", async () => {
    await client.create(
      latheKinds.trainingJob.resource,
      trainingJob('too-many-gpus', { resources: { gpu: 16 } }),
    );
    const tj = await eventually(
      async () => {
        const t = await getJob('too-many-gpus');
        expect(t.status?.conditions?.find((c) => c.type === 'Ready')?.reason).toBe(
          'InsufficientGPU',
        );
        return t;
      },
      { what: 'InsufficientGPU', timeoutMs: 120_000 },
    );
    expect(tj.status?.phase).toBe('Pending');
    expect(tj.status?.conditions?.find((c) => c.type === 'Ready')?.message).toContain(
      'Insufficient nvidia.com/gpu',
    );
    await client.delete(latheKinds.trainingJob.resource, namespace, 'too-many-gpus');
  });

  it('registers exactly one ModelVersion when the operator stops while the run trains', async () => {
    await client.create(
      latheKinds.trainingJob.resource,
      trainingJob('restarted', {
        hyperparameters: { epochs: 400, batchSize: 8, learningRate: 0.01, seed: 3 },
      }),
    );
    await eventually(
      async () => expect((await getJob('restarted')).status?.phase).toBe('Running'),
      {
        what: 'training running',
        timeoutMs: 120_000,
      },
    );
    await manager?.stop();
    manager = undefined;
    // The Job finishes while no operator runs.
    await eventually(
      async () => {
        const jobs = await client.list<KubeObject>(
          { group: 'batch', version: 'v1', kind: 'Job', plural: 'jobs', namespaced: true },
          { namespace, labelSelector: 'lathe.dev/trainingjob=restarted' },
        );
        const done = (jobs.items[0]?.status as { succeeded?: number } | undefined)?.succeeded ?? 0;
        expect(done).toBe(1);
      },
      { what: 'the Job finishes', timeoutMs: 180_000 },
    );
    manager = startManager();
    const tj = await succeeded('restarted');
    // And once more, after the registration: nothing new.
    await manager.stop();
    manager = startManager();
    await eventually(async () => expect(manager?.notReadyReason()).toBeUndefined());
    const registered = await modelVersionsOf(tj);
    expect(registered.map((m) => m.metadata.name)).toEqual([tj.status?.modelVersion?.name]);
    await eventually(async () =>
      expect(ready(await getMv(tj.status?.modelVersion?.name ?? ''))).toBe(true),
    );
  });

  it('fails the verification of an artifact tampered with before registration', async () => {
    await manager?.stop();
    manager = undefined;
    try {
      // With the operator down, run the trainer's Job by hand through a TrainingJob created now
      // and picked up later: create it, start the operator just long enough to create the Job.
      manager = startManager();
      await client.create(latheKinds.trainingJob.resource, trainingJob('tampered', {}));
      await eventually(
        async () => expect((await getJob('tampered')).status?.jobName).toBeDefined(),
        {
          timeoutMs: 120_000,
        },
      );
      await manager.stop();
      manager = undefined;
      const artifact = `${trainingRunPrefix(namespace, 'tampered')}${RunFile.artifactDir}`;
      await eventually(
        async () =>
          expect(await store.list(info.minio.bucket, `${artifact}manifest.json`)).toHaveLength(1),
        { what: 'the trainer wrote its artifact', timeoutMs: 180_000 },
      );
      await store.write(
        info.minio.bucket,
        `${artifact}weights.bin`,
        Buffer.from('not the trained weights'),
      );
    } finally {
      manager ??= startManager();
    }
    const tj = await succeeded('tampered');
    const mv = await eventually(async () => {
      const m = await getMv(tj.status?.modelVersion?.name ?? '');
      expect(m.status?.conditions?.find((c) => c.type === 'Stalled')?.reason).toBe('FileMismatch');
      return m;
    });
    expect(ready(mv)).toBe(false);
  });

  it('stops training on a dataset file overwritten after ingestion, naming the file, and registers nothing', async () => {
    // A Dataset of its own, so the other tests' data stays intact.
    const obj = parse(
      await readFile(path.join(repoRoot, 'examples', 'dataset-iris.yaml'), 'utf8'),
    ) as KubeObject;
    obj.metadata = { name: 'iris-overwritten', namespace };
    await client.create(latheKinds.dataset.resource, obj);
    const version = await eventually(
      async () => {
        const ds = await client.get<KubeObject & { status?: { currentVersion?: string } }>(
          latheKinds.dataset.resource,
          namespace,
          'iris-overwritten',
        );
        expect(ds.status?.currentVersion).toBeDefined();
        return ds.status!.currentVersion!;
      },
      { what: 'Dataset iris-overwritten has a version', timeoutMs: 120_000 },
    );
    // Same header, other rows: a file that still parses, so only its digest can tell.
    const trainKey = `${datasetVersionPrefix(namespace, 'iris-overwritten', version)}${DatasetFile.train}`;
    const original = (await store.read(info.minio.bucket, trainKey)).toString('utf8');
    const [header, first] = original.split('\n');
    await store.write(info.minio.bucket, trainKey, Buffer.from(`${header}\n${first}\n${first}\n`));

    await client.create(
      latheKinds.trainingJob.resource,
      trainingJob('on-overwritten-data', {
        datasetRef: { name: 'iris-overwritten' },
        modelName: 'iris-overwritten',
      }),
    );
    // Polled until the reason is the trainer's: the Job can fail a moment before the cache holds
    // its last pod's termination message (the reason is the Job's until then).
    const tj = await eventually(
      async () => {
        const t = await getJob('on-overwritten-data');
        expect(t.status?.phase, JSON.stringify(t.status?.conditions)).toBe('Failed');
        expect(t.status?.failure).toMatchObject({ reason: 'DatasetTampered' });
        return t;
      },
      { what: 'TrainingJob on-overwritten-data Failed with DatasetTampered', timeoutMs: 240_000 },
    );
    expect(tj.status?.failure?.message).toMatch(
      /^train\.csv does not match the dataset version's manifest\.json .*: train\.csv is \d+ bytes with sha256:[0-9a-f]{64}; manifest\.json says/,
    );
    expect(condition(tj, 'Ready')).toMatchObject({ status: 'False', reason: 'DatasetTampered' });
    expect(condition(tj, 'Stalled')).toMatchObject({ status: 'True', reason: 'DatasetTampered' });
    expect(condition(tj, 'Failed')?.message).toContain('train.csv');
    expect(tj.status?.modelVersion).toBeUndefined();
    expect(await modelVersionsOf(tj)).toEqual([]);
    // Nothing was trained: no artifact under the run.
    const run = trainingRunPrefix(namespace, 'on-overwritten-data');
    expect(await store.list(info.minio.bucket, `${run}${RunFile.artifactDir}`)).toEqual([]);
  });

  it('runs the scikit-learn image under the same contract, with the same metric keys', async () => {
    await client.create(
      latheKinds.trainingJob.resource,
      trainingJob('iris-sklearn', {
        model: { custom: { image: `ghcr.io/lathe-dev/lathe-trainer-sklearn:${LATHE_VERSION}` } },
        modelName: 'iris-sklearn',
      }),
    );
    const tj = await succeeded('iris-sklearn');
    const mv = await eventually(async () => {
      const m = await getMv(tj.status?.modelVersion?.name ?? '');
      expect(ready(m)).toBe(true);
      return m;
    });
    expect(mv.spec.artifact.format).toBe('onnx');
    expect(mv.spec.lineage?.trainingJob?.backend).toBe('scikit-learn');
    expect(mv.spec.metrics?.accuracy).toBeGreaterThanOrEqual(0.9);
    const tfjs = await getMv('iris-v1');
    expect(Object.keys(mv.spec.metrics ?? {}).sort()).toEqual(
      Object.keys(tfjs.spec.metrics ?? {}).sort(),
    );
  });
});
