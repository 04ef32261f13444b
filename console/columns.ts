/**
 * The printer columns of a kind, rendered the way `kubectl get` renders them, so every number
 * in a console table is the number `kubectl get` prints for the same object (the browser tests
 * compare them).
 *
 * `kubectl get` on a custom resource prints a Table the API server builds from the CRD's
 * `additionalPrinterColumns` (apiextensions-apiserver's `tableconvertor`): each column's
 * JSONPath is evaluated and only its first result kept; the cell is typed by the column
 * (`integer` truncates, `number` is a float, `date` becomes an age such as `5m30s`), travels as
 * JSON and is printed by kubectl with Go's `%v` (an absent cell is blank). This module
 * reproduces that chain for the JSONPath subset Lathe's columns use (`.a.b`, `[*]`,
 * `[?(@.type=="Ready")]`), from the same column definitions the CRDs are generated from.
 */
import type { PrinterColumn } from '../operator/src/api/kind.js';

type Step = { field: string } | { all: true } | { filter: { field: string; equals: string } };

const parsed = new Map<string, Step[]>();

/** The steps of a simple JSONPath such as `.status.conditions[?(@.type=="Ready")].status`. */
export function parseJsonPath(path: string): Step[] {
  const known = parsed.get(path);
  if (known) return known;
  const steps: Step[] = [];
  let i = 0;
  while (i < path.length) {
    if (path[i] === '.') {
      const field = /^[A-Za-z0-9_-]+/.exec(path.slice(i + 1))?.[0];
      if (!field) throw new Error(`JSONPath ${path}: expected a field name at ${i + 1}`);
      steps.push({ field });
      i += 1 + field.length;
    } else if (path[i] === '[') {
      const end = path.indexOf(']', i);
      if (end < 0) throw new Error(`JSONPath ${path}: unclosed [ at ${i}`);
      const inner = path.slice(i + 1, end);
      const filter = /^\?\(@\.([A-Za-z0-9_-]+)\s*==\s*["']([^"']*)["']\)$/.exec(inner);
      if (inner === '*') steps.push({ all: true });
      else if (filter) steps.push({ filter: { field: filter[1]!, equals: filter[2]! } });
      else throw new Error(`JSONPath ${path}: unsupported [${inner}]`);
      i = end + 1;
    } else {
      throw new Error(`JSONPath ${path}: unexpected "${path[i]}" at ${i}`);
    }
  }
  parsed.set(path, steps);
  return steps;
}

/** The first value `path` finds in `obj`, or undefined (as `tableconvertor` keeps only one). */
export function jsonPathValue(obj: unknown, path: string): unknown {
  let values: unknown[] = [obj];
  for (const step of parseJsonPath(path)) {
    const next: unknown[] = [];
    for (const value of values) {
      if (value === null || typeof value !== 'object') continue;
      if ('field' in step) {
        const child = (value as Record<string, unknown>)[step.field];
        if (child !== undefined) next.push(child);
      } else if (Array.isArray(value)) {
        for (const item of value) {
          if ('all' in step) next.push(item);
          else if (
            item !== null &&
            typeof item === 'object' &&
            String((item as Record<string, unknown>)[step.filter.field]) === step.filter.equals
          )
            next.push(item);
        }
      }
    }
    values = next;
  }
  return values[0] ?? undefined;
}

/** What `kubectl get` prints for an absent cell: nothing (`-o custom-columns` prints `<none>`). */
export const NONE = '';

/** The cell `kubectl get` prints for `column` of `obj` at time `now`. */
export function printerCell(column: PrinterColumn, obj: unknown, now: Date): string {
  const value = jsonPathValue(obj, column.jsonPath);
  if (value === undefined || value === null) return NONE;
  switch (column.type) {
    case 'integer':
      return typeof value === 'number' ? String(Math.trunc(value)) : NONE;
    case 'number':
      return typeof value === 'number' ? printedNumber(value) : NONE;
    case 'boolean':
      return typeof value === 'boolean' ? String(value) : NONE;
    case 'date': {
      if (typeof value !== 'string') return NONE;
      const time = Date.parse(value);
      return Number.isNaN(time) ? '<invalid>' : humanDuration(now.getTime() - time);
    }
    default:
      if (typeof value === 'string') return value;
      if (typeof value === 'number') return printedNumber(value);
      if (typeof value === 'boolean') return String(value);
      return JSON.stringify(value);
  }
}

/**
 * A JSON number as kubectl prints it: the API server's JSON writes an integral value without a
 * fraction, which kubectl reads back as an integer; any other value is printed with Go's `%v`
 * (shortest digits, exponent form below 1e-4 and from 1e6: `1.5e-05`, `1.2345675e+06`).
 */
export function printedNumber(value: number): string {
  if (Number.isInteger(value) && Math.abs(value) < 1e21) return BigInt(value).toString();
  return goFloat(value);
}

/** Go's `%v` of a float64: `strconv.FormatFloat(v, 'g', -1, 64)`. */
export function goFloat(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? '+Inf' : '-Inf';
  if (value === 0) return Object.is(value, -0) ? '-0' : '0';
  const [mantissa, exponentText] = value.toExponential().split('e') as [string, string];
  const exponent = Number(exponentText);
  // strconv: with the shortest digits, %e form below 1e-4 and from 1e6 (precision 6).
  if (exponent < -4 || exponent >= 6) {
    const sign = exponent < 0 ? '-' : '+';
    return `${mantissa}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  // Within that range JavaScript prints the same shortest digits without an exponent.
  return String(value);
}

/** An age as kubectl prints it (`k8s.io/apimachinery/pkg/util/duration.HumanDuration`). */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  const days = Math.trunc(hours / 24);
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${days}d` : `${days}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${days}d`;
  const years = Math.trunc(days / 365);
  if (hours < 24 * 365 * 8) {
    const d = days % 365;
    return d === 0 ? `${years}y` : `${years}y${d}d`;
  }
  return `${years}y`;
}

/** The columns `kubectl get` shows without `-o wide` (priority 0). */
export function defaultColumns(columns: readonly PrinterColumn[]): PrinterColumn[] {
  return columns.filter((c) => (c.priority ?? 0) === 0);
}
