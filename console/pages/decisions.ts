/**
 * The decision log: each automatic action — retrain started, challenger promoted or rejected,
 * rollout started or held, gate failed — with its inputs, thresholds and outcome, newest first
 * (`decisions.ts` gathers them). `?action=` keeps one kind of action.
 */
import { type Decision, decisionLog } from '../decisions.js';
import { emptyNote, objectLink, timeText } from '../fragments.js';
import { type Html, html } from '../html.js';
import { consoleKindOf } from '../kinds.js';
import { href } from '../links.js';
import type { Page, PageContext, Rendered } from '../routes.js';

const actions: Decision['action'][] = [
  'Retrain started',
  'Challenger promoted',
  'Challenger rejected',
  'Rollout started',
  'Rollout held',
  'Gate failed',
];

function row(d: Decision, allNamespaces: boolean): Html {
  return html`<tr data-action="${d.action}" data-namespace="${d.namespace}" data-subject="${d.subject.name}">
    <td>${timeText(d.time)}</td>${allNamespaces ? html`<td>${d.namespace}</td>` : ''}
    <td><b>${d.action}</b></td>
    <td>${consoleKindOf(d.subject.kind).kind} ${objectLink(d.subject.kind, d.namespace, d.subject.name)}${
      d.decidedBy
        ? html`<br><span class="muted">by ${objectLink(d.decidedBy.kind, d.namespace, d.decidedBy.name)}</span>`
        : ''
    }</td>
    <td data-field="inputs">${d.inputs}</td><td data-field="thresholds">${d.thresholds}</td><td data-field="outcome">${d.outcome}</td></tr>`;
}

function renderDecisions(ctx: PageContext): Rendered {
  const action = ctx.query.get('action') || undefined;
  const all = decisionLog({
    datasets: ctx.objects.list('dataset', ctx.namespace),
    trainingJobs: ctx.objects.list('trainingJob', ctx.namespace),
    modelVersions: ctx.objects.list('modelVersion', ctx.namespace),
    inferenceServices: ctx.objects.list('inferenceService', ctx.namespace),
    retrainPolicies: ctx.objects.list('retrainPolicy', ctx.namespace),
  });
  const shown = action ? all.filter((d) => d.action === action) : all;
  const allNamespaces = ctx.namespace === undefined;
  const filters = [undefined, ...actions].map((a) => {
    const label = a ?? 'All actions';
    const count = a ? all.filter((d) => d.action === a).length : all.length;
    return a === action
      ? html`<b>${label} (${count})</b>`
      : html`<a href="${href('/decisions', { namespace: ctx.namespace, action: a })}">${label} (${count})</a>`;
  });
  const body = html`<p>${filters.map((f, i) => html`${i > 0 ? ' · ' : ''}${f}`)}</p>
    ${
      shown.length === 0
        ? emptyNote('No automatic actions recorded.')
        : html`<table id="decision-log"><thead><tr><th>TIME</th>${allNamespaces ? html`<th>NAMESPACE</th>` : ''}<th>ACTION</th><th>OBJECT</th><th>INPUTS</th><th>THRESHOLDS</th><th>OUTCOME</th></tr></thead>
          <tbody>${shown.map((d) => row(d, allNamespaces))}</tbody></table>`
    }`;
  return { title: 'Decision log', body };
}

export const decisionsPage: Page = {
  path: '/decisions',
  title: 'Decision log',
  nav: true,
  render: renderDecisions,
};
