/**
 * Byte sources: an HTTP(S) URL, or an S3/MinIO object or every object under a prefix (in key
 * order). Each yields parts of chunks, streamed: nothing is held beyond a chunk. A name ending
 * in `.gz` is gunzipped on the way.
 *
 * Failures get the contract's reasons: 404 / NoSuchKey → SourceNotFound, 401 / 403 / bad keys
 * → SourceUnauthorized, unreachable or 5xx → SourceUnavailable (or StorageUnavailable when the
 * source is the operator's own object store, which is down for everything else too).
 * Messages name the URL without its query string or user-info, which may carry credentials.
 * An HTTP source connects only to addresses the install allows (`guarded-http.ts`); a refused
 * address is `SourceAddressRefused`, terminal.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import {
  ObjectAccessDeniedError,
  ObjectNotFoundError,
  ObjectStore,
} from '../../contract/object-store.js';
import { isReadableByNamespace } from '../../contract/object-store-layout.js';
import type { ObjectStoreConfig } from '../../contract/runtime-env.js';
import type { DatasetSpec } from '../../operator/src/api/dataset.js';
import type { AddressPolicy } from './address-policy.js';
import { httpStatusFailure, IngestFailure, messageOf } from './failure.js';
import type { FeedbackStore } from './feedback.js';
import { displayUrl, guardedGet, type HopResponse, type HttpTransport } from './guarded-http.js';
import type { SourcePart } from './table.js';

export { displayUrl };

/** Gunzips the chunks when `name` ends in `.gz`. */
function maybeGunzip(name: string, chunks: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  if (!/\.gz$/i.test(name.replace(/\?.*$/, ''))) return chunks;
  return Readable.from(chunks).pipe(createGunzip()) as AsyncIterable<Buffer>;
}

/**
 * The HTTP headers of `spec.source.http.headersSecretRef`, mounted as a directory with one
 * file per header (Kubernetes' `..data` links and other dot files are skipped).
 */
export async function readHeaderFiles(dir: string | undefined): Promise<Record<string, string>> {
  if (!dir) return {};
  const headers: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) {
    if (name.startsWith('.')) continue;
    const file = path.join(dir, name);
    if (!(await stat(file)).isFile()) continue;
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      throw new IngestFailure(
        'InvalidData',
        `the headers Secret has the key "${name}", which is not an HTTP header name`,
      );
    }
    headers[name] = (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
  }
  return headers;
}

/**
 * The HTTP(S) source: one GET through `guardedGet` (every address and redirect hop checked
 * against `policy`), streamed.
 */
export async function* httpParts(
  url: string,
  headers: Record<string, string>,
  policy: AddressPolicy,
  transport?: HttpTransport,
): AsyncGenerator<SourcePart> {
  const shown = displayUrl(url);
  let response: HopResponse;
  try {
    ({ response } = await guardedGet(url, headers, policy, transport));
  } catch (error) {
    if (error instanceof IngestFailure) throw error;
    const cause = (error as { cause?: unknown }).cause;
    throw new IngestFailure(
      'SourceUnavailable',
      `GET ${shown} failed: ${messageOf(cause ?? error)}`,
      { cause: error },
    );
  }
  if (response.status < 200 || response.status > 299) {
    response.discard();
    throw httpStatusFailure(response.status, shown);
  }
  const body = response.body;
  async function* chunks(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of maybeGunzip(shown, body)) {
        yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      }
    } catch (error) {
      if (error instanceof IngestFailure) throw error;
      throw new IngestFailure('SourceUnavailable', `reading ${shown} failed: ${messageOf(error)}`, {
        cause: error,
      });
    }
  }
  yield { name: shown, chunks: chunks() };
}

export interface S3SourceAccess {
  /** The operator's object store (the default endpoint) and the pod's own credentials. */
  store: ObjectStoreConfig;
  /** The Dataset's namespace: the pod's credentials read only its prefixes. */
  namespace: string;
  /** Credentials of `credentialsSecretRef`, when the Dataset names one. */
  accessKey: string | undefined;
  secretKey: string | undefined;
}

type S3Source = NonNullable<DatasetSpec['source']['s3']>;

/**
 * The client for an S3 source. The operator's credentials are only ever sent to the operator's
 * own endpoint, and only for the namespace's own prefixes of the operator's bucket (or
 * `shared/`, `isReadableByNamespace`): anything else there needs the Dataset's
 * `credentialsSecretRef` (`SourceCredentialsRequired` without one). Another endpoint gets the
 * Dataset's credentials or none (anonymous requests, for public buckets).
 */
export function s3ClientFor(
  source: S3Source,
  access: S3SourceAccess,
): {
  client: ObjectStore;
  isOperatorStore: boolean;
} {
  const endpoint = source.endpoint ?? access.store.endpoint;
  const isOperatorStore = new URL(endpoint).href === new URL(access.store.endpoint).href;
  const own = access.accessKey !== undefined && access.secretKey !== undefined;
  if (isOperatorStore && !own) refuseOutsideNamespace(source, access);
  const { accessKey, secretKey, sessionToken, credentialsDir } = access.store;
  const keys = own
    ? { accessKey: access.accessKey!, secretKey: access.secretKey! }
    : isOperatorStore
      ? // The pod's own scoped credentials (and their rotations).
        {
          accessKey,
          secretKey,
          ...(sessionToken ? { sessionToken } : {}),
          ...(credentialsDir ? { credentialsDir } : {}),
        }
      : { accessKey: '', secretKey: '' };
  const client = new ObjectStore({
    endpoint,
    ...keys,
    region: source.region ?? (isOperatorStore ? access.store.region : 'us-east-1'),
  });
  return { client, isOperatorStore };
}

/** Throws `SourceCredentialsRequired` unless the operator's key may read what `source` names. */
function refuseOutsideNamespace(source: S3Source, access: S3SourceAccess): void {
  const key = source.key ?? source.prefix ?? '';
  const inOwnBucket = source.bucket === access.store.bucket;
  if (inOwnBucket && isReadableByNamespace(key, access.namespace)) return;
  const where = inOwnBucket
    ? `outside namespace ${access.namespace}'s prefixes of Lathe's bucket (sources/${access.namespace}/, datasets/${access.namespace}/, … or shared/)`
    : `in a bucket other than Lathe's "${access.store.bucket}"`;
  throw new IngestFailure(
    'SourceCredentialsRequired',
    `spec.source.s3 reads s3://${source.bucket}/${key}, ${where}: the operator's credentials are not used for that; set spec.source.s3.credentialsSecretRef to a Secret with credentials that may read it`,
  );
}

/** Maps an object-store error while reading the source to the contract's reasons. */
export function s3Failure(error: unknown, isOperatorStore: boolean): IngestFailure {
  if (error instanceof IngestFailure) return error;
  const message = messageOf(error);
  if (error instanceof ObjectNotFoundError)
    return new IngestFailure('SourceNotFound', message, { cause: error });
  if (error instanceof ObjectAccessDeniedError) {
    return new IngestFailure('SourceUnauthorized', message, { cause: error });
  }
  // StorageUnavailableError, or a network error while streaming.
  return new IngestFailure(isOperatorStore ? 'StorageUnavailable' : 'SourceUnavailable', message, {
    cause: error,
  });
}

export async function* s3Parts(
  source: S3Source,
  access: S3SourceAccess,
): AsyncGenerator<SourcePart> {
  const { client, isOperatorStore } = s3ClientFor(source, access);
  const guard = async function* (name: string, chunks: AsyncIterable<Buffer>) {
    try {
      yield* maybeGunzip(name, chunks);
    } catch (error) {
      throw s3Failure(error, isOperatorStore);
    }
  };
  try {
    if (source.key !== undefined) {
      const name = `s3://${source.bucket}/${source.key}`;
      const chunks = await client.openRead(source.bucket, source.key);
      yield { name, chunks: guard(name, chunks) };
      return;
    }
    const prefix = source.prefix!;
    const keys = (await client.list(source.bucket, prefix)).filter((k) => !k.endsWith('/')).sort();
    if (keys.length === 0) {
      throw new IngestFailure('SourceNotFound', `no object under s3://${source.bucket}/${prefix}`);
    }
    for (const key of keys) {
      const name = `s3://${source.bucket}/${key}`;
      const chunks = await client.openRead(source.bucket, key);
      yield { name, chunks: guard(name, chunks) };
    }
  } catch (error) {
    throw s3Failure(error, isOperatorStore);
  }
}

/**
 * The operator's own object store, as the feedback source reads it: its bucket and
 * credentials, failures mapped as for an S3 source on that store (unreachable:
 * `StorageUnavailable`).
 */
export function operatorFeedbackStore(settings: ObjectStoreConfig): FeedbackStore {
  const client = new ObjectStore(settings);
  const bucket = settings.bucket;
  return {
    async *keys(prefix) {
      try {
        yield* client.keys(bucket, prefix);
      } catch (error) {
        throw s3Failure(error, true);
      }
    },
    async open(key) {
      let chunks: AsyncIterable<Buffer>;
      try {
        chunks = await client.openRead(bucket, key);
      } catch (error) {
        throw s3Failure(error, true);
      }
      return (async function* () {
        try {
          yield* chunks;
        } catch (error) {
          throw s3Failure(error, true);
        }
      })();
    },
  };
}
