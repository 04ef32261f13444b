/**
 * The one seeded generator every Lathe program uses (mulberry32: tiny, fast, 32-bit state,
 * uniform in [0, 1)), so a seed means the same sequence in ingestion's split, the trainer's
 * shuffles and the explainer's coalition sampling, on every machine.
 */

/** A generator deterministic for `seed` (taken as an unsigned 32-bit integer). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
