/**
 * The manifests in `examples/`, loaded for tests: they are the valid base every invalid case
 * is derived from, so the corpus stays realistic as the examples evolve.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const examplesDir = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../../examples',
);

/** The example manifest of each kind, by file. */
export const exampleFiles = {
  Dataset: 'dataset-iris.yaml',
  TrainingJob: 'trainingjob-iris.yaml',
  ModelVersion: 'registry/modelversion-iris.yaml',
  InferenceService: 'inferenceservice-iris.yaml',
  RetrainPolicy: 'retrainpolicy-iris.yaml',
  BatchPrediction: 'batchprediction-iris.yaml',
} as const;
export type ExampleKind = keyof typeof exampleFiles;

/** Further example manifests (another variant of a kind), by file. */
export const moreExampleFiles: Record<string, ExampleKind> = {
  'dataset-diabetes.yaml': 'Dataset',
  'dataset-diabetes-parquet.yaml': 'Dataset',
  'dataset-iris-feedback.yaml': 'Dataset',
  'trainingjob-iris-sklearn.yaml': 'TrainingJob',
  'trainingjob-iris-pytorch.yaml': 'TrainingJob',
  'inferenceservice-iris-sklearn.yaml': 'InferenceService',
  'inferenceservice-iris-torch.yaml': 'InferenceService',
};

/** A fresh copy of the example manifest in `file`. */
export function loadExampleFile(file: string): Record<string, unknown> {
  return parse(readFileSync(path.join(examplesDir, file), 'utf8')) as Record<string, unknown>;
}

/** A fresh copy of the example manifest of `kind`. */
export function loadExample(kind: ExampleKind): Record<string, unknown> {
  return parse(readFileSync(path.join(examplesDir, exampleFiles[kind]), 'utf8')) as Record<
    string,
    unknown
  >;
}
