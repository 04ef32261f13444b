/**
 * A source far larger than the program's memory is ingested: the program runs with
 * `--max-old-space-size=64` (64 MiB of JavaScript heap) on a generated CSV of about 220 MB
 * streamed over HTTP, which it could not hold even once, and its peak resident memory (heap,
 * code, buffers and all) stays below the size of the data.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { ObjectStore } from '../../contract/object-store.js';
import { clusterInfo } from '../../e2e/cluster/testenv.js';
import { runIngestProgram } from './child-process.js';
import { generatedCsv } from './generated-data.js';

const ROWS = 3_000_000;
const HEAP_MIB = 64;

describe('a source larger than memory', () => {
  const { minio } = clusterInfo();
  let bytes = 0;
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/csv' });
    bytes = 0;
    const body = Readable.from(generatedCsv(ROWS, 7));
    body.on('data', (chunk: string) => {
      bytes += Buffer.byteLength(chunk);
    });
    body.pipe(res);
  });
  afterAll(async () => {
    server.close();
    await new ObjectStore(minio).removePrefix(minio.bucket, 'datasets/itest-large/');
  });

  it(`is ingested by a program with a ${HEAP_MIB} MiB heap`, { timeout: 600_000 }, async () => {
    // Not loopback, which the program refuses: the host's address on the cluster's link.
    const host = clusterInfo().hostAddress;
    await new Promise<void>((r) => server.listen(0, host, r));
    const url = `http://${host}:${(server.address() as AddressInfo).port}/big.csv`;
    const run = await runIngestProgram(
      { source: { http: { url } }, schema: { label: 'label' } },
      { store: minio, namespace: 'itest-large', nodeArgs: [`--max-old-space-size=${HEAP_MIB}`] },
    );
    if (run.result.outcome !== 'succeeded')
      throw new Error(`${JSON.stringify(run.result)}\n${run.output}`);
    expect(run.result).toMatchObject({ rows: ROWS, trainRows: ROWS * 0.8, testRows: ROWS * 0.2 });
    expect(bytes).toBeGreaterThan(3 * HEAP_MIB * 1024 * 1024);
    // Resident memory (heap, code, buffers) stays below the size of the data.
    expect(run.peakRssBytes).toBeLessThan(bytes);
    console.log(
      `ingested ${(bytes / 1e6).toFixed(0)} MB, ${ROWS} rows in ${run.seconds.toFixed(1)} s; peak RSS ${(run.peakRssBytes! / 2 ** 20).toFixed(0)} MiB`,
    );
  });
});
