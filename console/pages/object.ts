/**
 * One object: every printer column (as `kubectl get -o wide` prints them), its health, its
 * conditions (as `kubectl describe` lists them), links to the pages that go deeper (model
 * comparison, training curves, serving, lineage), and its spec and status as YAML.
 */
import { stringify } from 'yaml';
import { printerCell } from '../columns.js';
import { healthBadge, objectLink, timeText } from '../fragments.js';
import { healthOf } from '../health.js';
import { type Html, html } from '../html.js';
import { type ConsoleObjects, type KindKey, kindByPlural } from '../kinds.js';
import { lineageHref, modelHref, servingHref, trainingHref } from '../links.js';
import { type Page, type PageContext, PageNotFound, type Rendered } from '../routes.js';

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  lastTransitionTime: string;
}

function relatedLinks(kind: KindKey, obj: ConsoleObjects[KindKey]): Html[] {
  const ns = obj.metadata.namespace ?? '';
  const name = obj.metadata.name ?? '';
  const links: Html[] = [];
  if (kind === 'trainingJob') {
    const tj = obj as ConsoleObjects['trainingJob'];
    links.push(html`<a href="${trainingHref(ns, name)}">Training curves</a>`);
    links.push(
      html`<a href="${lineageHref(ns, tj.spec.modelName)}">Lineage of ${tj.spec.modelName}</a>`,
    );
    if (tj.status?.modelVersion)
      links.push(html`ModelVersion ${objectLink('modelVersion', ns, tj.status.modelVersion.name)}`);
  } else if (kind === 'modelVersion') {
    const mv = obj as ConsoleObjects['modelVersion'];
    links.push(
      html`<a href="${modelHref(ns, mv.spec.modelName)}">Compare the versions of ${mv.spec.modelName}</a>`,
    );
    links.push(
      html`<a href="${lineageHref(ns, mv.spec.modelName)}">Lineage of ${mv.spec.modelName}</a>`,
    );
  } else if (kind === 'inferenceService') {
    const isvc = obj as ConsoleObjects['inferenceService'];
    links.push(html`<a href="${servingHref(ns, name)}">Serving</a>`);
    links.push(
      html`<a href="${lineageHref(ns, isvc.spec.model.name)}">Lineage of ${isvc.spec.model.name}</a>`,
    );
  } else if (kind === 'retrainPolicy') {
    const policy = obj as ConsoleObjects['retrainPolicy'];
    const model = (policy.spec.template.spec as { modelName?: string }).modelName;
    if (model) links.push(html`<a href="${lineageHref(ns, model)}">Lineage of ${model}</a>`);
  }
  return links;
}

function renderObject(ctx: PageContext): Rendered {
  const kind = kindByPlural(ctx.params.kind ?? '');
  const namespace = ctx.params.namespace ?? '';
  const name = ctx.params.name ?? '';
  const obj = kind ? ctx.objects.get(kind.key, namespace, name) : undefined;
  if (!kind || !obj)
    throw new PageNotFound(`No ${ctx.params.kind} ${namespace}/${name} that you may see.`);
  const policy = (ns: string, n: string) => ctx.objects.get('retrainPolicy', ns, n);
  const health = healthOf(kind.key, obj, policy);
  const conditions = ((obj.status as { conditions?: Condition[] } | undefined)?.conditions ??
    []) as Condition[];
  const links = relatedLinks(kind.key, obj);
  const body = html`
    <p class="muted">${kind.kind} in namespace ${namespace} · ${healthBadge(health)} ${health.reason}: ${health.message}</p>
    ${links.length > 0 ? html`<p>${links.map((l, i) => html`${i > 0 ? ' · ' : ''}${l}`)}</p>` : ''}
    <h2>Columns</h2>
    <dl class="fields" data-kind="${kind.kind}" data-namespace="${namespace}" data-name="${name}">
      <dt>NAME</dt><dd data-column="NAME">${name}</dd>
      ${kind.descriptor.printerColumns.map(
        (c) =>
          html`<dt title="${c.description}">${c.name.toUpperCase()}</dt><dd data-column="${c.name}">${printerCell(c, obj, ctx.now)}</dd>`,
      )}
    </dl>
    <h2>Conditions</h2>
    ${
      conditions.length === 0
        ? html`<p class="empty">No conditions yet.</p>`
        : html`<table><thead><tr><th>TYPE</th><th>STATUS</th><th>REASON</th><th>MESSAGE</th><th>LAST TRANSITION</th></tr></thead><tbody>
          ${conditions.map((c) => html`<tr data-condition="${c.type}"><td>${c.type}</td><td>${c.status}</td><td>${c.reason}</td><td>${c.message}</td><td>${timeText(c.lastTransitionTime)}</td></tr>`)}
          </tbody></table>`
    }
    <h2>Spec</h2><pre>${stringify(obj.spec ?? {})}</pre>
    <h2>Status</h2><pre>${stringify(obj.status ?? {})}</pre>`;
  return { title: `${kind.kind} ${name}`, body };
}

export const objectPage: Page = {
  path: '/objects/:kind/:namespace/:name',
  title: 'Object',
  render: renderObject,
};
