/**
 * ModelVersions as the console's cache holds them, for the model pages' unit tests: a model
 * `iris` in namespace `team-a`, version n trained by TrainingJob `iris-run-n`.
 */
import type { ModelVersionObject } from '../../operator/src/controllers/lathe-kinds.js';

type Overrides = {
  metrics?: Record<string, number>;
  hyperparameters?: Record<string, string>;
  stage?: ModelVersionObject['spec']['stage'];
  status?: ModelVersionObject['status'];
  annotations?: Record<string, string>;
  created?: string;
};

/** Version `version` of `iris`, with what `overrides` sets. */
export function modelVersionFixture(
  version: number,
  overrides: Overrides = {},
): ModelVersionObject {
  return {
    apiVersion: 'lathe.dev/v1alpha1',
    kind: 'ModelVersion',
    metadata: {
      name: `iris-v${version}`,
      namespace: 'team-a',
      uid: `uid-${version}`,
      creationTimestamp: overrides.created ?? `2026-12-0${Math.min(version, 9)}T10:00:00Z`,
      ...(overrides.annotations ? { annotations: overrides.annotations } : {}),
    },
    spec: {
      modelName: 'iris',
      version,
      artifact: {
        uri: `s3://lathe/models/team-a/iris/${version}/`,
        format: 'tfjs',
        digest: `sha256:${'a'.repeat(64)}`,
      },
      metrics: overrides.metrics ?? { accuracy: 0.9, loss: 0.3 },
      hyperparameters: overrides.hyperparameters ?? { epochs: '20', learningRate: '0.01' },
      lineage: {
        dataset: { name: 'iris', version: String(version).padStart(12, '0') },
        trainingJob: { name: `iris-run-${version}`, backend: 'tensorflow' },
      },
      stage: overrides.stage ?? 'none',
      deletionPolicy: 'Retain',
    },
    ...(overrides.status ? { status: overrides.status } : {}),
  } as ModelVersionObject;
}
