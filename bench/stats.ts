/** Summary statistics the benchmarks print. */

/** The `p`th percentile (nearest rank) of an ascending array; NaN when it is empty. */
export function percentile(sorted: readonly number[], p: number): number {
  return (
    sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN
  );
}
