import { describe, expect, it } from 'vitest';
import { retrainPolicyFixture } from '../../../../e2e/testing/retrain-policy.js';
import type { RetrainPolicy } from '../../api/retrainpolicy.js';
import type { ModelVersionObject } from '../lathe-kinds.js';
import { programView } from '../shared/kubelet-expansion.js';
import {
  cronJobName,
  desiredCronJob,
  desiredEvaluationJob,
  desiredRun,
  runName,
  triggerIdentity,
} from './desired.js';

function policy(spec: Record<string, unknown> = {}, name = 'iris-nightly'): RetrainPolicy {
  return retrainPolicyFixture({
    metadata: { name, namespace: 'ml', uid: 'uid-1' },
    templateMetadata: { labels: { team: 'ml' }, annotations: { note: 'n' } },
    spec,
  });
}

const owner = {
  apiVersion: 'lathe.dev/v1alpha1',
  kind: 'RetrainPolicy',
  name: 'iris-nightly',
  uid: 'uid-1',
  controller: true,
  blockOwnerDeletion: true,
};

describe('desiredCronJob', () => {
  it.each<
    [string, Record<string, unknown>, { schedule: string; timeZone: string; suspend: boolean }]
  >([
    [
      'a schedule trigger fires on its schedule',
      { triggers: { schedule: { cron: '0 3 * * *', timeZone: 'Europe/Paris' } } },
      { schedule: '0 3 * * *', timeZone: 'Europe/Paris', suspend: false },
    ],
    [
      'a suspended policy suspends it',
      { triggers: { schedule: { cron: '0 3 * * *' } }, suspend: true },
      { schedule: '0 3 * * *', timeZone: 'Etc/UTC', suspend: true },
    ],
    [
      'without a schedule trigger it never fires: it only holds the record',
      {},
      { schedule: '0 0 1 1 *', timeZone: 'Etc/UTC', suspend: true },
    ],
  ])('%s', (_name, spec, want) => {
    const cron = desiredCronJob(policy(spec), { image: 'img', owner, record: {} });
    expect(cron.spec).toMatchObject(want);
  });

  it('carries the record, the owner, the labels, and the run as its pod reads it', () => {
    const p = policy({ triggers: { schedule: { cron: '* * * * *' } } });
    const cron = desiredCronJob(p, {
      image: 'ghcr.io/lathe-dev/lathe-retrain:1',
      owner,
      record: { 'lathe.dev/acted-on-run-now': 'go' },
    });
    expect(cron.metadata).toMatchObject({
      name: 'iris-nightly-retrain',
      namespace: 'ml',
      annotations: { 'lathe.dev/acted-on-run-now': 'go' },
      labels: {
        'app.kubernetes.io/managed-by': 'lathe',
        'lathe.dev/retrainpolicy': 'iris-nightly',
      },
      ownerReferences: [owner],
    });
    const pod = cron.spec?.jobTemplate.spec?.template.spec;
    expect(pod?.serviceAccountName).toBe('iris-nightly-retrain');
    const env = Object.fromEntries(
      (pod?.containers[0]?.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]),
    );
    expect(env).toMatchObject({
      LATHE_RETRAIN_NAMESPACE: 'ml',
      LATHE_RETRAIN_POLICY: 'iris-nightly',
      LATHE_RETRAIN_POLICY_UID: 'uid-1',
      LATHE_CONCURRENCY_POLICY: 'Forbid',
    });
    expect(JSON.parse(env.LATHE_TRAINING_TEMPLATE as string)).toEqual(p.spec.template);
    // The record lives on the CronJob, not on its Jobs: writing it starts nothing.
    expect(cron.spec?.jobTemplate.metadata?.annotations).toBeUndefined();
  });

  it('is named within the 52 characters a CronJob allows', () => {
    expect(cronJobName('p'.repeat(60)).length).toBeLessThanOrEqual(52);
  });
});

describe('triggerIdentity', () => {
  it('lets the trigger create and list TrainingJobs, and nothing else', () => {
    const identity = triggerIdentity(policy(), owner);
    expect(identity.role.rules).toEqual([
      { apiGroups: ['lathe.dev'], resources: ['trainingjobs'], verbs: ['create', 'list'] },
    ]);
    expect(identity.roleBinding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'iris-nightly-retrain', namespace: 'ml' },
    ]);
    expect(identity.serviceAccount.automountServiceAccountToken).toBe(false);
  });
});

describe('runName', () => {
  it.each([
    ['datasetChange', 'v1', /^iris-nightly-data-[0-9a-f]{8}$/],
    ['manual', 'go', /^iris-nightly-manual-[0-9a-f]{8}$/],
    ['drift', '2026-01-01T00:00:00Z', /^iris-nightly-drift-[0-9a-f]{8}$/],
    ['accuracy', '2026-01-01T00:00:00Z', /^iris-nightly-accuracy-[0-9a-f]{8}$/],
  ] as const)('a %s run for %s', (trigger, token, pattern) => {
    expect(runName('iris-nightly', trigger, token)).toMatch(pattern);
    expect(runName('iris-nightly', trigger, token)).toBe(runName('iris-nightly', trigger, token));
    expect(runName('iris-nightly', trigger, token)).not.toBe(runName('iris-nightly', trigger, 'x'));
  });
});

describe('desiredRun', () => {
  it.each([
    [
      'a datasetChange run is pinned to its version and says so',
      { name: 'r', trigger: 'datasetChange' as const, datasetVersion: 'v2' },
      { 'lathe.dev/dataset-version': 'v2' },
      'v2',
    ],
    [
      'a manual run names the request it answered',
      { name: 'r', trigger: 'manual' as const, manualRequest: 'go' },
      { 'lathe.dev/run-now': 'go' },
      undefined,
    ],
    [
      'a drift run names its reading',
      { name: 'r', trigger: 'drift' as const, readingTime: '2026-01-01T00:00:00Z' },
      { 'lathe.dev/reading-time': '2026-01-01T00:00:00Z' },
      undefined,
    ],
  ])('%s', (_name, run, annotations, version) => {
    const tj = desiredRun(policy(), run);
    expect(tj.metadata).toMatchObject({
      name: 'r',
      namespace: 'ml',
      labels: {
        team: 'ml',
        'lathe.dev/retrainpolicy': 'iris-nightly',
        'lathe.dev/trigger': run.trigger,
      },
      annotations: { note: 'n', ...annotations },
      ownerReferences: [
        { kind: 'RetrainPolicy', uid: 'uid-1', controller: true, blockOwnerDeletion: true },
      ],
    });
    expect(tj.spec.datasetRef).toEqual({ name: 'iris', ...(version ? { version } : {}) });
    expect(tj.spec.modelName).toBe('iris');
  });
});

/** The evaluation Job of `champion` on version v2 of the iris dataset. */
const evaluationJob = (
  champion: ModelVersionObject,
  more: Partial<Parameters<typeof desiredEvaluationJob>[1]> = {},
) =>
  desiredEvaluationJob(policy(), {
    name: 'iris-nightly-eval-1',
    champion,
    datasetUri: 's3://b/datasets/ml/iris/v2/',
    task: 'classification',
    image: 'trainer',
    store: { endpoint: 'http://minio', bucket: 'b', region: 'r', accessKey: 'a', secretKey: 's' },
    owner,
    ...more,
  });

describe('desiredEvaluationJob', () => {
  it('scores the champion on the dataset version, naming the challenger', () => {
    const champion = {
      metadata: { name: 'iris-v1' },
      spec: { artifact: { uri: 's3://b/models/iris/1/', digest: 'sha256:abc' } },
    } as unknown as ModelVersionObject;
    const job = evaluationJob(champion, { challenger: 'iris-v2' });
    expect(job.metadata?.annotations).toEqual({ 'lathe.dev/challenger': 'iris-v2' });
    const env = Object.fromEntries(
      (job.spec?.template.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]),
    );
    expect(env).toMatchObject({
      LATHE_EVALUATE_MODEL_URI: 's3://b/models/iris/1/',
      LATHE_EVALUATE_MODEL_DIGEST: 'sha256:abc',
      LATHE_DATASET_URI: 's3://b/datasets/ml/iris/v2/',
    });
    expect(job.spec?.template.spec?.containers[0]?.args).toEqual(['evaluate']);
    expect(env.LATHE_FAIRNESS).toBeUndefined();
    const fairness = {
      minGroupSize: 30,
      intersections: true,
      rules: [{ metric: 'demographicParityRatio' as const, noWorseThanChampionBy: 0.05 }],
    };
    const withFairness = evaluationJob(champion, { fairness });
    const variable = withFairness.spec?.template.spec?.containers[0]?.env?.find(
      (e) => e.name === 'LATHE_FAIRNESS',
    );
    expect(JSON.parse(variable?.value ?? '')).toEqual(fairness);
  });
});

describe('RetrainPolicy children: user text reaches the programs literally', () => {
  const reference = '$(LATHE_OBJECT_STORE_SECRET_KEY)';

  it('the template’s hyperparameters reach the retrain trigger as written', () => {
    const p = policy();
    (p.spec.template.spec as { hyperparameters?: unknown }).hyperparameters = {
      // The trigger's pod has no credential, but its policy's name is a variable it defines.
      extra: { note: reference, policy: '$(LATHE_RETRAIN_POLICY)' },
    };
    const cron = desiredCronJob(p, { image: 'img', owner, record: {} });
    const container = cron.spec!.jobTemplate.spec!.template.spec!.containers[0]!;
    const view = programView(container, () => 'the-operator-secret');
    expect(JSON.parse(view.env.LATHE_TRAINING_TEMPLATE ?? '')).toEqual(
      JSON.parse(JSON.stringify(p.spec.template)),
    );
    expect(view.env.LATHE_TRAINING_TEMPLATE).toContain('"policy":"$(LATHE_RETRAIN_POLICY)"');
  });

  it('the champion’s artifact URI reaches the evaluation as written', () => {
    const uri = `s3://b/models/ml/${reference}/1/`;
    const champion = {
      metadata: { name: 'iris-v1' },
      spec: { artifact: { uri, digest: 'sha256:abc' } },
    } as unknown as ModelVersionObject;
    const job = evaluationJob(champion);
    const view = programView(job.spec!.template.spec!.containers[0]!, () => 'the-operator-secret');
    expect(view.env.LATHE_EVALUATE_MODEL_URI).toBe(uri);
  });
});
