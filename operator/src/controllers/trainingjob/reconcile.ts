/**
 * The TrainingJob controller: trains one model on one dataset version in a `batch/v1` Job and
 * registers the result as exactly one ModelVersion `<model>-v<N>`.
 *
 * Steps, in order (each returns its part of the status; the runner writes it on every path):
 * 1. `run` — the registered ModelVersion (field index by TrainingJob UID), the run's Job and its
 *    pods (`cachedPodsOfJob`), the trainer's result; a failed run stalls (`training.ts`).
 * 2. `storage` — the operator has an object store; else `StorageNotConfigured` (stalled), unless
 *    the run is registered already.
 * 3. `dataset` — the dataset version and task: pinned on the Job, else resolved from the
 *    Dataset; `DatasetNotReady` halts the rest (`dataset.ts`).
 * 4. `credentials` — the object-store Secret, applied when the Job is about to be created.
 * 5. `job` — the Job of the current training spec: created once, older specs' Jobs deleted,
 *    `spec.suspend` carried to it (`Suspended` condition and readiness).
 * 6. `progress` — the trainer's progress file, while it runs and after (`Training`, polled).
 * 7. `registration` — exactly one ModelVersion and the artifact copy (`registration.ts`).
 * 8. `ttl` — deletes the TrainingJob `ttlSecondsAfterFinished` after the run finished.
 *
 * Nothing is read back from the TrainingJob's own status: the Job's name and annotations, its
 * pods, the progress file and the ModelVersion's label say everything, so a wiped status
 * comes back the same and starts no second Job and registers no second ModelVersion.
 */

import { ObjectNotFoundError, type ObjectStore } from '../../../../contract/object-store.js';
import { RunFile, trainingRunPrefix } from '../../../../contract/object-store-layout.js';
import { type TrainingProgress, TrainingProgressSchema } from '../../../../contract/results.js';
import { owns, watches, watchesPodsOf } from '../../runtime/controller.js';
import type { KubeClient } from '../../runtime/kube-client.js';
import { ownerKeyFromLabels } from '../../runtime/labels.js';
import { defineStepController, type Step } from '../../runtime/steps.js';
import { latheKinds, type TrainingJobObject } from '../lathe-kinds.js';
import { TRAINING_JOBS_BY_DATASET, trainingJobsByDataset } from '../shared/indexes.js';
import {
  type ObjectStoreAccess,
  objectStoreSecretPermissions,
} from '../shared/object-store-access.js';
import { datasetStep } from './dataset.js';
import type { DistributedBackend } from './distributed/backend.js';
import { EngineDiscovery } from './distributed/choose.js';
import { indexedJobBackend } from './distributed/indexed-job.js';
import { distributedRunStep, workerGroupStep } from './distributed/steps.js';
import { modelVersionIndexes, registrationStep } from './registration.js';
import {
  runFinished,
  type TrainingFacts,
  trainingJobStatusFields,
  trainingReadiness,
  workloadDescription,
} from './status.js';
import { credentialsStep, jobStep, runStep } from './training.js';

/** How often a running training's progress file is read. */
const PROGRESS_POLL_MS = 1_500;

export interface TrainingJobControllerOptions {
  store: ObjectStore | undefined;
  /** The trainer pods' credentials (and the store's configuration). */
  access: ObjectStoreAccess | undefined;
  image: string;
  gpuImage: string;
  /**
   * The engines a distributed run can be handed to, besides the built-in Indexed Job (JobSet,
   * TrainJob: `distributed/`); their kinds are owned (watched) only when given.
   */
  extraBackends?: readonly DistributedBackend[];
}

/** A step that is the single-pod run's or the distributed run's, as `spec.distributed` says. */
function perRunKind(single: TrainingStep, distributed: TrainingStep): TrainingStep {
  return {
    name: single.name,
    run: (tj, ctx, facts) => (tj.spec.distributed ? distributed : single).run(tj, ctx, facts),
  };
}

type TrainingStep = Step<TrainingJobObject, TrainingFacts>;

/** Reads the trainer's progress file; undefined while it is not written (or half-written). */
async function readProgress(
  storage: TrainingFacts['storage'],
  tj: TrainingJobObject,
): Promise<TrainingProgress | undefined> {
  const key = `${trainingRunPrefix(tj.metadata.namespace ?? '', tj.metadata.name ?? '')}${RunFile.progress}`;
  try {
    const bytes = await storage.store.read(storage.config.bucket, key);
    const parsed = TrainingProgressSchema.safeParse(JSON.parse(bytes.toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch (error) {
    if (error instanceof ObjectNotFoundError || error instanceof SyntaxError) return undefined;
    throw error;
  }
}

export function trainingJobController(options: TrainingJobControllerOptions) {
  const { store, access } = options;
  const storeConfig = access?.store;
  let discovery: EngineDiscovery | undefined;
  const distributed = {
    backends: [indexedJobBackend, ...(options.extraBackends ?? [])],
    discovery: (client: KubeClient) => {
      discovery ??= new EngineDiscovery(client);
      return discovery;
    },
  };
  const ownedKinds = new Map(
    distributed.backends.flatMap((b) => b.ownedKinds).map((k) => [k.resource.plural, k]),
  );

  const storage: TrainingStep = {
    name: 'storage',
    async run(_tj, _ctx, facts) {
      if (store && storeConfig) return { facts: { storage: { store, config: storeConfig } } };
      // A registered run needs the store no more: it stays Succeeded.
      if (facts.registered) return undefined;
      return {
        readiness: {
          state: 'stalled',
          reason: 'StorageNotConfigured',
          message:
            'The operator has no object store configured (LATHE_OBJECT_STORE_ENDPOINT and credentials)',
        },
        halt: true,
      };
    },
  };

  /** Read while the trainer runs, and after: the status shows the last epoch of a finished run. */
  const progress: TrainingStep = {
    name: 'progress',
    async run(tj, _ctx, facts) {
      const { run, workload, storage: found } = facts;
      if (!found || !workload || !run || run.phase === 'Pending') return undefined;
      const latest = await readProgress(found, tj);
      if (run.phase !== 'Running' || tj.spec.suspend) return { facts: { progress: latest } };
      return {
        facts: { progress: latest },
        readiness: trainingReadiness(workloadDescription(facts), latest),
        requeueAfterMs: PROGRESS_POLL_MS,
      };
    },
  };

  const ttl: TrainingStep = {
    name: 'ttl',
    async run(tj, ctx, facts) {
      const seconds = tj.spec.ttlSecondsAfterFinished;
      const finished = facts.modelVersion !== undefined || facts.failure !== undefined;
      if (seconds === undefined || !finished) return undefined;
      const run = facts.run;
      const completed =
        (run?.phase === 'Succeeded' || run?.phase === 'Failed' ? run.completionTime : undefined) ??
        facts.registered?.metadata?.creationTimestamp;
      const now = ctx.now().getTime();
      const expires = (Date.parse(completed ?? '') || now) + seconds * 1000;
      if (now < expires) return { requeueAfterMs: expires - now };
      ctx.log.info('Deleted the TrainingJob: ttlSecondsAfterFinished has passed');
      await ctx.delete(latheKinds.trainingJob, tj);
      return { halt: true };
    },
  };

  return defineStepController<TrainingJobObject, TrainingFacts>({
    name: 'trainingjob',
    for: latheKinds.trainingJob,
    owns: [...ownedKinds.values()].map((kind) => owns(kind, { deletes: true })),
    watches: [
      watchesPodsOf('TrainingJob'),
      watches(latheKinds.dataset, (ds, caches) =>
        caches
          .byField(
            latheKinds.trainingJob,
            TRAINING_JOBS_BY_DATASET,
            ds.metadata?.namespace ?? '',
            ds.metadata?.name ?? '',
          )
          .map((tj) => ({ namespace: tj.metadata.namespace ?? '', name: tj.metadata.name ?? '' })),
      ),
      // A ModelVersion names the TrainingJob that registered it (`lathe.dev/trainingjob`).
      watches(latheKinds.modelVersion, (mv) => {
        const key = ownerKeyFromLabels(mv, 'TrainingJob');
        return key ? [key] : [];
      }),
    ],
    indexes: [trainingJobsByDataset, ...modelVersionIndexes],
    permissions: [
      ...objectStoreSecretPermissions,
      // Registering the result: a live list by label (the cache may lag) and a create.
      { apiGroups: ['lathe.dev'], resources: ['modelversions'], verbs: ['list', 'create'] },
      // Choosing a distributed backend: does Kubeflow Trainer have a runtime to run from?
      // (Discovery itself needs no rule.)
      {
        apiGroups: ['trainer.kubeflow.org'],
        resources: ['clustertrainingruntimes', 'trainingruntimes'],
        verbs: ['list'],
      },
      // spec.ttlSecondsAfterFinished deletes the TrainingJob itself.
      { apiGroups: ['lathe.dev'], resources: ['trainingjobs'], verbs: ['delete'] },
    ],
    steps: [
      perRunKind(runStep, distributedRunStep(distributed)),
      storage,
      datasetStep,
      ...(access ? [credentialsStep(access)] : []),
      perRunKind(jobStep(options), workerGroupStep({ ...distributed, images: options })),
      progress,
      registrationStep,
      ttl,
    ],
    status: (tj, facts) => trainingJobStatusFields(tj, facts),
    ready: (_tj, facts) =>
      facts.modelVersion
        ? {
            reason: 'ModelVersionRegistered',
            message: `Registered ModelVersion ${facts.modelVersion.name}`,
          }
        : { reason: runFinished(facts) ? 'Finished' : 'Progressing', message: '' },
    async afterStatus(tj, before, after, ctx) {
      const failure = (after as { failure?: { reason: string; message: string } }).failure;
      if (before?.phase !== 'Failed' && after.phase === 'Failed' && failure)
        await ctx.events.record(tj, 'Warning', failure.reason, 'Train', failure.message);
    },
  });
}
