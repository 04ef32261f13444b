import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { EventDedupe, EventRecorder, type EventRecorderOptions, microTime } from './events.js';
import { ApiError, type KubeClient } from './kube-client.js';

const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns', uid: 'u1' } };

describe('EventDedupe', () => {
  const key = EventDedupe.keyOf(pod, 'Warning', 'Failed', 'boom');

  it('creates the first event, then updates it within the window, then creates again after it', () => {
    const d = new EventDedupe(60_000);
    expect(d.decide(key, 0)).toEqual({ action: 'create' });
    d.remember(key, { namespace: 'ns', name: 'p.1', count: 1, lastSeenMs: 0 });
    expect(d.decide(key, 30_000)).toEqual({
      action: 'update',
      namespace: 'ns',
      name: 'p.1',
      count: 2,
    });
    d.remember(key, { namespace: 'ns', name: 'p.1', count: 2, lastSeenMs: 30_000 });
    expect(d.decide(key, 90_000)).toEqual({
      action: 'update',
      namespace: 'ns',
      name: 'p.1',
      count: 3,
    });
    expect(d.decide(key, 90_001)).toEqual({ action: 'create' });
  });

  it.each([
    { what: 'reason', other: EventDedupe.keyOf(pod, 'Warning', 'Other', 'boom') },
    { what: 'note', other: EventDedupe.keyOf(pod, 'Warning', 'Failed', 'bang') },
    { what: 'type', other: EventDedupe.keyOf(pod, 'Normal', 'Failed', 'boom') },
    {
      what: 'object',
      other: EventDedupe.keyOf(
        { ...pod, metadata: { ...pod.metadata, uid: 'u2' } },
        'Warning',
        'Failed',
        'boom',
      ),
    },
  ])('treats a different $what as a different event', ({ other }) => {
    const d = new EventDedupe(60_000);
    d.remember(key, { namespace: 'ns', name: 'p.1', count: 1, lastSeenMs: 0 });
    expect(d.decide(other, 1)).toEqual({ action: 'create' });
  });

  it('forgets the stalest entry beyond its size limit', () => {
    const d = new EventDedupe(60_000, 2);
    d.remember('a', { namespace: 'ns', name: 'a', count: 1, lastSeenMs: 0 });
    d.remember('b', { namespace: 'ns', name: 'b', count: 1, lastSeenMs: 0 });
    d.remember('c', { namespace: 'ns', name: 'c', count: 1, lastSeenMs: 0 });
    expect(d.decide('a', 1)).toEqual({ action: 'create' });
    expect(d.decide('c', 1).action).toBe('update');
  });

  it('forgets entries older than the window as newer ones are remembered', () => {
    const d = new EventDedupe(60_000);
    d.remember('a', { namespace: 'ns', name: 'a', count: 1, lastSeenMs: 0 });
    d.remember('b', { namespace: 'ns', name: 'b', count: 1, lastSeenMs: 30_000 });
    expect(d.size).toBe(2);
    d.remember('c', { namespace: 'ns', name: 'c', count: 1, lastSeenMs: 60_001 });
    expect(d.size).toBe(2);
    expect(d.decide('b', 60_001).action).toBe('update');
  });
});

describe('microTime', () => {
  it('has six fractional digits', () => {
    expect(microTime(new Date('2025-01-02T03:04:05.678Z'))).toBe('2025-01-02T03:04:05.678000Z');
  });
});

describe('EventRecorder', () => {
  /** A recorder with a silent log, over `client`. */
  const recorder = (
    client: EventRecorderOptions['client'],
    options: Partial<EventRecorderOptions> = {},
  ) =>
    new EventRecorder({
      client,
      log: pino({ level: 'silent' }),
      controller: 'c',
      instance: 'i',
      ...options,
    });

  function fakeClient(patchError?: unknown) {
    const calls: string[] = [];
    const client = {
      create: async (_r: unknown, body: { metadata: { name: string } }) => {
        calls.push(`create ${body.metadata.name.split('.')[0]}`);
        return body;
      },
      patch: async (
        _r: unknown,
        _ns: string,
        _name: string,
        _t: string,
        body: { series: { count: number } },
      ) => {
        if (patchError) throw patchError;
        calls.push(`patch count=${body.series.count}`);
        return {};
      },
    } as unknown as Pick<KubeClient, 'create' | 'patch'>;
    return { client, calls };
  }

  it('creates once and then counts repeats as a series', async () => {
    const { client, calls } = fakeClient();
    const r = recorder(client);
    await r.record(pod, 'Warning', 'Failed', 'Reconcile', 'boom');
    await r.record(pod, 'Warning', 'Failed', 'Reconcile', 'boom');
    await r.record(pod, 'Warning', 'Failed', 'Reconcile', 'boom');
    expect(calls).toEqual(['create p', 'patch count=2', 'patch count=3']);
  });

  it('sends repeats recorded concurrently one after the other, as one series', async () => {
    const { client, calls } = fakeClient();
    const r = recorder(client);
    void r.record(pod, 'Warning', 'Failed', 'Reconcile', 'boom');
    void r.record(pod, 'Warning', 'Failed', 'Reconcile', 'boom');
    void r.record(pod, 'Normal', 'Other', 'Reconcile', 'fine');
    await r.flush();
    expect(calls.sort()).toEqual(['create p', 'create p', 'patch count=2']);
  });

  it('sends a bounded number at once and drops what exceeds the pending limit', async () => {
    let inFlight = 0;
    let mostInFlight = 0;
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const created: string[] = [];
    const client = {
      create: async (_r: unknown, body: { note: string }) => {
        inFlight += 1;
        mostInFlight = Math.max(mostInFlight, inFlight);
        await held;
        inFlight -= 1;
        created.push(body.note);
        return body;
      },
      patch: async () => ({}),
    } as unknown as Pick<KubeClient, 'create' | 'patch'>;
    const r = recorder(client, { maxConcurrentSends: 2, maxPendingEvents: 5 });
    for (let i = 0; i < 8; i++) void r.record(pod, 'Warning', 'Failed', 'Reconcile', `n${i}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(inFlight).toBe(2);
    release();
    await r.flush();
    expect(mostInFlight).toBe(2);
    expect(created.sort()).toEqual(['n0', 'n1', 'n2', 'n3', 'n4']);
    // Room again once sent.
    await r.record(pod, 'Warning', 'Failed', 'Reconcile', 'n8');
    expect(created).toContain('n8');
  });

  it('creates a fresh event when the remembered one is gone', async () => {
    const { client, calls } = fakeClient(new ApiError(404, { reason: 'NotFound' }, 'gone'));
    const r = recorder(client);
    await r.record(pod, 'Normal', 'Done', 'Reconcile', 'ok');
    await r.record(pod, 'Normal', 'Done', 'Reconcile', 'ok');
    expect(calls).toEqual(['create p', 'create p']);
  });

  it('never throws when the API fails', async () => {
    const client = {
      create: async () => {
        throw new Error('down');
      },
      patch: async () => ({}),
    } as unknown as Pick<KubeClient, 'create' | 'patch'>;
    const r = recorder(client);
    await expect(r.record(pod, 'Normal', 'Done', 'Reconcile', 'ok')).resolves.toBeUndefined();
  });
});
