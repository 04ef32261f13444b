/**
 * Scoring a shard's records into its output part, in bounded memory: records are prepared with
 * the model's own `schema.json` (`recordPreparer`, the inference server's preparation, PII columns
 * hashed with the namespace key; a CSV line without quotes is prepared where it lies,
 * `csvLinePreparer`, its fields never cut into strings), run through the model 1,024 at a time
 * (one forward pass per batch, as Keras' `model.predict(batch_size=1024)`), and written out in
 * input order as each batch finishes, so the shard holds one batch of rows whatever its size.
 *
 * A row is the passthrough columns (copied raw; a missing one is null), then the outputs: for
 * classification `label` and/or `probabilities` (JSON Lines: an object class → probability; CSV:
 * one column `probability_<class>` per class), for regression `prediction`. The numbers are the
 * model's float32 outputs, as the server returns them. A record that cannot be prepared (a cell
 * that does not fit its column, a line that is not a record) is an error row in its place: the
 * passthrough columns and `error`, the reason. CSV parts (RFC 4180) have a header and an `error`
 * column, empty on scored rows. With `explanations` included, a scored row also gets its
 * prediction's Shapley values (`explain.ts`, called once per batch after its forward pass).
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
  type CsvLinePreparer,
  csvField,
  csvLinePreparer,
  formatNumber,
  type PreparedSchema,
  recordPreparer,
} from '../../contract/prepared-data.js';
import { type BatchExplainer, type ExplanationText, explanationCsvColumns } from './explain.js';
import { type CsvLayout, CsvLineRecord, cellOf, type InputRecord } from './records.js';

/** Records per forward pass. */
export const PREDICT_BATCH_ROWS = 1024;

/** The model, as scoring sees it: `rows` prepared rows (row-major) in, `rows × width` outputs out. */
export type PredictBatch = (features: Float32Array, rows: number) => Promise<Float32Array>;

/** Where a cell of an output line comes from. */
type CellSource =
  | { from: 'passthrough'; column: string }
  | { from: 'label' }
  | { from: 'probabilities' }
  | { from: 'probability'; k: number }
  | { from: 'prediction' }
  | { from: 'error' }
  | { from: 'explanation'; k: number }
  | { from: 'none' };

/**
 * How the lines of one kind of row are built: each cell's source after a fixed text (a JSON
 * key with its quotes and colon, or a CSV comma), then `suffix`. The keys and their order are
 * those of the row object a `Map` of the cells would give (`Object.fromEntries`: a column
 * named twice keeps its first place and its last value, integer-like keys come first), found
 * once by building that object, so each line is one string concatenation.
 */
interface LineTemplate {
  prefixes: string[];
  cells: CellSource[];
  suffix: string;
}

/**
 * How an output number is written: the shortest decimal that reads back as the same float32
 * (`formatNumber`; the model's outputs are float32, so the 17 digits of their double are
 * noise), JSON's `null` or CSV's `NaN`/`Infinity` when not finite, as before.
 */
function outputNumberText(value: number, json: boolean): string {
  if (Number.isFinite(value)) return formatNumber(value);
  return json ? 'null' : String(value);
}

/** The part's columns and how a row is encoded, for one format. */
export class PartFormat {
  private readonly classes: readonly string[];
  /** The CSV part's columns: passthrough, outputs, `error`. */
  readonly csvColumns: readonly string[];
  private readonly json: boolean;
  private readonly errorTemplate: LineTemplate;
  /** The template of scored rows for a number of outputs per row. */
  private readonly scoredTemplates = new Map<
    number,
    { line: LineTemplate; labels: string[]; probabilityKeys: string[]; probabilityIndex: number[] }
  >();

  constructor(
    private readonly schema: PreparedSchema,
    readonly options: BatchOutputOptions,
  ) {
    this.classes = (schema.label.classes ?? []).map(String);
    this.csvColumns = this.csvColumnsOf();
    this.json = options.format === 'jsonl';
    this.errorTemplate = this.templateOf([['error', { from: 'error' }]]);
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
    const explanations = this.options.include.includes('explanations')
      ? explanationCsvColumns(this.schema)
      : [];
    return [...this.options.passthroughColumns, ...outputs, ...explanations, 'error'];
  }

  /** What the part starts with: the CSV header line, or nothing. */
  preamble(): string {
    return this.options.format === 'csv' ? `${this.csvColumns.map(csvField).join(',')}\n` : '';
  }

  /** The template of rows holding the passthrough cells, then `outputs` (set in order). */
  private templateOf(outputs: [string, CellSource][]): LineTemplate {
    const row = new Map<string, CellSource>();
    for (const column of this.options.passthroughColumns)
      row.set(column, { from: 'passthrough', column });
    for (const [key, source] of outputs) row.set(key, source);
    if (this.json) {
      const keys = Object.keys(Object.fromEntries(row));
      return {
        prefixes: keys.map((key, i) => `${i === 0 ? '{' : ','}${JSON.stringify(key)}:`),
        cells: keys.map((key) => row.get(key)!),
        suffix: keys.length === 0 ? '{}\n' : '}\n',
      };
    }
    return {
      prefixes: this.csvColumns.map((_, i) => (i === 0 ? '' : ',')),
      cells: this.csvColumns.map((column) => row.get(column) ?? { from: 'none' }),
      suffix: '\n',
    };
  }

  private scoredTemplateOf(width: number) {
    let template = this.scoredTemplates.get(width);
    if (template) return template;
    const outputs: [string, CellSource][] = [];
    const include = this.options.include;
    if (this.schema.task === 'regression') outputs.push(['prediction', { from: 'prediction' }]);
    else {
      if (include.includes('label')) outputs.push(['label', { from: 'label' }]);
      if (include.includes('probabilities')) {
        if (this.json) outputs.push(['probabilities', { from: 'probabilities' }]);
        else
          for (let k = 0; k < width; k++)
            outputs.push([`probability_${this.classes[k]}`, { from: 'probability', k }]);
      }
    }
    if (include.includes('explanations')) {
      if (this.json) outputs.push(['explanation', { from: 'explanation', k: 0 }]);
      else
        for (const [k, column] of explanationCsvColumns(this.schema).entries())
          outputs.push([column, { from: 'explanation', k }]);
    }
    // The probabilities object's keys in the order (and with the values) assignment gives them.
    const probabilities: Record<string, number> = {};
    for (let k = 0; k < width; k++) probabilities[this.classes[k]!] = k;
    const probabilityKeys = Object.keys(probabilities);
    template = {
      line: this.templateOf(outputs),
      labels: Array.from({ length: width }, (_, k) => this.valueText(this.classes[k] ?? k)),
      probabilityKeys: probabilityKeys.map(
        (key, j) => `${j === 0 ? '{' : ','}${JSON.stringify(key)}:`,
      ),
      probabilityIndex: probabilityKeys.map((key) => probabilities[key]!),
    };
    this.scoredTemplates.set(width, template);
    return template;
  }

  /** A passthrough or label value as the format writes it. */
  private valueText(value: unknown): string {
    if (this.json) return JSON.stringify(value === undefined ? null : value);
    return csvCell(value);
  }

  /** The line of a scored record, given its `width` outputs from `offset` (and explanation). */
  scoredLine(
    record: InputRecord,
    outputs: Float32Array,
    offset: number,
    width: number,
    explanation?: ExplanationText,
  ): string {
    const { line, labels, probabilityKeys, probabilityIndex } = this.scoredTemplateOf(width);
    const json = this.json;
    let best = 0;
    for (let k = 1; k < width; k++) if (outputs[offset + k]! > outputs[offset + best]!) best = k;
    const { prefixes, cells } = line;
    let text = '';
    for (let i = 0; i < cells.length; i++) {
      const cell = cells[i]!;
      text += prefixes[i]!;
      switch (cell.from) {
        case 'passthrough':
          text += this.valueText(cellOf(record, cell.column));
          break;
        case 'label':
          text += labels[best]!;
          break;
        case 'prediction':
          text += outputNumberText(outputs[offset]!, json);
          break;
        case 'probability':
          text += outputNumberText(outputs[offset + cell.k]!, json);
          break;
        case 'probabilities':
          if (probabilityKeys.length === 0) text += '{}';
          else {
            for (let j = 0; j < probabilityKeys.length; j++)
              text +=
                probabilityKeys[j]! +
                outputNumberText(outputs[offset + probabilityIndex[j]!]!, true);
            text += '}';
          }
          break;
        case 'explanation':
          text += explanation?.[cell.k] ?? (json ? 'null' : '');
          break;
        default:
          break;
      }
    }
    return text + line.suffix;
  }

  /** The line of a record that could not be scored. */
  errorLine(record: InputRecord, error: string): string {
    const { prefixes, cells, suffix } = this.errorTemplate;
    let text = '';
    for (let i = 0; i < cells.length; i++) {
      const cell = cells[i]!;
      text += prefixes[i]!;
      if (cell.from === 'passthrough') text += this.valueText(cellOf(record, cell.column));
      else if (cell.from === 'error') text += this.valueText(error);
    }
    return text + suffix;
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
 * Sees each batch once it is scored (`distribution.ts` counts it): its records, each one's
 * error (undefined: scored, its outputs the next `width` of `outputs`).
 */
export type ScoredBatchObserver = (
  records: readonly InputRecord[],
  errors: readonly (string | undefined)[],
  outputs: Float32Array,
  width: number,
) => void;

/**
 * Scores `records` in order into `part` (after its preamble): batches of `PREDICT_BATCH_ROWS`
 * records, each written once the model has scored it. `records` may come one at a time or in
 * arrays (`recordBatchesOfRange`: one await per chunk, not per record). With `explainer`, each
 * batch's scored rows are explained after its forward pass (`explain.ts`). Throws what `hashing`
 * throws (a PII column without the namespace key), the model's errors and the file's. `observe`,
 * when given, sees each batch once it is scored.
 */
export async function scoreRecords(
  records: AsyncIterable<InputRecord | readonly InputRecord[]>,
  schema: PreparedSchema,
  hashing: PiiHashing,
  format: PartFormat,
  predict: PredictBatch,
  part: PartFile,
  explainer?: BatchExplainer,
  observe?: ScoredBatchObserver,
): Promise<ScoreCounts> {
  const counts: ScoreCounts = { rows: 0, failedRecords: 0, failureExamples: [] };
  const featureCount = schema.features.length;
  const width = schema.task === 'classification' ? (schema.label.classes ?? []).length : 1;
  const features = new Float32Array(PREDICT_BATCH_ROWS * featureCount);
  const prepare = recordPreparer(schema, hashing);
  /** The batch's records, and each one's error (undefined: scored, its row the next prepared one). */
  let batch: InputRecord[] = [];
  let errors: (string | undefined)[] = [];
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
    const explanations =
      explainer && prepared > 0
        ? await explainer.explainBatch(
            features.subarray(0, prepared * featureCount),
            prepared,
            outputs,
          )
        : undefined;
    let text = '';
    let next = 0;
    for (let i = 0; i < batch.length; i++) {
      const record = batch[i]!;
      const error = errors[i];
      if (error !== undefined) {
        text += format.errorLine(record, error);
        counts.failedRecords++;
        if (counts.failureExamples.length < FAILURE_EXAMPLES)
          counts.failureExamples.push({ row: counts.rows, error });
      } else {
        text += format.scoredLine(record, outputs, next * width, width, explanations?.[next]);
        next++;
      }
      counts.rows++;
    }
    await part.write(text);
    observe?.(batch, errors, outputs, width);
    batch = [];
    errors = [];
    prepared = 0;
  };

  /** The line preparer of each CSV layout met (one per object). */
  const linePreparers = new Map<CsvLayout, CsvLinePreparer>();
  const linePreparerOf = (layout: CsvLayout) => {
    let preparer = linePreparers.get(layout);
    if (!preparer) {
      preparer = csvLinePreparer(schema, layout.columns, layout.delimiter, hashing);
      linePreparers.set(layout, preparer);
    }
    return preparer;
  };

  /**
   * Prepares `record` at `at`: a CSV line in place (its fields are never cut unless the line
   * has another number of fields than the columns, when its record says so), any other record
   * from its values. The index after its features, or its error. Throws `CellError`.
   */
  const prepareAt = (record: InputRecord, at: number): number | string => {
    if (record instanceof CsvLineRecord) {
      const end = linePreparerOf(record.layout)(record.line, features, at);
      if (end >= 0) return end;
    }
    const error = record.error;
    return error === undefined ? prepare(record.values, features, at) : error;
  };

  /** Adds a record to the batch (preparing it); whether the batch is full. */
  const add = (record: InputRecord): boolean => {
    const at = prepared * featureCount;
    let outcome: number | string;
    try {
      outcome = prepareAt(record, at);
    } catch (caught) {
      if (!(caught instanceof CellError)) throw caught;
      outcome = caught.message;
    }
    if (typeof outcome === 'number') {
      if (outcome - at !== featureCount) {
        throw new Error(`prepared ${outcome - at} features, schema.json names ${featureCount}`);
      }
      prepared++;
    }
    batch.push(record);
    errors.push(typeof outcome === 'string' ? outcome : undefined);
    return batch.length >= PREDICT_BATCH_ROWS;
  };

  for await (const item of records) {
    if (Array.isArray(item)) {
      for (const record of item as readonly InputRecord[]) if (add(record)) await flush();
    } else if (add(item as InputRecord)) await flush();
  }
  await flush();
  return counts;
}
