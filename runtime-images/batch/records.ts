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
 * The records of the range `[start, end)` of an object whose bytes from `readOffsetOf(start)`
 * are `chunks`, in order. Stops reading once the last record is complete (breaking out of the
 * chunks, which closes their stream).
 */
export async function* recordsOfRange(
  chunks: AsyncIterable<Buffer | Uint8Array>,
  range: { start: number; end: number },
  format: RecordFormat,
): AsyncGenerator<InputRecord> {
  if (format.format === 'jsonl') {
    for await (const line of linesFrom(chunks, range.start)) {
      if (line.start >= range.end) return;
      if (!isBlank(line.text)) yield jsonRecordOf(line.text);
    }
    return;
  }
  const { delimiter, columns } = format;
  let decoder = new CsvDecoder(delimiter);
  /** Whether the decoder holds the start of a record (a quoted field with a line break). */
  let open = false;
  let skipHeader = format.header && range.start === 0;
  const take = function* (records: string[][]): Generator<InputRecord> {
    for (const fields of records) {
      if (skipHeader) {
        skipHeader = false;
        continue;
      }
      yield csvRecordOf(fields, columns);
    }
  };
  for await (const line of linesFrom(chunks, range.start)) {
    if (line.start >= range.end && !open) return;
    if (!open && isBlank(line.text)) continue;
    try {
      const { records } = decoder.write(`${line.text}\n`);
      open = records.length === 0;
      yield* take(records);
    } catch (error) {
      if (!(error instanceof CsvSyntaxError)) throw error;
      decoder = new CsvDecoder(delimiter);
      open = false;
      if (skipHeader) skipHeader = false;
      else yield { values: {}, error: `CSV: ${error.message.replace(/^line \d+: /, '')}` };
    }
  }
  if (open) {
    try {
      yield* take(decoder.end().records);
    } catch (error) {
      if (!(error instanceof CsvSyntaxError)) throw error;
      yield { values: {}, error: `CSV: ${error.message.replace(/^line \d+: /, '')}` };
    }
  }
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
