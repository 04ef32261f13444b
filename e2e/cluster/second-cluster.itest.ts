/**
 * A second local cluster beside the shared one (as another worktree would run): it gets its
 * own network slot, both work at once, a crashed run's network is removed by the next
 * `cluster:up`, and `cluster:down` leaves nothing of it behind (no network namespace, link,
 * route, slot claim or process) while the first keeps running.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterCli, kubectlOn } from '../testing/other-cluster.js';
import { isHealthy } from './cluster.js';
import { claimDir } from './network.js';
import { cidrsOverlap } from './network-plan.js';
import { type ClusterInfo, clusterInfo, eventually } from './testenv.js';

const exec = promisify(execFile);

let secondDir: string;
let second: ClusterInfo;
/** The host namespace's nftables ruleset before the second cluster started. */
let hostRulesetBefore: string;

async function hostRuleset(): Promise<string> {
  return (await exec('nft', ['list', 'ruleset'])).stdout;
}

const cli = (command: 'up' | 'down') => clusterCli(secondDir, command, command === 'up' ? [] : []);
const kubectl = (args: string[], input?: string) => kubectlOn(second, args, input);

/** Processes whose command line or environment names the second cluster's state directory. */
async function processesOf(dir: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const [cmdline, environ] = await Promise.all([
      readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => ''),
      readFile(`/proc/${pid}/environ`, 'utf8').catch(() => ''),
    ]);
    if (cmdline.includes(dir) || environ.includes(`LATHE_STATE_DIR=${dir}`)) found.push(pid);
  }
  return found;
}

beforeAll(async () => {
  secondDir = await mkdtemp(path.join(os.tmpdir(), 'lathe-second-'));
  hostRulesetBefore = await hostRuleset();
  await cli('up');
  second = JSON.parse(await readFile(path.join(secondDir, 'cluster.json'), 'utf8'));
});

afterAll(async () => {
  if (!secondDir) return;
  await cli('down').catch(() => undefined);
  await rm(secondDir, { recursive: true, force: true });
});

describe('a second cluster on the same machine', () => {
  it('takes a network slot of its own, and both clusters serve at once', async () => {
    const first = clusterInfo();
    expect(second.network.slot).not.toBe(first.network.slot);
    for (const key of ['podCidr', 'serviceCidr'] as const) {
      expect(cidrsOverlap(second.network[key], first.network[key])).toBe(false);
    }
    for (const cluster of [first, second]) {
      const health = await fetch(`${cluster.minio.endpoint}/minio/health/live`);
      expect(health.status).toBe(200);
    }
    // Its kube-proxy writes its rules in its node's namespace, never in the host's.
    expect(await hostRuleset()).toBe(hostRulesetBefore);

    // A pod on the second cluster's node gets a network namespace of that cluster (once the
    // service account controller has made the namespace's default account).
    const apply = () =>
      kubectl(
        ['apply', '-f', '-'],
        `
apiVersion: v1
kind: Pod
metadata: {name: sleeper, namespace: default}
spec:
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 1
  containers: [{name: main, image: lathe.dev/test/busybox, command: [sleep, '300']}]
`,
      );
    await eventually(apply, { timeoutMs: 30_000, what: 'pod created on the second cluster' });
    const podIP = await eventually(
      async () => {
        const { stdout } = await kubectl(['get', 'pod', 'sleeper', '-o', 'json']);
        const pod = JSON.parse(stdout) as { status?: { phase?: string; podIP?: string } };
        if (pod.status?.phase !== 'Running') throw new Error(`phase ${pod.status?.phase}`);
        return pod.status.podIP ?? '';
      },
      { timeoutMs: 60_000, what: 'pod Running on the second cluster' },
    );
    expect(cidrsOverlap(`${podIP}/32`, second.network.podCidr)).toBe(true);
    const { stdout } = await exec('ip', ['-j', 'netns', 'list']);
    const podNetns = (JSON.parse(stdout) as { name: string }[]).filter((n) =>
      n.name.startsWith(`lathe${second.network.slot}-pod-`),
    );
    expect(podNetns).toHaveLength(1);
  });

  it('comes up again after a crash, removing the network the killed run left', async () => {
    const { slot } = second.network;
    for (const pid of await processesOf(secondDir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    const { stdout } = await exec('ip', ['-j', 'netns', 'list']);
    const left = (JSON.parse(stdout) as { name: string }[]).map((n) => n.name);
    expect(left).toContain(`lathe${slot}-node`);

    const { stderr } = await cli('up');
    expect(stderr).toContain(`Removed the network an earlier run left: `);
    expect(stderr).toContain(`netns lathe${slot}-node`);
    second = JSON.parse(await readFile(path.join(secondDir, 'cluster.json'), 'utf8'));
    expect(second.network.slot).toBe(slot);
    const health = await fetch(`${second.minio.endpoint}/minio/health/live`);
    expect(health.status).toBe(200);
  });

  it('is gone after cluster:down: no namespace, link, route, claim or process', async () => {
    const { slot } = second.network;
    await cli('down');

    const { stdout: netnsJson } = await exec('ip', ['-j', 'netns', 'list']);
    const netns = netnsJson.trim() ? (JSON.parse(netnsJson) as { name: string }[]) : [];
    expect(netns.map((n) => n.name).filter((n) => n.startsWith(`lathe${slot}-`))).toEqual([]);

    const { stdout: links } = await exec('ip', ['-j', 'link', 'show']);
    expect((JSON.parse(links) as { ifname: string }[]).map((l) => l.ifname)).not.toContain(
      `lathe${slot}`,
    );

    const { stdout: routesJson } = await exec('ip', ['-j', '-4', 'route', 'show', 'table', 'all']);
    const routes = (JSON.parse(routesJson) as { dst: string }[])
      .map((r) => r.dst)
      .filter((dst) => /^\d/.test(dst));
    for (const cidr of [
      second.network.podCidr,
      second.network.serviceCidr,
      `${second.hostAddress}/30`,
    ]) {
      expect(routes.filter((dst) => cidrsOverlap(dst, cidr))).toEqual([]);
    }

    expect(existsSync(path.join(claimDir, `slot-${slot}.json`))).toBe(false);
    expect(await processesOf(secondDir)).toEqual([]);
    expect(await hostRuleset()).toBe(hostRulesetBefore);

    // The shared cluster is untouched.
    expect(await isHealthy()).toBe(true);
  });
});
