import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { OperatorMetrics } from '../observability/metrics.js';
import { kinds } from './builtin-kinds.js';
import { type ControllerDefinition, ControllerRunner, done } from './controller.js';
import { EventRecorder } from './events.js';
import { InformerFactory } from './informer-factory.js';
import type { KubeClient, KubeList } from './kube-client.js';
import { namespaceRefusal, refusedNamespaces } from './namespace-policy.js';
import { builtinKind, type KubeObject, type ResourceType } from './resource.js';

describe('refusedNamespaces', () => {
  it.each([
    { configured: [], expected: ['kube-system'] },
    { configured: ['ops', 'kube-system', 'ops'], expected: ['kube-system', 'ops'] },
  ])('$configured → $expected', ({ configured, expected }) => {
    expect(refusedNamespaces(configured)).toEqual(expected);
  });
});

describe('namespaceRefusal', () => {
  it.each([
    { namespace: 'kube-system', refused: [], refusedHere: true },
    { namespace: 'kube-system', refused: ['ops'], refusedHere: true },
    { namespace: 'ops', refused: ['ops'], refusedHere: true },
    { namespace: 'team-a', refused: ['ops'], refusedHere: false },
    { namespace: 'kube-public', refused: [], refusedHere: false },
    { namespace: undefined, refused: ['ops'], refusedHere: false },
  ])('$namespace with $refused refused: $refusedHere', ({ namespace, refused, refusedHere }) => {
    const why = namespaceRefusal(namespace, refused);
    if (refusedHere) expect(why).toContain(`namespace "${namespace}"`);
    else expect(why).toBeUndefined();
  });
});

const widget: ResourceType = {
  group: 'test.lathe.dev',
  version: 'v1',
  kind: 'Widget',
  plural: 'widgets',
  namespaced: true,
};

const widgetIn = (namespace: string, name: string): KubeObject => ({
  apiVersion: 'test.lathe.dev/v1',
  kind: 'Widget',
  metadata: { name, namespace, uid: `uid-${name}`, resourceVersion: '1', generation: 3 },
  spec: {},
});

/** A runner over a fake API server holding `widgets`; records every write. */
async function runnerWith(
  widgets: KubeObject[],
  reconcile: ControllerDefinition<KubeObject>['reconcile'],
  extra: Partial<ControllerDefinition<KubeObject>> = {},
) {
  const writes: { verb: string; args: unknown[] }[] = [];
  const client = {
    list: async (r: ResourceType): Promise<KubeList> => ({
      metadata: { resourceVersion: '1' },
      items: r.kind === 'Widget' ? widgets : [],
    }),
    watch: async () => ({ abort: () => undefined }),
    patch: async (...args: unknown[]) => {
      writes.push({ verb: 'patch', args });
      return args[4];
    },
    create: async (...args: unknown[]) => {
      writes.push({ verb: 'create', args });
      return args[1];
    },
    get: async () => {
      throw Object.assign(new Error('not found'), { statusCode: 404 });
    },
    delete: async (...args: unknown[]) => {
      writes.push({ verb: 'delete', args });
    },
  } as unknown as KubeClient;
  const log = pino({ level: 'silent' });
  const informers = new InformerFactory({ client, log, namespaces: [] });
  const runner = new ControllerRunner(
    { name: 'widget', for: builtinKind<KubeObject>(widget), reconcile, ...extra },
    {
      informers,
      client,
      events: new EventRecorder({ client, log, controller: 'c', instance: 'i' }),
      log,
      metrics: new OperatorMetrics(undefined, { processMetrics: false }),
      defaultWorkers: 1,
      refusedNamespaces: ['ops'],
    },
  );
  informers.start();
  await vi.advanceTimersByTimeAsync(0);
  while (runner.queue.len() > 0) runner.queue.done((await runner.queue.get()) as string);
  return { runner, writes };
}

const statusWrites = (writes: { verb: string; args: unknown[] }[]) =>
  writes.filter(
    (w) => w.verb === 'patch' && (w.args[5] as { subresource?: string })?.subresource === 'status',
  );

describe('ControllerRunner in a refused namespace', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each(['kube-system', 'ops'])(
    'reports Stalled/NamespaceRefused for an object in %s, adds no finalizer, does not reconcile or retry',
    async (namespace) => {
      const reconcile = vi.fn(async () => done());
      const { runner, writes } = await runnerWith([widgetIn(namespace, 'w')], reconcile, {
        finalizer: { name: 'lathe.dev/cleanup', wanted: () => true, finalize: async () => {} },
      });
      await runner.reconcileKey(`${namespace}/w`);
      expect(reconcile).not.toHaveBeenCalled();
      const status = statusWrites(writes);
      expect(status).toHaveLength(1);
      expect(status[0]?.args[4]).toMatchObject({
        status: {
          observedGeneration: 3,
          conditions: [
            { type: 'Ready', status: 'False', reason: 'NamespaceRefused' },
            {
              type: 'Stalled',
              status: 'True',
              reason: 'NamespaceRefused',
              message: expect.stringContaining(`namespace "${namespace}"`),
            },
          ],
        },
      });
      // The only write to the API server is that status (and the Warning event): no finalizer.
      expect(writes.filter((w) => w.verb === 'patch')).toHaveLength(1);
      expect(runner.queue.numRequeues(`${namespace}/w`)).toBe(0);
    },
  );

  it('reconciles an object elsewhere, and refuses a child it asks for in a refused namespace', async () => {
    const reconcile = vi.fn(
      async (
        _obj: KubeObject,
        ctx: Parameters<ControllerDefinition<KubeObject>['reconcile']>[1],
      ) => {
        await ctx.apply(kinds.configMap, {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'sneaky', namespace: 'kube-system' },
        });
        return done();
      },
    );
    const { runner, writes } = await runnerWith([widgetIn('team-a', 'w')], reconcile);
    await runner.reconcileKey('team-a/w');
    expect(reconcile).toHaveBeenCalledOnce();
    await expect(reconcile.mock.results[0]?.value).rejects.toMatchObject({
      name: 'TerminalError',
      reason: 'NamespaceRefused',
      message: expect.stringContaining('Refused to write ConfigMap sneaky'),
    });
    expect(writes.filter((w) => w.verb === 'patch' && w.args[1] === 'kube-system')).toEqual([]);
    expect(runner.queue.numRequeues('team-a/w')).toBe(0);
  });
});
