/**
 * The process node: a stand-in for the kubelet that runs pods' containers as local processes.
 *
 *   node --import tsx e2e/node/main.ts     (configured by LATHE_NODE_* variables, see config.ts)
 *
 * It runs inside the node's network namespace (the cluster starts it with `nsenter --net`),
 * where it gives every pod a network namespace on the node's bridge (`pod-network.ts`).
 *
 * Start-up: validate the configuration (exit 2 when bad), require bwrap, ip and nsenter, kill
 * what a crashed earlier run left behind (processes, pod network namespaces), register the
 * Node, then run the pods bound to it. SIGTERM or SIGINT stops every pod's processes, removes
 * their network namespaces and exits, leaving the Node and its pods in the API.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { bwrapMissingMessage, findBwrap, findExecutable } from './bwrap.js';
import { parseNodeConfig } from './config.js';
import { loadImageMap } from './images.js';
import { PodApi } from './kube-api.js';
import { NodeAgent } from './node-agent.js';
import { parseResolvConf } from './pod-dns.js';
import { PodIpAllocator } from './pod-ip.js';
import { PodManager } from './pod-manager.js';
import { PodNetworks } from './pod-network.js';
import { PodWatcher } from './pod-watch.js';
import { killStaleProcesses } from './stale-processes.js';

/** How long node shutdown waits for pods' processes before SIGKILL. */
const shutdownGraceMs = 10_000;

function fail(message: string, code: number): never {
  process.stderr.write(`process node: ${message}\n`);
  process.exit(code);
}

function readOr(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** The `kubernetes` Service's variables, as the kubelet gives every container. */
function kubernetesServiceEnv(host: string, port: number): Record<string, string> {
  const url = `tcp://${host}:${port}`;
  return {
    KUBERNETES_SERVICE_HOST: host,
    KUBERNETES_SERVICE_PORT: String(port),
    KUBERNETES_SERVICE_PORT_HTTPS: String(port),
    KUBERNETES_PORT: url,
    [`KUBERNETES_PORT_${port}_TCP`]: url,
    [`KUBERNETES_PORT_${port}_TCP_PROTO`]: 'tcp',
    [`KUBERNETES_PORT_${port}_TCP_PORT`]: String(port),
    [`KUBERNETES_PORT_${port}_TCP_ADDR`]: host,
  };
}

async function main(): Promise<void> {
  const parsed = parseNodeConfig(process.env);
  if (!parsed.ok) fail(parsed.message, 2);
  const config = parsed.config;

  const bwrapPath = findBwrap();
  if (!bwrapPath) fail(bwrapMissingMessage, 2);
  for (const [tool, pkg] of [
    ['ip', 'iproute2'],
    ['nsenter', 'util-linux'],
  ] as const) {
    if (!findExecutable(tool))
      fail(`${tool} is not on PATH: install the Debian package "${pkg}"`, 2);
  }

  let images: ReturnType<typeof loadImageMap>;
  try {
    images = loadImageMap(config.imagesFile);
  } catch (error) {
    fail(`LATHE_NODE_IMAGES: ${(error as Error).message}`, 2);
  }

  const log = pino({
    level: config.logLevel,
    base: { component: 'process-node', node: config.nodeName },
  });
  mkdirSync(config.nodeDir, { recursive: true });
  const stale = killStaleProcesses(config.nodeDir);
  if (stale.length > 0)
    log.info({ pidFiles: stale }, 'Killed processes left by an earlier node run');
  const podCidrLength = Number(config.podCidr.split('/')[1]);
  const networks = new PodNetworks({
    netnsPrefix: config.podNetnsPrefix,
    bridge: config.bridge,
    // The bridge holds the first address of the pod CIDR.
    gateway: new PodIpAllocator(config.podCidr).gateway,
    prefixLength: podCidrLength,
  });
  const staleNetworks = await networks.removeAll();
  if (staleNetworks.length > 0)
    log.info(
      { netns: staleNetworks },
      'Removed pod network namespaces left by an earlier node run',
    );

  const kc = new k8s.KubeConfig();
  try {
    kc.loadFromFile(config.kubeconfigPath);
  } catch (error) {
    fail(
      `LATHE_NODE_KUBECONFIG: cannot load ${config.kubeconfigPath}: ${(error as Error).message}`,
      2,
    );
  }

  const agent = new NodeAgent(kc, config, log);
  for (let attempt = 1; ; attempt++) {
    try {
      await agent.register();
      break;
    } catch (error) {
      // The cluster starts the node alongside the API server: retry briskly, for 30 s.
      if (attempt >= 120) throw error;
      if (attempt % 8 === 1) {
        log.warn({ err: (error as Error).message, attempt }, 'Failed to register Node; retrying');
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  agent.startHeartbeats();

  const pods = new PodManager({
    nodeDir: config.nodeDir,
    images,
    bwrapPath,
    ips: new PodIpAllocator(config.podCidr),
    networks,
    nodeIP: config.nodeIP,
    dns: {
      cluster: { server: config.clusterDns, domain: config.clusterDomain },
      node: parseResolvConf(readOr('/etc/resolv.conf')),
    },
    api: new PodApi(kc),
    serviceEnv: kubernetesServiceEnv(config.apiServerHost, config.apiServerPort),
    log,
  });
  const watcher = new PodWatcher(kc, config.nodeName, pods, log);
  await watcher.start();
  log.info(
    { images: Object.keys(images), nodeDir: config.nodeDir, bwrap: bwrapPath },
    'Started process node',
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'Stopping process node');
    watcher.stop();
    agent.stop();
    await pods.shutdown(shutdownGraceMs);
    await networks.removeAll().catch(() => undefined);
    log.info('Stopped process node');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(
    `process node: start-up failed: ${(error as Error)?.stack ?? String(error)}\n`,
  );
  process.exit(1);
});
