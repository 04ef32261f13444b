/**
 * The local cluster's life cycle: `up` brings a fresh cluster up in the background and returns
 * once every part is healthy; `down` stops it and leaves no process, network namespace, link
 * or route behind.
 *
 * `up` always starts clean: it first stops whatever an earlier (perhaps crashed) run left in
 * the pid ledger and removes the network it recorded, then builds the network (node namespace,
 * link, bridge: `network.ts`), makes a new PKI and new data directories, picks free ports, and
 * starts etcd → kube-apiserver, MinIO and the host forwarder → controller manager, scheduler,
 * CoreDNS, kube-proxy and the process node.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import * as Minio from 'minio';
import pg from 'pg';
import { objectStoreDefaults } from '../../contract/object-store.js';
import {
  type NodeKind,
  nodeKindOf,
  realNodeSpec,
  registryAddressOf,
  registrySpec,
} from '../kubelet/config.js';
import { prepareRealNodeHost, tearDownRealNodeHost } from '../kubelet/host.js';
import { defaultCapacity } from '../node/config.js';
import {
  apiServerSpec,
  type ClusterLayout,
  type ComponentSpec,
  controllerManagerSpec,
  corednsSpec,
  etcdSpec,
  hostForwarderSpec,
  kubeProxySpec,
  minioSpec,
  nodeNamespaceApiServerUrl,
  POSTGRES_ADMIN_USER,
  postgresInitCommand,
  postgresSpec,
  processNodeSpec,
  schedulerSpec,
} from './components.js';
import { probeUrl, waitUntilHealthy } from './health.js';
import { exposedHostServices, networkObjectsOf, objectStoreNamespace } from './host-services.js';
import { netnsPath, recordedSlot, setUpNetwork, tearDownNetwork } from './network.js';
import { networkPlanOf } from './network-plan.js';
import { clusterIdentities, generatePki, kubeconfigFor } from './pki.js';
import { freePort } from './ports.js';
import { isAlive, recordedPid, startDetached, stopRecorded } from './processes.js';
import { type ClusterInfo, clusterInfoPath, repoRoot, stateDir } from './testenv.js';

const exec = promisify(execFile);

/** Stop order: the node first (it stops its pods), the control plane last, etcd at the very end. */
const stopOrder = [
  // The optional engines (engines.ts): controllers first, while the API server still answers.
  'trainer-controller',
  'jobset-controller',
  'process-node',
  'kubelet',
  'kube-proxy',
  'coredns',
  'kube-scheduler',
  'kube-controller-manager',
  'postgres',
  'registry',
  'minio',
  'host-forwarder',
  'kube-apiserver',
  'etcd',
];

export { objectStoreNamespace };
export const objectStoreSecretName = 'lathe-object-store';

/** What `.lathe/cluster.json` holds: the tests' `ClusterInfo`, plus what a restart needs. */
type RecordedCluster = ClusterInfo & { layout: ClusterLayout; withNode: boolean };

async function readRecordedCluster(): Promise<RecordedCluster> {
  return JSON.parse(await readFile(clusterInfoPath, 'utf8')) as RecordedCluster;
}

/** How to tell a started component is healthy: its health URL, or for the node, Node Ready. */
function healthCheckOf(
  spec: ComponentSpec,
  context: {
    adminTls: { cert: Buffer; key: Buffer };
    kubeconfigPath: string;
    nodeName: string;
    layout: ClusterLayout;
  },
): () => Promise<boolean> {
  if (spec.name === 'postgres') return () => postgresAnswers(context.layout);
  if (spec.name === 'process-node' || spec.name === 'kubelet') {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(context.kubeconfigPath);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    return () => nodeIsReady(core, context.nodeName);
  }
  if (spec.name === 'kube-proxy') {
    // Its /healthz answers 200 from the start; a first sync sets lastUpdated.
    return async () => {
      const response = await fetch(spec.healthUrl!, { signal: AbortSignal.timeout(2_000) });
      const { lastUpdated } = (await response.json()) as { lastUpdated?: string };
      return response.ok && !!lastUpdated && !lastUpdated.startsWith('0001-');
    };
  }
  const tls = spec.healthNeedsAdminCert ? context.adminTls : {};
  return async () => (await probeUrl(spec.healthUrl!, tls)) === 200;
}

async function readAdminTls(): Promise<{ cert: Buffer; key: Buffer }> {
  const pki = path.join(stateDir, 'pki');
  return {
    cert: await readFile(path.join(pki, 'admin.crt')),
    key: await readFile(path.join(pki, 'admin.key')),
  };
}

/** Recorded components whose process has died. */
async function deadComponents(): Promise<string[]> {
  const dead: string[] = [];
  for (const name of Object.keys(specsByName)) {
    const pid = await recordedPid(stateDir, name);
    if (pid !== undefined && !(await isAlive(pid))) dead.push(name);
  }
  return dead;
}

export interface UpOptions {
  /** Start a node too (default true). */
  node?: boolean;
  /** Which node: the process node or a real kubelet (default: `LATHE_NODE`, else the process node). */
  nodeKind?: NodeKind;
  nodeName?: string;
  nodeCapacity?: Record<string, string>;
  log?: (line: string) => void;
}

/** Runs prepare.sh (host tools + component build, cached) and maps binary name → path. */
export async function prepareComponents(
  log: (line: string) => void,
): Promise<{ binDirs: string[]; binaries: Record<string, string> }> {
  log('Preparing components (built once from Go modules, then cached in ~/.cache/lathe)');
  const { stdout } = await exec('bash', [path.join(repoRoot, 'e2e/cluster/prepare.sh')], {
    maxBuffer: 16 * 1024 * 1024,
  }).catch((error: { stderr?: string; message: string }) => {
    throw new Error(
      `Preparing the cluster's components failed:\n${error.stderr ?? error.message}`,
      { cause: error },
    );
  });
  const binDirs = stdout.trim().split('\n').filter(Boolean);
  const binaries: Record<string, string> = {};
  for (const dir of binDirs) {
    for (const name of await readdir(dir)) binaries[name] = path.join(dir, name);
  }
  return { binDirs, binaries };
}

/** Brings a fresh local cluster up and returns its connection details (also in `.lathe/cluster.json`). */
export async function up(options: UpOptions = {}): Promise<ClusterInfo> {
  const log = options.log ?? ((line: string) => console.error(`[cluster] ${line}`));
  const started = Date.now();
  const { binDirs, binaries } = await prepareComponents(log);

  await mkdir(stateDir, { recursive: true });
  const stale = await stopRecorded(stateDir, stopOrder, 5_000);
  if (stale.length) log(`Stopped processes left by an earlier run: ${stale.join(', ')}`);
  const staleNode = await tearDownRealNode();
  if (staleNode.length) log(`Removed what an earlier real node left: ${staleNode.join(', ')}`);
  for (const dir of [
    'etcd',
    'minio',
    'postgres',
    'pki',
    'logs',
    'node',
    'kube-proxy',
    'coredns',
    'engines',
  ])
    await rm(path.join(stateDir, dir), { recursive: true, force: true });
  await rm(clusterInfoPath, { force: true });
  const { plan: network, stale: staleNetwork } = await setUpNetwork(stateDir);
  if (staleNetwork.length)
    log(`Removed the network an earlier run left: ${staleNetwork.join(', ')}`);
  log(
    `Network slot ${network.slot}: pods ${network.podCidr}, services ${network.serviceCidr}, ` +
      `host ${network.hostAddress}, node ${network.nodeAddress} (netns ${network.nodeNetns})`,
  );

  const nodeName = options.nodeName ?? 'lathe-node';
  const nodeKind = options.nodeKind ?? nodeKindOf(process.env.LATHE_NODE);
  const layout: ClusterLayout = {
    node: nodeKind,
    ...(nodeKind === 'kubelet' ? { pauseTag: await pauseTagOf(binaries) } : {}),
    stateDir,
    repoRoot,
    binaries,
    nodeName,
    network,
    ...(options.nodeCapacity ? { nodeCapacity: JSON.stringify(options.nodeCapacity) } : {}),
    ports: {
      etcdClient: await freePort(),
      etcdPeer: await freePort(),
      apiServer: await freePort(),
      controllerManager: await freePort(),
      scheduler: await freePort(),
      minio: await freePort(),
      minioConsole: await freePort(),
      postgres: await freePort(),
    },
    minio: {
      accessKey: `lathe-${randomBytes(4).toString('hex')}`,
      secretKey: randomBytes(18).toString('base64url'),
    },
    postgres: { host: '127.0.0.1', adminPassword: randomBytes(18).toString('base64url') },
    runsAsRoot: process.getuid?.() === 0,
  };
  const postgresUser = {
    user: 'lathe',
    database: 'lathe',
    password: randomBytes(18).toString('base64url'),
  };
  const apiServerUrl = `https://127.0.0.1:${layout.ports.apiServer}`;

  const pkiDir = path.join(stateDir, 'pki');
  const pki = await generatePki(pkiDir, clusterIdentities(nodeName, network));
  const kubeconfigPath = path.join(stateDir, 'kubeconfig');
  await writeFile(kubeconfigPath, await kubeconfigFor(pki, 'admin', apiServerUrl), { mode: 0o600 });
  // Host-side components use loopback; those in the node namespace use the host forwarder.
  const servers: Record<string, string> = {
    'controller-manager': apiServerUrl,
    scheduler: apiServerUrl,
    node: nodeNamespaceApiServerUrl(layout),
    'kube-proxy': nodeNamespaceApiServerUrl(layout),
    coredns: nodeNamespaceApiServerUrl(layout),
  };
  for (const [identity, server] of Object.entries(servers)) {
    await writeFile(
      path.join(pkiDir, `${identity}.kubeconfig`),
      await kubeconfigFor(pki, identity, server),
      { mode: 0o600 },
    );
  }
  const adminTls = await readAdminTls();
  const hostServices = exposedHostServices(network);
  const minioEndpoint = `http://${hostServices.minio!.address}`;

  const logs: Record<string, string> = {};
  const launch = async (spec: ComponentSpec, timeoutMs: number) => {
    const logPath = path.join(stateDir, 'logs', `${spec.name}.log`);
    logs[spec.name] = logPath;
    const proc = await startComponent(spec, logPath);
    const check = healthCheckOf(spec, { adminTls, kubeconfigPath, nodeName, layout });
    return {
      proc,
      wait: () => waitUntilHealthy({ name: spec.name, pid: proc.pid, logPath }, check, timeoutMs),
    };
  };

  const withNode = options.node !== false;
  try {
    const etcd = await launch(etcdSpec(layout), 30_000);
    await etcd.wait();
    const apiServer = await launch(apiServerSpec(layout), 90_000);
    const minio = await launch(minioSpec(layout), 60_000);
    await initPostgres(layout);
    const postgres = await launch(postgresSpec(layout), 60_000);
    const forwarder = await launch(hostForwarderSpec(layout), 90_000);
    // The node loads for seconds before its first request; it retries registering until the
    // API server answers, so it starts now, in parallel with the API server.
    let node: Awaited<ReturnType<typeof launch>> | undefined;
    let registry: Awaited<ReturnType<typeof launch>> | undefined;
    if (withNode && nodeKind === 'kubelet') {
      registry = await launch(registrySpec(layout), 30_000);
      await prepareRealNodeHost(layout);
      node = await launch(realNodeSpec(layout), 120_000);
    } else if (withNode) {
      node = await launch(processNodeSpec(layout), 90_000);
    }
    await apiServer.wait();
    log(`kube-apiserver ready at ${apiServerUrl}`);
    const controllerManager = await launch(controllerManagerSpec(layout), 60_000);
    const scheduler = await launch(schedulerSpec(layout), 60_000);

    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfigPath);
    await createObjects(kc, networkObjectsOf(network));
    await createNodeObject(kc, layout, withNode);
    const waits = [controllerManager, scheduler, forwarder, minio].map((c) => c.wait());
    waits.push((await launch(corednsSpec(layout), 60_000)).wait());
    waits.push((await launch(kubeProxySpec(layout), 60_000)).wait());
    if (node) waits.push(node.wait());
    if (registry) waits.push(registry.wait());
    await minio.wait();
    await createBucketAndSecret(kc, layout, minioEndpoint);
    await postgres.wait();
    await createPostgresDatabase(layout, postgresUser);
    await Promise.all(waits);
    // End to end: host → node namespace → kube-proxy's DNAT → forwarder → MinIO.
    await waitUntilHealthy(
      { name: 'kube-proxy (MinIO through its ClusterIP)', logPath: logs['kube-proxy']! },
      async () => (await probeUrl(`${minioEndpoint}/minio/health/live`)) === 200,
      30_000,
    );
    if (withNode && nodeKind === 'kubelet') await advertiseExtendedResources(kc, layout, options);
    if (withNode)
      log(`Node ${nodeName} (${nodeKind === 'kubelet' ? 'kubelet' : 'process node'}) is Ready`);
  } catch (error) {
    log('Start-up failed; stopping what was started');
    await stopRecorded(stateDir, stopOrder, 3_000);
    await tearDownRealNode().catch(() => undefined);
    await tearDownNetwork(stateDir).catch(() => undefined);
    throw error;
  }

  const info: RecordedCluster = {
    layout,
    withNode,
    node: nodeKind,
    ...(withNode && nodeKind === 'kubelet' ? { registry: registryAddressOf(network) } : {}),
    kubeconfigPath,
    binDirs,
    apiServerUrl,
    nodeName,
    hostAddress: network.hostAddress,
    network: {
      slot: network.slot,
      podCidr: network.podCidr,
      serviceCidr: network.serviceCidr,
      nodeAddress: network.nodeAddress,
      kubernetesServiceIP: network.kubernetesServiceIP,
      clusterDnsIP: network.clusterDnsIP,
      nodeNetns: network.nodeNetns,
    },
    hostServices,
    minio: {
      endpoint: minioEndpoint,
      accessKey: layout.minio.accessKey,
      secretKey: layout.minio.secretKey,
      ...objectStoreDefaults,
    },
    postgres: {
      // Reached through its Service's ClusterIP, from host processes and pods alike.
      host: hostServices.postgres!.clusterIP,
      port: hostServices.postgres!.port,
      ...postgresUser,
      uri: `postgresql://${postgresUser.user}:${encodeURIComponent(postgresUser.password)}@${hostServices.postgres!.address}/${postgresUser.database}`,
    },
    logs,
  };
  await writeFile(clusterInfoPath, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
  await writeFile(path.join(stateDir, 'minio.env'), minioEnv(info), { mode: 0o600 });
  await writeFile(path.join(stateDir, 'postgres.env'), postgresEnv(info), { mode: 0o600 });
  await writeFile(path.join(stateDir, 'env.sh'), shellEnv(info));
  log(`Cluster up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return info;
}

async function nodeIsReady(core: k8s.CoreV1Api, name: string): Promise<boolean> {
  const node = await core.readNode({ name }).catch(() => undefined);
  return node?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** Writes the component's files, then starts it (see `startDetached`). */
async function startComponent(spec: ComponentSpec, logPath: string) {
  for (const file of spec.files ?? []) {
    await mkdir(path.dirname(file.path), { recursive: true });
    await writeFile(file.path, file.content);
  }
  return startDetached(stateDir, spec, logPath);
}

/** Creates `objects` in order; one that exists already is left as it is. */
async function createObjects(kc: k8s.KubeConfig, objects: k8s.KubernetesObject[]): Promise<void> {
  const client = k8s.KubernetesObjectApi.makeApiClient(kc);
  for (const object of objects) {
    await client.create(object).catch((error: { code?: number }) => {
      if (error.code === 409) return;
      throw new Error(
        `Creating ${object.kind} ${object.metadata?.namespace ?? ''}/${object.metadata?.name} failed: ${(error as Error).message}`,
        { cause: error },
      );
    });
  }
}

/**
 * Registers the Node before kube-proxy starts: kube-proxy reads its node's addresses at
 * start-up and, when the Node is missing, retries for ~30 s before going on without them.
 * The process node takes the object over when it starts (its status, its heartbeats); without
 * one (`--no-node`) the Node stays unschedulable.
 */
async function createNodeObject(
  kc: k8s.KubeConfig,
  layout: ClusterLayout,
  withNode: boolean,
): Promise<void> {
  await createObjects(kc, [
    {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: layout.nodeName,
        labels: { 'kubernetes.io/hostname': layout.nodeName, 'kubernetes.io/os': 'linux' },
      },
      spec: withNode ? {} : { unschedulable: true },
      status: {
        addresses: [
          { type: 'InternalIP', address: layout.network.nodeAddress },
          { type: 'Hostname', address: layout.nodeName },
        ],
      },
    } as k8s.KubernetesObject,
  ]);
}

async function createBucketAndSecret(
  kc: k8s.KubeConfig,
  layout: ClusterLayout,
  endpoint: string,
): Promise<void> {
  const client = new Minio.Client({
    endPoint: '127.0.0.1',
    port: layout.ports.minio,
    useSSL: false,
    accessKey: layout.minio.accessKey,
    secretKey: layout.minio.secretKey,
  });
  if (!(await client.bucketExists('lathe'))) await client.makeBucket('lathe');
  await uploadExampleData(client);

  const core = kc.makeApiClient(k8s.CoreV1Api);
  await core
    .createNamespacedSecret({
      namespace: objectStoreNamespace,
      body: {
        metadata: { name: objectStoreSecretName, labels: { 'app.kubernetes.io/part-of': 'lathe' } },
        stringData: {
          endpoint,
          bucket: 'lathe',
          accessKey: layout.minio.accessKey,
          secretKey: layout.minio.secretKey,
        },
      },
    })
    .catch(ignoreConflict);
}

/**
 * The example data sets (`examples/data/*.csv`, `*.parquet`) at `s3://lathe/shared/examples/<file>`, where
 * the example Datasets read them, so `kubectl apply -f examples/` works on the local cluster as
 * is, in any namespace (`shared/` is the prefix every namespace's S3 sources may read).
 */
export const exampleDataPrefix = 'shared/examples/';

async function uploadExampleData(client: Minio.Client): Promise<void> {
  const dir = path.join(repoRoot, 'examples/data');
  for (const file of (await readdir(dir)).filter((f) => /\.(csv|parquet)$/.test(f))) {
    await client.fPutObject('lathe', `${exampleDataPrefix}${file}`, path.join(dir, file), {
      'Content-Type': file.endsWith('.csv') ? 'text/csv' : 'application/vnd.apache.parquet',
    });
  }
}

function ignoreConflict(error: { code?: number }): void {
  if (error.code !== 409) throw error;
}

function minioEnv(info: ClusterInfo): string {
  return [
    `LATHE_OBJECT_STORE_ENDPOINT=${info.minio.endpoint}`,
    `LATHE_OBJECT_STORE_BUCKET=${info.minio.bucket}`,
    `LATHE_OBJECT_STORE_ACCESS_KEY=${info.minio.accessKey}`,
    `LATHE_OBJECT_STORE_SECRET_KEY=${info.minio.secretKey}`,
    '',
  ].join('\n');
}

/** libpq's variables, so `psql` (in the PostgreSQL bin directory on env.sh's PATH) connects. */
function postgresEnv(info: ClusterInfo): string {
  const p = info.postgres;
  return [
    `PGHOST=${p.host}`,
    `PGPORT=${p.port}`,
    `PGDATABASE=${p.database}`,
    `PGUSER=${p.user}`,
    `PGPASSWORD=${p.password}`,
    '',
  ].join('\n');
}

/** A fresh PostgreSQL data directory (initdb), its superuser's password read from a file. */
async function initPostgres(layout: ClusterLayout): Promise<void> {
  const passwordFile = path.join(layout.stateDir, 'postgres.pw');
  await writeFile(passwordFile, `${layout.postgres.adminPassword}\n`, { mode: 0o600 });
  const { command, args } = postgresInitCommand(layout, passwordFile);
  try {
    await exec(command, args, { maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`initdb failed: ${e.stderr || e.message}`, { cause: error });
  } finally {
    await rm(passwordFile, { force: true });
  }
  // Password authentication from any address: the server listens only where the layout says,
  // and pods may come from addresses other than loopback.
  await writeFile(
    path.join(layout.stateDir, 'postgres', 'pg_hba.conf'),
    'host all all 0.0.0.0/0 scram-sha-256\nhost all all ::/0 scram-sha-256\n',
  );
}

function postgresAdmin(layout: ClusterLayout): pg.Client {
  const client = new pg.Client({
    host: layout.postgres.host,
    port: layout.ports.postgres,
    user: POSTGRES_ADMIN_USER,
    password: layout.postgres.adminPassword,
    database: 'postgres',
    connectionTimeoutMillis: 2_000,
  });
  client.on('error', () => undefined);
  return client;
}

async function postgresAnswers(layout: ClusterLayout): Promise<boolean> {
  const client = postgresAdmin(layout);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The role and database the tests use (the role owns the database). */
async function createPostgresDatabase(
  layout: ClusterLayout,
  user: { user: string; database: string; password: string },
): Promise<void> {
  const client = postgresAdmin(layout);
  await client.connect();
  try {
    const password = user.password.replaceAll("'", "''");
    await client.query(`CREATE ROLE ${user.user} LOGIN PASSWORD '${password}'`);
    await client.query(`CREATE DATABASE ${user.database} OWNER ${user.user}`);
  } finally {
    await client.end();
  }
}

function shellEnv(info: ClusterInfo): string {
  return [
    '# source .lathe/env.sh — kubectl and helm for the local cluster',
    `export KUBECONFIG=${info.kubeconfigPath}`,
    `export PATH=${info.binDirs.join(':')}:$PATH`,
    '',
  ].join('\n');
}

const specsByName: Record<string, (layout: ClusterLayout) => ComponentSpec> = {
  etcd: etcdSpec,
  'kube-apiserver': apiServerSpec,
  'kube-controller-manager': controllerManagerSpec,
  'kube-scheduler': schedulerSpec,
  minio: minioSpec,
  postgres: postgresSpec,
  'host-forwarder': hostForwarderSpec,
  coredns: corednsSpec,
  'kube-proxy': kubeProxySpec,
  'process-node': processNodeSpec,
  kubelet: realNodeSpec,
  registry: registrySpec,
};

/**
 * Stops one component of the running cluster and starts it again with the same ports, data and
 * certificates (for failure tests: an API server restart under a running operator). Resolves
 * once it is healthy again; `downtimeMs` keeps it stopped that long first.
 */
export async function restartComponent(name: string, downtimeMs = 0): Promise<void> {
  const info = await readRecordedCluster();
  const specOf = specsByName[name];
  if (!specOf)
    throw new Error(`unknown component "${name}"; one of ${Object.keys(specsByName).join(', ')}`);
  const spec = specOf(info.layout);
  await stopRecorded(stateDir, [], 10_000, [name]);
  if (downtimeMs) await new Promise((r) => setTimeout(r, downtimeMs));
  const logPath = path.join(stateDir, 'logs', `${name}.log`);
  const proc = await startComponent(spec, logPath);
  const check = healthCheckOf(spec, { adminTls: await readAdminTls(), ...info });
  await waitUntilHealthy({ name, pid: proc.pid, logPath }, check, 90_000);
  if (name === 'kube-apiserver') await reviveDeadComponents();
}

/**
 * Restarts every recorded component whose process has died, as a kubelet restarts crashed
 * static pods. The controller manager, for one, exits when it cannot reach the API server to
 * mint its controllers' service-account credentials (`client_builder_dynamic.go`), so an API
 * server restart takes it down with it.
 */
export async function reviveDeadComponents(): Promise<string[]> {
  const dead = await deadComponents();
  for (const name of dead) await restartComponent(name);
  return dead;
}

/**
 * Stops the local cluster and removes its network; returns the components that were running
 * and the network namespaces and links it removed.
 */
export async function down(): Promise<{ stopped: string[]; removed: string[] }> {
  const stopped = await stopRecorded(stateDir, stopOrder);
  const removed = await tearDownRealNode();
  removed.push(...(await tearDownNetwork(stateDir)));
  await rm(clusterInfoPath, { force: true });
  return { stopped, removed };
}

/**
 * Whether the cluster in `.lathe/cluster.json` answers: the API server is ready and, unless it
 * was started without one, the node is Ready.
 */
export async function isHealthy(): Promise<boolean> {
  try {
    const info = await readRecordedCluster();
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(info.kubeconfigPath);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    if ((await deadComponents()).length > 0) return false;
    if (!existsSync(netnsPath(info.network.nodeNetns))) return false;
    if (info.withNode === false) return await core.listNamespace({ limit: 1 }).then(() => true);
    return await nodeIsReady(core, info.nodeName);
  } catch {
    return false;
  }
}

/** The real node's pods, cgroups and mount points (before the network: it needs the slot). */
async function tearDownRealNode(): Promise<string[]> {
  const slot = await recordedSlot(stateDir);
  return tearDownRealNodeHost(stateDir, slot === undefined ? undefined : networkPlanOf(slot));
}

async function pauseTagOf(binaries: Record<string, string>): Promise<string> {
  const file = binaries['pause.tag'];
  if (!file) throw new Error('the pause component is not built: run npm run cluster:prepare');
  return (await readFile(file, 'utf8')).trim();
}

/**
 * A real kubelet advertises what its machine has; the GPUs the scheduling tests ask for are an
 * extended resource added to the Node's status, as the Kubernetes docs do by hand ("Advertise
 * Extended Resources for a Node"). The kubelet keeps resources it does not manage.
 */
async function advertiseExtendedResources(
  kc: k8s.KubeConfig,
  layout: ClusterLayout,
  options: UpOptions,
): Promise<void> {
  const gpus = options.nodeCapacity?.['nvidia.com/gpu'] ?? defaultCapacity['nvidia.com/gpu'] ?? '0';
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const patch = [{ op: 'add', path: '/status/capacity/nvidia.com~1gpu', value: gpus }];
  await core.patchNodeStatus(
    { name: layout.nodeName, body: patch },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
  );
  if (Number(gpus) > 0) {
    await core.patchNode(
      {
        name: layout.nodeName,
        body: [{ op: 'add', path: '/metadata/labels/nvidia.com~1gpu.present', value: 'true' }],
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );
  }
}
