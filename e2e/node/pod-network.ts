/**
 * Each pod's network: a network namespace of its own with `lo` and an `eth0` holding the pod
 * IP, the other end of that veth on the node's bridge (with hairpin on, so a pod reaching a
 * Service that load-balances back to itself gets its own packets back), and a default route
 * via the bridge. The process node runs in the node's network namespace, so the node end of
 * each veth is created right here.
 *
 * The commands are built by pure functions (unit-tested) and run with `ip -batch`, three
 * processes per pod. A namespace outlives `ip netns delete` while a process is still inside,
 * so removal kills stragglers first.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';

export interface PodNetworkConfig {
  /** Pod namespaces are `<netnsPrefix><pod uid>`. */
  netnsPrefix: string;
  bridge: string;
  /** The bridge's address: the pods' default gateway. */
  gateway: string;
  /** The pod CIDR's prefix length, e.g. 24. */
  prefixLength: number;
}

export function podNetnsName(config: PodNetworkConfig, uid: string): string {
  return `${config.netnsPrefix}${uid}`;
}

export function netnsPathOf(name: string): string {
  return `/run/netns/${name}`;
}

/** The node end of the pod's veth: unique per pod UID, within the 15 characters of a link name. */
export function podVethName(uid: string): string {
  return `veth${createHash('sha256').update(uid).digest('hex').slice(0, 11)}`;
}

/** Commands in the node namespace (`ip -batch -`): the veth, its pod end moved into the pod's namespace. */
export function nodeSideBatch(config: PodNetworkConfig, uid: string): string {
  const veth = podVethName(uid);
  return [
    `link add ${veth} type veth peer name eth0 netns ${podNetnsName(config, uid)}`,
    `link set ${veth} master ${config.bridge}`,
    `link set ${veth} type bridge_slave hairpin on`,
    `link set ${veth} up`,
    '',
  ].join('\n');
}

/** Commands in the pod's namespace (`ip -n <pod> -batch -`). */
export function podSideBatch(config: PodNetworkConfig, podIP: string): string {
  return [
    'link set lo up',
    `addr add ${podIP}/${config.prefixLength} dev eth0`,
    'link set eth0 up',
    `route add default via ${config.gateway}`,
    '',
  ].join('\n');
}

function ip(args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('ip', args, (error, stdout, stderr) => {
      if (error) reject(new Error(`ip ${args.join(' ')}: ${stderr.trim() || error.message}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Pods' network namespaces on this node. */
export class PodNetworks {
  constructor(private readonly config: PodNetworkConfig) {}

  /**
   * Creates the pod's namespace and veth with `podIP` (replacing a leftover of the same pod)
   * and returns the namespace's path, for `nsenter --net`.
   */
  async create(uid: string, podIP: string): Promise<string> {
    const name = podNetnsName(this.config, uid);
    if (existsSync(netnsPathOf(name))) await this.remove(uid);
    await ip(['netns', 'add', name]);
    try {
      await ip(['-batch', '-'], nodeSideBatch(this.config, uid));
      await ip(['-n', name, '-batch', '-'], podSideBatch(this.config, podIP));
    } catch (error) {
      await this.remove(uid).catch(() => undefined);
      throw error;
    }
    return netnsPathOf(name);
  }

  /** Removes the pod's namespace (and so its veth), killing what still runs inside. */
  async remove(uid: string): Promise<void> {
    await this.removeNamespace(podNetnsName(this.config, uid));
  }

  /** Removes every pod namespace of this node (start-up: what a crashed run left). */
  async removeAll(): Promise<string[]> {
    const out = await ip(['-j', 'netns', 'list']);
    const names = (out.trim() ? (JSON.parse(out) as { name: string }[]) : [])
      .map((n) => n.name)
      .filter((n) => n.startsWith(this.config.netnsPrefix));
    for (const name of names) await this.removeNamespace(name);
    return names;
  }

  private async removeNamespace(name: string): Promise<void> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const pids = (await ip(['netns', 'pids', name]).catch(() => ''))
        .split(/\s+/)
        .filter(Boolean)
        .map(Number);
      if (pids.length === 0) break;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    await ip(['netns', 'delete', name]).catch((error: Error) => {
      if (!/No such file/.test(error.message)) throw error;
    });
  }
}
