/**
 * The object-store client (MinIO or any S3): the few operations Lathe needs, over the `minio`
 * library, with errors a controller can classify — a missing object is the user's problem
 * (`ObjectNotFoundError`), an unreachable store is transient (`StorageUnavailableError`).
 */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import * as Minio from 'minio';
import { CredentialProvider } from 'minio/dist/esm/CredentialProvider.mjs';
import { Credentials } from 'minio/dist/esm/Credentials.mjs';

/**
 * The one object-store connection every Lathe process makes: the operator (from its
 * configuration) and each runtime program (from `ObjectStoreEnv`, `objectStoreFromEnv`).
 */
/** Defaults of the optional settings, shared by every parser of them. */
export const objectStoreDefaults = { bucket: 'lathe', region: 'us-east-1' } as const;

export interface ObjectStoreConfig {
  /** e.g. `http://minio.lathe-system:9000` or `https://s3.eu-west-1.amazonaws.com`. */
  endpoint: string;
  /** The bucket Lathe's layout lives in (`object-store-layout.ts`). */
  bucket: string;
  region: string;
  accessKey: string;
  secretKey: string;
  /** With temporary credentials (S3 STS): the session token that goes with the keys. */
  sessionToken?: string;
  /**
   * A directory holding the credentials as files `accessKey`, `secretKey` and `sessionToken`
   * (a mounted Secret): read again when they change, so a long-lived process follows the
   * rotation of its temporary credentials. The keys above are the first ones.
   */
  credentialsDir?: string;
}

/**
 * What the client itself needs: a connection (a user's S3 source has no Lathe bucket and may
 * leave the region to its default) and, optionally, the size of the parts of a multipart
 * upload, which the client holds in memory one at a time (the minio library's default is
 * 64 MiB; at least 5 MiB; at most 10,000 parts an object).
 */
export type ObjectStoreClientOptions = Pick<
  ObjectStoreConfig,
  'endpoint' | 'accessKey' | 'secretKey' | 'sessionToken' | 'credentialsDir'
> & {
  region?: string;
  uploadPartBytes?: number;
};

/** The object (or bucket) does not exist. */
export class ObjectNotFoundError extends Error {
  override name = 'ObjectNotFoundError';
}

/** The store could not be reached or answered with a server error; worth retrying. */
export class StorageUnavailableError extends Error {
  override name = 'StorageUnavailableError';
}

/**
 * The store refused the credentials or the request (403). A `StorageUnavailableError`, so
 * callers that only tell "missing" from "retry" keep working; the ingestion program reports it
 * as `SourceUnauthorized` when it reads a user's bucket.
 */
export class ObjectAccessDeniedError extends StorageUnavailableError {
  override name = 'ObjectAccessDeniedError';
}

const notFoundCodes = new Set(['NoSuchKey', 'NotFound', 'NoSuchBucket']);
const deniedCodes = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AllAccessDisabled',
]);

function classify(error: unknown, what: string): Error {
  if (error instanceof ObjectNotFoundError || error instanceof StorageUnavailableError)
    return error;
  const code = (error as { code?: string }).code ?? '';
  const message = (error as Error).message ?? String(error);
  if (notFoundCodes.has(code))
    return new ObjectNotFoundError(`${what} does not exist`, { cause: error });
  if (deniedCodes.has(code)) {
    return new ObjectAccessDeniedError(`${what}: access denied (${code}): ${message}`, {
      cause: error,
    });
  }
  return new StorageUnavailableError(`${what}: object store error: ${message}`, { cause: error });
}

export interface ObjectDigest {
  /** `sha256:<hex>`. */
  digest: string;
  sizeBytes: number;
}

/** One object of a listing (`listObjects`). */
export interface ListedObject {
  key: string;
  sizeBytes: number;
  /** When the object was last written; undefined when the store did not say. */
  lastModified: Date | undefined;
}

/**
 * Makes `client`'s multipart uploads start afresh instead of looking for an unfinished upload
 * of the same key to resume: that look lists the bucket's uploads (ListBucketMultipartUploads),
 * which credentials scoped to a prefix may not do (MinIO and S3 accept no prefix condition on
 * it), and Lathe writes every object once, under a new key, so it has nothing to resume.
 */
function neverResumeUploads(client: Minio.Client): void {
  const internal = client as unknown as { findUploadId?: unknown };
  if (typeof internal.findUploadId !== 'function')
    throw new Error('minio client without findUploadId: check neverResumeUploads against it');
  internal.findUploadId = async () => undefined;
}

/** The files of a credentials directory (`ObjectStoreConfig.credentialsDir`). */
export const CredentialsFile = {
  accessKey: 'accessKey',
  secretKey: 'secretKey',
  sessionToken: 'sessionToken',
} as const;

/**
 * Credentials from a mounted Secret, read again at most every `recheckMs` (the kubelet
 * replaces a Secret volume's files when the Secret changes): the minio client asks before each
 * request. A file that cannot be read keeps the credentials read before.
 */
export class CredentialsDirProvider extends CredentialProvider {
  #checkedAt = 0;

  constructor(
    private readonly dir: string,
    initial: { accessKey: string; secretKey: string; sessionToken?: string },
    private readonly recheckMs = 5_000,
  ) {
    super(initial);
  }

  override async getCredentials(): Promise<Credentials> {
    const now = Date.now();
    if (now - this.#checkedAt >= this.recheckMs) {
      this.#checkedAt = now;
      const read = (file: string) => {
        try {
          return readFileSync(path.join(this.dir, file), 'utf8').trim();
        } catch {
          return undefined;
        }
      };
      const accessKey = read(CredentialsFile.accessKey);
      const secretKey = read(CredentialsFile.secretKey);
      if (accessKey && secretKey) {
        const sessionToken = read(CredentialsFile.sessionToken) || undefined;
        this.setCredentials(
          new Credentials({ accessKey, secretKey, ...(sessionToken ? { sessionToken } : {}) }),
        );
      }
    }
    return super.getCredentials();
  }
}

export class ObjectStore {
  private readonly client: Minio.Client;

  constructor(config: ObjectStoreClientOptions) {
    const url = new URL(config.endpoint);
    const useSSL = url.protocol === 'https:';
    this.client = new Minio.Client({
      endPoint: url.hostname,
      port: url.port ? Number(url.port) : useSSL ? 443 : 80,
      useSSL,
      accessKey: config.accessKey,
      secretKey: config.secretKey,
      ...(config.sessionToken ? { sessionToken: config.sessionToken } : {}),
      ...(config.credentialsDir
        ? {
            // The client's types come from its CommonJS build, this class from its ES build:
            // the same class, two declarations.
            credentialsProvider: new CredentialsDirProvider(
              config.credentialsDir,
              config,
            ) as unknown as Minio.ClientOptions['credentialsProvider'],
          }
        : {}),
      region: config.region ?? objectStoreDefaults.region,
      ...(config.uploadPartBytes ? { partSize: config.uploadPartBytes } : {}),
    });
    neverResumeUploads(this.client);
  }

  /** Opens an object's body; a missing object or an unreachable store is classified. */
  async #getObject(bucket: string, key: string, what: string): Promise<Readable> {
    try {
      return await this.client.getObject(bucket, key);
    } catch (error) {
      throw classify(error, what);
    }
  }

  /** Reads a whole object into memory, refusing objects larger than `maxBytes`. */
  async read(bucket: string, key: string, maxBytes = 16 * 1024 * 1024): Promise<Buffer> {
    const what = `s3://${bucket}/${key}`;
    const stream = await this.#getObject(bucket, key, what);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of stream) {
      size += (chunk as Buffer).length;
      if (size > maxBytes) {
        stream.destroy();
        throw new Error(`${what} is larger than ${maxBytes} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }

  /** Streams an object through sha256 without holding it in memory. */
  async digestOf(bucket: string, key: string): Promise<ObjectDigest> {
    const what = `s3://${bucket}/${key}`;
    try {
      const stream = await this.client.getObject(bucket, key);
      const hash = createHash('sha256');
      let sizeBytes = 0;
      for await (const chunk of stream) {
        hash.update(chunk as Buffer);
        sizeBytes += (chunk as Buffer).length;
      }
      return { digest: `sha256:${hash.digest('hex')}`, sizeBytes };
    } catch (error) {
      throw classify(error, what);
    }
  }

  /** Opens an object for streaming; errors while reading it are classified too. */
  async openRead(bucket: string, key: string): Promise<AsyncIterable<Buffer>> {
    const what = `s3://${bucket}/${key}`;
    const stream = await this.#getObject(bucket, key, what);
    return (async function* () {
      try {
        for await (const chunk of stream) yield chunk as Buffer;
      } catch (error) {
        throw classify(error, what);
      }
    })();
  }

  /**
   * Opens bytes `[offset, offset + length)` of an object for streaming (to its end when `length`
   * is undefined): how a BatchPrediction shard reads its byte range of an input object. Errors
   * are classified as `openRead`'s; breaking out of the iteration closes the connection.
   */
  async openReadRange(
    bucket: string,
    key: string,
    offset: number,
    length?: number,
  ): Promise<AsyncIterable<Buffer>> {
    const what = `s3://${bucket}/${key}`;
    let stream: Readable;
    try {
      stream = await this.client.getPartialObject(bucket, key, offset, length);
    } catch (error) {
      throw classify(error, what);
    }
    return (async function* () {
      try {
        for await (const chunk of stream) yield chunk as Buffer;
      } catch (error) {
        throw classify(error, what);
      } finally {
        stream.destroy();
      }
    })();
  }

  /** Whether an object exists. */
  async exists(bucket: string, key: string): Promise<boolean> {
    try {
      await this.client.statObject(bucket, key);
      return true;
    } catch (error) {
      const classified = classify(error, `s3://${bucket}/${key}`);
      if (classified instanceof ObjectNotFoundError) return false;
      throw classified;
    }
  }

  /** Uploads a file of `sizeBytes` bytes from disk, streaming it. */
  async upload(
    bucket: string,
    key: string,
    filePath: string,
    sizeBytes: number,
    contentType = 'application/octet-stream',
  ): Promise<void> {
    try {
      await this.client.putObject(bucket, key, createReadStream(filePath), sizeBytes, {
        'Content-Type': contentType,
      });
    } catch (error) {
      throw classify(error, `s3://${bucket}/${key}`);
    }
  }

  /**
   * Throws `StorageUnavailableError` unless `bucket` exists and answers, by listing (at most a
   * page of) `prefix`: credentials scoped to a prefix may list only there, not see the bucket.
   */
  async checkBucket(bucket: string, prefix = ''): Promise<void> {
    try {
      for await (const _ of this.keys(bucket, prefix)) break;
    } catch (error) {
      if (error instanceof ObjectNotFoundError)
        throw new StorageUnavailableError(`bucket ${bucket} does not exist`, { cause: error });
      throw error;
    }
  }

  async write(
    bucket: string,
    key: string,
    body: Buffer | string,
    contentType = 'application/octet-stream',
  ): Promise<void> {
    const data = typeof body === 'string' ? Buffer.from(body) : body;
    try {
      await this.client.putObject(bucket, key, data, data.length, { 'Content-Type': contentType });
    } catch (error) {
      throw classify(error, `s3://${bucket}/${key}`);
    }
  }

  /** Copies an object within the store (server-side: the bytes never pass through here). */
  async copy(
    source: { bucket: string; key: string },
    target: { bucket: string; key: string },
  ): Promise<void> {
    try {
      await this.client.copyObject(target.bucket, target.key, `/${source.bucket}/${source.key}`);
    } catch (error) {
      throw classify(error, `s3://${source.bucket}/${source.key}`);
    }
  }

  /** Every key under `prefix`. */
  async list(bucket: string, prefix: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const key of this.keys(bucket, prefix)) keys.push(key);
    return keys;
  }

  /**
   * Every key under `prefix`, streamed a listing page at a time, in the store's order (S3
   * lists keys in ascending UTF-8 byte order): for prefixes with more keys than memory should
   * hold at once.
   */
  async *keys(bucket: string, prefix: string): AsyncGenerator<string> {
    try {
      for await (const item of this.client.listObjectsV2(bucket, prefix, true)) {
        if ((item as { name?: string }).name) yield (item as { name: string }).name;
      }
    } catch (error) {
      throw classify(error, `s3://${bucket}/${prefix}`);
    }
  }

  /**
   * Every object under `prefix` with its size and when it was last written (the store's
   * `Last-Modified`), in the store's order: what a reader needs to tell old objects from new
   * without reading them.
   */
  async listObjects(bucket: string, prefix: string): Promise<ListedObject[]> {
    const objects: ListedObject[] = [];
    try {
      for await (const item of this.client.listObjectsV2(bucket, prefix, true)) {
        const { name, size, lastModified } = item as {
          name?: string;
          size?: number;
          lastModified?: Date | string;
        };
        if (!name) continue;
        const modified = lastModified ? new Date(lastModified) : undefined;
        objects.push({
          key: name,
          sizeBytes: size ?? 0,
          lastModified: modified && !Number.isNaN(modified.getTime()) ? modified : undefined,
        });
      }
    } catch (error) {
      throw classify(error, `s3://${bucket}/${prefix}`);
    }
    return objects;
  }

  /** Deletes every object under `prefix`; returns how many. Deleting nothing is not an error. */
  async removePrefix(bucket: string, prefix: string): Promise<number> {
    const keys = await this.list(bucket, prefix);
    if (keys.length === 0) return 0;
    try {
      await this.client.removeObjects(bucket, keys);
    } catch (error) {
      throw classify(error, `s3://${bucket}/${prefix}`);
    }
    return keys.length;
  }

  async ensureBucket(bucket: string): Promise<void> {
    try {
      if (!(await this.client.bucketExists(bucket))) await this.client.makeBucket(bucket);
    } catch (error) {
      throw classify(error, `bucket ${bucket}`);
    }
  }
}
