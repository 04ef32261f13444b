/**
 * How each component of the local cluster is started: pure functions from the cluster's layout
 * (ports, paths, binaries, network plan) to a command line and the configuration files it
 * reads, so the flags are unit-tested and one place says how the cluster is configured.
 *
 * The control plane and MinIO run in the host's network namespace, bound to 127.0.0.1. The
 * process node, kube-proxy and CoreDNS run in the node's namespace (`nsenter --net`), where
 * they reach the API server through the host forwarder on `hostAddress`.
 */
import path from 'node:path';
import type { NodeKind } from '../kubelet/config.js';
import { forwardsOf } from './host-services.js';
import { netnsPath } from './network.js';
import { apiServerForwardPort, clusterDomain, type NetworkPlan } from './network-plan.js';

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
  /** Names and address ranges of this cluster's network (`network-plan.ts`). */
  network: NetworkPlan;
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
  /** Which node runs pods: the process node (absent: the default) or a real kubelet. */
  node?: NodeKind;
  /** The real node's pause image tag (the built `pause` component's). */
  pauseTag?: string;
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
  /** Working directory (default: the state directory). */
  cwd?: string;
  /** Files the component reads, written before every start. */
  files?: { path: string; content: string }[];
}

/** Where the components of the node namespace reach the API server: the host forwarder. */
export function nodeNamespaceApiServerUrl(layout: ClusterLayout): string {
  return `https://${layout.network.hostAddress}:${apiServerForwardPort}`;
}

/** `command args` run in the node's network namespace (nsenter execs it: the pid is the same). */
export function inNodeNamespace(layout: ClusterLayout, command: string, args: string[]) {
  return {
    command: 'nsenter',
    args: [`--net=${netnsPath(layout.network.nodeNetns)}`, '--', command, ...args],
  };
}

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
      // The endpoints of the `kubernetes` Service may not be a loopback address: the cluster
      // writes that Service's EndpointSlice itself, pointing at the host forwarder.
      '--endpoint-reconciler-type=none',
      `--secure-port=${layout.ports.apiServer}`,
      `--tls-cert-file=${pki('apiserver.crt')}`,
      `--tls-private-key-file=${pki('apiserver.key')}`,
      `--client-ca-file=${pki('ca.crt')}`,
      `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
      `--service-account-key-file=${pki('service-account.pub')}`,
      `--service-account-signing-key-file=${pki('service-account.key')}`,
      `--service-cluster-ip-range=${layout.network.serviceCidr}`,
      '--authorization-mode=Node,RBAC',
      '--enable-admission-plugins=NodeRestriction,PodSecurity,OwnerReferencesPermissionEnforcement',
      '--allow-privileged=true',
      // Set so aggregated-API clients (controller manager, scheduler) find a request-header CA;
      // no certificate with the allowed name is ever issued, so it grants nothing.
      `--requestheader-client-ca-file=${pki('ca.crt')}`,
      '--requestheader-allowed-names=front-proxy-client',
      '--requestheader-username-headers=X-Remote-User',
      '--requestheader-group-headers=X-Remote-Group',
      '--requestheader-extra-headers-prefix=X-Remote-Extra-',
      '--profiling=false',
      // The real node's kubelet API (`kubectl logs`, `exec`): the API server calls it as a
      // system:masters client and checks its serving certificate against the cluster's CA.
      `--kubelet-client-certificate=${pki('apiserver-kubelet-client.crt')}`,
      `--kubelet-client-key=${pki('apiserver-kubelet-client.key')}`,
      `--kubelet-certificate-authority=${pki('ca.crt')}`,
      '--kubelet-preferred-address-types=InternalIP,Hostname',
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
      `--service-cluster-ip-range=${layout.network.serviceCidr}`,
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

/** The relay from `hostAddress` to the API server and the host services (`host-forwarder.ts`). */
export function hostForwarderSpec(layout: ClusterLayout): ComponentSpec {
  return {
    name: 'host-forwarder',
    command: process.execPath,
    args: ['--import', 'tsx', path.join(layout.repoRoot, 'e2e/cluster/host-forwarder.ts')],
    cwd: layout.repoRoot,
    env: { LATHE_FORWARDS: JSON.stringify(forwardsOf(layout)) },
    // Through the relay to the API server: both must be up.
    healthUrl: `${nodeNamespaceApiServerUrl(layout)}/readyz`,
    healthNeedsAdminCert: true,
  };
}

/** kube-proxy's health and metrics port, on the node address. */
export const kubeProxyHealthPort = 10256;

/** kube-proxy's configuration (`KubeProxyConfiguration`), nftables mode, in the node namespace. */
export function kubeProxyConfigOf(layout: ClusterLayout): string {
  const { network } = layout;
  return [
    'apiVersion: kubeproxy.config.k8s.io/v1alpha1',
    'kind: KubeProxyConfiguration',
    'mode: nftables',
    'clientConnection:',
    `  kubeconfig: ${pkiPath(layout, 'kube-proxy.kubeconfig')}`,
    // Its Node must exist (the process node registers it) or start-up stalls for ~30 s.
    `hostnameOverride: ${layout.nodeName}`,
    `clusterCIDR: ${network.podCidr}`,
    // Traffic from outside the pod CIDR (the host) to a ClusterIP is masqueraded.
    'detectLocalMode: ClusterCIDR',
    // Zeros leave the kernel's conntrack settings alone: they are not all per-namespace.
    'conntrack:',
    '  maxPerCore: 0',
    '  min: 0',
    '  tcpEstablishedTimeout: 0s',
    '  tcpCloseWaitTimeout: 0s',
    `healthzBindAddress: ${network.nodeAddress}:${kubeProxyHealthPort}`,
    `metricsBindAddress: ${network.nodeAddress}:10249`,
    'nodePortAddresses: [primary]',
    '',
  ].join('\n');
}

export function kubeProxySpec(layout: ClusterLayout): ComponentSpec {
  const config = path.join(layout.stateDir, 'kube-proxy', 'config.yaml');
  return {
    name: 'kube-proxy',
    ...inNodeNamespace(layout, binary(layout, 'kube-proxy'), [`--config=${config}`, '--v=1']),
    files: [{ path: config, content: kubeProxyConfigOf(layout) }],
    healthUrl: `http://${layout.network.nodeAddress}:${kubeProxyHealthPort}/healthz`,
  };
}

/** CoreDNS's readiness port (`ready` plugin), on the node address. */
export const corednsReadyPort = 8181;

/**
 * The Corefile: cluster names from the API (Services, pods by IP, reverse zones), nothing else.
 * Names outside the cluster get no answer, because pods cannot leave the machine anyway
 * (the host does not forward).
 */
export function corefileOf(layout: ClusterLayout): string {
  const { network } = layout;
  return [
    '.:53 {',
    `    bind ${network.nodeAddress}`,
    '    errors',
    `    ready ${network.nodeAddress}:${corednsReadyPort}`,
    `    kubernetes ${clusterDomain} in-addr.arpa ip6.arpa {`,
    `        kubeconfig ${pkiPath(layout, 'coredns.kubeconfig')} lathe-local`,
    '        pods insecure',
    '        fallthrough in-addr.arpa ip6.arpa',
    '        ttl 30',
    '    }',
    '    cache 30',
    '    loadbalance',
    '}',
    '',
  ].join('\n');
}

export function corednsSpec(layout: ClusterLayout): ComponentSpec {
  const corefile = path.join(layout.stateDir, 'coredns', 'Corefile');
  return {
    name: 'coredns',
    ...inNodeNamespace(layout, binary(layout, 'coredns'), ['-conf', corefile, '-quiet']),
    files: [{ path: corefile, content: corefileOf(layout) }],
    healthUrl: `http://${layout.network.nodeAddress}:${corednsReadyPort}/ready`,
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

/**
 * The process node (see `e2e/node/`), in the node's network namespace: it creates each pod's
 * namespace and veth there, and probes pods on the bridge. Its readiness is the Node's Ready
 * condition.
 */
export function processNodeSpec(layout: ClusterLayout): ComponentSpec {
  const { network } = layout;
  return {
    name: 'process-node',
    ...inNodeNamespace(layout, process.execPath, [
      '--import',
      'tsx',
      path.join(layout.repoRoot, 'e2e/node/main.ts'),
    ]),
    cwd: layout.repoRoot,
    env: {
      LATHE_NODE_KUBECONFIG: pkiPath(layout, 'node.kubeconfig'),
      LATHE_NODE_NAME: layout.nodeName,
      LATHE_NODE_DIR: path.join(layout.stateDir, 'node'),
      LATHE_NODE_IP: network.nodeAddress,
      LATHE_NODE_POD_CIDR: network.podCidr,
      LATHE_NODE_POD_NETNS_PREFIX: network.podNetnsPrefix,
      LATHE_NODE_BRIDGE: network.bridge,
      LATHE_CLUSTER_DNS: network.clusterDnsIP,
      LATHE_CLUSTER_DOMAIN: clusterDomain,
      // What pods get as KUBERNETES_SERVICE_HOST/PORT: the `kubernetes` Service.
      LATHE_API_SERVER_HOST: network.kubernetesServiceIP,
      LATHE_API_SERVER_PORT: '443',
      ...(layout.nodeCapacity ? { LATHE_NODE_CAPACITY: layout.nodeCapacity } : {}),
    },
  };
}
