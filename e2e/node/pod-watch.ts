/**
 * The pods bound to this node, by list-then-watch with `fieldSelector=spec.nodeName=<node>`
 * (the only pod list the Node authorizer allows a kubelet). A broken watch resumes from the
 * last resourceVersion; an expired one (410) re-lists, and the re-list also reports pods that
 * vanished while nobody watched.
 */
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { describeApiError } from './kube-api.js';

export interface PodEvents {
  /** A pod bound to the node was added or changed. */
  upsert(pod: k8s.V1Pod): void;
  /** A pod is gone from the API. */
  deleted(pod: k8s.V1Pod): void;
  /** A full list: every pod not in `uids` is gone. */
  relisted(uids: Set<string>): void;
}

export class PodWatcher {
  private readonly core: k8s.CoreV1Api;
  private readonly watch: k8s.Watch;
  private resourceVersion = '';
  private abort: AbortController | undefined;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    kc: k8s.KubeConfig,
    private readonly nodeName: string,
    private readonly events: PodEvents,
    private readonly log: Logger,
  ) {
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.watch = new k8s.Watch(kc);
  }

  private get fieldSelector(): string {
    return `spec.nodeName=${this.nodeName}`;
  }

  /** Lists once (rejecting when that fails), then keeps watching in the background. */
  async start(): Promise<void> {
    await this.list();
    void this.watchFromHere();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.abort?.abort();
  }

  private async list(): Promise<void> {
    const list = await this.core.listPodForAllNamespaces({ fieldSelector: this.fieldSelector });
    this.resourceVersion = list.metadata?.resourceVersion ?? '';
    for (const pod of list.items) this.events.upsert(pod);
    this.events.relisted(new Set(list.items.map((p) => p.metadata?.uid ?? '')));
  }

  private retry(relist: boolean): void {
    if (this.stopped) return;
    this.retryTimer = setTimeout(async () => {
      try {
        if (relist) await this.list();
        await this.watchFromHere();
      } catch (error) {
        this.log.warn({ err: describeApiError(error) }, 'Failed to list Pods; retrying');
        this.retry(true);
      }
    }, 1_000);
  }

  private async watchFromHere(): Promise<void> {
    if (this.stopped) return;
    let gone = false;
    this.abort = await this.watch.watch(
      '/api/v1/pods',
      {
        fieldSelector: this.fieldSelector,
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: true,
      },
      (type: string, object: k8s.V1Pod & { code?: number }) => {
        if (type === 'ERROR') {
          if (object.code === 410) gone = true;
          return;
        }
        const rv = object.metadata?.resourceVersion;
        if (rv) this.resourceVersion = rv;
        if (type === 'ADDED' || type === 'MODIFIED') this.events.upsert(object);
        else if (type === 'DELETED') this.events.deleted(object);
      },
      (error: unknown) => {
        if (this.stopped) return;
        const code = (error as { statusCode?: number } | null)?.statusCode;
        if (error) this.log.debug({ err: String(error) }, 'Pod watch ended');
        this.retry(gone || code === 410);
      },
    );
  }
}
