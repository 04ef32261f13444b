/**
 * The faults themselves, against the local cluster (`plan.ts` decides which and when). Each
 * resolves once the fault is over — the component is back, the new leader elected — with a
 * line for the timeline.
 */
import path from 'node:path';
import { restartComponent } from '../cluster/cluster.js';
import { eventually, stateDir } from '../cluster/testenv.js';
import { killPodContainers } from '../node/stale-processes.js';
import type { FaultKind } from './plan.js';
import type { OperatorReplicas } from './replicas.js';

export interface FaultContext {
  namespace: string;
  replicas: OperatorReplicas;
  /** How long MinIO stays stopped. */
  objectStoreDowntimeMs: number;
  /** How long the API server stays stopped before it starts again. */
  apiServerDowntimeMs: number;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Injects one fault and waits until it is over; resolves to what happened. */
export async function injectFault(kind: FaultKind, context: FaultContext): Promise<string> {
  const started = Date.now();
  switch (kind) {
    case 'kill-leader': {
      const leader = await eventually(
        async () => {
          const found = await context.replicas.leader();
          if (!found)
            throw new Error(
              `the Lease is held by ${await context.replicas.holder()}, no running replica`,
            );
          return found;
        },
        { timeoutMs: 120_000, intervalMs: 500, what: 'a leader to kill' },
      );
      leader.replica.signal('SIGKILL');
      const next = await eventually(
        async () => {
          const found = await context.replicas.leader();
          if (!found || found.name === leader.name) throw new Error('no new leader yet');
          return found.name;
        },
        { timeoutMs: 180_000, intervalMs: 500, what: 'a new leader' },
      );
      return `killed ${leader.name} (pid ${leader.replica.pid}, SIGKILL); ${next} leads after ${seconds(Date.now() - started)}`;
    }
    case 'restart-api-server':
      await restartComponent('kube-apiserver', context.apiServerDowntimeMs);
      return `kube-apiserver stopped ${seconds(context.apiServerDowntimeMs)}, healthy again after ${seconds(Date.now() - started)}`;
    case 'stop-object-store':
      await restartComponent('minio', context.objectStoreDowntimeMs);
      return `MinIO stopped ${seconds(context.objectStoreDowntimeMs)}, healthy again after ${seconds(Date.now() - started)}`;
    case 'kill-node-pods': {
      const killed = killPodContainers(path.join(stateDir, 'node'), context.namespace);
      const pods = new Set(killed.map((file) => path.basename(path.dirname(file)).split('_')[1]));
      return `killed ${killed.length} containers of ${pods.size} pods`;
    }
  }
}
