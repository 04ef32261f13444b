/**
 * Shapley values of one prediction over the model's raw input columns: exact, over all
 * coalitions, when there are few columns; sampled KernelSHAP above that.
 *
 * The players are raw input columns, not prepared features. The inference server prepares a raw
 * record (imputation, one-hot encoding, scaling: `prepareRecord`) before the model sees it; a
 * value per one-hot feature would split one column's credit over its categories. So the function
 * explained is the whole pipeline, raw row → prepared features → model → output vector (class
 * probabilities, or one regression value), and the caller gives it as a batched `predict`.
 *
 * The game is the interventional one of SHAP's KernelExplainer: the value v(S) of a coalition S
 * of columns is the mean, over a background sample of training rows b, of the model on the row
 * that takes the columns in S from the row explained (x) and the other explained columns from b.
 * Columns of x that are not explained are kept as they are. v(∅) is the base value (the mean
 * prediction over the background), v(all) is the prediction f(x), and the Shapley values split
 * the difference: base + Σφ = f(x) (efficiency). Each explanation reports the residual of that
 * sum, so a user can judge the numbers.
 *
 * - Exact (`exactShapley`): φ_i = Σ_{S ⊆ N∖{i}} |S|!(M−|S|−1)!/M! · (v(S ∪ {i}) − v(S)), over all
 *   2^M coalitions; bounded by `MAX_EXACT_COLUMNS`.
 * - Kernel (`kernelShap`): Lundberg & Lee, "A Unified Approach to Interpreting Model
 *   Predictions" (NeurIPS 2017), as SHAP's `KernelExplainer` implements it (shap/explainers/
 *   _kernel.py): coalition sizes are enumerated completely, smallest and largest first, while
 *   the sample budget covers their share of the Shapley kernel weight; the remaining sizes are
 *   sampled in proportion to the kernel, each sample with its complement; columns whose value
 *   equals x's in every background row get φ = 0 and are left out; the weighted least-squares fit
 *   of v(S) ≈ base + Σ_{i∈S} φ_i has the efficiency constraint substituted in (the last column's
 *   φ is f(x) − base − Σ others), so it holds exactly. The normal equations are solved densely
 *   (M is at most a few hundred) with a tiny ridge. With a budget of at least 2^M − 2 coalitions
 *   every coalition is enumerated and the result equals the exact Shapley values.
 *
 * Cost: a coalition is |background| model rows. The rows of all coalitions go to `predict` in
 * batches of at most `maxBatchRows`, so a batched model runs a few large calls instead of
 * thousands of one-row calls.
 *
 * Pure: no I/O, no clock. The sampling uses a seeded PRNG (mulberry32), so the same inputs and
 * seed give the same values.
 */
import { seededRandom } from '../seeded-random.js';

/** A cell of a raw row, as a request or a CSV gives it; `null` is a missing value. */
export type RawValue = number | string | null;
/** A raw row: column name → value, before any preparation. */
export type RawRow = Readonly<Record<string, RawValue>>;
/**
 * The model explained, batched: one output vector per row, all of the same length (class
 * probabilities, or one regression value). It must not modify the rows it is given.
 */
export type BatchPredict = (rows: RawRow[]) => number[][];

/** The most columns `exactShapley` takes: 2^12 = 4096 coalitions, each |background| rows. */
export const MAX_EXACT_COLUMNS = 12;
/** The coalitions `kernelShap` evaluates besides the empty and the full one, unless told. */
export const DEFAULT_KERNEL_SAMPLES = 2048;
/** The most rows given to one `predict` call, unless told. */
export const DEFAULT_MAX_BATCH_ROWS = 4096;
/** The seed of `kernelShap`'s sampling, unless told. */
export const DEFAULT_KERNEL_SEED = 0;

/** What to explain, and against what. */
export interface ShapleyInput {
  /** The model explained (the whole pipeline from raw rows). */
  readonly predict: BatchPredict;
  /** The row explained (x). */
  readonly row: RawRow;
  /** The columns to explain (the players), in the order the values are reported. */
  readonly columns: readonly string[];
  /** A sample of training rows the absent columns take their values from; at least one row. */
  readonly background: readonly RawRow[];
  /** The most rows per `predict` call; `DEFAULT_MAX_BATCH_ROWS` unless given. */
  readonly maxBatchRows?: number;
}

/** `ShapleyInput` with KernelSHAP's sampling settings (ignored by the exact method). */
export interface KernelShapInput extends ShapleyInput {
  /**
   * Coalitions to evaluate besides the empty and the full one; `DEFAULT_KERNEL_SAMPLES` unless
   * given, at least the number of columns, and never more than the 2^M − 2 that exist.
   */
  readonly samples?: number;
  /** The PRNG seed; `DEFAULT_KERNEL_SEED` unless given. */
  readonly seed?: number;
}

/** The explanation of one output of the model (one class probability, or the regression value). */
export interface ShapleyExplanation {
  /** v(∅): the mean prediction over the background. */
  baseValue: number;
  /** φ per explained column, in the order of `columns`. */
  values: Record<string, number>;
  /** f(x): the model's prediction for the row. */
  prediction: number;
  /** baseValue + Σ values − prediction: zero up to rounding for both methods. */
  residual: number;
  method: 'exact' | 'kernel';
  /** Kernel only: the coalitions evaluated besides the empty and the full one. */
  samples?: number;
}

/**
 * Exact Shapley values of `row`'s prediction over `columns`, one explanation per model output,
 * from all 2^M coalitions with the weights |S|!(M−|S|−1)!/M!. Throws for more than
 * `MAX_EXACT_COLUMNS` columns, and for the invalid input `explainRow` describes.
 */
export function exactShapley(input: ShapleyInput): ShapleyExplanation[] {
  validateInput(input);
  const m = input.columns.length;
  if (m > MAX_EXACT_COLUMNS) {
    throw new Error(
      `exact Shapley values take all 2^M coalitions: ${m} columns is more than ` +
        `MAX_EXACT_COLUMNS (${MAX_EXACT_COLUMNS}); use kernelShap`,
    );
  }
  const coalitionCount = 2 ** m;
  const masks: Uint8Array[] = [];
  for (let bits = 0; bits < coalitionCount; bits++) {
    const mask = new Uint8Array(m);
    for (let i = 0; i < m; i++) mask[i] = (bits >> i) & 1;
    masks.push(mask);
  }
  const values = coalitionValues(input, masks);
  const empty = values[0]!;
  const full = values[coalitionCount - 1]!;
  const outputs = empty.length;

  // weight[s] = s!(m−s−1)!/m!, the share of orderings in which a column joins a given coalition
  // of size s.
  const weight: number[] = [];
  for (let s = 0; s < m; s++) weight.push(factorial(s) * (factorial(m - s - 1) / factorial(m)));

  const phi = Array.from({ length: outputs }, () => new Float64Array(m));
  for (let bits = 0; bits < coalitionCount; bits++) {
    const size = popCount(bits);
    for (let i = 0; i < m; i++) {
      const bit = 1 << i;
      if (bits & bit) continue;
      const without = values[bits]!;
      const withColumn = values[bits | bit]!;
      const w = weight[size]!;
      for (let k = 0; k < outputs; k++) phi[k]![i]! += w * (withColumn[k]! - without[k]!);
    }
  }
  return explanations(input.columns, empty, full, phi, 'exact');
}

/**
 * KernelSHAP estimates of the Shapley values of `row`'s prediction over `columns`, one
 * explanation per model output (see the module header for the sampling and the fit). The same
 * input and seed give the same values; base + Σφ equals the prediction up to rounding. Throws for
 * the invalid input `explainRow` describes, and for a `samples` below the number of columns.
 */
export function kernelShap(input: KernelShapInput): ShapleyExplanation[] {
  validateInput(input);
  const { columns, row, background } = input;
  const m = columns.length;
  const samples = input.samples ?? DEFAULT_KERNEL_SAMPLES;
  if (!Number.isInteger(samples) || samples < m) {
    throw new Error(
      `samples must be an integer at least the number of columns (${m}); got ${samples}`,
    );
  }
  const seed = input.seed ?? DEFAULT_KERNEL_SEED;
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer; got ${seed}`);

  // A column whose value is x's in every background row changes no model row: φ = 0.
  const varying: number[] = [];
  columns.forEach((column, i) => {
    if (background.some((b) => b[column] !== row[column])) varying.push(i);
  });
  const mv = varying.length;
  const plan =
    mv < 2
      ? { masks: [], weights: [] }
      : kernelSamplePlan(mv, Math.min(samples, 2 ** mv - 2), seededRandom(seed));

  // Masks over all columns; a constant column is set (from x), which changes nothing.
  const toColumnMask = (varyingMask: Uint8Array): Uint8Array => {
    const mask = new Uint8Array(m).fill(1);
    varying.forEach((column, j) => {
      mask[column] = varyingMask[j]!;
    });
    return mask;
  };
  const values = coalitionValues(input, [
    toColumnMask(new Uint8Array(mv)),
    new Uint8Array(m).fill(1),
    ...plan.masks.map(toColumnMask),
  ]);
  const base = values[0]!;
  const prediction = values[1]!;
  const outputs = base.length;
  const phi = Array.from({ length: outputs }, () => new Float64Array(m));
  if (mv === 1) {
    for (let k = 0; k < outputs; k++) phi[k]![varying[0]!] = prediction[k]! - base[k]!;
  } else if (mv > 1) {
    const fitted = fitWithEfficiency(plan, values.slice(2), base, prediction);
    for (let k = 0; k < outputs; k++) {
      varying.forEach((column, j) => {
        phi[k]![column] = fitted[k]![j]!;
      });
    }
  }
  return explanations(columns, base, prediction, phi, 'kernel', plan.masks.length);
}

/**
 * Shapley values of `row`'s prediction over `columns`, one explanation per model output: exact
 * when there are at most `MAX_EXACT_COLUMNS` columns, KernelSHAP (with `samples` and `seed`)
 * above that. Throws, naming what is wrong, for: an empty background, no columns, a column
 * named twice, a column missing from the row or from a background row, a `maxBatchRows` that is
 * not a positive integer, and a `predict` that returns the wrong number of rows, output vectors
 * of differing length, or a non-finite value.
 */
export function explainRow(input: KernelShapInput): ShapleyExplanation[] {
  return input.columns.length <= MAX_EXACT_COLUMNS ? exactShapley(input) : kernelShap(input);
}

/**
 * Solves A·X = B for X (A n×n, B n×k, both row-major arrays of rows) by Gaussian elimination
 * with partial pivoting; the arguments are not modified. Throws if A is singular.
 */
export function solveLinearSystem(
  a: readonly (readonly number[])[],
  b: readonly (readonly number[])[],
): number[][] {
  const n = a.length;
  if (b.length !== n || a.some((r) => r.length !== n)) {
    throw new Error(`solveLinearSystem needs an n×n matrix and n right-hand rows (n = ${n})`);
  }
  const k = n === 0 ? 0 : b[0]!.length;
  const lhs = a.map((r) => Float64Array.from(r));
  const rhs = b.map((r) => Float64Array.from(r));
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) {
      if (Math.abs(lhs[r]![col]!) > Math.abs(lhs[pivot]![col]!)) pivot = r;
    }
    if (lhs[pivot]![col] === 0) throw new Error(`the matrix is singular (column ${col})`);
    [lhs[col], lhs[pivot]] = [lhs[pivot]!, lhs[col]!];
    [rhs[col], rhs[pivot]] = [rhs[pivot]!, rhs[col]!];
    const pivotRow = lhs[col]!;
    const pivotRhs = rhs[col]!;
    for (let r = col + 1; r < n; r++) {
      const factor = lhs[r]![col]! / pivotRow[col]!;
      if (factor === 0) continue;
      const row = lhs[r]!;
      for (let c = col; c < n; c++) row[c]! -= factor * pivotRow[c]!;
      const rowRhs = rhs[r]!;
      for (let j = 0; j < k; j++) rowRhs[j]! -= factor * pivotRhs[j]!;
    }
  }
  const x = Array.from({ length: n }, () => new Array<number>(k).fill(0));
  for (let r = n - 1; r >= 0; r--) {
    for (let j = 0; j < k; j++) {
      let sum = rhs[r]![j]!;
      for (let c = r + 1; c < n; c++) sum -= lhs[r]![c]! * x[c]![j]!;
      x[r]![j] = sum / lhs[r]![r]!;
    }
  }
  return x;
}

/** Coalitions to evaluate (1: the column comes from x) and their kernel weights. */
interface KernelSamplePlan {
  masks: Uint8Array[];
  weights: number[];
}

/**
 * SHAP's KernelExplainer sampling (`_kernel.py`, `explain`): with the Shapley kernel's total
 * weight per coalition size s ∝ (M−1)/(s(M−s)), sizes s and M−s taken together, enumerate every
 * coalition of a size pair while the remaining budget covers its share of the weight; sample the
 * sizes left in proportion to their weight, each coalition with its complement, a repeat adding
 * to the first one's weight; finally scale the sampled weights to the weight those sizes carry.
 */
function kernelSamplePlan(m: number, budget: number, random: () => number): KernelSamplePlan {
  const masks: Uint8Array[] = [];
  const weights: number[] = [];
  const sizeCount = Math.ceil((m - 1) / 2);
  const pairedSizeCount = Math.floor((m - 1) / 2);
  const sizeWeight: number[] = [];
  for (let s = 1; s <= sizeCount; s++) {
    sizeWeight.push(((m - 1) / (s * (m - s))) * (s <= pairedSizeCount ? 2 : 1));
  }
  const totalWeight = sizeWeight.reduce((a, b) => a + b, 0);
  for (let i = 0; i < sizeCount; i++) sizeWeight[i]! /= totalWeight;

  let left = budget;
  let fullSizes = 0;
  const remaining = [...sizeWeight];
  for (let s = 1; s <= sizeCount; s++) {
    const paired = s <= pairedSizeCount;
    const coalitions = binomial(m, s) * (paired ? 2 : 1);
    if ((left * remaining[s - 1]!) / coalitions < 1 - 1e-8) break;
    fullSizes++;
    left -= coalitions;
    if (remaining[s - 1]! < 1) {
      const scale = 1 - remaining[s - 1]!;
      for (let i = 0; i < sizeCount; i++) remaining[i]! /= scale;
    }
    const weight = sizeWeight[s - 1]! / coalitions;
    for (const members of combinations(m, s)) {
      const mask = new Uint8Array(m);
      for (const i of members) mask[i] = 1;
      masks.push(mask);
      weights.push(weight);
      if (paired) {
        masks.push(complement(mask));
        weights.push(weight);
      }
    }
  }
  if (fullSizes === sizeCount || left <= 0) return { masks, weights };

  const fixed = masks.length;
  // The sizes left, each a sample and (for a paired size) its complement.
  const sampledSizeWeight = sizeWeight
    .map((w, i) => (i < pairedSizeCount ? w / 2 : w))
    .slice(fullSizes);
  const sampledTotal = sampledSizeWeight.reduce((a, b) => a + b, 0);
  const cumulative: number[] = [];
  let running = 0;
  for (const w of sampledSizeWeight) {
    running += w / sampledTotal;
    cumulative.push(running);
  }
  const seen = new Map<string, number>();
  const order = Array.from({ length: m }, (_, i) => i);
  const addSample = (mask: Uint8Array): void => {
    const key = mask.join('');
    const at = seen.get(key);
    if (at !== undefined) {
      weights[at]! += 1;
      return;
    }
    seen.set(key, masks.length);
    masks.push(mask);
    weights.push(1);
    left--;
  };
  // As SHAP: at most 4 draws per coalition wanted, so a budget near 2^M − 2 cannot loop for long
  // on repeats.
  for (let draws = 4 * left; left > 0 && draws > 0; draws--) {
    const u = random();
    let index = cumulative.findIndex((c) => u < c);
    if (index < 0) index = cumulative.length - 1;
    const size = index + fullSizes + 1;
    for (let i = 0; i < size; i++) {
      const j = i + Math.floor(random() * (m - i));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const mask = new Uint8Array(m);
    for (let i = 0; i < size; i++) mask[order[i]!] = 1;
    addSample(mask);
    if (left > 0 && size <= pairedSizeCount) addSample(complement(mask));
  }
  const weightLeft = sizeWeight.slice(fullSizes).reduce((a, b) => a + b, 0);
  const sampledWeight = weights.slice(fixed).reduce((a, b) => a + b, 0);
  for (let i = fixed; i < weights.length; i++) weights[i]! *= weightLeft / sampledWeight;
  return { masks, weights };
}

/**
 * The weighted least-squares fit of v(S) − base ≈ Σ_{i∈S} φ_i over the planned coalitions, with
 * efficiency substituted for the last column: φ_last = (f(x) − base) − Σ_{i<last} φ_i. Returns
 * φ per output, over the plan's columns.
 */
function fitWithEfficiency(
  plan: KernelSamplePlan,
  values: readonly Float64Array[],
  base: Float64Array,
  prediction: Float64Array,
): number[][] {
  const m = plan.masks[0]!.length;
  const n = m - 1;
  const outputs = base.length;
  const normal = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  const rhs = Array.from({ length: n }, () => new Array<number>(outputs).fill(0));
  const design = new Float64Array(n);
  const target = new Float64Array(outputs);
  plan.masks.forEach((mask, s) => {
    const w = plan.weights[s]!;
    const last = mask[n]!;
    for (let i = 0; i < n; i++) design[i] = mask[i]! - last;
    for (let k = 0; k < outputs; k++) {
      target[k] = values[s]![k]! - base[k]! - last * (prediction[k]! - base[k]!);
    }
    for (let i = 0; i < n; i++) {
      const wi = w * design[i]!;
      if (wi === 0) continue;
      const normalRow = normal[i]!;
      for (let j = 0; j < n; j++) normalRow[j]! += wi * design[j]!;
      const rhsRow = rhs[i]!;
      for (let k = 0; k < outputs; k++) rhsRow[k]! += wi * target[k]!;
    }
  });
  // A ridge far below the kernel weights' scale: it changes a well-posed fit by rounding only,
  // and keeps a fit with too few distinct coalitions solvable.
  const meanDiagonal = normal.reduce((sum, r, i) => sum + r[i]!, 0) / n;
  const ridge = 1e-10 * (meanDiagonal > 0 ? meanDiagonal : 1);
  for (let i = 0; i < n; i++) normal[i]![i]! += ridge;
  const solved = solveLinearSystem(normal, rhs);
  return Array.from({ length: outputs }, (_, k) => {
    const phi = solved.map((r) => r[k]!);
    const rest = phi.reduce((a, b) => a + b, 0);
    phi.push(prediction[k]! - base[k]! - rest);
    return phi;
  });
}

/**
 * v(S) for each coalition mask (1: the column comes from x, 0: from the background row), each a
 * vector over the model's outputs. The full coalition is x itself, one row; any other is one row
 * per background row. Rows go to `predict` in batches of at most `maxBatchRows`.
 */
function coalitionValues(input: ShapleyInput, masks: readonly Uint8Array[]): Float64Array[] {
  const { predict, row, columns, background } = input;
  const batchLimit = input.maxBatchRows ?? DEFAULT_MAX_BATCH_ROWS;
  const sums: Float64Array[] = [];
  const counts: number[] = [];
  let outputs = -1;
  let batch: RawRow[] = [];
  let owners: number[] = [];

  const flush = (): void => {
    if (batch.length === 0) return;
    const predictions = predict(batch);
    if (!Array.isArray(predictions) || predictions.length !== batch.length) {
      const got = Array.isArray(predictions) ? `${predictions.length} outputs` : 'no array';
      throw new Error(`predict returned ${got} for ${batch.length} rows`);
    }
    predictions.forEach((vector, r) => {
      if (!Array.isArray(vector) || vector.length === 0) {
        throw new Error(`predict returned no output vector for row ${r} of its batch`);
      }
      if (outputs < 0) outputs = vector.length;
      if (vector.length !== outputs) {
        throw new Error(
          `predict returned output vectors of length ${vector.length} and ${outputs}; ` +
            'every row needs the same outputs',
        );
      }
      const owner = owners[r]!;
      sums[owner] ??= new Float64Array(outputs);
      const sum = sums[owner]!;
      for (let k = 0; k < outputs; k++) {
        const value = vector[k]!;
        if (!Number.isFinite(value)) {
          throw new Error(`predict returned ${value} for output ${k} of row ${r} of its batch`);
        }
        sum[k]! += value;
      }
    });
    batch = [];
    owners = [];
  };
  const add = (composite: RawRow, owner: number): void => {
    batch.push(composite);
    owners.push(owner);
    if (batch.length >= batchLimit) flush();
  };

  masks.forEach((mask, c) => {
    const absent = columns.filter((_, i) => mask[i] === 0);
    if (absent.length === 0) {
      counts.push(1);
      add(row, c);
      return;
    }
    counts.push(background.length);
    for (const b of background) {
      const composite: Record<string, RawValue> = { ...row };
      for (const column of absent) composite[column] = b[column]!;
      add(composite, c);
    }
  });
  flush();
  return sums.map((sum, c) => sum.map((value) => value / counts[c]!));
}

function validateInput(input: ShapleyInput): void {
  const { row, columns, background } = input;
  if (background.length === 0) {
    throw new Error('the background is empty: Shapley values need at least one background row');
  }
  if (columns.length === 0) throw new Error('no columns to explain');
  const seen = new Set<string>();
  for (const column of columns) {
    if (seen.has(column)) throw new Error(`column ${JSON.stringify(column)} is named twice`);
    seen.add(column);
    if (!Object.hasOwn(row, column)) {
      throw new Error(
        `column ${JSON.stringify(column)} is not in the row to explain ` +
          `(its columns: ${Object.keys(row).join(', ')})`,
      );
    }
  }
  background.forEach((b, index) => {
    for (const column of columns) {
      if (!Object.hasOwn(b, column)) {
        throw new Error(`background row ${index} has no column ${JSON.stringify(column)}`);
      }
    }
  });
  const batchLimit = input.maxBatchRows ?? DEFAULT_MAX_BATCH_ROWS;
  if (!Number.isInteger(batchLimit) || batchLimit < 1) {
    throw new Error(`maxBatchRows must be a positive integer; got ${batchLimit}`);
  }
}

function explanations(
  columns: readonly string[],
  base: Float64Array,
  prediction: Float64Array,
  phi: readonly Float64Array[],
  method: 'exact' | 'kernel',
  samples?: number,
): ShapleyExplanation[] {
  return phi.map((values, k) => {
    const baseValue = base[k]!;
    const total = values.reduce((a, b) => a + b, 0);
    const explanation: ShapleyExplanation = {
      baseValue,
      values: Object.fromEntries(columns.map((column, i) => [column, values[i]!])),
      prediction: prediction[k]!,
      residual: baseValue + total - prediction[k]!,
      method,
    };
    if (samples !== undefined) explanation.samples = samples;
    return explanation;
  });
}

function complement(mask: Uint8Array): Uint8Array {
  return mask.map((bit) => 1 - bit);
}

/** The k-element subsets of {0..n−1}, in lexicographic order. */
function* combinations(n: number, k: number): Generator<number[]> {
  const members = Array.from({ length: k }, (_, i) => i);
  while (true) {
    yield [...members];
    let i = k - 1;
    while (i >= 0 && members[i] === n - k + i) i--;
    if (i < 0) return;
    members[i]!++;
    for (let j = i + 1; j < k; j++) members[j] = members[j - 1]! + 1;
  }
}

function binomial(n: number, k: number): number {
  let result = 1;
  for (let i = 1; i <= k; i++) result = (result * (n - k + i)) / i;
  return result;
}

function factorial(n: number): number {
  let result = 1;
  for (let i = 2; i <= n; i++) result *= i;
  return result;
}

function popCount(bits: number): number {
  let count = 0;
  for (let rest = bits; rest !== 0; rest &= rest - 1) count++;
  return count;
}
