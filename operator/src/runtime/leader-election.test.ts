import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError, type KubeClient } from './kube-client.js';
import {
  decideLeaseAction,
  type LeaderElectionTiming,
  LeaderElector,
  type LeaseObject,
  renewDeadlinePassed,
} from './leader-election.js';

const timing: LeaderElectionTiming = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
};
const now = Date.parse('2025-01-01T00:01:00Z');
const observed = (
  holderIdentity: string,
  observedAgoMs: number,
  extra: Record<string, unknown> = {},
) => ({
  spec: {
    holderIdentity,
    leaseDurationSeconds: 15,
    renewTime: '2025-01-01T00:00:00.000000Z',
    leaseTransitions: 3,
    ...extra,
  },
  observedAtMs: now - observedAgoMs,
});

describe('decideLeaseAction', () => {
  it.each([
    { name: 'no lease: create it', lease: undefined, action: 'create', transitions: 0 },
    { name: 'ours: renew', lease: observed('me', 1_000), action: 'renew', transitions: 3 },
    {
      name: 'ours even if it looks expired: renew',
      lease: observed('me', 60_000),
      action: 'renew',
      transitions: 3,
    },
    { name: 'held by another and fresh: wait', lease: observed('other', 14_999), action: 'wait' },
    {
      name: 'held by another and expired: acquire',
      lease: observed('other', 15_000),
      action: 'acquire',
      transitions: 4,
    },
    {
      name: 'released (empty holder): acquire at once',
      lease: observed('', 0),
      action: 'acquire',
      transitions: 4,
    },
    {
      name: 'expiry uses the holder duration, not ours',
      lease: observed('other', 20_000, { leaseDurationSeconds: 30 }),
      action: 'wait',
    },
  ])('$name', ({ lease, action, transitions }) => {
    const decision = decideLeaseAction(lease, now, 'me', timing);
    expect(decision.action).toBe(action);
    if (decision.action === 'wait') {
      expect(decision.holder).toBe('other');
      return;
    }
    expect(decision.spec.holderIdentity).toBe('me');
    expect(decision.spec.leaseDurationSeconds).toBe(15);
    expect(decision.spec.renewTime).toBe('2025-01-01T00:01:00.000000Z');
    expect(decision.spec.leaseTransitions).toBe(transitions);
  });

  it('keeps acquireTime on renew and sets it on acquire', () => {
    const renew = decideLeaseAction(observed('me', 0, { acquireTime: 'A' }), now, 'me', timing);
    expect(renew.action === 'renew' && renew.spec.acquireTime).toBe('A');
    const acquire = decideLeaseAction(observed('', 0, { acquireTime: 'A' }), now, 'me', timing);
    expect(acquire.action === 'acquire' && acquire.spec.acquireTime).toBe(
      '2025-01-01T00:01:00.000000Z',
    );
  });

  it('reports when a waiting candidate may take over', () => {
    const decision = decideLeaseAction(observed('other', 5_000), now, 'me', timing);
    expect(decision).toEqual({ action: 'wait', holder: 'other', expiresAtMs: now + 10_000 });
  });
});

describe('renewDeadlinePassed', () => {
  it.each([
    { sinceRenewMs: 9_999, passed: false },
    { sinceRenewMs: 10_000, passed: true },
  ])('$sinceRenewMs ms after the last renewal: $passed', ({ sinceRenewMs, passed }) => {
    expect(renewDeadlinePassed(now - sinceRenewMs, now, timing)).toBe(passed);
  });
});

describe('LeaderElector', () => {
  const silent = pino({ level: 'silent' });

  /** A lease store in memory; `hang` makes every later request never answer. */
  function fakeLeaseClient() {
    let stored: LeaseObject | undefined;
    let rv = 0;
    const state = { hang: false };
    const calls = { get: 0, replace: 0 };
    const never = new Promise<never>(() => undefined);
    const client = {
      get: async () => {
        calls.get++;
        if (state.hang) return never;
        if (!stored) throw new ApiError(404, { reason: 'NotFound' }, 'not found');
        return structuredClone(stored);
      },
      create: async (_r: unknown, body: LeaseObject) => {
        if (state.hang) return never;
        stored = { ...body, metadata: { ...body.metadata, resourceVersion: String(++rv) } };
        return structuredClone(stored);
      },
      replace: async (_r: unknown, body: LeaseObject) => {
        calls.replace++;
        if (state.hang) return never;
        if (body.metadata?.resourceVersion !== stored?.metadata?.resourceVersion) {
          throw new ApiError(409, { reason: 'Conflict' }, 'conflict');
        }
        stored = { ...body, metadata: { ...body.metadata, resourceVersion: String(++rv) } };
        return structuredClone(stored);
      },
    } as unknown as Pick<KubeClient, 'get' | 'create' | 'replace'>;
    /** Another replica writes the Lease as its holder (a takeover this one has not read). */
    const steal = (holder: string) => {
      stored = {
        ...stored,
        metadata: { ...stored?.metadata, resourceVersion: String(++rv) },
        spec: { ...stored?.spec, holderIdentity: holder },
      };
    };
    return { client, state, calls, steal, stored: () => stored };
  }

  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('stops leading once the renew deadline passes, even while a renewal request hangs', async () => {
    const { client, state } = fakeLeaseClient();
    const events: string[] = [];
    const elector = new LeaderElector({
      client,
      log: silent,
      namespace: 'ns',
      name: 'lease',
      identity: 'me',
      ...timing,
      onStartedLeading: () => void events.push(`started@${Date.now()}`),
      onStoppedLeading: () => void events.push(`stopped@${Date.now()}`),
    });
    const t0 = Date.now();
    elector.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(events).toEqual([`started@${t0}`]);
    await vi.advanceTimersByTimeAsync(4_000); // renewals at 2 s and 4 s succeed
    state.hang = true;
    await vi.advanceTimersByTimeAsync(9_999);
    expect(elector.isLeader).toBe(true);
    await vi.advanceTimersByTimeAsync(1);
    expect(events).toEqual([`started@${t0}`, `stopped@${t0 + 14_000}`]);
    expect(elector.isLeader).toBe(false);
  });

  it('renews as leader with one request each time, not a read and a write', async () => {
    const { client, calls, stored } = fakeLeaseClient();
    const elector = new LeaderElector({
      client,
      log: silent,
      namespace: 'ns',
      name: 'lease',
      identity: 'me',
      ...timing,
      onStartedLeading: () => undefined,
      onStoppedLeading: () => undefined,
    });
    elector.start();
    await vi.advanceTimersByTimeAsync(0);
    const afterAcquiring = { ...calls };
    await vi.advanceTimersByTimeAsync(6_000); // renewals at 2, 4 and 6 s
    expect(calls.get - afterAcquiring.get).toBe(0);
    expect(calls.replace - afterAcquiring.replace).toBe(3);
    expect(stored()?.spec?.holderIdentity).toBe('me');
    expect(elector.isLeader).toBe(true);
    await elector.stop();
  });

  it('reads the Lease when its renewal conflicts, and stops leading if another replica holds it', async () => {
    const { client, steal } = fakeLeaseClient();
    const events: string[] = [];
    const elector = new LeaderElector({
      client,
      log: silent,
      namespace: 'ns',
      name: 'lease',
      identity: 'me',
      ...timing,
      onStartedLeading: () => void events.push('started'),
      onStoppedLeading: () => void events.push('stopped'),
    });
    elector.start();
    await vi.advanceTimersByTimeAsync(0);
    steal('other');
    await vi.advanceTimersByTimeAsync(2_000);
    expect(events).toEqual(['started', 'stopped']);
    expect(elector.isLeader).toBe(false);
  });

  it('releases the lease with an empty holder and a 1 s duration', async () => {
    const { client, stored } = fakeLeaseClient();
    const elector = new LeaderElector({
      client,
      log: silent,
      namespace: 'ns',
      name: 'lease',
      identity: 'me',
      ...timing,
      onStartedLeading: () => undefined,
      onStoppedLeading: () => {
        throw new Error('release is not a loss');
      },
    });
    elector.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(stored()?.spec?.holderIdentity).toBe('me');
    await elector.release();
    expect(stored()?.spec).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1 });
    await vi.advanceTimersByTimeAsync(30_000);
  });
});
