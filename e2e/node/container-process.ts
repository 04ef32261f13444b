/**
 * Starting and stopping one container run: `bwrap` with the container's mounts, environment
 * and working directory, in the pod's network namespace (`nsenter --net`, which execs bwrap,
 * so the pid is bwrap's), in its own process group (detached), stdout and stderr appended to
 * the container's log file, and a pid file so a later node run can kill it if this one dies.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { type BindMount, bwrapArgs, resolveMountPoint } from './bwrap.js';
import { killGroup, readProcStat, terminateGroup } from './process-group.js';

export interface LaunchSpec {
  argv: string[];
  env: ReadonlyMap<string, string>;
  workingDir: string | undefined;
  mounts: BindMount[];
  /** The pod's network namespace (a /run/netns path); absent: the node's own (hostNetwork). */
  netnsPath?: string | undefined;
  /** The pod's hostname; absent: the node's. */
  hostname?: string | undefined;
}

export interface ProcessExit {
  exitCode: number;
  signal?: number;
}

/** A started container run. */
export interface ContainerProcess {
  pid: number;
  /** Size of the log file when this run started: where its own output begins. */
  logOffset: number;
  exited: Promise<ProcessExit>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the run has exited. */
  stop(graceMs: number): Promise<ProcessExit>;
}

/** The pid file's content: enough to tell our process from a later one with the same pid. */
export interface PidFile {
  pid: number;
  startTicks: string;
}

/**
 * The command that runs the sandbox: bwrap with mount points resolved through the host's
 * symlinks, entered into the pod's network namespace first when it has one.
 */
export function sandboxCommand(
  bwrapPath: string,
  spec: LaunchSpec,
): { command: string; args: string[] } {
  const mounts = spec.mounts.map((m) => ({
    ...m,
    containerPath: resolveMountPoint(m.containerPath),
  }));
  const args = bwrapArgs({ ...spec, mounts });
  if (!spec.netnsPath) return { command: bwrapPath, args };
  return { command: 'nsenter', args: [`--net=${spec.netnsPath}`, '--', bwrapPath, ...args] };
}

function exitOf(code: number | null, signal: NodeJS.Signals | null): ProcessExit {
  if (code !== null) return { exitCode: code };
  const number = signal ? osConstants.signals[signal] : 9;
  return { exitCode: 128 + number, signal: number };
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/**
 * Starts a container run. Rejects when bwrap itself cannot be spawned; a program that cannot
 * be executed inside the sandbox shows as an exit with bwrap's message in the log.
 */
export async function launchContainer(options: {
  bwrapPath: string;
  spec: LaunchSpec;
  logPath: string;
  pidPath: string;
}): Promise<ContainerProcess> {
  const logOffset = sizeOf(options.logPath);
  const logFd = openSync(options.logPath, 'a');
  let child: ReturnType<typeof spawn>;
  try {
    const { command, args } = sandboxCommand(options.bwrapPath, options.spec);
    child = spawn(command, args, {
      detached: true,
      stdio: ['ignore', logFd, logFd],
      env: Object.fromEntries(options.spec.env),
    });
  } finally {
    closeSync(logFd);
  }
  const pid = await new Promise<number>((resolve, reject) => {
    child.once('spawn', () => resolve(child.pid!));
    child.once('error', reject);
  });
  const stat = readProcStat(pid);
  const pidFile: PidFile = { pid, startTicks: stat?.startTicks ?? '' };
  writeFileSync(options.pidPath, JSON.stringify(pidFile));

  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('exit', (code, signal) => {
      // Whatever the program left behind in its group goes with it, as with a container.
      killGroup(pid);
      rmSync(options.pidPath, { force: true });
      resolve(exitOf(code, signal));
    });
  });

  let stopping: Promise<ProcessExit> | undefined;
  const stop = (graceMs: number) => {
    stopping ??= (async () => {
      terminateGroup(pid);
      const timer = setTimeout(() => killGroup(pid), Math.max(0, graceMs));
      const exit = await exited;
      clearTimeout(timer);
      return exit;
    })();
    return stopping;
  };
  return { pid, logOffset, exited, stop };
}

/**
 * Runs a short command in a sandbox (exec probes) and resolves to its exit code, or to
 * undefined when it did not finish within `timeoutMs` (it is then killed).
 */
export async function runInSandbox(options: {
  bwrapPath: string;
  spec: LaunchSpec;
  timeoutMs: number;
}): Promise<number | undefined> {
  return new Promise((resolve) => {
    const { command, args } = sandboxCommand(options.bwrapPath, options.spec);
    const child = spawn(command, args, {
      detached: true,
      stdio: 'ignore',
      env: Object.fromEntries(options.spec.env),
    });
    const timer = setTimeout(() => {
      if (child.pid) killGroup(child.pid);
      resolve(undefined);
    }, options.timeoutMs);
    child.once('error', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (child.pid) killGroup(child.pid);
      resolve(exitOf(code, signal).exitCode);
    });
  });
}
