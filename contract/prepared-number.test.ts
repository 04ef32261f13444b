import { describe, expect, it } from 'vitest';
import { formatNumber, formatNumberBytes } from './prepared-number.js';

const out = new Uint8Array(64);
const bytesOf = (value: number) =>
  Buffer.from(out.subarray(0, formatNumberBytes(value, out, 0))).toString('latin1');

describe('formatNumberBytes', () => {
  it.each([
    0,
    -0,
    1,
    -3,
    16_777_215,
    -16_777_215,
    16_777_216,
    0.1,
    1 / 3,
    -1.2345678901,
    1e-7,
    1e-14,
    9.99e-15,
    123456.7,
    4_194_303.5,
    4_194_304.5,
    1e21,
    1e25,
    -2.5e-10,
    0.5,
    1024,
    0.000001234,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    Number.MAX_VALUE,
  ])('writes %s as formatNumber does', (value) => {
    expect(bytesOf(value)).toBe(formatNumber(value));
  });

  it('writes what formatNumber writes on a million doubles of every size', () => {
    // A seeded xorshift: float32 bit patterns (every exponent and mantissa shape), and doubles
    // between them, as the preparation's scaled values are.
    let state = 0x2545f491;
    const bits = new Uint32Array(1);
    const view = new Float32Array(bits.buffer);
    let mismatches = 0;
    for (let i = 0; i < 1_000_000; i++) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      const u = state >>> 0;
      bits[0] = i % 4 === 0 ? u : (0x24000000 + (u % 0x26800000)) | (u & 0x80000000);
      const value = i % 3 === 0 ? view[0]! * (1 + u / 2 ** 40) : view[0]!;
      if (bytesOf(value) !== formatNumber(value)) mismatches++;
    }
    expect(mismatches).toBe(0);
  }, 120_000);
});
