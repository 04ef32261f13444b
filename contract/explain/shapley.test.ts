import { describe, expect, it } from 'vitest';
import {
  DEFAULT_KERNEL_SAMPLES,
  exactShapley,
  explainRow,
  kernelShap,
  MAX_EXACT_COLUMNS,
  type RawRow,
  type ShapleyExplanation,
  type ShapleyInput,
  solveLinearSystem,
} from './shapley.js';

type RowModel = (row: RawRow) => number[];

const batched =
  (model: RowModel) =>
  (rows: RawRow[]): number[][] =>
    rows.map(model);

const num = (row: RawRow, column: string): number => {
  const value = row[column];
  if (typeof value !== 'number') throw new Error(`test model: ${column} is ${value}`);
  return value;
};

/**
 * The reference: Shapley values as the average, over all M! orderings of the columns, of each
 * column's marginal contribution when it joins the columns before it; v(S) is the mean over the
 * background of the model on x with the columns outside S taken from the background row.
 */
function permutationShapley(
  model: RowModel,
  x: RawRow,
  columns: readonly string[],
  background: readonly RawRow[],
): { base: number[]; prediction: number[]; phi: Record<string, number>[] } {
  const value = (present: ReadonlySet<string>): number[] => {
    let sum: number[] = [];
    for (const b of background) {
      const composite: Record<string, RawRow[string]> = { ...x };
      for (const column of columns) if (!present.has(column)) composite[column] = b[column]!;
      const out = model(composite);
      sum = out.map((v, k) => (sum[k] ?? 0) + v);
    }
    return sum.map((v) => v / background.length);
  };
  const permutations = (items: readonly string[]): string[][] =>
    items.length <= 1
      ? [[...items]]
      : items.flatMap((first, i) =>
          permutations(items.filter((_, j) => j !== i)).map((rest) => [first, ...rest]),
        );
  const base = value(new Set());
  const prediction = value(new Set(columns));
  const phi = base.map(() => Object.fromEntries(columns.map((c) => [c, 0])));
  const orderings = permutations(columns);
  for (const ordering of orderings) {
    const present = new Set<string>();
    let before = base;
    for (const column of ordering) {
      present.add(column);
      const after = value(present);
      after.forEach((v, k) => {
        phi[k]![column]! += (v - before[k]!) / orderings.length;
      });
      before = after;
    }
  }
  return { base, prediction, phi };
}

/** A small linear congruential generator, independent of the module's PRNG, for test data. */
function testRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

function numericRows(columns: readonly string[], count: number, seed: number): RawRow[] {
  const random = testRandom(seed);
  return Array.from({ length: count }, () =>
    Object.fromEntries(columns.map((c) => [c, Math.round((random() * 4 - 2) * 100) / 100])),
  );
}

function expectAdditive(explanations: readonly ShapleyExplanation[]): void {
  for (const e of explanations) {
    const total = Object.values(e.values).reduce((a, b) => a + b, 0);
    expect(Math.abs(e.residual)).toBeLessThan(1e-9);
    expect(e.baseValue + total - e.prediction).toBeCloseTo(e.residual, 12);
  }
}

const softmax = (logits: number[]): number[] => {
  const top = Math.max(...logits);
  const exps = logits.map((l) => Math.exp(l - top));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
};

interface ModelCase {
  name: string;
  model: RowModel;
  columns: string[];
  row: RawRow;
  background: RawRow[];
}

const smallNonlinearCases: ModelCase[] = [
  {
    name: 'M=3, a product and a square',
    model: (r) => [num(r, 'a') * num(r, 'b') + num(r, 'c') ** 2],
    columns: ['a', 'b', 'c'],
    row: { a: 1.5, b: -2, c: 0.5, id: 'ignored' },
    background: numericRows(['a', 'b', 'c'], 6, 1).map((r) => ({ ...r, id: 'bg' })),
  },
  {
    name: 'M=4, a categorical column interacting with numbers',
    model: (r) => {
      const colour = r.colour;
      const slope = colour === 'red' ? 2 : colour === 'blue' ? -1 : 0.5;
      return [slope * num(r, 'x') + Math.max(num(r, 'y'), num(r, 'z'))];
    },
    columns: ['colour', 'x', 'y', 'z'],
    row: { colour: 'red', x: 1.2, y: -0.3, z: 0.8 },
    background: numericRows(['x', 'y', 'z'], 6, 2).map((r, i) => ({
      ...r,
      colour: ['blue', 'green', 'red'][i % 3]!,
    })),
  },
  {
    name: 'M=5, three class probabilities, a missing value imputed by the model',
    model: (r) => {
      const age = r.age === null ? 40 : num(r, 'age');
      const plan = r.plan === 'gold' ? 1 : 0;
      const usage = num(r, 'usage');
      return softmax([
        0.05 * age + plan * usage,
        Math.sin(usage) - num(r, 'tenure'),
        plan * 0.5 + num(r, 'tenure') * num(r, 'rating'),
      ]);
    },
    columns: ['age', 'plan', 'usage', 'tenure', 'rating'],
    row: { age: null, plan: 'gold', usage: 1.7, tenure: 0.4, rating: -1.1 },
    background: numericRows(['usage', 'tenure', 'rating'], 7, 3).map((r, i) => ({
      ...r,
      age: i === 2 ? null : 20 + 7 * i,
      plan: i % 2 === 0 ? 'gold' : 'basic',
    })),
  },
];

describe('exactShapley', () => {
  it.each(smallNonlinearCases)('equals the permutation average: $name', (c) => {
    const explanations = exactShapley({
      predict: batched(c.model),
      row: c.row,
      columns: c.columns,
      background: c.background,
    });
    const reference = permutationShapley(c.model, c.row, c.columns, c.background);
    expect(explanations).toHaveLength(reference.base.length);
    explanations.forEach((e, k) => {
      expect(e.method).toBe('exact');
      expect(e.samples).toBeUndefined();
      expect(Object.keys(e.values)).toEqual(c.columns);
      expect(e.baseValue).toBeCloseTo(reference.base[k]!, 12);
      expect(e.prediction).toBeCloseTo(c.model(c.row)[k]!, 12);
      for (const column of c.columns) {
        expect(e.values[column]).toBeCloseTo(reference.phi[k]![column]!, 12);
      }
    });
    expectAdditive(explanations);
  });

  it('splits nothing between class probabilities: each column’s values sum to 0 over classes', () => {
    const c = smallNonlinearCases[2]!;
    const explanations = exactShapley({
      predict: batched(c.model),
      row: c.row,
      columns: c.columns,
      background: c.background,
    });
    expect(explanations).toHaveLength(3);
    for (const column of c.columns) {
      const total = explanations.reduce((sum, e) => sum + e.values[column]!, 0);
      expect(total).toBeCloseTo(0, 12);
    }
    // The row's age is missing and imputed as 40 by the model, so it moves the prediction.
    expect(Math.abs(explanations[0]!.values.age!)).toBeGreaterThan(1e-3);
  });

  it('gives a linear model w_i·(x_i − mean of the background’s x_i)', () => {
    const weights = { a: 2, b: -3, c: 0.5, d: 1 };
    const columns = Object.keys(weights);
    const model: RowModel = (r) => [
      7 + Object.entries(weights).reduce((sum, [c, w]) => sum + w * num(r, c), 0),
    ];
    const background = numericRows(columns, 9, 4);
    const row = { a: 1, b: 2, c: -1, d: 0.25 };
    const [explanation] = exactShapley({ predict: batched(model), row, columns, background });
    for (const [column, w] of Object.entries(weights)) {
      const mean = background.reduce((sum, b) => sum + num(b, column), 0) / background.length;
      expect(explanation!.values[column]).toBeCloseTo(w * (num(row, column) - mean), 12);
    }
    expectAdditive([explanation!]);
  });

  it('gives a column with the same value in every row 0, and a column the model ignores 0', () => {
    const model: RowModel = (r) => [num(r, 'a') * num(r, 'b')];
    const background = numericRows(['a'], 5, 5).map((r) => ({ ...r, b: 3, unused: 1 }));
    const [explanation] = exactShapley({
      predict: batched(model),
      row: { a: 1, b: 3, unused: 9 },
      columns: ['a', 'b', 'unused'],
      background,
    });
    expect(explanation!.values.b).toBe(0);
    expect(explanation!.values.unused).toBe(0);
    expectAdditive([explanation!]);
  });

  it('sends all rows in one predict call when they fit, and in capped batches otherwise', () => {
    const c = smallNonlinearCases[0]!;
    const calls: number[] = [];
    const predict = (rows: RawRow[]): number[][] => {
      calls.push(rows.length);
      return rows.map(c.model);
    };
    const input: ShapleyInput = {
      predict,
      row: c.row,
      columns: c.columns,
      background: c.background,
    };
    const whole = exactShapley(input);
    // The full coalition is x alone; the 7 others are one row per background row.
    const rows = 1 + 7 * c.background.length;
    expect(calls).toEqual([rows]);

    calls.length = 0;
    const capped = exactShapley({ ...input, maxBatchRows: 4 });
    expect(calls).toHaveLength(Math.ceil(rows / 4));
    expect(Math.max(...calls)).toBe(4);
    expect(calls.reduce((a, b) => a + b, 0)).toBe(rows);
    for (const column of c.columns) {
      expect(capped[0]!.values[column]).toBeCloseTo(whole[0]!.values[column]!, 12);
    }
  });
});

/** f = Σ terms, each on a few columns: its Shapley values are the sum of each term's. */
interface AdditiveTerm {
  columns: string[];
  model: RowModel;
}

function termsModel(terms: readonly AdditiveTerm[]): RowModel {
  return (r) => [terms.reduce((sum, t) => sum + t.model(r)[0]!, 0)];
}

function termsReference(
  terms: readonly AdditiveTerm[],
  row: RawRow,
  background: readonly RawRow[],
): Record<string, number> {
  const phi: Record<string, number> = {};
  for (const term of terms) {
    const { phi: termPhi } = permutationShapley(term.model, row, term.columns, background);
    for (const [column, value] of Object.entries(termPhi[0]!)) {
      phi[column] = (phi[column] ?? 0) + value;
    }
  }
  return phi;
}

const numericColumns = (count: number): string[] =>
  Array.from({ length: count }, (_, i) => `x${i}`);

/**
 * Nonlinear terms over columns x0..x(n−1) and a categorical `kind`, with interactions of three
 * and four columns: with interactions of two columns only, any symmetric weighting of the
 * coalitions would fit the Shapley values, and a wrong kernel weight would go unnoticed.
 */
function interactingTerms(n: number): AdditiveTerm[] {
  const terms: AdditiveTerm[] = [
    { columns: ['x0', 'x1', 'x2'], model: (r) => [num(r, 'x0') * num(r, 'x1') * num(r, 'x2')] },
    { columns: ['x2', 'x3'], model: (r) => [Math.sin(num(r, 'x2') * num(r, 'x3'))] },
    {
      columns: ['x3', 'x4', 'kind'],
      model: (r) => [
        r.kind === 'a' ? num(r, 'x3') * num(r, 'x4') : r.kind === 'b' ? -num(r, 'x4') : 0.5,
      ],
    },
  ];
  for (let i = 5; i < n; i++) {
    const w = ((i % 3) - 1) * 0.6 + 0.3;
    terms.push({ columns: [`x${i}`], model: (r) => [w * num(r, `x${i}`)] });
  }
  if (n >= 9) {
    terms.push({
      columns: ['x5', 'x6', 'x7', 'x8'],
      model: (r) => [Math.max(num(r, 'x5'), num(r, 'x6')) * num(r, 'x7') * num(r, 'x8')],
    });
  }
  return terms;
}

function interactingCase(numeric: number, backgroundRows: number, seed: number) {
  const columns = [...numericColumns(numeric), 'kind'];
  const terms = interactingTerms(numeric);
  const background = numericRows(numericColumns(numeric), backgroundRows, seed).map((r, i) => ({
    ...r,
    kind: ['a', 'b', 'c'][i % 3]!,
  }));
  const row: RawRow = { ...numericRows(numericColumns(numeric), 1, seed + 100)[0]!, kind: 'a' };
  const model = termsModel(terms);
  const outputs = [row, ...background].map((r) => model(r)[0]!);
  const range = Math.max(...outputs) - Math.min(...outputs);
  return { columns, terms, background, row, model, range };
}

const maxAbsDifference = (a: Record<string, number>, b: Record<string, number>): number =>
  Math.max(...Object.keys(b).map((c) => Math.abs(a[c]! - b[c]!)));

describe('kernelShap', () => {
  it('equals exact Shapley values when the budget covers every coalition (M=6)', () => {
    const { columns, background, row, model } = interactingCase(5, 10, 11);
    const input = { predict: batched(model), row, columns, background };
    const [kernel] = kernelShap(input);
    const [exact] = exactShapley(input);
    expect(kernel!.method).toBe('kernel');
    expect(kernel!.samples).toBe(2 ** 6 - 2);
    expect(maxAbsDifference(kernel!.values, exact!.values)).toBeLessThan(1e-9);
    expect(kernel!.baseValue).toBeCloseTo(exact!.baseValue, 12);
    expectAdditive([kernel!]);
  });

  // Stated tolerance: with 300 of the 1022 coalitions of M=10 columns, every value within 2% of
  // the model's output range over the background and the row.
  it.each([1, 2, 3])(
    'agrees with exact within 0.02 of the output range when sampling (M=10, seed %i)',
    (seed) => {
      const { columns, background, row, model, range } = interactingCase(9, 12, 21);
      const input = { predict: batched(model), row, columns, background };
      const [kernel] = kernelShap({ ...input, samples: 300, seed });
      const [exact] = exactShapley(input);
      expect(kernel!.samples).toBe(300);
      expect(maxAbsDifference(kernel!.values, exact!.values)).toBeLessThanOrEqual(0.02 * range);
      expectAdditive([kernel!]);
    },
  );

  it('repeats for a seed, and samples differently for another', () => {
    const { columns, background, row, model } = interactingCase(9, 12, 31);
    const input = { predict: batched(model), row, columns, background, samples: 200 };
    const first = kernelShap({ ...input, seed: 7 });
    expect(kernelShap({ ...input, seed: 7 })).toEqual(first);
    const other = kernelShap({ ...input, seed: 8 });
    expect(maxAbsDifference(other[0]!.values, first[0]!.values)).toBeGreaterThan(0);
  });

  it('recovers a linear model over 20 columns exactly from sampled coalitions', () => {
    const columns = numericColumns(20);
    const weights = columns.map((_, i) => (i % 2 === 0 ? 1 : -1) * (1 + i / 4));
    const model: RowModel = (r) => [
      columns.reduce((sum, c, i) => sum + weights[i]! * num(r, c), 3),
    ];
    const background = numericRows(columns, 6, 41);
    const row = numericRows(columns, 1, 42)[0]!;
    const [explanation] = kernelShap({ predict: batched(model), row, columns, background });
    expect(explanation!.samples).toBe(DEFAULT_KERNEL_SAMPLES);
    columns.forEach((column, i) => {
      const mean = background.reduce((sum, b) => sum + num(b, column), 0) / background.length;
      expect(explanation!.values[column]).toBeCloseTo(weights[i]! * (num(row, column) - mean), 6);
    });
    expectAdditive([explanation!]);
  });

  it('gives 0 to columns equal to the row in every background row, the rest by the difference', () => {
    const model: RowModel = (r) => [num(r, 'a') * 2 + num(r, 'b') * num(r, 'c')];
    const background = [
      { a: 1, b: 2, c: 3 },
      { a: 5, b: 2, c: 3 },
    ];
    const [explanation] = kernelShap({
      predict: batched(model),
      row: { a: 4, b: 2, c: 3 },
      columns: ['a', 'b', 'c'],
      background,
    });
    // Only a varies: φ_a = f(x) − base = 14 − mean(8, 16).
    expect(explanation!.values).toEqual({ a: 2, b: 0, c: 0 });
    expect(explanation!.samples).toBe(0);
    expectAdditive([explanation!]);
  });
});

describe('explainRow', () => {
  const wide = (count: number) => {
    const columns = numericColumns(count);
    const model: RowModel = (r) => [num(r, 'x0') * num(r, 'x1') + num(r, `x${count - 1}`)];
    return {
      predict: batched(model),
      columns,
      row: numericRows(columns, 1, 51)[0]!,
      background: numericRows(columns, 2, 52),
    };
  };

  it.each([
    { count: MAX_EXACT_COLUMNS, method: 'exact' },
    { count: MAX_EXACT_COLUMNS + 1, method: 'kernel' },
  ])('explains $count columns with the $method method', ({ count, method }) => {
    const [explanation] = explainRow(wide(count));
    expect(explanation!.method).toBe(method);
    expectAdditive([explanation!]);
  });

  // Stated tolerance for the sampled method at serving: 16 columns, the default budget of 2048
  // of the 65534 coalitions, every value within 2% of the output range of the reference, which
  // is the sum of each term's Shapley values (exact on its own columns, by permutations).
  it('agrees with the term-by-term reference within 0.02 of the output range (M=16, sampled)', () => {
    const { columns, terms, background, row, model, range } = interactingCase(15, 8, 61);
    const [explanation] = explainRow({ predict: batched(model), row, columns, background });
    expect(explanation!.method).toBe('kernel');
    expect(explanation!.samples).toBe(DEFAULT_KERNEL_SAMPLES);
    const reference = termsReference(terms, row, background);
    expect(maxAbsDifference(explanation!.values, reference)).toBeLessThanOrEqual(0.02 * range);
    expectAdditive([explanation!]);
  });
});

describe('bad input', () => {
  const model: RowModel = (r) => [num(r, 'a') + num(r, 'b')];
  const valid: ShapleyInput = {
    predict: batched(model),
    row: { a: 1, b: 2 },
    columns: ['a', 'b'],
    background: [{ a: 0, b: 0 }],
  };
  it.each<{ name: string; input: ShapleyInput & { samples?: number }; error: RegExp }>([
    {
      name: 'an empty background',
      input: { ...valid, background: [] },
      error: /background is empty/,
    },
    { name: 'no columns', input: { ...valid, columns: [] }, error: /no columns to explain/ },
    {
      name: 'a column not in the row',
      input: { ...valid, columns: ['a', 'c'] },
      error: /column "c" is not in the row to explain \(its columns: a, b\)/,
    },
    {
      name: 'a column missing from a background row',
      input: { ...valid, background: [{ a: 0, b: 0 }, { a: 1 }] },
      error: /background row 1 has no column "b"/,
    },
    { name: 'a column named twice', input: { ...valid, columns: ['a', 'a'] }, error: /twice/ },
    {
      name: 'a batch limit of 0',
      input: { ...valid, maxBatchRows: 0 },
      error: /maxBatchRows must be a positive integer/,
    },
    {
      name: 'a predict that drops rows',
      input: { ...valid, predict: (rows) => rows.slice(1).map(model) },
      error: /predict returned 3 outputs for 4 rows/,
    },
    {
      name: 'a predict that returns NaN',
      input: { ...valid, predict: (rows) => rows.map(() => [Number.NaN]) },
      error: /predict returned NaN for output 0/,
    },
    {
      name: 'a predict with output vectors of differing length',
      input: { ...valid, predict: (rows) => rows.map((_, i) => (i === 0 ? [1] : [1, 2])) },
      error: /output vectors of length 2 and 1/,
    },
  ])('refuses $name', ({ input, error }) => {
    expect(() => exactShapley(input)).toThrow(error);
    expect(() => kernelShap(input)).toThrow(error);
  });

  it('refuses exact values over more than MAX_EXACT_COLUMNS columns', () => {
    const columns = numericColumns(MAX_EXACT_COLUMNS + 1);
    const row = Object.fromEntries(columns.map((c) => [c, 1]));
    expect(() => exactShapley({ predict: () => [], row, columns, background: [row] })).toThrow(
      /13 columns is more than MAX_EXACT_COLUMNS \(12\); use kernelShap/,
    );
  });

  it('refuses a kernel budget below the number of columns', () => {
    expect(() => kernelShap({ ...valid, samples: 1 })).toThrow(
      /samples must be an integer at least the number of columns \(2\); got 1/,
    );
  });
});

describe('solveLinearSystem', () => {
  it('solves a system whose first pivot is 0, for two right-hand sides', () => {
    // x = (1, 2, 3) and (−1, 0, 2), checked by multiplying back.
    const a = [
      [0, 2, 1],
      [1, 1, 1],
      [2, 0, -1],
    ];
    const b = [
      [7, 2],
      [6, 1],
      [-1, -4],
    ];
    const x = solveLinearSystem(a, b);
    expect(x[0]![0]).toBeCloseTo(1, 12);
    expect(x[1]![0]).toBeCloseTo(2, 12);
    expect(x[2]![0]).toBeCloseTo(3, 12);
    expect(x[0]![1]).toBeCloseTo(-1, 12);
    expect(x[1]![1]).toBeCloseTo(0, 12);
    expect(x[2]![1]).toBeCloseTo(2, 12);
    expect(a[0]).toEqual([0, 2, 1]);
  });

  it('refuses a singular matrix', () => {
    expect(() =>
      solveLinearSystem(
        [
          [1, 2],
          [2, 4],
        ],
        [[1], [2]],
      ),
    ).toThrow(/singular/);
  });
});
