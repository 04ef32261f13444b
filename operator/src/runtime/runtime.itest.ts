/**
 * The runtime against a real API server (the local cluster): informer list+watch, server-side
 * apply, status written only on change through a small test controller, events deduplicated,
 * and leader election between two in-process electors on a real Lease.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestNamespace,
  deleteTestNamespace,
  eventually,
  kubeConfig,
} from '../../../e2e/cluster/testenv.js';
import { OperatorMetrics } from '../observability/metrics.js';
import { applyChild, controllerReference, patchStatusIfChanged } from './apply.js';
import { setKstatus } from './conditions.js';
import { defineController, done, owns } from './controller.js';
import { EventRecorder } from './events.js';
import { Informer } from './informer.js';
import { HttpKubeClient, isNotFound } from './kube-client.js';
import { LeaderElector, type LeaseObject } from './leader-election.js';
import { Manager } from './manager.js';
import { builtin, builtinKind, type KubeObject, type ResourceType } from './resource.js';

const log = pino({ level: process.env.LATHE_TEST_LOG_LEVEL ?? 'silent' });
const client = new HttpKubeClient(kubeConfig());
let namespace = '';

beforeAll(async () => {
  namespace = await createTestNamespace('runtime');
});
afterAll(async () => {
  await deleteTestNamespace(namespace);
});

const configMap = (name: string, data: Record<string, string>): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace },
  data,
});

describe('Informer on a real API server', () => {
  it('sees creates, updates and deletes of ConfigMaps', async () => {
    const seen: string[] = [];
    const informer = new Informer({ kind: builtinKind(builtin.configMap), client, log, namespace });
    informer.addHandlers({
      onAdd: (o) => void seen.push(`add ${o.metadata?.name}`),
      onUpdate: (a, b) => {
        if (a.metadata?.resourceVersion !== b.metadata?.resourceVersion)
          seen.push(`update ${b.metadata?.name}`);
      },
      onDelete: (o) => void seen.push(`delete ${o.metadata?.name}`),
    });
    await client.create(builtin.configMap, configMap('before', { a: '1' }));
    informer.start();
    try {
      await eventually(() => expect(informer.hasSynced()).toBe(true), { what: 'informer synced' });
      expect(informer.get(namespace, 'before')?.data).toEqual({ a: '1' });

      await client.create(builtin.configMap, configMap('watched', { a: '1' }));
      await eventually(() => expect(informer.get(namespace, 'watched')).toBeDefined(), {
        what: 'add seen',
      });
      await client.patch(builtin.configMap, namespace, 'watched', 'merge', { data: { a: '2' } });
      await eventually(() => expect(informer.get(namespace, 'watched')?.data).toEqual({ a: '2' }), {
        what: 'update seen',
      });
      await client.delete(builtin.configMap, namespace, 'watched');
      await eventually(() => expect(informer.get(namespace, 'watched')).toBeUndefined(), {
        what: 'delete seen',
      });

      const names = seen.filter((s) => !s.includes('kube-root-ca.crt'));
      expect(names).toEqual(['add before', 'add watched', 'update watched', 'delete watched']);
    } finally {
      await informer.stop();
    }
  });
});

describe('Server-side apply', () => {
  it('applies a child twice idempotently under the operator field manager', async () => {
    const desired = configMap('applied', { k: 'v' });
    const first = await applyChild<KubeObject>(client, builtin.configMap, desired);
    const second = await applyChild<KubeObject>(client, builtin.configMap, desired);
    expect(second.metadata?.resourceVersion).toBe(first.metadata?.resourceVersion);
    const managedFields = (second.metadata?.managedFields ?? []) as {
      manager: string;
      operation: string;
    }[];
    const managers = managedFields.map((f) => `${f.manager}/${f.operation}`);
    expect(managers).toEqual(['lathe-operator/Apply']);

    // A field the operator stops setting is removed.
    const third = await applyChild<KubeObject>(
      client,
      builtin.configMap,
      configMap('applied', { other: 'x' }),
    );
    expect(third.data).toEqual({ other: 'x' });
  });
});

describe('Events', () => {
  it('records an event and counts a repeat in its series instead of creating another', async () => {
    const regarding = await client.create<KubeObject>(builtin.configMap, configMap('evented', {}));
    const recorder = new EventRecorder({
      client,
      log,
      controller: 'lathe.dev/operator',
      instance: 'itest',
    });
    await recorder.record(
      regarding,
      'Warning',
      'ArtifactMissing',
      'Verify',
      'models/x/model.json not found',
    );
    await recorder.record(
      regarding,
      'Warning',
      'ArtifactMissing',
      'Verify',
      'models/x/model.json not found',
    );
    await recorder.record(
      regarding,
      'Warning',
      'ArtifactMissing',
      'Verify',
      'models/x/model.json not found',
    );
    const events = await client.list<KubeObject>(builtin.event, {
      namespace,
      fieldSelector: `regarding.name=evented`,
    });
    expect(events.items).toHaveLength(1);
    expect(events.items[0]).toMatchObject({
      reason: 'ArtifactMissing',
      type: 'Warning',
      note: 'models/x/model.json not found',
      reportingController: 'lathe.dev/operator',
      series: { count: 3 },
    });
  });
});

const widgetCrd: ResourceType = {
  group: 'apiextensions.k8s.io',
  version: 'v1',
  kind: 'CustomResourceDefinition',
  plural: 'customresourcedefinitions',
  namespaced: false,
};
const widget: ResourceType = {
  group: 'runtime-itest.lathe.dev',
  version: 'v1',
  kind: 'Widget',
  plural: 'widgets',
  namespaced: true,
};

describe('A controller on the runtime', () => {
  beforeAll(async () => {
    await applyChild(client, widgetCrd, {
      metadata: { name: `${widget.plural}.${widget.group}` },
      spec: {
        group: widget.group,
        scope: 'Namespaced',
        names: {
          kind: widget.kind,
          plural: widget.plural,
          singular: 'widget',
          listKind: 'WidgetList',
        },
        versions: [
          {
            name: widget.version,
            served: true,
            storage: true,
            subresources: { status: {} },
            schema: {
              openAPIV3Schema: {
                type: 'object',
                properties: {
                  spec: { type: 'object', properties: { value: { type: 'string' } } },
                  status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                },
              },
            },
          },
        ],
      },
    });
    await eventually(
      async () => {
        const crd = await client.get<KubeObject>(
          widgetCrd,
          undefined,
          `${widget.plural}.${widget.group}`,
        );
        const conditions =
          (crd.status as { conditions?: { type: string; status: string }[] } | undefined)
            ?.conditions ?? [];
        expect(conditions.some((c) => c.type === 'Established' && c.status === 'True')).toBe(true);
        await client.list(widget, { namespace });
      },
      { what: 'Widget CRD established' },
    );
  });
  afterAll(async () => {
    await client
      .delete(widgetCrd, undefined, `${widget.plural}.${widget.group}`)
      .catch(() => undefined);
  });

  it('creates the child, writes status only when it changed, and repairs a deleted child', async () => {
    let statusWrites = 0;
    let reconciles = 0;
    const controller = defineController<KubeObject>({
      name: 'widget',
      for: builtinKind(widget),
      owns: [owns(builtinKind(builtin.configMap))],
      async reconcile(key, ctx) {
        reconciles++;
        const obj = ctx.primary.get(key.namespace, key.name);
        if (!obj) return done();
        const spec = obj.spec as { value?: string };
        await applyChild(ctx.client, builtin.configMap, {
          metadata: {
            name: `${key.name}-child`,
            namespace: key.namespace,
            ownerReferences: [controllerReference(obj, widget)],
          },
          data: { value: spec.value ?? '' },
        });
        const previous = (obj.status as { conditions?: [] } | undefined)?.conditions;
        const status = {
          observedGeneration: obj.metadata?.generation,
          value: spec.value ?? '',
          conditions: setKstatus(
            previous,
            { state: 'ready', reason: 'ChildApplied', message: 'child applied' },
            obj.metadata?.generation,
            ctx.now(),
          ),
        };
        if (await patchStatusIfChanged(ctx.client, widget, obj, status)) statusWrites++;
        return done();
      },
    });
    const metrics = new OperatorMetrics(undefined, { processMetrics: false });
    const manager = new Manager({
      client,
      log,
      metrics,
      identity: 'itest',
      namespaces: [namespace],
      defaultWorkers: 2,
    });
    manager.add(controller);
    manager.start();
    try {
      await eventually(() => expect(manager.notReadyReason()).toBeUndefined(), {
        what: 'manager ready',
      });
      await client.create(widget, {
        apiVersion: `${widget.group}/${widget.version}`,
        kind: 'Widget',
        metadata: { name: 'w1', namespace },
        spec: { value: 'one' },
      });

      const settled = await eventually(
        async () => {
          const w = await client.get<KubeObject>(widget, namespace, 'w1');
          expect(w.status).toMatchObject({
            observedGeneration: 1,
            value: 'one',
            conditions: [{ type: 'Ready', status: 'True', reason: 'ChildApplied' }],
          });
          const child = await client.get<KubeObject>(builtin.configMap, namespace, 'w1-child');
          expect(child.data).toEqual({ value: 'one' });
          expect(child.metadata?.ownerReferences?.[0]).toMatchObject({
            kind: 'Widget',
            name: 'w1',
            controller: true,
          });
          return w;
        },
        { what: 'widget reconciled' },
      );
      const writesAfterSettle = statusWrites;

      // A child change enqueues the owner; nothing differs, so nothing is written.
      const before = reconciles;
      await client.patch(builtin.configMap, namespace, 'w1-child', 'merge', {
        metadata: { labels: { touched: 'yes' } },
      });
      await eventually(() => expect(reconciles).toBeGreaterThan(before), {
        what: 'owner reconciled after child change',
      });
      await new Promise((r) => setTimeout(r, 500));
      const unchanged = await client.get<KubeObject>(widget, namespace, 'w1');
      expect(unchanged.metadata?.resourceVersion).toBe(settled.metadata?.resourceVersion);
      expect(statusWrites).toBe(writesAfterSettle);

      // A deleted child is recreated (delete event mapped to the owner).
      await client.delete(builtin.configMap, namespace, 'w1-child');
      await eventually(
        async () =>
          expect(
            (await client.get<KubeObject>(builtin.configMap, namespace, 'w1-child')).data,
          ).toEqual({ value: 'one' }),
        {
          what: 'child recreated',
        },
      );

      // A spec change is reconciled: new generation, new status.
      await client.patch(widget, namespace, 'w1', 'merge', { spec: { value: 'two' } });
      await eventually(
        async () =>
          expect((await client.get<KubeObject>(widget, namespace, 'w1')).status).toMatchObject({
            observedGeneration: 2,
            value: 'two',
          }),
        { what: 'spec change reconciled' },
      );
      expect(
        (await metrics.reconcileTotal.get()).values.find((v) => v.labels.result === 'success')
          ?.value,
      ).toBeGreaterThan(0);
    } finally {
      expect(await manager.stop()).toBe(true);
    }
  });
});

describe('Leader election on a real Lease', () => {
  const timing = { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 250 };

  function elector(identity: string, leaseName: string) {
    const state = { leading: false, lost: false };
    const e = new LeaderElector({
      client,
      log,
      namespace,
      name: leaseName,
      identity,
      ...timing,
      onStartedLeading: () => {
        state.leading = true;
      },
      onStoppedLeading: () => {
        state.leading = false;
        state.lost = true;
      },
    });
    return { e, state };
  }

  const holder = async (name: string) => {
    try {
      return (
        (await client.get<LeaseObject>(builtin.lease, namespace, name)).spec?.holderIdentity ?? ''
      );
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  };

  it('elects one leader; the other takes over after expiry when it stops renewing', async () => {
    const a = elector('replica-a', 'le-expiry');
    const b = elector('replica-b', 'le-expiry');
    a.e.start();
    await eventually(() => expect(a.state.leading).toBe(true), { what: 'a leads' });
    b.e.start();
    try {
      await new Promise((r) => setTimeout(r, 1_000));
      expect(b.state.leading).toBe(false);
      expect(await holder('le-expiry')).toBe('replica-a');

      // a stops renewing without releasing (a crash): b waits out the lease, then takes it.
      await a.e.stop();
      const stoppedAt = Date.now();
      await eventually(() => expect(b.state.leading).toBe(true), {
        what: 'b takes over',
        timeoutMs: 15_000,
        intervalMs: 50,
      });
      expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(1_500);
      expect(await holder('le-expiry')).toBe('replica-b');
      const lease = await client.get<LeaseObject>(builtin.lease, namespace, 'le-expiry');
      expect(lease.spec?.leaseTransitions).toBe(1);
    } finally {
      await a.e.stop();
      await b.e.stop();
    }
  });

  it('hands over quickly when the leader releases the lease on shutdown', async () => {
    const a = elector('replica-a', 'le-release');
    const b = elector('replica-b', 'le-release');
    a.e.start();
    await eventually(() => expect(a.state.leading).toBe(true), { what: 'a leads' });
    b.e.start();
    try {
      await new Promise((r) => setTimeout(r, 500));
      expect(b.state.leading).toBe(false);
      await a.e.release();
      expect(a.state.lost).toBe(false);
      const releasedAt = Date.now();
      await eventually(() => expect(b.state.leading).toBe(true), {
        what: 'b takes over',
        timeoutMs: 10_000,
        intervalMs: 25,
      });
      // Well under the 3 s lease: within a couple of retry periods.
      expect(Date.now() - releasedAt).toBeLessThan(1_500);
    } finally {
      await a.e.stop();
      await b.e.release();
    }
    expect(await holder('le-release')).toBe('');
  });

  it('a leader that sees another holder on the lease stops leading at once', async () => {
    const a = elector('replica-a', 'le-stolen');
    a.e.start();
    try {
      await eventually(() => expect(a.state.leading).toBe(true), { what: 'a leads' });
      const lease = await client.get<LeaseObject>(builtin.lease, namespace, 'le-stolen');
      await client.replace(builtin.lease, {
        ...lease,
        spec: { ...lease.spec, holderIdentity: 'intruder' },
      });
      await eventually(() => expect(a.state.lost).toBe(true), {
        what: 'a notices',
        timeoutMs: 5_000,
        intervalMs: 25,
      });
      expect(a.e.isLeader).toBe(false);
    } finally {
      await a.e.stop();
    }
  });
});
