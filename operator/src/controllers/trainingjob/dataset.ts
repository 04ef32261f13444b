/**
 * The dataset step: which Dataset version (and task) the run trains on.
 *
 * Once the run's Job exists, the version is the one pinned in its annotations when it was
 * created — a Dataset that moves on to a new version, or stops being Ready, does not change a
 * run in progress. A registered run whose Job is gone reads it from the ModelVersion's lineage.
 * Before the Job exists, the version is resolved: `spec.datasetRef.version`, else the Dataset's
 * current version (the Dataset from the cache, by name), and its task from the prepared
 * schema in the object store. Not there yet → `DatasetNotReady` (progressing; the later steps
 * wait); a `spec.task` the data was not prepared for → `InvalidSpec` (stalled).
 */

import { ObjectNotFoundError } from '../../../../contract/object-store.js';
import { DatasetFile, datasetVersionPrefix } from '../../../../contract/object-store-layout.js';
import { PreparedSchemaSchema } from '../../../../contract/prepared-data.js';
import { findCondition, isConditionTrue } from '../../runtime/conditions.js';
import type { ReconcileContext } from '../../runtime/controller.js';
import type { Step } from '../../runtime/steps.js';
import { type DatasetObject, latheKinds, type TrainingJobObject } from '../lathe-kinds.js';
import { TrainingAnnotation } from './desired.js';
import type { DatasetPin, DatasetResolution, TrainingFacts } from './status.js';

/** The dataset version and task a training Job was created with (its annotations). Pure. */
export function datasetPinOfJob(job: {
  metadata?: { annotations?: Record<string, string> };
}): DatasetPin {
  const annotations = job.metadata?.annotations ?? {};
  const task = annotations[TrainingAnnotation.task];
  return {
    version: annotations[TrainingAnnotation.datasetVersion] ?? '',
    task: task === 'regression' || task === 'classification' ? task : undefined,
  };
}

/**
 * The version to train on from the Dataset as the cache has it, before the object store is
 * asked for its task: the pinned version, or the current version of a Ready Dataset. Pure.
 */
export function datasetVersionToTrain(
  tj: TrainingJobObject,
  dataset: DatasetObject | undefined,
): { version: string } | Extract<DatasetResolution, { ready: false }> {
  const namespace = tj.metadata.namespace ?? '';
  const ref = tj.spec.datasetRef;
  const notReady = (message: string) =>
    ({ ready: false, reason: 'DatasetNotReady', message, terminal: false }) as const;
  if (!dataset) return notReady(`Dataset ${ref.name} does not exist in ${namespace}`);
  if (ref.version) return { version: ref.version };
  const current = dataset.status?.currentVersion;
  if (!isConditionTrue(dataset.status?.conditions, 'Ready') || !current) {
    const ready = findCondition(dataset.status?.conditions, 'Ready');
    return notReady(
      `Dataset ${ref.name} is not Ready${ready ? ` (${ready.reason}: ${ready.message})` : ''}`,
    );
  }
  return { version: current };
}

/** Resolves the dataset version and task a TrainingJob would start on now, or why it must wait. */
async function resolveDataset(
  tj: TrainingJobObject,
  ctx: ReconcileContext<TrainingJobObject>,
  storage: TrainingFacts['storage'],
): Promise<DatasetResolution> {
  const namespace = tj.metadata.namespace ?? '';
  const ref = tj.spec.datasetRef;
  const found = datasetVersionToTrain(tj, ctx.reader(latheKinds.dataset).get(namespace, ref.name));
  if (!('version' in found)) return found;
  const { version } = found;
  const key = `${datasetVersionPrefix(namespace, ref.name, version)}${DatasetFile.schema}`;
  let task: DatasetPin['task'];
  try {
    const bytes = await storage.store.read(storage.config.bucket, key);
    task = PreparedSchemaSchema.parse(JSON.parse(bytes.toString('utf8'))).task;
  } catch (error) {
    if (!(error instanceof ObjectNotFoundError)) throw error;
    return {
      ready: false,
      reason: 'DatasetNotReady',
      message: `Version ${version} of Dataset ${ref.name} is not in the object store (s3://${storage.config.bucket}/${key})`,
      terminal: false,
    };
  }
  if (tj.spec.task && tj.spec.task !== task) {
    return {
      ready: false,
      reason: 'InvalidSpec',
      message: `spec.task is ${tj.spec.task}, but version ${version} of Dataset ${ref.name} was prepared for ${task} (the type of its label column decides; set spec.schema.columns in the Dataset to change it)`,
      terminal: true,
    };
  }
  return { ready: true, pin: { version, task } };
}

/** The dataset step (see the module header). */
export const datasetStep: Step<TrainingJobObject, TrainingFacts> = {
  name: 'dataset',
  async run(tj, ctx, facts) {
    if (facts.workload) return { facts: { dataset: datasetPinOfJob(facts.workload) } };
    const lineage = facts.registered?.spec.lineage?.dataset?.version;
    if (lineage) return { facts: { dataset: { version: lineage, task: tj.spec.task } } };
    if (!facts.storage) return { halt: true };
    const resolution = await resolveDataset(tj, ctx, facts.storage);
    if (resolution.ready) return { facts: { dataset: resolution.pin } };
    const { reason, message, terminal } = resolution;
    return {
      readiness: { state: terminal ? 'stalled' : 'progressing', reason, message },
      halt: true,
    };
  },
};
