import { describe, expect, it } from 'vitest';
import { datasetKind } from '../operator/src/api/dataset.js';
import type { PrinterColumn } from '../operator/src/api/kind.js';
import { goFloat, humanDuration, jsonPathValue, printedNumber, printerCell } from './columns.js';

const obj = {
  metadata: { creationTimestamp: '2026-12-07T10:00:00Z' },
  spec: { suspend: false, version: 3, metrics: { accuracy: 0.9666666666666667, loss: 1.5e-5 } },
  status: {
    conditions: [
      { type: 'Reconciling', status: 'False' },
      { type: 'Ready', status: 'True' },
    ],
    servedVersions: [{ version: 2 }, { version: 3 }],
    rows: 150,
    nested: { a: 1 },
  },
};

describe('jsonPathValue', () => {
  it.each([
    ['.spec.version', 3],
    ['.status.conditions[?(@.type=="Ready")].status', 'True'],
    ['.status.servedVersions[*].version', 2],
    ['.status.missing.field', undefined],
    ['.status.conditions[?(@.type=="Stalled")].status', undefined],
    ['.spec.suspend', false],
  ])('finds %s', (path, expected) => {
    expect(jsonPathValue(obj, path)).toEqual(expected);
  });

  it('names what it cannot parse', () => {
    expect(() => jsonPathValue(obj, '.a[0:2]')).toThrow('unsupported [0:2]');
    expect(() => jsonPathValue(obj, 'spec')).toThrow('unexpected "s"');
  });
});

const column = (type: PrinterColumn['type'], jsonPath: string): PrinterColumn => ({
  name: 'C',
  type,
  jsonPath,
  description: '',
});
const now = new Date('2026-12-07T10:05:30Z');

describe('printerCell (as kubectl get prints it)', () => {
  it.each([
    ['an integer', column('integer', '.spec.version'), '3'],
    ['a truncated integer', column('integer', '.spec.metrics.accuracy'), '0'],
    ['a number', column('number', '.spec.metrics.accuracy'), '0.9666666666666667'],
    ['a small number', column('number', '.spec.metrics.loss'), '1.5e-05'],
    ['a boolean', column('boolean', '.spec.suspend'), 'false'],
    ['a condition', column('string', '.status.conditions[?(@.type=="Ready")].status'), 'True'],
    ['the first of several', column('string', '.status.servedVersions[*].version'), '2'],
    ['an object as JSON', column('string', '.status.nested'), '{"a":1}'],
    ['an age', column('date', '.metadata.creationTimestamp'), '5m30s'],
    ['an absent value', column('integer', '.status.absent'), ''],
    ['a string in a number column', column('number', '.status.conditions[*].status'), ''],
  ])('prints %s', (_, c, expected) => {
    expect(printerCell(c, obj, now)).toBe(expected);
  });

  it("reads the Dataset's own columns", () => {
    const rows = datasetKind.printerColumns.find((c) => c.name === 'Rows')!;
    expect(printerCell(rows, obj, now)).toBe('150');
  });
});

describe('numbers as Go prints them', () => {
  it.each([
    [0.95, '0.95'],
    [5, '5'],
    [1234567, '1234567'],
    [0.0001234, '0.0001234'],
    [0.00001234, '1.234e-05'],
    [1234567.5, '1.2345675e+06'],
    [123456.5, '123456.5'],
    [-2.5e-7, '-2.5e-07'],
    [1e21, '1e+21'],
  ])('%s → %s', (value, expected) => {
    expect(printedNumber(value)).toBe(expected);
  });

  it('formats a float64 like %v', () => {
    expect(goFloat(1e100)).toBe('1e+100');
    expect(goFloat(0)).toBe('0');
  });
});

describe('humanDuration (HumanDuration of apimachinery)', () => {
  it.each([
    [-3000, '<invalid>'],
    [-500, '0s'],
    [0, '0s'],
    [119_000, '119s'],
    [120_000, '2m'],
    [330_000, '5m30s'],
    [600_000, '10m'],
    [179 * 60_000, '179m'],
    [3 * 3600_000, '3h'],
    [(3 * 60 + 5) * 60_000, '3h5m'],
    [8 * 3600_000, '8h'],
    [47 * 3600_000, '47h'],
    [49 * 3600_000, '2d1h'],
    [8 * 24 * 3600_000, '8d'],
    [(2 * 365 + 3) * 24 * 3600_000, '2y3d'],
    [9 * 365 * 24 * 3600_000, '9y'],
  ])('%d ms → %s', (ms, expected) => {
    expect(humanDuration(ms)).toBe(expected);
  });
});
