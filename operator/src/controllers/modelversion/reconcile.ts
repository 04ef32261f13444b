/**
 * The ModelVersion controller: verifies that the object store holds exactly the artifact a
 * ModelVersion names, reports it in status, keeps one `production` version per model (the
 * newly promoted one wins; the previous is archived, with an event naming both), and — with
 * `deletionPolicy: Delete` — removes the artifact when the ModelVersion is deleted (a
 * finalizer, run by the runtime: the artifact is state outside the cluster), but only the
 * version's own prefix in the operator's bucket and namespace (`artifact-scope.ts`).
 *
 * Two steps, in order:
 * 1. `verify` — the artifact against its manifest and digest (`verify.ts`); waits while it is
 *    not uploaded yet, stalls on a mismatch;
 * 2. `registry` — once verified and in `production`, archives the other production versions
 *    of the model (the only write this controller makes to another object's spec: see
 *    docs/operator.md, "One writer per field").
 *
 * An artifact is immutable, so once its digest is verified (as status records) it is not read
 * again; later reconciles (a stage change, a resync) only refresh the rest of the status. A
 * wiped status costs one more read of the artifact, nothing else. A failed verification is
 * looked at again on every change and resync, so a verdict caused by the operator's
 * configuration (`StorageNotConfigured`) clears once the configuration is fixed.
 */

import type { ObjectStore } from '../../../../contract/object-store.js';
import { findCondition, isConditionTrue } from '../../runtime/conditions.js';
import type { ReconcileContext } from '../../runtime/controller.js';
import { ExpiringMap } from '../../runtime/expiring-map.js';
import { defineStepController, type Step } from '../../runtime/steps.js';
import { latheKinds, type ModelVersionObject } from '../lathe-kinds.js';
import { MODEL_VERSIONS_BY_MODEL, modelVersionsByModel } from '../shared/indexes.js';
import { productionWinner, versionsToArchive } from '../shared/registry.js';
import { artifactToDelete } from './artifact-scope.js';
import {
  artifactVerifiedCondition,
  modelCardConditions,
  modelVersionReadiness,
  modelVersionStatusFields,
  type VerificationOutcome,
} from './status.js';
import { verification } from './verify.js';

export const modelVersionResource = latheKinds.modelVersion;

/** Removes the artifact from the object store before a `deletionPolicy: Delete` ModelVersion goes. */
export const ARTIFACT_FINALIZER = 'lathe.dev/artifact-cleanup';

/** How often to look again for an artifact that is not (fully) uploaded yet. */
const ARTIFACT_POLL_MS = 15_000;
/** The first looks come sooner: a trainer's upload usually completes within seconds. */
const FIRST_ARTIFACT_POLLS_MS = [1_000, 2_000, 4_000, 8_000];

export interface ModelVersionControllerOptions {
  /** Absent when the operator has no object store configured. */
  store: ObjectStore | undefined;
  /**
   * The operator's bucket, the only one whose artifacts `deletionPolicy: Delete` removes
   * (`artifact-scope.ts`); absent with no object store.
   */
  bucket?: string | undefined;
}

interface Facts {
  outcome: VerificationOutcome;
}

type Ctx = ReconcileContext<ModelVersionObject>;

export function modelVersionController({ store, bucket }: ModelVersionControllerOptions) {
  /**
   * Polls so far of each ModelVersion whose artifact is not there yet (poll fast at first). A
   * pacing hint only: losing it means polling fast once more.
   */
  const waits = new ExpiringMap<string, number>({ maxEntries: 10_000, maxAgeMs: 60 * 60_000 });

  const verify: Step<ModelVersionObject, Facts> = {
    name: 'verify',
    async run(mv, ctx) {
      const key = `${mv.metadata?.namespace}/${mv.metadata?.name}`;
      const outcome = await verification(mv, store, bucket);
      const part = {
        facts: { outcome },
        conditions: [artifactVerifiedCondition(outcome), ...modelCardConditions(outcome)],
        readiness: modelVersionReadiness(mv, outcome),
        // Only a verified version goes on to the registry step.
        halt: outcome.state !== 'verified',
      };
      if (outcome.state !== 'waiting') {
        waits.delete(key);
        return part;
      }
      const polls = waits.get(key) ?? 0;
      waits.set(key, polls + 1);
      ctx.log.debug({ polls }, 'Waiting for the artifact');
      return { ...part, requeueAfterMs: FIRST_ARTIFACT_POLLS_MS[polls] ?? ARTIFACT_POLL_MS };
    },
  };
  const registry: Step<ModelVersionObject, Facts> = {
    name: 'registry',
    async run(mv, ctx) {
      await keepOneProductionVersion(mv, ctx);
      return {};
    },
  };

  return defineStepController<ModelVersionObject, Facts>({
    name: 'modelversion',
    for: modelVersionResource,
    indexes: [modelVersionsByModel],
    permissions: [
      // Archiving the previous production version when another is promoted: a merge patch of
      // spec.stage guarded by resourceVersion. (The finalizer's own patch is derived.)
      { apiGroups: ['lathe.dev'], resources: ['modelversions'], verbs: ['patch'] },
    ],
    finalizer: {
      name: ARTIFACT_FINALIZER,
      wanted: (mv) =>
        mv.spec.deletionPolicy === 'Delete' && mv.spec.artifact.uri.startsWith('s3://'),
      async finalize(obj, ctx) {
        // The object may not parse any more: read the fields defensively.
        const spec = (obj.spec ?? {}) as {
          deletionPolicy?: unknown;
          modelName?: unknown;
          version?: unknown;
          artifact?: { uri?: unknown };
        };
        const uri = spec.artifact?.uri;
        if (spec.deletionPolicy !== 'Delete' || typeof uri !== 'string') return;
        if (!store || !bucket)
          throw new Error(
            'Cannot delete the artifact: the operator has no object store configured',
          );
        const artifact = artifactToDelete(
          {
            namespace: obj.metadata?.namespace ?? '',
            modelName: spec.modelName,
            version: spec.version,
            uri,
          },
          bucket,
        );
        if (!artifact.deletable) {
          // Released without deleting anything: the artifact is not the operator's to delete.
          ctx.log.warn({ uri, reason: artifact.reason }, 'Kept the ModelVersion artifact');
          await ctx.events.record(
            obj,
            'Warning',
            'ArtifactKept',
            'Delete',
            `deletionPolicy Delete ignored: ${artifact.reason}; nothing was deleted`,
          );
          return;
        }
        const removed = await store.removePrefix(artifact.bucket, artifact.prefix);
        ctx.log.info({ removed, uri }, 'Deleted the ModelVersion artifact');
      },
    },
    steps: [verify, registry],
    status: (mv, facts, now) => modelVersionStatusFields(mv, facts.outcome, now),
    ready: (mv) => ({
      reason: 'ArtifactVerified',
      message: `Model ${mv.spec.modelName} version ${mv.spec.version} is verified and usable`,
    }),
    async afterStatus(mv, before, after, ctx) {
      const was = findCondition(
        (before as { conditions?: [] } | undefined)?.conditions,
        'ArtifactVerified',
      );
      const now = findCondition((after as { conditions?: [] }).conditions, 'ArtifactVerified');
      if (now?.status === 'True' && was?.status !== 'True') {
        await ctx.events.record(
          mv,
          'Normal',
          'ArtifactVerified',
          'Verify',
          `Verified ${after.verifiedDigest} (${after.sizeBytes} bytes)`,
        );
      }
      const conditionsBefore = (before as { conditions?: [] } | undefined)?.conditions;
      const fairnessWas = findCondition(conditionsBefore, 'FairnessChecked');
      const fairness = findCondition((after as { conditions?: [] }).conditions, 'FairnessChecked');
      if (fairness && fairness.status !== fairnessWas?.status) {
        await ctx.events.record(
          mv,
          fairness.status === 'True' ? 'Normal' : 'Warning',
          fairness.status === 'True' ? 'FairnessChecked' : 'FairnessCheckFailed',
          'Verify',
          fairness.message ?? fairness.reason ?? '',
        );
      }
    },
  });
}

/**
 * Archives the other production versions of `mv`'s model when `mv` is the newly promoted,
 * verified one. A version that is not Ready never demotes the one serving.
 */
async function keepOneProductionVersion(mv: ModelVersionObject, ctx: Ctx): Promise<void> {
  if (mv.spec.stage !== 'production') return;
  // The verified production versions of this model; `mv` is verified now, whatever its cached
  // status says yet.
  const candidates = ctx
    .byField(
      modelVersionResource,
      MODEL_VERSIONS_BY_MODEL,
      mv.metadata?.namespace ?? '',
      mv.spec.modelName,
    )
    .filter(
      (other) =>
        other.spec.stage === 'production' &&
        (other.metadata?.name === mv.metadata?.name ||
          isConditionTrue(other.status?.conditions, 'Ready')),
    );
  const winner = productionWinner(candidates);
  if (winner?.metadata?.name !== mv.metadata?.name) return;
  for (const loser of versionsToArchive(candidates, mv)) {
    await ctx.client.patch(
      modelVersionResource.resource,
      loser.metadata?.namespace,
      loser.metadata?.name ?? '',
      'merge',
      {
        metadata: { resourceVersion: loser.metadata?.resourceVersion },
        spec: { stage: 'archived' },
      },
      { fieldManager: ctx.fieldManager },
    );
    const note = `${mv.metadata?.name} was promoted to production; ${loser.metadata?.name} (version ${loser.spec.version}) was archived`;
    ctx.log.info(
      { archived: loser.metadata?.name },
      'Archived the previous production ModelVersion',
    );
    await ctx.events.record(mv, 'Normal', 'Promoted', 'Promote', note);
    await ctx.events.record(loser, 'Normal', 'Archived', 'Promote', note);
  }
}
