import { describe, expect, it } from 'vitest';
import {
  apiServerSpec,
  type ClusterLayout,
  controllerManagerSpec,
  etcdSpec,
  minioSpec,
  postgresInitCommand,
  postgresSpec,
  processNodeSpec,
  schedulerSpec,
} from './components.js';

const layout: ClusterLayout = {
  stateDir: '/repo/.lathe',
  repoRoot: '/repo',
  binaries: {
    etcd: '/c/etcd',
    'kube-apiserver': '/c/kube-apiserver',
    'kube-controller-manager': '/c/kcm',
    'kube-scheduler': '/c/sched',
    minio: '/c/minio',
    postgres: '/pg/postgres',
    initdb: '/pg/initdb',
  },
  ports: {
    etcdClient: 1001,
    etcdPeer: 1002,
    apiServer: 1003,
    controllerManager: 1004,
    scheduler: 1005,
    minio: 1006,
    minioConsole: 1007,
    postgres: 1008,
  },
  nodeName: 'n1',
  podIpPrefix: '127.244',
  minio: { accessKey: 'ak', secretKey: 'sk' },
  postgres: { host: '127.0.0.1', adminPassword: 'secret-admin-password' },
  runsAsRoot: false,
};

describe('component command lines', () => {
  it.each([
    [
      'etcd',
      etcdSpec,
      ['--listen-client-urls=http://127.0.0.1:1001', '--data-dir=/repo/.lathe/etcd'],
    ],
    [
      'kube-apiserver',
      apiServerSpec,
      [
        '--bind-address=127.0.0.1',
        '--secure-port=1003',
        '--etcd-servers=http://127.0.0.1:1001',
        '--authorization-mode=Node,RBAC',
        '--enable-admission-plugins=NodeRestriction,PodSecurity',
        '--service-account-signing-key-file=/repo/.lathe/pki/service-account.key',
      ],
    ],
    [
      'kube-controller-manager',
      controllerManagerSpec,
      [
        '--controllers=*',
        '--use-service-account-credentials=true',
        '--root-ca-file=/repo/.lathe/pki/ca.crt',
      ],
    ],
    ['kube-scheduler', schedulerSpec, ['--secure-port=1005', '--leader-elect=false']],
    ['minio', minioSpec, ['--address=127.0.0.1:1006', '/repo/.lathe/minio']],
  ])('%s is started with the flags the cluster relies on', (name, build, expected) => {
    const spec = build(layout);
    expect(spec.name).toBe(name);
    expect(spec.args).toEqual(expect.arrayContaining(expected));
    // Every component is bound to loopback only.
    expect(spec.args.join(' ')).not.toMatch(/0\.0\.0\.0/);
  });

  it('gives MinIO its generated credentials through the environment, not the command line', () => {
    const spec = minioSpec(layout);
    expect(spec.env).toMatchObject({ MINIO_ROOT_USER: 'ak', MINIO_ROOT_PASSWORD: 'sk' });
    expect(spec.args.join(' ')).not.toContain('sk');
  });

  it('points the process node at the API server and its own identity', () => {
    const spec = processNodeSpec(layout);
    expect(spec.args.at(-1)).toBe('/repo/e2e/node/main.ts');
    expect(spec.env).toMatchObject({
      LATHE_NODE_KUBECONFIG: '/repo/.lathe/pki/node.kubeconfig',
      LATHE_NODE_NAME: 'n1',
      LATHE_API_SERVER_HOST: '127.0.0.1',
      LATHE_API_SERVER_PORT: '1003',
    });
  });

  it('runs PostgreSQL on its own port, TCP only, with password authentication', () => {
    const spec = postgresSpec(layout);
    expect(spec.command).toBe('/pg/postgres');
    expect(spec.args).toEqual(
      expect.arrayContaining([
        '/repo/.lathe/postgres',
        'listen_addresses=127.0.0.1',
        'port=1008',
        'unix_socket_directories=',
      ]),
    );
    const init = postgresInitCommand(layout, '/repo/.lathe/postgres.pw');
    expect(init.args).toEqual(
      expect.arrayContaining(['--auth=scram-sha-256', '--pwfile=/repo/.lathe/postgres.pw']),
    );
    // The password is read from a file, never passed on a command line.
    expect([...spec.args, ...init.args].join(' ')).not.toContain('secret-admin-password');
  });

  it('runs PostgreSQL as an unprivileged user in a user namespace when run as root', () => {
    for (const build of [
      postgresSpec({ ...layout, runsAsRoot: true }),
      postgresInitCommand({ ...layout, runsAsRoot: true }, '/f'),
    ]) {
      expect(build.command).toBe('unshare');
      expect(build.args.slice(0, 3)).toEqual(['--user', '--map-user=1000', '--map-group=1000']);
    }
  });

  it('names a missing binary in its error', () => {
    expect(() => etcdSpec({ ...layout, binaries: {} })).toThrow(/binary "etcd" not found/);
  });
});
