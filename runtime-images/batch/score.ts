/**
 * Scoring a shard's records into its output part, in bounded memory: records are prepared with
 * the model's own `schema.json` (`prepareRecord`, the inference server's preparation, PII columns
 * hashed with the namespace key), run through the model 1,024 at a time (one forward pass per
 * batch, as Keras' `model.predict(batch_size=1024)`), and written out in input order as each
 * batch finishes, so the shard holds one batch of rows whatever its size.
 *
 * A row is the passthrough columns (copied raw; a missing one is null), then the outputs: for
 * classification `label` and/or `probabilities` (JSON Lines: an object class → probability; CSV:
 * one column `probability_<class>` per class), for regression `prediction`. The numbers are the
 * model's float32 outputs, as the server returns them. A record that cannot be prepared (a cell
 * that does not fit its column, a line that is not a record) is an error row in its place: the
 * passthrough columns and `error`, the reason. CSV parts (RFC 4180) have a header and an `error`
 * column, empty on scored rows.
 *
 * The part goes to a local file, hashed (sha256) as it is written: the marker records its digest
 * and size, and the upload streams it from disk.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import type { BatchOutputOptions } from '../../contract/batch.js';
import type { PiiHashing } from '../../contract/pii-hash.js';
import {
  CellError,
  csvField,
  type PreparedSchema,
  prepareRecord,
} from '../../contract/prepared-data.js';
import type { InputRecord } from './records.js';

/** Records per forward pass. */
export const PREDICT_BATCH_ROWS = 1024;

/** The model, as scoring sees it: `rows` prepared rows (row-major) in, `rows × width` outputs out. */
export type PredictBatch = (features: Float32Array, rows: number) => Promise<Float32Array>;

/** One output row, before it is encoded: cells by output column, in column order. */
type OutputRow = Map<string, unknown>;

/** The part's columns and how a row is encoded, for one format. */
export class PartFormat {
  private readonly classes: readonly string[];
  /** The CSV part's columns: passthrough, outputs, `error`. */
  readonly csvColumns: readonly string[];

  constructor(
    private readonly schema: PreparedSchema,
    readonly options: BatchOutputOptions,
  ) {
    this.classes = (schema.label.classes ?? []).map(String);
    this.csvColumns = this.csvColumnsOf();
  }

  private csvColumnsOf(): string[] {
    const outputs =
      this.schema.task === 'regression'
        ? ['prediction']
        : [
            ...(this.options.include.includes('label') ? ['label'] : []),
            ...(this.options.include.includes('probabilities')
              ? this.classes.map((c) => `probability_${c}`)
              : []),
          ];
    return [...this.options.passthroughColumns, ...outputs, 'error'];
  }

  /** What the part starts with: the CSV header line, or nothing. */
  preamble(): string {
    return this.options.format === 'csv' ? `${this.csvColumns.map(csvField).join(',')}\n` : '';
  }

  private passthroughOf(record: InputRecord): OutputRow {
    const row: OutputRow = new Map();
    for (const column of this.options.passthroughColumns) {
      const value = record.values[column];
      row.set(column, value === undefined ? null : value);
    }
    return row;
  }

  /** The line of a scored record, given its `width` outputs from `offset`. */
  scoredLine(record: InputRecord, outputs: Float32Array, offset: number, width: number): string {
    const row = this.passthroughOf(record);
    if (this.schema.task === 'regression') {
      row.set('prediction', outputs[offset]!);
    } else {
      let best = 0;
      for (let k = 1; k < width; k++) if (outputs[offset + k]! > outputs[offset + best]!) best = k;
      if (this.options.include.includes('label')) row.set('label', this.classes[best] ?? best);
      if (this.options.include.includes('probabilities')) {
        if (this.options.format === 'jsonl') {
          const probabilities: Record<string, number> = {};
          for (let k = 0; k < width; k++) probabilities[this.classes[k]!] = outputs[offset + k]!;
          row.set('probabilities', probabilities);
        } else {
          for (let k = 0; k < width; k++)
            row.set(`probability_${this.classes[k]}`, outputs[offset + k]!);
        }
      }
    }
    return this.lineOf(row);
  }

  /** The line of a record that could not be scored. */
  errorLine(record: InputRecord, error: string): string {
    const row = this.passthroughOf(record);
    row.set('error', error);
    return this.lineOf(row);
  }

  private lineOf(row: OutputRow): string {
    if (this.options.format === 'jsonl') return `${JSON.stringify(Object.fromEntries(row))}\n`;
    return `${this.csvColumns.map((column) => csvCell(row.get(column))).join(',')}\n`;
  }
}

/** A CSV cell of a value: text as is, null or missing empty, anything else as JSON. */
function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return csvField(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return csvField(JSON.stringify(value));
}

/** A part being written to a local file, hashed as it goes. */
export class PartFile {
  private readonly stream: WriteStream;
  private readonly hash = createHash('sha256');
  sizeBytes = 0;

  constructor(readonly path: string) {
    this.stream = createWriteStream(path);
  }

  /** Appends `text`, waiting while the file's buffer is full. */
  async write(text: string): Promise<void> {
    if (text === '') return;
    const bytes = Buffer.from(text, 'utf8');
    this.hash.update(bytes);
    this.sizeBytes += bytes.length;
    if (!this.stream.write(bytes)) await once(this.stream, 'drain');
  }

  /** Closes the file; its sha256 (lowercase hex) and size. */
  async close(): Promise<{ sha256: string; sizeBytes: number }> {
    this.stream.end();
    await once(this.stream, 'finish');
    return { sha256: this.hash.digest('hex'), sizeBytes: this.sizeBytes };
  }

  /** Closes the file without waiting for anything (after a failure). */
  destroy(): void {
    this.stream.destroy();
  }
}

/** What a shard's scoring counted. */
export interface ScoreCounts {
  /** Rows written, error rows included. */
  rows: number;
  failedRecords: number;
  /** The first failures, for the log. */
  failureExamples: { row: number; error: string }[];
}

const FAILURE_EXAMPLES = 5;

/**
 * Scores `records` in order into `part` (after its preamble): batches of `PREDICT_BATCH_ROWS`
 * records, each written once the model has scored it. Throws what `hashing` throws (a PII
 * column without the namespace key), the model's errors and the file's.
 */
export async function scoreRecords(
  records: AsyncIterable<InputRecord>,
  schema: PreparedSchema,
  hashing: PiiHashing,
  format: PartFormat,
  predict: PredictBatch,
  part: PartFile,
): Promise<ScoreCounts> {
  const counts: ScoreCounts = { rows: 0, failedRecords: 0, failureExamples: [] };
  const featureCount = schema.features.length;
  const width = schema.task === 'classification' ? (schema.label.classes ?? []).length : 1;
  const features = new Float32Array(PREDICT_BATCH_ROWS * featureCount);
  const scratch: number[] = [];
  /** The batch's records; each scored one with its row among the prepared ones, else its error. */
  let batch: { record: InputRecord; error?: string }[] = [];
  let prepared = 0;

  const flush = async () => {
    if (batch.length === 0) return;
    const outputs =
      prepared > 0
        ? await predict(features.subarray(0, prepared * featureCount), prepared)
        : new Float32Array(0);
    if (outputs.length !== prepared * width) {
      throw new Error(
        `the model returned ${outputs.length} values for ${prepared} rows of ${width} outputs`,
      );
    }
    let text = '';
    let next = 0;
    for (const { record, error } of batch) {
      if (error !== undefined) {
        text += format.errorLine(record, error);
        counts.failedRecords++;
        if (counts.failureExamples.length < FAILURE_EXAMPLES)
          counts.failureExamples.push({ row: counts.rows, error });
      } else {
        text += format.scoredLine(record, outputs, next++ * width, width);
      }
      counts.rows++;
    }
    await part.write(text);
    batch = [];
    prepared = 0;
  };

  for await (const record of records) {
    if (record.error !== undefined) {
      batch.push({ record, error: record.error });
    } else {
      scratch.length = 0;
      try {
        prepareRecord(schema, record.values, scratch, hashing);
      } catch (error) {
        if (!(error instanceof CellError)) throw error;
        batch.push({ record, error: error.message });
        if (batch.length >= PREDICT_BATCH_ROWS) await flush();
        continue;
      }
      if (scratch.length !== featureCount) {
        throw new Error(`prepared ${scratch.length} features, schema.json names ${featureCount}`);
      }
      features.set(scratch, prepared * featureCount);
      prepared++;
      batch.push({ record });
    }
    if (batch.length >= PREDICT_BATCH_ROWS) await flush();
  }
  await flush();
  return counts;
}
