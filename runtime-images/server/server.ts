/**
 * The inference server's HTTP side (node:http, no framework): routing, body limits, request
 * IDs, micro-batched prediction, metrics, the request log, feedback and graceful shutdown.
 *
 * Routes (KServe V1, Open Inference Protocol V2, and Lathe's own):
 *
 *   GET  /v2/health/live                                    200 while the process serves HTTP
 *   GET  /v2/health/ready                                   200 ready / 400 not (spec: 4xx = false)
 *   GET  /v2                                                server metadata
 *   GET  /v2/models/<m>[/versions/<v>]                      model metadata
 *   GET  /v2/models/<m>[/versions/<v>]/ready                200 / 400
 *   POST /v2/models/<m>[/versions/<v>]/infer                inference
 *   POST /v2/models/<m>[/versions/<v>]/explain              inference + explanations (Lathe's)
 *   GET  /v1/models                                         {"models": [<m>]}
 *   GET  /v1/models/<m>                                     {"name", "ready"} (503 when not ready)
 *   POST /v1/models/<m>:predict                             {"instances"} → {"predictions"}
 *   POST /v1/models/<m>:explain                             … → {"predictions", "explanations"}
 *   POST /v1/models/<m>:feedback                            ground truth for an earlier request
 *   GET  /metrics                                           Prometheus
 *
 * Every response carries `x-request-id`, minted here for every request (a random UUID): labels
 * attach to it, so no client may choose it. A client's own `x-request-id` (or
 * `x-correlation-id`) is kept only for correlation: echoed as `x-correlation-id`, written with
 * the sampled request and in log lines. `:feedback` needs a bearer token (`feedback-token.ts`)
 * and takes the first label of a request only (`feedback.ts`). Errors
 * are `{"error": "<message>"}`: 400 for a malformed or wrongly shaped request (also JSON nested
 * too deep, too many rows, a tensor too large), 404 for an unknown model, version or path, 405
 * for a wrong method, 408 for headers or a body that did not arrive in time, 413 for a body over
 * the limit, 415 for a body not declared `application/json`, 431 for headers too large, 503
 * (with `Retry-After`) while the model is not loaded or too many predictions are in flight;
 * for `:feedback` also 401 (no or a wrong token), 403 (feedback disabled: no token configured)
 * and 409 (the request already has a label); for explain also 400 for more rows than
 * `spec.explain.maxRows`, 501 for an artifact without an explanation background and 504 for an
 * explanation that overran `spec.explain.timeoutSeconds` (`explain.ts`).
 * No request can crash the process: every handler's failure ends as a response, and an
 * unexpected one is a 500 that says `internal error` and the request ID, never the cause (that
 * goes to the log).
 *
 * Connection limits are set here on purpose, not left at Node's defaults (60 s for headers,
 * 300 s per request, checked every 30 s): a client trickling headers or a body is cut off after
 * `headersTimeoutMs` / `bodyTimeoutMs` with a 408, and `requestTimeoutMs` is the backstop for
 * any request.
 *
 * Shutdown is bounded: requests still in flight `drainTimeoutMs` after the listener closed are
 * answered 503 (with `Retry-After`) and their connections closed, so one slow client cannot keep
 * the pod past its grace period (`main.ts` then flushes the logs, bounded too).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import type { FeedbackLabels, SampledRequest } from '../../contract/feedback-log.js';
import { Batcher } from './batcher.js';
import {
  backgroundSubset,
  DEFAULT_EXPLAIN_LIMITS,
  type ExplainLimits,
  ExplainTimeoutError,
  explainRows,
} from './explain.js';
import {
  LiveScore,
  mintRequestId,
  parseFeedback,
  RecentRequests,
  type RecentRequestsLimits,
  type RememberedRequest,
  scoreRows,
} from './feedback.js';
import { type FeedbackAuthorizer, FeedbackTokenFile } from './feedback-token.js';
import {
  checkJsonContentType,
  DEFAULT_MAX_JSON_DEPTH,
  parseJsonBody,
  UnsupportedMediaTypeError,
} from './json-body.js';
import type { JsonLinesSink } from './json-lines-sink.js';
import type { Protocol, ServerMetrics } from './metrics.js';
import type { ServedModel } from './model.js';
import { loggableRecords } from './pii.js';
import { predictionsOf } from './predictions.js';
import {
  BadRequestError,
  DEFAULT_REQUEST_LIMITS,
  type PreparedRows,
  type RequestLimits,
} from './rows.js';
import { parseV1Predict, v1ExplainResponse, v1PredictResponse } from './v1.js';
import { parseV2Infer, v2InferResponse, v2InferResponseBody, v2ModelMetadata } from './v2.js';

export const SERVER_NAME = 'lathe-server';
export const SERVER_VERSION = '0.1.0';

export interface InferenceServerOptions {
  modelName: string;
  modelVersion: string;
  port: number;
  bindAddress: string;
  batchMaxSize: number;
  batchMaxLatencyMs: number;
  maxRequestBytes: number;
  /** Fraction of prediction requests written to `requestLog`. */
  requestLogSampleRate: number;
  /** After `shutdown()` starts, how long to keep answering before closing the listener. */
  shutdownDelayMs: number;
  /**
   * After the listener closed, how long requests in flight may take before they are answered
   * 503 and their connections closed (default 15 s).
   */
  drainTimeoutMs?: number;
  metrics: ServerMetrics;
  log: Logger;
  requestLog?: JsonLinesSink | undefined;
  labelLog?: JsonLinesSink | undefined;
  /** What is remembered for feedback (default `DEFAULT_RECENT_REQUESTS_LIMITS`). */
  recentRequests?: Partial<RecentRequestsLimits>;
  /** Who may submit labels (`FeedbackTokenFile`); unset, feedback is disabled (403). */
  feedbackToken?: FeedbackAuthorizer;
  /** Labelled rows the live score covers (default 1,000). */
  liveScoreWindow?: number;
  random?: () => number;
  /** Input and connection limits; each defaults to `DEFAULT_SERVER_LIMITS`. */
  limits?: Partial<ServerLimits>;
  /** What one explain request may cost; each defaults to `DEFAULT_EXPLAIN_LIMITS`. */
  explain?: Partial<ExplainLimits>;
}

/** What one client can make the server hold or compute; see docs/server.md. */
export interface ServerLimits extends RequestLimits {
  /** Deepest nesting of arrays and objects in a JSON body. */
  maxJsonDepth: number;
  /** Prediction requests being received, queued or computed beyond which new ones get 503. */
  maxInFlight: number;
  /** Longest the headers of a request may take to arrive (then 408). */
  headersTimeoutMs: number;
  /** Longest a prediction's body may take to arrive once its headers have (then 408). */
  bodyTimeoutMs: number;
  /** Longest any whole request may take to arrive (then 408): the backstop. */
  requestTimeoutMs: number;
  /** How long an idle kept-alive connection stays open. */
  keepAliveTimeoutMs: number;
  /** Requests answered on one connection before it is closed (0: no limit). */
  maxRequestsPerSocket: number;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  ...DEFAULT_REQUEST_LIMITS,
  maxJsonDepth: DEFAULT_MAX_JSON_DEPTH,
  maxInFlight: 128,
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 30_000,
  requestTimeoutMs: 60_000,
  keepAliveTimeoutMs: 65_000,
  maxRequestsPerSocket: 1000,
};

/** Headers beyond this many are ignored (Node's default is 2000). */
const MAX_HEADERS_COUNT = 100;
/** Header bytes beyond this are refused with 431. */
const MAX_HEADER_BYTES = 16 * 1024;
/**
 * After a body is refused (408, 413), how long the connection keeps discarding what the client
 * still sends before it is closed: closing at once would reset the connection and could destroy
 * the answer before the client reads it.
 */
const REFUSED_BODY_LINGER_MS = 2000;
/** Seconds a client is asked to wait before retrying a 503. */
const RETRY_AFTER_SECONDS = 1;
export const DEFAULT_DRAIN_TIMEOUT_MS = 15_000;
/** After the drain deadline's 503s, how long connections get to close before they are cut. */
const SHUTDOWN_ANSWER_GRACE_MS = 500;

/** An error answered with its status and message. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Whether the connection is closed after the answer (the body was not read to its end). */
    readonly closeConnection = false,
    /** Headers the answer carries. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** A client's correlation ID as it is echoed and logged. */
const CORRELATION_ID = /^[A-Za-z0-9._:/+=-]{1,128}$/;

/** A route that runs the model: predict (V1 `:predict`, V2 `/infer`) or explain. */
interface PredictionRoute {
  kind: 'predict' | 'explain';
  protocol: Protocol;
}

export class InferenceServer {
  private model: ServedModel | undefined;
  private batcher: Batcher<PreparedRows, Float32Array> | undefined;
  private draining = false;
  private arrivals = 0;
  private inFlight = 0;
  private readonly server: http.Server;
  private readonly recent: RecentRequests;
  private readonly liveScore: LiveScore;
  private readonly requestCounters = new Map<string, ReturnType<Counter['labels']>>();
  /** Metric children bound to this model's labels once, not hashed per request. */
  private readonly bound: {
    inFlight: ReturnType<ServerMetrics['inFlight']['labels']>;
    latency: Record<Protocol, ReturnType<ServerMetrics['latency']['labels']>>;
    explainLatency: Record<Protocol, ReturnType<ServerMetrics['explainLatency']['labels']>>;
  };
  private readonly explainLimits: ExplainLimits;
  private readonly random: () => number;
  private drained: (() => void) | undefined;
  private readonly limits: ServerLimits;
  /** Requests being answered, with their request IDs: what a drain waits for. */
  private readonly active = new Map<http.ServerResponse, string>();
  private readonly feedbackToken: FeedbackAuthorizer;

  constructor(private readonly options: InferenceServerOptions) {
    this.recent = new RecentRequests(options.recentRequests);
    this.feedbackToken = options.feedbackToken ?? new FeedbackTokenFile(undefined);
    this.liveScore = new LiveScore(options.liveScoreWindow ?? 1000);
    this.random = options.random ?? Math.random;
    const limits = { ...DEFAULT_SERVER_LIMITS, ...options.limits };
    this.limits = limits;
    this.explainLimits = { ...DEFAULT_EXPLAIN_LIMITS, ...options.explain };
    this.server = http.createServer(
      {
        keepAliveTimeout: limits.keepAliveTimeoutMs,
        headersTimeout: limits.headersTimeoutMs,
        requestTimeout: limits.requestTimeoutMs,
        // Node checks both timeouts on this interval (default 30 s): a quarter of the shorter
        // one keeps a trickling client's overstay under 25% of its timeout.
        connectionsCheckingInterval: Math.max(
          10,
          Math.min(
            1000,
            Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 4),
          ),
        ),
        maxHeaderSize: MAX_HEADER_BYTES,
      },
      (req, res) => {
        this.handle(req, res).catch((error: unknown) => {
          // `handle` answers its own errors; this is the last line of defence.
          options.log.error({ err: error }, 'Failed to answer a request');
          if (!res.headersSent) {
            res.writeHead(500, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ error: 'internal error' }));
          } else res.destroy();
        });
      },
    );
    this.server.maxHeadersCount = MAX_HEADERS_COUNT;
    this.server.maxRequestsPerSocket = limits.maxRequestsPerSocket;
    this.server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
      const inResponse = (socket as { _httpMessage?: http.ServerResponse })._httpMessage;
      if (!socket.writable || inResponse?.headersSent || error.code === 'ECONNRESET') {
        socket.destroy();
        return;
      }
      const [status, reason, message] =
        error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'Request Timeout', 'the request did not arrive in time']
          : error.code === 'HPE_HEADER_OVERFLOW'
            ? [
                431,
                'Request Header Fields Too Large',
                `the request headers are over the limit of ${MAX_HEADER_BYTES} bytes`,
              ]
            : [400, 'Bad Request', 'the request is not valid HTTP/1.1'];
      const body = JSON.stringify({ error: message });
      socket.end(
        `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    });
    const labels = { model: options.modelName, version: options.modelVersion };
    options.metrics.ready.set(labels, 0);
    const { inFlight, latency, explainLatency } = options.metrics;
    this.bound = {
      inFlight: inFlight.labels(labels),
      latency: {
        v1: latency.labels({ ...labels, protocol: 'v1' }),
        v2: latency.labels({ ...labels, protocol: 'v2' }),
      },
      explainLatency: {
        v1: explainLatency.labels({ ...labels, protocol: 'v1' }),
        v2: explainLatency.labels({ ...labels, protocol: 'v2' }),
      },
    };
  }

  /** Starts listening; returns the port. The server is live, not ready. */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.bindAddress, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  /** Serves `model` from now on: the server becomes ready. */
  setModel(model: ServedModel): void {
    this.model = model;
    const labels = { model: this.options.modelName, version: this.options.modelVersion };
    this.batcher = new Batcher<PreparedRows, Float32Array>({
      maxBatchSize: this.options.batchMaxSize,
      maxLatencyMs: this.options.batchMaxLatencyMs,
      arrivalsPending: () => this.arrivals,
      onBatch: (size) => this.options.metrics.batchRequests.observe(labels, size),
      run: (items) => this.runBatch(model, items),
    });
    if (!this.draining) this.options.metrics.ready.set(labels, 1);
  }

  get ready(): boolean {
    return this.model !== undefined && !this.draining;
  }

  /** Requests being received, queued or computed. */
  get requestsInFlight(): number {
    return this.inFlight;
  }

  /**
   * Graceful shutdown, bounded in time: readiness goes false at once; requests are still
   * answered (with `Connection: close`) for `shutdownDelayMs` so that endpoints drop this pod
   * first; then the listener closes, idle connections are closed, and requests in flight get
   * `drainTimeoutMs` to finish. Those still unanswered then are answered 503 with `Retry-After`
   * (a retry reaches another replica) and every connection is closed. Resolves with how many
   * requests the deadline cut short.
   */
  async shutdown(): Promise<{ unanswered: number }> {
    if (!this.draining) {
      this.draining = true;
      this.options.metrics.ready.set(
        { model: this.options.modelName, version: this.options.modelVersion },
        0,
      );
      this.options.log.info(
        { inFlight: this.inFlight, delayMs: this.options.shutdownDelayMs },
        'Stopped reporting ready; draining',
      );
    }
    await new Promise((r) => setTimeout(r, this.options.shutdownDelayMs));
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    let unanswered = 0;
    if (this.active.size > 0) {
      const drained = new Promise<void>((resolve) => (this.drained = resolve));
      const drainTimeoutMs = this.options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
      if (!(await settlesWithin(drained, drainTimeoutMs))) {
        unanswered = this.active.size;
        this.options.log.warn(
          { unanswered, drainTimeoutMs, requestIds: [...this.active.values()].slice(0, 20) },
          'Requests still in flight at the drain deadline; answering them 503 and closing',
        );
        for (const [res, requestId] of this.active) this.refuseAtShutdown(res, requestId);
        if (!(await settlesWithin(closed, SHUTDOWN_ANSWER_GRACE_MS))) {
          this.server.closeAllConnections();
        }
      }
    }
    this.server.closeIdleConnections();
    await closed;
    return { unanswered };
  }

  /** Answers a request the drain deadline cut short: 503, retry elsewhere, connection closed. */
  private refuseAtShutdown(res: http.ServerResponse, requestId: string): void {
    if (res.headersSent) return;
    res.setHeader('retry-after', String(RETRY_AFTER_SECONDS));
    this.sendError(
      res,
      requestId,
      new HttpError(
        503,
        'the server is shutting down and could not finish this request in time; retry it',
        true,
      ),
    );
  }

  /**
   * One forward pass over the rows of `items`, split back per item. Synchronous when the model
   * is (TensorFlow.js: no promise, no extra turn of the event loop); a promise when it is not
   * (ONNX Runtime runs off the JavaScript thread, and requests arriving meanwhile gather into
   * the next batch).
   */
  private runBatch(
    model: ServedModel,
    items: PreparedRows[],
  ): Float32Array[] | Promise<Float32Array[]> {
    let rows = 0;
    for (const item of items) rows += item.rows;
    let features: Float32Array;
    if (items.length === 1) features = items[0]!.features;
    else {
      features = new Float32Array(rows * model.featureCount);
      let offset = 0;
      for (const item of items) {
        features.set(item.features, offset);
        offset += item.features.length;
      }
    }
    this.options.metrics.batchRows.observe(
      { model: this.options.modelName, version: this.options.modelVersion },
      rows,
    );
    const outputs = model.predict(features, rows);
    if (outputs instanceof Float32Array) return splitOutputs(model, items, outputs);
    return outputs.then((values) => splitOutputs(model, items, values));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const requestId = mintRequestId();
    const correlationId = correlationIdOf(req);
    if (correlationId !== undefined) res.setHeader('x-correlation-id', correlationId);
    this.active.set(res, requestId);
    try {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const path = q === -1 ? url : url.slice(0, q);
      const route = this.route(req.method ?? 'GET', path);
      if (route.kind !== 'other') {
        await this.predict(req, res, requestId, correlationId, route);
        return;
      }
      try {
        await route.answer(req, res, requestId);
      } catch (error) {
        this.sendError(res, requestId, error, correlationId);
      }
    } finally {
      this.active.delete(res);
      if (this.active.size === 0 && this.drained) {
        this.drained();
        this.drained = undefined;
      }
    }
  }

  /** Finds the handler of `method path`; unknown paths and methods answer 404 / 405. */
  private route(
    method: string,
    path: string,
  ):
    | PredictionRoute
    | {
        kind: 'other';
        answer: (
          req: http.IncomingMessage,
          res: http.ServerResponse,
          id: string,
        ) => Promise<void> | void;
      } {
    const other = (
      allowed: string,
      answer: (
        req: http.IncomingMessage,
        res: http.ServerResponse,
        id: string,
      ) => Promise<void> | void,
    ) => ({
      kind: 'other' as const,
      answer:
        method === allowed
          ? answer
          : (_req: http.IncomingMessage, res: http.ServerResponse) => {
              res.setHeader('allow', allowed);
              throw new HttpError(405, `${method} is not allowed on ${path}; use ${allowed}`);
            },
    });

    if (path === '/v2/health/live')
      return other('GET', (_q, res, id) => this.sendEmpty(res, id, 200));
    if (path === '/v2/health/ready') {
      return other('GET', (_q, res, id) => this.sendEmpty(res, id, this.ready ? 200 : 400));
    }
    if (path === '/v2' || path === '/v2/') {
      return other('GET', (_q, res, id) =>
        this.sendJson(res, id, 200, { name: SERVER_NAME, version: SERVER_VERSION, extensions: [] }),
      );
    }
    if (path === '/metrics') return other('GET', (_q, res, id) => this.sendMetrics(res, id));
    if (path === '/v1/models') {
      return other('GET', (_q, res, id) =>
        this.sendJson(res, id, 200, { models: [this.options.modelName] }),
      );
    }

    const v2 = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(\/ready|\/infer|\/explain)?$/.exec(
      path,
    );
    if (v2) {
      const [, name, version, action] = v2;
      if (action === '/infer' || action === '/explain') {
        if (method !== 'POST') return other('POST', () => undefined);
        const kind = action === '/infer' ? 'predict' : 'explain';
        return { kind, protocol: 'v2', ...this.modelRef(name!, version) };
      }
      return other('GET', (_q, res, id) => {
        this.checkModel(name!, version);
        if (action === '/ready') return this.sendEmpty(res, id, this.ready ? 200 : 400);
        this.sendJson(res, id, 200, v2ModelMetadata(this.loadedModel()));
      });
    }

    const v1 = /^\/v1\/models\/([^/:]+)(:predict|:explain|:feedback)?$/.exec(path);
    if (v1) {
      const [, name, verb] = v1;
      if (verb === ':predict' || verb === ':explain') {
        if (method !== 'POST') return other('POST', () => undefined);
        const kind = verb === ':predict' ? 'predict' : 'explain';
        return { kind, protocol: 'v1', ...this.modelRef(name!, undefined) };
      }
      if (verb === ':feedback') {
        return other('POST', (req, res, id) => this.feedback(req, res, id, name!));
      }
      return other('GET', (_q, res, id) => {
        this.checkModel(name!, undefined);
        this.sendJson(res, id, this.ready ? 200 : 503, {
          name: this.options.modelName,
          ready: this.ready,
        });
      });
    }
    return other(method, () => {
      throw new HttpError(404, `${path} is not an endpoint of this server`);
    });
  }

  /** The route's model name and version, checked when the request is answered. */
  private modelRef(name: string, version: string | undefined): { name: string; version?: string } {
    return version === undefined ? { name } : { name, version };
  }

  private checkModel(rawName: string, rawVersion: string | undefined): void {
    const name = safeDecode(rawName);
    if (name !== this.options.modelName) {
      throw new HttpError(
        404,
        `model "${name}" is not served here; this server serves "${this.options.modelName}"`,
      );
    }
    if (rawVersion !== undefined) {
      const version = safeDecode(rawVersion);
      if (version !== this.options.modelVersion) {
        throw new HttpError(
          404,
          `version "${version}" of model "${name}" is not served here; this server serves version "${this.options.modelVersion}"`,
        );
      }
    }
  }

  private loadedModel(): ServedModel {
    if (!this.model) throw new HttpError(503, `model "${this.options.modelName}" is still loading`);
    return this.model;
  }

  private async predict(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    requestId: string,
    correlationId: string | undefined,
    route: PredictionRoute & { name?: string; version?: string },
  ): Promise<void> {
    const started = performance.now();
    if (this.inFlight >= this.limits.maxInFlight) {
      res.setHeader('retry-after', String(RETRY_AFTER_SECONDS));
      this.sendJson(res, requestId, 503, {
        error: `the server has ${this.inFlight} predictions in flight, its limit; retry after ${RETRY_AFTER_SECONDS} s`,
      });
      this.requestCounter(route, 503).inc();
      return;
    }
    this.inFlight++;
    this.bound.inFlight.inc();
    let status = 500;
    try {
      this.arrivals++;
      let body: unknown;
      try {
        this.checkModel(route.name ?? '', route.version);
        body = await this.readJson(req);
      } finally {
        this.arrivals--;
        this.batcher?.poke();
      }
      const model = this.loadedModel();
      const batcher = this.batcher!;
      if (route.kind === 'explain') {
        const answer = await this.explain(model, body, route.protocol, requestId);
        status = 200;
        this.sendBody(res, requestId, 200, answer);
      } else if (route.protocol === 'v1') {
        const rows = parseV1Predict(model, body, this.limits);
        const outputs = await batcher.submit(rows);
        const predictions = predictionsOf(model.schema, outputs, rows.rows, model.outputWidth);
        status = 200;
        this.sendBody(res, requestId, 200, v1PredictResponse(predictions));
        this.afterPrediction(requestId, correlationId, 'v1', model, rows, outputs);
      } else {
        const request = parseV2Infer(model, body, this.limits);
        const outputs = await batcher.submit(request.rows);
        status = 200;
        this.sendBody(
          res,
          requestId,
          200,
          v2InferResponse(
            model,
            request.id ?? requestId,
            outputs,
            request.rows.rows,
            request.outputs,
            requestId,
          ),
        );
        this.afterPrediction(
          requestId,
          correlationId ?? request.id,
          'v2',
          model,
          request.rows,
          outputs,
        );
      }
    } catch (error) {
      status = this.sendError(res, requestId, error, correlationId);
    } finally {
      this.inFlight--;
      this.bound.inFlight.dec();
      this.requestCounter(route, status).inc();
      const latency = route.kind === 'explain' ? this.bound.explainLatency : this.bound.latency;
      latency[route.protocol].observe((performance.now() - started) / 1000);
    }
  }

  /**
   * `:explain` / `/explain`: the body read as predict reads it (one parser, the same 400s), at
   * most `maxRows` rows (else 400), an artifact with a background (else 501), then the model's
   * outputs (the predictions, as predict answers them) and each row's Shapley values within
   * `timeoutMs` (else 504). Returns the response's JSON text. Explain requests are neither
   * remembered for feedback nor sampled into the request log.
   */
  private async explain(
    model: ServedModel,
    body: unknown,
    protocol: Protocol,
    requestId: string,
  ): Promise<string> {
    const limits = this.explainLimits;
    const v2 = protocol === 'v2' ? parseV2Infer(model, body, this.limits) : undefined;
    const rows = v2 ? v2.rows : parseV1Predict(model, body, this.limits);
    if (rows.rows > limits.maxRows) {
      throw new HttpError(
        400,
        `the request has ${rows.rows} rows; explain takes at most ${limits.maxRows} rows per request (spec.explain.maxRows)`,
      );
    }
    if (!model.background) {
      throw new HttpError(
        501,
        `version ${model.version} of model "${model.name}" has no explanation background (background.json) in its artifact, so it cannot be explained; retrain it with this version of Lathe to get explanations (predictions are served as before)`,
      );
    }
    const started = performance.now();
    const outputs = await model.predict(rows.features, rows.rows);
    let explanations: object[];
    try {
      explanations = await explainRows(
        model,
        rows,
        backgroundSubset(model.background, limits.backgroundRows),
        {
          kernelSamples: limits.kernelSamples,
          deadline: started + limits.timeoutMs,
          now: () => performance.now(),
          betweenRows: () => new Promise((resolve) => setImmediate(resolve)),
        },
      );
    } catch (error) {
      if (!(error instanceof ExplainTimeoutError)) throw error;
      throw new HttpError(
        504,
        `the explanation of ${rows.rows} row${rows.rows === 1 ? '' : 's'} did not finish within ${limits.timeoutMs} ms (spec.explain.timeoutSeconds); explain fewer rows per request, or lower spec.explain.backgroundRows or kernelSamples`,
      );
    }
    if (!v2) {
      return v1ExplainResponse(
        predictionsOf(model.schema, outputs, rows.rows, model.outputWidth),
        explanations,
      );
    }
    return JSON.stringify({
      ...v2InferResponseBody(model, v2.id ?? requestId, outputs, rows.rows, v2.outputs, requestId),
      explanations,
    });
  }

  /**
   * Remembers the request for feedback (unless feedback is disabled for good: no token file, so
   * no label could ever attach to it) and samples it into the request log. With neither, a
   * prediction costs nothing here (it was ~5% of the server's CPU at concurrency 8).
   */
  private afterPrediction(
    requestId: string,
    correlationId: string | undefined,
    protocol: Protocol,
    model: ServedModel,
    rows: PreparedRows,
    outputs: Float32Array,
  ): void {
    const remember = this.feedbackToken.enabled !== false;
    const log = this.options.requestLog;
    const sampled =
      log !== undefined &&
      this.options.requestLogSampleRate > 0 &&
      this.random() < this.options.requestLogSampleRate;
    if (!remember && !sampled) return;
    const remembered: RememberedRequest = {
      rows: rows.rows,
      features: rows.features,
      outputs,
      // Kept and logged without raw personal data (`pii.ts`).
      records: loggableRecords(model.piiRedaction, rows.records),
    };
    if (remember) this.recent.remember(requestId, remembered);
    if (!log || !sampled) return;
    const record: SampledRequest = {
      requestId,
      ...(correlationId !== undefined ? { correlationId } : {}),
      time: new Date().toISOString(),
      model: model.name,
      modelVersion: model.version,
      protocol,
      ...rowsOf(model, remembered),
    };
    log.add(record);
  }

  /**
   * `POST …:feedback`: the bearer token first (401 / 403, before the body is read), then the
   * submission (`parseFeedback`: the model's classes or finite numbers, one per row), then
   * first label wins (409 for a request already labelled on this replica).
   */
  private async feedback(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    requestId: string,
    modelName: string,
  ): Promise<void> {
    const { metrics, log } = this.options;
    const labels = { model: this.options.modelName, version: this.options.modelVersion };
    const authorization = await this.feedbackToken.authorize(req.headers.authorization);
    if (!authorization.allowed) {
      metrics.feedbackRefused.inc({
        ...labels,
        reason: authorization.status === 401 ? 'unauthorized' : 'disabled',
      });
      throw new HttpError(
        authorization.status,
        authorization.message,
        true,
        authorization.status === 401 ? { 'www-authenticate': 'Bearer realm="lathe-feedback"' } : {},
      );
    }
    this.checkModel(modelName, undefined);
    const model = this.loadedModel();
    const submission = parseFeedback(model.schema, await this.readJson(req), this.limits.maxRows);
    const target = this.recent.find(submission.requestId);
    if (target.kind === 'labelled') {
      metrics.feedbackRefused.inc({ ...labels, reason: 'conflict' });
      log.warn(
        { requestId, labelledRequestId: submission.requestId, correlationId: correlationIdOf(req) },
        'Refused a second label for a request; the first label stands',
      );
      throw new HttpError(
        409,
        `request ${submission.requestId} already has a label; the first label stands`,
      );
    }
    const remembered = target.kind === 'remembered' ? target.request : undefined;
    if (remembered && remembered.rows !== submission.labels.length) {
      throw new HttpError(
        400,
        `request ${submission.requestId} had ${remembered.rows} rows; ${submission.labels.length} labels were given`,
      );
    }
    this.recent.markLabelled(submission.requestId);
    if (remembered) {
      const scores = scoreRows(model.schema, model.outputWidth, remembered, submission.encoded);
      for (const score of scores) {
        this.liveScore.add(score);
        metrics.feedbackRows.inc({
          ...labels,
          outcome:
            model.schema.task === 'regression' ? 'scored' : score === 1 ? 'correct' : 'incorrect',
        });
      }
      const mean = this.liveScore.mean!;
      if (model.schema.task === 'regression') metrics.liveMeanAbsoluteError.set(labels, mean);
      else metrics.liveAccuracy.set(labels, mean);
    } else {
      metrics.feedbackRows.inc({ ...labels, outcome: 'unmatched' }, submission.labels.length);
    }
    const record: FeedbackLabels = {
      requestId: submission.requestId,
      time: new Date().toISOString(),
      model: model.name,
      modelVersion: model.version,
      labels: submission.labels,
      ...(remembered
        ? rowsOf(model, remembered)
        : { records: null, features: null, predictions: null }),
    };
    const stored = this.options.labelLog?.add(record) ?? false;
    this.sendJson(res, requestId, 202, {
      request_id: submission.requestId,
      rows: submission.labels.length,
      matched: remembered !== undefined,
      stored,
    });
  }

  /**
   * The request's body as JSON: declared `application/json` (else 415), within the size limit
   * (else 413) and the body timeout (else 408), nested no deeper than the limit (else 400).
   */
  private async readJson(req: http.IncomingMessage): Promise<unknown> {
    checkJsonContentType(req.headers['content-type']);
    const body = await readBody(req, this.options.maxRequestBytes, this.limits.bodyTimeoutMs);
    return parseJsonBody(body, this.limits.maxJsonDepth);
  }

  private requestCounter({ kind, protocol }: PredictionRoute, status: number) {
    const key = `${kind}:${protocol}:${status}`;
    let counter = this.requestCounters.get(key);
    if (!counter) {
      const { requests, explainRequests } = this.options.metrics;
      counter = (kind === 'explain' ? explainRequests : requests).labels(
        this.options.modelName,
        this.options.modelVersion,
        protocol,
        String(status),
      );
      this.requestCounters.set(key, counter);
    }
    return counter;
  }

  private async sendMetrics(res: http.ServerResponse, requestId: string): Promise<void> {
    const { registry } = this.options.metrics;
    const text = await registry.metrics();
    this.sendBody(res, requestId, 200, text, registry.contentType);
  }

  /**
   * Answers `error`: an HttpError with its status, a BadRequestError as 400, an
   * UnsupportedMediaTypeError as 415, anything else as 500 saying only `internal error` and the
   * request ID (the cause goes to the log, never to the client). Returns the status.
   */
  private sendError(
    res: http.ServerResponse,
    requestId: string,
    error: unknown,
    correlationId?: string,
  ): number {
    let status = 500;
    let body: object = { error: 'internal error', request_id: requestId };
    if (error instanceof HttpError) {
      status = error.status;
      body = { error: error.message };
    } else if (error instanceof BadRequestError) {
      status = 400;
      body = { error: error.message };
    } else if (error instanceof UnsupportedMediaTypeError) {
      status = 415;
      body = { error: error.message };
    } else {
      this.options.log.error(
        { err: error, requestId, correlationId },
        'Failed to answer a request',
      );
    }
    if (res.headersSent) {
      res.destroy();
      return status;
    }
    if (error instanceof HttpError) {
      for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
      if (error.closeConnection) {
        res.setHeader('connection', 'close');
        lingerBeforeClosing(res.socket);
      }
    }
    this.sendJson(res, requestId, status, body);
    return status;
  }

  private sendJson(
    res: http.ServerResponse,
    requestId: string,
    status: number,
    body: object,
  ): void {
    this.sendBody(res, requestId, status, JSON.stringify(body));
  }

  private sendEmpty(res: http.ServerResponse, requestId: string, status: number): void {
    if (res.headersSent) return;
    res.writeHead(status, this.headers(requestId, { 'content-length': '0' }));
    res.end();
  }

  private sendBody(
    res: http.ServerResponse,
    requestId: string,
    status: number,
    body: string,
    contentType = 'application/json',
  ): void {
    // Answered already: the drain deadline cut this request short (`refuseAtShutdown`).
    if (res.headersSent) return;
    res.writeHead(
      status,
      this.headers(requestId, {
        'content-type': contentType,
        'content-length': String(Buffer.byteLength(body)),
      }),
    );
    res.end(body);
  }

  private headers(requestId: string, extra: Record<string, string>): Record<string, string> {
    const headers: Record<string, string> = { 'x-request-id': requestId, ...extra };
    if (this.draining) headers.connection = 'close';
    return headers;
  }
}

/** The rows of a remembered request as the request log writes them. */
/** A batch's outputs (`rows × outputWidth`, row-major) cut into each item's rows, in order. */
function splitOutputs(
  model: ServedModel,
  items: readonly PreparedRows[],
  outputs: Float32Array,
): Float32Array[] {
  const results: Float32Array[] = new Array(items.length);
  let offset = 0;
  for (let i = 0; i < items.length; i++) {
    const size = items[i]!.rows * model.outputWidth;
    results[i] = outputs.subarray(offset, offset + size);
    offset += size;
  }
  return results;
}

function rowsOf(model: ServedModel, request: RememberedRequest) {
  const features: number[][] = new Array(request.rows);
  for (let r = 0; r < request.rows; r++) {
    features[r] = Array.from(
      request.features.subarray(r * model.featureCount, (r + 1) * model.featureCount),
    );
  }
  return {
    records: request.records,
    features,
    predictions: predictionsOf(model.schema, request.outputs, request.rows, model.outputWidth),
  };
}

/**
 * The client's own ID for a request (`x-correlation-id`, else `x-request-id`), when well-formed:
 * echoed and logged for correlation, never the request's ID.
 */
function correlationIdOf(req: http.IncomingMessage): string | undefined {
  const header = req.headers['x-correlation-id'] ?? req.headers['x-request-id'];
  return typeof header === 'string' && CORRELATION_ID.test(header) ? header : undefined;
}

/** Whether `promise` settles within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * Lets a connection whose request body was refused (its answer carries `Connection: close`)
 * half-close instead of closing at once: Node would destroy the socket right after the answer,
 * and a client still sending would get a reset that can discard the answer unread. The socket
 * sends its FIN, discards what still arrives, and closes when the client does or after
 * `REFUSED_BODY_LINGER_MS`.
 */
function lingerBeforeClosing(socket: import('node:net').Socket | null): void {
  if (!socket) return;
  socket.destroySoon = () => {
    socket.end();
    socket.resume();
    socket.once('end', () => socket.destroy());
    setTimeout(() => socket.destroy(), REFUSED_BODY_LINGER_MS).unref();
  };
}

/**
 * Reads the whole body, refusing more than `maxBytes` (413) before or while reading, and a body
 * that has not arrived within `timeoutMs` (408, a trickling client).
 */
export function readBody(
  req: http.IncomingMessage,
  maxBytes: number,
  timeoutMs = DEFAULT_SERVER_LIMITS.bodyTimeoutMs,
): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    return Promise.reject(
      new HttpError(
        413,
        `the request body is ${declared} bytes; the limit is ${maxBytes} bytes`,
        true,
      ),
    );
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (error: HttpError | undefined, body?: Buffer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) {
        chunks.length = 0;
        reject(error);
      } else resolve(body!);
    };
    const timer = setTimeout(
      () =>
        settle(
          new HttpError(
            408,
            `the request body did not arrive within ${timeoutMs} ms (${size} bytes came)`,
            true,
          ),
        ),
      timeoutMs,
    );
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > maxBytes) {
        settle(new HttpError(413, `the request body is over the limit of ${maxBytes} bytes`, true));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () =>
      settle(undefined, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)),
    );
    req.on('error', () => settle(new HttpError(400, 'the request body could not be read', true)));
    req.on('aborted', () => settle(new HttpError(400, 'the client aborted the request', true)));
  });
}
