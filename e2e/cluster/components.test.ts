import { describe, expect, it } from 'vitest';
import {
  apiServerSpec,
  type ClusterLayout,
  controllerManagerSpec,
  corednsSpec,
  corefileOf,
  etcdSpec,
  hostForwarderSpec,
  kubeProxyConfigOf,
  kubeProxySpec,
  minioSpec,
  postgresInitCommand,
  postgresSpec,
  processNodeSpec,
  schedulerSpec,
} from './components.js';
import { networkPlanOf } from './network-plan.js';

const layout: ClusterLayout = {
  stateDir: '/repo/.lathe',
  repoRoot: '/repo',
  binaries: {
    etcd: '/c/etcd',
    'kube-apiserver': '/c/kube-apiserver',
    'kube-controller-manager': '/c/kcm',
    'kube-scheduler': '/c/sched',
    minio: '/c/minio',
    'kube-proxy': '/c/kube-proxy',
    coredns: '/c/coredns',
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
  network: networkPlanOf(3),
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
        '--service-cluster-ip-range=10.96.12.0/22',
        '--enable-admission-plugins=NodeRestriction,PodSecurity,OwnerReferencesPermissionEnforcement',
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
        '--service-cluster-ip-range=10.96.12.0/22',
      ],
    ],
    ['kube-scheduler', schedulerSpec, ['--secure-port=1005', '--leader-elect=false']],
    ['minio', minioSpec, ['--address=127.0.0.1:1006', '/repo/.lathe/minio']],
  ])('%s is started with the flags the cluster relies on', (name, build, expected) => {
    const spec = build(layout);
    expect(spec.name).toBe(name);
    expect(spec.args).toEqual(expect.arrayContaining(expected));
    // Every host-side component is bound to loopback only.
    expect(spec.args.join(' ')).not.toMatch(/0\.0\.0\.0/);
  });

  it('gives MinIO its generated credentials through the environment, not the command line', () => {
    const spec = minioSpec(layout);
    expect(spec.env).toMatchObject({ MINIO_ROOT_USER: 'ak', MINIO_ROOT_PASSWORD: 'sk' });
    expect(spec.args.join(' ')).not.toContain('sk');
  });

  it('runs the process node in the node namespace, giving pods the `kubernetes` Service', () => {
    const spec = processNodeSpec(layout);
    expect(spec.command).toBe('nsenter');
    expect(spec.args.slice(0, 2)).toEqual(['--net=/run/netns/lathe3-node', '--']);
    expect(spec.args.at(-1)).toBe('/repo/e2e/node/main.ts');
    expect(spec.cwd).toBe('/repo');
    expect(spec.env).toMatchObject({
      LATHE_NODE_KUBECONFIG: '/repo/.lathe/pki/node.kubeconfig',
      LATHE_NODE_NAME: 'n1',
      LATHE_NODE_IP: '10.250.3.2',
      LATHE_NODE_POD_CIDR: '10.244.3.0/24',
      LATHE_NODE_POD_NETNS_PREFIX: 'lathe3-pod-',
      LATHE_CLUSTER_DNS: '10.96.12.10',
      LATHE_API_SERVER_HOST: '10.96.12.1',
      LATHE_API_SERVER_PORT: '443',
    });
  });

  it('runs kube-proxy in nftables mode in the node namespace, health on the node address', () => {
    const spec = kubeProxySpec(layout);
    expect(spec.command).toBe('nsenter');
    expect(spec.args).toEqual([
      '--net=/run/netns/lathe3-node',
      '--',
      '/c/kube-proxy',
      '--config=/repo/.lathe/kube-proxy/config.yaml',
      '--v=1',
    ]);
    expect(spec.healthUrl).toBe('http://10.250.3.2:10256/healthz');
    expect(spec.files?.[0]?.content).toBe(kubeProxyConfigOf(layout));
    const config = kubeProxyConfigOf(layout);
    for (const line of [
      'mode: nftables',
      'hostnameOverride: n1',
      'clusterCIDR: 10.244.3.0/24',
      'detectLocalMode: ClusterCIDR',
      '  maxPerCore: 0',
      '  kubeconfig: /repo/.lathe/pki/kube-proxy.kubeconfig',
    ]) {
      expect(config.split('\n')).toContain(line);
    }
  });

  it('serves cluster DNS from CoreDNS on the node address', () => {
    const spec = corednsSpec(layout);
    expect(spec.args.slice(0, 3)).toEqual(['--net=/run/netns/lathe3-node', '--', '/c/coredns']);
    expect(spec.healthUrl).toBe('http://10.250.3.2:8181/ready');
    const corefile = corefileOf(layout);
    expect(corefile).toContain('bind 10.250.3.2');
    expect(corefile).toContain('kubernetes cluster.local in-addr.arpa ip6.arpa {');
    expect(corefile).toContain('kubeconfig /repo/.lathe/pki/coredns.kubeconfig lathe-local');
  });

  it('relays the API server, MinIO and PostgreSQL from the host address to loopback', () => {
    const spec = hostForwarderSpec(layout);
    expect(JSON.parse(spec.env?.LATHE_FORWARDS ?? '')).toEqual([
      { name: 'kube-apiserver', listen: '10.250.3.1:6443', target: '127.0.0.1:1003' },
      { name: 'minio', listen: '10.250.3.1:9000', target: '127.0.0.1:1006' },
      { name: 'postgres', listen: '10.250.3.1:5432', target: '127.0.0.1:1008' },
    ]);
    expect(spec.healthUrl).toBe('https://10.250.3.1:6443/readyz');
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
