import { describe, expect, it } from 'vitest';
import { evaluateSettingsFromEnv, trainSettingsFromEnv } from './env.js';

const base = {
  LATHE_TRAINING_JOB_NAMESPACE: 'ns',
  LATHE_TRAINING_JOB_NAME: 'iris-train',
  LATHE_DATASET_URI: 's3://lathe/datasets/ns/iris/abc/',
  LATHE_DATASET_VERSION: 'abc',
  LATHE_OUTPUT_URI: 's3://lathe/runs/ns/iris-train/artifact/',
  LATHE_RUN_URI: 's3://lathe/runs/ns/iris-train/',
  LATHE_TASK: 'classification',
  LATHE_MODEL: '{"architecture":"mlp","layers":[16,8]}',
  LATHE_HYPERPARAMETERS: '{"epochs":5,"batchSize":16,"earlyStopping":{}}',
  LATHE_OBJECT_STORE_ENDPOINT: 'http://127.0.0.1:9000',
  LATHE_OBJECT_STORE_ACCESS_KEY: 'access',
  LATHE_OBJECT_STORE_SECRET_KEY: 'secret',
};

describe('trainSettingsFromEnv', () => {
  it('reads the contract variables and applies the API defaults', () => {
    const settings = trainSettingsFromEnv(base);
    expect(settings).toMatchObject({
      namespace: 'ns',
      name: 'iris-train',
      task: 'classification',
      model: { architecture: 'mlp', layers: [16, 8], activation: 'relu', dropout: 0 },
      hyperparameters: {
        epochs: 5,
        batchSize: 16,
        learningRate: 0.001,
        optimizer: 'adam',
        validationSplit: 0.1,
        seed: 42,
        earlyStopping: { monitor: 'val_loss', patience: 5, minDelta: 0 },
      },
      backend: 'auto',
      gpus: 0,
      resultPath: '/dev/termination-log',
      objectStore: { endpoint: 'http://127.0.0.1:9000', bucket: 'lathe', region: 'us-east-1' },
    });
  });

  it('takes the backend, GPUs and result path when given', () => {
    const settings = trainSettingsFromEnv({
      ...base,
      LATHE_BACKEND: 'wasm',
      LATHE_GPUS: '2',
      LATHE_RESULT_PATH: '/tmp/result',
    });
    expect(settings).toMatchObject({ backend: 'wasm', gpus: 2, resultPath: '/tmp/result' });
  });

  it.each([
    [{ LATHE_TASK: 'clustering' }, 'LATHE_TASK'],
    [
      { LATHE_MODEL: '{"architecture":"mlp"}' },
      'LATHE_MODEL: layers: spec.model.builtin.layers is required',
    ],
    [{ LATHE_MODEL: 'not json' }, 'LATHE_MODEL: not JSON'],
    [{ LATHE_HYPERPARAMETERS: '{"batchSize":0}' }, 'LATHE_HYPERPARAMETERS: batchSize'],
    [{ LATHE_HYPERPARAMETERS: '{"optimizer":"lbfgs"}' }, 'LATHE_HYPERPARAMETERS: optimizer'],
    [{ LATHE_BACKEND: 'tpu' }, 'LATHE_BACKEND'],
    [{ LATHE_GPUS: '-1' }, 'LATHE_GPUS'],
    [{ LATHE_OUTPUT_URI: 'https://example.com/x/' }, 'LATHE_OUTPUT_URI: must be an s3://'],
    [{ LATHE_DATASET_URI: undefined }, 'LATHE_DATASET_URI'],
    [{ LATHE_OBJECT_STORE_SECRET_KEY: undefined }, 'LATHE_OBJECT_STORE_SECRET_KEY'],
  ])('names the bad variable: %o', (override, message) => {
    expect(() => trainSettingsFromEnv({ ...base, ...override })).toThrow(message);
  });

  it('never prints the value of a URI variable', () => {
    expect(() =>
      trainSettingsFromEnv({ ...base, LATHE_RUN_URI: 'https://user:password@host/' }),
    ).toThrow(/^(?![\s\S]*password)/);
  });
});

describe('evaluateSettingsFromEnv', () => {
  const evaluateBase = {
    LATHE_EVALUATE_MODEL_URI: 's3://lathe/models/ns/iris/3/',
    LATHE_EVALUATE_MODEL_DIGEST: `sha256:${'ab'.repeat(32)}`,
    LATHE_DATASET_URI: 's3://lathe/datasets/ns/iris/def/',
    LATHE_TASK: 'classification',
    LATHE_OBJECT_STORE_ENDPOINT: 'http://127.0.0.1:9000',
    LATHE_OBJECT_STORE_ACCESS_KEY: 'access',
    LATHE_OBJECT_STORE_SECRET_KEY: 'secret',
  };

  it('reads what the RetrainPolicy controller gives the evaluation Job', () => {
    expect(evaluateSettingsFromEnv(evaluateBase)).toMatchObject({
      modelUri: 's3://lathe/models/ns/iris/3/',
      modelDigest: `sha256:${'ab'.repeat(32)}`,
      datasetUri: 's3://lathe/datasets/ns/iris/def/',
      task: 'classification',
      backend: 'auto',
      gpus: 0,
      resultPath: '/dev/termination-log',
    });
  });

  it.each([
    [{ LATHE_EVALUATE_MODEL_URI: undefined }, 'LATHE_EVALUATE_MODEL_URI'],
    [{ LATHE_EVALUATE_MODEL_DIGEST: 'sha256:abc' }, 'LATHE_EVALUATE_MODEL_DIGEST: must be sha256:'],
    [{ LATHE_DATASET_URI: 'file:///data/' }, 'LATHE_DATASET_URI: must be an s3://'],
    [{ LATHE_TASK: undefined }, 'LATHE_TASK'],
    [{ LATHE_OBJECT_STORE_ENDPOINT: 'minio:9000' }, 'LATHE_OBJECT_STORE_ENDPOINT'],
  ])('names the bad variable: %o', (override, message) => {
    expect(() => evaluateSettingsFromEnv({ ...evaluateBase, ...override })).toThrow(message);
  });
});
