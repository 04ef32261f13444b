import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, LATHE_VERSION, loadConfig } from './config.js';

const base = { POD_NAME: 'lathe-0', POD_NAMESPACE: 'lathe-system' };

function problemsOf(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig({ ...base, ...env }, 'host');
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig(base, 'host');
    expect(config).toMatchObject({
      logLevel: 'info',
      watchNamespaces: [],
      refusedNamespaces: ['kube-system'],
      leaderElection: {
        enabled: true,
        namespace: 'lathe-system',
        id: 'lathe-operator-leader',
        leaseDurationSeconds: 15,
        renewDeadlineSeconds: 10,
        retryPeriodSeconds: 2,
      },
      bindAddress: '0.0.0.0',
      metricsPort: 8080,
      healthPort: 8081,
      workers: 2,
      objectStore: undefined,
      httpSource: { denyCIDRs: [], allowCIDRs: [], apiServerAddresses: [] },
      // Unique per process, so a restarted container does not inherit its predecessor's lease.
      identity: expect.stringMatching(/^lathe-0_[0-9a-f]{8}$/),
    });
    expect(config.images.trainer).toBe(`ghcr.io/lathe-dev/lathe-trainer:${LATHE_VERSION}`);
  });

  it('reads every variable', () => {
    const config = loadConfig(
      {
        LATHE_LOG_LEVEL: 'debug',
        LATHE_WATCH_NAMESPACES: ' team-a, team-b ,',
        LATHE_REFUSED_NAMESPACES: 'kube-public, ops ,kube-system',
        LATHE_LEADER_ELECT: 'false',
        LATHE_BIND_ADDRESS: '127.244.0.5',
        LATHE_METRICS_PORT: '9090',
        LATHE_HEALTH_PORT: '9091',
        LATHE_WORKERS: '4',
        LATHE_OBJECT_STORE_ENDPOINT: 'http://minio:9000',
        LATHE_OBJECT_STORE_ACCESS_KEY: 'ak',
        LATHE_OBJECT_STORE_SECRET_KEY: 'sk',
        LATHE_IMAGE_SERVER: 'registry.local/lathe-server:dev',
        LATHE_HTTP_SOURCE_DENY_CIDRS: ' 10.96.0.0/12, 10.244.0.0/16,fd00::/8 ,',
        LATHE_HTTP_SOURCE_ALLOW_CIDRS: '10.96.0.20/32',
        KUBERNETES_SERVICE_HOST: '10.96.0.1',
      },
      'host',
    );
    expect(config.httpSource).toEqual({
      denyCIDRs: ['10.96.0.0/12', '10.244.0.0/16', 'fd00::/8'],
      allowCIDRs: ['10.96.0.20/32'],
      apiServerAddresses: ['10.96.0.1'],
    });
    expect(config.watchNamespaces).toEqual(['team-a', 'team-b']);
    expect(config.refusedNamespaces).toEqual(['kube-system', 'kube-public', 'ops']);
    expect(config.leaderElection.enabled).toBe(false);
    expect(config.bindAddress).toBe('127.244.0.5');
    expect([config.metricsPort, config.healthPort, config.workers]).toEqual([9090, 9091, 4]);
    expect(config.objectStore).toEqual({
      endpoint: 'http://minio:9000',
      bucket: 'lathe',
      accessKey: 'ak',
      secretKey: 'sk',
      region: 'us-east-1',
    });
    expect(config.images.server).toBe('registry.local/lathe-server:dev');
    expect(config.identity).toMatch(/^host_[0-9a-f]{8}$/);
  });

  it('derives a unique identity from the hostname when POD_NAME is unset', () => {
    const a = loadConfig({ POD_NAMESPACE: 'x' }, 'laptop').identity;
    const b = loadConfig({ POD_NAMESPACE: 'x' }, 'laptop').identity;
    expect(a).toMatch(/^laptop_[0-9a-f]{8}$/);
    expect(a).not.toBe(b);
  });

  it('treats an empty value as unset', () => {
    expect(
      loadConfig({ ...base, LATHE_METRICS_PORT: '', LATHE_LOG_LEVEL: ' ' }, 'h').metricsPort,
    ).toBe(8080);
  });

  it.each([
    {
      env: { LATHE_LOG_LEVEL: 'verbose' },
      problem:
        'LATHE_LOG_LEVEL: must be one of trace, debug, info, warn, error, fatal (got "verbose")',
    },
    {
      env: { LATHE_METRICS_PORT: 'http' },
      problem: 'LATHE_METRICS_PORT: must be a whole number from 0 to 65535 (got "http")',
    },
    {
      env: { LATHE_HEALTH_PORT: '70000' },
      problem: 'LATHE_HEALTH_PORT: must be a whole number from 0 to 65535 (got "70000")',
    },
    {
      env: { LATHE_WORKERS: '0' },
      problem: 'LATHE_WORKERS: must be a whole number from 1 to 64 (got "0")',
    },
    {
      env: { LATHE_LEADER_ELECT: 'maybe' },
      problem: 'LATHE_LEADER_ELECT: must be true or false (got "maybe")',
    },
    {
      env: { LATHE_BIND_ADDRESS: 'localhost' },
      problem: 'LATHE_BIND_ADDRESS: must be an IP address (got "localhost")',
    },
    {
      env: { LATHE_WATCH_NAMESPACES: 'ok,Not_OK' },
      problem:
        'LATHE_WATCH_NAMESPACES: must be a comma-separated list of namespace names (got "ok,Not_OK")',
    },
    {
      env: { LATHE_REFUSED_NAMESPACES: 'ops,kube_system' },
      problem:
        'LATHE_REFUSED_NAMESPACES: must be a comma-separated list of namespace names (got "ops,kube_system")',
    },
    {
      env: { LATHE_WATCH_NAMESPACES: 'team-a,kube-system' },
      problem:
        'LATHE_WATCH_NAMESPACES: kube-system is refused (kube-system always, others by LATHE_REFUSED_NAMESPACES); Lathe never acts there',
    },
    {
      env: { LATHE_WATCH_NAMESPACES: 'team-a,ops,audit', LATHE_REFUSED_NAMESPACES: 'audit,ops' },
      problem:
        'LATHE_WATCH_NAMESPACES: ops, audit are refused (kube-system always, others by LATHE_REFUSED_NAMESPACES); Lathe never acts there',
    },
    {
      env: { LATHE_LEADER_ELECTION_ID: 'Bad ID' },
      problem:
        'LATHE_LEADER_ELECTION_ID: must be a valid Lease name (lower-case DNS subdomain) (got "Bad ID")',
    },
    {
      env: {
        LATHE_OBJECT_STORE_ENDPOINT: 'minio:9000',
        LATHE_OBJECT_STORE_ACCESS_KEY: 'a',
        LATHE_OBJECT_STORE_SECRET_KEY: 's',
      },
      problem:
        'LATHE_OBJECT_STORE_ENDPOINT: must be an http:// or https:// URL, such as http://minio:9000 (got "minio:9000")',
    },
    {
      env: { LATHE_IMAGE_TRAINER: 'has space:1' },
      problem:
        'LATHE_IMAGE_TRAINER: must be an image reference such as ghcr.io/org/name:tag (got "has space:1")',
    },
    {
      env: { LATHE_METRICS_PORT: '9000', LATHE_HEALTH_PORT: '9000' },
      problem: 'LATHE_HEALTH_PORT: must differ from LATHE_METRICS_PORT (both 9000)',
    },
    {
      env: { LATHE_RENEW_DEADLINE_SECONDS: '20' },
      problem:
        'LATHE_RENEW_DEADLINE_SECONDS: must be less than LATHE_LEASE_DURATION_SECONDS (20 >= 15)',
    },
    {
      env: { LATHE_RETRY_PERIOD_SECONDS: '9' },
      problem:
        'LATHE_RETRY_PERIOD_SECONDS: must be less than LATHE_RENEW_DEADLINE_SECONDS / 1.2 (9 vs 10)',
    },
    {
      env: { LATHE_OBJECT_STORE_ENDPOINT: 'http://minio:9000' },
      problem:
        'LATHE_OBJECT_STORE_SECRET_KEY: required when any of LATHE_OBJECT_STORE_ENDPOINT, LATHE_OBJECT_STORE_ACCESS_KEY, LATHE_OBJECT_STORE_SECRET_KEY is set',
    },
    {
      env: { LATHE_HTTP_SOURCE_DENY_CIDRS: '10.96.0.0/12,10.244.0.0/33,cluster' },
      problem:
        'LATHE_HTTP_SOURCE_DENY_CIDRS: must be a comma-separated list of CIDRs: "10.244.0.0/33": the prefix length must be a whole number from 0 to 32; "cluster" is not a CIDR such as 10.96.0.0/12 or fd00::/8 (got "10.96.0.0/12,10.244.0.0/33,cluster")',
    },
    {
      env: { LATHE_HTTP_SOURCE_ALLOW_CIDRS: 'fd00::/129' },
      problem:
        'LATHE_HTTP_SOURCE_ALLOW_CIDRS: must be a comma-separated list of CIDRs: "fd00::/129": the prefix length must be a whole number from 0 to 128 (got "fd00::/129")',
    },
  ])('names $env as bad', ({ env, problem }) => {
    expect(problemsOf(env)).toContain(problem);
  });

  it('requires a leader-election namespace when leader election is on', () => {
    expect(() => loadConfig({}, 'h')).toThrow(
      /LATHE_LEADER_ELECTION_NAMESPACE: required when LATHE_LEADER_ELECT is true/,
    );
    expect(loadConfig({ LATHE_LEADER_ELECT: 'false' }, 'h').leaderElection.enabled).toBe(false);
  });

  it('lists every bad variable in one multi-line message, and never echoes a secret', () => {
    let message = '';
    try {
      loadConfig(
        {
          ...base,
          LATHE_LOG_LEVEL: 'loud',
          LATHE_WORKERS: '-1',
          LATHE_OBJECT_STORE_SECRET_KEY: 'hunter2',
        },
        'h',
      );
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message.split('\n')[0]).toBe('Invalid configuration:');
    expect(message).toMatch(/^ {2}- LATHE_LOG_LEVEL: /m);
    expect(message).toMatch(/^ {2}- LATHE_WORKERS: /m);
    expect(message).not.toContain('hunter2');
  });

  it('LATHE_VERSION matches package.json', () => {
    const pkg = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    expect(LATHE_VERSION).toBe(pkg.version);
  });
});
