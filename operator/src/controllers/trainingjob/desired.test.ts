import { describe, expect, it } from 'vitest';
import {
  type TrainingJob,
  type TrainingJobInput,
  TrainingJobSchema,
} from '../../api/trainingjob.js';
import { programView } from '../shared/kubelet-expansion.js';
import {
  canonicalJson,
  desiredModelVersion,
  desiredTrainingJob,
  extraHyperparameterVariable,
  hyperparameterStrings,
  trainingJobName,
  trainingSpecHash,
} from './desired.js';

const store = {
  endpoint: 'http://minio:9000',
  bucket: 'lathe',
  region: 'us-east-1',
  accessKey: 'AK',
  secretKey: 'SK',
};
const owner = {
  apiVersion: 'lathe.dev/v1alpha1',
  kind: 'TrainingJob',
  name: 't',
  uid: 'u',
  controller: true,
  blockOwnerDeletion: true,
};
const run = {
  datasetVersion: 'abcdefabcdef1234',
  datasetUri: 's3://lathe/datasets/ns/iris/abcdefabcdef1234/',
  runUri: 's3://lathe/runs/ns/t/',
  outputUri: 's3://lathe/runs/ns/t/artifact/',
  task: 'classification' as const,
};

function trainingJob(spec: Partial<TrainingJobInput['spec']> = {}): TrainingJob {
  return TrainingJobSchema.parse({
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'TrainingJob',
    metadata: { name: 't', namespace: 'ns', uid: 'u', generation: 3 },
    spec: {
      datasetRef: { name: 'iris' },
      model: { builtin: { architecture: 'mlp', layers: [16, 8] } },
      modelName: 'iris',
      hyperparameters: { epochs: 20, extra: { 'warmup-steps': '10' } },
      ...spec,
    },
  });
}

const job = (tj: TrainingJob) =>
  desiredTrainingJob(tj, run, { image: 'trainer:1', gpuImage: 'trainer-gpu:1', store, owner });
const container = (tj: TrainingJob) => job(tj).spec?.template.spec?.containers[0];
const env = (tj: TrainingJob) =>
  Object.fromEntries((container(tj)?.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));

describe('desiredTrainingJob', () => {
  it('runs the CPU trainer with the contract environment, and no credential in the spec', () => {
    const tj = trainingJob();
    const j = job(tj);
    expect(j.metadata?.name).toBe(trainingJobName(tj));
    expect(j.metadata?.name).toMatch(/^t-train-[0-9a-f]{8}$/);
    expect(j.spec?.suspend).toBe(false);
    expect(container(tj)?.image).toBe('trainer:1');
    expect(env(tj)).toMatchObject({
      LATHE_DATASET_URI: run.datasetUri,
      LATHE_OUTPUT_URI: run.outputUri,
      LATHE_TASK: 'classification',
      LATHE_BACKEND: 'auto',
      LATHE_GPUS: '0',
      LATHE_HP_WARMUP_STEPS: '10',
      LATHE_OBJECT_STORE_ACCESS_KEY: {
        secretKeyRef: { name: 't-train-store', key: 'accessKey' },
      },
    });
    expect(JSON.parse(String(env(tj).LATHE_MODEL))).toEqual({
      architecture: 'mlp',
      layers: [16, 8],
      activation: 'relu',
      dropout: 0,
    });
    expect(JSON.stringify(j)).not.toContain('secret-9f3');
    expect(JSON.stringify(j)).not.toContain('access-9f3');
    expect(container(tj)?.resources?.limits).toEqual({ memory: '2Gi' });
    expect(j.spec?.template.spec?.tolerations).toBeUndefined();
    expect(j.spec?.template.spec?.securityContext?.runAsNonRoot).toBe(true);
    expect(j.metadata?.labels).toMatchObject({ 'lathe.dev/trainingjob': 't' });
  });

  it('passes spec.fairness and spec.modelCard as JSON, and nothing when they are unset', () => {
    expect(env(trainingJob()).LATHE_FAIRNESS).toBeUndefined();
    expect(env(trainingJob()).LATHE_MODEL_CARD).toBeUndefined();
    const fairness = {
      minGroupSize: 10,
      intersections: false,
      rules: [{ metric: 'equalizedOddsDifference' as const, op: '<=' as const, value: 0.1 }],
    };
    const tj = trainingJob({ fairness, modelCard: { intendedUse: 'Triage' } });
    expect(JSON.parse(String(env(tj).LATHE_FAIRNESS))).toEqual(fairness);
    expect(JSON.parse(String(env(tj).LATHE_MODEL_CARD))).toEqual({ intendedUse: 'Triage' });
  });

  it('asks for GPUs with the GPU image, the toleration and the scheduling fields', () => {
    const tj = trainingJob({
      resources: { gpu: 2, memory: '4Gi' },
      nodeSelector: { 'nvidia.com/gpu.product': 'H100' },
      priorityClassName: 'training',
      activeDeadlineSeconds: 600,
      backoffLimit: 1,
    });
    const j = job(tj);
    expect(container(tj)?.image).toBe('trainer-gpu:1');
    expect(container(tj)?.resources?.limits).toEqual({ memory: '4Gi', 'nvidia.com/gpu': '2' });
    expect(j.spec?.template.spec?.tolerations).toEqual([
      { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
    ]);
    expect(j.spec).toMatchObject({ backoffLimit: 1, activeDeadlineSeconds: 600 });
    expect(j.spec?.template.spec).toMatchObject({
      nodeSelector: { 'nvidia.com/gpu.product': 'H100' },
      priorityClassName: 'training',
    });
    expect(env(tj).LATHE_GPUS).toBe('2');
  });

  it('runs a custom image with its command, and no built-in model', () => {
    const tj = trainingJob({
      model: {
        custom: {
          image: 'ghcr.io/me/sklearn:1',
          command: ['python', 'train.py'],
          env: [{ name: 'X', value: '1' }],
        },
      },
    });
    expect(container(tj)).toMatchObject({
      image: 'ghcr.io/me/sklearn:1',
      command: ['python', 'train.py'],
    });
    expect(env(tj).LATHE_MODEL).toBeUndefined();
    expect(env(tj).X).toBe('1');
  });

  it.each([
    { queueName: undefined, suspend: false, label: undefined, suspended: false },
    { queueName: undefined, suspend: true, label: undefined, suspended: true },
    { queueName: 'team-a', suspend: false, label: 'team-a', suspended: true },
  ])(
    'queueName $queueName, suspend $suspend: Kueue label $label, created suspended $suspended',
    (c) => {
      const created = job(trainingJob({ queueName: c.queueName, suspend: c.suspend }));
      expect(created.metadata?.labels?.['kueue.x-k8s.io/queue-name']).toBe(c.label);
      expect(created.spec?.suspend).toBe(c.suspended);
    },
  );

  it.each([
    ['lr', 'LATHE_HP_LR'],
    ['warmup-steps', 'LATHE_HP_WARMUP_STEPS'],
    ['a.b', 'LATHE_HP_A_B'],
  ])('names the extra hyperparameter %s %s', (name, variable) => {
    expect(extraHyperparameterVariable(name)).toBe(variable);
  });
});

describe('trainingJobName', () => {
  const base = trainingJob();
  const name = trainingJobName(base);
  const withSpec = (spec: Partial<TrainingJobInput['spec']>, metadata = {}) =>
    trainingJobName({ ...trainingJob(spec), metadata: { ...base.metadata, ...metadata } });

  it.each<[string, Partial<TrainingJobInput['spec']>, object]>([
    ['suspending it (the generation moves on)', { suspend: true }, { generation: 4 }],
    ['a time to live after it finishes', { ttlSecondsAfterFinished: 60 }, { generation: 5 }],
    ['a new generation alone', {}, { generation: 9 }],
    ['the defaults written out', { backoffLimit: 2 }, {}],
  ])('keeps the same Job for %s', (_, spec, metadata) => {
    expect(withSpec(spec, metadata)).toBe(name);
  });

  it.each<[string, Partial<TrainingJobInput['spec']>]>([
    ['other hyperparameters', { hyperparameters: { epochs: 21 } }],
    ['another model', { model: { builtin: { architecture: 'linear' } } }],
    ['a pinned dataset version', { datasetRef: { name: 'iris', version: 'abcdefabcdef1234' } }],
    ['other resources', { resources: { gpu: 1 } }],
    ['another deadline', { activeDeadlineSeconds: 60 }],
    ['another model name', { modelName: 'iris2' }],
  ])('names a new Job for %s', (_, spec) => {
    expect(withSpec(spec)).not.toBe(name);
  });

  it('cuts a long TrainingJob name to a valid label value', () => {
    const long = trainingJobName({
      ...base,
      metadata: { ...base.metadata, name: 'x'.repeat(63) },
    });
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).toMatch(/-train-[0-9a-f]{8}$/);
  });
});

describe('canonicalJson', () => {
  it.each<[string, unknown, unknown]>([
    ['key order', { a: 1, b: { c: 2, d: 3 } }, { b: { d: 3, c: 2 }, a: 1 }],
    ['undefined fields', { a: 1, b: undefined }, { a: 1 }],
    ['arrays keep their order', [1, { y: 1, x: 2 }], [1, { x: 2, y: 1 }]],
  ])('ignores %s', (_, a, b) => {
    expect(canonicalJson(a)).toBe(canonicalJson(b));
  });

  it('tells different arrays apart', () => {
    expect(canonicalJson([1, 2])).not.toBe(canonicalJson([2, 1]));
  });

  it('hashes a spec to 8 hex digits', () => {
    expect(trainingSpecHash(trainingJob().spec)).toMatch(/^[0-9a-f]{8}$/);
  });
});

describe('desiredModelVersion', () => {
  it('records the artifact, metrics, hyperparameters and lineage of the run', () => {
    const tj = trainingJob();
    const mv = desiredModelVersion(
      tj,
      {
        kind: 'train',
        outcome: 'succeeded',
        artifact: {
          uri: 's3://lathe/runs/ns/t/artifact/',
          digest: `sha256:${'a'.repeat(64)}`,
          format: 'tfjs',
        },
        metrics: { accuracy: 0.96, loss: 0.1 },
        backend: 'tensorflow',
        epochs: 20,
      },
      {
        version: 4,
        artifactUri: 's3://lathe/models/ns/iris/4/',
        datasetVersion: run.datasetVersion,
      },
    );
    expect(mv.metadata?.name).toBe('iris-v4');
    expect(mv.metadata?.labels).toMatchObject({ 'lathe.dev/trainingjob-uid': 'u' });
    expect(mv.spec).toMatchObject({
      modelName: 'iris',
      version: 4,
      artifact: { uri: 's3://lathe/models/ns/iris/4/', format: 'tfjs' },
      metrics: { accuracy: 0.96 },
      lineage: {
        dataset: { name: 'iris', version: run.datasetVersion },
        trainingJob: { name: 't', uid: 'u', backend: 'tensorflow' },
      },
    });
    expect(hyperparameterStrings(tj)).toMatchObject({
      epochs: '20',
      layers: '16,8',
      'warmup-steps': '10',
    });
  });
});

describe('desiredTrainingJob: user text reaches the trainer literally', () => {
  const reference = '$(LATHE_OBJECT_STORE_SECRET_KEY)';
  const secretOf = (name: string) =>
    name === 'LATHE_OBJECT_STORE_SECRET_KEY' ? 'the-operator-secret' : `<${name}>`;

  it('extra hyperparameters are not expanded by the kubelet', () => {
    const tj = trainingJob({
      model: { builtin: { architecture: 'mlp', layers: [4], activation: 'relu' } },
      hyperparameters: { epochs: 1, extra: { note: reference, price: '$5 and $$' } },
    });
    const view = programView(container(tj)!, secretOf);
    expect(view.env.LATHE_HP_NOTE).toBe(reference);
    expect(view.env.LATHE_HP_PRICE).toBe('$5 and $$');
    const { LATHE_OBJECT_STORE_SECRET_KEY: secret, ...others } = view.env;
    expect(secret).toBe('the-operator-secret');
    expect(JSON.stringify(others)).not.toContain('the-operator-secret');
  });

  it('a custom image’s command, args and env arrive as written', () => {
    const tj = trainingJob({
      model: {
        custom: {
          image: 'ghcr.io/me/dump:1',
          command: ['echo', reference],
          args: ['--key=$(LATHE_OBJECT_STORE_ACCESS_KEY)', '$$(X)'],
          env: [{ name: 'LEAK', value: reference }],
        },
      },
    });
    const view = programView(container(tj)!, secretOf);
    expect(view.command).toEqual(['echo', reference]);
    expect(view.args).toEqual(['--key=$(LATHE_OBJECT_STORE_ACCESS_KEY)', '$$(X)']);
    expect(view.env.LEAK).toBe(reference);
    expect(container(tj)?.args).toEqual(['--key=$$(LATHE_OBJECT_STORE_ACCESS_KEY)', '$$$$(X)']);
  });
});
