import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchExplanationOptions, BatchOutputOptions } from '../../contract/batch.js';
import { explanationBackground } from '../../contract/explain/background.js';
import {
  backgroundSubset,
  type ExplainedModel,
  explainRows,
} from '../../contract/explain/row-explanations.js';
import { piiHashing } from '../../contract/pii-hash.js';
import { type PreparedSchema, prepareRecord } from '../../contract/prepared-data.js';
import { decodeCsv } from '../ingest/csv.js';
import { fixtureRows, fixtureSchema } from '../server/fixture.js';
import {
  BatchExplainer,
  type ExplainedBatch,
  explanationCsvColumns,
  topColumns,
} from './explain.js';
import type { InputRecord } from './records.js';
import { PartFile, PartFormat, PREDICT_BATCH_ROWS, scoreRecords } from './score.js';

/**
 * A small nonlinear model on prepared features: softmax over three linear logits with a product
 * term (classification), or a linear sum with a product term (regression), so the Shapley values
 * are not those of a linear model and additivity is a real check. Counts its calls' rows.
 */
function toyModel(
  task: 'classification' | 'regression',
  noiseInputs = 0,
): ExplainedModel & { rowsSeen: number } {
  const schema = fixtureSchema(task, noiseInputs);
  const featureCount = schema.features.length;
  const outputWidth = task === 'classification' ? 3 : 1;
  const model = {
    schema,
    featureCount,
    outputWidth,
    rowsSeen: 0,
    predict(features: Float32Array, rows: number): Float32Array {
      model.rowsSeen += rows;
      const out = new Float32Array(rows * outputWidth);
      for (let r = 0; r < rows; r++) {
        const x = features.subarray(r * featureCount, (r + 1) * featureCount);
        const logits = Array.from({ length: outputWidth }, (_, k) => {
          let sum = 0.3 * k + 0.8 * x[0]! * x[1]! * (k - 1);
          for (let f = 0; f < featureCount; f++) sum += Math.sin(f + 3 * k) * x[f]!;
          return sum;
        });
        if (task === 'regression') out[r] = logits[0]!;
        else {
          const top = Math.max(...logits);
          const e = logits.map((l) => Math.exp(l - top));
          const total = e.reduce((a, b) => a + b, 0);
          e.forEach((v, k) => {
            out[r * outputWidth + k] = v / total;
          });
        }
      }
      return out;
    },
  };
  return model;
}

function backgroundOf(model: ExplainedModel, rows = 20) {
  const prepared = fixtureRows(model.schema.task, rows, 99, model.schema.inputs.length - 4).map(
    (r) => prepareRecord(model.schema, r),
  );
  return explanationBackground(model.schema.features, prepared.length, (i) => prepared[i]!);
}

const options: BatchExplanationOptions = { backgroundRows: 12, kernelSamples: 64 };

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'lathe-batch-explain-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Scores `records` into a part with explanations; the part's text and the explained batches. */
async function scorePart(
  model: ExplainedModel,
  records: InputRecord[],
  output: BatchOutputOptions,
): Promise<{ text: string; batches: number[] }> {
  const explainer = new BatchExplainer(
    model,
    backgroundOf(model),
    output.explanations!,
    output.format,
  );
  const batches: number[] = [];
  const explainBatch = explainer.explainBatch.bind(explainer);
  explainer.explainBatch = (features, rows, outputs) => {
    batches.push(rows);
    return explainBatch(features, rows, outputs);
  };
  const format = new PartFormat(model.schema, output);
  const part = new PartFile(path.join(dir, `part-${Math.random()}.${output.format}`));
  await part.write(format.preamble());
  async function* source() {
    yield records;
  }
  await scoreRecords(
    source(),
    model.schema,
    piiHashing(undefined),
    format,
    async (features, rows) => model.predict(features, rows),
    part,
    explainer,
  );
  await part.close();
  return { text: await readFile(part.path, 'utf8'), batches };
}

/** The server's explanations of `records` (all scorable), at each row's predicted output. */
async function serverExplanations(
  model: ExplainedModel,
  records: Record<string, unknown>[],
  backgroundRows = options.backgroundRows,
) {
  const features = Float32Array.from(records.flatMap((r) => prepareRecord(model.schema, r)));
  const outputs = await model.predict(features, records.length);
  const explained = await explainRows(
    model,
    { rows: records.length, features },
    backgroundSubset(backgroundOf(model), backgroundRows),
    { kernelSamples: options.kernelSamples, deadline: Number.POSITIVE_INFINITY, now: () => 0 },
  );
  return explained.map((e, r) => {
    const row = Array.from(outputs.subarray(r * model.outputWidth, (r + 1) * model.outputWidth));
    const k = row.indexOf(Math.max(...row));
    return {
      output: e.outputs[k]!,
      baseValue: e.baseValue[k]!,
      prediction: e.prediction[k]!,
      values: Object.fromEntries(Object.entries(e.values).map(([c, v]) => [c, v[k]!])),
      written: row[k]!,
    };
  });
}

/** The part writes a number as the shortest decimal of its float32: compare float32s. */
const asWritten = (expected: number) => Math.fround(expected);
const read = (text: unknown) => Math.fround(Number(text));

describe('BatchExplainer in a part', () => {
  const cases: [string, 'classification' | 'regression', number][] = [
    ['classification, 4 columns (exact)', 'classification', 0],
    ['classification, 16 columns (KernelSHAP)', 'classification', 12],
    ['regression, 4 columns (exact)', 'regression', 0],
  ];
  it.each(cases)(
    '%s: JSON Lines rows carry the server’s explanation of the predicted output, additive',
    async (_, task, noise) => {
      const model = toyModel(task, noise);
      const records = fixtureRows(task, 8, 5, noise).map((values, i) => ({
        values: { id: `r${i}`, ...values },
      }));
      const { text } = await scorePart(model, records, {
        format: 'jsonl',
        include: ['label', 'probabilities', 'explanations'],
        passthroughColumns: ['id'],
        explanations: options,
      });
      const lines = text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      const expected = await serverExplanations(
        model,
        records.map((r) => r.values),
      );
      expect(lines.map((l) => l.id)).toEqual(records.map((r) => r.values.id));
      const columns = model.schema.inputs.map((i) => i.name);
      for (const [r, line] of lines.entries()) {
        const e = expected[r]!;
        expect(Object.keys(line).at(-1)).toBe('explanation');
        expect(Object.keys(line.explanation)).toEqual([
          'output',
          'baseValue',
          'prediction',
          'values',
        ]);
        expect(Object.keys(line.explanation.values)).toEqual(columns);
        expect(line.explanation.output).toBe(e.output);
        if (task === 'classification') expect(line.label).toBe(e.output);
        expect(read(line.explanation.baseValue)).toBe(asWritten(e.baseValue));
        expect(read(line.explanation.prediction)).toBe(asWritten(e.prediction));
        for (const c of columns)
          expect(read(line.explanation.values[c])).toBe(asWritten(e.values[c]!));
        // Additivity: base + Σ values is the written prediction.
        const sum =
          line.explanation.baseValue +
          Object.values(line.explanation.values as Record<string, number>).reduce((a, b) => a + b);
        const written = task === 'classification' ? line.probabilities[e.output] : line.prediction;
        expect(Math.abs(sum - written)).toBeLessThan(1e-5);
      }
    },
  );

  it('CSV: shap_base and shap_<column> before error; error rows leave them empty', async () => {
    const model = toyModel('classification');
    const good = fixtureRows('classification', 3, 7);
    const records: InputRecord[] = [
      { values: { id: 'a', ...good[0] } },
      { values: { id: 'b', ...good[1], length: 'long' } },
      { values: { id: 'c' }, error: 'line 3 is not JSON' },
      { values: { id: 'd', ...good[2] } },
    ];
    const { text } = await scorePart(model, records, {
      format: 'csv',
      include: ['label', 'explanations'],
      passthroughColumns: ['id'],
      explanations: options,
    });
    const [header, ...rows] = decodeCsv(text);
    expect(header).toEqual([
      'id',
      'label',
      'shap_base',
      'shap_length',
      'shap_width',
      'shap_colour',
      'shap_fresh',
      'error',
    ]);
    expect(rows.map((r) => r[0])).toEqual(['a', 'b', 'c', 'd']);
    const expected = await serverExplanations(model, [good[0]!, good[2]!]);
    for (const [row, e] of [
      [rows[0]!, expected[0]!],
      [rows[3]!, expected[1]!],
    ] as const) {
      expect(row[1]).toBe(e.output);
      expect(read(Number(row[2]))).toBe(asWritten(e.baseValue));
      expect(row.slice(3, 7).map(read)).toEqual(
        ['length', 'width', 'colour', 'fresh'].map((c) => asWritten(e.values[c]!)),
      );
      expect(row[7]).toBe('');
    }
    for (const row of [rows[1]!, rows[2]!]) {
      expect(row.slice(1, 7)).toEqual(['', '', '', '', '', '']);
      expect(row[7]).not.toBe('');
    }
  });

  it('JSON Lines error rows have no explanation', async () => {
    const model = toyModel('regression');
    const { text } = await scorePart(
      model,
      [{ values: { id: 'x', length: 'long' } }, { values: {}, error: 'not a record' }],
      {
        format: 'jsonl',
        include: ['explanations'],
        passthroughColumns: ['id'],
        explanations: options,
      },
    );
    for (const line of text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l)))
      expect(Object.keys(line)).toEqual(['id', 'error']);
  });

  it('a row the model gives a non-finite value gets explanation null; the others are explained', async () => {
    const model = toyModel('regression');
    const predict = model.predict.bind(model);
    // length 42 prepares to (42 − 5) / 2 = 18.5: the model fails on it.
    const poisoned: ExplainedModel = {
      ...model,
      predict(features, rows) {
        const out = predict(features, rows) as Float32Array;
        for (let r = 0; r < rows; r++)
          if (features[r * model.featureCount] === 18.5) out[r] = Number.NaN;
        return out;
      },
    };
    const good = fixtureRows('regression', 3, 4);
    const records = [good[0]!, { ...good[1]!, length: 42 }, good[2]!];
    const batches: ExplainedBatch[] = [];
    const explainer = new BatchExplainer(poisoned, backgroundOf(model), options, 'jsonl', (batch) =>
      batches.push(batch),
    );
    const features = Float32Array.from(records.flatMap((r) => prepareRecord(model.schema, r)));
    const texts = await explainer.explainBatch(features, 3, await poisoned.predict(features, 3));
    expect(texts[1]).toEqual(['null']);
    const expected = await serverExplanations(model, [good[0]!, good[2]!]);
    for (const [i, r] of [0, 2].entries()) {
      const explanation = JSON.parse(texts[r]![0]!);
      expect(read(explanation.values.width)).toBe(asWritten(expected[i]!.values.width!));
    }
    expect(batches).toEqual([
      {
        rows: 3,
        unexplained: 1,
        firstError: expect.stringMatching(/predict returned NaN/),
        milliseconds: expect.any(Number),
      },
    ]);
  });

  it('topK: the K columns of largest |value|, in schema order; CSV leaves the others empty', async () => {
    const model = toyModel('classification', 6);
    const rows = fixtureRows('classification', 5, 3, 6);
    const expected = await serverExplanations(model, rows);
    const columns = model.schema.inputs.map((i) => i.name);
    const jsonl = await scorePart(
      model,
      rows.map((values) => ({ values })),
      {
        format: 'jsonl',
        include: ['explanations'],
        passthroughColumns: [],
        explanations: { ...options, topK: 3 },
      },
    );
    const csv = await scorePart(
      model,
      rows.map((values) => ({ values })),
      {
        format: 'csv',
        include: ['explanations'],
        passthroughColumns: [],
        explanations: { ...options, topK: 3 },
      },
    );
    const csvRows = decodeCsv(csv.text).slice(1);
    for (const [r, line] of jsonl.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .entries()) {
      const values = columns.map((c) => expected[r]!.values[c]!);
      const kept = [...values.keys()]
        .sort((a, b) => Math.abs(values[b]!) - Math.abs(values[a]!))
        .slice(0, 3)
        .sort((a, b) => a - b);
      expect(Object.keys(line.explanation.values)).toEqual(kept.map((i) => columns[i]));
      expect(read(line.explanation.prediction)).toBe(asWritten(expected[r]!.prediction));
      const cells = csvRows[r]!.slice(1, 1 + columns.length);
      expect(
        cells.map((cell, i) => (cell === '' ? undefined : i)).filter((i) => i !== undefined),
      ).toEqual(kept);
    }
  });

  it('explains one scoring batch at a time, in input order across batches', async () => {
    const model = toyModel('regression');
    const rows = fixtureRows('regression', PREDICT_BATCH_ROWS + 6, 11);
    const { text, batches } = await scorePart(
      model,
      rows.map((values, i) => ({ values: { id: i, ...values } })),
      {
        format: 'jsonl',
        include: ['label', 'explanations'],
        passthroughColumns: ['id'],
        explanations: { ...options, backgroundRows: 2 },
      },
    );
    expect(batches).toEqual([PREDICT_BATCH_ROWS, 6]);
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.id)).toEqual(rows.map((_, i) => i));
    const last = await serverExplanations(model, rows.slice(-1), 2);
    expect(read(lines.at(-1).explanation.values.width)).toBe(asWritten(last[0]!.values.width!));
  });
});

describe('explanationCsvColumns', () => {
  it('names shap_base, then shap_<column> in input order', () => {
    expect(explanationCsvColumns(fixtureSchema('regression'))).toEqual([
      'shap_base',
      'shap_length',
      'shap_width',
      'shap_colour',
      'shap_fresh',
    ]);
  });
  it('refuses an input column named base', () => {
    const schema = fixtureSchema('regression');
    const based: PreparedSchema = {
      ...schema,
      inputs: schema.inputs.map((i, n) => (n === 0 ? { ...i, name: 'base' } : i)),
    };
    expect(() => explanationCsvColumns(based)).toThrow(/named "base".*shap_base.*jsonl/);
  });
});

describe('topColumns', () => {
  it.each([
    [[0.1, -0.5, 0.3], 2, [1, 2]],
    [[0.1, -0.5, 0.3], 5, [0, 1, 2]],
    [[0.2, -0.2, 0.2], 2, [0, 1]],
    [[Number.NaN, 0, -1], 2, [1, 2]],
  ])('%j, k = %i: %j', (values, k, expected) => {
    expect(topColumns(values, k)).toEqual(expected);
  });
});
