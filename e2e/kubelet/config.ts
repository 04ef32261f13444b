/**
 * The real node (`LATHE_NODE=kubelet`): a kubelet v1.33 on containerd and runc, run in the node's
 * network namespace instead of the process node. Pure functions from the cluster's layout to the
 * files it reads and the script that starts it, so the configuration is unit-tested and one place
 * says how the node is set up.
 *
 * Host safety is the design's first concern: the node script runs in a mount namespace of its own
 * (`unshare --mount --propagation slave`), where the paths the kubelet and containerd insist on
 * writing (`/var/lib/kubelet`, `/var/lib/cni`, `/var/log`, `/run/containerd`, `/run/runc`) are
 * bind mounts of directories under the cluster's state directory, and the six kernel settings
 * the kubelet would otherwise change on the host (`vm.overcommit_memory`, `kernel.panic`, ...)
 * are files holding the values it expects (`protectKernelDefaults: true`: it checks and never
 * writes). Its cgroups live under one parent per cluster (`lathe<slot>`, see `cgroups.ts`);
 * CNI's bridge plugin uses the node namespace's existing bridge with `ipMasq: false`, so no
 * rule is added anywhere but in that namespace. Nothing the node mounts is visible on the host,
 * and everything goes when its last process does.
 */
import path from 'node:path';
import type { ClusterLayout, ComponentSpec } from '../cluster/components.js';
import { inNodeNamespace, pkiPath } from '../cluster/components.js';
import { clusterDomain, type NetworkPlan } from '../cluster/network-plan.js';

/** The kinds of node a local cluster can run: the process node (default) or a real kubelet. */
export const nodeKinds = ['process', 'kubelet'] as const;
export type NodeKind = (typeof nodeKinds)[number];

/** `LATHE_NODE` (or a `--node` flag) as a node kind; anything else is an error naming the choices. */
export function nodeKindOf(value: string | undefined): NodeKind {
  if (value === undefined || value === '') return 'process';
  if ((nodeKinds as readonly string[]).includes(value)) return value as NodeKind;
  throw new Error(`LATHE_NODE must be one of ${nodeKinds.join(', ')}, not "${value}"`);
}

/**
 * The node a command asks for: its `--node <kind>` (or `--node=<kind>`) argument, else
 * `LATHE_NODE`, else the process node. `cluster:up`, the demo and `bench:cluster` take it.
 */
export function requestedNodeKind(
  args: readonly string[],
  env: string | undefined = process.env.LATHE_NODE,
): NodeKind {
  const at = args.findIndex((a) => a === '--node' || a.startsWith('--node='));
  if (at < 0) return nodeKindOf(env);
  const flag = args[at]!;
  return nodeKindOf(flag.includes('=') ? flag.slice('--node='.length) : args[at + 1]);
}

/** The port of the cluster's registry, on the host's address in the cluster network. */
export const registryPort = 5000;

/** `host:port` of the local registry: reached by the host (pushes) and the node (pulls) alike. */
export function registryAddressOf(network: NetworkPlan): string {
  return `${network.hostAddress}:${registryPort}`;
}

/** The cgroup every pod of the cluster lives under, in each hierarchy (`cgroups.ts`). */
export function cgroupParentOf(network: NetworkPlan): string {
  return `lathe${network.slot}`;
}

/** The sandbox image containerd runs every pod's pause container from (imported, never pulled). */
export function sandboxImageOf(pauseTag: string): string {
  return `registry.k8s.io/pause:${pauseTag}`;
}

/**
 * What the kubelet's container manager writes unless `protectKernelDefaults` is set (then it only
 * checks): `pkg/kubelet/cm/container_manager_linux.go`, setupKernelTunables. The node's mount
 * namespace shows it these values; the host's stay as they are.
 */
export const kubeletKernelDefaults: Record<string, string> = {
  'vm/overcommit_memory': '1',
  'vm/panic_on_oom': '0',
  'kernel/panic': '10',
  'kernel/panic_on_oops': '1',
  'kernel/keys/root_maxkeys': '1000000',
  'kernel/keys/root_maxbytes': '25000000',
};

/** Where the real node keeps everything, under `<stateDir>/real-node/`. */
export interface RealNodePaths {
  base: string;
  containerdConfig: string;
  containerdRoot: string;
  containerdState: string;
  containerdSocket: string;
  cniConfDir: string;
  cniIpamDir: string;
  registryHostsDir: string;
  kubeletConfig: string;
  resolvConf: string;
  script: string;
  pauseArchive: string;
  sysctlDir: string;
  /** Host paths the kubelet, containerd, runc and CNI write to → the directory bound over each. */
  binds: { hostPath: string; source: string }[];
}

export function realNodePaths(stateDir: string): RealNodePaths {
  const base = path.join(stateDir, 'real-node');
  const at = (...parts: string[]) => path.join(base, ...parts);
  return {
    base,
    containerdConfig: at('containerd.toml'),
    containerdRoot: at('containerd', 'root'),
    containerdState: at('containerd', 'state'),
    containerdSocket: at('containerd', 'containerd.sock'),
    cniConfDir: at('cni', 'net.d'),
    cniIpamDir: at('cni', 'ipam'),
    registryHostsDir: at('containerd', 'certs.d'),
    kubeletConfig: at('kubelet.yaml'),
    resolvConf: at('resolv.conf'),
    script: at('node.sh'),
    pauseArchive: at('pause.oci.tar'),
    sysctlDir: at('sysctl'),
    binds: [
      // Device plugins' and pod resources' sockets are fixed paths under it.
      { hostPath: '/var/lib/kubelet', source: at('var-lib-kubelet') },
      // libcni's result cache.
      { hostPath: '/var/lib/cni', source: at('var-lib-cni') },
      // Pod and container logs (/var/log/pods, and the /var/log/containers links).
      { hostPath: '/var/log', source: at('var-log') },
      // containerd 1.6's shim sockets (/run/containerd/s), FIFOs and runc state.
      { hostPath: '/run/containerd', source: at('run-containerd') },
      { hostPath: '/run/runc', source: at('run-runc') },
    ],
  };
}

/** containerd's configuration (version 2): everything under the cluster's state directory. */
export function containerdConfigOf(paths: RealNodePaths, sandboxImage: string): string {
  return [
    'version = 2',
    `root = "${paths.containerdRoot}"`,
    `state = "${paths.containerdState}"`,
    // The opt plugin would write /opt/containerd; the others are snapshotters not used here.
    'disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs",',
    '  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper",',
    '  "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp"]',
    '',
    '[grpc]',
    `  address = "${paths.containerdSocket}"`,
    '[ttrpc]',
    `  address = "${paths.containerdSocket}.ttrpc"`,
    '[debug]',
    '  address = ""',
    '[metrics]',
    '  address = ""',
    '',
    '[plugins."io.containerd.grpc.v1.cri"]',
    `  sandbox_image = "${sandboxImage}"`,
    // Pods' network namespaces under the state directory, not /run/netns.
    '  netns_mounts_under_state_dir = true',
    '  enable_selinux = false',
    '  disable_apparmor = true',
    // The kubelet asks for negative OOM scores (-998 for sandboxes), which needs
    // CAP_SYS_RESOURCE; where that is not granted (this machine's sandbox), runc fails to start
    // anything. Restricted, containerd raises them to its own score (0).
    '  restrict_oom_score_adj = true',
    '  stream_server_address = "127.0.0.1"',
    '  [plugins."io.containerd.grpc.v1.cri".containerd]',
    '    snapshotter = "overlayfs"',
    '    default_runtime_name = "runc"',
    '    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]',
    '      runtime_type = "io.containerd.runc.v2"',
    '      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]',
    // The kubelet's cgroup driver is cgroupfs: no systemd here to delegate to.
    '        SystemdCgroup = false',
    '  [plugins."io.containerd.grpc.v1.cri".cni]',
    '    bin_dir = "/usr/lib/cni"',
    `    conf_dir = "${paths.cniConfDir}"`,
    '  [plugins."io.containerd.grpc.v1.cri".registry]',
    `    config_path = "${paths.registryHostsDir}"`,
    '',
  ].join('\n');
}

/**
 * The pods' network: CNI's bridge plugin on the node namespace's bridge (which `network.ts`
 * made, with the gateway address), addresses from the pod CIDR. No masquerade (nothing leaves the
 * machine anyway) and hairpin on, so a pod reaches itself through its own Service.
 */
export function cniConfigOf(network: NetworkPlan, ipamDir: string): string {
  return `${JSON.stringify(
    {
      cniVersion: '0.4.0',
      name: 'lathe',
      plugins: [
        {
          type: 'bridge',
          bridge: network.bridge,
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: network.podCidr, gateway: network.podGateway }]],
            routes: [{ dst: '0.0.0.0/0' }],
            dataDir: ipamDir,
          },
        },
      ],
    },
    null,
    2,
  )}\n`;
}

/** containerd's hosts.toml for the local registry: plain HTTP, inside the cluster's network. */
export function registryHostsOf(registry: string): string {
  return [
    `server = "http://${registry}"`,
    '',
    `[host."http://${registry}"]`,
    '  capabilities = ["pull", "resolve"]',
    '',
  ].join('\n');
}

/**
 * The kubelet's configuration. Choices beyond the host-safety ones: its API is served on the
 * node address with a certificate of the cluster's CA and authorizes callers through the API
 * server (webhook), as on a kubeadm node; eviction and image garbage collection thresholds are
 * low because this machine's disk is shared with everything else on it and is no measure of
 * the node's health.
 */
export function kubeletConfigOf(layout: ClusterLayout, paths: RealNodePaths): string {
  const { network } = layout;
  const pki = (file: string) => pkiPath(layout, file);
  return [
    'apiVersion: kubelet.config.k8s.io/v1beta1',
    'kind: KubeletConfiguration',
    `address: ${network.nodeAddress}`,
    'port: 10250',
    'readOnlyPort: 0',
    `healthzBindAddress: ${network.nodeAddress}`,
    'healthzPort: 10248',
    `tlsCertFile: ${pki('kubelet.crt')}`,
    `tlsPrivateKeyFile: ${pki('kubelet.key')}`,
    'authentication:',
    '  anonymous: { enabled: false }',
    '  webhook: { enabled: true }',
    `  x509: { clientCAFile: ${pki('ca.crt')} }`,
    'authorization: { mode: Webhook }',
    `containerRuntimeEndpoint: unix://${paths.containerdSocket}`,
    'cgroupDriver: cgroupfs',
    `cgroupRoot: /${cgroupParentOf(network)}`,
    'cgroupsPerQOS: true',
    'failSwapOn: false',
    'protectKernelDefaults: true',
    // Leave the kubelet's own OOM score as it is (the default, -999, protects a real node's).
    'oomScoreAdj: 0',
    `clusterDNS: [${network.clusterDnsIP}]`,
    `clusterDomain: ${clusterDomain}`,
    `resolvConf: ${paths.resolvConf}`,
    'evictionHard:',
    '  memory.available: 100Mi',
    '  nodefs.available: "1%"',
    '  nodefs.inodesFree: "1%"',
    '  imagefs.available: "1%"',
    '  imagefs.inodesFree: "1%"',
    'imageGCHighThresholdPercent: 100',
    'imageGCLowThresholdPercent: 99',
    'serializeImagePulls: false',
    // Shorter than the default 10 s so readiness and Node status follow quickly in tests.
    'nodeStatusUpdateFrequency: 5s',
    'syncFrequency: 10s',
    '',
  ].join('\n');
}

/** The script the node runs: mounts, containerd, the sandbox image, then the kubelet. */
export function realNodeScriptOf(layout: ClusterLayout, paths: RealNodePaths): string {
  const binary = (name: string) => {
    const found = layout.binaries[name];
    if (!found) throw new Error(`binary "${name}" not found among the built components`);
    return found;
  };
  const containerdLog = path.join(layout.stateDir, 'logs', 'containerd.log');
  const ctr = `ctr --address ${paths.containerdSocket} --namespace k8s.io`;
  return [
    '#!/usr/bin/env bash',
    '# Written by `cluster:up` (e2e/kubelet/config.ts): runs in the node network namespace and a',
    '# mount namespace of its own, where the mounts below are invisible to the host.',
    'set -euo pipefail',
    // The host paths exist (`mountpoints.ts` made those that did not, and removes them again).
    ...paths.binds.map((b) => `mkdir -p ${b.source} && mount --bind ${b.source} ${b.hostPath}`),
    ...Object.keys(kubeletKernelDefaults).map(
      (key) => `mount --bind ${path.join(paths.sysctlDir, key)} /proc/sys/${key}`,
    ),
    `containerd --config ${paths.containerdConfig} >>${containerdLog} 2>&1 &`,
    `for _ in $(seq 1 300); do ${ctr} version >/dev/null 2>&1 && break; sleep 0.1; done`,
    `${ctr} images import ${paths.pauseArchive} >/dev/null`,
    // containerd stays this shell's child, and so the kubelet's: both are in the process group
    // `cluster:down` signals.
    `exec ${binary('kubelet')} --config=${paths.kubeletConfig} \\`,
    `  --kubeconfig=${pkiPath(layout, 'node.kubeconfig')} \\`,
    `  --hostname-override=${layout.nodeName} --node-ip=${layout.network.nodeAddress} --v=1`,
    '',
  ].join('\n');
}

/** The files the node reads, written before each start. */
export function realNodeFilesOf(
  layout: ClusterLayout,
  paths: RealNodePaths,
): { path: string; content: string }[] {
  const registry = registryAddressOf(layout.network);
  if (!layout.pauseTag) throw new Error('the real node needs the pause image (layout.pauseTag)');
  return [
    {
      path: paths.containerdConfig,
      content: containerdConfigOf(paths, sandboxImageOf(layout.pauseTag)),
    },
    {
      path: path.join(paths.cniConfDir, '10-lathe.conflist'),
      content: cniConfigOf(layout.network, paths.cniIpamDir),
    },
    {
      path: path.join(paths.registryHostsDir, registry, 'hosts.toml'),
      content: registryHostsOf(registry),
    },
    { path: paths.kubeletConfig, content: kubeletConfigOf(layout, paths) },
    // Pods with dnsPolicy Default get this; ClusterFirst pods get the cluster DNS.
    { path: paths.resolvConf, content: `nameserver ${layout.network.clusterDnsIP}\n` },
    ...Object.entries(kubeletKernelDefaults).map(([key, value]) => ({
      path: path.join(paths.sysctlDir, key),
      content: `${value}\n`,
    })),
    { path: paths.script, content: realNodeScriptOf(layout, paths) },
  ];
}

/**
 * The real node as a cluster component: the script above, in the node's network namespace and
 * a new mount namespace whose mounts are slaves of the host's (host mounts show inside, none
 * leak out). Its readiness is the Node's Ready condition, as for the process node.
 */
export function realNodeSpec(layout: ClusterLayout): ComponentSpec {
  const paths = realNodePaths(layout.stateDir);
  return {
    name: 'kubelet',
    ...inNodeNamespace(layout, 'unshare', [
      '--mount',
      '--propagation',
      'slave',
      '--',
      'bash',
      paths.script,
    ]),
    files: realNodeFilesOf(layout, paths),
  };
}

/** A CNCF distribution registry's configuration: plain HTTP on `address`, blobs under `dataDir`. */
export function registryConfigOf(address: string, dataDir: string): string {
  return [
    'version: 0.1',
    'log: { level: warn, accesslog: { disabled: true } }',
    `storage: { filesystem: { rootdirectory: ${dataDir} }, delete: { enabled: true } }`,
    `http: { addr: "${address}" }`,
    '',
  ].join('\n');
}

/** The local registry (CNCF distribution), on the host's address in the cluster network. */
export function registrySpec(layout: ClusterLayout): ComponentSpec {
  const config = path.join(layout.stateDir, 'registry', 'config.yml');
  const address = registryAddressOf(layout.network);
  const binary = layout.binaries.registry;
  if (!binary) throw new Error('binary "registry" not found among the built components');
  return {
    name: 'registry',
    command: binary,
    args: ['serve', config],
    // Its data is kept across `cluster:up`s, so a second push sends only what changed.
    files: [
      {
        path: config,
        content: registryConfigOf(address, path.join(layout.stateDir, 'registry', 'data')),
      },
    ],
    healthUrl: `http://${address}/v2/`,
  };
}
