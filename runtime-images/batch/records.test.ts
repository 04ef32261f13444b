import { describe, expect, it } from 'vitest';
import { shardRanges } from '../../contract/batch.js';
import { CsvDecoder, CsvSyntaxError, decodeCsv } from '../ingest/csv.js';
import { seededRandom } from '../trainer/train.js';
import {
  CsvLayout,
  CsvLineRecord,
  cellOf,
  csvHeaderOf,
  csvRecordMaker,
  csvRecordOf,
  type InputRecord,
  jsonRecordOf,
  linesFrom,
  type RecordFormat,
  readOffsetOf,
  recordBatchesOfRange,
  recordsOfRange,
} from './records.js';

/** `bytes` as chunks of `size` bytes (so lines and UTF-8 characters straddle them). */
async function* chunksOf(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** A record as plain data (a `CsvLineRecord`'s line split), for `toEqual`. */
function plain(record: InputRecord): InputRecord {
  const { values, error } = record;
  return error === undefined ? { values } : { values, error };
}

/** The records of `[start, end)` of `bytes`, read as the program reads them (from one byte early). */
async function rangeRecords(
  bytes: Buffer,
  range: { start: number; end: number },
  format: RecordFormat,
  chunk = 5,
): Promise<InputRecord[]> {
  const records = await collect(
    recordsOfRange(chunksOf(bytes.subarray(readOffsetOf(range.start)), chunk), range, format),
  );
  return records.map(plain);
}

describe('linesFrom', () => {
  const text = Buffer.from('ab\ncd\r\n\nefg');
  it.each([
    // start 0: every line; 1..3: from "cd" (offset 3; a range starting at 3 keeps it); 4: from the blank line.
    [0, [0, 3, 7, 8]],
    [1, [3, 7, 8]],
    [3, [3, 7, 8]],
    [4, [7, 8]],
    [8, [8]],
    [9, []],
  ])('from %i, the lines starting at %j', async (start, starts) => {
    for (const size of [1, 2, 3, 64]) {
      const lines = await collect(
        linesFrom(chunksOf(text.subarray(readOffsetOf(start)), size), start),
      );
      expect(lines.map((l) => l.start)).toEqual(starts);
      for (const line of lines) {
        const end = text.indexOf('\n', line.start);
        expect(line.text).toBe(text.subarray(line.start, end === -1 ? undefined : end).toString());
      }
    }
  });

  it('drops a byte-order mark at the start of the object only', async () => {
    const bom = Buffer.from('\ufeffa\nb\n');
    expect((await collect(linesFrom(chunksOf(bom, 1), 0))).map((l) => l.text)).toEqual(['a', 'b']);
  });
});

/** A random-ish JSON Lines file: varied lengths, CRLF, blank lines, multi-byte characters. */
function jsonlFile(random: () => number, rows: number): { bytes: Buffer; expected: unknown[] } {
  const expected: unknown[] = [];
  let text = '';
  for (let r = 0; r < rows; r++) {
    const record = { id: r, name: 'é€😀'.repeat(Math.floor(random() * 4)), x: random() };
    expected.push(record);
    text += JSON.stringify(record) + (random() < 0.3 ? '\r\n' : '\n');
    if (random() < 0.1) text += '\n';
  }
  if (random() < 0.5) text = text.replace(/\r?\n$/, '');
  return { bytes: Buffer.from(text), expected };
}

/** A random-ish CSV file with a header: quoted fields with delimiters and quotes, CRLF, blank lines. */
function csvFile(random: () => number, rows: number): { bytes: Buffer; expected: unknown[] } {
  const expected: unknown[] = [];
  let text = 'id,name,x\r\n';
  for (let r = 0; r < rows; r++) {
    const name = ['plain', 'a,b', 'say "hi"', 'ü€', ''][Math.floor(random() * 5)]!;
    const x = String(Math.round(random() * 1000) / 10);
    expected.push({ id: String(r), name, x });
    const quoted = /[",]/.test(name) ? `"${name.replaceAll('"', '""')}"` : name;
    text += `${r},${quoted},${x}${random() < 0.3 ? '\r\n' : '\n'}`;
    if (random() < 0.1) text += '\n';
  }
  return { bytes: Buffer.from(text), expected };
}

describe('recordsOfRange over shards', () => {
  it('reads every record exactly once, in order, whatever the shard count and chunk size', async () => {
    const random = seededRandom(3);
    for (let trial = 0; trial < 6; trial++) {
      const files = [
        { ...csvFile(random, 1 + Math.floor(random() * 40)), format: 'csv' as const },
        { ...jsonlFile(random, 1 + Math.floor(random() * 40)), format: 'jsonl' as const },
        { ...csvFile(random, 1 + Math.floor(random() * 5)), format: 'csv' as const },
      ];
      const objects = files.map((f) => ({ sizeBytes: f.bytes.length }));
      const expected = files.flatMap((f) => f.expected);
      for (let shards = 1; shards <= 7; shards++) {
        const all: unknown[] = [];
        for (let shard = 0; shard < shards; shard++) {
          for (const range of shardRanges(objects, shards, shard)) {
            const file = files[range.object]!;
            const format: RecordFormat =
              file.format === 'jsonl'
                ? { format: 'jsonl' }
                : { format: 'csv', delimiter: ',', header: true, columns: ['id', 'name', 'x'] };
            const records = await rangeRecords(
              file.bytes,
              range,
              format,
              1 + ((trial * 7 + shard) % 11),
            );
            for (const record of records) {
              expect(record.error).toBeUndefined();
              all.push(record.values);
            }
          }
        }
        expect(all, `${shards} shards, trial ${trial}`).toEqual(expected);
      }
    }
  });

  it('splits at every byte offset without losing or repeating a record (two ranges)', async () => {
    const { bytes, expected } = csvFile(seededRandom(9), 12);
    const format: RecordFormat = {
      format: 'csv',
      delimiter: ',',
      header: true,
      columns: ['id', 'name', 'x'],
    };
    for (let cut = 0; cut <= bytes.length; cut++) {
      const first = await rangeRecords(bytes, { start: 0, end: cut }, format, 3);
      const second = await rangeRecords(bytes, { start: cut, end: bytes.length }, format, 3);
      expect(
        [...first, ...second].map((r) => r.values),
        `cut at ${cut}`,
      ).toEqual(expected);
    }
  });
});

describe('recordsOfRange, records that are not', () => {
  it('makes a bad JSON line or a non-object a failed record in its place', async () => {
    const bytes = Buffer.from('{"a":1}\n{"a":\n[1,2]\n"text"\n{"a":2}\n');
    const records = await rangeRecords(bytes, { start: 0, end: bytes.length }, { format: 'jsonl' });
    expect(records.map((r) => r.error ?? r.values)).toEqual([
      { a: 1 },
      expect.stringMatching(/^not JSON: /),
      'not a JSON object keyed by column',
      'not a JSON object keyed by column',
      { a: 2 },
    ]);
  });

  it('makes a CSV record with too few or too many fields, or bad quoting, a failed record', async () => {
    const bytes = Buffer.from('a;b\n1;2\n3\n4;5;6\n7;"x"y\n8;9\n');
    const format: RecordFormat = {
      format: 'csv',
      delimiter: ';',
      header: true,
      columns: ['a', 'b'],
    };
    const records = await rangeRecords(bytes, { start: 0, end: bytes.length }, format);
    expect(records).toEqual([
      { values: { a: '1', b: '2' } },
      { values: { a: '3' }, error: 'has 1 fields, the columns are 2' },
      { values: { a: '4', b: '5' }, error: 'has 3 fields, the columns are 2' },
      { values: {}, error: 'CSV: unexpected text after a closing quote' },
      { values: { a: '8', b: '9' } },
    ]);
  });

  it('reads headerless CSV with the given columns, the first line a record', async () => {
    const bytes = Buffer.from('1,2\n3,4');
    const format: RecordFormat = {
      format: 'csv',
      delimiter: ',',
      header: false,
      columns: ['p', 'q'],
    };
    const records = await rangeRecords(bytes, { start: 0, end: bytes.length }, format);
    expect(records.map((r) => r.values)).toEqual([
      { p: '1', q: '2' },
      { p: '3', q: '4' },
    ]);
  });

  it('continues a quoted field with a line break within one range', async () => {
    const text = 'id,note\n1,"two\nlines"\n2,plain\n';
    const bytes = Buffer.from(text);
    const format: RecordFormat = {
      format: 'csv',
      delimiter: ',',
      header: true,
      columns: ['id', 'note'],
    };
    const records = await rangeRecords(bytes, { start: 0, end: bytes.length }, format, 4);
    expect(records.map((r) => r.values)).toEqual(
      decodeCsv(text)
        .slice(1)
        .map(([id, note]) => ({ id, note })),
    );
    // A range ending inside the record still reads it to its end.
    const cut = text.indexOf('two') + 1;
    const first = await rangeRecords(bytes, { start: 0, end: cut }, format, 4);
    expect(first.map((r) => r.values)).toEqual([{ id: '1', note: 'two\nlines' }]);
  });
});

describe('csvHeaderOf', () => {
  it('reads the first record, trimming names, and stops there', async () => {
    let read = 0;
    async function* counted() {
      for await (const chunk of chunksOf(Buffer.from('\ufeff a ;b\n1;2\n3;4\n'), 4)) {
        read++;
        yield chunk;
      }
    }
    expect(await csvHeaderOf(counted(), ';', 's3://b/k.csv')).toEqual(['a', 'b']);
    expect(read).toBe(3);
  });

  it.each([
    ['', 's3://b/k.csv has no header line'],
    ['a,b,a\n1,2,3\n', 's3://b/k.csv: the header names the column "a" twice'],
  ])('refuses %j', async (text, message) => {
    await expect(csvHeaderOf(chunksOf(Buffer.from(text), 3), ',', 's3://b/k.csv')).rejects.toThrow(
      message,
    );
  });
});

/**
 * The records of a range as the reader first read them, line by line: `linesFrom`, a blank
 * line skipped, each CSV line written to the ingestion decoder with its `\n` (a new decoder
 * after a syntax error). The brute force `recordBatchesOfRange` must agree with.
 */
async function lineByLineRecords(
  chunks: AsyncIterable<Buffer>,
  range: { start: number; end: number },
  format: RecordFormat,
): Promise<InputRecord[]> {
  const out: InputRecord[] = [];
  const isBlank = (text: string) => text.trim() === '';
  if (format.format === 'jsonl') {
    for await (const line of linesFrom(chunks, range.start)) {
      if (line.start >= range.end) break;
      if (!isBlank(line.text)) out.push(jsonRecordOf(line.text));
    }
    return out;
  }
  let decoder = new CsvDecoder(format.delimiter);
  let open = false;
  let skipHeader = format.header && range.start === 0;
  const take = (records: string[][]) => {
    for (const fields of records) {
      if (skipHeader) skipHeader = false;
      else out.push(csvRecordOf(fields, format.columns));
    }
  };
  const failed = (error: unknown) => {
    if (!(error instanceof CsvSyntaxError)) throw error;
    return { values: {}, error: `CSV: ${error.message.replace(/^line \d+: /, '')}` };
  };
  for await (const line of linesFrom(chunks, range.start)) {
    if (line.start >= range.end && !open) return out;
    if (!open && isBlank(line.text)) continue;
    try {
      const { records } = decoder.write(`${line.text}\n`);
      open = records.length === 0;
      take(records);
    } catch (error) {
      const record = failed(error);
      decoder = new CsvDecoder(format.delimiter);
      open = false;
      if (skipHeader) skipHeader = false;
      else out.push(record);
    }
  }
  if (open) {
    try {
      take(decoder.end().records);
    } catch (error) {
      out.push(failed(error));
    }
  }
  return out;
}

/** A CSV text of awkward lines: quotes, quoted line breaks, bad quotes, BOMs, CRLF, blanks. */
function awkwardCsv(random: () => number, rows: number): Buffer {
  const pieces = [
    'a,b,c',
    'a,b',
    'a,b,c,d',
    '"q,1",b,c',
    '"say ""hi""",b,c',
    '"open\nline",b,c',
    '"multi\r\n\nline","x\ny",c',
    'a"b,c,d',
    '"a"b,c,d',
    '"unclosed,b,c',
    ' ',
    '\t',
    '',
    '\ufeffa,b,c',
    '\ufeff',
    'ü€,😀,x',
    '\u00a0',
    'a,b,c\r',
    'a,b,c\r\r',
  ];
  let text = random() < 0.3 ? '\ufeffid,name,x\n' : 'id,name,x\r\n';
  for (let r = 0; r < rows; r++) {
    text += pieces[Math.floor(random() * pieces.length)]!;
    text += random() < 0.3 ? '\r\n' : '\n';
  }
  if (random() < 0.5) text = text.replace(/\r?\n$/, '');
  return Buffer.from(text);
}

describe('recordBatchesOfRange', () => {
  it('gives the records reading line by line gives, at every cut and chunk size', async () => {
    const random = seededRandom(17);
    for (let trial = 0; trial < 12; trial++) {
      const bytes = awkwardCsv(random, 4 + Math.floor(random() * 12));
      const format: RecordFormat = {
        format: 'csv',
        delimiter: ',',
        header: trial % 3 !== 0,
        columns: ['id', 'name', 'x'],
      };
      for (let cut = 0; cut <= bytes.length; cut += 1 + Math.floor(random() * 4)) {
        for (const range of [
          { start: 0, end: cut },
          { start: cut, end: bytes.length },
        ]) {
          const chunk = 1 + ((trial + cut) % 13);
          const from = bytes.subarray(readOffsetOf(range.start));
          const expected = await lineByLineRecords(chunksOf(from, chunk), range, format);
          const batches = await collect(recordBatchesOfRange(chunksOf(from, chunk), range, format));
          expect(batches.every((b) => b.length > 0)).toBe(true);
          expect(
            batches.flat().map(plain),
            `trial ${trial}, range ${JSON.stringify(range)}`,
          ).toEqual(expected.map(plain));
        }
      }
    }
  });

  it('gives the JSON Lines records reading line by line gives', async () => {
    const random = seededRandom(5);
    const { bytes } = jsonlFile(random, 30);
    const text = Buffer.concat([
      Buffer.from('\ufeff'),
      bytes,
      Buffer.from('\n \n{"a":\n[1]\n\ufeff{"b":1}\n'),
    ]);
    for (let cut = 0; cut <= text.length; cut += 7) {
      for (const range of [
        { start: 0, end: cut },
        { start: cut, end: text.length },
      ]) {
        const from = text.subarray(readOffsetOf(range.start));
        const format: RecordFormat = { format: 'jsonl' };
        const expected = await lineByLineRecords(chunksOf(from, 9), range, format);
        const batches = await collect(recordBatchesOfRange(chunksOf(from, 9), range, format));
        expect(batches.flat().map(plain)).toEqual(expected.map(plain));
      }
    }
  });
});

describe('CsvLineRecord', () => {
  it.each([
    [
      ['a', 'b', 'c'],
      ['1;2;3', '1;2', '1;2;3;4', '', ';;', '1'],
    ],
    [
      ['id', 'x', 'id'],
      ['1;2;3', '1;2', '1', '1;2;3;4'],
    ],
  ])('reads each cell of columns %j as the split line’s record holds it', (columns, lines) => {
    const layout = new CsvLayout(columns, ';');
    for (const line of lines) {
      const reference = csvRecordOf(line.split(';'), columns);
      for (const column of [...columns, 'absent']) {
        // Before and after the record is split (a cell read first never splits it).
        const record = new CsvLineRecord(line, layout);
        expect(record.cell(column), `${line} ${column}`).toEqual(reference.values[column]);
        expect(plain(record)).toEqual(plain(reference));
        expect(cellOf(record, column)).toEqual(reference.values[column]);
      }
    }
  });
});

describe('csvRecordMaker', () => {
  it.each([
    [
      ['a', 'b'],
      ['1', '2'],
    ],
    [['a', 'b'], ['1']],
    [
      ['a', 'b'],
      ['1', '2', '3'],
    ],
    [
      ['2', 'a', '1', 'a'],
      ['w', 'x', 'y', 'z'],
    ],
    [
      ['__proto__', 'a'],
      ['x', 'y'],
    ],
    [
      ['"quoted"', 'back\\slash', '\u2028'],
      ['x', 'y', 'z'],
    ],
  ])('builds what csvRecordOf builds: columns %j, fields %j', (columns, fields) => {
    const made = csvRecordMaker(columns)(fields);
    const reference = csvRecordOf(fields, columns);
    expect(made).toEqual(reference);
    expect(Object.keys(made.values)).toEqual(Object.keys(reference.values));
    expect(Object.getPrototypeOf(made.values)).toBe(Object.prototype);
  });
});
