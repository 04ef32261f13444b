/**
 * Verification of a ModelVersion's artifact against its manifest and digest, as an outcome the
 * status is made of: verified, waiting (not uploaded yet) or failed. An unreachable store is
 * not an outcome but an error (reason `StorageUnavailable`), retried with backoff.
 */
import { verifyArtifact } from '../../../../contract/manifest.js';
import { type ObjectStore, StorageUnavailableError } from '../../../../contract/object-store.js';
import {
  isReadableByNamespace,
  ModelFile,
  parseS3Uri,
} from '../../../../contract/object-store-layout.js';
import type { ModelVersionObject } from '../lathe-kinds.js';
import { parseModelCard } from './model-card.js';
import { alreadyVerified, type VerificationOutcome } from './status.js';

/**
 * Why the operator will not read `uri` for a ModelVersion in `namespace`, or undefined when it
 * may: the operator reads with its own key, which reaches every namespace's data, so it reads
 * only what the namespace's own pods could — its prefixes in the operator's `bucket`, or
 * `shared/` (`isReadableByNamespace`). Pure.
 */
export function artifactOutsideNamespace(
  uri: string,
  bucket: string,
  namespace: string,
): string | undefined {
  let location: { bucket: string; key: string };
  try {
    location = parseS3Uri(uri);
  } catch {
    return `spec.artifact.uri ${uri} is not an s3://<bucket>/<prefix>/ URI`;
  }
  if (location.bucket === bucket && isReadableByNamespace(location.key, namespace))
    return undefined;
  return `spec.artifact.uri ${uri} is outside namespace ${namespace}'s prefixes in s3://${bucket}/ (models/${namespace}/, runs/${namespace}/, sources/${namespace}/ …): Lathe reads a namespace's artifacts only there; copy the artifact under s3://${bucket}/models/${namespace}/<model>/<version>/`;
}

/** Verifies `mv`'s artifact, unless status already records this digest as verified. */
export async function verification(
  mv: ModelVersionObject,
  store: ObjectStore | undefined,
  bucket?: string,
): Promise<VerificationOutcome> {
  if (alreadyVerified(mv)) {
    return {
      state: 'verified',
      digest: mv.status!.verifiedDigest!,
      sizeBytes: mv.status!.sizeBytes!,
      fromStatus: true,
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
  const outside = bucket
    ? artifactOutsideNamespace(mv.spec.artifact.uri, bucket, mv.metadata.namespace ?? '')
    : undefined;
  if (outside) return { state: 'failed', reason: 'ArtifactOutsideNamespace', message: outside };
  try {
    const verified = await verifyArtifact(store, mv.spec.artifact, {
      readWhole: (path) => path === ModelFile.card,
    });
    if (verified.verified) {
      const cardBytes = verified.contents.get(ModelFile.card);
      return {
        state: 'verified',
        digest: verified.digest,
        sizeBytes: verified.sizeBytes,
        ...(cardBytes ? { card: parseModelCard(cardBytes) } : {}),
      };
    }
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
