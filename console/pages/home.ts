/**
 * Home: what needs attention first — every object that failed, is stalled, drifting or
 * degraded (`health.ts`), worst first — then one table per kind with the columns `kubectl get`
 * prints and each object's health, for the chosen namespace or all of them. Like Argo CD's
 * application list sorted by health, for Lathe's six kinds.
 */
import type { VisibleObjects } from '../access.js';
import { emptyNote, healthBadge, objectLink } from '../fragments.js';
import { type Health, healthLevels, healthOf, needsAttention } from '../health.js';
import { type Html, html } from '../html.js';
import { type ConsoleObjects, consoleKinds, type KindKey } from '../kinds.js';
import { objectTable } from '../object-table.js';
import type { Page, PageContext } from '../routes.js';

interface Row {
  kind: KindKey;
  obj: ConsoleObjects[KindKey];
  health: Health;
}

/** Every visible object of every kind with its health, in `namespace` or all. */
export function objectsWithHealth(objects: VisibleObjects, namespace: string | undefined): Row[] {
  const policy = (ns: string, name: string) => objects.get('retrainPolicy', ns, name);
  return consoleKinds.flatMap(({ key }) =>
    objects
      .list(key, namespace)
      .map((obj) => ({ kind: key, obj, health: healthOf(key, obj, policy) })),
  );
}

const rank = (h: Health) => healthLevels.indexOf(h.level);

function attentionTable(rows: readonly Row[], allNamespaces: boolean): Html {
  const attention = rows
    .filter((r) => needsAttention(r.health.level))
    .sort(
      (a, b) =>
        rank(a.health) - rank(b.health) ||
        (a.obj.metadata.namespace ?? '').localeCompare(b.obj.metadata.namespace ?? '') ||
        (a.obj.metadata.name ?? '').localeCompare(b.obj.metadata.name ?? ''),
    );
  if (attention.length === 0) return emptyNote('Nothing needs attention.');
  return html`<table id="attention-table"><thead><tr><th>KIND</th>${allNamespaces ? html`<th>NAMESPACE</th>` : ''}<th>NAME</th><th>HEALTH</th><th>REASON</th><th>MESSAGE</th></tr></thead><tbody>
    ${attention.map((r) => {
      const ns = r.obj.metadata.namespace ?? '';
      const name = r.obj.metadata.name ?? '';
      const kind = consoleKinds.find((k) => k.key === r.kind)!.kind;
      return html`<tr data-kind="${kind}" data-namespace="${ns}" data-name="${name}"><td>${kind}</td>${allNamespaces ? html`<td>${ns}</td>` : ''}<td>${objectLink(r.kind, ns, name)}</td><td>${healthBadge(r.health)}</td><td>${r.health.reason}</td><td>${r.health.message}</td></tr>`;
    })}</tbody></table>`;
}

function renderHome(ctx: PageContext): Html {
  const rows = objectsWithHealth(ctx.objects, ctx.namespace);
  const allNamespaces = ctx.namespace === undefined;
  const healthByObject = new Map(rows.map((r) => [r.obj, r.health]));
  const cards = consoleKinds.map(({ key, kind, plural }) => {
    const ofKind = rows.filter((r) => r.kind === key);
    const attention = ofKind.filter((r) => needsAttention(r.health.level)).length;
    return html`<a class="card" href="#${plural}" data-kind="${kind}"><span class="muted">${kind}</span><b>${ofKind.length}</b>${attention > 0 ? html`<span class="health failed">${attention} need attention</span>` : html`<span class="muted">all well</span>`}</a>`;
  });
  const sections = consoleKinds.map(
    ({ key, kind, plural }) =>
      html`<section id="${plural}"><h2>${kind}s</h2>${objectTable({
        kind: key,
        objects: ctx.objects.list(key, ctx.namespace),
        allNamespaces,
        now: ctx.now,
        health: (o) => healthByObject.get(o) ?? healthOf(key, o),
      })}</section>`,
  );
  const scope = allNamespaces
    ? ctx.objects.namespaces.length === 0
      ? 'You may see no namespace with Lathe objects.'
      : `All namespaces you may see: ${ctx.objects.namespaces.join(', ')}.`
    : `Namespace ${ctx.namespace}.`;
  return html`<p class="muted">${scope}</p><div class="cards">${cards}</div>
    <section id="attention"><h2>Needs attention</h2>${attentionTable(rows, allNamespaces)}</section>
    ${sections}`;
}

export const homePage: Page = {
  path: '/',
  title: 'Home',
  nav: true,
  render: renderHome,
};
