/**
 * Line charts as inline SVG, drawn on the server: the console's pages work without JavaScript,
 * so a chart is markup like the tables beside it. One chart holds several series (loss and
 * val_loss per epoch; p50/p95/p99 over time; a metric across model versions), with axes, ticks
 * on "nice" numbers (1, 2, 5 × 10ⁿ, as d3-scale and Grafana choose them), a legend, and
 * `<title>`/`<desc>` so a screen reader announces what it shows. Each point carries a `<title>`
 * (the browser's own tooltip) with its exact value.
 *
 * About 200 lines instead of a charting library: the npm ones draw in the browser (Chart.js,
 * uPlot) or bring a DOM (d3 on jsdom) to the server, and these charts need neither.
 */
import { escapeHtml, type Html, raw } from './html.js';

/** One point; non-finite `y` leaves a gap in its line. */
export interface ChartPoint {
  x: number;
  y: number;
}

export interface ChartSeries {
  name: string;
  points: readonly ChartPoint[];
}

export interface LineChartOptions {
  /** Unique on the page: prefixes the ids `<title>` and `<desc>` are referred to by. */
  id: string;
  /** What the chart shows, in a few words (its `<title>`, and the heading drawn in it). */
  title: string;
  /** A sentence for assistive technology: what is plotted against what. */
  description: string;
  series: readonly ChartSeries[];
  xLabel: string;
  yLabel: string;
  /** `number` (default), `integer` (epochs, versions: ticks on whole numbers) or `time` (ms). */
  xAxis?: 'number' | 'integer' | 'time';
  /** Formats a y value for ticks and point titles (default `formatTick`). */
  formatY?: (y: number) => string;
  /** Shown instead of the plot when no series has a finite point. */
  emptyText?: string;
  width?: number;
  height?: number;
}

/** Okabe–Ito: eight colours told apart with every common colour-vision deficiency. */
export const SERIES_COLOURS = [
  '#0072b2',
  '#e69f00',
  '#009e73',
  '#cc79a7',
  '#56b4e9',
  '#d55e00',
  '#f0e442',
  '#000000',
] as const;

/**
 * About `count` evenly spaced ticks covering [min, max], on multiples of 1, 2 or 5 × 10ⁿ (at
 * least `minStep`). A single value gets ticks around it.
 */
export function niceTicks(min: number, max: number, count = 5, minStep = 0): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  let low = Math.min(min, max);
  let high = Math.max(min, max);
  if (low === high) {
    const pad = Math.max(Math.abs(low) * 0.1, minStep, 1e-9) || 1;
    low -= pad;
    high += pad;
  }
  const rough = (high - low) / Math.max(1, count);
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = Math.max(
    minStep,
    [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= rough * (1 - 1e-9)) ?? 10 * magnitude,
  );
  const first = Math.floor(low / step + 1e-9) * step;
  const ticks: number[] = [];
  for (let t = first; t <= high + step * 1e-9; t += step) ticks.push(roundToStep(t, step));
  if (ticks.at(-1)! < high - step * 1e-9) ticks.push(roundToStep(ticks.at(-1)! + step, step));
  return ticks;
}

/** Time steps (ms) a time axis may tick on: seconds to days. */
const TIME_STEPS_MS = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400,
].map((s) => s * 1000);

/** About `count` ticks over [min, max] ms, on whole seconds, minutes or hours. */
export function timeTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max) || max <= min) return niceTicks(min, max, 1);
  const rough = (max - min) / Math.max(1, count);
  const step = TIME_STEPS_MS.find((s) => s >= rough * (1 - 1e-9)) ?? TIME_STEPS_MS.at(-1)!;
  const ticks: number[] = [];
  for (let t = Math.ceil(min / step) * step; t <= max; t += step) ticks.push(t);
  return ticks;
}

function roundToStep(value: number, step: number): number {
  const decimals = Math.max(0, -Math.floor(Math.log10(step)) + 1);
  return Number(value.toFixed(Math.min(decimals, 15)));
}

/** A tick label: up to 4 significant digits, no float noise (0.30000000000000004 → 0.3). */
export function formatTick(value: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1e6 || abs < 1e-3) return value.toExponential(1);
  return String(Number(value.toPrecision(4)));
}

/** HH:MM:SS in UTC, the way the pages print times. */
export function formatClock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

/** Renders the chart (see the module header) as an inline `<svg>`. */
export function lineChart(options: LineChartOptions): Html {
  const width = options.width ?? 640;
  const height = options.height ?? 280;
  const margin = { top: 28, right: 16, bottom: 44, left: 64 };
  const plotW = width - margin.left - margin.right;
  const legendRows = Math.ceil(options.series.length / 3);
  const plotH = height - margin.top - margin.bottom - legendRows * 18;
  const id = options.id.replace(/[^A-Za-z0-9_-]/g, '-');
  const formatY = options.formatY ?? formatTick;
  const xAxis = options.xAxis ?? 'number';
  const formatX = xAxis === 'time' ? formatClock : formatTick;

  const finite = options.series.flatMap((s) =>
    s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)),
  );
  const head = `<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" aria-labelledby="${id}-title ${id}-desc" id="${id}"><title id="${id}-title">${escapeHtml(options.title)}</title><desc id="${id}-desc">${escapeHtml(options.description)}</desc><text x="${margin.left}" y="16" class="chart-title" font-size="13" font-weight="bold">${escapeHtml(options.title)}</text>`;
  if (finite.length === 0) {
    const text = options.emptyText ?? 'No data yet.';
    return raw(
      `${head}<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#ccc"/><text x="${margin.left + plotW / 2}" y="${margin.top + plotH / 2}" text-anchor="middle" class="chart-empty" fill="#555">${escapeHtml(text)}</text></svg>`,
    );
  }

  const xs = finite.map((p) => p.x);
  const ys = finite.map((p) => p.y);
  const [xMin, xMax] = [Math.min(...xs), Math.max(...xs)];
  const xTicks =
    xAxis === 'time'
      ? timeTicks(xMin, xMax)
      : niceTicks(xMin, xMax, 6, xAxis === 'integer' ? 1 : 0);
  const yTicks = niceTicks(Math.min(...ys), Math.max(...ys), 5);
  const x0 = xAxis === 'time' ? xMin : Math.min(xMin, xTicks[0]!);
  const x1 = xAxis === 'time' ? Math.max(xMax, xMin + 1) : Math.max(xMax, xTicks.at(-1)!);
  const [y0, y1] = [yTicks[0]!, yTicks.at(-1)!];
  const sx = (x: number) => margin.left + ((x - x0) / (x1 - x0 || 1)) * plotW;
  const sy = (y: number) => margin.top + plotH - ((y - y0) / (y1 - y0 || 1)) * plotH;
  const r = (n: number) => n.toFixed(1);

  const parts: string[] = [head];
  parts.push(`<g class="chart-axes" font-size="11" fill="#333">`);
  for (const t of yTicks) {
    parts.push(
      `<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${r(sy(t))}" y2="${r(sy(t))}" stroke="#e5e5e5"/><text x="${margin.left - 6}" y="${r(sy(t) + 4)}" text-anchor="end">${escapeHtml(formatY(t))}</text>`,
    );
  }
  for (const t of xTicks.filter((t) => t >= x0 && t <= x1)) {
    parts.push(
      `<line x1="${r(sx(t))}" x2="${r(sx(t))}" y1="${margin.top + plotH}" y2="${margin.top + plotH + 4}" stroke="#333"/><text x="${r(sx(t))}" y="${margin.top + plotH + 16}" text-anchor="middle">${escapeHtml(formatX(t))}</text>`,
    );
  }
  parts.push(
    `<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${margin.top + plotH}" y2="${margin.top + plotH}" stroke="#333"/><line x1="${margin.left}" x2="${margin.left}" y1="${margin.top}" y2="${margin.top + plotH}" stroke="#333"/>`,
    `<text x="${margin.left + plotW / 2}" y="${margin.top + plotH + 32}" text-anchor="middle">${escapeHtml(options.xLabel)}</text>`,
    `<text transform="translate(14 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(options.yLabel)}</text></g>`,
  );

  options.series.forEach((series, i) => {
    const colour = SERIES_COLOURS[i % SERIES_COLOURS.length]!;
    parts.push(`<g class="chart-series" data-series="${escapeHtml(series.name)}">`);
    for (const segment of segmentsOf(series.points)) {
      if (segment.length > 1) {
        const d = segment.map((p) => `${r(sx(p.x))},${r(sy(p.y))}`).join(' ');
        parts.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${d}"/>`);
      }
      // Dense series get smaller dots; every point keeps its tooltip.
      const radius = series.points.length > 40 ? 1.5 : 3;
      for (const p of segment) {
        const label = `${series.name}: ${formatY(p.y)} at ${options.xLabel.toLowerCase()} ${formatX(p.x)}`;
        parts.push(
          `<circle cx="${r(sx(p.x))}" cy="${r(sy(p.y))}" r="${radius}" fill="${colour}"><title>${escapeHtml(label)}</title></circle>`,
        );
      }
    }
    parts.push('</g>');
  });

  const legendTop = margin.top + plotH + 44;
  parts.push(`<g class="chart-legend" font-size="11">`);
  options.series.forEach((series, i) => {
    const lx = margin.left + (i % 3) * Math.floor(plotW / 3);
    const ly = legendTop + Math.floor(i / 3) * 18;
    const colour = SERIES_COLOURS[i % SERIES_COLOURS.length]!;
    parts.push(
      `<rect x="${lx}" y="${ly - 9}" width="12" height="12" fill="${colour}"/><text x="${lx + 18}" y="${ly + 1}">${escapeHtml(series.name)}</text>`,
    );
  });
  parts.push('</g></svg>');
  return raw(parts.join(''));
}

/** The runs of consecutive finite points of `points`, sorted by x: a NaN breaks the line. */
export function segmentsOf(points: readonly ChartPoint[]): ChartPoint[][] {
  const sorted = [...points].filter((p) => Number.isFinite(p.x)).sort((a, b) => a.x - b.x);
  const segments: ChartPoint[][] = [];
  let current: ChartPoint[] = [];
  for (const p of sorted) {
    if (Number.isFinite(p.y)) current.push(p);
    else if (current.length > 0) {
      segments.push(current);
      current = [];
    }
  }
  if (current.length > 0) segments.push(current);
  return segments;
}
