/**
 * Files in the scratch directory: the spill of the source's kept columns (one JSON array per
 * row, read back as often as the passes need), and the prepared CSVs, hashed as they are
 * written. Writers buffer text and wait for the disk when it falls behind, so memory stays
 * flat however large the files grow.
 */
import { createHash, type Hash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import type { Cell } from './table.js';

const FLUSH_CHARS = 256 * 1024;

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
    this.stream = createWriteStream(path);
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

/** Writes rows of cells, one JSON array per line, and sha256s them (the data's digest). */
export class SpillWriter {
  private readonly file: TextFileWriter;
  rows = 0;

  constructor(path: string) {
    this.file = new TextFileWriter(path, { hash: true });
  }

  async write(rows: readonly Cell[][]): Promise<void> {
    let text = '';
    for (const row of rows) text += `${JSON.stringify(row)}\n`;
    this.file.write(text);
    this.rows += rows.length;
    await this.file.drain();
  }

  /** Closes the spill; returns the sha256 (hex) of its bytes. */
  async close(): Promise<string> {
    return (await this.file.close())!;
  }
}

/** Reads a spill back in batches of rows. */
export async function* readSpill(path: string): AsyncGenerator<Cell[][]> {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 })) {
    const text = pending + decoder.write(chunk as Buffer);
    const rows: Cell[][] = [];
    let p = 0;
    for (;;) {
      const nl = text.indexOf('\n', p);
      if (nl === -1) break;
      rows.push(JSON.parse(text.slice(p, nl)) as Cell[]);
      p = nl + 1;
    }
    pending = text.slice(p);
    if (rows.length > 0) yield rows;
  }
  const rest = pending + decoder.end();
  if (rest.trim() !== '') yield [JSON.parse(rest) as Cell[]];
}
