/**
 * The local cluster's network, as a plan (pure): names and address ranges derived from one
 * small number, the cluster's *slot*, so two clusters on one machine never share a name, an
 * address or a route.
 *
 *   host netns                       node netns (lathe<s>-node)              pod netns (lathe<s>-pod-<uid>)
 *   lathe<s> 10.250.s.1/30 ══ veth ══ eth0 10.250.s.2/30, default via .1
 *   routes: pod and service CIDRs    cbr0 10.244.s.1/24 (bridge) ══ veth ══  eth0 10.244.s.x/24, default via .1
 *           via 10.250.s.2           kube-proxy, CoreDNS, the process node
 *
 * Slot s (0..63) owns the pod CIDR 10.244.s.0/24, the service CIDR 10.96.4s.0/22 and the link
 * 10.250.s.0/30. A cluster prefers the slot its state directory hashes to, so one worktree
 * keeps its addresses from run to run, and takes the next free one otherwise.
 */
import { createHash } from 'node:crypto';

export const slotCount = 64;
export const clusterDomain = 'cluster.local';
/** Where the host forwards the API server to, on its end of the node link. */
export const apiServerForwardPort = 6443;
/** Index of the cluster DNS Service's ClusterIP in the service CIDR (kubeadm's convention). */
export const clusterDnsIndex = 10;

export interface NetworkPlan {
  slot: number;
  /** The node's network namespace (also where kube-proxy and CoreDNS run). */
  nodeNetns: string;
  /** Every pod network namespace of this cluster is named `<podNetnsPrefix><pod uid>`. */
  podNetnsPrefix: string;
  /** The host end of the veth into the node namespace; the node end is `eth0`. */
  hostLink: string;
  /** The bridge in the node namespace that the pods' veths are attached to. */
  bridge: string;
  /** The host's address on `hostLink`: host servers bind here, and pods reach it. */
  hostAddress: string;
  /** The node's address (its InternalIP), the node end of the link. */
  nodeAddress: string;
  /** The link between host and node, e.g. `10.250.3.0/30`. */
  linkCidr: string;
  podCidr: string;
  /** The bridge's address, the pods' default gateway: the first address of the pod CIDR. */
  podGateway: string;
  serviceCidr: string;
  /** The `kubernetes` Service's ClusterIP: the first address of the service CIDR. */
  kubernetesServiceIP: string;
  /** The `kube-dns` Service's ClusterIP, the nameserver of every pod. */
  clusterDnsIP: string;
}

/** An IPv4 address as an unsigned 32-bit number. Throws on anything else. */
export function ipToNumber(ip: string): number {
  const parts = ip.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new Error(`"${ip}" is not an IPv4 address`);
  }
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

export function numberToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');
}

/** `a.b.c.d/len` as its first address and size. A bare address is a /32. */
export function parseCidr(cidr: string): { base: number; size: number; prefixLength: number } {
  const [ip = '', lengthText] = cidr.split('/');
  const prefixLength = lengthText === undefined ? 32 : Number(lengthText);
  if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 32) {
    throw new Error(`"${cidr}" is not an IPv4 CIDR`);
  }
  const size = 2 ** (32 - prefixLength);
  const base = ipToNumber(ip) - (ipToNumber(ip) % size);
  return { base, size, prefixLength };
}

/** The address `index` places into `cidr` (0 is the network address). */
export function addressIn(cidr: string, index: number): string {
  const { base, size } = parseCidr(cidr);
  if (index < 0 || index >= size) throw new Error(`index ${index} is outside ${cidr}`);
  return numberToIp(base + index);
}

export function cidrsOverlap(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  return x.base < y.base + y.size && y.base < x.base + x.size;
}

/** The names and ranges of slot `slot`. */
export function networkPlanOf(slot: number): NetworkPlan {
  if (!Number.isInteger(slot) || slot < 0 || slot >= slotCount) {
    throw new Error(`network slot must be an integer in [0, ${slotCount}), not ${slot}`);
  }
  const linkCidr = `10.250.${slot}.0/30`;
  const podCidr = `10.244.${slot}.0/24`;
  const serviceCidr = `10.96.${slot * 4}.0/22`;
  return {
    slot,
    nodeNetns: `lathe${slot}-node`,
    podNetnsPrefix: `lathe${slot}-pod-`,
    hostLink: `lathe${slot}`,
    bridge: 'cbr0',
    hostAddress: addressIn(linkCidr, 1),
    nodeAddress: addressIn(linkCidr, 2),
    linkCidr,
    podCidr,
    podGateway: addressIn(podCidr, 1),
    serviceCidr,
    kubernetesServiceIP: addressIn(serviceCidr, 1),
    clusterDnsIP: addressIn(serviceCidr, clusterDnsIndex),
  };
}

/** Every network namespace name a cluster in `plan` may own (the node's and its pods'). */
export function ownsNetns(plan: NetworkPlan, name: string): boolean {
  return name === plan.nodeNetns || name.startsWith(plan.podNetnsPrefix);
}

/** The slots to try for a cluster whose state lives in `stateDir`: its own first. */
export function slotOrder(stateDir: string): number[] {
  const digest = createHash('sha256').update(stateDir).digest();
  const preferred = digest.readUInt32BE(0) % slotCount;
  return Array.from({ length: slotCount }, (_, i) => (preferred + i) % slotCount);
}

/**
 * The host routes (`ip -j route show table all` entries) that overlap one of the plan's
 * ranges: a slot whose addresses the host already uses (another cluster, a VPN) is skipped.
 */
export function conflictingRoutes(
  plan: NetworkPlan,
  routes: readonly { dst?: string }[],
): string[] {
  const ours = [plan.linkCidr, plan.podCidr, plan.serviceCidr];
  return routes
    .map((r) => r.dst ?? '')
    .filter((dst) => /^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(dst))
    .filter((dst) => ours.some((cidr) => cidrsOverlap(cidr, dst)));
}
