/**
 * The page shell every console page shares: a navigation bar, the namespace filter, who is
 * signed in, and the page's body — one HTML document with its CSS inline and no script, so
 * tables, filters and links work without JavaScript (and a Content-Security-Policy can forbid
 * scripts outright). The filter is a plain GET form (`?namespace=`), like the Kubernetes
 * dashboard's namespace selector without its client-side app. The head names an empty icon
 * (`data:,`): without one a browser asks for /favicon.ico, which, like any unknown path,
 * answers 401 or 404, and logs that as a console error on every page.
 */
import type { Viewer } from './access.js';
import { type Html, html, raw } from './html.js';
import { href } from './links.js';

/** What the shell shows around a page's body. */
export interface Shell {
  title: string;
  body: Html;
  /** The path the filter form submits to (the current page). */
  path: string;
  /** Pages in the navigation bar: label and path. */
  nav: readonly { title: string; path: string }[];
  viewer?: Viewer;
  /** The namespaces the viewer may see, for the filter; absent on the login page. */
  namespaces?: readonly string[];
  namespace?: string | undefined;
  /** Reload every this many seconds (a page showing something live); undefined: never. */
  refreshSeconds?: number | undefined;
}

const style = `
:root { color-scheme: light; --fg: #1d232b; --muted: #5b6572; --line: #d9dee5; --bg: #f6f7f9;
  --accent: #1f5fbf; --failed: #b3261e; --stalled: #b3261e; --drifting: #a15c00;
  --degraded: #a15c00; --progressing: #1f5fbf; --healthy: #1b7f3b; --unknown: #5b6572; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; gap: 16px; align-items: center; padding: 8px 20px; background: #14233c; color: #fff; }
header a { color: #dbe6f7; text-decoration: none; }
header a[aria-current="page"], header a:hover { color: #fff; text-decoration: underline; }
header .brand { font-weight: 700; color: #fff; margin-right: 8px; }
header nav { display: flex; gap: 14px; flex-wrap: wrap; }
header form { margin: 0; display: flex; gap: 6px; align-items: center; }
header .who { margin-left: auto; display: flex; gap: 10px; align-items: center; color: #dbe6f7; }
main { padding: 16px 20px 40px; max-width: 1500px; }
h1 { font-size: 22px; margin: 4px 0 12px; }
h2 { font-size: 17px; margin: 26px 0 8px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
a { color: var(--accent); }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #eef1f5; font-weight: 600; white-space: nowrap; }
td.num { font-variant-numeric: tabular-nums; }
tr:last-child td { border-bottom: none; }
.muted { color: var(--muted); }
.empty { color: var(--muted); font-style: italic; margin: 6px 0; }
.health { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 12px; font-weight: 600; color: #fff; white-space: nowrap; }
.health.failed { background: var(--failed); } .health.stalled { background: var(--stalled); }
.health.drifting { background: var(--drifting); } .health.degraded { background: var(--degraded); }
.health.progressing { background: var(--progressing); } .health.healthy { background: var(--healthy); }
.health.unknown { background: var(--unknown); }
.cards { display: flex; gap: 10px; flex-wrap: wrap; margin: 8px 0 4px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; min-width: 130px; }
.card b { display: block; font-size: 20px; }
pre { background: #fff; border: 1px solid var(--line); padding: 10px; overflow: auto; font-size: 12px; }
dl.fields { display: grid; grid-template-columns: max-content 1fr; gap: 3px 14px; background: #fff; border: 1px solid var(--line); padding: 10px; margin: 0; }
dl.fields dt { font-weight: 600; } dl.fields dd { margin: 0; }
.chain { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; }
.chain .arrow { color: var(--muted); }
.box { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 6px 10px; }
.error { background: #fdecea; border: 1px solid #f3b8b3; padding: 10px; border-radius: 6px; }
label { font-weight: 600; }
textarea { width: 100%; font: 12px monospace; }
button, select { font: inherit; }
.hint { color: var(--muted); margin: 2px 0 8px; }
.notice { background: #fff8e1; border: 1px solid #f0d48a; padding: 8px 10px; border-radius: 6px; }
.live { color: var(--progressing); font-weight: 600; }
td.best, tr.best td, tr.best th { background: #eaf6ee; font-weight: 600; }
tr.differs th { color: var(--accent); } tr.differs td { background: #fdf6e3; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
svg.chart { background: #fff; border: 1px solid var(--line); border-radius: 6px; max-width: 100%; height: auto; }
.chooser fieldset { border: 1px solid var(--line); background: #fff; border-radius: 6px; }
.chooser label { font-weight: normal; margin-right: 8px; white-space: nowrap; }
`;

/** The whole HTML document of a page. */
export function renderDocument(shell: Shell): string {
  const filter =
    shell.namespaces !== undefined
      ? html`<form method="get" action="${shell.path}" aria-label="Namespace filter">
          <label for="namespace-filter" class="muted">Namespace</label>
          <select id="namespace-filter" name="namespace">
            <option value=""${shell.namespace === undefined ? raw(' selected') : ''}>All namespaces</option>
            ${shell.namespaces.map(
              (ns) =>
                html`<option value="${ns}"${ns === shell.namespace ? raw(' selected') : ''}>${ns}</option>`,
            )}
          </select>
          <button type="submit">Show</button>
        </form>`
      : '';
  const who = shell.viewer
    ? html`<span class="who"><span title="${shell.viewer.groups.join(', ')}">${shell.viewer.username}</span>
        <form method="post" action="/logout"><button type="submit">Sign out</button></form></span>`
    : '';
  const nav = shell.nav.map(
    (item) =>
      html`<a href="${href(item.path, { namespace: shell.namespace })}"${item.path === shell.path ? raw(' aria-current="page"') : ''}>${item.title}</a>`,
  );
  return `<!doctype html>
${html`<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
${shell.refreshSeconds !== undefined ? html`<meta http-equiv="refresh" content="${shell.refreshSeconds}">` : ''}<link rel="icon" href="data:,"><title>${shell.title} · Lathe console</title><style>${raw(style)}</style></head>
<body><header><a class="brand" href="${href('/', { namespace: shell.namespace })}">Lathe</a><nav>${nav}</nav>${filter}${who}</header>
<main><h1>${shell.title}</h1>
${shell.body}
</main></body></html>`}
`;
}
