/**
 * Lineage: per model, a row per version — Dataset version → TrainingJob (and what triggered
 * it) → ModelVersion (stage) → the InferenceServices serving it (role, traffic share, ready
 * replicas) — newest first, with runs still in progress on top (`lineage.ts` gathers it).
 * `?model=` narrows it to one model.
 */
import { emptyNote, healthBadge, objectLink } from '../fragments.js';
import { healthOf } from '../health.js';
import { type Html, html } from '../html.js';
import { type ModelLineage, modelLineages, type VersionLineage } from '../lineage.js';
import { href, lineageHref, modelHref, servingHref, trainingHref } from '../links.js';
import type { Page, PageContext, Rendered } from '../routes.js';

const arrow = html`<span class="arrow" aria-hidden="true">→</span>`;

function datasetCell(ns: string, v: VersionLineage): Html {
  if (!v.dataset) return html`<span class="muted">—</span>`;
  return html`${objectLink('dataset', ns, v.dataset.name)}<br><code data-field="datasetVersion">${v.dataset.version ?? '(latest)'}</code>`;
}

function runCell(ns: string, v: VersionLineage): Html {
  if (!v.trainingJob) return html`<span class="muted">none recorded</span>`;
  const run = v.trainingJob.object;
  if (!run)
    return html`${v.trainingJob.name} <span class="muted">(deleted by the history limits)</span>`;
  const trigger = v.trigger
    ? html`<br><span data-field="trigger">${v.trigger.trigger}</span> by ${objectLink('retrainPolicy', ns, v.trigger.policy)}: ${v.trigger.input}${v.trigger.threshold ? html` <span class="muted">(${v.trigger.threshold})</span>` : ''}`
    : html`<br><span class="muted">created by hand</span>`;
  return html`${objectLink('trainingJob', ns, v.trainingJob.name)} ${healthBadge(healthOf('trainingJob', run))}
    <span data-field="phase">${run.status?.phase ?? ''}</span> · <a href="${trainingHref(ns, v.trainingJob.name)}">curves</a>${trigger}`;
}

function versionCell(ns: string, v: VersionLineage): Html {
  const mv = v.modelVersion;
  if (!mv) return html`<span class="muted">not yet</span>`;
  return html`${objectLink('modelVersion', ns, mv.metadata.name ?? '')} <span class="muted">v</span><span data-field="version">${mv.spec.version}</span><br>stage <b data-field="stage">${mv.spec.stage}</b>`;
}

function servingCell(ns: string, v: VersionLineage): Html {
  if (v.servedBy.length === 0) return html`<span class="muted">not served</span>`;
  return html`${v.servedBy.map(
    (s) =>
      html`<div data-service="${s.service.metadata.name ?? ''}">${objectLink('inferenceService', ns, s.service.metadata.name ?? '')}
        (<a href="${servingHref(ns, s.service.metadata.name ?? '')}">serving</a>): <span data-field="role">${s.role}</span>,
        <span data-field="trafficPercent">${s.trafficPercent}</span>% of traffic,
        <span data-field="readyReplicas">${s.readyReplicas}</span>/<span data-field="replicas">${s.replicas}</span> ready</div>`,
  )}`;
}

function policyLine(ns: string, lineage: ModelLineage): Html {
  if (lineage.policies.length === 0) return html``;
  return html`<p>Retrained by ${lineage.policies.map((p, i) => {
    const t = p.spec.triggers;
    const triggers = [
      t.schedule ? `schedule ${t.schedule.cron}` : '',
      t.datasetChange ? 'dataset change' : '',
      t.drift ? `drift ${t.drift.metric} > ${t.drift.threshold}` : '',
      t.accuracy ? `accuracy < ${t.accuracy.minimum}` : '',
    ].filter((s) => s !== '');
    return html`${i > 0 ? ', ' : ''}${objectLink('retrainPolicy', ns, p.metadata.name ?? '')} (${triggers.join('; ')}${p.spec.promotion ? `; promotes on ${p.spec.promotion.metric} to ${p.spec.promotion.targetStage}` : ''})`;
  })}.</p>`;
}

function modelSection(lineage: ModelLineage, allNamespaces: boolean): Html {
  const ns = lineage.namespace;
  const rows = lineage.versions.map(
    (
      v,
    ) => html`<tr data-model-version="${v.modelVersion?.metadata.name ?? ''}" data-training-job="${v.trainingJob?.name ?? ''}">
      <td>${datasetCell(ns, v)}</td><td>${arrow}</td><td>${runCell(ns, v)}</td><td>${arrow}</td>
      <td>${versionCell(ns, v)}</td><td>${arrow}</td><td>${servingCell(ns, v)}</td></tr>`,
  );
  return html`<section data-namespace="${ns}" data-model="${lineage.model}">
    <h2>Model ${lineage.model}${allNamespaces ? html` <span class="muted">in ${ns}</span>` : ''}</h2>
    <p><a href="${modelHref(ns, lineage.model)}">Compare its versions</a> · <a href="${lineageHref(ns, lineage.model)}">this model only</a></p>
    ${policyLine(ns, lineage)}
    ${
      rows.length === 0
        ? emptyNote('No versions or runs yet.')
        : html`<table class="lineage"><thead><tr><th>DATASET VERSION</th><th></th><th>TRAININGJOB</th><th></th><th>MODELVERSION</th><th></th><th>SERVED BY</th></tr></thead><tbody>${rows}</tbody></table>`
    }</section>`;
}

function renderLineage(ctx: PageContext): Rendered {
  const model = ctx.query.get('model') || undefined;
  const lineages = modelLineages({
    trainingJobs: ctx.objects.list('trainingJob', ctx.namespace),
    modelVersions: ctx.objects.list('modelVersion', ctx.namespace),
    inferenceServices: ctx.objects.list('inferenceService', ctx.namespace),
    retrainPolicies: ctx.objects.list('retrainPolicy', ctx.namespace),
  }).filter((l) => model === undefined || l.model === model);
  const body = html`${model ? html`<p>Model ${model} · <a href="${href('/lineage', { namespace: ctx.namespace })}">all models</a></p>` : ''}
    ${lineages.length === 0 ? emptyNote('No models to show.') : lineages.map((l) => modelSection(l, ctx.namespace === undefined))}`;
  return { title: model ? `Lineage of ${model}` : 'Lineage', body };
}

export const lineagePage: Page = {
  path: '/lineage',
  title: 'Lineage',
  nav: true,
  render: renderLineage,
};
