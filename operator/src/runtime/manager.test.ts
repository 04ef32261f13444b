import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { OperatorMetrics } from '../observability/metrics.js';
import { defineController, done } from './controller.js';
import { ApiError, type KubeClient, type KubeList } from './kube-client.js';
import type { LeaseObject } from './leader-election.js';
import { Manager } from './manager.js';
import { builtinKind, type KubeObject, type ResourceType } from './resource.js';

const widget: ResourceType = {
  group: 'test.lathe.dev',
  version: 'v1',
  kind: 'Widget',
  plural: 'widgets',
  namespaced: true,
};

/** Empty lists, silent watches, and a Lease held in memory that the test can hand to someone else. */
function fakeCluster() {
  let lease: LeaseObject | undefined;
  let rv = 0;
  const client = {
    list: async (): Promise<KubeList> => ({
      metadata: { resourceVersion: '1' },
      items: ['a', 'b'].map((name) => ({
        apiVersion: 'test.lathe.dev/v1',
        kind: 'Widget',
        metadata: { name, namespace: 'ns', resourceVersion: '1' },
      })),
    }),
    watch: async () => ({ abort: () => undefined }),
    get: async () => {
      if (!lease) throw new ApiError(404, { reason: 'NotFound' }, 'not found');
      return structuredClone(lease);
    },
    create: async (_r: unknown, body: LeaseObject) => {
      lease = { ...body, metadata: { ...body.metadata, resourceVersion: String(++rv) } };
      return structuredClone(lease);
    },
    replace: async (_r: unknown, body: LeaseObject) => {
      // As the API server: a write from a stale read conflicts.
      if (body.metadata?.resourceVersion !== lease?.metadata?.resourceVersion)
        throw new ApiError(409, { reason: 'Conflict' }, 'conflict');
      lease = { ...body, metadata: { ...body.metadata, resourceVersion: String(++rv) } };
      return structuredClone(lease);
    },
  } as unknown as KubeClient;
  return {
    client,
    lease: () => lease,
    steal: () => {
      if (lease?.spec)
        lease = {
          ...lease,
          spec: { ...lease.spec, holderIdentity: 'other' },
          metadata: { ...lease.metadata, resourceVersion: String(++rv) },
        };
    },
  };
}

describe('Manager', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function setup() {
    const cluster = fakeCluster();
    const reconciled: string[] = [];
    let lost = 0;
    const manager = new Manager({
      client: cluster.client,
      log: pino({ level: 'silent' }),
      metrics: new OperatorMetrics(undefined, { processMetrics: false }),
      identity: 'me',
      namespaces: [],
      defaultWorkers: 1,
      leaderElection: {
        namespace: 'ns',
        name: 'lease',
        leaseDurationMs: 15_000,
        renewDeadlineMs: 10_000,
        retryPeriodMs: 2_000,
      },
      onLeadershipLost: () => void lost++,
    });
    const runner = manager.add(
      defineController<KubeObject>({
        name: 'widget',
        for: builtinKind(widget),
        reconcile: async (obj) => {
          reconciled.push(obj.metadata?.name ?? '');
          return done();
        },
      }),
    );
    return { cluster, manager, runner, reconciled, lost: () => lost };
  }

  it('starts with zero controllers and is ready at once', async () => {
    const manager = new Manager({
      client: fakeCluster().client,
      log: pino({ level: 'silent' }),
      metrics: new OperatorMetrics(undefined, { processMetrics: false }),
      identity: 'me',
      namespaces: [],
      defaultWorkers: 1,
    });
    expect(manager.notReadyReason()).toBe('not started');
    manager.start();
    expect(manager.notReadyReason()).toBeUndefined();
    expect(await manager.stop()).toBe(true);
    expect(manager.notReadyReason()).toBe('shutting down');
  });

  it('reconciles only while leading, and stops at once when the lease is lost', async () => {
    const { cluster, manager, runner, reconciled, lost } = setup();
    manager.start();
    await vi.advanceTimersByTimeAsync(200);
    expect(manager.isLeader).toBe(true);
    expect(manager.notReadyReason()).toBeUndefined();
    // The informer's initial list enqueued both widgets; the workers took them once leading.
    expect(reconciled.sort()).toEqual(['a', 'b']);

    cluster.steal();
    await vi.advanceTimersByTimeAsync(2_000);
    expect(lost()).toBe(1);
    expect(manager.isLeader).toBe(false);
    expect(runner.queue.shuttingDown).toBe(true);
    runner.queue.add('ns/b');
    await vi.advanceTimersByTimeAsync(0);
    expect(reconciled.sort()).toEqual(['a', 'b']);
  });

  it('releases the lease on graceful stop', async () => {
    const { cluster, manager } = setup();
    manager.start();
    await vi.advanceTimersByTimeAsync(200);
    expect(cluster.lease()?.spec?.holderIdentity).toBe('me');
    await manager.stop();
    expect(cluster.lease()?.spec).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1 });
  });
});
