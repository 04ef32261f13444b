/**
 * The bytes of a dataset version are its name (the sha256 of `manifest.json`, which pins every
 * file), so a faster ingestion must write exactly what the slower one wrote. These versions were
 * computed by the program before its fast paths existed (the record-at-a-time passes of
 * main at b38572e) on generated tables meant to reach every path: numbers written many ways
 * (trailing zeros, a leading point, exponents, spaces, huge and tiny), missing-value tokens,
 * categories with quotes, commas, line breaks, escapes and non-ASCII text, hashed PII, ordinal
 * and min-max preparation, rows dropped for missing values, regression, sensitive columns kept
 * for evaluation only, JSON Lines. A change to what a version holds must change these on
 * purpose, with the contract's format version.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { namespacePiiKey } from '../../contract/pii-hash.js';
import { type DatasetInput, DatasetSpecSchema } from '../../operator/src/api/dataset.js';
import { prepareVersion, tableOf } from './ingest.js';
import { versionOf } from './publish.js';
import { seededRandom } from './split.js';
import type { SourcePart } from './table.js';

const PII_KEY = Buffer.from(namespacePiiKey('test-master-key-0123456789', 'ns'), 'hex');

let workDir: string;
beforeEach(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'lathe-same-bytes-'));
});
afterEach(async () => {
  await rm(workDir, { recursive: true, force: true });
});

/** Numbers as people write them, and the texts that mean "missing". */
function numberText(random: () => number): string {
  const v = (random() - 0.5) * 200;
  switch (Math.floor(random() * 16)) {
    case 0:
      return v.toFixed(4);
    case 1:
      return String(Math.round(v));
    case 2:
      return v.toExponential(3);
    case 3:
      return ` ${v.toFixed(2)} `;
    case 4:
      return (v / 1e9).toFixed(12);
    case 5:
      return `${Math.round(v)}.`;
    case 6:
      return v.toFixed(3).replace(/^(-?)0\./, '$1.');
    case 7:
      return random() < 0.5 ? '' : 'NA';
    case 8:
      return String(v * 1e17);
    case 9:
      return `00${Math.abs(Math.round(v))}.500`;
    case 10:
      return '-0.000';
    case 11:
      return String(v);
    case 12:
      return (v / 1e7).toFixed(10);
    default:
      return v.toFixed(1);
  }
}

const CATEGORIES = [
  'red',
  'green',
  ' blue ',
  'say "hi"',
  'a,b',
  'two\nlines',
  'back\\slash',
  'tab\there',
  'grün',
  '😀',
  'NA',
  '',
  '?',
  '1.50',
  'yes',
];

function quoted(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** A CSV of `rows` rows: numeric, categorical, boolean, PII and sensitive columns, a label. */
function generatedTable(rows: number, seed: number): string {
  const random = seededRandom(seed);
  const lines = ['n1,n2,n3,cat,flag,email,group,code,y'];
  for (let i = 0; i < rows; i++) {
    const cat = CATEGORIES[Math.floor(random() * CATEGORIES.length)]!;
    const n1 = (random() * 100).toFixed(random() < 0.5 ? 2 : 0);
    const n2 = numberText(random);
    const n3 = random() < 0.1 ? '' : ((random() - 0.5) * 1e6).toFixed(3);
    const flag = ['true', 'False', 'yes', 'N', '1', ''][Math.floor(random() * 6)]!;
    const email = `user${Math.floor(random() * 40)}@example.org`;
    const group = ['a', 'b', 'c'][i % 3]!;
    const code = String(Math.floor(random() * 70));
    const score = Number(n1) + (cat === 'red' ? 30 : 0) + random() * 40;
    const y = random() < 0.01 ? '' : score > 70 ? 'high' : score > 40 ? 'mid' : 'low';
    lines.push([n1, n2, n3, quoted(cat), flag, email, group, code, y].join(','));
  }
  // CRLF line ends, as a spreadsheet writes them.
  return `${lines.join('\r\n')}\r\n`;
}

function jsonLines(rows: number, seed: number): string {
  const random = seededRandom(seed);
  const lines: string[] = [];
  for (let i = 0; i < rows; i++) {
    const record: Record<string, unknown> = {
      a: random() < 0.05 ? null : Math.round((random() - 0.5) * 1e4) / 100,
      b: CATEGORIES[Math.floor(random() * CATEGORIES.length)],
      c: random() < 0.5,
      y: random() < 0.5 ? 'p' : 'q',
    };
    if (i > rows / 2) record.late = random() * 10;
    lines.push(JSON.stringify(record));
  }
  return `${lines.join('\n')}\n`;
}

async function* partsOf(text: string, chunkBytes: number): AsyncGenerator<SourcePart> {
  const bytes = Buffer.from(text);
  yield {
    name: 'data',
    chunks: (async function* () {
      for (let at = 0; at < bytes.length; at += chunkBytes)
        yield bytes.subarray(at, at + chunkBytes);
    })(),
  };
}

async function versionFor(spec: Partial<DatasetInput['spec']>, text: string): Promise<string> {
  const parsed = DatasetSpecSchema.parse({ source: { http: { url: 'http://x.test/d' } }, ...spec });
  const prepared = await prepareVersion(
    parsed,
    tableOf(parsed, partsOf(text, 4093)),
    workDir,
    undefined,
    PII_KEY,
  );
  return versionOf(prepared.files).version;
}

const ROWS = 6000;

describe('a dataset version holds the same bytes as before the fast paths', () => {
  const table = generatedTable(ROWS, 11);
  it.each<[string, Partial<DatasetInput['spec']>, string]>([
    ['the defaults', { schema: { label: 'y' } }, 'a15a78a7c0843b60'],
    [
      'hashed PII, a dropped column, declared types, ordinal and min-max',
      {
        schema: {
          label: 'y',
          columns: [
            { name: 'n1', type: 'number' },
            { name: 'n3', type: 'number' },
            { name: 'cat', type: 'categorical' },
            { name: 'flag', type: 'boolean' },
            { name: 'email', type: 'categorical' },
            { name: 'code', type: 'integer' },
            { name: 'y', type: 'categorical' },
          ],
        },
        preparation: {
          pii: [{ column: 'email', action: 'Hash' }],
          encodeCategoricals: 'ordinal',
          scaleNumerics: 'minMax',
          maxCategories: 5,
          missingValues: { numeric: 'median', categorical: 'constant', fillValue: 'none' },
        },
      },
      '73d7bb058b2236fa',
    ],
    [
      'rows dropped for missing values, a sensitive column for evaluation only',
      {
        schema: { label: 'y' },
        preparation: {
          drop: ['group', 'email'],
          missingValues: { numeric: 'drop', categorical: 'drop' },
          scaleNumerics: 'none',
        },
        fairness: { sensitiveColumns: ['group'] },
        split: { testFraction: 0.3, seed: 5, stratify: false },
      },
      '73de7f993df38d88',
    ],
    [
      'a regression label',
      {
        schema: { label: 'n1' },
        preparation: {
          drop: ['y'],
          missingValues: { numeric: 'zero', categorical: 'mostFrequent' },
        },
      },
      '688a53ebd54313a0',
    ],
  ])('with %s', async (_, spec, version) => {
    expect(await versionFor(spec, table)).toBe(version);
  });

  it('from JSON Lines', async () => {
    expect(await versionFor({ format: 'jsonl', schema: { label: 'y' } }, jsonLines(ROWS, 3))).toBe(
      'e4f25271732cb87d',
    );
  });
});
