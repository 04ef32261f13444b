/**
 * The operator process: configuration, logger, Kubernetes client, manager with every
 * controller, metrics and health servers, and signal handling.
 *
 * Exit codes: 0 after a graceful shutdown; 1 on a fatal error or when this replica lost the
 * leader lease (Kubernetes restarts it as a fresh candidate, as with controller-runtime);
 * 2 on invalid configuration.
 */
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { loadConfig } from './config.js';
import { controllers } from './controllers/index.js';
import { servedEngineBackends } from './controllers/trainingjob/distributed/engine-backends.js';
import { startServers } from './observability/health.js';
import { createLogger } from './observability/logging.js';
import { OperatorMetrics } from './observability/metrics.js';
import { answeredFlags, configOrExit, exitFatally } from './program.js';
import { HttpKubeClient } from './runtime/kube-client.js';
import { Manager } from './runtime/manager.js';

/** Kubernetes' default grace period is 30 s; finish in-flight work well within it. */
const shutdownTimeoutMs = 25_000;

const usage = `Usage: lathe-operator [--help | --version]
       lathe-operator console [--help | --version]

The Lathe operator. It takes no other arguments: it is configured by its environment
(LATHE_* variables, validated at start; docs/operator.md), and talks to the API server of
KUBECONFIG, ~/.kube/config or its in-cluster service account.

\`console\` runs the read-only web console instead (docs/console.md), the program the chart's
<release>-console Deployment starts from this image.
`;

async function main(): Promise<void> {
  const config = configOrExit(() => loadConfig(process.env));
  const log = createLogger(config.logLevel);
  log.info({ config }, 'Loaded the configuration');

  const kubeConfig = new k8s.KubeConfig();
  // KUBECONFIG if set, else ~/.kube/config, else the in-cluster service account.
  kubeConfig.loadFromDefault();
  const client = new HttpKubeClient(kubeConfig);
  const metrics = new OperatorMetrics();

  let exiting = false;
  const manager = new Manager({
    client,
    log,
    metrics,
    identity: config.identity,
    namespaces: config.watchNamespaces,
    refusedNamespaces: config.refusedNamespaces,
    defaultWorkers: config.workers,
    shutdownTimeoutMs,
    leaderElection:
      config.leaderElection.enabled && config.leaderElection.namespace
        ? {
            namespace: config.leaderElection.namespace,
            name: config.leaderElection.id,
            leaseDurationMs: config.leaderElection.leaseDurationSeconds * 1000,
            renewDeadlineMs: config.leaderElection.renewDeadlineSeconds * 1000,
            retryPeriodMs: config.leaderElection.retryPeriodSeconds * 1000,
          }
        : undefined,
    onLeadershipLost: () => {
      // Controllers are already stopped; another replica may be reconciling now.
      exiting = true;
      log.fatal('Exiting because this replica lost the leader lease');
      process.exit(1);
    },
  });
  const distributedBackends = await servedEngineBackends(client).catch((err: unknown) => {
    log.warn({ err }, 'Discovering the distributed-training engines failed; using none');
    return [];
  });
  log.info(
    { engines: distributedBackends.map((b) => b.name) },
    'Distributed-training engines served by the API server (besides the Indexed Job)',
  );
  for (const definition of controllers({ ...config, distributedBackends })) manager.add(definition);

  const servers = await startServers({
    bindAddress: config.bindAddress,
    metricsPort: config.metricsPort,
    healthPort: config.healthPort,
    registry: metrics.registry,
    live: () => undefined,
    ready: () => manager.notReadyReason(),
  });
  log.info(
    {
      metricsPort: servers.metricsPort,
      healthPort: servers.healthPort,
      bindAddress: config.bindAddress,
    },
    'Started the metrics and health servers',
  );

  manager.start();

  const shutDown = async (signal: string) => {
    if (exiting) return;
    exiting = true;
    log.info({ signal }, 'Received a termination signal; shutting down');
    const hardStop = setTimeout(() => {
      log.error('Shutdown did not finish in time; exiting');
      process.exit(1);
    }, shutdownTimeoutMs + 4_000);
    hardStop.unref();
    try {
      await manager.stop();
      await servers.close();
      log.info('Shut down');
      await flush(log);
      process.exit(0);
    } catch (error) {
      log.error({ err: error }, 'Failed to shut down cleanly');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutDown('SIGTERM'));
  process.on('SIGINT', () => void shutDown('SIGINT'));
}

function flush(log: Logger): Promise<void> {
  return new Promise((resolve) => log.flush(() => resolve()));
}

const argv = process.argv.slice(2);
if (argv[0] === 'console') {
  // The console is its own program in the same image: loaded only when asked for.
  import('../../console/main.js').then((m) => m.consoleMain(argv.slice(1)), exitFatally);
} else if (!answeredFlags(argv, { name: 'lathe-operator', usage })) {
  main().catch(exitFatally);
}
