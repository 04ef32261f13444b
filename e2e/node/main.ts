/**
 * The process node: a stand-in for the kubelet that runs pods' containers as local processes.
 *
 *   node --import tsx e2e/node/main.ts     (configured by LATHE_NODE_* variables, see config.ts)
 *
 * Start-up: validate the configuration (exit 2 when bad), require bwrap, kill what a crashed
 * earlier run left behind, register the Node, then run the pods bound to it. SIGTERM or
 * SIGINT stops every pod's processes and exits, leaving the Node and its pods in the API.
 */
import { mkdirSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { bwrapMissingMessage, findBwrap } from './bwrap.js';
import { parseNodeConfig } from './config.js';
import { loadImageMap } from './images.js';
import { PodApi } from './kube-api.js';
import { NodeAgent } from './node-agent.js';
import { PodIpAllocator } from './pod-ip.js';
import { PodManager } from './pod-manager.js';
import { PodWatcher } from './pod-watch.js';
import { killStaleProcesses } from './stale-processes.js';

/** How long node shutdown waits for pods' processes before SIGKILL. */
const shutdownGraceMs = 10_000;

function fail(message: string, code: number): never {
  process.stderr.write(`process node: ${message}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  const parsed = parseNodeConfig(process.env);
  if (!parsed.ok) fail(parsed.message, 2);
  const config = parsed.config;

  const bwrapPath = findBwrap();
  if (!bwrapPath) fail(bwrapMissingMessage, 2);

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
      if (attempt >= 30) throw error;
      log.warn({ err: (error as Error).message, attempt }, 'Failed to register Node; retrying');
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
  agent.startHeartbeats();

  const pods = new PodManager({
    nodeDir: config.nodeDir,
    images,
    bwrapPath,
    ips: new PodIpAllocator(config.podIpPrefix),
    api: new PodApi(kc),
    serviceEnv: {
      KUBERNETES_SERVICE_HOST: config.apiServerHost,
      KUBERNETES_SERVICE_PORT: String(config.apiServerPort),
      KUBERNETES_SERVICE_PORT_HTTPS: String(config.apiServerPort),
    },
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
