/**
 * Parquet values as raw cells: the text a CSV of the same table would hold, so a Parquet
 * source and its CSV export go through the same preparation and give the same dataset
 * version. What pandas' `read_parquet` keeps as typed columns becomes, here, one canonical
 * text per value (the pipeline reads a number, a category or "missing" from text, as it does
 * for CSV):
 *
 * | Parquet | Cell |
 * | --- | --- |
 * | BOOLEAN | `true` / `false` |
 * | INT32, INT64 (signed or not) | the number; beyond 2^53 the exact digits as text |
 * | DOUBLE, FLOAT16 | the number (the spill writes its shortest text, `String(x)`) |
 * | FLOAT | the shortest text that reads back as the same float32 (`formatNumber`), not the double's digits |
 * | DECIMAL(p, s) | the decimal with s digits after the point (`12.30`) |
 * | STRING, ENUM, JSON, unannotated BYTE_ARRAY | the UTF-8 text |
 * | UUID | `xxxxxxxx-xxxx-…` |
 * | other FIXED_LEN_BYTE_ARRAY | base64 (as a PostgreSQL `bytea`) |
 * | DATE | `YYYY-MM-DD` |
 * | TIMESTAMP (MILLIS, MICROS, NANOS), INT96 | ISO 8601 with 3, 6 or 9 fraction digits, `Z` when UTC-adjusted |
 * | TIME | `HH:MM:SS` with 3, 6 or 9 fraction digits |
 * | null, NaN | missing |
 *
 * Nested columns (LIST, MAP, groups) and types without a text form (INTERVAL, BSON, VARIANT,
 * GEOMETRY, GEOGRAPHY) are refused by name: `unsupportedTypeOf`.
 */
import type { ParquetParsers, SchemaElement } from 'hyparquet';
import { formatNumber } from '../../contract/prepared-data.js';
import type { Cell } from './table.js';

/** Turns one decoded value of a column into a raw cell. */
export type CellConverter = (value: unknown) => Cell;

/** A top-level column of a Parquet file's schema, as hyparquet's schema tree gives it. */
export interface ParquetColumnNode {
  element: SchemaElement;
  children: readonly unknown[];
}

const NANOS_PER_SECOND = 1_000_000_000n;
const MICROS_PER_SECOND = 1_000_000n;
const MILLIS_PER_SECOND = 1_000n;

/** Seconds since the epoch and the fraction's digits, e.g. (1, "500") for 1500 ms. */
function isoTimestamp(units: bigint, perSecond: bigint, digits: number): string {
  let seconds = units / perSecond;
  let fraction = units % perSecond;
  if (fraction < 0n) {
    seconds -= 1n;
    fraction += perSecond;
  }
  const whole = new Date(Number(seconds) * 1000).toISOString(); // …T12:34:56.000Z
  return `${whole.slice(0, -5)}.${fraction.toString().padStart(digits, '0')}Z`;
}

/**
 * hyparquet's parsers for dates and timestamps, returning text rather than `Date` (which keeps
 * milliseconds only). A column whose timestamps are not UTC-adjusted loses the `Z` in its
 * converter (the parsers do not see the column).
 */
export const TEXT_PARSERS: Partial<ParquetParsers> = {
  timestampFromMilliseconds: (millis: bigint) => isoTimestamp(BigInt(millis), MILLIS_PER_SECOND, 3),
  timestampFromMicroseconds: (micros: bigint) => isoTimestamp(BigInt(micros), MICROS_PER_SECOND, 6),
  timestampFromNanoseconds: (nanos: bigint) => isoTimestamp(BigInt(nanos), NANOS_PER_SECOND, 9),
  dateFromDays: (days: number) => new Date(days * 86_400_000).toISOString().slice(0, 10),
  jsonFromBytes: (bytes: Uint8Array) => bytes && Buffer.from(bytes).toString('utf8'),
};

/** Why a top-level column cannot be read as cells, or undefined when it can. */
export function unsupportedTypeOf(column: ParquetColumnNode): string | undefined {
  const { element } = column;
  const logical = element.logical_type?.type;
  const converted = element.converted_type;
  if (column.children.length > 0 || element.repetition_type === 'REPEATED') {
    const kind = logical ?? converted ?? 'group';
    return `a nested column (${kind === 'MAP_KEY_VALUE' ? 'MAP' : kind})`;
  }
  for (const type of ['INTERVAL', 'BSON', 'VARIANT', 'GEOMETRY', 'GEOGRAPHY'] as const) {
    if (logical === type || converted === type) return `of type ${type}, which has no text form`;
  }
  return undefined;
}

/** The plain conversion: what every column but the special ones below uses. */
export function plainCell(value: unknown): Cell {
  switch (typeof value) {
    case 'number':
      // A number stays a number: the profiler reads it without parsing text, and the spill
      // writes it as String(x), the shortest text that reads back as x (measured: turning it
      // into text here costs more, in parsing it back, than it saves).
      return Number.isNaN(value) ? null : value;
    case 'string':
    case 'boolean':
      return value;
    case 'bigint':
      return value >= -9007199254740991n && value <= 9007199254740991n
        ? Number(value)
        : value.toString();
    default:
      if (value === null || value === undefined) return null;
      if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
      return String(value);
  }
}

/** Largest unscaled decimal recovered exactly from hyparquet's `unscaled × 10^-scale`. */
const EXACT_UNSCALED = 2 ** 50;

/** DECIMAL: hyparquet gives `unscaled × 10^-scale` as a double; the text has `scale` digits. */
function decimalCell(scale: number): CellConverter {
  const factor = 10 ** scale;
  return (value) => {
    if (typeof value !== 'number') return plainCell(value);
    const unscaled = Math.round(value * factor);
    if (scale === 0 || !(Math.abs(unscaled) <= EXACT_UNSCALED)) return plainCell(value);
    const digits = Math.abs(unscaled)
      .toString()
      .padStart(scale + 1, '0');
    const sign = unscaled < 0 ? '-' : '';
    return `${sign}${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  };
}

/** TIME: units since midnight as `HH:MM:SS.fff…`. */
function timeCell(perSecond: bigint, digits: number): CellConverter {
  return (value) => {
    if (value === null || value === undefined) return null;
    const units = BigInt(value as number | bigint);
    const seconds = Number(units / perSecond);
    const fraction = (units % perSecond).toString().padStart(digits, '0');
    const hh = String(Math.floor(seconds / 3600)).padStart(2, '0');
    const mm = String(Math.floor(seconds / 60) % 60).padStart(2, '0');
    const ss = String(seconds % 60).padStart(2, '0');
    return `${hh}:${mm}:${ss}.${fraction}`;
  };
}

/** FLOAT: the float32's shortest text, as a CSV writer of the float32 would write it. */
function float32Cell(value: unknown): Cell {
  if (typeof value !== 'number' || !Number.isFinite(value)) return plainCell(value);
  return formatNumber(value);
}

/** A timestamp without a time zone (isAdjustedToUTC false): the parsers' text without `Z`. */
function localTimestampCell(value: unknown): Cell {
  return typeof value === 'string' ? value.slice(0, -1) : plainCell(value);
}

/** The converter of a flat column (`unsupportedTypeOf` returned undefined). */
export function cellConverterOf(element: SchemaElement): CellConverter {
  const logical = element.logical_type;
  const converted = element.converted_type;
  if (converted === 'DECIMAL' || logical?.type === 'DECIMAL') {
    return decimalCell(element.scale ?? 0);
  }
  if (logical?.type === 'TIME') {
    if (logical.unit === 'MILLIS') return timeCell(MILLIS_PER_SECOND, 3);
    if (logical.unit === 'MICROS') return timeCell(MICROS_PER_SECOND, 6);
    return timeCell(NANOS_PER_SECOND, 9);
  }
  if (converted === 'TIME_MILLIS') return timeCell(MILLIS_PER_SECOND, 3);
  if (converted === 'TIME_MICROS') return timeCell(MICROS_PER_SECOND, 6);
  if (logical?.type === 'TIMESTAMP' && !logical.isAdjustedToUTC) return localTimestampCell;
  if (element.type === 'FLOAT' && logical?.type !== 'FLOAT16') return float32Cell;
  return plainCell;
}
