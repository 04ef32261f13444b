/**
 * The records of one shard's byte range of an input object (`contract/batch.ts`): Hadoop's
 * line-oriented input splits (`LineRecordReader`), over CSV or JSON Lines.
 *
 * A record belongs to the range holding its first byte. A range `[start, end)` is read from
 * `readFrom = max(0, start - 1)`: when `start > 0` everything up to and including the first line
 * break at or after `readFrom` belongs to the previous range (reading from one byte early keeps a
 * record that begins exactly at `start`, since the byte before it is then that line break); then
 * lines are taken while they begin before `end`, the last one read to its own end whatever the
 * range says. So every record of an object is read by exactly one of any set of ranges that tile
 * it, with no counting pass and no coordination between shards.
 *
 * Lines are cut on the byte `\n` (never part of a multi-byte UTF-8 character) and decoded one by
 * one; `\r\n` ends are accepted. Blank lines are no records. A CSV line is decoded with the
 * ingestion program's RFC 4180 decoder; a quoted field holding a line break continues the record
 * on the next lines (inside one range that works; a range boundary inside such a field cannot be
 * found from the bytes alone, which is why such a file needs one shard). A CSV object's header
 * is its first record: read separately by every shard of it (`csvHeaderOf`) and never scored.
 *
 * A line that cannot be read as a record (not JSON, not an object, a CSV syntax error, a CSV
 * record with another number of fields than the header) is a record with an `error`: the caller
 * writes an error row in its place; it never stops the shard.
 *
 * Pure: chunks of bytes in, records out; the program opens the byte streams.
 */
import { CsvDecoder, CsvSyntaxError, MAX_RECORD_CHARS } from '../ingest/csv.js';

/** One input record: its cells by column name, or why it could not be read. */
export interface InputRecord {
  /** Cells by column (CSV: the raw texts; JSON Lines: the parsed values). */
  values: Readonly<Record<string, unknown>>;
  /** Why the record could not be read; its `values` then hold what could be (maybe nothing). */
  error?: string;
}

/** A line of a range, with the offset of its first byte in the object. */
export interface RangeLine {
  /** Offset of the line's first byte in the object. */
  start: number;
  /** The line's text without its `\n` (a `\r` before it is kept). */
  text: string;
}

/** An input line longer than any record may be: the object is not line-oriented. */
export class RecordTooLongError extends Error {
  override name = 'RecordTooLongError';
}

/** Where a range must be read from: one byte early, so a record starting at `start` is seen whole. */
export function readOffsetOf(start: number): number {
  return Math.max(0, start - 1);
}

/**
 * Every line of an object read from `readFrom` (`readOffsetOf(start)`), starting with the first
 * line that begins at or after `start`, to the end of the chunks (the caller stops early: see
 * `recordsOfRange`). A leading UTF-8 byte-order mark of the object is dropped.
 */
export async function* linesFrom(
  chunks: AsyncIterable<Buffer | Uint8Array>,
  start: number,
): AsyncGenerator<RangeLine> {
  const readFrom = readOffsetOf(start);
  /** Offset in the object of the next byte of `chunks`. */
  let offset = readFrom;
  /** Until the first line break: bytes of the previous range's last record. */
  let skipping = start > 0;
  let lineStart = readFrom;
  let parts: Buffer[] = [];
  let partsBytes = 0;
  const lineOf = (tail: Buffer): RangeLine => {
    let bytes = parts.length === 0 ? tail : Buffer.concat([...parts, tail]);
    parts = [];
    partsBytes = 0;
    if (lineStart === 0 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
      bytes = bytes.subarray(3);
    }
    return { start: lineStart, text: bytes.toString('utf8') };
  };
  for await (const piece of chunks) {
    const chunk = Buffer.isBuffer(piece) ? piece : Buffer.from(piece);
    let at = 0;
    while (at < chunk.length) {
      const newline = chunk.indexOf(10, at);
      if (newline === -1) {
        if (!skipping) {
          parts.push(chunk.subarray(at));
          partsBytes += chunk.length - at;
          if (partsBytes > MAX_RECORD_CHARS * 4) {
            throw new RecordTooLongError(
              `the line starting at byte ${lineStart} is longer than ${MAX_RECORD_CHARS * 4} bytes (not a line-oriented file?)`,
            );
          }
        }
        break;
      }
      if (skipping) skipping = false;
      else yield lineOf(chunk.subarray(at, newline));
      lineStart = offset + newline + 1;
      at = newline + 1;
    }
    offset += chunk.length;
  }
  if (!skipping && (parts.length > 0 || lineStart < offset)) yield lineOf(Buffer.alloc(0));
}

/** How the records of an object are read. */
export type RecordFormat =
  | { format: 'jsonl' }
  | {
      format: 'csv';
      delimiter: string;
      /** The column names, in order (the header's, or `BatchInput.columns`). */
      columns: readonly string[];
      /** Whether the object's first record is its header (skipped when the range holds it). */
      header: boolean;
    };

function isBlank(text: string): boolean {
  return text.trim() === '';
}

/** A JSON Lines line as a record. */
export function jsonRecordOf(text: string): InputRecord {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { values: {}, error: `not JSON: ${(error as Error).message}` };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { values: {}, error: 'not a JSON object keyed by column' };
  }
  return { values: json as Record<string, unknown> };
}

/** A decoded CSV record's fields as a record keyed by `columns`. */
export function csvRecordOf(fields: readonly string[], columns: readonly string[]): InputRecord {
  const values: Record<string, unknown> = {};
  const width = Math.min(fields.length, columns.length);
  for (let i = 0; i < width; i++) values[columns[i]!] = fields[i];
  if (fields.length !== columns.length) {
    return {
      values,
      error: `has ${fields.length} fields, the columns are ${columns.length}`,
    };
  }
  return { values };
}

/**
 * `csvRecordOf` for one list of columns, made once: a record of as many fields as columns is
 * an object literal of the columns (built from source text, each name a JSON string literal),
 * which V8 allocates whole with its final shape, where adding the columns one by one costs
 * ~40x more (a shape transition and a property-store grow per column). A name that an object
 * literal cannot hold as an own property (`__proto__`) keeps the one-by-one build.
 */
export function csvRecordMaker(
  columns: readonly string[],
): (fields: readonly string[]) => InputRecord {
  if (columns.includes('__proto__')) return (fields) => csvRecordOf(fields, columns);
  const literal = new Function(
    'fields',
    `return {${columns.map((column, i) => `${JSON.stringify(column)}: fields[${i}]`).join(', ')}};`,
  ) as (fields: readonly string[]) => Record<string, unknown>;
  const width = columns.length;
  return (fields) =>
    fields.length === width ? { values: literal(fields) } : csvRecordOf(fields, columns);
}

/**
 * How the records of one CSV object are made: its columns, their places, its delimiter, and
 * `recordOf` (`csvRecordMaker`). `lines` says whether a line without quotes may stay a
 * `CsvLineRecord` (not when a column is named `__proto__`, which a record object cannot hold
 * as its own key).
 */
export class CsvLayout {
  readonly recordOf: (fields: readonly string[]) => InputRecord;
  readonly lines: boolean;
  private readonly places = new Map<string, number>();

  constructor(
    readonly columns: readonly string[],
    readonly delimiter: string,
  ) {
    this.recordOf = csvRecordMaker(columns);
    this.lines = !columns.includes('__proto__');
    for (const [j, column] of columns.entries()) this.places.set(column, j);
  }

  /** Where `column` is in a line (its last place, as the record keeps it), or undefined. */
  placeOf(column: string): number | undefined {
    return this.places.get(column);
  }
}

/**
 * A CSV record of one line without quotes, kept as the line: its fields are cut out only when
 * asked (`values`, `error`: the line split once, as `csvRecordMaker` would have made it), so a
 * preparation that reads the line in place (`csvLinePreparer`) and a passthrough cell read by
 * its place (`cell`) make no string per field. The same record as the split line's.
 */
export class CsvLineRecord implements InputRecord {
  private split: InputRecord | undefined;

  constructor(
    readonly line: string,
    readonly layout: CsvLayout,
  ) {}

  private record(): InputRecord {
    this.split ??= this.layout.recordOf(this.line.split(this.layout.delimiter));
    return this.split;
  }

  get values(): Readonly<Record<string, unknown>> {
    return this.record().values;
  }

  get error(): string | undefined {
    return this.record().error;
  }

  /** The cell of `column`: `values[column]`, cut from the line alone when it has the field. */
  cell(column: string): unknown {
    const place = this.layout.placeOf(column);
    if (place === undefined || this.split) return this.values[column];
    const { line, layout } = this;
    let from = 0;
    for (let j = 0; j < place; j++) {
      const at = line.indexOf(layout.delimiter, from);
      if (at === -1) return this.values[column];
      from = at + 1;
    }
    // The field at its place: what the split line's record holds, whatever else the line has.
    const to = line.indexOf(layout.delimiter, from);
    return line.slice(from, to === -1 ? line.length : to);
  }
}

/** A record's cell of `column` (`values[column]`, read in place from a `CsvLineRecord`). */
export function cellOf(record: InputRecord, column: string): unknown {
  return record instanceof CsvLineRecord ? record.cell(column) : record.values[column];
}

/**
 * The records of the range `[start, end)` of an object whose bytes from `readOffsetOf(start)`
 * are `chunks`, in order. Stops reading once the last record is complete (breaking out of the
 * chunks, which closes their stream). One record per step: `recordBatchesOfRange` is the same
 * records a chunk at a time.
 */
export async function* recordsOfRange(
  chunks: AsyncIterable<Buffer | Uint8Array>,
  range: { start: number; end: number },
  format: RecordFormat,
): AsyncGenerator<InputRecord> {
  for await (const records of recordBatchesOfRange(chunks, range, format)) yield* records;
}

/** A CSV decoder whose "first text" is behind it: the reader drops byte-order marks itself. */
function primedDecoder(delimiter: string): CsvDecoder {
  const decoder = new CsvDecoder(delimiter);
  decoder.write('\n');
  return decoder;
}

/** A CSV syntax error as the record it stands for. */
function csvErrorRecord(error: CsvSyntaxError): InputRecord {
  return { values: {}, error: `CSV: ${error.message.replace(/^line \d+: /, '')}` };
}

/**
 * The records of the lines of a range, fed a block of whole lines at a time: what
 * `recordsOfRange` did line by line (`linesFrom`, then the CSV decoder per line) without a
 * promise, an object or a decoder call per line. A CSV line without a quote (nearly all of
 * them) is cut on its delimiter in place, as the decoder's own fast path would; a line with a
 * quote, or the lines of a record still open (a quoted line break), go through the decoder.
 */
class RangeReader {
  /** Whether the decoder holds the start of a record (a quoted field with a line break). */
  private open = false;
  private skipHeader: boolean;
  /** Whether no line was fed since the decoder was made: its first line drops a byte-order mark. */
  private fresh = true;
  private decoder: CsvDecoder | undefined;
  /** Whether a line beginning at or after the range's end was met (the range is done). */
  done = false;
  /** How a CSV record is made (undefined for JSON Lines). */
  private readonly layout: CsvLayout | undefined;

  constructor(
    private readonly format: RecordFormat,
    private out: InputRecord[],
  ) {
    this.skipHeader = format.format === 'csv' && format.header;
    this.layout =
      format.format === 'csv' ? new CsvLayout(format.columns, format.delimiter) : undefined;
  }

  /** Where the next records go. */
  output(records: InputRecord[]): void {
    this.out = records;
  }

  /** Starts reading a range that does not hold the object's first record. */
  notFirst(): void {
    this.skipHeader = false;
  }

  /**
   * Reads the lines of `text` (each ended by `\n`), the first beginning before the range's end;
   * `taken` characters hold the lines that begin before it, the rest are read only to finish an
   * open record. Sets `done` when a line past the end was reached.
   */
  lines(text: string, taken: number): void {
    if (this.format.format === 'jsonl') {
      this.jsonLines(text, taken);
      return;
    }
    const { delimiter } = this.format;
    const out = this.out;
    let p = 0;
    let quote = text.indexOf('"');
    while (p < text.length) {
      const newline = text.indexOf('\n', p);
      if (p >= taken && !this.open) {
        this.done = true;
        return;
      }
      if (quote !== -1 && quote < p) quote = text.indexOf('"', p);
      if (this.open || (quote !== -1 && quote < newline)) {
        this.decoded(text.slice(p, newline));
        p = newline + 1;
        continue;
      }
      const first = text.charCodeAt(p);
      if (!(first > 32 && first < 127) && isBlank(text.slice(p, newline))) {
        p = newline + 1;
        continue;
      }
      let from = p;
      if (this.fresh) {
        this.fresh = false;
        if (first === 0xfeff) from++;
      }
      let end = newline;
      if (text.charCodeAt(end - 1) === 13 && end > from) end--;
      p = newline + 1;
      if (this.skipHeader) {
        this.skipHeader = false;
        continue;
      }
      const line = text.slice(from, end);
      const layout = this.layout!;
      out.push(
        layout.lines ? new CsvLineRecord(line, layout) : layout.recordOf(line.split(delimiter)),
      );
    }
  }

  private jsonLines(text: string, taken: number): void {
    let p = 0;
    while (p < text.length) {
      if (p >= taken) {
        this.done = true;
        return;
      }
      const newline = text.indexOf('\n', p);
      const line = text.slice(p, newline);
      p = newline + 1;
      const first = line.charCodeAt(0);
      if (!(first > 32 && first < 127) && isBlank(line)) continue;
      this.out.push(jsonRecordOf(line));
    }
  }

  /** A CSV line through the decoder (a line with a quote, or one continuing an open record). */
  private decoded(line: string): void {
    const format = this.format as Extract<RecordFormat, { format: 'csv' }>;
    if (!this.open && isBlank(line)) return;
    let text = line;
    if (this.fresh) {
      this.fresh = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    this.decoder ??= primedDecoder(format.delimiter);
    try {
      const { records } = this.decoder.write(`${text}\n`);
      this.open = records.length === 0;
      this.take(records);
    } catch (error) {
      if (!(error instanceof CsvSyntaxError)) throw error;
      this.decoder = undefined;
      this.fresh = true;
      this.open = false;
      if (this.skipHeader) this.skipHeader = false;
      else this.out.push(csvErrorRecord(error));
    }
  }

  private take(records: readonly string[][]): void {
    for (const fields of records) {
      if (this.skipHeader) {
        this.skipHeader = false;
        continue;
      }
      this.out.push(this.layout!.recordOf(fields));
    }
  }

  /** Ends the input: a record still open is decoded to the end. */
  end(): void {
    if (!this.open || !this.decoder) return;
    try {
      this.take(this.decoder.end().records);
    } catch (error) {
      if (!(error instanceof CsvSyntaxError)) throw error;
      this.out.push(csvErrorRecord(error));
    }
    this.open = false;
  }
}

/**
 * The records of the range `[start, end)` of an object whose bytes from `readOffsetOf(start)`
 * are `chunks`, in order, as arrays: the records completed by each chunk (none are empty). The
 * same records as `recordsOfRange`, cut from whole runs of lines: a chunk's complete lines are
 * decoded to text at once and read in a synchronous loop. Stops reading once the last record
 * is complete (breaking out of the chunks, which closes their stream).
 */
export async function* recordBatchesOfRange(
  chunks: AsyncIterable<Buffer | Uint8Array>,
  range: { start: number; end: number },
  format: RecordFormat,
): AsyncGenerator<InputRecord[]> {
  const { start, end } = range;
  let records: InputRecord[] = [];
  const reader = new RangeReader(format, records);
  if (start > 0) reader.notFirst();
  /** Offset in the object of the next byte of `chunks`. */
  let offset = readOffsetOf(start);
  /** Until the first line break: bytes of the previous range's last record. */
  let skipping = start > 0;
  /** Bytes of a line not yet complete, and the offset of its first byte. */
  let parts: Buffer[] = [];
  let partsBytes = 0;
  let lineStart = offset;
  /** Reads the whole lines `bytes` (ending with `\n`), the first one beginning at `lineStart`. */
  const read = (bytes: Buffer) => {
    let from = 0;
    if (lineStart === 0 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) from = 3;
    // The lines that begin before `end`: up to the first line break at or after `end - 1`.
    const limit = end - 1 - lineStart;
    let cut = bytes.length;
    if (limit < bytes.length) {
      const at = limit < 0 ? -1 : bytes.indexOf(10, limit);
      cut = at === -1 ? 0 : at + 1;
    }
    if (cut === bytes.length) {
      reader.lines(bytes.toString('utf8', from), Number.POSITIVE_INFINITY);
    } else {
      const taken = cut > from ? bytes.toString('utf8', from, cut) : '';
      reader.lines(taken + bytes.toString('utf8', Math.max(from, cut)), taken.length);
    }
  };
  for await (const piece of chunks) {
    const chunk = Buffer.isBuffer(piece) ? piece : Buffer.from(piece);
    let at = 0;
    if (skipping) {
      const newline = chunk.indexOf(10);
      if (newline === -1) {
        offset += chunk.length;
        lineStart = offset;
        continue;
      }
      skipping = false;
      at = newline + 1;
      lineStart = offset + at;
    }
    const last = chunk.lastIndexOf(10);
    if (last >= at) {
      const whole = chunk.subarray(at, last + 1);
      read(parts.length === 0 ? whole : Buffer.concat([...parts, whole]));
      parts = [];
      partsBytes = 0;
      lineStart = offset + last + 1;
      at = last + 1;
    }
    if (at < chunk.length) {
      parts.push(chunk.subarray(at));
      partsBytes += chunk.length - at;
      if (partsBytes > MAX_RECORD_CHARS * 4) {
        throw new RecordTooLongError(
          `the line starting at byte ${lineStart} is longer than ${MAX_RECORD_CHARS * 4} bytes (not a line-oriented file?)`,
        );
      }
    }
    offset += chunk.length;
    if (reader.done) break;
    if (records.length > 0) {
      yield records;
      records = [];
      reader.output(records);
    }
  }
  if (!reader.done && !skipping && partsBytes > 0) {
    read(Buffer.concat([...parts, Buffer.from('\n')]));
  }
  reader.end();
  if (records.length > 0) yield records;
}

/**
 * The header of a CSV object (its first record), from chunks read from its first byte; stops
 * reading once it is complete. Throws `CsvSyntaxError` when it cannot be decoded, and an error
 * naming the object when it has none or names a column twice.
 */
export async function csvHeaderOf(
  chunks: AsyncIterable<Buffer | Uint8Array>,
  delimiter: string,
  what: string,
): Promise<string[]> {
  const decoder = new CsvDecoder(delimiter);
  let header: string[] | undefined;
  for await (const chunk of chunks) {
    header = decoder.write(Buffer.from(chunk)).records[0];
    if (header) break;
  }
  header ??= decoder.end().records[0];
  if (!header) throw new Error(`${what} has no header line`);
  const names = header.map((name) => name.trim());
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) throw new Error(`${what}: the header names the column "${name}" twice`);
    seen.add(name);
  }
  return names;
}
