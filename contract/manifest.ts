/**
 * The artifact manifest: the writer (what a trainer or the ingestion program uploads last) and
 * the verifier (what the operator and the inference server check), in one module so the two
 * sides cannot disagree on a byte.
 *
 * `manifest.json` lists every other file of an artifact (or dataset version) with its size and
 * sha256; the artifact's digest is the sha256 of the manifest's bytes, so one digest pins every
 * byte of every file. The bytes are canonical: files sorted by path (code-unit order), keys in
 * the order `path, sizeBytes, sha256`, two-space JSON indentation and a final newline. A program
 * in another language produces the same bytes by following that rule (`manifest.test.ts` pins
 * one manifest's exact bytes and digest).
 *
 * The manifest is uploaded last: an artifact whose manifest is missing is "not there yet"
 * (the reader waits), never a permanent mismatch.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ObjectNotFoundError } from './object-store.js';
import { keyInArtifact, MANIFEST_FILE, parseS3Uri } from './object-store-layout.js';

/** One file of an artifact, as the manifest records it. */
export const ManifestEntrySchema = z.object({
  path: z
    .string()
    .min(1)
    .max(1024)
    .refine((p) => !p.startsWith('/') && !p.split('/').includes('..') && p !== MANIFEST_FILE, {
      message: 'must be a relative path inside the artifact, other than manifest.json',
    }),
  sizeBytes: z.number().int().min(0),
  sha256: z.string().regex(/^[a-f0-9]{64}$/, { message: 'must be 64 lowercase hex digits' }),
});
export type ManifestEntry = z.infer<typeof ManifestEntrySchema>;

/**
 * `manifest.json`: every file of an artifact with its size and sha256. The artifact's digest is
 * the sha256 of this file's bytes, so one digest pins every byte of every file.
 */
export const ArtifactManifestSchema = z.object({
  files: z.array(ManifestEntrySchema).min(1).max(10_000),
});
export type ArtifactManifest = z.infer<typeof ArtifactManifestSchema>;

/** `sha256:<hex>` of `bytes`: the form of every digest Lathe records. */
export function sha256Digest(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** The sha256 (hex) and size of `bytes`, as a manifest entry for `path`. */
export function manifestEntry(path: string, bytes: Buffer): ManifestEntry {
  return {
    path,
    sizeBytes: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
}

/**
 * The canonical manifest bytes for `entries` (in any order) and their digest. Use this when the
 * files are too large to hold in memory: hash them while writing, then pass the entries.
 */
export function manifestFromEntries(entries: readonly ManifestEntry[]): {
  manifest: Buffer;
  digest: string;
} {
  const files = [...entries]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((e) => ({ path: e.path, sizeBytes: e.sizeBytes, sha256: e.sha256 }));
  ArtifactManifestSchema.parse({ files });
  const manifest = Buffer.from(`${JSON.stringify({ files }, null, 2)}\n`);
  return { manifest, digest: sha256Digest(manifest) };
}

/** The manifest for `files` (path → bytes) and its digest: what a trainer writes. */
export function manifestFor(files: Record<string, Buffer>): { manifest: Buffer; digest: string } {
  return manifestFromEntries(
    Object.entries(files).map(([path, bytes]) => manifestEntry(path, bytes)),
  );
}

/** What the verifier needs from an object store (the operator's `ObjectStore` fits). */
export interface ArtifactReader {
  /** Reads a small object whole; throws `ObjectNotFoundError` when it does not exist. */
  read(bucket: string, key: string): Promise<Buffer>;
  /** Streams an object through sha256; throws `ObjectNotFoundError` when it does not exist. */
  digestOf(bucket: string, key: string): Promise<{ digest: string; sizeBytes: number }>;
}

export type VerificationFailureReason =
  | 'UnsupportedArtifactURI'
  | 'ArtifactNotFound'
  | 'ManifestInvalid'
  | 'DigestMismatch'
  | 'FileMismatch';

export type Verification =
  | {
      verified: true;
      digest: string;
      sizeBytes: number;
      files: number;
      manifest: ArtifactManifest;
      /**
       * The verified bytes of the files `VerifyOptions.readWhole` chose, by path: a program uses
       * these very bytes, so nothing it uses is read twice or changes after verification.
       */
      contents: ReadonlyMap<string, Buffer>;
    }
  | { verified: false; reason: VerificationFailureReason; message: string };

/** How `verifyArtifact` reads the files. */
export interface VerifyOptions {
  /**
   * Files (by manifest path) to read whole into memory and return verified in `contents`
   * instead of streaming them through sha256: the ones the caller is about to use. Others are
   * streamed and dropped, as the operator does for every file.
   */
  readWhole?: (path: string) => boolean;
}

/**
 * Reads the artifact at `artifact.uri` and checks it against `artifact.digest`: the manifest's
 * digest, then every file's size and sha256. A mismatch is a verdict about the data and is
 * returned; an unreachable store is thrown as `StorageUnavailableError` (the caller retries).
 */
export async function verifyArtifact(
  store: ArtifactReader,
  artifact: { uri: string; digest: string },
  options: VerifyOptions = {},
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
      message: `${MANIFEST_FILE} has digest ${manifestDigest}, the expected digest is ${artifact.digest}`,
    };
  }

  const parsed = parseManifest(manifestBytes);
  if ('reason' in parsed) return { verified: false, ...parsed };
  const manifest = parsed.manifest;

  let sizeBytes = manifestBytes.length;
  const contents = new Map<string, Buffer>();
  for (const file of manifest.files) {
    const key = keyInArtifact(location.key, file.path);
    let observed: { digest: string; sizeBytes: number };
    try {
      if (options.readWhole?.(file.path)) {
        const bytes = await store.read(location.bucket, key);
        observed = { digest: sha256Digest(bytes), sizeBytes: bytes.length };
        contents.set(file.path, bytes);
      } else {
        observed = await store.digestOf(location.bucket, key);
      }
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
  return {
    verified: true,
    digest: manifestDigest,
    sizeBytes,
    files: manifest.files.length,
    manifest,
    contents,
  };
}

/**
 * Checks bytes already in memory (a file the reader downloaded to use) against a verified
 * manifest, so a program never uses a file that changed between verification and download.
 */
export function checkAgainstManifest(
  manifest: ArtifactManifest,
  path: string,
  bytes: Buffer,
): string | undefined {
  return checkEntryAgainstManifest(manifest, manifestEntry(path, bytes));
}

/**
 * `checkAgainstManifest` for a file hashed while it was streamed (too large to hold in memory):
 * `actual` is its path, size and sha256 as read. The reader must not act on what it read before
 * this passes.
 */
export function checkEntryAgainstManifest(
  manifest: ArtifactManifest,
  actual: ManifestEntry,
): string | undefined {
  const { path } = actual;
  const entry = manifest.files.find((f) => f.path === path);
  if (!entry) return `${path} is not listed in ${MANIFEST_FILE}`;
  if (actual.sha256 !== entry.sha256 || actual.sizeBytes !== entry.sizeBytes) {
    return `${path} is ${actual.sizeBytes} bytes with sha256:${actual.sha256}; ${MANIFEST_FILE} says ${entry.sizeBytes} bytes with sha256:${entry.sha256}`;
  }
  return undefined;
}

/** Hex digits of a manifest's sha256 that name the dataset version it describes. */
export const CONTENT_VERSION_DIGITS = 16;

/** The name of the dataset version whose manifest has `digest` (`sha256:<hex>`). */
export function contentVersionOf(digest: string): string {
  return digest.slice('sha256:'.length, 'sha256:'.length + CONTENT_VERSION_DIGITS);
}

/**
 * Whether `version` names a dataset version by its content: 12 to 64 lowercase hex digits, the
 * start of its manifest's sha256 (ingestion names every version so, with
 * `CONTENT_VERSION_DIGITS` digits, `contentVersionOf`, and the operator reads no other version
 * names).
 */
export const CONTENT_VERSION_PATTERN = /^[a-f0-9]{12,64}$/;

export type DatasetManifestVerification =
  | { verified: true; manifest: ArtifactManifest; digest: string }
  | {
      verified: false;
      /** `ManifestMismatch`: the manifest is not the one the version is named after. */
      reason: 'ManifestMismatch' | 'ManifestInvalid';
      message: string;
    };

/**
 * Checks a dataset version's `manifest.json` bytes: a version named by its content
 * (`CONTENT_VERSION_PATTERN`) must have a manifest whose sha256 starts with that name, which
 * pins every byte of every file through the manifest, as an artifact's recorded digest does; then
 * the manifest must parse. A version with another name (written by hand, in tests) is only
 * parsed. Each file is then checked as it is read (`checkAgainstManifest`,
 * `checkEntryAgainstManifest`).
 */
export function verifyDatasetManifest(
  manifestBytes: Buffer,
  version: string,
): DatasetManifestVerification {
  const digest = sha256Digest(manifestBytes);
  if (
    CONTENT_VERSION_PATTERN.test(version) &&
    !digest.slice('sha256:'.length).startsWith(version)
  ) {
    return {
      verified: false,
      reason: 'ManifestMismatch',
      message: `${MANIFEST_FILE} has digest ${digest}, which does not start with the version's name ${version}: it is not the manifest ingestion wrote`,
    };
  }
  const parsed = parseManifest(manifestBytes);
  return 'reason' in parsed
    ? { verified: false, ...parsed }
    : { verified: true, digest, manifest: parsed.manifest };
}

/**
 * An artifact file's JSON read with `schema`, or why it is not that: the JSON error, or the
 * first schema issue with its path.
 */
export function parsedArtifactJson<T>(
  schema: { parse(value: unknown): T },
  bytes: Buffer,
): { value: T } | { why: string } {
  try {
    return { value: schema.parse(JSON.parse(bytes.toString('utf8'))) };
  } catch (error) {
    const detail = (error as { issues?: { path: unknown[]; message: string }[] }).issues?.[0];
    return {
      why: detail ? `${detail.path.join('.')}: ${detail.message}` : (error as Error).message,
    };
  }
}

/** Parses `manifest.json` bytes, or says why they are not a manifest (`ManifestInvalid`). */
function parseManifest(
  manifestBytes: Buffer,
): { manifest: ArtifactManifest } | { reason: 'ManifestInvalid'; message: string } {
  const parsed = parsedArtifactJson(ArtifactManifestSchema, manifestBytes);
  if ('value' in parsed) return { manifest: parsed.value };
  return {
    reason: 'ManifestInvalid',
    message: `${MANIFEST_FILE} is not a valid manifest (${parsed.why})`,
  };
}
