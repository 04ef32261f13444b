import { describe, expect, it } from 'vitest';
import type { TrainingHistory } from '../../contract/results.js';
import { PROMOTION_ANNOTATION } from '../../contract/retrain-run.js';
import {
  bestColumns,
  type ComparisonQuery,
  DEFAULT_COLUMNS,
  MAX_COLUMNS,
  modelComparisonView,
  parseComparisonQuery,
  STAGE_HISTORY_LIMIT,
  sortedMetricNames,
  stageHistory,
} from './comparison.js';
import { modelVersionFixture as mv } from './testdata.js';

const noQuery: ComparisonQuery = { versions: undefined, differencesOnly: false, metric: undefined };
const view = (
  versions: ReturnType<typeof mv>[],
  query: Partial<ComparisonQuery> = {},
  histories = new Map<string, TrainingHistory | undefined>(),
) =>
  modelComparisonView({
    namespace: 'team-a',
    model: 'iris',
    versions,
    histories,
    query: { ...noQuery, ...query },
  });

describe('parseComparisonQuery', () => {
  it.each([
    ['', { versions: undefined, differencesOnly: false, metric: undefined }],
    ['v=3&v=1&v=3', { versions: [1, 3], differencesOnly: false, metric: undefined }],
    ['v=2,5&diff=1&metric=f1', { versions: [2, 5], differencesOnly: true, metric: 'f1' }],
    ['v=x&v=0&v=-1&diff=yes', { versions: undefined, differencesOnly: false, metric: undefined }],
    ['metric=%3Cscript%3E', { versions: undefined, differencesOnly: false, metric: undefined }],
  ])('?%s', (query, expected) => {
    expect(parseComparisonQuery(new URLSearchParams(query))).toEqual(expected);
  });
});

describe('modelComparisonView', () => {
  it('shows the newest versions by default, oldest first, and lists every version', () => {
    const all = Array.from({ length: 9 }, (_, i) => mv(i + 1));
    const v = view(all);
    expect(v.columns.map((c) => c.version)).toEqual([4, 5, 6, 7, 8, 9]);
    expect(v.columns).toHaveLength(DEFAULT_COLUMNS);
    expect(v.allVersions.map((a) => [a.version, a.shown])).toEqual([
      [9, true],
      [8, true],
      [7, true],
      [6, true],
      [5, true],
      [4, true],
      [3, false],
      [2, false],
      [1, false],
    ]);
  });

  it('shows the versions asked for, and says which do not exist or are too many', () => {
    const all = Array.from({ length: 20 }, (_, i) => mv(i + 1));
    const asked = [...Array.from({ length: 14 }, (_, i) => i + 1), 40];
    const v = view(all, { versions: asked });
    expect(v.columns).toHaveLength(MAX_COLUMNS);
    expect(v.notShown).toEqual({ missing: [40], overLimit: [13, 14] });
  });

  it('puts metrics side by side as in spec.metrics, marking the best per metric', () => {
    const v = view([
      mv(1, { metrics: { accuracy: 0.9, loss: 0.31 } }),
      mv(2, { metrics: { accuracy: 0.9666666666666667, loss: 0.2, f1: 0.95 } }),
      mv(3, { metrics: { accuracy: 0.8, loss: 0.5 } }),
    ]);
    expect(v.metrics.map((m) => m.metric)).toEqual(['accuracy', 'f1', 'loss']);
    expect(v.metrics[0]).toMatchObject({ values: [0.9, 0.9666666666666667, 0.8], best: [1] });
    expect(v.metrics[1]).toMatchObject({ values: [undefined, 0.95, undefined], best: [] });
    expect(v.metrics[2]).toMatchObject({
      values: [0.31, 0.2, 0.5],
      best: [1],
      lowerIsBetter: true,
    });
  });

  it('marks differing hyperparameters, and hides the same ones when asked', () => {
    const versions = [
      mv(1, { hyperparameters: { epochs: '20', learningRate: '0.01', seed: '1' } }),
      mv(2, { hyperparameters: { epochs: '20', learningRate: '0.001' } }),
    ];
    const all = view(versions);
    expect(all.hyperparameters.map((h) => [h.name, h.differs])).toEqual([
      ['epochs', false],
      ['learningRate', true],
      ['seed', true],
    ]);
    expect(all.sameHyperparameters).toBe(0);
    const diff = view(versions, { differencesOnly: true });
    expect(diff.hyperparameters.map((h) => h.name)).toEqual(['learningRate', 'seed']);
    expect(diff.hyperparameters[1]!.values).toEqual(['1', undefined]);
    expect(diff.sameHyperparameters).toBe(1);
  });

  it('lists the newest stage-history events only', () => {
    const all = Array.from({ length: 60 }, (_, i) => {
      const minute = String(i).padStart(2, '0');
      return mv(i + 1, {
        created: `2026-12-01T10:${minute}:00Z`,
        stage: 'archived',
        status: { stage: 'archived', stageTransitionTime: `2026-12-02T10:${minute}:00Z` },
      });
    });
    const v = view(all);
    expect(v.stageEvents).toBe(120);
    expect(v.stageHistory).toHaveLength(STAGE_HISTORY_LIMIT);
    expect(v.stageHistory[0]).toMatchObject({ version: 60, kind: 'Stage' });
  });

  it('charts the chosen metric across every version, not only the shown ones', () => {
    const all = Array.from({ length: 8 }, (_, i) =>
      mv(i + 1, { metrics: { accuracy: 0.5 + i / 20, rmse: i } }),
    );
    expect(view(all).chart.points).toHaveLength(8);
    expect(view(all).chart.metric).toBe('accuracy');
    const rmse = view(all, { metric: 'rmse' }).chart;
    expect(rmse.metric).toBe('rmse');
    expect(rmse.points[0]).toEqual({ x: 1, y: 0 });
    expect(view(all, { metric: 'nope' }).chart.metric).toBe('accuracy');
  });

  it('summarises the final and best epochs from the run’s history, by TrainingJob', () => {
    const histories = new Map<string, TrainingHistory | undefined>([
      [
        'iris-run-1',
        {
          epochs: [
            { epoch: 1, loss: 0.5, metrics: {} },
            { epoch: 2, loss: 0.6, metrics: {} },
          ],
        },
      ],
      ['iris-run-2', undefined],
    ]);
    const v = view([mv(1), mv(2)], {}, histories);
    expect(v.columns[0]!.epochs).toMatchObject({
      epochs: 2,
      best: { epoch: 1 },
      final: { epoch: 2 },
    });
    expect(v.columns[1]!.epochs).toBeUndefined();
    expect(v.columns[0]!.trainingJob).toBe('iris-run-1');
    expect(v.columns[0]!.dataset).toEqual({ name: 'iris', version: '000000000001' });
  });

  it('lines importance and group metrics up by column and group', () => {
    const fairness = (acc: number) => ({
      verdict: 'Passed' as const,
      message: 'ok',
      groups: [
        { scope: 'sex', group: 'sex=female', count: 20, judged: true, accuracy: acc },
        { scope: 'sex', group: 'sex=male', count: 3, judged: false },
      ],
    });
    const v = view([
      mv(1, {
        status: {
          importance: {
            method: 'permutation',
            score: 'accuracy',
            columns: [{ column: 'petal', mean: 0.3, std: 0.01 }],
          },
          fairness: fairness(0.9),
        },
      }),
      mv(2, {
        status: {
          importance: {
            method: 'permutation',
            score: 'accuracy',
            columns: [
              { column: 'sepal', mean: 0.4, std: 0.02 },
              { column: 'petal', mean: 0.1, std: 0.01 },
            ],
          },
        },
      }),
    ]);
    expect(v.importance.map((r) => r.column)).toEqual(['sepal', 'petal']);
    expect(v.importance[1]!.values).toEqual([
      { mean: 0.3, std: 0.01 },
      { mean: 0.1, std: 0.01 },
    ]);
    expect(v.importance[0]!.values[0]).toBeUndefined();
    expect(v.fairness).toEqual([{ verdict: 'Passed', message: 'ok' }, undefined]);
    expect(v.groups.map((g) => g.group)).toEqual(['sex=female', 'sex=male']);
    expect(v.groups[0]!.values[0]).toEqual({
      count: 20,
      judged: true,
      metrics: [['accuracy', 0.9]],
    });
    expect(v.groups[1]!.values[0]).toEqual({ count: 3, judged: false, metrics: [] });
  });
});

describe('stageHistory', () => {
  it('orders registrations, stages and promotion decisions newest first', () => {
    const decision = {
      time: '2026-12-03T11:00:00Z',
      decision: 'Promoted',
      metric: 'accuracy',
      challenger: { modelVersion: 'iris-v2', value: 0.97 },
      champion: { modelVersion: 'iris-v1', value: 0.9 },
      reason: 'accuracy 0.97 beats 0.9',
      policy: 'nightly',
    };
    const events = stageHistory([
      mv(1, {
        created: '2026-12-01T10:00:00Z',
        stage: 'archived',
        status: { stage: 'archived', stageTransitionTime: '2026-12-03T11:00:01Z' },
      }),
      mv(2, {
        created: '2026-12-03T10:00:00Z',
        stage: 'production',
        status: { stage: 'production', stageTransitionTime: '2026-12-03T11:00:00Z' },
        annotations: { [PROMOTION_ANNOTATION]: JSON.stringify(decision) },
      }),
      mv(3, {
        created: '2026-12-04T10:00:00Z',
        annotations: { [PROMOTION_ANNOTATION]: '{not json' },
      }),
    ]);
    expect(events.map((e) => `${e.modelVersion} ${e.kind}`)).toEqual([
      'iris-v3 Registered',
      'iris-v1 Stage',
      'iris-v2 Promoted',
      'iris-v2 Stage',
      'iris-v2 Registered',
      'iris-v1 Registered',
    ]);
    expect(events[2]!.text).toBe(
      'Promoted by RetrainPolicy nightly: accuracy 0.97 against iris-v1 (0.9); accuracy 0.97 beats 0.9',
    );
    expect(events[1]!.text).toBe('archived since then');
  });
});

describe('helpers', () => {
  it.each([
    [[0.9, 0.95, 0.95], false, [1, 2]],
    [[0.3, 0.2, undefined], true, [1]],
    [[0.9, undefined], false, []],
    [[Number.NaN, 0.5, 0.4], false, [1]],
  ])('bestColumns(%j, lower=%s) = %j', (values, lower, best) => {
    expect(bestColumns(values, lower)).toEqual(best);
  });

  it('sorts the usual metrics first', () => {
    expect(sortedMetricNames(['zeta', 'loss', 'accuracy', 'alpha', 'accuracy'])).toEqual([
      'accuracy',
      'loss',
      'alpha',
      'zeta',
    ]);
  });
});
