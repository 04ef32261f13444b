/**
 * The Python twin of the record preparation (`lathe_runtime/prepare.py`) against the TypeScript
 * one it mirrors (`contract/prepared-data.ts`): the same raw rows — random draws of ordinary and
 * tricky cells (numbers as text in every form `Number` reads, missing tokens, JavaScript-only
 * whitespace, numbers and objects where a category is expected, keyed and salted PII columns) —
 * must give float32-equal features, or a CellError naming the same column. A Python trainer's
 * evaluate mode scores a model with the twin, the inference server with the TypeScript; a
 * difference here would judge a champion on other inputs than it serves. Runs the system
 * python3: the twin needs only the standard library.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  legacySaltedHash,
  PII_HASH_SCHEME,
  PiiKeyMissingError,
  piiHash,
  piiHashing,
} from '../../contract/pii-hash.js';
import {
  CellError,
  encodeLabel,
  type InputTransform,
  type PreparedSchema,
  PreparedSchemaSchema,
  prepareRecord,
} from '../../contract/prepared-data.js';
import { seededRandom } from '../../contract/seeded-random.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * What either side made of a row: features, the column its CellError names, or the keyed PII
 * column it could not hash without a key.
 */
type Prepared = { features: number[] } | { error: string } | { missingKey: string };

/** Prepares `records` with the Python twin; `key` is the PII key (hex) or null. */
function pythonPrepared(
  schema: PreparedSchema,
  records: unknown[],
  key: string | null,
): { rows: Prepared[]; labels: (number | { error: string })[] } {
  const program = `
import json, sys
from lathe_runtime.pii_hash import PiiKeyMissingError, pii_hashing
from lathe_runtime.prepare import CellError, encode_label, record_preparer
request = json.load(sys.stdin)
schema = request["schema"]
prepare = record_preparer(schema, pii_hashing(bytes.fromhex(request["key"]) if request["key"] else None))
rows, labels = [], []
for record in request["records"]:
    try:
        rows.append({"features": prepare(record)})
    except CellError as error:
        rows.append({"error": error.column})
    except PiiKeyMissingError as error:
        rows.append({"missingKey": error.column})
    try:
        labels.append(encode_label(schema, record.get(schema["label"]["name"])))
    except CellError as error:
        labels.append({"error": error.column})
print(json.dumps({"rows": rows, "labels": labels}))
`;
  const input = JSON.stringify({ schema, records, key });
  return JSON.parse(
    execFileSync('python3', ['-c', program], {
      cwd: here,
      input,
      encoding: 'utf8',
      maxBuffer: 256 << 20,
    }),
  );
}

/** Prepares `record` with the TypeScript, as `Prepared`. */
function typescriptPrepared(
  schema: PreparedSchema,
  record: Record<string, unknown>,
  key: Buffer | undefined,
): Prepared {
  try {
    return { features: prepareRecord(schema, record, [], piiHashing(key)) };
  } catch (error) {
    if (error instanceof PiiKeyMissingError) return { missingKey: error.column };
    if (!(error instanceof CellError)) throw error;
    return { error: error.column };
  }
}

function typescriptLabel(schema: PreparedSchema, raw: unknown): number | { error: string } {
  try {
    return encodeLabel(schema, raw);
  } catch (error) {
    if (!(error instanceof CellError)) throw error;
    return { error: error.column };
  }
}

/** Float32-equal features (what a model is fed), or the same failing column. */
function expectSame(python: Prepared, typescript: Prepared, record: unknown): void {
  if (!('features' in typescript)) {
    expect(python, JSON.stringify(record)).toEqual(typescript);
    return;
  }
  expect('features' in python, `${JSON.stringify(record)} -> ${JSON.stringify(python)}`).toBe(true);
  const got = (python as { features: number[] }).features;
  expect(got.length).toBe(typescript.features.length);
  for (const [i, value] of typescript.features.entries()) {
    expect(Math.fround(got[i]!), `feature ${i} of ${JSON.stringify(record)}`).toBe(
      Math.fround(value),
    );
  }
}

const key = Buffer.alloc(32, 7);
const inputs: InputTransform[] = [
  { name: 'a', type: 'number', kind: 'numeric', impute: 2.5, scale: { method: 'none' } },
  {
    name: 'b',
    type: 'integer',
    kind: 'numeric',
    impute: null,
    scale: { method: 'standard', mean: 0.3, std: 1.7 },
  },
  {
    name: 'c',
    type: 'number',
    kind: 'numeric',
    impute: -1,
    scale: { method: 'minMax', min: -3.25, max: 1e6 },
  },
  {
    name: 'flat',
    type: 'number',
    kind: 'numeric',
    impute: 0,
    scale: { method: 'minMax', min: 4, max: 4 },
  },
  {
    name: 'colour',
    type: 'categorical',
    kind: 'categorical',
    impute: 'red',
    encoding: 'oneHot',
    categories: ['red', 'blue', '3', '1e+21', 'true', '{"2":true,"a":1}', '[object Object]'],
    other: true,
  },
  {
    name: 'size',
    type: 'string',
    kind: 'categorical',
    impute: null,
    encoding: 'ordinal',
    categories: ['s', 'm', 'l', '-0.25', 'İ', 'ας'],
    other: false,
  },
  {
    name: 'wild',
    type: 'boolean',
    kind: 'categorical',
    impute: 'false',
    encoding: 'ordinal',
    categories: ['false', 'true'],
    other: true,
  },
  {
    name: 'email',
    type: 'categorical',
    kind: 'categorical',
    impute: null,
    encoding: 'oneHot',
    categories: [piiHash(key, 'alice'), piiHash(key, 'bob'), piiHash(key, 'x\ud800')],
    other: false,
    hash: PII_HASH_SCHEME,
  },
  {
    name: 'old',
    type: 'categorical',
    kind: 'categorical',
    impute: 'none',
    encoding: 'oneHot',
    categories: [legacySaltedHash('salt', 'alice'), legacySaltedHash('salt', 'é')],
    other: true,
    hashSalt: 'salt',
  },
];
const schema = PreparedSchemaSchema.parse({
  formatVersion: 1,
  task: 'classification',
  label: { name: 'species', type: 'categorical', classes: ['setosa', 'versicolor', '7'] },
  inputs,
  features: inputs.flatMap((input) =>
    input.kind === 'numeric' || input.encoding === 'ordinal'
      ? [input.name]
      : [...input.categories, ...(input.other ? ['other'] : [])].map((c) => `${input.name}=${c}`),
  ),
});

/** Ordinary and tricky cells; NaN and Infinity become null on the way to JSON, as in the file. */
const cells: unknown[] = [
  ...['7', '-2.5', '.5', '5.', '0012', '-0', '1e3', '0x1f', ' 4 ', '\t8', '+3', '1.2.3', '-'],
  ...['0b101', '0o17', '0X1F', '-0x1', '1_000', '١٢', '1e400', '-1e-400', '\u00a05', '\ufeff6'],
  ...['\u20287\u2029', '\u001c9', '\u00855', '+Infinity', 'infinity', 'inf', '1e', 'e5', '.'],
  ...['', ' ', 'NA', 'nan', 'NaN', 'null', '?', 'Infinity', '-Infinity', 'tall', '1,5', ' N/A '],
  ...['1234567890123456', '0.1234567890123456789', '-99999999999999.9', '9007199254740993'],
  ...[3, -0.25, 1e21, 1e-7, 123456789012345680000, 2 ** 53 + 2, 0.1 + 0.2, -0, 5e-324],
  ...[true, false, null, {}, { a: 1, '2': true }, [1, null, 'x'], [], [[2, 3]]],
  ...['red', 'blue', ' blue ', 'green', 'yes', 'no', 'T', 'Y', 'FALSE', ' 1 ', 's', 'm', 'l'],
  ...['İ', 'ΑΣ', 'ας', 'alice', ' bob ', 'x\ud800', 'é', 'e\u0301', piiHash(key, 'bob')],
  ...['setosa', 'versicolor', 7, '7', ' setosa', 'virginica'],
];

function randomRecords(seed: number, count: number, names: string[]): Record<string, unknown>[] {
  const random = seededRandom(seed);
  const pick = () => cells[Math.floor(random() * cells.length)];
  const records: Record<string, unknown>[] = [];
  for (let trial = 0; trial < count; trial++) {
    const record = Object.fromEntries(names.map((name) => [name, pick()]));
    if (random() < 0.1) delete record[names[Math.floor(random() * names.length)]!];
    // What the evaluate mode reads is JSON (test.raw.jsonl): both sides prepare that.
    records.push(JSON.parse(JSON.stringify(record)));
  }
  return records;
}

describe('the Python record preparation (lathe_runtime.prepare)', () => {
  const names = [...inputs.map((i) => i.name), 'species'];

  it.each([
    ['with the PII key', key],
    ['without a PII key', undefined],
  ])('prepares random rows as prepareRecord does, %s', (_, pii) => {
    const records = randomRecords(pii ? 41 : 43, 6000, names);
    const python = pythonPrepared(schema, records, pii ? pii.toString('hex') : null);
    let prepared = 0;
    const failedColumns = new Set<string>();
    for (const [i, record] of records.entries()) {
      const typescript = typescriptPrepared(schema, record, pii);
      expectSame(python.rows[i]!, typescript, record);
      if ('features' in typescript) prepared++;
      else
        failedColumns.add(
          'error' in typescript ? typescript.error : `key:${typescript.missingKey}`,
        );
      expect(python.labels[i], JSON.stringify(record.species)).toEqual(
        typescriptLabel(schema, record.species),
      );
    }
    // Both outcomes, many times, and failures from several columns (without the key, only
    // rows whose PII cell is already hashed prepare).
    expect(prepared).toBeGreaterThan(pii ? 100 : 0);
    expect(records.length - prepared).toBeGreaterThan(100);
    expect(failedColumns.size).toBeGreaterThanOrEqual(pii ? 2 : 3);
  });

  it.each([
    ['numbers in every form Number reads', { a: '0x1f', b: ' 4 ', c: '\u00a05', flat: 9 }],
    ['missing cells imputed', { a: 'NA', b: 2, c: null, flat: '', colour: ' ', wild: '?' }],
    ['a number where a category is expected', { b: 1, colour: 1e21, size: -0.25, wild: 1 }],
    ['an object and an array as categories', { b: 1, colour: { a: 1, '2': true }, size: [] }],
    ['the PII column hashed with the key', { b: 1, email: ' alice ', old: 'é' }],
    ['an already hashed PII value', { b: 1, email: piiHash(key, 'bob') }],
    ['a lone surrogate hashed as Node.js encodes it', { b: 1, email: 'x\ud800' }],
    ['a value that is not a number', { b: '1_000' }],
    ['a missing value the preparation dropped', { b: 'nan' }],
  ])('prepares %s the same', (_, cellsOfRow) => {
    const record: Record<string, unknown> = { size: 's', email: 'bob', ...cellsOfRow };
    const python = pythonPrepared(schema, [record], key.toString('hex'));
    expectSame(python.rows[0]!, typescriptPrepared(schema, record, key), record);
  });

  it('refuses a keyed PII value without the key, naming the column', () => {
    const program = `
import sys
from lathe_runtime.pii_hash import PiiKeyMissingError, pii_hashing
from lathe_runtime.prepare import prepare_record
import json
schema = json.load(sys.stdin)
try:
    prepare_record(schema, {"b": 1, "size": "s", "email": "carol"}, pii_hashing(None))
except PiiKeyMissingError as error:
    print(error.column)
`;
    const out = execFileSync('python3', ['-c', program], {
      cwd: here,
      input: JSON.stringify(schema),
      encoding: 'utf8',
    });
    expect(out.trim()).toBe('email');
  });
});
