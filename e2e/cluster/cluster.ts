/**
 * The local cluster's life cycle: `up` brings a fresh cluster up in the background and returns
 * once every part is healthy; `down` stops it and leaves no process behind.
 *
 * `up` always starts clean: it first stops whatever an earlier (perhaps crashed) run left in
 * the pid ledger, then makes a new PKI and new data directories, picks free ports, and starts
 * etcd → kube-apiserver → controller manager, scheduler, MinIO and PostgreSQL → the process node.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import * as Minio from 'minio';
import pg from 'pg';
import {
  apiServerSpec,
  type ClusterLayout,
  type ComponentSpec,
  controllerManagerSpec,
  etcdSpec,
  minioSpec,
  POSTGRES_ADMIN_USER,
  postgresInitCommand,
  postgresSpec,
  processNodeSpec,
  schedulerSpec,
} from './components.js';
import { probeUrl, waitUntilHealthy } from './health.js';
import { clusterIdentities, generatePki, kubeconfigFor } from './pki.js';
import { isAlive, recordedPid, startDetached, stopRecorded } from './processes.js';
import { type ClusterInfo, clusterInfoPath, repoRoot, stateDir } from './testenv.js';

const exec = promisify(execFile);

/** Stop order: the node first (it stops its pods), the control plane last, etcd at the very end. */
const stopOrder = [
  'process-node',
  'kube-scheduler',
  'kube-controller-manager',
  'postgres',
  'minio',
  'kube-apiserver',
  'etcd',
];

export const objectStoreNamespace = 'lathe-system';
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
  if (spec.name === 'process-node') {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(context.kubeconfigPath);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    return () => nodeIsReady(core, context.nodeName);
  }
  if (spec.name === 'postgres') return () => postgresAnswers(context.layout);
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
  /** Start the process node too (default true). */
  node?: boolean;
  nodeName?: string;
  nodeCapacity?: Record<string, string>;
  log?: (line: string) => void;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
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

  const stale = await stopRecorded(stateDir, stopOrder, 5_000);
  if (stale.length) log(`Stopped processes left by an earlier run: ${stale.join(', ')}`);
  for (const dir of ['etcd', 'minio', 'postgres', 'pki', 'logs', 'node'])
    await rm(path.join(stateDir, dir), { recursive: true, force: true });
  await rm(clusterInfoPath, { force: true });
  await mkdir(stateDir, { recursive: true });

  const nodeName = options.nodeName ?? 'lathe-node';
  const layout: ClusterLayout = {
    stateDir,
    repoRoot,
    binaries,
    nodeName,
    podIpPrefix: '127.244',
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
  const pki = await generatePki(pkiDir, clusterIdentities(nodeName));
  const kubeconfigPath = path.join(stateDir, 'kubeconfig');
  await writeFile(kubeconfigPath, await kubeconfigFor(pki, 'admin', apiServerUrl), { mode: 0o600 });
  for (const identity of ['controller-manager', 'scheduler', 'node']) {
    await writeFile(
      path.join(pkiDir, `${identity}.kubeconfig`),
      await kubeconfigFor(pki, identity, apiServerUrl),
      {
        mode: 0o600,
      },
    );
  }
  const adminTls = await readAdminTls();

  const logs: Record<string, string> = {};
  const launch = async (spec: ComponentSpec, timeoutMs: number) => {
    const logPath = path.join(stateDir, 'logs', `${spec.name}.log`);
    logs[spec.name] = logPath;
    const proc = await startDetached(stateDir, spec, logPath);
    const check = healthCheckOf(spec, { adminTls, kubeconfigPath, nodeName, layout });
    return {
      proc,
      wait: () => waitUntilHealthy({ name: spec.name, pid: proc.pid, logPath }, check, timeoutMs),
    };
  };

  try {
    const etcd = await launch(etcdSpec(layout), 30_000);
    await etcd.wait();
    const apiServer = await launch(apiServerSpec(layout), 90_000);
    const minio = await launch(minioSpec(layout), 60_000);
    await initPostgres(layout);
    const postgres = await launch(postgresSpec(layout), 60_000);
    await apiServer.wait();
    log(`kube-apiserver ready at ${apiServerUrl}`);
    const controllerManager = await launch(controllerManagerSpec(layout), 60_000);
    const scheduler = await launch(schedulerSpec(layout), 60_000);
    await Promise.all([controllerManager.wait(), scheduler.wait(), minio.wait(), postgres.wait()]);
    await createPostgresDatabase(layout, postgresUser);

    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfigPath);
    await createBucketAndSecret(kc, layout);

    if (options.node !== false) {
      const node = await launch(processNodeSpec(layout), 60_000);
      await node.wait();
      log(`Node ${nodeName} is Ready`);
    }
  } catch (error) {
    log('Start-up failed; stopping what was started');
    await stopRecorded(stateDir, stopOrder, 3_000);
    throw error;
  }

  const info: RecordedCluster = {
    layout,
    withNode: options.node !== false,
    kubeconfigPath,
    binDirs,
    apiServerUrl,
    nodeName,
    podIpPrefix: layout.podIpPrefix,
    minio: {
      endpoint: `http://127.0.0.1:${layout.ports.minio}`,
      accessKey: layout.minio.accessKey,
      secretKey: layout.minio.secretKey,
      bucket: 'lathe',
    },
    postgres: {
      host: layout.postgres.host,
      port: layout.ports.postgres,
      ...postgresUser,
      uri: `postgresql://${postgresUser.user}:${encodeURIComponent(postgresUser.password)}@${layout.postgres.host}:${layout.ports.postgres}/${postgresUser.database}`,
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

async function createBucketAndSecret(kc: k8s.KubeConfig, layout: ClusterLayout): Promise<void> {
  const endpoint = `http://127.0.0.1:${layout.ports.minio}`;
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
    .createNamespace({ body: { metadata: { name: objectStoreNamespace } } })
    .catch(ignoreConflict);
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
 * The example data sets (`examples/data/*.csv`) at `s3://lathe/examples/<file>`, where the
 * example Datasets read them, so `kubectl apply -f examples/` works on the local cluster as is.
 */
export const exampleDataPrefix = 'examples/';

async function uploadExampleData(client: Minio.Client): Promise<void> {
  const dir = path.join(repoRoot, 'examples/data');
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.csv'))) {
    await client.fPutObject('lathe', `${exampleDataPrefix}${file}`, path.join(dir, file), {
      'Content-Type': 'text/csv',
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
  'process-node': processNodeSpec,
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
  const proc = await startDetached(stateDir, spec, logPath);
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

/** Stops the local cluster; returns the components that were running. */
export async function down(): Promise<string[]> {
  const stopped = await stopRecorded(stateDir, stopOrder);
  await rm(clusterInfoPath, { force: true });
  return stopped;
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
    if (info.withNode === false) return await core.listNamespace({ limit: 1 }).then(() => true);
    return await nodeIsReady(core, info.nodeName);
  } catch {
    return false;
  }
}
