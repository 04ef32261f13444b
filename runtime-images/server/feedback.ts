/**
 * Ground truth for earlier predictions, and live accuracy.
 *
 * Labels drive live accuracy, which can trigger retraining and promotion, so what a label may
 * attach to and say is bounded:
 *
 * - **Request IDs are minted by the server** (`mintRequestId`: a random UUID, 122 random bits),
 *   never taken from the client, so no client can choose, guess or overwrite another client's
 *   request. A label names one (`request_id`) in that form.
 * - **The first label wins**: a request, once labelled on this replica, is refused another label
 *   (409, counted as a conflict), whether or not this replica still held the request.
 * - **Labels follow the model's schema**: one of the model's classes (classification) or a
 *   finite number (regression), one per row of the request; a submission has no other fields.
 *
 * While feedback is enabled (a token file is configured), every answered prediction request is
 * remembered by its request ID in a map bounded by count and by (estimated) bytes, oldest
 * forgotten first, holding only what a label needs: the
 * prepared features, the records as `pii.ts` lets them be kept, and the outputs (copied out of
 * the batch's buffers, so a remembered request never keeps a whole batch alive). A labelled
 * request is dropped from it at once. A label for a request this replica no longer holds (or
 * never served: another replica behind the same Service did) is still stored; a reader joins
 * it with the sampled requests by `requestId`.
 *
 * The live score is over the most recent `window` labelled rows this replica scored: accuracy
 * for classification, mean absolute error for regression.
 */
import { randomUUID } from 'node:crypto';
import { CellError, encodeLabel, type PreparedSchema } from '../../contract/prepared-data.js';
import { argmax } from './predictions.js';
import { BadRequestError, isRecord } from './rows.js';

/** A new request ID: a random (version 4) UUID. */
export function mintRequestId(): string {
  return randomUUID();
}

/** The form of a request ID the server mints (lowercase, as `randomUUID` writes it). */
export const MINTED_REQUEST_ID =
  /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** What the server keeps of one answered request: what a label for it needs, nothing more. */
export interface RememberedRequest {
  rows: number;
  /** `rows × featureCount`. */
  features: Float32Array;
  /** `rows × outputWidth`. */
  outputs: Float32Array;
  /** As `pii.ts` lets them be kept (`loggableRecords`); null for a row sent prepared. */
  records: (Record<string, unknown> | null)[];
}

/** How much `RecentRequests` holds. */
export interface RecentRequestsLimits {
  /** Most requests remembered. */
  maxRequests: number;
  /** Most bytes (estimated: `rememberedBytes`) the remembered requests may take. */
  maxBytes: number;
  /** Most labelled request IDs remembered for first-label-wins (about 100 bytes each). */
  maxLabelled: number;
}

export const DEFAULT_RECENT_REQUESTS_LIMITS: RecentRequestsLimits = {
  maxRequests: 10_000,
  maxBytes: 64 * 1024 * 1024,
  maxLabelled: 50_000,
};

/** Per entry of a map, a record or an object key: a rough allowance for V8's own overhead. */
const ENTRY_OVERHEAD_BYTES = 48;

/** Bytes a JavaScript value of a record takes, estimated (strings as UTF-16). */
function valueBytes(value: unknown): number {
  if (typeof value === 'string') return 16 + 2 * value.length;
  if (value === null || typeof value !== 'object') return 8;
  return 2 * (JSON.stringify(value)?.length ?? 0) + ENTRY_OVERHEAD_BYTES;
}

/** Bytes a remembered request takes, estimated: its arrays exactly, its records roughly. */
export function rememberedBytes(request: RememberedRequest): number {
  let bytes = 3 * ENTRY_OVERHEAD_BYTES + request.features.byteLength + request.outputs.byteLength;
  for (const record of request.records) {
    bytes += 8;
    if (record === null) continue;
    bytes += ENTRY_OVERHEAD_BYTES;
    for (const key in record) {
      bytes += ENTRY_OVERHEAD_BYTES + 2 * key.length + valueBytes(record[key]);
    }
  }
  return bytes;
}

/** `array` in a buffer of its own: a view into a larger buffer would keep all of it alive. */
function ownBuffer(array: Float32Array): Float32Array {
  return array.byteOffset === 0 && array.byteLength === array.buffer.byteLength
    ? array
    : array.slice();
}

/** What a label finds for its request ID. */
export type LabelTarget =
  | { kind: 'remembered'; request: RememberedRequest }
  | { kind: 'unknown' }
  | { kind: 'labelled' };

/**
 * Request ID → the request, for the most recent requests within `RecentRequestsLimits`, and
 * the IDs already labelled (first label wins).
 */
export class RecentRequests {
  private readonly entries = new Map<string, { request: RememberedRequest; bytes: number }>();
  private readonly labelled = new Set<string>();
  private bytes = 0;
  private readonly limits: RecentRequestsLimits;

  constructor(limits: Partial<RecentRequestsLimits> = {}) {
    this.limits = { ...DEFAULT_RECENT_REQUESTS_LIMITS, ...limits };
  }

  /**
   * Remembers `request` under `requestId`, forgetting the oldest beyond the limits. False when
   * it was not kept: limits of 0, or larger on its own than the byte limit.
   */
  remember(requestId: string, request: RememberedRequest): boolean {
    if (this.limits.maxRequests <= 0) return false;
    const kept: RememberedRequest = {
      rows: request.rows,
      features: ownBuffer(request.features),
      outputs: ownBuffer(request.outputs),
      records: request.records,
    };
    const bytes = rememberedBytes(kept);
    if (bytes > this.limits.maxBytes) return false;
    this.forget(requestId);
    this.entries.set(requestId, { request: kept, bytes });
    this.bytes += bytes;
    while (this.entries.size > this.limits.maxRequests || this.bytes > this.limits.maxBytes) {
      this.forget(this.entries.keys().next().value as string);
    }
    return true;
  }

  /** What a label for `requestId` would attach to. */
  find(requestId: string): LabelTarget {
    if (this.labelled.has(requestId)) return { kind: 'labelled' };
    const entry = this.entries.get(requestId);
    return entry ? { kind: 'remembered', request: entry.request } : { kind: 'unknown' };
  }

  /** Records that `requestId` has its label: later labels are refused; its request is dropped. */
  markLabelled(requestId: string): void {
    this.forget(requestId);
    if (this.limits.maxLabelled <= 0) return;
    this.labelled.add(requestId);
    if (this.labelled.size > this.limits.maxLabelled) {
      this.labelled.delete(this.labelled.values().next().value as string);
    }
  }

  /** Requests remembered. */
  get size(): number {
    return this.entries.size;
  }

  /** Their estimated bytes. */
  get heldBytes(): number {
    return this.bytes;
  }

  private forget(requestId: string): void {
    const entry = this.entries.get(requestId);
    if (!entry) return;
    this.entries.delete(requestId);
    this.bytes -= entry.bytes;
  }
}

/** A parsed feedback submission. */
export interface FeedbackSubmission {
  requestId: string;
  /** One label per row, as the model's schema names it: a class name, or a finite number. */
  labels: (string | number)[];
  /** The same, encoded as the model's training labels (class index or number). */
  encoded: number[];
}

const SUBMISSION_FIELDS = new Set(['request_id', 'labels', 'label']);
/** Classes named in full in an error message; more are counted. */
const CLASSES_NAMED = 20;

/** The model's classes as an error message lists them. */
function classList(classes: readonly string[]): string {
  const named = classes.slice(0, CLASSES_NAMED).map((c) => JSON.stringify(c));
  const more = classes.length - named.length;
  return more > 0 ? `${named.join(', ')} and ${more} more` : named.join(', ');
}

/**
 * Reads `{"request_id": "...", "labels": [<one per row>]}` (or `"label": <value>` for a
 * one-row request): the request ID as the server minted it, at most `maxLabels` labels, each
 * one of the model's classes (classification) or a finite number (regression), and no other
 * field.
 */
export function parseFeedback(
  schema: PreparedSchema,
  body: unknown,
  maxLabels = 10_000,
): FeedbackSubmission {
  if (!isRecord(body)) {
    throw new BadRequestError(
      'the request body must be a JSON object with "request_id" and "labels"',
    );
  }
  for (const key of Object.keys(body)) {
    if (!SUBMISSION_FIELDS.has(key)) {
      throw new BadRequestError(
        `unknown field ${JSON.stringify(key)}; a submission has "request_id" and "labels" (or "label" for a one-row request), nothing else`,
      );
    }
  }
  const requestId = body.request_id;
  if (typeof requestId !== 'string' || !MINTED_REQUEST_ID.test(requestId)) {
    throw new BadRequestError(
      '"request_id" must be the request ID a prediction returned (its x-request-id header, a UUID the server minted)',
    );
  }
  if (body.labels !== undefined && body.label !== undefined) {
    throw new BadRequestError('give "labels" or "label", not both');
  }
  const labels: unknown = body.labels ?? (body.label !== undefined ? [body.label] : undefined);
  if (!Array.isArray(labels) || labels.length === 0) {
    throw new BadRequestError(
      '"labels" must be a non-empty list with one label per row of the request',
    );
  }
  if (labels.length > maxLabels) {
    throw new BadRequestError(`"labels" has ${labels.length} labels; the limit is ${maxLabels}`);
  }
  const encoded: number[] = new Array(labels.length);
  const canonical: (string | number)[] = new Array(labels.length);
  for (const [i, label] of labels.entries()) {
    if (schema.task === 'regression') {
      if (typeof label !== 'number' || !Number.isFinite(label)) {
        throw new BadRequestError(
          `labels[${i}] must be a finite number (the model predicts ${schema.label.name}, a regression)`,
        );
      }
      encoded[i] = label;
      canonical[i] = label;
      continue;
    }
    const classes = schema.label.classes ?? [];
    const known = () =>
      new BadRequestError(
        `labels[${i}]: ${JSON.stringify(label)} is not a class of the model; its classes are ${classList(classes)}`,
      );
    if (typeof label !== 'string' && typeof label !== 'number' && typeof label !== 'boolean') {
      throw known();
    }
    try {
      encoded[i] = encodeLabel(schema, label);
    } catch (error) {
      if (error instanceof CellError) throw known();
      throw error;
    }
    canonical[i] = classes[encoded[i]!]!;
  }
  return { requestId, labels: canonical, encoded };
}

/** A rolling score over the most recent labelled rows. */
export class LiveScore {
  private readonly values: number[];
  private next = 0;
  private count = 0;
  private sum = 0;

  constructor(window: number) {
    this.values = new Array(window).fill(0);
  }

  /** Adds one row's value (1/0 for correct/incorrect, or an absolute error). */
  add(value: number): void {
    if (this.count === this.values.length) this.sum -= this.values[this.next]!;
    else this.count++;
    this.values[this.next] = value;
    this.sum += value;
    this.next = (this.next + 1) % this.values.length;
  }

  /** The mean over the window; undefined before any row. */
  get mean(): number | undefined {
    return this.count === 0 ? undefined : this.sum / this.count;
  }

  get rows(): number {
    return this.count;
  }
}

/** How each labelled row compares with the prediction: 1/0 (classification) or |error|. */
export function scoreRows(
  schema: PreparedSchema,
  outputWidth: number,
  request: RememberedRequest,
  encoded: number[],
): number[] {
  return encoded.map((label, r) => {
    if (schema.task === 'regression') return Math.abs(request.outputs[r]! - label);
    return argmax(request.outputs, r * outputWidth, outputWidth) === label ? 1 : 0;
  });
}
