/**
 * A BatchPrediction's HTTP(S) input (`spec.input.http`), read by byte ranges the way the shards
 * read S3 objects (`contract/batch.ts`): `Range: bytes=<offset>-` from `readOffsetOf(start)`, the
 * caller stopping once its last record is complete. Hadoop's `HttpFileSystem` and SageMaker
 * Batch Transform's split inputs do the same over HTTP.
 *
 * The size is learned here, by the shard (`httpSizeOf`: a one-byte range whose `Content-Range`
 * names the total; a HEAD would not do for presigned URLs, signed for GET only), never by the
 * operator: the operator makes no request to a user's URL (no SSRF from its network position
 * and credentials). Every shard learns the same size from the same URL; a file that changes
 * while the run reads it is the user's to avoid, as with an S3 input.
 *
 * Requests go through the ingestion program's guarded GET (`ingest/guarded-http.ts`): every
 * address, redirect hop included, judged against the install's HTTP source policy, at most
 * `MAX_REDIRECTS` redirects, the user's headers (`headersSecretRef`) dropped once a redirect
 * leaves the URL's origin. The range itself is sent on every hop.
 *
 * A server that ignores `Range` (200 with the whole body) still gives correct output: the bytes
 * before the offset are read and dropped (slower; logged once per read). 404/410 →
 * `SourceNotFound`, 401/403 → `SourceUnauthorized`, other statuses → `SourceUnavailable` naming
 * it; 5xx, 408, 429 and connection failures are retried a few times before the body is read
 * (a failure mid-body fails the shard, which its Job retries).
 */
import type { Logger } from 'pino';
import type { AddressPolicy } from '../ingest/address-policy.js';
import { httpStatusFailure, IngestFailure, messageOf } from '../ingest/failure.js';
import {
  displayUrl,
  guardedGet,
  type HopResponse,
  type HttpTransport,
  nodeTransport,
} from '../ingest/guarded-http.js';

/** Attempts of a request whose failure may pass (5xx, 408, 429, no connection). */
export const HTTP_ATTEMPTS = 4;

export interface HttpSourceOptions {
  /** Request headers from `spec.input.http.headersSecretRef` (sent to the URL's origin only). */
  headers: Record<string, string>;
  /** Which addresses may be reached (the install's HTTP source policy). */
  policy: AddressPolicy;
  log: Logger;
  /** node:dns and node:http(s) unless a test passes its own. */
  transport?: HttpTransport;
  /** Pause before retry n (1-based), in ms; default 500·2^(n-1). */
  retryDelayMs?: (attempt: number) => number;
}

const TRANSIENT_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

/** The transport with `range` (and no content coding: a range of gzip is no range of the file). */
function rangedTransport(base: HttpTransport, range: string): HttpTransport {
  return {
    resolve: (host) => base.resolve(host),
    get: (url, address, headers) =>
      base.get(url, address, {
        ...headers,
        'user-agent': 'lathe-batch',
        'accept-encoding': 'identity',
        range,
      }),
  };
}

/**
 * One GET of `url` with `range`, retried while it fails in a way that may pass. Resolves with a
 * response of status 200, 206 or 416 (the caller reads or drops its body); throws an
 * `IngestFailure` otherwise.
 */
async function rangedGet(
  url: string,
  range: string,
  options: HttpSourceOptions,
): Promise<HopResponse> {
  const shown = displayUrl(url);
  const transport = rangedTransport(options.transport ?? nodeTransport, range);
  const delay = options.retryDelayMs ?? ((n: number) => 500 * 2 ** (n - 1));
  for (let attempt = 1; ; attempt++) {
    let failure: IngestFailure;
    let transient: boolean;
    try {
      const { response } = await guardedGet(url, options.headers, options.policy, transport);
      if (response.status === 200 || response.status === 206 || response.status === 416) {
        return response;
      }
      response.discard();
      failure = httpStatusFailure(response.status, shown, 'spec.input.http.headersSecretRef');
      transient = TRANSIENT_STATUSES.has(response.status);
    } catch (error) {
      if (error instanceof IngestFailure && error.reason !== 'SourceUnavailable') throw error;
      failure =
        error instanceof IngestFailure
          ? error
          : new IngestFailure('SourceUnavailable', `GET ${shown} failed: ${messageOf(error)}`, {
              cause: error,
            });
      // A redirect loop does not pass; a connection that failed may.
      transient = !/redirected/.test(failure.message);
    }
    if (!transient || attempt >= HTTP_ATTEMPTS) {
      if (attempt > 1) failure.message += ` (after ${attempt} attempts)`;
      throw failure;
    }
    options.log.warn(
      { url: shown, attempt, err: failure.message },
      'Retrying a failed request to the HTTP input',
    );
    await new Promise((resolve) => setTimeout(resolve, delay(attempt)));
  }
}

function header(response: HopResponse, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** `Content-Range: bytes 0-0/1234` (or `bytes *\/1234`): its first byte and total. */
export function parseContentRange(
  value: string | undefined,
): { first: number | undefined; total: number | undefined } | undefined {
  const match = /^\s*bytes\s+(?:(\d+)-\d+|\*)\/(\d+|\*)\s*$/i.exec(value ?? '');
  if (!match) return undefined;
  return {
    first: match[1] === undefined ? undefined : Number(match[1]),
    total: match[2] === '*' ? undefined : Number(match[2]),
  };
}

/**
 * The size of the file at `url` in bytes, from a one-byte range's `Content-Range` (or, from a
 * server that ignores ranges, the `Content-Length` of the whole answer); undefined when the
 * server says neither (a streamed answer): then one shard reads it all.
 */
export async function httpSizeOf(
  url: string,
  options: HttpSourceOptions,
): Promise<number | undefined> {
  const response = await rangedGet(url, 'bytes=0-0', options);
  response.discard();
  if (response.status === 200) {
    const length = header(response, 'content-length');
    return length !== undefined && /^\d+$/.test(length.trim()) ? Number(length) : undefined;
  }
  // 206 for a file of a byte or more, 416 for an empty one (no byte 0): both name the total.
  return parseContentRange(header(response, 'content-range'))?.total;
}

/**
 * The bytes of the file at `url` from `offset` to its end, streamed; the caller may stop early
 * (breaking out closes the connection). From a server that ignores the range, the bytes before
 * `offset` are dropped on the way.
 */
export async function* httpBytesFrom(
  url: string,
  offset: number,
  options: HttpSourceOptions,
): AsyncGenerator<Buffer> {
  const shown = displayUrl(url);
  const response = await rangedGet(url, `bytes=${offset}-`, options);
  try {
    if (response.status === 416) return; // `offset` is at or past the end: nothing to read
    let skip = 0;
    if (response.status === 206) {
      const first = parseContentRange(header(response, 'content-range'))?.first;
      if (first !== offset) {
        throw new IngestFailure(
          'SourceUnavailable',
          `GET ${shown} answered bytes from ${first ?? 'an unknown offset'}, not from ${offset} as asked`,
        );
      }
    } else if (offset > 0) {
      skip = offset;
      options.log.warn(
        { url: shown, offset },
        'The HTTP input ignored the Range header; reading from its start and dropping the bytes before the range',
      );
    }
    for await (const piece of response.body) {
      const chunk = Buffer.isBuffer(piece) ? piece : Buffer.from(piece);
      if (skip >= chunk.length) {
        skip -= chunk.length;
        continue;
      }
      yield skip > 0 ? chunk.subarray(skip) : chunk;
      skip = 0;
    }
  } catch (error) {
    if (error instanceof IngestFailure) throw error;
    throw new IngestFailure('SourceUnavailable', `reading ${shown} failed: ${messageOf(error)}`, {
      cause: error,
    });
  } finally {
    response.discard();
  }
}
