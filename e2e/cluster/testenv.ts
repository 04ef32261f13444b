/**
 * What integration and end-to-end tests need to reach the local cluster: its connection
 * details, kubectl and helm from the component cache, and polling with a deadline.
 *
 * The cluster is described by `.lathe/cluster.json`, written by `npm run cluster:up` (or the
 * vitest global setup). Tests never start or stop the cluster themselves.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import type { ObjectStoreConfig } from '../../contract/object-store.js';
import type { ExposedHostService } from './host-services.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** `.lathe/` of this worktree; `LATHE_STATE_DIR` names another (a second cluster, in tests). */
export const stateDir = process.env.LATHE_STATE_DIR
  ? path.resolve(process.env.LATHE_STATE_DIR)
  : path.join(repoRoot, '.lathe');
export const clusterInfoPath = path.join(stateDir, 'cluster.json');

/** The connection details of a running local cluster, as written by `cluster:up`. */
export interface ClusterInfo {
  /** Admin kubeconfig (system:masters). */
  kubeconfigPath: string;
  /** Directory holding kubectl, helm and the control-plane binaries. */
  binDirs: string[];
  apiServerUrl: string;
  nodeName: string;
  /**
   * The host's end of the link into the node's network namespace (e.g. `10.250.3.1`). A server
   * a test starts on the host for pods to call binds here, on any port: pods reach it, and so do
   * host processes, at `http://<hostAddress>:<port>`.
   */
  hostAddress: string;
  /** The cluster's address ranges (different for every cluster on the machine). */
  network: {
    slot: number;
    podCidr: string;
    serviceCidr: string;
    /** The node's InternalIP, every pod's hostIP. */
    nodeAddress: string;
    /** The `kubernetes` Service's ClusterIP (KUBERNETES_SERVICE_HOST in pods). */
    kubernetesServiceIP: string;
    /** The `kube-dns` Service's ClusterIP, every pod's nameserver. */
    clusterDnsIP: string;
    /** The node's network namespace (`ip netns exec <it> ...` to look inside). */
    nodeNetns: string;
  };
  /**
   * Host servers exposed as Services (`host-services.ts`), by name: one `address`
   * (ClusterIP:port) that works from host processes and pods alike.
   */
  hostServices: Record<string, ExposedHostService>;
  /** MinIO; `endpoint` is `http://<hostServices.minio.address>`, valid on both sides. */
  minio: ObjectStoreConfig;
  /**
   * PostgreSQL: a database and a role owning it, for tests and examples. Pods reach it at
   * `host:port` (its Service's ClusterIP), as host processes do; `uri` is `postgresql://user:password@host:port/database`.
   */
  postgres: {
    host: string;
    port: number;
    database: string;
    user: string;
    password: string;
    uri: string;
  };
  /** Where each component writes its log. */
  logs: Record<string, string>;
  /** Which node runs pods (absent in a cluster recorded before there was a choice: the process node). */
  node?: 'process' | 'kubelet';
  /**
   * The real node's registry, `host:port` (plain HTTP, inside the cluster's network): push with
   * `npm run images -- --push <registry>/lathe --dest-tls-verify=false`; pods pull from it.
   */
  registry?: string;
}

export function clusterInfo(): ClusterInfo {
  try {
    return JSON.parse(readFileSync(clusterInfoPath, 'utf8')) as ClusterInfo;
  } catch (error) {
    throw new Error(`No local cluster found (${clusterInfoPath}); run "npm run cluster:up"`, {
      cause: error,
    });
  }
}

export function kubeConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(clusterInfo().kubeconfigPath);
  return kc;
}

export interface CommandResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Environment for kubectl and helm: the cluster's kubeconfig and the cached binaries first on PATH. */
export function toolEnv(): NodeJS.ProcessEnv {
  const info = clusterInfo();
  return {
    ...process.env,
    KUBECONFIG: info.kubeconfigPath,
    PATH: [...info.binDirs, process.env.PATH ?? ''].join(path.delimiter),
    HELM_CACHE_HOME: path.join(stateDir, 'helm/cache'),
    HELM_CONFIG_HOME: path.join(stateDir, 'helm/config'),
    HELM_DATA_HOME: path.join(stateDir, 'helm/data'),
  };
}

function run(
  binary: string,
  args: string[],
  options: { input?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      binary,
      args,
      { env: toolEnv(), timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') {
          reject(
            new Error(`${binary} ${args.join(' ')} could not run: ${error.message}`, {
              cause: error,
            }),
          );
          return;
        }
        resolve({ stdout, stderr, code: typeof error?.code === 'number' ? error.code : 0 });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Runs kubectl against the local cluster. Never throws on a non-zero exit: check `code`. */
export function kubectl(args: string[], options?: { input?: string; timeoutMs?: number }) {
  return run('kubectl', args, options);
}

/** Runs kubectl and returns its stdout; throws with kubectl's stderr on a non-zero exit. */
export async function kubectlOrThrow(
  args: string[],
  options?: { input?: string; timeoutMs?: number },
): Promise<string> {
  const result = await kubectl(args, options);
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed:\n${result.stderr}`);
  return result.stdout;
}

/** Runs helm against the local cluster. Never throws on a non-zero exit: check `code`. */
export function helm(args: string[], options?: { input?: string; timeoutMs?: number }) {
  return run('helm', args, options);
}

/**
 * Polls `probe` until it returns without throwing, and returns its value. On the deadline,
 * throws the probe's last error, so a failed wait says what was still wrong.
 */
export async function eventually<T>(
  probe: () => Promise<T> | T,
  options: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  let lastError: unknown;
  for (;;) {
    try {
      return await probe();
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const what = options.what ? `${options.what}: ` : '';
      throw new Error(
        `${what}timed out; last error: ${String((lastError as Error)?.message ?? lastError)}`,
        {
          cause: lastError,
        },
      );
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 250));
  }
}

/** Creates a namespace with a unique name (and optional labels) and returns its name. */
export async function createTestNamespace(
  prefix: string,
  labels: Record<string, string> = {},
): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await kubeConfig()
    .makeApiClient(k8s.CoreV1Api)
    .createNamespace({ body: { metadata: { name, labels } } });
  return name;
}

/** Deletes a namespace without waiting for it to go. */
export async function deleteTestNamespace(name: string): Promise<void> {
  await kubeConfig()
    .makeApiClient(k8s.CoreV1Api)
    .deleteNamespace({ name })
    .catch(() => undefined);
}

/**
 * Applies Lathe's CRDs from `crds/` and waits until each is Established. Server-side apply
 * with forced ownership: an earlier `helm install` in the same run may own them already.
 */
export async function installCrds(): Promise<void> {
  const crdDir = path.join(repoRoot, 'crds');
  const applied = await kubectl(['apply', '--server-side', '--force-conflicts', '-f', crdDir]);
  if (applied.code !== 0) throw new Error(`Applying ${crdDir} failed: ${applied.stderr}`);
  const names =
    applied.stdout.match(/customresourcedefinition\.apiextensions\.k8s\.io\/\S+/g) ?? [];
  for (const name of names) {
    const waited = await kubectl(['wait', '--for=condition=Established', name, '--timeout=60s']);
    if (waited.code !== 0) throw new Error(`${name} did not become Established: ${waited.stderr}`);
  }
}
