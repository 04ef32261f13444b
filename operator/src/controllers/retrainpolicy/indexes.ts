/**
 * The field indexes the RetrainPolicy controller looks things up by, so no reconcile or watch
 * mapping scans a namespace: the policies that read a Dataset or an InferenceService, the
 * ModelVersions of a model (to find the champion), the ModelVersions a policy decided about
 * (to rebuild `status.lastPromotion` after the history limits deleted the runs), the pods of
 * an InferenceService (to read its live accuracy), and the BatchPredictions of a ModelVersion
 * with the policies that take them as drift evidence.
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
/** BatchPredictions by the ModelVersion they scored (a drift trigger's batch evidence). */
export const BATCH_BY_MODEL_VERSION = 'retrainpolicy.batchpredictions-by-model-version';
/** RetrainPolicies whose drift trigger reads batch runs, by the model they train. */
export const POLICY_BATCH_MODEL_INDEX = 'retrainpolicy.batch-drift-model';
/** ModelVersions by the RetrainPolicy whose decision they carry. */
export const DECIDED_BY_INDEX = 'retrainpolicy.modelversions-by-decision';

export const retrainPolicyIndexes = [
  indexField(latheKinds.retrainPolicy, POLICY_DATASET_INDEX, (p) => [
    p.spec.template.spec.datasetRef.name,
  ]),
  indexField(latheKinds.retrainPolicy, POLICY_SERVICE_INDEX, (p) => [
    p.spec.triggers.drift?.inferenceServiceRef?.name,
    p.spec.triggers.accuracy?.inferenceServiceRef.name,
  ]),
  indexField(latheKinds.retrainPolicy, POLICY_BATCH_MODEL_INDEX, (p) => [
    (p.spec.triggers.drift?.source ?? 'service') === 'service'
      ? undefined
      : p.spec.template.spec.modelName,
  ]),
  indexField(latheKinds.batchPrediction, BATCH_BY_MODEL_VERSION, (bp) => [
    bp.status?.model?.modelVersion,
  ]),
  modelVersionsByModel,
  indexField(latheKinds.modelVersion, DECIDED_BY_INDEX, (mv) => [recordedDecision(mv)?.policy]),
  // The same index `watchesPodsOf('InferenceService')` declares (a no-op if it exists).
  indexField(kinds.pod, podOwnerIndex('InferenceService'), (p) => [
    ownerKeyFromLabels(p, 'InferenceService')?.name,
  ]),
];
