/**
 * The field indexes the RetrainPolicy controller looks things up by, so no reconcile or watch
 * mapping scans a namespace: the policies that read a Dataset or an InferenceService, the
 * ModelVersions of a model (to find the champion), the ModelVersions a policy decided about
 * (to rebuild `status.lastPromotion` after the history limits deleted the runs), and the pods of
 * an InferenceService (to read its live accuracy).
 */
import { kinds } from '../../runtime/builtin-kinds.js';
import { indexField, podOwnerIndex } from '../../runtime/controller.js';
import { ownerKeyFromLabels } from '../../runtime/labels.js';
import { latheKinds } from '../lathe-kinds.js';
import { modelVersionsByModel } from '../shared/indexes.js';
import { recordedDecision } from './decision.js';

/** RetrainPolicies by the Dataset their template trains on. */
export const POLICY_DATASET_INDEX = 'retrainpolicy.dataset';
/** RetrainPolicies by the InferenceService their drift or accuracy trigger reads. */
export const POLICY_SERVICE_INDEX = 'retrainpolicy.inferenceservice';
/** ModelVersions by the RetrainPolicy whose decision they carry. */
export const DECIDED_BY_INDEX = 'retrainpolicy.modelversions-by-decision';

export const retrainPolicyIndexes = [
  indexField(latheKinds.retrainPolicy, POLICY_DATASET_INDEX, (p) => [
    p.spec.template.spec.datasetRef.name,
  ]),
  indexField(latheKinds.retrainPolicy, POLICY_SERVICE_INDEX, (p) => [
    p.spec.triggers.drift?.inferenceServiceRef.name,
    p.spec.triggers.accuracy?.inferenceServiceRef.name,
  ]),
  modelVersionsByModel,
  indexField(latheKinds.modelVersion, DECIDED_BY_INDEX, (mv) => [recordedDecision(mv)?.policy]),
  // The same index `watchesPodsOf('InferenceService')` declares (a no-op if it exists).
  indexField(kinds.pod, podOwnerIndex('InferenceService'), (p) => [
    ownerKeyFromLabels(p, 'InferenceService')?.name,
  ]),
];
