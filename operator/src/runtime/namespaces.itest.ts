/**
 * Where the operator acts, on a real API server: a manager told to watch some namespaces never
 * sees (so never reconciles) an object elsewhere, and an object in kube-system or in a refused
 * namespace gets no children, only `Stalled=True`/`NamespaceRefused` naming the namespace, while
 * the same controller goes on reconciling the objects it may act on.
 *
 * The controller is a small test controller of a test kind (`Gadget`, its own CRD), so the only
 * objects its informers can find are the ones this file creates.
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
import { kinds } from './builtin-kinds.js';
import { type Condition, setKstatus } from './conditions.js';
import { defineController, done, owns } from './controller.js';
import { HttpKubeClient, isNotFound } from './kube-client.js';
import { childLabels } from './labels.js';
import { Manager } from './manager.js';
import { builtin, builtinKind, type KubeObject, type ResourceType } from './resource.js';

const log = pino({ level: process.env.LATHE_TEST_LOG_LEVEL ?? 'silent' });
const client = new HttpKubeClient(kubeConfig());

const crdResource: ResourceType = {
  group: 'apiextensions.k8s.io',
  version: 'v1',
  kind: 'CustomResourceDefinition',
  plural: 'customresourcedefinitions',
  namespaced: false,
};
const gadget: ResourceType = {
  group: 'namespaces-itest.lathe.dev',
  version: 'v1',
  kind: 'Gadget',
  plural: 'gadgets',
  namespaced: true,
};
const gadgetKind = builtinKind<KubeObject>(gadget);

/** Two namespaces the test controller watches and one it does not. */
let watched = '';
let refused = '';
let unwatched = '';

beforeAll(async () => {
  [watched, refused, unwatched] = await Promise.all([
    createTestNamespace('ns-watched'),
    createTestNamespace('ns-refused'),
    createTestNamespace('ns-unwatched'),
  ]);
  const crd: KubeObject = {
    metadata: { name: `${gadget.plural}.${gadget.group}` },
    spec: {
      group: gadget.group,
      scope: 'Namespaced',
      names: { kind: 'Gadget', plural: 'gadgets', singular: 'gadget', listKind: 'GadgetList' },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          subresources: { status: {} },
          schema: {
            openAPIV3Schema: {
              type: 'object',
              'x-kubernetes-preserve-unknown-fields': true,
            },
          },
        },
      ],
    },
  };
  await applyChild(client, crdResource, crd, { fieldManager: 'lathe-itest' });
  await eventually(() => client.list(gadget, { namespace: watched }), {
    what: 'Gadget CRD served',
  });
});

afterAll(async () => {
  if (watched)
    await client.delete(gadget, 'kube-system', `lathe-itest-${watched}`).catch(() => undefined);
  // Deleting the CRD deletes every other Gadget.
  await client
    .delete(crdResource, undefined, `${gadget.plural}.${gadget.group}`)
    .catch(() => undefined);
  await Promise.all([watched, refused, unwatched].filter(Boolean).map(deleteTestNamespace));
});

/** A controller that gives each Gadget one ConfigMap child and reports Ready. */
const gadgetController = defineController<KubeObject>({
  name: 'gadget',
  for: gadgetKind,
  owns: [owns(kinds.configMap)],
  async reconcile(obj, ctx) {
    const name = obj.metadata?.name ?? '';
    const namespace = obj.metadata?.namespace ?? '';
    await ctx.apply(kinds.configMap, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: `${name}-child`,
        namespace,
        labels: childLabels('Gadget', name),
        ownerReferences: [controllerReference(obj, gadget)],
      },
      data: { made: 'yes' },
    });
    await ctx.patchStatus(obj, {
      observedGeneration: obj.metadata?.generation,
      conditions: setKstatus(
        (obj.status as { conditions?: Condition[] } | undefined)?.conditions,
        { state: 'ready', reason: 'ChildApplied', message: 'child applied' },
        obj.metadata?.generation,
        ctx.now(),
      ),
    });
    return done();
  },
});

const createGadget = (namespace: string, name: string) =>
  client.create(gadget, {
    apiVersion: `${gadget.group}/${gadget.version}`,
    kind: 'Gadget',
    metadata: { name, namespace },
    spec: {},
  });

const conditionsOf = async (namespace: string, name: string) =>
  (
    (await client.get<KubeObject>(gadget, namespace, name)).status as
      | { conditions?: Condition[] }
      | undefined
  )?.conditions ?? [];

const childOf = (namespace: string, name: string) =>
  client.get<KubeObject>(builtin.configMap, namespace, `${name}-child`);

async function withManager(
  options: { namespaces: string[]; refusedNamespaces?: string[] },
  body: (manager: Manager) => Promise<void>,
): Promise<void> {
  const manager = new Manager({
    client,
    log,
    metrics: new OperatorMetrics(undefined, { processMetrics: false }),
    identity: 'namespaces-itest',
    defaultWorkers: 2,
    ...options,
  });
  manager.add(gadgetController);
  manager.start();
  try {
    await eventually(() => expect(manager.notReadyReason()).toBeUndefined(), {
      what: 'manager ready',
    });
    await body(manager);
  } finally {
    expect(await manager.stop()).toBe(true);
  }
}

describe('The namespaces the operator acts in', () => {
  it('reconciles in the watched namespaces only: an object elsewhere is never seen, nor given children', async () => {
    // Created before the manager starts: its informers' first list would find it, were it watched.
    await createGadget(unwatched, 'outside');
    await withManager({ namespaces: [watched] }, async (manager) => {
      await createGadget(watched, 'inside');
      await eventually(
        async () => {
          expect(await conditionsOf(watched, 'inside')).toContainEqual(
            expect.objectContaining({ type: 'Ready', status: 'True', reason: 'ChildApplied' }),
          );
          await childOf(watched, 'inside');
        },
        { what: 'the watched Gadget reconciled' },
      );
      // The cache holds the watched namespace's objects only; the other one was never listed.
      expect(
        manager.informers
          .reader(gadgetKind)
          .list()
          .map((g) => `${g.metadata?.namespace}/${g.metadata?.name}`),
      ).toEqual([`${watched}/inside`]);
      expect(await conditionsOf(unwatched, 'outside')).toEqual([]);
      await expect(childOf(unwatched, 'outside')).rejects.toSatisfy(isNotFound);
    });
  });

  it('gives an object in kube-system or a refused namespace no children, only Stalled/NamespaceRefused, and goes on reconciling the rest', async () => {
    await withManager(
      { namespaces: [watched, refused, 'kube-system'], refusedNamespaces: [refused] },
      async () => {
        await createGadget('kube-system', `lathe-itest-${watched}`);
        await createGadget(refused, 'refused');
        await createGadget(watched, 'allowed');
        for (const [namespace, name] of [
          ['kube-system', `lathe-itest-${watched}`],
          [refused, 'refused'],
        ] as const) {
          const conditions = await eventually(
            async () => {
              const found = await conditionsOf(namespace, name);
              expect(found).toContainEqual(
                expect.objectContaining({
                  type: 'Stalled',
                  status: 'True',
                  reason: 'NamespaceRefused',
                }),
              );
              return found;
            },
            { what: `the Gadget in ${namespace} reported refused` },
          );
          expect(conditions).toContainEqual(
            expect.objectContaining({ type: 'Ready', status: 'False', reason: 'NamespaceRefused' }),
          );
          expect(conditions.find((c) => c.type === 'Stalled')?.message).toContain(
            `namespace "${namespace}"`,
          );
          await expect(childOf(namespace, name)).rejects.toSatisfy(isNotFound);
        }
        await eventually(() => childOf(watched, 'allowed'), {
          what: 'the allowed Gadget reconciled beside the refused ones',
        });
      },
    );
  });
});
