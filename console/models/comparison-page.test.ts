import { describe, expect, it } from 'vitest';
import type { TrainingHistory } from '../../contract/results.js';
import { type ComparisonQuery, modelComparisonView } from './comparison.js';
import { renderModelComparison } from './comparison-page.js';
import { modelVersionFixture as mv } from './testdata.js';

const render = (
  versions: ReturnType<typeof mv>[],
  query: Partial<ComparisonQuery> = {},
  histories = new Map<string, TrainingHistory | undefined>(),
) =>
  renderModelComparison(
    modelComparisonView({
      namespace: 'team-a',
      model: 'iris',
      versions,
      histories,
      query: { versions: undefined, differencesOnly: false, metric: undefined, ...query },
    }),
  ).text;

/** The cell of `version` in the row whose `<tr>` has `rowAttr`. */
function cell(page: string, rowAttr: string, version: number): string | undefined {
  const row = new RegExp(`<tr ${rowAttr}[^>]*>(.*?)</tr>`, 's').exec(page)?.[1];
  return row
    ? new RegExp(`<td data-version="${version}"[^>]*>(.*?)</td>`, 's').exec(row)?.[0]
    : undefined;
}

describe('renderModelComparison', () => {
  const versions = [
    mv(1, {
      metrics: { accuracy: 0.9, loss: 0.31 },
      hyperparameters: { epochs: '20', learningRate: '0.01' },
    }),
    mv(2, {
      metrics: { accuracy: 0.9666666666666667, loss: 0.2 },
      hyperparameters: { epochs: '20', learningRate: '0.001' },
      stage: 'production',
      status: { stage: 'production', stageTransitionTime: '2026-12-02T11:00:00Z' },
    }),
  ];

  it('shows each metric as spec.metrics has it, exact in data-value, with the best marked', () => {
    const page = render(versions);
    expect(page).toContain(
      '<td data-version="2" data-metric="accuracy" data-value="0.9666666666666667" class="best">0.9667 ★</td>',
    );
    expect(page).toContain('<td data-version="1" data-metric="loss" data-value="0.31">0.31</td>');
    expect(cell(page, 'data-field="stage"', 2)).toContain('data-stage="production"');
  });

  it('links each version to the TrainingJob that made it', () => {
    expect(cell(render(versions), 'data-field="trainingjob"', 1)).toContain(
      '<a href="/training/team-a/iris-run-1" data-trainingjob="iris-run-1">',
    );
    expect(render(versions)).toContain(
      '<a href="/objects/modelversions/team-a/iris-v1">iris-v1</a>',
    );
  });

  it('toggles differences only with a link that keeps the chosen versions', () => {
    const all = render(versions, { versions: [1, 2] });
    expect(all).toContain(
      '<a href="/models/team-a/iris?v=1%2C2&amp;diff=1" id="show-differences">',
    );
    expect(all).toContain('data-hyperparameter="epochs"');
    const diff = render(versions, { versions: [1, 2], differencesOnly: true });
    expect(diff).not.toContain('data-hyperparameter="epochs"');
    expect(diff).toContain('<tr data-hyperparameter="learningRate" class="differs">');
    expect(diff).toContain('1 equal hidden');
    expect(diff).toContain('<input type="hidden" name="diff" value="1">');
  });

  it('charts the chosen metric, with links to the others', () => {
    const page = render(versions, { metric: 'loss' });
    expect(page).toContain('<h2>loss across versions</h2>');
    expect(page).toContain(
      '<a href="/models/team-a/iris?metric=accuracy" data-chart-metric="accuracy">',
    );
    expect(page).toMatch(/<svg [^>]*id="metric-across-versions"/);
    expect(page.match(/<circle /g)).toHaveLength(2);
  });

  it('shows the final and best epochs where the history was read', () => {
    const histories = new Map([
      [
        'iris-run-2',
        {
          epochs: [
            { epoch: 1, loss: 0.5, valLoss: 0.4, metrics: { accuracy: 0.8 } },
            { epoch: 2, loss: 0.3, valLoss: 0.45, metrics: { accuracy: 0.9 } },
          ],
        },
      ],
    ]);
    const page = render(versions, {}, histories);
    expect(page).toContain(
      '<td data-version="2" data-epoch="best" data-field="epoch" data-value="1">1</td>',
    );
    expect(page).toContain(
      '<td data-version="2" data-epoch="final" data-field="accuracy" data-value="0.9">0.9</td>',
    );
    expect(page).toContain('<td data-version="1" data-epoch="final" data-field="loss">—</td>');
    expect(render(versions)).toContain('No training history found');
  });

  it('says when the stage history is cut to the newest events', () => {
    const many = Array.from({ length: 120 }, (_, i) => mv(i + 1));
    const page = render(many);
    expect(page).toContain(
      '<p class="muted" id="stage-history-limit">The newest 100 of 120 events.</p>',
    );
    expect(page.match(/<tr data-event="Registered"/g)).toHaveLength(100);
    expect(render(versions)).not.toContain('id="stage-history-limit"');
  });

  it('escapes what users wrote', () => {
    const page = render([mv(1, { hyperparameters: { note: '<img src=x onerror=alert(1)>' } })]);
    expect(page).not.toContain('<img');
    expect(page).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });

  it('says so when there is nothing to compare, and which versions do not exist', () => {
    const page = render([], { versions: [7] });
    expect(page).toContain('No versions of iris to compare.');
    expect(page).toContain('No such version: v7.');
    expect(page).not.toContain('<table class="comparison"');
  });

  it('shows importance and group metrics only where the model card has them', () => {
    expect(render(versions)).not.toContain('id="importance"');
    const page = render([
      mv(1, {
        status: {
          importance: {
            method: 'permutation',
            score: 'accuracy',
            columns: [{ column: 'petal', mean: 0.25, std: 0.01 }],
          },
          fairness: {
            verdict: 'Failed',
            message: 'gap too large',
            groups: [
              { scope: 'sex', group: 'sex=female', count: 20, judged: true, selectionRate: 0.4 },
            ],
          },
        },
      }),
    ]);
    expect(page).toContain(
      '<td data-version="1" data-value="0.25">0.25 <small>± 0.01</small></td>',
    );
    expect(page).toContain('data-verdict="Failed" title="gap too large">Failed</td>');
    expect(page).toContain(
      '<span data-group-metric="selectionRate" data-value="0.4">selectionRate 0.4</span>',
    );
  });
});
