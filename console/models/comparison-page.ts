/**
 * The model comparison page's HTML, from its view (`comparison.ts`). Tables first, so the page
 * reads without JavaScript and without the chart; every choice (which versions, differences
 * only, which metric to chart) is a link or a GET form, so it can be bookmarked and shared.
 *
 * Cells a test reads carry stable attributes (docs/console.md, "Model comparison"): a version's
 * column `data-version="<n>"`, a test metric `data-metric="<name>"` with `data-value` (the exact
 * number of `spec.metrics`), a hyperparameter row `data-hyperparameter="<name>"`, the stage
 * `data-field="stage"`.
 */
import { type Html, html } from '../html.js';
import { href, modelHref, objectHref, trainingHref } from '../links.js';
import { formatMetric, valueAttribute } from '../numbers.js';
import { lineChart } from '../svg-chart.js';
import type { TrainingEpochSummaries } from '../training/history.js';
import type { ModelComparisonView, VersionColumn } from './comparison.js';

/** The most versions the chooser lists (newest first); older ones are reached with `?v=`. */
const CHOOSER_LIMIT = 100;

/** The page's main content (the layout adds the header and navigation). */
export function renderModelComparison(view: ModelComparisonView): Html {
  const { namespace, model, columns } = view;
  const link = (query: { diff?: boolean; metric?: string | undefined }) =>
    href(modelHref(namespace, model), {
      v: view.query.versions?.join(','),
      diff: (query.diff ?? view.query.differencesOnly) ? '1' : undefined,
      metric: query.metric ?? view.query.metric,
    });
  const head = html`<tr><th scope="col">Version</th>${columns.map(
    (c) =>
      html`<th scope="col" data-version="${c.version}">v${c.version}<br><small><a href="${objectHref('modelVersion', namespace, c.name)}">${c.name}</a></small></th>`,
  )}</tr>`;
  const row = (label: string, field: string, cell: (c: VersionColumn) => Html | string) =>
    html`<tr data-field="${field}"><th scope="row">${label}</th>${columns.map((c) => html`<td data-version="${c.version}">${cell(c)}</td>`)}</tr>`;

  return html`<p class="muted" id="subject">The versions of model <b>${model}</b> in namespace <b>${namespace}</b>.</p>
${chooser(view)}
${notShown(view)}
${
  columns.length === 0
    ? html`<p class="empty">No versions of ${model} to compare.</p>`
    : html`
<section id="versions"><h2>Versions</h2>
<table class="comparison" id="versions-table"><thead>${head}</thead><tbody>
${row('Stage', 'stage', (c) => html`<span data-stage="${c.stage}">${c.stage}</span>${c.stageSince ? html`<br><small>since <time datetime="${c.stageSince}">${c.stageSince}</time></small>` : ''}`)}
${row('Ready', 'ready', (c) => c.ready ?? '—')}
${row('Data version', 'dataset', (c) => (c.dataset ? html`${c.dataset.name} <code data-dataset-version="${c.dataset.version}">${c.dataset.version}</code>` : '—'))}
${row('Training job', 'trainingjob', (c) => (c.trainingJob ? html`<a href="${trainingHref(namespace, c.trainingJob)}" data-trainingjob="${c.trainingJob}">${c.trainingJob}</a>` : '—'))}
${row('Backend', 'backend', (c) => c.backend ?? '—')}
${row('Created', 'created', (c) => (c.created ? html`<time datetime="${c.created}">${c.created}</time>` : '—'))}
</tbody></table></section>
<section id="metrics"><h2>Test metrics</h2>
<p class="hint">Evaluated on each version’s test split (<code>spec.metrics</code>); ★ marks the best.</p>
<table class="comparison" id="metrics-table"><thead>${head}</thead><tbody>
${view.metrics.map((m) => html`<tr data-metric-row="${m.metric}"><th scope="row">${m.metric}${m.lowerIsBetter ? html` <small>(lower is better)</small>` : ''}</th>${m.values.map((v, i) => html`<td data-version="${columns[i]!.version}" data-metric="${m.metric}"${valueAttribute(v)}${m.best.includes(i) ? html` class="best"` : ''}>${formatMetric(v)}${m.best.includes(i) ? ' ★' : ''}</td>`)}</tr>`)}
</tbody></table></section>
${epochTable(view, head)}
<section id="hyperparameters"><h2>Hyperparameters</h2>
<p>${view.query.differencesOnly ? html`Showing only the differences (${view.sameHyperparameters} equal hidden). <a href="${link({ diff: false })}" id="show-all-hyperparameters">Show all</a>` : html`<a href="${link({ diff: true })}" id="show-differences">Show differences only</a>`}</p>
<table class="comparison" id="hyperparameters-table"><thead>${head}</thead><tbody>
${view.hyperparameters.map((h) => html`<tr data-hyperparameter="${h.name}"${h.differs ? html` class="differs"` : ''}><th scope="row">${h.name}</th>${h.values.map((v, i) => html`<td data-version="${columns[i]!.version}">${v ?? '—'}</td>`)}</tr>`)}
</tbody></table></section>
${importanceTable(view, head)}
${fairnessTable(view, head)}`
}
${chartSection(view, link)}
${stageHistoryTable(view)}`;
}

function chooser(view: ModelComparisonView): Html {
  const listed = view.allVersions.slice(0, CHOOSER_LIMIT);
  return html`<form method="get" action="${modelHref(view.namespace, view.model)}" id="version-chooser" class="chooser"><fieldset><legend>Compare versions</legend>
${listed.map((v) => html`<label><input type="checkbox" name="v" value="${v.version}"${v.shown ? html` checked` : ''}> v${v.version} <small>${v.stage}</small></label> `)}
${view.allVersions.length > CHOOSER_LIMIT ? html`<small>(the ${CHOOSER_LIMIT} newest of ${view.allVersions.length}; add older ones with ?v=)</small>` : ''}
${view.query.differencesOnly ? html`<input type="hidden" name="diff" value="1">` : ''}${view.query.metric ? html`<input type="hidden" name="metric" value="${view.query.metric}">` : ''}
<button type="submit">Compare</button></fieldset></form>`;
}

function notShown(view: ModelComparisonView): Html | string {
  const { missing, overLimit } = view.notShown;
  if (missing.length === 0 && overLimit.length === 0) return '';
  return html`<p class="notice" role="status">${missing.length > 0 ? html`No such version: ${missing.map((v) => `v${v}`).join(', ')}. ` : ''}${overLimit.length > 0 ? html`At most ${view.columns.length} versions side by side; not shown: ${overLimit.map((v) => `v${v}`).join(', ')}.` : ''}</p>`;
}

function epochTable(view: ModelComparisonView, head: Html): Html {
  const summaries = view.columns.map((c) => c.epochs);
  if (summaries.every((s) => s === undefined)) {
    return html`<section id="epochs"><h2>Training epochs</h2><p class="empty">No training history found for these versions (<code>runs/&lt;namespace&gt;/&lt;trainingjob&gt;/history.json</code>).</p></section>`;
  }
  const names = [
    ...new Set(summaries.flatMap((s) => (s ? Object.keys(s.final.metrics) : []))),
  ].sort();
  const cells = (
    which: 'final' | 'best',
    field: string,
    value: (s: TrainingEpochSummaries) => number | undefined,
  ) =>
    summaries.map((s, i) => {
      const v = s ? value(s) : undefined;
      return html`<td data-version="${view.columns[i]!.version}" data-epoch="${which}" data-field="${field}"${valueAttribute(v)}>${field === 'epoch' && v !== undefined ? String(v) : formatMetric(v)}</td>`;
    });
  const rows = (which: 'final' | 'best') => [
    html`<tr><th scope="row">${which} epoch</th>${cells(which, 'epoch', (s) => s[which].epoch)}</tr>`,
    html`<tr><th scope="row">${which} loss</th>${cells(which, 'loss', (s) => s[which].loss)}</tr>`,
    html`<tr><th scope="row">${which} val_loss</th>${cells(which, 'valLoss', (s) => s[which].valLoss)}</tr>`,
    ...names.map(
      (n) =>
        html`<tr><th scope="row">${which} ${n}</th>${cells(which, n, (s) => s[which].metrics[n])}</tr>`,
    ),
  ];
  return html`<section id="epochs"><h2>Training epochs</h2>
<p class="hint">From each run’s <code>history.json</code>: the final epoch, and the best (lowest val_loss, or loss without a validation split).</p>
<table class="comparison" id="epochs-table"><thead>${head}</thead><tbody>
<tr><th scope="row">epochs</th>${summaries.map((s, i) => html`<td data-version="${view.columns[i]!.version}" data-field="epochs">${s ? String(s.epochs) : '—'}</td>`)}</tr>
${rows('final')}${rows('best')}
</tbody></table></section>`;
}

function importanceTable(view: ModelComparisonView, head: Html): Html | string {
  if (view.importance.length === 0) return '';
  return html`<section id="importance"><h2>Feature importance</h2>
<p class="hint">Permutation importance on the test split (<code>status.importance</code>): the mean drop of the score when the column is shuffled, ± its standard deviation.</p>
<table class="comparison" id="importance-table"><thead>${head}</thead><tbody>
${view.importance.map((r) => html`<tr data-importance="${r.column}"><th scope="row">${r.column}</th>${r.values.map((v, i) => html`<td data-version="${view.columns[i]!.version}"${valueAttribute(v?.mean)}>${v ? html`${formatMetric(v.mean)} <small>± ${formatMetric(v.std)}</small>` : '—'}</td>`)}</tr>`)}
</tbody></table></section>`;
}

function fairnessTable(view: ModelComparisonView, head: Html): Html | string {
  if (view.fairness.every((f) => f === undefined) && view.groups.length === 0) return '';
  return html`<section id="fairness"><h2>Metrics by group</h2>
<p class="hint">From the model card (<code>status.fairness</code>); groups too small to judge are marked.</p>
<table class="comparison" id="fairness-table"><thead>${head}</thead><tbody>
<tr data-field="fairness-verdict"><th scope="row">verdict</th>${view.fairness.map((f, i) => html`<td data-version="${view.columns[i]!.version}"${f ? html` data-verdict="${f.verdict}" title="${f.message}"` : ''}>${f ? f.verdict : '—'}</td>`)}</tr>
${view.groups.map((g) => html`<tr data-group="${g.group}" data-scope="${g.scope}"><th scope="row">${g.group}</th>${g.values.map((cell, i) => html`<td data-version="${view.columns[i]!.version}">${cell ? html`<small>n=${cell.count}${cell.judged ? '' : ' (not judged)'}</small>${cell.metrics.map(([m, v]) => html`<br><span data-group-metric="${m}"${valueAttribute(v)}>${m} ${formatMetric(v)}</span>`)}` : '—'}</td>`)}</tr>`)}
</tbody></table></section>`;
}

function chartSection(
  view: ModelComparisonView,
  link: (q: { metric?: string }) => string,
): Html | string {
  const { metric, metrics, points } = view.chart;
  if (metric === undefined) return '';
  return html`<section id="metric-chart"><h2>${metric} across versions</h2>
<p>Chart: ${metrics.map((m) => (m === metric ? html`<strong aria-current="true">${m}</strong> ` : html`<a href="${link({ metric: m })}" data-chart-metric="${m}">${m}</a> `))}</p>
${lineChart({
  id: 'metric-across-versions',
  title: `${metric} by version`,
  description: `The test ${metric} of each version of ${view.model}, by version number.`,
  series: [{ name: metric, points }],
  xLabel: 'Version',
  yLabel: metric,
  xAxis: 'integer',
  emptyText: `No version has ${metric}.`,
})}</section>`;
}

function stageHistoryTable(view: ModelComparisonView): Html {
  return html`<section id="stage-history"><h2>Stage history</h2>
<p class="hint">Registrations, the stage each version is in since <code>status.stageTransitionTime</code>, and the promotion decisions a RetrainPolicy recorded (<code>lathe.dev/promotion</code>).</p>
${view.stageEvents > view.stageHistory.length ? html`<p class="muted" id="stage-history-limit">The newest ${view.stageHistory.length} of ${view.stageEvents} events.</p>` : ''}
${
  view.stageHistory.length === 0
    ? html`<p class="empty">Nothing recorded.</p>`
    : html`<table id="stage-history-table"><thead><tr><th scope="col">Time</th><th scope="col">Version</th><th scope="col">Event</th><th scope="col">What</th></tr></thead><tbody>
${view.stageHistory.map((e) => html`<tr data-event="${e.kind}" data-version="${e.version}"><td><time datetime="${e.time}">${e.time}</time></td><td>v${e.version}</td><td>${e.kind}</td><td>${e.text}</td></tr>`)}
</tbody></table>`
}</section>`;
}
