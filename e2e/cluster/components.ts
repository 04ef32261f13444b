/**
 * How each component of the local cluster is started: pure functions from the cluster's layout
 * (ports, paths, binaries) to a command line, so the flags are unit-tested and one place says
 * how the control plane is configured.
 */
import path from 'node:path';

/** Everything a component's command line depends on. */
export interface ClusterLayout {
  /** The state directory (`.lathe/`): data, PKI, logs. */
  stateDir: string;
  /** Binary name → absolute path (kube-apiserver, etcd, minio, ...). */
  binaries: Record<string, string>;
  ports: {
    etcdClient: number;
    etcdPeer: number;
    apiServer: number;
    controllerManager: number;
    scheduler: number;
    minio: number;
    minioConsole: number;
    postgres: number;
  };
  nodeName: string;
  podIpPrefix: string;
  /** Extra node capacity/labels as JSON strings, passed through to the process node. */
  nodeCapacity?: string;
  minio: { accessKey: string; secretKey: string };
  /** PostgreSQL: the address it listens on and the superuser's generated password. */
  postgres: { host: string; adminPassword: string };
  /**
   * Whether this process runs as root. PostgreSQL refuses to run as root, so then it runs in
   * a user namespace as an unprivileged user mapped to root (files stay root's on the host).
   */
  runsAsRoot: boolean;
  /** The repository root, for the process node's sources. */
  repoRoot: string;
}

/** A process to start, and how to tell it is healthy. */
export interface ComponentSpec {
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
  /** An HTTP(S) URL answering 200 when the component is ready (absent: checked otherwise). */
  healthUrl?: string;
  /** Present the admin client certificate when probing `healthUrl`. */
  healthNeedsAdminCert?: boolean;
}

export const serviceClusterIpRange = '10.96.0.0/16';

export function pkiPath(layout: ClusterLayout, file: string): string {
  return path.join(layout.stateDir, 'pki', file);
}

function binary(layout: ClusterLayout, name: string): string {
  const found = layout.binaries[name];
  if (!found) throw new Error(`binary "${name}" not found among the built components`);
  return found;
}

export function etcdSpec(layout: ClusterLayout): ComponentSpec {
  const client = `http://127.0.0.1:${layout.ports.etcdClient}`;
  const peer = `http://127.0.0.1:${layout.ports.etcdPeer}`;
  return {
    name: 'etcd',
    command: binary(layout, 'etcd'),
    args: [
      '--name=lathe',
      `--data-dir=${path.join(layout.stateDir, 'etcd')}`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=lathe=${peer}`,
      '--initial-cluster-state=new',
      // A throw-away test cluster: durability is not worth the fsync latency on a shared disk.
      '--unsafe-no-fsync=true',
      '--log-level=warn',
    ],
    healthUrl: `${client}/health`,
  };
}

export function apiServerSpec(layout: ClusterLayout): ComponentSpec {
  const pki = (f: string) => pkiPath(layout, f);
  return {
    name: 'kube-apiserver',
    command: binary(layout, 'kube-apiserver'),
    args: [
      `--etcd-servers=http://127.0.0.1:${layout.ports.etcdClient}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      // The endpoints of the `kubernetes` Service may not be a loopback address, and nothing
      // here routes Service IPs; clients reach the API server at its real address instead.
      '--endpoint-reconciler-type=none',
      `--secure-port=${layout.ports.apiServer}`,
      `--tls-cert-file=${pki('apiserver.crt')}`,
      `--tls-private-key-file=${pki('apiserver.key')}`,
      `--client-ca-file=${pki('ca.crt')}`,
      `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
      `--service-account-key-file=${pki('service-account.pub')}`,
      `--service-account-signing-key-file=${pki('service-account.key')}`,
      `--service-cluster-ip-range=${serviceClusterIpRange}`,
      '--authorization-mode=Node,RBAC',
      '--enable-admission-plugins=NodeRestriction,PodSecurity',
      '--allow-privileged=true',
      // Set so aggregated-API clients (controller manager, scheduler) find a request-header CA;
      // no certificate with the allowed name is ever issued, so it grants nothing.
      `--requestheader-client-ca-file=${pki('ca.crt')}`,
      '--requestheader-allowed-names=front-proxy-client',
      '--requestheader-username-headers=X-Remote-User',
      '--requestheader-group-headers=X-Remote-Group',
      '--requestheader-extra-headers-prefix=X-Remote-Extra-',
      '--profiling=false',
      '--v=1',
    ],
    healthUrl: `https://127.0.0.1:${layout.ports.apiServer}/readyz`,
    healthNeedsAdminCert: true,
  };
}

export function controllerManagerSpec(layout: ClusterLayout): ComponentSpec {
  const pki = (f: string) => pkiPath(layout, f);
  const kubeconfig = pki('controller-manager.kubeconfig');
  return {
    name: 'kube-controller-manager',
    command: binary(layout, 'kube-controller-manager'),
    args: [
      `--kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${layout.ports.controllerManager}`,
      '--controllers=*',
      // Each controller acts as its own service account, so RBAC is the real one.
      '--use-service-account-credentials=true',
      `--service-account-private-key-file=${pki('service-account.key')}`,
      `--root-ca-file=${pki('ca.crt')}`,
      `--cluster-signing-cert-file=${pki('ca.crt')}`,
      `--cluster-signing-key-file=${pki('ca.key')}`,
      `--service-cluster-ip-range=${serviceClusterIpRange}`,
      '--leader-elect=false',
      '--v=1',
    ],
    healthUrl: `https://127.0.0.1:${layout.ports.controllerManager}/healthz`,
  };
}

export function schedulerSpec(layout: ClusterLayout): ComponentSpec {
  const kubeconfig = pkiPath(layout, 'scheduler.kubeconfig');
  return {
    name: 'kube-scheduler',
    command: binary(layout, 'kube-scheduler'),
    args: [
      `--kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${layout.ports.scheduler}`,
      '--leader-elect=false',
      '--v=1',
    ],
    healthUrl: `https://127.0.0.1:${layout.ports.scheduler}/healthz`,
  };
}

export function minioSpec(layout: ClusterLayout): ComponentSpec {
  return {
    name: 'minio',
    command: binary(layout, 'minio'),
    args: [
      'server',
      path.join(layout.stateDir, 'minio'),
      `--address=127.0.0.1:${layout.ports.minio}`,
      `--console-address=127.0.0.1:${layout.ports.minioConsole}`,
      '--quiet',
    ],
    env: {
      MINIO_ROOT_USER: layout.minio.accessKey,
      MINIO_ROOT_PASSWORD: layout.minio.secretKey,
      MINIO_BROWSER: 'off',
      MINIO_UPDATE: 'off',
    },
    healthUrl: `http://127.0.0.1:${layout.ports.minio}/minio/health/ready`,
  };
}

/** The PostgreSQL superuser the cluster creates (the tests use the role in `ClusterInfo`). */
export const POSTGRES_ADMIN_USER = 'lathe_admin';
/** The user PostgreSQL runs as inside its user namespace when the cluster runs as root. */
const POSTGRES_NAMESPACE_UID = 1000;

export function postgresDataDir(layout: ClusterLayout): string {
  return path.join(layout.stateDir, 'postgres');
}

/** `command args` as `layout` must run a PostgreSQL program (inside a user namespace as root). */
function postgresCommand(
  layout: ClusterLayout,
  program: string,
  args: string[],
): { command: string; args: string[] } {
  const binaryPath = binary(layout, program);
  if (!layout.runsAsRoot) return { command: binaryPath, args };
  return {
    command: 'unshare',
    args: [
      '--user',
      `--map-user=${POSTGRES_NAMESPACE_UID}`,
      `--map-group=${POSTGRES_NAMESPACE_UID}`,
      binaryPath,
      ...args,
    ],
  };
}

/**
 * `initdb` for a fresh data directory: password authentication (SCRAM) for every connection,
 * the superuser's password read from `passwordFile`, no fsync (a throw-away test database).
 */
export function postgresInitCommand(
  layout: ClusterLayout,
  passwordFile: string,
): { command: string; args: string[] } {
  return postgresCommand(layout, 'initdb', [
    `--pgdata=${postgresDataDir(layout)}`,
    `--username=${POSTGRES_ADMIN_USER}`,
    `--pwfile=${passwordFile}`,
    '--auth=scram-sha-256',
    '--encoding=UTF8',
    '--no-locale',
    '--no-sync',
    '--no-instructions',
  ]);
}

/**
 * The PostgreSQL server: TCP only (no Unix socket), on the layout's host and port, small
 * memory, durability off. Its health is checked by connecting (see cluster.ts).
 */
export function postgresSpec(layout: ClusterLayout): ComponentSpec {
  const { command, args } = postgresCommand(layout, 'postgres', [
    '-D',
    postgresDataDir(layout),
    '-c',
    `listen_addresses=${layout.postgres.host}`,
    '-c',
    `port=${layout.ports.postgres}`,
    '-c',
    'unix_socket_directories=',
    '-c',
    'shared_buffers=32MB',
    '-c',
    'max_connections=50',
    '-c',
    'fsync=off',
    '-c',
    'synchronous_commit=off',
    '-c',
    'full_page_writes=off',
  ]);
  return { name: 'postgres', command, args };
}

/** The process node (see `e2e/node/`); its readiness is the Node's Ready condition. */
export function processNodeSpec(layout: ClusterLayout): ComponentSpec {
  return {
    name: 'process-node',
    command: process.execPath,
    args: ['--import', 'tsx', path.join(layout.repoRoot, 'e2e/node/main.ts')],
    env: {
      LATHE_NODE_KUBECONFIG: pkiPath(layout, 'node.kubeconfig'),
      LATHE_NODE_NAME: layout.nodeName,
      LATHE_NODE_DIR: path.join(layout.stateDir, 'node'),
      LATHE_NODE_POD_IP_PREFIX: layout.podIpPrefix,
      LATHE_API_SERVER_HOST: '127.0.0.1',
      LATHE_API_SERVER_PORT: String(layout.ports.apiServer),
      ...(layout.nodeCapacity ? { LATHE_NODE_CAPACITY: layout.nodeCapacity } : {}),
    },
  };
}
