/**
 * One chaos run on the local cluster: N Lathe objects (`workload.ts`) created while the faults
 * of a seeded plan (`plan.ts`) are injected at their moments (`faults.ts`) into two operator
 * replicas under leader election (`replicas.ts`), the API server, MinIO and the node; then a
 * wait until every object is Current, and the verdict (`verdict.ts`, `store-checks.ts`): no
 * duplicate, no loss, the operator's RSS under its limit. The benchmark (`bench/chaos.ts`, 1,000
 * objects) and the cluster test (`chaos.itest.ts`, ~50) are the same run at two sizes.
 *
 * Builds on the failover tests at 200 objects (`e2e/operator/operator.itest.ts`, the restart
 * test of `bench/operator.ts`): the same operator processes, the same exactly-once evidence
 * (one `ArtifactVerified` event at most), now across four kinds with pods and all faults at once.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { manifestFor } from '../../contract/manifest.js';
import { ObjectStore } from '../../contract/object-store.js';
import { latheKinds } from '../../operator/src/controllers/lathe-kinds.js';
import { kinds } from '../../operator/src/runtime/builtin-kinds.js';
import { HttpKubeClient, isAlreadyExists } from '../../operator/src/runtime/kube-client.js';
import type { KubeObject } from '../../operator/src/runtime/resource.js';
import { clusterInfo, createTestNamespace, kubeConfig, stateDir } from '../cluster/testenv.js';
import { type FaultContext, injectFault } from './faults.js';
import { type FaultKind, type PlannedFault, planFaults } from './plan.js';
import { OperatorReplicas } from './replicas.js';
import { RssSampler } from './rss.js';
import { checkDataVersions, lostArtifacts } from './store-checks.js';
import { judge, notConverged, type ObservedObject, type Verdict } from './verdict.js';
import {
  CHAOS_RUN_LABEL,
  type ChaosObject,
  chaosWorkload,
  FIXTURE_MODEL,
  type WorkloadMix,
  workloadMix,
} from './workload.js';

export interface ChaosOptions {
  count: number;
  seed: number;
  /** Faults are drawn within this long after the first create. */
  windowMs: number;
  /** Creates are paced over this long (default half the window), so faults meet every stage. */
  createOverMs?: number;
  faultCounts?: Partial<Record<FaultKind, number>>;
  objectStoreDowntimeMs?: number;
  apiServerDowntimeMs?: number;
  convergeTimeoutMs: number;
  replicas?: number;
  workers?: number;
  entry: 'dist' | 'source';
  nodeFlags?: readonly string[];
  /** The operator's memory limit (the chart's `resources.limits.memory`). */
  memoryLimitBytes: number;
  log: (line: string) => void;
}

export interface TimelineEntry {
  atMs: number;
  line: string;
}

export interface ChaosReport {
  seed: number;
  namespace: string;
  mix: WorkloadMix;
  plan: PlannedFault[];
  timeline: TimelineEntry[];
  /** From the first create: the last create, the end of the last fault, every object Current. */
  createdMs: number;
  faultsOverMs: number;
  convergedMs: number | undefined;
  peakRssBytes: number;
  memoryLimitBytes: number;
  rssSamples: number;
  replicaExits: number;
  notConverged: ReturnType<typeof notConverged>;
  verdict: Verdict;
  partialDataVersions: number;
}

const group = 'lathe.dev';
const resources = [
  latheKinds.dataset,
  latheKinds.trainingJob,
  latheKinds.modelVersion,
  latheKinds.inferenceService,
].map((k) => k.resource);
const resourceOf = (kind: string) => resources.find((r) => r.kind === kind)!;
const CREATE_CONCURRENCY = 8;

/** Runs the chaos once; the namespace is left for the caller to inspect and delete. */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const { minio } = clusterInfo();
  const store = new ObjectStore(minio);
  const client = new HttpKubeClient(kubeConfig());
  const namespace = await createTestNamespace('chaos');
  const started = { at: 0 };
  const timeline: TimelineEntry[] = [];
  const note = (line: string) => {
    const atMs = started.at ? Date.now() - started.at : 0;
    timeline.push({ atMs, line });
    options.log(`[${(atMs / 1000).toFixed(1).padStart(6)} s] ${line}`);
  };

  const prefix = `models/${namespace}/${FIXTURE_MODEL}/shared/`;
  const files = {
    'model.json': Buffer.from('{"modelTopology":{}}'),
    'weights.bin': Buffer.alloc(4096, 3),
  };
  const { manifest, digest } = manifestFor(files);
  for (const [file, bytes] of Object.entries(files))
    await store.write(minio.bucket, `${prefix}${file}`, bytes);
  await store.write(minio.bucket, `${prefix}manifest.json`, manifest);
  const objects = chaosWorkload({
    namespace,
    count: options.count,
    seed: options.seed,
    fixtureArtifact: { uri: `s3://${minio.bucket}/${prefix}`, digest },
  });
  const plan = planFaults({
    seed: options.seed,
    windowMs: options.windowMs,
    counts: options.faultCounts,
  });

  const logDir = path.join(stateDir, 'logs', namespace);
  await mkdir(logDir, { recursive: true });
  const replicas = new OperatorReplicas({
    namespace,
    replicas: options.replicas ?? 2,
    entry: options.entry,
    workers: options.workers ?? 4,
    nodeFlags: options.nodeFlags ?? [],
    logDir,
    onEvent: note,
  });
  await replicas.start();
  const rss = new RssSampler(() => replicas.pids());
  options.log(`Namespace ${namespace}; operator logs in ${logDir}`);
  try {
    started.at = Date.now();
    const context: FaultContext = {
      namespace,
      replicas,
      objectStoreDowntimeMs: options.objectStoreDowntimeMs ?? 30_000,
      apiServerDowntimeMs: options.apiServerDowntimeMs ?? 2_000,
    };
    const faults = (async () => {
      for (const fault of plan) {
        const wait = started.at + fault.atMs - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        note(`${fault.kind} (planned at ${(fault.atMs / 1000).toFixed(1)} s)`);
        note(`${fault.kind}: ${await injectFault(fault.kind, context)}`);
      }
      return Date.now() - started.at;
    })();
    const createOverMs = options.createOverMs ?? options.windowMs / 2;
    const creates = createPaced(client, objects, started.at, createOverMs).then(() => {
      note(`all ${objects.length} objects created`);
      return Date.now() - started.at;
    });
    const [createdMs, faultsOverMs] = await Promise.all([creates, faults]);

    const deadline = Date.now() + options.convergeTimeoutMs;
    let pending = await observe(client, namespace, options.seed);
    for (let lastReport = 0; ; ) {
      const waiting = notConverged(pending);
      if (waiting.length === 0 || Date.now() > deadline) break;
      if (Date.now() - lastReport > 30_000) {
        lastReport = Date.now();
        note(
          `${waiting.length} objects not Current yet, e.g. ${waiting[0]!.object}: ${waiting[0]!.reason}`,
        );
      }
      await new Promise((r) => setTimeout(r, 2_000));
      pending = await observe(client, namespace, options.seed).catch(() => pending);
    }
    const waiting = notConverged(pending);
    const convergedMs = waiting.length === 0 ? Date.now() - started.at : undefined;
    note(
      convergedMs === undefined
        ? `${waiting.length} objects did not converge`
        : 'every object Current',
    );

    const all = (await client.list(latheKinds.modelVersion.resource, { namespace }))
      .items as ObservedObject[];
    const jobs = (await client.list(kinds.job.resource, { namespace })).items;
    const datasets = pending.filter((o) => o.kind === 'Dataset');
    const data = await checkDataVersions(store, minio.bucket, namespace, datasets);
    const lost = [...(await lostArtifacts(store, all)), ...data.lost];
    const verdict = judge({
      objects: pending,
      jobs: jobs as Parameters<typeof judge>[0]['jobs'],
      modelVersions: all,
      dataVersions: data.versions,
      verifiedEvents: await verifiedEvents(namespace),
      lostWrites: lost,
    });
    return {
      seed: options.seed,
      namespace,
      mix: workloadMix(options.count),
      plan,
      timeline,
      createdMs,
      faultsOverMs,
      convergedMs,
      peakRssBytes: rss.peakBytes,
      memoryLimitBytes: options.memoryLimitBytes,
      rssSamples: rss.samples,
      replicaExits: replicas.exits,
      notConverged: waiting,
      verdict,
      partialDataVersions: data.partial,
    };
  } finally {
    rss.stop();
    await replicas.stop();
  }
}

/** Creates `objects` in order, object i not before `startedAt + i/n · overMs`, retrying through faults. */
async function createPaced(
  client: HttpKubeClient,
  objects: readonly ChaosObject[],
  startedAt: number,
  overMs: number,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < objects.length) {
      const i = next++;
      const wait = startedAt + (i / objects.length) * overMs - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const object = objects[i]!;
      for (let attempt = 0; ; attempt++) {
        try {
          await client.create(resourceOf(object.kind), object as unknown as KubeObject);
          break;
        } catch (error) {
          // Created by an earlier attempt whose answer was lost: done.
          if (isAlreadyExists(error)) break;
          if (attempt > 300) throw error;
          await new Promise((r) => setTimeout(r, 1_000));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: CREATE_CONCURRENCY }, worker));
}

/** Every object of the run, as listed now. */
async function observe(
  client: HttpKubeClient,
  namespace: string,
  seed: number,
): Promise<ObservedObject[]> {
  const labelSelector = `${CHAOS_RUN_LABEL}=${seed}`;
  const lists = await Promise.all(
    resources.map((resource) => client.list(resource, { namespace, labelSelector })),
  );
  return lists.flatMap((list, i) =>
    list.items.map((o) => ({ ...o, kind: resources[i]!.kind }) as ObservedObject),
  );
}

/** `ArtifactVerified` events by ModelVersion name (a series counts each occurrence). */
async function verifiedEvents(namespace: string): Promise<Map<string, number>> {
  const events = await kubeConfig()
    .makeApiClient(k8s.EventsV1Api)
    .listNamespacedEvent({ namespace });
  const verified = new Map<string, number>();
  for (const event of events.items.filter(
    (e) => e.reason === 'ArtifactVerified' && e.regarding?.apiVersion?.startsWith(group),
  )) {
    const name = event.regarding?.name ?? '';
    verified.set(name, (verified.get(name) ?? 0) + (event.series?.count ?? 1));
  }
  return verified;
}
