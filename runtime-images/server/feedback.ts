/**
 * Ground truth for earlier predictions, and live accuracy.
 *
 * Every answered prediction request is remembered by its request ID (a bounded map: the oldest
 * is forgotten first), so a label submitted later (`POST /v1/models/<name>:feedback`) can be
 * scored against what the model said and stored together with the request's rows. A label for
 * a request this replica no longer holds (or never served: another replica behind the same
 * Service did) is still stored; a reader joins it with the sampled requests by `requestId`.
 *
 * The live score is over the most recent `window` labelled rows this replica scored: accuracy
 * for classification, mean absolute error for regression.
 */
import { CellError, encodeLabel, type PreparedSchema } from '../../contract/prepared-data.js';
import { argmax } from './predictions.js';
import { BadRequestError, isRecord } from './rows.js';

/** What the server keeps of one answered request. */
export interface RememberedRequest {
  rows: number;
  /** `rows × featureCount`. */
  features: Float32Array;
  /** `rows × outputWidth`. */
  outputs: Float32Array;
  records: (Record<string, unknown> | null)[];
}

/** Request ID → the request, for the most recent `capacity` requests. */
export class RecentRequests {
  private readonly entries = new Map<string, RememberedRequest>();

  constructor(private readonly capacity: number) {}

  remember(requestId: string, request: RememberedRequest): void {
    if (this.capacity <= 0) return;
    this.entries.delete(requestId);
    this.entries.set(requestId, request);
    if (this.entries.size > this.capacity) {
      this.entries.delete(this.entries.keys().next().value as string);
    }
  }

  get(requestId: string): RememberedRequest | undefined {
    return this.entries.get(requestId);
  }

  get size(): number {
    return this.entries.size;
  }
}

/** A parsed feedback submission. */
export interface FeedbackSubmission {
  requestId: string;
  /** One raw label per row, as given. */
  labels: (string | number | boolean)[];
  /** The same, encoded as the model's training labels (class index or number). */
  encoded: number[];
}

/**
 * Reads `{"request_id": "...", "labels": [<one per row>]}` (or `"label": <value>` for a
 * one-row request). Each label must be a known class (classification) or a number (regression).
 */
export function parseFeedback(schema: PreparedSchema, body: unknown): FeedbackSubmission {
  if (!isRecord(body)) {
    throw new BadRequestError(
      'the request body must be a JSON object with "request_id" and "labels"',
    );
  }
  const requestId = body.request_id;
  if (typeof requestId !== 'string' || requestId === '') {
    throw new BadRequestError(
      '"request_id" must be the request ID a prediction returned (its x-request-id header)',
    );
  }
  let labels: unknown = body.labels;
  if (labels === undefined && body.label !== undefined) labels = [body.label];
  if (!Array.isArray(labels) || labels.length === 0) {
    throw new BadRequestError(
      '"labels" must be a non-empty list with one label per row of the request',
    );
  }
  const encoded = labels.map((label: unknown, i) => {
    if (typeof label !== 'string' && typeof label !== 'number' && typeof label !== 'boolean') {
      throw new BadRequestError(`labels[${i}] must be a string, number or boolean`);
    }
    try {
      return encodeLabel(schema, label);
    } catch (error) {
      if (error instanceof CellError) throw new BadRequestError(`labels[${i}]: ${error.message}`);
      throw error;
    }
  });
  return { requestId, labels: labels as (string | number | boolean)[], encoded };
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
