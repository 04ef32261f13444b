/**
 * The activator (`ghcr.io/lathe-dev/lathe-activator`): one Deployment per namespace that has an
 * InferenceService with `replicas.min: 0`, made by the operator's scale-to-zero step. It holds
 * the requests of the services that are at zero and forwards them once a replica is ready
 * (`activator.ts`).
 *
 * Start-up: validate the environment (exit 2 naming a bad variable), then listen. SIGTERM /
 * SIGINT: stop accepting, answer what is held with 503 and Retry-After, exit 0.
 */
import { z } from 'zod';
import { ACTIVATOR_PORT, ActivatorEnv } from '../../contract/activator.js';
import { parseEnv, RuntimeEnvError } from '../../contract/runtime-env.js';
import { Activator, listen } from './activator.js';
import { inClusterApi } from './kube.js';

function log(level: string, msg: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(
    `${JSON.stringify({ level, time: new Date().toISOString(), msg, ...fields })}\n`,
  );
}

function readEnv() {
  const e = parseEnv(
    z.object({
      [ActivatorEnv.namespace]: z.string().min(1),
      [ActivatorEnv.port]: z.coerce.number().int().min(1).max(65535).default(ACTIVATOR_PORT),
      [ActivatorEnv.queueSize]: z.coerce.number().int().min(0).max(100_000).default(100),
      [ActivatorEnv.timeoutSeconds]: z.coerce.number().gt(0).max(3600).default(60),
    }),
    process.env,
  );
  return {
    namespace: e[ActivatorEnv.namespace] as string,
    port: e[ActivatorEnv.port] as number,
    queueSize: e[ActivatorEnv.queueSize] as number,
    timeoutMs: (e[ActivatorEnv.timeoutSeconds] as number) * 1000,
  };
}

async function main(): Promise<void> {
  let config: ReturnType<typeof readEnv>;
  try {
    config = readEnv();
  } catch (error) {
    if (error instanceof RuntimeEnvError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const activator = new Activator({
    namespace: config.namespace,
    api: inClusterApi(config.namespace),
    queueSize: config.queueSize,
    timeoutMs: config.timeoutMs,
    log,
  });
  const port = await listen(activator, config.port);
  log('info', 'Activator listening', { port, namespace: config.namespace });
  const stop = () => {
    log('info', 'Activator stopping', { held: activator.held() });
    activator.close();
    activator.server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 5_000).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  log('error', 'The activator failed', { err: String(error) });
  process.exit(1);
});
