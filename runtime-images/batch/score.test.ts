import { describe, expect, it } from 'vitest';
import type { BatchOutputOptions } from '../../contract/batch.js';
import { csvField, type PreparedSchema } from '../../contract/prepared-data.js';
import { seededRandom } from '../../contract/seeded-random.js';
import { fixtureSchema } from '../server/fixture.js';
import { PartFormat } from './score.js';

/**
 * A row as the part first encoded it, the brute force the line templates must agree with: a
 * `Map` of the cells, `JSON.stringify(Object.fromEntries(...))` or the CSV columns' cells.
 * Numbers are passed through `number` (the new part writes float32 outputs shortest).
 */
function referenceLine(
  schema: PreparedSchema,
  options: BatchOutputOptions,
  columns: readonly string[],
  values: Record<string, unknown>,
  outcome: { error: string } | { outputs: number[] },
): string {
  const classes = (schema.label.classes ?? []).map(String);
  const row = new Map<string, unknown>();
  for (const column of options.passthroughColumns)
    row.set(column, values[column] === undefined ? null : values[column]);
  if ('error' in outcome) row.set('error', outcome.error);
  else if (schema.task === 'regression') row.set('prediction', outcome.outputs[0]);
  else {
    const o = outcome.outputs;
    let best = 0;
    for (let k = 1; k < o.length; k++) if (o[k]! > o[best]!) best = k;
    if (options.include.includes('label')) row.set('label', classes[best] ?? best);
    if (options.include.includes('probabilities')) {
      if (options.format === 'jsonl') {
        const probabilities: Record<string, number> = {};
        for (let k = 0; k < o.length; k++) probabilities[classes[k]!] = o[k]!;
        row.set('probabilities', probabilities);
      } else for (let k = 0; k < o.length; k++) row.set(`probability_${classes[k]}`, o[k]!);
    }
  }
  if (options.format === 'jsonl') return `${JSON.stringify(Object.fromEntries(row))}\n`;
  const cell = (value: unknown) =>
    value === null || value === undefined
      ? ''
      : typeof value === 'string'
        ? csvField(value)
        : typeof value === 'number' || typeof value === 'boolean'
          ? String(value)
          : csvField(JSON.stringify(value));
  return `${columns.map((column) => cell(row.get(column))).join(',')}\n`;
}

/** The shortest decimal that reads back as the float32 `f`, by trying each precision. */
function shortestFloat32(f: number): string {
  for (let digits = 1; digits <= 9; digits++) {
    const text = String(Number(f.toPrecision(digits)));
    if (Math.fround(Number(text)) === f) return text;
  }
  throw new Error(`no decimal reads back as ${f}`);
}

function withClasses(classes: string[]): PreparedSchema {
  const schema = fixtureSchema('classification');
  return { ...schema, label: { ...schema.label, classes } };
}

describe('PartFormat', () => {
  const values = { id: '7', name: 'a "b", c', 2: 'two', label: 'given', error: 'own', n: 3 };
  const cases: [string, PreparedSchema, BatchOutputOptions][] = [
    [
      'JSON Lines, label and probabilities',
      withClasses(['setosa', 'versicolor', 'virginica']),
      { format: 'jsonl', include: ['label', 'probabilities'], passthroughColumns: ['id', 'name'] },
    ],
    [
      'JSON Lines, integer-like and duplicate keys',
      withClasses(['2', '10', 'a', '__proto__']),
      {
        format: 'jsonl',
        include: ['probabilities', 'label'],
        passthroughColumns: ['n', '2', 'label', 'error', 'missing', 'id', 'id'],
      },
    ],
    [
      'JSON Lines, no passthrough, label only',
      withClasses(['x', 'y']),
      { format: 'jsonl', include: ['label'], passthroughColumns: [] },
    ],
    [
      'CSV, duplicate columns',
      withClasses(['1', 'b,c', 'd"e']),
      {
        format: 'csv',
        include: ['label', 'probabilities'],
        passthroughColumns: ['id', 'name', 'label', 'error', 'missing', 'n'],
      },
    ],
    [
      'JSON Lines, regression',
      fixtureSchema('regression'),
      { format: 'jsonl', include: ['label'], passthroughColumns: ['id', 'prediction'] },
    ],
    [
      'CSV, regression',
      fixtureSchema('regression'),
      { format: 'csv', include: ['label'], passthroughColumns: ['name'] },
    ],
  ];
  it.each(cases)(
    '%s: the lines the Map-built row gives, numbers shortest',
    (_, schema, options) => {
      const format = new PartFormat(schema, options);
      const width = schema.task === 'regression' ? 1 : (schema.label.classes ?? []).length;
      const random = seededRandom(width);
      for (let trial = 0; trial < 200; trial++) {
        const outputs = new Float32Array(width + 2);
        for (let k = 0; k < outputs.length; k++)
          outputs[k] =
            [Number.NaN, 0, 1, 1e-9, 123456.7][trial % 23] ?? random() ** 3 * 10 ** (trial % 5);
        const row = Array.from(outputs.subarray(1, 1 + width));
        // The reference with each number written as its shortest float32 decimal.
        const rounded = row.map((x) => (Number.isFinite(x) ? Number(shortestFloat32(x)) : x));
        expect(format.scoredLine({ values }, outputs, 1, width)).toBe(
          referenceLine(schema, options, format.csvColumns, values, { outputs: rounded }),
        );
      }
      expect(format.errorLine({ values }, 'column x: "y" is not a number')).toBe(
        referenceLine(schema, options, format.csvColumns, values, {
          error: 'column x: "y" is not a number',
        }),
      );
    },
  );

  it('writes probabilities that read back as the same float32, and no longer than that', () => {
    const format = new PartFormat(withClasses(['a']), {
      format: 'jsonl',
      include: ['probabilities'],
      passthroughColumns: [],
    });
    const random = seededRandom(1);
    const outputs = new Float32Array(1);
    for (let i = 0; i < 20_000; i++) {
      outputs[0] = random() * 10 ** -Math.floor(random() * 12);
      const line = JSON.parse(format.scoredLine({ values: {} }, outputs, 0, 1)) as {
        probabilities: { a: number };
      };
      expect(Math.fround(line.probabilities.a)).toBe(outputs[0]);
      expect(String(line.probabilities.a)).toBe(shortestFloat32(outputs[0]!));
    }
  });
});
