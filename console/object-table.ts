/**
 * A table of objects of one kind with the columns `kubectl get` prints for it (the CRD's
 * printer columns, `columns.ts`), a NAMESPACE column in the all-namespaces view
 * (`kubectl get -A`), and the derived health. Rows and cells carry `data-` attributes naming
 * the object and column, so a browser test can compare a cell with `kubectl get`'s.
 */
import { defaultColumns, printerCell } from './columns.js';
import { emptyNote, healthBadge, objectLink } from './fragments.js';
import { type Health, healthOf, type PolicyLookup } from './health.js';
import { type Html, html } from './html.js';
import { type ConsoleObjects, consoleKindOf, type KindKey } from './kinds.js';

/** Sorted like `kubectl get -A`: by namespace, then name. */
export function byNamespaceAndName<T extends { metadata?: { namespace?: string; name?: string } }>(
  objects: readonly T[],
): T[] {
  return [...objects].sort(
    (a, b) =>
      (a.metadata?.namespace ?? '').localeCompare(b.metadata?.namespace ?? '') ||
      (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''),
  );
}

/** The table of `objects` (of `kind`), or a note when there are none. */
export function objectTable<K extends KindKey>(options: {
  kind: K;
  objects: readonly ConsoleObjects[K][];
  /** Show the NAMESPACE column (the all-namespaces view). */
  allNamespaces: boolean;
  now: Date;
  policy?: PolicyLookup;
  /** Health already computed, by object; computed here when absent. */
  health?: (obj: ConsoleObjects[K]) => Health;
}): Html {
  const kind = consoleKindOf(options.kind);
  if (options.objects.length === 0) return emptyNote(`No ${kind.kind} objects.`);
  const columns = defaultColumns(kind.descriptor.printerColumns);
  const health =
    options.health ?? ((o: ConsoleObjects[K]) => healthOf(options.kind, o, options.policy));
  const rows = byNamespaceAndName(options.objects).map((obj) => {
    const namespace = obj.metadata.namespace ?? '';
    const name = obj.metadata.name ?? '';
    return html`<tr data-kind="${kind.kind}" data-namespace="${namespace}" data-name="${name}">
      ${options.allNamespaces ? html`<td data-column="NAMESPACE">${namespace}</td>` : ''}
      <td data-column="NAME">${objectLink(options.kind, namespace, name)}</td>
      ${columns.map((c) => {
        const cell = printerCell(c, obj, options.now);
        return html`<td data-column="${c.name}"${c.type === 'number' || c.type === 'integer' ? html` class="num"` : ''}>${cell}</td>`;
      })}
      <td data-column="HEALTH">${healthBadge(health(obj))}</td></tr>`;
  });
  return html`<table data-kind="${kind.kind}"><thead><tr>
    ${options.allNamespaces ? html`<th>NAMESPACE</th>` : ''}<th>NAME</th>
    ${columns.map((c) => html`<th title="${c.description}">${c.name.toUpperCase()}</th>`)}
    <th>HEALTH</th></tr></thead><tbody>${rows}</tbody></table>`;
}
