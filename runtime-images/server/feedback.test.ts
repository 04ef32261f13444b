import { describe, expect, it } from 'vitest';
import { LiveScore, parseFeedback, RecentRequests, scoreRows } from './feedback.js';
import { fixtureSchema } from './fixture.js';
import { BadRequestError } from './rows.js';

const classification = fixtureSchema('classification');
const regression = fixtureSchema('regression');
const request = (outputs: number[], rows: number) => ({
  rows,
  features: new Float32Array(rows * 6),
  outputs: Float32Array.from(outputs),
  records: new Array(rows).fill(null),
});

describe('RecentRequests', () => {
  it('forgets the oldest beyond its capacity', () => {
    const recent = new RecentRequests(2);
    recent.remember('a', request([1], 1));
    recent.remember('b', request([2], 1));
    recent.remember('c', request([3], 1));
    expect(recent.get('a')).toBeUndefined();
    expect(recent.get('c')?.outputs[0]).toBe(3);
    expect(recent.size).toBe(2);
  });
});

describe('parseFeedback', () => {
  it('encodes labels as the training labels', () => {
    expect(
      parseFeedback(classification, { request_id: 'r', labels: ['virginica', 'setosa'] }),
    ).toEqual({
      requestId: 'r',
      labels: ['virginica', 'setosa'],
      encoded: [2, 0],
    });
    expect(parseFeedback(regression, { request_id: 'r', label: '3.5' }).encoded).toEqual([3.5]);
  });

  it.each([
    ['no request_id', { labels: ['setosa'] }, '"request_id" must be the request ID'],
    ['no labels', { request_id: 'r' }, '"labels" must be a non-empty list'],
    [
      'an unknown class',
      { request_id: 'r', labels: ['setosa', 'rose'] },
      'labels[1]: label species: "rose" is not a known class',
    ],
    [
      'an object label',
      { request_id: 'r', labels: [{}] },
      'labels[0] must be a string, number or boolean',
    ],
  ])('refuses %s', (_name, body, message) => {
    expect(() => parseFeedback(classification, body)).toThrow(BadRequestError);
    expect(() => parseFeedback(classification, body)).toThrow(message);
  });

  it('refuses a non-numeric regression label', () => {
    expect(() => parseFeedback(regression, { request_id: 'r', labels: ['cheap'] })).toThrow(
      'labels[0]: column price: "cheap" is not a number',
    );
  });
});

describe('scoreRows', () => {
  it('scores classification rows by the arg-max class', () => {
    const remembered = request([0.7, 0.2, 0.1, 0.1, 0.1, 0.8], 2);
    expect(scoreRows(classification, 3, remembered, [0, 0])).toEqual([1, 0]);
  });

  it('scores regression rows by absolute error', () => {
    expect(scoreRows(regression, 1, request([2, 5], 2), [3, 5])).toEqual([1, 0]);
  });
});

describe('LiveScore', () => {
  it('averages the most recent window of rows', () => {
    const score = new LiveScore(3);
    expect(score.mean).toBeUndefined();
    for (const v of [1, 1, 1]) score.add(v);
    expect(score.mean).toBe(1);
    score.add(0);
    score.add(0);
    expect(score.mean).toBeCloseTo(1 / 3);
    expect(score.rows).toBe(3);
  });
});
