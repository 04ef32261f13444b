import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { OperatorMetrics } from '../observability/metrics.js';
import {
  type ControllerDefinition,
  ControllerRunner,
  done,
  owns,
  type Result,
  requeueAfter,
  TerminalError,
  watches,
} from './controller.js';
import { EventRecorder } from './events.js';
import { InformerFactory } from './informer-factory.js';
import type { KubeClient, KubeList, WatchEvent } from './kube-client.js';
import { builtin, builtinKind, type KubeObject, type ResourceType } from './resource.js';

const widget: ResourceType = {
  group: 'test.lathe.dev',
  version: 'v1',
  kind: 'Widget',
  plural: 'widgets',
  namespaced: true,
};

/** A client whose watches the test can push events into; lists are empty. */
function fakeClient() {
  const emitters = new Map<string, (e: WatchEvent) => void>();
  const client = {
    list: async (): Promise<KubeList> => ({ metadata: { resourceVersion: '1' }, items: [] }),
    watch: async (r: ResourceType, _o: unknown, onEvent: (e: WatchEvent) => void) => {
      emitters.set(r.kind, onEvent);
      return { abort: () => undefined };
    },
  } as unknown as KubeClient;
  return { client, emit: (kind: string, e: WatchEvent) => emitters.get(kind)?.(e) };
}

function setup(
  reconcile: ControllerDefinition<KubeObject>['reconcile'],
  extra: Partial<ControllerDefinition<KubeObject>> = {},
) {
  const lines: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'debug' },
    new Writable({
      write(chunk, _enc, cb) {
        lines.push(JSON.parse(String(chunk)));
        cb();
      },
    }),
  );
  const { client, emit } = fakeClient();
  const metrics = new OperatorMetrics(undefined, { processMetrics: false });
  const informers = new InformerFactory({ client, log, namespaces: [] });
  const runner = new ControllerRunner(
    { name: 'widget', for: builtinKind(widget), reconcile, ...extra },
    {
      informers,
      client,
      events: new EventRecorder({ client, log, controller: 'c', instance: 'i' }),
      log,
      metrics,
      defaultWorkers: 2,
      backoff: { baseMs: 100, capMs: 1_000 },
    },
  );
  const total = async (result: string) =>
    (await metrics.reconcileTotal.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
  return { runner, informers, emit, lines, metrics, total };
}

describe('ControllerRunner outcomes', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('done: counts a success and resets the backoff', async () => {
    const { runner, total } = setup(async () => done());
    runner.queue.addRateLimited('ns/a');
    await runner.reconcileKey('ns/a');
    expect(runner.queue.numRequeues('ns/a')).toBe(0);
    expect(await total('success')).toBe(1);
  });

  it('requeueAfter: adds the key again after the delay', async () => {
    const { runner, total } = setup(async () => requeueAfter(5_000));
    await runner.reconcileKey('ns/a');
    expect(runner.queue.len()).toBe(0);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(runner.queue.len()).toBe(1);
    expect(await total('requeue_after')).toBe(1);
  });

  it('a transient error retries with growing backoff', async () => {
    const { runner, total, metrics } = setup(async () => {
      throw new Error('API unavailable');
    });
    await runner.reconcileKey('ns/a');
    await runner.reconcileKey('ns/a');
    expect(runner.queue.numRequeues('ns/a')).toBe(2);
    await vi.advanceTimersByTimeAsync(100);
    expect(runner.queue.len()).toBe(1);
    expect(await total('error')).toBe(2);
    expect((await metrics.reconcileErrors.get()).values[0]?.value).toBe(2);
  });

  it('a terminal error is not retried', async () => {
    const { runner, metrics } = setup(async () => {
      throw new TerminalError('spec.replicas must be positive');
    });
    await runner.reconcileKey('ns/a');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(runner.queue.len()).toBe(0);
    expect(runner.queue.numRequeues('ns/a')).toBe(0);
    expect((await metrics.terminalReconcileErrors.get()).values[0]?.value).toBe(1);
  });

  it('gives reconcile a logger carrying controller, namespace, name and reconcileID', async () => {
    const { runner, lines } = setup(async (key, ctx) => {
      ctx.log.info({ key }, 'Reconciling widget');
      return done();
    });
    await runner.reconcileKey('ns/a');
    const line = lines.find((l) => l.msg === 'Reconciling widget');
    expect(line).toMatchObject({ controller: 'widget', namespace: 'ns', name: 'a' });
    expect(line?.reconcileID).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses to read a kind the controller neither owns nor watches', async () => {
    let error: unknown;
    const { runner } = setup(async (_key, ctx) => {
      try {
        ctx.reader(builtinKind(builtin.secret));
      } catch (e) {
        error = e;
      }
      return done();
    });
    await runner.reconcileKey('ns/a');
    expect(String(error)).toMatch(/reads Secret but neither owns nor watches it/);
  });
});

describe('ControllerRunner event mapping', () => {
  const job = (name: string, ownerKind: string): KubeObject => ({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name,
      namespace: 'ns',
      resourceVersion: '2',
      ownerReferences: [
        {
          apiVersion: 'test.lathe.dev/v1',
          kind: ownerKind,
          name: 'w1',
          uid: 'u',
          controller: true,
        },
      ],
    },
  });

  it('enqueues the reconciled object, the controller owner of a child, and mapped keys', async () => {
    const { runner, informers, emit } = setup(async () => done(), {
      owns: [owns(builtinKind(builtin.job))],
      watches: [
        watches(builtinKind(builtin.configMap), (cm) => [
          { namespace: 'ns', name: `from-${cm.metadata?.name}` },
        ]),
      ],
    });
    informers.start();
    await new Promise((r) => setImmediate(r));
    emit('Widget', {
      type: 'ADDED',
      object: {
        apiVersion: 'test.lathe.dev/v1',
        kind: 'Widget',
        metadata: { name: 'w0', namespace: 'ns', resourceVersion: '2' },
      },
    });
    emit('Job', { type: 'ADDED', object: job('j1', 'Widget') });
    emit('Job', { type: 'ADDED', object: job('j2', 'Gadget') });
    emit('ConfigMap', {
      type: 'ADDED',
      object: { metadata: { name: 'c', namespace: 'ns', resourceVersion: '2' } },
    });
    const keys: string[] = [];
    while (runner.queue.len() > 0) {
      const key = await runner.queue.get();
      keys.push(key!);
      runner.queue.done(key!);
    }
    expect(keys).toEqual(['ns/w0', 'ns/w1', 'ns/from-c']);
    await informers.stop();
  });

  it('workers process keys until stopped, and drain waits for the reconcile in flight', async () => {
    const seen: string[] = [];
    let release: (r: Result) => void = () => undefined;
    const { runner } = setup(async (key) => {
      seen.push(key.name);
      return await new Promise<Result>((r) => {
        release = r;
      });
    });
    runner.start();
    runner.queue.add('ns/a');
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual(['a']);
    const drained = runner.drain(10_000);
    runner.queue.add('ns/b');
    release(done());
    expect(await drained).toBe(true);
    expect(seen).toEqual(['a']);
  });
});
