/**
 * Field indexes more than one controller declares (controller-runtime's `IndexField`), defined
 * once so each informer keeps one index per lookup, whichever controllers ask for it (adding
 * an index of a name that exists is a no-op).
 */
import { indexField } from '../../runtime/controller.js';
import { latheKinds } from '../lathe-kinds.js';

/** ModelVersions by their model (`spec.modelName`): the versions of one model. */
export const MODEL_VERSIONS_BY_MODEL = 'modelversion.spec.modelName';
export const modelVersionsByModel = indexField(
  latheKinds.modelVersion,
  MODEL_VERSIONS_BY_MODEL,
  (mv) => [mv.spec.modelName],
);

/** TrainingJobs by the Dataset they train on (`spec.datasetRef.name`). */
export const TRAINING_JOBS_BY_DATASET = 'trainingjob.spec.datasetRef.name';
export const trainingJobsByDataset = indexField(
  latheKinds.trainingJob,
  TRAINING_JOBS_BY_DATASET,
  (tj) => [tj.spec.datasetRef.name],
);
