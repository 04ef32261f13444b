import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Informer, type RestartReason, withoutManagedFields } from './informer.js';
import type { KubeClient, KubeList, WatchEvent } from './kube-client.js';
import { builtin, builtinKind, type KindSpec, type KubeObject } from './resource.js';

const cm = (name: string, rv: string, data: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'ns', resourceVersion: rv },
  data,
});

interface OpenWatch {
  resourceVersion: string | undefined;
  emit(event: WatchEvent): void;
  end(error?: unknown): void;
  aborted: boolean;
}

/** A list/watch source the test drives: what list returns, and each watch's events. */
class FakeSource implements Pick<KubeClient, 'list' | 'watch'> {
  listResult: () => Promise<KubeList> = async () => ({
    metadata: { resourceVersion: '1' },
    items: [],
  });
  lists = 0;
  watches: OpenWatch[] = [];

  async list<T extends KubeObject>(): Promise<KubeList<T>> {
    this.lists++;
    return (await this.listResult()) as KubeList<T>;
  }

  async watch(
    _r: unknown,
    options: { resourceVersion?: string },
    onEvent: (e: WatchEvent) => void,
    onDone: (e: unknown) => void,
  ) {
    let ended = false;
    const w: OpenWatch = {
      resourceVersion: options.resourceVersion,
      aborted: false,
      emit: (e) => {
        if (!ended) onEvent(e);
      },
      end: (error) => {
        if (ended) return;
        ended = true;
        onDone(error ?? null);
      },
    };
    this.watches.push(w);
    return {
      abort: () => {
        w.aborted = true;
        ended = true;
      },
    };
  }

  get current(): OpenWatch {
    const w = this.watches.at(-1);
    if (!w) throw new Error('no watch started');
    return w;
  }
}

function setup(
  options: {
    kind?: KindSpec;
    resyncMs?: number;
    watchdogMs?: number;
    transform?: (obj: KubeObject) => KubeObject;
  } = {},
) {
  const source = new FakeSource();
  const restarts: RestartReason[] = [];
  const seen: string[] = [];
  const informer = new Informer({
    kind: options.kind ?? builtinKind(builtin.configMap),
    client: source,
    log: pino({ level: 'silent' }),
    resyncMs: options.resyncMs ?? 0,
    watchdogMs: options.watchdogMs ?? 300_000,
    backoff: { baseMs: 1_000, capMs: 8_000 },
    metrics: { restarted: (r) => void restarts.push(r), synced: () => undefined },
    ...(options.transform ? { transform: options.transform } : {}),
  });
  informer.addHandlers({
    onAdd: (o) => void seen.push(`add ${o.metadata?.name}@${o.metadata?.resourceVersion}`),
    onUpdate: (a, b) =>
      void seen.push(
        `update ${b.metadata?.name}@${a.metadata?.resourceVersion}->${b.metadata?.resourceVersion}`,
      ),
    onDelete: (o) => void seen.push(`delete ${o.metadata?.name}`),
    onInvalid: (i) =>
      void seen.push(`invalid ${i.raw.metadata?.name}${i.deleted ? ' deleted' : ''}`),
  });
  return { source, informer, restarts, seen };
}

describe('Informer', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('lists, syncs, then watches from the list resourceVersion and applies events', async () => {
    const { source, informer, seen } = setup();
    source.listResult = async () => ({
      metadata: { resourceVersion: '10' },
      items: [cm('a', '5')],
    });
    informer.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(informer.hasSynced()).toBe(true);
    expect(source.current.resourceVersion).toBe('10');

    source.current.emit({ type: 'ADDED', object: cm('b', '11') });
    source.current.emit({ type: 'MODIFIED', object: cm('a', '12', { k: 'v' }) });
    source.current.emit({ type: 'DELETED', object: cm('b', '13') });
    source.current.emit({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '20' } } });
    expect(seen).toEqual(['add a@5', 'add b@11', 'update a@5->12', 'delete b']);
    expect(informer.get('ns', 'a')?.data).toEqual({ k: 'v' });
    expect(informer.get('ns', 'b')).toBeUndefined();
    expect(informer.resourceVersion).toBe('20');
    await informer.stop();
  });

  it('re-watches from the last resourceVersion when the server closes the watch normally', async () => {
    const { source, informer, restarts } = setup();
    informer.start();
    await vi.advanceTimersByTimeAsync(0);
    source.current.emit({ type: 'ADDED', object: cm('a', '7') });
    await vi.advanceTimersByTimeAsync(5_000);
    source.current.end();
    await vi.advanceTimersByTimeAsync(0);
    expect(source.watches).toHaveLength(2);
    expect(source.current.resourceVersion).toBe('7');
    expect(source.lists).toBe(1);
    expect(restarts).toEqual([]);
    await informer.stop();
  });

  it.each([
    {
      how: 'an HTTP 410',
      gone: (w: OpenWatch) => w.end(Object.assign(new Error('Gone'), { statusCode: 410 })),
    },
    {
      how: 'an ERROR event with code 410',
      gone: (w: OpenWatch) =>
        w.emit({
          type: 'ERROR',
          object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old' },
        }),
    },
  ])('relists at once on $how, and delivers what changed meanwhile', async ({ gone }) => {
    const { source, informer, restarts, seen } = setup();
    source.listResult = async () => ({
      metadata: { resourceVersion: '10' },
      items: [cm('a', '5'), cm('b', '6')],
    });
    informer.start();
    await vi.advanceTimersByTimeAsync(0);

    // Meanwhile: a changed, b deleted, c added.
    source.listResult = async () => ({
      metadata: { resourceVersion: '30' },
      items: [cm('a', '25'), cm('c', '26')],
    });
    gone(source.current);
    await vi.advanceTimersByTimeAsync(0);

    expect(source.lists).toBe(2);
    expect(restarts).toEqual(['gone']);
    expect(source.current.resourceVersion).toBe('30');
    expect(seen).toEqual(['add a@5', 'add b@6', 'update a@5->25', 'add c@26', 'delete b']);
    expect(
      informer
        .list()
        .map((o) => o.metadata?.name)
        .sort(),
    ).toEqual(['a', 'c']);
    await informer.stop();
  });

  it('restarts with growing, capped backoff after errors, and resets it after a successful list', async () => {
    const { source, informer, restarts } = setup();
    let failLists = 4;
    source.listResult = async () => {
      if (failLists-- > 0) throw new Error('connection refused');
      return { metadata: { resourceVersion: '1' }, items: [] };
    };
    informer.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(source.lists).toBe(1);
    const listsAt = [1_000, 2_000, 4_000, 8_000].map((delay) => delay);
    for (const [i, delay] of listsAt.entries()) {
      await vi.advanceTimersByTimeAsync(delay - 1);
      expect(source.lists, `before retry ${i + 1}`).toBe(i + 1);
      await vi.advanceTimersByTimeAsync(1);
      expect(source.lists, `at retry ${i + 1}`).toBe(i + 2);
    }
    expect(informer.hasSynced()).toBe(true);
    expect(restarts).toEqual(['error', 'error', 'error', 'error']);

    // A watch error after a good list backs off from the base again, then relists.
    source.current.end(new Error('stream reset'));
    await vi.advanceTimersByTimeAsync(999);
    expect(source.lists).toBe(5);
    await vi.advanceTimersByTimeAsync(1);
    expect(source.lists).toBe(6);
    await informer.stop();
  });

  it('aborts and restarts a watch that receives nothing for the watchdog period', async () => {
    const { source, informer, restarts } = setup({ watchdogMs: 60_000 });
    informer.start();
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(59_000);
    source.current.emit({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '2' } } });
    await vi.advanceTimersByTimeAsync(59_000);
    expect(source.watches).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(source.watches[0]?.aborted).toBe(true);
    expect(source.watches).toHaveLength(2);
    expect(source.current.resourceVersion).toBe('2');
    expect(restarts).toEqual(['stalled']);
    await informer.stop();
  });

  it('re-delivers every cached object on resync', async () => {
    const { source, informer, seen } = setup({ resyncMs: 60_000 });
    source.listResult = async () => ({
      metadata: { resourceVersion: '10' },
      items: [cm('a', '5')],
    });
    informer.start();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(seen).toEqual(['add a@5', 'update a@5->5']);
    await informer.stop();
  });

  it('keeps cached objects frozen so readers cannot mutate them', async () => {
    const { source, informer } = setup();
    source.listResult = async () => ({
      metadata: { resourceVersion: '10' },
      items: [cm('a', '5', { k: 'v' })],
    });
    informer.start();
    await vi.advanceTimersByTimeAsync(0);
    const obj = informer.get('ns', 'a')!;
    expect(() => {
      (obj.data as Record<string, string>).k = 'changed';
    }).toThrow(TypeError);
    expect(informer.get('ns', 'a')?.data).toEqual({ k: 'v' });
    await informer.stop();
  });

  it('caches and hands to handlers what the transform keeps, frozen', async () => {
    const kept: string[] = [];
    const { source, informer } = setup({
      transform: (obj) => ({ ...obj, data: { k: (obj.data as Record<string, string>).k ?? '' } }),
    });
    source.listResult = async () => ({
      metadata: { resourceVersion: '10' },
      items: [cm('a', '5', { k: 'v', bulky: 'x'.repeat(1000) })],
    });
    informer.addHandlers({ onAdd: (o) => void kept.push(JSON.stringify(o.data)) });
    informer.start();
    await vi.advanceTimersByTimeAsync(0);
    source.current.emit({ type: 'ADDED', object: cm('b', '11', { k: 'w', bulky: 'y' }) });
    expect(informer.get('ns', 'a')?.data).toEqual({ k: 'v' });
    expect(informer.get('ns', 'b')?.data).toEqual({ k: 'w' });
    expect(Object.isFrozen(informer.get('ns', 'b')?.data)).toBe(true);
    expect(kept).toEqual(['{"k":"v"}', '{"k":"w"}']);
    await informer.stop();
  });

  it('keeps objects that fail to parse out of the cache and reports them, without stopping', async () => {
    const strict: KindSpec = {
      resource: builtin.configMap,
      parse: (raw) => {
        if ((raw.data as Record<string, string> | undefined)?.bad)
          throw new Error('data.bad is not allowed');
        return raw;
      },
    };
    const { source, informer, seen } = setup({ kind: strict });
    informer.start();
    await vi.advanceTimersByTimeAsync(0);
    source.current.emit({ type: 'ADDED', object: cm('a', '2', { bad: 'x' }) });
    expect(informer.get('ns', 'a')).toBeUndefined();
    expect(informer.getInvalid('ns', 'a')?.error.message).toMatch(/not allowed/);

    source.current.emit({ type: 'MODIFIED', object: cm('a', '3', { good: 'y' }) });
    expect(informer.getInvalid('ns', 'a')).toBeUndefined();
    expect(informer.get('ns', 'a')?.data).toEqual({ good: 'y' });

    source.current.emit({ type: 'MODIFIED', object: cm('a', '4', { bad: 'x' }) });
    source.current.emit({ type: 'DELETED', object: cm('a', '5', { bad: 'x' }) });
    expect(seen).toEqual(['invalid a', 'add a@3', 'invalid a', 'invalid a deleted']);
    expect(source.watches).toHaveLength(1);
    await informer.stop();
  });

  it('survives a handler that throws', async () => {
    const { source, informer } = setup();
    informer.addHandlers({
      onAdd: () => {
        throw new Error('bad handler');
      },
    });
    informer.start();
    await vi.advanceTimersByTimeAsync(0);
    source.current.emit({ type: 'ADDED', object: cm('a', '2') });
    expect(informer.get('ns', 'a')).toBeDefined();
    await informer.stop();
  });

  it('pages through a large list', async () => {
    const { source, informer } = setup();
    let page = 0;
    source.listResult = async () => {
      page++;
      return page === 1
        ? { metadata: { resourceVersion: '9', continue: 'next' }, items: [cm('a', '1')] }
        : { metadata: { resourceVersion: '9' }, items: [cm('b', '2')] };
    };
    informer.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(source.lists).toBe(2);
    expect(informer.list()).toHaveLength(2);
    await informer.stop();
  });

  it('applies a relist page by page, deleting only what the last page did not bring back', async () => {
    const { source, informer, seen } = setup();
    source.listResult = async () => ({
      metadata: { resourceVersion: '5' },
      items: [cm('a', '1'), cm('b', '2'), cm('c', '3')],
    });
    informer.start();
    await vi.advanceTimersByTimeAsync(0);
    seen.length = 0;
    let release: () => void = () => undefined;
    const secondPageAsked = new Promise<void>((resolve) => {
      source.listResult = async () => {
        if (source.lists === 2)
          return { metadata: { resourceVersion: '9', continue: 'next' }, items: [cm('a', '6')] };
        resolve();
        await new Promise<void>((r) => {
          release = r;
        });
        return { metadata: { resourceVersion: '9' }, items: [cm('c', '3')] };
      };
    });
    source.current.end(Object.assign(new Error('Gone'), { statusCode: 410 }));
    await secondPageAsked;
    // The first page is applied before the second arrives; nothing is deleted yet.
    expect(seen).toEqual(['update a@1->6']);
    expect(informer.list().map((o) => o.metadata?.name)).toEqual(['a', 'b', 'c']);
    release();
    await vi.advanceTimersByTimeAsync(0);
    expect(seen).toEqual(['update a@1->6', 'delete b']);
    await informer.stop();
  });
});

describe('withoutManagedFields', () => {
  it('drops server-side apply bookkeeping and keeps everything else', () => {
    const obj = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'a',
        namespace: 'n',
        labels: { x: 'y' },
        managedFields: [{ manager: 'kubectl', operation: 'Apply', fieldsV1: { 'f:data': {} } }],
      },
      data: { k: 'v' },
    };
    expect(withoutManagedFields(obj)).toEqual({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'a', namespace: 'n', labels: { x: 'y' } },
      data: { k: 'v' },
    });
    // The input is not mutated: it may be a frozen cache entry or a watch event.
    expect(obj.metadata.managedFields).toHaveLength(1);
  });

  it('returns an object without managedFields as it is', () => {
    const obj = { metadata: { name: 'a' } };
    expect(withoutManagedFields(obj)).toBe(obj);
  });
});
