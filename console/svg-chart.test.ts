import { describe, expect, it } from 'vitest';
import {
  formatClock,
  formatTick,
  lineChart,
  niceTicks,
  segmentsOf,
  timeTicks,
} from './svg-chart.js';

describe('niceTicks', () => {
  it.each([
    { min: 0, max: 1, count: 5, minStep: 0, ticks: [0, 0.2, 0.4, 0.6, 0.8, 1] },
    { min: 0.12, max: 0.97, count: 5, minStep: 0, ticks: [0, 0.2, 0.4, 0.6, 0.8, 1] },
    { min: 1, max: 50, count: 5, minStep: 1, ticks: [0, 10, 20, 30, 40, 50] },
    { min: 1, max: 3, count: 6, minStep: 1, ticks: [1, 2, 3] },
    { min: -3, max: 7, count: 5, minStep: 0, ticks: [-4, -2, 0, 2, 4, 6, 8] },
    { min: 0.5, max: 0.5, count: 5, minStep: 0, ticks: [0.44, 0.46, 0.48, 0.5, 0.52, 0.54, 0.56] },
    { min: 120, max: 980, count: 4, minStep: 0, ticks: [0, 500, 1000] },
  ])('covers [$min, $max] on round steps', ({ min, max, count, minStep, ticks }) => {
    const got = niceTicks(min, max, count, minStep);
    expect(got).toEqual(ticks);
    expect(got[0]).toBeLessThanOrEqual(min);
    expect(got.at(-1)).toBeGreaterThanOrEqual(max);
  });

  it('gives nothing for non-finite bounds', () => {
    expect(niceTicks(Number.NaN, 1)).toEqual([]);
  });
});

describe('timeTicks', () => {
  it('ticks on whole 10 s over a minute, on whole minutes over 20 minutes', () => {
    const start = Date.UTC(2026, 0, 1, 12, 0, 3);
    expect(timeTicks(start, start + 60_000, 5).map(formatClock)).toEqual([
      '12:00:15',
      '12:00:30',
      '12:00:45',
      '12:01:00',
    ]);
    const minutes = timeTicks(start, start + 20 * 60_000, 5).map(formatClock);
    expect(minutes[0]).toBe('12:05:00');
    expect(minutes.every((t) => t.endsWith(':00'))).toBe(true);
  });
});

describe('formatTick', () => {
  it.each([
    [0, '0'],
    [0.30000000000000004, '0.3'],
    [1234.5678, '1235'],
    [0.012345, '0.01235'],
    [2_500_000, '2.5e+6'],
    [0.0001, '1.0e-4'],
  ])('%s → %s', (value, text) => expect(formatTick(value)).toBe(text));
});

describe('segmentsOf', () => {
  it('sorts by x and breaks the line at a non-finite y', () => {
    const segments = segmentsOf([
      { x: 3, y: 3 },
      { x: 1, y: 1 },
      { x: 2, y: Number.NaN },
      { x: 4, y: 4 },
    ]);
    expect(segments).toEqual([
      [{ x: 1, y: 1 }],
      [
        { x: 3, y: 3 },
        { x: 4, y: 4 },
      ],
    ]);
  });
});

describe('lineChart', () => {
  const base = {
    id: 'loss',
    title: 'Loss per epoch',
    description: 'Training and validation loss by epoch.',
    xLabel: 'Epoch',
    yLabel: 'Loss',
    xAxis: 'integer' as const,
  };

  it('draws each series with its legend entry, labelled axes and accessible names', () => {
    const svg = lineChart({
      ...base,
      series: [
        { name: 'loss', points: [1, 2, 3].map((x) => ({ x, y: 1 / x })) },
        { name: 'val_loss', points: [1, 2, 3].map((x) => ({ x, y: 1.2 / x })) },
      ],
    }).text;
    expect(svg).toMatch(/^<svg [^>]*role="img"[^>]*aria-labelledby="loss-title loss-desc"/);
    expect(svg).toContain('<title id="loss-title">Loss per epoch</title>');
    expect(svg).toContain('<desc id="loss-desc">Training and validation loss by epoch.</desc>');
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    expect(svg.match(/<circle /g)).toHaveLength(6);
    expect(svg).toContain('data-series="val_loss"');
    expect(svg).toContain('<title>loss: 0.5 at epoch 2</title>');
    expect(svg).toMatch(/<g class="chart-legend"[^>]*>.*>loss<.*>val_loss</);
    expect(svg.endsWith('</svg>')).toBe(true);
  });

  it('keeps every point inside the plot area', () => {
    const svg = lineChart({
      ...base,
      width: 400,
      height: 200,
      series: [
        {
          name: 'a',
          points: [
            { x: 1, y: -5 },
            { x: 9, y: 12 },
          ],
        },
      ],
    }).text;
    for (const [, cx, cy] of svg.matchAll(/<circle cx="([\d.-]+)" cy="([\d.-]+)"/g)) {
      expect(Number(cx)).toBeGreaterThanOrEqual(64);
      expect(Number(cx)).toBeLessThanOrEqual(400 - 16);
      expect(Number(cy)).toBeGreaterThanOrEqual(28);
      expect(Number(cy)).toBeLessThanOrEqual(200 - 44);
    }
  });

  it('says there is no data instead of drawing an empty plot', () => {
    const svg = lineChart({
      ...base,
      emptyText: 'No epoch finished yet.',
      series: [{ name: 'loss', points: [{ x: 1, y: Number.NaN }] }],
    }).text;
    expect(svg).toContain('class="chart-empty"');
    expect(svg).toContain('No epoch finished yet.');
    expect(svg).not.toContain('<circle');
  });

  it('escapes names and titles, and makes the id safe', () => {
    const svg = lineChart({
      ...base,
      id: 'a b"c',
      title: '<b>',
      series: [{ name: '<script>', points: [{ x: 1, y: 1 }] }],
    }).text;
    expect(svg).not.toContain('<script>');
    expect(svg).not.toContain('<b>');
    expect(svg).toContain('id="a-b-c"');
  });

  it('labels a time axis with clock times', () => {
    const start = Date.UTC(2026, 0, 1, 8, 0, 0);
    const svg = lineChart({
      ...base,
      xAxis: 'time',
      xLabel: 'Time',
      series: [{ name: 'rps', points: [0, 30_000, 60_000].map((d) => ({ x: start + d, y: 2 })) }],
    }).text;
    expect(svg).toContain('>08:00:30<');
    expect(svg).toContain('<title>rps: 2 at time 08:01:00</title>');
  });
});
