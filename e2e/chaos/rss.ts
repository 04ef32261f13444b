/**
 * The operator's memory during a chaos run: the resident set size of each of its processes,
 * sampled from `/proc/<pid>/status` (what the kernel charges a container's memory limit with,
 * less page cache), so the peak can be held against the chart's limit. Replicas come and go
 * (a killed leader is replaced), so the sampler is told the current pids each time.
 */
import { readFile } from 'node:fs/promises';

/** `VmRSS` of a `/proc/<pid>/status` text in bytes; undefined when absent (a zombie, a kernel thread). */
export function vmRssBytes(status: string): number | undefined {
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  return match ? Number(match[1]) * 1024 : undefined;
}

/** The RSS of `pid` now, or undefined when it has exited. */
export async function rssOf(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
  return status === undefined ? undefined : vmRssBytes(status);
}

/** Peak and last RSS per process, from samples taken every `intervalMs` until `stop()`. */
export class RssSampler {
  readonly #peaks = new Map<number, number>();
  readonly #timer: NodeJS.Timeout;
  #samples = 0;

  constructor(pids: () => readonly number[], intervalMs = 1_000) {
    this.#timer = setInterval(() => {
      void Promise.all(pids().map(async (pid) => [pid, await rssOf(pid)] as const)).then((rss) => {
        this.#samples++;
        for (const [pid, bytes] of rss)
          if (bytes !== undefined) this.#peaks.set(pid, Math.max(bytes, this.#peaks.get(pid) ?? 0));
      });
    }, intervalMs);
    this.#timer.unref();
  }

  /** The largest RSS any one process reached, in bytes (0 before the first sample). */
  get peakBytes(): number {
    return Math.max(0, ...this.#peaks.values());
  }

  /** How many rounds of samples were taken. */
  get samples(): number {
    return this.#samples;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
