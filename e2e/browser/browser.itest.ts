/**
 * The browser harness itself, against pages served here (no cluster needed): a clean page
 * reports no problem and its link is followed; a broken one reports each kind of problem the
 * console's tests rely on it to catch; screenshots land where the docs say.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifactsRoot, ConsoleBrowser } from './browser.js';

// Chromium asks for /favicon.ico unless the page names an icon, and reports the 404 as a
// console error: the pages name an empty one, as the console's layout must.
const icon = '<link rel="icon" href="data:,">';
const pages: Record<string, string> = {
  '/': `${icon}<title>first</title><h1>First</h1><a id="next" href="/second?x=1">next</a>`,
  '/second': `${icon}<title>second</title><h1>Second</h1>`,
  // A console error, an uncaught exception, a missing image (404) and a request to a closed
  // port (failed), in that order.
  '/broken': `${icon}<h1>Broken</h1>
    <script>console.error('rendered badly'); setTimeout(() => { throw new Error('boom'); });</script>
    <img src="/missing.png">
    <script>fetch('http://127.0.0.1:1/unreachable').catch(() => {});</script>`,
};

let server: Server;
let base: string;
let browser: ConsoleBrowser;

beforeAll(async () => {
  server = createServer((request, response) => {
    const body = pages[new URL(request.url ?? '/', 'http://x').pathname];
    response.writeHead(body ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' });
    response.end(body ?? 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await ConsoleBrowser.launch('browser harness');
}, 120_000);

afterAll(async () => {
  await browser?.close();
  server?.close();
});

describe('the browser harness', () => {
  it('loads a clean page with no problem, saves its screenshot, and follows its link', async () => {
    const first = await browser.visit(`${base}/`, 'first page');
    expect(first.status).toBe(200);
    expect(first.problems).toEqual([]);
    expect(first.screenshot).toBe(`${artifactsRoot}/console/browser-harness/first-page.png`);
    const png = await readFile(first.screenshot);
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');

    const second = await browser.follow('a#next', 'second page');
    expect(second.status).toBe(200);
    expect(second.page.url()).toBe(`${base}/second?x=1`);
    expect(await second.page.textContent('h1')).toBe('Second');
    expect(second.problems).toEqual([]);
  });

  it('reports console errors, page errors, HTTP errors and failed requests', async () => {
    const broken = await browser.visit(`${base}/broken`, 'broken page');
    expect(broken.status).toBe(200);
    const kinds = (kind: string) => broken.problems.filter((p) => p.kind === kind);
    expect(kinds('console').map((p) => p.text)).toContain('rendered badly');
    expect(kinds('pageerror').map((p) => p.text)).toEqual(['boom']);
    expect(kinds('http').map((p) => p.text)).toEqual([`404 ${base}/missing.png`]);
    expect(kinds('requestfailed').map((p) => p.text)).toEqual([
      expect.stringContaining('GET http://127.0.0.1:1/unreachable'),
    ]);
  });
});
