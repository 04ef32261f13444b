/**
 * The source as a table: column names and rows of raw cells, read in batches, whatever the
 * source (bytes from HTTP or S3 in CSV or JSON Lines, rows from PostgreSQL).
 *
 * A byte source is a sequence of parts (one HTTP body, or each object under an S3 prefix in
 * key order), each a stream of chunks. With CSV, every part starts with its own header when
 * `header` is true (files split by a writer each carry one), and all headers must agree.
 * JSON Lines parts are simply concatenated. Rows arrive one batch per chunk, so the reader
 * awaits back-pressure once per chunk.
 */
import { StringDecoder } from 'node:string_decoder';
import { CsvDecoder, CsvSyntaxError, MAX_RECORD_CHARS } from './csv.js';
import { IngestFailure } from './failure.js';

/** A raw cell: CSV gives strings, JSON Lines and PostgreSQL also numbers, booleans and null. */
export type Cell = string | number | boolean | null;

/** One part of a byte source. */
export interface SourcePart {
  /** How messages name it: a URL or an s3:// URI, never with credentials. */
  name: string;
  chunks: AsyncIterable<Buffer>;
}

/**
 * A table being read. `columns` may grow while batches are read (JSON Lines objects with new
 * keys); a row shorter than `columns` has missing trailing cells.
 */
export interface Table {
  readonly columns: string[];
  batches(): AsyncIterable<Cell[][]>;
}

/** A cell of a JSON object or a database row, as a raw cell. */
export function cellOf(value: unknown): Cell {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
      return value;
    case 'bigint':
      return value.toString();
    default:
      if (value instanceof Date) return value.toISOString();
      if (Buffer.isBuffer(value)) return value.toString('base64');
      return JSON.stringify(value);
  }
}

export interface CsvTableOptions {
  delimiter: string;
  header: boolean;
  /** Column names when there is no header (`spec.schema.columns`). */
  names?: readonly string[];
}

export function csvTable(parts: AsyncIterable<SourcePart>, options: CsvTableOptions): Table {
  const columns: string[] = [];
  if (!options.header) {
    if (!options.names?.length) {
      throw new IngestFailure(
        'InvalidData',
        'spec.csv.header is false, so spec.schema.columns must name the columns in order',
      );
    }
    columns.push(...options.names);
  }
  async function* batches(): AsyncGenerator<Cell[][]> {
    let firstPart: string | undefined;
    for await (const part of parts) {
      const decoder = new CsvDecoder(options.delimiter);
      let needHeader = options.header;
      const take = (records: string[][], lines: number[]): Cell[][] => {
        let start = 0;
        if (needHeader && records.length > 0) {
          needHeader = false;
          start = 1;
          const header = records[0]!.map((h) => h.trim());
          if (firstPart === undefined) {
            firstPart = part.name;
            checkHeader(header, part.name);
            columns.push(...header);
          } else if (header.join('\u0000') !== columns.join('\u0000')) {
            throw new IngestFailure(
              'InvalidData',
              // The headers are the data's bytes: say that they differ, not what they say.
              `${part.name} has a header of ${header.length} columns that differs from ${firstPart}'s (${columns.length} columns): every object under the prefix must have the same columns`,
            );
          }
        }
        const width = columns.length;
        for (let i = start; i < records.length; i++) {
          const fields = records[i]!;
          if (fields.length !== width) {
            throw new IngestFailure(
              'InvalidData',
              `${part.name}: line ${lines[i]} has ${fields.length} fields, the ${options.header ? 'header has' : 'schema names'} ${width}`,
            );
          }
        }
        return start === 0 ? records : records.slice(start);
      };
      try {
        for await (const chunk of part.chunks) {
          const batch = decoder.write(chunk);
          if (batch.records.length > 0) yield take(batch.records, batch.lines);
        }
        const last = decoder.end();
        if (last.records.length > 0) yield take(last.records, last.lines);
      } catch (error) {
        if (error instanceof CsvSyntaxError) {
          throw new IngestFailure('InvalidData', `${part.name}: ${error.message}`, {
            cause: error,
          });
        }
        throw error;
      }
    }
  }
  return { columns, batches };
}

/** Refuses a header with an empty column name or a name twice (naming positions, not names). */
export function checkHeader(header: string[], source: string): void {
  const seen = new Map<string, number>();
  for (const [i, name] of header.entries()) {
    if (name === '') {
      throw new IngestFailure('InvalidData', `${source}: column ${i + 1} of the header is empty`);
    }
    const earlier = seen.get(name);
    if (earlier !== undefined) {
      // A name that fails the check is not quoted: it is the data's bytes, not the spec's.
      throw new IngestFailure(
        'InvalidData',
        `${source}: columns ${earlier + 1} and ${i + 1} of the header have the same name`,
      );
    }
    seen.set(name, i);
  }
}

/** A batch of non-blank lines of a part (trimmed), and the line number of each. */
export interface LineBatch {
  texts: string[];
  lines: number[];
}

/**
 * Splits a part into lines: one batch per chunk, blank lines skipped. A line longer than
 * `MAX_RECORD_CHARS` is `InvalidData` naming the part and the line.
 */
export async function* lineBatches(part: SourcePart): AsyncGenerator<LineBatch> {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let line = 0;
  const take = (text: string, final: boolean): LineBatch => {
    const texts: string[] = [];
    const lines: number[] = [];
    let p = 0;
    let n = line;
    for (;;) {
      let nl = text.indexOf('\n', p);
      if (nl === -1) {
        if (!final || p >= text.length) break;
        nl = text.length;
      }
      n++;
      const lineText = text.slice(p, nl).trim();
      p = nl + 1;
      if (lineText === '') continue;
      texts.push(lineText);
      lines.push(n);
    }
    line = n;
    pending = p < text.length ? text.slice(p) : '';
    if (pending.length > MAX_RECORD_CHARS) {
      throw new IngestFailure(
        'InvalidData',
        `${part.name}: line ${n + 1} is longer than ${MAX_RECORD_CHARS} characters`,
      );
    }
    return { texts, lines };
  };
  for await (const chunk of part.chunks) {
    const batch = take(pending + decoder.write(chunk), false);
    if (batch.texts.length > 0) yield batch;
  }
  const batch = take(pending + decoder.end(), true);
  if (batch.texts.length > 0) yield batch;
}

/** A line of JSON Lines, parsed; `InvalidData` naming the part and the line when it is not JSON. */
export function parseJsonLine(part: string, line: number, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new IngestFailure(
      'InvalidData',
      // The parser's message quotes the line: the data's bytes, which no status may show.
      `${part}: line ${line} is not valid JSON`,
      { cause: error },
    );
  }
}

/** The values of a batch of JSON Lines, and the line number of each. */
export interface JsonLineBatch {
  values: unknown[];
  lines: number[];
}

/** Parses a JSON Lines part: one batch of values per chunk (`lineBatches`, `parseJsonLine`). */
export async function* jsonLineBatches(part: SourcePart): AsyncGenerator<JsonLineBatch> {
  for await (const { texts, lines } of lineBatches(part)) {
    yield { values: texts.map((t, i) => parseJsonLine(part.name, lines[i]!, t)), lines };
  }
}

export function jsonLinesTable(parts: AsyncIterable<SourcePart>): Table {
  const columns: string[] = [];
  const indexOf = new Map<string, number>();
  async function* batches(): AsyncGenerator<Cell[][]> {
    for await (const part of parts) {
      for await (const { values, lines } of jsonLineBatches(part)) {
        const rows: Cell[][] = new Array(values.length);
        for (let i = 0; i < values.length; i++) {
          const value = values[i];
          if (value === null || typeof value !== 'object' || Array.isArray(value)) {
            throw new IngestFailure(
              'InvalidData',
              `${part.name}: line ${lines[i]} is not a JSON object; JSON Lines data has one object per line`,
            );
          }
          const row: Cell[] = new Array(columns.length).fill(null);
          for (const key in value) {
            let index = indexOf.get(key);
            if (index === undefined) {
              index = columns.length;
              columns.push(key);
              indexOf.set(key, index);
            }
            row[index] = cellOf((value as Record<string, unknown>)[key]);
          }
          rows[i] = row;
        }
        yield rows;
      }
    }
  }
  return { columns, batches };
}
