/**
 * A generated tabular data set of any size, the same for the same seed: eight numeric
 * features (one with missing values), two categorical ones and a binary label that depends on
 * them. The large-source test and `npm run bench:ingest` stream it as CSV.
 */
import { seededRandom } from './split.js';

export const GENERATED_HEADER = 'f1,f2,f3,f4,f5,f6,f7,f8,colour,size,label';

/** CSV text of `rows` rows in chunks of about 64 KB. */
export function* generatedCsv(rows: number, seed: number): Generator<string> {
  const random = seededRandom(seed);
  const colours = ['red', 'green', 'blue', 'yellow', 'black'];
  const sizes = ['S', 'M', 'L'];
  let chunk = `${GENERATED_HEADER}\n`;
  for (let i = 0; i < rows; i++) {
    const f: string[] = [];
    let score = 0;
    for (let k = 0; k < 8; k++) {
      const v = (random() - 0.5) * 10 * (k + 1);
      score += v / (k + 1);
      f.push(k === 3 && random() < 0.02 ? '' : v.toFixed(4));
    }
    const colour = colours[Math.floor(random() * colours.length)]!;
    const size = sizes[Math.floor(random() * sizes.length)]!;
    chunk += `${f.join(',')},${colour},${size},${score + (colour === 'red' ? 2 : 0) > 0 ? 'yes' : 'no'}\n`;
    if (chunk.length >= 65_536) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}
