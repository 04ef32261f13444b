/**
 * The four passes on small tables, through the scratch directory: what a dataset version holds
 * for a given spec and data (schema.json, stats.json, the prepared splits), and the errors a
 * user sees for bad data and failed validation rules.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { namespacePiiKey, PII_HASH_SCHEME, piiHash } from '../../contract/pii-hash.js';
import {
  encodeLabel,
  preparedLine,
  prepareRecord,
  prepareTestRawRecord,
} from '../../contract/prepared-data.js';
import { type DatasetInput, DatasetSpecSchema } from '../../operator/src/api/dataset.js';
import { piiHashFor, RawTestSplit } from '../trainer/raw-test-split.js';
import { decodeCsv } from './csv.js';
import { IngestFailure } from './failure.js';
import { type PreparedVersion, prepareVersion, tableOf } from './ingest.js';
import { versionOf } from './publish.js';
import type { SourcePart } from './table.js';

type SpecInput = DatasetInput['spec'];

let workDir: string;
beforeEach(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'lathe-ingest-test-'));
});
afterEach(async () => {
  await rm(workDir, { recursive: true, force: true });
});

async function* partsOf(...texts: string[]): AsyncGenerator<SourcePart> {
  for (const [i, text] of texts.entries()) {
    yield {
      name: `part-${i}`,
      chunks: (async function* () {
        // Small chunks, so rows cross chunk boundaries.
        for (let at = 0; at < text.length; at += 7) yield Buffer.from(text.slice(at, at + 7));
      })(),
    };
  }
}

const http = { http: { url: 'http://example.test/data.csv' } };

/** The namespace key the tests hash PII with. */
const PII_KEY = Buffer.from(namespacePiiKey('test-master-key-0123456789', 'ns'), 'hex');

async function prepare(
  spec: Partial<SpecInput> & Pick<SpecInput, 'schema'>,
  ...texts: string[]
): Promise<
  PreparedVersion & {
    train: string[][];
    test: string[][];
    /** test.raw.jsonl: its text, and each line parsed. */
    testRawText: string;
    testRaw: Record<string, unknown>[];
  }
> {
  const parsed = DatasetSpecSchema.parse({ source: http, ...spec });
  const version = await prepareVersion(
    parsed,
    tableOf(parsed, partsOf(...texts)),
    workDir,
    undefined,
    PII_KEY,
  );
  const read = async (name: string) => decodeCsv(await readFile(path.join(workDir, name), 'utf8'));
  const testRawText = await readFile(path.join(workDir, 'test.raw.jsonl'), 'utf8');
  return {
    ...version,
    train: await read('train.csv'),
    test: await read('test.csv'),
    testRawText,
    testRaw: testRawText
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l)),
  };
}

async function failure(
  spec: Partial<SpecInput> & Pick<SpecInput, 'schema'>,
  ...texts: string[]
): Promise<IngestFailure> {
  try {
    await prepare(spec, ...texts);
  } catch (error) {
    if (error instanceof IngestFailure) return error;
    throw error;
  }
  throw new Error('expected the preparation to fail');
}

/** 20 rows: x numeric, colour categorical, y the class. */
function classes(rows = 20): string {
  const lines = ['x,colour,y'];
  for (let i = 0; i < rows; i++)
    lines.push(`${i},${['red', 'green', 'blue'][i % 3]},${i % 4 === 0 ? 'yes' : 'no'}`);
  return `${lines.join('\n')}\n`;
}

describe('a prepared version', () => {
  it('infers types, one-hot encodes, standardises, and splits stratified', async () => {
    const v = await prepare({ schema: { label: 'y' } }, classes());
    expect(v.schema.task).toBe('classification');
    expect(v.schema.label).toEqual({ name: 'y', type: 'categorical', classes: ['no', 'yes'] });
    expect(v.schema.features).toEqual(['x', 'colour=blue', 'colour=green', 'colour=red']);
    expect(v.train[0]).toEqual([...v.schema.features, 'y']);
    expect(v.stats).toMatchObject({ rows: 20, trainRows: 16, testRows: 4, sourceRows: 20 });
    expect(v.stats.labels).toEqual({ no: 15, yes: 5 });
    // Stratified: 5 "yes" rows give round(5 × 0.2) = 1 test row; 15 "no" give 3.
    const testLabels = v.test.slice(1).map((r) => r.at(-1));
    expect(testLabels.filter((l) => l === '1')).toHaveLength(1);
    // Standardised on the train split: its x column has mean 0 and variance 1.
    const xs = v.train.slice(1).map((r) => Number(r[0]));
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
    expect(mean).toBeCloseTo(0, 5);
    expect(variance).toBeCloseTo(1, 4);
  });

  it('writes each row as prepareRecord and encodeLabel prepare it (serving does the same)', async () => {
    const text = classes();
    const v = await prepare({ schema: { label: 'y' }, split: { testFraction: 0.5 } }, text);
    const expected = new Set(
      decodeCsv(text)
        .slice(1)
        .map(([x, colour, y]) =>
          preparedLine(prepareRecord(v.schema, { x, colour }), y === 'yes' ? 1 : 0),
        ),
    );
    for (const row of [...v.train.slice(1), ...v.test.slice(1)])
      expect(expected.has(row.join(','))).toBe(true);
  });

  it('writes the test split unprepared to test.raw.jsonl, line for line with test.csv', async () => {
    // 24 rows: every third n missing, every fourth colour "NA"; id dropped, email hashed,
    // name dropped as PII. Each email is distinct, so it identifies its source row.
    const lines = ['id,n,colour,email,name,y'];
    const source = new Map<string, string[]>();
    for (let i = 0; i < 24; i++) {
      const row = [
        `${i}`,
        i % 3 === 0 ? '' : `${i * 1.5}`,
        i % 4 === 0 ? 'NA' : ['red', 'green'][i % 2]!,
        `p${i}@x.org`,
        `Person ${i}`,
        i % 2 === 0 ? 'yes' : 'no',
      ];
      lines.push(row.join(','));
      source.set(row[3]!, row);
    }
    const v = await prepare(
      {
        schema: { label: 'y' },
        preparation: {
          drop: ['id'],
          pii: [
            { column: 'email', action: 'Hash' },
            { column: 'name', action: 'Drop' },
          ],
        },
        split: { testFraction: 0.5, stratify: false },
      },
      `${lines.join('\n')}\n`,
    );
    const email = v.schema.inputs.find((i) => i.name === 'email')!;
    expect(email).toMatchObject({ hash: PII_HASH_SCHEME });
    const byHashedEmail = new Map(
      [...source.entries()].map(([e, row]) => [piiHash(PII_KEY, e), row]),
    );

    expect(v.testRaw).toHaveLength(v.stats.testRows);
    expect(v.testRaw).toHaveLength(v.test.length - 1);
    expect(v.testRawText).not.toContain('@x.org');
    expect(v.testRawText).not.toContain('Person');
    for (const [i, line] of v.testRaw.entries()) {
      expect(Object.keys(line)).toEqual(['n', 'colour', 'email', 'y']);
      const [, n, colour, , , y] = byHashedEmail.get(line.email as string)!;
      // Raw values: numbers as numbers, text as read, missing as null; nothing imputed.
      expect(line.n).toBe(n === '' ? null : Number(n));
      expect(line.colour).toBe(colour === 'NA' ? null : colour);
      expect(line.y).toBe(y);
      // Prepared with the version's schema, the line is test.csv's line i.
      const prepared = preparedLine(
        prepareTestRawRecord(v.schema, line),
        encodeLabel(v.schema, line.y),
      );
      expect(prepared).toBe(v.test[i + 1]!.join(','));
    }
    // The train split's raw rows too, one per prepared train row.
    const trainRaw = (await readFile(path.join(workDir, 'train.raw.jsonl'), 'utf8'))
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(trainRaw).toHaveLength(v.train.length - 1);
    for (const [i, line] of trainRaw.entries())
      expect(
        preparedLine(prepareTestRawRecord(v.schema, line), encodeLabel(v.schema, line.y)),
      ).toBe(v.train[i + 1]!.join(','));
    expect(v.testRaw.some((l) => l.n === null)).toBe(true);
    expect(v.testRaw.some((l) => l.colour === null)).toBe(true);
    // The raw split is part of the content hash.
    const names = versionOf(v.files).manifest.toString();
    expect(names).toContain('"test.raw.jsonl"');
  });

  it('keeps sensitive columns with the raw test split, as features only when select/drop allow', async () => {
    // sex is dropped from the features but sensitive; region is both a feature and sensitive.
    const lines = ['x,sex,region,y'];
    for (let i = 0; i < 30; i++)
      lines.push(
        `${i},${i % 2 ? 'f' : 'm'},${['north', 'south', 'east'][i % 3]},${i % 5 ? 'no' : 'yes'}`,
      );
    const v = await prepare(
      {
        schema: { label: 'y' },
        preparation: { drop: ['sex'] },
        fairness: { sensitiveColumns: ['sex', 'region'] },
        split: { testFraction: 0.5, stratify: false },
      },
      `${lines.join('\n')}\n`,
    );
    expect(v.schema.inputs.map((i) => i.name)).toEqual(['x', 'region']);
    expect(v.schema.features.some((f) => f.startsWith('sex'))).toBe(false);
    expect(v.schema.sensitiveColumns).toEqual(['sex', 'region']);
    expect(v.testRaw).toHaveLength(v.test.length - 1);
    for (const [i, line] of v.testRaw.entries()) {
      expect(Object.keys(line)).toEqual(['x', 'region', 'sex', 'y']);
      // The source row is x's: its sex is its parity, as written.
      expect(line.sex).toBe((line.x as number) % 2 ? 'f' : 'm');
      // The extra key changes nothing of the prepared line.
      expect(
        preparedLine(prepareTestRawRecord(v.schema, line), encodeLabel(v.schema, line.y)),
      ).toBe(v.test[i + 1]!.join(','));
    }
  });

  it('keeps a sensitive free-text column for evaluation, never as a feature', async () => {
    const lines = ['x,note,y'];
    for (let i = 0; i < 20; i++)
      lines.push(`${i},${i % 2 ? 'odd' : 'even'},${i % 4 ? 'no' : 'yes'}`);
    const v = await prepare(
      {
        schema: {
          label: 'y',
          columns: [
            { name: 'x', type: 'number' },
            { name: 'note', type: 'string' },
            { name: 'y', type: 'categorical' },
          ],
        },
        fairness: { sensitiveColumns: ['note'] },
        split: { testFraction: 0.5, stratify: false },
      },
      `${lines.join('\n')}\n`,
    );
    expect(v.schema.inputs.map((i) => i.name)).toEqual(['x']);
    for (const line of v.testRaw) expect(line.note).toBe((line.x as number) % 2 ? 'odd' : 'even');
  });

  it('names a sensitive column the data lacks', async () => {
    const error = await failure(
      { schema: { label: 'y' }, fairness: { sensitiveColumns: ['gender'] } },
      classes(),
    );
    expect(error.message).toMatch(/spec.fairness.sensitiveColumns names column gender/);
  });

  it('writes a raw test split the evaluate mode reads back as test.csv', async () => {
    const lines = ['n,colour,email,y'];
    for (let i = 0; i < 30; i++) {
      lines.push(
        `${i % 5 === 0 ? '' : i / 4},${['red', 'green', ''][i % 3]},u${i % 4}@x.org,${i % 3 ? 'a' : 'b'}`,
      );
    }
    const v = await prepare(
      {
        schema: { label: 'y' },
        preparation: { pii: [{ column: 'email', action: 'Hash' }] },
        split: { testFraction: 0.3 },
      },
      `${lines.join('\n')}\n`,
    );
    // The trainer's evaluate mode, scoring a model of this very version.
    const split = new RawTestSplit(v.schema, piiHashFor(v.schema, v.schema, PII_KEY).hash);
    for (const [i, line] of v.testRaw.entries()) split.add(line, i + 1);
    expect(split.rejectedRows).toBe(0);
    expect(split.unseenClasses).toEqual([]);
    const expected = v.test.slice(1).flatMap((row) => row.slice(0, -1).map(Number));
    expect([...split.preparedFeatures()]).toEqual([...Float32Array.from(expected)]);
  });

  it('keeps a regression label a number, and the numbers of a categorical column as text', async () => {
    const v = await prepare(
      {
        format: 'jsonl',
        schema: {
          columns: [
            { name: 'code', type: 'categorical' },
            { name: '7', type: 'number' },
            { name: 'target', type: 'number' },
          ],
          label: 'target',
        },
        split: { testFraction: 0.5, stratify: false },
      },
      '{"code": 1, "7": 2, "target": 0.5}\n{"code": "b", "7": 3, "target": 1.5}\n' +
        '{"code": 1, "7": null, "target": 2.5}\n{"code": "b", "7": 5, "target": 3.5}\n',
    );
    expect(v.testRaw).toHaveLength(2);
    for (const [i, line] of v.testRaw.entries()) {
      expect(typeof line.code).toBe('string');
      expect(typeof line.target).toBe('number');
      expect(line['7'] === null || typeof line['7'] === 'number').toBe(true);
      const prepared = preparedLine(
        prepareTestRawRecord(v.schema, line),
        encodeLabel(v.schema, line.target),
      );
      expect(prepared).toBe(v.test[i + 1]!.join(','));
    }
    // Keys in schema.inputs order and the label last, as written (JSON.parse would list an
    // integer-like key first whatever the text says).
    const keys = [...v.testRawText.split('\n')[0]!.matchAll(/"([^"]+)":/g)].map((m) => m[1]);
    expect(keys).toEqual([...v.schema.inputs.map((input) => input.name), 'target']);
    expect(keys.at(-1)).toBe('target');
  });

  it('is a regression when the label is numeric', async () => {
    const v = await prepare({ schema: { label: 'x' } }, classes());
    expect(v.schema.task).toBe('regression');
    expect(v.stats.labels).toBeUndefined();
    expect(v.stats.columns.find((c) => c.name === 'x')).toMatchObject({ min: 0, max: 19 });
  });

  it('takes declared types and names over inference', async () => {
    const v = await prepare(
      {
        csv: { header: false, delimiter: ';' },
        schema: {
          columns: [
            { name: 'code', type: 'categorical' },
            { name: 'flag', type: 'boolean' },
            { name: 'n', type: 'integer' },
          ],
          label: 'flag',
        },
        split: { testFraction: 0.5, stratify: false },
      },
      '1;yes;3\n2;no;4\n1;true;5\n2;false;6\n',
    );
    expect(v.schema.inputs.map((i) => [i.name, i.kind])).toEqual([
      ['code', 'categorical'],
      ['n', 'numeric'],
    ]);
    expect(v.schema.label.classes).toEqual(['false', 'true']);
    expect(v.stats).toMatchObject({ trainRows: 2, testRows: 2 });
  });

  it.each([
    ['mean', 'mostFrequent', 4, 'b', 4],
    ['median', 'constant', 2, 'zzz', 4],
    ['zero', 'mostFrequent', 0, 'b', 4],
    ['drop', 'drop', null, null, 2],
  ] as const)(
    'imputes numeric %s and categorical %s',
    async (numeric, categorical, numericImpute, categoricalImpute, rows) => {
      const v = await prepare(
        {
          schema: { label: 'y' },
          preparation: {
            missingValues: { numeric, categorical, fillValue: 'zzz' },
            scaleNumerics: 'none',
          },
          split: { testFraction: 0.01, stratify: false },
        },
        'n,c,y\n1,b,p\n,b,q\n2,,p\n9,a,q\n',
      );
      const [n, c] = v.schema.inputs;
      expect(n!.impute).toBe(numericImpute);
      expect(c!.impute).toBe(categoricalImpute);
      expect(v.stats.rows).toBe(rows);
      expect(v.stats.columns.find((s) => s.name === 'n')!.missing).toBe(1);
    },
  );

  it('fits minMax scaling on the train split only, and drops free text', async () => {
    const v = await prepare(
      {
        schema: {
          columns: [
            { name: 'n', type: 'number' },
            { name: 'note', type: 'string' },
            { name: 'y', type: 'categorical' },
          ],
          label: 'y',
        },
        preparation: { scaleNumerics: 'minMax' },
        split: { testFraction: 0.5, stratify: false },
      },
      'n,note,y\n0,a,p\n10,b,q\n20,c,p\n30,d,q\n',
    );
    expect(v.schema.features).toEqual(['n']);
    const scale = (v.schema.inputs[0] as { scale: { min: number; max: number } }).scale;
    const trainValues = v.train.slice(1).map((r) => Number(r[0]));
    expect(Math.min(...trainValues)).toBe(0);
    expect(Math.max(...trainValues)).toBe(1);
    expect([scale.min, scale.max]).not.toEqual([0, 30]);
  });

  it('merges categories beyond maxCategories into other, ordinal too', async () => {
    const lines = ['c,y'];
    for (const [c, n] of [
      ['a', 5],
      ['b', 4],
      ['c', 3],
      ['d', 1],
    ] as const)
      for (let i = 0; i < n; i++) lines.push(`${c},${i % 2}`);
    const v = await prepare(
      {
        schema: {
          columns: [
            { name: 'c', type: 'categorical' },
            { name: 'y', type: 'categorical' },
          ],
          label: 'y',
        },
        preparation: { maxCategories: 2, encodeCategoricals: 'ordinal' },
        split: { testFraction: 0.01 },
      },
      `${lines.join('\n')}\n`,
    );
    expect(v.schema.inputs[0]).toMatchObject({
      categories: ['a', 'b'],
      other: true,
      encoding: 'ordinal',
    });
    const dist = v.stats.distributions[0] as { categorical: { fractions: Record<string, number> } };
    expect(Object.keys(dist.categorical.fractions)).toEqual(['a', 'b', '__other__']);
    const sum = Object.values(dist.categorical.fractions).reduce((a, b) => a + b, 0);
    expect(sum).toBeCloseTo(1, 12);
  });

  it('drops or hashes PII columns with the namespace key, the same hash in every version', async () => {
    const spec = {
      schema: { label: 'y' },
      preparation: {
        pii: [
          { column: 'email', action: 'Hash' as const },
          { column: 'name', action: 'Drop' as const },
        ],
      },
    };
    const data =
      'email,name,y\na@x.org,Ann,1\nb@x.org,Bob,0\na@x.org,Ann,1\nc@x.org,Cy,0\nd@x.org,Di,1\n';
    const v = await prepare(spec, data);
    const email = v.schema.inputs.find((i) => i.name === 'email')!;
    expect(v.schema.inputs.map((i) => i.name)).toEqual(['email']);
    expect(email).toMatchObject({ kind: 'categorical', type: 'categorical' });
    expect(email).toMatchObject({ hash: PII_HASH_SCHEME });
    expect(email).not.toHaveProperty('hashSalt');
    expect(v.schema.piiDropped).toEqual(['name']);
    // The categories are the keyed hashes of the values; no salt or key is written.
    expect(email.kind === 'categorical' && email.categories).toContain(piiHash(PII_KEY, 'a@x.org'));
    const written = [
      ...v.files.inMemory['schema.json']!.toString(),
      ...v.files.inMemory['stats.json']!.toString(),
    ].join('');
    expect(written).not.toContain('@x.org');
    expect(written).not.toContain('Ann');
    const again = await prepare(spec, data);
    expect(versionOf(again.files).version).toBe(versionOf(v.files).version);
    // A dropped column is not part of the data kept; another kept value is.
    const dropped = await prepare(spec, data.replace('Cy', 'Cyd'));
    expect(dropped.schema.inputs[0]).toEqual(email);
    // Other data (another version): the same value has the same hash, so joins keep working.
    const changed = await prepare(spec, data.replace('0\nd@', '1\nd@'));
    expect(versionOf(changed.files).version).not.toBe(versionOf(v.files).version);
    const changedEmail = changed.schema.inputs[0]!;
    expect(changedEmail.kind === 'categorical' && changedEmail.categories).toContain(
      piiHash(PII_KEY, 'a@x.org'),
    );
  });

  it('fails with PiiKeyMissing, writing nothing, when a column is hashed and no key was given', async () => {
    const parsed = DatasetSpecSchema.parse({
      source: http,
      schema: { label: 'y' },
      preparation: { pii: [{ column: 'email', action: 'Hash' }] },
    });
    const failure = await prepareVersion(
      parsed,
      tableOf(parsed, partsOf('email,y\na@x.org,1\nb@x.org,0\n')),
      workDir,
    ).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(IngestFailure);
    expect(failure).toMatchObject({ reason: 'PiiKeyMissing' });
    expect((failure as Error).message).toContain('column email');
    expect((failure as Error).message).toContain('LATHE_PII_KEY');
  });

  it('gives the same version for the same data and preparation, another for another seed', async () => {
    const a = versionOf((await prepare({ schema: { label: 'y' } }, classes())).files);
    const b = versionOf((await prepare({ schema: { label: 'y' } }, classes())).files);
    const c = versionOf(
      (await prepare({ schema: { label: 'y' }, split: { seed: 1 } }, classes())).files,
    );
    expect(a.version).toMatch(/^[0-9a-f]{16}$/);
    expect(b.version).toBe(a.version);
    expect(c.version).not.toBe(a.version);
  });

  it('reads JSON Lines with keys appearing late, and several CSV parts with one header each', async () => {
    const v = await prepare(
      { format: 'jsonl', schema: { label: 'y' }, split: { testFraction: 0.01 } },
      '{"a": 1, "y": "p"}\n{"a": 2, "y": "q", "b": "x"}\n\n{"a": null, "y": "p", "b": "z"}\n',
    );
    expect(v.stats.columns.map((c) => [c.name, c.missing])).toEqual([
      ['a', 1],
      ['y', 0],
      ['b', 1],
    ]);
    const parts = await prepare({ schema: { label: 'y' } }, 'x,y\n1,a\n2,b\n', 'x,y\n3,a\n4,b\n');
    expect(parts.stats.sourceRows).toBe(4);
  });

  it('records decile edges and train fractions of each numeric input', async () => {
    const v = await prepare({ schema: { label: 'y' } }, classes(100));
    const x = v.stats.distributions.find((d) => d.name === 'x') as {
      numeric: { edges: number[]; fractions: number[] };
    };
    expect(x.numeric.edges).toHaveLength(9);
    expect(x.numeric.fractions).toHaveLength(10);
    for (const f of x.numeric.fractions) expect(f).toBeCloseTo(0.1, 1);
  });
});

describe('validation', () => {
  const data = 'n,c,y\n1,a,p\n5,b,q\n,a,p\n9,zz,q\n';
  it.each([
    [{ minRows: 10 }, 'minRows', undefined, '4'],
    [{ maxMissingFraction: 0.1 }, 'maxMissingFraction', 'n', '0.25'],
    [{ columns: [{ name: 'n', maxMissingFraction: 0.2 }] }, 'maxMissingFraction', 'n', '0.25'],
    [{ columns: [{ name: 'n', min: 2 }] }, 'min', 'n', '1'],
    [{ columns: [{ name: 'n', max: 8 }] }, 'max', 'n', '9'],
    // A text value is the data's bytes: neither `observed` nor the message quotes it.
    [{ columns: [{ name: 'c', allowedValues: ['a', 'b'] }] }, 'allowedValues', 'c', undefined],
    [{ columns: [{ name: 'c', min: 0 }] }, 'min', 'c', undefined],
  ])(
    'fails %j naming rule %s, column %s and the value %s',
    async (validation, rule, column, observed) => {
      const f = await failure({ schema: { label: 'y' }, validation }, data);
      expect(f).toMatchObject({ reason: 'ValidationFailed', rule, column });
      expect(f.observed).toBe(observed);
      expect(f.message).toContain(rule);
      if (column) expect(f.message).toContain(`column ${column}`);
      expect(f.message).not.toMatch(/zz|"a"/);
    },
  );

  it('passes rules the data meets', async () => {
    const v = await prepare(
      {
        schema: { label: 'y' },
        validation: {
          minRows: 4,
          maxMissingFraction: 0.25,
          columns: [
            { name: 'n', min: 1, max: 9 },
            { name: 'c', allowedValues: ['a', 'b', 'zz'] },
          ],
        },
      },
      data,
    );
    expect(v.stats.rows).toBe(4);
  });
});

describe('bad data', () => {
  it.each([
    [
      'a missing label column',
      { schema: { label: 'nope' } },
      'x,y\n1,2\n',
      'spec.schema.label names column nope',
    ],
    [
      'an unknown selected column',
      { schema: { label: 'y' }, preparation: { select: ['z'] } },
      'x,y\n1,2\n',
      'spec.preparation.select names column z',
    ],
    [
      'a wrong field count',
      { schema: { label: 'y' } },
      'x,y\n1,2\n3\n',
      'line 3 has 1 fields, the header has 2',
    ],
    [
      'a text in a number column',
      {
        schema: {
          columns: [
            { name: 'x', type: 'number' as const },
            { name: 'y', type: 'categorical' as const },
          ],
          label: 'y',
        },
      },
      'x,y\n1,a\nten,b\n',
      'column x: a value in row 2 is not a number',
    ],
    [
      'a duplicate header',
      { schema: { label: 'y' } },
      'x,x,y\n1,2,3\n',
      'columns 1 and 2 of the header have the same name',
    ],
    ['no rows', { schema: { label: 'y' } }, 'x,y\n', 'no rows'],
    ['an unclosed quote', { schema: { label: 'y' } }, 'x,y\n"1,2\n', 'not closed'],
    [
      'no header and no columns',
      { schema: { label: 'y' }, csv: { header: false } },
      '1,2\n',
      'spec.schema.columns must name',
    ],
    [
      'another header in a later part',
      { schema: { label: 'y' } },
      ['x,y\n1,a\n', 'y,x\na,1\n'],
      'every object under the prefix',
    ],
    [
      'an all-missing label',
      { schema: { label: 'y' } },
      'x,y\n1,\n2,NA\n',
      'column y has no value',
    ],
  ])('reports %s as InvalidData', async (_, spec, text, message) => {
    const texts = Array.isArray(text) ? text : [text];
    const f = await failure(spec as Parameters<typeof prepare>[0], ...texts);
    expect(f.reason).toBe('InvalidData');
    expect(f.message).toContain(message);
  });

  it('reports a JSON Lines line that is not an object', async () => {
    const f = await failure({ format: 'jsonl', schema: { label: 'y' } }, '{"y":1}\n[1,2]\n');
    expect(f).toMatchObject({ reason: 'InvalidData' });
    expect(f.message).toContain('line 2 is not a JSON object');
  });
});

describe('no failure quotes the data', () => {
  // What a source at an internal address could answer: none of it may reach a status.
  const secret = 'tok3n-s3cr3t';
  const typed = {
    columns: [
      { name: 'x', type: 'number' as const },
      { name: 'y', type: 'categorical' as const },
    ],
    label: 'y',
  };
  it.each([
    ['a text in a number column', { schema: typed }, [`x,y\n1,a\n${secret},b\n`]],
    [
      'a value outside allowedValues',
      { schema: { label: 'y' }, validation: { columns: [{ name: 'c', allowedValues: ['a'] }] } },
      [`c,y\na,p\n${secret},q\n`],
    ],
    [
      'a text under a min rule',
      { schema: { label: 'y' }, validation: { columns: [{ name: 'c', min: 0 }] } },
      [`c,y\n1,p\n${secret},q\n`],
    ],
    ['a label the header lacks', { schema: { label: 'y' } }, [`${secret},z\n1,2\n`]],
    ['a duplicate header', { schema: { label: 'y' } }, [`${secret},${secret},y\n1,2,3\n`]],
    [
      'another header in a later part',
      { schema: { label: 'y' } },
      ['x,y\n1,a\n', `${secret},y\n1,a\n`],
    ],
    ['text after a closing quote', { schema: { label: 'y' } }, [`x,y\n"1"${secret},a\n`]],
    [
      'a line that is not JSON',
      { schema: { label: 'y' }, format: 'jsonl' as const },
      [`{"y":1}\n{"y": ${secret}}\n`],
    ],
  ])('%s', async (_, spec, texts) => {
    const f = await failure(spec, ...texts);
    expect(f.message).not.toContain(secret);
    expect(f.message).not.toContain('s3cr3t');
    expect(f.observed ?? '').not.toContain('s3cr3t');
  });
});
