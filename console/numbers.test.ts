import { describe, expect, it } from 'vitest';
import {
  formatMetric,
  formatMilliseconds,
  formatPercent,
  lowerIsBetter,
  valueAttribute,
} from './numbers.js';

describe('formatMetric', () => {
  it.each([
    [0.9666666666666667, '0.9667'],
    [1, '1'],
    [0, '0'],
    [-0.00001, '-1.00e-5'],
    [-0.00004, '-4.00e-5'],
    [0.5, '0.5'],
    [12.3456789, '12.3457'],
    [123456.789, '123456.79'],
    [-0.00000000001, '-1.00e-11'],
    [-0.000049999, '-5.00e-5'],
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, '∞'],
    [undefined, '—'],
  ])('%s → %s', (value, text) => expect(formatMetric(value)).toBe(text));

  it('never prints -0', () => expect(formatMetric(-0.0)).toBe('0'));
});

describe('formatPercent and formatMilliseconds', () => {
  it.each([
    [0.0512, '5.1%'],
    [1, '100%'],
    [0, '0%'],
    [undefined, '—'],
  ])('percent %s → %s', (share, text) => expect(formatPercent(share)).toBe(text));

  it.each([
    [0.01234, '12.3 ms'],
    [0.0001, '0.1 ms'],
    [2.5, '2500 ms'],
    [undefined, '—'],
  ])('milliseconds %s → %s', (seconds, text) => expect(formatMilliseconds(seconds)).toBe(text));
});

describe('valueAttribute', () => {
  it('keeps the exact number, and nothing for an absent one', () => {
    expect(valueAttribute(0.9666666666666667).text).toBe(' data-value="0.9666666666666667"');
    expect(valueAttribute(undefined).text).toBe('');
  });
});

describe('lowerIsBetter', () => {
  it.each([
    ['loss', true],
    ['valLoss', true],
    ['rmse', true],
    ['mae', true],
    ['meanAbsoluteError', true],
    ['accuracy', false],
    ['rocAuc', false],
    ['r2', false],
    ['f1', false],
  ])('%s → %s', (name, lower) => expect(lowerIsBetter(name)).toBe(lower));
});
