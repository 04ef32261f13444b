/**
 * The six Lathe kinds as the runtime reads them (resource + zod parse), shared by every
 * controller that reconciles or watches them.
 */
import { type BatchPrediction, batchPredictionKind } from '../api/batchprediction.js';
import { type Dataset, datasetKind } from '../api/dataset.js';
import { type InferenceService, inferenceServiceKind } from '../api/inferenceservice.js';
import { type ModelVersion, modelVersionKind } from '../api/modelversion.js';
import { type RetrainPolicy, retrainPolicyKind } from '../api/retrainpolicy.js';
import { type TrainingJob, trainingJobKind } from '../api/trainingjob.js';
import { type KubeObject, schemaKind } from '../runtime/resource.js';

export type DatasetObject = Dataset & KubeObject;
export type TrainingJobObject = TrainingJob & KubeObject;
export type ModelVersionObject = ModelVersion & KubeObject;
export type InferenceServiceObject = InferenceService & KubeObject;
export type RetrainPolicyObject = RetrainPolicy & KubeObject;
export type BatchPredictionObject = BatchPrediction & KubeObject;

export const latheKinds = {
  dataset: schemaKind(datasetKind),
  trainingJob: schemaKind(trainingJobKind),
  modelVersion: schemaKind(modelVersionKind),
  inferenceService: schemaKind(inferenceServiceKind),
  retrainPolicy: schemaKind(retrainPolicyKind),
  batchPrediction: schemaKind(batchPredictionKind),
};
