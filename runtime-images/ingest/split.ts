/**
 * The train/test split: seeded, reproducible, exact, and streaming.
 *
 * Rows fall into strata (one per class when the split is stratified, else one). A stratum of n
 * rows gives exactly round(n × testFraction) rows to the test split, chosen by selection
 * sampling (Knuth's Algorithm S): each row in turn is chosen with probability
 * (still needed) / (still to come), which picks every subset of that size with equal
 * probability while reading the rows once, in order, holding nothing but two counters. The
 * random numbers come from a small seeded generator per stratum, so the same seed and the same
 * rows in the same order give the same split, on any machine.
 */
import { createHash } from 'node:crypto';
import { seededRandom } from '../../contract/seeded-random.js';

/** The seeded generator the split draws from (the same as every Lathe program's). */
export { seededRandom };

/** The generator seed of a stratum: the split seed and the stratum's name, hashed. */
export function strataSeed(seed: number, stratum: string): number {
  return createHash('sha256').update(`${seed}\u0000${stratum}`).digest().readUInt32BE(0);
}

/** How many of `rows` rows go to the test split. */
export function testRowsOf(rows: number, testFraction: number): number {
  return Math.min(rows, Math.round(rows * testFraction));
}

/** Decides, row by row, which rows go to the test split. */
export class SplitAssigner {
  private readonly strata = new Map<
    string,
    { remaining: number; needed: number; random: () => number }
  >();

  /** `rowsPerStratum`: how many rows each stratum has (all of them will be asked about). */
  constructor(rowsPerStratum: ReadonlyMap<string, number>, testFraction: number, seed: number) {
    for (const [stratum, rows] of rowsPerStratum) {
      this.strata.set(stratum, {
        remaining: rows,
        needed: testRowsOf(rows, testFraction),
        random: seededRandom(strataSeed(seed, stratum)),
      });
    }
  }

  /** Whether the next row of `stratum` goes to the test split. */
  isTest(stratum: string): boolean {
    const s = this.strata.get(stratum);
    if (s === undefined || s.remaining <= 0) {
      throw new Error(`the split was not told about another row of stratum "${stratum}"`);
    }
    const chosen = s.random() * s.remaining < s.needed;
    s.remaining--;
    if (chosen) s.needed--;
    return chosen;
  }
}
