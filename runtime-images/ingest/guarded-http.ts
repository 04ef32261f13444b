/**
 * GET over HTTP(S) that connects only to addresses the `AddressPolicy` allows. The host is
 * resolved here (every address it has, `all: true`), every address is judged, and the request
 * connects to the first checked address through a `lookup` that returns only it — so a DNS
 * answer that changes between the check and the connection (rebinding) cannot move it.
 *
 * Redirects are followed by hand, at most `MAX_REDIRECTS`, each hop resolved and judged the
 * same way. The user's headers (`spec.source.http.headersSecretRef`) go only to the URL's own
 * origin (scheme, host, port): once a redirect leaves it, they are dropped for good, as
 * browsers drop `Authorization`.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { type AddressPolicy, judgeAddress } from './address-policy.js';
import { IngestFailure, messageOf } from './failure.js';

export const MAX_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** As long as Node.js's fetch waited for headers or the next body bytes. */
const IDLE_TIMEOUT_MS = 300_000;

/** An answer, whatever carried it: the status, the headers, and the body to read or drop. */
export interface HopResponse {
  status: number;
  statusText: string;
  headers: Record<string, string | string[] | undefined>;
  body: AsyncIterable<Buffer>;
  /** Drops the body unread (a redirect's, an error's). */
  discard(): void;
}

/** What the guarded GET needs from the world; the defaults use node:dns and node:http(s). */
export interface HttpTransport {
  resolve(host: string): Promise<LookupAddress[]>;
  /** One GET of `url`, connecting to `address` only. */
  get(url: URL, address: LookupAddress, headers: Record<string, string>): Promise<HopResponse>;
}

/** A URL as messages may show it: no user-info, no query string or fragment. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}${u.search ? '?…' : ''}`;
  } catch {
    return '(an invalid URL)';
  }
}

function refused(shown: string, what: string): IngestFailure {
  return new IngestFailure('SourceAddressRefused', `http source ${shown}: ${what}`);
}

/** The host of a URL as DNS and `isIP` take it (no brackets around an IPv6 literal). */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/**
 * Resolves the URL's host and judges every address: the one to connect to, or a
 * `SourceAddressRefused` failure naming the first refused address and why.
 */
export async function checkedAddress(
  url: URL,
  policy: AddressPolicy,
  transport: Pick<HttpTransport, 'resolve'>,
  shown: string,
): Promise<LookupAddress> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw refused(shown, `the scheme ${url.protocol} is refused (only http and https)`);
  }
  const host = hostOf(url);
  let addresses: LookupAddress[];
  try {
    addresses = isIP(host)
      ? [{ address: host, family: isIP(host) }]
      : await transport.resolve(host);
  } catch (error) {
    throw new IngestFailure(
      'SourceUnavailable',
      `GET ${shown} failed: ${url.hostname} could not be resolved (${messageOf(error)})`,
      { cause: error },
    );
  }
  if (addresses.length === 0) {
    throw new IngestFailure(
      'SourceUnavailable',
      `GET ${shown} failed: ${url.hostname} has no address`,
    );
  }
  for (const { address } of addresses) {
    const verdict = judgeAddress(address, policy);
    if (verdict.refused) throw refused(shown, `address ${address} is refused (${verdict.why})`);
  }
  return addresses[0]!;
}

/**
 * GETs `url`, following redirects by hand with every hop checked. Resolves with the final
 * response (any status: the caller maps errors) and the URL it came from.
 */
export async function guardedGet(
  url: string,
  userHeaders: Record<string, string>,
  policy: AddressPolicy,
  transport: HttpTransport = nodeTransport,
): Promise<{ response: HopResponse; url: URL }> {
  const first = new URL(url);
  let current = first;
  let headers = userHeaders;
  for (let hop = 0; ; hop++) {
    const shown = displayUrl(current.href);
    const address = await checkedAddress(current, policy, transport, shown);
    const response = await transport.get(current, address, headers);
    const location = response.headers.location;
    if (!REDIRECT_STATUSES.has(response.status) || typeof location !== 'string') {
      return { response, url: current };
    }
    response.discard();
    if (hop >= MAX_REDIRECTS) {
      throw new IngestFailure(
        'SourceUnavailable',
        `GET ${displayUrl(url)} redirected more than ${MAX_REDIRECTS} times`,
      );
    }
    let next: URL;
    try {
      next = new URL(location, current);
    } catch (error) {
      throw new IngestFailure('SourceUnavailable', `GET ${shown} redirected to an invalid URL`, {
        cause: error,
      });
    }
    if (next.origin !== first.origin) headers = {};
    current = next;
  }
}

/** Gunzips / inflates a body whose `content-encoding` says so (none is asked for). */
async function* decoded(message: IncomingMessage): AsyncGenerator<Buffer> {
  const encoding = String(message.headers['content-encoding'] ?? '').toLowerCase();
  const decoder =
    encoding === 'gzip' || encoding === 'x-gzip'
      ? createGunzip()
      : encoding === 'deflate'
        ? createInflate()
        : encoding === 'br'
          ? createBrotliDecompress()
          : undefined;
  yield* (decoder ? message.pipe(decoder) : message) as AsyncIterable<Buffer>;
}

/** node:dns and node:http(s), connecting only to the checked address. */
export const nodeTransport: HttpTransport = {
  resolve: (host) =>
    new Promise((resolve, reject) =>
      dnsLookup(host, { all: true, verbatim: true }, (error, addresses) =>
        error ? reject(error) : resolve(addresses),
      ),
    ),
  get: (url, checked, headers) =>
    new Promise((resolve, reject) => {
      const request = (url.protocol === 'https:' ? https : http).get(
        url,
        {
          headers: { 'user-agent': 'lathe-ingest', accept: '*/*', ...headers },
          agent: false,
          // Whatever net asks (one address or all), it gets the checked one.
          lookup: ((
            _host: string,
            options: { all?: boolean },
            callback: (...args: unknown[]) => void,
          ) => {
            if (options?.all) callback(null, [checked]);
            else callback(null, checked.address, checked.family);
          }) as never,
          ...(isIP(hostOf(url)) ? {} : { servername: hostOf(url) }),
        },
        (message) => {
          resolve({
            status: message.statusCode ?? 0,
            statusText: message.statusMessage ?? '',
            headers: message.headers,
            body: decoded(message),
            discard: () => message.destroy(),
          });
        },
      );
      request.setTimeout(IDLE_TIMEOUT_MS, () =>
        request.destroy(new Error(`no answer in ${IDLE_TIMEOUT_MS / 1000} s`)),
      );
      request.on('error', reject);
    }),
};
