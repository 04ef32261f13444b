import { describe, expect, it } from 'vitest';
import { nextVersionNumber } from './registration.js';

describe('nextVersionNumber', () => {
  it.each<[string, number[], number]>([
    ['the first version of a model', [], 1],
    ['after the highest, not the count', [1, 4, 2], 5],
  ])('%s → %i', (_, versions, want) => {
    expect(nextVersionNumber(versions.map((version) => ({ spec: { version } })))).toBe(want);
  });
});
