/**
 * One model's loop as the operator leaves it, for the lineage and decision-log tests: a
 * Dataset, a RetrainPolicy (drift trigger, promotion on accuracy), a first run by hand, a
 * second run the policy started on drift, their two ModelVersions (v2 promoted over v1), an
 * InferenceService serving v2 with v1 as canary, and a third run still going.
 */
import { condition, latheObject } from './objects.js';

const ns = 'team-a';
const promotion = JSON.stringify({
  time: '2026-12-07T11:30:00Z',
  decision: 'Promoted',
  metric: 'accuracy',
  challenger: { modelVersion: 'iris-v2', value: 0.97 },
  champion: { modelVersion: 'iris-v1', value: 0.93 },
  reason: 'accuracy 0.97 beats 0.93 + 0.01 (iris-v1 on the same test split)',
  datasetVersion: 'abcdef012345',
  policy: 'iris-retrain',
});

export const loop = {
  datasets: [
    latheObject('dataset', {
      namespace: ns,
      name: 'iris',
      status: {
        currentVersion: 'abcdef012345',
        conditions: [
          condition('Ready', 'True', 'Ready'),
          {
            ...condition('Validated', 'False', 'SchemaMismatch', 'column petal_width is missing'),
            lastTransitionTime: '2026-12-07T12:00:00Z',
          },
        ],
      },
    }),
  ],
  retrainPolicies: [
    latheObject('retrainPolicy', {
      namespace: ns,
      name: 'iris-retrain',
      spec: {
        template: {
          spec: {
            datasetRef: { name: 'iris' },
            model: { builtin: { architecture: 'linear' } },
            modelName: 'iris',
          },
        },
        triggers: { drift: { inferenceServiceRef: { name: 'iris' }, threshold: 0.2 } },
        promotion: { metric: 'accuracy', direction: 'maximize', minImprovement: 0.01 },
      },
      status: {
        lastDrift: {
          time: '2026-12-07T11:00:00Z',
          value: 0.31,
          feature: 'petal_width',
          samples: 200,
        },
      },
    }),
  ],
  trainingJobs: [
    latheObject('trainingJob', {
      namespace: ns,
      name: 'iris-1',
      spec: { modelName: 'iris' },
      creationTimestamp: '2026-12-07T10:00:00Z',
      status: {
        phase: 'Succeeded',
        datasetVersion: '0123456789ab',
        modelVersion: { name: 'iris-v1', version: 1 },
      },
    }),
    latheObject('trainingJob', {
      namespace: ns,
      name: 'iris-retrain-drift-1',
      spec: { modelName: 'iris' },
      creationTimestamp: '2026-12-07T11:01:00Z',
      labels: { 'lathe.dev/retrainpolicy': 'iris-retrain', 'lathe.dev/trigger': 'drift' },
      annotations: {
        'lathe.dev/reading-time': '2026-12-07T11:00:00Z',
        'lathe.dev/promotion': promotion,
      },
      status: {
        phase: 'Succeeded',
        datasetVersion: 'abcdef012345',
        modelVersion: { name: 'iris-v2', version: 2 },
      },
    }),
    latheObject('trainingJob', {
      namespace: ns,
      name: 'iris-retrain-manual-x',
      spec: { modelName: 'iris' },
      creationTimestamp: '2026-12-07T12:30:00Z',
      labels: { 'lathe.dev/retrainpolicy': 'iris-retrain', 'lathe.dev/trigger': 'manual' },
      annotations: { 'lathe.dev/run-now': 'x' },
      status: { phase: 'Running' },
    }),
  ],
  modelVersions: [
    latheObject('modelVersion', {
      namespace: ns,
      name: 'iris-v1',
      spec: {
        modelName: 'iris',
        version: 1,
        stage: 'archived',
        metrics: { accuracy: 0.93 },
        lineage: {
          dataset: { name: 'iris', version: '0123456789ab' },
          trainingJob: { name: 'iris-1' },
        },
      },
    }),
    latheObject('modelVersion', {
      namespace: ns,
      name: 'iris-v2',
      annotations: { 'lathe.dev/promotion': promotion },
      spec: {
        modelName: 'iris',
        version: 2,
        stage: 'production',
        metrics: { accuracy: 0.97 },
        lineage: {
          dataset: { name: 'iris', version: 'abcdef012345' },
          trainingJob: { name: 'iris-retrain-drift-1' },
        },
      },
      status: {
        conditions: [
          {
            ...condition('FairnessChecked', 'False', 'GateFailed', 'selection rate gap 0.3 > 0.1'),
            lastTransitionTime: '2026-12-07T11:20:00Z',
          },
        ],
      },
    }),
  ],
  inferenceServices: [
    latheObject('inferenceService', {
      namespace: ns,
      name: 'iris',
      spec: { model: { name: 'iris' }, canary: { version: 1, trafficPercent: 25 } },
      status: {
        conditions: [
          {
            ...condition('Ready', 'False', 'ServerCrashing', 'iris-v3 restarts; v2 keeps serving'),
            lastTransitionTime: '2026-12-07T12:10:00Z',
          },
        ],
        servedVersions: [
          {
            version: 2,
            modelVersion: 'iris-v2',
            role: 'primary',
            replicas: 3,
            readyReplicas: 3,
            trafficPercent: 75,
          },
          {
            version: 1,
            modelVersion: 'iris-v1',
            role: 'canary',
            replicas: 1,
            readyReplicas: 1,
            trafficPercent: 25,
          },
        ],
      },
    }),
  ],
};
