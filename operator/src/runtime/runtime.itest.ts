/**
 * The runtime against a real API server (the local cluster): informer list+watch, server-side
 * apply under per-controller field managers, events deduplicated, a small test controller that
 * owns a Job and Deployments (follows their pods, prunes, replaces a Job whose pod template
 * changed, writes status only on change), and leader election between two in-process electors
 * on a real Lease.
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
import { applyChild, controllerReference } from './apply.js';
import { kinds, type PodObject } from './builtin-kinds.js';
import { type Condition, setKstatus } from './conditions.js';
import { defineController, done, owns, watchesPodsOf } from './controller.js';
import { EventRecorder } from './events.js';
import { Informer } from './informer.js';
import { HttpKubeClient, isNotFound } from './kube-client.js';
import { childLabels } from './labels.js';
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
  const one = { fieldManager: 'lathe-one' };
  it('applies a child twice idempotently under the controller field manager', async () => {
    const desired = configMap('applied', { k: 'v' });
    const first = await applyChild<KubeObject>(client, builtin.configMap, desired, one);
    const second = await applyChild<KubeObject>(client, builtin.configMap, desired, one);
    expect(second.metadata?.resourceVersion).toBe(first.metadata?.resourceVersion);
    const managedFields = (second.metadata?.managedFields ?? []) as {
      manager: string;
      operation: string;
    }[];
    expect(managedFields.map((f) => `${f.manager}/${f.operation}`)).toEqual(['lathe-one/Apply']);

    // A field the controller stops setting is removed.
    const third = await applyChild<KubeObject>(
      client,
      builtin.configMap,
      configMap('applied', { other: 'x' }),
      one,
    );
    expect(third.data).toEqual({ other: 'x' });
  });

  it('keeps the fields two controllers own apart: neither erases the other', async () => {
    await applyChild(client, builtin.configMap, configMap('shared', { a: '1' }), one);
    const both = await applyChild<KubeObject>(
      client,
      builtin.configMap,
      configMap('shared', { b: '2' }),
      { fieldManager: 'lathe-two' },
    );
    expect(both.data).toEqual({ a: '1', b: '2' });
    const again = await applyChild<KubeObject>(
      client,
      builtin.configMap,
      configMap('shared', { a: '3' }),
      one,
    );
    expect(again.data).toEqual({ a: '3', b: '2' });
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
    const crd: KubeObject = {
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
                  spec: {
                    type: 'object',
                    properties: { value: { type: 'string' }, canary: { type: 'boolean' } },
                  },
                  status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                },
              },
            },
          },
        ],
      },
    };
    await applyChild(client, widgetCrd, crd, { fieldManager: 'lathe-itest' });
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

  it('owns a Job and Deployments: follows their pods, prunes, replaces, writes status on change', async () => {
    let statusWrites = 0;
    const widgetKind = builtinKind<KubeObject>(widget);
    type WidgetSpec = { value?: string; canary?: boolean };
    const controller = defineController<KubeObject>({
      name: 'widget',
      for: widgetKind,
      owns: [owns(kinds.job, { deletes: true }), owns(kinds.deployment, { deletes: true })],
      watches: [watchesPodsOf('Widget')],
      async reconcile(obj, ctx) {
        const name = obj.metadata?.name ?? '';
        const spec = (obj.spec ?? {}) as WidgetSpec;
        const labels = childLabels('Widget', name);
        const ownerReferences = [controllerReference(obj, widget)];
        const template = (role: string, command: string[]) => ({
          metadata: { labels: { ...labels, role } },
          spec: {
            containers: [
              {
                name: 'main',
                image: 'lathe.dev/test/busybox',
                command,
                env: [{ name: 'VALUE', value: spec.value ?? '' }],
              },
            ],
          },
        });
        await ctx.apply(
          kinds.job,
          {
            apiVersion: 'batch/v1',
            kind: 'Job',
            metadata: { name: `${name}-job`, namespace, labels, ownerReferences },
            spec: {
              backoffLimit: 0,
              template: (() => {
                const t = template('job', ['sh', '-c', 'echo "$VALUE"']);
                return { ...t, spec: { ...t.spec, restartPolicy: 'Never' } };
              })(),
            },
          },
          { recreateOnImmutable: true },
        );
        const deployments = spec.canary ? ['web', 'canary'] : ['web'];
        for (const role of deployments) {
          await ctx.apply(kinds.deployment, {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            metadata: { name: `${name}-${role}`, namespace, labels, ownerReferences },
            spec: {
              replicas: 1,
              selector: { matchLabels: { ...labels, role } },
              template: template(role, ['sleep', '600']),
            },
          });
        }
        const pruned = await ctx.prune(
          kinds.deployment,
          obj,
          deployments.map((role) => `${name}-${role}`),
        );
        if (pruned.length > 0) ctx.log.info({ pruned }, 'Pruned deployments');

        // Pods reach the owner through the labels on the templates.
        const pods = ctx
          .reader(kinds.pod)
          .list(namespace)
          .filter((p: PodObject) => p.metadata?.labels?.['lathe.dev/widget'] === name);
        const jobs = ctx.childrenOf(kinds.job, obj);
        const status = {
          observedGeneration: obj.metadata?.generation,
          jobUid: jobs[0]?.metadata?.uid ?? '',
          jobSucceeded: (jobs[0]?.status?.succeeded ?? 0) > 0,
          runningPods: pods.filter(
            (p: PodObject) => p.metadata?.labels?.role === 'web' && p.status?.phase === 'Running',
          ).length,
          children: [...ctx.childrenOf(kinds.deployment, obj)].map((d) => d.metadata?.name).sort(),
          conditions: setKstatus(
            (obj.status as { conditions?: Condition[] } | undefined)?.conditions,
            { state: 'ready', reason: 'ChildrenApplied', message: 'children applied' },
            obj.metadata?.generation,
            ctx.now(),
          ),
        };
        if (await ctx.patchStatus(obj, status)) statusWrites++;
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
    const widgetStatus = async () =>
      (await client.get<KubeObject>(widget, namespace, 'w1')).status as Record<string, unknown>;
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

      const first = await eventually(
        async () => {
          const status = await widgetStatus();
          expect(status).toMatchObject({
            observedGeneration: 1,
            jobSucceeded: true,
            runningPods: 1,
            children: ['w1-web'],
          });
          return status;
        },
        {
          what: 'job succeeded and the web pod running, seen through pod events',
          timeoutMs: 90_000,
        },
      );
      const job = await client.get<KubeObject>(builtin.job, namespace, 'w1-job');
      expect(job.metadata?.labels).toMatchObject({
        'app.kubernetes.io/managed-by': 'lathe',
        'lathe.dev/widget': 'w1',
      });
      expect(job.metadata?.ownerReferences?.[0]).toMatchObject({
        kind: 'Widget',
        controller: true,
      });
      const managers = ((job.metadata?.managedFields ?? []) as { manager: string }[]).map(
        (f) => f.manager,
      );
      expect(managers).toContain('lathe-widget');

      // A child change enqueues the owner; the reconcile completes and writes nothing.
      const writes = statusWrites;
      const succeeded = async () =>
        (await metrics.reconcileTotal.get()).values.find((v) => v.labels.result === 'success')
          ?.value ?? 0;
      const before = await succeeded();
      const settled = await client.get<KubeObject>(widget, namespace, 'w1');
      await client.patch(builtin.job, namespace, 'w1-job', 'merge', {
        metadata: { annotations: { touched: 'yes' } },
      });
      await eventually(async () => expect(await succeeded()).toBeGreaterThan(before), {
        what: 'owner reconciled after the child changed',
      });
      expect(statusWrites).toBe(writes);
      expect(
        (await client.get<KubeObject>(widget, namespace, 'w1')).metadata?.resourceVersion,
      ).toBe(settled.metadata?.resourceVersion);

      // A canary appears, then is pruned when no longer wanted.
      await client.patch(widget, namespace, 'w1', 'merge', { spec: { canary: true } });
      await eventually(
        async () =>
          expect(await widgetStatus()).toMatchObject({ children: ['w1-canary', 'w1-web'] }),
        { what: 'canary deployment created' },
      );
      await client.patch(widget, namespace, 'w1', 'merge', { spec: { canary: false } });
      await eventually(
        async () => {
          expect(await widgetStatus()).toMatchObject({ children: ['w1-web'] });
          await expect(client.get(builtin.deployment, namespace, 'w1-canary')).rejects.toSatisfy(
            isNotFound,
          );
        },
        { what: 'canary deployment pruned' },
      );

      // A new pod template is immutable on a Job: the Job is replaced, and the new one runs.
      await client.patch(widget, namespace, 'w1', 'merge', { spec: { value: 'two' } });
      await eventually(
        async () => {
          const status = await widgetStatus();
          expect(status.jobUid).not.toBe(first.jobUid);
          expect(status).toMatchObject({ jobSucceeded: true, observedGeneration: 4 });
          const replaced = await client.get<KubeObject>(builtin.job, namespace, 'w1-job');
          const env = (
            replaced.spec as { template: { spec: { containers: { env: { value: string }[] }[] } } }
          ).template.spec.containers[0]?.env[0]?.value;
          expect(env).toBe('two');
        },
        { what: 'job replaced with the new template and succeeded', timeoutMs: 90_000 },
      );
    } finally {
      expect(await manager.stop()).toBe(true);
    }
  });
});

describe('Leader election on a real Lease', () => {
  const timing = { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 250 };

  function elector(identity: string, leaseName: string) {
    const state = { leading: false, lost: false, waited: [] as string[] };
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
      onWaiting: (holder) => void state.waited.push(holder),
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
      // b has seen the lease held by a, twice, and stood back.
      await eventually(() => expect(b.state.waited.length).toBeGreaterThanOrEqual(2), {
        what: 'b waits for a',
      });
      expect(b.state.waited.every((h) => h === 'replica-a')).toBe(true);
      expect(b.state.leading).toBe(false);

      // a stops renewing without releasing (a crash): b waits out the lease, then takes it.
      await a.e.stop();
      const lastRenewal = (await client.get<LeaseObject>(builtin.lease, namespace, 'le-expiry'))
        .spec?.renewTime;
      await eventually(() => expect(b.state.leading).toBe(true), {
        what: 'b takes over',
        timeoutMs: 15_000,
        intervalMs: 50,
      });
      const lease = await client.get<LeaseObject>(builtin.lease, namespace, 'le-expiry');
      expect(lease.spec?.holderIdentity).toBe('replica-b');
      expect(lease.spec?.leaseTransitions).toBe(1);
      // The lease record proves b waited for expiry: it acquired a full lease after a's last renewal.
      expect(
        Date.parse(lease.spec?.acquireTime ?? '') - Date.parse(lastRenewal ?? ''),
      ).toBeGreaterThanOrEqual(timing.leaseDurationMs);
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
      await eventually(() => expect(b.state.waited.length).toBeGreaterThanOrEqual(1), {
        what: 'b waits for a',
      });
      expect(b.state.leading).toBe(false);
      const lastRenewal = (await client.get<LeaseObject>(builtin.lease, namespace, 'le-release'))
        .spec?.renewTime;
      await a.e.release();
      expect(a.state.lost).toBe(false);
      await eventually(() => expect(b.state.leading).toBe(true), {
        what: 'b takes over',
        timeoutMs: 10_000,
        intervalMs: 25,
      });
      // The lease record proves the hand-over: b acquired before a's lease would have expired.
      const lease = await client.get<LeaseObject>(builtin.lease, namespace, 'le-release');
      expect(lease.spec?.holderIdentity).toBe('replica-b');
      expect(Date.parse(lease.spec?.acquireTime ?? '')).toBeLessThan(
        Date.parse(lastRenewal ?? '') + timing.leaseDurationMs,
      );
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
      // The leader renews between our read and our write at times (409): read again then.
      await eventually(
        async () => {
          const lease = await client.get<LeaseObject>(builtin.lease, namespace, 'le-stolen');
          await client.replace(builtin.lease, {
            ...lease,
            spec: { ...lease.spec, holderIdentity: 'intruder' },
          });
        },
        { what: 'the lease taken by an intruder', timeoutMs: 5_000, intervalMs: 10 },
      );
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
