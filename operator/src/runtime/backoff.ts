/**
 * Capped exponential backoff, shared by the work queue (per-key retry delay) and the informer
 * (restart delay after a failed list or watch).
 */

export interface BackoffPolicy {
  /** Delay after the first failure. */
  baseMs: number;
  /** Upper bound on any delay. */
  capMs: number;
}

/** controller-runtime uses 5 ms; 100 ms keeps a failing API server from being hammered. */
export const defaultQueueBackoff: BackoffPolicy = { baseMs: 100, capMs: 5 * 60_000 };
export const defaultInformerBackoff: BackoffPolicy = { baseMs: 1_000, capMs: 60_000 };

/**
 * Delay before retry number `failures + 1`, given `failures` earlier consecutive failures:
 * `base * 2^failures`, capped. So the first retry waits `base`, then 2x, 4x, ... up to `cap`.
 */
export function backoffDelay(failures: number, policy: BackoffPolicy): number {
  if (failures <= 0) return Math.min(policy.baseMs, policy.capMs);
  // 2^64 overflows nothing in JS but would be pointless; anything past the cap is the cap.
  if (failures >= 52) return policy.capMs;
  return Math.min(policy.baseMs * 2 ** failures, policy.capMs);
}
