/**
 * The console process: configuration, logger, Kubernetes client, the informer caches, the
 * access reviewer and the HTTP server; SIGTERM closes them. It runs from the operator's image
 * with another command (`node dist/console/main.js`), as its own Deployment, so a busy console
 * never slows a reconcile and the operator's replicas stay the only writers.
 *
 * Exit codes: 0 after a graceful shutdown, 1 on a fatal error, 2 on invalid configuration.
 */
import { pathToFileURL } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { ObjectStore } from '../contract/object-store.js';
import { createLogger } from '../operator/src/observability/logging.js';
import { answeredFlags, configOrExit, exitFatally } from '../operator/src/program.js';
import { HttpKubeClient } from '../operator/src/runtime/kube-client.js';
import { KubeAccessReviewer } from './access-review.js';
import { InformerConsoleCache } from './cache.js';
import { loadConsoleConfig } from './config.js';
import { pages } from './pages/index.js';
import { objectStoreRunRecords } from './run-records.js';
import { createConsoleServer } from './server.js';
import { ServingSampler } from './serving/sampler.js';
import { ServingPods } from './serving/serving-pods.js';

const usage = `Usage: lathe-console [--help | --version]

The Lathe web console: a read-only view of Lathe's objects for whoever holds a Kubernetes
token. Configured by its environment (LATHE_CONSOLE_*, LATHE_WATCH_NAMESPACES and the
operator's LATHE_OBJECT_STORE_* variables; docs/console.md); talks to the API server of
KUBECONFIG, ~/.kube/config or its in-cluster service account.
`;

async function main(): Promise<void> {
  const config = configOrExit(() => loadConsoleConfig(process.env));
  const log = createLogger(config.logLevel, undefined, 'lathe-console');
  log.info({ config }, 'Loaded the configuration');

  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromDefault();
  const client = new HttpKubeClient(kubeConfig);
  const cache = new InformerConsoleCache({ client, log, namespaces: config.watchNamespaces });
  const reviewer = new KubeAccessReviewer({
    request: (method, path, options) => client.request(method, path, options),
    log,
    ttlMs: config.reviewCacheSeconds * 1000,
  });
  const store = config.objectStore;
  const servingPods = new ServingPods({ client, log, namespaces: config.watchNamespaces });
  const sampler = new ServingSampler({
    services: () => cache.reader('inferenceService').list(),
    podsOf: (isvc) => servingPods.podsOf(isvc),
    intervalMs: config.sampleIntervalSeconds * 1000,
    capacity: config.samples,
  });
  const server = createConsoleServer({
    cache,
    reviewer,
    pages,
    runRecords: store ? objectStoreRunRecords(new ObjectStore(store), store.bucket) : undefined,
    serving: sampler,
    log,
    secureCookie: config.secureCookie,
  });
  cache.start();
  servingPods.start();
  sampler.start();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.bindAddress, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  log.info({ port, bindAddress: config.bindAddress }, 'Started the console');

  let stopping = false;
  const shutDown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'Received a termination signal; shutting down');
    const hardStop = setTimeout(() => process.exit(1), 10_000);
    hardStop.unref();
    server.close();
    server.closeIdleConnections();
    sampler.stop();
    await Promise.all([cache.stop(), servingPods.stop()]);
    log.info('Shut down');
    log.flush(() => process.exit(0));
  };
  process.on('SIGTERM', () => void shutDown('SIGTERM'));
  process.on('SIGINT', () => void shutDown('SIGINT'));
}

/**
 * Runs the console with the command-line arguments `argv` (after the program name). The
 * operator's program calls it for `lathe-operator console`, which is how the chart starts the
 * console from the operator's image; `node dist/console/main.js` runs it directly.
 */
export function consoleMain(argv: readonly string[]): void {
  if (answeredFlags(argv, { name: 'lathe-console', usage })) return;
  main().catch(exitFatally);
}

const entry = process.argv[1];
if (entry && import.meta.url === pathToFileURL(entry).href) consoleMain(process.argv.slice(2));
