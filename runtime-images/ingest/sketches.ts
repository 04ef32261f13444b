/**
 * Bounded-memory summaries of a column, so memory stays flat however many rows there are.
 * Every one is deterministic: the same values in the same order give the same result, which
 * keeps a dataset version a pure function of its data.
 */

/** Count, mean, variance (Welford), min and max of a stream of numbers. */
export class RunningStats {
  count = 0;
  mean = 0;
  /** Sum of squared deviations from the mean. */
  m2 = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;

  add(x: number): void {
    this.count++;
    const delta = x - this.mean;
    this.mean += delta / this.count;
    this.m2 += delta * (x - this.mean);
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
  }

  /** Adds `count` copies of `x` at once (imputed cells). */
  addRepeated(x: number, count: number): void {
    if (count <= 0) return;
    if (this.count === 0) {
      this.count = count;
      this.mean = x;
      this.m2 = 0;
    } else {
      const total = this.count + count;
      const delta = x - this.mean;
      this.mean += (delta * count) / total;
      this.m2 += (delta * delta * this.count * count) / total;
      this.count = total;
    }
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
  }

  /** Population standard deviation (what a standard scaler divides by). */
  get stddev(): number {
    return this.count > 0 ? Math.sqrt(this.m2 / this.count) : 0;
  }
}

/**
 * Value frequencies: exact while there are at most `capacity` distinct values, then the
 * Misra–Gries summary (every value more frequent than n / (capacity + 1) is kept, with a count
 * too low by at most that much). `exact` says which.
 */
export class FrequencyCounter {
  readonly counts = new Map<string, number>();
  readonly capacity: number;
  exact = true;
  total = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  add(value: string, count = 1): void {
    this.total += count;
    const seen = this.counts.get(value);
    if (seen !== undefined) {
      this.counts.set(value, seen + count);
      return;
    }
    if (this.counts.size < this.capacity) {
      this.counts.set(value, count);
      return;
    }
    this.exact = false;
    // Misra–Gries: decrement every counter by the smallest of them and the new count.
    let smallest = count;
    for (const c of this.counts.values()) if (c < smallest) smallest = c;
    for (const [key, c] of this.counts) {
      if (c === smallest) this.counts.delete(key);
      else this.counts.set(key, c - smallest);
    }
    if (count > smallest) this.counts.set(value, count - smallest);
  }

  /** Values by count, most frequent first; ties in code-unit order of the value. */
  ranked(): [string, number][] {
    return [...this.counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }
}

/** Distinct values kept exactly before a `QuantileSketch` falls back to its histogram. */
export const EXACT_QUANTILE_VALUES = 4096;
/** Bins of a `QuantileSketch`'s histogram. */
export const QUANTILE_BINS = 4096;

/**
 * Quantiles of a stream of numbers whose range [lo, hi] is known beforehand (from the first
 * pass). Exact while there are at most `EXACT_QUANTILE_VALUES` distinct values; beyond that,
 * interpolated in a histogram of `QUANTILE_BINS` equal bins over [lo, hi], so the error is at
 * most (hi - lo) / QUANTILE_BINS. Quantiles interpolate linearly between order statistics
 * (numpy's default), so the median of an even count is the mean of the middle two.
 */
export class QuantileSketch {
  private values: Map<number, number> | undefined = new Map();
  private readonly bins: Float64Array;
  private readonly lo: number;
  private readonly hi: number;
  private readonly width: number;
  /** Point masses added after the stream (imputed values), kept apart from the bins. */
  private readonly points = new Map<number, number>();
  count = 0;

  constructor(lo: number, hi: number) {
    this.lo = Number.isFinite(lo) ? lo : 0;
    this.hi = Number.isFinite(hi) && hi >= this.lo ? hi : this.lo;
    this.width = (this.hi - this.lo) / QUANTILE_BINS;
    this.bins = new Float64Array(QUANTILE_BINS);
  }

  add(x: number): void {
    this.count++;
    const values = this.values;
    if (values !== undefined) {
      values.set(x, (values.get(x) ?? 0) + 1);
      if (values.size > EXACT_QUANTILE_VALUES) {
        for (const [v, c] of values) this.bins[this.binOf(v)]! += c;
        this.values = undefined;
      }
      return;
    }
    this.bins[this.binOf(x)]! += 1;
  }

  /** Adds `count` copies of `x`, which may lie outside [lo, hi]. */
  addPoint(x: number, count: number): void {
    if (count <= 0) return;
    this.count += count;
    if (this.values !== undefined) this.values.set(x, (this.values.get(x) ?? 0) + count);
    else this.points.set(x, (this.points.get(x) ?? 0) + count);
  }

  private binOf(x: number): number {
    if (this.width === 0) return 0;
    const i = Math.floor((x - this.lo) / this.width);
    return i < 0 ? 0 : i >= QUANTILE_BINS ? QUANTILE_BINS - 1 : i;
  }

  /** Whether the quantiles are exact. */
  get exact(): boolean {
    return this.values !== undefined;
  }

  /** The q-quantiles (0 ≤ q ≤ 1) for each q of `qs`; NaN when empty. */
  quantiles(qs: readonly number[]): number[] {
    if (this.count === 0) return qs.map(() => Number.NaN);
    // Buckets in ascending order: [low, high, count]; a point has low === high.
    const buckets: [number, number, number][] = [];
    if (this.values !== undefined) {
      for (const [v, c] of this.values) buckets.push([v, v, c]);
    } else {
      for (let i = 0; i < QUANTILE_BINS; i++) {
        const c = this.bins[i]!;
        if (c > 0) {
          const low = this.lo + i * this.width;
          buckets.push([low, i === QUANTILE_BINS - 1 ? this.hi : low + this.width, c]);
        }
      }
      for (const [v, c] of this.points) buckets.push([v, v, c]);
    }
    buckets.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const orderStatistic = (k: number): number => {
      // The k-th smallest value (0-based); inside a bin, spread its values evenly.
      let seen = 0;
      for (const [low, high, c] of buckets) {
        if (k < seen + c)
          return c === 1 || low === high ? low : low + ((high - low) * (k - seen + 0.5)) / c;
        seen += c;
      }
      return buckets[buckets.length - 1]![1];
    };
    return qs.map((q) => {
      const position = q * (this.count - 1);
      const below = Math.floor(position);
      const fraction = position - below;
      const a = orderStatistic(below);
      return fraction === 0 ? a : a + (orderStatistic(below + 1) - a) * fraction;
    });
  }
}
