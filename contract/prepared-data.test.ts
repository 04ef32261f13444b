import { describe, expect, it } from 'vitest';
import { PII_HASH_SCHEME, type PiiHashing } from './pii-hash.js';
import {
  CellError,
  csvLinePreparer,
  decodeLabel,
  encodeLabel,
  formatNumber,
  type InputTransform,
  isMissing,
  type PreparedSchema,
  PreparedSchemaSchema,
  parseCategoryCell,
  parseNumericCell,
  plainDecimal,
  preparedHeader,
  preparedLine,
  prepareRecord,
  recordPreparer,
  scaleNumber,
  shortestFloat32,
} from './prepared-data.js';
import { seededRandom } from './seeded-random.js';

const schema: PreparedSchema = PreparedSchemaSchema.parse({
  formatVersion: 1,
  task: 'classification',
  label: { name: 'species', type: 'categorical', classes: ['setosa', 'versicolor'] },
  inputs: [
    {
      name: 'length',
      type: 'number',
      kind: 'numeric',
      impute: 5,
      scale: { method: 'standard', mean: 5, std: 2 },
    },
    {
      name: 'width',
      type: 'number',
      kind: 'numeric',
      impute: null,
      scale: { method: 'minMax', min: 0, max: 10 },
    },
    {
      name: 'colour',
      type: 'categorical',
      kind: 'categorical',
      impute: 'red',
      encoding: 'oneHot',
      categories: ['red', 'blue'],
      other: true,
    },
    {
      name: 'wild',
      type: 'boolean',
      kind: 'categorical',
      impute: 'false',
      encoding: 'ordinal',
      categories: ['false', 'true'],
      other: false,
    },
  ],
  features: ['length', 'width', 'colour=red', 'colour=blue', 'colour=__other__', 'wild'],
});

describe('prepareRecord', () => {
  it.each([
    ['a full record', { length: 7, width: 5, colour: 'blue', wild: 'yes' }, [1, 0.5, 0, 1, 0, 1]],
    [
      'numbers as text',
      { length: '3', width: ' 10 ', colour: 'red', wild: false },
      [-1, 1, 1, 0, 0, 0],
    ],
    ['imputed cells', { length: 'NA', width: 0, colour: '', wild: null }, [0, 0, 1, 0, 0, 0]],
    ['an unknown category', { length: 5, width: 0, colour: 'green', wild: 1 }, [0, 0, 0, 0, 1, 1]],
  ])('prepares %s', (_, record, expected) => {
    expect(prepareRecord(schema, record)).toEqual(expected);
  });

  it.each([
    ['a non-numeric value', { length: 'tall', width: 1 }, 'length'],
    ['a missing value whose rows were dropped', { length: 1 }, 'width'],
  ])('rejects %s, naming the column', (_, record, column) => {
    try {
      prepareRecord(schema, record);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(CellError);
      expect((error as CellError).column).toBe(column);
      expect((error as Error).message).toContain(column);
    }
  });
});

/** The preparation as its definition reads, input by input: what `recordPreparer` must equal. */
function preparedByDefinition(
  schema: PreparedSchema,
  record: Record<string, unknown>,
  hashing: PiiHashing,
): number[] {
  const out: number[] = [];
  for (const input of schema.inputs) {
    const raw = record[input.name];
    if (input.kind === 'numeric') {
      const value = parseNumericCell(input.name, raw) ?? input.impute;
      if (value === null) throw new CellError(input.name, raw, `column ${input.name}: required`);
      out.push(scaleNumber(input, value));
      continue;
    }
    let category = parseCategoryCell(input.type, raw);
    if (category !== undefined && (input.hash !== undefined || input.hashSalt !== undefined))
      category = hashing(input, category);
    const value = category ?? input.impute;
    if (value === null) throw new CellError(input.name, raw, `column ${input.name}: required`);
    const index = input.categories.indexOf(value);
    const known = input.categories.length;
    if (input.encoding === 'ordinal') out.push(index >= 0 ? index : input.other ? known : -1);
    else
      for (let i = 0; i < known + (input.other ? 1 : 0); i++)
        out.push(i === index || (index < 0 && input.other && i === known) ? 1 : 0);
  }
  return out;
}

describe('recordPreparer', () => {
  const inputs: InputTransform[] = [
    ...schema.inputs,
    { name: 'n', type: 'integer', kind: 'numeric', impute: -3, scale: { method: 'none' } },
    {
      name: 'flat',
      type: 'number',
      kind: 'numeric',
      impute: 1,
      scale: { method: 'minMax', min: 2, max: 2 },
    },
    {
      name: 'odd',
      type: 'number',
      kind: 'numeric',
      impute: 0.1,
      scale: { method: 'standard', mean: 0.3, std: 0.7 },
    },
    {
      name: 'size',
      type: 'string',
      kind: 'categorical',
      impute: null,
      encoding: 'ordinal',
      categories: ['s', 'm', 's', 'l'],
      other: true,
    },
    {
      name: 'email',
      type: 'categorical',
      kind: 'categorical',
      impute: 'h:none',
      encoding: 'oneHot',
      categories: ['h:a', 'h:b'],
      other: false,
      hash: PII_HASH_SCHEME,
    },
  ];
  const wide = PreparedSchemaSchema.parse({
    ...schema,
    inputs,
    features: inputs.flatMap((input) =>
      input.kind === 'numeric' || input.encoding === 'ordinal'
        ? [input.name]
        : [...input.categories, ...(input.other ? ['other'] : [])].map((c) => `${input.name}=${c}`),
    ),
  });
  const hashing: PiiHashing = (_column, value) => `h:${value}`;
  const cells: unknown[] = [
    ...['7', '-2.5', '.5', '5.', '0012', '-0', '1e3', '0x1f', ' 4 ', '\t8', '+3', '1.2.3', '-'],
    ...['', ' ', 'NA', 'nan', 'NaN', 'null', '?', 'Infinity', '-Infinity', 'tall', '1,5'],
    ...['1234567890123456', '0.1234567890123456789', '-99999999999999.9'],
    ...[3, -0.25, Number.NaN, Number.POSITIVE_INFINITY, true, false, null, undefined, {}],
    ...['red', 'blue', ' blue ', 'green', 'yes', 'no', 'T', 's', 'm', 'l', 'xl', 'a', 'b'],
  ];

  it('prepares every record as the definition does, into any array at any offset', () => {
    const random = seededRandom(23);
    const pick = () => cells[Math.floor(random() * cells.length)];
    const prepare = recordPreparer(wide, hashing);
    const batch = new Float32Array(3 + wide.features.length);
    let prepared = 0;
    let failed = 0;
    for (let trial = 0; trial < 20_000; trial++) {
      const record = Object.fromEntries(inputs.map((input) => [input.name, pick()]));
      if (random() < 0.1) delete record[inputs[Math.floor(random() * inputs.length)]!.name];
      let expected: number[] | string;
      try {
        expected = preparedByDefinition(wide, record, hashing);
      } catch (error) {
        expected = (error as CellError).column;
      }
      try {
        const end = prepare(record, batch, 3);
        expect(end - 3).toBe(wide.features.length);
        expect(Array.from(batch.subarray(3))).toEqual(
          Array.from(Float32Array.from(expected as number[])),
        );
        expect(prepareRecord(wide, record, [], hashing)).toEqual(expected);
        prepared++;
      } catch (error) {
        if (!(error instanceof CellError)) throw error;
        expect(error.column).toBe(expected);
        failed++;
      }
    }
    // Both paths were taken, many times.
    expect(prepared).toBeGreaterThan(500);
    expect(failed).toBeGreaterThan(500);
  });

  it('prepares CSV lines in place as their records, at any column order, or says their width differs', () => {
    const random = seededRandom(29);
    const texts = cells.filter((c): c is string => typeof c === 'string' && !c.includes(';'));
    const names = inputs.map((input) => input.name);
    let prepared = 0;
    let failed = 0;
    let widths = 0;
    for (let trial = 0; trial < 400; trial++) {
      // A layout: the inputs shuffled, one maybe left out, an id and a column named twice.
      const columns = names
        .filter(() => random() > 0.05)
        .sort(() => random() - 0.5)
        .concat(trial % 3 === 0 ? ['id', 'n'] : ['id']);
      const prepare = csvLinePreparer(wide, columns, ';', hashing);
      const out = new Float32Array(2 + wide.features.length);
      for (let row = 0; row < 25; row++) {
        const count = random() < 0.1 ? columns.length + (random() < 0.5 ? -1 : 1) : columns.length;
        const fields = Array.from(
          { length: count },
          () => texts[Math.floor(random() * texts.length)]!,
        );
        const line = fields.join(';');
        if (line.split(';').length !== columns.length) {
          expect(prepare(line, out, 2)).toBe(-1);
          widths++;
          continue;
        }
        const record = Object.fromEntries(columns.map((column, j) => [column, fields[j]]));
        let expected: number[] | string;
        try {
          expected = preparedByDefinition(wide, record, hashing);
        } catch (error) {
          expected = (error as CellError).column;
        }
        try {
          expect(prepare(line, out, 2)).toBe(2 + wide.features.length);
          expect(Array.from(out.subarray(2))).toEqual(
            Array.from(Float32Array.from(expected as number[])),
          );
          prepared++;
        } catch (error) {
          if (!(error instanceof CellError)) throw error;
          expect(error.column).toBe(expected);
          failed++;
        }
      }
    }
    expect(prepared).toBeGreaterThan(100);
    expect(failed).toBeGreaterThan(100);
    expect(widths).toBeGreaterThan(100);
  });

  it('leaves the array as it was when a cell does not fit', () => {
    const out = [9];
    expect(() => prepareRecord(schema, { length: 1, width: 'wide' }, out)).toThrow(CellError);
    expect(out).toEqual([9]);
  });
});

describe('plainDecimal', () => {
  it('is Number of every plain decimal, on a million of them', () => {
    const random = seededRandom(7);
    let mismatches = 0;
    for (let trial = 0; trial < 1_000_000; trial++) {
      const digits = Array.from({ length: 1 + Math.floor(random() * 15) }, () =>
        Math.floor(random() * 10),
      ).join('');
      const point = Math.floor(random() * (digits.length + 1));
      const text = `${random() < 0.3 ? '-' : ''}${digits.slice(0, point)}${random() < 0.8 ? '.' : ''}${digits.slice(point)}`;
      if (!Object.is(plainDecimal(text), Number(text))) mismatches++;
    }
    expect(mismatches).toBe(0);
  });

  it.each([
    '',
    '-',
    '.',
    '-.',
    '1e5',
    '+1',
    ' 1',
    '1 ',
    '1.2.3',
    '0x10',
    '1234567890123456',
    'Infinity',
    '1,5',
  ])('leaves %j to Number', (text) => {
    expect(plainDecimal(text)).toBeNaN();
  });
});

describe('labels', () => {
  it('encodes and decodes classes', () => {
    expect(encodeLabel(schema, 'versicolor')).toBe(1);
    expect(decodeLabel(schema, 0)).toBe('setosa');
    expect(() => encodeLabel(schema, 'virginica')).toThrow('not a known class');
  });
});

describe('prepared CSV', () => {
  it.each([
    [0, '0'],
    [1, '1'],
    [-3, '-3'],
    [0.1, '0.1'],
    [1 / 3, '0.33333334'],
    [-1.2345678901, '-1.2345679'],
    [1e-7, '1e-7'],
  ])('formats %s as %s', (value, text) => {
    expect(formatNumber(value)).toBe(text);
    expect(Math.fround(Number(text))).toBe(Math.fround(value));
  });

  it('writes the header and a line', () => {
    expect(preparedHeader(schema)).toBe(
      'length,width,colour=red,colour=blue,colour=__other__,wild,species',
    );
    expect(preparedLine([1, 0.5, 0], 1)).toBe('1,0.5,0,1');
  });

  it.each(['', ' ', 'NA', 'NaN', null, undefined, Number.NaN, '?'])('treats %j as missing', (v) => {
    expect(isMissing(v)).toBe(true);
  });
});

describe('formatNumber, fast path', () => {
  it('matches the shortest-digits definition on a million float32 values', () => {
    // A seeded xorshift over float32 bit patterns: every exponent and mantissa shape.
    let state = 0x9e3779b9;
    const bits = new Uint32Array(1);
    const view = new Float32Array(bits.buffer);
    let checked = 0;
    for (let i = 0; i < 1_000_000; i++) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      // A quarter anywhere, the rest between 1e-16 and 2^22 (the fast path), either sign.
      const u = state >>> 0;
      bits[0] = i % 4 === 0 ? u : (0x24000000 + (u % 0x26800000)) | (u & 0x80000000);
      const f = view[0]!;
      if (!Number.isFinite(f)) continue;
      const expected =
        Number.isInteger(f) && Math.abs(f) < 2 ** 24 ? String(f) : shortestFloat32(f);
      if (formatNumber(f) !== expected) expect(formatNumber(f)).toBe(expected);
      checked++;
    }
    expect(checked).toBeGreaterThan(990_000);
  }, 120_000);
});
