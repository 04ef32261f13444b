/**
 * The real node's cgroups: one parent per cluster (`lathe<slot>`) in every cgroup hierarchy of
 * the host, given to the kubelet as its `cgroupRoot`, so every pod (and runc's containers in
 * them) lives under it. `cluster:down` kills what is left in it and removes it, deepest first;
 * nothing outside the parent is ever written.
 */
import { mkdir, readdir, readFile, rmdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** The mount points of the host's cgroup hierarchies (v1 controllers and a v2 one, if any). */
export function cgroupMountsOf(mounts: string): string[] {
  return mounts
    .split('\n')
    .map((line) => line.split(' '))
    .filter((fields) => fields[2] === 'cgroup' || fields[2] === 'cgroup2')
    .map((fields) => fields[1] as string);
}

async function hostCgroupMounts(): Promise<string[]> {
  return cgroupMountsOf(await readFile('/proc/self/mounts', 'utf8'));
}

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

/**
 * Creates `name` in every hierarchy. A v1 cpuset child starts with no CPUs and no memory nodes,
 * and so could run nothing: it gets its parent's.
 */
export async function createCgroupParent(name: string): Promise<void> {
  for (const mount of await hostCgroupMounts()) {
    const dir = path.join(mount, name);
    await mkdir(dir, { recursive: true });
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      const inParent = path.join(mount, file);
      if (await exists(inParent)) {
        const current = (await readFile(path.join(dir, file), 'utf8')).trim();
        if (!current) await writeFile(path.join(dir, file), await readFile(inParent, 'utf8'));
      }
    }
  }
}

/** Every directory under `dir`, deepest first, `dir` last. */
async function subtree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const below: string[] = [];
  for (const entry of entries.filter((e) => e.isDirectory()))
    below.push(...(await subtree(path.join(dir, entry.name))));
  return [...below, dir];
}

async function pidsIn(dirs: string[]): Promise<number[]> {
  const pids: number[] = [];
  for (const dir of dirs) {
    const text = await readFile(path.join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
    pids.push(...text.split('\n').filter(Boolean).map(Number));
  }
  return pids;
}

/**
 * Kills every process under `name` (in any hierarchy) and removes it, deepest first. Returns the
 * hierarchies it was removed from; one it could not empty in `timeoutMs` is an error naming it.
 */
export async function removeCgroupParent(name: string, timeoutMs = 10_000): Promise<string[]> {
  const removed: string[] = [];
  for (const mount of await hostCgroupMounts()) {
    const top = path.join(mount, name);
    if (!(await exists(top))) continue;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const dirs = await subtree(top);
      const pids = await pidsIn(dirs);
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      let left = false;
      for (const dir of dirs) {
        await rmdir(dir).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== 'ENOENT') left = true;
        });
      }
      if (!left) break;
      if (Date.now() > deadline)
        throw new Error(`could not empty and remove cgroup ${top}: processes ${pids.join(', ')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    removed.push(top);
  }
  return removed;
}
