import { describe, expect, it } from 'vitest';
import {
  decideReplicas,
  type LoadSample,
  loadBetween,
  parseLoadSample,
  type Recommendation,
  recommendReplicas,
  type ScaleInput,
  scrapeDue,
  stabilisedReplicas,
  totalLoad,
} from './autoscale.js';

describe('recommendReplicas', () => {
  it.each([
    { load: 0, target: 1, min: 1, max: 5, want: 1, why: 'no load: the floor' },
    { load: 0, target: 1, min: 0, max: 5, want: 0, why: 'no load, floor 0: none' },
    { load: 2, target: 1, min: 1, max: 5, want: 2, why: 'exactly two targets' },
    { load: 2.1, target: 1, min: 1, max: 5, want: 3, why: 'a little over: one more' },
    { load: 3.0000000001, target: 1, min: 1, max: 5, want: 3, why: 'float noise is not a replica' },
    { load: 30, target: 4, min: 1, max: 5, want: 5, why: 'capped at max' },
    { load: 1, target: 10, min: 2, max: 5, want: 2, why: 'raised to min' },
    { load: -1, target: 1, min: 1, max: 5, want: 1, why: 'negative load (clock skew): the floor' },
  ])(
    '$load at $target per replica in [$min, $max] → $want ($why)',
    ({ load, target, min, max, want }) => {
      expect(recommendReplicas(load, target, min, max)).toBe(want);
    },
  );
});

describe('stabilisedReplicas', () => {
  const rec = (atMs: number, replicas: number): Recommendation => ({ atMs, replicas });
  it.each<{ why: string; current: number; history: Recommendation[]; want: number }>([
    { why: 'no recommendation: hold', current: 3, history: [], want: 3 },
    { why: 'up: at once', current: 2, history: [rec(0, 1), rec(90, 4)], want: 4 },
    { why: 'same: hold', current: 2, history: [rec(90, 2)], want: 2 },
    {
      why: 'down: to the highest of the window',
      current: 4,
      history: [rec(50, 3), rec(70, 2), rec(100, 1)],
      want: 3,
    },
    {
      why: 'down: recommendations older than the window do not count',
      current: 4,
      history: [rec(10, 4), rec(60, 2), rec(100, 1)],
      want: 2,
    },
    {
      why: 'down: never above what runs',
      current: 3,
      history: [rec(60, 5), rec(100, 1)],
      want: 3,
    },
  ])('$why', ({ current, history, want }) => {
    expect(stabilisedReplicas(current, history, 100, 50)).toBe(want);
  });
});

describe('parseLoadSample', () => {
  it.each([
    {
      why: 'both counters, summed over label sets',
      text: [
        '# HELP lathe_inference_request_duration_seconds Request duration.',
        '# TYPE lathe_inference_request_duration_seconds histogram',
        'lathe_inference_request_duration_seconds_bucket{le="0.1"} 4',
        'lathe_inference_request_duration_seconds_count{protocol="v1"} 10',
        'lathe_inference_request_duration_seconds_sum{protocol="v1"} 1.5',
        'lathe_inference_request_duration_seconds_count{protocol="v2"} 5',
        'lathe_inference_request_duration_seconds_sum{protocol="v2"} 0.5',
      ].join('\n'),
      want: { atMs: 7, count: 15, sum: 2 },
    },
    {
      why: 'without labels',
      text: 'lathe_inference_request_duration_seconds_count 3\nlathe_inference_request_duration_seconds_sum 0.25',
      want: { atMs: 7, count: 3, sum: 0.25 },
    },
    {
      why: 'a value that is not a number is skipped',
      text: 'lathe_inference_request_duration_seconds_count NaN\nlathe_inference_request_duration_seconds_sum 1',
      want: { atMs: 7, count: 0, sum: 1 },
    },
    { why: 'no counters: no sample', text: 'process_cpu_seconds_total 12\n', want: undefined },
    {
      why: 'another metric with the same prefix is not read',
      text: 'lathe_inference_requests_in_flight 3\n',
      want: undefined,
    },
  ])('$why', ({ text, want }) => {
    expect(parseLoadSample(text, 7)).toEqual(want);
  });
});

describe('loadBetween', () => {
  const at = (atMs: number, count: number, sum: number): LoadSample => ({ atMs, count, sum });
  it.each([
    {
      why: 'rates over the interval',
      before: at(0, 10, 1),
      after: at(2000, 30, 5),
      want: { requestsPerSecond: 10, concurrency: 2 },
    },
    {
      why: 'idle',
      before: at(0, 10, 1),
      after: at(5000, 10, 1),
      want: { requestsPerSecond: 0, concurrency: 0 },
    },
    {
      why: 'counters reset (restart)',
      before: at(0, 10, 1),
      after: at(1000, 2, 0.1),
      want: undefined,
    },
    { why: 'no time passed', before: at(1000, 1, 1), after: at(1000, 2, 2), want: undefined },
    { why: 'clock went back', before: at(2000, 1, 1), after: at(1000, 2, 2), want: undefined },
  ])('$why', ({ before, after, want }) => {
    expect(loadBetween(before, after)).toEqual(want);
  });
});

describe('load from two scrapes', () => {
  it('measures requests per second and concurrency from two samples of the counters', () => {
    const text = (count: number, sum: number) =>
      [
        '# TYPE lathe_inference_request_duration_seconds histogram',
        `lathe_inference_request_duration_seconds_sum{model="m",version="1",protocol="v1"} ${sum}`,
        `lathe_inference_request_duration_seconds_count{model="m",version="1",protocol="v1"} ${count}`,
        `lathe_inference_request_duration_seconds_sum{model="m",version="1",protocol="v2"} ${sum}`,
        `lathe_inference_request_duration_seconds_count{model="m",version="1",protocol="v2"} ${count}`,
      ].join('\n');
    const a = parseLoadSample(text(100, 1), 0)!;
    const b = parseLoadSample(text(600, 6), 5_000)!;
    expect(loadBetween(a, b)).toEqual({ requestsPerSecond: 200, concurrency: 2 });
    expect(loadBetween(b, a)).toBeUndefined();
    expect(parseLoadSample('other_metric 1', 0)).toBeUndefined();
  });
});

describe('totalLoad', () => {
  it.each([
    { why: 'nothing measured', loads: [undefined, undefined], want: undefined },
    {
      why: 'sums the pods measured, counts every ready pod',
      loads: [
        { requestsPerSecond: 3, concurrency: 0.5 },
        undefined,
        { requestsPerSecond: 1, concurrency: 1 },
      ],
      want: { requestsPerSecond: 4, concurrency: 1.5, replicas: 3 },
    },
  ])('$why', ({ loads, want }) => {
    expect(totalLoad(loads, loads.length)).toEqual(want);
  });
});

describe('scrapeDue', () => {
  it.each([
    { why: 'never read', last: undefined, nowMs: 0, want: true },
    { why: 'read just now', last: { atMs: 1000, count: 0, sum: 0 }, nowMs: 1500, want: false },
    { why: 'read a spacing ago', last: { atMs: 1000, count: 0, sum: 0 }, nowMs: 3500, want: true },
  ])('$why', ({ last, nowMs, want }) => {
    expect(scrapeDue(last, nowMs, 2500)).toBe(want);
  });
});

describe('decideReplicas', () => {
  const base: ScaleInput = {
    current: 2,
    load: { requestsPerSecond: 10, concurrency: 2, replicas: 2 },
    metric: 'concurrency',
    target: 1,
    min: 1,
    max: 5,
    windowMs: 60_000,
    nowMs: 1_000_000,
    history: [],
    observingSinceMs: 0,
  };
  const ago = (ms: number, replicas: number): Recommendation => ({
    atMs: 1_000_000 - ms,
    replicas,
  });
  it.each<{ why: string; input: Partial<ScaleInput>; replicas: number; history: number[] }>([
    { why: 'concurrency 2 at target 1: 2', input: {}, replicas: 2, history: [2] },
    {
      why: 'rps 10 at target 4: 3',
      input: { metric: 'rps', target: 4 },
      replicas: 3,
      history: [3],
    },
    {
      why: 'up at once',
      input: { load: { requestsPerSecond: 0, concurrency: 4.5, replicas: 2 } },
      replicas: 5,
      history: [5],
    },
    {
      why: 'down to the highest recommendation of the window',
      input: { current: 4, history: [ago(90_000, 5), ago(30_000, 3)] },
      replicas: 3,
      history: [3, 2],
    },
    {
      why: 'down only after watching a whole window (a restarted operator)',
      input: { current: 4, observingSinceMs: 1_000_000 - 10_000 },
      replicas: 4,
      history: [2],
    },
    {
      why: 'up even while watching less than a window',
      input: { current: 1, observingSinceMs: 1_000_000 - 10_000 },
      replicas: 2,
      history: [2],
    },
    {
      why: 'no measurement: hold what runs',
      input: { load: undefined, current: 3, history: [ago(10_000, 1)] },
      replicas: 3,
      history: [1],
    },
    {
      why: 'no measurement, below the new floor: the floor',
      input: { load: undefined, current: 1, min: 2 },
      replicas: 2,
      history: [],
    },
    {
      why: 'no measurement, above the new ceiling: the ceiling',
      input: { load: undefined, current: 6 },
      replicas: 5,
      history: [],
    },
    {
      why: 'a lowered ceiling applies at once, whatever the window holds',
      input: { current: 5, max: 3, history: [ago(10_000, 5)] },
      replicas: 3,
      history: [5, 2],
    },
    {
      why: 'cpu: only the HPA reads it; hold',
      input: { metric: 'cpu', current: 3 },
      replicas: 3,
      history: [],
    },
  ])('$why', ({ input, replicas, history }) => {
    const decision = decideReplicas({ ...base, ...input });
    expect(decision.replicas).toBe(replicas);
    expect(decision.history.map((r) => r.replicas)).toEqual(history);
  });
});
