/**
 * How the prepared CSV writes a number (`formatNumber`): the shortest text of the float32
 * nearest it, so the same data always gives the same bytes and the same content hash, computed
 * with doubles and integers rather than by trying `toPrecision` (`shortestFloat32`, the
 * definition). `formatNumberBytes` writes the same text as bytes into a buffer, for a writer
 * that never makes the line a string (the ingestion's writing pass).
 */

/**
 * How prepared numbers are written: shortest round-trip form of the float32 nearest the value
 * (what a trainer computes in anyway), so the same data always gives the same bytes and the
 * same content hash. Integers print without a decimal point.
 */
export function formatNumber(value: number): string {
  if (Number.isInteger(value) && Math.abs(value) < 2 ** 24) return String(value);
  const f = Math.fround(value);
  const a = Math.abs(f);
  if (!(a < 2 ** 22) || a < 1e-14 || isPowerOfTwo(f)) return shortestFloat32(f);
  shortestDigitsOf(f, a);
  return decimalText(f < 0, shortest.digits, shortest.scale);
}

/**
 * `formatNumber(value)`'s text as ASCII bytes at `out[at]`, …; returns the index after the
 * last. `out` must have room for 32 bytes from `at`. No string is made but on the rare paths
 * (beyond 2^22, below 1e-14, powers of two).
 */
export function formatNumberBytes(value: number, out: Uint8Array, at: number): number {
  if (Number.isInteger(value) && Math.abs(value) < 2 ** 24) {
    // String(-0) is "0".
    if (value < 0) out[at++] = 45;
    return digitBytes(Math.abs(value), 0, out, at);
  }
  const f = Math.fround(value);
  const a = Math.abs(f);
  if (!(a < 2 ** 22) || a < 1e-14 || isPowerOfTwo(f)) {
    const text = shortestFloat32(f);
    for (let i = 0; i < text.length; i++) out[at++] = text.charCodeAt(i);
    return at;
  }
  shortestDigitsOf(f, a);
  return decimalBytes(f < 0, shortest.digits, shortest.scale, out, at);
}

/** The shortest digits of `formatNumber`'s general path, in `shortest` (no object per number). */
const shortest = { digits: 0, scale: 0 };

/**
 * Below 2^22 and off a power of two, f's rounding interval is symmetric and holds no short
 * decimal on its edge, so "d digits read back as f" holds for every d above the shortest:
 * search down from 8 digits (9 always read back). Each rounding is computed with doubles and
 * integers (`roundedTo`), as `f.toPrecision(d)` would give it, and the text is built from its
 * digits as `String(Number(...))` would write it, without formatting or parsing text. The unit
 * test checks this against `shortestFloat32` on a million float32 values.
 */
function shortestDigitsOf(f: number, a: number): void {
  let exponent = Math.floor(Math.log10(a));
  const y9 = scaled(a, 8 - exponent);
  if (y9 >= 1e9) exponent++;
  else if (y9 < 1e8) exponent--;
  roundedTo(f, a, exponent, 9);
  shortest.digits = rounding.digits;
  shortest.scale = rounding.scale;
  for (let d = 8; d >= 1; d--) {
    roundedTo(f, a, exponent, d);
    if (Math.fround(scaled(rounding.digits, -rounding.scale)) !== a) break;
    shortest.digits = rounding.digits;
    shortest.scale = rounding.scale;
  }
}

/** Powers of ten that doubles hold exactly. */
export const POWERS_OF_TEN = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));

/** a × 10^k, rounded once (|k| ≤ 22, so 10^|k| is exact). */
function scaled(a: number, k: number): number {
  return k >= 0 ? a * POWERS_OF_TEN[k]! : a / POWERS_OF_TEN[-k]!;
}

/**
 * |f| (= a, with 10^exponent ≤ a < 10^(exponent+1)) rounded half up to d significant digits:
 * the integer `digits` and `scale` with value digits × 10^-scale. a × 10^(d-1-exponent) is
 * below 10^9 and off by less than 2e-7, so rounding it is exact unless it lies within 1e-6 of
 * a half: then toExponential (exact) decides. The result goes to `rounding`.
 */
function roundedTo(f: number, a: number, exponent: number, d: number): void {
  const scale = d - 1 - exponent;
  const y = scaled(a, scale);
  const floor = Math.floor(y);
  const fraction = y - floor;
  if (Math.abs(fraction - 0.5) >= 1e-6) {
    rounding.digits = fraction > 0.5 ? floor + 1 : floor;
    rounding.scale = scale;
    return;
  }
  const text = Math.abs(f).toExponential(d - 1);
  const e = text.indexOf('e');
  rounding.digits = Number(text.slice(0, e).replace('.', ''));
  rounding.scale = d - 1 - Number(text.slice(e + 1));
}

/** The result of `roundedTo` (reused: no object per rounding). */
const rounding = { digits: 0, scale: 0 };

/**
 * How JavaScript writes the number digits × 10^-scale (`Number.prototype.toString`): its
 * shortest digits are those of `digits` without trailing zeros, as a decimal up to 21 digits
 * and down to 1e-6, else in exponent form.
 */
function decimalText(negative: boolean, digits: number, scale: number): string {
  let s = String(digits);
  let end = s.length;
  while (end > 1 && s.charCodeAt(end - 1) === 48) end--;
  const zeros = s.length - end;
  s = s.slice(0, end);
  const k = s.length;
  const n = k + zeros - scale;
  let text: string;
  if (k <= n && n <= 21) text = s + '0'.repeat(n - k);
  else if (0 < n && n <= 21) text = `${s.slice(0, n)}.${s.slice(n)}`;
  else if (-6 < n && n <= 0) text = `0.${'0'.repeat(-n)}${s}`;
  else {
    const e = n - 1;
    text = `${s[0]}${k > 1 ? `.${s.slice(1)}` : ''}e${e >= 0 ? '+' : '-'}${Math.abs(e)}`;
  }
  return negative ? `-${text}` : text;
}

/** `decimalText`'s text as bytes at `out[at]`, …; returns the index after the last. */
function decimalBytes(
  negative: boolean,
  digits: number,
  scale: number,
  out: Uint8Array,
  at: number,
): number {
  let zeros = 0;
  while (digits > 9 && digits % 10 === 0) {
    digits /= 10;
    zeros++;
  }
  const k = digitCount(digits);
  const n = k + zeros - scale;
  if (negative) out[at++] = 45;
  if (k <= n && n <= 21) {
    at = digitBytes(digits, k, out, at);
    for (let i = k; i < n; i++) out[at++] = 48;
    return at;
  }
  digitBytes(digits, k, DIGITS, 0);
  if (0 < n && n <= 21) {
    for (let i = 0; i < n; i++) out[at++] = DIGITS[i]!;
    out[at++] = 46;
    for (let i = n; i < k; i++) out[at++] = DIGITS[i]!;
    return at;
  }
  if (-6 < n && n <= 0) {
    out[at++] = 48;
    out[at++] = 46;
    for (let i = n; i < 0; i++) out[at++] = 48;
    for (let i = 0; i < k; i++) out[at++] = DIGITS[i]!;
    return at;
  }
  out[at++] = DIGITS[0]!;
  if (k > 1) {
    out[at++] = 46;
    for (let i = 1; i < k; i++) out[at++] = DIGITS[i]!;
  }
  const e = n - 1;
  out[at++] = 101;
  out[at++] = e >= 0 ? 43 : 45;
  return digitBytes(Math.abs(e), 0, out, at);
}

/** Scratch digits of `decimalBytes`. */
const DIGITS = new Uint8Array(24);

/** Decimal digits of a non-negative integer below 10^22. */
function digitCount(n: number): number {
  let k = 1;
  while (k < 22 && n >= POWERS_OF_TEN[k]!) k++;
  return k;
}

/** The decimal digits of the integer `n` (`k` of them, or as many as it has when 0). */
function digitBytes(n: number, k: number, out: Uint8Array, at: number): number {
  const count = k > 0 ? k : digitCount(n);
  for (let i = at + count - 1; i >= at; i--) {
    const q = Math.floor(n / 10);
    out[i] = 48 + (n - q * 10);
    n = q;
  }
  return at + count;
}

/** Whether `f` (a float32 value) is ± a power of two: its mantissa bits are all zero. */
function isPowerOfTwo(f: number): boolean {
  FLOAT32[0] = f;
  return (BITS32[0]! & 0x7fffff) === 0;
}
const FLOAT32 = new Float32Array(1);
const BITS32 = new Uint32Array(FLOAT32.buffer);

/**
 * The definition `formatNumber` implements: the shortest `toPrecision` text (1 to 9 digits)
 * that reads back as the float32 `f`.
 */
export function shortestFloat32(f: number): string {
  for (let digits = 1; digits <= 9; digits++) {
    const text = f.toPrecision(digits);
    if (Math.fround(Number(text)) === f) return String(Number(text));
  }
  return String(f);
}
