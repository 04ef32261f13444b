import { describe, expect, it } from 'vitest';
import { plainDecimalJson } from './raw-split.js';
import { seededRandom } from './split.js';

describe('plainDecimalJson', () => {
  it.each([
    ['-4.8830', '-4.883'],
    ['007.500', '7.5'],
    ['.5', '0.5'],
    ['-.5', '-0.5'],
    ['5.', '5'],
    ['-0.000', '0'],
    ['0', '0'],
    ['0.000001', '0.000001'],
    ['123456789012345', '123456789012345'],
  ])('writes %j as String(Number(...)): %j', (text, json) => {
    expect(plainDecimalJson(text, 0, text.length)).toBe(json);
    expect(String(Number(text))).toBe(json);
  });

  it.each(['', '-', '.', '1e5', ' 1', '1 ', '+1', '1.2.3', '0.0000001', '1234567890123456', 'NA'])(
    'leaves %j to Number',
    (text) => {
      expect(plainDecimalJson(text, 0, text.length)).toBeUndefined();
    },
  );

  it('is String(Number(...)) of every plain decimal it takes, read in place', () => {
    const random = seededRandom(26);
    let taken = 0;
    for (let i = 0; i < 200_000; i++) {
      const digits = 1 + Math.floor(random() * 17);
      let text = random() < 0.3 ? '-' : '';
      const point = Math.floor(random() * (digits + 2)) - 1;
      for (let d = 0; d < digits; d++) {
        if (d === point) text += '.';
        text += random() < 0.2 ? '0' : String(Math.floor(random() * 10));
      }
      const line = `x,${text},y`;
      const json = plainDecimalJson(line, 2, 2 + text.length);
      if (json === undefined) continue;
      taken++;
      if (json !== String(Number(text))) expect([text, json]).toEqual([text, String(Number(text))]);
    }
    expect(taken).toBeGreaterThan(100_000);
  });
});
