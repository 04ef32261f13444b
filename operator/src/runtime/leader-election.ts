/**
 * Leader election on a `coordination.k8s.io/v1` Lease, following client-go's leaderelection:
 *
 * - Every `retryPeriod` a candidate reads the Lease and decides (`decideLeaseAction`, pure):
 *   create it, take it over (free or expired), renew it (already ours), or wait.
 * - Expiry is judged on this replica's own clock: a lease is expired when its record has not
 *   changed for `leaseDuration` since we first observed it, so clock skew between replicas
 *   cannot make a healthy leader look dead.
 * - Writes are optimistic (PUT with the read `resourceVersion`): of two candidates, one wins
 *   and the other gets 409 and waits.
 * - A leader that has not renewed successfully for `renewDeadline` has lost the lease (another
 *   replica may take it once `leaseDuration` passes) and must stop reconciling at once:
 *   `onStoppedLeading` fires and the process exits, as controller-runtime does.
 * - `release()` on graceful shutdown empties the holder and sets a 1 s duration, so the other
 *   replica takes over within a retry period instead of waiting out the lease.
 */
import type { Logger } from 'pino';
import { microTime } from './events.js';
import { isConflict, isNotFound, type KubeClient } from './kube-client.js';
import { builtin, type KubeObject } from './resource.js';

export interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number | null;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number | null;
}

export interface LeaseObject extends KubeObject {
  spec?: LeaseSpec;
}

export interface LeaderElectionTiming {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

/** What a candidate knows about the current lease record. */
export interface ObservedLease {
  spec: LeaseSpec;
  /** Local time (ms) at which this replica first saw this exact record. */
  observedAtMs: number;
}

export type LeaseAction =
  | { action: 'create'; spec: LeaseSpec }
  | { action: 'acquire'; spec: LeaseSpec }
  | { action: 'renew'; spec: LeaseSpec }
  | { action: 'wait'; holder: string; expiresAtMs: number };

/**
 * What a candidate should do, given the lease as last observed (undefined: it does not exist).
 * Pure: the caller supplies the clock and performs the action.
 */
export function decideLeaseAction(
  observed: ObservedLease | undefined,
  nowMs: number,
  identity: string,
  timing: LeaderElectionTiming,
): LeaseAction {
  const now = microTime(new Date(nowMs));
  const leaseDurationSeconds = Math.ceil(timing.leaseDurationMs / 1000);
  if (!observed) {
    return {
      action: 'create',
      spec: {
        holderIdentity: identity,
        leaseDurationSeconds,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: 0,
      },
    };
  }
  const { spec } = observed;
  const holder = spec.holderIdentity ?? '';
  if (holder === identity) {
    return { action: 'renew', spec: { ...spec, leaseDurationSeconds, renewTime: now } };
  }
  const durationMs = (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000;
  const expiresAtMs = observed.observedAtMs + durationMs;
  if (holder !== '' && nowMs < expiresAtMs) {
    return { action: 'wait', holder, expiresAtMs };
  }
  return {
    action: 'acquire',
    spec: {
      holderIdentity: identity,
      leaseDurationSeconds,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: (spec.leaseTransitions ?? 0) + 1,
    },
  };
}

/** Whether a leader whose last successful renewal was at `lastRenewMs` has lost the lease. */
export function renewDeadlinePassed(
  lastRenewMs: number,
  nowMs: number,
  timing: LeaderElectionTiming,
): boolean {
  return nowMs - lastRenewMs >= timing.renewDeadlineMs;
}

/** Two records are the same observation when every field that a holder writes is equal. */
function sameRecord(a: LeaseSpec, b: LeaseSpec): boolean {
  return (
    (a.holderIdentity ?? '') === (b.holderIdentity ?? '') &&
    (a.renewTime ?? '') === (b.renewTime ?? '') &&
    (a.acquireTime ?? '') === (b.acquireTime ?? '') &&
    (a.leaseTransitions ?? 0) === (b.leaseTransitions ?? 0) &&
    (a.leaseDurationSeconds ?? 0) === (b.leaseDurationSeconds ?? 0)
  );
}

export interface LeaderElectorOptions extends LeaderElectionTiming {
  client: Pick<KubeClient, 'get' | 'create' | 'replace'>;
  log: Logger;
  namespace: string;
  name: string;
  identity: string;
  onStartedLeading: () => void;
  /** Called once when a leader loses the lease (not after `release()`). */
  onStoppedLeading: () => void;
  /** Reports leadership (1/0) for `leader_election_master_status`. */
  onStatus?: (leading: boolean) => void;
  /** Called on each attempt that finds the lease held by another live replica. */
  onWaiting?: (holder: string) => void;
}

export class LeaderElector {
  readonly #o: LeaderElectorOptions;
  readonly #log: Logger;
  #observed: ObservedLease | undefined;
  #resourceVersion: string | undefined;
  #leading = false;
  #lastRenewMs = 0;
  #stopped = false;
  #lost = false;
  #timer: NodeJS.Timeout | undefined;
  /** Fires when the renew deadline passes, even if a renewal request hangs. */
  #deadline: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  /** The holder last reported as waited for, so the wait is logged once per holder. */
  #waitingFor: string | undefined;

  constructor(options: LeaderElectorOptions) {
    this.#o = options;
    this.#log = options.log.child({
      lease: `${options.namespace}/${options.name}`,
      identity: options.identity,
    });
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  /** Starts campaigning; ticks every retry period until `stop()` or `release()`. */
  start(): void {
    this.#o.onStatus?.(false);
    this.#log.info('Started campaigning for the leader lease');
    this.#schedule(0);
  }

  /** Stops ticking without touching the lease (a crashed leader looks like this). */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#deadline) clearTimeout(this.#deadline);
    await this.#inFlight;
  }

  /** Stops, and if leading, hands the lease back so another replica takes over at once. */
  async release(): Promise<void> {
    await this.stop();
    if (!this.#leading) return;
    this.#leading = false;
    this.#o.onStatus?.(false);
    const spec = this.#observed?.spec ?? {};
    const now = microTime(new Date());
    try {
      await this.#o.client.replace(builtin.lease, {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: {
          name: this.#o.name,
          namespace: this.#o.namespace,
          resourceVersion: this.#resourceVersion,
        },
        spec: {
          holderIdentity: '',
          leaseDurationSeconds: 1,
          acquireTime: now,
          renewTime: now,
          leaseTransitions: spec.leaseTransitions ?? 0,
        },
      });
      this.#log.info('Released the leader lease');
    } catch (error) {
      this.#log.warn(
        { err: error },
        'Failed to release the leader lease; the next leader waits for it to expire',
      );
    }
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#inFlight = this.#tick().finally(() => {
        this.#inFlight = undefined;
      });
    }, delayMs);
  }

  async #tick(): Promise<void> {
    try {
      await this.#tryAcquireOrRenew();
    } catch (error) {
      this.#log.warn(
        { err: error },
        this.#leading ? 'Failed to renew the leader lease' : 'Failed to acquire the leader lease',
      );
    }
    if (this.#stopped) return;
    if (this.#leading && renewDeadlinePassed(this.#lastRenewMs, Date.now(), this.#o)) {
      this.#lose('the renew deadline passed without a successful renewal');
      return;
    }
    this.#schedule(this.#o.retryPeriodMs);
  }

  async #tryAcquireOrRenew(): Promise<void> {
    const nowMs = Date.now();
    // client-go's fast path: a leader renews the record it wrote last without reading it
    // first, one request instead of two per renewal (on a loaded API server, two slow requests
    // in a row missed the renew deadline where one did not). A conflict means someone else
    // wrote the Lease: read it, as below, and find out who holds it.
    if (this.#leading && this.#observed && this.#resourceVersion) {
      const decision = decideLeaseAction(this.#observed, nowMs, this.#o.identity, this.#o);
      if (decision.action === 'renew') {
        try {
          await this.#write(decision, nowMs);
          return;
        } catch (error) {
          if (!isConflict(error)) throw error;
        }
      }
    }
    let lease: LeaseObject | undefined;
    try {
      lease = await this.#o.client.get<LeaseObject>(builtin.lease, this.#o.namespace, this.#o.name);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    if (this.#stopped) return;
    if (lease) {
      const spec = lease.spec ?? {};
      if (!this.#observed || !sameRecord(this.#observed.spec, spec))
        this.#observed = { spec, observedAtMs: nowMs };
      this.#resourceVersion = lease.metadata?.resourceVersion;
      if (this.#leading && (spec.holderIdentity ?? '') !== this.#o.identity) {
        this.#lose(`the lease is now held by ${spec.holderIdentity || 'nobody'}`);
        return;
      }
    } else {
      this.#observed = undefined;
      this.#resourceVersion = undefined;
    }

    const decision = decideLeaseAction(this.#observed, nowMs, this.#o.identity, this.#o);
    if (decision.action === 'wait') {
      const holder = this.#observed?.spec.holderIdentity ?? '';
      if (holder !== this.#waitingFor) {
        this.#waitingFor = holder;
        this.#log.info({ holder }, 'Waiting for the leader lease');
      }
      this.#o.onWaiting?.(holder);
      return;
    }
    try {
      await this.#write(decision, nowMs);
    } catch (error) {
      // Another candidate wrote first; it is the leader (or will be). Not an error.
      if (isConflict(error) || (decision.action === 'create' && isAlreadyExistsLike(error))) return;
      throw error;
    }
  }

  /** Creates or replaces the Lease as `decision` says (guarded by the resourceVersion read) and records it. */
  async #write(decision: Exclude<LeaseAction, { action: 'wait' }>, nowMs: number): Promise<void> {
    const body: LeaseObject = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: this.#o.name,
        namespace: this.#o.namespace,
        ...(this.#resourceVersion ? { resourceVersion: this.#resourceVersion } : {}),
      },
      spec: decision.spec,
    };
    const written =
      decision.action === 'create'
        ? await this.#o.client.create<LeaseObject>(builtin.lease, body)
        : await this.#o.client.replace<LeaseObject>(builtin.lease, body);
    // A renewal that lands after the deadline fired changes nothing: leadership is already gone.
    if (this.#lost) return;
    this.#observed = { spec: written.spec ?? decision.spec, observedAtMs: nowMs };
    this.#resourceVersion = written.metadata?.resourceVersion;
    this.#lastRenewMs = nowMs;
    if (!this.#stopped) this.#armDeadline(nowMs);
    if (!this.#leading) {
      this.#leading = true;
      this.#o.onStatus?.(true);
      this.#log.info({ transitions: decision.spec.leaseTransitions }, 'Acquired the leader lease');
      // Acquired while shutting down: hold it only so that release() hands it back.
      if (!this.#stopped) this.#o.onStartedLeading();
    }
  }

  #armDeadline(renewedAtMs: number): void {
    if (this.#deadline) clearTimeout(this.#deadline);
    const remaining = Math.max(0, renewedAtMs + this.#o.renewDeadlineMs - Date.now());
    this.#deadline = setTimeout(
      () => this.#lose('the renew deadline passed without a successful renewal'),
      remaining,
    );
  }

  #lose(why: string): void {
    if (!this.#leading) return;
    this.#leading = false;
    this.#lost = true;
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#deadline) clearTimeout(this.#deadline);
    this.#o.onStatus?.(false);
    this.#log.error({ why }, 'Lost the leader lease');
    this.#o.onStoppedLeading();
  }
}

function isAlreadyExistsLike(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { statusCode?: number }).statusCode === 409
  );
}
