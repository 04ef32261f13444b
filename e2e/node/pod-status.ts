/**
 * The pod status a kubelet reports, computed from the node's records (pure: record and clock
 * in, status out). The node patches the status subresource with this only when it changed.
 *
 * The phase follows the kubelet's `getPhase`: Pending until the init containers completed and
 * every container was started; Running while any container runs or will be restarted;
 * Succeeded/Failed once every container stopped for good. A terminal phase never changes.
 */
import type * as k8s from '@kubernetes/client-node';
import type {
  ContainerRecord,
  ContainerState,
  PodRecord,
  TerminatedState,
} from './container-state.js';
import { imageNameOf } from './images.js';
import type { RestartPolicy } from './restart.js';

export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';

/** Wire form of a pod condition (timestamps as strings). */
export interface PodConditionJson {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface ContainerStateJson {
  waiting?: { reason: string; message?: string };
  running?: { startedAt: string };
  terminated?: {
    exitCode: number;
    signal?: number;
    reason: string;
    message?: string;
    startedAt: string;
    finishedAt: string;
    containerID?: string;
  };
}

export interface ContainerStatusJson {
  name: string;
  state: ContainerStateJson;
  lastState: ContainerStateJson;
  ready: boolean;
  started: boolean;
  restartCount: number;
  image: string;
  imageID: string;
  containerID?: string;
}

/** The status the node writes (the fields a kubelet owns). */
export interface PodStatusJson {
  phase: PodPhase;
  conditions: PodConditionJson[];
  hostIP: string;
  hostIPs: { ip: string }[];
  podIP?: string;
  podIPs?: { ip: string }[];
  startTime?: string;
  initContainerStatuses: ContainerStatusJson[];
  containerStatuses: ContainerStatusJson[];
}

function completed(c: ContainerRecord): boolean {
  return c.state.kind === 'terminated' && c.state.exitCode === 0;
}

/** The pod's phase from its containers' states (kubelet `getPhase`). */
export function podPhaseOf(restartPolicy: RestartPolicy, record: PodRecord): PodPhase {
  if (record.terminalPhase) return record.terminalPhase;
  const initFailed = record.initContainers.some(
    (c) =>
      (c.state.kind === 'terminated' && c.state.exitCode !== 0) ||
      (c.state.kind === 'waiting' && c.lastTerminated && c.lastTerminated.exitCode !== 0),
  );
  if (initFailed && restartPolicy === 'Never') return 'Failed';
  if (!record.initContainers.every(completed)) return 'Pending';

  let waiting = 0;
  let running = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const c of record.containers) {
    if (c.state.kind === 'running') running++;
    else if (c.state.kind === 'terminated') {
      stopped++;
      if (c.state.exitCode === 0) succeeded++;
    } else if (c.lastTerminated) stopped++;
    else waiting++;
  }
  if (waiting > 0) return 'Pending';
  if (running > 0) return 'Running';
  if (stopped > 0) {
    if (restartPolicy === 'Always') return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    if (restartPolicy === 'Never') return 'Failed';
    return 'Running';
  }
  return 'Pending';
}

function stateJson(state: ContainerState, containerID: string | undefined): ContainerStateJson {
  switch (state.kind) {
    case 'waiting':
      return { waiting: omitUndefined({ reason: state.reason, message: state.message }) };
    case 'running':
      return { running: { startedAt: state.startedAt } };
    case 'terminated':
      return { terminated: terminatedJson(state, containerID) };
  }
}

function terminatedJson(state: TerminatedState, containerID: string | undefined) {
  return omitUndefined({
    exitCode: state.exitCode,
    signal: state.signal,
    reason: state.reason,
    message: state.message,
    startedAt: state.startedAt,
    finishedAt: state.finishedAt,
    containerID,
  });
}

function omitUndefined<T extends object>(object: T): T {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined)) as T;
}

/** `lathe://<pid>`: the process of the container's current (or last) run. */
function containerIdOf(c: ContainerRecord): string | undefined {
  const pid = c.state.kind === 'waiting' ? c.lastTerminated?.pid : c.state.pid;
  return pid === undefined ? undefined : `lathe://${pid}`;
}

/** The status of one container as the API shows it. */
export function containerStatusOf(c: ContainerRecord): ContainerStatusJson {
  const containerID = containerIdOf(c);
  const running = c.state.kind === 'running';
  return omitUndefined({
    name: c.name,
    state: stateJson(c.state, containerID),
    lastState: c.lastTerminated
      ? {
          terminated: terminatedJson(
            c.lastTerminated,
            c.lastTerminated.pid === undefined ? undefined : `lathe://${c.lastTerminated.pid}`,
          ),
        }
      : {},
    ready: running && c.ready,
    started: running && c.started,
    restartCount: c.restartCount,
    image: c.image,
    imageID: `lathe://${imageNameOf(c.image)}`,
    containerID,
  });
}

function condition(
  type: string,
  ok: boolean,
  reason: string | undefined,
  message: string | undefined,
): PodConditionJson {
  return omitUndefined({
    type,
    status: ok ? 'True' : 'False',
    reason: ok ? undefined : reason,
    message: ok ? undefined : message,
  });
}

/**
 * The pod's status from the node's record. `previous` holds the conditions last reported (or
 * read from the API), so a condition keeps its `lastTransitionTime` while its status stays.
 */
export function podStatusOf(
  pod: k8s.V1Pod,
  record: PodRecord,
  previous: readonly { type: string; status: string; lastTransitionTime?: unknown }[],
  now: string,
): PodStatusJson {
  const restartPolicy = (pod.spec?.restartPolicy ?? 'Always') as RestartPolicy;
  const phase = podPhaseOf(restartPolicy, record);
  const terminal = phase === 'Succeeded' || phase === 'Failed';

  const incompleteInit = record.initContainers.filter((c) => !completed(c)).map((c) => c.name);
  const unready = record.containers
    .filter((c) => !(c.state.kind === 'running' && c.ready))
    .map((c) => c.name);
  const containersReady = !terminal && unready.length === 0 && incompleteInit.length === 0;
  const gates = (pod.spec?.readinessGates ?? []).map((g) => g.conditionType);
  const others = pod.status?.conditions ?? [];
  const failedGates = gates.filter(
    (type) => !others.some((c) => c.type === type && c.status === 'True'),
  );
  const notReadyReason = terminal ? 'PodCompleted' : 'ContainersNotReady';
  const notReadyMessage = terminal
    ? undefined
    : `containers with unready status: [${unready.join(' ')}]`;

  const conditions = [
    condition('PodReadyToStartContainers', record.sandboxReady && !terminal, undefined, undefined),
    condition(
      'Initialized',
      incompleteInit.length === 0,
      'ContainersNotInitialized',
      `containers with incomplete status: [${incompleteInit.join(' ')}]`,
    ),
    condition('ContainersReady', containersReady, notReadyReason, notReadyMessage),
    containersReady && failedGates.length > 0
      ? condition(
          'Ready',
          false,
          'ReadinessGatesNotReady',
          `corresponding condition of pod readiness gate "${failedGates[0]}" does not exist.`,
        )
      : condition('Ready', containersReady, notReadyReason, notReadyMessage),
  ].map((c) => {
    const before = previous.find((p) => p.type === c.type);
    const kept = before && before.status === c.status && before.lastTransitionTime;
    return {
      ...c,
      lastTransitionTime: kept ? timestampString(before.lastTransitionTime) : now,
    };
  });

  return omitUndefined({
    phase,
    conditions,
    hostIP: record.hostIP,
    hostIPs: [{ ip: record.hostIP }],
    podIP: record.podIP,
    podIPs: record.podIP ? [{ ip: record.podIP }] : undefined,
    startTime: record.startTime,
    initContainerStatuses: record.initContainers.map(containerStatusOf),
    containerStatuses: record.containers.map(containerStatusOf),
  });
}

/**
 * A timestamp as read from the API: a string from a watch, a `Date` from the typed client
 * (which deserialises), re-rendered with second precision.
 */
export function timestampString(value: unknown): string {
  const date = value instanceof Date ? value : new Date(String(value));
  return Number.isNaN(date.getTime())
    ? String(value)
    : date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
