/**
 * Micro-batching: concurrent requests share one forward pass.
 *
 * The model runs synchronously on the one JavaScript thread, so requests that arrive while a
 * forward pass runs wait in the socket; once it ends, Node reads them all before it runs the
 * next callback. A batch is therefore dispatched from `setImmediate`, after the I/O phase, and
 * takes everything that has queued by then (up to `maxBatchSize` requests). It waits longer —
 * at most `maxLatencyMs` after its first request arrived — only while other requests are still
 * being received (`arrivalsPending() > 0`): waiting for requests that have not arrived would
 * only add latency, which is why a lone request at concurrency 1 pays nothing for batching.
 *
 * One batch runs at a time. A failed forward pass fails the requests of that batch only.
 */

export interface BatcherOptions<In, Out> {
  /** Most requests in one batch; 1 runs each request alone. */
  maxBatchSize: number;
  /** Longest the first request of a batch waits for others to arrive. */
  maxLatencyMs: number;
  /** Requests accepted but not yet submitted (bodies still being read); 0 when unknown. */
  arrivalsPending?: () => number;
  /** Runs one batch; returns one result per item, in order. */
  run: (items: In[]) => Out[] | Promise<Out[]>;
  /** Called with each batch's size, before it runs. */
  onBatch?: (size: number) => void;
}

interface Pending<In, Out> {
  item: In;
  resolve: (value: Out) => void;
  reject: (error: unknown) => void;
  /** When it was submitted (ms, `Date.now()`). */
  at: number;
}

export class Batcher<In, Out> {
  private queue: Pending<In, Out>[] = [];
  private running = false;
  private immediate: NodeJS.Immediate | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: BatcherOptions<In, Out>) {}

  /** Queues `item` for the next batch; resolves with its result. */
  submit(item: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.queue.push({ item, resolve, reject, at: Date.now() });
      this.schedule();
    });
  }

  /** Re-evaluates whether to dispatch now: call when a pending arrival ends without submitting. */
  poke(): void {
    if (this.queue.length > 0) this.schedule();
  }

  /** Requests queued and not yet running. */
  get queued(): number {
    return this.queue.length;
  }

  private schedule(): void {
    if (this.running || this.immediate) return;
    const full = this.queue.length >= this.options.maxBatchSize;
    const waited = Date.now() - this.queue[0]!.at;
    const arriving = this.options.arrivalsPending?.() ?? 0;
    if (full || arriving === 0 || waited >= this.options.maxLatencyMs) {
      this.clearTimer();
      this.immediate = setImmediate(() => {
        this.immediate = undefined;
        void this.dispatch();
      });
      return;
    }
    if (!this.timer) {
      this.timer = setTimeout(
        () => {
          this.timer = undefined;
          this.schedule();
        },
        Math.max(0, this.options.maxLatencyMs - waited),
      );
    }
  }

  private clearTimer(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private async dispatch(): Promise<void> {
    if (this.running || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.options.maxBatchSize);
    this.running = true;
    try {
      this.options.onBatch?.(batch.length);
      const results = await this.options.run(batch.map((p) => p.item));
      if (results.length !== batch.length) {
        throw new Error(
          `the batch returned ${results.length} results for ${batch.length} requests`,
        );
      }
      for (let i = 0; i < batch.length; i++) batch[i]!.resolve(results[i]!);
    } catch (error) {
      for (const pending of batch) pending.reject(error);
    } finally {
      this.running = false;
      if (this.queue.length > 0) this.schedule();
    }
  }
}
