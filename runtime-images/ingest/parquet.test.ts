/**
 * The Parquet table: the cells each Parquet type becomes (files written by pyarrow,
 * testdata/parquet/make_fixtures.py), every codec, row groups read in slices, parts of a
 * prefix, the errors a user sees — and the point of it all: a table as Parquet and as CSV
 * gives the same dataset version.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type DatasetInput, DatasetSpecSchema } from '../../operator/src/api/dataset.js';
import { decodeCsv } from './csv.js';
import { IngestFailure } from './failure.js';
import { generatedCsv } from './generated-data.js';
import { prepareVersion, tableOf } from './ingest.js';
import { type ParquetTableOptions, parquetTable } from './parquet.js';
import { versionOf } from './publish.js';
import type { Cell, SourcePart } from './table.js';

const fixtures = path.join(import.meta.dirname, 'testdata', 'parquet');

let workDir: string;
beforeEach(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'lathe-parquet-test-'));
});
afterEach(async () => {
  await rm(workDir, { recursive: true, force: true });
});

async function* partsOf(...files: { name: string; bytes: Uint8Array }[]) {
  for (const { name, bytes } of files) {
    yield {
      name,
      chunks: (async function* () {
        // Uneven chunks, as a network stream gives them.
        for (let at = 0; at < bytes.length; at += 1000) {
          yield Buffer.from(bytes.subarray(at, at + 1000));
        }
      })(),
    } satisfies SourcePart;
  }
}

async function fixture(name: string) {
  return { name: `s3://b/${name}`, bytes: await readFile(path.join(fixtures, name)) };
}

async function readAll(
  files: { name: string; bytes: Uint8Array }[],
  options: Partial<ParquetTableOptions> = {},
): Promise<{ columns: string[]; rows: Cell[][]; batches: number }> {
  const table = parquetTable(partsOf(...files), { workDir, observes: () => true, ...options });
  const rows: Cell[][] = [];
  let batches = 0;
  for await (const batch of table.batches()) {
    rows.push(...batch);
    batches++;
  }
  return { columns: table.columns, rows, batches };
}

async function failureOf(promise: Promise<unknown>): Promise<IngestFailure> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof IngestFailure) return error;
    throw error;
  }
  throw new Error('expected an IngestFailure');
}

describe('the cells of each Parquet type (a pyarrow file)', () => {
  it.each([
    // column, row 1, row 2, row 3
    ['flag', true, false, null],
    ['i32', 1, -2, null],
    ['i64', '9007199254740993', -5, null], // beyond 2^53: the exact digits
    ['u64', '18446744073709551615', 7, null],
    ['f32', '0.1', '2.5', null], // the float32's shortest text, NaN missing
    ['f64', 0.1, -1e-7, null],
    ['dec', '12.30', '-0.05', null],
    ['name', 'setosa', 'versicolor', 'setosa'], // dictionary-encoded
    ['text', 'a, "quoted"\nline', '', null],
    ['day', '2024-02-29', '1969-12-31', null],
    ['ts_ms', '2024-01-02T03:04:05.678Z', null, null],
    ['ts_us', '1969-12-31T23:59:59.999999Z', null, null],
    ['ts_ns_local', '2023-11-14T22:13:20.123456789', null, null], // no time zone: no Z
    ['clock', '13:14:15.016000', null, null],
    ['blob', 'AAH/', null, null], // fixed-length bytes: base64
  ])('%s', async (column, ...expected) => {
    const { columns, rows } = await readAll([await fixture('types.parquet')]);
    const j = columns.indexOf(column);
    expect(j).toBeGreaterThanOrEqual(0);
    expect(rows.map((r) => r[j])).toEqual(expected);
  });

  it('leaves the columns the Dataset does not look at undecoded (null)', async () => {
    const { columns, rows } = await readAll([await fixture('types.parquet')], {
      observes: (c) => c === 'name',
    });
    expect(columns).toHaveLength(15);
    expect(rows[1]!.filter((c) => c !== null)).toEqual(['versicolor']);
  });
});

describe('codecs', () => {
  it.each(['none', 'snappy', 'gzip', 'zstd', 'brotli', 'lz4'])('%s', async (codec) => {
    const { columns, rows } = await readAll([await fixture(`codec-${codec}.parquet`)]);
    expect(columns).toEqual(['x', 'k', 'y']);
    expect(rows).toHaveLength(200);
    expect(rows[199]).toEqual([49.75, 'green', 1]);
    expect(rows.map((r) => r[0])).toEqual(Array.from({ length: 200 }, (_, i) => i / 4));
  });
});

/** A Parquet file of the columns, in row groups of `rowGroupSize`. */
function parquetOf(columns: Record<string, Cell[]>, rowGroupSize: number): Uint8Array {
  const columnData = Object.entries(columns).map(([name, data]) => ({
    name,
    data,
    type:
      typeof data.find((v) => v !== null) === 'number' ? ('DOUBLE' as const) : ('STRING' as const),
  }));
  return new Uint8Array(parquetWriteBuffer({ columnData, rowGroupSize }));
}

describe('row groups and parts', () => {
  const x = Array.from({ length: 1000 }, (_, i) => i);
  const k = x.map((i) => (i % 7 === 0 ? null : `k${i % 5}`));

  it('reads every row of every row group once, in order, in slices', async () => {
    const bytes = parquetOf({ x, k }, 300);
    const { rows, batches } = await readAll([{ name: 'f', bytes }], { sliceRows: 128 });
    expect(rows.map((r) => r[0])).toEqual(x);
    expect(rows.map((r) => r[1])).toEqual(k);
    // 4 row groups (300, 300, 300, 100 rows) in slices of at most 128: 3 + 3 + 3 + 1.
    expect(batches).toBe(10);
  });

  it('reads the objects of a prefix one after another, skipping bookkeeping files', async () => {
    const first = parquetOf({ x: x.slice(0, 400), k: k.slice(0, 400) }, 1000);
    const second = parquetOf({ x: x.slice(400), k: k.slice(400) }, 1000);
    const { rows } = await readAll([
      { name: 's3://b/t/_SUCCESS', bytes: new Uint8Array() },
      { name: 's3://b/t/a.parquet', bytes: first },
      { name: 's3://b/t/b.parquet', bytes: second },
    ]);
    expect(rows.map((r) => r[0])).toEqual(x);
  });

  it('refuses objects of a prefix whose columns differ', async () => {
    const error = await failureOf(
      readAll([
        { name: 's3://b/t/a.parquet', bytes: parquetOf({ x, k }, 1000) },
        { name: 's3://b/t/b.parquet', bytes: parquetOf({ k, x }, 1000) },
      ]),
    );
    expect(error.reason).toBe('InvalidData');
    expect(error.message).toContain(
      "s3://b/t/b.parquet has 2 columns that differ from s3://b/t/a.parquet's",
    );
  });
});

describe('bad Parquet', () => {
  it('a corrupt footer is InvalidData naming the object', async () => {
    const { bytes } = await fixture('codec-snappy.parquet');
    const cut = bytes.subarray(0, bytes.length - 20);
    const error = await failureOf(readAll([{ name: 's3://b/cut.parquet', bytes: cut }]));
    expect(error.reason).toBe('InvalidData');
    expect(error.message).toMatch(/^s3:\/\/b\/cut\.parquet is not a readable Parquet file/);
  });

  it('a CSV read as Parquet is InvalidData', async () => {
    const csv = { name: 'http://h/t.csv', bytes: Buffer.from('x,y\n1,2\n') };
    const error = await failureOf(readAll([csv]));
    expect(error.message).toContain('http://h/t.csv is not a readable Parquet file');
  });

  it('corrupt pages are InvalidData naming the row group', async () => {
    const { bytes } = await fixture('codec-snappy.parquet');
    const damaged = Buffer.from(bytes);
    damaged.fill(0xff, 8, 200); // the first column's pages, not the footer
    const error = await failureOf(readAll([{ name: 's3://b/d.parquet', bytes: damaged }]));
    expect(error.reason).toBe('InvalidData');
    expect(error.message).toContain('s3://b/d.parquet: row group 1 of 1 cannot be read');
  });

  it.each([
    ['tags', 'a nested column (LIST)'],
    ['point', 'a nested column (group)'],
  ])('a nested column the Dataset uses is refused by name: %s', async (column, what) => {
    const error = await failureOf(
      readAll([await fixture('nested.parquet')], { observes: (c) => c === column || c === 'y' }),
    );
    expect(error.reason).toBe('InvalidData');
    expect(error.column).toBe(column);
    expect(error.message).toContain(`column ${column} is ${what}`);
    expect(error.message).toContain('spec.preparation.drop');
  });

  it('nested columns the Dataset leaves out are not read', async () => {
    const { rows } = await readAll([await fixture('nested.parquet')], {
      observes: (c) => c === 'x' || c === 'y',
    });
    expect(rows).toEqual([
      [1, null, null, 'no'],
      [2, null, null, 'yes'],
    ]);
  });
});

describe('the same table as CSV and as Parquet', () => {
  type SpecInput = DatasetInput['spec'];

  async function versionFrom(spec: SpecInput, parts: AsyncIterable<SourcePart>) {
    const parsed = DatasetSpecSchema.parse(spec);
    const dir = await mkdtemp(path.join(workDir, 'v-'));
    const prepared = await prepareVersion(
      parsed,
      tableOf(parsed, parts, workDir),
      dir,
      undefined,
      Buffer.alloc(32, 7), // the namespace key a Hash column needs
    );
    return versionOf(prepared.files).version;
  }

  it.each([
    ['all columns', {}],
    [
      'select, pii and validation',
      {
        preparation: { drop: ['f2'], pii: [{ column: 'size', action: 'Hash' as const }] },
        validation: { columns: [{ name: 'f1', min: -100 }] },
      },
    ],
  ])('gives the same dataset version: %s', { timeout: 120_000 }, async (_, extra) => {
    const csv = [...generatedCsv(3000, 7)].join('');
    const [header, ...records] = decodeCsv(csv).filter((r) => r.length > 1);
    const columns: Record<string, Cell[]> = {};
    for (const [j, name] of header!.entries()) {
      columns[name] = records.map((r) => {
        const cell = r[j]!;
        if (cell === '') return null;
        return j < 8 ? Number(cell) : cell;
      });
    }
    const half = (from: number, to: number) =>
      parquetOf(
        Object.fromEntries(Object.entries(columns).map(([n, d]) => [n, d.slice(from, to)])),
        700,
      );
    const base = {
      source: { s3: { bucket: 'data', prefix: 't/' } },
      schema: { label: 'label' },
      preparation: { missingValues: { numeric: 'mean' as const } },
      ...extra,
    } as SpecInput;
    const fromCsv = await versionFrom(
      { ...base, format: 'csv' },
      (async function* () {
        yield {
          name: 'c',
          chunks: (async function* () {
            yield Buffer.from(csv);
          })(),
        };
      })(),
    );
    const fromParquet = await versionFrom(
      { ...base, format: 'parquet' },
      partsOf(
        { name: 'a.parquet', bytes: half(0, 1234) },
        { name: 'b.parquet', bytes: half(1234, 3000) },
      ),
    );
    expect(fromParquet).toBe(fromCsv);
  });
});
