/**
 * How the console prints numbers, in one place, so every page prints a metric the same way and
 * a test can tell what it should read. A page shows `formatMetric(v)` (four decimals at most,
 * trailing zeros dropped: 0.9666666666666667 → 0.9667) and keeps the exact value, as
 * `String(v)` — what `kubectl get -o json` holds — in the cell's `data-value` attribute
 * (`valueAttribute`). The browser tests compare `Number(data-value)` with kubectl's number, and
 * the text with `formatMetric` of it.
 */
import { escapeHtml, type Html, raw } from './html.js';

/** A metric or measurement for display: at most 4 decimals, no trailing zeros, no `-0`. */
export function formatMetric(value: number | undefined): string {
  if (value === undefined) return '—';
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? '∞' : '−∞';
  const abs = Math.abs(value);
  if (abs !== 0 && abs < 1e-4) return value.toExponential(2);
  const text = value.toFixed(abs >= 1000 ? 2 : 4).replace(/\.?0+$/, '');
  return text === '-0' ? '0' : text;
}

/** A share in [0, 1] as a percentage with one decimal: 0.0512 → "5.1%". */
export function formatPercent(share: number | undefined): string {
  if (share === undefined || !Number.isFinite(share)) return '—';
  return `${(share * 100).toFixed(1).replace(/\.0$/, '')}%`;
}

/** Seconds as milliseconds with one decimal at most: 0.01234 → "12.3 ms". */
export function formatMilliseconds(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '—';
  return `${String(Number((seconds * 1000).toFixed(1)))} ms`;
}

/**
 * ` data-value="<exact>"` for a cell that shows `value` (nothing for an absent value), to put
 * inside a tag: `<td${valueAttribute(v)}>`.
 */
export function valueAttribute(value: number | undefined): Html {
  return raw(value === undefined ? '' : ` data-value="${escapeHtml(String(value))}"`);
}

/** Whether a smaller value of the metric `name` is the better one (loss, errors). */
export function lowerIsBetter(name: string): boolean {
  return /(loss|error|^mse$|^rmse$|^mae$|^mape$)/i.test(name);
}
