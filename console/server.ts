/**
 * The console's HTTP server: sign-in, the pages, and health endpoints, on Node's own `http`
 * (no framework: a handful of routes, all server-rendered).
 *
 * Every page request is authenticated and authorised before anything is read: no token, or a
 * token the API server does not accept, gets the sign-in page with 401 and no data. Then the
 * viewer's verdicts for the namespaces in the cache are gathered (`access.ts`,
 * `access-review.ts`: cached SubjectAccessReviews), and the page renders from the informer
 * caches through `VisibleObjects`. Responses are never cached by the browser (`no-store`),
 * and a Content-Security-Policy forbids scripts: the pages have none.
 *
 * `Server-Timing: render;dur=<ms>` reports each page's server time (review and render), which
 * the console's benchmark reads.
 */
import http from 'node:http';
import type { Logger } from 'pino';
import {
  bearerToken,
  cachedNamespaces,
  clearedTokenCookie,
  permissionsOf,
  tokenCookie,
  VisibleObjects,
  verdictsFor,
} from './access.js';
import type { AccessReviewer } from './access-review.js';
import type { ConsoleCache } from './cache.js';
import { type Html, html } from './html.js';
import { renderDocument, type Shell } from './layout.js';
import { loginBody, safeNext } from './login.js';
import { checkPages, matchPage, type Page, type PageContext, PageNotFound } from './routes.js';
import type { RunRecords } from './run-records.js';

export interface ConsoleServerOptions {
  cache: ConsoleCache;
  reviewer: AccessReviewer;
  pages: readonly Page[];
  runRecords: RunRecords | undefined;
  /** The servers' metrics sampler the serving page draws from; undefined: none. */
  serving?: PageContext['serving'];
  log: Logger;
  /** Mark the token cookie `Secure` (when the console is reached over HTTPS). */
  secureCookie: boolean;
  /** How long the sign-in cookie lives. Default 8 hours. */
  cookieMaxAgeSeconds?: number;
  now?: () => Date;
}

const securityHeaders = {
  'Cache-Control': 'no-store',
  'Content-Security-Policy':
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};

const maxFormBytes = 64 * 1024;

/** The request handler of the console (see `createConsoleServer`). */
export function consoleHandler(options: ConsoleServerOptions) {
  checkPages(options.pages);
  const now = options.now ?? (() => new Date());
  const nav = options.pages.filter((p) => p.nav).map((p) => ({ title: p.title, path: p.path }));
  const cookie = {
    secure: options.secureCookie,
    maxAgeSeconds: options.cookieMaxAgeSeconds ?? 8 * 3600,
  };

  const send = (
    res: http.ServerResponse,
    status: number,
    body: string,
    headers: Record<string, string> = {},
  ) => {
    res.writeHead(status, {
      'Content-Type': 'text/html; charset=utf-8',
      ...securityHeaders,
      ...headers,
    });
    res.end(body);
  };

  const loginPage = (
    res: http.ServerResponse,
    status: number,
    problem?: string,
    next?: string,
    headers: Record<string, string> = {},
  ) =>
    send(
      res,
      status,
      renderDocument({
        title: 'Sign in',
        body: loginBody({ problem, next }),
        path: '/login',
        nav: [],
      }),
      headers,
    );

  async function signIn(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const form = new URLSearchParams(await readBody(req, maxFormBytes));
    const token = (form.get('token') ?? '').trim();
    const next = safeNext(form.get('next'));
    if (token === '') return loginPage(res, 400, 'Paste a token.', next);
    const viewer = await options.reviewer.viewerOf(token).catch(() => undefined);
    if (!viewer) return loginPage(res, 401, 'The API server did not accept this token.', next);
    options.log.info({ user: viewer.username }, 'Signed a viewer in to the console');
    res.writeHead(303, {
      Location: next,
      'Set-Cookie': tokenCookie(token, cookie),
      ...securityHeaders,
    });
    res.end();
  }

  async function page(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
  ): Promise<void> {
    const started = performance.now();
    const match = matchPage(options.pages, url.pathname);
    const token = bearerToken({
      authorization: req.headers.authorization,
      cookie: req.headers.cookie,
    });
    const next = url.pathname + url.search;
    if (!token) return loginPage(res, 401, undefined, next);
    const viewer = await options.reviewer.viewerOf(token).catch(() => undefined);
    if (!viewer) {
      return loginPage(
        res,
        401,
        'Your token is not (or no longer) accepted by the API server; sign in again.',
        next,
        {
          'Set-Cookie': clearedTokenCookie(cookie),
        },
      );
    }
    const namespaces = cachedNamespaces(options.cache);
    const verdicts = await verdictsFor(
      (kind, ns) => options.reviewer.mayGet(viewer, kind, ns),
      namespaces,
    );
    const objects = new VisibleObjects(options.cache, permissionsOf(verdicts), namespaces);
    const requested = url.searchParams.get('namespace') || undefined;
    const shell: Omit<Shell, 'title' | 'body'> = {
      path: url.pathname,
      nav,
      viewer,
      namespaces: objects.namespaces,
      namespace: requested,
    };
    let status = 200;
    let title: string;
    let body: Html;
    let refreshSeconds: number | undefined;
    if (!match) {
      status = 404;
      title = 'Not found';
      body = html`<p>No page at ${url.pathname}.</p>`;
    } else {
      try {
        const rendered = await match.page.render({
          viewer,
          objects,
          namespace: requested,
          params: match.params,
          query: url.searchParams,
          runRecords: options.runRecords,
          serving: options.serving,
          now: now(),
        });
        title = ('body' in rendered ? rendered.title : undefined) ?? match.page.title;
        body = 'body' in rendered ? rendered.body : rendered;
        refreshSeconds = 'body' in rendered ? rendered.refreshSeconds : undefined;
      } catch (error) {
        if (!(error instanceof PageNotFound)) throw error;
        status = 404;
        title = 'Not found';
        body = html`<p>${error.message}</p>`;
      }
    }
    const document = renderDocument({ ...shell, title, body, refreshSeconds });
    const ms = performance.now() - started;
    send(res, status, document, { 'Server-Timing': `render;dur=${ms.toFixed(1)}` });
    options.log.debug(
      { path: url.pathname, status, user: viewer.username, ms: Math.round(ms) },
      'Served a console page',
    );
  }

  return async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    try {
      if (url.pathname === '/healthz')
        return void res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
      if (url.pathname === '/readyz') {
        const unsynced = options.cache.unsynced();
        res.writeHead(unsynced.length === 0 ? 200 : 503, { 'Content-Type': 'text/plain' });
        return void res.end(
          unsynced.length === 0 ? 'ok\n' : `caches not synced: ${unsynced.join(', ')}\n`,
        );
      }
      if (url.pathname === '/login') {
        if (req.method === 'POST') return await signIn(req, res);
        return loginPage(res, 200, undefined, safeNext(url.searchParams.get('next')));
      }
      if (url.pathname === '/logout') {
        res.writeHead(303, {
          Location: '/login',
          'Set-Cookie': clearedTokenCookie(cookie),
          ...securityHeaders,
        });
        return void res.end();
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' });
        return void res.end('Method not allowed\n');
      }
      await page(req, res, url);
    } catch (error) {
      options.log.error({ err: error, path: url.pathname }, 'Failed to serve a console request');
      if (!res.headersSent)
        send(
          res,
          500,
          renderDocument({
            title: 'Error',
            body: html`<p class="error">The console failed to render this page; its log says why.</p>`,
            path: url.pathname,
            nav,
          }),
        );
      else res.end();
    }
  };
}

/** The console's HTTP server (not yet listening). */
export function createConsoleServer(options: ConsoleServerOptions): http.Server {
  const handle = consoleHandler(options);
  const server = http.createServer((req, res) => void handle(req, res));
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  return server;
}

function readBody(req: http.IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new Error(`Form body over ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
