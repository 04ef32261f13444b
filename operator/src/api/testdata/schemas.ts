/** The zod schema of each example kind, for table-driven tests. */
import type { ZodType } from 'zod';
import { BatchPredictionSchema } from '../batchprediction.js';
import { DatasetSchema } from '../dataset.js';
import { InferenceServiceSchema } from '../inferenceservice.js';
import { ModelVersionSchema } from '../modelversion.js';
import { RetrainPolicySchema } from '../retrainpolicy.js';
import { TrainingJobSchema } from '../trainingjob.js';
import type { ExampleKind } from './examples.js';

export const schemaOfKind: Record<ExampleKind, ZodType> = {
  Dataset: DatasetSchema,
  TrainingJob: TrainingJobSchema,
  ModelVersion: ModelVersionSchema,
  InferenceService: InferenceServiceSchema,
  RetrainPolicy: RetrainPolicySchema,
  BatchPrediction: BatchPredictionSchema,
};
