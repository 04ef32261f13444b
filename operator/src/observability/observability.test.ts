import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningServers, startServers } from './health.js';
import { createLogger } from './logging.js';
import { OperatorMetrics } from './metrics.js';

describe('createLogger', () => {
  it('writes JSON lines and redacts secrets', () => {
    const lines: string[] = [];
    const log = createLogger(
      'info',
      new Writable({
        write(chunk, _e, cb) {
          lines.push(String(chunk));
          cb();
        },
      }),
    );
    log.info(
      {
        config: {
          objectStore: { endpoint: 'http://minio:9000', accessKey: 'AK', secretKey: 'SK' },
        },
      },
      'Loaded the configuration',
    );
    const line = JSON.parse(lines[0] ?? '{}');
    expect(line).toMatchObject({ level: 'info', msg: 'Loaded the configuration' });
    expect(line.config.objectStore).toEqual({
      endpoint: 'http://minio:9000',
      accessKey: '[REDACTED]',
      secretKey: '[REDACTED]',
    });
    expect(lines[0]).not.toContain('SK');
  });
});

describe('OperatorMetrics.informer', () => {
  it('counts cached objects per kind and namespace, summing informers that share them', async () => {
    const metrics = new OperatorMetrics(undefined, { processMetrics: false });
    const labelled = metrics.informer('Pod', 'team-a');
    const unlabelled = metrics.informer('Pod', 'team-a');
    labelled.objects?.(3);
    unlabelled.objects?.(5);
    labelled.objects?.(1);
    const body = await metrics.registry.metrics();
    expect(body).toContain('lathe_informer_objects{kind="Pod",namespace="team-a"} 6');
  });
});

describe('startServers', () => {
  let servers: RunningServers | undefined;
  afterEach(async () => {
    await servers?.close();
  });

  it('serves metrics with controller-runtime names, and health/readiness probes', async () => {
    const metrics = new OperatorMetrics(undefined, { processMetrics: false });
    metrics.reconcileTotal.inc({ controller: 'modelversion', result: 'success' });
    metrics.workqueue('modelversion').added();
    let notReady: string | undefined = 'informers not synced';
    servers = await startServers({
      bindAddress: '127.0.0.1',
      metricsPort: 0,
      healthPort: 0,
      registry: metrics.registry,
      live: () => undefined,
      ready: () => notReady,
    });
    const body = await (await fetch(`http://127.0.0.1:${servers.metricsPort}/metrics`)).text();
    expect(body).toContain(
      'controller_runtime_reconcile_total{controller="modelversion",result="success"} 1',
    );
    expect(body).toContain('workqueue_adds_total{name="modelversion",controller="modelversion"} 1');
    for (const name of [
      'workqueue_depth',
      'workqueue_retries_total',
      'workqueue_queue_duration_seconds',
      'workqueue_work_duration_seconds',
      'controller_runtime_reconcile_time_seconds',
      'controller_runtime_reconcile_errors_total',
      'leader_election_master_status',
      'lathe_informer_restarts_total',
    ]) {
      expect(body).toContain(`# TYPE ${name}`);
    }
    const health = `http://127.0.0.1:${servers.healthPort}`;
    expect((await fetch(`${health}/healthz`)).status).toBe(200);
    const readyz = await fetch(`${health}/readyz`);
    expect(readyz.status).toBe(503);
    expect(await readyz.text()).toContain('informers not synced');
    notReady = undefined;
    expect((await fetch(`${health}/readyz`)).status).toBe(200);
    expect((await fetch(`${health}/nope`)).status).toBe(404);
  });
});
