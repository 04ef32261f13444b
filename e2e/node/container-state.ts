/**
 * What the node knows about each container it runs: the in-memory record from which the
 * pod's status is computed (`pod-status.ts`). Timestamps are RFC 3339 strings, as on the wire.
 */

export interface WaitingState {
  kind: 'waiting';
  reason: string;
  message?: string;
}

export interface RunningState {
  kind: 'running';
  startedAt: string;
  pid: number;
}

export interface TerminatedState {
  kind: 'terminated';
  exitCode: number;
  /** Signal that ended the process, when one did. */
  signal?: number;
  reason: string;
  message?: string;
  startedAt: string;
  finishedAt: string;
  pid?: number;
}

export type ContainerState = WaitingState | RunningState | TerminatedState;

/** One container (init or regular) of a pod on this node. */
export interface ContainerRecord {
  name: string;
  image: string;
  state: ContainerState;
  /** The previous run's termination, shown as `lastState`. */
  lastTerminated?: TerminatedState;
  restartCount: number;
  /** Readiness probe result (true when there is no readiness probe and it runs). */
  ready: boolean;
  /** Startup probe result (true when there is no startup probe and it runs). */
  started: boolean;
}

/** The pod-level facts the node holds besides its containers. */
export interface PodRecord {
  podIP: string | undefined;
  hostIP: string;
  startTime: string | undefined;
  /** Volumes written and IP assigned: `PodReadyToStartContainers`. */
  sandboxReady: boolean;
  initContainers: ContainerRecord[];
  containers: ContainerRecord[];
  /** Set once the pod reached Succeeded or Failed; the phase never changes afterwards. */
  terminalPhase?: 'Succeeded' | 'Failed';
}

/** An RFC 3339 timestamp with second precision, the precision of `metav1.Time`. */
export function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The status reason of a finished process: `Completed` for 0, `Error` otherwise. */
export function terminationReason(exitCode: number): string {
  return exitCode === 0 ? 'Completed' : 'Error';
}

/** A fresh record for a container that has not been started. */
export function newContainerRecord(name: string, image: string): ContainerRecord {
  return {
    name,
    image,
    state: { kind: 'waiting', reason: 'ContainerCreating' },
    restartCount: 0,
    ready: false,
    started: false,
  };
}
