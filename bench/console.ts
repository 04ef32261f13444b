/**
 * Console benchmark: how long the web console takes to answer each kind of page with 1,000
 * Lathe objects in its caches (issue 25: p95 ≤ 200 ms from cache).
 *
 *   npm run bench:console [-- --objects 1000 --namespaces 4 --requests 60 --concurrency 4]
 *
 * The fleet (`console-fleet.ts`: models with their Dataset, runs, versions, service and policy,
 * spread over `--namespaces` fresh namespaces) is created in the local cluster's API server
 * and each status written through the status subresource; the operator does not run. The
 * console (`console/main.ts`, a child process as it runs in its pod) starts, syncs its caches
 * (`/readyz`), and a viewer signs in with a ServiceAccount token that may read every bench
 * namespace (so each request pays the token and access reviews, cached, as a real one does).
 * Each page type is requested `--requests` times one after the other, then `--requests` times
 * `--concurrency` at a time, after a few untimed warm-up requests; the time is from sending
 * the request to the last byte of the body. Printed: p50/p95/p99/max in ms per page and mode,
 * the console's own render time (p50/p95, from its `Server-Timing` header: access review,
 * gathering and rendering, without the network and the client), the body size, and the load
 * average, which says how much of the time was other work on a shared machine. Exits 1 if a page answered anything but 200 or its p95 (sequential) is over
 * the target. The namespaces are deleted at the end.
 */
import { loadavg } from 'node:os';
import { isHealthy, up } from '../e2e/cluster/cluster.js';
import {
  createTestNamespace,
  deleteTestNamespace,
  installCrds,
  kubeConfig,
} from '../e2e/cluster/testenv.js';
import {
  type ConsoleProgram,
  createWithStatus,
  startConsoleProgram,
  stopConsoleProgram,
  viewerToken,
} from '../e2e/testing/console-program.js';
import { HttpKubeClient } from '../operator/src/runtime/kube-client.js';
import { consoleFleet, type FleetObject } from './console-fleet.js';
import { percentile } from './stats.js';

const TARGET_P95_MS = 200;

function flag(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`--${name} must be a positive integer, not ${process.argv[at + 1]}`);
  return value;
}

/** One timed GET: milliseconds to the last byte, status and body length. */
async function timedGet(url: string, token: string) {
  const started = performance.now();
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const body = await response.text();
  const render = /render;dur=([\d.]+)/.exec(response.headers.get('server-timing') ?? '')?.[1];
  return {
    ms: performance.now() - started,
    renderMs: Number(render ?? Number.NaN),
    status: response.status,
    bytes: body.length,
    body,
  };
}

interface PageTiming {
  page: string;
  mode: string;
  ms: number[];
  /** The console's own render time (its Server-Timing header). */
  renderMs: number[];
  bytes: number;
  statuses: Set<number>;
}

/** Requests `paths` (one page type) `requests` times, `concurrency` at a time. */
async function timePage(
  base: string,
  token: string,
  page: string,
  paths: readonly string[],
  requests: number,
  concurrency: number,
): Promise<PageTiming> {
  for (const path of paths.slice(0, 3)) await timedGet(`${base}${path}`, token);
  const timing: PageTiming = {
    page,
    mode: concurrency === 1 ? 'sequential' : `${concurrency} at a time`,
    ms: [],
    renderMs: [],
    bytes: 0,
    statuses: new Set(),
  };
  let next = 0;
  const worker = async () => {
    while (next < requests) {
      const path = paths[next++ % paths.length]!;
      const { ms, renderMs, status, bytes } = await timedGet(`${base}${path}`, token);
      timing.ms.push(ms);
      timing.renderMs.push(renderMs);
      timing.statuses.add(status);
      timing.bytes = Math.max(timing.bytes, bytes);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  timing.ms.sort((a, b) => a - b);
  timing.renderMs.sort((a, b) => a - b);
  return timing;
}

/** The URLs of each page type, for objects spread over the fleet. */
function pagePaths(fleet: FleetObject[]): Record<string, string[]> {
  const pick = (kind: FleetObject['kind'], count = 10) => {
    const all = fleet.filter((o) => o.kind === kind);
    const step = Math.max(1, Math.floor(all.length / count));
    return all.filter((_, i) => i % step === 0).slice(0, count);
  };
  const ns = (o: FleetObject) => o.object.metadata?.namespace ?? '';
  const name = (o: FleetObject) => o.object.metadata?.name ?? '';
  const services = pick('inferenceService');
  const namespaces = [...new Set(fleet.map(ns))];
  return {
    home: ['/'],
    'home (one namespace)': namespaces.map((n) => `/?namespace=${n}`),
    lineage: services.map((o) => `/lineage?namespace=${ns(o)}&model=${name(o)}`),
    'decision log': ['/decisions', ...namespaces.map((n) => `/decisions?namespace=${n}`)],
    'model comparison': services.map((o) => `/models/${ns(o)}/${name(o)}`),
    training: pick('trainingJob').map((o) => `/training/${ns(o)}/${name(o)}`),
    serving: services.map((o) => `/serving/${ns(o)}/${name(o)}`),
    'object (ModelVersion)': pick('modelVersion').map(
      (o) => `/objects/modelversions/${ns(o)}/${name(o)}`,
    ),
  };
}

const fmt = (ms: number) => ms.toFixed(1).padStart(7);

async function main(): Promise<void> {
  const objects = flag('objects', 1000);
  const namespaceCount = flag('namespaces', 4);
  const requests = flag('requests', 60);
  const concurrency = flag('concurrency', 4);
  if (!(await isHealthy())) await up();
  await installCrds();
  const client = new HttpKubeClient(kubeConfig());
  const namespaces: string[] = [];
  let program: ConsoleProgram | undefined;
  try {
    for (let i = 0; i < namespaceCount; i++)
      namespaces.push(await createTestNamespace('console-bench'));
    const fleet = consoleFleet(objects, namespaces, new Date());
    let started = performance.now();
    await createWithStatus(client, fleet);
    console.log(
      `Created ${fleet.length} objects in ${namespaces.length} namespaces (${namespaces.join(', ')}) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    const token = await viewerToken(namespaces[0]!, 'bench-viewer', namespaces);
    started = performance.now();
    program = await startConsoleProgram();
    console.log(
      `Console started and synced in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    const home = await timedGet(`${program.base}/`, token);
    const missing = namespaces.filter((n) => !home.body.includes(n));
    if (home.status !== 200 || missing.length)
      throw new Error(
        `the home page (HTTP ${home.status}) does not show namespaces ${missing.join(', ')}`,
      );

    const timings: PageTiming[] = [];
    for (const [page, paths] of Object.entries(pagePaths(fleet))) {
      timings.push(await timePage(program.base, token, page, paths, requests, 1));
      timings.push(await timePage(program.base, token, page, paths, requests, concurrency));
    }

    const load = loadavg().map((l) => l.toFixed(2));
    console.log(
      `\n${objects} objects, ${requests} requests per row; load average ${load.join(' ')} (1, 5, 15 min)`,
    );
    console.log(
      `${'page'.padEnd(24)}${'mode'.padEnd(14)}    p50     p95     p99     max  render p50/p95 (ms)  body  status`,
    );
    const failures: string[] = [];
    for (const t of timings) {
      const p95 = percentile(t.ms, 95);
      console.log(
        `${t.page.padEnd(24)}${t.mode.padEnd(14)}${fmt(percentile(t.ms, 50))} ${fmt(p95)} ${fmt(percentile(t.ms, 99))} ${fmt(t.ms.at(-1)!)}  ${fmt(percentile(t.renderMs, 50))} ${fmt(percentile(t.renderMs, 95))}       ${String(Math.round(t.bytes / 1024)).padStart(5)} KiB  ${[...t.statuses].join(',')}`,
      );
      if ([...t.statuses].some((s) => s !== 200))
        failures.push(`${t.page} answered ${[...t.statuses].join(', ')}`);
      if (t.mode === 'sequential' && p95 > TARGET_P95_MS)
        failures.push(`${t.page}: p95 ${p95.toFixed(0)} ms > ${TARGET_P95_MS} ms`);
    }
    if (failures.length) {
      console.log(`\nMissed: ${failures.join('; ')}`);
      process.exitCode = 1;
    } else console.log(`\nEvery page: p95 ≤ ${TARGET_P95_MS} ms (sequential).`);
  } finally {
    await stopConsoleProgram(program);
    await Promise.all(namespaces.map(deleteTestNamespace));
  }
}

main().catch((error: Error) => {
  console.error(error.stack ?? error.message);
  process.exit(1);
});
