import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type {
  ContainerRecord,
  ContainerState,
  PodRecord,
  TerminatedState,
} from './container-state.js';
import { podPhaseOf, podStatusOf } from './pod-status.js';
import type { RestartPolicy } from './restart.js';

const T0 = '2025-01-01T00:00:00Z';
const T1 = '2025-01-01T00:01:00Z';

const exited = (exitCode: number): TerminatedState => ({
  kind: 'terminated',
  exitCode,
  reason: exitCode === 0 ? 'Completed' : 'Error',
  startedAt: T0,
  finishedAt: T0,
  pid: 42,
});

/** Shorthand container states: W waiting, R running, ready R+, 0/1 exited, B back-off after failure. */
function container(name: string, short: string): ContainerRecord {
  const states: Record<string, ContainerState> = {
    W: { kind: 'waiting', reason: 'ContainerCreating' },
    R: { kind: 'running', startedAt: T0, pid: 7 },
    'R+': { kind: 'running', startedAt: T0, pid: 7 },
    '0': exited(0),
    '1': exited(1),
    B: { kind: 'waiting', reason: 'CrashLoopBackOff', message: 'back-off 1s' },
  };
  return {
    name,
    image: 'lathe.dev/test/busybox:1',
    state: states[short]!,
    ...(short === 'B' ? { lastTerminated: exited(1) } : {}),
    restartCount: short === 'B' ? 1 : 0,
    ready: short === 'R+',
    started: short.startsWith('R'),
  };
}

function record(init: string, main: string, extra: Partial<PodRecord> = {}): PodRecord {
  return {
    podIP: '127.244.0.2',
    hostIP: '127.0.0.1',
    startTime: T0,
    sandboxReady: true,
    initContainers: init
      .split(' ')
      .filter(Boolean)
      .map((s, i) => container(`init${i}`, s)),
    containers: main
      .split(' ')
      .filter(Boolean)
      .map((s, i) => container(`c${i}`, s)),
    ...extra,
  };
}

describe('podPhaseOf', () => {
  it.each<[RestartPolicy, string, string, string]>([
    ['Always', '', 'W', 'Pending'],
    ['Always', 'R', 'W', 'Pending'],
    ['Always', '0 W', 'W', 'Pending'],
    ['Never', '1', 'W', 'Failed'],
    ['OnFailure', 'B', 'W', 'Pending'],
    ['Never', 'B', 'W', 'Failed'],
    ['Always', '0', 'R', 'Running'],
    ['Always', '', 'R W', 'Pending'],
    ['Always', '', 'R 0', 'Running'],
    ['Always', '', '0', 'Running'],
    ['Always', '', 'B', 'Running'],
    ['OnFailure', '', '0', 'Succeeded'],
    ['OnFailure', '', '0 0', 'Succeeded'],
    ['OnFailure', '', '1', 'Running'],
    ['OnFailure', '', 'B', 'Running'],
    ['Never', '', '0', 'Succeeded'],
    ['Never', '', '1', 'Failed'],
    ['Never', '', '0 1', 'Failed'],
    ['Never', '', 'R 1', 'Running'],
  ])('restartPolicy %s, init [%s], containers [%s] → %s', (policy, init, main, expected) => {
    expect(podPhaseOf(policy, record(init, main))).toBe(expected);
  });

  it('keeps a terminal phase whatever the containers say', () => {
    expect(podPhaseOf('Always', record('', 'R', { terminalPhase: 'Failed' }))).toBe('Failed');
  });
});

const pod = (
  spec: Partial<k8s.V1PodSpec> = {},
  conditions: k8s.V1PodCondition[] = [],
): k8s.V1Pod => ({
  metadata: { name: 'p', namespace: 'ns', uid: 'u' },
  spec: { containers: [], restartPolicy: 'Always', ...spec },
  status: { conditions },
});

const conditionsOf = (
  p: k8s.V1Pod,
  r: PodRecord,
  previous: { type: string; status: string; lastTransitionTime?: unknown }[] = [],
) =>
  Object.fromEntries(
    podStatusOf(p, r, previous, T1).conditions.map((c) => [
      c.type,
      `${c.status}${c.reason ? ` ${c.reason}` : ''}`,
    ]),
  );

describe('podStatusOf', () => {
  it.each<[string, PodRecord, Record<string, string>]>([
    [
      'a pod initialising',
      record('0 R', 'W'),
      {
        PodReadyToStartContainers: 'True',
        Initialized: 'False ContainersNotInitialized',
        ContainersReady: 'False ContainersNotReady',
        Ready: 'False ContainersNotReady',
      },
    ],
    [
      'a running, ready pod',
      record('0', 'R+ R+'),
      {
        PodReadyToStartContainers: 'True',
        Initialized: 'True',
        ContainersReady: 'True',
        Ready: 'True',
      },
    ],
    [
      'a running pod with an unready container',
      record('', 'R+ R'),
      {
        PodReadyToStartContainers: 'True',
        Initialized: 'True',
        ContainersReady: 'False ContainersNotReady',
        Ready: 'False ContainersNotReady',
      },
    ],
    [
      'a completed pod',
      record('', '0', { terminalPhase: 'Succeeded' }),
      {
        PodReadyToStartContainers: 'False',
        Initialized: 'True',
        ContainersReady: 'False PodCompleted',
        Ready: 'False PodCompleted',
      },
    ],
  ])('conditions of %s', (_, r, expected) => {
    expect(conditionsOf(pod(), r)).toEqual(expected);
  });

  it('names the containers that hold readiness back', () => {
    const status = podStatusOf(pod(), record('R', 'W W'), [], T1);
    expect(status.conditions.find((c) => c.type === 'Initialized')?.message).toBe(
      'containers with incomplete status: [init0]',
    );
    expect(status.conditions.find((c) => c.type === 'Ready')?.message).toBe(
      'containers with unready status: [c0 c1]',
    );
  });

  it('keeps lastTransitionTime while a condition stays, resets it when it flips', () => {
    const status = podStatusOf(
      pod(),
      record('', 'R+'),
      [
        { type: 'Initialized', status: 'True', lastTransitionTime: new Date(T0) },
        { type: 'Ready', status: 'False', lastTransitionTime: T0 },
      ],
      T1,
    );
    const at = Object.fromEntries(status.conditions.map((c) => [c.type, c.lastTransitionTime]));
    expect(at.Initialized).toBe(T0);
    expect(at.Ready).toBe(T1);
  });

  it('holds Ready back until the readiness gates pass', () => {
    const gated = { readinessGates: [{ conditionType: 'lathe.dev/warm' }] };
    expect(conditionsOf(pod(gated), record('', 'R+')).Ready).toBe('False ReadinessGatesNotReady');
    expect(
      conditionsOf(pod(gated, [{ type: 'lathe.dev/warm', status: 'True' }]), record('', 'R+'))
        .Ready,
    ).toBe('True');
  });

  it('reports container states, last state, IDs and addresses', () => {
    const r = record('0', 'B R+');
    const status = podStatusOf(pod(), r, [], T1);
    expect(status).toMatchObject({
      phase: 'Running',
      hostIP: '127.0.0.1',
      hostIPs: [{ ip: '127.0.0.1' }],
      podIP: '127.244.0.2',
      podIPs: [{ ip: '127.244.0.2' }],
      startTime: T0,
    });
    expect(status.initContainerStatuses[0]).toEqual({
      name: 'init0',
      state: {
        terminated: {
          exitCode: 0,
          reason: 'Completed',
          startedAt: T0,
          finishedAt: T0,
          containerID: 'lathe://42',
        },
      },
      lastState: {},
      ready: false,
      started: false,
      restartCount: 0,
      image: 'lathe.dev/test/busybox:1',
      imageID: 'lathe://lathe.dev/test/busybox',
      containerID: 'lathe://42',
    });
    expect(status.containerStatuses[0]).toMatchObject({
      state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 1s' } },
      lastState: { terminated: { exitCode: 1, reason: 'Error' } },
      restartCount: 1,
      ready: false,
    });
    expect(status.containerStatuses[1]).toMatchObject({
      state: { running: { startedAt: T0 } },
      ready: true,
      started: true,
      containerID: 'lathe://7',
    });
  });
});
