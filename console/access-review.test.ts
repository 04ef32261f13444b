import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { KubeAccessReviewer } from './access-review.js';

const log = pino({ level: 'silent' });
const alice = { username: 'alice', groups: ['team'] };

// biome-ignore lint/suspicious/noExplicitAny: a review request's JSON, read by the assertions
type Body = any;

function fakeApi(answer: (path: string, body: Body) => unknown) {
  const calls: { path: string; body: Body }[] = [];
  return {
    calls,
    request: async (_method: string, path: string, options: { body: unknown }) => {
      calls.push({ path, body: options.body });
      return answer(path, options.body);
    },
  };
}

describe('KubeAccessReviewer', () => {
  it('asks TokenReview once per token within the time-to-live, then again', async () => {
    const api = fakeApi(() => ({ status: { authenticated: true, user: { username: 'alice' } } }));
    let now = 0;
    const reviewer = new KubeAccessReviewer({
      request: api.request,
      log,
      ttlMs: 30_000,
      now: () => now,
    });
    await Promise.all([reviewer.viewerOf('t'), reviewer.viewerOf('t')]);
    expect(await reviewer.viewerOf('t')).toEqual({ username: 'alice', groups: [] });
    expect(api.calls).toHaveLength(1);
    expect(api.calls[0]?.path).toBe('/apis/authentication.k8s.io/v1/tokenreviews');
    expect(api.calls[0]?.body.spec).toEqual({ token: 't' });
    now = 30_001;
    await reviewer.viewerOf('t');
    expect(api.calls).toHaveLength(2);
  });

  it('keys verdicts by viewer, kind and namespace', async () => {
    const api = fakeApi((_, body) => ({
      status: {
        allowed: body.spec.resourceAttributes.namespace === 'a' && body.spec.user === 'alice',
      },
    }));
    const reviewer = new KubeAccessReviewer({ request: api.request, log });
    expect(await reviewer.mayGet(alice, 'trainingJob', 'a')).toBe(true);
    expect(await reviewer.mayGet(alice, 'trainingJob', 'b')).toBe(false);
    expect(await reviewer.mayGet({ username: 'bob', groups: [] }, 'trainingJob', 'a')).toBe(false);
    expect(await reviewer.mayGet(alice, 'trainingJob', 'a')).toBe(true);
    expect(api.calls).toHaveLength(3);
    expect(api.calls[0]?.path).toBe('/apis/authorization.k8s.io/v1/subjectaccessreviews');
    expect(api.calls[0]?.body.spec.resourceAttributes).toEqual({
      group: 'lathe.dev',
      resource: 'trainingjobs',
      verb: 'get',
      namespace: 'a',
    });
  });

  it('does not keep a failed review: the next request asks again', async () => {
    let fail = true;
    const api = fakeApi(() => {
      if (fail) throw new Error('connection refused');
      return { status: { allowed: true } };
    });
    const reviewer = new KubeAccessReviewer({ request: api.request, log });
    await expect(reviewer.mayGet(alice, 'dataset', 'a')).rejects.toThrow('connection refused');
    fail = false;
    expect(await reviewer.mayGet(alice, 'dataset', 'a')).toBe(true);
    expect(api.calls).toHaveLength(2);
  });

  it('keeps at most maxEntries answers', async () => {
    const api = fakeApi(() => ({ status: { allowed: true } }));
    const reviewer = new KubeAccessReviewer({ request: api.request, log, maxEntries: 2 });
    for (const ns of ['a', 'b', 'c', 'a']) await reviewer.mayGet(alice, 'dataset', ns);
    expect(api.calls).toHaveLength(4);
  });
});
