/**
 * The console's URLs, built in one place so every page links to the others the same way.
 * Each takes the namespace filter along (`?namespace=`), so following a link keeps the view.
 */
import { consoleKindOf, type KindKey } from './kinds.js';

/** `path` with the query parameters that are set. */
export function href(path: string, query: Record<string, string | undefined> = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, value);
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

const segment = encodeURIComponent;

/** The page of one object: `/objects/<plural>/<namespace>/<name>`. */
export function objectHref(kind: KindKey, namespace: string, name: string): string {
  return `/objects/${consoleKindOf(kind).plural}/${segment(namespace)}/${segment(name)}`;
}

/** The lineage of one model (`/lineage?namespace=…&model=…`), or of everything visible. */
export function lineageHref(namespace?: string, model?: string): string {
  return href('/lineage', { namespace, model });
}

/** The decision log, optionally of one namespace. */
export function decisionsHref(namespace?: string): string {
  return href('/decisions', { namespace });
}

/** Model comparison: the versions of one model (console-pages). */
export function modelHref(namespace: string, model: string): string {
  return `/models/${segment(namespace)}/${segment(model)}`;
}

/** Training curves of one TrainingJob (console-pages). */
export function trainingHref(namespace: string, name: string): string {
  return `/training/${segment(namespace)}/${segment(name)}`;
}

/** Serving of one InferenceService (console-pages). */
export function servingHref(namespace: string, name: string): string {
  return `/serving/${segment(namespace)}/${segment(name)}`;
}
