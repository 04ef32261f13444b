/** Summary statistics the benchmarks print. */

/** The `p`th percentile (nearest rank) of an ascending array; NaN when it is empty. */
export function percentile(sorted: readonly number[], p: number): number {
  return (
    sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN
  );
}

/**
 * Times `call` `iterations` times after `warmup` untimed calls; p50 and p99 in microseconds.
 * For synchronous calls short enough that a timer per call is the only way to see them.
 */
export function timeCalls(
  call: () => void,
  iterations: number,
  warmup: number,
): { p50: number; p99: number } {
  for (let i = 0; i < warmup; i++) call();
  const micros: number[] = new Array(iterations);
  for (let i = 0; i < iterations; i++) {
    const started = process.hrtime.bigint();
    call();
    micros[i] = Number(process.hrtime.bigint() - started) / 1000;
  }
  micros.sort((a, b) => a - b);
  return { p50: percentile(micros, 50), p99: percentile(micros, 99) };
}
