/**
 * The feedback source end to end: feedback files written to the local cluster's MinIO in the
 * inference server's format (the contract's schemas, `feedbackFileKey`), ingested by the
 * program as a child process into a dataset version whose rows are checked.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DatasetStatsSchema } from '../../contract/dataset-stats.js';
import {
  type FeedbackLabels,
  FeedbackLabelsSchema,
  type SampledRequest,
  SampledRequestSchema,
} from '../../contract/feedback-log.js';
import { sha256Digest, verifyArtifact } from '../../contract/manifest.js';
import { ObjectStore } from '../../contract/object-store.js';
import {
  datasetVersionPrefix,
  type FeedbackKind,
  feedbackFileKey,
  feedbackPrefix,
  s3Uri,
} from '../../contract/object-store-layout.js';
import {
  encodeLabel,
  PreparedSchemaSchema,
  preparedLine,
  prepareTestRawRecord,
} from '../../contract/prepared-data.js';
import { clusterInfo, repoRoot } from '../../e2e/cluster/testenv.js';
import type { DatasetInput } from '../../operator/src/api/dataset.js';
import { runIngestProgram } from './child-process.js';

type Flower = {
  sepal_length: number;
  sepal_width: number;
  petal_length: number;
  petal_width: number;
};

async function irisRows(): Promise<{ record: Flower; species: string }[]> {
  const text = await readFile(path.join(repoRoot, 'examples/data/iris.csv'), 'utf8');
  return text
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => {
      const [a, b, c, d, species] = line.split(',');
      return {
        record: { sepal_length: +a!, sepal_width: +b!, petal_length: +c!, petal_width: +d! },
        species: species!,
      };
    });
}

describe('a Dataset with spec.source.feedback', () => {
  const { minio } = clusterInfo();
  const store = new ObjectStore(minio);
  const namespace = `itest-fb-${randomBytes(3).toString('hex')}`;

  afterAll(async () => {
    await store.removePrefix(minio.bucket, `feedback/${namespace}/`);
    await store.removePrefix(minio.bucket, `datasets/${namespace}/`);
  });

  /** Writes one JSON Lines file as an inference server replica names and fills it. */
  async function put(
    service: string,
    kind: FeedbackKind,
    time: Date,
    writer: string,
    seq: number,
    lines: object[],
  ) {
    const key = feedbackFileKey(feedbackPrefix(namespace, service), kind, time, writer, seq);
    await store.write(minio.bucket, key, lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
  }

  function sampled(requestId: string, records: (Flower | null)[], time: Date): SampledRequest {
    return SampledRequestSchema.parse({
      requestId,
      time: time.toISOString(),
      model: 'iris',
      modelVersion: '1',
      protocol: 'v1',
      records,
      features: records.map(() => [0, 0, 0, 0]),
      predictions: records.map(() => ({ label: 'setosa', probabilities: [1, 0, 0] })),
    } satisfies SampledRequest);
  }

  function labelled(
    requestId: string,
    labels: string[],
    time: Date,
    records: Flower[] | null,
  ): FeedbackLabels {
    return FeedbackLabelsSchema.parse({
      requestId,
      time: time.toISOString(),
      model: 'iris',
      modelVersion: '1',
      labels,
      records,
      features: records ? records.map(() => [0, 0, 0, 0]) : null,
      predictions: records
        ? records.map(() => ({ label: 'setosa', probabilities: [1, 0, 0] }))
        : null,
    } satisfies FeedbackLabels);
  }

  const spec = (service: string, since?: string): DatasetInput['spec'] => ({
    source: { feedback: { inferenceServiceRef: { name: service }, ...(since ? { since } : {}) } },
    schema: { label: 'species' },
    split: { testFraction: 0.2, seed: 7 },
  });

  it('joins the labels with the sampled requests into a version of the labelled rows', async () => {
    // The 150 flowers as 75 requests of two rows, served by two replicas an hour ago. Labels
    // came to a third replica: every fifth request's label carries its records (the replica
    // that served it took the label), the others must be joined with requests/. Requests
    // 70-74 were not sampled; request 69's second row was sent prepared.
    const flowers = await irisRows();
    const start = new Date(Date.now() - 3600_000);
    const at = (seconds: number) => new Date(start.getTime() + seconds * 1000);
    const ids = flowers.slice(0, 75).map(() => randomUUID());
    const requests = ids.map((id, i) =>
      sampled(id, [flowers[2 * i]!.record, i === 69 ? null : flowers[2 * i + 1]!.record], at(i)),
    );
    const sampledRequests = requests.slice(0, 70);
    await put(
      'iris',
      'requests',
      at(0),
      'iris-7d9f-a',
      0,
      sampledRequests.filter((_, i) => i % 2 === 0),
    );
    await put(
      'iris',
      'requests',
      at(1),
      'iris-7d9f-b',
      0,
      sampledRequests.filter((_, i) => i % 2 === 1),
    );
    const labels = ids.map((id, i) =>
      labelled(
        id,
        [flowers[2 * i]!.species, flowers[2 * i + 1]!.species],
        at(100 + i),
        i % 5 === 0 ? [flowers[2 * i]!.record, flowers[2 * i + 1]!.record] : null,
      ),
    );
    await put('iris', 'labels', at(100), 'iris-7d9f-c', 0, labels.slice(0, 40));
    await put('iris', 'labels', at(140), 'iris-7d9f-c', 1, labels.slice(40));

    // Expected: every row of a labelled request with records, less the unsampled ones (70-74,
    // of which 70 carried its records) and the prepared row of request 69.
    const expected = new Map<string, number>();
    for (let i = 0; i < 75; i++) {
      if (i >= 70 && i % 5 !== 0) continue;
      for (const r of [2 * i, 2 * i + 1]) {
        if (i === 69 && r === 2 * i + 1) continue;
        const key = JSON.stringify({ ...flowers[r]!.record, species: flowers[r]!.species });
        expected.set(key, (expected.get(key) ?? 0) + 1);
      }
    }
    const expectedRows = [...expected.values()].reduce((a, b) => a + b, 0);
    expect(expectedRows).toBe(150 - 8 - 1);

    const run = await runIngestProgram(spec('iris'), {
      store: minio,
      namespace,
      name: 'iris-feedback',
    });
    if (run.result.outcome !== 'succeeded') {
      throw new Error(`ingestion failed: ${JSON.stringify(run.result)}\n${run.output}`);
    }
    expect(run.code).toBe(0);
    expect(run.result).toMatchObject({ rows: expectedRows, reused: false });
    // The log counts what was skipped and why.
    const joined = run.output.split('\n').find((l) => l.includes('Joined the feedback'));
    expect(JSON.parse(joined!)).toMatchObject({
      labels: 75,
      rows: expectedRows,
      rowsFromLabels: 30,
      notSampled: 8,
      preparedOnly: 1,
      mismatched: 0,
    });

    // The version: six files, verified against its manifest.
    const prefix = datasetVersionPrefix(namespace, 'iris-feedback', run.result.version);
    const manifest = await store.read(minio.bucket, `${prefix}manifest.json`);
    const verified = await verifyArtifact(store, {
      uri: s3Uri(minio.bucket, prefix),
      digest: sha256Digest(manifest),
    });
    expect(verified).toMatchObject({ verified: true, files: 6 });
    const schema = PreparedSchemaSchema.parse(
      JSON.parse((await store.read(minio.bucket, `${prefix}schema.json`)).toString()),
    );
    expect(schema.task).toBe('classification');
    expect(schema.inputs.map((i) => i.name).sort()).toEqual([
      'petal_length',
      'petal_width',
      'sepal_length',
      'sepal_width',
    ]);
    const stats = DatasetStatsSchema.parse(
      JSON.parse((await store.read(minio.bucket, `${prefix}stats.json`)).toString()),
    );
    const perClass: Record<string, number> = {};
    for (const [key, n] of expected) {
      const { species } = JSON.parse(key) as { species: string };
      perClass[species] = (perClass[species] ?? 0) + n;
    }
    expect(stats.labels).toEqual(perClass);
    expect(stats.sourceRows).toBe(expectedRows);

    // The raw test split: labelled rows exactly as served, and test.csv line for line.
    const raw = (await store.read(minio.bucket, `${prefix}test.raw.jsonl`))
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const testCsv = (await store.read(minio.bucket, `${prefix}test.csv`))
      .toString()
      .trim()
      .split('\n');
    expect(raw).toHaveLength(stats.testRows);
    for (const [i, row] of raw.entries()) {
      const { species, ...record } = row;
      const key = JSON.stringify({ ...(record as Flower), species });
      expect(expected.has(key), `${key} is not a labelled row`).toBe(true);
      expect(preparedLine(prepareTestRawRecord(schema, row), encodeLabel(schema, species))).toBe(
        testCsv[i + 1],
      );
    }

    // The same feedback again: the same version, reused.
    const again = await runIngestProgram(spec('iris'), {
      store: minio,
      namespace,
      name: 'iris-feedback',
    });
    expect(again.result).toMatchObject({
      outcome: 'succeeded',
      version: run.result.version,
      reused: true,
    });
  });

  it('reads only the labels of the window', async () => {
    const flowers = await irisRows();
    const now = Date.now();
    const old = new Date(now - 3 * 3600_000);
    const recent = new Date(now - 10 * 60_000);
    const rows = (from: number, to: number) => flowers.slice(from, to);
    const line = (f: { record: Flower; species: string }, time: Date) =>
      labelled(randomUUID(), [f.species], time, [f.record]);
    await put(
      'windowed',
      'labels',
      old,
      'pod-a',
      0,
      rows(0, 150)
        .filter((_, i) => i % 2 === 0)
        .map((f) => line(f, old)),
    );
    await put(
      'windowed',
      'labels',
      recent,
      'pod-a',
      1,
      rows(0, 150)
        .filter((_, i) => i % 2 === 1)
        .map((f) => line(f, recent)),
    );
    const all = await runIngestProgram(spec('windowed'), { store: minio, namespace });
    expect(all.result).toMatchObject({ outcome: 'succeeded', rows: 150 });
    const lastHour = await runIngestProgram(spec('windowed', '1h'), { store: minio, namespace });
    expect(lastHour.result).toMatchObject({ outcome: 'succeeded', rows: 75 });
  });

  it('is SourceNotFound while the InferenceService has no labelled feedback', async () => {
    await put('unlabelled', 'requests', new Date(), 'pod-a', 0, [
      sampled(randomUUID(), [(await irisRows())[0]!.record], new Date()),
    ]);
    const run = await runIngestProgram(spec('unlabelled'), {
      store: minio,
      namespace,
      name: 'unlabelled',
    });
    expect(run.result).toMatchObject({ outcome: 'failed', reason: 'SourceNotFound' });
    expect(run.result.outcome === 'failed' && run.result.message).toContain(
      `InferenceService ${namespace}/unlabelled has no labelled feedback`,
    );
    expect(run.code).toBe(1);
    expect(await store.list(minio.bucket, `datasets/${namespace}/unlabelled/`)).toEqual([]);
  });
});
