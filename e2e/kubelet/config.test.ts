import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { ClusterLayout } from '../cluster/components.js';
import { networkPlanOf } from '../cluster/network-plan.js';
import { cgroupMountsOf } from './cgroups.js';
import {
  cniConfigOf,
  containerdConfigOf,
  kubeletConfigOf,
  kubeletKernelDefaults,
  nodeKindOf,
  realNodePaths,
  realNodeScriptOf,
  realNodeSpec,
  registryAddressOf,
  registryHostsOf,
  requestedNodeKind,
} from './config.js';

const network = networkPlanOf(7);
const layout = {
  stateDir: '/repo/.lathe',
  repoRoot: '/repo',
  binaries: { kubelet: '/cache/kubelet', registry: '/cache/registry', pause: '/cache/pause' },
  nodeName: 'lathe-node',
  network,
  node: 'kubelet',
  pauseTag: '3.10.1',
} as unknown as ClusterLayout;
const paths = realNodePaths(layout.stateDir);

describe('the node kind', () => {
  it.each([
    [undefined, 'process'],
    ['', 'process'],
    ['process', 'process'],
    ['kubelet', 'kubelet'],
  ])('LATHE_NODE=%s is the %s node', (value, kind) => {
    expect(nodeKindOf(value)).toBe(kind);
  });

  it.each([
    [['--node', 'kubelet'], undefined, 'kubelet'],
    [['--node=kubelet'], undefined, 'kubelet'],
    [['--no-node'], 'kubelet', 'kubelet'],
    [['--node', 'process'], 'kubelet', 'process'],
    [[], undefined, 'process'],
  ])('a command given %j with LATHE_NODE=%s runs the %s node', (args, env, kind) => {
    expect(requestedNodeKind(args, env)).toBe(kind);
  });

  it('names the choices for anything else', () => {
    expect(() => nodeKindOf('docker')).toThrow(
      'LATHE_NODE must be one of process, kubelet, not "docker"',
    );
  });
});

describe('the kubelet configuration', () => {
  const config = parse(kubeletConfigOf(layout, paths)) as Record<string, unknown>;

  it('keeps the kubelet off the host: its own cgroup parent, kernel defaults checked, not set', () => {
    expect(config).toMatchObject({
      cgroupDriver: 'cgroupfs',
      cgroupRoot: '/lathe7',
      protectKernelDefaults: true,
      failSwapOn: false,
      containerRuntimeEndpoint: `unix://${paths.containerdSocket}`,
    });
  });

  it('serves its API on the node address with the cluster CA and authorizes through the API server', () => {
    expect(config).toMatchObject({
      address: network.nodeAddress,
      readOnlyPort: 0,
      tlsCertFile: '/repo/.lathe/pki/kubelet.crt',
      authentication: {
        anonymous: { enabled: false },
        x509: { clientCAFile: '/repo/.lathe/pki/ca.crt' },
      },
      authorization: { mode: 'Webhook' },
    });
  });

  it('gives pods the cluster DNS', () => {
    expect(config).toMatchObject({
      clusterDNS: [network.clusterDnsIP],
      clusterDomain: 'cluster.local',
    });
  });
});

describe('containerd and CNI', () => {
  const toml = containerdConfigOf(paths, 'registry.k8s.io/pause:3.10.1');

  it('keeps every path under the state directory and never lowers OOM scores', () => {
    expect(toml).toContain(`root = "${paths.containerdRoot}"`);
    expect(toml).toContain(`state = "${paths.containerdState}"`);
    expect(toml).toContain('netns_mounts_under_state_dir = true');
    expect(toml).toContain('restrict_oom_score_adj = true');
    expect(toml).toContain('"io.containerd.internal.v1.opt"');
    expect(toml).toContain('sandbox_image = "registry.k8s.io/pause:3.10.1"');
  });

  it("wires pods to the node namespace's bridge without masquerading", () => {
    const cni = JSON.parse(cniConfigOf(network, paths.cniIpamDir));
    expect(cni.plugins[0]).toMatchObject({
      type: 'bridge',
      bridge: network.bridge,
      ipMasq: false,
      ipam: { ranges: [[{ subnet: network.podCidr, gateway: network.podGateway }]] },
    });
  });

  it('pulls from the local registry over plain HTTP', () => {
    expect(registryAddressOf(network)).toBe('10.250.7.1:5000');
    expect(registryHostsOf('10.250.7.1:5000')).toContain('server = "http://10.250.7.1:5000"');
  });
});

describe('the node script', () => {
  const script = realNodeScriptOf(layout, paths);

  it('binds every host path it writes to the state directory', () => {
    for (const hostPath of [
      '/var/lib/kubelet',
      '/var/lib/cni',
      '/var/log',
      '/run/containerd',
      '/run/runc',
    ])
      expect(script).toMatch(
        new RegExp(`mount --bind /repo/\\.lathe/real-node/\\S+ ${hostPath}\\n`),
      );
  });

  it("shows the kubelet its kernel defaults as files instead of the host's", () => {
    for (const key of Object.keys(kubeletKernelDefaults))
      expect(script).toContain(
        `mount --bind /repo/.lathe/real-node/sysctl/${key} /proc/sys/${key}`,
      );
  });

  it('mounts before starting containerd, and containerd before the kubelet', () => {
    const order = ['mount --bind', 'containerd --config', 'images import', 'exec /cache/kubelet'];
    const at = order.map((needle) => script.indexOf(needle));
    expect(at.every((i) => i >= 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
  });

  it('runs in the node network namespace and a mount namespace of its own', () => {
    const spec = realNodeSpec(layout);
    expect(spec.command).toBe('nsenter');
    expect(spec.args.join(' ')).toBe(
      `--net=/run/netns/${network.nodeNetns} -- unshare --mount --propagation slave -- bash ${paths.script}`,
    );
  });
});

describe('cgroup hierarchies', () => {
  it('finds v1 controllers and the v2 hierarchy among the mounts', () => {
    const mounts = [
      'proc /proc proc rw 0 0',
      'cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0',
      'cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0',
      'tmpfs /sys/fs/cgroup tmpfs rw 0 0',
    ].join('\n');
    expect(cgroupMountsOf(mounts)).toEqual(['/sys/fs/cgroup/memory', '/sys/fs/cgroup/unified']);
  });
});
