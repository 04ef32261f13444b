/**
 * The Prometheus text exposition format (version 0.0.4), read: what the inference servers'
 * `/metrics` answer (prom-client), turned into samples — for the autoscaler's load, the
 * RetrainPolicy's feedback counts and the console's serving page, which sum them across pods. And `histogramQuantile`, Prometheus' own estimate of a quantile from cumulative buckets
 * (linear within the bucket the rank falls in), so a p95 here reads as `histogram_quantile(0.95,
 * ...)` would on the same counts.
 *
 * Parsed properly: comments, label escapes (`\\`, `\"`, `\n`), `NaN` and `±Inf` in any case,
 * optional timestamps.
 */

/** One sample line: `name{labels} value [timestamp]`. */
export interface MetricSample {
  name: string;
  labels: Readonly<Record<string, string>>;
  value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

/**
 * Parses exposition text into samples, in order. A malformed line throws, naming its number
 * and text (a server that answers something else is not silently read as zero).
 */
export function parsePrometheusText(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const sample = parseSampleLine(line);
    if (!sample) throw new Error(`metrics line ${i + 1} is not a Prometheus sample: ${line}`);
    samples.push(sample);
  }
  return samples;
}

function parseSampleLine(line: string): MetricSample | undefined {
  const name = NAME.exec(line)?.[0];
  if (!name) return undefined;
  let at = name.length;
  const labels: Record<string, string> = {};
  if (line[at] === '{') {
    at++;
    for (;;) {
      while (line[at] === ' ' || line[at] === ',') at++;
      if (line[at] === '}') {
        at++;
        break;
      }
      const label = NAME.exec(line.slice(at))?.[0];
      if (!label || line[at + label.length] !== '=' || line[at + label.length + 1] !== '"')
        return undefined;
      at += label.length + 2;
      let value = '';
      for (;;) {
        const c = line[at];
        if (c === undefined) return undefined;
        at++;
        if (c === '"') break;
        if (c === '\\') {
          const next = line[at++];
          value += next === 'n' ? '\n' : (next ?? '');
        } else value += c;
      }
      labels[label] = value;
    }
  }
  const [valueText] = line.slice(at).trim().split(/\s+/);
  const value = parseSampleValue(valueText ?? '');
  return value === undefined ? undefined : { name, labels, value };
}

/** As Go's `strconv.ParseFloat` (Prometheus' own reader): NaN and Inf in any case (prom-client writes `Nan`). */
function parseSampleValue(text: string): number | undefined {
  const special = text.toLowerCase();
  if (special === 'nan') return Number.NaN;
  if (special === '+inf' || special === 'inf') return Number.POSITIVE_INFINITY;
  if (special === '-inf') return Number.NEGATIVE_INFINITY;
  if (text === '' || !/^[-+]?[0-9.]+([eE][-+]?[0-9]+)?$/.test(text)) return undefined;
  const value = Number(text);
  return Number.isNaN(value) ? undefined : value;
}

/** Sum of the samples named `name` whose labels pass `where` (every label set, by default). */
export function sumOf(
  samples: readonly MetricSample[],
  name: string,
  where: (labels: Readonly<Record<string, string>>) => boolean = () => true,
): number {
  let sum = 0;
  for (const s of samples) if (s.name === name && where(s.labels)) sum += s.value;
  return sum;
}

/** As `sumOf`, skipping values that are not finite (`NaN`: a figure a server could not compute). */
export function finiteSumOf(
  samples: readonly MetricSample[],
  name: string,
  where: (labels: Readonly<Record<string, string>>) => boolean = () => true,
): number {
  let sum = 0;
  for (const s of samples) {
    if (s.name === name && where(s.labels) && Number.isFinite(s.value)) sum += s.value;
  }
  return sum;
}

/** A cumulative bucket: observations ≤ `le`. */
export interface HistogramBucket {
  le: number;
  count: number;
}

/**
 * The `<name>_bucket` samples summed by `le` across every other label (`sum by (le)`), sorted,
 * the `+Inf` bucket last.
 */
export function histogramBuckets(
  samples: readonly MetricSample[],
  name: string,
): HistogramBucket[] {
  const byLe = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket` || s.labels.le === undefined) continue;
    const le = parseSampleValue(s.labels.le);
    if (le === undefined || Number.isNaN(le)) continue;
    byLe.set(le, (byLe.get(le) ?? 0) + s.value);
  }
  return [...byLe].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
}

/**
 * Bucket counts observed between two readings (`later - earlier`, per `le`): a histogram over
 * the interval, as `rate()` makes one. A bucket missing in `earlier` counts from zero.
 */
export function bucketIncrease(
  earlier: readonly HistogramBucket[],
  later: readonly HistogramBucket[],
): HistogramBucket[] {
  const before = new Map(earlier.map((b) => [b.le, b.count]));
  return later.map((b) => ({ le: b.le, count: Math.max(0, b.count - (before.get(b.le) ?? 0)) }));
}

/**
 * Prometheus' `histogram_quantile(q, buckets)`: the rank `q × total` located in its bucket and
 * interpolated linearly within it (the first bucket from 0). A rank in the `+Inf` bucket gives
 * the largest finite bound. Undefined when there is nothing observed, or no `+Inf` bucket.
 */
export function histogramQuantile(
  q: number,
  buckets: readonly HistogramBucket[],
): number | undefined {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile ${q} is not within [0, 1]`);
  const last = buckets.at(-1);
  if (!last || last.le !== Number.POSITIVE_INFINITY || !(last.count > 0)) return undefined;
  const rank = q * last.count;
  let lower = 0;
  let below = 0;
  for (const bucket of buckets) {
    if (bucket.count >= rank && bucket.count > below) {
      if (bucket.le === Number.POSITIVE_INFINITY) return lower;
      return lower + ((bucket.le - lower) * (rank - below)) / (bucket.count - below);
    }
    lower = bucket.le;
    below = bucket.count;
  }
  return lower;
}
