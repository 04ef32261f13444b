/**
 * The ModelVersion controller: verifies that the object store holds exactly the artifact a
 * ModelVersion names, reports it in status, and — with `deletionPolicy: Delete` — removes the
 * artifact when the ModelVersion is deleted (a finalizer: the artifact is state outside the
 * cluster).
 *
 * An artifact is immutable, so once its digest is verified it is not read again; later
 * reconciles (a stage change, a resync) only refresh `observedGeneration`.
 */
import { type ModelVersion, modelVersionKind } from '../../api/modelversion.js';
import { verifyArtifact } from '../../contract/manifest.js';
import { parseS3Uri } from '../../contract/object-store-layout.js';
import { patchStatusIfChanged } from '../../runtime/apply.js';
import { type Condition, setKstatus } from '../../runtime/conditions.js';
import { defineController, done, requeueAfter, TerminalError } from '../../runtime/controller.js';
import { addFinalizer, hasFinalizer, removeFinalizer } from '../../runtime/finalizers.js';
import { type KubeObject, schemaKind } from '../../runtime/resource.js';
import { type ObjectStore, StorageUnavailableError } from '../../storage/object-store.js';
import {
  alreadyStalled,
  alreadyVerified,
  modelVersionStatus,
  type VerificationOutcome,
} from './status.js';

export const modelVersionResource = schemaKind(modelVersionKind);
/** A ModelVersion as the runtime's caches hold it. */
type ModelVersionObject = ModelVersion & KubeObject;

/** Removes the artifact from the object store before a `deletionPolicy: Delete` ModelVersion goes. */
export const ARTIFACT_FINALIZER = 'lathe.dev/artifact-cleanup';

/** How often to look again for an artifact that is not (fully) uploaded yet. */
const ARTIFACT_POLL_MS = 15_000;

export interface ModelVersionControllerOptions {
  /** Absent when the operator has no object store configured. */
  store: ObjectStore | undefined;
}

export function modelVersionController({ store }: ModelVersionControllerOptions) {
  return defineController<ModelVersionObject>({
    name: 'modelversion',
    for: modelVersionResource,
    async reconcile({ namespace, name }, ctx) {
      const resource = modelVersionResource.resource;
      const invalid = ctx.primary.getInvalid(namespace, name);
      if (invalid && !invalid.deleted) {
        const raw = invalid.raw;
        const generation = raw.metadata?.generation;
        const conditions = setKstatus(
          ((raw.status as { conditions?: Condition[] } | undefined)?.conditions ??
            []) as Condition[],
          {
            state: 'stalled',
            reason: 'InvalidSpec',
            message: invalid.error.message.slice(0, 1000),
          },
          generation,
          ctx.now(),
        );
        await patchStatusIfChanged(ctx.client, resource, raw, {
          observedGeneration: generation,
          conditions,
        });
        throw new TerminalError(`ModelVersion ${namespace}/${name} is invalid`, {
          cause: invalid.error,
        });
      }

      const cached = ctx.primary.get(namespace, name);
      if (!cached) return done();
      let mv: ModelVersionObject = cached;

      if (mv.metadata?.deletionTimestamp) {
        if (hasFinalizer(mv, ARTIFACT_FINALIZER)) {
          if (mv.spec.deletionPolicy === 'Delete') {
            if (!store)
              throw new Error(
                'Cannot delete the artifact: the operator has no object store configured',
              );
            const { bucket, key } = parseS3Uri(mv.spec.artifact.uri);
            const removed = await store.removePrefix(bucket, key.replace(/\/?$/, '/'));
            ctx.log.info(
              { removed, uri: mv.spec.artifact.uri },
              'Deleted the ModelVersion artifact',
            );
          }
          await removeFinalizer(ctx.client, resource, mv, ARTIFACT_FINALIZER);
        }
        return done();
      }

      const wantsFinalizer =
        mv.spec.deletionPolicy === 'Delete' && mv.spec.artifact.uri.startsWith('s3://');
      if (wantsFinalizer) mv = await addFinalizer(ctx.client, resource, mv, ARTIFACT_FINALIZER);
      else mv = await removeFinalizer(ctx.client, resource, mv, ARTIFACT_FINALIZER);

      if (alreadyStalled(mv)) return done();

      let outcome: VerificationOutcome;
      let verifiedNow = false;
      if (alreadyVerified(mv)) {
        outcome = {
          state: 'verified',
          digest: mv.status!.verifiedDigest!,
          sizeBytes: mv.status!.sizeBytes!,
        };
      } else if (!store) {
        outcome = {
          state: 'failed',
          reason: 'StorageNotConfigured',
          message:
            'The operator has no object store configured (LATHE_OBJECT_STORE_ENDPOINT and credentials)',
        };
      } else {
        try {
          const verification = await verifyArtifact(store, mv.spec.artifact);
          if (verification.verified) {
            outcome = {
              state: 'verified',
              digest: verification.digest,
              sizeBytes: verification.sizeBytes,
            };
            verifiedNow = true;
          } else if (verification.reason === 'ArtifactNotFound') {
            outcome = {
              state: 'waiting',
              reason: verification.reason,
              message: `Waiting for the artifact: ${verification.message}`,
            };
          } else {
            outcome = {
              state: 'failed',
              reason: verification.reason,
              message: verification.message,
            };
          }
        } catch (error) {
          if (!(error instanceof StorageUnavailableError)) throw error;
          outcome = { state: 'waiting', reason: 'StorageUnavailable', message: error.message };
          await patchStatusIfChanged(
            ctx.client,
            resource,
            mv,
            modelVersionStatus(mv, outcome, ctx.now()),
          );
          throw error;
        }
      }

      await patchStatusIfChanged(
        ctx.client,
        resource,
        mv,
        modelVersionStatus(mv, outcome, ctx.now()),
      );
      switch (outcome.state) {
        case 'verified':
          if (verifiedNow) {
            await ctx.events.record(
              mv,
              'Normal',
              'ArtifactVerified',
              'Verify',
              `Verified ${outcome.digest} (${outcome.sizeBytes} bytes)`,
            );
          }
          return done();
        case 'waiting':
          return requeueAfter(ARTIFACT_POLL_MS);
        case 'failed':
          await ctx.events.record(mv, 'Warning', outcome.reason, 'Verify', outcome.message);
          throw new TerminalError(`ModelVersion ${namespace}/${name}: ${outcome.message}`);
      }
    },
  });
}
