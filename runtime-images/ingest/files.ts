/**
 * Files in the scratch directory: the spill of the source's kept columns (CSV, read back as
 * often as the passes need), and the prepared CSVs, hashed as they are
 * written. Writers buffer text and wait for the disk when it falls behind, so memory stays
 * flat however large the files grow.
 */
import { createHash, type Hash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { csvField } from '../../contract/prepared-data.js';
import { CsvDecoder } from './csv.js';
import type { Cell } from './table.js';

const FLUSH_CHARS = 256 * 1024;
/**
 * Bytes a file may have queued before a writer waits: large enough that computing the next
 * rows overlaps writing the last ones, small enough to keep memory flat.
 */
const QUEUED_BYTES = 4 * 1024 * 1024;

/** Appends text to a file through a buffer; optionally sha256s and counts the bytes. */
export class TextFileWriter {
  readonly path: string;
  private readonly stream: WriteStream;
  private readonly hash: Hash | undefined;
  private buffer: string[] = [];
  private buffered = 0;
  sizeBytes = 0;

  constructor(path: string, options: { hash?: boolean } = {}) {
    this.path = path;
    this.stream = createWriteStream(path, { highWaterMark: QUEUED_BYTES });
    this.hash = options.hash ? createHash('sha256') : undefined;
  }

  /** Queues `text`; call `drain()` now and then (e.g. once per batch). */
  write(text: string): void {
    this.buffer.push(text);
    this.buffered += text.length;
    if (this.buffered >= FLUSH_CHARS) this.flush();
  }

  private flush(): void {
    if (this.buffer.length === 0) return;
    const bytes = Buffer.from(this.buffer.join(''));
    this.buffer = [];
    this.buffered = 0;
    this.hash?.update(bytes);
    this.sizeBytes += bytes.length;
    this.stream.write(bytes);
  }

  /** Resolves once the file has taken what was written (back-pressure). */
  async drain(): Promise<void> {
    if (this.stream.writableNeedDrain) await once(this.stream, 'drain');
  }

  /** Flushes and closes; returns the sha256 (hex) when hashing. */
  async close(): Promise<string | undefined> {
    this.flush();
    this.stream.end();
    await once(this.stream, 'finish');
    return this.hash?.digest('hex');
  }
}

/**
 * Writes rows of cells as CSV (RFC 4180, `,`), and sha256s them (the data's digest). Every
 * cell becomes text and a missing one (null) the empty field: the preparation reads a number,
 * a category or "missing" the same way from either (`parseNumericCell`, `parseCategoryCell`,
 * `isMissing`), and the program's own CSV decoder reads text several times faster than
 * `JSON.parse` reads arrays.
 */
export class SpillWriter {
  private readonly file: TextFileWriter;
  rows = 0;

  constructor(path: string) {
    this.file = new TextFileWriter(path, { hash: true });
  }

  async write(rows: readonly Cell[][]): Promise<void> {
    let text = '';
    for (const row of rows) text += `${spillLine(row)}\n`;
    this.file.write(text);
    this.rows += rows.length;
    await this.file.drain();
  }

  /** Closes the spill; returns the sha256 (hex) of its bytes. */
  async close(): Promise<string> {
    return (await this.file.close())!;
  }
}

/** One row as a spill line (without its line break). */
export function spillLine(row: readonly Cell[]): string {
  // Fast path: joined as is (null becomes the empty field), the line is right when it holds
  // no quote or line break and no cell held a comma: as many commas as cell boundaries.
  const line = row.join(',');
  if (!/["\r\n]/.test(line)) {
    let commas = 0;
    for (let at = line.indexOf(','); at !== -1; at = line.indexOf(',', at + 1)) commas++;
    if (commas === row.length - 1) return line === '' ? '""' : line;
  }
  let quoted = '';
  for (let j = 0; j < row.length; j++) {
    const cell = row[j];
    const field = cell === null || cell === undefined ? '' : String(cell);
    quoted += j === 0 ? csvField(field) : `,${csvField(field)}`;
  }
  // A row of one empty cell would read back as a blank line, which CSV skips.
  return quoted === '' ? '""' : quoted;
}

/** Reads a spill back in batches of rows (cells as text, missing ones empty). */
export async function* readSpill(path: string): AsyncGenerator<Cell[][]> {
  const decoder = new CsvDecoder(',');
  for await (const chunk of createReadStream(path, { highWaterMark: 64 * 1024 })) {
    const { records } = decoder.write(chunk as Buffer);
    if (records.length > 0) yield records;
  }
  const { records } = decoder.end();
  if (records.length > 0) yield records;
}
