import { describe, expect, it } from 'vitest';
import {
  CellError,
  decodeLabel,
  encodeLabel,
  formatNumber,
  isMissing,
  type PreparedSchema,
  PreparedSchemaSchema,
  preparedHeader,
  preparedLine,
  prepareRecord,
  shortestFloat32,
} from './prepared-data.js';

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
