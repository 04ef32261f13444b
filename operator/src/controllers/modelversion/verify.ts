/**
 * Verification of a ModelVersion's artifact against its manifest and digest, as an outcome the
 * status is made of: verified, waiting (not uploaded yet) or failed. An unreachable store is
 * not an outcome but an error (reason `StorageUnavailable`), retried with backoff.
 */
import { verifyArtifact } from '../../../../contract/manifest.js';
import { type ObjectStore, StorageUnavailableError } from '../../../../contract/object-store.js';
import type { ModelVersionObject } from '../lathe-kinds.js';
import { alreadyVerified, type VerificationOutcome } from './status.js';

/** Verifies `mv`'s artifact, unless status already records this digest as verified. */
export async function verification(
  mv: ModelVersionObject,
  store: ObjectStore | undefined,
): Promise<VerificationOutcome> {
  if (alreadyVerified(mv)) {
    return {
      state: 'verified',
      digest: mv.status!.verifiedDigest!,
      sizeBytes: mv.status!.sizeBytes!,
    };
  }
  if (!store) {
    return {
      state: 'failed',
      reason: 'StorageNotConfigured',
      message:
        'The operator has no object store configured (LATHE_OBJECT_STORE_ENDPOINT and credentials)',
    };
  }
  try {
    const verified = await verifyArtifact(store, mv.spec.artifact);
    if (verified.verified)
      return { state: 'verified', digest: verified.digest, sizeBytes: verified.sizeBytes };
    if (verified.reason === 'ArtifactNotFound') {
      return {
        state: 'waiting',
        reason: verified.reason,
        message: `Waiting for the artifact: ${verified.message}`,
      };
    }
    const message =
      verified.reason === 'DigestMismatch'
        ? `${verified.message} (spec.artifact.digest)`
        : verified.message;
    return { state: 'failed', reason: verified.reason, message };
  } catch (error) {
    if (error instanceof StorageUnavailableError)
      throw Object.assign(error, { reason: 'StorageUnavailable' });
    throw error;
  }
}
