/**
 * Background processes of the local cluster, started detached so they outlive the command
 * that started them, and recorded in a ledger *before* anything waits on them: a run that
 * crashes half-way still leaves a record, and the next `cluster:up` stops what it left.
 *
 * A recorded pid is only signalled while its command line still mentions the state directory,
 * so a pid the kernel has since reused for an unrelated process is never touched.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface StartedProcess {
  name: string;
  pid: number;
  logPath: string;
}

function ledgerDir(stateDir: string): string {
  return path.join(stateDir, 'pids');
}

/**
 * Starts `command` in its own process group with output appended to `logPath`, records its pid,
 * and returns without waiting for it.
 */
export async function startDetached(
  stateDir: string,
  spec: {
    name: string;
    command: string;
    args: string[];
    env?: Record<string, string>;
    cwd?: string;
  },
  logPath: string,
): Promise<StartedProcess> {
  await mkdir(ledgerDir(stateDir), { recursive: true });
  await mkdir(path.dirname(logPath), { recursive: true });
  const log = openSync(logPath, 'a');
  try {
    const child = spawn(spec.command, spec.args, {
      detached: true,
      stdio: ['ignore', log, log],
      env: { ...process.env, ...spec.env, LATHE_STATE_DIR: stateDir },
      cwd: spec.cwd ?? stateDir,
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid as number));
      child.once('error', (error) =>
        reject(
          new Error(`could not start ${spec.name} (${spec.command}): ${error.message}`, {
            cause: error,
          }),
        ),
      );
    });
    child.unref();
    await writeFile(path.join(ledgerDir(stateDir), `${spec.name}.pid`), String(pid));
    return { name: spec.name, pid, logPath };
  } finally {
    closeSync(log);
  }
}

/** Whether `pid` is alive and still one of ours (its command line or environment names `stateDir`). */
export async function isOurs(pid: number, stateDir: string): Promise<boolean> {
  try {
    const [cmdline, environ] = await Promise.all([
      readFile(`/proc/${pid}/cmdline`, 'utf8'),
      readFile(`/proc/${pid}/environ`, 'utf8').catch(() => ''),
    ]);
    return cmdline.includes(stateDir) || environ.includes(`LATHE_STATE_DIR=${stateDir}`);
  } catch {
    return false;
  }
}

/** The pid recorded for component `name`, if any. */
export async function recordedPid(stateDir: string, name: string): Promise<number | undefined> {
  const text = await readFile(path.join(ledgerDir(stateDir), `${name}.pid`), 'utf8').catch(
    () => '',
  );
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 1 ? pid : undefined;
}

export async function isAlive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Field 3 is the state; a zombie has exited and only awaits its parent.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

/**
 * Stops every recorded process of `stateDir`: SIGTERM to each process group, then SIGKILL to
 * whatever is left after `graceMs`. Returns the names it stopped. Order matters for a clean
 * shutdown, so `order` lists names to stop first (the rest follow); `only` limits it to some.
 */
export async function stopRecorded(
  stateDir: string,
  order: string[],
  graceMs = 10_000,
  only?: string[],
): Promise<string[]> {
  const dir = ledgerDir(stateDir);
  const files = await readdir(dir).catch(() => [] as string[]);
  const recorded = new Map<string, number>();
  for (const file of files.filter((f) => f.endsWith('.pid'))) {
    const pid = Number((await readFile(path.join(dir, file), 'utf8')).trim());
    if (Number.isInteger(pid) && pid > 1) recorded.set(file.slice(0, -4), pid);
  }
  const names = [
    ...order.filter((n) => recorded.has(n)),
    ...[...recorded.keys()].filter((n) => !order.includes(n)),
  ].filter((n) => !only || only.includes(n));
  const stopped: string[] = [];
  for (const name of names) {
    const pid = recorded.get(name) as number;
    if (await isOurs(pid, stateDir)) {
      signalGroup(pid, 'SIGTERM');
      const deadline = Date.now() + graceMs;
      while ((await isAlive(pid)) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      if (await isAlive(pid)) signalGroup(pid, 'SIGKILL');
      stopped.push(name);
    }
    await rm(path.join(dir, `${name}.pid`), { force: true });
  }
  return stopped;
}
