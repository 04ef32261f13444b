/**
 * The operator's replicas in a chaos run, kept running the way a Deployment's ReplicaSet and
 * the kubelet keep its pods: N processes of the operator (`bench/operators.ts`'s `startLathe`,
 * the same program the image runs) campaigning for one Lease, and any that exits — killed by
 * the run, or stopping itself because it lost its lease while the API server was away — is
 * replaced by a new one after a back-off, as a restarted container would be. Host processes
 * rather than pods, so their RSS is read directly and a kill is a plain SIGKILL.
 */
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { type RunningOperator, startLathe } from '../../bench/operators.js';
import { kubeConfig } from '../cluster/testenv.js';

/** The Lease the replicas campaign for (the operator's default `LATHE_LEADER_ELECTION_ID`). */
export const LEADER_LEASE = 'lathe-operator-leader';

export interface ReplicaOptions {
  namespace: string;
  /** How many run at once (≥ 2 for a failover). */
  replicas: number;
  entry: 'dist' | 'source';
  workers: number;
  nodeFlags: readonly string[];
  /** Each replica's JSON log goes to `<logDir>/<name>.log`. */
  logDir: string;
  /** A replica exited or could not start: a line for the run's timeline. */
  onEvent: (line: string) => void;
}

/** Back-off before a replica that exited is started again, as the kubelet's first restarts. */
const RESTART_DELAY_MS = 1_000;

export class OperatorReplicas {
  readonly #options: ReplicaOptions;
  readonly #live = new Map<string, RunningOperator>();
  readonly #starting = new Set<Promise<void>>();
  readonly #coordination = kubeConfig().makeApiClient(k8s.CoordinationV1Api);
  #next = 1;
  #stopping = false;
  /** Replicas that exited without being stopped by `stop()`, killed ones included. */
  exits = 0;

  constructor(options: ReplicaOptions) {
    this.#options = options;
  }

  /** Starts the replicas; resolves once each is ready (its caches synced). */
  async start(): Promise<void> {
    await Promise.all(Array.from({ length: this.#options.replicas }, () => this.#startOne(0)));
  }

  /** The pids of the replicas running now. */
  pids(): number[] {
    return [...this.#live.values()].map((r) => r.pid);
  }

  /** The Lease's holder now, as `<replica name>_<random>`; undefined while none holds it. */
  async holder(): Promise<string | undefined> {
    const lease = await this.#coordination
      .readNamespacedLease({ name: LEADER_LEASE, namespace: this.#options.namespace })
      .catch(() => undefined);
    const holder = lease?.spec?.holderIdentity;
    return holder || undefined;
  }

  /** The running replica that holds the Lease now, if one does. */
  async leader(): Promise<{ name: string; replica: RunningOperator } | undefined> {
    const holder = await this.holder();
    const name = holder?.replace(/_[a-f0-9]+$/, '');
    const replica = name === undefined ? undefined : this.#live.get(name);
    return name && replica ? { name, replica } : undefined;
  }

  /** Stops every replica (SIGTERM) and starts no more. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.allSettled([...this.#starting]);
    await Promise.all([...this.#live.values()].map((r) => r.stop()));
  }

  #startOne(delayMs: number): Promise<void> {
    const started = (async () => {
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      for (let attempt = 1; !this.#stopping; attempt++) {
        const name = `chaos-operator-${this.#next++}`;
        try {
          const replica = await startLathe({
            namespace: this.#options.namespace,
            workers: this.#options.workers,
            nodeFlags: this.#options.nodeFlags,
            objectStore: true,
            leaderIdentity: name,
            entry: this.#options.entry,
            logPath: path.join(this.#options.logDir, `${name}.log`),
            logLevel: 'info',
          });
          if (this.#stopping) {
            await replica.stop();
            return;
          }
          this.#live.set(name, replica);
          void replica.exited.then(({ code, signal }) => this.#exited(name, code, signal));
          return;
        } catch (error) {
          // Not ready (the API server away, a crash at start): back off and try a new one.
          this.#options.onEvent(`${name} did not start: ${(error as Error).message}`);
          await new Promise((r) =>
            setTimeout(r, Math.min(30_000, RESTART_DELAY_MS * 2 ** attempt)),
          );
        }
      }
    })();
    this.#starting.add(started);
    void started.finally(() => this.#starting.delete(started));
    return started;
  }

  #exited(name: string, code: number | null, signal: NodeJS.Signals | null): void {
    this.#live.delete(name);
    if (this.#stopping) return;
    this.exits++;
    this.#options.onEvent(
      `${name} exited (${signal ?? `code ${code}`}); a new replica replaces it`,
    );
    void this.#startOne(RESTART_DELAY_MS);
  }
}
