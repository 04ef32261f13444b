import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Viewer } from './access.js';
import type { AccessReviewer } from './access-review.js';
import { staticConsoleCache } from './cache.js';
import { pages } from './pages/index.js';
import { createConsoleServer } from './server.js';
import { condition, latheObject } from './testdata/objects.js';

const viewers: Record<string, Viewer> = {
  'token-a': { username: 'viewer-a', groups: [] },
  'token-none': { username: 'nobody', groups: [] },
};
const reviewer: AccessReviewer = {
  viewerOf: async (token) => viewers[token],
  mayGet: async (viewer, _kind, ns) => viewer.username === 'viewer-a' && ns === 'team-a',
};
const cache = staticConsoleCache({
  dataset: [
    latheObject('dataset', {
      namespace: 'team-a',
      name: 'iris-a',
      status: { rows: 150, conditions: [condition('Ready', 'True', 'Ready')] },
    }),
    latheObject('dataset', { namespace: 'team-b', name: 'iris-b', status: { rows: 99 } }),
  ],
  trainingJob: [
    latheObject('trainingJob', {
      namespace: 'team-a',
      name: 'fails-a',
      status: { phase: 'Failed', failure: { reason: 'OutOfMemory', message: 'killed' } },
    }),
  ],
});

let base = '';
const server = createConsoleServer({
  cache,
  reviewer,
  pages,
  runRecords: undefined,
  log: pino({ level: 'silent' }),
  secureCookie: false,
  now: () => new Date('2026-12-07T10:05:00Z'),
});
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const get = (path: string, token?: string, cookie?: string) =>
  fetch(base + path, {
    redirect: 'manual',
    headers: {
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...(cookie ? { Cookie: cookie } : {}),
    },
  });

describe('the console server', () => {
  it.each([
    ['no token', undefined],
    ['a token the API server does not accept', 'forged'],
  ])('answers %s with 401, the sign-in form and no data', async (_, token) => {
    for (const path of ['/', '/objects/datasets/team-a/iris-a']) {
      const res = await get(path, token);
      expect(res.status).toBe(401);
      const body = await res.text();
      expect(body).toContain('name="token"');
      expect(body).not.toContain('data-name');
      expect(body).not.toContain('>150<');
      expect(body).not.toContain('OutOfMemory');
    }
    expect(await (await get('/', token)).text()).not.toContain('team-a');
  });

  it("shows a viewer of team-a team-a's objects, and not team-b's", async () => {
    const res = await get('/', 'token-a');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(res.headers.get('server-timing')).toMatch(/^render;dur=\d/);
    const body = await res.text();
    expect(body).toContain('data-name="iris-a"');
    expect(body).toMatch(/data-name="iris-a">[\s\S]*?data-column="Rows"[^>]*>150</);
    expect(body).not.toContain('iris-b');
    expect(body).not.toContain('team-b');
    expect(body).toMatch(/id="attention-table"[\s\S]*fails-a[\s\S]*OutOfMemory/);
  });

  it('answers an object the viewer may not get as not found', async () => {
    const res = await get('/objects/datasets/team-b/iris-b', 'token-a');
    expect(res.status).toBe(404);
    expect(await res.text()).not.toContain('99');
    expect((await get('/objects/datasets/team-a/iris-a', 'token-a')).status).toBe(200);
  });

  it('shows a viewer without rights nothing', async () => {
    const body = await (await get('/', 'token-none')).text();
    expect(body).not.toContain('iris-');
    expect(body).not.toContain('fails-a');
    expect(body).toContain('You may see no namespace');
  });

  it('filters by namespace, and shows nothing for a namespace the viewer may not see', async () => {
    const a = await (await get('/?namespace=team-a', 'token-a')).text();
    expect(a).toContain('<option value="team-a" selected>');
    expect(a).toContain('iris-a');
    const b = await (await get('/?namespace=team-b', 'token-a')).text();
    expect(b).not.toContain('iris-b');
  });

  it('signs in through the form: an HttpOnly cookie that later requests use', async () => {
    const res = await fetch(`${base}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: 'token-a', next: '/?namespace=team-a' }).toString(),
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/?namespace=team-a');
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    const page = await get('/', undefined, cookie.split(';')[0]);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('iris-a');
  });

  it('refuses a bad token at sign-in, and a next that leaves the site', async () => {
    const bad = await fetch(`${base}/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'token=forged',
    });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('set-cookie')).toBeNull();
    const offsite = await fetch(`${base}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'token=token-a&next=//evil.example/',
    });
    expect(offsite.headers.get('location')).toBe('/');
  });

  it('answers an unknown page with 404 and health checks without a token', async () => {
    expect((await get('/nowhere', 'token-a')).status).toBe(404);
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/readyz')).status).toBe(200);
  });
});
