/**
 * Continuous learning on the local cluster, with every controller run in-process by the real
 * manager and the real programs as pods: ingestion, training, the schedule trigger, serving.
 *
 * A schedule (every minute) submits TrainingJobs through the trigger's own identity; a better
 * challenger is promoted and the InferenceService rolls to it while a client keeps sending
 * requests, none of which fails; a worse one is rejected and production stays; a new dataset
 * version triggers exactly one run, across an operator restart; traffic drawn from the
 * training distribution leaves the drift score low, shifted traffic raises it and starts a
 * run; suspend stops new runs; deleting the policy removes its CronJob and RBAC. A child name
 * taken by an object Lathe does not manage shows as Ready=False/ChildConflict until it goes, and
 * a user's ServiceAccount of the trigger's name is left untouched;
 * a wiped status comes back the same, with no run started and no decision made again.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
import { isNotFound } from '../../runtime/kube-client.js';
import type { Manager } from '../../runtime/manager.js';
import { builtin, type KubeObject } from '../../runtime/resource.js';
import {
  latheKinds,
  type ModelVersionObject,
  type RetrainPolicyObject,
  type TrainingJobObject,
} from '../lathe-kinds.js';
import { POLICY_LABEL, RUN_NOW_ANNOTATION, triggerIdentityName } from './desired.js';
import { sampledRecords } from './samples.js';

/** The Dataset's annotation asking it to read its source again. */
const REFRESH_ANNOTATION = 'lathe.dev/refresh';

const info = clusterInfo();
const { store } = testStore();
const client = testClient();
let namespace: string;
let manager: Manager | undefined;
let irisCsv: string;

function startManager(): Manager {
  return startTestManager(namespace, testControllers(), 'retrain-itest');
}

/** In the namespace's own sources prefix: the operator's key reads nothing outside it. */
const dataKey = () => `sources/${namespace}/iris.csv`;

/** A template whose model is good (an MLP trained long enough) or poor (one epoch, linear). */
function template(quality: 'good' | 'poor') {
  return {
    spec: {
      datasetRef: { name: 'iris' },
      model:
        quality === 'good'
          ? { builtin: { architecture: 'mlp', layers: [16] } }
          : { builtin: { architecture: 'linear' } },
      hyperparameters:
        quality === 'good'
          ? { epochs: 80, batchSize: 16, learningRate: 0.02, seed: 7 }
          : { epochs: 1, batchSize: 64, learningRate: 0.0001, seed: 7 },
      modelName: 'iris',
    },
  };
}

const getPolicy = (name: string) =>
  client.get<RetrainPolicyObject>(latheKinds.retrainPolicy.resource, namespace, name);
const runsOf = async (policy: string) =>
  (
    await client.list<TrainingJobObject>(latheKinds.trainingJob.resource, {
      namespace,
      labelSelector: `${POLICY_LABEL}=${policy}`,
    })
  ).items;
const mvs = async () =>
  (await client.list<ModelVersionObject>(latheKinds.modelVersion.resource, { namespace })).items;
const production = async () =>
  (await mvs()).filter((m) => m.spec.stage === 'production').map((m) => m.metadata.name);

/** Replaces the policy's template, then asks for a run now. */
async function runWithTemplate(request: string, quality: 'good' | 'poor'): Promise<void> {
  await client.patch(latheKinds.retrainPolicy.resource, namespace, 'manual', 'json', [
    { op: 'replace', path: '/spec/template', value: template(quality) },
  ]);
  await annotate(latheKinds.retrainPolicy, 'manual', RUN_NOW_ANNOTATION, request);
}

/** A policy that retrains a good model when the inputs of `service` drift past PSI 0.5. */
async function createDriftPolicy(name: string, service: string, checkInterval: string) {
  await client.create(latheKinds.retrainPolicy.resource, {
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'RetrainPolicy',
    metadata: { name, namespace },
    spec: {
      template: template('good'),
      triggers: {
        drift: {
          inferenceServiceRef: { name: service },
          metric: 'psi',
          threshold: 0.5,
          checkInterval,
        },
      },
    },
  });
}

async function annotate(
  kind: typeof latheKinds.retrainPolicy | typeof latheKinds.dataset,
  name: string,
  key: string,
  value: string,
) {
  await client.patch(kind.resource, namespace, name, 'merge', {
    metadata: { annotations: { [key]: value } },
  });
}

beforeAll(async () => {
  await installCrds();
  namespace = await createTestNamespace('retrain');
  irisCsv = await readFile(path.join(repoRoot, 'examples/data/iris.csv'), 'utf8');
  await store.write(info.minio.bucket, dataKey(), irisCsv);
  manager = startManager();
  await client.create(latheKinds.dataset.resource, {
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'Dataset',
    metadata: { name: 'iris', namespace },
    spec: {
      source: { s3: { bucket: info.minio.bucket, key: dataKey() } },
      schema: { label: 'species' },
    },
  });
  await eventually(
    async () => {
      const ds = await client.get<KubeObject>(latheKinds.dataset.resource, namespace, 'iris');
      expect(JSON.stringify(ds.status)).toContain('"VersionAvailable"');
    },
    { what: 'Dataset iris Ready', timeoutMs: 120_000 },
  );
});

afterAll(async () => {
  await manager?.stop();
  await deleteTestNamespace(namespace);
});

describe('RetrainPolicy', () => {
  it('shows a child name taken by an object Lathe does not manage as ChildConflict, and recovers once it goes', async () => {
    // An object of the name the policy's CronJob must have, which Lathe did not create.
    await client.create(builtin.cronJob, {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'taken-retrain', namespace },
      spec: {
        schedule: '0 0 1 1 *',
        suspend: true,
        jobTemplate: {
          spec: {
            template: {
              spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] },
            },
          },
        },
      },
    });
    await client.create(latheKinds.retrainPolicy.resource, {
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'RetrainPolicy',
      metadata: { name: 'taken', namespace, annotations: { [RUN_NOW_ANNOTATION]: 'now' } },
      spec: { template: template('poor'), triggers: { datasetChange: true } },
    });
    const ready = async () =>
      (await getPolicy('taken')).status?.conditions?.find((c) => c.type === 'Ready');
    const conflict = await eventually(
      async () => {
        const condition = await ready();
        expect(condition).toMatchObject({ status: 'False', reason: 'ChildConflict' });
        return condition!;
      },
      { what: 'taken shows the conflict', timeoutMs: 60_000 },
    );
    expect(conflict.message).toContain(`CronJob ${namespace}/taken-retrain`);
    expect(conflict.message).toContain('not managed by Lathe');
    // Nothing is started while the policy cannot record what it starts.
    expect(await runsOf('taken')).toEqual([]);
    const impostor = await client.get<KubeObject>(builtin.cronJob, namespace, 'taken-retrain');
    expect(impostor.metadata?.ownerReferences).toBeUndefined();

    await client.delete(builtin.cronJob, namespace, 'taken-retrain');
    await eventually(
      async () => expect(await ready()).toMatchObject({ status: 'True', reason: 'Watching' }),
      { what: 'taken Ready once the impostor is gone', timeoutMs: 120_000, intervalMs: 1_000 },
    );
    const cron = await client.get<KubeObject>(builtin.cronJob, namespace, 'taken-retrain');
    expect(cron.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('lathe');
    expect(cron.metadata?.ownerReferences?.[0]).toMatchObject({
      kind: 'RetrainPolicy',
      name: 'taken',
    });
    // Without a schedule trigger the CronJob never fires: it holds the triggers' record.
    expect((cron.spec as { suspend?: boolean }).suspend).toBe(true);
    // The request waited for the conflict; it is answered once, now.
    await eventually(async () =>
      expect(
        (await runsOf('taken')).map((tj) => tj.metadata.labels?.['lathe.dev/trigger']),
      ).toEqual(['manual']),
    );
    await client.delete(latheKinds.retrainPolicy.resource, namespace, 'taken');
  });

  it('leaves a user’s ServiceAccount of the trigger’s name untouched, and reports ChildConflict naming it', async () => {
    // The user's own ServiceAccount of the name the schedule trigger's pods run under, created
    // first, without Lathe's labels or an owner.
    const name = triggerIdentityName('sa-taken');
    const mine = await client.create<KubeObject>(builtin.serviceAccount, {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name, namespace, labels: { team: 'ml' }, annotations: { owner: 'me' } },
    });
    await client.create(latheKinds.retrainPolicy.resource, {
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'RetrainPolicy',
      metadata: { name: 'sa-taken', namespace },
      // A schedule trigger (never due) is what needs the ServiceAccount.
      spec: { template: template('poor'), triggers: { schedule: { cron: '0 0 1 1 *' } } },
    });
    const conflict = await eventually(
      async () => {
        const policy = await getPolicy('sa-taken');
        const ready = policy.status?.conditions?.find((c) => c.type === 'Ready');
        expect(
          ready,
          JSON.stringify(policy.status?.conditions?.map((c) => [c.type, c.reason, c.message])),
        ).toMatchObject({ status: 'False', reason: 'ChildConflict' });
        return ready!;
      },
      { what: 'sa-taken shows the conflict', timeoutMs: 60_000 },
    );
    expect(conflict.message).toContain(`ServiceAccount ${namespace}/${name}`);
    expect(conflict.message).toContain('not managed by Lathe');

    const unchanged = (sa: KubeObject) => {
      expect(sa.metadata?.uid).toBe(mine.metadata?.uid);
      // Not written at all: no label, owner or managed field added and then taken back.
      expect(sa.metadata?.resourceVersion).toBe(mine.metadata?.resourceVersion);
      expect(sa.metadata?.labels).toEqual({ team: 'ml' });
      expect(sa.metadata?.annotations).toEqual({ owner: 'me' });
      expect(sa.metadata?.ownerReferences).toBeUndefined();
    };
    unchanged(await client.get<KubeObject>(builtin.serviceAccount, namespace, name));
    // Nothing was bound to it either.
    await expect(client.get(builtin.roleBinding, namespace, name)).rejects.toSatisfy(isNotFound);

    // The policy goes; the ServiceAccount stays, still the user's.
    await client.delete(latheKinds.retrainPolicy.resource, namespace, 'sa-taken');
    await eventually(async () => expect(getPolicy('sa-taken')).rejects.toSatisfy(isNotFound), {
      what: 'sa-taken deleted',
    });
    unchanged(await client.get<KubeObject>(builtin.serviceAccount, namespace, name));
    await client.delete(builtin.serviceAccount, namespace, name);
  });

  it('promotes a first run (no champion), then a better challenger under traffic, and rejects a worse one', async () => {
    await client.create(latheKinds.retrainPolicy.resource, {
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'RetrainPolicy',
      metadata: { name: 'manual', namespace, annotations: { [RUN_NOW_ANNOTATION]: 'first' } },
      spec: {
        template: template('poor'),
        triggers: { datasetChange: true },
        promotion: { metric: 'accuracy', direction: 'maximize', minImprovement: 0.01 },
      },
    });
    const first = await eventually(
      async () => {
        const p = await getPolicy('manual');
        expect(p.status?.lastPromotion?.decision).toBe('Promoted');
        return p;
      },
      { what: 'the first run promoted', timeoutMs: 240_000 },
    );
    expect(first.status?.lastPromotion?.reason).toContain('no version is in production');
    const champion = first.status?.lastPromotion?.challenger.modelVersion ?? '';
    expect(await production()).toEqual([champion]);

    // Serve it, and keep a client busy through the next promotion.
    await client.create(latheKinds.inferenceService.resource, {
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'InferenceService',
      metadata: { name: 'iris', namespace },
      spec: { model: { name: 'iris' }, requestLogging: { sampleRate: 1 } },
    });
    const isvcReady = async () => {
      const isvc = await client.get<KubeObject>(
        latheKinds.inferenceService.resource,
        namespace,
        'iris',
      );
      const status = isvc.status as {
        conditions?: { type: string; status: string }[];
        servedVersions?: { modelVersion: string }[];
      };
      expect(status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
      return status;
    };
    await eventually(isvcReady, { what: 'iris served', timeoutMs: 120_000 });
    const svc = await client.get<KubeObject>(builtin.service, namespace, 'iris');
    const url = `http://${(svc.spec as { clusterIP: string }).clusterIP}/v1/models/iris:predict`;
    const row = { sepal_length: 5.9, sepal_width: 3.0, petal_length: 5.1, petal_width: 1.8 };
    let stop = false;
    const outcomes: boolean[] = [];
    const traffic = (async () => {
      while (!stop) {
        const ok = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ instances: [row] }),
          signal: AbortSignal.timeout(10_000),
        })
          .then((r) => r.ok)
          .catch(() => false);
        outcomes.push(ok);
      }
    })();
    try {
      await runWithTemplate('better', 'good');
      const better = await eventually(
        async () => {
          const p = await getPolicy('manual');
          expect(p.status?.lastPromotion?.challenger.modelVersion).not.toBe(champion);
          expect(p.status?.lastPromotion?.decision).toBe('Promoted');
          return p;
        },
        { what: 'the better challenger promoted', timeoutMs: 240_000 },
      );
      const promoted = better.status?.lastPromotion?.challenger.modelVersion ?? '';
      expect(better.status?.lastPromotion?.champion?.modelVersion).toBe(champion);
      expect(better.status?.lastPromotion?.reason).toContain('on the same test split');
      await eventually(
        async () =>
          expect((await isvcReady()).servedVersions?.map((v) => v.modelVersion)).toEqual([
            promoted,
          ]),
        { what: 'the service rolled to the promoted version', timeoutMs: 180_000 },
      );
    } finally {
      stop = true;
      await traffic;
    }
    expect(outcomes.length).toBeGreaterThan(20);
    expect(outcomes.filter((ok) => !ok)).toEqual([]);

    const before = await production();
    await runWithTemplate('worse', 'poor');
    const rejected = await eventually(
      async () => {
        const p = await getPolicy('manual');
        expect(p.status?.lastPromotion?.decision).toBe('Rejected');
        return p;
      },
      { what: 'the worse challenger rejected', timeoutMs: 240_000 },
    );
    expect(rejected.status?.lastPromotion?.reason).toContain('does not beat');
    expect(await production()).toEqual(before);
  });

  it('rebuilds the same status after it is wiped, starting no run and deciding nothing again', async () => {
    const before = await getPolicy('manual');
    expect(before.status?.lastPromotion?.decision).toBe('Rejected');
    const runNames = async () => (await runsOf('manual')).map((tj) => tj.metadata.name).sort();
    const decisions = async () =>
      (await mvs()).map((m) => [
        m.metadata.name,
        m.spec.stage,
        m.metadata.annotations?.['lathe.dev/promotion'],
      ]);
    const runsBefore = await runNames();
    const decisionsBefore = await decisions();

    const wiped = await client.patch<RetrainPolicyObject>(
      latheKinds.retrainPolicy.resource,
      namespace,
      'manual',
      'json',
      [{ op: 'remove', path: '/status' }],
      { subresource: 'status' },
    );
    expect(wiped.status?.lastPromotion).toBeUndefined();
    const fields = (p: RetrainPolicyObject) => ({
      lastPromotion: p.status?.lastPromotion,
      lastTrigger: p.status?.lastTrigger,
      lastTrainingJob: p.status?.lastTrainingJob,
      lastRunTime: p.status?.lastRunTime,
      lastDatasetVersion: p.status?.lastDatasetVersion,
      lastManualRun: p.status?.lastManualRun,
      active: p.status?.active,
      ready: p.status?.conditions?.find((c) => c.type === 'Ready')?.reason,
    });
    expect(fields(before).lastManualRun).toBe('worse');
    expect(fields(before).lastDatasetVersion).toBeDefined();
    await eventually(
      async () => expect(fields(await getPolicy('manual'))).toEqual(fields(before)),
      { what: 'the same status rebuilt', timeoutMs: 60_000 },
    );
    expect(await runNames()).toEqual(runsBefore);
    expect(await decisions()).toEqual(decisionsBefore);
  });

  it('starts exactly one run for a new dataset version, across an operator restart', async () => {
    const runsBefore = (await runsOf('manual')).length;
    const policy = await getPolicy('manual');
    const baseline = policy.status?.lastDatasetVersion;
    expect(baseline).toBeDefined();
    // New data: one more row, then ask the Dataset to read it.
    await store.write(
      info.minio.bucket,
      dataKey(),
      `${irisCsv.trimEnd()}\n6.1,3.0,4.6,1.4,versicolor\n`,
    );
    await annotate(latheKinds.dataset, 'iris', REFRESH_ANNOTATION, 'new-data');
    await eventually(
      async () => {
        const ds = await client.get<KubeObject>(latheKinds.dataset.resource, namespace, 'iris');
        expect((ds.status as { currentVersion?: string }).currentVersion).not.toBe(baseline);
      },
      { what: 'a new dataset version', timeoutMs: 120_000 },
    );
    await manager?.stop();
    manager = startManager();
    const run = await eventually(
      async () => {
        const runs = await runsOf('manual');
        const data = runs.filter(
          (tj) => tj.metadata.labels?.['lathe.dev/trigger'] === 'datasetChange',
        );
        expect(data).toHaveLength(1);
        return data[0]!;
      },
      { what: 'the dataset-change run', timeoutMs: 120_000 },
    );
    await manager.stop();
    manager = startManager();
    await eventually(async () =>
      expect((await getPolicy('manual')).status?.lastDatasetVersion).not.toBe(baseline),
    );
    const data = (await runsOf('manual')).filter(
      (tj) => tj.metadata.labels?.['lathe.dev/trigger'] === 'datasetChange',
    );
    expect(data.map((tj) => tj.metadata.name)).toEqual([run.metadata.name]);
    expect(run.spec.datasetRef.version).toBe(
      (await getPolicy('manual')).status?.lastDatasetVersion,
    );
    expect((await runsOf('manual')).length).toBeLessThanOrEqual(runsBefore + 1);

    // Its challenger is judged against the champion trained on the earlier version: the
    // champion's artifact is scored on the new version's test split by an evaluation Job.
    const judged = await eventually(
      async () => {
        const p = await getPolicy('manual');
        const challenger = (await mvs()).find(
          (m) => m.spec.lineage?.trainingJob?.name === run.metadata.name,
        );
        expect(challenger).toBeDefined();
        expect(p.status?.lastPromotion?.challenger.modelVersion).toBe(challenger?.metadata.name);
        return p;
      },
      { what: 'the dataset-change challenger judged', timeoutMs: 300_000 },
    );
    const decision = judged.status?.lastPromotion;
    expect(decision?.champion?.value).toBeGreaterThan(0.5);
    expect(decision?.reason).toContain('on the same test split');
    expect(decision?.reason).not.toContain('not compared');
  });

  it("runs on a schedule through the trigger's own identity, stops when suspended, and cleans up when deleted", async () => {
    await client.create(latheKinds.retrainPolicy.resource, {
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'RetrainPolicy',
      metadata: { name: 'cron', namespace },
      spec: {
        template: template('poor'),
        triggers: { schedule: { cron: '* * * * *' } },
        concurrencyPolicy: 'Allow',
      },
    });
    const scheduled = await eventually(
      async () => {
        const runs = await runsOf('cron');
        expect(runs.length).toBeGreaterThan(0);
        return runs[0]!;
      },
      { what: 'a scheduled run', timeoutMs: 150_000 },
    );
    expect(scheduled.metadata.labels?.['lathe.dev/trigger']).toBe('schedule');
    expect(scheduled.metadata.ownerReferences?.[0]).toMatchObject({
      kind: 'RetrainPolicy',
      name: 'cron',
    });
    // The next run is the next whole minute, and moves on as the schedule fires.
    const next = Date.parse((await getPolicy('cron')).status?.nextRunTime ?? '');
    expect(next % 60_000).toBe(0);
    expect(next - Date.now()).toBeLessThanOrEqual(60_000);
    const role = await client.get<KubeObject>(builtin.role, namespace, 'cron-retrain');
    expect(role.rules).toEqual([
      { apiGroups: ['lathe.dev'], resources: ['trainingjobs'], verbs: ['create', 'list'] },
    ]);

    await client.patch(latheKinds.retrainPolicy.resource, namespace, 'cron', 'merge', {
      spec: { suspend: true },
    });
    await eventually(async () => {
      const cron = await client.get<KubeObject>(builtin.cronJob, namespace, 'cron-retrain');
      expect((cron.spec as { suspend?: boolean }).suspend).toBe(true);
    });
    await annotate(latheKinds.retrainPolicy, 'cron', RUN_NOW_ANNOTATION, 'while-suspended');
    const count = (await runsOf('cron')).length;
    // A reconcile after the annotation has run once it shows in status (the status is rewritten
    // on each reconcile); a suspended policy records no manual run.
    await eventually(async () =>
      expect(
        (await getPolicy('cron')).status?.conditions?.find((c) => c.type === 'Ready')?.reason,
      ).toBe('Suspended'),
    );
    expect((await runsOf('cron')).length).toBe(count);
    expect((await getPolicy('cron')).status?.lastManualRun).toBeUndefined();
    expect((await getPolicy('cron')).status?.nextRunTime).toBeUndefined();

    await client.delete(latheKinds.retrainPolicy.resource, namespace, 'cron', {
      propagationPolicy: 'Foreground',
    });
    await eventually(
      async () => {
        for (const [kind, name] of [
          [builtin.cronJob, 'cron-retrain'],
          [builtin.role, 'cron-retrain'],
          [builtin.roleBinding, 'cron-retrain'],
          [builtin.serviceAccount, 'cron-retrain'],
        ] as const) {
          await expect(client.get(kind, namespace, name)).rejects.toSatisfy(isNotFound);
        }
      },
      { what: 'the CronJob and RBAC gone', timeoutMs: 60_000 },
    );
  });

  it('keeps the drift score low for training-like traffic, and retrains when the inputs shift', async () => {
    await client.create(latheKinds.inferenceService.resource, {
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'InferenceService',
      metadata: { name: 'drifty', namespace },
      spec: { model: { name: 'iris' }, requestLogging: { sampleRate: 1 } },
    });
    await eventually(
      async () => {
        const isvc = await client.get<KubeObject>(
          latheKinds.inferenceService.resource,
          namespace,
          'drifty',
        );
        expect(JSON.stringify(isvc.status)).toContain('"Serving"');
      },
      { what: 'drifty served', timeoutMs: 120_000 },
    );
    const svc = await client.get<KubeObject>(builtin.service, namespace, 'drifty');
    const url = `http://${(svc.spec as { clusterIP: string }).clusterIP}/v1/models/drifty:predict`;
    const lines = irisCsv.trim().split('\n').slice(1);
    const send = async (shift: number) => {
      for (const line of lines) {
        const [a, b, c, d] = line.split(',').map(Number);
        const instance = {
          sepal_length: a,
          sepal_width: b,
          petal_length: c! + shift,
          petal_width: d! + shift / 2,
        };
        const r = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ instances: [instance] }),
        });
        expect(r.ok).toBe(true);
      }
    };
    const sentFrom = new Date(Date.now() - 60_000);
    await send(0);
    // The server writes its sampled requests every 10 s: wait until they are in the store.
    await eventually(
      async () =>
        expect(
          (
            await sampledRecords(
              store,
              info.minio.bucket,
              namespace,
              'drifty',
              sentFrom,
              new Date(Date.now() + 60_000),
            )
          ).length,
        ).toBeGreaterThanOrEqual(lines.length),
      { what: 'the sampled requests written', timeoutMs: 60_000, intervalMs: 1_000 },
    );
    await createDriftPolicy('watch-drift', 'drifty', '1m');
    const calm = await eventually(
      async () => {
        const p = await getPolicy('watch-drift');
        expect(p.status?.lastDrift?.samples).toBeGreaterThanOrEqual(100);
        return p;
      },
      { what: 'the first drift measurement', timeoutMs: 60_000 },
    );
    expect(calm.status?.lastDrift?.value).toBeLessThan(0.5);
    expect(await runsOf('watch-drift')).toEqual([]);
    // The InferenceService shows the measurement too (its controller copies it).
    await eventually(
      async () => {
        const isvc = await client.get<KubeObject>(
          latheKinds.inferenceService.resource,
          namespace,
          'drifty',
        );
        expect(
          (isvc.status as { drift?: { value: number; retrainPolicy: string } }).drift,
        ).toMatchObject({ value: calm.status?.lastDrift?.value, retrainPolicy: 'watch-drift' });
      },
      { what: 'the drift shown on the InferenceService' },
    );

    await send(3);
    const drifted = await eventually(
      async () => {
        const p = await getPolicy('watch-drift');
        expect(p.status?.lastDrift?.value).toBeGreaterThan(0.5);
        return p;
      },
      { what: 'drift measured above the threshold', timeoutMs: 150_000, intervalMs: 2_000 },
    );
    expect(['petal_length', 'petal_width']).toContain(drifted.status?.lastDrift?.feature);
    await eventually(
      async () => {
        const runs = await runsOf('watch-drift');
        expect(runs.map((tj) => tj.metadata.labels?.['lathe.dev/trigger'])).toEqual(['drift']);
      },
      { what: 'a drift run', timeoutMs: 60_000 },
    );
  });

  it('looks again as soon as the service it watches serves, not a check interval later', async () => {
    await createDriftPolicy('early', 'late', '1h');
    await eventually(
      async () => {
        const ready = (await getPolicy('early')).status?.conditions?.find(
          (c) => c.type === 'Ready',
        );
        expect(ready).toMatchObject({ status: 'False', reason: 'InferenceServiceNotFound' });
      },
      { what: 'early blocked on its missing service', timeoutMs: 30_000 },
    );
    await client.create(latheKinds.inferenceService.resource, {
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'InferenceService',
      metadata: { name: 'late', namespace },
      spec: { model: { name: 'iris' } },
    });
    // Within the hour of its check interval: the service's own changes wake the policy.
    const measured = await eventually(
      async () => {
        const p = await getPolicy('early');
        expect(p.status?.lastDrift?.modelVersion).toMatch(/^iris-v\d+$/);
        return p;
      },
      { what: 'early measuring drift once late serves', timeoutMs: 120_000 },
    );
    expect(measured.status?.conditions?.find((c) => c.type === 'Ready')?.reason).not.toMatch(
      /InferenceServiceNotFound|NoReference/,
    );
  });

  it('retrains when the live accuracy on labelled feedback falls below the floor', async () => {
    // :feedback takes labels only with the bearer token of the Secret the service names.
    await client.create(builtin.secret, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'labelled-feedback', namespace },
      stringData: { token: 'labeller-token' },
    });
    await client.create(latheKinds.inferenceService.resource, {
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'InferenceService',
      metadata: { name: 'labelled', namespace },
      spec: {
        model: { name: 'iris' },
        requestLogging: { feedback: { tokenSecretRef: { name: 'labelled-feedback' } } },
      },
    });
    await eventually(
      async () => {
        const isvc = await client.get<KubeObject>(
          latheKinds.inferenceService.resource,
          namespace,
          'labelled',
        );
        expect(JSON.stringify(isvc.status)).toContain('"Serving"');
      },
      { what: 'labelled served', timeoutMs: 120_000 },
    );
    const svc = await client.get<KubeObject>(builtin.service, namespace, 'labelled');
    const base = `http://${(svc.spec as { clusterIP: string }).clusterIP}/v1/models/labelled`;
    for (const line of irisCsv.trim().split('\n').slice(1, 61)) {
      const [a, b, c, d, species] = line.split(',');
      const r = await fetch(`${base}:predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          instances: [{ sepal_length: +a!, sepal_width: +b!, petal_length: +c!, petal_width: +d! }],
        }),
      });
      expect(r.ok).toBe(true);
      const requestId = r.headers.get('x-request-id');
      // Ground truth that disagrees with the true species: the served model looks wrong.
      const wrong = species === 'setosa' ? 'virginica' : 'setosa';
      const labelled = await fetch(`${base}:feedback`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer labeller-token' },
        body: JSON.stringify({ request_id: requestId, labels: [wrong] }),
      });
      expect(labelled.status).toBe(202);
    }
    await client.create(latheKinds.retrainPolicy.resource, {
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'RetrainPolicy',
      metadata: { name: 'watch-accuracy', namespace },
      spec: {
        template: template('good'),
        triggers: {
          accuracy: {
            inferenceServiceRef: { name: 'labelled' },
            minimum: 0.5,
            minSamples: 50,
            checkInterval: '1m',
          },
        },
      },
    });
    const policy = await eventually(
      async () => {
        const p = await getPolicy('watch-accuracy');
        expect(p.status?.lastAccuracy?.samples, JSON.stringify(p.status)).toBe(60);
        return p;
      },
      { what: 'the live accuracy read', timeoutMs: 60_000 },
    );
    expect(policy.status?.lastAccuracy?.value).toBeLessThan(0.5);
    await eventually(
      async () =>
        expect(
          (await runsOf('watch-accuracy')).map((tj) => tj.metadata.labels?.['lathe.dev/trigger']),
        ).toEqual(['accuracy']),
      { what: 'an accuracy run', timeoutMs: 60_000 },
    );
  });
});
