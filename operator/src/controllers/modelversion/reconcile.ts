/**
 * The ModelVersion controller: verifies that the object store holds exactly the artifact a
 * ModelVersion names, reports it in status, keeps one `production` version per model (the
 * newly promoted one wins; the previous is archived, with an event naming both), and — with
 * `deletionPolicy: Delete` — removes the artifact when the ModelVersion is deleted (a
 * finalizer, run by the runtime: the artifact is state outside the cluster).
 *
 * An artifact is immutable, so once its digest is verified it is not read again; later
 * reconciles (a stage change, a resync) only refresh the rest of the status. A failed
 * verification is looked at again on every change and resync, so a verdict caused by the
 * operator's configuration (`StorageNotConfigured`) clears once the configuration is fixed.
 */
import { verifyArtifact } from '../../../../contract/manifest.js';
import { type ObjectStore, StorageUnavailableError } from '../../../../contract/object-store.js';
import { parseS3Uri } from '../../../../contract/object-store-layout.js';
import { isConditionTrue } from '../../runtime/conditions.js';
import {
  defineController,
  done,
  type ReconcileContext,
  requeueAfter,
  TerminalError,
} from '../../runtime/controller.js';
import { ExpiringMap } from '../../runtime/expiring-map.js';
import { latheKinds, type ModelVersionObject } from '../lathe-kinds.js';
import { productionWinner, versionsToArchive } from '../shared/registry.js';
import { alreadyVerified, modelVersionStatus, type VerificationOutcome } from './status.js';

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
}

export function modelVersionController({ store }: ModelVersionControllerOptions) {
  /** Polls so far of each ModelVersion whose artifact is not there yet (poll fast at first). */
  const waits = new ExpiringMap<string, number>({ maxEntries: 10_000, maxAgeMs: 60 * 60_000 });
  return defineController<ModelVersionObject>({
    name: 'modelversion',
    for: modelVersionResource,
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
        // The object may not parse any more: read the two fields defensively.
        const spec = (obj.spec ?? {}) as {
          deletionPolicy?: unknown;
          artifact?: { uri?: unknown };
        };
        const uri = spec.artifact?.uri;
        if (spec.deletionPolicy !== 'Delete' || typeof uri !== 'string') return;
        if (!store)
          throw new Error(
            'Cannot delete the artifact: the operator has no object store configured',
          );
        const { bucket, key } = parseS3Uri(uri);
        const removed = await store.removePrefix(bucket, key.replace(/\/?$/, '/'));
        ctx.log.info({ removed, uri }, 'Deleted the ModelVersion artifact');
      },
    },
    async reconcile(mv, ctx) {
      const key = `${mv.metadata?.namespace}/${mv.metadata?.name}`;
      const { outcome, verifiedNow } = await verification(mv, store, ctx);
      await ctx.patchStatus(mv, modelVersionStatus(mv, outcome, ctx.now()));
      if (outcome.state === 'verified') {
        waits.delete(key);
        if (verifiedNow) {
          await ctx.events.record(
            mv,
            'Normal',
            'ArtifactVerified',
            'Verify',
            `Verified ${outcome.digest} (${outcome.sizeBytes} bytes)`,
          );
        }
        await keepOneProductionVersion(mv, ctx);
        return done();
      }
      if (outcome.state === 'waiting') {
        const n = waits.get(key) ?? 0;
        waits.set(key, n + 1);
        return requeueAfter(FIRST_ARTIFACT_POLLS_MS[n] ?? ARTIFACT_POLL_MS);
      }
      waits.delete(key);
      throw new TerminalError(outcome.message, { reason: outcome.reason });
    },
  });
}

async function verification(
  mv: ModelVersionObject,
  store: ObjectStore | undefined,
  ctx: ReconcileContext<ModelVersionObject>,
): Promise<{ outcome: VerificationOutcome; verifiedNow: boolean }> {
  if (alreadyVerified(mv)) {
    return {
      outcome: {
        state: 'verified',
        digest: mv.status!.verifiedDigest!,
        sizeBytes: mv.status!.sizeBytes!,
      },
      verifiedNow: false,
    };
  }
  if (!store) {
    return {
      outcome: {
        state: 'failed',
        reason: 'StorageNotConfigured',
        message:
          'The operator has no object store configured (LATHE_OBJECT_STORE_ENDPOINT and credentials)',
      },
      verifiedNow: false,
    };
  }
  try {
    const verified = await verifyArtifact(store, mv.spec.artifact);
    if (verified.verified) {
      return {
        outcome: { state: 'verified', digest: verified.digest, sizeBytes: verified.sizeBytes },
        verifiedNow: true,
      };
    }
    if (verified.reason === 'ArtifactNotFound') {
      return {
        outcome: {
          state: 'waiting',
          reason: verified.reason,
          message: `Waiting for the artifact: ${verified.message}`,
        },
        verifiedNow: false,
      };
    }
    const message =
      verified.reason === 'DigestMismatch'
        ? `${verified.message} (spec.artifact.digest)`
        : verified.message;
    return { outcome: { state: 'failed', reason: verified.reason, message }, verifiedNow: false };
  } catch (error) {
    if (!(error instanceof StorageUnavailableError)) throw error;
    // Record why it waits, then fail the reconcile so it is retried with backoff.
    await ctx.patchStatus(
      mv,
      modelVersionStatus(
        mv,
        { state: 'waiting', reason: 'StorageUnavailable', message: error.message },
        ctx.now(),
      ),
    );
    throw Object.assign(error, { reason: 'StorageUnavailable' });
  }
}

/**
 * Archives the other production versions of `mv`'s model when `mv` is the newly promoted,
 * verified one. A version that is not Ready never demotes the one serving.
 */
async function keepOneProductionVersion(
  mv: ModelVersionObject,
  ctx: ReconcileContext<ModelVersionObject>,
): Promise<void> {
  if (mv.spec.stage !== 'production') return;
  // The verified production versions of this model; `mv` is verified now, whatever its cached
  // status says yet.
  const candidates = ctx.primary
    .list(mv.metadata?.namespace)
    .filter(
      (other) =>
        other.spec.modelName === mv.spec.modelName &&
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
