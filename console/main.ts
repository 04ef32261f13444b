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
import pino from 'pino';
import { ObjectStore } from '../contract/object-store.js';
import { LATHE_VERSION } from '../operator/src/config.js';
import { redactedPaths } from '../operator/src/observability/logging.js';
import { HttpKubeClient } from '../operator/src/runtime/kube-client.js';
import { KubeAccessReviewer } from './access-review.js';
import { InformerConsoleCache } from './cache.js';
import { ConfigError, type ConsoleConfig, loadConsoleConfig } from './config.js';
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

function answeredFlags(argv: readonly string[]): boolean {
  if (argv.includes('--version')) {
    process.stdout.write(`lathe-console ${LATHE_VERSION} (Node.js ${process.version})\n`);
    return true;
  }
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage);
    return true;
  }
  if (argv.length > 0) {
    process.stderr.write(`Unknown argument ${argv[0]}\n\n${usage}`);
    process.exit(2);
  }
  return false;
}

function readConfig(): ConsoleConfig {
  try {
    return loadConsoleConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

async function main(): Promise<void> {
  const config = readConfig();
  const log = pino({
    level: config.logLevel,
    base: { component: 'lathe-console' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: redactedPaths, censor: '[REDACTED]' },
  });
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
  if (answeredFlags(argv)) return;
  main().catch((error: unknown) => {
    process.stderr.write(
      `Fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  });
}

const entry = process.argv[1];
if (entry && import.meta.url === pathToFileURL(entry).href) consoleMain(process.argv.slice(2));
