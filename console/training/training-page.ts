/**
 * The training page's HTML, from its view (`training-view.ts`): the status as `kubectl get
 * trainingjob` has it, the curves, and a table with one row per epoch of `history.json`, which
 * reads without JavaScript and without the charts.
 *
 * Cells a test reads (docs/console.md, "Training"): `data-field="phase"`, the progress
 * `data-progress="epoch|totalEpochs|loss|valLoss|<metric>"` with `data-value` (the exact number
 * of `status.progress`), the epochs table `#epochs-table` with `data-epochs="<count>"` and one
 * `<tr data-epoch="<n>">` per epoch, its cells `data-field="loss|valLoss|<metric>"`.
 */
import { type Html, html } from '../html.js';
import { href, modelHref, objectHref } from '../links.js';
import { formatMetric, valueAttribute } from '../numbers.js';
import { lineChart } from '../svg-chart.js';
import { MAX_EPOCH_ROWS, type TrainingView } from './training-view.js';

/** The page's main content (the layout adds the header, and the refresh while it is live). */
export function renderTraining(view: TrainingView): Html {
  const { namespace, name, status } = view;
  return html`<p class="muted" id="subject">TrainingJob <a href="${objectHref('trainingJob', namespace, name)}"><b>${name}</b></a> in namespace <b>${namespace}</b>.</p>
${view.refreshSeconds !== undefined ? html`<p class="live" role="status" id="live-note">Live: this page reloads every ${view.refreshSeconds} s while the run is not finished.</p>` : ''}
<dl class="fields" id="training-status">
<dt>Phase</dt><dd data-field="phase">${view.phase ?? '—'}</dd>
<dt>Model</dt><dd><a href="${modelHref(namespace, view.model)}" data-field="model">${view.model}</a></dd>
<dt>Dataset</dt><dd data-field="dataset">${view.dataset}${status?.datasetVersion ? html` <code data-field="dataset-version">${status.datasetVersion}</code>` : ''}</dd>
<dt>Started</dt><dd data-field="start-time">${status?.startTime ?? '—'}</dd>
<dt>Completed</dt><dd data-field="completion-time">${status?.completionTime ?? '—'}</dd>
<dt>Attempts</dt><dd data-field="attempts">${status?.attempts ?? '—'}</dd>
<dt>Model version</dt><dd>${status?.modelVersion ? html`<a href="${href(modelHref(namespace, view.model), { v: String(status.modelVersion.version) })}" data-field="model-version">${status.modelVersion.name}</a>` : '—'}</dd>
${status?.failure ? html`<dt>Failure</dt><dd class="error" data-field="failure"><b>${status.failure.reason}</b>: ${status.failure.message}</dd>` : ''}
</dl>
${progressCards(view)}
${charts(view)}
${epochTable(view)}`;
}

function progressCards(view: TrainingView): Html {
  const progress = view.status?.progress;
  if (!progress) return html`<h2>Progress</h2><p class="empty">No progress reported yet.</p>`;
  const card = (label: string, key: string, value: number | undefined) =>
    html`<div class="card"><span class="muted">${label}</span><b data-progress="${key}"${valueAttribute(value)}>${formatMetric(value)}</b></div>`;
  return html`<h2>Progress</h2>
<div class="cards" id="progress">
<div class="card"><span class="muted">Epoch</span><b><span data-progress="epoch" data-value="${progress.epoch}">${progress.epoch}</span> / <span data-progress="totalEpochs" data-value="${progress.totalEpochs}">${progress.totalEpochs}</span></b></div>
${card('Loss', 'loss', progress.loss)}
${progress.valLoss !== undefined ? card('Validation loss', 'valLoss', progress.valLoss) : ''}
${Object.entries(progress.metrics ?? {}).map(([m, v]) => card(m, m, v))}
</div>
${progress.summary ? html`<p class="muted" data-progress="summary">${progress.summary}</p>` : ''}`;
}

function charts(view: TrainingView): Html {
  const noEpochs =
    view.history.state === 'found' ? 'No epoch finished yet.' : 'No training history to draw.';
  return html`<h2>Curves</h2>
<div class="charts">
${lineChart({
  id: 'loss-curve',
  title: 'Loss per epoch',
  description: `Training loss${view.curves.loss.length > 1 ? ' and validation loss' : ''} of ${view.name} after each epoch.`,
  series: view.curves.loss,
  xLabel: 'Epoch',
  yLabel: 'Loss',
  xAxis: 'integer',
  emptyText: noEpochs,
  width: 600,
})}
${
  view.curves.metrics.length > 0
    ? lineChart({
        id: 'metric-curve',
        title: 'Metrics per epoch',
        description: `${view.metricNames.join(', ')} of ${view.name} after each epoch.`,
        series: view.curves.metrics,
        xLabel: 'Epoch',
        yLabel: 'Value',
        xAxis: 'integer',
        emptyText: noEpochs,
        width: 600,
      })
    : ''
}
</div>`;
}

function historyNote(view: TrainingView): Html | string {
  const key = `runs/${view.namespace}/${view.name}/history.json`;
  switch (view.history.state) {
    case 'found':
      return html`<p class="muted">From <code>${key}</code>, read at <time datetime="${view.history.readAt}">${view.history.readAt}</time>.</p>`;
    case 'missing':
      return html`<p class="empty" id="history-missing"><code>${key}</code> is not in the object store (yet): the trainer writes it after each epoch.</p>`;
    case 'no-store':
      return html`<p class="empty" id="history-no-store">The console has no object store configured, so it cannot read the run’s history.</p>`;
    case 'unreadable':
      return html`<p class="error" id="history-unreadable">Could not read <code>${key}</code>: ${view.history.message}</p>`;
  }
}

function epochTable(view: TrainingView): Html {
  const withValidation = view.epochs.some((e) => e.valLoss !== undefined);
  const shown = view.epochs.slice(-MAX_EPOCH_ROWS);
  const best = view.summaries?.best.epoch;
  return html`<h2>Epochs</h2>
${historyNote(view)}
${view.summaries ? html`<p id="epoch-summary">Final epoch <b data-summary="final">${view.summaries.final.epoch}</b>; best epoch <b data-summary="best">${view.summaries.best.epoch}</b> (lowest ${view.summaries.bestBy === 'valLoss' ? 'val_loss' : 'loss'}).</p>` : ''}
${shown.length < view.epochs.length ? html`<p class="muted">The last ${shown.length} of ${view.epochs.length} epochs.</p>` : ''}
<table id="epochs-table" data-epochs="${view.epochs.length}"><thead><tr><th scope="col">Epoch</th><th scope="col">loss</th>${withValidation ? html`<th scope="col">val_loss</th>` : ''}${view.metricNames.map((m) => html`<th scope="col">${m}</th>`)}</tr></thead><tbody>
${shown.map(
  (e) =>
    html`<tr data-epoch="${e.epoch}"${e.epoch === best ? html` class="best"` : ''}><th scope="row">${e.epoch}</th><td class="num" data-field="loss"${valueAttribute(e.loss)}>${formatMetric(e.loss)}</td>${withValidation ? html`<td class="num" data-field="valLoss"${valueAttribute(e.valLoss)}>${formatMetric(e.valLoss)}</td>` : ''}${view.metricNames.map((m) => html`<td class="num" data-field="${m}"${valueAttribute(e.metrics[m])}>${formatMetric(e.metrics[m])}</td>`)}</tr>`,
)}
</tbody></table>`;
}
