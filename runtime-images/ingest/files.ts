/**
 * Files in the scratch directory: the spill of the source's kept columns (CSV, read back as
 * often as the passes need), and the prepared CSVs, hashed as they are
 * written. Writers buffer text and wait for the disk when it falls behind, so memory stays
 * flat however large the files grow.
 */
import { createHash, type Hash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { csvField, formatNumberBytes } from '../../contract/prepared-data.js';
import { CsvDecoder } from './csv.js';
import type { Cell } from './table.js';

/** Bytes gathered before they go to the file (and the hash) at once. */
const CHUNK_BYTES = 256 * 1024;
/** The most bytes `formatNumberBytes` writes. */
const NUMBER_BYTES = 32;
/**
 * Bytes a file may have queued before a writer waits: large enough that computing the next
 * rows overlaps writing the last ones, small enough to keep memory flat.
 */
const QUEUED_BYTES = 4 * 1024 * 1024;

/**
 * Where the writing pass puts a line's text piece by piece, without building the line as a
 * string first: ASCII copied a character to a byte, anything else encoded as UTF-8.
 */
export interface TextSink {
  /** Appends any text (UTF-8). */
  write(text: string): void;
  /** Appends `text.slice(from, to)`, which the caller knows is ASCII. */
  writeAscii(text: string, from?: number, to?: number): void;
  /** Appends one ASCII character (its code). */
  writeByte(code: number): void;
  /** Appends bytes (e.g. a key encoded once). */
  writeBytes(bytes: Uint8Array): void;
  /** Appends a number as the prepared CSV writes it (`formatNumber`). */
  writeNumber(value: number): void;
}

/** `Buffer.prototype.utf8Write`: `write` without its argument checks (Node's own binding). */
type Utf8Writable = Buffer & { utf8Write(text: string, offset: number): number };

/**
 * Appends text to a file, encoding it (UTF-8) into a chunk of bytes at once, so no string is
 * kept or joined; optionally sha256s and counts the bytes.
 */
export class TextFileWriter implements TextSink {
  readonly path: string;
  private readonly stream: WriteStream;
  private readonly hash: Hash | undefined;
  private chunk = Buffer.allocUnsafe(CHUNK_BYTES) as Utf8Writable;
  private used = 0;
  sizeBytes = 0;

  constructor(path: string, options: { hash?: boolean } = {}) {
    this.path = path;
    this.stream = createWriteStream(path, { highWaterMark: QUEUED_BYTES });
    this.hash = options.hash ? createHash('sha256') : undefined;
  }

  /** Queues `text`; call `drain()` now and then (e.g. once per batch). */
  write(text: string): void {
    // A UTF-16 code unit takes at most 3 bytes of UTF-8.
    if (this.used + 3 * text.length > CHUNK_BYTES) {
      this.flush();
      if (3 * text.length > CHUNK_BYTES) {
        this.emit(Buffer.from(text));
        return;
      }
    }
    this.used += this.chunk.utf8Write(text, this.used);
  }

  writeAscii(text: string, from = 0, to = text.length): void {
    if (this.used + (to - from) > CHUNK_BYTES) {
      this.flush();
      if (to - from > CHUNK_BYTES) {
        this.emit(Buffer.from(text.slice(from, to), 'latin1'));
        return;
      }
    }
    const chunk = this.chunk;
    let at = this.used;
    for (let i = from; i < to; i++) chunk[at++] = text.charCodeAt(i);
    this.used = at;
  }

  writeByte(code: number): void {
    if (this.used === CHUNK_BYTES) this.flush();
    this.chunk[this.used++] = code;
  }

  writeNumber(value: number): void {
    if (this.used + NUMBER_BYTES > CHUNK_BYTES) this.flush();
    this.used = formatNumberBytes(value, this.chunk, this.used);
  }

  writeBytes(bytes: Uint8Array): void {
    if (this.used + bytes.length > CHUNK_BYTES) {
      this.flush();
      if (bytes.length > CHUNK_BYTES) {
        this.emit(Buffer.from(bytes));
        return;
      }
    }
    this.chunk.set(bytes, this.used);
    this.used += bytes.length;
  }

  private flush(): void {
    if (this.used === 0) return;
    const bytes = this.chunk.subarray(0, this.used);
    this.chunk = Buffer.allocUnsafe(CHUNK_BYTES) as Utf8Writable;
    this.used = 0;
    this.emit(bytes);
  }

  private emit(bytes: Buffer): void {
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

/**
 * Reads a spill back in batches of lines: a line without a quote as its text (cut it at `,`;
 * `spillLine` wrote exactly as many commas as cell boundaries), a row with a quoted cell as
 * its cells. What the passes that read fields in place take.
 */
export async function* readSpillLines(path: string): AsyncGenerator<(string | Cell[])[]> {
  const decoder = new CsvDecoder(',', { unsplitLines: true });
  for await (const chunk of createReadStream(path, { highWaterMark: SPILL_READ_BYTES })) {
    const { records } = decoder.writeLines(chunk as Buffer);
    if (records.length > 0) yield records;
  }
  const { records } = decoder.endLines();
  if (records.length > 0) yield records;
}

/** Bytes of the spill read at once. */
const SPILL_READ_BYTES = 256 * 1024;

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
