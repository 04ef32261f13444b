/**
 * Parquet as a table (`format: parquet`): each part of the source (one HTTP body, or each
 * object under an S3 prefix in key order) is streamed to a file in the scratch directory and
 * read back one row group at a time — in slices of at most `SLICE_ROWS` rows — so memory holds
 * a row group's compressed bytes and one slice of rows, never the file. Cells are converted to
 * the text a CSV of the same table would hold (`parquet-cells.ts`), so everything after this
 * (profiling, validation, preparation, split, version) is the CSV path's, byte for byte.
 *
 * Why hyparquet (pure JavaScript, no dependencies, MIT) and not DuckDB's Node API: the
 * ingestion image is Node.js and a few scripts; hyparquet reads row-group and row ranges from
 * any byte source, decodes only the columns asked for, and adds 0.3 MB, where DuckDB is a
 * native binary per platform (tens of MB) with its own threads and memory to bound.
 * `hyparquet-compressors` adds the codecs beyond snappy (gzip, zstd, brotli, lz4) in
 * JavaScript and WebAssembly; gzip and brotli use Node's zlib, which is faster.
 *
 * Why a scratch file and not ranged reads: one sequential GET goes through the same guard
 * (`guarded-http.ts`), the same `.gz` handling and the same failure mapping as CSV, works with
 * every HTTP server (not only those that honour `Range`), and the row groups are then read at
 * disk speed. The file is removed as soon as its rows are read.
 *
 * Columns the Dataset never looks at (`isObservedColumn`: not kept, not validated) are not
 * decoded; their cells are null. A nested or untyped column the Dataset uses is `InvalidData`
 * naming it; leave it out with `spec.preparation.drop` (or `select`).
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { type FileHandle, mkdtemp, open, rm } from 'node:fs/promises';
import path from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import {
  type AsyncBuffer,
  type Compressors,
  type FileMetaData,
  parquetMetadataAsync,
  parquetRead,
  parquetSchema,
} from 'hyparquet';
import { compressors as jsCompressors } from 'hyparquet-compressors';
import { IngestFailure, messageOf } from './failure.js';
import {
  type CellConverter,
  cellConverterOf,
  TEXT_PARSERS,
  unsupportedTypeOf,
} from './parquet-cells.js';
import { type Cell, checkHeader, type SourcePart, type Table } from './table.js';

/** The most rows decoded at once: a row group is read in slices of this many rows. */
export const SLICE_ROWS = 65_536;
/** Rows per batch handed on (one back-pressure wait each, like a CSV chunk's records). */
const BATCH_ROWS = 8_192;

/** Decoders of every codec Parquet names but LZO (which no current writer uses). */
export const PARQUET_CODECS: Compressors = {
  ...jsCompressors,
  GZIP: (input) => gunzipSync(input),
  BROTLI: (input) => brotliDecompressSync(input),
};

export interface ParquetTableOptions {
  /** Where each part is spooled while it is read (`LATHE_WORK_DIR`). */
  workDir: string;
  /** Whether the Dataset looks at a column (`isObservedColumn`); the others are not decoded. */
  observes: (column: string) => boolean;
  /** Rows decoded at once (default `SLICE_ROWS`; tests make it small). */
  sliceRows?: number;
}

/**
 * The bytes of a file, read on demand; a range read twice is read once while it is cached
 * (hyparquet asks for the same column-chunk ranges for every slice of a row group).
 */
class FileBytes implements AsyncBuffer {
  readonly byteLength: number;
  private readonly handle: FileHandle;
  private cached = new Map<string, Promise<ArrayBuffer>>();

  constructor(handle: FileHandle, byteLength: number) {
    this.handle = handle;
    this.byteLength = byteLength;
  }

  slice(start: number, end: number = this.byteLength): Promise<ArrayBuffer> {
    const key = `${start}:${end}`;
    let bytes = this.cached.get(key);
    if (!bytes) {
      bytes = this.read(start, end);
      this.cached.set(key, bytes);
    }
    return bytes;
  }

  private async read(start: number, end: number): Promise<ArrayBuffer> {
    const buffer = Buffer.allocUnsafeSlow(end - start);
    let done = 0;
    while (done < buffer.length) {
      const { bytesRead } = await this.handle.read(
        buffer,
        done,
        buffer.length - done,
        start + done,
      );
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    // The buffer owns its ArrayBuffer (allocUnsafeSlow: not the shared pool); slicing would copy it.
    return (done === buffer.length ? buffer.buffer : buffer.buffer.slice(0, done)) as ArrayBuffer;
  }

  /** Drops the cached ranges (the previous row group's). */
  forget(): void {
    this.cached = new Map();
  }
}

/** Writes a part's chunks to `file`, waiting for the disk (memory holds one chunk). */
async function spool(part: SourcePart, file: string): Promise<void> {
  const out = createWriteStream(file);
  const failed = once(out, 'error').then(([error]) => {
    throw error;
  });
  failed.catch(() => undefined);
  try {
    for await (const chunk of part.chunks) {
      if (!out.write(chunk)) await Promise.race([once(out, 'drain'), failed]);
    }
    out.end();
    await Promise.race([once(out, 'finish'), failed]);
  } finally {
    out.destroy();
  }
}

/** A part's file: its footer and the columns to decode. */
interface OpenedPart {
  metadata: FileMetaData;
  names: string[];
  /** Decoded columns, by name, in file order; and each one's index in `names`. */
  read: string[];
  readIndex: number[];
  converters: CellConverter[];
}

async function openPart(
  bytes: AsyncBuffer,
  name: string,
  observes: (column: string) => boolean,
): Promise<OpenedPart> {
  let metadata: FileMetaData;
  try {
    metadata = await parquetMetadataAsync(bytes, { parsers: TEXT_PARSERS });
  } catch (error) {
    throw new IngestFailure(
      'InvalidData',
      `${name} is not a readable Parquet file (its footer: ${messageOf(error)}); spec.format is parquet`,
      { cause: error },
    );
  }
  const columns = parquetSchema(metadata).children;
  const names = columns.map((c) => c.element.name.trim());
  checkHeader(names, name);
  const read: string[] = [];
  const readIndex: number[] = [];
  const converters: CellConverter[] = [];
  for (const [i, column] of columns.entries()) {
    if (!observes(names[i]!)) continue;
    const unsupported = unsupportedTypeOf(column);
    if (unsupported) {
      throw new IngestFailure(
        'InvalidData',
        `${name}: column ${names[i]} is ${unsupported}; a Parquet source's columns must be flat (numbers, text, booleans, decimals, dates and times): leave it out with spec.preparation.drop`,
        { column: names[i] },
      );
    }
    read.push(column.element.name);
    readIndex.push(i);
    converters.push(cellConverterOf(column.element));
  }
  return { metadata, names, read, readIndex, converters };
}

/** Decoded columns (in `read` order, `count` values each) as full-width rows of cells. */
function cellsOf(part: OpenedPart, columns: ArrayLike<unknown>[], count: number): Cell[][] {
  const { converters, readIndex } = part;
  const width = part.names.length;
  const sparse = readIndex.length < width;
  const rows: Cell[][] = new Array(count);
  for (let r = 0; r < count; r++) {
    const row = new Array<Cell>(width);
    if (sparse) row.fill(null);
    for (let j = 0; j < converters.length; j++) row[readIndex[j]!] = converters[j]!(columns[j]![r]);
    rows[r] = row;
  }
  return rows;
}

/**
 * Decodes rows [start, end) of the file, column by column (`onChunk`: no row arrays of
 * hyparquet's own); returns each read column's values for exactly those rows.
 */
async function readSlice(
  bytes: AsyncBuffer,
  part: OpenedPart,
  start: number,
  end: number,
): Promise<ArrayLike<unknown>[]> {
  const count = end - start;
  const columns = part.read.map(() => new Array<unknown>(count).fill(null));
  const indexOf = new Map(part.read.map((name, j) => [name, j]));
  await parquetRead({
    file: bytes,
    metadata: part.metadata,
    columns: part.read,
    rowStart: start,
    rowEnd: end,
    compressors: PARQUET_CODECS,
    parsers: TEXT_PARSERS,
    onChunk: ({ columnName, columnData, rowStart, rowEnd }) => {
      // A chunk is a page's values, which may begin before `start` or end after `end`.
      const target = columns[indexOf.get(columnName)!]!;
      const from = Math.max(rowStart, start);
      const to = Math.min(rowEnd, end);
      for (let row = from; row < to; row++) target[row - start] = columnData[row - rowStart];
    },
  });
  return columns;
}

/** The rows of one spooled part, a batch at a time. */
async function* partBatches(
  file: string,
  name: string,
  columns: string[],
  firstPart: { name: string | undefined },
  options: ParquetTableOptions,
): AsyncGenerator<Cell[][]> {
  const sliceRows = options.sliceRows ?? SLICE_ROWS;
  const handle = await open(file, 'r');
  try {
    const bytes = new FileBytes(handle, (await handle.stat()).size);
    const part = await openPart(bytes, name, options.observes);
    if (firstPart.name === undefined) {
      firstPart.name = name;
      columns.push(...part.names);
    } else if (part.names.join('\u0000') !== columns.join('\u0000')) {
      throw new IngestFailure(
        'InvalidData',
        `${name} has ${part.names.length} columns that differ from ${firstPart.name}'s (${columns.length} columns): every object under the prefix must have the same columns`,
      );
    }
    const groups = part.metadata.row_groups;
    let groupStart = 0;
    for (const [g, group] of groups.entries()) {
      const groupEnd = groupStart + Number(group.num_rows);
      for (let start = groupStart; start < groupEnd; start += sliceRows) {
        const end = Math.min(start + sliceRows, groupEnd);
        let rows: Cell[][];
        try {
          rows =
            part.read.length === 0
              ? emptyRows(end - start, columns.length)
              : cellsOf(part, await readSlice(bytes, part, start, end), end - start);
        } catch (error) {
          if (error instanceof IngestFailure) throw error;
          throw new IngestFailure(
            'InvalidData',
            `${name}: row group ${g + 1} of ${groups.length} cannot be read (${messageOf(error)})`,
            { cause: error },
          );
        }
        for (let at = 0; at < rows.length; at += BATCH_ROWS) {
          yield rows.length <= BATCH_ROWS ? rows : rows.slice(at, at + BATCH_ROWS);
        }
      }
      bytes.forget();
      groupStart = groupEnd;
    }
  } finally {
    await handle.close();
  }
}

function emptyRows(count: number, width: number): Cell[][] {
  return Array.from({ length: count }, () => new Array<Cell>(width).fill(null));
}

/**
 * The Parquet parts as one table: every part must have the same columns (names, in order);
 * each part's types are its own. A part named like Spark's and pyarrow's bookkeeping files
 * (`_SUCCESS`, `_metadata`, `.crc`: a base name starting with `_` or `.`) is skipped.
 */
export function parquetTable(
  parts: AsyncIterable<SourcePart>,
  options: ParquetTableOptions,
): Table {
  const columns: string[] = [];
  async function* batches(): AsyncGenerator<Cell[][]> {
    const dir = await mkdtemp(path.join(options.workDir, 'lathe-parquet-'));
    const firstPart: { name: string | undefined } = { name: undefined };
    let read = 0;
    let skipped: string | undefined;
    try {
      for await (const part of parts) {
        const base = part.name.replace(/[?#].*$/, '').replace(/^.*\//, '');
        if (base.startsWith('_') || base.startsWith('.')) {
          for await (const _ of part.chunks); // drained, so its connection is reused
          skipped ??= part.name;
          continue;
        }
        const file = path.join(dir, `part-${read++}.parquet`);
        try {
          await spool(part, file);
          yield* partBatches(file, part.name, columns, firstPart, options);
        } finally {
          await rm(file, { force: true });
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    if (read === 0) {
      throw new IngestFailure(
        'SourceNotFound',
        `no Parquet object: ${skipped} and the others are bookkeeping files (names starting with _ or .)`,
      );
    }
  }
  return { columns, batches };
}
