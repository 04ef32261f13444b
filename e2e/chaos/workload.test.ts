import { describe, expect, it } from 'vitest';
import { DatasetSchema } from '../../operator/src/api/dataset.js';
import { InferenceServiceSchema } from '../../operator/src/api/inferenceservice.js';
import { ModelVersionSchema } from '../../operator/src/api/modelversion.js';
import { TrainingJobSchema } from '../../operator/src/api/trainingjob.js';
import { type ChaosObject, chaosWorkload, workloadMix } from './workload.js';

const fixtureArtifact = {
  uri: 's3://lathe/models/ns/chaos-fixture/shared/',
  digest: `sha256:${'a'.repeat(64)}`,
};
const workload = (count: number) =>
  chaosWorkload({ namespace: 'ns', count, seed: 5, fixtureArtifact });

describe('workloadMix', () => {
  it.each([
    [4, { datasets: 1, trainingJobs: 1, inferenceServices: 1, modelVersions: 1 }],
    [48, { datasets: 2, trainingJobs: 4, inferenceServices: 1, modelVersions: 41 }],
    [1000, { datasets: 40, trainingJobs: 80, inferenceServices: 30, modelVersions: 850 }],
  ])('%i objects: %j', (count, mix) => {
    expect(workloadMix(count)).toEqual(mix);
  });

  it.each([
    [3, undefined, /count must be a whole number ≥ 4/],
    [10.5, undefined, /count must be a whole number ≥ 4/],
    [10, { datasets: 0.5, trainingJobs: 0.4, inferenceServices: 0.1 }, /leave no ModelVersion/],
  ])('rejects %s objects with shares %j', (count, shares, message) => {
    expect(() => workloadMix(count, shares)).toThrow(message);
  });
});

describe('chaosWorkload', () => {
  it.each([4, 48, 1000])('%i objects, each valid for its kind’s schema, names unique', (count) => {
    const objects = workload(count);
    expect(objects).toHaveLength(count);
    expect(new Set(objects.map((o) => `${o.kind}/${o.metadata.name}`)).size).toBe(count);
    const schemas = {
      Dataset: DatasetSchema,
      TrainingJob: TrainingJobSchema,
      ModelVersion: ModelVersionSchema,
      InferenceService: InferenceServiceSchema,
    };
    for (const object of objects) {
      const parsed = schemas[object.kind].safeParse(object);
      expect(parsed.error?.issues ?? [], `${object.kind} ${object.metadata.name}`).toEqual([]);
    }
  });

  it('creates every TrainingJob after the Dataset it trains on', () => {
    const objects = workload(1000);
    const position = new Map(objects.map((o, i) => [`${o.kind}/${o.metadata.name}`, i]));
    for (const tj of objects.filter((o) => o.kind === 'TrainingJob')) {
      const dataset = (tj.spec.datasetRef as { name: string }).name;
      expect(position.get(`Dataset/${dataset}`)).toBeLessThan(
        position.get(`TrainingJob/${tj.metadata.name}`)!,
      );
    }
  });

  it('interleaves the kinds: each quarter of the run has objects of every kind', () => {
    const objects = workload(1000);
    for (let q = 0; q < 4; q++) {
      const kinds = new Set(objects.slice(q * 250, (q + 1) * 250).map((o) => o.kind));
      expect([...kinds].sort()).toEqual([
        'Dataset',
        'InferenceService',
        'ModelVersion',
        'TrainingJob',
      ]);
    }
  });

  it('serves only models some TrainingJob trains, and trains each model twice', () => {
    const objects = workload(1000);
    const of = (kind: ChaosObject['kind']) => objects.filter((o) => o.kind === kind);
    const trained = of('TrainingJob').map((o) => o.spec.modelName as string);
    for (const isvc of of('InferenceService'))
      expect(trained).toContain((isvc.spec.model as { name: string }).name);
    const runsPerModel = new Map<string, number>();
    for (const model of trained) runsPerModel.set(model, (runsPerModel.get(model) ?? 0) + 1);
    expect(new Set(runsPerModel.values())).toEqual(new Set([2]));
  });

  it('labels every object with the run’s seed', () => {
    expect(new Set(workload(48).map((o) => o.metadata.labels['lathe.dev/chaos-run']))).toEqual(
      new Set(['5']),
    );
  });
});
