import { describe, expect, it } from 'vitest';
import { ACTIVATOR_NAME, ACTIVATOR_POD_LABELS } from '../../../../contract/activator.js';
import type { InferenceService } from '../../api/inferenceservice.js';
import {
  decideZero,
  desiredActivatorDeployment,
  desiredActivatorIdentity,
  parseColdStart,
  scalesToZero,
  type ZeroInput,
  zeroAnnotations,
} from './scale-to-zero.js';

const T0 = Date.parse('2026-12-07T10:00:00Z');
const IDLE = 60_000;
const at = (ms: number) => new Date(ms).toISOString();

const base: ZeroInput = {
  nowMs: T0,
  idleAfterMs: IDLE,
  wanted: 0,
  deploymentReplicas: 1,
  readyReplicas: 1,
  activationRequestedAtMs: undefined,
  lastActivityMs: T0 - 1_000,
  routedToActivator: false,
  activatorAvailable: true,
  zeroSince: undefined,
  lastColdStart: undefined,
};

describe('decideZero', () => {
  it.each<[string, Partial<ZeroInput>, { replicas: number; route: string; atZero: boolean }]>([
    [
      'serving with recent requests: servers, at least 1',
      {},
      { replicas: 1, route: 'servers', atZero: false },
    ],
    ['the autoscaler wants 3: 3', { wanted: 3 }, { replicas: 3, route: 'servers', atZero: false }],
    [
      'idle, Service still on the servers: first move the Service, keep the replicas',
      { lastActivityMs: T0 - IDLE },
      { replicas: 1, route: 'activator', atZero: false },
    ],
    [
      'idle, Service already on the activator: scale to 0',
      { lastActivityMs: T0 - IDLE, routedToActivator: true },
      { replicas: 0, route: 'activator', atZero: true },
    ],
    [
      'idle but the activator is not available: keep serving',
      { lastActivityMs: T0 - IDLE, activatorAvailable: false },
      { replicas: 1, route: 'servers', atZero: false },
    ],
    [
      'idle clock unknown (a restarted operator): keep serving',
      { lastActivityMs: undefined },
      { replicas: 1, route: 'servers', atZero: false },
    ],
    [
      'at zero, no request: stay at zero on the activator',
      {
        deploymentReplicas: 0,
        readyReplicas: 0,
        routedToActivator: true,
        lastActivityMs: undefined,
      },
      { replicas: 0, route: 'activator', atZero: true },
    ],
    [
      'at zero, an old request (before the idle period): stay at zero',
      {
        deploymentReplicas: 0,
        readyReplicas: 0,
        routedToActivator: true,
        activationRequestedAtMs: T0 - IDLE - 1,
      },
      { replicas: 0, route: 'activator', atZero: true },
    ],
    [
      'at zero, a fresh request: wake, Service stays on the activator',
      {
        deploymentReplicas: 0,
        readyReplicas: 0,
        routedToActivator: true,
        activationRequestedAtMs: T0 - 500,
      },
      { replicas: 1, route: 'activator', atZero: false },
    ],
    [
      'waking, no replica ready yet: the activator holds requests',
      { readyReplicas: 0, routedToActivator: true, activationRequestedAtMs: T0 - 5_000 },
      { replicas: 1, route: 'activator', atZero: false },
    ],
    [
      'a first rollout without a ready activator: servers (nothing to hold requests)',
      { readyReplicas: 0, activatorAvailable: false },
      { replicas: 1, route: 'servers', atZero: false },
    ],
    [
      'idle but a fresh activation: not idle',
      { lastActivityMs: T0 - IDLE, routedToActivator: true, activationRequestedAtMs: T0 - 1_000 },
      { replicas: 1, route: 'servers', atZero: false },
    ],
  ])('%s', (_case, input, want) => {
    const d = decideZero({ ...base, ...input });
    expect({ replicas: d.primaryReplicas, route: d.route, atZero: d.atZero }).toEqual(want);
  });

  it('keeps the time it went to zero, and records it the first time', () => {
    const first = decideZero({ ...base, lastActivityMs: T0 - IDLE, routedToActivator: true });
    expect(first.zeroSince).toBe(at(T0));
    const later = decideZero({
      ...base,
      nowMs: T0 + 10_000,
      deploymentReplicas: 0,
      readyReplicas: 0,
      routedToActivator: true,
      zeroSince: first.zeroSince,
    });
    expect(later.zeroSince).toBe(at(T0));
  });

  it('records a cold start, from the activation to the first ready replica, once', () => {
    const woke = decideZero({
      ...base,
      nowMs: T0 + 20_000,
      routedToActivator: true,
      zeroSince: at(T0),
      activationRequestedAtMs: T0 + 12_500,
    });
    expect(woke).toMatchObject({
      route: 'servers',
      zeroSince: undefined,
      newColdStart: true,
      lastColdStart: { seconds: 7.5, at: at(T0 + 20_000) },
    });
    // The next pass finds the Service on the servers and without zeroSince: nothing new.
    const next = decideZero({
      ...base,
      nowMs: T0 + 25_000,
      activationRequestedAtMs: T0 + 12_500,
      lastColdStart: woke.lastColdStart,
    });
    expect(next).toMatchObject({ newColdStart: false, lastColdStart: woke.lastColdStart });
  });

  it('records no cold start when the Service only moved to the activator and back', () => {
    const back = decideZero({
      ...base,
      routedToActivator: true,
      activationRequestedAtMs: T0 - 5 * IDLE,
    });
    expect(back).toMatchObject({ route: 'servers', newColdStart: false, lastColdStart: undefined });
  });
});

describe('parseColdStart and zeroAnnotations', () => {
  it.each([
    [undefined, undefined],
    ['', undefined],
    ['not json', undefined],
    ['{"seconds":"3","at":"2026-01-01T00:00:00Z"}', undefined],
    ['{"seconds":3,"at":"yesterday"}', undefined],
    ['{"seconds":3.2,"at":"2026-01-01T00:00:00Z"}', { seconds: 3.2, at: '2026-01-01T00:00:00Z' }],
  ])('%s', (text, want) => {
    expect(parseColdStart(text)).toEqual(want);
  });

  it('round-trips through the annotations', () => {
    const lastColdStart = { seconds: 4, at: at(T0) };
    const annotations = zeroAnnotations({ zeroSince: at(T0), lastColdStart });
    expect(parseColdStart(annotations['lathe.dev/last-cold-start'])).toEqual(lastColdStart);
    expect(zeroAnnotations({ zeroSince: undefined, lastColdStart: undefined })).toEqual({});
  });
});

describe('scalesToZero', () => {
  const isvc = (spec: Record<string, unknown>, metadata: Record<string, unknown> = {}) =>
    ({
      metadata: { name: 'iris', namespace: 'team', ...metadata },
      spec: {
        model: { name: 'iris' },
        replicas: { min: 0, max: 2, scaleToZeroAfter: '5m' },
        ...spec,
      },
    }) as unknown as InferenceService;
  it.each([
    ['min 0', isvc({}), true],
    ['min 1', isvc({ replicas: { min: 1, max: 2 } }), false],
    ['hpa mode', isvc({ autoscaling: { mode: 'hpa', metric: 'cpu', target: 50 } }), false],
    ['lathe mode', isvc({ autoscaling: { mode: 'lathe', metric: 'rps', target: 5 } }), true],
    ['with a canary', isvc({ canary: { version: 2, trafficPercent: 10, replicas: 1 } }), false],
    ['being deleted', isvc({}, { deletionTimestamp: '2026-01-01T00:00:00Z' }), false],
  ])('%s: %s', (_case, service, want) => {
    expect(scalesToZero(service)).toBe(want);
  });
});

describe('the activator children', () => {
  const owners = [
    {
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'InferenceService',
      name: 'a',
      uid: 'u1',
      controller: true,
      blockOwnerDeletion: true,
    },
    {
      apiVersion: 'lathe.dev/v1alpha1',
      kind: 'InferenceService',
      name: 'b',
      uid: 'u2',
      controller: true,
      blockOwnerDeletion: true,
    },
  ];
  it('is owned, not controlled, by every service at zero, and its pods carry the labels a Service at zero selects', () => {
    const d = desiredActivatorDeployment('team', owners, {
      image: 'ghcr.io/lathe-dev/lathe-activator:1',
    });
    expect(d.metadata?.name).toBe(ACTIVATOR_NAME);
    expect(
      d.metadata?.ownerReferences?.map((o) => [o.uid, o.controller, o.blockOwnerDeletion]),
    ).toEqual([
      ['u1', false, false],
      ['u2', false, false],
    ]);
    expect(d.spec?.template?.metadata?.labels).toMatchObject(ACTIVATOR_POD_LABELS);
    expect(d.spec?.selector?.matchLabels).toEqual(ACTIVATOR_POD_LABELS);
    const container = d.spec?.template?.spec?.containers?.[0];
    expect(container?.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    expect(d.spec?.template?.spec?.serviceAccountName).toBe(ACTIVATOR_NAME);
  });

  it('grants only reading and annotating InferenceServices and listing pods, in its namespace', () => {
    const { role, roleBinding, serviceAccount } = desiredActivatorIdentity('team', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: ACTIVATOR_NAME,
      uid: 'd1',
    });
    expect(role.rules).toEqual([
      { apiGroups: ['lathe.dev'], resources: ['inferenceservices'], verbs: ['get', 'patch'] },
      { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
    ]);
    expect(roleBinding.subjects).toEqual([
      { kind: 'ServiceAccount', name: ACTIVATOR_NAME, namespace: 'team' },
    ]);
    expect(serviceAccount.metadata?.ownerReferences?.[0]).toMatchObject({
      uid: 'd1',
      controller: false,
    });
  });
});
