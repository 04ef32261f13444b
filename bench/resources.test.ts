import { describe, expect, it } from 'vitest';
import { apiRequestCounts, countsSince, cpuPerObjectMs, limitOf, linearFit } from './resources.js';

describe('apiRequestCounts', () => {
  it('sums requests by verb, resource and code, and counts the growth', () => {
    const line = (verb: string, resource: string, sub: string, code: string, n: number) =>
      `apiserver_request_total{code="${code}",component="apiserver",dry_run="",group="lathe.dev",resource="${resource}",scope="resource",subresource="${sub}",verb="${verb}",version="v1alpha1"} ${n}`;
    const before = apiRequestCounts(
      [
        '# TYPE apiserver_request_total counter',
        line('APPLY', 'modelversions', 'status', '200', 5),
        'apiserver_request_total{code="200",component="",dry_run="",group="",resource="",scope="",subresource="/healthz",verb="GET",version=""} 9',
      ].join('\n'),
    );
    const after = apiRequestCounts(
      [
        line('APPLY', 'modelversions', 'status', '200', 15),
        line('POST', 'events', '', '201', 10),
      ].join('\n'),
    );
    expect(before).toEqual(new Map([['APPLY modelversions/status 200', 5]]));
    expect(countsSince(before, after)).toEqual([
      ['APPLY modelversions/status 200', 10],
      ['POST events 201', 10],
    ]);
  });
});

describe('linearFit', () => {
  it('finds the slope and intercept of points on a line', () => {
    const fit = linearFit([
      { x: 0, y: 100 },
      { x: 1000, y: 102 },
      { x: 10_000, y: 120 },
    ]);
    expect(fit.slope).toBeCloseTo(0.002, 6);
    expect(fit.intercept).toBeCloseTo(100, 6);
  });

  it('is undefined (NaN) for fewer than two points or one x', () => {
    expect(linearFit([{ x: 1, y: 1 }]).slope).toBeNaN();
    expect(
      linearFit([
        { x: 1, y: 1 },
        { x: 1, y: 2 },
      ]).slope,
    ).toBeNaN();
  });
});

describe('limitOf', () => {
  const cpu = {
    apiServer: 0.3,
    etcd: 0.1,
    operator: 0.2,
    client: 0.1,
    machine: 0.8,
    cores: 2,
    singleThreaded: true,
  };

  it.each([
    {
      what: 'a saturated machine, mostly API server',
      change: { apiServer: 1.2, machine: 1.9 },
      expected: /^the API server \(with etcd\), on a saturated machine/,
    },
    {
      what: 'a saturated machine, mostly operator',
      change: { operator: 1.1, machine: 1.9 },
      expected: /^the operator, on a saturated machine/,
    },
    {
      what: 'a Node.js operator at one core',
      change: { operator: 0.95 },
      expected: /^the operator, its one thread saturated/,
    },
    {
      what: 'a Go operator at one core of two',
      change: { operator: 0.95, singleThreaded: false },
      expected: /^neither side saturated/,
    },
    {
      what: 'a machine saturated by others',
      change: { machine: 1.95 },
      expected: /^the other processes on the machine, on a saturated machine/,
    },
    {
      what: 'a machine saturated by the load generator',
      change: { client: 1.0, machine: 1.9 },
      expected: /^the benchmark client, on a saturated machine/,
    },
    { what: 'nothing busy', change: {}, expected: /^neither side saturated/ },
  ])('names $what', ({ change, expected }) => {
    const verdict = limitOf({ ...cpu, ...change });
    expect(verdict).toMatch(expected);
    expect(verdict).toContain('cores');
  });
});

describe('cpuPerObjectMs', () => {
  const cpu = {
    apiServer: 1,
    etcd: 0.25,
    operator: 0.5,
    client: 0.1,
    machine: 2,
    cores: 2,
    singleThreaded: true,
  };
  it.each([
    [
      'cores × seconds / objects',
      { wallSeconds: 10 },
      1000,
      { operator: 5, apiServer: 10, etcd: 2.5 },
    ],
    [
      'no length: unknown',
      {},
      1000,
      { operator: Number.NaN, apiServer: Number.NaN, etcd: Number.NaN },
    ],
    [
      'no objects: unknown',
      { wallSeconds: 10 },
      0,
      { operator: Number.NaN, apiServer: Number.NaN, etcd: Number.NaN },
    ],
  ])('%s', (_what, extra, objects, expected) => {
    expect(cpuPerObjectMs({ ...cpu, ...extra }, objects)).toEqual(expected);
  });
});
