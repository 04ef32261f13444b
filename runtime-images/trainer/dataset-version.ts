/**
 * A dataset version as the trainer reads it, every byte checked against the version's
 * `manifest.json` before the run acts on it, so data overwritten in the object store after
 * ingestion never trains or scores silently.
 *
 * The manifest is pinned by the version's name (the start of its sha256, `verifyDatasetManifest`
 * in the contract), and each file is checked against it as it is read: read whole and hashed
 * (`read`), or hashed while streamed (`chunks`, which throws after the last chunk, before the
 * caller can finish with what it read). Each file is downloaded once.
 *
 * A file that does not match, is missing though listed, or is needed but not listed is a
 * `DatasetTamperedError` naming the file: the run fails with `DatasetTampered` and is not worth
 * retrying. A version without a manifest (not complete) or with a malformed one is a
 * `DatasetError` (`DatasetInvalid`), as before.
 */
import { createHash } from 'node:crypto';
import {
  type ArtifactManifest,
  checkAgainstManifest,
  checkEntryAgainstManifest,
  verifyDatasetManifest,
} from '../../contract/manifest.js';
import { ObjectNotFoundError } from '../../contract/object-store.js';
import { keyInArtifact, MANIFEST_FILE, parseS3Uri } from '../../contract/object-store-layout.js';
import { DatasetError } from './dataset.js';

/** A file of the dataset version is not the one ingestion wrote: reported as `DatasetTampered`. */
export class DatasetTamperedError extends Error {
  override name = 'DatasetTamperedError';
  constructor(
    /** The file, as the manifest names it (`train.csv`, `manifest.json`, ...). */
    readonly file: string,
    message: string,
  ) {
    super(message);
  }
}

/** What reading a dataset version needs of an object store (the `ObjectStore` fits). */
export interface DatasetVersionStore {
  /** Reads a whole object; throws `ObjectNotFoundError` when it does not exist. */
  read(bucket: string, key: string, maxBytes?: number): Promise<Buffer>;
  /** Streams an object; throws `ObjectNotFoundError` when it does not exist. */
  openRead?(bucket: string, key: string): Promise<AsyncIterable<Buffer>>;
}

/** The version's name: the last segment of `s3://…/datasets/<ns>/<dataset>/<version>/`. */
export function versionOfDatasetUri(datasetUri: string): string {
  return parseS3Uri(datasetUri).key.split('/').filter(Boolean).at(-1) ?? '';
}

/** One dataset version whose manifest was read and verified (`openDatasetVersion`). */
export class DatasetVersion {
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(
    private readonly store: DatasetVersionStore,
    /** `s3://…/datasets/<ns>/<dataset>/<version>/`. */
    readonly uri: string,
    readonly manifest: ArtifactManifest,
  ) {
    ({ bucket: this.bucket, key: this.prefix } = parseS3Uri(uri));
  }

  /** Whether the manifest lists `file`. */
  lists(file: string): boolean {
    return this.manifest.files.some((f) => f.path === file);
  }

  /** Reads `file` whole and checks it against the manifest. */
  async read(file: string, maxBytes?: number): Promise<Buffer> {
    this.requireListed(file);
    let bytes: Buffer;
    try {
      bytes = await this.store.read(this.bucket, keyInArtifact(this.prefix, file), maxBytes);
    } catch (error) {
      throw this.missingOr(file, error);
    }
    const problem = checkAgainstManifest(this.manifest, file, bytes);
    if (problem) throw this.tampered(file, problem);
    return bytes;
  }

  /**
   * Streams `file`, hashing each chunk as it passes; after the last chunk, throws
   * `DatasetTamperedError` if the file does not match the manifest. The caller must not act on
   * what it read before the loop over the chunks has ended without throwing.
   */
  async *chunks(file: string): AsyncGenerator<Buffer, void, undefined> {
    this.requireListed(file);
    if (!this.store.openRead) throw new Error('the object store cannot stream objects');
    let source: AsyncIterable<Buffer>;
    try {
      source = await this.store.openRead(this.bucket, keyInArtifact(this.prefix, file));
    } catch (error) {
      throw this.missingOr(file, error);
    }
    const hash = createHash('sha256');
    let sizeBytes = 0;
    for await (const chunk of source) {
      hash.update(chunk);
      sizeBytes += chunk.length;
      yield chunk;
    }
    const problem = checkEntryAgainstManifest(this.manifest, {
      path: file,
      sizeBytes,
      sha256: hash.digest('hex'),
    });
    if (problem) throw this.tampered(file, problem);
  }

  private requireListed(file: string): void {
    if (!this.lists(file)) {
      throw this.tampered(file, `${file} is not listed in ${MANIFEST_FILE}`);
    }
  }

  private missingOr(file: string, error: unknown): unknown {
    if (!(error instanceof ObjectNotFoundError)) return error;
    return this.tampered(file, `${file} is listed in ${MANIFEST_FILE} but missing`);
  }

  private tampered(file: string, problem: string): DatasetTamperedError {
    return new DatasetTamperedError(
      file,
      `${file} does not match the dataset version's ${MANIFEST_FILE} (${this.uri}): ${problem}`,
    );
  }
}

/**
 * Reads the manifest of the dataset version at `datasetUri` and verifies it against the
 * version's name. Throws `DatasetError` when there is no manifest (the version is not complete)
 * or it is malformed, `DatasetTamperedError` when it is not the manifest the version is named
 * after, and the store's own errors (`StorageUnavailableError`).
 */
export async function openDatasetVersion(
  store: DatasetVersionStore,
  datasetUri: string,
): Promise<DatasetVersion> {
  const { bucket, key: prefix } = parseS3Uri(datasetUri);
  let bytes: Buffer;
  try {
    bytes = await store.read(bucket, keyInArtifact(prefix, MANIFEST_FILE));
  } catch (error) {
    if (error instanceof ObjectNotFoundError) {
      throw new DatasetError(
        `the dataset version ${datasetUri} has no ${MANIFEST_FILE} (it is not complete)`,
        { cause: error },
      );
    }
    throw error;
  }
  const verification = verifyDatasetManifest(bytes, versionOfDatasetUri(datasetUri));
  if (!verification.verified) {
    const message = `${MANIFEST_FILE} of the dataset version ${datasetUri}: ${verification.message}`;
    if (verification.reason === 'ManifestMismatch') {
      throw new DatasetTamperedError(MANIFEST_FILE, message);
    }
    throw new DatasetError(message);
  }
  return new DatasetVersion(store, datasetUri, verification.manifest);
}
