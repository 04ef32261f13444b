import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  bucketIncrease,
  histogramBuckets,
  histogramQuantile,
  parsePrometheusText,
  sumOf,
} from './prometheus-text.js';

describe('parsePrometheusText', () => {
  it.each([
    ['plain', 'up 1', { name: 'up', labels: {}, value: 1 }],
    [
      'labels and a timestamp',
      'http_requests_total{method="post",code="200"} 1027 1395066363000',
      { name: 'http_requests_total', labels: { method: 'post', code: '200' }, value: 1027 },
    ],
    [
      'escapes in a label value',
      'msg{text="a \\"quoted\\" \\\\ line\\nnext",} 2',
      { name: 'msg', labels: { text: 'a "quoted" \\ line\nnext' }, value: 2 },
    ],
    ['exponent', 'x 1.5e-3', { name: 'x', labels: {}, value: 0.0015 }],
    ['+Inf', 'x{le="+Inf"} +Inf', { name: 'x', labels: { le: '+Inf' }, value: Infinity }],
    ['-Inf', 'x -Inf', { name: 'x', labels: {}, value: -Infinity }],
  ])('reads %s', (_case, line, sample) => {
    expect(parsePrometheusText(`# HELP x what\n# TYPE x counter\n\n${line}\n`)).toEqual([sample]);
  });

  it.each(['NaN', 'Nan', 'nan'])('reads %s, as Go’s ParseFloat does', (text) => {
    expect(parsePrometheusText(`x ${text}`)[0]!.value).toBeNaN();
  });

  it.each([
    ['no value', 'up'],
    ['a word for a value', 'up one'],
    ['an unterminated label', 'up{a="b} 1'],
    ['a label without quotes', 'up{a=b} 1'],
    ['a bad name', '9up 1'],
  ])('refuses %s, naming the line', (_case, line) => {
    expect(() => parsePrometheusText(`ok 1\n${line}`)).toThrow(
      `metrics line 2 is not a Prometheus sample: ${line}`,
    );
  });

  it('reads what prom-client writes, the inference server’s library', async () => {
    const registry = new Registry();
    const requests = new Counter({
      name: 'lathe_inference_requests_total',
      help: 'h',
      labelNames: ['model', 'code'],
      registers: [registry],
    });
    const latency = new Histogram({
      name: 'lathe_inference_request_duration_seconds',
      help: 'h',
      labelNames: ['model'],
      buckets: [0.01, 0.1, 1],
      registers: [registry],
    });
    requests.inc({ model: 'iris', code: '200' }, 7);
    requests.inc({ model: 'iris', code: '500' }, 1);
    for (const s of [0.005, 0.05, 0.05, 0.5]) latency.observe({ model: 'iris' }, s);
    const samples = parsePrometheusText(await registry.metrics());
    expect(sumOf(samples, 'lathe_inference_requests_total')).toBe(8);
    expect(sumOf(samples, 'lathe_inference_requests_total', (l) => l.code!.startsWith('5'))).toBe(
      1,
    );
    expect(histogramBuckets(samples, 'lathe_inference_request_duration_seconds')).toEqual([
      { le: 0.01, count: 1 },
      { le: 0.1, count: 3 },
      { le: 1, count: 4 },
      { le: Infinity, count: 4 },
    ]);
  });
});

describe('histogramBuckets', () => {
  it('sums buckets of every label set by le', () => {
    const samples = parsePrometheusText(
      [
        'h_bucket{pod="a",le="1"} 2',
        'h_bucket{pod="b",le="1"} 3',
        'h_bucket{pod="a",le="+Inf"} 4',
        'h_bucket{pod="b",le="+Inf"} 5',
        'h_count 9',
      ].join('\n'),
    );
    expect(histogramBuckets(samples, 'h')).toEqual([
      { le: 1, count: 5 },
      { le: Infinity, count: 9 },
    ]);
  });
});

describe('histogramQuantile', () => {
  const buckets = [
    { le: 0.1, count: 50 },
    { le: 0.2, count: 90 },
    { le: 0.5, count: 100 },
    { le: Infinity, count: 100 },
  ];
  it.each([
    [0.5, 0.1],
    [0.25, 0.05],
    [0.7, 0.15],
    [0.95, 0.35],
    [1, 0.5],
  ])('q=%s is %s, as Prometheus interpolates', (q, expected) => {
    expect(histogramQuantile(q, buckets)).toBeCloseTo(expected, 10);
  });

  it('gives the largest finite bound for a rank in the +Inf bucket', () => {
    expect(
      histogramQuantile(0.99, [
        { le: 1, count: 1 },
        { le: Infinity, count: 10 },
      ]),
    ).toBe(1);
  });

  it.each([
    [
      'nothing observed',
      [
        { le: 1, count: 0 },
        { le: Infinity, count: 0 },
      ],
    ],
    ['no +Inf bucket', [{ le: 1, count: 3 }]],
    ['no buckets', []],
  ])('is undefined with %s', (_case, b) => {
    expect(histogramQuantile(0.5, b)).toBeUndefined();
  });

  it('refuses a quantile outside [0, 1]', () => {
    expect(() => histogramQuantile(95, buckets)).toThrow('quantile 95 is not within [0, 1]');
  });
});

describe('bucketIncrease', () => {
  it('subtracts the earlier reading per bucket, never below zero', () => {
    expect(
      bucketIncrease(
        [
          { le: 1, count: 2 },
          { le: Infinity, count: 5 },
        ],
        [
          { le: 1, count: 4 },
          { le: 2, count: 1 },
          { le: Infinity, count: 4 },
        ],
      ),
    ).toEqual([
      { le: 1, count: 2 },
      { le: 2, count: 1 },
      { le: Infinity, count: 0 },
    ]);
  });
});
