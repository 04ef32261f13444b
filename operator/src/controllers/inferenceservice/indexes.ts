/**
 * The cross-kind lookups of the InferenceService controller, as field indexes (controller-
 * runtime's `IndexField`) instead of namespace scans: the InferenceServices that serve a model
 * (a promotion re-resolves them), the ModelVersions of a model (what resolution chooses from)
 * and the pods of a service (the `watchesPodsOf` index, by the `lathe.dev/inferenceservice`
 * label every serving pod carries).
 */
import { kinds, type PodObject } from '../../runtime/builtin-kinds.js';
import { type CacheReaders, indexField, podOwnerIndex } from '../../runtime/controller.js';
import type { ObjectKey } from '../../runtime/object-key.js';
import {
  type InferenceServiceObject,
  latheKinds,
  type ModelVersionObject,
} from '../lathe-kinds.js';
import { MODEL_VERSIONS_BY_MODEL, modelVersionsByModel } from '../shared/indexes.js';

/** InferenceServices by the model they serve (`spec.model.name`). */
export const SERVICES_BY_MODEL = 'inferenceservice.spec.model.name';

export const inferenceServiceIndexes = [
  indexField(latheKinds.inferenceService, SERVICES_BY_MODEL, (isvc) => [isvc.spec.model.name]),
  modelVersionsByModel,
];

/** The keys of the InferenceServices that serve the model of `mv` (the ModelVersion watch). */
export function servicesOfModel(mv: ModelVersionObject, caches: CacheReaders): ObjectKey[] {
  const namespace = mv.metadata?.namespace ?? '';
  return caches
    .byField(latheKinds.inferenceService, SERVICES_BY_MODEL, namespace, mv.spec.modelName)
    .map((isvc) => ({ namespace, name: isvc.metadata?.name ?? '' }));
}

/** The ModelVersions of the model `isvc` serves, from the cache. */
export function versionsOfModel(
  isvc: InferenceServiceObject,
  caches: CacheReaders,
): ModelVersionObject[] {
  return caches.byField(
    latheKinds.modelVersion,
    MODEL_VERSIONS_BY_MODEL,
    isvc.metadata?.namespace ?? '',
    isvc.spec.model.name,
  );
}

/** The serving pods of `isvc` (every version), from the cache. */
export function podsOfService(isvc: InferenceServiceObject, caches: CacheReaders): PodObject[] {
  return caches.byField(
    kinds.pod,
    podOwnerIndex('InferenceService'),
    isvc.metadata?.namespace ?? '',
    isvc.metadata?.name ?? '',
  );
}
