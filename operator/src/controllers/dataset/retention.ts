/**
 * The `history` step: what the Dataset no longer needs. Finished ingestion Jobs beyond the
 * newest few are deleted (the newest that succeeded is always kept: it names the current
 * version), and versions beyond `spec.versionHistoryLimit` are deleted from the object store,
 * oldest first — decided from the store's listing (`history.ts`), never from status — except
 * those a ModelVersion's lineage or a TrainingJob (its pin or the version it trained on) still
 * refers to, found through field indexes rather than a scan of the namespace.
 *
 * A failed deletion of data leaves data behind, never a broken reference, so it is logged and
 * tried again on a later pass.
 */
import { kinds } from '../../runtime/builtin-kinds.js';
import { type FieldIndex, indexField, type ReconcileContext } from '../../runtime/controller.js';
import type { Step } from '../../runtime/steps.js';
import { type DatasetObject, latheKinds } from '../lathe-kinds.js';
import { TRAINING_JOBS_BY_DATASET, trainingJobsByDataset } from '../shared/indexes.js';
import { retention } from './history.js';
import { expiredRuns } from './observe.js';
import type { DatasetFacts } from './status.js';
import type { DatasetVersionStore } from './version-store.js';

/** Finished ingestion Jobs kept as history (the newest that succeeded is kept too). */
export const JOB_HISTORY = 3;

/** ModelVersions by the Dataset of their lineage. */
export const MODELVERSION_DATASET_INDEX = 'modelversion.lineage.dataset';

/** The field indexes this step looks references up in. */
export const referenceIndexes: FieldIndex[] = [
  indexField(latheKinds.modelVersion, MODELVERSION_DATASET_INDEX, (mv) => [
    mv.spec.lineage?.dataset?.name,
  ]),
  trainingJobsByDataset,
];

/** The `history` step (see the module header). */
export function retentionStep(versions: DatasetVersionStore): Step<DatasetObject, DatasetFacts> {
  return {
    name: 'history',
    async run(ds, ctx, facts) {
      for (const o of expiredRuns(facts.runs ?? [], JOB_HISTORY))
        await ctx.delete(kinds.job, o.job);

      // No listing (the store could not be reached): nothing is known to be beyond the history.
      if (!facts.stored) return undefined;
      const ref = { namespace: ds.metadata.namespace ?? '', name: ds.metadata.name ?? '' };
      const { deletable } = retention(
        facts.stored,
        facts.current?.version,
        ds.spec.versionHistoryLimit,
        referencedVersions(ds, ctx),
      );
      for (const { version } of deletable) {
        try {
          const removed = await versions.remove(ref, version);
          ctx.log.info({ version, removed }, 'Deleted a dataset version beyond the history');
        } catch (error) {
          ctx.log.warn(
            { err: error, version },
            'Failed to delete a dataset version; left in the store',
          );
        }
      }
      return undefined;
    },
  };
}

/** The versions of `ds` that a ModelVersion (lineage) or TrainingJob (pin or status) refers to. */
export function referencedVersions(
  ds: DatasetObject,
  ctx: ReconcileContext<DatasetObject>,
): Set<string> {
  const namespace = ds.metadata.namespace ?? '';
  const name = ds.metadata.name ?? '';
  const used = new Set<string>();
  for (const mv of ctx.byField(
    latheKinds.modelVersion,
    MODELVERSION_DATASET_INDEX,
    namespace,
    name,
  )) {
    const lineage = mv.spec.lineage?.dataset;
    if (lineage?.name === name) used.add(lineage.version);
  }
  for (const tj of ctx.byField(latheKinds.trainingJob, TRAINING_JOBS_BY_DATASET, namespace, name)) {
    if (tj.spec.datasetRef.name !== name) continue;
    if (tj.spec.datasetRef.version) used.add(tj.spec.datasetRef.version);
    if (tj.status?.datasetVersion) used.add(tj.status.datasetVersion);
  }
  return used;
}
