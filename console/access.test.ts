import { describe, expect, it } from 'vitest';
import {
  accessReviewRequest,
  allowedByReview,
  bearerToken,
  cachedNamespaces,
  permissionsOf,
  TOKEN_COOKIE,
  tokenCookie,
  type Verdicts,
  VisibleObjects,
  verdictsFor,
  viewerFromTokenReview,
} from './access.js';
import { staticConsoleCache } from './cache.js';
import type { KindKey } from './kinds.js';
import { latheObject } from './testdata/objects.js';

describe('bearerToken', () => {
  it.each([
    ['the Authorization header', { authorization: 'Bearer abc.def' }, 'abc.def'],
    ['a lower-case scheme', { authorization: 'bearer abc' }, 'abc'],
    ['the cookie', { cookie: `other=1; ${TOKEN_COOKIE}=tok%2Fen` }, 'tok/en'],
    ['the header over the cookie', { authorization: 'Bearer h', cookie: `${TOKEN_COOKIE}=c` }, 'h'],
    ['no token', {}, undefined],
    ['an empty cookie', { cookie: `${TOKEN_COOKIE}=` }, undefined],
    ['a Basic header', { authorization: 'Basic dXNlcjpwYXNz' }, undefined],
    ['a malformed cookie value', { cookie: `${TOKEN_COOKIE}=%E0%A4%A` }, undefined],
  ])('reads %s', (_, headers, expected) => {
    expect(bearerToken(headers)).toBe(expected);
  });
});

describe('tokenCookie', () => {
  it('is HttpOnly and SameSite=Strict, Secure only when asked', () => {
    const plain = tokenCookie('a b', { secure: false, maxAgeSeconds: 60 });
    expect(plain).toBe(`${TOKEN_COOKIE}=a%20b; Path=/; HttpOnly; SameSite=Strict; Max-Age=60`);
    expect(tokenCookie('t', { secure: true, maxAgeSeconds: 1 })).toMatch(/; Secure$/);
    expect(bearerToken({ cookie: plain.split(';')[0] })).toBe('a b');
  });
});

describe('viewerFromTokenReview', () => {
  it.each([
    [
      'an accepted token',
      {
        status: {
          authenticated: true,
          user: {
            username: 'system:serviceaccount:a:viewer',
            uid: 'u1',
            groups: ['system:serviceaccounts'],
          },
        },
      },
      { username: 'system:serviceaccount:a:viewer', uid: 'u1', groups: ['system:serviceaccounts'] },
    ],
    [
      'no groups',
      { status: { authenticated: true, user: { username: 'alice' } } },
      { username: 'alice', groups: [] },
    ],
    [
      'a rejected token',
      { status: { authenticated: false, error: 'invalid bearer token' } },
      undefined,
    ],
    ['no user name', { status: { authenticated: true, user: {} } }, undefined],
    ['no answer', undefined, undefined],
  ])('reads %s', (_, answer, expected) => {
    expect(viewerFromTokenReview(answer)).toEqual(expected);
  });
});

describe('accessReviewRequest', () => {
  it('asks for get on the Lathe resource in the namespace, as the viewer', () => {
    const viewer = { username: 'alice', uid: 'u', groups: ['team'], extra: { scopes: ['x'] } };
    expect(accessReviewRequest(viewer, 'trainingjobs', 'a').spec).toEqual({
      user: 'alice',
      uid: 'u',
      groups: ['team'],
      extra: { scopes: ['x'] },
      resourceAttributes: {
        group: 'lathe.dev',
        resource: 'trainingjobs',
        verb: 'get',
        namespace: 'a',
      },
    });
    expect(accessReviewRequest(viewer, 'datasets').spec.resourceAttributes).not.toHaveProperty(
      'namespace',
    );
  });

  it.each([
    [{ status: { allowed: true } }, true],
    [{ status: { allowed: false, denied: true } }, false],
    [{ status: {} }, false],
    [undefined, false],
  ])('reads the verdict %j as %s', (answer, expected) => {
    expect(allowedByReview(answer)).toBe(expected);
  });
});

describe('verdictsFor', () => {
  it('asks per namespace only for kinds not allowed cluster-wide, and denies on failure', async () => {
    const asked: string[] = [];
    const verdicts = await verdictsFor(
      async (kind, ns) => {
        asked.push(`${kind}/${ns ?? '*'}`);
        if (kind === 'dataset') return ns === undefined;
        if (kind === 'batchPrediction' && ns === 'b') throw new Error('API server down');
        return ns === 'a' || ns === 'b';
      },
      ['a', 'b', 'c'],
    );
    expect(verdicts.dataset).toBe('all');
    expect([...(verdicts.trainingJob as Set<string>)].sort()).toEqual(['a', 'b']);
    expect([...(verdicts.batchPrediction as Set<string>)]).toEqual(['a']);
    expect(asked.filter((a) => a.startsWith('dataset/'))).toEqual(['dataset/*']);
    expect(asked.filter((a) => a.startsWith('modelVersion/')).sort()).toEqual([
      'modelVersion/*',
      'modelVersion/a',
      'modelVersion/b',
      'modelVersion/c',
    ]);
  });
});

describe('VisibleObjects', () => {
  const cache = staticConsoleCache({
    dataset: [
      latheObject('dataset', { namespace: 'a', name: 'd1' }),
      latheObject('dataset', { namespace: 'b', name: 'd2' }),
    ],
    trainingJob: [
      latheObject('trainingJob', { namespace: 'a', name: 't1' }),
      latheObject('trainingJob', { namespace: 'c', name: 't2' }),
    ],
  });
  const only = (namespaces: string[]): Verdicts =>
    Object.fromEntries(
      (
        [
          'dataset',
          'trainingJob',
          'modelVersion',
          'inferenceService',
          'retrainPolicy',
          'batchPrediction',
        ] as KindKey[]
      ).map((k) => [k, new Set(namespaces)]),
    ) as unknown as Verdicts;

  it('lists the namespaces holding objects', () => {
    expect(cachedNamespaces(cache)).toEqual(['a', 'b', 'c']);
  });

  it('shows a viewer of namespace a only what is in a', () => {
    const visible = new VisibleObjects(cache, permissionsOf(only(['a'])), cachedNamespaces(cache));
    expect(visible.namespaces).toEqual(['a']);
    expect(visible.list('dataset').map((d) => d.metadata.name)).toEqual(['d1']);
    expect(visible.list('dataset', 'b')).toEqual([]);
    expect(visible.get('dataset', 'b', 'd2')).toBeUndefined();
    expect(visible.get('trainingJob', 'a', 't1')?.metadata.name).toBe('t1');
    expect(visible.list('trainingJob', 'c')).toEqual([]);
  });

  it('shows a viewer with no rights nothing', () => {
    const visible = new VisibleObjects(cache, permissionsOf(only([])), cachedNamespaces(cache));
    expect(visible.namespaces).toEqual([]);
    expect(visible.list('dataset')).toEqual([]);
    expect(visible.list('trainingJob')).toEqual([]);
  });

  it('shows a cluster-wide viewer of one kind all of that kind only', () => {
    const verdicts = { ...only([]), dataset: 'all' } as Verdicts;
    const visible = new VisibleObjects(cache, permissionsOf(verdicts), cachedNamespaces(cache));
    expect(visible.list('dataset').map((d) => d.metadata.name)).toEqual(['d1', 'd2']);
    expect(visible.list('trainingJob')).toEqual([]);
    expect(visible.namespaces).toEqual(['a', 'b', 'c']);
  });
});
