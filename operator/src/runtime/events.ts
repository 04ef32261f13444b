/**
 * Kubernetes events (`events.k8s.io/v1`) about the objects the operator manages.
 *
 * A controller that fails the same way on every retry would otherwise create one event per
 * attempt. Like client-go's event broadcaster, the recorder remembers what it emitted: the
 * same (object, type, reason, note) within the dedupe window updates the existing event's
 * `series` (count and last time) instead of creating a new one.
 *
 * Recording never throws and never fails a reconcile: an event is a courtesy to the user, and
 * losing one is better than retrying work because of it. Failures are logged.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { ExpiringMap } from './expiring-map.js';
import { isNotFound, type KubeClient } from './kube-client.js';
import { builtin, type KubeObject } from './resource.js';

export type EventType = 'Normal' | 'Warning';

/** The API limit on `note`. */
const maxNoteLength = 1024;

export interface EventSeriesState {
  namespace: string;
  name: string;
  count: number;
  lastSeenMs: number;
}

export type DedupeDecision =
  | { action: 'create' }
  | { action: 'update'; namespace: string; name: string; count: number };

/**
 * Remembers emitted events and decides whether the next one is new or a repeat. Pure apart from
 * its own memory: the clock is passed in.
 */
export class EventDedupe {
  /** Entries older than the window decide nothing: their next occurrence is a new event. */
  readonly #seen: ExpiringMap<string, EventSeriesState>;

  constructor(windowMs: number, maxEntries = 4096) {
    this.#seen = new ExpiringMap({ maxEntries, maxAgeMs: windowMs });
  }

  /**
   * The identity of an event for deduplication: a digest of object, type, reason and note, so
   * a remembered event costs a few dozen bytes whatever the length of its note.
   */
  static keyOf(regarding: KubeObject, type: EventType, reason: string, note: string): string {
    const m = regarding.metadata ?? {};
    const identity = [
      m.uid ?? '',
      regarding.kind ?? '',
      m.namespace ?? '',
      m.name ?? '',
      type,
      reason,
      note,
    ].join('\u0000');
    return createHash('sha256').update(identity).digest('base64url');
  }

  decide(key: string, nowMs: number): DedupeDecision {
    const previous = this.#seen.get(key, nowMs);
    if (previous) {
      return {
        action: 'update',
        namespace: previous.namespace,
        name: previous.name,
        count: previous.count + 1,
      };
    }
    return { action: 'create' };
  }

  /**
   * Records that the event under `key` now exists as `namespace/name` with `count` occurrences;
   * entries seen longer than the window ago, and the stalest beyond the size limit, are
   * forgotten.
   */
  remember(key: string, state: EventSeriesState): void {
    this.#seen.set(key, state, state.lastSeenMs);
  }

  /** How many events are remembered. */
  get size(): number {
    return this.#seen.size;
  }

  forget(key: string): void {
    this.#seen.delete(key);
  }
}

/** `metav1.MicroTime`: RFC 3339 with exactly six fractional digits, as the API server parses it. */
export function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export interface EventRecorderOptions {
  client: Pick<KubeClient, 'create' | 'patch'>;
  log: Logger;
  /** `reportingController`, e.g. `lathe.dev/operator`. */
  controller: string;
  /** `reportingInstance`: this replica (pod name). */
  instance: string;
  dedupeWindowMs?: number;
  now?: () => Date;
  /** Events sent at once (the rest wait their turn). Default 4. */
  maxConcurrentSends?: number;
  /**
   * Events waiting or being sent beyond which new ones are dropped (and counted in a log line),
   * as client-go's broadcaster drops when its queue is full. Default 1000.
   */
  maxPendingEvents?: number;
}

export class EventRecorder {
  readonly #options: EventRecorderOptions;
  readonly #dedupe: EventDedupe;
  readonly #now: () => Date;
  /** Per dedupe key, the last record still being sent. */
  readonly #sending = new Map<string, Promise<void>>();
  readonly #maxConcurrent: number;
  readonly #maxPending: number;
  #pending = 0;
  #activeSends = 0;
  /** Sends waiting for a free slot; each is handed the slot of a send that finished. */
  #waitingForSlot: Array<() => void> = [];
  #dropped = 0;
  #lastDropLogMs = 0;

  constructor(options: EventRecorderOptions) {
    this.#options = options;
    this.#dedupe = new EventDedupe(options.dedupeWindowMs ?? 10 * 60_000);
    this.#now = options.now ?? (() => new Date());
    this.#maxConcurrent = Math.max(1, options.maxConcurrentSends ?? 4);
    this.#maxPending = Math.max(1, options.maxPendingEvents ?? 1000);
  }

  /**
   * Records an event about `regarding`. `reason` is CamelCase (`ArtifactVerified`), `action`
   * what the operator did or tried (`Verify`), `note` a short human sentence.
   *
   * Records of the same event are sent one after the other, so a repeat recorded while the
   * first is still being created counts into its series instead of creating a second event.
   * A caller that need not wait (a failed reconcile's Warning) may leave the promise alone;
   * `flush` waits for everything still being sent. At most `maxConcurrentSends` requests are
   * in flight, and beyond `maxPendingEvents` waiting a new event is dropped: memory and the
   * API server's load stay bounded however fast reconciles fail.
   */
  async record(
    regarding: KubeObject,
    type: EventType,
    reason: string,
    action: string,
    note: string,
  ): Promise<void> {
    const shortNote = note.length > maxNoteLength ? `${note.slice(0, maxNoteLength - 3)}...` : note;
    const key = EventDedupe.keyOf(regarding, type, reason, shortNote);
    if (this.#pending >= this.#maxPending) {
      this.#drop(reason);
      return;
    }
    this.#pending += 1;
    const sending = (this.#sending.get(key) ?? Promise.resolve()).then(() =>
      this.#inSlot(() => this.#send(key, regarding, type, reason, action, shortNote)),
    );
    this.#sending.set(key, sending);
    try {
      await sending;
    } finally {
      this.#pending -= 1;
      if (this.#sending.get(key) === sending) this.#sending.delete(key);
    }
  }

  /** Runs `send` once fewer than `maxConcurrentSends` others run. */
  async #inSlot(send: () => Promise<void>): Promise<void> {
    if (this.#activeSends < this.#maxConcurrent) this.#activeSends += 1;
    else await new Promise<void>((resolve) => this.#waitingForSlot.push(resolve));
    try {
      await send();
    } finally {
      const next = this.#waitingForSlot.shift();
      if (next) next();
      else this.#activeSends -= 1;
    }
  }

  #drop(reason: string): void {
    this.#dropped += 1;
    const now = Date.now();
    if (now - this.#lastDropLogMs < 10_000) return;
    this.#options.log.warn(
      { dropped: this.#dropped, lastReason: reason, pending: this.#pending },
      'Dropped events: too many waiting to be sent',
    );
    this.#dropped = 0;
    this.#lastDropLogMs = now;
  }

  /** Resolves once every event recorded so far has been sent (or given up on). */
  async flush(): Promise<void> {
    while (this.#sending.size > 0) await Promise.all([...this.#sending.values()]);
  }

  async #send(
    key: string,
    regarding: KubeObject,
    type: EventType,
    reason: string,
    action: string,
    shortNote: string,
  ): Promise<void> {
    const now = this.#now();
    const decision = this.#dedupe.decide(key, now.getTime());
    try {
      if (decision.action === 'update') {
        try {
          await this.#options.client.patch(
            builtin.event,
            decision.namespace,
            decision.name,
            'merge',
            {
              series: { count: decision.count, lastObservedTime: microTime(now) },
            },
          );
          this.#dedupe.remember(key, {
            namespace: decision.namespace,
            name: decision.name,
            count: decision.count,
            lastSeenMs: now.getTime(),
          });
          return;
        } catch (error) {
          // The event expired (events have a TTL) or was deleted: start a new one.
          if (!isNotFound(error)) throw error;
          this.#dedupe.forget(key);
        }
      }
      const body = this.eventFor(regarding, type, reason, action, shortNote, now);
      await this.#options.client.create(builtin.event, body);
      this.#dedupe.remember(key, {
        namespace: body.metadata?.namespace ?? 'default',
        name: body.metadata?.name ?? '',
        count: 1,
        lastSeenMs: now.getTime(),
      });
    } catch (error) {
      this.#options.log.warn(
        {
          err: error,
          reason,
          regardingKind: regarding.kind,
          regardingName: regarding.metadata?.name,
        },
        'Failed to record an event',
      );
    }
  }

  /** The Event object for a first occurrence. */
  eventFor(
    regarding: KubeObject,
    type: EventType,
    reason: string,
    action: string,
    note: string,
    now: Date,
  ): KubeObject {
    const m = regarding.metadata ?? {};
    const namespace = m.namespace || 'default';
    return {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: `${m.name ?? 'object'}.${randomBytes(8).toString('hex')}`, namespace },
      eventTime: microTime(now),
      reportingController: this.#options.controller,
      reportingInstance: this.#options.instance,
      action,
      reason,
      type,
      note,
      regarding: {
        apiVersion: regarding.apiVersion,
        kind: regarding.kind,
        name: m.name,
        namespace: m.namespace,
        uid: m.uid,
        resourceVersion: m.resourceVersion,
      },
    };
  }
}
