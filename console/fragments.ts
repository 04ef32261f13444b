/**
 * Small HTML pieces every page draws the same way: a health badge, a link to an object, a time,
 * an empty-table note. Pages compose them; none reads the cache.
 */
import type { Health } from './health.js';
import { type Html, html } from './html.js';
import type { KindKey } from './kinds.js';
import { objectHref } from './links.js';

/** A coloured badge with the level; the reason and message as its tooltip. */
export function healthBadge(health: Health): Html {
  return html`<span class="health ${health.level}" data-health="${health.level}" title="${health.reason}: ${health.message}">${health.level}</span>`;
}

/** A link to an object's page, labelled with its name. */
export function objectLink(kind: KindKey, namespace: string, name: string, label?: string): Html {
  return html`<a href="${objectHref(kind, namespace, name)}">${label ?? name}</a>`;
}

/** An RFC 3339 time as a `<time>` element, shown as written (UTC). */
export function timeText(value: string | undefined): Html {
  if (!value) return html`<span class="muted">—</span>`;
  return html`<time datetime="${value}">${value.replace('T', ' ').replace('Z', ' UTC')}</time>`;
}

/** The note shown instead of an empty table. */
export function emptyNote(text: string): Html {
  return html`<p class="empty">${text}</p>`;
}
