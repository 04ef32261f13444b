/**
 * The smallest valid manifest of each kind, and the spec the API must default it to. Shared by
 * the zod unit test and the API-server test, which checks the CRD applies the same defaults.
 */
import type { ExampleKind } from './examples.js';

interface DefaultsCase {
  manifest: Record<string, unknown>;
  /** The spec after defaulting, exactly. */
  defaultedSpec: Record<string, unknown>;
}

function manifest(kind: string, name: string, spec: Record<string, unknown>) {
  return { apiVersion: 'lathe.dev/v1alpha1', kind, metadata: { name }, spec };
}

export const minimalManifests: Record<ExampleKind, DefaultsCase> = {
  Dataset: {
    manifest: manifest('Dataset', 'minimal', {
      source: { http: { url: 'https://example.com/data.csv' } },
      schema: { label: 'y' },
    }),
    defaultedSpec: {
      source: { http: { url: 'https://example.com/data.csv' } },
      schema: { label: 'y' },
      format: 'csv',
      csv: { delimiter: ',', header: true },
      preparation: {
        missingValues: { numeric: 'mean', categorical: 'mostFrequent' },
        encodeCategoricals: 'oneHot',
        maxCategories: 50,
        scaleNumerics: 'standard',
      },
      split: { testFraction: 0.2, seed: 42, stratify: true },
      versionHistoryLimit: 10,
    },
  },
  TrainingJob: {
    manifest: manifest('TrainingJob', 'minimal', {
      datasetRef: { name: 'data' },
      model: { builtin: { architecture: 'linear' } },
      modelName: 'm',
    }),
    defaultedSpec: {
      datasetRef: { name: 'data' },
      model: {
        builtin: { architecture: 'linear', activation: 'relu', dropout: 0, backend: 'auto' },
      },
      modelName: 'm',
      hyperparameters: {
        epochs: 50,
        batchSize: 32,
        learningRate: 0.001,
        optimizer: 'adam',
        validationSplit: 0.1,
        seed: 42,
      },
      backoffLimit: 2,
      suspend: false,
    },
  },
  ModelVersion: {
    manifest: manifest('ModelVersion', 'm-v1', {
      modelName: 'm',
      version: 1,
      artifact: {
        uri: 's3://lathe/models/default/m/1/',
        format: 'tfjs',
        digest: `sha256:${'a'.repeat(64)}`,
      },
    }),
    defaultedSpec: {
      modelName: 'm',
      version: 1,
      artifact: {
        uri: 's3://lathe/models/default/m/1/',
        format: 'tfjs',
        digest: `sha256:${'a'.repeat(64)}`,
      },
      stage: 'none',
      deletionPolicy: 'Retain',
    },
  },
  InferenceService: {
    manifest: manifest('InferenceService', 'minimal', { model: { name: 'm' } }),
    defaultedSpec: {
      model: { name: 'm' },
      replicas: { min: 1, max: 1 },
      requestLogging: { sampleRate: 0, retentionDays: 30 },
      limits: {
        maxInFlight: 128,
        maxRowsPerRequest: 10_000,
        headersTimeoutSeconds: 10,
        bodyTimeoutSeconds: 30,
      },
    },
  },
  RetrainPolicy: {
    manifest: manifest('RetrainPolicy', 'minimal', {
      template: {
        spec: {
          datasetRef: { name: 'data' },
          model: { builtin: { architecture: 'linear' } },
          modelName: 'm',
        },
      },
      triggers: { schedule: { cron: '@daily' } },
    }),
    defaultedSpec: {
      template: {
        spec: {
          datasetRef: { name: 'data' },
          model: {
            builtin: { architecture: 'linear', activation: 'relu', dropout: 0, backend: 'auto' },
          },
          modelName: 'm',
          hyperparameters: {
            epochs: 50,
            batchSize: 32,
            learningRate: 0.001,
            optimizer: 'adam',
            validationSplit: 0.1,
            seed: 42,
          },
          backoffLimit: 2,
          suspend: false,
        },
      },
      triggers: { schedule: { cron: '@daily', timeZone: 'Etc/UTC' }, datasetChange: false },
      concurrencyPolicy: 'Forbid',
      successfulRunsHistoryLimit: 3,
      failedRunsHistoryLimit: 1,
      suspend: false,
    },
  },
  BatchPrediction: {
    manifest: manifest('BatchPrediction', 'minimal', {
      model: { name: 'm' },
      input: { s3: { key: 'sources/default/rows.csv' } },
    }),
    defaultedSpec: {
      model: { name: 'm' },
      input: {
        s3: {
          key: 'sources/default/rows.csv',
          format: 'csv',
          csv: { delimiter: ',', header: true },
        },
      },
      output: { format: 'jsonl', include: ['label', 'probabilities'] },
      parallelism: 2,
      retriesPerShard: 2,
      maxFailedRecordsPercent: 0,
    },
  },
};
