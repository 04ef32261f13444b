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
  watchesPodsOf,
} from './controller.js';
import { EventRecorder } from './events.js';
import { InformerFactory } from './informer-factory.js';
import { ApiError, type KubeClient, type KubeList, type WatchEvent } from './kube-client.js';
import { builtin, builtinKind, type KubeObject, type ResourceType } from './resource.js';

const widget: ResourceType = {
  group: 'test.lathe.dev',
  version: 'v1',
  kind: 'Widget',
  plural: 'widgets',
  namespaced: true,
};

const widgetObject = (name: string, extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'test.lathe.dev/v1',
  kind: 'Widget',
  metadata: { name, namespace: 'ns', uid: `uid-${name}`, resourceVersion: '1', generation: 1 },
  spec: { size: 1 },
  ...extra,
});

/**
 * A client whose lists return `objects` (by kind), whose watches the test pushes events into,
 * and which records every write.
 */
function fakeClient(objects: Record<string, KubeObject[]>, holdCreates = false) {
  const emitters = new Map<string, (e: WatchEvent) => void>();
  const writes: unknown[][] = [];
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  const client = {
    list: async (r: ResourceType): Promise<KubeList> => ({
      metadata: { resourceVersion: '1' },
      items: objects[r.kind] ?? [],
    }),
    watch: async (r: ResourceType, _o: unknown, onEvent: (e: WatchEvent) => void) => {
      emitters.set(r.kind, onEvent);
      return { abort: () => undefined };
    },
    patch: async (...args: unknown[]) => {
      writes.push(['patch', ...args]);
      return { ...(args[4] as object), metadata: { ...(objects.Widget?.[0]?.metadata ?? {}) } };
    },
    create: async (...args: unknown[]) => {
      if (holdCreates) await held;
      writes.push(['create', ...args]);
      return args[1];
    },
  } as unknown as KubeClient;
  return {
    client,
    writes,
    release,
    emit: (kind: string, e: WatchEvent) => emitters.get(kind)?.(e),
  };
}

async function setup(
  reconcile: ControllerDefinition<KubeObject>['reconcile'],
  extra: Partial<ControllerDefinition<KubeObject>> = {},
  options: {
    objects?: Record<string, KubeObject[]>;
    parse?: (raw: KubeObject) => KubeObject;
    /** Event creates wait until `release()`. */
    holdEventCreates?: boolean;
  } = {},
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
  const { client, emit, writes, release } = fakeClient(
    options.objects ?? { Widget: [widgetObject('a')] },
    options.holdEventCreates,
  );
  const events = new EventRecorder({ client, log, controller: 'c', instance: 'i' });
  const metrics = new OperatorMetrics(undefined, { processMetrics: false });
  const informers = new InformerFactory({ client, log, namespaces: [] });
  const kind = options.parse
    ? { resource: widget, parse: options.parse }
    : builtinKind<KubeObject>(widget);
  const runner = new ControllerRunner(
    { name: 'widget', for: kind, reconcile, ...extra },
    {
      informers,
      client,
      events,
      log,
      metrics,
      defaultWorkers: 2,
      backoff: { baseMs: 100, capMs: 1_000 },
    },
  );
  informers.start();
  await vi.advanceTimersByTimeAsync(0);
  // The initial list enqueued the objects; tests drive reconciles by hand.
  while (runner.queue.len() > 0) runner.queue.done((await runner.queue.get())!);
  const total = async (result: string) =>
    (await metrics.reconcileTotal.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
  return { runner, informers, emit, lines, metrics, total, writes, events, release };
}

describe('ControllerRunner outcomes', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('starts every result counter at zero', async () => {
    const { metrics } = await setup(async () => done());
    const values = (await metrics.reconcileTotal.get()).values.map(
      (v) => `${v.labels.result}=${v.value}`,
    );
    expect(values.sort()).toEqual(['error=0', 'requeue=0', 'requeue_after=0', 'success=0']);
  });

  it('done: counts a success and resets the backoff', async () => {
    const { runner, total } = await setup(async () => done());
    runner.queue.addRateLimited('ns/a');
    await runner.reconcileKey('ns/a');
    expect(runner.queue.numRequeues('ns/a')).toBe(0);
    expect(await total('success')).toBe(1);
  });

  it('passes the cached object to reconcile, and skips one that is gone', async () => {
    const seen: string[] = [];
    const { runner } = await setup(async (obj) => {
      seen.push(obj.metadata?.name ?? '');
      return done();
    });
    await runner.reconcileKey('ns/a');
    await runner.reconcileKey('ns/gone');
    expect(seen).toEqual(['a']);
  });

  it('writes a status once, not again from a cache that has not caught up with the write', async () => {
    let size = 1;
    const { runner, writes } = await setup(async (obj, ctx) => {
      await ctx.patchStatus(obj, { size });
      return done();
    });
    const statusWrites = () =>
      writes.filter((w) => (w[6] as { subresource?: string })?.subresource === 'status').length;
    await runner.reconcileKey('ns/a');
    await runner.reconcileKey('ns/a');
    expect(statusWrites()).toBe(1);
    size = 2;
    await runner.reconcileKey('ns/a');
    expect(statusWrites()).toBe(2);
  });

  it('remembers a status write only until the cache shows a newer version, or for 5 minutes', async () => {
    let size = 1;
    const { runner, emit } = await setup(
      async (obj, ctx) => {
        await ctx.patchStatus(obj, { size });
        return done();
      },
      {},
      { objects: { Widget: [widgetObject('a'), widgetObject('b')] } },
    );
    await runner.reconcileKey('ns/a');
    expect(runner.rememberedStatusWrites).toBe(1);
    // A resync re-delivers the same version: the cache has not caught up yet.
    emit('Widget', { type: 'MODIFIED', object: widgetObject('a') });
    expect(runner.rememberedStatusWrites).toBe(1);
    const written = widgetObject('a', { status: { size: 1 } });
    emit('Widget', {
      type: 'MODIFIED',
      object: { ...written, metadata: { ...written.metadata, resourceVersion: '2' } },
    });
    expect(runner.rememberedStatusWrites).toBe(0);

    await runner.reconcileKey('ns/b');
    expect(runner.rememberedStatusWrites).toBe(1);
    await vi.advanceTimersByTimeAsync(5 * 60_000 + 1);
    size = 2;
    await runner.reconcileKey('ns/a');
    // b's write expired when a's new one was remembered.
    expect(runner.rememberedStatusWrites).toBe(1);
  });

  it('requeueAfter: adds the key again after the delay', async () => {
    const { runner, total } = await setup(async () => requeueAfter(5_000));
    await runner.reconcileKey('ns/a');
    expect(runner.queue.len()).toBe(0);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(runner.queue.len()).toBe(1);
    expect(await total('requeue_after')).toBe(1);
  });

  it('a transient error retries with growing backoff and records a Warning event', async () => {
    const { runner, total, metrics, writes } = await setup(async () => {
      throw Object.assign(new Error('connect ECONNREFUSED'), { reason: 'StorageUnavailable' });
    });
    await runner.reconcileKey('ns/a');
    await runner.reconcileKey('ns/a');
    expect(runner.queue.numRequeues('ns/a')).toBe(2);
    await vi.advanceTimersByTimeAsync(100);
    expect(runner.queue.len()).toBe(1);
    expect(await total('error')).toBe(2);
    expect((await metrics.reconcileErrors.get()).values[0]?.value).toBe(2);
    const event = writes.find((w) => w[0] === 'create')?.[2] as Record<string, unknown>;
    expect(event).toMatchObject({
      type: 'Warning',
      reason: 'StorageUnavailable',
      note: 'connect ECONNREFUSED',
    });
  });

  it('does not hold the worker while the Warning event of a failure is sent', async () => {
    const { runner, events, release } = await setup(
      async () => {
        throw new TerminalError('bad spec', { reason: 'InvalidSpec' });
      },
      {},
      { holdEventCreates: true },
    );
    await runner.reconcileKey('ns/a');
    let flushed = false;
    const flushing = events.flush().then(() => {
      flushed = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(flushed).toBe(false);
    release();
    await flushing;
    expect(flushed).toBe(true);
  });

  it('sends no second Warning for a terminal failure the status already records', async () => {
    const stalled = (generation: number) => ({
      status: {
        conditions: [
          {
            type: 'Stalled',
            status: 'True',
            reason: 'InvalidSpec',
            message: 'bad spec',
            observedGeneration: generation,
          },
        ],
      },
    });
    const { runner, events, writes } = await setup(
      async () => {
        throw new TerminalError('bad spec', { reason: 'InvalidSpec' });
      },
      {},
      {
        objects: {
          Widget: [
            widgetObject('recorded', stalled(1)),
            widgetObject('edited', stalled(0)),
            widgetObject('new'),
          ],
        },
      },
    );
    for (const name of ['recorded', 'edited', 'new']) await runner.reconcileKey(`ns/${name}`);
    await events.flush();
    const regarding = writes
      .filter((w) => w[0] === 'create')
      .map((w) => (w[2] as { regarding?: { name?: string } }).regarding?.name);
    expect(regarding.sort()).toEqual(['edited', 'new']);
  });

  it.each([
    [
      'a TerminalError',
      new TerminalError('spec.replicas must be positive', { reason: 'InvalidReplicas' }),
    ],
    [
      'an API 422 wrapped by the caller',
      new Error('Failed to apply', {
        cause: new ApiError(422, { reason: 'Invalid' }, 'spec.template: field is immutable'),
      }),
    ],
  ])('%s is not retried', async (_, error) => {
    const { runner, metrics } = await setup(async () => {
      throw error;
    });
    await runner.reconcileKey('ns/a');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(runner.queue.len()).toBe(0);
    expect(runner.queue.numRequeues('ns/a')).toBe(0);
    expect((await metrics.terminalReconcileErrors.get()).values[0]?.value).toBe(1);
  });

  it('gives reconcile a logger carrying controller, namespace, name and reconcileID', async () => {
    const { runner, lines } = await setup(async (obj, ctx) => {
      ctx.log.info({ obj: obj.metadata?.name }, 'Reconciling widget');
      return done();
    });
    await runner.reconcileKey('ns/a');
    const line = lines.find((l) => l.msg === 'Reconciling widget');
    expect(line).toMatchObject({ controller: 'widget', namespace: 'ns', name: 'a' });
    expect(line?.reconcileID).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses to read a kind the controller neither owns nor watches', async () => {
    let error: unknown;
    const { runner } = await setup(async (_obj, ctx) => {
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

describe('ControllerRunner before reconcile: invalid objects and finalizers', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const parse = (raw: KubeObject) => {
    if ((raw.spec as { size?: unknown })?.size === 'huge')
      throw new Error('spec.size: expected number');
    return raw;
  };

  it('reports an invalid object as Stalled/InvalidSpec without calling reconcile', async () => {
    const reconcile = vi.fn(async () => done());
    const { runner, writes } = await setup(
      reconcile,
      {},
      {
        objects: { Widget: [widgetObject('bad', { spec: { size: 'huge' } })] },
        parse,
      },
    );
    await runner.reconcileKey('ns/bad');
    expect(reconcile).not.toHaveBeenCalled();
    const status = writes.find(
      (w) => w[0] === 'patch' && (w[6] as { subresource?: string })?.subresource === 'status',
    );
    expect(status?.[5]).toMatchObject({
      status: {
        observedGeneration: 1,
        conditions: [
          { type: 'Ready', status: 'False', reason: 'InvalidSpec' },
          {
            type: 'Stalled',
            status: 'True',
            reason: 'InvalidSpec',
            message: 'spec.size: expected number',
          },
        ],
      },
    });
    expect((status?.[6] as { fieldManager?: string } | undefined)?.fieldManager).toBe(
      'lathe-widget',
    );
    expect(runner.queue.numRequeues('ns/bad')).toBe(0);
  });

  it('finalizes and releases an object being deleted even when it no longer parses', async () => {
    const finalized: string[] = [];
    const reconcile = vi.fn(async () => done());
    const deleting = widgetObject('bad', {
      spec: { size: 'huge' },
      metadata: {
        name: 'bad',
        namespace: 'ns',
        uid: 'u',
        resourceVersion: '7',
        deletionTimestamp: '2026-01-01T00:00:00Z',
        finalizers: ['lathe.dev/cleanup', 'someone.else/keep'],
      },
    });
    const { runner, writes } = await setup(
      reconcile,
      {
        finalizer: {
          name: 'lathe.dev/cleanup',
          wanted: () => true,
          finalize: async (obj) => void finalized.push(obj.metadata?.name ?? ''),
        },
      },
      { objects: { Widget: [deleting] }, parse },
    );
    await runner.reconcileKey('ns/bad');
    expect(finalized).toEqual(['bad']);
    expect(reconcile).not.toHaveBeenCalled();
    expect(writes[0]?.slice(0, 6)).toEqual([
      'patch',
      widget,
      'ns',
      'bad',
      'merge',
      { metadata: { resourceVersion: '7', finalizers: ['someone.else/keep'] } },
    ]);
  });
});

describe('ControllerRunner event mapping and children', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const job = (name: string, ownerKind: string, uid = 'uid-w1'): KubeObject => ({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name,
      namespace: 'ns',
      resourceVersion: '2',
      labels: { 'app.kubernetes.io/managed-by': 'lathe' },
      ownerReferences: [
        { apiVersion: 'test.lathe.dev/v1', kind: ownerKind, name: 'w1', uid, controller: true },
      ],
    },
  });

  async function drain(runner: ControllerRunner<KubeObject>): Promise<string[]> {
    const keys: string[] = [];
    while (runner.queue.len() > 0) {
      const key = await runner.queue.get();
      keys.push(key!);
      runner.queue.done(key!);
    }
    return keys;
  }

  it('enqueues the object, the controller owner of a child, mapped keys, and pods by label', async () => {
    const { runner, emit, informers } = await setup(async () => done(), {
      owns: [owns(builtinKind(builtin.job))],
      watches: [
        watches(builtinKind(builtin.configMap), (cm, caches) => [
          {
            namespace: 'ns',
            name: `from-${cm.metadata?.name}-${caches.reader(builtinKind(widget)).list().length}`,
          },
        ]),
        watchesPodsOf('Widget'),
      ],
    });
    emit('Widget', {
      type: 'ADDED',
      object: widgetObject('w0', {
        metadata: { name: 'w0', namespace: 'ns', resourceVersion: '2' },
      }),
    });
    emit('Job', { type: 'ADDED', object: job('j1', 'Widget') });
    emit('Job', { type: 'ADDED', object: job('j2', 'Gadget') });
    emit('ConfigMap', {
      type: 'ADDED',
      object: { metadata: { name: 'c', namespace: 'ns', resourceVersion: '2' } },
    });
    emit('Pod', {
      type: 'ADDED',
      object: {
        metadata: {
          name: 'j1-abcde',
          namespace: 'ns',
          resourceVersion: '3',
          labels: { 'app.kubernetes.io/managed-by': 'lathe', 'lathe.dev/widget': 'w7' },
        },
      },
    });
    expect(await drain(runner)).toEqual(['ns/w0', 'ns/w1', 'ns/from-c-2', 'ns/w7']);
    await informers.stop();
  });

  it('lists children by owner UID and prunes those no longer desired', async () => {
    const owner = widgetObject('w1', {
      metadata: { name: 'w1', namespace: 'ns', uid: 'uid-w1', resourceVersion: '1' },
    });
    const deletes: unknown[][] = [];
    let children: string[] = [];
    let pruned: string[] = [];
    const { runner } = await setup(
      async (obj, ctx) => {
        const jobs = builtinKind(builtin.job);
        children = ctx.childrenOf(jobs, obj).map((j) => j.metadata?.name ?? '');
        (ctx.client as unknown as { delete: unknown }).delete = async (...args: unknown[]) =>
          void deletes.push(args);
        pruned = await ctx.prune(jobs, obj, ['keep']);
        return done();
      },
      { owns: [owns(builtinKind(builtin.job), { deletes: true })] },
      {
        objects: {
          Widget: [owner],
          Job: [job('keep', 'Widget'), job('old', 'Widget'), job('other', 'Widget', 'uid-x')],
        },
      },
    );
    await runner.reconcileKey('ns/w1');
    expect(children.sort()).toEqual(['keep', 'old']);
    expect(pruned).toEqual(['old']);
    expect(deletes).toHaveLength(1);
  });

  it('workers process keys until stopped, and drain waits for the reconcile in flight', async () => {
    vi.useRealTimers();
    const seen: string[] = [];
    let release: (r: Result) => void = () => undefined;
    const { runner } = await (async () => {
      vi.useFakeTimers();
      const s = await setup(
        async (obj) => {
          seen.push(obj.metadata?.name ?? '');
          return await new Promise<Result>((r) => {
            release = r;
          });
        },
        {},
        { objects: { Widget: [widgetObject('a'), widgetObject('b')] } },
      );
      vi.useRealTimers();
      return s;
    })();
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
