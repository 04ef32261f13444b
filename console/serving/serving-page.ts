/**
 * The serving page's HTML, from its view (`serving-view.ts`): the status now, as `kubectl get`
 * has it, then what the console measured from the servers' metrics, then the charts over the
 * sampled window, with a note saying how long the console has been sampling.
 *
 * Cells a test reads (docs/console.md, "Serving"): `data-field="replicas"` (status.replicas),
 * the served versions' rows `data-version="<n>"` with cells `data-field="role|replicas|
 * readyReplicas|trafficPercent"`, status.load `data-load="requestsPerSecond|concurrency|
 * p95LatencyMs"`, status.drift `data-drift="value|metric|feature|samples|time"`, the measured
 * figures `data-measured="requestsPerSecond|errorRate|p50|p95|p99"` (rates per second, shares
 * in [0, 1] and latencies in seconds in `data-value`), and `#sampling` with `data-samples`.
 */
import { type Html, html } from '../html.js';
import { href, modelHref, objectHref } from '../links.js';
import { formatMetric, formatMilliseconds, formatPercent, valueAttribute } from '../numbers.js';
import { type ChartSeries, formatClock, lineChart } from '../svg-chart.js';
import type { ServingView } from './serving-view.js';

/** The page's main content (the layout adds the header). */
export function renderServing(view: ServingView, nowMs: number): Html {
  const { namespace, name, status } = view;
  return html`<p class="muted" id="subject">InferenceService <a href="${objectHref('inferenceService', namespace, name)}"><b>${name}</b></a> in namespace <b>${namespace}</b>.</p>
<dl class="fields" id="serving-status">
<dt>Model</dt><dd><a href="${modelHref(namespace, view.model)}" data-field="model">${view.model}</a></dd>
<dt>URL</dt><dd data-field="url">${status?.url ? html`<code>${status.url}</code>` : '—'}</dd>
<dt>Replicas</dt><dd data-field="replicas"${valueAttribute(status?.replicas)}>${status?.replicas ?? '—'}</dd>
</dl>
${servedVersions(view)}
${load(view)}
${drift(view)}
${measured(view)}
${samplingNote(view, nowMs)}
${charts(view)}`;
}

function servedVersions(view: ServingView): Html {
  const served = view.status?.servedVersions ?? [];
  if (served.length === 0)
    return html`<h2>Served versions</h2><p class="empty">No version is served yet.</p>`;
  return html`<h2>Served versions</h2>
<table id="served-versions"><thead><tr><th scope="col">Version</th><th scope="col">ModelVersion</th><th scope="col">Role</th><th scope="col">Replicas</th><th scope="col">Ready</th><th scope="col">Traffic</th></tr></thead><tbody>
${served.map(
  (v) =>
    html`<tr data-version="${v.version}"><th scope="row">v${v.version}</th><td><a href="${href(modelHref(view.namespace, view.model), { v: String(v.version) })}">${v.modelVersion}</a></td><td data-field="role">${v.role}</td><td class="num" data-field="replicas" data-value="${v.replicas}">${v.replicas}</td><td class="num" data-field="readyReplicas" data-value="${v.readyReplicas}">${v.readyReplicas}</td><td class="num" data-field="trafficPercent" data-value="${v.trafficPercent}">${v.trafficPercent}%</td></tr>`,
)}
</tbody></table>`;
}

function load(view: ServingView): Html | string {
  const l = view.status?.load;
  if (!l) return '';
  return html`<h2>Load <small class="muted">(status.load, from the autoscaler)</small></h2>
<div class="cards" id="load">
<div class="card"><span class="muted">Requests/s</span><b data-load="requestsPerSecond"${valueAttribute(l.requestsPerSecond)}>${formatMetric(l.requestsPerSecond)}</b></div>
<div class="card"><span class="muted">Concurrency per replica</span><b data-load="concurrency"${valueAttribute(l.concurrency)}>${formatMetric(l.concurrency)}</b></div>
${l.p95LatencyMs !== undefined ? html`<div class="card"><span class="muted">p95 latency</span><b data-load="p95LatencyMs"${valueAttribute(l.p95LatencyMs)}>${formatMetric(l.p95LatencyMs)} ms</b></div>` : ''}
</div>`;
}

function drift(view: ServingView): Html | string {
  const d = view.status?.drift;
  if (!d) return '';
  return html`<h2>Drift <small class="muted">(status.drift, measured by RetrainPolicy ${d.retrainPolicy})</small></h2>
<div class="cards" id="drift">
<div class="card"><span class="muted">${d.metric.toUpperCase()} of the worst feature</span><b data-drift="value"${valueAttribute(d.value)}>${formatMetric(d.value)}</b></div>
<div class="card"><span class="muted">Feature</span><b data-drift="feature">${d.feature ?? '—'}</b></div>
<div class="card"><span class="muted">Rows compared</span><b data-drift="samples" data-value="${d.samples}">${d.samples}</b></div>
<div class="card"><span class="muted">Measured</span><b data-drift="time"><time datetime="${d.time}">${d.time}</time></b></div>
</div><span hidden data-drift="metric">${d.metric}</span>`;
}

function measured(view: ServingView): Html {
  const m = view.latest;
  if (!m) {
    return html`<h2>Measured by the console</h2><p class="empty" id="measured-empty">No request rate yet: it takes two readings of the servers’ metrics, one sampling interval apart.</p>`;
  }
  const card = (label: string, key: string, value: number | undefined, text: string) =>
    html`<div class="card"><span class="muted">${label}</span><b data-measured="${key}"${valueAttribute(value)}>${text}</b></div>`;
  return html`<h2>Measured by the console <small class="muted">(at ${formatClock(m.atMs)} UTC, from the servers’ /metrics)</small></h2>
<div class="cards" id="measured">
${card('Requests/s', 'requestsPerSecond', m.requestsPerSecond, formatMetric(m.requestsPerSecond))}
${card('Errors (5xx)', 'errorRate', m.errorRate, formatPercent(m.errorRate))}
${card('p50 latency', 'p50', m.p50, formatMilliseconds(m.p50))}
${card('p95 latency', 'p95', m.p95, formatMilliseconds(m.p95))}
${card('p99 latency', 'p99', m.p99, formatMilliseconds(m.p99))}
</div>`;
}

function samplingNote(view: ServingView, nowMs: number): Html {
  const s = view.sampling;
  if (!s.enabled) {
    return html`<p class="empty" id="sampling" data-samples="0">This console does not sample the servers, so there is no history to draw.</p>`;
  }
  if (s.overLimit) {
    return html`<p class="notice" id="sampling" data-samples="0">Not sampled: the console samples at most a fixed number of InferenceServices (the first by namespace and name), and this one is beyond it.</p>`;
  }
  const minutes = (ms: number) => Math.round(ms / 60_000);
  const since = s.startedAtMs !== undefined ? new Date(s.startedAtMs).toISOString() : undefined;
  return html`<p class="muted" id="sampling" data-samples="${s.samples}">The console samples every ${s.intervalMs / 1000} s and keeps the last ${s.capacity} samples (${minutes(s.intervalMs * s.capacity)} min); ${since ? html`it has been sampling since <time datetime="${since}">${since}</time> (${minutes(nowMs - s.startedAtMs!)} min), and holds ${s.samples} samples of this service` : 'it has not sampled yet'}. The history starts afresh when the console restarts.</p>`;
}

function charts(view: ServingView): Html {
  const chart = (
    id: string,
    title: string,
    yLabel: string,
    series: ChartSeries[],
    what: string,
    formatY?: (y: number) => string,
  ) =>
    lineChart({
      id,
      title,
      description: `${what} of ${view.name} at each sample, over the sampled window.`,
      series,
      xLabel: 'Time (UTC)',
      yLabel,
      xAxis: 'time',
      ...(formatY ? { formatY } : {}),
      emptyText: 'Nothing sampled yet.',
      width: 560,
      height: 240,
    });
  const c = view.charts;
  return html`<h2>Over time</h2>
<div class="charts">
${chart('replicas-chart', 'Replicas', 'Replicas', c.replicas, 'Replicas of the primary version and ready replicas of every version')}
${chart('canary-chart', 'Canary share', 'Percent', c.canary, 'The percent of requests sent to the canary')}
${chart('requests-chart', 'Request rate', 'Requests/s', c.requests, 'Prediction requests per second, summed over the servers')}
${chart('latency-chart', 'Latency percentiles', 'Milliseconds', c.latency, 'The 50th, 95th and 99th percentile latency in milliseconds')}
${chart('errors-chart', 'Error rate', 'Percent 5xx', c.errors, 'The percent of requests answered with a 5xx code')}
${chart('drift-chart', 'Drift', 'Drift', c.drift, 'The drift of the worst feature, as status.drift gives it')}
</div>`;
}
