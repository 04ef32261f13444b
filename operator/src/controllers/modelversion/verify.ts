/**
 * Artifact verification: does the object store hold exactly the artifact a ModelVersion names?
 *
 * The artifact's digest is the sha256 of its `manifest.json`, and the manifest lists the size
 * and sha256 of every other file, so checking the manifest's digest and then each file pins
 * every byte. A mismatch is a verdict about the data (terminal until the artifact or spec
 * changes) and is returned; an unreachable store is thrown as `StorageUnavailableError`, so the
 * reconcile is retried with backoff.
 */
import { createHash } from 'node:crypto';
import {
  ArtifactManifestSchema,
  keyInArtifact,
  MANIFEST_FILE,
  parseS3Uri,
} from '../../contract/object-store-layout.js';
import { ObjectNotFoundError, type ObjectStore } from '../../storage/object-store.js';

export type VerificationFailureReason =
  | 'UnsupportedArtifactURI'
  | 'ArtifactNotFound'
  | 'ManifestInvalid'
  | 'DigestMismatch'
  | 'FileMismatch';

export type Verification =
  | { verified: true; digest: string; sizeBytes: number; files: number }
  | { verified: false; reason: VerificationFailureReason; message: string };

export function sha256Digest(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Reads the artifact at `uri` from `store` and checks it against `expectedDigest`. */
export async function verifyArtifact(
  store: Pick<ObjectStore, 'read' | 'digestOf'>,
  artifact: { uri: string; digest: string },
): Promise<Verification> {
  let location: ReturnType<typeof parseS3Uri>;
  try {
    location = parseS3Uri(artifact.uri);
  } catch (error) {
    return {
      verified: false,
      reason: 'UnsupportedArtifactURI',
      message: `${(error as Error).message}; the operator verifies artifacts in its object store (s3://)`,
    };
  }
  const manifestKey = keyInArtifact(location.key, MANIFEST_FILE);

  let manifestBytes: Buffer;
  try {
    manifestBytes = await store.read(location.bucket, manifestKey);
  } catch (error) {
    if (error instanceof ObjectNotFoundError) {
      return {
        verified: false,
        reason: 'ArtifactNotFound',
        message: `s3://${location.bucket}/${manifestKey} does not exist`,
      };
    }
    throw error;
  }

  const manifestDigest = sha256Digest(manifestBytes);
  if (manifestDigest !== artifact.digest) {
    return {
      verified: false,
      reason: 'DigestMismatch',
      message: `${MANIFEST_FILE} has digest ${manifestDigest}, spec.artifact.digest says ${artifact.digest}`,
    };
  }

  let manifest: ReturnType<typeof ArtifactManifestSchema.parse>;
  try {
    manifest = ArtifactManifestSchema.parse(JSON.parse(manifestBytes.toString('utf8')));
  } catch (error) {
    const detail = (error as { issues?: { path: unknown[]; message: string }[] }).issues?.[0];
    const why = detail ? `${detail.path.join('.')}: ${detail.message}` : (error as Error).message;
    return {
      verified: false,
      reason: 'ManifestInvalid',
      message: `${MANIFEST_FILE} is not a valid manifest (${why})`,
    };
  }

  let sizeBytes = manifestBytes.length;
  for (const file of manifest.files) {
    const key = keyInArtifact(location.key, file.path);
    let observed: Awaited<ReturnType<ObjectStore['digestOf']>>;
    try {
      observed = await store.digestOf(location.bucket, key);
    } catch (error) {
      if (error instanceof ObjectNotFoundError) {
        return {
          verified: false,
          reason: 'FileMismatch',
          message: `${file.path} is listed in ${MANIFEST_FILE} but missing`,
        };
      }
      throw error;
    }
    if (observed.digest !== `sha256:${file.sha256}` || observed.sizeBytes !== file.sizeBytes) {
      return {
        verified: false,
        reason: 'FileMismatch',
        message: `${file.path} is ${observed.sizeBytes} bytes with ${observed.digest}; ${MANIFEST_FILE} says ${file.sizeBytes} bytes with sha256:${file.sha256}`,
      };
    }
    sizeBytes += observed.sizeBytes;
  }
  return { verified: true, digest: manifestDigest, sizeBytes, files: manifest.files.length };
}

/** Builds the manifest for `files` (path → bytes) and its digest: what a trainer writes. */
export function manifestFor(files: Record<string, Buffer>): { manifest: Buffer; digest: string } {
  const manifest = Buffer.from(
    `${JSON.stringify(
      {
        files: Object.entries(files)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([path, bytes]) => ({
            path,
            sizeBytes: bytes.length,
            sha256: createHash('sha256').update(bytes).digest('hex'),
          })),
      },
      null,
      2,
    )}\n`,
  );
  return { manifest, digest: sha256Digest(manifest) };
}
