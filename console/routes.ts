/**
 * The console's pages and how a URL finds one: a typed registry, the way Backstage plugins or
 * a Go `http.ServeMux` with patterns declare routes, without a framework.
 *
 * A page is a path pattern (`/training/:namespace/:name`), a title, and `render(context)`,
 * which returns the page's body as `Html` (the layout adds the shell: nav, namespace filter,
 * viewer). The context is all a page may use:
 *
 * - `objects`: the informer caches as this viewer may see them (`VisibleObjects`): every list
 *   and get is already filtered by the viewer's SubjectAccessReview verdicts, so a page cannot
 *   show what its viewer may not `get`.
 * - `namespace`: the namespace filter (`?namespace=`), undefined for all namespaces; pages
 *   pass it to `objects.list(kind, namespace)`.
 * - `params` (from the path pattern), `query` (the URL's query), `now`.
 * - `runRecords`: the object store's run records (undefined when the install configured no
 *   object store); read only keys built from objects got through `objects`.
 * - `serving`: what the servers' metrics sampler kept of each InferenceService
 *   (`serving/sampler.ts`; undefined when the console does not sample); read only for an
 *   InferenceService got through `objects`.
 *
 * A page reads only from these — no API call per request — so it renders in time proportional
 * to the objects it shows (issue 25: p95 ≤ 200 ms with 1,000 objects). To say "no such
 * object" (also for one the viewer may not get: the two look alike), throw `PageNotFound`.
 *
 * Adding a page: write `console/pages/<name>.ts` exporting a `Page`, and add it to `pages` in
 * `console/pages/index.ts`. `nav: true` lists it in the navigation bar.
 */
import type { Viewer, VisibleObjects } from './access.js';
import type { Html } from './html.js';
import type { RunRecords } from './run-records.js';
import type { ServingHistory } from './serving/sampler.js';

/** What a page renders from. */
export interface PageContext {
  viewer: Viewer;
  objects: VisibleObjects;
  /** The namespace filter; undefined: all namespaces the viewer may see. */
  namespace: string | undefined;
  /** Values of the path pattern's `:name` segments, decoded. */
  params: Readonly<Record<string, string>>;
  query: URLSearchParams;
  runRecords: RunRecords | undefined;
  serving: { history(namespace: string, name: string): ServingHistory } | undefined;
  now: Date;
}

/** A rendered page: its body, and a title when it depends on what is shown. */
export interface Rendered {
  title?: string;
  body: Html;
  /** Reload the page every this many seconds (a live run), with `<meta http-equiv=refresh>`. */
  refreshSeconds?: number;
}

/** One page of the console. */
export interface Page {
  /** A path pattern: literal segments and `:param` segments, e.g. `/serving/:namespace/:name`. */
  path: string;
  /** The page's title (and its label in the navigation bar). */
  title: string;
  /** Listed in the navigation bar (pages without parameters). */
  nav?: boolean;
  render(context: PageContext): Promise<Html | Rendered> | Html | Rendered;
}

/** Thrown by `render` when what the URL names does not exist or is not visible: a 404. */
export class PageNotFound extends Error {
  override name = 'PageNotFound';
}

/** The page whose pattern matches `pathname`, and the values of its parameters. */
export function matchPage(
  pages: readonly Page[],
  pathname: string,
): { page: Page; params: Record<string, string> } | undefined {
  const segments = pathname.split('/').filter((s) => s !== '');
  for (const page of pages) {
    const pattern = page.path.split('/').filter((s) => s !== '');
    if (pattern.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const matched = pattern.every((part, i) => {
      const segment = segments[i]!;
      if (!part.startsWith(':')) return part === segment;
      try {
        params[part.slice(1)] = decodeURIComponent(segment);
        return true;
      } catch {
        return false;
      }
    });
    if (matched) return { page, params };
  }
  return undefined;
}

/** Checks that no two pages have the same pattern; throws naming them. */
export function checkPages(pages: readonly Page[]): void {
  const seen = new Map<string, string>();
  for (const page of pages) {
    const shape = page.path.replace(/:[^/]+/g, ':');
    const other = seen.get(shape);
    if (other) throw new Error(`Pages ${other} and ${page.path} have the same path pattern`);
    seen.set(shape, page.path);
  }
}
