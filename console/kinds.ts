/**
 * The Lathe kinds the console shows, in the order its pages list them: each with the
 * descriptor the CRD is generated from (its printer columns are what `kubectl get` prints, so
 * the console prints the same) and the `KindSpec` its informer parses objects with.
 *
 * The console reads the same six kinds, through the same informers and parsers, as the
 * operator's controllers (`operator/src/controllers/lathe-kinds.ts`): one description of each
 * kind, never a second one that could drift.
 */
import { batchPredictionKind } from '../operator/src/api/batchprediction.js';
import { datasetKind } from '../operator/src/api/dataset.js';
import { inferenceServiceKind } from '../operator/src/api/inferenceservice.js';
import type { KindDescriptor } from '../operator/src/api/kind.js';
import { modelVersionKind } from '../operator/src/api/modelversion.js';
import { retrainPolicyKind } from '../operator/src/api/retrainpolicy.js';
import { trainingJobKind } from '../operator/src/api/trainingjob.js';
import {
  type BatchPredictionObject,
  type DatasetObject,
  type InferenceServiceObject,
  latheKinds,
  type ModelVersionObject,
  type RetrainPolicyObject,
  type TrainingJobObject,
} from '../operator/src/controllers/lathe-kinds.js';
import type { KindSpec } from '../operator/src/runtime/resource.js';

/** The cached object type of each kind, by the key the console names it with. */
export interface ConsoleObjects {
  dataset: DatasetObject;
  trainingJob: TrainingJobObject;
  modelVersion: ModelVersionObject;
  inferenceService: InferenceServiceObject;
  retrainPolicy: RetrainPolicyObject;
  batchPrediction: BatchPredictionObject;
}

/** A kind's key: `dataset`, `trainingJob`, … */
export type KindKey = keyof ConsoleObjects;

/** One kind as the console knows it. */
export interface ConsoleKind<K extends KindKey = KindKey> {
  key: K;
  /** `TrainingJob`. */
  kind: string;
  /** `trainingjobs`: the REST resource, the SubjectAccessReview's resource and the URL segment. */
  plural: string;
  descriptor: KindDescriptor;
  spec: KindSpec<ConsoleObjects[K]>;
}

function consoleKind<K extends KindKey>(
  key: K,
  descriptor: KindDescriptor,
  spec: KindSpec<ConsoleObjects[K]>,
): ConsoleKind<K> {
  return { key, kind: descriptor.kind, plural: descriptor.plural, descriptor, spec };
}

/** The six kinds, in the order the lifecycle runs: data, training, models, serving, policy. */
export const consoleKinds: readonly ConsoleKind[] = [
  consoleKind('dataset', datasetKind, latheKinds.dataset),
  consoleKind('trainingJob', trainingJobKind, latheKinds.trainingJob),
  consoleKind('modelVersion', modelVersionKind, latheKinds.modelVersion),
  consoleKind('inferenceService', inferenceServiceKind, latheKinds.inferenceService),
  consoleKind('retrainPolicy', retrainPolicyKind, latheKinds.retrainPolicy),
  consoleKind('batchPrediction', batchPredictionKind, latheKinds.batchPrediction),
];

/** The kind under `key`. */
export function consoleKindOf<K extends KindKey>(key: K): ConsoleKind<K> {
  return consoleKinds.find((k) => k.key === key) as ConsoleKind<K>;
}

/** The kind whose plural is `plural` (`trainingjobs`), as URLs name it. */
export function kindByPlural(plural: string): ConsoleKind | undefined {
  return consoleKinds.find((k) => k.plural === plural);
}
