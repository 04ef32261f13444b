/**
 * The faults of a chaos run, drawn from a seed: which fault, and when, so a run that found
 * something can be replayed with the same timeline (`--seed`). Pure: a seed and a window in,
 * a sorted timeline out. The draw is Chaos Monkey's idea (a random moment per fault) with
 * Jepsen's discipline (the schedule is printed and reproducible; faults never overlap, so the
 * timeline that ran is the one printed).
 */

/** The faults a run injects, each at least once. */
export const faultKinds = [
  'kill-leader',
  'restart-api-server',
  'stop-object-store',
  'kill-node-pods',
] as const;

export type FaultKind = (typeof faultKinds)[number];

/** What each fault does, for the printed timeline. */
export const faultDescriptions: Record<FaultKind, string> = {
  'kill-leader': 'SIGKILL the operator replica holding the Lease; a new replica replaces it',
  'restart-api-server': 'stop kube-apiserver and start it again',
  'stop-object-store': 'stop MinIO, keep it down, start it again',
  'kill-node-pods': "SIGKILL every container process of the run's pods on the node",
};

export interface PlannedFault {
  kind: FaultKind;
  /** Milliseconds after the run starts creating objects. */
  atMs: number;
}

export interface PlanOptions {
  seed: number;
  /** Faults are drawn within [0, windowMs). */
  windowMs: number;
  /** How many of each kind (default 1 each; `kill-leader` is the one worth repeating). */
  counts?: Partial<Record<FaultKind, number>>;
  /** Least time between two faults' starts (default windowMs / (faults * 4)). */
  minGapMs?: number;
}

/**
 * mulberry32: a 32-bit seeded generator, uniform in [0, 1). Small, fast and the same on every
 * machine, which is all a fault schedule needs (not for anything secret).
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * The faults of a run, sorted by time: each kind `counts[kind]` times (default once) at a
 * moment drawn from the seed in [0, windowMs), with at least `minGapMs` between two starts
 * (a draw too close to an earlier one is pushed later; past the window it is drawn again).
 */
export function planFaults(options: PlanOptions): PlannedFault[] {
  const { seed, windowMs } = options;
  if (!Number.isInteger(seed) || seed < 0)
    throw new Error(`seed must be a whole number ≥ 0 (got ${seed})`);
  if (!(windowMs > 0)) throw new Error(`windowMs must be > 0 (got ${windowMs})`);
  const kinds: FaultKind[] = [];
  for (const kind of faultKinds) {
    const count = options.counts?.[kind] ?? 1;
    if (!Number.isInteger(count) || count < 0)
      throw new Error(`counts.${kind} must be a whole number ≥ 0 (got ${count})`);
    for (let i = 0; i < count; i++) kinds.push(kind);
  }
  const gap = options.minGapMs ?? windowMs / (Math.max(1, kinds.length) * 4);
  if (gap * kinds.length > windowMs)
    throw new Error(
      `${kinds.length} faults at least ${gap} ms apart do not fit in a ${windowMs} ms window`,
    );
  const random = seededRandom(seed);
  // The order of the kinds is drawn too (Fisher–Yates), then their moments.
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
  }
  const moments = kinds.map(() => Math.floor(random() * windowMs)).sort((a, b) => a - b);
  // Spread them: each at least `gap` after the one before, pulled back to fit the window.
  for (let i = 1; i < moments.length; i++)
    moments[i] = Math.max(moments[i]!, moments[i - 1]! + gap);
  const overshoot = (moments.at(-1) ?? 0) - (windowMs - 1);
  if (overshoot > 0) {
    for (let i = moments.length - 1; i >= 0; i--) {
      const latest = i === moments.length - 1 ? windowMs - 1 : moments[i + 1]! - gap;
      moments[i] = Math.min(moments[i]!, latest);
    }
  }
  return kinds.map((kind, i) => ({ kind, atMs: Math.round(moments[i]!) }));
}

/** A seed for a run that was given none: printed, so the run can be repeated. */
export function freshSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}
