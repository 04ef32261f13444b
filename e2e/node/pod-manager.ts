/**
 * The node's pods: one `PodWorker` per pod UID, fed by the pod watch. A worker stays in the
 * map after it removed its pod until the API confirms the deletion, so a late update of a
 * pod held by a finalizer never starts it again.
 */
import type * as k8s from '@kubernetes/client-node';
import type { PodEvents } from './pod-watch.js';
import { PodWorker, type WorkerContext } from './pod-worker.js';

export class PodManager implements PodEvents {
  private readonly workers = new Map<string, PodWorker>();
  private closed = false;

  constructor(private readonly ctx: WorkerContext) {}

  upsert(pod: k8s.V1Pod): void {
    if (this.closed) return;
    const uid = pod.metadata?.uid;
    if (!uid) return;
    const worker = this.workers.get(uid);
    if (worker) {
      worker.update(pod);
      return;
    }
    const created = new PodWorker(this.ctx, pod);
    this.workers.set(uid, created);
    created.kick();
  }

  deleted(pod: k8s.V1Pod): void {
    const uid = pod.metadata?.uid;
    if (!uid) return;
    const worker = this.workers.get(uid);
    this.workers.delete(uid);
    if (worker && !worker.finished) worker.removed(pod);
  }

  relisted(uids: Set<string>): void {
    for (const [uid, worker] of this.workers) {
      if (uids.has(uid)) continue;
      this.workers.delete(uid);
      if (!worker.finished) worker.removed(worker.currentPod);
    }
  }

  /** Stops every pod's processes (node shutdown); pods stay in the API. */
  async shutdown(maxGraceMs: number): Promise<void> {
    this.closed = true;
    await Promise.all([...this.workers.values()].map((w) => w.shutdown(maxGraceMs)));
  }
}
