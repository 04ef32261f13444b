/**
 * The Lathe API, `lathe.dev/v1alpha1`: the six kinds, their zod schemas (the runtime parser),
 * their TypeScript types and their descriptors (names, printer columns, subresources).
 *
 * Parse objects from the cluster with the kind's schema (`DatasetSchema.parse(obj)`); it
 * applies the same defaults as the CRD and enforces the same rules as its CEL validations.
 */
import { batchPredictionKind } from './batchprediction.js';
import { datasetKind } from './dataset.js';
import { inferenceServiceKind } from './inferenceservice.js';
import type { KindDescriptor } from './kind.js';
import { modelVersionKind } from './modelversion.js';
import { retrainPolicyKind } from './retrainpolicy.js';
import { trainingJobKind } from './trainingjob.js';

export * from './batchprediction.js';
export { transitionViolations } from './cel.js';
export * from './conditions.js';
export * from './dataset.js';
export * from './inferenceservice.js';
export * from './kind.js';
export * from './modelversion.js';
export * from './quantity.js';
export * from './retrainpolicy.js';
export * from './stage.js';
export * from './trainingjob.js';
export { describeZodError } from './validation-errors.js';

/**
 * Every kind, in the order of the lifecycle: data, training, model, serving, retraining, batch
 * scoring.
 */
export const allKinds: readonly KindDescriptor[] = [
  datasetKind,
  trainingJobKind,
  modelVersionKind,
  inferenceServiceKind,
  retrainPolicyKind,
  batchPredictionKind,
];

/** The descriptor of a kind by its `kind` name, e.g. `kindByName('Dataset')`. */
export function kindByName(kind: string): KindDescriptor | undefined {
  return allKinds.find((k) => k.kind === kind);
}
