/**
 * The operator's connection to the API server: HTTP/1.1 over one keep-alive agent, for
 * requests and watches alike, with the credentials of a `KubeConfig` applied once and reused.
 *
 * Why this and not client-node's own path: for each request client-node's
 * `applyToHTTPSOptions` decodes the CA and client certificate again (or reads them from their
 * files) and builds a new `https.Agent`, and its `Watch` pipes each watch through node-fetch, a
 * `PassThrough` and `readline` before `JSON.parse`. A CPU profile of the operator under load
 * (`bench/cpu-profile-summary.ts`) put a fifth of its time in that machinery. Here:
 *
 * - **Credentials** (TLS material, `Authorization`, impersonation, basic auth) are taken from
 *   `applyToHTTPSOptions` and reused for `credentialTtlMs` (1 s): a rotated certificate or
 *   token file is picked up within a second (client-go re-reads the service-account token once
 *   a minute and its CA never). Users whose credentials come from an `exec` plugin or an auth
 *   provider other than a token file (OIDC, cloud plugins) have them applied on every request,
 *   as before, so their own expiry logic decides — they still share the keep-alive agent.
 * - **One agent**, keyed by the TLS material: TLS verification with the cluster's CA and the
 *   client certificate happen on the agent's connections, and the agent is replaced (its idle
 *   sockets closed) when that material changes, so no request rides a connection made with
 *   other credentials. A kubeconfig with a `proxy-url` uses client-node's proxy agent.
 * - **Watches** are read as UTF-8 text and split on newlines directly from the response.
 *
 * HTTP/2 (which client-go speaks) and undici's pool were measured against the same API server
 * and cost no less CPU per request than keep-alive HTTP/1.1 from Node.js, on either side,
 * beyond the noise of the measurement; docs/operator.md#performance has the figures. Protobuf is not an option for Lathe's
 * kinds: the API server serves custom resources as JSON only.
 */
import http from 'node:http';
import https from 'node:https';
import type * as k8s from '@kubernetes/client-node';

/** A response read to its end: status and the body as text. */
export interface RawResponse {
  statusCode: number;
  statusMessage: string;
  text: string;
}

/** A request's failure before any response: `statusCode` 0 in the caller's error. */
export interface StreamHandle {
  abort(): void;
}

/** The request settings derived from a kubeconfig, reused while they are fresh. */
interface Settings {
  at: number;
  protocol: 'http:' | 'https:';
  hostname: string;
  port: string;
  /** The server URL's own path (a proxy's prefix), without a trailing slash. */
  basePath: string;
  agent: http.Agent;
  headers: Record<string, string>;
  auth: string | undefined;
}

/** The TLS settings of a request that decide which connections it may reuse. */
const tlsFields = [
  'ca',
  'cert',
  'key',
  'pfx',
  'passphrase',
  'rejectUnauthorized',
  'servername',
] as const satisfies readonly (keyof https.RequestOptions)[];

export interface ApiTransportOptions {
  /** How long applied credentials are reused. Default 1,000 ms. */
  credentialTtlMs?: number;
  /** Milliseconds now; for tests. */
  now?: () => number;
}

/**
 * Whether the current user's credentials must be asked for on every request: an `exec`
 * plugin or an auth provider other than client-node's token file (the in-cluster service
 * account). Pure.
 */
export function credentialsPerRequest(user: k8s.User | null | undefined): boolean {
  if (!user) return false;
  if (user.exec) return true;
  const provider = user.authProvider as { config?: { tokenFile?: string } } | undefined;
  return provider !== undefined && !provider.config?.tokenFile;
}

export class ApiTransport {
  readonly #kubeConfig: k8s.KubeConfig;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #plainAgent = new http.Agent({ keepAlive: true });
  #settings: Settings | undefined;
  #refreshing: Promise<Settings> | undefined;
  #tls: { values: unknown[]; agent: https.Agent } | undefined;

  constructor(kubeConfig: k8s.KubeConfig, options: ApiTransportOptions = {}) {
    this.#kubeConfig = kubeConfig;
    this.#ttlMs = options.credentialTtlMs ?? 1_000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Sends one request (`path` with its query string) and reads the whole response. Rejects
   * only when no response came (connection refused, TLS failure, `timeoutMs` passed).
   */
  async send(
    method: string,
    path: string,
    body: { text: string; contentType: string } | undefined,
    timeoutMs: number,
  ): Promise<RawResponse> {
    const settings = await this.#current();
    const headers: Record<string, string> = { ...settings.headers, Accept: 'application/json' };
    if (body) {
      headers['Content-Type'] = body.contentType;
      headers['Content-Length'] = String(Buffer.byteLength(body.text));
    }
    const transport = settings.protocol === 'http:' ? http : https;
    return await new Promise<RawResponse>((resolve, reject) => {
      const req = transport.request(
        {
          method,
          hostname: settings.hostname,
          port: settings.port,
          path: settings.basePath + path,
          headers,
          agent: settings.agent,
          auth: settings.auth,
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () =>
            resolve({
              statusCode: res.statusCode ?? 0,
              statusMessage: res.statusMessage ?? '',
              text: (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8'),
            }),
          );
        },
      );
      req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body?.text);
    });
  }

  /**
   * Opens a streaming GET (a watch) and calls `onLine` with each newline-terminated line of
   * its body. `onEnd` is called exactly once: with null when the server ends the stream or
   * the handle aborts it, with an error when it fails — a non-2xx answer becomes an error
   * carrying `statusCode` and the server's message.
   */
  async stream(
    path: string,
    onLine: (line: string) => void,
    onEnd: (error: Error | null) => void,
  ): Promise<StreamHandle> {
    const settings = await this.#current();
    const transport = settings.protocol === 'http:' ? http : https;
    let ended = false;
    let aborted = false;
    const end = (error: Error | null) => {
      if (ended) return;
      ended = true;
      onEnd(aborted ? null : error);
    };
    const req = transport.request(
      {
        method: 'GET',
        hostname: settings.hostname,
        port: settings.port,
        path: settings.basePath + path,
        headers: { ...settings.headers, Accept: 'application/json' },
        agent: settings.agent,
        auth: settings.auth,
      },
      (res) => {
        res.setEncoding('utf8');
        const code = res.statusCode ?? 0;
        if (code < 200 || code >= 300) {
          let text = '';
          res.on('data', (chunk: string) => {
            if (text.length < 4096) text += chunk;
          });
          res.on('end', () => end(streamError(code, res.statusMessage ?? '', text)));
          res.on('error', (error) => end(error));
          return;
        }
        let partial = '';
        res.on('data', (chunk: string) => {
          let start = 0;
          let newline = chunk.indexOf('\n');
          while (newline >= 0 && !aborted) {
            const line = partial + chunk.slice(start, newline);
            partial = '';
            if (line.length > 0) onLine(line);
            start = newline + 1;
            newline = chunk.indexOf('\n', start);
          }
          partial += chunk.slice(start);
        });
        res.on('end', () => {
          if (partial.length > 0 && !aborted) onLine(partial);
          end(null);
        });
        res.on('error', (error) => end(error));
        res.on('close', () => end(null));
      },
    );
    req.on('error', (error) => end(error));
    req.end();
    return {
      abort: () => {
        aborted = true;
        req.destroy();
        end(null);
      },
    };
  }

  /** The settings, refreshed when older than the TTL (or on every call, see the header). */
  async #current(): Promise<Settings> {
    const settings = this.#settings;
    if (
      settings &&
      this.#now() - settings.at < this.#ttlMs &&
      !credentialsPerRequest(this.#kubeConfig.getCurrentUser())
    )
      return settings;
    this.#refreshing ??= this.#apply().finally(() => {
      this.#refreshing = undefined;
    });
    return await this.#refreshing;
  }

  async #apply(): Promise<Settings> {
    const cluster = this.#kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('The kubeconfig has no current cluster');
    const server = new URL(cluster.server);
    const options: https.RequestOptions = { headers: {} };
    await this.#kubeConfig.applyToHTTPSOptions(options);
    const protocol = server.protocol === 'http:' ? 'http:' : 'https:';
    const agent = cluster.proxyUrl
      ? (options.agent as http.Agent)
      : protocol === 'http:'
        ? this.#plainAgent
        : this.#agentFor(options);
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(options.headers ?? {}))
      if (value !== undefined) headers[key] = String(value);
    this.#settings = {
      at: this.#now(),
      protocol,
      hostname: server.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: server.port,
      basePath: server.pathname.replace(/\/$/, ''),
      agent,
      headers,
      auth: typeof options.auth === 'string' ? options.auth : undefined,
    };
    return this.#settings;
  }

  /** The keep-alive agent for this TLS material, replacing the previous one if it differs. */
  #agentFor(options: https.RequestOptions): https.Agent {
    const values = tlsFields.map((field) => options[field]);
    const current = this.#tls;
    if (current && values.every((value, i) => sameValue(value, current.values[i])))
      return current.agent;
    const settings: https.AgentOptions = { keepAlive: true };
    tlsFields.forEach((field, i) => {
      if (values[i] !== undefined) Object.assign(settings, { [field]: values[i] });
    });
    this.#tls = { values, agent: new https.Agent(settings) };
    // Close the replaced agent's idle sockets; in-flight requests and watches finish on theirs.
    for (const sockets of Object.values(current?.agent.freeSockets ?? {}))
      for (const socket of sockets ?? []) socket.destroy();
    return this.#tls.agent;
  }
}

/** The error of a stream the server refused: its HTTP status and the Status message. */
function streamError(code: number, statusMessage: string, text: string): Error {
  let message = statusMessage || http.STATUS_CODES[code] || 'error';
  try {
    const status = JSON.parse(text) as { message?: string };
    if (status.message) message = status.message;
  } catch {
    // Not a Status object: keep the HTTP status text.
  }
  return Object.assign(new Error(message), { statusCode: code });
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((v, i) => sameValue(v, b[i]));
  return a === b;
}
