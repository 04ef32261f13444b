import { describe, expect, it } from 'vitest';
import {
  LiveScore,
  MINTED_REQUEST_ID,
  mintRequestId,
  parseFeedback,
  RecentRequests,
  rememberedBytes,
  scoreRows,
} from './feedback.js';
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
const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

describe('mintRequestId', () => {
  it('mints distinct IDs of the form labels must name', () => {
    const ids = new Set(Array.from({ length: 1000 }, mintRequestId));
    expect(ids.size).toBe(1000);
    for (const minted of ids) expect(minted).toMatch(MINTED_REQUEST_ID);
  });
});

describe('rememberedBytes', () => {
  it('counts the arrays exactly and the records by their keys and values', () => {
    const bare = rememberedBytes(request([1, 2, 3], 1));
    expect(bare).toBeGreaterThanOrEqual(6 * 4 + 3 * 4);
    const small = rememberedBytes({ ...request([1, 2, 3], 1), records: [{ a: 'x' }] });
    const large = rememberedBytes({ ...request([1, 2, 3], 1), records: [{ a: 'x'.repeat(1000) }] });
    expect(small).toBeGreaterThan(bare);
    expect(large - small).toBe(2 * 999);
  });
});

describe('RecentRequests', () => {
  it('forgets the oldest beyond its count', () => {
    const recent = new RecentRequests({ maxRequests: 2 });
    recent.remember('a', request([1], 1));
    recent.remember('b', request([2], 1));
    recent.remember('c', request([3], 1));
    expect(recent.find('a')).toEqual({ kind: 'unknown' });
    expect(recent.find('c')).toMatchObject({ kind: 'remembered', request: { rows: 1 } });
    expect(recent.size).toBe(2);
  });

  it('forgets the oldest beyond its bytes, and keeps nothing larger than all of them', () => {
    const one = rememberedBytes(request(new Array(100).fill(0), 100));
    const recent = new RecentRequests({ maxRequests: 100, maxBytes: 2.5 * one });
    for (const name of ['a', 'b', 'c']) {
      expect(recent.remember(name, request(new Array(100).fill(0), 100))).toBe(true);
    }
    expect(recent.size).toBe(2);
    expect(recent.find('a').kind).toBe('unknown');
    expect(recent.heldBytes).toBe(2 * one);
    expect(recent.remember('huge', request(new Array(300).fill(0), 300))).toBe(false);
    expect(recent.size).toBe(2);
  });

  it('copies outputs out of a larger batch buffer instead of keeping the batch alive', () => {
    const batch = new Float32Array(3000);
    const recent = new RecentRequests();
    recent.remember('a', { ...request([], 1), outputs: batch.subarray(3, 6) });
    const found = recent.find('a');
    if (found.kind !== 'remembered') throw new Error('not remembered');
    expect(found.request.outputs.buffer.byteLength).toBe(12);
  });

  it('refuses a second label: labelled IDs are remembered, their requests dropped', () => {
    const recent = new RecentRequests({ maxRequests: 10, maxLabelled: 2 });
    recent.remember('a', request([1], 1));
    recent.markLabelled('a');
    expect(recent.find('a')).toEqual({ kind: 'labelled' });
    expect(recent.size).toBe(0);
    expect(recent.heldBytes).toBe(0);
    recent.markLabelled('elsewhere');
    expect(recent.find('elsewhere')).toEqual({ kind: 'labelled' });
    recent.markLabelled('third');
    expect(recent.find('a')).toEqual({ kind: 'unknown' });
  });
});

describe('parseFeedback', () => {
  it('encodes labels as the training labels and stores them as the schema names them', () => {
    expect(
      parseFeedback(classification, { request_id: id(1), labels: ['virginica', 'setosa'] }),
    ).toEqual({
      requestId: id(1),
      labels: ['virginica', 'setosa'],
      encoded: [2, 0],
    });
    expect(parseFeedback(regression, { request_id: id(1), label: 3.5 })).toEqual({
      requestId: id(1),
      labels: [3.5],
      encoded: [3.5],
    });
  });

  it.each([
    ['no request_id', { labels: ['setosa'] }, '"request_id" must be the request ID'],
    [
      'a request ID the server did not mint',
      { request_id: 'abc-123', labels: ['setosa'] },
      'a UUID the server minted',
    ],
    ['no labels', { request_id: id(1) }, '"labels" must be a non-empty list'],
    [
      'both label and labels',
      { request_id: id(1), label: 'setosa', labels: ['setosa'] },
      'not both',
    ],
    [
      'an unknown field',
      { request_id: id(1), labels: ['setosa'], note: 'x' },
      'unknown field "note"; a submission has "request_id" and "labels"',
    ],
    [
      'an unknown class',
      { request_id: id(1), labels: ['setosa', 'rose'] },
      'labels[1]: "rose" is not a class of the model; its classes are "setosa", "versicolor", "virginica"',
    ],
    [
      'an object label',
      { request_id: id(1), labels: [{}] },
      'labels[0]: {} is not a class of the model',
    ],
    ['a null label', { request_id: id(1), labels: [null] }, 'labels[0]: null is not a class'],
    [
      'more labels than the limit',
      { request_id: id(1), labels: ['setosa', 'setosa', 'setosa'] },
      'the limit is 2',
    ],
  ])('refuses %s', (_name, body, message) => {
    expect(() => parseFeedback(classification, body, 2)).toThrow(BadRequestError);
    expect(() => parseFeedback(classification, body, 2)).toThrow(message);
  });

  it.each([
    ['a string', '3.5'],
    ['a class name', 'cheap'],
    ['an infinite number (1e999 in JSON)', Number.POSITIVE_INFINITY],
    ['NaN', Number.NaN],
    ['a boolean', true],
  ])('refuses %s as a regression label', (_name, label) => {
    expect(() => parseFeedback(regression, { request_id: id(1), labels: [label] })).toThrow(
      'labels[0] must be a finite number (the model predicts price, a regression)',
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
