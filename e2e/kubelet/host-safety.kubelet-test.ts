/**
 * The real node keeps off the host, and `cluster:down` takes back all of it. A second real-node
 * cluster (its own state directory, network slot and cgroup parent) runs a container; while it
 * does, the host's kernel settings, mounts and firewall are as before; after `cluster:down` no
 * process, cgroup, network namespace, mount point or rule of it is left.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterLayout } from '../cluster/components.js';
import { type ClusterInfo, eventually } from '../cluster/testenv.js';
import { clusterCli, kubectlOn } from '../testing/other-cluster.js';
import { cgroupMountsOf } from './cgroups.js';
import { kubeletKernelDefaults, realNodePaths, sandboxImageOf } from './config.js';

const exec = promisify(execFile);
let dir: string;
/** What `cluster.json` holds: the connection details and the layout it was started with. */
let cluster: ClusterInfo & { layout: ClusterLayout };
let before: Awaited<ReturnType<typeof hostState>>;

/** What of the host the real node could change. */
async function hostState() {
  const sysctls: Record<string, string> = {};
  for (const key of Object.keys(kubeletKernelDefaults))
    sysctls[key] = (await readFile(`/proc/sys/${key}`, 'utf8')).trim();
  const hostPaths = Object.fromEntries(
    realNodePaths('/x').binds.map((b) => [b.hostPath, existsSync(b.hostPath)]),
  );
  return {
    sysctls,
    hostPaths,
    ruleset: (await exec('nft', ['list', 'ruleset'])).stdout,
    mounts: await readFile('/proc/self/mountinfo', 'utf8'),
  };
}

const cli = (command: 'up' | 'down') =>
  clusterCli(dir, command, command === 'up' ? ['--node', 'kubelet'] : []);
const kubectl = (args: string[], input?: string) => kubectlOn(cluster, args, input);

async function cgroupDirsOf(slot: number): Promise<string[]> {
  const mounts = cgroupMountsOf(await readFile('/proc/self/mounts', 'utf8'));
  return mounts.map((m) => path.join(m, `lathe${slot}`)).filter((d) => existsSync(d));
}

beforeAll(async () => {
  before = await hostState();
  dir = await mkdtemp(path.join(os.tmpdir(), 'lathe-real-node-'));
  await cli('up');
  cluster = JSON.parse(await readFile(path.join(dir, 'cluster.json'), 'utf8'));
}, 300_000);

afterAll(async () => {
  if (!dir) return;
  await cli('down').catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

describe('the real node on the host', () => {
  it('runs a container in its own cgroup parent, changing no host setting, mount or rule', async () => {
    const pod = `
apiVersion: v1
kind: Pod
metadata: {name: sandbox-only, namespace: default}
spec:
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 1
  containers: [{name: main, image: "${sandboxImageOf(cluster.layout.pauseTag!)}", imagePullPolicy: Never}]
`;
    await eventually(() => kubectl(['apply', '-f', '-'], pod), {
      timeoutMs: 30_000,
      what: 'pod created',
    });
    await eventually(
      async () => {
        const { stdout } = await kubectl([
          'get',
          'pod',
          'sandbox-only',
          '-o',
          'jsonpath={.status.phase}',
        ]);
        expect(stdout).toBe('Running');
      },
      { timeoutMs: 60_000, what: 'pod Running on the real node' },
    );
    const cgroups = await cgroupDirsOf(cluster.network.slot);
    expect(cgroups.length).toBeGreaterThan(0);
    const memory = cgroups.find((d) => d.includes('/memory/'));
    expect(await readdir(path.join(memory!, 'kubepods'))).toEqual(
      expect.arrayContaining([expect.stringMatching(/^besteffort$/)]),
    );

    const during = await hostState();
    expect(during.sysctls).toEqual(before.sysctls);
    expect(during.ruleset).toBe(before.ruleset);
    // The node's mounts are in its own namespace: none shows on the host but the node's network
    // namespace itself (`ip netns add` pins it with a mount in /run/netns, as for the process node).
    const hostMounts = (mounts: string) =>
      mounts
        .split('\n')
        .filter((line) => !line.includes(`/run/netns/${cluster.network.nodeNetns}`));
    expect(during.mounts).not.toContain(dir);
    expect(hostMounts(during.mounts)).toEqual(hostMounts(before.mounts));
  });

  it('leaves no process, cgroup, network namespace, mount point or rule after cluster:down', async () => {
    const { slot } = cluster.network;
    await cli('down');
    expect(await cgroupDirsOf(slot)).toEqual([]);
    const { stdout } = await exec('ip', ['-j', 'netns', 'list']);
    const netns = stdout.trim() ? (JSON.parse(stdout) as { name: string }[]) : [];
    expect(netns.map((n) => n.name).filter((n) => n.startsWith(`lathe${slot}-`))).toEqual([]);
    const pids: number[] = [];
    for (const entry of await readdir('/proc')) {
      const pid = Number(entry);
      if (!Number.isInteger(pid)) continue;
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (cmdline.includes(dir)) pids.push(pid);
    }
    expect(pids).toEqual([]);
    const after = await hostState();
    expect(after).toEqual({ ...before, mounts: after.mounts });
    expect(after.mounts).not.toContain(dir);
  });
});
