/**
 * Container restart decisions: whether a finished container runs again under the pod's
 * `restartPolicy`, and how long it waits first (the CrashLoopBackOff delay).
 *
 * The kubelet waits 10 s, doubling to 5 min. This node starts at 1 s (doubling to the same
 * cap) so tests of restart behaviour do not spend minutes waiting; the reason and message
 * users see are the kubelet's.
 */

export type RestartPolicy = 'Always' | 'OnFailure' | 'Never';

/** Whether a container that exited with `exitCode` is restarted. */
export function shouldRestart(policy: RestartPolicy, exitCode: number): boolean {
  if (policy === 'Always') return true;
  if (policy === 'OnFailure') return exitCode !== 0;
  return false;
}

export const initialBackoffMs = 1_000;
export const maxBackoffMs = 300_000;
/** A container that ran this long before exiting starts its backoff over. */
export const backoffResetAfterMs = 600_000;

/**
 * The wait before restart number `restartCount + 1`, given how long the last run lasted.
 * The first restart waits `initialBackoffMs`; each later one doubles, up to `maxBackoffMs`.
 */
export function restartDelayMs(restartCount: number, lastRunMs: number): number {
  if (lastRunMs >= backoffResetAfterMs) return initialBackoffMs;
  const delay = initialBackoffMs * 2 ** Math.min(restartCount, 20);
  return Math.min(delay, maxBackoffMs);
}

/** The kubelet's CrashLoopBackOff message. */
export function backoffMessage(
  delayMs: number,
  container: string,
  pod: { name: string; namespace: string; uid: string },
): string {
  const delay =
    delayMs >= 60_000
      ? `${Math.floor(delayMs / 60_000)}m${Math.round((delayMs % 60_000) / 1000)}s`
      : `${Math.round(delayMs / 1000)}s`;
  return `back-off ${delay} restarting failed container=${container} pod=${pod.name}_${pod.namespace}(${pod.uid})`;
}
