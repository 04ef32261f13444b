import { describe, expect, it } from 'vitest';
import type { ExplanationBackground } from '../../contract/explain/background.js';
import { prepareRecord } from '../../contract/prepared-data.js';
import {
  backgroundSubset,
  type ExplainedModel,
  ExplainTimeoutError,
  explainRows,
} from './explain.js';
import { fixtureRows, fixtureSchema } from './fixture.js';
import type { PreparedRows } from './rows.js';

/**
 * A linear model on prepared features, one output per weight vector: its Shapley value of column
 * c for output k is Σ_{f ∈ c's features} w_kf · (x_f − mean over the background of b_f), in
 * closed form, whatever the method.
 */
function linearModel(
  task: 'classification' | 'regression',
  noiseInputs: number,
  weights: number[][],
): ExplainedModel & { calls: number } {
  const schema = fixtureSchema(task, noiseInputs);
  const featureCount = schema.features.length;
  const model = {
    schema,
    featureCount,
    outputWidth: weights.length,
    calls: 0,
    predict(features: Float32Array, rows: number): Float32Array {
      model.calls++;
      const out = new Float32Array(rows * weights.length);
      for (let r = 0; r < rows; r++) {
        weights.forEach((w, k) => {
          let sum = 0.5 * (k + 1);
          for (let f = 0; f < featureCount; f++) sum += w[f]! * features[r * featureCount + f]!;
          out[r * weights.length + k] = sum;
        });
      }
      return out;
    },
  };
  return model;
}

function preparedRows(model: ExplainedModel, records: Record<string, unknown>[]): PreparedRows {
  return {
    rows: records.length,
    features: Float32Array.from(records.flatMap((r) => prepareRecord(model.schema, r))),
    records,
  };
}

/** φ in closed form for a linear model: per column, per output. */
function linearShapley(
  model: ExplainedModel,
  weights: number[][],
  x: readonly number[],
  background: readonly (readonly number[])[],
): Record<string, number[]> {
  const mean = x.map((_, f) => background.reduce((s, b) => s + b[f]!, 0) / background.length);
  const values: Record<string, number[]> = {};
  let next = 0;
  for (const input of model.schema.inputs) {
    const width =
      input.kind === 'categorical' && input.encoding === 'oneHot'
        ? input.categories.length + (input.other ? 1 : 0)
        : 1;
    const features = Array.from({ length: width }, (_, i) => next + i);
    next += width;
    values[input.name] = weights.map((w) =>
      features.reduce((s, f) => s + w[f]! * (Math.fround(x[f]!) - mean[f]!), 0),
    );
  }
  return values;
}

const noLimit = { kernelSamples: 2048, deadline: Number.POSITIVE_INFINITY, now: () => 0 };

describe('explainRows', () => {
  it.each([
    {
      name: 'regression, 4 columns: exact',
      task: 'regression' as const,
      noise: 0,
      method: 'exact',
    },
    {
      name: 'classification, 4 columns: exact, one explanation per class',
      task: 'classification' as const,
      noise: 0,
      method: 'exact',
    },
    {
      name: 'regression, 16 columns: KernelSHAP, exact on a linear model',
      task: 'regression' as const,
      noise: 12,
      method: 'kernel',
    },
  ])(
    'gives a linear model’s closed-form Shapley values: $name',
    async ({ task, noise, method }) => {
      const schema = fixtureSchema(task, noise);
      const width = schema.features.length;
      const outputs = task === 'classification' ? 3 : 1;
      const weights = Array.from({ length: outputs }, (_, k) =>
        Array.from({ length: width }, (_, f) => ((f * 7 + k * 3) % 5) - 2 + 0.25 * k),
      );
      const model = linearModel(task, noise, weights);
      const records = fixtureRows(task, 2, 3, noise);
      const rows = preparedRows(model, records);
      const background = fixtureRows(task, 9, 11, noise).map((r) => prepareRecord(schema, r));
      const explanations = await explainRows(model, rows, background, noLimit);

      expect(explanations).toHaveLength(2);
      explanations.forEach((explanation, r) => {
        const x = Array.from(rows.features.subarray(r * width, (r + 1) * width));
        const expected = linearShapley(model, weights, x, background);
        expect(explanation.method).toBe(method);
        expect(explanation.backgroundRows).toBe(9);
        expect(explanation.outputs).toEqual(
          task === 'classification' ? ['setosa', 'versicolor', 'virginica'] : ['price'],
        );
        expect(Object.keys(explanation.values)).toEqual(schema.inputs.map((i) => i.name));
        for (const [column, phi] of Object.entries(expected)) {
          for (const [k, value] of phi.entries()) {
            expect(explanation.values[column]![k]).toBeCloseTo(value, 4);
          }
        }
        const prediction = Array.from(model.predict(Float32Array.from(x), 1) as Float32Array);
        expect(explanation.prediction).toEqual(prediction);
        for (const residual of explanation.residual) expect(Math.abs(residual)).toBeLessThan(1e-9);
        if (method === 'kernel') expect(explanation.samples).toBeGreaterThan(0);
        else expect(explanation).not.toHaveProperty('samples');
      });
    },
  );

  it('gives φ = 0 to a column every background row shares with the explained row', async () => {
    const weights = [[1, 2, 3, -1, 0.5, 4]];
    const model = linearModel('regression', 0, weights);
    const record = { length: 7, width: 1, colour: 'green', fresh: true };
    const background = fixtureRows('regression', 6, 4).map((r) =>
      prepareRecord(model.schema, { ...r, colour: 'green' }),
    );
    const [explanation] = await explainRows(
      model,
      preparedRows(model, [record]),
      background,
      noLimit,
    );
    expect(explanation!.values.colour).toEqual([0]);
    expect(explanation!.values.length![0]).toBeCloseTo(
      1 * ((7 - 5) / 2 - background.reduce((s, b) => s + b[0]!, 0) / 6),
      5,
    );
  });

  it.each([
    ['exact', 0],
    ['kernel', 12],
  ])(
    'explains a model that answers with a promise (ONNX Runtime) as the same model answering at once: %s',
    async (_, noise) => {
      const schema = fixtureSchema('classification', noise);
      const weights = [0, 1, 2].map((k) =>
        Array.from({ length: schema.features.length }, (_, f) => ((f * 5 + k) % 7) - 3),
      );
      const model = linearModel('classification', noise, weights);
      const asynchronous: ExplainedModel = {
        ...model,
        predict: async (features, rows) => model.predict(features, rows),
      };
      const rows = preparedRows(model, fixtureRows('classification', 2, 5, noise));
      const background = fixtureRows('classification', 7, 3, noise).map((r) =>
        prepareRecord(schema, r),
      );
      const expected = await explainRows(model, rows, background, noLimit);
      const calls = model.calls;
      expect(await explainRows(asynchronous, rows, background, noLimit)).toEqual(expected);
      expect(model.calls).toBe(2 * calls);
    },
  );

  it('stops with ExplainTimeoutError once the deadline has passed, between model calls', async () => {
    const model = linearModel('regression', 0, [[1, 1, 1, 1, 1, 1]]);
    const rows = preparedRows(model, fixtureRows('regression', 3, 2));
    const background = fixtureRows('regression', 5, 8).map((r) => prepareRecord(model.schema, r));
    let clock = 0;
    let yields = 0;
    const explaining = explainRows(model, rows, background, {
      kernelSamples: 2048,
      deadline: 1,
      now: () => clock,
      betweenRows: async () => {
        yields++;
        clock = 2;
      },
    });
    await expect(explaining).rejects.toBeInstanceOf(ExplainTimeoutError);
    // The first row finished (one call: 16 coalitions × 5 rows fit one batch), the second stopped.
    expect(yields).toBe(1);
    expect(model.calls).toBe(1);
  });
});

describe('backgroundSubset', () => {
  const background: ExplanationBackground = {
    formatVersion: 1,
    features: ['a'],
    rows: Array.from({ length: 10 }, (_, i) => [i]),
    sampledFrom: 100,
    seed: 0,
  };
  it.each([
    { count: 10, want: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] },
    { count: 50, want: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] },
    { count: 4, want: [0, 2, 5, 7] },
    { count: 1, want: [0] },
  ])('takes $count rows spread over the stored ones', ({ count, want }) => {
    expect(backgroundSubset(background, count).map((r) => r[0])).toEqual(want);
  });
});
