/**
 * Builds and removes the local cluster's network (the plan is in `network-plan.ts`) with
 * iproute2. Nothing here touches the host's firewall: in the host namespace the cluster adds
 * one veth, one address and two routes, all of which go with the veth.
 *
 * Ownership is explicit so that clusters of other worktrees are never touched: a slot is
 * claimed by creating `/run/lathe/net/slot-<s>.json` (exclusively) naming the state directory,
 * and the state directory records its slot in `network.json` *before* anything is created. A
 * clean-up (`cluster:down`, or the stale-run clean-up at `cluster:up`) removes only what a claim
 * of its own state directory names.
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  conflictingRoutes,
  type NetworkPlan,
  networkPlanOf,
  ownsNetns,
  slotOrder,
} from './network-plan.js';

const exec = promisify(execFile);

/** Where slots are claimed, machine-wide (next to /run/netns, which holds the namespaces). */
export const claimDir = '/run/lathe/net';

const claimPath = (slot: number) => path.join(claimDir, `slot-${slot}.json`);
const recordPath = (stateDir: string) => path.join(stateDir, 'network.json');

interface Claim {
  stateDir: string;
  claimedAt: string;
}

/** Runs `ip`; rejects with its stderr. `input` feeds `-batch -`. */
async function ip(args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('ip', args, (error, stdout, stderr) => {
      if (error) {
        reject(
          new Error(`ip ${args.join(' ')} failed: ${stderr.trim() || error.message}`, {
            cause: error,
          }),
        );
      } else {
        resolve(stdout);
      }
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** `ip` commands whose failure only means the thing is already gone. */
async function ipIfPresent(args: string[]): Promise<boolean> {
  try {
    await ip(args);
    return true;
  } catch (error) {
    if (/Cannot find device|No such file|does not exist|not found/i.test((error as Error).message))
      return false;
    throw error;
  }
}

/** Fails with what to do when this process cannot build network namespaces. */
export async function checkNetworkPrerequisites(): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new Error(
      'The local cluster gives its node and every pod a network namespace, which needs root ' +
        '(CAP_NET_ADMIN and CAP_SYS_ADMIN): run `npm run cluster:up` as root.',
    );
  }
  for (const tool of ['ip', 'nsenter', 'nft']) {
    await exec('sh', ['-c', `command -v ${tool}`]).catch(() => {
      throw new Error(`"${tool}" is not on PATH: run \`npm run cluster:prepare\` (it installs it)`);
    });
  }
}

async function readClaim(slot: number): Promise<Claim | undefined> {
  try {
    return JSON.parse(await readFile(claimPath(slot), 'utf8')) as Claim;
  } catch {
    return undefined;
  }
}

/** The slot this state directory recorded, if any. */
export async function recordedSlot(stateDir: string): Promise<number | undefined> {
  try {
    const { slot } = JSON.parse(await readFile(recordPath(stateDir), 'utf8')) as { slot: number };
    return Number.isInteger(slot) ? slot : undefined;
  } catch {
    return undefined;
  }
}

/** Names of the network namespaces on this machine. */
export async function listNetns(): Promise<string[]> {
  const out = await ip(['-j', 'netns', 'list']);
  const list = out.trim() ? (JSON.parse(out) as { name: string }[]) : [];
  return list.map((n) => n.name);
}

/** Kills what still runs in network namespace `name` (SIGKILL) and waits until it is empty. */
async function emptyNetns(name: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const pids = (await ip(['netns', 'pids', name]).catch(() => ''))
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Removes every namespace, link and route of `plan`: processes still inside its namespaces
 * are killed first (a namespace with a process in it outlives `ip netns delete`), pods'
 * namespaces go before the node's (that takes the bridge, kube-proxy's nftables tables and the
 * veths with it), then the host end of the link, which takes the host routes with it.
 * Returns what it removed.
 */
export async function removeNetwork(plan: NetworkPlan): Promise<string[]> {
  const removed: string[] = [];
  const owned = (await listNetns()).filter((name) => ownsNetns(plan, name));
  owned.sort((a, b) => Number(a === plan.nodeNetns) - Number(b === plan.nodeNetns));
  for (const name of owned) {
    await emptyNetns(name);
    if (await ipIfPresent(['netns', 'delete', name])) removed.push(`netns ${name}`);
  }
  if (await ipIfPresent(['link', 'delete', plan.hostLink])) removed.push(`link ${plan.hostLink}`);
  return removed;
}

/**
 * Removes the network of this state directory's cluster, as recorded in its `network.json`
 * and in the machine-wide claims; a slot claimed by another state directory is left alone.
 */
export async function tearDownNetwork(stateDir: string): Promise<string[]> {
  const slots = new Set<number>();
  const recorded = await recordedSlot(stateDir);
  if (recorded !== undefined) slots.add(recorded);
  for (const file of await readdir(claimDir).catch(() => [] as string[])) {
    const slot = Number(/^slot-(\d+)\.json$/.exec(file)?.[1]);
    if (Number.isInteger(slot) && (await readClaim(slot))?.stateDir === stateDir) slots.add(slot);
  }
  const removed: string[] = [];
  for (const slot of slots) {
    const claim = await readClaim(slot);
    if (claim && claim.stateDir !== stateDir) continue;
    removed.push(...(await removeNetwork(networkPlanOf(slot))));
    await rm(claimPath(slot), { force: true });
  }
  await rm(recordPath(stateDir), { force: true });
  return removed;
}

/** Claims a free slot for `stateDir`: not claimed, no netns by its name, no overlapping route. */
async function claimSlot(stateDir: string): Promise<NetworkPlan> {
  await mkdir(claimDir, { recursive: true });
  const routes = JSON.parse(await ip(['-j', '-4', 'route', 'show', 'table', 'all'])) as {
    dst?: string;
  }[];
  const existing = new Set(await listNetns());
  const skipped: string[] = [];
  for (const slot of slotOrder(stateDir)) {
    const plan = networkPlanOf(slot);
    const conflicts = conflictingRoutes(plan, routes);
    if (conflicts.length > 0) {
      skipped.push(`slot ${slot}: host routes ${conflicts.join(', ')}`);
      continue;
    }
    if (existing.has(plan.nodeNetns)) {
      skipped.push(`slot ${slot}: netns ${plan.nodeNetns} exists`);
      continue;
    }
    const claim: Claim = { stateDir, claimedAt: new Date().toISOString() };
    try {
      await writeFile(claimPath(slot), `${JSON.stringify(claim)}\n`, { flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      skipped.push(
        `slot ${slot}: claimed by ${(await readClaim(slot))?.stateDir ?? 'another cluster'}`,
      );
      continue;
    }
    await writeFile(recordPath(stateDir), `${JSON.stringify({ slot })}\n`);
    return plan;
  }
  throw new Error(
    `No free network slot for a local cluster on this machine (${skipped.length} tried):\n  ${skipped.join('\n  ')}\n` +
      'Stop a cluster you no longer need with `npm run cluster:down` in its worktree.',
  );
}

/** The commands run inside the node namespace (`ip -n <node> -batch -`). */
export function nodeNamespaceBatch(plan: NetworkPlan): string {
  const podPrefix = plan.podCidr.split('/')[1];
  return [
    'link set lo up',
    `addr add ${plan.nodeAddress}/30 dev eth0`,
    'link set eth0 up',
    `route add default via ${plan.hostAddress}`,
    `link add ${plan.bridge} type bridge`,
    `addr add ${plan.podGateway}/${podPrefix} dev ${plan.bridge}`,
    `link set ${plan.bridge} up`,
    '',
  ].join('\n');
}

/** The commands run in the host namespace (`ip -batch -`): the host end of the link. */
export function hostBatch(plan: NetworkPlan): string {
  return [
    `addr add ${plan.hostAddress}/30 dev ${plan.hostLink}`,
    `link set ${plan.hostLink} up`,
    `route add ${plan.podCidr} via ${plan.nodeAddress} dev ${plan.hostLink}`,
    `route add ${plan.serviceCidr} via ${plan.nodeAddress} dev ${plan.hostLink}`,
    '',
  ].join('\n');
}

/**
 * Node namespace settings: it routes between pods and the host, and bridged pod traffic goes
 * through its netfilter hooks so kube-proxy's DNAT applies between pods on the bridge (and
 * replies are un-DNATed). Both are per-namespace; br_netfilter is loaded if it is a module.
 */
const nodeSysctls = [
  '[ -e /proc/sys/net/bridge ] || modprobe br_netfilter',
  'echo 1 > /proc/sys/net/ipv4/ip_forward',
  'echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables',
].join(' && ');

export function netnsPath(name: string): string {
  return path.join('/run/netns', name);
}

/**
 * Brings up a fresh network for the cluster in `stateDir`: removes what an earlier run of it
 * left, claims a slot and builds the node namespace, its link to the host and the pod bridge.
 */
export async function setUpNetwork(
  stateDir: string,
): Promise<{ plan: NetworkPlan; stale: string[] }> {
  await checkNetworkPrerequisites();
  const stale = await tearDownNetwork(stateDir);
  const plan = await claimSlot(stateDir);
  try {
    await ip(['netns', 'add', plan.nodeNetns]);
    await ip([
      'link',
      'add',
      plan.hostLink,
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'netns',
      plan.nodeNetns,
    ]);
    await ip(['-n', plan.nodeNetns, '-batch', '-'], nodeNamespaceBatch(plan));
    await ip(['-batch', '-'], hostBatch(plan));
    await exec('nsenter', [`--net=${netnsPath(plan.nodeNetns)}`, 'sh', '-c', nodeSysctls]).catch(
      (error: { stderr?: string; message: string }) => {
        throw new Error(
          `Configuring the node namespace failed (bridge netfilter, br_netfilter): ${error.stderr ?? error.message}`,
          { cause: error },
        );
      },
    );
  } catch (error) {
    await tearDownNetwork(stateDir).catch(() => undefined);
    throw error;
  }
  return { plan, stale };
}
