/**
 * PyTorch DDP across pods on the Indexed Job backend: the PyTorch trainer image
 * (`runtime-images/trainer-pytorch`) run as two workers of one TrainingJob — each pod starts
 * torchrun from the `PET_*` Lathe gives it, the two join one gloo process group at
 * `<job>-0.<service>`, and rank 0 registers the model — converges to the accuracy of the same
 * training on one pod. The trainer knows nothing of Lathe's backends: only the environment.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseResult } from '../../../../contract/results.js';
import {
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
  testControllers,
} from '../../../../e2e/testing/controllers.js';
import { preparePytorchEnv } from '../../../../runtime-images/trainer-pytorch/pytorch-env.js';
import type { TrainingJobInput } from '../../api/trainingjob.js';
import { type JobObject, kinds, type PodObject } from '../../runtime/builtin-kinds.js';
import type { Manager } from '../../runtime/manager.js';
import type { KubeObject } from '../../runtime/resource.js';
import { latheKinds, type ModelVersionObject, type TrainingJobObject } from '../lathe-kinds.js';

const client = testClient();
let namespace: string;
let manager: Manager | undefined;

function torchJob(name: string, extra: Partial<TrainingJobInput['spec']> = {}): KubeObject {
  return {
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
      ...extra,
    },
  };
}

async function succeeded(name: string): Promise<TrainingJobObject> {
  return await eventually(
    async () => {
      const tj = await client.get<TrainingJobObject>(
        latheKinds.trainingJob.resource,
        namespace,
        name,
      );
      expect(tj.status?.phase, JSON.stringify(tj.status?.failure ?? tj.status?.conditions)).toBe(
        'Succeeded',
      );
      return tj;
    },
    { what: `TrainingJob ${name} Succeeded`, timeoutMs: 420_000 },
  );
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
  await preparePytorchEnv();
  await installCrds();
  namespace = await createTestNamespace('ddp-torch');
  manager = startTestManager(
    namespace,
    testControllers('dataset', 'trainingjob', 'modelversion'),
    'distributed-pytorch-itest',
  );
  const dataset = parse(
    await readFile(path.join(repoRoot, 'examples', 'dataset-iris.yaml'), 'utf8'),
  ) as KubeObject;
  dataset.metadata = { ...dataset.metadata, namespace };
  await client.create(latheKinds.dataset.resource, dataset);
}, 300_000);

afterAll(async () => {
  await manager?.stop();
  if (namespace) await deleteTestNamespace(namespace);
});

describe('PyTorch DDP on the Indexed Job backend', () => {
  it('two workers converge to the accuracy of one, and rank 0 registers one ModelVersion', async () => {
    await client.create(latheKinds.trainingJob.resource, torchJob('single'));
    await client.create(
      latheKinds.trainingJob.resource,
      torchJob('ddp', { distributed: { workers: 2, backend: 'IndexedJob', maxRestarts: 0 } }),
    );
    const [single, ddp] = await Promise.all([succeeded('single'), succeeded('ddp')]);
    expect(ddp.status?.distributed).toMatchObject({
      backend: 'IndexedJob',
      reason: 'Pinned',
      workers: 2,
      restarts: 0,
    });
    const [job] = (
      await client.list<JobObject>(kinds.job.resource, {
        namespace,
        labelSelector: 'lathe.dev/trainingjob=ddp',
      })
    ).items;
    expect(job?.status?.succeeded).toBe(2);

    // Rank 1 reports the result rank 0 broadcast over the process group: the same artifact
    // digest could not reach it any other way.
    const pods = (
      await client.list<PodObject>(kinds.pod.resource, {
        namespace,
        labelSelector: 'lathe.dev/trainingjob=ddp',
      })
    ).items;
    const resultOf = (index: string) => {
      const pod = pods.find(
        (p) => p.metadata?.annotations?.['batch.kubernetes.io/job-completion-index'] === index,
      );
      const message = pod?.status?.containerStatuses?.[0]?.state?.terminated?.message;
      return parseResult('train', message);
    };
    const rank0 = resultOf('0');
    const rank1 = resultOf('1');
    expect(rank0?.outcome).toBe('succeeded');
    expect(rank1).toEqual(rank0);

    const [singleMv] = await modelVersionsOf(single);
    const ddpMvs = await modelVersionsOf(ddp);
    expect(ddpMvs).toHaveLength(1);
    const one = singleMv?.spec.metrics?.accuracy ?? 0;
    const two = ddpMvs[0]?.spec.metrics?.accuracy ?? 0;
    console.log(`accuracy: one pod ${one}, two DDP workers ${two}`);
    expect(one).toBeGreaterThanOrEqual(0.9);
    expect(two).toBeGreaterThanOrEqual(0.9);
    expect(Math.abs(two - one)).toBeLessThanOrEqual(0.05);
    expect(ddpMvs[0]?.spec.artifact.digest).toBe(
      rank0?.outcome === 'succeeded' ? rank0.artifact.digest : '',
    );
  }, 480_000);

  it('a worker killed mid-training restarts the whole group, which trains again to one ModelVersion', async () => {
    const job = torchJob('ddp-killed', {
      distributed: { workers: 2, backend: 'IndexedJob', maxRestarts: 1 },
    }) as KubeObject & { spec: { hyperparameters: Record<string, unknown> } };
    job.spec.hyperparameters = { ...job.spec.hyperparameters, epochs: 400 };
    await client.create(latheKinds.trainingJob.resource, job);
    // Once the group trains (an epoch reported), kill worker 1 of the first attempt.
    await eventually(
      async () => {
        const tj = await client.get<TrainingJobObject>(
          latheKinds.trainingJob.resource,
          namespace,
          'ddp-killed',
        );
        expect(tj.status?.progress?.epoch ?? 0).toBeGreaterThan(0);
      },
      { what: 'the first attempt training', timeoutMs: 180_000, intervalMs: 200 },
    );
    const victim = (
      await client.list<PodObject>(kinds.pod.resource, {
        namespace,
        labelSelector: 'lathe.dev/trainingjob=ddp-killed,lathe.dev/attempt=0',
      })
    ).items.find(
      (p) => p.metadata?.annotations?.['batch.kubernetes.io/job-completion-index'] === '1',
    );
    await client.delete(kinds.pod.resource, namespace, victim?.metadata?.name ?? '');

    const tj = await succeeded('ddp-killed');
    expect(tj.status?.distributed).toMatchObject({ restarts: 1, backend: 'IndexedJob' });
    expect(tj.status?.progress).toMatchObject({ epoch: 400, totalEpochs: 400 });
    const versions = await modelVersionsOf(tj);
    expect(versions).toHaveLength(1);
    expect(versions[0]?.spec.metrics?.accuracy).toBeGreaterThanOrEqual(0.9);
  }, 480_000);
});
